/*
 * RISC-V hart: guest programs from tests/unit/riscv/ (each checks its own
 * results and reports the first failing check), plus host-side checks of
 * the board interface (exit requests, wfi, interrupts, MMIO faults,
 * state save/restore, code invalidation from outside).
 */
#include <glib.h>
#include <string.h>

#include "riscv-board.h"

static void test_guest(gconstpointer data)
{
    const char *name = data;
    TestBoard *b = tb_new();

    if (!tb_load_guest(b, name)) {
        g_test_skip("guest binary not built (no riscv64 cross assembler)");
        tb_free(b);
        return;
    }
    tb_run(b, 50 * 1000 * 1000);
    tb_assert_passed(b);
    tb_free(b);
}

/* ---- Host-side tests with hand-encoded programs ---- */

/* addi a0, a0, 1 ; j -4 : an endless counting loop. */
static const uint32_t loop_prog[] = { 0x00150513, 0xffdff06f };

static gpointer request_exit_thread(gpointer data)
{
    g_usleep(20000);
    riscv_cpu_request_exit(data);
    return NULL;
}

static void test_exit_request(void)
{
    TestBoard *b = tb_new();
    GThread *t;
    RiscvExitReason why;

    tb_load(b, TB_RAM_BASE, loop_prog, sizeof(loop_prog));
    t = g_thread_new("exit", request_exit_thread, b->cpu);
    why = riscv_cpu_run(b->cpu, UINT64_MAX);
    g_thread_join(t);
    g_assert_cmpint(why, ==, RISCV_EXIT_REQUEST);
    g_assert_cmpuint(riscv_cpu_state(b->cpu)->x[10], >, 1000);
    tb_free(b);
}

static void test_budget(void)
{
    TestBoard *b = tb_new();
    RiscvCpuState *s = riscv_cpu_state(b->cpu);

    tb_load(b, TB_RAM_BASE, loop_prog, sizeof(loop_prog));
    g_assert_cmpint(riscv_cpu_run(b->cpu, 1000), ==, RISCV_EXIT_BUDGET);
    /* Blocks are two instructions: exactly 500 iterations. */
    g_assert_cmpuint(s->x[10], ==, 500);
    g_assert_cmpuint(s->minstret, ==, 1000);
    g_assert_cmpuint(riscv_cpu_insn_count(b->cpu), ==, 1000);
    tb_free(b);
}

/*
 * csrsi mie, 8 (MSIE) ; csrsi mstatus, 8 (MIE) ; wfi ; j .
 * with mtvec at 0x80000100: li a1, 42 ; j .
 */
static void test_wfi_and_interrupt(void)
{
    static const uint32_t prog[] = {
        0x30446073, 0x30046073, 0x10500073, 0x0000006f,
    };
    static const uint32_t handler[] = { 0x02a00593, 0x0000006f };
    TestBoard *b = tb_new();
    RiscvCpuState *s = riscv_cpu_state(b->cpu);

    tb_load(b, TB_RAM_BASE, prog, sizeof(prog));
    tb_load(b, TB_RAM_BASE + 0x100, handler, sizeof(handler));
    s->mtvec = TB_RAM_BASE + 0x100;
    g_assert_cmpint(riscv_cpu_run(b->cpu, 1000), ==, RISCV_EXIT_WFI);
    g_assert_cmphex(s->pc, ==, TB_RAM_BASE + 12);
    g_assert_false(riscv_cpu_has_pending_irq(b->cpu));
    /* Pending but disabled in mie does not wake. */
    riscv_cpu_set_irq(b->cpu, RISCV_MIP_MTIP, true);
    g_assert_false(riscv_cpu_has_pending_irq(b->cpu));
    riscv_cpu_set_irq(b->cpu, RISCV_MIP_MSIP, true);
    g_assert_true(riscv_cpu_has_pending_irq(b->cpu));
    g_assert_cmpint(riscv_cpu_run(b->cpu, 100), ==, RISCV_EXIT_BUDGET);
    g_assert_cmphex(s->mcause, ==, (1ull << 63) | 3);
    g_assert_cmphex(s->mepc, ==, TB_RAM_BASE + 12);
    g_assert_cmpuint(s->x[11], ==, 42);
    /* MPIE saved MIE, MIE cleared, MPP = M. */
    g_assert_cmphex(s->mstatus & 0x1888, ==, 0x1880);
    tb_free(b);
}

/* lw a0, 0x100(a1) ; j . with a1 = 0x10000000 (faulting MMIO). */
static void test_mmio_fault(void)
{
    static const uint32_t prog[] = { 0x1005a503, 0x0000006f };
    TestBoard *b = tb_new();
    RiscvCpuState *s = riscv_cpu_state(b->cpu);

    tb_load(b, TB_RAM_BASE, prog, sizeof(prog));
    s->x[11] = TB_SCRATCH;
    s->mtvec = TB_RAM_BASE + 4;
    riscv_cpu_run(b->cpu, 10);
    g_assert_cmphex(s->mcause, ==, 5);
    g_assert_cmphex(s->mtval, ==, TB_SCRATCH + 0x100);
    g_assert_cmphex(s->mepc, ==, TB_RAM_BASE);
    tb_free(b);
}

/*
 * Misaligned MMIO accesses, as QEMU 7.2 does them: a load becomes the
 * two aligned accesses of its size that cover it, a store becomes byte
 * writes; a piece the device refuses faults with the piece's address.
 * The device below is like the ACLINT at +0 (4- and 8-byte accesses
 * only) and takes any access at +0x100.
 */
#define SPLIT_DEV 0x2000000ull

typedef struct SplitDev {
    uint8_t regs[0x200];
    struct { uint64_t addr; unsigned size; bool write; uint64_t val; } log[8];
    unsigned nlog;
} SplitDev;

static bool split_dev_log(SplitDev *d, uint64_t addr, unsigned size,
                          bool write, uint64_t val)
{
    uint64_t off = addr - SPLIT_DEV;

    g_assert_cmpuint(d->nlog, <, G_N_ELEMENTS(d->log));
    d->log[d->nlog].addr = addr;
    d->log[d->nlog].size = size;
    d->log[d->nlog].write = write;
    d->log[d->nlog].val = val;
    d->nlog++;
    g_assert_cmpuint(addr & (size - 1), ==, 0);
    return off + size <= sizeof(d->regs) &&
           (off >= 0x100 || size == 4 || size == 8);
}

static RiscvMmioResult split_dev_read(void *opaque, uint64_t addr,
                                      unsigned size, uint64_t *val)
{
    SplitDev *d = opaque;

    if (!split_dev_log(d, addr, size, false, 0)) {
        return RISCV_MMIO_ACCESS_FAULT;
    }
    *val = 0;
    memcpy(val, d->regs + (addr - SPLIT_DEV), size);
    return RISCV_MMIO_OK;
}

static RiscvMmioResult split_dev_write(void *opaque, uint64_t addr,
                                       unsigned size, uint64_t val)
{
    SplitDev *d = opaque;

    if (!split_dev_log(d, addr, size, true, val)) {
        return RISCV_MMIO_ACCESS_FAULT;
    }
    memcpy(d->regs + (addr - SPLIT_DEV), &val, size);
    return RISCV_MMIO_OK;
}

static const RiscvBusOps split_dev_ops = {
    .mmio_read = split_dev_read,
    .mmio_write = split_dev_write,
};

/* Runs the one instruction insn (a1 = SPLIT_DEV + dev_off, a2 = val). */
static RiscvCpuState split_run(SplitDev *d, uint32_t insn, uint64_t dev_off,
                               uint64_t val)
{
    uint32_t prog[2] = { insn, 0x0000006f };      /* insn ; j . */
    uint8_t *ram = g_malloc0(0x1000);
    RiscvBus *bus = riscv_bus_new(&split_dev_ops, d);
    RiscvCpu *cpu;
    RiscvCpuState *s, out;

    g_assert_true(riscv_bus_add_ram(bus, TB_RAM_BASE, 0x1000, ram, 0,
                                    NULL));
    memcpy(ram, prog, sizeof(prog));
    cpu = riscv_cpu_new(bus, 0, TB_RAM_BASE);
    s = riscv_cpu_state(cpu);
    s->x[11] = SPLIT_DEV + dev_off;
    s->x[12] = val;
    s->mtvec = TB_RAM_BASE + 4;
    d->nlog = 0;
    riscv_cpu_run(cpu, 3);
    out = *s;
    riscv_cpu_free(cpu);
    riscv_bus_free(bus);
    g_free(ram);
    return out;
}

static void test_mmio_misaligned_split(void)
{
    SplitDev *d = g_new0(SplitDev, 1);
    RiscvCpuState s;

    for (unsigned i = 0; i < sizeof(d->regs); i++) {
        d->regs[i] = (uint8_t)(0x10 + i);
    }
    /* lw a0, 1(a1): words at +0 and +4, bytes 1..4 sign-extended. */
    s = split_run(d, 0x0015a503, 0, 0);
    g_assert_cmpuint(s.mcause, ==, 0);
    g_assert_cmphex(s.x[10], ==, 0x14131211);
    g_assert_cmpuint(d->nlog, ==, 2);
    g_assert_cmphex(d->log[0].addr, ==, SPLIT_DEV);
    g_assert_cmphex(d->log[1].addr, ==, SPLIT_DEV + 4);
    g_assert_cmpuint(d->log[1].size, ==, 4);
    /* lwu a0, 6(a1) reading 0x80..: zero-extended. */
    d->regs[9] = 0x80;
    s = split_run(d, 0x0065e503, 0, 0);
    g_assert_cmphex(s.x[10], ==, 0x80181716);
    /* ld a0, 4(a1): doublewords at +0 and +8. */
    s = split_run(d, 0x0045b503, 0, 0);
    g_assert_cmphex(s.x[10], ==, 0x1b1a801817161514ull);
    g_assert_cmpuint(d->nlog, ==, 2);
    g_assert_cmpuint(d->log[1].size, ==, 8);
    /* lh a0, 3(a1): the halfword at +2 is refused: fault at +2. */
    s = split_run(d, 0x00359503, 0, 0);
    g_assert_cmpuint(s.mcause, ==, 5);
    g_assert_cmphex(s.mtval, ==, SPLIT_DEV + 2);
    g_assert_cmphex(s.mepc, ==, TB_RAM_BASE);
    g_assert_cmpuint(d->nlog, ==, 1);
    /* sw a2, 2(a1): the first byte is refused: fault at +2. */
    s = split_run(d, 0x00c5a123, 0, 0xa1b2c3d4);
    g_assert_cmpuint(s.mcause, ==, 7);
    g_assert_cmphex(s.mtval, ==, SPLIT_DEV + 2);
    g_assert_cmpuint(d->nlog, ==, 1);
    g_assert_cmpuint(d->log[0].size, ==, 1);
    g_assert_cmphex(d->regs[2], ==, 0x12);
    /* sw a2, 2(a1) where bytes are taken: four bytes, lowest first. */
    s = split_run(d, 0x00c5a123, 0x100, 0xa1b2c3d4);
    g_assert_cmpuint(s.mcause, ==, 0);
    g_assert_cmpuint(d->nlog, ==, 4);
    for (unsigned i = 0; i < 4; i++) {
        g_assert_cmphex(d->log[i].addr, ==, SPLIT_DEV + 0x102 + i);
        g_assert_cmpuint(d->log[i].size, ==, 1);
        g_assert_true(d->log[i].write);
        g_assert_cmphex(d->log[i].val, ==, (0xa1b2c3d4u >> (8 * i)) & 0xff);
    }
    g_free(d);
}

/*
 * Of several pending interrupts QEMU 7.2 (no AIA) takes the lowest
 * numbered one, M-level before S-level; VS and LCOFI bits are writable
 * and taken like the others.
 */
static void test_interrupt_order(void)
{
    static const uint32_t prog[] = { 0x0000006f, 0x0000006f };
    static const struct {
        uint64_t lines, mip, mideleg, cause;
    } cases[] = {
        { RISCV_MIP_MEIP | RISCV_MIP_MSIP, 0, 0, 3 },
        { RISCV_MIP_MEIP | RISCV_MIP_MTIP, 0, 0, 7 },
        { RISCV_MIP_SEIP, RISCV_MIP_STIP, 0, 5 },
        { RISCV_MIP_MEIP, RISCV_MIP_SSIP, 0, 1 },
        { 0, 1ull << 13 | 1ull << 6, 0, 6 },
        { RISCV_MIP_MEIP, RISCV_MIP_SSIP, RISCV_MIP_SSIP, 11 },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        TestBoard *b = tb_new();
        RiscvCpuState *s = riscv_cpu_state(b->cpu);

        tb_load(b, TB_RAM_BASE, prog, sizeof(prog));
        s->mtvec = TB_RAM_BASE + 4;
        s->mip = cases[i].mip;
        s->mideleg = cases[i].mideleg;
        s->mie = ~0ull;
        s->mstatus |= 1u << 3;                 /* MIE */
        riscv_cpu_state_changed(b->cpu);
        riscv_cpu_set_irq(b->cpu, cases[i].lines, true);
        riscv_cpu_run(b->cpu, 2);
        g_assert_cmphex(s->mcause, ==, (1ull << 63) | cases[i].cause);
        tb_free(b);
    }
}

/* State copied out and back in resumes identically. */
static void test_state_roundtrip(void)
{
    TestBoard *a = tb_new(), *c = tb_new();
    RiscvCpuState saved;

    tb_load(a, TB_RAM_BASE, loop_prog, sizeof(loop_prog));
    tb_load(c, TB_RAM_BASE, loop_prog, sizeof(loop_prog));
    riscv_cpu_run(a->cpu, 100);
    saved = *riscv_cpu_state(a->cpu);
    *riscv_cpu_state(c->cpu) = saved;
    riscv_cpu_state_changed(c->cpu);
    riscv_cpu_run(a->cpu, 100);
    riscv_cpu_run(c->cpu, 100);
    g_assert_cmpuint(riscv_cpu_state(a->cpu)->x[10], ==,
                     riscv_cpu_state(c->cpu)->x[10]);
    g_assert_cmpuint(riscv_cpu_state(c->cpu)->x[10], ==, 100);
    g_assert_cmphex(riscv_cpu_state(a->cpu)->pc, ==,
                    riscv_cpu_state(c->cpu)->pc);
    tb_free(a);
    tb_free(c);
}

/* Code rewritten by the board (DMA/loader) is re-translated. */
static void test_external_code_write(void)
{
    /* li a0, 1 ; j . */
    static const uint32_t p1[] = { 0x00100513, 0x0000006f };
    /* li a0, 2 */
    static const uint32_t p2[] = { 0x00200513 };
    TestBoard *b = tb_new();
    RiscvCpuState *s = riscv_cpu_state(b->cpu);

    tb_load(b, TB_RAM_BASE, p1, sizeof(p1));
    riscv_cpu_run(b->cpu, 10);
    g_assert_cmpuint(s->x[10], ==, 1);
    tb_load(b, TB_RAM_BASE, p2, sizeof(p2));
    s->pc = TB_RAM_BASE;
    riscv_cpu_run(b->cpu, 10);
    g_assert_cmpuint(s->x[10], ==, 2);
    tb_free(b);
}

/*
 * Two harts on one bus: hart 0 does lr.d, hart 1 stores to the same
 * address, hart 0's sc.d must fail.
 *   lr.d a0, (a1) ; sc.d a2, a3, (a1) ; j .
 */
static void test_reservation_broken_by_other_hart(void)
{
    static const uint32_t lr[] = { 0x1005b52f, 0x0000006f };
    static const uint32_t sc[] = { 0x18d5b62f, 0x0000006f };
    /* sd a3, 0(a1) ; j . */
    static const uint32_t st[] = { 0x00d5b023, 0x0000006f };
    TestBoard *b = tb_new();
    RiscvCpu *h1 = riscv_cpu_new(b->bus, 1, TB_RAM_BASE + 0x200);
    RiscvCpuState *s0 = riscv_cpu_state(b->cpu);
    RiscvCpuState *s1 = riscv_cpu_state(h1);
    uint64_t v;

    tb_load(b, TB_RAM_BASE, lr, sizeof(lr));
    tb_load(b, TB_RAM_BASE + 0x100, sc, sizeof(sc));
    tb_load(b, TB_RAM_BASE + 0x200, st, sizeof(st));
    s0->x[11] = s1->x[11] = TB_RAM_BASE + 0x1000;
    s0->x[13] = 7;
    s1->x[13] = 9;

    /* Undisturbed: lr then sc succeeds. */
    riscv_cpu_run(b->cpu, 1);
    s0->pc = TB_RAM_BASE + 0x100;
    riscv_cpu_state_changed(b->cpu);
    s0->res_valid = 1;          /* run() dropped it: model same-slice sc */
    riscv_cpu_run(b->cpu, 1);
    g_assert_cmpuint(s0->x[12], ==, 0);
    memcpy(&v, b->ram + 0x1000, 8);
    g_assert_cmpuint(v, ==, 7);

    /* lr, other hart stores, sc fails and memory keeps the store. */
    s0->pc = TB_RAM_BASE;
    riscv_cpu_run(b->cpu, 1);
    riscv_cpu_run(h1, 1);
    s0->pc = TB_RAM_BASE + 0x100;
    s0->x[13] = 5;
    riscv_cpu_run(b->cpu, 1);
    g_assert_cmpuint(s0->x[12], ==, 1);
    memcpy(&v, b->ram + 0x1000, 8);
    g_assert_cmpuint(v, ==, 9);
    riscv_cpu_free(h1);
    tb_free(b);
}

/* A restored state is sanitised instead of trusted. */
static void test_state_sanitised(void)
{
    TestBoard *b = tb_new();
    RiscvCpuState *s = riscv_cpu_state(b->cpu);

    s->x[0] = 5;
    s->pc = TB_RAM_BASE + 0xfff;
    s->priv = 2;
    s->satp = 5ull << 60;
    s->mstatus |= 2ull << 11;
    s->frm = 0xff;
    s->mip = ~0ull;
    s->mie = ~0ull;
    s->mideleg = ~0ull;
    s->medeleg = ~0ull;
    riscv_cpu_state_changed(b->cpu);
    g_assert_cmphex(s->mip, ==, 0x2666);
    g_assert_cmphex(s->mie, ==, 0x2eee);
    g_assert_cmphex(s->mideleg, ==, 0x2666);
    g_assert_cmphex(s->medeleg, ==, 0xf0bfff);
    s->mip = s->mie = s->mideleg = s->medeleg = 0;
    g_assert_cmpuint(s->x[0], ==, 0);
    g_assert_cmphex(s->pc, ==, TB_RAM_BASE + 0xffe);
    g_assert_cmpuint(s->priv, ==, RISCV_PRIV_M);
    g_assert_cmphex(s->satp, ==, 0);
    /* MPP = 2 is a value the hart keeps (as QEMU 7.2), not sanitised. */
    g_assert_cmphex(s->mstatus & (3ull << 11), ==, 2ull << 11);
    g_assert_cmpuint(s->frm, ==, 7);
    /* And it runs: c.illegal at 0xffe traps to mtvec 0 (no RAM). */
    riscv_cpu_run(b->cpu, 10);
    g_assert_cmphex(s->mcause, ==, 1);
    tb_free(b);
}

/*
 * Guest code is untrusted: random instruction streams (with traps into
 * more random code, random CSR writes, paging turned on by chance) must
 * never crash or hang the host.  ASan/UBSan builds make this strict.
 */
static void test_random_code(void)
{
    GRand *rand = g_rand_new_with_seed(1234);
    uint64_t total = 0;

    for (unsigned round = 0; round < 40; round++) {
        TestBoard *b = tb_new();
        RiscvCpuState *s = riscv_cpu_state(b->cpu);
        uint32_t *words = (uint32_t *)b->ram;

        /*
         * 64 KiB of random words: mostly with a valid major opcode (so
         * that most of them decode to something), some as pairs of
         * 16-bit instructions.
         */
        static const uint8_t opcodes[] = {
            0x03, 0x07, 0x0f, 0x13, 0x17, 0x1b, 0x23, 0x27, 0x2f, 0x33,
            0x37, 0x3b, 0x43, 0x47, 0x4b, 0x4f, 0x53, 0x63, 0x67, 0x6f,
            0x73, 0x73, 0x73,
        };
        for (unsigned i = 0; i < 16384; i++) {
            uint32_t w = g_rand_int(rand);

            if (w % 4) {
                w = (w & ~0x7fu) |
                    opcodes[g_rand_int_range(rand, 0,
                                             G_N_ELEMENTS(opcodes))];
            }
            words[i] = w;
        }
        riscv_bus_notify_ram_write(b->bus, TB_RAM_BASE, 65536);
        for (unsigned r = 1; r < 32; r++) {
            s->x[r] = TB_RAM_BASE + (g_rand_int(rand) & 0xfff8);
        }
        s->mtvec = TB_RAM_BASE + (g_rand_int(rand) & 0xfffc);
        s->stvec = TB_RAM_BASE + (g_rand_int(rand) & 0xfffc);
        s->pc = TB_RAM_BASE + (g_rand_int(rand) & 0xfffe);
        riscv_cpu_state_changed(b->cpu);
        for (unsigned n = 0; n < 50 && b->status == 0; n++) {
            riscv_cpu_run(b->cpu, 2000);
            /* Keep the hart in our RAM image once in a while. */
            if (s->pc - TB_RAM_BASE >= 65536) {
                s->pc = TB_RAM_BASE + (g_rand_int(rand) & 0xfffe);
            }
        }
        total += riscv_cpu_insn_count(b->cpu);
        tb_free(b);
    }
    g_test_message("random code: %" G_GUINT64_FORMAT " instructions retired",
                   total);
    g_rand_free(rand);
}

int main(int argc, char **argv)
{
    static const char *guests[] = {
        "alu", "atomic", "fp", "trap", "mmu", "smc",
    };

    g_test_init(&argc, &argv, NULL);
    for (unsigned i = 0; i < G_N_ELEMENTS(guests); i++) {
        char *path = g_strdup_printf("/riscv/guest/%s", guests[i]);

        g_test_add_data_func(path, guests[i], test_guest);
        g_free(path);
    }
    g_test_add_func("/riscv/host/exit-request", test_exit_request);
    g_test_add_func("/riscv/host/budget", test_budget);
    g_test_add_func("/riscv/host/wfi-interrupt", test_wfi_and_interrupt);
    g_test_add_func("/riscv/host/mmio-fault", test_mmio_fault);
    g_test_add_func("/riscv/host/interrupt-order", test_interrupt_order);
    g_test_add_func("/riscv/host/mmio-misaligned-split",
                    test_mmio_misaligned_split);
    g_test_add_func("/riscv/host/state-roundtrip", test_state_roundtrip);
    g_test_add_func("/riscv/host/external-code-write",
                    test_external_code_write);
    g_test_add_func("/riscv/host/reservation-other-hart",
                    test_reservation_broken_by_other_hart);
    g_test_add_func("/riscv/host/state-sanitised", test_state_sanitised);
    g_test_add_func("/riscv/host/random-code", test_random_code);
    return g_test_run();
}
