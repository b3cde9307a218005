// Eigenvalues and eigenvectors of real symmetric matrices, in double:
//  - all of them for a small dense matrix (Householder tridiagonalisation, then
//    implicit QR steps with Wilkinson shifts), and
//  - the few largest of a large operator that is only available as a product with a
//    block of vectors (block Krylov / Lanczos with full reorthogonalisation, thick
//    restarts and Rayleigh-Ritz on the whole basis).
// The embeddings use them for PCA (the t-SNE initialisation, tsne.h) and for the spectral
// initialisation of UMAP. The Krylov solver is seeded and gives the same bits on any
// thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "resdyn.h"

namespace resdyn {

// Eigenpairs in decreasing order of eigenvalue: eigenvector j is vectors[j*n .. j*n + n).
struct SymmetricEigen {
  int n = 0;
  std::vector<double> values;
  std::vector<double> vectors;
};

// All eigenpairs of the dense symmetric n x n matrix (row-major; only its symmetric
// part is used), Golub & Van Loan §8.3. Throws resdyn::Error if the QR iteration does
// not converge (30 n steps).
SymmetricEigen symmetric_eigen(std::vector<double> matrix, int n);

// out = A in, for `count` vectors of length dim stored one after the other.
using BlockOperator = FunctionRef<void(const double* in, double* out, int count)>;

struct KrylovOptions {
  int block = 4;        // vectors added to the basis per product with A
  int max_basis = 120;  // basis size that triggers a restart
  int max_restarts = 30;
  double tolerance = 1e-8;  // converged when every wanted |A v - theta v| <= tolerance * max |theta|
  uint64_t seed = 1;        // of the random start block
  int threads = 1;          // for the dot products and vector updates
  // Orthonormal vectors the eigenvectors are sought orthogonal to (e.g. a known
  // eigenvector), each of length dim.
  std::vector<std::vector<double>> deflate;
};

struct TopEigen {
  std::vector<double> values;   // `wanted` largest eigenvalues, decreasing
  std::vector<double> vectors;  // eigenvector j at [j*dim, j*dim + dim), unit length
  double residual = 0;          // max over j of |A v_j - theta_j v_j| / max |theta|
  bool converged = false;
  int products = 0;  // vectors multiplied by A
};

// The `wanted` largest eigenpairs of the symmetric operator A on R^dim (restricted to
// the orthogonal complement of options.deflate). If the tolerance is not reached within
// max_restarts, the best Ritz pairs found are returned with converged = false.
TopEigen top_eigenpairs(int dim, int wanted, const BlockOperator& apply, const KrylovOptions& options);

}  // namespace resdyn
