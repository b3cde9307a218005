// A small JSON writer for the summaries experiments write beside their CSV files.
// Keys keep the order they are written in; numbers are written so that they read back
// to the same double (%.17g), and a non-finite number becomes null.
#pragma once

#include <string>
#include <vector>

namespace resdyn::output {

class Json {
 public:
  Json& begin_object();
  Json& end_object();
  Json& begin_array();
  Json& end_array();
  Json& key(const std::string& name);  // inside an object, before each value
  Json& value(double v);
  Json& value(long v);
  Json& value(int v) { return value(long(v)); }
  Json& value(bool v);
  Json& value(const std::string& v);
  Json& value(const char* v) { return value(std::string(v)); }
  Json& null();
  Json& values(const std::vector<double>& vs);  // an array of numbers
  // key(name).value(v) in one call.
  template <class T>
  Json& field(const std::string& name, const T& v) {
    key(name);
    return value(v);
  }
  // The document so far, ending with a newline once the outermost value is closed.
  std::string str() const;
  // Writes the finished document to path atomically.
  void save(const std::string& path) const;

 private:
  void before_value();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

std::string json_escape(const std::string& s);

}  // namespace resdyn::output
