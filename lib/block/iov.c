/*
 * BlockIOVec: struct iovec arrays with their total size.
 */
#include <assert.h>
#include <glib.h>
#include <string.h>

#include "qx/block/iov.h"

void block_iov_init(BlockIOVec *qiov, int alloc_hint)
{
    if (alloc_hint < 1) {
        alloc_hint = 1;
    }
    qiov->iov = g_new(struct iovec, alloc_hint);
    qiov->niov = 0;
    qiov->nalloc = alloc_hint;
    qiov->size = 0;
}

void block_iov_init_buf(BlockIOVec *qiov, void *buf, size_t len)
{
    qiov->local.iov_base = buf;
    qiov->local.iov_len = len;
    qiov->iov = &qiov->local;
    qiov->niov = 1;
    qiov->nalloc = -1;
    qiov->size = len;
}

void block_iov_destroy(BlockIOVec *qiov)
{
    if (qiov->nalloc >= 0) {
        g_free(qiov->iov);
    }
    memset(qiov, 0, sizeof(*qiov));
}

void block_iov_reset(BlockIOVec *qiov)
{
    assert(qiov->nalloc >= 0);
    qiov->niov = 0;
    qiov->size = 0;
}

void block_iov_add(BlockIOVec *qiov, void *base, size_t len)
{
    assert(qiov->nalloc >= 0);
    if (len == 0) {
        return;
    }
    /* Merge with the previous element when contiguous. */
    if (qiov->niov > 0) {
        struct iovec *last = &qiov->iov[qiov->niov - 1];
        if ((char *)last->iov_base + last->iov_len == (char *)base) {
            last->iov_len += len;
            qiov->size += len;
            return;
        }
    }
    if (qiov->niov == qiov->nalloc) {
        qiov->nalloc = qiov->nalloc * 2 + 1;
        qiov->iov = g_renew(struct iovec, qiov->iov, qiov->nalloc);
    }
    qiov->iov[qiov->niov].iov_base = base;
    qiov->iov[qiov->niov].iov_len = len;
    qiov->niov++;
    qiov->size += len;
}

void block_iov_concat(BlockIOVec *dst, const BlockIOVec *src, size_t offset,
                      size_t len)
{
    assert(offset + len <= src->size);
    for (int i = 0; i < src->niov && len > 0; i++) {
        size_t l = src->iov[i].iov_len;
        if (offset >= l) {
            offset -= l;
            continue;
        }
        size_t n = MIN(l - offset, len);
        block_iov_add(dst, (char *)src->iov[i].iov_base + offset, n);
        len -= n;
        offset = 0;
    }
}

size_t block_iov_to_buf(const BlockIOVec *qiov, size_t offset, void *buf,
                        size_t bytes)
{
    size_t done = 0;
    for (int i = 0; i < qiov->niov && done < bytes; i++) {
        size_t l = qiov->iov[i].iov_len;
        if (offset >= l) {
            offset -= l;
            continue;
        }
        size_t n = MIN(l - offset, bytes - done);
        memcpy((char *)buf + done, (char *)qiov->iov[i].iov_base + offset, n);
        done += n;
        offset = 0;
    }
    return done;
}

size_t block_iov_from_buf(BlockIOVec *qiov, size_t offset, const void *buf,
                          size_t bytes)
{
    size_t done = 0;
    for (int i = 0; i < qiov->niov && done < bytes; i++) {
        size_t l = qiov->iov[i].iov_len;
        if (offset >= l) {
            offset -= l;
            continue;
        }
        size_t n = MIN(l - offset, bytes - done);
        memcpy((char *)qiov->iov[i].iov_base + offset, (const char *)buf + done,
               n);
        done += n;
        offset = 0;
    }
    return done;
}

size_t block_iov_memset(BlockIOVec *qiov, size_t offset, int c, size_t bytes)
{
    size_t done = 0;
    for (int i = 0; i < qiov->niov && done < bytes; i++) {
        size_t l = qiov->iov[i].iov_len;
        if (offset >= l) {
            offset -= l;
            continue;
        }
        size_t n = MIN(l - offset, bytes - done);
        memset((char *)qiov->iov[i].iov_base + offset, c, n);
        done += n;
        offset = 0;
    }
    return done;
}

bool block_buffer_is_zero(const void *buf, size_t len)
{
    const unsigned char *p = buf;

    /* Byte-wise until word aligned, then words, then the tail. */
    while (len > 0 && ((uintptr_t)p % sizeof(uint64_t)) != 0) {
        if (*p) {
            return false;
        }
        p++;
        len--;
    }
    while (len >= 4 * sizeof(uint64_t)) {
        const uint64_t *w = (const uint64_t *)(const void *)p;
        if (w[0] | w[1] | w[2] | w[3]) {
            return false;
        }
        p += 4 * sizeof(uint64_t);
        len -= 4 * sizeof(uint64_t);
    }
    while (len > 0) {
        if (*p) {
            return false;
        }
        p++;
        len--;
    }
    return true;
}

bool block_iov_is_zero(const BlockIOVec *qiov, size_t offset, size_t bytes)
{
    for (int i = 0; i < qiov->niov && bytes > 0; i++) {
        size_t l = qiov->iov[i].iov_len;
        if (offset >= l) {
            offset -= l;
            continue;
        }
        size_t n = MIN(l - offset, bytes);
        if (!block_buffer_is_zero((char *)qiov->iov[i].iov_base + offset, n)) {
            return false;
        }
        bytes -= n;
        offset = 0;
    }
    return true;
}

bool block_iov_is_aligned(const BlockIOVec *qiov, size_t offset, size_t bytes,
                          size_t align)
{
    if (align <= 1) {
        return true;
    }
    for (int i = 0; i < qiov->niov && bytes > 0; i++) {
        size_t l = qiov->iov[i].iov_len;
        if (offset >= l) {
            offset -= l;
            continue;
        }
        size_t n = MIN(l - offset, bytes);
        uintptr_t base = (uintptr_t)qiov->iov[i].iov_base + offset;
        if (base % align || n % align) {
            return false;
        }
        bytes -= n;
        offset = 0;
    }
    return true;
}
