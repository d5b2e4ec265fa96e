/*
 * qcow2 metadata table cache: a small LRU set of cluster-sized tables (L2
 * tables or refcount blocks) with dirty tracking.  A cache may depend on
 * another one: before any of its dirty tables is written, the other cache
 * is written back and the file flushed, which is how refcount increments
 * become stable before the L2 entries that use the clusters.
 */
#include "qcow2-int.h"

Qcow2Cache *qcow2_cache_new(int size, Qcow2MetadataKind kind)
{
    Qcow2Cache *c = g_new0(Qcow2Cache, 1);

    c->size = MAX(size, 2);
    c->entries = g_new0(Qcow2CacheEntry, c->size);
    c->kind = kind;
    c->index = g_hash_table_new(g_direct_hash, g_direct_equal);
    c->by_table = g_hash_table_new(g_direct_hash, g_direct_equal);
    return c;
}

void qcow2_cache_free(Qcow2Cache *c)
{
    if (!c) {
        return;
    }
    for (int i = 0; i < c->size; i++) {
        block_node_vfree(c->entries[i].table);
    }
    g_free(c->entries);
    g_hash_table_destroy(c->index);
    g_hash_table_destroy(c->by_table);
    g_free(c);
}

void qcow2_cache_set_dependency(Qcow2Cache *c, Qcow2Cache *dep)
{
    c->depends = dep;
}

static bool cache_has_dirty(Qcow2Cache *c)
{
    for (int i = 0; i < c->size; i++) {
        if (c->entries[i].dirty) {
            return true;
        }
    }
    return false;
}

/* Makes the dependency stable before one of c's tables is written. */
static int cache_resolve_dependency(BlockNode *node, Qcow2Cache *c)
{
    int ret;

    if (c->depends && cache_has_dirty(c->depends)) {
        ret = qcow2_cache_write(node, c->depends);
        if (ret < 0) {
            return ret;
        }
        c->depends_on_flush = true;
    }
    if (c->depends_on_flush) {
        ret = block_flush_co(node->file->node);
        if (ret < 0) {
            return ret;
        }
        c->depends_on_flush = false;
    }
    return 0;
}

static int cache_entry_flush(BlockNode *node, Qcow2Cache *c, int i)
{
    Qcow2State *s = node->opaque;
    Qcow2CacheEntry *e = &c->entries[i];
    int ret;

    if (!e->dirty || !e->offset) {
        return 0;
    }
    ret = cache_resolve_dependency(node, c);
    if (ret < 0) {
        return ret;
    }
    /* A table must never land on other metadata. */
    if (qcow2_metamap_check(&s->metamap, e->offset, s->cluster_size,
                            s->cluster_bits,
                            c->kind | QCOW2_OL_INACTIVE_L2)) {
        return qcow2_signal_corruption(node, e->offset, s->cluster_size,
                                       "Preventing invalid write on "
                                       "metadata (overlaps with %s)",
                                       qcow2_metadata_kind_name(
                                           qcow2_metamap_check(
                                               &s->metamap, e->offset,
                                               s->cluster_size,
                                               s->cluster_bits,
                                               c->kind |
                                                   QCOW2_OL_INACTIVE_L2)));
    }
    ret = block_pwrite_co(node->file, (int64_t)e->offset,
                          (int64_t)s->cluster_size, e->table, 0);
    if (ret < 0) {
        return ret;
    }
    e->dirty = false;
    return 0;
}

int qcow2_cache_write(BlockNode *node, Qcow2Cache *c)
{
    int result = 0;

    for (int i = 0; i < c->size; i++) {
        int ret = cache_entry_flush(node, c, i);
        if (ret < 0 && result == 0) {
            result = ret;
        }
    }
    return result;
}

/* Host offsets fit in a pointer on the 64-bit hosts we build for. */
G_STATIC_ASSERT(sizeof(gpointer) >= sizeof(uint64_t));

static int cache_find(Qcow2Cache *c, uint64_t offset)
{
    gpointer v = g_hash_table_lookup(c->index, GSIZE_TO_POINTER(offset));

    return v ? GPOINTER_TO_INT(v) - 1 : -1;
}

/* Points slot i at offset (0: free), keeping the index in step. */
static void cache_set_offset(Qcow2Cache *c, int i, uint64_t offset)
{
    if (c->entries[i].offset) {
        g_hash_table_remove(c->index,
                            GSIZE_TO_POINTER(c->entries[i].offset));
    }
    c->entries[i].offset = offset;
    if (offset) {
        g_hash_table_insert(c->index, GSIZE_TO_POINTER(offset),
                            GINT_TO_POINTER(i + 1));
    }
}

/* A slot for a new table: the least recently used unreferenced one. */
static int cache_victim(BlockNode *node, Qcow2Cache *c)
{
    int best = -1;
    int ret;

    for (int i = 0; i < c->size; i++) {
        Qcow2CacheEntry *e = &c->entries[i];
        if (e->ref) {
            continue;
        }
        if (!e->offset) {
            best = i;
            break;
        }
        if (best < 0 || e->lru < c->entries[best].lru) {
            best = i;
        }
    }
    if (best < 0) {
        return -ENOSPC; /* every table in use: a bug, not an image error */
    }
    ret = cache_entry_flush(node, c, best);
    if (ret < 0) {
        return ret;
    }
    cache_set_offset(c, best, 0);
    return best;
}

static int cache_do_get(BlockNode *node, Qcow2Cache *c, uint64_t offset,
                        uint8_t **table, bool read)
{
    Qcow2State *s = node->opaque;
    Qcow2CacheEntry *e;
    int i;
    int miss = 0;
    int ret;

    if (offset == 0) {
        /* Offset 0 is the header: never a table (and marks free slots). */
        return -EIO;
    }
    i = cache_find(c, offset);
    if (i < 0) {
        miss = 1;
        i = cache_victim(node, c);
        if (i < 0) {
            return i;
        }
        e = &c->entries[i];
        if (!e->table) {
            e->table = block_node_blockalign(node->file->node,
                                             s->cluster_size);
            g_hash_table_insert(c->by_table, e->table, GINT_TO_POINTER(i + 1));
        }
        if (read) {
            ret = block_pread_co(node->file, (int64_t)offset,
                                 (int64_t)s->cluster_size, e->table, 0);
            if (ret < 0) {
                return ret;
            }
        } else {
            memset(e->table, 0, s->cluster_size);
        }
        cache_set_offset(c, i, offset);
        e->dirty = false;
    }
    e = &c->entries[i];
    if (!read) {
        memset(e->table, 0, s->cluster_size);
    }
    e->ref++;
    e->lru = ++c->lru_counter;
    *table = e->table;
    return miss;
}

int qcow2_cache_get(BlockNode *node, Qcow2Cache *c, uint64_t offset,
                    uint8_t **table)
{
    return cache_do_get(node, c, offset, table, true);
}

int qcow2_cache_get_empty(BlockNode *node, Qcow2Cache *c, uint64_t offset,
                          uint8_t **table)
{
    return cache_do_get(node, c, offset, table, false);
}

static Qcow2CacheEntry *cache_entry_of(Qcow2Cache *c, const uint8_t *table)
{
    int i = GPOINTER_TO_INT(g_hash_table_lookup(c->by_table, table)) - 1;

    return i >= 0 && c->entries[i].offset ? &c->entries[i] : NULL;
}

void qcow2_cache_put(Qcow2Cache *c, uint8_t **table)
{
    Qcow2CacheEntry *e = cache_entry_of(c, *table);

    assert(e && e->ref > 0);
    e->ref--;
    *table = NULL;
}

void qcow2_cache_mark_dirty(Qcow2Cache *c, const uint8_t *table)
{
    Qcow2CacheEntry *e = cache_entry_of(c, table);

    assert(e);
    e->dirty = true;
}

void qcow2_cache_discard(Qcow2Cache *c, uint64_t offset)
{
    int i = cache_find(c, offset);

    if (i >= 0 && !c->entries[i].ref) {
        cache_set_offset(c, i, 0);
        c->entries[i].dirty = false;
    }
}
