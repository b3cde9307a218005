#include "quant/quantized_model_file.h"

#include <cstdio>
#include <cstring>

namespace resdyn::quant {

namespace {

// The matrices in file order, with the row counts the configuration implies.
struct Part {
  QuantizedModel::Matrix QuantizedModel::*matrix;
  int rows, cols, count;
};

std::vector<Part> parts_of(const Config& c) {
  std::vector<Part> parts;
  if (c.stem) parts.push_back({&QuantizedModel::stem, c.width, c.input, 1});
  parts.push_back({&QuantizedModel::classifier, c.classes, c.width, 1});
  parts.push_back({&QuantizedModel::blocks, c.width, c.width, c.weights == Weights::Shared ? 1 : c.depth});
  return parts;
}

}  // namespace

std::vector<uint8_t> encode_quantized(const QuantizedModel& model, const std::string& metadata) {
  if (const char* why = quantized_model_problem(model)) throw Error(std::string("quantized model: ") + why);
  if (metadata.size() > kMaxMetadata) throw Error("model metadata longer than 1 MiB");
  const Config& c = model.config;
  ByteWriter out;
  out.raw(kQuantizedMagic, 8);
  out.u32(kQuantizedVersion);
  write_architecture(out, c);
  out.u32(uint32_t(metadata.size()));
  out.raw(metadata.data(), metadata.size());
  for (const Part& p : parts_of(c)) {
    const QuantizedModel::Matrix& mat = model.*p.matrix;
    out.raw(mat.weights.data(), mat.weights.size());
    for (int32_t v : mat.mult) out.u32(uint32_t(v));
    out.raw(mat.shift.data(), mat.shift.size());
    for (int32_t v : mat.bias) out.u32(uint32_t(v));
  }
  out.u32(crc32(out.bytes.data(), out.bytes.size()));
  return out.bytes;
}

QuantizedModel decode_quantized(const uint8_t* data, size_t size, const std::string& where, std::string* metadata) {
  auto fail = [&where](const std::string& what) { return Error(where + ": " + what); };
  if (size < 48) throw fail("not a quantized resdyn model (file too short: " + std::to_string(size) + " bytes)");
  if (std::memcmp(data, kQuantizedMagic, 8) != 0) throw fail("not a quantized resdyn model (bad magic)");
  ByteReader in(data + 8, size - 12, where);  // between the magic and the CRC
  const uint32_t version = in.u32("version");
  if (version != kQuantizedVersion)
    throw fail("quantized model format version " + std::to_string(version) + " is not supported (expected " +
               std::to_string(kQuantizedVersion) + "; quantize the float model again)");
  if (crc32(data, size - 4) != ByteReader(data + size - 4, 4, where).u32("checksum"))
    throw fail("checksum mismatch: the file is corrupt");
  QuantizedModel m;
  m.config = read_architecture(in, where);
  const Config& c = m.config;
  const uint32_t meta_len = in.u32("metadata length");
  if (meta_len > kMaxMetadata) throw fail("metadata length out of range");
  // The size the configuration implies, before anything is allocated.
  uint64_t expected = 44ull + meta_len + 4;
  const std::vector<Part> parts = parts_of(c);
  for (const Part& p : parts) {
    const uint64_t rows = uint64_t(p.rows) * uint64_t(p.count);
    expected += rows * uint64_t(p.cols) + rows * 9;
  }
  if (expected != size)
    throw fail("size is " + std::to_string(size) + " bytes but the header implies " + std::to_string(expected));
  const uint8_t* meta = in.take(meta_len, "metadata");
  for (const Part& part : parts) {
    QuantizedModel::Matrix& mat = m.*part.matrix;
    const size_t rows = size_t(part.rows) * size_t(part.count);
    mat.rows = part.rows;
    mat.cols = part.cols;
    mat.count = part.count;
    const uint8_t* weights = in.take(rows * size_t(part.cols), "weights");
    mat.weights.assign(weights, weights + rows * size_t(part.cols));
    mat.mult.resize(rows);
    for (int32_t& v : mat.mult) v = int32_t(in.u32("multipliers"));
    const uint8_t* shifts = in.take(rows, "shifts");
    mat.shift.assign(shifts, shifts + rows);
    mat.bias.resize(rows);
    for (int32_t& v : mat.bias) v = int32_t(in.u32("biases"));
  }
  if (const char* why = quantized_model_problem(m)) throw fail(std::string("bad quantized tensors: ") + why);
  if (metadata) metadata->assign(reinterpret_cast<const char*>(meta), meta_len);
  return m;
}

void save_quantized(const QuantizedModel& model, const std::string& path, const std::string& metadata) {
  write_file_atomically(path, encode_quantized(model, metadata));
}

QuantizedModel load_quantized(const std::string& path, std::string* metadata) {
  const std::vector<uint8_t> bytes = read_file(path);
  return decode_quantized(bytes.data(), bytes.size(), path, metadata);
}

bool is_quantized_model_file(const std::string& path) {
  if (path_kind(path) != PathKind::Regular) return false;  // a FIFO would block the open
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char head[8];
  const bool full = std::fread(head, 1, 8, f) == 8;
  std::fclose(f);
  return full && std::memcmp(head, kQuantizedMagic, 8) == 0;
}

}  // namespace resdyn::quant
