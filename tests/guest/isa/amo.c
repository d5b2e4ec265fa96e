/*
 * Atomics: every AMO in .w and .d form (old value returned, sign
 * extension of .w results, memory afterwards), LR/SC success, SC without
 * a reservation, SC to another address, SC after a trap, LR/SC pairs of
 * mixed width.
 */
#include "isa.h"

static volatile u64 mem[4] __attribute__((aligned(64)));

#define AMO(insn, name, init, operand) do { \
    u64 old_; \
    mem[0] = (init); \
    __asm__ volatile(insn " %0, %2, (%1)" : "=r"(old_) \
                     : "r"(&mem[0]), "r"((u64)(operand)) : "memory"); \
    show2(name, "old", old_); \
    show2(name, "mem", mem[0]); \
} while (0)
#define AMO_W(op, name, init, operand) AMO(op ".w", name ".w", init, operand)

#define AMO_D(op, name, init, operand) do { \
    u64 old_; \
    mem[0] = (init); \
    __asm__ volatile(op ".d %0, %2, (%1)" : "=r"(old_) \
                     : "r"(&mem[0]), "r"((u64)(operand)) : "memory"); \
    show2(name ".d", "old", old_); \
    show2(name ".d", "mem", mem[0]); \
} while (0)

#define A 0xffffffff80000001ull   /* word 0x80000001 (negative) */
#define B 0x123456787ffffffeull   /* word 0x7ffffffe (positive) */

static void test_amos(void)
{
    AMO_W("amoswap", "amoswap", A, B);
    AMO_W("amoadd", "amoadd", A, B);
    AMO_W("amoadd", "amoadd.carry", 0xaaaaaaaaffffffffull, 1);
    AMO_W("amoand", "amoand", A, B);
    AMO_W("amoor", "amoor", A, B);
    AMO_W("amoxor", "amoxor", A, B);
    AMO_W("amomax", "amomax", A, B);
    AMO_W("amomax", "amomax.neg", 0x5555555580000001ull, 0x80000002);
    AMO_W("amomin", "amomin", A, B);
    AMO_W("amomaxu", "amomaxu", A, B);
    AMO_W("amominu", "amominu", A, B);
    AMO("amoswap.w.aq", "amoswap.w.aq", 0x00000000fffffffeull, 3);
    AMO("amoadd.w.aqrl", "amoadd.w.aqrl", 0x7fffffffull, 1);
    AMO_D("amoswap", "amoswap", A, B);
    AMO_D("amoadd", "amoadd", A, B);
    AMO_D("amoand", "amoand", A, B);
    AMO_D("amoor", "amoor", A, B);
    AMO_D("amoxor", "amoxor", A, B);
    AMO_D("amomax", "amomax", A, B);
    AMO_D("amomin", "amomin", A, B);
    AMO_D("amomaxu", "amomaxu", A, B);
    AMO_D("amominu", "amominu", A, B);
    AMO_D("amomax", "amomax.neg", 0x8000000000000000ull, -1);
    AMO_D("amominu", "amominu.zero", 0, -1);
    /* rd = x0: memory still updated */
    mem[0] = 5;
    __asm__ volatile("amoadd.d zero, %1, (%0)" :: "r"(&mem[0]), "r"(7ull)
                     : "memory");
    show("amoadd.d.rd0.mem", mem[0]);
    /* rd == rs2 */
    {
        u64 v = 9;

        mem[0] = 100;
        __asm__ volatile("amoadd.d %0, %0, (%1)" : "+r"(v) : "r"(&mem[0])
                         : "memory");
        show("amoadd.d.rd_rs2.old", v);
        show("amoadd.d.rd_rs2.mem", mem[0]);
    }
    /* .w on the upper word of a doubleword leaves the lower alone */
    mem[0] = 0x1111111122222222ull;
    {
        u64 old;

        __asm__ volatile("amoor.w %0, %2, (%1)" : "=r"(old)
                         : "r"((char *)&mem[0] + 4), "r"(0x80000000ull)
                         : "memory");
        show("amoor.w.upper.old", old);
        show("amoor.w.upper.mem", mem[0]);
    }
}

static u64 lr_d(volatile u64 *p)
{
    u64 v;

    __asm__ volatile("lr.d %0, (%1)" : "=r"(v) : "r"(p) : "memory");
    return v;
}

static u64 sc_d(volatile u64 *p, u64 v)
{
    u64 r;

    __asm__ volatile("sc.d %0, %2, (%1)" : "=r"(r) : "r"(p), "r"(v)
                     : "memory");
    return r;
}

static void test_lrsc(void)
{
    u64 v, r;

    /* success */
    mem[0] = 10;
    __asm__ volatile("lr.d %0, (%2)\n\t"
                     "addi %0, %0, 1\n\t"
                     "sc.d %1, %0, (%2)"
                     : "=&r"(v), "=&r"(r) : "r"(&mem[0]) : "memory");
    show("lrsc.d.ok.sc", r);
    show("lrsc.d.ok.mem", mem[0]);
    /* a second sc after a successful one fails (reservation used up) */
    r = sc_d(&mem[0], 99);
    show("sc.d.again.sc", r);
    show("sc.d.again.mem", mem[0]);

    /* .w: sign extension of lr.w */
    mem[1] = 0x00000000fffffff0ull;
    __asm__ volatile("lr.w %0, (%2)\n\t"
                     "addi %0, %0, 0x10\n\t"
                     "sc.w %1, %0, (%2)"
                     : "=&r"(v), "=&r"(r) : "r"(&mem[1]) : "memory");
    show("lrsc.w.ok.sc", r);
    show("lrsc.w.ok.val", v);
    show("lrsc.w.ok.mem", mem[1]);
    mem[1] = 0x1234567880000000ull;
    __asm__ volatile("lr.w %0, (%1)" : "=r"(v) : "r"(&mem[1]) : "memory");
    show("lr.w.sext", v);
    /* clear the reservation */
    sc_d(&mem[3], 0);

    /* sc without any reservation */
    mem[0] = 1;
    r = sc_d(&mem[0], 2);
    show("sc.d.nores.sc", r);
    show("sc.d.nores.mem", mem[0]);
    mem[1] = 1;
    __asm__ volatile("sc.w %0, %2, (%1)" : "=r"(r) : "r"(&mem[1]),
                     "r"(2ull) : "memory");
    show("sc.w.nores.sc", r);
    show("sc.w.nores.mem", mem[1]);

    /* sc to a different address than the lr */
    mem[0] = 3;
    mem[2] = 4;
    __asm__ volatile("lr.d %0, (%2)\n\t"
                     "sc.d %1, %3, (%4)"
                     : "=&r"(v), "=&r"(r)
                     : "r"(&mem[0]), "r"(77ull), "r"(&mem[2]) : "memory");
    show("sc.d.other.sc", r);
    show("sc.d.other.mem0", mem[0]);
    show("sc.d.other.mem2", mem[2]);
    sc_d(&mem[3], 0);

    /* a trap between lr and sc clears the reservation */
    mem[0] = 5;
    __asm__ volatile("lr.d %0, (%2)\n\t"
                     "ecall\n\t"
                     "sc.d %1, %3, (%2)"
                     : "=&r"(v), "=&r"(r) : "r"(&mem[0]), "r"(6ull)
                     : "memory");
    show("sc.d.after_trap.sc", r);
    show("sc.d.after_trap.mem", mem[0]);
    show("sc.d.after_trap.cause", m_trap.cause);
    trap_reset();

    /* a regular store to the reserved address between lr and sc */
    mem[0] = 7;
    __asm__ volatile("lr.d %0, (%2)\n\t"
                     "sd %3, 0(%2)\n\t"
                     "sc.d %1, %4, (%2)"
                     : "=&r"(v), "=&r"(r)
                     : "r"(&mem[0]), "r"(8ull), "r"(9ull) : "memory");
    show("sc.d.after_store.sc", r);
    show("sc.d.after_store.mem", mem[0]);
    sc_d(&mem[3], 0);

    /* lr.w then sc.d to the same address */
    mem[0] = 0x0000000100000002ull;
    __asm__ volatile("lr.w %0, (%2)\n\t"
                     "sc.d %1, %3, (%2)"
                     : "=&r"(v), "=&r"(r) : "r"(&mem[0]), "r"(0xabcull)
                     : "memory");
    show("lr.w.sc.d.sc", r);
    show("lr.w.sc.d.mem", mem[0]);
    sc_d(&mem[3], 0);

    /* lr.d/sc.d loop incrementing */
    mem[0] = 0;
    for (int i = 0; i < 10; i++) {
        do {
            v = lr_d(&mem[0]);
        } while (sc_d(&mem[0], v + 3));
    }
    show("lrsc.loop.mem", mem[0]);
    /* sc.d with rd = rs2 */
    mem[0] = 1;
    v = 42;
    __asm__ volatile("lr.d t0, (%1)\n\t"
                     "sc.d %0, %0, (%1)"
                     : "+r"(v) : "r"(&mem[0]) : "t0", "memory");
    show("sc.d.rd_rs2.sc", v);
    show("sc.d.rd_rs2.mem", mem[0]);
}

int main(void)
{
    test_amos();
    test_lrsc();
    return 0;
}
