/*
 * Page-table helpers of the ISA test programs (Sv39 and Sv48): a pool of
 * page-table pages, mapping of 4 KiB / 2 MiB / 1 GiB leaves, access to
 * leaf PTEs, and the base layout every paging test uses: RAM identity
 * mapped by a 1 GiB RWX leaf (not U), and the same RAM again at
 * U_ALIAS with the U bit, so that U-mode code can run.
 */
#ifndef VM_H
#define VM_H

#include "isa.h"

#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_G (1ull << 5)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)
#define PTE_RWX (PTE_R | PTE_W | PTE_X)
#define PTE_AD (PTE_A | PTE_D)

#define SATP_SV39 (8ull << 60)
#define SATP_SV48 (9ull << 60)

#define PAGE_4K 0x1000ull
#define PAGE_2M 0x200000ull
#define PAGE_1G 0x40000000ull

#define RAM_BASE 0x80000000ull
#define U_ALIAS 0x100000000ull              /* RAM again, with U set */
#define U_OFF (U_ALIAS - RAM_BASE)

#define PT_POOL_PAGES 32

static u64 pt_pool[PT_POOL_PAGES][512] __attribute__((aligned(4096)));
static int pt_used;
static int pt_levels = 3;

static inline u64 *pt_alloc(void)
{
    u64 *p;

    if (pt_used == PT_POOL_PAGES) {
        show("pt_pool.exhausted", pt_used);
        finish(4);
    }
    p = pt_pool[pt_used++];
    for (int i = 0; i < 512; i++) {
        p[i] = 0;
    }
    return p;
}

/*
 * The PTE slot for va at the level whose pages are size bytes, creating
 * intermediate tables as needed.
 */
static inline volatile u64 *pt_slot(u64 *root, u64 va, u64 size)
{
    u64 *table = root;
    int leaf_level = size == PAGE_4K ? 0 : size == PAGE_2M ? 1 : 2;

    for (int level = pt_levels - 1; level > leaf_level; level--) {
        u64 idx = (va >> (12 + 9 * level)) & 511;

        if (!(table[idx] & PTE_V)) {
            u64 *next = pt_alloc();

            table[idx] = (((u64)next >> 12) << 10) | PTE_V;
        }
        table = (u64 *)((table[idx] >> 10) << 12);
    }
    return &table[(va >> (12 + 9 * leaf_level)) & 511];
}

static inline void pt_map(u64 *root, u64 va, u64 pa, u64 size, u64 flags)
{
    *pt_slot(root, va, size) = ((pa >> 12) << 10) | flags;
}

static inline void sfence_all(void)
{
    __asm__ volatile("sfence.vma" ::: "memory");
}

/* A fresh root with the base layout; levels 3 (Sv39) or 4 (Sv48). */
static inline u64 *vm_setup(int levels)
{
    u64 *root;

    pt_used = 0;
    pt_levels = levels;
    root = pt_alloc();
    pt_map(root, RAM_BASE, RAM_BASE, PAGE_1G, PTE_V | PTE_RWX | PTE_AD);
    pt_map(root, U_ALIAS, RAM_BASE, PAGE_1G,
           PTE_V | PTE_RWX | PTE_U | PTE_AD);
    return root;
}

static inline void vm_on(u64 *root)
{
    CSR_WRITE(satp, (pt_levels == 4 ? SATP_SV48 : SATP_SV39) |
              ((u64)root >> 12));
    sfence_all();
}

static inline void vm_off(void)
{
    CSR_WRITE(satp, 0);
    sfence_all();
}

#endif
