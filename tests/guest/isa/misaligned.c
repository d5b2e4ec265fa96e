/*
 * Misaligned accesses: loads (signed and unsigned) and stores of every
 * width at every offset within a doubleword, including across 8- and
 * 16-byte boundaries and a 4 KiB page boundary in RAM; FP loads and
 * stores; compressed forms; misaligned AMOs, LR and SC, which must
 * trap with the cause and mtval printed; and misaligned MMIO accesses.
 */
#include "isa.h"

static volatile unsigned char buf[8192] __attribute__((aligned(4096)));

static void fill(void)
{
    for (int i = 0; i < 64; i++) {
        buf[i] = (unsigned char)(0x80 + i * 7);
        buf[4096 - 32 + i] = (unsigned char)(0x81 + i * 5);
    }
}

static void show_trap_count(const char *name)
{
    show2(name, "traps", m_trap.count);
    show2(name, "cause", m_trap.cause);
    show2(name, "tval_off", m_trap.count ? m_trap.tval - (u64)buf : 0);
    trap_reset();
}

static char name_buf[64];

static const char *nm(const char *a, unsigned off)
{
    int i = 0;

    while (*a) {
        name_buf[i++] = *a++;
    }
    name_buf[i++] = '@';
    name_buf[i++] = "0123456789abcdef"[(off >> 12) & 15];
    name_buf[i++] = "0123456789abcdef"[(off >> 8) & 15];
    name_buf[i++] = "0123456789abcdef"[(off >> 4) & 15];
    name_buf[i++] = "0123456789abcdef"[off & 15];
    name_buf[i] = 0;
    return name_buf;
}

static void loads_at(unsigned base)
{
    for (unsigned off = base; off < base + 8; off++) {
        volatile unsigned char *p = buf + off;
        u64 v;

        __asm__ volatile("lh %0, 0(%1)" : "=r"(v) : "r"(p) : "memory");
        show(nm("lh", off), v);
        __asm__ volatile("lhu %0, 0(%1)" : "=r"(v) : "r"(p) : "memory");
        show(nm("lhu", off), v);
        __asm__ volatile("lw %0, 0(%1)" : "=r"(v) : "r"(p) : "memory");
        show(nm("lw", off), v);
        __asm__ volatile("lwu %0, 0(%1)" : "=r"(v) : "r"(p) : "memory");
        show(nm("lwu", off), v);
        __asm__ volatile("ld %0, 0(%1)" : "=r"(v) : "r"(p) : "memory");
        show(nm("ld", off), v);
        __asm__ volatile("flw fa0, 0(%1)\n\tfmv.x.d %0, fa0" : "=r"(v)
                         : "r"(p) : "fa0", "memory");
        show(nm("flw", off), v);
        __asm__ volatile("fld fa0, 0(%1)\n\tfmv.x.d %0, fa0" : "=r"(v)
                         : "r"(p) : "fa0", "memory");
        show(nm("fld", off), v);
    }
}

static u64 peek(unsigned off)
{
    u64 v = 0;

    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | buf[off + i];
    }
    return v;
}

static void stores_at(unsigned base)
{
    const u64 val = 0x0102030405060708ull;

    for (unsigned off = base; off < base + 8; off++) {
        volatile unsigned char *p = buf + off;
        unsigned w = off & ~7u;

        fill();
        __asm__ volatile("sh %0, 0(%1)" :: "r"(val), "r"(p) : "memory");
        show(nm("sh.lo", off), peek(w));
        show(nm("sh.hi", off), peek(w + 8));
        fill();
        __asm__ volatile("sw %0, 0(%1)" :: "r"(val), "r"(p) : "memory");
        show(nm("sw.lo", off), peek(w));
        show(nm("sw.hi", off), peek(w + 8));
        fill();
        __asm__ volatile("sd %0, 0(%1)" :: "r"(val), "r"(p) : "memory");
        show(nm("sd.lo", off), peek(w));
        show(nm("sd.hi", off), peek(w + 8));
        fill();
        __asm__ volatile("fmv.d.x fa0, %0\n\tfsw fa0, 0(%1)"
                         :: "r"(val), "r"(p) : "fa0", "memory");
        show(nm("fsw.lo", off), peek(w));
        show(nm("fsw.hi", off), peek(w + 8));
        fill();
        __asm__ volatile("fmv.d.x fa0, %0\n\tfsd fa0, 0(%1)"
                         :: "r"(val), "r"(p) : "fa0", "memory");
        show(nm("fsd.lo", off), peek(w));
        show(nm("fsd.hi", off), peek(w + 8));
    }
}

static void compressed(void)
{
    volatile unsigned char *p = buf + 3;
    u64 v;

    fill();
    __asm__ volatile("mv a0, %1\n\tc.lw a1, 0(a0)\n\tmv %0, a1" : "=r"(v)
                     : "r"(p) : "a0", "a1", "memory");
    show("c.lw@3", v);
    __asm__ volatile("mv a0, %1\n\tc.ld a1, 0(a0)\n\tmv %0, a1" : "=r"(v)
                     : "r"(p) : "a0", "a1", "memory");
    show("c.ld@3", v);
    __asm__ volatile("mv a0, %0\n\tli a1, -1\n\tc.sd a1, 0(a0)"
                     :: "r"(p) : "a0", "a1", "memory");
    show("c.sd@3.lo", peek(0));
    show("c.sd@3.hi", peek(8));
}

#define AMO_MIS(insn, name, off) do { \
    u64 v_ = 0x77; \
    trap_reset(); \
    __asm__ volatile(insn : "+r"(v_) : "r"(buf + (off)), "r"(1ull) \
                     : "memory"); \
    show_trap_count(name); \
    show2(name, "rd", v_); \
} while (0)

static void atomics(void)
{
    fill();
    AMO_MIS("amoadd.w %0, %2, (%1)", "amoadd.w@1", 1);
    AMO_MIS("amoadd.w %0, %2, (%1)", "amoadd.w@2", 2);
    AMO_MIS("amoswap.d %0, %2, (%1)", "amoswap.d@4", 4);
    AMO_MIS("amoor.d %0, %2, (%1)", "amoor.d@7", 7);
    AMO_MIS("amomaxu.w %0, %2, (%1)", "amomaxu.w@3", 3);
    AMO_MIS("lr.w %0, (%1)", "lr.w@2", 2);
    AMO_MIS("lr.d %0, (%1)", "lr.d@4", 4);
    AMO_MIS("sc.w %0, %2, (%1)", "sc.w@1", 1);
    AMO_MIS("sc.d %0, %2, (%1)", "sc.d@4", 4);
    /* aligned lr, misaligned sc */
    trap_reset();
    {
        u64 v = 0, r = 0x77;

        __asm__ volatile("lr.d %0, (%2)\n\tsc.d %1, %3, (%4)"
                         : "=&r"(v), "+r"(r)
                         : "r"(buf + 8), "r"(5ull), "r"(buf + 10)
                         : "memory");
        show_trap_count("lr.d@8.sc.d@a");
        show("lr.d@8.sc.d@a.rd", r);
    }
    show("atomics.mem", peek(0));
}

/* Misaligned loads and stores to MMIO: the CLINT's mtimecmp. */
#define MTIMECMP 0x2004000ul

static void mmio(void)
{
    volatile u64 *cmp = (volatile u64 *)MTIMECMP;
    u64 v;

    *cmp = 0xfedcba9876543210ull;
    trap_reset();
    v = 0x77;
    __asm__ volatile("lw %0, 1(%1)" : "+r"(v) : "r"(MTIMECMP) : "memory");
    show("mmio.lw@1.val", v);
    show("mmio.lw@1.cause", m_trap.cause);
    show("mmio.lw@1.tval", m_trap.tval);
    trap_reset();
    v = 0x77;
    __asm__ volatile("lh %0, 3(%1)" : "+r"(v) : "r"(MTIMECMP) : "memory");
    show("mmio.lh@3.val", v);
    show("mmio.lh@3.cause", m_trap.cause);
    show("mmio.lh@3.tval", m_trap.tval);
    trap_reset();
    __asm__ volatile("sw %0, 2(%1)" :: "r"(0x11223344ull), "r"(MTIMECMP)
                     : "memory");
    show("mmio.sw@2.cause", m_trap.cause);
    show("mmio.sw@2.tval", m_trap.tval);
    show("mmio.sw@2.mtimecmp", *cmp);
    trap_reset();
    *cmp = ~0ull;
}

int main(void)
{
    fill();
    loads_at(0);
    loads_at(12);
    loads_at(4096 - 8);
    show("loads.traps", m_trap.count);
    stores_at(0);
    stores_at(4096 - 4);
    show("stores.traps", m_trap.count);
    compressed();
    atomics();
    mmio();
    return 0;
}
