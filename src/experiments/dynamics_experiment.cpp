// The `resdyn dynamics` experiment (paper §6, figs. 2, 3, 5, 6B/C); see dynamics_experiment.h.
#include "experiments/dynamics_experiment.h"

#include <string>

#include "analysis/class_samples.h"
#include "experiments/output_directory.h"
#include "experiments/run_file_names.h"
#include "output/csv.h"
#include "output/json.h"

namespace resdyn {

namespace {

namespace names = run_files::dynamics;
namespace column = run_files::dynamics::column;

output::Csv class_matrix_table(const ClassMatrix& m) {
  std::vector<std::string> columns{run_files::class_column};
  for (int k = 0; k < m.classes; ++k) columns.push_back(std::to_string(k));
  output::Csv csv(columns);
  for (int r = 0; r < m.classes; ++r) {
    csv.row().cell(r);
    for (int k = 0; k < m.classes; ++k) csv.cell(m.at(r, k));
  }
  return csv;
}

void write_files(const Net<float>& net, const DynamicsExperimentOptions& options, DynamicsExperimentResult& result) {
  const TransientDynamics& d = result.dynamics;
  const int C = net.config.classes, N = net.config.width;
  const std::string dir = options.out_dir + "/";
  auto save = [&](const auto& document, const char* name) {
    document.save(dir + name);
    result.files.push_back(dir + name);
  };

  output::Csv trajectory({run_files::class_column, column::layer, column::mean, column::spread});
  for (int c = 0; c < C; ++c)
    for (int t = 1; t <= d.depth; ++t)
      trajectory.row().cell(c).cell(t).cell(d.trajectory.mean(c, t)).cell(d.trajectory.spread(c, t));
  save(trajectory, names::trajectory_stats);

  output::Csv profile({run_files::class_column, column::neuron, column::mean, column::stddev});
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < N; ++i)
      profile.row().cell(c).cell(i).cell(d.final_profile.mean_at(c, i)).cell(d.final_profile.stddev_at(c, i));
  save(profile, names::final_profile);

  output::Csv sensitive(
      {run_files::class_column, column::neuron_class, column::neuron, column::layer, column::mean_y, column::mean_x});
  for (int c = 0; c < C; ++c)
    for (int k = 0; k < C; ++k)
      for (int t = 1; t <= d.depth; ++t)
        sensitive.row()
            .cell(c)
            .cell(k)
            .cell(d.sensitive.neuron(k))
            .cell(t)
            .cell(d.sensitive.mean_y(c, k, t))
            .cell(d.sensitive.mean_x(c, k, t));
  save(sensitive, names::sensitive_neurons);

  save(class_matrix_table(d.distance), names::distance_matrix);
  save(class_matrix_table(d.cosine), names::cosine_matrix);

  output::Json json;
  json.begin_object();
  json.field("arch", net.config.arch == Arch::ResNet ? "resnet" : "mlp");
  json.field("weights", net.config.weights == Weights::Shared ? "shared" : "per-layer");
  json.field("width", N);
  json.field("trained_depth", net.config.depth);
  json.field(run_files::key::depth, d.depth);
  json.field(run_files::key::samples_per_class, options.samples_per_class);
  json.field(run_files::key::precision, precision_name(options.precision));
  json.key("class_counts").begin_array();
  for (int c = 0; c < C; ++c) json.value(d.groups.size(c));
  json.end_array();
  json.field(names::key::test_error, result.test_error);
  json.field("probe_error", d.probe_error);
  json.key("sensitive_neurons").begin_array();
  for (int k = 0; k < C; ++k) json.value(d.sensitive.neuron(k));
  json.end_array();
  json.field(names::key::sensitive_neuron_rule_classes, d.sensitive_neuron_rule_classes);
  json.field(names::key::distance_diag_min_rows, d.distance_diag_min_rows);
  json.field(names::key::cosine_diag_max_rows, d.cosine_diag_max_rows);
  json.field(names::key::cosine_contrast, d.cosine_contrast);
  json.key(names::key::first_layer_spread_below);
  if (d.first_layer_spread_below)
    json.value(*d.first_layer_spread_below);
  else
    json.null();
  json.end_object();
  save(json, run_files::summary);
}

}  // namespace

DynamicsExperimentResult run_dynamics_experiment(const Net<float>& net, const Dataset& test,
                                                 const DynamicsExperimentOptions& options) {
  const Config& cfg = net.config;
  if (options.unroll != 0 && cfg.weights != Weights::Shared)
    throw Error("dynamics: --unroll needs a shared-weight model; this one has per-layer weights (" +
                std::to_string(cfg.depth) + " layers, each its own)");
  if (options.unroll < 0 || options.unroll > kMaxDepth)
    throw Error("dynamics: --unroll " + std::to_string(options.unroll) + " is out of range (1.." +
                std::to_string(kMaxDepth) + ")");
  if (test.rows * test.cols != cfg.input)
    throw Error("dynamics: test images have " + std::to_string(test.rows * test.cols) +
                " pixels but the model expects " + std::to_string(cfg.input));
  const Dataset samples = first_per_class(test, options.samples_per_class, cfg.classes);
  const ClassGroups groups = ClassGroups::from_sorted_labels(samples.labels, cfg.classes);
  for (int c = 0; c < cfg.classes; ++c)
    if (groups.size(c) == 0) throw Error("dynamics: the test set has no samples of class " + std::to_string(c));
  prepare_output_directory(options.out_dir, "dynamics");

  DynamicsExperimentResult result;
  DynamicsOptions probe_options;
  probe_options.depth = options.unroll;
  probe_options.threads = options.threads;
  probe_options.precision = options.precision;
  const double start = monotonic_seconds();
  Trace<float> workspace;
  result.dynamics = probe_transient_dynamics(net, samples.images.data(), groups, probe_options, workspace);
  result.seconds = monotonic_seconds() - start;
  result.test_error = evaluate<float>(net, test, options.threads, 0, 256, nullptr, options.precision).error;
  write_files(net, options, result);
  return result;
}

}  // namespace resdyn
