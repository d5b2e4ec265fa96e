/*
 * Paging: Sv39 and Sv48 translation through 4 KiB, 2 MiB and 1 GiB
 * leaves, A/D updates (the PTEs are printed after each access),
 * permission faults (R/W/X, reserved W-without-R, U pages from S with and
 * without SUM, S fetching U code, U touching S pages, MXR), malformed
 * PTEs (misaligned superpage, leaf-less walk, reserved bits), canonical
 * addresses, sfence.vma after changing PTEs, TVM, and satp's WARL modes.
 */
#include "vm.h"

enum { K_LD, K_SD, K_EXEC };

#define VA_4K   0x40000000ull
#define VA_AD   0x40001000ull
#define VA_RO   0x40002000ull
#define VA_XO   0x40003000ull
#define VA_WO   0x40004000ull
#define VA_INV  0x40005000ull
#define VA_SF   0x40006000ull
#define VA_RSV  0x40007000ull
#define VA_UPG  0x40008000ull      /* a U data page */
#define VA_UX   0x40009000ull      /* U code */
#define VA_SX   0x4000a000ull      /* S code */
#define VA_NOLEAF 0x40200000ull    /* level-0 table with a pointer PTE */
#define VA_2M   0x40400000ull
#define VA_2MAD 0x40600000ull
#define VA_2MBAD 0x40800000ull     /* misaligned 2 MiB leaf */
#define VA_1G   0xc0000000ull
#define VA_HIGH 0x8000000000ull    /* needs Sv48 (VPN[3] = 1) */
#define VA_NONCANON48 0x0000800000000000ull

#define PA_2M   0x80400000ull      /* free RAM, 2 MiB aligned */
#define PA_1G   RAM_BASE

static unsigned char phys[6][4096] __attribute__((aligned(4096)));
#define PG(i) ((u64)phys[i])

static volatile u64 p_va, p_kind;
static u64 *root;
static const char *pfx;

#define SENTINEL 0x5e5e5e5e5e5e5e5eull

extern char exec_back[];

__attribute__((noinline, noclone)) static u64 lower_access(u64 arg)
{
    u64 v = SENTINEL, va = p_va;
    register u64 a0 __asm__("a0") = 0x70;

    (void)arg;
    switch (p_kind) {
    case K_LD:
        __asm__ volatile("ld %0, 0(%1)" : "+r"(v) : "r"(va) : "memory");
        break;
    case K_SD:
        __asm__ volatile("sd %1, 0(%0)" :: "r"(va), "r"(0x1122334455667788ull)
                         : "memory");
        v = 0;
        break;
    case K_EXEC:
        __asm__ volatile("jalr ra, 0(%1)\n\t"
                         ".globl exec_back\n"
                         "exec_back:"
                         : "+r"(a0) : "r"(va) : "ra", "memory");
        v = a0;
        break;
    }
    return v;
}

static void put_name(const char *a, const char *b)
{
    put_str(pfx);
    put_char('.');
    put_str(a);
    put_char('.');
    put_str(b);
}

/* Prints "<pfx>.name.{val,cause,tval}" for one access from mode. */
static void probe(const char *name, int mode, int kind, u64 va)
{
    u64 off = mode == PRV_U ? U_OFF : 0;
    u64 v;

    trap_reset();
    p_va = va;
    p_kind = kind;
    if (kind == K_EXEC) {
        m_trap.resume = (u64)exec_back + off;
    }
    v = run_in_mode(mode, lower_access, 0, off);
    m_trap.resume = 0;
    put_name(name, "");
    show("val", v);
    put_name(name, "");
    show("cause", m_trap.count ? m_trap.cause : 0);
    put_name(name, "");
    show("tval", m_trap.count ? m_trap.tval : 0);
    trap_reset();
}

static void show_pte(const char *name, volatile u64 *pte)
{
    put_name(name, "");
    show("pte", *pte);
}

static void put_code(int page)
{
    volatile uint32_t *p = (volatile uint32_t *)PG(page);

    p[0] = 0x04200513;      /* li a0, 0x42 */
    p[1] = 0x00008067;      /* ret */
    __asm__ volatile("fence.i" ::: "memory");
}

static void setup_maps(int levels)
{
    root = vm_setup(levels);
    for (int i = 0; i < 6; i++) {
        for (int j = 0; j < 512; j++) {
            ((volatile u64 *)phys[i])[j] = ((u64)(0xa0 + i) << 56) | j;
        }
    }
    *(volatile u64 *)(PA_2M + 0x1238) = 0x2222222222222222ull;
    *(volatile u64 *)(PA_1G + 0x600008) = 0x1111111111111111ull;
    put_code(4);
    pt_map(root, VA_4K, PG(0), PAGE_4K, PTE_V | PTE_R | PTE_W | PTE_AD);
    pt_map(root, VA_AD, PG(1), PAGE_4K, PTE_V | PTE_R | PTE_W);
    pt_map(root, VA_RO, PG(0), PAGE_4K, PTE_V | PTE_R | PTE_AD);
    pt_map(root, VA_XO, PG(0), PAGE_4K, PTE_V | PTE_X | PTE_AD);
    pt_map(root, VA_WO, PG(0), PAGE_4K, PTE_V | PTE_W | PTE_AD);
    pt_map(root, VA_INV, PG(0), PAGE_4K, PTE_R | PTE_W | PTE_AD);
    pt_map(root, VA_SF, PG(2), PAGE_4K, PTE_V | PTE_R | PTE_W | PTE_AD);
    pt_map(root, VA_RSV, PG(0), PAGE_4K,
           PTE_V | PTE_R | PTE_W | PTE_AD | (1ull << 60));
    pt_map(root, VA_UPG, PG(5), PAGE_4K,
           PTE_V | PTE_R | PTE_W | PTE_U | PTE_AD);
    pt_map(root, VA_UX, PG(4), PAGE_4K, PTE_V | PTE_R | PTE_X | PTE_U |
           PTE_AD);
    pt_map(root, VA_SX, PG(4), PAGE_4K, PTE_V | PTE_R | PTE_X | PTE_AD);
    /* a level-0 PTE that points to a further table: no leaf */
    pt_map(root, VA_NOLEAF, PG(3), PAGE_4K, PTE_V);
    pt_map(root, VA_2M, PA_2M, PAGE_2M, PTE_V | PTE_R | PTE_W | PTE_AD);
    pt_map(root, VA_2MAD, PA_2M, PAGE_2M, PTE_V | PTE_R | PTE_W);
    pt_map(root, VA_2MBAD, PA_2M + PAGE_4K, PAGE_2M,
           PTE_V | PTE_R | PTE_W | PTE_AD);
    pt_map(root, VA_1G, PA_1G, PAGE_1G, PTE_V | PTE_R | PTE_W | PTE_AD);
    if (levels == 4) {
        pt_map(root, VA_HIGH, PG(1), PAGE_4K,
               PTE_V | PTE_R | PTE_W | PTE_AD);
    }
    vm_on(root);
}

static void test_mode(int levels)
{
    volatile u64 *pte;

    pfx = levels == 4 ? "sv48" : "sv39";
    setup_maps(levels);
    show2(pfx, "satp_mode", CSR_READ(satp) >> 60);

    /* translation through each leaf size */
    probe("4k", PRV_S, K_LD, VA_4K + 8);
    probe("2m", PRV_S, K_LD, VA_2M + 0x1238);
    probe("1g", PRV_S, K_LD, VA_1G + 0x600008);
    probe("high", PRV_S, K_LD, VA_HIGH + 16);
    probe("noncanon48", PRV_S, K_LD, VA_NONCANON48);
    probe("noncanon_neg", PRV_S, K_LD, 0xffffff0000000000ull);

    /* A and D */
    pte = pt_slot(root, VA_AD, PAGE_4K);
    show_pte("ad.before", pte);
    probe("ad.ld", PRV_S, K_LD, VA_AD);
    show_pte("ad.after_ld", pte);
    probe("ad.sd", PRV_S, K_SD, VA_AD);
    show_pte("ad.after_sd", pte);
    pte = pt_slot(root, VA_2MAD, PAGE_2M);
    probe("ad2m.sd", PRV_S, K_SD, VA_2MAD + 0x10);
    show_pte("ad2m.after_sd", pte);
    /* A=0 on a read-only page: a store faults, A may or may not be set */
    pte = pt_slot(root, VA_RO, PAGE_4K);
    *pte &= ~PTE_AD;
    sfence_all();
    probe("ro_noa.sd", PRV_S, K_SD, VA_RO);
    probe("ro_noa.ld", PRV_S, K_LD, VA_RO);
    show_pte("ro_noa.after", pte);
    *pte |= PTE_AD;
    sfence_all();

    /* permissions */
    probe("ro.ld", PRV_S, K_LD, VA_RO);
    probe("ro.sd", PRV_S, K_SD, VA_RO);
    probe("ro.exec", PRV_S, K_EXEC, VA_RO);
    probe("xo.ld", PRV_S, K_LD, VA_XO);
    CSR_SET(mstatus, MSTATUS_MXR);
    probe("xo.ld_mxr", PRV_S, K_LD, VA_XO);
    probe("xo.sd_mxr", PRV_S, K_SD, VA_XO);
    CSR_CLEAR(mstatus, MSTATUS_MXR);
    probe("wo.ld", PRV_S, K_LD, VA_WO);
    probe("wo.sd", PRV_S, K_SD, VA_WO);
    probe("inv.ld", PRV_S, K_LD, VA_INV);
    probe("inv.sd", PRV_S, K_SD, VA_INV);
    probe("rsv.ld", PRV_S, K_LD, VA_RSV);
    probe("noleaf.ld", PRV_S, K_LD, VA_NOLEAF);
    probe("bad2m.ld", PRV_S, K_LD, VA_2MBAD);
    probe("sx.exec", PRV_S, K_EXEC, VA_SX);
    probe("ux.exec_from_s", PRV_S, K_EXEC, VA_UX);
    CSR_SET(mstatus, MSTATUS_SUM);
    probe("ux.exec_from_s_sum", PRV_S, K_EXEC, VA_UX);
    CSR_CLEAR(mstatus, MSTATUS_SUM);
    probe("upg.ld_s", PRV_S, K_LD, VA_UPG);
    probe("upg.sd_s", PRV_S, K_SD, VA_UPG);
    CSR_SET(mstatus, MSTATUS_SUM);
    probe("upg.ld_s_sum", PRV_S, K_LD, VA_UPG);
    probe("upg.sd_s_sum", PRV_S, K_SD, VA_UPG);
    CSR_CLEAR(mstatus, MSTATUS_SUM);
    /* from U (code at the U alias of RAM) */
    probe("u.upg.ld", PRV_U, K_LD, VA_UPG);
    probe("u.upg.sd", PRV_U, K_SD, VA_UPG);
    probe("u.spg.ld", PRV_U, K_LD, VA_4K);
    probe("u.spg.sd", PRV_U, K_SD, VA_4K);
    probe("u.ux.exec", PRV_U, K_EXEC, VA_UX);
    probe("u.sx.exec", PRV_U, K_EXEC, VA_SX);
    CSR_SET(mstatus, MSTATUS_MXR);
    probe("u.xo.ld_mxr", PRV_U, K_LD, VA_XO);
    CSR_CLEAR(mstatus, MSTATUS_MXR);

    /* sfence.vma after changing a PTE */
    pte = pt_slot(root, VA_SF, PAGE_4K);
    probe("sf.first", PRV_S, K_LD, VA_SF);
    *pte = ((PG(3) >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_AD;
    sfence_all();
    probe("sf.after_all", PRV_S, K_LD, VA_SF);
    *pte = ((PG(2) >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_AD;
    __asm__ volatile("sfence.vma %0, zero" :: "r"(VA_SF) : "memory");
    probe("sf.after_va", PRV_S, K_LD, VA_SF);
    *pte = 0;
    __asm__ volatile("sfence.vma %0, zero" :: "r"(VA_SF) : "memory");
    probe("sf.after_inval", PRV_S, K_LD, VA_SF);
    *pte = ((PG(3) >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_AD;
    __asm__ volatile("sfence.vma zero, %0" :: "r"(0ull) : "memory");
    probe("sf.after_asid", PRV_S, K_LD, VA_SF);
    vm_off();
}

__attribute__((noinline, noclone)) static u64 lower_sfence(u64 arg)
{
    __asm__ volatile("sfence.vma" ::: "memory");
    return arg;
}

__attribute__((noinline, noclone)) static u64 lower_satp(u64 arg)
{
    __asm__ volatile("csrr %0, satp" : "+r"(arg) :: "memory");
    return arg;
}

static void test_traps_and_satp(void)
{
    u64 v;

    trap_reset();
    run_in_mode(PRV_U, lower_sfence, 0, 0);
    show("sfence.u.cause", m_trap.cause);
    show("sfence.u.tval", m_trap.tval);
    trap_reset();
    run_in_mode(PRV_S, lower_sfence, 0, 0);
    show("sfence.s.count", m_trap.count);
    CSR_SET(mstatus, 1ull << 20);           /* TVM */
    run_in_mode(PRV_S, lower_sfence, 0, 0);
    show("sfence.s_tvm.cause", m_trap.cause);
    show("sfence.s_tvm.tval", m_trap.tval);
    trap_reset();
    run_in_mode(PRV_S, lower_satp, 0, 0);
    show("satp.s_tvm.cause", m_trap.cause);
    show("satp.s_tvm.tval", m_trap.tval);
    CSR_CLEAR(mstatus, 1ull << 20);
    trap_reset();
    v = run_in_mode(PRV_S, lower_satp, 7, 0);
    show("satp.s.val", v);
    show("satp.s.count", m_trap.count);

    /* WARL modes: unsupported modes leave satp unchanged */
    CSR_WRITE(satp, 0);
    CSR_WRITE(satp, (1ull << 60) | 0x1234);
    show("satp.mode1", CSR_READ(satp));
    CSR_WRITE(satp, (10ull << 60) | 0x1234);
    show("satp.mode10", CSR_READ(satp));
    CSR_WRITE(satp, 0);
    CSR_WRITE(satp, (15ull << 60) | 0x1234);
    show("satp.mode15", CSR_READ(satp));
    CSR_WRITE(satp, SATP_SV39 | (0xffffull << 44) | 0xfffffffffffull);
    show("satp.sv39_all", CSR_READ(satp));
    CSR_WRITE(satp, 0);
    sfence_all();
    show("satp.bare", CSR_READ(satp));
}

int main(void)
{
    test_mode(3);
    test_mode(4);
    test_traps_and_satp();
    return 0;
}
