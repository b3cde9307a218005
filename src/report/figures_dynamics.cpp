// Figures drawn from `resdyn dynamics` runs (defined in experiments/dynamics_experiment.h):
// 1A–C, 2A–C, 3A–B, 5A–D, 6B–C.
#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "experiments/run_file_names.h"
#include "plot/heatmap.h"
#include "plot/line_plot.h"
#include "plot/palette.h"
#include "plot/panel_grid.h"
#include "report/figure_parts.h"
#include "report/number_text.h"
#include "report/paper_figures.h"
#include "report/runs_layout.h"

namespace resdyn::report {

namespace {

using plot::ChartText;
namespace dynamics = run_files::dynamics;
namespace column = run_files::dynamics::column;

// The first of the run directories that has `file`, else the first (to be reported missing).
// Drawing from a fallback records the preferred run as missing, so the page says how to make it.
std::string first_run_with(FigureContext& context, Figure& f, const std::vector<std::string>& dirs,
                           const std::string& file) {
  for (const std::string& dir : dirs) {
    if (!context.runs().exists(file_in(dir, file))) continue;
    if (dir != dirs.front()) context.require(f, {file_in(dirs.front(), file)});
    return dir;
  }
  return dirs.front();
}

// When the transient ends: the first layer at which every class's spread is below 1e-3.
std::string quiet_layer_text(const output::JsonValue* summary) {
  const std::string layer = summary_text(summary, dynamics::key::first_layer_spread_below);
  if (layer == "none") return "Every class's spread is below 1e-3 from no layer on (it never settles that far).";
  return "First layer from which every class's spread stays below 1e-3: " + layer + ".";
}

// 1A and 1B: one statistic of trajectory_stats.csv per class over the layers.
Figure trajectory_statistic(FigureContext& context, Figure f, const std::string& value_column,
                            const std::string& y_label) {
  const std::string file = file_in(layout::dynamics_shared, dynamics::trajectory_stats);
  if (!context.require(f, {file})) return f;
  const std::vector<ClassCurve> curves = class_curves(*context.runs().csv(file), column::layer, value_column);
  plot::LinePlot plot(ChartText(f.title, "layer t", y_label));
  plot.x_scale = layer_scale(curves);
  plot.markers = few_points(curves);
  for (const ClassCurve& c : curves) plot.add(class_series(c, false));
  context.save(f, plot);
  context.use(f, file);
  const output::JsonValue* summary = context.runs().summary(layout::dynamics_shared);
  f.shows += " Run: " + run_facts(summary) + ". " + quiet_layer_text(summary);
  return f;
}

// 2A–C: mean ± spread per class, and the spread alone on a log axis where it decays.
Figure trajectories(FigureContext& context, Figure f, const std::vector<std::string>& dirs, const std::string& net,
                    const std::string& state) {
  const std::string dir = first_run_with(context, f, dirs, dynamics::trajectory_stats);
  const std::string file = file_in(dir, dynamics::trajectory_stats);
  if (!context.require(f, {file})) return f;
  const std::vector<ClassCurve> curves =
      class_curves(*context.runs().csv(file), column::layer, column::mean, column::spread);
  const output::JsonValue* summary = context.runs().summary(dir);
  plot::PanelGrid grid(f.title, 2, 560, 420);
  plot::LinePlot& mean =
      grid.add(plot::LinePlot(ChartText("mean_c(t) ± spread_c(t), " + net, "layer t", state + " (activation, 0..1)")));
  plot::LinePlot& spread = grid.add(plot::LinePlot(ChartText("spread_c(t), " + net + " (log axis; zeros not drawn)",
                                                             "layer t", "spread of " + state + " across samples")));
  mean.x_scale = spread.x_scale = layer_scale(curves);
  mean.markers = spread.markers = few_points(curves);
  spread.y_scale = plot::ScaleKind::log10;
  for (const ClassCurve& c : curves) {
    mean.add(class_series(c, true));
    ClassCurve s = c;
    s.y = c.spread;
    spread.add(class_series(s, false));
  }
  context.save(f, grid);
  context.use(f, file);
  f.shows = "Left: per class c, mean_c(t) = mean over the class's samples and all neurons of " + state +
            ", shaded ± spread_c(t) = mean over neurons of the standard deviation across samples. Right: "
            "spread_c(t) alone. Run " +
            dir + ": " + run_facts(summary) + ". " + quiet_layer_text(summary);
  return f;
}

// 3A and 3B: for each class c of inputs, the class-mean curve of every class's most
// sensitive neuron i_k = argmax_i K[k, i], y (3A) or x (3B).
Figure sensitive_neurons(FigureContext& context, Figure f, const std::string& value_column, const std::string& symbol) {
  const std::string file = file_in(layout::dynamics_shared, dynamics::sensitive_neurons);
  if (!context.require(f, {file})) return f;
  const output::CsvTable& table = *context.runs().csv(file);
  const std::size_t neuron_class = table.column(column::neuron_class), neuron = table.column(column::neuron);
  const std::size_t layer = table.column(column::layer), value = table.column(value_column);
  struct Curve {
    long neuron = 0;
    std::vector<double> x, y;
  };
  std::map<int, std::map<int, Curve>> panels;  // input class -> neuron's class -> curve
  for (std::size_t r = 0; r < table.rows(); ++r) {
    Curve& curve = panels[class_of(table, r)][int(table.integer(r, neuron_class, 0, kMaxClasses - 1))];
    curve.neuron = table.integer(r, neuron, 0, kMaxWidth);
    curve.x.push_back(table.number(r, layer));
    curve.y.push_back(table.number(r, value));
  }
  plot::PanelGrid grid(f.title, 3, 400, 330);
  for (const auto& [input_class, curves] : panels) {
    // The neuron whose curve ends highest: fig. 3's rule holds where it is i_c.
    int top = -1;
    for (const auto& [k, curve] : curves)
      if (top < 0 || curve.y.back() > curves.at(top).y.back()) top = k;
    // The rule is about x; the y panels only say whose inputs they show.
    std::string title = "inputs of class " + std::to_string(input_class);
    if (symbol == "x")
      title += ": top x(T) is i_" + std::to_string(top) + (top == input_class ? " (rule holds)" : " (rule fails)");
    plot::LinePlot& panel = grid.add(plot::LinePlot(ChartText(title, "layer t", "class mean of " + symbol + "_i(t)")));
    panel.markers = curves.begin()->second.x.size() <= 30;
    for (const auto& [k, curve] : curves)
      panel.add({"i_" + std::to_string(k) + " = " + std::to_string(curve.neuron),
                 curve.x,
                 curve.y,
                 {},
                 plot::categorical_colour(std::size_t(k))});
  }
  context.save(f, grid);
  context.use(f, file);
  const output::JsonValue* summary = context.runs().summary(layout::dynamics_shared);
  f.shows = "One panel per class c of inputs; in it, the class-mean " + symbol +
            "_i(t) of each class's most sensitive neuron i_k = argmax_i K[k, i] (legend: i_k = neuron index), coloured "
            "by k. The paper's rule holds for class c when i_c ends highest. Classes for which it holds: " +
            summary_text(summary, dynamics::key::sensitive_neuron_rule_classes) + " of 10. Run: " + run_facts(summary) +
            ".";
  return f;
}

// 5A–D: the final-layer profile as a class x neuron heatmap of the mean or the std.
Figure final_profile(FigureContext& context, Figure f, const std::vector<std::string>& dirs,
                     const std::string& value_column, const std::string& what) {
  const std::string dir = first_run_with(context, f, dirs, dynamics::final_profile);
  const std::string file = file_in(dir, dynamics::final_profile);
  if (!context.require(f, {file})) return f;
  const output::CsvTable& table = *context.runs().csv(file);
  const std::size_t neuron = table.column(column::neuron), value = table.column(value_column);
  std::vector<std::vector<double>> matrix;
  std::vector<std::string> rows;
  std::vector<int> labels;
  for (std::size_t r = 0; r < table.rows(); ++r) {
    const int label = class_of(table, r);
    const long i = table.integer(r, neuron, 0, kMaxWidth);
    if (labels.empty() || labels.back() != label) {
      if (!labels.empty() && label < labels.back())
        throw Error(table.source() + ":" + std::to_string(table.line(r)) + ": class " + std::to_string(label) +
                    " after class " + std::to_string(labels.back()) + " (rows must be grouped by class, ascending)");
      labels.push_back(label);
      rows.push_back("class " + std::to_string(label));
      matrix.emplace_back();
    }
    if (i != long(matrix.back().size()))
      throw Error(table.source() + ":" + std::to_string(table.line(r)) + ": neuron " + std::to_string(i) + " where " +
                  std::to_string(matrix.back().size()) + " belongs (neurons must run 0, 1, ... within each class)");
    matrix.back().push_back(table.number(r, value));
  }
  for (const auto& row : matrix)
    if (row.size() != matrix.front().size())
      throw Error(table.source() + ": classes have different numbers of neurons");
  const output::JsonValue* summary = context.runs().summary(dir);
  // An MLP's state is h, a ResNet's residual y.
  const std::string state = dir.find("mlp") != std::string::npos ? "h_i(T')" : "y_i(T')";
  plot::Heatmap heatmap(ChartText(f.title, "neuron i", "class of the inputs"), what + " of " + state, matrix);
  heatmap.row_labels = rows;
  if (value_column == column::mean) heatmap.value_range = std::pair{0.0, 1.0};
  context.save(f, heatmap, 1160, 330);
  context.use(f, file);
  f.shows = "Rows: classes; columns: neurons; colour: the " + what + " over the class's samples of " + state +
            " at the deepest layer T'. Run " + dir + ": " + run_facts(summary) + ".";
  return f;
}

// 1C, 6B, 6C: a class-by-class matrix with its value in every cell.
Figure class_matrix_figure(FigureContext& context, Figure f, const std::string& dir, const std::string& name,
                           const std::string& value_label) {
  const std::string file = file_in(dir, name);
  if (!context.require(f, {file})) return f;
  const ClassMatrix m = class_matrix(*context.runs().csv(file));
  double largest = 0;
  for (const auto& row : m.values)
    for (double v : row)
      if (std::isfinite(v)) largest = std::max(largest, std::fabs(v));
  plot::Heatmap heatmap(ChartText(f.title, "class k", "class c"), value_label, m.values);
  heatmap.row_labels = heatmap.column_labels = m.labels;
  heatmap.cell_label_decimals = largest >= 100 ? 0 : largest >= 10 ? 1 : 2;
  context.save(f, heatmap, 640, 540);
  context.use(f, file);
  return f;
}

}  // namespace

Figure figure_1a(FigureContext& context) {
  Figure f = FigureContext::start("1A", "Mean residual per class over the layers, shared-weight ResNet",
                                  "Workshop paper, fig. 1A: the mean of the residuals of 200 samples of each class "
                                  "against depth changes fast in the "
                                  "first layers and hardly after the 6th.");
  f.shows = "mean_c(t): mean over the class's samples and all neurons of the residual y_i(t) at layer t.";
  return trajectory_statistic(context, std::move(f), column::mean, "mean_c(t) of y_i(t) (activation, 0..1)");
}

Figure figure_1b(FigureContext& context) {
  Figure f = FigureContext::start(
      "1B", "Spread of the residuals per class over the layers, shared-weight ResNet",
      "Workshop paper, fig. 1B: the standard deviation of the residuals approaches zero after the first layers: the "
      "trajectories of different samples converge to the same fixed point.");
  f.shows = "spread_c(t): mean over neurons of the standard deviation across the class's samples of y_i(t).";
  return trajectory_statistic(context, std::move(f), column::spread, "spread_c(t) of y_i(t) (activation)");
}

Figure figure_1c(FigureContext& context) {
  Figure f = FigureContext::start(
      "1C", "Distances between residual trajectories, by class",
      "Workshop paper, fig. 1C: trajectories within a class have a smaller l2 distance than trajectories of samples "
      "from different classes (200 samples per class).");
  f.shows =
      "D[c][k] = mean l2 distance between the trajectories (y(1..T) concatenated) of a class-c and a class-k "
      "sample, over all pairs of distinct samples.";
  f = class_matrix_figure(context, std::move(f), layout::dynamics_shared, dynamics::distance_matrix,
                          "mean l2 distance");
  if (f.svg.empty()) return f;
  const output::JsonValue* summary = context.runs().summary(layout::dynamics_shared);
  f.shows +=
      " Rows whose diagonal entry is the row minimum: " + summary_text(summary, dynamics::key::distance_diag_min_rows) +
      " of 10. Run: " + run_facts(summary) + ".";
  return f;
}

Figure figure_2a(FigureContext& context) {
  Figure f = FigureContext::start(
      "2A", "Residuals of the shared-weight ResNet run for 1000 layers",
      "Fig. 2A: mean and standard deviation of the residuals of all 10 classes when the 15-layer shared-weight net is "
      "run for 1000 layers without retraining: a few non-zero fixed points, negligible standard deviation; the stable "
      "residuals are sparse.");
  return trajectories(context, std::move(f), {layout::dynamics_shared_unrolled, layout::dynamics_shared},
                      "shared ResNet", "residual y_i(t)");
}

Figure figure_2b(FigureContext& context) {
  Figure f = FigureContext::start(
      "2B", "Residuals of the per-layer ResNet",
      "Fig. 2B: the 15-layer ResNet with a weight matrix per layer has more residuals at their maximum; their standard "
      "deviation is zero after the 4th layer: no transient dynamics in the later layers.");
  return trajectories(context, std::move(f), {layout::dynamics_per_layer}, "per-layer ResNet", "residual y_i(t)");
}

Figure figure_2c(FigureContext& context) {
  Figure f = FigureContext::start(
      "2C", "Hidden states of the MLP",
      "Fig. 2C: the MLP's dynamics are oscillatory, with no convergence by layer 1000, and the standard deviation "
      "within a class is high.");
  return trajectories(context, std::move(f), {layout::dynamics_mlp_unrolled, layout::dynamics_mlp}, "MLP",
                      "hidden state h_i(t)");
}

Figure figure_3a(FigureContext& context) {
  Figure f = FigureContext::start(
      "3A", "Residuals of the most class-sensitive neurons, shared-weight ResNet",
      "Fig. 3A: the class-mean residuals of the neurons with the largest classifier weight for each class.");
  return sensitive_neurons(context, std::move(f), column::mean_y, "y");
}

Figure figure_3b(FigureContext& context) {
  Figure f = FigureContext::start("3B", "Cumulative signals of the most class-sensitive neurons, shared-weight ResNet",
                                  "Fig. 3B: their cumulative signals x; for every class but 8, the neuron with the "
                                  "highest x at layer 15 is the one "
                                  "the class's classifier row weights most (9 of 10 classes).");
  return sensitive_neurons(context, std::move(f), column::mean_x, "x");
}

Figure figure_5a(FigureContext& context) {
  Figure f = FigureContext::start(
      "5A", "Final-layer mean residual per class and neuron, shared-weight ResNet",
      "Fig. 5A: at layer 1000 the mean of each class differs from the others in a few dimensions; a large number of "
      "dimensions are identical.");
  return final_profile(context, std::move(f), {layout::dynamics_shared_unrolled, layout::dynamics_shared}, column::mean,
                       "mean");
}

Figure figure_5b(FigureContext& context) {
  Figure f =
      FigureContext::start("5B", "Final-layer standard deviation per class and neuron, shared-weight ResNet",
                           "Fig. 5B: the standard deviation of the residuals within a class is small and negligible.");
  return final_profile(context, std::move(f), {layout::dynamics_shared_unrolled, layout::dynamics_shared},
                       column::stddev, "standard deviation");
}

Figure figure_5c(FigureContext& context) {
  Figure f = FigureContext::start("5C", "Final-layer mean hidden state per class and neuron, MLP",
                                  "Fig. 5C: the MLP's representations at layer 1000 are more diverse.");
  return final_profile(context, std::move(f), {layout::dynamics_mlp_unrolled, layout::dynamics_mlp}, column::mean,
                       "mean");
}

Figure figure_5d(FigureContext& context) {
  Figure f = FigureContext::start(
      "5D", "Final-layer standard deviation per class and neuron, MLP",
      "Fig. 5D: more variability within a class than in the ResNet; the MLP's activities do not settle (fig. 2C).");
  return final_profile(context, std::move(f), {layout::dynamics_mlp_unrolled, layout::dynamics_mlp}, column::stddev,
                       "standard deviation");
}

Figure figure_6b(FigureContext& context) {
  Figure f = FigureContext::start(
      "6B", "Cosine similarity of final hidden states, shared-weight ResNet",
      "Fig. 6B: average cosine similarity of the final hidden layers, 200 samples per class: in each row the diagonal "
      "entry is the largest.");
  f.shows =
      "C[c][k] = mean cosine similarity of x(T) between a class-c and a class-k sample, over pairs of distinct "
      "samples.";
  f = class_matrix_figure(context, std::move(f), layout::dynamics_shared, dynamics::cosine_matrix,
                          "mean cosine similarity");
  if (f.svg.empty()) return f;
  const output::JsonValue* summary = context.runs().summary(layout::dynamics_shared);
  f.shows +=
      " Rows whose diagonal is the row maximum: " + summary_text(summary, dynamics::key::cosine_diag_max_rows) +
      " of 10; contrast (mean diagonal − mean off-diagonal): " + summary_text(summary, dynamics::key::cosine_contrast) +
      ". Run: " + run_facts(summary) + ".";
  return f;
}

Figure figure_6c(FigureContext& context) {
  Figure f = FigureContext::start(
      "6C", "Cosine similarity of final hidden states, MLP",
      "Fig. 6C: for the MLP the same-class similarities are larger and the differences between classes more pronounced "
      "than in the ResNet: the MLP relies on the precise final hidden state.");
  f.shows = "C[c][k] as in 6B, of the MLP's final state h(T).";
  f = class_matrix_figure(context, std::move(f), layout::dynamics_mlp, dynamics::cosine_matrix,
                          "mean cosine similarity");
  if (f.svg.empty()) return f;
  const output::JsonValue* summary = context.runs().summary(layout::dynamics_mlp);
  f.shows += " Rows whose diagonal is the row maximum: " + summary_text(summary, dynamics::key::cosine_diag_max_rows) +
             " of 10; contrast: " + summary_text(summary, dynamics::key::cosine_contrast) + " (ResNet, 6B: " +
             summary_text(context.runs().summary(layout::dynamics_shared), dynamics::key::cosine_contrast) +
             "). Run: " + run_facts(summary) + ".";
  return f;
}

}  // namespace resdyn::report
