/*
 * qcow2 compressed clusters: zlib (raw deflate, 4 KiB window) and zstd
 * streams, (de)compressed on the graph's worker threads so that the loop
 * thread keeps serving other requests.
 */
#include <zlib.h>
#include <zstd.h>

#include "qcow2-int.h"

typedef struct CompressJob {
    uint8_t compression_type;
    const uint8_t *src;
    size_t src_len;
    uint8_t *dest;
    size_t dest_len;
} CompressJob;

/* Inflates exactly dest_len bytes; trailing input is ignored. */
static int zlib_decompress(CompressJob *j)
{
    z_stream strm = { 0 };
    int ret;

    if (inflateInit2(&strm, -12) != Z_OK) {
        return -EIO;
    }
    strm.next_in = (Bytef *)j->src;
    strm.avail_in = (uInt)j->src_len;
    strm.next_out = j->dest;
    strm.avail_out = (uInt)j->dest_len;
    ret = inflate(&strm, Z_FINISH);
    if ((ret == Z_STREAM_END || ret == Z_BUF_ERROR) && strm.avail_out == 0) {
        ret = 0;
    } else {
        ret = -EIO;
    }
    inflateEnd(&strm);
    return ret;
}

static int zstd_decompress(CompressJob *j)
{
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    ZSTD_inBuffer in = { j->src, j->src_len, 0 };
    ZSTD_outBuffer out = { j->dest, j->dest_len, 0 };
    int ret = -EIO;

    if (!dctx) {
        return -ENOMEM;
    }
    /* The stream may be followed by padding: stop once the cluster is full. */
    while (out.pos < out.size) {
        size_t zret = ZSTD_decompressStream(dctx, &out, &in);
        if (ZSTD_isError(zret)) {
            break;
        }
        if (out.pos == out.size) {
            ret = 0;
            break;
        }
        if (in.pos == in.size || zret == 0) {
            break;
        }
    }
    ZSTD_freeDCtx(dctx);
    return ret;
}

/*
 * Deflates src into at most dest_len bytes: the size, or -ENOSPC when it
 * does not fit (the cluster is then stored uncompressed).
 */
static int zlib_compress(CompressJob *j)
{
    z_stream strm = { 0 };
    int ret;

    if (deflateInit2(&strm, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return -EIO;
    }
    strm.next_in = (Bytef *)j->src;
    strm.avail_in = (uInt)j->src_len;
    strm.next_out = j->dest;
    strm.avail_out = (uInt)j->dest_len;
    ret = deflate(&strm, Z_FINISH);
    ret = ret == Z_STREAM_END ? (int)(j->dest_len - strm.avail_out)
                              : -ENOSPC;
    deflateEnd(&strm);
    return ret;
}

static int zstd_compress(CompressJob *j)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_inBuffer in = { j->src, j->src_len, 0 };
    ZSTD_outBuffer out = { j->dest, j->dest_len, 0 };
    size_t zret;
    int ret;

    if (!cctx) {
        return -ENOMEM;
    }
    do {
        zret = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end);
    } while (!ZSTD_isError(zret) && zret != 0 && out.pos < out.size);
    ret = ZSTD_isError(zret) || zret != 0 ? -ENOSPC : (int)out.pos;
    ZSTD_freeCCtx(cctx);
    return ret;
}

static int compress_work(void *opaque)
{
    CompressJob *j = opaque;

    return j->compression_type == QCOW2_COMPRESSION_ZSTD ? zstd_compress(j)
                                                         : zlib_compress(j);
}

static int decompress_work(void *opaque)
{
    CompressJob *j = opaque;

    switch (j->compression_type) {
    case QCOW2_COMPRESSION_ZLIB:
        return zlib_decompress(j);
    case QCOW2_COMPRESSION_ZSTD:
        return zstd_decompress(j);
    default:
        return -EIO;
    }
}

int qcow2_read_compressed(BlockNode *node, const Qcow2L2Entry *e,
                          uint8_t *buf)
{
    Qcow2State *s = node->opaque;
    uint64_t start = e->host_offset;
    uint64_t end = (start & ~511ull) + e->compressed_size;
    uint64_t len;
    g_autofree uint8_t *src = NULL;
    CompressJob job;
    int ret;

    if (end <= start) {
        return -EIO;
    }
    /* A compressed cluster never needs more than two clusters of input. */
    len = MIN(end - start, 2 * s->cluster_size);
    src = g_try_malloc(len);
    if (!src) {
        return -ENOMEM;
    }
    ret = block_pread_co(node->file, (int64_t)start, (int64_t)len, src, 0);
    if (ret < 0) {
        return ret;
    }
    job = (CompressJob){
        .compression_type = s->compression_type,
        .src = src,
        .src_len = len,
        .dest = buf,
        .dest_len = s->cluster_size,
    };
    return qx_thread_pool_submit_co(block_graph_get_thread_pool(node->graph),
                                    decompress_work, &job);
}

/*
 * Writes one whole guest cluster (data, cluster_size bytes) compressed.
 * Like QEMU, the cluster must not have a host cluster yet; data that does
 * not compress is written normally.
 */
static int write_compressed_cluster(BlockNode *node, uint64_t guest,
                                    uint8_t *data, BlockIOVec *qiov,
                                    size_t qiov_offset, uint64_t bytes)
{
    Qcow2State *s = node->opaque;
    g_autofree uint8_t *out = g_malloc(s->cluster_size);
    uint64_t entry, bitmap, index, nb_sectors;
    Qcow2L2Entry e, ne = { 0 };
    CompressJob job = {
        .compression_type = s->compression_type,
        .src = data,
        .src_len = s->cluster_size,
        .dest = out,
        .dest_len = s->cluster_size - 1,
    };
    uint8_t *table;
    int64_t off;
    int len, ret;

    len = qx_thread_pool_submit_co(block_graph_get_thread_pool(node->graph),
                                   compress_work, &job);
    if (len == -ENOSPC) {
        return qcow2_co_pwritev(node, (int64_t)guest, (int64_t)bytes, qiov,
                                qiov_offset, 0);
    }
    if (len < 0) {
        return len;
    }

    qx_co_mutex_lock(&s->lock);
    ret = qcow2_mark_dirty(node);
    if (ret < 0) {
        goto out_unlock;
    }
    ret = qcow2_get_l2_table(node, guest, true, &table, &index);
    if (ret < 0) {
        goto out_unlock;
    }
    qcow2_l2_read(s, table, index, &entry, &bitmap);
    ret = qcow2_decode_entry(node, guest, entry, bitmap, &e);
    if (ret >= 0 && e.host_offset) {
        ret = -EIO; /* compression cannot overwrite an allocated cluster */
    }
    if (ret < 0) {
        goto out_put;
    }
    off = qcow2_alloc_bytes(node, (uint64_t)len);
    if (off < 0) {
        ret = (int)off;
        goto out_put;
    }
    if (qcow2_metamap_check(&s->metamap, (uint64_t)off, (uint64_t)len,
                            s->cluster_bits, 0)) {
        ret = qcow2_signal_corruption(node, off, len, "Preventing invalid "
                                      "write on metadata (compressed data)");
        goto out_put;
    }
    ret = block_pwrite_co(node->file, off, len, out, 0);
    if (ret < 0) {
        goto out_put;
    }
    nb_sectors = (((uint64_t)off + (uint64_t)len - 1) >> 9) -
                 ((uint64_t)off >> 9) + 1;
    ne.type = QCOW2_CLUSTER_COMPRESSED;
    ne.host_offset = (uint64_t)off;
    ne.compressed_size = nb_sectors * 512;
    entry = qcow2_l2_entry_encode(&ne, s->cluster_bits);
    qcow2_l2_write(s, table, index, entry, 0);
    qcow2_cache_mark_dirty(s->l2_cache, table);
out_put:
    qcow2_cache_put(s->l2_cache, &table);
out_unlock:
    qx_co_mutex_unlock(&s->lock);
    return ret;
}

int qcow2_co_pwritev_compressed(BlockNode *node, int64_t offset,
                                int64_t bytes, BlockIOVec *qiov,
                                size_t qiov_offset)
{
    Qcow2State *s = node->opaque;
    g_autofree uint8_t *buf = g_malloc(s->cluster_size);

    if (qcow2_offset_into_cluster(s, (uint64_t)offset)) {
        return -EINVAL;
    }
    while (bytes > 0) {
        uint64_t n = MIN((uint64_t)bytes, s->cluster_size);
        int ret;

        /* Only the last cluster of the image may be partial. */
        if (n < s->cluster_size && (uint64_t)offset + n < s->size) {
            return -EINVAL;
        }
        if (s->broken) {
            return -EIO;
        }
        memset(buf, 0, s->cluster_size);
        block_iov_to_buf(qiov, qiov_offset, buf, n);
        ret = write_compressed_cluster(node, (uint64_t)offset, buf, qiov,
                                       qiov_offset, n);
        if (ret < 0) {
            return ret;
        }
        offset += (int64_t)n;
        bytes -= (int64_t)n;
        qiov_offset += n;
    }
    return 0;
}
