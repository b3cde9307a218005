#include "output/csv_reader.h"

#include <charconv>
#include <cmath>

#include "resdyn.h"

namespace resdyn::output {

bool parse_decimal(const std::string& text, double& value) {
  if (text.empty()) return false;
  if (text == "nan") return value = NAN, true;
  if (text == "inf") return value = INFINITY, true;
  if (text == "-inf") return value = -INFINITY, true;
  // from_chars reads the C locale's format whatever the global locale is; its own nan
  // and inf spellings ("NAN", "infinity") are refused by the check below.
  if (!(std::isdigit(static_cast<unsigned char>(text.back())) || text.back() == '.')) return false;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return error == std::errc() && stop == end;
}

CsvTable CsvTable::read(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  return parse(std::string(bytes.begin(), bytes.end()), path);
}

CsvTable CsvTable::parse(const std::string& text, const std::string& source) {
  CsvTable table;
  table.source_ = source;
  int line = 1;
  std::size_t pos = 0;
  const auto fail = [&](int at, const std::string& what) {
    throw Error(source + ":" + std::to_string(at) + ": " + what);
  };
  // One record: cells up to an unquoted line break (or the end of the text).
  const auto read_record = [&](std::vector<std::string>& cells) {
    cells.assign(1, "");
    while (pos < text.size()) {
      const char c = text[pos];
      if (c == '\n' || c == '\r') {
        pos += (c == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') ? 2 : 1;
        ++line;
        return;
      }
      if (c == ',') {
        cells.emplace_back();
        ++pos;
      } else if (c == '"') {
        if (!cells.back().empty()) fail(line, "a quote inside an unquoted cell");
        const int opened = line;
        for (++pos;; ++pos) {
          if (pos >= text.size()) fail(opened, "quoted cell never closed");
          if (text[pos] == '"') {
            if (pos + 1 < text.size() && text[pos + 1] == '"') {
              cells.back() += '"';
              ++pos;
              continue;
            }
            ++pos;
            break;
          }
          if (text[pos] == '\n') ++line;
          cells.back() += text[pos];
        }
        if (pos < text.size() && text[pos] != ',' && text[pos] != '\n' && text[pos] != '\r')
          fail(line, "text after a closing quote");
      } else {
        cells.back() += c;
        ++pos;
      }
    }
  };

  if (text.empty()) fail(1, "empty file (expected a header row)");
  read_record(table.columns_);
  for (std::size_t i = 0; i < table.columns_.size(); ++i) {
    if (table.columns_[i].empty()) fail(1, "header has an empty column name");
    for (std::size_t j = 0; j < i; ++j)
      if (table.columns_[j] == table.columns_[i]) fail(1, "column '" + table.columns_[i] + "' appears twice");
  }
  std::vector<std::string> cells;
  while (pos < text.size()) {
    const int start = line;
    read_record(cells);
    if (cells.size() == 1 && cells[0].empty()) {
      // A blank line is allowed only as the very end of the file.
      if (pos < text.size()) fail(start, "blank line inside the table");
      break;
    }
    if (cells.size() != table.columns_.size())
      fail(start,
           std::to_string(cells.size()) + " cells where the header has " + std::to_string(table.columns_.size()));
    table.cells_.push_back(cells);
    table.lines_.push_back(start);
  }
  return table;
}

bool CsvTable::has_column(const std::string& name) const {
  for (const std::string& c : columns_)
    if (c == name) return true;
  return false;
}

std::size_t CsvTable::column(const std::string& name) const {
  for (std::size_t i = 0; i < columns_.size(); ++i)
    if (columns_[i] == name) return i;
  std::string have;
  for (const std::string& c : columns_) have += (have.empty() ? "" : ", ") + c;
  throw Error(source_ + ": no column '" + name + "' (it has: " + have + ")");
}

double CsvTable::number(std::size_t row, std::size_t column) const {
  double value = 0;
  if (!parse_decimal(cells_[row][column], value))
    throw Error(source_ + ":" + std::to_string(lines_[row]) + ": column '" + columns_[column] + "': '" +
                cells_[row][column] + "' is not a number");
  return value;
}

double CsvTable::plottable(std::size_t row, std::size_t column) const {
  const double value = number(row, column);
  if (!(std::abs(value) <= 1e150))
    throw Error(source_ + ":" + std::to_string(lines_[row]) + ": column '" + columns_[column] + "': '" +
                cells_[row][column] + "' is not a finite number of at most 1e150 in magnitude");
  return value;
}

long CsvTable::integer(std::size_t row, std::size_t column, long lo, long hi) const {
  const double value = number(row, column);
  if (!(value >= double(lo) && value <= double(hi)) || value != std::floor(value))
    throw Error(source_ + ":" + std::to_string(lines_[row]) + ": column '" + columns_[column] + "': '" +
                cells_[row][column] + "' is not a whole number in " + std::to_string(lo) + ".." + std::to_string(hi));
  return long(value);
}

std::vector<double> CsvTable::numbers(const std::string& name) const {
  const std::size_t c = column(name);
  std::vector<double> out(rows());
  for (std::size_t r = 0; r < rows(); ++r) out[r] = number(r, c);
  return out;
}

}  // namespace resdyn::output
