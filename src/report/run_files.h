// The files of a runs directory (report/runs_layout.h), read when first asked for and kept:
// a file that does not exist is an answer (nullptr: "not run"), a file that exists but
// does not parse is an error naming the file and line.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "output/csv_reader.h"
#include "output/json_reader.h"
#include "resdyn.h"

namespace resdyn::report {

// What a model file says about itself: its architecture, and the metadata text that
// `resdyn train` writes into it ("command: ...", "test_error: ...", one "key: value" a line).
struct ModelInfo {
  std::string file;  // relative to the runs directory
  Config config;
  std::map<std::string, std::string> metadata;

  // The metadata value of `key`, or "" when the model does not record it.
  std::string meta(const std::string& key) const;
  // test_error from the metadata as a fraction, NaN when absent.
  double test_error() const;
  // e.g. "shared-weight ResNet, 10 layers x 512 units, 8 epochs, test error 1.79 %".
  std::string summary() const;
};

class RunFiles {
 public:
  explicit RunFiles(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  // root/relative.
  std::string path(const std::string& relative) const;
  // Whether relative names a regular file (or, ending in '/', a directory).
  bool exists(const std::string& relative) const;

  // The parsed file, or nullptr when it does not exist. Throws resdyn::Error when it
  // exists but is malformed.
  const output::CsvTable* csv(const std::string& relative);
  const output::JsonValue* json(const std::string& relative);
  const ModelInfo* model(const std::string& relative);
  // RUN_DIR's summary.json, as json().
  const output::JsonValue* summary(const std::string& run_dir);
  // The first line of RUN_DIR/command.txt, or "" when there is none.
  std::string command_of(const std::string& run_dir);

 private:
  std::string root_;
  std::map<std::string, std::unique_ptr<output::CsvTable>> csv_;
  std::map<std::string, std::unique_ptr<output::JsonValue>> json_;
  std::map<std::string, std::unique_ptr<ModelInfo>> models_;
};

}  // namespace resdyn::report
