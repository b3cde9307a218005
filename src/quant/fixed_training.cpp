#include "quant/fixed_training.h"

#include <string>

namespace resdyn::quant {

std::vector<int> fixed_predict(const FixedNet& net, const Dataset& data, int count) {
  const Config& cfg = net.config;
  std::vector<int> out(static_cast<size_t>(count));
  FixedTrace trace;
  constexpr int kBatch = 256;
  for (int first = 0; first < count; first += kBatch) {
    const int n = std::min(kBatch, count - first);
    fixed_forward(net, data.images.data() + size_t(first) * cfg.input, n, trace);
    for (int r = 0; r < n; ++r)
      out[size_t(first + r)] = argmax_row(trace.logits.data() + size_t(r) * cfg.classes, cfg.classes);
  }
  return out;
}

Net<float> train_fixed_point(const Config& cfg, const Dataset& train, const Dataset& test,
                             const FixedTrainOptions& options, FunctionRef<void(const FixedEpoch&)> on_epoch) {
  if (const char* why = config_problem(cfg)) throw Error(std::string("train: ") + why);
  if (options.batch < 1) throw Error("batch size must be at least 1");
  if (options.epochs < 1) throw Error("epochs must be at least 1");
  if (train.count < 1) throw Error("the training set is empty");
  check_image_size(train, cfg);
  check_image_size(test, cfg);
  // The float trainer's start: initialise() with Rng(seed), the data shuffled by another Rng(seed).
  Net<float> start(cfg);
  Rng init_rng(options.seed);
  initialise(start, init_rng);
  FixedNet net = to_fixed(start);
  Rng order_rng(options.seed);
  FixedSgd sgd(net.params.size(), options.momentum, options.seed ^ 0x5DEECE66Dull);
  OptimizerConfig schedule;
  schedule.kind = OptimizerKind::SGD;
  schedule.lr = options.lr;
  schedule.schedule = options.schedule;

  const int D = cfg.input;
  std::vector<uint32_t> order(size_t(train.count));
  for (size_t i = 0; i < order.size(); ++i) order[i] = uint32_t(i);
  std::vector<uint8_t> pixels(size_t(options.batch) * D), labels(size_t(options.batch));
  FixedTrace trace;
  FixedGradients grads;
  const long batches = (train.count + options.batch - 1) / options.batch;
  const long total_steps = batches * options.epochs;
  long step = 0;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const double start_time = monotonic_seconds();
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[size_t(order_rng.below(i))]);
    double loss_sum = 0;
    for (long bi = 0; bi < batches; ++bi) {
      const int first = int(bi * options.batch);
      const int count = std::min(options.batch, train.count - first);
      for (int r = 0; r < count; ++r) {
        const uint32_t idx = order[size_t(first + r)];
        std::copy(&train.images[size_t(idx) * D], &train.images[size_t(idx) * D] + D, &pixels[size_t(r) * D]);
        labels[size_t(r)] = train.labels[idx];
      }
      fixed_forward(net, pixels.data(), count, trace);
      fixed_backward(net, trace, labels.data(), grads);
      sgd.update(net, grads.grad, learning_rate(schedule, step, total_steps), count);
      ++step;
      loss_sum += grads.loss;
    }
    FixedEpoch e;
    e.epoch = epoch;
    e.seconds = monotonic_seconds() - start_time;
    e.train_loss = loss_sum / train.count;
    const std::vector<int> predicted = fixed_predict(net, test, test.count);
    int wrong = 0;
    for (int i = 0; i < test.count; ++i) wrong += predicted[size_t(i)] != test.labels[size_t(i)];
    e.test_error = test.count ? double(wrong) / test.count : 0;
    if (on_epoch) on_epoch(e);
  }
  return to_float(net);
}

}  // namespace resdyn::quant
