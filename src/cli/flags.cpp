#include "cli/flags.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "resdyn.h"

namespace resdyn::cli {

namespace {
Error flag_error(const CommandSpec& spec, const std::string& what) {
  return Error(spec.name + ": " + what + " (see 'resdyn " + spec.name + " --help')");
}
}  // namespace

std::string printable(const std::string& text) {
  std::string out;
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      const char* hex = "0123456789abcdef";
      out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

Flags::Flags(const CommandSpec& spec, int argc, char** argv, int first) : spec_(spec) {
  command_line_ = "resdyn " + spec.name;
  for (int i = first; i < argc; ++i) {
    command_line_ += " " + printable(argv[i]);
    args_.push_back(argv[i]);
  }
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      help_ = true;
      continue;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0)
      throw flag_error(spec, "unexpected argument '" + printable(arg) + "'");
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const Flag* flag = nullptr;
    bool negated = false;  // --no-switch
    for (const Flag& f : spec.flags)
      if (f.name == name) flag = &f;
    if (!flag && name.compare(0, 3, "no-") == 0)
      for (const Flag& f : spec.flags)
        if (f.value.empty() && f.name == name.substr(3)) flag = &f, negated = true;
    if (!flag) throw flag_error(spec, "unknown flag --" + printable(name));
    // --stem --no-stem counts as twice too: one flag, one value.
    if (values_.count(flag->name)) throw flag_error(spec, "--" + flag->name + " given twice");
    if (flag->value.empty()) {
      if (has_value) throw flag_error(spec, "--" + name + " takes no value");
      values_[flag->name] = negated ? "0" : "1";
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) throw flag_error(spec, "--" + name + " needs a value (" + flag->value + ")");
      value = argv[++i];
    }
    values_[name] = value;
  }
}

const Flag& Flags::find(const std::string& name) const {
  for (const Flag& f : spec_.flags)
    if (f.name == name) return f;
  throw Error("internal: flag --" + name + " is not declared for " + spec_.name);
}

bool Flags::has(const std::string& name) const {
  find(name);
  return values_.count(name) != 0;
}

std::string Flags::text(const std::string& name, const std::string& fallback) const {
  find(name);
  const auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string Flags::required_text(const std::string& name) const {
  find(name);
  const auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) throw flag_error(spec_, "--" + name + " is required");
  return it->second;
}

long long Flags::integer(const std::string& name, long long fallback, long long lo, long long hi) const {
  if (!has(name)) return fallback;
  const std::string& s = values_.at(name);
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0])) || *end != '\0' || errno == ERANGE)
    throw flag_error(spec_, "--" + name + " expects a whole number, got '" + printable(s) + "'");
  if (v < lo || v > hi)
    throw flag_error(spec_, "--" + name + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                                ", got " + printable(s));
  return v;
}

double Flags::real(const std::string& name, double fallback, double lo, double hi) const {
  if (!has(name)) return fallback;
  const std::string& s = values_.at(name);
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0])) || *end != '\0' || errno == ERANGE ||
      !std::isfinite(v))
    throw flag_error(spec_, "--" + name + " expects a number, got '" + printable(s) + "'");
  if (v < lo || v > hi) throw flag_error(spec_, "--" + name + " is out of range, got " + printable(s));
  return v;
}

bool Flags::on(const std::string& name, bool fallback) const {
  if (!has(name)) return fallback;
  return values_.at(name) == "1";
}

std::string Flags::choice(const std::string& name, const std::string& fallback,
                          const std::vector<std::string>& words) const {
  const std::string v = text(name, fallback);
  std::string options;
  for (const std::string& w : words) {
    if (v == w) return v;
    options += (options.empty() ? "" : "|") + w;
  }
  throw flag_error(spec_, "--" + name + " must be one of " + options + ", got '" + printable(v) + "'");
}

std::string number_text(double value) {
  char plain[32];
  std::snprintf(plain, sizeof plain, "%g", value);
  // The exponent form with the fewest digits that reads back as the same value.
  for (int digits = 0; digits < 17; ++digits) {
    char scientific[32];
    std::snprintf(scientific, sizeof scientific, "%.*e", digits, value);
    if (std::strtod(scientific, nullptr) != value) continue;
    std::string text = scientific;
    const size_t e = text.find('e');
    std::string exponent = text.substr(e + 1);  // "-03" -> "-3", "+01" -> "1"
    const bool negative = exponent[0] == '-';
    exponent = exponent.substr(1);
    while (exponent.size() > 1 && exponent[0] == '0') exponent.erase(0, 1);
    text = text.substr(0, e) + "e" + (negative ? "-" : "") + exponent;
    return text.size() < std::string(plain).size() ? text : plain;
  }
  return plain;
}

std::string help_text(const CommandSpec& spec) {
  std::string out = "usage: resdyn " + spec.name + " [flags]\n\n" + spec.summary + "\n\nflags:\n";
  for (const Flag& f : spec.flags) {
    std::string left = "  --" + f.name + (f.value.empty() ? "" : " " + f.value);
    if (f.value.empty()) left = "  --[no-]" + f.name;
    if (left.size() < 24)
      left.resize(24, ' ');
    else
      left += "\n" + std::string(24, ' ');
    out += left + f.help + (f.default_text.empty() ? "" : " (default: " + f.default_text + ")") + "\n";
  }
  out += "  -h, --help              this text\n";
  return out;
}

}  // namespace resdyn::cli
