/*
 * Runtime of the bare-metal ISA test programs (start.S, runtime.c).
 *
 * A program defines main(); it runs in M-mode with a stack, traps go to
 * m_trap (or, when delegated, s_trap) which record what happened and
 * resume after the trapping instruction, or at *_trap.resume if set.
 * Results are printed as one "name value" line per check on the ns16550
 * at 0x10000000 so that two runs compare as text; finish() ends the run
 * through the sifive_test device at 0x100000.
 */
#ifndef ISA_H
#define ISA_H

#include <stdint.h>

typedef uint64_t u64;
typedef int64_t i64;
typedef uint32_t u32;

#define CSR_READ(csr) ({ u64 v_; \
    __asm__ volatile("csrr %0, " #csr : "=r"(v_)); v_; })
#define CSR_WRITE(csr, v) \
    __asm__ volatile("csrw " #csr ", %0" :: "r"((u64)(v)) : "memory")
#define CSR_SET(csr, v) \
    __asm__ volatile("csrs " #csr ", %0" :: "r"((u64)(v)) : "memory")
#define CSR_CLEAR(csr, v) \
    __asm__ volatile("csrc " #csr ", %0" :: "r"((u64)(v)) : "memory")

#define MSTATUS_SIE  (1ull << 1)
#define MSTATUS_MIE  (1ull << 3)
#define MSTATUS_SPIE (1ull << 5)
#define MSTATUS_MPIE (1ull << 7)
#define MSTATUS_SPP  (1ull << 8)
#define MSTATUS_MPP  (3ull << 11)
#define MSTATUS_FS   (3ull << 13)
#define MSTATUS_MPRV (1ull << 17)
#define MSTATUS_SUM  (1ull << 18)
#define MSTATUS_MXR  (1ull << 19)

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

/* What the last trap taken by one handler looked like. */
typedef struct TrapInfo {
    u64 cause, tval, epc, status;
    u64 count;      /* traps taken by this handler */
    u64 resume;     /* if non-zero: the next trap resumes here (in the
                       mode that trapped) instead of after the insn */
} TrapInfo;

extern volatile TrapInfo m_trap, s_trap;
/* Called by the M handler for interrupts (must clear the source). */
extern void (*volatile m_irq_hook)(u64 cause);
extern void (*volatile s_irq_hook)(u64 cause);

void put_char(char c);
void put_str(const char *s);
void put_hex(u64 v);
/* Prints "name 0x%016x" and counts the line. */
void show(const char *name, u64 v);
/* Prints "prefix.suffix 0x%016x". */
void show2(const char *prefix, const char *suffix, u64 v);
/*
 * Prints the trap record of t as name.traps/.cause/.tval/.epc lines
 * (epc relative to epc_base, so a label can be used; all zero when
 * nothing trapped since the last call), then clears it.
 */
void show_trap(const char *name, volatile TrapInfo *t, u64 epc_base);
/* Clears both trap records. */
void trap_reset(void);
/* Prints "checks N" and ends the run: 0x5555 (pass) for code 0. */
_Noreturn void finish(int code);

/*
 * Runs fn(arg) in privilege mode (PRV_U or PRV_S) at virtual offset off
 * from its link address (0 for identity), with a stack at the same
 * offset, and returns its result once it returns (the stub it returns to
 * does an ecall that the handlers recognise).
 */
u64 run_in_mode(int mode, u64 (*fn)(u64), u64 arg, u64 off);

void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);

#endif
