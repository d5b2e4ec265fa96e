/*
 * BlockBackend: the root edge users hold, with request checks against the
 * device size, the write-cache policy and in-flight accounting.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

struct BlockBackend {
    BlockGraph *graph;
    BlockChild *root;  /* NULL without a node */
    unsigned perm;
    unsigned shared;
    bool write_cache;  /* false: writethrough */
    int in_flight;
    CoQueue drain_queue;
};

BlockBackend *blk_new(BlockGraph *graph, unsigned perm, unsigned shared)
{
    BlockBackend *blk = g_new0(BlockBackend, 1);

    blk->graph = graph;
    blk->perm = perm;
    blk->shared = shared;
    blk->write_cache = true;
    qx_co_queue_init(&blk->drain_queue);
    return blk;
}

bool blk_insert_node(BlockBackend *blk, BlockNode *node, Error **errp)
{
    BlockChild *root = g_new0(BlockChild, 1);

    assert(!blk->root);
    root->name = g_strdup("root");
    root->node = node;
    root->parent_opaque = blk;
    root->role = BLOCK_CHILD_DATA | BLOCK_CHILD_PRIMARY;
    root->perm = blk->perm;
    root->shared = node->force_share ? BLOCK_PERM_ALL : blk->shared;
    block_node_ref(node);
    g_ptr_array_add(node->parents, root);
    blk->root = root;
    if (!block_perm_update_subtree(node, errp)) {
        blk_remove_node(blk);
        return false;
    }
    return true;
}

void blk_remove_node(BlockBackend *blk)
{
    BlockChild *root = blk->root;

    if (!root) {
        return;
    }
    blk_drain(blk);
    g_ptr_array_remove(root->node->parents, root);
    block_perm_update_subtree(root->node, NULL);
    block_node_unref(root->node);
    g_free(root->name);
    g_free(root);
    blk->root = NULL;
}

BlockBackend *blk_new_open(BlockGraph *graph, const char *filename,
                           json_object *options, unsigned flags,
                           Error **errp)
{
    unsigned perm = 0;
    unsigned shared = BLOCK_PERM_ALL;
    BlockBackend *blk;
    BlockNode *node;

    if (!(flags & BLOCK_OPEN_NO_IO)) {
        perm |= BLOCK_PERM_CONSISTENT_READ;
    }
    if (flags & BLOCK_OPEN_RDWR) {
        perm |= BLOCK_PERM_WRITE;
    }
    if (flags & BLOCK_OPEN_RESIZE) {
        perm |= BLOCK_PERM_RESIZE;
    }
    if (flags & BLOCK_OPEN_NO_SHARE) {
        shared = BLOCK_PERM_CONSISTENT_READ | BLOCK_PERM_WRITE_UNCHANGED;
    }
    node = block_open(graph, filename, options, flags, errp);
    if (!node) {
        return NULL;
    }
    blk = blk_new(graph, perm, shared);
    if (!blk_insert_node(blk, node, errp)) {
        block_node_unref(node);
        blk_unref(blk);
        return NULL;
    }
    block_node_unref(node);
    return blk;
}

void blk_unref(BlockBackend *blk)
{
    if (!blk) {
        return;
    }
    if (blk->root) {
        blk_drain(blk);
        if (!blk->root->node->read_only) {
            blk_flush(blk);
        }
        blk_remove_node(blk);
    }
    g_free(blk);
}

BlockNode *blk_node(const BlockBackend *blk)
{
    return blk->root ? blk->root->node : NULL;
}

bool blk_set_perm(BlockBackend *blk, unsigned perm, unsigned shared,
                  Error **errp)
{
    unsigned old_perm = blk->perm;
    unsigned old_shared = blk->shared;

    blk->perm = perm;
    blk->shared = shared;
    if (!blk->root) {
        return true;
    }
    blk->root->perm = perm;
    blk->root->shared = blk->root->node->force_share ? BLOCK_PERM_ALL
                                                     : shared;
    if (!block_perm_update_subtree(blk->root->node, errp)) {
        blk->perm = old_perm;
        blk->shared = old_shared;
        blk->root->perm = old_perm;
        blk->root->shared = old_shared;
        block_perm_update_subtree(blk->root->node, NULL);
        return false;
    }
    return true;
}

void blk_get_perm(const BlockBackend *blk, unsigned *perm, unsigned *shared)
{
    *perm = blk->perm;
    *shared = blk->shared;
}

void blk_set_enable_write_cache(BlockBackend *blk, bool enable)
{
    blk->write_cache = enable;
}

bool blk_enable_write_cache(const BlockBackend *blk)
{
    return blk->write_cache;
}

bool blk_is_read_only(const BlockBackend *blk)
{
    return !blk->root || blk->root->node->read_only;
}

int64_t blk_getlength(const BlockBackend *blk)
{
    if (!blk->root) {
        return -ENOMEDIUM;
    }
    return blk->root->node->total_size;
}

uint32_t blk_get_request_alignment(const BlockBackend *blk)
{
    return blk->root ? blk->root->node->limits.request_alignment : 1;
}

uint64_t blk_get_max_transfer(const BlockBackend *blk)
{
    return blk->root ? blk->root->node->limits.max_transfer : 0;
}

void *blk_blockalign(const BlockBackend *blk, size_t size)
{
    return block_node_blockalign(blk->root ? blk->root->node : NULL, size);
}

void blk_vfree(void *ptr)
{
    block_node_vfree(ptr);
}

/* ---- Request checks and accounting -------------------------------------- */

static int check_byte_request(BlockBackend *blk, int64_t offset,
                              int64_t bytes)
{
    if (!blk->root) {
        return -ENOMEDIUM;
    }
    if (offset < 0 || bytes < 0 || bytes > BLOCK_REQUEST_MAX_BYTES) {
        return -EIO;
    }
    if (offset > blk->root->node->total_size - bytes) {
        return -EIO;
    }
    return 0;
}

void blk_inc_in_flight(BlockBackend *blk)
{
    blk->in_flight++;
}

void blk_dec_in_flight(BlockBackend *blk)
{
    assert(blk->in_flight > 0);
    if (--blk->in_flight == 0) {
        qx_co_queue_restart_all(&blk->drain_queue);
    }
}

QxLoop *blk_get_loop(const BlockBackend *blk)
{
    return blk->graph->loop;
}

int blk_preadv_co(BlockBackend *blk, int64_t offset, int64_t bytes,
                  BlockIOVec *qiov, BlockReqFlags flags)
{
    int ret = check_byte_request(blk, offset, bytes);

    if (ret < 0) {
        return ret;
    }
    blk_inc_in_flight(blk);
    ret = block_preadv_co(blk->root, offset, bytes, qiov, 0, flags);
    blk_dec_in_flight(blk);
    return ret;
}

int blk_pread_co(BlockBackend *blk, int64_t offset, int64_t bytes, void *buf,
                 BlockReqFlags flags)
{
    BlockIOVec qiov;

    if (bytes < 0) {
        return -EIO;
    }
    block_iov_init_buf(&qiov, buf, (size_t)bytes);
    return blk_preadv_co(blk, offset, bytes, &qiov, flags);
}

static BlockReqFlags write_flags(BlockBackend *blk, BlockReqFlags flags)
{
    if (!blk->write_cache) {
        flags |= BLOCK_REQ_FUA;
    }
    return flags;
}

int blk_pwritev_co(BlockBackend *blk, int64_t offset, int64_t bytes,
                   BlockIOVec *qiov, BlockReqFlags flags)
{
    int ret = check_byte_request(blk, offset, bytes);

    if (ret < 0) {
        return ret;
    }
    blk_inc_in_flight(blk);
    ret = block_pwritev_co(blk->root, offset, bytes, qiov, 0,
                           write_flags(blk, flags));
    blk_dec_in_flight(blk);
    return ret;
}

int blk_pwrite_co(BlockBackend *blk, int64_t offset, int64_t bytes,
                  const void *buf, BlockReqFlags flags)
{
    BlockIOVec qiov;

    if (bytes < 0) {
        return -EIO;
    }
    block_iov_init_buf(&qiov, (void *)buf, (size_t)bytes);
    return blk_pwritev_co(blk, offset, bytes, &qiov, flags);
}

int blk_pwrite_zeroes_co(BlockBackend *blk, int64_t offset, int64_t bytes,
                         BlockReqFlags flags)
{
    int ret;

    if (!blk->root) {
        return -ENOMEDIUM;
    }
    if (offset < 0 || bytes < 0 ||
        offset > blk->root->node->total_size - bytes) {
        return -EIO;
    }
    blk_inc_in_flight(blk);
    ret = block_pwrite_zeroes_co(blk->root, offset, bytes,
                                 write_flags(blk, flags));
    blk_dec_in_flight(blk);
    return ret;
}

int blk_pdiscard_co(BlockBackend *blk, int64_t offset, int64_t bytes)
{
    int ret;

    if (!blk->root) {
        return -ENOMEDIUM;
    }
    if (offset < 0 || bytes < 0 ||
        offset > blk->root->node->total_size - bytes) {
        return -EIO;
    }
    blk_inc_in_flight(blk);
    ret = block_pdiscard_co(blk->root, offset, bytes);
    blk_dec_in_flight(blk);
    return ret;
}

int blk_flush_co(BlockBackend *blk)
{
    int ret;

    if (!blk->root) {
        return -ENOMEDIUM;
    }
    blk_inc_in_flight(blk);
    ret = block_flush_co(blk->root->node);
    blk_dec_in_flight(blk);
    return ret;
}

int blk_block_status_co(BlockBackend *blk, int64_t offset, int64_t bytes,
                        int64_t *pnum, int64_t *map, BlockNode **file)
{
    int ret;

    if (!blk->root) {
        return -ENOMEDIUM;
    }
    blk_inc_in_flight(blk);
    ret = block_status_co(blk->root->node, offset, bytes, pnum, map, file);
    blk_dec_in_flight(blk);
    return ret;
}

int blk_truncate_co(BlockBackend *blk, int64_t offset, bool exact,
                    BlockPreallocMode prealloc, BlockReqFlags flags,
                    Error **errp)
{
    int ret;

    if (!blk->root) {
        error_setg(errp, "No medium inserted");
        return -ENOMEDIUM;
    }
    blk_inc_in_flight(blk);
    ret = block_truncate_co(blk->root, offset, exact, prealloc, flags, errp);
    blk_dec_in_flight(blk);
    return ret;
}

void blk_drain_co(BlockBackend *blk)
{
    while (blk->in_flight > 0) {
        qx_co_queue_wait(&blk->drain_queue, NULL);
    }
    if (blk->root) {
        block_drain_co(blk->root->node);
    }
}

int blk_in_flight(const BlockBackend *blk)
{
    return blk->in_flight;
}
