// Weighted graphs on the points of an embedding, stored as compressed sparse rows: the
// t-SNE input similarities P and the UMAP fuzzy simplicial set.
#pragma once

#include <vector>

#include "analysis/knn.h"
#include "resdyn.h"

namespace resdyn {

// Row i's edges are column[row_start[i] .. row_start[i+1]) with their weights, columns
// in increasing order.
struct SparseGraph {
  int count = 0;
  std::vector<int> row_start;  // count + 1 entries
  std::vector<int> column;
  std::vector<double> weight;

  int edges() const { return int(column.size()); }
};

// The symmetric graph over the union of the directed kNN edges i -> j with weights
// directed[i*k + r] (r-th neighbour of i): edge {i, j} gets combine(w(i->j), w(j->i)),
// where a direction that is not a kNN edge has weight 0; combine must be symmetric in
// its two arguments, so that both stored directions i -> j and j -> i get the same
// weight.
SparseGraph symmetrize(const NeighborLists& lists, const std::vector<double>& directed,
                       FunctionRef<double(double forward, double backward)> combine);

}  // namespace resdyn
