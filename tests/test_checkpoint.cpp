// Crash-safe training: a run killed (SIGKILL) at each phase of its progress and of its file
// writes, chosen by the program's own crash points (RESDYN_CRASH_AT, resdyn.h's manual) and
// never by the clock, and resumed each time, ends with the same model bytes as an
// uninterrupted run; SIGINT at a chosen step, or from outside once a checkpoint exists, saves
// a checkpoint; a full disk and a numerical fault stop with one line and leave the last good
// checkpoint intact.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "resdyn.h"
#include "test_paths.h"

namespace {

namespace fs = std::filesystem;

// Absolute (test_paths.h), because each run happens in its own directory.
std::string program() { return test_paths::program(); }
std::string mnist() { return test_paths::mnist_dir(); }

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

// Starts a shell command line in dir, its output in log.txt and err.txt, with RESDYN_CRASH_AT
// set to crash_at (empty: no crash point). A command that starts with "exec" is the
// process itself, so a signal sent to the returned id reaches it.
pid_t start_in(const std::string& dir, const std::string& command, const std::string& crash_at = "") {
  const std::string line =
      "cd '" + dir + "' && export RESDYN_CRASH_AT='" + crash_at + "' && " + command + " >log.txt 2>err.txt </dev/null";
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives a test binary that is killed
    execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// The exit status of a started command (128 + signal when killed).
int wait_for(pid_t pid) {
  int raw = 0;
  if (pid < 0 || waitpid(pid, &raw, 0) != pid) return -1;
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
}

int run_in(const std::string& dir, const std::string& command, const std::string& crash_at = "") {
  return wait_for(start_in(dir, command, crash_at));
}

// Named after this process too, so two test runs on one machine never share a directory.
std::string fresh_dir(const std::string& name) {
  const std::string dir = testing::TempDir() + "/" + name + "." + std::to_string(getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The files of dir that are none of a run's own (model, its log, checkpoint, and the empty
// lock files of --out and --checkpoint, which a killed run leaves for the next to take) nor
// the test's log.txt and err.txt: temporary files of writes cut short, by name, with their
// bytes.
std::map<std::string, std::string> stray_files(const std::string& dir) {
  static const std::set<std::string> own = {"m.resdyn",           "m.resdyn.csv", "m.resdyn.ckpt", "m.resdyn.lock",
                                            "m.resdyn.ckpt.lock", "log.txt",      "err.txt"};
  std::map<std::string, std::string> strays;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (!own.count(name)) strays[name] = slurp(entry.path().string());
  }
  return strays;
}

bool loads_as_checkpoint(const std::string& path) {
  try {
    resdyn::load_checkpoint(path);
    return true;
  } catch (const resdyn::Error&) {
    return false;
  }
}

// A small run, 3 epochs of 12 batches, with a checkpoint after every batch. Its checkpoint
// (321 kB) and model (106 kB) are larger than FileWriter's 64 KiB buffer, so a write can be
// cut after a first buffer.
std::string train_flags() {
  return "--data " + mnist() +
         " --width 32 --depth 2 --epochs 3 --batch 50 --limit-train 600 --limit-test 200 "
         "--shift 1 --threads 2 --checkpoint-seconds 0 --out m.resdyn";
}

// The model of train_flags() trained without a stop; made once for every test that needs it.
const std::string& uninterrupted_model() {
  static const std::string bytes = [] {
    const std::string dir = fresh_dir("ckpt_whole");
    return run_in(dir, program() + " train " + train_flags()) == 0 ? slurp(dir + "/m.resdyn") : std::string();
  }();
  return bytes;
}

// A checkpoint of train_flags() after step 3, made by a SIGINT there, in a fresh dir.
std::string dir_with_a_checkpoint(const std::string& name) {
  const std::string dir = fresh_dir(name);
  EXPECT_EQ(run_in(dir, program() + " train " + train_flags(), "step:3:int"), 130) << slurp(dir + "/err.txt");
  return dir;
}

// What a crash point must leave behind, checked right after the kill.
enum class Left {
  NoCheckpoint,         // killed before any checkpoint
  Progress,             // between writes: a checkpoint that loads, no new stray file
  CheckpointCut,        // the last checkpoint untouched, a stray prefix of >= `bytes` bytes
  CheckpointUnrenamed,  // the last checkpoint untouched, the next whole (it loads) beside it
  CheckpointReplaced,   // a new checkpoint that loads, no new stray file
  ModelCut,             // no model, a stray prefix of the final model of >= `bytes` bytes
  ModelUnrenamed,       // no model, the final model's bytes beside it
  ModelSaved,           // the final model in place, the checkpoint still there
  LogCut,               // the final model in place, a stray (the epoch log's temporary file)
};

struct Crash {
  const char* at;  // RESDYN_CRASH_AT
  Left left;
  long bytes;
};

// The phases a run goes through in order, each the crash point of one process; each process
// but the first two resumes the checkpoint the one before it left.
const Crash kCrashes[] = {
    {"start:0", Left::NoCheckpoint, 0},              // before the data loads
    {"step:3", Left::Progress, 0},                   // after step 3, before its checkpoint
    {"checkpoint-bytes:0", Left::CheckpointCut, 0},  // the temporary file just created
    {"checkpoint-bytes:1", Left::CheckpointCut, 1},  // after its first buffer
    {"checkpoint-bytes:200000", Left::CheckpointCut, 200000},
    {"checkpoint-written:0", Left::CheckpointUnrenamed, 0},  // whole and closed, not renamed
    {"checkpoint-renamed:0", Left::CheckpointReplaced, 0},
    {"step:14", Left::Progress, 0},  // inside epoch 2
    {"epoch:2", Left::Progress, 0},  // after epoch 2's evaluation, before its checkpoint
    {"step:30", Left::Progress, 0},  // inside epoch 3
    {"model-bytes:0", Left::ModelCut, 0},
    {"model-bytes:1", Left::ModelCut, 1},
    {"model-written:0", Left::ModelUnrenamed, 0},
    {"model-renamed:0", Left::ModelSaved, 0},
    {"file-written:0", Left::LogCut, 0},  // the epoch log, whole, not renamed
    {"finished:0", Left::ModelSaved, 0},  // model and log saved, the checkpoint not yet removed
};

// Checks what a process killed at `crash` left in dir, given the checkpoint and stray files
// there before it started and the final model's bytes; true if a write was cut short (its
// temporary file may stay).
bool expect_left(const Crash& crash, const std::string& dir, const std::string& checkpoint_before,
                 const std::map<std::string, std::string>& strays_before, const std::string& whole) {
  const std::string ckpt = dir + "/m.resdyn.ckpt";
  const std::map<std::string, std::string> strays = stray_files(dir);
  // A stray file this process made or changed that is(name, bytes).
  auto new_stray = [&](auto&& is) {
    for (const auto& s : strays)
      if ((!strays_before.count(s.first) || strays_before.at(s.first) != s.second) && is(s.first, s.second))
        return true;
    return false;
  };
  auto anything = [](const std::string&, const std::string&) { return true; };
  const long k = crash.bytes;
  if (crash.left == Left::NoCheckpoint) {
    EXPECT_FALSE(exists(ckpt));
  } else {
    EXPECT_TRUE(loads_as_checkpoint(ckpt));
  }
  switch (crash.left) {
    case Left::NoCheckpoint:
    case Left::Progress:
      EXPECT_FALSE(new_stray(anything)) << "a file was left that no write was cutting short";
      return false;
    case Left::CheckpointCut:
      EXPECT_TRUE(slurp(ckpt) == checkpoint_before) << "the last checkpoint changed";
      EXPECT_TRUE(new_stray([&](const std::string&, const std::string& b) {
        return long(b.size()) >= k && b.size() < checkpoint_before.size();
      })) << "no temporary file of the cut checkpoint";
      return true;
    case Left::CheckpointUnrenamed:
      EXPECT_TRUE(slurp(ckpt) == checkpoint_before) << "the last checkpoint changed";
      EXPECT_TRUE(new_stray([&](const std::string& n, const std::string& b) {
        return b != checkpoint_before && loads_as_checkpoint(dir + "/" + n);
      })) << "no whole new checkpoint beside the last one";
      return true;
    case Left::CheckpointReplaced:
      EXPECT_FALSE(slurp(ckpt) == checkpoint_before) << "the checkpoint was not replaced";
      EXPECT_FALSE(new_stray(anything)) << "a file was left that no write was cutting short";
      return false;
    case Left::ModelCut:
      EXPECT_FALSE(exists(dir + "/m.resdyn"));
      EXPECT_TRUE(new_stray([&](const std::string&, const std::string& b) {
        return long(b.size()) >= k && b.size() < whole.size() && whole.compare(0, b.size(), b) == 0;
      })) << "no temporary file holding the start of the final model";
      return true;
    case Left::ModelUnrenamed:
      EXPECT_FALSE(exists(dir + "/m.resdyn"));
      EXPECT_TRUE(new_stray([&](const std::string&, const std::string& b) { return b == whole; }))
          << "no temporary file holding the final model";
      return true;
    case Left::ModelSaved:
      EXPECT_TRUE(slurp(dir + "/m.resdyn") == whole);
      EXPECT_FALSE(new_stray(anything)) << "a file was left that no write was cutting short";
      return false;
    case Left::LogCut:
      EXPECT_TRUE(slurp(dir + "/m.resdyn") == whole);
      EXPECT_TRUE(new_stray(anything)) << "no temporary file of the epoch log";
      return true;
  }
  return false;
}

}  // namespace

TEST(Checkpoint, KilledAtEachPhaseAndResumedGivesTheSameBytes) {
  const std::string& whole = uninterrupted_model();
  ASSERT_FALSE(whole.empty()) << "the uninterrupted run failed";
  const std::string dir = fresh_dir("ckpt_broken"), ckpt = dir + "/m.resdyn.ckpt";
  std::set<std::string> cut_writes;  // what the cut writes left, allowed to stay
  int resumes = 0;
  for (const Crash& crash : kCrashes) {
    SCOPED_TRACE(crash.at);
    const std::string before = slurp(ckpt);
    const std::map<std::string, std::string> strays_before = stray_files(dir);
    const bool resume = exists(ckpt);
    // Resumes alternate between 1 and 2 threads: the same bits come out on any count.
    const std::string command =
        resume ? program() + " train --resume m.resdyn.ckpt --threads " + std::to_string(1 + resumes++ % 2)
               : program() + " train " + train_flags();
    ASSERT_EQ(run_in(dir, command, crash.at), 137) << slurp(dir + "/err.txt");
    const std::string name = std::string(crash.at).substr(0, std::string(crash.at).find(':'));
    EXPECT_NE(slurp(dir + "/err.txt").find("crash point " + name + " at"), std::string::npos);
    if (expect_left(crash, dir, before, strays_before, whole)) {
      for (const auto& s : stray_files(dir)) cut_writes.insert(s.first);
    }
  }
  ASSERT_EQ(run_in(dir, program() + " train --resume m.resdyn.ckpt"), 0) << slurp(dir + "/err.txt");
  EXPECT_NE(slurp(dir + "/log.txt").find("resuming from m.resdyn.ckpt: epoch 3"), std::string::npos);
  EXPECT_TRUE(slurp(dir + "/m.resdyn") == whole) << "the resumed model differs from the uninterrupted one";
  EXPECT_FALSE(exists(ckpt)) << "a finished run removes its checkpoint";
  EXPECT_TRUE(exists(dir + "/m.resdyn.csv"));
  for (const auto& s : stray_files(dir))
    EXPECT_TRUE(cut_writes.count(s.first)) << s.first << " was left by no cut write";
}

// In bfloat16 too: a run killed inside its second epoch and resumed on one thread, then on two,
// ends with the bytes of an uninterrupted bf16 run (and they are not the float run's).
TEST(Checkpoint, Bfloat16RunKilledAndResumedGivesTheSameBytes) {
  const std::string flags = train_flags() + " --precision bf16";
  const std::string whole_dir = fresh_dir("ckpt_bf16_whole"), dir = fresh_dir("ckpt_bf16");
  ASSERT_EQ(run_in(whole_dir, program() + " train " + flags), 0) << slurp(whole_dir + "/err.txt");
  const std::string whole = slurp(whole_dir + "/m.resdyn");
  EXPECT_NE(whole.find("precision: bf16"), std::string::npos) << "the model's metadata names its precision";
  EXPECT_FALSE(whole == uninterrupted_model()) << "bf16 gave the float run's bytes";
  ASSERT_EQ(run_in(dir, program() + " train " + flags, "step:16"), 137) << slurp(dir + "/err.txt");
  ASSERT_EQ(run_in(dir, program() + " train --resume m.resdyn.ckpt --threads 1", "epoch:2"), 137)
      << slurp(dir + "/err.txt");
  ASSERT_EQ(run_in(dir, program() + " train --resume m.resdyn.ckpt --threads 2"), 0) << slurp(dir + "/err.txt");
  EXPECT_TRUE(slurp(dir + "/m.resdyn") == whole) << "the resumed bf16 model differs from the uninterrupted one";
}

// A run that is killed from outside at whatever moment it has reached once its checkpoint
// has been replaced twice (or that finished first) resumes to the same bytes.
TEST(Checkpoint, KilledFromOutsideAfterTwoCheckpointsAndResumedGivesTheSameBytes) {
  const std::string& whole = uninterrupted_model();
  ASSERT_FALSE(whole.empty()) << "the uninterrupted run failed";
  const std::string dir = fresh_dir("ckpt_kill"), ckpt = dir + "/m.resdyn.ckpt";
  const pid_t pid = start_in(dir, "exec " + program() + " train " + train_flags());
  ASSERT_GT(pid, 0);
  int raw = 0, versions = 0;  // checkpoint versions seen: (inode, time) pairs that differ
  struct stat last {};
  for (;;) {
    if (waitpid(pid, &raw, WNOHANG) == pid) break;  // finished (or failed) before the kill
    struct stat now {};
    if (stat(ckpt.c_str(), &now) == 0 && (now.st_ino != last.st_ino || now.st_mtim.tv_nsec != last.st_mtim.tv_nsec ||
                                          now.st_mtim.tv_sec != last.st_mtim.tv_sec)) {
      last = now;
      if (++versions == 3) {  // written, replaced, replaced again
        kill(pid, SIGKILL);
        ASSERT_EQ(waitpid(pid, &raw, 0), pid);
        break;
      }
    }
    usleep(500);  // polls; how often does not change the verdict
  }
  if (WIFSIGNALED(raw)) {
    ASSERT_EQ(WTERMSIG(raw), SIGKILL);
    ASSERT_EQ(run_in(dir, program() + " train --resume m.resdyn.ckpt --threads 1"), 0) << slurp(dir + "/err.txt");
  } else {
    ASSERT_EQ(WEXITSTATUS(raw), 0) << slurp(dir + "/err.txt");
  }
  EXPECT_TRUE(slurp(dir + "/m.resdyn") == whole) << "the resumed model differs from the uninterrupted one";
  EXPECT_FALSE(exists(ckpt));
}

// Ctrl-C at chosen moments (the crash points raise SIGINT): before the data loads, after a
// step, in the middle of a checkpoint write, at an epoch's end. Each time the run saves a
// checkpoint at the next batch, says so and exits with 130; resumed, it ends with the bytes
// of the uninterrupted run.
TEST(Checkpoint, SigintSavesACheckpointExitsWith130AndResumesToTheSameBytes) {
  const std::string& whole = uninterrupted_model();
  ASSERT_FALSE(whole.empty()) << "the uninterrupted run failed";
  const std::string dir = fresh_dir("ckpt_sigint"), ckpt = dir + "/m.resdyn.ckpt";
  const char* moments[] = {"start:0:int", "step:5:int", "checkpoint-bytes:1:int", "epoch:2:int"};
  const char* resumed_at[] = {"", "epoch 1, inside the epoch", "epoch 1, inside the epoch",
                              "epoch 1, inside the epoch"};
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(moments[i]);
    const std::string command =
        i == 0 ? program() + " train " + train_flags() : program() + " train --resume m.resdyn.ckpt";
    ASSERT_EQ(run_in(dir, command, moments[i]), 130) << slurp(dir + "/err.txt");
    const std::string log = slurp(dir + "/log.txt");
    EXPECT_NE(log.find("interrupted: checkpoint saved; go on with: resdyn train --resume m.resdyn.ckpt"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find(resumed_at[i]), std::string::npos) << log;
    EXPECT_TRUE(loads_as_checkpoint(ckpt));
    EXPECT_TRUE(stray_files(dir).empty()) << "a temporary file was left";
    EXPECT_FALSE(exists(dir + "/m.resdyn"));
  }
  ASSERT_EQ(run_in(dir, program() + " train --resume m.resdyn.ckpt --threads 1"), 0) << slurp(dir + "/err.txt");
  EXPECT_NE(slurp(dir + "/log.txt").find("resuming from m.resdyn.ckpt: epoch 3, inside the epoch"), std::string::npos);
  EXPECT_TRUE(slurp(dir + "/m.resdyn") == whole) << "the resumed model differs from the uninterrupted one";
  EXPECT_FALSE(exists(ckpt));
}

// A real SIGINT from outside, sent once the run's first checkpoint is in place (the run is
// far longer than that): the same clean stop.
TEST(Checkpoint, SigintFromOutsideSavesACheckpointAndExitsWith130) {
  const std::string dir = fresh_dir("ckpt_sigint_outside"), ckpt = dir + "/m.resdyn.ckpt";
  std::string flags = train_flags();
  flags.replace(flags.find("--epochs 3"), 10, "--epochs 100000");
  const pid_t pid = start_in(dir, "exec " + program() + " train " + flags);
  ASSERT_GT(pid, 0);
  int raw = 0;
  while (!exists(ckpt)) {
    ASSERT_NE(waitpid(pid, &raw, WNOHANG), pid)
        << "the run ended before its first checkpoint: " << slurp(dir + "/err.txt");
    usleep(500);  // polls; how often does not change the verdict
  }
  kill(pid, SIGINT);
  ASSERT_EQ(wait_for(pid), 130) << slurp(dir + "/err.txt");
  EXPECT_NE(slurp(dir + "/log.txt").find("interrupted: checkpoint saved"), std::string::npos);
  EXPECT_TRUE(loads_as_checkpoint(ckpt));
  EXPECT_TRUE(stray_files(dir).empty()) << "a temporary file was left";
}

TEST(Checkpoint, AFullDiskIsAClearErrorAndKeepsTheLastGoodCheckpoint) {
  const std::string dir = dir_with_a_checkpoint("ckpt_full");
  const std::string before = slurp(dir + "/m.resdyn.ckpt");
  ASSERT_GT(before.size(), 100000u);
  // A file-size limit far below the checkpoint's size: every new write of it fails.
  const int status = run_in(dir, "ulimit -f 64 && " + program() + " train --resume m.resdyn.ckpt");
  EXPECT_EQ(status, 2);
  const std::string err = slurp(dir + "/err.txt");
  EXPECT_NE(err.find("m.resdyn.ckpt: write failed"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), err.size() - 1) << "not one line: " << err;
  EXPECT_TRUE(slurp(dir + "/m.resdyn.ckpt") == before) << "the last good checkpoint changed";
  EXPECT_TRUE(stray_files(dir).empty()) << "a temporary file was left";
}

// The crash facility's own input: a malformed RESDYN_CRASH_AT is one line and status 2.
TEST(Checkpoint, AMalformedCrashPointIsOneLineAndStatus2) {
  const std::string dir = fresh_dir("ckpt_bad_crash_at");
  for (const char* bad : {"step", "step:", ":3", "step:-1", "step:3:term", "step:x"}) {
    EXPECT_EQ(run_in(dir, program() + " train " + train_flags(), bad), 2) << bad;
    const std::string err = slurp(dir + "/err.txt");
    EXPECT_NE(err.find("RESDYN_CRASH_AT: expected NAME:COUNT"), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), err.size() - 1) << "not one line: " << err;
  }
  EXPECT_FALSE(exists(dir + "/m.resdyn.ckpt"));
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
  const std::string dir = dir_with_a_checkpoint("ckpt_bad");
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
