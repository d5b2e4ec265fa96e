/*
 * qcow2 driver state and the functions its files share.  Private to
 * lib/block/qcow2; the on-disk format itself lives in qcow2-format.h.
 *
 * Locking: every metadata access (L1, L2 tables, refcounts, the caches,
 * the header) happens with s->lock held.  Reads and writes into clusters
 * that are already ours drop it during data I/O (counted in
 * data_io_in_flight; freeing a data cluster waits for that count to
 * drop to zero); allocating writes keep it until the L2 entry is updated
 * so that two writers never allocate the same guest cluster twice.
 *
 * Ordering on disk (crash consistency): a refcount increment reaches the
 * file (and is flushed) before any L2 table that references the cluster;
 * guest data is written before the L2 entry pointing to it; a new L2
 * table is written and flushed before the L1 entry that points to it; a
 * new refcount block is flushed before the refcount table entry for it;
 * an L2 update that drops a reference is flushed before the refcount
 * decrement (a crash leaks the cluster rather than reusing it).
 */
#ifndef QX_BLOCK_QCOW2_INT_H
#define QX_BLOCK_QCOW2_INT_H

#include <assert.h>
#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <string.h>

#include "../internal.h"
#include "qcow2-format.h"

/* ---- Table cache (qcow2-cache.c) ---------------------------------------- */

typedef struct Qcow2CacheEntry {
    uint64_t offset;   /* host offset of the table; 0 = free slot */
    uint8_t *table;    /* one cluster */
    uint64_t lru;      /* last use stamp */
    int ref;           /* users holding the table */
    bool dirty;
} Qcow2CacheEntry;

typedef struct Qcow2Cache Qcow2Cache;
struct Qcow2Cache {
    Qcow2CacheEntry *entries;
    int size;
    GHashTable *index;        /* host offset -> slot + 1 */
    GHashTable *by_table;     /* table buffer -> slot + 1 */
    uint64_t lru_counter;
    /* Written back (and the file flushed) before this cache's tables. */
    Qcow2Cache *depends;
    bool depends_on_flush;    /* file flush needed before writing back */
    Qcow2MetadataKind kind;   /* for overlap checks */
};

typedef struct Qcow2State Qcow2State;

/* ---- Driver state ------------------------------------------------------ */

struct Qcow2State {
    Qcow2Header hdr;
    uint32_t cluster_bits;
    uint64_t cluster_size;
    uint32_t l2_bits;         /* log2 of entries per L2 table */
    uint64_t l2_size;         /* entries per L2 table */
    uint32_t l2_entry_size;   /* 8, or 16 with extended L2 entries */
    bool extl2;
    uint64_t subcluster_size;
    uint32_t subcluster_bits;

    uint64_t *l1;             /* host-endian copy of the active L1 */
    uint32_t l1_size;
    uint64_t l1_offset;

    uint64_t *reftable;       /* host-endian copy */
    uint64_t reftable_size;   /* entries */
    uint64_t reftable_offset;
    uint32_t refcount_order;
    uint32_t refblock_bits;   /* log2 of refcounts per block */
    uint64_t refcount_max;

    Qcow2Cache *l2_cache;
    Qcow2Cache *rb_cache;
    uint64_t free_cluster_index;
    uint64_t free_byte_offset; /* compressed data: next free byte */

    uint64_t size;            /* guest size */
    uint32_t version;
    uint64_t incompat;
    uint64_t compat;
    uint64_t autoclear;
    uint8_t compression_type;

    Qcow2MetadataMap metamap;
    CoMutex lock;
    /* Data I/O to our host clusters running without the lock. */
    unsigned data_io_in_flight;
    CoQueue data_io_queue;      /* frees waiting for it to drain */
    bool broken;              /* marked corrupt: every request fails */
    bool signaled_corruption; /* the corruption message was printed */
    bool dirty_marked;        /* lazy refcounts: dirty bit set by us */
    bool prealloc_checked;    /* metadata_prealloc was worked out */
    bool metadata_prealloc;   /* more clusters refcounted than stored */
    uint64_t l2_cache_bytes;  /* runtime options (0: default) */
    uint64_t rb_cache_bytes;
};

/* ---- qcow2.c ------------------------------------------------------------ */

/*
 * Marks the image corrupt: prints QEMU's "Marking image as corrupt"
 * message (or the "not marking" one for read-only nodes), sets the corrupt
 * bit in the header and makes every further request fail.  Returns -EIO
 * for convenience.
 */
int qcow2_signal_corruption(BlockNode *node, int64_t offset, int64_t size,
                            const char *fmt, ...) G_GNUC_PRINTF(4, 5);
/* Writes the incompatible feature bits of the header (8 bytes). */
int qcow2_write_incompat(BlockNode *node, uint64_t incompat);
/* True if the cluster-sized table at offset lies inside the image file. */
bool qcow2_metadata_in_file(BlockNode *node, uint64_t offset);

/* ---- qcow2-cache.c ------------------------------------------------------ */

Qcow2Cache *qcow2_cache_new(int size, Qcow2MetadataKind kind);
void qcow2_cache_free(Qcow2Cache *c);
/*
 * Reads (or finds) the table at offset; holds it until put.  Returns 1
 * when the table was just read from the file (callers validate it), 0
 * when it was cached, or -errno.
 */
int qcow2_cache_get(BlockNode *node, Qcow2Cache *c, uint64_t offset,
                    uint8_t **table);
/* Like get, for a new table: not read, filled with zeroes. */
int qcow2_cache_get_empty(BlockNode *node, Qcow2Cache *c, uint64_t offset,
                          uint8_t **table);
void qcow2_cache_put(Qcow2Cache *c, uint8_t **table);
void qcow2_cache_mark_dirty(Qcow2Cache *c, const uint8_t *table);
/* Writes every dirty table back (dependencies first). */
int qcow2_cache_write(BlockNode *node, Qcow2Cache *c);
/* Forgets the table at offset (freed cluster), without writing it. */
void qcow2_cache_discard(Qcow2Cache *c, uint64_t offset);
void qcow2_cache_set_dependency(Qcow2Cache *c, Qcow2Cache *dep);

/* ---- qcow2-refcount.c -------------------------------------------------- */

int qcow2_refcount_init(BlockNode *node, Error **errp);
void qcow2_refcount_close(BlockNode *node);
/* Refcount of one cluster (by cluster index) into *rc. */
int qcow2_get_refcount(BlockNode *node, uint64_t cluster, uint64_t *rc);
/* Allocates n contiguous clusters (refcount 1); returns host offset. */
int64_t qcow2_alloc_clusters(BlockNode *node, uint64_t bytes);
/* Allocates bytes (<= cluster) for compressed data; returns host offset. */
int64_t qcow2_alloc_bytes(BlockNode *node, uint64_t bytes);
/* Adds addend to the refcount of every cluster of [offset, offset+len). */
int qcow2_update_refcount(BlockNode *node, uint64_t offset, uint64_t len,
                          int64_t addend);
/*
 * A freshly allocated metadata area must not overlap metadata we know of
 * (only possible with corrupt refcounts): marks the image corrupt.
 */
int qcow2_check_new_metadata(BlockNode *node, uint64_t offset, uint64_t len,
                             const char *what);
/* Drops one reference on each cluster of [offset, offset + len). */
int qcow2_free_clusters(BlockNode *node, uint64_t offset, uint64_t len);
/* Drops the references an L2 entry holds. */
int qcow2_free_entry(BlockNode *node, const Qcow2L2Entry *e);
/*
 * Drops the references of n old L2 entries after making the L2 tables
 * that no longer hold them stable (write back + flush).
 */
int qcow2_free_entries(BlockNode *node, const Qcow2L2Entry *es, size_t n);

/* ---- qcow2-cluster.c --------------------------------------------------- */

/* Guest offset of the cluster containing guest offset */
static inline uint64_t qcow2_start_of_cluster(Qcow2State *s, uint64_t o)
{
    return o & ~(s->cluster_size - 1);
}

static inline uint64_t qcow2_offset_into_cluster(Qcow2State *s, uint64_t o)
{
    return o & (s->cluster_size - 1);
}

/*
 * The L2 entry of guest offset: decoded into *e (UNALLOCATED when the L2
 * table does not exist).  Marks the image corrupt on invalid metadata.
 */
int qcow2_get_entry(BlockNode *node, uint64_t guest, Qcow2L2Entry *e);
/*
 * Gets the L2 table for guest offset, allocating it (and growing nothing
 * else) when alloc; *table is held in the L2 cache, *index is the entry
 * index in it.  Returns 0, -ENOENT when !alloc and there is none.
 */
int qcow2_get_l2_table(BlockNode *node, uint64_t guest, bool alloc,
                       uint8_t **table, uint64_t *index);
/* Reads / writes entry index of a held L2 table. */
void qcow2_l2_read(Qcow2State *s, const uint8_t *table, uint64_t index,
                   uint64_t *entry, uint64_t *bitmap);
void qcow2_l2_write(Qcow2State *s, uint8_t *table, uint64_t index,
                    uint64_t entry, uint64_t bitmap);
/* Decodes (and validates) an entry read from a table. */
int qcow2_decode_entry(BlockNode *node, uint64_t guest, uint64_t entry,
                       uint64_t bitmap, Qcow2L2Entry *e);
/* Grows the L1 table to hold at least min_size entries. */
int qcow2_grow_l1(BlockNode *node, uint64_t min_size);
/* Number of L1 entries needed for a guest size. */
uint64_t qcow2_size_to_l1(Qcow2State *s, uint64_t size);

/* ---- qcow2-rw.c -------------------------------------------------------- */

int qcow2_co_preadv(BlockNode *node, int64_t offset, int64_t bytes,
                    BlockIOVec *qiov, size_t qiov_offset,
                    BlockReqFlags flags);
int qcow2_co_pwritev(BlockNode *node, int64_t offset, int64_t bytes,
                     BlockIOVec *qiov, size_t qiov_offset,
                     BlockReqFlags flags);
int qcow2_co_pwrite_zeroes(BlockNode *node, int64_t offset, int64_t bytes,
                           BlockReqFlags flags);
int qcow2_co_pdiscard(BlockNode *node, int64_t offset, int64_t bytes);
int qcow2_co_block_status(BlockNode *node, bool want_zero, int64_t offset,
                          int64_t bytes, int64_t *pnum, int64_t *map,
                          BlockNode **file);
int qcow2_co_flush(BlockNode *node);
int qcow2_co_truncate(BlockNode *node, int64_t offset, bool exact,
                      BlockPreallocMode prealloc, BlockReqFlags flags,
                      Error **errp);
/* Ends one unlocked data I/O (wakes waiting frees at zero). */
void qcow2_data_io_end(Qcow2State *s);
/*
 * Waits (lock held, released meanwhile) until no unlocked data I/O runs,
 * so that a cluster being freed is not read or written any more.
 */
void qcow2_wait_data_io(Qcow2State *s);
/* Writes back the caches (lock held). */
int qcow2_flush_caches_locked(BlockNode *node);
/* Writes the guest size into the header. */
int qcow2_write_size(BlockNode *node, uint64_t size);
/* Sets the dirty bit before the first write of a lazy-refcounts image. */
int qcow2_mark_dirty(BlockNode *node);
int qcow2_mark_clean(BlockNode *node);

/* ---- qcow2-compress.c -------------------------------------------------- */

/*
 * Reads the compressed cluster described by e and decompresses it into
 * buf (one cluster), on the graph's thread pool.
 */
int qcow2_read_compressed(BlockNode *node, const Qcow2L2Entry *e,
                          uint8_t *buf);
/*
 * BLOCK_REQ_WRITE_COMPRESSED writes: whole clusters (the last one of the
 * image may be partial), compressed on the graph's thread pool.
 */
int qcow2_co_pwritev_compressed(BlockNode *node, int64_t offset,
                                int64_t bytes, BlockIOVec *qiov,
                                size_t qiov_offset);

/* ---- qcow2-create.c / qcow2-info.c -------------------------------------- */

extern const BlockOptDesc qcow2_create_opts[];
int qcow2_co_create(BlockGraph *graph, const char *filename,
                    BlockCreateOpts *opts, Error **errp);
int qcow2_get_info(BlockNode *node, BlockDriverInfo *bdi);
json_object *qcow2_get_specific_info(BlockNode *node, Error **errp);

#endif
