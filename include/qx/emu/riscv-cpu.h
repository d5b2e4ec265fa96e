/*
 * RISC-V RV64GC hart: an interpreter of pre-decoded translation blocks.
 *
 * The board owns a RiscvBus (guest RAM regions, MMIO callbacks, the time
 * source) and creates one RiscvCpu per hart on it.  All harts of a bus must
 * be run from one thread at a time (round-robin); the only calls allowed
 * from other threads are riscv_cpu_request_exit() and riscv_cpu_set_irq().
 *
 * Architectural state lives in one plain struct (RiscvCpuState) so that it
 * can be saved and restored field by field; everything else in a RiscvCpu
 * is a cache that riscv_cpu_state_changed() rebuilds.
 *
 * Misaligned loads and stores to RAM are emulated in "hardware" (they never
 * trap).  Misaligned accesses that touch MMIO are split as QEMU 7.2 does:
 * a load into the two naturally aligned accesses of its size that cover
 * it, a store into byte writes, so devices still only see size-aligned
 * accesses.  Misaligned LR/AMOs raise address-misaligned exceptions.
 *
 * An LR reservation is dropped whenever riscv_cpu_run() returns (and on
 * traps and xRETs), so a store by another hart, which can only run in
 * between, always makes the pending SC fail.  Within a run, SC succeeds
 * if memory still holds the value LR loaded (as QEMU 7.2).
 *
 * Guest RAM written by anything but a hart (loaders, device DMA) must be
 * reported with riscv_bus_notify_ram_write() so that stale translated code
 * is dropped.
 */
#ifndef QX_EMU_RISCV_CPU_H
#define QX_EMU_RISCV_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "qx/util/error.h"

/* Privilege levels (the encoding of mstatus.MPP). */
enum {
    RISCV_PRIV_U = 0,
    RISCV_PRIV_S = 1,
    RISCV_PRIV_M = 3,
};

/* Interrupt-pending bits (mip). */
#define RISCV_MIP_SSIP (1ull << 1)
#define RISCV_MIP_MSIP (1ull << 3)
#define RISCV_MIP_STIP (1ull << 5)
#define RISCV_MIP_MTIP (1ull << 7)
#define RISCV_MIP_SEIP (1ull << 9)
#define RISCV_MIP_MEIP (1ull << 11)

/*
 * PMP entries the state has room for (pmpaddr0..63, pmpcfg0,2,..,14), and
 * how many are implemented (as QEMU 7.2 does); the others read as zero
 * and ignore writes.
 */
#define RISCV_PMP_COUNT 64
#define RISCV_PMP_IMPLEMENTED 16

/*
 * Programmable counters mhpmcounter3..18 (as QEMU 7.2): writable, but no
 * events are implemented, so they do not count.  19..31 read as zero.
 */
#define RISCV_HPM_FIRST 3
#define RISCV_HPM_LAST 18

/*
 * Architectural state of one hart.  Plain data: copying it out and back in
 * (followed by riscv_cpu_state_changed()) is a complete save/restore.
 */
typedef struct RiscvCpuState {
    /*
     * x[0] always reads 0.  x[32] is not architectural: instructions whose
     * destination is x0 write there, so it must not be migrated.
     */
    uint64_t x[33];
    uint64_t f[32];           /* singles are NaN-boxed */
    uint64_t pc;
    uint32_t priv;            /* RISCV_PRIV_* */
    uint32_t fflags;          /* fcsr[4:0] */
    uint32_t frm;             /* fcsr[7:5] */

    /* Machine-level CSRs. */
    uint64_t mstatus;         /* also holds the sstatus view */
    uint64_t misa;
    uint64_t medeleg;
    uint64_t mideleg;
    uint64_t mie;
    uint64_t mip;             /* software-writable bits: SSIP, STIP, SEIP */
    uint64_t mtvec;
    uint64_t mscratch;
    uint64_t mepc;
    uint64_t mcause;
    uint64_t mtval;
    uint64_t mcounteren;
    uint64_t mcountinhibit;
    uint64_t menvcfg;
    uint64_t mcycle;
    uint64_t minstret;
    uint64_t mhpmcounter[32];     /* [3..18] used */
    uint64_t mhpmevent[32];       /* [3..18] used */
    uint64_t mhartid;

    /* Supervisor-level CSRs (sstatus/sie/sip are views of the m* ones). */
    uint64_t stvec;
    uint64_t sscratch;
    uint64_t sepc;
    uint64_t scause;
    uint64_t stval;
    uint64_t scounteren;
    uint64_t senvcfg;
    uint64_t satp;

    /* Physical memory protection. */
    uint8_t pmpcfg[RISCV_PMP_COUNT];
    uint64_t pmpaddr[RISCV_PMP_COUNT];

    /*
     * LR/SC reservation (physical address), valid if res_valid; the hart
     * keeps the rest of it privately, as it never outlives a run.
     */
    uint64_t res_addr;
    uint32_t res_valid;
    uint32_t res_size;
} RiscvCpuState;

/* Result of an MMIO callback. */
typedef enum RiscvMmioResult {
    RISCV_MMIO_OK = 0,
    RISCV_MMIO_ACCESS_FAULT = 1,  /* the hart takes an access fault */
} RiscvMmioResult;

/*
 * What the board provides.  Called on the thread running the harts.
 * mmio_read/mmio_write get every physical access outside RAM regions;
 * size is 1, 2, 4 or 8 and addr is size-aligned.  A missing callback makes
 * the access fault.  get_time returns mtime (10 MHz ticks on virt); a
 * missing callback reads as 0.
 */
typedef struct RiscvBusOps {
    RiscvMmioResult (*mmio_read)(void *opaque, uint64_t addr, unsigned size,
                                 uint64_t *val);
    RiscvMmioResult (*mmio_write)(void *opaque, uint64_t addr, unsigned size,
                                  uint64_t val);
    uint64_t (*get_time)(void *opaque);
} RiscvBusOps;

typedef struct RiscvBus RiscvBus;
typedef struct RiscvCpu RiscvCpu;

/* Flags of riscv_bus_add_ram(). */
#define RISCV_RAM_READONLY 1u   /* ROM: guest stores are ignored */

RiscvBus *riscv_bus_new(const RiscvBusOps *ops, void *opaque);
/* Frees the bus; all its harts must have been freed before. */
void riscv_bus_free(RiscvBus *bus);

/*
 * Maps size bytes of host memory at guest physical address base.  base and
 * size must be 4 KiB aligned and must not overlap another region; at most
 * 16 regions.  The memory stays owned by the caller and must outlive the
 * bus.
 */
bool riscv_bus_add_ram(RiscvBus *bus, uint64_t base, uint64_t size,
                       void *host, unsigned flags, Error **errp);

/*
 * Tells the harts that something other than a hart (a loader, DMA) wrote
 * guest RAM in [addr, addr + len): cached translations of code there are
 * dropped.  Call it on the hart thread, or while no hart runs.
 */
void riscv_bus_notify_ram_write(RiscvBus *bus, uint64_t addr, uint64_t len);

/* Creates a hart in reset state (M-mode, pc = reset_pc, mhartid). */
RiscvCpu *riscv_cpu_new(RiscvBus *bus, uint64_t hartid, uint64_t reset_pc);
void riscv_cpu_free(RiscvCpu *cpu);
/* Resets the architectural state as at power-on. */
void riscv_cpu_reset(RiscvCpu *cpu, uint64_t reset_pc);

/*
 * The hart's state.  Reading it is always allowed between runs; after
 * changing it (e.g. restoring a snapshot), call riscv_cpu_state_changed().
 */
RiscvCpuState *riscv_cpu_state(RiscvCpu *cpu);
void riscv_cpu_state_changed(RiscvCpu *cpu);

typedef enum RiscvExitReason {
    RISCV_EXIT_BUDGET,    /* ran (at least) the requested instructions */
    RISCV_EXIT_REQUEST,   /* riscv_cpu_request_exit() was called */
    RISCV_EXIT_WFI,       /* wfi with no interrupt pending; pc is after it */
} RiscvExitReason;

/*
 * Runs the hart until one of RiscvExitReason happens.  Interrupts are
 * taken at block boundaries.  The budget is checked at block boundaries
 * too, so up to one block (64 instructions) more may run; a block that
 * retires nothing (an exception on its first instruction) counts as one.
 * An exit requested while the hart was not running makes the next call
 * return RISCV_EXIT_REQUEST at once.
 */
RiscvExitReason riscv_cpu_run(RiscvCpu *cpu, uint64_t max_insns);

/* Thread-safe: makes riscv_cpu_run() return at the next block boundary. */
void riscv_cpu_request_exit(RiscvCpu *cpu);

/*
 * Thread-safe: raises (level true) or lowers the interrupt lines in mask,
 * a combination of RISCV_MIP_MEIP, SEIP, MTIP, MSIP (others are ignored).
 * The hart sees the change at its next block boundary; a hart waiting in
 * wfi is not woken by this call (the board checks
 * riscv_cpu_has_pending_irq() and calls riscv_cpu_run() again).
 */
void riscv_cpu_set_irq(RiscvCpu *cpu, uint64_t mask, bool level);

/* True if (mip & mie) != 0: the condition that ends a wfi. */
bool riscv_cpu_has_pending_irq(RiscvCpu *cpu);

/* Retired instructions since creation (not affected by CSR writes). */
uint64_t riscv_cpu_insn_count(RiscvCpu *cpu);

#endif
