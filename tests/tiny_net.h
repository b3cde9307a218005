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

// A product's operand as the net's arithmetic sees it: exact in float32; in bf16 the float
// value rounded to bfloat16 (resdyn.h section 2), here by bf16_from_float alone. For the
// scalar references of --precision bf16.
inline double operand(double value, resdyn::Precision precision) {
  return precision == resdyn::Precision::bf16 ? double(resdyn::float_from_bf16(resdyn::bf16_from_float(float(value))))
                                              : value;
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
