// The runs directory: where tools/paper_runs.sh puts every model and every experiment's
// output, and where `resdyn report --runs RUNS` looks for them. Paths are relative to RUNS.
//
//   models/shared.resdyn            shared-weight ResNet (paper §6); every MODEL has its epoch
//   models/per_layer.resdyn         per-layer ResNet                      log MODEL.csv beside it
//   models/mlp.resdyn               MLP with shared weights (so that it unrolls, fig. 2C, 5C/D)
//   pruning/shared.resdyn           shared ResNet trained with --prune-threshold (paper §7)
//   pruning/per_layer.resdyn        per-layer ResNet trained with --prune-threshold
//   pruning/shared_fixed.resdyn     the same nets trained from scratch at the depth the
//   pruning/per_layer_fixed.resdyn  pruner reached: does pruning beat training at that depth?
//   dynamics/shared/                resdyn dynamics on models/shared at its trained depth
//   dynamics/shared_unrolled/       ... --unroll 1000
//   dynamics/per_layer/             ... on models/per_layer
//   dynamics/mlp/                   ... on models/mlp at its trained depth
//   dynamics/mlp_unrolled/          ... --unroll 1000
//   noise/{shared,per_layer,mlp}/   resdyn noise on the model of that name
//   spectrum/shared/                resdyn spectrum --unroll 1000 on models/shared
//   sensitivity/{shared,per_layer}/ resdyn sensitivity
//   embed/tsne_final_{resnet,mlp}/        resdyn embed --method tsne --of final (resnet: models/shared)
//   embed/umap_trajectory_{resnet,mlp}/   resdyn embed --method umap --of trajectory
//
// Every experiment directory may also hold command.txt, the command line that filled it
// (paper_runs.sh writes one); the report quotes it next to the model's own training command.
// Anything missing is drawn as "not run", with the command that would produce it.
#pragma once

#include <string>
#include <vector>

namespace resdyn::report {

// The paths of the layout, for the figures that read them (relative to RUNS).
namespace layout {
inline constexpr char shared_model[] = "models/shared.resdyn";
inline constexpr char per_layer_model[] = "models/per_layer.resdyn";
inline constexpr char mlp_model[] = "models/mlp.resdyn";
inline constexpr char pruned_shared_model[] = "pruning/shared.resdyn";
inline constexpr char pruned_per_layer_model[] = "pruning/per_layer.resdyn";
inline constexpr char fixed_shared_model[] = "pruning/shared_fixed.resdyn";
inline constexpr char fixed_per_layer_model[] = "pruning/per_layer_fixed.resdyn";
inline constexpr char dynamics_shared[] = "dynamics/shared";
inline constexpr char dynamics_shared_unrolled[] = "dynamics/shared_unrolled";
inline constexpr char dynamics_per_layer[] = "dynamics/per_layer";
inline constexpr char dynamics_mlp[] = "dynamics/mlp";
inline constexpr char dynamics_mlp_unrolled[] = "dynamics/mlp_unrolled";
inline constexpr char noise_shared[] = "noise/shared";
inline constexpr char noise_per_layer[] = "noise/per_layer";
inline constexpr char noise_mlp[] = "noise/mlp";
inline constexpr char spectrum_shared[] = "spectrum/shared";
inline constexpr char sensitivity_shared[] = "sensitivity/shared";
inline constexpr char sensitivity_per_layer[] = "sensitivity/per_layer";
inline constexpr char tsne_final_resnet[] = "embed/tsne_final_resnet";
inline constexpr char tsne_final_mlp[] = "embed/tsne_final_mlp";
inline constexpr char umap_trajectory_resnet[] = "embed/umap_trajectory_resnet";
inline constexpr char umap_trajectory_mlp[] = "embed/umap_trajectory_mlp";
}  // namespace layout

// RUN_DIR/NAME, e.g. file_in(layout::dynamics_shared, run_files::summary).
std::string file_in(const std::string& run_dir, const std::string& name);
// RUN_DIR/summary.json.
std::string summary_of(const std::string& run_dir);
// MODEL's epoch log.
std::string epoch_log(const std::string& model);

// A trained model of the layout.
struct ModelLayout {
  std::string file;         // relative to RUNS, e.g. "models/shared.resdyn"
  std::string description;  // its role, e.g. "the shared-weight ResNet of most figures"
  std::string command;      // how to make it, with RUNS standing for the runs directory
};

// An experiment output directory of the layout.
struct RunLayout {
  std::string dir;      // relative to RUNS, e.g. "dynamics/shared_unrolled"
  std::string model;    // relative to RUNS: the model it runs on
  std::string command;  // how to fill it, with RUNS standing for the runs directory
};

const std::vector<ModelLayout>& model_layouts();
const std::vector<RunLayout>& run_layouts();

// The entry for a relative path; throws resdyn::Error for a path the layout does not have
// (a programming error in a figure builder, not a user error).
const ModelLayout& model_layout(const std::string& file);
const RunLayout& run_layout(const std::string& dir);

}  // namespace resdyn::report
