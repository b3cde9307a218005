// Exact k-nearest neighbours, in the original space (through DistanceScreen) and in a
// 2-D embedding. Every neighbour list in resdyn uses the same order: by distance, ties by
// the smaller point index; a point is never its own neighbour.
#pragma once

#include <vector>

#include "analysis/pairwise_distance.h"
#include "analysis/point_set.h"

namespace resdyn {

// Row i holds the k neighbours of point i, nearest first:
// index[i*k + r] and its Euclidean distance distance[i*k + r].
struct NeighborLists {
  int count = 0;
  int k = 0;
  std::vector<int> index;
  std::vector<double> distance;

  const int* neighbors(int i) const { return index.data() + size_t(i) * size_t(k); }
  const double* distances(int i) const { return distance.data() + size_t(i) * size_t(k); }
};

// The k nearest neighbours of every point (1 <= k < count); throws resdyn::Error otherwise.
NeighborLists nearest_neighbors(const PointSet& points, int k, int threads);

// The same for a 2-D embedding, in double.
NeighborLists nearest_neighbors(const Embedding& embedding, int k, int threads);

// The k nearest neighbours of point i from one row of a DistanceScreen (see
// DistanceScreen::for_each_row): writes k indices and their exact squared distances.
void select_nearest(const DistanceScreen& screen, int i, const double* approx, double tolerance, int k, int* index,
                    double* squared_distance);

}  // namespace resdyn
