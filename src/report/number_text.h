// How numbers read in the report: a few significant digits, percentages, "n/a" for what
// was not measured. Independent of the C locale (built on plot::format_number).
#pragma once

#include <string>

namespace resdyn::report {

// `value` with `digits` significant digits (at least one), e.g. 0.0123456 -> "0.0123",
// 1234.5 -> "1234" or "1.23e+06" beyond a million; "n/a" when not finite.
std::string number_text(double value, int digits = 3);

// A fraction as a percentage with `decimals` decimals: 0.0179 -> "1.79 %"; "n/a" when not finite.
std::string percent_text(double fraction, int decimals = 2);

}  // namespace resdyn::report
