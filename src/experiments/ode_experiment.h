// The small-N fixed-point experiment (`resdyn ode`, paper §4 after eq. 3): enumerate the
// fixed points of the residual ODE dy/dt = y (1 - y) (W y) for one weight matrix, classify
// them, and check where RK4 trajectories from random starts in (0,1)^N come to rest.
//
// The paper states that eq. 3 has 3^N possible fixed points, of which only some are stable,
// and that the residuals converge to a stable one if there is one; it shows no small case.
// This experiment checks the statement exactly for N <= 12: every candidate (each y_i is 0,
// 1, or solves (W y)_i = 0) is found, kept if it lies in [0,1]^N, and classified by the
// eigenvalues of the Jacobian J(y) = diag((1 - 2y)(W y)) + diag(y(1 - y)) W as stable,
// unstable, saddle or non-hyperbolic; then `starts` (default 100) trajectories from uniform
// random starts are integrated until they arrive at a stable point or run out of steps.
// W has normal entries of mean 0 and variance 1/N drawn from the seed (default 1), or is
// read from a CSV; the starts come from the same generator. Definitions: analysis/residual_ode.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/residual_ode.h"

namespace resdyn {

struct OdeExperimentOptions {
  int width = 8;      // N, 1..12; ignored when weights_csv is given
  uint64_t seed = 1;  // draws W (unless weights_csv is given), then the starts
  // Optional: read W from this CSV (N lines of N comma-separated numbers) instead of
  // drawing it.
  std::string weights_csv;
  int starts = 100;              // number of random starts
  long long max_steps = 200000;  // RK4 step budget per start
  std::string out_dir;           // created if missing
};

struct OdeExperimentResult {
  int width = 0;
  std::string weights_source;  // how W was obtained, as written to summary.json
  Matrix weights;
  FixedPointSearch search;
  int stable = 0, unstable = 0, saddle = 0, non_hyperbolic = 0;  // fixed points per class
  double step = 0.0;                                             // RK4 step used
  std::vector<Trajectory> trajectories;
  int reached_stable = 0, lingering_near_non_stable = 0, at_rest_elsewhere = 0, not_converged = 0;
  std::vector<std::string> files;  // every file written, in order
};

// Writes to options.out_dir (each file atomically: a temporary name, then a rename):
//   weights.csv       W, one row per line, so a random W can be fed back via weights_csv
//   fixed_points.csv  index, y_0..y_N-1, class, max_real_eigenvalue
//   trajectories.csv  start_index, ended_at (fixed-point index or -1), nearest_fixed_point,
//                     final_distance, steps, outcome, end_y_0..end_y_N-1
//   summary.json      the enumeration's bookkeeping, counts per class, trajectory outcomes
// Throws resdyn::Error for bad options, an unreadable CSV or an unwritable directory.
OdeExperimentResult run_ode_experiment(const OdeExperimentOptions& options);

}  // namespace resdyn
