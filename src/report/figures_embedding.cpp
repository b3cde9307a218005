// Figures drawn from `resdyn embed` runs (experiments/embed_experiment.h): 1D and 6A, the
// ResNet beside the MLP.
#include <algorithm>
#include <utility>

#include "experiments/run_file_names.h"
#include "plot/panel_grid.h"
#include "plot/scatter.h"
#include "report/figure_parts.h"
#include "report/paper_figures.h"
#include "report/runs_layout.h"

namespace resdyn::report {

namespace {

namespace embed = run_files::embed;

// One scatter panel per run present (ResNet first, then the MLP), points coloured by class.
Figure embeddings(FigureContext& context, Figure f, const std::string& method, const std::string& resnet_run,
                  const std::string& mlp_run) {
  const std::vector<std::pair<std::string, std::string>> runs = {{resnet_run, "shared-weight ResNet"},
                                                                 {mlp_run, "MLP"}};
  std::vector<std::string> files;
  for (const auto& run : runs) files.push_back(file_in(run.first, embed::embedding));
  context.require(f, files);
  if (!context.any(files)) return f;
  plot::PanelGrid grid(f.title, 2, 560, 500);
  std::string quality;
  for (const auto& [dir, net] : runs) {
    const std::string file = file_in(dir, embed::embedding);
    const output::CsvTable* table = context.runs().csv(file);
    if (!table) continue;
    const std::vector<double> x = table->numbers(embed::column::x), y = table->numbers(embed::column::y);
    std::vector<std::size_t> classes;
    std::size_t count = 0;
    for (std::size_t r = 0; r < table->rows(); ++r) {
      classes.push_back(std::size_t(class_of(*table, r)));
      count = std::max(count, classes.back() + 1);
    }
    const std::string axis = method == "tsne" ? "t-SNE" : "UMAP";
    grid.add(plot::ScatterPlot(plot::ChartText(net + ", " + std::to_string(table->rows()) + " test samples",
                                               axis + " 1 (arbitrary units)", axis + " 2 (arbitrary units)"),
                               x, y, classes, class_names(count)));
    context.use(f, file);
    const output::JsonValue* summary = context.runs().summary(dir);
    quality += " " + net + ": 10-NN class agreement " + summary_text(summary, embed::key::knn10_agreement) +
               ", trustworthiness " + summary_text(summary, embed::key::trustworthiness) + ".";
  }
  context.save(f, grid);
  f.shows += " Quality in 2-D (1 is best):" + quality + " Coordinates themselves carry no meaning.";
  return f;
}

}  // namespace

Figure figure_1d(FigureContext& context) {
  Figure f = FigureContext::start(
      "1D", "t-SNE of the final cumulative signal",
      "Workshop paper, fig. 1D: t-SNE of the cumulative signal x(T) at the final hidden layer: the classes map to "
      "separate clusters.");
  f.shows =
      "t-SNE (perplexity 30) of x(T) of the ResNet and of h(T) of the MLP, the first samples of each class of "
      "the test set, coloured by class.";
  return embeddings(context, std::move(f), "tsne", layout::tsne_final_resnet, layout::tsne_final_mlp);
}

Figure figure_6a(FigureContext& context) {
  Figure f = FigureContext::start(
      "6A", "UMAP of the residual trajectories",
      "Fig. 6A (appendix C): mapped to 2-D by UMAP, the transient dynamics of the residuals of different classes form "
      "well-separated clusters.");
  f.shows =
      "UMAP (15 neighbours, min_dist 0.1) of each sample's trajectory y(1..T) concatenated (h(1..T) for the MLP), "
      "coloured by class.";
  return embeddings(context, std::move(f), "umap", layout::umap_trajectory_resnet, layout::umap_trajectory_mlp);
}

}  // namespace resdyn::report
