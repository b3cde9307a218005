// Jacobians of the residual dynamics and their spectra (paper eq. 3, §6); see jacobian_spectrum.h.
#include "analysis/jacobian_spectrum.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <string>

#include "analysis/residual_ode.h"

namespace resdyn {

Matrix layer_map_jacobian(const Matrix& weights, const std::vector<double>& y) {
  if (weights.rows != weights.cols || int(y.size()) != weights.rows)
    throw Error("layer map Jacobian: W is " + std::to_string(weights.rows) + " x " + std::to_string(weights.cols) +
                " but the point has " + std::to_string(y.size()) + " components");
  Matrix jacobian(weights.rows, weights.cols);
  for (int i = 0; i < weights.rows; ++i) {
    const double gain = y[size_t(i)] * (1.0 - y[size_t(i)]);  // sigma'(z) = y (1 - y)
    const double* w = weights.row(i);
    double* out = jacobian.row(i);
    for (int j = 0; j < weights.cols; ++j) out[j] = gain * w[j];
    out[i] += 1.0;
  }
  return jacobian;
}

void sort_spectrum(std::vector<std::complex<double>>& values) {
  std::sort(values.begin(), values.end(), [](const std::complex<double>& a, const std::complex<double>& b) {
    if (a.real() != b.real()) return a.real() > b.real();
    return a.imag() > b.imag();
  });
}

SpectrumSummary summarise_spectrum(const std::vector<std::complex<double>>& values, int top) {
  SpectrumSummary s;
  s.count = int(values.size());
  s.largest_real = values.empty() ? std::numeric_limits<double>::quiet_NaN() : -std::numeric_limits<double>::infinity();
  std::vector<double> reals;
  reals.reserve(values.size());
  for (const std::complex<double>& v : values) {
    reals.push_back(v.real());
    s.positive_real += v.real() > 0.0;
    s.largest_real = std::max(s.largest_real, v.real());
    s.spectral_radius = std::max(s.spectral_radius, std::abs(v));
    s.outside_unit_circle += std::abs(v) > 1.0;
  }
  std::sort(reals.begin(), reals.end(), [](double a, double b) { return a > b; });
  reals.resize(std::min(reals.size(), size_t(std::max(0, top))));
  s.top_real = reals;
  return s;
}

std::vector<std::complex<double>> deflated_ode_eigenvalues(const Matrix& weights, const std::vector<double>& y) {
  const Matrix jacobian = residual_ode_jacobian(weights, y);
  const int n = jacobian.rows;
  double norm = 0.0;
  std::vector<double> off_diagonal(size_t(n), 0.0);
  for (int i = 0; i < n; ++i) {
    double sum = 0.0;
    for (int j = 0; j < n; ++j) sum += std::fabs(jacobian(i, j));
    norm = std::max(norm, sum);
    off_diagonal[size_t(i)] = sum - std::fabs(jacobian(i, i));
  }
  const double rounding = std::numeric_limits<double>::epsilon() * norm;
  std::vector<std::complex<double>> values;
  std::vector<int> kept;
  for (int i = 0; i < n; ++i) {
    if (off_diagonal[size_t(i)] <= rounding) {
      values.emplace_back(jacobian(i, i), 0.0);
    } else {
      kept.push_back(i);
    }
  }
  Matrix block(int(kept.size()), int(kept.size()));
  for (size_t r = 0; r < kept.size(); ++r)
    for (size_t c = 0; c < kept.size(); ++c) block(int(r), int(c)) = jacobian(kept[r], kept[c]);
  if (!kept.empty())
    for (const std::complex<double>& v : eigenvalues(std::move(block))) values.push_back(v);
  sort_spectrum(values);
  return values;
}

std::vector<PointSpectra> jacobian_spectra(const Matrix& weights, const std::vector<std::vector<double>>& points,
                                           int threads) {
  for (const std::vector<double>& y : points)
    if (int(y.size()) != weights.rows || weights.rows != weights.cols)
      throw Error("Jacobian spectra: W is " + std::to_string(weights.rows) + " x " + std::to_string(weights.cols) +
                  " but a point has " + std::to_string(y.size()) + " components");
  std::vector<PointSpectra> spectra(points.size());
  // Task 2p is the ODE Jacobian at point p, task 2p + 1 the layer map's. An exception
  // must not leave a worker thread, so each task keeps its own and the first is rethrown.
  const int tasks = 2 * int(points.size());
  std::vector<std::exception_ptr> failures(static_cast<size_t>(tasks));
  ThreadPool::shared().run(threads, tasks, [&](int task, int) {
    try {
      const std::vector<double>& y = points[size_t(task / 2)];
      PointSpectra& out = spectra[size_t(task / 2)];
      std::vector<std::complex<double>>& values = task % 2 == 0 ? out.ode : out.layer_map;
      values = eigenvalues(task % 2 == 0 ? residual_ode_jacobian(weights, y) : layer_map_jacobian(weights, y));
      sort_spectrum(values);
    } catch (...) {
      failures[size_t(task)] = std::current_exception();
    }
  });
  for (const std::exception_ptr& failure : failures)
    if (failure) std::rethrow_exception(failure);
  return spectra;
}

}  // namespace resdyn
