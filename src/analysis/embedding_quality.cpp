// kNN class agreement and trustworthiness; see embedding_quality.h.
#include "analysis/embedding_quality.h"

#include <algorithm>
#include <string>

#include "analysis/knn.h"
#include "analysis/pairwise_distance.h"
#include "resdyn.h"

namespace resdyn {

double knn_class_agreement(const Embedding& embedding, const std::vector<int>& labels, int k, int threads) {
  const int n = embedding.count;
  if (int(labels.size()) != n)
    throw Error("kNN agreement: " + std::to_string(labels.size()) + " labels for " + std::to_string(n) + " points");
  const NeighborLists near = nearest_neighbors(embedding, k, threads);
  double total = 0;
  for (int i = 0; i < n; ++i) {
    int same = 0;
    for (int r = 0; r < k; ++r) same += labels[size_t(near.neighbors(i)[r])] == labels[size_t(i)];
    total += double(same) / k;
  }
  return total / n;
}

double trustworthiness(const PointSet& original, const Embedding& embedding, int k, int threads) {
  const int n = original.count;
  if (embedding.count != n)
    throw Error("trustworthiness: the embedding has " + std::to_string(embedding.count) + " points, the data " +
                std::to_string(n));
  if (k < 1 || 2.0 * n - 3.0 * k - 1.0 <= 0)
    throw Error("trustworthiness: k = " + std::to_string(k) + " needs 2n - 3k - 1 > 0, n = " + std::to_string(n));
  const NeighborLists low = nearest_neighbors(embedding, k, threads);
  const DistanceScreen screen(original, threads);
  std::vector<double> penalty(size_t(n), 0.0);
  screen.for_each_row([&](int i, const double* approx, double tolerance) {
    std::vector<int> high(static_cast<size_t>(k));
    std::vector<double> unused(static_cast<size_t>(k));
    select_nearest(screen, i, approx, tolerance, k, high.data(), unused.data());
    double sum = 0;
    for (int r = 0; r < k; ++r) {
      const int j = low.neighbors(i)[r];
      if (std::find(high.begin(), high.end(), j) != high.end()) continue;
      // r(i, j) = 1 + the number of points before j in i's original-space order.
      // Approximate distances decide where the bound allows; the rest exactly.
      const double dij = tolerance > 0 ? screen.exact(i, j) : approx[j];
      long before = 0;
      for (int l = 0; l < n; ++l) {
        if (l == i || l == j) continue;
        if (approx[l] < dij - tolerance) {
          ++before;
        } else if (approx[l] <= dij + tolerance) {
          const double dil = tolerance > 0 ? screen.exact(i, l) : approx[l];
          before += dil < dij || (dil == dij && l < j);
        }
      }
      sum += double(before + 1 - k);
    }
    penalty[size_t(i)] = sum;
  });
  double total = 0;
  for (double p : penalty) total += p;
  return 1.0 - 2.0 / (double(n) * k * (2.0 * n - 3.0 * k - 1.0)) * total;
}

}  // namespace resdyn
