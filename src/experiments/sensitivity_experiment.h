// The sensitivity experiment (`resdyn sensitivity`, paper appendix A, eq. 9-10):
// log10|det M'(s)| for every layer s and the logits' response to a small perturbation of
// y(s), per sample, averaged per class.
//
// For a ResNet, M(t) = diag(y(t)(1 - y(t))) W_t and M'(s) = (I + M(T)) ... (I + M(s)), the
// Jacobian of x(T) with respect to x(s-1) (eq. 10); log10|det M'(s)| is summed from each
// factor's LU pivots, never a product of determinants. The paper finds det M'(4) orders of
// magnitude larger than det M'(10) for T = 15; summary.json gives their log10 ratio. The
// empirical counterpart: delta = epsilon (default 1e-3) times a random unit vector, D per
// sample (default 8) from the seed (default 1), added to y(s); layers s+1..T run again and
// ||Delta logits||_2, averaged over the D directions, is recorded beside its first-order
// prediction ||K M'(s+1) delta||_2 (eq. 10 writes K M'(s); analysis/sensitivity.h says why
// we take one factor fewer), with the standard error the random directions leave in the
// class mean. One direction per sample, reused at every layer, leaves a figure that can sit
// several standard errors from its expectation.
// Data: the first S test samples of each class in file order, S = 20 by default (each
// sample costs T LU factorisations). MLPs get M'(s) = M(T) ... M(s), as they have no skip.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/sensitivity.h"
#include "resdyn.h"

namespace resdyn {

struct SensitivityOptions {
  // S: the first S test samples of each class, in file order. Each sample costs T LU
  // factorisations of N x N, about 0.9 s of one core for the 15 x 1064 paper net, so the
  // default 20 (200 samples) is about 3 minutes of CPU time, 1.5 on two threads.
  int samples_per_class = 20;
  double epsilon = 1e-3;  // size of the perturbation: delta = epsilon * a random unit vector
  uint64_t seed = 1;      // draws the perturbation directions, sample by sample, in sample order
  int directions = 8;     // D: random directions per sample; the logit change is their mean
  int threads = 1;
  int batch = 20;                                   // samples per forward pass (and per progress report)
  std::string out_dir;                              // created if missing
  FunctionRef<void(int done, int total)> progress;  // optional, after each batch
};

// Per class (or over all samples) and per layer s = 1..T.
struct SensitivityCurves {
  int label = -1;  // -1: all samples together
  int samples = 0;
  std::vector<double> mean_log10_det, std_log10_det;  // of log10|det M'(s)|; std divided by the count
  std::vector<double> mean_logit_change;              // of ||Delta logits||_2
  // The standard error of mean_logit_change that the random directions leave (the samples
  // are fixed): sqrt(sum over samples of their variance over directions / D) / samples;
  // NaN for D = 1.
  std::vector<double> se_logit_change;
  std::vector<double> mean_linear_logit_change;  // of ||K M'(s+1) delta||_2
  // log10|det M'(4)| - log10|det M'(10)| (mean over the samples); NaN when T < 10.
  double log10_det_ratio_4_10 = 0.0;
};

struct SensitivityResult {
  int depth = 0;
  std::vector<SensitivityCurves> classes;  // classes with samples, in class order
  SensitivityCurves overall;
  double seconds = 0.0;
  std::vector<std::string> files;
};

// Writes to options.out_dir (atomically, file by file):
//   sensitivity.csv  class, s, mean_log10_det, std_log10_det, mean_logit_change,
//                    mean_linear_logit_change, se_logit_change
//   summary.json     the settings and definitions; log10_det_ratio_4_10 overall and per
//                    class (null when T < 10); the curves over all samples
// Works for ResNets and MLPs, shared or per-layer (M'(s) of each: see sensitivity.h), at
// the trained depth. `test` is the whole test split.
SensitivityResult run_sensitivity_experiment(const Net<float>& net, const Dataset& test,
                                             const SensitivityOptions& options);

}  // namespace resdyn
