// The claims over seeds and training recipes (tools/paper_runs.sh claims): RUNS/claims/RECIPE/RUN
// are runs directories of their own (the nets and analyses the claims tables need, one seed
// and one recipe each), and every claim of the two claims tables is decided in each by the
// same written rule as in the main tables. Per claim and recipe: in how many runs it holds,
// and the mean and standard deviation of the figure its rule tests.
#pragma once

#include <string>
#include <vector>

#include "report/claims_table.h"

namespace resdyn::report {

struct StudyCell {
  int runs = 0;                 // runs of the recipe
  int holds = 0;                // runs in which the claim holds
  int decided = 0;              // runs with a verdict (holds or does not hold)
  int values = 0;               // runs with a finite figure
  double mean = 0.0, sd = 0.0;  // of the figure over those runs (sd divided by values - 1; 0 for one)
};

struct StudyRow {
  std::string claim, paper, rule, value_name;
  std::vector<StudyCell> recipes;  // in ClaimsStudy::recipes order
};

struct ClaimsStudy {
  std::vector<std::string> recipes;            // subdirectory names of RUNS/claims, sorted
  std::vector<std::vector<std::string>> runs;  // per recipe, its run directories (relative to RUNS)
  // Per recipe, the training flags that make it, as its first run's shared net was trained:
  // e.g. "--optimizer adam --shift 1" (empty when that model is missing).
  std::vector<std::string> recipe_flags;
  std::vector<StudyRow> rows;  // the paper's table, then the further claims
};

// Reads RUNS/claims (empty study when it does not exist). The files each claim uses are
// copied under REPORTDIR/data/claims/RECIPE/RUN as the main tables' are. A malformed run file
// is an Error naming it.
ClaimsStudy read_claims_study(const std::string& runs_dir, const std::string& report_dir);

// One claim's rows from the runs of one recipe, in a few numbers.
StudyCell summarise_runs(const std::vector<ClaimRow>& rows);

// claims_study.csv: claim, recipe, runs, holds, decided, value_name, mean, sd.
void write_claims_study_csv(const ClaimsStudy& study, const std::string& path);

}  // namespace resdyn::report
