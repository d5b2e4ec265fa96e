/*
 * Unit tests for the event loop: fd handlers, timers, bottom halves.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "qx/util/loop.h"

#define MS INT64_C(1000000)

static QxLoop *new_loop(void)
{
    QxLoop *loop = qx_loop_new(&error_abort);

    g_assert_nonnull(loop);
    return loop;
}

static void make_pipe(int fds[2])
{
    g_assert_cmpint(pipe2(fds, O_NONBLOCK | O_CLOEXEC), ==, 0);
}

static void write_byte(int fd)
{
    char c = 'x';

    g_assert_cmpint(write(fd, &c, 1), ==, 1);
}

/* Runs non-blocking iterations until nothing happens any more. */
static void drain(QxLoop *loop)
{
    while (qx_loop_run_once(loop, false)) {
    }
}

static void test_clock(void)
{
    int64_t m1 = qx_clock_ns(QX_CLOCK_MONOTONIC);
    int64_t m2 = qx_clock_ns(QX_CLOCK_MONOTONIC);
    int64_t rt = qx_clock_ns(QX_CLOCK_REALTIME);
    int64_t glib_rt = g_get_real_time() * 1000;

    g_assert_cmpint(m2, >=, m1);
    g_assert_cmpint(llabs(rt - glib_rt), <, 1000 * MS);
}

static void test_current(void)
{
    QxLoop *a, *b;

    g_assert_null(qx_loop_current());
    a = new_loop();
    g_assert_true(qx_loop_current() == a);
    b = new_loop();
    /* the first loop stays current */
    g_assert_true(qx_loop_current() == a);
    qx_loop_set_current(b);
    g_assert_true(qx_loop_current() == b);
    qx_loop_free(b);
    g_assert_null(qx_loop_current());
    qx_loop_set_current(a);
    qx_loop_free(a);
    g_assert_null(qx_loop_current());
}

typedef struct FdState {
    QxLoop *loop;
    int fd;
    int reads;
    int writes;
    int bytes;
    int eof;
    int spurious;
} FdState;

static void on_read_count(void *opaque)
{
    FdState *s = opaque;

    s->reads++;
}

static void on_read_consume(void *opaque)
{
    FdState *s = opaque;
    char c;
    ssize_t n = read(s->fd, &c, 1);

    s->reads++;
    if (n == 1) {
        s->bytes++;
    } else if (n == 0) {
        s->eof++;
    } else {
        g_assert_cmpint(errno, ==, EAGAIN);
        s->spurious++;
    }
}

static void on_write_count(void *opaque)
{
    FdState *s = opaque;

    s->writes++;
}

static void test_fd_read(void)
{
    QxLoop *loop = new_loop();
    FdState s = {.loop = loop};
    int fds[2];

    make_pipe(fds);
    s.fd = fds[0];
    qx_loop_set_fd_handler(loop, fds[0], on_read_count, NULL, &s);

    /* nothing to read: no callback */
    g_assert_false(qx_loop_run_once(loop, false));
    g_assert_cmpint(s.reads, ==, 0);

    /* level-triggered: called every iteration until consumed */
    write_byte(fds[1]);
    g_assert_true(qx_loop_run_once(loop, false));
    g_assert_true(qx_loop_run_once(loop, true));
    g_assert_cmpint(s.reads, ==, 2);

    /* switch to a consuming handler (replace) */
    qx_loop_set_fd_handler(loop, fds[0], on_read_consume, NULL, &s);
    write_byte(fds[1]);
    drain(loop);
    g_assert_cmpint(s.bytes, ==, 2);
    g_assert_cmpint(s.spurious, ==, 0);

    /* removal: no more callbacks */
    qx_loop_set_fd_handler(loop, fds[0], NULL, NULL, NULL);
    write_byte(fds[1]);
    g_assert_false(qx_loop_run_once(loop, false));
    g_assert_cmpint(s.bytes, ==, 2);

    close(fds[0]);
    close(fds[1]);
    qx_loop_free(loop);
}

static void test_fd_write(void)
{
    QxLoop *loop = new_loop();
    FdState s = {.loop = loop};
    int fds[2];

    make_pipe(fds);
    qx_loop_set_fd_handler(loop, fds[1], NULL, on_write_count, &s);
    g_assert_true(qx_loop_run_once(loop, true));
    g_assert_cmpint(s.writes, ==, 1);

    /* change the same fd to read-only interest: writable no longer counts */
    qx_loop_set_fd_handler(loop, fds[1], on_read_count, NULL, &s);
    g_assert_false(qx_loop_run_once(loop, false));
    g_assert_cmpint(s.writes, ==, 1);
    g_assert_cmpint(s.reads, ==, 0);

    qx_loop_set_fd_handler(loop, fds[1], NULL, NULL, NULL);
    close(fds[0]);
    close(fds[1]);
    qx_loop_free(loop);
}

static void test_fd_hangup(void)
{
    QxLoop *loop = new_loop();
    FdState s = {.loop = loop};
    int fds[2];

    make_pipe(fds);
    s.fd = fds[0];
    qx_loop_set_fd_handler(loop, fds[0], on_read_consume, NULL, &s);
    close(fds[1]);
    /* EOF (EPOLLHUP) is reported to the read handler */
    g_assert_true(qx_loop_run_once(loop, true));
    g_assert_cmpint(s.reads, ==, 1);
    g_assert_cmpint(s.eof, ==, 1);
    qx_loop_set_fd_handler(loop, fds[0], NULL, NULL, NULL);
    close(fds[0]);
    qx_loop_free(loop);
}

/* Two handlers; whichever runs first removes both. */
typedef struct RemoveState {
    QxLoop *loop;
    int fd[2];
    int calls[2];
} RemoveState;

static void on_read_remove_both(RemoveState *r, int self)
{
    r->calls[self]++;
    qx_loop_set_fd_handler(r->loop, r->fd[0], NULL, NULL, NULL);
    qx_loop_set_fd_handler(r->loop, r->fd[1], NULL, NULL, NULL);
}

static void on_read_remove0(void *opaque)
{
    on_read_remove_both(opaque, 0);
}

static void on_read_remove1(void *opaque)
{
    on_read_remove_both(opaque, 1);
}

static void test_fd_remove_in_callback(void)
{
    QxLoop *loop = new_loop();
    RemoveState r = {.loop = loop};
    int p0[2], p1[2];

    make_pipe(p0);
    make_pipe(p1);
    r.fd[0] = p0[0];
    r.fd[1] = p1[0];
    qx_loop_set_fd_handler(loop, p0[0], on_read_remove0, NULL, &r);
    qx_loop_set_fd_handler(loop, p1[0], on_read_remove1, NULL, &r);
    write_byte(p0[1]);
    write_byte(p1[1]);

    /* both are ready in the same iteration; only one handler may run */
    g_assert_true(qx_loop_run_once(loop, true));
    g_assert_cmpint(r.calls[0] + r.calls[1], ==, 1);
    g_assert_false(qx_loop_run_once(loop, false));
    g_assert_cmpint(r.calls[0] + r.calls[1], ==, 1);

    close(p0[0]);
    close(p0[1]);
    close(p1[0]);
    close(p1[1]);
    qx_loop_free(loop);
}

/* A handler that removes itself and closes its fd, reused by a new pipe. */
typedef struct ReuseState {
    QxLoop *loop;
    int fds[2];
    int old_calls;
    FdState fresh;
} ReuseState;

static void on_read_close_reopen(void *opaque)
{
    ReuseState *s = opaque;

    s->old_calls++;
    qx_loop_set_fd_handler(s->loop, s->fds[0], NULL, NULL, NULL);
    close(s->fds[0]);
    close(s->fds[1]);
    /* the lowest free numbers: very likely the same fd as before */
    make_pipe(s->fds);
    s->fresh.fd = s->fds[0];
    qx_loop_set_fd_handler(s->loop, s->fds[0], on_read_consume, NULL,
                           &s->fresh);
}

static void test_fd_reuse_in_callback(void)
{
    QxLoop *loop = new_loop();
    ReuseState s = {.loop = loop};

    make_pipe(s.fds);
    qx_loop_set_fd_handler(loop, s.fds[0], on_read_close_reopen, NULL, &s);
    write_byte(s.fds[1]);
    g_assert_true(qx_loop_run_once(loop, true));
    g_assert_cmpint(s.old_calls, ==, 1);
    /* the new handler has nothing to read: it must not run */
    g_assert_false(qx_loop_run_once(loop, false));
    g_assert_cmpint(s.fresh.reads, ==, 0);
    write_byte(s.fds[1]);
    g_assert_true(qx_loop_run_once(loop, false));
    g_assert_cmpint(s.fresh.bytes, ==, 1);
    g_assert_cmpint(s.fresh.spurious, ==, 0);

    qx_loop_set_fd_handler(loop, s.fds[0], NULL, NULL, NULL);
    close(s.fds[0]);
    close(s.fds[1]);
    qx_loop_free(loop);
}

/*
 * A handler that runs the loop recursively: the nested iteration dispatches
 * the other ready fd, and the outer iteration must not dispatch it again.
 */
typedef struct NestState {
    QxLoop *loop;
    FdState fd[2];
    bool nested;
} NestState;

static NestState *nest_state;

static void on_read_nest(void *opaque)
{
    on_read_consume(opaque);
    if (!nest_state->nested) {
        nest_state->nested = true;
        qx_loop_run_once(nest_state->loop, false);
    }
}

static void test_fd_nested_run(void)
{
    QxLoop *loop = new_loop();
    NestState n = {.loop = loop};
    int p0[2], p1[2];

    nest_state = &n;
    make_pipe(p0);
    make_pipe(p1);
    n.fd[0].fd = p0[0];
    n.fd[1].fd = p1[0];
    qx_loop_set_fd_handler(loop, p0[0], on_read_nest, NULL, &n.fd[0]);
    qx_loop_set_fd_handler(loop, p1[0], on_read_nest, NULL, &n.fd[1]);
    write_byte(p0[1]);
    write_byte(p1[1]);
    g_assert_true(qx_loop_run_once(loop, true));
    g_assert_true(n.nested);
    g_assert_cmpint(n.fd[0].bytes, ==, 1);
    g_assert_cmpint(n.fd[1].bytes, ==, 1);
    g_assert_cmpint(n.fd[0].spurious + n.fd[1].spurious, ==, 0);

    qx_loop_set_fd_handler(loop, p0[0], NULL, NULL, NULL);
    qx_loop_set_fd_handler(loop, p1[0], NULL, NULL, NULL);
    close(p0[0]);
    close(p0[1]);
    close(p1[0]);
    close(p1[1]);
    qx_loop_free(loop);
}

static void test_fd_regular_file(void)
{
    QxLoop *loop = new_loop();
    FdState s = {.loop = loop};
    char path[] = "/tmp/qx-test-loop-XXXXXX";
    int fd = mkstemp(path);

    g_assert_cmpint(fd, >=, 0);
    unlink(path);
    /* epoll refuses regular files; they are always ready */
    qx_loop_set_fd_handler(loop, fd, on_read_count, on_write_count, &s);
    g_assert_true(qx_loop_run_once(loop, true));
    g_assert_cmpint(s.reads, ==, 1);
    g_assert_cmpint(s.writes, ==, 1);
    qx_loop_set_fd_handler(loop, fd, NULL, NULL, NULL);
    g_assert_false(qx_loop_run_once(loop, false));
    g_assert_cmpint(s.reads, ==, 1);
    close(fd);
    qx_loop_free(loop);
}

/* ---- timers ---- */

typedef struct TimerLog {
    QxLoop *loop;
    int order[16];
    int n;
    int64_t fired_at;
} TimerLog;

typedef struct TimerCtx {
    TimerLog *log;
    int id;
    QxTimer *timer;
    int rearm; /* times left to re-arm itself */
    bool free_self;
} TimerCtx;

static void timer_cb(void *opaque)
{
    TimerCtx *c = opaque;

    g_assert_cmpint(c->log->n, <, 16);
    c->log->order[c->log->n++] = c->id;
    c->log->fired_at = qx_clock_ns(QX_CLOCK_MONOTONIC);
    g_assert_false(qx_timer_is_pending(c->timer));
    if (c->rearm > 0) {
        c->rearm--;
        qx_timer_mod(c->timer, qx_clock_ns(QX_CLOCK_MONOTONIC) + 1 * MS);
    }
    if (c->free_self) {
        qx_timer_free(c->timer);
        c->timer = NULL;
    }
}

static void test_timer_order(void)
{
    QxLoop *loop = new_loop();
    TimerLog log = {.loop = loop};
    /* deadlines (ms from now) in arming order; ids fire sorted by these */
    static const int delay_ms[] = {8, 2, 6, 2, 4, 1};
    static const int expect[] = {5, 1, 3, 4, 2, 0};
    TimerCtx ctx[6];
    int64_t now = qx_clock_ns(QX_CLOCK_MONOTONIC);

    for (int i = 0; i < 6; i++) {
        ctx[i] = (TimerCtx){.log = &log, .id = i};
        ctx[i].timer =
            qx_timer_new(loop, QX_CLOCK_MONOTONIC, timer_cb, &ctx[i]);
        qx_timer_mod(ctx[i].timer, now + delay_ms[i] * MS);
        g_assert_true(qx_timer_is_pending(ctx[i].timer));
    }
    while (log.n < 6) {
        qx_loop_run_once(loop, true);
    }
    for (int i = 0; i < 6; i++) {
        g_assert_cmpint(log.order[i], ==, expect[i]);
        g_assert_false(qx_timer_is_pending(ctx[i].timer));
        qx_timer_free(ctx[i].timer);
    }
    qx_loop_free(loop);
}

static void test_timer_realtime_and_mixed(void)
{
    QxLoop *loop = new_loop();
    TimerLog log = {.loop = loop};
    TimerCtx a = {.log = &log, .id = 1}, b = {.log = &log, .id = 2};

    a.timer = qx_timer_new(loop, QX_CLOCK_REALTIME, timer_cb, &a);
    b.timer = qx_timer_new(loop, QX_CLOCK_MONOTONIC, timer_cb, &b);
    qx_timer_mod(a.timer, qx_clock_ns(QX_CLOCK_REALTIME) + 5 * MS);
    qx_timer_mod(b.timer, qx_clock_ns(QX_CLOCK_MONOTONIC) + 15 * MS);
    while (log.n < 2) {
        qx_loop_run_once(loop, true);
    }
    g_assert_cmpint(log.order[0], ==, 1);
    g_assert_cmpint(log.order[1], ==, 2);
    qx_timer_free(a.timer);
    qx_timer_free(b.timer);
    qx_loop_free(loop);
}

static void test_timer_accuracy(void)
{
    QxLoop *loop = new_loop();
    TimerLog log = {.loop = loop};
    TimerCtx c = {.log = &log, .id = 1};
    int64_t start, elapsed;

    c.timer = qx_timer_new(loop, QX_CLOCK_MONOTONIC, timer_cb, &c);
    start = qx_clock_ns(QX_CLOCK_MONOTONIC);
    qx_timer_mod(c.timer, start + 20 * MS);
    /* a single blocking iteration must wait for the timer */
    g_assert_true(qx_loop_run_once(loop, true));
    g_assert_cmpint(log.n, ==, 1);
    elapsed = log.fired_at - start;
    g_assert_cmpint(elapsed, >=, 20 * MS);
    /* generous bound: valgrind and loaded CI machines are slow */
    g_assert_cmpint(elapsed, <, 20 * MS + 200 * MS);
    qx_timer_free(c.timer);
    qx_loop_free(loop);
}

static void test_timer_rearm_del(void)
{
    QxLoop *loop = new_loop();
    TimerLog log = {.loop = loop};
    TimerCtx a = {.log = &log, .id = 1}, b = {.log = &log, .id = 2};
    TimerCtx p = {.log = &log, .id = 3, .rearm = 2};
    int64_t now = qx_clock_ns(QX_CLOCK_MONOTONIC);

    a.timer = qx_timer_new(loop, QX_CLOCK_MONOTONIC, timer_cb, &a);
    b.timer = qx_timer_new(loop, QX_CLOCK_MONOTONIC, timer_cb, &b);
    qx_timer_mod(a.timer, now + 1 * MS);
    qx_timer_mod(b.timer, now + 3 * MS);
    /* re-arm a later than b: order flips */
    qx_timer_mod(a.timer, now + 6 * MS);
    while (log.n < 2) {
        qx_loop_run_once(loop, true);
    }
    g_assert_cmpint(log.order[0], ==, 2);
    g_assert_cmpint(log.order[1], ==, 1);

    /* deleted timers do not fire; del is idempotent */
    qx_timer_mod(a.timer, qx_clock_ns(QX_CLOCK_MONOTONIC) + 1 * MS);
    qx_timer_del(a.timer);
    qx_timer_del(a.timer);
    g_assert_false(qx_timer_is_pending(a.timer));
    g_usleep(3000);
    g_assert_false(qx_loop_run_once(loop, false));
    g_assert_cmpint(log.n, ==, 2);

    /* a timer re-arming itself from its callback: fires 3 times */
    p.timer = qx_timer_new(loop, QX_CLOCK_MONOTONIC, timer_cb, &p);
    qx_timer_mod(p.timer, qx_clock_ns(QX_CLOCK_MONOTONIC));
    while (log.n < 5) {
        qx_loop_run_once(loop, true);
    }
    g_assert_false(qx_timer_is_pending(p.timer));
    g_assert_cmpint(log.order[2], ==, 3);
    g_assert_cmpint(log.order[4], ==, 3);

    /* freeing a pending timer unlinks it */
    qx_timer_mod(b.timer, qx_clock_ns(QX_CLOCK_MONOTONIC));
    qx_timer_free(b.timer);
    g_assert_false(qx_loop_run_once(loop, false));
    g_assert_cmpint(log.n, ==, 5);

    qx_timer_free(NULL);
    qx_timer_free(a.timer);
    qx_timer_free(p.timer);
    qx_loop_free(loop);
}

static void test_timer_free_self(void)
{
    QxLoop *loop = new_loop();
    TimerLog log = {.loop = loop};
    TimerCtx c = {.log = &log, .id = 7, .free_self = true};

    c.timer = qx_timer_new(loop, QX_CLOCK_MONOTONIC, timer_cb, &c);
    qx_timer_mod(c.timer, 0);
    g_assert_true(qx_loop_run_once(loop, false));
    g_assert_cmpint(log.n, ==, 1);
    g_assert_null(c.timer);
    qx_loop_free(loop);
}

static int past_count;

static void timer_rearm_past_cb(void *opaque)
{
    QxTimer *t = *(QxTimer **)opaque;

    past_count++;
    qx_timer_mod(t, 0); /* always expired */
}

static void test_timer_past_no_starvation(void)
{
    QxLoop *loop = new_loop();
    QxTimer *t = NULL;

    t = qx_timer_new(loop, QX_CLOCK_MONOTONIC, timer_rearm_past_cb, &t);
    qx_timer_mod(t, 0);
    past_count = 0;
    /* each iteration fires it once and returns */
    g_assert_true(qx_loop_run_once(loop, false));
    g_assert_cmpint(past_count, ==, 1);
    g_assert_true(qx_loop_run_once(loop, true));
    g_assert_cmpint(past_count, ==, 2);
    qx_timer_free(t);
    qx_loop_free(loop);
}

/* ---- bottom halves ---- */

typedef struct BHState {
    QxLoop *loop;
    QxBH *bh;
    QxBH *other;
    int runs;
    int reschedule;
    bool delete_self;
    bool delete_other;
} BHState;

static void bh_cb(void *opaque)
{
    BHState *s = opaque;

    s->runs++;
    if (s->reschedule > 0) {
        s->reschedule--;
        qx_bh_schedule(s->bh);
    }
    if (s->delete_other) {
        qx_bh_delete(s->other);
        s->other = NULL;
    }
    if (s->delete_self) {
        qx_bh_delete(s->bh);
        s->bh = NULL;
    }
}

static void test_bh_basic(void)
{
    QxLoop *loop = new_loop();
    BHState s = {.loop = loop};

    s.bh = qx_bh_new(loop, bh_cb, &s);
    g_assert_false(qx_loop_run_once(loop, false));

    /* idempotent until it ran */
    qx_bh_schedule(s.bh);
    qx_bh_schedule(s.bh);
    g_assert_true(qx_loop_run_once(loop, false));
    g_assert_cmpint(s.runs, ==, 1);
    g_assert_false(qx_loop_run_once(loop, false));
    g_assert_cmpint(s.runs, ==, 1);

    /* cancel */
    qx_bh_schedule(s.bh);
    qx_bh_cancel(s.bh);
    g_assert_false(qx_loop_run_once(loop, false));
    g_assert_cmpint(s.runs, ==, 1);
    /* cancel then schedule again: runs exactly once */
    qx_bh_schedule(s.bh);
    qx_bh_cancel(s.bh);
    qx_bh_schedule(s.bh);
    drain(loop);
    g_assert_cmpint(s.runs, ==, 2);

    /* a BH scheduled in a blocking iteration does not block */
    qx_bh_schedule(s.bh);
    g_assert_true(qx_loop_run_once(loop, true));
    g_assert_cmpint(s.runs, ==, 3);

    /* rescheduling itself: runs again, the loop still returns */
    s.reschedule = 3;
    qx_bh_schedule(s.bh);
    drain(loop);
    g_assert_cmpint(s.runs, ==, 7);

    /* deleted while scheduled: never runs */
    qx_bh_schedule(s.bh);
    qx_bh_delete(s.bh);
    g_assert_false(qx_loop_run_once(loop, false));
    g_assert_cmpint(s.runs, ==, 7);
    qx_loop_free(loop);
}

static void test_bh_delete_in_callback(void)
{
    QxLoop *loop = new_loop();
    BHState a = {.loop = loop}, b = {.loop = loop};

    a.bh = qx_bh_new(loop, bh_cb, &a);
    b.bh = qx_bh_new(loop, bh_cb, &b);
    a.other = b.bh;
    a.delete_other = true;
    a.delete_self = true;
    /* a runs first, deletes itself and b, which is queued behind it */
    qx_bh_schedule(a.bh);
    qx_bh_schedule(b.bh);
    drain(loop);
    g_assert_cmpint(a.runs, ==, 1);
    g_assert_cmpint(b.runs, ==, 0);
    g_assert_null(a.bh);
    qx_loop_free(loop);
}

typedef struct OrderLog {
    int order[8];
    int n;
} OrderLog;

static OrderLog bh_order;

static void bh_order_cb(void *opaque)
{
    bh_order.order[bh_order.n++] = GPOINTER_TO_INT(opaque);
}

static void test_bh_order(void)
{
    QxLoop *loop = new_loop();
    QxBH *bhs[4];

    bh_order.n = 0;
    for (int i = 0; i < 4; i++) {
        bhs[i] = qx_bh_new(loop, bh_order_cb, GINT_TO_POINTER(i));
    }
    qx_bh_schedule(bhs[2]);
    qx_bh_schedule(bhs[0]);
    qx_loop_call_soon(loop, bh_order_cb, GINT_TO_POINTER(7));
    qx_bh_schedule(bhs[3]);
    qx_bh_schedule(bhs[1]);
    g_assert_true(qx_loop_run_once(loop, false));
    g_assert_cmpint(bh_order.n, ==, 5);
    g_assert_cmpint(bh_order.order[0], ==, 2);
    g_assert_cmpint(bh_order.order[1], ==, 0);
    g_assert_cmpint(bh_order.order[2], ==, 7);
    g_assert_cmpint(bh_order.order[3], ==, 3);
    g_assert_cmpint(bh_order.order[4], ==, 1);
    for (int i = 0; i < 4; i++) {
        qx_bh_delete(bhs[i]);
    }
    /* a pending one-shot freed with the loop (checked by valgrind/ASan) */
    qx_loop_call_soon(loop, bh_order_cb, GINT_TO_POINTER(9));
    qx_loop_free(loop);
}

/*
 * A BH that waits in a nested loop for a BH queued behind it in the same
 * batch: the nested iteration must run it (no deadlock).
 */
typedef struct NestedBH {
    QxLoop *loop;
    bool b_ran;
    bool a_done;
} NestedBH;

static void nested_bh_b(void *opaque)
{
    ((NestedBH *)opaque)->b_ran = true;
}

static void nested_bh_a(void *opaque)
{
    NestedBH *n = opaque;

    qx_loop_run_until(n->loop, &n->b_ran);
    n->a_done = true;
}

static void test_bh_nested_wait(void)
{
    QxLoop *loop = new_loop();
    NestedBH n = {.loop = loop};

    qx_loop_call_soon(loop, nested_bh_a, &n);
    qx_loop_call_soon(loop, nested_bh_b, &n);
    g_assert_true(qx_loop_run_once(loop, false));
    g_assert_true(n.a_done);
    g_assert_true(n.b_ran);
    qx_loop_free(loop);
}

typedef struct WakeThread {
    QxLoop *loop;
    QxBH *bh;
    int delay_us;
    bool notify_only;
} WakeThread;

static void *wake_thread_fn(void *opaque)
{
    WakeThread *w = opaque;

    g_usleep(w->delay_us);
    if (w->notify_only) {
        qx_loop_notify(w->loop);
    } else {
        qx_bh_schedule(w->bh);
    }
    return NULL;
}

static void test_bh_cross_thread_wakes(void)
{
    QxLoop *loop = new_loop();
    BHState s = {.loop = loop};
    WakeThread w = {.loop = loop, .delay_us = 50000};
    pthread_t tid;
    int64_t start, elapsed;

    s.bh = qx_bh_new(loop, bh_cb, &s);
    w.bh = s.bh;
    start = qx_clock_ns(QX_CLOCK_MONOTONIC);
    pthread_create(&tid, NULL, wake_thread_fn, &w);
    /* blocks (no fds, no timers) until the other thread schedules */
    g_assert_true(qx_loop_run_once(loop, true));
    elapsed = qx_clock_ns(QX_CLOCK_MONOTONIC) - start;
    g_assert_cmpint(s.runs, ==, 1);
    g_assert_cmpint(elapsed, >=, 40 * MS);
    pthread_join(tid, NULL);

    /* qx_loop_notify alone wakes it too, without running anything */
    w.notify_only = true;
    pthread_create(&tid, NULL, wake_thread_fn, &w);
    g_assert_false(qx_loop_run_once(loop, true));
    pthread_join(tid, NULL);

    qx_bh_delete(s.bh);
    qx_loop_free(loop);
}

#define CALL_THREADS 4
#define CALLS_PER_THREAD 5000

typedef struct CallState {
    QxLoop *loop;
    atomic_int done_threads;
    int calls;
    bool all_done;
} CallState;

static void call_cb(void *opaque)
{
    CallState *s = opaque;

    s->calls++;
    if (s->calls == CALL_THREADS * CALLS_PER_THREAD) {
        s->all_done = true;
    }
}

static void *call_thread_fn(void *opaque)
{
    CallState *s = opaque;

    for (int i = 0; i < CALLS_PER_THREAD; i++) {
        qx_loop_call_soon(s->loop, call_cb, s);
    }
    atomic_fetch_add(&s->done_threads, 1);
    return NULL;
}

static void test_call_soon_threads(void)
{
    QxLoop *loop = new_loop();
    CallState s = {.loop = loop};
    pthread_t tids[CALL_THREADS];

    for (int i = 0; i < CALL_THREADS; i++) {
        pthread_create(&tids[i], NULL, call_thread_fn, &s);
    }
    qx_loop_run_until(loop, &s.all_done);
    for (int i = 0; i < CALL_THREADS; i++) {
        pthread_join(tids[i], NULL);
    }
    g_assert_cmpint(s.calls, ==, CALL_THREADS * CALLS_PER_THREAD);
    g_assert_false(qx_loop_run_once(loop, false));
    qx_loop_free(loop);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/loop/clock", test_clock);
    g_test_add_func("/loop/current", test_current);
    g_test_add_func("/loop/fd/read", test_fd_read);
    g_test_add_func("/loop/fd/write", test_fd_write);
    g_test_add_func("/loop/fd/hangup", test_fd_hangup);
    g_test_add_func("/loop/fd/remove-in-callback", test_fd_remove_in_callback);
    g_test_add_func("/loop/fd/reuse-in-callback", test_fd_reuse_in_callback);
    g_test_add_func("/loop/fd/nested-run", test_fd_nested_run);
    g_test_add_func("/loop/fd/regular-file", test_fd_regular_file);
    g_test_add_func("/loop/timer/order", test_timer_order);
    g_test_add_func("/loop/timer/realtime", test_timer_realtime_and_mixed);
    g_test_add_func("/loop/timer/accuracy", test_timer_accuracy);
    g_test_add_func("/loop/timer/rearm-del", test_timer_rearm_del);
    g_test_add_func("/loop/timer/free-self", test_timer_free_self);
    g_test_add_func("/loop/timer/past-no-starvation",
                    test_timer_past_no_starvation);
    g_test_add_func("/loop/bh/basic", test_bh_basic);
    g_test_add_func("/loop/bh/delete-in-callback", test_bh_delete_in_callback);
    g_test_add_func("/loop/bh/order", test_bh_order);
    g_test_add_func("/loop/bh/nested-wait", test_bh_nested_wait);
    g_test_add_func("/loop/bh/cross-thread", test_bh_cross_thread_wakes);
    g_test_add_func("/loop/call-soon/threads", test_call_soon_threads);
    return g_test_run();
}
