// The firmware: classifies the MNIST test set with the integer forward pass of resdyn.h (built
// with RESDYN_FREESTANDING: no exceptions, RTTI or heap). It streams the images and labels from
// the host's IDX files through semihosting (t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte
// in QEMU's working directory), one image at a time, and writes one line per image and a
// summary to results.txt there, in the format of 'resdyn export --expected-out', so run.sh can
// compare the two line by line. The console gets the count, the errors and the cost.
// Command line (QEMU's -semihosting-config arg=...): "firmware [N]" runs the first N images.
// The instructions each inference takes are counted with SysTick (instruction_counter.h): valid
// only under QEMU's -icount. Exit status 0, or 1 when a file or the model is wrong.
#define RESDYN_FREESTANDING
#include "resdyn.h"

#include "instruction_counter.h"
#include "model.h"
#include "semihosting.h"

namespace {

constexpr int kAccBuffer = RESDYN_MODEL_WIDTH > RESDYN_MODEL_CLASSES ? RESDYN_MODEL_WIDTH : RESDYN_MODEL_CLASSES;
constexpr int kInputBuffer =
    RESDYN_MODEL_STEM && RESDYN_MODEL_INPUT > RESDYN_MODEL_WIDTH ? RESDYN_MODEL_INPUT : RESDYN_MODEL_WIDTH;

// The buffers of resdyn::quant_buffer_sizes, and one image.
int32_t g_state[RESDYN_MODEL_WIDTH];
alignas(8) int16_t g_input[kInputBuffer];  // 8-byte aligned: the DSP kernel's LDRD
uint8_t g_bytes[RESDYN_MODEL_WIDTH];
int32_t g_acc[kAccBuffer];
int32_t g_sums[RESDYN_MODEL_WIDTH];
int32_t g_logits[RESDYN_MODEL_CLASSES];
uint8_t g_pixels[RESDYN_MODEL_INPUT];

// With the DSP extension (not Helium's, which needs none of it), a net's one W is widened once
// into RAM (resdyn.h: widen_device_weights) when its layers read bytes (a shared ResNet, an MLP:
// the kernel reads the widened W for byte inputs only) and the widened W, padded to the device
// layout, takes at most half of the RAM budget (FIRMWARE_RAM_BYTES, from run.sh); else the
// kernel reads the int8 W from flash, with the same integers.
#define FIRMWARE_PADDED_LAYER_BYTES (((RESDYN_MODEL_WIDTH + 3) / 4 * 4) * ((RESDYN_MODEL_WIDTH + 7) / 8 * 8))
#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE) && RESDYN_MODEL_BLOCKS == 1 && \
    (RESDYN_MODEL_SHARED || RESDYN_MODEL_ARCH == 1) && 2 * FIRMWARE_PADDED_LAYER_BYTES <= FIRMWARE_RAM_BYTES / 2
#define FIRMWARE_WIDE_LAYER
static_assert(FIRMWARE_PADDED_LAYER_BYTES == resdyn::fixed::device_weights_size(RESDYN_MODEL_WIDTH, RESDYN_MODEL_WIDTH),
              "the preprocessor's size of a layer differs from resdyn.h's");
alignas(8) int32_t g_wide_layer[FIRMWARE_PADDED_LAYER_BYTES / 2];
#endif

// Lines of text, written to a host file (or the console) a buffer at a time, without printf.
class Output {
 public:
  explicit Output(int handle) : handle_(handle) {}
  void write_to(int handle) { handle_ = handle; }
  Output& text(const char* s) {
    while (*s) put(*s++);
    return *this;
  }
  Output& number(long long v) {
    char digits[24];
    int k = 0;
    unsigned long long a = v < 0 ? 0ull - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
    do {
      digits[k++] = char('0' + a % 10);
      a /= 10;
    } while (a);
    if (v < 0) digits[k++] = '-';
    while (k) put(digits[--k]);
    return *this;
  }
  Output& hex(uint32_t v) {
    text("0x");
    for (int shift = 28; shift >= 0; shift -= 4) put("0123456789abcdef"[(v >> shift) & 0xFu]);
    return *this;
  }
  // Ends the line; the console gets every line at once, a file whenever the buffer is full.
  Output& line() {
    put('\n');
    if (handle_ < 0) flush();
    return *this;
  }
  bool flush() {
    bool ok = true;
    if (handle_ < 0) {
      buf_[n_] = '\0';
      semihosting_write(buf_);
    } else if (n_) {
      ok = semihosting_write_file(handle_, buf_, uint32_t(n_)) != 0;
    }
    n_ = 0;
    ok_ = ok_ && ok;
    return ok_;  // whether every write so far succeeded
  }

 private:
  void put(char c) {
    if (n_ == kCapacity) flush();
    buf_[n_++] = c;
  }
  static constexpr int kCapacity = 2048;
  char buf_[kCapacity + 1];
  int n_ = 0;
  int handle_;
  bool ok_ = true;
};

Output g_console(-1);
Output g_results(-1);  // results.txt, once it is open (write_to)

int fail(const char* what) {
  g_console.text("firmware: ").text(what).line();
  return 1;
}

uint32_t big_endian(const uint8_t* b) {
  return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}

// The image count of both IDX files, after checking their headers against each other and the
// model; 0 if they do not fit.
uint32_t open_test_set(int images, int labels) {
  uint8_t head[16];
  if (!semihosting_read(images, head, 16) || big_endian(head) != 0x803u) return 0;
  const uint32_t count = big_endian(head + 4);
  if (big_endian(head + 8) * big_endian(head + 12) != RESDYN_MODEL_INPUT) return 0;
  if (!semihosting_read(labels, head, 8) || big_endian(head) != 0x801u || big_endian(head + 4) != count) return 0;
  return count;
}

// The N of "firmware N", or `otherwise`.
uint32_t images_asked(uint32_t otherwise) {
  char line[64];
  if (!semihosting_command_line(line, sizeof line)) return otherwise;
  const char* p = line;
  while (*p && *p != ' ') ++p;
  while (*p == ' ') ++p;
  if (*p < '0' || *p > '9') return otherwise;
  uint32_t n = 0;
  while (*p >= '0' && *p <= '9') n = n * 10 + uint32_t(*p++ - '0');
  return n < otherwise ? n : otherwise;
}

int predicted_class() {
  int predicted = 0;
  for (int k = 1; k < RESDYN_MODEL_CLASSES; ++k)
    if (g_logits[k] > g_logits[predicted]) predicted = k;
  return predicted;
}

// Ticks per million instructions: a loop of exactly 1,000,000 (SUBS, BNE) under -icount.
uint64_t calibrate() { return ticks_of_loop(500000u); }

}  // namespace

int main() {
  const resdyn::QuantNet net = resdyn_model_net();
  resdyn::QuantBuffers buffers{g_state, g_input, g_bytes, g_acc, g_sums};
#if defined(FIRMWARE_WIDE_LAYER)
  resdyn::fixed::widen_device_weights(resdyn_model_layers_weights, sizeof resdyn_model_layers_weights, g_wide_layer);
  buffers.wide_layer = g_wide_layer;
#endif
  const int images = semihosting_open("t10k-images-idx3-ubyte", SEMIHOSTING_MODE_READ_BINARY);
  const int labels = semihosting_open("t10k-labels-idx1-ubyte", SEMIHOSTING_MODE_READ_BINARY);
  const int results = semihosting_open("results.txt", SEMIHOSTING_MODE_WRITE_BINARY);
  if (images < 0 || labels < 0 || results < 0) return fail("cannot open the test set or results.txt");
  const uint32_t count = images_asked(open_test_set(images, labels));
  if (count == 0) return fail("the test set's files do not match each other or the model");
  Output& out = g_results;
  out.write_to(results);
  ticks_start();
  const uint64_t ticks_per_million = calibrate();
  uint64_t total = 0, fewest = ~0ull, most = 0;
  uint32_t right = 0, states = resdyn::fixed::checksum(nullptr, 0);
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t label;
    if (!semihosting_read(images, g_pixels, sizeof g_pixels) || !semihosting_read(labels, &label, 1))
      return fail("the test set ended early");
    const uint64_t before = ticks_now();
    const bool ok = resdyn::quant_forward(net, g_pixels, 0, buffers, g_logits);
    const uint64_t ticks = ticks_now() - before;
    if (!ok) return fail("the forward pass refused the model");
    total += ticks;
    fewest = ticks < fewest ? ticks : fewest;
    most = ticks > most ? ticks : most;
    const int predicted = predicted_class();
    right += predicted == label;
    out.text("digit ").number(i).text(" label ").number(label).text(" predicted ").number(predicted).text(" logits");
    for (int k = 0; k < RESDYN_MODEL_CLASSES; ++k) out.text(" ").number(g_logits[k]);
    out.text(" state ").hex(resdyn::fixed::checksum(g_state, RESDYN_MODEL_WIDTH)).line();
    states = resdyn::fixed::checksum(g_state, RESDYN_MODEL_WIDTH, states);
  }
  out.text("accuracy ").number(right).text("/").number(count).text(" states ").hex(states).line();
  if (!out.flush()) return fail("cannot write results.txt");
  semihosting_close(results);
  semihosting_close(labels);
  semihosting_close(images);
  g_console.text("images ").number(count).text(" errors ").number(count - right).line();
  const uint64_t million = 1000000;
  g_console.text("cost instructions per inference: mean ").number(total * million / (ticks_per_million * count));
  g_console.text(" min ").number(fewest * million / ticks_per_million);
  g_console.text(" max ").number(most * million / ticks_per_million);
  g_console.text(" (SysTick: ").number(ticks_per_million).text(" ticks per million instructions; valid under -icount)");
  g_console.line();
  return 0;
}
