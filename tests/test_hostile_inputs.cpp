// Hostile inputs to the program: models whose header disagrees with the data, two runs on
// one output, outputs that would destroy each other, FIFOs and devices where files belong,
// decompression bombs, flags that size buffers, file-size limits and full devices. Each must
// end in one line on stderr naming the file or flag and exit status 2: never a crash, a
// hang, lost data or gigabytes of memory. Every file here is small and every net tiny.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/common.h"
#include "plot/axis.h"
#include "quant/quantized_model_file.h"
#include "resdyn.h"
#include "test_paths.h"
#include "tiny_net.h"

using namespace resdyn;

namespace {

std::string program() { return test_paths::program(); }

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

struct Outcome {
  int status = -1;
  std::string out, err;
};

// `shell_prefix` runs before the program in its subshell (ulimit); `stdout_to` replaces the
// captured stdout. Stderr goes through a pipe, which a file-size limit does not stop. The
// command is a script file, so arguments keep their shell quoting. `timeout` guards against
// a hang only: nothing here waits on the clock.
Outcome run(const std::string& args, const std::string& shell_prefix = "", const std::string& stdout_to = "") {
  const std::string dir = testing::TempDir(), tag = std::to_string(getpid());
  const std::string out = dir + "/hostile.out." + tag, err = dir + "/hostile.err." + tag;
  const std::string script = dir + "/hostile.sh." + tag;
  std::remove(out.c_str());
  std::ofstream(script) << "set -o pipefail\n(" << shell_prefix << " exec timeout 120 " << program() << " " << args
                        << ") 2>&1 >" << (stdout_to.empty() ? out : stdout_to) << " </dev/null | cat >" << err << "\n";
  const int raw = std::system(("bash " + script).c_str());
  Outcome o;
  o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  o.out = slurp(out);
  o.err = slurp(err);
  return o;
}

// The shell's limit on the program's memory, 1 GiB. AddressSanitizer reserves terabytes of
// address space for its shadow at start, so under it the limit would stop every run: there
// the runs go unlimited (what they print and return is still checked); the normal build
// checks the bound itself.
#if defined(__SANITIZE_ADDRESS__)
#define RESDYN_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RESDYN_TEST_UNDER_ASAN 1
#endif
#endif
#ifdef RESDYN_TEST_UNDER_ASAN
const std::string kMemoryLimit = "";
#else
const std::string kMemoryLimit = "ulimit -v 1048576;";
#endif

// One line naming the program and `mention`, exit status 2.
void expect_clean_failure(const Outcome& o, const std::string& mention, const std::string& what) {
  EXPECT_EQ(o.status, 2) << what << "\n" << o.err;
  EXPECT_EQ(o.err.rfind("resdyn", 0), 0u) << what << ": " << o.err;
  EXPECT_EQ(o.err.find('\n'), o.err.size() - 1) << what << ": not one line: " << o.err;
  EXPECT_NE(o.err.find(mention), std::string::npos)
      << what << ": '" << o.err << "' does not mention '" << mention << "'";
}

std::string fresh_dir(const std::string& name) {
  const std::string dir = testing::TempDir() + "/hostile_" + name + "." + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void put_be32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s += char((v >> shift) & 0xFF);
}

// 20 images of rows x cols pixels, labels 0..9 twice, as the four MNIST files in dir.
void write_mnist(const std::string& dir, int rows = 4, int cols = 4) {
  const int count = 20;
  std::string images, labels;
  put_be32(images, 0x803);
  put_be32(images, count);
  put_be32(images, rows);
  put_be32(images, cols);
  for (int i = 0; i < count * rows * cols; ++i) images += char((i * 37) & 0xFF);
  put_be32(labels, 0x801);
  put_be32(labels, count);
  for (int i = 0; i < count; ++i) labels += char(i % 10);
  for (const char* split : {"train", "t10k"}) {
    std::ofstream(dir + "/" + split + "-images-idx3-ubyte", std::ios::binary) << images;
    std::ofstream(dir + "/" + split + "-labels-idx1-ubyte", std::ios::binary) << labels;
  }
}

// A stem ResNet on 4 x 4 images with `classes` outputs.
Net<float> small_net(int classes) {
  return tiny::random_net<float>(tiny::config(Arch::ResNet, Weights::Shared, true, 16, 8, 2, classes), 7, 0.5);
}

// A gzip member whose deflate stream (fixed Huffman codes) holds `head` as literals, then
// `zeros` zero bytes as a literal and copies of 258 at distance 1: ~160:1, so a gigabyte of
// output comes from 7 MB. With zeros, the trailer's CRC is not the data's (the reader must
// stop before it); without, the file is a true gzip of head.
std::string gzip_bomb(const std::string& head, size_t zeros) {
  std::string out = std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
  uint64_t bits = 0;
  int count = 0;
  auto put = [&](uint32_t value, int n) {  // LSB first
    bits |= uint64_t(value) << count;
    count += n;
    while (count >= 8) {
      out += char(bits & 0xFF);
      bits >>= 8;
      count -= 8;
    }
  };
  auto put_code = [&](uint32_t code, int n) {  // Huffman codes go most significant bit first
    for (int i = n - 1; i >= 0; --i) put((code >> i) & 1, 1);
  };
  auto literal = [&](uint8_t byte) {
    if (byte < 144)
      put_code(0x30 + byte, 8);
    else
      put_code(0x190 + (byte - 144), 9);
  };
  put(1, 1);  // final block
  put(1, 2);  // fixed codes
  for (char c : head) literal(uint8_t(c));
  if (zeros > 0) literal(0);
  for (size_t done = 1; done + 258 <= zeros; done += 258) {
    put_code(0xC0 + (285 - 280), 8);  // length 258
    put_code(0, 5);                   // distance 1
  }
  put_code(0, 7);  // end of block
  put(0, 7);       // to a byte boundary
  const uint32_t crc = zeros ? 0 : crc32(reinterpret_cast<const uint8_t*>(head.data()), head.size());
  for (uint32_t v : {crc, uint32_t(head.size())})
    for (int shift = 0; shift < 32; shift += 8) out += char((v >> shift) & 0xFF);
  return out;
}

}  // namespace

// A model whose header says 2 classes (checksum valid) against labels 0..9: the labels would
// index past the logits and the confusion matrix. Float, quantized, and resumed.
TEST(HostileInputs, ModelWithFewerClassesThanTheLabelsIsRefused) {
  const std::string dir = fresh_dir("classes");
  write_mnist(dir);
  const std::string model = dir + "/two.resdyn", qmodel = dir + "/two.qresdyn";
  save_model(small_net(2), model);
  quant::save_quantized(quantize(small_net(2)), qmodel, "");
  expect_clean_failure(run("eval --data " + dir + " --model " + model), model, "float eval");
  expect_clean_failure(run("eval --data " + dir + " --model " + model), "2 classes", "float eval");
  expect_clean_failure(run("eval --data " + dir + " --model " + qmodel), qmodel, "quantized eval");
  expect_clean_failure(run("noise --data " + dir + " --out " + dir + "/noise --model " + model), model, "noise");

  // A checkpoint of such a net, from a trainer on as many images as the data has (labels 0
  // and 1 only, so it can be built), so that only the classes differ.
  Dataset two_labels;
  two_labels.count = 20;
  two_labels.rows = two_labels.cols = 4;
  two_labels.images.assign(320, 100);
  for (int i = 0; i < 20; ++i) two_labels.labels.push_back(uint8_t(i % 2));
  Net<float> net = small_net(2);
  TrainOptions opt;
  opt.epochs = 2;
  opt.batch = 4;
  Trainer<float> trainer(net, two_labels, opt);
  const std::string out = dir + "/resumed.resdyn";
  const std::vector<std::string> args = {"--data",   dir, "--width", "8", "--depth", "2",
                                         "--epochs", "2", "--batch", "4", "--out",   out};
  ByteWriter state;  // the run state train writes: its flags, early stopping, an empty log
  state.u64(args.size());
  for (const std::string& a : args) {
    state.u64(a.size());
    state.raw(a.data(), a.size());
  }
  state.f64(1.0);
  state.u32(0);
  state.u64(0);
  save_checkpoint(out + ".ckpt", net, "", trainer, state.bytes);
  const Outcome o = run("train --resume " + out + ".ckpt");
  expect_clean_failure(o, "classes 2", "resume");
  EXPECT_NE(o.err.find(out + ".ckpt"), std::string::npos) << o.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(HostileInputs, MismatchedImagesNameTheDataAndTheModel) {
  const std::string dir = fresh_dir("pixels");
  write_mnist(dir, 5, 5);
  const std::string model = dir + "/m.resdyn";
  save_model(small_net(10), model);
  for (const char* command : {"eval", "dynamics", "spectrum"}) {
    const std::string out = std::string(command) == "eval" ? "" : " --out " + dir + "/" + command;
    const Outcome o = run(std::string(command) + " --data " + dir + " --model " + model + out);
    expect_clean_failure(o, model, command);
    EXPECT_NE(o.err.find("test images in " + dir), std::string::npos) << o.err;  // the data directory too
    EXPECT_NE(o.err.find("25 pixels"), std::string::npos) << o.err;
  }
}

// Two writers of one path each write through a temporary file of their own: both commit
// whole files, and no temporary file is left.
TEST(HostileInputs, TwoWritersOfOnePathDoNotShareATemporaryFile) {
  const std::string dir = fresh_dir("writers");
  const std::string path = dir + "/out.bin";
  FileWriter first(path), second(path);
  for (int i = 0; i < 100000; ++i) first.u32(1);
  for (int i = 0; i < 50000; ++i) second.u32(2);
  second.commit();
  first.commit();
  const std::string bytes = slurp(path);
  ASSERT_EQ(bytes.size(), 400000u);
  for (size_t i = 0; i < bytes.size(); i += 4) ASSERT_EQ(bytes[i], 1) << "byte " << i;
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) files += entry.is_regular_file();
  EXPECT_EQ(files, 1u) << "a temporary file is left";
}

// An output that a live run holds (its lock) is refused at once; the lock goes with the run.
TEST(HostileInputs, AnOutputAnotherRunHoldsIsRefused) {
  const std::string dir = fresh_dir("lock");
  write_mnist(dir);
  const std::string out = dir + "/m.resdyn";
  const std::string train = "train --data " + dir + " --width 8 --depth 1 --epochs 1 --batch 4 --threads 1 --out ";
  {
    const cli::OutputLock held(out, "test");
    const Outcome o = run(train + out);
    expect_clean_failure(o, out, "locked --out");
    EXPECT_NE(o.err.find("another run"), std::string::npos) << o.err;
    EXPECT_EQ(o.out.find("epoch"), std::string::npos) << "trained before refusing";
    const cli::OutputLock other(dir + "/other.resdyn", "test");
    expect_clean_failure(run(train + dir + "/x.resdyn --checkpoint " + dir + "/other.resdyn"), "--checkpoint",
                         "locked --checkpoint");
  }
  const Outcome o = run(train + out);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_FALSE(std::filesystem::exists(out + ".lock")) << "the lock file is left";
  EXPECT_FALSE(std::filesystem::exists(out + ".ckpt.lock")) << "the lock file is left";
}

// The checkpoint is removed at the end: as the model or its log, it would take them along.
TEST(HostileInputs, ACheckpointThatIsAnotherOutputIsRefused) {
  const std::string dir = fresh_dir("same");
  write_mnist(dir);
  const std::string out = dir + "/m.resdyn";
  const std::string train =
      "train --data " + dir + " --width 8 --depth 1 --epochs 1 --batch 4 --threads 1 --out " + out + " --checkpoint ";
  for (const std::string& ck : {out, out + ".csv", dir + "/./m.resdyn",
                                dir + "/../" + std::filesystem::path(dir).filename().string() + "/m.resdyn.csv"}) {
    const Outcome o = run(train + ck);
    expect_clean_failure(o, "--checkpoint", ck);
    EXPECT_FALSE(std::filesystem::exists(out)) << ck;
  }
}

// Outputs that cannot be written are refused before the work, not after it.
TEST(HostileInputs, BadOutputPathsAreRefusedBeforeTheWork) {
  const std::string dir = fresh_dir("outputs");
  write_mnist(dir);
  const std::string train = "train --data " + dir + " --width 8 --depth 1 --epochs 1 --batch 4 --threads 1 ";
  for (const std::string& flags : {std::string("--out ''"), "--out " + dir, "--out " + dir + "/m --checkpoint " + dir,
                                   "--out " + dir + "/m --checkpoint ''"}) {
    const Outcome o = run(train + flags);
    EXPECT_EQ(o.status, 2) << flags << "\n" << o.err;
    EXPECT_EQ(o.err.find('\n'), o.err.size() - 1) << flags << ": " << o.err;
    EXPECT_EQ(o.out.find("epoch"), std::string::npos) << flags << ": trained before refusing";
  }
  const std::string file = dir + "/a-file";
  std::ofstream(file) << "x";
  const Outcome ode = run("ode --starts 2 --out " + file);
  expect_clean_failure(ode, file, "ode --out a file");
  EXPECT_EQ(slurp(file), "x");
  save_model(small_net(10), dir + "/m.resdyn");
  expect_clean_failure(run("quantize --model " + dir + "/m.resdyn --out " + dir), dir, "quantize --out a directory");
  expect_clean_failure(run("dynamics --data " + dir + " --model " + dir + "/m.resdyn --out " + file), file,
                       "dynamics --out a file");
}

// A FIFO would block the open forever; a device never ends. Neither is read.
TEST(HostileInputs, FifosAndDevicesAreNotRead) {
  const std::string dir = fresh_dir("fifo");
  write_mnist(dir);
  const std::string fifo = dir + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_clean_failure(run("eval --data " + dir + " --model " + fifo), fifo, "model FIFO");
  expect_clean_failure(run("eval --data " + dir + " --model /dev/zero"), "/dev/zero", "model device");
  expect_clean_failure(run("train --resume " + fifo), fifo, "checkpoint FIFO");
  const std::string idx = dir + "/t10k-images-idx3-ubyte";
  std::filesystem::remove(idx);
  ASSERT_EQ(mkfifo(idx.c_str(), 0600), 0);
  expect_clean_failure(run("eval --data " + dir + " --model " + fifo), "t10k-images", "IDX FIFO");
  std::filesystem::remove(idx);
  std::filesystem::create_symlink("/dev/zero", idx);
  expect_clean_failure(run("eval --data " + dir + " --model " + fifo), "t10k-images", "IDX device");
}

// A gzip member inflates no further than the IDX header inside it declares: a bomb stops
// after its header (or at its declared size), far below the memory limit it runs under.
TEST(HostileInputs, GzipBombsStopAtWhatTheHeaderDeclares) {
  const std::string dir = fresh_dir("bomb");
  write_mnist(dir);
  save_model(small_net(10), dir + "/m.resdyn");
  const std::string images = dir + "/t10k-images-idx3-ubyte";
  std::filesystem::remove(images);
  const std::string limit = kMemoryLimit;  // 1 GiB; the bombs below inflate to 1.25 GiB
  std::string header;
  put_be32(header, 0x803);
  put_be32(header, 20);
  put_be32(header, 4);
  put_be32(header, 4);
  const size_t too_much = size_t(5) << 28;
  std::ofstream(images + ".gz", std::ios::binary) << gzip_bomb(header, too_much);
  expect_clean_failure(run("eval --data " + dir + " --model " + dir + "/m.resdyn", limit), "t10k-images", "bomb");
  std::ofstream(images + ".gz", std::ios::binary) << gzip_bomb("", too_much);  // zeros from the first byte
  expect_clean_failure(run("eval --data " + dir + " --model " + dir + "/m.resdyn", limit), "t10k-images", "zeros");
  std::string huge;
  put_be32(huge, 0x803);
  put_be32(huge, 3000000);
  put_be32(huge, 28);
  put_be32(huge, 28);  // 2.35e9 bytes declared: more than the 2 GiB limit, refused at the header
  std::ofstream(images + ".gz", std::ios::binary) << gzip_bomb(huge, 1000);
  const Outcome o = run("eval --data " + dir + " --model " + dir + "/m.resdyn", limit);
  expect_clean_failure(o, "t10k-images", "declared");
  EXPECT_NE(o.err.find("header declares"), std::string::npos) << o.err;
  // The real thing still reads: a small IDX file, gzip-compressed the same way.
  std::string whole = header;
  for (int i = 0; i < 320; ++i) whole += char((i * 37) & 0xFF);
  std::ofstream(images + ".gz", std::ios::binary) << gzip_bomb(whole, 0);
  EXPECT_EQ(read_idx(images + ".gz").bytes, std::vector<uint8_t>(whole.begin() + 16, whole.end()));
  EXPECT_EQ(run("eval --data " + dir + " --model " + dir + "/m.resdyn", limit).status, 0);
}

// Flags that size buffers: refused above a stated bound, or clamped to the data.
TEST(HostileInputs, FlagsThatSizeBuffersAreBounded) {
  const std::string dir = fresh_dir("sizes");
  write_mnist(dir, 28, 28);
  const Outcome wide = run("train --data " + dir + " --width 32768 --depth 1 --epochs 1 --out " + dir + "/w.resdyn");
  expect_clean_failure(wide, "--width 32768", "--width");
  EXPECT_NE(wide.err.find("8 GiB"), std::string::npos) << wide.err;
  // 2^20 images of 784 pixels would be 822 MB of batch buffer alone; there are 20 images.
  const Outcome batch = run(
      "train --data " + dir + " --width 8 --depth 1 --epochs 1 --threads 1 --batch 1048576 --out " + dir + "/b.resdyn",
      kMemoryLimit);
  EXPECT_EQ(batch.status, 0) << batch.err;
  const Outcome eval = run("eval --data " + dir + " --model " + dir + "/b.resdyn --batch 1048576", kMemoryLimit);
  EXPECT_EQ(eval.status, 0) << eval.err;
  expect_clean_failure(
      run("noise --data " + dir + " --model " + dir + "/b.resdyn --out " + dir + "/n --amplitudes nan"), "--amplitudes",
      "--amplitudes nan");
}

// A file-size limit makes writes fail with EFBIG (not kill the program with SIGXFSZ); a full
// standard output is an error too, not exit 0.
TEST(HostileInputs, FileSizeLimitsAndFullDevicesAreErrors) {
  const std::string dir = fresh_dir("full");
  write_mnist(dir);
  save_model(small_net(10), dir + "/m.resdyn");
  const Outcome quantize =
      run("quantize --model " + dir + "/m.resdyn --out " + dir + "/q.qresdyn", "ulimit -f 0;", "/dev/null");
  expect_clean_failure(quantize, dir + "/q.qresdyn", "quantize under ulimit -f 0");
  EXPECT_NE(quantize.err.find("File too large"), std::string::npos) << quantize.err;
  expect_clean_failure(run("ode --starts 2 --out " + dir + "/ode", "ulimit -f 0;", "/dev/null"), "File too large",
                       "ode under ulimit -f 0");
  const Outcome full = run("eval --data " + dir + " --model " + dir + "/m.resdyn", "", "/dev/full");
  expect_clean_failure(full, "standard output", "eval >/dev/full");
}

// A trajectory CSV with numbers no chart can place is refused where it is read, naming the
// file and the line; the axis itself survives a degenerate or huge range.
TEST(HostileInputs, UnplottableNumbersInARunAreRefusedByFileAndLine) {
  for (const char* bad : {"nan", "1e308", "-1e308", "inf"}) {
    const std::string runs = fresh_dir("runs"), report = runs + "/report";
    std::filesystem::create_directories(runs + "/dynamics/shared");
    std::ofstream(runs + "/dynamics/shared/trajectory_stats.csv")
        << "class,layer,mean,spread\n0,1,0.5,0.1\n0,2," << bad << ",0.1\n1,1,0.4,0.2\n1,2,0.3,0.1\n";
    const Outcome o = run("report --runs " + runs + " --out " + report);
    expect_clean_failure(o, "trajectory_stats.csv:3", bad);
  }
  for (double lo : {-1e308, 1.7e308, 0.0}) {
    const double hi = lo == 0.0 ? 0.0 : std::abs(lo) == 1e308 ? 1e308 : lo;
    try {
      const plot::Axis axis = plot::make_axis(plot::ScaleKind::linear, lo, hi, 0, 400, 40, true);
      EXPECT_GE(axis.ticks.size(), 2u);
      for (const plot::Tick& t : axis.ticks) EXPECT_TRUE(std::isfinite(t.pixel)) << lo << " " << hi;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("axis"), std::string::npos) << e.what();
    }
  }
}
