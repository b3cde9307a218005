// Per-class statistics of the deepest residual; see final_residuals.h.
#include "analysis/final_residuals.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>

namespace resdyn {

FinalResiduals final_residuals(const Net<float>& net, const Dataset& data, int depth, int threads, Precision precision,
                               int batch) {
  const Config& cfg = net.config;
  check_image_size(data, cfg);
  FinalResiduals out;
  out.depth = depth > 0 ? depth : cfg.depth;
  const int last = out.depth;
  const size_t N = size_t(cfg.width);

  std::vector<int> sizes(size_t(cfg.classes), 0);
  for (int s = 0; s < data.count; ++s) {
    const int label = data.labels[size_t(s)];
    if (label >= cfg.classes || (s > 0 && label < data.labels[size_t(s - 1)]))
      throw Error("final residuals: the samples must be sorted by label, within the net's " +
                  std::to_string(cfg.classes) + " classes");
    ++sizes[size_t(label)];
  }
  out.groups = ClassGroups::from_sizes(sizes);

  // y(T') of every sample, and each sample's sum of |y(T') - y(T'-1)|.
  std::vector<float> final_residual(size_t(data.count) * N);
  std::vector<double> change(size_t(data.count), 0.0);
  std::vector<float> previous;
  Trace<float> trace;
  ForwardOptions<float> options;
  options.depth = last;
  options.keep_all = false;
  options.threads = threads;
  options.precision = precision;
  int first = 0, rows = 0;  // the batch on_layer is called for
  const auto keep_last_two = [&](int t, const float* y, const float*) {
    if (t == last - 1) previous.assign(y, y + size_t(rows) * N);
    if (t != last) return;
    std::copy(y, y + size_t(rows) * N, final_residual.begin() + long(size_t(first) * N));
    if (last < 2) return;
    for (size_t r = 0; r < size_t(rows); ++r) {
      double sum = 0.0;
      for (size_t i = 0; i < N; ++i) sum += std::fabs(double(y[r * N + i]) - double(previous[r * N + i]));
      change[size_t(first) + r] = sum;
    }
  };
  options.on_layer = keep_last_two;
  for (first = 0; first < data.count; first += batch) {
    rows = std::min(batch, data.count - first);
    set_input(trace, &data.images[size_t(first) * cfg.input], rows, cfg.input);
    forward(net, trace, options);
  }

  class_profile(final_residual.data(), cfg.width, out.groups, out.profile);
  out.last = std::move(final_residual);
  for (int c = 0; c < cfg.classes; ++c) {
    const int count = out.groups.size(c);
    double spread = 0.0, step = 0.0;
    for (size_t i = 0; i < N; ++i) spread += out.profile.stddev_at(c, int(i));
    for (int s = out.groups.begin(c); s < out.groups.end(c); ++s) step += change[size_t(s)];
    out.spread.push_back(spread / double(N));  // NaN for a class without samples
    out.last_step.push_back(last < 2 || count == 0 ? std::numeric_limits<double>::quiet_NaN()
                                                   : step / (double(count) * double(N)));
  }
  return out;
}

}  // namespace resdyn
