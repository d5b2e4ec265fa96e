/*
 * Private state of the qcow2 checker, shared by its files:
 *   qcow2-check.c         entry point, image loading, L1/L2 walk,
 *                         reference counting, comparison, OFLAG_COPIED
 *   qcow2-check-refs.c    on-disk refcount access and the in-memory
 *                         refcount table (imrt), refcount rebuild
 *   qcow2-check-meta.c    snapshot table and bitmap directory
 */
#ifndef QX_BLOCK_QCOW2_CHECK_INT_H
#define QX_BLOCK_QCOW2_CHECK_INT_H

#include "qcow2-check.h"
#include "qcow2-format.h"

/* Refblocks kept in memory at once (direct-mapped by offset). */
#define QCOW2_CHECK_CACHE_SLOTS 32
/* QEMU's bounds for snapshot tables. */
#define QCOW2_SNAPSHOT_HEADER_BYTES 40
#define QCOW2_MAX_SNAPSHOT_EXTRA_DATA 1024
#define QCOW2_MAX_SNAPSHOTS_SIZE (64ull * 1024 * 1024)
/* Refcount table entries (no flags; bits 0-8 reserved). */
#define QCOW2_REFT_OFFSET_MASK 0xfffffffffffffe00ull
#define QCOW2_REFT_RESERVED_MASK 0x1ffull

typedef struct Qcow2CheckSnap {
    uint64_t l1_offset;
    uint32_t l1_size;
    char *id;
    char *name;
} Qcow2CheckSnap;

typedef struct Qcow2CheckSlot {
    uint64_t offset; /* refblock offset; 0: empty */
    uint8_t *data;
} Qcow2CheckSlot;

typedef struct Qcow2Check {
    BlockChild *file;
    BlockCheckResult *res;
    unsigned fix;

    Qcow2Header h;
    uint32_t cluster_bits;
    uint64_t cluster_size;
    uint32_t refcount_order;
    uint64_t refcount_max;
    uint32_t refblock_bits;    /* log2 of entries per refblock */
    uint32_t l2_entries;       /* entries per L2 table */
    uint32_t l2_entry_bytes;   /* 8, or 16 with extended L2 */
    bool ext_l2;
    bool has_data_file;
    int64_t file_size;         /* current length of the file */

    uint64_t *reftable;        /* host-endian copy */
    uint64_t reftable_entries;
    uint64_t reftable_offset;
    uint64_t *l1;              /* host-endian copy of the active L1 */
    uint32_t l1_size;
    uint64_t l1_offset;

    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    uint64_t snapshots_size;
    Qcow2CheckSnap *snaps;

    uint8_t *imrt;             /* reference counts computed from metadata */
    int64_t imrt_entries;
    Qcow2CheckSlot cache[QCOW2_CHECK_CACHE_SLOTS];
    bool signalled_corruption;
} Qcow2Check;

static inline uint64_t qcow2c_offset_into_cluster(const Qcow2Check *c,
                                                  uint64_t offset)
{
    return offset & (c->cluster_size - 1);
}

static inline int64_t qcow2c_size_to_clusters(const Qcow2Check *c,
                                              uint64_t size)
{
    return (int64_t)((size + c->cluster_size - 1) >> c->cluster_bits);
}

/* --- qcow2-check-refs.c --- */

/* Refcount of cluster as stored in the image (0 past the table); -errno. */
int qcow2c_get_refcount_co(Qcow2Check *c, int64_t cluster, uint64_t *value);
/* Stores a new refcount for cluster into its existing refblock. */
int qcow2c_set_refcount_co(Qcow2Check *c, int64_t cluster, uint64_t value);
/* Drops all cached refblocks (after the refcount table changed). */
void qcow2c_cache_clear(Qcow2Check *c);

uint64_t qcow2c_imrt_get(const Qcow2Check *c, int64_t cluster);
void qcow2c_imrt_set(Qcow2Check *c, int64_t cluster, uint64_t value);
/* Grows (or sets up) the imrt to new_entries, zero-filled; -ENOMEM. */
int qcow2c_imrt_resize(Qcow2Check *c, int64_t new_entries);
/*
 * Counts one more reference to every cluster of [offset, offset + size),
 * reporting regions past the end of the file and refcount overflows as
 * corruptions.  -errno only for failures of the check itself.
 */
int qcow2c_inc_refcounts(Qcow2Check *c, uint64_t offset, uint64_t size);
/*
 * Writes a fresh refcount structure (refblocks, then the table at a free
 * place, then the header pointer) from the imrt, and makes it current.
 */
int qcow2c_rebuild_refcounts_co(Qcow2Check *c, Error **errp);
/* Reads the refcount table named by the header (c->reftable*). */
int qcow2c_load_reftable_co(Qcow2Check *c, uint64_t offset,
                            uint64_t entries);

/* --- qcow2-check-meta.c --- */

/*
 * Reads the snapshot table named by the image header (QEMU's check-mode
 * reading: errors count as check errors and fail the check).
 */
int qcow2c_read_snapshots_co(Qcow2Check *c);
void qcow2c_free_snapshots(Qcow2Check *c);
/* Counts the bitmap directory and bitmap tables' clusters. */
int qcow2c_check_bitmaps_co(Qcow2Check *c);

#endif
