// resdyn as a library: a small shared-weight ResNet learns noisy 4 x 4 images (class 1: the
// top half lit, class 0: the bottom half) and classifies a new one.
//   g++ -std=c++17 -O2 library_example.cpp $(pkg-config --cflags --libs resdyn)
#define RESDYN_IMPLEMENTATION  // in exactly one file of a program; the others just include
#include "resdyn.h"
#include <cstdio>

int main() {
  resdyn::Config config;  // the defaults: a ResNet with a stem, one W shared by every layer
  config.input = 16, config.width = 8, config.depth = 4, config.classes = 2;
  resdyn::Net<float> net(config);
  resdyn::Rng rng(1);
  resdyn::initialise(net, rng);
  resdyn::Dataset data;
  data.count = 64, data.rows = data.cols = 4;
  for (int i = 0; i < 64 * 16; ++i)
    data.images.push_back(uint8_t(rng.below(56) + ((i % 16 < 8) == (i / 16 % 2 == 1) ? 200 : 0)));
  for (int i = 0; i < 64; ++i) data.labels.push_back(uint8_t(i % 2));
  resdyn::TrainOptions options;  // Adam with a cosine schedule
  options.epochs = 20, options.batch = 8, options.optimizer.lr = 0.05;
  resdyn::Trainer<float> trainer(net, data, options);
  for (int epoch = 0; epoch < options.epochs; ++epoch) trainer.train_epoch();
  std::printf("training error %.1f %%\n", 100 * resdyn::evaluate(net, data).error);
  const uint8_t image[16] = {255, 255, 255, 255, 255, 255, 255, 255};  // top half lit
  resdyn::Trace<float> trace;
  resdyn::set_input(trace, image, 1, config.input);
  resdyn::forward(net, trace);
  std::printf("predicted class %d\n", resdyn::argmax_row(trace.logits.data(), config.classes));
}
