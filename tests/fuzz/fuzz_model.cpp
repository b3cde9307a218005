// libFuzzer target for the model-file loader (resdyn.h section 19, decode_model).
// Any byte string must either load or throw resdyn::Error. What loads must be exactly what
// save_model would write for that network and metadata: encoding it again gives back the
// input, byte for byte.
//
// The file ends with a CRC-32 of everything before it, so a random change is almost always
// caught by the checksum and nothing behind it is reached. The mutator below therefore
// rewrites the checksum after every other mutation, letting the fuzzer explore the header
// and parameter checks as well as the checksum check.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "resdyn.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  size = LLVMFuzzerMutate(data, size, max_size);
  if (seed % 2 == 1 && size >= 8) {
    const uint32_t crc = resdyn::crc32(data, size - 4);
    for (int i = 0; i < 4; ++i) data[size - 4 + i] = uint8_t(crc >> (8 * i));
  }
  return size;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string metadata;
  resdyn::Net<float> net;
  try {
    net = resdyn::decode_model(data, size, "fuzz input", &metadata);
  } catch (const resdyn::Error&) {
    return 0;
  }
  const std::vector<uint8_t> again = resdyn::encode_model(net, metadata);
  if (again != std::vector<uint8_t>(data, data + size)) {
    std::fprintf(stderr, "fuzz_model: a loaded model does not encode back to its file\n");
    std::abort();
  }
  return 0;
}
