// The noise-robustness experiment (`resdyn noise`, paper §6 and fig. 4): the curve of
// noise-to-signal ratio, cosine similarity and test error against noise amplitude for one
// model, its a10, and the curve read at a = 0.01, 0.1 and 1.
//
// Every test sample (or the first --limit-test) gets noise xi ~ Uniform(-a, a) per
// component added to its initial condition x(0) (the paper's choice; --noise-at input adds
// it to the pixels before the stem), R = 10 realizations (the paper's count) from one seed
// (default 1), for each a of logspace(-3, 0, 13) (ours: the paper's logarithmic axis of
// fig. 4, 13 points). With s = x(T) of a ResNet or h(T) of an MLP and s~ its noisy twin:
//   ratio  = ||s~ - s|| / ||s||,   cosine = cos(s, s~),   error on the noisy inputs,
// each a mean over samples, then mean and sample std over the realizations. a10 is the
// smallest amplitude at which the error has risen 10 percentage points above the clean
// error (paper §6: the MLP fails from 0.1, the ResNet only above 0.5). The norms are our
// reading of the paper's ratio of vectors: see analysis/noise_robustness.h.
#pragma once

#include <string>
#include <vector>

#include "analysis/noise_robustness.h"
#include "resdyn.h"

namespace resdyn {

struct NoiseExperimentOptions {
  NoiseOptions noise;      // amplitudes default to default_noise_amplitudes() when left empty
  std::string model_name;  // how summary.json names the model (e.g. its file)
  std::string out_dir;     // created if missing
};

struct NoiseExperimentResult {
  NoiseCurve curve;
  AccuracyDropPoint a10;
  std::vector<CurveReading> readings;  // at kReadingAmplitudes
  std::vector<std::string> files;      // every file written, in order
};

// Where summary.json reads the curve: a = 0.01, 0.1, 1 (the amplitudes paper §6 discusses).
constexpr double kReadingAmplitudes[] = {0.01, 0.1, 1.0};

// The default amplitude grid: logspace(-3, 0, 13), 10^-3 to 1.
std::vector<double> default_noise_amplitudes();

// "a,b,c" into numbers; throws resdyn::Error naming the bad entry. Range and order are
// checked by the measurement.
std::vector<double> parse_amplitude_list(const std::string& text);

// Runs the measurement on every sample of `test` and writes (atomically) to out_dir:
//   noise.csv     amplitude, ratio_mean, ratio_std, cosine_mean, cosine_std,
//                 error_mean, error_std (mean and sample std over the realizations)
//   summary.json  the model's facts, the settings (the precision among them), clean_error, a10 (null if the error
//                 never rose 10 points), a10_grid, how a10 was read, and the curve at
//                 a = 0.01, 0.1, 1 with where each reading came from
// Throws resdyn::Error on bad options, unfit data or an unwritable directory (checked
// before the measurement starts).
NoiseExperimentResult run_noise_experiment(const Net<float>& net, const Dataset& test,
                                           const NoiseExperimentOptions& options);

}  // namespace resdyn
