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

// The thresholds of the rules (each row's `rule` says how it is used).
constexpr double kPruningErrorSlack = 0.2;  // points of test error a pruned net may lose: "none"
constexpr double kSettledSpread = 1e-3;     // spread below which residuals count as settled (as `dynamics`)
constexpr double kSmallEigenvalue = 0.05;   // "a small positive eigenvalue" (paper: about 0.02)
constexpr int kFewClasses = 3;              // the paper's classes 0, 2, 3
constexpr double kSeparatedClusters = 0.9;  // 10-NN class agreement of "separate clusters"
namespace noise = run_files::noise;
namespace spectrum = run_files::spectrum;
namespace sensitivity = run_files::sensitivity;

ClaimRow row(std::string claim, std::string paper, std::string figure, std::string rule, std::string value_name) {
  ClaimRow r;
  r.claim = std::move(claim);
  r.paper = std::move(paper);
  r.figure = std::move(figure);
  r.ours = "not run";
  r.rule = std::move(rule);
  r.value_name = std::move(value_name);
  r.value = NAN;
  return r;
}

// The row's figure and whether the rule is met: its verdict.
void decide(ClaimRow& r, double value, bool met) {
  r.value = value;
  r.verdict = met ? Verdict::holds : Verdict::does_not_hold;
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

ClaimRow accuracy_row(FigureContext& context, const std::string& claim, double paper_error, const std::string& paper,
                      const std::string& model) {
  ClaimRow r =
      row(claim, paper, "training", "holds when the test error is at most the paper's " + paper, "test error (%)");
  if (!context.require(r, {model})) return r;
  const ModelInfo& m = *context.runs().model(model);
  r.ours = percent_text(m.test_error()) + " (" + layers(m) + ")";
  decide(r, 100 * m.test_error(), 100 * m.test_error() <= paper_error);
  cite_model(context, r, model);
  return r;
}

ClaimRow pruning_row(FigureContext& context, const std::string& claim, const std::string& paper,
                     const std::string& model, const std::string& unpruned, const std::string& fixed_depth) {
  ClaimRow r =
      row(claim, paper, "pruning",
          "holds when the pruner removed at least one layer and the test error is at most " +
              number_text(kPruningErrorSlack) +
              " points above the unpruned net's (same width, starting depth and epochs; undecided without one)",
          "final depth");
  if (!context.require(r, {model})) return r;
  const ModelInfo& m = *context.runs().model(model);
  r.ours = std::to_string(m.config.depth) + " layers (from " + initial_depth(m) + ", width " +
           std::to_string(m.config.width) + ") / test error " + percent_text(m.test_error());
  cite_model(context, r, model);
  // The accuracy change is measured against the unpruned net only where it is the same net
  // apart from the pruning: width, starting depth and epoch budget (--epochs).
  const ModelInfo* full = context.runs().model(unpruned);
  const auto epochs = [](const ModelInfo& model) {
    return flag_value(model.meta(run_files::model_metadata::command), "epochs");
  };
  if (full && full->config.width == m.config.width && std::to_string(full->config.depth) == initial_depth(m) &&
      epochs(*full) == epochs(m)) {
    const double change = 100 * (m.test_error() - full->test_error());
    r.ours += "; unpruned (" + unpruned + "): " + percent_text(full->test_error()) + ", change " +
              plot::format_number(change, 2) + " points";
    cite_model(context, r, unpruned);
    decide(r, m.config.depth, std::to_string(m.config.depth) != initial_depth(m) && change <= kPruningErrorSlack);
  } else {
    r.value = m.config.depth;
    r.ours += "; no unpruned net of the same width, starting depth and epochs to compare with";
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

ClaimRow contrast_row(FigureContext& context) {
  RunFiles& runs = context.runs();
  ClaimRow r = row("same-class cosine contrast (mean diagonal − mean off-diagonal) is larger for the MLP",
                   "MLP > ResNet (fig. 6B, 6C)", "6C", "holds when the MLP's contrast exceeds the ResNet's",
                   "MLP − ResNet contrast");
  if (context.require(r, {summary_of(layout::dynamics_mlp), summary_of(layout::dynamics_shared)})) {
    r.ours = "MLP " + summary_text(runs.summary(layout::dynamics_mlp), dynamics::key::cosine_contrast) + " vs ResNet " +
             summary_text(runs.summary(layout::dynamics_shared), dynamics::key::cosine_contrast);
    context.use(r, summary_of(layout::dynamics_mlp));
    context.use(r, summary_of(layout::dynamics_shared));
    const double difference = summary_number(runs.summary(layout::dynamics_mlp), dynamics::key::cosine_contrast) -
                              summary_number(runs.summary(layout::dynamics_shared), dynamics::key::cosine_contrast);
    if (!std::isnan(difference)) decide(r, difference, difference > 0);
  }
  return r;
}

ClaimRow settling_row(FigureContext& context) {
  RunFiles& runs = context.runs();
  ClaimRow r = row("the MLP does not settle by layer 1000, the shared ResNet does: spread at the last layer",
                   "high / negligible (fig. 2C, 2A)", "2C",
                   "holds when the ResNet's spread is at most " + number_text(kSettledSpread) +
                       " and the MLP's at least ten times the ResNet's",
                   "ResNet spread");
  const std::string mlp = file_in(layout::dynamics_mlp_unrolled, dynamics::trajectory_stats),
                    resnet = file_in(layout::dynamics_shared_unrolled, dynamics::trajectory_stats);
  if (context.require(r, {mlp, resnet})) {
    const double mlp_spread = last_layer_mean(*runs.csv(mlp), dynamics::column::spread);
    const double resnet_spread = last_layer_mean(*runs.csv(resnet), dynamics::column::spread);
    r.ours = "MLP " + number_text(mlp_spread) + " / ResNet " + number_text(resnet_spread) +
             " (mean over classes, at layer " +
             summary_text(runs.summary(layout::dynamics_shared_unrolled), run_files::key::depth) + ")";
    context.use(r, mlp);
    context.use(r, resnet);
    decide(r, resnet_spread, resnet_spread <= kSettledSpread && mlp_spread >= 10 * resnet_spread);
  }
  return r;
}

ClaimRow class_mean_spectrum_row(FigureContext& context) {
  ClaimRow r =
      row("classes whose Jacobian at the layer-1000 class-mean residual ybar_c (a class mean, not a fixed point) has a "
          "positive eigenvalue",
          "0, 2, 3 (one each, about 0.02)", "spectra",
          "holds when at most " + std::to_string(kFewClasses) + " classes have one, none more than one, each at most " +
              number_text(kSmallEigenvalue),
          "classes with a positive eigenvalue");
  if (!context.require(r, {summary_of(layout::spectrum_shared)})) return r;
  const output::JsonValue& summary = *context.runs().summary(layout::spectrum_shared);
  std::string list;
  int classes = 0;
  bool small = true;
  for (const output::JsonValue& c : summary.at(spectrum::key::classes).items()) {
    const output::JsonValue& ode = c.at(spectrum::key::ode);
    const double positive = ode.at(spectrum::key::positive_real).number();
    if (positive <= 0) continue;
    ++classes;
    const double largest = ode.at(spectrum::key::largest_real).number();
    small = small && positive == 1 && largest <= kSmallEigenvalue;
    list += (list.empty() ? "" : ", ") + number_text(c.at(spectrum::key::class_label).number()) + " (" +
            number_text(positive) + ", largest " + number_text(largest) + ")";
  }
  r.ours = list.empty() ? "none" : list;
  context.use(r, summary_of(layout::spectrum_shared));
  decide(r, classes, classes <= kFewClasses && small);
  return r;
}

// Per class at the exact fixed points the samples reach (spectrum's Newton search).
ClaimRow fixed_point_row(FigureContext& context) {
  ClaimRow r = row(
      "the same at the exact fixed points the samples' trajectories approach (Newton on F(y) = 0 from each y(1000)): "
      "classes most of whose samples reach an unstable fixed point",
      "0, 2, 3 (one small positive eigenvalue, about 0.02)", "fixed-points",
      "holds when at most " + std::to_string(kFewClasses) +
          " classes send more than half of their converged samples to a fixed point with a positive eigenvalue, "
          "and no class's fixed points have a real part above " +
          number_text(kSmallEigenvalue),
      "classes mostly unstable");
  if (!context.require(r, {summary_of(layout::spectrum_shared)})) return r;
  context.use(r, summary_of(layout::spectrum_shared));
  const output::JsonValue* search = context.runs().summary(layout::spectrum_shared)->find(spectrum::key::fixed_points);
  if (!search) {
    r.ours = "n/a: this spectrum run has no fixed-point search (rerun resdyn spectrum)";
    return r;
  }
  std::string list;
  int unstable_classes = 0;
  double largest = -INFINITY;
  for (const output::JsonValue& c : search->at(spectrum::key::classes).items()) {
    const double fraction = c.at(spectrum::key::unstable_fraction).number();
    const output::JsonValue& real = c.at(spectrum::key::largest_real);
    if (!real.is_null()) largest = std::max(largest, real.number());
    unstable_classes += fraction > 0.5;
    list += (list.empty() ? "" : "; ") + number_text(c.at(spectrum::key::class_label).number()) + ": " +
            percent_text(fraction, 0) + " unstable, " + number_text(c.at(spectrum::key::distinct).number()) +
            " points, max Re " + (real.is_null() ? std::string("n/a") : number_text(real.number()));
  }
  r.ours = number_text(unstable_classes) + " classes mostly unstable (" + list + "); " +
           number_text(search->at(spectrum::key::failed).number()) + " of " +
           number_text(search->at("samples").number()) +
           " samples did not converge to max |F| <= " + number_text(search->at("tolerance").number());
  decide(r, unstable_classes, unstable_classes <= kFewClasses && largest <= kSmallEigenvalue);
  return r;
}

ClaimRow spread_row(FigureContext& context) {
  RunFiles& runs = context.runs();
  ClaimRow r =
      row("per-layer residual spread after layer 4", "~0", "2B",
          "holds when the largest spread at layers 5..T, over classes, is at most " + number_text(kSettledSpread),
          "largest spread after layer 4");
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
    if (!std::isnan(largest)) decide(r, largest, largest <= kSettledSpread);
  }
  return r;
}

}  // namespace

std::vector<ClaimRow> paper_table(FigureContext& context) {
  RunFiles& runs = context.runs();
  std::vector<ClaimRow> rows;
  rows.push_back(
      accuracy_row(context, "shared-weight ResNet, 15 x 1064, MNIST test error", 1.4, "1.4 %", layout::shared_model));
  rows.push_back(
      accuracy_row(context, "per-layer ResNet, 15 x 1064, test error", 1.8, "1.8 % (about)", layout::per_layer_model));
  rows.push_back(pruning_row(context, "adaptive depth, per-layer: final depth / test error", "3 layers / 1.7 %",
                             layout::pruned_per_layer_model, layout::per_layer_model, layout::fixed_per_layer_model));
  rows.push_back(pruning_row(context, "adaptive depth, shared: final depth / accuracy change", "5 layers / none",
                             layout::pruned_shared_model, layout::shared_model, layout::fixed_shared_model));
  rows.push_back(spread_row(context));
  {
    ClaimRow r = row("noise: MLP fails from / ResNet fails above", "0.1 / 0.5", "noise-error",
                     "holds when the MLP's a10 is at most 0.2 (0.1 and the next step of the amplitude grid) and "
                     "the shared ResNet's is above 0.5 or never reached",
                     "MLP a10");
    if (context.require(r, {summary_of(layout::noise_mlp), summary_of(layout::noise_shared)})) {
      r.ours = "a10: MLP " + summary_text(runs.summary(layout::noise_mlp), noise::key::a10) + " / shared ResNet " +
               summary_text(runs.summary(layout::noise_shared), noise::key::a10);
      context.use(r, summary_of(layout::noise_mlp));
      context.use(r, summary_of(layout::noise_shared));
      // a10 is null when never reached: the net does not fail on the grid.
      const double mlp = summary_number(runs.summary(layout::noise_mlp), noise::key::a10);
      const double resnet = summary_number(runs.summary(layout::noise_shared), noise::key::a10);
      decide(r, mlp, mlp <= 0.2 && !(resnet <= 0.5));
      if (const output::JsonValue* per_layer = runs.summary(layout::noise_per_layer)) {
        r.ours += " (per-layer ResNet " + summary_text(per_layer, noise::key::a10) + ")";
        context.use(r, summary_of(layout::noise_per_layer));
      }
      r.ours += "; a10 = smallest amplitude with error 10 points above clean, none = never up to the largest amplitude";
    }
    rows.push_back(r);
  }
  {
    ClaimRow r = row("most-sensitive-neuron rule holds for", "9 of 10 classes", "3B",
                     "holds when the rule is met for at least 8 of 10 classes", "classes");
    if (context.require(r, {summary_of(layout::dynamics_shared)})) {
      const double classes =
          summary_number(runs.summary(layout::dynamics_shared), dynamics::key::sensitive_neuron_rule_classes);
      r.ours = summary_text(runs.summary(layout::dynamics_shared), dynamics::key::sensitive_neuron_rule_classes) +
               " of 10 classes";
      decide(r, classes, classes >= 8);
      context.use(r, summary_of(layout::dynamics_shared));
    }
    rows.push_back(r);
  }
  {
    ClaimRow r =
        row("det M'(4) vs det M'(10)", "orders of magnitude larger", "sensitivity",
            "holds when log10|det M'(4)| - log10|det M'(10)| >= 2 (two orders of magnitude or more)", "log10 ratio");
    if (context.require(r, {summary_of(layout::sensitivity_shared)})) {
      const output::JsonValue* summary = runs.summary(layout::sensitivity_shared);
      const double ratio = summary_number(summary, sensitivity::key::log10_det_ratio_4_10);
      r.ours = std::isnan(ratio) ? "n/a: the net has fewer than 10 layers (depth " +
                                       summary_text(summary, run_files::key::depth) + ")"
                                 : "|det M'(4)| / |det M'(10)| = 10^" + number_text(ratio) +
                                       " (log10 difference, mean over samples, depth " +
                                       summary_text(summary, run_files::key::depth) + ")";
      context.use(r, summary_of(layout::sensitivity_shared));
      if (!std::isnan(ratio)) decide(r, ratio, ratio >= 2);
    }
    rows.push_back(r);
  }
  return rows;
}

std::vector<ClaimRow> further_claims(FigureContext& context) {
  RunFiles& runs = context.runs();
  std::vector<ClaimRow> rows;
  // The claim r answered by one value of a run's summary, followed by `unit`, holding when
  // the value is at least `least`.
  const auto summary_row = [&](ClaimRow r, const std::string& run_dir, const std::string& key, const std::string& unit,
                               double least) {
    if (context.require(r, {summary_of(run_dir)})) {
      r.ours = summary_text(runs.summary(run_dir), key) + unit;
      context.use(r, summary_of(run_dir));
      const double value = summary_number(runs.summary(run_dir), key);
      decide(r, value, value >= least);
    }
    rows.push_back(r);
  };
  summary_row(row("trajectories are closer within a class than across classes: rows with the diagonal smallest",
                  "every class (fig. 1C)", "1C", "holds when every row does: 10 of 10", "rows"),
              layout::dynamics_shared, dynamics::key::distance_diag_min_rows, " of 10", 10);
  summary_row(row("final states most similar within a class (cosine), shared ResNet: rows with the diagonal largest",
                  "every row (fig. 6B)", "6B", "holds when every row does: 10 of 10", "rows"),
              layout::dynamics_shared, dynamics::key::cosine_diag_max_rows, " of 10", 10);
  rows.push_back(contrast_row(context));
  rows.push_back(settling_row(context));
  rows.push_back(class_mean_spectrum_row(context));
  rows.push_back(fixed_point_row(context));
  const std::string separated = "holds when it is at least " + number_text(kSeparatedClusters);
  summary_row(row("t-SNE of x(T) separates the classes: 10-NN class agreement in 2-D", "separate clusters (fig. 1D)",
                  "1D", separated, "10-NN agreement"),
              layout::tsne_final_resnet, run_files::embed::key::knn10_agreement, "", kSeparatedClusters);
  summary_row(row("UMAP of the trajectories separates the classes: 10-NN class agreement in 2-D",
                  "well-separated clusters (fig. 6A)", "6A", separated, "10-NN agreement"),
              layout::umap_trajectory_resnet, run_files::embed::key::knn10_agreement, "", kSeparatedClusters);
  return rows;
}

const char* verdict_text(Verdict verdict) {
  switch (verdict) {
    case Verdict::holds: return "holds";
    case Verdict::does_not_hold: return "does not hold";
    case Verdict::undecided: return "undecided";
  }
  return "undecided";
}

}  // namespace resdyn::report
