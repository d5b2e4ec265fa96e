/*
 * Unit tests for the worker thread pool.
 */
#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "qx/util/coroutine.h"
#include "qx/util/thread-pool.h"

#define MS INT64_C(1000000)

static QxLoop *new_loop(void)
{
    QxLoop *loop = qx_loop_new(&error_abort);

    g_assert_nonnull(loop);
    qx_loop_set_current(loop);
    return loop;
}

static pthread_t main_thread;

static int double_fn(void *arg)
{
    /* work runs off the loop thread */
    g_assert_false(pthread_equal(pthread_self(), main_thread));
    return GPOINTER_TO_INT(arg) * 2;
}

typedef struct Results {
    int ret[100];
    bool seen[100];
    int n;
    bool all;
} Results;

typedef struct DoneCtx {
    Results *r;
    int idx;
} DoneCtx;

static void record_done(void *opaque, int ret)
{
    DoneCtx *d = opaque;

    /* completions run on the loop thread */
    g_assert_true(pthread_equal(pthread_self(), main_thread));
    g_assert_false(d->r->seen[d->idx]);
    d->r->seen[d->idx] = true;
    d->r->ret[d->idx] = ret;
    if (++d->r->n == 100) {
        d->r->all = true;
    }
}

static void test_results(void)
{
    QxLoop *loop = new_loop();
    ThreadPool *pool = qx_thread_pool_new(loop, 4);
    Results r = {0};
    DoneCtx ctx[100];

    for (int i = 0; i < 100; i++) {
        ctx[i] = (DoneCtx){.r = &r, .idx = i};
        qx_thread_pool_submit(pool, double_fn, GINT_TO_POINTER(i), record_done,
                              &ctx[i]);
    }
    qx_loop_run_until(loop, &r.all);
    for (int i = 0; i < 100; i++) {
        g_assert_true(r.seen[i]);
        g_assert_cmpint(r.ret[i], ==, 2 * i);
    }
    g_assert_cmpint(qx_thread_pool_get_thread_count(pool), <=, 4);
    qx_thread_pool_free(pool);
    qx_loop_free(loop);
}

#define MANY_JOBS 20000
#define MAX_THREADS 8

typedef struct Concurrency {
    atomic_int running;
    atomic_int max_running;
    atomic_long sum;
    int done;
    long done_sum;
    bool all;
} Concurrency;

static Concurrency conc;

static int count_fn(void *arg)
{
    int now = atomic_fetch_add(&conc.running, 1) + 1;
    int max = atomic_load(&conc.max_running);

    while (now > max &&
           !atomic_compare_exchange_weak(&conc.max_running, &max, now)) {
    }
    atomic_fetch_add(&conc.sum, GPOINTER_TO_INT(arg));
    if (GPOINTER_TO_INT(arg) % 1000 == 0) {
        g_usleep(1000); /* let the pool grow */
    }
    atomic_fetch_sub(&conc.running, 1);
    return GPOINTER_TO_INT(arg);
}

static void count_done(void *opaque, int ret)
{
    conc.done++;
    conc.done_sum += ret;
    if (conc.done == MANY_JOBS) {
        conc.all = true;
    }
}

static void test_many(void)
{
    QxLoop *loop = new_loop();
    ThreadPool *pool = qx_thread_pool_new(loop, MAX_THREADS);
    long expect = (long)MANY_JOBS * (MANY_JOBS - 1) / 2;

    memset(&conc, 0, sizeof(conc));
    for (int i = 0; i < MANY_JOBS; i++) {
        qx_thread_pool_submit(pool, count_fn, GINT_TO_POINTER(i), count_done,
                              NULL);
        g_assert_cmpint(qx_thread_pool_get_thread_count(pool), <=, MAX_THREADS);
        if (i % 97 == 0) {
            qx_loop_run_once(loop, false);
        }
    }
    qx_loop_run_until(loop, &conc.all);
    g_assert_cmpint(conc.done, ==, MANY_JOBS);
    g_assert_cmpint(atomic_load(&conc.sum), ==, expect);
    g_assert_cmpint(conc.done_sum, ==, expect);
    g_assert_cmpint(atomic_load(&conc.max_running), >=, 1);
    g_assert_cmpint(atomic_load(&conc.max_running), <=, MAX_THREADS);
    qx_thread_pool_free(pool);
    qx_loop_free(loop);
}

static int sleep_fn(void *arg)
{
    g_usleep(GPOINTER_TO_INT(arg));
    return 7;
}

static void count_int_done(void *opaque, int ret)
{
    g_assert_cmpint(ret, ==, 7);
    (*(int *)opaque)++;
}

static void test_free_waits(void)
{
    QxLoop *loop = new_loop();
    ThreadPool *pool = qx_thread_pool_new(loop, 2);
    int done = 0;

    for (int i = 0; i < 6; i++) {
        qx_thread_pool_submit(pool, sleep_fn, GINT_TO_POINTER(10000),
                              count_int_done, &done);
    }
    /* waits for the work and delivers every completion */
    qx_thread_pool_free(pool);
    g_assert_cmpint(done, ==, 6);
    g_assert_false(qx_loop_run_once(loop, false));
    qx_loop_free(loop);
}

static void test_idle_exit(void)
{
    QxLoop *loop = new_loop();
    ThreadPool *pool = qx_thread_pool_new(loop, 4);
    int done = 0;
    int64_t deadline;

    qx_thread_pool_set_idle_timeout_ns(pool, 20 * MS);
    g_assert_cmpint(qx_thread_pool_get_thread_count(pool), ==, 0);
    for (int i = 0; i < 4; i++) {
        qx_thread_pool_submit(pool, sleep_fn, GINT_TO_POINTER(20000),
                              count_int_done, &done);
    }
    g_assert_cmpint(qx_thread_pool_get_thread_count(pool), >=, 1);
    while (done < 4) {
        qx_loop_run_once(loop, true);
    }
    /* idle workers exit after the timeout */
    deadline = qx_clock_ns(QX_CLOCK_MONOTONIC) + 5000 * MS;
    while (qx_thread_pool_get_thread_count(pool) > 0 &&
           qx_clock_ns(QX_CLOCK_MONOTONIC) < deadline) {
        g_usleep(5000);
    }
    g_assert_cmpint(qx_thread_pool_get_thread_count(pool), ==, 0);
    /* and are started again on demand */
    qx_thread_pool_submit(pool, sleep_fn, GINT_TO_POINTER(1), count_int_done,
                          &done);
    g_assert_cmpint(qx_thread_pool_get_thread_count(pool), ==, 1);
    while (done < 5) {
        qx_loop_run_once(loop, true);
    }
    qx_thread_pool_free(pool);
    qx_loop_free(loop);
}

typedef struct CoJob {
    ThreadPool *pool;
    int base;
    int sum;
    int *remaining;
} CoJob;

static void submit_co_entry(void *opaque)
{
    CoJob *j = opaque;

    for (int i = 0; i < 20; i++) {
        int ret = qx_thread_pool_submit_co(j->pool, double_fn,
                                           GINT_TO_POINTER(j->base + i));

        g_assert_cmpint(ret, ==, 2 * (j->base + i));
        g_assert_true(pthread_equal(pthread_self(), main_thread));
        j->sum += ret;
    }
    (*j->remaining)--;
}

static void test_submit_co(void)
{
    QxLoop *loop = new_loop();
    ThreadPool *pool = qx_thread_pool_new(loop, 3);
    int remaining = 5;
    CoJob jobs[5];

    for (int i = 0; i < 5; i++) {
        jobs[i] =
            (CoJob){.pool = pool, .base = i * 100, .remaining = &remaining};
        qx_coroutine_enter(qx_coroutine_create(submit_co_entry, &jobs[i]));
    }
    while (remaining > 0) {
        qx_loop_run_once(loop, true);
    }
    for (int i = 0; i < 5; i++) {
        /* 2 * sum(base .. base + 19) */
        g_assert_cmpint(jobs[i].sum, ==, 2 * (20 * i * 100 + 190));
    }
    qx_thread_pool_free(pool);
    qx_loop_free(loop);
}

static void submit_co_single(void *opaque)
{
    CoJob *j = opaque;

    j->sum = qx_thread_pool_submit_co(j->pool, sleep_fn, GINT_TO_POINTER(5000));
}

static void test_submit_co_run(void)
{
    QxLoop *loop = new_loop();
    ThreadPool *pool = qx_thread_pool_new(loop, 1);
    CoJob j = {.pool = pool};

    qx_co_run(loop, submit_co_single, &j);
    g_assert_cmpint(j.sum, ==, 7);
    qx_thread_pool_free(pool);
    qx_loop_free(loop);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    main_thread = pthread_self();
    g_test_add_func("/thread-pool/results", test_results);
    g_test_add_func("/thread-pool/many", test_many);
    g_test_add_func("/thread-pool/free-waits", test_free_waits);
    g_test_add_func("/thread-pool/idle-exit", test_idle_exit);
    g_test_add_func("/thread-pool/submit-co", test_submit_co);
    g_test_add_func("/thread-pool/submit-co-run", test_submit_co_run);
    return g_test_run();
}
