/*
 * RISC-V interpreter speed: runs guest loops in M-mode and prints the
 * millions of guest instructions per second (MIPS).
 *   bench-riscv [MILLION_INSNS]   (default 200 per loop)
 */
#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qx/emu/riscv-cpu.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (4ull << 20)

/*
 * int_loop: li a0,0; li a3,0;
 *   1: addi a1,a1,3; xor a2,a1,a0; add a3,a3,a2; slli a4,a3,3;
 *      sub a3,a4,a3; addi a0,a0,1; bnez a0,1b
 */
static const uint32_t int_loop[] = {
    0x00000513, 0x00000693, 0x00358593, 0x00a5c633, 0x00c686b3,
    0x00369713, 0x40d706b3, 0x00150513, 0xfe0514e3,
};

/*
 * mem_loop: 2: a0 = 0x80100000; a1 = 4096
 *   3: ld a2,0(a0); addi a2,a2,1; sd a2,0(a0); lw a3,4(a0);
 *      add a4,a4,a3; addi a0,a0,8; addi a1,a1,-1; bnez a1,3b; j 2b
 */
static const uint32_t mem_loop[] = {
    0x80100537, 0x02051513, 0x02055513, 0x000015b7, 0x00053603,
    0x00160613, 0x00c53023, 0x00452683, 0x00d70733, 0x00850513,
    0xfff58593, 0xfe0592e3, 0xfd1ff06f,
};

/*
 * Runs prog; with sv39, in S-mode under Sv39 paging (identity-mapped
 * gigapage) so that data accesses go through translated TLB entries.
 */
static double run_loop(const char *name, const uint32_t *prog, size_t len,
                       uint64_t insns, bool sv39)
{
    uint8_t *ram = g_malloc0(RAM_SIZE);
    RiscvBus *bus = riscv_bus_new(NULL, NULL);
    RiscvCpu *cpu;
    double best = 0;

    if (!riscv_bus_add_ram(bus, RAM_BASE, RAM_SIZE, ram, 0, NULL)) {
        abort();
    }
    memcpy(ram, prog, len);
    cpu = riscv_cpu_new(bus, 0, RAM_BASE);
    if (sv39) {
        RiscvCpuState *st = riscv_cpu_state(cpu);
        uint64_t root = RAM_BASE + 0x200000;
        /* L2[2]: VA 0x80000000 -> PA 0x80000000, 1 GiB, RWX, A, D. */
        uint64_t pte = (0x80000ull << 10) | 0xcf;

        memcpy(ram + (root - RAM_BASE) + 16, &pte, 8);
        st->pmpaddr[0] = ~0ull >> 10;
        st->pmpcfg[0] = 0x1f;
        st->satp = (8ull << 60) | (root >> 12);
        st->priv = RISCV_PRIV_S;
        riscv_cpu_state_changed(cpu);
    }
    for (int round = 0; round < 3; round++) {
        uint64_t start = riscv_cpu_insn_count(cpu);
        gint64 t0 = g_get_monotonic_time();
        double mips;

        riscv_cpu_run(cpu, insns);
        mips = (double)(riscv_cpu_insn_count(cpu) - start) /
               (double)(g_get_monotonic_time() - t0);
        if (mips > best) {
            best = mips;
        }
    }
    printf("%-10s %8.1f MIPS  (%" G_GUINT64_FORMAT " insns, pc %#"
           G_GINT64_MODIFIER "x)\n", name, best,
           riscv_cpu_insn_count(cpu), riscv_cpu_state(cpu)->pc);
    riscv_cpu_free(cpu);
    riscv_bus_free(bus);
    g_free(ram);
    return best;
}

int main(int argc, char **argv)
{
    uint64_t million = argc > 1 ? strtoull(argv[1], NULL, 10) : 200;

    run_loop("int-loop", int_loop, sizeof(int_loop), million * 1000000,
             false);
    run_loop("mem-loop", mem_loop, sizeof(mem_loop), million * 1000000,
             false);
    run_loop("mem-sv39", mem_loop, sizeof(mem_loop), million * 1000000,
             true);
    return 0;
}
