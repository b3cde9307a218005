// The firmware: classifies the embedded test digits with the integer forward pass of resdyn.h
// (built with RESDYN_FREESTANDING: no exceptions, RTTI or heap), prints one line per digit and
// a summary over semihosting, in the format of 'resdyn export --expected-out' so run.sh can
// compare the two line by line, and exits with 0 (or 1 if the pass refused the model).
// The instructions each inference takes are printed on separate "cost" lines: with QEMU's
// -icount shift=6 every instruction advances virtual time by 64 ns, and the board's CMSDK timer
// counts at 25 MHz (40 ns), so instructions = timer ticks * 40 / 64.
#define RESDYN_FREESTANDING
#include "resdyn.h"

#include "model.h"
#define RESDYN_DIGITS_SECTION __attribute__((section(".digits")))
#include "digits.h"
#include "semihosting.h"

namespace {

constexpr int kAccBuffer = RESDYN_MODEL_WIDTH > RESDYN_MODEL_CLASSES ? RESDYN_MODEL_WIDTH : RESDYN_MODEL_CLASSES;
static_assert(RESDYN_DIGITS_PIXELS == RESDYN_MODEL_INPUT, "digits and model disagree on the image size");

// The buffers of resdyn::quant_buffer_sizes.
int32_t g_state[RESDYN_MODEL_WIDTH];
int16_t g_input[RESDYN_MODEL_WIDTH];
uint8_t g_bytes[RESDYN_MODEL_WIDTH];
int32_t g_acc[kAccBuffer];
int32_t g_sums[RESDYN_MODEL_WIDTH];
int32_t g_logits[RESDYN_MODEL_CLASSES];

// CMSDK dual timer 1 of the MPS2 boards: free-running, 32 bits, counting down at 25 MHz.
volatile uint32_t* const kTimerLoad = reinterpret_cast<volatile uint32_t*>(0x40002000u);
volatile uint32_t* const kTimerValue = reinterpret_cast<volatile uint32_t*>(0x40002004u);
volatile uint32_t* const kTimerControl = reinterpret_cast<volatile uint32_t*>(0x40002008u);

void start_timer() {
  *kTimerLoad = 0xFFFFFFFFu;
  *kTimerControl = 0x82u;  // enable, 32-bit, free-running, no prescaler, no interrupt
}

// One output line, built without printf.
class Line {
 public:
  Line& text(const char* s) {
    while (*s && n_ < kCapacity) buf_[n_++] = *s++;
    return *this;
  }
  Line& number(long v) {
    char digits[24];
    int k = 0;
    unsigned long a = v < 0 ? 0ul - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
    do {
      digits[k++] = char('0' + a % 10);
      a /= 10;
    } while (a);
    if (v < 0) digits[k++] = '-';
    while (k && n_ < kCapacity) buf_[n_++] = digits[--k];
    return *this;
  }
  Line& hex(uint32_t v) {
    text("0x");
    for (int shift = 28; shift >= 0 && n_ < kCapacity; shift -= 4) buf_[n_++] = "0123456789abcdef"[(v >> shift) & 0xFu];
    return *this;
  }
  void print() {
    buf_[n_++] = '\n';
    buf_[n_] = '\0';
    semihosting_write(buf_);
    n_ = 0;
  }

 private:
  static constexpr int kCapacity = 400;
  char buf_[kCapacity + 2];
  int n_ = 0;
};

}  // namespace

int main() {
  const resdyn::QuantNet net = resdyn_model_net();
  const resdyn::QuantBuffers buffers{g_state, g_input, g_bytes, g_acc, g_sums};
  start_timer();
  Line line;
  int right = 0;
  uint32_t states = resdyn::fixed::checksum(nullptr, 0);
  uint64_t total_ticks = 0;
  uint32_t fewest = 0xFFFFFFFFu, most = 0;
  for (int i = 0; i < RESDYN_DIGITS_COUNT; ++i) {
    const uint32_t before = *kTimerValue;
    const bool ok = resdyn::quant_forward(net, resdyn_digit_pixels + i * RESDYN_DIGITS_PIXELS, 0, buffers, g_logits);
    const uint32_t ticks = before - *kTimerValue;  // the timer counts down
    if (!ok) {
      line.text("firmware: the forward pass refused the model").print();
      return 1;
    }
    total_ticks += ticks;
    fewest = ticks < fewest ? ticks : fewest;
    most = ticks > most ? ticks : most;
    int predicted = 0;
    for (int k = 1; k < RESDYN_MODEL_CLASSES; ++k)
      if (g_logits[k] > g_logits[predicted]) predicted = k;
    right += predicted == resdyn_digit_labels[i];
    line.text("digit ").number(i).text(" label ").number(resdyn_digit_labels[i]).text(" predicted ").number(predicted);
    line.text(" logits");
    for (int k = 0; k < RESDYN_MODEL_CLASSES; ++k) line.text(" ").number(g_logits[k]);
    line.text(" state ").hex(resdyn::fixed::checksum(g_state, RESDYN_MODEL_WIDTH)).print();
    states = resdyn::fixed::checksum(g_state, RESDYN_MODEL_WIDTH, states);
  }
  line.text("accuracy ").number(right).text("/").number(RESDYN_DIGITS_COUNT).text(" states ").hex(states).print();
  const uint64_t mean = total_ticks / RESDYN_DIGITS_COUNT;
  line.text("cost instructions per inference: mean ").number(long(mean * 40 / 64));
  line.text(" min ").number(long(uint64_t(fewest) * 40 / 64)).text(" max ").number(long(uint64_t(most) * 40 / 64));
  line.text(" (timer ticks * 40 / 64; valid under -icount shift=6)").print();
  return 0;
}
