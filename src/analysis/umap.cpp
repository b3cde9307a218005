// UMAP: fuzzy simplicial set, spectral initialisation, SGD layout; see umap.h.
#include "analysis/umap.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "analysis/knn.h"
#include "analysis/parallel_chunks.h"
#include "analysis/symmetric_eigen.h"
#include "resdyn.h"

namespace resdyn {

namespace {

constexpr int kCurveSamples = 300;

double curve_target(double d, double min_dist, double spread) {
  return d < min_dist ? 1.0 : std::exp(-(d - min_dist) / spread);
}

double curve_sample(int s, double spread) { return 3.0 * spread * s / (kCurveSamples - 1); }

}  // namespace

double umap_curve_misfit(double a, double b, double min_dist, double spread) {
  double sum = 0;
  for (int s = 0; s < kCurveSamples; ++s) {
    const double d = curve_sample(s, spread);
    const double r = 1.0 / (1.0 + a * std::pow(d, 2 * b)) - curve_target(d, min_dist, spread);
    sum += r * r;
  }
  return sum;
}

UmapCurve fit_umap_curve(double min_dist, double spread) {
  if (!(spread > 0) || !(min_dist >= 0) || !(min_dist < 3 * spread))
    throw Error("UMAP: need spread > 0 and 0 <= min_dist < 3 x spread");
  // Levenberg-Marquardt on the residuals r(d) = g(d) - f(d), g = 1 / (1 + a d^(2b)):
  // dg/da = -d^(2b) g^2, dg/db = -2 a d^(2b) ln(d) g^2.
  double a = 1, b = 1, lambda = 1e-3;
  double cost = umap_curve_misfit(a, b, min_dist, spread);
  for (int it = 0; it < 1000 && lambda < 1e16; ++it) {
    double jaa = 0, jab = 0, jbb = 0, ga = 0, gb = 0;
    for (int s = 0; s < kCurveSamples; ++s) {
      const double d = curve_sample(s, spread);
      if (d == 0) continue;  // g(0) = 1 = f(0) whatever a and b
      const double p = std::pow(d, 2 * b);
      const double g = 1.0 / (1.0 + a * p);
      const double r = g - curve_target(d, min_dist, spread);
      const double da = -p * g * g, db = -2 * a * p * std::log(d) * g * g;
      jaa += da * da;
      jab += da * db;
      jbb += db * db;
      ga += da * r;
      gb += db * r;
    }
    // (J^T J + lambda diag(J^T J)) delta = -J^T r, a 2 x 2 system.
    const double m11 = jaa * (1 + lambda), m22 = jbb * (1 + lambda), det = m11 * m22 - jab * jab;
    if (!(det > 0)) {
      lambda *= 10;
      continue;
    }
    const double step_a = (-ga * m22 + gb * jab) / det, step_b = (-gb * m11 + ga * jab) / det;
    const double na = a + step_a, nb = b + step_b;
    const double new_cost = na > 0 && nb > 0 ? umap_curve_misfit(na, nb, min_dist, spread) : HUGE_VAL;
    if (new_cost <= cost) {
      const bool settled = std::fabs(step_a) <= 1e-13 * a && std::fabs(step_b) <= 1e-13 * b;
      a = na;
      b = nb;
      cost = new_cost;
      lambda = std::max(lambda / 10, 1e-12);
      if (settled) break;
    } else {
      lambda *= 10;
    }
  }
  return {a, b};
}

SmoothKnn smooth_knn(const double* distances, int m, double target) {
  SmoothKnn result;
  double mean = 0;
  for (int j = 0; j < m; ++j) mean += distances[j] / m;
  for (int j = 0; j < m; ++j)
    if (distances[j] > 0) {
      result.rho = distances[j];
      break;
    }
  auto membership_sum = [&](double sigma) {
    double sum = 0;
    for (int j = 0; j < m; ++j) sum += std::exp(-std::max(0.0, distances[j] - result.rho) / sigma);
    return sum;
  };
  // The sum grows with sigma: bisection, doubling until the target is bracketed.
  double sigma = 1, lo = 0, hi = HUGE_VAL;
  for (int step = 0; step < 100; ++step) {
    const double sum = membership_sum(sigma);
    if (std::fabs(sum - target) <= 1e-10 * target) break;
    if (sum > target) {
      hi = sigma;
      sigma = 0.5 * (lo + sigma);
    } else {
      lo = sigma;
      sigma = std::isinf(hi) ? 2 * sigma : 0.5 * (sigma + hi);
    }
  }
  result.sigma = std::max(sigma, 1e-3 * mean);
  return result;
}

SparseGraph fuzzy_simplicial_set(const NeighborLists& lists, int threads) {
  const int n = lists.count, k = lists.k;
  const double target = std::log2(double(k + 1));  // the neighbourhood counts the point itself
  std::vector<double> membership(size_t(n) * k);
  parallel_chunks(threads, n, 64, [&](int begin, int end) {
    for (int i = begin; i < end; ++i) {
      const double* d = lists.distances(i);
      const SmoothKnn s = smooth_knn(d, k, target);
      for (int r = 0; r < k; ++r) membership[size_t(i) * k + r] = std::exp(-std::max(0.0, d[r] - s.rho) / s.sigma);
    }
  });
  // The fuzzy union a + b - ab, written as 1 - (1 - a)(1 - b): symmetric in a and b to
  // the last bit, and exactly 1 when either membership is.
  return symmetrize(lists, membership, [](double a, double b) { return 1.0 - (1.0 - a) * (1.0 - b); });
}

std::vector<double> spectral_layout(const SparseGraph& graph, uint64_t seed, int threads, bool* converged,
                                    double* residual) {
  const int n = graph.count;
  std::vector<double> inv_sqrt_degree(static_cast<size_t>(n)), trivial(static_cast<size_t>(n));
  double norm = 0;
  for (int i = 0; i < n; ++i) {
    double degree = 0;
    for (int e = graph.row_start[size_t(i)]; e < graph.row_start[size_t(i) + 1]; ++e) degree += graph.weight[size_t(e)];
    inv_sqrt_degree[size_t(i)] = degree > 0 ? 1 / std::sqrt(degree) : 0;
    trivial[size_t(i)] = std::sqrt(degree);
    norm += degree;
  }
  for (double& t : trivial) t /= std::sqrt(norm);
  // The smallest eigenvalues of L = I - D^-1/2 W D^-1/2 are the largest of
  // A = (I + D^-1/2 W D^-1/2) / 2, whose spectrum lies in [0, 1] (no large negative
  // eigenvalues to compete). The smallest, 0, has eigenvector D^1/2 1: deflated.
  const auto halved = [&](const double* in, double* out, int vectors) {
    for (int v = 0; v < vectors; ++v) {
      const double* x = in + size_t(v) * n;
      double* y = out + size_t(v) * n;
      parallel_chunks(threads, n, 256, [&](int begin, int end) {
        for (int i = begin; i < end; ++i) {
          double sum = 0;
          for (int e = graph.row_start[size_t(i)]; e < graph.row_start[size_t(i) + 1]; ++e) {
            const int j = graph.column[size_t(e)];
            sum += graph.weight[size_t(e)] * inv_sqrt_degree[size_t(j)] * x[j];
          }
          y[i] = 0.5 * (x[i] + inv_sqrt_degree[size_t(i)] * sum);
        }
      });
    }
  };
  KrylovOptions options;
  options.seed = seed;
  options.threads = threads;
  options.tolerance = 1e-6;
  options.deflate = {trivial};
  const TopEigen top = top_eigenpairs(n, 2, halved, options);
  if (converged) *converged = top.converged;
  if (residual) *residual = top.residual;
  std::vector<double> xy(2 * size_t(n));
  for (int i = 0; i < n; ++i) {
    xy[2 * size_t(i)] = top.vectors[size_t(i)];
    xy[2 * size_t(i) + 1] = top.vectors[size_t(n) + i];
  }
  return xy;
}

namespace {

// Maps each coordinate linearly onto [0, 10] (a constant coordinate goes to 5).
void fit_to_box(std::vector<double>& xy, int n) {
  for (int c = 0; c < 2; ++c) {
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    for (int i = 0; i < n; ++i) {
      lo = std::min(lo, xy[2 * size_t(i) + c]);
      hi = std::max(hi, xy[2 * size_t(i) + c]);
    }
    for (int i = 0; i < n; ++i) {
      double& v = xy[2 * size_t(i) + c];
      v = hi > lo ? 10 * (v - lo) / (hi - lo) : 5;
    }
  }
}

double clip(double g) { return std::max(-4.0, std::min(4.0, g)); }

// The graph without the edges too weak to be sampled once in `epochs` epochs (also kept
// from the graph the spectral initialisation sees).
SparseGraph drop_rare_edges(const SparseGraph& graph, double max_weight, int epochs) {
  const int n = graph.count;
  SparseGraph kept;
  kept.count = n;
  kept.row_start.assign(size_t(n) + 1, 0);
  for (int i = 0; i < n; ++i) {
    for (int e = graph.row_start[size_t(i)]; e < graph.row_start[size_t(i) + 1]; ++e)
      if (graph.weight[size_t(e)] >= max_weight / epochs) {
        kept.column.push_back(graph.column[size_t(e)]);
        kept.weight.push_back(graph.weight[size_t(e)]);
      }
    kept.row_start[size_t(i) + 1] = kept.edges();
  }
  return kept;
}

// The starting positions, x0 y0 x1 y1 ...: spectral (noted in result) or uniform in the box.
std::vector<double> initial_layout(const SparseGraph& graph, const UmapOptions& options, int threads, Rng& rng,
                                   UmapResult& result) {
  const int n = graph.count;
  std::vector<double> y;
  if (options.init == UmapInit::Spectral) {
    y = spectral_layout(graph, options.seed, threads, &result.spectral_converged, &result.spectral_residual);
    fit_to_box(y, n);
    // A little noise separates points the spectral embedding put on top of each other
    // (e.g. whole components of a disconnected graph).
    for (double& c : y) c += 1e-4 * rng.normal();
  } else {
    y.resize(2 * size_t(n));
    for (double& c : y) c = rng.uniform(0, 10);
  }
  return y;
}

// When each edge is sampled: edge e is due every period[e] = max_weight / w_e epochs, its
// negative samples every negative_period[e] = period[e] / rate.
struct EdgeSchedule {
  std::vector<int> head;  // the row (first point) of each edge
  std::vector<double> period, due, negative_period, negative_due;

  EdgeSchedule(const SparseGraph& graph, double max_weight, double negative_sample_rate) {
    const int edges = graph.edges();
    head.resize(size_t(edges));
    for (int i = 0; i < graph.count; ++i)
      for (int e = graph.row_start[size_t(i)]; e < graph.row_start[size_t(i) + 1]; ++e) head[size_t(e)] = i;
    period.resize(size_t(edges));
    due.resize(size_t(edges));
    negative_period.resize(size_t(edges));
    negative_due.resize(size_t(edges));
    for (int e = 0; e < edges; ++e) {
      period[size_t(e)] = max_weight / graph.weight[size_t(e)];
      due[size_t(e)] = period[size_t(e)];
      negative_period[size_t(e)] = negative_sample_rate > 0 ? period[size_t(e)] / negative_sample_rate : HUGE_VAL;
      negative_due[size_t(e)] = negative_period[size_t(e)];
    }
  }
};

// Attraction: d/dy_i of -log(1 / (1 + a d^2b)) gives the coefficient
// -2ab d^(2(b-1)) / (1 + a d^2b) on (y_i - y_j); y_j moves the opposite way.
void attract(double* yi, double* yj, double a, double b, double alpha) {
  const double dx = yi[0] - yj[0], dy = yi[1] - yj[1];
  const double d2 = dx * dx + dy * dy;
  if (d2 > 0) {
    const double d2b = std::pow(d2, b);
    const double coefficient = -2 * a * b * (d2b / d2) / (1 + a * d2b);
    const double gx = clip(coefficient * dx), gy = clip(coefficient * dy);
    yi[0] += alpha * gx;
    yi[1] += alpha * gy;
    yj[0] -= alpha * gx;
    yj[1] -= alpha * gy;
  }
}

// Repulsion: d/dy_i of -log(1 - 1 / (1 + a d^2b)) gives 2b / ((eps + d^2)(1 + a d^2b)),
// eps = 0.001 keeping it finite as d -> 0. Coinciding points give no direction.
void repel(double* yi, const double* yk, double a, double b, double alpha) {
  const double dx = yi[0] - yk[0], dy = yi[1] - yk[1];
  const double d2 = dx * dx + dy * dy;
  if (!(d2 > 0)) return;
  const double coefficient = 2 * b / ((0.001 + d2) * (1 + a * std::pow(d2, b)));
  yi[0] += alpha * clip(coefficient * dx);
  yi[1] += alpha * clip(coefficient * dy);
}

// SGD on the fuzzy cross-entropy, the learning rate falling linearly to 0 over the epochs.
void optimize_layout(std::vector<double>& y, const SparseGraph& graph, double max_weight, const UmapOptions& options,
                     const UmapResult& result, Rng& rng) {
  const int n = graph.count;
  const double a = result.curve.a, b = result.curve.b;
  const int edges = graph.edges();
  EdgeSchedule schedule(graph, max_weight, options.negative_sample_rate);
  for (int epoch = 1; epoch <= result.epochs; ++epoch) {
    const double alpha = options.learning_rate * (1.0 - double(epoch - 1) / result.epochs);
    for (int e = 0; e < edges; ++e) {
      if (schedule.due[size_t(e)] > epoch) continue;
      schedule.due[size_t(e)] += schedule.period[size_t(e)];
      const int i = schedule.head[size_t(e)], j = graph.column[size_t(e)];
      double* yi = &y[2 * size_t(i)];
      attract(yi, &y[2 * size_t(j)], a, b, alpha);
      double& negative_due = schedule.negative_due[size_t(e)];
      const double negative_period = schedule.negative_period[size_t(e)];
      if (negative_due > epoch) continue;
      const long negatives = long(std::floor((epoch - negative_due) / negative_period)) + 1;
      negative_due += negatives * negative_period;
      for (long s = 0; s < negatives; ++s) {
        const int k = int(rng.below(uint64_t(n)));
        if (k == i) continue;
        repel(yi, &y[2 * size_t(k)], a, b, alpha);
      }
    }
  }
}

}  // namespace

UmapResult umap(const PointSet& points, const UmapOptions& options) {
  const int n = points.count;
  if (options.neighbors < 2 || options.neighbors > n)
    throw Error("UMAP: " + std::to_string(options.neighbors) +
                " neighbours (counting the point itself) need at least " +
                std::to_string(std::max(2, options.neighbors)) + " points, got " + std::to_string(n));
  if (options.epochs < 0) throw Error("UMAP: epochs must not be negative");
  if (!(options.negative_sample_rate >= 0) || !(options.learning_rate > 0))
    throw Error("UMAP: need negative_sample_rate >= 0 and learning_rate > 0");
  const int threads = std::max(1, options.threads);
  UmapResult result;
  result.curve = fit_umap_curve(options.min_dist, options.spread);
  result.epochs = options.epochs > 0 ? options.epochs : (n <= 10000 ? 500 : 200);

  const NeighborLists lists = nearest_neighbors(points, options.neighbors - 1, threads);
  SparseGraph graph = fuzzy_simplicial_set(lists, threads);
  double max_weight = 0;
  for (double w : graph.weight) max_weight = std::max(max_weight, w);
  graph = drop_rare_edges(graph, max_weight, result.epochs);
  result.edges = graph.edges();

  Rng rng(options.seed);
  std::vector<double> y = initial_layout(graph, options, threads, rng, result);
  optimize_layout(y, graph, max_weight, options, result, rng);
  result.embedding.count = n;
  result.embedding.xy = std::move(y);
  return result;
}

}  // namespace resdyn
