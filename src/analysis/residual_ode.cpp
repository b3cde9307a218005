// The residual ODE of paper eq. 3; see residual_ode.h for what each function promises.
#include "analysis/residual_ode.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "resdyn.h"

namespace resdyn {

namespace {

// max_i sum_j |m_ij|.
double row_sum_norm(const Matrix& m) {
  double largest = 0.0;
  for (int i = 0; i < m.rows; ++i) {
    double sum = 0.0;
    for (int c = 0; c < m.cols; ++c) sum += std::fabs(m(i, c));
    largest = std::max(largest, sum);
  }
  return largest;
}

// max_j sum_i |m_ij|.
double column_sum_norm(const Matrix& m) {
  std::vector<double> sums(static_cast<std::size_t>(m.cols), 0.0);
  for (int i = 0; i < m.rows; ++i) {
    for (int c = 0; c < m.cols; ++c) sums[static_cast<std::size_t>(c)] += std::fabs(m(i, c));
  }
  return sums.empty() ? 0.0 : *std::max_element(sums.begin(), sums.end());
}

}  // namespace

std::vector<double> residual_ode_rhs(const Matrix& weights, const std::vector<double>& y) {
  std::vector<double> f = multiply(weights, y);
  for (std::size_t i = 0; i < f.size(); ++i) f[i] *= y[i] * (1.0 - y[i]);
  return f;
}

Matrix residual_ode_jacobian(const Matrix& weights, const std::vector<double>& y) {
  // Product rule on y_i (1 - y_i) (W y)_i: d/dy_i of y(1-y) is 1 - 2y, d/dy_j of (W y)_i is W_ij.
  const std::vector<double> wy = multiply(weights, y);
  Matrix jacobian(weights.rows, weights.cols);
  for (int i = 0; i < weights.rows; ++i) {
    const double yi = y[static_cast<std::size_t>(i)];
    const double gain = yi * (1.0 - yi);
    const double* w = weights.row(i);
    double* j = jacobian.row(i);
    for (int c = 0; c < weights.cols; ++c) j[c] = gain * w[c];
    j[i] += (1.0 - 2.0 * yi) * wy[static_cast<std::size_t>(i)];
  }
  return jacobian;
}

const char* fixed_point_class_name(FixedPointClass kind) {
  switch (kind) {
    case FixedPointClass::stable: return "stable";
    case FixedPointClass::unstable: return "unstable";
    case FixedPointClass::saddle: return "saddle";
    case FixedPointClass::non_hyperbolic: return "non_hyperbolic";
  }
  return "unknown";
}

FixedPointClassification classify_fixed_point(const Matrix& weights, const std::vector<double>& y,
                                              double hyperbolicity_tolerance) {
  const Matrix jacobian = residual_ode_jacobian(weights, y);
  const double eps = hyperbolicity_tolerance * (1.0 + row_sum_norm(jacobian));

  FixedPointClassification result;
  result.max_real_eigenvalue = -std::numeric_limits<double>::infinity();
  bool any_negative = false, any_positive = false, any_near_zero = false;
  for (const std::complex<double>& lambda : eigenvalues(jacobian)) {
    result.max_real_eigenvalue = std::max(result.max_real_eigenvalue, lambda.real());
    if (std::fabs(lambda.real()) <= eps) {
      any_near_zero = true;
    } else if (lambda.real() < 0.0) {
      any_negative = true;
    } else {
      any_positive = true;
    }
  }
  if (any_near_zero) {
    result.kind = FixedPointClass::non_hyperbolic;
  } else if (any_negative && any_positive) {
    result.kind = FixedPointClass::saddle;
  } else {
    result.kind = any_positive ? FixedPointClass::unstable : FixedPointClass::stable;
  }
  return result;
}

FixedPointSearch enumerate_fixed_points(const Matrix& weights, const FixedPointSearchOptions& options) {
  if (weights.rows != weights.cols) throw Error("fixed-point search needs a square weight matrix");
  const int n = weights.rows;
  // 3^12 = 531441 small solves is a second's work; 3^13 and beyond grow out of hand.
  if (n < 1 || n > 12) {
    throw Error("fixed-point enumeration needs 1 <= N <= 12 (got N = " + std::to_string(n) + ")");
  }
  FixedPointSearch search;
  search.candidates = 1;
  for (int i = 0; i < n; ++i) search.candidates *= 3;

  const double eps = std::numeric_limits<double>::epsilon();
  const double tolerance = options.box_tolerance;
  std::vector<double> y(static_cast<std::size_t>(n));
  std::vector<int> free_components;
  for (long long code = 0; code < search.candidates; ++code) {
    // Base-3 digit i of the code chooses component i: 0 -> y_i = 0, 1 -> y_i = 1, 2 -> free.
    free_components.clear();
    long long rest = code;
    for (int i = 0; i < n; ++i, rest /= 3) {
      const int digit = static_cast<int>(rest % 3);
      y[static_cast<std::size_t>(i)] = digit == 1 ? 1.0 : 0.0;
      if (digit == 2) free_components.push_back(i);
    }

    if (!free_components.empty()) {
      // W_FF y_F = -W_F,fixed y_fixed; only the fixed components equal to 1 contribute.
      const int m = static_cast<int>(free_components.size());
      Matrix block(m, m);
      std::vector<double> rhs(static_cast<std::size_t>(m), 0.0);
      double largest = 0.0;
      for (int r = 0; r < m; ++r) {
        const double* w = weights.row(free_components[static_cast<std::size_t>(r)]);
        for (int c = 0; c < m; ++c) {
          block(r, c) = w[free_components[static_cast<std::size_t>(c)]];
          largest = std::max(largest, std::fabs(block(r, c)));
        }
        for (int j = 0; j < n; ++j) {
          if (y[static_cast<std::size_t>(j)] == 1.0) rhs[static_cast<std::size_t>(r)] -= w[j];
        }
      }
      // A pivot at the rounding level of the block's entries means W_FF is singular
      // up to rounding (the backward error of Gaussian elimination, Golub & Van Loan §3.3).
      const LuFactorization lu = lu_factor(std::move(block), 8.0 * m * eps * largest);
      if (lu.singular) {
        ++search.singular_subsystems;
        continue;
      }
      const std::vector<double> solution = lu_solve(lu, rhs);
      bool outside = false, on_boundary = false;
      for (double value : solution) {
        if (value < -tolerance || value > 1.0 + tolerance) outside = true;
        if (std::fabs(value) <= tolerance || std::fabs(value - 1.0) <= tolerance) on_boundary = true;
      }
      if (outside) {
        ++search.outside_box;
        continue;
      }
      if (on_boundary) {
        ++search.duplicates;
        continue;
      }
      for (int r = 0; r < m; ++r) {
        y[static_cast<std::size_t>(free_components[static_cast<std::size_t>(r)])] =
            solution[static_cast<std::size_t>(r)];
      }
    }

    const FixedPointClassification classification = classify_fixed_point(weights, y, options.hyperbolicity_tolerance);
    FixedPoint point;
    point.y = y;
    point.kind = classification.kind;
    point.max_real_eigenvalue = classification.max_real_eigenvalue;
    search.points.push_back(std::move(point));
  }
  return search;
}

namespace {

std::vector<double> logistic_of(const std::vector<double>& z) {
  std::vector<double> y(z.size());
  for (std::size_t i = 0; i < z.size(); ++i) y[i] = sigmoid(z[i]);
  return y;
}

// dz/dt = W sigma(z), the residual ODE in logit coordinates.
std::vector<double> logit_rhs(const Matrix& weights, const std::vector<double>& z) {
  return multiply(weights, logistic_of(z));
}

// ||F(y)||_2 at y = sigma(z), with y (1 - y) = sigma(z) sigma(-z) so that it stays
// accurate next to the face y_i = 1 too.
double speed_at(const Matrix& weights, const std::vector<double>& z) {
  const std::vector<double> wy = logit_rhs(weights, z);
  double sum = 0.0;
  for (std::size_t i = 0; i < z.size(); ++i) {
    const double f = sigmoid(z[i]) * sigmoid(-z[i]) * wy[i];
    sum += f * f;
  }
  return std::sqrt(sum);
}

double euclidean_distance(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(sum);
}

bool all_finite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double value) { return std::isfinite(value); });
}

}  // namespace

double default_rk4_step(const Matrix& weights) { return 1.0 / std::max(1.0, row_sum_norm(weights)); }

const char* trajectory_outcome_name(TrajectoryOutcome outcome) {
  switch (outcome) {
    case TrajectoryOutcome::reached_stable: return "reached_stable";
    case TrajectoryOutcome::lingering_near_non_stable: return "lingering_near_non_stable";
    case TrajectoryOutcome::at_rest_elsewhere: return "at_rest_elsewhere";
    case TrajectoryOutcome::not_converged: return "not_converged";
  }
  return "unknown";
}

std::vector<double> rk4_logit_step(const Matrix& weights, const std::vector<double>& z, double step) {
  const std::size_t n = z.size();
  std::vector<double> probe(n);
  const std::vector<double> k1 = logit_rhs(weights, z);
  for (std::size_t i = 0; i < n; ++i) probe[i] = z[i] + 0.5 * step * k1[i];
  const std::vector<double> k2 = logit_rhs(weights, probe);
  for (std::size_t i = 0; i < n; ++i) probe[i] = z[i] + 0.5 * step * k2[i];
  const std::vector<double> k3 = logit_rhs(weights, probe);
  for (std::size_t i = 0; i < n; ++i) probe[i] = z[i] + step * k3[i];
  const std::vector<double> k4 = logit_rhs(weights, probe);
  std::vector<double> next(n);
  for (std::size_t i = 0; i < n; ++i) next[i] = z[i] + step / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
  return next;
}

Trajectory integrate_to_rest(const Matrix& weights, const std::vector<double>& start,
                             const std::vector<FixedPoint>& points, const TrajectoryOptions& options) {
  if (static_cast<int>(start.size()) != weights.cols || weights.rows != weights.cols) {
    throw Error("integrate_to_rest: start and weights have different dimensions");
  }
  std::vector<double> z(start.size());
  for (std::size_t i = 0; i < start.size(); ++i) {
    if (!(start[i] > 0.0 && start[i] < 1.0)) {
      throw Error("integrate_to_rest: every start component must lie strictly inside (0,1)");
    }
    z[i] = std::log(start[i] / (1.0 - start[i]));
  }
  const double step = options.step > 0.0 ? options.step : default_rk4_step(weights);

  // Within distance d of a fixed point the speed is at most L d, with L >= ||J||_2 on the
  // cube; ||J||_2 <= sqrt(||J||_1 ||J||_inf) <= 1.25 max(||W||_1, ||W||_inf). So only
  // states slower than L * arrival_distance need the distance test (factor 2: rounding).
  const double lipschitz = 1.25 * std::max({1.0, row_sum_norm(weights), column_sum_norm(weights)});
  const double candidate_speed = 2.0 * lipschitz * options.arrival_distance;
  std::vector<int> stable_points;
  for (std::size_t p = 0; p < points.size(); ++p) {
    if (points[p].kind == FixedPointClass::stable) stable_points.push_back(static_cast<int>(p));
  }

  Trajectory trajectory;
  trajectory.start = start;
  bool arrived = false;
  double speed = speed_at(weights, z);
  while (true) {
    if (speed <= candidate_speed) {
      const std::vector<double> y = logistic_of(z);
      for (int p : stable_points) {
        if (euclidean_distance(y, points[static_cast<std::size_t>(p)].y) <= options.arrival_distance) {
          arrived = true;
          break;
        }
      }
    }
    if (arrived || trajectory.steps >= options.max_steps) break;
    z = rk4_logit_step(weights, z, step);
    ++trajectory.steps;
    if (!all_finite(z)) break;  // only with a step forced far too large: reported as not converged
    speed = speed_at(weights, z);
  }
  trajectory.end = logistic_of(z);

  trajectory.nearest_distance = std::numeric_limits<double>::infinity();
  for (std::size_t p = 0; p < points.size(); ++p) {
    const double distance = euclidean_distance(trajectory.end, points[p].y);
    if (distance < trajectory.nearest_distance) {
      trajectory.nearest_distance = distance;
      trajectory.nearest = static_cast<int>(p);
    }
  }
  if (trajectory.nearest >= 0 && trajectory.nearest_distance <= options.arrival_distance) {
    trajectory.ended_at = trajectory.nearest;
  }

  const bool at_rest = all_finite(z) && speed <= options.rest_speed;
  if (arrived) {
    trajectory.outcome = TrajectoryOutcome::reached_stable;
  } else if (!at_rest) {
    trajectory.outcome = TrajectoryOutcome::not_converged;
  } else if (trajectory.ended_at >= 0) {
    trajectory.outcome = TrajectoryOutcome::lingering_near_non_stable;
  } else {
    trajectory.outcome = TrajectoryOutcome::at_rest_elsewhere;
  }
  return trajectory;
}

}  // namespace resdyn
