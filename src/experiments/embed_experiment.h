// The embedding experiment (`resdyn embed`): the workshop version's fig. 1D (t-SNE of the
// cumulative signal x(T) before the classifier) and the paper's fig. 6A (appendix C: UMAP
// of the residuals' trajectories). The first S test samples of each class (S = 200, the
// paper's count; file order, not random) run through a trained net; their final hidden
// state (x(T) of a ResNet, h(T) of an MLP) or their trajectory (y(1..T) concatenated;
// h(1..T) for an MLP) is laid out in 2-D by t-SNE or UMAP, with the settings of
// analysis/tsne.h and analysis/umap.h (the paper names none). One seed (default 1) drives
// the layout's random choices; the result is the same on any thread count. The layout's
// quality is measured by two figures of ours (analysis/embedding_quality.h): the fraction
// of each point's 10 nearest neighbours in 2-D that share its class, and trustworthiness
// with k = 10. Coordinates themselves carry no meaning.
#pragma once

#include <string>
#include <vector>

#include "analysis/point_set.h"
#include "analysis/tsne.h"
#include "analysis/umap.h"
#include "resdyn.h"

namespace resdyn {

enum class EmbedMethod { Tsne, Umap };
enum class EmbedOf { Final, Trajectory };

struct EmbedExperimentOptions {
  EmbedMethod method = EmbedMethod::Tsne;
  EmbedOf of = EmbedOf::Final;
  int samples_per_class = 200;  // S
  int unroll = 0;               // T' (0: the trained depth); shared-weight nets only
  uint64_t seed = 1;            // overrides tsne.seed and umap.seed
  int threads = 1;              // overrides tsne.threads and umap.threads
  // Of the forward pass that records the hidden states (the layout is computed in double).
  Precision precision = Precision::fp32;
  TsneOptions tsne;
  UmapOptions umap;
  std::string out_dir;  // created if missing
};

struct EmbedExperimentResult {
  int points = 0, dim = 0, depth = 0;
  Embedding embedding;
  std::vector<int> labels;
  TsneResult tsne;  // for the t-SNE method
  UmapResult umap;  // for the UMAP method
  double knn10_agreement = 0;
  double trustworthiness = 0;
  double seconds = 0;              // the embedding itself (neighbours, layout), wall time
  double cpu_seconds = 0;          // the same in processor time summed over threads, which
                                   // a machine shared with other work does not inflate
  double seconds_states = 0;       // the forward pass that records the states
  double seconds_quality = 0;      // the two quality figures
  std::vector<std::string> files;  // every file written, in order
};

// The hidden states of the `count` images (input-size bytes each) at `depth` layers (0:
// the trained depth): the final state, or the concatenated layer outputs 1..depth; the
// forward pass's products in `precision`.
PointSet hidden_states(const Net<float>& net, const uint8_t* pixels, int count, EmbedOf of, int depth, int threads,
                       Precision precision = Precision::fp32);

// Runs the experiment of `net` on `test` and writes to options.out_dir (atomically):
//   embedding.csv  sample, class, x, y; sample = row of the probe set (the first S of
//                  class 0 in file order, then of class 1, ...)
//   summary.json   knn10_agreement, trustworthiness (k = 10), seconds (and cpu_seconds),
//                  method, of, n, the forward pass's precision,
//                  and every parameter used
// Throws resdyn::Error for bad options (before any work), images that do not fit the
// net, or an output directory that cannot be written.
EmbedExperimentResult run_embed_experiment(const Net<float>& net, const Dataset& test,
                                           const EmbedExperimentOptions& options);

}  // namespace resdyn
