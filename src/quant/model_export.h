// 'resdyn export': a quantized model as a C header for firmware, or any model as NumPy .npy
// files with a JSON manifest; and, for the firmware test, test digits as a C header with the
// host's integer-path results beside them.
#pragma once

#include <string>

#include "resdyn.h"

namespace resdyn::quant {

// model.h: the int8 weights, per-row scales and biases as const arrays, the dimensions as
// macros, and (in C++, after resdyn.h) resdyn_model_net() returning the QuantNet view. A
// firmware build needs resdyn.h and this file, nothing else.
std::string c_header_text(const QuantizedModel& model);

// Every tensor of a float model ('<f4') or of a quantized one ('|i1' weights and shifts, '<i4'
// multipliers and biases) as DIR/NAME.npy, plus DIR/manifest.json describing them. Creates DIR.
void export_npy(const Net<float>& net, const std::string& dir);
void export_npy(const QuantizedModel& model, const std::string& dir);

// The first `count` images of `data` as a C header (pixels in a section the firmware's linker
// script can place apart from the model), and the host integer path's result for each, in the
// lines the firmware prints:
//   digit I label L predicted P logits Z0 ... Z9 state 0xHHHHHHHH
//   accuracy R/COUNT states 0xHHHHHHHH
std::string digits_header_text(const Dataset& data, int count);
std::string expected_results_text(const QuantizedModel& model, const Dataset& data, int count);

}  // namespace resdyn::quant
