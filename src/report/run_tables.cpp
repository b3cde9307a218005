#include "report/run_tables.h"

namespace resdyn::report {

int class_of(const output::CsvTable& table, std::size_t row) {
  return int(table.integer(row, table.column("class"), 0, kMaxClasses - 1));
}

std::vector<ClassCurve> class_curves(const output::CsvTable& table, const std::string& x_column,
                                     const std::string& y_column, const std::string& spread_column) {
  return class_curves(table, x_column, y_column, spread_column, [](std::size_t) { return true; });
}

ClassMatrix class_matrix(const output::CsvTable& table) {
  const std::vector<std::string>& columns = table.columns();
  const std::size_t classes = columns.size() - 1;
  if (columns.empty() || columns[0] != "class" || classes == 0)
    throw Error(table.source() + ":1: a class matrix needs the columns class, 0, 1, ...");
  ClassMatrix m;
  for (std::size_t k = 0; k < classes; ++k) {
    if (columns[k + 1] != std::to_string(k))
      throw Error(table.source() + ":1: column " + std::to_string(k + 2) + " is '" + columns[k + 1] + "', expected '" +
                  std::to_string(k) + "'");
    m.labels.push_back(columns[k + 1]);
  }
  if (table.rows() != classes)
    throw Error(table.source() + ": " + std::to_string(table.rows()) + " rows for " + std::to_string(classes) +
                " classes (the matrix must be square)");
  for (std::size_t r = 0; r < classes; ++r) {
    if (class_of(table, r) != int(r))
      throw Error(table.source() + ":" + std::to_string(table.line(r)) + ": row of class " +
                  std::to_string(class_of(table, r)) + " where class " + std::to_string(r) + " belongs");
    m.values.emplace_back();
    for (std::size_t k = 0; k < classes; ++k) m.values.back().push_back(table.plottable(r, k + 1));
  }
  return m;
}

}  // namespace resdyn::report
