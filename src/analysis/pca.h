// Principal components of a point cloud (the t-SNE initialisation, tsne.h).
#pragma once

#include <cstdint>
#include <vector>

#include "analysis/point_set.h"

namespace resdyn {

struct PrincipalComponents {
  int count = 0;                  // components
  std::vector<double> axes;       // component j: unit vector at [j*dim, j*dim + dim)
  std::vector<double> variances;  // variance along each axis (sample variance, n - 1)
  std::vector<double> scores;     // point i, component j at [i*count + j]: (x_i - mean) . axis_j
  bool converged = false;         // the eigen-solver reached its tolerance
};

// The `count` leading principal components: the top eigenvectors of the sample
// covariance, found by block Krylov iteration on v -> X_c^T (X_c v) / (n - 1) without
// forming the covariance (X_c: the centred points). Each axis has its largest entry
// positive. Seeded; the same bits on any thread count.
PrincipalComponents principal_components(const PointSet& points, int count, uint64_t seed, int threads);

}  // namespace resdyn
