// UMAP (McInnes, Healy & Melville 2018), written from the paper; it lays out trajectories for
// Lagzi's fig. 6A (appendix C), which names no settings. Defaults are UMAP's usual ones:
// 15 neighbours, min_dist 0.1, 2-D, 500 epochs up to 10,000 points (200 beyond),
// spectral initialisation.
//
//  1. Neighbours: the exact k-nearest neighbours; as in the paper, the neighbourhood
//     size counts the point itself, so each point has n_neighbors - 1 others.
//  2. Fuzzy simplicial set: for point i, rho_i = distance to its nearest neighbour and
//     sigma_i solves sum_j exp(-(d_ij - rho_i)_+ / sigma_i) = log2(n_neighbors) (smooth
//     kNN calibration); membership i -> j is exp(-(d_ij - rho_i)_+ / sigma_i), and the
//     two directions combine by the fuzzy union a + b - a b.
//  3. Layout: low-dimensional similarity 1 / (1 + a d^(2b)), with a, b fitted by least
//     squares to 1 below min_dist and exp(-(d - min_dist) / spread) above. Stochastic
//     gradient descent on the fuzzy cross-entropy: every edge is sampled in proportion
//     to its weight and pulls its ends together; each sample also pushes its head away
//     from negative_sample_rate random points. Gradient components are clipped to
//     [-4, 4]; the learning rate falls linearly to 0 over the epochs.
//  4. Initialisation: the eigenvectors of the 2nd and 3rd smallest eigenvalues of the
//     graph's normalised Laplacian I - D^-1/2 W D^-1/2 (a spectral embedding), or
//     seeded uniform random; either way each coordinate is mapped onto [0, 10].
// The SGD runs on one thread in a fixed order with one seeded generator, so the layout
// is the same on any thread count (the neighbours and the eigenvectors use threads).
#pragma once

#include <cstdint>
#include <vector>

#include "analysis/point_set.h"
#include "analysis/sparse_graph.h"

namespace resdyn {

enum class UmapInit { Spectral, Random };

struct UmapOptions {
  int neighbors = 15;  // neighbourhood size, counting the point itself
  double min_dist = 0.1;
  double spread = 1.0;
  int epochs = 0;  // 0 = 500 up to 10,000 points, 200 beyond
  double learning_rate = 1.0;
  double negative_sample_rate = 5;
  UmapInit init = UmapInit::Spectral;
  uint64_t seed = 1;
  int threads = 1;
};

struct UmapCurve {
  double a = 0, b = 0;
};

struct UmapResult {
  Embedding embedding;
  UmapCurve curve;
  int epochs = 0;
  int edges = 0;                    // directed edges of the graph that are sampled
  bool spectral_converged = false;  // the eigen-solver reached its tolerance
  double spectral_residual = 0;
};

UmapResult umap(const PointSet& points, const UmapOptions& options);

// --- The steps, exposed for the tests. ---

// a, b minimising sum over 300 points d in [0, 3 spread] of
// (1 / (1 + a d^(2b)) - f(d))^2, f(d) = 1 for d < min_dist, exp(-(d - min_dist) / spread)
// beyond; by Levenberg-Marquardt from a = b = 1.
UmapCurve fit_umap_curve(double min_dist, double spread);

// The sum the least-squares fit above minimises, at (a, b).
double umap_curve_misfit(double a, double b, double min_dist, double spread);

struct SmoothKnn {
  double rho = 0;  // distance to the nearest neighbour at a positive distance
  double sigma = 0;
};

// rho and sigma for one point from its m neighbour distances (ascending):
// sum_j exp(-(d_j - rho)_+ / sigma) = target, by bisection on sigma, with sigma kept
// at least 1e-3 x the mean neighbour distance (so that a point whose neighbours all sit
// at the same distance does not get a vanishing width).
SmoothKnn smooth_knn(const double* distances, int m, double target);

// The fuzzy simplicial set over the neighbour lists (each point's k = n_neighbors - 1
// others): symmetric, weights in (0, 1].
SparseGraph fuzzy_simplicial_set(const NeighborLists& lists, int threads);

// Two coordinates per point (interleaved) from the spectral embedding of the graph;
// eigen-solver details to *converged / *residual when given.
std::vector<double> spectral_layout(const SparseGraph& graph, uint64_t seed, int threads, bool* converged = nullptr,
                                    double* residual = nullptr);

}  // namespace resdyn
