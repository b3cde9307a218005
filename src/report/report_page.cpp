#include "report/report_page.h"

#include "experiments/run_file_names.h"
#include "plot/svg.h"
#include "report/claims_study.h"
#include "report/claims_table.h"
#include "report/number_text.h"
#include "report/paper_figures.h"
#include "report/runs_layout.h"

namespace resdyn::report {

namespace {

std::string html(const std::string& text) { return plot::escape_xml(text); }

std::string code(const std::string& text) { return "<code>" + html(text) + "</code>"; }

std::string link(const std::string& href, const std::string& text) {
  return "<a href=\"" + html(href) + "\">" + html(text) + "</a>";
}

// Simple, readable, print-friendly; no web fonts, no scripts.
const char* kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #222;
       max-width: 1220px; margin: 1.5em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { margin-top: 2em; border-bottom: 2px solid #ccc; padding-bottom: 0.2em; }
h3 { margin-bottom: 0.3em; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
th, td { border: 1px solid #c8c8c8; padding: 0.35em 0.5em; vertical-align: top; text-align: left; }
th { background: #f0f0f0; }
td.ours { font-weight: 600; }
code { background: #f4f4f4; padding: 0 0.2em; font-size: 0.9em; overflow-wrap: anywhere; }
section.figure { border-top: 1px solid #ddd; margin-top: 2em; padding-top: 0.5em; }
section.figure img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; border: 1px solid #eee; }
p.paper { color: #444; }
.not-run { background: #fff6e0; border: 1px solid #e0b050; padding: 0.5em 0.8em; margin: 0.5em 0; }
.small { font-size: 0.88em; color: #444; }
nav a { margin-right: 0.6em; white-space: nowrap; }
)";

std::string sources_html(const Sources& sources) {
  std::string out;
  if (!sources.missing.empty()) {
    out += "<div class=\"not-run\"><b>" + std::string(sources.data.empty() ? "Not run." : "Partly run.") +
           "</b> Missing: ";
    for (std::size_t i = 0; i < sources.missing.size(); ++i) out += (i ? ", " : "") + code(sources.missing[i]);
    out += ".<br />To produce: ";
    for (std::size_t i = 0; i < sources.commands.size(); ++i) out += (i ? "<br />" : "") + code(sources.commands[i]);
    out += "</div>\n";
  }
  if (!sources.data.empty()) {
    out += "<p class=\"small\">Numbers: ";
    for (std::size_t i = 0; i < sources.data.size(); ++i)
      out += (i ? ", " : "") + link(sources.data[i], sources.data[i].substr(5));  // without "data/"
    out += "</p>\n";
  }
  for (const Provenance& p : sources.provenance)
    out += "<p class=\"small\">Made by: " + html(p.what) + (p.command.empty() ? "" : "<br />" + code(p.command)) +
           "</p>\n";
  return out;
}

std::string claims_html(const std::vector<ClaimRow>& rows, const std::vector<Figure>& figures) {
  std::string out =
      "<table>\n<tr><th>claim (paper)</th><th>paper's figure</th><th>ours</th><th>verdict (rule)</th><th>figure</th>"
      "<th>models and commands</th></tr>\n";
  for (const ClaimRow& r : rows) {
    std::string figure;
    for (const Figure& f : figures)
      if (f.id == r.figure) figure = link("#fig-" + f.id, f.id);
    std::string made;
    for (const Provenance& p : r.provenance)
      made += "<div>" + html(p.what) + (p.command.empty() ? "" : "<br />" + code(p.command)) + "</div>";
    if (!r.missing.empty()) {
      made += "<div class=\"not-run\">To produce: ";
      for (std::size_t i = 0; i < r.commands.size(); ++i) made += (i ? "<br />" : "") + code(r.commands[i]);
      made += "</div>";
    }
    out += "<tr><td>" + html(r.claim) + "</td><td>" + html(r.paper) + "</td><td class=\"ours\">" + html(r.ours) +
           "</td><td><b class=\"verdict\">" + verdict_text(r.verdict) + "</b><br /><span class=\"small\">" +
           html(r.rule) + "</span></td><td>" + figure + "</td><td class=\"small\">" + made + "</td></tr>\n";
  }
  return out + "</table>\n";
}

// The claims study: per claim and recipe, the runs in which it holds and its figure's spread.
std::string study_html(const ClaimsStudy& study, const std::string& runs_dir) {
  std::string out =
      "<p>Each run is a runs directory of its own under " + code(runs_dir + "/claims") +
      " (one training seed and one recipe; its commands are in each model's metadata and each run's " +
      code("command.txt") +
      "), decided by the rules of the tables above. Per recipe: the runs in which the claim holds (of those "
      "decided), and the mean ± standard deviation over runs of the figure its rule tests. Numbers: " +
      link("data/claims_study.csv", "claims_study.csv") + ".</p>\n<table>\n<tr><th>claim (paper)</th><th>rule</th>";
  for (std::size_t k = 0; k < study.recipes.size(); ++k)
    out += "<th>" + html(study.recipes[k]) + " (" + std::to_string(study.runs[k].size()) + " runs)" +
           (study.recipe_flags[k].empty()
                ? ""
                : "<br /><span class=\"small\">shared net: " + code(study.recipe_flags[k]) + "</span>") +
           "</th>";
  out += "</tr>\n";
  for (const StudyRow& row : study.rows) {
    out += "<tr><td>" + html(row.claim) + " <span class=\"small\">(paper: " + html(row.paper) +
           ")</span></td><td class=\"small\">" + html(row.rule) + "</td>";
    for (const StudyCell& c : row.recipes)
      out += "<td><b>holds in " + std::to_string(c.holds) + " of " + std::to_string(c.decided) + "</b>" +
             (c.decided < c.runs ? " (" + std::to_string(c.runs - c.decided) + " undecided)" : std::string()) +
             "<br /><span class=\"small\">" + html(row.value_name) + ": " + number_text(c.mean) + " ± " +
             number_text(c.sd) + "</span></td>";
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string models_html(FigureContext& context) {
  std::string out =
      "<table>\n<tr><th>model</th><th>role</th><th>what it is</th><th>training time</th><th>trained by</th></tr>\n";
  int present = 0;
  for (const ModelLayout& layout : model_layouts()) {
    const ModelInfo* info = context.runs().model(layout.file);
    if (!info) continue;
    ++present;
    Sources log;
    std::string file = html(layout.file);
    std::string time = "(no epoch log)";  // the model file holds no timing, so it stays reproducible
    if (const output::CsvTable* epochs = context.runs().csv(epoch_log(layout.file))) {
      context.use(log, epoch_log(layout.file));
      file += "<br />" + link(log.data.front(), "epoch log");
      if (epochs->has_column("seconds")) {
        double seconds = 0;
        for (const double s : epochs->numbers("seconds")) seconds += s;
        time = number_text(seconds / 60, 3) + " min, " + std::to_string(epochs->rows()) + " epochs";
      }
    }
    out += "<tr><td>" + file + "</td><td>" + html(layout.description) + "</td><td>" + html(info->summary()) +
           "</td><td>" + html(time) + "</td><td>" +
           (info->meta(run_files::model_metadata::command).empty()
                ? "(not recorded)"
                : code(info->meta(run_files::model_metadata::command))) +
           "</td></tr>\n";
  }
  if (present == 0) return "<p>No models in the runs directory yet.</p>\n";
  return out + "</table>\n";
}

std::string figure_html(const Figure& f) {
  std::string out = "<section class=\"figure\" id=\"fig-" + html(f.id) + "\">\n<h3>Figure " + html(f.id) + ". " +
                    html(f.title) + "</h3>\n";
  if (!f.svg.empty())
    out += "<img src=\"" + html(f.svg) + "\" alt=\"Figure " + html(f.id) + ": " + html(f.title) + "\" />\n";
  if (!f.shows.empty()) out += "<p><b>Ours:</b> " + html(f.shows) + "</p>\n";
  out += "<p class=\"paper\"><b>Paper:</b> " + html(f.paper) + "</p>\n";
  return out + sources_html(f) + "</section>\n";
}

}  // namespace

ReportSummary write_report(const std::string& runs_dir, const std::string& report_dir,
                           const std::string& command_line) {
  if (path_kind(runs_dir) != PathKind::Directory)
    throw Error(runs_dir + ": runs directory not found (tools/paper_runs.sh makes one)");
  make_directories(report_dir + "/figures");

  FigureContext context(runs_dir, report_dir);
  const std::vector<Figure> figures = draw_all_figures(context);
  const std::vector<ClaimRow> table = paper_table(context);
  const std::vector<ClaimRow> further = further_claims(context);
  const ClaimsStudy study = read_claims_study(runs_dir, report_dir);
  if (!study.recipes.empty()) write_claims_study_csv(study, report_dir + "/data/claims_study.csv");

  ReportSummary summary;
  summary.index = report_dir + "/index.html";
  for (const Figure& f : figures) (f.svg.empty() ? summary.not_run : summary.drawn).push_back(f.id);

  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n"
      "<title>resdyn: the paper's figures from our runs</title>\n<style>" +
      std::string(kStyle) + "</style>\n</head>\n<body>\n";
  page +=
      "<h1>Residual networks classify inputs based on their neural transient dynamics: the figures, from our "
      "runs</h1>\n";
  page += "<p>Every figure of the paper (Lagzi; figure 1 is the workshop version's) redrawn from the runs in " +
          code(runs_dir) +
          ", with what it shows and what the paper claims, and the paper's main results beside our "
          "measurements. " +
          std::to_string(summary.drawn.size()) + " of " + std::to_string(figures.size()) + " figures drawn" +
          (summary.not_run.empty() ? ""
                                   : "; the others say which run is missing and how to make it (" +
                                         code("tools/paper_runs.sh small|paper " + runs_dir) + " makes them all)") +
          ". Written by " + code(command_line) + ". Definitions: the section “Where the paper is in the code” of " +
          code("README.md") + ", and the manual at the top of " + code("include/resdyn.h") + ".</p>\n";
  page += "<nav><b>Contents:</b> " + link("#table", "the paper's results") + " " + link("#further", "further claims") +
          " " + (study.recipes.empty() ? "" : link("#study", "over seeds and recipes") + " ") +
          link("#models", "models");
  for (const Figure& f : figures) page += " " + link("#fig-" + f.id, f.id);
  page += "</nav>\n";
  page += "<h2 id=\"table\">The paper's main results beside our measurements</h2>\n" + claims_html(table, figures);
  page += "<h2 id=\"further\">Further claims of the paper's text</h2>\n" + claims_html(further, figures);
  if (!study.recipes.empty())
    page += "<h2 id=\"study\">The claims over training seeds and recipes</h2>\n" + study_html(study, runs_dir);
  page += "<h2 id=\"models\">Models</h2>\n" + models_html(context);
  page += "<h2 id=\"figures\">Figures</h2>\n";
  for (const Figure& f : figures) page += figure_html(f);
  page += "</body>\n</html>\n";
  // Last, so that the page appears only once everything it links to is in place.
  write_text_atomically(summary.index, page);
  return summary;
}

}  // namespace resdyn::report
