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
  const auto type = std::filesystem::status(dir, error).type();
  if (type != std::filesystem::file_type::not_found && type != std::filesystem::file_type::directory)
    throw Error(who + ": " + dir + ": not a directory (the output directory)");
  std::filesystem::create_directories(dir, error);
  if (error) throw Error(who + ": " + dir + ": cannot create the output directory: " + error.message());
  std::string probe;  // a name of its own, so another run's files are never touched
  std::FILE* f = create_temporary(dir + "/.write-test", probe);
  if (!f) throw Error(who + ": " + dir + ": cannot write into the output directory");
  std::fclose(f);
  std::remove(probe.c_str());
}

void check_output_directory(const std::string& dir, const std::string& who) {
  if (dir.empty()) throw Error(who + ": an output directory is required");
  std::filesystem::path existing = std::filesystem::absolute(dir);
  std::error_code error;
  while (std::filesystem::status(existing, error).type() == std::filesystem::file_type::not_found &&
         existing.has_parent_path() && existing.parent_path() != existing)
    existing = existing.parent_path();
  if (std::filesystem::status(existing, error).type() != std::filesystem::file_type::directory)
    throw Error(who + ": " + dir + ": cannot be the output directory: " + existing.string() + " is not a directory");
  std::string probe;  // a name of its own, so another run's files are never touched
  std::FILE* f = create_temporary(existing.string() + "/.write-test", probe);
  if (!f) throw Error(who + ": " + dir + ": cannot write into " + existing.string());
  std::fclose(f);
  std::remove(probe.c_str());
}

}  // namespace resdyn
