/*
 * Thread-pool file I/O backend (aio=threads): each request runs the plain
 * blocking system call on a ThreadPool worker while the issuing coroutine
 * waits.  The request lives on that coroutine's stack.
 */
#include "aio-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "qx/util/coroutine.h"

/* Workers of the private pool made when the caller passes none. */
#define THREADS_POOL_SIZE 64

typedef struct ThreadsAio {
    QxAio common;
    ThreadPool *pool;
    bool own_pool;
} ThreadsAio;

/* Arguments and result of one request; read and written by the worker. */
typedef struct ThreadsReq {
    int fd;
    const struct iovec *iov;
    int iovcnt;
    uint64_t offset;
    uint64_t len;
    int mode;
    bool datasync;
    ssize_t ret;
} ThreadsReq;

static ThreadsAio *threads_aio(QxAio *aio)
{
    return (ThreadsAio *)aio;
}

/* Same loop as the io_uring backend, done synchronously on the worker. */
static ssize_t threads_rw(ThreadsReq *req, bool write)
{
    QxAioIovCursor cur;
    const struct iovec *iov;
    ssize_t done = 0;
    ssize_t ret;
    int iovcnt;

    qx_aio_iov_cursor_init(&cur, req->iov, req->iovcnt);
    while (!qx_aio_iov_cursor_done(&cur)) {
        iov = qx_aio_iov_cursor_next(&cur, &iovcnt);
        if (write) {
            ret = pwritev(req->fd, iov, iovcnt, req->offset + done);
        } else {
            ret = preadv(req->fd, iov, iovcnt, req->offset + done);
        }
        if (ret < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (ret == 0) {
            if (write) {
                /* No progress on a write would loop forever. */
                return -EIO;
            }
            break;
        }
        qx_aio_iov_cursor_advance(&cur, ret);
        done += ret;
        if (!write && !qx_aio_iov_cursor_done(&cur) &&
            qx_aio_short_read_done(req->fd, req->offset + done)) {
            break;
        }
    }
    return done;
}

static int threads_preadv_worker(void *opaque)
{
    ThreadsReq *req = opaque;

    req->ret = threads_rw(req, false);
    return 0;
}

static int threads_pwritev_worker(void *opaque)
{
    ThreadsReq *req = opaque;

    req->ret = threads_rw(req, true);
    return 0;
}

static int threads_fsync_worker(void *opaque)
{
    ThreadsReq *req = opaque;
    int ret;

    do {
        ret = req->datasync ? fdatasync(req->fd) : fsync(req->fd);
    } while (ret < 0 && errno == EINTR);
    req->ret = ret < 0 ? -errno : 0;
    return 0;
}

static int threads_fallocate_worker(void *opaque)
{
    ThreadsReq *req = opaque;
    int ret;

    do {
        ret = fallocate(req->fd, req->mode, req->offset, req->len);
    } while (ret < 0 && errno == EINTR);
    req->ret = ret < 0 ? -errno : 0;
    return 0;
}

/* Runs fn(req) on a worker, yielding meanwhile; returns req->ret. */
static ssize_t threads_run_co(QxAio *aio, ThreadPoolFunc *fn, ThreadsReq *req)
{
    qx_thread_pool_submit_co(threads_aio(aio)->pool, fn, req);
    return req->ret;
}

static ssize_t threads_preadv_co(QxAio *aio, int fd, const struct iovec *iov,
                                 int iovcnt, uint64_t offset)
{
    ThreadsReq req = {
        .fd = fd,
        .iov = iov,
        .iovcnt = iovcnt,
        .offset = offset,
    };

    return threads_run_co(aio, threads_preadv_worker, &req);
}

static ssize_t threads_pwritev_co(QxAio *aio, int fd, const struct iovec *iov,
                                  int iovcnt, uint64_t offset)
{
    ThreadsReq req = {
        .fd = fd,
        .iov = iov,
        .iovcnt = iovcnt,
        .offset = offset,
    };

    return threads_run_co(aio, threads_pwritev_worker, &req);
}

static int threads_fsync_co(QxAio *aio, int fd, bool datasync)
{
    ThreadsReq req = {.fd = fd, .datasync = datasync};

    return threads_run_co(aio, threads_fsync_worker, &req);
}

static int threads_fallocate_co(QxAio *aio, int fd, int mode, uint64_t offset,
                                uint64_t len)
{
    ThreadsReq req = {
        .fd = fd,
        .mode = mode,
        .offset = offset,
        .len = len,
    };

    return threads_run_co(aio, threads_fallocate_worker, &req);
}

static QxAio *threads_open(QxLoop *loop, ThreadPool *pool, Error **errp)
{
    ThreadsAio *s = g_new0(ThreadsAio, 1);

    if (pool) {
        s->pool = pool;
    } else {
        s->pool = qx_thread_pool_new(loop, THREADS_POOL_SIZE);
        s->own_pool = true;
    }
    return &s->common;
}

static void threads_close(QxAio *aio)
{
    ThreadsAio *s = threads_aio(aio);

    if (s->own_pool) {
        qx_thread_pool_free(s->pool);
    }
    g_free(s);
}

const QxAioOps qx_aio_threads_ops = {
    .backend = QX_AIO_THREADS,
    .name = "threads",
    .open = threads_open,
    .close = threads_close,
    .preadv_co = threads_preadv_co,
    .pwritev_co = threads_pwritev_co,
    .fsync_co = threads_fsync_co,
    .fallocate_co = threads_fallocate_co,
};
