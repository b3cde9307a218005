#include "quant/quantised_evaluation.h"

#include <string>
#include <vector>

namespace resdyn::quant {

Evaluation evaluate_quantised(const QuantizedModel& model, const Dataset& data, int threads, int limit, int depth) {
  const Config& cfg = model.config;
  if (data.rows * data.cols != cfg.input)
    throw Error("images have " + std::to_string(data.rows * data.cols) + " pixels but the network expects " +
                std::to_string(cfg.input));
  Evaluation ev;
  ev.count = limit > 0 ? std::min(limit, data.count) : data.count;
  ev.classes = cfg.classes;
  ev.confusion.assign(size_t(cfg.classes) * cfg.classes, 0);
  const QuantRunner runner(model.view());
  std::vector<int32_t> logits(size_t(ev.count) * cfg.classes);
  runner.run(data.images.data(), ev.count, depth, threads, logits.data());
  std::vector<float> real(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) real[i] = float(fixed::Q19_12::from_raw(logits[i]).to_real());
  ev.loss = ev.count ? softmax_cross_entropy<float>(real.data(), data.labels.data(), ev.count, cfg.classes, nullptr) : 0;
  int wrong = 0;
  for (int r = 0; r < ev.count; ++r) {
    const int predicted = argmax_row(&logits[size_t(r) * cfg.classes], cfg.classes);
    wrong += predicted != data.labels[size_t(r)];
    ev.confusion[size_t(data.labels[size_t(r)]) * cfg.classes + predicted] += 1;
  }
  ev.error = ev.count ? double(wrong) / ev.count : 0;
  return ev;
}

}  // namespace resdyn::quant
