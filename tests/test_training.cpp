// End to end on real MNIST: a small net trained on a subset must beat a bound that an
// untrained or broken net cannot meet; the same seed gives the same bits on 1 and 2 threads.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "resdyn.h"

using namespace resdyn;

namespace {

std::string mnist_dir() {
  const char* env = std::getenv("RESDYN_MNIST_DIR");
  return env ? env : "data/mnist";
}

Net<float> train_small(const Dataset& train, Arch arch, int threads, int epochs, int shift = 0) {
  Config c;
  c.arch = arch;
  c.input = 784;
  c.width = 64;
  c.depth = 4;
  Net<float> net(c);
  Rng rng(5);
  initialise(net, rng);
  TrainOptions opt;
  opt.epochs = epochs;
  opt.batch = 32;
  opt.optimizer.lr = 1e-2;
  opt.seed = 5;
  opt.threads = threads;
  opt.shift = shift;
  Trainer<float> trainer(net, train, opt);
  for (int e = 0; e < epochs; ++e) trainer.train_epoch();
  return net;
}

class RealMnist : public testing::Test {
 protected:
  void SetUp() override {
    try {
      train_ = first_samples(load_mnist(mnist_dir(), true), 10000);
      test_ = first_samples(load_mnist(mnist_dir(), false), 2000);
    } catch (const Error& e) {
      FAIL() << "MNIST is needed for this test (run 'make data'): " << e.what();
    }
  }
  Dataset train_, test_;
};

}  // namespace

TEST_F(RealMnist, SmallResNetLearnsDigits) {
  Config c;
  c.width = 64;
  c.depth = 4;
  Net<float> untrained(c);
  Rng rng(5);
  initialise(untrained, rng);
  const double before = evaluate(untrained, test_).error;
  EXPECT_GT(before, 0.8) << "an untrained net should be near chance";

  const Net<float> net = train_small(train_, Arch::ResNet, 2, 3);
  const Evaluation ev = evaluate(net, test_, 2);
  // 10000 images, 3 epochs: a working trainer reaches about 9 %; chance is 90 %.
  EXPECT_LT(ev.error, 0.12) << "test error " << ev.error;
  int total = 0;
  for (int v : ev.confusion) total += v;
  EXPECT_EQ(total, 2000);
}

TEST_F(RealMnist, SmallMlpLearnsDigits) {
  const Net<float> net = train_small(train_, Arch::MLP, 2, 3);
  EXPECT_LT(evaluate(net, test_, 2).error, 0.25);
}

TEST_F(RealMnist, SameSeedSameBitsOnOneAndTwoThreads) {
  const Dataset small = first_samples(train_, 1000);
  const Net<float> a = train_small(small, Arch::ResNet, 1, 1);
  const Net<float> b = train_small(small, Arch::ResNet, 2, 1);
  ASSERT_EQ(a.params.size(), b.params.size());
  EXPECT_EQ(0, std::memcmp(a.params.data(), b.params.data(), a.params.size() * sizeof(float)));
}

TEST(Augmentation, TranslateImageMovesPixelsAndFillsZeros) {
  // 3 x 4 image 1..12, moved one right and one up: row r, column c shows (r + 1, c - 1).
  const uint8_t in[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const uint8_t expected[12] = {0, 5, 6, 7, 0, 9, 10, 11, 0, 0, 0, 0};
  uint8_t out[12];
  translate_image(in, 3, 4, 1, -1, out);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(out[i], expected[i]) << "pixel " << i;
  translate_image(in, 3, 4, 0, 0, out);
  EXPECT_EQ(0, std::memcmp(in, out, 12));
  translate_image(in, 3, 4, -4, 0, out);  // moved out entirely
  for (uint8_t v : out) EXPECT_EQ(v, 0);
}

TEST_F(RealMnist, ShiftedTrainingIsDeterministicAndDiffers) {
  const Dataset small = first_samples(train_, 1000);
  const Net<float> plain = train_small(small, Arch::ResNet, 2, 1);
  const Net<float> a = train_small(small, Arch::ResNet, 1, 1, 2);
  const Net<float> b = train_small(small, Arch::ResNet, 2, 1, 2);
  EXPECT_EQ(0, std::memcmp(a.params.data(), b.params.data(), a.params.size() * sizeof(float)));
  EXPECT_NE(0, std::memcmp(a.params.data(), plain.params.data(), a.params.size() * sizeof(float)))
      << "--shift 2 changed nothing";
}

TEST(Augmentation, ShiftMustBeSmallerThanTheImage) {
  Dataset d;
  d.count = 1;
  d.rows = d.cols = 4;
  d.images.assign(16, 0);
  d.labels.assign(1, 0);
  Config c;
  c.input = 16;
  c.width = 8;
  c.depth = 1;
  Net<float> net(c);
  TrainOptions opt;
  opt.shift = 4;
  EXPECT_THROW(Trainer<float>(net, d, opt), Error);
  opt.shift = -1;
  EXPECT_THROW(Trainer<float>(net, d, opt), Error);
  opt.shift = 3;
  EXPECT_NO_THROW(Trainer<float>(net, d, opt));
}
