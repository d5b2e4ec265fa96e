/*
 * qcow2 guest-to-host mapping: L1 and L2 tables, allocation of L2 tables,
 * L1 growth.  Every function runs with s->lock held.
 */
#include "qcow2-int.h"

uint64_t qcow2_size_to_l1(Qcow2State *s, uint64_t size)
{
    uint32_t shift = s->cluster_bits + s->l2_bits;

    return (size >> shift) + ((size & ((1ull << shift) - 1)) != 0);
}

void qcow2_l2_read(Qcow2State *s, const uint8_t *table, uint64_t index,
                   uint64_t *entry, uint64_t *bitmap)
{
    const uint8_t *p = table + index * s->l2_entry_size;

    *entry = qcow2_be64(p);
    *bitmap = s->extl2 ? qcow2_be64(p + 8) : 0;
}

void qcow2_l2_write(Qcow2State *s, uint8_t *table, uint64_t index,
                    uint64_t entry, uint64_t bitmap)
{
    uint8_t *p = table + index * s->l2_entry_size;

    qcow2_put_be64(p, entry);
    if (s->extl2) {
        qcow2_put_be64(p + 8, bitmap);
    }
}

int qcow2_decode_entry(BlockNode *node, uint64_t guest, uint64_t entry,
                       uint64_t bitmap, Qcow2L2Entry *e)
{
    Qcow2State *s = node->opaque;
    bool ok;

    if (s->extl2) {
        ok = qcow2_ext_l2_entry_decode(entry, bitmap, s->cluster_bits, e);
    } else {
        ok = qcow2_l2_entry_decode(entry, s->cluster_bits, s->version, e);
        /* v2 images never have the zero flag; QEMU ignores bit 0 there */
        if (!ok && s->version < 3 &&
            !(entry & QCOW2_L2E_RESERVED_MASK & ~1ull) &&
            !(e->host_offset & (s->cluster_size - 1))) {
            ok = true;
        }
    }
    if (!ok) {
        if (e->type == QCOW2_CLUSTER_COMPRESSED) {
            return qcow2_signal_corruption(
                node, -1, -1,
                "Compressed cluster entry found in pre-v3 image or with "
                "reserved bits set (L2 offset: %#" PRIx64 ")", guest);
        }
        return qcow2_signal_corruption(
            node, -1, -1,
            "Cluster allocation offset %#" PRIx64
            " unaligned (L2 offset: %#" PRIx64 ", L2 index: %#" PRIx64 ")",
            e->host_offset, guest & ~(s->cluster_size - 1),
            (guest >> s->cluster_bits) & (s->l2_size - 1));
    }
    if (e->type == QCOW2_CLUSTER_COMPRESSED &&
        (e->host_offset >> 56 || e->host_offset < s->cluster_size)) {
        return qcow2_signal_corruption(node, -1, -1,
                                       "Compressed cluster at invalid offset "
                                       "%#" PRIx64, e->host_offset);
    }
    if (e->type != QCOW2_CLUSTER_COMPRESSED && e->host_offset &&
        e->host_offset < s->cluster_size) {
        return qcow2_signal_corruption(node, (int64_t)e->host_offset,
                                       (int64_t)s->cluster_size,
                                       "Data cluster at offset 0 (overlaps "
                                       "with qcow2_header)");
    }
    return 0;
}

/* Validates an L2 table offset taken from the L1 table. */
static int check_l2_offset(BlockNode *node, uint64_t l1_index,
                           uint64_t l2_offset)
{
    Qcow2State *s = node->opaque;
    Qcow2MetadataKind kind;

    if (l2_offset & (s->cluster_size - 1)) {
        return qcow2_signal_corruption(node, (int64_t)l2_offset, -1,
                                       "L2 table offset %#" PRIx64
                                       " unaligned (L1 index: %#" PRIx64 ")",
                                       l2_offset, l1_index);
    }
    if (!qcow2_metadata_in_file(node, l2_offset)) {
        return qcow2_signal_corruption(node, (int64_t)l2_offset,
                                       (int64_t)s->cluster_size,
                                       "L2 table offset %#" PRIx64
                                       " beyond the end of the image file "
                                       "(L1 index: %#" PRIx64 ")",
                                       l2_offset, l1_index);
    }
    kind = qcow2_metamap_check(&s->metamap, l2_offset, s->cluster_size,
                               s->cluster_bits,
                               QCOW2_OL_ACTIVE_L2 | QCOW2_OL_INACTIVE_L2);
    if (kind) {
        return qcow2_signal_corruption(node, (int64_t)l2_offset,
                                       (int64_t)s->cluster_size,
                                       "L2 table at %#" PRIx64
                                       " overlaps with %s",
                                       l2_offset,
                                       qcow2_metadata_kind_name(kind));
    }
    return 0;
}

/* Writes L1 entry index to disk. */
static int write_l1_entry(BlockNode *node, uint64_t index)
{
    Qcow2State *s = node->opaque;
    uint8_t buf[8];

    qcow2_put_be64(buf, s->l1[index]);
    return block_pwrite_co(node->file, (int64_t)(s->l1_offset + index * 8), 8,
                           buf, 0);
}

/* A new L2 table for L1 index (copying old_offset's contents if set). */
static int l2_allocate(BlockNode *node, uint64_t l1_index,
                       uint64_t old_offset, uint8_t **table)
{
    Qcow2State *s = node->opaque;
    g_autofree uint8_t *copy = NULL;
    int64_t off;
    int ret;

    if (old_offset) {
        uint8_t *old;
        ret = qcow2_cache_get(node, s->l2_cache, old_offset, &old);
        if (ret < 0) {
            return ret;
        }
        copy = g_memdup2(old, s->cluster_size);
        qcow2_cache_put(s->l2_cache, &old);
    }
    off = qcow2_alloc_clusters(node, s->cluster_size);
    if (off < 0) {
        return (int)off;
    }
    ret = qcow2_check_new_metadata(node, (uint64_t)off, s->cluster_size,
                                   "L2 table");
    if (ret < 0) {
        return ret;
    }
    ret = qcow2_cache_get_empty(node, s->l2_cache, (uint64_t)off, table);
    if (ret < 0) {
        return ret;
    }
    if (copy) {
        memcpy(*table, copy, s->cluster_size);
    }
    qcow2_cache_mark_dirty(s->l2_cache, *table);
    qcow2_metamap_add(&s->metamap, QCOW2_OL_ACTIVE_L2, (uint64_t)off,
                      s->cluster_size);
    /* The table (and its refcount) must be on disk before the L1 entry. */
    ret = qcow2_cache_write(node, s->l2_cache);
    if (ret >= 0) {
        ret = block_flush_co(node->file->node);
    }
    if (ret >= 0) {
        s->l1[l1_index] = qcow2_l1_entry_make((uint64_t)off, true);
        ret = write_l1_entry(node, l1_index);
    }
    if (ret < 0) {
        qcow2_cache_put(s->l2_cache, table);
        return ret;
    }
    if (old_offset) {
        /* The L1 entry moved on disk before the old table is freed. */
        qcow2_metamap_remove(&s->metamap, QCOW2_OL_ACTIVE_L2, old_offset);
        ret = block_flush_co(node->file->node);
        if (ret >= 0) {
            ret = qcow2_free_clusters(node, old_offset, s->cluster_size);
        }
        if (ret < 0) {
            qcow2_cache_put(s->l2_cache, table);
            return ret;
        }
    }
    return 0;
}

int qcow2_get_l2_table(BlockNode *node, uint64_t guest, bool alloc,
                       uint8_t **table, uint64_t *index)
{
    Qcow2State *s = node->opaque;
    uint64_t l1_index = guest >> (s->cluster_bits + s->l2_bits);
    uint64_t l1e, l2_offset;
    int ret;

    *table = NULL;
    *index = (guest >> s->cluster_bits) & (s->l2_size - 1);
    if (l1_index >= s->l1_size) {
        if (!alloc) {
            return -ENOENT;
        }
        ret = qcow2_grow_l1(node, l1_index + 1);
        if (ret < 0) {
            return ret;
        }
    }
    l1e = s->l1[l1_index];
    if (qcow2_l1_entry_has_reserved_bits(l1e)) {
        return qcow2_signal_corruption(node, -1, -1,
                                       "L1 entry %#" PRIx64 " has reserved "
                                       "bits set (L1 index: %#" PRIx64 ")",
                                       l1e, l1_index);
    }
    l2_offset = qcow2_l1_entry_offset(l1e);
    if (l2_offset && (l2_offset & (s->cluster_size - 1))) {
        return check_l2_offset(node, l1_index, l2_offset);
    }
    if (l2_offset && (qcow2_l1_entry_is_copied(l1e) || !alloc)) {
        ret = qcow2_cache_get(node, s->l2_cache, l2_offset, table);
        if (ret == 1) {
            /* Just read from the file: validate its place once. */
            ret = check_l2_offset(node, l1_index, l2_offset);
            if (ret < 0) {
                qcow2_cache_put(s->l2_cache, table);
                qcow2_cache_discard(s->l2_cache, l2_offset);
            }
        }
        return ret < 0 ? ret : 0;
    }
    if (l2_offset) {
        ret = check_l2_offset(node, l1_index, l2_offset);
        if (ret < 0) {
            return ret;
        }
    }
    if (!alloc) {
        return -ENOENT;
    }
    if (node->read_only) {
        return -EPERM;
    }
    return l2_allocate(node, l1_index, l2_offset, table);
}

int qcow2_get_entry(BlockNode *node, uint64_t guest, Qcow2L2Entry *e)
{
    Qcow2State *s = node->opaque;
    uint8_t *table;
    uint64_t index, entry, bitmap;
    int ret = qcow2_get_l2_table(node, guest, false, &table, &index);

    memset(e, 0, sizeof(*e));
    if (ret == -ENOENT) {
        e->type = QCOW2_CLUSTER_UNALLOCATED;
        return 0;
    }
    if (ret < 0) {
        return ret;
    }
    qcow2_l2_read(s, table, index, &entry, &bitmap);
    qcow2_cache_put(s->l2_cache, &table);
    return qcow2_decode_entry(node, guest, entry, bitmap, e);
}

int qcow2_grow_l1(BlockNode *node, uint64_t min_size)
{
    Qcow2State *s = node->opaque;
    uint64_t cs = s->cluster_size;
    uint64_t new_bytes = min_size * 8;
    uint64_t old_bytes = (uint64_t)s->l1_size * 8;
    uint64_t old_offset = s->l1_offset;
    g_autofree uint8_t *buf = NULL;
    uint64_t table_bytes;
    uint64_t *new_l1;
    uint8_t hbuf[12];
    int64_t off;
    int ret;

    if (min_size <= s->l1_size) {
        return 0;
    }
    if (new_bytes > QCOW2_MAX_L1_BYTES) {
        return -EFBIG;
    }
    off = qcow2_alloc_clusters(node, new_bytes);
    if (off < 0) {
        return (int)off;
    }
    ret = qcow2_check_new_metadata(node, (uint64_t)off, new_bytes,
                                   "L1 table");
    if (ret < 0) {
        return ret;
    }
    /* Refcounts of the new table first: flush them before using it. */
    ret = qcow2_cache_write(node, s->rb_cache);
    if (ret < 0) {
        return ret;
    }
    table_bytes = (uint64_t)block_align_up((int64_t)new_bytes, (int64_t)cs);
    buf = g_malloc0(table_bytes);
    new_l1 = g_new0(uint64_t, min_size);
    memcpy(new_l1, s->l1, old_bytes);
    for (uint64_t i = 0; i < min_size; i++) {
        qcow2_put_be64(buf + i * 8, new_l1[i]);
    }
    ret = block_pwrite_co(node->file, off, (int64_t)table_bytes, buf, 0);
    if (ret >= 0) {
        ret = block_flush_co(node->file->node);
    }
    if (ret >= 0) {
        qcow2_put_be32(hbuf, (uint32_t)min_size);
        qcow2_put_be64(hbuf + 4, (uint64_t)off);
        ret = block_pwrite_co(node->file, 36, 12, hbuf, 0);
    }
    if (ret >= 0) {
        ret = block_flush_co(node->file->node);
    }
    if (ret < 0) {
        g_free(new_l1);
        qcow2_free_clusters(node, (uint64_t)off, new_bytes);
        return ret;
    }
    g_free(s->l1);
    s->l1 = new_l1;
    s->l1_size = (uint32_t)min_size;
    s->l1_offset = (uint64_t)off;
    s->hdr.l1_size = s->l1_size;
    s->hdr.l1_table_offset = s->l1_offset;
    qcow2_metamap_remove(&s->metamap, QCOW2_OL_ACTIVE_L1, old_offset);
    qcow2_metamap_add(&s->metamap, QCOW2_OL_ACTIVE_L1, s->l1_offset,
                      new_bytes);
    if (old_bytes) {
        return qcow2_free_clusters(node, old_offset, old_bytes);
    }
    return 0;
}
