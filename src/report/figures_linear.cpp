// Figures drawn from `resdyn spectrum` and `resdyn sensitivity` runs (paper §6, appendix A): the
// eigenvalues at each class's mean residual, and how perturbations of each layer grow.
#include <algorithm>
#include <cmath>
#include <utility>

#include "experiments/run_file_names.h"
#include "plot/line_plot.h"
#include "plot/panel_grid.h"
#include "plot/scatter.h"
#include "report/figure_parts.h"
#include "report/number_text.h"
#include "report/paper_figures.h"
#include "report/runs_layout.h"

namespace resdyn::report {

namespace {

namespace spectrum = run_files::spectrum;
namespace sensitivity = run_files::sensitivity;

// The eigenvalues of one Jacobian ("ode" or "layer_map") of eigenvalues.csv, as a scatter in
// the complex plane coloured by class.
plot::ScatterPlot eigenvalue_scatter(const output::CsvTable& table, const std::string& which,
                                     const std::string& title) {
  const std::size_t kind = table.column(spectrum::column::which), re = table.column(spectrum::column::real),
                    im = table.column(spectrum::column::imag);
  std::vector<double> x, y;
  std::vector<std::size_t> classes;
  std::size_t count = 0;
  for (std::size_t r = 0; r < table.rows(); ++r) {
    if (table.text(r, kind) != which) continue;
    classes.push_back(std::size_t(class_of(table, r)));
    count = std::max(count, classes.back() + 1);
    x.push_back(table.number(r, re));
    y.push_back(table.number(r, im));
  }
  if (x.empty()) throw Error(table.source() + ": no eigenvalues of kind '" + which + "'");
  return plot::ScatterPlot(plot::ChartText(title, "real part (1/layer)", "imaginary part (1/layer)"), x, y, classes,
                           class_names(count));
}

// How steady the logit change is: the directions averaged per sample, and the largest
// standard error they leave, relative to the mean (empty for runs that do not say).
std::string direction_error_text(const output::JsonValue* summary) {
  const output::JsonValue* overall = summary ? summary->find("overall") : nullptr;
  const output::JsonValue* se = overall ? overall->find("se_logit_change") : nullptr;
  const output::JsonValue* mean = overall ? overall->find(sensitivity::column::mean_logit_change) : nullptr;
  if (!se || !mean || se->items().size() != mean->items().size()) return "";
  double largest = 0;
  for (std::size_t s = 0; s < se->items().size(); ++s) {
    const output::JsonValue& e = se->items()[s];
    const output::JsonValue& m = mean->items()[s];
    if (e.is_number() && m.is_number() && m.number() > 0) largest = std::max(largest, e.number() / m.number());
  }
  return " The logit change is the mean over " + summary_text(summary, "directions") +
         " random directions per sample; the standard error the directions leave is at most " +
         percent_text(largest, 1) + " of it (all samples, any layer).";
}

}  // namespace

Figure figure_spectra(FigureContext& context) {
  Figure f = FigureContext::start(
      "spectra", "Eigenvalues of the Jacobians at each class's mean residual, shared-weight ResNet run for 1000 layers",
      "§6: at layer 1000 the Jacobians at the mean residuals of classes 0, 2 and 3 have a single small positive "
      "eigenvalue (about 0.02) among negative ones: a saddle, left slowly, so those classes are still in transition.");
  f.shows =
      "Eigenvalues of the ODE Jacobian J(ybar_c) = diag((1 − 2y)(W y)) + diag(y(1 − y)) W (paper eq. 3) and of "
      "the layer map's Jacobian I + diag(y(1 − y)) W at each class's mean residual ybar_c at the deepest layer "
      "T'; bottom right, the largest real part of J per class.";
  const std::string file = file_in(layout::spectrum_shared, spectrum::eigenvalues);
  if (!context.require(f, {file, summary_of(layout::spectrum_shared)})) return f;
  const output::CsvTable& table = *context.runs().csv(file);
  const output::JsonValue& summary = *context.runs().summary(layout::spectrum_shared);
  plot::PanelGrid grid(f.title, 2, 560, 460);
  grid.add(eigenvalue_scatter(table, spectrum::key::ode, "ODE Jacobian J(ybar_c)"));
  grid.add(eigenvalue_scatter(table, spectrum::key::layer_map, "layer map I + diag(y(1 − y)) W"));
  plot::Series largest{"largest real part of J", {}, {}, {}, ""};
  std::string per_class;
  for (const output::JsonValue& c : summary.at(spectrum::key::classes).items()) {
    const output::JsonValue& ode = c.at(spectrum::key::ode);
    largest.x.push_back(c.at(spectrum::key::class_label).number());
    largest.y.push_back(ode.at(spectrum::key::largest_real).number());
    per_class += " class " + number_text(c.at(spectrum::key::class_label).number()) + ": " +
                 number_text(ode.at(spectrum::key::positive_real).number()) + " positive, largest " +
                 number_text(ode.at(spectrum::key::largest_real).number()) + ", layer-map radius " +
                 number_text(c.at(spectrum::key::layer_map).at(spectrum::key::spectral_radius).number()) + ";";
  }
  if (largest.x.empty()) throw Error(summary.where() + ": no classes in the spectrum summary");
  plot::LinePlot& line = grid.add(
      plot::LinePlot(plot::ChartText("largest real part of J per class", "class", "largest real part (1/layer)")));
  line.markers = true;
  line.add({"zero", {largest.x.front(), largest.x.back()}, {0, 0}, {}, "#888888"});
  line.add(std::move(largest));
  context.save(f, grid);
  context.use(f, file);
  per_class.back() = '.';
  f.shows += " Unrolled to " + summary_text(&summary, spectrum::key::unroll) + " layers, " +
             summary_text(&summary, run_files::key::samples_per_class) +
             " samples per class. Eigenvalues with positive real part "
             "per class:" +
             per_class;
  return f;
}

Figure figure_fixed_points(FigureContext& context) {
  Figure f = FigureContext::start(
      "fixed-points", "The exact fixed points the samples approach at layer 1000, shared-weight ResNet",
      "§6 takes the eigenvalues at the fixed point the trajectories of a class reach; it finds one small positive "
      "eigenvalue (about 0.02) for classes 0, 2 and 3, none for the others.");
  f.shows =
      "For each sample, Newton's method on F(y) = y(1 − y)(W y) = 0 (paper eq. 3) from its residual y(T') at the "
      "deepest layer. Left: max |F| at y(T') against max |F| at the point Newton reached (converged: at most the "
      "tolerance). Right: the largest real part of J's eigenvalues at each converged sample's fixed point "
      "(spread sideways within its class); above zero, the point is unstable. The spectra figure's class-mean "
      "points are class means, not fixed points.";
  const std::string file = file_in(layout::spectrum_shared, spectrum::fixed_points);
  if (!context.require(f, {file, summary_of(layout::spectrum_shared)})) return f;
  const output::CsvTable& table = *context.runs().csv(file);
  const std::size_t start = table.column("start_residual"), reached = table.column("residual"),
                    converged = table.column("converged"), largest = table.column(spectrum::key::largest_real);
  std::vector<double> start_log, reached_log, jitter, real;
  std::vector<std::size_t> classes, converged_classes;
  std::size_t count = 0;
  std::vector<int> seen;
  for (std::size_t r = 0; r < table.rows(); ++r) {
    const std::size_t label = std::size_t(class_of(table, r));
    count = std::max(count, label + 1);
    seen.resize(count, 0);
    classes.push_back(label);
    // A residual of exactly 0 is drawn at 1e-18, below anything rounding leaves.
    start_log.push_back(std::log10(std::max(table.number(r, start), 1e-18)));
    reached_log.push_back(std::log10(std::max(table.number(r, reached), 1e-18)));
    if (table.number(r, converged) != 1) continue;
    converged_classes.push_back(label);
    jitter.push_back(double(label) + 0.6 * (double(seen[label]++ % 25) / 24.0 - 0.5));
    real.push_back(table.number(r, largest));
  }
  if (classes.empty()) throw Error(table.source() + ": no samples");
  const double tolerance =
      summary_number(context.runs().summary(layout::spectrum_shared)->find(spectrum::key::fixed_points), "tolerance");
  plot::PanelGrid grid(f.title, 2, 560, 440);
  grid.add(plot::ScatterPlot(
      plot::ChartText("residual before and after Newton", "log10 max |F| at y(T')", "log10 max |F| reached"), start_log,
      reached_log, classes, class_names(count)));
  if (!real.empty())
    grid.add(plot::ScatterPlot(
        plot::ChartText("largest real part of J at each sample's fixed point", "class", "largest real part (1/layer)"),
        jitter, real, converged_classes, class_names(count)));
  context.save(f, grid);
  context.use(f, file);
  f.shows += " Tolerance: max |F| <= " + number_text(tolerance) + ".";
  return f;
}

Figure figure_sensitivity(FigureContext& context) {
  Figure f = FigureContext::start(
      "sensitivity", "Sensitivity of the output to perturbations of each layer's residuals",
      "Appendix A: for T = 15, det M'(4) is orders of magnitude larger than det M'(10): perturbations of the early "
      "layers are amplified far more by the time they reach the final hidden layer.");
  f.shows =
      "Left: log10|det M'(s)|, M'(s) = (I + M(T)) … (I + M(s)), M(t) = diag(y(t)(1 − y(t))) W_t, summed from "
      "per-factor log-determinants, mean over each class's samples ± standard deviation (paper eq. 10). Right: the "
      "measured change of the logits ||Δ logits|| after adding a small random perturbation to y(s).";
  const std::vector<std::pair<std::string, std::string>> runs = {{layout::sensitivity_shared, "shared ResNet"},
                                                                 {layout::sensitivity_per_layer, "per-layer ResNet"}};
  std::vector<std::string> files;
  for (const auto& run : runs) files.push_back(file_in(run.first, sensitivity::curves));
  context.require(f, files);
  if (!context.any(files)) return f;
  plot::PanelGrid grid(f.title, 2, 560, 420);
  std::string ratios;
  for (const auto& [dir, net] : runs) {
    const std::string file = file_in(dir, sensitivity::curves);
    const output::CsvTable* table = context.runs().csv(file);
    if (!table) continue;
    plot::LinePlot& det = grid.add(
        plot::LinePlot(plot::ChartText("log10|det M'(s)|, " + net, "perturbed layer s", "log10|det M'(s)| (1)")));
    plot::LinePlot& logits = grid.add(plot::LinePlot(plot::ChartText(
        "logit change after perturbing y(s), " + net, "perturbed layer s", "||Δ logits||_2 (logit units)")));
    logits.y_scale = plot::ScaleKind::log10;
    // A singular M'(s) has log10|det| = -inf: a gap in the curve, not a damaged file.
    const auto all = [](std::size_t) { return true; };
    const std::vector<ClassCurve> dets =
        class_curves(*table, sensitivity::column::layer, sensitivity::column::mean_log10_det,
                     sensitivity::column::std_log10_det, all, &output::CsvTable::number);
    const std::vector<ClassCurve> changes = class_curves(
        *table, sensitivity::column::layer, sensitivity::column::mean_logit_change, "", all, &output::CsvTable::number);
    det.markers = logits.markers = few_points(dets);
    for (const ClassCurve& c : dets) det.add(class_series(c, true));
    for (const ClassCurve& c : changes) logits.add(class_series(c, false));
    context.use(f, file);
    const output::JsonValue* summary = context.runs().summary(dir);
    ratios +=
        " " + net +
        ": log10|det M'(4)| − log10|det M'(10)| = " + summary_text(summary, sensitivity::key::log10_det_ratio_4_10) +
        ", logit change at 4 over that at 10 = " + summary_text(summary, sensitivity::key::logit_change_ratio_4_10) +
        "." + direction_error_text(summary);
  }
  context.save(f, grid);
  f.shows += ratios;
  return f;
}

}  // namespace resdyn::report
