#include "report/claims_table.h"

#include <algorithm>
#include <cmath>

#include "experiments/run_file_names.h"
#include "plot/svg.h"
#include "report/figure_parts.h"
#include "report/number_text.h"
#include "report/runs_layout.h"

namespace resdyn::report {

namespace {

namespace dynamics = run_files::dynamics;
namespace noise = run_files::noise;
namespace spectrum = run_files::spectrum;
namespace sensitivity = run_files::sensitivity;

ClaimRow row(std::string claim, std::string paper, std::string figure) {
  ClaimRow r;
  r.claim = std::move(claim);
  r.paper = std::move(paper);
  r.figure = std::move(figure);
  r.ours = "not run";
  return r;
}

// Cites a model: how it was trained, and its epoch log beside the report.
void cite_model(FigureContext& context, ClaimRow& r, const std::string& model) {
  if (context.runs().exists(epoch_log(model))) {
    context.use(r, epoch_log(model));
  } else {
    r.provenance.push_back(context.model_provenance(model));
  }
}

std::string layers(const ModelInfo& m) {
  return std::to_string(m.config.depth) + " x " + std::to_string(m.config.width);
}

// The depth a pruned run started from: its --depth flag, or train's default.
std::string initial_depth(const ModelInfo& m) {
  const std::string depth = flag_value(m.meta(run_files::model_metadata::command), "depth");
  return depth.empty() ? "10" : depth;
}

ClaimRow accuracy_row(FigureContext& context, const std::string& claim, const std::string& paper,
                      const std::string& model) {
  ClaimRow r = row(claim, paper, "training");
  if (!context.require(r, {model})) return r;
  const ModelInfo& m = *context.runs().model(model);
  r.ours = percent_text(m.test_error()) + " (" + layers(m) + ")";
  cite_model(context, r, model);
  return r;
}

ClaimRow pruning_row(FigureContext& context, const std::string& claim, const std::string& paper,
                     const std::string& model, const std::string& unpruned, const std::string& fixed_depth) {
  ClaimRow r = row(claim, paper, "pruning");
  if (!context.require(r, {model})) return r;
  const ModelInfo& m = *context.runs().model(model);
  r.ours = std::to_string(m.config.depth) + " layers (from " + initial_depth(m) + ", width " +
           std::to_string(m.config.width) + ") / test error " + percent_text(m.test_error());
  cite_model(context, r, model);
  // The accuracy change is measured against the unpruned net only where it is the same net
  // apart from the pruning (width and starting depth; the epochs show in the commands).
  const ModelInfo* full = context.runs().model(unpruned);
  if (full && full->config.width == m.config.width && std::to_string(full->config.depth) == initial_depth(m)) {
    r.ours += "; unpruned (" + unpruned + "): " + percent_text(full->test_error()) + ", change " +
              plot::format_number(100 * (m.test_error() - full->test_error()), 2) + " points";
    cite_model(context, r, unpruned);
  } else {
    r.ours += "; no unpruned net of the same width and starting depth to compare with";
  }
  const ModelInfo* fixed = context.runs().model(fixed_depth);
  if (fixed && fixed->config.width == m.config.width && fixed->config.depth == m.config.depth) {
    r.ours += "; the same depth trained from scratch: " + percent_text(fixed->test_error());
    cite_model(context, r, fixed_depth);
  }
  return r;
}

// The mean over classes of a trajectory_stats.csv column at the deepest layer.
double last_layer_mean(const output::CsvTable& table, const std::string& column) {
  const std::vector<ClassCurve> curves = class_curves(table, dynamics::column::layer, column);
  double sum = 0;
  for (const ClassCurve& c : curves) sum += c.y.back();
  return curves.empty() ? NAN : sum / double(curves.size());
}

}  // namespace

std::vector<ClaimRow> paper_table(FigureContext& context) {
  RunFiles& runs = context.runs();
  std::vector<ClaimRow> rows;
  rows.push_back(
      accuracy_row(context, "shared-weight ResNet, 15 x 1064, MNIST test error", "1.4 %", layout::shared_model));
  rows.push_back(
      accuracy_row(context, "per-layer ResNet, 15 x 1064, test error", "1.8 % (about)", layout::per_layer_model));
  rows.push_back(pruning_row(context, "adaptive depth, per-layer: final depth / test error", "3 layers / 1.7 %",
                             layout::pruned_per_layer_model, layout::per_layer_model, layout::fixed_per_layer_model));
  rows.push_back(pruning_row(context, "adaptive depth, shared: final depth / accuracy change", "5 layers / none",
                             layout::pruned_shared_model, layout::shared_model, layout::fixed_shared_model));
  {
    ClaimRow r = row("per-layer residual spread after layer 4", "~0", "2B");
    const std::string file = file_in(layout::dynamics_per_layer, dynamics::trajectory_stats);
    if (context.require(r, {file})) {
      double largest = NAN;
      const std::vector<ClassCurve> spreads =
          class_curves(*runs.csv(file), dynamics::column::layer, dynamics::column::spread);
      for (const ClassCurve& c : spreads)
        for (std::size_t i = 0; i < c.x.size(); ++i)
          if (c.x[i] > 4 && !(c.y[i] <= largest)) largest = c.y[i];
      const output::JsonValue* summary = runs.summary(layout::dynamics_per_layer);
      r.ours = std::isnan(largest)
                   ? "n/a: the net has no layer after 4"
                   : "largest spread at layers 5.." + summary_text(summary, run_files::key::depth) + ": " +
                         number_text(largest) + " (at layer 1: " + number_text(spreads[0].y[0]) + ")";
      const std::string quiet = summary_text(summary, dynamics::key::first_layer_spread_below);
      r.ours += quiet == "none" ? "; never below 1e-3 for every class" : "; every class below 1e-3 from layer " + quiet;
      context.use(r, file);
    }
    rows.push_back(r);
  }
  {
    ClaimRow r = row("noise: MLP fails from / ResNet fails above", "0.1 / 0.5", "noise-error");
    if (context.require(r, {summary_of(layout::noise_mlp), summary_of(layout::noise_shared)})) {
      r.ours = "a10: MLP " + summary_text(runs.summary(layout::noise_mlp), noise::key::a10) + " / shared ResNet " +
               summary_text(runs.summary(layout::noise_shared), noise::key::a10);
      context.use(r, summary_of(layout::noise_mlp));
      context.use(r, summary_of(layout::noise_shared));
      if (const output::JsonValue* per_layer = runs.summary(layout::noise_per_layer)) {
        r.ours += " (per-layer ResNet " + summary_text(per_layer, noise::key::a10) + ")";
        context.use(r, summary_of(layout::noise_per_layer));
      }
      r.ours += "; a10 = smallest amplitude with error 10 points above clean, none = never up to the largest amplitude";
    }
    rows.push_back(r);
  }
  {
    ClaimRow r = row("most-sensitive-neuron rule holds for", "9 of 10 classes", "3B");
    if (context.require(r, {summary_of(layout::dynamics_shared)})) {
      r.ours = summary_text(runs.summary(layout::dynamics_shared), dynamics::key::sensitive_neuron_rule_classes) +
               " of 10 classes";
      context.use(r, summary_of(layout::dynamics_shared));
    }
    rows.push_back(r);
  }
  {
    ClaimRow r = row("det M'(4) vs det M'(10)", "orders of magnitude larger", "sensitivity");
    if (context.require(r, {summary_of(layout::sensitivity_shared)})) {
      const output::JsonValue* summary = runs.summary(layout::sensitivity_shared);
      const double ratio = summary_number(summary, sensitivity::key::log10_det_ratio_4_10);
      r.ours = std::isnan(ratio) ? "n/a: the net has fewer than 10 layers (depth " +
                                       summary_text(summary, run_files::key::depth) + ")"
                                 : "|det M'(4)| / |det M'(10)| = 10^" + number_text(ratio) +
                                       " (log10 difference, mean over samples, depth " +
                                       summary_text(summary, run_files::key::depth) + ")";
      context.use(r, summary_of(layout::sensitivity_shared));
    }
    rows.push_back(r);
  }
  return rows;
}

std::vector<ClaimRow> further_claims(FigureContext& context) {
  RunFiles& runs = context.runs();
  std::vector<ClaimRow> rows;
  // The claim r answered by one value of a run's summary, followed by `unit`.
  const auto summary_row = [&](ClaimRow r, const std::string& run_dir, const std::string& key,
                               const std::string& unit) {
    if (context.require(r, {summary_of(run_dir)})) {
      r.ours = summary_text(runs.summary(run_dir), key) + unit;
      context.use(r, summary_of(run_dir));
    }
    rows.push_back(r);
  };
  summary_row(row("trajectories are closer within a class than across classes: rows with the diagonal smallest",
                  "every class (fig. 1C)", "1C"),
              layout::dynamics_shared, dynamics::key::distance_diag_min_rows, " of 10");
  summary_row(row("final states most similar within a class (cosine), shared ResNet: rows with the diagonal largest",
                  "every row (fig. 6B)", "6B"),
              layout::dynamics_shared, dynamics::key::cosine_diag_max_rows, " of 10");
  {
    ClaimRow r = row("same-class cosine contrast (mean diagonal − mean off-diagonal) is larger for the MLP",
                     "MLP > ResNet (fig. 6B, 6C)", "6C");
    if (context.require(r, {summary_of(layout::dynamics_mlp), summary_of(layout::dynamics_shared)})) {
      r.ours = "MLP " + summary_text(runs.summary(layout::dynamics_mlp), dynamics::key::cosine_contrast) +
               " vs ResNet " + summary_text(runs.summary(layout::dynamics_shared), dynamics::key::cosine_contrast);
      context.use(r, summary_of(layout::dynamics_mlp));
      context.use(r, summary_of(layout::dynamics_shared));
    }
    rows.push_back(r);
  }
  {
    ClaimRow r = row("the MLP does not settle by layer 1000, the shared ResNet does: spread at the last layer",
                     "high / negligible (fig. 2C, 2A)", "2C");
    const std::string mlp = file_in(layout::dynamics_mlp_unrolled, dynamics::trajectory_stats),
                      resnet = file_in(layout::dynamics_shared_unrolled, dynamics::trajectory_stats);
    if (context.require(r, {mlp, resnet})) {
      r.ours = "MLP " + number_text(last_layer_mean(*runs.csv(mlp), dynamics::column::spread)) + " / ResNet " +
               number_text(last_layer_mean(*runs.csv(resnet), dynamics::column::spread)) +
               " (mean over classes, at layer " +
               summary_text(runs.summary(layout::dynamics_shared_unrolled), run_files::key::depth) + ")";
      context.use(r, mlp);
      context.use(r, resnet);
    }
    rows.push_back(r);
  }
  {
    ClaimRow r = row("classes whose Jacobian at the layer-1000 mean residual has a positive eigenvalue",
                     "0, 2, 3 (one each, about 0.02)", "spectra");
    if (context.require(r, {summary_of(layout::spectrum_shared)})) {
      const output::JsonValue& summary = *runs.summary(layout::spectrum_shared);
      std::string list;
      for (const output::JsonValue& c : summary.at(spectrum::key::classes).items()) {
        const output::JsonValue& ode = c.at(spectrum::key::ode);
        if (ode.at(spectrum::key::positive_real).number() > 0)
          list += (list.empty() ? "" : ", ") + number_text(c.at(spectrum::key::class_label).number()) + " (" +
                  number_text(ode.at(spectrum::key::positive_real).number()) + ", largest " +
                  number_text(ode.at(spectrum::key::largest_real).number()) + ")";
      }
      r.ours = list.empty() ? "none" : list;
      context.use(r, summary_of(layout::spectrum_shared));
    }
    rows.push_back(r);
  }
  summary_row(
      row("t-SNE of x(T) separates the classes: 10-NN class agreement in 2-D", "separate clusters (fig. 1D)", "1D"),
      layout::tsne_final_resnet, run_files::embed::key::knn10_agreement, "");
  summary_row(row("UMAP of the trajectories separates the classes: 10-NN class agreement in 2-D",
                  "well-separated clusters (fig. 6A)", "6A"),
              layout::umap_trajectory_resnet, run_files::embed::key::knn10_agreement, "");
  return rows;
}

}  // namespace resdyn::report
