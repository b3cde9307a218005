// resdyn quantize: a trained float model to int8 weights for the integer path (resdyn.h section 5b).
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "quant/quantised_model_file.h"

namespace resdyn::cli {

namespace {

struct QuantizeOptions {
  std::string model, out;
};

FlagTable<QuantizeOptions> quantize_flags() {
  using O = QuantizeOptions;
  FlagTable<O> t("quantize", "Quantise a float model to int8 weights (per-row scales) for the integer inference path.");
  t.text("model", "MODEL", &O::model, "float model written by 'resdyn train' (required)", {}, Need::required);
  t.text("out", "QMODEL", &O::out, "where to write the quantised model (required); 'resdyn eval' reads it", {},
         Need::required);
  return t;
}

}  // namespace

CommandSpec quantize_spec() { return quantize_flags().spec(); }

int run_quantize(const Flags& flags) {
  const QuantizeOptions given = quantize_flags().parse(flags);
  const std::string &in = given.model, &out = given.out;
  if (quant::is_quantised_model_file(in)) throw Error(in + ": already quantised");
  ensure_writable(out);
  std::string metadata;
  const Net<float> net = load_model(in, &metadata);
  const QuantizedModel q = quantise(net);
  quant::save_quantised(q, out, "quantised from: " + in + "\ncommand: " + flags.command_line() + "\n" + metadata);
  size_t bytes = 0;
  for (const auto* m : {&q.stem, &q.classifier, &q.blocks})
    bytes += m->weights.size() + m->mult.size() * 4 + m->shift.size() + m->bias.size() * 4;
  std::printf("quantised %s: %zu float parameters (%zu bytes) -> %zu bytes of int8 weights, scales and biases\n",
              in.c_str(), net.params.size(), net.params.size() * 4, bytes);
  std::printf("saved %s\n", out.c_str());
  return 0;
}

}  // namespace resdyn::cli
