// The `resdyn noise` experiment (paper §6, fig. 4); see noise_experiment.h.
#include "experiments/noise_experiment.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "experiments/run_file_names.h"
#include "experiments/output_directory.h"
#include "output/csv.h"
#include "output/json.h"

namespace resdyn {

namespace {

output::Csv curve_csv(const NoiseCurve& curve) {
  using namespace run_files::noise::column;
  const std::string r = ratio, c = cosine, e = error;
  output::Csv csv(
      {amplitude, r + mean_suffix, r + std_suffix, c + mean_suffix, c + std_suffix, e + mean_suffix, e + std_suffix});
  for (const NoisePoint& p : curve.points)
    csv.row()
        .cell(p.amplitude)
        .cell(p.ratio_mean)
        .cell(p.ratio_std)
        .cell(p.cosine_mean)
        .cell(p.cosine_std)
        .cell(p.error_mean)
        .cell(p.error_std);
  return csv;
}

std::string a10_source(const NoiseCurve& curve, const AccuracyDropPoint& a10) {
  if (!a10.reached) return "not reached: the mean error stays under clean_error + 0.10 on the whole grid";
  if (!a10.interpolated) return "grid point (the first grid amplitude, nothing below it to interpolate from)";
  size_t k = 0;
  while (curve.points[k].amplitude != a10.grid_amplitude) ++k;
  char text[200];
  std::snprintf(text, sizeof text,
                "interpolated: mean error linear in log10(amplitude) between grid points %.6g and %.6g",
                curve.points[k - 1].amplitude, a10.grid_amplitude);
  return text;
}

output::Json summary_json(const Net<float>& net, const NoiseExperimentOptions& options,
                          const NoiseExperimentResult& result) {
  const Config& cfg = net.config;
  const bool resnet = cfg.arch == Arch::ResNet;
  output::Json j;
  j.begin_object();
  j.key("model").begin_object();
  j.field("name", options.model_name);
  j.field("arch", resnet ? "resnet" : "mlp");
  j.field("weights", cfg.weights == Weights::Shared ? "shared" : "per-layer");
  j.field("stem", cfg.stem);
  j.field("input", cfg.input);
  j.field("width", cfg.width);
  j.field("depth", cfg.depth);
  j.field("classes", cfg.classes);
  j.field("parameters", long(net.params.size()));
  j.end_object();
  j.field("final_state", resnet ? "x(T)" : "h(T)");
  j.field("noise_at", options.noise.site == NoiseSite::Input ? "input (pixels, not clipped)" : "initial-state x(0)");
  j.key("amplitudes").values(options.noise.amplitudes);
  j.field("realizations", options.noise.realizations);
  j.field("seed", long(options.noise.seed));
  j.field(run_files::key::precision, precision_name(options.noise.precision));
  j.field("test_images", result.curve.samples);
  j.field(run_files::noise::key::clean_error, result.curve.clean_error);
  j.key(run_files::noise::key::a10);
  if (result.a10.reached)
    j.value(result.a10.amplitude);
  else
    j.null();
  j.key("a10_grid");
  if (result.a10.reached)
    j.value(result.a10.grid_amplitude);
  else
    j.null();
  j.field("a10_from", a10_source(result.curve, result.a10));
  j.key("readings").begin_array();
  for (const CurveReading& r : result.readings) {
    j.begin_object();
    j.field("amplitude", r.point.amplitude);
    j.field("from", !r.available ? "outside the grid" : r.on_grid ? "grid point" : "interpolated in log10(amplitude)");
    const NoisePoint& p = r.point;
    const std::pair<const char*, double> values[] = {{"ratio_mean", p.ratio_mean},
                                                     {"ratio_std", p.ratio_std},
                                                     {"cosine_mean", p.cosine_mean},
                                                     {"cosine_std", p.cosine_std},
                                                     {"error_mean", p.error_mean}};
    for (const auto& [name, v] : values) {
      j.key(name);
      if (r.available)
        j.value(v);
      else
        j.null();
    }
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j;
}

}  // namespace

std::vector<double> default_noise_amplitudes() { return log_spaced(-3.0, 0.0, 13); }

std::vector<double> parse_amplitude_list(const std::string& text) {
  std::vector<double> out;
  size_t begin = 0;
  for (;;) {
    const size_t end = text.find(',', begin);
    const std::string item = text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    char* stop = nullptr;
    errno = 0;
    const double v = item.empty() ? 0.0 : std::strtod(item.c_str(), &stop);
    if (item.empty() || *stop != '\0' || errno == ERANGE)
      throw Error("--amplitudes: '" + item + "' is not a number (expected a comma-separated list like 0.01,0.1,1)");
    if (!(v >= 0 && v <= 1e6)) throw Error("--amplitudes: '" + item + "' is not a number in [0, 1e6]");
    out.push_back(v);
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return out;
}

NoiseExperimentResult run_noise_experiment(const Net<float>& net, const Dataset& test,
                                           const NoiseExperimentOptions& options) {
  NoiseExperimentOptions opt = options;
  if (opt.noise.amplitudes.empty()) opt.noise.amplitudes = default_noise_amplitudes();
  prepare_output_directory(opt.out_dir, "noise");  // before the measurement, not after it
  NoiseExperimentResult result;
  result.curve = measure_noise_robustness(net, test, opt.noise);
  result.a10 = accuracy_drop_point(result.curve, 0.10);
  for (double a : kReadingAmplitudes) result.readings.push_back(read_curve(result.curve, a));

  const std::string dir = opt.out_dir + "/";
  curve_csv(result.curve).save(dir + run_files::noise::curve);
  result.files.push_back(dir + run_files::noise::curve);
  summary_json(net, opt, result).save(dir + run_files::summary);
  result.files.push_back(dir + run_files::summary);
  return result;
}

}  // namespace resdyn
