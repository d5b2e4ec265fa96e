/*
 * Coroutine and event-loop micro-benchmarks.
 *
 *   bench-coroutine [iterations]
 *
 * Prints, one per line:
 *   - enter+yield round trip and single switch, ours vs ucontext
 *     swapcontext() (what a portable coroutine backend pays) with the ratio
 *   - coroutine create + run-to-end + free (pooled stacks)
 *   - CoMutex hand-off between two coroutines through the loop
 *   - BH schedule-to-run latency on the loop thread and from another thread
 *     to a loop blocked in epoll (median and 99th percentile)
 * Not part of the test suites; run by hand.
 */
#include <glib.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

#include "qx/util/coroutine.h"

static int64_t now_ns(void)
{
    return qx_clock_ns(QX_CLOCK_MONOTONIC);
}

/* ---- switch cost ---- */

static void yield_forever(void *opaque)
{
    for (;;) {
        qx_coroutine_yield();
    }
}

static double bench_round_trip(long n)
{
    /* never terminates: its stack is simply leaked at exit */
    Coroutine *co = qx_coroutine_create(yield_forever, NULL);
    int64_t start;

    qx_coroutine_enter(co); /* warm up */
    start = now_ns();
    for (long i = 0; i < n; i++) {
        qx_coroutine_enter(co);
    }
    return (double)(now_ns() - start) / n;
}

static ucontext_t uc_main, uc_co;

static void uc_entry(void)
{
    for (;;) {
        swapcontext(&uc_co, &uc_main);
    }
}

static double bench_ucontext_round_trip(long n)
{
    static char stack[64 * 1024];
    int64_t start;

    getcontext(&uc_co);
    uc_co.uc_stack.ss_sp = stack;
    uc_co.uc_stack.ss_size = sizeof(stack);
    uc_co.uc_link = NULL;
    makecontext(&uc_co, uc_entry, 0);
    swapcontext(&uc_main, &uc_co);
    start = now_ns();
    for (long i = 0; i < n; i++) {
        swapcontext(&uc_main, &uc_co);
    }
    return (double)(now_ns() - start) / n;
}

static void nop_entry(void *opaque)
{
}

static double bench_create(long n)
{
    int64_t start;

    qx_coroutine_enter(qx_coroutine_create(nop_entry, NULL)); /* pool it */
    start = now_ns();
    for (long i = 0; i < n; i++) {
        qx_coroutine_enter(qx_coroutine_create(nop_entry, NULL));
    }
    return (double)(now_ns() - start) / n;
}

/* ---- CoMutex hand-off ---- */

typedef struct MutexBench {
    CoMutex mutex;
    long rounds;
    int remaining;
} MutexBench;

static void mutex_worker(void *opaque)
{
    MutexBench *b = opaque;

    for (long i = 0; i < b->rounds; i++) {
        qx_co_mutex_lock(&b->mutex);
        qx_co_yield_to_loop();
        qx_co_mutex_unlock(&b->mutex);
    }
    b->remaining--;
}

static double bench_mutex(QxLoop *loop, long n)
{
    MutexBench b = {.rounds = n, .remaining = 2};
    int64_t start = now_ns();

    qx_co_mutex_init(&b.mutex);
    qx_coroutine_enter(qx_coroutine_create(mutex_worker, &b));
    qx_coroutine_enter(qx_coroutine_create(mutex_worker, &b));
    while (b.remaining > 0) {
        qx_loop_run_once(loop, true);
    }
    /* per lock acquisition (2n of them) */
    return (double)(now_ns() - start) / (2 * n);
}

/* ---- BH latency ---- */

typedef struct BHBench {
    QxLoop *loop;
    QxBH *bh;
    _Atomic int64_t scheduled_at;
    int64_t *samples;
    long n;
    long done;
    atomic_long acked;
} BHBench;

static void bh_latency_cb(void *opaque)
{
    BHBench *b = opaque;

    b->samples[b->done++] = now_ns() - atomic_load(&b->scheduled_at);
    atomic_store(&b->acked, b->done);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static void report_latency(const char *what, int64_t *s, long n)
{
    qsort(s, n, sizeof(*s), cmp_i64);
    printf("%-44s median %6" PRId64 " ns   p99 %7" PRId64 " ns\n", what,
           s[n / 2], s[n * 99 / 100]);
}

static void bench_bh_same_thread(QxLoop *loop, long n)
{
    BHBench b = {.loop = loop, .n = n};

    b.samples = g_new(int64_t, n);
    b.bh = qx_bh_new(loop, bh_latency_cb, &b);
    for (long i = 0; i < n; i++) {
        atomic_store(&b.scheduled_at, now_ns());
        qx_bh_schedule(b.bh);
        qx_loop_run_once(loop, true);
    }
    report_latency("BH schedule-to-run, loop thread:", b.samples, n);
    qx_bh_delete(b.bh);
    g_free(b.samples);
}

static void *bh_remote_thread(void *opaque)
{
    BHBench *b = opaque;

    for (long i = 0; i < b->n; i++) {
        /* let the loop go to sleep in epoll first */
        g_usleep(50);
        atomic_store(&b->scheduled_at, now_ns());
        qx_bh_schedule(b->bh);
        while (atomic_load(&b->acked) <= i) {
            /* wait for the loop to run it */
        }
    }
    return NULL;
}

static void bench_bh_cross_thread(QxLoop *loop, long n)
{
    BHBench b = {.loop = loop, .n = n};
    pthread_t tid;

    b.samples = g_new(int64_t, n);
    b.bh = qx_bh_new(loop, bh_latency_cb, &b);
    pthread_create(&tid, NULL, bh_remote_thread, &b);
    while (b.done < n) {
        qx_loop_run_once(loop, true);
    }
    pthread_join(tid, NULL);
    report_latency("BH schedule-to-run, other thread (wakeup):", b.samples, n);
    qx_bh_delete(b.bh);
    g_free(b.samples);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    QxLoop *loop = qx_loop_new(&error_abort);
    double ours, uc;

    if (n < 100) {
        n = 100;
    }
    ours = bench_round_trip(n);
    uc = bench_ucontext_round_trip(n / 10);
    printf("%-44s %8.1f ns\n", "enter+yield round trip:", ours);
    printf("%-44s %8.1f ns\n", "single switch:", ours / 2);
    printf("%-44s %8.1f ns  (ours %.1fx faster)\n",
           "ucontext swapcontext round trip:", uc, uc / ours);
    printf("%-44s %8.1f ns\n",
           "create + run to end + free:", bench_create(n / 2));
    printf("%-44s %8.1f ns\n",
           "CoMutex contended lock via loop:", bench_mutex(loop, n / 20));
    bench_bh_same_thread(loop, MIN(n / 10, 1000000));
    bench_bh_cross_thread(loop, MIN(n / 1000, 20000));
    qx_loop_free(loop);
    return 0;
}
