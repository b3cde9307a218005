// Noise robustness (paper §6, fig. 4): how uniform noise added to the initial condition
// x(0) (or, with NoiseSite::Input, to the pixels) changes the final hidden state and the
// prediction. The paper injects noise xi ~ Uniform(-a, a) per component into the initial
// conditions, 10 independent realizations, a on a logarithmic axis up to 1.
//
// For a sample with clean final state s = x(T) (ResNet) or h(T) (MLP) and noisy final
// state s~, the per-sample metrics are
//   ratio  = ||s~ - s|| / ||s||                (noise-to-signal ratio)
//   cosine = s . s~ / (||s|| ||s~||)
//   wrong  = argmax of the noisy logits != label
// The paper writes the ratio as sum_{t=0}^T xi(t) / x(T) (ResNet) and xi(T) / y(T) (MLP),
// vectors over vectors; we take norms. For the ResNet s~ - s = x~(T) - x(T) is exactly the
// summed noise sum_t xi(t); the paper's MLP y(T) is our h(T).
// One realization's figure is the mean of these over the samples (error: the fraction
// wrong); a curve point is the mean and the sample standard deviation (R - 1 in the
// denominator; 0 when R = 1) of the R realization figures.
//
// The noise. Realization r of sample n draws its unit noise u in [-1, 1]^count from a
// generator seeded by (seed, r, n) alone; amplitude a adds a * u. So
//  - the result does not depend on the batch size, the thread count, the order in which
//    batches run, or on which other amplitudes are on the grid;
//  - every amplitude of a realization shares one noise direction (common random numbers):
//    a * u is still Uniform(-a, a) per component, and the curves across amplitudes are
//    not jittered by independent draws.
// Noise added to the pixels is not clipped to [0, 1] (the stem sees real-valued inputs).
#pragma once

#include <cstdint>
#include <vector>

#include "resdyn.h"

namespace resdyn {

enum class NoiseSite { InitialState, Input };  // x(0), after the stem; or the pixels

// 10^e for e evenly spaced from first_exponent to last_exponent, count >= 2 values (the
// default grid, default_noise_amplitudes() in noise_experiment.h, is log_spaced(-3, 0, 13)).
std::vector<double> log_spaced(double first_exponent, double last_exponent, int count);

// The unit noise of one sample in one realization: count values uniform on [-1, 1]
// (drawn in double, rounded to float).
void unit_noise(uint64_t seed, int realization, long sample, int count, float* out);

// Noise-to-signal ratio and cosine similarity of one sample's final states (width values
// each), accumulated in double. A zero-norm state gives ratio 0 (if s~ == s) or infinity,
// and cosine 1 (both zero) or 0 (one zero).
struct StateComparison {
  double ratio = 0, cosine = 1;
};
StateComparison compare_states(const float* clean, const float* noisy, int width);

struct NoiseOptions {
  std::vector<double> amplitudes;  // strictly increasing, finite, >= 0
  NoiseSite site = NoiseSite::InitialState;
  int realizations = 10;
  uint64_t seed = 1;
  int batch = 250;  // samples per forward pass; does not change the result
  int threads = 1;  // batches evaluated at once, one per thread; does not change the result
  // Of every forward pass's products, clean and noisy (resdyn.h section 2).
  Precision precision = Precision::fp32;
  // Called after each group of batches with the samples done so far and the total.
  FunctionRef<void(long done, long total)> on_progress;
};

// Throws resdyn::Error naming what is wrong with the options (amplitudes not finite, not in
// [0, 1e6] or not strictly increasing; realizations outside 1..1e6; batch or threads < 1).
void check_noise_options(const NoiseOptions& options);

// Per-sample outcomes of one batch of `batch` samples.
struct BatchNoiseMetrics {
  int batch = 0, amplitudes = 0, realizations = 0;
  std::vector<uint8_t> clean_wrong;   // per sample
  std::vector<double> ratio, cosine;  // at(a, r, s)
  std::vector<uint8_t> wrong;         // at(a, r, s)
  size_t at(int amplitude, int realization, int sample) const {
    return (size_t(amplitude) * realizations + size_t(realization)) * size_t(batch) + size_t(sample);
  }
};

// Buffers one worker reuses from batch to batch.
struct NoiseScratch {
  Trace<float> trace;
  std::vector<float> clean_start;  // the clean x(0) or the clean input, whichever is perturbed
  std::vector<float> clean_final;  // clean x(T) / h(T)
  std::vector<float> unit;         // unit noise of the batch for one realization
};

// Samples first .. first + count - 1 of a data set: their pixels and labels.
struct NoiseBatch {
  const uint8_t* pixels = nullptr;  // count images, one after the other
  const uint8_t* labels = nullptr;  // count labels
  int count = 0;
  long first = 0;  // the first sample's index in the data set, which picks its noise streams
};

// Clean and noisy forward passes of one batch, through the core's forward pieces:
// set_input, compute_initial_state, run_layers with keep_all off, single-threaded, every
// product in options.precision.
void measure_noise_batch(const Net<float>& net, const NoiseBatch& samples, const NoiseOptions& options,
                         NoiseScratch& scratch, BatchNoiseMetrics& out);

struct NoisePoint {
  double amplitude = 0;
  double ratio_mean = 0, ratio_std = 0;
  double cosine_mean = 0, cosine_std = 0;
  double error_mean = 0, error_std = 0;
};

struct NoiseCurve {
  long samples = 0;
  double clean_error = 0;
  std::vector<NoisePoint> points;  // one per amplitude, in the options' order
};

// The whole curve over every sample of data. Throws resdyn::Error on bad options
// or data that does not fit the net.
NoiseCurve measure_noise_robustness(const Net<float>& net, const Dataset& data, const NoiseOptions& options);

// a10: the smallest amplitude at which the mean test error has risen `drop` (0.10: ten
// percentage points of accuracy) above the clean error. The paper's reading of fig. 4 (§6):
// the MLP misclassifies from a = 0.1, the ResNet only above 0.5.
struct AccuracyDropPoint {
  bool reached = false;       // false: the error never rose that far on the grid
  double grid_amplitude = 0;  // the first grid amplitude whose mean error rose that far
  // Where the rise crosses `drop`, interpolated linearly in error against log10(amplitude)
  // between grid_amplitude and the grid point before it; equal to grid_amplitude when it
  // is the first grid point or the one before it is 0 (no log to interpolate in).
  double amplitude = 0;
  bool interpolated = false;
};
AccuracyDropPoint accuracy_drop_point(const NoiseCurve& curve, double drop = 0.10);

// The curve read at one amplitude: the grid point itself if one lies within a relative
// 1e-9 of it, else linear interpolation of every mean and std in log10(amplitude) between
// the two grid points around it; not available outside the grid's positive range.
struct CurveReading {
  bool available = false;
  bool on_grid = false;
  NoisePoint point;  // point.amplitude is the amplitude asked for
};
CurveReading read_curve(const NoiseCurve& curve, double amplitude);

}  // namespace resdyn
