// bfloat16 products: the rounding against the nearest-value definition (and the CPU's own
// conversion where it has one), one multiply-add against exact arithmetic, and the whole
// GEMM, on the kernel this machine runs (AMX where it has it) and on the portable one,
// against a naive loop that rounds operands and sums in the same order.
// The kernels are compiled into this unit (RESDYN_KERNELS) so their bodies can be checked.
#define RESDYN_KERNELS
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "resdyn.h"
#include "test_paths.h"
#include "tiny_net.h"

using resdyn::bf16_from_float;
using resdyn::bf16_multiply_add;
using resdyn::float_from_bf16;
using resdyn::Op;
using resdyn::Precision;
using namespace resdyn;

namespace {

float from_bits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

uint32_t bits_of(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

// The bfloat16 nearest to a normal, finite x by the definition: of the two neighbours that
// bracket x (truncation, and one unit of the last place beyond), the closer; on a tie, the one
// with an even last bit. Distances in double are exact here.
uint16_t nearest_bf16(float x) {
  const uint16_t down = uint16_t(bits_of(x) >> 16);
  const uint16_t up = uint16_t(down + 1);
  const double d_down = std::fabs(double(x) - double(float_from_bf16(down)));
  // Past the largest finite value, infinity stands where 2^128 would be (IEEE's overflow rule).
  const double up_value = (up & 0x7FFF) == 0x7F80 ? std::copysign(0x1p128, double(x)) : double(float_from_bf16(up));
  const double d_up = std::fabs(up_value - double(x));
  if (d_down != d_up) return d_down < d_up ? down : up;
  return (down & 1) ? up : down;
}

TEST(Bfloat16, RoundsToTheNearestValueTiesToEven) {
  resdyn::Rng rng(7);
  for (int i = 0; i < 200000; ++i) {
    // Random normal floats of every exponent, and values exactly halfway between two bf16.
    uint32_t u = uint32_t(rng.next_u64());
    if (i % 4 == 0) u = (u & 0xFFFF0000u) | 0x8000u;
    const float x = from_bits(u);
    if (!std::isnormal(x)) continue;
    ASSERT_EQ(bf16_from_float(x), nearest_bf16(x)) << "bits " << std::hex << u;
  }
}

TEST(Bfloat16, SpecialValues) {
  EXPECT_EQ(bf16_from_float(0.0f), 0x0000);
  EXPECT_EQ(bf16_from_float(-0.0f), 0x8000);
  EXPECT_EQ(bf16_from_float(1.0f), 0x3F80);
  EXPECT_EQ(bf16_from_float(INFINITY), 0x7F80);
  EXPECT_EQ(bf16_from_float(-INFINITY), 0xFF80);
  EXPECT_EQ(bf16_from_float(from_bits(0x00000001u)), 0x0000);  // denormals become zero
  EXPECT_EQ(bf16_from_float(from_bits(0x807FFFFFu)), 0x8000);
  EXPECT_EQ(bf16_from_float(from_bits(0x7F7FFFFFu)), 0x7F80);    // the largest float rounds up to infinity
  const uint16_t nan = bf16_from_float(from_bits(0x7F800001u));  // a NaN whose payload is in the low half
  EXPECT_TRUE(std::isnan(float_from_bf16(nan)));
  EXPECT_EQ(float_from_bf16(0x4049), 3.140625f);
}

TEST(Bfloat16, MultiplyAddRoundsTheExactSumOnce) {
  resdyn::Rng rng(11);
  for (int i = 0; i < 200000; ++i) {
    const uint16_t a = bf16_from_float(float(rng.uniform(-4, 4))), b = bf16_from_float(float(rng.uniform(-4, 4)));
    const float sum = float(rng.uniform(-8, 8) * std::pow(2.0, int(rng.below(20)) - 10));
    // The exponents differ by less than 29 here, so the double sum is exact; one rounding to
    // float is then the correctly rounded result.
    const double exact = double(float_from_bf16(a)) * double(float_from_bf16(b)) + double(sum);
    ASSERT_EQ(bits_of(bf16_multiply_add(a, b, sum)), bits_of(float(exact)));
  }
  // A sum too small to be a normal float is flushed to zero, keeping its sign.
  const uint16_t tiny = bf16_from_float(1e-20f);
  EXPECT_EQ(bits_of(bf16_multiply_add(tiny, tiny, 0.0f)), 0u);
  EXPECT_EQ(bits_of(bf16_multiply_add(tiny, uint16_t(tiny | 0x8000), 0.0f)), 0x80000000u);
  EXPECT_EQ(bits_of(resdyn::add_flushed(1.5f * 1.17549435e-38f, -1.17549435e-38f)), 0u);
}

#if defined(__AVX512BF16__) && defined(__AVX512F__)
TEST(Bfloat16, TheCpuConvertsAsTheDefinitionSays) {
  resdyn::Rng rng(13);
  for (int round = 0; round < 20000; ++round) {
    alignas(64) float x[32];
    alignas(64) uint16_t hw[32];
    for (int i = 0; i < 32; ++i) {
      uint32_t u = uint32_t(rng.next_u64());
      if (i % 3 == 0) u = (u & 0x807FFFFFu) | (uint32_t(100 + rng.below(56)) << 23);  // moderate magnitudes
      if (i == 5 && round % 7 == 0) u &= 0x807FFFFFu;                                 // a denormal
      x[i] = from_bits(u);
    }
    // vcvtne2ps2bf16: the second operand fills the low half.
    const __m512bh packed = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + 16), _mm512_loadu_ps(x));
    std::memcpy(hw, &packed, sizeof hw);
    for (int i = 0; i < 32; ++i) {
      if (std::isnan(x[i])) continue;
      ASSERT_EQ(hw[i], bf16_from_float(x[i])) << "bits " << std::hex << bits_of(x[i]);
    }
  }
}
#endif

// C = alpha op(A) op(B) + beta C as the bf16 path defines it, in plain loops: operands rounded
// to bfloat16; K cut into blocks (as many as blocks of at most 384 need, as equal as possible,
// rounded up to a multiple of 32); each block in chunks of 32 k, whose even-k and odd-k products
// are summed apart from zero, then (even + odd) added to the block's sum; the blocks' sums
// added to C in order, the first one beside beta C.
std::vector<float> naive_bf16(Op opA, Op opB, int M, int N, int K, float alpha, const std::vector<float>& A, int lda,
                              const std::vector<float>& B, int ldb, float beta, std::vector<float> C, int ldc) {
  const int blocks = (K + 383) / 384;
  const int step = std::min(K, ((K + blocks - 1) / blocks + 31) / 32 * 32);
  auto a_at = [&](int i, int k) {
    return bf16_from_float(opA == Op::N ? A[size_t(i) * lda + k] : A[size_t(k) * lda + i]);
  };
  auto b_at = [&](int k, int j) {
    return bf16_from_float(opB == Op::N ? B[size_t(k) * ldb + j] : B[size_t(j) * ldb + k]);
  };
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float& c = C[size_t(i) * ldc + j];
      for (int k0 = 0; k0 < K; k0 += step) {
        const int k1 = std::min(K, k0 + step);
        float block = 0;
        for (int chunk = k0; chunk < k1; chunk += 32) {
          float even = 0, odd = 0;
          for (int k = chunk; k < std::min(k1, chunk + 32); ++k) {
            float& sum = (k - chunk) % 2 == 0 ? even : odd;
            sum = bf16_multiply_add(a_at(i, k), b_at(k, j), sum);
          }
          block = resdyn::add_flushed(block, resdyn::add_flushed(even, odd));
        }
        c = k0 == 0 ? (beta == 0 ? alpha * block : beta * c + alpha * block) : c + alpha * block;
      }
    }
  return C;
}

std::vector<float> random_matrix(size_t n, uint64_t seed) {
  resdyn::Rng rng(seed);
  std::vector<float> m(n);
  for (auto& v : m) v = float(rng.uniform(-1, 1));
  return m;
}

struct Shape {
  int M, N, K;
};

// Every transposition, odd shapes (a partial register tile, an odd depth, several depth
// blocks, one to four rows), alpha and beta, one and two threads: the vector kernel and the
// portable one both give the naive loop's bits.
TEST(Bfloat16Gemm, BothKernelsGiveTheNaiveLoopsBits) {
  RecordProperty("bf16_kernel", resdyn::bf16_kernel_name());
  std::printf("bf16 kernel: %s\n", resdyn::bf16_kernel_name());
  const Shape shapes[] = {{1, 33, 17}, {3, 70, 785}, {4, 64, 9}, {13, 37, 5}, {29, 100, 1064}, {130, 45, 391}};
  for (const Shape& s : shapes)
    for (Op opA : {Op::N, Op::T})
      for (Op opB : {Op::N, Op::T})
        for (int threads : {1, 2}) {
          const int lda = (opA == Op::N ? s.K : s.M) + 3, ldb = (opB == Op::N ? s.N : s.K) + 1, ldc = s.N + 2;
          const auto A = random_matrix(size_t(opA == Op::N ? s.M : s.K) * lda, 1);
          const auto B = random_matrix(size_t(opB == Op::N ? s.K : s.N) * ldb, 2);
          const auto C0 = random_matrix(size_t(s.M) * ldc, 3);
          // Powers of two: the scalings are exact, so whether the compiler fuses C's updates
          // (c + alpha sum) into one multiply-add cannot change a bit.
          const float alpha = 0.5f, beta = threads == 1 ? 0.0f : 0.25f;
          const auto expected = naive_bf16(opA, opB, s.M, s.N, s.K, alpha, A, lda, B, ldb, beta, C0, ldc);
          auto fast = C0, portable = C0;
          resdyn::gemm(opA, opB, s.M, s.N, s.K, alpha, A.data(), lda, B.data(), ldb, beta, fast.data(), ldc, threads,
                       {}, Precision::bf16);
          resdyn::gemm_portable(opA, opB, s.M, s.N, s.K, alpha, A.data(), lda, B.data(), ldb, beta, portable.data(),
                                ldc, threads, Precision::bf16);
          for (int i = 0; i < s.M; ++i)
            for (int j = 0; j < s.N; ++j) {
              const size_t at = size_t(i) * ldc + j;
              ASSERT_EQ(bits_of(fast[at]), bits_of(expected[at]))
                  << s.M << "x" << s.N << "x" << s.K << " ops " << int(opA) << int(opB) << " threads " << threads
                  << " at " << i << "," << j;
              ASSERT_EQ(bits_of(portable[at]), bits_of(expected[at]));
            }
        }
}

// B packed ahead of time in bf16 gives the bits of B itself, and the result stays within
// bfloat16's precision of the exact product (operands rounded to 8 significant bits: a
// relative error of at most 2^-8 per product, far less on average over K terms).
TEST(Bfloat16Gemm, PackedBGivesTheSameBitsAndStaysNearTheExactProduct) {
  const int M = 57, N = 75, K = 784;
  const auto A = random_matrix(size_t(M) * K, 4), B = random_matrix(size_t(K) * N, 5);
  std::vector<float> direct(size_t(M) * N), packed(size_t(M) * N);
  resdyn::gemm(Op::N, Op::N, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, direct.data(), N, 2, {}, Precision::bf16);
  const resdyn::PackedB<float> packed_b(Op::N, K, N, B.data(), N, 2, Precision::bf16);
  EXPECT_EQ(packed_b.precision(), Precision::bf16);
  resdyn::gemm(Op::N, M, 1.0f, A.data(), K, packed_b, 0.0f, packed.data(), N, 2);
  double worst = 0;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      ASSERT_EQ(bits_of(packed[size_t(i) * N + j]), bits_of(direct[size_t(i) * N + j]));
      double exact = 0, magnitude = 0;
      for (int k = 0; k < K; ++k) {
        exact += double(A[size_t(i) * K + k]) * B[size_t(k) * N + j];
        magnitude += std::fabs(double(A[size_t(i) * K + k]) * B[size_t(k) * N + j]);
      }
      worst = std::max(worst, std::fabs(direct[size_t(i) * N + j] - exact) / magnitude);
    }
  EXPECT_LT(worst, 1.0 / 128);  // each term within 2^-7 of its exact value, relative
  EXPECT_GT(worst, 1e-6);       // and the operands really were rounded
}

// Backprop in bf16 on every variant against central differences of the exact loss (double,
// no rounding): operands rounded to 8 significant bits move each product by up to 2^-9 of its
// size, so the gradient agrees to about a percent, not to float's 1e-6; and it does differ
// from the float gradient, or the products were not rounded at all.
TEST(Bfloat16Training, GradientsOfEveryVariantAgreeWithCentralDifferencesToBf16Precision) {
  const int batch = 4;
  for (Arch arch : {Arch::ResNet, Arch::MLP})
    for (Weights weights : {Weights::Shared, Weights::PerLayer})
      for (bool stem : {true, false}) {
        const Config cfg = tiny::config(arch, weights, stem, 40, 24, 3, 5);
        const std::string name = std::string(arch == Arch::ResNet ? "resnet" : "mlp") +
                                 (weights == Weights::Shared ? "/shared" : "/per-layer") + (stem ? "/stem" : "");
        const Net<double> exact = tiny::random_net<double>(cfg, 17, 0.5);
        Net<float> net(cfg);
        for (size_t i = 0; i < net.params.size(); ++i) net.params[i] = float(exact.params[i]);
        Rng rng(3);
        std::vector<uint8_t> pixels(size_t(batch) * cfg.input), labels(batch);
        for (auto& v : pixels) v = uint8_t(rng.below(256));
        for (auto& l : labels) l = uint8_t(rng.below(uint64_t(cfg.classes)));
        auto gradient = [&](Precision precision) {
          Trace<float> trace;
          set_input(trace, pixels.data(), batch, cfg.input);
          ForwardOptions<float> fwd;
          fwd.precision = precision;
          forward(net, trace, fwd);
          BackwardBuffers<float> buffers;
          buffers.precision = precision;
          std::vector<float> g(net.params.size());
          backward(net, trace, labels.data(), g.data(), buffers);
          return g;
        };
        const std::vector<float> bf16 = gradient(Precision::bf16), fp32 = gradient(Precision::fp32);
        Net<double> probe = exact;
        Trace<double> trace;
        set_input(trace, pixels.data(), batch, cfg.input);
        auto loss = [&] {
          forward(probe, trace);
          return softmax_cross_entropy(trace.logits.data(), labels.data(), batch, cfg.classes,
                                       static_cast<double*>(nullptr));
        };
        double error = 0, norm = 0, off_float = 0;
        for (size_t i = 0; i < probe.params.size(); ++i) {
          const double keep = probe.params[i], h = 1e-5;
          probe.params[i] = keep + h;
          const double up = loss();
          probe.params[i] = keep - h;
          const double numeric = (up - loss()) / (2 * h);
          probe.params[i] = keep;
          error += (bf16[i] - numeric) * (bf16[i] - numeric);
          norm += numeric * numeric;
          off_float += double(bf16[i] - fp32[i]) * (bf16[i] - fp32[i]);
        }
        EXPECT_LT(std::sqrt(error / norm), 0.02) << name;
        EXPECT_GT(std::sqrt(off_float / norm), 1e-5) << name << ": the bf16 gradient is the float one";
      }
}

// The noise penalty's gradient (paper eq. 5) in bf16 against the exact one (double backprop,
// itself checked against central differences in the noise regulariser's tests).
TEST(Bfloat16Training, NoisePenaltyGradientAgreesWithTheExactOne) {
  const Config cfg = tiny::config(Arch::ResNet, Weights::Shared, true, 40, 24, 4, 5);
  const Net<double> exact = tiny::random_net<double>(cfg, 23, 0.5);
  Net<float> net(cfg);
  for (size_t i = 0; i < net.params.size(); ++i) net.params[i] = float(exact.params[i]);
  std::vector<uint8_t> pixels(size_t(3) * cfg.input);
  Rng rng(5);
  for (auto& v : pixels) v = uint8_t(rng.below(256));
  Trace<double> exact_trace;
  set_input(exact_trace, pixels.data(), 3, cfg.input);
  forward(exact, exact_trace);
  std::vector<double> reference(exact.params.size());
  BackwardBuffers<double> exact_buffers;
  noise_growth_penalty(exact, exact_trace, 0.1, reference.data(), exact_buffers);
  Trace<float> trace;
  set_input(trace, pixels.data(), 3, cfg.input);
  ForwardOptions<float> fwd;
  fwd.precision = Precision::bf16;
  forward(net, trace, fwd);
  std::vector<float> g(net.params.size());
  BackwardBuffers<float> buffers;
  buffers.precision = Precision::bf16;
  noise_growth_penalty(net, trace, 0.1, g.data(), buffers);
  double error = 0, norm = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    error += (g[i] - reference[i]) * (g[i] - reference[i]);
    norm += reference[i] * reference[i];
  }
  EXPECT_GT(norm, 1e-8);
  EXPECT_LT(std::sqrt(error / norm), 0.02);
}

// Every variant trains in bf16 on real digits (1000 images, two epochs, with the noise penalty
// and shifts on one of them): to the same bits on one thread and two, and to a test error
// within 5 points of its float twin's (far below chance).
TEST(Bfloat16Training, EveryVariantLearnsDigitsWithTheSameBitsOnOneAndTwoThreads) {
  const Dataset train = first_samples(load_mnist(test_paths::mnist_dir(), true), 1000);
  const Dataset test = first_samples(load_mnist(test_paths::mnist_dir(), false), 500);
  for (Arch arch : {Arch::ResNet, Arch::MLP})
    for (Weights weights : {Weights::Shared, Weights::PerLayer})
      for (bool stem : {true, false}) {
        const Config cfg = tiny::config(arch, weights, stem, 784, 48, 3, 10);
        const std::string name = std::string(arch == Arch::ResNet ? "resnet" : "mlp") +
                                 (weights == Weights::Shared ? "/shared" : "/per-layer") + (stem ? "/stem" : "");
        auto trained = [&](Precision precision, int threads, double* error) {
          Net<float> net(cfg);
          Rng rng(9);
          initialise(net, rng);
          TrainOptions opt;
          opt.epochs = 2;
          opt.batch = 10;
          opt.optimizer.lr = !stem ? 1e-3 : arch == Arch::ResNet ? 3e-2 : 1e-2;
          opt.precision = precision;
          opt.threads = threads;
          opt.noise_reg = arch == Arch::ResNet && weights == Weights::Shared && stem ? 0.01 : 0;
          opt.shift = opt.noise_reg > 0 ? 1 : 0;
          Trainer<float> trainer(net, train, opt);
          for (int e = 0; e < opt.epochs; ++e) trainer.train_epoch();
          const PackedNet<float>* unpacked = nullptr;
          if (error) *error = evaluate(net, test, threads, 0, 256, unpacked, precision).error;
          return net.params;
        };
        double bf16_error = 1, fp32_error = 0;
        const std::vector<float> one = trained(Precision::bf16, 1, nullptr);
        EXPECT_TRUE(one == trained(Precision::bf16, 2, &bf16_error)) << name;
        trained(Precision::fp32, 2, &fp32_error);
        EXPECT_LT(fp32_error, 0.4) << name << ": the float twin did not learn";
        EXPECT_LT(bf16_error, fp32_error + 0.05) << name;
      }
}

}  // namespace
