// resdyn quantize: a trained float model to int8 weights for the integer path (resdyn.h sections 4 and 9).
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "quant/quantized_model_file.h"

namespace resdyn::cli {

namespace {

struct QuantizeOptions {
  std::string model, out;
};

FlagTable<QuantizeOptions> quantize_flags() {
  using O = QuantizeOptions;
  FlagTable<O> t("quantize", "Quantize a float model to int8 weights (per-row scales) for the integer inference path.");
  t.text("model", "MODEL", &O::model, "float model written by 'resdyn train' (required)", {}, Need::required);
  t.text("out", "QMODEL", &O::out, "where to write the quantized model (required); 'resdyn eval' reads it", {},
         Need::required);
  return t;
}

}  // namespace

CommandSpec quantize_spec() { return quantize_flags().spec(); }

int run_quantize(const Flags& flags) {
  const QuantizeOptions given = quantize_flags().parse(flags);
  const std::string &in = given.model, &out = given.out;
  if (quant::is_quantized_model_file(in)) throw Error(in + ": already quantized");
  ensure_writable(out);
  std::string metadata;
  const Net<float> net = load_model(in, &metadata);
  const QuantizedModel q = quantize(net);
  quant::save_quantized(q, out, "quantized from: " + in + "\ncommand: " + flags.command_line() + "\n" + metadata);
  size_t bytes = 0;
  for (const auto* m : {&q.stem, &q.classifier, &q.blocks})
    bytes += m->weights.size() + m->mult.size() * 4 + m->shift.size() + m->bias.size() * 4;
  std::printf("quantized %s: %zu float parameters (%zu bytes) -> %zu bytes of int8 weights, scales and biases\n",
              in.c_str(), net.params.size(), net.params.size() * 4, bytes);
  std::printf("saved %s\n", out.c_str());
  return 0;
}

}  // namespace resdyn::cli
