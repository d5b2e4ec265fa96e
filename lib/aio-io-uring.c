/*
 * io_uring file I/O backend (liburing).
 *
 * One ring per QxAio.  A request lives on the issuing coroutine's stack:
 * the coroutine takes a slot, fills an SQE whose user_data points at the
 * request, and yields.  SQEs are submitted in one batch per loop iteration
 * by a bottom half (or at once when the SQ fills up).  The kernel signals
 * completions on an eventfd watched by the loop; its handler reaps the CQ
 * and enters each finished request's coroutine from loop context.
 *
 * Slots bound the requests in flight to the SQ size, so an SQE is always
 * free for a slot holder and the CQ (twice the SQ size) can never overflow.
 * Coroutines beyond that wait in FIFO order for a slot.
 */
#include "aio-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "qx/util/coroutine.h"

/* SQ entries per ring: covers deep guest queues without pinning much. */
#define URING_ENTRIES 128

/* Delay before retrying a submission refused for lack of kernel memory. */
#define URING_RETRY_NS (1000 * 1000)

typedef struct UringAio {
    QxAio common;
    struct io_uring ring;
    int efd;
    /* Submits the SQEs queued during one loop iteration. */
    QxBH *submit_bh;
    /* Retries a refused submission when nothing else would. */
    QxTimer *retry_timer;
    /* Slots taken: requests queued, submitted or completing. */
    unsigned inflight;
    unsigned max_inflight;
    /* Coroutines waiting for a slot, woken in FIFO order. */
    CoQueue slot_waiters;
    bool warned;
} UringAio;

/* One operation in flight; on the issuing coroutine's stack. */
typedef struct UringReq {
    Coroutine *co;
    int res;
    bool done;
} UringReq;

static UringAio *uring_aio(QxAio *aio)
{
    return (UringAio *)aio;
}

/*
 * Passes every queued SQE to the kernel.  Refusals for lack of resources
 * (-EAGAIN, -EBUSY) leave the SQEs queued: completions retry them from the
 * eventfd handler, or the retry timer does if nothing completes first.
 */
static void uring_submit(UringAio *s)
{
    int ret;

    qx_bh_cancel(s->submit_bh);
    while (io_uring_sq_ready(&s->ring) > 0) {
        ret = io_uring_submit(&s->ring);
        if (ret > 0) {
            continue;
        }
        if (ret == -EINTR) {
            continue;
        }
        if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && !s->warned) {
            /* Not expected from a healthy ring; keep retrying, say so once. */
            s->warned = true;
            warn_report("io_uring submission failed: %s", g_strerror(-ret));
        }
        /* In case nothing in the kernel completes to retry sooner. */
        qx_timer_mod(s->retry_timer,
                     qx_clock_ns(QX_CLOCK_MONOTONIC) + URING_RETRY_NS);
        return;
    }
}

static void uring_submit_bh(void *opaque)
{
    uring_submit(opaque);
}

/* Gives a slot back: straight to the first waiter, if there is one. */
static void uring_put_slot(UringAio *s)
{
    if (!qx_co_queue_next(&s->slot_waiters)) {
        s->inflight--;
    }
}

/*
 * Reaps every CQE.  The finished coroutines are entered only after the CQ
 * has been advanced and all slots given back, and nothing in s is touched
 * after the first enter: a woken coroutine may issue more I/O or even free
 * the QxAio.
 */
static void uring_on_eventfd(void *opaque)
{
    UringAio *s = opaque;
    Coroutine *ready[URING_ENTRIES];
    unsigned n = 0;
    struct io_uring_cqe *cqe;
    uint64_t count;

    /* Drain first: a CQE posted after this read signals the eventfd again. */
    if (read(s->efd, &count, sizeof(count)) < 0 && errno != EAGAIN) {
        warn_report("io_uring eventfd read failed: %s", g_strerror(errno));
    }
    while (io_uring_peek_cqe(&s->ring, &cqe) == 0) {
        UringReq *req = io_uring_cqe_get_data(cqe);

        req->res = cqe->res;
        req->done = true;
        io_uring_cqe_seen(&s->ring, cqe);
        uring_put_slot(s);
        /* At most max_inflight CQEs exist, so ready[] cannot overflow. */
        g_assert(n < G_N_ELEMENTS(ready));
        ready[n++] = req->co;
    }
    if (io_uring_sq_ready(&s->ring) > 0) {
        uring_submit(s);
    }
    for (unsigned i = 0; i < n; i++) {
        qx_coroutine_enter(ready[i]);
    }
}

static void uring_retry_timer(void *opaque)
{
    uring_submit(opaque);
}

/*
 * Takes a slot and returns the SQE to fill.  May yield while waiting for a
 * slot; the returned SQE is only valid until the caller yields.
 */
static struct io_uring_sqe *uring_get_sqe_co(UringAio *s)
{
    struct io_uring_sqe *sqe;

    if (s->inflight >= s->max_inflight) {
        /* A completing request hands its slot over before waking us. */
        qx_co_queue_wait(&s->slot_waiters, NULL);
    } else {
        s->inflight++;
    }
    sqe = io_uring_get_sqe(&s->ring);
    /* Queued SQEs <= slots taken <= SQ entries: one is always free. */
    g_assert(sqe != NULL);
    return sqe;
}

/* Queues the filled sqe for req and yields until its completion. */
static int uring_wait_co(UringAio *s, struct io_uring_sqe *sqe, UringReq *req)
{
    req->co = qx_coroutine_self();
    req->done = false;
    io_uring_sqe_set_data(sqe, req);
    if (io_uring_sq_space_left(&s->ring) == 0) {
        /* The batch is as large as it can be: no point waiting for the BH. */
        uring_submit(s);
    } else {
        qx_bh_schedule(s->submit_bh);
    }
    qx_coroutine_yield();
    g_assert(req->done);
    return req->res;
}

/*
 * Whether a -EAGAIN completion is worth resubmitting: only for a blocking
 * file, where it is a transient kernel condition.  A non-blocking fd
 * means the caller asked for -EAGAIN.
 */
static bool uring_should_retry_eagain(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    return flags >= 0 && !(flags & O_NONBLOCK);
}

/* One readv or writev of the cursor's next part; the result of the CQE. */
static int uring_rw_once_co(UringAio *s, int fd, QxAioIovCursor *cur,
                            uint64_t offset, bool write)
{
    struct io_uring_sqe *sqe;
    const struct iovec *iov;
    UringReq req;
    int iovcnt;
    int ret;

    for (;;) {
        sqe = uring_get_sqe_co(s);
        iov = qx_aio_iov_cursor_next(cur, &iovcnt);
        if (write) {
            io_uring_prep_writev(sqe, fd, iov, iovcnt, offset);
        } else {
            io_uring_prep_readv(sqe, fd, iov, iovcnt, offset);
        }
        ret = uring_wait_co(s, sqe, &req);
        if (ret == -EINTR) {
            continue;
        }
        if (ret == -EAGAIN && uring_should_retry_eagain(fd)) {
            qx_co_yield_to_loop();
            continue;
        }
        return ret;
    }
}

/*
 * Transfers the whole iovec, resubmitting the rest after a short transfer.
 * A read stops early at end of file (see qx_aio_short_read_done(), or a
 * read of 0 bytes).  Returns the bytes transferred or -errno.
 */
static ssize_t uring_rw_co(QxAio *aio, int fd, const struct iovec *iov,
                           int iovcnt, uint64_t offset, bool write)
{
    UringAio *s = uring_aio(aio);
    QxAioIovCursor cur;
    ssize_t done = 0;
    int ret;

    qx_aio_iov_cursor_init(&cur, iov, iovcnt);
    while (!qx_aio_iov_cursor_done(&cur)) {
        ret = uring_rw_once_co(s, fd, &cur, offset + done, write);
        if (ret < 0) {
            return ret;
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
            qx_aio_short_read_done(fd, offset + done)) {
            break;
        }
    }
    return done;
}

static ssize_t uring_preadv_co(QxAio *aio, int fd, const struct iovec *iov,
                               int iovcnt, uint64_t offset)
{
    return uring_rw_co(aio, fd, iov, iovcnt, offset, false);
}

static ssize_t uring_pwritev_co(QxAio *aio, int fd, const struct iovec *iov,
                                int iovcnt, uint64_t offset)
{
    return uring_rw_co(aio, fd, iov, iovcnt, offset, true);
}

static int uring_fsync_co(QxAio *aio, int fd, bool datasync)
{
    UringAio *s = uring_aio(aio);
    struct io_uring_sqe *sqe;
    UringReq req;
    int ret;

    do {
        sqe = uring_get_sqe_co(s);
        io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
        ret = uring_wait_co(s, sqe, &req);
    } while (ret == -EINTR);
    return ret;
}

static int uring_fallocate_co(QxAio *aio, int fd, int mode, uint64_t offset,
                              uint64_t len)
{
    UringAio *s = uring_aio(aio);
    struct io_uring_sqe *sqe;
    UringReq req;
    int ret;

    do {
        sqe = uring_get_sqe_co(s);
        io_uring_prep_fallocate(sqe, fd, mode, offset, len);
        ret = uring_wait_co(s, sqe, &req);
    } while (ret == -EINTR);
    return ret;
}

/* Fails unless the kernel knows every opcode we issue (Linux >= 5.6). */
static bool uring_check_opcodes(struct io_uring *ring, Error **errp)
{
    static const struct {
        int op;
        const char *name;
    } needed[] = {
        {IORING_OP_READV, "readv"},
        {IORING_OP_WRITEV, "writev"},
        {IORING_OP_FSYNC, "fsync"},
        {IORING_OP_FALLOCATE, "fallocate"},
    };
    struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
    bool ok = true;

    if (!probe) {
        error_setg(errp, "failed to initialize io_uring: kernel too old "
                         "(no opcode probe)");
        return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(needed); i++) {
        if (!io_uring_opcode_supported(probe, needed[i].op)) {
            error_setg(errp,
                       "failed to initialize io_uring: kernel lacks "
                       "the %s operation",
                       needed[i].name);
            ok = false;
            break;
        }
    }
    io_uring_free_probe(probe);
    return ok;
}

static QxAio *uring_open(QxLoop *loop, ThreadPool *pool, Error **errp)
{
    UringAio *s = g_new0(UringAio, 1);
    int ret;

    /*
     * COOP_TASKRUN (Linux 5.19) posts completions when we next enter the
     * kernel (our loop's poll counts) instead of interrupting us with an
     * IPI: a few percent more IOPS.  Older kernels reject the flag.
     */
    ret =
        io_uring_queue_init(URING_ENTRIES, &s->ring, IORING_SETUP_COOP_TASKRUN);
    if (ret == -EINVAL) {
        ret = io_uring_queue_init(URING_ENTRIES, &s->ring, 0);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "failed to initialize io_uring");
        goto out_free;
    }
    if (!uring_check_opcodes(&s->ring, errp)) {
        goto out_exit;
    }
    s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->efd < 0) {
        error_setg_errno(errp, errno,
                         "failed to initialize io_uring: "
                         "cannot create eventfd");
        goto out_exit;
    }
    ret = io_uring_register_eventfd(&s->ring, s->efd);
    if (ret < 0) {
        error_setg_errno(errp, -ret,
                         "failed to initialize io_uring: "
                         "cannot register eventfd");
        goto out_close;
    }
    s->max_inflight = s->ring.sq.ring_entries;
    if (s->max_inflight > URING_ENTRIES) {
        s->max_inflight = URING_ENTRIES;
    }
    qx_co_queue_init(&s->slot_waiters);
    s->submit_bh = qx_bh_new(loop, uring_submit_bh, s);
    s->retry_timer =
        qx_timer_new(loop, QX_CLOCK_MONOTONIC, uring_retry_timer, s);
    qx_loop_set_fd_handler(loop, s->efd, uring_on_eventfd, NULL, s);
    return &s->common;

out_close:
    close(s->efd);
out_exit:
    io_uring_queue_exit(&s->ring);
out_free:
    g_free(s);
    return NULL;
}

static void uring_close(QxAio *aio)
{
    UringAio *s = uring_aio(aio);

    g_assert(s->inflight == 0);
    qx_loop_set_fd_handler(aio->loop, s->efd, NULL, NULL, NULL);
    qx_bh_delete(s->submit_bh);
    qx_timer_free(s->retry_timer);
    io_uring_unregister_eventfd(&s->ring);
    io_uring_queue_exit(&s->ring);
    close(s->efd);
    g_free(s);
}

const QxAioOps qx_aio_io_uring_ops = {
    .backend = QX_AIO_IO_URING,
    .name = "io_uring",
    .open = uring_open,
    .close = uring_close,
    .preadv_co = uring_preadv_co,
    .pwritev_co = uring_pwritev_co,
    .fsync_co = uring_fsync_co,
    .fallocate_co = uring_fallocate_co,
};
