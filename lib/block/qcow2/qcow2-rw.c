/*
 * qcow2 data path: reads, writes with copy-on-write, zero writes, discard,
 * block status, flush and resize.
 *
 * Reads look the mapping up with the lock held and do the data I/O
 * without it, so reads run in parallel.  Writes hold the lock for the
 * whole request: allocation, the data write (partial clusters merged with
 * their old contents into one write) and the L2 update, in that order.
 */
#include "qcow2-int.h"

/* What a granule (cluster, or subcluster with extended L2) holds. */
typedef enum {
    GRAN_UNALLOCATED, /* backing file or zeroes */
    GRAN_ZERO,
    GRAN_DATA,        /* at a host offset */
    GRAN_COMPRESSED,
} GranuleKind;

/*
 * Status of the granule of entry e containing in_cluster; *host is the
 * host offset matching in_cluster for GRAN_DATA, *end the in-cluster
 * offset where the granule ends.
 */
static GranuleKind granule_status(Qcow2State *s, const Qcow2L2Entry *e,
                                  uint64_t in_cluster, uint64_t *host,
                                  uint64_t *end)
{
    *host = 0;
    *end = s->cluster_size;
    if (e->type == QCOW2_CLUSTER_COMPRESSED) {
        return GRAN_COMPRESSED;
    }
    /* Zero or unallocated granules of a cluster with a host one have it. */
    if (e->host_offset) {
        *host = e->host_offset + in_cluster;
    }
    if (s->extl2) {
        uint32_t sc = (uint32_t)(in_cluster >> s->subcluster_bits);
        *end = (uint64_t)(sc + 1) << s->subcluster_bits;
        if (e->alloc_bitmap & (1u << sc)) {
            return GRAN_DATA;
        }
        return (e->zero_bitmap & (1u << sc)) ? GRAN_ZERO : GRAN_UNALLOCATED;
    }
    switch (e->type) {
    case QCOW2_CLUSTER_NORMAL:
        return GRAN_DATA;
    case QCOW2_CLUSTER_ZERO_PLAIN:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        return GRAN_ZERO;
    default:
        return GRAN_UNALLOCATED;
    }
}

/*
 * The mapping of [offset, offset + bytes): one kind over *len bytes
 * (contiguous on the host for GRAN_DATA; at most up to the end of the
 * cluster for GRAN_COMPRESSED, whose entry is returned in *ce).
 * Lock held.
 */
static int get_extent(BlockNode *node, uint64_t offset, uint64_t bytes,
                      GranuleKind *kind, uint64_t *host, uint64_t *len,
                      Qcow2L2Entry *ce)
{
    Qcow2State *s = node->opaque;
    uint64_t pos = offset;
    uint64_t expect_host = 0;

    *len = 0;
    while (pos < offset + bytes) {
        Qcow2L2Entry e;
        uint64_t in = qcow2_offset_into_cluster(s, pos);
        uint64_t h, end;
        GranuleKind k;
        int ret = qcow2_get_entry(node, pos, &e);

        if (ret < 0) {
            return ret;
        }
        do {
            k = granule_status(s, &e, in, &h, &end);
            if (pos == offset) {
                *kind = k;
                *host = h;
                if (k == GRAN_COMPRESSED) {
                    *ce = e;
                }
            } else if (k != *kind || (h != 0) != (*host != 0) ||
                       (h && h != expect_host) || k == GRAN_COMPRESSED) {
                goto done;
            }
            uint64_t n = MIN(end - in, offset + bytes - pos);
            pos += n;
            in += n;
            expect_host = h + n;
            *len = pos - offset;
            if (k == GRAN_COMPRESSED) {
                goto done;
            }
        } while (in < s->cluster_size && pos < offset + bytes);
    }
done:
    return 0;
}

/* Reads guest bytes that are not allocated in this image. */
static int read_unallocated(BlockNode *node, uint64_t offset, uint64_t len,
                            BlockIOVec *qiov, size_t qiov_offset)
{
    if (node->backing) {
        return block_preadv_co(node->backing, (int64_t)offset, (int64_t)len,
                               qiov, qiov_offset, 0);
    }
    block_iov_memset(qiov, qiov_offset, 0, len);
    return 0;
}

static int read_compressed_part(BlockNode *node, const Qcow2L2Entry *e,
                                uint64_t in_cluster, uint64_t len,
                                BlockIOVec *qiov, size_t qiov_offset)
{
    Qcow2State *s = node->opaque;
    uint8_t *buf = g_try_malloc(s->cluster_size);
    int ret;

    if (!buf) {
        return -ENOMEM;
    }
    ret = qcow2_read_compressed(node, e, buf);
    if (ret >= 0) {
        block_iov_from_buf(qiov, qiov_offset, buf + in_cluster, len);
    }
    g_free(buf);
    return ret;
}

int qcow2_co_preadv(BlockNode *node, int64_t offset, int64_t bytes,
                    BlockIOVec *qiov, size_t qiov_offset,
                    BlockReqFlags flags)
{
    Qcow2State *s = node->opaque;

    while (bytes > 0) {
        GranuleKind kind;
        uint64_t host, len;
        Qcow2L2Entry ce;
        int ret;

        if (s->broken) {
            return -EIO;
        }
        qx_co_mutex_lock(&s->lock);
        ret = get_extent(node, (uint64_t)offset, (uint64_t)bytes, &kind,
                         &host, &len, &ce);
        if (ret >= 0 && (kind == GRAN_DATA || kind == GRAN_COMPRESSED)) {
            /* Our host clusters may not be freed while we read them. */
            s->data_io_in_flight++;
        }
        qx_co_mutex_unlock(&s->lock);
        if (ret < 0) {
            return ret;
        }
        switch (kind) {
        case GRAN_UNALLOCATED:
            ret = read_unallocated(node, (uint64_t)offset, len, qiov,
                                   qiov_offset);
            break;
        case GRAN_ZERO:
            block_iov_memset(qiov, qiov_offset, 0, len);
            break;
        case GRAN_DATA:
            ret = block_preadv_co(node->file, (int64_t)host, (int64_t)len,
                                  qiov, qiov_offset, 0);
            break;
        case GRAN_COMPRESSED:
            ret = read_compressed_part(
                node, &ce, qcow2_offset_into_cluster(s, (uint64_t)offset),
                len, qiov, qiov_offset);
            break;
        }
        if (kind == GRAN_DATA || kind == GRAN_COMPRESSED) {
            qcow2_data_io_end(s);
        }
        if (ret < 0) {
            return ret;
        }
        offset += (int64_t)len;
        bytes -= (int64_t)len;
        qiov_offset += len;
    }
    return 0;
}

/*
 * Current guest contents of [guest, guest + len) (inside one cluster whose
 * entry is e) into buf.  Lock held.
 */
static int read_old(BlockNode *node, const Qcow2L2Entry *e, uint64_t guest,
                    uint64_t len, uint8_t *buf)
{
    Qcow2State *s = node->opaque;
    uint64_t in = qcow2_offset_into_cluster(s, guest);
    uint64_t done = 0;
    int ret = 0;

    while (done < len) {
        uint64_t host, end;
        GranuleKind k = granule_status(s, e, in + done, &host, &end);
        uint64_t n = MIN(end - (in + done), len - done);
        BlockIOVec qiov;

        block_iov_init_buf(&qiov, buf + done, n);
        switch (k) {
        case GRAN_UNALLOCATED:
            ret = read_unallocated(node, guest + done, n, &qiov, 0);
            break;
        case GRAN_ZERO:
            memset(buf + done, 0, n);
            break;
        case GRAN_DATA:
            ret = block_pread_co(node->file, (int64_t)host, (int64_t)n,
                                 buf + done, 0);
            break;
        case GRAN_COMPRESSED:
            n = len - done;
            ret = read_compressed_part(node, e, in + done, n, &qiov, 0);
            break;
        }
        if (ret < 0) {
            return ret;
        }
        done += n;
    }
    return 0;
}

/* True if every subcluster touched by [in, in + n) is allocated. */
static bool all_subclusters_allocated(Qcow2State *s, const Qcow2L2Entry *e,
                                      uint64_t in, uint64_t n)
{
    uint32_t first = (uint32_t)(in >> s->subcluster_bits);
    uint32_t last = (uint32_t)((in + n - 1) >> s->subcluster_bits);
    uint32_t mask = (uint32_t)(((2ull << last) - 1) & ~((1ull << first) - 1));

    return (e->alloc_bitmap & mask) == mask;
}

/* Refuses a data write that would land on metadata. */
static int check_data_write(BlockNode *node, uint64_t host, uint64_t len)
{
    Qcow2State *s = node->opaque;
    Qcow2MetadataKind kind = qcow2_metamap_check(&s->metamap, host, len,
                                                 s->cluster_bits, 0);

    if (kind) {
        return qcow2_signal_corruption(
            node, (int64_t)host, (int64_t)len,
            "Preventing invalid write on metadata (overlaps with %s)",
            qcow2_metadata_kind_name(kind));
    }
    return 0;
}

/*
 * Writes [guest, guest + n) of one cluster: in place when the cluster is
 * ours alone, else into a new cluster filled with the old contents around
 * the new data.  Lock held.
 */
static int write_cluster(BlockNode *node, uint64_t guest, uint64_t n,
                         BlockIOVec *qiov, size_t qiov_offset)
{
    Qcow2State *s = node->opaque;
    uint64_t cs = s->cluster_size;
    uint64_t cstart = qcow2_start_of_cluster(s, guest);
    uint64_t in = guest - cstart;
    uint64_t entry, bitmap, index;
    uint64_t wstart, wend, host;
    uint8_t *table;
    Qcow2L2Entry e, ne;
    uint8_t *buf = NULL;
    bool in_place, reuse;
    int ret;

    ret = qcow2_get_l2_table(node, guest, true, &table, &index);
    if (ret < 0) {
        return ret;
    }
    qcow2_l2_read(s, table, index, &entry, &bitmap);
    ret = qcow2_decode_entry(node, guest, entry, bitmap, &e);
    if (ret < 0) {
        goto out;
    }

    in_place = e.type == QCOW2_CLUSTER_NORMAL && e.copied;
    reuse = e.type == QCOW2_CLUSTER_ZERO_ALLOC && e.copied;
    /*
     * The region written: exactly the request in place (whole
     * subclusters when some are not allocated yet), else the whole
     * cluster, or the touched subclusters of an empty extended cluster.
     */
    wstart = in;
    wend = in + n;
    if (s->extl2 && (in_place || e.host_offset == 0)) {
        uint64_t sc_mask = s->subcluster_size - 1;
        uint64_t hs, he, tmp;
        if (!in_place ||
            granule_status(s, &e, in, &hs, &tmp) != GRAN_DATA) {
            wstart = in & ~sc_mask;
        }
        if (!in_place ||
            granule_status(s, &e, in + n - 1, &he, &tmp) != GRAN_DATA) {
            wend = (in + n + sc_mask) & ~sc_mask;
        }
    } else if (!in_place) {
        wstart = 0;
        wend = cs;
    }

    if (in_place || reuse) {
        host = e.host_offset;
    } else {
        int64_t off = qcow2_alloc_clusters(node, cs);
        if (off < 0) {
            ret = (int)off;
            goto out;
        }
        host = (uint64_t)off;
    }
    ret = check_data_write(node, host + wstart, wend - wstart);
    if (ret < 0) {
        goto out;
    }

    if (in_place && wstart == in && wend == in + n &&
        (!s->extl2 || all_subclusters_allocated(s, &e, in, n))) {
        /*
         * Our own cluster and nothing to change in the L2 entry: write
         * without the lock so that such writes run in parallel.  Frees
         * wait for this data I/O to end (qcow2_wait_data_io).
         */
        qcow2_cache_put(s->l2_cache, &table);
        s->data_io_in_flight++;
        qx_co_mutex_unlock(&s->lock);
        ret = block_pwritev_co(node->file, (int64_t)(host + in), (int64_t)n,
                               qiov, qiov_offset, 0);
        qx_co_mutex_lock(&s->lock);
        qcow2_data_io_end(s);
        return ret;
    } else if (wstart == in && wend == in + n) {
        ret = block_pwritev_co(node->file, (int64_t)(host + in), (int64_t)n,
                               qiov, qiov_offset, 0);
    } else {
        buf = block_node_blockalign(node->file->node, wend - wstart);
        ret = read_old(node, &e, cstart + wstart, wend - wstart, buf);
        if (ret >= 0) {
            block_iov_to_buf(qiov, qiov_offset, buf + (in - wstart), n);
            ret = block_pwrite_co(node->file, (int64_t)(host + wstart),
                                  (int64_t)(wend - wstart), buf, 0);
        }
    }
    if (ret < 0) {
        goto out;
    }

    /* Data is written: now the L2 entry may point to it. */
    ne = (Qcow2L2Entry){
        .type = QCOW2_CLUSTER_NORMAL,
        .copied = true,
        .host_offset = host,
    };
    if (s->extl2) {
        uint32_t first = (uint32_t)(wstart >> s->subcluster_bits);
        uint32_t last = (uint32_t)((wend - 1) >> s->subcluster_bits);
        uint32_t mask = (uint32_t)(((2ull << last) - 1) &
                                   ~((1ull << first) - 1));
        if (in_place || e.host_offset == 0) {
            ne.alloc_bitmap = e.alloc_bitmap | mask;
            ne.zero_bitmap = e.zero_bitmap & ~mask;
        } else {
            ne.alloc_bitmap = 0xffffffffu;
            ne.zero_bitmap = 0;
        }
        qcow2_ext_l2_entry_encode(&ne, s->cluster_bits, &entry, &bitmap);
    } else {
        entry = qcow2_l2_entry_encode(&ne, s->cluster_bits);
        bitmap = 0;
    }
    qcow2_l2_write(s, table, index, entry, bitmap);
    qcow2_cache_mark_dirty(s->l2_cache, table);
    if (!in_place && !reuse && e.host_offset) {
        /* The old cluster lost this reference. */
        ret = qcow2_free_entries(node, &e, 1);
    }

out:
    if (buf) {
        block_node_vfree(buf);
    }
    qcow2_cache_put(s->l2_cache, &table);
    return ret;
}

int qcow2_co_pwritev(BlockNode *node, int64_t offset, int64_t bytes,
                     BlockIOVec *qiov, size_t qiov_offset,
                     BlockReqFlags flags)
{
    Qcow2State *s = node->opaque;
    int ret = 0;

    if (flags & BLOCK_REQ_WRITE_COMPRESSED) {
        return qcow2_co_pwritev_compressed(node, offset, bytes, qiov,
                                           qiov_offset);
    }
    qx_co_mutex_lock(&s->lock);
    ret = qcow2_mark_dirty(node);
    while (ret >= 0 && bytes > 0) {
        uint64_t in = qcow2_offset_into_cluster(s, (uint64_t)offset);
        uint64_t n = MIN((uint64_t)bytes, s->cluster_size - in);

        if (s->broken) {
            ret = -EIO;
            break;
        }
        ret = write_cluster(node, (uint64_t)offset, n, qiov, qiov_offset);
        offset += (int64_t)n;
        bytes -= (int64_t)n;
        qiov_offset += n;
    }
    qx_co_mutex_unlock(&s->lock);
    return ret < 0 ? ret : 0;
}

typedef enum {
    ZD_ZERO,         /* reads return zeroes afterwards */
    ZD_DISCARD,      /* guest discard: as QEMU, v3 reads zeroes after */
    ZD_FULL_DISCARD, /* entries become unallocated (shrink) */
} ZeroDiscardMode;

/*
 * Rewrites the entries of the clusters of [offset, offset + bytes) (whole
 * clusters, or whole subclusters with extended L2 entries) as zero or
 * discarded; the old entries whose references must go are appended to
 * frees.  Lock held.
 */
static int zero_or_discard_entries(BlockNode *node, uint64_t offset,
                                   uint64_t bytes, ZeroDiscardMode mode,
                                   bool unmap, GArray *frees)
{
    bool zero = mode == ZD_ZERO;
    bool full = mode == ZD_FULL_DISCARD;

    Qcow2State *s = node->opaque;
    uint64_t end = offset + bytes;

    while (offset < end) {
        uint64_t in = qcow2_offset_into_cluster(s, offset);
        uint64_t n = MIN(end - offset, s->cluster_size - in);
        bool whole = in == 0 && (n == s->cluster_size ||
                                 offset + n >= s->size);
        uint64_t entry, bitmap, index;
        Qcow2L2Entry e, ne = { 0 };
        bool free_old;
        uint8_t *table;
        int ret;

        if (s->broken) {
            return -EIO;
        }
        ret = qcow2_get_l2_table(node, offset,
                                 zero || (!full && node->backing), &table,
                                 &index);
        if (ret == -ENOENT) {
            /* No L2 table: already unallocated, reading zeroes. */
            offset += n;
            continue;
        }
        if (ret < 0) {
            return ret;
        }
        qcow2_l2_read(s, table, index, &entry, &bitmap);
        ret = qcow2_decode_entry(node, offset, entry, bitmap, &e);
        if (ret < 0) {
            qcow2_cache_put(s->l2_cache, &table);
            return ret;
        }
        if (!whole && !s->extl2) {
            qcow2_cache_put(s->l2_cache, &table);
            return -ENOTSUP;
        }
        free_old = false;
        if (s->extl2 && !whole) {
            /* Some subclusters: flip their bits, keep the cluster. */
            uint32_t first = (uint32_t)(in >> s->subcluster_bits);
            uint32_t last = (uint32_t)((in + n - 1) >> s->subcluster_bits);
            uint32_t mask = (uint32_t)(((2ull << last) - 1) &
                                       ~((1ull << first) - 1));
            if (e.type == QCOW2_CLUSTER_COMPRESSED) {
                qcow2_cache_put(s->l2_cache, &table);
                return -ENOTSUP;
            }
            ne = e;
            ne.alloc_bitmap &= ~mask;
            if (!full && (zero || node->backing ||
                          e.type != QCOW2_CLUSTER_UNALLOCATED)) {
                ne.zero_bitmap |= mask;
            }
        } else {
            bool keep = zero && !unmap &&
                        (e.type == QCOW2_CLUSTER_NORMAL ||
                         e.type == QCOW2_CLUSTER_ZERO_ALLOC);
            bool allocated = e.type != QCOW2_CLUSTER_UNALLOCATED ||
                             (s->extl2 && (e.zero_bitmap || e.alloc_bitmap));
            free_old = !keep;
            if (keep) {
                ne.host_offset = e.host_offset;
                ne.copied = e.copied;
                ne.type = QCOW2_CLUSTER_ZERO_ALLOC;
            } else if (!full && (zero || node->backing || allocated) &&
                       s->version >= 3) {
                ne.type = QCOW2_CLUSTER_ZERO_PLAIN;
            } else {
                ne.type = QCOW2_CLUSTER_UNALLOCATED;
            }
            if (s->extl2) {
                if (ne.type == QCOW2_CLUSTER_ZERO_PLAIN || keep) {
                    ne.zero_bitmap = 0xffffffffu;
                }
                ne.type = keep ? QCOW2_CLUSTER_NORMAL
                               : QCOW2_CLUSTER_UNALLOCATED;
            }
        }
        if (s->extl2) {
            qcow2_ext_l2_entry_encode(&ne, s->cluster_bits, &entry, &bitmap);
        } else {
            entry = qcow2_l2_entry_encode(&ne, s->cluster_bits);
            bitmap = 0;
        }
        qcow2_l2_write(s, table, index, entry, bitmap);
        qcow2_cache_mark_dirty(s->l2_cache, table);
        qcow2_cache_put(s->l2_cache, &table);
        if (free_old && e.type != QCOW2_CLUSTER_UNALLOCATED &&
            e.type != QCOW2_CLUSTER_ZERO_PLAIN) {
            g_array_append_val(frees, e);
        }
        offset += n;
    }
    return 0;
}

/* zero_or_discard_entries, then the references the old entries held. */
static int zero_or_discard(BlockNode *node, uint64_t offset, uint64_t bytes,
                           ZeroDiscardMode mode, bool unmap)
{
    Qcow2State *s = node->opaque;
    g_autoptr(GArray) frees = g_array_new(false, false, sizeof(Qcow2L2Entry));
    int ret = zero_or_discard_entries(node, offset, bytes, mode, unmap,
                                      frees);
    int ret2 = qcow2_free_entries(node, (Qcow2L2Entry *)frees->data,
                                  frees->len);

    if (ret >= 0) {
        ret = ret2;
    }
    for (guint i = 0; ret >= 0 && mode != ZD_ZERO && i < frees->len; i++) {
        Qcow2L2Entry *e = &g_array_index(frees, Qcow2L2Entry, i);
        uint64_t rc;

        if (e->type == QCOW2_CLUSTER_NORMAL &&
            qcow2_get_refcount(node, e->host_offset >> s->cluster_bits,
                               &rc) == 0 && rc == 0) {
            /* Pass the discard on to the file (advisory). */
            block_pdiscard_co(node->file, (int64_t)e->host_offset,
                              (int64_t)s->cluster_size);
        }
    }
    return ret;
}

int qcow2_co_pwrite_zeroes(BlockNode *node, int64_t offset, int64_t bytes,
                           BlockReqFlags flags)
{
    Qcow2State *s = node->opaque;
    int ret;

    if (s->version < 3) {
        return -ENOTSUP;
    }
    qx_co_mutex_lock(&s->lock);
    ret = qcow2_mark_dirty(node);
    if (ret >= 0) {
        ret = zero_or_discard(node, (uint64_t)offset, (uint64_t)bytes,
                              ZD_ZERO, flags & BLOCK_REQ_MAY_UNMAP);
    }
    qx_co_mutex_unlock(&s->lock);
    return ret;
}

int qcow2_co_pdiscard(BlockNode *node, int64_t offset, int64_t bytes)
{
    Qcow2State *s = node->opaque;
    int ret;

    qx_co_mutex_lock(&s->lock);
    ret = qcow2_mark_dirty(node);
    if (ret >= 0) {
        ret = zero_or_discard(node, (uint64_t)offset, (uint64_t)bytes,
                              ZD_DISCARD, true);
    }
    qx_co_mutex_unlock(&s->lock);
    return ret;
}

/*
 * QEMU's heuristic for a metadata-preallocated image: clearly more
 * clusters have a refcount than the file really stores (10% and 2
 * clusters of slack).  Only then may data clusters be holes in the file,
 * so only then does block status ask the file.  Called with s->lock held.
 */
static bool detect_metadata_prealloc(BlockNode *node)
{
    Qcow2State *s = node->opaque;
    BlockNode *file = node->file->node;
    int64_t length = block_node_get_size(file);
    int64_t real = block_get_allocated_file_size_co(file);
    uint64_t real_clusters, threshold, nb;

    if (length < 0 || real < 0) {
        return false;
    }
    real_clusters = (uint64_t)real / s->cluster_size;
    threshold = MAX(real_clusters * 10 / 9, real_clusters + 2);
    nb = ((uint64_t)length + s->cluster_size - 1) / s->cluster_size;
    for (uint64_t i = 0; i < nb; i++) {
        uint64_t rc;

        if (qcow2_get_refcount(node, i, &rc) < 0) {
            return false;
        }
        if (rc > 0 && --threshold == 0) {
            return true;
        }
    }
    return false;
}

int qcow2_co_block_status(BlockNode *node, bool want_zero, int64_t offset,
                          int64_t bytes, int64_t *pnum, int64_t *map,
                          BlockNode **file)
{
    Qcow2State *s = node->opaque;
    GranuleKind kind;
    uint64_t host, len;
    Qcow2L2Entry ce;
    int ret;

    if (s->broken) {
        return -EIO;
    }
    qx_co_mutex_lock(&s->lock);
    if (!s->prealloc_checked) {
        s->metadata_prealloc = detect_metadata_prealloc(node);
        s->prealloc_checked = true;
    }
    ret = get_extent(node, (uint64_t)offset, (uint64_t)bytes, &kind, &host,
                     &len, &ce);
    qx_co_mutex_unlock(&s->lock);
    if (ret < 0) {
        return ret;
    }
    *pnum = (int64_t)len;
    switch (kind) {
    case GRAN_DATA:
        *map = (int64_t)host;
        *file = node->file->node;
        return BLOCK_STATUS_DATA | BLOCK_STATUS_OFFSET_VALID |
               (s->metadata_prealloc ? BLOCK_STATUS_ZERO_FROM_FILE : 0);
    case GRAN_COMPRESSED:
        return BLOCK_STATUS_DATA;
    default:
        /* Zero or unallocated: the host cluster still shows, as in QEMU. */
        ret = kind == GRAN_ZERO ? BLOCK_STATUS_ZERO : 0;
        if (host) {
            *map = (int64_t)host;
            *file = node->file->node;
            ret |= BLOCK_STATUS_OFFSET_VALID;
        }
        return ret;
    }
}

void qcow2_data_io_end(Qcow2State *s)
{
    if (--s->data_io_in_flight == 0) {
        qx_co_queue_restart_all(&s->data_io_queue);
    }
}

void qcow2_wait_data_io(Qcow2State *s)
{
    while (s->data_io_in_flight) {
        qx_co_queue_wait(&s->data_io_queue, &s->lock);
    }
}

int qcow2_flush_caches_locked(BlockNode *node)
{
    Qcow2State *s = node->opaque;
    int ret = qcow2_cache_write(node, s->l2_cache);

    if (ret >= 0) {
        ret = qcow2_cache_write(node, s->rb_cache);
    }
    return ret;
}

int qcow2_co_flush(BlockNode *node)
{
    Qcow2State *s = node->opaque;
    int ret;

    if (node->read_only) {
        return 0;
    }
    qx_co_mutex_lock(&s->lock);
    ret = qcow2_flush_caches_locked(node);
    qx_co_mutex_unlock(&s->lock);
    return ret;
}

int qcow2_write_size(BlockNode *node, uint64_t size)
{
    Qcow2State *s = node->opaque;
    uint8_t buf[8];
    int ret;

    qcow2_put_be64(buf, size);
    ret = block_pwrite_co(node->file, 24, 8, buf, 0);
    if (ret >= 0) {
        ret = block_flush_co(node->file->node);
    }
    if (ret >= 0) {
        s->size = size;
        s->hdr.size = size;
    }
    return ret;
}

int qcow2_mark_dirty(BlockNode *node)
{
    Qcow2State *s = node->opaque;

    if (s->dirty_marked || s->version < 3 ||
        !(s->compat & QCOW2_COMPAT_LAZY_REFCOUNTS)) {
        return 0;
    }
    s->dirty_marked = true;
    return qcow2_write_incompat(node, s->incompat | QCOW2_INCOMPAT_DIRTY);
}

int qcow2_mark_clean(BlockNode *node)
{
    Qcow2State *s = node->opaque;
    int ret;

    if (!s->dirty_marked) {
        return 0;
    }
    ret = block_flush_co(node->file->node);
    if (ret >= 0) {
        ret = qcow2_write_incompat(node, s->incompat & ~QCOW2_INCOMPAT_DIRTY);
    }
    if (ret >= 0) {
        s->dirty_marked = false;
    }
    return ret;
}

/*
 * Gives every cluster of [start, end) that has none a host cluster (and
 * L2 tables), reading as zeroes; falloc/full then have the file allocate
 * the new tail.  Lock held.
 */
static int preallocate(BlockNode *node, uint64_t start, uint64_t end,
                       BlockPreallocMode prealloc, Error **errp)
{
    Qcow2State *s = node->opaque;
    int64_t file_len = block_getlength_co(node->file->node);
    uint64_t file_end = file_len > 0 ? (uint64_t)file_len : 0;
    int ret = 0;

    if (file_len < 0) {
        error_setg_errno(errp, (int)-file_len, "Could not get file size");
        return (int)file_len;
    }
    for (uint64_t g = qcow2_start_of_cluster(s, start); g < end;
         g += s->cluster_size) {
        uint64_t entry, bitmap, index;
        Qcow2L2Entry e, ne = { 0 };
        uint8_t *table;
        int64_t host;

        ret = qcow2_get_l2_table(node, g, true, &table, &index);
        if (ret < 0) {
            break;
        }
        qcow2_l2_read(s, table, index, &entry, &bitmap);
        ret = qcow2_decode_entry(node, g, entry, bitmap, &e);
        if (ret < 0 || e.host_offset) {
            qcow2_cache_put(s->l2_cache, &table);
            if (ret < 0) {
                break;
            }
            continue;
        }
        host = qcow2_alloc_clusters(node, s->cluster_size);
        if (host < 0) {
            qcow2_cache_put(s->l2_cache, &table);
            ret = (int)host;
            break;
        }
        if ((uint64_t)host < file_end) {
            /* A reused cluster: its old bytes must not show. */
            ret = block_pwrite_zeroes_co(node->file, host,
                                         (int64_t)s->cluster_size, 0);
        }
        file_end = MAX(file_end, (uint64_t)host + s->cluster_size);
        ne.type = QCOW2_CLUSTER_NORMAL;
        ne.copied = true;
        ne.host_offset = (uint64_t)host;
        ne.alloc_bitmap = 0xffffffffu;
        if (s->extl2) {
            qcow2_ext_l2_entry_encode(&ne, s->cluster_bits, &entry, &bitmap);
        } else {
            entry = qcow2_l2_entry_encode(&ne, s->cluster_bits);
            bitmap = 0;
        }
        if (ret >= 0) {
            qcow2_l2_write(s, table, index, entry, bitmap);
            qcow2_cache_mark_dirty(s->l2_cache, table);
        }
        qcow2_cache_put(s->l2_cache, &table);
        if (ret < 0) {
            break;
        }
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not preallocate metadata");
        return ret;
    }
    if (prealloc != BLOCK_PREALLOC_METADATA &&
        file_len >= 0 && file_end > (uint64_t)file_len) {
        return block_truncate_co(node->file, (int64_t)file_end, false,
                                 prealloc, 0, errp);
    }
    if (file_len >= 0 && file_end > (uint64_t)file_len) {
        /* metadata: the file covers the new clusters (sparse). */
        return block_truncate_co(node->file, (int64_t)file_end, false,
                                 BLOCK_PREALLOC_OFF, 0, errp);
    }
    return 0;
}

/*
 * After a shrink, like QEMU: cut the file after its last used cluster
 * (refcounts written first, so that what stays is consistent).  A
 * failure only leaves unused space behind.  Lock held.
 */
static int truncate_file_tail(BlockNode *node)
{
    Qcow2State *s = node->opaque;
    int64_t len = block_getlength_co(node->file->node);
    uint64_t c;
    int ret;

    if (len <= 0) {
        return 0;
    }
    ret = qcow2_flush_caches_locked(node);
    if (ret >= 0) {
        ret = block_flush_co(node->file->node);
    }
    if (ret < 0) {
        return ret;
    }
    for (c = ((uint64_t)len + s->cluster_size - 1) >> s->cluster_bits; c > 0;
         c--) {
        uint64_t rc;
        ret = qcow2_get_refcount(node, c - 1, &rc);
        if (ret < 0) {
            return ret;
        }
        if (rc) {
            break;
        }
    }
    if ((c << s->cluster_bits) < (uint64_t)len) {
        Error *err = NULL;
        if (block_truncate_co(node->file, (int64_t)(c << s->cluster_bits),
                              false, BLOCK_PREALLOC_OFF, 0, &err) < 0) {
            warn_report("Failed to truncate the tail of the image: %s",
                        error_get_pretty(err));
            error_free(err);
        }
        s->free_cluster_index = MIN(s->free_cluster_index, c);
    }
    return 0;
}

int qcow2_co_truncate(BlockNode *node, int64_t offset, bool exact,
                      BlockPreallocMode prealloc, BlockReqFlags flags,
                      Error **errp)
{
    Qcow2State *s = node->opaque;
    uint64_t new_size = (uint64_t)offset;
    int ret;

    if (offset & 511) {
        error_setg(errp, "The new size must be a multiple of 512");
        return -EINVAL;
    }
    if (prealloc != BLOCK_PREALLOC_OFF && new_size < s->size) {
        error_setg(errp, "Preallocation can't be used for shrinking an "
                         "image");
        return -EINVAL;
    }
    if (s->hdr.nb_snapshots && new_size < s->size) {
        error_setg(errp, "Can't resize an image which has snapshots");
        return -ENOTSUP;
    }
    if (s->broken) {
        error_setg(errp, "Image is corrupt");
        return -EIO;
    }
    qx_co_mutex_lock(&s->lock);
    if (new_size < s->size) {
        /* Drop every cluster past the new end, then the L2 tables. */
        uint64_t start = (uint64_t)block_align_up((int64_t)new_size,
                                                  (int64_t)s->cluster_size);
        uint64_t new_l1 = qcow2_size_to_l1(s, new_size);
        if (start < s->size) {
            ret = zero_or_discard(node, start, s->size - start,
                                  ZD_FULL_DISCARD, true);
            if (ret < 0) {
                goto fail_errno;
            }
        }
        ret = qcow2_flush_caches_locked(node);
        if (ret < 0) {
            goto fail_errno;
        }
        for (uint64_t i = new_l1; i < s->l1_size; i++) {
            uint64_t l2 = qcow2_l1_entry_offset(s->l1[i]);
            uint8_t zero[8] = { 0 };
            if (!l2) {
                continue;
            }
            s->l1[i] = 0;
            ret = block_pwrite_co(node->file,
                                  (int64_t)(s->l1_offset + i * 8), 8, zero,
                                  0);
            if (ret >= 0) {
                /* The L1 entry is gone on disk before the table is freed */
                ret = block_flush_co(node->file->node);
            }
            if (ret < 0) {
                goto fail_errno;
            }
            qcow2_cache_discard(s->l2_cache, l2);
            qcow2_metamap_remove(&s->metamap, QCOW2_OL_ACTIVE_L2, l2);
            ret = qcow2_free_clusters(node, l2, s->cluster_size);
            if (ret < 0) {
                goto fail_errno;
            }
        }
        ret = truncate_file_tail(node);
        if (ret < 0) {
            goto fail_errno;
        }
    } else {
        ret = qcow2_grow_l1(node, qcow2_size_to_l1(s, new_size));
        if (ret >= 0 && prealloc != BLOCK_PREALLOC_OFF) {
            ret = preallocate(node, s->size, new_size, prealloc, errp);
            if (ret < 0) {
                qx_co_mutex_unlock(&s->lock);
                return ret;
            }
        }
        if (ret < 0) {
            goto fail_errno;
        }
    }
    ret = qcow2_flush_caches_locked(node);
    if (ret >= 0) {
        ret = block_flush_co(node->file->node);
    }
    if (ret >= 0) {
        ret = qcow2_write_size(node, new_size);
    }
    if (ret < 0) {
        goto fail_errno;
    }
    qx_co_mutex_unlock(&s->lock);
    return 0;

fail_errno:
    qx_co_mutex_unlock(&s->lock);
    error_setg_errno(errp, -ret, "Failed to resize qcow2 image");
    return ret;
}
