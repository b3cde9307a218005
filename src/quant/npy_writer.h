// NumPy .npy files (format version 1.0), written by us: the magic "\x93NUMPY", version 1 0, a
// little-endian uint16 header length, an ASCII header dict {'descr', 'fortran_order', 'shape'}
// padded with spaces and a newline so the data starts at a multiple of 64 bytes, then the
// elements in C order, little-endian. numpy.load reads them as they are.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace resdyn::quant {

// The whole file as bytes; one overload per element type: '<f4', '|i1' (numpy's own spelling
// for one-byte types, which have no byte order), '<i2', '<i4'.
std::vector<uint8_t> encode_npy(const std::vector<size_t>& shape, const float* data);
std::vector<uint8_t> encode_npy(const std::vector<size_t>& shape, const int8_t* data);
std::vector<uint8_t> encode_npy(const std::vector<size_t>& shape, const int16_t* data);
std::vector<uint8_t> encode_npy(const std::vector<size_t>& shape, const int32_t* data);

// The header for a dtype such as "<f4" and a shape, padded as above (magic included).
std::vector<uint8_t> npy_header(const std::string& descr, const std::vector<size_t>& shape);

}  // namespace resdyn::quant
