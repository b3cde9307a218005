// The `resdyn spectrum` experiment (paper §6, eigenvalues at layer 1000); see spectrum_experiment.h.
#include "experiments/spectrum_experiment.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "analysis/class_samples.h"
#include "analysis/final_residuals.h"
#include "analysis/residual_ode.h"
#include "experiments/output_directory.h"
#include "experiments/run_file_names.h"
#include "output/csv.h"
#include "output/json.h"

namespace resdyn {

namespace {

namespace key = run_files::spectrum::key;

// W of a shared net, in double precision.
Matrix shared_weights(const Net<float>& net) {
  const int n = net.config.width;
  Matrix w(n, n);
  std::copy(net.W(1), net.W(1) + size_t(n) * n, w.a.begin());
  return w;
}

void write_spectrum_summary(output::Json& json, const SpectrumSummary& s) {
  json.begin_object();
  json.field("count", s.count).field(key::positive_real, s.positive_real).field(key::largest_real, s.largest_real);
  json.key("largest_real_parts").values(s.top_real);
  json.field(key::spectral_radius, s.spectral_radius).field("outside_unit_circle", s.outside_unit_circle);
  json.end_object();
}

void write_files(const SpectrumResult& result, const Net<float>& net, const SpectrumOptions& options,
                 std::vector<std::string>& files) {
  const std::string dir = options.out_dir + "/";
  namespace column = run_files::spectrum::column;
  output::Csv csv({run_files::class_column, column::which, column::real, column::imag});
  for (const ClassSpectrum& cs : result.classes) {
    for (const auto& v : cs.spectra.ode) csv.row().cell(cs.label).cell(key::ode).cell(v.real()).cell(v.imag());
    for (const auto& v : cs.spectra.layer_map)
      csv.row().cell(cs.label).cell(key::layer_map).cell(v.real()).cell(v.imag());
  }
  csv.save(dir + run_files::spectrum::eigenvalues);
  files.push_back(dir + run_files::spectrum::eigenvalues);

  output::Json json;
  json.begin_object();
  json.field("experiment", "spectrum");
  json.field("width", net.config.width).field("trained_depth", net.config.depth);
  json.field(key::unroll, options.unroll).field(run_files::key::samples_per_class, options.samples_per_class);
  json.field("bias_in_ode", false);
  json.field("forward_seconds", result.forward_seconds).field("eigen_seconds", result.eigen_seconds);
  json.field("threads", options.threads);
  json.key("classes_with_positive_ode_eigenvalue").begin_array();
  for (const ClassSpectrum& cs : result.classes)
    if (cs.ode.positive_real > 0) json.value(cs.label);
  json.end_array();
  json.key(key::classes).begin_array();
  for (const ClassSpectrum& cs : result.classes) {
    json.begin_object();
    json.field(key::class_label, cs.label).field("samples", cs.samples);
    json.field("spread", cs.spread).field("last_step", cs.last_step).field("ode_speed", cs.ode_speed);
    json.key(key::ode);
    write_spectrum_summary(json, cs.ode);
    json.key(key::layer_map);
    write_spectrum_summary(json, cs.layer_map);
    json.end_object();
  }
  json.end_array();
  json.key("definitions").begin_object();
  json.field("point",
             "ybar_c = mean over the class's first samples (test set, file order) of the residual y(T') "
             "at the unrolled depth T'");
  json.field("ode_jacobian", "J(y) = diag((1 - 2y)(W y)) + diag(y(1 - y)) W, the Jacobian of paper eq. 3");
  json.field("bias",
             "b is not added to W y: eq. 3 comes from dz/dt = W dx/dt = W y, where the constant b of "
             "z = W x + b drops out");
  json.field("layer_map_jacobian", "I + diag(y(1 - y)) W, the Jacobian of x(t-1) -> x(t) (I + M(t) of paper eq. 10)");
  json.field("spread", "mean over neurons of the standard deviation (divided by n) across samples of y_i(T')");
  json.field("last_step", "mean over samples and neurons of |y_i(T') - y_i(T'-1)|");
  json.field("ode_speed", "max_i |F(ybar_c)_i|, F(y) = y(1 - y)(W y); zero at a fixed point of eq. 3");
  json.field("positive_real", "eigenvalues with real part > 0 (no tolerance)");
  json.field("outside_unit_circle", "eigenvalues with modulus > 1");
  json.end_object();
  json.end_object();
  json.save(dir + run_files::summary);
  files.push_back(dir + run_files::summary);
}

}  // namespace

void check_spectrum_model(const Net<float>& net) {
  if (net.config.arch != Arch::ResNet)
    throw Error("spectrum: the model is an MLP; the residual ODE (paper eq. 3) belongs to ResNets only");
  if (net.config.weights != Weights::Shared)
    throw Error(
        "spectrum: the model has per-layer weights; the fixed-point spectrum needs a shared-weight ResNet "
        "(one W to linearise, unrolled to T')");
}

SpectrumResult run_spectrum_experiment(const Net<float>& net, const Dataset& test, const SpectrumOptions& options) {
  check_spectrum_model(net);
  if (options.unroll < 1 || options.unroll > kMaxDepth)
    throw Error("spectrum: the unroll depth must be between 1 and " + std::to_string(kMaxDepth));
  const Dataset samples = first_per_class(test, options.samples_per_class, net.config.classes);
  if (samples.count == 0) throw Error("spectrum: the test set has no samples");
  prepare_output_directory(options.out_dir, "spectrum");

  SpectrumResult result;
  result.unroll = options.unroll;
  double start = monotonic_seconds();
  const FinalResiduals residuals = final_residuals(net, samples, options.unroll, options.threads);
  result.forward_seconds = monotonic_seconds() - start;

  const Matrix w = shared_weights(net);
  const int n = net.config.width;
  for (int c = 0; c < residuals.groups.classes(); ++c) {
    if (residuals.groups.size(c) == 0) continue;
    ClassSpectrum cs;
    cs.label = c;
    cs.samples = residuals.groups.size(c);
    cs.point.assign(residuals.profile.mean.begin() + long(size_t(c) * n),
                    residuals.profile.mean.begin() + long(size_t(c + 1) * n));
    cs.spread = residuals.spread[size_t(c)];
    cs.last_step = residuals.last_step[size_t(c)];
    for (double f : residual_ode_rhs(w, cs.point)) cs.ode_speed = std::max(cs.ode_speed, std::fabs(f));
    result.classes.push_back(std::move(cs));
  }

  std::vector<std::vector<double>> points;
  for (const ClassSpectrum& cs : result.classes) points.push_back(cs.point);
  start = monotonic_seconds();
  std::vector<PointSpectra> spectra = jacobian_spectra(w, points, options.threads);
  result.eigen_seconds = monotonic_seconds() - start;
  for (size_t k = 0; k < result.classes.size(); ++k) {
    ClassSpectrum& cs = result.classes[k];
    cs.spectra = std::move(spectra[k]);
    cs.ode = summarise_spectrum(cs.spectra.ode);
    cs.layer_map = summarise_spectrum(cs.spectra.layer_map);
  }

  write_files(result, net, options, result.files);
  return result;
}

}  // namespace resdyn
