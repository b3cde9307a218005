// The per-class sample sets of every analysis; see class_samples.h.
#include "analysis/class_samples.h"

#include <string>
#include <vector>

namespace resdyn {

Dataset first_per_class(const Dataset& data, int per_class, int classes) {
  if (per_class < 1) throw Error("samples per class must be at least 1 (got " + std::to_string(per_class) + ")");
  const size_t pixels = size_t(data.rows) * data.cols;
  std::vector<std::vector<int>> chosen(static_cast<size_t>(classes));
  for (int i = 0; i < data.count; ++i) {
    const int label = data.labels[size_t(i)];
    if (label >= classes)
      throw Error("sample " + std::to_string(i) + " has label " + std::to_string(label) + " but the network has " +
                  std::to_string(classes) + " classes");
    std::vector<int>& mine = chosen[size_t(label)];
    if (int(mine.size()) < per_class) mine.push_back(i);
  }
  Dataset out;
  out.rows = data.rows;
  out.cols = data.cols;
  for (const std::vector<int>& indices : chosen) {
    for (int i : indices) {
      out.images.insert(out.images.end(), data.images.begin() + long(size_t(i) * pixels),
                        data.images.begin() + long(size_t(i + 1) * pixels));
      out.labels.push_back(data.labels[size_t(i)]);
    }
  }
  out.count = int(out.labels.size());
  return out;
}

}  // namespace resdyn
