// The `resdyn sensitivity` experiment (paper appendix A); see sensitivity_experiment.h.
#include "experiments/sensitivity_experiment.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "analysis/class_samples.h"
#include "experiments/output_directory.h"
#include "experiments/run_file_names.h"
#include "output/csv.h"
#include "output/json.h"

namespace resdyn {

namespace {

// The net in double precision, so that float rounding (about 1e-6 on logits of size 10)
// does not blur the logits' response to a perturbation of size epsilon = 1e-3.
Net<double> in_double(const Net<float>& net) {
  Net<double> out(net.config);
  std::copy(net.params.begin(), net.params.end(), out.params.begin());
  return out;
}

// Mean and standard deviation (divided by the count) over the samples' profiles, layer by layer.
SensitivityCurves curves_of(const std::vector<SensitivityProfile>& profiles, int label, int depth) {
  SensitivityCurves k;
  k.label = label;
  k.samples = int(profiles.size());
  const size_t T = size_t(depth);
  k.mean_log10_det.assign(T, 0.0);
  k.std_log10_det.assign(T, 0.0);
  k.mean_logit_change.assign(T, 0.0);
  k.mean_linear_logit_change.assign(T, 0.0);
  k.se_logit_change.assign(T, 0.0);
  for (const SensitivityProfile& p : profiles) {
    for (size_t s = 0; s < T; ++s) {
      k.mean_log10_det[s] += p.log10_det[s];
      k.mean_logit_change[s] += p.logit_change[s];
      k.mean_linear_logit_change[s] += p.linear_logit_change[s];
      k.se_logit_change[s] += p.logit_change_variance[s] / p.directions;
    }
  }
  for (size_t s = 0; s < T; ++s) {
    k.mean_log10_det[s] /= k.samples;
    k.mean_logit_change[s] /= k.samples;
    k.mean_linear_logit_change[s] /= k.samples;
    k.se_logit_change[s] = std::sqrt(k.se_logit_change[s]) / k.samples;
  }
  for (const SensitivityProfile& p : profiles)
    for (size_t s = 0; s < T; ++s) {
      const double d = p.log10_det[s] - k.mean_log10_det[s];
      k.std_log10_det[s] += d * d;
    }
  for (double& v : k.std_log10_det) v = std::sqrt(v / k.samples);
  k.log10_det_ratio_4_10 =
      depth >= 10 ? k.mean_log10_det[3] - k.mean_log10_det[9] : std::numeric_limits<double>::quiet_NaN();
  return k;
}

// A direction uniform on the unit sphere (normalised Gaussian), scaled to length epsilon.
std::vector<double> random_perturbation(Rng& rng, int n, double epsilon) {
  std::vector<double> v(static_cast<size_t>(n));
  double sum = 0.0;
  for (double& x : v) {
    x = rng.normal();
    sum += x * x;
  }
  const double scale = epsilon / std::sqrt(sum);
  for (double& x : v) x *= scale;
  return v;
}

// Each sample's profile, in sample order; the perturbations drawn from one stream in that order.
std::vector<SensitivityProfile> measure_profiles(const Net<double>& net, const Dataset& samples,
                                                 const SensitivityOptions& options) {
  const Config& cfg = net.config;
  Rng rng(options.seed);
  std::vector<SensitivityProfile> profiles;
  Trace<double> trace;
  ForwardOptions<double> forward_options;
  forward_options.keep_all = true;
  forward_options.threads = options.threads;
  for (int first = 0; first < samples.count; first += options.batch) {
    const int count = std::min(options.batch, samples.count - first);
    set_input(trace, &samples.images[size_t(first) * cfg.input], count, cfg.input);
    forward(net, trace, forward_options);
    std::vector<std::vector<std::vector<double>>> directions(static_cast<size_t>(count));
    for (std::vector<std::vector<double>>& set : directions)
      for (int d = 0; d < options.directions; ++d) set.push_back(random_perturbation(rng, cfg.width, options.epsilon));
    for (SensitivityProfile& p : sensitivity_profiles(net, trace, directions, options.threads))
      profiles.push_back(std::move(p));
    if (options.progress) options.progress(first + count, samples.count);
  }
  return profiles;
}

void write_curves_csv(const std::string& dir, SensitivityResult& result) {
  namespace column = run_files::sensitivity::column;
  output::Csv csv({run_files::class_column, column::layer, column::mean_log10_det, column::std_log10_det,
                   column::mean_logit_change, "mean_linear_logit_change", column::se_logit_change});
  for (const SensitivityCurves& k : result.classes)
    for (int s = 1; s <= result.depth; ++s)
      csv.row()
          .cell(k.label)
          .cell(s)
          .cell(k.mean_log10_det[size_t(s - 1)])
          .cell(k.std_log10_det[size_t(s - 1)])
          .cell(k.mean_logit_change[size_t(s - 1)])
          .cell(k.mean_linear_logit_change[size_t(s - 1)])
          .cell(k.se_logit_change[size_t(s - 1)]);
  csv.save(dir + run_files::sensitivity::curves);
  result.files.push_back(dir + run_files::sensitivity::curves);
}

void write_summary(const std::string& dir, const Config& cfg, int samples, const SensitivityOptions& options,
                   SensitivityResult& result) {
  namespace key = run_files::sensitivity::key;
  const int depth = result.depth;
  const bool resnet = cfg.arch == Arch::ResNet;
  output::Json json;
  json.begin_object();
  json.field("experiment", "sensitivity");
  json.field("arch", resnet ? "resnet" : "mlp");
  json.field("weights", cfg.weights == Weights::Shared ? "shared" : "per-layer");
  json.field("width", cfg.width).field(run_files::key::depth, depth);
  json.field(run_files::key::samples_per_class, options.samples_per_class).field("samples", samples);
  json.field("epsilon", options.epsilon).field("seed", long(options.seed)).field("directions", options.directions);
  json.field("precision", "double (the float model's parameters converted)");
  json.field("seconds", result.seconds).field("threads", options.threads);
  json.field(key::log10_det_ratio_4_10, result.overall.log10_det_ratio_4_10);  // NaN (T < 10) is written as null
  json.key("log10_det_ratio_4_10_per_class").begin_object();
  for (const SensitivityCurves& k : result.classes) {
    json.field(std::to_string(k.label), k.log10_det_ratio_4_10);
  }
  json.end_object();
  json.field(key::logit_change_ratio_4_10,
             depth >= 10 ? result.overall.mean_logit_change[3] / result.overall.mean_logit_change[9]
                         : std::numeric_limits<double>::quiet_NaN());
  json.key("overall").begin_object();
  json.key("mean_log10_det").values(result.overall.mean_log10_det);
  json.key("std_log10_det").values(result.overall.std_log10_det);
  json.key("mean_logit_change").values(result.overall.mean_logit_change);
  json.key("se_logit_change").values(result.overall.se_logit_change);
  json.key("mean_linear_logit_change").values(result.overall.mean_linear_logit_change);
  json.end_object();
  json.key("definitions").begin_object();
  json.field("M", resnet ? "M(t) = diag(y(t)(1 - y(t))) W_t; M'(s) = (I + M(T)) ... (I + M(s)) (paper eq. 10)"
                         : "MLP, no skip: M(t) = diag(h(t)(1 - h(t))) W_t = dh(t)/dh(t-1); M'(s) = M(T) ... M(s)");
  json.field("log10_det", "log10|det M'(s)| = sum over t = s..T of log10|det| of each factor, from LU pivots");
  json.field("std_log10_det", "standard deviation (divided by n) across samples");
  json.field("logit_change", std::string(resnet ? "y(s)" : "h(s)") +
                                 " + delta, delta = epsilon * a random unit vector (`directions` per sample, "
                                 "seeded), layers s+1..T run again; logit change = ||Delta logits||_2, the "
                                 "mean over the sample's directions");
  json.field("se_logit_change",
             "standard error of the mean logit change due to the random directions (samples fixed): "
             "sqrt(sum over samples of the variance over their directions / directions) / samples; null "
             "for one direction");
  json.field("linear_logit_change",
             "||K M'(s+1) delta||_2, the first-order prediction of the logit change "
             "(M'(T+1) = I): a perturbation of y(s) enters after layer s");
  json.field("log10_det_ratio_4_10", "log10|det M'(4)| - log10|det M'(10)|, mean over samples; null if T < 10");
  json.field("logit_change_ratio_4_10", "mean logit change at s = 4 over that at s = 10");
  json.end_object();
  json.end_object();
  json.save(dir + run_files::summary);
  result.files.push_back(dir + run_files::summary);
}

}  // namespace

SensitivityResult run_sensitivity_experiment(const Net<float>& net_float, const Dataset& test,
                                             const SensitivityOptions& options) {
  if (!(options.epsilon > 0.0) || !std::isfinite(options.epsilon))
    throw Error("sensitivity: epsilon must be a positive number");
  if (options.batch < 1) throw Error("sensitivity: the batch size must be at least 1");
  if (options.directions < 1) throw Error("sensitivity: at least one direction per sample is needed");
  const Config& cfg = net_float.config;
  check_image_size(test, cfg);
  const Dataset samples = first_per_class(test, options.samples_per_class, cfg.classes);
  if (samples.count == 0) throw Error("sensitivity: the test set has no samples");
  prepare_output_directory(options.out_dir, "sensitivity");
  const Net<double> net = in_double(net_float);
  const int depth = cfg.depth;

  const double start = monotonic_seconds();
  const std::vector<SensitivityProfile> profiles = measure_profiles(net, samples, options);

  SensitivityResult result;
  result.depth = depth;
  for (int label = 0; label < cfg.classes; ++label) {
    std::vector<SensitivityProfile> mine;
    for (int s = 0; s < samples.count; ++s)
      if (samples.labels[size_t(s)] == label) mine.push_back(profiles[size_t(s)]);
    if (!mine.empty()) result.classes.push_back(curves_of(mine, label, depth));
  }
  result.overall = curves_of(profiles, -1, depth);
  result.seconds = monotonic_seconds() - start;

  const std::string dir = options.out_dir + "/";
  write_curves_csv(dir, result);
  write_summary(dir, cfg, samples.count, options, result);
  return result;
}

}  // namespace resdyn
