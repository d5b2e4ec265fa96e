/*
 * F and D: every rounding mode (static rne/rtz/rdn/rup/rmm and dynamic
 * frm) for add/sub/mul/div/sqrt, the fused multiply-add family and the
 * conversions (float<->int, float<->double) on inexact, tie, overflow,
 * underflow, NaN and infinite operands, with fflags after each; NaN
 * boxing of singles, canonical NaNs, fmin/fmax with signed zeros and
 * sNaN, fclass, feq/flt/fle with NaNs, sign injection, fcsr fields,
 * reserved rounding modes and the FS field.
 */
#include "isa.h"

typedef void (*FpFn)(u64 a, u64 b, u64 c, u64 *r, u64 *f);

#define FLAGS_CLEAR "fsflags zero\n\t"
#define FLAGS_READ "\n\tfrflags %1"

/* ft0 = a, ft1 = b, ft2 = c (loaded with fmv.d.x: singles are boxed by
 * the caller), result register or integer read with fmv.x.d. */
#define GEN_R2(id, insn, rm) \
static void id(u64 a, u64 b, u64 c, u64 *r, u64 *f) { (void)c; \
    __asm__ volatile(FLAGS_CLEAR "fmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\t" \
        insn " ft3, ft0, ft1, " rm "\n\tfmv.x.d %0, ft3" FLAGS_READ \
        : "=r"(*r), "=r"(*f) : "r"(a), "r"(b) : "ft0", "ft1", "ft3"); }
#define GEN_R1(id, insn, rm) \
static void id(u64 a, u64 b, u64 c, u64 *r, u64 *f) { (void)b; (void)c; \
    __asm__ volatile(FLAGS_CLEAR "fmv.d.x ft0, %2\n\t" \
        insn " ft3, ft0, " rm "\n\tfmv.x.d %0, ft3" FLAGS_READ \
        : "=r"(*r), "=r"(*f) : "r"(a) : "ft0", "ft3"); }
#define GEN_R3(id, insn, rm) \
static void id(u64 a, u64 b, u64 c, u64 *r, u64 *f) { \
    __asm__ volatile(FLAGS_CLEAR "fmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\t" \
        "fmv.d.x ft2, %4\n\t" \
        insn " ft3, ft0, ft1, ft2, " rm "\n\tfmv.x.d %0, ft3" FLAGS_READ \
        : "=r"(*r), "=r"(*f) : "r"(a), "r"(b), "r"(c) \
        : "ft0", "ft1", "ft2", "ft3"); }
/* float -> integer register */
#define GEN_F2I(id, insn, rm) \
static void id(u64 a, u64 b, u64 c, u64 *r, u64 *f) { (void)b; (void)c; \
    __asm__ volatile(FLAGS_CLEAR "fmv.d.x ft0, %2\n\t" \
        insn " %0, ft0, " rm FLAGS_READ \
        : "=&r"(*r), "=r"(*f) : "r"(a) : "ft0"); }
/* integer register -> float */
#define GEN_I2F(id, insn, rm) \
static void id(u64 a, u64 b, u64 c, u64 *r, u64 *f) { (void)b; (void)c; \
    __asm__ volatile(FLAGS_CLEAR insn " ft3, %2, " rm \
        "\n\tfmv.x.d %0, ft3" FLAGS_READ \
        : "=r"(*r), "=r"(*f) : "r"(a) : "ft3"); }

#define RMS(GEN, id, insn) \
    GEN(id##_rne, insn, "rne") GEN(id##_rtz, insn, "rtz") \
    GEN(id##_rdn, insn, "rdn") GEN(id##_rup, insn, "rup") \
    GEN(id##_rmm, insn, "rmm") GEN(id##_dyn, insn, "dyn")

typedef struct FpOp {
    const char *name;
    FpFn fn[6];             /* rne rtz rdn rup rmm dyn */
    const u64 (*in)[3];
    int n;
} FpOp;

#define OP(id, name, inputs) \
    { name, { id##_rne, id##_rtz, id##_rdn, id##_rup, id##_rmm, id##_dyn }, \
      inputs, (int)(sizeof(inputs) / sizeof(inputs[0])) }

#define BOX(x) (0xffffffff00000000ull | (u32)(x))

RMS(GEN_R2, fadd_s, "fadd.s")
RMS(GEN_R2, fsub_s, "fsub.s")
RMS(GEN_R2, fmul_s, "fmul.s")
RMS(GEN_R2, fdiv_s, "fdiv.s")
RMS(GEN_R1, fsqrt_s, "fsqrt.s")
RMS(GEN_R3, fmadd_s, "fmadd.s")
RMS(GEN_R3, fmsub_s, "fmsub.s")
RMS(GEN_R3, fnmadd_s, "fnmadd.s")
RMS(GEN_R3, fnmsub_s, "fnmsub.s")
RMS(GEN_R2, fadd_d, "fadd.d")
RMS(GEN_R2, fsub_d, "fsub.d")
RMS(GEN_R2, fmul_d, "fmul.d")
RMS(GEN_R2, fdiv_d, "fdiv.d")
RMS(GEN_R1, fsqrt_d, "fsqrt.d")
RMS(GEN_R3, fmadd_d, "fmadd.d")
RMS(GEN_R3, fmsub_d, "fmsub.d")
RMS(GEN_R3, fnmadd_d, "fnmadd.d")
RMS(GEN_R3, fnmsub_d, "fnmsub.d")
RMS(GEN_F2I, fcvt_w_s, "fcvt.w.s")
RMS(GEN_F2I, fcvt_wu_s, "fcvt.wu.s")
RMS(GEN_F2I, fcvt_l_s, "fcvt.l.s")
RMS(GEN_F2I, fcvt_lu_s, "fcvt.lu.s")
RMS(GEN_F2I, fcvt_w_d, "fcvt.w.d")
RMS(GEN_F2I, fcvt_wu_d, "fcvt.wu.d")
RMS(GEN_F2I, fcvt_l_d, "fcvt.l.d")
RMS(GEN_F2I, fcvt_lu_d, "fcvt.lu.d")
RMS(GEN_I2F, fcvt_s_w, "fcvt.s.w")
RMS(GEN_I2F, fcvt_s_wu, "fcvt.s.wu")
RMS(GEN_I2F, fcvt_s_l, "fcvt.s.l")
RMS(GEN_I2F, fcvt_s_lu, "fcvt.s.lu")
RMS(GEN_I2F, fcvt_d_l, "fcvt.d.l")
RMS(GEN_I2F, fcvt_d_lu, "fcvt.d.lu")
RMS(GEN_R1, fcvt_s_d, "fcvt.s.d")

/* ---- operands ---- */

#define S1 BOX(0x3f800000)      /* 1.0f */
#define SM1 BOX(0xbf800000)
#define S3 BOX(0x40400000)
#define STIE BOX(0x33800000)    /* 2^-24: half an ulp of 1.0f */
#define STIE1 BOX(0x33800001)
#define SMAX BOX(0x7f7fffff)
#define SINF BOX(0x7f800000)
#define SNINF BOX(0xff800000)
#define SSNAN BOX(0x7f800001)
#define SQNAN BOX(0x7fc00001)   /* quiet NaN with a payload */
#define SZERO BOX(0)
#define SNZERO BOX(0x80000000)
#define SMINN BOX(0x00800000)   /* smallest normal */
#define SSUB BOX(0x00000003)

static const u64 s_bin[][3] = {
    { S1, STIE }, { S1, STIE1 }, { SM1, STIE1 | 0x80000000 },
    { S1, S3 }, { SMAX, SMAX }, { SSNAN, S1 }, { SQNAN, S1 },
    { SINF, SNINF }, { SZERO, SNZERO }, { S1, SM1 }, { S1, SZERO },
    { SZERO, SZERO }, { BOX(0x00800001), BOX(0x3f000000) },
    { SMINN, BOX(0x80800001) }, { 0x000000003f800000ull, S1 },
};

#define D1 0x3ff0000000000000ull
#define DM1 0xbff0000000000000ull
#define D3 0x4008000000000000ull
#define DTIE 0x3ca0000000000000ull
#define DTIE1 0x3ca0000000000001ull
#define DMAX 0x7fefffffffffffffull
#define DINF 0x7ff0000000000000ull
#define DNINF 0xfff0000000000000ull
#define DSNAN 0x7ff0000000000001ull
#define DQNAN 0x7ff8000000000001ull
#define DNZERO 0x8000000000000000ull
#define DMINN 0x0010000000000000ull

static const u64 d_bin[][3] = {
    { D1, DTIE }, { D1, DTIE1 }, { DM1, DTIE1 | DNZERO }, { D1, D3 },
    { DMAX, DMAX }, { DSNAN, D1 }, { DQNAN, D1 }, { DINF, DNINF },
    { 0, DNZERO }, { D1, DM1 }, { D1, 0 }, { 0, 0 },
    { 0x0010000000000001ull, 0x3fe0000000000000ull },
    { DMINN, 0x8010000000000001ull },
};

static const u64 s_un[][3] = {
    { BOX(0x40000000) }, { BOX(0x40800000) }, { SM1 }, { SNZERO },
    { SSNAN }, { SQNAN }, { SINF }, { SSUB }, { BOX(0x3f800001) },
    { 0x0000000040800000ull },
};

static const u64 d_un[][3] = {
    { 0x4000000000000000ull }, { 0x4010000000000000ull }, { DM1 },
    { DNZERO }, { DSNAN }, { DQNAN }, { DINF }, { 3 },
    { 0x3ff0000000000001ull },
};

static const u64 s_tern[][3] = {
    { S1, S1, STIE },
    { BOX(0x3f800001), BOX(0x3f800001), BOX(0xbf800002) },
    { SINF, SZERO, SQNAN }, { SINF, SZERO, S1 },
    { SMAX, BOX(0x40000000), SNINF }, { SMAX, BOX(0x40000000), SMAX },
    { SSNAN, S1, S1 }, { S1, S1, SSNAN }, { S1, SZERO, SNZERO },
    { S1, SM1, S1 }, { S3, BOX(0x3eaaaaab), SM1 },
};

static const u64 d_tern[][3] = {
    { D1, D1, DTIE },
    { 0x3ff0000000000001ull, 0x3ff0000000000001ull, 0xbff0000000000002ull },
    { DINF, 0, DQNAN }, { DINF, 0, D1 }, { DMAX, 0x4000000000000000ull, DNINF },
    { DMAX, 0x4000000000000000ull, DMAX }, { DSNAN, D1, D1 },
    { D1, D1, DSNAN }, { D1, 0, DNZERO }, { D1, DM1, D1 },
    { D3, 0x3fd5555555555555ull, DM1 },
};

static const u64 s_f2i[][3] = {
    { BOX(0x3fc00000) }, { BOX(0x40200000) }, { BOX(0xbfc00000) },
    { BOX(0xc0200000) }, { BOX(0x4f000000) }, { BOX(0xcf000000) },
    { BOX(0xcf000001) }, { SQNAN }, { SSNAN }, { SNINF }, { SINF },
    { BOX(0x5f800000) }, { BOX(0x5f000000) }, { BOX(0xbf000000) },
    { BOX(0x3f7fffff) }, { BOX(0x4f800000) }, { SNZERO },
    { 0x000000003f800000ull },
};

static const u64 d_f2i[][3] = {
    { 0x3ff8000000000000ull }, { 0x4004000000000000ull },
    { 0xbff8000000000000ull }, { 0xc004000000000000ull },
    { 0x41dfffffffc00000ull }, { 0x41e0000000000000ull },
    { 0xc1e0000000000000ull }, { 0xc1e0000000200000ull }, { DQNAN },
    { DSNAN }, { DNINF }, { DINF }, { 0x43f0000000000000ull },
    { 0x43e0000000000000ull }, { 0xbfe0000000000000ull },
    { 0x3fefffffffffffffull }, { 0x41f0000000000000ull }, { DNZERO },
    { 0xc3e0000000000000ull },
};

static const u64 i2f[][3] = {
    { 0x7fffffff }, { 0xffffffff80000001ull }, { 0x01000001 },
    { 0xffffffffull }, { 0x7fffffffffffffffull }, { 0x8000000000000001ull },
    { 0xffffffffffffffffull }, { 0x0020000000000001ull },
    { 0x1234567801000003ull }, { 0 }, { 0xfffffffffeffffffull },
};

static const u64 s_from_d[][3] = {
    { 0x3fd5555555555555ull }, { 0x47efffffffffffffull },
    { 0x47efffffe0000000ull }, { 0xc7efffffffffffffull },
    { 0x3690000000000001ull }, { 0x36a0000000000000ull }, { DSNAN },
    { 0x7ff8123456789abcull }, { DNZERO }, { DNINF },
    { 0x3ff0000010000000ull }, { 0x3ff0000030000000ull },
};

static const FpOp rm_ops[] = {
    OP(fadd_s, "fadd.s", s_bin), OP(fsub_s, "fsub.s", s_bin),
    OP(fmul_s, "fmul.s", s_bin), OP(fdiv_s, "fdiv.s", s_bin),
    OP(fsqrt_s, "fsqrt.s", s_un),
    OP(fmadd_s, "fmadd.s", s_tern), OP(fmsub_s, "fmsub.s", s_tern),
    OP(fnmadd_s, "fnmadd.s", s_tern), OP(fnmsub_s, "fnmsub.s", s_tern),
    OP(fadd_d, "fadd.d", d_bin), OP(fsub_d, "fsub.d", d_bin),
    OP(fmul_d, "fmul.d", d_bin), OP(fdiv_d, "fdiv.d", d_bin),
    OP(fsqrt_d, "fsqrt.d", d_un),
    OP(fmadd_d, "fmadd.d", d_tern), OP(fmsub_d, "fmsub.d", d_tern),
    OP(fnmadd_d, "fnmadd.d", d_tern), OP(fnmsub_d, "fnmsub.d", d_tern),
    OP(fcvt_w_s, "fcvt.w.s", s_f2i), OP(fcvt_wu_s, "fcvt.wu.s", s_f2i),
    OP(fcvt_l_s, "fcvt.l.s", s_f2i), OP(fcvt_lu_s, "fcvt.lu.s", s_f2i),
    OP(fcvt_w_d, "fcvt.w.d", d_f2i), OP(fcvt_wu_d, "fcvt.wu.d", d_f2i),
    OP(fcvt_l_d, "fcvt.l.d", d_f2i), OP(fcvt_lu_d, "fcvt.lu.d", d_f2i),
    OP(fcvt_s_w, "fcvt.s.w", i2f), OP(fcvt_s_wu, "fcvt.s.wu", i2f),
    OP(fcvt_s_l, "fcvt.s.l", i2f), OP(fcvt_s_lu, "fcvt.s.lu", i2f),
    OP(fcvt_d_l, "fcvt.d.l", i2f), OP(fcvt_d_lu, "fcvt.d.lu", i2f),
    OP(fcvt_s_d, "fcvt.s.d", s_from_d),
};

static const char *const rm_names[] = { "rne", "rtz", "rdn", "rup", "rmm" };

/* Prints "op.i.mode.r value" and "op.i.mode.f flags". */
static void show_res(const char *op, int i, const char *mode, u64 r, u64 f)
{
    char name[64];
    int n = 0;

    for (const char *p = op; *p; p++) {
        name[n++] = *p;
    }
    name[n++] = '.';
    if (i >= 10) {
        name[n++] = (char)('0' + i / 10);
    }
    name[n++] = (char)('0' + i % 10);
    name[n++] = '.';
    for (const char *p = mode; *p; p++) {
        name[n++] = *p;
    }
    name[n] = 0;
    show2(name, "r", r);
    show2(name, "f", f);
}

static void test_rounding(void)
{
    for (unsigned k = 0; k < sizeof(rm_ops) / sizeof(rm_ops[0]); k++) {
        const FpOp *op = &rm_ops[k];

        for (int i = 0; i < op->n; i++) {
            u64 r, f;

            for (int m = 0; m < 5; m++) {
                op->fn[m](op->in[i][0], op->in[i][1], op->in[i][2], &r, &f);
                show_res(op->name, i, rm_names[m], r, f);
            }
            for (int m = 0; m < 5; m++) {
                char mode[8] = "dyn.";

                mode[4] = (char)('0' + m);
                mode[5] = 0;
                CSR_WRITE(frm, m);
                op->fn[5](op->in[i][0], op->in[i][1], op->in[i][2], &r, &f);
                show_res(op->name, i, mode, r, f);
            }
            CSR_WRITE(frm, 0);
        }
    }
}

/* ---- operations without a rounding mode ---- */

#define GEN_NR2(id, insn) \
static void id(u64 a, u64 b, u64 c, u64 *r, u64 *f) { (void)c; \
    __asm__ volatile(FLAGS_CLEAR "fmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\t" \
        insn " ft3, ft0, ft1\n\tfmv.x.d %0, ft3" FLAGS_READ \
        : "=r"(*r), "=r"(*f) : "r"(a), "r"(b) : "ft0", "ft1", "ft3"); }
#define GEN_CMP(id, insn) \
static void id(u64 a, u64 b, u64 c, u64 *r, u64 *f) { (void)c; \
    __asm__ volatile(FLAGS_CLEAR "fmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\t" \
        insn " %0, ft0, ft1" FLAGS_READ \
        : "=&r"(*r), "=r"(*f) : "r"(a), "r"(b) : "ft0", "ft1"); }
#define GEN_X1(id, insn) \
static void id(u64 a, u64 b, u64 c, u64 *r, u64 *f) { (void)b; (void)c; \
    __asm__ volatile(FLAGS_CLEAR "fmv.d.x ft0, %2\n\t" \
        insn " %0, ft0" FLAGS_READ \
        : "=&r"(*r), "=r"(*f) : "r"(a) : "ft0"); }
#define GEN_F1(id, insn) \
static void id(u64 a, u64 b, u64 c, u64 *r, u64 *f) { (void)b; (void)c; \
    __asm__ volatile(FLAGS_CLEAR "fmv.d.x ft0, %2\n\t" \
        insn " ft3, ft0\n\tfmv.x.d %0, ft3" FLAGS_READ \
        : "=r"(*r), "=r"(*f) : "r"(a) : "ft0", "ft3"); }
#define GEN_XI(id, insn) \
static void id(u64 a, u64 b, u64 c, u64 *r, u64 *f) { (void)b; (void)c; \
    __asm__ volatile(FLAGS_CLEAR insn " ft3, %2\n\tfmv.x.d %0, ft3" \
        FLAGS_READ : "=r"(*r), "=r"(*f) : "r"(a) : "ft3"); }

GEN_NR2(fmin_s, "fmin.s") GEN_NR2(fmax_s, "fmax.s")
GEN_NR2(fmin_d, "fmin.d") GEN_NR2(fmax_d, "fmax.d")
GEN_NR2(fsgnj_s, "fsgnj.s") GEN_NR2(fsgnjn_s, "fsgnjn.s")
GEN_NR2(fsgnjx_s, "fsgnjx.s") GEN_NR2(fsgnj_d, "fsgnj.d")
GEN_NR2(fsgnjn_d, "fsgnjn.d") GEN_NR2(fsgnjx_d, "fsgnjx.d")
GEN_CMP(feq_s, "feq.s") GEN_CMP(flt_s, "flt.s") GEN_CMP(fle_s, "fle.s")
GEN_CMP(feq_d, "feq.d") GEN_CMP(flt_d, "flt.d") GEN_CMP(fle_d, "fle.d")
GEN_X1(fclass_s, "fclass.s") GEN_X1(fclass_d, "fclass.d")
GEN_X1(fmv_x_w, "fmv.x.w") GEN_X1(fmv_x_d, "fmv.x.d")
GEN_F1(fcvt_d_s, "fcvt.d.s")
GEN_XI(fmv_w_x, "fmv.w.x") GEN_XI(fcvt_d_w, "fcvt.d.w")
GEN_XI(fcvt_d_wu, "fcvt.d.wu")

typedef struct NrOp {
    const char *name;
    FpFn fn;
    const u64 (*in)[3];
    int n;
} NrOp;

#define NR(id, name, inputs) \
    { name, id, inputs, (int)(sizeof(inputs) / sizeof(inputs[0])) }

static const u64 s_minmax[][3] = {
    { SZERO, SNZERO }, { SNZERO, SZERO }, { SQNAN, S1 }, { S1, SQNAN },
    { SSNAN, S1 }, { S1, SSNAN }, { SQNAN, SQNAN }, { SSNAN, SQNAN },
    { S1, SM1 }, { SINF, SNINF }, { 0x000000003f800000ull, S1 },
    { 0x7fffffff00000000ull, 0x000000003f800000ull },
};

static const u64 d_minmax[][3] = {
    { 0, DNZERO }, { DNZERO, 0 }, { DQNAN, D1 }, { D1, DQNAN },
    { DSNAN, D1 }, { D1, DSNAN }, { DQNAN, DQNAN }, { DSNAN, DQNAN },
    { D1, DM1 }, { DINF, DNINF },
};

static const u64 s_cmp[][3] = {
    { S1, S1 }, { S1, S3 }, { S3, S1 }, { SQNAN, S1 }, { S1, SQNAN },
    { SSNAN, S1 }, { SZERO, SNZERO }, { SNINF, SINF }, { SQNAN, SQNAN },
    { 0x000000003f800000ull, 0x000000003f800000ull },
};

static const u64 d_cmp[][3] = {
    { D1, D1 }, { D1, D3 }, { D3, D1 }, { DQNAN, D1 }, { D1, DQNAN },
    { DSNAN, D1 }, { 0, DNZERO }, { DNINF, DINF }, { DQNAN, DQNAN },
};

static const u64 s_class[][3] = {
    { SNINF }, { SM1 }, { BOX(0x80000001) }, { SNZERO }, { SZERO },
    { SSUB }, { S1 }, { SINF }, { SSNAN }, { SQNAN },
    { 0x000000003f800000ull }, { 0xfffffffe7f800000ull },
};

static const u64 d_class[][3] = {
    { DNINF }, { DM1 }, { 0x8000000000000001ull }, { DNZERO }, { 0 },
    { 3 }, { D1 }, { DINF }, { DSNAN }, { DQNAN },
};

static const u64 s_to_d[][3] = {
    { S1 }, { SSNAN }, { SQNAN }, { SSUB }, { SNINF }, { SNZERO },
    { 0x000000003f800000ull }, { BOX(0x7f7fffff) },
};

static const u64 x_vals[][3] = {
    { 0x80000000ull }, { 0x123456787f800001ull }, { 0xffffffffffffffffull },
    { 0x000000003f800000ull }, { 0xfffffffe3f800000ull },
};

static const NrOp nr_ops[] = {
    NR(fmin_s, "fmin.s", s_minmax), NR(fmax_s, "fmax.s", s_minmax),
    NR(fmin_d, "fmin.d", d_minmax), NR(fmax_d, "fmax.d", d_minmax),
    NR(fsgnj_s, "fsgnj.s", s_minmax), NR(fsgnjn_s, "fsgnjn.s", s_minmax),
    NR(fsgnjx_s, "fsgnjx.s", s_minmax), NR(fsgnj_d, "fsgnj.d", d_minmax),
    NR(fsgnjn_d, "fsgnjn.d", d_minmax), NR(fsgnjx_d, "fsgnjx.d", d_minmax),
    NR(feq_s, "feq.s", s_cmp), NR(flt_s, "flt.s", s_cmp),
    NR(fle_s, "fle.s", s_cmp), NR(feq_d, "feq.d", d_cmp),
    NR(flt_d, "flt.d", d_cmp), NR(fle_d, "fle.d", d_cmp),
    NR(fclass_s, "fclass.s", s_class), NR(fclass_d, "fclass.d", d_class),
    NR(fcvt_d_s, "fcvt.d.s", s_to_d),
    NR(fmv_x_w, "fmv.x.w", x_vals), NR(fmv_x_d, "fmv.x.d", x_vals),
    NR(fmv_w_x, "fmv.w.x", x_vals), NR(fcvt_d_w, "fcvt.d.w", x_vals),
    NR(fcvt_d_wu, "fcvt.d.wu", x_vals),
};

static void test_no_rm(void)
{
    for (unsigned k = 0; k < sizeof(nr_ops) / sizeof(nr_ops[0]); k++) {
        const NrOp *op = &nr_ops[k];

        for (int i = 0; i < op->n; i++) {
            u64 r, f;

            op->fn(op->in[i][0], op->in[i][1], op->in[i][2], &r, &f);
            show_res(op->name, i, "x", r, f);
        }
    }
}

/* ---- fcsr, loads and stores, reserved rounding modes, FS ---- */

static volatile u64 mem[2];

static void test_csr_and_misc(void)
{
    u64 v;

    /* flags accumulate; fcsr = frm << 5 | fflags */
    CSR_WRITE(fcsr, 0);
    CSR_WRITE(frm, 3);
    __asm__ volatile("fmv.d.x ft0, %0\n\tfmv.d.x ft1, %1\n\t"
                     "fdiv.d ft2, ft0, ft1\n\tfadd.d ft2, ft0, ft1, rne\n\t"
                     "fsqrt.d ft2, ft1"
                     :: "r"(D1), "r"(0ull) : "ft0", "ft1", "ft2");
    show("fcsr.accum", CSR_READ(fcsr));
    show("fcsr.fflags", CSR_READ(fflags));
    show("fcsr.frm", CSR_READ(frm));
    CSR_WRITE(fcsr, ~0ull);
    show("fcsr.write_all", CSR_READ(fcsr));
    CSR_WRITE(fflags, ~0ull);
    show("fflags.write_all", CSR_READ(fflags));
    CSR_WRITE(frm, ~0ull);
    show("frm.write_all", CSR_READ(frm));
    CSR_WRITE(fcsr, 0);

    /* reserved dynamic rounding modes: illegal instruction */
    for (int m = 5; m < 8; m++) {
        trap_reset();
        CSR_WRITE(frm, m);
        __asm__ volatile("fmv.d.x ft0, %0\n\tfadd.s ft2, ft0, ft0, dyn"
                         :: "r"(S1) : "ft0", "ft2");
        show(m == 5 ? "frm5.cause" : m == 6 ? "frm6.cause" : "frm7.cause",
             m_trap.cause);
        show(m == 5 ? "frm5.tval" : m == 6 ? "frm6.tval" : "frm7.tval",
             m_trap.tval);
        /* conversions that are exact still check frm */
        trap_reset();
        __asm__ volatile("fcvt.d.s ft2, ft0" ::: "ft2");
        show("frm.fcvt.d.s.traps", m_trap.count);
        trap_reset();
        __asm__ volatile("fmv.d.x ft0, %0\n\tfsgnj.d ft2, ft0, ft0"
                         :: "r"(D1) : "ft0", "ft2");
        show("frm.fsgnj.traps", m_trap.count);
    }
    CSR_WRITE(frm, 0);
    /* reserved static rounding modes 5 and 6 */
    trap_reset();
    __asm__ volatile(".word 0x00105153" ::: "ft2");   /* fadd.s rm=5 */
    show("rm5.cause", m_trap.cause);
    show("rm5.tval", m_trap.tval);
    __asm__ volatile(".word 0x00106153" ::: "ft2");   /* fadd.s rm=6 */
    show("rm6.cause", m_trap.cause);
    show("rm6.tval", m_trap.tval);
    trap_reset();

    /* flw boxes, fsw stores the low word of anything */
    mem[0] = 0x11223344c0000000ull;
    __asm__ volatile("flw ft0, 4(%1)\n\tfmv.x.d %0, ft0" : "=r"(v)
                     : "r"(&mem[0]) : "ft0");
    show("flw.boxed", v);
    __asm__ volatile("fmv.d.x ft0, %0\n\tfsw ft0, 0(%1)"
                     :: "r"(0x00000000aabbccddull), "r"(&mem[1])
                     : "ft0", "memory");
    show("fsw.unboxed", mem[1]);
    /* a single op on an unboxed operand sees the canonical NaN */
    __asm__ volatile("fmv.d.x ft0, %1\n\tfcvt.d.s ft1, ft0\n\t"
                     "fmv.x.d %0, ft1" : "=r"(v)
                     : "r"(0x000000003f800000ull) : "ft0", "ft1");
    show("unboxed.fcvt.d.s", v);

    /* FS = Off: FP instructions and fcsr are illegal; FS tracking */
    CSR_CLEAR(mstatus, MSTATUS_FS);
    trap_reset();
    __asm__ volatile("fadd_off_pc: fadd.d ft0, ft0, ft0" ::: "ft0");
    show("fs_off.fadd.cause", m_trap.cause);
    show("fs_off.fadd.tval", m_trap.tval);
    __asm__ volatile("csrr %0, fcsr" : "=r"(v));
    show("fs_off.fcsr.cause", m_trap.cause);
    show("fs_off.fcsr.tval", m_trap.tval);
    trap_reset();
    CSR_SET(mstatus, 1ull << 13);
    show("fs.initial", CSR_READ(mstatus) & (MSTATUS_FS | (1ull << 63)));
    __asm__ volatile("fmv.d.x ft0, zero" ::: "ft0");
    show("fs.after_write", CSR_READ(mstatus) & (MSTATUS_FS | (1ull << 63)));
    CSR_CLEAR(mstatus, MSTATUS_FS);
    CSR_SET(mstatus, 2ull << 13);
    __asm__ volatile("fsflags zero");
    show("fs.clean_fsflags", CSR_READ(mstatus) & (MSTATUS_FS | (1ull << 63)));
    CSR_CLEAR(mstatus, MSTATUS_FS);
    CSR_SET(mstatus, 2ull << 13);
    __asm__ volatile("frflags %0" : "=r"(v));
    show("fs.clean_frflags", CSR_READ(mstatus) & (MSTATUS_FS | (1ull << 63)));
    CSR_CLEAR(mstatus, MSTATUS_FS);
    CSR_SET(mstatus, 2ull << 13);
    __asm__ volatile("fmv.x.d %0, ft0" : "=r"(v));
    show("fs.clean_fmv_x", CSR_READ(mstatus) & (MSTATUS_FS | (1ull << 63)));
    CSR_SET(mstatus, MSTATUS_FS);
}

int main(void)
{
    test_rounding();
    test_no_rm();
    test_csr_and_misc();
    return 0;
}
