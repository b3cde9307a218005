// The `resdyn spectrum` experiment (paper §6, eigenvalues at layer 1000); see spectrum_experiment.h.
#include "experiments/spectrum_experiment.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "analysis/class_samples.h"
#include "analysis/final_residuals.h"
#include "analysis/fixed_point_newton.h"
#include "analysis/parallel_chunks.h"
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

// Newton from every sample's y(T'), one sample per task (the result does not depend on
// the thread count); then the converged points grouped into distinct ones.
void find_sample_fixed_points(const Matrix& w, const FinalResiduals& residuals, const SpectrumOptions& options,
                              SpectrumResult& result) {
  const int n = w.rows, count = residuals.groups.total();
  result.samples.assign(size_t(count), SampleFixedPoint{});
  for (int c = 0; c < residuals.groups.classes(); ++c)
    for (int s = residuals.groups.begin(c); s < residuals.groups.end(c); ++s) result.samples[size_t(s)].label = c;
  parallel_tasks(options.threads, count, [&](int s) {
    const float* last = residuals.last.data() + size_t(s) * n;
    result.samples[size_t(s)].newton = newton_fixed_point(w, std::vector<double>(last, last + n), options.newton);
  });

  std::vector<std::vector<double>> converged;
  std::vector<size_t> which;
  for (size_t s = 0; s < result.samples.size(); ++s)
    if (result.samples[s].newton.converged) {
      converged.push_back(result.samples[s].newton.y);
      which.push_back(s);
    }
  const std::vector<int> groups = distinct_point_groups(converged, options.distinct_distance);
  for (size_t k = 0; k < groups.size(); ++k) {
    const int g = groups[k];
    if (g == int(result.fixed_points.size())) {
      result.fixed_points.emplace_back();
      result.fixed_points.back().y = converged[k];
    }
    ++result.fixed_points[size_t(g)].samples;
    result.samples[which[k]].point = g;
  }
}

// J's eigenvalues at each distinct fixed point, one point per task.
void fixed_point_spectra(const Matrix& w, const SpectrumOptions& options, SpectrumResult& result) {
  parallel_tasks(options.threads, int(result.fixed_points.size()), [&](int p) {
    DistinctFixedPoint& point = result.fixed_points[size_t(p)];
    point.ode = deflated_ode_eigenvalues(w, point.y);
    point.summary = summarise_spectrum(point.ode);
    point.negative_real =
        int(std::count_if(point.ode.begin(), point.ode.end(), [](const auto& v) { return v.real() < 0; }));
  });
}

std::vector<ClassFixedPoints> summarise_fixed_points(const SpectrumResult& result, int classes) {
  std::vector<ClassFixedPoints> out;
  for (int c = 0; c < classes; ++c) {
    ClassFixedPoints k;
    k.label = c;
    k.largest_real = std::numeric_limits<double>::quiet_NaN();
    std::vector<bool> seen(result.fixed_points.size(), false);
    int unstable = 0;
    for (const SampleFixedPoint& s : result.samples) {
      if (s.label != c) continue;
      ++k.samples;
      if (s.point < 0) continue;
      ++k.converged;
      k.max_residual = std::max(k.max_residual, s.newton.residual);
      const SpectrumSummary& spectrum = result.fixed_points[size_t(s.point)].summary;
      unstable += spectrum.positive_real > 0;
      if (!(spectrum.largest_real <= k.largest_real)) k.largest_real = spectrum.largest_real;
      k.distinct += !seen[size_t(s.point)];
      seen[size_t(s.point)] = true;
    }
    if (k.samples == 0) continue;
    k.unstable_fraction = k.converged > 0 ? double(unstable) / k.converged : std::numeric_limits<double>::quiet_NaN();
    out.push_back(k);
  }
  return out;
}

void write_fixed_point_tables(const SpectrumResult& result, const std::string& dir, std::vector<std::string>& files) {
  output::Csv samples({run_files::class_column, "start_residual", "residual", "iterations", "converged", "point",
                       "positive_real", "negative_real", "largest_real"});
  for (const SampleFixedPoint& s : result.samples) {
    samples.row().cell(s.label).cell(s.newton.start_residual).cell(s.newton.residual).cell(s.newton.iterations);
    samples.cell(s.newton.converged ? 1 : 0).cell(s.point);
    if (s.point < 0) {
      samples.cell("").cell("").cell("");
      continue;
    }
    const DistinctFixedPoint& p = result.fixed_points[size_t(s.point)];
    samples.cell(p.summary.positive_real).cell(p.negative_real).cell(p.summary.largest_real);
  }
  samples.save(dir + run_files::spectrum::fixed_points);
  files.push_back(dir + run_files::spectrum::fixed_points);
  output::Csv values({"point", run_files::spectrum::column::real, run_files::spectrum::column::imag});
  for (size_t p = 0; p < result.fixed_points.size(); ++p)
    for (const auto& v : result.fixed_points[p].ode) values.row().cell(int(p)).cell(v.real()).cell(v.imag());
  values.save(dir + "fixed_point_eigenvalues.csv");
  files.push_back(dir + "fixed_point_eigenvalues.csv");
}

void write_fixed_point_summary(output::Json& json, const SpectrumResult& result, const SpectrumOptions& options) {
  json.key(key::fixed_points).begin_object();
  json.field("method", "Newton on F(y) = y(1 - y)(W y) = 0 from each sample's y(T'), damped and kept in [0,1]^N");
  json.field("tolerance", options.newton.tolerance).field("target", options.newton.target);
  json.field("max_iterations", options.newton.max_iterations);
  json.field("distinct_distance", options.distinct_distance);
  json.field("newton_seconds", result.newton_seconds).field("eigen_seconds", result.fixed_point_eigen_seconds);
  int failed = 0;
  for (const SampleFixedPoint& s : result.samples) failed += !s.newton.converged;
  json.field("samples", int(result.samples.size())).field(key::failed, failed);
  json.field(key::distinct, int(result.fixed_points.size()));
  json.key(key::classes).begin_array();
  for (const ClassFixedPoints& k : result.class_fixed_points) {
    json.begin_object();
    json.field(key::class_label, k.label).field("samples", k.samples).field(key::converged, k.converged);
    json.field(key::failed, k.samples - k.converged).field(key::distinct, k.distinct);
    json.field(key::unstable_fraction, k.unstable_fraction).field(key::largest_real, k.largest_real);
    json.field(key::max_residual, k.max_residual);
    json.end_object();
  }
  json.end_array();
  // Per sample, in sample order; NaN (null) where Newton did not converge.
  const auto per_sample = [&](auto value) {
    std::vector<double> values;
    for (const SampleFixedPoint& s : result.samples)
      values.push_back(s.point < 0 ? std::numeric_limits<double>::quiet_NaN()
                                   : double(value(result.fixed_points[size_t(s.point)])));
    return values;
  };
  std::vector<double> residuals;
  for (const SampleFixedPoint& s : result.samples) residuals.push_back(s.newton.residual);
  json.key("sample_residuals").values(residuals);
  json.key("sample_positive_real").values(per_sample([](const DistinctFixedPoint& p) {
    return p.summary.positive_real;
  }));
  json.key("sample_negative_real").values(per_sample([](const DistinctFixedPoint& p) { return p.negative_real; }));
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
  json.field(run_files::key::precision, precision_name(options.precision));
  json.field("bias_in_ode", false);
  json.field("forward_seconds", result.forward_seconds).field("eigen_seconds", result.eigen_seconds);
  write_fixed_point_summary(json, result, options);
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
             "at the unrolled depth T'; not a fixed point (ode_speed says how far from one)");
  json.field("fixed_points",
             "per sample, Newton from its y(T'); converged if max_i |F_i| <= tolerance; converged points "
             "within distinct_distance (max norm) of an earlier one are the same fixed point; a point is "
             "unstable if J has an eigenvalue with positive real part (unstable_fraction: of the class's "
             "converged samples); sample_residuals, sample_positive_real and sample_negative_real (eigenvalues with "
             "real part > 0 and < 0 at the sample's point; null if not converged) in sample order, as "
             "fixed_points.csv");
  json.field("precision",
             "of the forward pass to y(T') only; the Jacobians, their eigenvalues and Newton's iterations are "
             "double, on the model's weights: they analyse the ODE of paper eq. 3, not the net's arithmetic");
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
  const FinalResiduals residuals = final_residuals(net, samples, options.unroll, options.threads, options.precision);
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

  start = monotonic_seconds();
  find_sample_fixed_points(w, residuals, options, result);
  result.newton_seconds = monotonic_seconds() - start;
  start = monotonic_seconds();
  fixed_point_spectra(w, options, result);
  result.class_fixed_points = summarise_fixed_points(result, residuals.groups.classes());
  result.fixed_point_eigen_seconds = monotonic_seconds() - start;

  write_fixed_point_tables(result, options.out_dir + "/", result.files);
  write_files(result, net, options, result.files);
  return result;
}

}  // namespace resdyn
