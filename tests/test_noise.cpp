// The noise-robustness measurement (paper fig. 4; analysis/noise_robustness.h): its
// building blocks against hand-computed values, the whole curve against a naive per-sample
// computation in double precision, the limits (amplitude 0), determinism, and the behaviour
// of trained nets on MNIST.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/noise_robustness.h"
#include "experiments/noise_experiment.h"
#include "resdyn.h"
#include "test_paths.h"
#include "tiny_net.h"

using namespace resdyn;

namespace {

Net<float> random_net(Arch arch, Weights weights, bool stem, uint64_t seed) {
  return tiny::random_net<float>(tiny::config(arch, weights, stem, 6, 5, 3, 3), seed, 1.5);
}

// Random 2 x 3 "images" (6 pixels) with random labels.
Dataset random_images(int count, int classes, uint64_t seed) {
  Dataset d;
  d.count = count;
  d.rows = 2;
  d.cols = 3;
  Rng rng(seed);
  d.images.resize(size_t(count) * 6);
  d.labels.resize(size_t(count));
  for (auto& p : d.images) p = uint8_t(rng.below(256));
  for (auto& l : d.labels) l = uint8_t(rng.below(uint64_t(classes)));
  return d;
}

// One sample's forward pass by plain loops in double (the equations of paper §4-5), from
// the given x(0) or pixels; returns the final state s = x(T) or h(T) and the logits.
struct NaiveOutput {
  std::vector<double> final_state, logits;
};

std::vector<double> naive_stem(const Net<float>& net, const std::vector<double>& u) {
  const Config& cfg = net.config;
  if (!cfg.stem) return u;
  std::vector<double> x0(static_cast<size_t>(cfg.width));
  for (int i = 0; i < cfg.width; ++i) {
    double z = net.c()[i];
    for (int j = 0; j < cfg.input; ++j) z += double(net.P()[size_t(i) * cfg.input + j]) * u[size_t(j)];
    x0[size_t(i)] = 1 / (1 + std::exp(-z));
  }
  return x0;
}

NaiveOutput naive_layers(const Net<float>& net, std::vector<double> x) {
  const Config& cfg = net.config;
  const int N = cfg.width;
  for (int t = 1; t <= cfg.depth; ++t) {
    std::vector<double> next(static_cast<size_t>(N));
    for (int i = 0; i < N; ++i) {
      double z = net.b(t)[i];
      for (int j = 0; j < N; ++j) z += double(net.W(t)[size_t(i) * N + j]) * x[size_t(j)];
      const double y = 1 / (1 + std::exp(-z));
      next[size_t(i)] = cfg.arch == Arch::ResNet ? x[size_t(i)] + y : y;
    }
    x = next;
  }
  NaiveOutput out;
  out.final_state = x;
  for (int k = 0; k < cfg.classes; ++k) {
    double l = net.k0()[k];
    for (int j = 0; j < N; ++j) l += double(net.K()[size_t(k) * N + j]) * x[size_t(j)];
    out.logits.push_back(l);
  }
  return out;
}

int naive_argmax(const std::vector<double>& v, double* margin) {
  int best = 0;
  for (int k = 1; k < int(v.size()); ++k)
    if (v[size_t(k)] > v[size_t(best)]) best = k;
  double second = -HUGE_VAL;
  for (int k = 0; k < int(v.size()); ++k)
    if (k != best) second = std::max(second, v[size_t(k)]);
  *margin = v[size_t(best)] - second;
  return best;
}

NoiseOptions options_with(std::vector<double> amplitudes, int realizations, uint64_t seed) {
  NoiseOptions o;
  o.amplitudes = std::move(amplitudes);
  o.realizations = realizations;
  o.seed = seed;
  return o;
}

void expect_same_curve(const NoiseCurve& a, const NoiseCurve& b) {
  ASSERT_EQ(a.points.size(), b.points.size());
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(a.clean_error, b.clean_error);
  for (size_t k = 0; k < a.points.size(); ++k) {
    EXPECT_EQ(a.points[k].ratio_mean, b.points[k].ratio_mean) << k;
    EXPECT_EQ(a.points[k].ratio_std, b.points[k].ratio_std) << k;
    EXPECT_EQ(a.points[k].cosine_mean, b.points[k].cosine_mean) << k;
    EXPECT_EQ(a.points[k].cosine_std, b.points[k].cosine_std) << k;
    EXPECT_EQ(a.points[k].error_mean, b.points[k].error_mean) << k;
    EXPECT_EQ(a.points[k].error_std, b.points[k].error_std) << k;
  }
}

NoiseCurve curve_of(std::vector<double> amplitudes, double clean_error, std::vector<double> errors) {
  NoiseCurve c;
  c.clean_error = clean_error;
  for (size_t k = 0; k < amplitudes.size(); ++k) {
    NoisePoint p;
    p.amplitude = amplitudes[k];
    p.error_mean = errors[k];
    p.ratio_mean = 10.0 * (k + 1);
    p.cosine_mean = 1.0 - 0.1 * k;
    c.points.push_back(p);
  }
  return c;
}

}  // namespace

TEST(NoiseGrid, DefaultIsLogspaceFromMinus3To0In13Points) {
  const std::vector<double> a = default_noise_amplitudes();
  ASSERT_EQ(a.size(), 13u);
  EXPECT_DOUBLE_EQ(a[0], 1e-3);
  EXPECT_DOUBLE_EQ(a[4], 1e-2);
  EXPECT_DOUBLE_EQ(a[8], 1e-1);
  EXPECT_DOUBLE_EQ(a[12], 1.0);
  for (size_t k = 1; k < a.size(); ++k) EXPECT_NEAR(a[k] / a[k - 1], std::pow(10.0, 0.25), 1e-12);
  EXPECT_THROW(log_spaced(0, 1, 1), Error);
}

TEST(NoiseGrid, ParsesAmplitudeLists) {
  EXPECT_EQ(parse_amplitude_list("0.01,0.1,1"), (std::vector<double>{0.01, 0.1, 1.0}));
  EXPECT_EQ(parse_amplitude_list("1e-3"), (std::vector<double>{1e-3}));
  EXPECT_THROW(parse_amplitude_list(""), Error);
  EXPECT_THROW(parse_amplitude_list("0.1,,1"), Error);
  EXPECT_THROW(parse_amplitude_list("0.1,"), Error);
  EXPECT_THROW(parse_amplitude_list("0.1;1"), Error);
  EXPECT_THROW(parse_amplitude_list("1e999"), Error);
}

TEST(UnitNoise, IsUniformOnMinusOneToOneAndKeyedBySeedRealizationSample) {
  std::vector<float> u(100000);
  unit_noise(7, 0, 0, int(u.size()), u.data());
  double sum = 0, squares = 0;
  for (float v : u) {
    ASSERT_GE(v, -1.0f);
    ASSERT_LE(v, 1.0f);
    sum += v;
    squares += double(v) * v;
  }
  const double mean = sum / u.size(), var = squares / u.size() - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.01);       // standard error 0.0018
  EXPECT_NEAR(var, 1.0 / 3.0, 0.01);  // Uniform(-1, 1) has variance 1/3

  auto first_values = [](uint64_t seed, int r, long n) {
    std::vector<float> v(8);
    unit_noise(seed, r, n, 8, v.data());
    return v;
  };
  EXPECT_EQ(first_values(7, 2, 5), first_values(7, 2, 5));
  EXPECT_NE(first_values(7, 2, 5), first_values(8, 2, 5));
  EXPECT_NE(first_values(7, 2, 5), first_values(7, 3, 5));
  EXPECT_NE(first_values(7, 2, 5), first_values(7, 2, 6));
  EXPECT_NE(first_values(7, 0, 1), first_values(7, 1, 0));
}

TEST(CompareStates, HandComputedValues) {
  const float clean[2] = {3, 4}, swapped[2] = {4, 3}, zero[2] = {0, 0};
  StateComparison same = compare_states(clean, clean, 2);
  EXPECT_EQ(same.ratio, 0.0);
  EXPECT_EQ(same.cosine, 1.0);
  StateComparison c = compare_states(clean, swapped, 2);
  EXPECT_DOUBLE_EQ(c.ratio, std::sqrt(2.0) / 5.0);  // ||(1,-1)|| / ||(3,4)||
  EXPECT_DOUBLE_EQ(c.cosine, 24.0 / 25.0);
  EXPECT_EQ(compare_states(zero, zero, 2).cosine, 1.0);
  EXPECT_EQ(compare_states(clean, zero, 2).cosine, 0.0);
  EXPECT_TRUE(std::isinf(compare_states(zero, clean, 2).ratio));
}

TEST(AccuracyDrop, InterpolatesInLogAmplitude) {
  // Rises above clean: 0, 0.05, 0.20. The 0.10 crossing is a third of the way from 0.1 to 1.
  const AccuracyDropPoint p = accuracy_drop_point(curve_of({0.01, 0.1, 1.0}, 0.02, {0.02, 0.07, 0.22}));
  ASSERT_TRUE(p.reached);
  EXPECT_TRUE(p.interpolated);
  EXPECT_EQ(p.grid_amplitude, 1.0);
  EXPECT_NEAR(p.amplitude, std::pow(10.0, -2.0 / 3.0), 1e-12);
}

TEST(AccuracyDrop, FirstGridPointNeverReachedAndExactCrossing) {
  AccuracyDropPoint first = accuracy_drop_point(curve_of({0.5, 1.0}, 0.01, {0.5, 0.9}));
  ASSERT_TRUE(first.reached);
  EXPECT_FALSE(first.interpolated);
  EXPECT_EQ(first.amplitude, 0.5);
  AccuracyDropPoint after_zero = accuracy_drop_point(curve_of({0.0, 1.0}, 0.01, {0.01, 0.5}));
  EXPECT_FALSE(after_zero.interpolated);
  EXPECT_EQ(after_zero.amplitude, 1.0);
  EXPECT_FALSE(accuracy_drop_point(curve_of({0.1, 1.0}, 0.01, {0.02, 0.10})).reached);  // rise 0.09 only
  AccuracyDropPoint exact = accuracy_drop_point(curve_of({0.1, 1.0}, 0.0, {0.0, 0.5}), 0.5);
  EXPECT_NEAR(exact.amplitude, 1.0, 1e-12);
}

TEST(ReadCurve, GridPointInterpolationAndOutside) {
  const NoiseCurve c = curve_of({0.01, 0.1, 1.0}, 0.0, {0.0, 0.1, 0.2});
  CurveReading on = read_curve(c, 0.1);
  ASSERT_TRUE(on.available);
  EXPECT_TRUE(on.on_grid);
  EXPECT_EQ(on.point.ratio_mean, 20.0);
  // Halfway in log10 between 0.01 and 0.1: the mean of the two grid values.
  CurveReading mid = read_curve(c, std::sqrt(0.01 * 0.1));
  ASSERT_TRUE(mid.available);
  EXPECT_FALSE(mid.on_grid);
  EXPECT_NEAR(mid.point.ratio_mean, 15.0, 1e-12);
  EXPECT_NEAR(mid.point.cosine_mean, 0.95, 1e-12);
  EXPECT_NEAR(mid.point.error_mean, 0.05, 1e-12);
  EXPECT_FALSE(read_curve(c, 2.0).available);
  EXPECT_FALSE(read_curve(c, 0.001).available);
  EXPECT_FALSE(read_curve(c, 0.0).available);
}

// The curve of measure_noise_robustness against the same quantities computed per sample
// by plain double loops, on every architecture variant and both noise sites.
TEST(NoiseRobustness, MatchesNaivePerSampleComputation) {
  const int samples = 9, R = 3;
  const std::vector<double> amplitudes = {0.0, 0.05, 0.5};
  for (Arch arch : {Arch::ResNet, Arch::MLP})
    for (Weights weights : {Weights::Shared, Weights::PerLayer})
      for (bool stem : {true, false})
        for (NoiseSite site : {NoiseSite::InitialState, NoiseSite::Input}) {
          SCOPED_TRACE(std::string(arch == Arch::ResNet ? "resnet" : "mlp") +
                       (weights == Weights::Shared ? " shared" : " per-layer") + (stem ? " stem" : " no-stem") +
                       (site == NoiseSite::Input ? " input" : " x(0)"));
          const Net<float> net = random_net(arch, weights, stem, 11);
          const Dataset data = random_images(samples, 3, 12);
          NoiseOptions opt = options_with(amplitudes, R, 99);
          opt.site = site;
          opt.batch = 4;  // batches of 4, 4, 1
          const NoiseCurve curve = measure_noise_robustness(net, data, opt);

          const int D = net.config.input, N = net.config.width;
          const int noisy_width = site == NoiseSite::Input ? D : N;
          int clean_wrong = 0;
          for (size_t a = 0; a < amplitudes.size(); ++a) {
            std::vector<double> ratio(R, 0.0), cosine(R, 0.0), error(R, 0.0);
            for (int r = 0; r < R; ++r)
              for (int n = 0; n < samples; ++n) {
                std::vector<double> u(static_cast<size_t>(D));
                for (int j = 0; j < D; ++j) u[size_t(j)] = data.images[size_t(n) * D + j] / 255.0;
                const NaiveOutput clean = naive_layers(net, naive_stem(net, u));
                std::vector<float> noise(static_cast<size_t>(noisy_width));
                unit_noise(99, r, n, noisy_width, noise.data());
                std::vector<double> x0;
                if (site == NoiseSite::Input) {
                  for (int j = 0; j < D; ++j) u[size_t(j)] += amplitudes[a] * noise[size_t(j)];
                  x0 = naive_stem(net, u);
                } else {
                  x0 = naive_stem(net, u);
                  for (int i = 0; i < N; ++i) x0[size_t(i)] += amplitudes[a] * noise[size_t(i)];
                }
                const NaiveOutput noisy = naive_layers(net, x0);
                double d2 = 0, c2 = 0, n2 = 0, dot = 0;
                for (int i = 0; i < N; ++i) {
                  const double c = clean.final_state[size_t(i)], z = noisy.final_state[size_t(i)];
                  d2 += (z - c) * (z - c);
                  c2 += c * c;
                  n2 += z * z;
                  dot += c * z;
                }
                ratio[size_t(r)] += std::sqrt(d2 / c2) / samples;
                cosine[size_t(r)] += dot / std::sqrt(c2 * n2) / samples;
                double margin;
                error[size_t(r)] += (naive_argmax(noisy.logits, &margin) != data.labels[size_t(n)]) / double(samples);
                ASSERT_GT(margin, 1e-4) << "near-tie: pick other seeds";
                if (a == 0 && r == 0) {
                  clean_wrong += naive_argmax(clean.logits, &margin) != data.labels[size_t(n)];
                  ASSERT_GT(margin, 1e-4) << "near-tie: pick other seeds";
                }
              }
            const NoisePoint& p = curve.points[a];
            double ratio_mean = 0, cosine_mean = 0, error_mean = 0, ratio_sq = 0;
            for (int r = 0; r < R; ++r) {
              ratio_mean += ratio[size_t(r)] / R;
              cosine_mean += cosine[size_t(r)] / R;
              error_mean += error[size_t(r)] / R;
            }
            for (int r = 0; r < R; ++r) ratio_sq += (ratio[size_t(r)] - ratio_mean) * (ratio[size_t(r)] - ratio_mean);
            EXPECT_EQ(p.amplitude, amplitudes[a]);
            EXPECT_NEAR(p.ratio_mean, ratio_mean, 1e-5 * (1 + ratio_mean));
            EXPECT_NEAR(p.ratio_std, std::sqrt(ratio_sq / (R - 1)), 1e-5 * (1 + ratio_mean));
            EXPECT_NEAR(p.cosine_mean, cosine_mean, 1e-6);
            EXPECT_NEAR(p.error_mean, error_mean, 1e-12);
            if (a > 0) {
              EXPECT_GT(p.ratio_mean, 0.0);
            }
          }
          EXPECT_NEAR(curve.clean_error, clean_wrong / double(samples), 1e-12);
        }
}

TEST(NoiseRobustness, SameSeedSameBitsForAnyBatchSizeAndThreadCount) {
  const Net<float> net = random_net(Arch::ResNet, Weights::PerLayer, true, 3);
  const Dataset data = random_images(23, 3, 4);
  NoiseOptions opt = options_with({0.01, 0.1, 1.0}, 4, 5);
  opt.batch = 23;
  const NoiseCurve reference = measure_noise_robustness(net, data, opt);
  for (int batch : {1, 5, 8})
    for (int threads : {1, 2}) {
      SCOPED_TRACE("batch " + std::to_string(batch) + ", threads " + std::to_string(threads));
      opt.batch = batch;
      opt.threads = threads;
      expect_same_curve(measure_noise_robustness(net, data, opt), reference);
    }
  opt.seed = 6;
  EXPECT_NE(measure_noise_robustness(net, data, opt).points[1].ratio_mean, reference.points[1].ratio_mean);
  // The noise of an amplitude does not depend on which other amplitudes are measured.
  opt.seed = 5;
  opt.amplitudes = {0.1};
  EXPECT_EQ(measure_noise_robustness(net, data, opt).points[0].ratio_mean, reference.points[1].ratio_mean);
}

TEST(NoiseRobustness, RejectsBadOptionsAndData) {
  const Net<float> net = random_net(Arch::ResNet, Weights::Shared, true, 3);
  const Dataset data = random_images(5, 3, 4);
  EXPECT_THROW(measure_noise_robustness(net, data, options_with({}, 2, 1)), Error);
  EXPECT_THROW(measure_noise_robustness(net, data, options_with({0.1, 0.1}, 2, 1)), Error);
  EXPECT_THROW(measure_noise_robustness(net, data, options_with({1.0, 0.1}, 2, 1)), Error);
  EXPECT_THROW(measure_noise_robustness(net, data, options_with({-0.1}, 2, 1)), Error);
  EXPECT_THROW(measure_noise_robustness(net, data, options_with({std::nan("")}, 2, 1)), Error);
  EXPECT_THROW(measure_noise_robustness(net, data, options_with({0.1}, 0, 1)), Error);
  Dataset wrong_size = data;
  wrong_size.cols = 2;
  EXPECT_THROW(measure_noise_robustness(net, wrong_size, options_with({0.1}, 2, 1)), Error);
  Dataset bad_label = data;
  bad_label.labels[2] = 7;
  EXPECT_THROW(measure_noise_robustness(net, bad_label, options_with({0.1}, 2, 1)), Error);
}

TEST(NoiseExperiment, WritesCurveAndSummary) {
  const Net<float> net = random_net(Arch::MLP, Weights::Shared, true, 3);
  const Dataset data = random_images(10, 3, 4);
  NoiseExperimentOptions opt;
  opt.noise = options_with({}, 2, 1);  // empty: the default grid
  opt.model_name = "tiny";
  opt.out_dir = (std::filesystem::path(testing::TempDir()) / "noise_experiment_out").string();
  std::filesystem::remove_all(opt.out_dir);
  const NoiseExperimentResult result = run_noise_experiment(net, data, opt);
  ASSERT_EQ(result.curve.points.size(), 13u);
  ASSERT_EQ(result.readings.size(), 3u);
  for (const CurveReading& r : result.readings) EXPECT_TRUE(r.available && r.on_grid);

  std::ifstream csv(opt.out_dir + "/noise.csv");
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "amplitude,ratio_mean,ratio_std,cosine_mean,cosine_std,error_mean,error_std");
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 13);
  std::stringstream json;
  json << std::ifstream(opt.out_dir + "/summary.json").rdbuf();
  for (const char* key : {"\"clean_error\"", "\"a10\"", "\"a10_grid\"", "\"a10_from\"", "\"readings\"",
                          "\"arch\": \"mlp\"", "\"final_state\": \"h(T)\"", "\"width\": 5", "\"depth\": 3"})
    EXPECT_NE(json.str().find(key), std::string::npos) << key;
  EXPECT_FALSE(std::filesystem::exists(opt.out_dir + "/noise.csv.partial"));

  opt.out_dir = "/proc/no/such/dir";
  EXPECT_THROW(run_noise_experiment(net, data, opt), Error);
}

class TrainedOnMnist : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      train_ = new Dataset(first_samples(load_mnist(test_paths::mnist_dir(), true), 10000));
      test_ = new Dataset(first_samples(load_mnist(test_paths::mnist_dir(), false), 400));
    } catch (const Error& e) {
      load_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete train_;
    delete test_;
  }
  void SetUp() override {
    if (!train_) FAIL() << "MNIST is needed for this test (run 'make data'): " << load_error_;
  }
  // Small nets trained once for the suite: Adam, 3 epochs on 10,000 images (about 12%
  // and 5% test error).
  static const Net<float>& trained(Arch arch) {
    static Net<float> nets[2];
    Net<float>& net = nets[arch == Arch::ResNet ? 0 : 1];
    if (!net.params.empty()) return net;
    Config c;
    c.arch = arch;
    c.width = 48;
    c.depth = 4;
    net = Net<float>(c);
    Rng rng(5);
    initialise(net, rng);
    TrainOptions opt;
    opt.epochs = 3;
    opt.batch = 32;
    opt.optimizer.lr = arch == Arch::ResNet ? 5e-3 : 1e-2;
    opt.seed = 5;
    Trainer<float> trainer(net, *train_, opt);
    for (int e = 0; e < opt.epochs; ++e) trainer.train_epoch();
    return net;
  }
  static Dataset* train_;
  static Dataset* test_;
  static std::string load_error_;
};
Dataset* TrainedOnMnist::train_ = nullptr;
Dataset* TrainedOnMnist::test_ = nullptr;
std::string TrainedOnMnist::load_error_;

TEST_F(TrainedOnMnist, AmplitudeZeroIsTheCleanNet) {
  for (Arch arch : {Arch::ResNet, Arch::MLP})
    for (NoiseSite site : {NoiseSite::InitialState, NoiseSite::Input}) {
      const Net<float>& net = trained(arch);
      NoiseOptions opt = options_with({0.0, 0.1}, 3, 1);
      opt.site = site;
      const NoiseCurve curve = measure_noise_robustness(net, *test_, opt);
      const Evaluation ev = evaluate(net, *test_);
      EXPECT_LT(ev.error, 0.2);  // the net did learn (chance: 0.9): the comparison below means something
      EXPECT_EQ(curve.clean_error, ev.error);
      EXPECT_EQ(curve.points[0].ratio_mean, 0.0);
      EXPECT_EQ(curve.points[0].ratio_std, 0.0);
      EXPECT_EQ(curve.points[0].cosine_mean, 1.0);
      EXPECT_EQ(curve.points[0].error_mean, ev.error);
      EXPECT_EQ(curve.points[0].error_std, 0.0);
      EXPECT_GT(curve.points[1].ratio_mean, 0.0);
    }
}

TEST_F(TrainedOnMnist, RatioGrowsWithAmplitudeLinearlyWhenSmall) {
  for (Arch arch : {Arch::ResNet, Arch::MLP}) {
    SCOPED_TRACE(arch == Arch::ResNet ? "resnet" : "mlp");
    const Net<float>& net = trained(arch);
    const NoiseCurve curve = measure_noise_robustness(net, *test_, options_with(log_spaced(-3, 0, 7), 2, 1));
    for (size_t k = 1; k < curve.points.size(); ++k) {
      EXPECT_GT(curve.points[k].ratio_mean, curve.points[k - 1].ratio_mean) << k;
      EXPECT_LT(curve.points[k].cosine_mean, curve.points[k - 1].cosine_mean) << k;
    }
    // From 1e-3 to 10^-2.5 the noise is small enough for first order: the ratio scales
    // with the amplitude (the same noise direction is used at every amplitude).
    const double step = curve.points[1].amplitude / curve.points[0].amplitude;
    EXPECT_NEAR(curve.points[1].ratio_mean / curve.points[0].ratio_mean, step, 0.02 * step);
    // Amplitude 1 on x(0) (whose entries lie in (0, 1)) must cost accuracy.
    EXPECT_GT(curve.points.back().error_mean, curve.clean_error);
  }
}

// --precision bf16: every forward pass, clean and noisy, with bfloat16-rounded operands.
// The clean error is evaluate()'s in bf16; the curve differs from the float32 one (the flag
// does something) but stays close to it; amplitude 0 is still exactly the clean net.
TEST_F(TrainedOnMnist, Bf16CurveIsCloseToTheFloat32One) {
  for (Arch arch : {Arch::ResNet, Arch::MLP}) {
    SCOPED_TRACE(arch == Arch::ResNet ? "resnet" : "mlp");
    const Net<float>& net = trained(arch);
    NoiseOptions opt = options_with({0.0, 0.01, 0.1, 1.0}, 2, 1);
    const NoiseCurve fp32 = measure_noise_robustness(net, *test_, opt);
    opt.precision = Precision::fp32;
    expect_same_curve(measure_noise_robustness(net, *test_, opt), fp32);  // fp32 is the path of before
    opt.precision = Precision::bf16;
    const NoiseCurve bf16 = measure_noise_robustness(net, *test_, opt);
    EXPECT_EQ(bf16.clean_error, evaluate<float>(net, *test_, 1, 0, 256, nullptr, Precision::bf16).error);
    EXPECT_NEAR(bf16.clean_error, fp32.clean_error, 0.01);
    EXPECT_EQ(bf16.points[0].ratio_mean, 0.0);
    EXPECT_EQ(bf16.points[0].error_mean, bf16.clean_error);
    for (size_t k = 1; k < bf16.points.size(); ++k) {
      SCOPED_TRACE("amplitude " + std::to_string(bf16.points[k].amplitude));
      EXPECT_NE(bf16.points[k].ratio_mean, fp32.points[k].ratio_mean);
      EXPECT_NEAR(bf16.points[k].error_mean, fp32.points[k].error_mean, 0.01);
      // At a = 0.01 bfloat16's own rounding (2^-9 relative) is a sizeable part of the change
      // in x(T); from 0.1 the noise dominates it.
      const double ratio_tolerance = bf16.points[k].amplitude < 0.1 ? 0.1 : 0.01;
      EXPECT_NEAR(bf16.points[k].ratio_mean, fp32.points[k].ratio_mean, ratio_tolerance * fp32.points[k].ratio_mean);
      EXPECT_NEAR(bf16.points[k].cosine_mean, fp32.points[k].cosine_mean, 1e-3);
    }
  }
}
