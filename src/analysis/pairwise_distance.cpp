// Distance rows by blocks of a float GEMM with an error bound; see pairwise_distance.h.
#include "analysis/pairwise_distance.h"

#include <algorithm>
#include <cmath>

#include "analysis/parallel_chunks.h"
#include "resdyn.h"

namespace resdyn {

namespace {

// Up to this dimension the distances are summed directly in double.
constexpr int kDirectMaxDim = 16;
// Rows per GEMM block: the block of float dot products stays near 32 MB.
constexpr double kBlockFloats = 8e6;

}  // namespace

DistanceScreen::DistanceScreen(const PointSet& points, int threads)
    : points_(points), threads_(std::max(1, threads)), direct_(points.dim <= kDirectMaxDim) {
  if (direct_) return;
  const int n = points.count, d = points.dim;
  std::vector<double> mean(size_t(d), 0.0);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < d; ++k) mean[size_t(k)] += points.point(i)[k];
  for (double& m : mean) m /= std::max(1, n);
  centred_.resize(size_t(n) * d);
  norms_.resize(size_t(n));
  for (int i = 0; i < n; ++i) {
    double norm = 0;
    for (int k = 0; k < d; ++k) {
      const float c = float(double(points.point(i)[k]) - mean[size_t(k)]);
      centred_[size_t(i) * d + k] = c;
      norm += double(c) * c;
    }
    norms_[size_t(i)] = norm;
    max_norm_ = std::max(max_norm_, norm);
  }
  // Error of |a~|^2 + |b~|^2 - 2 fl(a~.b~) against |a - b|^2, with u = 2^-24 (float):
  // rounding the centred points to float moves the squared distance by at most
  // about 4u (|a|^2 + |b|^2); the float dot product of d terms is off by at most
  // gamma_d |a||b| <= gamma_d (|a|^2 + |b|^2) / 2, doubled by the factor 2. The sum,
  // (d + 4) u (|a|^2 + |b|^2), is padded by 10% and a few units for the double steps.
  const double u = std::ldexp(1.0, -24);
  error_per_norm_ = 1.1 * (d + 8) * u / (1.0 - (d + 8) * u) + 1e-12;
}

double DistanceScreen::exact(int i, int l) const {
  const float* a = points_.point(i);
  const float* b = points_.point(l);
  double sum = 0;
  for (int k = 0; k < points_.dim; ++k) {
    const double diff = double(a[k]) - double(b[k]);
    sum += diff * diff;
  }
  return sum;
}

void DistanceScreen::for_each_row(FunctionRef<void(int, const double*, double)> visit) const {
  const int n = points_.count, d = points_.dim;
  if (n <= 0) return;
  if (direct_) {
    parallel_chunks(threads_, n, 16, [&](int begin, int end) {
      std::vector<double> row(static_cast<size_t>(n));
      for (int i = begin; i < end; ++i) {
        for (int l = 0; l < n; ++l) row[size_t(l)] = exact(i, l);
        visit(i, row.data(), 0.0);
      }
    });
    return;
  }
  const int block = int(std::clamp(kBlockFloats / n, 64.0, 2048.0));
  std::vector<float> dots;
  for (int first = 0; first < n; first += block) {
    const int rows = std::min(block, n - first);
    dots.resize(size_t(rows) * n);
    gemm(Op::N, Op::T, rows, n, d, 1.0f, centred_.data() + size_t(first) * d, d, centred_.data(), d, 0.0f, dots.data(),
         n, threads_);
    parallel_chunks(threads_, rows, 16, [&](int begin, int end) {
      std::vector<double> row(static_cast<size_t>(n));
      for (int r = begin; r < end; ++r) {
        const int i = first + r;
        const float* dot = dots.data() + size_t(r) * n;
        const double ni = norms_[size_t(i)];
        for (int l = 0; l < n; ++l) row[size_t(l)] = std::max(0.0, ni + norms_[size_t(l)] - 2.0 * double(dot[l]));
        visit(i, row.data(), error_per_norm_ * (ni + max_norm_));
      }
    });
  }
}

}  // namespace resdyn
