// resdyn embed: t-SNE or UMAP of the hidden states of a saved model on the first S test
// images of each class (paper fig. 6A, workshop fig. 1D; see experiments/embed_experiment.h),
// with its quality figures.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "experiments/output_directory.h"
#include "cli/progress.h"
#include "experiments/embed_experiment.h"

namespace resdyn::cli {

namespace {

// The defaults are the experiment's and the methods' own; the flags both methods take default
// by the method, so they stay unset unless given.
struct EmbedFlags : CommonOptions {
  std::string model, out;
  std::string method = "tsne";
  std::optional<std::string> of, init;
  int samples_per_class = EmbedExperimentOptions{}.samples_per_class;
  int unroll = EmbedExperimentOptions{}.unroll;  // 0: the trained depth
  uint64_t seed = EmbedExperimentOptions{}.seed;
  double perplexity = TsneOptions{}.perplexity;
  int iterations = TsneOptions{}.iterations;
  double exaggeration = TsneOptions{}.exaggeration;
  int exaggeration_iterations = TsneOptions{}.exaggeration_iterations;
  int exact_max = TsneOptions{}.exact_max;
  double theta = TsneOptions{}.theta;
  std::optional<int> neighbors;
  double min_dist = UmapOptions{}.min_dist;
  std::optional<int> epochs;
  double negative_rate = UmapOptions{}.negative_sample_rate;
  std::optional<double> learning_rate;
};

FlagTable<EmbedFlags> embed_flags() {
  using O = EmbedFlags;
  FlagTable<O> t("embed",
                 "2-D t-SNE or UMAP of the final hidden states or the trajectories, with kNN agreement and "
                 "trustworthiness.");
  t.text("model", "MODEL", &O::model, "model file written by 'resdyn train' (required)", {}, Need::required);
  add_data_flag(t);
  t.text("out", "DIR", &O::out, "directory for embedding.csv and summary.json (required; created if missing)", {},
         Need::required);
  t.choice("method", &O::method, {"tsne", "umap"}, "the embedding");
  t.choice("of", &O::of, {"final", "trajectory"},
           "x(T) (h(T) for an MLP), or y(1..T) concatenated (h(1..T) for an MLP)",
           {"final (t-SNE), trajectory (UMAP)", ""});
  t.whole("samples-per-class", "S", &O::samples_per_class, 1, 1L << 30,
          "the first S test images of each class, in file order");
  t.whole("unroll", "T'", &O::unroll, 1, kMaxDepth, "run a shared-weight net for T' layers (not for per-layer nets)",
          {"the trained depth", ""});
  t.whole("seed", "S", &O::seed, 0, 1LL << 62, "seed of the random initialisation and start vectors");
  t.choice("init", &O::init, {"pca", "spectral", "random"}, "initial layout", {"pca (t-SNE), spectral (UMAP)", ""});
  t.real("perplexity", "P", &O::perplexity, 1, 1e6, "t-SNE: perplexity of each point's neighbourhood");
  t.whole("iterations", "N", &O::iterations, 0, 1000000, "t-SNE: gradient descent steps");
  t.real("exaggeration", "X", &O::exaggeration, 1, 1e6, "t-SNE: early exaggeration factor");
  t.whole("exaggeration-iterations", "N", &O::exaggeration_iterations, 0, 1000000,
          "t-SNE: steps with exaggeration and momentum 0.5");
  t.whole("exact-max", "N", &O::exact_max, 0, 1L << 30, "t-SNE: exact gradient up to N points, Barnes-Hut beyond");
  t.real("theta", "T", &O::theta, 0, 10, "t-SNE: Barnes-Hut opening criterion");
  // UMAP needs the point and one neighbour at least: run_embed checks its lower bound of 2.
  t.whole("neighbors", "K", &O::neighbors, 1, 1L << 30,
          "t-SNE: points per conditional distribution; UMAP: neighbourhood size, counting the point",
          {"3 x perplexity (t-SNE), " + std::to_string(UmapOptions{}.neighbors) + " (UMAP)", ""});
  t.real("min-dist", "D", &O::min_dist, 0, 2.999, "UMAP: minimum distance of the layout curve");
  t.whole("epochs", "N", &O::epochs, 1, 1000000, "UMAP: SGD epochs", {"500 up to 10,000 points, 200 beyond", ""});
  t.real("negative-rate", "R", &O::negative_rate, 0, 1000, "UMAP: negative samples per positive sample");
  t.real("learning-rate", "RATE", &O::learning_rate, 1e-9, 1e9, "step size",
         {"max(200, n/12) (t-SNE), " + number_text(UmapOptions{}.learning_rate) + " (UMAP)", ""});
  add_precision_flag(t, "; of the forward pass that records the hidden states (the layout itself is double)");
  add_threads_flag(t);
  return t;
}

// The experiment's options from the flags, refusing the flags of the other method (they would
// be silently ignored).
EmbedExperimentOptions experiment_options(const EmbedFlags& given, const Flags& flags) {
  EmbedExperimentOptions options;
  const bool is_tsne = given.method == "tsne";
  options.method = is_tsne ? EmbedMethod::Tsne : EmbedMethod::Umap;
  options.of = given.of.value_or(is_tsne ? "final" : "trajectory") == "final" ? EmbedOf::Final : EmbedOf::Trajectory;
  options.out_dir = given.out;
  options.samples_per_class = given.samples_per_class;
  options.unroll = given.unroll;
  options.seed = given.seed;
  options.threads = thread_count(given);
  options.precision = precision_of(given);
  const std::string init = given.init.value_or(is_tsne ? "pca" : "spectral");
  if (init == (is_tsne ? "spectral" : "pca"))
    throw Error("--init " + init + " is not available for " +
                (is_tsne ? "t-SNE (pca or random)" : "UMAP (spectral or random)"));
  for (const char* name : is_tsne ? std::vector<const char*>{"min-dist", "epochs", "negative-rate"}
                                  : std::vector<const char*>{"perplexity", "iterations", "exaggeration",
                                                             "exaggeration-iterations", "exact-max", "theta"})
    if (flags.has(name))
      throw Error(std::string("--") + name + " is a " + (is_tsne ? "UMAP" : "t-SNE") + " flag (--method " +
                  (is_tsne ? "tsne" : "umap") + " given)");
  if (is_tsne) {
    TsneOptions& t = options.tsne;
    t.init = init == "random" ? TsneInit::Random : TsneInit::Pca;
    t.perplexity = given.perplexity;
    t.iterations = given.iterations;
    t.exaggeration = given.exaggeration;
    t.exaggeration_iterations = given.exaggeration_iterations;
    t.exact_max = given.exact_max;
    t.theta = given.theta;
    t.neighbors = given.neighbors.value_or(t.neighbors);
    t.learning_rate = given.learning_rate.value_or(t.learning_rate);
  } else {
    UmapOptions& u = options.umap;
    u.init = init == "random" ? UmapInit::Random : UmapInit::Spectral;
    if (given.neighbors) flags.integer("neighbors", 0, 2, 1L << 30);  // the message of a range
    u.neighbors = given.neighbors.value_or(u.neighbors);
    u.min_dist = given.min_dist;
    u.epochs = given.epochs.value_or(u.epochs);
    u.negative_sample_rate = given.negative_rate;
    u.learning_rate = given.learning_rate.value_or(u.learning_rate);
  }
  return options;
}

}  // namespace

CommandSpec embed_spec() { return embed_flags().spec(); }

int run_embed(const Flags& flags) {
  const EmbedFlags given = embed_flags().parse(flags);
  const EmbedExperimentOptions options = experiment_options(given, flags);
  const bool is_tsne = options.method == EmbedMethod::Tsne;
  check_output_directory(options.out_dir, "embed");  // before the work, not after it
  const std::string& model_path = given.model;
  const Net<float> net = load_model(model_path);
  const Dataset test = load_split(given.data, false, 0);
  check_test_set(test, net.config, given.data, model_path, "embed");

  const EmbedExperimentResult r = run_embed_experiment(net, test, options);
  std::printf("%s of %d points in %d dimensions (%s, %d layers, %s): %s\n", is_tsne ? "t-SNE" : "UMAP", r.points, r.dim,
              options.of == EmbedOf::Final ? "final state" : "trajectory", r.depth, precision_name(options.precision),
              format_duration(r.seconds).c_str());
  std::printf("knn10_agreement %.4f  trustworthiness %.4f  (seconds %.2f, processor %.2f; states %.2f, quality %.2f)\n",
              r.knn10_agreement, r.trustworthiness, r.seconds, r.cpu_seconds, r.seconds_states, r.seconds_quality);
  for (const std::string& file : r.files) std::printf("wrote %s\n", file.c_str());
  return 0;
}

}  // namespace resdyn::cli
