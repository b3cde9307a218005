// Backpropagation of every architecture variant against central finite differences, in
// double precision, for every parameter of a small net.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "resdyn.h"
#include "tiny_net.h"

using namespace resdyn;

namespace {

struct Variant {
  Arch arch;
  Weights weights;
  bool stem;
};

std::string name_of(const Variant& v) {
  return std::string(v.arch == Arch::ResNet ? "resnet" : "mlp") + "/" +
         (v.weights == Weights::Shared ? "shared" : "per-layer") + "/" + (v.stem ? "stem" : "no-stem");
}

double loss_of(const Net<double>& net, Trace<double>& trace, const std::vector<uint8_t>& labels) {
  forward(net, trace);
  return softmax_cross_entropy(trace.logits.data(), labels.data(), trace.batch, net.config.classes,
                               static_cast<double*>(nullptr));
}

}  // namespace

TEST(Gradients, EveryVariantMatchesCentralDifferences) {
  const int batch = 3;
  for (Arch arch : {Arch::ResNet, Arch::MLP})
    for (Weights weights : {Weights::Shared, Weights::PerLayer})
      for (bool stem : {true, false}) {
        const Variant v{arch, weights, stem};
        Config cfg;
        cfg.arch = arch;
        cfg.weights = weights;
        cfg.stem = stem;
        cfg.input = 6;
        cfg.width = stem ? 5 : 6;
        cfg.depth = 3;
        cfg.classes = 4;
        Net<double> net(cfg);
        // Random values everywhere (not the training initialisation, which zeroes whole
        // tensors and would leave parts of the gradient trivially zero).
        Rng rng(42);
        for (auto& p : net.params) p = rng.uniform(-1.0, 1.0);
        std::vector<uint8_t> pixels(size_t(batch) * cfg.input), labels(batch);
        for (auto& p : pixels) p = uint8_t(rng.below(256));
        for (auto& l : labels) l = uint8_t(rng.below(uint64_t(cfg.classes)));

        Trace<double> trace;
        set_input(trace, pixels.data(), batch, cfg.input);
        forward(net, trace);
        std::vector<double> grad(net.params.size());
        BackwardBuffers<double> buffers;
        const double loss = backward(net, trace, labels.data(), grad.data(), buffers);
        EXPECT_NEAR(loss, loss_of(net, trace, labels), 1e-12) << name_of(v);

        const double h = 1e-5;
        double worst = 0;
        for (size_t i = 0; i < net.params.size(); ++i) {
          const double keep = net.params[i];
          net.params[i] = keep + h;
          const double up = loss_of(net, trace, labels);
          net.params[i] = keep - h;
          const double down = loss_of(net, trace, labels);
          net.params[i] = keep;
          const double numeric = (up - down) / (2 * h);
          const double err = std::abs(numeric - grad[i]) / std::max(1e-3, std::abs(numeric) + std::abs(grad[i]));
          worst = std::max(worst, err);
          ASSERT_LT(err, 1e-6) << name_of(v) << " parameter " << i << ": backprop " << grad[i] << ", numeric "
                               << numeric;
        }
        // A check that compared zeros with zeros would prove nothing.
        double norm = 0;
        for (double g : grad) norm += g * g;
        EXPECT_GT(norm, 1e-6) << name_of(v);
      }
}

TEST(Gradients, SharedWeightGradientSumsOverLayers) {
  // With shared weights, dL/dW equals the sum of the per-layer gradients of the same net
  // written out with T copies of W.
  Config shared;
  shared.input = 4;
  shared.width = 4;
  shared.stem = false;
  shared.depth = 3;
  shared.classes = 3;
  Config per_layer = shared;
  per_layer.weights = Weights::PerLayer;
  Net<double> a(shared), b(per_layer);
  Rng rng(7);
  for (auto& p : a.params) p = rng.uniform(-1.0, 1.0);
  std::copy(a.params.begin(), a.params.begin() + a.layout.blocks_begin, b.params.begin());
  for (int t = 1; t <= 3; ++t) std::copy(a.W(1), a.W(1) + a.layout.block_size, b.W(t));
  std::vector<uint8_t> pixels = {0, 50, 100, 150, 200, 250, 30, 60}, labels = {2, 0};
  Trace<double> ta, tb;
  set_input(ta, pixels.data(), 2, 4);
  set_input(tb, pixels.data(), 2, 4);
  forward(a, ta);
  forward(b, tb);
  std::vector<double> ga(a.params.size()), gb(b.params.size());
  BackwardBuffers<double> buf;
  backward(a, ta, labels.data(), ga.data(), buf);
  backward(b, tb, labels.data(), gb.data(), buf);
  for (size_t i = 0; i < a.layout.block_size; ++i) {
    const double sum = gb[b.layout.W(1) + i] + gb[b.layout.W(2) + i] + gb[b.layout.W(3) + i];
    EXPECT_NEAR(ga[a.layout.W(1) + i], sum, 1e-12);
  }
}

TEST(Gradients, BackpropTakesOnlyASharedNetsOwnPackedW) {
  // Backprop takes a packed W only for a shared-weight net, and only its own W's shape.
  std::vector<uint8_t> pixels = {0, 50, 100, 150}, labels = {2};
  for (const Weights weights : {Weights::Shared, Weights::PerLayer}) {
    const Net<float> net = tiny::random_net<float>(tiny::config(Arch::ResNet, weights, true, 4, 5, 2, 3), 3, 1.0);
    const PackedB<float> own(Op::N, 5, 5, net.W(1), 5), other(Op::N, 4, 5, net.W(1), 5);
    BackwardBuffers<float> buf;
    Trace<float> trace;
    set_input(trace, pixels.data(), 1, 4);
    forward(net, trace);
    EXPECT_THROW(backward_walk(net, trace, labels.data(), buf, 1, &other), Error);
    if (weights == Weights::PerLayer) {
      EXPECT_THROW(backward_walk(net, trace, labels.data(), buf, 1, &own), Error);
    } else {  // and gives the bits of the walk that packs W in each product
      const double loss = backward_walk(net, trace, labels.data(), buf, 1);
      const std::vector<float> gx = buf.gx, gz0 = buf.gz0;
      forward(net, trace);
      EXPECT_EQ(backward_walk(net, trace, labels.data(), buf, 1, &own), loss);
      EXPECT_EQ(buf.gx, gx);
      EXPECT_EQ(buf.gz0, gz0);
    }
  }
}
