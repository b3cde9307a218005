// Sensitivity of the logits to residual perturbations (paper appendix A); see sensitivity.h.
#include "analysis/sensitivity.h"

#include <cmath>
#include <limits>
#include <string>

#include "analysis/parallel_chunks.h"

namespace resdyn {

namespace {

const double kLn10 = 2.302585092994045684;

double log10_abs_det(const LuFactorization& lu) {
  const LogAbsDeterminant d = log_abs_determinant(lu);
  return d.sign == 0 ? -std::numeric_limits<double>::infinity() : d.log_abs / kLn10;
}

double norm2(const std::vector<double>& v) {
  double sum = 0.0;
  for (double value : v) sum += value * value;
  return std::sqrt(sum);
}

// logits = K s + k0 for one hidden state s.
std::vector<double> logits_of(const Net<double>& net, const std::vector<double>& state) {
  const int n = net.config.width, classes = net.config.classes;
  std::vector<double> logits(static_cast<size_t>(classes));
  for (int c = 0; c < classes; ++c) {
    const double* k = net.K() + size_t(c) * n;
    double sum = net.k0()[c];
    for (int j = 0; j < n; ++j) sum += k[j] * state[size_t(j)];
    logits[size_t(c)] = sum;
  }
  return logits;
}

// Runs layers s+1..depth on one hidden state in place, x(t) = x(t-1) + sigma(W_t x(t-1) + b_t)
// (h(t) = sigma(W_t h(t-1) + b_t) for an MLP): the forward pass of resdyn.h from layer s on,
// for a single sample.
void run_layers_after(const Net<double>& net, int s, int depth, std::vector<double>& state) {
  const int n = net.config.width;
  const bool resnet = net.config.arch == Arch::ResNet;
  std::vector<double> next(static_cast<size_t>(n));
  for (int t = s + 1; t <= depth; ++t) {
    const int layer = t <= net.config.depth ? t : 1;  // past the trained depth: a shared net's W
    const double* w = net.W(layer);
    const double* b = net.b(layer);
    for (int i = 0; i < n; ++i) {
      const double* row = w + size_t(i) * n;
      double z = b[i];
      for (int j = 0; j < n; ++j) z += row[j] * state[size_t(j)];
      next[size_t(i)] = sigmoid(z);
    }
    for (int i = 0; i < n; ++i) state[size_t(i)] = resnet ? state[size_t(i)] + next[size_t(i)] : next[size_t(i)];
  }
}

}  // namespace

double log10_abs_det_identity_plus(const double* weights, int n, const std::vector<double>& gain) {
  if (int(gain.size()) != n)
    throw Error("layer factor: " + std::to_string(gain.size()) + " gains for width " + std::to_string(n));
  Matrix factor(n, n);
  for (int i = 0; i < n; ++i) {
    const double* w = weights + size_t(i) * n;
    double* out = factor.row(i);
    for (int j = 0; j < n; ++j) out[j] = gain[size_t(i)] * w[j];
    out[i] += 1.0;
  }
  return log10_abs_det(lu_factor(std::move(factor)));
}

std::vector<double> suffix_sums(const std::vector<double>& layer_terms) {
  std::vector<double> sums(layer_terms.size());
  double sum = 0.0;
  for (size_t k = layer_terms.size(); k-- > 0;) {
    sum += layer_terms[k];
    sums[k] = sum;
  }
  return sums;
}

namespace {

// The weight matrix of layer t: a shared net's one, or layer t's own.
int block_of(const Net<double>& net, int t) { return net.layout.blocks == 1 ? 1 : t; }

// log10|det W| of each weight matrix (an MLP's factors need them): one LU per matrix, not per sample.
std::vector<double> weight_log10_dets(const Net<double>& net) {
  const int n = net.config.width;
  std::vector<double> weight_log10_det;
  for (int block = 1; block <= net.layout.blocks; ++block) {
    Matrix w(n, n);
    std::copy(net.W(block), net.W(block) + size_t(n) * n, w.a.begin());
    weight_log10_det.push_back(log10_abs_det(lu_factor(std::move(w))));
  }
  return weight_log10_det;
}

// gains[t-1] = sigma'(z) = y(t)(1 - y(t)) of sample r at layer t.
std::vector<std::vector<double>> gains_of(const Trace<double>& trace, int r) {
  const int n = trace.width, depth = trace.depth;
  std::vector<std::vector<double>> gains(static_cast<size_t>(depth), std::vector<double>(static_cast<size_t>(n)));
  for (int t = 1; t <= depth; ++t) {
    const double* y = trace.residual(t) + size_t(r) * n;
    for (int i = 0; i < n; ++i) gains[size_t(t - 1)][size_t(i)] = y[i] * (1.0 - y[i]);
  }
  return gains;
}

// log10|det| of each layer's factor, I + M(t) (ResNet) or M(t) (MLP).
std::vector<double> layer_log10_dets(const Net<double>& net, const std::vector<std::vector<double>>& gains,
                                     const std::vector<double>& weight_log10_det) {
  const int n = net.config.width, depth = int(gains.size());
  std::vector<double> dets(static_cast<size_t>(depth));
  for (int t = 1; t <= depth; ++t) {
    const std::vector<double>& gain = gains[size_t(t - 1)];
    if (net.config.arch == Arch::ResNet) {
      dets[size_t(t - 1)] = log10_abs_det_identity_plus(net.W(block_of(net, t)), n, gain);
    } else {  // det(diag(gain) W) = prod(gain) det W
      double sum = weight_log10_det[size_t(block_of(net, t) - 1)];
      for (double g : gain) sum += std::log10(g);
      dets[size_t(t - 1)] = sum;
    }
  }
  return dets;
}

// Empirical: sample r's y(s) + delta (an MLP's h(s) + delta) carried through layers
// s+1..T; ||Delta logits|| for each s.
std::vector<double> measured_logit_changes(const Net<double>& net, const Trace<double>& trace, int r,
                                           const std::vector<double>& delta) {
  const int n = net.config.width, depth = trace.depth, classes = net.config.classes;
  const double* clean_logits = trace.logits.data() + size_t(r) * classes;
  std::vector<double> changes(static_cast<size_t>(depth));
  for (int s = 1; s <= depth; ++s) {
    const double* x = trace.state(s) + size_t(r) * n;
    std::vector<double> state(x, x + n);
    for (int i = 0; i < n; ++i) state[size_t(i)] += delta[size_t(i)];
    run_layers_after(net, s, depth, state);
    std::vector<double> change = logits_of(net, state);
    for (int c = 0; c < classes; ++c) change[size_t(c)] -= clean_logits[c];
    changes[size_t(s - 1)] = norm2(change);
  }
  return changes;
}

// First order: ||G(s) delta|| with G(s) = K M'(s+1), built backwards from G(T) = K by
// G(s-1) = G(s) (I + M(s)) (ResNet) or G(s) M(s) (MLP), with M(s) = diag(gain_s) W_s.
std::vector<double> linear_logit_changes(const Net<double>& net, const std::vector<std::vector<double>>& gains,
                                         const std::vector<double>& delta) {
  const int n = net.config.width, depth = int(gains.size()), classes = net.config.classes;
  const bool resnet = net.config.arch == Arch::ResNet;
  std::vector<double> g(net.K(), net.K() + size_t(classes) * n), next(size_t(classes) * n);
  std::vector<double> changes(static_cast<size_t>(depth));
  for (int s = depth; s >= 1; --s) {
    std::vector<double> predicted(size_t(classes), 0.0);
    for (int c = 0; c < classes; ++c)
      for (int j = 0; j < n; ++j) predicted[size_t(c)] += g[size_t(c) * n + j] * delta[size_t(j)];
    changes[size_t(s - 1)] = norm2(predicted);
    if (s == 1) break;
    const std::vector<double>& gain = gains[size_t(s - 1)];
    const double* w = net.W(block_of(net, s));
    for (int c = 0; c < classes; ++c) {
      const double* gc = &g[size_t(c) * n];
      double* out = &next[size_t(c) * n];
      for (int j = 0; j < n; ++j) out[j] = resnet ? gc[j] : 0.0;
      for (int i = 0; i < n; ++i) {
        const double coefficient = gc[i] * gain[size_t(i)];
        if (coefficient == 0.0) continue;
        const double* row = w + size_t(i) * n;
        for (int j = 0; j < n; ++j) out[j] += coefficient * row[j];
      }
    }
    g.swap(next);
  }
  return changes;
}

// Mean and variance (divided by count - 1) of draws[d][s] over d, for every s.
void mean_and_variance(const std::vector<std::vector<double>>& draws, std::vector<double>& mean,
                       std::vector<double>* variance) {
  const size_t count = draws.size(), layers = draws[0].size();
  mean.assign(layers, 0.0);
  for (const std::vector<double>& d : draws)
    for (size_t s = 0; s < layers; ++s) mean[s] += d[s] / double(count);
  if (!variance) return;
  variance->assign(layers, count > 1 ? 0.0 : std::numeric_limits<double>::quiet_NaN());
  if (count < 2) return;
  for (const std::vector<double>& d : draws)
    for (size_t s = 0; s < layers; ++s) (*variance)[s] += (d[s] - mean[s]) * (d[s] - mean[s]) / double(count - 1);
}

}  // namespace

std::vector<SensitivityProfile> sensitivity_profiles(const Net<double>& net, const Trace<double>& trace,
                                                     const std::vector<std::vector<std::vector<double>>>& directions,
                                                     int threads) {
  const Config& cfg = net.config;
  const int n = cfg.width, depth = trace.depth;
  const bool resnet = cfg.arch == Arch::ResNet;
  if (!trace.keep_all || trace.width != n || trace.resnet != resnet || depth < 1)
    throw Error("sensitivity: the trace does not come from a full forward pass of this network");
  if (depth > cfg.depth && cfg.weights != Weights::Shared)
    throw Error("sensitivity: a per-layer net runs to its trained depth only");
  if (int(directions.size()) != trace.batch)
    throw Error("sensitivity: " + std::to_string(directions.size()) + " perturbation sets for " +
                std::to_string(trace.batch) + " samples");
  for (const std::vector<std::vector<double>>& set : directions) {
    if (set.empty() || set.size() != directions[0].size())
      throw Error("sensitivity: every sample needs the same number (at least one) of perturbations");
    for (const std::vector<double>& delta : set)
      if (int(delta.size()) != n) throw Error("sensitivity: a perturbation's length differs from the width");
  }

  const std::vector<double> weight_log10_det = resnet ? std::vector<double>() : weight_log10_dets(net);
  std::vector<SensitivityProfile> profiles(size_t(trace.batch));
  parallel_tasks(threads, trace.batch, [&](int r) {
    SensitivityProfile& p = profiles[size_t(r)];
    const std::vector<std::vector<double>> gains = gains_of(trace, r);
    p.layer_log10_det = layer_log10_dets(net, gains, weight_log10_det);
    p.log10_det = suffix_sums(p.layer_log10_det);
    std::vector<std::vector<double>> measured, linear;
    for (const std::vector<double>& delta : directions[size_t(r)]) {
      measured.push_back(measured_logit_changes(net, trace, r, delta));
      linear.push_back(linear_logit_changes(net, gains, delta));
    }
    p.directions = int(measured.size());
    mean_and_variance(measured, p.logit_change, &p.logit_change_variance);
    mean_and_variance(linear, p.linear_logit_change, nullptr);
  });
  return profiles;
}

std::vector<SensitivityProfile> sensitivity_profiles(const Net<double>& net, const Trace<double>& trace,
                                                     const std::vector<std::vector<double>>& perturbations,
                                                     int threads) {
  std::vector<std::vector<std::vector<double>>> directions;
  for (const std::vector<double>& delta : perturbations) directions.push_back({delta});
  return sensitivity_profiles(net, trace, directions, threads);
}

}  // namespace resdyn
