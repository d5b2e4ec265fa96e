/*
 * Op handlers: F and D extensions.  Arithmetic is done by softfloat.c so
 * results and flags are exact and host independent.  Singles live
 * NaN-boxed in the 64-bit registers; an improperly boxed single reads as
 * the canonical NaN.
 */
#include "internal.h"
#include "softfloat.h"

#define F(r) (cpu->s.f[(r)])

static inline uint64_t box32(uint64_t v)
{
    return (uint32_t)v | 0xffffffff00000000ull;
}

static inline uint64_t unbox32(uint64_t v)
{
    return (v >> 32) == 0xffffffffu ? (uint32_t)v : 0x7fc00000u;
}

/* Effective rounding mode, or -1 if reserved (illegal instruction). */
static inline int fp_rm(const RiscvCpu *cpu, const RvOp *op)
{
    unsigned rm = op->rm == 7 ? cpu->s.frm : op->rm;

    return rm > 4 ? -1 : (int)rm;
}

static inline void fp_done(RiscvCpu *cpu, unsigned fl)
{
    cpu->s.fflags |= fl;
    rv_fs_dirty(cpu);
}

#define FP_ENTER()                                                         \
    do {                                                                   \
        if (G_UNLIKELY(rv_fs_off(cpu))) {                                  \
            return riscv_op_illegal(cpu, op);                              \
        }                                                                  \
    } while (0)

#define FP_ENTER_RM(rm)                                                    \
    int rm = fp_rm(cpu, op);                                               \
    do {                                                                   \
        if (G_UNLIKELY(rv_fs_off(cpu) || rm < 0)) {                        \
            return riscv_op_illegal(cpu, op);                              \
        }                                                                  \
    } while (0)

/* ---- Loads and stores ---- */

const RvOp *riscv_op_flw(RiscvCpu *cpu, const RvOp *op)
{
    uint64_t v;

    FP_ENTER();
    if (!rv_load(cpu, X(op->rs1) + op->imm, 4, &v)) {
        return riscv_op_fault(cpu, op);
    }
    F(op->rd) = box32(v);
    rv_fs_dirty(cpu);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fld(RiscvCpu *cpu, const RvOp *op)
{
    uint64_t v;

    FP_ENTER();
    if (!rv_load(cpu, X(op->rs1) + op->imm, 8, &v)) {
        return riscv_op_fault(cpu, op);
    }
    F(op->rd) = v;
    rv_fs_dirty(cpu);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fsw(RiscvCpu *cpu, const RvOp *op)
{
    FP_ENTER();
    if (!rv_store(cpu, X(op->rs1) + op->imm, 4, (uint32_t)F(op->rs2))) {
        return riscv_op_fault(cpu, op);
    }
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fsd(RiscvCpu *cpu, const RvOp *op)
{
    FP_ENTER();
    if (!rv_store(cpu, X(op->rs1) + op->imm, 8, F(op->rs2))) {
        return riscv_op_fault(cpu, op);
    }
    return RV_NEXT(cpu, op);
}

/* ---- Arithmetic ---- */

/* aux: 0 fmadd, 1 fmsub, 2 fnmsub, 3 fnmadd. */
static uint64_t do_fma(const SfFmt *f, unsigned variant, uint64_t a,
                       uint64_t b, uint64_t c, int rm, unsigned *fl)
{
    uint64_t sign = 1ull << (f->ebits + f->fbits);

    if (variant == 1 || variant == 3) {
        c ^= sign;
    }
    if (variant == 2 || variant == 3) {
        a ^= sign;
    }
    return sf_fma(f, a, b, c, rm, fl);
}

const RvOp *riscv_op_fmadd_s(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;
    FP_ENTER_RM(rm);

    F(op->rd) = box32(do_fma(&sf_f32, op->aux, unbox32(F(op->rs1)),
                             unbox32(F(op->rs2)), unbox32(F(op->rs3)), rm,
                             &fl));
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fmadd_d(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;
    FP_ENTER_RM(rm);

    F(op->rd) = do_fma(&sf_f64, op->aux, F(op->rs1), F(op->rs2),
                       F(op->rs3), rm, &fl);
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

static uint64_t do_arith(const SfFmt *f, unsigned kind, uint64_t a,
                         uint64_t b, int rm, unsigned *fl)
{
    switch (kind) {
    case 0: return sf_add(f, a, b, rm, fl);
    case 1: return sf_sub(f, a, b, rm, fl);
    case 2: return sf_mul(f, a, b, rm, fl);
    default: return sf_div(f, a, b, rm, fl);
    }
}

const RvOp *riscv_op_farith_s(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;
    FP_ENTER_RM(rm);

    F(op->rd) = box32(do_arith(&sf_f32, op->aux, unbox32(F(op->rs1)),
                               unbox32(F(op->rs2)), rm, &fl));
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_farith_d(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;
    FP_ENTER_RM(rm);

    F(op->rd) = do_arith(&sf_f64, op->aux, F(op->rs1), F(op->rs2), rm, &fl);
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fsqrt_s(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;
    FP_ENTER_RM(rm);

    F(op->rd) = box32(sf_sqrt(&sf_f32, unbox32(F(op->rs1)), rm, &fl));
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fsqrt_d(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;
    FP_ENTER_RM(rm);

    F(op->rd) = sf_sqrt(&sf_f64, F(op->rs1), rm, &fl);
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

/* ---- Sign injection, min/max, compare, classify ---- */

static uint64_t sgnj(uint64_t a, uint64_t b, unsigned kind, uint64_t sign)
{
    uint64_t s;

    switch (kind) {
    case 0: s = b & sign; break;
    case 1: s = ~b & sign; break;
    default: s = (a ^ b) & sign; break;
    }
    return (a & ~sign) | s;
}

const RvOp *riscv_op_fsgnj_s(RiscvCpu *cpu, const RvOp *op)
{
    FP_ENTER();
    F(op->rd) = box32(sgnj(unbox32(F(op->rs1)), unbox32(F(op->rs2)), op->rm,
                           1ull << 31));
    rv_fs_dirty(cpu);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fsgnj_d(RiscvCpu *cpu, const RvOp *op)
{
    FP_ENTER();
    F(op->rd) = sgnj(F(op->rs1), F(op->rs2), op->rm, 1ull << 63);
    rv_fs_dirty(cpu);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fminmax_s(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;
    uint64_t a = unbox32(F(op->rs1)), b = unbox32(F(op->rs2));

    FP_ENTER();
    F(op->rd) = box32(op->rm ? sf_max(&sf_f32, a, b, &fl)
                             : sf_min(&sf_f32, a, b, &fl));
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fminmax_d(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;
    uint64_t a = F(op->rs1), b = F(op->rs2);

    FP_ENTER();
    F(op->rd) = op->rm ? sf_max(&sf_f64, a, b, &fl)
                       : sf_min(&sf_f64, a, b, &fl);
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

static bool do_cmp(const SfFmt *f, unsigned kind, uint64_t a, uint64_t b,
                   unsigned *fl)
{
    switch (kind) {
    case 0: return sf_le(f, a, b, fl);
    case 1: return sf_lt(f, a, b, fl);
    default: return sf_eq(f, a, b, fl);
    }
}

const RvOp *riscv_op_fcmp_s(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;

    FP_ENTER();
    X(op->rd) = do_cmp(&sf_f32, op->rm, unbox32(F(op->rs1)),
                       unbox32(F(op->rs2)), &fl);
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fcmp_d(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;

    FP_ENTER();
    X(op->rd) = do_cmp(&sf_f64, op->rm, F(op->rs1), F(op->rs2), &fl);
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fclass_s(RiscvCpu *cpu, const RvOp *op)
{
    FP_ENTER();
    X(op->rd) = sf_classify(&sf_f32, unbox32(F(op->rs1)));
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fclass_d(RiscvCpu *cpu, const RvOp *op)
{
    FP_ENTER();
    X(op->rd) = sf_classify(&sf_f64, F(op->rs1));
    return RV_NEXT(cpu, op);
}

/* ---- Conversions and moves ---- */

/* aux: 0 w, 1 wu, 2 l, 3 lu. */
#define CVT_SIGNED(aux) (!((aux) & 1))
#define CVT_BITS(aux) ((aux) & 2 ? 64u : 32u)

const RvOp *riscv_op_fcvt_i_s(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;
    FP_ENTER_RM(rm);

    X(op->rd) = sf_to_int(&sf_f32, unbox32(F(op->rs1)), CVT_SIGNED(op->aux),
                          CVT_BITS(op->aux), rm, &fl);
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fcvt_i_d(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;
    FP_ENTER_RM(rm);

    X(op->rd) = sf_to_int(&sf_f64, F(op->rs1), CVT_SIGNED(op->aux),
                          CVT_BITS(op->aux), rm, &fl);
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fcvt_s_i(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;
    FP_ENTER_RM(rm);

    F(op->rd) = box32(sf_from_int(&sf_f32, X(op->rs1), CVT_SIGNED(op->aux),
                                  CVT_BITS(op->aux), rm, &fl));
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fcvt_d_i(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;
    FP_ENTER_RM(rm);

    F(op->rd) = sf_from_int(&sf_f64, X(op->rs1), CVT_SIGNED(op->aux),
                            CVT_BITS(op->aux), rm, &fl);
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fcvt_s_d(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;
    FP_ENTER_RM(rm);

    F(op->rd) = box32(sf_convert(&sf_f32, &sf_f64, F(op->rs1), rm, &fl));
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fcvt_d_s(RiscvCpu *cpu, const RvOp *op)
{
    unsigned fl = 0;
    FP_ENTER_RM(rm);

    F(op->rd) = sf_convert(&sf_f64, &sf_f32, unbox32(F(op->rs1)), rm, &fl);
    fp_done(cpu, fl);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fmv_x_w(RiscvCpu *cpu, const RvOp *op)
{
    FP_ENTER();
    X(op->rd) = rv_sext32(F(op->rs1));
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fmv_w_x(RiscvCpu *cpu, const RvOp *op)
{
    FP_ENTER();
    F(op->rd) = box32(X(op->rs1));
    rv_fs_dirty(cpu);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fmv_x_d(RiscvCpu *cpu, const RvOp *op)
{
    FP_ENTER();
    X(op->rd) = F(op->rs1);
    return RV_NEXT(cpu, op);
}

const RvOp *riscv_op_fmv_d_x(RiscvCpu *cpu, const RvOp *op)
{
    FP_ENTER();
    F(op->rd) = X(op->rs1);
    rv_fs_dirty(cpu);
    return RV_NEXT(cpu, op);
}
