/*
 * What board devices share: MMIO handlers, interrupt lines and checked
 * access to guest RAM for DMA.
 *
 * Threading: the emulator runs harts, devices and the block layer on one
 * thread (the machine's loop thread).  MMIO handlers run in the middle of
 * riscv_cpu_run(); they may start block I/O coroutines and schedule bottom
 * halves, never block.  Device completions run from the loop between hart
 * slices.
 */
#ifndef QX_EMU_DEVICE_H
#define QX_EMU_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qx/emu/riscv-cpu.h"

/*
 * MMIO handlers of one device region; offset is relative to the region's
 * base, size is 1, 2, 4 or 8 and offset is size-aligned.
 */
typedef struct QxMmioOps {
    RiscvMmioResult (*read)(void *opaque, uint64_t offset, unsigned size,
                            uint64_t *val);
    RiscvMmioResult (*write)(void *opaque, uint64_t offset, unsigned size,
                             uint64_t val);
} QxMmioOps;

/* One interrupt line into an interrupt controller (PLIC source, ...). */
typedef struct QxIrq {
    void (*set)(void *opaque, unsigned line, bool level);
    void *opaque;
    unsigned line;
} QxIrq;

static inline void qx_irq_set(const QxIrq *irq, bool level)
{
    if (irq && irq->set) {
        irq->set(irq->opaque, irq->line, level);
    }
}

/*
 * Guest RAM as devices see it: one contiguous region [base, base + size)
 * mapped at host.  Guest-supplied addresses are untrusted: every access
 * goes through these helpers, which refuse anything not entirely inside
 * RAM (wrap-around included).
 */
typedef struct QxGuestMem {
    uint64_t base;
    uint64_t size;
    uint8_t *host;
    RiscvBus *bus;     /* told about DMA writes (stale translations) */
} QxGuestMem;

/*
 * Host pointer for [gpa, gpa + len) or NULL if any byte is outside RAM.
 * for_write: the caller will write there, so cached translations of that
 * range are dropped now (call before writing, on the machine thread).
 */
void *qx_guest_mem_map(QxGuestMem *mem, uint64_t gpa, uint64_t len,
                       bool for_write);
/* Copies; false (nothing copied) if the range is not entirely in RAM. */
bool qx_guest_mem_read(QxGuestMem *mem, uint64_t gpa, void *buf,
                       uint64_t len);
bool qx_guest_mem_write(QxGuestMem *mem, uint64_t gpa, const void *buf,
                        uint64_t len);

#endif
