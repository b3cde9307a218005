// Per-class, per-neuron mean and standard deviation of one layer; see class_profile.h.
#include "analysis/class_profile.h"

#include <cmath>
#include <limits>

namespace resdyn {

void class_profile(const float* block, int width, const ClassGroups& groups, ClassProfile& out) {
  const int classes = groups.classes();
  out.classes = classes;
  out.width = width;
  out.mean.assign(size_t(classes) * width, 0.0);
  out.stddev.assign(size_t(classes) * width, 0.0);
  for (int c = 0; c < classes; ++c) {
    double* mean = &out.mean[size_t(c) * width];
    double* stddev = &out.stddev[size_t(c) * width];
    const int count = groups.size(c);
    if (count == 0) {
      for (int i = 0; i < width; ++i) mean[i] = stddev[i] = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    for (int r = groups.begin(c); r < groups.end(c); ++r) {
      const float* row = block + size_t(r) * width;
      for (int i = 0; i < width; ++i) mean[i] += row[i];
    }
    for (int i = 0; i < width; ++i) mean[i] /= count;
    for (int r = groups.begin(c); r < groups.end(c); ++r) {
      const float* row = block + size_t(r) * width;
      for (int i = 0; i < width; ++i) {
        const double d = row[i] - mean[i];
        stddev[i] += d * d;
      }
    }
    for (int i = 0; i < width; ++i) stddev[i] = std::sqrt(stddev[i] / count);
  }
}

}  // namespace resdyn
