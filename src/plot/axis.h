// Axes: how data values map to pixels (linear or log10), which values get ticks,
// how tick labels read, and how a pair of axes is drawn around a plot area.
#pragma once

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "plot/svg.h"

namespace resdyn::plot {

enum class ScaleKind { linear, log10 };

// The smallest interval holding every value included so far.
struct Extent {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void include(double value) {
    lo = std::min(lo, value);
    hi = std::max(hi, value);
  }
  bool empty() const { return lo > hi; }
};

struct Scale {
  ScaleKind kind = ScaleKind::linear;
  double lo = 0;  // data domain
  double hi = 1;
  double pixel_lo = 0;  // pixel position of lo; larger than pixel_hi on a y axis, which runs upward
  double pixel_hi = 1;
  double to_pixel(double value) const;
};

// Whether a value can be placed on such a scale at all: finite, and positive on a log scale.
bool placeable(ScaleKind kind, double value);

struct Tick {
  double value = 0;
  double pixel = 0;
  std::string label;  // may be empty, e.g. for decades skipped to avoid crowding
  bool major = true;  // minor ticks are shorter and get no gridline
};

struct Axis {
  Scale scale;
  std::vector<Tick> ticks;
};

// The smallest number of the form {1, 2, 5} x 10^k that is at least `raw` (> 0).
double nice_step(double raw);

// Tick values on a step of 1, 2 or 5 times a power of ten, the smallest such step
// giving at most `intervals` intervals, from the last multiple of the step at or below
// lo to the first at or above hi. A constant range is first widened around its value.
// Throws resdyn::Error for non-finite bounds, lo > hi or intervals < 1.
std::vector<double> linear_ticks(double lo, double hi, int intervals);

// Label of a tick on a grid of spacing `step`: just enough decimals to tell neighbours
// apart, or m·e±k notation when the step is below 1e-3 or at least 1e6.
std::string format_tick(double value, double step);

// An axis covering the data range [lo, hi], widened to whole ticks (linear) or whole
// decades (log10), mapped onto [pixel_lo, pixel_hi], with labelled ticks at least
// `label_spacing` pixels apart (but at least two intervals). On a log axis every decade gets a tick (labelled ones
// at a stride when decades are dense), and `minor_ticks` adds 2..9 times each decade
// when there are at most six decades. Throws resdyn::Error for non-finite
// bounds, lo > hi, or lo <= 0 on a log axis.
Axis make_axis(ScaleKind kind, double lo, double hi, double pixel_lo, double pixel_hi, double label_spacing,
               bool minor_ticks = false);

// Width of the widest tick label, in the font size that axes use.
double widest_tick_label(const std::vector<Tick>& ticks);

// Axes for an x-y chart: the plot area inside `available` once room is left for the
// y tick labels (left) and the x tick labels (below), with x labels thinned until they
// don't overlap. An empty extent falls back to [1, 10], which both scale kinds can show.
struct XYAxes {
  Box plot;
  Axis x;
  Axis y;
};
XYAxes layout_xy_axes(const Box& available, ScaleKind x_kind, const Extent& x_extent, ScaleKind y_kind,
                      const Extent& y_extent);

// Gridlines, tick marks, tick labels and a frame for both axes.
void draw_xy_axes(SvgDocument& doc, const XYAxes& axes);

}  // namespace resdyn::plot
