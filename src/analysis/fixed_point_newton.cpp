// Newton's method for the fixed points of paper eq. 3; see fixed_point_newton.h.
#include "analysis/fixed_point_newton.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "analysis/residual_ode.h"

namespace resdyn {

namespace {

double max_abs(const std::vector<double>& v) {
  double largest = 0.0;
  for (double value : v) largest = std::max(largest, std::fabs(value));
  return largest;
}

double norm2(const std::vector<double>& v) {
  double sum = 0.0;
  for (double value : v) sum += value * value;
  return std::sqrt(sum);
}

// y + step * direction, each component clamped to [0, 1].
std::vector<double> projected_step(const std::vector<double>& y, const std::vector<double>& direction, double step) {
  std::vector<double> next(y.size());
  for (size_t i = 0; i < y.size(); ++i) next[i] = std::clamp(y[i] + step * direction[i], 0.0, 1.0);
  return next;
}

// The Newton direction d from J(y) d = -F(y), with the rows of components on a face made
// diagonal: row i of J is (1 - 2y_i)(W y)_i e_i + y_i (1 - y_i) W_i, and where the coupling
// y_i (1 - y_i) ||W_i||_1 is below 1e-6 |J_ii| it is dropped. J is then block triangular:
// d_i = -F_i / J_ii on the face rows, and the free rows solve J_FF d_F = -F_F - J_FS d_S
// (one LU of the free block, not of all N). A Jacobian this close to J keeps Newton's fast
// convergence (Kelley, Iterative Methods for Linear and Nonlinear Equations, §6.1); F
// itself, and so the residual, is always exact. Empty when the free block is singular.
std::vector<double> newton_direction(const Matrix& weights, const std::vector<double>& y,
                                     const std::vector<double>& f) {
  const Matrix jacobian = residual_ode_jacobian(weights, y);
  const int n = jacobian.rows;
  std::vector<double> direction(size_t(n), 0.0);
  std::vector<int> free_rows, face_rows;
  for (int i = 0; i < n; ++i) {
    double coupling = 0.0;
    for (int j = 0; j < n; ++j) coupling += j == i ? 0.0 : std::fabs(jacobian(i, j));
    (coupling <= 1e-6 * std::fabs(jacobian(i, i)) ? face_rows : free_rows).push_back(i);
  }
  // A face row with J_ii = 0 is all zero: nothing to solve there (F_i = 0 when y_i is on a face).
  for (int i : face_rows) direction[size_t(i)] = jacobian(i, i) != 0.0 ? -f[size_t(i)] / jacobian(i, i) : 0.0;
  if (free_rows.empty()) return direction;
  const int m = int(free_rows.size());
  Matrix block(m, m);
  std::vector<double> rhs(static_cast<size_t>(m));
  for (int r = 0; r < m; ++r) {
    const int i = free_rows[size_t(r)];
    for (int c = 0; c < m; ++c) block(r, c) = jacobian(i, free_rows[size_t(c)]);
    rhs[size_t(r)] = -f[size_t(i)];
    for (int j : face_rows) rhs[size_t(r)] -= jacobian(i, j) * direction[size_t(j)];
  }
  const LuFactorization lu = lu_factor(std::move(block));
  if (lu.singular) return {};
  const std::vector<double> free_direction = lu_solve(lu, rhs);
  for (int r = 0; r < m; ++r) direction[size_t(free_rows[size_t(r)])] = free_direction[size_t(r)];
  return direction;
}

}  // namespace

double fixed_point_residual(const Matrix& weights, const std::vector<double>& y) {
  return max_abs(residual_ode_rhs(weights, y));
}

NewtonFixedPoint newton_fixed_point(const Matrix& weights, const std::vector<double>& start,
                                    const NewtonOptions& options) {
  if (weights.rows != weights.cols || int(start.size()) != weights.rows)
    throw Error("Newton fixed point: W is " + std::to_string(weights.rows) + " x " + std::to_string(weights.cols) +
                " but the start has " + std::to_string(start.size()) + " components");
  NewtonFixedPoint result;
  result.y = start;
  for (double& value : result.y) value = std::clamp(value, 0.0, 1.0);
  std::vector<double> f = residual_ode_rhs(weights, result.y);
  result.start_residual = max_abs(f);
  double residual = result.start_residual, norm = norm2(f);
  while (residual > options.target && result.iterations < options.max_iterations) {
    const std::vector<double> direction = newton_direction(weights, result.y, f);
    if (direction.empty()) break;
    bool accepted = false;
    for (double step = 1.0; step >= 0x1p-30 && !accepted; step *= 0.5) {
      std::vector<double> trial = projected_step(result.y, direction, step);
      std::vector<double> trial_f = residual_ode_rhs(weights, trial);
      const double trial_norm = norm2(trial_f);
      if (trial_norm <= (1.0 - 1e-4 * step) * norm) {
        result.y = std::move(trial);
        f = std::move(trial_f);
        norm = trial_norm;
        residual = max_abs(f);
        accepted = true;
      }
    }
    if (!accepted) break;  // no step length reduces ||F||: as close as Newton gets from here
    ++result.iterations;
  }
  result.residual = residual;
  result.converged = residual <= options.tolerance;
  return result;
}

std::vector<int> distinct_point_groups(const std::vector<std::vector<double>>& points, double distance) {
  std::vector<int> group(points.size(), -1);
  std::vector<size_t> representatives;
  for (size_t k = 0; k < points.size(); ++k) {
    for (size_t g = 0; g < representatives.size() && group[k] < 0; ++g) {
      const std::vector<double>& r = points[representatives[g]];
      double largest = 0.0;
      for (size_t i = 0; i < r.size() && largest <= distance; ++i)
        largest = std::max(largest, std::fabs(points[k][i] - r[i]));
      if (largest <= distance) group[k] = int(g);
    }
    if (group[k] < 0) {
      group[k] = int(representatives.size());
      representatives.push_back(k);
    }
  }
  return group;
}

}  // namespace resdyn
