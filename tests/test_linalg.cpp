// The dense linear algebra of the linear analyses (analysis/linalg.h) against matrices
// whose determinants and eigenvalues are known by construction.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <string>
#include <vector>

#include "analysis/linalg.h"
#include "resdyn.h"

using resdyn::Matrix;
using Complex = std::complex<double>;

namespace {

const double kEps = std::numeric_limits<double>::epsilon();
const double kPi = 3.14159265358979323846;

Matrix random_matrix(int rows, int cols, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  resdyn::Rng rng(seed);
  Matrix m(rows, cols);
  for (double& value : m.a) value = rng.uniform(lo, hi);
  return m;
}

Matrix diagonal(const std::vector<double>& d) {
  Matrix m(static_cast<int>(d.size()), static_cast<int>(d.size()));
  for (int i = 0; i < m.rows; ++i) m(i, i) = d[static_cast<std::size_t>(i)];
  return m;
}

Matrix inverse(const Matrix& m) {
  const resdyn::LuFactorization f = resdyn::lu_factor(m);
  Matrix result(m.rows, m.cols);
  for (int c = 0; c < m.cols; ++c) {
    std::vector<double> unit(static_cast<std::size_t>(m.rows), 0.0);
    unit[static_cast<std::size_t>(c)] = 1.0;
    const std::vector<double> column = resdyn::lu_solve(f, unit);
    for (int r = 0; r < m.rows; ++r) result(r, c) = column[static_cast<std::size_t>(r)];
  }
  return result;
}

// A dense, nonsymmetric, well-conditioned basis: I + E with ||E||_2 about 0.6, so that
// cond(Q) stays below about 4 at any size.
Matrix well_conditioned_basis(int n, uint64_t seed) {
  Matrix q = random_matrix(n, n, seed, -0.5, 0.5);
  const double scale = 1.0 / std::sqrt(static_cast<double>(n));
  for (double& value : q.a) value *= scale;
  for (int i = 0; i < n; ++i) q(i, i) += 1.0;
  return q;
}

// Q B Q^-1: same eigenvalues as B, dense and nonsymmetric.
Matrix similar_to(const Matrix& b, uint64_t seed) {
  const Matrix q = well_conditioned_basis(b.rows, seed);
  return resdyn::multiply(resdyn::multiply(q, b), inverse(q));
}

// Pairs every expected eigenvalue with the nearest computed one not yet used and returns
// the largest distance; the counts must agree.
double max_matching_error(const std::vector<Complex>& expected, const std::vector<Complex>& computed) {
  EXPECT_EQ(expected.size(), computed.size());
  std::vector<bool> used(computed.size(), false);
  double worst = 0.0;
  for (const Complex& e : expected) {
    double best = std::numeric_limits<double>::infinity();
    std::size_t best_index = 0;
    for (std::size_t i = 0; i < computed.size(); ++i) {
      if (!used[i] && std::abs(computed[i] - e) < best) {
        best = std::abs(computed[i] - e);
        best_index = i;
      }
    }
    if (best_index < used.size()) used[best_index] = true;
    worst = std::max(worst, best);
  }
  return worst;
}

std::vector<Complex> as_complex(const std::vector<double>& values) { return {values.begin(), values.end()}; }

// Conjugate pairs must come out adjacent, positive imaginary part first.
void expect_conjugate_pairs_adjacent(const std::vector<Complex>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i].imag() == 0.0) continue;
    ASSERT_GT(values[i].imag(), 0.0) << "index " << i;
    ASSERT_LT(i + 1, values.size());
    EXPECT_EQ(values[i + 1], std::conj(values[i]));
    ++i;
  }
}

// Real coefficients c_0..c_{n-1} of the monic polynomial prod (x - r) over roots given
// as real roots plus complex ones (each standing for itself and its conjugate).
std::vector<double> monic_coefficients(const std::vector<double>& real_roots, const std::vector<Complex>& pair_roots) {
  std::vector<double> p = {1.0};  // p[k] is the coefficient of x^k
  auto multiply_by = [&p](const std::vector<double>& factor) {
    std::vector<double> product(p.size() + factor.size() - 1, 0.0);
    for (std::size_t i = 0; i < p.size(); ++i)
      for (std::size_t j = 0; j < factor.size(); ++j) product[i + j] += p[i] * factor[j];
    p = product;
  };
  for (double r : real_roots) multiply_by({-r, 1.0});
  for (const Complex& r : pair_roots) multiply_by({std::norm(r), -2.0 * r.real(), 1.0});
  p.pop_back();  // drop the leading 1
  return p;
}

// Companion matrix: ones on the subdiagonal, -c_k in the last column.
Matrix companion(const std::vector<double>& coefficients) {
  const int n = static_cast<int>(coefficients.size());
  Matrix m(n, n);
  for (int i = 1; i < n; ++i) m(i, i - 1) = 1.0;
  for (int i = 0; i < n; ++i) m(i, n - 1) = -coefficients[static_cast<std::size_t>(i)];
  return m;
}

// ---------------------------------------------------------------------------------
// LU
// ---------------------------------------------------------------------------------

TEST(Lu, SolvesRandomSystemToKnownSolution) {
  const int n = 40;
  const Matrix a = random_matrix(n, n, 11);
  std::vector<double> x(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = std::sin(1.0 + i);
  const std::vector<double> b = resdyn::multiply(a, x);
  const std::vector<double> solved = resdyn::lu_solve(resdyn::lu_factor(a), b);
  for (int i = 0; i < n; ++i) EXPECT_NEAR(solved[static_cast<std::size_t>(i)], x[static_cast<std::size_t>(i)], 1e-11);
}

TEST(Lu, PivotsPastAZeroLeadingEntry) {
  Matrix a(2, 2);
  a(0, 1) = 2.0;
  a(1, 0) = 3.0;  // det = -6
  const resdyn::LuFactorization f = resdyn::lu_factor(a);
  EXPECT_FALSE(f.singular);
  const resdyn::LogAbsDeterminant d = resdyn::log_abs_determinant(f);
  EXPECT_EQ(d.sign, -1);
  EXPECT_NEAR(d.log_abs, std::log(6.0), 1e-15);
  const std::vector<double> x = resdyn::lu_solve(f, {4.0, 9.0});
  EXPECT_DOUBLE_EQ(x[0], 3.0);
  EXPECT_DOUBLE_EQ(x[1], 2.0);
}

// A = P L U with unit lower L, upper U of chosen diagonal and a permutation of known
// parity: det A = sign(P) prod u_kk. The pivots make |det| about 10^(+-620), far outside
// the double range, so only the summed logarithms can represent it.
TEST(Lu, LogDeterminantOfKnownFactorsBeyondDoubleRange) {
  const int n = 60;
  for (double magnitude : {1e10, 1e-10}) {
    Matrix lower = random_matrix(n, n, 21);
    Matrix upper = random_matrix(n, n, 22);
    int expected_sign = 1;
    for (int i = 0; i < n; ++i) {
      for (int j = i; j < n; ++j) lower(i, j) = (i == j) ? 1.0 : 0.0;
      for (int j = 0; j < i; ++j) upper(i, j) = 0.0;
      const double sign = (i % 7 == 3) ? -1.0 : 1.0;  // 9 negative pivots
      if (sign < 0) expected_sign = -expected_sign;
      upper(i, i) = sign * 2.0 * (1.0 + 0.01 * i);
      // The whole row is scaled, so A stays as well-conditioned as at magnitude 1.
      for (int j = i; j < n; ++j) upper(i, j) *= magnitude;
    }
    // Reverse the first 5 rows: 2 transpositions, then swap rows 10 and 20: odd parity.
    Matrix a = resdyn::multiply(lower, upper);
    std::swap_ranges(a.row(0), a.row(0) + n, a.row(4));
    std::swap_ranges(a.row(1), a.row(1) + n, a.row(3));
    std::swap_ranges(a.row(10), a.row(10) + n, a.row(20));
    expected_sign = -expected_sign;

    double expected_log = 0.0;
    for (int i = 0; i < n; ++i) expected_log += std::log(magnitude * 2.0 * (1.0 + 0.01 * i));
    const resdyn::LogAbsDeterminant d = resdyn::log_abs_determinant(resdyn::lu_factor(a));
    EXPECT_EQ(d.sign, expected_sign) << "magnitude " << magnitude;
    // |log det| is about 1400; the factors' rounding is relative, so compare relatively.
    EXPECT_NEAR(d.log_abs, expected_log, 1e-12 * std::fabs(expected_log) + 1e-9) << "magnitude " << magnitude;
  }
}

TEST(Lu, SingularMatrixGivesMinusInfinityAndRefusesToSolve) {
  Matrix a(2, 2);
  a(0, 0) = 1.0;
  a(0, 1) = 2.0;
  a(1, 0) = 2.0;
  a(1, 1) = 4.0;
  const resdyn::LuFactorization f = resdyn::lu_factor(a);
  EXPECT_TRUE(f.singular);
  const resdyn::LogAbsDeterminant d = resdyn::log_abs_determinant(f);
  EXPECT_EQ(d.sign, 0);
  EXPECT_EQ(d.log_abs, -std::numeric_limits<double>::infinity());
  EXPECT_THROW(resdyn::lu_solve(f, {1.0, 2.0}), resdyn::LinalgError);

  const resdyn::LogAbsDeterminant zero = resdyn::log_abs_determinant(resdyn::lu_factor(Matrix(4, 4)));
  EXPECT_EQ(zero.sign, 0);
  EXPECT_EQ(zero.log_abs, -std::numeric_limits<double>::infinity());
}

TEST(Lu, PivotToleranceTreatsTinyPivotAsZero) {
  Matrix a = Matrix::identity(3);
  a(2, 2) = 1e-14;
  EXPECT_FALSE(resdyn::lu_factor(a).singular);
  EXPECT_TRUE(resdyn::lu_factor(a, 1e-12).singular);
}

TEST(Lu, EmptyMatrixHasDeterminantOne) {
  const resdyn::LogAbsDeterminant d = resdyn::log_abs_determinant(resdyn::lu_factor(Matrix(0, 0)));
  EXPECT_EQ(d.sign, 1);
  EXPECT_EQ(d.log_abs, 0.0);
}

TEST(Lu, RejectsNonSquare) { EXPECT_THROW(resdyn::lu_factor(Matrix(2, 3)), resdyn::LinalgError); }

// ---------------------------------------------------------------------------------
// Eigenvalues
// ---------------------------------------------------------------------------------

TEST(Eigenvalues, EmptyAndOneByOne) {
  EXPECT_TRUE(resdyn::eigenvalues(Matrix(0, 0)).empty());
  const std::vector<Complex> one = resdyn::eigenvalues(Matrix(1, 1, -3.5));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0], Complex(-3.5, 0.0));
}

// Nothing to reduce or iterate: the diagonal comes back exactly.
TEST(Eigenvalues, DiagonalExactly) {
  const std::vector<double> d = {5.0, -2.0, 0.0, 3.25, 1e-3, -7.0, 1e8};
  std::vector<Complex> computed = resdyn::eigenvalues(diagonal(d));
  EXPECT_EQ(max_matching_error(as_complex(d), computed), 0.0);
}

TEST(Eigenvalues, ZeroMatrix) {
  for (const Complex& value : resdyn::eigenvalues(Matrix(6, 6))) EXPECT_EQ(value, Complex(0.0, 0.0));
}

TEST(Eigenvalues, UpperTriangularGivesItsDiagonal) {
  const int n = 12;
  Matrix a = random_matrix(n, n, 31, -5.0, 5.0);
  std::vector<double> d;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < i; ++j) a(i, j) = 0.0;
    d.push_back(a(i, i));
  }
  EXPECT_LE(max_matching_error(as_complex(d), resdyn::eigenvalues(a)), 1e-13);
}

// Roots of a polynomial with real and complex roots from its companion matrix. The
// roots' condition numbers are moderate here; tolerance 1e-9 relative to the largest root.
TEST(Eigenvalues, CompanionMatrixRoots) {
  const std::vector<double> real_roots = {1.0, 2.0, 3.0, -4.0, 0.25};
  const std::vector<Complex> pair_roots = {{0.5, 2.0}, {-1.0, 1.0}, {0.0, 3.0}};
  const Matrix m = companion(monic_coefficients(real_roots, pair_roots));
  std::vector<Complex> expected = as_complex(real_roots);
  for (const Complex& r : pair_roots) {
    expected.push_back(r);
    expected.push_back(std::conj(r));
  }
  const std::vector<Complex> computed = resdyn::eigenvalues(m);
  expect_conjugate_pairs_adjacent(computed);
  const double largest_root = 4.0;
  EXPECT_LE(max_matching_error(expected, computed), 1e-9 * largest_root);
}

// x^n - 1: the cyclic permutation matrix, the classic case where plain Francis shifts
// make no progress and only the exceptional shifts get the iteration going.
TEST(Eigenvalues, RootsOfUnityFromCyclicPermutation) {
  for (int n = 2; n <= 9; ++n) {
    Matrix m(n, n);
    for (int i = 1; i < n; ++i) m(i, i - 1) = 1.0;
    m(0, n - 1) = 1.0;
    std::vector<Complex> expected;
    for (int k = 0; k < n; ++k) expected.push_back(std::polar(1.0, 2.0 * kPi * k / n));
    const std::vector<Complex> computed = resdyn::eigenvalues(m);
    expect_conjugate_pairs_adjacent(computed);
    EXPECT_LE(max_matching_error(expected, computed), 1e-12) << "n = " << n;
  }
}

// Rotation-scaling blocks [[a, -b], [b, a]] have eigenvalues a +- ib: alone (deflated at
// once) and hidden in a dense similarity transform (tolerance 1e-11).
TEST(Eigenvalues, RotationBlocksGiveConjugatePairs) {
  const std::vector<Complex> pairs = {{0.5, 2.0}, {-1.0, 0.25}, {3.0, 1e-3}, {0.0, 1.0}};
  Matrix blocks(8, 8);
  std::vector<Complex> expected;
  for (int k = 0; k < 4; ++k) {
    const Complex p = pairs[static_cast<std::size_t>(k)];
    blocks(2 * k, 2 * k) = p.real();
    blocks(2 * k, 2 * k + 1) = -p.imag();
    blocks(2 * k + 1, 2 * k) = p.imag();
    blocks(2 * k + 1, 2 * k + 1) = p.real();
    expected.push_back(p);
    expected.push_back(std::conj(p));
  }
  const std::vector<Complex> direct = resdyn::eigenvalues(blocks);
  expect_conjugate_pairs_adjacent(direct);
  EXPECT_LE(max_matching_error(expected, direct), 1e-15);

  const std::vector<Complex> dense = resdyn::eigenvalues(similar_to(blocks, 41));
  expect_conjugate_pairs_adjacent(dense);
  EXPECT_LE(max_matching_error(expected, dense), 1e-11);
}

// A semisimple repeated eigenvalue is as well-conditioned as a simple one when the
// eigenvector basis is (tolerance 1e-10).
TEST(Eigenvalues, RepeatedEigenvaluesOfDiagonalisableMatrix) {
  const std::vector<double> d = {2.0, 2.0, 2.0, -1.0, -1.0, 5.0, 2.0, 0.0, 0.0};
  const std::vector<Complex> computed = resdyn::eigenvalues(similar_to(diagonal(d), 51));
  EXPECT_LE(max_matching_error(as_complex(d), computed), 1e-10);
}

// A Jordan block J_k(lambda) is defective: a perturbation of size delta moves its
// eigenvalue by about delta^(1/k). With delta = eps ||A||, the tolerance is
// 10 (eps ||A||)^(1/k): about 1.5e-7 for k = 2, 6e-5 for k = 3, 1.3e-3 for k = 4.
TEST(Eigenvalues, DefectiveJordanBlocksWithinRootOfEpsilon) {
  for (int k : {2, 3, 4}) {
    const int n = k + 2;
    Matrix b(n, n);
    for (int i = 0; i < k; ++i) {
      b(i, i) = 1.5;
      if (i + 1 < k) b(i, i + 1) = 1.0;
    }
    b(k, k) = -2.0;
    b(k + 1, k + 1) = 4.0;
    const Matrix a = similar_to(b, 60 + static_cast<uint64_t>(k));
    double frobenius = 0.0;
    for (double value : a.a) frobenius += value * value;
    frobenius = std::sqrt(frobenius);

    std::vector<Complex> expected(static_cast<std::size_t>(k), Complex(1.5, 0.0));
    expected.push_back(-2.0);
    expected.push_back(4.0);
    const double tolerance = 10.0 * std::pow(kEps * frobenius, 1.0 / k);
    EXPECT_LE(max_matching_error(expected, resdyn::eigenvalues(a)), tolerance) << "k = " << k;
  }
}

// Q D Q^-1 with a dense well-conditioned Q (cond < 4) and a known spectrum in [-10, 10]
// with gaps of at least 20 / N. Backward stability gives errors near
// eps ||A|| cond(Q)^2; the tolerance 1e-9 allows a margin of well over 100.
void check_random_similarity(int n, uint64_t seed) {
  resdyn::Rng rng(seed);
  std::vector<double> d;
  for (int i = 0; i < n; ++i) d.push_back(-10.0 + 20.0 * (i + 0.5 * rng.uniform()) / n);
  const Matrix a = similar_to(diagonal(d), seed + 1);
  const std::vector<Complex> computed = resdyn::eigenvalues(a);
  EXPECT_LE(max_matching_error(as_complex(d), computed), 1e-9) << "n = " << n;
  // Backward-error check on a few eigenvalues: each is an eigenvalue of a matrix within
  // a few eps of A (relative).
  for (int i = 0; i < n; i += std::max(1, n / 5)) {
    EXPECT_LE(resdyn::real_eigenvalue_residual(a, computed[static_cast<std::size_t>(i)].real()), 1e-13)
        << "n = " << n << ", eigenvalue " << i;
  }
}

TEST(Eigenvalues, RandomSimilarityOfKnownDiagonalN50) { check_random_similarity(50, 71); }

TEST(Eigenvalues, RandomSimilarityOfKnownDiagonalN500) { check_random_similarity(500, 81); }

// With complex pairs mixed in: block diagonal of real entries and rotation blocks, N = 50.
TEST(Eigenvalues, RandomSimilarityWithComplexPairsN50) {
  const int n = 50;
  Matrix b(n, n);
  std::vector<Complex> expected;
  for (int i = 0; i < n;) {
    if (i % 5 == 0 && i + 1 < n) {
      const Complex p(-3.0 + 0.1 * i, 1.0 + 0.05 * i);
      b(i, i) = b(i + 1, i + 1) = p.real();
      b(i, i + 1) = -p.imag();
      b(i + 1, i) = p.imag();
      expected.push_back(p);
      expected.push_back(std::conj(p));
      i += 2;
    } else {
      b(i, i) = 0.2 * i - 4.0;
      expected.emplace_back(b(i, i), 0.0);
      i += 1;
    }
  }
  const std::vector<Complex> computed = resdyn::eigenvalues(similar_to(b, 91));
  expect_conjugate_pairs_adjacent(computed);
  EXPECT_LE(max_matching_error(expected, computed), 1e-10);
}

// Two routines cross-checked on a random nonsymmetric matrix: the eigenvalues sum to the
// trace and their log-moduli sum to log|det| from LU.
TEST(Eigenvalues, AgreeWithTraceAndLuDeterminant) {
  const int n = 200;
  const Matrix a = random_matrix(n, n, 101);
  double trace = 0.0;
  for (int i = 0; i < n; ++i) trace += a(i, i);
  Complex sum = 0.0;
  double log_modulus_sum = 0.0;
  for (const Complex& value : resdyn::eigenvalues(a)) {
    sum += value;
    log_modulus_sum += std::log(std::abs(value));
  }
  EXPECT_NEAR(sum.real(), trace, 1e-10);
  EXPECT_NEAR(sum.imag(), 0.0, 1e-10);
  EXPECT_NEAR(log_modulus_sum, resdyn::log_abs_determinant(resdyn::lu_factor(a)).log_abs, 1e-8);
}

// Badly scaled entries: D B D^-1 with D = diag(10^(1.2 i)) has B's eigenvalues. Balancing
// undoes D; without it the error here is about 1.
TEST(Eigenvalues, BadlyScaledMatrixWithBalancing) {
  const int n = 10;
  const Matrix b = similar_to(diagonal({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}), 111);
  Matrix a = b;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) a(i, j) *= std::pow(10.0, 1.2 * (i - j));
  EXPECT_LE(max_matching_error(as_complex({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}), resdyn::eigenvalues(a)), 1e-8);
}

TEST(Eigenvalues, IterationCapThrowsInsteadOfHanging) {
  resdyn::EigenvalueOptions options;
  options.max_total_sweeps = 1;
  try {
    resdyn::eigenvalues(random_matrix(30, 30, 121), options);
    FAIL() << "expected LinalgError";
  } catch (const resdyn::LinalgError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("did not converge"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "message must be one line";
  }
}

TEST(Eigenvalues, RejectsNonSquareAndNonFinite) {
  EXPECT_THROW(resdyn::eigenvalues(Matrix(3, 2)), resdyn::LinalgError);
  Matrix m = Matrix::identity(3);
  m(1, 2) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(resdyn::eigenvalues(m), resdyn::LinalgError);
}

TEST(Eigenvalues, WithoutBalancingToo) {
  resdyn::EigenvalueOptions options;
  options.balance = false;
  const std::vector<double> d = {-3.0, -1.0, 0.5, 2.0, 7.0};
  EXPECT_LE(max_matching_error(as_complex(d), resdyn::eigenvalues(similar_to(diagonal(d), 131), options)), 1e-12);
}

}  // namespace
