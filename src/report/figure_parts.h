// Pieces the figure builders share: one colour per class across the whole report, the
// layer axis that turns logarithmic for unrolled nets, and facts read from summary.json.
#pragma once

#include <string>
#include <vector>

#include "output/json_reader.h"
#include "plot/axis.h"
#include "plot/line_plot.h"
#include "report/run_tables.h"

namespace resdyn::report {

// "class 3", drawn in class 3's colour everywhere in the report.
plot::Series class_series(const ClassCurve& curve, bool with_spread);
std::vector<std::string> class_names(std::size_t classes);

// Layers 1..T read best on a linear axis up to a few dozen, on a log axis beyond
// (an unrolled net's transient sits in its first layers).
plot::ScaleKind layer_scale(const std::vector<ClassCurve>& curves);
// Dots on every point while there are few enough to tell apart.
bool few_points(const std::vector<ClassCurve>& curves);

// A summary value as text: numbers with 3 significant digits, null as "none", a missing
// key as "n/a". `summary` may be null (no summary.json).
std::string summary_text(const output::JsonValue* summary, const std::string& key);
// A number from the summary, NaN when the file, key or value is missing or null.
double summary_number(const output::JsonValue* summary, const std::string& key);

// "depth 10, 200 samples per class, test error 1.79 %" from a dynamics-style summary, and
// "bfloat16 products" when the run's forward passes were bf16 (float32 goes unsaid).
std::string run_facts(const output::JsonValue* summary);

// Whether a run's summary says its forward passes had bfloat16 products (--precision bf16).
bool ran_in_bf16(const output::JsonValue* summary);

// The value of --NAME in a recorded command line ("--NAME V" or "--NAME=V"), "" when absent.
std::string flag_value(const std::string& command, const std::string& name);

}  // namespace resdyn::report
