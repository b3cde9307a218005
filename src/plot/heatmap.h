// Heatmaps: a matrix drawn as coloured cells, with row and column labels, optional
// value labels in the cells, and a colour bar that says what the colours mean.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "plot/chart.h"
#include "plot/palette.h"

namespace resdyn::plot {

// Cells whose value is not finite are drawn grey and get no value label.
class Heatmap : public Chart {
 public:
  // values[row][column]; `value_label` names the colour bar, with units.
  // Throws resdyn::Error if the matrix is empty or ragged or value_label is empty.
  Heatmap(ChartText text, std::string value_label, std::vector<std::vector<double>> values);

  // Options, checked when drawn: a label count that differs from the matrix, or a value
  // range that is not finite with lo < hi, throws resdyn::Error.
  std::vector<std::string> row_labels;                   // empty: the indices 0, 1, 2, ...
  std::vector<std::string> column_labels;                // empty: the indices 0, 1, 2, ...
  Colormap colormap = Colormap::sequential;              // diverging makes the automatic range symmetric about 0
  std::optional<std::pair<double, double>> value_range;  // colour bar ends; outside values clamp
  std::optional<int> cell_label_decimals;                // value labels in the cells, if the cells are big enough

  void draw(SvgDocument& doc, const Box& region) const override;

 private:
  std::pair<double, double> colour_range() const;

  std::string value_label_;
  std::vector<std::vector<double>> values_;
};

}  // namespace resdyn::plot
