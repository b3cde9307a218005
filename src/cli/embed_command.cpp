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

CommandSpec embed_spec() {
  return {"embed",
          "2-D t-SNE or UMAP of the final hidden states or the trajectories, with kNN agreement and trustworthiness.",
          {
              {"model", "MODEL", "", "model file written by 'resdyn train' (required)"},
              data_flag(),
              {"out", "DIR", "", "directory for embedding.csv and summary.json (required; created if missing)"},
              {"method", "tsne|umap", "tsne", "the embedding"},
              {"of", "final|trajectory", "final (t-SNE), trajectory (UMAP)",
               "x(T) (h(T) for an MLP), or y(1..T) concatenated (h(1..T) for an MLP)"},
              {"samples-per-class", "S", "200", "the first S test images of each class, in file order"},
              {"unroll", "T'", "the trained depth", "run a shared-weight net for T' layers (not for per-layer nets)"},
              {"seed", "S", "1", "seed of the random initialisation and start vectors"},
              {"init", "pca|spectral|random", "pca (t-SNE), spectral (UMAP)", "initial layout"},
              {"perplexity", "P", "30", "t-SNE: perplexity of each point's neighbourhood"},
              {"iterations", "N", "1000", "t-SNE: gradient descent steps"},
              {"exaggeration", "X", "12", "t-SNE: early exaggeration factor"},
              {"exaggeration-iterations", "N", "250", "t-SNE: steps with exaggeration and momentum 0.5"},
              {"exact-max", "N", "3000", "t-SNE: exact gradient up to N points, Barnes-Hut beyond"},
              {"theta", "T", "0.5", "t-SNE: Barnes-Hut opening criterion"},
              {"neighbors", "K", "3 x perplexity (t-SNE), 15 (UMAP)",
               "t-SNE: points per conditional distribution; UMAP: neighbourhood size, counting the point"},
              {"min-dist", "D", "0.1", "UMAP: minimum distance of the layout curve"},
              {"epochs", "N", "500 up to 10,000 points, 200 beyond", "UMAP: SGD epochs"},
              {"negative-rate", "R", "5", "UMAP: negative samples per positive sample"},
              {"learning-rate", "RATE", "max(200, n/12) (t-SNE), 1 (UMAP)", "step size"},
              threads_flag(),
          }};
}

int run_embed(const Flags& flags) {
  EmbedExperimentOptions options;
  const bool is_tsne = flags.choice("method", "tsne", {"tsne", "umap"}) == "tsne";
  options.method = is_tsne ? EmbedMethod::Tsne : EmbedMethod::Umap;
  options.of = flags.choice("of", is_tsne ? "final" : "trajectory", {"final", "trajectory"}) == "final"
                   ? EmbedOf::Final
                   : EmbedOf::Trajectory;
  options.out_dir = flags.required_text("out");
  options.samples_per_class = int(flags.integer("samples-per-class", 200, 1, 1L << 30));
  options.unroll = int(flags.integer("unroll", 0, 1, kMaxDepth));
  options.seed = uint64_t(flags.integer("seed", 1, 0, 1L << 62));
  options.threads = thread_count(flags);
  const std::string init = flags.choice("init", is_tsne ? "pca" : "spectral", {"pca", "spectral", "random"});
  if (init == (is_tsne ? "spectral" : "pca"))
    throw Error("--init " + init + " is not available for " + (is_tsne ? "t-SNE (pca or random)" : "UMAP (spectral or random)"));
  // A flag of the other method would be silently ignored: refuse it instead.
  for (const char* name : is_tsne ? std::vector<const char*>{"min-dist", "epochs", "negative-rate"}
                                  : std::vector<const char*>{"perplexity", "iterations", "exaggeration",
                                                             "exaggeration-iterations", "exact-max", "theta"})
    if (flags.has(name))
      throw Error(std::string("--") + name + " is a " + (is_tsne ? "UMAP" : "t-SNE") + " flag (--method " +
                  (is_tsne ? "tsne" : "umap") + " given)");
  if (is_tsne) {
    TsneOptions& t = options.tsne;
    t.init = init == "random" ? TsneInit::Random : TsneInit::Pca;
    t.perplexity = flags.real("perplexity", 30, 1, 1e6);
    t.iterations = int(flags.integer("iterations", 1000, 0, 1000000));
    t.exaggeration = flags.real("exaggeration", 12, 1, 1e6);
    t.exaggeration_iterations = int(flags.integer("exaggeration-iterations", 250, 0, 1000000));
    t.exact_max = int(flags.integer("exact-max", 3000, 0, 1L << 30));
    t.theta = flags.real("theta", 0.5, 0, 10);
    t.neighbors = int(flags.integer("neighbors", 0, 1, 1L << 30));
    t.learning_rate = flags.real("learning-rate", 0, 1e-9, 1e9);
  } else {
    UmapOptions& u = options.umap;
    u.init = init == "random" ? UmapInit::Random : UmapInit::Spectral;
    u.neighbors = int(flags.integer("neighbors", 15, 2, 1L << 30));
    u.min_dist = flags.real("min-dist", 0.1, 0, 2.999);
    u.epochs = int(flags.integer("epochs", 0, 1, 1000000));
    u.negative_sample_rate = flags.real("negative-rate", 5, 0, 1000);
    u.learning_rate = flags.real("learning-rate", 1, 1e-9, 1e9);
  }
  check_output_directory(options.out_dir, "embed");  // before the work, not after it
  const std::string model_path = flags.required_text("model");
  const Net<float> net = load_model(model_path);
  const Dataset test = load_split(flags, false, 0);
  check_test_set(test, net.config, flags, model_path, "embed");

  const EmbedExperimentResult r = run_embed_experiment(net, test, options);
  std::printf("%s of %d points in %d dimensions (%s, %d layers): %s\n", is_tsne ? "t-SNE" : "UMAP", r.points, r.dim,
              options.of == EmbedOf::Final ? "final state" : "trajectory", r.depth, format_duration(r.seconds).c_str());
  std::printf("knn10_agreement %.4f  trustworthiness %.4f  (seconds %.2f, processor %.2f; states %.2f, quality %.2f)\n",
              r.knn10_agreement, r.trustworthiness, r.seconds, r.cpu_seconds, r.seconds_states, r.seconds_quality);
  for (const std::string& file : r.files) std::printf("wrote %s\n", file.c_str());
  return 0;
}

}  // namespace resdyn::cli
