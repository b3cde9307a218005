// resdyn.h — the numerical core of resdyn, in one header.
//
// WHAT IT IS
//   Everything needed to train and run the networks of the paper "Residual networks
//   classify inputs based on their neural transient dynamics" (Lagzi): dense sigmoid
//   ResNets and their MLP twins, with one weight matrix shared by every layer or one per
//   layer, trained by hand-written backpropagation on MNIST-format (IDX) data.
//   The exact definitions live in SPEC.md; section numbers below ("SPEC §1") refer to it.
//   Read this file top to bottom: each section uses only the ones above it.
//
// CONFIGURATION (define before including)
//   RESDYN_FREESTANDING  Leave out everything a microcontroller cannot have: files,
//                        threads, exceptions, std::vector. What remains (the scalar
//                        helpers and the inference forward pass on caller-owned buffers)
//                        compiles with -fno-exceptions -fno-rtti and never allocates.
//   RESDYN_MAX_THREADS   Upper bound on worker threads of the matrix routines (default 64).
//
// SECTIONS
//   1. Scalars and randomness: the logistic function, a seeded generator (xoshiro256**).
//   2. Matrix routines: C = alpha op(A) op(B) + beta C, packed and cache-blocked, split
//      across threads by output tiles so every output sums in the same order (same bits
//      on any thread count).
//   3. Errors and files (hosted): the error type, CRC-32, gzip inflate, the IDX reader.
//   4. Networks (SPEC §1): configuration, parameter layout, initialisation.
//   5. Forward pass: records x(t), y(t) for backprop and the probes; unrolling.
//   6. Loss and backpropagation, written out by hand next to the forward pass.
//   7. Optimisers: SGD with momentum, Adam; learning-rate schedules.
//   8. Training and evaluation loops.
//   9. Model and checkpoint files: magic, version, architecture, tensors, metadata, CRC-32;
//      checkpoints add the trainer's state so a stopped run resumes to the same bits.
#ifndef RESDYN_H
#define RESDYN_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#ifndef RESDYN_FREESTANDING
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#endif

#ifndef RESDYN_MAX_THREADS
#define RESDYN_MAX_THREADS 64
#endif

namespace resdyn {

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
  const int32_t bits = (int32_t(n) + 127) << 23;  // 2^n as a float's exponent field
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// The logistic function sigma(z) = 1 / (1 + e^-z) of SPEC §1.
template <class Real>
inline Real sigmoid(Real z) {
  return Real(1) / (Real(1) + std::exp(-z));
}
template <>
inline float sigmoid<float>(float z) {
  return 1.0f / (1.0f + exp_float(-z));
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
// 2. Matrix routines
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
// tiles of C) never changes the result.

enum class Op { N, T };

// An optional epilogue, applied to each tile of C as soon as its last K block is summed,
// while the tile is still in cache: the forward pass fuses bias, sigmoid and the residual
// add into the product this way instead of making extra passes over memory.
template <class Real>
struct Epilogue {
  void (*apply)(const void* ctx, Real* C, int ldc, int row0, int col0, int rows, int cols) = nullptr;
  const void* ctx = nullptr;
};

// Register tile MR x NR of the micro-kernel and the cache blocks around it. With AVX-512,
// float uses 12 x 32 (24 vector accumulators of 16 lanes) and double 6 x 16; with AVX2,
// 6 x 16 and 6 x 8 (12 accumulators); other targets the portable kernel's 6 x 16.
template <class Real>
struct GemmShape {
#if defined(__AVX512F__)
  static constexpr int MR = sizeof(Real) == 4 ? 12 : 6;
  static constexpr int NR = sizeof(Real) == 4 ? 32 : 16;
#elif defined(__AVX2__) && defined(__FMA__)
  static constexpr int MR = 6;
  static constexpr int NR = sizeof(Real) == 4 ? 16 : 8;
#else
  static constexpr int MR = 6;
  static constexpr int NR = 16;
#endif
  static constexpr int KC = 384;            // depth of a packed block: a KC x NR strip of B stays in L1
  static constexpr int MC = MR * 12;        // rows of A per block: MC x KC stays in L2
  static constexpr int NC = NR * 64;        // columns of B per panel
};

namespace detail {

inline int min_int(int a, int b) { return a < b ? a : b; }

// Packs rows [i0, i0+mc) and depth [k0, k0+kc) of op(A) into strips of MR rows:
// strip s holds, for each k, the MR values op(A)(i0+s*MR+r, k0+k); missing rows are zero.
template <class Real>
void pack_a(Op op, const Real* A, int lda, int i0, int mc, int k0, int kc, Real* out) {
  constexpr int MR = GemmShape<Real>::MR;
  for (int s = 0; s < mc; s += MR) {
    const int rows = min_int(MR, mc - s);
    if (op == Op::T) {  // op(A)(i, k) = A[k][i]: MR neighbours in a row of A
      for (int k = 0; k < kc; ++k, out += MR) {
        const Real* src = A + size_t(k0 + k) * lda + i0 + s;
        for (int r = 0; r < MR; ++r) out[r] = r < rows ? src[r] : Real(0);
      }
    } else {
      for (int r = 0; r < MR; ++r) {
        const Real* src = A + size_t(i0 + s + r) * lda + k0;
        for (int k = 0; k < kc; ++k) out[size_t(k) * MR + r] = r < rows ? src[k] : Real(0);
      }
      out += size_t(kc) * MR;
    }
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
        for (int c = 0; c < NR; ++c) out[c] = c < cols ? src[c] : Real(0);
      }
    } else {  // op(B)(k, j) = B[j][k]: walk each row of B once
      for (int c = 0; c < NR; ++c) {
        const Real* src = B + size_t(j0 + s + c) * ldb + k0;
        for (int k = 0; k < kc; ++k) out[size_t(k) * NR + c] = c < cols ? src[k] : Real(0);
      }
      out += size_t(kc) * NR;
    }
  }
}

// The portable micro-kernel: acc (MR x NR, row-major) = sum over k of a[k] (MR values)
// times b[k] (NR values), in plain loops the compiler vectorises.
template <class Real>
void micro_kernel_portable(int kc, const Real* a, const Real* b, Real* acc) {
  constexpr int MR = GemmShape<Real>::MR, NR = GemmShape<Real>::NR;
  Real tile[MR][NR] = {};
  for (int k = 0; k < kc; ++k, a += MR, b += NR)
    for (int r = 0; r < MR; ++r)
      for (int c = 0; c < NR; ++c) tile[r][c] += a[r] * b[c];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r * NR + c] = tile[r][c];
}

// The same with explicit vector instructions where the build allows them (-march=native).
// Each accumulator sums its k terms in the same order as the portable kernel; only the
// fused multiply-add may round differently, which the tests bound.
template <class Real>
inline void micro_kernel(int kc, const Real* a, const Real* b, Real* acc) {
  micro_kernel_portable(kc, a, b, acc);
}
#if defined(__AVX512F__)
template <>
inline void micro_kernel<float>(int kc, const float* a, const float* b, float* acc) {
  __m512 c[12][2];
  for (int r = 0; r < 12; ++r) c[r][0] = c[r][1] = _mm512_setzero_ps();
  for (int k = 0; k < kc; ++k, a += 12, b += 32) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    for (int r = 0; r < 12; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r]);
      c[r][0] = _mm512_fmadd_ps(ar, b0, c[r][0]);
      c[r][1] = _mm512_fmadd_ps(ar, b1, c[r][1]);
    }
  }
  for (int r = 0; r < 12; ++r) {
    _mm512_storeu_ps(acc + r * 32, c[r][0]);
    _mm512_storeu_ps(acc + r * 32 + 16, c[r][1]);
  }
}
template <>
inline void micro_kernel<double>(int kc, const double* a, const double* b, double* acc) {
  __m512d c[6][2];
  for (int r = 0; r < 6; ++r) c[r][0] = c[r][1] = _mm512_setzero_pd();
  for (int k = 0; k < kc; ++k, a += 6, b += 16) {
    const __m512d b0 = _mm512_loadu_pd(b), b1 = _mm512_loadu_pd(b + 8);
    for (int r = 0; r < 6; ++r) {
      const __m512d ar = _mm512_set1_pd(a[r]);
      c[r][0] = _mm512_fmadd_pd(ar, b0, c[r][0]);
      c[r][1] = _mm512_fmadd_pd(ar, b1, c[r][1]);
    }
  }
  for (int r = 0; r < 6; ++r) {
    _mm512_storeu_pd(acc + r * 16, c[r][0]);
    _mm512_storeu_pd(acc + r * 16 + 8, c[r][1]);
  }
}
#elif defined(__AVX2__) && defined(__FMA__)
template <>
inline void micro_kernel<float>(int kc, const float* a, const float* b, float* acc) {
  __m256 c[6][2];
  for (int r = 0; r < 6; ++r) c[r][0] = c[r][1] = _mm256_setzero_ps();
  for (int k = 0; k < kc; ++k, a += 6, b += 16) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    for (int r = 0; r < 6; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + r);
      c[r][0] = _mm256_fmadd_ps(ar, b0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(ar, b1, c[r][1]);
    }
  }
  for (int r = 0; r < 6; ++r) {
    _mm256_storeu_ps(acc + r * 16, c[r][0]);
    _mm256_storeu_ps(acc + r * 16 + 8, c[r][1]);
  }
}
template <>
inline void micro_kernel<double>(int kc, const double* a, const double* b, double* acc) {
  __m256d c[6][2];
  for (int r = 0; r < 6; ++r) c[r][0] = c[r][1] = _mm256_setzero_pd();
  for (int k = 0; k < kc; ++k, a += 6, b += 8) {
    const __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
    for (int r = 0; r < 6; ++r) {
      const __m256d ar = _mm256_broadcast_sd(a + r);
      c[r][0] = _mm256_fmadd_pd(ar, b0, c[r][0]);
      c[r][1] = _mm256_fmadd_pd(ar, b1, c[r][1]);
    }
  }
  for (int r = 0; r < 6; ++r) {
    _mm256_storeu_pd(acc + r * 8, c[r][0]);
    _mm256_storeu_pd(acc + r * 8 + 4, c[r][1]);
  }
}
#endif

// C tile (rows x cols that exist) = (first ? beta C : C) + alpha acc.
template <class Real>
void store_tile(const Real* acc, Real alpha, Real beta, bool first, Real* C, int ldc, int rows, int cols) {
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

// One tile of C: rows [i0, i1), columns [j0, j1), the whole depth K, serially.
template <class Real, bool Portable>
void gemm_tile(Op opA, Op opB, int i0, int i1, int j0, int j1, int K, Real alpha, const Real* A, int lda,
               const Real* B, int ldb, Real beta, Real* C, int ldc, Real* packA, Real* packB,
               const Epilogue<Real>& epilogue) {
  using S = GemmShape<Real>;
  alignas(64) Real acc[S::MR * S::NR];
  for (int jc = j0; jc < j1; jc += S::NC) {
    const int nc = min_int(S::NC, j1 - jc);
    for (int kc0 = 0; kc0 < K; kc0 += S::KC) {
      const int kc = min_int(S::KC, K - kc0);
      const bool last = kc0 + kc == K;
      pack_b(opB, B, ldb, kc0, kc, jc, nc, packB);
      for (int ic = i0; ic < i1; ic += S::MC) {
        const int mc = min_int(S::MC, i1 - ic);
        pack_a(opA, A, lda, ic, mc, kc0, kc, packA);
        for (int jr = 0; jr < nc; jr += S::NR)
          for (int ir = 0; ir < mc; ir += S::MR) {
            if (Portable)
              micro_kernel_portable(kc, packA + size_t(ir) * kc, packB + size_t(jr) * kc, acc);
            else
              micro_kernel(kc, packA + size_t(ir) * kc, packB + size_t(jr) * kc, acc);
            const int rows = min_int(S::MR, mc - ir), cols = min_int(S::NR, nc - jr);
            Real* ctile = C + size_t(ic + ir) * ldc + jc + jr;
            store_tile(acc, alpha, beta, kc0 == 0, ctile, ldc, rows, cols);
            if (last && epilogue.apply) epilogue.apply(epilogue.ctx, ctile, ldc, ic + ir, jc + jr, rows, cols);
          }
      }
    }
  }
}

}  // namespace detail

#ifndef RESDYN_FREESTANDING

// A small persistent pool: run(threads, tasks, fn) calls fn(task, worker) for every task,
// on at most `threads` threads (the caller is worker 0), and returns when all are done.
// Tasks are handed out dynamically; callers make each task's result independent of
// which worker runs it, so the outcome is the same for any thread count. Each run has its
// own Job record, so a worker still finishing one job can never take a task of the next.
class ThreadPool {
 public:
  static ThreadPool& shared() {
    static ThreadPool pool;
    return pool;
  }
  void run(int threads, int tasks, const std::function<void(int task, int worker)>& fn) {
    threads = std::max(1, std::min({threads, tasks, RESDYN_MAX_THREADS}));
    if (threads == 1) {
      for (int t = 0; t < tasks; ++t) fn(t, 0);
      return;
    }
    std::lock_guard<std::mutex> one_job_at_a_time(run_mutex_);
    while (int(workers_.size()) < threads - 1) {
      const int id = int(workers_.size()) + 1;
      workers_.emplace_back([this, id] { worker_loop(id); });
    }
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->tasks = tasks;
    job->threads = threads;
    job->pending = tasks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = job;
      ++generation_;
    }
    wake_.notify_all();
    work_on(*job, 0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&job] { return job->pending == 0; });
    job_.reset();
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

 private:
  struct Job {
    const std::function<void(int, int)>* fn = nullptr;
    int tasks = 0, threads = 0;
    std::atomic<int> next{0};
    int pending = 0;  // guarded by mutex_
  };
  void work_on(Job& job, int worker) {
    for (;;) {
      const int task = job.next.fetch_add(1);
      if (task >= job.tasks) return;
      (*job.fn)(task, worker);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--job.pending == 0) done_.notify_all();
    }
  }
  void worker_loop(int id) {
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        job = job_;
      }
      if (job && id < job->threads) work_on(*job, id);
    }
  }
  std::mutex run_mutex_, mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  std::shared_ptr<Job> job_;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

namespace detail {

// Splits C into tiles, one task each, and runs them on the pool. The tiles cut the longer
// side of C at multiples of the register tile, so each holds whole micro-tiles.
template <class Real, bool Portable>
void gemm_parallel(Op opA, Op opB, int M, int N, int K, Real alpha, const Real* A, int lda, const Real* B, int ldb,
                   Real beta, Real* C, int ldc, int threads, const Epilogue<Real>& epilogue) {
  using S = GemmShape<Real>;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // empty sum: C = beta C
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) C[size_t(i) * ldc + j] = beta == Real(0) ? Real(0) : beta * C[size_t(i) * ldc + j];
    if (epilogue.apply) epilogue.apply(epilogue.ctx, C, ldc, 0, 0, M, N);
    return;
  }
  if (2.0 * M * N * K < 4e6) threads = 1;  // small products: a thread hand-off costs more
  const bool split_rows = M >= N;
  const int unit = split_rows ? S::MR : S::NR;
  const int extent = split_rows ? M : N;
  const int units = (extent + unit - 1) / unit;
  const int tasks = std::max(1, std::min(threads, units));
  const int kc = std::min(S::KC, K);
  const size_t packA_size = size_t(S::MC) * kc;
  const size_t packB_size = size_t(std::min(S::NC, (N + S::NR - 1) / S::NR * S::NR)) * kc;
  // Per-worker packing buffers, kept between calls so training does not allocate per step.
  thread_local std::vector<Real> caller_buffer;
  std::vector<std::vector<Real>> worker_buffers(size_t(tasks > 1 ? tasks - 1 : 0));
  ThreadPool::shared().run(threads, tasks, [&](int task, int worker) {
    std::vector<Real>& buf = worker == 0 ? caller_buffer : worker_buffers[size_t(worker - 1)];
    if (buf.size() < packA_size + packB_size) buf.resize(packA_size + packB_size);
    const int lo = int(long(task) * units / tasks) * unit;
    const int hi = std::min(extent, int(long(task + 1) * units / tasks) * unit);
    if (split_rows)
      gemm_tile<Real, Portable>(opA, opB, lo, hi, 0, N, K, alpha, A, lda, B, ldb, beta, C, ldc, buf.data(),
                                buf.data() + packA_size, epilogue);
    else
      gemm_tile<Real, Portable>(opA, opB, 0, M, lo, hi, K, alpha, A, lda, B, ldb, beta, C, ldc, buf.data(),
                                buf.data() + packA_size, epilogue);
  });
}

}  // namespace detail

// C = alpha op(A) op(B) + beta C (see the top of this section), then the epilogue, if any,
// on every tile of C.
template <class Real>
void gemm(Op opA, Op opB, int M, int N, int K, Real alpha, const Real* A, int lda, const Real* B, int ldb, Real beta,
          Real* C, int ldc, int threads = 1, const Epilogue<Real>& epilogue = {}) {
  detail::gemm_parallel<Real, false>(opA, opB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads, epilogue);
}

// The same on the portable kernel only: the reference the vector kernels are tested against.
template <class Real>
void gemm_portable(Op opA, Op opB, int M, int N, int K, Real alpha, const Real* A, int lda, const Real* B, int ldb,
                   Real beta, Real* C, int ldc, int threads = 1) {
  detail::gemm_parallel<Real, true>(opA, opB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads, {});
}

#endif  // !RESDYN_FREESTANDING

// ============================================================================
// 3. Errors and files (hosted)
// ============================================================================
#ifndef RESDYN_FREESTANDING

// Reads the MNIST data files (IDX format), raw or gzip-compressed, with our own small
// inflater. Every failure on the host side (bad file, bad flag, bad model) throws an Error
// carrying a one-line message that names the file (or the caller's "where") and what is
// wrong. No input, however malformed, may crash, hang or read out of bounds.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

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
inline uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < size; ++i)
    crc = idx_detail::kCrc32Table.entry[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

// ---------------------------------------------------------------------------
// Inflate (RFC 1951)
// ---------------------------------------------------------------------------

namespace idx_detail {

// Length codes 257..285: base length and number of extra bits (RFC 1951 3.2.5).
constexpr uint16_t kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,
                                      15, 17, 19, 23, 27, 31, 35, 43, 51,  59,
                                      67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr uint8_t kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};

// Distance codes 0..29: base distance and number of extra bits (RFC 1951 3.2.5).
constexpr uint16_t kDistBase[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                    33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                    1025, 1537, 2049, 3073, 4097, 6145,  8193,  12289, 16385, 24577};
constexpr uint8_t kDistExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

// Order in which code-length code lengths are stored (RFC 1951 3.2.7).
constexpr uint8_t kCodeLengthOrder[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                          11, 4,  12, 3, 13, 2, 14, 1, 15};

constexpr int kMaxCodeBits = 15;  // longest Huffman code deflate allows (RFC 1951 3.2.7)
constexpr int kFastBits = 10;     // codes up to this long decode with one table look-up

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

// Decodes one deflate stream into `out`, starting at data[pos].
class Inflater {
 public:
  Inflater(const uint8_t* data, size_t size, size_t pos, const std::string& where,
           std::vector<uint8_t>& out, size_t max_output)
      : data_(data), size_(size), pos_(pos), where_(where), out_(out),
        start_(out.size()), max_output_(max_output) {}

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
  size_t pos_;             // next input byte not yet loaded into bitbuf_
  uint64_t bitbuf_ = 0;    // loaded but unconsumed bits, next bit lowest
  int bitcount_ = 0;
  const std::string& where_;
  std::vector<uint8_t>& out_;
  size_t start_;           // this stream's first output byte: distances stop here
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
    if (len != (~nlen & 0xFFFFu))
      fail("stored block length " + std::to_string(len) + " does not match its complement");
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
    if (const char* err = lengths_code_.build(len, 19, false))
      fail(std::string(err) + " in code length code");

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
    if (const char* err = lit_.build(len, nlit, true))
      fail(std::string(err) + " in literal/length code");
    if (const char* err = dist_.build(len + nlit, ndist, true))
      fail(std::string(err) + " in distance code");
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
        fail("distance " + std::to_string(distance) + " too far back (only " +
             std::to_string(have) + " bytes written)");
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

inline uint32_t read_le32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}

inline uint32_t read_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

inline std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", static_cast<unsigned>(v));
  return buf;
}

inline std::string hex8(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02x", v & 0xFFu);
  return buf;
}

}  // namespace idx_detail

// ---------------------------------------------------------------------------
// gzip (RFC 1952)
// ---------------------------------------------------------------------------

// Decompresses one or more concatenated gzip members. `where` starts every
// error message (usually the file name); more than `max_output` bytes of
// output is an error, so a tiny file cannot make us allocate gigabytes.
inline std::vector<uint8_t> gunzip(const uint8_t* data, size_t size, const std::string& where,
                                   size_t max_output = size_t(1) << 31) {
  using namespace idx_detail;
  auto fail = [&](const std::string& what, size_t at) {
    throw Error(where + ": gzip: " + what + " at byte " + std::to_string(at));
  };
  if (size == 0) fail("empty input", 0);

  std::vector<uint8_t> out;
  // The last member's ISIZE is a size hint; deflate cannot expand more than
  // about 1032:1, which keeps a forged ISIZE from reserving gigabytes.
  if (size >= 18) {
    size_t hint = read_le32(data + size - 4);
    if (hint > max_output) hint = max_output;
    if (size < (size_t(1) << 40) && hint > size * 1032) hint = size * 1032;
    out.reserve(hint);
  }

  size_t pos = 0;
  do {
    const size_t member = pos;
    auto need = [&](size_t n) {
      if (size - pos < n) fail("unexpected end of data in header", size);
    };

    // Fixed part: ID1 ID2 CM FLG MTIME(4) XFL OS (RFC 1952 2.3).
    need(10);
    if (data[pos] != 0x1F || data[pos + 1] != 0x8B)
      fail("not gzip data (starts with " + hex8(data[pos]) + " " + hex8(data[pos + 1]) +
               ", expected 1f 8b)", pos);
    if (data[pos + 2] != 8)
      fail("unsupported compression method " + std::to_string(data[pos + 2]) + " (only 8, deflate)",
           pos + 2);
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
    if (flags & 0x02) {  // FHCRC: low 16 bits of the CRC-32 of the header so far
      need(2);
      const uint32_t stored = data[pos] | (data[pos + 1] << 8);
      const uint32_t actual = crc32(data + member, pos - member) & 0xFFFF;
      if (stored != actual)
        fail("header CRC mismatch (stored " + hex32(stored) + ", computed " + hex32(actual) + ")",
             pos);
      pos += 2;
    }

    const size_t first = out.size();
    pos = Inflater(data, size, pos, where, out, max_output).run();

    // Trailer: CRC-32 and ISIZE (length mod 2^32) of this member's data.
    if (size - pos < 8) fail("unexpected end of data in trailer", size);
    const uint32_t stored_crc = read_le32(data + pos);
    const uint32_t actual_crc = crc32(out.data() + first, out.size() - first);
    if (stored_crc != actual_crc)
      fail("CRC-32 mismatch (stored " + hex32(stored_crc) + ", computed " + hex32(actual_crc) + ")",
           pos);
    const uint32_t stored_size = read_le32(data + pos + 4);
    const uint32_t actual_size = static_cast<uint32_t>(out.size() - first);
    if (stored_size != actual_size)
      fail("ISIZE mismatch (stored " + std::to_string(stored_size) + ", decompressed " +
               std::to_string(actual_size) + " bytes)", pos + 4);
    pos += 8;

    // More bytes must be another member; anything else is an error rather
    // than silently ignored, so a damaged file is never half-accepted.
    if (pos < size && !(size - pos >= 2 && data[pos] == 0x1F && data[pos + 1] == 0x8B))
      fail(std::to_string(size - pos) + " trailing bytes after the gzip data", pos);
  } while (pos < size);
  return out;
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

// The whole file as bytes.
inline std::vector<uint8_t> read_file(const std::string& path) {
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

// The whole file, decompressed first if it starts with the gzip magic 1f 8b.
inline std::vector<uint8_t> read_file_maybe_gzip(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  if (bytes.size() >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B)
    return gunzip(bytes.data(), bytes.size(), path);
  return bytes;
}

// ---------------------------------------------------------------------------
// IDX format
// ---------------------------------------------------------------------------
// Magic: 00 00 TYPE RANK, then RANK big-endian uint32 dimensions, then the
// elements in row-major order, big-endian for multi-byte types.

struct Idx {
  uint8_t type = 0;             // 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
  std::vector<uint32_t> dims;
  std::vector<uint8_t> bytes;   // payload exactly as stored
};

namespace idx_detail {

// Bytes per element for an IDX type code, or 0 when the code is unknown.
inline size_t idx_element_size(uint8_t type) {
  switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
  }
}

}  // namespace idx_detail

// Checks the header against the byte count exactly: a short file and one
// with trailing bytes are both errors.
inline Idx parse_idx(const uint8_t* data, size_t size, const std::string& where) {
  using namespace idx_detail;
  auto fail = [&](const std::string& what) { throw Error(where + ": " + what); };

  if (size == 0) fail("empty file (expected an IDX header)");
  if (size < 4)
    fail("file has " + std::to_string(size) + " bytes, too short for the 4-byte IDX magic");
  if (data[0] != 0 || data[1] != 0) {
    std::string msg = "not an IDX file: starts with " + hex8(data[0]) + " " + hex8(data[1]) +
                      ", expected 00 00";
    if (data[0] == 0x1F && data[1] == 0x8B) msg += " (the data is gzip-compressed)";
    fail(msg);
  }

  Idx idx;
  idx.type = data[2];
  const size_t elem = idx_element_size(idx.type);
  if (elem == 0) fail("unknown IDX data type 0x" + hex8(idx.type));
  const unsigned rank = data[3];
  if (rank < 1 || rank > 4)
    fail("IDX rank " + std::to_string(rank) + " not supported (expected 1 to 4)");

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
    if (items > SIZE_MAX / dim) overflow = true;
    else items *= dim;
  }
  if (overflow || items > (SIZE_MAX - header) / elem)
    fail("dimensions " + shape + " are too large (size overflows)");

  const size_t expected = header + items * elem;
  if (size != expected) {
    const std::string count =
        rank == 1 ? std::to_string(items) : shape + " = " + std::to_string(items);
    fail("header says " + count + " items of " + std::to_string(elem) +
         (elem == 1 ? " byte (" : " bytes (") + std::to_string(expected) +
         " bytes) but the file has " + std::to_string(size) + " bytes" +
         (size < expected ? " (truncated)"
                          : " (" + std::to_string(size - expected) + " trailing bytes)"));
  }
  idx.bytes.assign(data + header, data + size);
  return idx;
}

// Reads an IDX file, raw or gzip-compressed.
inline Idx read_idx(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_maybe_gzip(path);
  return parse_idx(bytes.data(), bytes.size(), path);
}

// ---------------------------------------------------------------------------
// MNIST
// ---------------------------------------------------------------------------

struct Dataset {
  int count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> images;  // count * rows * cols pixels, 0..255, row-major
  std::vector<uint8_t> labels;  // count labels, 0..9
};

namespace idx_detail {

// Returns the first of the usual spellings of an MNIST file that can be
// found in `dir`, or throws naming every name tried.
inline std::string find_mnist_file(const std::string& dir, const std::string& prefix,
                                   const std::string& kind, const std::string& rank) {
  const std::string base = dir.empty() ? "./" : (dir.back() == '/' ? dir : dir + "/");
  const std::string names[4] = {
      prefix + "-" + kind + "-" + rank + "-ubyte",
      prefix + "-" + kind + "-" + rank + "-ubyte.gz",
      prefix + "-" + kind + "." + rank + "-ubyte",
      prefix + "-" + kind + "." + rank + "-ubyte.gz",
  };
  for (const std::string& name : names) {
    const std::string path = base + name;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f) {
      std::fclose(f);
      return path;
    }
    // A file that exists but cannot be opened is reported by read_file.
    if (errno != ENOENT) return path;
  }
  throw Error(dir + ": no MNIST " + prefix + " " + kind + " file (tried " + names[0] + ", " +
              names[1] + ", " + names[2] + ", " + names[3] + ")");
}

inline void check_mnist_idx(const Idx& idx, const std::string& path, unsigned rank,
                            const char* layout) {
  if (idx.type != 0x08)
    throw Error(path + ": expected unsigned byte data (type 0x08) but the file has type 0x" +
                hex8(idx.type));
  if (idx.dims.size() != rank)
    throw Error(path + ": expected " + std::to_string(rank) + " dimension" +
                (rank == 1 ? "" : "s") + " (" + layout + ") but the file has " +
                std::to_string(idx.dims.size()));
  for (uint32_t d : idx.dims)
    if (d > 0x7FFFFFFFu)
      throw Error(path + ": dimension " + std::to_string(d) + " is too large");
}

}  // namespace idx_detail

// Loads the training (train = true) or test split from `dir`, which holds
// {train,t10k}-{images-idx3,labels-idx1}-ubyte, each raw or as .gz.
inline Dataset load_mnist(const std::string& dir, bool train) {
  using namespace idx_detail;
  const std::string prefix = train ? "train" : "t10k";
  const std::string images_path = find_mnist_file(dir, prefix, "images", "idx3");
  const std::string labels_path = find_mnist_file(dir, prefix, "labels", "idx1");

  Idx images = read_idx(images_path);
  check_mnist_idx(images, images_path, 3, "count x rows x cols");
  Idx labels = read_idx(labels_path);
  check_mnist_idx(labels, labels_path, 1, "count");

  if (images.dims[0] != labels.dims[0])
    throw Error(images_path + " has " + std::to_string(images.dims[0]) +
                " images but " + labels_path + " has " + std::to_string(labels.dims[0]) +
                " labels");
  for (size_t i = 0; i < labels.bytes.size(); ++i)
    if (labels.bytes[i] > 9)
      throw Error(labels_path + ": label " + std::to_string(labels.bytes[i]) + " at index " +
                  std::to_string(i) + " is out of range (expected 0 to 9)");

  Dataset ds;
  ds.count = static_cast<int>(images.dims[0]);
  ds.rows = static_cast<int>(images.dims[1]);
  ds.cols = static_cast<int>(images.dims[2]);
  ds.images.swap(images.bytes);
  ds.labels.swap(labels.bytes);
  return ds;
}

// ---- Our own files: little-endian numbers, atomic replacement ----

// Appends numbers in little-endian order, whatever the host's, so files move between machines.
struct ByteWriter {
  std::vector<uint8_t> bytes;

  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes.push_back(uint8_t(v >> (8 * i)));
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
  void raw(const void* data, size_t size) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    bytes.insert(bytes.end(), p, p + size);
  }
};

// Reads what ByteWriter wrote, never past the end: running out is an Error naming the file
// and the field.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size, std::string where) : p_(data), left_(size), where_(std::move(where)) {}
  size_t left() const { return left_; }
  const uint8_t* take(size_t n, const char* what) {
    if (n > left_) throw Error(where_ + ": truncated while reading " + what);
    const uint8_t* at = p_;
    p_ += n;
    left_ -= n;
    return at;
  }
  uint32_t u32(const char* what) {
    const uint8_t* b = take(4, what);
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
    if (element_size && n > left_ / element_size) throw Error(where_ + ": " + what + " out of range");
    return size_t(n);
  }

 private:
  const uint8_t* p_;
  size_t left_;
  std::string where_;
};

// Writes the whole file to a temporary name beside path, then renames it into place, so a
// reader never sees half a file and the previous version stays until the new one is whole.
inline void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string tmp = path + ".partial";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(path + ": cannot write: " + std::strerror(errno));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const int write_errno = errno;
  const bool flushed = std::fflush(f) == 0;
  const int flush_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (!written || !flushed || !closed) {
    const int e = !written ? write_errno : !flushed ? flush_errno : errno;
    std::remove(tmp.c_str());
    throw Error(path + ": write failed: " + std::strerror(e ? e : EIO));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename into place: " + std::strerror(e));
  }
}

inline void write_text_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, std::vector<uint8_t>(text.begin(), text.end()));
}

#endif  // !RESDYN_FREESTANDING

// ============================================================================
// 4. Networks (SPEC §1)
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
// layer (the pruner of SPEC §2) is cutting the tail of the vector.
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

#ifndef RESDYN_FREESTANDING

// A network: its configuration and its parameters in the layout above.
template <class Real>
struct Net {
  Config config;
  Layout layout;
  std::vector<Real> params;

  Net() = default;
  explicit Net(const Config& cfg) : config(cfg), layout(layout_of(cfg)), params(layout.total, Real(0)) {
    if (const char* why = config_problem(cfg)) throw Error(std::string("network: ") + why);
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
    for (int blk = 1; blk <= net.layout.blocks; ++blk) glorot(net.W(blk), N * N, cfg.width, cfg.width, 4.0);
    glorot(net.K(), size_t(cfg.classes) * N, cfg.width, cfg.classes, 1.0);
  }
}

// ============================================================================
// 5. Forward pass
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
  bool resnet = true;
  std::vector<Real> input;   // B x D, pixels / 255 (possibly with noise added by a probe)
  std::vector<Real> x;       // x(t) (ResNet) or h(t) (MLP), t = 0..T
  std::vector<Real> y;       // y(t), t = 1..T (ResNet only)
  std::vector<Real> logits;  // B x C

  size_t block() const { return size_t(batch) * width; }
  Real* state(int t) { return x.data() + (keep_all ? size_t(t) : size_t(t & 1)) * block(); }
  const Real* state(int t) const { return x.data() + (keep_all ? size_t(t) : size_t(t & 1)) * block(); }
  // The layer's sigmoid output: the residual y(t) of a ResNet, h(t) of an MLP.
  Real* residual(int t) { return resnet ? y.data() + (keep_all ? size_t(t - 1) : 0) * block() : state(t); }
  const Real* residual(int t) const {
    return resnet ? y.data() + (keep_all ? size_t(t - 1) : 0) * block() : state(t);
  }
};

template <class Real>
struct ForwardOptions {
  int depth = 0;         // layers to run; 0 = the net's depth; more = unroll (shared only)
  bool keep_all = true;  // keep every layer (training) or only the newest (probes, eval)
  int threads = 1;
  std::function<void(int t, const Real* y, const Real* x)> on_layer;  // after each layer t >= 1
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
//   y = sigma(z + b_t) in place, and for a ResNet also x(t) = x(t-1) + y.
template <class Real>
struct LayerEpilogue {
  const Real* bias;
  const Real* prev;  // x(t-1), or nullptr: no residual add
  Real* x;           // x(t)
  int ld;

  static void apply(const void* ctx, Real* C, int ldc, int row0, int col0, int rows, int cols) {
    const LayerEpilogue& e = *static_cast<const LayerEpilogue*>(ctx);
    const Real* b = e.bias + col0;
    for (int r = 0; r < rows; ++r) {
      Real* y = C + size_t(r) * ldc;
      for (int c = 0; c < cols; ++c) y[c] = sigmoid(y[c] + b[c]);
      if (!e.prev) continue;
      const Real* p = e.prev + size_t(row0 + r) * e.ld + col0;
      Real* x = e.x + size_t(row0 + r) * e.ld + col0;
      for (int c = 0; c < cols; ++c) x[c] = p[c] + y[c];
    }
  }
  Epilogue<Real> as_epilogue() const { return {&LayerEpilogue::apply, this}; }
};

// Sizes the trace for this net, batch and depth (reusing its memory when it fits).
template <class Real>
void prepare_trace(const Net<Real>& net, Trace<Real>& trace, int depth, bool keep_all) {
  const Config& cfg = net.config;
  trace.depth = depth;
  trace.width = cfg.width;
  trace.keep_all = keep_all;
  trace.resnet = cfg.arch == Arch::ResNet;
  trace.x.resize((keep_all ? size_t(depth) + 1 : 2) * trace.block());
  trace.y.resize(trace.resnet ? (keep_all ? size_t(depth) : 1) * trace.block() : 0);
  trace.logits.resize(size_t(trace.batch) * cfg.classes);
}

// x(0) from the input: the stem, or a copy of the pixels.
template <class Real>
void compute_initial_state(const Net<Real>& net, Trace<Real>& trace, int threads) {
  const Config& cfg = net.config;
  const int B = trace.batch, N = cfg.width, D = cfg.input;
  Real* x0 = trace.state(0);
  if (cfg.stem) {
    const LayerEpilogue<Real> stem{net.c(), nullptr, nullptr, N};
    gemm(Op::N, Op::T, B, N, D, Real(1), trace.input.data(), D, net.P(), D, Real(0), x0, N, threads,
         stem.as_epilogue());
  } else {
    std::copy(trace.input.begin(), trace.input.begin() + trace.block(), x0);
  }
}

// Layers 1..depth from x(0) already in the trace, then the logits.
template <class Real>
void run_layers(const Net<Real>& net, Trace<Real>& trace, const ForwardOptions<Real>& opt) {
  const Config& cfg = net.config;
  const int B = trace.batch, N = cfg.width, depth = trace.depth;
  for (int t = 1; t <= depth; ++t) {
    // Past the trained depth only a shared net has weights (the unrolling of SPEC §1).
    const int layer = t <= cfg.depth ? t : 1;
    const Real* prev = trace.state(t - 1);
    const LayerEpilogue<Real> layer_done{net.b(layer), trace.resnet ? prev : nullptr, trace.state(t), N};
    gemm(Op::N, Op::T, B, N, N, Real(1), prev, N, net.W(layer), N, Real(0), trace.residual(t), N, opt.threads,
         layer_done.as_epilogue());
    if (opt.on_layer) opt.on_layer(t, trace.residual(t), trace.state(t));
  }
  gemm(Op::N, Op::T, B, cfg.classes, N, Real(1), trace.state(depth), N, net.K(), N, Real(0), trace.logits.data(),
       cfg.classes, opt.threads);
  for (int r = 0; r < B; ++r)
    for (int k = 0; k < cfg.classes; ++k) trace.logits[size_t(r) * cfg.classes + k] += net.k0()[k];
}

// The whole forward pass on trace.input (set it with set_input first).
template <class Real>
void forward(const Net<Real>& net, Trace<Real>& trace, const ForwardOptions<Real>& opt = {}) {
  const int depth = opt.depth > 0 ? opt.depth : net.config.depth;
  if (depth > net.config.depth && net.config.weights != Weights::Shared)
    throw Error("unrolling beyond the trained depth needs shared weights");
  prepare_trace(net, trace, depth, opt.keep_all);
  compute_initial_state(net, trace, opt.threads);
  run_layers(net, trace, opt);
}

// ============================================================================
// 6. Loss and backpropagation
// ============================================================================

// Mean softmax cross-entropy over the batch (SPEC §1). If dlogits is given, it receives
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

// Scratch space of backprop, kept between batches so a training step does not allocate.
template <class Real>
struct BackwardBuffers {
  std::vector<Real> dlogits;  // B x C
  std::vector<Real> gx;       // B x N: d loss / d x(t) (or h(t)), walking down the layers
  std::vector<Real> gz;       // T blocks of B x N: d loss / d z(t) for every layer
  std::vector<Real> gz0;      // B x N: d loss / d z of the stem
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
  Epilogue<Real> as_epilogue() const { return {&SigmoidGradEpilogue::apply, this}; }
};

// Column sums of a rows x cols block, added to out (bias gradients).
template <class Real>
void add_column_sums(const Real* a, int rows, int cols, Real* out) {
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < cols; ++j) out[j] += a[size_t(r) * cols + j];
}

// Gradient of the mean loss with respect to every parameter, into grad (layout.total
// values, overwritten). The trace must come from forward() with keep_all.
// Each line mirrors a line of the forward pass above, read from the bottom up:
//   logits = x(T) K^T + k0   ->  gK = dL^T x(T),  gk0 = colsum dL,  gx = dL K
//   ResNet x(t) = x(t-1) + y(t), y(t) = sigma(z(t)):
//       gz(t) = gx * y(1-y);  gx <- gx + gz(t) W_t   (the skip path carries gx through)
//   MLP h(t) = sigma(z(t)):
//       gz(t) = gx * h(1-h);  gx <- gz(t) W_t
//   z(t) = x(t-1) W_t^T + b_t  ->  gW_t = gz(t)^T x(t-1),  gb_t = colsum gz(t)
//   For shared weights gW = sum over t of gz(t)^T x(t-1): one product over the stacked
//   layers (T*B rows), because x(0..T-1) and gz(1..T) are contiguous.
//   stem x(0) = sigma(U P^T + c) ->  gz0 = gx * x0(1-x0),  gP = gz0^T U,  gc = colsum gz0
template <class Real>
double backward(const Net<Real>& net, const Trace<Real>& trace, const uint8_t* labels, Real* grad,
                BackwardBuffers<Real>& buf, int threads = 1) {
  const Config& cfg = net.config;
  const Layout& L = net.layout;
  const int B = trace.batch, N = cfg.width, C = cfg.classes, D = cfg.input, T = trace.depth;
  if (!trace.keep_all || T != cfg.depth) throw Error("backward needs a full trace at the trained depth");
  std::fill(grad, grad + L.total, Real(0));
  buf.dlogits.resize(size_t(B) * C);
  buf.gx.resize(size_t(B) * N);
  buf.gz.resize(size_t(T) * B * N);
  buf.gz0.resize(cfg.stem ? size_t(B) * N : 0);

  const double loss = softmax_cross_entropy(trace.logits.data(), labels, B, C, buf.dlogits.data());
  const Real* dL = buf.dlogits.data();
  gemm(Op::T, Op::N, C, N, B, Real(1), dL, C, trace.state(T), N, Real(0), grad + L.K, N, threads);
  add_column_sums(dL, B, C, grad + L.k0);

  // gx runs down the layers; each product that finishes gx below layer t also turns it into
  // gz of the layer below in its epilogue (gz = gx * s(1-s), s that layer's sigmoid output).
  const size_t block = trace.block();
  auto gz_of = [&](int t) { return buf.gz.data() + size_t(t - 1) * block; };
  auto gz_epilogue = [&](int t_below) {
    if (t_below >= 1) return SigmoidGradEpilogue<Real>{trace.residual(t_below), gz_of(t_below), N};
    return SigmoidGradEpilogue<Real>{trace.state(0), buf.gz0.data(), N};  // the stem's output x(0)
  };
  Real* gx = buf.gx.data();
  const SigmoidGradEpilogue<Real> top = gz_epilogue(T);
  gemm(Op::N, Op::N, B, N, C, Real(1), dL, C, net.K(), N, Real(0), gx, N, threads, top.as_epilogue());
  for (int t = T; t >= 1; --t) {
    if (t == 1 && !cfg.stem) break;  // d loss / d x(0) is only needed to reach a stem
    // ResNet: gx(t-1) = gx(t) + gz(t) W_t (beta 1); MLP: gx(t-1) = gz(t) W_t (beta 0).
    const SigmoidGradEpilogue<Real> below = gz_epilogue(t - 1);
    gemm(Op::N, Op::N, B, N, N, Real(1), gz_of(t), N, net.W(t), N, trace.resnet ? Real(1) : Real(0), gx, N, threads,
         below.as_epilogue());
  }
  if (cfg.weights == Weights::Shared) {
    gemm(Op::T, Op::N, N, N, T * B, Real(1), buf.gz.data(), N, trace.state(0), N, Real(0), grad + L.W(1), N, threads);
    add_column_sums(buf.gz.data(), T * B, N, grad + L.b(1));
  } else {
    for (int t = 1; t <= T; ++t) {
      gemm(Op::T, Op::N, N, N, B, Real(1), gz_of(t), N, trace.state(t - 1), N, Real(0), grad + L.W(t), N, threads);
      add_column_sums(gz_of(t), B, N, grad + L.b(t));
    }
  }
  if (cfg.stem) {
    gemm(Op::T, Op::N, N, D, B, Real(1), buf.gz0.data(), N, trace.input.data(), D, Real(0), grad + L.P, D, threads);
    add_column_sums(buf.gz0.data(), B, N, grad + L.c);
  }
  return loss;
}

// ============================================================================
// 7. Optimisers
// ============================================================================

enum class OptimizerKind { SGD, Adam };
enum class Schedule { Constant, Cosine };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::Adam;
  double lr = 1e-3;
  double momentum = 0.9;                            // SGD
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;    // Adam (Kingma & Ba 2015)
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
  // One update of params (n values) with gradient grad at learning rate lr. Each value is
  // updated on its own, so splitting the vector across threads changes nothing.
  void update(Real* params, const Real* grad, size_t n, double lr, int threads = 1) {
    ++step;
    const size_t chunk = size_t(1) << 16;
    const int tasks = int((n + chunk - 1) / chunk);
    ThreadPool::shared().run(threads, tasks, [&](int task, int) {
      const size_t lo = size_t(task) * chunk, hi = std::min(n, lo + chunk);
      update_range(params, grad, lo, hi, lr);
    });
  }

 private:
  void update_range(Real* params, const Real* grad, size_t lo, size_t hi, double lr) {
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
// 8. Training and evaluation
// ============================================================================

// The first n samples of a data set (all of it when n <= 0 or n >= its size).
inline Dataset first_samples(Dataset data, long n) {
  if (n > 0 && n < data.count) {
    data.count = int(n);
    data.images.resize(size_t(n) * data.rows * data.cols);
    data.labels.resize(size_t(n));
  }
  return data;
}

// ---- Adaptive depth (SPEC §2, paper §7) ----

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
  opt.on_layer = [&](int t, const Real* y, const Real*) {
    const size_t n = size_t(trace.batch) * N;
    if (t == T - 1) std::copy(y, y + n, before.begin());
    if (t == T)
      for (size_t i = 0; i < n; ++i) sum += std::abs(double(y[i]) - double(before[i]));
  };
  for (int first = 0; first < count; first += batch) {
    set_input(trace, &probe.images[size_t(first) * cfg.input], std::min(batch, count - first), cfg.input);
    forward(net, trace, opt);
  }
  return sum / (double(count) * N);
}

struct PruneOptions {
  double threshold = 0;     // remove the last layer while d < threshold (paper: 0.01)
  bool repeat = false;      // more than one layer per call
  int probe_samples = 1000; // the first training images
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
};

struct BatchProgress {
  int epoch = 0, epochs = 0;        // epoch counts from 1
  long batch = 0, batches = 0;      // batches done in this epoch, of
  double loss = 0;                  // mean loss of the epoch so far
  double samples_per_second = 0;
  double eta_seconds = 0;           // to the end of the run
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
    if (train.rows * train.cols != net.config.input)
      throw Error("images have " + std::to_string(train.rows * train.cols) + " pixels but the network expects " +
                  std::to_string(net.config.input));
    optimizer_.config = options.optimizer;
    optimizer_.reset(net.params.size());
    grad_.resize(net.params.size());
    order_.resize(size_t(train.count));
    for (size_t i = 0; i < order_.size(); ++i) order_[i] = uint32_t(i);
    batch_pixels_.resize(size_t(options.batch) * net.config.input);
    batch_labels_.resize(size_t(options.batch));
  }

  long batches_per_epoch() const { return (data_.count + options_.batch - 1) / options_.batch; }
  int epochs_done() const { return epoch_; }            // epochs begun (the current one counts)
  bool mid_epoch() const { return next_batch_ != 0; }  // stopped inside an epoch (a checkpoint)

  // One pass over the shuffled training set (or the rest of it, after a restore); returns
  // its mean training loss. on_batch runs after every step, when the trainer's state is
  // whole: it may save a checkpoint, or throw to stop.
  double train_epoch(const std::function<void(const BatchProgress&)>& on_batch = {}) {
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
    const auto start = std::chrono::steady_clock::now();
    ForwardOptions<Real> fwd;
    fwd.threads = options_.threads;
    for (long bi = first_batch; bi < batches; ++bi) {
      const int first = int(bi * options_.batch);
      const int count = std::min(options_.batch, data_.count - first);
      for (int r = 0; r < count; ++r) {
        const uint32_t idx = order_[size_t(first + r)];
        std::memcpy(&batch_pixels_[size_t(r) * D], &data_.images[size_t(idx) * D], size_t(D));
        batch_labels_[size_t(r)] = data_.labels[idx];
      }
      set_input(trace_, batch_pixels_.data(), count, D);
      forward(net_, trace_, fwd);
      const double loss = backward(net_, trace_, batch_labels_.data(), grad_.data(), buffers_, options_.threads);
      // A numerical fault stops training before it reaches the weights.
      if (!std::isfinite(loss))
        throw Error("epoch " + std::to_string(epoch_) + ", batch " + std::to_string(bi + 1) +
                    ": the loss is not finite; training stopped with the weights of the previous step");
      const double lr = learning_rate(options_.optimizer, optimizer_.step, total_steps);
      optimizer_.update(net_.params.data(), grad_.data(), net_.params.size(), lr, options_.threads);
      loss_sum_ += loss * count;
      seen_ += count;
      next_batch_ = bi + 1 < batches ? bi + 1 : 0;
      if (on_batch) {
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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
    return loss_sum_ / double(seen_);
  }

  // Everything besides the net that makes the rest of a run come out the same as if it had
  // never stopped: position (epoch, next batch, this epoch's data order and loss so far),
  // the generator, and the optimiser's state. Restore it into a trainer built with the same
  // net (as saved at the same moment), data and options.
  std::vector<uint8_t> encode_state() const {
    ByteWriter w;
    w.u32(uint32_t(epoch_));
    w.u64(uint64_t(next_batch_));
    w.f64(loss_sum_);
    w.u64(uint64_t(seen_));
    for (uint64_t word : rng_.s) w.u64(word);
    w.u64(order_.size());
    for (uint32_t i : order_) w.u32(i);
    w.u32(uint32_t(optimizer_.config.kind));
    w.u64(uint64_t(optimizer_.step));
    for (const std::vector<Real>* moments : {&optimizer_.m, &optimizer_.v}) {
      w.u64(moments->size());
      for (Real x : *moments) w.f64(double(x));
    }
    return w.bytes;
  }
  void restore_state(const uint8_t* data, size_t size, const std::string& where) {
    ByteReader r(data, size, where);
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
    std::vector<Real> moments[2];
    for (std::vector<Real>& m : moments) {
      m.resize(r.count("optimiser state", 8));
      for (Real& x : m) x = Real(r.f64("optimiser state"));
    }
    const size_t want_v = optimizer_.config.kind == OptimizerKind::Adam ? net_.params.size() : 0;
    if (moments[0].size() != net_.params.size() || moments[1].size() != want_v)
      throw fail("optimiser state does not match the network");
    if (r.left() != 0) throw fail("unexpected bytes after the trainer state");
    epoch_ = int(epoch);
    next_batch_ = long(next_batch);
    loss_sum_ = loss_sum;
    seen_ = long(seen);
    rng_ = rng;
    order_ = std::move(order);
    optimizer_.step = long(step);
    optimizer_.m = std::move(moments[0]);
    optimizer_.v = std::move(moments[1]);
    grad_.resize(net_.params.size());
  }

  Optimizer<Real>& optimizer() { return optimizer_; }

  // Removes the net's last layer between epochs and cuts the optimiser's state and the
  // gradient buffer to match, so training goes on seamlessly.
  void prune_last_layer() {
    resdyn::prune_last_layer(net_);
    optimizer_.m.resize(std::min(optimizer_.m.size(), net_.params.size()));
    optimizer_.v.resize(std::min(optimizer_.v.size(), net_.params.size()));
    grad_.resize(net_.params.size());
  }

  // The pruner of SPEC §2, run after an epoch: measure d on the probe set and remove the last
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
  std::vector<Real> grad_;
  std::vector<uint32_t> order_;
  std::vector<uint8_t> batch_pixels_, batch_labels_;
  Trace<Real> trace_;
  BackwardBuffers<Real> buffers_;
  int epoch_ = 0;          // epochs begun
  long next_batch_ = 0;    // next batch of the current epoch; 0 between epochs
  double loss_sum_ = 0;    // this epoch's loss, summed over samples
  long seen_ = 0;          // this epoch's samples so far
};

struct Evaluation {
  int count = 0, classes = 0;
  double error = 0;           // fraction misclassified
  double loss = 0;            // mean cross-entropy
  std::vector<int> confusion; // classes x classes, row = true class, column = predicted
};

// Test error, loss and confusion matrix of the first `limit` samples (0 = all).
template <class Real>
Evaluation evaluate(const Net<Real>& net, const Dataset& data, int threads = 1, int limit = 0, int batch = 256) {
  const Config& cfg = net.config;
  if (data.rows * data.cols != cfg.input)
    throw Error("images have " + std::to_string(data.rows * data.cols) + " pixels but the network expects " +
                std::to_string(cfg.input));
  Evaluation ev;
  ev.count = limit > 0 ? std::min(limit, data.count) : data.count;
  ev.classes = cfg.classes;
  ev.confusion.assign(size_t(cfg.classes) * cfg.classes, 0);
  Trace<Real> trace;
  ForwardOptions<Real> fwd;
  fwd.keep_all = false;
  fwd.threads = threads;
  int wrong = 0;
  double loss = 0;
  for (int first = 0; first < ev.count; first += batch) {
    const int count = std::min(batch, ev.count - first);
    set_input(trace, &data.images[size_t(first) * cfg.input], count, cfg.input);
    forward(net, trace, fwd);
    const uint8_t* labels = &data.labels[size_t(first)];
    loss += softmax_cross_entropy<Real>(trace.logits.data(), labels, count, cfg.classes, nullptr) * count;
    for (int r = 0; r < count; ++r) {
      const int predicted = argmax_row(&trace.logits[size_t(r) * cfg.classes], cfg.classes);
      wrong += predicted != labels[r];
      ev.confusion[size_t(labels[r]) * cfg.classes + predicted] += 1;
    }
  }
  ev.error = ev.count ? double(wrong) / ev.count : 0;
  ev.loss = ev.count ? loss / ev.count : 0;
  return ev;
}

// ============================================================================
// 9. Model and checkpoint files
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
//   52+m    4*P   parameters, float32, in the layout of section 4
//   end-4   4     CRC-32 of every byte before it

constexpr char kModelMagic[8] = {'R', 'E', 'S', 'D', 'Y', 'N', '\r', '\n'};
constexpr uint32_t kModelVersion = 1;
constexpr uint32_t kMaxMetadata = 1u << 20;

inline std::vector<uint8_t> encode_model(const Net<float>& net, const std::string& metadata) {
  const Config& c = net.config;
  if (metadata.size() > kMaxMetadata) throw Error("model metadata longer than 1 MiB");
  ByteWriter out;
  out.bytes.reserve(64 + metadata.size() + 4 * net.params.size());
  out.raw(kModelMagic, 8);
  out.u32(kModelVersion);
  for (uint32_t v : {uint32_t(c.arch), uint32_t(c.weights), uint32_t(c.stem), uint32_t(c.input), uint32_t(c.width),
                     uint32_t(c.depth), uint32_t(c.classes)})
    out.u32(v);
  out.u64(net.params.size());
  out.u32(uint32_t(metadata.size()));
  out.raw(metadata.data(), metadata.size());
  for (float p : net.params) out.f32(p);
  out.u32(crc32(out.bytes.data(), out.bytes.size()));
  return out.bytes;
}

inline void save_model(const Net<float>& net, const std::string& path, const std::string& metadata = "") {
  write_file_atomically(path, encode_model(net, metadata));
}

// Parses and checks a model file image; every inconsistency is an Error naming `where`.
inline Net<float> decode_model(const uint8_t* data, size_t size, const std::string& where,
                               std::string* metadata = nullptr) {
  auto fail = [&where](const std::string& what) { return Error(where + ": " + what); };
  if (size < 56) throw fail("not a resdyn model (file too short: " + std::to_string(size) + " bytes)");
  if (std::memcmp(data, kModelMagic, 8) != 0) throw fail("not a resdyn model (bad magic)");
  ByteReader in(data + 8, size - 12, where);  // between the magic and the CRC
  const uint32_t version = in.u32("version");
  if (version != kModelVersion)
    throw fail("model format version " + std::to_string(version) + " is not supported (expected 1)");
  if (crc32(data, size - 4) != ByteReader(data + size - 4, 4, where).u32("checksum"))
    throw fail("checksum mismatch: the file is corrupt");
  uint32_t f[7];
  for (uint32_t& field : f) field = in.u32("header");
  if (f[0] > 1 || f[1] > 1 || f[2] > 1) throw fail("unknown architecture code in header");
  for (int i = 3; i < 7; ++i)
    if (f[i] > uint32_t(kMaxDepth)) throw fail("dimension out of range in header");
  Config c;
  c.arch = Arch(f[0]);
  c.weights = Weights(f[1]);
  c.stem = f[2] != 0;
  c.input = int(f[3]);
  c.width = int(f[4]);
  c.depth = int(f[5]);
  c.classes = int(f[6]);
  if (const char* why = config_problem(c)) throw fail(std::string("bad architecture: ") + why);
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

inline Net<float> load_model(const std::string& path, std::string* metadata = nullptr) {
  const std::vector<uint8_t> bytes = read_file(path);
  return decode_model(bytes.data(), bytes.size(), path, metadata);
}

// A checkpoint: everything a training run needs to go on as if it had never stopped.
//   magic "RESDYNCK", version (uint32, 1),
//   the model file image, the trainer's state, the caller's own state (uint64 length +
//   bytes each), CRC-32 of every byte before it.
// Written atomically (write_file_atomically), so the previous checkpoint stays whole until
// the new one is complete.
constexpr char kCheckpointMagic[8] = {'R', 'E', 'S', 'D', 'Y', 'N', 'C', 'K'};
constexpr uint32_t kCheckpointVersion = 1;

struct Checkpoint {
  Net<float> net;
  std::string metadata;                // the model's metadata
  std::vector<uint8_t> trainer_state;  // Trainer::encode_state()
  std::vector<uint8_t> extra;          // what the caller adds (the CLI: flags, log so far)
};

inline std::vector<uint8_t> encode_checkpoint(const Net<float>& net, const std::string& metadata,
                                              const std::vector<uint8_t>& trainer_state,
                                              const std::vector<uint8_t>& extra) {
  ByteWriter w;
  w.raw(kCheckpointMagic, 8);
  w.u32(kCheckpointVersion);
  for (const std::vector<uint8_t>& part : {encode_model(net, metadata), trainer_state, extra}) {
    w.u64(part.size());
    w.raw(part.data(), part.size());
  }
  w.u32(crc32(w.bytes.data(), w.bytes.size()));
  return w.bytes;
}

inline Checkpoint decode_checkpoint(const uint8_t* data, size_t size, const std::string& where) {
  auto fail = [&where](const std::string& what) { return Error(where + ": " + what); };
  if (size < 16 || std::memcmp(data, kCheckpointMagic, 8) != 0) throw fail("not a resdyn checkpoint");
  if (crc32(data, size - 4) != ByteReader(data + size - 4, 4, where).u32("checksum"))
    throw fail("checksum mismatch: the checkpoint is corrupt");
  ByteReader r(data + 8, size - 12, where);
  if (r.u32("version") != kCheckpointVersion) throw fail("checkpoint format version not supported");
  Checkpoint c;
  const size_t model_size = r.count("model size", 1);
  c.net = decode_model(r.take(model_size, "model"), model_size, where + " (model)", &c.metadata);
  const size_t state_size = r.count("trainer state size", 1);
  const uint8_t* state = r.take(state_size, "trainer state");
  c.trainer_state.assign(state, state + state_size);
  const size_t extra_size = r.count("extra size", 1);
  const uint8_t* extra = r.take(extra_size, "extra");
  c.extra.assign(extra, extra + extra_size);
  if (r.left() != 0) throw fail("unexpected bytes at the end");
  return c;
}

// Refuses to save weights that are not finite: a checkpoint is only ever a good state.
inline void save_checkpoint(const std::string& path, const Net<float>& net, const std::string& metadata,
                            const std::vector<uint8_t>& trainer_state, const std::vector<uint8_t>& extra) {
  for (size_t i = 0; i < net.params.size(); ++i)
    if (!std::isfinite(net.params[i]))
      throw Error(path + ": not saved: parameter " + std::to_string(i) + " is not finite");
  write_file_atomically(path, encode_checkpoint(net, metadata, trainer_state, extra));
}

inline Checkpoint load_checkpoint(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  return decode_checkpoint(bytes.data(), bytes.size(), path);
}

#endif  // !RESDYN_FREESTANDING

}  // namespace resdyn

#endif  // RESDYN_H
