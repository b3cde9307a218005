// Line plots: several series against a shared x axis, each optionally with a shaded
// band (e.g. mean ± one standard deviation), on linear or log10 axes, with a legend.
#pragma once

#include <string>
#include <vector>

#include "plot/axis.h"
#include "plot/chart.h"

namespace resdyn::plot {

struct Series {
  std::string name;  // shown in the legend
  std::vector<double> x;
  std::vector<double> y;
  std::vector<double> spread;  // optional: shades y - spread .. y + spread; empty for no band
  std::string colour;          // empty: the categorical colour of the series' position
};

// A point whose x or y is not finite (or not positive on a log axis) is left out and
// breaks the line there; the band breaks at the same points and at non-finite spreads.
// Band edges that fall outside a log axis are clipped to the axis.
class LinePlot : public Chart {
 public:
  explicit LinePlot(ChartText text) : Chart(std::move(text)) {}

  ScaleKind x_scale = ScaleKind::linear;
  ScaleKind y_scale = ScaleKind::linear;
  bool markers = false;  // a dot at every data point

  // Throws resdyn::Error if x is empty or x, y (and spread, when given) differ in length.
  LinePlot& add(Series series);

  // Throws resdyn::Error if no series was added.
  void draw(SvgDocument& doc, const Box& region) const override;

 private:
  std::vector<Series> series_;
};

}  // namespace resdyn::plot
