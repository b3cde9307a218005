// Most-sensitive neurons and their class-mean curves; see sensitive_neurons.h.
#include "analysis/sensitive_neurons.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace resdyn {

std::vector<int> most_sensitive_neurons(const float* K, int classes, int width) {
  std::vector<int> neurons(size_t(classes), 0);
  for (int c = 0; c < classes; ++c) {
    const float* row = K + size_t(c) * width;
    for (int i = 1; i < width; ++i)
      if (row[i] > row[neurons[size_t(c)]]) neurons[size_t(c)] = i;
  }
  return neurons;
}

void SensitiveNeuronCurves::add_layer(const float* y, const float* x, int width, const ClassGroups& groups) {
  const int C = classes();
  if (groups.classes() != C) throw std::logic_error("SensitiveNeuronCurves: groups and neurons differ in class count");
  for (int c = 0; c < C; ++c) {
    const int count = groups.size(c);
    for (int k = 0; k < C; ++k) {
      const size_t i = size_t(neurons_[size_t(k)]);
      double sum_y = 0, sum_x = 0;
      for (int r = groups.begin(c); r < groups.end(c); ++r) {
        sum_y += y[size_t(r) * width + i];
        sum_x += x[size_t(r) * width + i];
      }
      const double nan = std::numeric_limits<double>::quiet_NaN();
      mean_y_.push_back(count ? sum_y / count : nan);
      mean_x_.push_back(count ? sum_x / count : nan);
    }
  }
}

ClassMatrix SensitiveNeuronCurves::final_state() const {
  ClassMatrix m(classes());
  const int T = layers();
  for (int c = 0; c < classes(); ++c)
    for (int k = 0; k < classes(); ++k) m.at(c, k) = T ? mean_x(c, k, T) : std::numeric_limits<double>::quiet_NaN();
  return m;
}

int sensitive_neuron_rule_classes(const SensitiveNeuronCurves& curves) {
  return rows_with_diagonal_max(curves.final_state());
}

}  // namespace resdyn
