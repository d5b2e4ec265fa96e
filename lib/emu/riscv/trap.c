/*
 * Traps and privilege: exception/interrupt entry with delegation, the
 * interrupt priority logic, and the data/exec TLB set selection that
 * depends on the privilege level.
 */
#include "internal.h"

void riscv_update_mmu_idx(RiscvCpu *cpu)
{
    unsigned dpriv = rv_data_priv(cpu);
    unsigned idx;

    switch (dpriv) {
    case RISCV_PRIV_U:
        idx = MMU_IDX_U;
        break;
    case RISCV_PRIV_S:
        idx = (cpu->s.mstatus & MSTATUS_SUM) ? MMU_IDX_S_SUM : MMU_IDX_S;
        break;
    case 2:
        idx = (cpu->s.mstatus & MSTATUS_SUM) ? MMU_IDX_P2_SUM : MMU_IDX_P2;
        break;
    default:
        idx = MMU_IDX_M;
        break;
    }
    cpu->dtlb = &cpu->tlb[idx];
    switch (cpu->s.priv) {
    case RISCV_PRIV_U:
        cpu->itlb = &cpu->tlb[MMU_IDX_U];
        break;
    case RISCV_PRIV_S:
        cpu->itlb = &cpu->tlb[MMU_IDX_S];
        break;
    default:
        cpu->itlb = &cpu->tlb[MMU_IDX_M];
        break;
    }
}

uint64_t riscv_read_mip(RiscvCpu *cpu)
{
    return cpu->s.mip | atomic_load_explicit(&cpu->irq_lines,
                                             memory_order_relaxed);
}

void riscv_trap_take(RiscvCpu *cpu, uint64_t cause, uint64_t tval)
{
    RiscvCpuState *s = &cpu->s;
    bool irq = cause & CAUSE_INTERRUPT;
    unsigned code = cause & 63;
    uint64_t deleg = irq ? s->mideleg : s->medeleg;
    uint64_t tvec;

    /* A trap breaks any LR/SC sequence. */
    s->res_valid = 0;

    if (s->priv <= RISCV_PRIV_S && ((deleg >> code) & 1)) {
        uint64_t st = s->mstatus;

        s->scause = cause;
        s->sepc = s->pc;
        s->stval = tval;
        st &= ~(MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE);
        if (s->mstatus & MSTATUS_SIE) {
            st |= MSTATUS_SPIE;
        }
        if (s->priv == RISCV_PRIV_S) {
            st |= MSTATUS_SPP;
        }
        s->mstatus = st;
        s->priv = RISCV_PRIV_S;
        tvec = s->stvec;
    } else {
        uint64_t st = s->mstatus;

        s->mcause = cause;
        s->mepc = s->pc;
        s->mtval = tval;
        st &= ~(MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE);
        if (s->mstatus & MSTATUS_MIE) {
            st |= MSTATUS_MPIE;
        }
        st |= (uint64_t)s->priv << MSTATUS_MPP_SHIFT;
        s->mstatus = st;
        s->priv = RISCV_PRIV_M;
        tvec = s->mtvec;
    }
    if (irq && (tvec & 3) == 1) {
        s->pc = (tvec & ~3ull) + 4ull * code;
    } else {
        s->pc = tvec & ~3ull;
    }
    riscv_update_mmu_idx(cpu);
}

/*
 * Among the pending interrupts of one level, QEMU 7.2 (without AIA) takes
 * the lowest-numbered one, not the privileged spec's order (MEI, MSI,
 * MTI, SEI, SSI, STI); we do the same.
 */
static int pick_irq(uint64_t bits)
{
    return bits ? __builtin_ctzll(bits) : -1;
}

bool riscv_trap_check_interrupts(RiscvCpu *cpu)
{
    RiscvCpuState *s = &cpu->s;
    uint64_t pending = riscv_read_mip(cpu) & s->mie;
    uint64_t m_pending, s_pending;
    int irq;

    if (G_LIKELY(pending == 0)) {
        return false;
    }
    m_pending = pending & ~s->mideleg;
    s_pending = pending & s->mideleg;
    if (s->priv < RISCV_PRIV_M ||
        (s->mstatus & MSTATUS_MIE)) {
        irq = pick_irq(m_pending);
        if (irq >= 0) {
            riscv_trap_take(cpu, CAUSE_INTERRUPT | irq, 0);
            return true;
        }
    }
    if (s->priv < RISCV_PRIV_S ||
        (s->priv == RISCV_PRIV_S && (s->mstatus & MSTATUS_SIE))) {
        irq = pick_irq(s_pending);
        if (irq >= 0) {
            riscv_trap_take(cpu, CAUSE_INTERRUPT | irq, 0);
            return true;
        }
    }
    return false;
}

const RvOp *riscv_op_raise(RiscvCpu *cpu, const RvOp *op, uint64_t cause,
                           uint64_t tval)
{
    cpu->s.pc = rv_op_pc(cpu, op);
    cpu->tb_exited_early = true;
    cpu->tb_insns_done = (uint32_t)(op - cpu->tb_ops);
    riscv_trap_take(cpu, cause, tval);
    return NULL;
}

const RvOp *riscv_op_fault(RiscvCpu *cpu, const RvOp *op)
{
    return riscv_op_raise(cpu, op, cpu->fault_cause, cpu->fault_tval);
}

const RvOp *riscv_op_illegal(RiscvCpu *cpu, const RvOp *op)
{
    return riscv_op_raise(cpu, op, EXC_ILLEGAL_INSN, op->insn);
}
