/*
 * Asynchronous file I/O: the generic layer.  Parses backend names, picks the
 * backend's ops table, checks every request's arguments once so that the
 * backends can trust them, and provides the iovec cursor the backends use
 * to resume short transfers.
 */
#include "aio-internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "qx/util/coroutine.h"

/* Every backend, indexed by QxAioBackend. */
static const QxAioOps *const aio_backends[] = {
    [QX_AIO_THREADS] = &qx_aio_threads_ops,
    [QX_AIO_IO_URING] = &qx_aio_io_uring_ops,
};

bool qx_aio_backend_parse(const char *str, QxAioBackend *out, Error **errp)
{
    for (size_t i = 0; i < G_N_ELEMENTS(aio_backends); i++) {
        if (strcmp(str, aio_backends[i]->name) == 0) {
            *out = aio_backends[i]->backend;
            return true;
        }
    }
    if (strcmp(str, "native") == 0) {
        /* QEMU's Linux AIO backend; we only offer io_uring and threads. */
        error_setg(errp, "aio backend 'native' (Linux AIO) is not supported");
        error_append_hint(errp, "Use aio=io_uring or aio=threads instead\n");
        return false;
    }
    error_setg(errp, "invalid aio backend '%s'", str);
    error_append_hint(errp, "Valid values: threads, io_uring\n");
    return false;
}

const char *qx_aio_backend_name(QxAioBackend backend)
{
    if ((size_t)backend >= G_N_ELEMENTS(aio_backends)) {
        return "unknown";
    }
    return aio_backends[backend]->name;
}

QxAio *qx_aio_new(QxLoop *loop, QxAioBackend backend, ThreadPool *pool,
                  Error **errp)
{
    const QxAioOps *ops;
    QxAio *aio;

    g_assert(loop != NULL);
    g_assert((size_t)backend < G_N_ELEMENTS(aio_backends));
    ops = aio_backends[backend];
    aio = ops->open(loop, pool, errp);
    if (!aio) {
        return NULL;
    }
    aio->ops = ops;
    aio->loop = loop;
    return aio;
}

void qx_aio_free(QxAio *aio)
{
    if (aio) {
        aio->ops->close(aio);
    }
}

QxAioBackend qx_aio_get_backend(const QxAio *aio)
{
    return aio->ops->backend;
}

static void aio_assert_context(const QxAio *aio)
{
    Coroutine *self = qx_coroutine_self();

    /* Misuse of the API, not a runtime condition: fail loudly. */
    g_assert(self != NULL);
    g_assert(qx_coroutine_get_loop(self) == aio->loop);
}

/*
 * Validates an iovec and an offset; returns the total length (> 0),
 * 0 for nothing to do, or -errno.
 */
static ssize_t aio_check_rw(const struct iovec *iov, int iovcnt,
                            uint64_t offset)
{
    uint64_t total = 0;

    if (iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt > 0 && !iov)) {
        return -EINVAL;
    }
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > SSIZE_MAX - total) {
            return -EINVAL;
        }
        total += iov[i].iov_len;
    }
    /* The kernel would take a wrapped offset (io_uring: -1 = file pos). */
    if (offset > INT64_MAX || total > INT64_MAX - offset) {
        return -EINVAL;
    }
    return (ssize_t)total;
}

ssize_t qx_aio_preadv_co(QxAio *aio, int fd, const struct iovec *iov,
                         int iovcnt, uint64_t offset)
{
    ssize_t total;

    aio_assert_context(aio);
    total = aio_check_rw(iov, iovcnt, offset);
    if (total <= 0) {
        return total;
    }
    return aio->ops->preadv_co(aio, fd, iov, iovcnt, offset);
}

ssize_t qx_aio_pwritev_co(QxAio *aio, int fd, const struct iovec *iov,
                          int iovcnt, uint64_t offset)
{
    ssize_t total;

    aio_assert_context(aio);
    total = aio_check_rw(iov, iovcnt, offset);
    if (total <= 0) {
        return total;
    }
    return aio->ops->pwritev_co(aio, fd, iov, iovcnt, offset);
}

int qx_aio_fsync_co(QxAio *aio, int fd, bool datasync)
{
    aio_assert_context(aio);
    return aio->ops->fsync_co(aio, fd, datasync);
}

int qx_aio_fallocate_co(QxAio *aio, int fd, int mode, uint64_t offset,
                        uint64_t len)
{
    aio_assert_context(aio);
    /* fallocate(2) takes signed off_t; EINVAL matches its own checks. */
    if (offset > INT64_MAX || len > INT64_MAX) {
        return -EINVAL;
    }
    if (len > INT64_MAX - offset) {
        return -EFBIG;
    }
    return aio->ops->fallocate_co(aio, fd, mode, offset, len);
}

bool qx_aio_short_read_done(int fd, uint64_t pos)
{
    struct stat st;

    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        return true;
    }
    return pos >= (uint64_t)st.st_size;
}

/* Moves cur to the next element with data, loading its head. */
static void aio_iov_cursor_skip_empty(QxAioIovCursor *cur)
{
    while (cur->iovcnt > 0 && cur->iov[0].iov_len == 0) {
        cur->iov++;
        cur->iovcnt--;
    }
    if (cur->iovcnt > 0) {
        cur->head = cur->iov[0];
    }
}

void qx_aio_iov_cursor_init(QxAioIovCursor *cur, const struct iovec *iov,
                            int iovcnt)
{
    cur->iov = iov;
    cur->iovcnt = iovcnt;
    aio_iov_cursor_skip_empty(cur);
}

bool qx_aio_iov_cursor_done(const QxAioIovCursor *cur)
{
    return cur->iovcnt == 0;
}

const struct iovec *qx_aio_iov_cursor_next(QxAioIovCursor *cur, int *iovcnt)
{
    g_assert(cur->iovcnt > 0);
    if (cur->head.iov_len != cur->iov[0].iov_len) {
        *iovcnt = 1;
        return &cur->head;
    }
    *iovcnt = cur->iovcnt;
    return cur->iov;
}

void qx_aio_iov_cursor_advance(QxAioIovCursor *cur, size_t n)
{
    while (n > 0) {
        g_assert(cur->iovcnt > 0);
        if (n < cur->head.iov_len) {
            cur->head.iov_base = (char *)cur->head.iov_base + n;
            cur->head.iov_len -= n;
            return;
        }
        n -= cur->head.iov_len;
        cur->iov++;
        cur->iovcnt--;
        aio_iov_cursor_skip_empty(cur);
    }
}
