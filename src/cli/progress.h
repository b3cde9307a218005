// Training progress for people: a live line on a terminal, plain lines otherwise.
#pragma once

#include <cstdio>
#include <string>

#include "resdyn.h"

namespace resdyn::cli {

// "1h02m", "3m05s", "42s": durations as people read them.
std::string format_duration(double seconds);

class ProgressLine {
 public:
  explicit ProgressLine(std::FILE* out);
  // Called after every batch. On a terminal, redraws one line at most ten times a second;
  // elsewhere, prints a plain line at each quarter of an epoch.
  void update(const BatchProgress& p);
  // Ends the live line (if any) so the next output starts on a fresh line.
  void clear();

 private:
  std::FILE* out_;
  bool terminal_;
  double last_draw_ = -1;
  int last_quarter_ = 0;
  bool drawn_ = false;
};

}  // namespace resdyn::cli
