// The fixed-point spectrum (paper §6; experiments/spectrum_experiment.h): the two Jacobians
// against hand-computed 2 x 2 cases and finite differences, the spectrum summaries, and the
// `resdyn spectrum` experiment on a tiny net against an independent forward pass and
// closed-form eigenvalues.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "analysis/class_samples.h"
#include "analysis/fixed_point_newton.h"
#include "analysis/jacobian_spectrum.h"
#include "analysis/linalg.h"
#include "analysis/residual_ode.h"
#include "experiments/spectrum_experiment.h"
#include "resdyn.h"
#include "tiny_net.h"

using resdyn::Matrix;
using Complex = std::complex<double>;

namespace {

Matrix matrix_of(int n, const std::vector<double>& row_major) {
  Matrix m(n, n);
  m.a = row_major;
  return m;
}

// Eigenvalues of [[a, b], [c, d]] from the trace and determinant, +imag first.
std::vector<Complex> two_by_two(double a, double b, double c, double d) {
  const double half_trace = 0.5 * (a + d), det = a * d - b * c;
  const double disc = half_trace * half_trace - det;
  if (disc >= 0) return {half_trace + std::sqrt(disc), half_trace - std::sqrt(disc)};
  return {Complex(half_trace, std::sqrt(-disc)), Complex(half_trace, -std::sqrt(-disc))};
}

// Both lists sorted as sort_spectrum does; compares entry by entry.
void expect_spectrum(std::vector<Complex> expected, const std::vector<Complex>& actual, double tolerance) {
  resdyn::sort_spectrum(expected);
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t k = 0; k < expected.size(); ++k) {
    EXPECT_NEAR(actual[k].real(), expected[k].real(), tolerance) << "eigenvalue " << k;
    EXPECT_NEAR(actual[k].imag(), expected[k].imag(), tolerance) << "eigenvalue " << k;
  }
}

std::string fresh_directory(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / ("spectrum_" + name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A tiny net with every parameter uniform in [-scale, scale] (initialise() would leave a
// ResNet's W at zero), and images of 2 x 2 pixels.
resdyn::Net<float> tiny_net(resdyn::Weights weights, resdyn::Arch arch, int width, int depth, uint64_t seed,
                            double scale = 1.5) {
  resdyn::Config cfg;
  cfg.arch = arch;
  cfg.weights = weights;
  cfg.input = 4;
  cfg.width = width;
  cfg.depth = depth;
  cfg.classes = 3;
  cfg.stem = true;
  resdyn::Net<float> net(cfg);
  resdyn::Rng rng(seed);
  for (float& p : net.params) p = float(rng.uniform(-scale, scale));
  return net;
}

resdyn::Dataset tiny_data(int count, uint64_t seed) {
  resdyn::Dataset d;
  d.count = count;
  d.rows = 2;
  d.cols = 2;
  resdyn::Rng rng(seed);
  for (int i = 0; i < count * 4; ++i) d.images.push_back(uint8_t(rng.below(256)));
  for (int i = 0; i < count; ++i) d.labels.push_back(uint8_t((i * 7 + i / 5) % 3));
  return d;
}

// y(depth) of one sample by plain loops in double (x(t) = x(t-1) + sigma(W x(t-1) + b)),
// independent of resdyn.h's forward; with bf16, every product's operands rounded as
// --precision bf16 rounds them.
std::vector<double> naive_residual(const resdyn::Net<float>& net, const uint8_t* pixels, int depth,
                                   std::vector<double>* before_last = nullptr,
                                   resdyn::Precision precision = resdyn::Precision::fp32) {
  const int n = net.config.width, d = net.config.input;
  const bool bf16 = precision == resdyn::Precision::bf16;
  const auto in = [precision](double v) { return tiny::operand(v, precision); };
  std::vector<double> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    double z = net.c()[i];
    for (int j = 0; j < d; ++j) {
      const double pixel = bf16 ? double(float(pixels[j]) * float(1.0 / 255.0)) : pixels[j] / 255.0;  // set_input's
      z += in(net.P()[size_t(i) * d + j]) * in(pixel);
    }
    x[size_t(i)] = 1.0 / (1.0 + std::exp(-z));
  }
  for (int t = 1; t <= depth; ++t) {
    if (before_last && t == depth) *before_last = y;
    for (int i = 0; i < n; ++i) {
      double z = net.b(1)[i];
      for (int j = 0; j < n; ++j) z += in(net.W(1)[size_t(i) * n + j]) * in(x[size_t(j)]);
      y[size_t(i)] = 1.0 / (1.0 + std::exp(-z));
    }
    for (int i = 0; i < n; ++i) x[size_t(i)] += y[size_t(i)];
  }
  return y;
}

// ---------------------------------------------------------------------------------
// The Jacobians
// ---------------------------------------------------------------------------------

TEST(LayerMapJacobian, HandComputed2x2) {
  const Matrix w = matrix_of(2, {1.0, -2.0, 3.0, 0.5});
  const Matrix l = resdyn::layer_map_jacobian(w, {0.2, 0.7});  // gains 0.16 and 0.21
  EXPECT_NEAR(l(0, 0), 1.0 + 0.16 * 1.0, 1e-15);
  EXPECT_NEAR(l(0, 1), 0.16 * -2.0, 1e-15);
  EXPECT_NEAR(l(1, 0), 0.21 * 3.0, 1e-15);
  EXPECT_NEAR(l(1, 1), 1.0 + 0.21 * 0.5, 1e-15);
  EXPECT_THROW(resdyn::layer_map_jacobian(w, {0.5}), resdyn::Error);
}

// I + diag(y(1-y)) W is the derivative of the layer x -> x + sigma(W x + b), y = sigma(W x + b):
// checked by central differences of that map, with a bias, at a random state.
TEST(LayerMapJacobian, IsTheDerivativeOfOneLayer) {
  const int n = 4;
  resdyn::Rng rng(5);
  Matrix w(n, n);
  for (double& v : w.a) v = rng.uniform(-2, 2);
  std::vector<double> b(n), x(n);
  for (double& v : b) v = rng.uniform(-1, 1);
  for (double& v : x) v = rng.uniform(0, 3);
  auto layer = [&](std::vector<double> state) {
    const std::vector<double> wx = resdyn::multiply(w, state);
    for (int i = 0; i < n; ++i) state[size_t(i)] += 1.0 / (1.0 + std::exp(-(wx[size_t(i)] + b[size_t(i)])));
    return state;
  };
  std::vector<double> y(n);
  const std::vector<double> wx = resdyn::multiply(w, x);
  for (int i = 0; i < n; ++i) y[size_t(i)] = 1.0 / (1.0 + std::exp(-(wx[size_t(i)] + b[size_t(i)])));
  const Matrix jacobian = resdyn::layer_map_jacobian(w, y);
  const double h = 1e-6;
  for (int j = 0; j < n; ++j) {
    std::vector<double> up = x, down = x;
    up[size_t(j)] += h;
    down[size_t(j)] -= h;
    const std::vector<double> fu = layer(up), fd = layer(down);
    for (int i = 0; i < n; ++i) EXPECT_NEAR(jacobian(i, j), (fu[size_t(i)] - fd[size_t(i)]) / (2 * h), 1e-8);
  }
}

// At the corner y = (1, 0): W y is W's first column, y(1-y) = 0, so J = diag(-W11, W21)
// and the layer map is I.
TEST(JacobianSpectra, CornerFixedPoint) {
  const Matrix w = matrix_of(2, {0.7, -1.3, 0.4, 2.0});
  const std::vector<resdyn::PointSpectra> s = resdyn::jacobian_spectra(w, {{1.0, 0.0}});
  ASSERT_EQ(s.size(), 1u);
  expect_spectrum({-0.7, 0.4}, s[0].ode, 1e-15);
  expect_spectrum({1.0, 1.0}, s[0].layer_map, 1e-15);
}

// y = (1, y2) with (W y)_2 = W21 + W22 y2 = 0: J is lower triangular with diagonal
// -(W11 + W12 y2) and y2(1-y2) W22; the layer map's diagonal is 1 and 1 + y2(1-y2) W22.
TEST(JacobianSpectra, MixedFixedPoint) {
  const double w11 = 0.3, w12 = 1.1, w21 = 0.8, w22 = -2.0;
  const Matrix w = matrix_of(2, {w11, w12, w21, w22});
  const double y2 = -w21 / w22;  // 0.4
  const double g = y2 * (1 - y2);
  const std::vector<resdyn::PointSpectra> s = resdyn::jacobian_spectra(w, {{1.0, y2}});
  expect_spectrum({-(w11 + w12 * y2), g * w22}, s[0].ode, 1e-14);
  expect_spectrum({1.0, 1.0 + g * w22}, s[0].layer_map, 1e-14);
  EXPECT_EQ(resdyn::summarise_spectrum(s[0].ode).positive_real, 0);  // -0.74 and -0.48: stable
}

// A complex pair: y = (1/2, 1/2) makes 1 - 2y = 0, so J = W / 4 = [[-0.1, -1], [1, -0.1]]
// with eigenvalues -0.1 +- i; the layer map's are 0.9 +- i, of modulus sqrt(1.81).
TEST(JacobianSpectra, ComplexPairAndSummary) {
  const Matrix w = matrix_of(2, {-0.4, -4.0, 4.0, -0.4});
  const std::vector<resdyn::PointSpectra> s = resdyn::jacobian_spectra(w, {{0.5, 0.5}});
  expect_spectrum({Complex(-0.1, 1), Complex(-0.1, -1)}, s[0].ode, 1e-14);
  expect_spectrum({Complex(0.9, 1), Complex(0.9, -1)}, s[0].layer_map, 1e-14);
  EXPECT_GT(s[0].ode[0].imag(), 0.0);  // +imag listed first
  const resdyn::SpectrumSummary ode = resdyn::summarise_spectrum(s[0].ode);
  EXPECT_EQ(ode.positive_real, 0);
  EXPECT_NEAR(ode.largest_real, -0.1, 1e-14);
  const resdyn::SpectrumSummary map = resdyn::summarise_spectrum(s[0].layer_map);
  EXPECT_NEAR(map.spectral_radius, std::sqrt(1.81), 1e-14);
  EXPECT_EQ(map.outside_unit_circle, 2);
}

TEST(SpectrumSummary, CountsAndOrdering) {
  const std::vector<Complex> values{{-1, 0}, {0.02, 0}, {0.5, 2}, {0.5, -2}, {-3, 0}, {0, 0}};
  const resdyn::SpectrumSummary s = resdyn::summarise_spectrum(values, 3);
  EXPECT_EQ(s.count, 6);
  EXPECT_EQ(s.positive_real, 3);  // 0.02 and the pair; 0 is not positive
  EXPECT_EQ(s.largest_real, 0.5);
  EXPECT_EQ(s.spectral_radius, 3.0);    // |-3|
  EXPECT_EQ(s.outside_unit_circle, 3);  // the pair and -3
  EXPECT_EQ(s.top_real, (std::vector<double>{0.5, 0.5, 0.02}));
  EXPECT_TRUE(std::isnan(resdyn::summarise_spectrum({}).largest_real));
}

// Same bits on 1 and 2 threads, and the ODE Jacobian's eigenvalues sum to its trace.
TEST(JacobianSpectra, DeterministicAcrossThreadsAndTraceChecks) {
  const int n = 40;
  resdyn::Rng rng(9);
  Matrix w(n, n);
  for (double& v : w.a) v = rng.normal() / std::sqrt(double(n));
  std::vector<std::vector<double>> points(5, std::vector<double>(n));
  for (auto& p : points)
    for (double& v : p) v = rng.uniform();
  const auto one = resdyn::jacobian_spectra(w, points, 1);
  const auto two = resdyn::jacobian_spectra(w, points, 2);
  for (size_t k = 0; k < points.size(); ++k) {
    EXPECT_EQ(one[k].ode, two[k].ode);
    EXPECT_EQ(one[k].layer_map, two[k].layer_map);
    const Matrix j = resdyn::residual_ode_jacobian(w, points[k]);
    double trace = 0;
    for (int i = 0; i < n; ++i) trace += j(i, i);
    Complex sum = 0;
    for (const Complex& v : one[k].ode) sum += v;
    EXPECT_NEAR(sum.real(), trace, 1e-12);
  }
}

// ---------------------------------------------------------------------------------
// The experiment
// ---------------------------------------------------------------------------------

// The first S of each class in file order, grouped by class; a short class gives what it has.
TEST(FirstPerClass, GroupsTheFirstSamplesOfEachClass) {
  resdyn::Dataset d;
  d.count = 7;
  d.rows = 1;
  d.cols = 1;
  d.labels = {2, 0, 2, 2, 1, 0, 0};
  d.images = {10, 11, 12, 13, 14, 15, 16};  // pixel = 10 + file index
  const resdyn::Dataset s = resdyn::first_per_class(d, 2, 3);
  EXPECT_EQ(s.count, 5);
  EXPECT_EQ(s.labels, (std::vector<uint8_t>{0, 0, 1, 2, 2}));
  EXPECT_EQ(s.images, (std::vector<uint8_t>{11, 15, 14, 10, 12}));
  EXPECT_THROW(resdyn::first_per_class(d, 2, 2), resdyn::Error);  // label 2 in a 2-class net
  EXPECT_THROW(resdyn::first_per_class(d, 0, 3), resdyn::Error);
}

// On a 2-neuron shared net: ybar_c, the spread and the last step agree with a forward pass
// by plain loops, and the eigenvalues written agree with the closed form at ybar_c.
TEST(SpectrumExperiment, TinyNetAgainstIndependentComputation) {
  const resdyn::Net<float> net = tiny_net(resdyn::Weights::Shared, resdyn::Arch::ResNet, 2, 3, 21, 3.0);
  const resdyn::Dataset data = tiny_data(40, 22);
  resdyn::SpectrumOptions options;
  options.unroll = 4;  // still moving at layer 4, so the last step is not ~0
  options.samples_per_class = 6;
  options.threads = 2;
  options.out_dir = fresh_directory("tiny");
  const resdyn::SpectrumResult r = resdyn::run_spectrum_experiment(net, data, options);
  ASSERT_EQ(r.classes.size(), 3u);

  const Matrix w = matrix_of(2, {net.W(1)[0], net.W(1)[1], net.W(1)[2], net.W(1)[3]});
  const std::string csv = read_text(options.out_dir + "/eigenvalues.csv");
  EXPECT_EQ(csv.rfind("class,which,real,imag\n", 0), 0u);
  for (const resdyn::ClassSpectrum& cs : r.classes) {
    // The first 6 samples of the class in file order.
    std::vector<std::vector<double>> finals, befores;
    for (int i = 0; i < data.count && int(finals.size()) < 6; ++i) {
      if (data.labels[size_t(i)] != cs.label) continue;
      std::vector<double> before;
      finals.push_back(naive_residual(net, &data.images[size_t(i) * 4], options.unroll, &before));
      befores.push_back(before);
    }
    ASSERT_EQ(cs.samples, 6);
    double spread = 0, step = 0;
    std::vector<double> mean(2, 0.0);
    for (int i = 0; i < 2; ++i) {
      for (const auto& y : finals) mean[size_t(i)] += y[size_t(i)] / 6;
      double var = 0;
      for (const auto& y : finals) var += (y[size_t(i)] - mean[size_t(i)]) * (y[size_t(i)] - mean[size_t(i)]) / 6;
      spread += std::sqrt(var) / 2;
      for (size_t s = 0; s < finals.size(); ++s) step += std::fabs(finals[s][size_t(i)] - befores[s][size_t(i)]) / 12;
    }
    // The experiment runs the float forward pass of resdyn.h: agreement to float rounding.
    EXPECT_NEAR(cs.point[0], mean[0], 1e-5);
    EXPECT_NEAR(cs.point[1], mean[1], 1e-5);
    EXPECT_NEAR(cs.spread, spread, 1e-5);
    EXPECT_NEAR(cs.last_step, step, 1e-5);
    EXPECT_GT(step, 1e-3);

    const Matrix j = resdyn::residual_ode_jacobian(w, cs.point);
    const Matrix l = resdyn::layer_map_jacobian(w, cs.point);
    // Near a double eigenvalue the closed form's imaginary part, sqrt(-disc), loses digits to
    // cancellation (error about eps * trace^2 / imag): 1e-9, not 1e-12, is what it can promise.
    expect_spectrum(two_by_two(j(0, 0), j(0, 1), j(1, 0), j(1, 1)), cs.spectra.ode, 1e-9);
    expect_spectrum(two_by_two(l(0, 0), l(0, 1), l(1, 0), l(1, 1)), cs.spectra.layer_map, 1e-9);
    int positive = 0;
    for (const Complex& v : cs.spectra.ode) positive += v.real() > 0;
    EXPECT_EQ(cs.ode.positive_real, positive);
    EXPECT_NE(csv.find(std::to_string(cs.label) + ",ode,"), std::string::npos);
    EXPECT_NE(csv.find(std::to_string(cs.label) + ",layer_map,"), std::string::npos);
  }
  int lines = 0;
  for (char c : csv) lines += c == '\n';
  EXPECT_EQ(lines, 1 + 3 * 2 * 2);
  const std::string summary = read_text(options.out_dir + "/summary.json");
  EXPECT_NE(summary.find("\"unroll\": 4"), std::string::npos);
  EXPECT_NE(summary.find("\"bias_in_ode\": false"), std::string::npos);
  EXPECT_NE(summary.find("\"spectral_radius\""), std::string::npos);
  EXPECT_NE(summary.find("\"fixed_points\""), std::string::npos);
  EXPECT_NE(summary.find("\"sample_negative_real\""), std::string::npos);

  // The exact fixed points: Newton from each sample's y(T') (in the float pass's rounding),
  // checked with F and J's full eigenvalues computed here.
  ASSERT_EQ(r.samples.size(), 18u);
  for (const resdyn::ClassFixedPoints& k : r.class_fixed_points) {
    int converged = 0, unstable = 0;
    for (const resdyn::SampleFixedPoint& sample : r.samples) {
      if (sample.label != k.label) continue;
      EXPECT_EQ(sample.newton.converged, sample.point >= 0);
      if (!sample.newton.converged) continue;
      ++converged;
      EXPECT_LE(resdyn::fixed_point_residual(w, sample.newton.y), 1e-6);
      const resdyn::DistinctFixedPoint& p = r.fixed_points[size_t(sample.point)];
      EXPECT_LE(resdyn::fixed_point_residual(w, p.y), 1e-6);
      int positive = 0, negative = 0;
      for (const Complex& v : resdyn::eigenvalues(resdyn::residual_ode_jacobian(w, p.y))) {
        positive += v.real() > 0;
        negative += v.real() < 0;
      }
      EXPECT_EQ(p.summary.positive_real, positive);
      EXPECT_EQ(p.negative_real, negative);
      unstable += positive > 0;
    }
    EXPECT_EQ(k.samples, 6);
    EXPECT_EQ(k.converged, converged);
    if (converged > 0) {
      EXPECT_DOUBLE_EQ(k.unstable_fraction, double(unstable) / converged);
    }
  }
  for (const auto& entry : std::filesystem::directory_iterator(options.out_dir))
    EXPECT_EQ(entry.path().filename().string().find(".write-test"), std::string::npos);
}

namespace {

// The run of the next tests: a net of width 6 unrolled to T' = 25, 5 samples per class.
const resdyn::Net<float> kWidth6 = tiny_net(resdyn::Weights::Shared, resdyn::Arch::ResNet, 6, 2, 31);
resdyn::SpectrumOptions unrolled_25(const std::string& directory) {
  resdyn::SpectrumOptions options;
  options.unroll = 25;
  options.samples_per_class = 5;
  options.out_dir = fresh_directory(directory);
  return options;
}

}  // namespace

TEST(SpectrumExperiment, SameFilesOnOneAndTwoThreads) {
  const resdyn::Net<float>& net = kWidth6;
  const resdyn::Dataset data = tiny_data(30, 32);
  resdyn::SpectrumOptions options = unrolled_25("threads1");
  options.threads = 1;
  resdyn::run_spectrum_experiment(net, data, options);
  const std::string one = read_text(options.out_dir + "/eigenvalues.csv");
  const std::string one_fixed = read_text(options.out_dir + "/fixed_points.csv");
  options.out_dir = fresh_directory("threads2");
  options.threads = 2;
  resdyn::run_spectrum_experiment(net, data, options);
  EXPECT_EQ(one, read_text(options.out_dir + "/eigenvalues.csv"));
  EXPECT_EQ(one_fixed, read_text(options.out_dir + "/fixed_points.csv"));
}

// --precision bf16 rounds the operands of the forward pass to y(T') only: the class means move
// by bfloat16 rounding, not float rounding, and the eigenvalues are the double computation's
// at the moved points.
TEST(SpectrumExperiment, Bf16RunsTheForwardPassOnlyAndRecordsIt) {
  const resdyn::Net<float>& net = kWidth6;
  const resdyn::Dataset data = tiny_data(30, 32);
  resdyn::SpectrumOptions options = unrolled_25("fp32");
  const resdyn::SpectrumResult fp32 = resdyn::run_spectrum_experiment(net, data, options);
  EXPECT_NE(read_text(options.out_dir + "/summary.json").find("\"precision\": \"fp32\""), std::string::npos);
  options.precision = resdyn::Precision::bf16;
  options.out_dir = fresh_directory("bf16");
  const resdyn::SpectrumResult bf16 = resdyn::run_spectrum_experiment(net, data, options);
  EXPECT_NE(read_text(options.out_dir + "/summary.json").find("\"precision\": \"bf16\""), std::string::npos);

  std::vector<double> weights(net.W(1), net.W(1) + 36);
  const Matrix w = matrix_of(6, weights);
  ASSERT_EQ(bf16.classes.size(), fp32.classes.size());
  double moved = 0, off_reference = 0;
  for (size_t k = 0; k < bf16.classes.size(); ++k) {
    const resdyn::ClassSpectrum &b = bf16.classes[k], &f = fp32.classes[k];
    std::vector<double> mean(6, 0.0);  // of the reference's y(T') over the class's first 5 samples
    for (int s = 0, taken = 0; s < data.count && taken < 5; ++s) {
      if (data.labels[size_t(s)] != b.label) continue;
      ++taken;
      const std::vector<double> y = naive_residual(net, &data.images[size_t(s) * 4], 25, nullptr, options.precision);
      for (size_t i = 0; i < 6; ++i) mean[i] += y[i] / 5;
    }
    for (size_t i = 0; i < 6; ++i) {
      moved = std::max(moved, std::fabs(b.point[i] - f.point[i]));
      off_reference = std::max(off_reference, std::fabs(b.point[i] - mean[i]));
    }
    const resdyn::PointSpectra direct = resdyn::jacobian_spectra(w, {b.point}, 1)[0];
    EXPECT_EQ(b.spectra.ode, direct.ode);
    EXPECT_EQ(b.spectra.layer_map, direct.layer_map);
  }
  EXPECT_LT(off_reference, 1e-5);  // float sums against double ones, as in the float32 test above
  EXPECT_GT(moved, 1e-3);          // bfloat16 rounding, far above float's
}

// Per-layer nets and MLPs are refused with a one-line Error before anything is written.
TEST(SpectrumExperiment, RefusesPerLayerNetsAndMlps) {
  const resdyn::Dataset data = tiny_data(12, 41);
  resdyn::SpectrumOptions options;
  options.unroll = 5;
  options.out_dir = fresh_directory("refused");
  for (const auto& [weights, arch, word] : {std::tuple{resdyn::Weights::PerLayer, resdyn::Arch::ResNet, "per-layer"},
                                            std::tuple{resdyn::Weights::Shared, resdyn::Arch::MLP, "MLP"}}) {
    const resdyn::Net<float> net = tiny_net(weights, arch, 3, 4, 42);
    try {
      resdyn::run_spectrum_experiment(net, data, options);
      ADD_FAILURE() << "no error for " << word;
    } catch (const resdyn::Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(word), std::string::npos) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos);
    }
    EXPECT_THROW(resdyn::check_spectrum_model(net), resdyn::Error);
  }
  EXPECT_FALSE(std::filesystem::exists(options.out_dir));
}

TEST(SpectrumExperiment, RejectsBadOptions) {
  const resdyn::Net<float> net = tiny_net(resdyn::Weights::Shared, resdyn::Arch::ResNet, 3, 2, 51);
  const resdyn::Dataset data = tiny_data(12, 52);
  resdyn::SpectrumOptions options;
  options.out_dir = fresh_directory("bad");
  options.unroll = 0;
  EXPECT_THROW(resdyn::run_spectrum_experiment(net, data, options), resdyn::Error);
  options.unroll = 5;
  options.samples_per_class = 0;
  EXPECT_THROW(resdyn::run_spectrum_experiment(net, data, options), resdyn::Error);
  options.samples_per_class = 3;
  options.out_dir = "";
  EXPECT_THROW(resdyn::run_spectrum_experiment(net, data, options), resdyn::Error);
  resdyn::Dataset wide = data;
  wide.cols = 3;
  wide.images.resize(size_t(wide.count) * 6);
  options.out_dir = fresh_directory("bad");
  EXPECT_THROW(resdyn::run_spectrum_experiment(net, wide, options), resdyn::Error);
}

}  // namespace
