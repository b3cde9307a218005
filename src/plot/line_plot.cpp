#include "plot/line_plot.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "plot/palette.h"

namespace resdyn::plot {

namespace {

constexpr double line_width = 1.8;
constexpr double marker_diameter = 5;
constexpr double band_opacity = 0.18;

// Path data for lines broken at missing points. It skips a vertex within half a pixel
// of the one before, which no one can see; a 1000-layer series on a log axis would
// otherwise pile up hundreds of vertices in its last few pixels.
class PathData {
 public:
  // Continues the current piece to p, or starts a new piece after a break.
  void to(Point p) {
    if (!broken_ && std::abs(p.x - last_.x) < 0.5 && std::abs(p.y - last_.y) < 0.5) return;
    data_ += (broken_ ? "M" : "L") + px(p.x) + " " + px(p.y);
    last_ = p;
    broken_ = false;
  }
  void break_line() { broken_ = true; }
  void close() {
    if (!broken_) data_ += 'Z';
    broken_ = true;
  }
  const std::string& str() const { return data_; }

 private:
  std::string data_;
  Point last_;
  bool broken_ = true;
};

// The axis kinds a plot's points must fit: a point off them is not drawn.
struct AxisKinds {
  ScaleKind x, y;

  bool drawn(const Series& s, std::size_t i) const { return placeable(x, s.x[i]) && placeable(y, s.y[i]); }
  bool in_band(const Series& s, std::size_t i) const {
    return drawn(s, i) && !s.spread.empty() && std::isfinite(s.spread[i]);
  }
};

// The range covered by every drawn point and band edge.
void data_ranges(const std::vector<Series>& series, const AxisKinds& kinds, Extent& x_range, Extent& y_range) {
  for (const Series& s : series) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!kinds.drawn(s, i)) continue;
      x_range.include(s.x[i]);
      y_range.include(s.y[i]);
      if (!kinds.in_band(s, i)) continue;
      for (double edge : {s.y[i] - s.spread[i], s.y[i] + s.spread[i]}) {
        if (placeable(kinds.y, edge)) y_range.include(edge);
      }
    }
  }
}

// The shaded band of one series, broken where its points are.
void draw_band(SvgDocument& doc, const Series& s, const AxisKinds& kinds, const XYAxes& axes) {
  const Scale& xs = axes.x.scale;
  const Scale& ys = axes.y.scale;
  // A band edge below a log axis (y - spread <= 0) is pinned to the bottom of the axis.
  const auto edge = [&ys](double v) { return ys.to_pixel(placeable(ys.kind, v) ? v : ys.lo); };
  PathData outline;
  std::vector<Point> lower_edge;
  // Each unbroken piece of band: along the upper edge, then back along the lower one.
  const auto close_piece = [&] {
    for (auto p = lower_edge.rbegin(); p != lower_edge.rend(); ++p) outline.to(*p);
    outline.close();
    lower_edge.clear();
  };
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    if (!kinds.in_band(s, i)) {
      close_piece();
      continue;
    }
    const double x = xs.to_pixel(s.x[i]);
    outline.to({x, edge(s.y[i] + s.spread[i])});
    lower_edge.push_back({x, edge(s.y[i] - s.spread[i])});
  }
  close_piece();
  doc.add("path", {{"class", "band"},
                   {"d", outline.str()},
                   {"fill", s.colour},
                   {"fill-opacity", format_number(band_opacity, 2)},
                   {"stroke", "none"}});
}

// The line of one series (with a dot on each point when `markers`).
void draw_line(SvgDocument& doc, const Series& s, const AxisKinds& kinds, const XYAxes& axes, bool markers) {
  PathData line;
  std::vector<Point> points;
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    if (!kinds.drawn(s, i)) {
      line.break_line();
      continue;
    }
    points.push_back({axes.x.scale.to_pixel(s.x[i]), axes.y.scale.to_pixel(s.y[i])});
    line.to(points.back());
  }
  doc.add("path", {{"class", "series"},
                   {"d", line.str()},
                   {"stroke", s.colour},
                   {"stroke-width", format_number(line_width, 1)},
                   {"stroke-linejoin", "round"},
                   {"fill", "none"}});
  if (markers) doc.add_dots(points, s.colour, marker_diameter, "markers");
}

}  // namespace

LinePlot& LinePlot::add(Series series) {
  const std::string where = "series \"" + series.name + "\" of \"" + text().title + "\"";
  if (series.x.empty()) throw resdyn::Error(where + " is empty");
  if (series.x.size() != series.y.size()) throw resdyn::Error(where + ": x and y differ in length");
  if (!series.spread.empty() && series.spread.size() != series.y.size())
    throw resdyn::Error(where + ": spread and y differ in length");
  if (series.colour.empty()) series.colour = categorical_colour(series_.size());
  series_.push_back(std::move(series));
  return *this;
}

void LinePlot::draw(SvgDocument& doc, const Box& region) const {
  if (series_.empty()) throw resdyn::Error("line plot \"" + text().title + "\" has no series");
  const AxisKinds kinds{x_scale, y_scale};
  Extent x_range, y_range;
  data_ranges(series_, kinds, x_range, y_range);
  std::vector<LegendEntry> legend;
  for (const Series& s : series_) legend.push_back({s.name, s.colour});

  doc.open("g", {{"class", "line-plot"}});
  Box available = draw_text(doc, region);
  available.width -= legend_width(legend) + 12;
  const XYAxes axes = layout_xy_axes(available, x_scale, x_range, y_scale, y_range);
  draw_xy_axes(doc, axes);
  // All bands before any line, so that no band veils another series' line.
  for (const Series& s : series_)
    if (!s.spread.empty()) draw_band(doc, s, kinds, axes);
  for (const Series& s : series_) draw_line(doc, s, kinds, axes, markers);
  draw_legend(doc, axes.plot.right() + 12, axes.plot.y, legend, LegendSwatch::line);
  doc.close();
}

}  // namespace resdyn::plot
