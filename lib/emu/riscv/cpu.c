/*
 * Hart and bus objects, reset, and the run loop: look up a block, run its
 * ops through their handlers, retire, check interrupts and exit requests
 * at block boundaries.
 */
#include <inttypes.h>

#include "internal.h"

#define MISA_RV64IMAFDCSU ((2ull << 62) | (1u << 0) | (1u << 2) | \
                           (1u << 3) | (1u << 5) | (1u << 8) | \
                           (1u << 12) | (1u << 18) | (1u << 20))

RiscvBus *riscv_bus_new(const RiscvBusOps *ops, void *opaque)
{
    RiscvBus *bus = g_new0(RiscvBus, 1);

    bus->ops = ops;
    bus->opaque = opaque;
    return bus;
}

void riscv_bus_free(RiscvBus *bus)
{
    if (!bus) {
        return;
    }
    g_assert(bus->nharts == 0);
    for (unsigned i = 0; i < bus->nram; i++) {
        g_free(bus->ram[i].code_pages);
    }
    g_free(bus);
}

bool riscv_bus_add_ram(RiscvBus *bus, uint64_t base, uint64_t size,
                       void *host, unsigned flags, Error **errp)
{
    RvRamRegion *r;

    if ((base | size) & ~RV_PAGE_MASK || size == 0 || base + size < base) {
        error_setg(errp, "RAM region 0x%" PRIx64 "+0x%" PRIx64
                   " is not page aligned", base, size);
        return false;
    }
    if (bus->nram == RV_MAX_RAM) {
        error_setg(errp, "too many RAM regions");
        return false;
    }
    for (unsigned i = 0; i < bus->nram; i++) {
        r = &bus->ram[i];
        if (base < r->base + r->size && r->base < base + size) {
            error_setg(errp, "RAM region 0x%" PRIx64 " overlaps 0x%" PRIx64,
                       base, r->base);
            return false;
        }
    }
    r = &bus->ram[bus->nram++];
    r->base = base;
    r->size = size;
    r->host = host;
    r->flags = flags;
    r->code_pages = g_malloc0(size >> RV_PAGE_BITS);
    for (unsigned i = 0; i < bus->nharts; i++) {
        riscv_tlb_flush(bus->harts[i]);
    }
    return true;
}

void riscv_cpu_reset(RiscvCpu *cpu, uint64_t reset_pc)
{
    RiscvCpuState *s = &cpu->s;
    uint64_t hartid = s->mhartid;

    memset(s, 0, sizeof(*s));
    s->mhartid = hartid;
    s->pc = reset_pc;
    s->priv = RISCV_PRIV_M;
    s->misa = MISA_RV64IMAFDCSU;
    s->mstatus = (2ull << 32) | (2ull << 34);
    atomic_store(&cpu->exit_request, false);
    cpu->wfi_exit = false;
    riscv_cpu_state_changed(cpu);
}

RiscvCpu *riscv_cpu_new(RiscvBus *bus, uint64_t hartid, uint64_t reset_pc)
{
    RiscvCpu *cpu;

    g_assert(bus->nharts < RV_MAX_HARTS);
    cpu = g_new0(RiscvCpu, 1);
    cpu->bus = bus;
    atomic_init(&cpu->irq_lines, 0);
    atomic_init(&cpu->exit_request, false);
    riscv_tb_init(cpu);
    cpu->tlb_used = (1u << MMU_IDX_COUNT) - 1;    /* all need a flush */
    cpu->s.mhartid = hartid;
    riscv_cpu_reset(cpu, reset_pc);
    bus->harts[bus->nharts++] = cpu;
    return cpu;
}

void riscv_cpu_free(RiscvCpu *cpu)
{
    RiscvBus *bus;

    if (!cpu) {
        return;
    }
    bus = cpu->bus;
    for (unsigned i = 0; i < bus->nharts; i++) {
        if (bus->harts[i] == cpu) {
            bus->harts[i] = bus->harts[--bus->nharts];
            break;
        }
    }
    riscv_tb_destroy(cpu);
    g_free(cpu);
}

RiscvCpuState *riscv_cpu_state(RiscvCpu *cpu)
{
    return &cpu->s;
}

void riscv_cpu_state_changed(RiscvCpu *cpu)
{
    RiscvCpuState *s = &cpu->s;
    unsigned mode = s->satp >> 60;

    /*
     * The state may come from an untrusted stream: restore the invariants
     * the engine relies on instead of trusting it.
     */
    s->x[0] = 0;
    if (s->priv != RISCV_PRIV_U && s->priv != RISCV_PRIV_S) {
        s->priv = RISCV_PRIV_M;
    }
    s->pc &= ~1ull;
    s->mepc &= ~1ull;
    s->sepc &= ~1ull;
    s->fflags &= 31;
    s->frm &= 7;
    s->misa = MISA_RV64IMAFDCSU;
    for (unsigned i = RISCV_PMP_IMPLEMENTED; i < RISCV_PMP_COUNT; i++) {
        s->pmpcfg[i] = 0;
        s->pmpaddr[i] = 0;
    }
    if (!riscv_satp_mode_ok(mode)) {
        s->satp = 0;
    }
    riscv_csr_sanitise(cpu);
    riscv_set_mstatus(cpu, s->mstatus);
    riscv_update_mmu_idx(cpu);
    riscv_tlb_flush(cpu);
}

void riscv_cpu_request_exit(RiscvCpu *cpu)
{
    atomic_store_explicit(&cpu->exit_request, true, memory_order_release);
}

void riscv_cpu_set_irq(RiscvCpu *cpu, uint64_t mask, bool level)
{
    mask &= RISCV_MIP_MEIP | RISCV_MIP_SEIP | RISCV_MIP_MTIP |
            RISCV_MIP_MSIP;
    if (level) {
        atomic_fetch_or(&cpu->irq_lines, mask);
    } else {
        atomic_fetch_and(&cpu->irq_lines, ~mask);
    }
}

bool riscv_cpu_has_pending_irq(RiscvCpu *cpu)
{
    return (riscv_read_mip(cpu) & cpu->s.mie) != 0;
}

uint64_t riscv_cpu_insn_count(RiscvCpu *cpu)
{
    return cpu->insn_count;
}

RiscvExitReason riscv_cpu_run(RiscvCpu *cpu, uint64_t max_insns)
{
    /*
     * Budget used: retired instructions, and at least 1 per block attempt
     * so that a guest looping on faults (e.g. mtvec on an unmapped page)
     * still returns to the board.
     */
    uint64_t spent = 0;
    RiscvExitReason why;

    for (;;) {
        uint64_t before = cpu->insn_count;
        const RvOp *op;
        RvTb *tb;

        if (G_UNLIKELY(atomic_load_explicit(&cpu->exit_request,
                                            memory_order_relaxed))) {
            atomic_store(&cpu->exit_request, false);
            why = RISCV_EXIT_REQUEST;
            break;
        }
        if (G_UNLIKELY(spent >= max_insns)) {
            why = RISCV_EXIT_BUDGET;
            break;
        }
        if (G_UNLIKELY(((cpu->s.mip |
                         atomic_load_explicit(&cpu->irq_lines,
                                              memory_order_relaxed)) &
                        cpu->s.mie) != 0)) {
            riscv_trap_check_interrupts(cpu);
        }
        if (G_UNLIKELY(cpu->zombies || cpu->tb_flush_pending)) {
            riscv_tb_reap(cpu);
        }
        tb = rv_tb_find(cpu);
        if (G_UNLIKELY(!tb)) {
            spent++;
            continue;
        }
        cpu->tb_pc = cpu->s.pc;
        cpu->tb_ops = tb->ops;
        cpu->tb_exited_early = false;
        cpu->tb_accounted = 0;
        op = tb->ops;
        op->fn(cpu, op);
        rv_retire(cpu, (cpu->tb_exited_early ? cpu->tb_insns_done
                                             : tb->ninsns) -
                       cpu->tb_accounted);
        spent += MAX(cpu->insn_count - before, 1);
        if (G_UNLIKELY(cpu->wfi_exit)) {
            cpu->wfi_exit = false;
            why = RISCV_EXIT_WFI;
            break;
        }
    }
    /*
     * Other harts run (and store) only while this one is out of the loop,
     * so dropping the reservation here makes their stores break it.
     */
    cpu->s.res_valid = 0;
    return why;
}
