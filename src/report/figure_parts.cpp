#include "report/figure_parts.h"

#include <algorithm>
#include <cmath>

#include "experiments/run_file_names.h"
#include "plot/palette.h"
#include "report/number_text.h"
#include "resdyn.h"

namespace resdyn::report {

plot::Series class_series(const ClassCurve& curve, bool with_spread) {
  plot::Series series;
  series.name = "class " + std::to_string(curve.label);
  series.x = curve.x;
  series.y = curve.y;
  if (with_spread) series.spread = curve.spread;
  series.colour = plot::categorical_colour(std::size_t(curve.label));
  return series;
}

std::vector<std::string> class_names(std::size_t classes) {
  std::vector<std::string> names;
  for (std::size_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  return names;
}

plot::ScaleKind layer_scale(const std::vector<ClassCurve>& curves) {
  double last = 0;
  for (const ClassCurve& c : curves)
    for (double x : c.x) last = std::max(last, x);
  return last > 60 ? plot::ScaleKind::log10 : plot::ScaleKind::linear;
}

bool few_points(const std::vector<ClassCurve>& curves) {
  for (const ClassCurve& c : curves)
    if (c.x.size() > 30) return false;
  return true;
}

double summary_number(const output::JsonValue* summary, const std::string& key) {
  const output::JsonValue* v = summary ? summary->find(key) : nullptr;
  return v && v->is_number() ? v->number() : NAN;
}

std::string summary_text(const output::JsonValue* summary, const std::string& key) {
  const output::JsonValue* v = summary ? summary->find(key) : nullptr;
  if (!v) return "n/a";
  switch (v->kind()) {
    case output::JsonValue::Kind::null: return "none";
    case output::JsonValue::Kind::number: return number_text(v->number());
    case output::JsonValue::Kind::string: return v->string();
    case output::JsonValue::Kind::boolean: return v->boolean() ? "yes" : "no";
    default: return "(" + key + ": not a single value)";
  }
}

std::string run_facts(const output::JsonValue* summary) {
  if (!summary) return "";
  std::string text;
  const auto add = [&](const std::string& part) { text += (text.empty() ? "" : ", ") + part; };
  namespace key = run_files::key;
  const char* test_error = run_files::dynamics::key::test_error;
  if (summary->find(key::depth)) add("depth " + summary_text(summary, key::depth));
  if (summary->find(key::samples_per_class)) add(summary_text(summary, key::samples_per_class) + " samples per class");
  if (summary->find(test_error)) add("the model's test error " + percent_text(summary_number(summary, test_error)));
  if (ran_in_bf16(summary)) add("bfloat16 products");
  return text;
}

bool ran_in_bf16(const output::JsonValue* summary) {
  return summary_text(summary, run_files::key::precision) == precision_name(Precision::bf16);
}

std::string flag_value(const std::string& command, const std::string& name) {
  const std::string flag = "--" + name;
  for (std::size_t at = command.find(flag); at != std::string::npos; at = command.find(flag, at + 1)) {
    std::size_t begin = at + flag.size();
    if (at > 0 && command[at - 1] != ' ') continue;
    if (begin < command.size() && (command[begin] == ' ' || command[begin] == '=')) {
      ++begin;
      return command.substr(begin, command.find(' ', begin) - begin);
    }
  }
  return "";
}

}  // namespace resdyn::report
