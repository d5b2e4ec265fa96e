# F and D: rounding modes, flags, NaN boxing, canonical NaNs, fmin/fmax,
# conversions with saturation, fused multiply-add, fclass, FS tracking.
    .include "common.inc"

# Reads and clears fflags, checks the value.
    .macro FLAGS val
    csrrw s11, fflags, zero
    CHECK s11, \val
    .endm

    .macro FLD reg, val
    li s11, \val
    fmv.d.x \reg, s11
    .endm

    .macro FCHECK freg, val
    fmv.x.d s11, \freg
    CHECK s11, \val
    .endm

    .text
main:
    # FP off: an FP instruction is illegal, mtval = its bits.
    li a0, 0x6000
    csrc mstatus, a0
fp_off_insn:
    fadd.d fa0, fa1, fa2
    CHECK_TRAP m_trap_info, 2, 0x02c5f553
    # Enable (Initial); the first FP write makes it Dirty and sets SD.
    li a0, 0x2000
    csrs mstatus, a0
    csrr a1, mstatus
    srli a1, a1, 13
    andi a1, a1, 3
    CHECK a1, 1
    FLD fa0, 0x3ff0000000000000
    csrr a1, mstatus
    srli a2, a1, 13
    andi a2, a2, 3
    CHECK a2, 3
    srli a1, a1, 63
    CHECK a1, 1

    # --- 1/3 and -1/3 in every rounding mode (static rm) ---
    FLD fa0, 0x3ff0000000000000
    FLD fa1, 0x4008000000000000
    FLD fa2, 0xbff0000000000000
    fdiv.d fa3, fa0, fa1, rne
    FCHECK fa3, 0x3fd5555555555555
    FLAGS 1
    fdiv.d fa3, fa0, fa1, rtz
    FCHECK fa3, 0x3fd5555555555555
    fdiv.d fa3, fa0, fa1, rdn
    FCHECK fa3, 0x3fd5555555555555
    fdiv.d fa3, fa0, fa1, rup
    FCHECK fa3, 0x3fd5555555555556
    fdiv.d fa3, fa0, fa1, rmm
    FCHECK fa3, 0x3fd5555555555555
    fdiv.d fa3, fa2, fa1, rne
    FCHECK fa3, 0xbfd5555555555555
    fdiv.d fa3, fa2, fa1, rtz
    FCHECK fa3, 0xbfd5555555555555
    fdiv.d fa3, fa2, fa1, rdn
    FCHECK fa3, 0xbfd5555555555556
    fdiv.d fa3, fa2, fa1, rup
    FCHECK fa3, 0xbfd5555555555555
    fdiv.d fa3, fa2, fa1, rmm
    FCHECK fa3, 0xbfd5555555555555
    FLAGS 1

    # --- A tie: 1 + 2^-53, dynamic rounding through frm ---
    FLD fa1, 0x3ca0000000000000
    fsrmi 0
    fadd.d fa3, fa0, fa1
    FCHECK fa3, 0x3ff0000000000000
    fsrmi 1
    fadd.d fa3, fa0, fa1
    FCHECK fa3, 0x3ff0000000000000
    fsrmi 2
    fadd.d fa3, fa0, fa1
    FCHECK fa3, 0x3ff0000000000000
    fsrmi 3
    fadd.d fa3, fa0, fa1
    FCHECK fa3, 0x3ff0000000000001
    fsrmi 4
    fadd.d fa3, fa0, fa1
    FCHECK fa3, 0x3ff0000000000001
    # 1 + 3*2^-53 ties to even upwards under RNE
    FLD fa1, 0x3cb8000000000000
    fsrmi 0
    fadd.d fa3, fa0, fa1
    FCHECK fa3, 0x3ff0000000000002
    FLAGS 1
    # single precision: 1 + 2^-24 in RMM and RNE
    li a0, 0x3f800000
    fmv.w.x fs0, a0
    li a0, 0x33800000
    fmv.w.x fs1, a0
    fadd.s fs2, fs0, fs1, rmm
    fmv.x.w a1, fs2
    CHECK a1, 0x3f800001
    fadd.s fs2, fs0, fs1, rne
    fmv.x.w a1, fs2
    CHECK a1, 0x3f800000
    FLAGS 1
    # reserved frm: dynamic-rm instructions are illegal
    fsrmi 5
    fadd.d fa3, fa0, fa1
    CHECK_TRAP m_trap_info, 2, 0x02b576d3
    fsrmi 0
    # fcsr packs frm and fflags
    li a0, 0x7f
    fscsr a1, a0
    frrm a1
    CHECK a1, 3
    frflags a1
    CHECK a1, 0x1f
    frcsr a1
    CHECK a1, 0x7f
    fscsr zero
    frcsr a1
    CHECK a1, 0

    # --- Exception flags ---
    FLD fa1, 0x7fe0000000000000
    fmul.d fa3, fa1, fa1
    FCHECK fa3, 0x7ff0000000000000
    FLAGS 5
    fmul.d fa3, fa1, fa1, rtz
    FCHECK fa3, 0x7fefffffffffffff
    FLAGS 5
    FLD fa1, 0x0010000000000000
    fmul.d fa3, fa1, fa1
    FCHECK fa3, 0
    FLAGS 3
    fmul.d fa3, fa1, fa1, rup
    FCHECK fa3, 1
    FLAGS 3
    # exact subnormal result: no underflow flag
    FLD fa2, 0x3fe0000000000000
    fmul.d fa3, fa1, fa2
    FCHECK fa3, 0x0008000000000000
    FLAGS 0
    # Tininess is detected after rounding.  (1 - 2^-104) * 2^-1022 rounds
    # to 2^-1022 at full precision: not tiny, only inexact.
    FLD fa1, 0x3ff0000000000001
    FLD fa4, 0x000fffffffffffff
    fmul.d fa3, fa1, fa4
    FCHECK fa3, 0x0010000000000000
    FLAGS 1
    # (1 - 2^-53) * 2^-1022 is exact at full precision, so tiny: UF too.
    FLD fa1, 0x3fefffffffffffff
    FLD fa4, 0x0010000000000000
    fmul.d fa3, fa1, fa4
    FCHECK fa3, 0x0010000000000000
    FLAGS 3
    FLD fa1, 0x0010000000000000
    FLD fa1, 0x0
    fdiv.d fa3, fa0, fa1
    FCHECK fa3, 0x7ff0000000000000
    FLAGS 8
    fdiv.d fa3, fa1, fa1
    FCHECK fa3, 0x7ff8000000000000
    FLAGS 16
    fsqrt.d fa3, fa2
    FCHECK fa3, 0x3fe6a09e667f3bcd
    FLAGS 1
    FLD fa1, 0xbff0000000000000
    fsqrt.d fa3, fa1
    FCHECK fa3, 0x7ff8000000000000
    FLAGS 16

    # --- Canonical NaN, signaling NaN ---
    FLD fa1, 0xfff8000000000123
    fadd.d fa3, fa1, fa0
    FCHECK fa3, 0x7ff8000000000000
    FLAGS 0
    FLD fa1, 0x7ff0000000000001
    fadd.d fa3, fa1, fa0
    FCHECK fa3, 0x7ff8000000000000
    FLAGS 16
    fcvt.s.d fs2, fa1
    fmv.x.d a1, fs2
    CHECK a1, 0xffffffff7fc00000
    FLAGS 16

    # --- NaN boxing ---
    li a0, 0x3f800000
    fmv.d.x fs0, a0
    fadd.s fs2, fs0, fs0
    FCHECK fs2, 0xffffffff7fc00000
    FLAGS 0
    fsgnjn.s fs2, fs0, fs0
    FCHECK fs2, 0xffffffffffc00000
    fmv.x.w a1, fs0
    CHECK a1, 0x3f800000
    la s0, fpdata
    flw fs3, 0(s0)
    FCHECK fs3, 0xffffffff40490fdb
    fsw fs0, 8(s0)
    lwu a1, 8(s0)
    CHECK a1, 0x3f800000
    li a0, 0x80000000
    fmv.w.x fs3, a0
    FCHECK fs3, 0xffffffff80000000
    fmv.x.w a1, fs3
    CHECK a1, 0xffffffff80000000
    fclass.s a1, fs0
    CHECK a1, 0x200

    # --- fmin/fmax (2.2: -0 < +0, sNaN invalid, NaN only if both NaN) ---
    FLD fa1, 0x0
    FLD fa2, 0x8000000000000000
    fmin.d fa3, fa1, fa2
    FCHECK fa3, 0x8000000000000000
    fmin.d fa3, fa2, fa1
    FCHECK fa3, 0x8000000000000000
    fmax.d fa3, fa2, fa1
    FCHECK fa3, 0
    fmax.d fa3, fa1, fa2
    FCHECK fa3, 0
    FLAGS 0
    FLD fa1, 0x7ff0000000000001
    fmin.d fa3, fa1, fa0
    FCHECK fa3, 0x3ff0000000000000
    FLAGS 16
    FLD fa2, 0x7ff8000000000005
    fmax.d fa3, fa2, fa2
    FCHECK fa3, 0x7ff8000000000000
    FLAGS 0
    fmax.d fa3, fa2, fa0
    FCHECK fa3, 0x3ff0000000000000
    FLAGS 0
    li a0, 0xbf800000
    fmv.w.x fs1, a0
    li a0, 0x3f800000
    fmv.w.x fs0, a0
    fmin.s fs2, fs0, fs1
    FCHECK fs2, 0xffffffffbf800000

    # --- Compares ---
    feq.d a1, fa2, fa0
    CHECK a1, 0
    FLAGS 0
    flt.d a1, fa2, fa0
    CHECK a1, 0
    FLAGS 16
    feq.d a1, fa1, fa1
    CHECK a1, 0
    FLAGS 16
    FLD fa1, 0x0
    FLD fa2, 0x8000000000000000
    feq.d a1, fa1, fa2
    CHECK a1, 1
    fle.d a1, fa1, fa2
    CHECK a1, 1
    flt.d a1, fa2, fa1
    CHECK a1, 0
    FLD fa1, 0xc000000000000000
    flt.d a1, fa1, fa0
    CHECK a1, 1
    FLAGS 0

    # --- Conversions and saturation ---
    FLD fa1, 0x7ff8000000000000
    fcvt.w.d a1, fa1
    CHECK a1, 0x7fffffff
    FLAGS 16
    FLD fa1, 0x7ff0000000000000
    fcvt.w.d a1, fa1
    CHECK a1, 0x7fffffff
    FLAGS 16
    FLD fa1, 0xfff0000000000000
    fcvt.w.d a1, fa1
    CHECK a1, 0xffffffff80000000
    FLAGS 16
    FLD fa1, 0x41e0000000000000
    fcvt.w.d a1, fa1
    CHECK a1, 0x7fffffff
    FLAGS 16
    fcvt.wu.d a1, fa1
    CHECK a1, 0xffffffff80000000
    FLAGS 0
    FLD fa1, 0xc1e0000000000000
    fcvt.w.d a1, fa1
    CHECK a1, 0xffffffff80000000
    FLAGS 0
    FLD fa1, 0xbff0000000000000
    fcvt.wu.d a1, fa1
    CHECK a1, 0
    FLAGS 16
    FLD fa1, 0x41e65a0bc0000000
    fcvt.wu.d a1, fa1
    CHECK a1, 0xffffffffb2d05e00
    FLD fa1, 0x43e0000000000000
    fcvt.l.d a1, fa1
    CHECK a1, 0x7fffffffffffffff
    FLAGS 16
    fcvt.lu.d a1, fa1
    CHECK a1, 0x8000000000000000
    FLAGS 0
    FLD fa1, 0x7ff8000000000000
    fcvt.lu.d a1, fa1
    CHECK a1, -1
    FLAGS 16
    FLD fa1, 0x4004000000000000
    fcvt.w.d a1, fa1, rne
    CHECK a1, 2
    fcvt.w.d a1, fa1, rmm
    CHECK a1, 3
    fcvt.w.d a1, fa1, rup
    CHECK a1, 3
    fcvt.w.d a1, fa1, rtz
    CHECK a1, 2
    FLAGS 1
    FLD fa1, 0xc004000000000000
    fcvt.l.d a1, fa1, rdn
    CHECK a1, -3
    fcvt.l.d a1, fa1, rup
    CHECK a1, -2
    fcvt.l.d a1, fa1, rmm
    CHECK a1, -3
    FLAGS 1
    li a0, -7
    fcvt.d.l fa3, a0
    FCHECK fa3, 0xc01c000000000000
    fcvt.d.wu fa3, a0
    FCHECK fa3, 0x41efffffff200000
    li a0, 0x7fffffffffffffff
    fcvt.s.l fs3, a0
    FCHECK fs3, 0xffffffff5f000000
    FLAGS 1
    fcvt.s.l fs3, a0, rtz
    FCHECK fs3, 0xffffffff5effffff
    FLAGS 1
    li a0, 16777217
    fcvt.s.w fs3, a0
    FCHECK fs3, 0xffffffff4b800000
    FLAGS 1
    FLD fa1, 0x3ff0000010000000
    fcvt.s.d fs3, fa1
    FCHECK fs3, 0xffffffff3f800000
    FLAGS 1
    fcvt.s.d fs3, fa1, rup
    FCHECK fs3, 0xffffffff3f800001
    fcvt.d.s fa3, fs3
    FCHECK fa3, 0x3ff0000020000000
    FLAGS 1

    # --- Fused multiply-add: one rounding ---
    # a = 1 + 2^-27, a*a = 1 + 2^-26 + 2^-54, c = -(1 + 2^-26)
    FLD fa1, 0x3ff0000002000000
    FLD fa2, 0xbff0000004000000
    fmadd.d fa3, fa1, fa1, fa2
    FCHECK fa3, 0x3c90000000000000
    FLAGS 0
    fmul.d fa4, fa1, fa1
    fadd.d fa4, fa4, fa2
    FCHECK fa4, 0
    FLAGS 1
    fmsub.d fa3, fa1, fa1, fa2
    FCHECK fa3, 0x4000000004000000
    FLAGS 1
    fnmadd.d fa3, fa1, fa1, fa2
    FCHECK fa3, 0xbc90000000000000
    FLAGS 0
    fnmsub.d fa3, fa1, fa1, fa2
    FCHECK fa3, 0xc000000004000000
    FLAGS 1
    # inf * 0 + qNaN is invalid
    FLD fa1, 0x7ff0000000000000
    FLD fa2, 0x0
    FLD fa4, 0x7ff8000000000000
    fmadd.d fa3, fa1, fa2, fa4
    FCHECK fa3, 0x7ff8000000000000
    FLAGS 16
    # single-precision fma: 1.5f * 3f - 4.5f = 0, +0 exactly (RDN gives -0)
    li a0, 0x3fc00000
    fmv.w.x fs0, a0
    li a0, 0x40400000
    fmv.w.x fs1, a0
    li a0, 0x40900000
    fmv.w.x fs2, a0
    fmsub.s fs3, fs0, fs1, fs2
    FCHECK fs3, 0xffffffff00000000
    fmsub.s fs3, fs0, fs1, fs2, rdn
    FCHECK fs3, 0xffffffff80000000
    FLAGS 0

    # --- fclass ---
    FLD fa1, 0xfff0000000000000
    fclass.d a1, fa1
    CHECK a1, 1
    FLD fa1, 0xbff0000000000000
    fclass.d a1, fa1
    CHECK a1, 2
    FLD fa1, 0x800fffffffffffff
    fclass.d a1, fa1
    CHECK a1, 4
    FLD fa1, 0x8000000000000000
    fclass.d a1, fa1
    CHECK a1, 8
    FLD fa1, 0
    fclass.d a1, fa1
    CHECK a1, 16
    FLD fa1, 1
    fclass.d a1, fa1
    CHECK a1, 32
    fclass.d a1, fa0
    CHECK a1, 64
    FLD fa1, 0x7ff0000000000000
    fclass.d a1, fa1
    CHECK a1, 128
    FLD fa1, 0x7ff0000000000001
    fclass.d a1, fa1
    CHECK a1, 256
    FLD fa1, 0x7ff8000000000000
    fclass.d a1, fa1
    CHECK a1, 512

    # --- Remaining single/double forms ---
    li a0, 0x40800000
    fmv.w.x fs0, a0
    fsqrt.s fs1, fs0
    FCHECK fs1, 0xffffffff40000000
    fsub.s fs2, fs1, fs0
    FCHECK fs2, 0xffffffffc0000000
    FLAGS 0
    fsgnjx.s fs3, fs1, fs2
    FCHECK fs3, 0xffffffffc0000000
    fsgnj.s fs3, fs1, fs2
    FCHECK fs3, 0xffffffffc0000000
    FLD fa1, 0x3ff0000000000000
    FLD fa2, 0xc000000000000000
    fsgnj.d fa3, fa1, fa2
    FCHECK fa3, 0xbff0000000000000
    fsgnjn.d fa3, fa1, fa2
    FCHECK fa3, 0x3ff0000000000000
    fsgnjx.d fa3, fa2, fa2
    FCHECK fa3, 0x4000000000000000
    fsub.d fa3, fa1, fa2
    FCHECK fa3, 0x4008000000000000
    feq.s a1, fs1, fs1
    CHECK a1, 1
    flt.s a1, fs2, fs1
    CHECK a1, 1
    fle.s a1, fs1, fs2
    CHECK a1, 0
    fcvt.w.s a1, fs2
    CHECK a1, -2
    fcvt.lu.s a1, fs2
    CHECK a1, 0
    FLAGS 16
    fcvt.l.s a1, fs0
    CHECK a1, 4
    li a0, -3
    fcvt.s.w fs3, a0
    FCHECK fs3, 0xffffffffc0400000
    fcvt.s.wu fs3, a0
    FCHECK fs3, 0xffffffff4f800000
    FLAGS 1
    fcvt.s.lu fs3, a0
    FCHECK fs3, 0xffffffff5f800000
    fcvt.d.w fa3, a0
    FCHECK fa3, 0xc008000000000000
    fcvt.d.lu fa3, a0
    FCHECK fa3, 0x43f0000000000000
    FLAGS 1
    fmadd.s fs3, fs1, fs1, fs2
    FCHECK fs3, 0xffffffff40000000
    fnmadd.s fs3, fs1, fs1, fs2
    FCHECK fs3, 0xffffffffc0000000
    fmax.s fs3, fs1, fs2
    FCHECK fs3, 0xffffffff40000000
    fclass.s a1, fs2
    CHECK a1, 2
    fdiv.s fs3, fs0, fs1
    FCHECK fs3, 0xffffffff40000000
    fmul.s fs3, fs0, fs1
    FCHECK fs3, 0xffffffff41000000
    fsw fs3, 0(s0)
    lw a1, 0(s0)
    CHECK a1, 0x41000000
    FLAGS 0

    # --- Compressed FP loads/stores ---
    la s0, fpdata
    FLD fa1, 0x1122334455667788
    c.fsd fa1, 16(s0)
    c.fld fa2, 16(s0)
    FCHECK fa2, 0x1122334455667788
    mv s2, sp
    mv sp, s0
    c.fsdsp fa1, 24(sp)
    c.fldsp fa3, 24(sp)
    mv sp, s2
    FCHECK fa3, 0x1122334455667788
    PASS

    .data
    .align 4
fpdata:
    .word 0x40490fdb
    .word 0
    .fill 8, 8, 0
