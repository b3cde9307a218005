// Training in Q15.16 with stochastic rounding (resdyn.h section 15) for small nets: the loop
// around the header's integer forward, backward and update, set up as Trainer<float> with SGD
// would be (same initial weights, same data order), so the two can be compared fairly.
#pragma once

#include <vector>

#include "resdyn.h"

namespace resdyn::quant {

struct FixedTrainOptions {
  int epochs = 3;
  int batch = 64;
  double lr = 0.05;  // for the mean loss, as Trainer's SGD
  double momentum = 0.9;
  Schedule schedule = Schedule::Cosine;
  uint64_t seed = 1;  // initialisation and data order (as 'resdyn train'); the rounding bits derive from it
};

struct FixedEpoch {
  int epoch = 0;
  double train_loss = 0;  // mean cross-entropy of the epoch's batches (fixed-point softmax)
  double test_error = 0;  // of the Q15.16 forward pass on `test`
  double seconds = 0;     // training time of the epoch
};

// Trains a network of configuration cfg on `train` entirely in integers; after each epoch,
// measures the test error on `test` with the Q15.16 forward pass and calls on_epoch. Returns
// the trained parameters converted to float (save it as any model; its float test error is
// then a few hundredths of a point from the fixed-point one).
Net<float> train_fixed_point(const Config& cfg, const Dataset& train, const Dataset& test,
                             const FixedTrainOptions& options, FunctionRef<void(const FixedEpoch&)> on_epoch = {});

// Predicted class of each of the first `count` images under the Q15.16 forward pass.
std::vector<int> fixed_predict(const FixedNet& net, const Dataset& data, int count);

}  // namespace resdyn::quant
