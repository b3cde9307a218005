// The shapes the experiments' tables come in, read into what the figures draw: curves per
// class (trajectory_stats.csv, sensitivity.csv, ...) and class-by-class matrices
// (distance_matrix.csv, cosine_matrix.csv). Rows that break the shape (a class out of
// order, a ragged matrix) are errors naming the file and line.
#pragma once

#include <string>
#include <vector>

#include "output/csv_reader.h"
#include "resdyn.h"

namespace resdyn::report {

// One class's rows of a table, in file order.
struct ClassCurve {
  int label = 0;
  std::vector<double> x, y, spread;  // spread is empty when not asked for
};

// Groups the rows by the integer column "class" (each class's rows together, classes
// ascending, as the experiments write them) and reads x, y and optionally spread
// (spread_column empty: none). `keep(row)` may leave rows out. `read` reads a cell: by
// default only numbers a chart can place (CsvTable::plottable); CsvTable::number where a
// non-finite value is a gap the chart leaves (a singular matrix's log-determinant).
using CellReader = double (output::CsvTable::*)(std::size_t, std::size_t) const;
template <class Keep>
std::vector<ClassCurve> class_curves(const output::CsvTable& table, const std::string& x_column,
                                     const std::string& y_column, const std::string& spread_column, Keep keep,
                                     CellReader read = &output::CsvTable::plottable);

std::vector<ClassCurve> class_curves(const output::CsvTable& table, const std::string& x_column,
                                     const std::string& y_column, const std::string& spread_column = "");

// The integer in column "class" of a row.
int class_of(const output::CsvTable& table, std::size_t row);

// A square class-by-class table: column "class", then one column per class named by its
// number, rows in class order.
struct ClassMatrix {
  std::vector<std::string> labels;          // "0", "1", ...
  std::vector<std::vector<double>> values;  // values[row][column]
};
ClassMatrix class_matrix(const output::CsvTable& table);

// ---- implementation of the template ----

template <class Keep>
std::vector<ClassCurve> class_curves(const output::CsvTable& table, const std::string& x_column,
                                     const std::string& y_column, const std::string& spread_column, Keep keep,
                                     CellReader read) {
  const std::size_t x = table.column(x_column), y = table.column(y_column);
  const std::size_t spread = spread_column.empty() ? 0 : table.column(spread_column);
  std::vector<ClassCurve> curves;
  for (std::size_t r = 0; r < table.rows(); ++r) {
    if (!keep(r)) continue;
    const int label = class_of(table, r);
    if (curves.empty() || curves.back().label != label) {
      if (!curves.empty() && label < curves.back().label)
        throw Error(table.source() + ":" + std::to_string(table.line(r)) + ": class " + std::to_string(label) +
                    " after class " + std::to_string(curves.back().label) +
                    " (rows must be grouped by class, ascending)");
      curves.push_back({label, {}, {}, {}});
    }
    curves.back().x.push_back((table.*read)(r, x));
    curves.back().y.push_back((table.*read)(r, y));
    if (!spread_column.empty()) curves.back().spread.push_back((table.*read)(r, spread));
  }
  return curves;
}

}  // namespace resdyn::report
