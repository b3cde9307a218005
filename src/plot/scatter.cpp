#include "plot/scatter.h"

#include <cmath>
#include <stdexcept>
#include <utility>

#include "plot/axis.h"
#include "plot/palette.h"

namespace resdyn::plot {

ScatterPlot::ScatterPlot(ChartText text, std::vector<double> x, std::vector<double> y, std::vector<std::size_t> classes,
                         std::vector<std::string> class_names)
    : Chart(std::move(text)),
      x_(std::move(x)),
      y_(std::move(y)),
      classes_(std::move(classes)),
      class_names_(std::move(class_names)) {
  const std::string where = "scatter plot \"" + this->text().title + "\"";
  if (x_.empty()) throw resdyn::Error(where + " has no points");
  if (x_.size() != y_.size() || x_.size() != classes_.size())
    throw resdyn::Error(where + ": x, y and classes differ in length");
  for (std::size_t c : classes_) {
    if (c >= class_names_.size()) throw resdyn::Error(where + ": class " + std::to_string(c) + " has no name");
  }
}

void ScatterPlot::draw(SvgDocument& doc, const Box& region) const {
  Extent x_extent, y_extent;
  for (std::size_t i = 0; i < x_.size(); ++i) {
    if (!std::isfinite(x_[i]) || !std::isfinite(y_[i])) continue;
    x_extent.include(x_[i]);
    y_extent.include(y_[i]);
  }
  std::vector<LegendEntry> legend;
  for (std::size_t c = 0; c < class_names_.size(); ++c) legend.push_back({class_names_[c], categorical_colour(c)});

  doc.open("g", {{"class", "scatter-plot"}});
  Box available = draw_text(doc, region);
  available.width -= legend_width(legend) + 12;
  const XYAxes axes = layout_xy_axes(available, ScaleKind::linear, x_extent, ScaleKind::linear, y_extent);
  draw_xy_axes(doc, axes);

  // Smaller dots as the cloud gets denser, so that clusters keep their shape.
  const double diameter = x_.size() > 5000 ? 2.5 : x_.size() > 1000 ? 3.5 : 5;
  std::vector<std::vector<Point>> by_class(class_names_.size());
  for (std::size_t i = 0; i < x_.size(); ++i) {
    if (!std::isfinite(x_[i]) || !std::isfinite(y_[i])) continue;
    by_class[classes_[i]].push_back({axes.x.scale.to_pixel(x_[i]), axes.y.scale.to_pixel(y_[i])});
  }
  // Translucent dots show where clusters overlap.
  doc.open("g", {{"stroke-opacity", "0.75"}});
  for (std::size_t c = 0; c < by_class.size(); ++c)
    doc.add_dots(by_class[c], categorical_colour(c), diameter, "points");
  doc.close();
  draw_legend(doc, axes.plot.right() + 12, axes.plot.y, legend, LegendSwatch::dot);
  doc.close();
}

}  // namespace resdyn::plot
