// resdyn ode: the small-N fixed points of the residual ODE (paper eq. 3) for a random or given
// weight matrix, and where RK4 trajectories from random starts come to rest.
#include <cstdio>

#include "cli/commands.h"
#include "experiments/ode_experiment.h"

namespace resdyn::cli {

CommandSpec ode_spec() {
  return {"ode",
          "Enumerate the fixed points of dy/dt = y(1-y)(Wy) for N <= 12, classify them, integrate from random starts.",
          {
              {"width", "N", "8", "neurons (1..12) of a random W with entries N(0, 1/N)"},
              {"weights", "CSV", "", "read W from a CSV file (N rows of N numbers) instead"},
              {"seed", "S", "1", "seed of W and of the starts"},
              {"starts", "R", "100", "random starts in (0,1)^N"},
              {"max-steps", "K", "200000", "RK4 step budget per start"},
              {"out", "OUTDIR", "", "directory for the CSV and JSON files (required)"},
          }};
}

int run_ode(const Flags& flags) {
  OdeExperimentOptions opt;
  opt.width = int(flags.integer("width", 8, 1, 12));
  opt.weights_csv = flags.text("weights", "");
  opt.seed = uint64_t(flags.integer("seed", 1, 0, 1L << 62));
  opt.starts = int(flags.integer("starts", 100, 1, 1000000));
  opt.max_steps = flags.integer("max-steps", 200000, 1, 1L << 40);
  opt.out_dir = flags.required_text("out");
  const OdeExperimentResult r = run_ode_experiment(opt);
  std::printf("W: %s (N = %d)\n", r.weights_source.c_str(), r.width);
  std::printf("fixed points in [0,1]^N: %d stable, %d unstable, %d saddle, %d non-hyperbolic\n", r.stable,
              r.unstable, r.saddle, r.non_hyperbolic);
  std::printf("%zu starts: %d reached a stable point, %d linger near a non-stable one, %d at rest elsewhere, "
              "%d did not converge\n",
              r.trajectories.size(), r.reached_stable, r.lingering_near_non_stable, r.at_rest_elsewhere,
              r.not_converged);
  for (const auto& f : r.files) std::printf("wrote %s\n", f.c_str());
  return 0;
}

}  // namespace resdyn::cli
