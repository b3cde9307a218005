#include "report/runs_layout.h"

#include "experiments/run_file_names.h"
#include "resdyn.h"

namespace resdyn::report {

std::string file_in(const std::string& run_dir, const std::string& name) { return run_dir + "/" + name; }

std::string summary_of(const std::string& run_dir) { return file_in(run_dir, run_files::summary); }

std::string epoch_log(const std::string& model) { return model + run_files::epoch_log_suffix; }

// The scale of each run (width, depth, epochs, samples) is tools/paper_runs.sh's choice;
// these are the commands with only the flags that make the run what it is.
const std::vector<ModelLayout>& model_layouts() {
  static const std::vector<ModelLayout> layouts = [] {
    std::vector<ModelLayout> models;
    const auto add = [&](const std::string& file, const std::string& description, const std::string& flags,
                         const std::string& note) {
      models.push_back({file, description, "resdyn train " + flags + " --out RUNS/" + file + note});
    };
    add(layout::shared_model, "the shared-weight ResNet of most figures", "--weights shared", "");
    add(layout::per_layer_model, "the per-layer ResNet (fig. 2B)", "--weights per-layer", "");
    add(layout::mlp_model, "the MLP the ResNets are compared with", "--arch mlp --weights shared", "");
    add(layout::pruned_shared_model, "adaptive depth (paper §7), shared weights",
        "--weights shared --prune-threshold 0.01", "");
    add(layout::pruned_per_layer_model, "adaptive depth (paper §7), per-layer weights",
        "--weights per-layer --prune-threshold 0.01", "");
    add(layout::fixed_shared_model, "the pruned depth trained from scratch, shared weights",
        "--weights shared --depth D", "  (D: the depth pruning/shared reached)");
    add(layout::fixed_per_layer_model, "the pruned depth trained from scratch, per-layer weights",
        "--weights per-layer --depth D", "  (D: the depth pruning/per_layer reached)");
    return models;
  }();
  return layouts;
}

const std::vector<RunLayout>& run_layouts() {
  static const std::vector<RunLayout> layouts = [] {
    std::vector<RunLayout> all;
    const auto add = [&](const std::string& dir, const std::string& model, const std::string& command) {
      all.push_back({dir, model, command + " --model RUNS/" + model + " --out RUNS/" + dir});
    };
    add(layout::dynamics_shared, layout::shared_model, "resdyn dynamics");
    add(layout::dynamics_shared_unrolled, layout::shared_model, "resdyn dynamics --unroll 1000");
    add(layout::dynamics_per_layer, layout::per_layer_model, "resdyn dynamics");
    add(layout::dynamics_mlp, layout::mlp_model, "resdyn dynamics");
    add(layout::dynamics_mlp_unrolled, layout::mlp_model, "resdyn dynamics --unroll 1000");
    add(layout::noise_shared, layout::shared_model, "resdyn noise");
    add(layout::noise_per_layer, layout::per_layer_model, "resdyn noise");
    add(layout::noise_mlp, layout::mlp_model, "resdyn noise");
    add(layout::spectrum_shared, layout::shared_model, "resdyn spectrum --unroll 1000");
    add(layout::sensitivity_shared, layout::shared_model, "resdyn sensitivity");
    add(layout::sensitivity_per_layer, layout::per_layer_model, "resdyn sensitivity");
    add(layout::tsne_final_resnet, layout::shared_model, "resdyn embed --method tsne --of final");
    add(layout::tsne_final_mlp, layout::mlp_model, "resdyn embed --method tsne --of final");
    add(layout::umap_trajectory_resnet, layout::shared_model, "resdyn embed --method umap --of trajectory");
    add(layout::umap_trajectory_mlp, layout::mlp_model, "resdyn embed --method umap --of trajectory");
    return all;
  }();
  return layouts;
}

const ModelLayout& model_layout(const std::string& file) {
  for (const ModelLayout& m : model_layouts())
    if (m.file == file) return m;
  throw Error("report: internal: no model '" + file + "' in the runs layout");
}

const RunLayout& run_layout(const std::string& dir) {
  for (const RunLayout& r : run_layouts())
    if (r.dir == dir) return r;
  throw Error("report: internal: no run '" + dir + "' in the runs layout");
}

}  // namespace resdyn::report
