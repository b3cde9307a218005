#include "plot/heatmap.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "plot/axis.h"

namespace resdyn::plot {

namespace {

constexpr double label_font_size = 11;
constexpr double gap = 6;
constexpr double bar_width = 14;
constexpr const char* missing_colour = "#bdbdbd";

std::vector<std::string> labels_or_indices(const std::vector<std::string>& labels, std::size_t count) {
  if (labels.size() == count) return labels;
  if (!labels.empty()) throw resdyn::Error("heatmap label count differs from the matrix size");
  std::vector<std::string> indices;
  for (std::size_t i = 0; i < count; ++i) indices.push_back(std::to_string(i));
  return indices;
}

double widest(const std::vector<std::string>& labels) {
  double width = 0;
  for (const std::string& label : labels) width = std::max(width, text_width(label, label_font_size));
  return width;
}

// Label every stride-th cell (1, 2, 5, 10, ...) so labels `extent` long don't collide on cells `cell` apart.
std::size_t label_stride(double extent, double cell) {
  return static_cast<std::size_t>(std::lround(nice_step(std::max(1.0, (extent + 3) / cell))));
}

// Ticks of a colour bar: the nice values inside [lo, hi], which itself is not widened.
std::vector<Tick> colour_bar_ticks(double lo, double hi) {
  const std::vector<double> nice = linear_ticks(lo, hi, 5);
  const double step = nice[1] - nice[0];
  std::vector<Tick> ticks;
  for (double v : nice) {
    if (v >= lo - 1e-9 * step && v <= hi + 1e-9 * step) ticks.push_back({v, 0, format_tick(v, step)});
  }
  return ticks;
}

// A gradient through the colormap in `bar`, lo at the bottom and hi at the top, with
// tick labels and the rotated value label to its right.
void draw_colour_bar(SvgDocument& doc, const Box& bar, Colormap map, double lo, double hi, std::vector<Tick> ticks,
                     const std::string& value_label) {
  doc.open("g", {{"class", "colour-bar"}, {"font-size", px(label_font_size)}, {"fill", "#333333"}});
  const std::string gradient_id = doc.unique_id("colour-bar");
  doc.open("linearGradient", {{"id", gradient_id}, {"x1", "0"}, {"y1", "1"}, {"x2", "0"}, {"y2", "0"}});
  for (int i = 0; i <= 16; ++i) {
    doc.add("stop", {{"offset", format_number(i / 16.0, 4)}, {"stop-color", colormap_colour(map, i / 16.0).hex()}});
  }
  doc.close();
  doc.add_rect(bar, {{"fill", "url(#" + gradient_id + ")"}, {"stroke", "#555555"}});
  for (Tick& t : ticks) {
    t.pixel = bar.bottom() - (t.value - lo) / (hi - lo) * bar.height;
    doc.add("path", {{"d", "M" + px(bar.right()) + " " + px(t.pixel) + "h4"}, {"stroke", "#555555"}});
    doc.add_text(bar.right() + 6, centred_baseline(t.pixel, label_font_size), t.label, {});
  }
  doc.add_vertical_text(bar.right() + 6 + widest_tick_label(ticks) + gap + 12, bar.centre_y(), value_label,
                        {{"font-size", "12"}});
  doc.close();
}

}  // namespace

Heatmap::Heatmap(ChartText text, std::string value_label, std::vector<std::vector<double>> values)
    : Chart(std::move(text)), value_label_(std::move(value_label)), values_(std::move(values)) {
  const std::string where = "heatmap \"" + this->text().title + "\"";
  if (value_label_.empty()) throw resdyn::Error(where + " needs a colour bar label");
  if (values_.empty() || values_[0].empty()) throw resdyn::Error(where + " has no cells");
  for (const auto& row : values_) {
    if (row.size() != values_[0].size()) throw resdyn::Error(where + " has rows of different lengths");
  }
}

std::pair<double, double> Heatmap::colour_range() const {
  if (value_range) {
    const auto [lo, hi] = *value_range;
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi))
      throw resdyn::Error("heatmap value range needs finite lo < hi");
    return *value_range;
  }
  Extent extent;
  for (const auto& row : values_) {
    for (double v : row) {
      if (std::isfinite(v)) extent.include(v);
    }
  }
  if (extent.empty()) return {0, 1};  // nothing finite: any range will do
  if (colormap == Colormap::diverging) {
    const double largest = std::max(std::abs(extent.lo), std::abs(extent.hi));
    return largest > 0 ? std::pair{-largest, largest} : std::pair{-1.0, 1.0};
  }
  // A constant matrix gets the middle colour rather than a division by zero.
  return extent.lo < extent.hi ? std::pair{extent.lo, extent.hi} : std::pair{extent.lo - 0.5, extent.hi + 0.5};
}

void Heatmap::draw(SvgDocument& doc, const Box& region) const {
  const std::size_t rows = values_.size();
  const std::size_t columns = values_[0].size();
  const std::vector<std::string> row_names = labels_or_indices(row_labels, rows);
  const std::vector<std::string> column_names = labels_or_indices(column_labels, columns);
  if (cell_label_decimals && *cell_label_decimals < 0) throw resdyn::Error("heatmap cell label decimals must be >= 0");
  const auto [lo, hi] = colour_range();
  const auto colour_of = [&, lo = lo, hi = hi](double v) { return colormap_colour(colormap, (v - lo) / (hi - lo)); };
  const auto cell_text = [this](double v) { return format_number(v, *cell_label_decimals, TrailingZeros::keep); };
  const std::vector<Tick> bar_ticks = colour_bar_ticks(lo, hi);

  doc.open("g", {{"class", "heatmap"}});
  const Box inner = draw_text(doc, region);
  // Room right of the cells: gap, bar, tick marks, tick labels, gap, rotated bar label.
  const double bar_room = 2 * gap + bar_width + 6 + widest_tick_label(bar_ticks) + gap + 16;
  Box grid{inner.x + widest(row_names) + gap, inner.y, 0, 0};
  double cell_width = (inner.right() - bar_room - grid.x) / static_cast<double>(columns);
  double cell_height = (inner.height - label_font_size - gap) / static_cast<double>(rows);
  if (cell_width <= 0 || cell_height <= 0) throw resdyn::Error("heatmap region too small");
  // Square cells unless that would waste more than half of either direction.
  if (std::max(cell_width, cell_height) <= 2 * std::min(cell_width, cell_height))
    cell_width = cell_height = std::min(cell_width, cell_height);
  grid.width = cell_width * static_cast<double>(columns);
  grid.height = cell_height * static_cast<double>(rows);
  const auto cell = [&](std::size_t r, std::size_t c) {
    return Box{grid.x + cell_width * static_cast<double>(c), grid.y + cell_height * static_cast<double>(r), cell_width,
               cell_height};
  };

  // crispEdges stops anti-aliasing from drawing hairline seams between neighbouring cells.
  doc.open("g", {{"class", "cells"}, {"shape-rendering", "crispEdges"}});
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < columns; ++c) {
      const double v = values_[r][c];
      doc.add_rect(cell(r, c), {{"fill", std::isfinite(v) ? colour_of(v).hex() : missing_colour}});
    }
  }
  doc.close();

  if (cell_label_decimals) {
    // One font size for all cell labels; if it would be below 7 px, no labels at all.
    double longest = 0;
    for (const auto& row : values_) {
      for (double v : row) {
        if (std::isfinite(v)) longest = std::max(longest, text_width(cell_text(v), 1));
      }
    }
    const double fitting_width = longest > 0 ? (cell_width - 3) / longest : label_font_size;
    const double font_size = std::min({label_font_size, 0.5 * cell_height, fitting_width});
    if (font_size >= 7) {
      doc.open("g", {{"class", "cell-labels"}, {"font-size", px(font_size)}, {"text-anchor", "middle"}});
      for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c = 0; c < columns; ++c) {
          const double v = values_[r][c];
          if (!std::isfinite(v)) continue;
          doc.add_text(cell(r, c).centre_x(), centred_baseline(cell(r, c).centre_y(), font_size), cell_text(v),
                       {{"fill", colour_of(v).luminance() < 0.35 ? "#ffffff" : "#000000"}});
        }
      }
      doc.close();
    }
  }

  doc.open("g", {{"class", "cell-axes"}, {"font-size", px(label_font_size)}, {"fill", "#333333"}});
  for (std::size_t r = 0; r < rows; r += label_stride(label_font_size, cell_height)) {
    doc.add_text(grid.x - 4, centred_baseline(cell(r, 0).centre_y(), label_font_size), row_names[r],
                 {{"text-anchor", "end"}});
  }
  for (std::size_t c = 0; c < columns; c += label_stride(widest(column_names), cell_width)) {
    doc.add_text(cell(0, c).centre_x(), grid.bottom() + 4 + label_font_size, column_names[c],
                 {{"text-anchor", "middle"}});
  }
  doc.close();
  draw_colour_bar(doc, {grid.right() + 2 * gap, grid.y, bar_width, grid.height}, colormap, lo, hi, bar_ticks,
                  value_label_);
  doc.close();
}

}  // namespace resdyn::plot
