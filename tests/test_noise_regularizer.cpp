// The noise-growth penalty (resdyn.h section 12, paper end of §6): its value against the
// matrices M(t) = diag(y(1-y)) W_t built explicitly, its hand-derived gradient against
// central finite differences in double precision for every parameter of every
// architecture variant, and its use by the Trainer (TrainOptions::noise_reg).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "resdyn.h"
#include "tiny_net.h"

using namespace resdyn;

namespace {

Config tiny_config(Arch arch, Weights weights, bool stem, int depth) {
  return tiny::config(arch, weights, stem, 6, 5, depth, 3);
}

Net<double> random_net(const Config& cfg, uint64_t seed) { return tiny::random_net<double>(cfg, seed, 1.0); }

std::vector<uint8_t> random_pixels(int batch, int input, uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> pixels(size_t(batch) * input);
  for (auto& p : pixels) p = uint8_t(rng.below(256));
  return pixels;
}

// The penalty from its definition: build M(t) = diag(s) W_t for each sample and penalised
// layer, and sum the squares of its entries.
double naive_penalty(const Net<double>& net, const Trace<double>& trace, double lambda) {
  const int N = net.config.width, T = net.config.depth, B = trace.batch;
  double total = 0;
  for (int t = std::max(1, T - 1); t <= T; ++t)
    for (int b = 0; b < B; ++b) {
      const double* y = trace.residual(t) + size_t(b) * N;
      std::vector<double> M(size_t(N) * N);
      for (int i = 0; i < N; ++i)
        for (int j = 0; j < N; ++j) M[size_t(i) * N + j] = y[i] * (1 - y[i]) * net.W(t)[size_t(i) * N + j];
      for (double m : M) total += m * m;
    }
  return lambda * total / B;
}

double penalty_of(const Net<double>& net, const std::vector<uint8_t>& pixels, int batch, double lambda) {
  Trace<double> trace;
  set_input(trace, pixels.data(), batch, net.config.input);
  forward(net, trace);
  return naive_penalty(net, trace, lambda);
}

std::string name_of(const Config& c) {
  return std::string(c.arch == Arch::ResNet ? "resnet" : "mlp") + "/" +
         (c.weights == Weights::Shared ? "shared" : "per-layer") + "/" + (c.stem ? "stem" : "no-stem") +
         "/T=" + std::to_string(c.depth);
}

}  // namespace

TEST(NoiseGrowthPenalty, ValueMatchesExplicitMatrices) {
  for (Arch arch : {Arch::ResNet, Arch::MLP})
    for (Weights weights : {Weights::Shared, Weights::PerLayer})
      for (int depth : {1, 2, 4}) {
        const Config cfg = tiny_config(arch, weights, true, depth);
        SCOPED_TRACE(name_of(cfg));
        const Net<double> net = random_net(cfg, 3);
        const std::vector<uint8_t> pixels = random_pixels(4, cfg.input, 4);
        Trace<double> trace;
        set_input(trace, pixels.data(), 4, cfg.input);
        forward(net, trace);
        std::vector<double> grad(net.params.size(), 0.0);
        BackwardBuffers<double> buf;
        const double value = noise_growth_penalty(net, trace, 0.7, grad.data(), buf);
        EXPECT_GT(value, 0.0);
        EXPECT_NEAR(value, naive_penalty(net, trace, 0.7), 1e-12 * value);
      }
}

// Every parameter, every variant (ResNet / MLP, shared / per-layer, with and without the
// stem, depth 1 where only layer T is penalised and depth 3 where layer 1 is not).
TEST(NoiseGrowthPenalty, GradientMatchesCentralDifferences) {
  const int batch = 3;
  const double lambda = 0.37, h = 1e-5;
  for (Arch arch : {Arch::ResNet, Arch::MLP})
    for (Weights weights : {Weights::Shared, Weights::PerLayer})
      for (bool stem : {true, false})
        for (int depth : {1, 3}) {
          const Config cfg = tiny_config(arch, weights, stem, depth);
          SCOPED_TRACE(name_of(cfg));
          Net<double> net = random_net(cfg, 42);
          const std::vector<uint8_t> pixels = random_pixels(batch, cfg.input, 43);
          Trace<double> trace;
          set_input(trace, pixels.data(), batch, cfg.input);
          forward(net, trace);
          // The function adds into grad: start from ones and subtract them afterwards.
          std::vector<double> grad(net.params.size(), 1.0);
          BackwardBuffers<double> buf;
          noise_growth_penalty(net, trace, lambda, grad.data(), buf);

          int nonzero = 0;
          for (size_t p = 0; p < net.params.size(); ++p) {
            const double saved = net.params[p];
            net.params[p] = saved + h;
            const double up = penalty_of(net, pixels, batch, lambda);
            net.params[p] = saved - h;
            const double down = penalty_of(net, pixels, batch, lambda);
            net.params[p] = saved;
            const double numeric = (up - down) / (2 * h);
            const double analytic = grad[p] - 1.0;
            EXPECT_NEAR(analytic, numeric, 1e-7 + 1e-6 * std::fabs(numeric)) << "parameter " << p;
            nonzero += std::fabs(numeric) > 1e-9;
          }
          // The classifier is the only part the penalty does not see.
          const size_t classifier = size_t(cfg.classes) * (cfg.width + 1);
          EXPECT_EQ(nonzero, int(net.params.size() - classifier));
        }
}

// The penalty's walk, like the loss's, takes a shared-weight net's W packed once (the trainer
// packs it for both walks) and gives the bits of the walk that packs W in each product.
TEST(NoiseGrowthPenalty, WalkTakesASharedNetsOwnPackedW) {
  for (Arch arch : {Arch::ResNet, Arch::MLP}) {
    const Config cfg = tiny_config(arch, Weights::Shared, true, 3);
    SCOPED_TRACE(name_of(cfg));
    const Net<double> net = random_net(cfg, 12);
    const std::vector<uint8_t> pixels = random_pixels(4, cfg.input, 13);
    Trace<double> trace;
    set_input(trace, pixels.data(), 4, cfg.input);
    forward(net, trace);
    const int N = cfg.width;
    const PackedB<double> own(Op::N, N, N, net.W(1), N), other(Op::N, N - 1, N, net.W(1), N);
    BackwardBuffers<double> plain, packed;
    EXPECT_THROW(penalty_walk(net, trace, 0.5, packed, 1, &other), Error);
    const double penalty = penalty_walk(net, trace, 0.5, plain, 1);
    EXPECT_EQ(penalty_walk(net, trace, 0.5, packed, 1, &own), penalty);
    EXPECT_EQ(packed.penalty_gz, plain.penalty_gz);
    EXPECT_EQ(packed.penalty_gz0, plain.penalty_gz0);
    EXPECT_EQ(packed.penalty_s2, plain.penalty_s2);
  }
}

TEST(NoiseGrowthPenalty, RejectsStreamingTrace) {
  const Net<double> net = random_net(tiny_config(Arch::ResNet, Weights::Shared, true, 2), 1);
  const std::vector<uint8_t> pixels = random_pixels(2, 6, 2);
  Trace<double> trace;
  set_input(trace, pixels.data(), 2, 6);
  ForwardOptions<double> fwd;
  fwd.keep_all = false;
  forward(net, trace, fwd);
  std::vector<double> grad(net.params.size());
  BackwardBuffers<double> buf;
  EXPECT_THROW(noise_growth_penalty(net, trace, 1.0, grad.data(), buf), Error);
}

// One plain-SGD step of the Trainer over the whole (one-batch) data set must move the
// parameters by -lr times the sum of the loss's and the penalty's gradients.
TEST(NoiseGrowthPenalty, TrainerAddsItToTheLossGradient) {
  for (Arch arch : {Arch::ResNet, Arch::MLP}) {
    const Config cfg = tiny_config(arch, Weights::PerLayer, true, 3);
    SCOPED_TRACE(name_of(cfg));
    Dataset data;
    data.count = 8;
    data.rows = 2;
    data.cols = 3;
    data.images = random_pixels(8, 6, 5);
    for (int n = 0; n < 8; ++n) data.labels.push_back(uint8_t(n % 3));
    const Net<double> start = random_net(cfg, 6);

    TrainOptions opt;
    opt.epochs = 1;
    opt.batch = 8;
    opt.optimizer.kind = OptimizerKind::SGD;
    opt.optimizer.momentum = 0;
    opt.optimizer.schedule = Schedule::Constant;
    opt.optimizer.lr = 0.1;
    opt.noise_reg = 0.5;
    Net<double> trained = start;
    Trainer<double> trainer(trained, data, opt);
    trainer.train_epoch();

    Trace<double> trace;
    set_input(trace, data.images.data(), 8, cfg.input);
    forward(start, trace);
    std::vector<double> grad(start.params.size());
    BackwardBuffers<double> buf;
    Trace<double> again = trace;  // backward uses up a ResNet's y(t), which the penalty reads
    backward(start, trace, data.labels.data(), grad.data(), buf);
    const double penalty = noise_growth_penalty(start, again, 0.5, grad.data(), buf);
    EXPECT_GT(penalty, 0.0);
    // The trainer saw the samples in shuffled order: the means agree up to rounding.
    for (size_t p = 0; p < grad.size(); ++p)
      EXPECT_NEAR(trained.params[p], start.params[p] - 0.1 * grad[p], 1e-12) << "parameter " << p;
  }
}

TEST(NoiseGrowthPenalty, TrainerRejectsNegativeWeight) {
  Net<float> net(tiny_config(Arch::ResNet, Weights::Shared, true, 2));
  Dataset data;
  data.count = 1;
  data.rows = 2;
  data.cols = 3;
  data.images.assign(6, 0);
  data.labels.assign(1, 0);
  TrainOptions opt;
  opt.noise_reg = -1;
  EXPECT_THROW(Trainer<float>(net, data, opt), Error);
  opt.noise_reg = std::nan("");
  EXPECT_THROW(Trainer<float>(net, data, opt), Error);
}

// backward() writes a ResNet's gz(t) over y(t); the penalty, which reads y(t), then refuses
// the trace instead of computing from the wrong numbers. A new forward pass makes it usable.
TEST(NoiseGrowthPenalty, RefusesATraceThatBackwardHasUsed) {
  const Config cfg = tiny_config(Arch::ResNet, Weights::PerLayer, true, 3);
  const Net<double> net = random_net(cfg, 4);
  const std::vector<uint8_t> pixels = random_pixels(4, cfg.input, 8);
  const std::vector<uint8_t> labels = {0, 1, 2, 1};
  Trace<double> trace;
  set_input(trace, pixels.data(), 4, cfg.input);
  forward(net, trace);
  std::vector<double> grad(net.params.size());
  BackwardBuffers<double> buf;
  backward(net, trace, labels.data(), grad.data(), buf);
  EXPECT_THROW(noise_growth_penalty(net, trace, 0.5, grad.data(), buf), Error);
  EXPECT_THROW(backward(net, trace, labels.data(), grad.data(), buf), Error);
  forward(net, trace);
  EXPECT_NEAR(noise_growth_penalty(net, trace, 0.5, grad.data(), buf), naive_penalty(net, trace, 0.5), 1e-12);
}
