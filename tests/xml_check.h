// A strict XML well-formedness checker, just enough for the SVG and the (XHTML-compatible)
// HTML that resdyn writes, shared by the tests that check those files. It parses one root
// element with attributes, text, comments, entity and character references, after an
// optional XML declaration and document type declaration, and throws
// std::runtime_error naming the offset of the first fault.
#pragma once

#include <cctype>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace xml_check {

struct Element {
  std::string name;
  std::map<std::string, std::string> attributes;  // values with entities decoded
  std::string text;                               // character data directly inside, decoded
  std::vector<std::unique_ptr<Element>> children;

  std::string attribute(const std::string& key) const {
    const auto it = attributes.find(key);
    return it == attributes.end() ? "" : it->second;
  }
};

class XmlParser {
 public:
  explicit XmlParser(const std::string& input) : in_(input) {}

  // The root element; throws std::runtime_error naming the offset of the first fault.
  std::unique_ptr<Element> parse() {
    if (in_.compare(0, 5, "<?xml") == 0) {
      const auto end = in_.find("?>");
      if (end == std::string::npos) fail("unterminated XML declaration");
      pos_ = end + 2;
    }
    skip_misc();
    if (starts("<!DOCTYPE")) {  // e.g. <!DOCTYPE html>; an internal subset is not needed
      const auto end = in_.find('>', pos_);
      if (end == std::string::npos || in_.find('[', pos_) < end) fail("unsupported document type declaration");
      pos_ = end + 1;
      skip_misc();
    }
    if (!at('<')) fail("no root element");
    auto root = parse_element();
    skip_misc();
    if (pos_ != in_.size()) fail("content after the root element");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("XML error at offset " + std::to_string(pos_) + ": " + what);
  }
  bool at(char c) const { return pos_ < in_.size() && in_[pos_] == c; }
  bool starts(const char* s) const { return in_.compare(pos_, std::char_traits<char>::length(s), s) == 0; }
  void skip_space() {
    while (pos_ < in_.size() && std::string(" \t\r\n").find(in_[pos_]) != std::string::npos) ++pos_;
  }
  void skip_misc() {
    for (skip_space(); starts("<!--"); skip_space()) skip_comment();
  }
  void skip_comment() {
    const auto end = in_.find("-->", pos_ + 4);
    if (end == std::string::npos) fail("unterminated comment");
    pos_ = end + 3;
  }

  std::string parse_name() {
    const auto name_char = [](char c, bool first) {
      return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
             (!first && (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.'));
    };
    const std::size_t start = pos_;
    while (pos_ < in_.size() && name_char(in_[pos_], pos_ == start)) ++pos_;
    if (pos_ == start) fail("expected a name");
    return in_.substr(start, pos_ - start);
  }

  // Decodes one entity or character reference starting at '&'.
  std::string parse_reference() {
    const auto end = in_.find(';', pos_);
    if (end == std::string::npos || end - pos_ > 10) fail("unterminated entity");
    const std::string body = in_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    static const std::map<std::string, std::string> named = {
        {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
    if (named.count(body)) return named.at(body);
    const bool hex = body.size() > 2 && body[0] == '#' && body[1] == 'x';
    const bool dec = body.size() > 1 && body[0] == '#' && !hex;
    if (!hex && !dec) fail("unknown entity &" + body + ";");
    const std::string digits = body.substr(hex ? 2 : 1);
    if (digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") != std::string::npos)
      fail("bad character reference");
    return "?";  // the checker needs validity, not the code point
  }

  std::string parse_attribute_value() {
    if (!at('"') && !at('\'')) fail("attribute value not quoted");
    const char quote = in_[pos_++];
    std::string value;
    while (!at(quote)) {
      if (pos_ >= in_.size()) fail("unterminated attribute value");
      if (at('<')) fail("'<' inside an attribute value");
      if (at('&')) {
        value += parse_reference();
      } else {
        value += in_[pos_++];
      }
    }
    ++pos_;
    return value;
  }

  std::unique_ptr<Element> parse_element() {
    ++pos_;  // '<'
    auto element = std::make_unique<Element>();
    element->name = parse_name();
    while (true) {
      const std::size_t before = pos_;
      skip_space();
      if (starts("/>")) {
        pos_ += 2;
        return element;
      }
      if (at('>')) {
        ++pos_;
        break;
      }
      if (pos_ == before) fail("missing space between attributes");
      const std::string key = parse_name();
      skip_space();
      if (!at('=')) fail("attribute " + key + " without '='");
      ++pos_;
      skip_space();
      if (!element->attributes.emplace(key, parse_attribute_value()).second) fail("duplicate attribute " + key);
    }
    while (true) {
      if (pos_ >= in_.size()) fail("element <" + element->name + "> never closed");
      if (starts("<!--")) {
        skip_comment();
      } else if (starts("</")) {
        pos_ += 2;
        const std::string closing = parse_name();
        if (closing != element->name) fail("</" + closing + "> closes <" + element->name + ">");
        skip_space();
        if (!at('>')) fail("malformed end tag");
        ++pos_;
        return element;
      } else if (at('<')) {
        element->children.push_back(parse_element());
      } else if (at('&')) {
        element->text += parse_reference();
      } else {
        if (at('>') && in_.compare(pos_ - 2, 3, "]]>") == 0) fail("']]>' in text");
        element->text += in_[pos_++];
      }
    }
  }

  const std::string& in_;
  std::size_t pos_ = 0;
};

// Every element in the tree, depth first, root included.
inline void collect(const Element& e, std::vector<const Element*>& out) {
  out.push_back(&e);
  for (const auto& child : e.children) collect(*child, out);
}

inline std::vector<const Element*> find_all(const Element& root, const std::string& name,
                                            const std::string& css_class = "") {
  std::vector<const Element*> all, found;
  collect(root, all);
  for (const Element* e : all) {
    if (e->name == name && (css_class.empty() || e->attribute("class") == css_class)) found.push_back(e);
  }
  return found;
}

}  // namespace xml_check
