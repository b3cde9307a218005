// resdyn: the command-line program. Dispatches to a subcommand; every error the program
// can foresee ends here as one line on stderr and exit status 2.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "cli/commands.h"
#include "resdyn.h"

namespace {

const resdyn::cli::Command kCommands[] = {
    {resdyn::cli::train_spec, resdyn::cli::run_train},
    {resdyn::cli::eval_spec, resdyn::cli::run_eval},
    {resdyn::cli::quantize_spec, resdyn::cli::run_quantize},
    {resdyn::cli::export_spec, resdyn::cli::run_export},
    {resdyn::cli::dynamics_spec, resdyn::cli::run_dynamics},
    {resdyn::cli::embed_spec, resdyn::cli::run_embed},
    {resdyn::cli::noise_spec, resdyn::cli::run_noise},
    {resdyn::cli::ode_spec, resdyn::cli::run_ode},
    {resdyn::cli::spectrum_spec, resdyn::cli::run_spectrum},
    {resdyn::cli::sensitivity_spec, resdyn::cli::run_sensitivity},
    {resdyn::cli::report_spec, resdyn::cli::run_report},
};

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: resdyn COMMAND [flags]\n\n"
               "Dense sigmoid ResNets and MLPs on MNIST-format data, and the analyses of\n"
               "\"Residual networks classify inputs based on their neural transient dynamics\".\n\n"
               "commands:\n");
  for (const auto& c : kCommands) {
    const auto spec = c.spec();
    std::fprintf(out, "  %-12s %s\n", spec.name.c_str(), spec.summary.c_str());
  }
  std::fprintf(out, "\n'resdyn COMMAND --help' lists a command's flags.\n");
}

}  // namespace

// Output that could not be written (a full device, a closed pipe) is an error too, not exit 0.
int checked_stdout(int status) {
  errno = 0;
  if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return status;
  std::fprintf(stderr, "resdyn: error: standard output: write failed%s%s\n", errno ? ": " : "",
               errno ? std::strerror(errno) : "");
  return 2;
}

int main(int argc, char** argv) {
#ifdef SIGXFSZ
  std::signal(SIGXFSZ, SIG_IGN);  // a file-size limit makes a write fail with EFBIG, reported like any error
#endif
  if (argc < 2) {
    std::fprintf(stderr, "resdyn: usage: resdyn COMMAND [flags] (see 'resdyn --help')\n");
    return 2;
  }
  const std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    print_usage(stdout);
    return checked_stdout(0);
  }
  try {
    for (const auto& c : kCommands) {
      const auto spec = c.spec();
      if (spec.name != name) continue;
      const resdyn::cli::Flags flags(spec, argc, argv, 2);
      if (flags.help_requested()) {
        std::fputs(resdyn::cli::help_text(spec).c_str(), stdout);
        return checked_stdout(0);
      }
      return checked_stdout(c.run(flags));
    }
    std::fprintf(stderr, "resdyn: unknown command '%s' (see 'resdyn --help')\n", resdyn::cli::printable(name).c_str());
    return 2;
  } catch (const resdyn::Error& e) {  // printable: a path with a newline stays on one line
    std::fprintf(stderr, "resdyn: error: %s\n", resdyn::cli::printable(e.what()).c_str());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "resdyn: error: out of memory\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "resdyn: error: %s\n", resdyn::cli::printable(e.what()).c_str());
    return 2;
  }
}
