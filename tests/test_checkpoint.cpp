// Crash-safe training: a run killed with SIGKILL at random moments and resumed each time ends
// with the same model bytes as an uninterrupted run; SIGINT saves a checkpoint; a full disk
// and a numerical fault stop with one line and leave the last good checkpoint intact.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "resdyn.h"

namespace {

// Absolute, because each run happens in its own directory.
std::string program() {
  const char* env = std::getenv("RESDYN_BIN");
  return std::filesystem::absolute(env ? env : "build/resdyn").string();
}

std::string mnist() {
  const char* env = std::getenv("RESDYN_MNIST_DIR");
  return std::filesystem::absolute(env ? env : "data/mnist").string();
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

// Runs a shell command line in dir; returns the exit status (128 + signal when killed).
int run_in(const std::string& dir, const std::string& command) {
  const std::string line = "cd '" + dir + "' && " + command + " >log.txt 2>err.txt </dev/null";
  const int raw = std::system(line.c_str());
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
}

// Named after this process too, so two test runs on one machine never share a directory.
std::string fresh_dir(const std::string& name) {
  const std::string dir = testing::TempDir() + "/" + name + "." + std::to_string(getpid());
  std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
  return dir;
}

// A small run with a checkpoint after every batch.
std::string train_flags() {
  return "--data " + mnist() + " --width 32 --depth 3 --epochs 3 --limit-train 3000 --limit-test 500 "
         "--shift 1 --threads 2 --checkpoint-seconds 0 --out m.resdyn";
}

// A run far longer than the moment it is interrupted at (SIGINT after 0.8 s; the handler is in
// place before the data loads, so an early signal still ends in a checkpoint).
std::string long_train_flags() {
  return "--data " + mnist() + " --width 32 --depth 3 --epochs 400 --limit-train 3000 --limit-test 500 "
         "--threads 2 --checkpoint-seconds 0 --out m.resdyn";
}

}  // namespace

TEST(Checkpoint, KilledAtRandomMomentsAndResumedGivesTheSameBytes) {
  const std::string whole = fresh_dir("ckpt_whole"), broken = fresh_dir("ckpt_broken");
  // The whole run, watched for its first checkpoint: loading the data comes before it and can
  // take longer than the training of this small net.
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  int whole_status = -1;
  std::atomic<bool> whole_done{false};
  std::thread whole_run([&] {
    whole_status = run_in(whole, program() + " train " + train_flags());
    whole_done = true;
  });
  double first_checkpoint = -1;
  while (!whole_done) {
    if (first_checkpoint < 0 && exists(whole + "/m.resdyn.ckpt"))
      first_checkpoint = std::chrono::duration<double>(Clock::now() - start).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  whole_run.join();
  const double whole_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_EQ(whole_status, 0) << slurp(whole + "/err.txt");
  ASSERT_GE(first_checkpoint, 0) << "the run wrote no checkpoint that could be seen";
  // Kill moments scale with how long the run takes on this machine, so the test means the
  // same on a fast or a busy one: each attempt dies after its start-up and 15-35 % of the
  // training that follows.
  const double training_seconds = whole_seconds - first_checkpoint;
  resdyn::Rng rng(2026);
  int kills = 0, status = -1;
  for (int attempt = 0; attempt < 20 && status != 0; ++attempt) {
    const std::string command = exists(broken + "/m.resdyn.ckpt")
                                    ? program() + " train --resume m.resdyn.ckpt --threads 1"
                                    : program() + " train " + train_flags();
    char limit[32];
    std::snprintf(limit, sizeof limit, "%.3f", first_checkpoint + training_seconds * rng.uniform(0.15, 0.35));
    status = run_in(broken, std::string("timeout -s KILL ") + limit + " " + command);
    if (status == 137) {
      ++kills;
    } else {
      ASSERT_EQ(status, 0) << slurp(broken + "/err.txt");
    }
  }
  if (status != 0) {
    ASSERT_EQ(run_in(broken, program() + " train --resume m.resdyn.ckpt"), 0) << slurp(broken + "/err.txt");
  }
  EXPECT_GE(kills, 2) << "the run finished before it could be killed often enough to mean something";
  const std::string a = slurp(whole + "/m.resdyn"), b = slurp(broken + "/m.resdyn");
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "the resumed model differs from the uninterrupted one";
  EXPECT_FALSE(exists(broken + "/m.resdyn.ckpt")) << "a finished run removes its checkpoint";
}

TEST(Checkpoint, SigintSavesACheckpointAndExitsCleanly) {
  const std::string dir = fresh_dir("ckpt_sigint");
  const int status = run_in(dir, "timeout --preserve-status -s INT 0.8 " + program() + " train " + long_train_flags());
  ASSERT_EQ(status, 130) << slurp(dir + "/err.txt");
  EXPECT_NE(slurp(dir + "/log.txt").find("interrupted: checkpoint saved"), std::string::npos);
  ASSERT_TRUE(exists(dir + "/m.resdyn.ckpt"));
  EXPECT_NO_THROW(resdyn::load_checkpoint(dir + "/m.resdyn.ckpt"));
  EXPECT_FALSE(exists(dir + "/m.resdyn.ckpt.partial"));
  // The resumed run goes on from there (and can be interrupted again).
  EXPECT_EQ(run_in(dir, "timeout --preserve-status -s INT 0.8 " + program() + " train --resume m.resdyn.ckpt"), 130)
      << slurp(dir + "/err.txt");
  EXPECT_NE(slurp(dir + "/log.txt").find("resuming from m.resdyn.ckpt: epoch"), std::string::npos);
}

TEST(Checkpoint, AFullDiskIsAClearErrorAndKeepsTheLastGoodCheckpoint) {
  const std::string dir = fresh_dir("ckpt_full");
  ASSERT_EQ(run_in(dir, "timeout --preserve-status -s INT 0.8 " + program() + " train " + long_train_flags()), 130);
  const std::string before = slurp(dir + "/m.resdyn.ckpt");
  ASSERT_GT(before.size(), 100000u);
  // A file-size limit far below the checkpoint's size: every new write of it fails.
  const int status = run_in(dir, "ulimit -f 64 && " + program() + " train --resume m.resdyn.ckpt");
  EXPECT_EQ(status, 2);
  const std::string err = slurp(dir + "/err.txt");
  EXPECT_NE(err.find("m.resdyn.ckpt: write failed"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), err.size() - 1) << "not one line: " << err;
  EXPECT_TRUE(slurp(dir + "/m.resdyn.ckpt") == before) << "the last good checkpoint changed";
  EXPECT_FALSE(exists(dir + "/m.resdyn.ckpt.partial"));
}

TEST(Checkpoint, NonFiniteLossStopsNamingEpochAndBatchAndIsNeverSaved) {
  // Bounded sigmoids keep the loss finite for any finite weights, so the fault is injected:
  // one weight becomes NaN, as an overflow in the optimiser would leave it.
  resdyn::Config c;
  c.input = 784;
  c.width = 16;
  c.depth = 2;
  resdyn::Net<float> net(c);
  resdyn::Rng rng(1);
  resdyn::initialise(net, rng);
  const resdyn::Dataset train = resdyn::first_samples(resdyn::load_mnist(mnist(), true), 200);
  resdyn::TrainOptions o;
  o.epochs = 2;
  o.batch = 50;
  resdyn::Trainer<float> trainer(net, train, o);
  trainer.train_epoch();
  const std::string path = testing::TempDir() + "/nan.ckpt";
  resdyn::save_checkpoint(path, net, "", trainer, {});
  const std::string good = slurp(path);
  net.P()[7] = std::nanf("");
  try {
    trainer.train_epoch();
    FAIL() << "training went on with a NaN weight";
  } catch (const resdyn::Error& e) {
    EXPECT_NE(std::string(e.what()).find("epoch 2, batch 1: the loss is not finite"), std::string::npos) << e.what();
  }
  EXPECT_THROW(resdyn::save_checkpoint(path, net, "", trainer, {}), resdyn::Error);
  EXPECT_TRUE(slurp(path) == good) << "a bad state replaced the last good checkpoint";
}

TEST(Checkpoint, CorruptAndForeignCheckpointsAreRefused) {
  const std::string dir = fresh_dir("ckpt_bad");
  ASSERT_EQ(run_in(dir, "timeout --preserve-status -s INT 0.8 " + program() + " train " + long_train_flags()), 130);
  std::string bytes = slurp(dir + "/m.resdyn.ckpt");
  bytes[bytes.size() / 2] ^= 0x40;
  std::ofstream(dir + "/bad.ckpt", std::ios::binary) << bytes;
  EXPECT_EQ(run_in(dir, program() + " train --resume bad.ckpt"), 2);
  EXPECT_NE(slurp(dir + "/err.txt").find("checksum mismatch"), std::string::npos);
  EXPECT_EQ(run_in(dir, program() + " train --resume m.resdyn.ckpt --width 64"), 2);
  EXPECT_NE(slurp(dir + "/err.txt").find("only --threads and --data"), std::string::npos);
  EXPECT_EQ(run_in(dir, program() + " train --resume m.resdyn"), 2);  // not a checkpoint (missing)
}

// A checkpoint streamed to its file decodes to the net, trainer state and extra that went in;
// a checkpoint of format version 1 (moments widened to doubles) is refused by name.
TEST(Checkpoint, StreamedFileHoldsTheStateAndOldVersionsAreRefused) {
  resdyn::Config c;
  c.input = 784;
  c.width = 12;
  c.depth = 2;
  c.weights = resdyn::Weights::PerLayer;
  resdyn::Net<float> net(c);
  resdyn::Rng rng(3);
  resdyn::initialise(net, rng);
  const resdyn::Dataset train = resdyn::first_samples(resdyn::load_mnist(mnist(), true), 120);
  resdyn::TrainOptions o;
  o.epochs = 2;
  o.batch = 40;
  resdyn::Trainer<float> trainer(net, train, o);
  trainer.train_epoch();
  const std::string path = testing::TempDir() + "/stream.ckpt";
  const std::vector<uint8_t> extra = {1, 2, 3, 250};
  resdyn::save_checkpoint(path, net, "meta", trainer, extra);
  const resdyn::Checkpoint back = resdyn::load_checkpoint(path);
  ASSERT_EQ(back.net.params.size(), net.params.size());
  EXPECT_EQ(0, std::memcmp(back.net.params.data(), net.params.data(), net.params.size() * sizeof(float)));
  EXPECT_EQ(back.metadata, "meta");
  EXPECT_TRUE(back.extra == extra);
  // The moments travel as floats: the state read from the file into a fresh trainer is the
  // state that was saved, and it goes on to the same bits.
  resdyn::Net<float> again = back.net;
  resdyn::Trainer<float> restored(again, train, o);
  resdyn::restore_trainer(restored, back);
  EXPECT_TRUE(restored.encode_state() == trainer.encode_state());
  EXPECT_TRUE(restored.optimizer().v == trainer.optimizer().v);
  trainer.train_epoch();
  restored.train_epoch();
  EXPECT_EQ(0, std::memcmp(again.params.data(), net.params.data(), net.params.size() * sizeof(float)));
  // A state that lies about its moments is refused before anything changes.
  std::vector<uint8_t> state = trainer.encode_state();
  const std::vector<uint8_t> before = restored.encode_state();
  state.resize(state.size() - 4);
  EXPECT_THROW(restored.restore_state(state.data(), state.size(), "short"), resdyn::Error);
  EXPECT_TRUE(restored.encode_state() == before);

  std::string bytes = slurp(path);
  bytes[8] = 1;  // version 1, with a checksum that matches
  const uint32_t crc = resdyn::crc32(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size() - 4);
  for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + size_t(i)] = char(uint8_t(crc >> (8 * i)));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  try {
    resdyn::load_checkpoint(path);
    FAIL() << "a version-1 checkpoint was accepted";
  } catch (const resdyn::Error& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint format version 1 is not supported"), std::string::npos)
        << e.what();
  }
}
