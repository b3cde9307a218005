// The `resdyn ode` experiment (fixed points of paper eq. 3): the files it writes, their
// agreement with the returned result, determinism per seed, and reading W from a CSV.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "experiments/ode_experiment.h"
#include "resdyn.h"

namespace fs = std::filesystem;

namespace {

std::string fresh_directory(const std::string& name) {
  const fs::path dir = fs::path(testing::TempDir()) / ("ode_experiment_" + name);
  fs::remove_all(dir);
  return dir.string();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int line_count(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

TEST(OdeExperiment, WritesConsistentFiles) {
  resdyn::OdeExperimentOptions options;
  options.width = 5;
  options.seed = 3;
  options.starts = 12;
  options.out_dir = fresh_directory("files");
  const resdyn::OdeExperimentResult r = resdyn::run_ode_experiment(options);

  EXPECT_EQ(r.width, 5);
  EXPECT_EQ(r.search.candidates, 243);
  EXPECT_EQ(r.stable + r.unstable + r.saddle + r.non_hyperbolic, static_cast<int>(r.search.points.size()));
  EXPECT_EQ(r.reached_stable + r.lingering_near_non_stable + r.at_rest_elsewhere + r.not_converged, 12);
  ASSERT_EQ(r.files.size(), 4u);
  for (const std::string& file : r.files) EXPECT_TRUE(fs::exists(file)) << file;
  for (const auto& entry : fs::directory_iterator(options.out_dir)) {
    EXPECT_EQ(entry.path().string().find(".partial"), std::string::npos) << "temporary file left behind";
  }

  const std::string points = read_text(options.out_dir + "/fixed_points.csv");
  EXPECT_EQ(points.rfind("index,y_0,y_1,y_2,y_3,y_4,class,max_real_eigenvalue\n", 0), 0u);
  EXPECT_EQ(line_count(points), static_cast<int>(r.search.points.size()) + 1);
  const std::string trajectories = read_text(options.out_dir + "/trajectories.csv");
  EXPECT_EQ(trajectories.rfind("start_index,ended_at,nearest_fixed_point,final_distance,steps,outcome,", 0), 0u);
  EXPECT_EQ(line_count(trajectories), 13);
  EXPECT_EQ(line_count(read_text(options.out_dir + "/weights.csv")), 5);

  const std::string summary = read_text(options.out_dir + "/summary.json");
  EXPECT_NE(summary.find("\"candidates\": 243,"), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"stable\": " + std::to_string(r.stable) + ","), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"reached_stable\": " + std::to_string(r.reached_stable) + ","), std::string::npos);
  EXPECT_NE(summary.find("\"not_converged\": " + std::to_string(r.not_converged) + ","), std::string::npos);
}

TEST(OdeExperiment, SameSeedSameFilesAndWeightsReadBack) {
  resdyn::OdeExperimentOptions options;
  options.width = 4;
  options.seed = 9;
  options.starts = 5;
  options.out_dir = fresh_directory("first");
  resdyn::run_ode_experiment(options);
  const std::string first = options.out_dir;
  options.out_dir = fresh_directory("second");
  resdyn::run_ode_experiment(options);
  for (const char* name : {"weights.csv", "fixed_points.csv", "trajectories.csv", "summary.json"}) {
    EXPECT_EQ(read_text(first + "/" + name), read_text(options.out_dir + "/" + name)) << name;
  }

  // The written W reads back exactly: the same fixed points come out.
  options.weights_csv = first + "/weights.csv";
  options.out_dir = fresh_directory("from_csv");
  const resdyn::OdeExperimentResult r = resdyn::run_ode_experiment(options);
  EXPECT_EQ(r.weights_source, options.weights_csv);
  EXPECT_EQ(read_text(first + "/fixed_points.csv"), read_text(options.out_dir + "/fixed_points.csv"));
}

// The hand-solved 2-D case of test_residual_ode: one stable point (0.5, 1) that every
// start reaches.
TEST(OdeExperiment, HandSolvedWeightsFromCsv) {
  const std::string dir = fresh_directory("hand");
  fs::create_directories(dir);
  write_text(dir + "/w.csv", "-1, 0.5\r\n1,0.5\n\n");
  resdyn::OdeExperimentOptions options;
  options.weights_csv = dir + "/w.csv";
  options.starts = 10;
  options.out_dir = dir + "/out";
  const resdyn::OdeExperimentResult r = resdyn::run_ode_experiment(options);
  EXPECT_EQ(r.width, 2);
  EXPECT_EQ(r.search.points.size(), 5u);
  EXPECT_EQ(r.stable, 1);
  EXPECT_EQ(r.reached_stable, 10);
  EXPECT_NE(read_text(options.out_dir + "/summary.json").find("\"all_reached_stable\": true"), std::string::npos);
}

TEST(OdeExperiment, RejectsBadInput) {
  const std::string dir = fresh_directory("bad");
  fs::create_directories(dir);
  resdyn::OdeExperimentOptions options;
  options.out_dir = dir + "/out";

  options.width = 13;
  EXPECT_THROW(resdyn::run_ode_experiment(options), resdyn::Error);
  options.width = 3;
  options.starts = -1;
  EXPECT_THROW(resdyn::run_ode_experiment(options), resdyn::Error);
  options.starts = 3;

  write_text(dir + "/rect.csv", "1,2,3\n4,5,6\n");
  options.weights_csv = dir + "/rect.csv";
  EXPECT_THROW(resdyn::run_ode_experiment(options), resdyn::Error);

  write_text(dir + "/word.csv", "1,2\n3,x\n");
  options.weights_csv = dir + "/word.csv";
  try {
    resdyn::run_ode_experiment(options);
    FAIL() << "expected resdyn::Error";
  } catch (const resdyn::Error& e) {
    EXPECT_NE(std::string(e.what()).find("word.csv:2:"), std::string::npos) << e.what();
  }

  options.weights_csv = dir + "/missing.csv";
  EXPECT_THROW(resdyn::run_ode_experiment(options), resdyn::Error);
}

}  // namespace
