// Dense linear algebra for the linear analyses; see linalg.h for what each function promises.
// Every loop walks along rows of the row-major storage where it can, so that the
// inner loops read consecutive memory and the compiler can vectorise them.
#include "analysis/linalg.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

namespace resdyn {

Matrix::Matrix(int rows_, int cols_, double fill) : rows(rows_), cols(cols_) {
  if (rows_ < 0 || cols_ < 0) throw LinalgError("matrix dimensions must not be negative");
  a.assign(static_cast<std::size_t>(rows_) * static_cast<std::size_t>(cols_), fill);
}

Matrix Matrix::identity(int n) {
  Matrix m(n, n);
  for (int i = 0; i < n; ++i) m(i, i) = 1.0;
  return m;
}

Matrix multiply(const Matrix& left, const Matrix& right) {
  if (left.cols != right.rows) throw LinalgError("multiply: inner dimensions differ");
  Matrix product(left.rows, right.cols);
  // i-k-j order: the innermost loop runs along a row of `right` and of `product`.
  for (int i = 0; i < left.rows; ++i) {
    double* out = product.row(i);
    for (int k = 0; k < left.cols; ++k) {
      const double factor = left(i, k);
      if (factor == 0.0) continue;
      const double* in = right.row(k);
      for (int j = 0; j < right.cols; ++j) out[j] += factor * in[j];
    }
  }
  return product;
}

std::vector<double> multiply(const Matrix& m, const std::vector<double>& x) {
  if (static_cast<int>(x.size()) != m.cols) throw LinalgError("multiply: vector length differs from column count");
  std::vector<double> y(static_cast<std::size_t>(m.rows), 0.0);
  for (int i = 0; i < m.rows; ++i) {
    const double* r = m.row(i);
    double sum = 0.0;
    for (int j = 0; j < m.cols; ++j) sum += r[j] * x[static_cast<std::size_t>(j)];
    y[static_cast<std::size_t>(i)] = sum;
  }
  return y;
}

namespace {

void require_square(const Matrix& m, const char* who) {
  if (m.rows != m.cols) {
    throw LinalgError(std::string(who) + ": matrix is " + std::to_string(m.rows) + " x " + std::to_string(m.cols) +
                      ", not square");
  }
}

void require_finite(const Matrix& m, const char* who) {
  for (double value : m.a) {
    if (!std::isfinite(value)) throw LinalgError(std::string(who) + ": matrix has a non-finite entry");
  }
}

}  // namespace

// ---------------------------------------------------------------------------------
// LU with partial pivoting
// ---------------------------------------------------------------------------------

LuFactorization lu_factor(Matrix matrix, double pivot_tolerance) {
  require_square(matrix, "lu_factor");
  const int n = matrix.rows;
  LuFactorization f;
  f.pivot_rows.assign(static_cast<std::size_t>(n), 0);
  for (int k = 0; k < n; ++k) {
    // Partial pivoting: the largest entry of column k on or below the diagonal.
    int pivot = k;
    double largest = std::fabs(matrix(k, k));
    for (int i = k + 1; i < n; ++i) {
      const double magnitude = std::fabs(matrix(i, k));
      if (magnitude > largest) {
        largest = magnitude;
        pivot = i;
      }
    }
    f.pivot_rows[static_cast<std::size_t>(k)] = pivot;
    if (pivot != k) {
      std::swap_ranges(matrix.row(k), matrix.row(k) + n, matrix.row(pivot));
      f.permutation_sign = -f.permutation_sign;
    }
    if (largest <= pivot_tolerance) {
      // Column k has nothing usable left: U is singular. Go on with the next column
      // so that the rest of U still comes out (its determinant is zero either way).
      f.singular = true;
      continue;
    }
    const double* pivot_row = matrix.row(k);
    const double inverse_pivot = 1.0 / pivot_row[k];
    for (int i = k + 1; i < n; ++i) {
      double* r = matrix.row(i);
      const double multiplier = r[k] * inverse_pivot;
      r[k] = multiplier;
      if (multiplier == 0.0) continue;
      for (int j = k + 1; j < n; ++j) r[j] -= multiplier * pivot_row[j];
    }
  }
  f.lu = std::move(matrix);
  return f;
}

std::vector<double> lu_solve(const LuFactorization& factorization, std::vector<double> rhs) {
  const Matrix& lu = factorization.lu;
  const int n = lu.rows;
  if (static_cast<int>(rhs.size()) != n) throw LinalgError("lu_solve: right-hand side length differs from matrix size");
  if (factorization.singular) throw LinalgError("lu_solve: matrix is singular");
  // Apply P in the order the rows were exchanged, then L y = P b, then U x = y.
  for (int k = 0; k < n; ++k) {
    const int p = factorization.pivot_rows[static_cast<std::size_t>(k)];
    if (p != k) std::swap(rhs[static_cast<std::size_t>(k)], rhs[static_cast<std::size_t>(p)]);
  }
  for (int i = 0; i < n; ++i) {
    const double* r = lu.row(i);
    double sum = rhs[static_cast<std::size_t>(i)];
    for (int j = 0; j < i; ++j) sum -= r[j] * rhs[static_cast<std::size_t>(j)];
    rhs[static_cast<std::size_t>(i)] = sum;
  }
  for (int i = n - 1; i >= 0; --i) {
    const double* r = lu.row(i);
    double sum = rhs[static_cast<std::size_t>(i)];
    for (int j = i + 1; j < n; ++j) sum -= r[j] * rhs[static_cast<std::size_t>(j)];
    rhs[static_cast<std::size_t>(i)] = sum / r[i];
  }
  return rhs;
}

LogAbsDeterminant log_abs_determinant(const LuFactorization& factorization) {
  LogAbsDeterminant result;
  if (factorization.singular) {
    result.log_abs = -std::numeric_limits<double>::infinity();
    result.sign = 0;
    return result;
  }
  // det A = det P^T * prod u_kk (L has a unit diagonal).
  int sign = factorization.permutation_sign;
  double log_abs = 0.0;
  for (int k = 0; k < factorization.lu.rows; ++k) {
    const double pivot = factorization.lu(k, k);
    if (pivot < 0.0) sign = -sign;
    log_abs += std::log(std::fabs(pivot));
  }
  result.log_abs = log_abs;
  result.sign = sign;
  return result;
}

// ---------------------------------------------------------------------------------
// Eigenvalues: balance, reduce to Hessenberg form, Francis double-shift QR
// ---------------------------------------------------------------------------------

namespace {

// Parlett & Reinsch balancing (Numer. Math. 13, 1969): a diagonal similarity
// D^-1 A D with powers of two (so it is exact) that brings each row's and column's
// off-diagonal 1-norms close together; this reduces ||A|| and with it the rounding
// errors of the QR iteration.
void balance(Matrix& m) {
  const int n = m.rows;
  const int max_passes = 200;  // never reached in practice; only a guard against cycling
  bool changed = true;
  for (int pass = 0; changed && pass < max_passes; ++pass) {
    changed = false;
    for (int i = 0; i < n; ++i) {
      double column_norm = 0.0;
      double row_norm = 0.0;
      const double* r = m.row(i);
      for (int j = 0; j < n; ++j) {
        if (j == i) continue;
        column_norm += std::fabs(m(j, i));
        row_norm += std::fabs(r[j]);
      }
      if (column_norm == 0.0 || row_norm == 0.0) continue;
      // f = 2^k with f^2 close to row_norm / column_norm makes the two norms meet.
      const int k = (std::ilogb(row_norm) - std::ilogb(column_norm)) / 2;
      if (k == 0) continue;
      const double f = std::ldexp(1.0, k);
      if (column_norm * f + row_norm / f >= 0.95 * (column_norm + row_norm)) continue;
      const double inverse_f = std::ldexp(1.0, -k);
      double* row_i = m.row(i);
      for (int j = 0; j < n; ++j) row_i[j] *= inverse_f;
      for (int j = 0; j < n; ++j) m(j, i) *= f;
      changed = true;
    }
  }
}

// Householder reduction to upper Hessenberg form H = Q^T A Q (Golub & Van Loan
// Alg. 7.4.2). Each reflector I - tau v v^T is applied from the left as a rank-one
// update accumulated row by row, and from the right as one dot product per row.
void reduce_to_hessenberg(Matrix& h) {
  const int n = h.rows;
  std::vector<double> v(static_cast<std::size_t>(n));
  std::vector<double> w(static_cast<std::size_t>(n));
  for (int k = 0; k + 2 < n; ++k) {
    const int length = n - k - 1;  // entries of column k below the diagonal
    double scale = 0.0;
    for (int i = 0; i < length; ++i) scale = std::max(scale, std::fabs(h(k + 1 + i, k)));
    if (scale == 0.0) continue;  // column already reduced
    // Work with x / scale so that squaring cannot overflow or underflow.
    double sum_of_squares = 0.0;
    for (int i = 0; i < length; ++i) {
      v[static_cast<std::size_t>(i)] = h(k + 1 + i, k) / scale;
      sum_of_squares += v[static_cast<std::size_t>(i)] * v[static_cast<std::size_t>(i)];
    }
    const double norm = std::sqrt(sum_of_squares);
    const double x0 = v[0];
    const double beta = -std::copysign(norm, x0);  // sign chosen so v0 = x0 - beta does not cancel
    v[0] = x0 - beta;
    const double tau = 1.0 / (norm * (norm + std::fabs(x0)));  // 2 / (v^T v)

    h(k + 1, k) = beta * scale;
    for (int i = 1; i < length; ++i) h(k + 1 + i, k) = 0.0;

    // Left: rows k+1..n-1, columns k+1..n-1.  w^T = v^T H_sub, then H_sub -= tau v w^T.
    const int first_column = k + 1;
    std::fill(w.begin() + first_column, w.end(), 0.0);
    for (int i = 0; i < length; ++i) {
      const double vi = v[static_cast<std::size_t>(i)];
      const double* r = h.row(k + 1 + i);
      for (int j = first_column; j < n; ++j) w[static_cast<std::size_t>(j)] += vi * r[j];
    }
    for (int i = 0; i < length; ++i) {
      const double c = tau * v[static_cast<std::size_t>(i)];
      double* r = h.row(k + 1 + i);
      for (int j = first_column; j < n; ++j) r[j] -= c * w[static_cast<std::size_t>(j)];
    }
    // Right: every row, columns k+1..n-1.  row -= tau (row . v) v^T.
    for (int row = 0; row < n; ++row) {
      double* r = h.row(row) + first_column;
      double dot = 0.0;
      for (int i = 0; i < length; ++i) dot += r[i] * v[static_cast<std::size_t>(i)];
      const double c = tau * dot;
      for (int i = 0; i < length; ++i) r[i] -= c * v[static_cast<std::size_t>(i)];
    }
  }
}

// Eigenvalues of [[a, b], [c, d]]; a complex pair comes out with positive imaginary part first.
void two_by_two_eigenvalues(double a, double b, double c, double d, std::complex<double>& first,
                            std::complex<double>& second) {
  const double scale = std::max({std::fabs(a), std::fabs(b), std::fabs(c), std::fabs(d)});
  if (scale == 0.0) {
    first = second = 0.0;
    return;
  }
  a /= scale;
  b /= scale;
  c /= scale;
  d /= scale;
  // lambda = d + p +- sqrt(p^2 + bc) with p = (a - d) / 2.
  const double p = 0.5 * (a - d);
  const double discriminant = p * p + b * c;
  if (discriminant >= 0.0) {
    // Take the root where p and the square root add (no cancellation); get the other
    // one from the product of the roots' offsets from d, which is -bc.
    const double z = p + std::copysign(std::sqrt(discriminant), p);
    first = (d + z) * scale;
    second = (z == 0.0 ? d : d - (b * c) / z) * scale;
  } else {
    const double mean = 0.5 * (a + d);
    const double imaginary = std::sqrt(-discriminant);
    first = std::complex<double>(mean * scale, imaginary * scale);
    second = std::complex<double>(mean * scale, -imaginary * scale);
  }
}

// The reflector I - tau u u^T, u = (1, u1[, u2]), that maps (x, y[, z]) to (beta, 0[, 0])
// (LAPACK's dlarfg convention; Golub & Van Loan Alg. 5.1.1).
struct SmallReflector {
  double tau = 0.0;  // 0 means the identity: nothing to annihilate
  double u1 = 0.0;
  double u2 = 0.0;
  double beta = 0.0;
};

SmallReflector make_reflector(double x, double y, double z) {
  SmallReflector r;
  r.beta = x;
  const double largest = std::max({std::fabs(x), std::fabs(y), std::fabs(z)});
  if (y == 0.0 && z == 0.0) return r;
  const double xs = x / largest, ys = y / largest, zs = z / largest;
  const double norm = largest * std::sqrt(xs * xs + ys * ys + zs * zs);
  r.beta = -std::copysign(norm, x);
  r.tau = (r.beta - x) / r.beta;
  const double denominator = x - r.beta;
  r.u1 = y / denominator;
  r.u2 = z / denominator;
  return r;
}

// One implicit double-shift QR sweep on the unreduced Hessenberg block H[lo..hi]
// (Golub & Van Loan Alg. 7.5.1): introduce the bulge from the first column of
// (H - s1 I)(H - s2 I) and chase it down with 3 x 3 reflectors. Only the block is
// updated, because only eigenvalues are wanted.
void francis_double_shift_sweep(Matrix& h, int lo, int hi, std::complex<double> shift1, std::complex<double> shift2) {
  // First column of (H - s1 I)(H - s2 I) restricted to rows lo..lo+2. Every entry is a
  // degree-2 form in (H, s), so the inputs are scaled first to keep squares in range.
  const double h00 = h(lo, lo), h01 = h(lo, lo + 1), h10 = h(lo + 1, lo);
  const double h11 = h(lo + 1, lo + 1), h21 = h(lo + 2, lo + 1);
  double scale = std::max({std::fabs(h00), std::fabs(h01), std::fabs(h10), std::fabs(h11), std::fabs(h21),
                           std::abs(shift1), std::abs(shift2)});
  if (scale == 0.0) scale = 1.0;
  const double a00 = h00 / scale, a01 = h01 / scale, a10 = h10 / scale, a11 = h11 / scale, a21 = h21 / scale;
  const std::complex<double> s1 = shift1 / scale, s2 = shift2 / scale;
  double x;
  if (shift1.imag() != 0.0) {
    // Conjugate shifts: (a00 - s)(a00 - conj s) = (a00 - Re s)^2 + (Im s)^2, no cancellation.
    const double offset = a00 - s1.real();
    x = offset * offset + s1.imag() * s1.imag() + a01 * a10;
  } else {
    x = (a00 - s1.real()) * (a00 - s2.real()) + a01 * a10;
  }
  double y = a10 * (a00 + a11 - s1.real() - s2.real());
  double z = a10 * a21;

  for (int k = lo; k <= hi - 2; ++k) {
    if (k > lo) {
      x = h(k, k - 1);
      y = h(k + 1, k - 1);
      z = h(k + 2, k - 1);
    }
    const SmallReflector r = make_reflector(x, y, z);
    if (r.tau == 0.0) continue;
    if (k > lo) {
      h(k, k - 1) = r.beta;
      h(k + 1, k - 1) = 0.0;
      h(k + 2, k - 1) = 0.0;
    }
    // From the left: rows k..k+2, columns k..hi (three rows streamed together).
    double* r0 = h.row(k);
    double* r1 = h.row(k + 1);
    double* r2 = h.row(k + 2);
    for (int j = k; j <= hi; ++j) {
      const double s = r.tau * (r0[j] + r.u1 * r1[j] + r.u2 * r2[j]);
      r0[j] -= s;
      r1[j] -= s * r.u1;
      r2[j] -= s * r.u2;
    }
    // From the right: columns k..k+2, rows lo..min(k+3, hi).
    const int last_row = std::min(k + 3, hi);
    for (int i = lo; i <= last_row; ++i) {
      double* ri = h.row(i) + k;
      const double s = r.tau * (ri[0] + r.u1 * ri[1] + r.u2 * ri[2]);
      ri[0] -= s;
      ri[1] -= s * r.u1;
      ri[2] -= s * r.u2;
    }
  }
  // The bulge's last step is a 2 x 2 reflector on rows and columns hi-1, hi.
  const int k = hi - 1;
  const SmallReflector r = make_reflector(h(k, k - 1), h(k + 1, k - 1), 0.0);
  if (r.tau == 0.0) return;
  h(k, k - 1) = r.beta;
  h(k + 1, k - 1) = 0.0;
  double* r0 = h.row(k);
  double* r1 = h.row(k + 1);
  for (int j = k; j <= hi; ++j) {
    const double s = r.tau * (r0[j] + r.u1 * r1[j]);
    r0[j] -= s;
    r1[j] -= s * r.u1;
  }
  for (int i = lo; i <= hi; ++i) {
    double* ri = h.row(i) + k;
    const double s = r.tau * (ri[0] + r.u1 * ri[1]);
    ri[0] -= s;
    ri[1] -= s * r.u1;
  }
}

// Francis QR iteration with deflation on an upper Hessenberg matrix (Golub & Van Loan
// Alg. 7.5.2), eigenvalues only. Works on the trailing unreduced block H[lo..hi]: a
// negligible subdiagonal entry splits the matrix, a 1 x 1 or 2 x 2 block at the bottom
// yields its eigenvalues and is dropped.
std::vector<std::complex<double>> hessenberg_eigenvalues(Matrix& h, long long max_total_sweeps) {
  const int n = h.rows;
  std::vector<std::complex<double>> values(static_cast<std::size_t>(n));
  const double eps = std::numeric_limits<double>::epsilon();
  const double smallest_normal = std::numeric_limits<double>::min();
  double largest_entry = 0.0;  // stands in for |h_kk| + |h_k-1,k-1| when both are zero
  for (double value : h.a) largest_entry = std::max(largest_entry, std::fabs(value));

  long long sweeps = 0;
  int sweeps_since_deflation = 0;
  int hi = n - 1;
  while (hi >= 0) {
    // Find lo: the top of the bottom unreduced block, zeroing the negligible entry above it.
    int lo = hi;
    for (; lo > 0; --lo) {
      const double subdiagonal = std::fabs(h(lo, lo - 1));
      double neighbourhood = std::fabs(h(lo - 1, lo - 1)) + std::fabs(h(lo, lo));
      if (neighbourhood == 0.0) neighbourhood = largest_entry;
      if (subdiagonal <= eps * neighbourhood || subdiagonal <= smallest_normal) {
        h(lo, lo - 1) = 0.0;
        break;
      }
    }
    if (lo == hi) {
      values[static_cast<std::size_t>(hi)] = h(hi, hi);
      hi -= 1;
      sweeps_since_deflation = 0;
      continue;
    }
    if (lo == hi - 1) {
      two_by_two_eigenvalues(h(hi - 1, hi - 1), h(hi - 1, hi), h(hi, hi - 1), h(hi, hi),
                             values[static_cast<std::size_t>(hi - 1)], values[static_cast<std::size_t>(hi)]);
      hi -= 2;
      sweeps_since_deflation = 0;
      continue;
    }
    if (sweeps >= max_total_sweeps) {
      throw LinalgError("eigenvalues: QR iteration did not converge within " + std::to_string(max_total_sweeps) +
                        " sweeps (" + std::to_string(hi + 1) + " of " + std::to_string(n) +
                        " eigenvalues still unresolved)");
    }
    ++sweeps;
    ++sweeps_since_deflation;

    std::complex<double> shift1, shift2;
    if (sweeps_since_deflation % 10 == 0) {
      // Stalled: Wilkinson's ad hoc exceptional shift (as in EISPACK hqr), a conjugate
      // pair built from the last two subdiagonal magnitudes, breaks cycles such as
      // those of permutation matrices.
      const double s = std::fabs(h(hi, hi - 1)) + std::fabs(h(hi - 1, hi - 2));
      const double re = h(hi, hi) + 0.75 * s;
      const double im = std::sqrt(1.0 - 0.75 * 0.75) * s;
      shift1 = std::complex<double>(re, im);
      shift2 = std::complex<double>(re, -im);
    } else {
      // Francis shifts: the eigenvalues of the trailing 2 x 2 block.
      two_by_two_eigenvalues(h(hi - 1, hi - 1), h(hi - 1, hi), h(hi, hi - 1), h(hi, hi), shift1, shift2);
    }
    francis_double_shift_sweep(h, lo, hi, shift1, shift2);
  }
  for (const std::complex<double>& value : values) {
    if (!std::isfinite(value.real()) || !std::isfinite(value.imag())) {
      throw LinalgError("eigenvalues: QR iteration produced a non-finite eigenvalue (overflow)");
    }
  }
  return values;
}

}  // namespace

std::vector<std::complex<double>> eigenvalues(Matrix matrix, const EigenvalueOptions& options) {
  require_square(matrix, "eigenvalues");
  require_finite(matrix, "eigenvalues");
  const int n = matrix.rows;
  if (n == 0) return {};
  if (options.balance) balance(matrix);
  reduce_to_hessenberg(matrix);
  const long long cap = options.max_total_sweeps > 0 ? options.max_total_sweeps : 30LL * std::max(10, n);
  return hessenberg_eigenvalues(matrix, cap);
}

double real_eigenvalue_residual(const Matrix& a, double lambda) {
  require_square(a, "real_eigenvalue_residual");
  const int n = a.rows;
  if (n == 0) return 0.0;
  double frobenius = 0.0;
  for (double value : a.a) frobenius += value * value;
  frobenius = std::sqrt(frobenius);
  // Inverse iteration with a shift just off lambda, so that A - shift I is invertible
  // while the wanted eigenvector still dominates after a few solves.
  double offset = 1e-10 * (frobenius + std::fabs(lambda));
  if (offset == 0.0) offset = 1e-10;
  LuFactorization f;
  for (int attempt = 0; attempt < 4; ++attempt, offset *= 10.0) {
    Matrix shifted = a;
    for (int i = 0; i < n; ++i) shifted(i, i) -= lambda + offset;
    f = lu_factor(std::move(shifted));
    if (!f.singular) break;
  }
  if (f.singular) throw LinalgError("real_eigenvalue_residual: shifted matrix stays singular");
  std::vector<double> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = 1.0 + static_cast<double>(i) / n;
  for (int step = 0; step < 3; ++step) {
    v = lu_solve(f, v);
    double largest = 0.0;
    for (double value : v) largest = std::max(largest, std::fabs(value));
    for (double& value : v) value /= largest;
  }
  const std::vector<double> av = multiply(a, v);
  double residual = 0.0, norm_v = 0.0;
  for (int i = 0; i < n; ++i) {
    const double difference = av[static_cast<std::size_t>(i)] - lambda * v[static_cast<std::size_t>(i)];
    residual += difference * difference;
    norm_v += v[static_cast<std::size_t>(i)] * v[static_cast<std::size_t>(i)];
  }
  const double scale = frobenius > 0.0 ? frobenius : 1.0;
  return std::sqrt(residual) / (scale * std::sqrt(norm_v));
}

}  // namespace resdyn
