// Newton's method for the fixed points of paper eq. 3, against a 2-D case solved by hand
// (a stable point and a saddle) and against long RK4 integrations of dy/dt = F(y), and the
// grouping of points into distinct ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

#include "analysis/fixed_point_newton.h"
#include "analysis/jacobian_spectrum.h"
#include "analysis/linalg.h"
#include "analysis/residual_ode.h"
#include "resdyn.h"
#include "square_matrix.h"

using resdyn::Matrix;

namespace {

double max_distance(const std::vector<double>& a, const std::vector<double>& b) {
  double largest = 0.0;
  for (size_t i = 0; i < a.size(); ++i) largest = std::max(largest, std::fabs(a[i] - b[i]));
  return largest;
}

std::vector<double> logistic_of(const std::vector<double>& z) {
  std::vector<double> y(z.size());
  for (size_t i = 0; i < z.size(); ++i) y[i] = resdyn::sigmoid(z[i]);
  return y;
}

}  // namespace

// W = [[a, b], [0, d]]: with y_2 = 1, (W y)_1 = a y_1 + b = 0 gives y_1 = -b / a, a fixed
// point when it lies in (0, 1). There F_1 = 0 on the line (W y)_1 = 0 and row 2 of J is
// (-(W y)_2, 0) = (-d, 0), so J = [[g a, g b], [0, -d]] with g = y_1 (1 - y_1): its
// eigenvalues are g a and -d. a = -2, b = 1, d = 1: y = (0.5, 1), eigenvalues -0.5, -1
// (stable). a = 2, b = -1: the same point with eigenvalues +0.5, -1 (a saddle).
TEST(NewtonFixedPoint, TwoDimensionalCasesByHand) {
  for (const double a : {-2.0, 2.0}) {
    const Matrix w = test_matrix::square(2, {a, -a / 2, 0.0, 1.0});
    const resdyn::NewtonFixedPoint p = resdyn::newton_fixed_point(w, {0.53, 0.995});
    ASSERT_TRUE(p.converged) << "a = " << a << ", residual " << p.residual;
    EXPECT_LE(p.residual, 1e-13);
    EXPECT_GT(p.start_residual, 1e-3);
    EXPECT_NEAR(p.y[0], 0.5, 1e-12);
    EXPECT_NEAR(p.y[1], 1.0, 1e-12);
    std::vector<std::complex<double>> values = resdyn::eigenvalues(resdyn::residual_ode_jacobian(w, p.y));
    resdyn::sort_spectrum(values);
    std::vector<double> got = {values[0].real(), values[1].real()};
    std::vector<double> want = {0.25 * a, -1.0};  // g a with g = 1/4, and -d
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_NEAR(got[0], want[0], 1e-10);
    EXPECT_NEAR(got[1], want[1], 1e-10);
    EXPECT_EQ(values[0].imag(), 0.0);
    EXPECT_EQ(resdyn::summarise_spectrum(values).positive_real, a > 0 ? 1 : 0);
  }
}

// The reference is the flow itself: RK4 (in logit coordinates, as integrate_to_rest) run
// until ||F||_2 <= 1e-12 gives where the flow ends. Newton from the trajectory's state when
// it first comes within 1e-3 of that end (its "last state") must land there; and Newton
// from its state when it first slows to ||F||_2 <= 1e-3 must land on one of the fixed
// points that the 3^N enumeration (residual_ode.h) finds: not always the end, because a
// trajectory can slow down near a saddle and leave it again. Random W of size 8, entries
// N(0, 1/8), ten random starts in (0.01, 0.99)^8.
TEST(NewtonFixedPoint, AgreesWithALongRk4Integration) {
  resdyn::Rng rng(1);
  const int n = 8;
  Matrix w(n, n);
  for (double& value : w.a) value = rng.normal() / std::sqrt(double(n));
  const resdyn::FixedPointSearch all = resdyn::enumerate_fixed_points(w);
  const double step = resdyn::default_rk4_step(w);
  const auto integrate = [&](std::vector<double> z, auto done) {
    for (long steps = 0; steps < 400000 && !done(logistic_of(z)); ++steps) z = resdyn::rk4_logit_step(w, z, step);
    return logistic_of(z);
  };
  int passed_a_saddle = 0;
  for (int start = 0; start < 10; ++start) {
    std::vector<double> z0(static_cast<size_t>(n));
    for (double& value : z0) {
      const double y = rng.uniform(0.01, 0.99);
      value = std::log(y / (1.0 - y));
    }
    const std::vector<double> rest =
        integrate(z0, [&](const std::vector<double>& y) { return resdyn::fixed_point_residual(w, y) <= 1e-12; });
    ASSERT_LE(resdyn::fixed_point_residual(w, rest), 1e-12) << "start " << start << ": the flow has not settled";
    const std::vector<double> near_end =
        integrate(z0, [&](const std::vector<double>& y) { return max_distance(y, rest) <= 1e-3; });
    const resdyn::NewtonFixedPoint p = resdyn::newton_fixed_point(w, near_end);
    ASSERT_TRUE(p.converged) << "start " << start << ", residual " << p.residual;
    EXPECT_LE(p.residual, 1e-13) << "start " << start;
    EXPECT_LE(max_distance(p.y, rest), 1e-8) << "start " << start << ", " << p.iterations << " iterations";
    // Its spectrum with the face rows deflated is J's full spectrum.
    std::vector<std::complex<double>> full = resdyn::eigenvalues(resdyn::residual_ode_jacobian(w, p.y));
    resdyn::sort_spectrum(full);
    const std::vector<std::complex<double>> deflated = resdyn::deflated_ode_eigenvalues(w, p.y);
    ASSERT_EQ(deflated.size(), full.size());
    for (size_t k = 0; k < full.size(); ++k) EXPECT_LE(std::abs(deflated[k] - full[k]), 1e-12) << "start " << start;

    const std::vector<double> slow = integrate(z0, [&](const std::vector<double>& y) {
      for (double f : resdyn::residual_ode_rhs(w, y))
        if (std::fabs(f) > 1e-3 / std::sqrt(double(n))) return false;
      return true;
    });
    const resdyn::NewtonFixedPoint q = resdyn::newton_fixed_point(w, slow);
    ASSERT_TRUE(q.converged) << "start " << start;
    double nearest = 1.0;
    for (const resdyn::FixedPoint& point : all.points) nearest = std::min(nearest, max_distance(point.y, q.y));
    EXPECT_LE(nearest, 1e-9) << "start " << start << ": Newton's point is none of the enumerated fixed points";
    passed_a_saddle += max_distance(q.y, rest) > 0.1;
  }
  // With this W two of the ten trajectories slow down near a saddle first: the second
  // check above is not the first one again.
  EXPECT_GE(passed_a_saddle, 1);
}

// A run that stops before the tolerance is a failure, reported with the residual it reached.
TEST(NewtonFixedPoint, ReportsAFailureWithItsResidual) {
  const Matrix w = test_matrix::square(2, {-2.0, 1.0, 0.0, 1.0});
  resdyn::NewtonOptions options;
  options.max_iterations = 0;
  const resdyn::NewtonFixedPoint p = resdyn::newton_fixed_point(w, {0.3, 0.6}, options);
  EXPECT_FALSE(p.converged);
  EXPECT_EQ(p.iterations, 0);
  EXPECT_DOUBLE_EQ(p.residual, resdyn::fixed_point_residual(w, {0.3, 0.6}));
  EXPECT_GT(p.residual, options.tolerance);
  EXPECT_THROW(resdyn::newton_fixed_point(w, {0.5}), resdyn::Error);
}

// A unit with no weights at all: F_1 = 0 everywhere and row 1 of J is zero. Newton leaves
// y_1 where it is (no division by J_11 = 0) and solves the rest: y_2 = 1.
TEST(NewtonFixedPoint, AZeroRowOfTheJacobianIsLeftAlone) {
  const Matrix w = test_matrix::square(2, {0.0, 0.0, 0.0, 1.0});
  const resdyn::NewtonFixedPoint p = resdyn::newton_fixed_point(w, {0.3, 0.9});
  ASSERT_TRUE(p.converged) << p.residual;
  EXPECT_EQ(p.y[0], 0.3);
  EXPECT_NEAR(p.y[1], 1.0, 1e-12);
}

TEST(NewtonFixedPoint, DistinctPointGroupsByMaxNormDistance) {
  const std::vector<std::vector<double>> points = {
      {0.0, 1.0}, {0.5, 1.0}, {0.0, 1.0 - 5e-5}, {0.5 + 2e-4, 1.0}, {0.5 - 1e-4, 1.0}};
  EXPECT_EQ(resdyn::distinct_point_groups(points, 1e-4), (std::vector<int>{0, 1, 0, 2, 1}));
  EXPECT_EQ(resdyn::distinct_point_groups(points, 1.0), (std::vector<int>{0, 0, 0, 0, 0}));
  EXPECT_TRUE(resdyn::distinct_point_groups({}, 1e-4).empty());
}
