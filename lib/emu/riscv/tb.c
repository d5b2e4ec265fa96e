/*
 * Translation-block cache: blocks keyed by the physical address of their
 * first instruction, found through a per-hart jump cache (virtual pc and
 * privilege) and a hash table, with per-page lists for invalidation when
 * code is written.
 */
#include "internal.h"

/* Flush the cache when it holds more blocks than this. */
#define TB_MAX_COUNT 32768

static inline unsigned tb_hash(uint64_t paddr)
{
    return (unsigned)((paddr >> 1) * 0x9e3779b97f4a7c15ull >>
                      (64 - TB_HASH_BITS));
}

static inline RvJmpCacheEntry *jc_entry(RiscvCpu *cpu, uint64_t vpc)
{
    return &cpu->jmp_cache[(vpc >> 1) & ((1u << JMP_CACHE_BITS) - 1)];
}

static void jmp_cache_flush(RiscvCpu *cpu)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(cpu->jmp_cache); i++) {
        cpu->jmp_cache[i].vpc = ~0ull;
    }
}

void riscv_tb_init(RiscvCpu *cpu)
{
    cpu->tb_pages = g_hash_table_new(g_direct_hash, g_direct_equal);
    cpu->cross_tb = g_malloc0(sizeof(RvTb) + 2 * sizeof(RvOp));
    jmp_cache_flush(cpu);
}

static void tb_free_list(RvTb *tb)
{
    while (tb) {
        RvTb *next = tb->zombie_next;

        g_free(tb);
        tb = next;
    }
}

void riscv_tb_reap(RiscvCpu *cpu)
{
    tb_free_list(cpu->zombies);
    cpu->zombies = NULL;
    if (cpu->tb_flush_pending) {
        cpu->tb_flush_pending = false;
        riscv_tb_flush_all(cpu);
    }
}

void riscv_tb_flush_all(RiscvCpu *cpu)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(cpu->tb_hash); i++) {
        RvTb *tb = cpu->tb_hash[i];

        while (tb) {
            RvTb *next = tb->hash_next;

            tb->zombie_next = cpu->zombies;
            cpu->zombies = tb;
            tb = next;
        }
        cpu->tb_hash[i] = NULL;
    }
    g_hash_table_remove_all(cpu->tb_pages);
    cpu->tb_count = 0;
    jmp_cache_flush(cpu);
}

void riscv_tb_destroy(RiscvCpu *cpu)
{
    riscv_tb_flush_all(cpu);
    tb_free_list(cpu->zombies);
    cpu->zombies = NULL;
    g_hash_table_destroy(cpu->tb_pages);
    g_free(cpu->cross_tb);
}

void riscv_tb_invalidate_page(RiscvCpu *cpu, uint64_t ppage)
{
    gpointer key = GSIZE_TO_POINTER(ppage);
    RvTb *tb = g_hash_table_lookup(cpu->tb_pages, key);

    if (!tb) {
        return;
    }
    g_hash_table_remove(cpu->tb_pages, key);
    while (tb) {
        RvTb *next = tb->page_next;
        RvTb **pp = &cpu->tb_hash[tb_hash(tb->paddr)];

        while (*pp != tb) {
            pp = &(*pp)->hash_next;
        }
        *pp = tb->hash_next;
        /* The block may be executing: free it between blocks. */
        tb->invalid = true;
        tb->zombie_next = cpu->zombies;
        cpu->zombies = tb;
        cpu->tb_count--;
        tb = next;
    }
    jmp_cache_flush(cpu);
}

/* Decodes the block starting at host[off] (physical address paddr). */
static RvTb *tb_create(RiscvCpu *cpu, uint64_t paddr, const uint8_t *page,
                       unsigned start)
{
    RvOp ops[TB_MAX_INSNS + 1];
    unsigned off = start, n = 0;
    bool ended = false;
    RvTb *tb, **bucket;
    gpointer key;

    while (n < TB_MAX_INSNS && off < RV_PAGE_SIZE) {
        uint16_t lo;
        uint32_t insn;

        memcpy(&lo, page + off, 2);
        insn = lo;
        if ((lo & 3) == 3) {
            uint16_t hi;

            if (off + 4 > RV_PAGE_SIZE) {
                break;           /* crosses the page: a block of its own */
            }
            memcpy(&hi, page + off + 2, 2);
            insn |= (uint32_t)hi << 16;
        }
        ended = riscv_decode(insn, &ops[n]);
        ops[n].pc_off = (uint16_t)(off - start);
        off += ops[n].len;
        n++;
        if (ended) {
            break;
        }
    }
    tb = g_malloc(sizeof(RvTb) + (n + 1) * sizeof(RvOp));
    memcpy(tb->ops, ops, n * sizeof(RvOp));
    tb->ninsns = n;
    tb->nops = n;
    if (!ended) {
        RvOp *end = &tb->ops[n];

        memset(end, 0, sizeof(*end));
        end->fn = riscv_op_goto_next;
        end->pc_off = (uint16_t)(off - start);
        tb->nops++;
    }
    tb->paddr = paddr;
    tb->invalid = false;
    tb->zombie_next = NULL;

    bucket = &cpu->tb_hash[tb_hash(paddr)];
    tb->hash_next = *bucket;
    *bucket = tb;
    key = GSIZE_TO_POINTER(paddr >> RV_PAGE_BITS);
    tb->page_next = g_hash_table_lookup(cpu->tb_pages, key);
    g_hash_table_insert(cpu->tb_pages, key, tb);
    cpu->tb_count++;
    if (cpu->tb_count > TB_MAX_COUNT) {
        cpu->tb_flush_pending = true;
    }
    riscv_bus_mark_code(cpu->bus, paddr);
    return tb;
}

/* An instruction that straddles two pages: decoded every time. */
static RvTb *tb_cross(RiscvCpu *cpu, const uint8_t *host)
{
    uint64_t pc = cpu->s.pc;
    uint64_t pa2;
    uint8_t *h2;
    uint16_t lo, hi;
    RvTb *tb = cpu->cross_tb;

    if (!riscv_mmu_prepare_fetch(cpu, pc + 2, &pa2, &h2)) {
        return NULL;
    }
    memcpy(&lo, host, 2);
    memcpy(&hi, h2, 2);
    if (!riscv_decode(lo | (uint32_t)hi << 16, &tb->ops[0])) {
        RvOp *end = &tb->ops[1];

        memset(end, 0, sizeof(*end));
        end->fn = riscv_op_goto_next;
        end->pc_off = 4;
    }
    tb->ops[0].pc_off = 0;
    tb->ninsns = 1;
    return tb;
}

RvTb *riscv_tb_lookup(RiscvCpu *cpu)
{
    uint64_t pc = cpu->s.pc;
    RvJmpCacheEntry *jc = jc_entry(cpu, pc);
    uint64_t paddr;
    uint8_t *host;
    RvTb *tb;

    if (G_LIKELY(jc->vpc == pc && jc->priv == cpu->s.priv)) {
        return jc->tb;
    }
    if (!riscv_mmu_prepare_fetch(cpu, pc, &paddr, &host)) {
        riscv_trap_take(cpu, cpu->fault_cause, cpu->fault_tval);
        return NULL;
    }
    if ((pc & ~RV_PAGE_MASK) == RV_PAGE_SIZE - 2 && (host[0] & 3) == 3) {
        tb = tb_cross(cpu, host);
        if (!tb) {
            riscv_trap_take(cpu, cpu->fault_cause, cpu->fault_tval);
        }
        return tb;
    }
    for (tb = cpu->tb_hash[tb_hash(paddr)]; tb; tb = tb->hash_next) {
        if (tb->paddr == paddr) {
            break;
        }
    }
    if (!tb) {
        tb = tb_create(cpu, paddr, host - (pc & ~RV_PAGE_MASK),
                       pc & ~RV_PAGE_MASK);
    }
    jc->vpc = pc;
    jc->priv = cpu->s.priv;
    jc->tb = tb;
    return tb;
}
