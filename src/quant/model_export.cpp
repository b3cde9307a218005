#include "quant/model_export.h"

#include <cstdio>
#include <vector>

#include "output/json.h"
#include "quant/npy_writer.h"

namespace resdyn::quant {

namespace {

// "name[] = { v, v, ... };" with 16 values a line.
template <class T>
void c_array(std::string& out, const char* type, const std::string& name, const T* values, size_t n,
             const char* attribute = "") {
  out += "static const " + std::string(type) + " " + name + "[" + std::to_string(n) + "]" + attribute + " = {";
  for (size_t i = 0; i < n; ++i) {
    out += i % 16 == 0 ? "\n  " : " ";
    out += std::to_string(long(values[i]));
    if (i + 1 < n) out += ",";
  }
  out += "\n};\n";
}

// The weights in the device layout (resdyn.h section 4), aligned for the kernels' word loads.
void c_matrix(std::string& out, const std::string& prefix, const QuantizedModel::Matrix& m) {
  std::vector<int8_t> packed(fixed::device_weights_size(m.rows, m.cols) * size_t(m.count));
  fixed::pack_device_weights(m.weights.data(), m.rows, m.cols, m.count, packed.data());
  c_array(out, "int8_t", prefix + "_weights", packed.data(), packed.size(), " RESDYN_MODEL_ALIGNED");
  c_array(out, "int32_t", prefix + "_mult", m.mult.data(), m.mult.size());
  c_array(out, "int8_t", prefix + "_shift", m.shift.data(), m.shift.size());
  c_array(out, "int32_t", prefix + "_bias", m.bias.data(), m.bias.size());
}

std::string c_view(const std::string& prefix, const QuantizedModel::Matrix& m) {
  return "{" + prefix + "_weights, " + prefix + "_mult, " + prefix + "_shift, " + prefix + "_bias, " +
         std::to_string(m.rows) + ", " + std::to_string(m.cols) + ", true}";
}

void architecture_json(output::Json& json, const Config& c) {
  json.key("architecture").begin_object();
  json.field("arch", c.arch == Arch::ResNet ? "resnet" : "mlp");
  json.field("weights", c.weights == Weights::Shared ? "shared" : "per-layer");
  json.field("stem", c.stem);
  json.field("input", c.input).field("width", c.width).field("depth", c.depth).field("classes", c.classes);
  json.end_object();
}

// Writes one tensor file and its manifest entry.
template <class T>
void tensor(output::Json& manifest, const std::string& dir, const std::string& name, const char* dtype,
            const std::vector<size_t>& shape, const T* data) {
  const std::string file = name + ".npy";
  const std::vector<uint8_t> bytes = encode_npy(shape, data);
  write_file_atomically(dir + "/" + file, bytes);
  std::vector<double> dims(shape.begin(), shape.end());
  manifest.begin_object().field("name", name).field("file", file).field("dtype", dtype);
  manifest.key("shape").values(dims);
  manifest.end_object();
}

// Shape of a stacked block tensor: (blocks, rows[, cols]) for per-layer nets, (rows[, cols]) for shared ones.
std::vector<size_t> block_shape(int blocks, std::vector<size_t> shape) {
  if (blocks > 1) shape.insert(shape.begin(), size_t(blocks));
  return shape;
}

}  // namespace

std::string c_header_text(const QuantizedModel& model) {
  const Config& c = model.config;
  std::string out =
      "/* A resdyn network quantized to int8, written by 'resdyn export --format c-header'.\n"
      " * Real weights of row i: q * mult[i] * 2^-shift[i], times 255 for the stem and for the layers of an\n"
      " * MLP or a shared ResNet (their integer input is a byte: round(255 v)); biases are Q19.12. The formats\n"
      " * and the forward pass: resdyn.h section 4. The weights are in the device layout (section 4: panels\n"
      " * of 4 rows, groups of 8 inputs, zero-padded), which its Cortex-M kernels read.\n"
      " * Include resdyn.h first (with RESDYN_FREESTANDING on a device) to get resdyn_model_net(). */\n"
      "#ifndef RESDYN_MODEL_H\n#define RESDYN_MODEL_H\n\n#include <stdint.h>\n\n"
      "#if defined(__GNUC__)\n#define RESDYN_MODEL_ALIGNED __attribute__((aligned(8)))\n#else\n"
      "#define RESDYN_MODEL_ALIGNED\n#endif\n\n";
  auto define = [&out](const char* name, long v) {
    out += "#define RESDYN_MODEL_" + std::string(name) + " " + std::to_string(v) + "\n";
  };
  define("ARCH", long(c.arch));
  out += "/* 0: ResNet, 1: MLP */\n";
  define("SHARED", c.weights == Weights::Shared);
  define("STEM", c.stem);
  define("INPUT", c.input);
  define("WIDTH", c.width);
  define("DEPTH", c.depth);
  define("CLASSES", c.classes);
  define("BLOCKS", model.blocks.count);
  out += "\n";
  if (c.stem) c_matrix(out, "resdyn_model_stem", model.stem);
  c_matrix(out, "resdyn_model_classifier", model.classifier);
  c_matrix(out, "resdyn_model_layers", model.blocks);
  out +=
      "\n#if defined(__cplusplus) && defined(RESDYN_H)\n"
      "static inline resdyn::QuantNet resdyn_model_net() {\n"
      "  resdyn::QuantNet net;\n"
      "  net.config.arch = resdyn::Arch(RESDYN_MODEL_ARCH);\n"
      "  net.config.weights = RESDYN_MODEL_SHARED ? resdyn::Weights::Shared : resdyn::Weights::PerLayer;\n"
      "  net.config.stem = RESDYN_MODEL_STEM != 0;\n"
      "  net.config.input = RESDYN_MODEL_INPUT;\n"
      "  net.config.width = RESDYN_MODEL_WIDTH;\n"
      "  net.config.depth = RESDYN_MODEL_DEPTH;\n"
      "  net.config.classes = RESDYN_MODEL_CLASSES;\n";
  if (c.stem) out += "  net.stem = " + c_view("resdyn_model_stem", model.stem) + ";\n";
  out += "  net.classifier = " + c_view("resdyn_model_classifier", model.classifier) + ";\n";
  out += "  net.blocks = " + c_view("resdyn_model_layers", model.blocks) + ";\n";
  out += "  net.block_count = RESDYN_MODEL_BLOCKS;\n  return net;\n}\n#endif\n\n#endif /* RESDYN_MODEL_H */\n";
  return out;
}

void export_npy(const Net<float>& net, const std::string& dir) {
  const Config& c = net.config;
  const size_t N = size_t(c.width), D = size_t(c.input), C = size_t(c.classes);
  const int blocks = net.layout.blocks;
  make_directories(dir);
  output::Json manifest;
  manifest.begin_object().field("format", "resdyn npy export").field("version", 1).field("quantized", false);
  architecture_json(manifest, c);
  manifest.field("meaning",
                 "x(0) = sigma(stem_weights u + stem_bias), u = pixels / 255 (without a stem x(0) = u); "
                 "y(t) = sigma(layer_weights[t] x(t-1) + layer_bias[t]), x(t) = x(t-1) + y(t) (ResNet) or "
                 "h(t) = sigma(...) (MLP), paper §4; logits = classifier_weights x(T) + classifier_bias");
  manifest.key("tensors").begin_array();
  if (c.stem) {
    tensor(manifest, dir, "stem_weights", "<f4", {N, D}, net.P());
    tensor(manifest, dir, "stem_bias", "<f4", {N}, net.c());
  }
  tensor(manifest, dir, "classifier_weights", "<f4", {C, N}, net.K());
  tensor(manifest, dir, "classifier_bias", "<f4", {C}, net.k0());
  // The blocks interleave W_t and b_t in the parameter vector; the files hold them apart.
  std::vector<float> W, b;
  for (int t = 1; t <= blocks; ++t) {
    W.insert(W.end(), net.W(t), net.W(t) + N * N);
    b.insert(b.end(), net.b(t), net.b(t) + N);
  }
  tensor(manifest, dir, "layer_weights", "<f4", block_shape(blocks, {N, N}), W.data());
  tensor(manifest, dir, "layer_bias", "<f4", block_shape(blocks, {N}), b.data());
  manifest.end_array().end_object();
  manifest.save(dir + "/manifest.json");
}

void export_npy(const QuantizedModel& model, const std::string& dir) {
  const Config& c = model.config;
  make_directories(dir);
  output::Json manifest;
  manifest.begin_object().field("format", "resdyn npy export").field("version", 1).field("quantized", true);
  architecture_json(manifest, c);
  manifest.field(
      "meaning",
      "real weights of row i: NAME_weights[i] * NAME_mult[i] * 2**-NAME_shift[i], times 255 for the stem "
      "and for the layers of an MLP or a shared ResNet (their integer input is a byte, round(255 v), not v); "
      "NAME_bias is Q19.12 (real value = "
      "NAME_bias / 4096); the network is the float export's: x(0) = sigma(stem u + b), "
      "x(t) = x(t-1) + sigma(W_t x(t-1) + b_t) (ResNet) or h(t) = sigma(W_t h(t-1) + b_t) (MLP)");
  manifest.key("tensors").begin_array();
  auto matrix = [&](const std::string& name, const QuantizedModel::Matrix& m) {
    const size_t rows = size_t(m.rows), cols = size_t(m.cols);
    tensor(manifest, dir, name + "_weights", "|i1", block_shape(m.count, {rows, cols}), m.weights.data());
    tensor(manifest, dir, name + "_mult", "<i4", block_shape(m.count, {rows}), m.mult.data());
    tensor(manifest, dir, name + "_shift", "|i1", block_shape(m.count, {rows}), m.shift.data());
    tensor(manifest, dir, name + "_bias", "<i4", block_shape(m.count, {rows}), m.bias.data());
  };
  if (c.stem) matrix("stem", model.stem);
  matrix("classifier", model.classifier);
  matrix("layer", model.blocks);
  manifest.end_array().end_object();
  manifest.save(dir + "/manifest.json");
}

std::string digits_header_text(const Dataset& data, int count) {
  if (count < 1 || count > data.count)
    throw Error("digits: asked for " + std::to_string(count) + " images but the set has " + std::to_string(data.count));
  const size_t D = size_t(data.rows) * data.cols;
  std::string out =
      "/* Test images for the firmware, written by 'resdyn export --digits'. Define RESDYN_DIGITS_SECTION\n"
      " * (e.g. as a section attribute) before including to place the pixels. */\n"
      "#ifndef RESDYN_DIGITS_H\n#define RESDYN_DIGITS_H\n\n#include <stdint.h>\n\n"
      "#ifndef RESDYN_DIGITS_SECTION\n#define RESDYN_DIGITS_SECTION\n#endif\n\n";
  out += "#define RESDYN_DIGITS_COUNT " + std::to_string(count) + "\n";
  out += "#define RESDYN_DIGITS_PIXELS " + std::to_string(D) + "\n\n";
  c_array(out, "uint8_t", "resdyn_digit_pixels", data.images.data(), size_t(count) * D, " RESDYN_DIGITS_SECTION");
  c_array(out, "uint8_t", "resdyn_digit_labels", data.labels.data(), size_t(count));
  out += "\n#endif /* RESDYN_DIGITS_H */\n";
  return out;
}

std::string expected_results_text(const QuantizedModel& model, const Dataset& data, int count) {
  const Config& cfg = model.config;
  if (count < 1 || count > data.count)
    throw Error("digits: asked for " + std::to_string(count) + " images but the set has " + std::to_string(data.count));
  if (data.rows * data.cols != cfg.input) throw Error("digits: image size does not match the model's input");
  const QuantRunner runner(model.view());
  std::vector<int32_t> logits(size_t(count) * cfg.classes), states(size_t(count) * cfg.width);
  runner.run(data.images.data(), count, 0, 1, logits.data(), states.data());
  std::string out;
  char buf[64];
  int right = 0;
  uint32_t all = fixed::checksum(nullptr, 0);
  for (int i = 0; i < count; ++i) {
    const int32_t* z = logits.data() + size_t(i) * cfg.classes;
    const int32_t* s = states.data() + size_t(i) * cfg.width;
    const int predicted = argmax_row(z, cfg.classes);
    right += predicted == data.labels[size_t(i)];
    out += "digit " + std::to_string(i) + " label " + std::to_string(data.labels[size_t(i)]) + " predicted " +
           std::to_string(predicted) + " logits";
    for (int k = 0; k < cfg.classes; ++k) out += " " + std::to_string(z[k]);
    std::snprintf(buf, sizeof buf, " state 0x%08x\n", unsigned(fixed::checksum(s, cfg.width)));
    out += buf;
    all = fixed::checksum(s, cfg.width, all);
  }
  std::snprintf(buf, sizeof buf, "accuracy %d/%d states 0x%08x\n", right, count, unsigned(all));
  return out + buf;
}

}  // namespace resdyn::quant
