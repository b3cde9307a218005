// The `resdyn embed` experiment (paper fig. 6A, workshop fig. 1D); see embed_experiment.h.
#include "experiments/embed_experiment.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "analysis/class_samples.h"
#include "analysis/embedding_quality.h"
#include "experiments/output_directory.h"
#include "experiments/run_file_names.h"
#include "output/csv.h"
#include "output/json.h"

namespace resdyn {

namespace {

// What the points are: x(t) the cumulative signal, y(t) the residual, h(t) an MLP's layer.
const char* state_name(const Net<float>& net, EmbedOf of) {
  const bool resnet = net.config.arch == Arch::ResNet;
  if (of == EmbedOf::Final) return resnet ? "x(T)" : "h(T)";
  return resnet ? "y(1..T)" : "h(1..T)";
}

void write_parameters(output::Json& json, const EmbedExperimentOptions& options, const EmbedExperimentResult& r) {
  json.key("parameters").begin_object();
  if (options.method == EmbedMethod::Tsne) {
    const TsneOptions& o = options.tsne;
    json.field("perplexity", o.perplexity)
        .field("neighbors", r.tsne.neighbors)
        .field("iterations", o.iterations)
        .field("exaggeration", o.exaggeration)
        .field("exaggeration_iterations", o.exaggeration_iterations)
        .field("momentum_early", o.momentum_early)
        .field("momentum_late", o.momentum_late)
        .field("learning_rate", r.tsne.learning_rate)
        .field("init", o.init == TsneInit::Pca ? "pca" : "random")
        .field("init_std", o.init_std)
        .field("gradient", r.tsne.barnes_hut ? "barnes-hut" : "exact")
        .field("exact_max", o.exact_max)
        .field("theta", o.theta)
        .field("kl_divergence", r.tsne.kl_divergence)
        .field("max_entropy_error", r.tsne.max_entropy_error);
  } else {
    const UmapOptions& o = options.umap;
    json.field("neighbors", o.neighbors)
        .field("min_dist", o.min_dist)
        .field("spread", o.spread)
        .field("epochs", r.umap.epochs)
        .field("learning_rate", o.learning_rate)
        .field("negative_sample_rate", o.negative_sample_rate)
        .field("init", o.init == UmapInit::Spectral ? "spectral" : "random")
        .field("a", r.umap.curve.a)
        .field("b", r.umap.curve.b)
        .field("edges", r.umap.edges);
    if (o.init == UmapInit::Spectral)
      json.field("spectral_converged", r.umap.spectral_converged).field("spectral_residual", r.umap.spectral_residual);
  }
  json.end_object();
}

// embedding.csv: sample, class, x, y.
void write_embedding_csv(const std::string& dir, EmbedExperimentResult& result) {
  output::Csv csv({"sample", run_files::class_column, run_files::embed::column::x, run_files::embed::column::y});
  for (int i = 0; i < result.points; ++i)
    csv.row()
        .cell(i)
        .cell(result.labels[size_t(i)])
        .cell(result.embedding.xy[2 * size_t(i)])
        .cell(result.embedding.xy[2 * size_t(i) + 1]);
  csv.save(dir + run_files::embed::embedding);
  result.files.push_back(dir + run_files::embed::embedding);
}

}  // namespace

PointSet hidden_states(const Net<float>& net, const uint8_t* pixels, int count, EmbedOf of, int depth, int threads,
                       Precision precision) {
  const Config& cfg = net.config;
  const int layers = depth > 0 ? depth : cfg.depth;
  const int n_units = cfg.width;
  const double dim = of == EmbedOf::Final ? double(n_units) : double(layers) * n_units;
  if (double(count) * dim > 1e9)
    throw Error("embed: " + std::to_string(count) + " points of " + std::to_string(long(dim)) +
                " values each is too large to hold (limit 1e9 values)");
  PointSet points;
  points.count = count;
  points.dim = int(dim);
  points.values.resize(size_t(count) * size_t(points.dim));
  Trace<float> trace;
  ForwardOptions<float> forward_options;
  forward_options.depth = layers;
  forward_options.keep_all = false;  // memory of two layers, whatever the depth
  forward_options.threads = threads;
  forward_options.precision = precision;
  constexpr int kBatch = 250;
  int first = 0, rows = 0;  // the batch on_layer is called for
  const auto copy_layer = [&](int t, const float* y, const float*) {
    for (int r = 0; r < rows; ++r)
      std::copy_n(y + size_t(r) * n_units, n_units,
                  &points.values[size_t(first + r) * points.dim + size_t(t - 1) * n_units]);
  };
  if (of == EmbedOf::Trajectory) forward_options.on_layer = copy_layer;
  for (first = 0; first < count; first += kBatch) {
    rows = std::min(kBatch, count - first);
    set_input(trace, pixels + size_t(first) * cfg.input, rows, cfg.input);
    forward(net, trace, forward_options);
    if (of == EmbedOf::Final)
      std::copy_n(trace.state(layers), size_t(rows) * n_units, &points.values[size_t(first) * n_units]);
  }
  return points;
}

EmbedExperimentResult run_embed_experiment(const Net<float>& net, const Dataset& test,
                                           const EmbedExperimentOptions& options) {
  const Config& cfg = net.config;
  if (options.samples_per_class < 1)
    throw Error("embed: samples per class must be at least 1 (got " + std::to_string(options.samples_per_class) + ")");
  if (options.unroll < 0) throw Error("embed: the depth must not be negative");
  if (options.unroll > cfg.depth && cfg.weights != Weights::Shared)
    throw Error("embed: unrolling to " + std::to_string(options.unroll) +
                " layers needs shared weights; this net has one weight matrix per layer");
  check_image_size(test, cfg, "embed: ");
  const Dataset samples = first_per_class(test, options.samples_per_class, cfg.classes);
  prepare_output_directory(options.out_dir, "embed");

  EmbedExperimentResult result;
  result.depth = options.unroll > 0 ? options.unroll : cfg.depth;
  double start = monotonic_seconds();
  const PointSet points = hidden_states(net, samples.images.data(), samples.count, options.of, result.depth,
                                        options.threads, options.precision);
  result.seconds_states = monotonic_seconds() - start;
  result.points = points.count;
  result.dim = points.dim;
  result.labels.assign(samples.labels.begin(), samples.labels.end());

  start = monotonic_seconds();
  const std::clock_t cpu_start = std::clock();
  if (options.method == EmbedMethod::Tsne) {
    TsneOptions o = options.tsne;
    o.seed = options.seed;
    o.threads = options.threads;
    result.tsne = tsne(points, o);
    result.embedding = result.tsne.embedding;
  } else {
    UmapOptions o = options.umap;
    o.seed = options.seed;
    o.threads = options.threads;
    result.umap = umap(points, o);
    result.embedding = result.umap.embedding;
  }
  result.seconds = monotonic_seconds() - start;
  result.cpu_seconds = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;

  start = monotonic_seconds();
  result.knn10_agreement = knn_class_agreement(result.embedding, result.labels, 10, options.threads);
  result.trustworthiness = trustworthiness(points, result.embedding, 10, options.threads);
  result.seconds_quality = monotonic_seconds() - start;

  const std::string dir = options.out_dir + "/";
  write_embedding_csv(dir, result);

  output::Json json;
  json.begin_object()
      .field("method", options.method == EmbedMethod::Tsne ? "tsne" : "umap")
      .field("of", options.of == EmbedOf::Final ? "final" : "trajectory")
      .field("state", state_name(net, options.of))
      .field("n", result.points)
      .field("dim", result.dim)
      .field(run_files::key::samples_per_class, options.samples_per_class)
      .field(run_files::key::depth, result.depth)
      .field(run_files::key::precision, precision_name(options.precision))
      .field("seed", long(options.seed))
      .field("threads", options.threads)
      .field(run_files::embed::key::knn10_agreement, result.knn10_agreement)
      .field(run_files::embed::key::trustworthiness, result.trustworthiness)
      .field("seconds", result.seconds)
      .field("cpu_seconds", result.cpu_seconds)
      .field("seconds_states", result.seconds_states)
      .field("seconds_quality", result.seconds_quality);
  write_parameters(json, options, result);
  json.end_object();
  json.save(dir + run_files::summary);
  result.files.push_back(dir + run_files::summary);
  return result;
}

}  // namespace resdyn
