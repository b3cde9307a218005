// The trajectory statistics (paper §6, fig. 2; workshop fig. 1A/B), gathered one layer at
// a time so that memory does not grow with the depth of an unrolled net:
//   mean_c(t)   = mean over class-c samples and over neurons of y_i(t)
//   spread_c(t) = mean over neurons of the standard deviation across class-c samples of y_i(t)
// (h(t) in place of y(t) for an MLP; population standard deviation). The paper plots "the
// mean and standard deviation of the residuals" without saying how it pools neurons; these
// are our one-number-per-layer readings of its figures.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "analysis/class_profile.h"

namespace resdyn {

class TrajectoryStats {
 public:
  explicit TrajectoryStats(int classes = 0) : classes_(classes) {}

  // Appends layer layers() + 1 from that layer's class profile.
  void add_layer(const ClassProfile& profile);

  int classes() const { return classes_; }
  int layers() const { return int(mean_.size()) / (classes_ > 0 ? classes_ : 1); }
  double mean(int c, int t) const { return mean_[size_t(t - 1) * classes_ + c]; }      // t = 1..layers()
  double spread(int c, int t) const { return spread_[size_t(t - 1) * classes_ + c]; }  // t = 1..layers()

 private:
  int classes_;
  std::vector<double> mean_, spread_;  // layers x classes
};

// The first layer t from which every class's spread stays below `threshold` (t..layers()),
// or nothing when the deepest layer is not below it. A NaN spread is never below.
std::optional<int> first_layer_spread_below(const TrajectoryStats& stats, double threshold);

}  // namespace resdyn
