/*
 * Memory management: Sv39/Sv48/Sv57 page walks with hardware A/D updates,
 * PMP checks, the soft-TLB, the slow paths of loads and stores
 * (misaligned, MMIO, pages holding translated code) and the physical bus.
 */
#include "internal.h"

#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)
#define PPN_MASK ((1ull << 44) - 1)

#define PMP_R 0x01
#define PMP_W 0x02
#define PMP_X 0x04
#define PMP_A 0x18
#define PMP_L 0x80

/* ---- Bus ---- */

RvRamRegion *riscv_bus_find_ram(RiscvBus *bus, uint64_t paddr)
{
    for (unsigned i = 0; i < bus->nram; i++) {
        RvRamRegion *r = &bus->ram[i];

        if (paddr - r->base < r->size) {
            return r;
        }
    }
    return NULL;
}

void riscv_bus_mark_code(RiscvBus *bus, uint64_t paddr)
{
    RvRamRegion *r = riscv_bus_find_ram(bus, paddr);
    uint64_t page = (paddr - r->base) >> RV_PAGE_BITS;

    if (r->code_pages[page]) {
        return;
    }
    r->code_pages[page] = 1;
    for (unsigned i = 0; i < bus->nharts; i++) {
        riscv_tlb_flush_write_page(bus->harts[i], paddr & RV_PAGE_MASK);
    }
}

void riscv_bus_invalidate_code(RiscvBus *bus, uint64_t paddr)
{
    RvRamRegion *r = riscv_bus_find_ram(bus, paddr);
    uint64_t page;

    if (!r) {
        return;
    }
    page = (paddr - r->base) >> RV_PAGE_BITS;
    if (!r->code_pages[page]) {
        return;
    }
    r->code_pages[page] = 0;
    for (unsigned i = 0; i < bus->nharts; i++) {
        riscv_tb_invalidate_page(bus->harts[i], paddr >> RV_PAGE_BITS);
    }
}

void riscv_bus_notify_ram_write(RiscvBus *bus, uint64_t addr, uint64_t len)
{
    uint64_t end = addr + len;

    if (len == 0) {
        return;
    }
    for (uint64_t a = addr & RV_PAGE_MASK; a < end && a >= (addr &
         RV_PAGE_MASK); a += RV_PAGE_SIZE) {
        riscv_bus_invalidate_code(bus, a);
    }
}

bool riscv_mmio_access(RiscvCpu *cpu, uint64_t vaddr, uint64_t paddr,
                       unsigned size, uint64_t *val, bool is_write)
{
    const RiscvBusOps *ops = cpu->bus->ops;
    RiscvMmioResult r = RISCV_MMIO_ACCESS_FAULT;

    if (is_write) {
        if (ops && ops->mmio_write) {
            r = ops->mmio_write(cpu->bus->opaque, paddr, size, *val);
        }
    } else {
        *val = 0;
        if (ops && ops->mmio_read) {
            r = ops->mmio_read(cpu->bus->opaque, paddr, size, val);
        }
        if (size < 8) {
            *val &= (1ull << (8 * size)) - 1;
        }
    }
    if (r != RISCV_MMIO_OK) {
        cpu->fault_cause = is_write ? EXC_STORE_ACCESS : EXC_LOAD_ACCESS;
        cpu->fault_tval = vaddr;
        return false;
    }
    return true;
}

/* ---- TLB maintenance ---- */

static void tlb_set_invalidate(RvTlbEntry *t)
{
    for (unsigned i = 0; i < TLB_SIZE; i++) {
        t[i].tag = TLB_INVALID;
    }
}

void riscv_tlb_flush(RiscvCpu *cpu)
{
    /* Only the sets filled since the last flush hold entries. */
    for (unsigned i = 0; i < MMU_IDX_COUNT; i++) {
        if (!(cpu->tlb_used & (1u << i))) {
            continue;
        }
        tlb_set_invalidate(cpu->tlb[i].read);
        tlb_set_invalidate(cpu->tlb[i].write);
        tlb_set_invalidate(cpu->tlb[i].exec);
    }
    cpu->tlb_used = 0;
    for (unsigned i = 0; i < G_N_ELEMENTS(cpu->jmp_cache); i++) {
        cpu->jmp_cache[i].vpc = ~0ull;
    }
}

void riscv_tlb_flush_write_page(RiscvCpu *cpu, uint64_t ppage)
{
    for (unsigned i = 0; i < MMU_IDX_COUNT; i++) {
        RvTlbEntry *t = cpu->tlb[i].write;

        for (unsigned j = 0; j < TLB_SIZE; j++) {
            if (!(t[j].tag & TLB_INVALID) && t[j].paddr == ppage) {
                t[j].tag = TLB_INVALID;
            }
        }
    }
}

/* ---- PMP ---- */

/* Range [lo, hi) covered by entry i; false if the entry is off. */
static bool pmp_range(const RiscvCpuState *s, unsigned i, uint64_t *lo,
                      uint64_t *hi)
{
    uint64_t a = s->pmpaddr[i];

    switch (s->pmpcfg[i] & PMP_A) {
    case 0x08:                                      /* TOR */
        *lo = i ? s->pmpaddr[i - 1] << 2 : 0;
        *hi = a << 2;
        return true;
    case 0x10:                                      /* NA4 */
        *lo = a << 2;
        *hi = *lo + 4;
        return true;
    case 0x18: {                                    /* NAPOT */
        unsigned t = __builtin_ctzll(~a);

        *lo = (a & ~((1ull << t) - 1)) << 2;
        *hi = *lo + (1ull << (t + 3));
        return true;
    }
    }
    return false;
}

enum { PMP_DENY, PMP_ALLOW, PMP_PARTIAL };

/*
 * PMP decision for the bytes [addr, addr + size) accessed with privilege
 * priv.  PMP_PARTIAL: the highest-priority matching entry covers only part
 * of the range (an access doing that fails; a page doing that needs
 * per-access checks).
 */
static int pmp_check(const RiscvCpuState *s, uint64_t addr, uint64_t size,
                     RvAccess acc, unsigned priv)
{
    uint64_t end = addr + size;

    for (unsigned i = 0; i < RISCV_PMP_IMPLEMENTED; i++) {
        uint64_t lo, hi;
        uint8_t cfg = s->pmpcfg[i];
        uint8_t need;

        if (!pmp_range(s, i, &lo, &hi) || hi <= addr || lo >= end ||
            lo >= hi) {
            continue;
        }
        if (lo > addr || hi < end) {
            return PMP_PARTIAL;
        }
        if (priv == RISCV_PRIV_M && !(cfg & PMP_L)) {
            return PMP_ALLOW;
        }
        need = acc == RV_ACC_READ ? PMP_R : acc == RV_ACC_WRITE ? PMP_W
                                                                : PMP_X;
        return (cfg & need) ? PMP_ALLOW : PMP_DENY;
    }
    return priv == RISCV_PRIV_M ? PMP_ALLOW : PMP_DENY;
}

static bool pmp_access_ok(const RiscvCpuState *s, uint64_t addr,
                          uint64_t size, RvAccess acc, unsigned priv)
{
    return pmp_check(s, addr, size, acc, priv) == PMP_ALLOW;
}

/* ---- Page walk ---- */

static uint64_t page_fault_cause(RvAccess acc)
{
    return acc == RV_ACC_EXEC ? EXC_INSN_PAGE_FAULT :
           acc == RV_ACC_READ ? EXC_LOAD_PAGE_FAULT : EXC_STORE_PAGE_FAULT;
}

static uint64_t access_fault_cause(RvAccess acc)
{
    return acc == RV_ACC_EXEC ? EXC_INSN_ACCESS :
           acc == RV_ACC_READ ? EXC_LOAD_ACCESS : EXC_STORE_ACCESS;
}

/*
 * Translates vaddr with privilege priv.  Returns 0 and sets *paddr, or
 * returns the exception cause.
 */
static uint64_t translate(RiscvCpu *cpu, uint64_t vaddr, RvAccess acc,
                          unsigned priv, uint64_t *paddr)
{
    const RiscvCpuState *s = &cpu->s;
    unsigned mode = s->satp >> 60;
    unsigned levels, va_bits;
    bool sum = s->mstatus & MSTATUS_SUM;
    bool mxr = s->mstatus & MSTATUS_MXR;

    if (priv == RISCV_PRIV_M || mode == 0) {
        *paddr = vaddr;
        return 0;
    }
    levels = mode == 8 ? 3 : mode == 9 ? 4 : 5;
    va_bits = 12 + 9 * levels;
    if ((uint64_t)((int64_t)(vaddr << (64 - va_bits)) >> (64 - va_bits)) !=
        vaddr) {
        return page_fault_cause(acc);
    }

restart:;
    uint64_t base = (s->satp & PPN_MASK) << RV_PAGE_BITS;

    for (int level = levels - 1; level >= 0; level--) {
        unsigned shift = RV_PAGE_BITS + 9 * level;
        uint64_t pte_addr = base + ((vaddr >> shift) & 511) * 8;
        RvRamRegion *r;
        uint64_t *ptep;
        uint64_t pte, need, mask;

        if (!pmp_access_ok(s, pte_addr, 8, RV_ACC_READ, RISCV_PRIV_S)) {
            return access_fault_cause(acc);
        }
        r = riscv_bus_find_ram(cpu->bus, pte_addr);
        if (!r) {
            return access_fault_cause(acc);
        }
        ptep = (uint64_t *)(r->host + (pte_addr - r->base));
        pte = __atomic_load_n(ptep, __ATOMIC_ACQUIRE);

        if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)) ||
            (pte >> 54) != 0) {
            return page_fault_cause(acc);
        }
        if (!(pte & (PTE_R | PTE_X))) {
            if (level == 0) {
                return page_fault_cause(acc);
            }
            base = ((pte >> 10) & PPN_MASK) << RV_PAGE_BITS;
            continue;
        }

        /* Leaf: permissions. */
        if (priv == RISCV_PRIV_U && !(pte & PTE_U)) {
            return page_fault_cause(acc);
        }
        /* The reserved privilege 2 (MPRV, MPP = 2): U pages with SUM. */
        if (priv == 2 && (!(pte & PTE_U) || !sum)) {
            return page_fault_cause(acc);
        }
        if (priv == RISCV_PRIV_S && (pte & PTE_U) &&
            (acc == RV_ACC_EXEC || !sum)) {
            return page_fault_cause(acc);
        }
        switch (acc) {
        case RV_ACC_READ:
            if (!(pte & PTE_R) && !(mxr && (pte & PTE_X))) {
                return page_fault_cause(acc);
            }
            break;
        case RV_ACC_WRITE:
            if (!(pte & PTE_W)) {
                return page_fault_cause(acc);
            }
            break;
        default:
            if (!(pte & PTE_X)) {
                return page_fault_cause(acc);
            }
            break;
        }
        /* Misaligned superpage. */
        mask = (1ull << (9 * level)) - 1;
        if ((pte >> 10) & mask) {
            return page_fault_cause(acc);
        }
        /* Hardware A/D update, atomic with respect to the PTE. */
        need = PTE_A | (acc == RV_ACC_WRITE ? PTE_D : 0);
        if ((pte & need) != need) {
            if (!pmp_access_ok(s, pte_addr, 8, RV_ACC_WRITE,
                               RISCV_PRIV_S) ||
                (r->flags & RISCV_RAM_READONLY)) {
                return access_fault_cause(acc);
            }
            if (!__atomic_compare_exchange_n(ptep, &pte, pte | need, false,
                                             __ATOMIC_SEQ_CST,
                                             __ATOMIC_SEQ_CST)) {
                goto restart;
            }
        }
        mask = (1ull << shift) - 1;
        *paddr = ((((pte >> 10) & PPN_MASK) << RV_PAGE_BITS) & ~mask) |
                 (vaddr & mask);
        return 0;
    }
    return page_fault_cause(acc);
}

/* ---- TLB fill ---- */

RvTlbEntry *riscv_tlb_fill(RiscvCpu *cpu, uint64_t vaddr, RvAccess acc)
{
    unsigned priv = acc == RV_ACC_EXEC ? cpu->s.priv : rv_data_priv(cpu);
    RvTlbSet *set = acc == RV_ACC_EXEC ? cpu->itlb : cpu->dtlb;
    RvTlbEntry *table = acc == RV_ACC_READ ? set->read :
                        acc == RV_ACC_WRITE ? set->write : set->exec;
    RvTlbEntry *e = rv_tlb_entry(table, vaddr);
    uint64_t paddr, ppage, cause;
    unsigned set_idx = (unsigned)(set - cpu->tlb);
    uint64_t flags = 0;
    RvRamRegion *r;
    int pmp;

    cause = translate(cpu, vaddr, acc, priv, &paddr);
    if (cause) {
        cpu->fault_cause = cause;
        cpu->fault_tval = vaddr;
        return NULL;
    }
    ppage = paddr & RV_PAGE_MASK;
    pmp = pmp_check(&cpu->s, ppage, RV_PAGE_SIZE, acc, priv);
    if (pmp == PMP_DENY) {
        cpu->fault_cause = access_fault_cause(acc);
        cpu->fault_tval = vaddr;
        return NULL;
    }
    if (pmp == PMP_PARTIAL) {
        flags |= TLB_SLOW;
    }
    r = riscv_bus_find_ram(cpu->bus, ppage);
    if (!r) {
        flags |= TLB_MMIO;
        e->addend = 0;
    } else {
        e->addend = (uintptr_t)(r->host + (ppage - r->base)) -
                    (uintptr_t)(vaddr & RV_PAGE_MASK);
        if (acc == RV_ACC_WRITE &&
            ((r->flags & RISCV_RAM_READONLY) ||
             r->code_pages[(ppage - r->base) >> RV_PAGE_BITS])) {
            flags |= TLB_SLOW;
        }
    }
    e->paddr = ppage;
    e->tag = (vaddr & RV_PAGE_MASK) | flags;
    cpu->tlb_used |= 1u << set_idx;
    return e;
}

/*
 * Prepares an access of size bytes within one page: translation, PMP,
 * watched pages.  On success *paddr is set and *host points to RAM, or is
 * NULL for MMIO; *drop is set for stores to ROM.
 */
static bool mmu_prepare(RiscvCpu *cpu, uint64_t vaddr, unsigned size,
                        RvAccess acc, uint64_t *paddr, uint8_t **host,
                        bool *drop)
{
    RvTlbSet *set = acc == RV_ACC_EXEC ? cpu->itlb : cpu->dtlb;
    RvTlbEntry *table = acc == RV_ACC_READ ? set->read :
                        acc == RV_ACC_WRITE ? set->write : set->exec;
    RvTlbEntry *e = rv_tlb_entry(table, vaddr);

    *drop = false;
    if ((e->tag & TLB_INVALID) ||
        (e->tag & RV_PAGE_MASK) != (vaddr & RV_PAGE_MASK)) {
        e = riscv_tlb_fill(cpu, vaddr, acc);
        if (!e) {
            return false;
        }
    }
    *paddr = e->paddr | (vaddr & ~RV_PAGE_MASK);
    *host = (e->tag & TLB_MMIO) ? NULL
                                : (uint8_t *)(uintptr_t)(vaddr + e->addend);
    if (e->tag & TLB_SLOW) {
        unsigned priv = acc == RV_ACC_EXEC ? cpu->s.priv : rv_data_priv(cpu);
        RvRamRegion *r;

        if (!pmp_access_ok(&cpu->s, *paddr, size, acc, priv)) {
            cpu->fault_cause = access_fault_cause(acc);
            cpu->fault_tval = vaddr;
            return false;
        }
        r = *host ? riscv_bus_find_ram(cpu->bus, *paddr) : NULL;
        if (acc == RV_ACC_WRITE && r) {
            if (r->flags & RISCV_RAM_READONLY) {
                *drop = true;
            } else if (r->code_pages[(*paddr - r->base) >> RV_PAGE_BITS]) {
                /* First store to a page with translated code. */
                riscv_bus_invalidate_code(cpu->bus, *paddr);
                e->tag = TLB_INVALID;
            }
        }
    }
    return true;
}

bool riscv_mmu_prepare_fetch(RiscvCpu *cpu, uint64_t vaddr, uint64_t *paddr,
                             uint8_t **host)
{
    bool drop;

    if (!mmu_prepare(cpu, vaddr, 2, RV_ACC_EXEC, paddr, host, &drop)) {
        return false;
    }
    if (!*host) {
        cpu->fault_cause = EXC_INSN_ACCESS;
        cpu->fault_tval = vaddr;
        return false;
    }
    return true;
}

/* ---- Slow loads and stores ---- */

/*
 * A misaligned load that touches MMIO, as QEMU 7.2 does it: the two
 * naturally aligned accesses of the same size that cover it, lowest
 * first, each a normal load (RAM or a device access of that size), and
 * the bytes wanted taken from both.  A fault reports the piece's address.
 */
static bool load_split(RiscvCpu *cpu, uint64_t vaddr, unsigned size,
                       uint64_t *val)
{
    uint64_t lo = vaddr & ~(uint64_t)(size - 1);
    unsigned shift = (unsigned)(vaddr - lo) * 8;
    uint64_t v1, v2;

    if (!rv_load(cpu, lo, size, &v1) || !rv_load(cpu, lo + size, size, &v2)) {
        return false;
    }
    *val = (v1 >> shift) | (v2 << (size * 8 - shift));
    if (size < 8) {
        *val &= (1ull << (8 * size)) - 1;
    }
    return true;
}

/*
 * Writes the bytes of a misaligned store that touches MMIO one at a time,
 * lowest first, as QEMU 7.2 does (both pages are already translated):
 * each byte to RAM or as a 1-byte device write; a device fault stops
 * there, reporting that byte's address.
 */
static bool store_bytes(RiscvCpu *cpu, uint64_t vaddr, unsigned size,
                        uint64_t val, unsigned n1, uint64_t pa1, uint8_t *h1,
                        bool drop1, uint64_t pa2, uint8_t *h2, bool drop2)
{
    for (unsigned i = 0; i < size; i++) {
        bool first = i < n1;
        uint8_t *h = first ? h1 : h2;
        uint64_t pa = first ? pa1 + i : pa2 + (i - n1);
        uint64_t b = (val >> (8 * i)) & 0xff;

        if (h) {
            if (!(first ? drop1 : drop2)) {
                h[first ? i : i - n1] = (uint8_t)b;
            }
        } else if (!riscv_mmio_access(cpu, vaddr + i, pa, 1, &b, true)) {
            return false;
        }
    }
    return true;
}

bool riscv_load_slow(RiscvCpu *cpu, uint64_t vaddr, unsigned size,
                     uint64_t *val)
{
    unsigned off = vaddr & ~RV_PAGE_MASK;
    unsigned n1 = MIN(size, RV_PAGE_SIZE - off);
    uint64_t pa1, pa2;
    uint8_t *h1, *h2 = NULL;
    uint8_t buf[8];
    bool drop;

    if (!mmu_prepare(cpu, vaddr, n1, RV_ACC_READ, &pa1, &h1, &drop)) {
        return false;
    }
    if (n1 < size &&
        !mmu_prepare(cpu, vaddr + n1, size - n1, RV_ACC_READ, &pa2, &h2,
                     &drop)) {
        return false;
    }
    if (!(vaddr & (size - 1))) {
        if (!h1) {
            return riscv_mmio_access(cpu, vaddr, pa1, size, val, false);
        }
        memcpy(buf, h1, size);
    } else {
        /* Misaligned: emulated in RAM, split for MMIO. */
        if (!h1 || (n1 < size && !h2)) {
            return load_split(cpu, vaddr, size, val);
        }
        memcpy(buf, h1, n1);
        if (n1 < size) {
            memcpy(buf + n1, h2, size - n1);
        }
    }
    *val = 0;
    memcpy(val, buf, size);
    return true;
}

bool riscv_store_slow(RiscvCpu *cpu, uint64_t vaddr, unsigned size,
                      uint64_t val)
{
    unsigned off = vaddr & ~RV_PAGE_MASK;
    unsigned n1 = MIN(size, RV_PAGE_SIZE - off);
    uint64_t pa1, pa2;
    uint8_t *h1, *h2 = NULL;
    bool drop1, drop2 = false;
    uint8_t buf[8];

    if (!mmu_prepare(cpu, vaddr, n1, RV_ACC_WRITE, &pa1, &h1, &drop1)) {
        return false;
    }
    if (n1 < size &&
        !mmu_prepare(cpu, vaddr + n1, size - n1, RV_ACC_WRITE, &pa2, &h2,
                     &drop2)) {
        return false;
    }
    memcpy(buf, &val, 8);
    if (!(vaddr & (size - 1))) {
        if (!h1) {
            return riscv_mmio_access(cpu, vaddr, pa1, size, &val, true);
        }
        if (!drop1) {
            memcpy(h1, buf, size);
        }
        return true;
    }
    if (!h1 || (n1 < size && !h2)) {
        return store_bytes(cpu, vaddr, size, val, n1, pa1, h1, drop1, pa2, h2,
                           drop2);
    }
    if (!drop1) {
        memcpy(h1, buf, n1);
    }
    if (n1 < size && !drop2) {
        memcpy(h2, buf + n1, size - n1);
    }
    return true;
}

bool riscv_atomic_prepare(RiscvCpu *cpu, uint64_t vaddr, unsigned size,
                          bool is_write, void **host, uint64_t *paddr)
{
    uint8_t *h;
    bool drop;

    if (!mmu_prepare(cpu, vaddr, size,
                     is_write ? RV_ACC_WRITE : RV_ACC_READ, paddr, &h,
                     &drop)) {
        return false;
    }
    if (drop) {
        /* Atomics on ROM fault rather than silently doing nothing. */
        cpu->fault_cause = EXC_STORE_ACCESS;
        cpu->fault_tval = vaddr;
        return false;
    }
    *host = h;
    return true;
}
