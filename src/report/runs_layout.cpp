#include "report/runs_layout.h"

#include "resdyn.h"

namespace resdyn::report {

// The scale of each run (width, depth, epochs, samples) is tools/paper_runs.sh's choice;
// these are the commands with only the flags that make the run what it is.
const std::vector<ModelLayout>& model_layouts() {
  static const std::vector<ModelLayout> layouts = {
      {"models/shared.resdyn", "the shared-weight ResNet of most figures",
       "resdyn train --weights shared --out RUNS/models/shared.resdyn"},
      {"models/per_layer.resdyn", "the per-layer ResNet (fig. 2B)",
       "resdyn train --weights per-layer --out RUNS/models/per_layer.resdyn"},
      {"models/mlp.resdyn", "the MLP the ResNets are compared with",
       "resdyn train --arch mlp --weights shared --out RUNS/models/mlp.resdyn"},
      {"pruning/shared.resdyn", "adaptive depth (paper §7), shared weights",
       "resdyn train --weights shared --prune-threshold 0.01 --out RUNS/pruning/shared.resdyn"},
      {"pruning/per_layer.resdyn", "adaptive depth (paper §7), per-layer weights",
       "resdyn train --weights per-layer --prune-threshold 0.01 --out RUNS/pruning/per_layer.resdyn"},
      {"pruning/shared_fixed.resdyn", "the pruned depth trained from scratch, shared weights",
       "resdyn train --weights shared --depth D --out RUNS/pruning/shared_fixed.resdyn  (D: the depth pruning/shared "
       "reached)"},
      {"pruning/per_layer_fixed.resdyn", "the pruned depth trained from scratch, per-layer weights",
       "resdyn train --weights per-layer --depth D --out RUNS/pruning/per_layer_fixed.resdyn  (D: the depth "
       "pruning/per_layer reached)"},
  };
  return layouts;
}

const std::vector<RunLayout>& run_layouts() {
  static const std::vector<RunLayout> layouts = [] {
    std::vector<RunLayout> runs;
    const auto add = [&](const std::string& dir, const std::string& model, const std::string& command) {
      runs.push_back({dir, model, command + " --model RUNS/" + model + " --out RUNS/" + dir});
    };
    add("dynamics/shared", "models/shared.resdyn", "resdyn dynamics");
    add("dynamics/shared_unrolled", "models/shared.resdyn", "resdyn dynamics --unroll 1000");
    add("dynamics/per_layer", "models/per_layer.resdyn", "resdyn dynamics");
    add("dynamics/mlp", "models/mlp.resdyn", "resdyn dynamics");
    add("dynamics/mlp_unrolled", "models/mlp.resdyn", "resdyn dynamics --unroll 1000");
    for (const char* name : {"shared", "per_layer", "mlp"})
      add(std::string("noise/") + name, std::string("models/") + name + ".resdyn", "resdyn noise");
    add("spectrum/shared", "models/shared.resdyn", "resdyn spectrum --unroll 1000");
    add("sensitivity/shared", "models/shared.resdyn", "resdyn sensitivity");
    add("sensitivity/per_layer", "models/per_layer.resdyn", "resdyn sensitivity");
    add("embed/tsne_final_resnet", "models/shared.resdyn", "resdyn embed --method tsne --of final");
    add("embed/tsne_final_mlp", "models/mlp.resdyn", "resdyn embed --method tsne --of final");
    add("embed/umap_trajectory_resnet", "models/shared.resdyn", "resdyn embed --method umap --of trajectory");
    add("embed/umap_trajectory_mlp", "models/mlp.resdyn", "resdyn embed --method umap --of trajectory");
    return runs;
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
