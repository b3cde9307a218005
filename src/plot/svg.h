// A minimal SVG document writer: elements, text, escaping and number formatting.
// Every number is written the same way on every machine and locale, so a plot of
// the same data is byte-for-byte the same file.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "resdyn.h"

namespace resdyn::plot {

// An axis-aligned rectangle in pixels; y grows downward as in SVG.
struct Box {
  double x = 0;
  double y = 0;
  double width = 0;
  double height = 0;
  double right() const { return x + width; }
  double bottom() const { return y + height; }
  double centre_x() const { return x + width / 2; }
  double centre_y() const { return y + height / 2; }
};

struct Point {
  double x = 0;
  double y = 0;
};

// Attribute names are literals in the code; values are escaped when written.
using Attributes = std::vector<std::pair<std::string_view, std::string>>;

enum class TrailingZeros { trim, keep };

// Fixed-point text with `decimals` decimals, by default with trailing zeros removed;
// "-0" is written as "0". Independent of the C and C++ locales.
std::string format_number(double value, int decimals, TrailingZeros zeros = TrailingZeros::trim);

// A pixel coordinate; a tenth of a pixel is below what any screen shows.
std::string px(double value);

// Escapes & < > " ' and drops characters XML 1.0 forbids (control characters).
std::string escape_xml(std::string_view text);

// The baseline that centres a line of text of `font_size` vertically on `centre_y`
// (digits and capitals reach about 0.7 of the font size above the baseline).
inline double centred_baseline(double centre_y, double font_size) { return centre_y + 0.35 * font_size; }

// Rough rendered width of `text` in a sans-serif font; used only for layout.
double text_width(std::string_view text, double font_size);

class SvgDocument {
 public:
  // A width x height document with a viewBox and a white background.
  SvgDocument(double width, double height);

  // Opens an element that later elements nest in, until close().
  void open(std::string_view tag, const Attributes& attributes);
  void close();
  // A childless element, e.g. <path .../>.
  void add(std::string_view tag, const Attributes& attributes);
  void add_rect(const Box& box, const Attributes& attributes);
  // A <text> element at (x, y) with escaped content.
  void add_text(double x, double y, std::string_view content, const Attributes& attributes);
  // Text reading upward, centred on (x, y), for labels beside vertical axes.
  void add_vertical_text(double x, double y, std::string_view content, Attributes attributes);
  // Round dots of the given diameter at each point, in one <path> with class `css_class`;
  // nothing at all when there are no points.
  void add_dots(const std::vector<Point>& centres, const std::string& colour, double diameter,
                std::string_view css_class);

  // An id not used before in this document (for gradients and clip paths).
  std::string unique_id(std::string_view prefix);

  double width() const { return width_; }
  double height() const { return height_; }

  // The complete document; throws std::logic_error if an open() was not closed.
  std::string str() const;

 private:
  void write_start_tag(std::string_view tag, const Attributes& attributes);

  double width_;
  double height_;
  std::string body_;
  std::vector<std::string> open_tags_;
  int ids_issued_ = 0;
};

}  // namespace resdyn::plot
