// Command-line flags: each subcommand declares its flags once; the same table parses the
// arguments, rejects what it does not know, and prints --help.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace resdyn::cli {

struct Flag {
  std::string name;         // without the leading dashes
  std::string value;        // what the value looks like ("N", "DIR"); empty for on/off switches
  std::string default_text; // shown in --help; empty: no default (required or off)
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
  long integer(const std::string& name, long fallback, long lo, long hi) const;
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

// Text as it goes into an error message: control characters (a newline in an argument or a
// file name, say) are written as escapes, so the message stays one line.
std::string printable(const std::string& text);

}  // namespace resdyn::cli
