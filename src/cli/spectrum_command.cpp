// resdyn spectrum: eigenvalues of the residual dynamics' Jacobians at the class-mean
// residuals of a shared-weight net unrolled to T' layers (paper §6; see
// experiments/spectrum_experiment.h).
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "experiments/output_directory.h"
#include "cli/progress.h"
#include "experiments/spectrum_experiment.h"

namespace resdyn::cli {

namespace {

// The defaults are the experiment's own.
struct SpectrumFlags : CommonOptions {
  std::string model, out;
  int unroll = SpectrumOptions{}.unroll;
  int samples_per_class = SpectrumOptions{}.samples_per_class;
};

FlagTable<SpectrumFlags> spectrum_flags() {
  using O = SpectrumFlags;
  FlagTable<O> t("spectrum",
                 "Eigenvalues of the ODE and layer-map Jacobians at each class's mean residual of an unrolled "
                 "shared net, and of the ODE Jacobian at the exact fixed point each sample approaches (Newton).");
  t.text("model", "MODEL", &O::model, "model file of a shared-weight ResNet (required)", {}, Need::required);
  add_data_flag(t);
  t.text("out", "DIR", &O::out,
         "directory for eigenvalues.csv, fixed_points.csv, fixed_point_eigenvalues.csv and summary.json "
         "(required; created if missing)",
         {}, Need::required);
  t.whole("unroll", "T'", &O::unroll, 1, kMaxDepth,
          "layers to run the shared net for; the point is the residual at layer T'");
  t.whole("samples-per-class", "S", &O::samples_per_class, 1, 1L << 30,
          "the first S test images of each class, in file order");
  add_precision_flag(t,
                     "; of the forward pass to y(T') only: the Jacobians' eigenvalues and Newton's iterations on "
                     "F(y) stay double, as they analyse the ODE of paper eq. 3, not the net's arithmetic");
  add_threads_flag(t);
  return t;
}

}  // namespace

CommandSpec spectrum_spec() { return spectrum_flags().spec(); }

int run_spectrum(const Flags& flags) {
  const SpectrumFlags given = spectrum_flags().parse(flags);
  SpectrumOptions options;
  options.out_dir = given.out;
  options.unroll = given.unroll;
  options.samples_per_class = given.samples_per_class;
  options.threads = thread_count(given);
  options.precision = precision_of(given);
  check_output_directory(options.out_dir, "spectrum");  // before the work, not after it
  const std::string& model_path = given.model;
  const Net<float> net = load_model(model_path);
  check_spectrum_model(net);  // before the data is read
  const Dataset test = load_split(given.data, false, 0);
  check_test_set(test, net.config, given.data, model_path, "spectrum");

  const SpectrumResult r = run_spectrum_experiment(net, test, options);
  std::printf("unrolled to %d layers (%s) in %s, eigenvalues of %zu x 2 Jacobians (%d x %d) in %s\n", r.unroll,
              precision_name(options.precision), format_duration(r.forward_seconds).c_str(), r.classes.size(),
              net.config.width, net.config.width, format_duration(r.eigen_seconds).c_str());
  std::printf("class  samples  spread@T'   last step   |F(ybar)|   ODE: #Re>0  max Re      layer map: radius\n");
  for (const ClassSpectrum& c : r.classes)
    std::printf("%5d  %7d  %.3e  %.3e  %.3e  %10d  %+.4e  %.6f\n", c.label, c.samples, c.spread, c.last_step,
                c.ode_speed, c.ode.positive_real, c.ode.largest_real, c.layer_map.spectral_radius);
  std::printf(
      "exact fixed points (Newton from each y(T'), converged if max |F| <= %.0e) in %s: %zu distinct, "
      "their eigenvalues in %s\n",
      options.newton.tolerance, format_duration(r.newton_seconds).c_str(), r.fixed_points.size(),
      format_duration(r.fixed_point_eigen_seconds).c_str());
  std::printf("class  samples  converged  distinct  unstable  max Re      max |F|\n");
  for (const ClassFixedPoints& k : r.class_fixed_points)
    std::printf("%5d  %7d  %9d  %8d  %8.3f  %+.4e  %.2e\n", k.label, k.samples, k.converged, k.distinct,
                k.unstable_fraction, k.largest_real, k.max_residual);
  for (const std::string& file : r.files) std::printf("wrote %s\n", file.c_str());
  return 0;
}

}  // namespace resdyn::cli
