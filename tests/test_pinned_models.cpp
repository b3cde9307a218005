// Pinned model bytes: small trainings of each kind of net, on 1 and 2 threads, must give
// exactly the model files they gave when these checksums were recorded. A change that is
// meant to move code around (not to change the arithmetic) keeps them; one that changes a
// single bit of any weight fails here, naming the run.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "resdyn.h"
#include "test_paths.h"

namespace {

// FNV-1a, 64 bits, continued from h.
uint64_t fnv1a(const void* data, size_t size, uint64_t h = 0xcbf29ce484222325ull) {
  for (size_t i = 0; i < size; ++i) h = (h ^ static_cast<const unsigned char*>(data)[i]) * 0x100000001b3ull;
  return h;
}

// What a model file holds but the command line it records (its paths and --threads differ
// between runs that must agree) and the training time a --fixed-point model records (a
// clock reading): the architecture, every parameter's bits and the rest of the metadata.
uint64_t model_hash(const std::string& path) {
  std::string metadata;
  const resdyn::Net<float> net = resdyn::load_model(path, &metadata);
  const resdyn::Config& c = net.config;
  const int32_t fields[] = {int32_t(c.arch), int32_t(c.weights), c.input, c.width, c.depth, c.classes, c.stem};
  uint64_t h = fnv1a(fields, sizeof fields);
  h = fnv1a(net.params.data(), net.params.size() * sizeof(float), h);
  for (const char* line : {"command:", "train_seconds:"}) {
    const size_t at = metadata.find(line);
    if (at != std::string::npos) metadata.erase(at, metadata.find('\n', at) - at);
  }
  return fnv1a(metadata.data(), metadata.size(), h);
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

struct PinnedRun {
  const char* name;
  const char* flags;
  uint64_t hash;  // model_hash of the trained model, as recorded
};

// Each kind of net the trainer builds: shared and per-layer ResNets with and without a stem,
// the noise regulariser, an MLP with SGD, depth pruning, and Q15.16 training. Recorded on an
// AVX-512 build (12 x 32 float kernel, fused multiply-adds); other kernels round their sums
// differently, so there only the agreement of 1 and 2 threads is checked.
#if defined(__AVX512F__) && defined(__FMA__)
constexpr bool kPinnedKernel = true;
#else
constexpr bool kPinnedKernel = false;
#endif
const PinnedRun kRuns[] = {
    {"shared", "--weights shared --width 32 --depth 3 --shift 1", 0x12e58a3ad096e181ull},
    {"per_layer_noise", "--weights per-layer --width 24 --depth 4 --noise-reg 0.01", 0xbab56ff64f8b3113ull},
    {"mlp_sgd", "--arch mlp --weights per-layer --width 20 --depth 3 --optimizer sgd --lr 0.05", 0xb1cb5b1260f75482ull},
    {"pruned", "--weights per-layer --width 16 --depth 6 --prune-threshold 0.5 --prune-probe 64",
     0xe88489c0db27e773ull},
    {"fixed_point", "--weights shared --width 16 --depth 3 --fixed-point --lr 0.05", 0x1e18c0d59c53bebaull},
};

}  // namespace

TEST(PinnedModels, SameSeedAndFlagsGiveTheRecordedBytesOnOneAndTwoThreads) {
  const std::string dir = testing::TempDir() + "/pinned." + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  for (const PinnedRun& run : kRuns) {
    uint64_t one_thread = 0;
    for (int threads : {1, 2}) {
      const std::string model = dir + "/" + run.name + "." + std::to_string(threads) + ".resdyn";
      const std::string command = test_paths::program() + " train --data " + test_paths::mnist_dir() +
                                  " --epochs 1 --limit-train 1200 --limit-test 200 --batch 50 --seed 7 --threads " +
                                  std::to_string(threads) + " " + run.flags + " --out " + model + " >" + dir +
                                  "/log.txt 2>" + dir + "/err.txt </dev/null";
      const int raw = std::system(command.c_str());
      ASSERT_TRUE(WIFEXITED(raw) && WEXITSTATUS(raw) == 0) << run.name << ": " << slurp(dir + "/err.txt");
      const uint64_t hash = model_hash(model);
      char hex[24];
      std::snprintf(hex, sizeof hex, "0x%016llx", (unsigned long long)hash);
      if (threads == 1) one_thread = hash;
      EXPECT_EQ(hash, one_thread) << run.name << ": 2 threads gave another model than 1";
      if (kPinnedKernel) {
        EXPECT_EQ(hash, run.hash) << run.name << " on " << threads << " thread(s) gave model hash " << hex;
      }
    }
  }
  std::filesystem::remove_all(dir);
}
