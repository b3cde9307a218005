// What must hold on every CPU the header is built for (make cross runs this file on aarch64,
// armhf and big-endian s390x under emulation, and here): which kernels the build runs and how
// they sum, files written on one machine read on another, and the same bits on 1 and 2 threads.
// These tests read the kernels themselves: the header shows their bodies here.
#define RESDYN_KERNELS
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "resdyn.h"
#include "test_paths.h"

using namespace resdyn;

namespace {

// The machine the build is for, as the exchanged files name it.
const char* machine() {
#if defined(__x86_64__)
  return "x86-64";
#elif defined(__aarch64__)
  return "aarch64";
#elif defined(__arm__)
  return "arm";
#elif defined(__s390x__)
  return "s390x";
#else
  return "other";
#endif
}

// What the target macros promise each build, written out independently of the header's own
// selection: AArch64 (little-endian) runs the NEON kernels, with SDOT when the compiler may use it.
std::string expected_gemm_kernel() {
#if defined(__AVX512F__)
  return "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
  return "avx2";
#elif defined(__aarch64__) && !defined(__ARM_BIG_ENDIAN)
  return "neon";
#else
  return "portable";
#endif
}
std::string expected_int_kernel() {
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
  return "avx512-vnni";
#elif defined(__AVX2__)
  return "avx2";
#elif defined(__aarch64__) && !defined(__ARM_BIG_ENDIAN) && defined(__ARM_FEATURE_DOTPROD)
  return "neon-sdot";
#elif defined(__aarch64__) && !defined(__ARM_BIG_ENDIAN)
  return "neon";
#else
  return "plain";
#endif
}

template <class Real>
std::vector<Real> random_values(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<Real> v(n);
  for (auto& x : v) x = Real(rng.uniform(-1, 1));
  return v;
}

// The micro-kernel's tile by its definition: each element summed over k in increasing order,
// with one rounding per term (std::fma) for the vector kernels, which fuse by their
// instructions: the same bits. The portable kernel's a * b + c is fused or not as the compiler
// chooses, term by term (GCC contracts it into an FMA where the CPU has one unless
// -ffp-contract=off, and not in every copy of a vectorised loop): within the bound of two
// roundings per term of that sum.
template <class Real, int Rows>
void check_micro_kernel(int kc, uint64_t seed) {
  constexpr int NR = GemmShape<Real>::NR;
  const auto a = random_values<Real>(size_t(kc) * Rows, seed), b = random_values<Real>(size_t(kc) * NR, seed + 1);
  const size_t size = size_t(Rows) * NR;
  std::vector<Real> tile(size), portable(size);
  detail::micro_kernel<Real, Rows>(kc, a.data(), b.data(), tile.data());
  detail::micro_kernel_portable<Real, Rows>(kc, a.data(), b.data(), portable.data());
  for (int r = 0; r < Rows; ++r)
    for (int c = 0; c < NR; ++c) {
      Real fused = 0;
      double magnitude = 0;
      for (int k = 0; k < kc; ++k) {
        fused = std::fma(a[size_t(k) * Rows + r], b[size_t(k) * NR + c], fused);
        magnitude += std::fabs(double(a[size_t(k) * Rows + r]) * b[size_t(k) * NR + c]);
      }
      const Real got = tile[size_t(r) * NR + c], plain = portable[size_t(r) * NR + c];
      if (GemmShape<Real>::fused) {
        ASSERT_EQ(std::memcmp(&got, &fused, sizeof(Real)), 0)
            << "kernel " << GemmShape<Real>::kernel << " rows " << Rows << " kc " << kc << " at " << r << "," << c;
      }
      ASSERT_LE(std::fabs(double(plain) - fused), 2.0 * kc * std::numeric_limits<Real>::epsilon() * magnitude)
          << "portable kernel, rows " << Rows << " kc " << kc << " at " << r << "," << c;
    }
}

template <class Real>
void check_micro_kernels() {
  for (int kc : {1, 7, 262}) {
    check_micro_kernel<Real, GemmShape<Real>::MR>(kc, 40 + uint64_t(kc));
    check_micro_kernel<Real, 1>(kc, 50 + uint64_t(kc));
    check_micro_kernel<Real, 3>(kc, 60 + uint64_t(kc));
    check_micro_kernel<Real, 4>(kc, 70 + uint64_t(kc));
  }
}

// A small ResNet trained for one epoch on `train`, on `threads` threads.
Net<float> train_small(const Dataset& train, int threads) {
  Config c;
  c.width = 96;
  c.depth = 3;
  Net<float> net(c);
  Rng rng(11);
  initialise(net, rng);
  TrainOptions opt;
  opt.epochs = 1;
  opt.batch = 64;
  opt.seed = 11;
  opt.threads = threads;
  opt.optimizer.lr = 1e-2;
  Trainer<float> trainer(net, train, opt);
  trainer.train_epoch();
  return net;
}

// FNV-1a, 64 bits, of a float vector's bits taken as little-endian bytes on every machine.
uint64_t bits_hash(const std::vector<float>& v) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (float f : v) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int b = 0; b < 4; ++b) h = (h ^ ((u >> (8 * b)) & 0xFF)) * 0x100000001b3ull;
  }
  return h;
}

}  // namespace

// Says which kernels this build runs (make cross prints the line) and checks them against
// the target macros.
TEST(Kernels, NamesTheKernelsThisBuildRuns) {
  std::printf("kernels: gemm %s (float %d x %d), int %s, epilogue %s, on %s\n", GemmShape<float>::kernel,
              GemmShape<float>::MR, GemmShape<float>::NR, fixed::kIntKernel, fixed::kEpilogue, machine());
  EXPECT_EQ(GemmShape<float>::kernel, expected_gemm_kernel());
  EXPECT_EQ(GemmShape<double>::kernel, expected_gemm_kernel());
  EXPECT_EQ(fixed::kIntKernel, expected_int_kernel());
}

// Every kernel sums each element over k in order: a vector kernel (AVX-512, AVX2, NEON) gives
// exactly the std::fma sum on every machine; the portable kernel the same sum with each term
// fused or rounded apart as its compiler made it.
TEST(Kernels, MicroKernelsSumInOrderWithTheirRounding) {
  check_micro_kernels<float>();
  check_micro_kernels<double>();
}

// A model and a checkpoint written on one machine load on another and predict the same.
// make cross runs this with RESDYN_EXCHANGE_OUT (where this machine writes its files) and
// RESDYN_EXCHANGE_IN (another machine's files, to read and check); alone it reads its own.
// The float logits on the reading side may differ in the last bits (another kernel), so the
// predicted classes must be equal and the logits within 1e-4.
TEST(Exchange, ModelAndCheckpointLoadAndPredictTheSame) {
  const char* out_env = std::getenv("RESDYN_EXCHANGE_OUT");
  const char* in_env = std::getenv("RESDYN_EXCHANGE_IN");
  const std::string out = out_env && *out_env ? out_env : testing::TempDir() + "/exchange." + machine();
  const std::string in = in_env && *in_env ? in_env : out;
  std::filesystem::create_directories(out);
  const Dataset train = first_samples(load_mnist(test_paths::mnist_dir(), true), 2000);
  const Dataset test = first_samples(load_mnist(test_paths::mnist_dir(), false), 100);
  auto predict = [&test](const Net<float>& net) {
    Trace<float> trace;
    set_input(trace, test.images.data(), test.count, net.config.input);
    forward(net, trace);
    return trace.logits;
  };
  TrainOptions opt;
  opt.epochs = 2;
  opt.batch = 32;
  opt.optimizer.lr = 3e-3;
  {  // This machine's files: a trained model (about 35% test error), a checkpoint of it, its predictions.
    Config c;
    c.width = 48;
    c.depth = 3;
    Net<float> net(c);
    Rng rng(3);
    initialise(net, rng);
    Trainer<float> trainer(net, train, opt);
    for (int e = 0; e < opt.epochs; ++e) trainer.train_epoch();
    save_model(net, out + "/model.resdyn", std::string("written on ") + machine());
    save_checkpoint(out + "/model.ckpt", net, std::string("written on ") + machine(), trainer, {1, 2, 3});
    const std::vector<float> logits = predict(net);
    std::ofstream file(out + "/predictions.txt");
    for (int s = 0; s < test.count; ++s) {
      file << argmax_row(&logits[size_t(s) * c.classes], c.classes);
      for (int k = 0; k < c.classes; ++k) file << ' ' << std::hexfloat << logits[size_t(s) * c.classes + k];
      file << '\n';
    }
    ASSERT_TRUE(file.good());
  }
  std::string metadata;
  const Net<float> model = load_model(in + "/model.resdyn", &metadata);
  const Checkpoint checkpoint = load_checkpoint(in + "/model.ckpt");
  std::printf("read a model %s\n", metadata.c_str());
  ASSERT_EQ(checkpoint.net.params, model.params) << "the checkpoint holds another net than the model";
  ASSERT_EQ(checkpoint.extra, (std::vector<uint8_t>{1, 2, 3}));
  {  // The trainer's state reads back into a trainer here.
    Net<float> resumed = checkpoint.net;
    Trainer<float> trainer(resumed, train, opt);
    restore_trainer(trainer, checkpoint);
  }
  std::ifstream expected(in + "/predictions.txt");
  const std::vector<float> logits = predict(model);
  std::vector<int> predicted_count(size_t(model.config.classes), 0);
  for (int s = 0; s < test.count; ++s) {
    int recorded = -1;
    expected >> recorded;
    ASSERT_TRUE(expected.good()) << in << "/predictions.txt: line " << s + 1;
    const int predicted = argmax_row(&logits[size_t(s) * model.config.classes], model.config.classes);
    EXPECT_EQ(predicted, recorded) << "image " << s;
    ++predicted_count[size_t(predicted)];
    for (int k = 0; k < model.config.classes; ++k) {
      std::string text;
      expected >> text;
      EXPECT_NEAR(logits[size_t(s) * model.config.classes + k], std::strtof(text.c_str(), nullptr), 1e-4)
          << "image " << s << " class " << k;
    }
  }
  // A net that gives every image one class would agree with anything: this one has learnt.
  int classes_seen = 0;
  for (int n : predicted_count) classes_seen += n > 0;
  EXPECT_GE(classes_seen, 5);
}

// The same seed gives the same bits on 1 and 2 threads: a training (products large enough to
// be split between the threads) and the integer runner of section 9. Prints the trained net's
// hash, for comparing machines (make cross reports which agree).
TEST(Determinism, SameBitsOnOneAndTwoThreads) {
  const Dataset train = first_samples(load_mnist(test_paths::mnist_dir(), true), 320);
  const Net<float> one = train_small(train, 1), two = train_small(train, 2);
  ASSERT_EQ(0, std::memcmp(one.params.data(), two.params.data(), one.params.size() * sizeof(float)));
  std::printf("trained net bits: %016llx\n", (unsigned long long)bits_hash(one.params));
  const QuantizedModel q = quantize(one);
  const QuantRunner runner(q.view());
  const int count = 200;
  std::vector<int32_t> logits1(size_t(count) * 10), logits2(logits1.size()), states1(size_t(count) * 96),
      states2(states1.size());
  runner.run(train.images.data(), count, 0, 1, logits1.data(), states1.data());
  runner.run(train.images.data(), count, 0, 2, logits2.data(), states2.data());
  EXPECT_EQ(logits1, logits2);
  EXPECT_EQ(states1, states2);
}
