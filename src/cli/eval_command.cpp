// resdyn eval: test error and confusion matrix of a saved model.
#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "quant/quantized_evaluation.h"
#include "quant/quantized_model_file.h"

namespace resdyn::cli {

namespace {

struct EvalOptions : CommonOptions {
  std::string model;
  long limit_test = 0;  // 0: all
  long batch = 256;
};

FlagTable<EvalOptions> eval_flags() {
  using O = EvalOptions;
  FlagTable<O> t("eval", "Evaluate a saved model on the test set: test error and confusion matrix.");
  t.text("model", "MODEL", &O::model, "model file written by 'resdyn train' or 'resdyn quantize' (required)", {},
         Need::required);
  add_data_flag(t);
  t.whole("limit-test", "N", &O::limit_test, 1, 1L << 30, "evaluate only the first N test images", {"all", ""});
  t.whole("batch", "B", &O::batch, 1, 1 << 20,
          "images per forward pass of a float model (1: one at a time, as on a device)");
  add_precision_flag(t);
  add_threads_flag(t);
  return t;
}

}  // namespace

CommandSpec eval_spec() { return eval_flags().spec(); }

int run_eval(const Flags& flags) {
  const EvalOptions options = eval_flags().parse(flags);
  const std::string& path = options.model;
  const Dataset test = load_split(options.data, false, options.limit_test);
  const int threads = thread_count(options);
  // Buffers are sized by the batch: never more than the images there are.
  const int batch = int(std::min<long>(options.batch, std::max(1, test.count)));
  // A quantized model (its own magic) runs on the integer path of resdyn.h sections 4 and 9.
  const bool quantized = quant::is_quantized_model_file(path);
  if (quantized && flags.has("batch")) throw Error("eval: --batch applies to float models only");
  if (quantized && flags.has("precision")) throw Error("eval: --precision applies to float models only");
  const QuantizedModel qmodel = quantized ? quant::load_quantized(path) : QuantizedModel{};
  const Net<float> net = quantized ? Net<float>{} : load_model(path);
  check_test_set(test, quantized ? qmodel.config : net.config, options.data, path, "eval");
  const std::unique_ptr<PackedNet<float>> packed(quantized ? nullptr
                                                           : new PackedNet<float>(net, 1, precision_of(options)));
  const double start = monotonic_seconds();  // the forward passes only, not the loading
  const Evaluation ev = quantized ? quant::evaluate_quantized(qmodel, test, threads)
                                  : evaluate(net, test, threads, 0, batch, packed.get());
  const double seconds = monotonic_seconds() - start;
  print_evaluation(stdout, ev);
  std::printf("%d images in %.3f s: %.0f images/s (%s, %d thread%s)\n", ev.count, seconds, ev.count / seconds,
              quantized ? "integer path" : ("batch " + std::to_string(batch) + ", " + options.precision).c_str(),
              threads, threads > 1 ? "s" : "");
  return 0;
}

}  // namespace resdyn::cli
