#include "report/number_text.h"

#include <cmath>

#include "plot/svg.h"

namespace resdyn::report {

std::string number_text(double value, int digits) {
  if (!std::isfinite(value)) return "n/a";
  if (value == 0) return "0";
  digits = digits < 1 ? 1 : digits;
  const int magnitude = int(std::floor(std::log10(std::fabs(value))));
  if (magnitude >= 6 || magnitude < -4) {
    // m.mm e±k: the mantissa through the same locale-free formatter.
    double mantissa = value / std::pow(10.0, magnitude);
    int exponent = magnitude;
    if (std::fabs(std::round(mantissa * std::pow(10.0, digits - 1))) >= std::pow(10.0, digits)) {
      mantissa /= 10;  // rounding carried into a new digit (9.996 -> 10.0)
      ++exponent;
    }
    return plot::format_number(mantissa, digits - 1) + "e" + (exponent < 0 ? "-" : "+") +
           (std::abs(exponent) < 10 ? "0" : "") + std::to_string(std::abs(exponent));
  }
  const int decimals = digits - 1 - magnitude;
  return plot::format_number(value, decimals < 0 ? 0 : decimals);
}

std::string percent_text(double fraction, int decimals) {
  if (!std::isfinite(fraction)) return "n/a";
  return plot::format_number(100 * fraction, decimals, plot::TrailingZeros::keep) + " %";
}

}  // namespace resdyn::report
