// resdyn eval: test error and confusion matrix of a saved model.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "quant/quantized_evaluation.h"
#include "quant/quantized_model_file.h"

namespace resdyn::cli {

CommandSpec eval_spec() {
  return {"eval",
          "Evaluate a saved model on the test set: test error and confusion matrix.",
          {
              {"model", "MODEL", "", "model file written by 'resdyn train' or 'resdyn quantize' (required)"},
              data_flag(),
              {"limit-test", "N", "all", "evaluate only the first N test images"},
              {"batch", "B", "256", "images per forward pass of a float model (1: one at a time, as on a device)"},
              threads_flag(),
          }};
}

int run_eval(const Flags& flags) {
  const std::string path = flags.required_text("model");
  const Dataset test = load_split(flags, false, flags.integer("limit-test", 0, 1, 1L << 30));
  const int threads = thread_count(flags);
  // Buffers are sized by the batch: never more than the images there are.
  const int batch = int(std::min<long>(flags.integer("batch", 256, 1, 1 << 20), std::max(1, test.count)));
  // A quantized model (its own magic) runs on the integer path of resdyn.h sections 4 and 9.
  const bool quantized = quant::is_quantized_model_file(path);
  if (quantized && flags.has("batch")) throw Error("eval: --batch applies to float models only");
  const QuantizedModel qmodel = quantized ? quant::load_quantized(path) : QuantizedModel{};
  const Net<float> net = quantized ? Net<float>{} : load_model(path);
  check_test_set(test, quantized ? qmodel.config : net.config, flags, path, "eval");
  const std::unique_ptr<PackedNet<float>> packed(quantized ? nullptr : new PackedNet<float>(net));
  const auto start = std::chrono::steady_clock::now();  // the forward passes only, not the loading
  const Evaluation ev = quantized ? quant::evaluate_quantized(qmodel, test, threads)
                                  : evaluate(net, test, threads, 0, batch, packed.get());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  print_evaluation(stdout, ev);
  std::printf("%d images in %.3f s: %.0f images/s (%s, %d thread%s)\n", ev.count, seconds, ev.count / seconds,
              quantized ? "integer path" : ("batch " + std::to_string(batch)).c_str(), threads, threads > 1 ? "s" : "");
  return 0;
}

}  // namespace resdyn::cli
