// resdyn noise: robustness of a saved model to uniform noise on x(0) or on the pixels
// (paper §6, fig. 4; see experiments/noise_experiment.h); writes noise.csv and summary.json
// to --out.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "experiments/output_directory.h"
#include "cli/progress.h"
#include "experiments/noise_experiment.h"

namespace resdyn::cli {

CommandSpec noise_spec() {
  return {"noise",
          "Noise-to-signal ratio, cosine similarity and test error under input noise (paper fig. 4).",
          {
              {"model", "MODEL", "", "model file written by 'resdyn train' (required)"},
              data_flag(),
              {"out", "DIR", "", "directory for noise.csv and summary.json (required; created if missing)"},
              {"amplitudes", "A,B,..", "13 log-spaced from 1e-3 to 1",
               "noise amplitudes a (noise is uniform in (-a, a))"},
              {"noise-at", "initial-state|input", "initial-state", "add the noise to x(0) or to the pixels"},
              {"realizations", "R", "10", "independent noise draws per amplitude"},
              {"seed", "S", "1", "seed of the noise"},
              {"limit-test", "N", "all", "use only the first N test images"},
              {"batch", "B", "250", "images per forward pass (does not change the result)"},
              threads_flag(),
          }};
}

int run_noise(const Flags& flags) {
  NoiseExperimentOptions opt;
  const std::string model_path = flags.required_text("model");
  opt.out_dir = flags.required_text("out");
  opt.model_name = model_path;
  opt.noise.amplitudes = flags.has("amplitudes") ? parse_amplitude_list(flags.required_text("amplitudes"))
                                                 : default_noise_amplitudes();
  opt.noise.site = flags.choice("noise-at", "initial-state", {"initial-state", "input"}) == "input"
                       ? NoiseSite::Input
                       : NoiseSite::InitialState;
  opt.noise.realizations = int(flags.integer("realizations", 10, 1, 1000000));
  opt.noise.seed = uint64_t(flags.integer("seed", 1, 0, 1L << 62));
  opt.noise.batch = int(flags.integer("batch", 250, 1, 1 << 20));
  opt.noise.threads = thread_count(flags);
  check_noise_options(opt.noise);  // fail before loading anything
  check_output_directory(opt.out_dir, "noise");

  const Net<float> net = load_model(model_path);
  const Dataset test = load_split(flags, false, flags.integer("limit-test", 0, 1, 1L << 30));
  check_test_set(test, net.config, flags, model_path, "noise");
  opt.noise.batch = std::min(opt.noise.batch, std::max(1, test.count));  // buffers sized by the data, not the flag
  const Config& cfg = net.config;
  std::printf("noise on %s: %s, %s weights, width %d, depth %d; %d test images x %zu amplitudes x %d "
              "realizations, %d threads\n",
              opt.noise.site == NoiseSite::Input ? "the pixels" : "x(0)", cfg.arch == Arch::ResNet ? "ResNet" : "MLP",
              cfg.weights == Weights::Shared ? "shared" : "per-layer", cfg.width, cfg.depth, test.count,
              opt.noise.amplitudes.size(), opt.noise.realizations, opt.noise.threads);
  std::fflush(stdout);

  const auto start = std::chrono::steady_clock::now();
  int last_tenth = 0;
  opt.noise.on_progress = [&](long done, long total) {
    const int tenth = int(10 * done / total);
    if (tenth == last_tenth || done == total) return;
    last_tenth = tenth;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("  %ld of %ld images  %s  ETA %s\n", done, total, format_duration(elapsed).c_str(),
                format_duration(elapsed / double(done) * double(total - done)).c_str());
    std::fflush(stdout);
  };
  const NoiseExperimentResult result = run_noise_experiment(net, test, opt);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("%10s %12s %12s %12s\n", "amplitude", "ratio", "cosine", "error");
  for (const NoisePoint& p : result.curve.points)
    std::printf("%10.4g %12.5g %12.6f %11.2f%%\n", p.amplitude, p.ratio_mean, p.cosine_mean, 100 * p.error_mean);
  std::printf("clean error %.2f%%; a10 ", 100 * result.curve.clean_error);
  if (result.a10.reached)
    std::printf("%.4g (first grid point %.4g)\n", result.a10.amplitude, result.a10.grid_amplitude);
  else
    std::printf("not reached (the error never rose 10 points)\n");
  std::printf("wrote %s/noise.csv and summary.json (%s)\n", opt.out_dir.c_str(), format_duration(seconds).c_str());
  return 0;
}

}  // namespace resdyn::cli
