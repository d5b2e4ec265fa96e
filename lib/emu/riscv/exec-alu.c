/*
 * Op handlers: integer ALU (RV64I, M) and control transfer.
 * Handlers return the next op, or NULL after setting pc to end the block.
 */
#include "internal.h"

#define ALU_OP(name, expr)                                                 \
    const RvOp *riscv_op_##name(RiscvCpu *cpu, const RvOp *op)              \
    {                                                                      \
        uint64_t a = X(op->rs1), b = X(op->rs2);                           \
        (void)a;                                                           \
        (void)b;                                                           \
        X(op->rd) = (expr);                                                \
        return RV_NEXT(cpu, op);                                           \
    }

#define IMM ((uint64_t)op->imm)
#define SH (op->aux)

const RvOp *riscv_op_nop(RiscvCpu *cpu, const RvOp *op)
{
    return RV_NEXT(cpu, op);
}

ALU_OP(lui, IMM)
ALU_OP(auipc, rv_op_pc(cpu, op) + IMM)
ALU_OP(addi, a + IMM)
ALU_OP(slti, (int64_t)a < op->imm)
ALU_OP(sltiu, a < IMM)
ALU_OP(xori, a ^ IMM)
ALU_OP(ori, a | IMM)
ALU_OP(andi, a & IMM)
ALU_OP(slli, a << SH)
ALU_OP(srli, a >> SH)
ALU_OP(srai, (uint64_t)((int64_t)a >> SH))
ALU_OP(add, a + b)
ALU_OP(sub, a - b)
ALU_OP(sll, a << (b & 63))
ALU_OP(slt, (int64_t)a < (int64_t)b)
ALU_OP(sltu, a < b)
ALU_OP(xor, a ^ b)
ALU_OP(srl, a >> (b & 63))
ALU_OP(sra, (uint64_t)((int64_t)a >> (b & 63)))
ALU_OP(or, a | b)
ALU_OP(and, a & b)
ALU_OP(addiw, rv_sext32(a + IMM))
ALU_OP(slliw, rv_sext32((uint32_t)a << SH))
ALU_OP(srliw, rv_sext32((uint32_t)a >> SH))
ALU_OP(sraiw, (uint64_t)(int64_t)((int32_t)a >> SH))
ALU_OP(addw, rv_sext32(a + b))
ALU_OP(subw, rv_sext32(a - b))
ALU_OP(sllw, rv_sext32((uint32_t)a << (b & 31)))
ALU_OP(srlw, rv_sext32((uint32_t)a >> (b & 31)))
ALU_OP(sraw, (uint64_t)(int64_t)((int32_t)a >> (b & 31)))

/* ---- M extension ---- */

static inline uint64_t mulhu64(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

static inline uint64_t mulh64(uint64_t a, uint64_t b)
{
    return (uint64_t)((__int128)(int64_t)a * (__int128)(int64_t)b >> 64);
}

static inline uint64_t mulhsu64(uint64_t a, uint64_t b)
{
    return (uint64_t)(((__int128)(int64_t)a * (__int128)(unsigned __int128)b)
                      >> 64);
}

static inline uint64_t div64(uint64_t a, uint64_t b)
{
    if (b == 0) {
        return ~0ull;
    }
    if ((int64_t)a == INT64_MIN && (int64_t)b == -1) {
        return a;
    }
    return (uint64_t)((int64_t)a / (int64_t)b);
}

static inline uint64_t rem64(uint64_t a, uint64_t b)
{
    if (b == 0) {
        return a;
    }
    if ((int64_t)a == INT64_MIN && (int64_t)b == -1) {
        return 0;
    }
    return (uint64_t)((int64_t)a % (int64_t)b);
}

static inline uint64_t div32(uint64_t a, uint64_t b)
{
    int32_t x = (int32_t)a, y = (int32_t)b;

    if (y == 0) {
        return ~0ull;
    }
    if (x == INT32_MIN && y == -1) {
        return rv_sext32((uint32_t)x);
    }
    return (uint64_t)(int64_t)(x / y);
}

static inline uint64_t rem32(uint64_t a, uint64_t b)
{
    int32_t x = (int32_t)a, y = (int32_t)b;

    if (y == 0) {
        return (uint64_t)(int64_t)x;
    }
    if (x == INT32_MIN && y == -1) {
        return 0;
    }
    return (uint64_t)(int64_t)(x % y);
}

ALU_OP(mul, a * b)
ALU_OP(mulh, mulh64(a, b))
ALU_OP(mulhsu, mulhsu64(a, b))
ALU_OP(mulhu, mulhu64(a, b))
ALU_OP(div, div64(a, b))
ALU_OP(divu, b ? a / b : ~0ull)
ALU_OP(rem, rem64(a, b))
ALU_OP(remu, b ? a % b : a)
ALU_OP(mulw, rv_sext32((uint32_t)a * (uint32_t)b))
ALU_OP(divw, div32(a, b))
ALU_OP(divuw, (uint32_t)b ? rv_sext32((uint32_t)a / (uint32_t)b) : ~0ull)
ALU_OP(remw, rem32(a, b))
ALU_OP(remuw, (uint32_t)b ? rv_sext32((uint32_t)a % (uint32_t)b)
                          : rv_sext32(a))

/* ---- Control transfer (always the last op of a block) ---- */

const RvOp *riscv_op_jal(RiscvCpu *cpu, const RvOp *op)
{
    uint64_t pc = rv_op_pc(cpu, op);

    X(op->rd) = pc + op->len;
    cpu->s.pc = pc + op->imm;
    return NULL;
}

const RvOp *riscv_op_jalr(RiscvCpu *cpu, const RvOp *op)
{
    uint64_t target = (X(op->rs1) + op->imm) & ~1ull;

    X(op->rd) = rv_op_pc(cpu, op) + op->len;
    cpu->s.pc = target;
    return NULL;
}

#define BRANCH_OP(name, cond)                                              \
    const RvOp *riscv_op_##name(RiscvCpu *cpu, const RvOp *op)              \
    {                                                                      \
        uint64_t a = X(op->rs1), b = X(op->rs2);                           \
        uint64_t pc = rv_op_pc(cpu, op);                                   \
        cpu->s.pc = (cond) ? pc + op->imm : pc + op->len;                  \
        return NULL;                                                       \
    }

BRANCH_OP(beq, a == b)
BRANCH_OP(bne, a != b)
BRANCH_OP(blt, (int64_t)a < (int64_t)b)
BRANCH_OP(bge, (int64_t)a >= (int64_t)b)
BRANCH_OP(bltu, a < b)
BRANCH_OP(bgeu, a >= b)
