// resdyn train: train a network of SPEC §1 on the training set, report the test error after
// every epoch, and save the model (plus a CSV of the epochs beside it).
#include <chrono>
#include <cmath>
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "output/csv.h"

namespace resdyn::cli {

CommandSpec train_spec() {
  return {"train",
          "Train a ResNet or MLP on MNIST-format data and save it.",
          {
              data_flag(),
              {"arch", "resnet|mlp", "resnet", "residual network or its MLP twin"},
              {"weights", "shared|per-layer", "shared", "one weight matrix for every layer, or one per layer"},
              {"width", "N", "512", "units per layer"},
              {"depth", "T", "10", "residual (or hidden) layers"},
              {"stem", "", "on when width != 784", "input layer x(0) = sigma(P u + c)"},
              {"epochs", "E", "8", "passes over the training set"},
              {"batch", "B", "64", "minibatch size"},
              {"optimizer", "sgd|adam", "adam", "update rule"},
              {"lr", "RATE", "2e-3 (adam), 0.05 (sgd)", "peak learning rate"},
              {"momentum", "M", "0.9", "SGD momentum"},
              {"schedule", "cosine|constant", "cosine", "learning rate over the run"},
              {"seed", "S", "1", "seed of initialisation and data order"},
              threads_flag(),
              {"limit-train", "N", "all", "train on the first N training images only"},
              {"limit-test", "N", "all", "evaluate on the first N test images only"},
              {"prune-threshold", "D", "0 (off)",
               "after each epoch, remove the last layer of a ResNet while d = mean |y(T) - y(T-1)| < D "
               "(SPEC §2; the paper uses 0.01)"},
              {"prune-repeat", "", "off", "remove layers until d >= D, not just one per epoch"},
              {"prune-probe", "N", "1000", "training images on which d is measured"},
              {"patience", "P", "0 (off)", "stop when the training loss has not improved for P epochs"},
              {"out", "MODEL", "model.resdyn", "where to save the model; MODEL.csv gets the per-epoch log"},
          }};
}

int run_train(const Flags& flags) {
  Config cfg;
  cfg.arch = flags.choice("arch", "resnet", {"resnet", "mlp"}) == "mlp" ? Arch::MLP : Arch::ResNet;
  cfg.weights = flags.choice("weights", "shared", {"shared", "per-layer"}) == "per-layer" ? Weights::PerLayer
                                                                                         : Weights::Shared;
  cfg.width = int(flags.integer("width", 512, 1, kMaxWidth));
  cfg.depth = int(flags.integer("depth", 10, 1, kMaxDepth));

  TrainOptions opt;
  opt.epochs = int(flags.integer("epochs", 8, 1, 100000));
  opt.batch = int(flags.integer("batch", 64, 1, 1 << 20));
  const bool sgd = flags.choice("optimizer", "adam", {"sgd", "adam"}) == "sgd";
  opt.optimizer.kind = sgd ? OptimizerKind::SGD : OptimizerKind::Adam;
  opt.optimizer.lr = flags.real("lr", sgd ? 0.05 : 2e-3, 0, 1e3);
  opt.optimizer.momentum = flags.real("momentum", 0.9, 0, 1);
  opt.optimizer.schedule =
      flags.choice("schedule", "cosine", {"cosine", "constant"}) == "cosine" ? Schedule::Cosine : Schedule::Constant;
  opt.seed = uint64_t(flags.integer("seed", 1, 0, 1L << 62));
  opt.threads = thread_count(flags);
  PruneOptions prune;
  prune.threshold = flags.real("prune-threshold", 0, 0, 1e9);
  prune.repeat = flags.on("prune-repeat", false);
  prune.probe_samples = int(flags.integer("prune-probe", 1000, 1, 1 << 30));
  const int patience = int(flags.integer("patience", 0, 0, 100000));
  const std::string out = flags.text("out", "model.resdyn");
  ensure_writable(out);
  ensure_writable(out + ".csv");

  const Dataset train = load_split(flags, true, flags.integer("limit-train", 0, 1, 1L << 30));
  const Dataset test = load_split(flags, false, flags.integer("limit-test", 0, 1, 1L << 30));
  cfg.input = train.rows * train.cols;
  cfg.stem = flags.on("stem", cfg.width != cfg.input);
  if (const char* why = config_problem(cfg)) throw Error(std::string("train: ") + why);
  if (prune.threshold > 0 && cfg.arch != Arch::ResNet)
    throw Error("train: --prune-threshold needs --arch resnet (it measures residuals y(t))");
  const bool resnet = cfg.arch == Arch::ResNet;

  Net<float> net(cfg);
  Rng init_rng(opt.seed);
  initialise(net, init_rng);
  std::printf("training %s, %s weights, %s, width %d, depth %d (%zu parameters) on %d images, %d threads\n",
              cfg.arch == Arch::ResNet ? "ResNet" : "MLP", cfg.weights == Weights::Shared ? "shared" : "per-layer",
              cfg.stem ? "with stem" : "no stem", cfg.width, cfg.depth, net.params.size(), train.count, opt.threads);
  std::fflush(stdout);

  Trainer<float> trainer(net, train, opt);
  ProgressLine progress(stdout);
  output::Csv csv({"epoch", "train_loss", "convergence_d", "depth", "pruned", "test_loss", "test_error", "seconds"});
  Evaluation ev;
  double best_loss = INFINITY;
  int epochs_without_improvement = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int e = 1; e <= opt.epochs; ++e) {
    const auto epoch_start = std::chrono::steady_clock::now();
    const double loss = trainer.train_epoch([&](const BatchProgress& p) { progress.update(p); });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    progress.clear();
    // SPEC §2: measure d after the epoch; remove the last layer while it is below threshold.
    PruneStep step;
    step.d_before = NAN;
    if (resnet) step = trainer.prune_converged_layers(train, prune);
    ev = evaluate(net, test, opt.threads);
    std::printf("epoch %d/%d  train loss %.4f  test loss %.4f  test error %.2f%%  %s (%.0f samples/s)", e, opt.epochs,
                loss, ev.loss, 100 * ev.error, format_duration(seconds).c_str(), train.count / seconds);
    if (resnet) std::printf("  d %.4g  depth %d", step.d_before, net.config.depth);
    if (step.removed) std::printf(" (pruned %d)", step.removed);
    std::printf("\n");
    std::fflush(stdout);
    csv.row().cell(e).cell(loss).cell(step.d_before).cell(net.config.depth).cell(step.removed).cell(ev.loss).cell(ev.error)
        .cell(seconds);
    // Early stopping: the paper trains "until the loss function is minimum".
    if (loss < best_loss) {
      best_loss = loss;
      epochs_without_improvement = 0;
    } else if (patience > 0 && ++epochs_without_improvement >= patience) {
      std::printf("training loss has not improved for %d epochs: stopping\n", patience);
      break;
    }
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  print_evaluation(stdout, ev);

  char summary[160];
  std::snprintf(summary, sizeof summary,
                "test_error: %.6f\ntest_images: %d\ntrain_images: %d\ntrain_seconds: %.1f\nepochs: %d\ndepth: %d\n",
                ev.error, ev.count, train.count, total, trainer.epochs_done(), net.config.depth);
  save_model(net, out, "command: " + flags.command_line() + "\n" + summary);
  csv.save(out + ".csv");
  std::printf("saved %s (%s total)\n", out.c_str(), format_duration(total).c_str());
  return 0;
}

}  // namespace resdyn::cli
