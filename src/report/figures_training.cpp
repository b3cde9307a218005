// Figures drawn from the epoch logs `resdyn train` writes beside each model (MODEL.csv):
// the training of the compared nets, and the adaptive depth of paper §7.
#include <utility>

#include "experiments/run_file_names.h"
#include "output/csv_reader.h"
#include "plot/line_plot.h"
#include "plot/palette.h"
#include "plot/panel_grid.h"
#include "report/figure_parts.h"
#include "report/number_text.h"
#include "report/paper_figures.h"
#include "report/runs_layout.h"

namespace resdyn::report {

namespace {

namespace log_column = run_files::epoch_log;

struct LoggedModel {
  std::string model;  // relative to RUNS
  std::string name;   // legend
};

// For each (column, panel): one line per logged model present; the models' logs are linked.
void epoch_panels(FigureContext& context, Figure& f, const std::vector<LoggedModel>& models,
                  const std::vector<std::pair<std::string, plot::LinePlot*>>& panels) {
  for (std::size_t m = 0; m < models.size(); ++m) {
    const std::string log = epoch_log(models[m].model);
    const output::CsvTable* table = context.runs().csv(log);
    if (!table) continue;
    for (const auto& [column, panel] : panels) {
      if (!table->has_column(column)) continue;  // logs from before adaptive depth have no d or depth
      plot::Series series{
          models[m].name, table->numbers(log_column::epoch), table->numbers(column), {}, plot::categorical_colour(m)};
      if (column == log_column::test_error)
        for (double& v : series.y) v *= 100;
      panel->add(std::move(series));
    }
    context.use(f, log);  // links the log and says how the model was trained
  }
}

}  // namespace

Figure figure_training(FigureContext& context) {
  Figure f = FigureContext::start(
      "training", "Training of the compared networks",
      "§6: the shared-weight 15 x 1064 ResNet reaches 1.4 % test error on MNIST, the per-layer one about 1.8 %.");
  f.shows =
      "Per epoch, as logged by resdyn train (MODEL.csv): test error on the 10,000 test images and mean training "
      "loss.";
  const std::vector<LoggedModel> models = {{layout::shared_model, "shared ResNet"},
                                           {layout::per_layer_model, "per-layer ResNet"},
                                           {layout::mlp_model, "MLP"}};
  std::vector<std::string> logs;
  for (const LoggedModel& m : models) logs.push_back(epoch_log(m.model));
  context.require(f, logs);
  if (!context.any(logs)) return f;
  plot::PanelGrid grid(f.title, 2, 560, 400);
  plot::LinePlot& error = grid.add(plot::LinePlot(plot::ChartText("test error", "epoch", "test error (%)")));
  plot::LinePlot& loss = grid.add(plot::LinePlot(plot::ChartText("training loss", "epoch", "cross-entropy (nats)")));
  error.markers = loss.markers = true;
  error.y_scale = loss.y_scale = plot::ScaleKind::log10;
  epoch_panels(context, f, models, {{log_column::test_error, &error}, {log_column::train_loss, &loss}});
  context.save(f, grid);
  return f;
}

Figure figure_pruning(FigureContext& context) {
  Figure f = FigureContext::start(
      "pruning", "Adaptive depth during training",
      "§7: removing the last layer whenever mean |y(T) − y(T−1)| < 0.01, the per-layer ResNet shrank to 3 layers with "
      "1.7 % test error (like the 15-layer net), the shared-weight ResNet to 5 layers without any change in accuracy.");
  f.shows =
      "Per epoch: the depth, the convergence measure d = mean |y_i(T) − y_i(T−1)| on the probe set (paper §7) "
      "with the threshold (grey), and the test error, beside nets of the final depth trained from scratch.";
  const std::vector<LoggedModel> models = {{layout::pruned_shared_model, "shared, pruned"},
                                           {layout::pruned_per_layer_model, "per-layer, pruned"},
                                           {layout::fixed_shared_model, "shared, fixed depth"},
                                           {layout::fixed_per_layer_model, "per-layer, fixed depth"}};
  std::vector<std::string> logs;
  for (const LoggedModel& m : models) logs.push_back(epoch_log(m.model));
  context.require(f, logs);
  if (!context.any({logs[0], logs[1]})) return f;
  plot::PanelGrid grid(f.title, 3, 400, 360);
  plot::LinePlot& depth = grid.add(plot::LinePlot(plot::ChartText("depth", "epoch", "residual layers T")));
  plot::LinePlot& d = grid.add(plot::LinePlot(plot::ChartText("convergence d", "epoch", "mean |y(T) − y(T−1)|")));
  plot::LinePlot& error = grid.add(plot::LinePlot(plot::ChartText("test error", "epoch", "test error (%)")));
  depth.markers = d.markers = error.markers = true;
  d.y_scale = plot::ScaleKind::log10;
  epoch_panels(context, f, models,
               {{log_column::depth, &depth}, {log_column::convergence_d, &d}, {log_column::test_error, &error}});
  // The threshold the pruned runs used, read from their training command.
  for (const std::string model : {layout::pruned_shared_model, layout::pruned_per_layer_model}) {
    const ModelInfo* info = context.runs().model(model);
    double threshold = 0;
    if (!info || !output::parse_decimal(flag_value(info->meta(run_files::model_metadata::command), "prune-threshold"),
                                        threshold))
      continue;
    const output::CsvTable* log = context.runs().csv(epoch_log(model));
    if (!log || log->rows() == 0) continue;
    d.add({"threshold " + number_text(threshold),
           {1, log->numbers(log_column::epoch).back()},
           {threshold, threshold},
           {},
           "#888888"});
    break;
  }
  context.save(f, grid);
  std::string outcome;
  for (const LoggedModel& m : models) {
    const ModelInfo* info = context.runs().model(m.model);
    if (info)
      outcome += " " + m.name + ": depth " + std::to_string(info->config.depth) + ", test error " +
                 percent_text(info->test_error()) +
                 (info->meta(run_files::model_metadata::train_seconds).empty()
                      ? ""
                      : ", " + info->meta(run_files::model_metadata::train_seconds) + " s") +
                 ".";
  }
  f.shows += " Final:" + outcome;
  return f;
}

}  // namespace resdyn::report
