#include "output/csv.h"

#include <cmath>
#include <cstdio>

#include "resdyn.h"

namespace resdyn::output {

Csv::Csv(const std::vector<std::string>& columns) : columns_(columns.size()) {
  for (size_t i = 0; i < columns.size(); ++i) out_ += (i ? "," : "") + columns[i];
  out_ += "\n";
}

Csv& Csv::row() {
  if (started_ && in_row_ != columns_) throw Error("internal: CSV row has " + std::to_string(in_row_) + " cells");
  if (started_) out_ += "\n";
  started_ = true;
  in_row_ = 0;
  return *this;
}

void Csv::next_cell() {
  if (!started_ || in_row_ == columns_) throw Error("internal: CSV cell outside a row");
  if (in_row_++) out_ += ",";
}

Csv& Csv::cell(double v) {
  next_cell();
  if (std::isnan(v)) {
    out_ += "nan";
  } else if (std::isinf(v)) {
    out_ += v > 0 ? "inf" : "-inf";
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    out_ += buf;
  }
  return *this;
}

Csv& Csv::cell(long v) {
  next_cell();
  out_ += std::to_string(v);
  return *this;
}

Csv& Csv::cell(const std::string& v) {
  next_cell();
  if (v.find_first_of(",\"\n") == std::string::npos) {
    out_ += v;
  } else {  // RFC 4180 quoting
    out_ += '"';
    for (char c : v) out_ += c == '"' ? std::string("\"\"") : std::string(1, c);
    out_ += '"';
  }
  return *this;
}

std::string Csv::str() const { return started_ ? out_ + "\n" : out_; }

void Csv::save(const std::string& path) const {
  if (started_ && in_row_ != columns_) throw Error(path + ": internal: CSV row incomplete");
  write_text_atomically(path, str());
}

}  // namespace resdyn::output
