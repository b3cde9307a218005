// The model file: a round trip keeps every bit; every kind of damage is refused with an Error.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "resdyn.h"

using namespace resdyn;

namespace {

Net<float> small_net(Weights weights) {
  Config c;
  c.input = 12;
  c.width = 8;
  c.depth = 3;
  c.classes = 10;
  c.weights = weights;
  Net<float> net(c);
  Rng rng(3);
  for (auto& p : net.params) p = float(rng.uniform(-1, 1));
  return net;
}

// Rewrites the trailing CRC so that a deliberate edit reaches the later checks.
void reseal(std::vector<uint8_t>& bytes) {
  const uint32_t crc = crc32(bytes.data(), bytes.size() - 4);
  for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + i] = uint8_t(crc >> (8 * i));
}

void put_u32(std::vector<uint8_t>& bytes, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = uint8_t(v >> (8 * i));
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    decode_model(bytes.data(), bytes.size(), "m.resdyn");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ModelFile, RoundTripKeepsEveryBitAndTheMetadata) {
  for (Weights w : {Weights::Shared, Weights::PerLayer}) {
    const Net<float> net = small_net(w);
    const std::string path = testing::TempDir() + "/roundtrip.resdyn";
    save_model(net, path, "command: resdyn train --seed 3\n");
    std::string meta;
    const Net<float> back = load_model(path, &meta);
    EXPECT_EQ(meta, "command: resdyn train --seed 3\n");
    EXPECT_EQ(back.config.weights, w);
    EXPECT_EQ(back.config.depth, 3);
    EXPECT_EQ(back.config.width, 8);
    ASSERT_EQ(back.params.size(), net.params.size());
    EXPECT_EQ(0, std::memcmp(back.params.data(), net.params.data(), net.params.size() * 4));
    // Written as it is encoded (FileWriter), the file is the in-memory encoding byte for byte.
    EXPECT_TRUE(read_file(path) == encode_model(net, "command: resdyn train --seed 3\n"));
    for (const auto& entry : std::filesystem::directory_iterator(testing::TempDir()))  // PATH.partial.TOKEN.N
      EXPECT_NE(entry.path().filename().string().rfind("roundtrip.resdyn.partial", 0), 0u)
          << "the temporary file must be gone: " << entry.path();
  }
}

TEST(ModelFile, EveryFlippedByteIsRejected) {
  const std::vector<uint8_t> good = encode_model(small_net(Weights::PerLayer), "meta");
  for (size_t i = 0; i < good.size(); ++i) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x10;
    EXPECT_NE(error_of(bad), "") << "flipped byte " << i << " was accepted";
  }
}

TEST(ModelFile, TruncationAndEmptyFileAreRejected) {
  const std::vector<uint8_t> good = encode_model(small_net(Weights::Shared), "");
  for (size_t len : {size_t(0), size_t(7), size_t(55), good.size() / 2, good.size() - 1}) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + long(len));
    EXPECT_NE(error_of(cut), "") << "length " << len;
  }
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_NE(error_of(longer), "");
}

TEST(ModelFile, HeaderLiesAreCaughtEvenWithAValidChecksum) {
  const std::vector<uint8_t> good = encode_model(small_net(Weights::Shared), "");
  struct Lie {
    size_t at;
    uint32_t value;
    const char* expect;
  };
  // Header fields: 8 version, 12 arch, 16 weights, 20 stem, 24 input, 28 width, 32 depth,
  // 36 classes, 40 parameter count, 48 metadata length.
  for (const Lie& lie : {Lie{8, 2, "version"}, Lie{12, 7, "architecture"}, Lie{16, 2, "architecture"},
                         Lie{24, 13, "match"}, Lie{32, 0, "depth"}, Lie{36, 1, "classes"}, Lie{28, 999999, "range"},
                         Lie{40, 5, "parameter count"}, Lie{48, 4000000, "metadata"}, Lie{48, 7, "size"}}) {
    std::vector<uint8_t> bad = good;
    put_u32(bad, lie.at, lie.value);
    reseal(bad);
    const std::string err = error_of(bad);
    EXPECT_NE(err.find(lie.expect), std::string::npos) << "offset " << lie.at << ": '" << err << "'";
    EXPECT_EQ(err.find('\n'), std::string::npos);
  }
  std::vector<uint8_t> nan = good;
  put_u32(nan, 52, 0x7FC00000u);  // first parameter NaN
  reseal(nan);
  EXPECT_NE(error_of(nan).find("not finite"), std::string::npos);
}

TEST(ModelFile, MissingFileAndUnwritablePathAreErrors) {
  EXPECT_THROW(load_model(testing::TempDir() + "/does/not/exist.resdyn"), Error);
  EXPECT_THROW(save_model(small_net(Weights::Shared), testing::TempDir() + "/no-such-dir/m.resdyn"), Error);
}
