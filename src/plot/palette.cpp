#include "plot/palette.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace resdyn::plot {

namespace {

Rgb from_hex(unsigned value) {
  return {((value >> 16) & 0xFF) / 255.0, ((value >> 8) & 0xFF) / 255.0, (value & 0xFF) / 255.0};
}

// The Okabe-Ito colours without yellow (too faint on white), then three darker tones
// that stay apart from them under deuteranopia and protanopia.
constexpr std::array<const char*, categorical_colour_count> categorical = {
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#999933", "#882255", "#332288", "#000000"};

// Anchor colours at equal spacing; values between anchors are interpolated linearly.
constexpr unsigned sequential_anchors[] = {0x440154, 0x472C7A, 0x3B518B, 0x2C718E, 0x21908D,
                                           0x27AD81, 0x5CC863, 0xAADC32, 0xFDE725};
constexpr unsigned diverging_anchors[] = {0x2166AC, 0x67A9CF, 0xD1E5F0, 0xF7F7F7, 0xFDDBC7, 0xEF8A62, 0xB2182B};

template <std::size_t n>
Rgb interpolate(const unsigned (&anchors)[n], double t) {
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0);
  const double position = t * (n - 1);
  const std::size_t lower = std::min(static_cast<std::size_t>(position), n - 2);
  const double fraction = position - static_cast<double>(lower);
  const Rgb a = from_hex(anchors[lower]);
  const Rgb b = from_hex(anchors[lower + 1]);
  return {a.r + (b.r - a.r) * fraction, a.g + (b.g - a.g) * fraction, a.b + (b.b - a.b) * fraction};
}

}  // namespace

std::string Rgb::hex() const {
  const auto channel = [](double v) { return static_cast<int>(std::lround(std::clamp(v, 0.0, 1.0) * 255)); };
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", channel(r), channel(g), channel(b));
  return text;
}

double Rgb::luminance() const {
  // sRGB channels are gamma-encoded; luminance is defined on linear light.
  const auto linear = [](double c) { return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4); };
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

std::string categorical_colour(std::size_t index) { return categorical[index % categorical.size()]; }

Rgb colormap_colour(Colormap map, double t) {
  return map == Colormap::sequential ? interpolate(sequential_anchors, t) : interpolate(diverging_anchors, t);
}

}  // namespace resdyn::plot
