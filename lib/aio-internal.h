/*
 * Private contract between lib/aio.c (the generic layer) and the file I/O
 * backends lib/aio-threads.c and lib/aio-io-uring.c.  Nothing outside these
 * three files includes it.
 */
#ifndef QX_LIB_AIO_INTERNAL_H
#define QX_LIB_AIO_INTERNAL_H

#include <stddef.h>

#include "qx/util/aio.h"

typedef struct QxAioOps QxAioOps;

/*
 * The part of every backend's state that the generic layer knows.  Each
 * backend embeds it as the first member of its own struct and converts
 * with container_of-style casts.
 */
struct QxAio {
    const QxAioOps *ops;
    QxLoop *loop;
};

/*
 * One backend.  The generic layer guarantees, before any data-path call:
 * the caller runs in a coroutine of aio->loop; 0 < iovcnt <= IOV_MAX; the
 * total length is > 0 and fits in ssize_t; offset, offset + length, len
 * and offset + len fit in int64_t.  fd is not checked (the kernel reports
 * -EBADF and friends).
 */
struct QxAioOps {
    QxAioBackend backend;
    const char *name;

    /*
     * Creates the backend's state on loop.  pool may be NULL (the threads
     * backend then makes its own).  Sets errp and returns NULL on failure.
     */
    QxAio *(*open)(QxLoop *loop, ThreadPool *pool, Error **errp);
    /* Frees the state; no request may be in flight. */
    void (*close)(QxAio *aio);

    /*
     * Reads until the iovec is full or end of file; returns the bytes read
     * (fewer than asked only at end of file) or -errno.
     */
    ssize_t (*preadv_co)(QxAio *aio, int fd, const struct iovec *iov,
                         int iovcnt, uint64_t offset);
    /* Writes all of the iovec; returns its length or -errno. */
    ssize_t (*pwritev_co)(QxAio *aio, int fd, const struct iovec *iov,
                          int iovcnt, uint64_t offset);
    /* fdatasync() if datasync, else fsync(); 0 or -errno. */
    int (*fsync_co)(QxAio *aio, int fd, bool datasync);
    /* fallocate(); 0 or -errno. */
    int (*fallocate_co)(QxAio *aio, int fd, int mode, uint64_t offset,
                        uint64_t len);
};

extern const QxAioOps qx_aio_threads_ops;
extern const QxAioOps qx_aio_io_uring_ops;

/*
 * After a short read that ended at pos: true when pos is at or past the
 * end of fd, or fd is not a regular file (a block device or a pipe ends
 * where it ends), so the read is complete.  False means that more data
 * exists and the rest must be read again.  Checking instead of issuing
 * one more read matters for O_DIRECT: a file whose size is not a multiple
 * of the block size ends at an unaligned offset, where another read would
 * fail with EINVAL.
 */
bool qx_aio_short_read_done(int fd, uint64_t pos);

/*
 * A position inside a caller's iovec, for resuming short transfers without
 * copying or allocating: when the transfer stopped inside an element, the
 * rest of that element is issued alone (from head), then the following
 * elements are issued as they are.
 */
typedef struct QxAioIovCursor {
    const struct iovec *iov; /* first element not fully transferred */
    int iovcnt;              /* elements left, counting iov[0] */
    struct iovec head;       /* the untransferred rest of iov[0] */
} QxAioIovCursor;

void qx_aio_iov_cursor_init(QxAioIovCursor *cur, const struct iovec *iov,
                            int iovcnt);
/* True when every byte has been transferred. */
bool qx_aio_iov_cursor_done(const QxAioIovCursor *cur);
/*
 * The iovec to issue next: either &cur->head alone (a partly transferred
 * element) or the remaining elements.  Sets *iovcnt.
 */
const struct iovec *qx_aio_iov_cursor_next(QxAioIovCursor *cur, int *iovcnt);
/* Marks n more bytes as transferred; n must not exceed what is left. */
void qx_aio_iov_cursor_advance(QxAioIovCursor *cur, size_t n);

#endif
