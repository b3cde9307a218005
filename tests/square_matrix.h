// A small square matrix for the numerical tests, written out row by row.
#pragma once

#include <vector>

#include "analysis/linalg.h"

namespace test_matrix {

inline resdyn::Matrix square(int n, const std::vector<double>& row_major) {
  resdyn::Matrix m(n, n);
  m.a = row_major;
  return m;
}

}  // namespace test_matrix
