// resdyn export: a model as a C header for firmware (quantized) or as NumPy .npy files with a
// JSON manifest; optionally test digits and the host integer path's results for the firmware test.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "quant/model_export.h"
#include "quant/quantized_model_file.h"

namespace resdyn::cli {

CommandSpec export_spec() {
  return {"export",
          "Write a model as a C header (int8, for firmware) or as .npy files with a JSON manifest.",
          {
              {"model", "MODEL", "", "float or quantized model (required); c-header quantizes a float one"},
              {"format", "c-header|npy", "", "what to write (required)"},
              {"out", "PATH", "", "the header file, or the directory for the .npy files (required)"},
              {"digits", "N", "100", "test images for --digits-out / --expected-out"},
              {"digits-out", "PATH", "", "also write the first N test images as a C header"},
              {"expected-out", "PATH", "", "also write the host integer path's results on those images"},
              data_flag(),
          }};
}

int run_export(const Flags& flags) {
  const std::string path = flags.required_text("model");
  flags.required_text("format");
  const std::string format = flags.choice("format", "", {"c-header", "npy"});
  const std::string out = flags.required_text("out");
  const std::string digits_out = flags.text("digits-out", ""), expected_out = flags.text("expected-out", "");
  const int digits = int(flags.integer("digits", 100, 1, 1 << 20));
  const bool quantized = quant::is_quantized_model_file(path);
  if (format == "npy" && !quantized) {
    quant::export_npy(load_model(path), out);
    std::printf("wrote %s/ (float tensors, manifest.json)\n", out.c_str());
    return 0;
  }
  const QuantizedModel q = quantized ? quant::load_quantized(path) : quantize(load_model(path));
  if (format == "npy") {
    quant::export_npy(q, out);
    std::printf("wrote %s/ (quantized tensors, manifest.json)\n", out.c_str());
    return 0;
  }
  ensure_writable(out);
  if (!digits_out.empty()) ensure_writable(digits_out);
  if (!expected_out.empty()) ensure_writable(expected_out);
  if (!digits_out.empty() || !expected_out.empty()) {
    const Dataset test = load_split(flags, false, digits);
    if (!digits_out.empty()) write_text_atomically(digits_out, quant::digits_header_text(test, digits));
    if (!expected_out.empty()) write_text_atomically(expected_out, quant::expected_results_text(q, test, digits));
  }
  write_text_atomically(out, quant::c_header_text(q));
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

}  // namespace resdyn::cli
