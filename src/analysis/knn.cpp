// Exact k-nearest neighbours; see knn.h.
#include "analysis/knn.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "analysis/parallel_chunks.h"
#include "resdyn.h"

namespace resdyn {

namespace {

void check_k(int k, int count, const char* where) {
  if (k < 1 || k >= count)
    throw Error(std::string(where) + ": " + std::to_string(k) + " neighbours need at least " + std::to_string(k + 1) +
                " points, got " + std::to_string(count));
}

// (squared distance, index) pairs, nearest first, ties by index.
bool nearer(const std::pair<double, int>& a, const std::pair<double, int>& b) {
  return a.first < b.first || (a.first == b.first && a.second < b.second);
}

}  // namespace

void select_nearest(const DistanceScreen& screen, int i, const double* approx, double tolerance, int k, int* index,
                    double* squared_distance) {
  const int n = screen.count();
  // The k-th smallest approximate distance among the others. Each of those k points is
  // exactly within kth + tolerance, so every true k-nearest neighbour is approximately
  // within kth + 2 tolerance: that band holds all candidates, which are then decided exactly.
  std::vector<double> others;
  others.reserve(size_t(n));
  for (int l = 0; l < n; ++l)
    if (l != i) others.push_back(approx[l]);
  std::nth_element(others.begin(), others.begin() + (k - 1), others.end());
  const double limit = others[size_t(k - 1)] + 2.0 * tolerance;
  std::vector<std::pair<double, int>> candidates;
  for (int l = 0; l < n; ++l)
    if (l != i && approx[l] <= limit) candidates.emplace_back(tolerance > 0 ? screen.exact(i, l) : approx[l], l);
  std::partial_sort(candidates.begin(), candidates.begin() + k, candidates.end(), nearer);
  for (int r = 0; r < k; ++r) {
    index[r] = candidates[size_t(r)].second;
    squared_distance[r] = candidates[size_t(r)].first;
  }
}

NeighborLists nearest_neighbors(const PointSet& points, int k, int threads) {
  check_k(k, points.count, "nearest neighbours");
  NeighborLists lists;
  lists.count = points.count;
  lists.k = k;
  lists.index.resize(size_t(points.count) * k);
  lists.distance.resize(size_t(points.count) * k);
  const DistanceScreen screen(points, threads);
  screen.for_each_row([&](int i, const double* approx, double tolerance) {
    const size_t at = size_t(i) * k;
    select_nearest(screen, i, approx, tolerance, k, &lists.index[at], &lists.distance[at]);
    for (int r = 0; r < k; ++r) lists.distance[at + r] = std::sqrt(lists.distance[at + r]);
  });
  return lists;
}

NeighborLists nearest_neighbors(const Embedding& embedding, int k, int threads) {
  const int n = embedding.count;
  check_k(k, n, "nearest neighbours in the embedding");
  NeighborLists lists;
  lists.count = n;
  lists.k = k;
  lists.index.resize(size_t(n) * k);
  lists.distance.resize(size_t(n) * k);
  const double* xy = embedding.xy.data();
  parallel_chunks(threads, n, 64, [&](int begin, int end) {
    std::vector<std::pair<double, int>> row;
    for (int i = begin; i < end; ++i) {
      row.clear();
      for (int l = 0; l < n; ++l) {
        if (l == i) continue;
        const double dx = xy[2 * i] - xy[2 * l], dy = xy[2 * i + 1] - xy[2 * l + 1];
        row.emplace_back(dx * dx + dy * dy, l);
      }
      std::nth_element(row.begin(), row.begin() + (k - 1), row.end(), nearer);
      std::sort(row.begin(), row.begin() + k, nearer);
      for (int r = 0; r < k; ++r) {
        lists.index[size_t(i) * k + r] = row[size_t(r)].second;
        lists.distance[size_t(i) * k + r] = std::sqrt(row[size_t(r)].first);
      }
    }
  });
  return lists;
}

}  // namespace resdyn
