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

namespace {

// The defaults are the experiment's own.
struct SensitivityFlags : CommonOptions {
  std::string model, out;
  int samples_per_class = SensitivityOptions{}.samples_per_class;
  double epsilon = SensitivityOptions{}.epsilon;
  uint64_t seed = SensitivityOptions{}.seed;
  int directions = SensitivityOptions{}.directions;
};

FlagTable<SensitivityFlags> sensitivity_flags() {
  using O = SensitivityFlags;
  FlagTable<O> t("sensitivity",
                 "log10|det M'(s)| for every layer s and the logit change after perturbing y(s), per class. All in "
                 "double (no --precision): a perturbation of 1e-3 on states near 1 is finer than bfloat16's step.");
  t.text("model", "MODEL", &O::model, "model file written by 'resdyn train' (required)", {}, Need::required);
  add_data_flag(t);
  t.text("out", "DIR", &O::out, "directory for sensitivity.csv and summary.json (required; created if missing)", {},
         Need::required);
  t.whole("samples-per-class", "S", &O::samples_per_class, 1, 1L << 30,
          "the first S test images of each class (each costs T LU factorisations of N x N)");
  t.real("epsilon", "E", &O::epsilon, 1e-12, 1e3, "length of the perturbation added to y(s)");
  t.whole("seed", "S", &O::seed, 0, 1LL << 62, "seed of the perturbation directions");
  t.whole("directions", "D", &O::directions, 1, 10000,
          "random directions per sample; the logit change is their mean, with its standard error");
  add_threads_flag(t);
  return t;
}

}  // namespace

CommandSpec sensitivity_spec() { return sensitivity_flags().spec(); }

int run_sensitivity(const Flags& flags) {
  const SensitivityFlags given = sensitivity_flags().parse(flags);
  SensitivityOptions options;
  options.out_dir = given.out;
  options.samples_per_class = given.samples_per_class;
  options.epsilon = given.epsilon;
  options.seed = given.seed;
  options.directions = given.directions;
  options.threads = thread_count(given);
  check_output_directory(options.out_dir, "sensitivity");  // before the work, not after it
  const std::string& model_path = given.model;
  const Net<float> net = load_model(model_path);
  const Dataset test = load_split(given.data, false, 0);
  check_test_set(test, net.config, given.data, model_path, "sensitivity");
  const auto report_progress = [](int done, int total) {
    std::fprintf(stderr, "sensitivity: %d of %d samples\n", done, total);
  };
  options.progress = report_progress;

  const SensitivityResult r = run_sensitivity_experiment(net, test, options);
  std::printf("%d samples, depth %d, in %s\n", r.overall.samples, r.depth, format_duration(r.seconds).c_str());
  std::printf("    s  mean log10|det M'(s)|  std     mean |d logits|  its s.e.    first order\n");
  for (int s = 1; s <= r.depth; ++s)
    std::printf("%5d  %20.4f  %6.3f  %15.4e  %9.2e  %11.4e\n", s, r.overall.mean_log10_det[size_t(s - 1)],
                r.overall.std_log10_det[size_t(s - 1)], r.overall.mean_logit_change[size_t(s - 1)],
                r.overall.se_logit_change[size_t(s - 1)], r.overall.mean_linear_logit_change[size_t(s - 1)]);
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
