// The transient-dynamics probes (experiments/dynamics_experiment.h) against independent
// computations: every statistic of a tiny net (N = 3, T = 4, weights written out below)
// against scalar double loops over a scalar forward pass; unrolling; the memory bound; the
// float Gram tolerance; the summary rules on hand-made inputs with known answers; the
// experiment's files; and the command line.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "analysis/class_pairs.h"
#include "analysis/class_samples.h"
#include "analysis/class_profile.h"
#include "analysis/sensitive_neurons.h"
#include "analysis/trajectory_stats.h"
#include "analysis/transient_dynamics.h"
#include "experiments/dynamics_experiment.h"
#include "resdyn.h"
#include "test_paths.h"
#include "tiny_net.h"

using namespace resdyn;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------
// The tiny net: D = 4 pixels, N = 3 units, T = 4 layers, 3 classes, with a stem.
// ---------------------------------------------------------------------------

const float kP[3][4] = {{1.0f, -0.5f, 0.25f, 0.0f}, {-1.0f, 0.5f, 1.5f, -0.25f}, {0.5f, 0.75f, -1.0f, 1.25f}};
const float kC[3] = {0.1f, -0.2f, 0.3f};
const float kK[3][3] = {{0.2f, 1.5f, -0.3f}, {1.1f, -0.4f, 0.6f}, {-0.5f, 0.2f, 0.9f}};  // i_c = 1, 0, 2
const float kK0[3] = {0.0f, 0.1f, -0.1f};
const float kW[3][3] = {{0.5f, -1.0f, 0.25f}, {1.5f, 0.2f, -0.7f}, {-0.3f, 0.8f, -1.2f}};
const float kB[3] = {-0.5f, 0.2f, 0.1f};

// Per-layer nets get W_t = (1 - t/5) W + (i - j)/10 and b_t = b + t/10.
float layer_weight(int t, int i, int j, bool per_layer) {
  return per_layer ? kW[i][j] * (1.0f - 0.2f * t) + 0.1f * (i - j) : kW[i][j];
}
float layer_bias(int t, int i, bool per_layer) { return per_layer ? kB[i] + 0.1f * t : kB[i]; }

Net<float> tiny_net(Arch arch, Weights weights, int depth = 4) {
  Config cfg;
  cfg.arch = arch;
  cfg.weights = weights;
  cfg.input = 4;
  cfg.width = 3;
  cfg.depth = depth;
  cfg.classes = 3;
  cfg.stem = true;
  Net<float> net(cfg);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 4; ++j) net.P()[i * 4 + j] = kP[i][j];
    net.c()[i] = kC[i];
    for (int j = 0; j < 3; ++j) net.K()[i * 3 + j] = kK[i][j];
    net.k0()[i] = kK0[i];
  }
  const bool per_layer = weights == Weights::PerLayer;
  for (int t = 1; t <= net.layout.blocks; ++t)
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) net.W(t)[i * 3 + j] = layer_weight(t, i, j, per_layer);
      net.b(t)[i] = layer_bias(t, i, per_layer);
    }
  return net;
}

// Eight 2x2 images grouped by class: 3 of class 0, 2 of class 1, 3 of class 2.
const ClassGroups kGroups = ClassGroups::from_sizes({3, 2, 3});
const std::vector<uint8_t> kPixels = {
    0,   255, 128, 64,   //
    10,  240, 100, 90,   //
    30,  200, 150, 20,   //
    255, 0,   0,   255,  //
    220, 15,  40,  230,  //
    90,  90,  255, 0,    //
    60,  120, 250, 10,   //
    100, 70,  235, 35,   //
};

// ---------------------------------------------------------------------------
// The reference: a scalar double forward pass and the definitions of
// experiments/dynamics_experiment.h as loops.
// ---------------------------------------------------------------------------

struct ReferenceRun {
  // [sample][t][i]: y[.][t] for t = 1..T (index 0 unused), x[.][t] for t = 0..T. For an MLP
  // both hold h(t), as the probes read them.
  std::vector<std::vector<std::vector<double>>> y, x;
};

ReferenceRun reference_run(const Net<float>& net, const std::vector<uint8_t>& pixels, int samples, int depth,
                           Precision precision = Precision::fp32) {
  const Config& cfg = net.config;
  const int N = cfg.width, D = cfg.input;
  const auto in = [precision](double v) { return tiny::operand(v, precision); };
  ReferenceRun run;
  for (int s = 0; s < samples; ++s) {
    std::vector<std::vector<double>> ys(size_t(depth) + 1, std::vector<double>(size_t(N))), xs = ys;
    for (int i = 0; i < N; ++i) {
      double z = net.c()[i];
      for (int j = 0; j < D; ++j) {
        const float pixel = float(pixels[size_t(s) * D + j]) * float(1.0 / 255.0);  // as set_input scales it
        z += in(net.P()[i * D + j]) * in(precision == Precision::bf16 ? pixel : pixels[size_t(s) * D + j] / 255.0);
      }
      xs[0][size_t(i)] = 1 / (1 + std::exp(-z));
    }
    for (int t = 1; t <= depth; ++t) {
      const int layer = cfg.weights == Weights::Shared ? 1 : t;
      for (int i = 0; i < N; ++i) {
        double z = net.b(layer)[i];
        for (int j = 0; j < N; ++j) z += in(net.W(layer)[i * N + j]) * in(xs[size_t(t) - 1][size_t(j)]);
        const double out = 1 / (1 + std::exp(-z));
        ys[size_t(t)][size_t(i)] = out;
        xs[size_t(t)][size_t(i)] = cfg.arch == Arch::ResNet ? xs[size_t(t) - 1][size_t(i)] + out : out;
      }
    }
    if (cfg.arch == Arch::MLP) ys = xs;
    run.y.push_back(ys);
    run.x.push_back(xs);
  }
  return run;
}

struct ReferenceStats {
  std::vector<std::vector<double>> mean, spread;                   // [c][t]
  std::vector<std::vector<double>> final_mean, final_std;          // [c][i]
  std::vector<int> neurons;                                        // i_c
  std::vector<std::vector<std::vector<double>>> curve_y, curve_x;  // [c][k][t]
  std::vector<std::vector<double>> distance, cosine;               // [c1][c2]
};

ReferenceStats reference_stats(const Net<float>& net, const ReferenceRun& run, const ClassGroups& g, int depth) {
  const int N = net.config.width, C = g.classes();
  ReferenceStats r;
  r.mean.assign(size_t(C), std::vector<double>(size_t(depth) + 1));
  r.spread = r.mean;
  r.final_mean.assign(size_t(C), std::vector<double>(size_t(N)));
  r.final_std = r.final_mean;
  for (int c = 0; c < C; ++c)
    for (int t = 1; t <= depth; ++t) {
      double total = 0, spread = 0;
      for (int i = 0; i < N; ++i) {
        double mu = 0;
        for (int a = g.begin(c); a < g.end(c); ++a) mu += run.y[size_t(a)][size_t(t)][size_t(i)];
        mu /= g.size(c);
        double var = 0;
        for (int a = g.begin(c); a < g.end(c); ++a) var += std::pow(run.y[size_t(a)][size_t(t)][size_t(i)] - mu, 2);
        const double sd = std::sqrt(var / g.size(c));
        total += mu;
        spread += sd;
        if (t == depth) {
          r.final_mean[size_t(c)][size_t(i)] = mu;
          r.final_std[size_t(c)][size_t(i)] = sd;
        }
      }
      r.mean[size_t(c)][size_t(t)] = total / N;
      r.spread[size_t(c)][size_t(t)] = spread / N;
    }
  for (int c = 0; c < C; ++c) {
    int best = 0;
    for (int i = 0; i < N; ++i)
      if (net.K()[c * N + i] > net.K()[c * N + best]) best = i;
    r.neurons.push_back(best);
  }
  r.curve_y.assign(size_t(C), std::vector<std::vector<double>>(size_t(C), std::vector<double>(size_t(depth) + 1)));
  r.curve_x = r.curve_y;
  for (int c = 0; c < C; ++c)
    for (int k = 0; k < C; ++k)
      for (int t = 1; t <= depth; ++t) {
        double sy = 0, sx = 0;
        for (int a = g.begin(c); a < g.end(c); ++a) {
          sy += run.y[size_t(a)][size_t(t)][size_t(r.neurons[size_t(k)])];
          sx += run.x[size_t(a)][size_t(t)][size_t(r.neurons[size_t(k)])];
        }
        r.curve_y[size_t(c)][size_t(k)][size_t(t)] = sy / g.size(c);
        r.curve_x[size_t(c)][size_t(k)][size_t(t)] = sx / g.size(c);
      }
  r.distance.assign(size_t(C), std::vector<double>(size_t(C)));
  r.cosine = r.distance;
  for (int c1 = 0; c1 < C; ++c1)
    for (int c2 = 0; c2 < C; ++c2) {
      double dsum = 0, csum = 0;
      int pairs = 0;
      for (int a = g.begin(c1); a < g.end(c1); ++a)
        for (int b = g.begin(c2); b < g.end(c2); ++b) {
          if (a == b) continue;
          double sq = 0;
          for (int t = 1; t <= depth; ++t)
            for (int i = 0; i < N; ++i)
              sq += std::pow(run.y[size_t(a)][size_t(t)][size_t(i)] - run.y[size_t(b)][size_t(t)][size_t(i)], 2);
          dsum += std::sqrt(sq);
          const auto& sa = run.x[size_t(a)][size_t(depth)];
          const auto& sb = run.x[size_t(b)][size_t(depth)];
          double dot = 0, na = 0, nb = 0;
          for (int i = 0; i < N; ++i) {
            dot += sa[size_t(i)] * sb[size_t(i)];
            na += sa[size_t(i)] * sa[size_t(i)];
            nb += sb[size_t(i)] * sb[size_t(i)];
          }
          csum += dot / std::sqrt(na * nb);
          ++pairs;
        }
      r.distance[size_t(c1)][size_t(c2)] = dsum / pairs;
      r.cosine[size_t(c1)][size_t(c2)] = csum / pairs;
    }
  return r;
}

// The float forward pass agrees with the double reference to about 1e-6 on this net, in
// either precision when the reference rounds the same operands.
void expect_matches_reference(const TransientDynamics& d, const Net<float>& net, int depth,
                              Precision precision = Precision::fp32) {
  const double tol = 2e-5;
  const ReferenceRun run = reference_run(net, kPixels, kGroups.total(), depth, precision);
  const ReferenceStats ref = reference_stats(net, run, kGroups, depth);
  const int C = 3, N = 3;
  ASSERT_EQ(d.depth, depth);
  ASSERT_EQ(d.trajectory.layers(), depth);
  ASSERT_EQ(d.sensitive.layers(), depth);
  for (int c = 0; c < C; ++c)
    for (int t = 1; t <= depth; ++t) {
      EXPECT_NEAR(d.trajectory.mean(c, t), ref.mean[size_t(c)][size_t(t)], tol) << "class " << c << " layer " << t;
      EXPECT_NEAR(d.trajectory.spread(c, t), ref.spread[size_t(c)][size_t(t)], tol) << "class " << c << " layer " << t;
    }
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < N; ++i) {
      EXPECT_NEAR(d.final_profile.mean_at(c, i), ref.final_mean[size_t(c)][size_t(i)], tol);
      EXPECT_NEAR(d.final_profile.stddev_at(c, i), ref.final_std[size_t(c)][size_t(i)], tol);
    }
  for (int k = 0; k < C; ++k) EXPECT_EQ(d.sensitive.neuron(k), ref.neurons[size_t(k)]);
  for (int c = 0; c < C; ++c)
    for (int k = 0; k < C; ++k)
      for (int t = 1; t <= depth; ++t) {
        EXPECT_NEAR(d.sensitive.mean_y(c, k, t), ref.curve_y[size_t(c)][size_t(k)][size_t(t)], tol);
        EXPECT_NEAR(d.sensitive.mean_x(c, k, t), ref.curve_x[size_t(c)][size_t(k)][size_t(t)], tol * depth);
      }
  for (int c1 = 0; c1 < C; ++c1)
    for (int c2 = 0; c2 < C; ++c2) {
      EXPECT_NEAR(d.distance.at(c1, c2), ref.distance[size_t(c1)][size_t(c2)], tol) << c1 << "," << c2;
      EXPECT_NEAR(d.cosine.at(c1, c2), ref.cosine[size_t(c1)][size_t(c2)], tol) << c1 << "," << c2;
    }
  // The summary figures follow from the matrices by the rules tested on hand-made inputs below.
  EXPECT_EQ(d.distance_diag_min_rows, rows_with_diagonal_min(d.distance));
  EXPECT_EQ(d.cosine_diag_max_rows, rows_with_diagonal_max(d.cosine));
  EXPECT_EQ(d.sensitive_neuron_rule_classes, sensitive_neuron_rule_classes(d.sensitive));
  EXPECT_DOUBLE_EQ(d.cosine_contrast, diagonal_contrast(d.cosine));
}

TransientDynamics probe(const Net<float>& net, int depth = 0, int threads = 1, Precision precision = Precision::fp32) {
  Trace<float> workspace;
  DynamicsOptions options;
  options.depth = depth;
  options.threads = threads;
  options.precision = precision;
  return probe_transient_dynamics(net, kPixels.data(), kGroups, options, workspace);
}

// Bitwise equality of everything a probe computes over layers 1..layers.
void expect_same_first_layers(const TransientDynamics& a, const TransientDynamics& b, int layers) {
  for (int c = 0; c < 3; ++c)
    for (int t = 1; t <= layers; ++t) {
      EXPECT_EQ(a.trajectory.mean(c, t), b.trajectory.mean(c, t));
      EXPECT_EQ(a.trajectory.spread(c, t), b.trajectory.spread(c, t));
      for (int k = 0; k < 3; ++k) {
        EXPECT_EQ(a.sensitive.mean_y(c, k, t), b.sensitive.mean_y(c, k, t));
        EXPECT_EQ(a.sensitive.mean_x(c, k, t), b.sensitive.mean_x(c, k, t));
      }
    }
}

}  // namespace

// ---------------------------------------------------------------------------
// Every statistic against the reference
// ---------------------------------------------------------------------------

namespace {

// check(net) on the tiny net of each architecture and weight sharing.
template <class Check>
void for_each_tiny_net(const Check& check) {
  for (Arch arch : {Arch::ResNet, Arch::MLP})
    for (Weights weights : {Weights::Shared, Weights::PerLayer}) {
      SCOPED_TRACE(std::string(arch == Arch::ResNet ? "resnet " : "mlp ") +
                   (weights == Weights::Shared ? "shared" : "per-layer"));
      check(tiny_net(arch, weights));
    }
}

}  // namespace

TEST(Dynamics, EveryStatisticMatchesTheScalarReferenceOnATinyNet) {
  for_each_tiny_net([](const Net<float>& net) { expect_matches_reference(probe(net), net, 4); });
}

// --precision bf16: the same statistics from products of bfloat16-rounded operands. They
// match the reference that rounds the same operands, differ from the float32 ones by more
// than float rounding (the flag does something) and by less than bfloat16's 8 bits allow.
TEST(Dynamics, Bf16ProbesMatchTheReferenceWithBfloat16Operands) {
  for_each_tiny_net([](const Net<float>& net) {
    const TransientDynamics bf16 = probe(net, 0, 1, Precision::bf16), fp32 = probe(net);
    expect_matches_reference(bf16, net, 4, Precision::bf16);
    double largest = 0;
    for (int c = 0; c < 3; ++c)
      for (int t = 1; t <= 4; ++t)
        for (int k = 0; k < 3; ++k)
          largest = std::max(largest, std::fabs(bf16.sensitive.mean_y(c, k, t) - fp32.sensitive.mean_y(c, k, t)));
    EXPECT_GT(largest, 1e-4);
    EXPECT_LT(largest, 4e-3);  // y in (0, 1): less than 2^-8, bfloat16's relative rounding step
    // The float32 path is the one of before: an explicit fp32 gives the default's bits.
    expect_same_first_layers(probe(net, 0, 1, Precision::fp32), fp32, 4);
  });
}

TEST(Dynamics, ResultsDoNotDependOnTheThreadCount) {
  const Net<float> net = tiny_net(Arch::ResNet, Weights::Shared);
  const TransientDynamics one = probe(net, 6, 1), two = probe(net, 6, 2);
  expect_same_first_layers(one, two, 6);
  EXPECT_EQ(one.distance.values, two.distance.values);
  EXPECT_EQ(one.cosine.values, two.cosine.values);
}

TEST(Dynamics, ProbeErrorCountsRowsWhoseArgmaxIsNotTheirClass) {
  const Net<float> net = tiny_net(Arch::ResNet, Weights::PerLayer);
  const TransientDynamics d = probe(net);
  Trace<float> trace;
  set_input(trace, kPixels.data(), kGroups.total(), 4);
  forward(net, trace);
  int wrong = 0;
  for (int c = 0; c < 3; ++c)
    for (int r = kGroups.begin(c); r < kGroups.end(c); ++r) {
      const int predicted = argmax_row(&trace.logits[size_t(r) * 3], 3);
      EXPECT_EQ(d.predicted[size_t(r)], predicted);
      wrong += predicted != c;
    }
  EXPECT_DOUBLE_EQ(d.probe_error, wrong / 8.0);
}

// ---------------------------------------------------------------------------
// Unrolling
// ---------------------------------------------------------------------------

TEST(Dynamics, UnrollingASharedNetKeepsTheFirstLayersAndMatchesExplicitLayers) {
  for (Arch arch : {Arch::ResNet, Arch::MLP}) {
    const Net<float> shared = tiny_net(arch, Weights::Shared);
    const TransientDynamics trained = probe(shared), unrolled = probe(shared, 9);
    expect_same_first_layers(trained, unrolled, 4);
    expect_matches_reference(unrolled, shared, 9);

    // Nine explicit layers, each a copy of W and b: the same arithmetic, so the same bits.
    Net<float> explicit_layers = tiny_net(arch, Weights::PerLayer, 9);
    for (int t = 1; t <= 9; ++t) {
      std::copy_n(shared.W(1), 9, explicit_layers.W(t));
      std::copy_n(shared.b(1), 3, explicit_layers.b(t));
    }
    const TransientDynamics stacked = probe(explicit_layers);
    expect_same_first_layers(unrolled, stacked, 9);
    EXPECT_EQ(unrolled.final_profile.mean, stacked.final_profile.mean);
    EXPECT_EQ(unrolled.final_profile.stddev, stacked.final_profile.stddev);
    EXPECT_EQ(unrolled.distance.values, stacked.distance.values);
    EXPECT_EQ(unrolled.cosine.values, stacked.cosine.values);
    EXPECT_EQ(unrolled.predicted, stacked.predicted);
  }
}

TEST(Dynamics, PerLayerNetsRefuseToUnroll) {
  const Net<float> net = tiny_net(Arch::ResNet, Weights::PerLayer);
  EXPECT_THROW(probe(net, 5), Error);
  EXPECT_THROW(probe(net, 3), Error);
  EXPECT_NO_THROW(probe(net, 4));
}

TEST(Dynamics, UnrollingTo1000LayersKeepsTwoLayersInMemory) {
  const Net<float> net = tiny_net(Arch::ResNet, Weights::Shared);
  Trace<float> workspace;
  DynamicsOptions options;
  options.depth = 1000;
  const TransientDynamics d = probe_transient_dynamics(net, kPixels.data(), kGroups, options, workspace);
  const size_t layer = size_t(kGroups.total()) * 3;
  EXPECT_EQ(workspace.x.size(), 2 * layer);
  EXPECT_LE(workspace.x.capacity(), 2 * layer);
  EXPECT_EQ(workspace.y.size(), layer);
  EXPECT_EQ(d.trajectory.layers(), 1000);
  EXPECT_EQ(d.sensitive.layers(), 1000);
  expect_same_first_layers(probe(net), d, 4);

  // The distances over 1000 layers against double sums over the same float layers (a
  // keep-all forward pass does the same arithmetic), within the bound stated in class_pairs.h.
  Trace<float> all;
  set_input(all, kPixels.data(), kGroups.total(), 4);
  ForwardOptions<float> keep;
  keep.depth = 1000;
  forward(net, all, keep);
  const int n = kGroups.total(), N = 3;
  const double u = std::ldexp(1.0, -24);
  for (int c1 = 0; c1 < 3; ++c1)
    for (int c2 = 0; c2 < 3; ++c2) {
      double sum = 0, bound = 0;
      int pairs = 0;
      for (int a = kGroups.begin(c1); a < kGroups.end(c1); ++a)
        for (int b = kGroups.begin(c2); b < kGroups.end(c2); ++b) {
          if (a == b) continue;
          double sq = 0, scale = 0;
          for (int t = 1; t <= 1000; ++t) {
            const float* y = all.residual(t);
            for (int i = 0; i < N; ++i) {
              double mean = 0;
              for (int r = 0; r < n; ++r) mean += y[r * N + i];
              mean /= n;
              sq += std::pow(double(y[a * N + i]) - y[b * N + i], 2);
              scale += std::pow(y[a * N + i] - mean, 2) + std::pow(y[b * N + i] - mean, 2);
            }
          }
          sum += std::sqrt(sq);
          // |sqrt(s') - sqrt(s)| <= |s' - s| / sqrt(s) for the squared-sum error |s' - s|.
          bound += (2.0 * N + 4) * u * scale / std::sqrt(sq);
          ++pairs;
        }
      EXPECT_NEAR(d.distance.at(c1, c2), sum / pairs, bound / pairs + 1e-12) << c1 << "," << c2;
    }
}

// ---------------------------------------------------------------------------
// The float Gram matrices, on their own
// ---------------------------------------------------------------------------

TEST(TrajectoryDistance, StaysWithinTheStatedFloatToleranceOnConvergingTrajectories) {
  // 4 classes of 6 samples, 300 units, 200 layers: values near 0.7 with class offsets of
  // 0.05 and per-sample deviations that shrink like exp(-t/20) (settling dynamics, where
  // the cancellation in |a|^2 + |b|^2 - 2ab is at its worst). Row 7 repeats row 6.
  const ClassGroups groups = ClassGroups::from_sizes({6, 6, 6, 6});
  const int n = 24, w = 300, layers = 200;
  Rng rng(17);
  std::vector<double> base(static_cast<size_t>(w)), offset(size_t(4 * w)), deviation(size_t(n * w));
  for (auto& v : base) v = rng.uniform(0.6, 0.8);
  for (auto& v : offset) v = rng.uniform(-0.05, 0.05);
  for (auto& v : deviation) v = rng.uniform(-0.02, 0.02);
  TrajectoryDistance distance(groups, w);
  std::vector<double> sq(size_t(n * n), 0.0), scale(size_t(n * n), 0.0);
  std::vector<float> y(size_t(n * w));
  for (int t = 1; t <= layers; ++t) {
    for (int r = 0; r < n; ++r)
      for (int i = 0; i < w; ++i) {
        const int source = r == 7 ? 6 : r;
        y[size_t(r * w + i)] = float(base[size_t(i)] + offset[size_t((source / 6) * w + i)] +
                                     deviation[size_t(source * w + i)] * std::exp(-t / 20.0));
      }
    distance.add_layer(y.data(), 2);
    std::vector<double> mean(static_cast<size_t>(w), 0.0);
    for (int r = 0; r < n; ++r)
      for (int i = 0; i < w; ++i) mean[size_t(i)] += y[size_t(r * w + i)] / double(n);
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b)
        for (int i = 0; i < w; ++i) {
          sq[size_t(a * n + b)] += std::pow(double(y[size_t(a * w + i)]) - y[size_t(b * w + i)], 2);
          scale[size_t(a * n + b)] +=
              std::pow(y[size_t(a * w + i)] - mean[size_t(i)], 2) + std::pow(y[size_t(b * w + i)] - mean[size_t(i)], 2);
        }
  }
  const double u = std::ldexp(1.0, -24);
  double worst_ratio = 0;
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b) {
      const double got = distance.distance(a, b) * distance.distance(a, b);
      const double bound = (2.0 * w + 4) * u * scale[size_t(a * n + b)];
      ASSERT_LE(std::fabs(got - sq[size_t(a * n + b)]), bound) << a << "," << b;
      if (a != b) worst_ratio = std::max(worst_ratio, std::fabs(got - sq[size_t(a * n + b)]) / sq[size_t(a * n + b)]);
    }
  EXPECT_EQ(distance.distance(6, 7), 0.0);  // identical trajectories
  EXPECT_EQ(distance.distance(7, 6), 0.0);
  EXPECT_LT(worst_ratio, 1e-4);  // the relative error the bound allows here, with room
}

// ---------------------------------------------------------------------------
// Summary rules on hand-made inputs with known answers
// ---------------------------------------------------------------------------

TEST(SummaryRules, DiagonalMinimumAndMaximumRowsCountTiesAndSkipNaN) {
  ClassMatrix m(3);
  m.values = {1, 2,   3,     // diagonal is the minimum
              2, 1,   0.5,   // 0.5 < 1: not
              3, 0.5, 0.5};  // tie: counts
  EXPECT_EQ(rows_with_diagonal_min(m), 2);
  EXPECT_EQ(rows_with_diagonal_max(m), 0);
  m.values = {0.9, 0.5, 0.9,  // tie: counts
              0.1, 0.8, 0.7,  // counts
              0.2, 0.3, kNaN};
  EXPECT_EQ(rows_with_diagonal_max(m), 2);
  EXPECT_EQ(rows_with_diagonal_min(m), 0);
  m.values = {4, 1, 2, 3, 5, 0, 1, 1, 6};
  EXPECT_DOUBLE_EQ(diagonal_contrast(m), 15.0 / 3 - 8.0 / 6);
}

TEST(SummaryRules, TrajectoryDistancesOfHandMadePoints) {
  // Two layers of 2-D points. Class 0: a0 = (0,0),(0,0); a1 = (3,0),(0,4).
  // Class 1: b0 = b1 = (0,4),(0,0). Class 2 (one sample): c0 = (6,8),(0,0).
  const ClassGroups groups = ClassGroups::from_sizes({2, 2, 1});
  const std::vector<float> layer1 = {0, 0, 3, 0, 0, 4, 0, 4, 6, 8};
  const std::vector<float> layer2 = {0, 0, 0, 4, 0, 0, 0, 0, 0, 0};
  TrajectoryDistance distance(groups, 2);
  distance.add_layer(layer1.data(), 1);
  distance.add_layer(layer2.data(), 1);
  const ClassMatrix d = distance.class_means();
  EXPECT_NEAR(d.at(0, 0), 5.0, 1e-6);                                // sqrt(9 + 16)
  EXPECT_EQ(d.at(1, 1), 0.0);                                        // identical trajectories
  EXPECT_TRUE(std::isnan(d.at(2, 2)));                               // no pair in a class of one
  EXPECT_NEAR(d.at(0, 1), (4 + 4 + 2 * std::sqrt(41.0)) / 4, 1e-6);  // 4, 4, sqrt(25+16) twice
  EXPECT_NEAR(d.at(0, 2), (10 + std::sqrt(89.0)) / 2, 1e-6);         // 10, sqrt(73+16)
  EXPECT_NEAR(d.at(1, 2), std::sqrt(52.0), 1e-6);
  EXPECT_EQ(d.at(1, 0), d.at(0, 1));
  EXPECT_EQ(d.at(2, 1), d.at(1, 2));
  EXPECT_EQ(rows_with_diagonal_min(d), 2);  // rows 0 and 1; row 2 has no diagonal
}

TEST(SummaryRules, CosineSimilaritiesOfHandMadeVectors) {
  // Class 0: (1,0), (0,1). Class 1: (0,1), (0,2). Class 2: (-1,0), (-2,0).
  const ClassGroups groups = ClassGroups::from_sizes({2, 2, 2});
  const std::vector<float> s = {1, 0, 0, 1, 0, 1, 0, 2, -1, 0, -2, 0};
  const ClassMatrix c = mean_cosine_similarity(s.data(), 2, groups, 1);
  const double expected[3][3] = {{0, 0.5, -0.5}, {0.5, 1, 0}, {-0.5, 0, 1}};
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(c.at(r, k), expected[r][k], 1e-7) << r << "," << k;
  EXPECT_EQ(rows_with_diagonal_max(c), 2);  // row 0: 0 < 0.5
  EXPECT_NEAR(diagonal_contrast(c), 2.0 / 3 - 0.0, 1e-7);
  // A zero vector has cosine 0 with everything.
  const std::vector<float> with_zero = {0, 0, 1, 1};
  const ClassMatrix z = mean_cosine_similarity(with_zero.data(), 2, ClassGroups::from_sizes({1, 1}), 1);
  EXPECT_EQ(z.at(0, 1), 0.0);
}

TEST(SummaryRules, FirstLayerFromWhichEverySpreadStaysBelow) {
  // Two classes, two neurons with equal spreads, so spread_c(t) is the value below.
  auto stats_of = [](const std::vector<std::vector<double>>& spreads) {
    TrajectoryStats stats(2);
    for (size_t t = 0; t < spreads[0].size(); ++t) {
      ClassProfile p;
      p.classes = 2;
      p.width = 2;
      p.mean = {0.5, 0.5, 0.25, 0.25};
      p.stddev = {spreads[0][t], spreads[0][t], spreads[1][t], spreads[1][t]};
      stats.add_layer(p);
    }
    return stats;
  };
  const TrajectoryStats s = stats_of({{0.5, 5e-4, 2e-3, 1e-4, 0}, {1e-4, 1e-4, 1e-4, 9e-4, 1e-5}});
  EXPECT_EQ(first_layer_spread_below(s, 1e-3), 4);  // layer 3 has 2e-3
  EXPECT_DOUBLE_EQ(s.mean(1, 2), 0.25);
  EXPECT_DOUBLE_EQ(s.spread(0, 3), 2e-3);
  EXPECT_EQ(first_layer_spread_below(stats_of({{1e-4, 0}, {0, 0}}), 1e-3), 1);
  EXPECT_FALSE(first_layer_spread_below(stats_of({{0, 1e-3}, {0, 0}}), 1e-3).has_value());  // not below
  EXPECT_FALSE(first_layer_spread_below(stats_of({{0, kNaN}, {0, 0}}), 1e-3).has_value());
}

TEST(SummaryRules, SensitiveNeuronRuleOnHandMadeStates) {
  // K rows: class 0 peaks at neuron 2, class 1 at neuron 0 (a tie with neuron 1: the lower
  // index), class 2 at neuron 2 as well.
  const std::vector<float> K = {0.1f, -1, 3, 0.5f, 0.5f, 0.1f, 0, 1, 2};
  const std::vector<int> neurons = most_sensitive_neurons(K.data(), 3, 3);
  EXPECT_EQ(neurons, (std::vector<int>{2, 0, 2}));
  SensitiveNeuronCurves curves(neurons);
  const ClassGroups groups = ClassGroups::from_sizes({2, 1, 2});
  // Layer 1 would make every class hold the rule; only the deepest layer counts.
  const std::vector<float> x1 = {0, 0, 9, 0, 0, 9, 9, 0, 0, 0, 0, 9, 0, 0, 9};
  // Layer 2, class means: class 0 (1,5,2): x_2 = 2 >= x_0 = 1, holds (neuron 1 is no i_k);
  // class 1 (1,0,3): x_0 = 1 < x_2 = 3, fails; class 2 (0.5,0,0.5): ties, holds.
  const std::vector<float> x2 = {0, 5, 1, 2, 5, 3, 1, 0, 3, 0, 0, 0, 1, 0, 1};
  curves.add_layer(x1.data(), x1.data(), 3, groups);
  curves.add_layer(x2.data(), x2.data(), 3, groups);
  EXPECT_EQ(curves.layers(), 2);
  EXPECT_DOUBLE_EQ(curves.mean_x(0, 0, 2), 2.0);
  EXPECT_DOUBLE_EQ(curves.mean_x(1, 1, 2), 1.0);
  EXPECT_DOUBLE_EQ(curves.mean_y(2, 1, 2), 0.5);
  EXPECT_DOUBLE_EQ(curves.mean_y(1, 0, 1), 0.0);
  EXPECT_EQ(sensitive_neuron_rule_classes(curves), 2);
}

TEST(SummaryRules, ClassProfileIsThePopulationMeanAndStandardDeviation) {
  const ClassGroups groups = ClassGroups::from_sizes({3, 1});
  const std::vector<float> block = {1, 10, 2, 10, 6, 10, 7, -1};  // width 2
  ClassProfile p;
  class_profile(block.data(), 2, groups, p);
  EXPECT_DOUBLE_EQ(p.mean_at(0, 0), 3.0);
  EXPECT_DOUBLE_EQ(p.stddev_at(0, 0), std::sqrt(14.0 / 3));  // deviations -2, -1, 3
  EXPECT_DOUBLE_EQ(p.stddev_at(0, 1), 0.0);
  EXPECT_DOUBLE_EQ(p.mean_at(1, 1), -1.0);
  EXPECT_DOUBLE_EQ(p.stddev_at(1, 0), 0.0);
}

// ---------------------------------------------------------------------------
// The experiment: sample selection and files
// ---------------------------------------------------------------------------

namespace {

// Twelve 2x2 images with labels in mixed order.
Dataset tiny_dataset() {
  Dataset data;
  data.count = 12;
  data.rows = data.cols = 2;
  data.labels = {1, 0, 2, 0, 1, 1, 2, 0, 0, 2, 1, 0};
  for (int i = 0; i < 12; ++i)
    for (int j = 0; j < 4; ++j) data.images.push_back(uint8_t((i * 53 + j * 97 + i * j * 31) % 256));
  return data;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string fresh_dir(const std::string& name) {
  const std::string dir = testing::TempDir() + "/dynamics_" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

const char* const kFiles[] = {"trajectory_stats.csv", "final_profile.csv", "sensitive_neurons.csv",
                              "distance_matrix.csv",  "cosine_matrix.csv", "summary.json"};

}  // namespace

TEST(DynamicsExperiment, ProbesTheFirstSamplesOfEachClassInFileOrder) {
  const Net<float> net = tiny_net(Arch::MLP, Weights::Shared);
  const Dataset data = tiny_dataset();  // labels 1 0 2 0 1 1 2 0 0 2 1 0
  DynamicsExperimentOptions options;
  options.samples_per_class = 2;
  options.out_dir = fresh_dir("selection");
  const TransientDynamics d = run_dynamics_experiment(net, data, options).dynamics;
  EXPECT_EQ(d.groups.offsets, (std::vector<int>{0, 2, 4, 6}));
  // The same probes on the images gathered by hand: indices 1, 3 | 0, 4 | 2, 6.
  std::vector<uint8_t> pixels;
  for (int i : {1, 3, 0, 4, 2, 6})
    pixels.insert(pixels.end(), &data.images[size_t(i) * 4], &data.images[size_t(i) * 4 + 4]);
  Trace<float> workspace;
  const TransientDynamics by_hand = probe_transient_dynamics(net, pixels.data(), d.groups, {}, workspace);
  expect_same_first_layers(d, by_hand, 4);
  EXPECT_EQ(d.distance.values, by_hand.distance.values);

  options.samples_per_class = 100;  // more than any class has: all of them
  EXPECT_EQ(run_dynamics_experiment(net, data, options).dynamics.groups.offsets, (std::vector<int>{0, 5, 9, 12}));

  Config four = net.config;
  four.classes = 4;  // no test sample of class 3
  EXPECT_THROW(run_dynamics_experiment(Net<float>(four), data, options), Error);
  EXPECT_THROW(ClassGroups::from_sorted_labels({0, 1, 0}, 2), Error);
  EXPECT_EQ(ClassGroups::from_sorted_labels({0, 0, 2}, 3).offsets, (std::vector<int>{0, 2, 2, 3}));
}

TEST(DynamicsExperiment, WritesExactlyTheListedFilesDeterministically) {
  const Net<float> net = tiny_net(Arch::ResNet, Weights::Shared);
  const Dataset data = tiny_dataset();
  DynamicsExperimentOptions options;
  options.samples_per_class = 3;
  options.unroll = 7;
  const std::string first_dir = fresh_dir("files_1");
  options.out_dir = first_dir;
  const DynamicsExperimentResult r = run_dynamics_experiment(net, data, options);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(options.out_dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  std::vector<std::string> expected(std::begin(kFiles), std::end(kFiles));
  ASSERT_EQ(r.files.size(), expected.size());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names, expected);

  EXPECT_DOUBLE_EQ(r.test_error, evaluate(net, data).error);
  EXPECT_EQ(r.dynamics.depth, 7);
  const std::string summary = slurp(options.out_dir + "/summary.json");
  for (const char* key : {"\"sensitive_neuron_rule_classes\": ", "\"distance_diag_min_rows\": ",
                          "\"cosine_diag_max_rows\": ", "\"cosine_contrast\": ", "\"first_layer_spread_below_1e-3\": ",
                          "\"depth\": 7", "\"samples_per_class\": 3", "\"test_error\": "})
    EXPECT_NE(summary.find(key), std::string::npos) << key << "\n" << summary;
  // Header plus one row per class and layer, class and neuron, class x class x layer.
  auto lines = [&](const char* name) {
    const std::string text = slurp(options.out_dir + "/" + name);
    return std::count(text.begin(), text.end(), '\n');
  };
  EXPECT_EQ(lines("trajectory_stats.csv"), 1 + 3 * 7);
  EXPECT_EQ(lines("final_profile.csv"), 1 + 3 * 3);
  EXPECT_EQ(lines("sensitive_neurons.csv"), 1 + 3 * 3 * 7);
  EXPECT_EQ(lines("distance_matrix.csv"), 1 + 3);
  EXPECT_EQ(slurp(options.out_dir + "/cosine_matrix.csv").substr(0, 14), "class,0,1,2\n0,");

  options.threads = 2;
  options.out_dir = fresh_dir("files_2");
  run_dynamics_experiment(net, data, options);
  for (const char* name : kFiles) EXPECT_EQ(slurp(first_dir + "/" + name), slurp(options.out_dir + "/" + name)) << name;
}

TEST(DynamicsExperiment, RunsEveryForwardPassInThePrecisionAndRecordsIt) {
  const Net<float> net = tiny_net(Arch::ResNet, Weights::PerLayer);
  const Dataset data = tiny_dataset();
  DynamicsExperimentOptions options;
  options.samples_per_class = 3;
  options.out_dir = fresh_dir("fp32");
  const DynamicsExperimentResult fp32 = run_dynamics_experiment(net, data, options);
  EXPECT_NE(slurp(options.out_dir + "/summary.json").find("\"precision\": \"fp32\""), std::string::npos);
  options.precision = Precision::bf16;
  options.out_dir = fresh_dir("bf16");
  const DynamicsExperimentResult bf16 = run_dynamics_experiment(net, data, options);
  EXPECT_NE(slurp(options.out_dir + "/summary.json").find("\"precision\": \"bf16\""), std::string::npos);
  EXPECT_EQ(bf16.test_error, evaluate<float>(net, data, 1, 0, 256, nullptr, Precision::bf16).error);
  EXPECT_NE(bf16.dynamics.trajectory.mean(0, 1), fp32.dynamics.trajectory.mean(0, 1));
  // The probes are those of the analysis in bf16 on the same samples.
  Trace<float> workspace;
  const TransientDynamics by_hand = probe_transient_dynamics(net, first_per_class(data, 3, 3).images.data(),
                                                             bf16.dynamics.groups, {0, 1, Precision::bf16}, workspace);
  expect_same_first_layers(bf16.dynamics, by_hand, 4);
}

TEST(DynamicsExperiment, RefusesToUnrollAPerLayerNetBeforeWritingAnything) {
  const Net<float> net = tiny_net(Arch::ResNet, Weights::PerLayer);
  DynamicsExperimentOptions options;
  options.unroll = 8;
  options.out_dir = fresh_dir("per_layer");
  try {
    run_dynamics_experiment(net, tiny_dataset(), options);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shared"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(options.out_dir));
}

// ---------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------

namespace {

int run_program(const std::string& args, std::string* err) {
  const std::string err_path = testing::TempDir() + "/dynamics_cli.err";
  const std::string command = test_paths::program() + " " + args + " >/dev/null 2>" + err_path + " </dev/null";
  const int raw = std::system(command.c_str());
  *err = slurp(err_path);
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
}

void put_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += char((v >> shift) & 0xFF);
}

// The tiny data set as the two IDX test files in dir.
void write_idx_test_files(const Dataset& data, const std::string& dir) {
  std::string images, labels;
  put_be32(images, 0x803);
  put_be32(images, uint32_t(data.count));
  put_be32(images, uint32_t(data.rows));
  put_be32(images, uint32_t(data.cols));
  images.append(data.images.begin(), data.images.end());
  put_be32(labels, 0x801);
  put_be32(labels, uint32_t(data.count));
  labels.append(data.labels.begin(), data.labels.end());
  std::ofstream(dir + "/t10k-images-idx3-ubyte", std::ios::binary) << images;
  std::ofstream(dir + "/t10k-labels-idx1-ubyte", std::ios::binary) << labels;
}

}  // namespace

TEST(DynamicsCommand, RunsOnSharedNetsAndRefusesToUnrollPerLayerNets) {
  std::string err;
  if (run_program("dynamics --help", &err) != 0) GTEST_SKIP() << test_paths::program() << " has no dynamics command";
  const std::string dir = fresh_dir("cli");
  std::filesystem::create_directories(dir);
  write_idx_test_files(tiny_dataset(), dir);
  save_model(tiny_net(Arch::ResNet, Weights::Shared), dir + "/shared.resdyn");
  save_model(tiny_net(Arch::ResNet, Weights::PerLayer), dir + "/per_layer.resdyn");

  EXPECT_EQ(run_program("dynamics --model " + dir + "/shared.resdyn --data " + dir + " --out " + dir +
                            "/out --samples-per-class 2 --unroll 20 --threads 2",
                        &err),
            0)
      << err;
  for (const char* name : kFiles) EXPECT_TRUE(std::filesystem::exists(dir + "/out/" + name)) << name;

  EXPECT_EQ(run_program("dynamics --model " + dir + "/per_layer.resdyn --data " + dir + " --out " + dir +
                            "/refused --unroll 20",
                        &err),
            2);
  EXPECT_EQ(err.find('\n'), err.size() - 1) << "not one line: " << err;
  EXPECT_NE(err.find("shared"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/refused"));

  EXPECT_EQ(run_program(
                "dynamics --model " + dir + "/shared.resdyn --data " + dir + " --out " + dir + "/bad --unroll 0", &err),
            2);
  EXPECT_EQ(run_program("dynamics --model " + dir + "/shared.resdyn --data " + dir, &err), 2);  // no --out
  EXPECT_NE(err.find("--out"), std::string::npos) << err;
  EXPECT_EQ(run_program("dynamics --model " + dir + "/shared.resdyn --data " + dir + " --out " + dir +
                            "/bf16 --samples-per-class 2 --precision bf16",
                        &err),
            0)
      << err;
  EXPECT_NE(slurp(dir + "/bf16/summary.json").find("\"precision\": \"bf16\""), std::string::npos);
}
