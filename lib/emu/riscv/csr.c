/*
 * Control and status registers (Zicsr; privileged spec 1.12, RV64).
 * Reads and writes apply the WARL rules and side effects (TLB set
 * selection, TLB flushes) of each register.
 */
#include "internal.h"

#define SSTATUS_MASK (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | \
                      MSTATUS_SPP | MSTATUS_VS | MSTATUS_FS | MSTATUS_XS | \
                      MSTATUS_SUM | MSTATUS_MXR | MSTATUS_UXL | MSTATUS_SD)
#define SSTATUS_WMASK (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | \
                       MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR)
#define MSTATUS_WMASK (SSTATUS_WMASK | MSTATUS_MIE | MSTATUS_MPIE | \
                       MSTATUS_MPP | MSTATUS_MPRV | MSTATUS_TVM | \
                       MSTATUS_TW | MSTATUS_TSR)

/*
 * Interrupt bits as QEMU 7.2 implements them even without the hypervisor
 * extension: the VS bits (2, 6, 10) and LCOFI (13) are writable in mip,
 * mie and mideleg, and a pending-and-enabled one is taken like any other.
 */
#define MIP_VS_MASK ((1ull << 2) | (1ull << 6) | (1ull << 10))
#define MIP_LCOFIP (1ull << 13)
#define MIP_S_MASK (RISCV_MIP_SSIP | RISCV_MIP_STIP | RISCV_MIP_SEIP)
/* Writable in mip and mideleg. */
#define MIP_W_MASK (MIP_S_MASK | MIP_VS_MASK | MIP_LCOFIP)
#define MIE_MASK (MIP_W_MASK | RISCV_MIP_MSIP | RISCV_MIP_MTIP | \
                  RISCV_MIP_MEIP)
/* What sie/sip show of the delegated bits, and what sip can write. */
#define SIE_MASK (MIP_S_MASK | MIP_LCOFIP)
#define SIP_W_MASK (RISCV_MIP_SSIP | MIP_LCOFIP)
/*
 * medeleg as in QEMU 7.2: causes 0-13, 15 and 20-23 (the guest-page
 * faults) are writable; 10, 11 and 20-23 are never raised here.
 */
#define MEDELEG_MASK 0xf0bfffull

/* PMP cfg bits. */
#define PMP_L 0x80
#define PMP_A 0x18

void riscv_csr_sanitise(RiscvCpu *cpu)
{
    RiscvCpuState *s = &cpu->s;

    s->medeleg &= MEDELEG_MASK;
    s->mideleg &= MIP_W_MASK;
    s->mie &= MIE_MASK;
    s->mip &= MIP_W_MASK;
}

/* Applies a new mstatus value with WARL fixes and side effects. */
void riscv_set_mstatus(RiscvCpu *cpu, uint64_t val)
{
    uint64_t old = cpu->s.mstatus;
    uint64_t st = (old & ~MSTATUS_WMASK) | (val & MSTATUS_WMASK);

    /*
     * MPP = 2 (reserved) is kept as written, as QEMU 7.2 does; mret then
     * goes to U and MPRV data accesses use the rules of rv_data_priv().
     */
    st |= (2ull << 32) | (2ull << 34);      /* UXL = SXL = 64 */
    st &= ~MSTATUS_SD;
    if ((st & MSTATUS_FS) == MSTATUS_FS_DIRTY) {
        st |= MSTATUS_SD;
    }
    cpu->s.mstatus = st;
    if ((old ^ st) & MSTATUS_MXR) {
        riscv_tlb_flush(cpu);
    }
    if ((old ^ st) & (MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_SUM)) {
        riscv_update_mmu_idx(cpu);
    }
}

/* Counter access from S/U (mcounteren/scounteren), bit = csr & 31. */
static bool counter_allowed(RiscvCpu *cpu, unsigned csr)
{
    unsigned b = csr & 31;

    if (cpu->s.priv == RISCV_PRIV_M) {
        return true;
    }
    if (!((cpu->s.mcounteren >> b) & 1)) {
        return false;
    }
    if (cpu->s.priv == RISCV_PRIV_U && !((cpu->s.scounteren >> b) & 1)) {
        return false;
    }
    return true;
}

static uint64_t read_time(RiscvCpu *cpu)
{
    RiscvBus *bus = cpu->bus;

    return bus->ops && bus->ops->get_time ? bus->ops->get_time(bus->opaque)
                                          : 0;
}

static bool hpm_implemented(unsigned csr)
{
    unsigned n = csr & 31;

    return n >= RISCV_HPM_FIRST && n <= RISCV_HPM_LAST;
}

/* Checks the privilege encoded in the CSR number. */
static bool csr_priv_ok(RiscvCpu *cpu, unsigned csr)
{
    return cpu->s.priv >= ((csr >> 8) & 3);
}

bool riscv_csr_is_writable(RiscvCpu *cpu, unsigned csr)
{
    return ((csr >> 10) & 3) != 3;
}

bool riscv_csr_read(RiscvCpu *cpu, unsigned csr, uint64_t *val)
{
    RiscvCpuState *s = &cpu->s;

    if (!csr_priv_ok(cpu, csr)) {
        return false;
    }
    switch (csr) {
    case 0x001: case 0x002: case 0x003:
        if (rv_fs_off(cpu)) {
            return false;
        }
        *val = csr == 0x001 ? s->fflags :
               csr == 0x002 ? s->frm : (s->frm << 5 | s->fflags);
        return true;
    case 0xc00: case 0xc01: case 0xc02:
        if (!counter_allowed(cpu, csr)) {
            return false;
        }
        *val = csr == 0xc00 ? s->mcycle :
               csr == 0xc01 ? read_time(cpu) : s->minstret;
        return true;
    case 0x100: *val = s->mstatus & SSTATUS_MASK; return true;
    case 0x104: *val = s->mie & s->mideleg & SIE_MASK; return true;
    case 0x105: *val = s->stvec; return true;
    case 0x106: *val = s->scounteren; return true;
    case 0x10a: *val = s->senvcfg; return true;
    case 0x140: *val = s->sscratch; return true;
    case 0x141: *val = s->sepc; return true;
    case 0x142: *val = s->scause; return true;
    case 0x143: *val = s->stval; return true;
    case 0x144:
        *val = riscv_read_mip(cpu) & s->mideleg & SIE_MASK;
        return true;
    case 0x180:
        if (s->priv == RISCV_PRIV_S && (s->mstatus & MSTATUS_TVM)) {
            return false;
        }
        *val = s->satp;
        return true;
    case 0xf11: case 0xf12: case 0xf13: case 0xf15:
        *val = 0;
        return true;
    case 0xf14: *val = s->mhartid; return true;
    case 0x300: *val = s->mstatus; return true;
    case 0x301: *val = s->misa; return true;
    case 0x302: *val = s->medeleg; return true;
    case 0x303: *val = s->mideleg; return true;
    case 0x304: *val = s->mie; return true;
    case 0x305: *val = s->mtvec; return true;
    case 0x306: *val = s->mcounteren; return true;
    case 0x30a: *val = s->menvcfg; return true;
    case 0x320: *val = s->mcountinhibit; return true;
    case 0x340: *val = s->mscratch; return true;
    case 0x341: *val = s->mepc; return true;
    case 0x342: *val = s->mcause; return true;
    case 0x343: *val = s->mtval; return true;
    case 0x344: *val = riscv_read_mip(cpu); return true;
    case 0xb00: *val = s->mcycle; return true;
    case 0xb02: *val = s->minstret; return true;
    }
    if (csr >= 0x3a0 && csr <= 0x3af) {
        unsigned n = csr - 0x3a0;

        if (n & 1) {
            return false;           /* odd pmpcfg do not exist on RV64 */
        }
        *val = 0;
        for (unsigned i = 0; i < 8; i++) {
            *val |= (uint64_t)s->pmpcfg[n * 4 + i] << (8 * i);
        }
        return true;
    }
    if (csr >= 0x3b0 && csr <= 0x3ef) {
        *val = s->pmpaddr[csr - 0x3b0];
        return true;
    }
    /* hpmcounter3..31, mhpmcounter3..31, mhpmevent3..31. */
    if (csr >= 0xc03 && csr <= 0xc1f) {
        if (!counter_allowed(cpu, csr)) {
            return false;
        }
        *val = hpm_implemented(csr) ? s->mhpmcounter[csr & 31] : 0;
        return true;
    }
    if (csr >= 0xb03 && csr <= 0xb1f) {
        *val = hpm_implemented(csr) ? s->mhpmcounter[csr & 31] : 0;
        return true;
    }
    if (csr >= 0x323 && csr <= 0x33f) {
        *val = hpm_implemented(csr) ? s->mhpmevent[csr & 31] : 0;
        return true;
    }
    return false;
}

static bool pmp_locked(RiscvCpu *cpu, unsigned i)
{
    return cpu->s.pmpcfg[i] & PMP_L;
}

static void write_pmpcfg(RiscvCpu *cpu, unsigned n, uint64_t val)
{
    for (unsigned i = 0; i < 8; i++) {
        unsigned idx = n * 4 + i;
        uint8_t b = (uint8_t)(val >> (8 * i));

        if (idx >= RISCV_PMP_IMPLEMENTED || pmp_locked(cpu, idx)) {
            continue;
        }
        b &= 0x9f;                    /* bits 6:5 are reserved */
        if ((b & 3) == 2) {           /* W without R is reserved */
            b &= ~3;
        }
        cpu->s.pmpcfg[idx] = b;
    }
    riscv_tlb_flush(cpu);
}

static void write_pmpaddr(RiscvCpu *cpu, unsigned i, uint64_t val)
{
    /* Locked, or the next entry is a locked TOR entry using this one. */
    if (i >= RISCV_PMP_IMPLEMENTED || pmp_locked(cpu, i)) {
        return;
    }
    if (i + 1 < RISCV_PMP_IMPLEMENTED && pmp_locked(cpu, i + 1) &&
        (cpu->s.pmpcfg[i + 1] & PMP_A) == 0x08) {
        return;
    }
    cpu->s.pmpaddr[i] = val & ((1ull << 54) - 1);
    riscv_tlb_flush(cpu);
}

static void write_satp(RiscvCpu *cpu, uint64_t val)
{
    unsigned mode = val >> 60;

    if (!riscv_satp_mode_ok(mode)) {
        return;                   /* unsupported MODE: no effect */
    }
    if (mode == 0) {
        val = 0;
    }
    cpu->s.satp = val;
    riscv_tlb_flush(cpu);
}

static uint64_t legal_tvec(uint64_t old, uint64_t val)
{
    if ((val & 3) >= 2) {
        val = (val & ~3ull) | (old & 3);
    }
    return val;
}

bool riscv_csr_write(RiscvCpu *cpu, unsigned csr, uint64_t val)
{
    RiscvCpuState *s = &cpu->s;

    if (!csr_priv_ok(cpu, csr) || !riscv_csr_is_writable(cpu, csr)) {
        return false;
    }
    switch (csr) {
    case 0x001: case 0x002: case 0x003:
        if (rv_fs_off(cpu)) {
            return false;
        }
        if (csr == 0x001) {
            s->fflags = val & 31;
        } else if (csr == 0x002) {
            s->frm = val & 7;
        } else {
            s->fflags = val & 31;
            s->frm = (val >> 5) & 7;
        }
        rv_fs_dirty(cpu);
        return true;
    case 0x100:
        riscv_set_mstatus(cpu, (s->mstatus & ~SSTATUS_WMASK) |
                               (val & SSTATUS_WMASK));
        return true;
    case 0x104: {
        uint64_t m = s->mideleg & SIE_MASK;

        s->mie = (s->mie & ~m) | (val & m);
        return true;
    }
    case 0x105: s->stvec = legal_tvec(s->stvec, val); return true;
    case 0x106: s->scounteren = val & 0xffffffffull; return true;
    case 0x10a: s->senvcfg = val & 1; return true;
    case 0x140: s->sscratch = val; return true;
    case 0x141: s->sepc = val & ~1ull; return true;
    case 0x142: s->scause = val; return true;
    case 0x143: s->stval = val; return true;
    case 0x144: {
        uint64_t m = SIP_W_MASK & s->mideleg;

        s->mip = (s->mip & ~m) | (val & m);
        return true;
    }
    case 0x180:
        if (s->priv == RISCV_PRIV_S && (s->mstatus & MSTATUS_TVM)) {
            return false;
        }
        write_satp(cpu, val);
        return true;
    case 0x300: riscv_set_mstatus(cpu, val); return true;
    case 0x301: return true;                  /* misa is fixed */
    case 0x302: s->medeleg = val & MEDELEG_MASK; return true;
    case 0x303: s->mideleg = val & MIP_W_MASK; return true;
    case 0x304: s->mie = val & MIE_MASK; return true;
    case 0x305: s->mtvec = legal_tvec(s->mtvec, val); return true;
    case 0x306: s->mcounteren = val & 0xffffffffull; return true;
    case 0x30a: s->menvcfg = val & 1; return true;
    case 0x320: s->mcountinhibit = val & 5; return true;
    case 0x340: s->mscratch = val; return true;
    case 0x341: s->mepc = val & ~1ull; return true;
    case 0x342: s->mcause = val; return true;
    case 0x343: s->mtval = val; return true;
    case 0x344:
        s->mip = (s->mip & ~MIP_W_MASK) | (val & MIP_W_MASK);
        return true;
    case 0xb00: s->mcycle = val; return true;
    case 0xb02: s->minstret = val; return true;
    }
    if (csr >= 0x3a0 && csr <= 0x3af) {
        if ((csr - 0x3a0) & 1) {
            return false;
        }
        write_pmpcfg(cpu, csr - 0x3a0, val);
        return true;
    }
    if (csr >= 0x3b0 && csr <= 0x3ef) {
        write_pmpaddr(cpu, csr - 0x3b0, val);
        return true;
    }
    if (csr >= 0xb03 && csr <= 0xb1f) {
        if (hpm_implemented(csr)) {
            s->mhpmcounter[csr & 31] = val;
        }
        return true;
    }
    if (csr >= 0x323 && csr <= 0x33f) {
        if (hpm_implemented(csr)) {
            s->mhpmevent[csr & 31] = val;
        }
        return true;
    }
    return false;
}
