/*
 * Op handlers: system instructions (Zicsr, ecall/ebreak, xRET, wfi,
 * sfence.vma, fence.i).  All of them end their block.
 */
#include "internal.h"

static const RvOp *next_pc(RiscvCpu *cpu, const RvOp *op)
{
    cpu->s.pc = rv_op_pc(cpu, op) + op->len;
    return NULL;
}

enum { CSR_RW, CSR_RS, CSR_RC };

static const RvOp *csr_op(RiscvCpu *cpu, const RvOp *op, int kind)
{
    unsigned csr = op->aux;
    bool imm = op->rm & 4;
    uint64_t src = imm ? op->rs1 : X(op->rs1);
    bool do_write = kind == CSR_RW || op->rs1 != 0;
    bool do_read = kind != CSR_RW || op->rd != 32;
    uint32_t idx = (uint32_t)(op - cpu->tb_ops);
    uint64_t old = 0, val;

    /* Counters must include the instructions before this one. */
    rv_retire(cpu, idx - cpu->tb_accounted);
    cpu->tb_accounted = idx;

    if (do_write && !riscv_csr_is_writable(cpu, csr)) {
        return riscv_op_illegal(cpu, op);
    }
    if (do_read && !riscv_csr_read(cpu, csr, &old)) {
        return riscv_op_illegal(cpu, op);
    }
    if (do_write) {
        uint64_t base = old;

        /*
         * Only the software-writable SEIP takes part in a read-modify-
         * write of mip; the interrupt controller's line is just ORed into
         * the value read (privileged spec 3.1.9).
         */
        if (csr == 0x344) {
            base = (old & ~RISCV_MIP_SEIP) | (cpu->s.mip & RISCV_MIP_SEIP);
        }
        val = kind == CSR_RW ? src : kind == CSR_RS ? base | src
                                                     : base & ~src;
        if (!riscv_csr_write(cpu, csr, val)) {
            return riscv_op_illegal(cpu, op);
        }
        /* A write to a counter replaces this instruction's increment. */
        if (csr == 0xb00 && !(cpu->s.mcountinhibit & 1)) {
            cpu->s.mcycle--;
        } else if (csr == 0xb02 && !(cpu->s.mcountinhibit & 4)) {
            cpu->s.minstret--;
        }
    }
    X(op->rd) = old;
    return next_pc(cpu, op);
}

const RvOp *riscv_op_csrrw(RiscvCpu *cpu, const RvOp *op)
{
    return csr_op(cpu, op, CSR_RW);
}

const RvOp *riscv_op_csrrs(RiscvCpu *cpu, const RvOp *op)
{
    return csr_op(cpu, op, CSR_RS);
}

const RvOp *riscv_op_csrrc(RiscvCpu *cpu, const RvOp *op)
{
    return csr_op(cpu, op, CSR_RC);
}

const RvOp *riscv_op_ecall(RiscvCpu *cpu, const RvOp *op)
{
    static const uint8_t cause[4] = {
        EXC_ECALL_U, EXC_ECALL_S, 0, EXC_ECALL_M,
    };
    return riscv_op_raise(cpu, op, cause[cpu->s.priv & 3], 0);
}

const RvOp *riscv_op_ebreak(RiscvCpu *cpu, const RvOp *op)
{
    /* xtval = 0, as QEMU 7.2 (the spec also allows the pc). */
    return riscv_op_raise(cpu, op, EXC_BREAKPOINT, 0);
}

const RvOp *riscv_op_mret(RiscvCpu *cpu, const RvOp *op)
{
    RiscvCpuState *s = &cpu->s;
    uint64_t st = s->mstatus;
    unsigned mpp;

    if (s->priv != RISCV_PRIV_M) {
        return riscv_op_illegal(cpu, op);
    }
    mpp = (st & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT;
    if (mpp == 2) {
        mpp = RISCV_PRIV_U;         /* the reserved mode: U, as QEMU 7.2 */
    }
    st &= ~(MSTATUS_MIE | MSTATUS_MPP);
    if (s->mstatus & MSTATUS_MPIE) {
        st |= MSTATUS_MIE;
    }
    st |= MSTATUS_MPIE;
    if (mpp != RISCV_PRIV_M) {
        st &= ~MSTATUS_MPRV;
    }
    s->mstatus = st;
    s->priv = mpp;
    s->pc = s->mepc;
    s->res_valid = 0;               /* xRET drops the reservation */
    riscv_update_mmu_idx(cpu);
    return NULL;
}

const RvOp *riscv_op_sret(RiscvCpu *cpu, const RvOp *op)
{
    RiscvCpuState *s = &cpu->s;
    uint64_t st = s->mstatus;

    if (s->priv < RISCV_PRIV_S ||
        (s->priv == RISCV_PRIV_S && (st & MSTATUS_TSR))) {
        return riscv_op_illegal(cpu, op);
    }
    s->priv = (st & MSTATUS_SPP) ? RISCV_PRIV_S : RISCV_PRIV_U;
    st &= ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV);
    if (s->mstatus & MSTATUS_SPIE) {
        st |= MSTATUS_SIE;
    }
    st |= MSTATUS_SPIE;
    s->mstatus = st;
    s->pc = s->sepc;
    s->res_valid = 0;
    riscv_update_mmu_idx(cpu);
    return NULL;
}

const RvOp *riscv_op_wfi(RiscvCpu *cpu, const RvOp *op)
{
    RiscvCpuState *s = &cpu->s;

    if (s->priv == RISCV_PRIV_U ||
        (s->priv == RISCV_PRIV_S && (s->mstatus & MSTATUS_TW))) {
        return riscv_op_illegal(cpu, op);
    }
    if ((riscv_read_mip(cpu) & s->mie) == 0) {
        cpu->wfi_exit = true;
    }
    return next_pc(cpu, op);
}

const RvOp *riscv_op_sfence_vma(RiscvCpu *cpu, const RvOp *op)
{
    RiscvCpuState *s = &cpu->s;

    if (s->priv == RISCV_PRIV_U ||
        (s->priv == RISCV_PRIV_S && (s->mstatus & MSTATUS_TVM))) {
        return riscv_op_illegal(cpu, op);
    }
    riscv_tlb_flush(cpu);
    return next_pc(cpu, op);
}

const RvOp *riscv_op_fence_i(RiscvCpu *cpu, const RvOp *op)
{
    /*
     * Stores to pages holding translated code already dropped those
     * blocks; ending the block makes the next fetch see the new code.
     */
    return next_pc(cpu, op);
}
