/*
 * riscv-isa-runner: runs one bare-metal test program (tests/guest/isa/)
 * on our RV64GC hart with the part of QEMU's virt board those programs
 * use, so that its output can be compared with qemu-system-riscv64's:
 *
 *   RAM        0x80000000, 128 MiB (the program is loaded there)
 *   sifive_test 0x100000: 0x5555 ends the run with status 0,
 *              0x3333 | code << 16 with status code
 *   ns16550    0x10000000: bytes written to THR go to stdout; LSR always
 *              reports the transmitter empty
 *   CLINT      0x2000000: msip, mtimecmp, mtime (10 MHz, host clock)
 *
 * Usage: riscv-isa-runner [--max-insns N] PROGRAM (ELF or flat binary)
 * Exit status: the program's, or 125 when the runner itself gives up
 * (unreadable program, instruction limit, hart stuck in wfi).
 */
#include <elf.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qx/emu/riscv-cpu.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (128ull << 20)
#define TEST_BASE 0x100000ull
#define UART_BASE 0x10000000ull
#define CLINT_BASE 0x2000000ull
#define CLINT_SIZE 0x10000ull
#define CLINT_MTIMECMP 0x4000ull
#define CLINT_MTIME 0xbff8ull
#define RUNNER_ERROR 125

typedef struct Board {
    RiscvBus *bus;
    RiscvCpu *cpu;
    uint8_t *ram;
    bool finished;
    int exit_code;
    uint32_t msip;
    uint64_t mtimecmp;
    int64_t time_origin;
} Board;

static uint64_t board_time(void *opaque)
{
    Board *b = opaque;

    /* 10 MHz: 100 ns ticks. */
    return (uint64_t)(g_get_monotonic_time() - b->time_origin) * 10;
}

static void board_update_timer(Board *b)
{
    riscv_cpu_set_irq(b->cpu, RISCV_MIP_MTIP,
                      board_time(b) >= b->mtimecmp);
}

/* Reads/writes of part of a 64-bit register at byte offset off. */
static uint64_t reg_read(uint64_t reg, uint64_t off, unsigned size)
{
    uint64_t v = reg >> (8 * (off & 7));

    return size == 8 ? v : v & ((1ull << (8 * size)) - 1);
}

static uint64_t reg_write(uint64_t reg, uint64_t off, unsigned size,
                          uint64_t val)
{
    unsigned shift = 8 * (off & 7);
    uint64_t mask = size == 8 ? ~0ull : ((1ull << (8 * size)) - 1);

    return (reg & ~(mask << shift)) | ((val & mask) << shift);
}

static bool clint_size_ok(uint64_t off, unsigned size);

static RiscvMmioResult board_mmio_read(void *opaque, uint64_t addr,
                                       unsigned size, uint64_t *val)
{
    Board *b = opaque;

    if (addr >= UART_BASE && addr < UART_BASE + 0x100) {
        /* LSR: transmitter holding register and shift register empty. */
        *val = addr - UART_BASE == 5 ? 0x60 : 0;
        return RISCV_MMIO_OK;
    }
    if (addr >= TEST_BASE && addr < TEST_BASE + 0x1000) {
        *val = 0;
        return RISCV_MMIO_OK;
    }
    if (addr >= CLINT_BASE && addr < CLINT_BASE + CLINT_SIZE) {
        uint64_t off = addr - CLINT_BASE;

        if (!clint_size_ok(off, size)) {
            return RISCV_MMIO_ACCESS_FAULT;
        }
        if (off < 4) {
            *val = reg_read(b->msip, off, size);
        } else if (off >= CLINT_MTIMECMP && off < CLINT_MTIMECMP + 8) {
            *val = reg_read(b->mtimecmp, off, size);
        } else if (off >= CLINT_MTIME && off < CLINT_MTIME + 8) {
            *val = reg_read(board_time(b), off, size);
        } else {
            *val = 0;
        }
        return RISCV_MMIO_OK;
    }
    return RISCV_MMIO_ACCESS_FAULT;
}

/*
 * Access sizes QEMU 7.2's ACLINT accepts: 4 bytes in the MSWI part, 4 or 8
 * in the MTIMER part; anything else is an access fault there.
 */
static bool clint_size_ok(uint64_t off, unsigned size)
{
    return off < CLINT_MTIMECMP ? size == 4 : (size == 4 || size == 8);
}

static RiscvMmioResult board_mmio_write(void *opaque, uint64_t addr,
                                        unsigned size, uint64_t val)
{
    Board *b = opaque;

    if (addr >= UART_BASE && addr < UART_BASE + 0x100) {
        if (addr == UART_BASE) {
            putchar((int)(val & 0xff));
        }
        return RISCV_MMIO_OK;
    }
    if (addr >= TEST_BASE && addr < TEST_BASE + 0x1000) {
        if (addr == TEST_BASE) {
            switch (val & 0xffff) {
            case 0x5555:
                b->finished = true;
                b->exit_code = 0;
                riscv_cpu_request_exit(b->cpu);
                break;
            case 0x3333:
                b->finished = true;
                b->exit_code = (int)((val >> 16) & 0xffff);
                riscv_cpu_request_exit(b->cpu);
                break;
            }
        }
        return RISCV_MMIO_OK;
    }
    if (addr >= CLINT_BASE && addr < CLINT_BASE + CLINT_SIZE) {
        uint64_t off = addr - CLINT_BASE;

        if (!clint_size_ok(off, size)) {
            return RISCV_MMIO_ACCESS_FAULT;
        }
        if (off < 4) {
            b->msip = (uint32_t)reg_write(b->msip, off, size, val) & 1;
            riscv_cpu_set_irq(b->cpu, RISCV_MIP_MSIP, b->msip);
        } else if (off >= CLINT_MTIMECMP && off < CLINT_MTIMECMP + 8) {
            b->mtimecmp = reg_write(b->mtimecmp, off, size, val);
            board_update_timer(b);
        }
        return RISCV_MMIO_OK;
    }
    return RISCV_MMIO_ACCESS_FAULT;
}

static const RiscvBusOps board_ops = {
    .mmio_read = board_mmio_read,
    .mmio_write = board_mmio_write,
    .get_time = board_time,
};

/* Copies [paddr, paddr + len) into RAM; false if it does not fit. */
static bool board_load(Board *b, uint64_t paddr, const void *data,
                       uint64_t len, uint64_t memsz)
{
    if (paddr < RAM_BASE || memsz > RAM_SIZE ||
        paddr - RAM_BASE > RAM_SIZE - memsz || len > memsz) {
        return false;
    }
    memcpy(b->ram + (paddr - RAM_BASE), data, len);
    riscv_bus_notify_ram_write(b->bus, paddr, memsz);
    return true;
}

/*
 * Loads an ELF64 RISC-V executable's PT_LOAD segments (by physical
 * address) and returns its entry in *entry.
 */
static bool load_elf(Board *b, const uint8_t *data, size_t len,
                     uint64_t *entry, const char *path)
{
    Elf64_Ehdr eh;

    if (len < sizeof(eh)) {
        fprintf(stderr, "%s: truncated ELF header\n", path);
        return false;
    }
    memcpy(&eh, data, sizeof(eh));
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_RISCV) {
        fprintf(stderr, "%s: not a little-endian ELF64 RISC-V file\n", path);
        return false;
    }
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
        (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff) {
        fprintf(stderr, "%s: bad program header table\n", path);
        return false;
    }
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;

        memcpy(&ph, data + eh.e_phoff + i * sizeof(ph), sizeof(ph));
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0) {
            continue;
        }
        if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
            fprintf(stderr, "%s: segment %u lies outside the file\n", path,
                    i);
            return false;
        }
        if (!board_load(b, ph.p_paddr, data + ph.p_offset, ph.p_filesz,
                        ph.p_memsz)) {
            fprintf(stderr, "%s: segment %u at 0x%" G_GINT64_MODIFIER
                    "x does not fit in RAM\n", path, i, ph.p_paddr);
            return false;
        }
    }
    *entry = eh.e_entry;
    return true;
}

static int run(Board *b, uint64_t max_insns)
{
    int wfi_waits = 0;

    while (!b->finished) {
        RiscvExitReason why;

        if (riscv_cpu_insn_count(b->cpu) >= max_insns) {
            fflush(stdout);
            fprintf(stderr, "riscv-isa-runner: no result after %"
                    G_GUINT64_FORMAT " instructions (pc 0x%"
                    G_GINT64_MODIFIER "x)\n", max_insns,
                    riscv_cpu_state(b->cpu)->pc);
            return RUNNER_ERROR;
        }
        /*
         * Every return from riscv_cpu_run() drops an LR reservation, so
         * without an armed timer to poll, run the whole remaining budget
         * in one go: an lr/sc pair then never straddles two calls.
         */
        why = riscv_cpu_run(b->cpu, b->mtimecmp == UINT64_MAX ?
                            max_insns - riscv_cpu_insn_count(b->cpu) :
                            100000);
        board_update_timer(b);
        if (why == RISCV_EXIT_WFI && !riscv_cpu_has_pending_irq(b->cpu)) {
            /* Only the timer can wake it; give up after ~10 s. */
            if (++wfi_waits > 100000) {
                fflush(stdout);
                fprintf(stderr, "riscv-isa-runner: hart waits in wfi with "
                        "no interrupt coming\n");
                return RUNNER_ERROR;
            }
            g_usleep(100);
        } else {
            wfi_waits = 0;
        }
    }
    return b->exit_code;
}

int main(int argc, char **argv)
{
    uint64_t max_insns = 2000ull * 1000 * 1000;
    g_autofree gchar *data = NULL;
    g_autoptr(GError) gerr = NULL;
    const char *path;
    uint64_t entry = RAM_BASE;
    gsize len;
    Board b = { 0 };
    int ret;

    if (argc == 4 && strcmp(argv[1], "--max-insns") == 0) {
        max_insns = g_ascii_strtoull(argv[2], NULL, 0);
        path = argv[3];
    } else if (argc == 2 && argv[1][0] != '-') {
        path = argv[1];
    } else {
        fprintf(stderr, "usage: riscv-isa-runner [--max-insns N] PROGRAM\n");
        return RUNNER_ERROR;
    }
    if (!g_file_get_contents(path, &data, &len, &gerr)) {
        fprintf(stderr, "riscv-isa-runner: %s\n", gerr->message);
        return RUNNER_ERROR;
    }

    b.ram = g_malloc0(RAM_SIZE);
    b.mtimecmp = UINT64_MAX;
    b.time_origin = g_get_monotonic_time();
    b.bus = riscv_bus_new(&board_ops, &b);
    if (!riscv_bus_add_ram(b.bus, RAM_BASE, RAM_SIZE, b.ram, 0, NULL)) {
        fprintf(stderr, "riscv-isa-runner: cannot map RAM\n");
        return RUNNER_ERROR;
    }
    b.cpu = riscv_cpu_new(b.bus, 0, RAM_BASE);

    if (len >= SELFMAG && memcmp(data, ELFMAG, SELFMAG) == 0) {
        if (!load_elf(&b, (const uint8_t *)data, len, &entry, path)) {
            ret = RUNNER_ERROR;
            goto out;
        }
    } else if (!board_load(&b, RAM_BASE, data, len, len)) {
        fprintf(stderr, "%s: does not fit in RAM\n", path);
        ret = RUNNER_ERROR;
        goto out;
    }
    riscv_cpu_reset(b.cpu, entry);
    ret = run(&b, max_insns);

out:
    fflush(stdout);
    riscv_cpu_free(b.cpu);
    riscv_bus_free(b.bus);
    g_free(b.ram);
    return ret;
}
