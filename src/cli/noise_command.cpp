// resdyn noise: robustness of a saved model to uniform noise on x(0) or on the pixels
// (paper §6, fig. 4; see experiments/noise_experiment.h); writes noise.csv and summary.json
// to --out.
#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "experiments/output_directory.h"
#include "cli/progress.h"
#include "experiments/noise_experiment.h"

namespace resdyn::cli {

namespace {

// The defaults are the analysis' own (NoiseOptions).
struct NoiseFlags : CommonOptions {
  std::string model, out;
  std::optional<std::string> amplitudes;  // unset: default_noise_amplitudes()
  std::string noise_at = "initial-state";
  int realizations = NoiseOptions{}.realizations;
  uint64_t seed = NoiseOptions{}.seed;
  long limit_test = 0;  // 0: all
  int batch = NoiseOptions{}.batch;
};

FlagTable<NoiseFlags> noise_flags() {
  using O = NoiseFlags;
  FlagTable<O> t("noise", "Noise-to-signal ratio, cosine similarity and test error under input noise (paper fig. 4).");
  t.text("model", "MODEL", &O::model, "model file written by 'resdyn train' (required)", {}, Need::required);
  add_data_flag(t);
  t.text("out", "DIR", &O::out, "directory for noise.csv and summary.json (required; created if missing)", {},
         Need::required);
  t.text("amplitudes", "A,B,..", &O::amplitudes, "noise amplitudes a (noise is uniform in (-a, a))",
         {"13 log-spaced from 1e-3 to 1", ""}, Need::not_empty);
  t.choice("noise-at", &O::noise_at, {"initial-state", "input"}, "add the noise to x(0) or to the pixels");
  t.whole("realizations", "R", &O::realizations, 1, 1000000, "independent noise draws per amplitude");
  t.whole("seed", "S", &O::seed, 0, 1LL << 62, "seed of the noise");
  t.whole("limit-test", "N", &O::limit_test, 1, 1L << 30, "use only the first N test images", {"all", ""});
  t.whole("batch", "B", &O::batch, 1, 1 << 20, "images per forward pass (does not change the result)");
  add_precision_flag(t, "; of every forward pass, clean and noisy, and so of the test errors");
  add_threads_flag(t);
  return t;
}

}  // namespace

CommandSpec noise_spec() { return noise_flags().spec(); }

int run_noise(const Flags& flags) {
  const NoiseFlags given = noise_flags().parse(flags);
  NoiseExperimentOptions opt;
  const std::string& model_path = given.model;
  opt.out_dir = given.out;
  opt.model_name = model_path;
  opt.noise.amplitudes = given.amplitudes ? parse_amplitude_list(*given.amplitudes) : default_noise_amplitudes();
  opt.noise.site = given.noise_at == "input" ? NoiseSite::Input : NoiseSite::InitialState;
  opt.noise.realizations = given.realizations;
  opt.noise.seed = given.seed;
  opt.noise.batch = given.batch;
  opt.noise.threads = thread_count(given);
  opt.noise.precision = precision_of(given);
  check_noise_options(opt.noise);  // fail before loading anything
  check_output_directory(opt.out_dir, "noise");

  const Net<float> net = load_model(model_path);
  const Dataset test = load_split(given.data, false, given.limit_test);
  check_test_set(test, net.config, given.data, model_path, "noise");
  opt.noise.batch = std::min(opt.noise.batch, std::max(1, test.count));  // buffers sized by the data, not the flag
  const Config& cfg = net.config;
  std::printf(
      "noise on %s: %s, %s weights, width %d, depth %d; %d test images x %zu amplitudes x %d "
      "realizations, %s, %d threads\n",
      opt.noise.site == NoiseSite::Input ? "the pixels" : "x(0)", cfg.arch == Arch::ResNet ? "ResNet" : "MLP",
      cfg.weights == Weights::Shared ? "shared" : "per-layer", cfg.width, cfg.depth, test.count,
      opt.noise.amplitudes.size(), opt.noise.realizations, precision_name(opt.noise.precision), opt.noise.threads);
  std::fflush(stdout);

  const double start = monotonic_seconds();
  int last_tenth = 0;
  const auto report_progress = [&](long done, long total) {
    const int tenth = int(10 * done / total);
    if (tenth == last_tenth || done == total) return;
    last_tenth = tenth;
    const double elapsed = monotonic_seconds() - start;
    std::printf("  %ld of %ld images  %s  ETA %s\n", done, total, format_duration(elapsed).c_str(),
                format_duration(elapsed / double(done) * double(total - done)).c_str());
    std::fflush(stdout);
  };
  opt.noise.on_progress = report_progress;
  const NoiseExperimentResult result = run_noise_experiment(net, test, opt);
  const double seconds = monotonic_seconds() - start;

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
