#include "quant/quantized_evaluation.h"

#include <string>
#include <vector>

namespace resdyn::quant {

Evaluation evaluate_quantized(const QuantizedModel& model, const Dataset& data, int threads, int limit, int depth) {
  const Config& cfg = model.config;
  Evaluation ev = start_evaluation(cfg, data, limit);
  const QuantRunner runner(model.view());
  std::vector<int32_t> logits(size_t(ev.count) * cfg.classes);
  runner.run(data.images.data(), ev.count, depth, threads, logits.data());
  std::vector<float> real(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) real[i] = float(fixed::Q19_12::from_raw(logits[i]).to_real());
  ev.loss =
      ev.count ? softmax_cross_entropy<float>(real.data(), data.labels.data(), ev.count, cfg.classes, nullptr) : 0;
  const int wrong = count_predictions(ev, logits.data(), data.labels.data(), ev.count);
  ev.error = ev.count ? double(wrong) / ev.count : 0;
  return ev;
}

}  // namespace resdyn::quant
