#include "quant/npy_writer.h"

#include <cstring>

namespace resdyn::quant {

std::vector<uint8_t> npy_header(const std::string& descr, const std::vector<size_t>& shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i)
    dict += std::to_string(shape[i]) + (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
  dict += "), }";
  // magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64.
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.push_back(uint8_t(dict.size() & 0xFF));
  out.push_back(uint8_t(dict.size() >> 8));
  out.insert(out.end(), dict.begin(), dict.end());
  return out;
}

namespace {

size_t element_count(const std::vector<size_t>& shape) {
  size_t n = 1;
  for (size_t d : shape) n *= d;
  return n;
}

// Appends each element's bytes, least significant first, whatever the host's byte order.
template <class T, class Bits>
std::vector<uint8_t> encode(const char* descr, const std::vector<size_t>& shape, const T* data) {
  std::vector<uint8_t> out = npy_header(descr, shape);
  const size_t n = element_count(shape);
  out.reserve(out.size() + n * sizeof(T));
  for (size_t i = 0; i < n; ++i) {
    Bits bits;
    std::memcpy(&bits, &data[i], sizeof bits);
    for (size_t b = 0; b < sizeof bits; ++b) out.push_back(uint8_t(bits >> (8 * b)));
  }
  return out;
}

}  // namespace

std::vector<uint8_t> encode_npy(const std::vector<size_t>& shape, const float* data) {
  return encode<float, uint32_t>("<f4", shape, data);
}
std::vector<uint8_t> encode_npy(const std::vector<size_t>& shape, const int8_t* data) {
  return encode<int8_t, uint8_t>("|i1", shape, data);
}
std::vector<uint8_t> encode_npy(const std::vector<size_t>& shape, const int16_t* data) {
  return encode<int16_t, uint16_t>("<i2", shape, data);
}
std::vector<uint8_t> encode_npy(const std::vector<size_t>& shape, const int32_t* data) {
  return encode<int32_t, uint32_t>("<i4", shape, data);
}

}  // namespace resdyn::quant
