// The residual ODE of a shared-weight net (paper §4, eq. 3):
//   dy/dt = F(y) = y (1 - y) (W y)        (element-wise products)
// its Jacobian J(y) = diag((1 - 2y) (W y)) + diag(y (1 - y)) W, the enumeration of all its
// fixed points in [0,1]^N for small N (the paper: "the number of possible fixed points is
// 3^N; only some are stable"), their stability from J's eigenvalues, and RK4 trajectories
// from given starts. The bias is absent as in eq. 3 (it drops out of dz/dt, eq. 1-2).
#pragma once

#include <complex>
#include <string>
#include <vector>

#include "analysis/linalg.h"

namespace resdyn {

// F(y) = y (1 - y) (W y).
std::vector<double> residual_ode_rhs(const Matrix& weights, const std::vector<double>& y);

// J(y) = diag((1 - 2y) (W y)) + diag(y (1 - y)) W.
Matrix residual_ode_jacobian(const Matrix& weights, const std::vector<double>& y);

// Stability of a fixed point from the real parts of J's eigenvalues.
enum class FixedPointClass { stable, unstable, saddle, non_hyperbolic };

// "stable", "unstable", "saddle", "non_hyperbolic": the names used in the output files.
const char* fixed_point_class_name(FixedPointClass kind);

struct FixedPoint {
  std::vector<double> y;
  FixedPointClass kind = FixedPointClass::non_hyperbolic;
  double max_real_eigenvalue = 0.0;  // largest real part among J(y)'s eigenvalues
};

struct FixedPointClassification {
  FixedPointClass kind = FixedPointClass::non_hyperbolic;
  double max_real_eigenvalue = 0.0;
};

// Classifies by the eigenvalues of J(y): stable if every real part < -eps, unstable if
// every real part > eps, saddle if both signs occur, non-hyperbolic if some |real part|
// <= eps. eps = hyperbolicity_tolerance * (1 + ||J||_inf), a multiple of the rounding
// level of the computed eigenvalues.
FixedPointClassification classify_fixed_point(const Matrix& weights, const std::vector<double>& y,
                                              double hyperbolicity_tolerance = 1e-9);

struct FixedPointSearchOptions {
  // A free component within this distance of 0 or 1 counts as that value; one further
  // outside [0,1] rules the candidate out.
  double box_tolerance = 1e-9;
  double hyperbolicity_tolerance = 1e-9;  // see classify_fixed_point
};

// The outcome of the 3^N enumeration, with the bookkeeping of what was left out.
struct FixedPointSearch {
  std::vector<FixedPoint> points;  // distinct fixed points in [0,1]^N, in enumeration order
  long long candidates = 0;        // 3^N
  // The free block W_FF was (numerically) singular: that candidate has either no
  // solution or a continuum of them, so it yields no isolated point and is skipped.
  long long singular_subsystems = 0;
  long long outside_box = 0;  // some free component fell outside [0,1]
  // Some free component landed on 0 or 1: the same point is the candidate with that
  // component fixed (found there, unless that smaller subsystem was singular).
  long long duplicates = 0;
};

// Enumerates the 3^N candidates of paper §4 (each y_i is 0, 1, or free, and the free
// components solve (W y)_F = 0, i.e. W_FF y_F = -W_F,fixed y_fixed), keeps those in
// [0,1]^N and classifies each. Throws resdyn::Error for N > 12 or non-square W.
FixedPointSearch enumerate_fixed_points(const Matrix& weights, const FixedPointSearchOptions& options = {});

struct TrajectoryOptions {
  double step = 0.0;  // RK4 step in time; 0 picks default_rk4_step(W)
  long long max_steps = 200000;
  // Integration stops as soon as the state is this close (Euclidean, in y) to an
  // enumerated stable fixed point: it has "ended at" that point.
  double arrival_distance = 1e-6;
  // A trajectory that used up its budget counts as at rest if ||F(y)||_2 <= this.
  double rest_speed = 1e-12;
};

// 1 / max(1, ||W||_inf). The logit-form right-hand side W sigma(z) (see rk4_logit_step)
// has Jacobian W diag(sigma'(z)) with norm at most ||W||_inf / 4, so h |lambda| <= 1/4:
// far inside classical RK4's stability region (|h lambda| up to about 2.8).
double default_rk4_step(const Matrix& weights);

enum class TrajectoryOutcome {
  reached_stable,  // came within arrival_distance of a stable fixed point
  // Budget used up while at rest near a saddle, unstable or non-hyperbolic point. It
  // happens: the faces of the cube are invariant, and a trajectory can pass from saddle
  // to saddle along them, spending ever longer near each (a heteroclinic passage).
  lingering_near_non_stable,
  at_rest_elsewhere,  // budget used up while at rest, but no enumerated fixed point is near
  not_converged,      // budget used up while still moving (e.g. the slow, algebraic
                      // approach to a non-hyperbolic point such as the origin)
};

// "reached_stable", "lingering_near_non_stable", "at_rest_elsewhere", "not_converged".
const char* trajectory_outcome_name(TrajectoryOutcome outcome);

struct Trajectory {
  std::vector<double> start;  // y at time 0, in (0,1)^N
  std::vector<double> end;    // y where the integration stopped
  long long steps = 0;
  int ended_at = -1;  // index of the fixed point within arrival_distance of `end`, or -1
  int nearest = -1;   // index of the nearest fixed point (-1 when there are none)
  double nearest_distance = 0.0;
  TrajectoryOutcome outcome = TrajectoryOutcome::not_converged;
};

// One classical fourth-order Runge-Kutta step (Hairer, Norsett & Wanner, Solving ODEs I,
// §II.1) of the residual ODE written in logit coordinates z = log(y / (1 - y)):
//   dz/dt = (dy/dt) / (y (1 - y)) = W sigma(z).
// The faces of [0,1]^N are invariant and trajectories approach them exponentially; in y
// the distance to a face soon underflows (or 1 - y rounds to 0) and the state sticks to
// the face for good, while in z it stays representable and keeps moving.
std::vector<double> rk4_logit_step(const Matrix& weights, const std::vector<double>& z, double step);

// Integrates from `start` (every component strictly inside (0,1)) with RK4 until the
// state comes within arrival_distance of a stable point in `points` or the step budget
// runs out, then says where it ended. A trajectory resting near a saddle or an unstable
// point is kept going: in exact arithmetic it only passes by (the check is that every
// trajectory ends at a stable point, so lingering is reported, never taken for arrival).
Trajectory integrate_to_rest(const Matrix& weights, const std::vector<double>& start,
                             const std::vector<FixedPoint>& points, const TrajectoryOptions& options = {});

}  // namespace resdyn
