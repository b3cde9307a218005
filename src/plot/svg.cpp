#include "plot/svg.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace resdyn::plot {

std::string format_number(double value, int decimals, TrailingZeros zeros) {
  // A non-finite coordinate would make the file unreadable; the plots filter them first.
  if (!std::isfinite(value)) throw resdyn::Error("non-finite number reached the SVG writer");
  char buffer[512];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed, decimals);
  if (result.ec != std::errc()) throw resdyn::Error("number too long for the SVG writer");
  std::string text(buffer, result.ptr);
  if (zeros == TrailingZeros::trim && text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  // A value that rounds to zero prints without its sign.
  if (text.find_first_not_of("-0.") == std::string::npos && text[0] == '-') text.erase(0, 1);
  return text;
}

std::string px(double value) { return format_number(value, 1); }

std::string escape_xml(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&apos;"; break;
      default:
        // XML 1.0 allows no control characters except tab, newline and carriage return.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        escaped += c;
    }
  }
  return escaped;
}

double text_width(std::string_view text, double font_size) {
  // Count code points, not bytes, so that UTF-8 superscripts count once.
  std::size_t characters = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++characters;
  }
  return 0.6 * font_size * static_cast<double>(characters);
}

SvgDocument::SvgDocument(double width, double height) : width_(width), height_(height) {
  if (!(width > 0) || !(height > 0)) throw resdyn::Error("SVG document size must be positive");
  add_rect({0, 0, width, height}, {{"fill", "#ffffff"}});
}

void SvgDocument::write_start_tag(std::string_view tag, const Attributes& attributes) {
  body_ += '<';
  body_ += tag;
  for (const auto& [name, value] : attributes) {
    body_ += " " + std::string(name) + "=\"" + escape_xml(value) + "\"";
  }
}

void SvgDocument::open(std::string_view tag, const Attributes& attributes) {
  write_start_tag(tag, attributes);
  body_ += ">\n";
  open_tags_.emplace_back(tag);
}

void SvgDocument::close() {
  if (open_tags_.empty()) throw std::logic_error("SvgDocument::close without a matching open");
  body_ += "</" + open_tags_.back() + ">\n";
  open_tags_.pop_back();
}

void SvgDocument::add(std::string_view tag, const Attributes& attributes) {
  write_start_tag(tag, attributes);
  body_ += "/>\n";
}

void SvgDocument::add_rect(const Box& box, const Attributes& attributes) {
  Attributes all = {{"x", px(box.x)}, {"y", px(box.y)}, {"width", px(box.width)}, {"height", px(box.height)}};
  all.insert(all.end(), attributes.begin(), attributes.end());
  add("rect", all);
}

void SvgDocument::add_text(double x, double y, std::string_view content, const Attributes& attributes) {
  Attributes all = {{"x", px(x)}, {"y", px(y)}};
  all.insert(all.end(), attributes.begin(), attributes.end());
  write_start_tag("text", all);
  body_ += '>';
  body_ += escape_xml(content);
  body_ += "</text>\n";
}

void SvgDocument::add_vertical_text(double x, double y, std::string_view content, Attributes attributes) {
  attributes.emplace_back("text-anchor", "middle");
  attributes.emplace_back("transform", "rotate(-90 " + px(x) + " " + px(y) + ")");
  add_text(x, y, content, attributes);
}

void SvgDocument::add_dots(const std::vector<Point>& centres, const std::string& colour, double diameter,
                           std::string_view css_class) {
  // A zero-length subpath with round caps draws a dot; about 12 bytes per point
  // instead of 40 for a <circle>, which matters for scatter plots of 10,000 points.
  if (centres.empty()) return;
  std::string path_data;
  path_data.reserve(centres.size() * 14);
  for (const Point& p : centres) path_data += "M" + px(p.x) + " " + px(p.y) + "h0";
  add("path", {{"class", std::string(css_class)},
               {"d", path_data},
               {"stroke", colour},
               {"stroke-width", px(diameter)},
               {"stroke-linecap", "round"},
               {"fill", "none"}});
}

std::string SvgDocument::unique_id(std::string_view prefix) {
  return std::string(prefix) + "-" + std::to_string(++ids_issued_);
}

std::string SvgDocument::str() const {
  if (!open_tags_.empty()) throw std::logic_error("SVG element <" + open_tags_.back() + "> was never closed");
  const std::string w = px(width_);
  const std::string h = px(height_);
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
         w + "\" height=\"" + h + "\" viewBox=\"0 0 " + w + " " + h +
         "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n" + body_ + "</svg>\n";
}

}  // namespace resdyn::plot
