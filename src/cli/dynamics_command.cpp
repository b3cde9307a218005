// resdyn dynamics: the transient-dynamics probes on a saved model (paper figs. 2, 3, 5, 6B/C,
// workshop fig. 1C; defined in experiments/dynamics_experiment.h), written as CSV files and
// a summary.json into a directory.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "experiments/output_directory.h"
#include "cli/progress.h"
#include "experiments/dynamics_experiment.h"

namespace resdyn::cli {

CommandSpec dynamics_spec() {
  return {"dynamics",
          "Transient-dynamics probes: trajectory statistics, sensitive neurons, class distances and cosines.",
          {
              {"model", "MODEL", "", "model file written by 'resdyn train' (required)"},
              data_flag(),
              {"out", "DIR", "", "directory for the CSV files and summary.json (required; created if missing)"},
              {"samples-per-class", "S", "200", "the first S test images of each class, in file order"},
              {"unroll", "T'", "the trained depth", "run a shared-weight net for T' layers (not for per-layer nets)"},
              threads_flag(),
          }};
}

int run_dynamics(const Flags& flags) {
  DynamicsExperimentOptions options;
  options.out_dir = flags.required_text("out");
  options.samples_per_class = int(flags.integer("samples-per-class", 200, 1, 1L << 30));
  options.unroll = int(flags.integer("unroll", 0, 1, kMaxDepth));
  options.threads = thread_count(flags);
  check_output_directory(options.out_dir, "dynamics");  // before the work, not after it
  const std::string model_path = flags.required_text("model");
  const Net<float> net = load_model(model_path);
  const Dataset test = load_split(flags, false, 0);
  check_test_set(test, net.config, flags, model_path, "dynamics");

  const DynamicsExperimentResult r = run_dynamics_experiment(net, test, options);
  const TransientDynamics& d = r.dynamics;
  const int C = net.config.classes;
  std::printf("probed %d test images (%d per class at most) through %d layers in %s; test error %.2f%% (trained depth)"
              ", %.2f%% on the probe images at %d layers\n",
              d.groups.total(), options.samples_per_class, d.depth, format_duration(r.seconds).c_str(),
              100 * r.test_error, 100 * d.probe_error, d.depth);
  std::printf("sensitive-neuron rule holds for %d of %d classes\n", d.sensitive_neuron_rule_classes, C);
  std::printf("trajectory distance: diagonal is the row minimum in %d of %d rows\n", d.distance_diag_min_rows, C);
  std::printf("cosine similarity: diagonal is the row maximum in %d of %d rows, contrast %.4f\n",
              d.cosine_diag_max_rows, C, d.cosine_contrast);
  if (d.first_layer_spread_below)
    std::printf("every class's spread stays below %g from layer %d\n", kSettledSpread, *d.first_layer_spread_below);
  else
    std::printf("some class's spread is still at least %g at layer %d\n", kSettledSpread, d.depth);
  for (const std::string& file : r.files) std::printf("wrote %s\n", file.c_str());
  return 0;
}

}  // namespace resdyn::cli
