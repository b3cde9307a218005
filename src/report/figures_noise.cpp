// Figures drawn from `resdyn noise` runs (experiments/noise_experiment.h): 4A, 4B and the
// test error behind a10.
#include <utility>

#include "experiments/run_file_names.h"
#include "plot/line_plot.h"
#include "report/figure_parts.h"
#include "report/number_text.h"
#include "report/paper_figures.h"
#include "report/runs_layout.h"

namespace resdyn::report {

namespace {

namespace noise = run_files::noise;

const std::vector<std::pair<std::string, std::string>>& noise_runs() {
  static const std::vector<std::pair<std::string, std::string>> runs = {{layout::noise_shared, "shared ResNet"},
                                                                        {layout::noise_per_layer, "per-layer ResNet"},
                                                                        {layout::noise_mlp, "MLP"}};
  return runs;
}

// One line per model (with its ± std band over the realizations) of a noise.csv measure
// against the amplitude, on a log amplitude axis.
Figure noise_curves(FigureContext& context, Figure f, const std::string& measure, const std::string& y_label,
                    plot::ScaleKind y_scale, double y_factor) {
  std::vector<std::string> files;
  for (const auto& run : noise_runs()) files.push_back(file_in(run.first, noise::curve));
  context.require(f, files);
  if (!context.any(files)) return f;
  plot::LinePlot plot(
      plot::ChartText(f.title, "noise amplitude a (noise uniform in (-a, a), activation units)", y_label));
  plot.x_scale = plot::ScaleKind::log10;
  plot.y_scale = y_scale;
  plot.markers = true;
  std::string a10;
  for (const auto& [dir, net] : noise_runs()) {
    const std::string file = file_in(dir, noise::curve);
    const output::CsvTable* table = context.runs().csv(file);
    if (!table) continue;
    plot::Series series{net, table->numbers(noise::column::amplitude),
                        table->numbers(measure + noise::column::mean_suffix),
                        table->numbers(measure + noise::column::std_suffix), ""};
    for (double& v : series.y) v *= y_factor;
    for (double& v : series.spread) v *= y_factor;
    plot.add(std::move(series));
    context.use(f, file);
    const output::JsonValue* summary = context.runs().summary(dir);
    a10 += " " + net + ": a10 = " + summary_text(summary, noise::key::a10) + ", clean error " +
           percent_text(summary_number(summary, noise::key::clean_error)) +
           (ran_in_bf16(summary) ? ", bfloat16 products." : ".");
  }
  context.save(f, plot);
  f.shows +=
      " Shaded: ± one standard deviation over the noise realizations. a10 = the smallest amplitude at which "
      "the error is 10 points above the clean error (none: never on the grid):" +
      a10;
  return f;
}

}  // namespace

Figure figure_4a(FigureContext& context) {
  Figure f = FigureContext::start(
      "4A", "Noise-to-signal ratio of the final hidden state against noise amplitude",
      "Fig. 4A: averaged over 10 noise realizations, below an amplitude of 0.1 the MLP has the smaller noise-to-signal "
      "ratio (it suppresses noise better); between 0.1 and 1 the MLP's ratio grows quickly, the ResNet's stays "
      "lower.");
  f.shows =
      "||x~(T) − x(T)|| / ||x(T)|| for the ResNets and ||h~(T) − h(T)|| / ||h(T)|| for the MLP, with uniform "
      "noise added to x(0), mean over the test images and realizations.";
  return noise_curves(context, std::move(f), noise::column::ratio, "noise-to-signal ratio (1)", plot::ScaleKind::log10,
                      1);
}

Figure figure_4b(FigureContext& context) {
  Figure f = FigureContext::start(
      "4B", "Cosine similarity of clean and noisy final hidden states",
      "Fig. 4B: for small noise the MLP keeps the larger cosine similarity; already at amplitude 0.1 the MLP "
      "misclassifies noisy inputs, the ResNet only above 0.5.");
  f.shows =
      "Cosine similarity between the clean and the noisy final hidden state, mean over the test images and "
      "realizations.";
  return noise_curves(context, std::move(f), noise::column::cosine, "cosine similarity (1)", plot::ScaleKind::linear,
                      1);
}

Figure figure_noise_error(FigureContext& context) {
  Figure f = FigureContext::start(
      "noise-error", "Test error under input noise",
      "Not a figure of the paper; its text (§6): the MLP misclassifies from a maximum amplitude of 0.1, the ResNet "
      "only at amplitudes above 0.5.");
  f.shows = "Test error on noisy inputs, mean over the realizations.";
  return noise_curves(context, std::move(f), noise::column::error, "test error (%)", plot::ScaleKind::linear, 100);
}

}  // namespace resdyn::report
