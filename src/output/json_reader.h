// Reading back the JSON documents that output/json.h writes (summary.json and the like):
// objects, arrays, numbers, strings, true, false and null, by the grammar of RFC 8259.
// Faults are resdyn::Error with "SOURCE:LINE:COLUMN: what"; every value remembers where
// it started, so a value of the wrong kind is reported at its place in the file too.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace resdyn::output {

class JsonValue {
 public:
  enum class Kind { null, boolean, number, string, array, object };

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::null; }
  bool is_number() const { return kind_ == Kind::number; }
  // "SOURCE:LINE:COLUMN", where the value starts.
  const std::string& where() const { return where_; }

  // Each throws "SOURCE:LINE:COLUMN: expected a number, found a string" (and so on)
  // when the value is of another kind.
  bool boolean() const;
  double number() const;
  const std::string& string() const;
  const std::vector<JsonValue>& items() const;                            // an array
  const std::vector<std::pair<std::string, JsonValue>>& members() const;  // an object, in file order

  // The member named `key` of an object, or nullptr if there is none (or this is not an object).
  const JsonValue* find(const std::string& key) const;
  // The same, but a missing key throws naming the place of the object.
  const JsonValue& at(const std::string& key) const;

 private:
  friend class JsonParser;
  Kind kind_ = Kind::null;
  bool boolean_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<std::pair<std::string, JsonValue>> members_;
  std::string where_;
};

// Parses a whole document (one value, surrounded by optional white space); `source`
// names it in error messages.
JsonValue parse_json(const std::string& text, const std::string& source);
// Reads and parses the file at `path`.
JsonValue read_json(const std::string& path);

}  // namespace resdyn::output
