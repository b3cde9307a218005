// The per-class sample sets of every analysis: the first S samples of each class, in file
// order. The paper draws 200 random samples per class (§6, appendix C); taking the first S
// gives the same set on every run without a seed.
#pragma once

#include "resdyn.h"

namespace resdyn {

// The first `per_class` samples of each class 0..classes-1 in file order, grouped by class:
// all of class 0 (in file order), then class 1, and so on. A class with fewer samples
// contributes what it has. Throws Error for per_class < 1 or a label >= classes.
Dataset first_per_class(const Dataset& data, int per_class, int classes);

}  // namespace resdyn
