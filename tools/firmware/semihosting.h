/* Arm semihosting (the debugger's I/O channel, which QEMU provides with -semihosting-config):
 * the program stops at "bkpt 0xAB" with an operation number in r0 and its argument in r1. */
#ifndef RESDYN_FIRMWARE_SEMIHOSTING_H
#define RESDYN_FIRMWARE_SEMIHOSTING_H

#include <stdint.h>

#define SEMIHOSTING_SYS_OPEN 0x01          /* open a host file: name, mode, name length */
#define SEMIHOSTING_SYS_CLOSE 0x02         /* close it */
#define SEMIHOSTING_SYS_WRITE0 0x04        /* print a NUL-terminated string */
#define SEMIHOSTING_SYS_WRITE 0x05         /* write bytes to a file: returns how many were NOT written */
#define SEMIHOSTING_SYS_READ 0x06          /* read bytes from a file: returns how many were NOT read */
#define SEMIHOSTING_SYS_GET_CMDLINE 0x15   /* the command line QEMU was given (-semihosting-config arg=) */
#define SEMIHOSTING_SYS_EXIT_EXTENDED 0x20 /* stop, with a reason and an exit code */
#define SEMIHOSTING_APPLICATION_EXIT 0x20026
#define SEMIHOSTING_MODE_READ_BINARY 1  /* fopen's "rb" */
#define SEMIHOSTING_MODE_WRITE_BINARY 5 /* fopen's "wb" */

static inline int semihosting_call(int operation, const void* argument) {
  register int r0 __asm__("r0") = operation;
  register const void* r1 __asm__("r1") = argument;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static inline void semihosting_write(const char* text) { semihosting_call(SEMIHOSTING_SYS_WRITE0, text); }

static inline uint32_t semihosting_length(const char* text) {
  uint32_t n = 0;
  while (text[n]) ++n;
  return n;
}

/* A handle of the host file `name` (relative to QEMU's working directory), or -1. */
static inline int semihosting_open(const char* name, int mode) {
  const uint32_t block[3] = {(uint32_t)(uintptr_t)name, (uint32_t)mode, semihosting_length(name)};
  return semihosting_call(SEMIHOSTING_SYS_OPEN, block);
}

static inline void semihosting_close(int handle) {
  const uint32_t block[1] = {(uint32_t)handle};
  semihosting_call(SEMIHOSTING_SYS_CLOSE, block);
}

/* Whether all n bytes were read (or written). */
static inline int semihosting_read(int handle, void* buffer, uint32_t n) {
  const uint32_t block[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buffer, n};
  return semihosting_call(SEMIHOSTING_SYS_READ, block) == 0;
}
static inline int semihosting_write_file(int handle, const void* buffer, uint32_t n) {
  const uint32_t block[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buffer, n};
  return semihosting_call(SEMIHOSTING_SYS_WRITE, block) == 0;
}

/* The command line into buffer (NUL-terminated); whether it fit. */
static inline int semihosting_command_line(char* buffer, uint32_t capacity) {
  uint32_t block[2] = {(uint32_t)(uintptr_t)buffer, capacity};
  return semihosting_call(SEMIHOSTING_SYS_GET_CMDLINE, block) == 0;
}

/* QEMU exits with status & 0xFF. */
static inline void semihosting_exit(int status) {
  const uint32_t block[2] = {SEMIHOSTING_APPLICATION_EXIT, (uint32_t)status};
  semihosting_call(SEMIHOSTING_SYS_EXIT_EXTENDED, block);
  for (;;) {
  }
}

#endif
