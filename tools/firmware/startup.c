/* Start-up code for the Cortex-M firmware: the vector table at address 0, and the reset
 * handler that prepares memory as C expects it (copies .data from flash, zeroes .bss), turns
 * the FPU on when the build uses it, runs static constructors and calls main. Any fault ends
 * the run with a message and exit status 3 instead of a silent hang. */
#include <stddef.h>
#include <stdint.h>

#include "semihosting.h"

/* From the linker script (firmware.ld). */
extern uint32_t _data_start[], _data_end[], _data_load[], _bss_start[], _bss_end[], _stack_top[];
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

int main(void);

void reset_handler(void) {
  for (uint32_t *src = _data_load, *dst = _data_start; dst < _data_end;) *dst++ = *src++;
  for (uint32_t* dst = _bss_start; dst < _bss_end;) *dst++ = 0;
#if defined(__ARM_FP)
  /* CPACR: full access to coprocessors 10 and 11 (the FPU), before any floating-point instruction. */
  *(volatile uint32_t*)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  for (void (**f)(void) = __init_array_start; f < __init_array_end; ++f) (*f)();
  semihosting_exit(main());
}

volatile uint32_t systick_wraps = 0; /* instruction_counter.h */

void systick_handler(void) { ++systick_wraps; }

void fault_handler(void) {
  semihosting_write("firmware: fault\n");
  semihosting_exit(3);
}

/* Initial stack pointer, then the handlers of the system exceptions (ARMv7-M; Armv6-M and
 * Armv8-M read the same slots, some of them reserved). */
__attribute__((section(".vectors"), used)) void (*const vector_table[16])(void) = {
    (void (*)(void))_stack_top, reset_handler,
    fault_handler, /* NMI */
    fault_handler, /* HardFault */
    fault_handler, /* MemManage */
    fault_handler, /* BusFault */
    fault_handler, /* UsageFault */
    0, 0, 0, 0,
    fault_handler, /* SVCall */
    fault_handler, /* DebugMonitor */
    0,
    fault_handler, /* PendSV */
    systick_handler, /* SysTick */
};

/* The compiler may call these for copies and clears; there is no C library.
 * (This file is built with -ffreestanding so these loops stay loops.) */
void* memcpy(void* dst, const void* src, size_t n) {
  uint8_t* d = (uint8_t*)dst;
  const uint8_t* s = (const uint8_t*)src;
  while (n--) *d++ = *s++;
  return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
  uint8_t* d = (uint8_t*)dst;
  const uint8_t* s = (const uint8_t*)src;
  if (d < s)
    while (n--) *d++ = *s++;
  else
    while (n--) d[n] = s[n];
  return dst;
}

void* memset(void* dst, int value, size_t n) {
  uint8_t* d = (uint8_t*)dst;
  while (n--) *d++ = (uint8_t)value;
  return dst;
}

size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}
