/*
 * BlockBackend: the handle devices, the NBD server, jobs and tools use to
 * reach a node tree.  It owns the root edge (with its permissions), the
 * write-cache policy (writethrough => every write is FUA) and offers the
 * narrow I/O API: size, read, write, zeroes, discard, flush, block status,
 * truncate; in coroutine, synchronous and callback (async) forms.
 *
 * Offsets are bytes into the root node; requests beyond the end fail with
 * -EIO, negative or oversized ones with -EINVAL.  A backend without a node
 * fails every request with -ENOMEDIUM.
 */
#ifndef QX_BLOCK_BLOCK_BACKEND_H
#define QX_BLOCK_BLOCK_BACKEND_H

#include "qx/block/block.h"

typedef struct BlockBackend BlockBackend;

/*
 * New backend without a node.  perm/shared are what its user needs and
 * tolerates (BLOCK_PERM_*), applied when a node is inserted.
 */
BlockBackend *blk_new(BlockGraph *graph, unsigned perm, unsigned shared);
/*
 * Opens filename/options like block_open() and inserts the node.
 * Permissions: CONSISTENT_READ (unless BLOCK_OPEN_NO_IO), WRITE with
 * BLOCK_OPEN_RDWR, RESIZE with BLOCK_OPEN_RESIZE; shares everything
 * unless BLOCK_OPEN_NO_SHARE (then only reads), as QEMU's tools do.
 * Lock conflicts fail here ("Failed to get \"write\" lock" + hint).
 */
BlockBackend *blk_new_open(BlockGraph *graph, const char *filename,
                           json_object *options, unsigned flags,
                           Error **errp);
/* Drains, flushes (unless read-only), detaches and frees; NULL allowed. */
void blk_unref(BlockBackend *blk);

/* Inserts node (taking a reference) and applies the permissions. */
bool blk_insert_node(BlockBackend *blk, BlockNode *node, Error **errp);
void blk_remove_node(BlockBackend *blk);
BlockNode *blk_node(const BlockBackend *blk);
/* Changes the backend's permissions (e.g. when a device goes read-only). */
bool blk_set_perm(BlockBackend *blk, unsigned perm, unsigned shared,
                  Error **errp);
void blk_get_perm(const BlockBackend *blk, unsigned *perm, unsigned *shared);

/* Write cache on (writeback, default) or off (writethrough: FUA). */
void blk_set_enable_write_cache(BlockBackend *blk, bool enable);
bool blk_enable_write_cache(const BlockBackend *blk);
bool blk_is_read_only(const BlockBackend *blk);

/* Size in bytes (cached), or -ENOMEDIUM. */
int64_t blk_getlength(const BlockBackend *blk);
/* Alignment requests should have to avoid read-modify-write. */
uint32_t blk_get_request_alignment(const BlockBackend *blk);
uint64_t blk_get_max_transfer(const BlockBackend *blk);
/* Buffer alignment that avoids bounce buffers; use blk_blockalign. */
void *blk_blockalign(const BlockBackend *blk, size_t size);
void blk_vfree(void *ptr);

/* ---- Coroutine forms ---------------------------------------------------- */

int blk_preadv_co(BlockBackend *blk, int64_t offset, int64_t bytes,
                  BlockIOVec *qiov, BlockReqFlags flags);
int blk_pread_co(BlockBackend *blk, int64_t offset, int64_t bytes, void *buf,
                 BlockReqFlags flags);
int blk_pwritev_co(BlockBackend *blk, int64_t offset, int64_t bytes,
                   BlockIOVec *qiov, BlockReqFlags flags);
int blk_pwrite_co(BlockBackend *blk, int64_t offset, int64_t bytes,
                  const void *buf, BlockReqFlags flags);
int blk_pwrite_zeroes_co(BlockBackend *blk, int64_t offset, int64_t bytes,
                         BlockReqFlags flags);
int blk_pdiscard_co(BlockBackend *blk, int64_t offset, int64_t bytes);
int blk_flush_co(BlockBackend *blk);
int blk_block_status_co(BlockBackend *blk, int64_t offset, int64_t bytes,
                        int64_t *pnum, int64_t *map, BlockNode **file);
int blk_truncate_co(BlockBackend *blk, int64_t offset, bool exact,
                    BlockPreallocMode prealloc, BlockReqFlags flags,
                    Error **errp);
/* Waits for all requests issued through this backend. */
void blk_drain_co(BlockBackend *blk);

/* ---- Synchronous forms (tools) ------------------------------------------ */

int blk_pread(BlockBackend *blk, int64_t offset, int64_t bytes, void *buf,
              BlockReqFlags flags);
int blk_pwrite(BlockBackend *blk, int64_t offset, int64_t bytes,
               const void *buf, BlockReqFlags flags);
int blk_pwrite_zeroes(BlockBackend *blk, int64_t offset, int64_t bytes,
                      BlockReqFlags flags);
int blk_pdiscard(BlockBackend *blk, int64_t offset, int64_t bytes);
int blk_flush(BlockBackend *blk);
int blk_block_status(BlockBackend *blk, int64_t offset, int64_t bytes,
                     int64_t *pnum, int64_t *map, BlockNode **file);
int blk_truncate(BlockBackend *blk, int64_t offset, bool exact,
                 BlockPreallocMode prealloc, BlockReqFlags flags,
                 Error **errp);
void blk_drain(BlockBackend *blk);

/* ---- Callback forms (devices) ------------------------------------------- */

/*
 * Starts the request in a new coroutine and returns; cb(opaque, ret) runs
 * later on the graph's loop (never before the call returns).  qiov and the
 * buffers must stay valid until then.
 */
typedef void BlockCompletionFunc(void *opaque, int ret);

void blk_aio_preadv(BlockBackend *blk, int64_t offset, BlockIOVec *qiov,
                    BlockReqFlags flags, BlockCompletionFunc *cb,
                    void *opaque);
void blk_aio_pwritev(BlockBackend *blk, int64_t offset, BlockIOVec *qiov,
                     BlockReqFlags flags, BlockCompletionFunc *cb,
                     void *opaque);
void blk_aio_pwrite_zeroes(BlockBackend *blk, int64_t offset, int64_t bytes,
                           BlockReqFlags flags, BlockCompletionFunc *cb,
                           void *opaque);
void blk_aio_pdiscard(BlockBackend *blk, int64_t offset, int64_t bytes,
                      BlockCompletionFunc *cb, void *opaque);
void blk_aio_flush(BlockBackend *blk, BlockCompletionFunc *cb, void *opaque);
/* Requests started and not yet completed. */
int blk_in_flight(const BlockBackend *blk);

#endif
