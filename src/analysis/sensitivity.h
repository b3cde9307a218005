// Sensitivity of the logits to perturbations of the residuals (paper appendix A, eq. 9-10).
//
// ResNet: x(t) = x(t-1) + sigma(W_t x(t-1) + b_t), so the Jacobian of layer t is I + M(t),
//   M(t) = diag(y(t)(1 - y(t))) W_t,   M'(s) = (I + M(T)) (I + M(T-1)) ... (I + M(s)).
// MLP: h(t) = sigma(W_t h(t-1) + b_t) has no skip connection, so its layer Jacobian is
//   M(t) = diag(h(t)(1 - h(t))) W_t itself, and here M'(s) = M(T) ... M(s).
// In both, M'(s) is the Jacobian of the last hidden state with respect to the input of
// layer s (x(s-1), or h(s-1)).
//
// log10|det M'(s)| is the sum over t = s..T of the factors' log10|det|: each
// comes from LU pivots as a sum of logarithms, so no determinant is ever formed; for
// N = 1064 they leave the double range easily. An MLP factor's is
// sum_i log10(h_i(1 - h_i)) + log10|det W_t|, with det W_t from one LU per weight matrix.
//
// Empirical counterpart: add delta to y(s) (h(s) of an MLP), run layers s+1..T again and
// measure ||Delta logits||_2. A perturbation of y(s) enters after layer s, so to first
// order Delta logits = K M'(s+1) delta, with M'(T+1) = I. (Paper eq. 10 writes K M'(s):
// its chain rule, eq. 9, has one factor fewer than its product; the factor I + M(s)
// belongs to a perturbation of the input x(s-1) of layer s.)
#pragma once

#include <vector>

#include "analysis/linalg.h"
#include "resdyn.h"

namespace resdyn {

// log10|det(I + diag(gain) W)| for an N x N row-major W; -infinity if it is singular.
double log10_abs_det_identity_plus(const double* weights, int n, const std::vector<double>& gain);

// out[s-1] = sum over t = s..T of layer_terms[t-1], for s = 1..T: log10|det M'(s)| from
// the factors' log10|det|.
std::vector<double> suffix_sums(const std::vector<double>& layer_terms);

struct SensitivityProfile {
  std::vector<double> layer_log10_det;  // [t-1]: log10|det| of factor t (I + M(t), or M(t) for an MLP)
  std::vector<double> log10_det;        // [s-1]: log10|det M'(s)|, s = 1..T
  // [s-1]: ||logits with y(s) + delta - logits||_2 and its first-order prediction
  // ||K M'(s+1) delta||_2, each the mean over the sample's directions delta.
  std::vector<double> logit_change, linear_logit_change;
  // [s-1]: the variance over the sample's directions of ||Delta logits||_2 (divided by the
  // count less one; NaN for one direction): what the mean's standard error is made of.
  std::vector<double> logit_change_variance;
  int directions = 0;
};

// The profile of every sample of `trace`, a forward pass of `net` that kept every layer
// (ForwardOptions::keep_all) and ran to the net's trained depth or, for a shared net, any
// depth; directions[r] are the deltas (length N each, at least one) for row r, all rows
// with the same count. Samples are shared out over `threads` threads, each sample computed
// whole on one, so the result does not depend on the thread count. Throws Error for a
// trace that does not fit.
std::vector<SensitivityProfile> sensitivity_profiles(const Net<double>& net, const Trace<double>& trace,
                                                     const std::vector<std::vector<std::vector<double>>>& directions,
                                                     int threads = 1);
// The same with one delta per row: perturbations[r] for row r.
std::vector<SensitivityProfile> sensitivity_profiles(const Net<double>& net, const Trace<double>& trace,
                                                     const std::vector<std::vector<double>>& perturbations,
                                                     int threads = 1);

}  // namespace resdyn
