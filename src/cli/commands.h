// The subcommands of the resdyn program: each declares its flags and runs from them.
#pragma once

#include "cli/flags.h"

namespace resdyn::cli {

struct Command {
  CommandSpec (*spec)();
  int (*run)(const Flags& flags);
};

CommandSpec train_spec();
int run_train(const Flags& flags);

CommandSpec eval_spec();
int run_eval(const Flags& flags);

CommandSpec quantize_spec();
int run_quantize(const Flags& flags);

CommandSpec export_spec();
int run_export(const Flags& flags);

CommandSpec noise_spec();
int run_noise(const Flags& flags);

CommandSpec ode_spec();
int run_ode(const Flags& flags);

CommandSpec spectrum_spec();
int run_spectrum(const Flags& flags);

CommandSpec sensitivity_spec();
int run_sensitivity(const Flags& flags);

CommandSpec report_spec();
int run_report(const Flags& flags);

CommandSpec dynamics_spec();
int run_dynamics(const Flags& flags);

CommandSpec embed_spec();
int run_embed(const Flags& flags);

}  // namespace resdyn::cli
