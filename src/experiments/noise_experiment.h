// The noise-robustness experiment of SPEC §4 (`resdyn noise`, paper fig. 4): the curve of
// noise-to-signal ratio, cosine similarity and test error against noise amplitude for one
// model, its a10, and the curve read at a = 0.01, 0.1 and 1.
#pragma once

#include <string>
#include <vector>

#include "analysis/noise_robustness.h"
#include "resdyn.h"

namespace resdyn {

struct NoiseExperimentOptions {
  NoiseOptions noise;       // amplitudes default to SPEC §4's grid when left empty
  std::string model_name;   // how summary.json names the model (e.g. its file)
  std::string out_dir;      // created if missing
};

struct NoiseExperimentResult {
  NoiseCurve curve;
  AccuracyDropPoint a10;
  std::vector<CurveReading> readings;  // at kReadingAmplitudes
  std::vector<std::string> files;      // every file written, in order
};

// Where summary.json reads the curve (SPEC §4 / issue: a = 0.01, 0.1, 1).
constexpr double kReadingAmplitudes[] = {0.01, 0.1, 1.0};

// SPEC §4's amplitude grid: logspace(-3, 0, 13).
std::vector<double> default_noise_amplitudes();

// "a,b,c" into numbers; throws resdyn::Error naming the bad entry. Range and order are
// checked by the measurement.
std::vector<double> parse_amplitude_list(const std::string& text);

// Runs the measurement on every sample of `test` and writes (atomically) to out_dir:
//   noise.csv     amplitude, ratio_mean, ratio_std, cosine_mean, cosine_std,
//                 error_mean, error_std (mean and sample std over the realizations)
//   summary.json  the model's facts, the settings, clean_error, a10 (null if the error
//                 never rose 10 points), a10_grid, how a10 was read, and the curve at
//                 a = 0.01, 0.1, 1 with where each reading came from
// Throws resdyn::Error on bad options, unfit data or an unwritable directory (checked
// before the measurement starts).
NoiseExperimentResult run_noise_experiment(const Net<float>& net, const Dataset& test,
                                           const NoiseExperimentOptions& options);

}  // namespace resdyn
