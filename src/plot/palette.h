// Colours: a categorical palette for the ten MNIST classes and two colormaps for
// matrices, all chosen to stay readable for the common forms of colour blindness.
#pragma once

#include <cstddef>
#include <string>

namespace resdyn::plot {

struct Rgb {
  double r = 0;  // each channel in [0, 1]
  double g = 0;
  double b = 0;
  std::string hex() const;   // "#rrggbb"
  double luminance() const;  // relative luminance in [0, 1], for choosing text colour on a fill
};

// Number of distinct categorical colours before they repeat.
constexpr std::size_t categorical_colour_count = 10;

// Colour of category `index` (class digit, series number); wraps after the palette ends.
std::string categorical_colour(std::size_t index);

enum class Colormap {
  sequential,  // dark purple to yellow, perceptually ordered, for non-negative quantities
  diverging,   // blue through white to red, for signed quantities centred on zero
};

// Colour at position t in [0, 1] of the colormap (clamped outside).
Rgb colormap_colour(Colormap map, double t);

}  // namespace resdyn::plot
