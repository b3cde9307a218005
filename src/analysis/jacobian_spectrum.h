// The linearisations of a shared-weight ResNet's residual dynamics at a point y, and their
// spectra (paper §6: the eigenvalues at each class's mean residual of a net unrolled to
// 1000 layers):
//   ODE Jacobian (of paper eq. 3):  J(y) = diag((1 - 2y) (W y)) + diag(y (1 - y)) W
//   layer map Jacobian:             L(y) = I + diag(y (1 - y)) W
// J is eq. 3's right-hand side F(y) = y (1 - y) (W y) differentiated (the paper does not
// write it out). L(y) is the Jacobian of one layer, x(t-1) -> x(t) = x(t-1) + sigma(W x(t-1)
// + b), at a state whose new residual is y; it is the factor I + M(t) of appendix A, eq. 10.
// The paper reports eigenvalues without saying of which matrix; J is the reading that
// matches "positive eigenvalue: saddle", L is given beside it.
//
// The bias b appears in neither, on purpose: eq. 3 follows from z = W x + b by
// differentiating along the layers (paper eq. 1-2), dz/dt = W dx/dt = W y, and a constant
// b drops out. "y (1 - y) (W y + b)" would not be the residual ODE, so no such variant is
// computed.
#pragma once

#include <complex>
#include <vector>

#include "analysis/linalg.h"

namespace resdyn {

// L(y) = I + diag(y (1 - y)) W.
Matrix layer_map_jacobian(const Matrix& weights, const std::vector<double>& y);

// Eigenvalues in the order the output files use: real part descending, then imaginary
// part descending (so a conjugate pair lists +imag first).
void sort_spectrum(std::vector<std::complex<double>>& values);

// A spectrum in a few numbers: the count of eigenvalues with positive real part and the
// largest real part (paper §6: classes 0, 2, 3 have one, near 0.02), plus the few largest.
struct SpectrumSummary {
  int count = 0;
  int positive_real = 0;         // eigenvalues with real part > 0
  double largest_real = 0.0;     // largest real part (NaN for an empty spectrum)
  double spectral_radius = 0.0;  // largest modulus
  int outside_unit_circle = 0;   // eigenvalues with modulus > 1
  std::vector<double> top_real;  // the largest real parts, descending (at most `top`)
};

SpectrumSummary summarise_spectrum(const std::vector<std::complex<double>>& values, int top = 5);

// The eigenvalues of J(y), sorted by sort_spectrum, with rows that are diagonal up to
// rounding taken out first. Row i of J is (1 - 2y_i)(W y)_i e_i + y_i (1 - y_i) W_i; at a
// fixed point most components sit on a face (y_i = 0 or 1 up to a factor like 1e-30), so
// y_i (1 - y_i) ||W_i||_1 falls below eps ||J||_inf, the rounding level the QR iteration
// works at anyway. Such a row is treated as exactly diagonal: J is then block triangular
// after a permutation, its diagonal entry is an eigenvalue, and the rest are the
// eigenvalues of J with those rows and columns removed (Golub & Van Loan §7.1). Same
// eigenvalues as eigenvalues(J) to rounding, in a fraction of the time.
std::vector<std::complex<double>> deflated_ode_eigenvalues(const Matrix& weights, const std::vector<double>& y);

// Both spectra at one point, each sorted by sort_spectrum.
struct PointSpectra {
  std::vector<std::complex<double>> ode;        // eigenvalues of J(y)
  std::vector<std::complex<double>> layer_map;  // eigenvalues of L(y)
};

// The spectra at every point. The 2 x points.size() eigenvalue problems are shared out
// over `threads` threads, each solved whole on one thread, so the result does not depend
// on the thread count. Throws LinalgError if an eigenvalue iteration fails, Error if a
// point's length differs from W's size.
std::vector<PointSpectra> jacobian_spectra(const Matrix& weights, const std::vector<std::vector<double>>& points,
                                           int threads = 1);

}  // namespace resdyn
