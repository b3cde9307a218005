// The `resdyn ode` experiment (small-N fixed points of paper eq. 3); see ode_experiment.h.
#include "experiments/ode_experiment.h"

#include "experiments/output_directory.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>

#include "resdyn.h"

namespace resdyn {

namespace {

// Shortest text that reads back as the same double; JSON has no infinity, so it is null there.
std::string number_text(double value) {
  if (!std::isfinite(value)) return value > 0 ? "inf" : (value < 0 ? "-inf" : "nan");
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

std::string json_number(double value) { return std::isfinite(value) ? number_text(value) : "null"; }

std::string json_string(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      quoted += escape;
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

void write_text(const std::string& path, const std::string& text, std::vector<std::string>& files) {
  write_file_atomically(path, std::vector<uint8_t>(text.begin(), text.end()));
  files.push_back(path);
}

// A square matrix from a CSV file: one row per non-blank line, fields separated by commas.
Matrix read_weights_csv(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  const std::string text(bytes.begin(), bytes.end());
  std::vector<std::vector<double>> rows;
  std::size_t line_start = 0;
  for (int line_number = 1; line_start < text.size(); ++line_number) {
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) line_end = text.size();
    std::string line = text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;

    std::vector<double> row;
    std::size_t field_start = 0;
    while (true) {
      std::size_t field_end = line.find(',', field_start);
      if (field_end == std::string::npos) field_end = line.size();
      const std::string field = line.substr(field_start, field_end - field_start);
      char* parsed_end = nullptr;
      const double value = std::strtod(field.c_str(), &parsed_end);
      const std::size_t unparsed = field.find_first_not_of(" \t", static_cast<std::size_t>(parsed_end - field.c_str()));
      if (parsed_end == field.c_str() || unparsed != std::string::npos || !std::isfinite(value)) {
        throw Error(path + ":" + std::to_string(line_number) + ": not a finite number: '" + field + "'");
      }
      row.push_back(value);
      if (field_end == line.size()) break;
      field_start = field_end + 1;
    }
    if (!rows.empty() && row.size() != rows.front().size()) {
      throw Error(path + ":" + std::to_string(line_number) + ": row has " + std::to_string(row.size()) +
                  " entries, the first row has " + std::to_string(rows.front().size()));
    }
    rows.push_back(std::move(row));
  }
  if (rows.empty()) throw Error(path + ": no weights found");
  if (rows.size() != rows.front().size()) {
    throw Error(path + ": weight matrix is " + std::to_string(rows.size()) + " x " +
                std::to_string(rows.front().size()) + ", not square");
  }
  const int n = static_cast<int>(rows.size());
  Matrix weights(n, n);
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < n; ++c) weights(r, c) = rows[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
  }
  return weights;
}

std::string weights_csv_text(const Matrix& weights) {
  std::string text;
  for (int r = 0; r < weights.rows; ++r) {
    for (int c = 0; c < weights.cols; ++c) text += (c ? "," : "") + number_text(weights(r, c));
    text += "\n";
  }
  return text;
}

std::string fixed_points_csv_text(const FixedPointSearch& search, int n) {
  std::string text = "index";
  for (int i = 0; i < n; ++i) text += ",y_" + std::to_string(i);
  text += ",class,max_real_eigenvalue\n";
  for (std::size_t p = 0; p < search.points.size(); ++p) {
    const FixedPoint& point = search.points[p];
    text += std::to_string(p);
    for (double value : point.y) text += "," + number_text(value);
    text += std::string(",") + fixed_point_class_name(point.kind) + "," + number_text(point.max_real_eigenvalue) + "\n";
  }
  return text;
}

std::string trajectories_csv_text(const std::vector<Trajectory>& trajectories, int n) {
  std::string text = "start_index,ended_at,nearest_fixed_point,final_distance,steps,outcome";
  for (int i = 0; i < n; ++i) text += ",end_y_" + std::to_string(i);
  text += "\n";
  for (std::size_t s = 0; s < trajectories.size(); ++s) {
    const Trajectory& t = trajectories[s];
    text += std::to_string(s) + "," + std::to_string(t.ended_at) + "," + std::to_string(t.nearest) + "," +
            number_text(t.nearest_distance) + "," + std::to_string(t.steps) + "," + trajectory_outcome_name(t.outcome);
    for (double value : t.end) text += "," + number_text(value);
    text += "\n";
  }
  return text;
}

std::string summary_json_text(const OdeExperimentOptions& options, const OdeExperimentResult& r,
                              const TrajectoryOptions& trajectory_options) {
  std::string text = "{\n";
  auto field = [&text](const std::string& name, const std::string& value, bool last = false) {
    text += "  " + json_string(name) + ": " + value + (last ? "\n" : ",\n");
  };
  field("width", std::to_string(r.width));
  field("seed", std::to_string(options.seed));
  field("weights", json_string(r.weights_source));
  field("candidates", std::to_string(r.search.candidates));
  field("singular_subsystems", std::to_string(r.search.singular_subsystems));
  field("outside_box", std::to_string(r.search.outside_box));
  field("duplicates", std::to_string(r.search.duplicates));
  field("fixed_points", std::to_string(r.search.points.size()));
  field("stable", std::to_string(r.stable));
  field("unstable", std::to_string(r.unstable));
  field("saddle", std::to_string(r.saddle));
  field("non_hyperbolic", std::to_string(r.non_hyperbolic));
  field("starts", std::to_string(r.trajectories.size()));
  field("rk4_step", json_number(r.step));
  field("max_steps", std::to_string(trajectory_options.max_steps));
  field("rest_speed", json_number(trajectory_options.rest_speed));
  field("arrival_distance", json_number(trajectory_options.arrival_distance));
  field("reached_stable", std::to_string(r.reached_stable));
  field("lingering_near_non_stable", std::to_string(r.lingering_near_non_stable));
  field("at_rest_elsewhere", std::to_string(r.at_rest_elsewhere));
  field("not_converged", std::to_string(r.not_converged));
  field("did_not_reach_stable", std::to_string(static_cast<int>(r.trajectories.size()) - r.reached_stable));
  field("all_reached_stable", r.reached_stable == static_cast<int>(r.trajectories.size()) ? "true" : "false", true);
  return text + "}\n";
}

}  // namespace

OdeExperimentResult run_ode_experiment(const OdeExperimentOptions& options) {
  if (options.out_dir.empty()) throw Error("ode: an output directory is required");
  if (options.starts < 0) throw Error("ode: the number of starts must not be negative");
  if (options.max_steps < 1) throw Error("ode: the step budget must be at least 1");

  OdeExperimentResult result;
  Rng rng(options.seed);
  if (!options.weights_csv.empty()) {
    result.weights = read_weights_csv(options.weights_csv);
    result.weights_source = options.weights_csv;
  } else {
    if (options.width < 1 || options.width > 12) {
      throw Error("ode: width must be between 1 and 12 (got " + std::to_string(options.width) + ")");
    }
    // W_ij ~ N(0, 1/N): the spectrum of W then fills about the unit disc whatever N
    // is (circular law), so the ODE's time scale and the RK4 step stay O(1).
    const int n = options.width;
    result.weights = Matrix(n, n);
    const double deviation = 1.0 / std::sqrt(static_cast<double>(n));
    for (double& w : result.weights.a) w = deviation * rng.normal();
    result.weights_source = "random: entries normal with mean 0 and variance 1/N";
  }
  result.width = result.weights.rows;
  if (result.width > 12) {
    throw Error("ode: " + options.weights_csv + " is " + std::to_string(result.width) + " x " +
                std::to_string(result.width) + "; the enumeration handles N <= 12");
  }

  prepare_output_directory(options.out_dir, "ode");  // before the work, not after it
  result.search = enumerate_fixed_points(result.weights);
  for (const FixedPoint& point : result.search.points) {
    switch (point.kind) {
      case FixedPointClass::stable: ++result.stable; break;
      case FixedPointClass::unstable: ++result.unstable; break;
      case FixedPointClass::saddle: ++result.saddle; break;
      case FixedPointClass::non_hyperbolic: ++result.non_hyperbolic; break;
    }
  }

  TrajectoryOptions trajectory_options;
  trajectory_options.max_steps = options.max_steps;
  trajectory_options.step = default_rk4_step(result.weights);
  result.step = trajectory_options.step;
  for (int s = 0; s < options.starts; ++s) {
    // Open interval (0,1): a component exactly 0 would sit on an invariant face.
    std::vector<double> start(static_cast<std::size_t>(result.width));
    for (double& value : start) {
      do value = rng.uniform();
      while (value == 0.0);
    }
    Trajectory t = integrate_to_rest(result.weights, start, result.search.points, trajectory_options);
    switch (t.outcome) {
      case TrajectoryOutcome::reached_stable: ++result.reached_stable; break;
      case TrajectoryOutcome::lingering_near_non_stable: ++result.lingering_near_non_stable; break;
      case TrajectoryOutcome::at_rest_elsewhere: ++result.at_rest_elsewhere; break;
      case TrajectoryOutcome::not_converged: ++result.not_converged; break;
    }
    result.trajectories.push_back(std::move(t));
  }

  const std::string dir = options.out_dir + "/";
  write_text(dir + "weights.csv", weights_csv_text(result.weights), result.files);
  write_text(dir + "fixed_points.csv", fixed_points_csv_text(result.search, result.width), result.files);
  write_text(dir + "trajectories.csv", trajectories_csv_text(result.trajectories, result.width), result.files);
  write_text(dir + "summary.json", summary_json_text(options, result, trajectory_options), result.files);
  return result;
}

}  // namespace resdyn
