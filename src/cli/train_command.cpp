// resdyn train: train a network on the training set, report the test error after every
// epoch, and save the model (plus a CSV of the epochs beside it). The networks (paper §4,
// eq. 1 and fig. 1; the MLP of §5): x(t) = x(t-1) + sigma(W_t x(t-1) + b_t) for a ResNet,
// h(t) = sigma(W_t h(t-1) + b_t) for an MLP, t = 1..T, W_t = W for shared weights, logits
// K x(T) + k0 (or K h(T) + k0) into a softmax and mean cross-entropy. x(0) = sigma(P u + c)
// from the pixels u / 255 when the width differs from the input (the paper's 1064 units on
// 784 pixels need some such map and it does not say which), else x(0) = u. Adaptive depth:
// paper §7. Where each is written: include/resdyn.h, forward, softmax_cross_entropy,
// backward, Trainer and residual_convergence (the README's map lists them).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <string>
#include <cstdio>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "output/csv.h"
#include "quant/fixed_training.h"

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
              {"noise-reg", "LAMBDA", "0", "weight of the noise-growth penalty on the last two layers (paper §6, eq. 5; 0: off)"},
              {"shift", "PIXELS", "0", "augmentation: move each training image by a random whole-pixel offset in [-PIXELS, PIXELS] per axis, anew every epoch (0: off)"},
              {"fixed-point", "", "off", "train in Q15.16 integers with stochastic rounding (SGD; small nets)"},
              threads_flag(),
              {"limit-train", "N", "all", "train on the first N training images only"},
              {"limit-test", "N", "all", "evaluate on the first N test images only"},
              {"prune-threshold", "D", "0 (off)",
               "after each epoch, remove the last layer of a ResNet while d = mean |y(T) - y(T-1)| < D "
               "(paper §7 uses 0.01)"},
              {"prune-repeat", "", "off", "remove layers until d >= D, not just one per epoch"},
              {"prune-probe", "N", "1000", "training images on which d is measured"},
              {"patience", "P", "0 (off)", "stop when the training loss has not improved for P epochs"},
              {"out", "MODEL", "model.resdyn", "where to save the model; MODEL.csv gets the per-epoch log"},
              {"checkpoint", "PATH", "MODEL.ckpt",
               "checkpoint written atomically after every epoch and every --checkpoint-seconds; removed at the end"},
              {"checkpoint-seconds", "S", "60", "longest time between checkpoints"},
              {"resume", "PATH", "", "go on from a checkpoint with its flags (only --threads and --data may be given)"},
          }};
}

namespace {

// Set by SIGINT; the training loop saves a checkpoint and stops at the next batch.
volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_sigint(int) { interrupted = 1; }

// --fixed-point: the same net, initial weights, data order and SGD settings, trained in Q15.16
// integers (resdyn.h section 15); the model is saved in float like any other.
int run_train_fixed_point(const std::string& command, const Config& cfg, const TrainOptions& opt, const Dataset& train,
                          const Dataset& test, const std::string& out) {
  quant::FixedTrainOptions fopt;
  fopt.epochs = opt.epochs;
  fopt.batch = opt.batch;
  fopt.lr = opt.optimizer.lr;
  fopt.momentum = opt.optimizer.momentum;
  fopt.schedule = opt.optimizer.schedule;
  fopt.seed = opt.seed;
  std::printf("training in Q15.16 fixed point: %s, %s weights, %s, width %d, depth %d on %d images\n",
              cfg.arch == Arch::ResNet ? "ResNet" : "MLP", cfg.weights == Weights::Shared ? "shared" : "per-layer",
              cfg.stem ? "with stem" : "no stem", cfg.width, cfg.depth, train.count);
  std::fflush(stdout);
  output::Csv csv({"epoch", "train_loss", "test_error", "seconds"});
  double total = 0, fixed_error = 0;
  const Net<float> net = quant::train_fixed_point(cfg, train, test, fopt, [&](const quant::FixedEpoch& e) {
    std::printf("epoch %d/%d  train loss %.4f  fixed-point test error %.2f%%  %s\n", e.epoch, fopt.epochs,
                e.train_loss, 100 * e.test_error, format_duration(e.seconds).c_str());
    std::fflush(stdout);
    csv.row().cell(e.epoch).cell(e.train_loss).cell(e.test_error).cell(e.seconds);
    total += e.seconds;
    fixed_error = e.test_error;
  });
  const Evaluation ev = evaluate(net, test, opt.threads);
  std::printf("the trained weights in float: ");
  print_evaluation(stdout, ev);
  char summary[200];
  std::snprintf(summary, sizeof summary,
                "fixed_point: Q15.16\nfixed_point_test_error: %.6f\ntest_error: %.6f\ntest_images: %d\n"
                "train_images: %d\ntrain_seconds: %.1f\n",
                fixed_error, ev.error, ev.count, train.count, total);
  save_model(net, out, "command: " + command + "\n" + summary);
  csv.save(out + ".csv");
  std::printf("saved %s (%s total)\n", out.c_str(), format_duration(total).c_str());
  return 0;
}

struct Interrupted {
  std::string checkpoint;
};

// Every output is checked before the work: writable, and no two of them one file (the
// checkpoint is removed at the end, so it must be neither the model nor its log).
void check_outputs(const std::string& out, const std::string& checkpoint) {
  if (out.empty()) throw Error("train: --out is empty");
  if (checkpoint.empty()) throw Error("train: --checkpoint is empty");
  ensure_writable(out);
  ensure_writable(out + ".csv");
  ensure_writable(checkpoint);
  for (const std::string& other : {out, out + ".csv", out + ".lock"})
    if (same_path(checkpoint, other))
      throw Error("train: --checkpoint " + checkpoint + " is the same file as " + other +
                  ", which the run writes too (the checkpoint is removed at the end)");
}

// Training keeps the weights, their gradient and two Adam moments (16 bytes a parameter) and
// a batch's activations; refused above 8 GiB, naming the flags that size it.
void check_training_memory(const Config& cfg, const TrainOptions& opt) {
  constexpr double kLimit = 8.0 * (1ull << 30);
  const double params = double(layout_of(cfg).total);
  const double bytes = 16 * params + 16.0 * opt.batch * cfg.width * (cfg.depth + 2.0);
  if (bytes > kLimit) {
    char text[240];
    std::snprintf(text, sizeof text,
                  "train: --width %d with --depth %d, --weights %s and --batch %d needs about %.1f GB (%.3g "
                  "parameters), more than the limit of 8 GiB",
                  cfg.width, cfg.depth, cfg.weights == Weights::Shared ? "shared" : "per-layer", opt.batch, bytes / 1e9,
                  params);
    throw Error(text);
  }
}

// A resumed net must be the one the saved flags describe (the depth may be less: pruned).
void check_resumed_net(const Config& saved, const Config& cfg, const std::string& checkpoint) {
  auto field = [&](const char* name, long have, long want) {
    if (have != want)
      throw Error("train: " + checkpoint + ": the checkpoint's network has " + name + " " + std::to_string(have) +
                  " but its flags say " + std::to_string(want));
  };
  field("architecture code", long(saved.arch), long(cfg.arch));
  field("weight-sharing code", long(saved.weights), long(cfg.weights));
  field("width", saved.width, cfg.width);
  field("input size", saved.input, cfg.input);
  field("stem", saved.stem, cfg.stem);
  field("classes", saved.classes, cfg.classes);
  if (saved.depth > cfg.depth)
    throw Error("train: " + checkpoint + ": the checkpoint's network has depth " + std::to_string(saved.depth) +
                " but its flags say at most " + std::to_string(cfg.depth));
}

// One row of MODEL.csv.
struct EpochRow {
  int epoch = 0, depth = 0, pruned = 0;
  double train_loss = 0, convergence_d = 0, test_loss = 0, test_error = 0, seconds = 0;
};

// What the command itself must carry across a checkpoint: the flags it was started with,
// the early-stopping state and the log so far.
struct RunState {
  std::vector<std::string> args;
  double best_loss = INFINITY;
  int epochs_without_improvement = 0;
  std::vector<EpochRow> rows;
};

std::vector<uint8_t> encode_run_state(const RunState& st) {
  ByteWriter w;
  w.u64(st.args.size());
  for (const std::string& a : st.args) {
    w.u64(a.size());
    w.raw(a.data(), a.size());
  }
  w.f64(st.best_loss);
  w.u32(uint32_t(st.epochs_without_improvement));
  w.u64(st.rows.size());
  for (const EpochRow& r : st.rows) {
    for (int v : {r.epoch, r.depth, r.pruned}) w.u32(uint32_t(v));
    for (double v : {r.train_loss, r.convergence_d, r.test_loss, r.test_error, r.seconds}) w.f64(v);
  }
  return w.bytes;
}

RunState decode_run_state(const std::vector<uint8_t>& bytes, const std::string& where) {
  ByteReader r(bytes.data(), bytes.size(), where);
  RunState st;
  st.args.resize(r.count("flags", 8));
  for (std::string& a : st.args) {
    const size_t n = r.count("flag", 1);
    const uint8_t* p = r.take(n, "flag");
    a.assign(reinterpret_cast<const char*>(p), n);
  }
  st.best_loss = r.f64("best loss");
  st.epochs_without_improvement = int(r.u32("patience"));
  st.rows.resize(r.count("log", 32));
  for (EpochRow& row : st.rows) {
    row.epoch = int(r.u32("log"));
    row.depth = int(r.u32("log"));
    row.pruned = int(r.u32("log"));
    for (double* v : {&row.train_loss, &row.convergence_d, &row.test_loss, &row.test_error, &row.seconds})
      *v = r.f64("log");
  }
  if (r.left() != 0) throw Error(where + ": unexpected bytes after the run state");
  return st;
}

// The flags of a resumed run: those it started with, except --threads and --data, which may
// differ (the same bits come out on any thread count).
std::vector<std::string> resumed_args(const std::vector<std::string>& saved, const Flags& now) {
  std::vector<std::string> args;
  for (size_t i = 0; i < saved.size(); ++i) {
    const std::string& a = saved[i];
    const bool threads = a == "--threads" || a.rfind("--threads=", 0) == 0;
    const bool data = a == "--data" || a.rfind("--data=", 0) == 0;
    if ((threads && now.has("threads")) || (data && now.has("data"))) {
      if (a.find('=') == std::string::npos) ++i;  // skip its value too
      continue;
    }
    args.push_back(a);
  }
  if (now.has("threads")) args.push_back("--threads=" + now.text("threads", ""));
  if (now.has("data")) args.push_back("--data=" + now.text("data", ""));
  return args;
}

// resume: a loaded checkpoint to go on from (its net is moved out), or nullptr.
int train(const Flags& flags, const std::vector<std::string>& args, Checkpoint* resume) {
  // From here on Ctrl-C means: checkpoint after the next batch, then stop.
  interrupted = 0;
  std::signal(SIGINT, on_sigint);
  crash_point("start", 0);  // also checks RESDYN_CRASH_AT (a test facility, resdyn.h's manual)
  Config cfg;
  cfg.arch = flags.choice("arch", "resnet", {"resnet", "mlp"}) == "mlp" ? Arch::MLP : Arch::ResNet;
  cfg.weights = flags.choice("weights", "shared", {"shared", "per-layer"}) == "per-layer" ? Weights::PerLayer
                                                                                         : Weights::Shared;
  cfg.width = int(flags.integer("width", 512, 1, kMaxWidth));
  cfg.depth = int(flags.integer("depth", 10, 1, kMaxDepth));

  TrainOptions opt;
  opt.epochs = int(flags.integer("epochs", 8, 1, 100000));
  opt.batch = int(flags.integer("batch", 64, 1, 1 << 20));
  const bool fixed_point = flags.on("fixed-point", false);
  const bool sgd = flags.choice("optimizer", fixed_point ? "sgd" : "adam", {"sgd", "adam"}) == "sgd";
  if (fixed_point && !sgd) throw Error("train: --fixed-point trains with SGD only (drop --optimizer adam)");
  opt.optimizer.kind = sgd ? OptimizerKind::SGD : OptimizerKind::Adam;
  opt.optimizer.lr = flags.real("lr", sgd ? 0.05 : 2e-3, 0, 1e3);
  opt.optimizer.momentum = flags.real("momentum", 0.9, 0, 1);
  opt.optimizer.schedule =
      flags.choice("schedule", "cosine", {"cosine", "constant"}) == "cosine" ? Schedule::Cosine : Schedule::Constant;
  opt.seed = uint64_t(flags.integer("seed", 1, 0, 1L << 62));
  opt.noise_reg = flags.real("noise-reg", 0, 0, 1e6);
  opt.shift = int(flags.integer("shift", 0, 0, 1000));
  opt.threads = thread_count(flags);
  PruneOptions prune;
  prune.threshold = flags.real("prune-threshold", 0, 0, 1e9);
  prune.repeat = flags.on("prune-repeat", false);
  prune.probe_samples = int(flags.integer("prune-probe", 1000, 1, 1 << 30));
  const int patience = int(flags.integer("patience", 0, 0, 100000));
  const std::string out = flags.text("out", "model.resdyn");
  const std::string checkpoint = flags.text("checkpoint", out + ".ckpt");
  const double checkpoint_seconds = flags.real("checkpoint-seconds", 60, 0, 1e9);
  check_outputs(out, checkpoint);
  const OutputLock out_lock(out, "train: --out"), checkpoint_lock(checkpoint, "train: --checkpoint");

  const Dataset train = load_split(flags, true, flags.integer("limit-train", 0, 1, 1L << 30));
  opt.batch = std::min(opt.batch, train.count);  // a larger batch is the whole set: size nothing by the flag
  // The test set is read again for each evaluation rather than kept through training: at the
  // paper's scale every megabyte counts against the peak (weights, Adam's moments and the
  // training images fill most of it). It is read once now, so a bad test set stops the run
  // before any training.
  const long limit_test = flags.integer("limit-test", 0, 1, 1L << 30);
  auto load_test = [&] { return load_split(flags, false, limit_test); };
  cfg.input = train.rows * train.cols;
  check_image_size(load_test(), cfg, "train: the test set of " + flags.text("data", "data/mnist") + ": its ");
  cfg.stem = flags.on("stem", cfg.width != cfg.input);
  if (const char* why = config_problem(cfg)) throw Error(std::string("train: ") + why);
  check_training_memory(cfg, opt);
  if (prune.threshold > 0 && cfg.arch != Arch::ResNet)
    throw Error("train: --prune-threshold needs --arch resnet (it measures residuals y(t))");
  const bool resnet = cfg.arch == Arch::ResNet;
  std::string command = "resdyn train";  // as the model's metadata records it
  for (const std::string& a : args) command += " " + a;
  if (fixed_point) {
    if (prune.threshold > 0 || patience > 0 || opt.noise_reg > 0 || opt.shift > 0)
      throw Error("train: --fixed-point does not prune, stop early, regularise or augment");
    return run_train_fixed_point(command, cfg, opt, train, load_test(), out);
  }

  Net<float> net(cfg);
  Rng init_rng(opt.seed);
  initialise(net, init_rng);
  RunState run;
  run.args = args;
  if (resume) {
    check_resumed_net(resume->net.config, cfg, checkpoint);
    net = std::move(resume->net);
    run = decode_run_state(resume->extra, checkpoint + " (run state)");
    run.args = args;
  }
  std::printf("training %s, %s weights, %s, width %d, depth %d (%zu parameters) on %d images, %d threads\n",
              cfg.arch == Arch::ResNet ? "ResNet" : "MLP", cfg.weights == Weights::Shared ? "shared" : "per-layer",
              cfg.stem ? "with stem" : "no stem", cfg.width, net.config.depth, net.params.size(), train.count,
              opt.threads);

  Trainer<float> trainer(net, train, opt);
  if (resume) {
    restore_trainer(trainer, *resume);
    std::printf("resuming from %s: epoch %d, %s\n", checkpoint.c_str(), trainer.epochs_done(),
                trainer.mid_epoch() ? "inside the epoch" : "at its end");
  }
  std::fflush(stdout);

  auto save = [&] { save_checkpoint(checkpoint, net, "", trainer, encode_run_state(run)); };
  auto last_save = std::chrono::steady_clock::now();

  ProgressLine progress(stdout);
  Evaluation ev;
  bool stop = false;
  while (!stop && (trainer.epochs_done() < opt.epochs || trainer.mid_epoch())) {
    const auto epoch_start = std::chrono::steady_clock::now();
    const double loss = trainer.train_epoch([&](const BatchProgress& p) {
      progress.update(p);
      crash_point("step", (p.epoch - 1) * p.batches + p.batch);
      const auto now = std::chrono::steady_clock::now();
      if (interrupted) {
        progress.clear();
        save();
        throw Interrupted{checkpoint};
      }
      if (std::chrono::duration<double>(now - last_save).count() >= checkpoint_seconds && trainer.mid_epoch()) {
        save();
        last_save = now;
      }
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    progress.clear();
    EpochRow row;
    row.epoch = trainer.epochs_done();
    row.train_loss = loss;
    row.seconds = seconds;
    // Adaptive depth (paper §7): measure d after the epoch; remove the last layer while it is
    // below threshold.
    PruneStep step;
    step.d_before = NAN;
    if (resnet) step = trainer.prune_converged_layers(train, prune);
    ev = evaluate(net, load_test(), opt.threads);
    row.convergence_d = step.d_before;
    row.depth = net.config.depth;
    row.pruned = step.removed;
    row.test_loss = ev.loss;
    row.test_error = ev.error;
    run.rows.push_back(row);
    std::printf("epoch %d/%d  train loss %.4f  test loss %.4f  test error %.2f%%  %s (%.0f samples/s)", row.epoch,
                opt.epochs, loss, ev.loss, 100 * ev.error, format_duration(seconds).c_str(), train.count / seconds);
    if (resnet) std::printf("  d %.4g  depth %d", step.d_before, net.config.depth);
    if (step.removed) std::printf(" (pruned %d)", step.removed);
    std::printf("\n");
    // Early stopping: the paper trains "until the loss function is minimum".
    if (loss < run.best_loss) {
      run.best_loss = loss;
      run.epochs_without_improvement = 0;
    } else if (patience > 0 && ++run.epochs_without_improvement >= patience) {
      std::printf("training loss has not improved for %d epochs: stopping\n", patience);
      stop = true;
    }
    std::fflush(stdout);
    crash_point("epoch", trainer.epochs_done());
    if (!stop && trainer.epochs_done() < opt.epochs) {
      save();
      last_save = std::chrono::steady_clock::now();
    }
  }
  if (run.rows.empty()) ev = evaluate(net, load_test(), opt.threads);
  print_evaluation(stdout, ev);

  output::Csv csv({"epoch", "train_loss", "convergence_d", "depth", "pruned", "test_loss", "test_error", "seconds"});
  double total = 0;
  for (const EpochRow& r : run.rows) {
    csv.row().cell(r.epoch).cell(r.train_loss).cell(r.convergence_d).cell(r.depth).cell(r.pruned).cell(r.test_loss)
        .cell(r.test_error).cell(r.seconds);
    total += r.seconds;
  }
  // The metadata holds only what the same seed and flags reproduce, so the file is too.
  char summary[160];
  std::snprintf(summary, sizeof summary, "test_error: %.6f\ntest_images: %d\ntrain_images: %d\nepochs: %d\ndepth: %d\n",
                ev.error, ev.count, train.count, int(run.rows.size()), net.config.depth);
  save_model(net, out, "command: " + command + "\n" + summary);
  csv.save(out + ".csv");
  crash_point("finished", 0);
  std::remove(checkpoint.c_str());
  std::printf("saved %s (%s of training", out.c_str(), format_duration(total).c_str());
  if (const uint64_t peak = peak_resident_bytes()) std::printf("; peak memory %.0f MB", double(peak) / 1e6);
  std::printf(")\n");
  return 0;
}

}  // namespace

int run_train(const Flags& flags) {
  try {
    if (!flags.has("resume")) return train(flags, flags.args(), nullptr);
    // Resuming: the run goes on with the flags saved in the checkpoint.
    const std::string path = flags.text("resume", "");
    Checkpoint ck = load_checkpoint(path);
    const RunState saved = decode_run_state(ck.extra, path + " (run state)");
    std::vector<std::string> args = resumed_args(saved.args, flags);
    for (const std::string& a : flags.args()) {
      const bool allowed = a.rfind("--resume", 0) == 0 || a.rfind("--threads", 0) == 0 || a.rfind("--data", 0) == 0;
      if (a.rfind("--", 0) == 0 && !allowed)
        throw Error("train: with --resume only --threads and --data may be given (got " + a + ")");
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    const CommandSpec spec = train_spec();  // Flags keeps a reference to it
    const Flags resumed(spec, int(argv.size()), argv.data(), 0);
    if (resumed.text("checkpoint", resumed.text("out", "model.resdyn") + ".ckpt") != path)
      throw Error("train: " + path + " is not where this run writes its checkpoint (" +
                  resumed.text("checkpoint", resumed.text("out", "model.resdyn") + ".ckpt") + ")");
    return train(resumed, saved.args, &ck);  // the record keeps the flags the run started with
  } catch (const Interrupted& stop) {
    std::printf("interrupted: checkpoint saved; go on with: resdyn train --resume %s\n", stop.checkpoint.c_str());
    return 130;
  }
}

}  // namespace resdyn::cli
