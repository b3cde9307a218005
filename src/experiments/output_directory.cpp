// The output directory of an experiment; see output_directory.h.
#include "experiments/output_directory.h"

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "resdyn.h"

namespace resdyn {

void prepare_output_directory(const std::string& dir, const std::string& who) {
  if (dir.empty()) throw Error(who + ": an output directory is required");
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw Error(who + ": " + dir + ": cannot create the output directory: " + error.message());
  const std::string probe = dir + "/.write-test";
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) throw Error(who + ": " + dir + ": cannot write into the output directory");
  std::fclose(f);
  std::remove(probe.c_str());
}

}  // namespace resdyn
