#include "report/paper_figures.h"

namespace resdyn::report {

std::vector<Figure> draw_all_figures(FigureContext& context) {
  Figure (*const builders[])(FigureContext&) = {
      figure_1a, figure_1b,      figure_1c,           figure_1d,          figure_2a,      figure_2b,
      figure_2c, figure_3a,      figure_3b,           figure_4a,          figure_4b,      figure_noise_error,
      figure_5a, figure_5b,      figure_5c,           figure_5d,          figure_6a,      figure_6b,
      figure_6c, figure_spectra, figure_fixed_points, figure_sensitivity, figure_pruning, figure_training,
  };
  std::vector<Figure> figures;
  for (auto build : builders) figures.push_back(build(context));
  return figures;
}

}  // namespace resdyn::report
