// The matrix routine against a naive triple loop in double, on odd shapes, every
// transposition, and the same bits on one and two threads.
// These tests read the kernels themselves, not only their results: the header shows their
// bodies here (before anything includes it).
#define RESDYN_KERNELS
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "resdyn.h"

using resdyn::Op;

namespace {

template <class Real>
std::vector<Real> random_matrix(size_t n, uint64_t seed) {
  resdyn::Rng rng(seed);
  std::vector<Real> m(n);
  for (auto& v : m) v = Real(rng.uniform(-1, 1));
  return m;
}

// C = alpha op(A) op(B) + beta C by the definition, summed in double.
template <class Real>
std::vector<double> naive(Op opA, Op opB, int M, int N, int K, double alpha, const std::vector<Real>& A, int lda,
                          const std::vector<Real>& B, int ldb, double beta, const std::vector<Real>& C, int ldc) {
  std::vector<double> out(C.begin(), C.end());
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double sum = 0;
      for (int k = 0; k < K; ++k) {
        const double a = opA == Op::N ? A[size_t(i) * lda + k] : A[size_t(k) * lda + i];
        const double b = opB == Op::N ? B[size_t(k) * ldb + j] : B[size_t(j) * ldb + k];
        sum += a * b;
      }
      out[size_t(i) * ldc + j] = alpha * sum + (beta == 0 ? 0.0 : beta * double(C[size_t(i) * ldc + j]));
    }
  return out;
}

struct Case {
  int M, N, K;
};

template <class Real>
void check_against_naive(const Case& c, Op opA, Op opB, double alpha, double beta, int threads, double tol) {
  // Leading dimensions a little larger than needed, so strides are exercised too.
  const int rowsA = opA == Op::N ? c.M : c.K, colsA = opA == Op::N ? c.K : c.M;
  const int rowsB = opB == Op::N ? c.K : c.N, colsB = opB == Op::N ? c.N : c.K;
  const int lda = colsA + 3, ldb = colsB + 1, ldc = c.N + 2;
  const auto A = random_matrix<Real>(size_t(rowsA) * lda, 1);
  const auto B = random_matrix<Real>(size_t(rowsB) * ldb, 2);
  auto C = random_matrix<Real>(size_t(c.M) * ldc, 3);
  const auto expected = naive(opA, opB, c.M, c.N, c.K, alpha, A, lda, B, ldb, beta, C, ldc);
  resdyn::gemm(opA, opB, c.M, c.N, c.K, Real(alpha), A.data(), lda, B.data(), ldb, Real(beta), C.data(), ldc, threads);
  double worst = 0;
  for (int i = 0; i < c.M; ++i)
    for (int j = 0; j < c.N; ++j)
      worst = std::max(worst, std::abs(double(C[size_t(i) * ldc + j]) - expected[size_t(i) * ldc + j]));
  // Each output is a sum of K products of values in [-1, 1].
  EXPECT_LE(worst, tol * std::sqrt(double(c.K) + 1))
      << c.M << "x" << c.N << "x" << c.K << " opA=" << int(opA) << " opB=" << int(opB) << " threads=" << threads;
  // Padding columns beyond N must be untouched: compare one against a fresh copy.
  const auto untouched = random_matrix<Real>(size_t(c.M) * ldc, 3);
  for (int i = 0; i < c.M; ++i)
    for (int j = c.N; j < ldc; ++j) ASSERT_EQ(C[size_t(i) * ldc + j], untouched[size_t(i) * ldc + j]);
}

const Case kShapes[] = {{1, 1, 1},     {1, 7, 33},     {7, 1, 33},    {33, 7, 1},    {7, 33, 64}, {64, 33, 7},
                        {97, 65, 300}, {130, 257, 31}, {5, 1064, 33}, {2, 37, 1064}, {4, 130, 47}};

}  // namespace

TEST(Gemm, FloatMatchesNaiveOnOddShapesAllTranspositions) {
  for (const Case& c : kShapes)
    for (Op a : {Op::N, Op::T})
      for (Op b : {Op::N, Op::T}) {
        check_against_naive<float>(c, a, b, 1.0, 0.0, 1, 2e-6);
        check_against_naive<float>(c, a, b, -0.5, 1.0, 2, 2e-6);
        check_against_naive<float>(c, a, b, 2.0, 0.25, 2, 4e-6);
      }
}

TEST(Gemm, DoubleMatchesNaive) {
  for (const Case& c : kShapes)
    for (Op a : {Op::N, Op::T})
      for (Op b : {Op::N, Op::T}) check_against_naive<double>(c, a, b, 1.5, 0.5, 2, 1e-14);
}

TEST(Gemm, PaperSizedProductMatchesNaive) {
  // B x 1064 by 1064 x 1064 as in training the paper's net, one row-block of it.
  check_against_naive<float>({64, 1064, 1064}, Op::N, Op::T, 1.0, 0.0, 2, 2e-6);
  check_against_naive<float>({1064, 1064, 70}, Op::T, Op::N, 1.0, 0.0, 2, 2e-6);
}

TEST(Gemm, BetaZeroIgnoresWhatCHeld) {
  std::vector<float> A = {1, 2, 3, 4}, B = {1, 0, 0, 1}, C(4, std::nanf(""));
  resdyn::gemm(Op::N, Op::N, 2, 2, 2, 1.0f, A.data(), 2, B.data(), 2, 0.0f, C.data(), 2);
  EXPECT_EQ(C, (std::vector<float>{1, 2, 3, 4}));
}

TEST(Gemm, EmptyDepthScalesC) {
  std::vector<float> C = {1, 2, 3, 4};
  resdyn::gemm<float>(Op::N, Op::N, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.5f, C.data(), 2);
  EXPECT_EQ(C, (std::vector<float>{0.5f, 1, 1.5f, 2}));
}

TEST(Gemm, SameBitsOnOneAndTwoThreads) {
  // Large enough that two threads really split the work, in both directions of the split.
  // The last two run on a register tile of their few rows (a batch of one to four).
  for (const Case& c :
       {Case{300, 100, 700}, Case{64, 1064, 1064}, Case{1064, 1064, 128}, Case{1, 1064, 1064}, Case{3, 1000, 999}})
    for (Op a : {Op::N, Op::T})
      for (Op b : {Op::N, Op::T}) {
        const int rowsA = a == Op::N ? c.M : c.K, colsA = a == Op::N ? c.K : c.M;
        const int rowsB = b == Op::N ? c.K : c.N, colsB = b == Op::N ? c.N : c.K;
        const auto A = random_matrix<float>(size_t(rowsA) * colsA, 5);
        const auto B = random_matrix<float>(size_t(rowsB) * colsB, 6);
        std::vector<float> C1(size_t(c.M) * c.N), C2(C1.size()), C3(C1.size());
        resdyn::gemm(a, b, c.M, c.N, c.K, 1.0f, A.data(), colsA, B.data(), colsB, 0.0f, C1.data(), c.N, 1);
        resdyn::gemm(a, b, c.M, c.N, c.K, 1.0f, A.data(), colsA, B.data(), colsB, 0.0f, C2.data(), c.N, 2);
        resdyn::gemm(a, b, c.M, c.N, c.K, 1.0f, A.data(), colsA, B.data(), colsB, 0.0f, C3.data(), c.N, 3);
        ASSERT_EQ(0, std::memcmp(C1.data(), C2.data(), C1.size() * sizeof(float)));
        ASSERT_EQ(0, std::memcmp(C1.data(), C3.data(), C1.size() * sizeof(float)));
      }
}

TEST(Gemm, VectorKernelsAgreeWithThePortableKernel) {
  // Same packing and summation order; only fused multiply-add rounding may differ.
  for (const Case& c : {Case{37, 70, 500}, Case{128, 1064, 300}})
    for (Op a : {Op::N, Op::T})
      for (Op b : {Op::N, Op::T}) {
        const int colsA = a == Op::N ? c.K : c.M, colsB = b == Op::N ? c.N : c.K;
        const auto A = random_matrix<float>(size_t(c.M) * c.K, 8);
        const auto B = random_matrix<float>(size_t(c.K) * c.N, 9);
        std::vector<float> fast(size_t(c.M) * c.N), portable(fast.size());
        resdyn::gemm(a, b, c.M, c.N, c.K, 1.0f, A.data(), colsA, B.data(), colsB, 0.0f, fast.data(), c.N, 2);
        resdyn::gemm_portable(a, b, c.M, c.N, c.K, 1.0f, A.data(), colsA, B.data(), colsB, 0.0f, portable.data(), c.N,
                              2);
        for (size_t i = 0; i < fast.size(); ++i)
          ASSERT_NEAR(fast[i], portable[i], 1e-6 * std::sqrt(double(c.K))) << "element " << i;
      }
}

TEST(Gemm, DoubleVectorKernelsAgreeWithThePortableKernel) {
  const Case c{37, 70, 500};
  for (Op a : {Op::N, Op::T})
    for (Op b : {Op::N, Op::T}) {
      const int colsA = a == Op::N ? c.K : c.M, colsB = b == Op::N ? c.N : c.K;
      const auto A = random_matrix<double>(size_t(c.M) * c.K, 8);
      const auto B = random_matrix<double>(size_t(c.K) * c.N, 9);
      std::vector<double> fast(size_t(c.M) * c.N), portable(fast.size());
      resdyn::gemm(a, b, c.M, c.N, c.K, 1.0, A.data(), colsA, B.data(), colsB, 0.0, fast.data(), c.N, 2);
      resdyn::gemm_portable(a, b, c.M, c.N, c.K, 1.0, A.data(), colsA, B.data(), colsB, 0.0, portable.data(), c.N, 2);
      for (size_t i = 0; i < fast.size(); ++i) ASSERT_NEAR(fast[i], portable[i], 1e-13) << "element " << i;
    }
}

TEST(Gemm, EpilogueSeesEveryElementOnceAfterTheFullSum) {
  // An epilogue that squares: C must become (A B)^2 exactly once per element.
  struct Square {
    static void apply(const void*, float* C, int ldc, int, int, int rows, int cols) {
      for (int r = 0; r < rows; ++r)
        for (int j = 0; j < cols; ++j) C[size_t(r) * ldc + j] *= C[size_t(r) * ldc + j];
    }
  };
  const int M = 50, N = 90, K = 1000;  // K spans several depth blocks
  const auto A = random_matrix<float>(size_t(M) * K, 1);
  const auto B = random_matrix<float>(size_t(K) * N, 2);
  std::vector<float> plain(size_t(M) * N), squared(plain.size());
  resdyn::gemm(Op::N, Op::N, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, plain.data(), N, 2);
  resdyn::Epilogue<float> square;
  square.apply = Square::apply;
  resdyn::gemm(Op::N, Op::N, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, squared.data(), N, 2, square);
  for (size_t i = 0; i < plain.size(); ++i) ASSERT_EQ(squared[i], plain[i] * plain[i]);
}

TEST(Gemm, TransposeCopyMatchesTheDefinition) {
  // Sizes around the register blocks (16 x 16 with AVX-512, 8 x 8 with AVX2) and strides.
  for (int rows : {1, 8, 15, 16, 17, 32, 40})
    for (int cols : {1, 7, 16, 31, 48, 300}) {
      const size_t lds = size_t(cols) + 5, ldo = size_t(rows) + 3;
      const auto src = random_matrix<float>(size_t(rows) * lds, 7);
      std::vector<float> out(size_t(cols) * ldo, -9.0f);
      resdyn::detail::transpose_copy(src.data(), lds, rows, cols, out.data(), ldo);
      for (int r = 0; r < rows; ++r)
        for (int k = 0; k < cols; ++k)
          ASSERT_EQ(out[size_t(k) * ldo + r], src[size_t(r) * lds + k]) << rows << "x" << cols;
      for (int k = 0; k < cols; ++k)  // the gap between rows of out is left alone
        for (size_t r = size_t(rows); r < ldo; ++r) ASSERT_EQ(out[size_t(k) * ldo + r], -9.0f);
    }
}

TEST(Gemm, ARowGetsTheSameBitsInAnyBatch) {
  // Inference on one sample, a few, or a large batch: each row of C is the same, bit for bit
  // (batches of up to four run on a register tile of their rows, which must sum as the full one).
  for (const Case& c : {Case{64, 1064, 1064}, Case{37, 70, 300}, Case{13, 33, 784}})
    for (Op a : {Op::N, Op::T}) {
      const int lda = a == Op::N ? c.K : c.M;
      const auto A = random_matrix<float>(size_t(a == Op::N ? c.M : c.K) * lda, 8);
      const auto B = random_matrix<float>(size_t(c.N) * c.K, 9);
      auto whole = random_matrix<float>(size_t(c.M) * c.N, 10);
      auto rows = whole;
      resdyn::gemm(a, Op::T, c.M, c.N, c.K, 0.5f, A.data(), lda, B.data(), c.K, 0.25f, whole.data(), c.N, 2);
      for (int first = 0, count = 1; first < c.M; first += count, count = count % 4 + 1) {
        const int n = std::min(count, c.M - first);
        const float* a_rows = a == Op::N ? A.data() + size_t(first) * lda : A.data() + first;
        resdyn::gemm(a, Op::T, n, c.N, c.K, 0.5f, a_rows, lda, B.data(), c.K, 0.25f, rows.data() + size_t(first) * c.N,
                     c.N, 1);
      }
      ASSERT_EQ(0, std::memcmp(whole.data(), rows.data(), whole.size() * sizeof(float)))
          << c.M << "x" << c.N << "x" << c.K << " opA=" << int(a);
    }
}

TEST(Gemm, PackedBGivesTheSameBitsAsB) {
  // B packed once ahead of time must sum exactly as gemm does from B itself, for batches
  // of one to four (their own register tile) and more, with ragged widths (N not a multiple
  // of the strip) and depths (K not a multiple of KC), either transposition, 1 or 2 threads.
  struct Shape {
    int N, K;
  };
  for (const Shape& s : {Shape{1064, 1064}, Shape{37, 70}, Shape{33, 784}, Shape{130, 1000}})
    for (int M : {1, 2, 3, 4, 5, 17, 64, 1000})
      for (Op a : {Op::N, Op::T})
        for (Op b : {Op::N, Op::T})
          for (int threads : {1, 2}) {
            if (M == 1000 && (s.N != 1064 || a != Op::N)) continue;  // the paper's inference shape is enough
            const int lda = a == Op::N ? s.K : M, ldb = b == Op::N ? s.N : s.K, ldc = s.N + 3;
            const auto A = random_matrix<float>(size_t(a == Op::N ? M : s.K) * lda, 11);
            const auto B = random_matrix<float>(size_t(b == Op::N ? s.K : s.N) * ldb, 12);
            auto plain = random_matrix<float>(size_t(M) * ldc, 13);
            auto packed = plain;
            resdyn::gemm(a, b, M, s.N, s.K, 0.5f, A.data(), lda, B.data(), ldb, 0.25f, plain.data(), ldc, threads);
            const resdyn::PackedB<float> packed_b(b, s.K, s.N, B.data(), ldb);
            resdyn::gemm(a, M, 0.5f, A.data(), lda, packed_b, 0.25f, packed.data(), ldc, threads);
            // Bits of every element, the columns past N (left alone) included.
            ASSERT_EQ(0, std::memcmp(plain.data(), packed.data(), plain.size() * sizeof(float)))
                << M << "x" << s.N << "x" << s.K << " opA=" << int(a) << " opB=" << int(b) << " threads=" << threads;
          }
}

TEST(Gemm, PackedBMatchesNaive) {
  // The packed path against the definition too, not only against the other path.
  for (const Case& c : {Case{1, 37, 70}, Case{3, 1064, 33}, Case{50, 90, 1000}}) {
    const auto A = random_matrix<double>(size_t(c.M) * c.K, 14);
    const auto B = random_matrix<double>(size_t(c.N) * c.K, 15);
    const std::vector<double> C0(size_t(c.M) * c.N, 1.0);
    auto C = C0;
    const resdyn::PackedB<double> packed_b(Op::T, c.K, c.N, B.data(), c.K);
    resdyn::gemm(Op::N, c.M, 2.0, A.data(), c.K, packed_b, 0.5, C.data(), c.N, 2);
    const auto expected = naive(Op::N, Op::T, c.M, c.N, c.K, 2.0, A, c.K, B, c.K, 0.5, C0, c.N);
    for (size_t i = 0; i < C.size(); ++i) ASSERT_NEAR(C[i], expected[i], 1e-12) << "element " << i;
  }
}
