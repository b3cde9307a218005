// The sensitivity analysis (paper appendix A): per-factor log-determinants against
// closed forms, far outside the double range too; log10|det M'(s)| against the determinant
// of the explicitly multiplied product; the empirical logit response against an independent
// forward pass and the first-order prediction K M'(s+1) delta; the experiment's files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/linalg.h"
#include "analysis/sensitivity.h"
#include "experiments/sensitivity_experiment.h"
#include "resdyn.h"

using resdyn::Matrix;

namespace {

// log10|det| of a 2 x 2 or 3 x 3 matrix by the explicit formula (no elimination).
double log10_abs_det_small(const Matrix& m) {
  if (m.rows == 2) return std::log10(std::fabs(m(0, 0) * m(1, 1) - m(0, 1) * m(1, 0)));
  const double det = m(0, 0) * (m(1, 1) * m(2, 2) - m(1, 2) * m(2, 1)) -
                     m(0, 1) * (m(1, 0) * m(2, 2) - m(1, 2) * m(2, 0)) +
                     m(0, 2) * (m(1, 0) * m(2, 1) - m(1, 1) * m(2, 0));
  return std::log10(std::fabs(det));
}

resdyn::Net<double> random_net(resdyn::Arch arch, resdyn::Weights weights, int width, int depth, uint64_t seed) {
  resdyn::Config cfg;
  cfg.arch = arch;
  cfg.weights = weights;
  cfg.input = 4;
  cfg.width = width;
  cfg.depth = depth;
  cfg.classes = 3;
  resdyn::Net<double> net(cfg);
  resdyn::Rng rng(seed);
  for (double& p : net.params) p = rng.uniform(-1.5, 1.5);
  return net;
}

std::vector<uint8_t> random_pixels(int count, uint64_t seed) {
  resdyn::Rng rng(seed);
  std::vector<uint8_t> pixels(static_cast<size_t>(count) * 4);
  for (uint8_t& p : pixels) p = uint8_t(rng.below(256));
  return pixels;
}

// One sample through the net by plain loops (paper §4-5), with `delta` added to the layer
// output at layer s (y(s) of a ResNet, h(s) of an MLP) when s >= 1. Fills y[t-1] = y(t) (or
// h(t)) and returns the logits.
std::vector<double> naive_forward(const resdyn::Net<double>& net, const uint8_t* pixels, int s,
                                  const std::vector<double>& delta, std::vector<std::vector<double>>* ys = nullptr) {
  const int n = net.config.width, d = net.config.input, T = net.config.depth;
  const bool resnet = net.config.arch == resdyn::Arch::ResNet;
  std::vector<double> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    double z = net.c()[i];
    for (int j = 0; j < d; ++j) z += net.P()[size_t(i) * d + j] * (pixels[j] / 255.0);
    x[size_t(i)] = 1.0 / (1.0 + std::exp(-z));
  }
  if (ys) ys->clear();
  for (int t = 1; t <= T; ++t) {
    for (int i = 0; i < n; ++i) {
      double z = net.b(t)[i];
      for (int j = 0; j < n; ++j) z += net.W(t)[size_t(i) * n + j] * x[size_t(j)];
      y[size_t(i)] = 1.0 / (1.0 + std::exp(-z));
    }
    if (ys) ys->push_back(y);
    for (int i = 0; i < n; ++i) {
      const double out = y[size_t(i)] + (t == s ? delta[size_t(i)] : 0.0);
      x[size_t(i)] = resnet ? x[size_t(i)] + out : out;
    }
  }
  std::vector<double> logits(3);
  for (int c = 0; c < 3; ++c) {
    logits[size_t(c)] = net.k0()[c];
    for (int j = 0; j < n; ++j) logits[size_t(c)] += net.K()[size_t(c) * n + j] * x[size_t(j)];
  }
  return logits;
}

// The factor of layer t as an explicit matrix: I + M(t) (ResNet) or M(t) (MLP),
// M(t) = diag(y(t)(1 - y(t))) W_t.
Matrix layer_factor(const resdyn::Net<double>& net, int t, const std::vector<double>& y) {
  const int n = net.config.width;
  Matrix m(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      m(i, j) = y[size_t(i)] * (1 - y[size_t(i)]) * net.W(t)[size_t(i) * n + j] +
                (net.config.arch == resdyn::Arch::ResNet && i == j ? 1.0 : 0.0);
  return m;
}

// The factors of layers t = last, last-1, ..., first multiplied out: factor(last) ... factor(first).
Matrix product_of_factors(const resdyn::Net<double>& net, const std::vector<std::vector<double>>& ys, int first,
                          int last) {
  Matrix product = Matrix::identity(net.config.width);
  for (int t = first; t <= last; ++t) product = resdyn::multiply(layer_factor(net, t, ys[size_t(t - 1)]), product);
  return product;
}

double norm_of_k_times(const resdyn::Net<double>& net, const Matrix& m, const std::vector<double>& delta) {
  const std::vector<double> v = resdyn::multiply(m, delta);
  double sum = 0;
  for (int c = 0; c < 3; ++c) {
    double k = 0;
    for (int j = 0; j < net.config.width; ++j) k += net.K()[size_t(c) * net.config.width + j] * v[size_t(j)];
    sum += k * k;
  }
  return std::sqrt(sum);
}

// A keep-all forward pass of resdyn.h for `count` samples.
resdyn::Trace<double> full_trace(const resdyn::Net<double>& net, const std::vector<uint8_t>& pixels, int count) {
  resdyn::Trace<double> trace;
  resdyn::set_input(trace, pixels.data(), count, 4);
  resdyn::forward(net, trace);
  return trace;
}

std::vector<std::vector<double>> random_directions(int count, int n, double epsilon, uint64_t seed) {
  resdyn::Rng rng(seed);
  std::vector<std::vector<double>> out(static_cast<size_t>(count), std::vector<double>(size_t(n)));
  for (auto& v : out) {
    double sum = 0;
    for (double& x : v) {
      x = rng.normal();
      sum += x * x;
    }
    for (double& x : v) x *= epsilon / std::sqrt(sum);
  }
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string fresh_directory(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / ("sensitivity_" + name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

// The number after "key": in a JSON text (the first occurrence); NaN for null.
double json_number(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\": ");
  if (at == std::string::npos) return std::nan("missing");
  const char* start = json.c_str() + at + key.size() + 4;
  if (std::string(start, 4) == "null") return std::nan("null");
  return std::strtod(start, nullptr);
}

// ---------------------------------------------------------------------------------
// Per-factor determinants and their sums
// ---------------------------------------------------------------------------------

TEST(LayerFactor, HandComputed2x2) {
  // det(I + diag(0.1, 0.2) [[1, 2], [3, 4]]) = 1.1 * 1.8 - 0.2 * 0.6 = 1.86
  const double w1[] = {1, 2, 3, 4};
  EXPECT_NEAR(resdyn::log10_abs_det_identity_plus(w1, 2, {0.1, 0.2}), std::log10(1.86), 1e-15);
  // det(I + [[0, 2], [2, 0]]) = -3: the magnitude counts
  const double w2[] = {0, 8, 8, 0};
  EXPECT_NEAR(resdyn::log10_abs_det_identity_plus(w2, 2, {0.25, 0.25}), std::log10(3.0), 1e-15);
  // 1 + 0.25 * -4 = 0: singular
  const double w3[] = {-4, 0, 0, 1};
  EXPECT_EQ(resdyn::log10_abs_det_identity_plus(w3, 2, {0.25, 0.25}), -INFINITY);
}

// det(I + G R) for G = 1e200 I and a 2 x 2 R is 1 + 1e200 tr R + 1e400 det R: beyond the
// double range, where the explicit formula overflows; the summed logarithms give
// 400 + log10|det R|.
TEST(LayerFactor, HugeDeterminantWithoutOverflow) {
  const double r[] = {0.3, -1.2, 0.7, 2.0};  // det R = 1.44
  const double w[] = {4e200 * r[0], 4e200 * r[1], 4e200 * r[2], 4e200 * r[3]};
  const double naive = (1 + 1e200 * r[0]) * (1 + 1e200 * r[3]) - 1e200 * r[1] * 1e200 * r[2];
  EXPECT_FALSE(std::isfinite(naive));
  EXPECT_NEAR(resdyn::log10_abs_det_identity_plus(w, 2, {0.25, 0.25}), 400 + std::log10(1.44), 1e-12);
}

// Thirty factors of determinant about 1e-36 each: the product, 1e-1080, underflows to 0;
// the suffix sums of the log-determinants hold it, and each s gets its own tail.
TEST(LayerFactor, TinyProductThroughSuffixSums) {
  const double w_diag = -4 + 4e-12;
  const double w[] = {w_diag, 0, 0, 0, w_diag, 0, 0, 0, w_diag};
  const double one_factor = std::log10(1.0 + 0.25 * w_diag) * 3;  // the diagonal LU sees, exactly
  std::vector<double> terms;
  double raw_product = 1;
  for (int t = 0; t < 30; ++t) {
    terms.push_back(resdyn::log10_abs_det_identity_plus(w, 3, {0.25, 0.25, 0.25}));
    raw_product *= std::pow(10.0, terms.back());
  }
  EXPECT_EQ(raw_product, 0.0);
  const std::vector<double> sums = resdyn::suffix_sums(terms);
  ASSERT_EQ(sums.size(), 30u);
  for (int s = 1; s <= 30; ++s) EXPECT_NEAR(sums[size_t(s - 1)], (31 - s) * one_factor, 1e-9 * 1080) << s;
  EXPECT_NEAR(sums[0], -1080, 1e-3);
}

// A large factor, N = 300: I + G W = A with
// A = P L U: unit lower L and upper U with small random off-diagonal parts (so that A is
// well conditioned), U's diagonal chosen, rows shuffled by P so that the elimination must
// pivot. |det A| = prod |u_ii|, here about 10^-113. A zero column makes it singular.
TEST(LayerFactor, LargeFactorOfKnownDeterminant) {
  const int n = 300;
  resdyn::Rng rng(55);
  Matrix lower = Matrix::identity(n), upper(n, n);
  double expected = 0;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < i; ++j) lower(i, j) = rng.uniform(-1, 1) / n;
    for (int j = i + 1; j < n; ++j) upper(i, j) = rng.uniform(-1, 1) / n;
    upper(i, i) = (i % 3 == 0 ? -1 : 1) * (0.2 + 0.01 * (i % 50));
    expected += std::log10(std::fabs(upper(i, i)));
  }
  const Matrix product = resdyn::multiply(lower, upper);
  std::vector<int> order(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) order[size_t(i)] = i;
  for (int i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[rng.below(uint64_t(i) + 1)]);
  std::vector<double> gain(static_cast<size_t>(n)), w(static_cast<size_t>(n) * n);
  for (int i = 0; i < n; ++i) gain[size_t(i)] = 0.05 + 0.2 * rng.uniform();
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      w[size_t(i) * n + j] = (product(order[size_t(i)], j) - (i == j ? 1.0 : 0.0)) / gain[size_t(i)];
  EXPECT_NEAR(resdyn::log10_abs_det_identity_plus(w.data(), n, gain), expected, 1e-10);
  for (int i = 0; i < n; ++i)
    w[size_t(i) * n + 150] = i == 150 ? -1.0 / gain[size_t(i)] : 0.0;  // column 150 of I + G W is 0
  EXPECT_EQ(resdyn::log10_abs_det_identity_plus(w.data(), n, gain), -INFINITY);
}

TEST(SuffixSums, Definition) {
  EXPECT_EQ(resdyn::suffix_sums({1, 2, 3, 4}), (std::vector<double>{10, 9, 7, 4}));
  EXPECT_TRUE(resdyn::suffix_sums({}).empty());
}

// ---------------------------------------------------------------------------------
// Profiles of tiny nets against explicit products and independent forward passes
// ---------------------------------------------------------------------------------

struct NetKind {
  resdyn::Arch arch;
  resdyn::Weights weights;
  const char* name;
};
const NetKind kKinds[] = {{resdyn::Arch::ResNet, resdyn::Weights::Shared, "shared ResNet"},
                          {resdyn::Arch::ResNet, resdyn::Weights::PerLayer, "per-layer ResNet"},
                          {resdyn::Arch::MLP, resdyn::Weights::Shared, "shared MLP"},
                          {resdyn::Arch::MLP, resdyn::Weights::PerLayer, "per-layer MLP"}};

// log10|det M'(s)| equals log10|det| of the explicitly multiplied product (3 x 3, by the
// explicit formula), for every s, sample and kind of net.
TEST(SensitivityProfiles, LogDeterminantOfTheExplicitProduct) {
  const int width = 3, depth = 5, count = 4;
  const std::vector<uint8_t> pixels = random_pixels(count, 61);
  for (const NetKind& kind : kKinds) {
    const resdyn::Net<double> net = random_net(kind.arch, kind.weights, width, depth, 62);
    const auto profiles =
        resdyn::sensitivity_profiles(net, full_trace(net, pixels, count), random_directions(count, width, 1e-3, 63));
    for (int r = 0; r < count; ++r) {
      std::vector<std::vector<double>> ys;
      naive_forward(net, &pixels[size_t(r) * 4], 0, {}, &ys);
      for (int s = 1; s <= depth; ++s) {
        const double expected = log10_abs_det_small(product_of_factors(net, ys, s, depth));
        EXPECT_NEAR(profiles[size_t(r)].log10_det[size_t(s - 1)], expected, 1e-11)
            << kind.name << ", sample " << r << ", s = " << s;
      }
    }
  }
}

// The logit change after adding delta to y(s) (h(s)) matches an independent forward pass
// with the perturbation, and for small epsilon the first-order prediction ||K M'(s+1) delta||
// from the explicit product; K M'(s) delta (paper eq. 10 as printed) is a different number.
TEST(SensitivityProfiles, EmpiricalResponseMatchesTheLinearisation) {
  const int width = 3, depth = 6, count = 3;
  const double epsilon = 1e-6;
  const std::vector<uint8_t> pixels = random_pixels(count, 71);
  for (const NetKind& kind : kKinds) {
    const resdyn::Net<double> net = random_net(kind.arch, kind.weights, width, depth, 72);
    const auto deltas = random_directions(count, width, epsilon, 73);
    const auto profiles = resdyn::sensitivity_profiles(net, full_trace(net, pixels, count), deltas);
    for (int r = 0; r < count; ++r) {
      const uint8_t* u = &pixels[size_t(r) * 4];
      std::vector<std::vector<double>> ys;
      const std::vector<double> clean = naive_forward(net, u, 0, {}, &ys);
      bool differs_from_paper_index = false;
      for (int s = 1; s <= depth; ++s) {
        const std::vector<double> perturbed = naive_forward(net, u, s, deltas[size_t(r)]);
        double change = 0;
        for (int c = 0; c < 3; ++c)
          change += (perturbed[size_t(c)] - clean[size_t(c)]) * (perturbed[size_t(c)] - clean[size_t(c)]);
        change = std::sqrt(change);
        const resdyn::SensitivityProfile& p = profiles[size_t(r)];
        const std::string where =
            std::string(kind.name) + ", sample " + std::to_string(r) + ", s = " + std::to_string(s);
        // Both differences of logits of size ~1 carry rounding of ~1e-15 besides the response.
        EXPECT_NEAR(p.logit_change[size_t(s - 1)], change, 1e-7 * change + 1e-14) << where;

        const double linear = norm_of_k_times(net, product_of_factors(net, ys, s + 1, depth), deltas[size_t(r)]);
        EXPECT_NEAR(p.linear_logit_change[size_t(s - 1)], linear, 1e-12 * linear) << where;
        EXPECT_NEAR(p.logit_change[size_t(s - 1)], linear, 1e-4 * linear + 1e-14) << where;  // second order: ~epsilon
        const double paper = norm_of_k_times(net, product_of_factors(net, ys, s, depth), deltas[size_t(r)]);
        if (std::fabs(paper - linear) > 1e-2 * linear) differs_from_paper_index = true;
      }
      EXPECT_TRUE(differs_from_paper_index) << kind.name;
    }
  }
}

TEST(SensitivityProfiles, SameBitsOnOneAndTwoThreads) {
  const int width = 5, depth = 4, count = 6;
  const std::vector<uint8_t> pixels = random_pixels(count, 81);
  const resdyn::Net<double> net = random_net(resdyn::Arch::ResNet, resdyn::Weights::PerLayer, width, depth, 82);
  const resdyn::Trace<double> trace = full_trace(net, pixels, count);
  const auto deltas = random_directions(count, width, 1e-3, 83);
  const auto one = resdyn::sensitivity_profiles(net, trace, deltas, 1);
  const auto two = resdyn::sensitivity_profiles(net, trace, deltas, 2);
  for (int r = 0; r < count; ++r) {
    EXPECT_EQ(one[size_t(r)].log10_det, two[size_t(r)].log10_det);
    EXPECT_EQ(one[size_t(r)].logit_change, two[size_t(r)].logit_change);
    EXPECT_EQ(one[size_t(r)].linear_logit_change, two[size_t(r)].linear_logit_change);
  }
}

TEST(SensitivityProfiles, RejectsTracesThatDoNotFit) {
  const std::vector<uint8_t> pixels = random_pixels(2, 91);
  const resdyn::Net<double> net = random_net(resdyn::Arch::ResNet, resdyn::Weights::Shared, 3, 3, 92);
  const resdyn::Trace<double> trace = full_trace(net, pixels, 2);
  EXPECT_THROW(resdyn::sensitivity_profiles(net, trace, random_directions(1, 3, 1e-3, 1)), resdyn::Error);
  EXPECT_THROW(resdyn::sensitivity_profiles(net, trace, random_directions(2, 4, 1e-3, 1)), resdyn::Error);
  resdyn::Trace<double> streaming;
  resdyn::set_input(streaming, pixels.data(), 2, 4);
  resdyn::ForwardOptions<double> options;
  options.keep_all = false;
  resdyn::forward(net, streaming, options);
  EXPECT_THROW(resdyn::sensitivity_profiles(net, streaming, random_directions(2, 3, 1e-3, 1)), resdyn::Error);
}

// ---------------------------------------------------------------------------------
// The experiment
// ---------------------------------------------------------------------------------

resdyn::Net<float> as_float(const resdyn::Net<double>& net) {
  resdyn::Net<float> out(net.config);
  for (size_t i = 0; i < net.params.size(); ++i) out.params[i] = float(net.params[i]);
  return out;
}

resdyn::Dataset tiny_data(int count, uint64_t seed) {
  resdyn::Dataset d;
  d.count = count;
  d.rows = d.cols = 2;
  d.images = random_pixels(count, seed);
  for (int i = 0; i < count; ++i) d.labels.push_back(uint8_t((i * 5 + i / 4) % 3));
  return d;
}

// log10_det_ratio_4_10 overall and per class equals the mean over the chosen samples of
// sum over t = 4..9 of log10|det(I + M(t))|, computed here from an independent forward pass.
TEST(SensitivityExperiment, RatioFromIndependentComputation) {
  const resdyn::Net<float> net = as_float(random_net(resdyn::Arch::ResNet, resdyn::Weights::PerLayer, 3, 12, 101));
  resdyn::Net<double> exact(net.config);  // the float parameters, as the experiment sees them
  std::copy(net.params.begin(), net.params.end(), exact.params.begin());
  const resdyn::Dataset data = tiny_data(30, 102);
  resdyn::SensitivityOptions options;
  options.samples_per_class = 4;
  options.threads = 2;
  options.batch = 5;  // several batches
  options.out_dir = fresh_directory("ratio");
  const resdyn::SensitivityResult r = resdyn::run_sensitivity_experiment(net, data, options);
  ASSERT_EQ(r.classes.size(), 3u);
  EXPECT_EQ(r.overall.samples, 12);

  std::vector<double> per_class(3, 0.0);
  std::vector<int> taken(3, 0);
  for (int i = 0; i < data.count; ++i) {
    const int c = data.labels[size_t(i)];
    if (taken[size_t(c)] == 4) continue;
    ++taken[size_t(c)];
    std::vector<std::vector<double>> ys;
    naive_forward(exact, &data.images[size_t(i) * 4], 0, {}, &ys);
    for (int t = 4; t <= 9; ++t)
      per_class[size_t(c)] += log10_abs_det_small(layer_factor(exact, t, ys[size_t(t - 1)])) / 4;
  }
  const std::string summary = read_text(options.out_dir + "/summary.json");
  const double overall = (per_class[0] + per_class[1] + per_class[2]) / 3;
  EXPECT_NEAR(r.overall.log10_det_ratio_4_10, overall, 1e-10);
  EXPECT_NEAR(json_number(summary, "log10_det_ratio_4_10"), overall, 1e-10);
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(r.classes[size_t(c)].log10_det_ratio_4_10, per_class[size_t(c)], 1e-10);
    EXPECT_NEAR(json_number(summary, std::to_string(c)), per_class[size_t(c)], 1e-8);  // per-class object
  }

  const std::string csv = read_text(options.out_dir + "/sensitivity.csv");
  EXPECT_EQ(
      csv.rfind("class,s,mean_log10_det,std_log10_det,mean_logit_change,mean_linear_logit_change,se_logit_change\n", 0),
      0u);
  int lines = 0;
  for (char ch : csv) lines += ch == '\n';
  EXPECT_EQ(lines, 1 + 3 * 12);
  EXPECT_NE(csv.find("\n2,12,"), std::string::npos);
}

// Several directions per sample: the profile's logit change is the mean, and its variance
// the variance (divided by D - 1), of the one-direction profiles, each computed on its own.
TEST(SensitivityProfiles, SeveralDirectionsAverageTheOneDirectionProfiles) {
  const int width = 3, depth = 6, count = 2, directions = 3;
  const std::vector<uint8_t> pixels = random_pixels(count, 81);
  const resdyn::Net<double> net = random_net(resdyn::Arch::ResNet, resdyn::Weights::Shared, width, depth, 82);
  const resdyn::Trace<double> trace = full_trace(net, pixels, count);
  std::vector<std::vector<std::vector<double>>> sets(static_cast<size_t>(count));
  std::vector<std::vector<resdyn::SensitivityProfile>> singles;
  for (int d = 0; d < directions; ++d) {
    const auto deltas = random_directions(count, width, 1e-3, uint64_t(83 + d));
    for (int r = 0; r < count; ++r) sets[size_t(r)].push_back(deltas[size_t(r)]);
    singles.push_back(resdyn::sensitivity_profiles(net, trace, deltas));
  }
  const auto profiles = resdyn::sensitivity_profiles(net, trace, sets, 2);
  for (int r = 0; r < count; ++r) {
    EXPECT_EQ(profiles[size_t(r)].directions, directions);
    for (int s = 0; s < depth; ++s) {
      double mean = 0, linear = 0;
      for (int d = 0; d < directions; ++d) {
        mean += singles[size_t(d)][size_t(r)].logit_change[size_t(s)] / directions;
        linear += singles[size_t(d)][size_t(r)].linear_logit_change[size_t(s)] / directions;
      }
      double variance = 0;
      for (int d = 0; d < directions; ++d) {
        const double deviation = singles[size_t(d)][size_t(r)].logit_change[size_t(s)] - mean;
        variance += deviation * deviation / (directions - 1);
      }
      EXPECT_NEAR(profiles[size_t(r)].logit_change[size_t(s)], mean, 1e-15 + 1e-12 * mean);
      EXPECT_NEAR(profiles[size_t(r)].linear_logit_change[size_t(s)], linear, 1e-15 + 1e-12 * linear);
      EXPECT_NEAR(profiles[size_t(r)].logit_change_variance[size_t(s)], variance, 1e-20 + 1e-9 * variance);
      EXPECT_GT(variance, 0.0);
      EXPECT_TRUE(std::isnan(singles[0][size_t(r)].logit_change_variance[size_t(s)]));
    }
  }
  sets[1].pop_back();  // unequal counts
  EXPECT_THROW(resdyn::sensitivity_profiles(net, trace, sets), resdyn::Error);
}

// The experiment's standard error from the profiles' variances, by hand: with D directions
// and S samples, sqrt(sum of variances / D) / S; null for one direction.
TEST(SensitivityExperiment, StandardErrorOfTheDirections) {
  const resdyn::Net<float> net = as_float(random_net(resdyn::Arch::ResNet, resdyn::Weights::Shared, 3, 4, 121));
  const resdyn::Dataset data = tiny_data(15, 122);
  resdyn::SensitivityOptions options;
  options.samples_per_class = 3;
  options.directions = 5;
  options.out_dir = fresh_directory("directions5");
  const resdyn::SensitivityResult r = resdyn::run_sensitivity_experiment(net, data, options);
  // Redo class 0's figure: its 3 samples are the first three of class 0 in file order.
  resdyn::Net<double> exact(net.config);
  std::copy(net.params.begin(), net.params.end(), exact.params.begin());
  std::vector<uint8_t> pixels;
  for (int i = 0; i < data.count && pixels.size() < 12; ++i)
    if (data.labels[size_t(i)] == 0)
      pixels.insert(pixels.end(), &data.images[size_t(i) * 4], &data.images[size_t(i) * 4] + 4);
  const resdyn::Trace<double> trace = full_trace(exact, pixels, 3);
  // The experiment draws D directions per sample, samples in class order: class 0's come first.
  const std::vector<std::vector<double>> stream = random_directions(15, 3, options.epsilon, options.seed);
  std::vector<std::vector<std::vector<double>>> sets(3);
  for (size_t k = 0; k < stream.size(); ++k) sets[k / 5].push_back(stream[k]);
  const auto profiles = resdyn::sensitivity_profiles(exact, trace, sets);
  for (int s = 0; s < 4; ++s) {
    double mean = 0, variance = 0;
    for (const auto& p : profiles)
      mean += p.logit_change[size_t(s)] / 3, variance += p.logit_change_variance[size_t(s)];
    EXPECT_NEAR(r.classes[0].mean_logit_change[size_t(s)], mean, 1e-12 * mean);
    EXPECT_NEAR(r.classes[0].se_logit_change[size_t(s)], std::sqrt(variance / 5) / 3, 1e-9 * mean);
  }
  EXPECT_NE(read_text(options.out_dir + "/summary.json").find("\"directions\": 5"), std::string::npos);
  options.directions = 1;
  options.out_dir = fresh_directory("directions1");
  EXPECT_TRUE(std::isnan(resdyn::run_sensitivity_experiment(net, data, options).overall.se_logit_change[0]));
  options.directions = 0;
  EXPECT_THROW(resdyn::run_sensitivity_experiment(net, data, options), resdyn::Error);
}

TEST(SensitivityExperiment, RatioIsNullBelowTenLayersAndFilesRepeat) {
  const resdyn::Net<float> net = as_float(random_net(resdyn::Arch::MLP, resdyn::Weights::Shared, 3, 5, 111));
  const resdyn::Dataset data = tiny_data(15, 112);
  resdyn::SensitivityOptions options;
  options.samples_per_class = 3;
  options.out_dir = fresh_directory("short1");
  const resdyn::SensitivityResult r = resdyn::run_sensitivity_experiment(net, data, options);
  EXPECT_TRUE(std::isnan(r.overall.log10_det_ratio_4_10));
  const std::string summary = read_text(options.out_dir + "/summary.json");
  EXPECT_NE(summary.find("\"log10_det_ratio_4_10\": null"), std::string::npos);
  EXPECT_NE(summary.find("\"arch\": \"mlp\""), std::string::npos);
  // Same seed, other thread count: the same files.
  const std::string first = read_text(options.out_dir + "/sensitivity.csv");
  options.out_dir = fresh_directory("short2");
  options.threads = 2;
  resdyn::run_sensitivity_experiment(net, data, options);
  EXPECT_EQ(first, read_text(options.out_dir + "/sensitivity.csv"));
}

TEST(SensitivityExperiment, RejectsBadOptions) {
  const resdyn::Net<float> net = as_float(random_net(resdyn::Arch::ResNet, resdyn::Weights::Shared, 3, 3, 121));
  const resdyn::Dataset data = tiny_data(9, 122);
  resdyn::SensitivityOptions options;
  options.out_dir = fresh_directory("bad");
  options.epsilon = 0;
  EXPECT_THROW(resdyn::run_sensitivity_experiment(net, data, options), resdyn::Error);
  options.epsilon = 1e-3;
  options.samples_per_class = 0;
  EXPECT_THROW(resdyn::run_sensitivity_experiment(net, data, options), resdyn::Error);
  options.samples_per_class = 2;
  options.out_dir = "";
  EXPECT_THROW(resdyn::run_sensitivity_experiment(net, data, options), resdyn::Error);
}

}  // namespace
