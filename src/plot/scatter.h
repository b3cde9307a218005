// Scatter plots of 2-D points (e.g. t-SNE or UMAP embeddings) coloured by class,
// with a legend; compact enough for tens of thousands of points.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "plot/chart.h"

namespace resdyn::plot {

// Points with a non-finite coordinate are left out.
class ScatterPlot : public Chart {
 public:
  // Point i is at (x[i], y[i]) and belongs to class classes[i], named class_names[classes[i]].
  // Throws resdyn::Error if there are no points, the lengths differ, or a class
  // index has no name.
  ScatterPlot(ChartText text, std::vector<double> x, std::vector<double> y, std::vector<std::size_t> classes,
              std::vector<std::string> class_names);

  void draw(SvgDocument& doc, const Box& region) const override;

 private:
  std::vector<double> x_;
  std::vector<double> y_;
  std::vector<std::size_t> classes_;
  std::vector<std::string> class_names_;
};

}  // namespace resdyn::plot
