// Squared Euclidean distances from every point to every other point of a PointSet, fast
// where they only need to be roughly right and exact where a decision depends on them.
//
// For high-dimensional points one float GEMM per block of rows gives all squared
// distances as |a|^2 + |b|^2 - 2 a.b (on centred data, to keep the cancellation small),
// together with a bound on the error of each value. A caller that compares distances
// (nearest-neighbour selection, ranks) recomputes in double only the few comparisons
// the bound leaves in doubt, so every decision is the one exact double arithmetic on the
// original points would take, whatever the GEMM's rounding. Low-dimensional points are
// done in double directly (bound 0).
#pragma once

#include <vector>

#include "analysis/point_set.h"
#include "resdyn.h"

namespace resdyn {

class DistanceScreen {
 public:
  // Keeps a reference to points, which must outlive the screen.
  DistanceScreen(const PointSet& points, int threads);

  int count() const { return points_.count; }

  // Calls visit(i, approx, tolerance) once for every point i, from up to `threads`
  // threads at once (rows are independent, so the outcome does not depend on them).
  // approx[l] is the squared distance from i to l (approx[i] is about 0), and
  // |approx[l] - exact(i, l)| <= tolerance for every l.
  void for_each_row(FunctionRef<void(int i, const double* approx, double tolerance)> visit) const;

  // The squared distance in double, summed over the coordinates of the original points.
  double exact(int i, int l) const;

 private:
  const PointSet& points_;
  int threads_;
  bool direct_;                 // low dimension: no GEMM, approx is exact
  std::vector<float> centred_;  // points minus their mean (GEMM path only)
  std::vector<double> norms_;   // |centred point|^2
  double max_norm_ = 0;
  double error_per_norm_ = 0;  // tolerance of row i = error_per_norm_ * (norm_i + max_norm_)
};

}  // namespace resdyn
