// t-SNE (van der Maaten & Hinton 2008) with the Barnes-Hut gradient of van der Maaten
// (2014), written from the papers. It lays out x(T) for the workshop version's fig. 1D.
// Lagzi names no settings; the defaults are the usual ones: perplexity 30, 1000
// iterations, early exaggeration 12 for the first 250, momentum 0.5 then 0.8, learning
// rate max(200, n / 12), initialisation from the first two principal components scaled
// to standard deviation 1e-4, exact gradients up to a few thousand points and
// Barnes-Hut (theta 0.5) beyond.
//
// Input similarities: each point's conditional distribution p_{j|i} is a Gaussian over
// its nearest neighbours (3 x perplexity of them, or all other points), with the width
// found by binary search so that its entropy is log(perplexity); P is the symmetrised
// (p_{j|i} + p_{i|j}) / 2n. Output similarities: Student-t, q_ij = w_ij / Z with
// w_ij = 1 / (1 + |y_i - y_j|^2), Z = sum over k != l of w_kl. The gradient of
// KL(P || Q) is
//   dC/dy_i = 4 sum_j (p_ij - q_ij) w_ij (y_i - y_j)
//           = 4 [ sum_j p_ij w_ij (y_i - y_j)  -  (1/Z) sum_j w_ij^2 (y_i - y_j) ],
// an attractive sum over the sparse P and a repulsive sum over all pairs, which is
// either summed exactly (O(n^2)) or approximated on a quadtree.
#pragma once

#include <cstdint>
#include <vector>

#include "analysis/point_set.h"
#include "analysis/sparse_graph.h"

namespace resdyn {

enum class TsneInit { Pca, Random };

struct TsneOptions {
  double perplexity = 30;
  int neighbors = 0;  // points per conditional distribution; 0 = min(n - 1, 3 x perplexity)
  int iterations = 1000;
  double exaggeration = 12;           // P is multiplied by this ...
  int exaggeration_iterations = 250;  // ... for the first iterations
  double momentum_early = 0.5;        // during the exaggeration, then
  double momentum_late = 0.8;
  double learning_rate = 0;  // 0 = max(200, n / 12)
  TsneInit init = TsneInit::Pca;
  double init_std = 1e-4;  // standard deviation of the first initial coordinate
  int exact_max = 3000;    // exact gradient up to this many points, Barnes-Hut beyond
  double theta = 0.5;      // Barnes-Hut opening criterion (side / distance)
  uint64_t seed = 1;       // random initialisation; PCA's start vectors
  int threads = 1;
};

struct TsneResult {
  Embedding embedding;
  bool barnes_hut = false;
  int neighbors = 0;
  double learning_rate = 0;
  double kl_divergence = 0;      // KL(P || Q) of the final layout, Q summed exactly
  double max_entropy_error = 0;  // max over points of |H(p_{.|i}) - log(perplexity)|
};

TsneResult tsne(const PointSet& points, const TsneOptions& options);

// --- The steps, exposed for the tests. ---

struct PerplexityFit {
  double beta = 0;     // precision 1 / (2 sigma^2) of the Gaussian
  double entropy = 0;  // H(p) = -sum p log p, in nats
  int steps = 0;
};

// p_j = exp(-beta d_j) / sum_k exp(-beta d_k) over m squared distances d, with beta
// found by bisection so that H(p) = log(perplexity) within `tolerance` (or as close as
// 200 steps get). Writes p (m values).
PerplexityFit calibrate_perplexity(const double* squared_distances, int m, double perplexity, double* p,
                                   double tolerance = 1e-10);

// P (symmetric, summing to 1) from the points' neighbour lists; the largest entropy
// error of the calibrations goes to *max_entropy_error when given.
SparseGraph tsne_affinities(const NeighborLists& lists, double perplexity, int threads,
                            double* max_entropy_error = nullptr);

// The gradient of KL(P || Q) with P multiplied by `exaggeration`, at the layout y (2n
// values, interleaved x, y), into grad (2n values): exact when theta < 0, else
// Barnes-Hut with that theta.
void tsne_gradient(const SparseGraph& p, const std::vector<double>& y, double exaggeration, double theta, int threads,
                   std::vector<double>& grad);

// KL(P || Q) at the layout y, with Z summed over all pairs.
double tsne_kl_divergence(const SparseGraph& p, const std::vector<double>& y, int threads);

}  // namespace resdyn
