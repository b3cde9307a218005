// CSV tables as experiments write them: a header row, then rows of numbers or words.
// Numbers are written with %.9g (enough for float data, stable across runs).
#pragma once

#include <string>
#include <vector>

namespace resdyn::output {

class Csv {
 public:
  explicit Csv(const std::vector<std::string>& columns);
  // Starts a row; then add exactly one cell per column.
  Csv& row();
  Csv& cell(double v);
  Csv& cell(long v);
  Csv& cell(int v) { return cell(long(v)); }
  Csv& cell(const std::string& v);
  std::string str() const;
  // Writes the table to path atomically; fails if the last row is incomplete.
  void save(const std::string& path) const;

 private:
  void next_cell();
  size_t columns_;
  size_t in_row_ = 0;
  bool started_ = false;
  std::string out_;
};

}  // namespace resdyn::output
