// Symmetric eigenproblems: dense tridiagonal QR and block Krylov; see symmetric_eigen.h.
#include "analysis/symmetric_eigen.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "analysis/parallel_chunks.h"
#include "resdyn.h"

namespace resdyn {

namespace {

// Row-major n x n storage, element (r, c).
struct SquareView {
  std::vector<double>& a;
  int n;
  double& operator()(int r, int c) const { return a[size_t(r) * n + c]; }
};

// Reduces the symmetric matrix `at` to tridiagonal form in place and accumulates the
// reflections in z (z <- z H for each H).
void tridiagonalize(const SquareView& at, const SquareView& zt) {
  const int n = at.n;
  // GVL Alg. 8.3.1: step k reflects rows/columns k+1.. so that column k is zero below
  // its subdiagonal.
  std::vector<double> v(static_cast<size_t>(n)), p(static_cast<size_t>(n)), w(static_cast<size_t>(n));
  for (int k = 0; k + 2 < n; ++k) {
    double norm2 = 0;
    for (int i = k + 1; i < n; ++i) norm2 += at(i, k) * at(i, k);
    const double x0 = at(k + 1, k);
    if (norm2 - x0 * x0 <= 0) continue;  // already zero below the subdiagonal
    const double alpha = (x0 >= 0 ? -1.0 : 1.0) * std::sqrt(norm2);
    // H = I - beta v v^T maps the column to alpha e_1; v_1 = x_1 - alpha has no cancellation.
    double vv = 0;
    for (int i = k + 1; i < n; ++i) {
      v[size_t(i)] = at(i, k) - (i == k + 1 ? alpha : 0.0);
      vv += v[size_t(i)] * v[size_t(i)];
    }
    const double beta = 2.0 / vv;
    // A22 <- H A22 H = A22 - v w^T - w v^T with p = beta A22 v, w = p - (beta p.v / 2) v.
    double pv = 0;
    for (int i = k + 1; i < n; ++i) {
      double sum = 0;
      for (int j = k + 1; j < n; ++j) sum += at(i, j) * v[size_t(j)];
      p[size_t(i)] = beta * sum;
      pv += p[size_t(i)] * v[size_t(i)];
    }
    for (int i = k + 1; i < n; ++i) w[size_t(i)] = p[size_t(i)] - 0.5 * beta * pv * v[size_t(i)];
    for (int i = k + 1; i < n; ++i)
      for (int j = k + 1; j < n; ++j) at(i, j) -= v[size_t(i)] * w[size_t(j)] + w[size_t(i)] * v[size_t(j)];
    at(k + 1, k) = at(k, k + 1) = alpha;
    for (int i = k + 2; i < n; ++i) at(i, k) = at(k, i) = 0;
    // z <- z H.
    for (int r = 0; r < n; ++r) {
      double sum = 0;
      for (int j = k + 1; j < n; ++j) sum += zt(r, j) * v[size_t(j)];
      sum *= beta;
      for (int j = k + 1; j < n; ++j) zt(r, j) -= sum * v[size_t(j)];
    }
  }
}

// Diagonalises the symmetric tridiagonal matrix (diagonal d, subdiagonal e) in place:
// d becomes the eigenvalues, the rotations are accumulated in z (z <- z G for each G).
void tridiagonal_qr(std::vector<double>& d, std::vector<double>& e, const SquareView& zt) {
  const int n = zt.n;
  // Wilkinson shift, GVL Alg. 8.3.2/8.3.3: the rotation on rows/columns k, k+1 chases the
  // bulge down; converged off-diagonal entries are set to zero and the problem splits.
  const double eps = std::numeric_limits<double>::epsilon();
  long sweeps_left = 30L * std::max(1, n);
  for (int h = n - 1; h > 0;) {
    if (std::fabs(e[size_t(h - 1)]) <= eps * (std::fabs(d[size_t(h - 1)]) + std::fabs(d[size_t(h)]))) {
      e[size_t(h - 1)] = 0;
      --h;  // d[h] is an eigenvalue
      continue;
    }
    int l = h - 1;  // the unreduced block is [l, h]
    while (l > 0 && std::fabs(e[size_t(l - 1)]) > eps * (std::fabs(d[size_t(l - 1)]) + std::fabs(d[size_t(l)]))) --l;
    if (l > 0) e[size_t(l - 1)] = 0;
    if (--sweeps_left < 0) throw Error("symmetric_eigen: QR iteration did not converge");
    const double half_gap = 0.5 * (d[size_t(h - 1)] - d[size_t(h)]);
    const double e2 = e[size_t(h - 1)] * e[size_t(h - 1)];
    const double shift =
        d[size_t(h)] - e2 / (half_gap + (half_gap >= 0 ? 1.0 : -1.0) * std::hypot(half_gap, e[size_t(h - 1)]));
    double x = d[size_t(l)] - shift, bulge = e[size_t(l)];
    for (int k = l; k < h; ++k) {
      // The rotation with c = x / r, s = -bulge / r zeroes bulge against x: for k = l in
      // the first column of T - shift I, afterwards the entry at (k-1, k+1).
      const double r = std::hypot(x, bulge);
      const double c = r > 0 ? x / r : 1.0, s = r > 0 ? -bulge / r : 0.0;
      if (k > l) e[size_t(k - 1)] = r;
      const double a = d[size_t(k)], b = e[size_t(k)], cc = d[size_t(k + 1)];
      d[size_t(k)] = c * c * a - 2 * c * s * b + s * s * cc;
      d[size_t(k + 1)] = s * s * a + 2 * c * s * b + c * c * cc;
      e[size_t(k)] = c * s * (a - cc) + (c * c - s * s) * b;
      if (k + 1 < h) {
        const double t = e[size_t(k + 1)];
        bulge = -s * t;
        e[size_t(k + 1)] = c * t;
        x = e[size_t(k)];
      }
      for (int row = 0; row < n; ++row) {
        const double zk = zt(row, k), zk1 = zt(row, k + 1);
        zt(row, k) = c * zk - s * zk1;
        zt(row, k + 1) = s * zk + c * zk1;
      }
    }
  }
}

// The eigenpairs (values d, eigenvector j column j of z) in decreasing order of eigenvalue.
SymmetricEigen in_decreasing_order(const std::vector<double>& d, const SquareView& zt) {
  const int n = zt.n;
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return d[size_t(x)] > d[size_t(y)]; });
  SymmetricEigen result;
  result.n = n;
  result.values.resize(size_t(n));
  result.vectors.resize(size_t(n) * n);
  for (int j = 0; j < n; ++j) {
    const int src = order[size_t(j)];
    result.values[size_t(j)] = d[size_t(src)];
    for (int i = 0; i < n; ++i) result.vectors[size_t(j) * n + i] = zt(i, src);
  }
  return result;
}

}  // namespace

SymmetricEigen symmetric_eigen(std::vector<double> a, int n) {
  if (n < 0 || a.size() != size_t(n) * size_t(n))
    throw Error("symmetric_eigen: matrix is not " + std::to_string(n) + " x " + std::to_string(n));
  const SquareView at{a, n};
  for (int p = 0; p < n; ++p)
    for (int q = p + 1; q < n; ++q) at(p, q) = at(q, p) = 0.5 * (at(p, q) + at(q, p));
  // z accumulates the orthogonal transformations, stored by rows: z(r, c).
  std::vector<double> z(size_t(n) * n, 0.0);
  const SquareView zt{z, n};
  for (int i = 0; i < n; ++i) zt(i, i) = 1.0;
  // 1. Householder reduction to tridiagonal form, 2. implicit QR steps on it.
  tridiagonalize(at, zt);
  std::vector<double> d(static_cast<size_t>(n)), e(static_cast<size_t>(std::max(0, n - 1)));
  for (int i = 0; i < n; ++i) d[size_t(i)] = at(i, i);
  for (int i = 0; i + 1 < n; ++i) e[size_t(i)] = at(i + 1, i);
  tridiagonal_qr(d, e, zt);
  return in_decreasing_order(d, zt);
}

namespace {

double dot(const double* a, const double* b, int n) {
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// The orthonormal basis of the Krylov space, the products A q_j, and H = Q^T A Q.
class KrylovBasis {
 public:
  KrylovBasis(int dim, int capacity, const std::vector<std::vector<double>>& deflate, int threads)
      : dim_(dim),
        capacity_(capacity),
        threads_(threads),
        q_(size_t(capacity) * dim),
        aq_(size_t(capacity) * dim),
        h_(size_t(capacity) * capacity),
        coef_(size_t(capacity) + deflate.size()) {
    for (const auto& f : deflate) {
      if (int(f.size()) != dim) throw Error("top_eigenpairs: a deflation vector has the wrong length");
      std::vector<double> v = f;
      orthogonalize(v.data(), fixed_.data(), int(fixed_.size() / size_t(dim)));
      const double norm = std::sqrt(dot(v.data(), v.data(), dim));
      if (!(norm > 0)) throw Error("top_eigenpairs: deflation vectors are linearly dependent");
      for (double& x : v) x /= norm;
      fixed_.insert(fixed_.end(), v.begin(), v.end());
    }
  }

  int size() const { return size_; }
  int free_dimensions() const { return dim_ - int(fixed_.size() / size_t(dim_)); }
  double* q(int j) { return q_.data() + size_t(j) * dim_; }
  double* aq(int j) { return aq_.data() + size_t(j) * dim_; }
  double& h(int i, int j) { return h_[size_t(i) * capacity_ + j]; }

  // Orthonormalises v against the deflation vectors and the basis and appends it. A
  // vector (numerically) inside the span is replaced by a random one, so the basis
  // keeps growing past invariant subspaces. Returns false when no direction is left.
  bool append(std::vector<double> v, Rng& rng) {
    if (size_ >= capacity_ || size_ >= free_dimensions()) return false;
    for (int attempt = 0; attempt < 8; ++attempt) {
      const double before = std::sqrt(dot(v.data(), v.data(), dim_));
      orthogonalize(v.data(), fixed_.data(), int(fixed_.size() / size_t(dim_)));
      orthogonalize(v.data(), q_.data(), size_);
      const double after = std::sqrt(dot(v.data(), v.data(), dim_));
      if (before > 0 && after > 1e-10 * before) {
        double* dest = q(size_);
        for (int x = 0; x < dim_; ++x) dest[x] = v[size_t(x)] / after;
        ++size_;
        return true;
      }
      for (double& x : v) x = rng.normal();
    }
    return false;
  }

  // Fills H's rows and columns for basis vectors [first, size) once A q_j is known.
  void update_h(int first) {
    for (int j = first; j < size_; ++j) {
      parallel_chunks(threads_, size_, 8, [&](int begin, int end) {
        for (int i = begin; i < end; ++i) h(i, j) = dot(q(i), aq(j), dim_);
      });
    }
    for (int j = first; j < size_; ++j)
      for (int i = 0; i <= j; ++i) {
        const double value = i >= first ? 0.5 * (h(i, j) + h(j, i)) : h(i, j);
        h(i, j) = h(j, i) = value;
      }
  }

  // sum_i s[i] rows_i for the first `count` rows, into out (length dim).
  void combine(const double* rows, const double* s, int count, double* out) const {
    parallel_chunks(threads_, dim_, 1024, [&](int begin, int end) {
      for (int x = begin; x < end; ++x) {
        double sum = 0;
        for (int i = 0; i < count; ++i) sum += s[i] * rows[size_t(i) * dim_ + x];
        out[x] = sum;
      }
    });
  }

  // Replaces the basis by the given combinations of its vectors (columns of s, kept of
  // them): the thick restart. A Q s is known without new products.
  void restart(const std::vector<std::vector<double>>& s, int kept) {
    std::vector<double> new_q(size_t(kept) * dim_), new_aq(size_t(kept) * dim_);
    for (int j = 0; j < kept; ++j) {
      combine(q_.data(), s[size_t(j)].data(), size_, new_q.data() + size_t(j) * dim_);
      combine(aq_.data(), s[size_t(j)].data(), size_, new_aq.data() + size_t(j) * dim_);
    }
    std::copy(new_q.begin(), new_q.end(), q_.begin());
    std::copy(new_aq.begin(), new_aq.end(), aq_.begin());
    size_ = kept;
    update_h(0);
  }

  // H restricted to the basis, as a dense matrix for symmetric_eigen.
  std::vector<double> projected() {
    std::vector<double> m(size_t(size_) * size_);
    for (int i = 0; i < size_; ++i)
      for (int j = 0; j < size_; ++j) m[size_t(i) * size_ + j] = h(i, j);
    return m;
  }

 private:
  // v <- v - sum_j (r_j . v) r_j over `count` orthonormal rows, done twice (classical
  // Gram-Schmidt with reorthogonalisation). Coefficients are computed per row and the
  // update per coordinate, each summed in a fixed order.
  void orthogonalize(double* v, const double* rows, int count) {
    for (int pass = 0; pass < 2 && count > 0; ++pass) {
      parallel_chunks(threads_, count, 8, [&](int begin, int end) {
        for (int j = begin; j < end; ++j) coef_[size_t(j)] = dot(rows + size_t(j) * dim_, v, dim_);
      });
      parallel_chunks(threads_, dim_, 1024, [&](int begin, int end) {
        for (int x = begin; x < end; ++x) {
          double sum = 0;
          for (int j = 0; j < count; ++j) sum += coef_[size_t(j)] * rows[size_t(j) * dim_ + x];
          v[x] -= sum;
        }
      });
    }
  }

  int dim_, capacity_, threads_;
  int size_ = 0;
  std::vector<double> q_, aq_, h_, coef_;
  std::vector<double> fixed_;  // orthonormalised deflation vectors
};

// Flips v so that its entry of largest magnitude (the first such) is positive.
void canonical_sign(double* v, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (std::fabs(v[i]) > std::fabs(v[best])) best = i;
  if (v[best] < 0)
    for (int i = 0; i < n; ++i) v[i] = -v[i];
}

}  // namespace

TopEigen top_eigenpairs(int dim, int wanted, const BlockOperator& apply, const KrylovOptions& options) {
  const int deflated = int(options.deflate.size());
  if (dim < 1 || wanted < 1 || wanted > dim - deflated)
    throw Error("top_eigenpairs: cannot find " + std::to_string(wanted) + " eigenpairs in dimension " +
                std::to_string(dim) + " with " + std::to_string(deflated) + " deflated");
  const int block = std::max(options.block, wanted);
  const int capacity = std::min(std::max(options.max_basis, 3 * block), dim - deflated);
  KrylovBasis basis(dim, capacity, options.deflate, std::max(1, options.threads));
  Rng rng(options.seed);
  TopEigen result;

  std::vector<double> v(static_cast<size_t>(dim));
  for (int j = 0; j < block; ++j) {
    for (double& x : v) x = rng.normal();
    basis.append(v, rng);
  }
  int block_begin = 0, restarts = 0, since_check = 0;
  for (;;) {
    const int fresh = basis.size() - block_begin;
    if (fresh > 0) apply(basis.q(block_begin), basis.aq(block_begin), fresh);
    result.products += fresh;
    basis.update_h(block_begin);
    const int m = basis.size();
    const bool full = m + block > capacity;
    if (full || ++since_check >= 4) {
      since_check = 0;
      // Rayleigh-Ritz on the whole basis.
      const SymmetricEigen ritz = symmetric_eigen(basis.projected(), m);
      const int got = std::min(wanted, m);
      double scale = 0;
      for (double theta : ritz.values) scale = std::max(scale, std::fabs(theta));
      scale = std::max(scale, 1e-300);
      std::vector<double> u(size_t(got) * dim), au(static_cast<size_t>(dim));
      double residual = 0;
      for (int j = 0; j < got; ++j) {
        const double* s = ritz.vectors.data() + size_t(j) * m;
        basis.combine(basis.q(0), s, m, u.data() + size_t(j) * dim);
        basis.combine(basis.aq(0), s, m, au.data());
        double r2 = 0;
        for (int x = 0; x < dim; ++x) {
          const double r = au[size_t(x)] - ritz.values[size_t(j)] * u[size_t(j) * dim + x];
          r2 += r * r;
        }
        residual = std::max(residual, std::sqrt(r2) / scale);
      }
      const bool exhausted = m >= basis.free_dimensions();
      const bool converged = got == wanted && (residual <= options.tolerance || exhausted);
      if (converged || (full && restarts >= options.max_restarts)) {
        result.values.assign(ritz.values.begin(), ritz.values.begin() + got);
        result.vectors = u;
        for (int j = 0; j < got; ++j) canonical_sign(result.vectors.data() + size_t(j) * dim, dim);
        result.residual = residual;
        result.converged = converged;
        return result;
      }
      if (full) {
        ++restarts;
        const int kept = std::min(m - block, std::max(wanted + block, capacity / 3));
        std::vector<std::vector<double>> s(static_cast<size_t>(kept));
        for (int j = 0; j < kept; ++j)
          s[size_t(j)].assign(ritz.vectors.begin() + size_t(j) * m, ritz.vectors.begin() + size_t(j + 1) * m);
        basis.restart(s, kept);
        // Continue from A times the leading Ritz vectors: orthogonalised against the
        // basis, these are their residuals, the directions the Krylov space grows into.
        block_begin = kept;
        for (int j = 0; j < block; ++j) basis.append(std::vector<double>(basis.aq(j), basis.aq(j) + dim), rng);
        continue;
      }
    }
    // Extend the Krylov space: the next block is A times the newest block.
    const int newest = block_begin;
    block_begin = m;
    for (int j = newest; j < m; ++j) basis.append(std::vector<double>(basis.aq(j), basis.aq(j) + dim), rng);
    if (basis.size() == m) since_check = 4;  // nothing left to add: decide at the next check
  }
}

}  // namespace resdyn
