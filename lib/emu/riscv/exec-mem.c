/*
 * Op handlers: integer loads and stores, LR/SC and AMOs.
 */
#include "internal.h"

#define LOAD_OP(name, size, conv)                                          \
    const RvOp *riscv_op_##name(RiscvCpu *cpu, const RvOp *op)              \
    {                                                                      \
        uint64_t v;                                                        \
        if (G_UNLIKELY(!rv_load(cpu, X(op->rs1) + op->imm, size, &v))) {   \
            return riscv_op_fault(cpu, op);                                \
        }                                                                  \
        X(op->rd) = (conv);                                                \
        return RV_NEXT(cpu, op);                                           \
    }

LOAD_OP(lb, 1, (uint64_t)(int64_t)(int8_t)v)
LOAD_OP(lh, 2, (uint64_t)(int64_t)(int16_t)v)
LOAD_OP(lw, 4, (uint64_t)(int64_t)(int32_t)v)
LOAD_OP(ld, 8, v)
LOAD_OP(lbu, 1, v)
LOAD_OP(lhu, 2, v)
LOAD_OP(lwu, 4, v)

#define STORE_OP(name, size)                                               \
    const RvOp *riscv_op_##name(RiscvCpu *cpu, const RvOp *op)              \
    {                                                                      \
        if (G_UNLIKELY(!rv_store(cpu, X(op->rs1) + op->imm, size,          \
                                 X(op->rs2)))) {                           \
            return riscv_op_fault(cpu, op);                                \
        }                                                                  \
        return RV_NEXT(cpu, op);                                           \
    }

STORE_OP(sb, 1)
STORE_OP(sh, 2)
STORE_OP(sw, 4)
STORE_OP(sd, 8)

/* ---- A extension ---- */

static inline uint64_t sext_size(uint64_t v, unsigned size)
{
    return size == 4 ? rv_sext32(v) : v;
}

const RvOp *riscv_op_lr(RiscvCpu *cpu, const RvOp *op)
{
    uint64_t vaddr = X(op->rs1);
    unsigned size = op->aux;
    uint64_t paddr, v;
    void *host;

    if (vaddr & (size - 1)) {
        return riscv_op_raise(cpu, op, EXC_LOAD_MISALIGNED, vaddr);
    }
    if (!riscv_atomic_prepare(cpu, vaddr, size, false, &host, &paddr)) {
        return riscv_op_fault(cpu, op);
    }
    if (host) {
        if (size == 4) {
            v = __atomic_load_n((uint32_t *)host, __ATOMIC_ACQUIRE);
        } else {
            v = __atomic_load_n((uint64_t *)host, __ATOMIC_ACQUIRE);
        }
    } else if (!riscv_mmio_access(cpu, vaddr, paddr, size, &v, false)) {
        return riscv_op_fault(cpu, op);
    }
    cpu->s.res_addr = paddr;
    cpu->s.res_size = size;
    cpu->s.res_valid = host != NULL;
    cpu->res_vaddr = vaddr;
    cpu->res_value = sext_size(v, size);
    X(op->rd) = cpu->res_value;
    return RV_NEXT(cpu, op);
}

/*
 * sc as QEMU 7.2 does it: an sc whose address is not the reserved one
 * fails without accessing memory (so it neither traps nor checks
 * alignment); otherwise it is a compare-and-swap against the value lr
 * loaded, compared at the sc's width.  Either way the reservation is gone.
 */
const RvOp *riscv_op_sc(RiscvCpu *cpu, const RvOp *op)
{
    uint64_t vaddr = X(op->rs1);
    unsigned size = op->aux;
    uint64_t paddr;
    void *host;
    bool ok;

    if (!cpu->s.res_valid || cpu->res_vaddr != vaddr) {
        cpu->s.res_valid = 0;
        X(op->rd) = 1;
        return RV_NEXT(cpu, op);
    }
    cpu->s.res_valid = 0;
    if (vaddr & (size - 1)) {
        /* lr.w then sc.d at the same address: QEMU raises cause 4. */
        return riscv_op_raise(cpu, op, EXC_LOAD_MISALIGNED, vaddr);
    }
    if (!riscv_atomic_prepare(cpu, vaddr, size, true, &host, &paddr)) {
        return riscv_op_fault(cpu, op);
    }
    if (!host) {
        ok = false;                 /* no reservations on MMIO */
    } else if (size == 4) {
        uint32_t old = (uint32_t)cpu->res_value;

        __atomic_compare_exchange_n((uint32_t *)host, &old,
                                    (uint32_t)X(op->rs2), false,
                                    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
        /*
         * The store happens if the low 32 bits match, but success is
         * the old value against all 64 bits lr loaded (QEMU 7.2: after
         * lr.d, an sc.w stores and yet reports failure unless the
         * doubleword was a sign-extended word).
         */
        ok = rv_sext32(old) == cpu->res_value;
    } else {
        uint64_t old = cpu->res_value;

        ok = __atomic_compare_exchange_n((uint64_t *)host, &old,
                                         X(op->rs2), false,
                                         __ATOMIC_SEQ_CST,
                                         __ATOMIC_RELAXED);
    }
    X(op->rd) = ok ? 0 : 1;
    return RV_NEXT(cpu, op);
}

static uint64_t amo_compute(unsigned f5, unsigned size, uint64_t old,
                            uint64_t src)
{
    int64_t so = (int64_t)sext_size(old, size);
    int64_t ss = (int64_t)sext_size(src, size);
    uint64_t uo = size == 4 ? (uint32_t)old : old;
    uint64_t us = size == 4 ? (uint32_t)src : src;

    switch (f5) {
    case 0x01: return src;
    case 0x00: return old + src;
    case 0x04: return old ^ src;
    case 0x0c: return old & src;
    case 0x08: return old | src;
    case 0x10: return so < ss ? old : src;
    case 0x14: return so > ss ? old : src;
    case 0x18: return uo < us ? old : src;
    default:   return uo > us ? old : src;
    }
}

const RvOp *riscv_op_amo(RiscvCpu *cpu, const RvOp *op)
{
    uint64_t vaddr = X(op->rs1);
    uint64_t src = X(op->rs2);
    unsigned size = op->aux;
    uint64_t paddr, old;
    void *host;

    if (vaddr & (size - 1)) {
        /* QEMU 7.2 raises load (not store/AMO) address misaligned. */
        return riscv_op_raise(cpu, op, EXC_LOAD_MISALIGNED, vaddr);
    }
    if (!riscv_atomic_prepare(cpu, vaddr, size, true, &host, &paddr)) {
        return riscv_op_fault(cpu, op);
    }
    if (host && size == 4) {
        uint32_t *p = host;
        uint32_t o = __atomic_load_n(p, __ATOMIC_RELAXED);
        uint32_t n;

        do {
            n = (uint32_t)amo_compute(op->rm, 4, o, src);
        } while (!__atomic_compare_exchange_n(p, &o, n, true,
                                              __ATOMIC_SEQ_CST,
                                              __ATOMIC_RELAXED));
        old = o;
    } else if (host) {
        uint64_t *p = host;
        uint64_t o = __atomic_load_n(p, __ATOMIC_RELAXED);
        uint64_t n;

        do {
            n = amo_compute(op->rm, 8, o, src);
        } while (!__atomic_compare_exchange_n(p, &o, n, true,
                                              __ATOMIC_SEQ_CST,
                                              __ATOMIC_RELAXED));
        old = o;
    } else {
        /* MMIO: not atomic against devices, which run on this thread. */
        if (!riscv_mmio_access(cpu, vaddr, paddr, size, &old, false)) {
            cpu->fault_cause = EXC_STORE_ACCESS;
            return riscv_op_fault(cpu, op);
        }
        uint64_t n = amo_compute(op->rm, size, old, src);
        if (!riscv_mmio_access(cpu, vaddr, paddr, size, &n, true)) {
            return riscv_op_fault(cpu, op);
        }
    }
    X(op->rd) = sext_size(old, size);
    return RV_NEXT(cpu, op);
}
