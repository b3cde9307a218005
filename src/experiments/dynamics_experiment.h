// The transient-dynamics experiment (`resdyn dynamics`): paper §6 (figs. 2 and 3), appendix
// B (fig. 5), appendix C (fig. 6B/C) and the workshop version's fig. 1C.
//
// Data: the first S test samples of each class in file order (S = 200, the paper's count;
// it draws them at random), run through a trained net to its own depth T, or, for shared
// weights, unrolled to T' layers by applying the same W, b again (the paper's 1000-layer
// run of a 15-layer net, §6 and appendix B). No randomness: the same model gives the same
// files. With y(t) a ResNet's residual and x(t) = x(t-1) + y(t) its cumulative signal (an
// MLP's h(t) stands for both):
//   mean_c(t)   = mean over class-c samples and neurons of y_i(t)                  fig. 2
//   spread_c(t) = mean over neurons of the std across class-c samples of y_i(t)   fig. 2
//   profile     = per class and neuron, mean and std over samples of y_i(T)       fig. 5
//   i_c         = argmax_i K[c,i]; on each class's inputs, the class means of y_{i_k}(t)
//                 and x_{i_k}(t) for every k                                      fig. 3
//   D[c1][c2]   = mean over pairs a in c1, b in c2, a != b, of ||Y_a - Y_b||_2 with
//                 Y = y(1..T) concatenated (the trajectory)               workshop fig. 1C
//   C[c1][c2]   = mean over the same pairs of cos(s_a, s_b), s = x(T), or h(T)  fig. 6B/C
// Summary: the classes c for which x_{i_c}(T) ends highest on class-c inputs (paper: 9 of
// 10), the rows of D whose diagonal is the row minimum, the rows of C whose diagonal is the
// row maximum, C's contrast mean(diagonal) - mean(off-diagonal) (ResNet against MLP,
// appendix C), and the first layer at which every class's spread is below 1e-3 (the paper:
// a per-layer net's residuals stop moving after layer 4). Standard deviations divide by
// the count. Where each is computed: analysis/transient_dynamics.h and the files it names.
#pragma once

#include <string>
#include <vector>

#include "analysis/transient_dynamics.h"
#include "resdyn.h"

namespace resdyn {

struct DynamicsExperimentOptions {
  int samples_per_class = 200;  // S: the first S test samples of each class, in file order
  int unroll = 0;               // T' (0: the trained depth); shared-weight nets only
  int threads = 1;
  std::string out_dir;  // created if missing
  // Of every forward pass's products, the probes' and the test error's.
  Precision precision = Precision::fp32;
};

struct DynamicsExperimentResult {
  TransientDynamics dynamics;
  double test_error = 0;           // the model at its trained depth, on all of `test`
  double seconds = 0;              // wall time of the probes (not of the test error)
  std::vector<std::string> files;  // every file written, in order
};

// Runs the probes of `net` on `test` and writes to options.out_dir (each file atomically):
//   trajectory_stats.csv  class, layer, mean, spread                     (fig. 2)
//   final_profile.csv     class, neuron, mean, std of y_i at the deepest layer (fig. 5)
//   sensitive_neurons.csv class, neuron_class, neuron, layer, mean_y, mean_x: on class-`class`
//                         inputs, the class means of y and x of neuron i_{neuron_class} (fig. 3)
//   distance_matrix.csv   class, then one column per class: D[class][k]   (fig. 1C)
//   cosine_matrix.csv     class, then one column per class: C[class][k]   (fig. 6B/C)
//   summary.json          the summary figures above, the depth, S, the test error, the precision
// Throws resdyn::Error for --unroll on a per-layer net (before any work), images that do not
// fit the net, a label outside the net's classes, a class without test samples, or an
// output directory that cannot be written.
DynamicsExperimentResult run_dynamics_experiment(const Net<float>& net, const Dataset& test,
                                                 const DynamicsExperimentOptions& options);

}  // namespace resdyn
