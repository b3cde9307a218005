#include "cli/common.h"

#include <cerrno>
#include <cstring>
#include <thread>

namespace resdyn::cli {

Flag data_flag() {
  return {"data", "DIR", "data/mnist", "directory with the four MNIST-format IDX files, raw or .gz"};
}

Flag threads_flag() { return {"threads", "N", "all hardware threads", "worker threads for the matrix routines"}; }

Dataset load_split(const Flags& flags, bool train, long limit) {
  return first_samples(load_mnist(flags.text("data", "data/mnist"), train), limit);
}

int thread_count(const Flags& flags) {
  const long hw = std::max(1u, std::thread::hardware_concurrency());
  return int(flags.integer("threads", hw, 1, RESDYN_MAX_THREADS));
}

void ensure_writable(const std::string& path) {
  const std::string probe = path + ".partial";
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) throw Error(path + ": cannot write: " + std::strerror(errno));
  std::fclose(f);
  std::remove(probe.c_str());
}

void print_evaluation(std::FILE* out, const Evaluation& ev) {
  std::fprintf(out, "test error %.2f%% (%d of %d misclassified), loss %.4f\n", 100.0 * ev.error,
               int(ev.error * ev.count + 0.5), ev.count, ev.loss);
  std::fprintf(out, "confusion matrix (rows: true class, columns: predicted)\n      ");
  for (int k = 0; k < ev.classes; ++k) std::fprintf(out, "%6d", k);
  std::fprintf(out, "\n");
  for (int r = 0; r < ev.classes; ++r) {
    std::fprintf(out, "%6d", r);
    for (int k = 0; k < ev.classes; ++k) std::fprintf(out, "%6d", ev.confusion[size_t(r) * ev.classes + k]);
    std::fprintf(out, "\n");
  }
}

uint64_t peak_resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  unsigned long long kib = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmHWM: %llu kB", &kib) == 1) break;
  std::fclose(f);
  return uint64_t(kib) * 1024;
}

}  // namespace resdyn::cli
