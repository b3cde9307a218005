// End to end on real MNIST: a small net trained on a subset must beat a bound that an
// untrained or broken net cannot meet; the same seed gives the same bits on 1 and 2 threads.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "resdyn.h"
#include "test_paths.h"

using namespace resdyn;

namespace {

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
      train_ = first_samples(load_mnist(test_paths::mnist_dir(), true), 10000);
      test_ = first_samples(load_mnist(test_paths::mnist_dir(), false), 2000);
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

// The trainer updates each parameter group as soon as its gradient is made (section 8). That
// must be the same, bit for bit, as one whole gradient (backward() plus the penalty) applied
// to the whole vector: the reference below replays the trainer's data order by hand.
TEST(GroupUpdates, EqualAWholeGradientStep) {
  const int count = 12, pixels = 36, classes = 4;
  Dataset data;
  data.count = count;
  data.rows = data.cols = 6;
  Rng fill(5);
  for (int i = 0; i < count * pixels; ++i) data.images.push_back(uint8_t(fill.below(256)));
  for (int i = 0; i < count; ++i) data.labels.push_back(uint8_t(fill.below(classes)));
  // Width 600 cuts each block into two bands of rows (kGroupValues), the second with the bias.
  for (const int width : {10, 600})
    for (const Arch arch : {Arch::ResNet, Arch::MLP})
      for (const Weights weights : {Weights::Shared, Weights::PerLayer})
        for (const double reg : {0.0, 0.3})
          for (const OptimizerKind kind : {OptimizerKind::Adam, OptimizerKind::SGD}) {
            SCOPED_TRACE(std::to_string(width) + " " + std::to_string(int(arch)) + " " + std::to_string(int(weights)) +
                         " " + std::to_string(reg) + " " + std::to_string(int(kind)));
            Config c;
            c.arch = arch;
            c.weights = weights;
            c.stem = true;
            c.input = pixels;
            c.width = width;
            c.depth = 3;
            if (width == 600) {
              EXPECT_EQ(param_group(layout_of(c), 1).rows, int(kGroupValues / 600));
            }
            c.classes = classes;
            Net<float> start(c);
            Rng init(9);
            for (float& p : start.params) p = float(init.uniform(-0.5, 0.5));
            TrainOptions opt;
            opt.epochs = 3;
            opt.batch = count;  // one step per epoch
            opt.seed = 11;
            opt.noise_reg = reg;
            opt.optimizer.kind = kind;
            opt.optimizer.lr = 0.05;
            opt.optimizer.schedule = Schedule::Constant;

            Net<float> trained = start;
            Trainer<float> trainer(trained, data, opt);
            for (int e = 0; e < opt.epochs; ++e) trainer.train_epoch();

            Net<float> ref = start;
            Optimizer<float> optimizer;
            optimizer.config = opt.optimizer;
            optimizer.reset(ref.params.size());
            std::vector<float> grad(ref.params.size());
            std::vector<uint32_t> order(count);
            for (int i = 0; i < count; ++i) order[size_t(i)] = uint32_t(i);
            Rng shuffle(opt.seed);
            Trace<float> trace;
            BackwardBuffers<float> buf;
            std::vector<uint8_t> batch(size_t(count) * pixels), labels(count);
            for (int e = 0; e < opt.epochs; ++e) {
              for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[size_t(shuffle.below(i))]);
              for (int r = 0; r < count; ++r) {
                std::memcpy(&batch[size_t(r) * pixels], &data.images[size_t(order[size_t(r)]) * pixels], pixels);
                labels[size_t(r)] = data.labels[order[size_t(r)]];
              }
              set_input(trace, batch.data(), count, pixels);
              forward(ref, trace);
              Trace<float> again = trace;  // backward uses up a ResNet's y(t), which the penalty reads
              backward(ref, trace, labels.data(), grad.data(), buf);
              if (reg > 0) noise_growth_penalty(ref, again, reg, grad.data(), buf);
              optimizer.begin_step();
              optimizer.update(ref.params.data(), grad.data(), 0, grad.size(), opt.optimizer.lr);
            }
            ASSERT_EQ(trained.params.size(), ref.params.size());
            EXPECT_EQ(std::memcmp(trained.params.data(), ref.params.data(), ref.params.size() * sizeof(float)), 0);
            EXPECT_NE(std::memcmp(start.params.data(), ref.params.data(), ref.params.size() * sizeof(float)), 0);
          }
}

// The groups cover the parameter vector exactly once, in order, each at most a band of
// kGroupValues weights plus its matrix's bias.
TEST(GroupUpdates, GroupsTileTheParameters) {
  for (const bool stem : {false, true})
    for (const Weights weights : {Weights::Shared, Weights::PerLayer})
      for (const int width : {5, 600, 1064}) {
        Config c;
        c.weights = weights;
        c.stem = stem;
        c.input = stem ? 784 : width;
        c.width = width;
        c.depth = 4;
        c.classes = 10;
        const Layout L = layout_of(c);
        std::vector<int> covered(L.total, 0);
        for (int g = 0; g < group_count(L); ++g) {
          const ParamGroup group = param_group(L, g);
          ASSERT_LE(group.offset + group.size, L.total);
          EXPECT_LE(group.size, kGroupValues + size_t(width));
          for (size_t i = group.offset; i < group.offset + group.size; ++i) ++covered[i];
        }
        for (size_t i = 0; i < L.total; ++i) ASSERT_EQ(covered[i], 1) << "value " << i << ", width " << width;
      }
}
