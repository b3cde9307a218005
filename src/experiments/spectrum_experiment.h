// The fixed-point spectrum experiment (`resdyn spectrum`, paper §6): a shared net unrolled
// to T', the class-mean residual ybar_c at layer T', and all eigenvalues of the ODE
// Jacobian J(ybar_c) and of the layer map's Jacobian I + diag(y(1-y)) W there.
//
// As in the paper, a shared-weight net trained at 15 layers is run to T' = 1000 layers
// (the same W, b applied again, no retraining) on S = 200 test samples per class (the first
// in file order; the paper's are random). ybar_c = mean over class-c samples of y(T');
// J(y) = diag((1 - 2y)(W y)) + diag(y(1 - y)) W is the Jacobian of eq. 3's right-hand side
// F(y) = y (1 - y)(W y), and I + diag(y(1 - y)) W that of the layer map x(t-1) -> x(t)
// (the factor I + M(t) of appendix A). The paper finds, for classes 0, 2 and 3, one small
// positive eigenvalue (about 0.02) among negative ones: a saddle, a transient still in
// progress at layer 1000. Per class we report the count of eigenvalues with positive real
// part and the largest real part, and how far ybar_c is from a fixed point (|F(ybar_c)|,
// the spread and the last step at T'). All eigenvalues: analysis/jacobian_spectrum.h.
//
// ybar_c is not a fixed point, so the spectrum is also taken where the paper means it: at
// the exact fixed point each sample's trajectory approaches. Newton's method on F(y) = 0
// (analysis/fixed_point_newton.h) starts from the sample's y(T'); a point with
// max_i |F_i| <= 1e-6 counts as converged, the others as failures. Converged points within
// 1e-4 of each other (largest component difference) are one distinct fixed point, whose
// ODE Jacobian's eigenvalues are computed once, at its first sample's point. Per class:
// the distinct points reached, the fraction of converged samples whose point is unstable
// (an eigenvalue with positive real part) and the largest real part.
#pragma once

#include <string>
#include <vector>

#include "analysis/fixed_point_newton.h"
#include "analysis/jacobian_spectrum.h"
#include "resdyn.h"

namespace resdyn {

struct SpectrumOptions {
  int unroll = 1000;            // T' (the paper's 1000 layers)
  int samples_per_class = 200;  // S: the first S test samples of each class, in file order
  int threads = 1;
  // Of the forward pass to y(T') only: the Jacobians and Newton's iterations are double.
  Precision precision = Precision::fp32;
  std::string out_dir;              // created if missing
  NewtonOptions newton;             // tolerance 1e-6: a point with max_i |F_i| above it is a failure
  double distinct_distance = 1e-4;  // converged points closer than this (max norm) are one fixed point
};

// One sample's fixed point: Newton from its y(T').
struct SampleFixedPoint {
  int label = 0;
  NewtonFixedPoint newton;
  int point = -1;  // its distinct fixed point (SpectrumResult::fixed_points); -1 if not converged
};

// A distinct fixed point and the eigenvalues of J there.
struct DistinctFixedPoint {
  std::vector<double> y;                  // the first of its samples' Newton points
  std::vector<std::complex<double>> ode;  // eigenvalues of J(y), sorted by sort_spectrum
  SpectrumSummary summary;
  int negative_real = 0;  // eigenvalues with real part < 0
  int samples = 0;        // converged samples that reach it
};

// Per class: the samples' exact fixed points in a few numbers.
struct ClassFixedPoints {
  int label = 0, samples = 0, converged = 0, distinct = 0;
  double unstable_fraction = 0.0;  // of the converged samples, those whose point has Re(lambda) > 0
  double largest_real = 0.0;       // largest real part over the class's points (NaN if none converged)
  double max_residual = 0.0;       // largest max_i |F_i| reached by a converged sample
};

struct ClassSpectrum {
  int label = 0, samples = 0;
  std::vector<double> point;  // ybar_c
  double spread = 0.0;        // spread_c (analysis/trajectory_stats.h) at T'
  double last_step = 0.0;     // mean |y_i(T') - y_i(T'-1)|
  double ode_speed = 0.0;     // max_i |F(ybar_c)_i|: how far ybar_c is from a fixed point of eq. 3
  PointSpectra spectra;
  SpectrumSummary ode, layer_map;
};

struct SpectrumResult {
  int unroll = 0;
  std::vector<ClassSpectrum> classes;            // classes with samples, in class order
  std::vector<SampleFixedPoint> samples;         // in sample order (classes ascending)
  std::vector<DistinctFixedPoint> fixed_points;  // in order of first appearance
  std::vector<ClassFixedPoints> class_fixed_points;
  double forward_seconds = 0.0, eigen_seconds = 0.0;
  double newton_seconds = 0.0, fixed_point_eigen_seconds = 0.0;
  std::vector<std::string> files;  // every file written, in order
};

// Throws Error unless net is a ResNet with shared weights: only then is there one W, one
// ODE (eq. 3) and an unrolling to T'.
void check_spectrum_model(const Net<float>& net);

// Writes to options.out_dir (atomically, file by file):
//   eigenvalues.csv  class, which ("ode" or "layer_map"), real, imag; for each class and
//                    Jacobian sorted by real part, descending
//   fixed_points.csv per sample: class, |F| at y(T') and at the Newton point, iterations,
//                    converged, its distinct point, that point's eigenvalue signs
//   fixed_point_eigenvalues.csv  point, real, imag: J's eigenvalues at each distinct point
//   summary.json     the settings (the forward pass's precision among them) and definitions;
//                    per class the sample count, spread and last step at T', |F(ybar_c)|,
//                    and each spectrum's summary; the exact fixed points per class
//                    (ClassFixedPoints)
// `test` is the whole test split; the first S samples of each class are taken from it.
SpectrumResult run_spectrum_experiment(const Net<float>& net, const Dataset& test, const SpectrumOptions& options);

}  // namespace resdyn
