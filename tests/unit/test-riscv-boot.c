/*
 * Boots Debian's OpenSBI (fw_jump) and U-Boot (qemu-riscv64_smode) on the
 * RISC-V hart with a throw-away board: 16550 UART, CLINT, sifive_test and
 * RAM, described by the device tree QEMU 7.2 generates for virt (dumped at
 * build time, with QEMU's CPU reduced to our RV64GC).  Types a command at
 * the U-Boot prompt and powers off through SBI.  Skipped when the
 * firmware, U-Boot or the device tree is not available.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "qx/emu/riscv-cpu.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (128ull << 20)
#define FDT_ADDR 0x87e00000ull
#define UART 0x10000000ull
#define CLINT 0x2000000ull
#define TESTDEV 0x100000ull

#define OPENSBI "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
#define UBOOT "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"

typedef struct Board {
    RiscvCpu *cpu;
    GString *out;
    GString *in;            /* pending UART input */
    uint8_t lcr;
    uint64_t mtime, mtimecmp;
    uint64_t poweroff;      /* value written to sifive_test */
} Board;

static RiscvMmioResult board_read(void *opaque, uint64_t addr, unsigned size,
                                  uint64_t *val)
{
    Board *b = opaque;

    *val = 0;
    if (addr >= UART && addr < UART + 8) {
        switch (addr - UART) {
        case 0:
            if (!(b->lcr & 0x80) && b->in->len) {
                *val = (uint8_t)b->in->str[0];
                g_string_erase(b->in, 0, 1);
            }
            break;
        case 3:
            *val = b->lcr;
            break;
        case 5:                 /* LSR: THR empty, data ready */
            *val = 0x60 | (b->in->len ? 1 : 0);
            break;
        }
    } else if (addr >= CLINT + 0x4000 && addr < CLINT + 0x4008) {
        *val = b->mtimecmp >> (8 * (addr - CLINT - 0x4000));
    } else if (addr >= CLINT + 0xbff8 && addr < CLINT + 0xc000) {
        *val = b->mtime >> (8 * (addr - CLINT - 0xbff8));
    }
    return RISCV_MMIO_OK;
}

static RiscvMmioResult board_write(void *opaque, uint64_t addr,
                                   unsigned size, uint64_t val)
{
    Board *b = opaque;

    if (addr == UART && !(b->lcr & 0x80)) {
        g_string_append_c(b->out, (char)val);
    } else if (addr == UART + 3) {
        b->lcr = (uint8_t)val;
    } else if (addr == CLINT) {
        riscv_cpu_set_irq(b->cpu, RISCV_MIP_MSIP, val & 1);
    } else if (addr >= CLINT + 0x4000 && addr < CLINT + 0x4008) {
        unsigned shift = 8 * (addr - CLINT - 0x4000);
        uint64_t mask = (size == 8 ? ~0ull : (1ull << (8 * size)) - 1)
                        << shift;

        b->mtimecmp = (b->mtimecmp & ~mask) | ((val << shift) & mask);
    } else if (addr == TESTDEV) {
        b->poweroff = val;
        riscv_cpu_request_exit(b->cpu);
    }
    return RISCV_MMIO_OK;
}

static uint64_t board_time(void *opaque)
{
    Board *b = opaque;

    return b->mtime;
}

static const RiscvBusOps board_ops = {
    .mmio_read = board_read,
    .mmio_write = board_write,
    .get_time = board_time,
};

static bool load(uint8_t *ram, const char *path, uint64_t addr)
{
    g_autofree char *data = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, NULL)) {
        return false;
    }
    g_assert_cmpuint(addr - RAM_BASE + len, <=, RAM_SIZE);
    memcpy(ram + (addr - RAM_BASE), data, len);
    return true;
}

static bool ends_with(GString *s, const char *suffix)
{
    size_t n = strlen(suffix);

    return s->len >= n && memcmp(s->str + s->len - n, suffix, n) == 0;
}

static void test_boot_uboot(void)
{
    g_autofree char *fdt = g_test_build_filename(G_TEST_BUILT,
                                                 "riscv-virt.dtb", NULL);
    uint8_t *ram = g_malloc0(RAM_SIZE);
    Board b = { .mtimecmp = ~0ull };
    RiscvBus *bus;
    RiscvCpuState *s;
    int stage = 0;

    if (!load(ram, OPENSBI, RAM_BASE) || !load(ram, UBOOT, 0x80200000) ||
        !load(ram, fdt, FDT_ADDR)) {
        g_test_skip("OpenSBI, U-Boot or the virt device tree is missing");
        g_free(ram);
        return;
    }
    b.out = g_string_new(NULL);
    b.in = g_string_new(NULL);
    bus = riscv_bus_new(&board_ops, &b);
    g_assert_true(riscv_bus_add_ram(bus, RAM_BASE, RAM_SIZE, ram, 0, NULL));
    b.cpu = riscv_cpu_new(bus, 0, RAM_BASE);
    s = riscv_cpu_state(b.cpu);
    s->x[10] = 0;               /* a0: hart id */
    s->x[11] = FDT_ADDR;        /* a1: device tree */

    while (b.poweroff == 0 && riscv_cpu_insn_count(b.cpu) < 400000000ull) {
        RiscvExitReason why = riscv_cpu_run(b.cpu, 20000);

        /* 10 MHz timer, advanced quickly so that delays are short. */
        b.mtime += 20000;
        if (why == RISCV_EXIT_WFI && !riscv_cpu_has_pending_irq(b.cpu) &&
            b.mtimecmp > b.mtime && b.mtimecmp != ~0ull) {
            b.mtime = b.mtimecmp;
        }
        riscv_cpu_set_irq(b.cpu, RISCV_MIP_MTIP, b.mtime >= b.mtimecmp);
        if (stage == 0 && strstr(b.out->str, "Hit any key")) {
            g_string_append(b.in, " ");
            stage = 1;
        } else if (stage == 1 && ends_with(b.out, "=> ")) {
            g_string_append(b.in, "echo qx-riscv-ok\n");
            stage = 2;
        } else if (stage == 2 && ends_with(b.out, "qx-riscv-ok\r\n=> ")) {
            g_string_append(b.in, "poweroff\n");
            stage = 3;
        }
    }
    g_test_message("%" G_GUINT64_FORMAT " instructions",
                   riscv_cpu_insn_count(b.cpu));
    if (b.poweroff == 0) {
        g_test_message("console:\n%s", b.out->str);
    }
    g_assert_nonnull(strstr(b.out->str, "OpenSBI v"));
    g_assert_nonnull(strstr(b.out->str,
                            "Boot HART Base ISA        : rv64imafdc"));
    g_assert_nonnull(strstr(b.out->str, "Boot HART PMP Count       : 16"));
    g_assert_nonnull(strstr(b.out->str, "\nU-Boot 20"));
    g_assert_nonnull(strstr(b.out->str, "\r\nqx-riscv-ok\r\n=> "));
    g_assert_cmpint(stage, ==, 3);
    /* SBI system reset reached sifive_test with FINISHER_PASS. */
    g_assert_cmphex(b.poweroff & 0xffff, ==, 0x5555);

    riscv_cpu_free(b.cpu);
    riscv_bus_free(bus);
    g_string_free(b.out, TRUE);
    g_string_free(b.in, TRUE);
    g_free(ram);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/riscv/boot/opensbi-uboot", test_boot_uboot);
    return g_test_run();
}
