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
#include <cmath>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "experiments/run_file_names.h"
#include "output/csv.h"
#include "quant/fixed_training.h"

namespace resdyn::cli {

namespace {

// Q15.16 training (--fixed-point) and the float trainer's two optimizers start from these rates.
constexpr double kAdamLearningRate = 2e-3, kSgdLearningRate = 0.05;

// The flags of `resdyn train`; each member's initial value is its default.
struct TrainFlags : CommonOptions {
  std::string arch = "resnet";
  std::string weights = "shared";
  int width = 512;
  int depth = 10;
  std::optional<bool> stem;  // unset: on when the width differs from the input
  int epochs = 8;
  int batch = 64;
  std::optional<std::string> optimizer;  // unset: adam, or sgd with --fixed-point
  std::optional<double> lr;              // unset: by the optimizer
  double momentum = 0.9;
  std::string schedule = "cosine";
  uint64_t seed = 1;
  double noise_reg = 0;
  int shift = 0;
  bool fixed_point = false;
  long limit_train = 0, limit_test = 0;  // 0: all
  double prune_threshold = 0;
  bool prune_repeat = false;
  int prune_probe = 1000;
  int patience = 0;
  std::string out = "model.resdyn";
  std::optional<std::string> checkpoint;  // unset: MODEL.ckpt
  double checkpoint_seconds = 60;
  std::string resume;  // read by run_train before the other flags

  std::string checkpoint_path() const { return checkpoint.value_or(out + ".ckpt"); }
};

// Table order is --help's order.
FlagTable<TrainFlags> train_flags() {
  using O = TrainFlags;
  FlagTable<O> t("train", "Train a ResNet or MLP on MNIST-format data and save it.");
  add_data_flag(t);
  t.choice("arch", &O::arch, {"resnet", "mlp"}, "residual network or its MLP twin");
  t.choice("weights", &O::weights, {"shared", "per-layer"}, "one weight matrix for every layer, or one per layer");
  t.whole("width", "N", &O::width, 1, kMaxWidth, "units per layer");
  t.whole("depth", "T", &O::depth, 1, kMaxDepth, "residual (or hidden) layers");
  t.on_off("stem", &O::stem, "input layer x(0) = sigma(P u + c)", {"on when width != 784", ""});
  t.whole("epochs", "E", &O::epochs, 1, 100000, "passes over the training set");
  t.whole("batch", "B", &O::batch, 1, 1 << 20, "minibatch size");
  t.choice("optimizer", &O::optimizer, {"sgd", "adam"}, "update rule", {"adam (sgd with --fixed-point)", ""});
  t.real("lr", "RATE", &O::lr, 0, 1e3, "peak learning rate",
         {number_text(kAdamLearningRate) + " (adam), " + number_text(kSgdLearningRate) + " (sgd)", ""});
  t.real("momentum", "M", &O::momentum, 0, 1, "SGD momentum");
  t.choice("schedule", &O::schedule, {"cosine", "constant"}, "learning rate over the run");
  t.whole("seed", "S", &O::seed, 0, 1LL << 62, "seed of initialisation and data order");
  t.real("noise-reg", "LAMBDA", &O::noise_reg, 0, 1e6,
         "weight of the noise-growth penalty on the last two layers (paper §6, eq. 5; 0: off)");
  t.whole("shift", "PIXELS", &O::shift, 0, 1000,
          "augmentation: move each training image by a random whole-pixel offset in [-PIXELS, PIXELS] per axis, "
          "anew every epoch (0: off)");
  t.on_off("fixed-point", &O::fixed_point, "train in Q15.16 integers with stochastic rounding (SGD; small nets)");
  add_precision_flag(t);
  add_threads_flag(t);
  t.whole("limit-train", "N", &O::limit_train, 1, 1L << 30, "train on the first N training images only", {"all", ""});
  t.whole("limit-test", "N", &O::limit_test, 1, 1L << 30, "evaluate on the first N test images only", {"all", ""});
  t.real("prune-threshold", "D", &O::prune_threshold, 0, 1e9,
         "after each epoch, remove the last layer of a ResNet while d = mean |y(T) - y(T-1)| < D (paper §7 uses 0.01)",
         {"", "off"});
  t.on_off("prune-repeat", &O::prune_repeat, "remove layers until d >= D, not just one per epoch");
  t.whole("prune-probe", "N", &O::prune_probe, 1, 1 << 30, "training images on which d is measured");
  t.whole("patience", "P", &O::patience, 0, 100000, "stop when the training loss has not improved for P epochs",
          {"", "off"});
  t.text("out", "MODEL", &O::out, "where to save the model; MODEL.csv gets the per-epoch log");
  t.text("checkpoint", "PATH", &O::checkpoint,
         "checkpoint written atomically after every epoch and every --checkpoint-seconds; removed at the end",
         {"MODEL.ckpt", ""});
  t.real("checkpoint-seconds", "S", &O::checkpoint_seconds, 0, 1e9, "longest time between checkpoints");
  t.text("resume", "PATH", &O::resume,
         "go on from a checkpoint with its flags (only --threads and --data may be given)");
  return t;
}

}  // namespace

CommandSpec train_spec() { return train_flags().spec(); }

namespace {

// Set by SIGINT; the training loop saves a checkpoint and stops at the next batch.
volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_sigint(int) { interrupted = 1; }

// One "key: value" line of a model's metadata, the value as printf's `format` writes it.
template <class T>
std::string metadata_line(const char* key, const char* format, T value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return std::string(key) + ": " + text + "\n";
}

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
  namespace column = run_files::epoch_log;
  output::Csv csv({column::epoch, column::train_loss, column::test_error, "seconds"});
  double total = 0, fixed_error = 0;
  const Net<float> net = quant::train_fixed_point(cfg, train, test, fopt, [&](const quant::FixedEpoch& e) {
    std::printf("epoch %d/%d  train loss %.4f  fixed-point test error %.2f%%  %s\n", e.epoch, fopt.epochs, e.train_loss,
                100 * e.test_error, format_duration(e.seconds).c_str());
    std::fflush(stdout);
    csv.row().cell(e.epoch).cell(e.train_loss).cell(e.test_error).cell(e.seconds);
    total += e.seconds;
    fixed_error = e.test_error;
  });
  const Evaluation ev = evaluate(net, test, opt.threads);
  std::printf("the trained weights in float: ");
  print_evaluation(stdout, ev);
  namespace key = run_files::model_metadata;
  const std::string metadata =
      std::string(key::command) + ": " + command + "\nfixed_point: Q15.16\n" +
      metadata_line("fixed_point_test_error", "%.6f", fixed_error) + metadata_line(key::test_error, "%.6f", ev.error) +
      metadata_line("test_images", "%d", ev.count) + metadata_line("train_images", "%d", train.count) +
      metadata_line(key::train_seconds, "%.1f", total);
  save_model(net, out, metadata);
  csv.save(out + run_files::epoch_log_suffix);
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

// The flags a resumed run may be given anew: the same bits come out on any thread count and
// from any copy of the data.
const char* const kResumeOverrides[] = {"threads", "data"};

bool is_resume_override(const std::string& name) {
  return std::find(std::begin(kResumeOverrides), std::end(kResumeOverrides), name) != std::end(kResumeOverrides);
}

// The flag an argument names ("--threads" and "--threads=4" both name threads), or "" for a value.
std::string flag_named_by(const std::string& arg) {
  if (arg.rfind("--", 0) != 0) return "";
  return arg.substr(2, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 2);
}

// The flags of a resumed run: those it started with, except the overrides given now.
std::vector<std::string> resumed_args(const std::vector<std::string>& saved, const Flags& now) {
  std::vector<std::string> args;
  for (const std::string& arg : now.args()) {
    const std::string name = flag_named_by(arg);
    if (!name.empty() && name != "resume" && !is_resume_override(name))
      throw Error("train: with --resume only --threads and --data may be given (got " + arg + ")");
  }
  for (size_t i = 0; i < saved.size(); ++i) {
    const std::string name = flag_named_by(saved[i]);
    if (is_resume_override(name) && now.has(name)) {
      if (saved[i].find('=') == std::string::npos) ++i;  // skip its value too
      continue;
    }
    args.push_back(saved[i]);
  }
  for (const char* name : kResumeOverrides)
    if (now.has(name)) args.push_back(std::string("--") + name + "=" + now.text(name, ""));
  return args;
}

// What the flags make of a training run, checked before any data is read.
struct TrainSetup {
  Config cfg;
  TrainOptions opt;
  PruneOptions prune;
  bool fixed_point = false;
  std::string checkpoint;
};

TrainSetup setup_of(const TrainFlags& f) {
  TrainSetup s;
  s.cfg.arch = f.arch == "mlp" ? Arch::MLP : Arch::ResNet;
  s.cfg.weights = f.weights == "per-layer" ? Weights::PerLayer : Weights::Shared;
  s.cfg.width = f.width;
  s.cfg.depth = f.depth;
  s.opt.epochs = f.epochs;
  s.opt.batch = f.batch;
  s.fixed_point = f.fixed_point;
  const bool sgd = f.optimizer.value_or(f.fixed_point ? "sgd" : "adam") == "sgd";
  if (f.fixed_point && !sgd) throw Error("train: --fixed-point trains with SGD only (drop --optimizer adam)");
  s.opt.optimizer.kind = sgd ? OptimizerKind::SGD : OptimizerKind::Adam;
  s.opt.optimizer.lr = f.lr.value_or(sgd ? kSgdLearningRate : kAdamLearningRate);
  s.opt.optimizer.momentum = f.momentum;
  s.opt.optimizer.schedule = f.schedule == "cosine" ? Schedule::Cosine : Schedule::Constant;
  s.opt.seed = f.seed;
  s.opt.noise_reg = f.noise_reg;
  s.opt.shift = f.shift;
  s.opt.threads = thread_count(f);
  s.opt.precision = precision_of(f);
  s.prune.threshold = f.prune_threshold;
  s.prune.repeat = f.prune_repeat;
  s.prune.probe_samples = f.prune_probe;
  s.checkpoint = f.checkpoint_path();
  return s;
}

// The checks that need the data: the input size it gives the net, and what that net needs.
void check_against_data(TrainSetup& s, const TrainFlags& f, const Dataset& train, const Dataset& test) {
  s.opt.batch = std::min(s.opt.batch, train.count);  // a larger batch is the whole set: size nothing by the flag
  s.cfg.input = train.rows * train.cols;
  check_image_size(test, s.cfg, "train: the test set of " + f.data + ": its ");
  s.cfg.stem = f.stem.value_or(s.cfg.width != s.cfg.input);
  if (const char* why = config_problem(s.cfg)) throw Error(std::string("train: ") + why);
  check_training_memory(s.cfg, s.opt);
  if (s.prune.threshold > 0 && s.cfg.arch != Arch::ResNet)
    throw Error("train: --prune-threshold needs --arch resnet (it measures residuals y(t))");
  if (s.fixed_point && (s.prune.threshold > 0 || f.patience > 0 || s.opt.noise_reg > 0 || s.opt.shift > 0))
    throw Error("train: --fixed-point does not prune, stop early, regularise or augment");
  if (s.fixed_point && s.opt.precision != Precision::fp32)
    throw Error("train: --fixed-point trains in integers: --precision does not apply");
}

// The net's test error and loss, its products in the run's precision.
Evaluation evaluate_test(const Net<float>& net, const TrainSetup& s, const TrainFlags& f) {
  const PackedNet<float>* unpacked = nullptr;
  return evaluate(net, load_split(f.data, false, f.limit_test), s.opt.threads, 0, 256, unpacked, s.opt.precision);
}

// The epoch log MODEL.csv, one row an epoch.
output::Csv epoch_log(const std::vector<EpochRow>& rows) {
  namespace column = run_files::epoch_log;
  output::Csv csv({column::epoch, column::train_loss, column::convergence_d, column::depth, "pruned", "test_loss",
                   column::test_error, "seconds"});
  for (const EpochRow& r : rows)
    csv.row()
        .cell(r.epoch)
        .cell(r.train_loss)
        .cell(r.convergence_d)
        .cell(r.depth)
        .cell(r.pruned)
        .cell(r.test_loss)
        .cell(r.test_error)
        .cell(r.seconds);
  return csv;
}

// The run's outputs: the model with its metadata, the epoch log beside it, and the summary
// printed last; the checkpoint is removed once they are written.
void save_outputs(const Net<float>& net, const std::string& command, const Evaluation& ev, const Dataset& train,
                  const RunState& run, const std::string& out, const std::string& checkpoint, Precision precision) {
  namespace key = run_files::model_metadata;
  print_evaluation(stdout, ev);
  double total = 0;
  for (const EpochRow& r : run.rows) total += r.seconds;
  // The metadata holds only what the same seed and flags reproduce, so the file is too.
  const std::string metadata =
      std::string(key::command) + ": " + command + "\n" + metadata_line(key::test_error, "%.6f", ev.error) +
      metadata_line("test_images", "%d", ev.count) + metadata_line("train_images", "%d", train.count) +
      metadata_line(key::epochs, "%d", int(run.rows.size())) + metadata_line("depth", "%d", net.config.depth) +
      metadata_line("precision", "%s", precision_name(precision));
  save_model(net, out, metadata);
  epoch_log(run.rows).save(out + run_files::epoch_log_suffix);
  crash_point("finished", 0);
  std::remove(checkpoint.c_str());
  std::printf("saved %s (%s of training", out.c_str(), format_duration(total).c_str());
  if (const uint64_t peak = peak_resident_bytes()) std::printf("; peak memory %.0f MB", double(peak) / 1e6);
  std::printf(")\n");
}

// The line printed after each epoch, and the early stop (the paper trains "until the loss
// function is minimum"): whether training stops now.
bool after_epoch(const EpochRow& row, const TrainSetup& s, int patience, double samples_per_second, RunState& run) {
  std::printf("epoch %d/%d  train loss %.4f  test loss %.4f  test error %.2f%%  %s (%.0f samples/s)", row.epoch,
              s.opt.epochs, row.train_loss, row.test_loss, 100 * row.test_error, format_duration(row.seconds).c_str(),
              samples_per_second);
  if (s.cfg.arch == Arch::ResNet) std::printf("  d %.4g  depth %d", row.convergence_d, row.depth);
  if (row.pruned) std::printf(" (pruned %d)", row.pruned);
  std::printf("\n");
  bool stop = false;
  if (row.train_loss < run.best_loss) {
    run.best_loss = row.train_loss;
    run.epochs_without_improvement = 0;
  } else if (patience > 0 && ++run.epochs_without_improvement >= patience) {
    std::printf("training loss has not improved for %d epochs: stopping\n", patience);
    stop = true;
  }
  std::fflush(stdout);
  return stop;
}

// The epochs left, checkpointing after each one and every checkpoint_seconds inside one, and
// on Ctrl-C (then throws Interrupted). Returns the last evaluation.
Evaluation run_epochs(Trainer<float>& trainer, Net<float>& net, const TrainSetup& s, const TrainFlags& f,
                      const Dataset& train, RunState& run) {
  auto save = [&] { save_checkpoint(s.checkpoint, net, "", trainer, encode_run_state(run)); };
  double last_save = monotonic_seconds();
  ProgressLine progress(stdout);
  Evaluation ev;
  bool stop = false;
  while (!stop && (trainer.epochs_done() < s.opt.epochs || trainer.mid_epoch())) {
    const double epoch_start = monotonic_seconds();
    const double loss = trainer.train_epoch([&](const BatchProgress& p) {
      progress.update(p);
      crash_point("step", (p.epoch - 1) * p.batches + p.batch);
      const double now = monotonic_seconds();
      if (interrupted) {
        progress.clear();
        save();
        throw Interrupted{s.checkpoint};
      }
      if (now - last_save >= f.checkpoint_seconds && trainer.mid_epoch()) {
        save();
        last_save = now;
      }
    });
    const double seconds = monotonic_seconds() - epoch_start;
    progress.clear();
    // Adaptive depth (paper §7): measure d after the epoch; remove the last layer while it is
    // below threshold.
    PruneStep step;
    step.d_before = NAN;
    if (s.cfg.arch == Arch::ResNet) step = trainer.prune_converged_layers(train, s.prune);
    ev = evaluate_test(net, s, f);
    EpochRow row;
    row.epoch = trainer.epochs_done();
    row.train_loss = loss;
    row.seconds = seconds;
    row.convergence_d = step.d_before;
    row.depth = net.config.depth;
    row.pruned = step.removed;
    row.test_loss = ev.loss;
    row.test_error = ev.error;
    run.rows.push_back(row);
    stop = after_epoch(row, s, f.patience, train.count / seconds, run);
    crash_point("epoch", trainer.epochs_done());
    if (!stop && trainer.epochs_done() < s.opt.epochs) {
      save();
      last_save = monotonic_seconds();
    }
  }
  return ev;
}

// args: the flags as the model's metadata records them; resume: a loaded checkpoint to go on
// from (its net is moved out), or nullptr.
int train(const TrainFlags& f, const std::vector<std::string>& args, Checkpoint* resume) {
  // From here on Ctrl-C means: checkpoint after the next batch, then stop.
  interrupted = 0;
  std::signal(SIGINT, on_sigint);
  crash_point("start", 0);  // also checks RESDYN_CRASH_AT (a test facility, resdyn.h's manual)
  TrainSetup s = setup_of(f);
  check_outputs(f.out, s.checkpoint);
  const OutputLock out_lock(f.out, "train: --out"), checkpoint_lock(s.checkpoint, "train: --checkpoint");
  const Dataset train = load_split(f.data, true, f.limit_train);
  // The test set is read again for each evaluation rather than kept through training: at the
  // paper's scale every megabyte counts against the peak (weights, Adam's moments and the
  // training images fill most of it). It is read once now, so a bad test set stops the run
  // before any training.
  check_against_data(s, f, train, load_split(f.data, false, f.limit_test));
  std::string command = "resdyn train";  // as the model's metadata records it
  for (const std::string& a : args) command += " " + a;
  if (s.fixed_point)
    return run_train_fixed_point(command, s.cfg, s.opt, train, load_split(f.data, false, f.limit_test), f.out);

  Net<float> net(s.cfg);
  Rng init_rng(s.opt.seed);
  initialise(net, init_rng);
  RunState run;
  if (resume) {
    check_resumed_net(resume->net.config, s.cfg, s.checkpoint);
    net = std::move(resume->net);
    run = decode_run_state(resume->extra, s.checkpoint + " (run state)");
  }
  run.args = args;
  std::printf("training %s, %s weights, %s, width %d, depth %d (%zu parameters) on %d images, %d threads, %s\n",
              s.cfg.arch == Arch::ResNet ? "ResNet" : "MLP", s.cfg.weights == Weights::Shared ? "shared" : "per-layer",
              s.cfg.stem ? "with stem" : "no stem", s.cfg.width, net.config.depth, net.params.size(), train.count,
              s.opt.threads, f.precision.c_str());
  Trainer<float> trainer(net, train, s.opt);
  if (resume) {
    restore_trainer(trainer, *resume);
    std::printf("resuming from %s: epoch %d, %s\n", s.checkpoint.c_str(), trainer.epochs_done(),
                trainer.mid_epoch() ? "inside the epoch" : "at its end");
  }
  std::fflush(stdout);
  Evaluation ev = run_epochs(trainer, net, s, f, train, run);
  if (run.rows.empty()) ev = evaluate_test(net, s, f);
  save_outputs(net, command, ev, train, run, f.out, s.checkpoint, s.opt.precision);
  return 0;
}

}  // namespace

int run_train(const Flags& flags) {
  try {
    if (!flags.has("resume")) return train(train_flags().parse(flags), flags.args(), nullptr);
    // Resuming: the run goes on with the flags saved in the checkpoint.
    const std::string path = flags.text("resume", "");
    Checkpoint ck = load_checkpoint(path);
    const RunState saved = decode_run_state(ck.extra, path + " (run state)");
    std::vector<std::string> args = resumed_args(saved.args, flags);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    const FlagTable<TrainFlags> table = train_flags();  // Flags keeps a reference to its spec
    const TrainFlags resumed = table.parse(Flags(table.spec(), int(argv.size()), argv.data(), 0));
    if (resumed.checkpoint_path() != path)
      throw Error("train: " + path + " is not where this run writes its checkpoint (" + resumed.checkpoint_path() +
                  ")");
    return train(resumed, saved.args, &ck);  // the record keeps the flags the run started with
  } catch (const Interrupted& stop) {
    std::printf("interrupted: checkpoint saved; go on with: resdyn train --resume %s\n", stop.checkpoint.c_str());
    return 130;
  }
}

}  // namespace resdyn::cli
