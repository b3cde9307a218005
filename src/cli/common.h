// What several subcommands share: the data and thread flags, and printing an evaluation.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli/flags.h"
#include "resdyn.h"

namespace resdyn::cli {

// The options of the flags every command that reads data or computes takes; a command's
// options struct derives from this and its table adds the flags it takes.
struct CommonOptions {
  std::string data = "data/mnist";
  std::optional<long> threads;     // unset: every hardware thread
  std::string precision = "fp32";  // of a float net's products; only where --precision is taken
};

template <class Options>
void add_data_flag(FlagTable<Options>& table) {
  table.text("data", "DIR", static_cast<std::string Options::*>(&Options::data),
             "directory with the four MNIST-format IDX files, raw or .gz");
}

template <class Options>
void add_threads_flag(FlagTable<Options>& table) {
  table.whole("threads", "N", static_cast<std::optional<long> Options::*>(&Options::threads), 1, RESDYN_MAX_THREADS,
              "worker threads for the matrix routines", {"the cores this process may run on", ""});
}

// --precision: fp32, or bf16 (operands rounded to bfloat16, sums in float: resdyn.h section 2).
// An analysis says in `scope` which of its work runs in that arithmetic; its default is fp32
// whatever precision the model was trained in (its metadata is not read).
template <class Options>
void add_precision_flag(FlagTable<Options>& table, const std::string& scope = "") {
  const std::string help =
      "arithmetic of the matrix products: float32, or bfloat16 operands with float32 sums (AMX where the CPU has it; "
      "the same bits everywhere)" +
      scope;
  const DefaultText shown{"", scope.empty() ? "" : "whatever the model was trained in"};
  table.choice("precision", static_cast<std::string Options::*>(&Options::precision), {"fp32", "bf16"}, help.c_str(),
               shown);
}
inline Precision precision_of(const CommonOptions& options) {
  return options.precision == "bf16" ? Precision::bf16 : Precision::fp32;
}

// The training or test split of the data directory, cut to the first `limit` samples when
// limit > 0.
Dataset load_split(const std::string& data, bool train, long limit);

// --threads, defaulting to the cores this process may run on.
int thread_count(const CommonOptions& options);

// Fails now, not after hours of training, when path cannot be written: an empty path, a
// directory or anything but a regular file in its place, a directory that cannot take it.
void ensure_writable(const std::string& path);

// Whether two paths name the same file once made canonical (neither need exist).
bool same_path(const std::string& a, const std::string& b);

// The test set of the data directory fits the model at model_path: as many pixels per image as its
// inputs, every label one of its classes. `who` starts the message (the command's name).
void check_test_set(const Dataset& test, const Config& model, const std::string& data, const std::string& model_path,
                    const std::string& who);

// An advisory lock on PATH.lock (flock), held while this object lives and released by the
// system when the process dies: a second run writing the same output is refused at once.
class OutputLock {
 public:
  OutputLock(const std::string& path, const std::string& who);
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  ~OutputLock();

 private:
  std::string lock_path_;
  int fd_ = -1;
};

// Test error line and confusion matrix (rows: true class, columns: predicted).
void print_evaluation(std::FILE* out, const Evaluation& ev);

// The most memory this process has had resident so far, in bytes (Linux: VmHWM of
// /proc/self/status), or 0 where the system does not say.
uint64_t peak_resident_bytes();

}  // namespace resdyn::cli
