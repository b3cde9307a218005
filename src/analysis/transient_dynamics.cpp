// One forward pass feeding every dynamics probe; see transient_dynamics.h.
#include "analysis/transient_dynamics.h"

#include <string>

namespace resdyn {

TransientDynamics probe_transient_dynamics(const Net<float>& net, const uint8_t* pixels, const ClassGroups& groups,
                                           const DynamicsOptions& options, Trace<float>& workspace) {
  const Config& cfg = net.config;
  const int depth = options.depth > 0 ? options.depth : cfg.depth;
  if (depth != cfg.depth && cfg.weights != Weights::Shared)
    throw Error("cannot run a per-layer model at " + std::to_string(depth) + " layers: it has weights for its " +
                std::to_string(cfg.depth) + " trained layers only (unrolling needs shared weights)");
  if (groups.classes() != cfg.classes)
    throw Error("probe samples are grouped in " + std::to_string(groups.classes()) + " classes but the model has " +
                std::to_string(cfg.classes));
  const int n = groups.total(), N = cfg.width;
  if (n == 0) throw Error("no probe samples");

  TransientDynamics result;
  result.depth = depth;
  result.groups = groups;
  result.trajectory = TrajectoryStats(cfg.classes);
  result.sensitive = SensitiveNeuronCurves(most_sensitive_neurons(net.K(), cfg.classes, N));
  TrajectoryDistance distance(groups, N);
  ClassProfile profile;

  ForwardOptions<float> forward_options;
  forward_options.depth = depth;
  forward_options.keep_all = false;
  forward_options.threads = options.threads;
  forward_options.precision = options.precision;
  const auto gather_layer = [&](int t, const float* y, const float* x) {
    class_profile(y, N, groups, profile);
    result.trajectory.add_layer(profile);
    result.sensitive.add_layer(y, x, N, groups);
    distance.add_layer(y, options.threads);
    if (t == depth) {
      result.final_profile = profile;
      result.cosine = mean_cosine_similarity(x, N, groups, options.threads);
    }
  };
  forward_options.on_layer = gather_layer;
  set_input(workspace, pixels, n, cfg.input);
  forward(net, workspace, forward_options);
  result.distance = distance.class_means();

  int wrong = 0;
  result.predicted.resize(size_t(n));
  for (int c = 0; c < groups.classes(); ++c)
    for (int r = groups.begin(c); r < groups.end(c); ++r) {
      result.predicted[size_t(r)] = argmax_row(&workspace.logits[size_t(r) * cfg.classes], cfg.classes);
      wrong += result.predicted[size_t(r)] != c;
    }
  result.probe_error = double(wrong) / n;

  result.sensitive_neuron_rule_classes = sensitive_neuron_rule_classes(result.sensitive);
  result.distance_diag_min_rows = rows_with_diagonal_min(result.distance);
  result.cosine_diag_max_rows = rows_with_diagonal_max(result.cosine);
  result.cosine_contrast = diagonal_contrast(result.cosine);
  result.first_layer_spread_below = first_layer_spread_below(result.trajectory, kSettledSpread);
  return result;
}

}  // namespace resdyn
