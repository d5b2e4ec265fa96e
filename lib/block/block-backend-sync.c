/*
 * BlockBackend synchronous wrappers (tools) and callback forms (devices).
 */
#include <errno.h>

#include "internal.h"

typedef enum {
    BLK_OP_READ,
    BLK_OP_WRITE,
    BLK_OP_ZEROES,
    BLK_OP_DISCARD,
    BLK_OP_FLUSH,
    BLK_OP_STATUS,
    BLK_OP_TRUNCATE,
    BLK_OP_DRAIN,
} BlkOp;

typedef struct BlkRequest {
    BlockBackend *blk;
    BlkOp op;
    int64_t offset;
    int64_t bytes;
    void *buf;
    BlockIOVec *qiov;
    BlockReqFlags flags;
    /* status */
    int64_t *pnum;
    int64_t *map;
    BlockNode **file;
    /* truncate */
    bool exact;
    BlockPreallocMode prealloc;
    Error **errp;
    /* async */
    BlockCompletionFunc *cb;
    void *opaque;
    int ret;
} BlkRequest;

static void blk_request_entry(void *opaque)
{
    BlkRequest *r = opaque;
    BlockBackend *blk = r->blk;

    switch (r->op) {
    case BLK_OP_READ:
        r->ret = r->qiov ? blk_preadv_co(blk, r->offset, r->bytes, r->qiov,
                                         r->flags)
                         : blk_pread_co(blk, r->offset, r->bytes, r->buf,
                                        r->flags);
        break;
    case BLK_OP_WRITE:
        r->ret = r->qiov ? blk_pwritev_co(blk, r->offset, r->bytes, r->qiov,
                                          r->flags)
                         : blk_pwrite_co(blk, r->offset, r->bytes, r->buf,
                                         r->flags);
        break;
    case BLK_OP_ZEROES:
        r->ret = blk_pwrite_zeroes_co(blk, r->offset, r->bytes, r->flags);
        break;
    case BLK_OP_DISCARD:
        r->ret = blk_pdiscard_co(blk, r->offset, r->bytes);
        break;
    case BLK_OP_FLUSH:
        r->ret = blk_flush_co(blk);
        break;
    case BLK_OP_STATUS:
        r->ret = blk_block_status_co(blk, r->offset, r->bytes, r->pnum,
                                     r->map, r->file);
        break;
    case BLK_OP_TRUNCATE:
        r->ret = blk_truncate_co(blk, r->offset, r->exact, r->prealloc,
                                 r->flags, r->errp);
        break;
    case BLK_OP_DRAIN:
        blk_drain_co(blk);
        r->ret = 0;
        break;
    }
}

static int blk_run(BlkRequest *r)
{
    qx_co_run(blk_get_loop(r->blk), blk_request_entry, r);
    return r->ret;
}

int blk_pread(BlockBackend *blk, int64_t offset, int64_t bytes, void *buf,
              BlockReqFlags flags)
{
    BlkRequest r = {.blk = blk, .op = BLK_OP_READ, .offset = offset,
                    .bytes = bytes, .buf = buf, .flags = flags};
    return blk_run(&r);
}

int blk_pwrite(BlockBackend *blk, int64_t offset, int64_t bytes,
               const void *buf, BlockReqFlags flags)
{
    BlkRequest r = {.blk = blk, .op = BLK_OP_WRITE, .offset = offset,
                    .bytes = bytes, .buf = (void *)buf, .flags = flags};
    return blk_run(&r);
}

int blk_pwrite_zeroes(BlockBackend *blk, int64_t offset, int64_t bytes,
                      BlockReqFlags flags)
{
    BlkRequest r = {.blk = blk, .op = BLK_OP_ZEROES, .offset = offset,
                    .bytes = bytes, .flags = flags};
    return blk_run(&r);
}

int blk_pdiscard(BlockBackend *blk, int64_t offset, int64_t bytes)
{
    BlkRequest r = {.blk = blk, .op = BLK_OP_DISCARD, .offset = offset,
                    .bytes = bytes};
    return blk_run(&r);
}

int blk_flush(BlockBackend *blk)
{
    BlkRequest r = {.blk = blk, .op = BLK_OP_FLUSH};
    return blk_run(&r);
}

int blk_block_status(BlockBackend *blk, int64_t offset, int64_t bytes,
                     int64_t *pnum, int64_t *map, BlockNode **file)
{
    BlkRequest r = {.blk = blk, .op = BLK_OP_STATUS, .offset = offset,
                    .bytes = bytes, .pnum = pnum, .map = map, .file = file};
    return blk_run(&r);
}

int blk_truncate(BlockBackend *blk, int64_t offset, bool exact,
                 BlockPreallocMode prealloc, BlockReqFlags flags,
                 Error **errp)
{
    BlkRequest r = {.blk = blk, .op = BLK_OP_TRUNCATE, .offset = offset,
                    .exact = exact, .prealloc = prealloc, .flags = flags,
                    .errp = errp};
    return blk_run(&r);
}

void blk_drain(BlockBackend *blk)
{
    BlkRequest r = {.blk = blk, .op = BLK_OP_DRAIN};
    blk_run(&r);
}

/* ---- Callback forms ----------------------------------------------------- */

static void blk_aio_complete_bh(void *opaque)
{
    BlkRequest *r = opaque;

    r->cb(r->opaque, r->ret);
    blk_dec_in_flight(r->blk);
    g_free(r);
}

static void blk_aio_entry(void *opaque)
{
    BlkRequest *r = opaque;

    blk_request_entry(r);
    /* Complete from the loop, never from inside the submitter's call. */
    qx_loop_call_soon(blk_get_loop(r->blk), blk_aio_complete_bh, r);
}

static void blk_aio_start(BlkRequest *tmpl)
{
    BlkRequest *r = g_memdup2(tmpl, sizeof(*r));
    Coroutine *co = qx_coroutine_create(blk_aio_entry, r);

    /* Counted until the callback has run, so drain covers callbacks. */
    blk_inc_in_flight(r->blk);

    qx_coroutine_enter(co);
}

void blk_aio_preadv(BlockBackend *blk, int64_t offset, BlockIOVec *qiov,
                    BlockReqFlags flags, BlockCompletionFunc *cb,
                    void *opaque)
{
    BlkRequest r = {.blk = blk, .op = BLK_OP_READ, .offset = offset,
                    .bytes = (int64_t)qiov->size, .qiov = qiov,
                    .flags = flags, .cb = cb, .opaque = opaque};
    blk_aio_start(&r);
}

void blk_aio_pwritev(BlockBackend *blk, int64_t offset, BlockIOVec *qiov,
                     BlockReqFlags flags, BlockCompletionFunc *cb,
                     void *opaque)
{
    BlkRequest r = {.blk = blk, .op = BLK_OP_WRITE, .offset = offset,
                    .bytes = (int64_t)qiov->size, .qiov = qiov,
                    .flags = flags, .cb = cb, .opaque = opaque};
    blk_aio_start(&r);
}

void blk_aio_pwrite_zeroes(BlockBackend *blk, int64_t offset, int64_t bytes,
                           BlockReqFlags flags, BlockCompletionFunc *cb,
                           void *opaque)
{
    BlkRequest r = {.blk = blk, .op = BLK_OP_ZEROES, .offset = offset,
                    .bytes = bytes, .flags = flags, .cb = cb,
                    .opaque = opaque};
    blk_aio_start(&r);
}

void blk_aio_pdiscard(BlockBackend *blk, int64_t offset, int64_t bytes,
                      BlockCompletionFunc *cb, void *opaque)
{
    BlkRequest r = {.blk = blk, .op = BLK_OP_DISCARD, .offset = offset,
                    .bytes = bytes, .cb = cb, .opaque = opaque};
    blk_aio_start(&r);
}

void blk_aio_flush(BlockBackend *blk, BlockCompletionFunc *cb, void *opaque)
{
    BlkRequest r = {.blk = blk, .op = BLK_OP_FLUSH, .cb = cb,
                    .opaque = opaque};
    blk_aio_start(&r);
}
