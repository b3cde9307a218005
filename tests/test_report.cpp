// Tests of the report: the CSV and JSON readers on what the writers produce and on damaged
// input; and `resdyn report` on runs made by the real experiments on tiny nets and a
// synthetic data set: every SVG it writes is well-formed XML with the expected number of
// series or cells, the page links only to files that exist, a missing run becomes a
// "not run" note and a malformed run file a clear error.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/flags.h"
#include "experiments/dynamics_experiment.h"
#include "experiments/embed_experiment.h"
#include "experiments/noise_experiment.h"
#include "experiments/sensitivity_experiment.h"
#include "experiments/spectrum_experiment.h"
#include "output/csv.h"
#include "output/csv_reader.h"
#include "output/json.h"
#include "cli/commands.h"
#include "output/json_reader.h"
#include "report/figure_parts.h"
#include "report/number_text.h"
#include "report/report_page.h"
#include "resdyn.h"
#include "xml_check.h"

namespace {

namespace fs = std::filesystem;
using resdyn::Error;
using resdyn::output::CsvTable;
using resdyn::output::JsonValue;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// The message of the resdyn::Error that `f` throws, or "" if it throws none.
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A fresh directory under the system's temporary directory, removed at the end.
struct TempDir {
  explicit TempDir(const std::string& name)
      : path((fs::temp_directory_path() / ("resdyn_test_report_" + name)).string()) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

// ---- CSV reader ---------------------------------------------------------------------

TEST(CsvReader, ReadsBackWhatTheWriterWrites) {
  resdyn::output::Csv csv({"name", "value", "count"});
  csv.row().cell(std::string("plain")).cell(0.125).cell(3);
  csv.row().cell(std::string("with, comma and \"quotes\"\nand a line break")).cell(-1e-30).cell(-7);
  csv.row().cell(std::string("specials")).cell(NAN).cell(long(1) << 40);
  csv.row().cell(std::string("infinities")).cell(INFINITY).cell(0);
  csv.row().cell(std::string("")).cell(-INFINITY).cell(1);
  const CsvTable t = CsvTable::parse(csv.str(), "t.csv");
  ASSERT_EQ(t.rows(), 5u);
  EXPECT_EQ(t.columns(), (std::vector<std::string>{"name", "value", "count"}));
  EXPECT_EQ(t.text(1, 0), "with, comma and \"quotes\"\nand a line break");
  EXPECT_EQ(t.number(0, 1), 0.125);
  EXPECT_EQ(t.number(1, 1), -1e-30);
  EXPECT_TRUE(std::isnan(t.number(2, 1)));
  EXPECT_EQ(t.number(3, 1), INFINITY);
  EXPECT_EQ(t.number(4, 1), -INFINITY);
  EXPECT_EQ(t.integer(2, 2, 0, long(1) << 50), long(1) << 40);
  EXPECT_EQ(t.text(4, 0), "");
  EXPECT_EQ(t.line(2), 5);  // the quoted line break moved the third record to line 5
  EXPECT_EQ(t.numbers("count"), (std::vector<double>{3, -7, double(long(1) << 40), 0, 1}));
  EXPECT_EQ(t.column("count"), 2u);
  EXPECT_TRUE(t.has_column("value"));
  EXPECT_FALSE(t.has_column("Value"));
}

TEST(CsvReader, AcceptsCrLfAndAMissingFinalNewline) {
  const CsvTable t = CsvTable::parse("a,b\r\n1,2\r\n3,4", "t.csv");
  ASSERT_EQ(t.rows(), 2u);
  EXPECT_EQ(t.number(1, 1), 4);
  EXPECT_EQ(CsvTable::parse("a,b\n", "t.csv").rows(), 0u);
}

TEST(CsvReader, MalformedTablesAreErrorsNamingFileAndLine) {
  const std::map<std::string, std::string> cases = {
      {"a,b\n1,2\n3\n", "t.csv:3: 1 cells where the header has 2"},
      {"a,b\n1,2,3\n", "t.csv:2: 3 cells where the header has 2"},
      {"a,b\n1,\"2\n", "t.csv:2: quoted cell never closed"},
      {"a,b\n1,\"2\"x\n", "t.csv:2: text after a closing quote"},
      {"a,b\n1,x\"2\"\n", "t.csv:2: a quote inside an unquoted cell"},
      {"a,b\n1,2\n\n3,4\n", "t.csv:3: blank line inside the table"},
      {"a,a\n1,2\n", "t.csv:1: column 'a' appears twice"},
      {"a,\n1,2\n", "t.csv:1: header has an empty column name"},
      {"", "t.csv:1: empty file"},
  };
  for (const auto& [input, message] : cases) {
    const std::string& text = input;  // a lambda cannot capture a structured binding in C++17
    const std::string error = error_of([&] { CsvTable::parse(text, "t.csv"); });
    EXPECT_EQ(error.rfind(message, 0), 0u) << "input: " << text << "\nerror: " << error;
  }
  const CsvTable t = CsvTable::parse("class,x\n1,2\n2,abc\n3,1.5\n", "t.csv");
  EXPECT_EQ(error_of([&] { t.number(1, 1); }), "t.csv:3: column 'x': 'abc' is not a number");
  EXPECT_EQ(error_of([&] { t.integer(2, 1, 0, 9); }), "t.csv:4: column 'x': '1.5' is not a whole number in 0..9");
  EXPECT_EQ(error_of([&] { t.column("y"); }), "t.csv: no column 'y' (it has: class, x)");
  for (const char* not_a_number : {"", " 1", "1 ", "1x", "NAN", "infinity", "+1", "0x10", "1e"}) {
    double v = 0;
    EXPECT_FALSE(resdyn::output::parse_decimal(not_a_number, v)) << not_a_number;
  }
  EXPECT_NE(error_of([] { CsvTable::read("/nonexistent/t.csv"); }).find("/nonexistent/t.csv"), std::string::npos);
}

// ---- JSON reader --------------------------------------------------------------------

TEST(JsonReader, ReadsBackWhatTheWriterWrites) {
  resdyn::output::Json json;
  json.begin_object();
  json.field("name", "caf\xc3\xa9 \"quoted\"\n\ttab \\ slash");
  json.field("third", 1.0 / 3);
  json.field("tiny", 4.9e-324);
  json.field("count", 42);
  json.field("yes", true).field("no", false);
  json.key("missing").null();
  json.field("not finite", NAN);
  json.key("list").values({1.5, -2, 1e300});
  json.key("nested").begin_object().key("empty").begin_array().end_array().key("none").begin_object().end_object();
  json.end_object();
  json.end_object();
  const JsonValue v = resdyn::output::parse_json(json.str(), "s.json");
  EXPECT_EQ(v.at("name").string(), "caf\xc3\xa9 \"quoted\"\n\ttab \\ slash");
  EXPECT_EQ(v.at("third").number(), 1.0 / 3);  // %.17g reads back to the same double
  EXPECT_EQ(v.at("tiny").number(), 4.9e-324);
  EXPECT_EQ(v.at("count").number(), 42);
  EXPECT_TRUE(v.at("yes").boolean());
  EXPECT_FALSE(v.at("no").boolean());
  EXPECT_TRUE(v.at("missing").is_null());
  EXPECT_TRUE(v.at("not finite").is_null());
  ASSERT_EQ(v.at("list").items().size(), 3u);
  EXPECT_EQ(v.at("list").items()[2].number(), 1e300);
  EXPECT_TRUE(v.at("nested").at("empty").items().empty());
  EXPECT_TRUE(v.at("nested").at("none").members().empty());
  EXPECT_EQ(v.find("absent"), nullptr);
  EXPECT_EQ(v.members()[0].first, "name");  // file order kept
}

TEST(JsonReader, DecodesEscapesToUtf8) {
  const JsonValue v = resdyn::output::parse_json(R"(["\u00e9\u20ac\ud83d\ude00\/\b\f\r"])", "s.json");
  EXPECT_EQ(v.items()[0].string(), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80/\b\f\r");
}

TEST(JsonReader, FaultsNameLineAndColumn) {
  const std::map<std::string, std::string> cases = {
      {"{\n  \"a\": 1,\n  \"b\": tru\n}", "s.json:3:8: expected 'true'"},
      {"{\"a\": 1,}", "s.json:1:9: expected a key in quotes"},
      {"[1, 2,]", "s.json:1:7: unexpected character ']'"},
      {"{\"a\": 1, \"a\": 2}", "s.json:1:10: key 'a' appears twice in one object"},
      {"[01]", "s.json:1:3: a number may not start with 0 followed by digits"},
      {"[1.]", "s.json:1:4: a number needs digits after '.'"},
      {"[-]", "s.json:1:3: a number needs digits after '-'"},
      {"[1e]", "s.json:1:4: a number needs digits in its exponent"},
      {"[1e999]", "s.json:1:2: number out of range"},
      {"[NaN]", "s.json:1:2: unexpected character 'N'"},
      {"[\"\\ud800\"]", "s.json:1:9: \\u escape is a high surrogate without its low half"},
      {"[\"\\udc00\"]", "s.json:1:9: \\u escape is a lone low surrogate"},
      {"[\"\\x\"]", "s.json:1:4: unknown escape in a string"},
      {"[\"a\nb\"]", "s.json:1:4: control character inside a string"},
      {"\"open", "s.json:1:6: string never closed"},
      {"{\"a\" 1}", "s.json:1:6: expected ':' after the key"},
      {"[1 2]", "s.json:1:4: expected ',' or ']' in an array"},
      {"{} {}", "s.json:1:4: text after the end of the document"},
      {"", "s.json:1:1: unexpected end of the document"},
      {"\"\xc3\xa9\" x", "s.json:1:5: text after the end of the document"},  // columns count characters
  };
  for (const auto& [input, message] : cases) {
    const std::string& text = input;  // a lambda cannot capture a structured binding in C++17
    const std::string error = error_of([&] { resdyn::output::parse_json(text, "s.json"); });
    EXPECT_EQ(error.rfind(message, 0), 0u) << "input: " << text << "\nerror: " << error;
  }
  EXPECT_EQ(error_of([] {
              resdyn::output::parse_json(std::string(300, '[') + std::string(300, ']'), "s.json");
            }).rfind("s.json:1:202: nested deeper than 200 levels", 0),
            0u);
  const JsonValue v = resdyn::output::parse_json("{\n  \"a\": \"text\",\n  \"b\": [1]\n}", "s.json");
  EXPECT_EQ(error_of([&] { v.at("a").number(); }), "s.json:2:8: expected a number, found a string");
  EXPECT_EQ(error_of([&] { v.at("b").members(); }), "s.json:3:8: expected an object, found an array");
  EXPECT_EQ(error_of([&] { v.at("c"); }), "s.json:1:1: the object has no key 'c'");
}

// ---- Number text ----------------------------------------------------------------------

TEST(NumberText, SignificantDigitsAndPercentages) {
  using resdyn::report::number_text;
  using resdyn::report::percent_text;
  EXPECT_EQ(number_text(0.0123456), "0.0123");
  EXPECT_EQ(number_text(1.0), "1");
  EXPECT_EQ(number_text(123.456), "123");
  EXPECT_EQ(number_text(-2.5e-7), "-2.5e-07");
  EXPECT_EQ(number_text(9.9996e7), "1e+08");  // rounding carries into the exponent
  EXPECT_EQ(number_text(1.23456e-9, 2), "1.2e-09");
  EXPECT_EQ(number_text(0), "0");
  EXPECT_EQ(number_text(NAN), "n/a");
  EXPECT_EQ(percent_text(0.0179), "1.79 %");
  EXPECT_EQ(percent_text(0.01, 1), "1.0 %");
  EXPECT_EQ(percent_text(INFINITY), "n/a");
}

// A run's facts name bfloat16 products when its summary says so, and say nothing of float32.
TEST(FigureParts, RunFactsNameBf16Runs) {
  using resdyn::output::parse_json;
  const resdyn::output::JsonValue bf16 = parse_json(R"({"depth": 6, "precision": "bf16"})", "bf16.json");
  const resdyn::output::JsonValue fp32 = parse_json(R"({"depth": 6, "precision": "fp32"})", "fp32.json");
  EXPECT_TRUE(resdyn::report::ran_in_bf16(&bf16));
  EXPECT_FALSE(resdyn::report::ran_in_bf16(&fp32));
  EXPECT_FALSE(resdyn::report::ran_in_bf16(nullptr));
  EXPECT_EQ(resdyn::report::run_facts(&bf16), "depth 6, bfloat16 products");
  EXPECT_EQ(resdyn::report::run_facts(&fp32), "depth 6");
}

// ---- The report on runs of the real experiments -------------------------------------------

constexpr int kClasses = 10;
constexpr int kPerClass = 10;  // test samples per class in the synthetic data set

// Digits as noisy class-dependent stripes: enough for every experiment to have each class.
resdyn::Dataset synthetic_digits() {
  resdyn::Dataset d;
  d.rows = d.cols = 28;
  d.count = kClasses * kPerClass;
  resdyn::Rng rng(7);
  for (int i = 0; i < d.count; ++i) {
    const int label = i % kClasses;
    d.labels.push_back(uint8_t(label));
    for (int p = 0; p < 28 * 28; ++p) {
      const bool stripe = (p / 28) % kClasses == label;
      d.images.push_back(uint8_t(stripe ? 200 + rng.below(56) : rng.below(40)));
    }
  }
  return d;
}

resdyn::Net<float> tiny_net(resdyn::Arch arch, resdyn::Weights weights, int depth) {
  resdyn::Config c;
  c.arch = arch;
  c.weights = weights;
  c.input = 784;
  c.width = 8;
  c.depth = depth;
  c.classes = kClasses;
  c.stem = true;
  resdyn::Net<float> net(c);
  resdyn::Rng rng(3);
  resdyn::initialise(net, rng);
  return net;
}

// A model file and an epoch log as `resdyn train` writes them.
void write_model(const std::string& runs, const std::string& file, const resdyn::Net<float>& net, double error,
                 const std::string& flags, const std::vector<int>& depths) {
  resdyn::save_model(net, runs + "/" + file,
                     "command: resdyn train " + flags + " --out RUNS/" + file +
                         "\ntest_error: " + std::to_string(error) + "\nepochs: " + std::to_string(depths.size()) +
                         "\ndepth: " + std::to_string(net.config.depth) + "\n");
  resdyn::output::Csv log(
      {"epoch", "train_loss", "convergence_d", "depth", "pruned", "test_loss", "test_error", "seconds"});
  for (std::size_t e = 0; e < depths.size(); ++e)
    log.row()
        .cell(int(e + 1))
        .cell(1.0 / double(e + 1))
        .cell(0.1 / double(e + 1))
        .cell(depths[e])
        .cell(e > 0 && depths[e] < depths[e - 1] ? 1 : 0)
        .cell(0.5)
        .cell(error + 0.01 / double(e + 1))
        .cell(2.0);
  log.save(runs + "/" + file + ".csv");
}

// Fills a runs directory as tools/paper_runs.sh does, at toy size.
void make_runs(const std::string& runs) {
  using resdyn::Arch;
  using resdyn::Weights;
  fs::create_directories(runs + "/models");
  fs::create_directories(runs + "/pruning");
  const resdyn::Dataset test = synthetic_digits();
  const auto shared = tiny_net(Arch::ResNet, Weights::Shared, 12);
  const auto per_layer = tiny_net(Arch::ResNet, Weights::PerLayer, 6);
  const auto mlp = tiny_net(Arch::MLP, Weights::Shared, 4);
  write_model(runs, "models/shared.resdyn", shared, 0.0179, "--weights shared --depth 12", {12, 12});
  write_model(runs, "models/per_layer.resdyn", per_layer, 0.0306, "--weights per-layer --depth 6", {6, 6});
  write_model(runs, "models/mlp.resdyn", mlp, 0.0276, "--arch mlp --depth 4", {4, 4});
  write_model(runs, "pruning/shared.resdyn", tiny_net(Arch::ResNet, Weights::Shared, 5), 0.02,
              "--weights shared --depth 12 --prune-threshold 0.01", {12, 8, 5});
  write_model(runs, "pruning/per_layer.resdyn", tiny_net(Arch::ResNet, Weights::PerLayer, 3), 0.025,
              "--weights per-layer --depth 6 --prune-threshold=0.01", {6, 4, 3});
  write_model(runs, "pruning/shared_fixed.resdyn", tiny_net(Arch::ResNet, Weights::Shared, 5), 0.021,
              "--weights shared --depth 5", {5, 5, 5});

  const auto dynamics = [&](const resdyn::Net<float>& net, const std::string& dir, int unroll) {
    resdyn::DynamicsExperimentOptions o;
    o.samples_per_class = kPerClass;
    o.unroll = unroll;
    o.out_dir = runs + "/" + dir;
    resdyn::run_dynamics_experiment(net, test, o);
    write_text(o.out_dir + "/command.txt", "resdyn dynamics --out RUNS/" + dir + "\n");
  };
  dynamics(shared, "dynamics/shared", 0);
  dynamics(shared, "dynamics/shared_unrolled", 200);
  dynamics(per_layer, "dynamics/per_layer", 0);
  dynamics(mlp, "dynamics/mlp", 0);
  dynamics(mlp, "dynamics/mlp_unrolled", 200);
  for (const auto& [name, net] : std::vector<std::pair<std::string, const resdyn::Net<float>*>>{
           {"shared", &shared}, {"per_layer", &per_layer}, {"mlp", &mlp}}) {
    resdyn::NoiseExperimentOptions o;
    o.noise.realizations = 2;
    o.out_dir = runs + "/noise/" + name;
    resdyn::run_noise_experiment(*net, test, o);
  }
  resdyn::SpectrumOptions spectrum;
  spectrum.unroll = 50;
  spectrum.samples_per_class = kPerClass;
  spectrum.out_dir = runs + "/spectrum/shared";
  resdyn::run_spectrum_experiment(shared, test, spectrum);
  for (const auto& [name, net] :
       std::vector<std::pair<std::string, const resdyn::Net<float>*>>{{"shared", &shared}, {"per_layer", &per_layer}}) {
    resdyn::SensitivityOptions o;
    o.samples_per_class = 2;
    o.out_dir = runs + "/sensitivity/" + name;
    resdyn::run_sensitivity_experiment(*net, test, o);
  }
  const auto embed = [&](const resdyn::Net<float>& net, const std::string& dir, resdyn::EmbedMethod method,
                         resdyn::EmbedOf of) {
    resdyn::EmbedExperimentOptions o;
    o.method = method;
    o.of = of;
    o.samples_per_class = kPerClass;
    o.tsne.perplexity = 10;
    o.tsne.iterations = 300;
    o.umap.epochs = 50;
    o.out_dir = runs + "/" + dir;
    resdyn::run_embed_experiment(net, test, o);
  };
  embed(shared, "embed/tsne_final_resnet", resdyn::EmbedMethod::Tsne, resdyn::EmbedOf::Final);
  embed(mlp, "embed/tsne_final_mlp", resdyn::EmbedMethod::Tsne, resdyn::EmbedOf::Final);
  embed(shared, "embed/umap_trajectory_resnet", resdyn::EmbedMethod::Umap, resdyn::EmbedOf::Trajectory);
}

// The runs are made once for all the tests below, then copied where a test changes them.
const std::string& full_runs() {
  static TempDir dir("runs");
  static const bool made = (make_runs(dir.path), true);
  (void)made;
  return dir.path;
}

// The parsed SVG of a figure.
std::unique_ptr<xml_check::Element> figure_svg(const std::string& report, const std::string& id) {
  const std::string text = read_text(report + "/figures/" + id + ".svg");
  EXPECT_FALSE(text.empty()) << id;
  auto root = xml_check::XmlParser(text).parse();
  EXPECT_EQ(root->name, "svg");
  return root;
}

std::size_t count(const xml_check::Element& root, const std::string& name, const std::string& css_class) {
  return xml_check::find_all(root, name, css_class).size();
}

// Rectangles inside <g class="cells">: the heatmap's cells.
std::size_t cells(const xml_check::Element& root) {
  std::size_t n = 0;
  for (const xml_check::Element* g : xml_check::find_all(root, "g", "cells"))
    n += xml_check::find_all(*g, "rect").size();
  return n;
}

// Every src and href of the page, split into anchors (#id) and relative file links;
// fails the test on any absolute or external link.
void check_links(const std::string& report, const xml_check::Element& page) {
  std::vector<const xml_check::Element*> all;
  xml_check::collect(page, all);
  std::set<std::string> ids;
  for (const xml_check::Element* e : all)
    if (!e->attribute("id").empty()) ids.insert(e->attribute("id"));
  int links = 0;
  for (const xml_check::Element* e : all) {
    for (const char* attribute : {"src", "href"}) {
      const std::string target = e->attribute(attribute);
      if (target.empty()) continue;
      ++links;
      if (target[0] == '#') {
        EXPECT_TRUE(ids.count(target.substr(1))) << "anchor " << target << " has no element";
        continue;
      }
      EXPECT_EQ(target.find(':'), std::string::npos) << "not a relative link: " << target;
      EXPECT_NE(target[0], '/') << "not a relative link: " << target;
      EXPECT_EQ(target.find(".."), std::string::npos) << "link leaves the report: " << target;
      EXPECT_TRUE(fs::is_regular_file(report + "/" + target)) << "links to a missing file: " << target;
    }
  }
  EXPECT_GT(links, 0);
  EXPECT_TRUE(xml_check::find_all(page, "script").empty());
}

// "nan" as a word would be a number that leaked into the text unformatted.
void expect_no_nan_word(const std::string& text) {
  const auto letter = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
  for (std::size_t at = text.find("nan"); at != std::string::npos; at = text.find("nan", at + 1))
    EXPECT_TRUE((at > 0 && letter(text[at - 1])) || (at + 3 < text.size() && letter(text[at + 3])))
        << text.substr(at < 60 ? 0 : at - 60, 120);
}

std::unique_ptr<xml_check::Element> parse_page(const std::string& report) {
  const std::string text = read_text(report + "/index.html");
  auto page = xml_check::XmlParser(text).parse();  // the page is written XHTML-compatible
  EXPECT_EQ(page->name, "html");
  check_links(report, *page);
  return page;
}

TEST(Report, DrawsEveryFigureFromCompleteRuns) {
  const std::string& runs = full_runs();
  TempDir report("full");
  const resdyn::report::ReportSummary summary = resdyn::report::write_report(runs, report.path, "resdyn report");
  // Every figure has its runs except the MLP's UMAP panel and per-layer fixed-depth log,
  // which only make those figures partial.
  EXPECT_EQ(summary.not_run, std::vector<std::string>{});
  EXPECT_EQ(summary.drawn.size(), 24u);
  // The models table adds up each epoch log's seconds (2 epochs of 2 s for the shared net).
  EXPECT_NE(read_text(report.path + "/index.html").find("<td>0.0667 min, 2 epochs</td>"), std::string::npos);
  for (const auto& entry : fs::directory_iterator(report.path + "/figures")) {
    const auto root = xml_check::XmlParser(read_text(entry.path().string())).parse();
    EXPECT_EQ(root->name, "svg") << entry.path();
    EXPECT_FALSE(root->attribute("viewBox").empty()) << entry.path();
  }

  // Lines: one per class, one per class and panel, one per model.
  EXPECT_EQ(count(*figure_svg(report.path, "1A"), "path", "series"), 10u);
  EXPECT_EQ(count(*figure_svg(report.path, "1B"), "path", "series"), 10u);
  for (const char* id : {"2A", "2B", "2C"}) {
    const auto svg = figure_svg(report.path, id);
    EXPECT_EQ(count(*svg, "path", "series"), 20u) << id;  // mean ± spread and spread, per class
    EXPECT_EQ(count(*svg, "path", "band"), 10u) << id;
  }
  for (const char* id : {"3A", "3B"}) {
    const auto svg = figure_svg(report.path, id);
    EXPECT_EQ(count(*svg, "path", "series"), 100u) << id;  // 10 panels of 10 neurons
    EXPECT_EQ(count(*svg, "g", "line-plot"), 10u) << id;
  }
  for (const char* id : {"4A", "4B", "noise-error"}) {
    const auto svg = figure_svg(report.path, id);
    EXPECT_EQ(count(*svg, "path", "series"), 3u) << id;  // shared, per-layer, MLP
    EXPECT_EQ(count(*svg, "path", "band"), 3u) << id;
  }
  // Heatmaps: classes x classes, classes x neurons.
  EXPECT_EQ(cells(*figure_svg(report.path, "1C")), 100u);
  EXPECT_EQ(cells(*figure_svg(report.path, "6B")), 100u);
  EXPECT_EQ(cells(*figure_svg(report.path, "6C")), 100u);
  for (const char* id : {"5A", "5B", "5C", "5D"}) EXPECT_EQ(cells(*figure_svg(report.path, id)), 80u) << id;
  // Scatter plots: one path of dots per class and panel present.
  EXPECT_EQ(count(*figure_svg(report.path, "1D"), "g", "scatter-plot"), 2u);
  EXPECT_EQ(count(*figure_svg(report.path, "1D"), "path", "points"), 20u);
  EXPECT_EQ(count(*figure_svg(report.path, "6A"), "g", "scatter-plot"), 1u);  // no MLP UMAP run
  const auto spectra = figure_svg(report.path, "spectra");
  EXPECT_EQ(count(*spectra, "g", "scatter-plot"), 2u);
  EXPECT_EQ(count(*spectra, "path", "series"), 2u);  // zero line, largest real part
  // The exact fixed points: residuals before and after Newton, and each point's largest real part.
  EXPECT_EQ(count(*figure_svg(report.path, "fixed-points"), "g", "scatter-plot"), 2u);
  const auto sensitivity = figure_svg(report.path, "sensitivity");
  EXPECT_EQ(count(*sensitivity, "path", "series"), 40u);  // 2 nets x 2 panels x 10 classes
  EXPECT_EQ(count(*sensitivity, "path", "band"), 20u);
  const auto pruning = figure_svg(report.path, "pruning");
  // depth and d: the two pruned runs and the fixed one; d also the threshold; error: all three.
  EXPECT_EQ(count(*pruning, "path", "series"), 3u + 4u + 3u);
  EXPECT_EQ(count(*figure_svg(report.path, "training"), "path", "series"), 6u);

  // The page: well-formed, linking only to files that exist, with the numbers copied.
  const auto page = parse_page(report.path);
  EXPECT_EQ(xml_check::find_all(*page, "img").size(), 24u);
  EXPECT_TRUE(fs::is_regular_file(report.path + "/data/dynamics/shared/trajectory_stats.csv"));
  EXPECT_TRUE(fs::is_regular_file(report.path + "/data/dynamics/shared/summary.json"));
  EXPECT_EQ(read_text(report.path + "/data/noise/mlp/noise.csv"), read_text(runs + "/noise/mlp/noise.csv"));
  const std::string html = read_text(report.path + "/index.html");
  EXPECT_NE(html.find("resdyn dynamics --out RUNS/dynamics/shared"), std::string::npos);  // command.txt quoted
  EXPECT_NE(html.find("resdyn train --weights shared --depth 12"), std::string::npos);    // model metadata quoted
  EXPECT_NE(html.find("1.79 %"), std::string::npos);                                      // its test error
  EXPECT_NE(html.find("5 layers (from 12, width 8) / test error 2.00 %"), std::string::npos);
  EXPECT_NE(html.find("Partly run."), std::string::npos);  // 6A and pruning miss a run
  // Every claim has a verdict and its rule.
  EXPECT_NE(html.find("<th>verdict (rule)</th>"), std::string::npos);
  EXPECT_NE(html.find("holds when the rule is met for at least 8 of 10 classes"), std::string::npos);
  EXPECT_NE(html.find("The logit change is the mean over 8 random directions per sample"), std::string::npos);
  // The definitions are named where a reader of the repository finds them.
  EXPECT_NE(html.find("Definitions: the section “Where the paper is in the code” of <code>README.md</code>"),
            std::string::npos);
  EXPECT_NE(html.find("<code>include/resdyn.h</code>"), std::string::npos);
  expect_no_nan_word(html);
}

TEST(Report, MissingRunsAreNotRunNotesWithTheCommandToRun) {
  TempDir runs("empty_runs");
  TempDir report("empty");
  const resdyn::report::ReportSummary summary = resdyn::report::write_report(runs.path, report.path, "resdyn report");
  EXPECT_TRUE(summary.drawn.empty());
  EXPECT_EQ(summary.not_run.size(), 24u);
  const auto page = parse_page(report.path);
  EXPECT_TRUE(xml_check::find_all(*page, "img").empty());
  const std::string html = read_text(report.path + "/index.html");
  EXPECT_NE(html.find("Not run."), std::string::npos);
  EXPECT_NE(html.find("resdyn train --weights shared --out " + runs.path +
                      "/models/shared.resdyn  and then  "
                      "resdyn dynamics --model " +
                      runs.path + "/models/shared.resdyn --out " + runs.path + "/dynamics/shared"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { resdyn::report::write_report(runs.path + "/absent", report.path, "x"); }),
            runs.path + "/absent: runs directory not found (tools/paper_runs.sh makes one)");
}

TEST(Report, AMissingFileOfOneRunOnlyAffectsItsFigures) {
  TempDir runs("partial_runs");
  fs::copy(full_runs(), runs.path, fs::copy_options::recursive);
  fs::remove_all(runs.path + "/noise/mlp");
  fs::remove(runs.path + "/dynamics/shared/distance_matrix.csv");
  fs::remove_all(runs.path + "/dynamics/shared_unrolled");  // 2A, 5A, 5B fall back to the trained depth
  TempDir report("partial");
  const resdyn::report::ReportSummary summary = resdyn::report::write_report(runs.path, report.path, "resdyn report");
  EXPECT_EQ(summary.not_run, std::vector<std::string>{"1C"});
  EXPECT_EQ(count(*figure_svg(report.path, "4A"), "path", "series"), 2u);
  parse_page(report.path);
  const std::string html = read_text(report.path + "/index.html");
  EXPECT_NE(html.find("resdyn noise --model " + runs.path + "/models/mlp.resdyn --out " + runs.path + "/noise/mlp"),
            std::string::npos);
  EXPECT_NE(html.find("resdyn dynamics --unroll 1000 --model " + runs.path + "/models/shared.resdyn --out " +
                      runs.path + "/dynamics/shared_unrolled"),
            std::string::npos);
  EXPECT_EQ(count(*figure_svg(report.path, "2A"), "path", "series"), 20u);  // from dynamics/shared
  EXPECT_EQ(cells(*figure_svg(report.path, "5A")), 80u);
}

TEST(Report, ARunOlderThanItsModelIsMarkedStale) {
  TempDir runs("stale_runs");
  fs::copy(full_runs(), runs.path, fs::copy_options::recursive);
  // A copy's times follow the copying order; give every file the same time first.
  const fs::file_time_type made = fs::last_write_time(runs.path);
  for (const auto& entry : fs::recursive_directory_iterator(runs.path))
    if (entry.is_regular_file()) fs::last_write_time(entry.path(), made);
  TempDir report("stale");
  resdyn::report::write_report(runs.path, report.path, "resdyn report");
  EXPECT_EQ(read_text(report.path + "/index.html").find("STALE"), std::string::npos);
  const std::string model = runs.path + "/models/per_layer.resdyn";
  fs::last_write_time(model, fs::last_write_time(model) + std::chrono::hours(1));  // retrained after its runs
  resdyn::report::write_report(runs.path, report.path, "resdyn report");
  const std::string html = read_text(report.path + "/index.html");
  EXPECT_NE(html.find("dynamics/per_layer on models/per_layer.resdyn"), std::string::npos);
  EXPECT_NE(html.find("STALE: older than its model"), std::string::npos);
  EXPECT_EQ(html.find("dynamics/shared on models/shared.resdyn (shared-weight ResNet, 12 layers x 8 units, 2 epochs, "
                      "test error 1.79 %); STALE"),
            std::string::npos);
}

TEST(Report, MalformedRunFilesAreErrorsNamingFileAndLine) {
  TempDir runs("bad_runs");
  fs::copy(full_runs(), runs.path, fs::copy_options::recursive);
  TempDir report("bad");
  const std::string stats = runs.path + "/dynamics/shared/trajectory_stats.csv";
  std::string text = read_text(stats);
  const std::size_t third_line = text.find('\n', text.find('\n') + 1) + 1;
  write_text(stats, text.substr(0, third_line) + "0,2,0.5\n" + text.substr(third_line));
  EXPECT_EQ(error_of([&] { resdyn::report::write_report(runs.path, report.path, "x"); }),
            stats + ":3: 3 cells where the header has 4");
  EXPECT_FALSE(fs::exists(report.path + "/index.html"));  // no page that links half-written figures

  write_text(stats, text);
  const std::string summary = runs.path + "/noise/shared/summary.json";
  write_text(summary, "{\n  \"a10\": 0.5,\n  \"clean_error\": .9\n}\n");
  EXPECT_EQ(error_of([&] { resdyn::report::write_report(runs.path, report.path, "x"); }),
            summary + ":3:18: unexpected character '.'");
}

TEST(Report, CommandLineWritesThePage) {
  const std::string& runs = full_runs();
  TempDir report("cli");
  std::vector<std::string> words = {"report", "--runs", runs, "--out", report.path + "/page"};
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  const resdyn::cli::CommandSpec spec = resdyn::cli::report_spec();
  const resdyn::cli::Flags flags(spec, int(argv.size()), argv.data(), 1);
  testing::internal::CaptureStdout();
  EXPECT_EQ(resdyn::cli::run_report(flags), 0);
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("report: 24 figures drawn, 0 not run"), std::string::npos) << out;
  EXPECT_TRUE(fs::is_regular_file(report.path + "/page/index.html"));
  const std::vector<std::string> missing_out = {"report", "--runs", runs};
  std::vector<char*> argv2;
  for (const std::string& w : missing_out) argv2.push_back(const_cast<char*>(w.c_str()));
  const resdyn::cli::Flags no_out(spec, int(argv2.size()), argv2.data(), 1);
  EXPECT_NE(error_of([&] { resdyn::cli::run_report(no_out); }).find("--out"), std::string::npos);
}

}  // namespace
