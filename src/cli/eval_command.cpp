// resdyn eval: test error and confusion matrix of a saved model.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"

namespace resdyn::cli {

CommandSpec eval_spec() {
  return {"eval",
          "Evaluate a saved model on the test set: test error and confusion matrix.",
          {
              {"model", "MODEL", "", "model file written by 'resdyn train' (required)"},
              data_flag(),
              {"limit-test", "N", "all", "evaluate only the first N test images"},
              threads_flag(),
          }};
}

int run_eval(const Flags& flags) {
  const Net<float> net = load_model(flags.required_text("model"));
  const Dataset test = load_split(flags, false, flags.integer("limit-test", 0, 1, 1L << 30));
  const Evaluation ev = evaluate(net, test, thread_count(flags));
  print_evaluation(stdout, ev);
  return 0;
}

}  // namespace resdyn::cli
