/*
 * The generic data path, continued: flush, truncate, block status, drain,
 * sizes, and the synchronous wrappers tools use.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "internal.h"

/* ---- Flush -------------------------------------------------------------- */

int block_flush_co(BlockNode *node)
{
    uint64_t gen;
    int ret = 0;

    block_inc_in_flight(node);
    /* One flush at a time per node; later ones see a fresher generation. */
    while (node->flush_running) {
        qx_co_queue_wait(&node->flush_queue, NULL);
    }
    node->flush_running = true;
    gen = node->write_gen;
    if (node->flushed_gen != gen) {
        if (!node->cache_no_flush && node->drv->flush_co) {
            ret = node->drv->flush_co(node);
        }
        /* Then everything below that this node writes to. */
        for (guint i = 0; i < node->children->len && ret == 0; i++) {
            BlockChild *c = g_ptr_array_index(node->children, i);
            if (c->perm & (BLOCK_PERM_WRITE | BLOCK_PERM_WRITE_UNCHANGED)) {
                ret = block_flush_co(c->node);
            }
        }
        if (ret == 0) {
            node->flushed_gen = gen;
        }
    }
    node->flush_running = false;
    qx_co_queue_next(&node->flush_queue);
    block_dec_in_flight(node);
    return ret;
}

/* ---- Truncate ----------------------------------------------------------- */

int block_truncate_co(BlockChild *child, int64_t offset, bool exact,
                      BlockPreallocMode prealloc, BlockReqFlags flags,
                      Error **errp)
{
    BlockNode *node = child->node;
    int64_t len;
    int ret;

    if (offset < 0) {
        error_setg(errp, "Image size cannot be negative");
        return -EINVAL;
    }
    if (offset > BLOCK_MAX_LENGTH) {
        error_setg(errp, "Required too big image size, it must be not "
                         "greater than %" PRId64, (int64_t)BLOCK_MAX_LENGTH);
        return -EFBIG;
    }
    if (node->read_only) {
        error_setg(errp, "Image is read-only");
        return -EACCES;
    }
    if (!(child->perm & BLOCK_PERM_RESIZE)) {
        error_setg(errp, "Resizing requires the resize permission");
        return -EPERM;
    }
    if (!node->drv->truncate_co) {
        error_setg(errp, "Image format driver does not support resize");
        return -ENOTSUP;
    }
    block_inc_in_flight(node);
    ret = node->drv->truncate_co(node, offset, exact, prealloc, flags, errp);
    if (ret == 0) {
        len = node->drv->getlength_co(node);
        node->total_size = block_round_len(len >= 0 ? len : offset);
        node->write_gen++;
    }
    block_dec_in_flight(node);
    return ret;
}

/* ---- Sizes -------------------------------------------------------------- */

int64_t block_getlength_co(BlockNode *node)
{
    int64_t len = node->drv->getlength_co(node);

    if (len >= 0) {
        node->total_size = block_round_len(len);
    }
    return len < 0 ? len : node->total_size;
}

int64_t block_get_allocated_file_size_co(BlockNode *node)
{
    int64_t sum = 0;

    if (node->drv->get_allocated_file_size_co) {
        return node->drv->get_allocated_file_size_co(node);
    }
    if (node->drv->is_protocol) {
        return -ENOTSUP;
    }
    /* A format without its own answer occupies what its children do. */
    for (guint i = 0; i < node->children->len; i++) {
        BlockChild *c = g_ptr_array_index(node->children, i);
        if (c == node->backing) {
            continue;
        }
        int64_t n = block_get_allocated_file_size_co(c->node);
        if (n < 0) {
            return n;
        }
        sum += n;
    }
    return sum;
}

/* ---- Drain -------------------------------------------------------------- */

void block_drain_co(BlockNode *node)
{
    while (node->in_flight > 0) {
        qx_co_queue_wait(&node->drain_queue, NULL);
    }
    for (guint i = 0; i < node->children->len; i++) {
        BlockChild *c = g_ptr_array_index(node->children, i);
        block_drain_co(c->node);
    }
}

/* ---- Block status ------------------------------------------------------- */

int block_status_co(BlockNode *node, int64_t offset, int64_t bytes,
                    int64_t *pnum, int64_t *map, BlockNode **file)
{
    int64_t total = node->total_size;
    int64_t align = node->limits.request_alignment;
    int64_t local_pnum = 0;
    int64_t local_map = 0;
    BlockNode *local_file = NULL;
    int ret;

    *pnum = 0;
    if (offset < 0 || bytes < 0) {
        return -EIO;
    }
    if (offset >= total || bytes == 0) {
        return offset >= total ? BLOCK_STATUS_EOF : 0;
    }
    bytes = MIN(bytes, total - offset);

    block_inc_in_flight(node);
    if (!node->drv->block_status_co) {
        local_pnum = bytes;
        ret = BLOCK_STATUS_DATA | BLOCK_STATUS_ALLOCATED;
        if (node->drv->is_protocol) {
            ret |= BLOCK_STATUS_OFFSET_VALID;
            local_map = offset;
            local_file = node;
        }
    } else {
        /* Ask about whole blocks; report about the bytes asked for. */
        int64_t a_off = block_align_down(offset, align);
        int64_t a_end = MIN(block_align_up(offset + bytes, align),
                            block_align_up(total, align));
        ret = node->drv->block_status_co(node, true, a_off, a_end - a_off,
                                         &local_pnum, &local_map,
                                         &local_file);
        if (ret >= 0) {
            if (local_pnum <= offset - a_off) {
                /* Driver answered for less than the head: take a block. */
                local_pnum = MIN(offset - a_off + 1, a_end - a_off);
            }
            local_pnum -= offset - a_off;
            local_pnum = MIN(local_pnum, bytes);
            local_map += offset - a_off;
        }
    }
    if (ret < 0) {
        goto out;
    }
    if (ret & BLOCK_STATUS_RECURSE) {
        /* Pass-through node: the answer is the file's at the mapping. */
        assert((ret & BLOCK_STATUS_OFFSET_VALID) && local_file);
        BlockNode *f = local_file;
        int64_t fmap = local_map;
        ret = block_status_co(f, fmap, local_pnum, &local_pnum, &local_map,
                              &local_file);
        if (ret < 0) {
            goto out;
        }
        ret &= ~BLOCK_STATUS_EOF;
        if (local_pnum == 0) {
            /* Beyond the file's end: reads as zeroes. */
            local_pnum = MIN(bytes, total - offset);
            ret = BLOCK_STATUS_ZERO;
        }
    }
    if (ret & (BLOCK_STATUS_DATA | BLOCK_STATUS_ZERO)) {
        ret |= BLOCK_STATUS_ALLOCATED;
    } else if (!node->drv->is_protocol) {
        /* Unallocated in a format: zero unless a backing file shows. */
        BlockNode *cow = block_node_get_backing(node);
        if (!cow || offset >= cow->total_size) {
            ret |= BLOCK_STATUS_ZERO;
        }
    }
    if ((ret & BLOCK_STATUS_ZERO_FROM_FILE) &&
        (ret & BLOCK_STATUS_DATA) && (ret & BLOCK_STATUS_OFFSET_VALID) &&
        !(ret & BLOCK_STATUS_ZERO) && local_file && local_file != node) {
        /* Data stored in a hole of the file still reads as zeroes. */
        int64_t file_pnum;
        int ret2 = block_status_co(local_file, local_map, local_pnum,
                                   &file_pnum, NULL, NULL);
        if (ret2 >= 0) {
            if ((ret2 & BLOCK_STATUS_EOF) &&
                (file_pnum == 0 || (ret2 & BLOCK_STATUS_ZERO))) {
                ret |= BLOCK_STATUS_ZERO;
            } else if (file_pnum > 0) {
                local_pnum = file_pnum;
                ret |= ret2 & BLOCK_STATUS_ZERO;
            }
        }
    }
    ret &= ~(BLOCK_STATUS_RECURSE | BLOCK_STATUS_ZERO_FROM_FILE);
    if (offset + local_pnum == total) {
        ret |= BLOCK_STATUS_EOF;
    }
    *pnum = local_pnum;
    if (map) {
        *map = local_map;
    }
    if (file) {
        *file = local_file;
    }
out:
    block_dec_in_flight(node);
    return ret;
}

int block_status_above_co(BlockNode *top, BlockNode *base, int64_t offset,
                          int64_t bytes, int64_t *pnum, int64_t *map,
                          BlockNode **file)
{
    int ret = 0;
    int64_t n = bytes;

    *pnum = 0;
    for (BlockNode *p = top; p && p != base; p = block_node_get_backing(p)) {
        int64_t pn;
        ret = block_status_co(p, offset, n, &pn, map, file);
        if (ret < 0) {
            return ret;
        }
        if (pn == 0 && p != top) {
            /* Beyond the end of a shorter backing file: zeroes. */
            *pnum = n;
            return BLOCK_STATUS_ZERO | (ret & BLOCK_STATUS_EOF);
        }
        if (pn == 0) {
            return ret;
        }
        n = pn;
        if (ret & BLOCK_STATUS_ALLOCATED) {
            break;
        }
    }
    *pnum = n;
    return ret;
}

/* ---- Synchronous wrappers ----------------------------------------------- */

typedef struct SyncIO {
    BlockChild *child;
    BlockNode *node;
    int64_t offset;
    int64_t bytes;
    void *buf;
    BlockReqFlags flags;
    int64_t ret;
} SyncIO;

static void pread_entry(void *opaque)
{
    SyncIO *s = opaque;
    s->ret = block_pread_co(s->child, s->offset, s->bytes, s->buf, s->flags);
}

int block_pread(BlockChild *child, int64_t offset, int64_t bytes, void *buf,
                BlockReqFlags flags)
{
    SyncIO s = {.child = child, .offset = offset, .bytes = bytes,
                .buf = buf, .flags = flags};
    qx_co_run(child->node->graph->loop, pread_entry, &s);
    return (int)s.ret;
}

static void pwrite_entry(void *opaque)
{
    SyncIO *s = opaque;
    s->ret = block_pwrite_co(s->child, s->offset, s->bytes, s->buf,
                             s->flags);
}

int block_pwrite(BlockChild *child, int64_t offset, int64_t bytes,
                 const void *buf, BlockReqFlags flags)
{
    SyncIO s = {.child = child, .offset = offset, .bytes = bytes,
                .buf = (void *)buf, .flags = flags};
    qx_co_run(child->node->graph->loop, pwrite_entry, &s);
    return (int)s.ret;
}

static void flush_entry(void *opaque)
{
    SyncIO *s = opaque;
    s->ret = block_flush_co(s->node);
}

int block_flush(BlockNode *node)
{
    SyncIO s = {.node = node};
    qx_co_run(node->graph->loop, flush_entry, &s);
    return (int)s.ret;
}

static void allocated_entry(void *opaque)
{
    SyncIO *s = opaque;
    s->ret = block_get_allocated_file_size_co(s->node);
}

int64_t block_get_allocated_file_size(BlockNode *node)
{
    SyncIO s = {.node = node};
    qx_co_run(node->graph->loop, allocated_entry, &s);
    return s.ret;
}

static void drain_entry(void *opaque)
{
    SyncIO *s = opaque;
    block_drain_co(s->node);
}

void block_drain(BlockNode *node)
{
    SyncIO s = {.node = node};
    qx_co_run(node->graph->loop, drain_entry, &s);
}
