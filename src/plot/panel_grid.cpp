#include "plot/panel_grid.h"

#include <algorithm>
#include <stdexcept>

namespace resdyn::plot {

namespace {

constexpr double title_height = 36;
constexpr double title_font_size = 17;

}  // namespace

PanelGrid::PanelGrid(std::string title, std::size_t columns, double panel_width, double panel_height)
    : title_(std::move(title)), columns_(columns), panel_width_(panel_width), panel_height_(panel_height) {
  if (title_.empty()) throw resdyn::Error("a panel grid needs a title");
  if (columns_ == 0) throw resdyn::Error("a panel grid needs at least one column");
  if (!(panel_width_ > 0) || !(panel_height_ > 0)) throw resdyn::Error("panel size must be positive");
}

std::string PanelGrid::svg() const {
  if (panels_.empty()) throw resdyn::Error("panel grid \"" + title_ + "\" has no panels");
  // A grid with fewer panels than columns is only as wide as its panels.
  const std::size_t columns = std::min(columns_, panels_.size());
  const std::size_t rows = (panels_.size() + columns - 1) / columns;
  SvgDocument doc(panel_width_ * static_cast<double>(columns),
                  title_height + panel_height_ * static_cast<double>(rows));
  doc.add_text(doc.width() / 2, title_height - 12, title_,
               {{"class", "grid-title"},
                {"text-anchor", "middle"},
                {"font-size", format_number(title_font_size, 0)},
                {"font-weight", "bold"}});
  for (std::size_t i = 0; i < panels_.size(); ++i) {
    const double x = panel_width_ * static_cast<double>(i % columns);
    const double y = title_height + panel_height_ * static_cast<double>(i / columns);
    panels_[i]->draw(doc, {x, y, panel_width_, panel_height_});
  }
  return doc.str();
}

void PanelGrid::save(const std::string& path) const { write_text_atomically(path, svg()); }

}  // namespace resdyn::plot
