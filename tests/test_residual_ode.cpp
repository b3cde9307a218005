// The residual ODE of paper eq. 3: right-hand side, Jacobian, the 3^N fixed-point
// enumeration (against 1-D and 2-D cases solved by hand) and RK4 trajectories.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "analysis/linalg.h"
#include "analysis/residual_ode.h"
#include "resdyn.h"
#include "square_matrix.h"

using resdyn::FixedPointClass;
using resdyn::Matrix;
using resdyn::TrajectoryOutcome;

namespace {

// Entries N(0, 1/N), as the ode experiment draws them.
Matrix random_weights(int n, resdyn::Rng& rng) {
  Matrix w(n, n);
  for (double& value : w.a) value = rng.normal() / std::sqrt(static_cast<double>(n));
  return w;
}

std::vector<double> random_interior_point(int n, resdyn::Rng& rng) {
  std::vector<double> y(static_cast<std::size_t>(n));
  for (double& value : y) value = rng.uniform(0.01, 0.99);
  return y;
}

void expect_point(const resdyn::FixedPoint& point, const std::vector<double>& y, FixedPointClass kind,
                  double max_real_eigenvalue) {
  ASSERT_EQ(point.y.size(), y.size());
  for (std::size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(point.y[i], y[i], 1e-14) << "component " << i;
  EXPECT_EQ(point.kind, kind) << resdyn::fixed_point_class_name(point.kind);
  EXPECT_NEAR(point.max_real_eigenvalue, max_real_eigenvalue, 1e-14);
}

TEST(ResidualOde, RightHandSideMatchesDefinition) {
  const Matrix w = test_matrix::square(2, {1.0, -2.0, 0.5, 3.0});
  const std::vector<double> y = {0.25, 0.5};
  const std::vector<double> f = resdyn::residual_ode_rhs(w, y);
  // W y = (0.25 - 1, 0.125 + 1.5) = (-0.75, 1.625); y (1 - y) = (0.1875, 0.25).
  EXPECT_DOUBLE_EQ(f[0], 0.1875 * -0.75);
  EXPECT_DOUBLE_EQ(f[1], 0.25 * 1.625);
}

// J against central differences of F at random interior points (error O(h^2) ~ 1e-10).
TEST(ResidualOde, JacobianMatchesFiniteDifferences) {
  resdyn::Rng rng(5);
  const int n = 7;
  const Matrix w = random_weights(n, rng);
  for (int trial = 0; trial < 3; ++trial) {
    const std::vector<double> y = random_interior_point(n, rng);
    const Matrix j = resdyn::residual_ode_jacobian(w, y);
    const double h = 1e-5;
    for (int c = 0; c < n; ++c) {
      std::vector<double> up = y, down = y;
      up[static_cast<std::size_t>(c)] += h;
      down[static_cast<std::size_t>(c)] -= h;
      const std::vector<double> f_up = resdyn::residual_ode_rhs(w, up);
      const std::vector<double> f_down = resdyn::residual_ode_rhs(w, down);
      for (int r = 0; r < n; ++r) {
        const double difference = (f_up[static_cast<std::size_t>(r)] - f_down[static_cast<std::size_t>(r)]) / (2 * h);
        EXPECT_NEAR(j(r, c), difference, 1e-8) << "J(" << r << "," << c << ")";
      }
    }
  }
}

// N = 1, dy/dt = w y^2 (1 - y). Fixed points 0 and 1 (the free candidate solves w y = 0,
// which is 0 again). J(0) = 0: non-hyperbolic; J(1) = -w: stable for w > 0, unstable for
// w < 0. With w = 0 every y is fixed: the free candidate is singular and skipped.
TEST(FixedPoints, OneDimensionalCasesByHand) {
  for (double w : {2.0, -2.0}) {
    const resdyn::FixedPointSearch s = resdyn::enumerate_fixed_points(test_matrix::square(1, {w}));
    EXPECT_EQ(s.candidates, 3);
    EXPECT_EQ(s.duplicates, 1);
    EXPECT_EQ(s.singular_subsystems, 0);
    ASSERT_EQ(s.points.size(), 2u);
    expect_point(s.points[0], {0.0}, FixedPointClass::non_hyperbolic, 0.0);
    expect_point(s.points[1], {1.0}, w > 0 ? FixedPointClass::stable : FixedPointClass::unstable, -w);
  }
  const resdyn::FixedPointSearch zero = resdyn::enumerate_fixed_points(test_matrix::square(1, {0.0}));
  EXPECT_EQ(zero.singular_subsystems, 1);
  ASSERT_EQ(zero.points.size(), 2u);
  expect_point(zero.points[0], {0.0}, FixedPointClass::non_hyperbolic, 0.0);
  expect_point(zero.points[1], {1.0}, FixedPointClass::non_hyperbolic, 0.0);
}

// N = 2, W = [[-1, 0.5], [1, 0.5]]. Candidates (y0, y1), digit order as enumerated:
//   (0,0)  J = 0                                  non-hyperbolic
//   (1,0)  W y = (-1, 1), J = diag(1, 1)            unstable, max 1
//   (f,0)  -y0 = 0 -> (0,0)                         duplicate
//   (0,1)  W y = (0.5, 0.5), J = diag(0.5, -0.5)    saddle, max 0.5
//   (1,1)  W y = (-0.5, 1.5), J = diag(0.5, -1.5)   saddle, max 0.5
//   (f,1)  -y0 + 0.5 = 0 -> (0.5, 1), J = [[-0.25, 0.125], [0, -1]]   stable, max -0.25
//   (0,f)  0.5 y1 = 0 -> (0,0)                      duplicate
//   (1,f)  1 + 0.5 y1 = 0 -> y1 = -2                outside
//   (f,f)  W y = 0, W nonsingular -> (0,0)          duplicate
// In the open square dy1/dt = y1 (1 - y1)(y0 + 0.5 y1) > 0, so y1 -> 1 and then y0 -> 0.5:
// every trajectory ends at (0.5, 1).
TEST(FixedPoints, TwoDimensionalCaseWithOneStablePointByHand) {
  const Matrix w = test_matrix::square(2, {-1.0, 0.5, 1.0, 0.5});
  const resdyn::FixedPointSearch s = resdyn::enumerate_fixed_points(w);
  EXPECT_EQ(s.candidates, 9);
  EXPECT_EQ(s.duplicates, 3);
  EXPECT_EQ(s.outside_box, 1);
  EXPECT_EQ(s.singular_subsystems, 0);
  ASSERT_EQ(s.points.size(), 5u);
  expect_point(s.points[0], {0.0, 0.0}, FixedPointClass::non_hyperbolic, 0.0);
  expect_point(s.points[1], {1.0, 0.0}, FixedPointClass::unstable, 1.0);
  expect_point(s.points[2], {0.0, 1.0}, FixedPointClass::saddle, 0.5);
  expect_point(s.points[3], {1.0, 1.0}, FixedPointClass::saddle, 0.5);
  expect_point(s.points[4], {0.5, 1.0}, FixedPointClass::stable, -0.25);

  resdyn::Rng rng(17);
  for (int start = 0; start < 20; ++start) {
    const resdyn::Trajectory t = resdyn::integrate_to_rest(w, random_interior_point(2, rng), s.points);
    EXPECT_EQ(t.outcome, TrajectoryOutcome::reached_stable) << resdyn::trajectory_outcome_name(t.outcome);
    EXPECT_EQ(t.ended_at, 4);
    EXPECT_LE(t.nearest_distance, 1e-6);
  }
}

// N = 2, W = [[-2, 1], [1, -2]]: no stable point at all.
//   (0,0) non-hyperbolic; (1,0): W y = (-2, 1), J = diag(2, 1), unstable, max 2; (0,1) the
//   same by symmetry; (1,1): W y = (-1, -1), J = diag(1, 1), unstable, max 1;
//   (0.5,1): J = [[-0.5, 0.25], [0, 1.5]], saddle, max 1.5; (1,0.5) the same by symmetry.
// Trajectories drift towards the origin, where F is quadratic: the approach is algebraic
// and never comes to rest within a budget; the result must say so.
TEST(FixedPoints, TwoDimensionalCaseWithoutStablePointsIsReportedAsNotConverged) {
  const Matrix w = test_matrix::square(2, {-2.0, 1.0, 1.0, -2.0});
  const resdyn::FixedPointSearch s = resdyn::enumerate_fixed_points(w);
  ASSERT_EQ(s.points.size(), 6u);
  expect_point(s.points[0], {0.0, 0.0}, FixedPointClass::non_hyperbolic, 0.0);
  expect_point(s.points[1], {1.0, 0.0}, FixedPointClass::unstable, 2.0);
  expect_point(s.points[2], {0.0, 1.0}, FixedPointClass::unstable, 2.0);
  expect_point(s.points[3], {1.0, 1.0}, FixedPointClass::unstable, 1.0);
  expect_point(s.points[4], {0.5, 1.0}, FixedPointClass::saddle, 1.5);
  expect_point(s.points[5], {1.0, 0.5}, FixedPointClass::saddle, 1.5);

  resdyn::TrajectoryOptions options;
  options.max_steps = 5000;
  resdyn::Rng rng(19);
  for (int start = 0; start < 5; ++start) {
    const resdyn::Trajectory t = resdyn::integrate_to_rest(w, random_interior_point(2, rng), s.points, options);
    EXPECT_EQ(t.outcome, TrajectoryOutcome::not_converged) << resdyn::trajectory_outcome_name(t.outcome);
    EXPECT_EQ(t.steps, 5000);
    EXPECT_EQ(t.nearest, 0);
    EXPECT_EQ(t.ended_at, -1);
  }
}

// On a random W: every reported point is a fixed point inside the cube, all 2^N corners
// are there, and each corner's class follows from its diagonal Jacobian
// J_ii = (1 - 2 y_i)(W y)_i.
TEST(FixedPoints, RandomCaseInvariants) {
  resdyn::Rng rng(23);
  const int n = 7;
  const Matrix w = random_weights(n, rng);
  const resdyn::FixedPointSearch s = resdyn::enumerate_fixed_points(w);
  EXPECT_EQ(s.candidates, 2187);
  int corners = 0;
  for (const resdyn::FixedPoint& p : s.points) {
    double speed = 0.0;
    for (double f : resdyn::residual_ode_rhs(w, p.y)) speed += f * f;
    EXPECT_LE(std::sqrt(speed), 1e-13);
    bool corner = true;
    for (double value : p.y) {
      EXPECT_GE(value, 0.0);
      EXPECT_LE(value, 1.0);
      if (value != 0.0 && value != 1.0) corner = false;
    }
    if (!corner) continue;
    ++corners;
    const std::vector<double> wy = resdyn::multiply(w, p.y);
    bool any_zero = false, any_negative = false, any_positive = false;
    double max_real = -std::numeric_limits<double>::infinity();
    for (int i = 0; i < n; ++i) {
      const double d = (1.0 - 2.0 * p.y[static_cast<std::size_t>(i)]) * wy[static_cast<std::size_t>(i)];
      max_real = std::max(max_real, d);
      if (d == 0.0) {
        any_zero = true;  // at the origin W y = 0; elsewhere only by accident
      } else {
        (d < 0 ? any_negative : any_positive) = true;
      }
    }
    if (any_zero) {
      EXPECT_EQ(p.kind, FixedPointClass::non_hyperbolic);
    } else if (any_negative && any_positive) {
      EXPECT_EQ(p.kind, FixedPointClass::saddle);
    } else if (any_negative) {
      EXPECT_EQ(p.kind, FixedPointClass::stable);
    } else {
      EXPECT_EQ(p.kind, FixedPointClass::unstable);
    }
    EXPECT_DOUBLE_EQ(p.max_real_eigenvalue, max_real);
  }
  EXPECT_EQ(corners, 1 << n);
  EXPECT_EQ(s.points.size() + static_cast<std::size_t>(s.duplicates + s.outside_box + s.singular_subsystems),
            static_cast<std::size_t>(s.candidates));
}

// A small random case where every RK4 trajectory from a random start ends within 1e-6 of
// an enumerated stable fixed point (checked independently: distance and speed at the end).
TEST(Trajectories, RandomCaseEveryStartReachesAStablePoint) {
  resdyn::Rng rng(1);
  const int n = 8;
  const Matrix w = random_weights(n, rng);
  const resdyn::FixedPointSearch s = resdyn::enumerate_fixed_points(w);
  for (int start = 0; start < 30; ++start) {
    const resdyn::Trajectory t = resdyn::integrate_to_rest(w, random_interior_point(n, rng), s.points);
    ASSERT_EQ(t.outcome, TrajectoryOutcome::reached_stable) << "start " << start;
    ASSERT_GE(t.ended_at, 0);
    const resdyn::FixedPoint& p = s.points[static_cast<std::size_t>(t.ended_at)];
    EXPECT_EQ(p.kind, FixedPointClass::stable);
    double distance = 0.0;
    for (int i = 0; i < n; ++i) {
      const double d = t.end[static_cast<std::size_t>(i)] - p.y[static_cast<std::size_t>(i)];
      distance += d * d;
    }
    EXPECT_LE(std::sqrt(distance), 1e-6);
  }
}

// In 1-D, dz/dt = w sigma(z) has the first integral z - e^-z - w t (separate variables:
// (1 + e^-z) dz = w dt). RK4's global error is O(h^4): with h = 0.01 it stays near 1e-12.
TEST(Trajectories, Rk4LogitStepKeepsTheFirstIntegral) {
  const double w = -1.3, h = 0.01;
  const Matrix weights = test_matrix::square(1, {w});
  std::vector<double> z = {0.4};
  const double invariant = z[0] - std::exp(-z[0]);
  for (int step = 1; step <= 500; ++step) {
    z = resdyn::rk4_logit_step(weights, z, h);
    EXPECT_NEAR(z[0] - std::exp(-z[0]) - w * h * step, invariant, 1e-10) << "step " << step;
  }
}

TEST(FixedPoints, RejectsSizesOutsideTheEnumerableRange) {
  EXPECT_THROW(resdyn::enumerate_fixed_points(Matrix(13, 13)), resdyn::Error);
  EXPECT_THROW(resdyn::enumerate_fixed_points(Matrix(0, 0)), resdyn::Error);
  EXPECT_THROW(resdyn::enumerate_fixed_points(Matrix(2, 3)), resdyn::Error);
}

TEST(Trajectories, RejectsStartsOnTheFaces) {
  const Matrix w = test_matrix::square(2, {1.0, 0.0, 0.0, 1.0});
  EXPECT_THROW(resdyn::integrate_to_rest(w, {0.0, 0.5}, {}), resdyn::Error);
  EXPECT_THROW(resdyn::integrate_to_rest(w, {0.5, 1.0}, {}), resdyn::Error);
}

}  // namespace
