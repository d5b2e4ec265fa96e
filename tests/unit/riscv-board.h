/*
 * A minimal board for the RISC-V CPU unit tests: 16 MiB of RAM at
 * 0x80000000, the test device of tests/unit/riscv/common.inc at 0x100000,
 * a scratch MMIO device at 0x10000000 (offset 0x100 faults), and a time
 * source the test controls.
 */
#ifndef TESTS_UNIT_RISCV_BOARD_H
#define TESTS_UNIT_RISCV_BOARD_H

#include <glib.h>
#include <string.h>

#include "qx/emu/riscv-cpu.h"

#define TB_RAM_BASE 0x80000000ull
#define TB_RAM_SIZE (16ull << 20)
#define TB_TESTDEV 0x100000ull
#define TB_SCRATCH 0x10000000ull

typedef struct TestBoard {
    RiscvBus *bus;
    RiscvCpu *cpu;
    uint8_t *ram;
    uint64_t status, fail_id, actual, expected;
    uint64_t time;
    uint64_t scratch_addr, scratch_val;
    unsigned mmio_writes;
} TestBoard;

static RiscvMmioResult tb_mmio_read(void *opaque, uint64_t addr,
                                    unsigned size, uint64_t *val)
{
    TestBoard *b = opaque;

    if (addr >= TB_TESTDEV && addr < TB_TESTDEV + 0x1000) {
        switch (addr - TB_TESTDEV) {
        case 0: *val = b->status; break;
        case 8: *val = b->fail_id; break;
        default: *val = 0; break;
        }
        return RISCV_MMIO_OK;
    }
    if (addr >= TB_SCRATCH && addr < TB_SCRATCH + 0x1000) {
        if (addr - TB_SCRATCH == 0x100) {
            return RISCV_MMIO_ACCESS_FAULT;
        }
        if (addr == b->scratch_addr) {
            *val = b->scratch_val;
        } else {
            *val = 0x0123456789abcdefull ^ addr;
        }
        return RISCV_MMIO_OK;
    }
    return RISCV_MMIO_ACCESS_FAULT;
}

static RiscvMmioResult tb_mmio_write(void *opaque, uint64_t addr,
                                     unsigned size, uint64_t val)
{
    TestBoard *b = opaque;

    if (addr >= TB_TESTDEV && addr < TB_TESTDEV + 0x1000) {
        switch (addr - TB_TESTDEV) {
        case 0:
            b->status = val;
            riscv_cpu_request_exit(b->cpu);
            break;
        case 8: b->fail_id = val; break;
        case 16: b->actual = val; break;
        case 24: b->expected = val; break;
        case 32: riscv_cpu_set_irq(b->cpu, RISCV_MIP_MSIP, val); break;
        case 40: riscv_cpu_set_irq(b->cpu, RISCV_MIP_SEIP, val); break;
        case 48: riscv_cpu_set_irq(b->cpu, RISCV_MIP_MTIP, val); break;
        }
        return RISCV_MMIO_OK;
    }
    if (addr >= TB_SCRATCH && addr < TB_SCRATCH + 0x1000) {
        if (addr - TB_SCRATCH == 0x100) {
            return RISCV_MMIO_ACCESS_FAULT;
        }
        b->scratch_addr = addr;
        b->scratch_val = val;
        b->mmio_writes++;
        return RISCV_MMIO_OK;
    }
    return RISCV_MMIO_ACCESS_FAULT;
}

static uint64_t tb_get_time(void *opaque)
{
    TestBoard *b = opaque;

    return b->time;
}

static const RiscvBusOps tb_bus_ops = {
    .mmio_read = tb_mmio_read,
    .mmio_write = tb_mmio_write,
    .get_time = tb_get_time,
};

static TestBoard *tb_new(void)
{
    TestBoard *b = g_new0(TestBoard, 1);

    b->ram = g_malloc0(TB_RAM_SIZE);
    b->bus = riscv_bus_new(&tb_bus_ops, b);
    g_assert_true(riscv_bus_add_ram(b->bus, TB_RAM_BASE, TB_RAM_SIZE, b->ram,
                                    0, NULL));
    b->cpu = riscv_cpu_new(b->bus, 0, TB_RAM_BASE);
    return b;
}

static void tb_free(TestBoard *b)
{
    riscv_cpu_free(b->cpu);
    riscv_bus_free(b->bus);
    g_free(b->ram);
    g_free(b);
}

/* Copies code to RAM at paddr and tells the harts. */
static void tb_load(TestBoard *b, uint64_t paddr, const void *data,
                    size_t len)
{
    g_assert_cmpuint(paddr - TB_RAM_BASE + len, <=, TB_RAM_SIZE);
    memcpy(b->ram + (paddr - TB_RAM_BASE), data, len);
    riscv_bus_notify_ram_write(b->bus, paddr, len);
}

/* Loads tests/unit/riscv/<name>.S (assembled at build time); false if the
 * binary was not built (no cross toolchain). */
static bool tb_load_guest(TestBoard *b, const char *name)
{
    g_autofree char *file = g_strdup_printf("riscv-%s.bin", name);
    g_autofree char *path = g_test_build_filename(G_TEST_BUILT, file, NULL);
    g_autofree char *data = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, NULL)) {
        return false;
    }
    tb_load(b, TB_RAM_BASE, data, len);
    return true;
}

/*
 * Runs until the guest reports through the test device, at most
 * max_insns instructions.  A wfi with nothing pending raises the machine
 * timer line (the guest lowers it through the test device).
 */
static void tb_run(TestBoard *b, uint64_t max_insns)
{
    uint64_t start = riscv_cpu_insn_count(b->cpu);

    while (b->status == 0 &&
           riscv_cpu_insn_count(b->cpu) - start < max_insns) {
        RiscvExitReason why = riscv_cpu_run(b->cpu, 100000);

        b->time += 1000;
        if (why == RISCV_EXIT_WFI && !riscv_cpu_has_pending_irq(b->cpu)) {
            riscv_cpu_set_irq(b->cpu, RISCV_MIP_MTIP, true);
        }
    }
}

static void tb_assert_passed(TestBoard *b)
{
    if (b->status != 1) {
        g_test_message("guest status %" G_GUINT64_FORMAT ": check %"
                       G_GUINT64_FORMAT " got %#" G_GINT64_MODIFIER
                       "x expected %#" G_GINT64_MODIFIER "x (pc %#"
                       G_GINT64_MODIFIER "x)", b->status, b->fail_id,
                       b->actual, b->expected,
                       riscv_cpu_state(b->cpu)->pc);
    }
    g_assert_cmpuint(b->fail_id, ==, 0);
    g_assert_cmpuint(b->status, ==, 1);
}

#endif
