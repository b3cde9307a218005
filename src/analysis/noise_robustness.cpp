// Noise robustness (paper §6, fig. 4); see noise_robustness.h for the definitions.
#include "analysis/noise_robustness.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace resdyn {

namespace {

// The splitmix64 finaliser: spreads every input bit over the output, so seeds built from
// neighbouring indices give unrelated generators.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void check_data(const Net<float>& net, const Dataset& data) {
  if (data.count < 1) throw Error("noise: the test set is empty");
  check_image_size(data, net.config, "noise: ");
  for (int n = 0; n < data.count; ++n)
    if (data.labels[size_t(n)] >= net.config.classes)
      throw Error("noise: label " + std::to_string(data.labels[size_t(n)]) + " of sample " + std::to_string(n) +
                  " is not one of the network's " + std::to_string(net.config.classes) + " classes");
}

// Mean and sample standard deviation of the realization figures. The spread is summed
// from offsets to the first value, so equal figures give exactly 0.
void mean_and_std(const std::vector<double>& values, double& mean, double& std_dev) {
  const double origin = values[0];
  double offset_sum = 0;
  for (double v : values) offset_sum += v - origin;
  const double offset_mean = offset_sum / double(values.size());
  mean = origin + offset_mean;
  double squares = 0;
  for (double v : values) squares += (v - origin - offset_mean) * (v - origin - offset_mean);
  std_dev = values.size() > 1 ? std::sqrt(squares / double(values.size() - 1)) : 0.0;
}

}  // namespace

void check_noise_options(const NoiseOptions& options) {
  if (options.amplitudes.empty()) throw Error("noise: no amplitudes given");
  for (size_t i = 0; i < options.amplitudes.size(); ++i) {
    const double a = options.amplitudes[i];
    if (!std::isfinite(a) || a < 0 || a > 1e6)
      throw Error("noise: amplitude " + std::to_string(a) + " is not a number in [0, 1e6]");
    if (i > 0 && !(a > options.amplitudes[i - 1])) throw Error("noise: amplitudes must be strictly increasing");
  }
  if (options.realizations < 1 || options.realizations > 1000000)
    throw Error("noise: realizations must be in 1..1000000");
  if (options.batch < 1) throw Error("noise: batch size must be at least 1");
  if (options.threads < 1) throw Error("noise: threads must be at least 1");
}

std::vector<double> log_spaced(double first_exponent, double last_exponent, int count) {
  if (count < 2) throw Error("log_spaced: need at least two points");
  std::vector<double> out(static_cast<size_t>(count));
  for (int k = 0; k < count; ++k)
    out[size_t(k)] = std::pow(10.0, first_exponent + (last_exponent - first_exponent) * k / (count - 1));
  return out;
}

void unit_noise(uint64_t seed, int realization, long sample, int count, float* out) {
  Rng rng(mix64(mix64(mix64(seed) ^ uint64_t(realization)) ^ uint64_t(sample)));
  for (int i = 0; i < count; ++i) out[i] = float(rng.uniform(-1.0, 1.0));
}

StateComparison compare_states(const float* clean, const float* noisy, int width) {
  double diff2 = 0, clean2 = 0, noisy2 = 0, dot = 0;
  for (int i = 0; i < width; ++i) {
    const double c = clean[i], n = noisy[i];
    diff2 += (n - c) * (n - c);
    clean2 += c * c;
    noisy2 += n * n;
    dot += c * n;
  }
  StateComparison out;
  out.ratio = clean2 > 0 ? std::sqrt(diff2 / clean2) : (diff2 > 0 ? HUGE_VAL : 0.0);
  // sqrt(clean2 * noisy2) rather than a product of two roots: exactly 1 when s~ == s.
  out.cosine = clean2 > 0 && noisy2 > 0 ? dot / std::sqrt(clean2 * noisy2) : (clean2 == noisy2 ? 1.0 : 0.0);
  return out;
}

void measure_noise_batch(const Net<float>& net, const NoiseBatch& samples, const NoiseOptions& options,
                         NoiseScratch& scratch, BatchNoiseMetrics& out) {
  const uint8_t* pixels = samples.pixels;
  const uint8_t* labels = samples.labels;
  const int batch = samples.count;
  const long first_sample = samples.first;
  const Config& cfg = net.config;
  const int D = cfg.input, N = cfg.width, C = cfg.classes, T = cfg.depth;
  const int A = int(options.amplitudes.size()), R = options.realizations;
  out.batch = batch;
  out.amplitudes = A;
  out.realizations = R;
  const size_t outcomes = size_t(A) * R * batch;
  out.clean_wrong.resize(size_t(batch));
  out.ratio.resize(outcomes);
  out.cosine.resize(outcomes);
  out.wrong.resize(outcomes);

  Trace<float>& trace = scratch.trace;
  ForwardOptions<float> fwd;
  fwd.keep_all = false;  // only x(T) is compared: memory does not grow with depth
  fwd.threads = 1;       // parallelism is across batches (measure_noise_robustness)
  fwd.precision = options.precision;

  // The clean pass, keeping the perturbed starting block and the final state.
  const bool at_input = options.site == NoiseSite::Input;
  const int start_width = at_input ? D : N;
  const size_t start_size = size_t(batch) * start_width;
  set_input(trace, pixels, batch, D);
  prepare_trace(net, trace, T, false, false);
  compute_initial_state(net, trace, 1, fwd.packed, fwd.precision);
  const float* start = at_input ? trace.input.data() : trace.state(0);
  scratch.clean_start.assign(start, start + start_size);
  run_layers(net, trace, fwd);
  scratch.clean_final.assign(trace.state(T), trace.state(T) + trace.block());
  for (int s = 0; s < batch; ++s) out.clean_wrong[size_t(s)] = argmax_row(&trace.logits[size_t(s) * C], C) != labels[s];

  scratch.unit.resize(start_size);
  for (int r = 0; r < R; ++r) {
    for (int s = 0; s < batch; ++s)
      unit_noise(options.seed, r, first_sample + s, start_width, &scratch.unit[size_t(s) * start_width]);
    for (int a = 0; a < A; ++a) {
      const float amplitude = float(options.amplitudes[size_t(a)]);
      // Noise on x(0) (the default, as in paper §6) or on the pixels, which then go through the stem.
      float* target = at_input ? trace.input.data() : trace.state(0);
      for (size_t i = 0; i < start_size; ++i) target[i] = scratch.clean_start[i] + amplitude * scratch.unit[i];
      if (at_input) compute_initial_state(net, trace, 1, fwd.packed, fwd.precision);
      run_layers(net, trace, fwd);
      const float* noisy_final = trace.state(T);
      for (int s = 0; s < batch; ++s) {
        const size_t row = size_t(s) * N;
        const StateComparison cmp = compare_states(&scratch.clean_final[row], noisy_final + row, N);
        const size_t k = out.at(a, r, s);
        out.ratio[k] = cmp.ratio;
        out.cosine[k] = cmp.cosine;
        out.wrong[k] = argmax_row(&trace.logits[size_t(s) * C], C) != labels[s];
      }
    }
  }
}

NoiseCurve measure_noise_robustness(const Net<float>& net, const Dataset& data, const NoiseOptions& options) {
  check_noise_options(options);
  check_data(net, data);
  const int A = int(options.amplitudes.size()), R = options.realizations, D = net.config.input;
  const long total = data.count;
  const long batches = (total + options.batch - 1) / options.batch;
  const int workers = int(std::min<long>(options.threads, batches));
  // Batches run in groups, a few per worker; each group is reduced in sample order before
  // the next, so memory stays bounded and the sums never depend on who ran what.
  const long group = 4L * workers;
  std::vector<NoiseScratch> scratch(static_cast<size_t>(workers));
  std::vector<BatchNoiseMetrics> results(static_cast<size_t>(group));
  std::vector<double> ratio_sum(size_t(A) * R, 0.0), cosine_sum(size_t(A) * R, 0.0);
  std::vector<long> wrong(size_t(A) * R, 0);
  long clean_wrong = 0;

  for (long first_batch = 0; first_batch < batches; first_batch += group) {
    const int tasks = int(std::min(group, batches - first_batch));
    ThreadPool::shared().run(workers, tasks, [&](int task, int worker) {
      const long first = (first_batch + task) * long(options.batch);
      const int count = int(std::min<long>(options.batch, total - first));
      const NoiseBatch samples{&data.images[size_t(first) * D], &data.labels[size_t(first)], count, first};
      measure_noise_batch(net, samples, options, scratch[size_t(worker)], results[size_t(task)]);
    });
    for (int task = 0; task < tasks; ++task) {
      const BatchNoiseMetrics& m = results[size_t(task)];
      for (int s = 0; s < m.batch; ++s) clean_wrong += m.clean_wrong[size_t(s)];
      for (int a = 0; a < A; ++a)
        for (int r = 0; r < R; ++r) {
          const size_t cell = size_t(a) * R + size_t(r);
          for (int s = 0; s < m.batch; ++s) {
            ratio_sum[cell] += m.ratio[m.at(a, r, s)];
            cosine_sum[cell] += m.cosine[m.at(a, r, s)];
            wrong[cell] += m.wrong[m.at(a, r, s)];
          }
        }
    }
    if (options.on_progress) options.on_progress(std::min(total, (first_batch + tasks) * long(options.batch)), total);
  }

  NoiseCurve curve;
  curve.samples = total;
  curve.clean_error = double(clean_wrong) / double(total);
  const size_t realizations = static_cast<size_t>(R);
  std::vector<double> ratio(realizations), cosine(realizations), error(realizations);
  for (int a = 0; a < A; ++a) {
    for (int r = 0; r < R; ++r) {
      const size_t cell = size_t(a) * R + size_t(r);
      ratio[size_t(r)] = ratio_sum[cell] / double(total);
      cosine[size_t(r)] = cosine_sum[cell] / double(total);
      error[size_t(r)] = double(wrong[cell]) / double(total);
    }
    NoisePoint p;
    p.amplitude = options.amplitudes[size_t(a)];
    mean_and_std(ratio, p.ratio_mean, p.ratio_std);
    mean_and_std(cosine, p.cosine_mean, p.cosine_std);
    mean_and_std(error, p.error_mean, p.error_std);
    curve.points.push_back(p);
  }
  return curve;
}

AccuracyDropPoint accuracy_drop_point(const NoiseCurve& curve, double drop) {
  AccuracyDropPoint out;
  for (size_t k = 0; k < curve.points.size(); ++k) {
    const NoisePoint& p = curve.points[k];
    const double rise = p.error_mean - curve.clean_error;
    if (!(rise >= drop)) continue;
    out.reached = true;
    out.grid_amplitude = out.amplitude = p.amplitude;
    if (k > 0 && curve.points[k - 1].amplitude > 0) {
      const NoisePoint& q = curve.points[k - 1];
      const double rise_before = q.error_mean - curve.clean_error;  // < drop: k is the first
      const double f = (drop - rise_before) / (rise - rise_before);
      const double la = std::log10(q.amplitude), lb = std::log10(p.amplitude);
      out.amplitude = std::pow(10.0, la + f * (lb - la));
      out.interpolated = true;
    }
    return out;
  }
  return out;
}

CurveReading read_curve(const NoiseCurve& curve, double amplitude) {
  CurveReading out;
  out.point.amplitude = amplitude;
  if (!(amplitude > 0)) return out;
  const auto& pts = curve.points;
  for (const NoisePoint& p : pts)
    if (std::fabs(p.amplitude - amplitude) <= 1e-9 * amplitude) {
      out.available = out.on_grid = true;
      out.point = p;
      out.point.amplitude = amplitude;
      return out;
    }
  for (size_t k = 1; k < pts.size(); ++k) {
    const NoisePoint &lo = pts[k - 1], &hi = pts[k];
    if (!(lo.amplitude > 0 && lo.amplitude < amplitude && amplitude < hi.amplitude)) continue;
    const double f =
        (std::log10(amplitude) - std::log10(lo.amplitude)) / (std::log10(hi.amplitude) - std::log10(lo.amplitude));
    auto mix = [f](double a, double b) { return a + f * (b - a); };
    out.available = true;
    out.point.ratio_mean = mix(lo.ratio_mean, hi.ratio_mean);
    out.point.ratio_std = mix(lo.ratio_std, hi.ratio_std);
    out.point.cosine_mean = mix(lo.cosine_mean, hi.cosine_mean);
    out.point.cosine_std = mix(lo.cosine_std, hi.cosine_std);
    out.point.error_mean = mix(lo.error_mean, hi.error_mean);
    out.point.error_std = mix(lo.error_std, hi.error_std);
    return out;
  }
  return out;
}

}  // namespace resdyn
