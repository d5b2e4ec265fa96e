/*
 * I/O vectors for the block layer: a growable struct iovec array with its
 * total size, plus the copy/fill/slice helpers every driver needs.
 *
 * A BlockIOVec either owns its iovec array (block_iov_init) or wraps one
 * caller buffer without allocating (block_iov_init_buf).  It never owns the
 * data buffers it points to.
 */
#ifndef QX_BLOCK_IOV_H
#define QX_BLOCK_IOV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct BlockIOVec {
    struct iovec *iov;
    int niov;
    int nalloc;         /* -1: iov points to local (single buffer) */
    size_t size;        /* sum of iov[i].iov_len */
    struct iovec local; /* storage for block_iov_init_buf */
} BlockIOVec;

/* Empty owning vector with room for alloc_hint elements (grows). */
void block_iov_init(BlockIOVec *qiov, int alloc_hint);
/* Non-owning single-element vector over buf; no allocation. */
void block_iov_init_buf(BlockIOVec *qiov, void *buf, size_t len);
/* Frees the iovec array of an owning vector; buffers are untouched. */
void block_iov_destroy(BlockIOVec *qiov);
/* Drops all elements (keeps the allocation). */
void block_iov_reset(BlockIOVec *qiov);

/* Appends one element (owning vectors only). */
void block_iov_add(BlockIOVec *qiov, void *base, size_t len);
/*
 * Appends the byte range [offset, offset + len) of src to dst (owning dst),
 * element by element, without copying data.  The range must lie in src.
 */
void block_iov_concat(BlockIOVec *dst, const BlockIOVec *src, size_t offset,
                      size_t len);

/* Copies between the vector (from byte offset) and a flat buffer. */
size_t block_iov_to_buf(const BlockIOVec *qiov, size_t offset, void *buf,
                        size_t bytes);
size_t block_iov_from_buf(BlockIOVec *qiov, size_t offset, const void *buf,
                          size_t bytes);
/* Fills bytes of the vector from offset with c; returns bytes filled. */
size_t block_iov_memset(BlockIOVec *qiov, size_t offset, int c, size_t bytes);
/* True if [offset, offset + bytes) of the vector is all zero. */
bool block_iov_is_zero(const BlockIOVec *qiov, size_t offset, size_t bytes);

/* True if every element's base and length are multiples of align. */
bool block_iov_is_aligned(const BlockIOVec *qiov, size_t offset, size_t bytes,
                          size_t align);

/* True if buf[0..len) is all zero (fast path for word-aligned buffers). */
bool block_buffer_is_zero(const void *buf, size_t len);

#endif
