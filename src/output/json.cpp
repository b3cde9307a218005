#include "output/json.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "resdyn.h"

namespace resdyn::output {

std::string json_escape(const std::string& s) {
  std::string out = "\"";
  for (const unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out + "\"";
}

void Json::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ",";
    first_.back() = false;
    out_ += "\n" + std::string(2 * first_.size(), ' ');
  }
}

Json& Json::begin_object() {
  before_value();
  out_ += "{";
  first_.push_back(true);
  return *this;
}

Json& Json::end_object() {
  const bool empty = first_.back();
  first_.pop_back();
  if (!empty) out_ += "\n" + std::string(2 * first_.size(), ' ');
  out_ += "}";
  return *this;
}

Json& Json::begin_array() {
  before_value();
  out_ += "[";
  first_.push_back(true);
  return *this;
}

Json& Json::end_array() { return end_object(), out_.back() = ']', *this; }

Json& Json::key(const std::string& name) {
  before_value();
  out_ += json_escape(name) + ": ";
  after_key_ = true;
  return *this;
}

Json& Json::value(double v) {
  if (!std::isfinite(v)) return null();
  before_value();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  out_ += buf;
  return *this;
}

Json& Json::value(long v) {
  before_value();
  out_ += std::to_string(v);
  return *this;
}

Json& Json::value(bool v) {
  before_value();
  out_ += v ? "true" : "false";
  return *this;
}

Json& Json::value(const std::string& v) {
  before_value();
  out_ += json_escape(v);
  return *this;
}

Json& Json::null() {
  before_value();
  out_ += "null";
  return *this;
}

Json& Json::values(const std::vector<double>& vs) {
  begin_array();
  for (double v : vs) value(v);
  return end_array();
}

std::string Json::str() const { return first_.empty() ? out_ + "\n" : out_; }

void Json::save(const std::string& path) const {
  if (!first_.empty()) throw Error(path + ": internal: JSON document not closed");
  write_text_atomically(path, str());
}

}  // namespace resdyn::output
