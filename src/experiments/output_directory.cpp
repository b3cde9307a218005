// The output directory of an experiment; see output_directory.h.
#include "experiments/output_directory.h"

#include <cstdio>

#include "resdyn.h"

namespace resdyn {

void prepare_output_directory(const std::string& dir, const std::string& who) {
  if (dir.empty()) throw Error(who + ": an output directory is required");
  const PathKind kind = path_kind(dir);
  if (kind != PathKind::Missing && kind != PathKind::Directory)
    throw Error(who + ": " + dir + ": not a directory (the output directory)");
  try {
    make_directories(dir);
  } catch (const Error& e) {
    throw Error(who + ": " + e.what() + " (the output directory)");
  }
  std::string probe;  // a name of its own, so another run's files are never touched
  std::FILE* f = create_temporary(dir + "/.write-test", probe);
  if (!f) throw Error(who + ": " + dir + ": cannot write into the output directory");
  std::fclose(f);
  std::remove(probe.c_str());
}

void check_output_directory(const std::string& dir, const std::string& who) {
  if (dir.empty()) throw Error(who + ": an output directory is required");
  // The nearest part of the path that exists: the directory the first new one is made in.
  std::string existing = dir;
  while (path_kind(existing) == PathKind::Missing) {
    while (existing.size() > 1 && existing.back() == '/') existing.pop_back();
    const size_t slash = existing.find_last_of('/');
    if (slash == std::string::npos) {
      existing = ".";
      break;
    }
    existing.resize(slash == 0 ? 1 : slash);
  }
  if (path_kind(existing) != PathKind::Directory)
    throw Error(who + ": " + dir + ": cannot be the output directory: " + existing + " is not a directory");
  std::string probe;  // a name of its own, so another run's files are never touched
  std::FILE* f = create_temporary(existing + "/.write-test", probe);
  if (!f) throw Error(who + ": " + dir + ": cannot write into " + existing);
  std::fclose(f);
  std::remove(probe.c_str());
}

}  // namespace resdyn
