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

namespace {

// The defaults are the experiment's own.
struct DynamicsFlags : CommonOptions {
  std::string model, out;
  int samples_per_class = DynamicsExperimentOptions{}.samples_per_class;
  int unroll = DynamicsExperimentOptions{}.unroll;  // 0: the trained depth
};

FlagTable<DynamicsFlags> dynamics_flags() {
  using O = DynamicsFlags;
  FlagTable<O> t("dynamics",
                 "Transient-dynamics probes: trajectory statistics, sensitive neurons, class distances and cosines.");
  t.text("model", "MODEL", &O::model, "model file written by 'resdyn train' (required)", {}, Need::required);
  add_data_flag(t);
  t.text("out", "DIR", &O::out, "directory for the CSV files and summary.json (required; created if missing)", {},
         Need::required);
  t.whole("samples-per-class", "S", &O::samples_per_class, 1, 1L << 30,
          "the first S test images of each class, in file order");
  t.whole("unroll", "T'", &O::unroll, 1, kMaxDepth, "run a shared-weight net for T' layers (not for per-layer nets)",
          {"the trained depth", ""});
  add_precision_flag(t, "; of every forward pass: the trajectories, the probe and the test error");
  add_threads_flag(t);
  return t;
}

}  // namespace

CommandSpec dynamics_spec() { return dynamics_flags().spec(); }

int run_dynamics(const Flags& flags) {
  const DynamicsFlags given = dynamics_flags().parse(flags);
  DynamicsExperimentOptions options;
  options.out_dir = given.out;
  options.samples_per_class = given.samples_per_class;
  options.unroll = given.unroll;
  options.threads = thread_count(given);
  options.precision = precision_of(given);
  check_output_directory(options.out_dir, "dynamics");  // before the work, not after it
  const std::string& model_path = given.model;
  const Net<float> net = load_model(model_path);
  const Dataset test = load_split(given.data, false, 0);
  check_test_set(test, net.config, given.data, model_path, "dynamics");

  const DynamicsExperimentResult r = run_dynamics_experiment(net, test, options);
  const TransientDynamics& d = r.dynamics;
  const int C = net.config.classes;
  std::printf(
      "probed %d test images (%d per class at most) through %d layers in %s (%s); test error %.2f%% (trained "
      "depth), %.2f%% on the probe images at %d layers\n",
      d.groups.total(), options.samples_per_class, d.depth, format_duration(r.seconds).c_str(),
      precision_name(options.precision), 100 * r.test_error, 100 * d.probe_error, d.depth);
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
