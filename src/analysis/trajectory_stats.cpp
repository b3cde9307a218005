// Class mean and spread of the residuals, layer by layer; see trajectory_stats.h.
#include "analysis/trajectory_stats.h"

#include <stdexcept>

namespace resdyn {

void TrajectoryStats::add_layer(const ClassProfile& profile) {
  if (profile.classes != classes_) throw std::logic_error("TrajectoryStats: class count changed between layers");
  for (int c = 0; c < classes_; ++c) {
    // Every neuron has the same samples, so the mean over samples and neurons is the mean
    // over neurons of the per-neuron means.
    double mean = 0, spread = 0;
    for (int i = 0; i < profile.width; ++i) {
      mean += profile.mean_at(c, i);
      spread += profile.stddev_at(c, i);
    }
    mean_.push_back(mean / profile.width);
    spread_.push_back(spread / profile.width);
  }
}

std::optional<int> first_layer_spread_below(const TrajectoryStats& stats, double threshold) {
  std::optional<int> first;
  for (int t = stats.layers(); t >= 1; --t) {
    for (int c = 0; c < stats.classes(); ++c)
      if (!(stats.spread(c, t) < threshold)) return first;
    first = t;
  }
  return first;
}

}  // namespace resdyn
