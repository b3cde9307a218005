// What several subcommands share: the data and thread flags, and printing an evaluation.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/flags.h"
#include "resdyn.h"

namespace resdyn::cli {

// The flags every command that reads data or computes takes, with their help text.
Flag data_flag();
Flag threads_flag();

// The training or test split of --data DIR (default data/mnist), cut to the first `limit`
// samples when limit > 0.
Dataset load_split(const Flags& flags, bool train, long limit);

// --threads, defaulting to the machine's hardware threads.
int thread_count(const Flags& flags);

// Fails now, not after hours of training, when path cannot be written.
void ensure_writable(const std::string& path);

// Test error line and confusion matrix (rows: true class, columns: predicted).
void print_evaluation(std::FILE* out, const Evaluation& ev);

// The most memory this process has had resident so far, in bytes (Linux: VmHWM of
// /proc/self/status), or 0 where the system does not say.
uint64_t peak_resident_bytes();

}  // namespace resdyn::cli
