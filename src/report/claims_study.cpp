// The claims over seeds and training recipes; see claims_study.h.
#include "report/claims_study.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "experiments/run_file_names.h"
#include "output/csv.h"
#include "report/figure.h"
#include "report/figure_parts.h"
#include "report/runs_layout.h"

namespace resdyn::report {

namespace {

// The names of the subdirectories of `dir`, sorted; none when it does not exist.
std::vector<std::string> subdirectories(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) return names;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error))
    if (entry.is_directory(error)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The flags of a training command that make a recipe, those it gives of them.
std::string recipe_flags_of(const std::string& command) {
  std::string flags;
  for (const char* name : {"optimizer", "lr", "momentum", "schedule", "shift", "batch", "epochs"}) {
    const std::string value = flag_value(command, name);
    if (!value.empty()) flags += std::string(flags.empty() ? "" : " ") + "--" + name + " " + value;
  }
  return flags;
}

// Both claims tables of one runs directory, and its shared net's recipe flags.
std::vector<ClaimRow> claims_of(const std::string& runs_dir, const std::string& report_dir, std::string& flags) {
  make_directories(report_dir + "/figures");
  FigureContext context(runs_dir, report_dir);
  std::vector<ClaimRow> rows = paper_table(context);
  for (ClaimRow& r : further_claims(context)) rows.push_back(std::move(r));
  if (const ModelInfo* shared = context.runs().model(layout::shared_model))
    flags = recipe_flags_of(shared->meta(run_files::model_metadata::command));
  return rows;
}

}  // namespace

StudyCell summarise_runs(const std::vector<ClaimRow>& rows) {
  StudyCell cell;
  cell.runs = int(rows.size());
  double sum = 0.0;
  for (const ClaimRow& r : rows) {
    cell.holds += r.verdict == Verdict::holds;
    cell.decided += r.verdict != Verdict::undecided;
    if (!std::isfinite(r.value)) continue;
    ++cell.values;
    sum += r.value;
  }
  cell.mean = cell.values > 0 ? sum / cell.values : NAN;
  double squares = 0.0;
  for (const ClaimRow& r : rows)
    if (std::isfinite(r.value)) squares += (r.value - cell.mean) * (r.value - cell.mean);
  cell.sd = cell.values > 1 ? std::sqrt(squares / (cell.values - 1)) : cell.values == 1 ? 0.0 : NAN;
  return cell;
}

ClaimsStudy read_claims_study(const std::string& runs_dir, const std::string& report_dir) {
  ClaimsStudy study;
  const std::string root = runs_dir + "/claims";
  std::vector<std::vector<std::vector<ClaimRow>>> by_claim;  // [claim][recipe][run]
  for (const std::string& recipe : subdirectories(root)) {
    const std::vector<std::string> runs = subdirectories(root + "/" + recipe);
    if (runs.empty()) continue;
    study.recipes.push_back(recipe);
    study.runs.emplace_back();
    study.recipe_flags.emplace_back();
    for (const std::string& run : runs) {
      study.runs.back().push_back("claims/" + recipe + "/" + run);
      std::string flags;
      const std::vector<ClaimRow> rows =
          claims_of(root + "/" + recipe + "/" + run, report_dir + "/data/claims/" + recipe + "/" + run, flags);
      if (study.recipe_flags.back().empty()) study.recipe_flags.back() = flags;
      if (by_claim.empty()) {
        by_claim.resize(rows.size());
        for (const ClaimRow& r : rows) study.rows.push_back({r.claim, r.paper, r.rule, r.value_name, {}});
      }
      for (std::size_t k = 0; k < rows.size(); ++k) {
        by_claim[k].resize(study.recipes.size());
        by_claim[k].back().push_back(rows[k]);
      }
    }
  }
  for (std::size_t k = 0; k < study.rows.size(); ++k)
    for (const std::vector<ClaimRow>& runs : by_claim[k]) study.rows[k].recipes.push_back(summarise_runs(runs));
  return study;
}

void write_claims_study_csv(const ClaimsStudy& study, const std::string& path) {
  output::Csv csv({"claim", "recipe", "runs", "holds", "decided", "value", "mean", "sd"});
  for (const StudyRow& row : study.rows)
    for (std::size_t k = 0; k < study.recipes.size(); ++k) {
      const StudyCell& c = row.recipes[k];
      csv.row().cell(row.claim).cell(study.recipes[k]).cell(c.runs).cell(c.holds).cell(c.decided);
      csv.cell(row.value_name).cell(c.mean).cell(c.sd);
    }
  csv.save(path);
}

}  // namespace resdyn::report
