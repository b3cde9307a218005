// The batched forward pass (resdyn.h: forward) against the networks' equations (paper
// §4-5) written out as scalar loops, one sample at a time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
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
  const auto count_layer = [&](int t, const double* y, const double*) {
    EXPECT_EQ(t, ++layers_seen);
    last_y.assign(y, y + 9);
  };
  opt.on_layer = count_layer;
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

TEST(Forward, KeepingOnlyTheNewestLayerGivesTheSameBits) {
  // Streaming keeps two states; a ResNet streamed without a probe sums each layer in x(t)'s
  // place (no y(t) at all): logits and x(T) must still be the bits of the full trace.
  for (Arch arch : {Arch::MLP, Arch::ResNet})
    for (Weights weights : {Weights::Shared, Weights::PerLayer}) {
      const Net<double> net = random_net(arch, weights, true, 11);
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
      const size_t n = all.block();
      const int T = net.config.depth;
      EXPECT_TRUE(std::equal(all.state(T), all.state(T) + n, newest.state(T)));
      EXPECT_EQ(newest.y.size(), 0u);  // nothing kept for y(t)
      // A probe that reads y(t) gets a trace that keeps it.
      int seen = 0;
      const auto check_residual = [&](int t, const double* y, const double*) {
        ++seen;
        if (arch == Arch::ResNet) {
          EXPECT_TRUE(std::equal(y, y + n, all.residual(t)));
        }
      };
      opt.on_layer = check_residual;
      forward(net, newest, opt);
      EXPECT_EQ(seen, T);
      EXPECT_EQ(all.logits, newest.logits);
    }
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
    const U128 m = multiply_wide(a, b);
#if defined(__SIZEOF_INT128__)
    __extension__ const unsigned __int128 exact = static_cast<unsigned __int128>(a) * b;
    ASSERT_EQ(m.high, uint64_t(exact >> 64));
    ASSERT_EQ(m.low, uint64_t(exact));
#else  // 32-bit machines: long multiplication in base 2^16, digit by digit
    uint32_t digits[8] = {};
    for (int i = 0; i < 4; ++i) {
      uint32_t carry = 0;
      for (int j = 0; j < 4; ++j) {
        const uint32_t t =
            uint32_t((a >> (16 * i)) & 0xFFFF) * uint32_t((b >> (16 * j)) & 0xFFFF) + digits[i + j] + carry;
        digits[i + j] = t & 0xFFFF;
        carry = t >> 16;
      }
      digits[i + 4] = carry;
    }
    uint64_t low = 0, high = 0;
    for (int d = 3; d >= 0; --d) low = low << 16 | digits[d], high = high << 16 | digits[d + 4];
    ASSERT_EQ(m.high, high);
    ASSERT_EQ(m.low, low);
#endif
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

namespace {

// Logits and final state of a float net on `batch` random images, with or without packed
// weights; the batch is cut into forward passes of `pass` images.
struct Outputs {
  std::vector<float> logits, last_state;
};
Outputs run_in_passes(const Net<float>& net, const PackedNet<float>* packed, int batch, int pass, int threads) {
  const int D = net.config.input, N = net.config.width, C = net.config.classes;
  Rng rng(21);
  std::vector<uint8_t> pixels(size_t(batch) * D);
  for (auto& p : pixels) p = uint8_t(rng.below(256));
  Outputs out;
  Trace<float> trace;
  ForwardOptions<float> opt;
  opt.keep_all = false;
  opt.threads = threads;
  opt.packed = packed;
  for (int first = 0; first < batch; first += pass) {
    const int count = std::min(pass, batch - first);
    set_input(trace, &pixels[size_t(first) * D], count, D);
    forward(net, trace, opt);
    out.logits.insert(out.logits.end(), trace.logits.begin(), trace.logits.begin() + size_t(count) * C);
    const float* x = trace.state(net.config.depth);
    out.last_state.insert(out.last_state.end(), x, x + size_t(count) * N);
  }
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST(Forward, PackedWeightsGiveTheSameBitsInAnyBatch) {
  // Inference on weights packed ahead of time: every sample's logits and x(T) are the bits
  // of the ordinary forward pass on the whole batch, whether it comes alone, in a few, or
  // in many; widths not a multiple of the strip, depths (width 400) over KC.
  struct Shape {
    int input, width;
  };
  for (const Shape& shape : {Shape{50, 37}, Shape{784, 400}})
    for (Arch arch : {Arch::ResNet, Arch::MLP})
      for (Weights weights : {Weights::Shared, Weights::PerLayer}) {
        const Net<float> net =
            tiny::random_net<float>(tiny::config(arch, weights, true, shape.input, shape.width, 3, 10), 17, 0.2);
        const PackedNet<float> packed(net);
        const int batch = 70;
        const Outputs whole = run_in_passes(net, nullptr, batch, batch, 2);
        for (int pass : {1, 2, 3, 4, 5, 17, 64, 70})
          for (int threads : {1, 2}) {
            const Outputs out = run_in_passes(net, &packed, batch, pass, threads);
            ASSERT_TRUE(same_bits(whole.logits, out.logits) && same_bits(whole.last_state, out.last_state))
                << "width " << shape.width << " arch " << int(arch) << " weights " << int(weights) << " pass " << pass
                << " threads " << threads;
          }
      }
}

TEST(Forward, PackedWeightsGiveTheSameBitsOnThePaperNet) {
  // 15 x 1064 with the stem (784 -> 1064), a batch of 1000 and single images.
  for (Weights weights : {Weights::Shared, Weights::PerLayer}) {
    const Net<float> net =
        tiny::random_net<float>(tiny::config(Arch::ResNet, weights, true, 784, 1064, 15, 10), 19, 0.05);
    const PackedNet<float> packed(net);
    const Outputs whole = run_in_passes(net, nullptr, 1000, 1000, 2);
    EXPECT_TRUE(same_bits(whole.logits, run_in_passes(net, &packed, 1000, 1000, 2).logits));
    Outputs first_few = whole;
    first_few.logits.resize(3 * 10);
    EXPECT_TRUE(same_bits(first_few.logits, run_in_passes(net, &packed, 3, 1, 2).logits));
  }
}

TEST(Forward, PackedWeightsOfAnotherNetAreRefused) {
  const Net<float> net = tiny::random_net<float>(tiny::config(Arch::ResNet, Weights::Shared, true, 7, 9, 2, 3), 1, 1);
  const Net<float> other = net;
  const PackedNet<float> packed(other);
  std::vector<uint8_t> pixels(7, 1);
  Trace<float> trace;
  set_input(trace, pixels.data(), 1, 7);
  ForwardOptions<float> opt;
  opt.packed = &packed;
  EXPECT_THROW(forward(net, trace, opt), Error);
}

TEST(Forward, EvaluationOnPackedWeightsIsTheSame) {
  const Net<float> net =
      tiny::random_net<float>(tiny::config(Arch::ResNet, Weights::PerLayer, true, 50, 37, 3, 10), 23, 0.3);
  Dataset data;
  data.count = 300;
  data.rows = 5;
  data.cols = 10;
  Rng rng(25);
  for (int i = 0; i < data.count * 50; ++i) data.images.push_back(uint8_t(rng.below(256)));
  for (int i = 0; i < data.count; ++i) data.labels.push_back(uint8_t(rng.below(10)));
  const PackedNet<float> packed(net);
  for (int batch : {1, 7, 256}) {
    const Evaluation plain = evaluate(net, data, 2, 0, batch), fast = evaluate(net, data, 2, 0, batch, &packed);
    EXPECT_EQ(plain.error, fast.error);
    EXPECT_EQ(plain.loss, fast.loss);
    EXPECT_EQ(plain.confusion, fast.confusion);
  }
}
