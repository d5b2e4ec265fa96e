/*
 * Private definitions of the RISC-V hart: the RiscvCpu object, pre-decoded
 * ops and translation blocks, the soft-TLB, and the calls between the
 * decode, execute, CSR, trap and MMU files.
 */
#ifndef QX_EMU_RISCV_INTERNAL_H
#define QX_EMU_RISCV_INTERNAL_H

#include <glib.h>
#include <stdatomic.h>
#include <string.h>

#include "qx/emu/riscv-cpu.h"

#define RV_PAGE_BITS 12
#define RV_PAGE_SIZE (1ull << RV_PAGE_BITS)
#define RV_PAGE_MASK (~(RV_PAGE_SIZE - 1))

/* mstatus fields. */
#define MSTATUS_SIE   (1ull << 1)
#define MSTATUS_MIE   (1ull << 3)
#define MSTATUS_SPIE  (1ull << 5)
#define MSTATUS_UBE   (1ull << 6)
#define MSTATUS_MPIE  (1ull << 7)
#define MSTATUS_SPP   (1ull << 8)
#define MSTATUS_VS    (3ull << 9)
#define MSTATUS_MPP_SHIFT 11
#define MSTATUS_MPP   (3ull << 11)
#define MSTATUS_FS    (3ull << 13)
#define MSTATUS_FS_DIRTY (3ull << 13)
#define MSTATUS_XS    (3ull << 15)
#define MSTATUS_MPRV  (1ull << 17)
#define MSTATUS_SUM   (1ull << 18)
#define MSTATUS_MXR   (1ull << 19)
#define MSTATUS_TVM   (1ull << 20)
#define MSTATUS_TW    (1ull << 21)
#define MSTATUS_TSR   (1ull << 22)
#define MSTATUS_UXL   (3ull << 32)
#define MSTATUS_SXL   (3ull << 34)
#define MSTATUS_SD    (1ull << 63)

/* Exception causes. */
enum {
    EXC_INSN_MISALIGNED = 0,
    EXC_INSN_ACCESS = 1,
    EXC_ILLEGAL_INSN = 2,
    EXC_BREAKPOINT = 3,
    EXC_LOAD_MISALIGNED = 4,
    EXC_LOAD_ACCESS = 5,
    EXC_STORE_MISALIGNED = 6,
    EXC_STORE_ACCESS = 7,
    EXC_ECALL_U = 8,
    EXC_ECALL_S = 9,
    EXC_ECALL_M = 11,
    EXC_INSN_PAGE_FAULT = 12,
    EXC_LOAD_PAGE_FAULT = 13,
    EXC_STORE_PAGE_FAULT = 15,
};

#define CAUSE_INTERRUPT (1ull << 63)

/* Kinds of memory access. */
typedef enum RvAccess {
    RV_ACC_READ = 0,
    RV_ACC_WRITE = 1,
    RV_ACC_EXEC = 2,
} RvAccess;

/*
 * Soft-TLB entry.  tag is the virtual page address, or has one of the
 * TLB_* bits below set, so that the fast-path compare
 *     (vaddr & (RV_PAGE_MASK | (size - 1))) == tag
 * fails for misaligned accesses, invalid entries and pages that need the
 * slow path.  For RAM, host = vaddr + addend.
 */
#define TLB_INVALID  (1ull << 11)  /* empty entry */
#define TLB_MMIO     (1ull << 10)  /* paddr is not RAM: use the callbacks */
#define TLB_SLOW     (1ull << 9)   /* check every access (PMP, code, ROM) */
#define TLB_FLAGS    (TLB_INVALID | TLB_MMIO | TLB_SLOW)

typedef struct RvTlbEntry {
    uint64_t tag;
    uintptr_t addend;
    uint64_t paddr;               /* physical page address */
} RvTlbEntry;

#define TLB_BITS 8
#define TLB_SIZE (1u << TLB_BITS)

/*
 * Data TLB sets by effective privilege: U, S, S with SUM, M, and the
 * reserved privilege 2 that MPRV with MPP = 2 gives data accesses (with
 * and without SUM; see rv_data_priv()).
 */
enum { MMU_IDX_U = 0, MMU_IDX_S = 1, MMU_IDX_S_SUM = 2, MMU_IDX_M = 3,
       MMU_IDX_P2 = 4, MMU_IDX_P2_SUM = 5, MMU_IDX_COUNT = 6 };

typedef struct RvTlbSet {
    RvTlbEntry read[TLB_SIZE];
    RvTlbEntry write[TLB_SIZE];
    RvTlbEntry exec[TLB_SIZE];
} RvTlbSet;

/* One pre-decoded instruction. */
typedef struct RvOp RvOp;
typedef const RvOp *(*RvOpFn)(RiscvCpu *cpu, const RvOp *op);

struct RvOp {
    RvOpFn fn;
    int64_t imm;
    uint8_t rd, rs1, rs2, rs3;   /* rd == 0 is mapped to 32 (sink) */
    uint8_t rm;                  /* FP rounding mode, AMO aq/rl, ... */
    uint8_t len;                 /* 2 or 4 */
    uint16_t pc_off;             /* offset of the insn from the TB's pc */
    uint32_t insn;               /* raw bits, for mtval */
    uint32_t aux;                /* CSR number, shift amount, ... */
};

/* Longest block: ops are appended up to this many instructions. */
#define TB_MAX_INSNS 64

/*
 * A translation block: the instructions from paddr to the first block end
 * (branch, jump, system instruction, page end, TB_MAX_INSNS), never
 * crossing a page.  ops[ninsns] may be a synthetic "continue at next pc"
 * op that is not an instruction.
 */
typedef struct RvTb RvTb;
struct RvTb {
    uint64_t paddr;
    RvTb *hash_next;
    RvTb *page_next;             /* TBs of the same physical page */
    RvTb *zombie_next;
    uint32_t ninsns;
    uint32_t nops;
    bool invalid;
    RvOp ops[];
};

#define TB_HASH_BITS 14
#define JMP_CACHE_BITS 10

typedef struct RvJmpCacheEntry {
    uint64_t vpc;                /* ~0 when empty */
    uint64_t priv;
    RvTb *tb;
} RvJmpCacheEntry;

typedef struct RvRamRegion {
    uint64_t base;
    uint64_t size;
    uint8_t *host;
    unsigned flags;
    uint8_t *code_pages;         /* per page: TBs exist for it */
} RvRamRegion;

#define RV_MAX_RAM 16
#define RV_MAX_HARTS 64

struct RiscvBus {
    const RiscvBusOps *ops;
    void *opaque;
    RvRamRegion ram[RV_MAX_RAM];
    unsigned nram;
    RiscvCpu *harts[RV_MAX_HARTS];
    unsigned nharts;
};

struct RiscvCpu {
    RiscvCpuState s;
    RiscvBus *bus;

    /* Lines raised by the board (MEIP/SEIP/MTIP/MSIP); atomic. */
    _Atomic uint64_t irq_lines;
    atomic_bool exit_request;

    /* Current data TLB set and exec TLB set (derived from s). */
    RvTlbSet *dtlb;
    RvTlbSet *itlb;
    RvTlbSet tlb[MMU_IDX_COUNT];
    unsigned tlb_used;           /* bit per set: filled since the flush */

    /* Block being executed (for precise exceptions). */
    uint64_t tb_pc;
    const RvOp *tb_ops;
    bool tb_exited_early;        /* an exception ended the block */
    uint32_t tb_insns_done;      /* retired insns when it did */
    uint32_t tb_accounted;       /* insns already added to the counters */
    bool wfi_exit;

    /* Fault produced by the MMU / slow paths, taken by riscv_op_fault(). */
    uint64_t fault_cause;
    uint64_t fault_tval;

    /* Translation-block cache. */
    RvTb *tb_hash[1u << TB_HASH_BITS];
    RvJmpCacheEntry jmp_cache[1u << JMP_CACHE_BITS];
    GHashTable *tb_pages;        /* phys page number -> RvTb list */
    RvTb *zombies;               /* invalidated, freed between blocks */
    unsigned tb_count;
    bool tb_flush_pending;
    /* Uncached block for an instruction that crosses a page boundary. */
    RvTb *cross_tb;

    /*
     * The rest of the LR reservation (s.res_valid says whether there is
     * one): the virtual address and the value lr loaded (sign-extended).
     * As in QEMU 7.2, sc succeeds if its address is res_vaddr and memory
     * still holds res_value (compare-and-swap).
     */
    uint64_t res_vaddr;
    uint64_t res_value;

    uint64_t insn_count;
};

/* ---- Register helpers ---- */

#define X(r) (cpu->s.x[(r)])

/*
 * Continues with the next op of the block as a tail call ("threaded"
 * dispatch: no return to the run loop between ops).  A block has at most
 * TB_MAX_INSNS + 1 ops, so the stack stays bounded even where the
 * compiler does not turn this into a jump.
 */
#define RV_NEXT(cpu, op) ((op)[1].fn((cpu), (op) + 1))

static inline uint64_t rv_op_pc(const RiscvCpu *cpu, const RvOp *op)
{
    return cpu->tb_pc + op->pc_off;
}

static inline uint64_t rv_sext32(uint64_t v)
{
    return (uint64_t)(int64_t)(int32_t)v;
}

/* ---- trap.c ---- */

/* Takes an exception or interrupt: updates CSRs, priv and pc. */
void riscv_trap_take(RiscvCpu *cpu, uint64_t cause, uint64_t tval);
/* Takes the highest-priority enabled pending interrupt, if any. */
bool riscv_trap_check_interrupts(RiscvCpu *cpu);
/* mip as software sees it (software bits | board lines). */
uint64_t riscv_read_mip(RiscvCpu *cpu);
/* Recomputes dtlb/itlb after a change of priv, MPRV, MPP or SUM. */
void riscv_update_mmu_idx(RiscvCpu *cpu);

/*
 * Ends the current block with an exception raised by op: pc is set to the
 * op's pc, the instructions before it retire, the trap is taken.  Returns
 * NULL so handlers can "return riscv_op_raise(...)".
 */
const RvOp *riscv_op_raise(RiscvCpu *cpu, const RvOp *op, uint64_t cause,
                           uint64_t tval);
/* Same with the cause/tval left in cpu->fault_* by the MMU. */
const RvOp *riscv_op_fault(RiscvCpu *cpu, const RvOp *op);
const RvOp *riscv_op_illegal(RiscvCpu *cpu, const RvOp *op);

/* Adds n retired instructions to the counters (honours mcountinhibit). */
static inline void rv_retire(RiscvCpu *cpu, uint64_t n)
{
    cpu->insn_count += n;
    if (!(cpu->s.mcountinhibit & 1)) {
        cpu->s.mcycle += n;
    }
    if (!(cpu->s.mcountinhibit & 4)) {
        cpu->s.minstret += n;
    }
}

/* ---- csr.c ---- */

/*
 * Reads/writes a CSR for an instruction at the current privilege, with
 * the WARL rules and side effects of the register.  Return false if the
 * access is illegal (the caller raises an illegal-instruction exception).
 * riscv_csr_is_writable() tells whether the number is a read-only CSR.
 */
bool riscv_csr_read(RiscvCpu *cpu, unsigned csr, uint64_t *val);
bool riscv_csr_write(RiscvCpu *cpu, unsigned csr, uint64_t val);
bool riscv_csr_is_writable(RiscvCpu *cpu, unsigned csr);
void riscv_set_mstatus(RiscvCpu *cpu, uint64_t val);
/* Clears what no CSR write could set in medeleg/mideleg/mie/mip. */
void riscv_csr_sanitise(RiscvCpu *cpu);

/* ---- mmu.c ---- */

/* Drops every TLB entry and the jump cache. */
void riscv_tlb_flush(RiscvCpu *cpu);
/* Drops write TLB entries that map physical page ppage. */
void riscv_tlb_flush_write_page(RiscvCpu *cpu, uint64_t ppage);

/*
 * Translates vaddr for an access of the given kind and fills the matching
 * TLB entry.  Returns the entry, or NULL with cpu->fault_* set.
 */
RvTlbEntry *riscv_tlb_fill(RiscvCpu *cpu, uint64_t vaddr, RvAccess acc);

/*
 * Slow paths of loads and stores (misaligned, MMIO, TLB miss, watched
 * pages).  Return false with cpu->fault_* set on an exception.
 */
bool riscv_load_slow(RiscvCpu *cpu, uint64_t vaddr, unsigned size,
                     uint64_t *val);
bool riscv_store_slow(RiscvCpu *cpu, uint64_t vaddr, unsigned size,
                      uint64_t val);
/*
 * For atomics: translates an aligned access for writing (is_write) or
 * reading and returns the host pointer of RAM, or NULL with *paddr set for
 * MMIO.  Returns false with cpu->fault_* set on an exception.
 */
bool riscv_atomic_prepare(RiscvCpu *cpu, uint64_t vaddr, unsigned size,
                          bool is_write, void **host, uint64_t *paddr);
/* MMIO access; on a device fault sets an access fault with tval vaddr. */
bool riscv_mmio_access(RiscvCpu *cpu, uint64_t vaddr, uint64_t paddr,
                       unsigned size, uint64_t *val, bool is_write);

/*
 * Translates pc for instruction fetch; RAM only (else an instruction
 * access fault).  Returns false with cpu->fault_* set.
 */
bool riscv_mmu_prepare_fetch(RiscvCpu *cpu, uint64_t vaddr, uint64_t *paddr,
                             uint8_t **host);

/* Finds the RAM region holding paddr, or NULL. */
RvRamRegion *riscv_bus_find_ram(RiscvBus *bus, uint64_t paddr);
/* Marks a physical page as holding TBs; write-protects it in all TLBs. */
void riscv_bus_mark_code(RiscvBus *bus, uint64_t paddr);
/* Drops all TBs of the physical page of paddr in all harts. */
void riscv_bus_invalidate_code(RiscvBus *bus, uint64_t paddr);

/* ---- tb.c ---- */

void riscv_tb_init(RiscvCpu *cpu);
void riscv_tb_destroy(RiscvCpu *cpu);
/*
 * Finds or creates the block at cpu->s.pc (jump cache, then the physical
 * hash).  On a fetch fault the trap is taken and NULL returned.
 */
RvTb *riscv_tb_lookup(RiscvCpu *cpu);
void riscv_tb_invalidate_page(RiscvCpu *cpu, uint64_t ppage);
void riscv_tb_flush_all(RiscvCpu *cpu);
/* Frees invalidated blocks; only between blocks. */
void riscv_tb_reap(RiscvCpu *cpu);

/* Jump-cache hit for the current pc, or the full lookup. */
static inline RvTb *rv_tb_find(RiscvCpu *cpu)
{
    uint64_t pc = cpu->s.pc;
    RvJmpCacheEntry *jc =
        &cpu->jmp_cache[(pc >> 1) & ((1u << JMP_CACHE_BITS) - 1)];

    if (G_LIKELY(jc->vpc == pc && jc->priv == cpu->s.priv)) {
        return jc->tb;
    }
    return riscv_tb_lookup(cpu);
}

/* ---- decode.c ---- */

/*
 * Decodes one instruction (insn; 16-bit ones in the low half) into op.
 * Returns true if the instruction ends a block.
 */
bool riscv_decode(uint32_t insn, RvOp *op);
/* The synthetic block end: pc = tb_pc + op->pc_off. */
const RvOp *riscv_op_goto_next(RiscvCpu *cpu, const RvOp *op);

/* ---- op handler prototypes (exec-*.c) ---- */

#define RV_OP(name) \
    const RvOp *riscv_op_##name(RiscvCpu *cpu, const RvOp *op)
#include "ops.h"
#undef RV_OP

/* ---- Fast memory access ---- */

static inline RvTlbEntry *rv_tlb_entry(RvTlbEntry *table, uint64_t vaddr)
{
    return &table[(vaddr >> RV_PAGE_BITS) & (TLB_SIZE - 1)];
}

/* Fast-path host pointer for a load, or NULL. */
static inline void *rv_host_read(RiscvCpu *cpu, uint64_t vaddr,
                                 unsigned size)
{
    RvTlbEntry *e = rv_tlb_entry(cpu->dtlb->read, vaddr);

    if (G_LIKELY((vaddr & (RV_PAGE_MASK | (size - 1))) == e->tag)) {
        return (void *)(uintptr_t)(vaddr + e->addend);
    }
    return NULL;
}

static inline void *rv_host_write(RiscvCpu *cpu, uint64_t vaddr,
                                  unsigned size)
{
    RvTlbEntry *e = rv_tlb_entry(cpu->dtlb->write, vaddr);

    if (G_LIKELY((vaddr & (RV_PAGE_MASK | (size - 1))) == e->tag)) {
        return (void *)(uintptr_t)(vaddr + e->addend);
    }
    return NULL;
}

static inline bool rv_load(RiscvCpu *cpu, uint64_t vaddr, unsigned size,
                           uint64_t *val)
{
    void *h = rv_host_read(cpu, vaddr, size);

    if (G_LIKELY(h != NULL)) {
        switch (size) {
        case 1: *val = *(uint8_t *)h; return true;
        case 2: { uint16_t v; memcpy(&v, h, 2); *val = v; return true; }
        case 4: { uint32_t v; memcpy(&v, h, 4); *val = v; return true; }
        default: memcpy(val, h, 8); return true;
        }
    }
    return riscv_load_slow(cpu, vaddr, size, val);
}

static inline bool rv_store(RiscvCpu *cpu, uint64_t vaddr, unsigned size,
                            uint64_t val)
{
    void *h = rv_host_write(cpu, vaddr, size);

    if (G_LIKELY(h != NULL)) {
        switch (size) {
        case 1: *(uint8_t *)h = (uint8_t)val; return true;
        case 2: { uint16_t v = (uint16_t)val; memcpy(h, &v, 2); return true; }
        case 4: { uint32_t v = (uint32_t)val; memcpy(h, &v, 4); return true; }
        default: memcpy(h, &val, 8); return true;
        }
    }
    return riscv_store_slow(cpu, vaddr, size, val);
}

/*
 * Effective privilege of data accesses (MPRV).  With the reserved MPP = 2
 * this is 2, which translates as QEMU 7.2 does: only U pages, and only
 * with SUM; PMP applies as below M.
 */
static inline unsigned rv_data_priv(const RiscvCpu *cpu)
{
    if (cpu->s.priv == RISCV_PRIV_M && (cpu->s.mstatus & MSTATUS_MPRV)) {
        return (cpu->s.mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT;
    }
    return cpu->s.priv;
}

/* satp MODEs that are implemented: Bare, Sv39, Sv48, Sv57. */
static inline bool riscv_satp_mode_ok(unsigned mode)
{
    return mode == 0 || mode == 8 || mode == 9 || mode == 10;
}

/* ---- FP helpers (exec-fp.c, csr.c) ---- */

static inline bool rv_fs_off(const RiscvCpu *cpu)
{
    return (cpu->s.mstatus & MSTATUS_FS) == 0;
}

static inline void rv_fs_dirty(RiscvCpu *cpu)
{
    cpu->s.mstatus |= MSTATUS_FS_DIRTY | MSTATUS_SD;
}

#endif
