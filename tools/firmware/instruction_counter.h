/* Counting the instructions the firmware executes, on any Cortex-M board QEMU emulates: the
 * core's SysTick timer counts processor clock ticks, and under QEMU's -icount shift=N each
 * instruction advances virtual time by 2^N ns, so ticks are proportional to instructions. The
 * ratio (which depends on the board's clock) is measured once by timing a loop of a known
 * number of instructions. Without -icount the timer follows the host's clock and the counts
 * mean nothing. The 24-bit counter wraps every 2^24 ticks; its interrupt counts the wraps. */
#ifndef RESDYN_FIRMWARE_INSTRUCTION_COUNTER_H
#define RESDYN_FIRMWARE_INSTRUCTION_COUNTER_H

#include <stdint.h>

#define SYSTICK_CSR ((volatile uint32_t*)0xE000E010u) /* control and status */
#define SYSTICK_RVR ((volatile uint32_t*)0xE000E014u) /* reload value */
#define SYSTICK_CVR ((volatile uint32_t*)0xE000E018u) /* current value, counting down */
#define SYSTICK_RELOAD 0xFFFFFFu

#ifdef __cplusplus
extern "C" {
#endif
extern volatile uint32_t systick_wraps; /* incremented by the SysTick handler (startup.c) */
#ifdef __cplusplus
}
#endif

static inline void ticks_start(void) {
  *SYSTICK_RVR = SYSTICK_RELOAD;
  *SYSTICK_CVR = 0;
  *SYSTICK_CSR = 7u; /* processor clock, interrupt on wrap, enabled */
}

/* Ticks since ticks_start(), read consistently around a wrap. */
static inline uint64_t ticks_now(void) {
  uint32_t wraps, value;
  do {
    wraps = systick_wraps;
    value = *SYSTICK_CVR;
  } while (wraps != systick_wraps);
  return (uint64_t)wraps * (SYSTICK_RELOAD + 1u) + (SYSTICK_RELOAD - value);
}

/* Ticks taken by 2 * iterations instructions (SUBS and BNE, iterations times). */
static inline uint64_t ticks_of_loop(uint32_t iterations) {
  const uint64_t before = ticks_now();
  __asm__ volatile(".syntax unified\n1:\tsubs %0, %0, #1\n\tbne 1b" : "+l"(iterations) : : "cc");
  return ticks_now() - before;
}

#endif
