// End to end on real MNIST: a small net trained on a subset must beat a bound that an
// untrained or broken net cannot meet; the same seed gives the same bits on 1 and 2 threads.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "resdyn.h"

using namespace resdyn;

namespace {

std::string mnist_dir() {
  const char* env = std::getenv("RESDYN_MNIST_DIR");
  return env ? env : "data/mnist";
}

Net<float> train_small(const Dataset& train, Arch arch, int threads, int epochs) {
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
