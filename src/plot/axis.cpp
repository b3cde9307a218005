#include "plot/axis.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace resdyn::plot {

namespace {

constexpr double tick_font_size = 11;
constexpr double tick_length = 5;
constexpr double label_gap = 3;
// Lets floor/ceil ignore rounding noise such as log10(0.001) = -2.9999999999999996.
constexpr double snap = 1e-9;

// "10" followed by the exponent in Unicode superscript digits, e.g. 10⁻³.
std::string decade_label(int exponent) {
  static const char* const digits[] = {"\u2070", "\u00B9", "\u00B2", "\u00B3", "\u2074",
                                       "\u2075", "\u2076", "\u2077", "\u2078", "\u2079"};
  std::string label = "10";
  if (exponent < 0) label += "\u207B";
  for (char c : std::to_string(std::abs(exponent))) label += digits[c - '0'];
  return label;
}

bool labels_overlap(const Axis& axis) {
  const Tick* previous = nullptr;
  for (const Tick& tick : axis.ticks) {
    if (tick.label.empty()) continue;
    if (previous != nullptr) {
      const double room = (text_width(previous->label, tick_font_size) + text_width(tick.label, tick_font_size)) / 2;
      if (std::abs(tick.pixel - previous->pixel) < room + 6) return true;
    }
    previous = &tick;
  }
  return false;
}

}  // namespace

double nice_step(double raw) {
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double factor : {1.0, 2.0, 5.0}) {
    if (factor * magnitude >= raw * (1 - snap)) return factor * magnitude;
  }
  return 10 * magnitude;
}

double Scale::to_pixel(double value) const {
  const bool log = kind == ScaleKind::log10;
  const double v = log ? std::log10(value) : value;
  const double from = log ? std::log10(lo) : lo;
  const double to = log ? std::log10(hi) : hi;
  // A span near the largest doubles overflows: then halve both sides first.
  if (!std::isfinite(to - from)) return pixel_lo + (v / 2 - from / 2) / (to / 2 - from / 2) * (pixel_hi - pixel_lo);
  return pixel_lo + (v - from) / (to - from) * (pixel_hi - pixel_lo);
}

bool placeable(ScaleKind kind, double value) {
  return std::isfinite(value) && (kind == ScaleKind::linear || value > 0);
}

std::vector<double> linear_ticks(double lo, double hi, int intervals) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi)
    throw resdyn::Error("axis range must be finite with lo <= hi");
  if (intervals < 1) throw resdyn::Error("an axis needs at least one tick interval");
  if (lo == hi) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  // (hi - lo) overflows for a range near the largest doubles: then divide first.
  double step = nice_step(std::isfinite(hi - lo) ? (hi - lo) / intervals : hi / intervals - lo / intervals);
  // Rounding the ends outward can add an interval; then take the next nice step.
  while (std::ceil(hi / step - snap) - std::floor(lo / step + snap) > intervals) step = nice_step(step * 1.5);
  if (!std::isfinite(step) || !std::isfinite(lo) || !std::isfinite(hi))
    throw resdyn::Error("axis range too large to divide into ticks");
  const double first = std::floor(lo / step + snap);
  const double last = std::ceil(hi / step - snap);
  std::vector<double> ticks;
  for (double k = first; k <= last; ++k) {
    // Multiplying, not accumulating, keeps each tick within one rounding of k * step.
    const double value = k * step;
    ticks.push_back(std::abs(value) < step * snap ? 0.0 : value);
  }
  return ticks;
}

std::string format_tick(double value, double step) {
  if (std::abs(value) < std::abs(step) * snap) return "0";
  const int step_exponent = static_cast<int>(std::floor(std::log10(std::abs(step)) + snap));
  if (step_exponent >= -3 && step_exponent < 6) return format_number(value, std::max(0, -step_exponent));
  int exponent = static_cast<int>(std::floor(std::log10(std::abs(value)) + snap));
  const int decimals = std::max(0, exponent - step_exponent);
  double mantissa = value / std::pow(10.0, exponent);
  // Rounding 9.96 to one digit would give "10e-9"; move to the next power instead.
  if (std::abs(std::round(mantissa * std::pow(10.0, decimals))) >= 10 * std::pow(10.0, decimals)) {
    mantissa /= 10;
    ++exponent;
  }
  return format_number(mantissa, decimals) + "e" + std::to_string(exponent);
}

Axis make_axis(ScaleKind kind, double lo, double hi, double pixel_lo, double pixel_hi, double label_spacing,
               bool minor_ticks) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi)
    throw resdyn::Error("axis range must be finite with lo <= hi");
  // At least two intervals: a single one can leave most of a short axis empty.
  const int intervals = std::clamp(static_cast<int>(std::abs(pixel_hi - pixel_lo) / label_spacing), 2, 50);
  Axis axis;
  axis.scale = {kind, lo, hi, pixel_lo, pixel_hi};
  if (kind == ScaleKind::linear) {
    const std::vector<double> values = linear_ticks(lo, hi, intervals);
    if (values.size() < 2) throw resdyn::Error("axis range cannot be divided into ticks");
    const double step = values[1] - values[0];
    axis.scale.lo = values.front();
    axis.scale.hi = values.back();
    for (double v : values) axis.ticks.push_back({v, axis.scale.to_pixel(v), format_tick(v, step), true});
    return axis;
  }
  if (lo <= 0) throw resdyn::Error("a log axis needs positive values");
  const int first = static_cast<int>(std::floor(std::log10(lo) + snap));
  int last = static_cast<int>(std::ceil(std::log10(hi) - snap));
  if (last == first) ++last;
  axis.scale.lo = std::pow(10.0, first);
  axis.scale.hi = std::pow(10.0, last);
  // Label every stride-th decade, at multiples of the stride so labels read 10⁻⁶, 10⁻⁴, ...
  const int stride = (last - first + intervals - 1) / intervals;
  for (int e = first; e <= last; ++e) {
    const double value = std::pow(10.0, e);
    const bool labelled = ((e % stride) + stride) % stride == 0;
    axis.ticks.push_back({value, axis.scale.to_pixel(value), labelled ? decade_label(e) : "", true});
  }
  if (minor_ticks && last - first <= 6) {
    for (int e = first; e < last; ++e) {
      for (int m = 2; m <= 9; ++m) {
        const double value = m * std::pow(10.0, e);
        axis.ticks.push_back({value, axis.scale.to_pixel(value), "", false});
      }
    }
  }
  return axis;
}

double widest_tick_label(const std::vector<Tick>& ticks) {
  double widest = 0;
  for (const Tick& tick : ticks) widest = std::max(widest, text_width(tick.label, tick_font_size));
  return widest;
}

XYAxes layout_xy_axes(const Box& available, ScaleKind x_kind, const Extent& x_extent, ScaleKind y_kind,
                      const Extent& y_extent) {
  const auto [x_lo, x_hi] = x_extent.empty() ? std::pair{1.0, 10.0} : std::pair{x_extent.lo, x_extent.hi};
  const auto [y_lo, y_hi] = y_extent.empty() ? std::pair{1.0, 10.0} : std::pair{y_extent.lo, y_extent.hi};
  XYAxes axes;
  axes.plot = available;
  axes.plot.height -= tick_length + label_gap + tick_font_size + 2;
  // The y ticks depend only on the height; their labels then decide how much width is left.
  axes.y = make_axis(y_kind, y_lo, y_hi, axes.plot.bottom(), axes.plot.y, 40, true);
  const double left_room = widest_tick_label(axes.y.ticks) + tick_length + label_gap + 2;
  axes.plot.x += left_room;
  axes.plot.width -= left_room;
  if (axes.plot.width < 20 || axes.plot.height < 20) throw resdyn::Error("chart region too small for its axes");
  for (double spacing = 70;; spacing *= 1.4) {
    axes.x = make_axis(x_kind, x_lo, x_hi, axes.plot.x, axes.plot.right(), spacing, true);
    if (!labels_overlap(axes.x) || spacing > axes.plot.width) break;
  }
  return axes;
}

void draw_xy_axes(SvgDocument& doc, const XYAxes& axes) {
  const Box& plot = axes.plot;
  std::string grid;
  std::string marks;
  for (const Tick& t : axes.x.ticks) {
    if (t.major) grid += "M" + px(t.pixel) + " " + px(plot.y) + "V" + px(plot.bottom());
    marks += "M" + px(t.pixel) + " " + px(plot.bottom()) + "v" + px(t.major ? tick_length : tick_length / 2);
  }
  for (const Tick& t : axes.y.ticks) {
    if (t.major) grid += "M" + px(plot.x) + " " + px(t.pixel) + "H" + px(plot.right());
    marks += "M" + px(plot.x) + " " + px(t.pixel) + "h" + px(t.major ? -tick_length : -tick_length / 2);
  }
  doc.open("g", {{"class", "axes"}, {"font-size", px(tick_font_size)}, {"fill", "#333333"}});
  doc.add("path", {{"class", "grid"}, {"d", grid}, {"stroke", "#e4e4e4"}, {"fill", "none"}});
  doc.add("path", {{"class", "ticks"}, {"d", marks}, {"stroke", "#555555"}, {"fill", "none"}});
  doc.add_rect(plot, {{"stroke", "#555555"}, {"fill", "none"}});
  const double x_label_baseline = plot.bottom() + tick_length + label_gap + tick_font_size * 0.8;
  for (const Tick& t : axes.x.ticks) {
    if (!t.label.empty()) doc.add_text(t.pixel, x_label_baseline, t.label, {{"text-anchor", "middle"}});
  }
  for (const Tick& t : axes.y.ticks) {
    if (!t.label.empty()) {
      doc.add_text(plot.x - tick_length - label_gap, centred_baseline(t.pixel, tick_font_size), t.label,
                   {{"text-anchor", "end"}});
    }
  }
  doc.close();
}

}  // namespace resdyn::plot
