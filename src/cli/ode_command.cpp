// resdyn ode: the small-N fixed points of the residual ODE (paper eq. 3) for a random or given
// weight matrix, and where RK4 trajectories from random starts come to rest.
#include <cstdio>

#include "cli/commands.h"
#include "experiments/ode_experiment.h"

namespace resdyn::cli {

namespace {

// The flags write straight into the experiment's options, whose members carry the defaults.
FlagTable<OdeExperimentOptions> ode_flags() {
  using O = OdeExperimentOptions;
  FlagTable<O> t("ode",
                 "Enumerate the fixed points of dy/dt = y(1-y)(Wy) for N <= 12, classify them, integrate from random "
                 "starts. Runs no net: all in double (no --precision).");
  t.whole("width", "N", &O::width, 1, 12, "neurons (1..12) of a random W with entries N(0, 1/N)");
  t.text("weights", "CSV", &O::weights_csv, "read W from a CSV file (N rows of N numbers) instead");
  t.whole("seed", "S", &O::seed, 0, 1LL << 62, "seed of W and of the starts");
  t.whole("starts", "R", &O::starts, 1, 1000000, "random starts in (0,1)^N");
  t.whole("max-steps", "K", &O::max_steps, 1, 1LL << 40, "RK4 step budget per start");
  t.text("out", "OUTDIR", &O::out_dir, "directory for the CSV and JSON files (required)", {}, Need::required);
  return t;
}

}  // namespace

CommandSpec ode_spec() { return ode_flags().spec(); }

int run_ode(const Flags& flags) {
  const OdeExperimentResult r = run_ode_experiment(ode_flags().parse(flags));
  std::printf("W: %s (N = %d)\n", r.weights_source.c_str(), r.width);
  std::printf("fixed points in [0,1]^N: %d stable, %d unstable, %d saddle, %d non-hyperbolic\n", r.stable, r.unstable,
              r.saddle, r.non_hyperbolic);
  std::printf(
      "%zu starts: %d reached a stable point, %d linger near a non-stable one, %d at rest elsewhere, "
      "%d did not converge\n",
      r.trajectories.size(), r.reached_stable, r.lingering_near_non_stable, r.at_rest_elsewhere, r.not_converged);
  for (const auto& f : r.files) std::printf("wrote %s\n", f.c_str());
  return 0;
}

}  // namespace resdyn::cli
