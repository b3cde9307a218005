// t-SNE with exact or Barnes-Hut gradients; see tsne.h.
#include "analysis/tsne.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "analysis/knn.h"
#include "analysis/parallel_chunks.h"
#include "analysis/pca.h"
#include "analysis/quadtree.h"
#include "resdyn.h"

namespace resdyn {

PerplexityFit calibrate_perplexity(const double* squared_distances, int m, double perplexity, double* p,
                                   double tolerance) {
  const double target = std::log(perplexity);
  // Distances are shifted by the smallest one: the same p, and no underflow of every exp.
  double d_min = HUGE_VAL, mean = 0;
  for (int j = 0; j < m; ++j) d_min = std::min(d_min, squared_distances[j]);
  for (int j = 0; j < m; ++j) mean += (squared_distances[j] - d_min) / m;
  // Fills p for this beta and returns its entropy H = log S + beta E[d - d_min], which
  // equals -sum p log p for p = exp(-beta (d - d_min)) / S.
  auto entropy_at = [&](double beta) {
    double sum = 0, weighted = 0;
    for (int j = 0; j < m; ++j) {
      const double e = squared_distances[j] - d_min;
      p[j] = std::exp(-beta * e);
      sum += p[j];
      weighted += e * p[j];
    }
    for (int j = 0; j < m; ++j) p[j] /= sum;
    return std::log(sum) + beta * weighted / sum;
  };
  PerplexityFit fit;
  double beta = mean > 0 ? 1 / mean : 1, lo = 0, hi = HUGE_VAL;
  for (fit.steps = 1; fit.steps <= 200; ++fit.steps) {
    const double h = entropy_at(beta);
    if (std::fabs(h - target) <= tolerance) break;
    // The entropy falls as beta grows: too high an entropy needs a larger beta.
    if (h > target) {
      lo = beta;
      beta = std::isinf(hi) ? 2 * beta : 0.5 * (beta + hi);
    } else {
      hi = beta;
      beta = 0.5 * (lo + beta);
    }
  }
  fit.beta = beta;
  fit.entropy = entropy_at(beta);
  return fit;
}

SparseGraph tsne_affinities(const NeighborLists& lists, double perplexity, int threads, double* max_entropy_error) {
  const int n = lists.count, k = lists.k;
  std::vector<double> conditional(size_t(n) * k);
  std::vector<double> error(static_cast<size_t>(n));
  parallel_chunks(threads, n, 32, [&](int begin, int end) {
    std::vector<double> squared(static_cast<size_t>(k));
    for (int i = begin; i < end; ++i) {
      for (int r = 0; r < k; ++r) squared[size_t(r)] = lists.distances(i)[r] * lists.distances(i)[r];
      const PerplexityFit fit = calibrate_perplexity(squared.data(), k, perplexity, &conditional[size_t(i) * k]);
      error[size_t(i)] = std::fabs(fit.entropy - std::log(perplexity));
    }
  });
  if (max_entropy_error) *max_entropy_error = *std::max_element(error.begin(), error.end());
  const double scale = 1.0 / (2.0 * n);
  return symmetrize(lists, conditional, [scale](double a, double b) { return (a + b) * scale; });
}

namespace {

// The repulsion on points [begin, end) from all others, summed exactly. Four
// independent accumulators let the compiler use vector instructions.
void exact_repulsion(const std::vector<double>& xs, const std::vector<double>& ys, int begin, int end,
                     std::vector<double>& z, std::vector<double>& force) {
  const int n = int(xs.size());
  for (int i = begin; i < end; ++i) {
    const double xi = xs[size_t(i)], yi = ys[size_t(i)];
    double zl[4] = {0, 0, 0, 0}, fxl[4] = {0, 0, 0, 0}, fyl[4] = {0, 0, 0, 0};
    int j = 0;
    for (; j + 4 <= n; j += 4)
      for (int l = 0; l < 4; ++l) {
        const double dx = xi - xs[size_t(j + l)], dy = yi - ys[size_t(j + l)];
        const double w = 1.0 / (1.0 + dx * dx + dy * dy);
        zl[l] += w;
        fxl[l] += w * w * dx;
        fyl[l] += w * w * dy;
      }
    double zi = (zl[0] + zl[1]) + (zl[2] + zl[3]);
    double fx = (fxl[0] + fxl[1]) + (fxl[2] + fxl[3]);
    double fy = (fyl[0] + fyl[1]) + (fyl[2] + fyl[3]);
    for (; j < n; ++j) {
      const double dx = xi - xs[size_t(j)], dy = yi - ys[size_t(j)];
      const double w = 1.0 / (1.0 + dx * dx + dy * dy);
      zi += w;
      fx += w * w * dx;
      fy += w * w * dy;
    }
    z[size_t(i)] = zi - 1.0;  // the term j = i: w = 1, no force
    force[2 * size_t(i)] = fx;
    force[2 * size_t(i) + 1] = fy;
  }
}

}  // namespace

void tsne_gradient(const SparseGraph& p, const std::vector<double>& y, double exaggeration, double theta, int threads,
                   std::vector<double>& grad) {
  const int n = p.count;
  std::vector<double> xs(static_cast<size_t>(n)), ys(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    xs[size_t(i)] = y[2 * size_t(i)];
    ys[size_t(i)] = y[2 * size_t(i) + 1];
  }
  std::vector<double> z(static_cast<size_t>(n)), repulsive(2 * size_t(n));
  if (theta < 0) {
    parallel_chunks(threads, n, 32, [&](int begin, int end) { exact_repulsion(xs, ys, begin, end, z, repulsive); });
  } else {
    const QuadTree tree(xs.data(), ys.data(), n);
    parallel_chunks(threads, n, 64, [&](int begin, int end) {
      for (int position = begin; position < end; ++position) {
        const int i = tree.point_in_tree_order(position);
        const Repulsion r = tree.repulsion(i, theta);
        z[size_t(i)] = r.z;
        repulsive[2 * size_t(i)] = r.fx;
        repulsive[2 * size_t(i) + 1] = r.fy;
      }
    });
  }
  double z_total = 0;
  for (double zi : z) z_total += zi;
  grad.assign(2 * size_t(n), 0.0);
  parallel_chunks(threads, n, 64, [&](int begin, int end) {
    for (int i = begin; i < end; ++i) {
      double ax = 0, ay = 0;
      for (int e = p.row_start[size_t(i)]; e < p.row_start[size_t(i) + 1]; ++e) {
        const int j = p.column[size_t(e)];
        const double dx = xs[size_t(i)] - xs[size_t(j)], dy = ys[size_t(i)] - ys[size_t(j)];
        const double pw = p.weight[size_t(e)] / (1.0 + dx * dx + dy * dy);
        ax += pw * dx;
        ay += pw * dy;
      }
      grad[2 * size_t(i)] = 4.0 * (exaggeration * ax - repulsive[2 * size_t(i)] / z_total);
      grad[2 * size_t(i) + 1] = 4.0 * (exaggeration * ay - repulsive[2 * size_t(i) + 1] / z_total);
    }
  });
}

double tsne_kl_divergence(const SparseGraph& p, const std::vector<double>& y, int threads) {
  const int n = p.count;
  std::vector<double> xs(static_cast<size_t>(n)), ys(static_cast<size_t>(n)), z(static_cast<size_t>(n)),
      unused(2 * size_t(n)), kl(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    xs[size_t(i)] = y[2 * size_t(i)];
    ys[size_t(i)] = y[2 * size_t(i) + 1];
  }
  parallel_chunks(threads, n, 32, [&](int begin, int end) { exact_repulsion(xs, ys, begin, end, z, unused); });
  double z_total = 0;
  for (double zi : z) z_total += zi;
  parallel_chunks(threads, n, 64, [&](int begin, int end) {
    for (int i = begin; i < end; ++i) {
      double sum = 0;
      for (int e = p.row_start[size_t(i)]; e < p.row_start[size_t(i) + 1]; ++e) {
        const double pij = p.weight[size_t(e)];
        if (!(pij > 0)) continue;
        const int j = p.column[size_t(e)];
        const double dx = xs[size_t(i)] - xs[size_t(j)], dy = ys[size_t(i)] - ys[size_t(j)];
        const double qij = 1.0 / (1.0 + dx * dx + dy * dy) / z_total;
        sum += pij * std::log(pij / qij);
      }
      kl[size_t(i)] = sum;
    }
  });
  double total = 0;
  for (double v : kl) total += v;
  return total;
}

TsneResult tsne(const PointSet& points, const TsneOptions& options) {
  const int n = points.count;
  if (!(options.perplexity >= 1)) throw Error("t-SNE: perplexity must be at least 1");
  if (options.iterations < 0 || options.exaggeration_iterations < 0)
    throw Error("t-SNE: iteration counts must not be negative");
  if (!(options.theta >= 0)) throw Error("t-SNE: theta must not be negative");
  const int k =
      options.neighbors > 0 ? options.neighbors : int(std::min<double>(n - 1, std::floor(3 * options.perplexity)));
  if (options.neighbors > 0 && k > n - 1)
    throw Error("t-SNE: " + std::to_string(k) + " neighbours per point need more than " + std::to_string(k) +
                " points, got " + std::to_string(n));
  if (n < 2 || !(options.perplexity < k)) {
    char perplexity[32];
    std::snprintf(perplexity, sizeof perplexity, "%g", options.perplexity);
    throw Error(std::string("t-SNE: perplexity ") + perplexity + " needs more than " + perplexity +
                " neighbours per point, got " + std::to_string(std::max(0, k)) +
                " (the neighbours asked for, or 3 x perplexity but at most one less than the " + std::to_string(n) +
                " points)");
  }
  const int threads = std::max(1, options.threads);

  TsneResult result;
  result.neighbors = k;
  result.barnes_hut = n > options.exact_max;
  result.learning_rate = options.learning_rate > 0 ? options.learning_rate : std::max(200.0, n / 12.0);
  const NeighborLists lists = nearest_neighbors(points, k, threads);
  const SparseGraph p = tsne_affinities(lists, options.perplexity, threads, &result.max_entropy_error);

  // Initial layout: the first two principal components, scaled together so
  // that the first has standard deviation init_std; or Gaussian with that deviation.
  std::vector<double> y(2 * size_t(n));
  bool random = options.init == TsneInit::Random;
  if (!random) {
    const PrincipalComponents pc = principal_components(points, 2, options.seed, threads);
    double mean = 0, var = 0;
    for (int i = 0; i < n; ++i) mean += pc.scores[2 * size_t(i)] / n;
    for (int i = 0; i < n; ++i) var += (pc.scores[2 * size_t(i)] - mean) * (pc.scores[2 * size_t(i)] - mean) / n;
    if (var > 0) {
      const double scale = options.init_std / std::sqrt(var);
      for (size_t c = 0; c < y.size(); ++c) y[c] = pc.scores[c] * scale;
    } else {
      random = true;  // all points equal: no principal direction
    }
  }
  if (random) {
    Rng rng(options.seed);
    for (double& c : y) c = options.init_std * rng.normal();
  }

  // Gradient descent with momentum and per-coordinate gains (Jacobs 1988, as in the
  // t-SNE paper): a coordinate's gain grows while its descent direction -grad agrees
  // with its previous step and shrinks when it flips.
  std::vector<double> grad, step(y.size(), 0.0), gain(y.size(), 1.0);
  const double theta = result.barnes_hut ? options.theta : -1.0;
  for (int it = 0; it < options.iterations; ++it) {
    const bool early = it < options.exaggeration_iterations;
    const double momentum = early ? options.momentum_early : options.momentum_late;
    tsne_gradient(p, y, early ? options.exaggeration : 1.0, theta, threads, grad);
    for (size_t c = 0; c < y.size(); ++c) {
      gain[c] = (grad[c] > 0) != (step[c] > 0) ? gain[c] + 0.2 : std::max(0.01, gain[c] * 0.8);
      step[c] = momentum * step[c] - result.learning_rate * gain[c] * grad[c];
      y[c] += step[c];
    }
    double mx = 0, my = 0;
    for (int i = 0; i < n; ++i) {
      mx += y[2 * size_t(i)];
      my += y[2 * size_t(i) + 1];
    }
    mx /= n;
    my /= n;
    for (int i = 0; i < n; ++i) {
      y[2 * size_t(i)] -= mx;
      y[2 * size_t(i) + 1] -= my;
    }
  }
  result.kl_divergence = tsne_kl_divergence(p, y, threads);
  result.embedding.count = n;
  result.embedding.xy = std::move(y);
  return result;
}

}  // namespace resdyn
