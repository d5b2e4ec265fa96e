/*
 * Traps: M-mode exceptions (illegal instruction with mtval = the bits,
 * ecall, ebreak), ecall from S and U, delegation to S via medeleg and
 * mideleg, mret/sret privilege transitions and the mstatus bits they
 * leave, illegal xret, and interrupts: CLINT msip, CLINT timer, SSIP
 * delegated to S, their priority.
 */
#include "isa.h"

#define CLINT_MSIP ((volatile u32 *)0x2000000ul)
#define CLINT_MTIMECMP ((volatile u64 *)0x2004000ul)

#define STATUS_BITS (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | \
                     MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP | \
                     MSTATUS_MPRV)

static u64 label_addr;
static volatile u64 irq_order[4];
static volatile int irq_n;

#define LABEL(name) ({ u64 a_; __asm__ volatile("la %0, " name : "=r"(a_)); \
    a_; })

static void show_status(const char *name, u64 status)
{
    show(name, status & STATUS_BITS);
}

/* ---- code run in S or U ---- */

__attribute__((noinline, noclone)) static u64 lower_ecall(u64 arg)
{
    register u64 a0 __asm__("a0") = arg;
    register u64 a7 __asm__("a7") = 1;

    __asm__ volatile("ecall" : "+r"(a0) : "r"(a7) : "memory");
    return a0 + 1;
}

__attribute__((noinline, noclone)) static u64 lower_ebreak(u64 arg)
{
    __asm__ volatile("lower_ebreak_pc: ebreak" ::: "memory");
    return arg;
}

/* Reads mstatus: illegal below M (tval = 0x30002573). */
__attribute__((noinline, noclone)) static u64 lower_read_mstatus(u64 arg)
{
    u64 v = arg;

    __asm__ volatile("lower_csrr_pc: csrr %0, mstatus" : "+r"(v) :: "memory");
    return v;
}

__attribute__((noinline, noclone)) static u64 lower_mret(u64 arg)
{
    __asm__ volatile("lower_mret_pc: mret" ::: "memory");
    return arg;
}

__attribute__((noinline, noclone)) static u64 lower_sret_bad(u64 arg)
{
    __asm__ volatile("lower_sret_pc: sret" ::: "memory");
    return arg;
}

__attribute__((noinline, noclone)) static u64 lower_wfi(u64 arg)
{
    __asm__ volatile("lower_wfi_pc: wfi" ::: "memory");
    return arg;
}

/* In S: sret to S with SPIE set and SIE clear; returns sstatus after. */
__attribute__((noinline, noclone)) static u64 s_do_sret(u64 spp)
{
    u64 st;

    __asm__ volatile(
        "li t0, 0x122\n\t"       /* SPP | SPIE | SIE */
        "csrc sstatus, t0\n\t"
        "li t0, 0x20\n\t"
        "csrs sstatus, t0\n\t"
        "slli t0, %1, 8\n\t"
        "csrs sstatus, t0\n\t"
        "la t0, 1f\n\t"
        "csrw sepc, t0\n\t"
        "sret\n"
        "1: csrr %0, sstatus"
        : "=r"(st) : "r"(spp) : "t0", "memory");
    return st;
}

static volatile u64 s_ssip_seen;

/* In S: enable SSIE/SIE and wait for the delegated SSIP. */
__attribute__((noinline, noclone)) static u64 s_wait_ssip(u64 arg)
{
    CSR_SET(sie, 1u << 1);
    CSR_SET(sstatus, MSTATUS_SIE);
    for (u64 i = 0; i < 1000000 && !s_ssip_seen; i++) {
        __asm__ volatile("nop");
    }
    CSR_CLEAR(sstatus, MSTATUS_SIE);
    return arg + s_ssip_seen;
}

static void s_hook(u64 cause)
{
    s_ssip_seen = cause;
    CSR_CLEAR(sip, 1u << 1);
}

static void m_hook(u64 cause)
{
    if (irq_n < 4) {
        irq_order[irq_n] = cause;
    }
    irq_n++;
    if (cause == ((1ull << 63) | 3)) {
        *CLINT_MSIP = 0;
    } else if (cause == ((1ull << 63) | 7)) {
        *CLINT_MTIMECMP = ~0ull;
    }
}

static void test_m_exceptions(void)
{
    trap_reset();
    __asm__ volatile("illegal_pc: .word 0xffffffff" ::: "memory");
    label_addr = LABEL("illegal_pc");
    show_trap("m.illegal32", &m_trap, label_addr);
    __asm__ volatile("illegal16_pc: .half 0x0000" ::: "memory");
    show_trap("m.illegal16", &m_trap, LABEL("illegal16_pc"));
    __asm__ volatile("csr_ro_pc: csrw cycle, zero" ::: "memory");
    show_trap("m.csrw_cycle", &m_trap, LABEL("csr_ro_pc"));
    __asm__ volatile("csr_none_pc: csrr a0, 0x7ff" ::: "a0", "memory");
    show_trap("m.csr_7ff", &m_trap, LABEL("csr_none_pc"));
    __asm__ volatile("csr_hartid_pc: csrw mhartid, zero" ::: "memory");
    show_trap("m.csrw_mhartid", &m_trap, LABEL("csr_hartid_pc"));
    __asm__ volatile("ecall_m_pc: ecall" ::: "memory");
    show_trap("m.ecall", &m_trap, LABEL("ecall_m_pc"));
    show_status("m.ecall.mstatus", m_trap.status);
    __asm__ volatile("ebreak_m_pc: ebreak" ::: "memory");
    show("m.ebreak.tval_is_pc", m_trap.tval == LABEL("ebreak_m_pc"));
    show_trap("m.ebreak", &m_trap, LABEL("ebreak_m_pc"));
    __asm__ volatile("cebreak_m_pc: c.ebreak" ::: "memory");
    show_trap("m.c.ebreak", &m_trap, LABEL("cebreak_m_pc"));
    /* fetch from a non-existent address: access fault, resume here */
    m_trap.resume = LABEL("fetch_back");
    __asm__ volatile("li t0, 0x1000000\n\tjr t0\n"
                     "fetch_back:" ::: "t0", "memory");
    show_trap("m.fetch_fault", &m_trap, 0);
    __asm__ volatile("li t0, 0x1000000\n\tlw t0, 0(t0)" ::: "t0", "memory");
    show("m.load_fault.cause", m_trap.cause);
    show("m.load_fault.tval", m_trap.tval);
    __asm__ volatile("li t0, 0x1000008\n\tsd t0, 0(t0)" ::: "t0", "memory");
    show("m.store_fault.cause", m_trap.cause);
    show("m.store_fault.tval", m_trap.tval);
    trap_reset();
}

static void test_lower_undelegated(void)
{
    u64 r;

    CSR_WRITE(medeleg, 0);
    trap_reset();
    r = run_in_mode(PRV_S, lower_ecall, 41, 0);
    show("s.ecall.ret", r);
    show("s.ecall.cause", m_trap.cause);
    show_status("s.ecall.mstatus", m_trap.status);
    show("s.ecall.count", m_trap.count);
    trap_reset();
    r = run_in_mode(PRV_U, lower_ecall, 7, 0);
    show("u.ecall.ret", r);
    show("u.ecall.cause", m_trap.cause);
    show_status("u.ecall.mstatus", m_trap.status);
    trap_reset();
    run_in_mode(PRV_U, lower_read_mstatus, 0, 0);
    show_trap("u.csrr_mstatus", &m_trap, LABEL("lower_csrr_pc"));
    run_in_mode(PRV_S, lower_read_mstatus, 0, 0);
    show_trap("s.csrr_mstatus", &m_trap, LABEL("lower_csrr_pc"));
    run_in_mode(PRV_S, lower_mret, 0, 0);
    show_trap("s.mret", &m_trap, LABEL("lower_mret_pc"));
    run_in_mode(PRV_U, lower_sret_bad, 0, 0);
    show_trap("u.sret", &m_trap, LABEL("lower_sret_pc"));
    run_in_mode(PRV_U, lower_wfi, 0, 0);
    show_trap("u.wfi", &m_trap, LABEL("lower_wfi_pc"));
    /* TW: wfi in S is illegal too */
    CSR_SET(mstatus, 1ull << 21);
    run_in_mode(PRV_S, lower_wfi, 0, 0);
    show_trap("s.wfi_tw", &m_trap, LABEL("lower_wfi_pc"));
    CSR_CLEAR(mstatus, 1ull << 21);
    /* TSR: sret in S is illegal */
    CSR_SET(mstatus, 1ull << 22);
    run_in_mode(PRV_S, s_do_sret, 1, 0);
    show("s.sret_tsr.cause", m_trap.cause);
    show("s.sret_tsr.tval", m_trap.tval);
    trap_reset();
    CSR_CLEAR(mstatus, 1ull << 22);
    run_in_mode(PRV_U, lower_ebreak, 0, 0);
    show("u.ebreak.tval_is_pc", m_trap.tval == LABEL("lower_ebreak_pc"));
    show_trap("u.ebreak", &m_trap, LABEL("lower_ebreak_pc"));
    trap_reset();
}

static void test_delegation(void)
{
    u64 r;

    /* Only delegable causes stick. */
    CSR_WRITE(medeleg, ~0ull);
    show("medeleg.all", CSR_READ(medeleg));
    CSR_WRITE(mideleg, ~0ull);
    show("mideleg.all", CSR_READ(mideleg));
    CSR_WRITE(mideleg, 0);
    CSR_WRITE(medeleg, (1u << 2) | (1u << 3) | (1u << 8));
    trap_reset();
    r = run_in_mode(PRV_U, lower_ecall, 100, 0);
    show("deleg.u.ecall.ret", r);
    show_trap("deleg.u.ecall.s", &s_trap, LABEL("lower_ecall"));
    show("deleg.u.ecall.m_count", m_trap.count);
    trap_reset();
    run_in_mode(PRV_U, lower_read_mstatus, 0, 0);
    show_trap("deleg.u.illegal.s", &s_trap, LABEL("lower_csrr_pc"));
    show_status("deleg.u.illegal.sstatus", s_trap.status);
    run_in_mode(PRV_U, lower_ebreak, 0, 0);
    show("deleg.u.ebreak.tval_is_pc", s_trap.tval == LABEL("lower_ebreak_pc"));
    show_trap("deleg.u.ebreak.s", &s_trap, LABEL("lower_ebreak_pc"));
    /* An S-mode illegal instruction is delegated too (S stays in S). */
    run_in_mode(PRV_S, lower_read_mstatus, 0, 0);
    show_trap("deleg.s.illegal.s", &s_trap, LABEL("lower_csrr_pc"));
    show_status("deleg.s.illegal.sstatus", s_trap.status);
    /* ecall from S is not delegated (bit 9 clear): M gets it. */
    trap_reset();
    run_in_mode(PRV_S, lower_ecall, 0, 0);
    show("deleg.s.ecall.m_cause", m_trap.cause);
    show("deleg.s.ecall.s_count", s_trap.count);
    /* Traps from M are never delegated. */
    trap_reset();
    __asm__ volatile("ebreak" ::: "memory");
    show("deleg.m.ebreak.m_cause", m_trap.cause);
    show("deleg.m.ebreak.s_count", s_trap.count);
    CSR_WRITE(medeleg, 0);
    trap_reset();
}

static void test_xret(void)
{
    u64 st;

    /* mret to M: MIE <- MPIE, MPIE <- 1, MPP <- U. */
    CSR_CLEAR(mstatus, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPRV);
    CSR_SET(mstatus, MSTATUS_MPP | MSTATUS_MPIE);
    __asm__ volatile("la t0, 1f\n\tcsrw mepc, t0\n\tmret\n1:"
                     ::: "t0", "memory");
    st = CSR_READ(mstatus);
    show_status("mret.to_m.mstatus", st);
    CSR_CLEAR(mstatus, MSTATUS_MIE);
    /* mret to M with MPRV set keeps MPRV */
    CSR_SET(mstatus, MSTATUS_MPP | MSTATUS_MPRV);
    __asm__ volatile("la t0, 1f\n\tcsrw mepc, t0\n\tmret\n1:"
                     ::: "t0", "memory");
    st = CSR_READ(mstatus);
    show_status("mret.mprv.mstatus", st);
    CSR_CLEAR(mstatus, MSTATUS_MPRV);
    /* sret within S, to S and to U (U: the ecall comes from U). */
    trap_reset();
    st = run_in_mode(PRV_S, s_do_sret, 1, 0);
    show_status("sret.to_s.sstatus", st);
    show("sret.to_s.m_count", m_trap.count);
    /* mret into S with MPIE clear: check what the ecall records */
    trap_reset();
    CSR_CLEAR(mstatus, MSTATUS_MPIE);
    run_in_mode(PRV_S, lower_ecall, 0, 0);
    show_status("mret.to_s.ecall.mstatus", m_trap.status);
    CSR_SET(mstatus, MSTATUS_MPIE);
    trap_reset();
    run_in_mode(PRV_S, lower_ecall, 0, 0);
    show_status("mret.to_s.mpie.ecall.mstatus", m_trap.status);
    trap_reset();
    /* mstatus.MPP is WARL: 2 is not a mode */
    CSR_CLEAR(mstatus, MSTATUS_MPP);
    CSR_SET(mstatus, 2ull << 11);
    show("mpp.warl", CSR_READ(mstatus) & MSTATUS_MPP);
    CSR_CLEAR(mstatus, MSTATUS_MPP);
}

static void test_interrupts(void)
{
    m_irq_hook = m_hook;
    s_irq_hook = s_hook;
    irq_n = 0;
    *CLINT_MTIMECMP = ~0ull;
    CSR_WRITE(mie, (1u << 3) | (1u << 7));
    *CLINT_MSIP = 1;
    show("irq.mip.msip", CSR_READ(mip) & (1u << 3));
    CSR_SET(mstatus, MSTATUS_MIE);
    for (int i = 0; i < 100000 && irq_n == 0; i++) {
        __asm__ volatile("nop");
    }
    CSR_CLEAR(mstatus, MSTATUS_MIE);
    show("irq.msip.n", irq_n);
    show("irq.msip.cause", irq_order[0]);
    show("irq.msip.cleared", CSR_READ(mip) & (1u << 3));

    /* timer: mtimecmp 0 makes MTIP pending at once */
    irq_n = 0;
    *CLINT_MTIMECMP = 0;
    for (int i = 0; i < 100000 && !(CSR_READ(mip) & (1u << 7)); i++) {
        __asm__ volatile("nop");
    }
    show("irq.mip.mtip", CSR_READ(mip) & (1u << 7));
    CSR_SET(mstatus, MSTATUS_MIE);
    for (int i = 0; i < 100000 && irq_n == 0; i++) {
        __asm__ volatile("nop");
    }
    CSR_CLEAR(mstatus, MSTATUS_MIE);
    show("irq.mtip.n", irq_n);
    show("irq.mtip.cause", irq_order[0]);

    /* both pending: MSI is taken before MTI */
    irq_n = 0;
    *CLINT_MSIP = 1;
    *CLINT_MTIMECMP = 0;
    for (int i = 0; i < 100000 && !(CSR_READ(mip) & (1u << 7)); i++) {
        __asm__ volatile("nop");
    }
    CSR_SET(mstatus, MSTATUS_MIE);
    for (int i = 0; i < 100000 && irq_n < 2; i++) {
        __asm__ volatile("nop");
    }
    CSR_CLEAR(mstatus, MSTATUS_MIE);
    show("irq.both.n", irq_n);
    show("irq.both.first", irq_order[0]);
    show("irq.both.second", irq_order[1]);

    /* wfi wakes on a pending enabled interrupt even with MIE clear */
    irq_n = 0;
    *CLINT_MSIP = 1;
    __asm__ volatile("wfi" ::: "memory");
    show("irq.wfi.mip", CSR_READ(mip) & (1u << 3));
    *CLINT_MSIP = 0;

    /* SSIP delegated to S, raised by M through mip */
    CSR_WRITE(mideleg, 1u << 1);
    CSR_WRITE(mie, 0);
    CSR_SET(mip, 1u << 1);
    show("irq.ssip.sip", CSR_READ(sip));
    s_ssip_seen = 0;
    trap_reset();
    show("irq.ssip.ret", run_in_mode(PRV_S, s_wait_ssip, 0, 0));
    show("irq.ssip.cause", s_ssip_seen);
    show("irq.ssip.sip_after", CSR_READ(sip));
    CSR_WRITE(mideleg, 0);
    CSR_WRITE(mie, 0);
    m_irq_hook = 0;
    s_irq_hook = 0;
}

int main(void)
{
    test_m_exceptions();
    test_lower_undelegated();
    test_delegation();
    test_xret();
    test_interrupts();
    return 0;
}
