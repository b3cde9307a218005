// The point clouds the embeddings work on: high-dimensional points (hidden states of a
// network, one row per test sample) and their 2-D layouts.
#pragma once

#include <cstddef>
#include <vector>

namespace resdyn {

// count points in dim dimensions, row-major: point i is values[i*dim .. i*dim + dim).
// Float, because the hidden states come from a Net<float>; all arithmetic on them is
// done in double.
struct PointSet {
  int count = 0;
  int dim = 0;
  std::vector<float> values;

  const float* point(int i) const { return values.data() + size_t(i) * size_t(dim); }
};

// A 2-D layout of count points: point i sits at (xy[2i], xy[2i+1]).
struct Embedding {
  int count = 0;
  std::vector<double> xy;
};

}  // namespace resdyn
