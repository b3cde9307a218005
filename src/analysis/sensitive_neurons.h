// The most-sensitive neurons (paper §6, fig. 3): for class c, i_c = argmax_i K[c,i], the
// neuron whose final value the classifier weighs most for that class (dC/dx(T) = K,
// appendix A); and the class-mean curves y_{i_k}(t), x_{i_k}(t) of every such neuron on the
// inputs of every class, gathered one layer at a time (for an MLP both curves are h_{i_k}(t)).
// The paper averages over 1000 samples per class; the probes use their S (default 200).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "analysis/class_groups.h"
#include "analysis/class_pairs.h"

namespace resdyn {

// i_c for every class c of a classifier K (classes x width, row-major); the lowest index on ties.
std::vector<int> most_sensitive_neurons(const float* K, int classes, int width);

class SensitiveNeuronCurves {
 public:
  SensitiveNeuronCurves() = default;
  explicit SensitiveNeuronCurves(std::vector<int> neurons) : neurons_(std::move(neurons)) {}

  // Appends layer layers() + 1: y and x are the layer's residual and state blocks
  // (groups.total() rows of `width` values, rows grouped by class; groups.classes() == classes()).
  void add_layer(const float* y, const float* x, int width, const ClassGroups& groups);

  int classes() const { return int(neurons_.size()); }
  int layers() const { return classes() ? int(mean_y_.size()) / (classes() * classes()) : 0; }
  int neuron(int k) const { return neurons_[size_t(k)]; }  // i_k
  // Mean over class-c inputs of y_{i_k}(t) and x_{i_k}(t), t = 1..layers().
  double mean_y(int c, int k, int t) const { return mean_y_[index(c, k, t)]; }
  double mean_x(int c, int k, int t) const { return mean_x_[index(c, k, t)]; }
  // Row c, column k: mean over class-c inputs of x_{i_k} at the deepest layer.
  ClassMatrix final_state() const;

 private:
  size_t index(int c, int k, int t) const { return (size_t(t - 1) * classes() + c) * classes() + k; }
  std::vector<int> neurons_;
  std::vector<double> mean_y_, mean_x_;  // layers x classes (inputs) x classes (neurons)
};

// Fig. 3's rule: the number of classes c for which, on class-c inputs, the class mean of
// x_{i_c}(T) is at least every x_{i_k}(T) (the paper finds 9 of 10). Two classes that share
// their neuron tie, and a tie counts as largest.
int sensitive_neuron_rule_classes(const SensitiveNeuronCurves& curves);

}  // namespace resdyn
