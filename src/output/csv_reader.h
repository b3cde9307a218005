// Reading back the CSV tables that output/csv.h writes: a header row naming the columns,
// then one row per record with exactly one cell per column. Quoted cells follow RFC 4180
// (a quoted cell may hold commas, quotes doubled, and line breaks); the words nan, inf
// and -inf read as the numbers the writer spells that way. Every fault is a resdyn::Error
// naming the file and the line, so a damaged table is never half-read.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace resdyn::output {

class CsvTable {
 public:
  // Parses `text`; `source` names it in error messages (usually its path).
  static CsvTable parse(const std::string& text, const std::string& source);
  // Reads and parses the file at `path`.
  static CsvTable read(const std::string& path);

  const std::string& source() const { return source_; }
  const std::vector<std::string>& columns() const { return columns_; }
  std::size_t rows() const { return cells_.size(); }
  bool has_column(const std::string& name) const;
  // Index of the named column; throws naming the file and the columns it has.
  std::size_t column(const std::string& name) const;
  // The line of the file on which the row (0 = first record after the header) starts.
  int line(std::size_t row) const { return lines_[row]; }

  const std::string& text(std::size_t row, std::size_t column) const { return cells_[row][column]; }
  // The cell as a number; throws "FILE:LINE: column 'c': 'x' is not a number".
  double number(std::size_t row, std::size_t column) const;
  // The cell as a number a chart can place: finite and at most 1e150 in magnitude (so the
  // axis arithmetic cannot overflow); throws "FILE:LINE: column 'c': 'nan' is not ...".
  double plottable(std::size_t row, std::size_t column) const;
  // The cell as a whole number within [lo, hi]; throws as above.
  long integer(std::size_t row, std::size_t column, long lo, long hi) const;
  // A whole column as numbers.
  std::vector<double> numbers(const std::string& column) const;

 private:
  std::string source_;
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> cells_;
  std::vector<int> lines_;
};

// A decimal number exactly as a whole string, independent of the C locale: the usual
// forms (-1, 2.5, 1e-3, .5) and nan, inf, -inf. False for anything else.
bool parse_decimal(const std::string& text, double& value);

}  // namespace resdyn::output
