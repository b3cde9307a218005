// Samples grouped by class: the dynamics probes (transient_dynamics.h) run one batch whose
// rows are sorted by class, so class c occupies the contiguous rows [begin(c), end(c)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "resdyn.h"

namespace resdyn {

struct ClassGroups {
  std::vector<int> offsets{0};  // classes + 1 entries, offsets[0] = 0, non-decreasing

  // Groups of the given sizes, in class order.
  static ClassGroups from_sizes(const std::vector<int>& sizes) {
    ClassGroups g;
    for (int size : sizes) g.offsets.push_back(g.offsets.back() + size);
    return g;
  }
  // The groups of labels sorted by class (as first_per_class leaves a data set). Throws
  // Error if they are not sorted or one is outside 0..classes-1.
  static ClassGroups from_sorted_labels(const std::vector<uint8_t>& labels, int classes) {
    std::vector<int> sizes(static_cast<size_t>(classes), 0);
    for (size_t s = 0; s < labels.size(); ++s) {
      if (labels[s] >= classes || (s > 0 && labels[s] < labels[s - 1]))
        throw Error("samples must be sorted by label, within " + std::to_string(classes) + " classes (sample " +
                    std::to_string(s) + " has label " + std::to_string(labels[s]) + ")");
      ++sizes[labels[s]];
    }
    return from_sizes(sizes);
  }
  int classes() const { return int(offsets.size()) - 1; }
  int begin(int c) const { return offsets[size_t(c)]; }
  int end(int c) const { return offsets[size_t(c) + 1]; }
  int size(int c) const { return end(c) - begin(c); }
  int total() const { return offsets.back(); }
};

}  // namespace resdyn
