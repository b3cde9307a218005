// Test error of a quantized model on the integer path (resdyn.h sections 4 and 9): the same
// Evaluation that evaluate() gives for a float model.
#pragma once

#include "resdyn.h"

namespace resdyn::quant {

// First `limit` samples (0 = all); depth 0 = the trained depth. The loss is the cross-entropy
// of the integer logits read as real numbers (Q19.12).
Evaluation evaluate_quantized(const QuantizedModel& model, const Dataset& data, int threads = 1, int limit = 0,
                              int depth = 0);

}  // namespace resdyn::quant
