// Tiny nets for the numerical tests: a configuration of a few units, and a net with random
// values in every parameter. Not the training initialisation, which zeroes whole tensors
// and would leave parts of every gradient and probe trivially zero.
#pragma once

#include <cstdint>

#include "resdyn.h"

namespace tiny {

// width is the stem's output size; without a stem the net's width is its input size.
inline resdyn::Config config(resdyn::Arch arch, resdyn::Weights weights, bool stem, int input, int width, int depth,
                             int classes) {
  resdyn::Config cfg;
  cfg.arch = arch;
  cfg.weights = weights;
  cfg.stem = stem;
  cfg.input = input;
  cfg.width = stem ? width : input;
  cfg.depth = depth;
  cfg.classes = classes;
  return cfg;
}

// Every parameter uniform in (-range, range), from the seed.
template <class Real>
resdyn::Net<Real> random_net(const resdyn::Config& cfg, uint64_t seed, double range) {
  resdyn::Net<Real> net(cfg);
  resdyn::Rng rng(seed);
  for (auto& p : net.params) p = Real(rng.uniform(-range, range));
  return net;
}

}  // namespace tiny
