#include "report/figure.h"

#include <algorithm>
#include <filesystem>

#include "experiments/run_file_names.h"
#include "report/runs_layout.h"

namespace resdyn::report {

namespace {

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

void add_unique(std::vector<std::string>& list, const std::string& item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

}  // namespace

void write_report_file(const std::string& path, const std::string& text) {
  const std::string parent = std::filesystem::path(path).parent_path().string();
  if (!parent.empty()) make_directories(parent);
  write_text_atomically(path, text);
}

FigureContext::FigureContext(std::string runs_dir, std::string report_dir)
    : runs_(runs_dir), runs_dir_(std::move(runs_dir)), report_dir_(std::move(report_dir)) {}

Figure FigureContext::start(std::string id, std::string title, std::string paper) {
  Figure figure;
  figure.id = std::move(id);
  figure.title = std::move(title);
  figure.paper = std::move(paper);
  return figure;
}

std::string FigureContext::with_runs(const std::string& command) const {
  std::string out = command;
  for (std::size_t at = out.find("RUNS"); at != std::string::npos; at = out.find("RUNS", at + runs_dir_.size()))
    out.replace(at, 4, runs_dir_);
  return out;
}

std::string FigureContext::owner_of(const std::string& file) const {
  if (ends_with(file, ".resdyn")) return file;
  if (ends_with(file, ".resdyn.csv")) return file.substr(0, file.size() - 4);  // a model's epoch log
  return file.substr(0, file.rfind('/'));
}

std::string FigureContext::command_for(const std::string& file) {
  const std::string owner = owner_of(file);
  if (ends_with(owner, ".resdyn")) return with_runs(model_layout(owner).command);
  const RunLayout& run = run_layout(owner);
  const std::string command = with_runs(run.command);
  if (runs_.exists(run.model)) return command;
  return with_runs(model_layout(run.model).command) + "  and then  " + command;
}

bool FigureContext::require(Sources& sources, const std::vector<std::string>& files) {
  bool all = true;
  for (const std::string& file : files) {
    if (runs_.exists(file)) continue;
    all = false;
    add_unique(sources.missing, runs_.path(file));
    add_unique(sources.commands, command_for(file));
  }
  return all;
}

bool FigureContext::any(const std::vector<std::string>& files) {
  for (const std::string& file : files)
    if (runs_.exists(file)) return true;
  return false;
}

Provenance FigureContext::model_provenance(const std::string& model_file) {
  const ModelInfo* info = runs_.model(model_file);
  if (!info) return {model_file + " (missing)", ""};
  return {model_file + ": " + info->summary(), info->meta(run_files::model_metadata::command)};
}

void FigureContext::use(Sources& sources, const std::string& file) {
  const auto copy = [&](const std::string& relative) {
    const std::string link = "data/" + relative;
    add_unique(sources.data, link);
    if (!copied_.insert(relative).second) return;
    const std::vector<uint8_t> bytes = read_file(runs_.path(relative));
    write_report_file(report_dir_ + "/" + link, std::string(bytes.begin(), bytes.end()));
  };
  copy(file);
  const std::string owner = owner_of(file);
  Provenance made;
  if (ends_with(owner, ".resdyn")) {
    made = model_provenance(owner);
  } else {
    if (runs_.exists(summary_of(owner))) copy(summary_of(owner));
    const RunLayout& run = run_layout(owner);
    const ModelInfo* model = runs_.model(run.model);
    made.what =
        owner + " on " + (model ? run.model + " (" + model->summary() + ")" : run.model + " (model file missing)");
    made.command = runs_.command_of(owner);
    if (made.command.empty()) made.what += "; its command was not recorded (no command.txt)";
    // A run made before its model was last trained describes a model that no longer exists.
    std::error_code run_error, model_error;
    const auto run_time = std::filesystem::last_write_time(runs_.path(file), run_error);
    const auto model_time = std::filesystem::last_write_time(runs_.path(run.model), model_error);
    if (!run_error && !model_error && run_time < model_time) made.what += "; STALE: older than its model, run it again";
  }
  for (const Provenance& p : sources.provenance)
    if (p.what == made.what) return;
  sources.provenance.push_back(made);
}

void FigureContext::save(Figure& figure, const plot::Chart& chart, double width, double height) {
  figure.svg = "figures/" + figure.id + ".svg";
  write_report_file(report_dir_ + "/" + figure.svg, chart.svg(width, height));
}

void FigureContext::save(Figure& figure, const plot::PanelGrid& grid) {
  figure.svg = "figures/" + figure.id + ".svg";
  write_report_file(report_dir_ + "/" + figure.svg, grid.svg());
}

}  // namespace resdyn::report
