// The adaptive-depth pruner of paper §7 on nets whose last layers provably converge.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "resdyn.h"

using namespace resdyn;

namespace {

Dataset random_images(int count, int pixels, uint64_t seed) {
  Dataset d;
  d.count = count;
  d.rows = 1;
  d.cols = pixels;
  Rng rng(seed);
  d.images.resize(size_t(count) * pixels);
  d.labels.resize(size_t(count));
  for (auto& p : d.images) p = uint8_t(rng.below(256));
  for (auto& l : d.labels) l = uint8_t(rng.below(10));
  return d;
}

// A per-layer ResNet of depth 5 whose layers 3..5 have W = 0 and the same bias: from layer 3
// on, y(t) = sigma(b) for every input, so d = 0 at depths 5 and 4, while at depth 3
// d = mean |y(3) - y(2)| > 0 because layer 2 depends on the input.
Net<float> net_converging_after_layer_2() {
  Config c;
  c.weights = Weights::PerLayer;
  c.input = 6;
  c.width = 5;
  c.depth = 5;
  Net<float> net(c);
  Rng rng(4);
  for (auto& p : net.params) p = float(rng.uniform(-2, 2));
  for (int t = 3; t <= 5; ++t) {
    std::fill(net.W(t), net.W(t) + 25, 0.0f);
    for (int i = 0; i < 5; ++i) net.b(t)[i] = 0.3f * float(i);
  }
  return net;
}

TrainOptions quiet_options() {
  TrainOptions o;
  o.epochs = 1;
  o.batch = 8;
  return o;
}

}  // namespace

TEST(Pruning, ConvergenceMeasureMatchesItsDefinition) {
  const Net<float> net = net_converging_after_layer_2();
  const Dataset probe = random_images(20, 6, 1);
  EXPECT_EQ(residual_convergence(net, probe), 0.0);
  // Depth 3: compare with y(3) - y(2) computed from a full trace.
  Net<float> shallow = net;
  prune_last_layer(shallow);
  prune_last_layer(shallow);
  Trace<float> trace;
  set_input(trace, probe.images.data(), probe.count, 6);
  forward(shallow, trace);
  double sum = 0;
  for (size_t i = 0; i < size_t(probe.count) * 5; ++i) sum += std::abs(trace.residual(3)[i] - trace.residual(2)[i]);
  EXPECT_NEAR(residual_convergence(shallow, probe), sum / (probe.count * 5.0), 1e-9);
  EXPECT_GT(sum, 0.0);
}

TEST(Pruning, RemovesExactlyTheConvergedLayers) {
  Net<float> net = net_converging_after_layer_2();
  const Dataset data = random_images(20, 6, 2);
  Trainer<float> trainer(net, data, quiet_options());
  PruneOptions p;
  p.threshold = 1e-6;
  p.repeat = true;
  const PruneStep step = trainer.prune_converged_layers(data, p);
  EXPECT_EQ(step.removed, 2);
  EXPECT_EQ(net.config.depth, 3);
  EXPECT_EQ(step.d_before, 0.0);
  EXPECT_GT(step.d_after, 1e-6);
  EXPECT_EQ(net.params.size(), layout_of(net.config).total);
}

TEST(Pruning, OneLayerPerCallWithoutRepeat) {
  Net<float> net = net_converging_after_layer_2();
  const Dataset data = random_images(20, 6, 3);
  Trainer<float> trainer(net, data, quiet_options());
  PruneOptions p;
  p.threshold = 1e-6;
  EXPECT_EQ(trainer.prune_converged_layers(data, p).removed, 1);
  EXPECT_EQ(net.config.depth, 4);
}

TEST(Pruning, ThresholdZeroNeverPrunes) {
  Net<float> net = net_converging_after_layer_2();
  const Dataset data = random_images(20, 6, 4);
  Trainer<float> trainer(net, data, quiet_options());
  PruneOptions p;  // threshold 0
  p.repeat = true;
  EXPECT_EQ(trainer.prune_converged_layers(data, p).removed, 0);
  EXPECT_EQ(net.config.depth, 5);
}

TEST(Pruning, NeverBelowDepthOne) {
  // A shared net with W = 0: y(t) = sigma(b) at every layer, d = 0 at every depth.
  Config c;
  c.input = 4;
  c.width = 4;
  c.stem = false;
  c.depth = 6;
  Net<float> net(c);
  const Dataset data = random_images(10, 4, 5);
  Trainer<float> trainer(net, data, quiet_options());
  PruneOptions p;
  p.threshold = 0.01;
  p.repeat = true;
  EXPECT_EQ(trainer.prune_converged_layers(data, p).removed, 5);
  EXPECT_EQ(net.config.depth, 1);
  EXPECT_EQ(trainer.prune_converged_layers(data, p).removed, 0);
  EXPECT_THROW(prune_last_layer(net), Error);
}

TEST(Pruning, TrainingGoesOnAfterPruningAndThePrunedModelRoundTrips) {
  Net<float> net = net_converging_after_layer_2();
  const Dataset data = random_images(64, 6, 6);
  TrainOptions o = quiet_options();
  o.epochs = 3;
  Trainer<float> trainer(net, data, o);
  trainer.train_epoch();
  trainer.prune_last_layer();
  trainer.prune_last_layer();
  EXPECT_EQ(trainer.optimizer().m.size(), net.params.size());
  EXPECT_TRUE(std::isfinite(trainer.train_epoch()));
  const std::string path = testing::TempDir() + "/pruned.resdyn";
  save_model(net, path);
  const Net<float> back = load_model(path);
  EXPECT_EQ(back.config.depth, 3);
  ASSERT_EQ(back.params.size(), net.params.size());
  EXPECT_EQ(0, std::memcmp(back.params.data(), net.params.data(), net.params.size() * sizeof(float)));
}

TEST(Pruning, OnlyResNetsHaveAConvergenceMeasure) {
  Config c;
  c.arch = Arch::MLP;
  c.input = 4;
  c.width = 4;
  c.stem = false;
  c.depth = 3;
  const Net<float> net(c);
  EXPECT_THROW(residual_convergence(net, random_images(4, 4, 7)), Error);
}
