// Command-line flags: each subcommand declares its flags once; the same table parses the
// arguments, rejects what it does not know, and prints --help.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace resdyn::cli {

struct Flag {
  std::string name;          // without the leading dashes
  std::string value;         // what the value looks like ("N", "DIR"); empty for on/off switches
  std::string default_text;  // shown in --help; empty: no default (required or off)
  std::string help;
};

struct CommandSpec {
  std::string name;
  std::string summary;
  std::vector<Flag> flags;
};

// The parsed arguments of one subcommand. Getters check types and ranges and throw
// resdyn::Error with a one-line message naming the flag.
class Flags {
 public:
  // Parses argv[first..argc) against spec. Accepts --name VALUE, --name=VALUE, --switch and
  // --no-switch. Sets help_requested() for -h/--help instead of failing on other flags.
  Flags(const CommandSpec& spec, int argc, char** argv, int first);

  bool help_requested() const { return help_; }
  bool has(const std::string& name) const;
  std::string text(const std::string& name, const std::string& fallback) const;
  std::string required_text(const std::string& name) const;
  long long integer(const std::string& name, long long fallback, long long lo, long long hi) const;
  double real(const std::string& name, double fallback, double lo, double hi) const;
  bool on(const std::string& name, bool fallback) const;
  // One of the given words (e.g. --arch resnet|mlp).
  std::string choice(const std::string& name, const std::string& fallback, const std::vector<std::string>& words) const;
  // The command line as given, for the record kept in model files.
  const std::string& command_line() const { return command_line_; }
  // The arguments after the subcommand's name, as given.
  const std::vector<std::string>& args() const { return args_; }

 private:
  const Flag& find(const std::string& name) const;
  const CommandSpec& spec_;
  std::map<std::string, std::string> values_;
  std::string command_line_;
  std::vector<std::string> args_;
  bool help_ = false;
};

// The --help text of a subcommand.
std::string help_text(const CommandSpec& spec);

// How --help shows a bound flag's default beside the member's own value.
struct DefaultText {
  std::string derived;  // shown instead of the value: a default that depends on other flags or the machine
  std::string note;     // shown after the value in parentheses: what the value means ("off")
};

// The shortest of "%g" and a trimmed exponent form ("2e-3", "0.9"), as --help shows a real default.
std::string number_text(double value);

// What a text flag's value must be: anything (the default when not given), given and not
// empty, or not empty when given.
enum class Need { any, required, not_empty };

// One subcommand's flags, each bound to a member of its options struct Options: the member's
// initial value is the default, --help prints it, and parse() writes the given values over it,
// checking types and ranges with the getters of Flags. A std::optional member stays unset when
// the flag is not given, for a default derived from other flags (its DefaultText says which).
template <class Options>
class FlagTable {
 public:
  FlagTable(std::string name, std::string summary) : spec_{std::move(name), std::move(summary), {}} {}

  const CommandSpec& spec() const { return spec_; }

  // Options with every given flag written over its default, in the table's order.
  Options parse(const Flags& flags) const {
    Options options;
    for (const auto& read : readers_) read(flags, options);
    return options;
  }

  // A whole number in [lo, hi] (T an integer type or a std::optional of one).
  template <class T>
  FlagTable& whole(const char* name, const char* hint, T Options::*member, long long lo, long long hi, const char* help,
                   const DefaultText& shown = {}) {
    add(name, hint, help, shown, default_of(member, [](auto v) { return std::to_string(v); }),
        [=](const Flags& f, Options& o) {
          if (f.has(name)) o.*member = static_cast<value_t<T>>(f.integer(name, 0, lo, hi));
        });
    return *this;
  }

  // A real number in [lo, hi] (T double or std::optional<double>).
  template <class T>
  FlagTable& real(const char* name, const char* hint, T Options::*member, double lo, double hi, const char* help,
                  const DefaultText& shown = {}) {
    add(name, hint, help, shown, default_of(member, [](double v) { return number_text(v); }),
        [=](const Flags& f, Options& o) {
          if (f.has(name)) o.*member = f.real(name, 0, lo, hi);
        });
    return *this;
  }

  // Any text (Need says whether it may be missing or empty).
  template <class T>
  FlagTable& text(const char* name, const char* hint, T Options::*member, const char* help,
                  const DefaultText& shown = {}, Need need = Need::any) {
    add(name, hint, help, shown, default_of(member, [](const std::string& v) { return v; }),
        [=](const Flags& f, Options& o) {
          if (need == Need::required || (need == Need::not_empty && f.has(name)))
            o.*member = f.required_text(name);
          else if (f.has(name))
            o.*member = f.text(name, "");
        });
    return *this;
  }

  // One of `words` (the value hint lists them).
  template <class T>
  FlagTable& choice(const char* name, T Options::*member, std::vector<std::string> words, const char* help,
                    const DefaultText& shown = {}, Need need = Need::any) {
    std::string hint;
    for (const std::string& w : words) hint += (hint.empty() ? "" : "|") + w;
    add(name, hint, help, shown, default_of(member, [](const std::string& v) { return v; }),
        [=](const Flags& f, Options& o) {
          if (need != Need::any && (need == Need::required || f.has(name))) f.required_text(name);
          if (f.has(name)) o.*member = f.choice(name, "", words);
        });
    return *this;
  }

  // An on/off switch (--name, --no-name).
  template <class T>
  FlagTable& on_off(const char* name, T Options::*member, const char* help, const DefaultText& shown = {}) {
    add(name, "", help, shown, default_of(member, [](bool v) { return std::string(v ? "on" : "off"); }),
        [=](const Flags& f, Options& o) {
          if (f.has(name)) o.*member = f.on(name, false);
        });
    return *this;
  }

 private:
  template <class T>
  struct Value {
    using type = T;
  };
  template <class T>
  struct Value<std::optional<T>> {
    using type = T;
  };
  template <class T>
  using value_t = typename Value<T>::type;

  // The default as --help prints it: the member's initial value, or "" for an unset optional.
  template <class T, class Format>
  static std::string default_of(T Options::*member, Format format) {
    const Options defaults;
    if constexpr (std::is_same<T, value_t<T>>::value)
      return format(defaults.*member);
    else
      return (defaults.*member) ? format(*(defaults.*member)) : std::string();
  }

  void add(const char* name, std::string hint, const char* help, const DefaultText& shown, const std::string& value,
           std::function<void(const Flags&, Options&)> read) {
    std::string text = shown.derived.empty() ? value : shown.derived;
    if (!shown.note.empty()) text += " (" + shown.note + ")";
    spec_.flags.push_back({name, std::move(hint), text, help});
    readers_.push_back(std::move(read));
  }

  CommandSpec spec_;
  std::vector<std::function<void(const Flags&, Options&)>> readers_;
};

// Text as it goes into an error message: control characters (a newline in an argument or a
// file name, say) are written as escapes, so the message stays one line.
std::string printable(const std::string& text);

}  // namespace resdyn::cli
