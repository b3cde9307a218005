// The dynamics probes (paper §6 and appendices B-C: figs. 2, 3, 5, 6B/C; the workshop
// version's fig. 1C) in one forward pass:
// a batch of samples grouped by class runs through the net layer by layer, and every
// statistic is gathered as each layer appears (ForwardOptions::on_layer with keep_all off),
// so a shared-weight net unrolled to 1000 layers needs the memory of two layers, not 1000.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "analysis/class_groups.h"
#include "analysis/class_pairs.h"
#include "analysis/class_profile.h"
#include "analysis/sensitive_neurons.h"
#include "analysis/trajectory_stats.h"
#include "resdyn.h"

namespace resdyn {

// The spread below which a class counts as settled (summary key first_layer_spread_below_1e-3).
constexpr double kSettledSpread = 1e-3;

struct DynamicsOptions {
  int depth = 0;    // layers to run: 0 = the trained depth; another depth needs shared weights
  int threads = 1;  // for the matrix routines; results do not depend on it
  // Of the forward pass's products (resdyn.h section 2).
  Precision precision = Precision::fp32;
};

struct TransientDynamics {
  int depth = 0;                    // layers run
  ClassGroups groups;               // the probe batch's rows per class
  TrajectoryStats trajectory;       // mean_c(t), spread_c(t), t = 1..depth (fig. 2)
  ClassProfile final_profile;       // per class and neuron, y_i(depth) (fig. 5)
  SensitiveNeuronCurves sensitive;  // i_c and class-mean y_{i_k}(t), x_{i_k}(t) (fig. 3)
  ClassMatrix distance;             // trajectory distances over y(1..depth) (fig. 1C)
  ClassMatrix cosine;               // cosine similarity of x(depth) or h(depth) (fig. 6B/C)
  std::vector<int> predicted;       // the net's class for each probe row, at `depth` layers

  // The summary figures, each defined where it is computed (sensitive_neurons.h, class_pairs.h,
  // trajectory_stats.h).
  int sensitive_neuron_rule_classes = 0;
  int distance_diag_min_rows = 0;
  int cosine_diag_max_rows = 0;
  double cosine_contrast = 0;
  std::optional<int> first_layer_spread_below;  // with threshold kSettledSpread
  double probe_error = 0;                       // fraction of probe rows misclassified at `depth`
};

// Runs the probes on groups.total() images (`pixels`, input-size bytes each, rows grouped by
// class as `groups` says; groups.classes() must equal the net's classes). `workspace` holds
// the forward pass's activations: afterwards it holds the last two layers only.
// Throws resdyn::Error when a per-layer net is asked for a depth other than its own.
TransientDynamics probe_transient_dynamics(const Net<float>& net, const uint8_t* pixels, const ClassGroups& groups,
                                           const DynamicsOptions& options, Trace<float>& workspace);

}  // namespace resdyn
