// The verdicts of the claims tables, decided by their written rules on hand-made run files
// (each rule on both sides of its threshold), and the claims study's counts, means and
// standard deviations over runs, by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "report/claims_study.h"
#include "report/claims_table.h"
#include "report/figure.h"

namespace fs = std::filesystem;
using resdyn::report::ClaimRow;
using resdyn::report::Verdict;

namespace {

struct TempDir {
  explicit TempDir(const std::string& name)
      : path((fs::temp_directory_path() / ("resdyn_test_claims_" + name)).string()) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

// The figures the rules test, each to be set on either side of its threshold.
struct Figures {
  int sensitive_classes = 8;     // rule: >= 8
  double det_ratio = 2.0;        // rule: >= 2
  int distance_rows = 10;        // rule: 10 of 10
  double mlp_contrast = 0.5;     // rule: MLP > ResNet (0.4)
  std::string mlp_a10 = "0.15";  // rule: MLP <= 0.2 and ResNet above 0.5 or null
  std::string resnet_a10 = "null";
  int unstable_classes = 3;  // rule: <= 3 classes mostly unstable and largest real part <= 0.05
  double largest_real = 0.05;
};

// A runs directory with the summaries the rules read.
void make_runs(const std::string& runs, const Figures& f) {
  write(runs + "/dynamics/shared/summary.json",
        "{\"sensitive_neuron_rule_classes\": " + std::to_string(f.sensitive_classes) +
            ", \"distance_diag_min_rows\": " + std::to_string(f.distance_rows) +
            ", \"cosine_diag_max_rows\": 9, \"cosine_contrast\": 0.4, \"depth\": 15}\n");
  write(runs + "/dynamics/mlp/summary.json", "{\"cosine_contrast\": " + std::to_string(f.mlp_contrast) + "}\n");
  write(runs + "/sensitivity/shared/summary.json",
        "{\"log10_det_ratio_4_10\": " + std::to_string(f.det_ratio) + ", \"depth\": 15}\n");
  write(runs + "/noise/mlp/summary.json", "{\"a10\": " + f.mlp_a10 + "}\n");
  write(runs + "/noise/shared/summary.json", "{\"a10\": " + f.resnet_a10 + "}\n");
  std::string classes;
  for (int c = 0; c < 10; ++c)
    classes += std::string(c ? ", " : "") + "{\"class\": " + std::to_string(c) +
               ", \"samples\": 5, \"converged\": 5, \"failed\": 0, \"distinct\": 1, \"unstable_fraction\": " +
               (c < f.unstable_classes ? "0.6" : "0.4") +
               ", \"largest_real\": " + std::to_string(c == 0 ? f.largest_real : -0.1) + ", \"max_residual\": 1e-14}";
  write(runs + "/spectrum/shared/summary.json",
        "{\"unroll\": 1000, \"classes\": [], \"fixed_points\": {\"tolerance\": 1e-6, \"samples\": 50, \"failed\": 0, "
        "\"distinct\": 10, \"classes\": [" +
            classes + "]}}\n");
}

std::vector<ClaimRow> claims_of(const std::string& runs, const std::string& report) {
  resdyn::make_directories(report + "/figures");
  resdyn::report::FigureContext context(runs, report);
  std::vector<ClaimRow> rows = resdyn::report::paper_table(context);
  for (ClaimRow& r : resdyn::report::further_claims(context)) rows.push_back(r);
  return rows;
}

const ClaimRow& find(const std::vector<ClaimRow>& rows, const std::string& start) {
  for (const ClaimRow& r : rows)
    if (r.claim.rfind(start, 0) == 0) return r;
  throw resdyn::Error("no claim starting with " + start);
}

}  // namespace

TEST(ClaimVerdicts, EachRuleOnBothSidesOfItsThreshold) {
  TempDir dir("verdicts");
  Figures at_threshold;
  make_runs(dir.path + "/holds", at_threshold);
  const std::vector<ClaimRow> holds = claims_of(dir.path + "/holds", dir.path + "/report_holds");
  Figures beyond;
  beyond.sensitive_classes = 7;
  beyond.det_ratio = 1.99;
  beyond.distance_rows = 9;
  beyond.mlp_contrast = 0.4;  // equal: not larger
  beyond.resnet_a10 = "0.5";  // fails at 0.5: not above it
  beyond.unstable_classes = 4;
  make_runs(dir.path + "/fails", beyond);
  const std::vector<ClaimRow> fails = claims_of(dir.path + "/fails", dir.path + "/report_fails");

  for (const char* claim : {"most-sensitive-neuron", "det M'(4)", "trajectories are closer", "same-class cosine",
                            "noise:", "the same at the exact fixed points"}) {
    EXPECT_EQ(find(holds, claim).verdict, Verdict::holds) << claim << ": " << find(holds, claim).ours;
    EXPECT_EQ(find(fails, claim).verdict, Verdict::does_not_hold) << claim << ": " << find(fails, claim).ours;
    EXPECT_FALSE(find(holds, claim).rule.empty()) << claim;
  }
  EXPECT_EQ(find(holds, "most-sensitive-neuron").value, 8);
  EXPECT_EQ(find(fails, "det M'(4)").value, 1.99);
  EXPECT_EQ(find(holds, "the same at the exact fixed points").value, 3);
  // The largest real part alone decides too: one class's fixed point at 0.06.
  Figures large_real;
  large_real.largest_real = 0.06;
  make_runs(dir.path + "/large", large_real);
  EXPECT_EQ(find(claims_of(dir.path + "/large", dir.path + "/report_large"), "the same at the exact").verdict,
            Verdict::does_not_hold);
  // Rows whose runs are missing stay undecided, with no figure.
  const ClaimRow& accuracy = find(holds, "shared-weight ResNet");
  EXPECT_EQ(accuracy.verdict, Verdict::undecided);
  EXPECT_TRUE(std::isnan(accuracy.value));
  EXPECT_STREQ(resdyn::report::verdict_text(Verdict::does_not_hold), "does not hold");
}

// Two recipes, three and two runs: the counts, the mean and the standard deviation (divided
// by the count less one) of each claim's figure, by hand.
TEST(ClaimsStudy, CountsMeansAndSpreadOverRuns) {
  TempDir dir("study");
  const std::string runs = dir.path + "/runs";
  for (const auto& [run, ratio] : std::vector<std::pair<std::string, double>>{
           {"ours/seed1", 2.5}, {"ours/seed2", 1.5}, {"ours/seed3", 3.5}, {"plain/seed1", 0.5}, {"plain/seed2", 1.0}}) {
    Figures f;
    f.det_ratio = ratio;
    make_runs(runs + "/claims/" + run, f);
  }
  const resdyn::report::ClaimsStudy study = resdyn::report::read_claims_study(runs, dir.path + "/report");
  ASSERT_EQ(study.recipes, (std::vector<std::string>{"ours", "plain"}));
  EXPECT_EQ(study.runs[0].size(), 3u);
  EXPECT_EQ(study.recipe_flags, (std::vector<std::string>{"", ""}));  // no models: no training flags to show
  const resdyn::report::StudyRow* det = nullptr;
  for (const resdyn::report::StudyRow& row : study.rows)
    if (row.claim.rfind("det M'(4)", 0) == 0) det = &row;
  ASSERT_NE(det, nullptr);
  EXPECT_EQ(det->recipes[0].runs, 3);
  EXPECT_EQ(det->recipes[0].holds, 2);
  EXPECT_EQ(det->recipes[0].decided, 3);
  EXPECT_NEAR(det->recipes[0].mean, 2.5, 1e-12);
  EXPECT_NEAR(det->recipes[0].sd, 1.0, 1e-12);  // deviations -0, -1, +1: sqrt(2 / 2)
  EXPECT_EQ(det->recipes[1].holds, 0);
  EXPECT_NEAR(det->recipes[1].mean, 0.75, 1e-12);
  EXPECT_NEAR(det->recipes[1].sd, std::sqrt(0.125), 1e-12);
  resdyn::report::write_claims_study_csv(study, dir.path + "/study.csv");
  std::ifstream in(dir.path + "/study.csv");
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header, "claim,recipe,runs,holds,decided,value,mean,sd");
  // No claims directory: an empty study.
  EXPECT_TRUE(resdyn::report::read_claims_study(dir.path + "/report", dir.path + "/report2").recipes.empty());
}
