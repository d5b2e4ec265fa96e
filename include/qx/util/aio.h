/*
 * Asynchronous file I/O for coroutines, with two backends:
 *   QX_AIO_IO_URING  io_uring through liburing (submissions batched per loop
 *                    iteration, completions reaped via an eventfd handler)
 *   QX_AIO_THREADS   preadv/pwritev on the thread pool
 * The block layer's file driver owns one QxAio per loop (aio=io_uring|threads).
 *
 * The data-path functions return bytes transferred (>= 0) or -errno and never
 * allocate per request on the io_uring path.  Short reads at EOF are returned
 * as is; the caller decides (the file driver zero-fills).  A short write is
 * retried by the backend until complete or an error occurs.
 */
#ifndef QX_UTIL_AIO_H
#define QX_UTIL_AIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "qx/util/loop.h"
#include "qx/util/thread-pool.h"

typedef enum {
    QX_AIO_THREADS,
    QX_AIO_IO_URING,
} QxAioBackend;

typedef struct QxAio QxAio;

/* Parses "threads" / "io_uring" (also "native" -> error naming it). */
bool qx_aio_backend_parse(const char *str, QxAioBackend *out, Error **errp);
const char *qx_aio_backend_name(QxAioBackend backend);

/*
 * Creates the backend on loop; pool is used by QX_AIO_THREADS and for
 * nothing else (NULL: the backend makes and owns a pool of its own).
 * Fails with "failed to initialize io_uring: ..." if io_uring is
 * unavailable (no kernel support, seccomp, io_uring_disabled), so that the
 * caller can fall back to QX_AIO_THREADS.
 *
 * The data-path functions below must be called from a coroutine of loop.
 * qx_aio_free() requires that no request is in flight.
 */
QxAio *qx_aio_new(QxLoop *loop, QxAioBackend backend, ThreadPool *pool,
                  Error **errp);
void qx_aio_free(QxAio *aio);
QxAioBackend qx_aio_get_backend(const QxAio *aio);

ssize_t qx_aio_preadv_co(QxAio *aio, int fd, const struct iovec *iov,
                         int iovcnt, uint64_t offset);
ssize_t qx_aio_pwritev_co(QxAio *aio, int fd, const struct iovec *iov,
                          int iovcnt, uint64_t offset);
/* fdatasync (datasync) or fsync; returns 0 or -errno. */
int qx_aio_fsync_co(QxAio *aio, int fd, bool datasync);
/* fallocate(fd, mode, offset, len); returns 0 or -errno. */
int qx_aio_fallocate_co(QxAio *aio, int fd, int mode, uint64_t offset,
                        uint64_t len);

#endif
