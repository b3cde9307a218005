// resdyn export: a model as a C header for firmware (quantized) or as NumPy .npy files with a
// JSON manifest; optionally test digits and the host integer path's results for the firmware test.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "quant/model_export.h"
#include "quant/quantized_model_file.h"

namespace resdyn::cli {

namespace {

struct ExportOptions : CommonOptions {
  std::string model, format, out;
  int digits = 100;
  std::string digits_out, expected_out;  // empty: not written
};

FlagTable<ExportOptions> export_flags() {
  using O = ExportOptions;
  FlagTable<O> t("export", "Write a model as a C header (int8, for firmware) or as .npy files with a JSON manifest.");
  t.text("model", "MODEL", &O::model, "float or quantized model (required); c-header quantizes a float one", {},
         Need::required);
  t.choice("format", &O::format, {"c-header", "npy"}, "what to write (required)", {}, Need::required);
  t.text("out", "PATH", &O::out, "the header file, or the directory for the .npy files (required)", {}, Need::required);
  t.whole("digits", "N", &O::digits, 1, 1 << 20, "test images for --digits-out / --expected-out");
  t.text("digits-out", "PATH", &O::digits_out, "also write the first N test images as a C header");
  t.text("expected-out", "PATH", &O::expected_out, "also write the host integer path's results on those images");
  add_data_flag(t);
  return t;
}

}  // namespace

CommandSpec export_spec() { return export_flags().spec(); }

int run_export(const Flags& flags) {
  const ExportOptions given = export_flags().parse(flags);
  const std::string &path = given.model, &format = given.format, &out = given.out;
  const std::string &digits_out = given.digits_out, &expected_out = given.expected_out;
  const int digits = given.digits;
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
    const Dataset test = load_split(given.data, false, digits);
    if (!digits_out.empty()) write_text_atomically(digits_out, quant::digits_header_text(test, digits));
    if (!expected_out.empty()) write_text_atomically(expected_out, quant::expected_results_text(q, test, digits));
  }
  write_text_atomically(out, quant::c_header_text(q));
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

}  // namespace resdyn::cli
