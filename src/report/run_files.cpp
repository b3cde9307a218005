#include "report/run_files.h"

#include <cmath>

#include "experiments/run_file_names.h"
#include "report/number_text.h"
#include "report/runs_layout.h"

namespace resdyn::report {

std::string ModelInfo::meta(const std::string& key) const {
  const auto it = metadata.find(key);
  return it == metadata.end() ? "" : it->second;
}

double ModelInfo::test_error() const {
  double value = NAN;
  const std::string text = meta(run_files::model_metadata::test_error);
  if (!text.empty() && !output::parse_decimal(text, value))
    throw Error(file + ": metadata: test_error '" + text + "' is not a number");
  return value;
}

std::string ModelInfo::summary() const {
  std::string text = config.weights == Weights::Shared ? "shared-weight " : "per-layer ";
  text += config.arch == Arch::ResNet ? "ResNet" : "MLP";
  text += ", " + std::to_string(config.depth) + " layers x " + std::to_string(config.width) + " units";
  if (!meta(run_files::model_metadata::epochs).empty())
    text += ", " + meta(run_files::model_metadata::epochs) + " epochs";
  if (!meta(run_files::model_metadata::train_seconds).empty()) {
    double seconds = NAN;
    if (output::parse_decimal(meta(run_files::model_metadata::train_seconds), seconds))
      text += ", trained in " + number_text(seconds / 60, 2) + " min";
  }
  text += ", test error " + percent_text(test_error());
  return text;
}

std::string RunFiles::path(const std::string& relative) const { return root_ + "/" + relative; }

bool RunFiles::exists(const std::string& relative) const {
  const bool directory = !relative.empty() && relative.back() == '/';
  return path_kind(path(relative)) == (directory ? PathKind::Directory : PathKind::Regular);
}

const output::CsvTable* RunFiles::csv(const std::string& relative) {
  auto it = csv_.find(relative);
  if (it == csv_.end()) {
    std::unique_ptr<output::CsvTable> table;
    if (exists(relative)) table = std::make_unique<output::CsvTable>(output::CsvTable::read(path(relative)));
    it = csv_.emplace(relative, std::move(table)).first;
  }
  return it->second.get();
}

const output::JsonValue* RunFiles::json(const std::string& relative) {
  auto it = json_.find(relative);
  if (it == json_.end()) {
    std::unique_ptr<output::JsonValue> value;
    if (exists(relative)) value = std::make_unique<output::JsonValue>(output::read_json(path(relative)));
    it = json_.emplace(relative, std::move(value)).first;
  }
  return it->second.get();
}

const ModelInfo* RunFiles::model(const std::string& relative) {
  auto it = models_.find(relative);
  if (it == models_.end()) {
    std::unique_ptr<ModelInfo> info;
    if (exists(relative)) {
      info = std::make_unique<ModelInfo>();
      info->file = relative;
      std::string metadata;
      info->config = load_model(path(relative), &metadata).config;
      // One "key: value" a line; lines of another shape are kept out, not refused, since
      // the metadata is free text for people first.
      std::size_t begin = 0;
      while (begin < metadata.size()) {
        std::size_t end = metadata.find('\n', begin);
        if (end == std::string::npos) end = metadata.size();
        const std::string line = metadata.substr(begin, end - begin);
        const std::size_t colon = line.find(": ");
        if (colon != std::string::npos && colon > 0)
          info->metadata.emplace(line.substr(0, colon), line.substr(colon + 2));
        begin = end + 1;
      }
    }
    it = models_.emplace(relative, std::move(info)).first;
  }
  return it->second.get();
}

const output::JsonValue* RunFiles::summary(const std::string& run_dir) { return json(summary_of(run_dir)); }

std::string RunFiles::command_of(const std::string& run_dir) {
  const std::string relative = file_in(run_dir, run_files::command);
  if (!exists(relative)) return "";
  const std::vector<uint8_t> bytes = read_file(path(relative));
  std::string text(bytes.begin(), bytes.end());
  const std::size_t end = text.find_first_of("\r\n");
  return end == std::string::npos ? text : text.substr(0, end);
}

}  // namespace resdyn::report
