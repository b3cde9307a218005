// Per-class statistics of the residual at the deepest layer of a forward pass, unrolled
// for shared nets: the class means ybar_c at which spectrum_experiment.h takes the Jacobians'
// eigenvalues (paper §6: "the average residuals for each class at layer 1000"), with the
// spread and the size of the last step, which say whether the residuals have settled by then.
#pragma once

#include <vector>

#include "analysis/class_groups.h"
#include "analysis/class_profile.h"
#include "resdyn.h"

namespace resdyn {

struct FinalResiduals {
  int depth = 0;               // T'
  ClassGroups groups;          // which rows of the data belong to which class
  ClassProfile profile;        // per class and neuron i: mean and standard deviation of y_i(T')
  std::vector<double> spread;  // per class: spread_c of trajectory_stats.h at T'
  // Per class: mean over samples and neurons of |y_i(T') - y_i(T'-1)|, the change the last
  // layer still makes (adaptive depth's d, residual_convergence in resdyn.h); NaN when T' = 1.
  std::vector<double> last_step;
  std::vector<float> last;  // y(T') of every sample, row by row (N values each), in data order
};

// Runs every sample of `data` (its rows sorted by label, as first_per_class leaves them)
// through `net` to depth T' = `depth` (0: the trained depth; beyond it only for shared
// nets), keeping only the newest layer, its products in `precision`. y is a ResNet's
// residual, an MLP's h (Trace::residual). Throws Error if the rows are not sorted by label
// or the images do not fit the net.
FinalResiduals final_residuals(const Net<float>& net, const Dataset& data, int depth, int threads = 1,
                               Precision precision = Precision::fp32, int batch = 250);

}  // namespace resdyn
