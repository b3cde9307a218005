#include "plot/chart.h"

#include <algorithm>

namespace resdyn::plot {

namespace {

constexpr double title_font_size = 15;
constexpr double label_font_size = 12;
constexpr double legend_font_size = 11;
constexpr double legend_row_height = 16;
constexpr double swatch_width = 18;
constexpr double padding = 8;

// The largest font size up to `preferred` at which `text` fits in `width`: long titles
// shrink instead of being cut off.
double fitting_font_size(const std::string& text, double width, double preferred) {
  const double needed = text_width(text, preferred);
  return needed <= width ? preferred : std::max(7.0, preferred * width / needed);
}

}  // namespace

ChartText::ChartText(std::string heading, std::string x_axis, std::string y_axis)
    : title(std::move(heading)), x_label(std::move(x_axis)), y_label(std::move(y_axis)) {
  if (title.empty() || x_label.empty() || y_label.empty())
    throw resdyn::Error("a chart needs a title and both axis labels");
}

std::string Chart::svg(double width, double height) const {
  SvgDocument doc(width, height);
  draw(doc, {0, 0, width, height});
  return doc.str();
}

void Chart::save(const std::string& path, double width, double height) const {
  write_text_atomically(path, svg(width, height));
}

Box Chart::draw_text(SvgDocument& doc, const Box& region) const {
  const double title_size = fitting_font_size(text_.title, region.width - 2 * padding, title_font_size);
  const double x_label_size = fitting_font_size(text_.x_label, region.width - 2 * padding, label_font_size);
  const double y_label_size = fitting_font_size(text_.y_label, region.height - 2 * padding, label_font_size);
  const double title_baseline = region.y + padding + title_size;
  doc.add_text(region.centre_x(), title_baseline, text_.title,
               {{"class", "title"}, {"text-anchor", "middle"}, {"font-size", px(title_size)}, {"font-weight", "bold"}});
  doc.add_text(region.centre_x(), region.bottom() - padding, text_.x_label,
               {{"class", "x-label"}, {"text-anchor", "middle"}, {"font-size", px(x_label_size)}});
  const double y_label_x = region.x + padding + y_label_size;
  doc.add_vertical_text(y_label_x, region.centre_y(), text_.y_label,
                        {{"class", "y-label"}, {"font-size", px(y_label_size)}});
  Box inner;
  inner.x = y_label_x + padding;
  inner.y = title_baseline + padding + 4;
  inner.width = region.right() - padding - inner.x;
  inner.height = region.bottom() - padding - x_label_size - padding - inner.y;
  if (inner.width < 40 || inner.height < 40) throw resdyn::Error("chart region too small for its text");
  return inner;
}

double legend_width(const std::vector<LegendEntry>& entries) {
  double widest = 0;
  for (const LegendEntry& e : entries) widest = std::max(widest, text_width(e.name, legend_font_size));
  return swatch_width + 6 + widest;
}

void draw_legend(SvgDocument& doc, double x, double y, const std::vector<LegendEntry>& entries, LegendSwatch swatch) {
  doc.open("g", {{"class", "legend"}, {"font-size", px(legend_font_size)}, {"fill", "#222222"}});
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const double centre_y = y + legend_row_height * (static_cast<double>(i) + 0.5);
    if (swatch == LegendSwatch::line) {
      doc.add("path", {{"class", "swatch"},
                       {"d", "M" + px(x) + " " + px(centre_y) + "h" + px(swatch_width)},
                       {"stroke", entries[i].colour},
                       {"stroke-width", "2.5"}});
    } else {
      doc.add_dots({{x + swatch_width / 2, centre_y}}, entries[i].colour, 8, "swatch");
    }
    doc.add_text(x + swatch_width + 6, centred_baseline(centre_y, legend_font_size), entries[i].name, {});
  }
  doc.close();
}

}  // namespace resdyn::plot
