#include "cli/common.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace resdyn::cli {

Dataset load_split(const std::string& data, bool train, long limit) {
  return first_samples(load_mnist(data, train), limit);
}

int thread_count(const CommonOptions& options) { return int(options.threads.value_or(ThreadPool::hardware_threads())); }

void ensure_writable(const std::string& path) {
  if (path.empty()) throw Error("an output path is empty");
  std::error_code e;
  const auto type = std::filesystem::status(path, e).type();
  if (type == std::filesystem::file_type::directory) throw Error(path + ": cannot write: is a directory");
  if (type != std::filesystem::file_type::not_found && type != std::filesystem::file_type::regular)
    throw Error(path + ": cannot write: not a regular file");
  std::string probe;  // the name FileWriter would use, so no other run's file is touched
  std::FILE* f = create_temporary(path, probe);
  if (!f) throw Error(path + ": cannot write: " + std::strerror(errno));
  std::fclose(f);
  std::remove(probe.c_str());
}

bool same_path(const std::string& a, const std::string& b) {
  std::error_code ea, eb;
  const std::filesystem::path ca = std::filesystem::weakly_canonical(std::filesystem::absolute(a, ea), ea);
  const std::filesystem::path cb = std::filesystem::weakly_canonical(std::filesystem::absolute(b, eb), eb);
  return ea || eb ? a == b : ca == cb;
}

void check_test_set(const Dataset& test, const Config& model, const std::string& data, const std::string& model_path,
                    const std::string& who) {
  if (test.rows * test.cols != model.input)
    throw Error(who + ": the test images in " + data + " have " + std::to_string(test.rows * test.cols) +
                " pixels but " + model_path + " expects " + std::to_string(model.input));
  for (int n = 0; n < test.count; ++n)
    if (test.labels[size_t(n)] >= model.classes)
      throw Error(who + ": test sample " + std::to_string(n) + " in " + data + " has label " +
                  std::to_string(test.labels[size_t(n)]) + " but " + model_path + " has " +
                  std::to_string(model.classes) + " classes");
}

OutputLock::OutputLock(const std::string& path, const std::string& who) : lock_path_(path + ".lock") {
  for (;;) {
    fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(lock_path_ + ": cannot create the lock file: " + std::strerror(errno));
    // A run killed a moment ago holds its lock until its exit has freed its memory: wait
    // for that (3 s at most), not for a live run.
    int err = 0;
    for (int tries = 0; tries < 150; ++tries) {
      err = ::flock(fd_, LOCK_EX | LOCK_NB) == 0 ? 0 : errno;
      if (err != EWOULDBLOCK) break;
      ::usleep(20000);
    }
    if (err != 0) {
      ::close(fd_);
      fd_ = -1;
      if (err == EWOULDBLOCK)
        throw Error(who + ": " + path + " is being written by another run (" + lock_path_ + " is locked)");
      throw Error(lock_path_ + ": cannot lock: " + std::strerror(err));
    }
    // Locked; but the file may have been removed by the run that held it before us: then
    // lock the new one, or two runs could each hold a lock on a different file.
    struct stat held, named;
    if (::fstat(fd_, &held) == 0 && ::stat(lock_path_.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev)
      return;
    ::close(fd_);
    fd_ = -1;
  }
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  std::remove(lock_path_.c_str());  // while still held, so no one locks the name in between
  ::close(fd_);
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
