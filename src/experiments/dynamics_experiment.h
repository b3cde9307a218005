// The transient-dynamics experiment (`resdyn dynamics`, SPEC §3, paper figures 1C, 2, 3, 5,
// 6B/C): the first S test samples of each class run through a trained net (its own depth, or
// unrolled to T' layers when its weights are shared), and every probe is written to a directory.
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
  std::string out_dir;          // created if missing
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
//   summary.json          the summary figures of SPEC §3, the depth, S, the test error
// Throws resdyn::Error for --unroll on a per-layer net (before any work), images that do not
// fit the net, a label outside the net's classes, a class without test samples, or an
// output directory that cannot be written.
DynamicsExperimentResult run_dynamics_experiment(const Net<float>& net, const Dataset& test,
                                                 const DynamicsExperimentOptions& options);

}  // namespace resdyn
