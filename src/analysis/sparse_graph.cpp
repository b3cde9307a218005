// Symmetrising a kNN graph; see sparse_graph.h.
#include "analysis/sparse_graph.h"

#include <algorithm>
#include <utility>

namespace resdyn {

SparseGraph symmetrize(const NeighborLists& lists, const std::vector<double>& directed,
                       FunctionRef<double(double, double)> combine) {
  const int n = lists.count, k = lists.k;
  // Every directed edge, in both orientations, tagged with which way it points:
  // (row, column, weight as row -> column, weight as column -> row).
  struct Entry {
    int row, col;
    double forward, backward;
  };
  std::vector<Entry> entries;
  entries.reserve(size_t(n) * k * 2);
  for (int i = 0; i < n; ++i)
    for (int r = 0; r < k; ++r) {
      const int j = lists.neighbors(i)[r];
      const double w = directed[size_t(i) * k + r];
      entries.push_back({i, j, w, 0.0});
      entries.push_back({j, i, 0.0, w});
    }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.row < b.row || (a.row == b.row && a.col < b.col); });
  SparseGraph graph;
  graph.count = n;
  graph.row_start.assign(size_t(n) + 1, 0);
  for (size_t e = 0; e < entries.size();) {
    // Merge the (at most two) entries of one (row, column) pair.
    double forward = 0, backward = 0;
    size_t f = e;
    for (; f < entries.size() && entries[f].row == entries[e].row && entries[f].col == entries[e].col; ++f) {
      forward += entries[f].forward;
      backward += entries[f].backward;
    }
    graph.column.push_back(entries[e].col);
    graph.weight.push_back(combine(forward, backward));
    graph.row_start[size_t(entries[e].row) + 1] += 1;
    e = f;
  }
  for (int i = 0; i < n; ++i) graph.row_start[size_t(i) + 1] += graph.row_start[size_t(i)];
  return graph;
}

}  // namespace resdyn
