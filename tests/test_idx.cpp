// Tests for the IDX reader and the gzip inflater.
#include "resdyn.h"
#include "test_paths.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

// Runs fn, which must throw resdyn::Error with a one-line message containing
// every string in `parts`.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected resdyn::Error containing \"" << parts.at(0) << "\"";
  } catch (const resdyn::Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message is not one line: " << msg;
    for (const std::string& part : parts)
      EXPECT_NE(msg.find(part), std::string::npos) << "\"" << part << "\" not in: " << msg;
  }
}

// Same deterministic byte sequence the embedded random-data gzip was made from.
Bytes lcg_bytes(size_t n) {
  Bytes out;
  uint32_t x = 12345;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    out.push_back(static_cast<uint8_t>(x >> 16));
  }
  return out;
}

// The text the embedded "lines" gzip streams were made from.
Bytes lines_text() {
  std::string s;
  for (int i = 0; i < 120; ++i) s += "row " + std::to_string(i) + ": " + std::to_string((i * i) % 97) + "\n";
  return bytes_of(s);
}

const char kShortText[] = "hello hello hello, IDX!\n";

void put_le32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void put_be32(Bytes& b, uint32_t v) {
  for (int i = 3; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// Minimal gzip header: magic, deflate, given flags, zero mtime, OS = unix.
Bytes gzip_header(uint8_t flags = 0) { return {0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3}; }

// Appends the gzip trailer (CRC-32 and size) for `content`.
void put_trailer(Bytes& b, const Bytes& content) {
  put_le32(b, resdyn::crc32(content.data(), content.size()));
  put_le32(b, static_cast<uint32_t>(content.size()));
}

// A gzip member holding `content` in stored (uncompressed) deflate blocks.
Bytes stored_gzip(const Bytes& content, Bytes header = gzip_header()) {
  Bytes out = std::move(header);
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(content.size() - pos, 65535);
    const bool final_block = pos + n == content.size();
    out.push_back(final_block ? 1 : 0);  // BFINAL, BTYPE = 00, padding
    out.push_back(static_cast<uint8_t>(n));
    out.push_back(static_cast<uint8_t>(n >> 8));
    out.push_back(static_cast<uint8_t>(~n));
    out.push_back(static_cast<uint8_t>(~n >> 8));
    out.insert(out.end(), content.begin() + pos, content.begin() + pos + n);
    pos += n;
  } while (pos < content.size());
  put_trailer(out, content);
  return out;
}

// Writes a deflate bit stream by hand (bits packed from the low end).
struct BitWriter {
  Bytes bytes;
  int used = 8;  // bits used in the last byte
  void bits(uint32_t value, int n) {
    for (int i = 0; i < n; ++i) {
      if (used == 8) {
        bytes.push_back(0);
        used = 0;
      }
      bytes.back() |= static_cast<uint8_t>(((value >> i) & 1) << used);
      ++used;
    }
  }
  // Huffman codes go most significant bit first.
  void code(uint32_t code, int len) {
    for (int i = len - 1; i >= 0; --i) bits((code >> i) & 1, 1);
  }
  // Fixed literal/length code (RFC 1951 3.2.6).
  void fixed_lit(int sym) {
    if (sym < 144)
      code(0x30 + sym, 8);
    else if (sym < 256)
      code(0x190 + sym - 144, 9);
    else if (sym < 280)
      code(sym - 256, 7);
    else
      code(0xC0 + sym - 280, 8);
  }
  void fixed_dist(int sym) { code(sym, 5); }
};

// A gzip member around a hand-made deflate stream, trailer computed from `content`.
Bytes wrap_deflate(const Bytes& deflate, const Bytes& content) {
  Bytes out = gzip_header();
  out.insert(out.end(), deflate.begin(), deflate.end());
  put_trailer(out, content);
  return out;
}

Bytes gunzip(const Bytes& b, size_t max_output = size_t(1) << 31) {
  return resdyn::gunzip(b.data(), b.size(), "test.gz", max_output);
}

template <size_t N>
Bytes array_bytes(const uint8_t (&a)[N]) {
  return Bytes(a, a + N);
}

// ---------------------------------------------------------------------------
// Real gzip output, made once with `gzip -9 -n` / `gzip -1 -n` (kNamedShort9:
// plain `gzip -9`, so it carries a file name) and pasted here.
//   kFixedShort9, kNamedShort9: kShortText, one fixed-Huffman block
//   kDynamicLines9, kDynamicLines1: lines_text(), dynamic-Huffman blocks
//   kStoredRandom1: lcg_bytes(300), a stored block
// ---------------------------------------------------------------------------

const uint8_t kFixedShort9[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40,
    0x90, 0x3a, 0x0a, 0x9e, 0x2e, 0x11, 0x8a, 0x5c, 0x00, 0x66, 0x00, 0xdd, 0x03, 0x18, 0x00, 0x00, 0x00,
};

const uint8_t kDynamicLines9[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x4d, 0x94, 0xc9, 0x91, 0xd8, 0x30, 0x0c, 0x04, 0xff,
    0x8e, 0x42, 0x21, 0x10, 0x04, 0x71, 0x29, 0x29, 0x57, 0xed, 0x67, 0xd3, 0xf7, 0x48, 0x20, 0x47, 0xfe, 0x4d, 0x51,
    0x10, 0x1a, 0xf7, 0xcf, 0xdf, 0xdf, 0x6b, 0xdc, 0xd7, 0xf8, 0xf3, 0x03, 0x21, 0xf7, 0x25, 0xaf, 0x98, 0xf7, 0xb5,
    0x5e, 0xa1, 0xf7, 0x55, 0xaf, 0x58, 0xf8, 0xe4, 0xaf, 0xb2, 0xfb, 0x9a, 0xf6, 0x2a, 0xbf, 0x2f, 0xed, 0xb7, 0x80,
    0x7d, 0xdb, 0xe5, 0x7d, 0x79, 0xff, 0x5a, 0xf7, 0x95, 0xed, 0x4d, 0x00, 0xd0, 0x56, 0x20, 0xcc, 0xfe, 0x2c, 0x0f,
    0x23, 0x5a, 0x82, 0x12, 0xb3, 0x25, 0x38, 0x5b, 0x81, 0xa3, 0xfb, 0x7f, 0x80, 0x7c, 0xbf, 0x82, 0x54, 0x4d, 0x17,
    0xa0, 0x74, 0xbb, 0x05, 0x2b, 0x3a, 0x85, 0x09, 0x96, 0xb4, 0xed, 0x04, 0xcc, 0xda, 0x60, 0x02, 0x56, 0x1d, 0xea,
    0x04, 0x6c, 0x75, 0x08, 0x13, 0xb0, 0xda, 0x09, 0x83, 0xb6, 0xb6, 0x2d, 0x68, 0xb5, 0x0d, 0x40, 0xb3, 0xed, 0x17,
    0xb4, 0x6c, 0x05, 0x98, 0x77, 0x08, 0x0a, 0xd8, 0xec, 0x1c, 0x14, 0xb0, 0x6c, 0x03, 0x05, 0xcc, 0x76, 0xf9, 0x00,
    0x9b, 0x1d, 0x8d, 0x02, 0x96, 0x5d, 0x23, 0x05, 0xcc, 0x9b, 0xab, 0x4f, 0x0d, 0xb7, 0x33, 0xc0, 0x64, 0xbf, 0x3e,
    0xb0, 0x0e, 0x57, 0x1f, 0x5a, 0xcb, 0x05, 0xda, 0x6a, 0xc4, 0x02, 0x4d, 0xdb, 0xef, 0x02, 0x4d, 0xf6, 0x2b, 0x68,
    0xdb, 0xf4, 0xc9, 0xac, 0xd3, 0x59, 0x80, 0x65, 0x13, 0x16, 0x60, 0xb1, 0xdb, 0x09, 0x58, 0xec, 0x57, 0xc0, 0x62,
    0xdb, 0x16, 0xa5, 0x0d, 0x1a, 0x98, 0xf0, 0x37, 0x9b, 0x74, 0x66, 0x4a, 0x84, 0xad, 0xc3, 0x35, 0x63, 0x30, 0xe6,
    0x0c, 0xd1, 0x82, 0x81, 0x5b, 0x32, 0x1d, 0x2b, 0x26, 0xe9, 0x83, 0xa9, 0xbb, 0xb0, 0x20, 0x3e, 0x59, 0x26, 0x57,
    0x16, 0xcf, 0x17, 0x4b, 0xea, 0xc6, 0x42, 0xbb, 0xb3, 0xfc, 0x1e, 0x6c, 0x8a, 0x27, 0x5b, 0xe5, 0x75, 0xfa, 0x17,
    0x83, 0x4d, 0x0d, 0x61, 0xab, 0x63, 0x72, 0x00, 0x42, 0x39, 0x16, 0xb1, 0x38, 0x2c, 0x61, 0x1c, 0xa1, 0x70, 0x0e,
    0x56, 0x04, 0xc7, 0x2d, 0x92, 0x43, 0x18, 0xc5, 0xd1, 0xcc, 0xc1, 0x81, 0x4d, 0xe1, 0x18, 0xe7, 0xe4, 0x70, 0xa7,
    0x9e, 0x89, 0xcf, 0xc5, 0x35, 0x48, 0xe3, 0x72, 0xa4, 0x73, 0x65, 0x32, 0xce, 0x1e, 0x65, 0x72, 0xb9, 0xb2, 0xbe,
    0x8d, 0x1b, 0x5c, 0xc3, 0x12, 0xee, 0x66, 0x4d, 0x2e, 0x6c, 0x29, 0xb7, 0xb8, 0xd6, 0xd9, 0xec, 0xb2, 0xb3, 0xec,
    0xe5, 0x67, 0xff, 0x2b, 0xce, 0x49, 0xa8, 0xe4, 0x5b, 0x1d, 0x3b, 0x19, 0xe3, 0xfc, 0x2c, 0x43, 0xe8, 0x52, 0xc6,
    0x47, 0x92, 0xa1, 0x0c, 0x40, 0xc6, 0x62, 0x5c, 0x32, 0x8c, 0xe1, 0xca, 0xf0, 0xff, 0x4e, 0x04, 0x73, 0x93, 0x91,
    0xdf, 0x91, 0x18, 0xf5, 0x5d, 0x89, 0xe7, 0x8c, 0x9c, 0x33, 0xf1, 0x1e, 0x92, 0x2d, 0xbf, 0x5a, 0xca, 0x73, 0x49,
    0xce, 0xa5, 0x78, 0x4e, 0xc9, 0x39, 0x15, 0xef, 0x31, 0x39, 0x27, 0xc8, 0xd9, 0x27, 0x91, 0xaf, 0x7d, 0xf2, 0xdc,
    0x13, 0x3b, 0x36, 0xf5, 0x36, 0xfb, 0x1f, 0x4a, 0x18, 0xbb, 0xb2, 0x1d, 0x05, 0x00, 0x00,
};

const uint8_t kDynamicLines1[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x03, 0x45, 0xd4, 0x4b, 0xb2, 0xd8, 0x20, 0x0c, 0x44, 0xd1,
    0x79, 0x56, 0xe1, 0x25, 0x20, 0xfe, 0x78, 0x53, 0xa9, 0xca, 0x24, 0xdb, 0xcf, 0x15, 0xdd, 0xce, 0x9b, 0x51, 0x58,
    0xe6, 0x48, 0x08, 0xf8, 0xf3, 0xfb, 0xef, 0x53, 0xde, 0xa7, 0xfc, 0xfa, 0xc3, 0x20, 0xde, 0x27, 0xee, 0xa0, 0xbe,
    0x4f, 0xbf, 0x83, 0xf6, 0x3e, 0xe7, 0x0e, 0x3a, 0x9f, 0xe6, 0x1d, 0x8d, 0xf7, 0xa9, 0xe3, 0x8e, 0xe6, 0xfb, 0x34,
    0xcd, 0x2d, 0xe2, 0x15, 0xb7, 0xdf, 0x67, 0xea, 0xd7, 0xf3, 0x3e, 0x5b, 0xab, 0x05, 0x40, 0xbb, 0x7f, 0x04, 0x42,
    0xd5, 0xe7, 0x48, 0x63, 0x69, 0x16, 0x65, 0x55, 0x0d, 0x71, 0x3c, 0xc2, 0x69, 0xfe, 0x1f, 0x68, 0x7a, 0x16, 0xe9,
    0x48, 0x0f, 0xa8, 0xe6, 0x65, 0xb1, 0x96, 0x4a, 0xa8, 0x58, 0xa1, 0xd8, 0x0a, 0x36, 0x14, 0x50, 0xc1, 0x8e, 0x52,
    0xad, 0x60, 0x5d, 0x29, 0x54, 0xb0, 0xe3, 0x82, 0xd1, 0xba, 0x63, 0xd1, 0x8e, 0x03, 0xd0, 0x86, 0xd7, 0x45, 0xdb,
    0x37, 0xc5, 0x0a, 0x36, 0x95, 0x42, 0x03, 0xab, 0xaa, 0xa1, 0x81, 0x6d, 0x05, 0x34, 0xb0, 0xa1, 0x05, 0x1a, 0x58,
    0x55, 0x36, 0x0d, 0x6c, 0x6b, 0x8f, 0x1a, 0xd8, 0x94, 0xdb, 0x72, 0x0f, 0xbd, 0x18, 0x58, 0x78, 0x36, 0x31, 0xa5,
    0xdb, 0x52, 0xd3, 0xb0, 0xa3, 0x75, 0x11, 0x1d, 0xad, 0x69, 0xdd, 0x8e, 0x16, 0x9e, 0x45, 0x73, 0x68, 0x56, 0xa6,
    0x72, 0x3a, 0xd8, 0x96, 0xd0, 0xc1, 0x96, 0xdb, 0x09, 0xb6, 0x3c, 0x0b, 0xb6, 0x1c, 0x9b, 0xfb, 0xa8, 0xe1, 0x00,
    0x73, 0xc0, 0x00, 0xf3, 0x6f, 0x03, 0xcc, 0x8b, 0x0d, 0x30, 0x13, 0x03, 0x4d, 0xee, 0x00, 0x73, 0x32, 0x23, 0x2b,
    0x53, 0x8a, 0x03, 0xcc, 0x89, 0x0f, 0x30, 0x97, 0x33, 0xc0, 0x5c, 0xe4, 0xcc, 0xa6, 0xa9, 0xf4, 0x99, 0x95, 0x29,
    0xb1, 0x09, 0xe6, 0x6d, 0x9a, 0x60, 0xde, 0xbc, 0x09, 0xe6, 0x2d, 0x9d, 0x68, 0xde, 0xe8, 0x89, 0xe6, 0xed, 0x9f,
    0x68, 0x6e, 0xca, 0x4c, 0xcd, 0x8b, 0xa5, 0x76, 0xfb, 0xb7, 0xc0, 0xdc, 0xd4, 0x05, 0xe6, 0x56, 0x2f, 0x30, 0x1f,
    0x80, 0x95, 0x95, 0x29, 0x9b, 0x05, 0xe6, 0xc3, 0xb2, 0xc0, 0x7c, 0x84, 0x16, 0x98, 0x0f, 0xd6, 0xca, 0xa6, 0xa9,
    0xca, 0x95, 0xfb, 0xa8, 0xc3, 0xb2, 0xc0, 0x7c, 0x34, 0x37, 0x9a, 0x0f, 0xec, 0x46, 0xf3, 0x31, 0xde, 0x68, 0x3e,
    0xdc, 0x1b, 0x4d, 0x0b, 0x6c, 0x30, 0x5f, 0x83, 0x0d, 0xe6, 0xcb, 0xb1, 0xc1, 0x7c, 0x65, 0x36, 0x98, 0xba, 0xb3,
    0xb1, 0x7c, 0xb9, 0x36, 0xd6, 0x77, 0xe3, 0xb0, 0x7c, 0x0d, 0x4f, 0x6e, 0xa3, 0x7a, 0x72, 0xb0, 0x7c, 0x61, 0x0f,
    0x96, 0x6f, 0xf1, 0x01, 0xd3, 0x51, 0x38, 0x69, 0xdd, 0x9d, 0x39, 0x50, 0xaa, 0xfb, 0x20, 0xa9, 0x94, 0x83, 0xe4,
    0x39, 0x20, 0xc5, 0x45, 0xc9, 0xa2, 0x74, 0x5f, 0x0b, 0x90, 0x97, 0x8c, 0xf2, 0x23, 0x45, 0x81, 0x72, 0x02, 0x51,
    0x72, 0x17, 0xbf, 0x78, 0x34, 0xa7, 0x1b, 0x25, 0x9b, 0xa6, 0xc5, 0xa3, 0xfc, 0xaf, 0x2d, 0x0a, 0xe4, 0xf7, 0x48,
    0x94, 0x44, 0xfd, 0x4a, 0xe4, 0x33, 0xf2, 0x3d, 0x13, 0xf7, 0x21, 0x51, 0x06, 0xf9, 0x90, 0x7c, 0x0f, 0x45, 0xa0,
    0x7e, 0x2f, 0x45, 0x64, 0x85, 0x6a, 0x7e, 0x04, 0xea, 0xf7, 0x56, 0x04, 0xaa, 0xfb, 0x14, 0xf1, 0xd3, 0xbe, 0xc8,
    0xf7, 0xc4, 0x5d, 0x8d, 0x80, 0xa5, 0xd9, 0xff, 0x00, 0x4a, 0x18, 0xbb, 0xb2, 0x1d, 0x05, 0x00, 0x00,
};

const uint8_t kStoredRandom1[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x03, 0x01, 0x2c, 0x01, 0xd3, 0xfe, 0xdc, 0x04, 0x65, 0xaa,
    0x1f, 0xad, 0x1d, 0x5a, 0xda, 0xe5, 0xac, 0x1b, 0x1e, 0x5f, 0x13, 0x70, 0x79, 0x6c, 0xfd, 0x10, 0xff, 0x19, 0xaf,
    0x60, 0x1d, 0x04, 0xac, 0xb4, 0x1d, 0x02, 0x2b, 0x46, 0x78, 0x73, 0x3a, 0xf2, 0xdf, 0x5f, 0xae, 0xb7, 0x08, 0x59,
    0xd1, 0xee, 0x39, 0x10, 0xcb, 0x48, 0x95, 0xb5, 0xcc, 0x89, 0x29, 0x11, 0xff, 0x06, 0xb6, 0x62, 0x2e, 0xdf, 0x3c,
    0xf9, 0x35, 0xfd, 0x4b, 0x94, 0x28, 0xca, 0x09, 0x7c, 0x44, 0xb3, 0x02, 0x5e, 0x96, 0x5f, 0xb3, 0xea, 0x6d, 0xac,
    0xd4, 0x2d, 0x81, 0x6e, 0x69, 0xaf, 0xe0, 0xe6, 0x87, 0x4c, 0x9c, 0x04, 0xe7, 0xd2, 0x36, 0x5d, 0x2c, 0x60, 0xc9,
    0xea, 0xf4, 0x79, 0xf6, 0x86, 0xa0, 0xeb, 0x93, 0x26, 0xe4, 0x62, 0x12, 0xd5, 0x0d, 0xcb, 0xb3, 0x77, 0x15, 0x6a,
    0x6a, 0x3a, 0x68, 0xba, 0x8e, 0xdb, 0x74, 0x08, 0x46, 0x9e, 0xf3, 0xce, 0xb3, 0x0a, 0xf8, 0xd0, 0xdd, 0x68, 0xbb,
    0xf8, 0x5f, 0xfa, 0x24, 0xf2, 0xd2, 0xfc, 0x18, 0x87, 0xfb, 0x5c, 0x87, 0xba, 0xb4, 0x38, 0x32, 0xa5, 0x9b, 0x1b,
    0x3d, 0x10, 0x7c, 0xf7, 0x78, 0xd6, 0x7f, 0xe2, 0x6d, 0xf8, 0x11, 0x91, 0x29, 0x7e, 0x93, 0x95, 0xcb, 0x12, 0xc5,
    0x57, 0xce, 0x5a, 0xf1, 0xd4, 0x16, 0x18, 0xd7, 0x19, 0xbc, 0x04, 0x5b, 0x7e, 0x99, 0x65, 0xf1, 0xa2, 0x94, 0x71,
    0xc4, 0x2a, 0xac, 0x6a, 0xa9, 0x38, 0xc4, 0x75, 0xc7, 0xad, 0x32, 0x38, 0x02, 0x1f, 0x05, 0x3b, 0x2c, 0x99, 0x1a,
    0xfc, 0xeb, 0x15, 0xde, 0xcf, 0x68, 0xba, 0xe0, 0x7c, 0xbc, 0xd6, 0x1e, 0x97, 0x1b, 0x9a, 0x0b, 0x9d, 0xbe, 0x97,
    0x63, 0xd3, 0x92, 0xfc, 0xaf, 0xdf, 0xa2, 0x8c, 0x97, 0x23, 0x45, 0x62, 0xeb, 0xdd, 0x07, 0x65, 0x70, 0xff, 0x58,
    0x89, 0x6a, 0xcf, 0xf7, 0xca, 0xee, 0x3f, 0x1c, 0xe9, 0xe4, 0x0a, 0x68, 0xe5, 0xde, 0x93, 0x8d, 0x38, 0x9c, 0x7d,
    0xbd, 0xd7, 0x5b, 0x09, 0xd4, 0xe7, 0xe2, 0x33, 0x44, 0x3f, 0x4a, 0x8c, 0xc4, 0xa1, 0x90, 0xd6, 0xb8, 0xb8, 0xdc,
    0x61, 0x5f, 0xd1, 0x8e, 0x28, 0xbe, 0x59, 0x0e, 0xaa, 0x50, 0x1b, 0x5f, 0x0e, 0x2f, 0x63, 0x2c, 0x01, 0x00, 0x00,
};

const uint8_t kNamedShort9[] = {
    0x1f, 0x8b, 0x08, 0x08, 0x5b, 0xb5, 0x03, 0x6b, 0x02, 0x03, 0x73, 0x68, 0x6f, 0x72, 0x74,
    0x2e, 0x74, 0x78, 0x74, 0x00, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40, 0x90, 0x3a,
    0x0a, 0x9e, 0x2e, 0x11, 0x8a, 0x5c, 0x00, 0x66, 0x00, 0xdd, 0x03, 0x18, 0x00, 0x00, 0x00,
};

// ---------------------------------------------------------------------------
// Temporary directory, removed when the test ends
// ---------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = fs::path(testing::TempDir()) / ("resdyn_idx_" + std::string(info->name()) + "_" + std::to_string(ticks));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, const Bytes& b) const {
    const std::string p = file(name);
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    EXPECT_TRUE(f.good()) << p;
    return p;
  }

 private:
  fs::path path_;
};

// ---------------------------------------------------------------------------
// IDX builders
// ---------------------------------------------------------------------------

Bytes make_idx(uint8_t type, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) put_be32(b, d);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes counting(size_t n, uint8_t start = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(start + i);
  return b;
}

resdyn::Idx parse(const Bytes& b) { return resdyn::parse_idx(b.data(), b.size(), "test.idx"); }

// ===========================================================================
// CRC-32
// ===========================================================================

TEST(Crc32, KnownValues) {
  const Bytes check = bytes_of("123456789");
  EXPECT_EQ(resdyn::crc32(check.data(), check.size()), 0xCBF43926u);
  EXPECT_EQ(resdyn::crc32(nullptr, 0), 0u);
  const Bytes fox = bytes_of("The quick brown fox jumps over the lazy dog");
  EXPECT_EQ(resdyn::crc32(fox.data(), fox.size()), 0x414FA339u);
  const Bytes a = bytes_of("a");
  EXPECT_EQ(resdyn::crc32(a.data(), a.size()), 0xE8B7BE43u);
}

TEST(Crc32, Chains) {
  const Bytes data = lcg_bytes(1000);
  const uint32_t whole = resdyn::crc32(data.data(), data.size());
  for (size_t split : {size_t(0), size_t(1), size_t(500), size_t(999), size_t(1000)}) {
    const uint32_t first = resdyn::crc32(data.data(), split);
    EXPECT_EQ(resdyn::crc32(data.data() + split, data.size() - split, first), whole) << split;
  }
}

// ===========================================================================
// gzip: good streams
// ===========================================================================

TEST(Gunzip, HandMadeStoredBlocks) {
  // Several stored blocks: more than 65535 bytes must be split.
  const Bytes content = lcg_bytes(150000);
  EXPECT_EQ(gunzip(stored_gzip(content)), content);
  EXPECT_EQ(gunzip(stored_gzip(Bytes{})), Bytes{});
  EXPECT_EQ(gunzip(stored_gzip(bytes_of("x"))), bytes_of("x"));
}

TEST(Gunzip, OptionalHeaderFields) {
  // FEXTRA, FNAME, FCOMMENT and FHCRC all present, in the RFC 1952 order.
  Bytes header = gzip_header(0x04 | 0x08 | 0x10 | 0x02);
  header.insert(header.end(), {5, 0, 'A', 'B', 3, 0, 'z'});  // XLEN = 5
  for (char c : std::string("name.idx")) header.push_back(static_cast<uint8_t>(c));
  header.push_back(0);
  for (char c : std::string("a comment")) header.push_back(static_cast<uint8_t>(c));
  header.push_back(0);
  const uint32_t hcrc = resdyn::crc32(header.data(), header.size());
  header.push_back(static_cast<uint8_t>(hcrc));
  header.push_back(static_cast<uint8_t>(hcrc >> 8));
  const Bytes content = bytes_of("payload after a full header");
  const Bytes good = stored_gzip(content, header);
  EXPECT_EQ(gunzip(good), content);

  Bytes bad_hcrc = good;
  bad_hcrc[header.size() - 1] ^= 0x01;
  expect_error([&] { gunzip(bad_hcrc); }, {"test.gz: gzip: header CRC mismatch"});

  // A file name that never ends.
  Bytes no_nul = gzip_header(0x08);
  no_nul.insert(no_nul.end(), 20, 'n');
  expect_error([&] { gunzip(no_nul); }, {"unterminated file name"});

  // FEXTRA longer than the data.
  Bytes long_extra = gzip_header(0x04);
  long_extra.insert(long_extra.end(), {0xFF, 0x00, 1, 2, 3});
  expect_error([&] { gunzip(long_extra); }, {"unexpected end of data in header"});
}

TEST(Gunzip, FixedHuffmanFromGzip) {
  const Bytes text = bytes_of(kShortText);
  EXPECT_EQ(gunzip(array_bytes(kFixedShort9)), text);
  EXPECT_EQ(gunzip(array_bytes(kNamedShort9)), text);  // with FNAME
}

TEST(Gunzip, DynamicHuffmanFromGzip) {
  const Bytes text = lines_text();
  EXPECT_EQ(gunzip(array_bytes(kDynamicLines9)), text);
  EXPECT_EQ(gunzip(array_bytes(kDynamicLines1)), text);
}

TEST(Gunzip, StoredFromGzip) { EXPECT_EQ(gunzip(array_bytes(kStoredRandom1)), lcg_bytes(300)); }

TEST(Gunzip, ConcatenatedMembers) {
  Bytes both = array_bytes(kFixedShort9);
  const Bytes second = array_bytes(kDynamicLines1);
  both.insert(both.end(), second.begin(), second.end());
  Bytes expected = bytes_of(kShortText);
  const Bytes text = lines_text();
  expected.insert(expected.end(), text.begin(), text.end());
  EXPECT_EQ(gunzip(both), expected);
}

TEST(Gunzip, HandMadeFixedBlockWithOverlappingMatch) {
  // 'a', 'b', then length 10 at distance 2 (copies its own output):
  // "ab" + "ababababab".
  BitWriter w;
  w.bits(1, 1);  // BFINAL
  w.bits(1, 2);  // fixed Huffman
  w.fixed_lit('a');
  w.fixed_lit('b');
  w.fixed_lit(264);  // length 10, no extra bits
  w.fixed_dist(1);   // distance 2
  w.fixed_lit(256);  // end of block
  const Bytes content = bytes_of("abababababab");
  EXPECT_EQ(gunzip(wrap_deflate(w.bytes, content)), content);
}

TEST(Gunzip, EmptyFixedBlock) {
  BitWriter w;
  w.bits(1, 1);
  w.bits(1, 2);
  w.fixed_lit(256);
  EXPECT_EQ(gunzip(wrap_deflate(w.bytes, Bytes{})), Bytes{});
}

TEST(Gunzip, OutputCap) {
  // Exactly at the cap is fine; one byte over is an error, for each block type.
  const std::vector<std::pair<Bytes, Bytes>> cases = {
      {array_bytes(kStoredRandom1), lcg_bytes(300)},
      {array_bytes(kFixedShort9), bytes_of(kShortText)},
      {array_bytes(kDynamicLines9), lines_text()},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(gunzip(c.first, c.second.size()), c.second);
    expect_error([&] { gunzip(c.first, c.second.size() - 1); },
                 {"output exceeds the limit of " + std::to_string(c.second.size() - 1)});
  }
  // A small "bomb": 1 MB of zeros in a few hundred bytes of stored blocks
  // would be allowed, but not with a 1000-byte cap.
  const Bytes zeros(1 << 20, 0);
  expect_error([&] { gunzip(stored_gzip(zeros), 1000); }, {"output exceeds the limit"});
}

// ===========================================================================
// gzip: bad streams
// ===========================================================================

TEST(GunzipErrors, EmptyAndBadMagic) {
  expect_error([&] { gunzip(Bytes{}); }, {"test.gz: gzip: empty input"});
  Bytes bad = array_bytes(kFixedShort9);
  bad[1] = 0x8c;
  expect_error([&] { gunzip(bad); }, {"not gzip data", "1f 8c"});
  expect_error([&] { gunzip(bytes_of("plain text, not gzip")); }, {"not gzip data"});
}

TEST(GunzipErrors, BadMethodAndFlags) {
  Bytes bad = array_bytes(kFixedShort9);
  bad[2] = 7;
  expect_error([&] { gunzip(bad); }, {"unsupported compression method 7", "at byte 2"});
  bad = array_bytes(kFixedShort9);
  bad[3] = 0x20;
  expect_error([&] { gunzip(bad); }, {"reserved header flag"});
}

TEST(GunzipErrors, EveryTruncationThrows) {
  for (const Bytes& full : {array_bytes(kFixedShort9), array_bytes(kNamedShort9), array_bytes(kDynamicLines9),
                            array_bytes(kDynamicLines1), array_bytes(kStoredRandom1), stored_gzip(lcg_bytes(100))}) {
    for (size_t n = 0; n < full.size(); ++n) {
      const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_THROW(gunzip(cut), resdyn::Error) << "prefix of " << n << " bytes";
    }
  }
  Bytes cut = array_bytes(kDynamicLines9);
  cut.resize(100);
  expect_error([&] { gunzip(cut); }, {"unexpected end of data"});
}

TEST(GunzipErrors, BadCrcAndSize) {
  const Bytes good = array_bytes(kDynamicLines9);
  Bytes bad = good;
  bad[bad.size() - 8] ^= 0x40;  // CRC-32
  expect_error([&] { gunzip(bad); }, {"CRC-32 mismatch"});
  bad = good;
  bad[bad.size() - 4] ^= 0x01;  // ISIZE
  expect_error([&] { gunzip(bad); }, {"ISIZE mismatch"});
  bad = good;
  bad[200] ^= 0x10;  // somewhere in the compressed data
  EXPECT_THROW(gunzip(bad), resdyn::Error);
}

TEST(GunzipErrors, TrailingGarbage) {
  Bytes bad = array_bytes(kFixedShort9);
  bad.push_back(0);
  bad.push_back(0);
  expect_error([&] { gunzip(bad); }, {"2 trailing bytes"});
  bad = array_bytes(kFixedShort9);
  bad.push_back(0x1f);
  EXPECT_THROW(gunzip(bad), resdyn::Error);
}

TEST(GunzipErrors, InvalidBlockType) {
  BitWriter w;
  w.bits(1, 1);
  w.bits(3, 2);
  w.bits(0, 13);
  expect_error([&] { gunzip(wrap_deflate(w.bytes, Bytes{})); }, {"test.gz: gzip: invalid block type 3 at byte 10"});
}

TEST(GunzipErrors, DistanceTooFarBack) {
  BitWriter w;
  w.bits(1, 1);
  w.bits(1, 2);
  w.fixed_lit('a');
  w.fixed_lit(257);  // length 3
  w.fixed_dist(4);   // distance 5, 6 (one extra bit = 0)
  w.bits(0, 1);
  w.fixed_lit(256);
  expect_error([&] { gunzip(wrap_deflate(w.bytes, bytes_of("aaaa"))); },
               {"distance 5 too far back (only 1 bytes written)"});
}

TEST(GunzipErrors, DistanceCannotReachPreviousMember) {
  // Each gzip member is its own deflate stream.
  BitWriter w;
  w.bits(1, 1);
  w.bits(1, 2);
  w.fixed_lit(257);
  w.fixed_dist(0);  // distance 1, but this member has no output yet
  w.fixed_lit(256);
  Bytes both = array_bytes(kFixedShort9);
  const Bytes second = wrap_deflate(w.bytes, Bytes(3, '\n'));
  both.insert(both.end(), second.begin(), second.end());
  expect_error([&] { gunzip(both); }, {"too far back"});
}

TEST(GunzipErrors, InvalidFixedCodes) {
  for (int sym : {286, 287}) {
    BitWriter w;
    w.bits(1, 1);
    w.bits(1, 2);
    w.fixed_lit(sym);
    w.bits(0, 16);
    expect_error([&] { gunzip(wrap_deflate(w.bytes, Bytes{})); }, {"invalid length code " + std::to_string(sym)});
  }
  for (int dsym : {30, 31}) {
    BitWriter w;
    w.bits(1, 1);
    w.bits(1, 2);
    w.fixed_lit('a');
    w.fixed_lit(257);
    w.fixed_dist(dsym);
    w.bits(0, 16);
    expect_error([&] { gunzip(wrap_deflate(w.bytes, Bytes{})); }, {"invalid distance code " + std::to_string(dsym)});
  }
}

TEST(GunzipErrors, StoredLengthComplement) {
  Bytes bad = stored_gzip(bytes_of("abc"));
  bad[13] ^= 0x01;  // NLEN low byte
  expect_error([&] { gunzip(bad); }, {"does not match its complement"});
}

TEST(GunzipErrors, BadDynamicHeaders) {
  {  // HLIT = 30 -> 287 literal/length codes
    BitWriter w;
    w.bits(1, 1);
    w.bits(2, 2);
    w.bits(30, 5);
    w.bits(0, 5);
    w.bits(0, 4);
    w.bits(0, 16);
    expect_error([&] { gunzip(wrap_deflate(w.bytes, Bytes{})); }, {"too many literal/length codes (287)"});
  }
  {  // HDIST = 31 -> 32 distance codes
    BitWriter w;
    w.bits(1, 1);
    w.bits(2, 2);
    w.bits(0, 5);
    w.bits(31, 5);
    w.bits(0, 4);
    w.bits(0, 16);
    expect_error([&] { gunzip(wrap_deflate(w.bytes, Bytes{})); }, {"too many distance codes (32)"});
  }
  {  // Code length code: four 1-bit codes cannot exist.
    BitWriter w;
    w.bits(1, 1);
    w.bits(2, 2);
    w.bits(0, 5);
    w.bits(0, 5);
    w.bits(0, 4);  // HCLEN = 4
    for (int i = 0; i < 4; ++i) w.bits(1, 3);
    w.bits(0, 16);
    expect_error([&] { gunzip(wrap_deflate(w.bytes, Bytes{})); }, {"over-subscribed Huffman code in code length code"});
  }
  {  // Code length code with a single code is incomplete.
    BitWriter w;
    w.bits(1, 1);
    w.bits(2, 2);
    w.bits(0, 5);
    w.bits(0, 5);
    w.bits(0, 4);
    w.bits(1, 3);  // only symbol 16 has a code
    for (int i = 0; i < 3; ++i) w.bits(0, 3);
    w.bits(0, 16);
    expect_error([&] { gunzip(wrap_deflate(w.bytes, Bytes{})); }, {"incomplete Huffman code in code length code"});
  }
  {  // First code length is a "repeat previous" (16).
    BitWriter w;
    w.bits(1, 1);
    w.bits(2, 2);
    w.bits(0, 5);
    w.bits(0, 5);
    w.bits(0, 4);  // HCLEN = 4: symbols 16, 17, 18, 0
    w.bits(1, 3);  // 16: length 1 -> code 0
    w.bits(0, 3);  // 17: unused
    w.bits(0, 3);  // 18: unused
    w.bits(1, 3);  // 0: length 1 -> code 1
    w.code(1, 1);  // symbol 16 (code 1: symbol 0 sorts first and gets code 0)
    w.bits(0, 16);
    expect_error([&] { gunzip(wrap_deflate(w.bytes, Bytes{})); }, {"repeat code with no previous length"});
  }
}

TEST(GunzipErrors, RandomDamageNeverCrashes) {
  // A small built-in fuzz: flip, overwrite or drop bytes of real streams.
  // Every result must be data or resdyn::Error, never anything else.
  uint32_t x = 2024;
  auto next = [&] {
    x = x * 1664525u + 1013904223u;
    return x >> 8;
  };
  int errors = 0;
  const Bytes sources[] = {array_bytes(kDynamicLines9), array_bytes(kDynamicLines1), array_bytes(kFixedShort9),
                           array_bytes(kStoredRandom1)};
  for (int iter = 0; iter < 4000; ++iter) {
    Bytes b = sources[iter % 4];
    const int edits = 1 + static_cast<int>(next() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = next() % b.size();
      switch (next() % 3) {
        case 0: b[at] ^= static_cast<uint8_t>(1u << (next() % 8)); break;
        case 1: b[at] = static_cast<uint8_t>(next()); break;
        default: b.erase(b.begin() + static_cast<std::ptrdiff_t>(at)); break;
      }
    }
    try {
      gunzip(b, 1 << 20);
    } catch (const resdyn::Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 3000);  // nearly all damage must be detected (CRC-32)
}

// ===========================================================================
// IDX parsing
// ===========================================================================

TEST(ParseIdx, EveryType) {
  struct Case {
    uint8_t type;
    std::vector<uint32_t> dims;
    size_t elem;
  };
  const Case cases[] = {
      {0x08, {3, 2, 2}, 1}, {0x09, {4}, 1}, {0x0B, {2, 3}, 2}, {0x0C, {1, 1, 1, 2}, 4}, {0x0D, {3}, 4}, {0x0E, {2}, 8},
  };
  for (const Case& c : cases) {
    size_t items = 1;
    for (uint32_t d : c.dims) items *= d;
    const Bytes payload = counting(items * c.elem, 7);
    const resdyn::Idx idx = parse(make_idx(c.type, c.dims, payload));
    EXPECT_EQ(idx.type, c.type);
    EXPECT_EQ(idx.dims, c.dims);
    EXPECT_EQ(idx.bytes, payload);  // stored bytes, unchanged
  }
}

TEST(ParseIdx, BigDimensionIsReadBigEndian) {
  const resdyn::Idx idx = parse(make_idx(0x08, {0x0102}, counting(0x0102)));
  ASSERT_EQ(idx.dims.size(), 1u);
  EXPECT_EQ(idx.dims[0], 0x0102u);
}

TEST(ParseIdxErrors, EmptyAndShort) {
  expect_error([&] { parse(Bytes{}); }, {"test.idx: empty file"});
  expect_error([&] { parse(Bytes{0, 0, 8}); }, {"test.idx: file has 3 bytes"});
  expect_error([&] { resdyn::parse_idx(nullptr, 0, "x"); }, {"x: empty file"});
}

TEST(ParseIdxErrors, WrongMagic) {
  Bytes b = make_idx(0x08, {2}, {1, 2});
  b[0] = 1;
  expect_error([&] { parse(b); }, {"not an IDX file", "01 00"});
  b = make_idx(0x08, {2}, {1, 2});
  b[1] = 0x08;
  expect_error([&] { parse(b); }, {"not an IDX file"});
  expect_error([&] { parse(array_bytes(kFixedShort9)); }, {"gzip-compressed"});
}

TEST(ParseIdxErrors, UnknownType) {
  for (uint8_t type : {0x00, 0x01, 0x07, 0x0A, 0x0F, 0xFF}) {
    expect_error([&] { parse(make_idx(type, {2}, {1, 2})); }, {"unknown IDX data type 0x"});
  }
  expect_error([&] { parse(make_idx(0x0A, {2}, {1, 2})); }, {"type 0x0a"});
}

TEST(ParseIdxErrors, BadRank) {
  expect_error([&] { parse(Bytes{0, 0, 8, 0, 1, 2, 3}); }, {"IDX rank 0 not supported"});
  expect_error([&] { parse(make_idx(0x08, {1, 1, 1, 1, 1}, {9})); }, {"IDX rank 5 not supported"});
  expect_error([&] { parse(Bytes{0, 0, 8, 255}); }, {"IDX rank 255"});
}

TEST(ParseIdxErrors, ZeroDimension) {
  expect_error([&] { parse(make_idx(0x08, {3, 0, 2}, {})); }, {"dimension 1 is 0"});
}

TEST(ParseIdxErrors, TruncatedHeader) {
  Bytes b = make_idx(0x08, {2, 2, 2}, {});
  b.resize(10);
  expect_error([&] { parse(b); }, {"truncated header", "rank 3 needs 16 bytes but the file has 10"});
}

TEST(ParseIdxErrors, SizeDisagreesWithDims) {
  // The example from the MNIST test labels: 10000 labels, 9000 bytes on disk.
  Bytes b = make_idx(0x08, {10000}, Bytes(8992, 1));
  expect_error([&] { parse(b); },
               {"header says 10000 items of 1 byte (10008 bytes) but the file has 9000 bytes", "truncated"});
  b = make_idx(0x0B, {2, 3}, Bytes(14, 1));
  expect_error([&] { parse(b); }, {"2x3 = 6 items of 2 bytes (24 bytes)", "the file has 26 bytes", "2 trailing bytes"});
  b = make_idx(0x0D, {5}, Bytes(19, 1));
  expect_error([&] { parse(b); }, {"5 items of 4 bytes (28 bytes)", "27 bytes", "truncated"});
  // Header only, payload missing.
  expect_error([&] { parse(make_idx(0x08, {4}, {})); }, {"truncated"});
}

TEST(ParseIdxErrors, EveryPrefixOfAGoodFileThrows) {
  const Bytes good = make_idx(0x0C, {2, 3}, counting(24));
  ASSERT_NO_THROW(parse(good));
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_THROW(parse(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n))), resdyn::Error) << n;
}

TEST(ParseIdxErrors, DimensionProductOverflows) {
  expect_error(
      [&] {
        parse(make_idx(0x08, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {}));
      },
      {"dimensions 4294967295x4294967295x4294967295x4294967295 are too large"});
  // Fits in 64 bits as a count, overflows once multiplied by 8 bytes.
  expect_error([&] { parse(make_idx(0x0E, {0xFFFFFFFF, 0xFFFFFFFF}, {})); }, {"too large"});
  // Large but representable where size_t has 64 bits: just a size mismatch. With 32 bits
  // (armhf) the byte count itself overflows.
  expect_error(
      [&] {
        parse(make_idx(0x08, {0xFFFFFFFF, 0xFFFF}, {}));
      },
      {sizeof(size_t) >= 8 ? "truncated" : "too large"});
}

// ===========================================================================
// Files
// ===========================================================================

TEST(Files, ReadFileErrors) {
  TempDir dir;
  expect_error([&] { resdyn::read_file(dir.file("missing")); },
               {dir.file("missing") + ": cannot open: ", "No such file"});
  EXPECT_THROW(resdyn::read_file(dir.str()), resdyn::Error);  // a directory
  EXPECT_EQ(resdyn::read_file(dir.write("empty", {})), Bytes{});
}

TEST(Files, RawAndGzippedIdxReadTheSame) {
  TempDir dir;
  const Bytes idx = make_idx(0x08, {3, 4}, counting(12, 100));
  const std::string raw = dir.write("a-idx2-ubyte", idx);
  const std::string gz = dir.write("a-idx2-ubyte.gz", stored_gzip(idx));
  EXPECT_EQ(resdyn::read_file(raw), idx);
  EXPECT_EQ(resdyn::read_file_maybe_gzip(raw), idx);
  EXPECT_EQ(resdyn::read_file_maybe_gzip(gz), idx);
  const resdyn::Idx a = resdyn::read_idx(raw);
  const resdyn::Idx b = resdyn::read_idx(gz);
  EXPECT_EQ(a.dims, (std::vector<uint32_t>{3, 4}));
  EXPECT_EQ(b.dims, a.dims);
  EXPECT_EQ(b.bytes, a.bytes);

  // Errors in a gzipped file name the file.
  Bytes bad = stored_gzip(idx);
  bad[bad.size() - 1] ^= 1;
  const std::string bad_gz = dir.write("bad.gz", bad);
  expect_error([&] { resdyn::read_idx(bad_gz); }, {bad_gz + ": gzip: ISIZE mismatch"});
  const std::string short_gz = dir.write("short.gz", stored_gzip(Bytes(idx.begin(), idx.end() - 1)));
  expect_error([&] { resdyn::read_idx(short_gz); }, {short_gz + ": header says", "truncated"});
}

// ===========================================================================
// MNIST loading
// ===========================================================================

struct FakeSplit {
  Bytes images, labels;
};

// count images of rows x cols with recognisable pixels, labels i % 10.
FakeSplit fake_split(uint32_t count, uint32_t rows, uint32_t cols, uint8_t seed) {
  FakeSplit s;
  s.images = make_idx(0x08, {count, rows, cols}, counting(size_t(count) * rows * cols, seed));
  Bytes labels(count);
  for (uint32_t i = 0; i < count; ++i) labels[i] = static_cast<uint8_t>((i + seed) % 10);
  s.labels = make_idx(0x08, {count}, labels);
  return s;
}

void write_split(const TempDir& dir, const std::string& prefix, const FakeSplit& s, bool gz, bool dotted = false) {
  const std::string sep = dotted ? "." : "-";
  const std::string ext = gz ? ".gz" : "";
  dir.write(prefix + "-images" + sep + "idx3-ubyte" + ext, gz ? stored_gzip(s.images) : s.images);
  dir.write(prefix + "-labels" + sep + "idx1-ubyte" + ext, gz ? stored_gzip(s.labels) : s.labels);
}

void check_split(const resdyn::Dataset& ds, const FakeSplit& s, int count, int rows, int cols) {
  EXPECT_EQ(ds.count, count);
  EXPECT_EQ(ds.rows, rows);
  EXPECT_EQ(ds.cols, cols);
  EXPECT_EQ(ds.images, Bytes(s.images.begin() + 16, s.images.end()));
  EXPECT_EQ(ds.labels, Bytes(s.labels.begin() + 8, s.labels.end()));
}

TEST(LoadMnist, RawFiles) {
  TempDir dir;
  const FakeSplit train = fake_split(5, 3, 4, 1), test = fake_split(2, 3, 4, 50);
  write_split(dir, "train", train, false);
  write_split(dir, "t10k", test, false);
  check_split(resdyn::load_mnist(dir.str(), true), train, 5, 3, 4);
  check_split(resdyn::load_mnist(dir.str(), false), test, 2, 3, 4);
  check_split(resdyn::load_mnist(dir.str() + "/", true), train, 5, 3, 4);
}

TEST(LoadMnist, GzippedAndDottedFiles) {
  TempDir dir;
  const FakeSplit train = fake_split(7, 2, 5, 3), test = fake_split(3, 2, 5, 9);
  write_split(dir, "train", train, true);
  write_split(dir, "t10k", test, true, /*dotted=*/true);
  check_split(resdyn::load_mnist(dir.str(), true), train, 7, 2, 5);
  check_split(resdyn::load_mnist(dir.str(), false), test, 3, 2, 5);
}

TEST(LoadMnist, LabelOutOfRange) {
  TempDir dir;
  FakeSplit s = fake_split(5, 2, 2, 0);
  s.labels = make_idx(0x08, {5}, {1, 2, 10, 3, 12});
  write_split(dir, "train", s, false);
  expect_error([&] { resdyn::load_mnist(dir.str(), true); },
               {"train-labels-idx1-ubyte: label 10 at index 2 is out of range"});
}

TEST(LoadMnist, CountMismatch) {
  TempDir dir;
  FakeSplit s = fake_split(5, 2, 2, 0);
  s.labels = make_idx(0x08, {4}, {1, 2, 3, 4});
  write_split(dir, "train", s, false);
  expect_error([&] { resdyn::load_mnist(dir.str(), true); }, {"has 5 images but", "has 4 labels"});
}

TEST(LoadMnist, WrongTypeOrRank) {
  TempDir dir;
  FakeSplit s = fake_split(2, 2, 2, 0);
  s.images = make_idx(0x0C, {2, 2, 2}, Bytes(32, 0));
  write_split(dir, "train", s, false);
  expect_error([&] { resdyn::load_mnist(dir.str(), true); },
               {"train-images-idx3-ubyte: expected unsigned byte data (type 0x08)", "0x0c"});
  s = fake_split(2, 2, 2, 0);
  s.images = make_idx(0x08, {2, 4}, Bytes(8, 0));
  write_split(dir, "train", s, false);
  expect_error([&] { resdyn::load_mnist(dir.str(), true); }, {"expected 3 dimensions", "has 2"});
  s = fake_split(2, 2, 2, 0);
  s.labels = make_idx(0x08, {2, 1}, Bytes(2, 0));
  write_split(dir, "train", s, false);
  expect_error([&] { resdyn::load_mnist(dir.str(), true); }, {"expected 1 dimension "});
}

TEST(LoadMnist, MissingFiles) {
  TempDir dir;
  expect_error([&] { resdyn::load_mnist(dir.str(), true); },
               {dir.str() + ": no MNIST train images file", "train-images-idx3-ubyte,", "train-images-idx3-ubyte.gz",
                "train-images.idx3-ubyte", "train-images.idx3-ubyte.gz"});
  write_split(dir, "t10k", fake_split(2, 2, 2, 0), false);
  fs::remove(dir.file("t10k-labels-idx1-ubyte"));
  expect_error([&] { resdyn::load_mnist(dir.str(), false); },
               {"no MNIST t10k labels file", "t10k-labels-idx1-ubyte.gz"});
  expect_error([&] { resdyn::load_mnist(dir.file("no-such-dir"), true); }, {"no-such-dir: no MNIST train images file"});
}

// ===========================================================================
// Real data (skipped when absent)
// ===========================================================================

TEST(RealData, Mnist) {
  const std::string dir = test_paths::mnist_dir();
  if (!fs::is_directory(dir))
    GTEST_SKIP() << "MNIST not found in " << dir << " (run tools/fetch_mnist.sh or set RESDYN_MNIST_DIR)";
  const resdyn::Dataset train = resdyn::load_mnist(dir, true);
  const resdyn::Dataset test = resdyn::load_mnist(dir, false);
  EXPECT_EQ(train.count, 60000);
  EXPECT_EQ(test.count, 10000);
  for (const resdyn::Dataset* ds : {&train, &test}) {
    EXPECT_EQ(ds->rows, 28);
    EXPECT_EQ(ds->cols, 28);
    EXPECT_EQ(ds->images.size(), size_t(ds->count) * 28 * 28);
    EXPECT_EQ(ds->labels.size(), size_t(ds->count));
  }
  const Bytes first(train.labels.begin(), train.labels.begin() + 10);
  EXPECT_EQ(first, (Bytes{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}));
}

TEST(RealData, FashionMnistGzipped) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST not installed in " << dir << " (Debian package dataset-fashion-mnist)";
  const resdyn::Dataset train = resdyn::load_mnist(dir, true);
  const resdyn::Dataset test = resdyn::load_mnist(dir, false);
  EXPECT_EQ(train.count, 60000);
  EXPECT_EQ(test.count, 10000);
  for (const resdyn::Dataset* ds : {&train, &test}) {
    EXPECT_EQ(ds->rows, 28);
    EXPECT_EQ(ds->cols, 28);
    EXPECT_EQ(ds->images.size(), size_t(ds->count) * 28 * 28);
  }
  EXPECT_EQ(Bytes(train.labels.begin(), train.labels.begin() + 10), (Bytes{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));
  EXPECT_EQ(Bytes(test.labels.begin(), test.labels.begin() + 10), (Bytes{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
}

}  // namespace
