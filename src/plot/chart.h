// What every chart shares: a title and axis labels that cannot be left out, a way
// to be drawn into part of a document (for panel grids) or as a file of its own,
// and the legend.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "plot/svg.h"

namespace resdyn::plot {

// The wording of a chart. Axis labels should carry units, e.g. "noise amplitude a (pixel units)".
// Throws resdyn::Error if any of the three is empty.
struct ChartText {
  ChartText(std::string title, std::string x_label, std::string y_label);
  std::string title;
  std::string x_label;
  std::string y_label;
};

class Chart {
 public:
  explicit Chart(ChartText text) : text_(std::move(text)) {}
  virtual ~Chart() = default;

  // Draws the whole chart, title and labels included, inside `region` of `doc`.
  virtual void draw(SvgDocument& doc, const Box& region) const = 0;

  // The chart alone as a complete SVG document, and the same written to `path`.
  std::string svg(double width = 640, double height = 440) const;
  void save(const std::string& path, double width = 640, double height = 440) const;

  const ChartText& text() const { return text_; }

 protected:
  // Draws the title above and the axis labels below and left of `region`; returns the
  // box that is left for tick labels, data and legend.
  Box draw_text(SvgDocument& doc, const Box& region) const;

 private:
  ChartText text_;
};

struct LegendEntry {
  std::string name;
  std::string colour;
};

enum class LegendSwatch { line, dot };

// Width a legend of these entries needs.
double legend_width(const std::vector<LegendEntry>& entries);
// A legend of one row per entry with its top-left corner at (x, y).
void draw_legend(SvgDocument& doc, double x, double y, const std::vector<LegendEntry>& entries, LegendSwatch swatch);

}  // namespace resdyn::plot
