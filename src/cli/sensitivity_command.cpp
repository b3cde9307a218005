// resdyn sensitivity: log10|det M'(s)| layer by layer and the logits' response to a small
// perturbation of y(s) (paper appendix A, eq. 9-10; see experiments/sensitivity_experiment.h).
#include <cmath>
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "experiments/output_directory.h"
#include "cli/progress.h"
#include "experiments/sensitivity_experiment.h"

namespace resdyn::cli {

CommandSpec sensitivity_spec() {
  return {"sensitivity",
          "log10|det M'(s)| for every layer s and the logit change after perturbing y(s), per class.",
          {
              {"model", "MODEL", "", "model file written by 'resdyn train' (required)"},
              data_flag(),
              {"out", "DIR", "", "directory for sensitivity.csv and summary.json (required; created if missing)"},
              {"samples-per-class", "S", "20",
               "the first S test images of each class (each costs T LU factorisations of N x N)"},
              {"epsilon", "E", "1e-3", "length of the perturbation added to y(s)"},
              {"seed", "S", "1", "seed of the perturbation directions"},
              threads_flag(),
          }};
}

int run_sensitivity(const Flags& flags) {
  SensitivityOptions options;
  options.out_dir = flags.required_text("out");
  options.samples_per_class = int(flags.integer("samples-per-class", 20, 1, 1L << 30));
  options.epsilon = flags.real("epsilon", 1e-3, 1e-12, 1e3);
  options.seed = uint64_t(flags.integer("seed", 1, 0, 1L << 62));
  options.threads = thread_count(flags);
  check_output_directory(options.out_dir, "sensitivity");  // before the work, not after it
  const std::string model_path = flags.required_text("model");
  const Net<float> net = load_model(model_path);
  const Dataset test = load_split(flags, false, 0);
  check_test_set(test, net.config, flags, model_path, "sensitivity");
  options.progress = [](int done, int total) {
    std::fprintf(stderr, "sensitivity: %d of %d samples\n", done, total);
  };

  const SensitivityResult r = run_sensitivity_experiment(net, test, options);
  std::printf("%d samples, depth %d, in %s\n", r.overall.samples, r.depth, format_duration(r.seconds).c_str());
  std::printf("    s  mean log10|det M'(s)|  std     mean |d logits|  first order\n");
  for (int s = 1; s <= r.depth; ++s)
    std::printf("%5d  %20.4f  %6.3f  %15.4e  %11.4e\n", s, r.overall.mean_log10_det[size_t(s - 1)],
                r.overall.std_log10_det[size_t(s - 1)], r.overall.mean_logit_change[size_t(s - 1)],
                r.overall.mean_linear_logit_change[size_t(s - 1)]);
  if (std::isfinite(r.overall.log10_det_ratio_4_10)) {
    std::printf("log10|det M'(4)| - log10|det M'(10)| = %.4f overall; per class:", r.overall.log10_det_ratio_4_10);
    for (const SensitivityCurves& k : r.classes) std::printf(" %d: %.3f", k.label, k.log10_det_ratio_4_10);
    std::printf("\n");
  } else {
    std::printf("log10_det_ratio_4_10: undefined (depth %d < 10)\n", r.depth);
  }
  for (const std::string& file : r.files) std::printf("wrote %s\n", file.c_str());
  return 0;
}

}  // namespace resdyn::cli
