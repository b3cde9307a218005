// resdyn eval: test error and confusion matrix of a saved model.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "quant/quantised_evaluation.h"
#include "quant/quantised_model_file.h"

namespace resdyn::cli {

CommandSpec eval_spec() {
  return {"eval",
          "Evaluate a saved model on the test set: test error and confusion matrix.",
          {
              {"model", "MODEL", "", "model file written by 'resdyn train' or 'resdyn quantize' (required)"},
              data_flag(),
              {"limit-test", "N", "all", "evaluate only the first N test images"},
              threads_flag(),
          }};
}

int run_eval(const Flags& flags) {
  const std::string path = flags.required_text("model");
  const Dataset test = load_split(flags, false, flags.integer("limit-test", 0, 1, 1L << 30));
  // A quantised model (its own magic) runs on the integer path of resdyn.h section 5b.
  const Evaluation ev = quant::is_quantised_model_file(path)
                            ? quant::evaluate_quantised(quant::load_quantised(path), test, thread_count(flags))
                            : evaluate(load_model(path), test, thread_count(flags));
  print_evaluation(stdout, ev);
  return 0;
}

}  // namespace resdyn::cli
