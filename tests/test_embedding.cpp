// The embeddings (paper fig. 6A, workshop fig. 1D): t-SNE and UMAP and their building
// blocks (neighbours, eigen-solvers, PCA, perplexity and smooth-kNN calibration, the a, b
// curve, the gradients), and the quality figures, against hand-computed values, naive
// loops, finite differences and closed forms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "analysis/embedding_quality.h"
#include "analysis/knn.h"
#include "analysis/pca.h"
#include "analysis/quadtree.h"
#include "analysis/symmetric_eigen.h"
#include "analysis/tsne.h"
#include "analysis/umap.h"
#include "experiments/embed_experiment.h"
#include "resdyn.h"
#include "test_paths.h"

using namespace resdyn;

namespace {

// `clusters` Gaussian blobs of `per_cluster` points in `dim` dimensions: centres drawn
// with standard deviation `separation`, points around them with deviation 1.
PointSet gaussian_clusters(int clusters, int per_cluster, int dim, double separation, uint64_t seed,
                           std::vector<int>* labels) {
  Rng rng(seed);
  std::vector<double> centres(size_t(clusters) * dim);
  for (double& c : centres) c = separation * rng.normal();
  PointSet points;
  points.count = clusters * per_cluster;
  points.dim = dim;
  for (int i = 0; i < points.count; ++i) {
    const int c = i % clusters;  // interleaved, so that order carries no class information
    for (int k = 0; k < dim; ++k) points.values.push_back(float(centres[size_t(c) * dim + k] + rng.normal()));
    if (labels) labels->push_back(c);
  }
  return points;
}

PointSet random_points(int count, int dim, uint64_t seed) {
  Rng rng(seed);
  PointSet points;
  points.count = count;
  points.dim = dim;
  for (int i = 0; i < count * dim; ++i) points.values.push_back(float(rng.normal()));
  return points;
}

double naive_squared_distance(const PointSet& p, int i, int j) {
  double sum = 0;
  for (int k = 0; k < p.dim; ++k) {
    const double d = double(p.point(i)[k]) - double(p.point(j)[k]);
    sum += d * d;
  }
  return sum;
}

// All other points of i sorted by (squared distance, index): the reference order.
std::vector<int> naive_order(const PointSet& p, int i) {
  std::vector<std::pair<double, int>> row;
  for (int j = 0; j < p.count; ++j)
    if (j != i) row.emplace_back(naive_squared_distance(p, i, j), j);
  std::sort(row.begin(), row.end());
  std::vector<int> order;
  for (const auto& e : row) order.push_back(e.second);
  return order;
}

Embedding embedding_on_x_axis(const std::vector<double>& xs) {
  Embedding e;
  e.count = int(xs.size());
  for (double x : xs) {
    e.xy.push_back(x);
    e.xy.push_back(0.0);
  }
  return e;
}

}  // namespace

// ---------------------------------------------------------------------------
// Neighbours
// ---------------------------------------------------------------------------

TEST(Knn, GemmPathMatchesNaiveLoops) {
  // 64 dimensions: the float-GEMM screen with exact re-decisions.
  const PointSet p = random_points(300, 64, 11);
  const NeighborLists lists = nearest_neighbors(p, 12, 2);
  for (int i = 0; i < p.count; ++i) {
    const std::vector<int> order = naive_order(p, i);
    for (int r = 0; r < 12; ++r) {
      ASSERT_EQ(lists.neighbors(i)[r], order[size_t(r)]) << "point " << i << " rank " << r;
      EXPECT_DOUBLE_EQ(lists.distances(i)[r], std::sqrt(naive_squared_distance(p, i, order[size_t(r)])));
    }
  }
}

TEST(Knn, TiesGoToTheSmallerIndex) {
  // Points on a line at 0, 1, 2, 3 (1-D, the direct path): point 1 has 0 and 2 at distance 1.
  PointSet p;
  p.count = 4;
  p.dim = 1;
  p.values = {0, 1, 2, 3};
  const NeighborLists lists = nearest_neighbors(p, 2, 1);
  EXPECT_EQ(lists.neighbors(1)[0], 0);
  EXPECT_EQ(lists.neighbors(1)[1], 2);
  EXPECT_EQ(lists.neighbors(2)[0], 1);
  EXPECT_EQ(lists.neighbors(2)[1], 3);
  EXPECT_THROW(nearest_neighbors(p, 4, 1), Error);
}

TEST(Knn, DuplicatePointsAreNeighboursAtDistanceZero) {
  PointSet p = random_points(50, 40, 3);
  std::copy_n(p.point(7), p.dim, p.values.begin() + 20 * p.dim);  // point 20 = point 7
  const NeighborLists lists = nearest_neighbors(p, 3, 1);
  EXPECT_EQ(lists.neighbors(7)[0], 20);
  EXPECT_EQ(lists.neighbors(20)[0], 7);
  EXPECT_EQ(lists.distances(7)[0], 0.0);
}

// ---------------------------------------------------------------------------
// Quality figures, by hand
// ---------------------------------------------------------------------------

TEST(Quality, KnnAgreementByHand) {
  // x = 0, 1, 3, 6 with classes A, A, B, B.
  const Embedding e = embedding_on_x_axis({0, 1, 3, 6});
  const std::vector<int> labels = {0, 0, 1, 1};
  // k = 1: 0 -> 1 (same), 1 -> 0 (same), 2 -> 1 (d 2 < 3; differs), 3 -> 2 (same): 3/4.
  EXPECT_DOUBLE_EQ(knn_class_agreement(e, labels, 1, 1), 0.75);
  // k = 2: 0 -> {1, 2}: 1/2; 1 -> {0, 2}: 1/2; 2 -> {1, then 0 and 3 tie at 3: 0}: 0/2;
  // 3 -> {2, 1}: 1/2. Mean 1.5 / 4.
  EXPECT_DOUBLE_EQ(knn_class_agreement(e, labels, 2, 2), 0.375);
  EXPECT_THROW(knn_class_agreement(e, {0, 1}, 1, 1), Error);
}

TEST(Quality, TrustworthinessByHand) {
  // Original: 1-D points 0, 1, 2, 3, 4, 5. Embedding: point i at x = 0, 5, 1, 4, 2, 3.
  PointSet original;
  original.count = 6;
  original.dim = 1;
  original.values = {0, 1, 2, 3, 4, 5};
  const Embedding e = embedding_on_x_axis({0, 5, 1, 4, 2, 3});
  // k = 1, 2n - 3k - 1 = 8, factor 2 / (6 * 1 * 8) = 1/24. Nearest in the embedding:
  // 0->2, 1->3, 2->0 (tie 0/4), 3->1 (tie 1/5), 4->2 (tie 2/5), 5->3 (tie 3/4); none is
  // the original nearest (0->1, 1->0, 2->1, 3->2, 4->3, 5->4), original ranks 2, 3, 3,
  // 3, 3, 2: penalties 1+2+2+2+2+1 = 10, T = 1 - 10/24.
  EXPECT_NEAR(trustworthiness(original, e, 1, 1), 1.0 - 10.0 / 24.0, 1e-15);
  // k = 2, factor 2 / (6 * 2 * 5) = 1/30. U_2: 0: {4} rank 4 -> 2; 1: {3, 5} ranks 3, 5
  // -> 1 + 3; 2: {0, 4} ranks 3, 4 -> 1 + 2; 3: {1, 5} ranks 3, 4 -> 1 + 2; 4: {2} rank 3
  // -> 1; 5: none. Total 13, T = 1 - 13/30.
  EXPECT_NEAR(trustworthiness(original, e, 2, 2), 1.0 - 13.0 / 30.0, 1e-15);
  // The identity layout is perfectly trustworthy.
  EXPECT_DOUBLE_EQ(trustworthiness(original, embedding_on_x_axis({0, 1, 2, 3, 4, 5}), 2, 1), 1.0);
  EXPECT_THROW(trustworthiness(original, e, 4, 1), Error);  // 2n - 3k - 1 = -1
}

TEST(Quality, TrustworthinessGemmPathMatchesNaiveFormula) {
  const PointSet p = random_points(120, 48, 5);
  Rng rng(9);
  Embedding e;
  e.count = p.count;
  for (int i = 0; i < p.count; ++i) {  // a poor layout: the first two coordinates plus noise
    e.xy.push_back(p.point(i)[0] + 0.5 * rng.normal());
    e.xy.push_back(p.point(i)[1] + 0.5 * rng.normal());
  }
  const int k = 7, n = p.count;
  double total = 0;
  for (int i = 0; i < n; ++i) {
    const std::vector<int> order = naive_order(p, i);
    std::vector<std::pair<double, int>> low;
    for (int j = 0; j < n; ++j) {
      if (j == i) continue;
      const double dx = e.xy[2 * i] - e.xy[2 * j], dy = e.xy[2 * i + 1] - e.xy[2 * j + 1];
      low.emplace_back(dx * dx + dy * dy, j);
    }
    std::sort(low.begin(), low.end());
    for (int r = 0; r < k; ++r) {
      const int rank = int(std::find(order.begin(), order.end(), low[size_t(r)].second) - order.begin()) + 1;
      if (rank > k) total += rank - k;
    }
  }
  const double expected = 1.0 - 2.0 / (double(n) * k * (2.0 * n - 3.0 * k - 1.0)) * total;
  EXPECT_DOUBLE_EQ(trustworthiness(p, e, k, 2), expected);
  EXPECT_LT(expected, 0.99);  // the case is not trivially perfect
}

// ---------------------------------------------------------------------------
// Eigen-solvers and PCA
// ---------------------------------------------------------------------------

TEST(SymmetricEigen, DenseSolverSolvesARandomMatrix) {
  const int n = 9;
  Rng rng(2);
  std::vector<double> a(size_t(n) * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j) a[size_t(i) * n + j] = a[size_t(j) * n + i] = rng.normal();
  const SymmetricEigen eig = symmetric_eigen(a, n);
  double trace = 0;
  for (int i = 0; i < n; ++i) trace += a[size_t(i) * n + i];
  EXPECT_NEAR(std::accumulate(eig.values.begin(), eig.values.end(), 0.0), trace, 1e-12);
  for (int j = 0; j < n; ++j) {
    if (j > 0) {
      EXPECT_GE(eig.values[size_t(j - 1)], eig.values[size_t(j)]);
    }
    const double* v = &eig.vectors[size_t(j) * n];
    for (int i = 0; i < n; ++i) {
      double av = 0;
      for (int k = 0; k < n; ++k) av += a[size_t(i) * n + k] * v[k];
      EXPECT_NEAR(av, eig.values[size_t(j)] * v[i], 1e-12);
    }
    for (int l = 0; l < n; ++l) {
      double dot = 0;
      for (int i = 0; i < n; ++i) dot += v[i] * eig.vectors[size_t(l) * n + i];
      EXPECT_NEAR(dot, l == j ? 1.0 : 0.0, 1e-12);
    }
  }
}

TEST(SymmetricEigen, DenseSolverOnClosedForms) {
  // tridiag(-1, 2, -1): eigenvalues 2 - 2 cos(k pi / (n + 1)).
  const int n = 30;
  const double pi = std::acos(-1.0);
  std::vector<double> a(size_t(n) * n, 0.0);
  for (int i = 0; i < n; ++i) {
    a[size_t(i) * n + i] = 2;
    if (i + 1 < n) a[size_t(i) * n + i + 1] = a[size_t(i + 1) * n + i] = -1;
  }
  const SymmetricEigen eig = symmetric_eigen(a, n);
  for (int j = 0; j < n; ++j) EXPECT_NEAR(eig.values[size_t(j)], 2 - 2 * std::cos((n - j) * pi / (n + 1)), 1e-13);
  // I + u u^T with |u|^2 = 4: eigenvalue 5 once (along u), 1 repeated n - 1 times.
  std::vector<double> b(size_t(n) * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) b[size_t(i) * n + j] = (i == j ? 1.0 : 0.0) + 4.0 / n;
  const SymmetricEigen rank_one = symmetric_eigen(b, n);
  EXPECT_NEAR(rank_one.values[0], 5.0, 1e-13);
  for (int j = 1; j < n; ++j) EXPECT_NEAR(rank_one.values[size_t(j)], 1.0, 1e-13);
  for (int i = 0; i < n; ++i) EXPECT_NEAR(std::fabs(rank_one.vectors[size_t(i)]), 1 / std::sqrt(double(n)), 1e-13);
}

TEST(SymmetricEigen, KrylovFindsTheTopOfASecondDifferenceMatrix) {
  // tridiag(-1, 2, -1) of size n has eigenvalues 2 - 2 cos(k pi / (n + 1)), k = 1..n,
  // eigenvector k: sin(i k pi / (n + 1)). The top ones crowd together: a hard case.
  const int n = 400;
  const double pi = std::acos(-1.0);
  const auto second_difference = [&](const double* in, double* out, int count) {
    for (int v = 0; v < count; ++v)
      for (int i = 0; i < n; ++i) {
        const double* x = in + size_t(v) * n;
        out[size_t(v) * n + i] = 2 * x[i] - (i > 0 ? x[i - 1] : 0) - (i + 1 < n ? x[i + 1] : 0);
      }
  };
  auto eigenvalue = [&](int k) { return 2 - 2 * std::cos(k * pi / (n + 1)); };
  KrylovOptions options;
  options.tolerance = 1e-10;
  const TopEigen top = top_eigenpairs(n, 3, second_difference, options);
  ASSERT_TRUE(top.converged);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(top.values[size_t(j)], eigenvalue(n - j), 1e-9);
  // Deflating the top eigenvector gives the next ones.
  std::vector<double> top_vector(static_cast<size_t>(n));
  double norm = 0;
  for (int i = 0; i < n; ++i) norm += std::pow(top_vector[size_t(i)] = std::sin((i + 1) * n * pi / (n + 1)), 2);
  for (double& x : top_vector) x /= std::sqrt(norm);
  options.deflate = {top_vector};
  const TopEigen next = top_eigenpairs(n, 2, second_difference, options);
  ASSERT_TRUE(next.converged);
  EXPECT_NEAR(next.values[0], eigenvalue(n - 1), 1e-9);
  EXPECT_NEAR(next.values[1], eigenvalue(n - 2), 1e-9);
  // A repeated eigenvalue (block diagonal of two copies) is found twice.
  const auto doubled = [&](const double* in, double* out, int count) {
    for (int v = 0; v < count; ++v) {
      second_difference(in + size_t(v) * 2 * n, out + size_t(v) * 2 * n, 1);
      second_difference(in + size_t(v) * 2 * n + n, out + size_t(v) * 2 * n + n, 1);
    }
  };
  KrylovOptions plain;
  plain.tolerance = 1e-10;
  const TopEigen twice = top_eigenpairs(2 * n, 2, doubled, plain);
  EXPECT_NEAR(twice.values[0], eigenvalue(n), 1e-9);
  EXPECT_NEAR(twice.values[1], eigenvalue(n), 1e-9);
}

TEST(Pca, MatchesTheEigenvectorsOfTheExplicitCovariance) {
  // Correlated data: z ~ N(0, I) mixed by a fixed random matrix.
  const int n = 400, d = 20;
  Rng rng(4);
  std::vector<double> mix(size_t(d) * d);
  for (double& m : mix) m = rng.normal();
  PointSet p;
  p.count = n;
  p.dim = d;
  for (int i = 0; i < n; ++i) {
    std::vector<double> z(static_cast<size_t>(d));
    for (double& v : z) v = rng.normal() * 3;
    for (int k = 0; k < d; ++k) {
      double x = 5;  // an offset, removed by the centring
      for (int l = 0; l < d; ++l) x += mix[size_t(k) * d + l] * z[size_t(l)];
      p.values.push_back(float(x));
    }
  }
  std::vector<double> mean(static_cast<size_t>(d), 0.0), cov(size_t(d) * d, 0.0);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < d; ++k) mean[size_t(k)] += p.point(i)[k] / double(n);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < d; ++k)
      for (int l = 0; l < d; ++l)
        cov[size_t(k) * d + l] += (p.point(i)[k] - mean[size_t(k)]) * (p.point(i)[l] - mean[size_t(l)]) / (n - 1);
  const SymmetricEigen reference = symmetric_eigen(cov, d);
  const PrincipalComponents pc = principal_components(p, 2, 1, 2);
  ASSERT_TRUE(pc.converged);
  for (int j = 0; j < 2; ++j) {
    EXPECT_NEAR(pc.variances[size_t(j)], reference.values[size_t(j)], 1e-9 * reference.values[0]);
    double dot = 0;
    for (int k = 0; k < d; ++k) dot += pc.axes[size_t(j) * d + k] * reference.vectors[size_t(j) * d + k];
    EXPECT_NEAR(std::fabs(dot), 1.0, 1e-9);
  }
  double score = 0;  // point 0 on axis 0
  for (int k = 0; k < d; ++k) score += (p.point(0)[k] - mean[size_t(k)]) * pc.axes[size_t(k)];
  EXPECT_NEAR(pc.scores[0], score, 1e-9);
}

// ---------------------------------------------------------------------------
// t-SNE
// ---------------------------------------------------------------------------

TEST(Tsne, PerplexityCalibrationHitsTheTargetEntropy) {
  Rng rng(6);
  for (double perplexity : {2.0, 5.0, 30.0, 60.0}) {
    std::vector<double> d(90), p(90);
    for (double& v : d) v = 50 + 400 * rng.uniform();  // far from zero, like real squared distances
    const PerplexityFit fit = calibrate_perplexity(d.data(), 90, perplexity, p.data());
    double sum = 0, entropy = 0;
    for (double v : p) {
      sum += v;
      if (v > 0) entropy -= v * std::log(v);
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
    EXPECT_NEAR(entropy, std::log(perplexity), 1e-5) << "perplexity " << perplexity;
    EXPECT_NEAR(fit.entropy, entropy, 1e-9);
    // p is the Gaussian of the fitted precision: p_j / p_0 = exp(-beta (d_j - d_0)).
    EXPECT_NEAR(p[5] / p[0], std::exp(-fit.beta * (d[5] - d[0])), 1e-9 * std::max(1.0, p[5] / p[0]));
  }
}

TEST(Tsne, AffinitiesAreSymmetricAndSumToOne) {
  const PointSet points = random_points(80, 30, 8);
  const NeighborLists lists = nearest_neighbors(points, 30, 1);
  double entropy_error = 1;
  const SparseGraph p = tsne_affinities(lists, 10, 2, &entropy_error);
  EXPECT_LT(entropy_error, 1e-5);
  double total = 0;
  for (int i = 0; i < p.count; ++i)
    for (int e = p.row_start[size_t(i)]; e < p.row_start[size_t(i) + 1]; ++e) {
      total += p.weight[size_t(e)];
      const int j = p.column[size_t(e)];
      const auto begin = p.column.begin() + p.row_start[size_t(j)], end = p.column.begin() + p.row_start[size_t(j) + 1];
      const auto back = std::lower_bound(begin, end, i);
      ASSERT_TRUE(back != end && *back == i);
      EXPECT_EQ(p.weight[size_t(back - p.column.begin())], p.weight[size_t(e)]);
    }
  EXPECT_NEAR(total, 1.0, 1e-12);
}

TEST(Tsne, ExactGradientMatchesFiniteDifferencesOfKl) {
  const PointSet points = random_points(40, 10, 12);
  const SparseGraph p = tsne_affinities(nearest_neighbors(points, 20, 1), 6, 1);
  Rng rng(13);
  std::vector<double> y(80);
  for (double& v : y) v = 3 * rng.normal();
  std::vector<double> grad;
  tsne_gradient(p, y, 1.0, -1.0, 1, grad);
  const double h = 1e-6;
  for (int c : {0, 1, 17, 40, 79}) {
    std::vector<double> plus = y, minus = y;
    plus[size_t(c)] += h;
    minus[size_t(c)] -= h;
    const double numeric = (tsne_kl_divergence(p, plus, 1) - tsne_kl_divergence(p, minus, 1)) / (2 * h);
    EXPECT_NEAR(grad[size_t(c)], numeric, 1e-6 * std::max(1.0, std::fabs(numeric))) << "coordinate " << c;
  }
}

TEST(Tsne, BarnesHutWithThetaZeroIsExactAndWithHalfIsClose) {
  const PointSet points = random_points(300, 10, 14);
  const SparseGraph p = tsne_affinities(nearest_neighbors(points, 30, 1), 10, 1);
  Rng rng(15);
  std::vector<double> y(600);
  for (double& v : y) v = 5 * rng.normal();
  y[2] = y[0];  // two coinciding points
  y[3] = y[1];
  std::vector<double> exact, tree, approx;
  tsne_gradient(p, y, 1.0, -1.0, 2, exact);
  tsne_gradient(p, y, 1.0, 0.0, 2, tree);
  tsne_gradient(p, y, 1.0, 0.5, 2, approx);
  double norm = 0, diff_tree = 0, diff_approx = 0;
  for (size_t c = 0; c < y.size(); ++c) {
    norm += exact[c] * exact[c];
    diff_tree = std::max(diff_tree, std::fabs(tree[c] - exact[c]));
    diff_approx += (approx[c] - exact[c]) * (approx[c] - exact[c]);
  }
  EXPECT_LT(diff_tree, 1e-12 * std::sqrt(norm));
  EXPECT_LT(std::sqrt(diff_approx / norm), 0.05);
  EXPECT_GT(diff_approx, 0.0);  // theta 0.5 does approximate
}

TEST(Tsne, QuadTreeRepulsionSumsEveryOtherPoint) {
  std::vector<double> xs = {0, 1, 1, 5, -2, 1}, ys = {0, 0, 0, 2, 3, 0};  // 1, 2, 5 coincide
  const QuadTree tree(xs.data(), ys.data(), 6);
  for (int i = 0; i < 6; ++i) {
    const Repulsion r = tree.repulsion(i, 0.0);
    double z = 0, fx = 0;
    for (int j = 0; j < 6; ++j) {
      if (j == i) continue;
      const double dx = xs[size_t(i)] - xs[size_t(j)], dy = ys[size_t(i)] - ys[size_t(j)];
      const double w = 1 / (1 + dx * dx + dy * dy);
      z += w;
      fx += w * w * dx;
    }
    EXPECT_NEAR(r.z, z, 1e-14);
    EXPECT_NEAR(r.fx, fx, 1e-14);
  }
}

TEST(Tsne, SeparatesGaussianClustersExactAndBarnesHut) {
  std::vector<int> labels;
  const PointSet points = gaussian_clusters(5, 40, 50, 4.0, 21, &labels);
  TsneOptions options;
  options.iterations = 500;
  options.threads = 2;
  const TsneResult exact = tsne(points, options);
  EXPECT_FALSE(exact.barnes_hut);
  EXPECT_GT(knn_class_agreement(exact.embedding, labels, 10, 1), 0.95);
  EXPECT_GT(trustworthiness(points, exact.embedding, 10, 1), 0.9);
  options.exact_max = 0;
  const TsneResult bh = tsne(points, options);
  EXPECT_TRUE(bh.barnes_hut);
  EXPECT_GT(knn_class_agreement(bh.embedding, labels, 10, 1), 0.95);
}

TEST(Tsne, SameSeedSameOutputOnOneOrTwoThreads) {
  const PointSet points = gaussian_clusters(4, 30, 20, 3.0, 22, nullptr);
  for (bool barnes_hut : {false, true}) {
    TsneOptions options;
    options.iterations = 120;
    options.perplexity = 10;
    options.exact_max = barnes_hut ? 0 : 100000;
    options.threads = 1;
    const TsneResult one = tsne(points, options);
    options.threads = 2;
    const TsneResult two = tsne(points, options);
    EXPECT_EQ(one.embedding.xy, two.embedding.xy);
    options.init = TsneInit::Random;
    options.seed = 5;
    const TsneResult random_a = tsne(points, options);
    const TsneResult random_b = tsne(points, options);
    options.seed = 6;
    const TsneResult random_c = tsne(points, options);
    EXPECT_EQ(random_a.embedding.xy, random_b.embedding.xy);
    EXPECT_NE(random_a.embedding.xy, random_c.embedding.xy);
  }
}

TEST(Tsne, RejectsAPerplexityTooLargeForTheData) {
  const PointSet points = random_points(20, 5, 1);
  TsneOptions options;  // perplexity 30 > 19 other points
  EXPECT_THROW(tsne(points, options), Error);
}

// ---------------------------------------------------------------------------
// UMAP
// ---------------------------------------------------------------------------

TEST(Umap, CurveFitIsALeastSquaresMinimum) {
  for (double min_dist : {0.0, 0.1, 0.5}) {
    const UmapCurve c = fit_umap_curve(min_dist, 1.0);
    // A stationary point: central differences of the misfit vanish ...
    const double h = 1e-6, f = umap_curve_misfit(c.a, c.b, min_dist, 1.0);
    const double da =
        (umap_curve_misfit(c.a + h, c.b, min_dist, 1.0) - umap_curve_misfit(c.a - h, c.b, min_dist, 1.0)) / (2 * h);
    const double db =
        (umap_curve_misfit(c.a, c.b + h, min_dist, 1.0) - umap_curve_misfit(c.a, c.b - h, min_dist, 1.0)) / (2 * h);
    EXPECT_LT(std::fabs(da), 1e-6) << min_dist;
    EXPECT_LT(std::fabs(db), 1e-6) << min_dist;
    // ... and no nearby point does better.
    for (double sa : {-1.0, 1.0})
      for (double sb : {-1.0, 1.0})
        EXPECT_GT(umap_curve_misfit(c.a * (1 + 0.01 * sa), c.b * (1 + 0.01 * sb), min_dist, 1.0), f);
  }
  // The values UMAP's authors quote for min_dist 0.1, spread 1.
  const UmapCurve c = fit_umap_curve(0.1, 1.0);
  EXPECT_NEAR(c.a, 1.577, 5e-3);
  EXPECT_NEAR(c.b, 0.895, 5e-3);
}

TEST(Umap, SmoothKnnHitsItsTarget) {
  const std::vector<double> d = {0.0, 1.5, 1.7, 2.0, 2.2, 3.0, 4.5};
  const double target = std::log2(8.0);
  const SmoothKnn s = smooth_knn(d.data(), int(d.size()), target);
  EXPECT_EQ(s.rho, 1.5);  // the first positive distance
  double sum = 0;
  for (double v : d) sum += std::exp(-std::max(0.0, v - s.rho) / s.sigma);
  EXPECT_NEAR(sum, target, 1e-8);
}

TEST(Umap, FuzzySetIsSymmetricWithNearestNeighbourAtOne) {
  const PointSet points = random_points(100, 20, 17);
  const NeighborLists lists = nearest_neighbors(points, 14, 1);
  const SparseGraph g = fuzzy_simplicial_set(lists, 2);
  for (int i = 0; i < g.count; ++i) {
    bool nearest_found = false;
    for (int e = g.row_start[size_t(i)]; e < g.row_start[size_t(i) + 1]; ++e) {
      const double w = g.weight[size_t(e)];
      EXPECT_GT(w, 0.0);
      EXPECT_LE(w, 1.0);
      const int j = g.column[size_t(e)];
      if (j == lists.neighbors(i)[0]) {
        nearest_found = true;
        EXPECT_EQ(w, 1.0);  // membership 1 one way makes the union 1
      }
      const auto begin = g.column.begin() + g.row_start[size_t(j)], end = g.column.begin() + g.row_start[size_t(j) + 1];
      const auto back = std::lower_bound(begin, end, i);
      ASSERT_TRUE(back != end && *back == i);
      EXPECT_EQ(g.weight[size_t(back - g.column.begin())], w);
    }
    EXPECT_TRUE(nearest_found);
  }
}

TEST(Umap, SpectralLayoutOfAPathIsInClosedForm) {
  // A path graph 0 - 1 - ... - (n-1) with unit weights. Its random-walk matrix D^-1 W has
  // eigenvectors f_i = cos(pi k i / (n - 1)) (check: (f_{i-1} + f_{i+1}) / 2 = cos(pi k /
  // (n - 1)) f_i inside, and the ends fit too), so the normalised Laplacian has
  // u_i = sqrt(d_i) f_i, k = 1 and 2 for the two coordinates.
  const int n = 60;
  const double pi = std::acos(-1.0);
  SparseGraph g;
  g.count = n;
  g.row_start.push_back(0);
  for (int i = 0; i < n; ++i) {
    if (i > 0) {
      g.column.push_back(i - 1);
      g.weight.push_back(1.0);
    }
    if (i + 1 < n) {
      g.column.push_back(i + 1);
      g.weight.push_back(1.0);
    }
    g.row_start.push_back(g.edges());
  }
  bool converged = false;
  const std::vector<double> xy = spectral_layout(g, 3, 2, &converged);
  EXPECT_TRUE(converged);
  for (int k = 1; k <= 2; ++k) {
    std::vector<double> u(static_cast<size_t>(n));
    double norm = 0, dot = 0;
    for (int i = 0; i < n; ++i) {
      u[size_t(i)] = std::sqrt(i == 0 || i == n - 1 ? 1.0 : 2.0) * std::cos(pi * k * i / (n - 1));
      norm += u[size_t(i)] * u[size_t(i)];
      dot += u[size_t(i)] * xy[2 * size_t(i) + size_t(k - 1)];
    }
    const double sign = dot > 0 ? 1 : -1;
    for (int i = 0; i < n; ++i)
      EXPECT_NEAR(xy[2 * size_t(i) + size_t(k - 1)], sign * u[size_t(i)] / std::sqrt(norm), 2e-3) << k << " " << i;
  }
}

TEST(Umap, SeparatesGaussianClusters) {
  std::vector<int> labels;
  const PointSet points = gaussian_clusters(5, 40, 50, 4.0, 23, &labels);
  UmapOptions options;
  options.epochs = 200;
  options.threads = 2;
  for (UmapInit init : {UmapInit::Spectral, UmapInit::Random}) {
    options.init = init;
    const UmapResult r = umap(points, options);
    EXPECT_GT(knn_class_agreement(r.embedding, labels, 10, 1), 0.95);
    EXPECT_GT(trustworthiness(points, r.embedding, 10, 1), 0.9);
  }
}

TEST(Umap, SameSeedSameOutputOnOneOrTwoThreads) {
  const PointSet points = gaussian_clusters(4, 30, 20, 3.0, 24, nullptr);
  UmapOptions options;
  options.epochs = 60;
  options.threads = 1;
  const UmapResult one = umap(points, options);
  options.threads = 2;
  const UmapResult two = umap(points, options);
  EXPECT_EQ(one.embedding.xy, two.embedding.xy);
  options.seed = 2;
  const UmapResult other = umap(points, options);
  EXPECT_NE(one.embedding.xy, other.embedding.xy);
}

// ---------------------------------------------------------------------------
// The experiment on real MNIST, with a small untrained net
// ---------------------------------------------------------------------------

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(EmbedExperiment, WritesTheLayoutAndItsSummary) {
  const Dataset test = first_samples(load_mnist(test_paths::mnist_dir(), false), 1000);
  Config cfg;
  cfg.width = 32;
  cfg.depth = 3;
  Net<float> net(cfg);
  Rng rng(1);
  initialise(net, rng);
  for (float& w : net.params) w += float(0.05 * rng.normal());  // a non-trivial residual block
  const std::string dir = testing::TempDir() + "embed_experiment_test";
  for (EmbedMethod method : {EmbedMethod::Tsne, EmbedMethod::Umap}) {
    EmbedExperimentOptions options;
    options.method = method;
    options.of = method == EmbedMethod::Tsne ? EmbedOf::Final : EmbedOf::Trajectory;
    options.samples_per_class = 8;
    options.tsne.perplexity = 5;
    options.tsne.iterations = 100;
    options.umap.epochs = 50;
    options.out_dir = dir;
    const EmbedExperimentResult r = run_embed_experiment(net, test, options);
    EXPECT_EQ(r.points, 80);
    EXPECT_EQ(r.dim, method == EmbedMethod::Tsne ? 32 : 96);
    const std::string csv = read_text(dir + "/embedding.csv");
    EXPECT_EQ(csv.rfind("sample,class,x,y\n", 0), 0u);
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 81);
    const std::string json = read_text(dir + "/summary.json");
    for (const char* key : {"\"knn10_agreement\"", "\"trustworthiness\"", "\"seconds\"", "\"method\"", "\"of\"",
                            "\"n\": 80", "\"parameters\""})
      EXPECT_NE(json.find(key), std::string::npos) << key;
    EXPECT_GE(r.knn10_agreement, 0.0);
    EXPECT_LE(r.trustworthiness, 1.0);
    // The labels are the probe set's: 8 of each class, grouped.
    for (int i = 0; i < r.points; ++i) EXPECT_EQ(r.labels[size_t(i)], i / 8);
  }
  // Hidden states are the forward pass's x(T) and, for the trajectory, y(1..T) side by side.
  const Dataset one = first_samples(test, 1);
  const PointSet final_state = hidden_states(net, one.images.data(), 1, EmbedOf::Final, 0, 1);
  const PointSet trajectory = hidden_states(net, one.images.data(), 1, EmbedOf::Trajectory, 0, 1);
  Trace<float> trace;
  set_input(trace, one.images.data(), 1, cfg.input);
  forward(net, trace);
  for (int i = 0; i < cfg.width; ++i) {
    EXPECT_EQ(final_state.values[size_t(i)], trace.state(3)[i]);
    EXPECT_EQ(trajectory.values[size_t(64 + i)], trace.residual(3)[i]);
  }
  // --precision bf16: the same forward pass with bfloat16-rounded operands, so y(1..T) moves
  // by about bfloat16's relative step (2^-8) of a value in (0, 1), not by float's.
  const PointSet bf16 = hidden_states(net, one.images.data(), 1, EmbedOf::Trajectory, 0, 1, Precision::bf16);
  double moved = 0;
  for (size_t k = 0; k < bf16.values.size(); ++k)
    moved = std::max(moved, double(std::fabs(bf16.values[k] - trajectory.values[k])));
  EXPECT_GT(moved, 1e-5);
  EXPECT_LT(moved, 4e-3);
  EmbedExperimentOptions bad;
  bad.out_dir = dir;
  bad.samples_per_class = 0;
  EXPECT_THROW(run_embed_experiment(net, test, bad), Error);
}
