/*
 * qcow2 check: reference counts as stored (refcount table and refblocks,
 * read through a small cache and updated in place), the in-memory
 * refcount table (imrt) computed from the metadata, and the rebuild of
 * the whole refcount structure from the imrt.
 */
#include <errno.h>
#include <string.h>

#include "qcow2-check-int.h"

/* ---- Stored refcounts ---------------------------------------------- */

void qcow2c_cache_clear(Qcow2Check *c)
{
    for (int i = 0; i < QCOW2_CHECK_CACHE_SLOTS; i++) {
        g_free(c->cache[i].data);
        c->cache[i].data = NULL;
        c->cache[i].offset = 0;
    }
}

/* The cached refblock at offset (read on a miss), or NULL with *ret. */
static uint8_t *get_refblock_co(Qcow2Check *c, uint64_t offset, int *ret)
{
    Qcow2CheckSlot *slot =
        &c->cache[(offset >> c->cluster_bits) % QCOW2_CHECK_CACHE_SLOTS];

    if (slot->data && slot->offset == offset) {
        return slot->data;
    }
    if (!slot->data) {
        slot->data = g_try_malloc(c->cluster_size);
        if (!slot->data) {
            *ret = -ENOMEM;
            return NULL;
        }
    }
    slot->offset = 0;
    *ret = block_pread_co(c->file, (int64_t)offset, (int64_t)c->cluster_size,
                          slot->data, 0);
    if (*ret < 0) {
        return NULL;
    }
    slot->offset = offset;
    return slot->data;
}

/*
 * QEMU's corruption signal: the first event is printed, a writable image
 * gets its corrupt bit set.
 */
static void signal_corruption_co(Qcow2Check *c, const char *msg)
{
    bool fatal = !block_node_is_read_only(c->file->node) &&
                 (c->file->perm & BLOCK_PERM_WRITE);

    if (c->signalled_corruption &&
        (!fatal || (c->h.incompatible_features & QCOW2_INCOMPAT_CORRUPT))) {
        return;
    }
    if (fatal) {
        uint8_t buf[8];

        block_check_report(c->res, "qcow2: Marking image as corrupt: %s; "
                           "further corruption events will be suppressed",
                           msg);
        c->h.incompatible_features |= QCOW2_INCOMPAT_CORRUPT;
        if (c->h.version >= 3) {
            qcow2_put_be64(buf, c->h.incompatible_features);
            block_pwrite_co(c->file, 72, 8, buf, 0);
        }
    } else {
        block_check_report(c->res, "qcow2: Image is corrupt: %s; further "
                           "non-fatal corruption events will be "
                           "suppressed", msg);
    }
    c->signalled_corruption = true;
}

/* Offset of the refblock covering cluster, 0 if none; -EIO if bad. */
static int refblock_offset_co(Qcow2Check *c, int64_t cluster,
                              uint64_t *offset)
{
    uint64_t index = (uint64_t)cluster >> c->refblock_bits;

    *offset = 0;
    if (index >= c->reftable_entries) {
        return 0;
    }
    *offset = c->reftable[index] & QCOW2_REFT_OFFSET_MASK;
    if (*offset && qcow2c_offset_into_cluster(c, *offset)) {
        g_autofree char *msg = g_strdup_printf(
            "Refblock offset %#" PRIx64 " unaligned (reftable index: %#"
            PRIx64 ")", *offset, index);
        signal_corruption_co(c, msg);
        return -EIO;
    }
    return 0;
}

int qcow2c_get_refcount_co(Qcow2Check *c, int64_t cluster, uint64_t *value)
{
    uint64_t offset;
    uint8_t *block;
    int ret = refblock_offset_co(c, cluster, &offset);

    *value = 0;
    if (ret < 0 || offset == 0) {
        return ret;
    }
    block = get_refblock_co(c, offset, &ret);
    if (!block) {
        return ret;
    }
    *value = qcow2_refcount_get(
        block, (uint64_t)cluster & ((1ull << c->refblock_bits) - 1),
        c->refcount_order);
    return 0;
}

int qcow2c_set_refcount_co(Qcow2Check *c, int64_t cluster, uint64_t value)
{
    uint64_t offset, index, byte, len;
    uint8_t *block;
    int ret = refblock_offset_co(c, cluster, &offset);

    if (ret < 0) {
        return ret;
    }
    if (offset == 0) {
        return -EIO;
    }
    block = get_refblock_co(c, offset, &ret);
    if (!block) {
        return ret;
    }
    index = (uint64_t)cluster & ((1ull << c->refblock_bits) - 1);
    qcow2_refcount_set(block, index, c->refcount_order, value);
    if (c->refcount_order <= 3) {
        byte = (index << c->refcount_order) / 8;
        len = 1;
    } else {
        len = 1ull << (c->refcount_order - 3);
        byte = index * len;
    }
    ret = block_pwrite_co(c->file, (int64_t)(offset + byte), (int64_t)len,
                          block + byte, 0);
    if (ret < 0) {
        /* The cached copy no longer matches the disk. */
        c->cache[(offset >> c->cluster_bits) % QCOW2_CHECK_CACHE_SLOTS]
            .offset = 0;
        return ret;
    }
    if (value == 0) {
        /* QEMU discards clusters whose refcount drops to zero. */
        block_pdiscard_co(c->file, cluster << c->cluster_bits,
                          (int64_t)c->cluster_size);
    }
    return 0;
}

int qcow2c_load_reftable_co(Qcow2Check *c, uint64_t offset,
                            uint64_t entries)
{
    uint64_t *table = NULL;
    int ret;

    if (entries) {
        table = g_try_new(uint64_t, entries);
        if (!table) {
            return -ENOMEM;
        }
        ret = block_pread_co(c->file, (int64_t)offset,
                             (int64_t)(entries * 8), table, 0);
        if (ret < 0) {
            g_free(table);
            return ret;
        }
        for (uint64_t i = 0; i < entries; i++) {
            table[i] = qcow2_be64((const uint8_t *)&table[i]);
        }
    }
    g_free(c->reftable);
    c->reftable = table;
    c->reftable_entries = entries;
    c->reftable_offset = offset;
    qcow2c_cache_clear(c);
    return 0;
}

/* ---- The in-memory refcount table ----------------------------------- */

/* Bytes for entries refcounts, rounded up to whole clusters. */
static uint64_t imrt_bytes(const Qcow2Check *c, int64_t entries)
{
    uint64_t bytes = (((uint64_t)entries << c->refcount_order) + 7) / 8;

    return (uint64_t)qcow2c_size_to_clusters(c, bytes) << c->cluster_bits;
}

int qcow2c_imrt_resize(Qcow2Check *c, int64_t new_entries)
{
    uint64_t old_bytes = c->imrt ? imrt_bytes(c, c->imrt_entries) : 0;
    uint64_t new_bytes = imrt_bytes(c, new_entries);
    uint8_t *p;

    if (new_entries >= (INT64_C(1) << (64 - 9))) {
        return -ENOMEM;
    }
    if (new_bytes <= old_bytes && c->imrt) {
        if (new_entries > c->imrt_entries) {
            c->imrt_entries = new_entries;
        }
        return 0;
    }
    if (new_bytes > SIZE_MAX || new_bytes == 0) {
        new_bytes = new_bytes ? new_bytes : c->cluster_size;
        if (new_bytes > SIZE_MAX) {
            return -ENOMEM;
        }
    }
    p = g_try_realloc(c->imrt, new_bytes);
    if (!p) {
        return -ENOMEM;
    }
    memset(p + old_bytes, 0, new_bytes - old_bytes);
    c->imrt = p;
    c->imrt_entries = new_entries;
    return 0;
}

uint64_t qcow2c_imrt_get(const Qcow2Check *c, int64_t cluster)
{
    return qcow2_refcount_get(c->imrt, (uint64_t)cluster, c->refcount_order);
}

void qcow2c_imrt_set(Qcow2Check *c, int64_t cluster, uint64_t value)
{
    qcow2_refcount_set(c->imrt, (uint64_t)cluster, c->refcount_order, value);
}

int qcow2c_inc_refcounts(Qcow2Check *c, uint64_t offset, uint64_t size)
{
    uint64_t start, last;

    if (size == 0) {
        return 0;
    }
    /*
     * The last cluster may be partly past the end of the file; anything
     * reaching a whole cluster or more beyond it is corrupt.
     */
    if (offset > (uint64_t)INT64_MAX - size ||
        (int64_t)(offset + size) - c->file_size >=
            (int64_t)c->cluster_size) {
        block_check_report(c->res, "ERROR: counting reference for region "
                           "exceeding the end of the file by one cluster "
                           "or more: offset 0x%" PRIx64 " size 0x%" PRIx64,
                           offset, size);
        c->res->corruptions++;
        return 0;
    }
    start = offset & ~(c->cluster_size - 1);
    last = (offset + size - 1) & ~(c->cluster_size - 1);
    for (uint64_t off = start; off <= last; off += c->cluster_size) {
        int64_t k = (int64_t)(off >> c->cluster_bits);
        uint64_t refcount;

        if (k >= c->imrt_entries) {
            int ret = qcow2c_imrt_resize(c, k + 1);
            if (ret < 0) {
                c->res->check_errors++;
                return ret;
            }
        }
        refcount = qcow2c_imrt_get(c, k);
        if (refcount == c->refcount_max) {
            block_check_report(c->res, "ERROR: overflow cluster offset=0x%"
                               PRIx64, off);
            block_check_report(c->res, "Use qemu-img amend to increase the "
                               "refcount entry width or qemu-img convert to "
                               "create a clean copy if the image cannot be "
                               "opened for writing");
            c->res->corruptions++;
            continue;
        }
        qcow2c_imrt_set(c, k, refcount + 1);
    }
    return 0;
}

/* ---- Rebuilding the refcount structure -------------------------------- */

/*
 * Finds count free clusters in a row in the imrt from *first_free on
 * (growing the imrt past its end if needed), marks them used and returns
 * the byte offset of the first one.
 */
static int64_t imrt_alloc(Qcow2Check *c, int64_t count, int64_t *first_free)
{
    int64_t cluster = *first_free;
    int64_t free_run = 0;
    bool first_gap = true;

    for (; cluster < c->imrt_entries && free_run < count; cluster++) {
        if (!qcow2c_imrt_get(c, cluster)) {
            free_run++;
            if (first_gap) {
                *first_free = cluster;
                first_gap = false;
            }
        } else {
            free_run = 0;
        }
    }
    if (free_run < count) {
        int ret = qcow2c_imrt_resize(c, cluster + count - free_run);
        if (ret < 0) {
            return ret;
        }
    }
    cluster -= free_run;
    for (int64_t i = 0; i < count; i++) {
        qcow2c_imrt_set(c, cluster + i, 1);
    }
    return cluster << c->cluster_bits;
}

/*
 * Allocates and writes the refblocks for every used cluster in
 * [first, end).  A refblock is a slice of the imrt.  Returns 1 when the
 * new table had to grow, 0 if not, -errno on failure.
 */
static int write_refblocks_co(Qcow2Check *c, int64_t first, int64_t end,
                              uint64_t **table, uint64_t *entries,
                              Error **errp)
{
    int64_t first_free = 0;
    uint64_t per_block = 1ull << c->refblock_bits;
    bool grown = false;

    for (int64_t cluster = first; cluster < end; cluster++) {
        uint64_t index, block_start;
        int64_t block_offset;
        int ret;

        if (cluster >= c->imrt_entries || !qcow2c_imrt_get(c, cluster)) {
            continue;
        }
        index = (uint64_t)cluster >> c->refblock_bits;
        block_start = index << c->refblock_bits;
        if (index < *entries && (*table)[index]) {
            block_offset = (int64_t)(*table)[index];
        } else {
            if (first_free < (int64_t)block_start) {
                first_free = (int64_t)block_start;
            }
            block_offset = imrt_alloc(c, 1, &first_free);
            if (block_offset < 0) {
                error_setg_errno(errp, (int)-block_offset,
                                 "ERROR allocating refblock");
                return (int)block_offset;
            }
            if ((block_offset >> c->cluster_bits) >= end) {
                end = (block_offset >> c->cluster_bits) + 1;
            }
            if (*entries <= index) {
                uint64_t n = ((index + 1) * 8 + c->cluster_size - 1) /
                             c->cluster_size * c->cluster_size / 8;
                uint64_t *t = g_try_realloc(*table, n * 8);
                if (!t) {
                    error_setg(errp, "ERROR allocating reftable memory");
                    return -ENOMEM;
                }
                memset(t + *entries, 0, (n - *entries) * 8);
                *table = t;
                *entries = n;
                grown = true;
            }
            (*table)[index] = (uint64_t)block_offset;
        }
        ret = block_pwrite_co(c->file, block_offset,
                              (int64_t)c->cluster_size,
                              c->imrt + index * c->cluster_size, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "ERROR writing refblock");
            return ret;
        }
        cluster = (int64_t)(block_start + per_block - 1);
    }
    return grown;
}

int qcow2c_rebuild_refcounts_co(Qcow2Check *c, Error **errp)
{
    uint64_t *table = NULL;
    uint64_t entries = 0;
    int64_t table_offset = -1;
    int64_t table_clusters = 0;
    uint8_t *buf = NULL;
    uint8_t ptr[12];
    int changed;
    int ret;

    qcow2c_cache_clear(c);
    changed = write_refblocks_co(c, 0, c->imrt_entries, &table, &entries,
                                 errp);
    if (changed < 0) {
        c->res->check_errors++;
        ret = changed;
        goto fail;
    }
    do {
        int64_t first_free = 0;
        int64_t start, end;

        table_clusters = qcow2c_size_to_clusters(c, entries * 8);
        table_offset = imrt_alloc(c, table_clusters, &first_free);
        if (table_offset < 0) {
            error_setg_errno(errp, (int)-table_offset,
                             "ERROR allocating reftable");
            c->res->check_errors++;
            ret = (int)table_offset;
            goto fail;
        }
        start = table_offset >> c->cluster_bits;
        end = start + table_clusters;
        changed = write_refblocks_co(c, start, end, &table, &entries, errp);
        if (changed < 0) {
            c->res->check_errors++;
            ret = changed;
            goto fail;
        }
        if (changed) {
            for (int64_t i = start; i < end; i++) {
                qcow2c_imrt_set(c, i, 0);
            }
        }
    } while (changed);

    buf = g_try_malloc(entries * 8);
    if (!buf) {
        error_setg(errp, "ERROR allocating reftable memory");
        ret = -ENOMEM;
        goto fail;
    }
    for (uint64_t i = 0; i < entries; i++) {
        qcow2_put_be64(buf + i * 8, table[i]);
    }
    ret = block_pwrite_co(c->file, table_offset, (int64_t)(entries * 8), buf,
                          0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "ERROR writing reftable");
        goto fail;
    }
    qcow2_put_be64(ptr, (uint64_t)table_offset);
    qcow2_put_be32(ptr + 8, (uint32_t)table_clusters);
    ret = block_pwrite_co(c->file, 48, 12, ptr, 0);
    if (ret >= 0) {
        ret = block_flush_co(c->file->node);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "ERROR setting reftable");
        goto fail;
    }
    g_free(buf);
    g_free(c->reftable);
    c->reftable = table;
    c->reftable_entries = entries;
    c->reftable_offset = (uint64_t)table_offset;
    c->h.refcount_table_offset = (uint64_t)table_offset;
    c->h.refcount_table_clusters = (uint32_t)table_clusters;
    qcow2c_cache_clear(c);
    return 0;

fail:
    g_free(buf);
    g_free(table);
    return ret;
}
