// The batched forward pass against the equations of SPEC §1 written out as scalar loops,
// one sample at a time.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "resdyn.h"
#include "tiny_net.h"

using namespace resdyn;

namespace {

// x(t) (ResNet) or h(t) (MLP) for t = 0..T and the logits of one sample, by the definition.
struct Reference {
  std::vector<std::vector<double>> x, y;
  std::vector<double> logits;
};

Reference reference_forward(const Net<double>& net, const uint8_t* pixels, int depth) {
  const Config& c = net.config;
  const int N = c.width, D = c.input;
  Reference r;
  std::vector<double> u(D);
  for (int j = 0; j < D; ++j) u[j] = pixels[j] / 255.0;
  std::vector<double> x(N);
  for (int i = 0; i < N; ++i) {
    if (!c.stem) {
      x[i] = u[i];
      continue;
    }
    double z = net.c()[i];
    for (int j = 0; j < D; ++j) z += net.P()[size_t(i) * D + j] * u[j];
    x[i] = 1 / (1 + std::exp(-z));
  }
  r.x.push_back(x);
  for (int t = 1; t <= depth; ++t) {
    const int layer = t <= c.depth ? t : 1;
    std::vector<double> y(N), next(N);
    for (int i = 0; i < N; ++i) {
      double z = net.b(layer)[i];
      for (int j = 0; j < N; ++j) z += net.W(layer)[size_t(i) * N + j] * x[j];
      y[i] = 1 / (1 + std::exp(-z));
      next[i] = c.arch == Arch::ResNet ? x[i] + y[i] : y[i];
    }
    r.y.push_back(y);
    x = next;
    r.x.push_back(x);
  }
  for (int k = 0; k < c.classes; ++k) {
    double l = net.k0()[k];
    for (int i = 0; i < N; ++i) l += net.K()[size_t(k) * N + i] * x[i];
    r.logits.push_back(l);
  }
  return r;
}

Net<double> random_net(Arch arch, Weights weights, bool stem, uint64_t seed) {
  return tiny::random_net<double>(tiny::config(arch, weights, stem, 7, 9, 4, 3), seed, 1.5);
}

}  // namespace

TEST(Forward, MatchesScalarDefinitionForEveryVariant) {
  const int batch = 5;
  for (Arch arch : {Arch::ResNet, Arch::MLP})
    for (Weights weights : {Weights::Shared, Weights::PerLayer})
      for (bool stem : {true, false}) {
        const Net<double> net = random_net(arch, weights, stem, 3);
        Rng rng(9);
        std::vector<uint8_t> pixels(size_t(batch) * net.config.input);
        for (auto& p : pixels) p = uint8_t(rng.below(256));
        Trace<double> trace;
        set_input(trace, pixels.data(), batch, net.config.input);
        forward(net, trace);
        const int N = net.config.width;
        for (int s = 0; s < batch; ++s) {
          const Reference ref = reference_forward(net, &pixels[size_t(s) * net.config.input], net.config.depth);
          for (int t = 0; t <= net.config.depth; ++t)
            for (int i = 0; i < N; ++i) ASSERT_NEAR(trace.state(t)[size_t(s) * N + i], ref.x[t][i], 1e-12);
          for (int t = 1; t <= net.config.depth; ++t)
            for (int i = 0; i < N; ++i) ASSERT_NEAR(trace.residual(t)[size_t(s) * N + i], ref.y[t - 1][i], 1e-12);
          for (int k = 0; k < net.config.classes; ++k)
            ASSERT_NEAR(trace.logits[size_t(s) * net.config.classes + k], ref.logits[k], 1e-12);
        }
      }
}

TEST(Forward, UnrollingASharedNetAppliesTheSameLayer) {
  const Net<double> net = random_net(Arch::ResNet, Weights::Shared, true, 5);
  std::vector<uint8_t> pixels = {0, 10, 20, 250, 128, 64, 3};
  Trace<double> trace;
  set_input(trace, pixels.data(), 1, 7);
  ForwardOptions<double> opt;
  opt.depth = 40;
  int layers_seen = 0;
  std::vector<double> last_y;
  opt.on_layer = [&](int t, const double* y, const double*) {
    EXPECT_EQ(t, ++layers_seen);
    last_y.assign(y, y + 9);
  };
  opt.keep_all = false;  // streaming: memory for two layers only
  forward(net, trace, opt);
  EXPECT_EQ(layers_seen, 40);
  EXPECT_EQ(trace.x.size(), size_t(2 * 9));
  const Reference ref = reference_forward(net, pixels.data(), 40);
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(last_y[i], ref.y[39][i], 1e-12);
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(trace.logits[k], ref.logits[k], 1e-12);
}

TEST(Forward, PerLayerNetsCannotBeUnrolled) {
  const Net<double> net = random_net(Arch::ResNet, Weights::PerLayer, true, 5);
  std::vector<uint8_t> pixels(7, 1);
  Trace<double> trace;
  set_input(trace, pixels.data(), 1, 7);
  ForwardOptions<double> opt;
  opt.depth = 5;
  EXPECT_THROW(forward(net, trace, opt), Error);
}

TEST(Forward, KeepingOnlyTheNewestLayerGivesTheSameLogits) {
  const Net<double> net = random_net(Arch::MLP, Weights::PerLayer, true, 11);
  std::vector<uint8_t> pixels(3 * 7);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = uint8_t(i * 37);
  Trace<double> all, newest;
  set_input(all, pixels.data(), 3, 7);
  set_input(newest, pixels.data(), 3, 7);
  forward(net, all);
  ForwardOptions<double> opt;
  opt.keep_all = false;
  forward(net, newest, opt);
  EXPECT_EQ(all.logits, newest.logits);
}

TEST(Loss, CrossEntropyMatchesClosedForm) {
  // Logits (0, log 3): softmax = (1/4, 3/4); label 1 -> loss log(4/3).
  const double logits[2] = {0.0, std::log(3.0)};
  const uint8_t label = 1;
  double d[2];
  const double loss = softmax_cross_entropy(logits, &label, 1, 2, d);
  EXPECT_NEAR(loss, std::log(4.0 / 3.0), 1e-15);
  EXPECT_NEAR(d[0], 0.25, 1e-15);
  EXPECT_NEAR(d[1], -0.25, 1e-15);
  // Huge logits stay finite.
  const double big[2] = {1000.0, -1000.0};
  EXPECT_NEAR(softmax_cross_entropy(big, &label, 1, 2, static_cast<double*>(nullptr)), 2000.0, 1e-9);
}

TEST(Sigmoid, FloatVersionIsWithinAFewUlpOfTheDoubleOne) {
  double worst_exp = 0, worst_sigmoid = 0;
  for (double x = -87.0; x <= 88.0; x += 0.000917) {
    const float xf = float(x);
    worst_exp = std::max(worst_exp, std::abs(double(exp_float(xf)) - std::exp(double(xf))) / std::exp(double(xf)));
    const double ref = 1.0 / (1.0 + std::exp(-double(xf)));
    worst_sigmoid = std::max(worst_sigmoid, std::abs(double(sigmoid(xf)) - ref) / ref);
  }
  EXPECT_LT(worst_exp, 2.5e-7);
  EXPECT_LT(worst_sigmoid, 4e-7);
  // Far outside the range: clamped, still finite and ordered.
  EXPECT_EQ(sigmoid(-1000.0f), sigmoid(-100.0f));
  EXPECT_GT(sigmoid(-100.0f), 0.0f);
  EXPECT_EQ(sigmoid(1000.0f), 1.0f);
}

TEST(Rng, WideMultiplyMatchesTheCompilersOwn128BitProduct) {
  Rng rng(99);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t a = rng.next_u64(), b = i % 3 ? rng.next_u64() : rng.next_u64() >> (i % 64);
    __extension__ const unsigned __int128 exact = static_cast<unsigned __int128>(a) * b;
    const U128 m = multiply_wide(a, b);
    ASSERT_EQ(m.high, uint64_t(exact >> 64));
    ASSERT_EQ(m.low, uint64_t(exact));
  }
  EXPECT_EQ(multiply_wide(~0ull, ~0ull).high, ~0ull - 1);
  EXPECT_EQ(multiply_wide(~0ull, ~0ull).low, 1ull);
}

TEST(Rng, BelowStaysInRangeAndCoversIt) {
  Rng rng(5);
  std::vector<int> seen(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const uint64_t v = rng.below(7);
    ASSERT_LT(v, 7u);
    seen[v]++;
  }
  for (int count : seen) EXPECT_GT(count, 850);  // 1000 expected each
}
