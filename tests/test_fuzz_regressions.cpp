// Inputs the fuzz targets of tests/fuzz/ found to break a rule, kept as tests so the fix
// stays. Each case replays the input the way its fuzz target does and checks the rule the
// target checks; the target and the rule are named above each test.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/commands.h"
#include "resdyn.h"

namespace {

using resdyn::cli::Flags;

// The flags fuzz target's reading of its input: arguments each ended by a NUL byte, after
// "resdyn train" (tests/fuzz/fuzz_flags.cpp).
std::vector<std::string> arguments_of(const std::vector<uint8_t>& bytes) {
  std::vector<std::string> args = {"resdyn", "train"};
  std::string current;
  for (uint8_t b : bytes) {
    if (b == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current += char(b);
    }
  }
  if (!current.empty()) args.push_back(current);
  return args;
}

// Parses `args` (argv[0] and the command name first) with train's flags, then asks for
// every value the way `resdyn train` does; returns the error message, or "" if none.
std::string train_flags_error(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const resdyn::cli::CommandSpec spec = resdyn::cli::train_spec();
  try {
    const Flags flags(spec, int(args.size()), argv.data(), 2);
    flags.choice("arch", "resnet", {"resnet", "mlp"});
    flags.integer("width", 512, 1, resdyn::kMaxWidth);
    flags.real("lr", 2e-3, 0, 1e3);
    return "";
  } catch (const resdyn::Error& e) {
    return e.what();
  }
}

bool one_line(const std::string& message) { return message.find_first_of("\n\r") == std::string::npos; }

// fuzz_flags: an error message must be one line. Found: an argument holding newlines was
// copied into the message as it was ("unexpected argument '-...\n\n\n...'").
TEST(FuzzRegressions, FlagsArgumentWithNewlinesGivesAOneLineError) {
  const std::vector<uint8_t> input = {
      0x2d, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0x6b, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb,
      0xeb, 0xeb, 0xeb, 0xeb, 0x0a, 0x0a, 0x0a, 0xeb, 0xeb, 0xfe, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb,
      0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0x13, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0xeb, 0x2d,
      0x77, 0x69, 0x64, 0x74, 0x68, 0x00, 0x2d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x17, 0x00};
  const std::string message = train_flags_error(arguments_of(input));
  ASSERT_NE(message, "");
  EXPECT_TRUE(one_line(message)) << message;
  EXPECT_NE(message.find("unexpected argument"), std::string::npos) << message;
  EXPECT_NE(message.find("\\n\\n\\n"), std::string::npos) << message;
  EXPECT_NE(message.find("\\x13"), std::string::npos) << message;
}

// The same rule on every message that quotes the command line back: each shows the control
// characters as escapes.
TEST(FuzzRegressions, FlagsEveryQuotedValueIsEscaped) {
  struct Case {
    std::vector<std::string> args;
    std::string shown;  // how the bad text must appear in the message
  };
  const std::vector<Case> cases = {
      {{"x\ny"}, "'x\\ny'"},                        // unexpected argument
      {{"--wid\nth", "3"}, "--wid\\nth"},           // unknown flag
      {{"--width", "1\r2"}, "'1\\r2'"},             // not a whole number
      {{"--width", "\n99999"}, "got '\\n99999'"},   // leading white space is refused
      {{"--lr", "0.1\t"}, "'0.1\\t'"},              // not a number
      {{"--lr", "\n5000"}, "got '\\n5000'"},        // the same for a real number
      {{"--arch", "res\x01net"}, "'res\\x01net'"},  // not one of the words
      {{"--arch", "mlp\x7f"}, "'mlp\\x7f'"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"resdyn", "train"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const std::string message = train_flags_error(args);
    EXPECT_TRUE(one_line(message)) << message;
    EXPECT_NE(message.find(c.shown), std::string::npos) << "'" << message << "' does not show " << c.shown;
  }
}

// The command line kept in a model file's metadata is one "command:" line too, so an
// argument cannot add lines of its own to the record.
TEST(FuzzRegressions, FlagsCommandLineRecordIsOneLine) {
  std::vector<std::string> args = {"resdyn", "train", "--out", "a.resdyn\ntest_error: 0"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  const resdyn::cli::CommandSpec spec = resdyn::cli::train_spec();
  const Flags flags(spec, int(args.size()), argv.data(), 2);
  EXPECT_EQ(flags.command_line(), "resdyn train --out a.resdyn\\ntest_error: 0");
}

}  // namespace
