// Class-by-class matrices of means over pairs of samples: the trajectory distances of the
// workshop version's fig. 1C and the cosine similarities of the final hidden state of the
// paper's fig. 6B/C (appendix C). Entry [c1][c2] is the mean over pairs (a in c1, b in c2,
// a != b): the workshop caption's "normalized by the number of samples". Both come from Gram
// matrices computed by resdyn::gemm on a batch whose rows are grouped by class; only the
// blocks with c1 <= c2 are computed for the distances, which are symmetric.
#pragma once

#include <cstddef>
#include <vector>

#include "analysis/class_groups.h"

namespace resdyn {

// A classes x classes matrix of doubles, row-major.
struct ClassMatrix {
  int classes = 0;
  std::vector<double> values;

  explicit ClassMatrix(int classes = 0) : classes(classes), values(size_t(classes) * classes, 0.0) {}
  double& at(int row, int col) { return values[size_t(row) * classes + col]; }
  double at(int row, int col) const { return values[size_t(row) * classes + col]; }
};

// Rows whose diagonal entry is the row minimum (ties count); a NaN row never counts.
int rows_with_diagonal_min(const ClassMatrix& m);
// Rows whose diagonal entry is the row maximum (ties count); a NaN row never counts.
int rows_with_diagonal_max(const ClassMatrix& m);
// mean(diagonal) - mean(off-diagonal entries): how much closer a class is to itself.
double diagonal_contrast(const ClassMatrix& m);

// The trajectory of a sample is the concatenation of y(1..T); the l2 distance between two
// trajectories is sqrt(sum over t of |y_a(t) - y_b(t)|^2). The sums are accumulated one layer
// at a time (memory does not grow with depth): per layer, the rows are centred on the
// layer's mean over all samples (which leaves every distance unchanged and shrinks the
// terms that cancel below), the float Gram matrix G = Yc Yc^T comes from gemm, and
// |y_a - y_b|^2 = G_aa + G_bb - 2 G_ab is added in double.
// Accuracy: float rounding in the Gram products bounds the error of one layer's squared
// distance by about 2 * width * 2^-24 * (|y_a - m|^2 + |y_b - m|^2), m the layer mean (the
// bound the tests check against a double reference); identical rows give exactly 0.
// Memory: about n^2/2 doubles for n samples, plus one class's rows of the Gram matrix.
class TrajectoryDistance {
 public:
  TrajectoryDistance(const ClassGroups& groups, int width);

  // Adds layer layers() + 1: y is groups.total() rows of `width` values.
  void add_layer(const float* y, int threads);

  int layers() const { return layers_; }
  // The trajectory distance between rows a and b so far.
  double distance(int a, int b) const;
  // D[c1][c2] = mean over pairs (a in c1, b in c2, a != b) of the distance; NaN without pairs.
  ClassMatrix class_means() const;

 private:
  int class_of(int row) const;
  size_t index(int a, int b) const;  // class_of(a) <= class_of(b)

  ClassGroups groups_;
  int width_ = 0, layers_ = 0;
  std::vector<size_t> block_start_;  // class c's block: size(c) rows x (total - begin(c)) columns
  std::vector<double> squared_;      // accumulated squared distances, block by block
  std::vector<double> layer_mean_;   // scratch: the layer's mean over samples
  std::vector<float> centred_, gram_, norms_;
};

// C[c1][c2] = mean over pairs (a in c1, b in c2, a != b) of cos(s_a, s_b), where s is
// groups.total() rows of `width` values (x(T) of a ResNet, h(T) of an MLP). A zero row has
// cosine 0 with everything; NaN without pairs. The unit rows are multiplied in float
// (error below about width * 2^-24 per cosine) and the means are taken in double.
ClassMatrix mean_cosine_similarity(const float* s, int width, const ClassGroups& groups, int threads);

}  // namespace resdyn
