// Tests of the SVG plot module: every chart is well-formed XML with the expected
// number of series, bands, cells or points; axes put ticks where they belong; bad
// input is either drawn around (NaN) or refused with resdyn::Error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "resdyn.h"
#include "plot/axis.h"
#include "plot/heatmap.h"
#include "plot/line_plot.h"
#include "plot/palette.h"
#include "plot/panel_grid.h"
#include "plot/scatter.h"
#include "plot/svg.h"
#include "xml_check.h"

using namespace resdyn::plot;
using xml_check::Element;
using xml_check::find_all;
using xml_check::XmlParser;

namespace {

const double not_a_number = std::numeric_limits<double>::quiet_NaN();
const double infinity = std::numeric_limits<double>::infinity();

std::unique_ptr<Element> parse_svg(const std::string& svg) {
  auto root = XmlParser(svg).parse();
  EXPECT_EQ(root->name, "svg");
  EXPECT_FALSE(root->attribute("viewBox").empty());
  return root;
}

std::size_t count_char(const std::string& s, char c) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), c));
}

std::vector<std::string> texts(const Element& root) {
  std::vector<std::string> out;
  for (const Element* e : find_all(root, "text")) out.push_back(e->text);
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::vector<double> logspace(double from_exponent, double to_exponent, int count) {
  std::vector<double> values;
  for (int i = 0; i < count; ++i)
    values.push_back(std::pow(10.0, from_exponent + (to_exponent - from_exponent) * i / (count - 1)));
  return values;
}

// Every chart must also refuse to write a number the XML can't hold.
void expect_no_non_finite_text(const std::string& svg) {
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
}

}  // namespace

// ---- The checker itself ------------------------------------------------------------

TEST(XmlChecker, RejectsMalformedDocuments) {
  EXPECT_NO_THROW(XmlParser("<a x=\"1\" y='2'><b/>t &amp; &#60; &#x3C;</a>").parse());
  for (const char* bad : {"<a><b></a></b>", "<a x=1/>", "<a x=\"1\" x=\"2\"/>", "<a>&nbsp;</a>", "<a>&amp</a>",
                          "<a x=\"<\"/>", "<a/><b/>", "<a x=\"1\"y=\"2\"/>", "<a>", "text"}) {
    EXPECT_THROW(XmlParser(bad).parse(), std::runtime_error) << bad;
  }
}

// ---- svg.h ---------------------------------------------------------------------------

TEST(Svg, NumbersAreShortAndLocaleFree) {
  EXPECT_EQ(format_number(0.1 + 0.2, 2), "0.3");
  EXPECT_EQ(format_number(-0.0001, 2), "0");
  EXPECT_EQ(format_number(1234.5, 1), "1234.5");
  EXPECT_EQ(format_number(2.0, 3), "2");
  EXPECT_EQ(format_number(0.7, 2, TrailingZeros::keep), "0.70");
  EXPECT_EQ(format_number(-0.001, 2, TrailingZeros::keep), "0.00");
  EXPECT_EQ(px(12.345), "12.3");
  EXPECT_THROW(format_number(not_a_number, 1), resdyn::Error);
  // A comma-decimal locale, where installed, must not change the output.
  try {
    std::locale::global(std::locale("de_DE.UTF-8"));
    std::setlocale(LC_ALL, "de_DE.UTF-8");
    EXPECT_EQ(format_number(1.5, 1), "1.5");
    std::locale::global(std::locale::classic());
    std::setlocale(LC_ALL, "C");
  } catch (const std::runtime_error&) {  // the locale is not installed here
  }
}

TEST(Svg, EscapesMarkupCharactersInTextAndAttributes) {
  EXPECT_EQ(escape_xml("<a href=\"x\">Tom's & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom&apos;s &amp; Jerry&apos;s&lt;/a&gt;");
  EXPECT_EQ(escape_xml(std::string("bell\x07 tab\t")), "bell tab\t");

  const std::string nasty = "<b>\"x\" & 'y'</b>";
  LinePlot plot(ChartText(nasty, "x " + nasty, "y " + nasty));
  plot.add({nasty, {1, 2}, {3, 4}, {}, ""});
  const std::string svg = plot.svg();
  const auto root = parse_svg(svg);
  const auto all_text = texts(*root);
  EXPECT_TRUE(contains(all_text, nasty));
  EXPECT_TRUE(contains(all_text, "x " + nasty));
  EXPECT_TRUE(contains(all_text, "y " + nasty));
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
}

TEST(Svg, DocumentHasViewBoxWhiteBackgroundAndBalancedElements) {
  SvgDocument doc(200, 100);
  doc.open("g", {{"class", "a"}});
  doc.add_text(10, 20, "hi", {});
  EXPECT_THROW(doc.str(), std::logic_error);
  doc.close();
  EXPECT_THROW(doc.close(), std::logic_error);
  const auto root = parse_svg(doc.str());
  EXPECT_EQ(root->attribute("viewBox"), "0 0 200 100");
  const auto rects = find_all(*root, "rect");
  ASSERT_FALSE(rects.empty());
  EXPECT_EQ(rects[0]->attribute("fill"), "#ffffff");
  EXPECT_NE(doc.unique_id("g"), doc.unique_id("g"));
}

TEST(Svg, SaveReplacesTheFileAndLeavesNoTemporary) {
  const std::string path = (std::filesystem::temp_directory_path() / "resdyn_test_plot_save.svg").string();
  LinePlot plot(ChartText("saved", "x (1)", "y (1)"));
  plot.add({"s", {0, 1}, {0, 1}, {}, ""});
  std::ofstream(path) << "old content";
  plot.save(path);
  std::stringstream read;
  read << std::ifstream(path).rdbuf();
  EXPECT_EQ(read.str(), plot.svg());
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
  std::filesystem::remove(path);
  EXPECT_THROW(plot.save("/nonexistent-directory/x.svg"), resdyn::Error);
}

// ---- axis.h --------------------------------------------------------------------------

TEST(Axis, LinearTicksFromZeroToOne) {
  EXPECT_EQ(linear_ticks(0, 1, 5).size(), 6u);
  const auto ticks = linear_ticks(0, 1, 5);
  for (std::size_t i = 0; i < ticks.size(); ++i) EXPECT_NEAR(ticks[i], 0.2 * i, 1e-12);
  EXPECT_EQ(format_tick(ticks[3], 0.2), "0.6");
}

TEST(Axis, LinearTicksCoverAnAwkwardRange) {
  const auto ticks = linear_ticks(-3.7, 12.2, 5);
  EXPECT_EQ(ticks, (std::vector<double>{-5, 0, 5, 10, 15}));
  const auto finer = linear_ticks(-3.7, 12.2, 10);
  EXPECT_EQ(finer.front(), -4);
  EXPECT_EQ(finer.back(), 14);
  EXPECT_EQ(finer[1] - finer[0], 2);
}

TEST(Axis, LinearTicksAtTinyMagnitudes) {
  const auto ticks = linear_ticks(1e-9, 3e-9, 5);
  ASSERT_EQ(ticks.size(), 5u);
  EXPECT_NEAR(ticks.front(), 1e-9, 1e-20);
  EXPECT_NEAR(ticks.back(), 3e-9, 1e-20);
  const double step = ticks[1] - ticks[0];
  EXPECT_NEAR(step, 5e-10, 1e-20);
  EXPECT_EQ(format_tick(ticks[0], step), "1e-9");
  EXPECT_EQ(format_tick(ticks[1], step), "1.5e-9");
  EXPECT_EQ(format_tick(2e6, 1e6), "2e6");
  EXPECT_EQ(format_tick(-0.05, 0.05), "-0.05");
}

TEST(Axis, ConstantRangeIsWidenedAroundItsValue) {
  const auto ticks = linear_ticks(5, 5, 5);
  ASSERT_GE(ticks.size(), 2u);
  EXPECT_LT(ticks.front(), 5);
  EXPECT_GT(ticks.back(), 5);
  const auto zero = linear_ticks(0, 0, 4);
  EXPECT_EQ(zero.front(), -1);
  EXPECT_EQ(zero.back(), 1);
  EXPECT_THROW(linear_ticks(2, 1, 5), resdyn::Error);
  EXPECT_THROW(linear_ticks(0, infinity, 5), resdyn::Error);
}

TEST(Axis, LinearAxisDomainIsRoundedToTicks) {
  const Axis axis = make_axis(ScaleKind::linear, -3.7, 12.2, 0, 400, 80);
  EXPECT_EQ(axis.scale.lo, -5);
  EXPECT_EQ(axis.scale.hi, 15);
  EXPECT_DOUBLE_EQ(axis.ticks.front().pixel, 0);
  EXPECT_DOUBLE_EQ(axis.ticks.back().pixel, 400);
  EXPECT_DOUBLE_EQ(axis.scale.to_pixel(0), 100);
}

TEST(Axis, LogTicksLandOnEvenlySpacedDecades) {
  const Axis axis = make_axis(ScaleKind::log10, 1e-3, 1, 0, 300, 50, true);
  std::vector<const Tick*> decades;
  for (const Tick& t : axis.ticks) {
    if (t.major) decades.push_back(&t);
  }
  ASSERT_EQ(decades.size(), 4u);
  const char* labels[] = {"10\u207B\u00B3", "10\u207B\u00B2", "10\u207B\u00B9", "10\u2070"};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(decades[i]->value, std::pow(10.0, static_cast<double>(i) - 3), 1e-15);
    EXPECT_NEAR(decades[i]->pixel, 100.0 * i, 1e-9);
    EXPECT_EQ(decades[i]->label, labels[i]);
  }
  EXPECT_EQ(axis.ticks.size(), 4u + 3 * 8);  // 2..9 in each of the three decades
  EXPECT_NEAR(axis.scale.to_pixel(2e-3), 100 * std::log10(2.0), 1e-9);
}

TEST(Axis, LogAxisWidensToWholeDecadesAndThinsDenseLabels) {
  const Axis partial = make_axis(ScaleKind::log10, 0.002, 0.7, 300, 0, 50);
  EXPECT_NEAR(partial.scale.lo, 1e-3, 1e-18);
  EXPECT_NEAR(partial.scale.hi, 1, 1e-15);
  EXPECT_NEAR(partial.scale.to_pixel(1e-3), 300, 1e-9);  // y axes run upward

  const Axis wide = make_axis(ScaleKind::log10, 1e-12, 1e3, 0, 200, 50);
  std::size_t labelled = 0;
  for (const Tick& t : wide.ticks) labelled += !t.label.empty();
  EXPECT_EQ(wide.ticks.size(), 16u);
  EXPECT_LE(labelled, 5u);
  EXPECT_GE(labelled, 3u);

  const Axis constant = make_axis(ScaleKind::log10, 1, 1, 0, 100, 50);
  EXPECT_LT(constant.scale.lo, constant.scale.hi);
  EXPECT_THROW(make_axis(ScaleKind::log10, 0, 1, 0, 100, 50), resdyn::Error);
  EXPECT_THROW(make_axis(ScaleKind::log10, -1, 1, 0, 100, 50), resdyn::Error);
}

// ---- palette.h -------------------------------------------------------------------------

TEST(Palette, TenDistinctClassColoursAndOrderedColormaps) {
  std::vector<std::string> colours;
  for (std::size_t i = 0; i < categorical_colour_count; ++i) colours.push_back(categorical_colour(i));
  std::sort(colours.begin(), colours.end());
  EXPECT_EQ(std::unique(colours.begin(), colours.end()), colours.end());
  EXPECT_GE(categorical_colour_count, 10u);
  EXPECT_EQ(categorical_colour(categorical_colour_count), categorical_colour(0));

  // Sequential: brightness grows monotonically, so order reads without a legend.
  double previous = -1;
  for (int i = 0; i <= 20; ++i) {
    const double l = colormap_colour(Colormap::sequential, i / 20.0).luminance();
    EXPECT_GT(l, previous);
    previous = l;
  }
  // Diverging: lightest at the centre, darker towards both ends.
  const double centre = colormap_colour(Colormap::diverging, 0.5).luminance();
  EXPECT_GT(centre, colormap_colour(Colormap::diverging, 0.1).luminance());
  EXPECT_GT(centre, colormap_colour(Colormap::diverging, 0.9).luminance());
  EXPECT_EQ(colormap_colour(Colormap::sequential, -5).hex(), colormap_colour(Colormap::sequential, 0).hex());
  EXPECT_EQ(colormap_colour(Colormap::sequential, 0).hex(), "#440154");
}

// ---- line_plot.h -----------------------------------------------------------------------

TEST(LinePlot, OnePathPerSeriesAndPerBandOnLogX) {
  LinePlot plot(ChartText("noise", "noise amplitude a (pixel units)", "noise-to-signal ratio (1)"));
  plot.x_scale = ScaleKind::log10;
  plot.markers = true;
  const auto a = logspace(-3, 0, 13);
  std::vector<double> y1, y2, y3, s1, s2;
  for (double v : a) {
    y1.push_back(v * 2);
    y2.push_back(std::sqrt(v));
    y3.push_back(0.5);
    s1.push_back(v / 2);
    s2.push_back(0.1);
  }
  plot.add({"ResNet", a, y1, s1, ""}).add({"MLP", a, y2, s2, ""}).add({"flat", a, y3, {}, ""});
  const std::string svg = plot.svg();
  const auto root = parse_svg(svg);
  EXPECT_EQ(find_all(*root, "path", "series").size(), 3u);
  EXPECT_EQ(find_all(*root, "path", "band").size(), 2u);
  EXPECT_EQ(find_all(*root, "path", "markers").size(), 3u);
  EXPECT_EQ(count_char(find_all(*root, "path", "markers")[0]->attribute("d"), 'M'), 13u);
  EXPECT_EQ(find_all(*root, "path", "swatch").size(), 3u);  // legend
  const auto all_text = texts(*root);
  for (const char* t :
       {"noise", "noise amplitude a (pixel units)", "noise-to-signal ratio (1)", "ResNet", "MLP", "10\u207B\u00B3"})
    EXPECT_TRUE(contains(all_text, t)) << t;
  EXPECT_EQ(svg, plot.svg());  // deterministic
}

TEST(LinePlot, NonFiniteAndNonPositivePointsBreakTheLine) {
  LinePlot plot(ChartText("gaps", "layer t (1)", "residual (1)"));
  plot.y_scale = ScaleKind::log10;
  plot.add({"gap in middle", {1, 2, 3, 4, 5}, {1, 2, not_a_number, 4, 5}, {0.1, 0.1, 0.1, infinity, 0.1}, ""});
  plot.add({"zero on log y", {1, 2, 3, 4, 5}, {1, 0, 3, -1, 5}, {}, ""});
  plot.add({"all missing", {1, 2}, {not_a_number, not_a_number}, {}, ""});
  plot.add({"band below axis", {1, 2, 3}, {1, 1, 1}, {5, 5, 5}, ""});
  const std::string svg = plot.svg();
  expect_no_non_finite_text(svg);
  const auto root = parse_svg(svg);
  const auto series = find_all(*root, "path", "series");
  ASSERT_EQ(series.size(), 4u);
  EXPECT_EQ(count_char(series[0]->attribute("d"), 'M'), 2u);
  EXPECT_EQ(count_char(series[1]->attribute("d"), 'M'), 3u);
  EXPECT_EQ(series[2]->attribute("d"), "");
  const auto bands = find_all(*root, "path", "band");
  ASSERT_EQ(bands.size(), 2u);
  EXPECT_EQ(count_char(bands[0]->attribute("d"), 'Z'), 2u);  // [1,2] and [5]
  EXPECT_EQ(count_char(bands[1]->attribute("d"), 'Z'), 1u);
}

TEST(LinePlot, StructurallyWrongInputThrows) {
  EXPECT_THROW(ChartText("", "x (1)", "y (1)"), resdyn::Error);
  EXPECT_THROW(ChartText("t", "", "y (1)"), resdyn::Error);
  LinePlot plot(ChartText("t", "x (1)", "y (1)"));
  EXPECT_THROW(plot.svg(), resdyn::Error);
  EXPECT_THROW(plot.add({"empty", {}, {}, {}, ""}), resdyn::Error);
  EXPECT_THROW(plot.add({"lengths", {1, 2}, {1}, {}, ""}), resdyn::Error);
  EXPECT_THROW(plot.add({"band", {1, 2}, {1, 2}, {1}, ""}), resdyn::Error);
  try {
    plot.add({"lengths", {1, 2}, {1}, {}, ""});
  } catch (const resdyn::Error& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

// ---- heatmap.h -------------------------------------------------------------------------

TEST(Heatmap, OneRectPerCellWithLabelsAndColourBar) {
  std::vector<std::vector<double>> matrix(10, std::vector<double>(10));
  for (int r = 0; r < 10; ++r)
    for (int c = 0; c < 10; ++c) matrix[r][c] = r == c ? 0.9 : 0.1 * ((r + c) % 5);
  matrix[3][4] = not_a_number;
  Heatmap heatmap(ChartText("cosine", "class of b", "class of a"), "mean cosine similarity (1)", matrix);
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) names.push_back("digit " + std::to_string(i));
  heatmap.row_labels = names;
  heatmap.column_labels = names;
  heatmap.cell_label_decimals = 2;
  const std::string svg = heatmap.svg(640, 480);
  expect_no_non_finite_text(svg);
  const auto root = parse_svg(svg);
  const auto cells = find_all(*root, "g", "cells");
  ASSERT_EQ(cells.size(), 1u);
  EXPECT_EQ(cells[0]->children.size(), 100u);
  for (const auto& cell : cells[0]->children) EXPECT_EQ(cell->name, "rect");
  const auto labels = find_all(*root, "g", "cell-labels");
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_EQ(labels[0]->children.size(), 99u);  // none on the NaN cell
  EXPECT_EQ(find_all(*root, "linearGradient").size(), 1u);
  const auto all_text = texts(*root);
  EXPECT_TRUE(contains(all_text, "0.90"));  // cell labels keep their decimals
  EXPECT_TRUE(contains(all_text, "mean cosine similarity (1)"));
  EXPECT_TRUE(contains(all_text, "digit 0"));
}

TEST(Heatmap, WideMatrixAndDivergingRangeStayWellFormed) {
  std::vector<std::vector<double>> matrix(10, std::vector<double>(300));
  for (int r = 0; r < 10; ++r)
    for (int c = 0; c < 300; ++c) matrix[r][c] = std::sin(r * 0.3 + c * 0.05);
  Heatmap heatmap(ChartText("profile", "neuron i (index)", "class"), "mean residual (1)", matrix);
  heatmap.colormap = Colormap::diverging;
  heatmap.cell_label_decimals = 1;  // far too small for labels: none drawn
  const auto root = parse_svg(heatmap.svg());
  EXPECT_EQ(find_all(*root, "g", "cells")[0]->children.size(), 3000u);
  EXPECT_TRUE(find_all(*root, "g", "cell-labels").empty());
}

TEST(Heatmap, StructurallyWrongInputThrows) {
  const ChartText text("t", "x (1)", "y (1)");
  EXPECT_THROW(Heatmap(text, "v", {}), resdyn::Error);
  EXPECT_THROW(Heatmap(text, "v", {{}}), resdyn::Error);
  EXPECT_THROW(Heatmap(text, "v", {{1, 2}, {3}}), resdyn::Error);
  EXPECT_THROW(Heatmap(text, "", {{1}}), resdyn::Error);
  Heatmap wrong_labels(text, "v", {{1, 2}, {3, 4}});
  wrong_labels.row_labels = {"a"};
  EXPECT_THROW(wrong_labels.svg(), resdyn::Error);
  Heatmap empty_range(text, "v", {{1, 2}, {3, 4}});
  empty_range.value_range = {{1, 1}};
  EXPECT_THROW(empty_range.svg(), resdyn::Error);
  empty_range.value_range = {{0, not_a_number}};
  EXPECT_THROW(empty_range.svg(), resdyn::Error);
  empty_range.value_range = {{0, 10}};
  EXPECT_NO_THROW(parse_svg(empty_range.svg()));
  Heatmap constant(text, "v", {{2, 2}, {2, 2}});
  EXPECT_NO_THROW(parse_svg(constant.svg()));
  Heatmap all_nan(text, "v", {{not_a_number, infinity}});
  EXPECT_NO_THROW(parse_svg(all_nan.svg()));
}

// ---- scatter.h -------------------------------------------------------------------------

TEST(Scatter, TenThousandPointsInACompactFile) {
  std::vector<double> x, y;
  std::vector<std::size_t> classes;
  for (int i = 0; i < 10000; ++i) {
    const std::size_t c = static_cast<std::size_t>(i % 10);
    x.push_back(std::cos(c * 0.628) * 10 + std::sin(i * 12.9898) * 2);
    y.push_back(std::sin(c * 0.628) * 10 + std::cos(i * 78.233) * 2);
    classes.push_back(c);
  }
  x[5] = not_a_number;
  y[17] = -infinity;
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) names.push_back(std::to_string(i));
  ScatterPlot plot(ChartText("t-SNE of x(T)", "t-SNE 1 (arbitrary units)", "t-SNE 2 (arbitrary units)"), x, y, classes,
                   names);
  const std::string svg = plot.svg(600, 480);
  expect_no_non_finite_text(svg);
  EXPECT_LT(svg.size(), 200000u);
  const auto root = parse_svg(svg);
  const auto paths = find_all(*root, "path", "points");
  ASSERT_EQ(paths.size(), 10u);
  std::size_t points = 0;
  for (const Element* p : paths) points += count_char(p->attribute("d"), 'M');
  EXPECT_EQ(points, 9998u);
  EXPECT_EQ(find_all(*root, "path", "swatch").size(), 10u);  // legend
}

TEST(Scatter, StructurallyWrongInputThrows) {
  const ChartText text("t", "x (1)", "y (1)");
  EXPECT_THROW(ScatterPlot(text, {}, {}, {}, {"a"}), resdyn::Error);
  EXPECT_THROW(ScatterPlot(text, {1, 2}, {1}, {0, 0}, {"a"}), resdyn::Error);
  EXPECT_THROW(ScatterPlot(text, {1}, {1}, {1}, {"a"}), resdyn::Error);
}

// ---- panel_grid.h ----------------------------------------------------------------------

TEST(PanelGrid, SixPanelsOfMixedKinds) {
  PanelGrid grid("Figure 2", 3);
  for (int i = 0; i < 4; ++i) {
    LinePlot& panel = grid.add(LinePlot(ChartText("panel " + std::to_string(i), "layer t (1)", "mean residual (1)")));
    panel.add({"a", {1, 2, 3}, {1, 4, 9}, {0.5, 0.5, 0.5}, ""});
  }
  grid.add(Heatmap(ChartText("h1", "column (1)", "row (1)"), "v (1)", {{1, 2}, {3, 4}}));
  grid.add(Heatmap(ChartText("h2", "column (1)", "row (1)"), "v (1)", {{1, 2}, {3, 4}}));
  EXPECT_EQ(grid.size(), 6u);
  const auto root = parse_svg(grid.svg());
  EXPECT_EQ(root->attribute("viewBox"), "0 0 1260 676");
  EXPECT_EQ(find_all(*root, "g", "line-plot").size(), 4u);
  EXPECT_EQ(find_all(*root, "g", "heatmap").size(), 2u);
  const auto gradients = find_all(*root, "linearGradient");
  ASSERT_EQ(gradients.size(), 2u);
  EXPECT_NE(gradients[0]->attribute("id"), gradients[1]->attribute("id"));
  EXPECT_TRUE(contains(texts(*root), "Figure 2"));

  EXPECT_THROW(PanelGrid("", 2), resdyn::Error);
  EXPECT_THROW(PanelGrid("t", 0), resdyn::Error);
  EXPECT_THROW(PanelGrid("t", 2).svg(), resdyn::Error);
}
