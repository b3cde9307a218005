// Exact fixed points of the residual ODE of a shared-weight net (paper eq. 3),
//   F(y) = y (1 - y) (W y) = 0,
// found by Newton's method from a point near one (the residual of an unrolled trajectory at
// its last layer), and the grouping of many such points into distinct ones. Paper §6 takes
// the eigenvalues "at the fixed point" the trajectories reach; the class mean of their last
// states is not one (|F| there is far from 0), so spectrum_experiment.h takes them here too.
#pragma once

#include <vector>

#include "analysis/linalg.h"

namespace resdyn {

struct NewtonOptions {
  // A point counts as a fixed point when max_i |F_i(y)| <= tolerance.
  double tolerance = 1e-6;
  // Iterations go on past `tolerance` down to this residual (or until a step no longer
  // reduces ||F||), so that the point, and J's eigenvalues at it, are accurate.
  double target = 1e-13;
  int max_iterations = 50;
};

struct NewtonFixedPoint {
  std::vector<double> y;        // the last iterate, in [0,1]^N
  double start_residual = 0.0;  // max_i |F_i| at the start
  double residual = 0.0;        // max_i |F_i| at y
  int iterations = 0;           // Newton steps taken
  bool converged = false;       // residual <= tolerance
};

// max_i |F_i(y)|.
double fixed_point_residual(const Matrix& weights, const std::vector<double>& y);

// Damped, projected Newton on F(y) = 0 from `start` (clamped into [0,1]^N): the step d
// solves J(y) d = -F(y), J = residual_ode_jacobian (with the negligible coupling of rows
// on a face dropped, so that only the free components need an LU); the step length halves (down to 2^-30)
// until ||F||_2 falls (Armijo's condition with factor 1e-4, Nocedal & Wright §3.1), each
// trial clamped to [0,1]^N, whose faces hold F's saturated roots y_i = 0 and y_i = 1.
// Stops at `target`, after max_iterations, at a singular J, or when no step length
// reduces ||F||_2. Throws Error if the sizes differ.
NewtonFixedPoint newton_fixed_point(const Matrix& weights, const std::vector<double>& start,
                                    const NewtonOptions& options = {});

// Groups points into distinct ones: point k joins the first earlier representative within
// max_i |y_i - r_i| <= distance, else becomes a representative itself. Returns, per point,
// the index of its representative's group (0, 1, ... in order of first appearance).
std::vector<int> distinct_point_groups(const std::vector<std::vector<double>>& points, double distance);

}  // namespace resdyn
