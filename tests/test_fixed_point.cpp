// The fixed-point path (resdyn.h sections 4, 9 and 15): rounding and saturation, the logistic and exp
// tables against std::exp, the integer kernels against naive loops and against each other, the
// integer forward pass against the float one, quantized MNIST accuracy, the quantized model
// file, .npy files, the exported C header compiled and run as a freestanding program, and
// training in Q15.16.
// These tests read the kernels themselves, not only their results: the header shows their
// bodies here (before anything includes it).
#define RESDYN_KERNELS
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <string>
#include <vector>

#include "quant/fixed_training.h"
#include "quant/model_export.h"
#include "quant/npy_writer.h"
#include "quant/quantized_evaluation.h"
#include "quant/quantized_model_file.h"
#include "resdyn.h"
#include "test_paths.h"

using namespace resdyn;
using namespace resdyn::fixed;

namespace {

#if defined(__SIZEOF_INT128__)  // the exact reference needs 128-bit integers (none on 32-bit machines)
// Exact reference for round_shift_right / rescale: 128-bit arithmetic, ties away from zero.
int64_t reference_round(__int128 v, int shift) {
  const __int128 a = v < 0 ? -v : v;
  const __int128 r = (a + (__int128(1) << (shift - 1))) >> shift;
  return int64_t(v < 0 ? -r : r);
}
#endif

// A network with every parameter random (initialise() leaves ResNet blocks at zero); layer
// weights uniform in +-block_scale / sqrt(N).
Net<float> random_net(const Config& cfg, uint64_t seed, double block_scale = 2.0) {
  Net<float> net(cfg);
  Rng rng(seed);
  auto fill = [&rng](float* p, size_t n, double a) {
    for (size_t i = 0; i < n; ++i) p[i] = float(rng.uniform(-a, a));
  };
  const size_t N = size_t(cfg.width);
  if (cfg.stem) {
    fill(net.P(), N * cfg.input, 3.0 / std::sqrt(double(cfg.input)));
    fill(net.c(), N, 0.5);
  }
  fill(net.K(), size_t(cfg.classes) * N, 2.0 / std::sqrt(double(N)));
  fill(net.k0(), size_t(cfg.classes), 0.5);
  for (int blk = 1; blk <= net.layout.blocks; ++blk) {
    fill(net.W(blk), N * N, block_scale / std::sqrt(double(N)));
    fill(net.b(blk), N, 0.5);
  }
  return net;
}

// The float net whose weights are exactly the quantized ones (q * mult * 2^-shift, the stem's
// times 255 because its float input is u = p / 255) and whose biases are the Q19.12 values: its
// forward pass differs from the integer one only by the integer arithmetic itself.
Net<float> dequantized(const QuantizedModel& q) {
  Net<float> net(q.config);
  auto rows = [](const QuantizedModel::Matrix& m, float* w, float* b, size_t stride, double unit) {
    for (int blk = 0; blk < m.count; ++blk)
      for (int i = 0; i < m.rows; ++i) {
        const size_t r = size_t(blk) * m.rows + size_t(i);
        const double scale = m.mult[r] * std::ldexp(1.0, -m.shift[r]) * unit;
        for (int j = 0; j < m.cols; ++j)
          w[blk * stride + size_t(i) * m.cols + j] = float(m.weights[r * m.cols + j] * scale);
        b[blk * stride + size_t(i)] = float(m.bias[r] / 4096.0);
      }
  };
  if (q.config.stem) rows(q.stem, net.P(), net.c(), 0, 255.0);
  rows(q.classifier, net.K(), net.k0(), 0, 1.0);
  rows(q.blocks, net.W(1), net.b(1), net.layout.block_size, fixed::layers_read_bytes(q.config) ? 255.0 : 1.0);
  return net;
}

std::vector<uint8_t> random_pixels(int count, int size, uint64_t seed) {
  std::vector<uint8_t> px(size_t(count) * size);
  Rng rng(seed);
  for (auto& p : px) p = uint8_t(rng.below(256));
  return px;
}

Config small_config(Arch arch, Weights weights, bool stem, int width, int depth) {
  Config c;
  c.arch = arch;
  c.weights = weights;
  c.stem = stem;
  c.input = stem ? 784 : width;
  c.width = width;
  c.depth = depth;
  return c;
}

// Small nets of every kind: ResNet and MLP, shared and per-layer, with a stem and without.
std::vector<Config> every_kind_of_net() {
  return {
      small_config(Arch::ResNet, Weights::Shared, true, 37, 5),
      small_config(Arch::ResNet, Weights::PerLayer, true, 24, 3),
      small_config(Arch::MLP, Weights::Shared, true, 20, 4),
      small_config(Arch::MLP, Weights::PerLayer, false, 30, 2),
      small_config(Arch::ResNet, Weights::Shared, false, 33, 3),
      small_config(Arch::ResNet, Weights::PerLayer, false, 29, 3),
      small_config(Arch::MLP, Weights::Shared, false, 18, 3),
  };
}

std::string temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

// ---------------------------------------------------------------------------
// Rounding and saturation
// ---------------------------------------------------------------------------

#if defined(__SIZEOF_INT128__)  // the exact reference needs 128-bit integers (none on 32-bit machines)
TEST(FixedPoint, RoundShiftRightTiesAwayFromZero) {
  EXPECT_EQ(round_shift_right(5, 1), 3);    // 2.5
  EXPECT_EQ(round_shift_right(-5, 1), -3);  // -2.5
  EXPECT_EQ(round_shift_right(3, 1), 2);    // 1.5
  EXPECT_EQ(round_shift_right(-3, 1), -2);
  EXPECT_EQ(round_shift_right(5, 2), 1);  // 1.25
  EXPECT_EQ(round_shift_right(-5, 2), -1);
  EXPECT_EQ(round_shift_right(6, 2), 2);  // 1.5
  EXPECT_EQ(round_shift_right(-6, 2), -2);
  EXPECT_EQ(round_shift_right(-1, 1), -1);  // -0.5
  EXPECT_EQ(round_shift_right(1, 2), 0);    // 0.25
  EXPECT_EQ(round_shift_right(INT64_MAX, 63), 1);
  EXPECT_EQ(round_shift_right(INT64_MIN, 63), -1);
  EXPECT_EQ(round_shift_right(INT64_MIN, 1), INT64_MIN / 2);
  Rng rng(7);
  for (int i = 0; i < 20000; ++i) {
    const int64_t v = int64_t(rng.next_u64());
    const int shift = 1 + int(rng.below(63));
    ASSERT_EQ(round_shift_right(v, shift), reference_round(v, shift)) << v << " >> " << shift;
  }
}
#endif

TEST(FixedPoint, SaturationAtTheLimits) {
  EXPECT_EQ(saturate_i32(int64_t(INT32_MAX) + 1), INT32_MAX);
  EXPECT_EQ(saturate_i32(int64_t(INT32_MIN) - 1), INT32_MIN);
  EXPECT_EQ(saturate_i32(-5), -5);
  EXPECT_EQ(saturate_i16(32768), 32767);
  EXPECT_EQ(saturate_i16(-32769), -32768);
  EXPECT_EQ(saturate_i16(-32768), -32768);
  EXPECT_EQ(saturate_i8_symmetric(128), 127);
  EXPECT_EQ(saturate_i8_symmetric(-128), -127);  // the symmetric range never yields -128
  EXPECT_EQ(add_saturate(INT32_MAX, 1), INT32_MAX);
  EXPECT_EQ(add_saturate(INT32_MIN, -1), INT32_MIN);
}

#if defined(__SIZEOF_INT128__)  // the exact reference needs 128-bit integers (none on 32-bit machines)
TEST(FixedPoint, RescaleMatchesExactArithmetic) {
  Rng rng(11);
  for (int i = 0; i < 20000; ++i) {
    const int32_t value = int32_t(uint32_t(rng.next_u64()));
    const int32_t mult = int32_t((uint32_t(rng.next_u64()) >> 1) | (1u << 30));  // [2^30, 2^31)
    const int shift = int(rng.below(80)) - 10;                                   // -10 .. 69
    const __int128 p = __int128(value) * mult;
    int64_t expected;
    if (shift >= 63)
      expected = 0;
    else if (shift > 0)
      expected = reference_round(p, shift);
    else {
      const __int128 q = p * (__int128(1) << -shift);
      expected = q > INT32_MAX ? INT32_MAX : q < INT32_MIN ? INT32_MIN : int64_t(q);
    }
    expected = std::max<int64_t>(INT32_MIN, std::min<int64_t>(INT32_MAX, expected));
    ASSERT_EQ(rescale(value, mult, shift), expected) << value << " * " << mult << " >> " << shift;
  }
  EXPECT_EQ(rescale(3, 1 << 30, -40), INT32_MAX);
  EXPECT_EQ(rescale(-3, 1 << 30, -40), INT32_MIN);
}
#endif

TEST(FixedPoint, QFormatTypesRoundAndSaturate) {
  EXPECT_EQ(Q0_15::from_real(0.5).raw, 16384);
  EXPECT_EQ(Q0_15::from_real(1.0).raw, 32767);  // saturates: 1 is not representable
  EXPECT_EQ(Q0_15::from_real(-1.0).raw, -32768);
  EXPECT_EQ(Q0_15::from_real(-2.0).raw, -32768);
  EXPECT_EQ(Q0_15::from_real(1.5 / 32768).raw, 2);  // tie away from zero
  EXPECT_EQ(Q0_15::from_real(-1.5 / 32768).raw, -2);
  EXPECT_EQ(Q0_15::from_real(std::nan("")).raw, 0);
  EXPECT_EQ(Q15_16::from_real(-0.75).raw, -49152);
  EXPECT_DOUBLE_EQ(Q19_12::from_raw(6144).to_real(), 1.5);
  // Multiplication rounds back to the format.
  EXPECT_EQ((Q15_16::from_real(1.5) * Q15_16::from_real(-2.25)).raw, Q15_16::from_real(-3.375).raw);
  EXPECT_EQ((Q0_15::from_raw(3) * Q0_15::from_raw(16384)).raw, 2);  // 1.5 units -> 2
  // Addition saturates.
  EXPECT_EQ((Q0_15::from_raw(30000) + Q0_15::from_raw(30000)).raw, 32767);
  // Conversions round (narrower) and saturate (wider range needed).
  EXPECT_EQ(Q15_16::from_raw(3).to<Q19_12>().raw, 0);        // 3/65536 = 0.1875/4096
  EXPECT_EQ(Q15_16::from_raw(24).to<Q19_12>().raw, 2);       // 1.5 units -> 2
  EXPECT_EQ(Q15_16::from_real(2.0).to<Q0_15>().raw, 32767);  // out of range
  EXPECT_EQ(Q19_12::from_real(-0.25).to<Q15_16>().raw, -16384);
}

// ---------------------------------------------------------------------------
// The tables
// ---------------------------------------------------------------------------

// Every Q19.12 input in [-20, 20]: the Q0.15 logistic is within one unit (2^-15) of the exact
// value; the measured maximum is recorded.
TEST(FixedPoint, LogisticTableErrorBelowOneUnit) {
  double worst = 0, worst_q16 = 0;
  int previous = -1;
  for (int32_t z = -20 * 4096; z <= 20 * 4096; ++z) {
    const double exact = 1.0 / (1.0 + std::exp(-double(z) / 4096));
    const int16_t y = sigmoid_q15(z);
    ASSERT_GE(y, previous) << "not monotonic at z = " << z;
    previous = y;
    worst = std::max(worst, std::fabs(y / 32768.0 - exact));
    const int32_t z16 = z * 16;  // the same value in Q15.16
    worst_q16 = std::max(worst_q16, std::fabs(sigmoid_q16(z16) / 65536.0 - exact));
  }
  RecordProperty("max_error_q15_units", std::to_string(worst * 32768));
  RecordProperty("max_error_q16_units", std::to_string(worst_q16 * 65536));
  EXPECT_LT(worst, 1.0 / 32768);      // the stated bound: below one Q0.15 unit
  EXPECT_GT(worst, 0.3 / 32768);      // and not vacuous (the final rounding alone is 1/2 unit)
  EXPECT_LT(worst_q16, 1.5 / 65536);  // Q15.16 output: interpolation + rounding
  EXPECT_EQ(sigmoid_q15(INT32_MAX), 32767);
  EXPECT_EQ(sigmoid_q15(INT32_MIN), 0);
  EXPECT_EQ(sigmoid_q15(0), 16384);
  for (int32_t z = 1; z < 16 * 4096; z += 7) ASSERT_EQ(sigmoid_q24(z, 12) + sigmoid_q24(-z, 12), 1 << 24);
}

TEST(FixedPoint, ExpTableError) {
  double worst = 0;
  for (int32_t a = 0; a <= 30 * 65536; a += 37) {
    const double exact = std::exp(-double(a) / 65536);
    worst = std::max(worst, std::fabs(exp_neg_q30(a) / 1073741824.0 - exact));
  }
  RecordProperty("max_error", std::to_string(worst));
  EXPECT_LT(worst, 2.5e-6);
  EXPECT_EQ(exp_neg_q30(0), 1 << 30);
  EXPECT_EQ(exp_neg_q30(-5), 1 << 30);
}

// ---------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------

// int16 inputs in [-32767, 32767], bytes in [0, 255].
template <class In>
In random_input(Rng& rng, bool extreme) {
  if constexpr (sizeof(In) == 1)
    return In(extreme ? 255 : rng.below(256));
  else
    return In(extreme ? (rng.below(2) ? 32767 : -32767) : int(rng.below(65535)) - 32767);
}

template <class In>
void check_int_matmul_against_naive_loops() {
  Rng rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    const int S = 1 + int(rng.below(7)), M = 1 + int(rng.below(40)), K = 1 + int(rng.below(70));
    std::vector<In> x(size_t(S) * K);
    std::vector<int8_t> w(size_t(M) * K);
    for (auto& v : x) v = random_input<In>(rng, false);
    for (auto& v : w) v = int8_t(int(rng.below(255)) - 127);
    std::vector<int32_t> acc(size_t(S) * M);
    int_matmul(S, M, K, x.data(), K, w.data(), K, acc.data(), M);
    for (int s = 0; s < S; ++s)
      for (int i = 0; i < M; ++i) {
        int64_t sum = 0;
        for (int j = 0; j < K; ++j) sum += int64_t(x[size_t(s) * K + j]) * w[size_t(i) * K + j];
        ASSERT_EQ(acc[size_t(s) * M + i], sum);
      }
  }
}

TEST(FixedPoint, IntMatmulMatchesNaiveLoops) {
  check_int_matmul_against_naive_loops<int16_t>();
  check_int_matmul_against_naive_loops<uint8_t>();
}

// M x K int8 weights, every row's sum |q| within kMaxRowL1; at the extreme, +-127 until a row
// reaches the bound (then zeros).
std::vector<int8_t> random_weights(Rng& rng, int M, int K, bool extreme) {
  std::vector<int8_t> w(size_t(M) * K);
  for (int i = 0; i < M; ++i) {
    long l1 = 0;
    for (int j = 0; j < K; ++j) {
      int v = extreme ? (rng.below(2) ? 127 : -127) : int(rng.below(255)) - 127;
      if (l1 + std::abs(v) > kMaxRowL1) v = 0;
      l1 += std::abs(v);
      w[size_t(i) * K + j] = int8_t(v);
    }
  }
  return w;
}

// The SIMD kernel on packed weights gives the plain kernel's integers bit for bit, on awkward
// shapes and at the exactness limit (rows with sum |q| = 65535 against inputs of +-32767 or 255).
template <class In>
void check_simd_kernel_against_plain() {
  Rng rng(5);
  for (int trial = 0; trial < 40; ++trial) {
    const bool extreme = trial % 4 == 0;
    const int S = 1 + int(rng.below(21)), M = 1 + int(rng.below(70)), K = extreme ? 600 : 1 + int(rng.below(300));
    const int ldx = (K + 3) / 4 * 4;
    std::vector<In> x(size_t(S) * ldx, 0);
    for (int s = 0; s < S; ++s)
      for (int j = 0; j < K; ++j) x[size_t(s) * ldx + j] = random_input<In>(rng, extreme);
    const std::vector<int8_t> w = random_weights(rng, M, K, extreme);
    std::vector<int32_t> plain(size_t(S) * M), simd(size_t(S) * M, -1);
    int_matmul(S, M, K, x.data(), ldx, w.data(), K, plain.data(), M);
    const PackedMatrix packed = pack_matrix<In>(w.data(), M, K);
    int_matmul_packed(S, packed, x.data(), ldx, simd.data(), M);
    ASSERT_EQ(simd, plain) << "S " << S << " M " << M << " K " << K << " input bytes " << sizeof(In);
  }
}

TEST(FixedPoint, SimdKernelEqualsPlainKernel) {
  RecordProperty("kernel", kIntKernel);
  check_simd_kernel_against_plain<int16_t>();
  check_simd_kernel_against_plain<uint8_t>();
  // Weights packed for one input type are refused by the other's product.
  const std::vector<int8_t> w(8 * 8, 1);
  const std::vector<int16_t> x(8, 1);
  std::vector<int32_t> acc(8);
  if (group_size<uint8_t>() != group_size<int16_t>()) {
    EXPECT_THROW(int_matmul_packed(1, pack_matrix<uint8_t>(w.data(), 8, 8), x.data(), 8, acc.data(), 8), Error);
  }
}

// The device layout (a firmware's weights) holds every weight once, at panel p = i / 4, group
// k = j / 8, row i % 4, place j % 8, and zeros elsewhere; the device product on it (the kernel
// this build selects: plain C++ on the host; make mcu checks the Cortex-M ones on the device)
// gives int_matvec's integers on awkward shapes and at the exactness limit.
template <class In>
void check_device_product_against_plain() {
  Rng rng(8);
  for (int trial = 0; trial < 40; ++trial) {
    const bool extreme = trial % 4 == 0;
    const int M = 1 + int(rng.below(70)), K = extreme ? 600 : 1 + int(rng.below(300));
    std::vector<In> x(static_cast<size_t>(K));
    for (auto& v : x) v = random_input<In>(rng, extreme);
    const std::vector<int8_t> w = random_weights(rng, M, K, extreme);
    const int panels = (M + 3) / 4, groups = (K + 7) / 8;
    ASSERT_EQ(device_weights_size(M, K), size_t(panels) * groups * 32);
    std::vector<int8_t> packed(device_weights_size(M, K), -1);  // padding left at -1 would show
    pack_device_weights(w.data(), M, K, 1, packed.data());
    std::vector<int8_t> expected(packed.size(), 0);
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < K; ++j)
        expected[size_t(i / 4) * groups * 32 + size_t(j / 8) * 32 + size_t(i % 4) * 8 + size_t(j % 8)] =
            w[size_t(i) * K + j];
    ASSERT_EQ(packed, expected) << "M " << M << " K " << K;
    std::vector<int32_t> plain(static_cast<size_t>(M)), device(static_cast<size_t>(M), -1);
    std::vector<int16_t> scratch(static_cast<size_t>(K));
    int_matvec(M, K, w.data(), x.data(), plain.data());
    int_matvec_device(M, K, packed.data(), x.data(), device.data(), scratch.data());
    ASSERT_EQ(device, plain) << "M " << M << " K " << K << " input bytes " << sizeof(In);
  }
}

TEST(FixedPoint, DeviceLayoutProductEqualsPlainKernel) {
  RecordProperty("kernel", kDeviceKernel);
  check_device_product_against_plain<int16_t>();
  check_device_product_against_plain<uint8_t>();
  // Stacked blocks: each block's layout follows the one before.
  const int8_t w[2 * 3 * 2] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<int8_t> packed(2 * device_weights_size(3, 2));
  pack_device_weights(w, 3, 2, 2, packed.data());
  EXPECT_EQ(packed[32 + 8 * 2 + 1], 12);  // block 2, row 2, column 1
}

// A net whose weights are in the device layout (as an exported C header's) runs through
// quant_forward to the same bits as the same net row-major, for every kind of network.
TEST(FixedPoint, DeviceLayoutNetEqualsRowMajorNet) {
  for (const Config& cfg : every_kind_of_net()) {
    const QuantizedModel q = quantize(random_net(cfg, 31));
    auto packed = [](const QuantizedModel::Matrix& m) {
      std::vector<int8_t> out(device_weights_size(m.rows, m.cols) * size_t(m.count));
      pack_device_weights(m.weights.data(), m.rows, m.cols, m.count, out.data());
      return out;
    };
    const std::vector<int8_t> stem = packed(q.stem), classifier = packed(q.classifier), blocks = packed(q.blocks);
    const QuantNet rows = q.view();
    QuantNet device = rows;
    device.stem.weights = stem.data();
    device.classifier.weights = classifier.data();
    device.blocks.weights = blocks.data();
    device.stem.device_layout = device.classifier.device_layout = device.blocks.device_layout = true;
    EXPECT_THROW(QuantRunner{device}, Error);
    const QuantBufferSizes sizes = quant_buffer_sizes(cfg);
    std::vector<int32_t> state(size_t(sizes.state)), acc(size_t(sizes.acc)), sums(size_t(sizes.sums));
    std::vector<int16_t> input(size_t(sizes.input));
    std::vector<uint8_t> bytes(size_t(sizes.bytes));
    const QuantBuffers buffers{state.data(), input.data(), bytes.data(), acc.data(), sums.data()};
    const std::vector<uint8_t> px = random_pixels(8, cfg.input, 32);
    for (int s = 0; s < 8; ++s) {
      std::vector<int32_t> want(size_t(cfg.classes)), got(size_t(cfg.classes));
      ASSERT_TRUE(quant_forward(rows, px.data() + size_t(s) * cfg.input, 0, buffers, want.data()));
      const std::vector<int32_t> want_state = state;
      ASSERT_TRUE(quant_forward(device, px.data() + size_t(s) * cfg.input, 0, buffers, got.data()));
      ASSERT_EQ(got, want) << "width " << cfg.width << " sample " << s;
      ASSERT_EQ(state, want_state);
    }
  }
}

TEST(FixedPoint, BytesAndRunningSums) {
  // to_byte(y) = round(y * 255 / 32768), halves up.
  EXPECT_EQ(to_byte(0), 0);
  EXPECT_EQ(to_byte(16384), 128);  // 127.5
  EXPECT_EQ(to_byte(32767), 255);
  for (int32_t y = 0; y <= 32767; ++y) ASSERT_EQ(to_byte(y), int(std::floor(y * 255.0 / 32768 + 0.5))) << y;
  // The running sums saturate instead of wrapping.
  int32_t running[3] = {INT32_MAX - 5, INT32_MIN + 5, 7};
  const int32_t acc[3] = {10, -10, -9};
  add_sums(running, acc, 3);
  EXPECT_EQ(running[0], INT32_MAX);
  EXPECT_EQ(running[1], INT32_MIN);
  EXPECT_EQ(running[2], -2);
}

// The vectorised per-element work (narrowing, rescaling, logistic, residual update) equals the
// scalar functions bit for bit, at the extremes too: any sums, biases and states, and row shifts
// inside and outside the range the vector code takes.
TEST(FixedPoint, SimdEpilogueEqualsScalar) {
  RecordProperty("epilogue", kEpilogue);
  Rng rng(21);
  auto any_i32 = [&rng] { return int32_t(uint32_t(rng.next_u64())); };
  for (int trial = 0; trial < 300; ++trial) {
    const int rows = 1 + int(rng.below(70));
    const size_t n = static_cast<size_t>(rows);
    std::vector<int32_t> acc(n), mult(n), bias(n), state(n);
    std::vector<int8_t> shift(n);
    const bool unusual = trial % 5 == 0;
    for (int i = 0; i < rows; ++i) {
      acc[size_t(i)] = trial % 3 == 0 ? any_i32() : int32_t(rng.below(2000000)) - 1000000;
      mult[size_t(i)] = rng.below(10) == 0 ? 0 : int32_t((uint32_t(rng.next_u64()) >> 1) | (1u << 30));
      shift[size_t(i)] = int8_t(unusual ? rng.below(128) : 20 + rng.below(40));
      bias[size_t(i)] = trial % 4 == 0 ? any_i32() : int32_t(rng.below(200000)) - 100000;
      state[size_t(i)] = trial % 6 == 0 ? INT32_MAX - int32_t(rng.below(40000)) : int32_t(rng.below(1 << 26));
    }
    const QuantMatrix m{nullptr, mult.data(), shift.data(), bias.data(), rows, 1};
    const int input_frac = int(rng.below(16));
    for (bool residual : {true, false}) {
      std::vector<int32_t> scalar = state, simd = state;
      std::vector<uint8_t> scalar_bytes(n, 1), simd_bytes(n, 2);
      activate_rows(m, acc.data(), input_frac, residual, scalar.data(), scalar_bytes.data());
      activate_rows_fast(m, acc.data(), input_frac, residual, simd.data(), simd_bytes.data());
      ASSERT_EQ(simd, scalar) << "trial " << trial;
      ASSERT_EQ(simd_bytes, scalar_bytes) << "trial " << trial;
      activate_rows_fast(m, acc.data(), input_frac, residual, simd.data());  // without bytes
      activate_rows(m, acc.data(), input_frac, residual, scalar.data());
      ASSERT_EQ(simd, scalar) << "trial " << trial;
    }
    std::vector<int32_t> scalar_sums = state, simd_sums = state;
    add_sums(scalar_sums.data(), acc.data(), rows);
    add_sums_fast(simd_sums.data(), acc.data(), rows);
    ASSERT_EQ(simd_sums, scalar_sums) << "trial " << trial;
    std::vector<int32_t> x(n);
    for (auto& v : x) v = trial % 2 ? any_i32() : int32_t(rng.below(1 << 25));
    x[0] = trial % 7 == 0 ? INT32_MIN : x[0];
    ASSERT_EQ(state_shift_fast(x.data(), rows), state_shift(x.data(), rows));
    for (int sh : {0, 1, 5, state_shift(x.data(), rows), 30}) {
      std::vector<int16_t> a(n), b(n);
      narrow_state(x.data(), rows, sh, a.data());
      narrow_state_fast(x.data(), rows, sh, b.data());
      ASSERT_EQ(a, b) << "shift " << sh;
    }
  }
}

// ---------------------------------------------------------------------------
// The integer forward pass
// ---------------------------------------------------------------------------

// The integer pass of one image written out step by step from the formats of section 4 of
// the header (its own loops, not the header's shared steps): what both passes must equal.
void naive_quant_forward(const QuantNet& net, const uint8_t* pixels, int depth, std::vector<int32_t>& x,
                         std::vector<int32_t>& logits) {
  const Config& cfg = net.config;
  const int N = cfg.width;
  if (depth <= 0) depth = cfg.depth;
  const bool bytes = layers_read_bytes(cfg), resnet = cfg.arch == Arch::ResNet;
  const size_t n = size_t(N);
  std::vector<int32_t> acc(size_t(std::max(N, cfg.classes))), sums(n);
  std::vector<uint8_t> y_bytes(n);
  std::vector<int16_t> narrow(n);
  auto narrowed = [&] {  // x as int16 input: shifted by the fewest bits that make it fit
    const int sh = state_shift(x.data(), N);
    for (int i = 0; i < N; ++i)
      narrow[size_t(i)] = saturate_i16(sh ? round_shift_right(x[size_t(i)], sh) : x[size_t(i)]);
    return sh;
  };
  x.assign(n, 0);
  if (cfg.stem) {
    int_matmul(1, N, cfg.input, pixels, cfg.input, net.stem.weights, cfg.input, acc.data(), N);
    for (int i = 0; i < N; ++i) {
      x[size_t(i)] = sigmoid_q15(preactivation(net.stem, i, acc[size_t(i)], 0));
      y_bytes[size_t(i)] = to_byte(x[size_t(i)]);
    }
  } else {
    for (int i = 0; i < N; ++i) x[size_t(i)] = pixel_q15(pixels[i]);
    std::copy(pixels, pixels + N, y_bytes.begin());
  }
  for (int t = 1; t <= depth; ++t) {
    const QuantMatrix W = net.block(t <= cfg.depth ? t : 1);
    int frac = 0;
    if (bytes) {
      int_matmul(1, N, N, y_bytes.data(), N, W.weights, N, acc.data(), N);
    } else {
      frac = kStateFrac - narrowed();
      int_matmul(1, N, N, narrow.data(), N, W.weights, N, acc.data(), N);
    }
    for (int i = 0; i < N; ++i) {
      const size_t k = size_t(i);
      if (bytes && resnet) sums[k] = t == 1 ? acc[k] : add_saturate(sums[k], acc[k]);  // W x(t-1) = W x(t-2) + W y(t-1)
      const int32_t y = sigmoid_q15(preactivation(W, i, bytes && resnet ? sums[k] : acc[k], frac));
      x[k] = resnet ? add_saturate(x[k], y) : y;
      y_bytes[k] = to_byte(y);
    }
  }
  const int frac = kStateFrac - narrowed();
  int_matmul(1, cfg.classes, N, narrow.data(), N, net.classifier.weights, N, acc.data(), cfg.classes);
  logits.resize(size_t(cfg.classes));
  for (int k = 0; k < cfg.classes; ++k) logits[size_t(k)] = preactivation(net.classifier, k, acc[size_t(k)], frac);
}

// The host's batched SIMD pass on two threads equals the freestanding one-sample pass exactly,
// logits and final states, for every kind of network (ResNet and MLP, shared and per-layer,
// with a stem and without), at the trained depth, shallower (per-layer) and unrolled
// (shared), on batches that fill no, one, or more than one of the runner's 64-image tasks.
TEST(FixedPoint, BatchedPassEqualsOneSamplePass) {
  for (const Config& cfg : every_kind_of_net()) {
    const QuantizedModel q = quantize(random_net(cfg, 17));
    ASSERT_EQ(quantized_model_problem(q), nullptr);
    const QuantNet net = q.view();
    const QuantRunner runner(net);
    for (int count : {1, 63, 64, 65, 130}) {
      const std::vector<uint8_t> px = random_pixels(count, cfg.input, 23 + uint64_t(count));
      for (int depth : {0, cfg.weights == Weights::Shared ? 40 : 1}) {
        SCOPED_TRACE("width " + std::to_string(cfg.width) + " batch " + std::to_string(count) + " depth " +
                     std::to_string(depth));
        std::vector<int32_t> logits(size_t(count) * cfg.classes), states(size_t(count) * cfg.width);
        runner.run(px.data(), count, depth, 2, logits.data(), states.data());
        const QuantBufferSizes sizes = quant_buffer_sizes(cfg);
        std::vector<int32_t> state(size_t(sizes.state)), acc(size_t(sizes.acc)), sums(size_t(sizes.sums)),
            one(size_t(cfg.classes));
        std::vector<int16_t> input(size_t(sizes.input));
        std::vector<uint8_t> bytes(size_t(sizes.bytes));
        const QuantBuffers buffers{state.data(), input.data(), bytes.data(), acc.data(), sums.data()};
        std::vector<int32_t> naive_state, naive_logits;
        for (int s = 0; s < count; ++s) {
          ASSERT_TRUE(quant_forward(net, px.data() + size_t(s) * cfg.input, depth, buffers, one.data()));
          for (int k = 0; k < cfg.classes; ++k) ASSERT_EQ(one[size_t(k)], logits[size_t(s) * cfg.classes + k]);
          for (int i = 0; i < cfg.width; ++i) ASSERT_EQ(state[size_t(i)], states[size_t(s) * cfg.width + i]);
          if (s % 16 == 0) {  // and both equal the pass written out here
            naive_quant_forward(net, px.data() + size_t(s) * cfg.input, depth, naive_state, naive_logits);
            ASSERT_EQ(naive_logits, one);
            ASSERT_EQ(naive_state, state);
          }
        }
      }
    }
  }
  // A per-layer net cannot be unrolled: the freestanding pass refuses instead of reading past its weights.
  const Config per_layer = small_config(Arch::ResNet, Weights::PerLayer, true, 8, 2);
  const QuantizedModel q = quantize(random_net(per_layer, 1));
  std::vector<int32_t> state(8), acc(10), sums(8), logits(10);
  std::vector<int16_t> input(8);
  std::vector<uint8_t> bytes(8);
  const std::vector<uint8_t> px(784, 9);
  EXPECT_FALSE(quant_forward(q.view(), px.data(), 3,
                             {state.data(), input.data(), bytes.data(), acc.data(), sums.data()}, logits.data()));
}

// Largest |integer - float| of the logits as a fraction of the float logits' spread, and of the
// final states as a fraction of each sample's largest |x_i|.
struct Deviation {
  double logits = 0, states = 0;
  int disagreements = 0;  // samples whose predicted class differs
  double largest_state = 0;
};

Deviation compare_with_float(const QuantizedModel& q, const Net<float>& reference, const std::vector<uint8_t>& px,
                             int count, int depth) {
  const Config& cfg = q.config;
  std::vector<int32_t> logits(size_t(count) * cfg.classes), states(size_t(count) * cfg.width);
  QuantRunner(q.view()).run(px.data(), count, depth, 1, logits.data(), states.data());
  Trace<float> trace;
  set_input(trace, px.data(), count, cfg.input);
  ForwardOptions<float> opt;
  opt.depth = depth;
  opt.keep_all = false;
  forward(reference, trace, opt);
  Deviation d;
  double lo = 1e30, hi = -1e30;
  for (size_t i = 0; i < logits.size(); ++i) {
    d.logits = std::max(d.logits, std::fabs(logits[i] / 4096.0 - trace.logits[i]));
    lo = std::min(lo, double(trace.logits[i]));
    hi = std::max(hi, double(trace.logits[i]));
  }
  d.logits /= hi - lo;
  const float* x = trace.state(depth);
  for (int s = 0; s < count; ++s) {
    double diff = 0, top = 0;
    for (int i = 0; i < cfg.width; ++i) {
      const size_t k = size_t(s) * cfg.width + size_t(i);
      diff = std::max(diff, std::fabs(states[k] / 32768.0 - x[k]));
      top = std::max(top, double(std::fabs(x[k])));
    }
    d.states = std::max(d.states, diff / top);
    d.largest_state = std::max(d.largest_state, top);
    d.disagreements += argmax_row(&logits[size_t(s) * cfg.classes], cfg.classes) !=
                       argmax_row(&trace.logits[size_t(s) * cfg.classes], cfg.classes);
  }
  return d;
}

// Integer against float on random shared ResNets, at 15 layers and unrolled to 1000 (where x(T)
// reaches about a thousand: the Q16.15 accumulation must not saturate). Against the dequantized
// net (the integer arithmetic alone, mostly the layers' inputs rounded to bytes: steps of 1/255)
// the stated bounds are logits within 0.2% of their spread and states within 1% of their
// largest entry, at both depths (measured: about a third); against the original float net
// (weight rounding included, which dominates) logits within 2% and states within 5% (15) and
// 10% (1000) (measured: about a tenth). The values are in the test's RecordProperty output.
TEST(FixedPoint, QuantizedLogitsCloseToFloat) {
  const Config cfg = small_config(Arch::ResNet, Weights::Shared, true, 64, 15);
  const int count = 64;
  const std::vector<uint8_t> px = random_pixels(count, cfg.input, 31);
  struct Case {
    int depth;
    double block_scale, arithmetic_logits, arithmetic_states, total_logits, total_states;
  };
  for (const Case& c : {Case{15, 2.0, 2e-3, 1e-2, 0.02, 0.05}, Case{1000, 1.0, 2e-3, 1e-2, 0.02, 0.1}}) {
    const Net<float> net = random_net(cfg, 29, c.block_scale);
    const QuantizedModel q = quantize(net);
    const Deviation arithmetic = compare_with_float(q, dequantized(q), px, count, c.depth);
    const Deviation total = compare_with_float(q, net, px, count, c.depth);
    const std::string tag = "depth_" + std::to_string(c.depth);
    RecordProperty(tag + "_arithmetic_logits", std::to_string(arithmetic.logits));
    RecordProperty(tag + "_arithmetic_states", std::to_string(arithmetic.states));
    RecordProperty(tag + "_total_logits", std::to_string(total.logits));
    RecordProperty(tag + "_total_states", std::to_string(total.states));
    EXPECT_LT(arithmetic.logits, c.arithmetic_logits) << tag;
    EXPECT_LT(arithmetic.states, c.arithmetic_states) << tag;
    EXPECT_EQ(arithmetic.disagreements, 0) << tag;
    EXPECT_LT(total.logits, c.total_logits) << tag;
    EXPECT_LT(total.states, c.total_states) << tag;
    EXPECT_GT(arithmetic.largest_state, c.depth / 4.0) << tag;  // x(T) really grew with T
  }
}

// Quantization keeps every row within the bound that makes the int32 sums exact, also for a
// row whose int8 image at the plain scale would break it (all weights equal and large).
TEST(FixedPoint, QuantizationKeepsRowSumBound) {
  Config cfg = small_config(Arch::ResNet, Weights::Shared, true, 16, 2);
  Net<float> net = random_net(cfg, 3);
  for (int j = 0; j < cfg.input; ++j) net.P()[j] = 0.8f;                   // row 0 of the stem: 784 * 127 > 65535
  for (int j = 0; j < cfg.input; ++j) net.P()[size_t(cfg.input) + j] = 0;  // row 1: all zero
  const QuantizedModel q = quantize(net);
  EXPECT_EQ(quantized_model_problem(q), nullptr);
  long l1 = 0;
  for (int j = 0; j < cfg.input; ++j) l1 += std::abs(int(q.stem.weights[size_t(j)]));
  EXPECT_LE(l1, kMaxRowL1);
  EXPECT_GT(l1, kMaxRowL1 - 2 * cfg.input);  // grown only as far as needed
  EXPECT_EQ(q.stem.mult[1], 0);
  // The row still means what it meant: q * mult * 2^-shift * 255 ~ 0.8.
  const double real = q.stem.weights[0] * double(q.stem.mult[0]) * std::ldexp(1.0, -q.stem.shift[0]) * 255;
  EXPECT_NEAR(real, 0.8, 0.8 * 0.02);
}

// A trained small net on real MNIST (one epoch): int8 changes the test error by at most half a point.
TEST(FixedPoint, QuantizedMnistAccuracyMatchesFloat) {
  const Dataset train = load_mnist(test_paths::mnist_dir(), true);
  const Dataset test = first_samples(load_mnist(test_paths::mnist_dir(), false), 3000);
  Config cfg = small_config(Arch::ResNet, Weights::Shared, true, 64, 4);
  Net<float> net(cfg);
  Rng rng(1);
  initialise(net, rng);
  TrainOptions opt;
  opt.epochs = 1;
  opt.optimizer.lr = 2e-3;
  opt.threads = 2;
  Trainer<float> trainer(net, train, opt);
  for (int e = 0; e < opt.epochs; ++e) trainer.train_epoch();
  const Evaluation f = evaluate(net, test, 2);
  const Evaluation q = quant::evaluate_quantized(quantize(net), test, 2);
  RecordProperty("float_error", std::to_string(f.error));
  RecordProperty("int8_error", std::to_string(q.error));
  EXPECT_LT(f.error, 0.12);
  EXPECT_LE(std::fabs(q.error - f.error), 0.005);
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

TEST(FixedPoint, QuantizedModelFileRoundTripAndDamage) {
  const Config cfg = small_config(Arch::ResNet, Weights::PerLayer, true, 12, 3);
  const QuantizedModel q = quantize(random_net(cfg, 8));
  const std::vector<uint8_t> bytes = quant::encode_quantized(q, "note");
  std::string meta;
  const QuantizedModel back = quant::decode_quantized(bytes.data(), bytes.size(), "m", &meta);
  EXPECT_EQ(meta, "note");
  EXPECT_EQ(back.blocks.weights, q.blocks.weights);
  EXPECT_EQ(back.blocks.mult, q.blocks.mult);
  EXPECT_EQ(back.blocks.shift, q.blocks.shift);
  EXPECT_EQ(back.stem.bias, q.stem.bias);
  EXPECT_EQ(back.classifier.weights, q.classifier.weights);
  EXPECT_EQ(back.config.depth, 3);
  std::vector<uint8_t> bad = bytes;
  bad[60] ^= 1;
  EXPECT_THROW(quant::decode_quantized(bad.data(), bad.size(), "m"), Error);
  EXPECT_THROW(quant::decode_quantized(bytes.data(), bytes.size() - 1, "m"), Error);
  bad = bytes;
  bad[0] = 'X';
  EXPECT_THROW(quant::decode_quantized(bad.data(), bad.size(), "m"), Error);
  const std::string dir = temp_dir("resdyn_qfile");
  quant::save_quantized(q, dir + "/q.rdq");
  save_model(random_net(cfg, 8), dir + "/f.resdyn");
  EXPECT_TRUE(quant::is_quantized_model_file(dir + "/q.rdq"));
  EXPECT_FALSE(quant::is_quantized_model_file(dir + "/f.resdyn"));
  EXPECT_FALSE(quant::is_quantized_model_file(dir + "/missing"));
  std::filesystem::remove_all(dir);
}

TEST(FixedPoint, NpyHeaderBytesAndData) {
  const int32_t ints[3] = {0x01020304, -1, 7};
  const std::vector<uint8_t> a = quant::encode_npy({3}, ints);
  const uint8_t magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  ASSERT_GE(a.size(), 10u);
  EXPECT_EQ(std::memcmp(a.data(), magic, 8), 0);
  const size_t header_len = a[8] | (a[9] << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  const std::string header(a.begin() + 10, a.begin() + 10 + long(header_len));
  EXPECT_EQ(header.rfind("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", 0), 0u) << header;
  EXPECT_EQ(header.back(), '\n');
  ASSERT_EQ(a.size(), 10 + header_len + 12);
  const uint8_t* data = a.data() + 10 + header_len;
  EXPECT_EQ(data[0], 0x04);
  EXPECT_EQ(data[3], 0x01);
  EXPECT_EQ(data[4], 0xFF);
  const float floats[6] = {1.0f, 0, 0, 0, 0, -2.0f};
  const std::vector<uint8_t> f = quant::encode_npy({2, 3}, floats);
  const size_t flen = f[8] | (f[9] << 8);
  EXPECT_NE(std::string(f.begin() + 10, f.begin() + 10 + long(flen)).find("'<f4'"), std::string::npos);
  EXPECT_NE(std::string(f.begin() + 10, f.begin() + 10 + long(flen)).find("'shape': (2, 3)"), std::string::npos);
  ASSERT_EQ(f.size(), 10 + flen + 24);
  const uint8_t one[4] = {0x00, 0x00, 0x80, 0x3F};
  EXPECT_EQ(std::memcmp(f.data() + 10 + flen, one, 4), 0);
  const int16_t shorts[2] = {-2, 3};
  const std::vector<uint8_t> s = quant::encode_npy({2}, shorts);
  const size_t slen = s[8] | (s[9] << 8);
  EXPECT_NE(std::string(s.begin() + 10, s.begin() + 10 + long(slen)).find("'<i2'"), std::string::npos);
  EXPECT_EQ(s[10 + slen], 0xFE);
  EXPECT_EQ(s[11 + slen], 0xFF);
  const int8_t bytes[1] = {-3};
  const std::vector<uint8_t> b = quant::encode_npy({1}, bytes);
  const size_t blen = b[8] | (b[9] << 8);
  EXPECT_NE(std::string(b.begin() + 10, b.begin() + 10 + long(blen)).find("'|i1'"), std::string::npos);
  EXPECT_EQ(b.back(), 0xFD);
}

// Every tensor the manifest lists is a well-formed .npy file whose size matches its shape.
TEST(FixedPoint, NpyExportFilesParse) {
  const Config cfg = small_config(Arch::ResNet, Weights::PerLayer, true, 10, 2);
  const Net<float> net = random_net(cfg, 4);
  const std::string dir = temp_dir("resdyn_npy");
  quant::export_npy(net, dir + "/float");
  quant::export_npy(quantize(net), dir + "/int8");
  struct Expect {
    std::string file, descr;
    size_t count, item;
  };
  const size_t N = 10, D = 784, C = 10, T = 2;
  const std::vector<Expect> expected = {
      {"float/stem_weights.npy", "<f4", N * D, 4}, {"float/layer_weights.npy", "<f4", T * N * N, 4},
      {"float/layer_bias.npy", "<f4", T * N, 4},   {"float/classifier_bias.npy", "<f4", C, 4},
      {"int8/stem_weights.npy", "|i1", N * D, 1},  {"int8/stem_mult.npy", "<i4", N, 4},
      {"int8/layer_shift.npy", "|i1", T * N, 1},   {"int8/layer_weights.npy", "|i1", T * N * N, 1},
      {"int8/classifier_bias.npy", "<i4", C, 4},
  };
  for (const Expect& e : expected) {
    const std::string bytes = read_text(dir + "/" + e.file);
    ASSERT_GT(bytes.size(), 10u) << e.file;
    EXPECT_EQ(bytes.compare(0, 6, "\x93NUMPY"), 0) << e.file;
    const size_t len = uint8_t(bytes[8]) | (uint8_t(bytes[9]) << 8);
    EXPECT_NE(bytes.substr(10, len).find("'" + e.descr + "'"), std::string::npos) << e.file;
    EXPECT_EQ(bytes.size(), 10 + len + e.count * e.item) << e.file;
  }
  const std::string layer = read_text(dir + "/float/layer_weights.npy");
  EXPECT_NE(layer.find("'shape': (2, 10, 10)"), std::string::npos);
  const std::string manifest = read_text(dir + "/int8/manifest.json");
  EXPECT_NE(manifest.find("\"quantized\": true"), std::string::npos) << manifest.substr(0, 200);
  EXPECT_NE(manifest.find("layer_mult.npy"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// The exported C header, with test digits, compiled by the system compiler as a freestanding
// program (no exceptions, no RTTI, -Werror) that includes only resdyn.h and the two generated
// headers; its output equals the host integer path's, line for line.
TEST(FixedPoint, ExportedCHeaderCompilesAndAgrees) {
  const std::string include = test_paths::include_dir();
  const Config cfg = small_config(Arch::ResNet, Weights::Shared, true, 16, 3);
  const QuantizedModel q = quantize(random_net(cfg, 12));
  Dataset digits;
  digits.count = 12;
  digits.rows = digits.cols = 28;
  digits.images = random_pixels(12, 784, 2);
  for (int i = 0; i < 12; ++i) digits.labels.push_back(uint8_t(i % 10));
  const std::string dir = temp_dir("resdyn_cheader");
  write_text_atomically(dir + "/model.h", quant::c_header_text(q));
  write_text_atomically(dir + "/digits.h", quant::digits_header_text(digits, 12));
  const std::string expected = quant::expected_results_text(q, digits, 12);
  write_text_atomically(dir + "/main.cpp", R"(#define RESDYN_FREESTANDING
#include "resdyn.h"
#include "model.h"
#include "digits.h"
#include <cstdio>
int32_t state[RESDYN_MODEL_WIDTH], acc[RESDYN_MODEL_WIDTH + RESDYN_MODEL_CLASSES], sums[RESDYN_MODEL_WIDTH];
int32_t logits[RESDYN_MODEL_CLASSES];
int16_t input[RESDYN_MODEL_INPUT > RESDYN_MODEL_WIDTH ? RESDYN_MODEL_INPUT : RESDYN_MODEL_WIDTH];  // quant_buffer_sizes
uint8_t bytes[RESDYN_MODEL_WIDTH];
int main() {
  const resdyn::QuantNet net = resdyn_model_net();
  int right = 0;
  uint32_t all = resdyn::fixed::checksum(nullptr, 0);
  for (int i = 0; i < RESDYN_DIGITS_COUNT; ++i) {
    if (!resdyn::quant_forward(net, resdyn_digit_pixels + i * RESDYN_DIGITS_PIXELS, 0, {state, input, bytes, acc, sums}, logits)) return 1;
    int p = 0;
    for (int k = 1; k < RESDYN_MODEL_CLASSES; ++k) if (logits[k] > logits[p]) p = k;
    right += p == resdyn_digit_labels[i];
    std::printf("digit %d label %d predicted %d logits", i, resdyn_digit_labels[i], p);
    for (int k = 0; k < RESDYN_MODEL_CLASSES; ++k) std::printf(" %d", int(logits[k]));
    std::printf(" state 0x%08x\n", unsigned(resdyn::fixed::checksum(state, RESDYN_MODEL_WIDTH)));
    all = resdyn::fixed::checksum(state, RESDYN_MODEL_WIDTH, all);
  }
  std::printf("accuracy %d/%d states 0x%08x\n", right, RESDYN_DIGITS_COUNT, unsigned(all));
  return 0;
}
)");
  const char* cxx_env = std::getenv("CXX");
  const std::string cxx = cxx_env ? cxx_env : "c++";
  const std::string build = cxx + " -std=c++17 -O1 -Wall -Wextra -Werror -fno-exceptions -fno-rtti -I'" + include +
                            "' -I'" + dir + "' '" + dir + "/main.cpp' -o '" + dir + "/prog' 2>'" + dir + "/build.log'";
  ASSERT_EQ(std::system(build.c_str()), 0) << read_text(dir + "/build.log");
  ASSERT_EQ(std::system(("'" + dir + "/prog' > '" + dir + "/out.txt'").c_str()), 0);
  EXPECT_EQ(read_text(dir + "/out.txt"), expected);
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------------------
// Training in Q15.16
// ---------------------------------------------------------------------------

// The integer backward pass against the float one (itself checked by finite differences in
// test_gradients): on the same small net and batch, the summed-loss gradients agree to within
// 1% of the largest gradient.
TEST(FixedPoint, FixedBackwardMatchesFloatBackward) {
  for (Arch arch : {Arch::ResNet, Arch::MLP})
    for (Weights weights : {Weights::Shared, Weights::PerLayer}) {
      const Config cfg = small_config(arch, weights, true, 12, 3);
      const Net<float> net = random_net(cfg, 40);
      const int B = 8;
      const std::vector<uint8_t> px = random_pixels(B, cfg.input, 41);
      std::vector<uint8_t> labels;
      for (int i = 0; i < B; ++i) labels.push_back(uint8_t(i % 10));
      Trace<float> trace;
      set_input(trace, px.data(), B, cfg.input);
      forward(net, trace);
      std::vector<float> grad(net.params.size());
      BackwardBuffers<float> buf;
      backward(net, trace, labels.data(), grad.data(), buf);
      const FixedNet fnet = to_fixed(net);
      FixedTrace ftrace;
      fixed_forward(fnet, px.data(), B, ftrace);
      FixedGradients fgrad;
      fixed_backward(fnet, ftrace, labels.data(), fgrad);
      double top = 0, worst = 0;
      for (size_t i = 0; i < grad.size(); ++i) top = std::max(top, std::fabs(double(grad[i]) * B));
      for (size_t i = 0; i < grad.size(); ++i)
        worst = std::max(worst, std::fabs(fgrad.grad[i] / 4294967296.0 - double(grad[i]) * B));
      EXPECT_LT(worst, 0.01 * top) << "arch " << int(arch) << " weights " << int(weights);
    }
}

// Stochastic rounding is unbiased: a step of a fifth of a Q15.16 unit, taken 5000 times, moves a
// weight by 1000 units on average (nearest rounding would not move it at all).
TEST(FixedPoint, StochasticRoundingMovesByTheExpectedAmount) {
  FixedNet net{small_config(Arch::ResNet, Weights::Shared, false, 4, 1), {}, std::vector<int32_t>(64, 0)};
  FixedSgd sgd(net.params.size(), 0.0, 99);
  // grad (Q.32) * lr / B: with lr = 1, B = 1, a gradient of 0.2 units of 2^-16 is 0.2 * 2^16.
  const std::vector<int64_t> grad(64, int64_t(0.2 * 65536));
  for (int step = 0; step < 5000; ++step) sgd.update(net, grad, 1.0, 1);
  double mean = 0;
  for (int32_t p : net.params) mean += -double(p) / 64;
  EXPECT_NEAR(mean, 1000, 15);  // binomial spread of the mean: sqrt(5000 * 0.16 / 64) ~ 3.5
}

// A short run on real data: training in Q15.16 reaches its float twin's test error (same net,
// initial weights, data order, SGD settings and budget) within 1 point.
TEST(FixedPoint, FixedPointTrainingTracksFloatTraining) {
  const Dataset train = first_samples(load_mnist(test_paths::mnist_dir(), true), 20000);
  const Dataset test = first_samples(load_mnist(test_paths::mnist_dir(), false), 2000);
  const Config cfg = small_config(Arch::ResNet, Weights::Shared, true, 32, 2);
  quant::FixedTrainOptions fopt;
  fopt.epochs = 1;
  fopt.lr = 0.2;
  double fixed_error = 1;
  const Net<float> trained =
      quant::train_fixed_point(cfg, train, test, fopt, [&](const quant::FixedEpoch& e) { fixed_error = e.test_error; });
  Net<float> twin(cfg);
  Rng rng(fopt.seed);
  initialise(twin, rng);
  TrainOptions opt;
  opt.epochs = fopt.epochs;
  opt.batch = fopt.batch;
  opt.seed = fopt.seed;
  opt.optimizer.kind = OptimizerKind::SGD;
  opt.optimizer.lr = fopt.lr;
  opt.optimizer.momentum = fopt.momentum;
  Trainer<float> trainer(twin, train, opt);
  for (int e = 0; e < opt.epochs; ++e) trainer.train_epoch();
  const double float_error = evaluate(twin, test, 1).error;
  RecordProperty("fixed_error", std::to_string(fixed_error));
  RecordProperty("float_error", std::to_string(float_error));
  EXPECT_LT(float_error, 0.15);
  EXPECT_LT(std::fabs(fixed_error - float_error), 0.01);
  // The returned float weights classify as the fixed-point net did (same weights, float arithmetic).
  EXPECT_NEAR(evaluate(trained, test, 1).error, fixed_error, 0.005);
}
