// Dense double-precision linear algebra for the linear analyses (the Jacobian spectra of
// paper §6, the determinants of appendix A, the fixed points of eq. 3):
// LU factorisation with partial pivoting (solve, log|det| with its sign) and all
// eigenvalues of a real nonsymmetric matrix (balancing, Householder reduction to
// Hessenberg form, Francis double-shift QR). Written for N up to a few thousand.
#pragma once

#include <complex>
#include <cstddef>
#include <vector>

#include "resdyn.h"

namespace resdyn {

// Raised when a computation cannot finish: a non-square or non-finite input, a solve
// with a singular matrix, or the QR iteration reaching its cap.
struct LinalgError : Error {
  using Error::Error;
};

// A dense matrix stored row by row: element (r, c) lives at a[r * cols + c].
struct Matrix {
  int rows = 0;
  int cols = 0;
  std::vector<double> a;

  Matrix() = default;
  Matrix(int rows, int cols, double fill = 0.0);
  static Matrix identity(int n);

  double& operator()(int r, int c) { return a[static_cast<std::size_t>(r) * cols + c]; }
  double operator()(int r, int c) const { return a[static_cast<std::size_t>(r) * cols + c]; }
  double* row(int r) { return a.data() + static_cast<std::size_t>(r) * cols; }
  const double* row(int r) const { return a.data() + static_cast<std::size_t>(r) * cols; }
};

// left * right; throws LinalgError when the inner dimensions differ.
Matrix multiply(const Matrix& left, const Matrix& right);
// m * x; throws LinalgError when x.size() != m.cols.
std::vector<double> multiply(const Matrix& m, const std::vector<double>& x);

// P A = L U. L (unit diagonal, not stored) sits below the diagonal of `lu`, U on and
// above it. Row k was exchanged with row pivot_rows[k] at step k.
struct LuFactorization {
  Matrix lu;
  std::vector<int> pivot_rows;
  int permutation_sign = 1;  // +1 or -1: the determinant of P
  bool singular = false;     // some pivot had |pivot| <= the tolerance given to lu_factor
};

// Gaussian elimination with partial pivoting (Golub & Van Loan Alg. 3.4.1). A pivot with
// |pivot| <= pivot_tolerance (default: exactly zero) marks the matrix singular; the
// factorisation then goes on with the next column instead of failing.
LuFactorization lu_factor(Matrix matrix, double pivot_tolerance = 0.0);

// Solves A x = rhs from the factorisation; throws LinalgError if it is singular.
std::vector<double> lu_solve(const LuFactorization& factorization, std::vector<double> rhs);

// det A = sign * exp(log_abs). A singular matrix gives log_abs = -infinity and sign 0.
struct LogAbsDeterminant {
  double log_abs = 0.0;  // natural logarithm of |det A|
  int sign = 1;          // +1, -1, or 0 when singular
};

// Sums log|u_kk| instead of multiplying pivots, so determinants far beyond the double
// range (appendix A's det M'(s): products of many factors) stay representable.
LogAbsDeterminant log_abs_determinant(const LuFactorization& factorization);

struct EigenvalueOptions {
  // Parlett & Reinsch diagonal scaling before the reduction; it never changes the
  // eigenvalues and usually makes them more accurate for badly scaled matrices.
  bool balance = true;
  // Cap on Francis QR sweeps for the whole matrix; 0 means 30 * max(10, n).
  long long max_total_sweeps = 0;
};

// All eigenvalues of a square real matrix, in no particular order. A complex pair is
// returned as two adjacent entries, the one with positive imaginary part first.
// Throws LinalgError (one-line message) for a non-square or non-finite matrix or when
// the QR iteration reaches its sweep cap.
std::vector<std::complex<double>> eigenvalues(Matrix matrix, const EigenvalueOptions& options = {});

// Test aid: how well the real number lambda is an eigenvalue of a. Runs a few steps of
// inverse iteration for an approximate eigenvector v and returns
// ||a v - lambda v||_2 / (||a||_F ||v||_2), which is about machine epsilon for a
// well-computed simple eigenvalue.
double real_eigenvalue_residual(const Matrix& a, double lambda);

}  // namespace resdyn
