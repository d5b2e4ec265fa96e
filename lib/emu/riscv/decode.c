/*
 * Instruction decoder: RV64GC encodings into pre-decoded RvOps.
 * Compressed instructions are expanded to their 32-bit equivalent first
 * and decoded by the same code, keeping the 16-bit bits for mtval.
 */
#include "internal.h"

/* Integer destination: x0 writes go to the sink register x[32]. */
static inline uint8_t ird(uint32_t r)
{
    return r == 0 ? 32 : (uint8_t)r;
}

/* Sign-extends the low n bits of v. */
static inline int64_t sext64(uint64_t v, unsigned n)
{
    return (int64_t)(v << (64 - n)) >> (64 - n);
}

static inline int64_t imm_i(uint32_t insn)
{
    return sext64(insn >> 20, 12);
}

static inline int64_t imm_s(uint32_t insn)
{
    return sext64(((insn >> 25) << 5) | ((insn >> 7) & 31), 12);
}

static inline int64_t imm_b(uint32_t insn)
{
    return sext64(((insn >> 31) << 12) | (((insn >> 7) & 1) << 11) |
                  (((insn >> 25) & 0x3f) << 5) | (((insn >> 8) & 0xf) << 1),
                  13);
}

static inline int64_t imm_u(uint32_t insn)
{
    return sext64(insn & 0xfffff000u, 32);
}

static inline int64_t imm_j(uint32_t insn)
{
    return sext64(((insn >> 31) << 20) | (((insn >> 12) & 0xff) << 12) |
                  (((insn >> 20) & 1) << 11) | (((insn >> 21) & 0x3ff) << 1),
                  21);
}

static bool set_illegal(RvOp *op)
{
    op->fn = riscv_op_illegal;
    return true;
}

static bool decode_load(uint32_t insn, RvOp *op)
{
    static const RvOpFn fns[8] = {
        riscv_op_lb, riscv_op_lh, riscv_op_lw, riscv_op_ld,
        riscv_op_lbu, riscv_op_lhu, riscv_op_lwu, NULL,
    };
    RvOpFn fn = fns[(insn >> 12) & 7];

    if (!fn) {
        return set_illegal(op);
    }
    op->fn = fn;
    op->rd = ird((insn >> 7) & 31);
    op->imm = imm_i(insn);
    return false;
}

static bool decode_store(uint32_t insn, RvOp *op)
{
    static const RvOpFn fns[8] = {
        riscv_op_sb, riscv_op_sh, riscv_op_sw, riscv_op_sd,
    };
    RvOpFn fn = fns[(insn >> 12) & 7];

    if (!fn) {
        return set_illegal(op);
    }
    op->fn = fn;
    op->imm = imm_s(insn);
    return false;
}

static bool decode_op_imm(uint32_t insn, RvOp *op)
{
    unsigned f3 = (insn >> 12) & 7;
    unsigned f6 = insn >> 26;

    op->rd = ird((insn >> 7) & 31);
    op->imm = imm_i(insn);
    op->aux = (insn >> 20) & 63;
    switch (f3) {
    case 0: op->fn = riscv_op_addi; break;
    case 2: op->fn = riscv_op_slti; break;
    case 3: op->fn = riscv_op_sltiu; break;
    case 4: op->fn = riscv_op_xori; break;
    case 6: op->fn = riscv_op_ori; break;
    case 7: op->fn = riscv_op_andi; break;
    case 1:
        if (f6 != 0) {
            return set_illegal(op);
        }
        op->fn = riscv_op_slli;
        break;
    default:
        if (f6 == 0) {
            op->fn = riscv_op_srli;
        } else if (f6 == 0x10) {
            op->fn = riscv_op_srai;
        } else {
            return set_illegal(op);
        }
        break;
    }
    return false;
}

static bool decode_op_imm32(uint32_t insn, RvOp *op)
{
    unsigned f3 = (insn >> 12) & 7;
    unsigned f7 = insn >> 25;

    op->rd = ird((insn >> 7) & 31);
    op->imm = imm_i(insn);
    op->aux = (insn >> 20) & 31;
    switch (f3) {
    case 0:
        op->fn = riscv_op_addiw;
        return false;
    case 1:
        if (f7 == 0) {
            op->fn = riscv_op_slliw;
            return false;
        }
        break;
    case 5:
        if (f7 == 0) {
            op->fn = riscv_op_srliw;
            return false;
        }
        if (f7 == 0x20) {
            op->fn = riscv_op_sraiw;
            return false;
        }
        break;
    }
    return set_illegal(op);
}

static bool decode_op(uint32_t insn, RvOp *op)
{
    static const RvOpFn base[8] = {
        riscv_op_add, riscv_op_sll, riscv_op_slt, riscv_op_sltu,
        riscv_op_xor, riscv_op_srl, riscv_op_or, riscv_op_and,
    };
    static const RvOpFn muldiv[8] = {
        riscv_op_mul, riscv_op_mulh, riscv_op_mulhsu, riscv_op_mulhu,
        riscv_op_div, riscv_op_divu, riscv_op_rem, riscv_op_remu,
    };
    unsigned f3 = (insn >> 12) & 7;
    unsigned f7 = insn >> 25;

    op->rd = ird((insn >> 7) & 31);
    if (f7 == 0) {
        op->fn = base[f3];
    } else if (f7 == 1) {
        op->fn = muldiv[f3];
    } else if (f7 == 0x20 && f3 == 0) {
        op->fn = riscv_op_sub;
    } else if (f7 == 0x20 && f3 == 5) {
        op->fn = riscv_op_sra;
    } else {
        return set_illegal(op);
    }
    return false;
}

static bool decode_op32(uint32_t insn, RvOp *op)
{
    unsigned f3 = (insn >> 12) & 7;
    unsigned f7 = insn >> 25;

    op->rd = ird((insn >> 7) & 31);
    switch ((f7 << 3) | f3) {
    case 0x000: op->fn = riscv_op_addw; break;
    case 0x100: op->fn = riscv_op_subw; break;
    case 0x001: op->fn = riscv_op_sllw; break;
    case 0x005: op->fn = riscv_op_srlw; break;
    case 0x105: op->fn = riscv_op_sraw; break;
    case 0x008: op->fn = riscv_op_mulw; break;
    case 0x00c: op->fn = riscv_op_divw; break;
    case 0x00d: op->fn = riscv_op_divuw; break;
    case 0x00e: op->fn = riscv_op_remw; break;
    case 0x00f: op->fn = riscv_op_remuw; break;
    default:
        return set_illegal(op);
    }
    return false;
}

static bool decode_branch(uint32_t insn, RvOp *op)
{
    static const RvOpFn fns[8] = {
        riscv_op_beq, riscv_op_bne, NULL, NULL,
        riscv_op_blt, riscv_op_bge, riscv_op_bltu, riscv_op_bgeu,
    };
    RvOpFn fn = fns[(insn >> 12) & 7];

    if (!fn) {
        return set_illegal(op);
    }
    op->fn = fn;
    op->imm = imm_b(insn);
    return true;
}

static bool decode_amo(uint32_t insn, RvOp *op)
{
    unsigned f3 = (insn >> 12) & 7;
    unsigned f5 = insn >> 27;

    if (f3 != 2 && f3 != 3) {
        return set_illegal(op);
    }
    op->rd = ird((insn >> 7) & 31);
    op->aux = f3 == 2 ? 4 : 8;        /* access size */
    op->rm = f5;
    switch (f5) {
    case 0x02:
        if (((insn >> 20) & 31) != 0) {
            return set_illegal(op);
        }
        op->fn = riscv_op_lr;
        return false;
    case 0x03:
        op->fn = riscv_op_sc;
        return false;
    case 0x00: case 0x01: case 0x04: case 0x08: case 0x0c:
    case 0x10: case 0x14: case 0x18: case 0x1c:
        op->fn = riscv_op_amo;
        return false;
    }
    return set_illegal(op);
}

static bool decode_system(uint32_t insn, RvOp *op)
{
    unsigned f3 = (insn >> 12) & 7;

    op->rd = ird((insn >> 7) & 31);
    op->aux = insn >> 20;
    op->rm = f3;
    switch (f3) {
    case 0:
        if (insn == 0x00000073) {
            op->fn = riscv_op_ecall;
        } else if (insn == 0x00100073) {
            op->fn = riscv_op_ebreak;
        } else if (insn == 0x30200073) {
            op->fn = riscv_op_mret;
        } else if (insn == 0x10200073) {
            op->fn = riscv_op_sret;
        } else if (insn == 0x10500073) {
            op->fn = riscv_op_wfi;
        } else if ((insn >> 25) == 0x09 && ((insn >> 7) & 31) == 0) {
            op->fn = riscv_op_sfence_vma;
        } else {
            return set_illegal(op);
        }
        return true;
    case 1: case 5:
        op->fn = riscv_op_csrrw;
        return true;
    case 2: case 6:
        op->fn = riscv_op_csrrs;
        return true;
    case 3: case 7:
        op->fn = riscv_op_csrrc;
        return true;
    }
    return set_illegal(op);
}

static bool decode_fp(uint32_t insn, RvOp *op)
{
    unsigned f7 = insn >> 25;
    unsigned f3 = (insn >> 12) & 7;
    unsigned rs2 = (insn >> 20) & 31;
    bool dbl = f7 & 1;

    op->rm = f3;
    switch (f7 & ~1u) {
    case 0x00: case 0x04: case 0x08: case 0x0c:
        op->fn = dbl ? riscv_op_farith_d : riscv_op_farith_s;
        op->aux = f7 >> 2;
        return false;
    case 0x2c:
        if (rs2 != 0) {
            break;
        }
        op->fn = dbl ? riscv_op_fsqrt_d : riscv_op_fsqrt_s;
        return false;
    case 0x10:
        if (f3 > 2) {
            break;
        }
        op->fn = dbl ? riscv_op_fsgnj_d : riscv_op_fsgnj_s;
        return false;
    case 0x14:
        if (f3 > 1) {
            break;
        }
        op->fn = dbl ? riscv_op_fminmax_d : riscv_op_fminmax_s;
        return false;
    case 0x20:
        if (!dbl && rs2 == 1) {
            op->fn = riscv_op_fcvt_s_d;
            return false;
        }
        if (dbl && rs2 == 0) {
            op->fn = riscv_op_fcvt_d_s;
            return false;
        }
        break;
    case 0x50:
        if (f3 > 2) {
            break;
        }
        op->rd = ird((insn >> 7) & 31);
        op->fn = dbl ? riscv_op_fcmp_d : riscv_op_fcmp_s;
        return false;
    case 0x60:
        if (rs2 > 3) {
            break;
        }
        op->rd = ird((insn >> 7) & 31);
        op->aux = rs2;
        op->fn = dbl ? riscv_op_fcvt_i_d : riscv_op_fcvt_i_s;
        return false;
    case 0x68:
        if (rs2 > 3) {
            break;
        }
        op->aux = rs2;
        op->fn = dbl ? riscv_op_fcvt_d_i : riscv_op_fcvt_s_i;
        return false;
    case 0x70:
        if (rs2 != 0 || f3 > 1) {
            break;
        }
        op->rd = ird((insn >> 7) & 31);
        if (f3 == 0) {
            op->fn = dbl ? riscv_op_fmv_x_d : riscv_op_fmv_x_w;
        } else {
            op->fn = dbl ? riscv_op_fclass_d : riscv_op_fclass_s;
        }
        return false;
    case 0x78:
        if (rs2 != 0 || f3 != 0) {
            break;
        }
        op->fn = dbl ? riscv_op_fmv_d_x : riscv_op_fmv_w_x;
        return false;
    }
    return set_illegal(op);
}

static bool decode32(uint32_t insn, RvOp *op)
{
    unsigned f3 = (insn >> 12) & 7;

    op->len = 4;
    op->insn = insn;
    op->rd = (insn >> 7) & 31;
    op->rs1 = (insn >> 15) & 31;
    op->rs2 = (insn >> 20) & 31;
    op->rs3 = insn >> 27;
    op->imm = 0;
    op->aux = 0;
    op->rm = 0;

    switch (insn & 0x7f) {
    case 0x03:
        return decode_load(insn, op);
    case 0x07:
        if (f3 != 2 && f3 != 3) {
            return set_illegal(op);
        }
        op->fn = f3 == 2 ? riscv_op_flw : riscv_op_fld;
        op->imm = imm_i(insn);
        return false;
    case 0x0f:
        if (f3 == 0) {
            op->fn = riscv_op_nop;      /* fence: memory is coherent */
            return false;
        }
        if (f3 == 1) {
            op->fn = riscv_op_fence_i;
            return true;
        }
        return set_illegal(op);
    case 0x13:
        return decode_op_imm(insn, op);
    case 0x17:
        op->fn = riscv_op_auipc;
        op->rd = ird(op->rd);
        op->imm = imm_u(insn);
        return false;
    case 0x1b:
        return decode_op_imm32(insn, op);
    case 0x23:
        return decode_store(insn, op);
    case 0x27:
        if (f3 != 2 && f3 != 3) {
            return set_illegal(op);
        }
        op->fn = f3 == 2 ? riscv_op_fsw : riscv_op_fsd;
        op->imm = imm_s(insn);
        return false;
    case 0x2f:
        return decode_amo(insn, op);
    case 0x33:
        return decode_op(insn, op);
    case 0x37:
        op->fn = riscv_op_lui;
        op->rd = ird(op->rd);
        op->imm = imm_u(insn);
        return false;
    case 0x3b:
        return decode_op32(insn, op);
    case 0x43: case 0x47: case 0x4b: case 0x4f: {
        unsigned fmt = (insn >> 25) & 3;

        if (fmt > 1) {
            return set_illegal(op);
        }
        op->fn = fmt ? riscv_op_fmadd_d : riscv_op_fmadd_s;
        op->aux = ((insn & 0x7f) - 0x43) >> 2;
        op->rm = f3;
        return false;
    }
    case 0x53:
        return decode_fp(insn, op);
    case 0x63:
        return decode_branch(insn, op);
    case 0x67:
        if (f3 != 0) {
            return set_illegal(op);
        }
        op->fn = riscv_op_jalr;
        op->rd = ird(op->rd);
        op->imm = imm_i(insn);
        return true;
    case 0x6f:
        op->fn = riscv_op_jal;
        op->rd = ird(op->rd);
        op->imm = imm_j(insn);
        return true;
    case 0x73:
        return decode_system(insn, op);
    }
    return set_illegal(op);
}

/* ---- RV64C expansion ---- */

static uint32_t enc_r(unsigned opc, unsigned rd, unsigned f3, unsigned rs1,
                      unsigned rs2, unsigned f7)
{
    return opc | rd << 7 | f3 << 12 | rs1 << 15 | rs2 << 20 | f7 << 25;
}

static uint32_t enc_i(unsigned opc, unsigned rd, unsigned f3, unsigned rs1,
                      int32_t imm)
{
    return opc | rd << 7 | f3 << 12 | rs1 << 15 | ((uint32_t)imm << 20);
}

static uint32_t enc_s(unsigned opc, unsigned f3, unsigned rs1, unsigned rs2,
                      int32_t imm)
{
    uint32_t u = (uint32_t)imm;

    return opc | (u & 31) << 7 | f3 << 12 | rs1 << 15 | rs2 << 20 |
           ((u >> 5) & 0x7f) << 25;
}

static uint32_t enc_b(unsigned f3, unsigned rs1, unsigned rs2, int32_t imm)
{
    uint32_t u = (uint32_t)imm;

    return 0x63 | ((u >> 11) & 1) << 7 | ((u >> 1) & 0xf) << 8 | f3 << 12 |
           rs1 << 15 | rs2 << 20 | ((u >> 5) & 0x3f) << 25 |
           ((u >> 12) & 1) << 31;
}

static uint32_t enc_j(unsigned rd, int32_t imm)
{
    uint32_t u = (uint32_t)imm;

    return 0x6f | rd << 7 | ((u >> 12) & 0xff) << 12 |
           ((u >> 11) & 1) << 20 | ((u >> 1) & 0x3ff) << 21 |
           ((u >> 20) & 1) << 31;
}

static inline unsigned bit(uint32_t c, unsigned n)
{
    return (c >> n) & 1;
}

static inline unsigned bits(uint32_t c, unsigned hi, unsigned lo)
{
    return (c >> lo) & ((1u << (hi - lo + 1)) - 1);
}

/* Sign-extends the low n bits of v. */
static inline int32_t sext(uint32_t v, unsigned n)
{
    return (int32_t)(v << (32 - n)) >> (32 - n);
}

/* Returns the 32-bit equivalent of c, or 0 if c is illegal/reserved. */
static uint32_t expand_q0(uint32_t c)
{
    unsigned rs1 = 8 + bits(c, 9, 7);
    unsigned rd = 8 + bits(c, 4, 2);
    unsigned uimm_d = bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6;
    unsigned uimm_w = bits(c, 12, 10) << 3 | bit(c, 6) << 2 | bit(c, 5) << 6;

    switch (bits(c, 15, 13)) {
    case 0: {
        unsigned nz = bits(c, 12, 11) << 4 | bits(c, 10, 7) << 6 |
                      bit(c, 6) << 2 | bit(c, 5) << 3;
        return nz ? enc_i(0x13, rd, 0, 2, nz) : 0;
    }
    case 1: return enc_i(0x07, rd, 3, rs1, uimm_d);
    case 2: return enc_i(0x03, rd, 2, rs1, uimm_w);
    case 3: return enc_i(0x03, rd, 3, rs1, uimm_d);
    case 5: return enc_s(0x27, 3, rs1, rd, uimm_d);
    case 6: return enc_s(0x23, 2, rs1, rd, uimm_w);
    case 7: return enc_s(0x23, 3, rs1, rd, uimm_d);
    }
    return 0;
}

static uint32_t expand_q1(uint32_t c)
{
    unsigned rd = bits(c, 11, 7);
    unsigned rdp = 8 + bits(c, 9, 7);
    unsigned rs2p = 8 + bits(c, 4, 2);
    int32_t imm6 = sext(bit(c, 12) << 5 | bits(c, 6, 2), 6);

    switch (bits(c, 15, 13)) {
    case 0:
        return enc_i(0x13, rd, 0, rd, imm6);
    case 1:
        return rd ? enc_i(0x1b, rd, 0, rd, imm6) : 0;
    case 2:
        return enc_i(0x13, rd, 0, 0, imm6);
    case 3:
        if (rd == 2) {
            int32_t nz = sext(bit(c, 12) << 9 | bit(c, 6) << 4 |
                              bit(c, 5) << 6 | bits(c, 4, 3) << 7 |
                              bit(c, 2) << 5, 10);
            return nz ? enc_i(0x13, 2, 0, 2, nz) : 0;
        }
        if (imm6 == 0) {
            return 0;
        }
        return 0x37 | rd << 7 | ((uint32_t)imm6 << 12);
    case 4: {
        unsigned shamt = bit(c, 12) << 5 | bits(c, 6, 2);

        switch (bits(c, 11, 10)) {
        case 0: return enc_i(0x13, rdp, 5, rdp, shamt);
        case 1: return enc_i(0x13, rdp, 5, rdp, shamt | 0x400);
        case 2: return enc_i(0x13, rdp, 7, rdp, imm6);
        }
        switch (bit(c, 12) << 2 | bits(c, 6, 5)) {
        case 0: return enc_r(0x33, rdp, 0, rdp, rs2p, 0x20);
        case 1: return enc_r(0x33, rdp, 4, rdp, rs2p, 0);
        case 2: return enc_r(0x33, rdp, 6, rdp, rs2p, 0);
        case 3: return enc_r(0x33, rdp, 7, rdp, rs2p, 0);
        case 4: return enc_r(0x3b, rdp, 0, rdp, rs2p, 0x20);
        case 5: return enc_r(0x3b, rdp, 0, rdp, rs2p, 0);
        }
        return 0;
    }
    case 5: {
        int32_t off = sext(bit(c, 12) << 11 | bit(c, 11) << 4 |
                           bits(c, 10, 9) << 8 | bit(c, 8) << 10 |
                           bit(c, 7) << 6 | bit(c, 6) << 7 |
                           bits(c, 5, 3) << 1 | bit(c, 2) << 5, 12);
        return enc_j(0, off);
    }
    default: {
        int32_t off = sext(bit(c, 12) << 8 | bits(c, 11, 10) << 3 |
                           bits(c, 6, 5) << 6 | bits(c, 4, 3) << 1 |
                           bit(c, 2) << 5, 9);
        return enc_b(bits(c, 15, 13) == 6 ? 0 : 1, rdp, 0, off);
    }
    }
}

static uint32_t expand_q2(uint32_t c)
{
    unsigned rd = bits(c, 11, 7);
    unsigned rs2 = bits(c, 6, 2);
    unsigned uimm_d = bit(c, 12) << 5 | bits(c, 6, 5) << 3 |
                      bits(c, 4, 2) << 6;
    unsigned uimm_w = bit(c, 12) << 5 | bits(c, 6, 4) << 2 |
                      bits(c, 3, 2) << 6;
    unsigned suimm_d = bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6;
    unsigned suimm_w = bits(c, 12, 9) << 2 | bits(c, 8, 7) << 6;

    switch (bits(c, 15, 13)) {
    case 0:
        return enc_i(0x13, rd, 1, rd, bit(c, 12) << 5 | rs2);
    case 1:
        return enc_i(0x07, rd, 3, 2, uimm_d);
    case 2:
        return rd ? enc_i(0x03, rd, 2, 2, uimm_w) : 0;
    case 3:
        return rd ? enc_i(0x03, rd, 3, 2, uimm_d) : 0;
    case 4:
        if (!bit(c, 12)) {
            if (rs2 == 0) {
                return rd ? enc_i(0x67, 0, 0, rd, 0) : 0;
            }
            return enc_r(0x33, rd, 0, 0, rs2, 0);
        }
        if (rs2 == 0) {
            if (rd == 0) {
                return 0x00100073;       /* c.ebreak */
            }
            return enc_i(0x67, 1, 0, rd, 0);
        }
        return enc_r(0x33, rd, 0, rd, rs2, 0);
    case 5:
        return enc_s(0x27, 3, 2, rs2, suimm_d);
    case 6:
        return enc_s(0x23, 2, 2, rs2, suimm_w);
    default:
        return enc_s(0x23, 3, 2, rs2, suimm_d);
    }
}

bool riscv_decode(uint32_t insn, RvOp *op)
{
    uint32_t c = insn & 0xffff;
    uint32_t full;
    bool end;

    if ((insn & 3) == 3) {
        return decode32(insn, op);
    }
    switch (c & 3) {
    case 0: full = expand_q0(c); break;
    case 1: full = expand_q1(c); break;
    default: full = expand_q2(c); break;
    }
    if (full == 0) {
        decode32(0, op);
        end = set_illegal(op);
    } else {
        end = decode32(full, op);
    }
    op->insn = c;
    op->len = 2;
    return end;
}

const RvOp *riscv_op_goto_next(RiscvCpu *cpu, const RvOp *op)
{
    cpu->s.pc = cpu->tb_pc + op->pc_off;
    return NULL;
}
