// libFuzzer target for the command-line flag parser (src/cli/flags.h) with the flags of
// `resdyn train`. The input is the argument list laid out as in /proc/PID/cmdline: each
// argument ends with a NUL byte (any other byte, a newline included, can be in an argument).
// Parsing, and then every getter on every declared flag, must either succeed or throw
// resdyn::Error with a one-line message; values that come back must respect the range or
// word list they were asked for.
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "resdyn.h"

namespace {

using resdyn::cli::Flags;

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_flags: %s\n", what);
  std::abort();
}

// An accepted answer to bad input: an Error whose message is one line (the CLI prints it
// after "resdyn: error: ").
void check_message(const resdyn::Error& e) {
  const std::string message = e.what();
  require(message.find_first_of("\n\r") == std::string::npos, "error message is not one line");
}

// Runs one getter.
template <class Get>
void attempt(Get get) {
  try {
    get();
  } catch (const resdyn::Error& e) {
    check_message(e);
  }
}

void exercise_getters(const resdyn::cli::CommandSpec& spec, const Flags& flags) {
  for (const resdyn::cli::Flag& flag : spec.flags) {
    const std::string& name = flag.name;
    attempt([&] { flags.has(name); });
    attempt([&] { flags.text(name, "fallback"); });
    attempt([&] { flags.required_text(name); });
    attempt([&] { flags.on(name, false); });
    attempt([&] {
      const long v = flags.integer(name, 0, -1000, 1000);
      require(v >= -1000 && v <= 1000, "integer() returned a value out of its range");
    });
    attempt([&] { flags.integer(name, 0, LONG_MIN, LONG_MAX); });
    attempt([&] {
      const double v = flags.real(name, 0.5, 0, 1);
      require(std::isfinite(v) && v >= 0 && v <= 1, "real() returned a value out of its range");
    });
    attempt([&] {
      const std::string v = flags.choice(name, "resnet", {"resnet", "mlp"});
      require(v == "resnet" || v == "mlp", "choice() returned a word not in its list");
    });
  }
  attempt([&] {  // --threads bound as every command binds it
    resdyn::cli::FlagTable<resdyn::cli::CommonOptions> common("train", "");
    resdyn::cli::add_threads_flag(common);
    const int threads = resdyn::cli::thread_count(common.parse(flags));
    require(threads >= 1 && threads <= RESDYN_MAX_THREADS, "thread_count() out of range");
  });
  attempt([&] { flags.has("not-a-declared-flag"); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args = {"resdyn", "train"};
  std::string current;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\0') {
      args.push_back(current);
      current.clear();
    } else {
      current += char(data[i]);
    }
  }
  if (!current.empty()) args.push_back(current);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  static const resdyn::cli::CommandSpec spec = resdyn::cli::train_spec();
  try {
    const Flags flags(spec, int(args.size()), argv.data(), 2);
    require(flags.command_line().rfind("resdyn train", 0) == 0, "command line lost its start");
    exercise_getters(spec, flags);
  } catch (const resdyn::Error& e) {
    check_message(e);
  }
  resdyn::cli::help_text(spec);
  return 0;
}
