// libFuzzer target for the gzip inflater (resdyn.h section 16, gunzip).
// Any byte string must either decompress or throw resdyn::Error. What decompresses is
// checked two ways:
//   - the output cap: with max_output equal to the output size the same bytes come back,
//     and one byte less is an Error (never a partial result);
//   - a round trip: the output, re-wrapped here in stored (uncompressed) deflate blocks with
//     its CRC-32 and length, inflates to itself.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "resdyn.h"

namespace {

using Bytes = std::vector<uint8_t>;

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_gunzip: %s\n", what);
  std::abort();
}

void put_le32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

// One gzip member (RFC 1952) holding `payload` in stored blocks of at most 65535 bytes
// (RFC 1951 3.2.4: BFINAL/BTYPE bits, then LEN and its one's complement NLEN).
Bytes gzip_stored(const Bytes& payload) {
  Bytes out = {0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255};
  size_t at = 0;
  do {
    const size_t len = std::min<size_t>(65535, payload.size() - at);
    const bool last = at + len == payload.size();
    out.push_back(last ? 1 : 0);  // BFINAL, BTYPE = 00; the rest of the byte is padding
    out.push_back(uint8_t(len));
    out.push_back(uint8_t(len >> 8));
    out.push_back(uint8_t(~len));
    out.push_back(uint8_t(~len >> 8));
    out.insert(out.end(), payload.begin() + long(at), payload.begin() + long(at + len));
    at += len;
  } while (at < payload.size());
  put_le32(out, resdyn::crc32(payload.data(), payload.size()));
  put_le32(out, uint32_t(payload.size()));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes out;
  try {
    out = resdyn::gunzip(data, size, "fuzz input");
  } catch (const resdyn::Error&) {
    return 0;
  }
  try {
    require(resdyn::gunzip(data, size, "fuzz input", out.size()) == out, "a cap equal to the output changed it");
  } catch (const resdyn::Error&) {
    require(false, "a cap equal to the output size was an error");
  }
  if (!out.empty()) {
    bool capped = false;
    try {
      resdyn::gunzip(data, size, "fuzz input", out.size() - 1);
    } catch (const resdyn::Error&) {
      capped = true;
    }
    require(capped, "output larger than the cap was accepted");
  }
  const Bytes wrapped = gzip_stored(out);
  try {
    require(resdyn::gunzip(wrapped.data(), wrapped.size(), "stored copy") == out,
            "the output re-wrapped in stored blocks does not inflate to itself");
  } catch (const resdyn::Error& e) {
    std::fprintf(stderr, "fuzz_gunzip: the output re-wrapped in stored blocks is rejected: %s\n", e.what());
    std::abort();
  }
  return 0;
}
