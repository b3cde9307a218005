// Writes the seed corpus of the fuzz targets: small valid inputs from which the fuzzer
// starts (tools/fuzz.sh --seeds runs it, then gzips some of its files for the gzip target).
//   make_seeds CORPUS SCRATCH
// writes CORPUS/idx/*, CORPUS/model/*, CORPUS/flags/* and, for the gzip seeds, the raw
// payloads SCRATCH/*.raw. Everything is deterministic.
#include <cstdio>
#include <initializer_list>
#include <string>
#include <vector>

#define RESDYN_IMPLEMENTATION  // a program of its own: the header's compiled part is here
#include "resdyn.h"

namespace {

using Bytes = std::vector<uint8_t>;

void write(const std::string& path, const Bytes& bytes) { resdyn::write_file_atomically(path, bytes); }

void write_text(const std::string& path, const std::string& text) { resdyn::write_text_atomically(path, text); }

// An IDX file: 00 00 TYPE RANK, big-endian dimensions, then `payload` (the caller makes its
// size match the dimensions).
Bytes idx_file(uint8_t type, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes out = {0, 0, type, uint8_t(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(d >> shift));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes random_bytes(resdyn::Rng& rng, size_t n) {
  Bytes out(n);
  for (uint8_t& b : out) b = uint8_t(rng.below(256));
  return out;
}

// Two 28 x 28 images of a filled ring (something like a zero), the shape MNIST files have.
Bytes ring_images() {
  Bytes out;
  for (int image = 0; image < 2; ++image)
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) {
        const int dr = r - 14, dc = c - 14 + image, d2 = dr * dr + dc * dc;
        out.push_back(d2 >= 25 && d2 <= 81 ? uint8_t(255 - 3 * d2) : 0);
      }
  return out;
}

resdyn::Net<float> tiny_net(resdyn::Arch arch, resdyn::Weights weights, bool stem, int input, int width, int depth,
                            int classes, uint64_t seed) {
  resdyn::Config cfg;
  cfg.arch = arch;
  cfg.weights = weights;
  cfg.stem = stem;
  cfg.input = input;
  cfg.width = width;
  cfg.depth = depth;
  cfg.classes = classes;
  resdyn::Net<float> net(cfg);
  resdyn::Rng rng(seed);
  for (float& p : net.params) p = float(rng.uniform(-1, 1));
  return net;
}

// A per-epoch training log as text: varied enough that gzip codes it with dynamic Huffman codes.
Bytes epoch_log() {
  std::string text;
  for (int epoch = 0; epoch < 40; ++epoch) {
    char line[80];
    std::snprintf(line, sizeof line, "epoch %d, loss %.4f, error %.2f%%\n", epoch, 2.3 / (epoch + 1),
                  90.0 / (epoch + 1));
    text += line;
  }
  return Bytes(text.begin(), text.end());
}

// Deflate output, bits packed from the low end of each byte (RFC 1951 3.1.1).
struct BitWriter {
  Bytes bytes;
  int used = 8;                       // bits used in the last byte
  void bits(uint32_t value, int n) {  // n bits of value, least significant first
    for (int i = 0; i < n; ++i) {
      if (used == 8) {
        bytes.push_back(0);
        used = 0;
      }
      bytes.back() |= uint8_t(((value >> i) & 1u) << used++);
    }
  }
  void code(uint32_t code, int length) {  // a Huffman code, most significant bit first
    for (int i = length - 1; i >= 0; --i) bits((code >> i) & 1u, 1);
  }
};

// Canonical Huffman codes for the given code lengths (RFC 1951 3.2.2).
std::vector<uint32_t> canonical_codes(const std::vector<int>& lengths) {
  int count[16] = {};
  for (int len : lengths) ++count[len];
  count[0] = 0;
  uint32_t next[16] = {}, code = 0;
  for (int len = 1; len < 16; ++len) next[len] = code = (code + uint32_t(count[len - 1])) << 1;
  std::vector<uint32_t> codes(lengths.size());
  for (size_t s = 0; s < lengths.size(); ++s)
    if (lengths[s]) codes[s] = next[lengths[s]]++;
  return codes;
}

// A gzip member with one dynamic-Huffman block whose literal code gives 'A' 1 bit, 'B' 2 bits,
// ... 'O' 15 bits and end-of-block 15 bits (a complete code), holding "ABC...O" once each.
// Codes longer than the inflater's 10-bit fast table take its slower path, which gzip itself
// rarely produces for small inputs.
Bytes gzip_with_15_bit_codes() {
  std::vector<int> lit(257, 0);
  for (int i = 0; i < 15; ++i) lit[size_t('A' + i)] = i + 1;
  lit[256] = 15;
  // The code lengths, run-length coded (RFC 1951 3.2.7): symbol 18 repeats a zero 11..138
  // times with 7 extra bits; then one distance code length of 0 (no distances are used).
  struct Item {
    int symbol, extra, extra_bits;
  };
  std::vector<Item> items = {{18, 65 - 11, 7}};
  for (int i = 1; i <= 15; ++i) items.push_back({i, 0, 0});
  items.push_back({18, 138 - 11, 7});
  items.push_back({18, 38 - 11, 7});
  items.push_back({15, 0, 0});
  items.push_back({0, 0, 0});
  // The code-length code: symbols 0..14 four bits, 15 and 18 five bits (a complete code).
  std::vector<int> cl(19, 4);
  cl[15] = 5;
  cl[16] = 0;
  cl[17] = 0;
  cl[18] = 5;
  const std::vector<uint32_t> cl_codes = canonical_codes(cl), lit_codes = canonical_codes(lit);
  const int order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

  BitWriter w;
  w.bits(1, 1);          // BFINAL
  w.bits(2, 2);          // BTYPE = dynamic
  w.bits(257 - 257, 5);  // HLIT
  w.bits(1 - 1, 5);      // HDIST
  w.bits(19 - 4, 4);     // HCLEN
  for (int i = 0; i < 19; ++i) w.bits(uint32_t(cl[size_t(order[i])]), 3);
  for (const Item& it : items) {
    w.code(cl_codes[size_t(it.symbol)], cl[size_t(it.symbol)]);
    w.bits(uint32_t(it.extra), it.extra_bits);
  }
  Bytes payload;
  for (int i = 0; i < 15; ++i) {
    const size_t symbol = size_t('A' + i);
    w.code(lit_codes[symbol], lit[symbol]);
    payload.push_back(uint8_t(symbol));
  }
  w.code(lit_codes[256], lit[256]);

  Bytes out = {0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255};
  out.insert(out.end(), w.bytes.begin(), w.bytes.end());
  const uint32_t crc = resdyn::crc32(payload.data(), payload.size());
  for (uint32_t v : {crc, uint32_t(payload.size())})
    for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR SCRATCH_DIR\n");
    return 2;
  }
  const std::string corpus = argv[1], scratch = argv[2];
  resdyn::Rng rng(11);
  try {
    // IDX: every element type and rank, including the two MNIST layouts.
    write(corpus + "/idx/labels_u8_rank1", idx_file(0x08, {5}, {7, 2, 1, 0, 4}));
    write(corpus + "/idx/images_u8_rank3", idx_file(0x08, {2, 4, 4}, random_bytes(rng, 32)));
    write(corpus + "/idx/i8_rank2", idx_file(0x09, {2, 3}, random_bytes(rng, 6)));
    write(corpus + "/idx/i16_rank2", idx_file(0x0B, {2, 2}, random_bytes(rng, 8)));
    write(corpus + "/idx/i32_rank1", idx_file(0x0C, {3}, random_bytes(rng, 12)));
    write(corpus + "/idx/f32_rank4", idx_file(0x0D, {1, 1, 2, 2}, random_bytes(rng, 16)));
    write(corpus + "/idx/f64_rank1", idx_file(0x0E, {2}, random_bytes(rng, 16)));
    write(corpus + "/idx/ring_images", idx_file(0x08, {2, 28, 28}, ring_images()));

    // gzip: one member made here with 15-bit codes; the payloads the gzip tool compresses
    // (tools/fuzz.sh): text (dynamic Huffman), images and labels (fixed), random (stored).
    write(corpus + "/gunzip/long_codes.gz", gzip_with_15_bit_codes());
    write(scratch + "/epoch_log.raw", epoch_log());
    write(scratch + "/ring_images.raw", idx_file(0x08, {2, 28, 28}, ring_images()));
    write(scratch + "/labels.raw", idx_file(0x08, {5}, {7, 2, 1, 0, 4}));
    write(scratch + "/random.raw", random_bytes(rng, 300));
    write(scratch + "/empty.raw", {});

    // Model files of each architecture, with and without a stem and metadata.
    using resdyn::Arch;
    using resdyn::Weights;
    resdyn::save_model(tiny_net(Arch::ResNet, Weights::Shared, true, 4, 3, 2, 2, 1),
                       corpus + "/model/resnet_shared_stem",
                       "command: resdyn train --width 3 --depth 2\ntest_error: 0.5\n");
    resdyn::save_model(tiny_net(Arch::ResNet, Weights::PerLayer, true, 2, 2, 3, 2, 2),
                       corpus + "/model/resnet_per_layer_stem");
    resdyn::save_model(tiny_net(Arch::MLP, Weights::PerLayer, false, 3, 3, 2, 3, 3), corpus + "/model/mlp_per_layer",
                       "mlp");
    resdyn::save_model(tiny_net(Arch::MLP, Weights::Shared, true, 5, 2, 4, 2, 4), corpus + "/model/mlp_shared_stem");

    // Argument lists of `resdyn train`, each argument ended by a NUL (as in /proc/PID/cmdline).
    auto args = [](std::initializer_list<const char*> list) {
      std::string out;
      for (const char* a : list) out += std::string(a) + '\0';
      return out;
    };
    write_text(corpus + "/flags/architecture",
               args({"--arch", "mlp", "--weights=per-layer", "--width", "16", "--depth=3", "--no-stem"}));
    write_text(corpus + "/flags/optimiser", args({"--optimizer=sgd", "--lr", "0.1", "--momentum=0.5", "--schedule",
                                                  "constant", "--seed", "7", "--epochs", "2", "--batch=32"}));
    write_text(corpus + "/flags/files", args({"--data", "data/mnist", "--threads=2", "--limit-train", "100",
                                              "--limit-test=50", "--out", "net.resdyn", "--stem"}));
    write_text(corpus + "/flags/help", args({"--width", "-3", "--help"}));
    write_text(corpus + "/flags/numbers", args({"--lr=1e-3", "--momentum", "0x1p-1", "--seed=4611686018427387904"}));
  } catch (const resdyn::Error& e) {
    std::fprintf(stderr, "make_seeds: %s\n", e.what());
    return 2;
  }
  return 0;
}
