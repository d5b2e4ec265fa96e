/*
 * The generic data path: every read, write, zero write and discard of a
 * node enters here and reaches the driver only in the shape driver.h
 * promises (aligned, split at max_transfer, within bounds, with only the
 * flags the driver supports).
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "internal.h"

/* Largest bounce buffer used for one step of an unaligned request. */
#define BOUNCE_MAX (1 * 1024 * 1024)

void block_io_init_node(BlockNode *node)
{
    qx_co_queue_init(&node->drain_queue);
    qx_co_queue_init(&node->flush_queue);
}

void block_inc_in_flight(BlockNode *node)
{
    node->in_flight++;
}

void block_dec_in_flight(BlockNode *node)
{
    assert(node->in_flight > 0);
    if (--node->in_flight == 0) {
        qx_co_queue_restart_all(&node->drain_queue);
    }
}

int block_check_request(int64_t offset, int64_t bytes)
{
    if (offset < 0 || bytes < 0) {
        return -EIO;
    }
    if (bytes > BLOCK_MAX_LENGTH || offset > BLOCK_MAX_LENGTH - bytes) {
        return -EIO;
    }
    return 0;
}

/* ---- Request tracking --------------------------------------------------- */

static bool ranges_overlap(int64_t a, int64_t alen, int64_t b, int64_t blen)
{
    return a < b + blen && b < a + alen;
}

/*
 * Registers a request; writes then wait for older overlapping writes when
 * either side is a read-modify-write (serialising).  Waiting only ever
 * goes to older requests, so there are no cycles.  The overlap range is
 * widened to the node's alignment so that RMW neighbours see each other.
 */
static void track_begin(BlockNode *node, BlockTrackedRequest *req,
                        int64_t offset, int64_t bytes, bool is_write,
                        bool serialising)
{
    int64_t align = node->limits.request_alignment;

    memset(req, 0, sizeof(*req));
    req->node = node;
    req->offset = block_align_down(offset, align);
    req->bytes = block_align_up(offset + bytes, align) - req->offset;
    req->is_write = is_write;
    req->serialising = serialising;
    req->seq = node->graph->next_request_seq++;
    qx_co_queue_init(&req->wait_queue);
    req->next = node->tracked;
    if (node->tracked) {
        node->tracked->prev = req;
    }
    node->tracked = req;
    block_inc_in_flight(node);

    if (!is_write) {
        return;
    }
retry:
    for (BlockTrackedRequest *r = node->tracked; r; r = r->next) {
        if (r == req || r->seq > req->seq || !r->is_write) {
            continue;
        }
        if (!r->serialising && !req->serialising) {
            continue;
        }
        if (ranges_overlap(r->offset, r->bytes, req->offset, req->bytes)) {
            qx_co_queue_wait(&r->wait_queue, NULL);
            goto retry;
        }
    }
}

static void track_end(BlockTrackedRequest *req)
{
    BlockNode *node = req->node;

    if (req->prev) {
        req->prev->next = req->next;
    } else {
        node->tracked = req->next;
    }
    if (req->next) {
        req->next->prev = req->prev;
    }
    qx_co_queue_restart_all(&req->wait_queue);
    block_dec_in_flight(node);
}

/* ---- Reads -------------------------------------------------------------- */

static uint64_t max_transfer_of(const BlockNode *node)
{
    uint64_t align = node->limits.request_alignment;
    uint64_t max = node->limits.max_transfer;

    if (max == 0 || max > (uint64_t)BLOCK_REQUEST_MAX_BYTES) {
        max = BLOCK_REQUEST_MAX_BYTES;
    }
    max -= max % align;
    return max ? max : align;
}

/*
 * offset and bytes are aligned; qiov's buffers suit the node.  Clips at
 * the (aligned) end of the node and zero-fills beyond it; splits at
 * max_transfer.
 */
static int read_aligned(BlockNode *node, int64_t offset, int64_t bytes,
                        BlockIOVec *qiov, size_t qiov_offset,
                        BlockReqFlags flags)
{
    int64_t align = node->limits.request_alignment;
    int64_t end = block_align_up(node->total_size, align);
    int64_t readable = offset >= end ? 0 : MIN(bytes, end - offset);
    uint64_t max = max_transfer_of(node);
    int64_t done = 0;

    while (done < readable) {
        int64_t n = MIN((uint64_t)(readable - done), max);
        int ret = node->drv->preadv_co(node, offset + done, n, qiov,
                                       qiov_offset + (size_t)done, flags);
        if (ret < 0) {
            return ret;
        }
        done += n;
    }
    if (readable < bytes) {
        block_iov_memset(qiov, qiov_offset + (size_t)readable, 0,
                         (size_t)(bytes - readable));
    }
    return 0;
}

static bool qiov_suits_node(const BlockNode *node, BlockIOVec *qiov,
                            size_t qiov_offset, int64_t bytes)
{
    return block_iov_is_aligned(qiov, qiov_offset, (size_t)bytes,
                                node->limits.min_mem_alignment);
}

/* Reads through bounce buffers, one aligned window at a time. */
static int read_bounced(BlockNode *node, int64_t offset, int64_t bytes,
                        BlockIOVec *qiov, size_t qiov_offset,
                        BlockReqFlags flags)
{
    int64_t align = node->limits.request_alignment;
    int64_t start = block_align_down(offset, align);
    int64_t end = block_align_up(offset + bytes, align);
    int64_t window = MAX(block_align_down(BOUNCE_MAX, align), align);
    uint8_t *buf = block_node_blockalign(node, (size_t)MIN(window,
                                                           end - start));
    int ret = 0;

    for (int64_t pos = start; pos < end; pos += window) {
        int64_t len = MIN(window, end - pos);
        BlockIOVec bounce;
        block_iov_init_buf(&bounce, buf, (size_t)len);
        ret = read_aligned(node, pos, len, &bounce, 0, flags);
        if (ret < 0) {
            break;
        }
        int64_t from = MAX(pos, offset);
        int64_t to = MIN(pos + len, offset + bytes);
        block_iov_from_buf(qiov, qiov_offset + (size_t)(from - offset),
                           buf + (from - pos), (size_t)(to - from));
    }
    block_node_vfree(buf);
    return ret;
}

int block_preadv_co(BlockChild *child, int64_t offset, int64_t bytes,
                    BlockIOVec *qiov, size_t qiov_offset,
                    BlockReqFlags flags)
{
    BlockNode *node = child->node;
    int64_t align = node->limits.request_alignment;
    BlockTrackedRequest req;
    int ret;

    ret = block_check_request(offset, bytes);
    if (ret < 0 || bytes == 0) {
        return ret;
    }
    if (!node->drv->preadv_co) {
        return -ENOTSUP;
    }
    assert(qiov_offset + (size_t)bytes <= qiov->size);
    flags &= ~(BLOCK_REQ_ZERO_WRITE | BLOCK_REQ_SERIALISING);

    track_begin(node, &req, offset, bytes, false, false);
    if (offset % align == 0 && bytes % align == 0 &&
        qiov_suits_node(node, qiov, qiov_offset, bytes)) {
        ret = read_aligned(node, offset, bytes, qiov, qiov_offset, flags);
    } else {
        ret = read_bounced(node, offset, bytes, qiov, qiov_offset, flags);
    }
    track_end(&req);
    return ret;
}

int block_pread_co(BlockChild *child, int64_t offset, int64_t bytes,
                   void *buf, BlockReqFlags flags)
{
    BlockIOVec qiov;

    if (bytes < 0) {
        return -EIO;
    }
    block_iov_init_buf(&qiov, buf, (size_t)bytes);
    return block_preadv_co(child, offset, bytes, &qiov, 0, flags);
}

/* ---- Writes and zero writes --------------------------------------------- */

static int write_zeroes_aligned(BlockNode *node, int64_t offset,
                                int64_t bytes, BlockReqFlags flags);

/* Completes a successful write: generation and (protocol) growth. */
static void write_done(BlockNode *node, int64_t offset, int64_t bytes)
{
    node->write_gen++;
    if (offset + bytes > node->total_size) {
        node->total_size = block_round_len(offset + bytes);
    }
}

/*
 * offset and bytes aligned, qiov suits the node (or flags has ZERO_WRITE
 * and qiov is NULL).  Splits at max_transfer; emulates FUA.
 */
static int write_aligned(BlockNode *node, int64_t offset, int64_t bytes,
                         BlockIOVec *qiov, size_t qiov_offset,
                         BlockReqFlags flags)
{
    uint64_t max = max_transfer_of(node);
    bool emulate_fua = (flags & BLOCK_REQ_FUA) &&
                       !(node->supported_write_flags & BLOCK_REQ_FUA);
    int64_t done = 0;
    int ret = 0;

    if (flags & BLOCK_REQ_ZERO_WRITE) {
        return write_zeroes_aligned(node, offset, bytes, flags);
    }
    if (emulate_fua) {
        flags &= ~BLOCK_REQ_FUA;
    }
    if ((flags & BLOCK_REQ_WRITE_COMPRESSED) &&
        !(node->supported_write_flags & BLOCK_REQ_WRITE_COMPRESSED)) {
        /* Compression cannot be emulated: say so rather than drop it. */
        return -ENOTSUP;
    }
    flags &= node->supported_write_flags;
    while (done < bytes) {
        int64_t n = MIN((uint64_t)(bytes - done), max);
        ret = node->drv->pwritev_co(node, offset + done, n, qiov,
                                    qiov_offset + (size_t)done, flags);
        if (ret < 0) {
            return ret;
        }
        done += n;
    }
    write_done(node, offset, bytes);
    if (emulate_fua) {
        ret = block_flush_co(node);
    }
    return ret;
}

/*
 * Unaligned offset/bytes or buffers that do not suit the node: assembles
 * aligned windows in a bounce buffer, reading the partial first and last
 * blocks first (read-modify-write).  qiov NULL writes zeroes.  The caller
 * holds a serialising tracked request over the range.
 */
static int write_bounced(BlockNode *node, int64_t offset, int64_t bytes,
                         BlockIOVec *qiov, size_t qiov_offset,
                         BlockReqFlags flags)
{
    int64_t align = node->limits.request_alignment;
    int64_t start = block_align_down(offset, align);
    int64_t end = block_align_up(offset + bytes, align);
    int64_t window = MAX(block_align_down(BOUNCE_MAX, align), align);
    uint8_t *buf = block_node_blockalign(node, (size_t)MIN(window,
                                                           end - start));
    int ret = 0;

    flags &= ~BLOCK_REQ_ZERO_WRITE;
    for (int64_t pos = start; pos < end && ret == 0; pos += window) {
        int64_t len = MIN(window, end - pos);
        int64_t from = MAX(pos, offset);
        int64_t to = MIN(pos + len, offset + bytes);
        BlockIOVec bounce;

        block_iov_init_buf(&bounce, buf, (size_t)len);
        if (from > pos) {
            /* Partial head block of this window. */
            BlockIOVec head;
            block_iov_init_buf(&head, buf, (size_t)align);
            ret = read_aligned(node, pos, align, &head, 0, 0);
        }
        if (ret == 0 && to < pos + len &&
            (to - pos >= align || from == pos)) {
            /* Partial tail block not already read as the head block. */
            BlockIOVec tail;
            int64_t tpos = block_align_down(to, align);
            block_iov_init_buf(&tail, buf + (tpos - pos), (size_t)align);
            ret = read_aligned(node, tpos, align, &tail, 0, 0);
        }
        if (ret < 0) {
            break;
        }
        if (qiov) {
            block_iov_to_buf(qiov, qiov_offset + (size_t)(from - offset),
                             buf + (from - pos), (size_t)(to - from));
        } else {
            memset(buf + (from - pos), 0, (size_t)(to - from));
        }
        ret = write_aligned(node, pos, len, &bounce, 0, flags);
    }
    block_node_vfree(buf);
    return ret;
}

/* Writes zero buffers over an aligned range (the zero-write fallback). */
static int write_zero_buffers(BlockNode *node, int64_t offset, int64_t bytes,
                              BlockReqFlags flags)
{
    int64_t align = node->limits.request_alignment;
    int64_t chunk = MIN((int64_t)max_transfer_of(node),
                        MAX(block_align_down(BOUNCE_MAX, align), align));
    uint8_t *buf = block_node_blockalign(node, (size_t)MIN(chunk, bytes));
    int ret = 0;

    memset(buf, 0, (size_t)MIN(chunk, bytes));
    flags &= ~(BLOCK_REQ_ZERO_WRITE | BLOCK_REQ_MAY_UNMAP |
               BLOCK_REQ_NO_FALLBACK);
    for (int64_t done = 0; done < bytes && ret == 0;) {
        int64_t n = MIN(chunk, bytes - done);
        BlockIOVec qiov;
        block_iov_init_buf(&qiov, buf, (size_t)n);
        ret = write_aligned(node, offset + done, n, &qiov, 0, flags);
        done += n;
    }
    block_node_vfree(buf);
    return ret;
}

/*
 * Zeroes an aligned range: the driver's write_zeroes for the part aligned
 * to its zero granularity, zero buffers for the rest and as a fallback.
 */
static int write_zeroes_aligned(BlockNode *node, int64_t offset,
                                int64_t bytes, BlockReqFlags flags)
{
    const BlockDriver *drv = node->drv;
    int64_t zalign = MAX(node->limits.pwrite_zeroes_alignment,
                         node->limits.request_alignment);
    int64_t max = node->limits.max_pwrite_zeroes
                      ? (int64_t)node->limits.max_pwrite_zeroes
                      : BLOCK_REQUEST_MAX_BYTES;
    bool emulate_fua = (flags & BLOCK_REQ_FUA) &&
                       !(node->supported_zero_flags & BLOCK_REQ_FUA);
    int ret = 0;

    max = MAX(block_align_down(max, zalign), zalign);
    if (emulate_fua) {
        flags &= ~BLOCK_REQ_FUA;
    }
    while (bytes > 0 && ret == 0) {
        int64_t head = offset % zalign;
        int64_t n;
        bool use_driver = drv->pwrite_zeroes_co != NULL;

        if (head) {
            n = MIN(bytes, zalign - head);
            use_driver = false;
        } else if (bytes < zalign) {
            n = bytes;
            use_driver = false;
        } else {
            n = MIN(block_align_down(bytes, zalign), max);
        }
        ret = -ENOTSUP;
        if (use_driver) {
            BlockReqFlags zflags =
                flags & node->supported_zero_flags &
                (BLOCK_REQ_MAY_UNMAP | BLOCK_REQ_FUA | BLOCK_REQ_NO_FALLBACK);
            ret = drv->pwrite_zeroes_co(node, offset, n, zflags);
            if (ret == 0) {
                write_done(node, offset, n);
            }
        }
        if (ret == -ENOTSUP) {
            if (flags & BLOCK_REQ_NO_FALLBACK) {
                return -ENOTSUP;
            }
            ret = write_zero_buffers(node, offset, n, flags);
        }
        offset += n;
        bytes -= n;
    }
    if (ret == 0 && emulate_fua) {
        ret = block_flush_co(node);
    }
    return ret;
}

static int check_writable(BlockChild *child)
{
    if (!child->node->drv->pwritev_co) {
        return -ENOTSUP;
    }
    if (child->node->read_only) {
        return -EPERM;
    }
    if (!(child->perm & (BLOCK_PERM_WRITE | BLOCK_PERM_WRITE_UNCHANGED))) {
        return -EPERM;
    }
    return 0;
}

/* The common write path of data and zero writes (qiov NULL). */
static int do_write(BlockChild *child, int64_t offset, int64_t bytes,
                    BlockIOVec *qiov, size_t qiov_offset,
                    BlockReqFlags flags)
{
    BlockNode *node = child->node;
    int64_t align = node->limits.request_alignment;
    BlockTrackedRequest req;
    bool unaligned;
    int ret;

    ret = block_check_request(offset, bytes);
    if (ret < 0 || bytes == 0) {
        return ret;
    }
    ret = check_writable(child);
    if (ret < 0) {
        return ret;
    }
    flags &= ~BLOCK_REQ_SERIALISING;
    if (!(flags & BLOCK_REQ_ZERO_WRITE) &&
        node->detect_zeroes != BLOCK_DETECT_ZEROES_OFF &&
        block_iov_is_zero(qiov, qiov_offset, (size_t)bytes)) {
        flags |= BLOCK_REQ_ZERO_WRITE;
        if (node->detect_zeroes == BLOCK_DETECT_ZEROES_UNMAP) {
            flags |= BLOCK_REQ_MAY_UNMAP;
        }
    }
    if (flags & BLOCK_REQ_ZERO_WRITE) {
        qiov = NULL;
        if (node->discard != BLOCK_DISCARD_UNMAP) {
            flags &= ~BLOCK_REQ_MAY_UNMAP;
        }
    }

    unaligned = offset % align != 0 || bytes % align != 0;
    track_begin(node, &req, offset, bytes, true, unaligned);
    if (!unaligned &&
        (!qiov || qiov_suits_node(node, qiov, qiov_offset, bytes))) {
        ret = write_aligned(node, offset, bytes, qiov, qiov_offset, flags);
    } else if (!qiov) {
        /* Zero write: aligned middle through the zero path, RMW edges. */
        int64_t mid_start = block_align_up(offset, align);
        int64_t mid_end = block_align_down(offset + bytes, align);
        ret = 0;
        if (mid_start >= mid_end) {
            ret = write_bounced(node, offset, bytes, NULL, 0, flags);
        } else {
            if (offset < mid_start) {
                ret = write_bounced(node, offset, mid_start - offset, NULL, 0,
                                    flags);
            }
            if (ret == 0) {
                ret = write_aligned(node, mid_start, mid_end - mid_start,
                                    NULL, 0, flags);
            }
            if (ret == 0 && mid_end < offset + bytes) {
                ret = write_bounced(node, mid_end, offset + bytes - mid_end,
                                    NULL, 0, flags);
            }
        }
    } else {
        ret = write_bounced(node, offset, bytes, qiov, qiov_offset, flags);
    }
    track_end(&req);
    return ret;
}

int block_pwritev_co(BlockChild *child, int64_t offset, int64_t bytes,
                     BlockIOVec *qiov, size_t qiov_offset,
                     BlockReqFlags flags)
{
    if (!(flags & BLOCK_REQ_ZERO_WRITE)) {
        assert(qiov && qiov_offset + (size_t)MAX(bytes, 0) <= qiov->size);
    }
    return do_write(child, offset, bytes, qiov, qiov_offset, flags);
}

int block_pwrite_co(BlockChild *child, int64_t offset, int64_t bytes,
                    const void *buf, BlockReqFlags flags)
{
    BlockIOVec qiov;

    if (bytes < 0) {
        return -EIO;
    }
    block_iov_init_buf(&qiov, (void *)buf, (size_t)bytes);
    return block_pwritev_co(child, offset, bytes, &qiov, 0, flags);
}

int block_pwrite_zeroes_co(BlockChild *child, int64_t offset, int64_t bytes,
                           BlockReqFlags flags)
{
    return do_write(child, offset, bytes, NULL, 0,
                    flags | BLOCK_REQ_ZERO_WRITE);
}

/* ---- Discard ------------------------------------------------------------ */

int block_pdiscard_co(BlockChild *child, int64_t offset, int64_t bytes)
{
    BlockNode *node = child->node;
    int64_t align;
    int64_t start;
    int64_t end;
    int64_t max;
    BlockTrackedRequest req;
    int ret;

    ret = block_check_request(offset, bytes);
    if (ret < 0) {
        return ret;
    }
    if (node->read_only) {
        return -EPERM;
    }
    if (!(child->perm & BLOCK_PERM_WRITE)) {
        return -EPERM;
    }
    if (node->discard != BLOCK_DISCARD_UNMAP || !node->drv->pdiscard_co) {
        return 0;
    }
    align = MAX(node->limits.pdiscard_alignment,
                node->limits.request_alignment);
    /* Discard is advisory: only whole granules are passed on. */
    start = block_align_up(offset, align);
    end = block_align_down(offset + bytes, align);
    if (start >= end) {
        return 0;
    }
    max = node->limits.max_pdiscard ? (int64_t)node->limits.max_pdiscard
                                    : BLOCK_REQUEST_MAX_BYTES;
    max = MAX(block_align_down(max, align), align);

    track_begin(node, &req, start, end - start, true, false);
    for (int64_t pos = start; pos < end;) {
        int64_t n = MIN(max, end - pos);
        ret = node->drv->pdiscard_co(node, pos, n);
        if (ret == -ENOTSUP) {
            ret = 0;
        }
        if (ret < 0) {
            break;
        }
        pos += n;
    }
    if (ret == 0) {
        node->write_gen++;
    }
    track_end(&req);
    return ret;
}
