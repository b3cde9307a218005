// The quantized model file: what 'resdyn quantize' writes and 'resdyn eval' and 'resdyn export'
// read. Same pattern as the float model file (resdyn.h section 19), its own magic.
//
// Little-endian throughout:
//   offset  size  field
//   0       8     magic "RESDQ8\r\n"
//   8       4     format version (1)
//   12      28    arch, weights, stem, input, width, depth, classes (uint32 each)
//   40      4     metadata length m (uint32, at most 1 MiB)
//   44      m     metadata: UTF-8 text
//   44+m    ...   for the stem (if any), the classifier, then the layer blocks (1 or T):
//                 weights rows x cols int8 (row-major, block after block), mult int32 per row,
//                 shift int8 per row, bias int32 (Q19.12) per row
//   end-4   4     CRC-32 of every byte before it
#pragma once

#include <string>
#include <vector>

#include "resdyn.h"

namespace resdyn::quant {

constexpr char kQuantizedMagic[8] = {'R', 'E', 'S', 'D', 'Q', '8', '\r', '\n'};
// Version 2: the layers of MLPs and shared ResNets read bytes (their row scales include 1/255).
constexpr uint32_t kQuantizedVersion = 2;

std::vector<uint8_t> encode_quantized(const QuantizedModel& model, const std::string& metadata);
QuantizedModel decode_quantized(const uint8_t* data, size_t size, const std::string& where,
                                std::string* metadata = nullptr);

void save_quantized(const QuantizedModel& model, const std::string& path, const std::string& metadata = "");
QuantizedModel load_quantized(const std::string& path, std::string* metadata = nullptr);

// True when the file at path starts with the quantized magic (false for a float model, a
// short file or one that cannot be opened: the loader then reports the real problem).
bool is_quantized_model_file(const std::string& path);

}  // namespace resdyn::quant
