// resdyn.h — the numerical core of resdyn, in one header.
//
// WHAT IT IS
//   Everything needed to train and run the networks of the paper "Residual networks
//   classify inputs based on their neural transient dynamics" (Lagzi, arXiv 2101.03009):
//   dense sigmoid ResNets and their MLP twins, with one weight matrix shared by every layer
//   or one per layer, trained by hand-written backpropagation on MNIST-format (IDX) data,
//   and run in float or in integers (int8 weights, int32 sums) on a microcontroller.
//   Each section opens with the definitions it implements, citing the paper's own
//   numbering (§n, eq. n, fig. n, appendix A-C); the README's "Where the paper is in the
//   code" maps the paper to functions. Read it top to bottom: each section uses only the
//   ones above it.
//
// USING IT IN ANOTHER PROGRAM
//   Copy this file (or `make install`: pkg-config --cflags --libs resdyn). Exactly one
//   .cpp file of the program defines RESDYN_IMPLEMENTATION before including it: that unit
//   compiles the header's non-inline bodies and its float and double template instances;
//   every other unit just includes it. Build with -std=c++17 -pthread (-O3 -march=native
//   for speed). A whole program:
//
//     #define RESDYN_IMPLEMENTATION
//     #include "resdyn.h"
//     #include <cstdio>
//     int main() {
//       resdyn::Config cfg;  // a shared-weight ResNet with a stem, 784 inputs, 10 classes
//       cfg.width = 64;
//       cfg.depth = 5;
//       resdyn::Net<float> net(cfg);
//       resdyn::Rng rng(1);
//       resdyn::initialise(net, rng);
//       std::vector<uint8_t> image(784, 128);  // one grey 28 x 28 image
//       resdyn::Trace<float> trace;
//       resdyn::set_input(trace, image.data(), 1, cfg.input);
//       resdyn::forward(net, trace);
//       std::printf("class %d\n", resdyn::argmax_row(trace.logits.data(), cfg.classes));
//     }
//
//   The test suite compiles and runs this program as printed here (tests/test_header_config
//   .cpp); tests/library_example.cpp is a longer one, which trains a net before it predicts,
//   built against the installed header by `make check-install`.
//
// CONFIGURATION (define before including)
//   RESDYN_IMPLEMENTATION  In one translation unit: compile the non-inline parts there.
//   RESDYN_FREESTANDING    Only part A: what a microcontroller needs and can have. It
//                          compiles with -fno-exceptions -fno-rtti, includes no hosted
//                          library header and never allocates (all of it is inline, so a
//                          firmware needs no RESDYN_IMPLEMENTATION).
//   RESDYN_NO_FILES        Leave out part C (IDX, gzip, model and checkpoint files).
//   RESDYN_NO_TRAINING     Leave out backpropagation, the optimisers, the trainer and the
//                          pruner, and checkpoints (inference and evaluation stay).
//   RESDYN_NO_THREADS      One thread: the matrix routines run every task in the caller
//                          and <thread> is not included.
//   RESDYN_MAX_THREADS     Upper bound on worker threads of the matrix routines (default 64).
//   Kernels are chosen from the compiler's target macros (-march): AVX-512 or AVX2 with
//   FMA for float products; AMX-BF16 (__AMX_BF16__, Linux, asked of the system once per
//   process; bf16_kernel_name() tells) for bfloat16 ones; the portable loops otherwise.
//   RESDYN_KERNELS         Show the kernels' bodies (and include <immintrin.h> or <arm_neon.h>) in a unit
//                          that is not the implementation one: for tests of the kernels
//                          themselves. Elsewhere only the implementation unit (or a
//                          freestanding build) compiles them; other units link to it.
//
// KERNELS, chosen at compile time from the compiler's target macros (so by -march / -mcpu)
//   x86-64, AVX-512       GEMM on 12 x 32 float (6 x 16 double) register tiles with fused
//                         multiply-adds; integer products by vpdpbusd / vpdpwssd (with VNNI)
//                         or vpmaddwd; the integer epilogue on AVX-512 lanes.
//   x86-64, AVX2 + FMA    GEMM on 6 x 16 (6 x 8) tiles, fused; integer products by vpmaddwd.
//   AArch64, little-endian (every AArch64 CPU has Advanced SIMD): GEMM on 8 x 12 (6 x 8) tiles
//                         with fmla by element; integer products by SDOT where the compiler
//                         targets the dot product (__ARM_FEATURE_DOTPROD, e.g. -march=armv8.2-a
//                         +dotprod, Cortex-A55/A76 on), else by widening multiplies (smull).
//   Anything else         The portable kernels, which are the reference: 32-bit ARM (NEON
//                         there is not IEEE: flush-to-zero), s390x, RISC-V, x86 without -march.
//   Cortex-M builds (RESDYN_FREESTANDING) use section 4's integer code.
//   Every kernel sums each output over k in one fixed order, the same on any thread count.
//   The vector kernels round once per term (fused multiply-adds), so x86-64 and AArch64 sum
//   alike; the portable kernel's terms are fused or not as its compiler contracts them, so its
//   floats may differ from theirs in the last bits (tests/test_cross.cpp checks each kernel
//   against its definition). Every integer kernel gives the same integers.
//
// TEST FACILITY (environment, hosted builds)
//   RESDYN_CRASH_AT=NAME:COUNT[:int]  For crash tests only: the first time the moment NAME
//     is reached with a count of at least COUNT, the process names it on stderr and kills
//     itself with SIGKILL (with ":int" it raises SIGINT instead, a Ctrl-C at that moment),
//     so tests stop a run at a point of its progress, never of the clock. Moments
//     (crash_point, section 5): ROLE-bytes (a file being written; count: bytes in its
//     temporary file, 0 just after it is created, then after each buffer written),
//     ROLE-written (complete, closed, not yet renamed), ROLE-renamed (in place), where ROLE
//     is checkpoint, model or file (any other); `resdyn train` adds start (0), step (steps
//     done in the run, before that step's checkpoint), epoch (epochs done, after the
//     epoch's evaluation, before its checkpoint) and finished (model and log saved, the
//     checkpoint not yet removed).
//
// PARTS AND SECTIONS, in reading order
//   A. The freestanding core (no exceptions, no heap)
//     1. Scalars and randomness: the logistic function, a seeded generator (xoshiro256**).
//     2. Matrix kernels: C = alpha op(A) op(B) + beta C, packed and cache-blocked, by
//        register tiles whose every output sums in one fixed order; in float32, or in
//        bfloat16 (operands rounded, float sums in AMX's order: an AMX kernel where the
//        CPU and the system have it, a portable one with the same bits everywhere else).
//     3. Networks: configuration and the layout of the parameters (paper §4-5).
//     4. Integer inference: the formats, rounding, the logistic table, exact int8 products,
//        the device layout of a firmware's weights and its kernels, chosen from the target's
//        macros (Helium on Armv8.1-M with __ARM_FEATURE_MVE, the DSP extension's SXTB16 and
//        SMLAD on Armv7E-M with __ARM_FEATURE_DSP, plain C++ on Cortex-M0/M3 and the host),
//        one image's forward pass on caller-owned buffers (quant_forward).
//   B. Hosted: threads, float networks, training
//     5. Errors, crash points, callbacks and the clock: the one exception type, carrying a
//        one-line message that names its source; FunctionRef, a callable passed down a call.
//     6. Threads and the parallel GEMM: a persistent pool; products cut by output tiles, so
//        the same bits on any thread count; B packed once ahead of time (PackedB).
//     7. Networks in memory: Net (config + parameters), initialisation.
//     8. Forward pass (paper §4-5): the trace backprop and the probes read, unrolling,
//        weights packed once (PackedNet).
//     9. Integer inference on the host: SIMD kernels (VNNI, AVX2, NEON), quantization of a
//        trained net, the batched runner.
//    10. Bytes in memory: little-endian writers and readers (models, trainer state).
//    11. Data sets and evaluation: images and labels, loss, test error, confusion matrix.
//    12. Backpropagation (RESDYN_NO_TRAINING leaves out 12-15): a walk down the net, then
//        a gradient per group of parameters; the noise regulariser (paper eq. 5).
//    13. Optimisers: SGD with momentum, Adam; learning-rate schedules.
//    14. Training and adaptive depth (paper §7): the trainer, the pruner.
//    15. Training in Q15.16 integers, for devices without floating point.
//   C. Files (RESDYN_NO_FILES leaves out this part)
//    16. CRC-32, gzip inflate, the IDX reader.
//    17. MNIST: the four files of a split, checked against each other.
//    18. Files of our own: streamed little-endian writing with atomic replacement, reading.
//    19. Model and checkpoint files: magic, version, architecture, tensors, metadata,
//        CRC-32; checkpoints add the trainer's state so a stopped run resumes to the same bits.
//
// CONVENTIONS
//   Row-major matrices; a batch is B rows. Every loop that sums does so in one fixed order,
//   whatever the thread count, so the same seed and flags give the same bits. Small hot
//   helpers (sigmoid, rounding, kernels) are inline on purpose: they must inline into loops.
#ifndef RESDYN_H
#define RESDYN_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

// The kernels' bodies, and the intrinsics (x86, NEON) they are written with, are compiled
// where they run: in the unit that defines RESDYN_IMPLEMENTATION, in a freestanding build (one
// unit), or where RESDYN_KERNELS asks for them (a test of the kernels themselves). Every other
// unit sees their declarations only, and links to that one unit's instances.
#if defined(RESDYN_IMPLEMENTATION) || defined(RESDYN_FREESTANDING) || defined(RESDYN_KERNELS)
#define RESDYN_KERNEL_BODIES
#endif
#if defined(RESDYN_KERNEL_BODIES) && (defined(__AVX2__) || defined(__AVX512F__))
#include <immintrin.h>
#endif
#if defined(RESDYN_KERNEL_BODIES) && defined(__AMX_TILE__) && defined(__linux__) && !defined(RESDYN_FREESTANDING)
#include <sys/syscall.h>  // AMX's registers are granted by the kernel (arch_prctl)
#include <unistd.h>
#endif
// 32-bit Arm: Helium (MVE) or the DSP extension's intrinsics, for section 4's device kernels
// (every unit: they are small, and the kernels are inline in all of them).
#if defined(__arm__) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#endif
#if defined(__arm__) && defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif
// Advanced SIMD kernels (sections 2 and 9) on 64-bit ARM application processors, little-endian
// (the packed integer weights are read as bytes in memory order). Cortex-M's DSP and Helium
// extensions are another matter (section 4): they never define __aarch64__.
#if defined(__aarch64__) && defined(__ARM_NEON) && !defined(__ARM_BIG_ENDIAN)
#define RESDYN_NEON
#if defined(RESDYN_KERNEL_BODIES)
#include <arm_neon.h>
#endif
#endif

#ifndef RESDYN_FREESTANDING
#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
// What only the bodies compiled once need: every other unit is spared parsing it.
#if defined(RESDYN_IMPLEMENTATION)
#include <atomic>
#include <chrono>
#ifndef RESDYN_NO_THREADS
#include <condition_variable>
#include <mutex>
#include <thread>
#if defined(__linux__)
#include <sched.h>  // the cores this process may run on (sched_getaffinity)
#endif
#endif
#ifndef RESDYN_NO_FILES
#include <filesystem>  // the file checks of part C
#endif
#endif
#endif

#ifndef RESDYN_MAX_THREADS
#define RESDYN_MAX_THREADS 64
#endif

// The float and double instances of the hosted templates (the GEMM, the forward and backward
// passes, evaluation) are compiled once, in the unit that defines RESDYN_IMPLEMENTATION;
// every other unit declares them extern and links to that one.
#if defined(RESDYN_IMPLEMENTATION)
#define RESDYN_INSTANCE template
#else
#define RESDYN_INSTANCE extern template
#endif

namespace resdyn {

// ############################################################################
// PART A. THE FREESTANDING CORE
// ############################################################################
// ============================================================================
// 1. Scalars and randomness
// ============================================================================

// e^x in float without a library call, so loops over it vectorise: e^x = 2^n e^r with
// n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two for exactness), e^r by its Taylor
// polynomial to degree 6 on |r| <= ln2/2. Relative error below 2.5e-7 (about 4 ulp) over
// the clamped range [-87.3, 88.3], where the result stays a normal float (tested).
inline float exp_float(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  const float n = std::nearbyint(x * 1.44269504088896341f);
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^n as a float's exponent field; a NaN input (n NaN) must not reach the int conversion.
  const int32_t bits = ((n == n ? int32_t(n) : 0) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// The logistic function sigma(z) = 1 / (1 + e^-z), every layer's nonlinearity (paper §4-5).
template <class Real>
inline Real sigmoid(Real z) {
  return Real(1) / (Real(1) + std::exp(-z));
}
template <>
inline float sigmoid<float>(float z) {
  return 1.0f / (1.0f + exp_float(-z));
}

// bfloat16 (the upper half of a float: sign, 8 exponent bits, 7 mantissa bits), the operand
// format of mixed-precision products (section 2). The rounding is the one AVX512-BF16's
// conversion applies, written out so every build rounds alike: to nearest, ties to even;
// a NaN stays a (quiet) NaN; a value too small to be a normal float becomes a zero of its sign.
inline uint16_t bf16_from_float(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7F800000u) == 0) return uint16_t((u >> 16) & 0x8000u);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x0040u);
  u += 0x7FFFu + ((u >> 16) & 1u);  // a carry into the exponent rounds up, to infinity at the top
  return uint16_t(u >> 16);
}
inline float float_from_bf16(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// Float arithmetic as the bfloat16 products do it: a result too small to be a normal float
// is flushed to a zero of its sign, every rounding to nearest even.
inline float flush_to_zero(float x) { return std::fabs(x) < 1.17549435e-38f ? std::copysign(0.0f, x) : x; }
inline float add_flushed(float a, float b) { return flush_to_zero(a + b); }
// One term of a bfloat16 dot product: the product of two bfloat16 values (exact in float:
// 8 x 8 significant bits) added to a float sum with one rounding.
inline float bf16_multiply_add(uint16_t a, uint16_t b, float sum) {
  return flush_to_zero(std::fma(float_from_bf16(a), float_from_bf16(b), sum));
}

// The full 128-bit product of two 64-bit numbers as high and low words, without a 128-bit
// integer type (32-bit Arm compilers have none).
struct U128 {
  uint64_t high, low;
};
inline U128 multiply_wide(uint64_t a, uint64_t b) {
  const uint64_t a_lo = uint32_t(a), a_hi = a >> 32, b_lo = uint32_t(b), b_hi = b >> 32;
  const uint64_t p0 = a_lo * b_lo, p1 = a_lo * b_hi, p2 = a_hi * b_lo, p3 = a_hi * b_hi;
  const uint64_t middle = (p0 >> 32) + uint32_t(p1) + uint32_t(p2);  // < 3 * 2^32: no overflow
  return {p3 + (p1 >> 32) + (p2 >> 32) + (middle >> 32), (middle << 32) | uint32_t(p0)};
}

// xoshiro256** (Blackman & Vigna), seeded through splitmix64. We use our own generator
// and our own conversions because std::uniform_*_distribution differ between standard
// libraries, and the same seed must give the same bits everywhere.
struct Rng {
  uint64_t s[4];

  explicit Rng(uint64_t seed) {
    for (auto& word : s) {
      seed += 0x9E3779B97F4A7C15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      word = z ^ (z >> 31);
    }
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next_u64() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n), n > 0, without modulo bias (Lemire's method).
  uint64_t below(uint64_t n) {
    for (;;) {
      const U128 m = multiply_wide(next_u64(), n);
      if (m.low >= n || m.low >= (0 - n) % n) return m.high;
    }
  }
  // Standard normal by the Box–Muller transform (one value per call; deterministic).
  double normal() {
    const double u1 = 1.0 - uniform();  // in (0, 1], so log is finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

// ============================================================================
// 2. Matrix kernels
// ============================================================================
//
// gemm computes C = alpha * op(A) * op(B) + beta * C on row-major buffers, where op(A) is
// M x K, op(B) is K x N and C is M x N; lda, ldb, ldc are row strides. With beta == 0,
// C is only written (whatever it held, NaN included, is ignored).
//
// How: the classic packed GEMM. op(B) is cut into KC x NC panels and op(A) into MC x KC
// blocks; both are copied ("packed") into strips of NR columns / MR rows that the
// micro-kernel reads contiguously, which also makes transposition free. The micro-kernel
// keeps an MR x NR tile of C in registers: plain loops with constant bounds that the
// compiler turns into vector code. Every C element is the sum over k in increasing order
// within each KC block, blocks added in order, so the partition across threads (by
// tiles of C) never changes the result. Products of one to four rows (a batch at
// inference) use a register tile of just their rows, which sums each element the same way.
// A B that many products read unchanged (the weights at inference) can be packed once
// ahead of time (PackedB); gemm then skips packing it, with the same bits.

enum class Op { N, T };

// The arithmetic of a float product. fp32: float operands, float sums. bf16: every operand
// rounded to bfloat16 (bf16_from_float), products summed in float as Intel's AMX does it
// (see bf16 packing below); a portable kernel gives the same bits where AMX is missing.
// Products of doubles (the reference of the tests) are never rounded.
enum class Precision { fp32, bf16 };
// "fp32" or "bf16": the name the command line and the files use.
inline const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

// An optional epilogue, applied to each tile of C as soon as its last K block is summed,
// while the tile is still in cache: the forward pass fuses bias, sigmoid and the residual
// add into the product this way instead of making extra passes over memory.
template <class Real>
struct Epilogue {
  void (*apply)(const void* ctx, Real* C, int ldc, int row0, int col0, int rows, int cols) = nullptr;
  const void* ctx = nullptr;
  // Matrices the epilogue reads or writes at each tile's place (row-major, row stride
  // ld_also), if any: gemm prefetches a tile's part of them while it sums the tile's last
  // block, so the epilogue does not wait on memory for them.
  const Real* also[2] = {nullptr, nullptr};
  int ld_also = 0;
};

// Register tile MR x NR of the micro-kernel and the cache blocks around it. With AVX-512,
// float uses 12 x 32 (24 vector accumulators of 16 lanes) and double 6 x 16; with AVX2,
// 6 x 16 and 6 x 8 (12 accumulators); with AArch64's Advanced SIMD (32 registers of 128 bits),
// 8 x 12 and 6 x 8 (24 accumulators, 3 or 4 for B, 2 or 3 for A); other targets the portable
// kernel's 6 x 16. `kernel` names the one gemm runs; `fused` says its instructions are fused
// multiply-adds (one rounding per term); the portable kernel's a * b + c is fused or not as
// the compiler contracts it (GCC does where the CPU has an FMA, unless -ffp-contract=off).
template <class Real>
struct GemmShape {
#if defined(__AVX512F__)
  static constexpr int MR = sizeof(Real) == 4 ? 12 : 6;
  static constexpr int NR = sizeof(Real) == 4 ? 32 : 16;
  static constexpr const char* kernel = "avx512";
  static constexpr bool fused = true;
#elif defined(__AVX2__) && defined(__FMA__)
  static constexpr int MR = 6;
  static constexpr int NR = sizeof(Real) == 4 ? 16 : 8;
  static constexpr const char* kernel = "avx2";
  static constexpr bool fused = true;
#elif defined(RESDYN_NEON)
  static constexpr int MR = sizeof(Real) == 4 ? 8 : 6;
  static constexpr int NR = sizeof(Real) == 4 ? 12 : 8;
  static constexpr const char* kernel = "neon";
  static constexpr bool fused = true;
#else
  static constexpr int MR = 6;
  static constexpr int NR = 16;
  static constexpr const char* kernel = "portable";
  static constexpr bool fused = false;
#endif
  static constexpr int KC = 384;      // depth of a packed block: a KC x NR strip of B stays in L1
  static constexpr int MC = MR * 12;  // rows of A per block: MC x KC stays in L2
  static constexpr int NC = NR * 64;  // columns of B per panel
};

#if defined(RESDYN_KERNEL_BODIES)
namespace detail {

inline int min_int(int a, int b) { return a < b ? a : b; }

// out[k * ldo + r] = src[r * lds + k] for r < rows, k < cols: the transposition that packing
// a transposed operand needs. Square blocks go through registers (16 x 16 floats with
// AVX-512, 8 x 8 with AVX2) instead of one scattered store per element; the rest is plain.
template <class Real>
inline void transpose_copy(const Real* src, size_t lds, int rows, int cols, Real* out, size_t ldo) {
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < cols; ++k) out[size_t(k) * ldo + r] = src[size_t(r) * lds + k];
}
#if defined(__AVX512F__)
// Reads src_rows rows (the rest count as zero) and writes out_lanes values of each output row.
inline void transpose_16x16(const float* src, size_t lds, float* out, size_t ldo, int src_rows = 16,
                            int out_lanes = 16) {
  // The zero-masked forms with a full mask are the same instructions; the plain ones trip
  // GCC 12's -Wuninitialized inside its own headers.
  constexpr __mmask16 kAll = 0xFFFF;
  const __mmask16 lanes = __mmask16((1u << out_lanes) - 1);
  __m512 row[16], u[16];
  for (int i = 0; i < 16; ++i) row[i] = i < src_rows ? _mm512_loadu_ps(src + size_t(i) * lds) : _mm512_setzero_ps();
  // u[4g + m], 128-bit lane L: column 4L + m of rows 4g .. 4g+3.
  for (int g = 0; g < 4; ++g) {
    const __m512 lo01 = _mm512_maskz_unpacklo_ps(kAll, row[4 * g], row[4 * g + 1]);
    const __m512 hi01 = _mm512_maskz_unpackhi_ps(kAll, row[4 * g], row[4 * g + 1]);
    const __m512 lo23 = _mm512_maskz_unpacklo_ps(kAll, row[4 * g + 2], row[4 * g + 3]);
    const __m512 hi23 = _mm512_maskz_unpackhi_ps(kAll, row[4 * g + 2], row[4 * g + 3]);
    u[4 * g + 0] = _mm512_shuffle_ps(lo01, lo23, 0x44);
    u[4 * g + 1] = _mm512_shuffle_ps(lo01, lo23, 0xEE);
    u[4 * g + 2] = _mm512_shuffle_ps(hi01, hi23, 0x44);
    u[4 * g + 3] = _mm512_shuffle_ps(hi01, hi23, 0xEE);
  }
  // A 4 x 4 transposition of 128-bit lanes across u[m], u[4+m], u[8+m], u[12+m].
  for (int m = 0; m < 4; ++m) {
    const __m512 p = _mm512_maskz_shuffle_f32x4(kAll, u[m], u[4 + m], 0x88);
    const __m512 q = _mm512_maskz_shuffle_f32x4(kAll, u[m], u[4 + m], 0xDD);
    const __m512 r = _mm512_maskz_shuffle_f32x4(kAll, u[8 + m], u[12 + m], 0x88);
    const __m512 s = _mm512_maskz_shuffle_f32x4(kAll, u[8 + m], u[12 + m], 0xDD);
    _mm512_mask_storeu_ps(out + size_t(m) * ldo, lanes, _mm512_maskz_shuffle_f32x4(kAll, p, r, 0x88));
    _mm512_mask_storeu_ps(out + size_t(4 + m) * ldo, lanes, _mm512_maskz_shuffle_f32x4(kAll, q, s, 0x88));
    _mm512_mask_storeu_ps(out + size_t(8 + m) * ldo, lanes, _mm512_maskz_shuffle_f32x4(kAll, p, r, 0xDD));
    _mm512_mask_storeu_ps(out + size_t(12 + m) * ldo, lanes, _mm512_maskz_shuffle_f32x4(kAll, q, s, 0xDD));
  }
}
template <>
inline void transpose_copy<float>(const float* src, size_t lds, int rows, int cols, float* out, size_t ldo) {
  const int r16 = rows / 16 * 16, c16 = cols / 16 * 16;
  for (int r = 0; r < r16; r += 16)
    for (int k = 0; k < c16; k += 16) transpose_16x16(src + size_t(r) * lds + k, lds, out + size_t(k) * ldo + r, ldo);
  for (int r = 0; r < rows; ++r)
    for (int k = r < r16 ? c16 : 0; k < cols; ++k) out[size_t(k) * ldo + r] = src[size_t(r) * lds + k];
}
#elif defined(__AVX2__)
inline void transpose_8x8(const float* src, size_t lds, float* out, size_t ldo) {
  __m256 row[8], u[8];
  for (int i = 0; i < 8; ++i) row[i] = _mm256_loadu_ps(src + size_t(i) * lds);
  // u[4g + m], 128-bit lane L: column 4L + m of rows 4g .. 4g+3.
  for (int g = 0; g < 2; ++g) {
    const __m256 lo01 = _mm256_unpacklo_ps(row[4 * g], row[4 * g + 1]);
    const __m256 hi01 = _mm256_unpackhi_ps(row[4 * g], row[4 * g + 1]);
    const __m256 lo23 = _mm256_unpacklo_ps(row[4 * g + 2], row[4 * g + 3]);
    const __m256 hi23 = _mm256_unpackhi_ps(row[4 * g + 2], row[4 * g + 3]);
    u[4 * g + 0] = _mm256_shuffle_ps(lo01, lo23, 0x44);
    u[4 * g + 1] = _mm256_shuffle_ps(lo01, lo23, 0xEE);
    u[4 * g + 2] = _mm256_shuffle_ps(hi01, hi23, 0x44);
    u[4 * g + 3] = _mm256_shuffle_ps(hi01, hi23, 0xEE);
  }
  for (int m = 0; m < 4; ++m) {
    _mm256_storeu_ps(out + size_t(m) * ldo, _mm256_permute2f128_ps(u[m], u[4 + m], 0x20));
    _mm256_storeu_ps(out + size_t(4 + m) * ldo, _mm256_permute2f128_ps(u[m], u[4 + m], 0x31));
  }
}
template <>
inline void transpose_copy<float>(const float* src, size_t lds, int rows, int cols, float* out, size_t ldo) {
  const int r8 = rows / 8 * 8, c8 = cols / 8 * 8;
  for (int r = 0; r < r8; r += 8)
    for (int k = 0; k < c8; k += 8) transpose_8x8(src + size_t(r) * lds + k, lds, out + size_t(k) * ldo + r, ldo);
  for (int r = 0; r < rows; ++r)
    for (int k = r < r8 ? c8 : 0; k < cols; ++k) out[size_t(k) * ldo + r] = src[size_t(r) * lds + k];
}
#endif

// Asks for the cache lines of `count` values from p on, ahead of their use.
template <class Real>
inline void prefetch_row(const Real* p, int count) {
#if defined(__GNUC__)
  for (int c = 0; c < count; c += 64 / int(sizeof(Real))) __builtin_prefetch(p + c);
  __builtin_prefetch(p + count - 1);
#else
  (void)p, (void)count;
#endif
}

// The same for a rows x cols block (row stride ld).
template <class Real>
inline void prefetch_block(const Real* p, size_t ld, int rows, int cols) {
  for (int r = 0; r < rows; ++r, p += ld) prefetch_row(p, cols);
}

// Packing reads rows of A or B one after another, this many rows ahead of the one it copies
// (the hardware's stride prefetcher alone leaves a strided walk waiting on memory).
constexpr int kPackAhead = 8;

// The first k of a strip of MR rows of A packed for pack_a (below), 16 k at a time through
// registers where the build allows it; returns how many k it packed.
template <int MR, class Real>
inline int pack_a_registers(const Real*, int, int, int, Real*) {
  return 0;
}
#if defined(__AVX512F__)
template <int MR>
inline int pack_a_registers(const float* src, int lda, int rows, int kc, float* out) {
  int k = 0;
  if (MR <= 16)
    for (; k + 16 <= kc; k += 16) transpose_16x16(src + k, size_t(lda), out + size_t(k) * MR, MR, rows, MR);
  return k;
}
#endif

// Packs rows [i0, i0+mc) and depth [k0, k0+kc) of op(A) into strips of MR rows:
// strip s holds, for each k, the MR values op(A)(i0+s*MR+r, k0+k); missing rows are zero.
template <class Real, int MR = GemmShape<Real>::MR>
void pack_a(Op op, const Real* A, int lda, int i0, int mc, int k0, int kc, Real* out) {
  if (op == Op::T) {
    // op(A)(i, k) = A[k][i]: row k of A holds MR neighbours for every strip. Walking the rows
    // once, each read in full and the rows ahead asked for, is twice as fast from memory as
    // walking each strip's narrow column down all the rows.
    const int full = mc / MR * MR;  // rows in strips without padding
    for (int k = 0; k < kc; ++k) {
      const Real* src = A + size_t(k0 + k) * lda + i0;
      prefetch_row(src + size_t(kPackAhead) * lda, mc);
      Real* strip = out + size_t(k) * MR;
      for (int s = 0; s < full; s += MR, strip += size_t(kc) * MR)
        std::memcpy(strip, src + s, MR * sizeof(Real));  // one vector move, not MR scalar ones
      if (full < mc)                                     // the last strip, zero-padded
        for (int r = 0; r < MR; ++r) strip[r] = full + r < mc ? src[full + r] : Real(0);
    }
    return;
  }
  for (int s = 0; s < mc; s += MR) {
    const int rows = min_int(MR, mc - s);
    const int done = pack_a_registers<MR>(A + size_t(i0 + s) * lda + k0, lda, rows, kc, out);
    for (int r = 0; r < MR; ++r) {
      const Real* src = A + size_t(i0 + s + r) * lda + k0;
      for (int k = done; k < kc; ++k) out[size_t(k) * MR + r] = r < rows ? src[k] : Real(0);
    }
    out += size_t(kc) * MR;
  }
}

// Packs depth [k0, k0+kc) and columns [j0, j0+nc) of op(B) into strips of NR columns.
template <class Real>
void pack_b(Op op, const Real* B, int ldb, int k0, int kc, int j0, int nc, Real* out) {
  constexpr int NR = GemmShape<Real>::NR;
  for (int s = 0; s < nc; s += NR) {
    const int cols = min_int(NR, nc - s);
    if (op == Op::N) {
      for (int k = 0; k < kc; ++k, out += NR) {
        const Real* src = B + size_t(k0 + k) * ldb + j0 + s;
        prefetch_row(src + size_t(kPackAhead) * ldb, cols);
        if (cols == NR)  // a whole strip: one plain copy, no padding test per value
          std::memcpy(out, src, NR * sizeof(Real));
        else
          for (int c = 0; c < NR; ++c) out[c] = c < cols ? src[c] : Real(0);
      }
    } else {  // op(B)(k, j) = B[j][k]: a transposing copy of NR rows of B
      const Real* src = B + size_t(j0 + s) * ldb + k0;
      if (cols == NR) {
        transpose_copy(src, ldb, NR, kc, out, NR);
      } else {
        for (int c = 0; c < NR; ++c)
          for (int k = 0; k < kc; ++k) out[size_t(k) * NR + c] = c < cols ? src[size_t(c) * ldb + k] : Real(0);
      }
      out += size_t(kc) * NR;
    }
  }
}

// The portable micro-kernel: acc (Rows x NR, row-major) = sum over k of a[k] (Rows values)
// times b[k] (NR values), in plain loops the compiler vectorises. Rows is MR, or the row
// count itself for products of one to four rows (a batch at inference): a smaller tile sums
// each element exactly as the full one does.
template <class Real, int Rows = GemmShape<Real>::MR>
void micro_kernel_portable(int kc, const Real* a, const Real* b, Real* acc) {
  constexpr int NR = GemmShape<Real>::NR;
  Real tile[Rows][NR] = {};
  for (int k = 0; k < kc; ++k, a += Rows, b += NR)
    for (int r = 0; r < Rows; ++r)
      for (int c = 0; c < NR; ++c) tile[r][c] += a[r] * b[c];
  for (int r = 0; r < Rows; ++r)
    for (int c = 0; c < NR; ++c) acc[r * NR + c] = tile[r][c];
}

// The same with explicit vector instructions where the build allows them (-march=native).
// Each accumulator sums its k terms in the same order as the portable kernel; only the
// fused multiply-add may round differently, which the tests bound.
#if defined(__AVX512F__)
template <int Rows>
inline void vector_kernel(int kc, const float* a, const float* b, float* acc) {
  __m512 c[Rows][2];
  for (int r = 0; r < Rows; ++r) c[r][0] = c[r][1] = _mm512_setzero_ps();
  for (int k = 0; k < kc; ++k, a += Rows, b += 32) {
    // The strip of B streams in from L2 or beyond: ask for it eight steps ahead.
    _mm_prefetch(reinterpret_cast<const char*>(b + 32 * 8), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 32 * 8 + 16), _MM_HINT_T0);
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    for (int r = 0; r < Rows; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r]);
      c[r][0] = _mm512_fmadd_ps(ar, b0, c[r][0]);
      c[r][1] = _mm512_fmadd_ps(ar, b1, c[r][1]);
    }
  }
  for (int r = 0; r < Rows; ++r) {
    _mm512_storeu_ps(acc + r * 32, c[r][0]);
    _mm512_storeu_ps(acc + r * 32 + 16, c[r][1]);
  }
}
template <int Rows>
inline void vector_kernel(int kc, const double* a, const double* b, double* acc) {
  __m512d c[Rows][2];
  for (int r = 0; r < Rows; ++r) c[r][0] = c[r][1] = _mm512_setzero_pd();
  for (int k = 0; k < kc; ++k, a += Rows, b += 16) {
    const __m512d b0 = _mm512_loadu_pd(b), b1 = _mm512_loadu_pd(b + 8);
    for (int r = 0; r < Rows; ++r) {
      const __m512d ar = _mm512_set1_pd(a[r]);
      c[r][0] = _mm512_fmadd_pd(ar, b0, c[r][0]);
      c[r][1] = _mm512_fmadd_pd(ar, b1, c[r][1]);
    }
  }
  for (int r = 0; r < Rows; ++r) {
    _mm512_storeu_pd(acc + r * 16, c[r][0]);
    _mm512_storeu_pd(acc + r * 16 + 8, c[r][1]);
  }
}
#elif defined(__AVX2__) && defined(__FMA__)
template <int Rows>
inline void vector_kernel(int kc, const float* a, const float* b, float* acc) {
  __m256 c[Rows][2];
  for (int r = 0; r < Rows; ++r) c[r][0] = c[r][1] = _mm256_setzero_ps();
  for (int k = 0; k < kc; ++k, a += Rows, b += 16) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    for (int r = 0; r < Rows; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + r);
      c[r][0] = _mm256_fmadd_ps(ar, b0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(ar, b1, c[r][1]);
    }
  }
  for (int r = 0; r < Rows; ++r) {
    _mm256_storeu_ps(acc + r * 16, c[r][0]);
    _mm256_storeu_ps(acc + r * 16 + 8, c[r][1]);
  }
}
template <int Rows>
inline void vector_kernel(int kc, const double* a, const double* b, double* acc) {
  __m256d c[Rows][2];
  for (int r = 0; r < Rows; ++r) c[r][0] = c[r][1] = _mm256_setzero_pd();
  for (int k = 0; k < kc; ++k, a += Rows, b += 8) {
    const __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
    for (int r = 0; r < Rows; ++r) {
      const __m256d ar = _mm256_broadcast_sd(a + r);
      c[r][0] = _mm256_fmadd_pd(ar, b0, c[r][0]);
      c[r][1] = _mm256_fmadd_pd(ar, b1, c[r][1]);
    }
  }
  for (int r = 0; r < Rows; ++r) {
    _mm256_storeu_pd(acc + r * 8, c[r][0]);
    _mm256_storeu_pd(acc + r * 8 + 4, c[r][1]);
  }
}
#elif defined(RESDYN_NEON)
// Advanced SIMD vectors of float (4 lanes) or double (2 lanes), for the kernel below.
template <class Real>
struct NeonVector;
template <>
struct NeonVector<float> {
  using V = float32x4_t;
  static constexpr int lanes = 4;
  static V zero() { return vdupq_n_f32(0.0f); }
  static V load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  template <int Lane>
  static V fma_lane(V c, V b, V a) {
    return vfmaq_laneq_f32(c, b, a, Lane);
  }
  static V fma_scalar(V c, V b, float a) { return vfmaq_n_f32(c, b, a); }
};
template <>
struct NeonVector<double> {
  using V = float64x2_t;
  static constexpr int lanes = 2;
  static V zero() { return vdupq_n_f64(0.0); }
  static V load(const double* p) { return vld1q_f64(p); }
  static void store(double* p, V v) { vst1q_f64(p, v); }
  template <int Lane>
  static V fma_lane(V c, V b, V a) {
    return vfmaq_laneq_f64(c, b, a, Lane);
  }
  static V fma_scalar(V c, V b, double a) { return vfmaq_n_f64(c, b, a); }
};

// c[r][j] += a[r] * b[j] for rows R.. of the tile, a[r] taken from lane r of the vectors of A
// (fmla by element: no broadcast register per row). A recursion, as lanes must be constants.
template <class T, int Rows, int Cols, int R = 0>
inline void fma_rows(typename T::V (&c)[Rows][Cols], const typename T::V (&b)[Cols], const typename T::V* a) {
  if constexpr (R < Rows) {
#pragma GCC unroll 4
    for (int j = 0; j < Cols; ++j) c[R][j] = T::template fma_lane<R % T::lanes>(c[R][j], b[j], a[R / T::lanes]);
    fma_rows<T, Rows, Cols, R + 1>(c, b, a);
  }
}

// 8 x 12 floats or 6 x 8 doubles: 24 accumulators, the B strip in 3 or 4 registers, A in 2 or
// 3. One fused multiply-add per term, k in increasing order, as the x86 kernels.
template <int Rows, class Real>
inline void vector_kernel(int kc, const Real* a, const Real* b, Real* acc) {
  using T = NeonVector<Real>;
  using V = typename T::V;
  constexpr int L = T::lanes, NR = GemmShape<Real>::NR, Cols = NR / L;
  V c[Rows][Cols];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < Cols; ++j) c[r][j] = T::zero();
  for (int k = 0; k < kc; ++k, a += Rows, b += NR) {
    V bv[Cols];
#pragma GCC unroll 4
    for (int j = 0; j < Cols; ++j) bv[j] = T::load(b + j * L);
    if constexpr (Rows % L == 0) {
      V av[Rows / L];
#pragma GCC unroll 4
      for (int i = 0; i < Rows / L; ++i) av[i] = T::load(a + i * L);
      fma_rows<T, Rows, Cols>(c, bv, av);
    } else {  // a few rows (a batch at inference): a vector of A would read past the strip
#pragma GCC unroll 8
      for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 4
        for (int j = 0; j < Cols; ++j) c[r][j] = T::fma_scalar(c[r][j], bv[j], a[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < Cols; ++j) T::store(acc + r * NR + j * L, c[r][j]);
}
#endif

template <class Real, int Rows = GemmShape<Real>::MR>
inline void micro_kernel(int kc, const Real* a, const Real* b, Real* acc) {
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__)) || defined(RESDYN_NEON)
  vector_kernel<Rows>(kc, a, b, acc);
#else
  micro_kernel_portable<Real, Rows>(kc, a, b, acc);
#endif
}

// bfloat16 products. Operands are packed as pairs: a 32-bit word holds op(X)(., k) in its
// low half and op(X)(., k + 1) in its high half, for even k; depth is padded with zeros to
// whole chunks of kBf16Chunk pairs (32 k). The sums are those of Intel's AMX (tdpbf16ps),
// which this arithmetic is defined by: for each chunk, the products of the even k and those
// of the odd k are summed apart, each from zero in order of k with one rounding per term
// (bf16_multiply_add), then the chunk adds (even + odd) to the tile's running sum (each add
// flushed as add_flushed does). A test checks the CPU's instruction against this definition.
constexpr int kBf16Chunk = 16;

inline uint32_t bf16_pair(float low, float high) {
  return uint32_t(bf16_from_float(low)) | uint32_t(bf16_from_float(high)) << 16;
}

// Pairs of a depth of kc values, padded to whole chunks.
inline int bf16_pairs(int kc) { return ((kc + 1) / 2 + kBf16Chunk - 1) / kBf16Chunk * kBf16Chunk; }

#if defined(__AVX512BF16__) && defined(__AVX512BW__)
#define RESDYN_BF16_PACK_VECTOR 1
// Masks of the first n of 16 lanes (none for n <= 0).
inline __mmask16 first_lanes(int n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// 32 floats from src (the first `count` of them; the rest count as zero) rounded to bfloat16,
// in order: 16 pair words at out. vcvtne2ps2bf16 rounds as bf16_from_float does (tested).
inline void bf16_convert_32(const float* src, int count, uint32_t* out) {
  const __m512 low = _mm512_maskz_loadu_ps(first_lanes(count), src);
  const __m512 high = _mm512_maskz_loadu_ps(first_lanes(count - 16), src + 16);
  _mm512_storeu_si512(out, (__m512i)_mm512_cvtne2ps_pbh(high, low));
}
#endif

// Packs rows [i0, i0+mc) and depth [k0, k0+kc) of op(A) into strips of MR rows, each chunk of
// a strip row-major (MR rows of kBf16Chunk pairs): an AMX tile's rows, 64 bytes apart.
template <int MR>
void pack_a_bf16(Op op, const float* A, int lda, int i0, int mc, int k0, int kc, uint32_t* out) {
  const int pairs = bf16_pairs(kc);
#if defined(RESDYN_BF16_PACK_VECTOR)
  // Each row's chunk of 32 k is one conversion; a transposed A goes through blocks of 32 x 32
  // turned by transpose_copy first, so that its k lie side by side too.
  for (int s = 0; s < mc; s += MR, out += size_t(pairs) * MR) {
    const int rows = min_int(MR, mc - s);
    for (int chunk = 0; chunk < pairs / kBf16Chunk; ++chunk) {
      const int kk = 2 * kBf16Chunk * chunk, count = kc - kk;
      uint32_t* words = out + size_t(chunk) * MR * kBf16Chunk;
      alignas(64) float turned[32 * 32];
      for (int r = 0; r < MR; ++r) {
        uint32_t* row = words + size_t(r) * kBf16Chunk;
        if (r >= rows || count <= 0) {
          std::memset(row, 0, kBf16Chunk * sizeof(uint32_t));
        } else if (op == Op::N) {
          bf16_convert_32(A + size_t(i0 + s + r) * lda + k0 + kk, count, row);
        } else {
          if (r % 32 == 0)  // the next 32 rows of the strip: A's columns, turned into rows
            transpose_copy(A + size_t(k0 + kk) * lda + i0 + s + r, size_t(lda), min_int(32, count),
                           min_int(32, rows - r), turned, 32);
          bf16_convert_32(turned + (r % 32) * 32, count, row);
        }
      }
    }
  }
  return;
#endif
  const size_t row_step = op == Op::N ? size_t(lda) : 1, k_step = op == Op::N ? 1 : size_t(lda);
  for (int s = 0; s < mc; s += MR, out += size_t(pairs) * MR)
    for (int r = 0; r < MR; ++r) {
      const float* src = A + size_t(i0 + s + r) * row_step + size_t(k0) * k_step;
      for (int p = 0; p < pairs; ++p) {
        const int k = 2 * p;
        uint32_t& word = out[(size_t(p / kBf16Chunk) * MR + r) * kBf16Chunk + p % kBf16Chunk];
        if (s + r >= mc || k >= kc)
          word = 0;
        else
          word = bf16_pair(src[k * k_step], k + 1 < kc ? src[(k + 1) * k_step] : 0.0f);
      }
    }
}

#if defined(RESDYN_BF16_PACK_VECTOR)
// One strip of NR columns of op(B) (cols of them real), pairs [0, pairs) of depth k0 + [0, kc),
// with vector conversions: B's rows k and k+1 converted together and interleaved (B as it
// is), or each column's run of k converted and a 16 x 16 block of words turned (B transposed).
inline void pack_b_bf16_strip(Op op, const float* B, int ldb, int k0, int kc, int j, int cols, int pairs,
                              uint32_t* out) {
  constexpr int NR = GemmShape<float>::NR;
  if (op == Op::N) {
    // Word c of a pair holds column c's low k in its low half: bfloat16 lanes c and 16 + c of
    // the conversion of (row k, row k+1).
    alignas(64) static const uint16_t interleave[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                        8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    const __m512i order = _mm512_load_si512(interleave);
    for (int p = 0; p < pairs; ++p, out += NR) {
      const int k = 2 * p;
      const float* low = B + size_t(k0 + k) * ldb + j;
      for (int g = 0; g < NR; g += 16) {
        const __mmask16 valid = first_lanes(cols - g);
        const __m512 lo = k < kc ? _mm512_maskz_loadu_ps(valid, low + g) : _mm512_setzero_ps();
        const __m512 hi = k + 1 < kc ? _mm512_maskz_loadu_ps(valid, low + ldb + g) : _mm512_setzero_ps();
        const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
        _mm512_storeu_si512(out + g, _mm512_permutexvar_epi16(order, both));
      }
    }
    return;
  }
  for (int chunk = 0; chunk < pairs / kBf16Chunk; ++chunk) {
    const int kk = 2 * kBf16Chunk * chunk;
    for (int g = 0; g < NR; g += 16) {
      alignas(64) uint32_t runs[16 * 16];  // row c: column j + g + c's 16 pair words
      for (int c = 0; c < 16; ++c) {
        if (g + c < cols)
          bf16_convert_32(B + size_t(j + g + c) * ldb + k0 + kk, kc - kk, runs + 16 * c);
        else
          std::memset(runs + 16 * c, 0, 16 * sizeof(uint32_t));
      }
      // Words move whole, as floats' bits: transpose_16x16 only loads and stores them.
      transpose_16x16(reinterpret_cast<const float*>(runs), 16,
                      reinterpret_cast<float*>(out + size_t(chunk) * kBf16Chunk * NR + g), NR);
    }
  }
}
#endif

// Packs depth [k0, k0+kc) and columns [j0, j0+nc) of op(B) into strips of NR columns: for
// each pair, NR words (an AMX tile's rows are pairs, 16 columns of a strip each).
inline void pack_b_bf16(Op op, const float* B, int ldb, int k0, int kc, int j0, int nc, uint32_t* out) {
  constexpr int NR = GemmShape<float>::NR;
  const int pairs = bf16_pairs(kc);
  const size_t k_step = op == Op::N ? size_t(ldb) : 1, col_step = op == Op::N ? 1 : size_t(ldb);
#if defined(RESDYN_BF16_PACK_VECTOR)
  for (int s = 0; s < nc; s += NR, out += size_t(pairs) * NR)
    pack_b_bf16_strip(op, B, ldb, k0, kc, j0 + s, min_int(NR, nc - s), pairs, out);
  return;
#endif
  for (int s = 0; s < nc; s += NR)
    for (int p = 0; p < pairs; ++p, out += NR) {
      const int k = 2 * p;
      const float* low = B + size_t(k0 + k) * k_step + size_t(j0 + s) * col_step;
      if (k >= kc) {
        for (int c = 0; c < NR; ++c) out[c] = 0;
        continue;
      }
      const float* high = k + 1 < kc ? low + k_step : nullptr;
      if (op == Op::N) prefetch_row(low + size_t(kPackAhead) * k_step, NR);
      for (int c = 0; c < NR; ++c)
        out[c] = s + c < nc ? bf16_pair(low[c * col_step], high ? high[c * col_step] : 0.0f) : 0;
    }
}

// The portable bfloat16 micro-kernel, the reference: acc (Rows x NR) = the sum above, chunk by
// chunk, in plain loops over the NR columns.
template <int Rows>
void bf16_kernel_portable(int pairs, const uint32_t* a, const uint32_t* b, float* acc) {
  constexpr int NR = GemmShape<float>::NR;
  for (int i = 0; i < Rows * NR; ++i) acc[i] = 0;
  for (int chunk = 0; chunk < pairs / kBf16Chunk; ++chunk, b += kBf16Chunk * NR)
    for (int r = 0; r < Rows; ++r) {
      const uint32_t* arow = a + (size_t(chunk) * Rows + r) * kBf16Chunk;
      float even[NR] = {}, odd[NR] = {};
      for (int j = 0; j < kBf16Chunk; ++j)
        for (int c = 0; c < NR; ++c) {
          even[c] = bf16_multiply_add(uint16_t(arow[j]), uint16_t(b[j * NR + c]), even[c]);
          odd[c] = bf16_multiply_add(uint16_t(arow[j] >> 16), uint16_t(b[j * NR + c] >> 16), odd[c]);
        }
      for (int c = 0; c < NR; ++c) acc[r * NR + c] = add_flushed(acc[r * NR + c], add_flushed(even[c], odd[c]));
    }
}

#if defined(__AMX_TILE__) && defined(__AMX_BF16__) && defined(__AVX512F__) && defined(__linux__) && \
    !defined(RESDYN_FREESTANDING)
#define RESDYN_AMX 1
// AMX: eight tile registers of 16 rows x 64 bytes. A register tile of 32 x 32 floats is four C
// tiles (tmm0-3); each chunk loads two tiles of A (tmm4-5, 16 rows x 16 pairs) and two of B
// (tmm6-7, 16 pairs x 16 columns) and does four tdpbf16ps, 16 x 16 x 32 multiply-adds each.
struct AmxTileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

// Linux hands out AMX's large register state only to a process that asks for it (once).
inline bool amx_permitted() {
  static const bool permitted =
      syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
  return permitted;
}

// Loads the configuration for tiles of `rows` rows of A and C (1 to 16 per tile), unless this
// thread's tiles already have it.
inline void amx_configure(int rows) {
  thread_local int configured_rows = 0;
  if (configured_rows == rows) return;
  AmxTileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.bytes_per_row[t] = 64;
    config.rows[t] = uint8_t(t >= 6 ? kBf16Chunk : (rows < 16 ? rows : 16));
  }
  _tile_loadconfig(&config);
  configured_rows = rows;
}

template <int Rows>
void bf16_amx_kernel(int pairs, const uint32_t* a, const uint32_t* b, float* acc) {
  static_assert(Rows <= 16 || Rows == 32, "a register tile of up to 16 rows, or 32");
  constexpr int NR = GemmShape<float>::NR, stride_b = NR * 4, stride_c = NR * 4;
  static_assert(NR == 32, "two AMX tiles of 16 columns");
  amx_configure(Rows);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int chunk = 0; chunk < pairs / kBf16Chunk; ++chunk) {
    const uint32_t* a_chunk = a + size_t(chunk) * Rows * kBf16Chunk;
    const uint32_t* b_chunk = b + size_t(chunk) * kBf16Chunk * NR;
    _tile_loadd(4, a_chunk, 64);
    _tile_loadd(6, b_chunk, stride_b);
    _tile_loadd(7, b_chunk + 16, stride_b);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    if (Rows == 32) {
      _tile_loadd(5, a_chunk + 16 * kBf16Chunk, 64);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, acc, stride_c);
  _tile_stored(1, acc + 16, stride_c);
  if (Rows == 32) {
    _tile_stored(2, acc + 16 * NR, stride_c);
    _tile_stored(3, acc + 16 * NR + 16, stride_c);
  }
}
#endif

// C tile (rows x cols that exist) = (first ? beta C : C) + alpha acc.
template <class Real>
inline void store_tile(const Real* acc, Real alpha, Real beta, bool first, Real* C, int ldc, int rows, int cols) {
  constexpr int NR = GemmShape<Real>::NR;
  for (int r = 0; r < rows; ++r) {
    Real* crow = C + size_t(r) * ldc;
    const Real* arow = acc + r * NR;
    if (!first)
      for (int c = 0; c < cols; ++c) crow[c] += alpha * arow[c];
    else if (beta == Real(0))
      for (int c = 0; c < cols; ++c) crow[c] = alpha * arow[c];
    else
      for (int c = 0; c < cols; ++c) crow[c] = beta * crow[c] + alpha * arow[c];
  }
}

// K is summed in equal blocks of at most KC (784 = 262+262+260, not 384+384+16: no thin
// block). Every path of gemm cuts K the same way, so they all round alike.
template <class Real>
inline int k_block(int K) {
  const int blocks = (K + GemmShape<Real>::KC - 1) / GemmShape<Real>::KC;
  return (K + blocks - 1) / blocks;
}

// What gemm_tile needs to know of a product's arithmetic: how operands are packed (Packed:
// one value, or a pair of bfloat16), the register tile's rows, how many packed rows kc values
// of depth take, how K is cut into blocks, and which micro-kernel sums a tile.
template <class Real, bool Portable>
struct Fp32Path {
  using Packed = Real;
  static constexpr int MR = GemmShape<Real>::MR;
  static int units(int k) { return k; }
  static int k_step(int K) { return k_block<Real>(K); }
  template <int Rows>
  static void pack_a(Op op, const Real* A, int lda, int i0, int mc, int k0, int kc, Packed* out) {
    detail::pack_a<Real, Rows>(op, A, lda, i0, mc, k0, kc, out);
  }
  static void pack_b(Op op, const Real* B, int ldb, int k0, int kc, int j0, int nc, Packed* out) {
    detail::pack_b(op, B, ldb, k0, kc, j0, nc, out);
  }
  template <int Rows>
  static void kernel(int kc, const Packed* a, const Packed* b, Real* acc) {
    if (Portable)
      micro_kernel_portable<Real, Rows>(kc, a, b, acc);
    else
      micro_kernel<Real, Rows>(kc, a, b, acc);
  }
};

template <bool Portable>
struct Bf16Path {
  using Packed = uint32_t;
  static constexpr int MR = 32;  // two AMX tiles of rows
  static int units(int k) { return bf16_pairs(k); }
  // Blocks of whole chunks (a multiple of 32 k), so that only the last block has padding.
  static int k_step(int K) {
    const int step = (k_block<float>(K) + 2 * kBf16Chunk - 1) / (2 * kBf16Chunk) * (2 * kBf16Chunk);
    return step < K ? step : K;
  }
  template <int Rows>
  static void pack_a(Op op, const float* A, int lda, int i0, int mc, int k0, int kc, Packed* out) {
    pack_a_bf16<Rows>(op, A, lda, i0, mc, k0, kc, out);
  }
  static void pack_b(Op op, const float* B, int ldb, int k0, int kc, int j0, int nc, Packed* out) {
    pack_b_bf16(op, B, ldb, k0, kc, j0, nc, out);
  }
  template <int Rows>
  static void kernel(int kc, const Packed* a, const Packed* b, float* acc) {
#if defined(RESDYN_AMX)
    if (!Portable && amx_permitted()) return bf16_amx_kernel<Rows>(units(kc), a, b, acc);
#endif
    bf16_kernel_portable<Rows>(units(kc), a, b, acc);
  }
};

// Packed rows that the whole depth K takes on Path: its blocks' units, added up.
template <class Path>
size_t packed_depth(int K) {
  size_t depth = 0;
  for (int k0 = 0, step = Path::k_step(K); k0 < K; k0 += step)
    depth += size_t(Path::units(K - k0 < step ? K - k0 : step));
  return depth;
}

// One product C = alpha op(A) op(B) + beta C as the tiles see it. B comes as it is (B, ldb)
// or packed ahead of time (packed_b, laid out as PackedB below, padded_n columns, in the
// Packed values of the product's path).
template <class Real>
struct GemmProduct {
  Op opA = Op::N, opB = Op::N;
  int K = 0;
  Real alpha = 1, beta = 0;
  const Real* A = nullptr;
  int lda = 0;
  const Real* B = nullptr;
  int ldb = 0;
  const void* packed_b = nullptr;
  int padded_n = 0;
  Real* C = nullptr;
  int ldc = 0;
  Epilogue<Real> epilogue;
  const void* packed_a = nullptr;  // op(A) packed whole ahead (pack_a_whole), or packed per block here
  int padded_m = 0;
};

// Rows [i0, i1) and columns [j0, j1) of C.
struct TileRange {
  int i0, i1, j0, j1;
};

// One tile of C, the whole depth K, serially, on a register tile of MR rows, in the
// arithmetic of Path (Fp32Path or Bf16Path); A and B are packed here, block by block, into
// packA and packB unless they come packed.
template <class Real, class Path, int MR = GemmShape<Real>::MR>
void gemm_tile(const GemmProduct<Real>& p, TileRange tile, typename Path::Packed* packA, typename Path::Packed* packB) {
  using Packed = typename Path::Packed;
  using S = GemmShape<Real>;
  const Op opA = p.opA, opB = p.opB;
  const int K = p.K, i0 = tile.i0, i1 = tile.i1, j0 = tile.j0, j1 = tile.j1, lda = p.lda, ldb = p.ldb, ldc = p.ldc;
  const int padded_n = p.padded_n;
  const Real alpha = p.alpha, beta = p.beta;
  const Real *A = p.A, *B = p.B;
  const Packed* packed_b = static_cast<const Packed*>(p.packed_b);
  const Packed* packed_a = static_cast<const Packed*>(p.packed_a);
  Real* C = p.C;
  const Epilogue<Real>& epilogue = p.epilogue;
  constexpr int MC = MR * (S::MC / S::MR);
  alignas(64) Real acc[MR * S::NR];
  for (int jc = j0; jc < j1; jc += S::NC) {
    const int nc = min_int(S::NC, j1 - jc);
    const int kstep = Path::k_step(K);
    for (int kc0 = 0; kc0 < K; kc0 += kstep) {
      const int kc = min_int(kstep, K - kc0), depth = Path::units(kc);  // packed rows of the block
      const bool last = kc0 + kc == K;
      const Packed* panel = packB;
      if (packed_b)
        panel = packed_b + size_t(Path::units(kc0)) * padded_n + size_t(jc) * depth;
      else
        Path::pack_b(opB, B, ldb, kc0, kc, jc, nc, packB);
      for (int ic = i0; ic < i1; ic += MC) {
        const int mc = min_int(MC, i1 - ic);
        const Packed* block = packA;
        if (packed_a)
          block = packed_a + size_t(Path::units(kc0)) * p.padded_m + size_t(ic) * depth;
        else
          Path::template pack_a<MR>(opA, A, lda, ic, mc, kc0, kc, packA);
        for (int jr = 0; jr < nc; jr += S::NR)
          for (int ir = 0; ir < mc; ir += MR) {
            const int rows = min_int(MR, mc - ir), cols = min_int(S::NR, nc - jr);
            Real* ctile = C + size_t(ic + ir) * ldc + jc + jr;
            // What the tile's store (and epilogue) will read is fetched while it is summed.
            if (kc0 > 0 || beta != Real(0)) prefetch_block(ctile, size_t(ldc), rows, cols);
            if (last)
              for (const Real* m : epilogue.also)
                if (m)
                  prefetch_block(m + size_t(ic + ir) * epilogue.ld_also + jc + jr, size_t(epilogue.ld_also), rows,
                                 cols);
            Path::template kernel<MR>(kc, block + size_t(ir) * depth, panel + size_t(jr) * depth, acc);
            store_tile(acc, alpha, beta, kc0 == 0, ctile, ldc, rows, cols);
            if (last && epilogue.apply) epilogue.apply(epilogue.ctx, ctile, ldc, ic + ir, jc + jr, rows, cols);
          }
      }
    }
  }
}

}  // namespace detail
#endif  // RESDYN_KERNEL_BODIES

// ============================================================================
// 3. Networks: configuration and parameter layout (paper §4-5)
// ============================================================================

enum class Arch : uint32_t { ResNet = 0, MLP = 1 };
enum class Weights : uint32_t { Shared = 0, PerLayer = 1 };

struct Config {
  Arch arch = Arch::ResNet;
  Weights weights = Weights::Shared;
  int input = 784;   // D: pixels per image
  int width = 1064;  // N: units per layer
  int depth = 15;    // T: residual (or MLP hidden) layers, stem not counted
  int classes = 10;
  bool stem = true;  // x(0) = sigma(P u + c); without it x(0) = u and N must equal D
};

// Limits that keep every size computation below far from overflow; a model file or a flag
// outside them is rejected before anything is allocated.
constexpr int kMaxWidth = 1 << 15, kMaxDepth = 100000, kMaxClasses = 1 << 12;

// Returns nullptr when the configuration is usable, else why not.
inline const char* config_problem(const Config& c) {
  if (c.arch != Arch::ResNet && c.arch != Arch::MLP) return "unknown architecture";
  if (c.weights != Weights::Shared && c.weights != Weights::PerLayer) return "unknown weight sharing";
  if (c.input < 1 || c.input > kMaxWidth) return "input size out of range (1..32768)";
  if (c.width < 1 || c.width > kMaxWidth) return "width out of range (1..32768)";
  if (c.depth < 1 || c.depth > kMaxDepth) return "depth out of range (1..100000)";
  if (c.classes < 2 || c.classes > kMaxClasses) return "classes out of range (2..4096)";
  if (!c.stem && c.width != c.input) return "without a stem the width must equal the input size";
  if (c.weights == Weights::PerLayer && double(c.depth) * c.width * (c.width + 1.0) > 4e9)
    return "per-layer weights of this width and depth exceed 4e9 parameters";
  return nullptr;
}

// Where each tensor sits in the one flat parameter vector:
//   [ P (N x D) | c (N) | K (C x N) | k0 (C) | W_1 (N x N) | b_1 (N) | W_2 | b_2 | ... ]
// Shared weights have one (W, b) block; per-layer weights have T, so removing the last
// layer (the pruner of paper §7) is cutting the tail of the vector.
struct Layout {
  size_t P = 0, c = 0, K = 0, k0 = 0, blocks_begin = 0, block_size = 0, total = 0;
  int blocks = 0, width = 0;
  size_t W(int t) const { return blocks_begin + size_t(blocks == 1 ? 0 : t - 1) * block_size; }  // t = 1..T
  size_t b(int t) const { return W(t) + size_t(width) * width; }
};

inline Layout layout_of(const Config& cfg) {
  Layout l;
  const size_t D = size_t(cfg.input), N = size_t(cfg.width), C = size_t(cfg.classes);
  l.width = cfg.width;
  l.P = 0;
  l.c = l.P + (cfg.stem ? N * D : 0);
  l.K = l.c + (cfg.stem ? N : 0);
  l.k0 = l.K + C * N;
  l.blocks_begin = l.k0 + C;
  l.block_size = N * N + N;
  l.blocks = cfg.weights == Weights::Shared ? 1 : cfg.depth;
  l.total = l.blocks_begin + size_t(l.blocks) * l.block_size;
  return l;
}

// ============================================================================
// 4. Integer inference
// ============================================================================
//
//
// The formats (Qm.n: m integer bits, n fraction bits, plus the sign; two's complement, so the
// common "16.16" format is Q15.16 here):
//   weights      int8 in [-127, 127], one scale per output row: w ~ q * mult * 2^-shift
//   y(t), h(t)   Q0.15 in int16: the logistic output, 0 .. 32767 (1 saturates to 32767/32768)
//   x(t)         Q16.15 in int32: x(0) plus T residuals below 1 each, exact up to T = 65534
//   bytes        uint8 v * 255, rounded: a product input in [0, 1] (pixels, y(t), h(t))
//   layer input  a product reads bytes when its input lies in [0, 1]: the stem (pixels), an
//                MLP's layers (h), a shared ResNet's layers (see below). The others, a
//                per-layer ResNet's layers and every classifier, read x(t) or h(T) as int16:
//                shifted right by the fewest bits that make its largest entry fit (per
//                sample, rounded), so the first layer sees all 15 fraction bits
//   shared ResNet  W x(t-1) = W x(t-2) + W y(t-1) (paper §4: x(t) = x(t-1) + y(t)), so its
//                layers multiply only bytes of y (and of x(0) first) and keep the running
//                sums W x(t-1) in int32 (adding saturates; below T = 128 it never has to)
//   z, logits    Q19.12 in int32: pre-activations W x + b and the classifier's output
//   products     int32 sums of int8 x int16 or int8 x uint8; exact because quantization
//                keeps every row's sum |q| <= 65535 and inputs are at most 32767 in magnitude
// Every narrowing rounds to nearest (ties away from zero) and saturates; no right shift of
// a negative number is left to the compiler's choice.
//
// The logistic function: a table of sigma(k/32), k = 0..512, in Q.24, linear interpolation,
// sigma(-z) = 1 - sigma(z), 1 beyond |z| = 16. For Q0.15 output the error is below 2^-15
// (one unit) for every Q19.12 input: interpolation <= (1/32)^2/8 * max|sigma''| = 1.2e-5,
// table rounding 3e-8, final rounding <= 2^-16 = 1.5e-5 (tests/test_fixed_point.cpp measures
// it against std::exp over every input in [-20, 20]).

namespace fixed {

// ---------------------------------------------------------------------------
// Rounding and saturation
// ---------------------------------------------------------------------------

inline int32_t saturate_i32(int64_t v) { return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : int32_t(v); }
inline int16_t saturate_i16(int64_t v) {
  return v > INT16_MAX ? int16_t(INT16_MAX) : v < INT16_MIN ? int16_t(INT16_MIN) : int16_t(v);
}
// Weights use the symmetric range [-127, 127]: -128 never appears, so |q| <= 127 holds.
inline int8_t saturate_i8_symmetric(int64_t v) { return v > 127 ? int8_t(127) : v < -127 ? int8_t(-127) : int8_t(v); }

// v / 2^shift rounded to nearest, ties away from zero; shift in 1..63, any int64 v.
// Works on the magnitude, so it never shifts a negative number.
inline int64_t round_shift_right(int64_t v, int shift) {
  const uint64_t a = v < 0 ? 0 - uint64_t(v) : uint64_t(v);
  const uint64_t r = (a >> shift) + ((a >> (shift - 1)) & 1u);
  return v < 0 ? -int64_t(r) : int64_t(r);
}

// value * mult * 2^-shift, rounded and saturated to int32 (any shift; mult >= 0).
inline int32_t rescale(int32_t value, int32_t mult, int shift) {
  const int64_t p = int64_t(value) * mult;  // |p| < 2^62
  if (shift >= 63) return 0;                // |p| / 2^63 < 1/2
  if (shift > 0) return saturate_i32(round_shift_right(p, shift));
  if (p == 0) return 0;
  const int64_t limit = int64_t(INT32_MAX) >> (shift < -31 ? 31 : -shift);
  if (p > limit) return INT32_MAX;
  if (p < -limit) return INT32_MIN;
  return int32_t(p * (int64_t(1) << -shift));
}

inline int32_t add_saturate(int32_t a, int32_t b) { return saturate_i32(int64_t(a) + b); }

// A number in Q(bits of Storage - Frac - 1).Frac: raw / 2^Frac. Arithmetic rounds and saturates.
template <int Frac, class Storage>
struct Fixed {
  static_assert(Frac >= 1 && Frac < int(8 * sizeof(Storage)), "fraction bits must fit the storage");
  static constexpr int frac_bits = Frac;
  static constexpr int64_t kMax = int64_t((uint64_t(1) << (8 * sizeof(Storage) - 1)) - 1), kMin = -kMax - 1;
  Storage raw = 0;

  static Fixed from_raw(int64_t r) {
    Fixed f;
    f.raw = Storage(r > kMax ? kMax : r < kMin ? kMin : r);
    return f;
  }
  // Nearest representable value, ties away from zero; saturates; NaN becomes 0.
  static Fixed from_real(double v) {
    const double scaled = v * double(int64_t(1) << Frac);
    if (!(scaled == scaled)) return from_raw(0);
    if (scaled >= double(kMax)) return from_raw(kMax);
    if (scaled <= double(kMin)) return from_raw(kMin);
    return from_raw(int64_t(scaled >= 0 ? std::floor(scaled + 0.5) : -std::floor(-scaled + 0.5)));
  }
  double to_real() const { return double(raw) / double(int64_t(1) << Frac); }
  // The same number in another format, rounded and saturated.
  template <class To>
  To to() const {
    constexpr int d = Frac - To::frac_bits;
    if constexpr (d > 0) {
      return To::from_raw(round_shift_right(raw, d));
    } else {
      const int64_t limit = To::kMax >> -d;
      return To::from_raw(raw > limit ? To::kMax : raw < -limit ? To::kMin : int64_t(raw) * (int64_t(1) << -d));
    }
  }
  friend Fixed operator+(Fixed a, Fixed b) { return from_raw(int64_t(a.raw) + b.raw); }
  friend Fixed operator-(Fixed a, Fixed b) { return from_raw(int64_t(a.raw) - b.raw); }
  friend Fixed operator*(Fixed a, Fixed b) { return from_raw(round_shift_right(int64_t(a.raw) * b.raw, Frac)); }
  friend bool operator==(Fixed a, Fixed b) { return a.raw == b.raw; }
};

using Q0_15 = Fixed<15, int16_t>;   // y(t), h(t)
using Q16_15 = Fixed<15, int32_t>;  // x(t)
using Q19_12 = Fixed<12, int32_t>;  // pre-activations and logits
using Q15_16 = Fixed<16, int32_t>;  // everything in fixed-point training

constexpr int kStateFrac = 15;        // y, h and x
constexpr int kPreFrac = 12;          // z and logits
constexpr int kTrainFrac = 16;        // training
constexpr int32_t kMaxRowL1 = 65535;  // sum |q| of a quantized row: 65535 * 32767 < 2^31

// ---------------------------------------------------------------------------
// The logistic function and e^-a from tables
// ---------------------------------------------------------------------------

namespace detail {

// e^x for |x| <= 32, evaluated by the compiler: e^x = (e^(x/1024))^1024, the inner power by
// its Taylor series. Relative error about 1e-13, far below the tables' resolution.
constexpr double exp_constexpr(double x) {
  const double r = x / 1024.0;
  double term = 1.0, sum = 1.0;
  for (int k = 1; k < 12; ++k) {
    term *= r / k;
    sum += term;
  }
  for (int k = 0; k < 10; ++k) sum *= sum;
  return sum;
}

constexpr int kSigmoidSteps = 512;  // table covers z in [0, 16] in steps of 1/32
constexpr int kSigmoidStepsPerUnit = 32;
constexpr int kTableFrac = 24;  // table values in Q.24
constexpr int kExpWhole = 25, kExpParts = 256;

struct SigmoidTable {
  int32_t entry[kSigmoidSteps + 1];
  constexpr SigmoidTable() : entry() {
    for (int k = 0; k <= kSigmoidSteps; ++k) {
      const double s = 1.0 / (1.0 + exp_constexpr(-double(k) / kSigmoidStepsPerUnit));
      entry[k] = int32_t(s * double(1 << kTableFrac) + 0.5);
    }
  }
};
inline constexpr SigmoidTable kSigmoidTable{};

// e^-n (n = 0..24) and e^(-k/256) (k = 0..256), both Q.30.
struct ExpTables {
  int32_t whole[kExpWhole];
  int32_t part[kExpParts + 1];
  constexpr ExpTables() : whole(), part() {
    for (int n = 0; n < kExpWhole; ++n) whole[n] = int32_t(exp_constexpr(-double(n)) * double(1 << 30) + 0.5);
    for (int k = 0; k <= kExpParts; ++k)
      part[k] = int32_t(exp_constexpr(-double(k) / kExpParts) * double(1 << 30) + 0.5);
  }
};
inline constexpr ExpTables kExpTables{};

}  // namespace detail

// sigma(z) in Q.24 (0 .. 2^24) for z with `frac` fraction bits, 5 <= frac <= 16.
inline int32_t sigmoid_q24(int32_t z, int frac) {
  const int step_bits = frac - 5;  // z units per table step (1/32) = 2^step_bits
  const uint32_t a = z < 0 ? 0u - uint32_t(z) : uint32_t(z);
  const uint32_t index = a >> step_bits;
  int32_t v = int32_t(1) << detail::kTableFrac;
  if (index < uint32_t(detail::kSigmoidSteps)) {
    const int32_t lo = detail::kSigmoidTable.entry[index], hi = detail::kSigmoidTable.entry[index + 1];
    const int32_t f = int32_t(a & ((1u << step_bits) - 1u));
    const int32_t half = step_bits > 0 ? int32_t(1) << (step_bits - 1) : 0;
    v = lo + (((hi - lo) * f + half) >> step_bits);  // hi >= lo: never shifts a negative number
  }
  return z < 0 ? (int32_t(1) << detail::kTableFrac) - v : v;
}

// sigma(z) for z in Q19.12, as Q0.15 in 0 .. 32767 (1 would need 32768; it saturates).
inline int16_t sigmoid_q15(int32_t z) {
  const int32_t r = (sigmoid_q24(z, kPreFrac) + 256) >> 9;
  return int16_t(r > 32767 ? 32767 : r);
}

// sigma(z) for z in Q15.16, as Q15.16 in 0 .. 65536 (training).
inline int32_t sigmoid_q16(int32_t z) { return (sigmoid_q24(z, kTrainFrac) + 128) >> 8; }

// e^-a for a >= 0 in Q15.16, as Q.30 (0 .. 2^30): e^-n * e^-f with f interpolated in steps of
// 1/256 (error below 2e-6). Used by the fixed-point softmax.
inline int32_t exp_neg_q30(int32_t a) {
  if (a <= 0) return int32_t(1) << 30;
  const int n = a >> 16;
  if (n >= detail::kExpWhole) return 0;
  const int k = (a >> 8) & 0xFF, r = a & 0xFF;
  const int32_t lo = detail::kExpTables.part[k], hi = detail::kExpTables.part[k + 1];
  const int64_t p = lo - round_shift_right(int64_t(lo - hi) * r, 8);
  return int32_t(round_shift_right(int64_t(detail::kExpTables.whole[n]) * p, 30));
}

// ---------------------------------------------------------------------------
// The integer kernel (plain C++: every target, the reference of the others)
// ---------------------------------------------------------------------------

namespace detail {

// sum over j < n of x[j] * w[j] (x bytes or int16).
template <class In>
inline int32_t dot(const In* x, const int8_t* w, int n) {
  int32_t sum = 0;
  for (int j = 0; j < n; ++j) sum += int32_t(x[j]) * int32_t(w[j]);
  return sum;
}

}  // namespace detail

// acc[s*ld_acc + i] = sum over j < inner of x[s*ldx + j] * w[i*ldw + j], for samples s and
// outputs i: one matrix-vector product per sample; x is int16 or bytes. Exact (no overflow,
// so any summation order gives the same integers) when every row has sum |w| <= kMaxRowL1
// and |x| <= 32767.
template <class In>
inline void int_matmul(int samples, int outputs, int inner, const In* x, int ldx, const int8_t* w, int ldw,
                       int32_t* acc, int ld_acc) {
  for (int s = 0; s < samples; ++s)
    for (int i = 0; i < outputs; ++i)
      acc[size_t(s) * ld_acc + i] = detail::dot(x + size_t(s) * ldx, w + size_t(i) * ldw, inner);
}

// y = W x for one sample. Not inlined (GCC, Clang): inlined into a whole forward pass, GCC
// for the Cortex-M runs short of registers and spills inside a kernel's loop (make mcu
// counted up to a fifth more instructions per inference); a call per product costs nothing.
#if defined(__GNUC__)
#define RESDYN_OUT_OF_LINE __attribute__((noinline))
#else
#define RESDYN_OUT_OF_LINE
#endif
template <class In>
RESDYN_OUT_OF_LINE inline void int_matvec(int outputs, int inner, const int8_t* w, const In* x, int32_t* y) {
  int_matmul(1, outputs, inner, x, inner, w, inner, y, outputs);
}

// ---------------------------------------------------------------------------
// The device's products: one weight layout, a kernel per Cortex-M family
// ---------------------------------------------------------------------------
// A firmware's weights (resdyn export --format c-header) are stored in panels of
// kDevicePanelRows = 4 output rows, each cut along the input into groups of kDeviceGroup = 8
// weights: panel p, group k, row r holds w[4p + r][8k .. 8k + 7], zero-padded past the last
// row and column. One pass over a panel reads the input once for four rows, and each row's
// eight weights are one contiguous 64-bit word. The kernel is chosen from the target's macros:
//   Armv8.1-M with Helium (Cortex-M55, __ARM_FEATURE_MVE): per row and group, one VLDRB.S16
//     widens the eight weights to int16 lanes and one VMLADAVA.S16 adds their eight products
//     to the row's sum; the inputs are loaded (and widened) once for the four rows.
//   Armv7E-M with the DSP extension (Cortex-M4/M7, __ARM_FEATURE_DSP): SXTB16 sign-extends
//     bytes 0 and 2 of a word of weights (rotated by 8: bytes 1 and 3) into two int16 halves,
//     SMLAD adds two 16 x 16-bit products at once; the inputs are widened into the same pairs
//     (x0, x2), (x1, x3) once for the four rows (UXTB16 for bytes, PKHBT/PKHTB for int16).
//     A shared net's one W may also be widened once into RAM (widen_device_weights), which
//     spares the SXTB16s of every layer.
//   Anything else (Cortex-M0/M3, the host): plain C++ on the same layout.
// make mcu measures them: 0.66 instructions per multiply-accumulate on the Cortex-M55, 1.49 on
// the Cortex-M4, 2.95 on the Cortex-M3 and 6.07 on the Cortex-M0, whole inference included.
// Every sum is exact (the bounds of fixed::int_matmul), so all three give the same integers
// as int_matvec on the rows in order.

#if defined(__arm__) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define RESDYN_DEVICE_HELIUM
constexpr const char* kDeviceKernel = "helium";
#elif defined(__arm__) && defined(__ARM_FEATURE_DSP)
#define RESDYN_DEVICE_DSP
constexpr const char* kDeviceKernel = "dsp";
#else
constexpr const char* kDeviceKernel = "plain";
#endif

constexpr int kDevicePanelRows = 4, kDeviceGroup = 8;

constexpr int device_panels(int rows) { return (rows + kDevicePanelRows - 1) / kDevicePanelRows; }
constexpr int device_groups(int cols) { return (cols + kDeviceGroup - 1) / kDeviceGroup; }
// int8 values a rows x cols matrix takes in the device layout.
constexpr size_t device_weights_size(int rows, int cols) {
  return size_t(device_panels(rows)) * size_t(device_groups(cols)) * kDevicePanelRows * kDeviceGroup;
}
// Where w[i][j] lies in the device layout.
inline size_t device_index(int cols, int i, int j) {
  const size_t panel = size_t(i / kDevicePanelRows), group = size_t(j / kDeviceGroup);
  return ((panel * size_t(device_groups(cols)) + group) * kDevicePanelRows + size_t(i % kDevicePanelRows)) *
             kDeviceGroup +
         size_t(j % kDeviceGroup);
}

// count stacked rows x cols row-major matrices (w) into the device layout (out: count times
// device_weights_size values; the padding is zero).
inline void pack_device_weights(const int8_t* w, int rows, int cols, int count, int8_t* out) {
  const size_t size = device_weights_size(rows, cols);
  for (size_t n = 0; n < size * size_t(count); ++n) out[n] = 0;
  for (int b = 0; b < count; ++b)
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j)
        out[size_t(b) * size + device_index(cols, i, j)] = w[(size_t(b) * rows + size_t(i)) * cols + size_t(j)];
}

// A shared net's one W, widened once into the int16 pairs the DSP kernel's SXTB16s make of each
// word of four weights: (w0, w2) and (w1, w3) as two 32-bit words (n int8 weights, a multiple
// of 4, give n / 2 words: twice the bytes, in RAM). The DSP kernel then multiplies them as they
// are (QuantBuffers::wide_layer): per row and group of eight, two loads and four SMLAD, where
// int8 weights take four SXTB16 more.
inline void widen_device_weights(const int8_t* w, size_t n, int32_t* out) {
  for (size_t q = 0; q + 4 <= n; q += 4) {
    out[q / 2] = int32_t(uint32_t(uint16_t(int16_t(w[q]))) | uint32_t(uint16_t(int16_t(w[q + 2]))) << 16);
    out[q / 2 + 1] = int32_t(uint32_t(uint16_t(int16_t(w[q + 1]))) | uint32_t(uint16_t(int16_t(w[q + 3]))) << 16);
  }
}

namespace detail {

#if defined(RESDYN_DEVICE_HELIUM)
inline int16x8_t load_group(const uint8_t* x) { return vreinterpretq_s16_u16(vldrbq_u16(x)); }
inline int16x8_t load_group(const int16_t* x) { return vldrhq_s16(x); }

// The four sums of one panel over its first `groups` groups of inputs.
template <bool /*aligned*/, class In>
inline void panel_sums(const int8_t* w, int groups, const In* x, const int16_t* /*pairs*/, int32_t* sum) {
  int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int k = 0; k < groups; ++k, w += kDevicePanelRows * kDeviceGroup, x += kDeviceGroup) {
    const int16x8_t xv = load_group(x);
    s0 = vmladavaq_s16(s0, xv, vldrbq_s16(w));
    s1 = vmladavaq_s16(s1, xv, vldrbq_s16(w + kDeviceGroup));
    s2 = vmladavaq_s16(s2, xv, vldrbq_s16(w + 2 * kDeviceGroup));
    s3 = vmladavaq_s16(s3, xv, vldrbq_s16(w + 3 * kDeviceGroup));
  }
  sum[0] = s0, sum[1] = s1, sum[2] = s2, sum[3] = s3;
}
#elif defined(RESDYN_DEVICE_DSP)
// GCC's scheduling before register allocation would load every word of weights of a pass first
// and spill the sums; without it each row's word is loaded where it is used. (Every function
// the kernel inlines into carries the same option, or GCC does not inline it.)
#define RESDYN_NO_SCHEDULE __attribute__((optimize("no-schedule-insns")))

// SXTB16 and UXTB16 of a word rotated right by 8 (bytes 1 and 3), one instruction each: GCC 12's
// arm_acle.h has no rotating form and does not fold a rotation into the intrinsic.
inline int32_t sxtb16_ror8(uint32_t v) {
  int32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}
inline int32_t uxtb16_ror8(uint32_t v) {
  int32_t r;
  __asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}

// Bytes widened once per product into int16 pairs in SXTB16's order: (x0, x2), (x1, x3) of
// every four inputs (n a multiple of 4).
inline void prepare_pairs(const uint8_t* x, int n, int16_t* pairs) {
  for (int j = 0; j < n; j += 4) {
    uint32_t q;
    std::memcpy(&q, x + j, 4);
    const int32_t p[2] = {int32_t(__uxtb16(q)), uxtb16_ror8(q)};
    std::memcpy(pairs + j, p, 8);
  }
}
inline void prepare_pairs(const int16_t*, int, int16_t*) {}

// Eight inputs as four pairs (x0, x2), (x1, x3), (x4, x6), (x5, x7): read as they are from
// prepare_pairs, or gathered from int16 inputs in order by PKHBT/PKHTB.
struct Pairs {
  int32_t a02, a13, b02, b13;
};
// Four inputs' 32-bit words: one LDRD for two when they are 8-byte aligned (GCC's condition for
// LDRD; it faults on an unaligned address), else one LDR each.
template <bool kAligned>
inline void load_words(const int16_t* x, uint32_t& v0, uint32_t& v1) {
  uint64_t both;
  std::memcpy(&both, kAligned ? __builtin_assume_aligned(x, 8) : x, 8);
  v0 = uint32_t(both), v1 = uint32_t(both >> 32);
}
template <bool kGather, bool kAligned>
inline Pairs load_pairs(const int16_t* x) {
  uint32_t v0, v1, v2, v3;
  load_words<kAligned>(x, v0, v1);
  load_words<kAligned>(x + 4, v2, v3);
  if (!kGather) return {int32_t(v0), int32_t(v1), int32_t(v2), int32_t(v3)};
  return {int32_t((v0 & 0xFFFFu) | (v1 << 16)), int32_t((v1 & 0xFFFF0000u) | (v0 >> 16)),
          int32_t((v2 & 0xFFFFu) | (v3 << 16)), int32_t((v3 & 0xFFFF0000u) | (v2 >> 16))};
}

// sum + the eight products of a row's group (its 64-bit word of weights at w) with the pairs p.
inline int32_t dot8(const uint32_t* w, const Pairs& p, int32_t sum) {
  uint64_t both;
  std::memcpy(&both, w, 8);  // one LDRD
  const uint32_t w0 = uint32_t(both), w1 = uint32_t(both >> 32);
  sum = __smlad(int32_t(__sxtb16(w0)), p.a02, sum);
  sum = __smlad(sxtb16_ror8(w0), p.a13, sum);
  sum = __smlad(int32_t(__sxtb16(w1)), p.b02, sum);
  return __smlad(sxtb16_ror8(w1), p.b13, sum);
}

// One group of a panel: the four rows' eight products each.
template <bool kGather, bool kAligned>
inline void panel_group(const uint32_t* words, const int16_t* x, int32_t& s0, int32_t& s1, int32_t& s2, int32_t& s3) {
  const Pairs p = load_pairs<kGather, kAligned>(x);
  s0 = dot8(words, p, s0);
  s1 = dot8(words + 2, p, s1);
  s2 = dot8(words + 4, p, s2);
  s3 = dot8(words + 6, p, s3);
}

// Two groups per pass, so the loop's own instructions count half.
template <bool kGather, bool kAligned>
RESDYN_NO_SCHEDULE inline void panel_sums_dsp(const int8_t* w, int groups, const int16_t* x, int32_t* sum) {
  constexpr int kWords = kDevicePanelRows * kDeviceGroup / 4;  // of a group
  int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const uint32_t* words = static_cast<const uint32_t*>(__builtin_assume_aligned(w, 8));
  const uint32_t* pairs_end = words + size_t(groups / 2) * 2 * kWords;
  for (; words != pairs_end; words += 2 * kWords, x += 2 * kDeviceGroup) {
    panel_group<kGather, kAligned>(words, x, s0, s1, s2, s3);
    panel_group<kGather, kAligned>(words + kWords, x + kDeviceGroup, s0, s1, s2, s3);
  }
  if (groups % 2) panel_group<kGather, kAligned>(words, x, s0, s1, s2, s3);
  sum[0] = s0, sum[1] = s1, sum[2] = s2, sum[3] = s3;
}
// The same on weights widened by widen_device_weights: a row's group is four words (two LDRD),
// multiplied as they are.
inline int32_t dot8_wide(const int32_t* w, const Pairs& p, int32_t sum) {
  uint64_t lo, hi;
  std::memcpy(&lo, __builtin_assume_aligned(w, 8), 8);
  std::memcpy(&hi, __builtin_assume_aligned(w + 2, 8), 8);
  sum = __smlad(int32_t(uint32_t(lo)), p.a02, sum);
  sum = __smlad(int32_t(uint32_t(lo >> 32)), p.a13, sum);
  sum = __smlad(int32_t(uint32_t(hi)), p.b02, sum);
  return __smlad(int32_t(uint32_t(hi >> 32)), p.b13, sum);
}
template <bool kAligned>
inline void panel_group_wide(const int32_t* w, const int16_t* pairs, int32_t& s0, int32_t& s1, int32_t& s2,
                             int32_t& s3) {
  const Pairs p = load_pairs<false, kAligned>(pairs);
  s0 = dot8_wide(w, p, s0);
  s1 = dot8_wide(w + 4, p, s1);
  s2 = dot8_wide(w + 8, p, s2);
  s3 = dot8_wide(w + 12, p, s3);
}
template <bool kAligned>
RESDYN_NO_SCHEDULE inline void panel_sums_wide(const int32_t* w, int groups, const int16_t* pairs, int32_t* sum) {
  constexpr int kWords = 2 * kDevicePanelRows * kDeviceGroup / 4;  // of a group
  int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (const int32_t* end = w + size_t(groups / 2) * 2 * kWords; w != end; w += 2 * kWords, pairs += 2 * kDeviceGroup) {
    panel_group_wide<kAligned>(w, pairs, s0, s1, s2, s3);
    panel_group_wide<kAligned>(w + kWords, pairs + kDeviceGroup, s0, s1, s2, s3);
  }
  if (groups % 2) panel_group_wide<kAligned>(w, pairs, s0, s1, s2, s3);
  sum[0] = s0, sum[1] = s1, sum[2] = s2, sum[3] = s3;
}
template <bool kAligned>
inline bool panel_sums_wide(const int32_t* wide, int groups, const uint8_t*, const int16_t* pairs, int32_t* sum) {
  if (!wide) return false;
  panel_sums_wide<kAligned>(wide, groups, pairs, sum);
  return true;
}
template <bool kAligned>
inline bool panel_sums_wide(const int32_t*, int, const int16_t*, const int16_t*, int32_t*) {
  return false;
}
// Byte inputs are read from their pairs, int16 ones as they are.
template <bool kAligned>
inline void panel_sums(const int8_t* w, int groups, const uint8_t*, const int16_t* pairs, int32_t* sum) {
  panel_sums_dsp<false, kAligned>(w, groups, pairs, sum);
}
template <bool kAligned>
inline void panel_sums(const int8_t* w, int groups, const int16_t* x, const int16_t*, int32_t* sum) {
  panel_sums_dsp<true, kAligned>(w, groups, x, sum);
}
// Whether the int16 words the kernel reads are 8-byte aligned.
inline bool words_aligned(const uint8_t*, const int16_t* pairs) { return (uintptr_t(pairs) & 7u) == 0; }
inline bool words_aligned(const int16_t* x, const int16_t*) { return (uintptr_t(x) & 7u) == 0; }
#else
// Each input is loaded once for the four rows, whose sums stay in registers.
template <bool /*aligned*/, class In>
inline void panel_sums(const int8_t* w, int groups, const In* x, const int16_t* /*pairs*/, int32_t* sum) {
  int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int k = 0; k < groups; ++k, w += kDevicePanelRows * kDeviceGroup, x += kDeviceGroup)
    for (int e = 0; e < kDeviceGroup; ++e) {
      const int32_t v = x[e];
      s0 += v * w[e];
      s1 += v * w[kDeviceGroup + e];
      s2 += v * w[2 * kDeviceGroup + e];
      s3 += v * w[3 * kDeviceGroup + e];
    }
  sum[0] = s0, sum[1] = s1, sum[2] = s2, sum[3] = s3;
}
#endif
#if !defined(RESDYN_DEVICE_DSP)  // what only the DSP kernel needs: nothing to prepare, any alignment
template <class In>
inline void prepare_pairs(const In*, int, int16_t*) {}
template <class In>
inline bool words_aligned(const In*, const int16_t*) {
  return true;
}
template <bool /*aligned*/, class In>
inline bool panel_sums_wide(const int32_t*, int, const In*, const int16_t*, int32_t*) {
  return false;
}
#endif

}  // namespace detail

// y = W x for one sample, W in the device layout (rows x cols): the selected kernel over the
// whole groups, plain C++ over the last, partial one (x holds exactly cols values). scratch
// (cols values) holds the DSP kernel's widened byte inputs.
template <bool kAligned, class In>
inline void device_panels_product(int rows, int cols, const int8_t* w, const int32_t* wide, const In* x, int32_t* y,
                                  const int16_t* pairs) {
  const int whole = cols / kDeviceGroup, left = cols - whole * kDeviceGroup;
  const size_t panel_size = size_t(device_groups(cols)) * kDevicePanelRows * kDeviceGroup;
  const int8_t* tail = w + size_t(whole) * kDevicePanelRows * kDeviceGroup;  // the partial group's rows
  for (int first = 0; first < rows; first += kDevicePanelRows, w += panel_size, tail += panel_size) {
    int32_t sum[kDevicePanelRows];
    if (!detail::panel_sums_wide<kAligned>(wide, whole, x, pairs, sum))
      detail::panel_sums<kAligned>(w, whole, x, pairs, sum);
    if (wide) wide += panel_size / 2;
    if (left)
      for (int r = 0; r < kDevicePanelRows; ++r)
        sum[r] += detail::dot(x + whole * kDeviceGroup, tail + r * kDeviceGroup, left);
    if (first + kDevicePanelRows <= rows) {
      y[first] = sum[0], y[first + 1] = sum[1], y[first + 2] = sum[2], y[first + 3] = sum[3];
    } else {
      for (int r = 0; first + r < rows; ++r) y[first + r] = sum[r];
    }
  }
}

// y = W x for one sample, W in the device layout (rows x cols): the selected kernel over the
// whole groups, plain C++ over the last, partial one (x holds exactly cols values). scratch
// (cols values) holds the DSP kernel's widened byte inputs; wide (or null) W widened by
// widen_device_weights, which the DSP kernel reads instead of w for byte inputs.
template <class In>
RESDYN_OUT_OF_LINE inline void int_matvec_device(int rows, int cols, const int8_t* w, const In* x, int32_t* y,
                                                 int16_t* scratch, const int32_t* wide = nullptr) {
  detail::prepare_pairs(x, cols / kDeviceGroup * kDeviceGroup, scratch);
  if (detail::words_aligned(x, scratch))
    device_panels_product<true>(rows, cols, w, wide, x, y, scratch);
  else
    device_panels_product<false>(rows, cols, w, wide, x, y, scratch);
}

}  // namespace fixed

// ---------------------------------------------------------------------------
// A quantized network: views of constant arrays (from a model file or an exported C header)
// ---------------------------------------------------------------------------

// rows x cols int8 weights; row i stands for the real weights q * mult[i] * 2^-shift[i]
// (per unit of its integer input), plus bias[i] in Q19.12.
struct QuantMatrix {
  const int8_t* weights = nullptr;
  const int32_t* mult = nullptr;  // in [2^30, 2^31), or 0 for a row of zeros
  const int8_t* shift = nullptr;
  const int32_t* bias = nullptr;
  int rows = 0, cols = 0;
  bool device_layout = false;  // weights row-major, or in the device layout (fixed::device_index)
};

struct QuantNet {
  Config config;
  QuantMatrix stem;        // N x D; its input is the pixel byte (the 1/255 is in its scale)
  QuantMatrix classifier;  // C x N
  QuantMatrix blocks;      // block 1; blocks 2..block_count follow it in every array
  int block_count = 1;     // 1 (shared) or T (per-layer)

  // W_t, b_t (t = 1..T; a shared net has one block for every t).
  QuantMatrix block(int t) const {
    const size_t k = block_count == 1 ? 0 : size_t(t - 1), rows = size_t(blocks.rows);
    QuantMatrix m = blocks;
    m.weights +=
        k * (blocks.device_layout ? fixed::device_weights_size(blocks.rows, blocks.cols) : rows * size_t(blocks.cols));
    m.mult += k * rows;
    m.shift += k * rows;
    m.bias += k * rows;
    return m;
  }
};

// Caller-owned scratch of the one-sample forward pass (quant_buffer_sizes gives the counts).
struct QuantBuffers {
  int32_t* state;  // width: x(t) (Q16.15) or h(t) (Q0.15); holds the final state afterwards
  int16_t* input;  // width (input, if larger and the net has a stem): the int16 input of a product
  uint8_t* bytes;  // width: the byte input of the current product
  int32_t* acc;    // max(width, classes): the int32 sums
  int32_t* sums;   // width: a shared ResNet's running sums W x(t-1)
  // Optional, for a shared net in the device layout: its W widened once by
  // fixed::widen_device_weights (device_weights_size / 2 words), which the DSP kernel reads.
  const int32_t* wide_layer = nullptr;
};

struct QuantBufferSizes {
  int state, input, bytes, acc, sums;
};
inline QuantBufferSizes quant_buffer_sizes(const Config& c) {
  const int input = c.stem && c.input > c.width ? c.input : c.width;  // also the device kernels' widened pixels
  return {c.width, input, c.width, c.width > c.classes ? c.width : c.classes, c.width};
}

namespace fixed {

// Whether a net's layers read bytes (the formats above): an MLP's, and a shared ResNet's.
inline bool layers_read_bytes(const Config& c) { return c.arch == Arch::MLP || c.weights == Weights::Shared; }

// y in Q0.15 (0 .. 32767) as the byte round(y * 255).
inline uint8_t to_byte(int32_t y) { return uint8_t((y * 255 + 16384) >> 15); }

// running += acc, saturating (the shared ResNet's W x(t-1)).
inline void add_sums(int32_t* running, const int32_t* acc, int n) {
  for (int i = 0; i < n; ++i) running[i] = add_saturate(running[i], acc[i]);
}

// The fewest bits to shift a Q.15 state right so that every entry, rounded, fits in int16.
inline int state_shift(const int32_t* x, int n) {
  uint32_t top = 0;
  for (int i = 0; i < n; ++i) {
    const uint32_t a = x[i] < 0 ? 0u - uint32_t(x[i]) : uint32_t(x[i]);
    if (a > top) top = a;
  }
  int sh = 0;
  while (sh < 31 && (sh == 0 ? int64_t(top) : round_shift_right(int64_t(top), sh)) > 32767) ++sh;
  return sh;
}

// x >> sh, rounded, as the int16 input of a product.
inline void narrow_state(const int32_t* x, int n, int sh, int16_t* out) {
  for (int i = 0; i < n; ++i) out[i] = saturate_i16(sh == 0 ? int64_t(x[i]) : round_shift_right(x[i], sh));
}

// Pixel p as Q0.15 of p / 255, rounded (x(0) = u of a net without a stem).
inline int32_t pixel_q15(uint8_t p) { return (int32_t(p) * 32768 + 127) / 255; }

// z = acc * scale + bias in Q19.12, with the input carrying input_frac fraction bits.
inline int32_t preactivation(const QuantMatrix& m, int row, int32_t acc, int input_frac) {
  return add_saturate(rescale(acc, m.mult[row], int(m.shift[row]) + input_frac - kPreFrac), m.bias[row]);
}

// One layer's outputs from its sums: y = sigma(z); a ResNet adds y to x, an MLP (and the
// stem) replaces the state with it (paper §4-5). bytes (if not null) gets y as the next product's input.
inline void activate_rows(const QuantMatrix& m, const int32_t* acc, int input_frac, bool residual, int32_t* state,
                          uint8_t* bytes = nullptr) {
  for (int i = 0; i < m.rows; ++i) {
    const int32_t y = sigmoid_q15(preactivation(m, i, acc[i], input_frac));
    state[i] = residual ? add_saturate(state[i], y) : y;
    if (bytes) bytes[i] = to_byte(y);
  }
}

// The classifier's outputs from its sums: logits in Q19.12.
inline void output_rows(const QuantMatrix& m, const int32_t* acc, int input_frac, int32_t* logits) {
  for (int i = 0; i < m.rows; ++i) logits[i] = preactivation(m, i, acc[i], input_frac);
}

// FNV-1a over the little-endian bytes of n int32 values: a checksum of final states that the
// firmware and the host compute alike.
inline uint32_t checksum(const int32_t* v, int n, uint32_t h = 2166136261u) {
  for (int i = 0; i < n; ++i)
    for (int b = 0; b < 4; ++b) h = (h ^ ((uint32_t(v[i]) >> (8 * b)) & 0xFFu)) * 16777619u;
  return h;
}

}  // namespace fixed

// ---------------------------------------------------------------------------
// The forward pass, written once for every kernel
// ---------------------------------------------------------------------------
// The steps below run a batch of `count` images (row r of each buffer at r times its
// stride) through the stem, the layers and the classifier. What multiplies and what works
// on each row's sums is a policy, Kernels: ReferenceKernels here (plain C++, the device's
// code, count = 1 in quant_forward) or section 9's packed SIMD kernels (QuantRunner). Every
// kernel gives the same integers, so both passes give the same bits.

namespace fixed {

// Which weights a product multiplies by (a packed kernel keeps its own copy of each).
enum class Product { stem, layer, classifier };

// A batch's scratch (quant_buffer_sizes gives a row's lengths). Strides may exceed the
// lengths (a packed product reads zero-padded rows); the padding is never written.
struct QuantBatch {
  int count = 1;
  int32_t* state = nullptr;  // x(t) (Q16.15) or h(t) (Q0.15)
  int16_t* input = nullptr;  // the int16 input of the current product
  int* shift = nullptr;      // per row: the bits the state was shifted right to make `input`
  uint8_t* bytes = nullptr;  // the byte input of the current product
  int32_t* acc = nullptr;    // the int32 sums
  int32_t* sums = nullptr;   // a shared ResNet's running sums W x(t-1)
  int ld_state = 0, ld_input = 0, ld_bytes = 0, ld_acc = 0;
};

// The plain kernels of this section. product: acc = W x for `count` rows of x, row by row.
struct ReferenceKernels {
  template <class In>
  static void product(Product, int /*block*/, const QuantMatrix& m, int count, const In* x, int ldx, int32_t* acc,
                      int ld_acc) {
    for (int r = 0; r < count; ++r)
      int_matvec(m.rows, m.cols, m.weights, x + size_t(r) * ldx, acc + size_t(r) * ld_acc);
  }
  static int state_shift(const int32_t* x, int n) { return fixed::state_shift(x, n); }
  static void narrow_state(const int32_t* x, int n, int sh, int16_t* out) { fixed::narrow_state(x, n, sh, out); }
  static void activate_rows(const QuantMatrix& m, const int32_t* acc, int input_frac, bool residual, int32_t* state,
                            uint8_t* bytes) {
    fixed::activate_rows(m, acc, input_frac, residual, state, bytes);
  }
  static void add_sums(int32_t* running, const int32_t* acc, int n) { fixed::add_sums(running, acc, n); }
};

#if defined(__arm__) && defined(__ARM_FEATURE_DSP)
namespace detail {

// rescale() for shifts 33..62, the usual ones (a row's scale times 2^12 is far below 1), in
// 32-bit steps: v = p - [p < 0] + 2^(shift-1) adds to the high word only, and floor(v / 2^shift)
// is that word shifted right arithmetically (GCC and Clang define >> of a negative number so),
// which rounds to nearest with ties away from zero exactly as round_shift_right. Other shifts
// take rescale() itself.
inline int32_t rescale_dsp(int32_t value, int32_t mult, int shift) {
  if (shift < 33 || shift > 62) return rescale(value, mult, shift);
  const int64_t p = int64_t(value) * mult;  // |p| < 2^62: the high word stays within +-2^30
  const uint64_t q = uint64_t(p) - (p < 0 ? 1u : 0u);
  const int32_t high = int32_t(uint32_t(q >> 32)) + (int32_t(1) << (shift - 33));
  return high >> (shift - 32);
}

}  // namespace detail

// activate_rows and add_sums with the DSP extension: QADD saturates a 32-bit sum and USAT
// clamps sigma's Q0.15 value in one instruction each; a version per kind of layer keeps the
// loop free of tests.
template <bool kResidual, bool kBytes>
inline void activate_rows_dsp(const QuantMatrix& m, const int32_t* acc, int input_frac, int32_t* state,
                              uint8_t* bytes) {
  const int extra = input_frac - kPreFrac, rows = m.rows;
  const int32_t *mult = m.mult, *bias = m.bias;
  const int8_t* shift = m.shift;
  for (int i = 0; i < rows; ++i) {
    const int32_t z = __qadd(detail::rescale_dsp(acc[i], mult[i], int(shift[i]) + extra), bias[i]);
    const int32_t y = __usat((sigmoid_q24(z, kPreFrac) + 256) >> 9, 15);  // sigmoid_q15: 0 .. 32767
    state[i] = kResidual ? __qadd(state[i], y) : y;
    if (kBytes) bytes[i] = to_byte(y);
  }
}
inline void activate_rows_dsp(const QuantMatrix& m, const int32_t* acc, int input_frac, bool residual, int32_t* state,
                              uint8_t* bytes) {
  if (residual)
    bytes ? activate_rows_dsp<true, true>(m, acc, input_frac, state, bytes)
          : activate_rows_dsp<true, false>(m, acc, input_frac, state, bytes);
  else
    bytes ? activate_rows_dsp<false, true>(m, acc, input_frac, state, bytes)
          : activate_rows_dsp<false, false>(m, acc, input_frac, state, bytes);
}
inline void add_sums_dsp(int32_t* running, const int32_t* acc, int n) {
  for (int i = 0; i < n; ++i) running[i] = __qadd(running[i], acc[i]);
}
#endif

// quant_forward's kernels: products on weights in the device layout by the kernel selected
// above (row-major weights: int_matvec), and with the DSP extension activate_rows_dsp; the
// same integers as ReferenceKernels. A byte product widens its inputs into `scratch` (the
// QuantBuffers' int16 input, free while a product reads bytes).
struct DeviceKernels : ReferenceKernels {
  int16_t* scratch = nullptr;
  const int32_t* wide_layer = nullptr;  // a shared net's W widened (QuantBuffers::wide_layer), or null

  template <class In>
  void product(Product which, int block, const QuantMatrix& m, int count, const In* x, int ldx, int32_t* acc,
               int ld_acc) const {
    if (!m.device_layout) return ReferenceKernels::product(which, block, m, count, x, ldx, acc, ld_acc);
    const int32_t* wide = which == Product::layer ? wide_layer : nullptr;
    for (int r = 0; r < count; ++r)
      int_matvec_device(m.rows, m.cols, m.weights, x + size_t(r) * ldx, acc + size_t(r) * ld_acc, scratch, wide);
  }
#if defined(__arm__) && defined(__ARM_FEATURE_DSP)
  static void activate_rows(const QuantMatrix& m, const int32_t* acc, int input_frac, bool residual, int32_t* state,
                            uint8_t* bytes) {
    activate_rows_dsp(m, acc, input_frac, residual, state, bytes);
  }
  static void add_sums(int32_t* running, const int32_t* acc, int n) { add_sums_dsp(running, acc, n); }
#endif
};

// Each row's state as the int16 input of a product, shifted by its own b.shift[r].
template <class Kernels>
inline void narrow_rows(const Kernels& k, const QuantBatch& b, int n) {
  for (int r = 0; r < b.count; ++r) {
    const int32_t* x = b.state + size_t(r) * b.ld_state;
    b.shift[r] = k.state_shift(x, n);
    k.narrow_state(x, n, b.shift[r], b.input + size_t(r) * b.ld_input);
  }
}

// x(0) = sigma(P u + c) with a stem (paper §4), else x(0) = u; and its bytes when the layers
// read bytes. Pixel row r is at pixels + r * ld_pixels.
template <class Kernels>
inline void compute_initial_state(const QuantNet& net, const Kernels& k, const uint8_t* pixels, int ld_pixels,
                                  const QuantBatch& b) {
  const Config& cfg = net.config;
  const bool bytes = layers_read_bytes(cfg);
  if (cfg.stem) {
    k.product(Product::stem, 0, net.stem, b.count, pixels, ld_pixels, b.acc, b.ld_acc);
    for (int r = 0; r < b.count; ++r)
      k.activate_rows(net.stem, b.acc + size_t(r) * b.ld_acc, 0, false, b.state + size_t(r) * b.ld_state,
                      bytes ? b.bytes + size_t(r) * b.ld_bytes : nullptr);
    return;
  }
  for (int r = 0; r < b.count; ++r) {
    const uint8_t* u = pixels + size_t(r) * ld_pixels;
    int32_t* x = b.state + size_t(r) * b.ld_state;
    for (int j = 0; j < cfg.input; ++j) x[j] = pixel_q15(u[j]);
    if (bytes) std::memcpy(b.bytes + size_t(r) * b.ld_bytes, u, size_t(cfg.input));  // x(0)'s bytes are the pixels
  }
}

// Layer t (past the trained depth a shared net repeats its one W, paper §6): a ResNet's
// x(t) = x(t-1) + sigma(W_t x(t-1) + b_t) (paper §4), an MLP's h(t) = sigma(W_t h(t-1) + b_t) (§5).
template <class Kernels>
inline void run_layer(const QuantNet& net, const Kernels& k, int t, const QuantBatch& b) {
  const Config& cfg = net.config;
  const int N = cfg.width, layer = t <= cfg.depth ? t : 1, block = net.block_count == 1 ? 0 : layer - 1;
  const QuantMatrix W = net.block(layer);
  if (!layers_read_bytes(cfg)) {  // a per-layer ResNet: W_t x(t-1), x narrowed to int16
    narrow_rows(k, b, N);
    k.product(Product::layer, block, W, b.count, b.input, b.ld_input, b.acc, b.ld_acc);
    for (int r = 0; r < b.count; ++r)
      k.activate_rows(W, b.acc + size_t(r) * b.ld_acc, kStateFrac - b.shift[r], true, b.state + size_t(r) * b.ld_state,
                      nullptr);
    return;
  }
  // A shared ResNet keeps W x(t-1) = W x(t-2) + W y(t-1) (x(t) = x(t-1) + y(t)), so it
  // multiplies only the bytes of y(t-1) (of x(0) at t = 1); an MLP multiplies those of h(t-1).
  const bool resnet = cfg.arch == Arch::ResNet;
  int32_t* z = resnet ? b.sums : b.acc;
  k.product(Product::layer, block, W, b.count, b.bytes, b.ld_bytes, t == 1 ? z : b.acc, b.ld_acc);
  for (int r = 0; r < b.count; ++r) {
    int32_t* zr = z + size_t(r) * b.ld_acc;
    if (resnet && t > 1) k.add_sums(zr, b.acc + size_t(r) * b.ld_acc, N);
    k.activate_rows(W, zr, 0, resnet, b.state + size_t(r) * b.ld_state, b.bytes + size_t(r) * b.ld_bytes);
  }
}

// logits = K x(T) + k0 (or K h(T) + k0), in Q19.12; row r at logits + r * ld_logits.
template <class Kernels>
inline void compute_logits(const QuantNet& net, const Kernels& k, const QuantBatch& b, int32_t* logits, int ld_logits) {
  narrow_rows(k, b, net.config.width);
  k.product(Product::classifier, 0, net.classifier, b.count, b.input, b.ld_input, b.acc, b.ld_acc);
  for (int r = 0; r < b.count; ++r)
    output_rows(net.classifier, b.acc + size_t(r) * b.ld_acc, kStateFrac - b.shift[r], logits + size_t(r) * ld_logits);
}

// The whole pass on a batch, depth layers (>= 1; beyond the trained depth only if shared).
template <class Kernels>
inline void forward_rows(const QuantNet& net, const Kernels& k, const uint8_t* pixels, int ld_pixels, int depth,
                         const QuantBatch& b, int32_t* logits, int ld_logits) {
  compute_initial_state(net, k, pixels, ld_pixels, b);
  for (int t = 1; t <= depth; ++t) run_layer(net, k, t, b);
  compute_logits(net, k, b, logits, ld_logits);
}

}  // namespace fixed

// The integer forward pass of one image (paper §4-5, in the formats above), on caller-owned
// buffers, without allocating: logits (classes values, Q19.12), and the final state in
// buf.state. depth 0 = the trained depth; deeper unrolls a shared net. Returns false (and
// computes nothing) when depth exceeds the trained depth of a per-layer net.
inline bool quant_forward(const QuantNet& net, const uint8_t* pixels, int depth, const QuantBuffers& buf,
                          int32_t* logits) {
  const Config& cfg = net.config;
  if (depth <= 0) depth = cfg.depth;
  if (depth > cfg.depth && cfg.weights != Weights::Shared) return false;
  int shift = 0;
  const QuantBufferSizes n = quant_buffer_sizes(cfg);  // one row each: the strides are the lengths
  const fixed::QuantBatch one{1,        buf.state, buf.input, &shift,  buf.bytes, buf.acc,
                              buf.sums, n.state,   n.input,   n.bytes, n.acc};
  fixed::DeviceKernels kernels;
  kernels.scratch = buf.input;
  if (net.block_count == 1 && net.blocks.device_layout) kernels.wide_layer = buf.wide_layer;
  fixed::forward_rows(net, kernels, pixels, cfg.input, depth, one, logits, cfg.classes);
  return true;
}

#ifndef RESDYN_FREESTANDING
// ############################################################################
// PART B. HOSTED: THREADS, FLOAT NETWORKS, TRAINING
// ############################################################################
// ============================================================================
// 5. Errors, crash points, callbacks and the clock
// ============================================================================
// Every failure on the host side (a bad file, flag or model) throws an Error carrying a
// one-line message that names the file, flag or field and what is wrong; the program prints
// it and exits with status 2. No input, however malformed, may crash, hang or read out of
// bounds.

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A test facility (the manual's TEST FACILITY): dies (SIGKILL) or raises SIGINT at the moment
// that RESDYN_CRASH_AT names; the variable is read and checked at the first call only.
void crash_point(const std::string& name, long count);

// A callable handed down a call and not kept: a pointer to it and a function that calls it.
// std::function would allocate, and would cost every unit that includes this header the
// parsing of <functional>. It refers to the callable, never copies it: pass a lambda straight
// to a call, or name it first when the reference is stored (ForwardOptions::on_layer).
template <class Signature>
class FunctionRef;
template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  FunctionRef() = default;
  template <class F, class = std::enable_if_t<!std::is_same<std::decay_t<F>, FunctionRef>::value>>
  FunctionRef(F&& f)  // NOLINT: converts like std::function does
      : object_(const_cast<void*>(static_cast<const void*>(&f))), call_([](void* object, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(object))(std::forward<Args>(args)...);
        }) {}
  // Storing a reference to a temporary callable would leave it dangling: refused when compiled.
  template <class F, class = std::enable_if_t<!std::is_lvalue_reference<F>::value &&
                                              !std::is_same<std::decay_t<F>, FunctionRef>::value>>
  FunctionRef& operator=(F&&) = delete;
  FunctionRef(const FunctionRef&) = default;
  FunctionRef& operator=(const FunctionRef&) = default;
  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }
  explicit operator bool() const { return call_ != nullptr; }

 private:
  void* object_ = nullptr;
  R (*call_)(void*, Args...) = nullptr;
};

// Seconds on a clock that only moves forward, for rates and estimates shown to the user;
// no result depends on it.
double monotonic_seconds();

#if defined(RESDYN_IMPLEMENTATION)
double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
void crash_point(const std::string& name, long count) {
  struct Target {
    std::string name;
    long count = 0;
    bool interrupt = false;
  };
  static Target target = [] {
    Target t;
    const char* spec = std::getenv("RESDYN_CRASH_AT");
    if (!spec || !*spec) return t;
    const std::string s = spec;
    const size_t colon = s.find(':');
    char* end = nullptr;
    const long n = colon == std::string::npos ? -1 : std::strtol(s.c_str() + colon + 1, &end, 10);
    t.interrupt = end && std::string(end) == ":int";
    if (colon == 0 || n < 0 || end == s.c_str() + colon + 1 || (*end && !t.interrupt))
      throw Error("RESDYN_CRASH_AT: expected NAME:COUNT or NAME:COUNT:int, got '" + s + "'");
    t.name = s.substr(0, colon);
    t.count = n;
    return t;
  }();
  if (target.name.empty() || name != target.name || count < target.count) return;
  target.name.clear();  // once
  std::fprintf(stderr, "resdyn: crash point %s at %ld (RESDYN_CRASH_AT)\n", name.c_str(), count);
#ifdef SIGKILL
  std::raise(target.interrupt ? SIGINT : SIGKILL);
#else
  target.interrupt ? void(std::raise(SIGINT)) : std::_Exit(137);  // 128 + SIGKILL, as a shell reports it
#endif
}
#endif  // RESDYN_IMPLEMENTATION

// ============================================================================
// 6. Threads and the parallel GEMM
// ============================================================================
// The kernels of section 2, cut by tiles of C across a persistent pool of threads. Which
// thread sums a tile never changes how it is summed, so results are the same bits on any
// thread count.
// A small persistent pool: run(threads, tasks, fn) calls fn(task, worker) for every task,
// on at most `threads` threads (the caller is worker 0), and returns when all are done.
// Tasks are handed out dynamically; callers make each task's result independent of
// which worker runs it, so the outcome is the same for any thread count. Its threads, locks
// and job records live in the implementation unit (State), out of every other unit's sight.
// Tasks per thread that a parallel product is cut into (see gemm_parallel).
constexpr int kTasksPerThread = 4;

class ThreadPool {
 public:
  // How long a worker spins between jobs before it sleeps (see ThreadPool::State).
  static constexpr int kSpinMicroseconds = 100;

  static ThreadPool& shared();
  // The threads this process may run at once: the cores it may run on (at least 1); 1 under
  // RESDYN_NO_THREADS.
  static int hardware_threads();
  void run(int threads, int tasks, FunctionRef<void(int task, int worker)> fn);
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool();

 private:
  ThreadPool();
  struct State;
  State* state_;
};

#if defined(RESDYN_IMPLEMENTATION)
ThreadPool& ThreadPool::shared() {
  static ThreadPool pool;
  return pool;
}

#ifndef RESDYN_NO_THREADS
// Each run has its own Job record, so a worker still finishing one job can never take a task
// of the next. Between jobs a worker spins for kSpinMicroseconds before it sleeps, and so
// does the caller waiting for the last task: a batch of one image runs 17 products of
// ~0.1 ms each, and waking a sleeping thread (a futex and an interrupt to the other core,
// more in a virtual machine) would cost a large part of each.
// Spinning pays only while the awaited thread runs on another core. When other programs
// share the cores, waits grow (the awaited thread waits for a core) and a spinning thread
// takes cycles from it; so a thread that has spun in vain kMissesBeforeSleeping times in a
// row sleeps at once, until a wait short enough to have been spun through shows that
// spinning pays again. Nor does a job spin that has more threads than the process has cores.
struct ThreadPool::State {
  struct Job {
    FunctionRef<void(int, int)> fn;
    int tasks = 0, threads = 0;
    std::atomic<int> next{0};
    std::atomic<int> pending{0};
  };
  std::mutex run_mutex, mutex;
  std::condition_variable wake, done;
  std::vector<std::thread> workers;
  std::shared_ptr<Job> job;
  std::atomic<uint64_t> generation{0};  // written under mutex, read while spinning too
  bool stopping = false;

  static void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
  }
  static constexpr int kMissesBeforeSleeping = 4;
  static thread_local int missed_spins;  // this thread's vain spins in a row
  const int cores = hardware_threads();

  // Busy-waits up to kSpinMicroseconds for finished() while spinning pays (above), for a
  // job of `threads` threads; false if it is still not finished.
  template <class Finished>
  bool spin_until(int threads, const Finished& finished) const {
    if (threads > cores || missed_spins >= kMissesBeforeSleeping) {
      if (!finished()) return false;
      missed_spins = 0;  // no wait at all: the shortest of short waits
      return true;
    }
    const auto limit = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicroseconds);
    for (;;) {
      for (int i = 0; i < 64; ++i) {
        if (finished()) {
          missed_spins = 0;
          return true;
        }
        cpu_relax();
      }
      if (std::chrono::steady_clock::now() > limit) break;
    }
    if (finished()) return true;
    ++missed_spins;
    return false;
  }
  // After a wait that slept: had it been short enough to spin through, spinning pays again.
  static void slept_since(std::chrono::steady_clock::time_point start) {
    if (std::chrono::steady_clock::now() - start <= std::chrono::microseconds(kSpinMicroseconds)) missed_spins = 0;
  }

  void work_on(Job& j, int worker) {
    for (;;) {
      const int task = j.next.fetch_add(1);
      if (task >= j.tasks) return;
      j.fn(task, worker);
      if (j.pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex);  // the caller may be between its check and its wait
        done.notify_all();
      }
    }
  }

  void worker_loop(int id) {
    uint64_t seen = 0;
    int last_threads = 1;  // of the last job this worker saw: the next is likely the same
    for (;;) {
      const auto start = std::chrono::steady_clock::now();
      const bool spun = spin_until(last_threads, [&] { return generation.load(std::memory_order_acquire) != seen; });
      std::shared_ptr<Job> current;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return generation.load() != seen; });
        if (stopping) return;
        seen = generation.load();
        current = job;
      }
      if (!spun) slept_since(start);
      if (!current) continue;
      last_threads = current->threads;
      if (id < current->threads) work_on(*current, id);
    }
  }
};
thread_local int ThreadPool::State::missed_spins = 0;

ThreadPool::ThreadPool() : state_(new State) {}

int ThreadPool::hardware_threads() {
#if defined(__linux__)
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) return std::max(1, CPU_COUNT(&allowed));
#endif
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

void ThreadPool::run(int threads, int tasks, FunctionRef<void(int task, int worker)> fn) {
  threads = std::max(1, std::min({threads, tasks, RESDYN_MAX_THREADS}));
  if (threads == 1) {
    for (int t = 0; t < tasks; ++t) fn(t, 0);
    return;
  }
  State& s = *state_;
  std::lock_guard<std::mutex> one_job_at_a_time(s.run_mutex);
  while (int(s.workers.size()) < threads - 1) {
    const int id = int(s.workers.size()) + 1;
    s.workers.emplace_back([&s, id] { s.worker_loop(id); });
  }
  auto job = std::make_shared<State::Job>();
  job->fn = fn;
  job->tasks = tasks;
  job->threads = threads;
  job->pending.store(tasks);
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.job = job;
    s.generation.store(s.generation.load() + 1, std::memory_order_release);
  }
  s.wake.notify_all();  // cheap when every worker is still spinning
  s.work_on(*job, 0);
  const auto start = std::chrono::steady_clock::now();
  if (!s.spin_until(threads, [&] { return job->pending.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.done.wait(lock, [&job] { return job->pending.load() == 0; });
    State::slept_since(start);
  }
  std::lock_guard<std::mutex> lock(s.mutex);
  s.job.reset();
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
    state_->generation.store(state_->generation.load() + 1);
  }
  state_->wake.notify_all();
  for (auto& w : state_->workers) w.join();
  delete state_;
}
#else
// RESDYN_NO_THREADS: the same interface, every task run in the caller, in order.
struct ThreadPool::State {};
ThreadPool::ThreadPool() : state_(nullptr) {}
int ThreadPool::hardware_threads() { return 1; }
ThreadPool::~ThreadPool() = default;
void ThreadPool::run(int, int tasks, FunctionRef<void(int task, int worker)> fn) {
  for (int t = 0; t < tasks; ++t) fn(t, 0);
}
#endif  // RESDYN_NO_THREADS
#endif  // RESDYN_IMPLEMENTATION

#if defined(RESDYN_KERNEL_BODIES)
namespace detail {

// p moved on to the next 64-byte boundary, so that every packed strip's loads are whole
// cache lines (the buffers allocate 64 bytes more than they hold for it).
template <class Real>
Real* line_aligned(Real* p) {
  const size_t misalignment = reinterpret_cast<uintptr_t>(p) % 64;
  return p + (misalignment ? (64 - misalignment) / sizeof(Real) : 0);
}

// `size` values of scratch from buf (grown if it is smaller, kept between calls), line-aligned.
template <class Real>
Real* aligned_scratch(std::vector<Real>& buf, size_t size) {
  const size_t slack = 64 / sizeof(Real);
  if (buf.size() < size + slack) buf.resize(size + slack);
  return line_aligned(buf.data());
}

// A whole operand packed ahead, `extent` rows of op(A) or columns of op(B) in strips of
// `width`: for each depth block of Path::k_step(K), in order, every strip (the last zero-
// padded) at out + units(k0) * padded extent + first * units(kc), as gemm_tile reads it.
// pack(k0, kc, first, count, at) packs one run of strips; each of `threads` threads packs a share.
template <class Path, class Pack>
void pack_whole(int K, int extent, int width, typename Path::Packed* out, int threads, const Pack& pack) {
  const int padded = (extent + width - 1) / width * width, strips = padded / width;
  const int kstep = Path::k_step(K);
  const int pack_tasks = std::min(strips, kTasksPerThread * std::max(1, threads));
  ThreadPool::shared().run(threads, pack_tasks, [&](int task, int) {
    const int s0 = int(long(task) * strips / pack_tasks) * width;
    const int s1 = min_int(extent, int(long(task + 1) * strips / pack_tasks) * width);
    for (int k0 = 0; k0 < K; k0 += kstep) {
      const int kc = min_int(kstep, K - k0);
      pack(k0, kc, s0, s1 - s0, out + size_t(Path::units(k0)) * padded + size_t(s0) * Path::units(kc));
    }
  });
}

// The whole of op(B) (K x N) in PackedB's layout (below): strips of NR columns, as Path::pack_b writes them.
template <class Path, class Real>
void pack_b_whole(Op opB, const Real* B, int ldb, int K, int N, typename Path::Packed* out, int threads) {
  pack_whole<Path>(K, N, GemmShape<Real>::NR, out, threads,
                   [&](int k0, int kc, int j0, int nc, typename Path::Packed* at) {
                     Path::pack_b(opB, B, ldb, k0, kc, j0, nc, at);
                   });
}

// The whole of op(A) (M x K): strips of Path::MR rows, as Path::pack_a writes them.
template <class Path, class Real>
void pack_a_whole(Op opA, const Real* A, int lda, int M, int K, typename Path::Packed* out, int threads) {
  pack_whole<Path>(K, M, Path::MR, out, threads, [&](int k0, int kc, int i0, int mc, typename Path::Packed* at) {
    Path::template pack_a<Path::MR>(opA, A, lda, i0, mc, k0, kc, at);
  });
}

// Products of at most this many rows (a batch of one to four samples: inference) run on a
// register tile of exactly their rows, not MR rows of which most would be zero padding.
constexpr int kFewRows = 4;

// Splits C into tiles, one task each, and runs them on the pool. The tiles cut the longer
// side of C at multiples of the register tile, so each holds whole micro-tiles.
template <class Real, class Path>
void gemm_parallel(Op opA, Op opB, int M, int N, int K, Real alpha, const Real* A, int lda, const Real* B, int ldb,
                   const void* packed_b, Real beta, Real* C, int ldc, int threads, const Epilogue<Real>& epilogue) {
  using S = GemmShape<Real>;
  using Packed = typename Path::Packed;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // empty sum: C = beta C
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) C[size_t(i) * ldc + j] = beta == Real(0) ? Real(0) : beta * C[size_t(i) * ldc + j];
    if (epilogue.apply) epilogue.apply(epilogue.ctx, C, ldc, 0, 0, M, N);
    return;
  }
  // Small products run on one thread: a hand-off costs more. A few rows against a large B
  // are worth splitting anyway: their time goes into reading B.
  if (2.0 * M * N * K < 4e6 && double(N) * K < 2e5) threads = 1;
  const int padded_n = (N + S::NR - 1) / S::NR * S::NR;
  const bool split_rows = M >= N;
  const int unit = split_rows ? Path::MR : S::NR;
  const int extent = split_rows ? M : N;
  const int units = (extent + unit - 1) / unit;
  // Several tasks per thread, handed out as threads come free: a thread that the system
  // holds back (another program on the cores) leaves its share to the others. A few rows:
  // tasks of two strips.
  const int tasks = M <= kFewRows ? (units + 1) / 2 : std::max(1, std::min(kTasksPerThread * threads, units));
  // Each task would pack the whole of the operand it does not cut for itself: op(B) when
  // cut by rows, op(A) when cut by columns. Pack it once instead, each thread a share of its
  // strips, into a buffer the tiles then read as they read a PackedB (the same layout).
  // Training's products are cut by columns (batch rows < width) and run every step, so
  // op(A)'s buffer is kept per calling thread; op(B)'s, evaluation's large batches, is not.
  std::unique_ptr<Packed[]> shared_b;  // not zeroed first: the packing writes every value
  if (!packed_b && split_rows && tasks > 1) {
    shared_b.reset(new Packed[size_t(padded_n) * packed_depth<Path>(K) + 64 / sizeof(Packed)]);
    Packed* out = detail::line_aligned(shared_b.get());
    pack_b_whole<Path>(opB, B, ldb, K, N, out, threads);
    packed_b = out;
  }
  const int padded_m = (M + Path::MR - 1) / Path::MR * Path::MR;
  const Packed* packed_a = nullptr;
  if (!split_rows && M > kFewRows && tasks > 1) {
    thread_local std::vector<Packed> shared_a;
    Packed* out = aligned_scratch(shared_a, size_t(padded_m) * packed_depth<Path>(K));
    pack_a_whole<Path>(opA, A, lda, M, K, out, threads);
    packed_a = out;
  }
  const int kc = Path::units(std::min(Path::k_step(K), K));  // packed rows of the deepest block
  constexpr size_t line = 64 / sizeof(Packed);               // values per cache line
  constexpr int MC = Path::MR * (S::MC / S::MR);             // rows of A per block, as gemm_tile cuts them
  const size_t packA_size = packed_a ? 0 : (size_t(MC) * kc + line - 1) / line * line;
  const size_t packB_size = packed_b ? 0 : size_t(std::min(S::NC, padded_n)) * kc;
  const GemmProduct<Real> product{opA, opB,      K,        alpha, beta, A,        lda,      B,
                                  ldb, packed_b, padded_n, C,     ldc,  epilogue, packed_a, padded_m};
  ThreadPool::shared().run(threads, tasks, [&](int task, int) {
    // Packing buffers per thread, kept between calls: training does not allocate per step.
    thread_local std::vector<Packed> buf;
    Packed* packA = aligned_scratch(buf, packA_size + packB_size);
    Packed* packB = packA + packA_size;  // a whole number of cache lines on: aligned too
    const int lo = int(long(task) * units / tasks) * unit;
    const int hi = std::min(extent, int(long(task + 1) * units / tasks) * unit);
    const int i0 = split_rows ? lo : 0, i1 = split_rows ? hi : M;
    const int j0 = split_rows ? 0 : lo, j1 = split_rows ? N : hi;
    auto tile = [&](auto rows) {
      gemm_tile<Real, Path, decltype(rows)::value>(product, {i0, i1, j0, j1}, packA, packB);
    };
    switch (M) {
      case 1: tile(std::integral_constant<int, 1>()); break;
      case 2: tile(std::integral_constant<int, 2>()); break;
      case 3: tile(std::integral_constant<int, 3>()); break;
      case kFewRows: tile(std::integral_constant<int, kFewRows>()); break;
      default: tile(std::integral_constant<int, Path::MR>()); break;
    }
  });
}

// gemm_parallel on the path a product's precision asks for (bf16: float products only).
template <class Real, bool Portable>
void gemm_in(Precision precision, Op opA, Op opB, int M, int N, int K, Real alpha, const Real* A, int lda,
             const Real* B, int ldb, const void* packed_b, Real beta, Real* C, int ldc, int threads,
             const Epilogue<Real>& epilogue) {
  if constexpr (std::is_same<Real, float>::value)
    if (precision == Precision::bf16)
      return gemm_parallel<Real, Bf16Path<Portable>>(opA, opB, M, N, K, alpha, A, lda, B, ldb, packed_b, beta, C, ldc,
                                                     threads, epilogue);
  gemm_parallel<Real, Fp32Path<Real, Portable>>(opA, opB, M, N, K, alpha, A, lda, B, ldb, packed_b, beta, C, ldc,
                                                threads, epilogue);
}

}  // namespace detail
#endif  // RESDYN_KERNEL_BODIES

// C = alpha op(A) op(B) + beta C (see the top of this section), then the epilogue, if any,
// on every tile of C; float products in the arithmetic `precision` asks for.
template <class Real>
void gemm(Op opA, Op opB, int M, int N, int K, Real alpha, const Real* A, int lda, const Real* B, int ldb, Real beta,
          Real* C, int ldc, int threads = 1, const Epilogue<Real>& epilogue = {},
          Precision precision = Precision::fp32);

// The same on the portable kernel only: the reference the vector kernels are tested against.
template <class Real>
void gemm_portable(Op opA, Op opB, int M, int N, int K, Real alpha, const Real* A, int lda, const Real* B, int ldb,
                   Real beta, Real* C, int ldc, int threads = 1, Precision precision = Precision::fp32);

// The kernel bf16 products run on in this process: "amx", or "portable" (a build without
// AMX, or a system that does not grant its registers).
const char* bf16_kernel_name();
#if defined(RESDYN_IMPLEMENTATION)
const char* bf16_kernel_name() {
#if defined(RESDYN_AMX)
  if (detail::amx_permitted()) return "amx";
#endif
  return "portable";
}
#endif

// op(B) packed once, ahead of time, for a B that many products read unchanged (the weights
// at inference, or a shared W through the T layers of one training step): gemm then skips
// packing it and gives the same bits as from B itself. Layout: pack_b_whole's, in the
// precision it was packed for (bfloat16 pairs take half the memory).
template <class Real>
class PackedB {
 public:
  PackedB() = default;
  PackedB(Op opB, int K, int N, const Real* B, int ldb, int threads = 1, Precision precision = Precision::fp32) {
    pack(opB, K, N, B, ldb, threads, precision);
  }
  // Packs op(B) anew, in the memory it already has when that is large enough.
  void pack(Op opB, int K, int N, const Real* B, int ldb, int threads = 1, Precision precision = Precision::fp32);
  int K() const { return K_; }
  int N() const { return N_; }
  Precision precision() const { return precision_; }
  const void* data() const {
    return precision_ == Precision::bf16 ? static_cast<const void*>(pairs_.data() + offset_)
                                         : storage_.data() + offset_;
  }

 private:
  int K_ = 0, N_ = 0;
  Precision precision_ = Precision::fp32;
  size_t offset_ = 0;
  std::vector<Real> storage_;    // fp32
  std::vector<uint32_t> pairs_;  // bf16: pairs of bfloat16
};

// C = alpha op(A) B + beta C with B packed ahead of time (op(A) is M x B.K(), C is M x B.N()),
// in B's precision.
template <class Real>
void gemm(Op opA, int M, Real alpha, const Real* A, int lda, const PackedB<Real>& B, Real beta, Real* C, int ldc,
          int threads = 1, const Epilogue<Real>& epilogue = {});

#if defined(RESDYN_KERNEL_BODIES)
template <class Real>
void gemm(Op opA, Op opB, int M, int N, int K, Real alpha, const Real* A, int lda, const Real* B, int ldb, Real beta,
          Real* C, int ldc, int threads, const Epilogue<Real>& epilogue, Precision precision) {
  detail::gemm_in<Real, false>(precision, opA, opB, M, N, K, alpha, A, lda, B, ldb, nullptr, beta, C, ldc, threads,
                               epilogue);
}

template <class Real>
void gemm_portable(Op opA, Op opB, int M, int N, int K, Real alpha, const Real* A, int lda, const Real* B, int ldb,
                   Real beta, Real* C, int ldc, int threads, Precision precision) {
  detail::gemm_in<Real, true>(precision, opA, opB, M, N, K, alpha, A, lda, B, ldb, nullptr, beta, C, ldc, threads, {});
}

template <class Real>
void PackedB<Real>::pack(Op opB, int K, int N, const Real* B, int ldb, int threads, Precision precision) {
  using S = GemmShape<Real>;
  K_ = K;
  N_ = N;
  precision_ = std::is_same<Real, float>::value ? precision : Precision::fp32;
  const size_t padded_n = size_t(N + S::NR - 1) / S::NR * S::NR;
  if constexpr (std::is_same<Real, float>::value)
    if (precision_ == Precision::bf16) {
      const size_t values = padded_n * detail::packed_depth<detail::Bf16Path<false>>(K) + 64 / sizeof(uint32_t);
      if (pairs_.size() < values) pairs_.resize(values);
      offset_ = size_t(detail::line_aligned(pairs_.data()) - pairs_.data());
      return detail::pack_b_whole<detail::Bf16Path<false>>(opB, B, ldb, K, N, pairs_.data() + offset_, threads);
    }
  const size_t values = padded_n * size_t(K) + 64 / sizeof(Real);
  if (storage_.size() < values) storage_.resize(values);
  offset_ = size_t(detail::line_aligned(storage_.data()) - storage_.data());
  detail::pack_b_whole<detail::Fp32Path<Real, false>>(opB, B, ldb, K, N, storage_.data() + offset_, threads);
}

template <class Real>
void gemm(Op opA, int M, Real alpha, const Real* A, int lda, const PackedB<Real>& B, Real beta, Real* C, int ldc,
          int threads, const Epilogue<Real>& epilogue) {
  detail::gemm_in<Real, false>(B.precision(), opA, Op::N, M, B.N(), B.K(), alpha, A, lda, nullptr, 0, B.data(), beta, C,
                               ldc, threads, epilogue);
}
#endif  // RESDYN_KERNEL_BODIES

#define RESDYN_GEMM_INSTANCES(Real)                                                                                  \
  RESDYN_INSTANCE void gemm<Real>(Op, Op, int, int, int, Real, const Real*, int, const Real*, int, Real, Real*, int, \
                                  int, const Epilogue<Real>&, Precision);                                            \
  RESDYN_INSTANCE void gemm_portable<Real>(Op, Op, int, int, int, Real, const Real*, int, const Real*, int, Real,    \
                                           Real*, int, int, Precision);                                              \
  RESDYN_INSTANCE void gemm<Real>(Op, int, Real, const Real*, int, const PackedB<Real>&, Real, Real*, int, int,      \
                                  const Epilogue<Real>&);                                                            \
  RESDYN_INSTANCE class PackedB<Real>;
RESDYN_GEMM_INSTANCES(float)
RESDYN_GEMM_INSTANCES(double)

// ============================================================================
// 7. Networks in memory
// ============================================================================
// A net owns its configuration and one flat vector of parameters in the layout of
// section 3; initialise draws them from the seeded generator of section 1.

// A network: its configuration and its parameters in the layout above.
template <class Real>
struct Net {
  Config config;
  Layout layout;
  std::vector<Real> params;

  Net() = default;
  explicit Net(const Config& cfg) : config(checked(cfg)), layout(layout_of(cfg)), params(layout.total, Real(0)) {}
  // The configuration, refused before anything is allocated for it.
  static const Config& checked(const Config& cfg) {
    if (const char* why = config_problem(cfg)) throw Error(std::string("network: ") + why);
    return cfg;
  }
  Real* P() { return params.data() + layout.P; }
  Real* c() { return params.data() + layout.c; }
  Real* K() { return params.data() + layout.K; }
  Real* k0() { return params.data() + layout.k0; }
  Real* W(int t) { return params.data() + layout.W(t); }
  Real* b(int t) { return params.data() + layout.b(t); }
  const Real* P() const { return params.data() + layout.P; }
  const Real* c() const { return params.data() + layout.c; }
  const Real* K() const { return params.data() + layout.K; }
  const Real* k0() const { return params.data() + layout.k0; }
  const Real* W(int t) const { return params.data() + layout.W(t); }
  const Real* b(int t) const { return params.data() + layout.b(t); }
};

// Initialisation (our choice; the paper leaves it open). Glorot-uniform limits
// a = gain * sqrt(6 / (fan_in + fan_out)):
//  - stem P: gain 1, c = 0;
//  - ResNet residual block W_t, b_t = 0 and classifier K, k0 = 0: every layer starts by
//    adding sigma(0) = 1/2 and the net learns the residuals from there; deep sigmoid
//    ResNets train clearly faster from this start than from a random one;
//  - MLP W_t: gain 4 (the sigmoid's slope at 0 is 1/4, so this keeps the signal's scale
//    through the layers), b_t = 0; MLP classifier K: gain 1, k0 = 0 (a zero MLP block
//    would make every hidden unit identical and never break the symmetry).
template <class Real>
void initialise(Net<Real>& net, Rng& rng) {
  const Config& cfg = net.config;
  auto glorot = [&rng](Real* w, size_t count, int fan_in, int fan_out, double gain) {
    const double a = gain * std::sqrt(6.0 / (double(fan_in) + fan_out));
    for (size_t i = 0; i < count; ++i) w[i] = Real(rng.uniform(-a, a));
  };
  std::fill(net.params.begin(), net.params.end(), Real(0));
  const size_t N = size_t(cfg.width);
  if (cfg.stem) glorot(net.P(), N * cfg.input, cfg.input, cfg.width, 1.0);
  if (cfg.arch == Arch::MLP) {
    for (int blk = 1; blk <= net.layout.blocks; ++blk) {
      glorot(net.W(blk), N * N, cfg.width, cfg.width, 4.0);
      // Centre each unit: its inputs sit near sigmoid's midpoint 1/2, so without this every
      // unit would start with a random offset (1/2) sum_j W_ij of the same size as its
      // signal, and deep MLPs (15 x 1064) would start saturated and never train.
      for (size_t i = 0; i < N; ++i) {
        double row_sum = 0;
        for (size_t j = 0; j < N; ++j) row_sum += double(net.W(blk)[i * N + j]);
        net.b(blk)[i] = Real(-0.5 * row_sum);
      }
    }
    glorot(net.K(), size_t(cfg.classes) * N, cfg.width, cfg.classes, 1.0);
  }
}

// ============================================================================
// 8. Forward pass (paper §4-5)
// ============================================================================
//
// Activations are row-major batches: row r of a B x N block is sample r.
//   stem:      x(0) = sigma(U P^T + c)                 (or x(0) = U without a stem)
//   ResNet:    y(t) = sigma(x(t-1) W_t^T + b_t),  x(t) = x(t-1) + y(t)
//   MLP:       h(t) = sigma(h(t-1) W_t^T + b_t)        (h is kept in the x blocks)
//   output:    logits = x(T) K^T + k0

// Activations of one batch. With keep_all, x holds x(0..T) and y holds y(1..T) (what
// backprop needs); without it only the newest layer is kept, so memory does not grow with
// depth (unrolling to 1000 layers), and on_layer sees every layer as it is computed.
template <class Real>
struct Trace {
  int batch = 0, depth = 0, width = 0;
  bool keep_all = true;
  bool keep_residuals = true;  // y(t) stored; if not (no probe reads it), x(t) is summed in place
  bool resnet = true;
  std::vector<Real> input;             // B x D, pixels / 255 (possibly with noise added by a probe)
  std::vector<Real> x;                 // x(t) (ResNet) or h(t) (MLP), t = 0..T
  std::vector<Real> y;                 // y(t), t = 1..T (ResNet with keep_residuals only)
  std::vector<Real> logits;            // B x C
  bool residuals_overwritten = false;  // backward_walk wrote gz(t) over a ResNet's y(t)

  size_t block() const { return size_t(batch) * width; }
  Real* state(int t) { return x.data() + (keep_all ? size_t(t) : size_t(t & 1)) * block(); }
  const Real* state(int t) const { return x.data() + (keep_all ? size_t(t) : size_t(t & 1)) * block(); }
  // The layer's sigmoid output: the residual y(t) of a ResNet, h(t) of an MLP.
  Real* residual(int t) { return resnet ? y.data() + (keep_all ? size_t(t - 1) : 0) * block() : state(t); }
  const Real* residual(int t) const { return resnet ? y.data() + (keep_all ? size_t(t - 1) : 0) * block() : state(t); }
};

// A net's weight matrices packed once for gemm (PackedB): the stem's P^T, every block's
// W_t^T, the classifier's K^T. For inference: forward reads them when given one and gives
// the same bits as from the net itself. It copies the weights as they are now, so a net
// whose weights change must be packed again (pack) before the next forward pass: training
// does so each step for a shared-weight net, whose one W serves all T layers.
template <class Real>
struct PackedNet {
  const Net<Real>* net = nullptr;         // whose weights these are; forward reads the biases there
  Precision precision = Precision::fp32;  // of the products that read them
  PackedB<Real> stem, classifier;
  std::vector<PackedB<Real>> blocks;  // W_1^T, or W_1^T .. W_T^T

  explicit PackedNet(const Net<Real>& n, int threads = 1, Precision p = Precision::fp32) : net(&n), precision(p) {
    pack(threads);
  }
  // Packs the net's weights as they are now (again, after they changed), in the same memory.
  void pack(int threads = 1) {
    const Config& cfg = net->config;
    const int N = cfg.width;
    if (cfg.stem) stem.pack(Op::T, cfg.input, N, net->P(), cfg.input, threads, precision);
    blocks.resize(size_t(net->layout.blocks));
    for (int blk = 1; blk <= net->layout.blocks; ++blk)
      blocks[size_t(blk - 1)].pack(Op::T, N, N, net->W(blk), N, threads, precision);
    classifier.pack(Op::T, N, cfg.classes, net->K(), N, threads, precision);
  }
  const PackedB<Real>& W(int t) const { return blocks[blocks.size() == 1 ? 0 : size_t(t - 1)]; }
};

template <class Real>
struct ForwardOptions {
  int depth = 0;         // layers to run; 0 = the net's depth; more = unroll (shared only)
  bool keep_all = true;  // keep every layer (training) or only the newest (probes, eval)
  int threads = 1;
  const PackedNet<Real>* packed = nullptr;  // the net's weights packed ahead of time (inference)
  Precision precision = Precision::fp32;    // of every product (section 2); packed's must match
  FunctionRef<void(int t, const Real* y, const Real* x)> on_layer;  // after each layer t >= 1
};

// Pixels (uint8, B x D) into the trace's input block as values in [0, 1].
template <class Real>
void set_input(Trace<Real>& trace, const uint8_t* pixels, int batch, int input_size) {
  trace.batch = batch;
  trace.input.resize(size_t(batch) * input_size);
  for (size_t i = 0; i < trace.input.size(); ++i) trace.input[i] = Real(pixels[i]) * Real(1.0 / 255.0);
}

// The work done on each tile of a layer's product z = x(t-1) W_t^T as soon as it is summed
// (a gemm epilogue, so the activations make one trip through memory):
//   y = sigma(z + b_t) in place, and for a ResNet also x(t) = x(t-1) + y; or, when no one
//   reads y (x == nullptr: z was summed in x(t)'s place), x(t) = x(t-1) + sigma(z + b_t) in place.
template <class Real>
struct LayerEpilogue {
  const Real* bias;
  const Real* prev;  // x(t-1), or nullptr: no residual add
  Real* x;           // x(t), or nullptr with prev: C is x(t)
  int ld;

  static void apply(const void* ctx, Real* C, int ldc, int row0, int col0, int rows, int cols) {
    const LayerEpilogue& e = *static_cast<const LayerEpilogue*>(ctx);
    const Real* b = e.bias + col0;
    for (int r = 0; r < rows; ++r) {
      Real* y = C + size_t(r) * ldc;
      for (int c = 0; c < cols; ++c) y[c] = sigmoid(y[c] + b[c]);
      if (!e.prev) continue;
      // The residual add, into x(t) or over y where z was summed in x(t)'s place; the tile's
      // row is still in L1, so the second pass costs no trip through memory.
      const Real* p = e.prev + size_t(row0 + r) * e.ld + col0;
      Real* x = e.x ? e.x + size_t(row0 + r) * e.ld + col0 : y;
      for (int c = 0; c < cols; ++c) x[c] = p[c] + y[c];
    }
  }
  Epilogue<Real> as_epilogue() const { return {&LayerEpilogue::apply, this, {prev, x}, ld}; }
};

// C = A op(W) + beta C for a weight matrix W (op T: a layer's x W^T; op N: backprop's gz W),
// from its copy packed ahead of time when there is one (the same bits, PackedB, packed in the
// same precision: the callers check), else from W.
template <class Real>
void gemm_weights(Op opW, int M, int N, int K, const Real* A, int lda, const Real* W, int ldw,
                  const PackedB<Real>* packed, Real beta, Real* C, int ldc, int threads, const Epilogue<Real>& epilogue,
                  Precision precision) {
  if (packed)
    gemm(Op::N, M, Real(1), A, lda, *packed, beta, C, ldc, threads, epilogue);
  else
    gemm(Op::N, opW, M, N, K, Real(1), A, lda, W, ldw, beta, C, ldc, threads, epilogue, precision);
}

// Sizes the trace for this net, batch and depth (reusing its memory when it fits). Keeping
// every layer keeps the residuals too; keeping only the newest keeps y(t) only if asked.
template <class Real>
void prepare_trace(const Net<Real>& net, Trace<Real>& trace, int depth, bool keep_all, bool keep_residuals) {
  const Config& cfg = net.config;
  trace.depth = depth;
  trace.width = cfg.width;
  trace.keep_all = keep_all;
  trace.keep_residuals = keep_all || keep_residuals;
  trace.residuals_overwritten = false;
  trace.resnet = cfg.arch == Arch::ResNet;
  trace.x.resize((keep_all ? size_t(depth) + 1 : 2) * trace.block());
  const size_t residual_blocks = !trace.resnet || !trace.keep_residuals ? 0 : keep_all ? size_t(depth) : 1;
  trace.y.resize(residual_blocks * trace.block());
  trace.logits.resize(size_t(trace.batch) * cfg.classes);
}

// x(0) from the input: the stem, or a copy of the pixels.
template <class Real>
void compute_initial_state(const Net<Real>& net, Trace<Real>& trace, int threads,
                           const PackedNet<Real>* packed = nullptr, Precision precision = Precision::fp32) {
  const Config& cfg = net.config;
  const int B = trace.batch, N = cfg.width, D = cfg.input;
  Real* x0 = trace.state(0);
  if (cfg.stem) {
    const LayerEpilogue<Real> stem{net.c(), nullptr, nullptr, N};
    gemm_weights(Op::T, B, N, D, trace.input.data(), D, net.P(), D, packed ? &packed->stem : nullptr, Real(0), x0, N,
                 threads, stem.as_epilogue(), precision);
  } else {
    std::copy(trace.input.begin(), trace.input.begin() + trace.block(), x0);
  }
}

// Layers 1..depth from x(0) already in the trace, then the logits.
template <class Real>
void run_layers(const Net<Real>& net, Trace<Real>& trace, const ForwardOptions<Real>& opt) {
  const Config& cfg = net.config;
  const int B = trace.batch, N = cfg.width, depth = trace.depth;
  // Unless y(t) is kept, z is summed where x(t) goes: one block of activations fewer through memory.
  const bool in_place = trace.resnet && !trace.keep_residuals;
  if (opt.on_layer && in_place)
    throw Error("run_layers: on_layer reads y(t), which this trace does not keep (see prepare_trace)");
  for (int t = 1; t <= depth; ++t) {
    // Past the trained depth only a shared net has weights (the 1000-layer runs of paper §6).
    const int layer = t <= cfg.depth ? t : 1;
    const Real* prev = trace.state(t - 1);
    Real* z = in_place ? trace.state(t) : trace.residual(t);
    const LayerEpilogue<Real> layer_done{net.b(layer), trace.resnet ? prev : nullptr,
                                         trace.resnet && !in_place ? trace.state(t) : nullptr, N};
    gemm_weights(Op::T, B, N, N, prev, N, net.W(layer), N, opt.packed ? &opt.packed->W(layer) : nullptr, Real(0), z, N,
                 opt.threads, layer_done.as_epilogue(), opt.precision);
    if (opt.on_layer) opt.on_layer(t, trace.residual(t), trace.state(t));
  }
  const PackedB<Real>* classifier = opt.packed ? &opt.packed->classifier : nullptr;
  gemm_weights(Op::T, B, cfg.classes, N, trace.state(depth), N, net.K(), N, classifier, Real(0), trace.logits.data(),
               cfg.classes, opt.threads, {}, opt.precision);
  for (int r = 0; r < B; ++r)
    for (int k = 0; k < cfg.classes; ++k) trace.logits[size_t(r) * cfg.classes + k] += net.k0()[k];
}

// The whole forward pass on trace.input (set it with set_input first).
template <class Real>
void forward(const Net<Real>& net, Trace<Real>& trace, const ForwardOptions<Real>& opt = {}) {
  const int depth = opt.depth > 0 ? opt.depth : net.config.depth;
  if (depth > net.config.depth && net.config.weights != Weights::Shared)
    throw Error("unrolling beyond the trained depth needs shared weights");
  if (opt.packed && opt.packed->net != &net) throw Error("forward: packed weights of another net");
  if (opt.packed && opt.packed->precision != opt.precision) throw Error("forward: weights packed in another precision");
  prepare_trace(net, trace, depth, opt.keep_all, bool(opt.on_layer));
  compute_initial_state(net, trace, opt.threads, opt.packed, opt.precision);
  run_layers(net, trace, opt);
}

RESDYN_INSTANCE void forward<float>(const Net<float>&, Trace<float>&, const ForwardOptions<float>&);
RESDYN_INSTANCE void forward<double>(const Net<double>&, Trace<double>&, const ForwardOptions<double>&);
RESDYN_INSTANCE void initialise<float>(Net<float>&, Rng&);
RESDYN_INSTANCE void initialise<double>(Net<double>&, Rng&);

// ============================================================================
// 9. Integer inference on the host
// ============================================================================
// Section 4's arithmetic on whole batches with SIMD kernels, the quantization of a
// trained float net into its formats, and a runner that owns its buffers. Every sum is
// exact, so the host and a device give the same integers.

// ---------------------------------------------------------------------------
// Host: the products on AVX-512 VNNI, AVX2 or NEON, the same integers as fixed::int_matmul
// ---------------------------------------------------------------------------
//
// The SIMD kernels read the weights packed once into panels of R output rows, cut along the
// input into groups of 32 bits: pairs of weights widened to int16 (for int16 inputs), or four
// int8 weights (for byte inputs, with VNNI). Panel p, group k, row r holds w[pR + r][group k].
// One instruction multiplies a group of inputs, broadcast to every lane, by R rows' groups and
// adds all its products into R int32 sums: vpdpwssd (int16 pairs) or vpdpbusd (byte quads),
// or vpmaddwd + vpaddd on AVX2, where byte inputs are widened to int16 pairs first; on AArch64
// smull + addp (int16 pairs) or SDOT (byte quads, with the dot product extension). All sums
// are exact (section comment above), so the order of additions cannot change a single bit.

namespace fixed {

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
constexpr int kPanelRows = 16;
constexpr bool kByteGroups = true;
constexpr const char* kIntKernel = "avx512-vnni";
#elif defined(__AVX2__)
constexpr int kPanelRows = 8;
constexpr bool kByteGroups = false;
constexpr const char* kIntKernel = "avx2";
#elif defined(RESDYN_NEON) && defined(__ARM_FEATURE_DOTPROD)
constexpr int kPanelRows = 16;
constexpr bool kByteGroups = true;
constexpr const char* kIntKernel = "neon-sdot";
#elif defined(RESDYN_NEON)
constexpr int kPanelRows = 8;
constexpr bool kByteGroups = false;
constexpr const char* kIntKernel = "neon";
#else
constexpr int kPanelRows = 8;
constexpr bool kByteGroups = false;
constexpr const char* kIntKernel = "plain";
#endif

// Inputs per 32-bit group: 2 int16, or 4 bytes where the kernel multiplies bytes directly.
template <class In>
constexpr int group_size() {
  return sizeof(In) == 1 && kByteGroups ? 4 : 2;
}

struct PackedMatrix {
  int rows = 0, cols = 0, groups = 0, panels = 0, group = 2;  // group: inputs per 32-bit word
  std::vector<uint32_t> data;                                 // panels x groups x kPanelRows words
  std::vector<int32_t> row_sums;  // SDOT's byte kernel only: each row's sum of weights, panels x kPanelRows
};

#if defined(RESDYN_KERNEL_BODIES)

// W packed for products with inputs of type In (int16_t or uint8_t).
template <class In>
inline PackedMatrix pack_matrix(const int8_t* w, int rows, int cols) {
  PackedMatrix p;
  p.rows = rows;
  p.cols = cols;
  p.group = group_size<In>();
  p.groups = (cols + p.group - 1) / p.group;
  p.panels = (rows + kPanelRows - 1) / kPanelRows;
  p.data.assign(size_t(p.panels) * p.groups * kPanelRows, 0);
  for (int i = 0; i < rows; ++i)
    for (int k = 0; k < p.groups; ++k) {
      uint32_t word = 0;
      for (int e = 0; e < p.group && k * p.group + e < cols; ++e) {
        const int8_t v = w[size_t(i) * cols + k * p.group + e];
        word |= p.group == 4 ? uint32_t(uint8_t(v)) << (8 * e) : uint32_t(uint16_t(int16_t(v))) << (16 * e);
      }
      p.data[(size_t(i / kPanelRows) * p.groups + size_t(k)) * kPanelRows + size_t(i % kPanelRows)] = word;
    }
#if defined(RESDYN_NEON)
  if (p.group == 4) {  // SDOT multiplies signed bytes: see broadcast_group
    p.row_sums.assign(size_t(p.panels) * kPanelRows, 0);
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) p.row_sums[size_t(i)] += w[size_t(i) * cols + j];
  }
#endif
  return p;
}

namespace detail {

// The 32-bit group of inputs at x (two int16 or four bytes), for broadcasting.
inline int32_t load_group(const void* x) {
  int32_t v;
  std::memcpy(&v, x, sizeof v);
  return v;
}

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
// sums += the products of a group of inputs (broadcast in x) with 16 rows' groups (in w).
inline __m512i dot_groups(__m512i sums, __m512i w, __m512i x, int16_t) { return _mm512_dpwssd_epi32(sums, w, x); }
inline __m512i dot_groups(__m512i sums, __m512i w, __m512i x, uint8_t) { return _mm512_dpbusd_epi32(sums, x, w); }

// MB samples x NP panels of sums, kept in registers over the whole input (the loops unroll
// completely, so the arrays are registers). Not inlined into its caller: GCC 12 then keeps
// the accumulators in place instead of copying them between registers.
template <class In, int MB, int NP>
__attribute__((noinline)) void packed_tile(const PackedMatrix& w, int panel, const In* x, int ldx, int32_t* acc,
                                           int ld_acc) {
  constexpr int G = group_size<In>();
  const In tag = 0;
  __m512i sum[MB][NP];
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m)
#pragma GCC unroll 2
    for (int p = 0; p < NP; ++p) sum[m][p] = _mm512_setzero_si512();
  const uint32_t* base = w.data.data() + size_t(panel) * w.groups * kPanelRows;
  const size_t panel_stride = size_t(w.groups) * kPanelRows;
  for (int k = 0; k < w.groups; ++k) {
    __m512i wv[NP];
#pragma GCC unroll 2
    for (int p = 0; p < NP; ++p) wv[p] = _mm512_loadu_si512(base + p * panel_stride + size_t(k) * kPanelRows);
#pragma GCC unroll 8
    for (int m = 0; m < MB; ++m) {
      const __m512i xv = _mm512_set1_epi32(load_group(x + size_t(m) * ldx + G * size_t(k)));
#pragma GCC unroll 2
      for (int p = 0; p < NP; ++p) sum[m][p] = dot_groups(sum[m][p], wv[p], xv, tag);
    }
  }
  const int first = panel * kPanelRows, count = std::min(NP * kPanelRows, w.rows - first);
  alignas(64) int32_t out[NP * kPanelRows];
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m) {
#pragma GCC unroll 2
    for (int p = 0; p < NP; ++p) _mm512_store_si512(out + p * kPanelRows, sum[m][p]);
    for (int r = 0; r < count; ++r) acc[size_t(m) * ld_acc + first + r] = out[r];
  }
}
constexpr int kTileSamples = 8;  // 8 x 2 panels: 16 accumulators, 2 weight loads per 16 products
#elif defined(__AVX2__)
template <class In, int MB, int NP>
inline void packed_tile(const PackedMatrix& w, int panel, const In* x, int ldx, int32_t* acc, int ld_acc) {
  static_assert(sizeof(In) == 2, "AVX2 multiplies int16 pairs; bytes are widened first");
  __m256i sum[MB][NP];
  for (int m = 0; m < MB; ++m)
    for (int p = 0; p < NP; ++p) sum[m][p] = _mm256_setzero_si256();
  const uint32_t* base = w.data.data() + size_t(panel) * w.groups * kPanelRows;
  const size_t panel_stride = size_t(w.groups) * kPanelRows;
  for (int k = 0; k < w.groups; ++k) {
    __m256i wv[NP];
    for (int p = 0; p < NP; ++p)
      wv[p] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + p * panel_stride + size_t(k) * kPanelRows));
    for (int m = 0; m < MB; ++m) {
      const __m256i xv = _mm256_set1_epi32(load_group(x + size_t(m) * ldx + 2 * size_t(k)));
      for (int p = 0; p < NP; ++p) sum[m][p] = _mm256_add_epi32(sum[m][p], _mm256_madd_epi16(wv[p], xv));
    }
  }
  for (int p = 0; p < NP; ++p) {
    const int first = (panel + p) * kPanelRows, left = std::min(kPanelRows, w.rows - first);
    for (int m = 0; m < MB; ++m) {
      int32_t out[8];
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), sum[m][p]);
      for (int r = 0; r < left; ++r) acc[size_t(m) * ld_acc + first + r] = out[r];
    }
  }
}
constexpr int kTileSamples = 4;
#elif defined(RESDYN_NEON)
// A 32-bit group of inputs in every lane: two int16 (lanes alternate x0, x1), or four bytes
// moved to the signed range, u - 128 (SDOT multiplies signed bytes only; the row sums times
// 128 are added back after the loop: sum u w = sum (u - 128) w + 128 sum w, all exact).
inline int16x8_t broadcast_group(const int16_t* x) { return vreinterpretq_s16_s32(vdupq_n_s32(load_group(x))); }
inline int8x16_t broadcast_group(const uint8_t* x) {
  return vreinterpretq_s8_u32(veorq_u32(vdupq_n_u32(uint32_t(load_group(x))), vdupq_n_u32(0x80808080u)));
}
// sums (4 rows) += the products of 4 rows' groups (w, reinterpreted from words) with x.
// int16: two widening multiplies (smull, smull2) give each row's two products in neighbouring
// lanes; a pairwise add (addp) makes them one per row. Bytes: one SDOT.
inline int32x4_t dot_groups(int32x4_t sums, uint32x4_t w, int16x8_t x) {
  const int16x8_t wv = vreinterpretq_s16_u32(w);
  const int32x4_t lo = vmull_s16(vget_low_s16(wv), vget_low_s16(x)), hi = vmull_high_s16(wv, x);
  return vaddq_s32(sums, vpaddq_s32(lo, hi));
}
#if defined(__ARM_FEATURE_DOTPROD)
inline int32x4_t dot_groups(int32x4_t sums, uint32x4_t w, int8x16_t x) {
  return vdotq_s32(sums, vreinterpretq_s8_u32(w), x);
}
#endif

// MB samples x NP panels of sums, in registers over the whole input (kPanelRows / 4 vectors
// of 4 rows per panel); the loops have constant bounds and unroll.
template <class In, int MB, int NP>
inline void packed_tile(const PackedMatrix& w, int panel, const In* x, int ldx, int32_t* acc, int ld_acc) {
  constexpr int G = group_size<In>(), V = kPanelRows / 4;
  int32x4_t sum[MB][NP][V];
#pragma GCC unroll 4
  for (int m = 0; m < MB; ++m)
#pragma GCC unroll 2
    for (int p = 0; p < NP; ++p)
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) sum[m][p][v] = vdupq_n_s32(0);
  const uint32_t* base = w.data.data() + size_t(panel) * w.groups * kPanelRows;
  const size_t panel_stride = size_t(w.groups) * kPanelRows;
  for (int k = 0; k < w.groups; ++k) {
    uint32x4_t wv[NP][V];
#pragma GCC unroll 2
    for (int p = 0; p < NP; ++p)
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) wv[p][v] = vld1q_u32(base + p * panel_stride + size_t(k) * kPanelRows + 4 * v);
#pragma GCC unroll 4
    for (int m = 0; m < MB; ++m) {
      const auto xv = broadcast_group(x + size_t(m) * ldx + G * size_t(k));
#pragma GCC unroll 2
      for (int p = 0; p < NP; ++p)
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) sum[m][p][v] = dot_groups(sum[m][p][v], wv[p][v], xv);
    }
  }
  const int first = panel * kPanelRows, count = std::min(NP * kPanelRows, w.rows - first);
  int32_t out[NP * kPanelRows];
#pragma GCC unroll 4
  for (int m = 0; m < MB; ++m) {
#pragma GCC unroll 2
    for (int p = 0; p < NP; ++p)
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        int32x4_t s = sum[m][p][v];
        if constexpr (G == 4)
          s = vaddq_s32(s, vshlq_n_s32(vld1q_s32(w.row_sums.data() + first + p * kPanelRows + 4 * v), 7));
        vst1q_s32(out + p * kPanelRows + 4 * v, s);
      }
    for (int r = 0; r < count; ++r) acc[size_t(m) * ld_acc + first + r] = out[r];
  }
}
// Accumulators: 2 x 2 x 4 (16-row panels, with SDOT) or 4 x 2 x 2 (8-row panels): 16 of 32.
constexpr int kTileSamples = kPanelRows == 16 ? 2 : 4;
#else
template <class In, int MB, int NP>
inline void packed_tile(const PackedMatrix& w, int panel, const In* x, int ldx, int32_t* acc, int ld_acc) {
  static_assert(sizeof(In) == 2, "the plain kernel multiplies int16 pairs; bytes are widened first");
  const size_t panel_stride = size_t(w.groups) * kPanelRows;
  for (int p = 0; p < NP; ++p) {
    const uint32_t* base = w.data.data() + size_t(panel + p) * panel_stride;
    const int first = (panel + p) * kPanelRows, left = std::min(kPanelRows, w.rows - first);
    for (int m = 0; m < MB; ++m)
      for (int r = 0; r < left; ++r) {
        int32_t sum = 0;
        for (int k = 0; k < w.groups; ++k) {
          const uint32_t word = base[size_t(k) * kPanelRows + r];
          sum += int32_t(int16_t(uint16_t(word))) * x[size_t(m) * ldx + 2 * k] +
                 int32_t(int16_t(uint16_t(word >> 16))) * x[size_t(m) * ldx + 2 * k + 1];
        }
        acc[size_t(m) * ld_acc + first + r] = sum;
      }
  }
}
constexpr int kTileSamples = 4;
#endif

// The products of every panel pair (and a last single panel), kTileSamples samples at a time.
template <class In, int NP>
inline void panel_tiles(int samples, const PackedMatrix& w, int panel, const In* x, int ldx, int32_t* acc, int ld_acc) {
  constexpr int MB = kTileSamples;
  int s = 0;
  for (; s + MB <= samples; s += MB)
    packed_tile<In, MB, NP>(w, panel, x + size_t(s) * ldx, ldx, acc + size_t(s) * ld_acc, ld_acc);
  for (; s < samples; ++s) packed_tile<In, 1, NP>(w, panel, x + size_t(s) * ldx, ldx, acc + size_t(s) * ld_acc, ld_acc);
}
template <class In>
inline void packed_tiles(int samples, const PackedMatrix& w, const In* x, int ldx, int32_t* acc, int ld_acc) {
  int panel = 0;
  for (; panel + 2 <= w.panels; panel += 2) panel_tiles<In, 2>(samples, w, panel, x, ldx, acc, ld_acc);
  if (panel < w.panels) panel_tiles<In, 1>(samples, w, panel, x, ldx, acc, ld_acc);
}

}  // namespace detail

// fixed::int_matmul on weights packed by pack_matrix<In>: acc[s*ld_acc + i] = sum_j x[s*ldx + j] w[i][j].
// x rows must hold w.groups * w.group values (zeros after the last one).
template <class In>
inline void int_matmul_packed(int samples, const PackedMatrix& w, const In* x, int ldx, int32_t* acc, int ld_acc) {
  if (w.group != group_size<In>()) throw Error("int_matmul_packed: weights packed for another input type");
  if constexpr (sizeof(In) == 1 && !kByteGroups) {
    // Widened to int16 pairs, a few samples at a time.
    thread_local std::vector<int16_t> wide;
    const int ldw = w.groups * 2;
    wide.resize(size_t(detail::kTileSamples) * ldw);
    for (int s = 0; s < samples; s += detail::kTileSamples) {
      const int n = std::min(detail::kTileSamples, samples - s);
      for (int m = 0; m < n; ++m)
        for (int j = 0; j < ldw; ++j) wide[size_t(m) * ldw + j] = int16_t(x[size_t(s + m) * ldx + j]);
      detail::packed_tiles(n, w, wide.data(), ldw, acc + size_t(s) * ld_acc, ld_acc);
    }
  } else {
    detail::packed_tiles(samples, w, x, ldx, acc, ld_acc);
  }
}

// The per-element work around the products (narrowing the state, rescaling the sums, the
// logistic table, the residual update) on 8 or 16 lanes of AVX-512: the same operations as
// narrow_state, state_shift and activate_rows, lane by lane, so the same integers (a block
// whose row shifts leave the range 1..62 takes the scalar code). Plain builds use the scalar
// functions themselves.
#if defined(__AVX512F__) && defined(__AVX512VL__) && defined(__AVX512BW__)
constexpr const char* kEpilogue = "avx512";

namespace detail {

// (The masked "maskz" forms with every lane on are the plain operations; GCC 12 warns about
// the plain forms' undefined source operand.)

// round_shift_right on 8 int64 lanes, shifts in 1..62.
inline __m512i round_shift_right_8(__m512i v, __m512i shift) {
  const __m512i one = _mm512_set1_epi64(1), zero = _mm512_setzero_si512();
  const __m512i a = _mm512_maskz_abs_epi64(0xFF, v);
  const __m512i r =
      _mm512_add_epi64(_mm512_maskz_srlv_epi64(0xFF, a, shift),
                       _mm512_and_si512(_mm512_maskz_srlv_epi64(0xFF, a, _mm512_sub_epi64(shift, one)), one));
  return _mm512_mask_sub_epi64(r, _mm512_cmplt_epi64_mask(v, zero), zero, r);
}

// sigmoid_q15 on 8 lanes.
inline __m256i sigmoid_q15_8(__m256i z) {
  const int* table = kSigmoidTable.entry;
  const __m256i a = _mm256_abs_epi32(z);  // |INT32_MIN| stays 2^31 read as unsigned
  const __m256i index = _mm256_srli_epi32(a, kPreFrac - 5);
  const __mmask8 inside = _mm256_cmplt_epu32_mask(index, _mm256_set1_epi32(kSigmoidSteps));
  const __m256i clamped = _mm256_min_epu32(index, _mm256_set1_epi32(kSigmoidSteps - 1));
  // Entries k and k + 1 are neighbours: one 64-bit gather fetches both.
  const __m512i pairs = _mm512_mask_i32gather_epi64(_mm512_setzero_si512(), 0xFF, clamped, table, 4);
  const __m256i lo = _mm512_maskz_cvtepi64_epi32(0xFF, pairs);
  const __m256i hi = _mm512_maskz_cvtepi64_epi32(0xFF, _mm512_maskz_srli_epi64(0xFF, pairs, 32));
  const __m256i f = _mm256_and_si256(a, _mm256_set1_epi32((1 << (kPreFrac - 5)) - 1));
  const __m256i step = _mm256_srli_epi32(
      _mm256_add_epi32(_mm256_mullo_epi32(_mm256_sub_epi32(hi, lo), f), _mm256_set1_epi32(1 << (kPreFrac - 6))),
      kPreFrac - 5);
  const __m256i one = _mm256_set1_epi32(1 << kTableFrac);
  __m256i v = _mm256_mask_blend_epi32(inside, one, _mm256_add_epi32(lo, step));
  v = _mm256_mask_sub_epi32(v, _mm256_cmplt_epi32_mask(z, _mm256_setzero_si256()), one, v);
  const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(v, _mm256_set1_epi32(256)), 9);
  return _mm256_min_epi32(r, _mm256_set1_epi32(32767));
}

}  // namespace detail

inline int state_shift_fast(const int32_t* x, int n) {
  __m512i top = _mm512_setzero_si512();
  int i = 0;
  for (; i + 16 <= n; i += 16)
    top = _mm512_maskz_max_epu32(0xFFFF, top, _mm512_maskz_abs_epi32(0xFFFF, _mm512_loadu_si512(x + i)));
  uint32_t lanes[16], t = 0;
  _mm512_storeu_si512(lanes, top);
  for (uint32_t lane : lanes) t = std::max(t, lane);
  for (; i < n; ++i) t = std::max(t, x[i] < 0 ? 0u - uint32_t(x[i]) : uint32_t(x[i]));
  int sh = 0;
  while (sh < 31 && (sh == 0 ? int64_t(t) : round_shift_right(int64_t(t), sh)) > 32767) ++sh;
  return sh;
}

inline void narrow_state_fast(const int32_t* x, int n, int sh, int16_t* out) {
  int i = 0;
  if (sh > 0) {
    const __m128i s = _mm_cvtsi32_si128(sh), s1 = _mm_cvtsi32_si128(sh - 1);
    const __m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512();
    for (; i + 16 <= n; i += 16) {
      const __m512i v = _mm512_loadu_si512(x + i);
      const __m512i a = _mm512_maskz_abs_epi32(0xFFFF, v);  // as unsigned: |x| <= 2^31
      __m512i r = _mm512_add_epi32(_mm512_maskz_srl_epi32(0xFFFF, a, s),
                                   _mm512_and_si512(_mm512_maskz_srl_epi32(0xFFFF, a, s1), one));
      r = _mm512_mask_sub_epi32(r, _mm512_cmplt_epi32_mask(v, zero), zero, r);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm512_maskz_cvtsepi32_epi16(0xFFFF, r));
    }
  } else {
    for (; i + 16 <= n; i += 16)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                          _mm512_maskz_cvtsepi32_epi16(0xFFFF, _mm512_loadu_si512(x + i)));
  }
  narrow_state(x + i, n - i, sh, out + i);
}

inline void activate_rows_fast(const QuantMatrix& m, const int32_t* acc, int input_frac, bool residual, int32_t* state,
                               uint8_t* bytes = nullptr) {
  const int extra = input_frac - kPreFrac;
  int i = 0;
  for (; i + 8 <= m.rows; i += 8) {
    const __m512i shift = _mm512_add_epi64(
        _mm512_maskz_cvtepi8_epi64(0xFF, _mm_loadl_epi64(reinterpret_cast<const __m128i*>(m.shift + i))),
        _mm512_set1_epi64(extra));
    if (_mm512_cmplt_epi64_mask(shift, _mm512_set1_epi64(1)) || _mm512_cmpgt_epi64_mask(shift, _mm512_set1_epi64(62))) {
      QuantMatrix part = m;  // unusual scales: the scalar code for these 8 rows
      part.rows = 8;
      part.mult += i;
      part.shift += i;
      part.bias += i;
      activate_rows(part, acc + i, input_frac, residual, state + i, bytes ? bytes + i : nullptr);
      continue;
    }
    const __m512i a = _mm512_maskz_cvtepi32_epi64(0xFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + i)));
    const __m512i mult =
        _mm512_maskz_cvtepi32_epi64(0xFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m.mult + i)));
    const __m256i scaled =
        _mm512_maskz_cvtsepi64_epi32(0xFF, detail::round_shift_right_8(_mm512_maskz_mul_epi32(0xFF, a, mult), shift));
    const __m512i bias =
        _mm512_maskz_cvtepi32_epi64(0xFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m.bias + i)));
    const __m256i z =
        _mm512_maskz_cvtsepi64_epi32(0xFF, _mm512_add_epi64(_mm512_maskz_cvtepi32_epi64(0xFF, scaled), bias));
    const __m256i y = detail::sigmoid_q15_8(z);
    if (bytes) {  // to_byte: (y * 255 + 16384) >> 15
      const __m256i b = _mm256_srli_epi32(
          _mm256_add_epi32(_mm256_mullo_epi32(y, _mm256_set1_epi32(255)), _mm256_set1_epi32(16384)), 15);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(bytes + i), _mm256_maskz_cvtepi32_epi8(0xFF, b));
    }
    __m256i* out = reinterpret_cast<__m256i*>(state + i);
    if (residual) {
      const __m512i sum = _mm512_add_epi64(_mm512_maskz_cvtepi32_epi64(0xFF, _mm256_loadu_si256(out)),
                                           _mm512_maskz_cvtepi32_epi64(0xFF, y));
      _mm256_storeu_si256(out, _mm512_maskz_cvtsepi64_epi32(0xFF, sum));
    } else {
      _mm256_storeu_si256(out, y);
    }
  }
  QuantMatrix tail = m;
  tail.rows = m.rows - i;
  tail.mult += i;
  tail.shift += i;
  tail.bias += i;
  activate_rows(tail, acc + i, input_frac, residual, state + i, bytes ? bytes + i : nullptr);
}

inline void add_sums_fast(int32_t* running, const int32_t* acc, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i* r = reinterpret_cast<__m256i*>(running + i);
    const __m512i sum = _mm512_add_epi64(
        _mm512_maskz_cvtepi32_epi64(0xFF, _mm256_loadu_si256(r)),
        _mm512_maskz_cvtepi32_epi64(0xFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + i))));
    _mm256_storeu_si256(r, _mm512_maskz_cvtsepi64_epi32(0xFF, sum));
  }
  add_sums(running + i, acc + i, n - i);
}
#else
constexpr const char* kEpilogue = "plain";
inline int state_shift_fast(const int32_t* x, int n) { return state_shift(x, n); }
inline void narrow_state_fast(const int32_t* x, int n, int sh, int16_t* out) { narrow_state(x, n, sh, out); }
inline void activate_rows_fast(const QuantMatrix& m, const int32_t* acc, int input_frac, bool residual, int32_t* state,
                               uint8_t* bytes = nullptr) {
  activate_rows(m, acc, input_frac, residual, state, bytes);
}
inline void add_sums_fast(int32_t* running, const int32_t* acc, int n) { add_sums(running, acc, n); }
#endif

// The host's kernels for section 4's forward pass: the products on the weights packed once
// (int_matmul_packed), the work on each row's sums on SIMD lanes; the same integers as
// ReferenceKernels.
struct PackedKernels {
  const PackedMatrix* stem = nullptr;
  const PackedMatrix* classifier = nullptr;
  const PackedMatrix* blocks = nullptr;  // W_1, or W_1 .. W_T

  template <class In>
  void product(Product which, int block, const QuantMatrix&, int count, const In* x, int ldx, int32_t* acc,
               int ld_acc) const {
    const PackedMatrix& w = which == Product::stem ? *stem : which == Product::classifier ? *classifier : blocks[block];
    int_matmul_packed(count, w, x, ldx, acc, ld_acc);
  }
  static int state_shift(const int32_t* x, int n) { return state_shift_fast(x, n); }
  static void narrow_state(const int32_t* x, int n, int sh, int16_t* out) { narrow_state_fast(x, n, sh, out); }
  static void activate_rows(const QuantMatrix& m, const int32_t* acc, int input_frac, bool residual, int32_t* state,
                            uint8_t* bytes) {
    activate_rows_fast(m, acc, input_frac, residual, state, bytes);
  }
  static void add_sums(int32_t* running, const int32_t* acc, int n) { add_sums_fast(running, acc, n); }
};

#endif  // RESDYN_KERNEL_BODIES
}  // namespace fixed

// ---------------------------------------------------------------------------
// Host: quantizing a trained net
// ---------------------------------------------------------------------------

// A quantized network that owns its arrays; view() is what the forward passes read.
struct QuantizedModel {
  struct Matrix {
    int rows = 0, cols = 0, count = 1;  // count: blocks stacked in the arrays
    std::vector<int8_t> weights, shift;
    std::vector<int32_t> mult, bias;
    QuantMatrix view() const { return {weights.data(), mult.data(), shift.data(), bias.data(), rows, cols}; }
  };
  Config config;
  Matrix stem, classifier, blocks;

  QuantNet view() const {
    QuantNet n;
    n.config = config;
    n.stem = stem.view();
    n.classifier = classifier.view();
    n.blocks = blocks.view();
    n.block_count = blocks.count;
    return n;
  }
};

namespace fixed {

// Quantizes `count` stacked rows x cols matrices (with their biases) row by row. A row's scale
// starts at max|w| / 127 and grows, if needed, until its sum |q| <= kMaxRowL1 (which keeps
// the int32 products exact); input_scale is the real value of one unit of the row's integer
// input (1/255 for byte inputs, 1 for int16 ones: those layers fold their shift in at run time).
inline void quantize_rows(const float* weights, size_t weight_stride, const float* bias, size_t bias_stride, int rows,
                          int cols, int count, double input_scale, QuantizedModel::Matrix& out) {
  out.rows = rows;
  out.cols = cols;
  out.count = count;
  out.weights.assign(size_t(count) * rows * cols, 0);
  out.mult.assign(size_t(count) * rows, 0);
  out.shift.assign(size_t(count) * rows, 0);
  out.bias.assign(size_t(count) * rows, 0);
  for (int blk = 0; blk < count; ++blk)
    for (int i = 0; i < rows; ++i) {
      const float* w = weights + blk * weight_stride + size_t(i) * cols;
      const size_t row = size_t(blk) * rows + size_t(i);
      int8_t* q = out.weights.data() + row * cols;
      out.bias[row] = Q19_12::from_real(bias[blk * bias_stride + size_t(i)]).raw;
      double top = 0;
      for (int j = 0; j < cols; ++j) top = std::max(top, std::fabs(double(w[j])));
      if (top == 0) continue;  // a zero row: q = 0, mult = 0
      double scale = top / 127;
      for (int attempt = 0;; ++attempt) {
        long l1 = 0;
        for (int j = 0; j < cols; ++j) {
          const double v = double(w[j]) / scale;
          q[j] = saturate_i8_symmetric(int64_t(v >= 0 ? std::floor(v + 0.5) : -std::floor(-v + 0.5)));
          l1 += std::abs(int(q[j]));
        }
        if (l1 <= kMaxRowL1) break;
        if (attempt > 64) throw Error("quantize: row " + std::to_string(i) + " cannot meet the sum bound");
        scale *= std::max(1.0 + 1e-9, double(l1) / kMaxRowL1);
      }
      // scale * input_scale = mult * 2^-shift with mult in [2^30, 2^31).
      int e = 0;
      const double m = std::frexp(scale * input_scale, &e);  // in [0.5, 1)
      int64_t mult = int64_t(std::floor(m * 2147483648.0 + 0.5));
      if (mult == (int64_t(1) << 31)) {
        mult >>= 1;
        ++e;
      }
      const int shift = 31 - e;
      if (shift > 127) {  // below 2^-96 per unit: the row contributes nothing at all
        std::fill(q, q + cols, int8_t(0));
        continue;
      }
      if (shift < 0) throw Error("quantize: weights too large (row scale " + std::to_string(scale) + ")");
      out.mult[row] = int32_t(mult);
      out.shift[row] = int8_t(shift);
    }
}

}  // namespace fixed

// int8 weights with a scale per output row, biases in Q19.12 (the formats at the top).
inline QuantizedModel quantize(const Net<float>& net) {
  const Config& cfg = net.config;
  QuantizedModel q;
  q.config = cfg;
  const int N = cfg.width;
  if (cfg.stem) fixed::quantize_rows(net.P(), 0, net.c(), 0, N, cfg.input, 1, 1.0 / 255.0, q.stem);
  fixed::quantize_rows(net.K(), 0, net.k0(), 0, cfg.classes, N, 1, 1.0, q.classifier);
  fixed::quantize_rows(net.W(1), net.layout.block_size, net.b(1), net.layout.block_size, N, N, net.layout.blocks,
                       fixed::layers_read_bytes(cfg) ? 1.0 / 255.0 : 1.0, q.blocks);
  return q;
}

// Checks the invariants the integer forward pass relies on (a model read from a file passes
// through here): weights in [-127, 127], every row's sum |q| <= kMaxRowL1, shapes matching
// the configuration. Returns nullptr or what is wrong.
inline const char* quantized_model_problem(const QuantizedModel& q) {
  if (const char* why = config_problem(q.config)) return why;
  const Config& c = q.config;
  const int blocks = c.weights == Weights::Shared ? 1 : c.depth;
  auto bad = [](const QuantizedModel::Matrix& m, int rows, int cols, int count) {
    if (m.rows != rows || m.cols != cols || m.count != count) return true;
    const size_t r = size_t(rows) * count;
    if (m.weights.size() != r * cols || m.mult.size() != r || m.shift.size() != r || m.bias.size() != r) return true;
    for (size_t i = 0; i < r; ++i) {
      if (m.mult[i] < 0 || m.shift[i] < 0) return true;
      long l1 = 0;
      for (int j = 0; j < cols; ++j) {
        const int v = m.weights[i * cols + j];
        if (v < -127) return true;
        l1 += std::abs(v);
      }
      if (l1 > fixed::kMaxRowL1) return true;
    }
    return false;
  };
  if (c.stem ? bad(q.stem, c.width, c.input, 1) : q.stem.rows != 0) return "stem tensors do not match the architecture";
  if (bad(q.classifier, c.classes, c.width, 1)) return "classifier tensors do not match the architecture";
  if (bad(q.blocks, c.width, c.width, blocks)) return "layer tensors do not match the architecture or break the bounds";
  return nullptr;
}

// ---------------------------------------------------------------------------
// Host: the batched integer forward pass
// ---------------------------------------------------------------------------

// Runs many images through the integer path: section 4's forward pass (fixed::forward_rows)
// with the packed SIMD kernels, so per sample exactly quant_forward's integers; batches of
// up to 64 images split across threads.
class QuantRunner {
 public:
  explicit QuantRunner(const QuantNet& net);

  // logits: batch x classes (Q19.12); states (if not null): batch x width, the final x(T)
  // (Q16.15) or h(T) (Q0.15). depth as in quant_forward.
  void run(const uint8_t* pixels, int batch, int depth, int threads, int32_t* logits, int32_t* states = nullptr) const;

  const QuantNet& net() const { return net_; }

 private:
  QuantNet net_;
  fixed::PackedMatrix stem_, classifier_;
  std::vector<fixed::PackedMatrix> blocks_;
  int ldx_ = 0, ldb_ = 0, ldp_ = 0;  // row strides of the int16 inputs, the byte inputs, the pixels
};

#if defined(RESDYN_IMPLEMENTATION)  // compiled once, with the kernels
QuantRunner::QuantRunner(const QuantNet& net) : net_(net) {
  const Config& c = net.config;
  if (net.stem.device_layout || net.classifier.device_layout || net.blocks.device_layout)
    throw Error("QuantRunner: the weights are in the device layout; it reads them row-major");
  const bool bytes = fixed::layers_read_bytes(c);
  if (c.stem) stem_ = fixed::pack_matrix<uint8_t>(net.stem.weights, c.width, c.input);
  classifier_ = fixed::pack_matrix<int16_t>(net.classifier.weights, c.classes, c.width);
  for (int b = 1; b <= net.block_count; ++b)
    blocks_.push_back(bytes ? fixed::pack_matrix<uint8_t>(net.block(b).weights, c.width, c.width)
                            : fixed::pack_matrix<int16_t>(net.block(b).weights, c.width, c.width));
  ldx_ = (c.width + 1) / 2 * 2;
  ldb_ = (c.width + 3) / 4 * 4;
  ldp_ = (c.input + 3) / 4 * 4;
}
void QuantRunner::run(const uint8_t* pixels, int batch, int depth, int threads, int32_t* logits,
                      int32_t* states) const {
  const Config& cfg = net_.config;
  if (depth <= 0) depth = cfg.depth;
  if (depth > cfg.depth && cfg.weights != Weights::Shared)
    throw Error("unrolling beyond the trained depth needs shared weights");
  constexpr int kChunk = 64;
  const int tasks = (batch + kChunk - 1) / kChunk;
  const int N = cfg.width, D = cfg.input, C = cfg.classes, ld_acc = std::max(N, C);
  struct Scratch {
    std::vector<int32_t> state, acc, sums;
    std::vector<int16_t> input;
    std::vector<uint8_t> bytes, pixels;
    std::vector<int> shift;
  };
  std::vector<Scratch> scratch(size_t(std::max(1, std::min(threads, tasks))));
  const fixed::PackedKernels kernels{&stem_, &classifier_, blocks_.data()};
  ThreadPool::shared().run(threads, tasks, [&](int task, int worker) {
    Scratch& s = scratch[size_t(worker)];
    if (s.state.empty()) {  // the padding of the product inputs stays 0
      s.state.resize(size_t(kChunk) * N);
      s.acc.resize(size_t(kChunk) * ld_acc);
      s.sums.resize(size_t(kChunk) * ld_acc);
      s.input.assign(size_t(kChunk) * ldx_, 0);
      s.bytes.assign(size_t(kChunk) * ldb_, 0);
      s.pixels.assign(cfg.stem ? size_t(kChunk) * ldp_ : 0, 0);
      s.shift.resize(kChunk);
    }
    const int first = task * kChunk, count = std::min(kChunk, batch - first);
    const fixed::QuantBatch b{count,          s.state.data(), s.input.data(), s.shift.data(),
                              s.bytes.data(), s.acc.data(),   s.sums.data(),  N,
                              ldx_,           ldb_,           ld_acc};
    const uint8_t* u = pixels + size_t(first) * D;
    if (cfg.stem) {  // the stem's packed product reads zero-padded rows
      for (int r = 0; r < count; ++r) std::memcpy(s.pixels.data() + size_t(r) * ldp_, u + size_t(r) * D, size_t(D));
      fixed::forward_rows(net_, kernels, s.pixels.data(), ldp_, depth, b, logits + size_t(first) * C, C);
    } else {
      fixed::forward_rows(net_, kernels, u, D, depth, b, logits + size_t(first) * C, C);
    }
    if (states) std::copy(s.state.data(), s.state.data() + size_t(count) * N, states + size_t(first) * N);
  });
}
#endif  // RESDYN_IMPLEMENTATION

// ============================================================================
// 10. Bytes in memory: little-endian numbers
// ============================================================================
// Models and the trainer's state are written as little-endian numbers whatever the
// host's byte order, so files move between machines (section 18 streams them to files).

// Little-endian numbers, whatever the host's, so files move between machines. Out says where
// the bytes go (its put()): memory (ByteWriter), a file as it is written (FileWriter), or
// nowhere but a count (ByteCount), so a part's length can go ahead of it in a file that is
// never whole in memory.
template <class Out>
struct LittleEndianWriter {
  void u32(uint32_t v) {
    const uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
    raw(b, 4);
  }
  void u64(uint64_t v) {
    u32(uint32_t(v));
    u32(uint32_t(v >> 32));
  }
  void f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    u32(bits);
  }
  void f64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    u64(bits);
  }
  void raw(const void* data, size_t size) { static_cast<Out&>(*this).put(static_cast<const uint8_t*>(data), size); }
};

struct ByteWriter : LittleEndianWriter<ByteWriter> {
  std::vector<uint8_t> bytes;
  void put(const uint8_t* p, size_t size) { bytes.insert(bytes.end(), p, p + size); }
};

struct ByteCount : LittleEndianWriter<ByteCount> {
  uint64_t size = 0;
  void put(const uint8_t*, size_t n) { size += n; }
};

// Reads what the writers wrote, never past the end: running out is an Error naming the file
// and the field. In says where the bytes come from (its get()): memory (ByteReader) or a part
// of a file read front to back (FileReader), for parts too large to hold twice.
template <class In>
struct LittleEndianReader {
  uint32_t u32(const char* what) {
    uint8_t b[4];
    in().get(b, 4, what);
    return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
  }
  uint64_t u64(const char* what) {
    const uint64_t lo = u32(what);
    return lo | uint64_t(u32(what)) << 32;
  }
  float f32(const char* what) {
    const uint32_t bits = u32(what);
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  double f64(const char* what) {
    const uint64_t bits = u64(what);
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
  }
  // A count of elements of `element_size` bytes that must still fit in what is left.
  size_t count(const char* what, size_t element_size) {
    const uint64_t n = u64(what);
    if (element_size && n > in().left() / element_size) throw Error(in().where() + ": " + what + " out of range");
    return size_t(n);
  }

 private:
  In& in() { return static_cast<In&>(*this); }
};

class ByteReader : public LittleEndianReader<ByteReader> {
 public:
  ByteReader(const uint8_t* data, size_t size, std::string where) : p_(data), left_(size), where_(std::move(where)) {}
  size_t left() const { return left_; }
  const std::string& where() const { return where_; }
  const uint8_t* take(size_t n, const char* what) {
    if (n > left_) throw Error(where_ + ": truncated while reading " + what);
    const uint8_t* at = p_;
    p_ += n;
    left_ -= n;
    return at;
  }
  void get(uint8_t* out, size_t n, const char* what) { std::memcpy(out, take(n, what), n); }

 private:
  const uint8_t* p_;
  size_t left_;
  std::string where_;
};

// ============================================================================
// 11. Data sets and evaluation
// ============================================================================
// Images are bytes 0..255 (the input u of paper §4 is pixel / 255), labels 0..C-1. The
// loss is the mean softmax cross-entropy of the logits K x(T) + k0; the test error is the
// share of images whose largest logit is not their label.

struct Dataset {
  int count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> images;  // count * rows * cols pixels, 0..255, row-major
  std::vector<uint8_t> labels;  // count labels, 0..9
};

// The images must have as many pixels as the net has inputs; `who` prefixes the error.
inline void check_image_size(const Dataset& data, const Config& cfg, const std::string& who = "") {
  if (data.rows * data.cols != cfg.input)
    throw Error(who + "images have " + std::to_string(data.rows * data.cols) + " pixels but the network expects " +
                std::to_string(cfg.input));
}

// The first n samples of a data set (all of it when n <= 0 or n >= its size).
inline Dataset first_samples(Dataset data, long n) {
  if (n > 0 && n < data.count) {
    data.count = int(n);
    data.images.resize(size_t(n) * data.rows * data.cols);
    data.labels.resize(size_t(n));
  }
  return data;
}

// Mean softmax cross-entropy over the batch (the classifier of paper §6). If dlogits is given, it receives
// d(loss)/d(logits) = (softmax - onehot) / B.
template <class Real>
double softmax_cross_entropy(const Real* logits, const uint8_t* labels, int batch, int classes, Real* dlogits) {
  double total = 0;
  for (int r = 0; r < batch; ++r) {
    const Real* l = logits + size_t(r) * classes;
    Real top = l[0];
    for (int k = 1; k < classes; ++k) top = std::max(top, l[k]);
    double sum = 0;
    for (int k = 0; k < classes; ++k) sum += std::exp(double(l[k] - top));
    total += std::log(sum) - double(l[labels[r]] - top);  // -log softmax(label), stably
    if (dlogits) {
      Real* d = dlogits + size_t(r) * classes;
      for (int k = 0; k < classes; ++k)
        d[k] = Real((std::exp(double(l[k] - top)) / sum - (k == labels[r] ? 1.0 : 0.0)) / batch);
    }
  }
  return total / batch;
}

// Index of the largest logit of each row (the predicted class).
template <class Real>
int argmax_row(const Real* row, int n) {
  int best = 0;
  for (int k = 1; k < n; ++k)
    if (row[k] > row[best]) best = k;
  return best;
}

struct Evaluation {
  int count = 0, classes = 0;
  double error = 0;            // fraction misclassified
  double loss = 0;             // mean cross-entropy
  std::vector<int> confusion;  // classes x classes, row = true class, column = predicted
};

// An evaluation of the first `limit` samples (0 = all) with nothing counted yet.
inline Evaluation start_evaluation(const Config& cfg, const Dataset& data, int limit) {
  check_image_size(data, cfg);
  Evaluation ev;
  ev.count = limit > 0 ? std::min(limit, data.count) : data.count;
  for (int n = 0; n < ev.count; ++n)  // a label past the classes would index past the logits
    if (data.labels[size_t(n)] >= cfg.classes)
      throw Error("sample " + std::to_string(n) + " has label " + std::to_string(data.labels[size_t(n)]) +
                  " but the network has " + std::to_string(cfg.classes) + " classes");
  ev.classes = cfg.classes;
  ev.confusion.assign(size_t(cfg.classes) * cfg.classes, 0);
  return ev;
}

// Adds the predictions (argmax of each row of logits) of `count` samples to the confusion
// matrix and returns how many were wrong.
template <class Logit>
int count_predictions(Evaluation& ev, const Logit* logits, const uint8_t* labels, int count) {
  int wrong = 0;
  for (int r = 0; r < count; ++r) {
    const int predicted = argmax_row(logits + size_t(r) * ev.classes, ev.classes);
    wrong += predicted != labels[r];
    ev.confusion[size_t(labels[r]) * ev.classes + predicted] += 1;
  }
  return wrong;
}

// Test error, loss and confusion matrix of the first `limit` samples (0 = all), on the
// net's weights packed ahead of time if given (same results, faster; products in the
// precision they were packed for), else with products in `precision`.
template <class Real>
Evaluation evaluate(const Net<Real>& net, const Dataset& data, int threads = 1, int limit = 0, int batch = 256,
                    const PackedNet<Real>* packed = nullptr, Precision precision = Precision::fp32) {
  const Config& cfg = net.config;
  Evaluation ev = start_evaluation(cfg, data, limit);
  Trace<Real> trace;
  ForwardOptions<Real> fwd;
  fwd.keep_all = false;
  fwd.threads = threads;
  fwd.packed = packed;
  fwd.precision = packed ? packed->precision : precision;
  int wrong = 0;
  double loss = 0;
  for (int first = 0; first < ev.count; first += batch) {
    const int count = std::min(batch, ev.count - first);
    set_input(trace, &data.images[size_t(first) * cfg.input], count, cfg.input);
    forward(net, trace, fwd);
    const uint8_t* labels = &data.labels[size_t(first)];
    loss += softmax_cross_entropy<Real>(trace.logits.data(), labels, count, cfg.classes, nullptr) * count;
    wrong += count_predictions(ev, trace.logits.data(), labels, count);
  }
  ev.error = ev.count ? double(wrong) / ev.count : 0;
  ev.loss = ev.count ? loss / ev.count : 0;
  return ev;
}

RESDYN_INSTANCE Evaluation evaluate<float>(const Net<float>&, const Dataset&, int, int, int, const PackedNet<float>*,
                                           Precision);

#ifndef RESDYN_NO_TRAINING
// ============================================================================
// 12. Backpropagation
// ============================================================================
// The gradient of the mean loss, written out by hand beside the forward pass of section 8:
// a walk down the net that keeps dL/dz of every layer, then the gradient one group of
// parameters at a time. The noise regulariser (paper eq. 5, end of §6) is the same walk and
// the same group gradient with an option: its own start, over the last two layers.
// The parameters fall into groups whose gradients backprop finishes one at a time: bands of
// whole rows of the classifier (K, k0), of each block (W_t, b_t; one block for shared weights)
// and of the stem (P, c), a matrix's bias going with its last band. Each group is contiguous in
// the layout of section 3, so a trainer can update a group as soon as its gradient is made and
// hold no more than one group's gradient at a time (section 14).
enum class GroupKind { Classifier, Block, Stem };
struct ParamGroup {
  GroupKind kind;
  int block;       // 1..blocks for a Block
  int row0, rows;  // the matrix rows in the group; with_bias: the last band, bias included
  bool with_bias;
  size_t offset, size;  // where the group's values lie in the parameter vector
};
constexpr size_t kGroupValues = size_t(1) << 18;  // a band's weights: at most this many (1 MiB of floats)

namespace detail {
// The matrices' shapes from the layout: classes x N (classifier), N x N (blocks), N x D (stem;
// D = 0 without one).
struct MatrixShapes {
  int N, C, D;
};
inline MatrixShapes matrix_shapes(const Layout& L) {
  const int N = L.width;
  return {N, int((L.k0 - L.K) / size_t(N)), L.K > 0 ? int((L.c - L.P) / size_t(N)) : 0};
}
// Rows per band of a matrix with `cols` columns, and its number of bands.
inline int band_rows(int cols) { return std::max(1, int(kGroupValues / size_t(cols))); }
inline int bands(int rows, int cols) { return (rows + band_rows(cols) - 1) / band_rows(cols); }
// Band `band` of the rows x cols matrix at `offset`, its bias right after it.
inline ParamGroup band(GroupKind kind, int block, size_t offset, int rows, int cols, int band) {
  const int row0 = band * band_rows(cols), n = std::min(band_rows(cols), rows - row0);
  const bool last = row0 + n == rows;
  return {kind, block, row0, n, last, offset + size_t(row0) * cols, size_t(n) * cols + (last ? size_t(rows) : 0)};
}
}  // namespace detail

inline int group_count(const Layout& L) {
  const auto [N, C, D] = detail::matrix_shapes(L);
  return detail::bands(C, N) + L.blocks * detail::bands(N, N) + (L.K > 0 ? detail::bands(N, D) : 0);
}
// Group g, in the order classifier, blocks 1..blocks, stem.
inline ParamGroup param_group(const Layout& L, int g) {
  const auto [N, C, D] = detail::matrix_shapes(L);
  if (g < detail::bands(C, N)) return detail::band(GroupKind::Classifier, 0, L.K, C, N, g);
  g -= detail::bands(C, N);
  if (g < L.blocks * detail::bands(N, N)) {
    const int block = 1 + g / detail::bands(N, N);
    return detail::band(GroupKind::Block, block, L.W(block), N, N, g % detail::bands(N, N));
  }
  return detail::band(GroupKind::Stem, 0, L.P, N, D, g - L.blocks * detail::bands(N, N));
}
inline size_t largest_group(const Layout& L) {
  size_t most = 0;
  for (int g = 0; g < group_count(L); ++g) most = std::max(most, param_group(L, g).size);
  return most;
}

// Scratch space of backprop, kept between batches so a training step does not allocate.
template <class Real>
struct BackwardBuffers {
  std::vector<Real> dlogits;  // B x C
  std::vector<Real> gx;       // B x N: d loss / d x(t) (or h(t)), walking down the layers
  std::vector<Real> gz;       // T blocks of B x N: d loss / d z(t) of an MLP (a ResNet's are in its trace)
  std::vector<Real> gz0;      // B x N: d loss / d z of the stem
  // The same for the noise penalty's walk (below), kept apart so both gradients can be formed
  // group by group after both walks.
  std::vector<Real> penalty_gx, penalty_gz, penalty_gz0;
  std::vector<double> penalty_s2;   // per penalised layer and row i: (1/B) sum_b s_bi^2
  std::vector<double> penalty_rho;  // per row i of the layer's W_t: sum_j W_t[i][j]^2
  double penalty_lambda = 0;
  Precision precision = Precision::fp32;  // of the walks' and the gradients' products (section 2)
};

// gz = gx * s(1 - s) for each tile of gx as soon as the product that makes gx has summed it:
// the sigmoid's derivative, written where s is the layer's output (a gemm epilogue).
template <class Real>
struct SigmoidGradEpilogue {
  const Real* s;
  Real* gz;
  int ld;

  static void apply(const void* ctx, Real* C, int ldc, int row0, int col0, int rows, int cols) {
    const SigmoidGradEpilogue& e = *static_cast<const SigmoidGradEpilogue*>(ctx);
    for (int r = 0; r < rows; ++r) {
      const Real* g = C + size_t(r) * ldc;
      const Real* s = e.s + size_t(row0 + r) * e.ld + col0;
      Real* out = e.gz + size_t(row0 + r) * e.ld + col0;
      for (int c = 0; c < cols; ++c) out[c] = g[c] * s[c] * (Real(1) - s[c]);
    }
  }
  Epilogue<Real> as_epilogue() const { return {&SigmoidGradEpilogue::apply, this, {s, gz}, ld}; }
};

// Column sums of a rows x cols block, added to out (bias gradients).
template <class Real>
void add_column_sums(const Real* a, int rows, int cols, Real* out) {
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < cols; ++j) out[j] += a[size_t(r) * cols + j];
}

// Backprop, by hand. Each line mirrors a line of the forward pass above, read from the
// bottom up:
//   logits = x(T) K^T + k0   ->  gK = dL^T x(T),  gk0 = colsum dL,  gx = dL K
//   ResNet x(t) = x(t-1) + y(t), y(t) = sigma(z(t)):
//       gz(t) = gx * y(1-y);  gx <- gx + gz(t) W_t   (the skip path carries gx through)
//   MLP h(t) = sigma(z(t)):
//       gz(t) = gx * h(1-h);  gx <- gz(t) W_t
//   z(t) = x(t-1) W_t^T + b_t  ->  gW_t = gz(t)^T x(t-1),  gb_t = colsum gz(t)
//   For shared weights gW = sum over t of gz(t)^T x(t-1): one product over the stacked
//   layers (T*B rows), because x(0..T-1) and gz(1..T) are contiguous.
//   stem x(0) = sigma(U P^T + c) ->  gz0 = gx * x0(1-x0),  gP = gz0^T U,  gc = colsum gz0
// It runs in two parts. The walk (walk_down) carries gx down the layers and keeps every gz;
// it reads the weights but makes no parameter gradient. Then each group's gradient
// (group_gradient) is a product of kept gz and trace values alone, so a group's weights may
// change as soon as its gradient is made. backward() is both parts into one vector.
// A ResNet's gz(t) is written over y(t), which nothing needs once gz(t) is made: a block per
// layer less memory in training. An MLP's h(t) is also the next layer's input, so its gz
// goes to buf.
//
// The noise-growth penalty (paper eq. 5, end of §6): the regulariser the paper proposes
// to make a ResNet more robust to input noise, penalising how much noise can grow over
// the last two hidden layers.
//
// Definition. For layer t and one sample let s(t) = y(t)(1 - y(t)) (ResNet; h(t)(1 - h(t))
// for the MLP) and M(t) = diag(s(t)) W_t. A perturbation xi of x(t-1) propagates to first
// order as xi -> (I + M(t)) xi (ResNet) or xi -> M(t) xi (MLP), so M(t) xi is the noise's
// growth over layer t: the discrete form of the right-hand side of eq. 5 to first order in
// xi (its y(1-y)(W xi) term; the others come from writing the dynamics in y instead of x, or
// are of second order). For white noise of variance sigma^2 per component,
// E ||M xi||^2 = sigma^2 ||M||_F^2, so the penalty is the expected squared noise growth over
// the last two layers per unit noise variance, averaged over the batch:
//   R = lambda * (1/B) sum_b sum_{t = max(1, T-1)}^{T} ||M_b(t)||_F^2,
//   ||diag(s) W||_F^2 = sum_i s_i^2 rho_i,   rho_i = sum_j W_t[i][j]^2   (exact, no probes).
// Gradient, by hand:
//   direct, through the weights:  dR/dW_t[i][j] += 2 lambda W_t[i][j] (1/B) sum_b s_bi(t)^2
//   through the activations: s = y(1-y), ds/dz = (1-2y) s, so at the penalised layers
//       dR/dz_bi(t) = (2 lambda / B) rho_i s_bi^2 (1 - 2 y_bi)
//   and from there down the net exactly like the loss: z(t) = x(t-1) W_t^T + b_t gives gW_t,
//   gb_t and gx(t-1) = [gx(t) for a ResNet] + gz(t) W_t; below the penalised layers
//   gz(t) = gx(t) s(t); the stem takes gx(0) as for the loss. y(t) depends on every earlier
//   layer and the stem, so all parameters but the classifier get a gradient.
// So R's walk is the loss's with another start: nothing enters at the logits, dR/dz(t) enters
// at the penalised layers (walk_down's Walked::Penalty; penalty_walk returns R). Its gz are kept apart
// from the y(t) it reads, so it runs before the loss's walk writes over them.

// Where the walk keeps gz(1..T), contiguous (writable when the trace and buffers are).
template <class TraceOf, class Buffers>
auto kept_gz(TraceOf& trace, Buffers& buf) {
  return trace.resnet ? trace.y.data() : buf.gz.data();
}

// The first penalised layer: the penalty covers layers first..T.
inline int first_penalised_layer(int T) { return std::max(1, T - 1); }

namespace detail {
// The checks both walks make of their trace and packed W; `who` names the caller.
template <class Real>
void check_walk(const Net<Real>& net, const Trace<Real>& trace, const PackedB<Real>* shared_w, Precision precision,
                const char* who) {
  const Config& cfg = net.config;
  if (!trace.keep_all || trace.depth != cfg.depth)
    throw Error(std::string(who) + " needs a full trace at the trained depth");
  if (trace.residuals_overwritten)
    throw Error(std::string(who) + " needs y(t), which backward has used up: run forward again");
  if (shared_w && (cfg.weights != Weights::Shared || shared_w->K() != cfg.width || shared_w->N() != cfg.width))
    throw Error(std::string(who) + ": packed weights that are not this shared-weight net's W");
  if (shared_w && shared_w->precision() != precision)
    throw Error(std::string(who) + ": W packed in another precision than the walk's");
}

// The penalty's own part of gz(t) at a penalised layer t: dR/dz_bi = (2 lambda / B) rho_i
// s_bi^2 (1 - 2 y_bi), added to what the walk brought down. R's sum of s_bi^2 rho_i goes into
// penalty and (1/B) sum_b s_bi^2, which the direct term needs, into buf.penalty_s2.
template <class Real>
void add_penalty_dz(const Net<Real>& net, const Trace<Real>& trace, int t, BackwardBuffers<Real>& buf, Real* gz,
                    double& penalty) {
  const int B = trace.batch, N = net.config.width, T = trace.depth;
  const Real* W = net.W(t);
  const Real* y = trace.residual(t);
  double* rho = buf.penalty_rho.data();
  double* mean_s2 = buf.penalty_s2.data() + size_t(t - first_penalised_layer(T)) * N;
  for (int i = 0; i < N; ++i) {
    double sum = 0;
    for (int j = 0; j < N; ++j) sum += double(W[size_t(i) * N + j]) * double(W[size_t(i) * N + j]);
    rho[size_t(i)] = sum;
  }
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < N; ++i) {
      const size_t k = size_t(b) * N + size_t(i);
      const double s = double(y[k]) * (1.0 - double(y[k]));
      penalty += s * s * rho[size_t(i)];
      mean_s2[size_t(i)] += s * s / B;
      gz[k] += Real(2.0 * buf.penalty_lambda / B * rho[size_t(i)] * s * s * (1.0 - 2.0 * double(y[k])));
    }
}
}  // namespace detail

// What a walk carries down the net: the loss's gradient or the noise penalty's.
enum class Walked { Loss, Penalty };

// The walk, for the loss and the penalty alike: from gx at x(T), at each layer t from T down
//   gz(t) = gx * s(t)(1 - s(t)) [+ dR/dz(t) for the penalty],  gx <- [gx +] gz(t) W_t,
// and at the stem gz0 = gx * x0(1 - x0), each gz made in the epilogue of the product that
// makes its gx. The loss's gx enters as dL K (buf.dlogits), the penalty's as zero. gz(1..T)
// go to gz (T blocks, sized by the caller). Returns R, or 0 for the loss. A shared-weight
// net's W may come packed (PackedB of W itself, Op::N), with the same bits.
template <class Real>
double walk_down(const Net<Real>& net, const Trace<Real>& trace, BackwardBuffers<Real>& buf, Walked walked, Real* gz,
                 int threads, const PackedB<Real>* shared_w) {
  const Config& cfg = net.config;
  const int B = trace.batch, N = cfg.width, C = cfg.classes, T = trace.depth;
  const size_t block = trace.block();
  const bool penalty = walked == Walked::Penalty;
  std::vector<Real>& gx_kept = penalty ? buf.penalty_gx : buf.gx;
  std::vector<Real>& gz0 = penalty ? buf.penalty_gz0 : buf.gz0;
  gx_kept.resize(block);
  gz0.resize(cfg.stem ? block : 0);
  Real* gx = gx_kept.data();
  auto gz_of = [&](int t) { return gz + size_t(t - 1) * block; };
  auto gz_epilogue = [&](int t_below) {
    if (t_below >= 1) return SigmoidGradEpilogue<Real>{trace.residual(t_below), gz_of(t_below), N};
    return SigmoidGradEpilogue<Real>{trace.state(0), gz0.data(), N};  // the stem's output x(0)
  };
  const SigmoidGradEpilogue<Real> top = gz_epilogue(T);
  if (!penalty) {
    gemm(Op::N, Op::N, B, N, C, Real(1), buf.dlogits.data(), C, net.K(), N, Real(0), gx, N, threads, top.as_epilogue(),
         buf.precision);
  } else {  // R does not depend on x(T)
    std::fill(gx, gx + block, Real(0));
    SigmoidGradEpilogue<Real>::apply(&top, gx, N, 0, 0, B, N);
  }
  double R = 0;
  for (int t = T; t >= 1; --t) {
    if (penalty && t >= first_penalised_layer(T)) detail::add_penalty_dz(net, trace, t, buf, gz_of(t), R);
    if (t == 1 && !cfg.stem) break;  // d / d x(0) is only needed to reach a stem
    // ResNet: gx(t-1) = gx(t) + gz(t) W_t (beta 1); MLP: gx(t-1) = gz(t) W_t (beta 0).
    const SigmoidGradEpilogue<Real> below = gz_epilogue(t - 1);
    const Real beta = trace.resnet ? Real(1) : Real(0);
    gemm_weights(Op::N, B, N, N, gz_of(t), N, net.W(t), N, shared_w, beta, gx, N, threads, below.as_epilogue(),
                 buf.precision);
  }
  return penalty ? buf.penalty_lambda * R / B : 0;
}

// The loss's walk: the mean loss (returned), dL = d loss / d logits, and gz of every layer and
// the stem. The trace must come from forward() with keep_all; a ResNet's y(t) are gone after it.
template <class Real>
double backward_walk(const Net<Real>& net, Trace<Real>& trace, const uint8_t* labels, BackwardBuffers<Real>& buf,
                     int threads = 1, const PackedB<Real>* shared_w = nullptr) {
  detail::check_walk(net, trace, shared_w, buf.precision, "backward");
  const int B = trace.batch, C = net.config.classes;
  buf.dlogits.resize(size_t(B) * C);
  buf.gz.resize(trace.resnet ? 0 : size_t(trace.depth) * trace.block());
  trace.residuals_overwritten = trace.resnet;
  const double loss = softmax_cross_entropy(trace.logits.data(), labels, B, C, buf.dlogits.data());
  walk_down(net, trace, buf, Walked::Loss, kept_gz(trace, buf), threads, shared_w);
  return loss;
}

// The penalty's walk: R with weight lambda (returned), and its gz of every layer and the stem.
// The trace must come from forward() with keep_all, before backward_walk has used its y(t).
template <class Real>
double penalty_walk(const Net<Real>& net, const Trace<Real>& trace, double lambda, BackwardBuffers<Real>& buf,
                    int threads = 1, const PackedB<Real>* shared_w = nullptr) {
  detail::check_walk(net, trace, shared_w, buf.precision, "noise_growth_penalty");
  const int N = net.config.width, T = trace.depth;
  buf.penalty_lambda = lambda;
  buf.penalty_gz.resize(size_t(T) * trace.block());
  buf.penalty_rho.resize(size_t(N));
  buf.penalty_s2.assign(size_t(T - first_penalised_layer(T) + 1) * N, 0.0);
  return walk_down(net, trace, buf, Walked::Penalty, buf.penalty_gz.data(), threads, shared_w);
}

// The products that turn kept d / d z into one group's gradient: out = beta out + the band's
// rows of gK, gW or gP (gK = dL^T x(T) for the classifier, gW = dz^T x(t-1) for a block, all
// layers' at once for shared weights, gP = dz0^T U for the stem), and with the last band the
// column sums added to the bias's part.
template <class Real>
void group_products(const Net<Real>& net, const Trace<Real>& trace, const ParamGroup& g, const Real* dlogits,
                    const Real* dz, const Real* dz0, Real beta, Real* out, int threads, Precision precision) {
  const Config& cfg = net.config;
  const int B = trace.batch, N = cfg.width, C = cfg.classes, D = cfg.input, T = trace.depth;
  const size_t weights = size_t(g.rows) * (g.kind == GroupKind::Stem ? D : N);  // the bias's part starts here
  switch (g.kind) {
    case GroupKind::Classifier:
      if (!dlogits) return;
      gemm(Op::T, Op::N, g.rows, N, B, Real(1), dlogits + g.row0, C, trace.state(T), N, beta, out, N, threads, {},
           precision);
      if (g.with_bias) add_column_sums(dlogits, B, C, out + weights);
      return;
    case GroupKind::Block: {
      // Shared: every layer's rows at once; per-layer: layer t = g.block alone.
      const int t = g.block, rows = cfg.weights == Weights::Shared ? T * B : B;
      const Real* gz = dz + (cfg.weights == Weights::Shared ? 0 : size_t(t - 1) * trace.block());
      gemm(Op::T, Op::N, g.rows, N, rows, Real(1), gz + g.row0, N, trace.state(t - 1), N, beta, out, N, threads, {},
           precision);
      if (g.with_bias) add_column_sums(gz, rows, N, out + weights);
      return;
    }
    case GroupKind::Stem:
      gemm(Op::T, Op::N, g.rows, D, B, Real(1), dz0 + g.row0, N, trace.input.data(), D, beta, out, D, threads, {},
           precision);
      if (g.with_bias) add_column_sums(dz0, B, N, out + weights);
      return;
  }
}

// The terms of a group's gradient, from the walks that made them: the loss's (backward_walk)
// overwrites out; the penalty's (penalty_walk) is added, after the loss's or alone.
enum class GradientTerms { Loss, LossAndPenalty, Penalty };

// The gradient of group g (g.size values at out) from the walks' buffers.
template <class Real>
void group_gradient(const Net<Real>& net, const Trace<Real>& trace, const BackwardBuffers<Real>& buf,
                    const ParamGroup& g, Real* out, int threads = 1, GradientTerms terms = GradientTerms::Loss) {
  if (terms != GradientTerms::Penalty) {
    std::fill(out, out + g.size, Real(0));  // the biases' column sums add to it
    group_products(net, trace, g, buf.dlogits.data(), kept_gz(trace, buf), buf.gz0.data(), Real(0), out, threads,
                   buf.precision);
  }
  if (terms == GradientTerms::Loss || g.kind == GroupKind::Classifier) return;  // R does not see the classifier
  // The penalty's direct term on the penalised blocks (layer T first, as shared weights take
  // both), then the products of its walk.
  const Config& cfg = net.config;
  const int N = cfg.width, T = trace.depth, first = first_penalised_layer(T);
  if (g.kind == GroupKind::Block)
    for (int t = T; t >= first; --t) {
      if (cfg.weights != Weights::Shared && t != g.block) continue;
      const Real* W = net.W(t);
      const double* mean_s2 = buf.penalty_s2.data() + size_t(t - first) * N;
      for (int i = g.row0; i < g.row0 + g.rows; ++i)
        for (int j = 0; j < N; ++j)
          out[size_t(i - g.row0) * N + j] +=
              Real(2.0 * buf.penalty_lambda * mean_s2[size_t(i)] * double(W[size_t(i) * N + j]));
    }
  group_products(net, trace, g, static_cast<const Real*>(nullptr), buf.penalty_gz.data(), buf.penalty_gz0.data(),
                 Real(1), out, threads, buf.precision);
}

// Gradient of the mean loss with respect to every parameter, into grad (layout.total
// values, overwritten); returns the loss. The trace must come from forward() with keep_all,
// and a ResNet's y(t) are gone after it (backward_walk).
template <class Real>
double backward(const Net<Real>& net, Trace<Real>& trace, const uint8_t* labels, Real* grad, BackwardBuffers<Real>& buf,
                int threads = 1) {
  const double loss = backward_walk(net, trace, labels, buf, threads);
  for (int i = 0; i < group_count(net.layout); ++i) {
    const ParamGroup g = param_group(net.layout, i);
    group_gradient(net, trace, buf, g, grad + g.offset, threads);
  }
  return loss;
}

// R and its gradient added into grad (layout.total values). The trace must be a keep_all
// trace at the trained depth that backward() has not yet used (it needs y(t)).
template <class Real>
double noise_growth_penalty(const Net<Real>& net, const Trace<Real>& trace, double lambda, Real* grad,
                            BackwardBuffers<Real>& buf, int threads = 1) {
  const double penalty = penalty_walk(net, trace, lambda, buf, threads);
  for (int i = 0; i < group_count(net.layout); ++i) {
    const ParamGroup g = param_group(net.layout, i);
    group_gradient(net, trace, buf, g, grad + g.offset, threads, GradientTerms::Penalty);
  }
  return penalty;
}

#define RESDYN_BACKWARD_INSTANCES(Real)                                                                                \
  RESDYN_INSTANCE double backward<Real>(const Net<Real>&, Trace<Real>&, const uint8_t*, Real*, BackwardBuffers<Real>&, \
                                        int);                                                                          \
  RESDYN_INSTANCE double backward_walk<Real>(const Net<Real>&, Trace<Real>&, const uint8_t*, BackwardBuffers<Real>&,   \
                                             int, const PackedB<Real>*);                                               \
  RESDYN_INSTANCE double penalty_walk<Real>(const Net<Real>&, const Trace<Real>&, double, BackwardBuffers<Real>&, int, \
                                            const PackedB<Real>*);                                                     \
  RESDYN_INSTANCE void group_gradient<Real>(const Net<Real>&, const Trace<Real>&, const BackwardBuffers<Real>&,        \
                                            const ParamGroup&, Real*, int, GradientTerms);                             \
  RESDYN_INSTANCE double noise_growth_penalty<Real>(const Net<Real>&, const Trace<Real>&, double, Real*,               \
                                                    BackwardBuffers<Real>&, int);
RESDYN_BACKWARD_INSTANCES(float)
RESDYN_BACKWARD_INSTANCES(double)

// ============================================================================
// 13. Optimisers
// ============================================================================

enum class OptimizerKind { SGD, Adam };
enum class Schedule { Constant, Cosine };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::Adam;
  double lr = 1e-3;
  double momentum = 0.9;                          // SGD
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam (Kingma & Ba 2015)
  Schedule schedule = Schedule::Cosine;
};

// Learning rate at step s of total: constant, or cosine decay from lr to 0 over the run.
inline double learning_rate(const OptimizerConfig& cfg, long step, long total) {
  if (cfg.schedule == Schedule::Constant || total <= 0) return cfg.lr;
  const double progress = std::min(1.0, double(step) / double(total));
  return cfg.lr * 0.5 * (1.0 + std::cos(3.141592653589793 * progress));
}

// Optimiser state lives in vectors of the parameters' layout, so pruning a layer cuts the
// same tail from all of them.
template <class Real>
struct Optimizer {
  OptimizerConfig config;
  std::vector<Real> m, v;  // SGD: m is the velocity. Adam: first and second moments
  long step = 0;

  void reset(size_t n) {
    m.assign(n, Real(0));
    v.assign(config.kind == OptimizerKind::Adam ? n : 0, Real(0));
    step = 0;
  }
  // A step updates every parameter once: begin_step(), then update() on each group of them
  // (Adam's bias corrections depend on the step count).
  void begin_step() { ++step; }
  // Updates params[offset, offset + n) of the whole vector params with their gradient
  // grad[0, n) at learning rate lr. Each value is updated on its own, so splitting the range
  // across threads, or the vector into groups, changes nothing.
  void update(Real* params, const Real* grad, size_t offset, size_t n, double lr, int threads = 1) {
    const size_t chunk = size_t(1) << 16;
    const int tasks = int((n + chunk - 1) / chunk);
    ThreadPool::shared().run(threads, tasks, [&](int task, int) {
      const size_t lo = size_t(task) * chunk, hi = std::min(n, lo + chunk);
      update_range(params + offset, grad, m.data() + offset, v.empty() ? nullptr : v.data() + offset, lo, hi, lr);
    });
  }

 private:
  void update_range(Real* params, const Real* grad, Real* m, Real* v, size_t lo, size_t hi, double lr) const {
    if (config.kind == OptimizerKind::SGD) {
      const Real mu = Real(config.momentum), a = Real(lr);
      for (size_t i = lo; i < hi; ++i) {
        m[i] = mu * m[i] + grad[i];
        params[i] -= a * m[i];
      }
      return;
    }
    const Real b1 = Real(config.beta1), b2 = Real(config.beta2), eps = Real(config.eps);
    const Real c1 = Real(1.0 / (1.0 - std::pow(config.beta1, double(step))));
    const Real c2 = Real(1.0 / (1.0 - std::pow(config.beta2, double(step))));
    const Real a = Real(lr);
    for (size_t i = lo; i < hi; ++i) {
      m[i] = b1 * m[i] + (Real(1) - b1) * grad[i];
      v[i] = b2 * v[i] + (Real(1) - b2) * grad[i] * grad[i];
      params[i] -= a * (m[i] * c1) / (std::sqrt(v[i] * c2) + eps);
    }
  }
};

// ============================================================================
// 14. Training and adaptive depth (paper §7)
// ============================================================================
// The trainer runs epochs of shuffled mini-batches (with optional whole-pixel shifts),
// updating each group of parameters as soon as its gradient is made. The pruner of paper
// §7 measures d = mean |y_i(T) - y_i(T-1)| after an epoch and removes layer T while d is
// below the threshold (0.01 in the paper).

// d = mean over samples and neurons of |y_i(T) - y_i(T-1)|: how much the last layer still
// changes the residual. Computed on the first `samples` images of `probe` (0 = all).
template <class Real>
double residual_convergence(const Net<Real>& net, const Dataset& probe, int samples = 1000, int threads = 1) {
  const Config& cfg = net.config;
  if (cfg.arch != Arch::ResNet) throw Error("the residual convergence measure needs a ResNet");
  if (cfg.depth < 2) return 0;
  const int count = samples > 0 ? std::min(samples, probe.count) : probe.count;
  if (count < 1) throw Error("the probe set is empty");
  const int N = cfg.width, T = cfg.depth, batch = 256;
  std::vector<Real> before(size_t(batch) * N);
  double sum = 0;
  Trace<Real> trace;
  ForwardOptions<Real> opt;
  opt.keep_all = false;
  opt.threads = threads;
  const auto last_two_residuals = [&](int t, const Real* y, const Real*) {
    const size_t n = size_t(trace.batch) * N;
    if (t == T - 1) std::copy(y, y + n, before.begin());
    if (t == T)
      for (size_t i = 0; i < n; ++i) sum += std::abs(double(y[i]) - double(before[i]));
  };
  opt.on_layer = last_two_residuals;
  for (int first = 0; first < count; first += batch) {
    set_input(trace, &probe.images[size_t(first) * cfg.input], std::min(batch, count - first), cfg.input);
    forward(net, trace, opt);
  }
  return sum / (double(count) * N);
}

RESDYN_INSTANCE double residual_convergence<float>(const Net<float>&, const Dataset&, int, int);

struct PruneOptions {
  double threshold = 0;      // remove the last layer while d < threshold (paper: 0.01)
  bool repeat = false;       // more than one layer per call
  int probe_samples = 1000;  // the first training images
};

struct PruneStep {
  double d_before = 0, d_after = 0;  // d when called, d of the net it leaves
  int removed = 0;
};

// Removes layer T: a per-layer net drops W_T and b_T (the tail of its parameters), a shared
// net just runs one layer fewer. Never below depth 1.
template <class Real>
void prune_last_layer(Net<Real>& net) {
  if (net.config.depth <= 1) throw Error("cannot prune a net of depth 1");
  net.config.depth -= 1;
  net.layout = layout_of(net.config);
  net.params.resize(net.layout.total);
}

struct TrainOptions {
  int epochs = 5;
  int batch = 64;
  OptimizerConfig optimizer;
  uint64_t seed = 1;
  int threads = 1;
  double noise_reg = 0;                   // lambda of noise_growth_penalty (section 12); 0: off
  int shift = 0;                          // augmentation: each training image moved by up to this many pixels; 0: off
  Precision precision = Precision::fp32;  // of every product, forward and backward (section 2)
};

// The image moved right by dx and down by dy whole pixels (either may be negative); pixels
// moved in from outside are 0. out must not overlap in.
inline void translate_image(const uint8_t* in, int rows, int cols, int dx, int dy, uint8_t* out) {
  for (int r = 0; r < rows; ++r) {
    const int from = r - dy;
    for (int c = 0; c < cols; ++c) {
      const int from_c = c - dx;
      out[size_t(r) * cols + c] =
          from >= 0 && from < rows && from_c >= 0 && from_c < cols ? in[size_t(from) * cols + from_c] : uint8_t(0);
    }
  }
}

struct BatchProgress {
  int epoch = 0, epochs = 0;    // epoch counts from 1
  long batch = 0, batches = 0;  // batches done in this epoch, of
  double loss = 0;              // mean loss of the epoch so far
  double samples_per_second = 0;
  double eta_seconds = 0;  // to the end of the run
};

// Owns everything one training run needs and runs it an epoch at a time, so callers (the
// CLI, the pruner) can look at the net between epochs.
template <class Real>
class Trainer {
 public:
  Trainer(Net<Real>& net, const Dataset& train, const TrainOptions& options)
      : net_(net), data_(train), options_(options), rng_(options.seed) {
    if (options.batch < 1) throw Error("batch size must be at least 1");
    if (options.epochs < 1) throw Error("epochs must be at least 1");
    if (train.count < 1) throw Error("the training set is empty");
    if (!(options.noise_reg >= 0) || !std::isfinite(options.noise_reg))
      throw Error("the noise regularisation weight must be a finite number >= 0");
    if (options.shift < 0 || (options.shift > 0 && (options.shift >= train.rows || options.shift >= train.cols)))
      throw Error("the augmentation shift must be at least 0 and smaller than the images (" +
                  std::to_string(train.rows) + " x " + std::to_string(train.cols) + ")");
    check_image_size(train, net.config);
    for (int n = 0; n < train.count; ++n)  // a label past the classes would index past the logits
      if (train.labels[size_t(n)] >= net.config.classes)
        throw Error("training sample " + std::to_string(n) + " has label " + std::to_string(train.labels[size_t(n)]) +
                    " but the network has " + std::to_string(net.config.classes) + " classes");
    optimizer_.config = options.optimizer;
    optimizer_.reset(net.params.size());
    grad_.resize(largest_group(net.layout));
    order_.resize(size_t(train.count));
    for (size_t i = 0; i < order_.size(); ++i) order_[i] = uint32_t(i);
    batch_pixels_.resize(size_t(options.batch) * net.config.input);
    batch_labels_.resize(size_t(options.batch));
  }

  long batches_per_epoch() const { return (data_.count + options_.batch - 1) / options_.batch; }
  int epochs_done() const { return epoch_; }           // epochs begun (the current one counts)
  bool mid_epoch() const { return next_batch_ != 0; }  // stopped inside an epoch (a checkpoint)

  // One pass over the shuffled training set (or the rest of it, after a restore); returns
  // its mean training loss. on_batch runs after every step, when the trainer's state is
  // whole: it may save a checkpoint, or throw to stop.
  double train_epoch(FunctionRef<void(const BatchProgress&)> on_batch = {}) {
    if (next_batch_ == 0) {
      ++epoch_;
      // Fisher–Yates with our generator: the data order depends on the seed alone.
      for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[size_t(rng_.below(i))]);
      loss_sum_ = 0;
      seen_ = 0;
    }
    const int D = net_.config.input;
    const long batches = batches_per_epoch();
    const long total_steps = batches * options_.epochs;
    const long first_batch = next_batch_;
    const double start = monotonic_seconds();
    ForwardOptions<Real> fwd;
    fwd.threads = options_.threads;
    fwd.precision = options_.precision;
    buffers_.precision = options_.precision;
    for (long bi = first_batch; bi < batches; ++bi) {
      const int first = int(bi * options_.batch);
      const int count = std::min(options_.batch, data_.count - first);
      for (int r = 0; r < count; ++r) {
        const uint32_t idx = order_[size_t(first + r)];
        const uint8_t* image = &data_.images[size_t(idx) * D];
        if (options_.shift > 0) {
          // The offset depends on seed, epoch and position alone, so a resumed run draws the same.
          Rng draw(options_.seed ^ (uint64_t(epoch_) << 40) ^ (uint64_t(first + r) * 0x9E3779B97F4A7C15ull));
          const uint64_t side = uint64_t(2 * options_.shift + 1);
          const int dx = int(draw.below(side)) - options_.shift, dy = int(draw.below(side)) - options_.shift;
          translate_image(image, data_.rows, data_.cols, dx, dy, &batch_pixels_[size_t(r) * D]);
        } else {
          std::memcpy(&batch_pixels_[size_t(r) * D], image, size_t(D));
        }
        batch_labels_[size_t(r)] = data_.labels[idx];
      }
      set_input(trace_, batch_pixels_.data(), count, D);
      // A shared W serves all T layers of the step: packed once for the forward products
      // and once for backprop's, not once per product. Same bits (PackedB).
      const bool pack_shared = net_.config.weights == Weights::Shared && net_.config.depth > 1;
      if (pack_shared) {
        if (!forward_weights_)
          forward_weights_ = std::make_unique<PackedNet<Real>>(net_, options_.threads, options_.precision);
        else
          forward_weights_->pack(options_.threads);
        fwd.packed = forward_weights_.get();
      }
      forward(net_, trace_, fwd);
      const int N = net_.config.width;
      if (pack_shared) backward_weights_.pack(Op::N, N, N, net_.W(1), N, options_.threads, options_.precision);
      const PackedB<Real>* shared_w = pack_shared ? &backward_weights_ : nullptr;
      // The penalty's gradient joins the loss's; the reported loss stays the cross-entropy,
      // comparable with unregularised runs. Its walk reads y(t), so it goes first.
      const bool penalised = options_.noise_reg > 0;
      if (penalised) penalty_walk(net_, trace_, options_.noise_reg, buffers_, options_.threads, shared_w);
      const double loss = backward_walk(net_, trace_, batch_labels_.data(), buffers_, options_.threads, shared_w);
      // A numerical fault stops training before it reaches the weights.
      if (!std::isfinite(loss))
        throw Error("epoch " + std::to_string(epoch_) + ", batch " + std::to_string(bi + 1) +
                    ": the loss is not finite; training stopped with the weights of the previous step");
      // Both walks are done, so each group's weights change as soon as its gradient is made:
      // the whole net's gradient is never held (section 12).
      const double lr = learning_rate(options_.optimizer, optimizer_.step, total_steps);
      optimizer_.begin_step();
      for (int i = 0; i < group_count(net_.layout); ++i) {
        const ParamGroup g = param_group(net_.layout, i);
        group_gradient(net_, trace_, buffers_, g, grad_.data(), options_.threads,
                       penalised ? GradientTerms::LossAndPenalty : GradientTerms::Loss);
        optimizer_.update(net_.params.data(), grad_.data(), g.offset, g.size, lr, options_.threads);
      }
      loss_sum_ += loss * count;
      seen_ += count;
      next_batch_ = bi + 1 < batches ? bi + 1 : 0;
      if (on_batch) {
        const double elapsed = monotonic_seconds() - start;
        BatchProgress p;
        p.epoch = epoch_;
        p.epochs = options_.epochs;
        p.batch = bi + 1;
        p.batches = batches;
        p.loss = loss_sum_ / double(seen_);
        p.samples_per_second = elapsed > 0 ? double(options_.batch) * double(bi + 1 - first_batch) / elapsed : 0;
        const double left = double(batches - bi - 1) + double(batches) * (options_.epochs - epoch_);
        p.eta_seconds = elapsed / double(bi + 1 - first_batch) * left;
        on_batch(p);
      }
    }
    // Between epochs the trainer keeps no batch memory: probes and evaluation have it instead.
    trace_ = Trace<Real>();
    buffers_ = BackwardBuffers<Real>();
    return loss_sum_ / double(seen_);
  }

  // Everything besides the net that makes the rest of a run come out the same as if it had
  // never stopped: position (epoch, next batch, this epoch's data order and loss so far),
  // the generator, and the optimiser's state. Restore it into a trainer built with the same
  // net (as saved at the same moment), data and options.
  // Into any writer of sections 10 and 18; encode_state() is the same in memory.
  template <class Out>
  void write_state(Out& w) const {
    w.u32(uint32_t(epoch_));
    w.u64(uint64_t(next_batch_));
    w.f64(loss_sum_);
    w.u64(uint64_t(seen_));
    for (uint64_t word : rng_.s) w.u64(word);
    w.u64(order_.size());
    for (uint32_t i : order_) w.u32(i);
    w.u32(uint32_t(optimizer_.config.kind));
    w.u64(uint64_t(optimizer_.step));
    w.u32(uint32_t(sizeof(Real)));  // the moments' precision: 4 or 8 bytes each
    for (const std::vector<Real>* moments : {&optimizer_.m, &optimizer_.v}) {
      w.u64(moments->size());
      for (Real x : *moments) sizeof(Real) == 4 ? w.f32(float(x)) : w.f64(double(x));
    }
  }
  std::vector<uint8_t> encode_state() const {
    ByteWriter w;
    write_state(w);
    return w.bytes;
  }
  void restore_state(const uint8_t* data, size_t size, const std::string& where) {
    ByteReader r(data, size, where);
    restore_state(r, where);
  }
  // From any reader of sections 10 and 18, to its end. Everything but the moments is checked before
  // anything changes; the moments are read in place (a copy would double the paper net's
  // 142 MB of them), so an error while reading them leaves the trainer part-restored: build
  // a new one.
  template <class In>
  void restore_state(In& r, const std::string& where) {
    auto fail = [&where](const std::string& what) { return Error(where + ": " + what); };
    const uint32_t epoch = r.u32("epoch");
    const uint64_t next_batch = r.u64("batch");
    if (epoch > uint32_t(options_.epochs) || next_batch >= uint64_t(batches_per_epoch()) ||
        (epoch == 0 && next_batch != 0))
      throw fail("training position out of range for these options");
    const double loss_sum = r.f64("loss");
    const uint64_t seen = r.u64("samples seen");
    Rng rng(0);
    for (uint64_t& word : rng.s) word = r.u64("generator state");
    const size_t count = r.count("data order", 4);
    if (count != order_.size()) throw fail("the data order is for a training set of another size");
    std::vector<uint32_t> order(count);
    std::vector<uint8_t> present(count, 0);
    for (uint32_t& i : order) {
      i = r.u32("data order");
      if (i >= count || present[i]) throw fail("the data order is not a permutation");
      present[i] = 1;
    }
    if (r.u32("optimiser") != uint32_t(optimizer_.config.kind)) throw fail("saved with another optimiser");
    const uint64_t step = r.u64("optimiser step");
    const uint32_t precision = r.u32("optimiser precision");
    if (precision != 4 && precision != 8) throw fail("optimiser state of unknown precision");
    const size_t n = net_.params.size(), want_v = optimizer_.config.kind == OptimizerKind::Adam ? n : 0;
    // m's count and values, then v's count and values, and nothing after them.
    if (r.count("optimiser state", precision) != n || r.left() != n * precision + 8 + want_v * precision)
      throw fail("optimiser state does not match the network");
    epoch_ = int(epoch);
    next_batch_ = long(next_batch);
    loss_sum_ = loss_sum;
    seen_ = long(seen);
    rng_ = rng;
    order_ = std::move(order);
    optimizer_.step = long(step);
    auto read_moments = [&](std::vector<Real>& moments) {
      moments.resize(n);
      for (Real& x : moments) x = Real(precision == 4 ? double(r.f32("optimiser state")) : r.f64("optimiser state"));
    };
    read_moments(optimizer_.m);
    if (r.count("optimiser state", precision) != want_v) throw fail("optimiser state does not match the network");
    optimizer_.v.resize(want_v);
    if (want_v) read_moments(optimizer_.v);
  }

  Optimizer<Real>& optimizer() { return optimizer_; }

  // Removes the net's last layer between epochs and cuts the optimiser's state to match, so
  // training goes on seamlessly.
  void prune_last_layer() {
    resdyn::prune_last_layer(net_);
    optimizer_.m.resize(std::min(optimizer_.m.size(), net_.params.size()));
    optimizer_.v.resize(std::min(optimizer_.v.size(), net_.params.size()));
  }

  // The pruner of paper §7, run after an epoch: measure d on the probe set and remove the last
  // layer if d < threshold (and the net is deeper than 1); with repeat, measure again and go
  // on while it holds. Threshold 0 never prunes.
  PruneStep prune_converged_layers(const Dataset& probe, const PruneOptions& p) {
    PruneStep step;
    step.d_before = step.d_after = residual_convergence(net_, probe, p.probe_samples, options_.threads);
    while (step.d_after < p.threshold && net_.config.depth > 1 && (step.removed == 0 || p.repeat)) {
      prune_last_layer();
      ++step.removed;
      step.d_after = residual_convergence(net_, probe, p.probe_samples, options_.threads);
    }
    return step;
  }

 private:
  Net<Real>& net_;
  const Dataset& data_;
  TrainOptions options_;
  Rng rng_;
  Optimizer<Real> optimizer_;
  std::vector<Real> grad_;  // one parameter group's gradient at a time
  std::vector<uint32_t> order_;
  std::vector<uint8_t> batch_pixels_, batch_labels_;
  Trace<Real> trace_;
  BackwardBuffers<Real> buffers_;
  // A shared-weight net's weights, packed each step (kept between epochs: 12 MB at the
  // paper's size, and packing into fresh memory every epoch would fault it all in again).
  std::unique_ptr<PackedNet<Real>> forward_weights_;
  PackedB<Real> backward_weights_;  // its W, as backprop's products read it
  int epoch_ = 0;                   // epochs begun
  long next_batch_ = 0;             // next batch of the current epoch; 0 between epochs
  double loss_sum_ = 0;             // this epoch's loss, summed over samples
  long seen_ = 0;                   // this epoch's samples so far
};

// ============================================================================
// 15. Training in Q15.16 integers
// ============================================================================
// The same training step as sections 8 and 12 in integers only, for devices without
// floating point.
//
// Everything a training step computes is an integer: parameters, activations and
// back-propagated signals in Q15.16 (int32); products summed exactly in int64 (Q.32, what a
// Cortex-M's multiply-accumulate-long gives); gradients and momentum kept in Q.32 int64;
// the logistic function and the softmax's e^-a from the tables above. Only the weight update
// rounds stochastically (up with probability equal to the dropped fraction), so updates far
// below one Q15.16 unit (2^-16) still move the weights on average. The forward and backward
// passes are those of sections 8 and 12, step for step.

// Parameters in Q15.16, in the layout of section 3.
struct FixedNet {
  Config config;
  Layout layout;
  std::vector<int32_t> params;
  int32_t* at(size_t offset) { return params.data() + offset; }
  const int32_t* at(size_t offset) const { return params.data() + offset; }
};

inline FixedNet to_fixed(const Net<float>& net) {
  FixedNet f{net.config, net.layout, std::vector<int32_t>(net.params.size())};
  for (size_t i = 0; i < net.params.size(); ++i) f.params[i] = fixed::Q15_16::from_real(net.params[i]).raw;
  return f;
}

inline Net<float> to_float(const FixedNet& f) {
  Net<float> net(f.config);
  for (size_t i = 0; i < f.params.size(); ++i) net.params[i] = float(fixed::Q15_16::from_raw(f.params[i]).to_real());
  return net;
}

namespace fixed {

// C += op(A) op(B) exactly, in int64 (A is M x K, B is K x N after op; row-major strides).
inline void fixed_matmul(Op opA, Op opB, int M, int N, int K, const int32_t* A, int lda, const int32_t* B, int ldb,
                         int64_t* C, int ldc) {
  if (opA == Op::N && opB == Op::T) {  // rows of A against rows of B
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        const int32_t* a = A + size_t(i) * lda;
        const int32_t* b = B + size_t(j) * ldb;
        int64_t sum = 0;
        for (int k = 0; k < K; ++k) sum += int64_t(a[k]) * b[k];
        C[size_t(i) * ldc + j] += sum;
      }
    return;
  }
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < K; ++k) {
      const int64_t a = opA == Op::N ? A[size_t(i) * lda + k] : A[size_t(k) * lda + i];
      if (a == 0) continue;
      int64_t* c = C + size_t(i) * ldc;
      if (opB == Op::N) {
        const int32_t* b = B + size_t(k) * ldb;
        for (int j = 0; j < N; ++j) c[j] += a * b[j];
      } else {
        for (int j = 0; j < N; ++j) c[j] += a * B[size_t(j) * ldb + k];
      }
    }
}

// Q.32 sums back to Q15.16.
inline int32_t q32_to_q16(int64_t v) { return saturate_i32(round_shift_right(v, 16)); }

}  // namespace fixed

// Activations of one batch, all layers kept (backprop needs them), like Trace.
struct FixedTrace {
  int batch = 0, depth = 0, width = 0;
  bool resnet = true;
  std::vector<int32_t> input, x, y, logits;  // Q15.16
  std::vector<int64_t> sums;                 // scratch: B x max(N, C) exact products
  int32_t* state(int t) { return x.data() + size_t(t) * batch * width; }
  const int32_t* state(int t) const { return x.data() + size_t(t) * batch * width; }
  int32_t* residual(int t) { return resnet ? y.data() + size_t(t - 1) * batch * width : state(t); }
  const int32_t* residual(int t) const { return resnet ? y.data() + size_t(t - 1) * batch * width : state(t); }
};

// The forward pass of section 8 in Q15.16, step for step under the same names:
//   stem:      x(0) = sigma(U P^T + c)                 (or x(0) = U without a stem)
//   ResNet:    y(t) = sigma(x(t-1) W_t^T + b_t),  x(t) = x(t-1) + y(t)   (paper §4)
//   MLP:       h(t) = sigma(h(t-1) W_t^T + b_t)                          (paper §5)
//   output:    logits = x(T) K^T + k0

// Pixels (uint8, B x D) into the trace's input block as Q15.16 values in [0, 1], rounded.
inline void set_input(FixedTrace& tr, const uint8_t* pixels, int batch, int input_size) {
  tr.batch = batch;
  tr.input.resize(size_t(batch) * input_size);
  for (size_t i = 0; i < tr.input.size(); ++i) tr.input[i] = (int32_t(pixels[i]) * 65536 + 127) / 255;
}

// Sizes the trace for this net at its trained depth, every layer kept.
inline void prepare_trace(const FixedNet& net, FixedTrace& tr) {
  const Config& cfg = net.config;
  const int N = cfg.width, C = cfg.classes, T = cfg.depth;
  tr.depth = T;
  tr.width = N;
  tr.resnet = cfg.arch == Arch::ResNet;
  tr.x.resize(size_t(T + 1) * tr.batch * N);
  tr.y.resize(tr.resnet ? size_t(T) * tr.batch * N : 0);
  tr.logits.resize(size_t(tr.batch) * C);
  tr.sums.resize(size_t(tr.batch) * std::max(N, C));
}

namespace fixed {

// z = A W^T + bias for the trace's batch, each exact sum rounded to Q15.16 once.
inline void affine_rows(FixedTrace& tr, const int32_t* a, int inner, const int32_t* w, const int32_t* bias, int outs,
                        int32_t* z) {
  const int batch = tr.batch;
  std::fill(tr.sums.begin(), tr.sums.begin() + size_t(batch) * outs, int64_t(0));
  fixed_matmul(Op::N, Op::T, batch, outs, inner, a, inner, w, inner, tr.sums.data(), outs);
  for (int r = 0; r < batch; ++r)
    for (int i = 0; i < outs; ++i)
      z[size_t(r) * outs + i] = add_saturate(q32_to_q16(tr.sums[size_t(r) * outs + i]), bias[i]);
}

}  // namespace fixed

// x(0) from the input: the stem, or a copy of the pixels.
inline void compute_initial_state(const FixedNet& net, FixedTrace& tr) {
  const Config& cfg = net.config;
  int32_t* x0 = tr.state(0);
  if (cfg.stem) {
    fixed::affine_rows(tr, tr.input.data(), cfg.input, net.at(net.layout.P), net.at(net.layout.c), cfg.width, x0);
    for (size_t i = 0; i < size_t(tr.batch) * cfg.width; ++i) x0[i] = fixed::sigmoid_q16(x0[i]);
  } else {
    std::copy(tr.input.begin(), tr.input.end(), x0);
  }
}

// Layers 1..T from x(0) already in the trace, then the logits.
inline void run_layers(const FixedNet& net, FixedTrace& tr) {
  const Config& cfg = net.config;
  const int N = cfg.width, T = tr.depth;
  const size_t block = size_t(tr.batch) * N;
  for (int t = 1; t <= T; ++t) {
    const int32_t* prev = tr.state(t - 1);
    int32_t* out = tr.residual(t);  // y(t), or h(t) of an MLP
    fixed::affine_rows(tr, prev, N, net.at(net.layout.W(t)), net.at(net.layout.b(t)), N, out);
    for (size_t i = 0; i < block; ++i) out[i] = fixed::sigmoid_q16(out[i]);
    if (tr.resnet) {
      int32_t* x = tr.state(t);
      for (size_t i = 0; i < block; ++i) x[i] = fixed::add_saturate(prev[i], out[i]);
    }
  }
  fixed::affine_rows(tr, tr.state(T), N, net.at(net.layout.K), net.at(net.layout.k0), cfg.classes, tr.logits.data());
}

// The whole forward pass in Q15.16 on a batch of images (pixels, B x D bytes), as forward().
inline void fixed_forward(const FixedNet& net, const uint8_t* pixels, int batch, FixedTrace& tr) {
  set_input(tr, pixels, batch, net.config.input);
  prepare_trace(net, tr);
  compute_initial_state(net, tr);
  run_layers(net, tr);
}

// Softmax of Q15.16 logits as Q15.16 probabilities (exp from the table, one division).
inline void fixed_softmax(const int32_t* logits, int classes, int32_t* prob) {
  int32_t top = logits[0];
  for (int k = 1; k < classes; ++k) top = std::max(top, logits[k]);
  int64_t total = 0;
  for (int k = 0; k < classes; ++k) total += fixed::exp_neg_q30(fixed::saturate_i32(int64_t(top) - logits[k]));
  for (int k = 0; k < classes; ++k) {
    const int64_t e = fixed::exp_neg_q30(fixed::saturate_i32(int64_t(top) - logits[k]));
    prob[k] = int32_t((e * 65536 + total / 2) / total);
  }
}

// Gradients of the summed (not mean) loss over a batch, in Q.32, and backprop scratch.
struct FixedGradients {
  std::vector<int64_t> grad;             // layout.total values
  std::vector<int32_t> dlogits, gx, gz;  // Q15.16
  double loss = 0;                       // summed cross-entropy, for the log only
};

// Section 12's backward pass in integers (same line-by-line correspondence as backward()).
inline void fixed_backward(const FixedNet& net, const FixedTrace& tr, const uint8_t* labels, FixedGradients& g) {
  using namespace fixed;
  const Config& cfg = net.config;
  const Layout& L = net.layout;
  const int B = tr.batch, N = cfg.width, C = cfg.classes, D = cfg.input, T = tr.depth;
  const size_t block = size_t(B) * N;
  g.grad.assign(L.total, 0);
  g.dlogits.resize(size_t(B) * C);
  g.gx.resize(block);
  g.gz.resize(size_t(T) * block);
  g.loss = 0;
  // dL/dlogits = softmax - onehot (per sample; the 1/B goes into the learning rate)
  for (int r = 0; r < B; ++r) {
    int32_t* d = g.dlogits.data() + size_t(r) * C;
    fixed_softmax(tr.logits.data() + size_t(r) * C, C, d);
    g.loss -= std::log(std::max(int32_t(1), d[labels[r]]) / 65536.0);
    d[labels[r]] -= 65536;
  }
  auto column_sums = [](const int32_t* a, int rows, int cols, int64_t* out) {  // Q.16 sums into Q.32
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < cols; ++j) out[j] += int64_t(a[size_t(r) * cols + j]) * 65536;
  };
  // M x N product rounded to Q15.16 into out (beta: add to out instead of replacing it).
  std::vector<int64_t> sums(block);
  auto product_q16 = [&](Op opA, Op opB, int M, int Nc, int K, const int32_t* A, int lda, const int32_t* Bm, int ldb,
                         bool add, int32_t* out) {
    std::fill(sums.begin(), sums.begin() + size_t(M) * Nc, int64_t(0));
    fixed_matmul(opA, opB, M, Nc, K, A, lda, Bm, ldb, sums.data(), Nc);
    for (size_t i = 0; i < size_t(M) * Nc; ++i)
      out[i] = add ? add_saturate(out[i], q32_to_q16(sums[i])) : q32_to_q16(sums[i]);
  };
  const int32_t* dL = g.dlogits.data();
  fixed_matmul(Op::T, Op::N, C, N, B, dL, C, tr.state(T), N, g.grad.data() + L.K, N);
  column_sums(dL, B, C, g.grad.data() + L.k0);
  int32_t* gx = g.gx.data();
  product_q16(Op::N, Op::N, B, N, C, dL, C, net.at(L.K), N, false, gx);
  // gz = gx * y (1 - y): the derivative y(1-y) rounded to Q15.16 first.
  auto times_slope = [](int32_t gradient, int32_t y) {
    const int32_t slope = int32_t(round_shift_right(int64_t(y) * (65536 - y), 16));
    return saturate_i32(round_shift_right(int64_t(gradient) * slope, 16));
  };
  for (int t = T; t >= 1; --t) {
    int32_t* gz = g.gz.data() + size_t(t - 1) * block;
    const int32_t* y = tr.residual(t);
    for (size_t i = 0; i < block; ++i) gz[i] = times_slope(gx[i], y[i]);
    product_q16(Op::N, Op::N, B, N, N, gz, N, net.at(L.W(t)), N, tr.resnet, gx);
  }
  if (cfg.weights == Weights::Shared) {
    fixed_matmul(Op::T, Op::N, N, N, T * B, g.gz.data(), N, tr.state(0), N, g.grad.data() + L.W(1), N);
    column_sums(g.gz.data(), T * B, N, g.grad.data() + L.b(1));
  } else {
    for (int t = 1; t <= T; ++t) {
      const int32_t* gz = g.gz.data() + size_t(t - 1) * block;
      fixed_matmul(Op::T, Op::N, N, N, B, gz, N, tr.state(t - 1), N, g.grad.data() + L.W(t), N);
      column_sums(gz, B, N, g.grad.data() + L.b(t));
    }
  }
  if (cfg.stem) {
    const int32_t* x0 = tr.state(0);
    int32_t* gz0 = g.gz.data();
    for (size_t i = 0; i < block; ++i) gz0[i] = times_slope(gx[i], x0[i]);
    fixed_matmul(Op::T, Op::N, N, D, B, gz0, N, tr.input.data(), D, g.grad.data() + L.P, D);
    column_sums(gz0, B, N, g.grad.data() + L.c);
  }
}

// SGD with momentum in integers: v = mu v + g (Q.32), w -= (lr / B) v, the step rounded
// stochastically to Q15.16 with bits from its own generator.
struct FixedSgd {
  std::vector<int64_t> velocity;
  int32_t momentum_q16 = 0;
  Rng rounding;

  FixedSgd(size_t n, double momentum, uint64_t seed)
      : velocity(n, 0), momentum_q16(fixed::Q15_16::from_real(momentum).raw), rounding(seed) {}

  // lr: this step's learning rate for the mean loss; batch: samples the gradient summed.
  void update(FixedNet& net, const std::vector<int64_t>& grad, double lr, int batch) {
    const uint64_t rate = uint64_t(std::floor(lr / batch * 4294967296.0 + 0.5));  // lr / B in Q.32
    for (size_t i = 0; i < net.params.size(); ++i) {
      // mu v, with v split so no product leaves int64: v = hi 2^16 + lo, 0 <= lo < 2^16
      const int64_t v = velocity[i];
      const int64_t hi = v >= 0 ? v / 65536 : -((-v + 65535) / 65536), lo = v - hi * 65536;
      velocity[i] = hi * momentum_q16 + fixed::round_shift_right(lo * momentum_q16, 16) + grad[i];
      // step = rate * v / 2^48 (Q.32 * Q.32 -> Q.64 -> Q.16), on the magnitude, rounded up with
      // probability equal to the dropped fraction.
      const int64_t vel = velocity[i];
      const uint64_t magnitude = vel < 0 ? 0 - uint64_t(vel) : uint64_t(vel);
      const U128 p = multiply_wide(magnitude, rate);
      const uint64_t noise = rounding.next_u64() >> 16;  // 48 random bits below the cut
      const uint64_t low = p.low + noise;
      const uint64_t high = p.high + (low < p.low ? 1u : 0u);
      const uint64_t step = high >= (uint64_t(1) << 47) ? uint64_t(INT32_MAX) : (high << 16) | (low >> 48);
      const int64_t signed_step = int64_t(std::min<uint64_t>(step, uint64_t(INT32_MAX)));
      net.params[i] = fixed::saturate_i32(int64_t(net.params[i]) - (vel < 0 ? -signed_step : signed_step));
    }
  }
};

#endif  // !RESDYN_NO_TRAINING

#ifndef RESDYN_NO_FILES
// ############################################################################
// PART C. FILES
// ############################################################################
// ============================================================================
// 16. CRC-32, gzip inflate and the IDX reader
// ============================================================================
// MNIST ships as IDX files (a big-endian header of type and dimensions, then the data),
// often gzip-compressed: our own inflater reads them, bounded by what the header declares.
// ---------------------------------------------------------------------------
// CRC-32 (the one used by gzip, zip and PNG: reflected polynomial 0xEDB88320)
// ---------------------------------------------------------------------------

namespace idx_detail {

struct Crc32Table {
  uint32_t entry[256];
  constexpr Crc32Table() : entry() {
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
      entry[n] = c;
    }
  }
};

inline constexpr Crc32Table kCrc32Table{};

}  // namespace idx_detail

// Chainable: crc32(b, nb, crc32(a, na)) equals the CRC of a followed by b.
uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0);
#if defined(RESDYN_IMPLEMENTATION)
uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = idx_detail::kCrc32Table.entry[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}
#endif

// ---------------------------------------------------------------------------
// Inflate (RFC 1951)
// ---------------------------------------------------------------------------

namespace idx_detail {

// Length codes 257..285: base length and number of extra bits (RFC 1951 3.2.5).
constexpr uint16_t kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr uint8_t kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};

// Distance codes 0..29: base distance and number of extra bits (RFC 1951 3.2.5).
constexpr uint16_t kDistBase[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                    33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                    1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr uint8_t kDistExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

// Order in which code-length code lengths are stored (RFC 1951 3.2.7).
constexpr uint8_t kCodeLengthOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

constexpr int kMaxCodeBits = 15;  // longest Huffman code deflate allows (RFC 1951 3.2.7)
constexpr int kFastBits = 10;     // codes up to this long decode with one table look-up

#if defined(RESDYN_IMPLEMENTATION)  // the inflater lives in the one unit that runs it
// A canonical Huffman code (RFC 1951 3.2.2).
// Short codes are found with one look-up in `fast`, indexed by the next
// kFastBits input bits; longer ones fall back to walking the code lengths.
struct Huffman {
  // fast[bits] = (code length << 9) | symbol, or 0 when the code is longer
  // than kFastBits (or the bit pattern is not a code at all).
  uint16_t fast[1u << kFastBits];
  uint16_t count[kMaxCodeBits + 1];  // number of codes of each length
  uint16_t symbol[288];              // symbols ordered by (code length, value)

  // Builds the code from per-symbol code lengths (0 = symbol unused).
  // Returns nullptr on success, else a short description of the problem.
  const char* build(const uint8_t* lengths, int n, bool allow_incomplete) {
    std::memset(fast, 0, sizeof fast);
    std::memset(count, 0, sizeof count);
    for (int s = 0; s < n; ++s) ++count[lengths[s]];
    count[0] = 0;

    // Each length-L code uses 2^-L of the code space; it must not overflow.
    int left = 1;
    int used = 0;
    for (int len = 1; len <= kMaxCodeBits; ++len) {
      left = (left << 1) - count[len];
      if (left < 0) return "over-subscribed Huffman code";
      used += count[len];
    }
    // An incomplete code leaves bit patterns that mean nothing. The RFC
    // tolerates it only for a code with a single 1-bit code (or none).
    if (left > 0 && !(allow_incomplete && (used == 0 || (used == 1 && count[1] == 1))))
      return "incomplete Huffman code";

    // Sort symbols by code length; equal lengths keep symbol order.
    uint16_t offset[kMaxCodeBits + 2];
    offset[1] = 0;
    for (int len = 1; len <= kMaxCodeBits; ++len) offset[len + 1] = offset[len] + count[len];
    uint16_t next_code[kMaxCodeBits + 1];
    uint16_t code = 0;
    next_code[0] = 0;
    for (int len = 1; len <= kMaxCodeBits; ++len) {
      code = static_cast<uint16_t>((code + count[len - 1]) << 1);
      next_code[len] = code;
    }
    // count[0] was zeroed above, so next_code[1] == 0 as the RFC requires.

    for (int s = 0; s < n; ++s) {
      const int len = lengths[s];
      if (len == 0) continue;
      symbol[offset[len]++] = static_cast<uint16_t>(s);
      const unsigned c = next_code[len]++;
      if (len > kFastBits) continue;
      // Huffman codes are sent most significant bit first, but we read the
      // stream least significant bit first, so the table index is reversed.
      unsigned rev = 0;
      for (int i = 0; i < len; ++i) rev |= ((c >> i) & 1u) << (len - 1 - i);
      const uint16_t entry = static_cast<uint16_t>((len << 9) | s);
      for (unsigned k = rev; k < (1u << kFastBits); k += 1u << len) fast[k] = entry;
    }
    return nullptr;
  }
};
#endif  // RESDYN_IMPLEMENTATION

#if defined(RESDYN_IMPLEMENTATION)  // the inflater lives in the one unit that runs it
// Decodes one deflate stream into `out`, starting at data[pos].
class Inflater {
 public:
  Inflater(const uint8_t* data, size_t size, size_t pos, const std::string& where, std::vector<uint8_t>& out,
           size_t max_output)
      : data_(data), size_(size), pos_(pos), where_(where), out_(out), start_(out.size()), max_output_(max_output) {}

  // Inflates all blocks; returns the byte offset just past the stream.
  size_t run() {
    bool final_block = false;
    while (!final_block) {
      final_block = bits(1) != 0;
      const uint32_t type = bits(2);  // RFC 1951 3.2.3
      if (type == 0) {
        stored_block();
      } else if (type == 1) {
        build_fixed_codes();
        huffman_block(fixed_lit_, fixed_dist_);
      } else if (type == 2) {
        dynamic_block();
      } else {
        fail("invalid block type 3");
      }
    }
    align_to_byte();
    return pos_;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_;           // next input byte not yet loaded into bitbuf_
  uint64_t bitbuf_ = 0;  // loaded but unconsumed bits, next bit lowest
  int bitcount_ = 0;
  const std::string& where_;
  std::vector<uint8_t>& out_;
  size_t start_;  // this stream's first output byte: distances stop here
  size_t max_output_;
  bool fixed_built_ = false;
  Huffman fixed_lit_, fixed_dist_, lit_, dist_, lengths_code_;

  // Offset of the byte holding the next unread bit, for error messages.
  size_t byte_pos() const { return pos_ - static_cast<size_t>((bitcount_ + 7) / 8); }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(where_ + ": gzip: " + what + " at byte " + std::to_string(byte_pos()));
  }

  // --- bit input (RFC 1951 3.1.1: bits are packed from the low end) -------

  void refill() {
    while (bitcount_ <= 56 && pos_ < size_) {
      bitbuf_ |= static_cast<uint64_t>(data_[pos_++]) << bitcount_;
      bitcount_ += 8;
    }
  }

  uint32_t bits(int n) {  // n <= 32
    if (bitcount_ < n) {
      refill();
      if (bitcount_ < n) fail("unexpected end of data");
    }
    const uint32_t v = static_cast<uint32_t>(bitbuf_ & ((uint64_t(1) << n) - 1));
    bitbuf_ >>= n;
    bitcount_ -= n;
    return v;
  }

  int decode(const Huffman& h) {
    if (bitcount_ < kMaxCodeBits) refill();
    // Past the end of input the missing bits read as zero; any code that
    // would need them is rejected below instead of being trusted.
    const uint16_t entry = h.fast[bitbuf_ & ((1u << kFastBits) - 1)];
    int len = entry >> 9;
    int sym = entry & 0x1FF;
    if (entry == 0) {
      // Slow path: canonical decoding, one more code bit per length; codes
      // of each length are consecutive numbers (RFC 1951 3.2.2).
      int code = 0, first = 0, index = 0;
      sym = -1;
      for (len = 1; len <= kMaxCodeBits; ++len) {
        code |= static_cast<int>((bitbuf_ >> (len - 1)) & 1);
        const int n = h.count[len];
        if (code - first < n) {
          sym = h.symbol[index + code - first];
          break;
        }
        index += n;
        first = (first + n) << 1;
        code <<= 1;
      }
      if (sym < 0) {
        if (bitcount_ < kMaxCodeBits) fail("unexpected end of data");
        fail("invalid Huffman code");
      }
    }
    if (len > bitcount_) fail("unexpected end of data");
    bitbuf_ >>= len;
    bitcount_ -= len;
    return sym;
  }

  // Drops the bits left in a partly used byte and hands whole unused bytes
  // back to the input, so pos_ is the next byte-aligned input byte.
  void align_to_byte() {
    pos_ -= static_cast<size_t>(bitcount_ / 8);
    bitbuf_ = 0;
    bitcount_ = 0;
  }

  // --- output ---------------------------------------------------------------

  [[noreturn]] void fail_limit() const {
    fail("output exceeds the limit of " + std::to_string(max_output_) + " bytes");
  }

  // --- block types ------------------------------------------------------------

  // RFC 1951 3.2.4: LEN, NLEN (one's complement), then LEN raw bytes.
  void stored_block() {
    align_to_byte();
    if (size_ - pos_ < 4) fail("unexpected end of data in stored block header");
    const uint32_t len = data_[pos_] | (data_[pos_ + 1] << 8);
    const uint32_t nlen = data_[pos_ + 2] | (data_[pos_ + 3] << 8);
    if (len != (~nlen & 0xFFFFu)) fail("stored block length " + std::to_string(len) + " does not match its complement");
    pos_ += 4;
    if (size_ - pos_ < len) fail("unexpected end of data in stored block");
    if (len > max_output_ - out_.size()) fail_limit();
    out_.insert(out_.end(), data_ + pos_, data_ + pos_ + len);
    pos_ += len;
  }

  // RFC 1951 3.2.6: the fixed literal/length and distance codes.
  void build_fixed_codes() {
    if (fixed_built_) return;
    uint8_t len[288];
    for (int s = 0; s < 144; ++s) len[s] = 8;
    for (int s = 144; s < 256; ++s) len[s] = 9;
    for (int s = 256; s < 280; ++s) len[s] = 7;
    for (int s = 280; s < 288; ++s) len[s] = 8;
    fixed_lit_.build(len, 288, false);
    // 32 five-bit codes make a complete code; symbols 30 and 31 are
    // rejected when decoded.
    for (int s = 0; s < 32; ++s) len[s] = 5;
    fixed_dist_.build(len, 32, false);
    fixed_built_ = true;
  }

  // RFC 1951 3.2.7: the codes are themselves sent Huffman-coded.
  void dynamic_block() {
    const int nlit = static_cast<int>(bits(5)) + 257;
    const int ndist = static_cast<int>(bits(5)) + 1;
    const int ncode = static_cast<int>(bits(4)) + 4;
    if (nlit > 286) fail("too many literal/length codes (" + std::to_string(nlit) + ")");
    if (ndist > 30) fail("too many distance codes (" + std::to_string(ndist) + ")");

    uint8_t len[286 + 30] = {};
    for (int i = 0; i < ncode; ++i) len[kCodeLengthOrder[i]] = static_cast<uint8_t>(bits(3));
    if (const char* err = lengths_code_.build(len, 19, false)) fail(std::string(err) + " in code length code");

    // Literal/length and distance code lengths form one run-length coded
    // sequence, so a repeat may cross from one table into the other.
    std::memset(len, 0, sizeof len);
    const int total = nlit + ndist;
    int i = 0;
    while (i < total) {
      const int sym = decode(lengths_code_);
      if (sym < 16) {
        len[i++] = static_cast<uint8_t>(sym);
        continue;
      }
      uint8_t value = 0;
      int repeat = 0;
      if (sym == 16) {
        if (i == 0) fail("repeat code with no previous length");
        value = len[i - 1];
        repeat = 3 + static_cast<int>(bits(2));
      } else if (sym == 17) {
        repeat = 3 + static_cast<int>(bits(3));
      } else {
        repeat = 11 + static_cast<int>(bits(7));
      }
      if (repeat > total - i) fail("code length repeat runs past the end of the table");
      while (repeat-- > 0) len[i++] = value;
    }
    if (len[256] == 0) fail("no end-of-block code");
    if (const char* err = lit_.build(len, nlit, true)) fail(std::string(err) + " in literal/length code");
    if (const char* err = dist_.build(len + nlit, ndist, true)) fail(std::string(err) + " in distance code");
    huffman_block(lit_, dist_);
  }

  // RFC 1951 3.2.5: literals, end-of-block, and (length, distance) pairs.
  void huffman_block(const Huffman& lit, const Huffman& dist) {
    for (;;) {
      int sym = decode(lit);
      if (sym < 256) {
        if (out_.size() >= max_output_) fail_limit();
        out_.push_back(static_cast<uint8_t>(sym));
        continue;
      }
      if (sym == 256) return;
      sym -= 257;
      if (sym >= 29) fail("invalid length code " + std::to_string(sym + 257));
      const size_t length = kLengthBase[sym] + bits(kLengthExtra[sym]);

      const int dsym = decode(dist);
      if (dsym >= 30) fail("invalid distance code " + std::to_string(dsym));
      const size_t distance = kDistBase[dsym] + bits(kDistExtra[dsym]);
      const size_t have = out_.size() - start_;
      if (distance > have)
        fail("distance " + std::to_string(distance) + " too far back (only " + std::to_string(have) +
             " bytes written)");
      if (length > max_output_ - out_.size()) fail_limit();

      // Byte by byte, because the source may overlap what is being written.
      const size_t at = out_.size();
      out_.resize(at + length);
      uint8_t* p = out_.data() + at;
      const uint8_t* q = p - distance;
      for (size_t k = 0; k < length; ++k) p[k] = q[k];
    }
  }
};
#endif  // RESDYN_IMPLEMENTATION

uint32_t read_le32(const uint8_t* p);
#if defined(RESDYN_IMPLEMENTATION)
uint32_t read_le32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
#endif

uint32_t read_be32(const uint8_t* p);
#if defined(RESDYN_IMPLEMENTATION)
uint32_t read_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
#endif

std::string hex32(uint32_t v);
#if defined(RESDYN_IMPLEMENTATION)
std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", static_cast<unsigned>(v));
  return buf;
}
#endif

std::string hex8(unsigned v);
#if defined(RESDYN_IMPLEMENTATION)
std::string hex8(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02x", v & 0xFFu);
  return buf;
}
#endif

}  // namespace idx_detail

// ---------------------------------------------------------------------------
// gzip (RFC 1952)
// ---------------------------------------------------------------------------

// Decompresses one or more concatenated gzip members. `where` starts every
// error message (usually the file name); more than `max_output` bytes of
// output is an error, so a tiny file cannot make us allocate gigabytes.
// declared_size, if given, reads the first bytes of the output (at least its
// first 3800, or all of it) and returns how many the whole may have (an IDX
// header's size), or throws: a bomb stops after its header, not at max_output.
std::vector<uint8_t> gunzip(const uint8_t* data, size_t size, const std::string& where,
                            size_t max_output = size_t(1) << 31,
                            size_t (*declared_size)(const uint8_t*, size_t, const std::string&) = nullptr);
#if defined(RESDYN_IMPLEMENTATION)
namespace idx_detail {
[[noreturn]] inline void gzip_fail(const std::string& where, const std::string& what, size_t at) {
  throw Error(where + ": gzip: " + what + " at byte " + std::to_string(at));
}

// Reads the header of the member at `member` (RFC 1952 2.3); returns where its deflate data
// starts.
inline size_t gzip_member_header(const uint8_t* data, size_t size, size_t member, const std::string& where) {
  auto fail = [&](const std::string& what, size_t at) { gzip_fail(where, what, at); };
  size_t pos = member;
  auto need = [&](size_t n) {
    if (size - pos < n) fail("unexpected end of data in header", size);
  };
  // Fixed part: ID1 ID2 CM FLG MTIME(4) XFL OS (RFC 1952 2.3).
  need(10);
  if (data[pos] != 0x1F || data[pos + 1] != 0x8B)
    fail("not gzip data (starts with " + hex8(data[pos]) + " " + hex8(data[pos + 1]) + ", expected 1f 8b)", pos);
  if (data[pos + 2] != 8)
    fail("unsupported compression method " + std::to_string(data[pos + 2]) + " (only 8, deflate)", pos + 2);
  const uint8_t flags = data[pos + 3];
  if (flags & 0xE0) fail("reserved header flag bits set (" + hex8(flags) + ")", pos + 3);
  pos += 10;

  // Optional parts, in this order (RFC 1952 2.3.1).
  if (flags & 0x04) {  // FEXTRA: 2-byte length, then that many bytes
    need(2);
    const size_t xlen = data[pos] | (data[pos + 1] << 8);
    pos += 2;
    need(xlen);
    pos += xlen;
  }
  auto skip_zero_terminated = [&](const char* what) {
    const void* nul = std::memchr(data + pos, 0, size - pos);
    if (!nul) fail(std::string("unterminated ") + what + " in header", size);
    pos = static_cast<size_t>(static_cast<const uint8_t*>(nul) - data) + 1;
  };
  if (flags & 0x08) skip_zero_terminated("file name");  // FNAME
  if (flags & 0x10) skip_zero_terminated("comment");    // FCOMMENT
  if (flags & 0x02) {                                   // FHCRC: low 16 bits of the CRC-32 of the header so far
    need(2);
    const uint32_t stored = data[pos] | (data[pos + 1] << 8);
    const uint32_t actual = crc32(data + member, pos - member) & 0xFFFF;
    if (stored != actual)
      fail("header CRC mismatch (stored " + hex32(stored) + ", computed " + hex32(actual) + ")", pos);
    pos += 2;
  }
  return pos;
}
}  // namespace idx_detail

std::vector<uint8_t> gunzip(const uint8_t* data, size_t size, const std::string& where, size_t max_output,
                            size_t (*declared_size)(const uint8_t*, size_t, const std::string&)) {
  using namespace idx_detail;
  auto fail = [&](const std::string& what, size_t at) { gzip_fail(where, what, at); };
  if (size == 0) fail("empty input", 0);

  std::vector<uint8_t> out;

  size_t pos = 0;
  do {
    const size_t member = pos;
    pos = gzip_member_header(data, size, member, where);

    if (member == 0) {
      if (declared_size) {  // the probe's own errors come again from the real run
        std::vector<uint8_t> head;
        bool whole = true;
        try {
          Inflater(data, size, pos, where, head, 4096).run();
        } catch (const Error&) {
          whole = false;
        }
        if (whole || head.size() >= 3800)  // else a stored block (1:1) came first: no bomb
          max_output = std::min(max_output, declared_size(head.data(), head.size(), where));
      }
      // The last member's ISIZE is a size hint; deflate cannot expand more than
      // about 1032:1, which keeps a forged ISIZE from reserving gigabytes.
      size_t hint = size >= 18 ? read_le32(data + size - 4) : 0;
      if (hint > max_output) hint = max_output;
      if (size <= SIZE_MAX / 1032 && hint > size * 1032) hint = size * 1032;  // no overflow, 32 bits too
      out.reserve(hint);
    }
    const size_t first = out.size();
    pos = Inflater(data, size, pos, where, out, max_output).run();

    // Trailer: CRC-32 and ISIZE (length mod 2^32) of this member's data.
    if (size - pos < 8) fail("unexpected end of data in trailer", size);
    const uint32_t stored_crc = read_le32(data + pos);
    const uint32_t actual_crc = crc32(out.data() + first, out.size() - first);
    if (stored_crc != actual_crc)
      fail("CRC-32 mismatch (stored " + hex32(stored_crc) + ", computed " + hex32(actual_crc) + ")", pos);
    const uint32_t stored_size = read_le32(data + pos + 4);
    const uint32_t actual_size = static_cast<uint32_t>(out.size() - first);
    if (stored_size != actual_size)
      fail("ISIZE mismatch (stored " + std::to_string(stored_size) + ", decompressed " + std::to_string(actual_size) +
               " bytes)",
           pos + 4);
    pos += 8;

    // More bytes must be another member; anything else is an error rather
    // than silently ignored, so a damaged file is never half-accepted.
    if (pos < size && !(size - pos >= 2 && data[pos] == 0x1F && data[pos + 1] == 0x8B))
      fail(std::to_string(size - pos) + " trailing bytes after the gzip data", pos);
  } while (pos < size);
  return out;
}
#endif

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

// Refuses what is not a regular file before it is opened: a FIFO would block the open, a
// device (/dev/zero) never ends.
void require_regular_file(const std::string& path);
#if defined(RESDYN_IMPLEMENTATION)
void require_regular_file(const std::string& path) {
  std::error_code e;
  const auto type = std::filesystem::status(path, e).type();
  if (type == std::filesystem::file_type::not_found) throw Error(path + ": cannot open: " + std::strerror(ENOENT));
  if (e) throw Error(path + ": cannot open: " + e.message());
  if (type != std::filesystem::file_type::regular)
    throw Error(path + (type == std::filesystem::file_type::directory ? ": is a directory" : ": not a regular file"));
}
#endif

// What a path names, looked up without opening it (an open of a FIFO would block).
enum class PathKind { Missing, Regular, Directory, Other };
PathKind path_kind(const std::string& path);
// dir and each of its missing parents created; an Error naming dir when that fails.
void make_directories(const std::string& dir);
#if defined(RESDYN_IMPLEMENTATION)
PathKind path_kind(const std::string& path) {
  std::error_code e;
  switch (std::filesystem::status(path, e).type()) {
    case std::filesystem::file_type::not_found: return PathKind::Missing;
    case std::filesystem::file_type::regular: return PathKind::Regular;
    case std::filesystem::file_type::directory: return PathKind::Directory;
    default: return PathKind::Other;
  }
}

void make_directories(const std::string& dir) {
  std::error_code e;
  std::filesystem::create_directories(dir, e);
  if (e || path_kind(dir) != PathKind::Directory)
    throw Error(dir + ": cannot create the directory: " + (e ? e.message() : std::string("not a directory")));
}
#endif

// The whole file as bytes.
std::vector<uint8_t> read_file(const std::string& path);
#if defined(RESDYN_IMPLEMENTATION)
std::vector<uint8_t> read_file(const std::string& path) {
  require_regular_file(path);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(path + ": cannot open: " + std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  for (;;) {
    const size_t n = std::fread(chunk, 1, sizeof chunk, f);
    bytes.insert(bytes.end(), chunk, chunk + n);
    if (n < sizeof chunk) break;
  }
  const bool failed = std::ferror(f) != 0;
  const int err = errno;  // read before fclose can change it
  std::fclose(f);
  if (failed) throw Error(path + ": read error: " + std::strerror(err));
  return bytes;
}
#endif

// The whole file, decompressed first if it starts with the gzip magic 1f 8b (max_output and
// declared_size as gunzip takes them).
std::vector<uint8_t> read_file_maybe_gzip(const std::string& path, size_t max_output = size_t(1) << 31,
                                          size_t (*declared_size)(const uint8_t*, size_t,
                                                                  const std::string&) = nullptr);
#if defined(RESDYN_IMPLEMENTATION)
std::vector<uint8_t> read_file_maybe_gzip(const std::string& path, size_t max_output,
                                          size_t (*declared_size)(const uint8_t*, size_t, const std::string&)) {
  std::vector<uint8_t> bytes = read_file(path);
  if (bytes.size() >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B)
    return gunzip(bytes.data(), bytes.size(), path, max_output, declared_size);
  return bytes;
}
#endif

// ---------------------------------------------------------------------------
// IDX format
// ---------------------------------------------------------------------------
// Magic: 00 00 TYPE RANK, then RANK big-endian uint32 dimensions, then the
// elements in row-major order, big-endian for multi-byte types.

struct Idx {
  uint8_t type = 0;  // 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
  std::vector<uint32_t> dims;
  std::vector<uint8_t> bytes;  // payload exactly as stored
};

namespace idx_detail {

// The largest IDX file (inflated) read: 2 GiB, 45 times MNIST's training images.
constexpr size_t kMaxIdxBytes = size_t(1) << 31;

// Bytes per element for an IDX type code, or 0 when the code is unknown.
size_t idx_element_size(uint8_t type);
#if defined(RESDYN_IMPLEMENTATION)
size_t idx_element_size(uint8_t type) {
  switch (type) {
    case 0x08:
    case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C:
    case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
  }
}
#endif

}  // namespace idx_detail

namespace idx_detail {

// Reads the header into idx and returns the file size it declares (header and elements).
size_t parse_idx_header(const uint8_t* data, size_t size, const std::string& where, Idx& idx);
#if defined(RESDYN_IMPLEMENTATION)
size_t parse_idx_header(const uint8_t* data, size_t size, const std::string& where, Idx& idx) {
  auto fail = [&](const std::string& what) { throw Error(where + ": " + what); };

  if (size == 0) fail("empty file (expected an IDX header)");
  if (size < 4) fail("file has " + std::to_string(size) + " bytes, too short for the 4-byte IDX magic");
  if (data[0] != 0 || data[1] != 0) {
    std::string msg = "not an IDX file: starts with " + hex8(data[0]) + " " + hex8(data[1]) + ", expected 00 00";
    if (data[0] == 0x1F && data[1] == 0x8B) msg += " (the data is gzip-compressed)";
    fail(msg);
  }

  idx.type = data[2];
  const size_t elem = idx_element_size(idx.type);
  if (elem == 0) fail("unknown IDX data type 0x" + hex8(idx.type));
  const unsigned rank = data[3];
  if (rank < 1 || rank > 4) fail("IDX rank " + std::to_string(rank) + " not supported (expected 1 to 4)");

  const size_t header = 4 + 4 * size_t(rank);
  if (size < header)
    fail("truncated header: rank " + std::to_string(rank) + " needs " + std::to_string(header) +
         " bytes but the file has " + std::to_string(size));

  // Multiply with overflow checks: the dims come from untrusted input.
  std::string shape;
  size_t items = 1;
  bool overflow = false;
  for (unsigned d = 0; d < rank; ++d) {
    const uint32_t dim = read_be32(data + 4 + 4 * d);
    if (dim == 0) fail("dimension " + std::to_string(d) + " is 0");
    idx.dims.push_back(dim);
    shape += (d ? "x" : "") + std::to_string(dim);
    if (items > SIZE_MAX / dim)
      overflow = true;
    else
      items *= dim;
  }
  if (overflow || items > (SIZE_MAX - header) / elem) fail("dimensions " + shape + " are too large (size overflows)");
  return header + items * elem;
}
#endif

// The size a gzip-compressed IDX file may inflate to: what its header declares, at most 2 GiB.
size_t idx_declared_size(const uint8_t* data, size_t size, const std::string& where);
#if defined(RESDYN_IMPLEMENTATION)
size_t idx_declared_size(const uint8_t* data, size_t size, const std::string& where) {
  Idx idx;
  const size_t declared = parse_idx_header(data, size, where, idx);
  if (declared > kMaxIdxBytes)
    throw Error(where + ": header declares " + std::to_string(declared) + " bytes, more than the limit of " +
                std::to_string(kMaxIdxBytes));
  return declared;
}
#endif

}  // namespace idx_detail

// Checks the header against the byte count exactly: a short file and one
// with trailing bytes are both errors.
Idx parse_idx(const uint8_t* data, size_t size, const std::string& where);
#if defined(RESDYN_IMPLEMENTATION)
Idx parse_idx(const uint8_t* data, size_t size, const std::string& where) {
  using namespace idx_detail;
  auto fail = [&](const std::string& what) { throw Error(where + ": " + what); };
  Idx idx;
  const size_t expected = parse_idx_header(data, size, where, idx);
  const size_t header = 4 + 4 * idx.dims.size(), elem = idx_element_size(idx.type);
  size_t items = 1;
  std::string shape;
  for (size_t d = 0; d < idx.dims.size(); ++d) {
    items *= idx.dims[d];
    shape += (d ? "x" : "") + std::to_string(idx.dims[d]);
  }
  const unsigned rank = unsigned(idx.dims.size());
  if (size != expected) {
    const std::string count = rank == 1 ? std::to_string(items) : shape + " = " + std::to_string(items);
    fail("header says " + count + " items of " + std::to_string(elem) + (elem == 1 ? " byte (" : " bytes (") +
         std::to_string(expected) + " bytes) but the file has " + std::to_string(size) + " bytes" +
         (size < expected ? " (truncated)" : " (" + std::to_string(size - expected) + " trailing bytes)"));
  }
  idx.bytes.assign(data + header, data + size);
  return idx;
}
#endif

// Reads an IDX file, raw or gzip-compressed (inflated no further than its header declares).
Idx read_idx(const std::string& path);
#if defined(RESDYN_IMPLEMENTATION)
Idx read_idx(const std::string& path) {
  const std::vector<uint8_t> bytes =
      read_file_maybe_gzip(path, idx_detail::kMaxIdxBytes, idx_detail::idx_declared_size);
  return parse_idx(bytes.data(), bytes.size(), path);
}
#endif

// ============================================================================
// 17. MNIST
// ============================================================================
// A split is two IDX files (images count x rows x cols, labels count) that must agree.

namespace idx_detail {

// Returns the first of the usual spellings of an MNIST file that can be
// found in `dir`, or throws naming every name tried.
std::string find_mnist_file(const std::string& dir, const std::string& prefix, const std::string& kind,
                            const std::string& rank);
#if defined(RESDYN_IMPLEMENTATION)
std::string find_mnist_file(const std::string& dir, const std::string& prefix, const std::string& kind,
                            const std::string& rank) {
  const std::string base = dir.empty() ? "./" : (dir.back() == '/' ? dir : dir + "/");
  const std::string names[4] = {
      prefix + "-" + kind + "-" + rank + "-ubyte",
      prefix + "-" + kind + "-" + rank + "-ubyte.gz",
      prefix + "-" + kind + "." + rank + "-ubyte",
      prefix + "-" + kind + "." + rank + "-ubyte.gz",
  };
  for (const std::string& name : names) {
    const std::string path = base + name;
    // Not opened here (a FIFO would block): read_file reports what exists but cannot be read.
    if (path_kind(path) != PathKind::Missing) return path;
  }
  throw Error(dir + ": no MNIST " + prefix + " " + kind + " file (tried " + names[0] + ", " + names[1] + ", " +
              names[2] + ", " + names[3] + ")");
}
#endif

void check_mnist_idx(const Idx& idx, const std::string& path, unsigned rank, const char* layout);
#if defined(RESDYN_IMPLEMENTATION)
void check_mnist_idx(const Idx& idx, const std::string& path, unsigned rank, const char* layout) {
  if (idx.type != 0x08)
    throw Error(path + ": expected unsigned byte data (type 0x08) but the file has type 0x" + hex8(idx.type));
  if (idx.dims.size() != rank)
    throw Error(path + ": expected " + std::to_string(rank) + " dimension" + (rank == 1 ? "" : "s") + " (" + layout +
                ") but the file has " + std::to_string(idx.dims.size()));
  for (uint32_t d : idx.dims)
    if (d > 0x7FFFFFFFu) throw Error(path + ": dimension " + std::to_string(d) + " is too large");
}
#endif

}  // namespace idx_detail

// Loads the training (train = true) or test split from `dir`, which holds
// {train,t10k}-{images-idx3,labels-idx1}-ubyte, each raw or as .gz.
Dataset load_mnist(const std::string& dir, bool train);
#if defined(RESDYN_IMPLEMENTATION)
Dataset load_mnist(const std::string& dir, bool train) {
  using namespace idx_detail;
  const std::string prefix = train ? "train" : "t10k";
  const std::string images_path = find_mnist_file(dir, prefix, "images", "idx3");
  const std::string labels_path = find_mnist_file(dir, prefix, "labels", "idx1");

  Idx images = read_idx(images_path);
  check_mnist_idx(images, images_path, 3, "count x rows x cols");
  Idx labels = read_idx(labels_path);
  check_mnist_idx(labels, labels_path, 1, "count");

  if (images.dims[0] != labels.dims[0])
    throw Error(images_path + " has " + std::to_string(images.dims[0]) + " images but " + labels_path + " has " +
                std::to_string(labels.dims[0]) + " labels");
  for (size_t i = 0; i < labels.bytes.size(); ++i)
    if (labels.bytes[i] > 9)
      throw Error(labels_path + ": label " + std::to_string(labels.bytes[i]) + " at index " + std::to_string(i) +
                  " is out of range (expected 0 to 9)");

  Dataset ds;
  ds.count = static_cast<int>(images.dims[0]);
  ds.rows = static_cast<int>(images.dims[1]);
  ds.cols = static_cast<int>(images.dims[2]);
  ds.images.swap(images.bytes);
  ds.labels.swap(labels.bytes);
  return ds;
}
#endif

// ============================================================================
// 18. Files of our own: streamed writing, atomic replacement, reading
// ============================================================================
// Files are written to a temporary name and renamed into place, so a reader never sees
// half a file; they are read back in parts, never past their end.
// Creates a file beside path, PATH.partial.TOKEN.N, that no other writer shares: TOKEN differs
// between processes, N between calls, and the file is created exclusively ("x"), so two runs
// writing the same path never write through one temporary file. Its name goes to tmp.
std::FILE* create_temporary(const std::string& path, std::string& tmp);
#if defined(RESDYN_IMPLEMENTATION)
std::FILE* create_temporary(const std::string& path, std::string& tmp) {
  static std::atomic<unsigned long long> counter{0};
  static const unsigned long long token =
      (unsigned long long)(std::chrono::steady_clock::now().time_since_epoch().count()) ^
      (unsigned long long)(reinterpret_cast<uintptr_t>(&counter));
  for (int attempt = 0; attempt < 64; ++attempt) {
    char suffix[64];
    std::snprintf(suffix, sizeof suffix, ".partial.%llx.%llu", token, counter++);
    tmp = path + suffix;
    if (std::FILE* f = std::fopen(tmp.c_str(), "wbx")) return f;
    if (errno != EEXIST) return nullptr;
  }
  return nullptr;
}
#endif

// Writes a file to a temporary name beside path and renames it into place at commit(), so a
// reader never sees half a file and the previous version stays until the new one is whole.
// Keeps the CRC-32 of everything written, and of a part of it (start_part to part_crc): the
// checksum of a file nested in this one. Destroyed without commit() (an error on the way), it
// removes the temporary file. role names the file's crash points (crash_point).
class FileWriter : public LittleEndianWriter<FileWriter> {
 public:
  explicit FileWriter(const std::string& path, const char* role = "file")
      : path_(path), role_(role), buffer_(size_t(1) << 16) {
    crash_point({}, 0);  // reads RESDYN_CRASH_AT before the file exists: a bad one leaves nothing
    file_ = create_temporary(path, tmp_);
    if (!file_) throw Error(path_ + ": cannot write: " + std::strerror(errno));
    std::setvbuf(file_, nullptr, _IONBF, 0);  // buffer_ is the buffer: each flush is in the file
    crash_point(role_ + "-bytes", 0);
  }
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;
  ~FileWriter() {
    if (!file_) return;
    std::fclose(file_);
    std::remove(tmp_.c_str());
  }
  void put(const uint8_t* p, size_t size) {
    crc_ = crc32(p, size, crc_);
    if (in_part_) part_crc_ = crc32(p, size, part_crc_);
    while (size > 0) {
      if (used_ == buffer_.size()) flush_buffer();
      const size_t n = std::min(size, buffer_.size() - used_);
      std::memcpy(buffer_.data() + used_, p, n);
      used_ += n;
      p += n;
      size -= n;
    }
  }
  uint32_t crc() const { return crc_; }
  void start_part() {
    in_part_ = true;
    part_crc_ = 0;
  }
  uint32_t part_crc() {
    in_part_ = false;
    return part_crc_;
  }
  void commit() {
    flush_buffer();
    const bool flushed = std::fflush(file_) == 0;
    const int flush_errno = errno;
    const bool closed = std::fclose(file_) == 0;
    const int close_errno = errno;
    file_ = nullptr;
    if (!flushed || !closed) fail(!flushed ? flush_errno : close_errno, "write failed");
    crash_point(role_ + "-written", long(written_));
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail(errno, "cannot rename into place");
    crash_point(role_ + "-renamed", long(written_));
  }

 private:
  void flush_buffer() {
    if (used_ == 0) return;
    if (std::fwrite(buffer_.data(), 1, used_, file_) != used_) fail(errno, "write failed");
    written_ += used_;
    used_ = 0;
    crash_point(role_ + "-bytes", long(written_));
  }
  [[noreturn]] void fail(int e, const char* what) {
    if (file_) std::fclose(file_);
    file_ = nullptr;
    std::remove(tmp_.c_str());
    throw Error(path_ + ": " + what + ": " + std::strerror(e ? e : EIO));
  }
  std::string path_, tmp_, role_;
  std::FILE* file_ = nullptr;
  std::vector<uint8_t> buffer_;
  size_t used_ = 0;
  uint64_t written_ = 0;
  uint32_t crc_ = 0, part_crc_ = 0;
  bool in_part_ = false;
};

// `size` bytes of a file from `offset`, through a buffer.
class FileReader : public LittleEndianReader<FileReader> {
 public:
  FileReader(const std::string& path, uint64_t offset, uint64_t size, std::string where)
      : left_(size), where_(std::move(where)), buffer_(size_t(1) << 16) {
    require_regular_file(path);
    file_ = std::fopen(path.c_str(), "rb");
    if (!file_) throw Error(path + ": cannot open: " + std::strerror(errno));
    if (offset > uint64_t(LONG_MAX) || std::fseek(file_, long(offset), SEEK_SET) != 0) {
      std::fclose(file_);
      throw Error(where_ + ": cannot seek to byte " + std::to_string(offset));
    }
  }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  ~FileReader() { std::fclose(file_); }
  size_t left() const { return size_t(left_); }
  const std::string& where() const { return where_; }
  void get(uint8_t* out, size_t n, const char* what) {
    if (n > left_) throw Error(where_ + ": truncated while reading " + what);
    while (n > 0) {
      if (at_ == filled_) refill(what);
      const size_t k = std::min(n, filled_ - at_);
      std::memcpy(out, buffer_.data() + at_, k);
      at_ += k;
      out += k;
      n -= k;
      left_ -= k;
    }
  }
  // Past n bytes without reading them.
  void skip(uint64_t n, const char* what) {
    if (n > left_) throw Error(where_ + ": truncated while reading " + what);
    const uint64_t buffered = filled_ - at_;
    if (n <= buffered) {
      at_ += size_t(n);
    } else {
      if (n - buffered > uint64_t(LONG_MAX) || std::fseek(file_, long(n - buffered), SEEK_CUR) != 0)
        throw Error(where_ + ": cannot seek past " + what);
      at_ = filled_ = 0;
    }
    left_ -= n;
  }

 private:
  void refill(const char* what) {
    const size_t want = size_t(std::min<uint64_t>(buffer_.size(), left_));
    filled_ = std::fread(buffer_.data(), 1, want, file_);
    at_ = 0;
    if (filled_ == 0)
      throw Error(where_ + (std::ferror(file_) ? ": read error while reading " : ": truncated while reading ") + what);
  }
  std::FILE* file_ = nullptr;
  uint64_t left_;
  std::string where_;
  std::vector<uint8_t> buffer_;
  size_t at_ = 0, filled_ = 0;
};

// The size of a file in bytes.
uint64_t file_size(const std::string& path);
#if defined(RESDYN_IMPLEMENTATION)
uint64_t file_size(const std::string& path) {
  require_regular_file(path);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(path + ": cannot open: " + std::strerror(errno));
  const bool ok = std::fseek(f, 0, SEEK_END) == 0;
  const long size = ok ? std::ftell(f) : -1;
  std::fclose(f);
  if (size < 0) throw Error(path + ": cannot tell its size");
  return uint64_t(size);
}
#endif

// The whole file at once, atomically (FileWriter).
void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes);
#if defined(RESDYN_IMPLEMENTATION)
void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  FileWriter file(path);
  file.raw(bytes.data(), bytes.size());
  file.commit();
}
#endif

void write_text_atomically(const std::string& path, const std::string& text);
#if defined(RESDYN_IMPLEMENTATION)
void write_text_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, std::vector<uint8_t>(text.begin(), text.end()));
}
#endif

// ============================================================================
// 19. Model and checkpoint files
// ============================================================================
//
// Little-endian throughout:
//   offset  size  field
//   0       8     magic "RESDYN\r\n" (the CR LF catches text-mode mangling)
//   8       4     format version (1)
//   12      28    arch, weights, stem, input, width, depth, classes (uint32 each)
//   40      8     parameter count (uint64), must equal the layout's total
//   48      4     metadata length m (uint32, at most 1 MiB)
//   52      m     metadata: UTF-8 text (how the model was made: flags, seed, results)
//   52+m    4*P   parameters, float32, in the layout of section 3
//   end-4   4     CRC-32 of every byte before it

constexpr char kModelMagic[8] = {'R', 'E', 'S', 'D', 'Y', 'N', '\r', '\n'};
constexpr uint32_t kModelVersion = 1;
constexpr uint32_t kMaxMetadata = 1u << 20;

// The architecture as every model file stores it: seven uint32 (arch, weights, stem, input,
// width, depth, classes). Reading checks each field and the whole (config_problem).
template <class Out>
void write_architecture(Out& out, const Config& c) {
  for (uint32_t v : {uint32_t(c.arch), uint32_t(c.weights), uint32_t(c.stem), uint32_t(c.input), uint32_t(c.width),
                     uint32_t(c.depth), uint32_t(c.classes)})
    out.u32(v);
}
Config read_architecture(ByteReader& in, const std::string& where);
#if defined(RESDYN_IMPLEMENTATION)
Config read_architecture(ByteReader& in, const std::string& where) {
  uint32_t f[7];
  for (uint32_t& field : f) field = in.u32("header");
  if (f[0] > 1 || f[1] > 1 || f[2] > 1) throw Error(where + ": unknown architecture code in header");
  for (int i = 3; i < 7; ++i)
    if (f[i] > uint32_t(kMaxDepth)) throw Error(where + ": dimension out of range in header");
  Config c;
  c.arch = Arch(f[0]);
  c.weights = Weights(f[1]);
  c.stem = f[2] != 0;
  c.input = int(f[3]);
  c.width = int(f[4]);
  c.depth = int(f[5]);
  c.classes = int(f[6]);
  if (const char* why = config_problem(c)) throw Error(where + ": bad architecture: " + why);
  return c;
}
#endif

// Everything of a model file before its CRC, into any writer of sections 10 and 18.
template <class Out>
void write_model_body(Out& out, const Net<float>& net, const std::string& metadata) {
  if (metadata.size() > kMaxMetadata) throw Error("model metadata longer than 1 MiB");
  out.raw(kModelMagic, 8);
  out.u32(kModelVersion);
  write_architecture(out, net.config);
  out.u64(net.params.size());
  out.u32(uint32_t(metadata.size()));
  out.raw(metadata.data(), metadata.size());
  for (float p : net.params) out.f32(p);
}

std::vector<uint8_t> encode_model(const Net<float>& net, const std::string& metadata);
#if defined(RESDYN_IMPLEMENTATION)
std::vector<uint8_t> encode_model(const Net<float>& net, const std::string& metadata) {
  ByteWriter out;
  out.bytes.reserve(64 + metadata.size() + 4 * net.params.size());
  write_model_body(out, net, metadata);
  out.u32(crc32(out.bytes.data(), out.bytes.size()));
  return out.bytes;
}
#endif

// Written as it is encoded: the file is never whole in memory.
void save_model(const Net<float>& net, const std::string& path, const std::string& metadata = "");
#if defined(RESDYN_IMPLEMENTATION)
void save_model(const Net<float>& net, const std::string& path, const std::string& metadata) {
  FileWriter file(path, "model");
  write_model_body(file, net, metadata);
  file.u32(file.crc());
  file.commit();
}
#endif

// Parses and checks a model file image; every inconsistency is an Error naming `where`.
Net<float> decode_model(const uint8_t* data, size_t size, const std::string& where, std::string* metadata = nullptr);
#if defined(RESDYN_IMPLEMENTATION)
Net<float> decode_model(const uint8_t* data, size_t size, const std::string& where, std::string* metadata) {
  auto fail = [&where](const std::string& what) { return Error(where + ": " + what); };
  if (size < 56) throw fail("not a resdyn model (file too short: " + std::to_string(size) + " bytes)");
  if (std::memcmp(data, kModelMagic, 8) != 0) throw fail("not a resdyn model (bad magic)");
  ByteReader in(data + 8, size - 12, where);  // between the magic and the CRC
  const uint32_t version = in.u32("version");
  if (version != kModelVersion)
    throw fail("model format version " + std::to_string(version) + " is not supported (expected 1)");
  if (crc32(data, size - 4) != ByteReader(data + size - 4, 4, where).u32("checksum"))
    throw fail("checksum mismatch: the file is corrupt");
  const Config c = read_architecture(in, where);
  const uint64_t count = in.u64("parameter count");
  const Layout layout = layout_of(c);
  if (count != layout.total)
    throw fail("parameter count " + std::to_string(count) + " does not match the architecture (" +
               std::to_string(layout.total) + ")");
  const uint32_t meta_len = in.u32("metadata length");
  if (meta_len > kMaxMetadata) throw fail("metadata length out of range");
  const uint64_t expected = 52ull + meta_len + 4ull * count + 4ull;
  if (expected != size)
    throw fail("size is " + std::to_string(size) + " bytes but the header implies " + std::to_string(expected));
  const uint8_t* meta = in.take(meta_len, "metadata");
  Net<float> net(c);
  for (size_t i = 0; i < count; ++i) {
    net.params[i] = in.f32("parameters");
    if (!std::isfinite(net.params[i])) throw fail("parameter " + std::to_string(i) + " is not finite");
  }
  if (metadata) metadata->assign(reinterpret_cast<const char*>(meta), meta_len);
  return net;
}
#endif

Net<float> load_model(const std::string& path, std::string* metadata = nullptr);
#if defined(RESDYN_IMPLEMENTATION)
Net<float> load_model(const std::string& path, std::string* metadata) {
  const std::vector<uint8_t> bytes = read_file(path);
  return decode_model(bytes.data(), bytes.size(), path, metadata);
}
#endif

#ifndef RESDYN_NO_TRAINING
// A checkpoint: everything a training run needs to go on as if it had never stopped.
//   magic "RESDYNCK", version (uint32, 2),
//   the model file image, the trainer's state, the caller's own state (uint64 length +
//   bytes each), CRC-32 of every byte before it.
// Version 2 keeps the optimiser's moments in their own precision (version 1 widened them to
// doubles). A checkpoint goes straight to its file as it is encoded (FileWriter, atomically):
// a first pass that only counts (ByteCount) gives the lengths that come ahead of the parts,
// so the checkpoint is never whole in memory.
constexpr char kCheckpointMagic[8] = {'R', 'E', 'S', 'D', 'Y', 'N', 'C', 'K'};
constexpr uint32_t kCheckpointVersion = 2;

// A checkpoint as load_checkpoint() found it: whole and checked. The trainer's state stays in
// the file until restore_trainer() reads it into a trainer, so it is never in memory twice.
struct Checkpoint {
  Net<float> net;
  std::string metadata;        // the model's metadata
  std::vector<uint8_t> extra;  // what the caller adds (the CLI: flags, log so far)
  std::string path;            // where the trainer's state lies:
  uint64_t state_offset = 0, state_size = 0;
};

// Refuses to save weights that are not finite: a checkpoint is only ever a good state.
void save_checkpoint(const std::string& path, const Net<float>& net, const std::string& metadata,
                     const Trainer<float>& trainer, const std::vector<uint8_t>& extra);
#if defined(RESDYN_IMPLEMENTATION)
void save_checkpoint(const std::string& path, const Net<float>& net, const std::string& metadata,
                     const Trainer<float>& trainer, const std::vector<uint8_t>& extra) {
  for (size_t i = 0; i < net.params.size(); ++i)
    if (!std::isfinite(net.params[i]))
      throw Error(path + ": not saved: parameter " + std::to_string(i) + " is not finite");
  ByteCount model, state;
  write_model_body(model, net, metadata);
  trainer.write_state(state);
  FileWriter file(path, "checkpoint");
  file.raw(kCheckpointMagic, 8);
  file.u32(kCheckpointVersion);
  file.u64(model.size + 4);
  file.start_part();
  write_model_body(file, net, metadata);
  file.u32(file.part_crc());
  file.u64(state.size);
  trainer.write_state(file);
  file.u64(extra.size());
  file.raw(extra.data(), extra.size());
  file.u32(file.crc());
  file.commit();
}
#endif

// Reads a checkpoint part by part: a first pass checks the CRC of the whole file, a second
// decodes the model and the caller's part and notes where the trainer's state lies.
Checkpoint load_checkpoint(const std::string& path);
#if defined(RESDYN_IMPLEMENTATION)
Checkpoint load_checkpoint(const std::string& path) {
  auto fail = [&path](const std::string& what) { return Error(path + ": " + what); };
  const uint64_t size = file_size(path);
  if (size < 16) throw fail("not a resdyn checkpoint");
  {
    FileReader whole(path, 0, size, path);
    uint8_t magic[8];
    whole.get(magic, 8, "magic");
    if (std::memcmp(magic, kCheckpointMagic, 8) != 0) throw fail("not a resdyn checkpoint");
    uint32_t crc = crc32(magic, 8);
    std::vector<uint8_t> chunk(size_t(1) << 16);
    while (whole.left() > 4) {
      const size_t n = std::min(chunk.size(), whole.left() - 4);
      whole.get(chunk.data(), n, "checkpoint");
      crc = crc32(chunk.data(), n, crc);
    }
    if (whole.u32("checksum") != crc) throw fail("checksum mismatch: the checkpoint is corrupt");
  }
  FileReader r(path, 8, size - 12, path);  // between the magic and the CRC
  const uint32_t version = r.u32("version");
  if (version != kCheckpointVersion)
    throw fail("checkpoint format version " + std::to_string(version) + " is not supported (expected " +
               std::to_string(kCheckpointVersion) + "; an older resdyn wrote it: train again)");
  Checkpoint c;
  {
    std::vector<uint8_t> model(r.count("model size", 1));
    r.get(model.data(), model.size(), "model");
    c.net = decode_model(model.data(), model.size(), path + " (model)", &c.metadata);
  }
  c.path = path;
  c.state_size = r.count("trainer state size", 1);
  c.state_offset = size - 4 - r.left();
  r.skip(c.state_size, "trainer state");  // to the caller's part
  c.extra.resize(r.count("extra size", 1));
  r.get(c.extra.data(), c.extra.size(), "extra");
  if (r.left() != 0) throw fail("unexpected bytes at the end");
  return c;
}
#endif

// The trainer's state of a checkpoint, read from its file into a trainer built with the
// checkpoint's net, the same data and the same options.
void restore_trainer(Trainer<float>& trainer, const Checkpoint& c);
#if defined(RESDYN_IMPLEMENTATION)
void restore_trainer(Trainer<float>& trainer, const Checkpoint& c) {
  FileReader r(c.path, c.state_offset, c.state_size, c.path + " (trainer state)");
  trainer.restore_state(r, c.path);
}
#endif

#endif  // !RESDYN_NO_TRAINING

#endif  // !RESDYN_NO_FILES
#endif  // !RESDYN_FREESTANDING

}  // namespace resdyn

#endif  // RESDYN_H
