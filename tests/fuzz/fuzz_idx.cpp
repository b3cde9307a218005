// libFuzzer target for the IDX reader (resdyn.h section 16, parse_idx).
// Any byte string must either parse or throw resdyn::Error; nothing else (a crash, a sanitizer
// report, another exception type, a hang) is acceptable. What parses is checked against the
// format read independently here: 00 00 TYPE RANK, RANK big-endian dimensions, then exactly
// product(dims) elements.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "resdyn.h"

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_idx: %s\n", what);
  std::abort();
}

size_t element_size(uint8_t type) {
  if (type == 0x08 || type == 0x09) return 1;
  if (type == 0x0B) return 2;
  if (type == 0x0C || type == 0x0D) return 4;
  if (type == 0x0E) return 8;
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  resdyn::Idx idx;
  try {
    idx = resdyn::parse_idx(data, size, "fuzz input");
  } catch (const resdyn::Error&) {
    return 0;
  }
  require(size >= 4 && data[0] == 0 && data[1] == 0, "accepted a file without the 00 00 magic");
  require(idx.type == data[2] && element_size(idx.type) != 0, "accepted an unknown element type");
  const size_t rank = data[3];
  require(rank >= 1 && rank <= 4 && idx.dims.size() == rank, "rank disagrees with the header");
  const size_t header = 4 + 4 * rank;
  require(size >= header, "accepted a truncated header");
  unsigned __int128 items = 1;
  for (size_t d = 0; d < rank; ++d) {
    const uint8_t* p = data + 4 + 4 * d;
    const uint32_t dim = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
    require(dim != 0 && idx.dims[d] == dim, "dimension disagrees with the header");
    items *= dim;
  }
  require(header + items * element_size(idx.type) == size, "payload size disagrees with the dimensions");
  require(idx.bytes.size() == size - header && std::memcmp(idx.bytes.data(), data + header, idx.bytes.size()) == 0,
          "payload is not the bytes after the header");
  return 0;
}
