/*
 * Initial layout of a new qcow2 image, byte-identical to QEMU 7.2's
 * `qemu-img create`.
 *
 * QEMU does not compute a layout: it writes a minimal image (header, one
 * refcount table cluster, one refcount block), opens it and lets its normal
 * allocator place the L1 table, further refcount blocks (growing the
 * refcount table when needed) and, for preallocation=metadata, L2 tables
 * and data clusters.  To produce the same bytes we replay the observable
 * behaviour of that allocator on an in-memory model:
 *
 * - allocation scans for free clusters from a moving "free cluster index"
 *   that only moves back when a refcount drops to zero;
 * - taking a reference on a cluster whose refcount block does not exist
 *   yet allocates that block first (self-describing if it covers itself),
 *   hooks it into the table and restarts the whole allocation, undoing the
 *   references already taken;
 * - when the table itself is full, a new, larger table plus the blocks
 *   covering it are placed after the area the existing blocks describe,
 *   and the old table is freed (its stale bytes stay in the file).
 *
 * Tables that are only ever written in place (header, L1, L2, refcount
 * blocks) are emitted once, with their final contents, after everything
 * else; refcount table writes are recorded in order because a freed table
 * cluster can be reused.
 */
#include <string.h>

#include "qcow2-format.h"

#define SECTOR_SIZE 512
/* Largest request QEMU's block layer issues (INT_MAX aligned down) */
#define REQUEST_MAX_BYTES 0x7ffffe00ull

typedef struct Sim {
    uint32_t cluster_bits;
    uint64_t cs;
    uint32_t refcount_order;
    uint32_t rb_bits;          /* log2 of refcounts per block */
    bool extl2;

    GArray *writes;            /* Qcow2Write, in order */
    uint64_t file_end;         /* end of everything written so far */

    uint64_t *rt;              /* refcount table, host order */
    uint64_t rt_size;          /* entries */
    uint64_t rt_offset;
    uint64_t max_rt_index;
    GHashTable *blocks;        /* offset -> g_malloc'd cluster (refblocks) */
    uint64_t free_index;

    uint64_t *l1;
    uint64_t l1_size;
    uint64_t l1_offset;
    GHashTable *l2s;           /* offset -> g_malloc'd cluster (L2 tables) */
    GArray *l2_order;          /* offsets of L2 tables, allocation order */
} Sim;

static void sim_write(Sim *s, uint64_t offset, const void *data, uint64_t len)
{
    Qcow2Write w = {
        .offset = offset,
        .len = len,
        .data = g_memdup2(data, len),
    };

    g_array_append_val(s->writes, w);
    s->file_end = MAX(s->file_end, offset + len);
}

static uint8_t *sim_block(Sim *s, uint64_t offset)
{
    return g_hash_table_lookup(s->blocks, &offset);
}

static uint8_t *sim_new_block(Sim *s, uint64_t offset)
{
    uint64_t *key = g_new(uint64_t, 1);
    uint8_t *b = g_malloc0(s->cs);

    *key = offset;
    g_hash_table_replace(s->blocks, key, b);
    /* the block is flushed to disk right away; only its length matters */
    s->file_end = MAX(s->file_end, offset + s->cs);
    return b;
}

static uint64_t sim_get_refcount(Sim *s, uint64_t index)
{
    uint64_t rti = index >> s->rb_bits;
    uint8_t *b;

    if (rti >= s->rt_size || !s->rt[rti]) {
        return 0;
    }
    b = sim_block(s, s->rt[rti]);
    g_assert(b);
    return qcow2_refcount_get(b, index & ((1ull << s->rb_bits) - 1),
                              s->refcount_order);
}

/* Reserves n free clusters without taking references; returns offset. */
static uint64_t sim_alloc_noref(Sim *s, uint64_t n)
{
retry:
    for (uint64_t i = 0; i < n; i++) {
        if (sim_get_refcount(s, s->free_index++) != 0) {
            goto retry;
        }
    }
    return (s->free_index - n) << s->cluster_bits;
}

static void sim_update_max_rt_index(Sim *s)
{
    uint64_t i = s->rt_size - 1;

    while (i > 0 && !s->rt[i]) {
        i--;
    }
    s->max_rt_index = i;
}

static int sim_update_refcount(Sim *s, uint64_t offset, uint64_t length,
                               bool decrease);

/* Sizes the refcount structures for clusters (QEMU's fixed point). */
static uint64_t refcount_metadata_blocks(Sim *s, uint64_t clusters,
                                         bool generous)
{
    uint64_t per_table_cluster = s->cs / 8;
    uint64_t per_block = 1ull << s->rb_bits;
    uint64_t table = 0, blocks = 0, n = 0, last;

    do {
        last = n;
        blocks = (clusters + table + blocks + per_block - 1) / per_block;
        table = (blocks + per_table_cluster - 1) / per_table_cluster;
        n = clusters + blocks + table;
        if (n == last && generous) {
            clusters += (table + 1) / 2;
            n = 0;
            generous = false;
        }
    } while (n != last);
    return blocks;
}

/*
 * Builds a larger refcount table at start_offset, preceded by the blocks
 * needed to describe everything up to its end, then frees the old table.
 */
static void sim_refcount_area(Sim *s, uint64_t start_offset,
                              uint64_t new_index, uint64_t new_block)
{
    uint64_t total = refcount_metadata_blocks(s, start_offset / s->cs, true);
    uint64_t per_block = 1ull << s->rb_bits;
    uint64_t area_index = (start_offset / s->cs) / per_block;
    uint64_t entries_per_cluster = s->cs / 8;
    uint64_t table_size, table_clusters, extra = 0;
    uint64_t table_offset, end_offset, block_offset;
    uint64_t old_offset, old_size;
    uint64_t *table;
    g_autofree uint8_t *raw = NULL;

    table_size = total + (total + 1) / 2;
    table_size = (table_size + entries_per_cluster - 1) /
                 entries_per_cluster * entries_per_cluster;
    table_clusters = table_size * 8 / s->cs;

    table = g_new0(uint64_t, table_size);
    if (table_size > s->max_rt_index) {
        memcpy(table, s->rt, (s->max_rt_index + 1) * 8);
    } else {
        memcpy(table, s->rt, table_size * 8);
    }
    table[new_index] = new_block;

    for (uint64_t i = area_index; i < total; i++) {
        if (!table[i]) {
            extra++;
        }
    }
    table_offset = start_offset + extra * s->cs;
    end_offset = table_offset + table_clusters * s->cs;

    block_offset = start_offset;
    for (uint64_t i = area_index; i < total; i++) {
        uint64_t first;
        uint8_t *b;

        if (table[i]) {
            b = sim_block(s, table[i]);
            g_assert(b);
        } else {
            b = sim_new_block(s, block_offset);
            table[i] = block_offset;
            block_offset += s->cs;
        }
        first = i * per_block * s->cs;
        if (first < end_offset) {
            uint64_t j = 0, end;

            if (first < start_offset) {
                j = (start_offset - first) / s->cs;
            }
            end = MIN((end_offset - first) / s->cs, per_block);
            for (; j < end; j++) {
                qcow2_refcount_set(b, j, s->refcount_order, 1);
            }
        }
    }

    raw = g_malloc0(table_size * 8);
    for (uint64_t i = 0; i < table_size; i++) {
        qcow2_put_be64(raw + i * 8, table[i]);
    }
    sim_write(s, table_offset, raw, table_size * 8);

    old_offset = s->rt_offset;
    old_size = s->rt_size;
    g_free(s->rt);
    s->rt = table;
    s->rt_size = table_size;
    s->rt_offset = table_offset;
    sim_update_max_rt_index(s);

    sim_update_refcount(s, old_offset, old_size * 8, true);
}

/*
 * Makes sure the refcount block covering cluster index exists.  Returns 0
 * if it did, -EAGAIN after creating it (the caller restarts its
 * allocation, as the new block may sit where it meant to allocate).
 */
static int sim_alloc_refcount_block(Sim *s, uint64_t index)
{
    uint64_t rti = index >> s->rb_bits;
    uint64_t new_block, blocks_used;
    int ret;

    if (rti < s->rt_size && s->rt[rti]) {
        return 0;
    }

    new_block = sim_alloc_noref(s, 1);
    if (((new_block >> s->cluster_bits) >> s->rb_bits) == rti) {
        uint8_t *b = sim_new_block(s, new_block);

        qcow2_refcount_set(b, (new_block >> s->cluster_bits) &
                              ((1ull << s->rb_bits) - 1),
                           s->refcount_order, 1);
    } else {
        ret = sim_update_refcount(s, new_block, s->cs, false);
        if (ret < 0) {
            return ret;
        }
        sim_new_block(s, new_block);
    }

    if (rti < s->rt_size) {
        uint8_t be[8];

        s->rt[rti] = new_block;
        qcow2_put_be64(be, new_block);
        sim_write(s, s->rt_offset + rti * 8, be, 8);
        s->max_rt_index = MAX(s->max_rt_index, rti);
        return -EAGAIN;
    }

    blocks_used = (MAX(index + 1, (new_block >> s->cluster_bits) + 1) +
                   (1ull << s->rb_bits) - 1) >> s->rb_bits;
    sim_refcount_area(s, (blocks_used << s->rb_bits) * s->cs, rti,
                      new_block);
    return -EAGAIN;
}

static int sim_update_refcount(Sim *s, uint64_t offset, uint64_t length,
                               bool decrease)
{
    uint64_t start, last, cur;
    int ret = 0;

    if (length == 0) {
        return 0;
    }
    start = offset & ~(s->cs - 1);
    last = (offset + length - 1) & ~(s->cs - 1);
    for (cur = start; cur <= last; cur += s->cs) {
        uint64_t index = cur >> s->cluster_bits;
        uint64_t rc;
        uint8_t *b;

        ret = sim_alloc_refcount_block(s, index);
        if (ret < 0) {
            break;
        }
        b = sim_block(s, s->rt[index >> s->rb_bits]);
        rc = qcow2_refcount_get(b, index & ((1ull << s->rb_bits) - 1),
                                s->refcount_order);
        rc = decrease ? rc - 1 : rc + 1;
        if (rc == 0 && index < s->free_index) {
            s->free_index = index;
        }
        qcow2_refcount_set(b, index & ((1ull << s->rb_bits) - 1),
                           s->refcount_order, rc);
    }
    if (ret < 0) {
        /* undo the references taken so far */
        sim_update_refcount(s, offset, cur - offset, !decrease);
    }
    return ret;
}

static uint64_t sim_alloc_clusters(Sim *s, uint64_t bytes)
{
    uint64_t n = (bytes + s->cs - 1) >> s->cluster_bits;
    uint64_t offset;

    for (;;) {
        offset = sim_alloc_noref(s, n);
        if (sim_update_refcount(s, offset, bytes, false) != -EAGAIN) {
            return offset;
        }
        /*
         * Observed: after a restart QEMU searches again from the start of
         * the failed attempt, even when no reference had been taken yet.
         */
        s->free_index = MIN(s->free_index, offset >> s->cluster_bits);
    }
}

/* Takes references on up to n free clusters at offset; returns how many. */
static uint64_t sim_alloc_clusters_at(Sim *s, uint64_t offset, uint64_t n)
{
    uint64_t i;

    do {
        uint64_t index = offset >> s->cluster_bits;

        for (i = 0; i < n; i++) {
            if (sim_get_refcount(s, index + i) != 0) {
                break;
            }
        }
    } while (sim_update_refcount(s, offset, i << s->cluster_bits, false) ==
             -EAGAIN);
    return i;
}

static uint32_t l2_entry_size(Sim *s)
{
    return s->extl2 ? 16 : 8;
}

static uint64_t l2_entries(Sim *s)
{
    return s->cs / l2_entry_size(s);
}

/* Returns the L2 table mapping guest offset, allocating it if needed. */
static uint8_t *sim_get_l2(Sim *s, uint64_t guest)
{
    uint64_t l1_index = guest / (l2_entries(s) * s->cs);
    uint64_t off = s->l1[l1_index] & QCOW2_L1E_OFFSET_MASK;
    uint64_t *key;
    uint8_t *t;

    if (off) {
        return g_hash_table_lookup(s->l2s, &off);
    }
    off = sim_alloc_clusters(s, s->cs);
    key = g_new(uint64_t, 1);
    *key = off;
    t = g_malloc0(s->cs);
    g_hash_table_replace(s->l2s, key, t);
    g_array_append_val(s->l2_order, off);
    s->file_end = MAX(s->file_end, off + s->cs);
    s->l1[l1_index] = off | QCOW2_OFLAG_COPIED;
    return t;
}

/*
 * One allocation request of preallocation=metadata: maps as much of
 * [guest, guest + *bytes) as fits in one L2 table and one contiguous host
 * run.  Returns the host offset of the first byte and shrinks *bytes.
 */
static uint64_t sim_prealloc_chunk(Sim *s, uint64_t guest, uint64_t *bytes)
{
    uint64_t start = guest, remaining = *bytes, host = UINT64_MAX;
    uint64_t next_host = UINT64_MAX;

    while (remaining) {
        uint64_t in_cluster = start & (s->cs - 1);
        uint64_t l2_index = (start >> s->cluster_bits) & (l2_entries(s) - 1);
        uint64_t n = (in_cluster + remaining + s->cs - 1) >> s->cluster_bits;
        uint64_t alloc, cur;
        uint8_t *t = sim_get_l2(s, start);

        n = MIN(n, l2_entries(s) - l2_index);
        n = MIN(n, REQUEST_MAX_BYTES >> s->cluster_bits);
        if (next_host == UINT64_MAX) {
            alloc = sim_alloc_clusters(s, n << s->cluster_bits);
        } else {
            alloc = next_host & ~(s->cs - 1);
            n = sim_alloc_clusters_at(s, alloc, n);
            if (n == 0) {
                break;
            }
        }
        cur = MIN(remaining, (n << s->cluster_bits) - in_cluster);
        for (uint64_t i = 0; i < n; i++) {
            uint8_t *e = t + (l2_index + i) * l2_entry_size(s);

            qcow2_put_be64(e, (alloc + (i << s->cluster_bits)) |
                              QCOW2_OFLAG_COPIED);
        }
        if (host == UINT64_MAX) {
            host = alloc + in_cluster;
        }
        next_host = alloc + in_cluster + cur;
        start += cur;
        remaining -= cur;
    }
    *bytes -= remaining;
    return host;
}

static uint64_t size_to_l1(uint64_t size, uint32_t cluster_bits, bool extl2)
{
    uint32_t shift = 2 * cluster_bits - (extl2 ? 4 : 3);

    return (size >> shift) + ((size & ((1ull << shift) - 1)) != 0);
}

static bool check_opts(const Qcow2CreateOpts *o, Error **errp)
{
    if (o->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
        o->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        error_setg(errp, "Cluster size must be a power of two between 512 "
                   "and 2048k");
        return false;
    }
    if (o->version != 2 && o->version != 3) {
        error_setg(errp, "Unsupported qcow2 version %u", o->version);
        return false;
    }
    if (o->refcount_order > QCOW2_MAX_REFCOUNT_ORDER) {
        error_setg(errp, "Refcount width must be a power of two and may not "
                   "exceed 64 bits");
        return false;
    }
    if (o->version < 3) {
        if (o->refcount_order != 4) {
            error_setg(errp, "Different refcount widths than 16 bits require "
                       "compatibility level 1.1 or above (use version=v3 or "
                       "greater)");
            return false;
        }
        if (o->lazy_refcounts) {
            error_setg(errp, "Lazy refcounts only supported with "
                       "compatibility level 1.1 and above (use version=v3 "
                       "or greater)");
            return false;
        }
        if (o->extended_l2) {
            error_setg(errp, "Extended L2 entries are only supported with "
                       "compatibility level 1.1 and above (use version=v3 "
                       "or greater)");
            return false;
        }
        if (o->data_file) {
            error_setg(errp, "External data files are only supported with "
                       "compatibility level 1.1 and above (use version=v3 "
                       "or greater)");
            return false;
        }
        if (o->compression_type != QCOW2_COMPRESSION_ZLIB) {
            error_setg(errp, "Non-zlib compression type is only supported "
                       "with compatibility level 1.1 and above (use "
                       "version=v3 or greater)");
            return false;
        }
    }
    if (o->backing_format && !o->backing_file) {
        error_setg(errp, "Backing format cannot be used without backing "
                   "file");
        return false;
    }
    if (o->data_file_raw && !o->data_file) {
        error_setg(errp, "data-file-raw requires data-file");
        return false;
    }
    if (o->extended_l2 && o->cluster_bits < 14) {
        error_setg(errp, "Extended L2 entries are only supported with "
                   "cluster sizes of at least 16384 bytes");
        return false;
    }
    if (o->compression_type > QCOW2_COMPRESSION_ZSTD) {
        error_setg(errp, "qcow2: unknown compression type: %u",
                   o->compression_type);
        return false;
    }
    if (o->data_file && o->prealloc != QCOW2_PREALLOC_OFF) {
        /* the data clusters would go to the data file: not modelled */
        error_setg(errp, "preallocation with an external data file is not "
                   "supported by the layout generator");
        return false;
    }
    return true;
}

static bool build_header(Sim *s, const Qcow2CreateOpts *o, uint64_t size,
                         Error **errp)
{
    Qcow2Header h = { 0 };
    size_t nfeat;
    const Qcow2FeatureName *feat = qcow2_standard_features(&nfeat);
    g_autofree uint8_t *buf = g_malloc0(s->cs);
    bool ok;

    h.version = o->version;
    h.cluster_bits = s->cluster_bits;
    h.size = size;
    h.l1_size = s->l1_size;
    h.l1_table_offset = s->l1_offset;
    h.refcount_table_offset = s->rt_offset;
    h.refcount_table_clusters = s->rt_size * 8 / s->cs;
    h.refcount_order = s->refcount_order;
    if (o->data_file) {
        h.incompatible_features |= QCOW2_INCOMPAT_DATA_FILE;
        h.data_file = (char *)o->data_file;
    }
    if (o->compression_type != QCOW2_COMPRESSION_ZLIB) {
        h.incompatible_features |= QCOW2_INCOMPAT_COMPRESSION;
    }
    if (o->extended_l2) {
        h.incompatible_features |= QCOW2_INCOMPAT_EXTL2;
    }
    if (o->lazy_refcounts) {
        h.compatible_features |= QCOW2_COMPAT_LAZY_REFCOUNTS;
    }
    if (o->data_file_raw) {
        h.autoclear_features |= QCOW2_AUTOCLEAR_DATA_FILE_RAW;
    }
    h.compression_type = o->compression_type;
    h.backing_file = (char *)o->backing_file;
    h.backing_format = (char *)o->backing_format;
    /*
     * QEMU 7.2 leaves the feature name table out of images with clusters
     * smaller than 8 KiB (observed: 512..4k have none, 8k..2M have it).
     */
    if (s->cs >= 8192) {
        h.features = (Qcow2FeatureName *)feat;
        h.nb_features = nfeat;
    }

    /* h borrows every pointer: do not qcow2_header_free() it */
    ok = qcow2_header_serialize(&h, buf, s->cs, errp);
    if (ok) {
        sim_write(s, 0, buf, s->cs);
    }
    return ok;
}

bool qcow2_layout_create(const Qcow2CreateOpts *opts, Qcow2Layout *layout,
                         Error **errp)
{
    Sim sim = { 0 }, *s = &sim;
    uint64_t size, l1_entries, host = 0, chunk = 0;
    g_autofree uint8_t *init = NULL;
    bool ok = false;

    memset(layout, 0, sizeof(*layout));
    if (!check_opts(opts, errp)) {
        return false;
    }
    size = (opts->size + SECTOR_SIZE - 1) & ~(uint64_t)(SECTOR_SIZE - 1);
    if (size < opts->size) {
        error_setg(errp, "The image size is too large for file format "
                   "'qcow2' (try using a larger cluster size)");
        return false;
    }
    l1_entries = size_to_l1(size, opts->cluster_bits, opts->extended_l2);
    if (l1_entries > QCOW2_MAX_L1_BYTES / 8) {
        error_setg(errp, "The image size is too large for file format "
                   "'qcow2' (try using a larger cluster size)");
        return false;
    }

    s->cluster_bits = opts->cluster_bits;
    s->cs = 1ull << opts->cluster_bits;
    s->refcount_order = opts->refcount_order;
    s->rb_bits = opts->cluster_bits + 3 - opts->refcount_order;
    s->extl2 = opts->extended_l2;
    s->writes = g_array_new(false, false, sizeof(Qcow2Write));
    s->blocks = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                      g_free);
    s->l2s = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                   g_free);
    s->l2_order = g_array_new(false, false, sizeof(uint64_t));

    /* The minimal image: header, table at cluster 1, block at cluster 2 */
    init = g_malloc0(3 * s->cs);
    qcow2_put_be64(init + s->cs, 2 * s->cs);
    sim_write(s, 0, init, 3 * s->cs);
    s->rt_offset = s->cs;
    s->rt_size = s->cs / 8;
    s->rt = g_new0(uint64_t, s->rt_size);
    s->rt[0] = 2 * s->cs;
    sim_new_block(s, 2 * s->cs);
    sim_update_max_rt_index(s);

    if (sim_alloc_clusters(s, 3 * s->cs) != 0) {
        error_setg(errp, "qcow2 layout: header clusters not at offset 0");
        goto out;
    }

    /* Growing to the final size allocates the L1 table */
    if (l1_entries) {
        g_autofree uint8_t *zero = g_malloc0(l1_entries * 8);

        s->l1_offset = sim_alloc_clusters(s, l1_entries * 8);
        s->l1_size = l1_entries;
        sim_write(s, s->l1_offset, zero, l1_entries * 8);
    }
    s->l1 = g_new0(uint64_t, MAX(l1_entries, 1));

    if (opts->prealloc == QCOW2_PREALLOC_METADATA) {
        uint64_t guest = 0, left = size;

        while (left) {
            chunk = MIN(left, INT32_MAX & ~(s->cs - 1));
            host = sim_prealloc_chunk(s, guest, &chunk);
            guest += chunk;
            left -= chunk;
        }
    }

    /* Final contents of the in-place tables, then the header */
    for (guint i = 0; i < s->l2_order->len; i++) {
        uint64_t off = g_array_index(s->l2_order, uint64_t, i);

        sim_write(s, off, g_hash_table_lookup(s->l2s, &off), s->cs);
    }
    {
        GHashTableIter it;
        gpointer k, v;
        g_autoptr(GArray) offs = g_array_new(false, false, sizeof(uint64_t));

        g_hash_table_iter_init(&it, s->blocks);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            g_array_append_val(offs, *(uint64_t *)k);
        }
        for (guint i = 0; i < offs->len; i++) {
            uint64_t off = g_array_index(offs, uint64_t, i);

            sim_write(s, off, sim_block(s, off), s->cs);
        }
    }
    if (s->l1_size) {
        g_autofree uint8_t *raw = g_malloc0(s->l1_size * 8);

        for (uint64_t i = 0; i < s->l1_size; i++) {
            qcow2_put_be64(raw + i * 8, s->l1[i]);
        }
        sim_write(s, s->l1_offset, raw, s->l1_size * 8);
    }
    if (!build_header(s, opts, size, errp)) {
        goto out;
    }

    layout->file_length = s->file_end;
    if (opts->prealloc == QCOW2_PREALLOC_METADATA && size) {
        /*
         * A partial last cluster gets its tail copied-on-write (zeroes)
         * up to the end of the cluster, or of the subcluster with
         * extended L2 entries; that write extends the file.
         */
        uint64_t granule = opts->extended_l2 ? s->cs / 32 : s->cs;
        uint64_t end = (host + chunk + granule - 1) & ~(granule - 1);

        layout->file_length = MAX(layout->file_length, end);
    }
    layout->nb_writes = s->writes->len;
    layout->writes = (Qcow2Write *)g_array_free(s->writes, false);
    s->writes = NULL;
    ok = true;

out:
    if (s->writes) {
        Qcow2Layout tmp = {
            .nb_writes = s->writes->len,
            .writes = (Qcow2Write *)g_array_free(s->writes, false),
        };

        qcow2_layout_free(&tmp);
    }
    g_free(s->rt);
    g_free(s->l1);
    g_hash_table_destroy(s->blocks);
    g_hash_table_destroy(s->l2s);
    g_array_free(s->l2_order, true);
    return ok;
}

void qcow2_layout_free(Qcow2Layout *layout)
{
    for (size_t i = 0; i < layout->nb_writes; i++) {
        g_free(layout->writes[i].data);
    }
    g_free(layout->writes);
    memset(layout, 0, sizeof(*layout));
}
