// How faithful a 2-D embedding is: the two figures `resdyn embed` prints with every layout.
// They are ours: the paper judges its layouts (fig. 6A, workshop fig. 1D) by eye.
#pragma once

#include <vector>

#include "analysis/point_set.h"

namespace resdyn {

// The fraction of each point's k nearest neighbours in the embedding that share its
// class, averaged over points (k = 10 in the summaries). Throws resdyn::Error when the
// labels do not match the points or k is not in [1, n).
double knn_class_agreement(const Embedding& embedding, const std::vector<int>& labels, int k, int threads);

// Trustworthiness (Venna & Kaski 2001) with k neighbours:
//   T(k) = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in U_k(i)} (r(i, j) - k),
// U_k(i): the k nearest neighbours of i in the embedding that are not among its k
// nearest in the original space; r(i, j): the rank of j by distance from i in the
// original space (nearest = 1; ties by index, as everywhere in resdyn). 1 means no
// point is brought close that was far. Needs 2n - 3k - 1 > 0.
double trustworthiness(const PointSet& original, const Embedding& embedding, int k, int threads);

}  // namespace resdyn
