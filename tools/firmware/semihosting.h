/* Arm semihosting (the debugger's I/O channel, which QEMU provides with -semihosting-config):
 * the program stops at "bkpt 0xAB" with an operation number in r0 and its argument in r1. */
#ifndef RESDYN_FIRMWARE_SEMIHOSTING_H
#define RESDYN_FIRMWARE_SEMIHOSTING_H

#include <stdint.h>

#define SEMIHOSTING_SYS_WRITE0 0x04        /* print a NUL-terminated string */
#define SEMIHOSTING_SYS_EXIT_EXTENDED 0x20 /* stop, with a reason and an exit code */
#define SEMIHOSTING_APPLICATION_EXIT 0x20026

static inline int semihosting_call(int operation, const void* argument) {
  register int r0 __asm__("r0") = operation;
  register const void* r1 __asm__("r1") = argument;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static inline void semihosting_write(const char* text) { semihosting_call(SEMIHOSTING_SYS_WRITE0, text); }

/* QEMU exits with status & 0xFF. */
static inline void semihosting_exit(int status) {
  const uint32_t block[2] = {SEMIHOSTING_APPLICATION_EXIT, (uint32_t)status};
  semihosting_call(SEMIHOSTING_SYS_EXIT_EXTENDED, block);
  for (;;) {
  }
}

#endif
