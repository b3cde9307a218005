// Class-pair means of trajectory distances and cosine similarities; see class_pairs.h.
#include "analysis/class_pairs.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "resdyn.h"

namespace resdyn {

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Counts rows whose diagonal compares `better_or_equal` with every entry of the row.
template <class Compare>
int rows_where_diagonal(const ClassMatrix& m, Compare better_or_equal) {
  int rows = 0;
  for (int r = 0; r < m.classes; ++r) {
    bool holds = true;
    for (int c = 0; c < m.classes && holds; ++c) holds = better_or_equal(m.at(r, r), m.at(r, c));
    rows += holds;
  }
  return rows;
}

}  // namespace

int rows_with_diagonal_min(const ClassMatrix& m) {
  return rows_where_diagonal(m, [](double d, double v) { return d <= v; });
}

int rows_with_diagonal_max(const ClassMatrix& m) {
  return rows_where_diagonal(m, [](double d, double v) { return d >= v; });
}

double diagonal_contrast(const ClassMatrix& m) {
  double diagonal = 0, off = 0;
  for (int r = 0; r < m.classes; ++r)
    for (int c = 0; c < m.classes; ++c) (r == c ? diagonal : off) += m.at(r, c);
  const double n = m.classes;
  return diagonal / n - off / (n * n - n);
}

TrajectoryDistance::TrajectoryDistance(const ClassGroups& groups, int width) : groups_(groups), width_(width) {
  const int n = groups_.total();
  size_t size = 0;
  int widest = 0;
  for (int c = 0; c < groups_.classes(); ++c) {
    block_start_.push_back(size);
    size += size_t(groups_.size(c)) * size_t(n - groups_.begin(c));
    widest = std::max(widest, groups_.size(c));
  }
  squared_.assign(size, 0.0);
  layer_mean_.resize(size_t(width));
  centred_.resize(size_t(n) * width);
  gram_.resize(size_t(widest) * n);
  norms_.resize(size_t(n));
}

void TrajectoryDistance::add_layer(const float* y, int threads) {
  const int n = groups_.total(), w = width_;
  if (n == 0) return;
  std::fill(layer_mean_.begin(), layer_mean_.end(), 0.0);
  for (int r = 0; r < n; ++r)
    for (int i = 0; i < w; ++i) layer_mean_[size_t(i)] += y[size_t(r) * w + i];
  for (int i = 0; i < w; ++i) layer_mean_[size_t(i)] /= n;
  for (int r = 0; r < n; ++r)
    for (int i = 0; i < w; ++i) centred_[size_t(r) * w + i] = y[size_t(r) * w + i] - float(layer_mean_[size_t(i)]);

  // Classes from last to first, so that the norms G_bb of every later class are known when
  // class c's rows meet them; each norm is the Gram diagonal from the same gemm arithmetic
  // as the cross products, which is what makes identical rows come out exactly 0.
  for (int c = groups_.classes() - 1; c >= 0; --c) {
    const int first = groups_.begin(c), rows = groups_.size(c), cols = n - first;
    if (rows == 0) continue;
    const float* block = centred_.data() + size_t(first) * w;
    gemm(Op::N, Op::T, rows, cols, w, 1.0f, block, w, block, w, 0.0f, gram_.data(), cols, threads);
    for (int a = 0; a < rows; ++a) norms_[size_t(first + a)] = gram_[size_t(a) * cols + a];
    double* sums = squared_.data() + block_start_[size_t(c)];
    for (int a = 0; a < rows; ++a) {
      const double norm_a = norms_[size_t(first + a)];
      const float* g = gram_.data() + size_t(a) * cols;
      double* s = sums + size_t(a) * cols;
      for (int j = 0; j < cols; ++j) s[j] += norm_a + double(norms_[size_t(first + j)]) - 2.0 * double(g[j]);
    }
  }
  ++layers_;
}

int TrajectoryDistance::class_of(int row) const {
  return int(std::upper_bound(groups_.offsets.begin() + 1, groups_.offsets.end(), row) - groups_.offsets.begin()) - 1;
}

size_t TrajectoryDistance::index(int a, int b) const {
  const int c = class_of(a), first = groups_.begin(c);
  return block_start_[size_t(c)] + size_t(a - first) * size_t(groups_.total() - first) + size_t(b - first);
}

double TrajectoryDistance::distance(int a, int b) const {
  if (class_of(a) > class_of(b)) std::swap(a, b);
  return std::sqrt(std::max(0.0, squared_[index(a, b)]));
}

ClassMatrix TrajectoryDistance::class_means() const {
  const int C = groups_.classes();
  ClassMatrix m(C);
  for (int c1 = 0; c1 < C; ++c1)
    for (int c2 = c1; c2 < C; ++c2) {
      double sum = 0;
      long pairs = 0;
      for (int a = groups_.begin(c1); a < groups_.end(c1); ++a) {
        const double* s = squared_.data() + index(a, groups_.begin(c2));
        for (int j = 0; j < groups_.size(c2); ++j) {
          if (a == groups_.begin(c2) + j) continue;
          sum += std::sqrt(std::max(0.0, s[j]));
          ++pairs;
        }
      }
      m.at(c1, c2) = m.at(c2, c1) = pairs ? sum / pairs : kNaN;
    }
  return m;
}

ClassMatrix mean_cosine_similarity(const float* s, int width, const ClassGroups& groups, int threads) {
  const int n = groups.total(), C = groups.classes();
  std::vector<float> unit(size_t(n) * width);
  int widest = 0;
  for (int c = 0; c < C; ++c) widest = std::max(widest, groups.size(c));
  for (int r = 0; r < n; ++r) {
    const float* row = s + size_t(r) * width;
    double norm = 0;
    for (int i = 0; i < width; ++i) norm += double(row[i]) * row[i];
    norm = std::sqrt(norm);
    for (int i = 0; i < width; ++i) unit[size_t(r) * width + i] = norm > 0 ? float(row[i] / norm) : 0.0f;
  }
  std::vector<float> gram(size_t(widest) * n);
  ClassMatrix m(C);
  for (int c1 = 0; c1 < C; ++c1) {
    const int first = groups.begin(c1), rows = groups.size(c1);
    if (rows > 0)
      gemm(Op::N, Op::T, rows, n, width, 1.0f, unit.data() + size_t(first) * width, width, unit.data(), width, 0.0f,
           gram.data(), n, threads);
    for (int c2 = 0; c2 < C; ++c2) {
      double sum = 0;
      long pairs = 0;
      for (int a = 0; a < rows; ++a)
        for (int b = groups.begin(c2); b < groups.end(c2); ++b) {
          if (first + a == b) continue;
          sum += gram[size_t(a) * n + b];
          ++pairs;
        }
      m.at(c1, c2) = pairs ? sum / pairs : kNaN;
    }
  }
  return m;
}

}  // namespace resdyn
