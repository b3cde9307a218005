// Principal components by block Krylov iteration on the covariance; see pca.h.
#include "analysis/pca.h"

#include <algorithm>
#include <string>

#include "analysis/parallel_chunks.h"
#include "analysis/symmetric_eigen.h"
#include "resdyn.h"

namespace resdyn {

PrincipalComponents principal_components(const PointSet& points, int count, uint64_t seed, int threads) {
  const int n = points.count, d = points.dim;
  if (n < 2 || count < 1 || count > d)
    throw Error("principal components: need at least 2 points and 1.." + std::to_string(d) + " components, got " +
                std::to_string(n) + " points and " + std::to_string(count));
  std::vector<double> mean(size_t(d), 0.0);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < d; ++k) mean[size_t(k)] += points.point(i)[k];
  for (double& m : mean) m /= n;

  // out_j = X_c^T (X_c v_j) / (n - 1): first z = X_c V (per point), then the sums over
  // points per coordinate, each in point order.
  std::vector<double> z;
  const auto covariance = [&](const double* in, double* out, int vectors) {
    z.assign(size_t(n) * vectors, 0.0);
    parallel_chunks(threads, n, 64, [&](int begin, int end) {
      for (int i = begin; i < end; ++i) {
        const float* x = points.point(i);
        for (int j = 0; j < vectors; ++j) {
          const double* v = in + size_t(j) * d;
          double sum = 0;
          for (int k = 0; k < d; ++k) sum += (double(x[k]) - mean[size_t(k)]) * v[k];
          z[size_t(i) * vectors + j] = sum;
        }
      }
    });
    parallel_chunks(threads, d, 64, [&](int begin, int end) {
      for (int j = 0; j < vectors; ++j) std::fill(out + size_t(j) * d + begin, out + size_t(j) * d + end, 0.0);
      for (int i = 0; i < n; ++i) {
        const float* x = points.point(i);
        for (int j = 0; j < vectors; ++j) {
          const double zij = z[size_t(i) * vectors + j];
          double* o = out + size_t(j) * d;
          for (int k = begin; k < end; ++k) o[k] += (double(x[k]) - mean[size_t(k)]) * zij;
        }
      }
      for (int j = 0; j < vectors; ++j)
        for (int k = begin; k < end; ++k) out[size_t(j) * d + k] /= (n - 1);
    });
  };
  KrylovOptions options;
  options.seed = seed;
  options.threads = threads;
  options.tolerance = 1e-7;
  const TopEigen top = top_eigenpairs(d, count, covariance, options);

  PrincipalComponents pc;
  pc.count = count;
  pc.axes = top.vectors;
  pc.variances = top.values;
  pc.converged = top.converged;
  pc.scores.assign(size_t(n) * count, 0.0);
  parallel_chunks(threads, n, 64, [&](int begin, int end) {
    for (int i = begin; i < end; ++i)
      for (int j = 0; j < count; ++j) {
        double sum = 0;
        for (int k = 0; k < d; ++k) sum += (double(points.point(i)[k]) - mean[size_t(k)]) * pc.axes[size_t(j) * d + k];
        pc.scores[size_t(i) * count + j] = sum;
      }
  });
  return pc;
}

}  // namespace resdyn
