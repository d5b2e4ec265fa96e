/*
 * qcow2 reference counts: the refcount table (kept in memory), refcount
 * blocks (in the refblock cache), cluster allocation and freeing.
 *
 * Allocation scans for free clusters from a moving free-cluster index.
 * A cluster whose refcount block does not exist yet gets the block placed
 * at the first cluster it describes (which is free by definition), then
 * the search restarts; when the refcount table is too small, a larger one
 * is placed with the blocks describing it right after the area the old
 * table covers (free by definition too), the header is switched over and
 * the old table freed.
 */
#include "qcow2-int.h"

#define REFT_OFFSET_MASK 0xfffffffffffffe00ull

static uint64_t refblock_entries(Qcow2State *s)
{
    return 1ull << s->refblock_bits;
}

int qcow2_check_new_metadata(BlockNode *node, uint64_t offset, uint64_t len,
                             const char *what)
{
    Qcow2State *s = node->opaque;
    Qcow2MetadataKind kind = qcow2_metamap_check(&s->metamap, offset, len,
                                                 s->cluster_bits, 0);

    if (kind || offset == 0) {
        return qcow2_signal_corruption(
            node, (int64_t)offset, (int64_t)len,
            "Preventing invalid allocation of %s at offset %#" PRIx64
            " (overlaps with %s)", what, offset,
            kind ? qcow2_metadata_kind_name(kind) : "qcow2_header");
    }
    return 0;
}

int qcow2_refcount_init(BlockNode *node, Error **errp)
{
    Qcow2State *s = node->opaque;
    uint64_t bytes = (uint64_t)s->hdr.refcount_table_clusters
                     << s->cluster_bits;
    g_autofree uint8_t *buf = NULL;
    int ret;

    s->reftable_offset = s->hdr.refcount_table_offset;
    s->reftable_size = bytes / 8;
    s->refcount_order = s->hdr.refcount_order;
    s->refblock_bits = s->cluster_bits + 3 - s->refcount_order;
    s->refcount_max = qcow2_refcount_max(s->refcount_order);
    s->reftable = g_try_new0(uint64_t, MAX(s->reftable_size, 1));
    if (!s->reftable) {
        error_setg(errp, "Could not allocate refcount table");
        return -ENOMEM;
    }
    buf = g_try_malloc(MAX(bytes, 1));
    if (!buf) {
        error_setg(errp, "Could not allocate refcount table");
        return -ENOMEM;
    }
    if (bytes) {
        ret = block_pread_co(node->file, (int64_t)s->reftable_offset,
                             (int64_t)bytes, buf, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not read refcount table");
            return ret;
        }
    }
    qcow2_metamap_add(&s->metamap, QCOW2_OL_REFCOUNT_TABLE,
                      s->reftable_offset, bytes);
    for (uint64_t i = 0; i < s->reftable_size; i++) {
        s->reftable[i] = qcow2_be64(buf + i * 8);
        uint64_t off = s->reftable[i] & REFT_OFFSET_MASK;
        if (off) {
            qcow2_metamap_add(&s->metamap, QCOW2_OL_REFCOUNT_BLOCK, off,
                              s->cluster_size);
        }
    }
    s->rb_cache = qcow2_cache_new(MAX(4, (int)(256 * 1024 /
                                               s->cluster_size)),
                                  QCOW2_OL_REFCOUNT_BLOCK);
    return 0;
}

void qcow2_refcount_close(BlockNode *node)
{
    Qcow2State *s = node->opaque;

    qcow2_cache_free(s->rb_cache);
    s->rb_cache = NULL;
    g_clear_pointer(&s->reftable, g_free);
}

/*
 * Refcount block holding cluster, held in the cache: 0 and *block set,
 * or 0 with *block NULL when the block does not exist.
 */
static int get_refblock(BlockNode *node, uint64_t cluster, uint8_t **block)
{
    Qcow2State *s = node->opaque;
    uint64_t idx = cluster >> s->refblock_bits;
    uint64_t off;
    int ret;

    *block = NULL;
    if (idx >= s->reftable_size) {
        return 0;
    }
    off = s->reftable[idx] & REFT_OFFSET_MASK;
    if (!off) {
        return 0;
    }
    if (off & (s->cluster_size - 1)) {
        return qcow2_signal_corruption(node, (int64_t)off, -1,
                                       "Refblock offset %#" PRIx64
                                       " unaligned (reftable index: %#"
                                       PRIx64 ")", off, idx);
    }
    ret = qcow2_cache_get(node, s->rb_cache, off, block);
    if (ret == 1) {
        /* Just read from the file: validate its place once. */
        Qcow2MetadataKind kind = qcow2_metamap_check(
            &s->metamap, off, s->cluster_size, s->cluster_bits,
            QCOW2_OL_REFCOUNT_BLOCK);
        if (kind || !qcow2_metadata_in_file(node, off)) {
            qcow2_cache_put(s->rb_cache, block);
            qcow2_cache_discard(s->rb_cache, off);
            return qcow2_signal_corruption(
                node, (int64_t)off, (int64_t)s->cluster_size,
                "Refblock at %#" PRIx64 " %s%s (reftable index: %#" PRIx64
                ")", off, kind ? "overlaps with " : "is beyond the end of "
                "the image file", kind ? qcow2_metadata_kind_name(kind) : "",
                idx);
        }
    }
    return ret < 0 ? ret : 0;
}

int qcow2_get_refcount(BlockNode *node, uint64_t cluster, uint64_t *rc)
{
    Qcow2State *s = node->opaque;
    uint8_t *block;
    int ret = get_refblock(node, cluster, &block);

    *rc = 0;
    if (ret < 0) {
        return ret;
    }
    if (block) {
        *rc = qcow2_refcount_get(block,
                                 cluster & (refblock_entries(s) - 1),
                                 s->refcount_order);
        qcow2_cache_put(s->rb_cache, &block);
    }
    return 0;
}

/* Writes entry idx of the refcount table to disk. */
static int write_reftable_entry(BlockNode *node, uint64_t idx)
{
    Qcow2State *s = node->opaque;
    uint8_t buf[8];

    qcow2_put_be64(buf, s->reftable[idx]);
    return block_pwrite_co(node->file, (int64_t)(s->reftable_offset +
                                                 idx * 8),
                           8, buf, 0);
}

/*
 * Replaces the refcount table by one with at least min_idx + 1 entries,
 * placed (with the blocks describing it) at the first cluster the old
 * table cannot describe.
 */
static int grow_reftable(BlockNode *node, uint64_t min_idx)
{
    Qcow2State *s = node->opaque;
    uint64_t cs = s->cluster_size;
    uint64_t per_block = refblock_entries(s);
    uint64_t old_size = s->reftable_size;
    uint64_t old_offset = s->reftable_offset;
    uint64_t new_size, k, m, c0, table_off;
    g_autofree uint8_t *tbuf = NULL;
    g_autofree uint8_t *bbuf = NULL;
    uint8_t hbuf[12];
    uint64_t *new_table;
    int ret;

    new_size = MAX(min_idx + 1, old_size + old_size / 2);
    k = (new_size * 8 + cs - 1) / cs;
    new_size = k * cs / 8;
    if (new_size * 8 > QCOW2_MAX_REFTABLE_BYTES) {
        return -EFBIG;
    }
    for (m = 1; m * per_block < m + k; m++) {
    }
    c0 = old_size * per_block;
    if (c0 + m + k > (1ull << (56 - s->cluster_bits))) {
        return -EFBIG;
    }
    ret = qcow2_check_new_metadata(node, c0 * cs, (m + k) * cs,
                                   "refcount table");
    if (ret < 0) {
        return ret;
    }

    /* The new blocks, each describing its share of the new area. */
    bbuf = g_malloc(cs);
    for (uint64_t j = 0; j < m; j++) {
        uint64_t first = (old_size + j) * per_block;
        memset(bbuf, 0, cs);
        for (uint64_t c = c0; c < c0 + m + k; c++) {
            if (c >= first && c < first + per_block) {
                qcow2_refcount_set(bbuf, c - first, s->refcount_order, 1);
            }
        }
        ret = block_pwrite_co(node->file, (int64_t)((c0 + j) * cs),
                              (int64_t)cs, bbuf, 0);
        if (ret < 0) {
            return ret;
        }
    }

    /* The new table: old entries plus the new blocks. */
    new_table = g_new0(uint64_t, new_size);
    memcpy(new_table, s->reftable, old_size * 8);
    for (uint64_t j = 0; j < m; j++) {
        new_table[old_size + j] = (c0 + j) * cs;
    }
    tbuf = g_malloc0(k * cs);
    for (uint64_t i = 0; i < new_size; i++) {
        qcow2_put_be64(tbuf + i * 8, new_table[i]);
    }
    table_off = (c0 + m) * cs;
    ret = block_pwrite_co(node->file, (int64_t)table_off, (int64_t)(k * cs),
                          tbuf, 0);
    if (ret >= 0) {
        ret = block_flush_co(node->file->node);
    }
    if (ret < 0) {
        g_free(new_table);
        return ret;
    }

    /* Switch the header over, then free the old table. */
    qcow2_put_be64(hbuf, table_off);
    qcow2_put_be32(hbuf + 8, (uint32_t)k);
    ret = block_pwrite_co(node->file, 48, 12, hbuf, 0);
    if (ret >= 0) {
        ret = block_flush_co(node->file->node);
    }
    if (ret < 0) {
        g_free(new_table);
        return ret;
    }
    g_free(s->reftable);
    s->reftable = new_table;
    s->reftable_size = new_size;
    s->reftable_offset = table_off;
    s->hdr.refcount_table_offset = table_off;
    s->hdr.refcount_table_clusters = (uint32_t)k;
    qcow2_metamap_remove(&s->metamap, QCOW2_OL_REFCOUNT_TABLE, old_offset);
    qcow2_metamap_add(&s->metamap, QCOW2_OL_REFCOUNT_TABLE, table_off,
                      k * cs);
    for (uint64_t j = 0; j < m; j++) {
        qcow2_metamap_add(&s->metamap, QCOW2_OL_REFCOUNT_BLOCK,
                          (c0 + j) * cs, cs);
    }
    return qcow2_update_refcount(node, old_offset,
                                 ((old_size * 8 + cs - 1) / cs) * cs, -1);
}

/*
 * Makes sure refcount block idx exists: a missing one is placed on the
 * first cluster it describes, with its own refcount set.
 */
static int ensure_refblock(BlockNode *node, uint64_t idx)
{
    Qcow2State *s = node->opaque;
    uint64_t cs = s->cluster_size;
    uint64_t first = idx << s->refblock_bits;
    uint8_t *block;
    int ret;

    if (idx >= s->reftable_size) {
        ret = grow_reftable(node, idx);
        if (ret < 0) {
            return ret;
        }
    }
    if (s->reftable[idx] & REFT_OFFSET_MASK) {
        return 0;
    }
    if (first >= (1ull << (56 - s->cluster_bits))) {
        return -EFBIG;
    }
    ret = qcow2_check_new_metadata(node, first * cs, cs, "refcount block");
    if (ret < 0) {
        return ret;
    }
    ret = qcow2_cache_get_empty(node, s->rb_cache, first * cs, &block);
    if (ret < 0) {
        return ret;
    }
    qcow2_refcount_set(block, 0, s->refcount_order, 1);
    qcow2_cache_mark_dirty(s->rb_cache, block);
    qcow2_cache_put(s->rb_cache, &block);
    qcow2_metamap_add(&s->metamap, QCOW2_OL_REFCOUNT_BLOCK, first * cs, cs);
    ret = qcow2_cache_write(node, s->rb_cache);
    if (ret >= 0) {
        ret = block_flush_co(node->file->node);
    }
    if (ret < 0) {
        return ret;
    }
    s->reftable[idx] = first * cs;
    return write_reftable_entry(node, idx);
}

int qcow2_update_refcount(BlockNode *node, uint64_t offset, uint64_t len,
                          int64_t addend)
{
    Qcow2State *s = node->opaque;
    uint64_t cs = s->cluster_size;
    uint64_t first, last;

    if (len == 0) {
        return 0;
    }
    first = offset >> s->cluster_bits;
    last = (offset + len - 1) >> s->cluster_bits;
    for (uint64_t c = first; c <= last; c++) {
        uint8_t *block;
        uint64_t idx = c & (refblock_entries(s) - 1);
        uint64_t rc;
        int ret = get_refblock(node, c, &block);

        if (ret < 0) {
            return ret;
        }
        if (!block) {
            if (addend < 0) {
                return qcow2_signal_corruption(
                    node, (int64_t)(c * cs), (int64_t)cs,
                    "Freeing a cluster without refcount block");
            }
            ret = ensure_refblock(node, c >> s->refblock_bits);
            if (ret < 0) {
                return ret;
            }
            c--; /* retry this cluster */
            continue;
        }
        rc = qcow2_refcount_get(block, idx, s->refcount_order);
        if ((addend < 0 && rc < (uint64_t)-addend) ||
            (addend > 0 && s->refcount_max - rc < (uint64_t)addend)) {
            qcow2_cache_put(s->rb_cache, &block);
            return addend < 0
                       ? qcow2_signal_corruption(node, (int64_t)(c * cs),
                                                 (int64_t)cs,
                                                 "Refcount underflow")
                       : -ERANGE;
        }
        rc += addend;
        qcow2_refcount_set(block, idx, s->refcount_order, rc);
        qcow2_cache_mark_dirty(s->rb_cache, block);
        qcow2_cache_put(s->rb_cache, &block);
        if (rc == 0) {
            s->free_cluster_index = MIN(s->free_cluster_index, c);
            qcow2_cache_discard(s->l2_cache, c * cs);
        }
    }
    return 0;
}

/* First run of n free clusters at or after the free-cluster index. */
static int find_free(BlockNode *node, uint64_t n, uint64_t *start)
{
    Qcow2State *s = node->opaque;
    uint64_t c = s->free_cluster_index;
    uint64_t run = 0;
    uint64_t limit = 1ull << (56 - s->cluster_bits);

    while (run < n) {
        uint64_t rc;
        int ret;

        if (c >= limit) {
            return -EFBIG;
        }
        ret = qcow2_get_refcount(node, c, &rc);
        if (ret < 0) {
            return ret;
        }
        run = rc ? 0 : run + 1;
        c++;
    }
    *start = c - n;
    return 0;
}

int64_t qcow2_alloc_clusters(BlockNode *node, uint64_t bytes)
{
    Qcow2State *s = node->opaque;
    uint64_t n = (bytes + s->cluster_size - 1) >> s->cluster_bits;
    uint64_t start;
    int ret;

retry:
    ret = find_free(node, n, &start);
    if (ret < 0) {
        return ret;
    }
    for (uint64_t idx = start >> s->refblock_bits;
         idx <= (start + n - 1) >> s->refblock_bits; idx++) {
        if (idx >= s->reftable_size || !s->reftable[idx]) {
            ret = ensure_refblock(node, idx);
            if (ret < 0) {
                return ret;
            }
            goto retry;
        }
    }
    ret = qcow2_update_refcount(node, start << s->cluster_bits,
                                n << s->cluster_bits, 1);
    if (ret < 0) {
        return ret;
    }
    s->free_cluster_index = start + n;
    return (int64_t)(start << s->cluster_bits);
}

int64_t qcow2_alloc_bytes(BlockNode *node, uint64_t bytes)
{
    Qcow2State *s = node->opaque;
    uint64_t off = s->free_byte_offset;
    int64_t new_off;
    int ret;

    if (off && qcow2_offset_into_cluster(s, off) + bytes <= s->cluster_size) {
        uint64_t rc;
        ret = qcow2_get_refcount(node, off >> s->cluster_bits, &rc);
        if (ret < 0) {
            return ret;
        }
        if (rc > 0 && rc < s->refcount_max) {
            ret = qcow2_update_refcount(node, off, 1, 1);
            if (ret < 0) {
                return ret;
            }
            s->free_byte_offset = off + bytes;
            if (!qcow2_offset_into_cluster(s, s->free_byte_offset)) {
                s->free_byte_offset = 0;
            }
            return (int64_t)off;
        }
    }
    new_off = qcow2_alloc_clusters(node, bytes);
    if (new_off < 0) {
        return new_off;
    }
    s->free_byte_offset = (uint64_t)new_off + bytes;
    if (!qcow2_offset_into_cluster(s, s->free_byte_offset)) {
        s->free_byte_offset = 0;
    }
    return new_off;
}

int qcow2_free_clusters(BlockNode *node, uint64_t offset, uint64_t len)
{
    return qcow2_update_refcount(node, offset, len, -1);
}

int qcow2_free_entry(BlockNode *node, const Qcow2L2Entry *e)
{
    Qcow2State *s = node->opaque;

    switch (e->type) {
    case QCOW2_CLUSTER_NORMAL:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        return qcow2_free_clusters(node, e->host_offset, s->cluster_size);
    case QCOW2_CLUSTER_COMPRESSED: {
        uint64_t start = e->host_offset;
        uint64_t end = (start & ~511ull) + e->compressed_size;
        return qcow2_free_clusters(node, start, end - start);
    }
    default:
        return 0;
    }
}

int qcow2_free_entries(BlockNode *node, const Qcow2L2Entry *es, size_t n)
{
    Qcow2State *s = node->opaque;
    int ret;

    if (n == 0) {
        return 0;
    }
    /* Nobody may still be reading or writing the clusters. */
    qcow2_wait_data_io(s);
    /*
     * The L2 updates that dropped these references reach the disk before
     * the refcounts drop: a crash in between leaks clusters instead of
     * leaving L2 entries pointing at free ones.
     */
    ret = qcow2_cache_write(node, s->l2_cache);
    if (ret >= 0) {
        ret = block_flush_co(node->file->node);
    }
    for (size_t i = 0; ret >= 0 && i < n; i++) {
        ret = qcow2_free_entry(node, &es[i]);
    }
    return ret;
}
