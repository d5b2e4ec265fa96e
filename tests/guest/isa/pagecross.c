/*
 * Accesses that cross a 4 KiB page boundary under Sv39: loads and stores
 * of every width at every crossing offset when the second page is
 * unmapped (page fault, xtval as reported), read-only (store faults, no
 * partial store), mapped to a non-contiguous physical page (both halves
 * land right), without its A bit (A/D updated on the second PTE), and
 * instruction fetch of 32-bit and compressed code running off the end of
 * a page.  Faults go to M, then delegated to S.
 */
#include "vm.h"

#define W 0x40000000ull             /* the test window: two 4 KiB pages */

enum { LH, LHU, LW, LWU, LD, FLW, FLD, SH, SW, SD, FSW, FSD, NKINDS };
static const char *const kind_names[NKINDS] = {
    "lh", "lhu", "lw", "lwu", "ld", "flw", "fld",
    "sh", "sw", "sd", "fsw", "fsd",
};
static const int kind_size[NKINDS] = { 2, 2, 4, 4, 8, 4, 8, 2, 4, 8, 4, 8 };

static unsigned char phys[4][4096] __attribute__((aligned(4096)));
#define P0 ((u64)phys[0])
#define P1 ((u64)phys[2])           /* not physically after P0 */

static volatile u64 p_va, p_kind;
static u64 *root;
static int deleg;

#define SENTINEL 0x5e5e5e5e5e5e5e5eull
#define STORE_VAL 0x0102030405060708ull

__attribute__((noinline, noclone)) static u64 s_access(u64 arg)
{
    u64 v = SENTINEL, va = p_va;

    (void)arg;
    switch (p_kind) {
    case LH: __asm__ volatile("lh %0, 0(%1)" : "+r"(v) : "r"(va) : "memory");
        break;
    case LHU: __asm__ volatile("lhu %0, 0(%1)" : "+r"(v) : "r"(va)
                               : "memory");
        break;
    case LW: __asm__ volatile("lw %0, 0(%1)" : "+r"(v) : "r"(va) : "memory");
        break;
    case LWU: __asm__ volatile("lwu %0, 0(%1)" : "+r"(v) : "r"(va)
                               : "memory");
        break;
    case LD: __asm__ volatile("ld %0, 0(%1)" : "+r"(v) : "r"(va) : "memory");
        break;
    case FLW: __asm__ volatile("fmv.d.x fa0, %0\n\tflw fa0, 0(%1)\n\t"
                               "fmv.x.d %0, fa0" : "+r"(v) : "r"(va)
                               : "fa0", "memory");
        break;
    case FLD: __asm__ volatile("fmv.d.x fa0, %0\n\tfld fa0, 0(%1)\n\t"
                               "fmv.x.d %0, fa0" : "+r"(v) : "r"(va)
                               : "fa0", "memory");
        break;
    case SH: __asm__ volatile("sh %1, 0(%0)" :: "r"(va), "r"(STORE_VAL)
                              : "memory");
        break;
    case SW: __asm__ volatile("sw %1, 0(%0)" :: "r"(va), "r"(STORE_VAL)
                              : "memory");
        break;
    case SD: __asm__ volatile("sd %1, 0(%0)" :: "r"(va), "r"(STORE_VAL)
                              : "memory");
        break;
    case FSW: __asm__ volatile("fmv.d.x fa0, %1\n\tfsw fa0, 0(%0)"
                               :: "r"(va), "r"(STORE_VAL) : "fa0", "memory");
        break;
    case FSD: __asm__ volatile("fmv.d.x fa0, %1\n\tfsd fa0, 0(%0)"
                               :: "r"(va), "r"(STORE_VAL) : "fa0", "memory");
        break;
    }
    return v;
}

/* Calls code at target with a0 = 0x70; returns a0 (resumes at
 * exec_back after a fetch fault). */
__attribute__((noinline, noclone)) static u64 s_exec(u64 target)
{
    register u64 a0 __asm__("a0") = 0x70;

    __asm__ volatile("jalr ra, 0(%1)\n\t"
                     ".globl exec_back\n"
                     "exec_back:"
                     : "+r"(a0) : "r"(target) : "ra", "memory");
    return a0;
}

extern char exec_back[];

static volatile TrapInfo *trapinfo(void)
{
    return deleg ? &s_trap : &m_trap;
}

static void fill(void)
{
    for (int i = 0; i < 4096; i++) {
        phys[0][i] = (unsigned char)(0x10 + i * 3);
        phys[2][i] = (unsigned char)(0x90 + i * 5);
    }
}

static u64 peek(const unsigned char *p)
{
    u64 v = 0;

    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static char nbuf[64];

static const char *nm(const char *pre, const char *k, u64 off)
{
    int n = 0;

    for (const char *p = pre; *p; p++) {
        nbuf[n++] = *p;
    }
    nbuf[n++] = '.';
    for (const char *p = k; *p; p++) {
        nbuf[n++] = *p;
    }
    nbuf[n++] = '@';
    for (int s = 8; s >= 0; s -= 4) {
        nbuf[n++] = "0123456789abcdef"[(off >> s) & 15];
    }
    nbuf[n] = 0;
    return nbuf;
}

/* One access at W + off; prints value, trap, and the bytes around the
 * boundary in both physical pages. */
static void access(const char *pre, int kind, u64 off)
{
    volatile TrapInfo *t = trapinfo();
    u64 v;

    fill();
    trap_reset();
    p_va = W + off;
    p_kind = kind;
    v = run_in_mode(PRV_S, s_access, 0, 0);
    nm(pre, kind_names[kind], off);
    if (kind < SH) {
        show2(nbuf, "val", v);
    } else {
        show2(nbuf, "p0", peek(&phys[0][4088]));
        show2(nbuf, "p1", peek(&phys[2][0]));
    }
    show2(nbuf, "cause", t->count ? t->cause : 0);
    show2(nbuf, "tval", t->count ? t->tval - W : 0);
}

static void all_crossings(const char *pre)
{
    for (int k = 0; k < NKINDS; k++) {
        int size = kind_size[k];

        for (int b = 1; b < size; b++) {
            access(pre, k, 0x1000 - (u64)b);
        }
    }
    /* not crossing: last aligned item of page 0, first of page 1 */
    access(pre, LD, 0xff8);
    access(pre, LD, 0x1000);
    access(pre, SD, 0xff8);
}

static void map_pages(u64 second_flags)
{
    volatile u64 *pte;

    pt_map(root, W, P0, PAGE_4K, PTE_V | PTE_RWX | PTE_AD);
    pte = pt_slot(root, W + PAGE_4K, PAGE_4K);
    *pte = second_flags ? ((P1 >> 12) << 10) | second_flags : 0;
    sfence_all();
}

/* Code at the end of page 0 running into page 1. */
static void put16(u64 off, uint16_t insn)
{
    unsigned char *p = off < 0x1000 ? &phys[0][off] : &phys[2][off - 0x1000];

    p[0] = (unsigned char)insn;
    p[1] = (unsigned char)(insn >> 8);
}

static void exec_test(const char *pre)
{
    volatile TrapInfo *t = trapinfo();
    u64 v;

    /* addi a0,a0,1 @ffa; addi a0,a0,2 @ffe (straddles); c.jr ra @1002 */
    fill();
    put16(0xffa, 0x0513); put16(0xffc, 0x0015);
    put16(0xffe, 0x0513); put16(0x1000, 0x0025);
    put16(0x1002, 0x8082);
    __asm__ volatile("fence.i" ::: "memory");
    trap_reset();
    t->resume = (u64)exec_back;
    v = run_in_mode(PRV_S, s_exec, W + 0xffa, 0);
    show2(pre, "straddle.a0", v);
    show2(pre, "straddle.cause", t->count ? t->cause : 0);
    show2(pre, "straddle.tval", t->count ? t->tval - W : 0);
    show2(pre, "straddle.epc", t->count ? t->epc - W : 0);

    /* c.addi a0,1 @ffc; c.addi a0,2 @ffe; c.jr ra @1000 */
    put16(0xffc, 0x0505); put16(0xffe, 0x0509); put16(0x1000, 0x8082);
    __asm__ volatile("fence.i" ::: "memory");
    trap_reset();
    t->resume = (u64)exec_back;
    v = run_in_mode(PRV_S, s_exec, W + 0xffc, 0);
    show2(pre, "rvc.a0", v);
    show2(pre, "rvc.cause", t->count ? t->cause : 0);
    show2(pre, "rvc.tval", t->count ? t->tval - W : 0);
    show2(pre, "rvc.epc", t->count ? t->epc - W : 0);
    t->resume = 0;
}

static void one_config(const char *pre, u64 second_flags)
{
    map_pages(second_flags);
    all_crossings(pre);
}

static void run_all(void)
{
    volatile u64 *pte;

    one_config(deleg ? "d.unmapped" : "unmapped", 0);
    one_config(deleg ? "d.readonly" : "readonly",
               PTE_V | PTE_R | PTE_X | PTE_AD);
    one_config(deleg ? "d.mapped" : "mapped", PTE_V | PTE_RWX | PTE_AD);

    /* A/D of the second page set by crossing accesses */
    map_pages(PTE_V | PTE_RWX);
    pte = pt_slot(root, W + PAGE_4K, PAGE_4K);
    access(deleg ? "d.ad" : "ad", LW, 0xffe);
    show(deleg ? "d.ad.load.pte_flags" : "ad.load.pte_flags", *pte & 0xff);
    access(deleg ? "d.ad" : "ad", SW, 0xffe);
    show(deleg ? "d.ad.store.pte_flags" : "ad.store.pte_flags", *pte & 0xff);

    map_pages(0);
    exec_test(deleg ? "d.exec.unmapped" : "exec.unmapped");
    map_pages(PTE_V | PTE_R | PTE_AD);
    exec_test(deleg ? "d.exec.noexec" : "exec.noexec");
    map_pages(PTE_V | PTE_RWX | PTE_AD);
    exec_test(deleg ? "d.exec.mapped" : "exec.mapped");
}

/* M-mode with MPRV and MPP = S: the data access is translated. */
static void mprv_test(void)
{
    u64 v = SENTINEL;

    map_pages(0);
    fill();
    trap_reset();
    CSR_CLEAR(mstatus, MSTATUS_MPP);
    CSR_SET(mstatus, (u64)PRV_S << 11);
    CSR_SET(mstatus, MSTATUS_MPRV);
    __asm__ volatile("ld %0, 0(%1)" : "+r"(v) : "r"(W + 0xffc) : "memory");
    CSR_CLEAR(mstatus, MSTATUS_MPRV);
    show("mprv.ld.val", v);
    show("mprv.ld.cause", m_trap.cause);
    show("mprv.ld.tval", m_trap.tval - W);
    map_pages(PTE_V | PTE_RWX | PTE_AD);
    CSR_CLEAR(mstatus, MSTATUS_MPP);
    CSR_SET(mstatus, (u64)PRV_S << 11);
    CSR_SET(mstatus, MSTATUS_MPRV);
    __asm__ volatile("ld %0, 0(%1)" : "=r"(v) : "r"(W + 0xffc) : "memory");
    CSR_CLEAR(mstatus, MSTATUS_MPRV);
    show("mprv.ld.mapped.val", v);
    trap_reset();
}

int main(void)
{
    root = vm_setup(3);
    vm_on(root);
    deleg = 0;
    run_all();
    mprv_test();
    CSR_WRITE(medeleg, (1u << 12) | (1u << 13) | (1u << 15));
    deleg = 1;
    run_all();
    CSR_WRITE(medeleg, 0);
    vm_off();
    return 0;
}
