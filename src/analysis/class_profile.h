// Per class and per neuron: the mean and the standard deviation over the class's samples
// of one layer's activity. The trajectory statistics (paper fig. 2, trajectory_stats.h)
// average it over neurons; at the deepest layer it is the final-layer profile (paper fig. 5,
// appendix B).
#pragma once

#include <cstddef>
#include <vector>

#include "analysis/class_groups.h"

namespace resdyn {

struct ClassProfile {
  int classes = 0, width = 0;
  std::vector<double> mean;    // classes x width: mean over the class's samples
  std::vector<double> stddev;  // classes x width: population standard deviation (divides by the count)

  double mean_at(int c, int i) const { return mean[size_t(c) * width + i]; }
  double stddev_at(int c, int i) const { return stddev[size_t(c) * width + i]; }
};

// The profile of `block` (groups.total() rows of `width` values, rows grouped by class).
// Two passes (mean, then squared deviations from it) so that a spread of 1e-6 next to
// values near 1 is not lost to cancellation. A class without samples gets NaN.
void class_profile(const float* block, int width, const ClassGroups& groups, ClassProfile& out);

}  // namespace resdyn
