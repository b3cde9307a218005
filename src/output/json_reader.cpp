#include "output/json_reader.h"

#include <charconv>
#include <cstdint>

#include "resdyn.h"

namespace resdyn::output {

namespace {

const char* kind_name(JsonValue::Kind kind) {
  switch (kind) {
    case JsonValue::Kind::null: return "null";
    case JsonValue::Kind::boolean: return "true or false";
    case JsonValue::Kind::number: return "a number";
    case JsonValue::Kind::string: return "a string";
    case JsonValue::Kind::array: return "an array";
    case JsonValue::Kind::object: return "an object";
  }
  return "?";
}

// Deeper nesting than any summary has is refused rather than risking the stack.
constexpr int kMaxNesting = 200;

}  // namespace

class JsonParser {
 public:
  JsonParser(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  JsonValue document() {
    skip_space();
    JsonValue root = value(0);
    skip_space();
    if (pos_ != text_.size()) fail("text after the end of the document");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(here() + ": " + what); }

  // Line and column of pos_, counted on from the last call (values are visited in order,
  // so the whole document is scanned once; an error that steps back rescans).
  std::string here() const {
    if (pos_ < scanned_) scanned_ = 0, line_ = 1, column_ = 1;
    for (; scanned_ < pos_ && scanned_ < text_.size(); ++scanned_) {
      if (text_[scanned_] == '\n') {
        ++line_;
        column_ = 1;
      } else if ((static_cast<unsigned char>(text_[scanned_]) & 0xC0) != 0x80) {  // characters, not UTF-8 bytes
        ++column_;
      }
    }
    return source_ + ":" + std::to_string(line_) + ":" + std::to_string(column_);
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }

  void expect_word(const char* word) {
    const std::size_t start = pos_;
    for (const char* w = word; *w; ++w, ++pos_) {
      if (peek() != *w) {
        pos_ = start;
        fail(std::string("expected '") + word + "'");
      }
    }
  }

  JsonValue value(int depth) {
    if (depth > kMaxNesting) fail("nested deeper than " + std::to_string(kMaxNesting) + " levels");
    JsonValue v;
    v.where_ = here();
    switch (peek()) {
      case '{': object(v, depth); break;
      case '[': array(v, depth); break;
      case '"':
        v.kind_ = JsonValue::Kind::string;
        v.string_ = string();
        break;
      case 't':
        expect_word("true");
        v.kind_ = JsonValue::Kind::boolean;
        v.boolean_ = true;
        break;
      case 'f':
        expect_word("false");
        v.kind_ = JsonValue::Kind::boolean;
        break;
      case 'n': expect_word("null"); break;
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) {
          v.kind_ = JsonValue::Kind::number;
          v.number_ = number();
        } else {
          fail(at_end() ? "unexpected end of the document" : std::string("unexpected character '") + peek() + "'");
        }
    }
    return v;
  }

  void object(JsonValue& v, int depth) {
    v.kind_ = JsonValue::Kind::object;
    ++pos_;
    skip_space();
    if (peek() == '}') return void(++pos_);
    for (;;) {
      skip_space();
      if (peek() != '"') fail("expected a key in quotes");
      const std::size_t key_pos = pos_;
      std::string key = string();
      for (const auto& member : v.members_) {
        if (member.first == key) {
          pos_ = key_pos;
          fail("key '" + key + "' appears twice in one object");
        }
      }
      skip_space();
      if (peek() != ':') fail("expected ':' after the key");
      ++pos_;
      skip_space();
      v.members_.emplace_back(std::move(key), value(depth + 1));
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() == '}') {
        return void(++pos_);
      } else {
        fail("expected ',' or '}' in an object");
      }
    }
  }

  void array(JsonValue& v, int depth) {
    v.kind_ = JsonValue::Kind::array;
    ++pos_;
    skip_space();
    if (peek() == ']') return void(++pos_);
    for (;;) {
      skip_space();
      v.items_.push_back(value(depth + 1));
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() == ']') {
        return void(++pos_);
      } else {
        fail("expected ',' or ']' in an array");
      }
    }
  }

  // RFC 8259 number: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  double number() {
    const std::size_t start = pos_;
    const auto digits = [&] {
      const std::size_t from = pos_;
      while (peek() >= '0' && peek() <= '9') ++pos_;
      return pos_ - from;
    };
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
    } else if (digits() == 0) {
      fail("a number needs digits after '-'");
    }
    if (peek() == '.') {
      ++pos_;
      if (digits() == 0) fail("a number needs digits after '.'");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (digits() == 0) fail("a number needs digits in its exponent");
    }
    if (peek() >= '0' && peek() <= '9') fail("a number may not start with 0 followed by digits");
    double result = 0;
    const auto [stop, error] = std::from_chars(text_.data() + start, text_.data() + pos_, result);
    if (error != std::errc() || stop != text_.data() + pos_) {
      pos_ = start;
      fail("number out of range");
    }
    return result;
  }

  unsigned hex4() {
    unsigned code = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      const char c = peek();
      code <<= 4;
      if (c >= '0' && c <= '9')
        code |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f')
        code |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        code |= unsigned(c - 'A' + 10);
      else
        fail("\\u needs four hexadecimal digits");
    }
    return code;
  }

  static void append_utf8(std::string& out, uint32_t code) {
    if (code < 0x80) {
      out += char(code);
    } else if (code < 0x800) {
      out += char(0xC0 | (code >> 6));
      out += char(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += char(0xE0 | (code >> 12));
      out += char(0x80 | ((code >> 6) & 0x3F));
      out += char(0x80 | (code & 0x3F));
    } else {
      out += char(0xF0 | (code >> 18));
      out += char(0x80 | ((code >> 12) & 0x3F));
      out += char(0x80 | ((code >> 6) & 0x3F));
      out += char(0x80 | (code & 0x3F));
    }
  }

  std::string string() {
    ++pos_;  // the opening quote
    std::string out;
    for (;;) {
      if (at_end()) fail("string never closed");
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) fail("control character inside a string (escape it)");
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      ++pos_;
      const char e = peek();
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t code = hex4();
          if (code >= 0xDC00 && code <= 0xDFFF) fail("\\u escape is a lone low surrogate");
          if (code >= 0xD800 && code <= 0xDBFF) {  // a UTF-16 pair spells one code point
            if (peek() != '\\' || pos_ + 1 >= text_.size() || text_[pos_ + 1] != 'u')
              fail("\\u escape is a high surrogate without its low half");
            pos_ += 2;
            const uint32_t low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("\\u escape is a high surrogate without its low half");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, code);
          break;
        }
        default: --pos_; fail("unknown escape in a string");
      }
    }
  }

  const std::string& text_;
  const std::string& source_;
  std::size_t pos_ = 0;
  mutable std::size_t scanned_ = 0;
  mutable int line_ = 1, column_ = 1;
};

bool JsonValue::boolean() const {
  if (kind_ != Kind::boolean) throw Error(where_ + ": expected true or false, found " + kind_name(kind_));
  return boolean_;
}

double JsonValue::number() const {
  if (kind_ != Kind::number) throw Error(where_ + ": expected a number, found " + kind_name(kind_));
  return number_;
}

const std::string& JsonValue::string() const {
  if (kind_ != Kind::string) throw Error(where_ + ": expected a string, found " + kind_name(kind_));
  return string_;
}

const std::vector<JsonValue>& JsonValue::items() const {
  if (kind_ != Kind::array) throw Error(where_ + ": expected an array, found " + kind_name(kind_));
  return items_;
}

const std::vector<std::pair<std::string, JsonValue>>& JsonValue::members() const {
  if (kind_ != Kind::object) throw Error(where_ + ": expected an object, found " + kind_name(kind_));
  return members_;
}

const JsonValue* JsonValue::find(const std::string& key) const {
  for (const auto& member : members_)
    if (member.first == key) return &member.second;
  return nullptr;
}

const JsonValue& JsonValue::at(const std::string& key) const {
  members();  // throws if this is not an object
  const JsonValue* v = find(key);
  if (!v) throw Error(where_ + ": the object has no key '" + key + "'");
  return *v;
}

JsonValue parse_json(const std::string& text, const std::string& source) { return JsonParser(text, source).document(); }

JsonValue read_json(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  return parse_json(std::string(bytes.begin(), bytes.end()), path);
}

}  // namespace resdyn::output
