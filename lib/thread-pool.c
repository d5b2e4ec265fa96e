/*
 * Worker thread pool.
 *
 * Requests wait in a FIFO queue under one mutex.  A worker is started when
 * a request finds no idle worker and the pool is below max_threads; a
 * worker idle for the idle timeout exits (its thread is joined later by
 * the next submit or by qx_thread_pool_free(), so no thread outlives the
 * pool).  Finished requests move to a done list and one bottom half on the
 * pool's loop runs their completion callbacks in completion order.
 * Workers block all signals: signals are for the main thread.
 */
#include "qx/util/thread-pool.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qx/util/coroutine.h"

#define POOL_IDLE_TIMEOUT_NS (INT64_C(10) * 1000000000)

typedef struct PoolReq PoolReq;
struct PoolReq {
    ThreadPoolFunc *fn;
    void *arg;
    ThreadPoolDone *done;
    void *opaque;
    int ret;
    PoolReq *next;
};

typedef struct PoolReqList {
    PoolReq *head;
    PoolReq *tail;
} PoolReqList;

struct ThreadPool {
    QxLoop *loop;
    int max_threads;
    int64_t idle_timeout_ns;
    QxBH *done_bh;

    /* lock protects everything below */
    pthread_mutex_t lock;
    pthread_cond_t work_cond; /* queue non-empty or stopping */
    pthread_cond_t idle_cond; /* a request finished or a worker exited */
    PoolReqList queue;        /* submitted, not yet picked up */
    PoolReqList done;         /* finished, completion not yet run */
    int n_queued;
    int n_running;
    int n_threads;
    int n_idle;
    bool stopping;
    /* exited workers still to be joined */
    pthread_t *zombies;
    int n_zombies;
    int zombies_alloc;
};

static void G_GNUC_NORETURN pool_die(const char *what, int err)
{
    fprintf(stderr, "qx: thread pool: %s: %s\n", what, strerror(err));
    abort();
}

static void list_push(PoolReqList *list, PoolReq *req)
{
    req->next = NULL;
    if (list->tail) {
        list->tail->next = req;
    } else {
        list->head = req;
    }
    list->tail = req;
}

static PoolReq *list_pop(PoolReqList *list)
{
    PoolReq *req = list->head;

    if (req) {
        list->head = req->next;
        if (!list->head) {
            list->tail = NULL;
        }
    }
    return req;
}

static PoolReq *list_take_all(PoolReqList *list)
{
    PoolReq *head = list->head;

    list->head = list->tail = NULL;
    return head;
}

/* Runs completion callbacks of a detached done list, in order. */
static void run_completions(PoolReq *req)
{
    while (req) {
        PoolReq *next = req->next;

        if (req->done) {
            req->done(req->opaque, req->ret);
        }
        g_free(req);
        req = next;
    }
}

static void pool_done_bh(void *opaque)
{
    ThreadPool *pool = opaque;
    PoolReq *list;

    pthread_mutex_lock(&pool->lock);
    list = list_take_all(&pool->done);
    pthread_mutex_unlock(&pool->lock);
    run_completions(list);
}

static void pool_deadline(struct timespec *ts, int64_t timeout_ns)
{
    int64_t t = qx_clock_ns(QX_CLOCK_MONOTONIC) + timeout_ns;

    ts->tv_sec = t / 1000000000;
    ts->tv_nsec = t % 1000000000;
}

static void *pool_worker(void *opaque)
{
    ThreadPool *pool = opaque;

    pthread_mutex_lock(&pool->lock);
    for (;;) {
        PoolReq *req;

        while (!pool->queue.head && !pool->stopping) {
            struct timespec deadline;
            int err;

            pool_deadline(&deadline, pool->idle_timeout_ns);
            pool->n_idle++;
            err = pthread_cond_timedwait(&pool->work_cond, &pool->lock,
                                         &deadline);
            pool->n_idle--;
            if (err == ETIMEDOUT && !pool->queue.head) {
                goto out;
            }
        }
        req = list_pop(&pool->queue);
        if (!req) {
            break; /* stopping */
        }
        pool->n_queued--;
        pool->n_running++;
        pthread_mutex_unlock(&pool->lock);

        req->ret = req->fn(req->arg);

        pthread_mutex_lock(&pool->lock);
        pool->n_running--;
        list_push(&pool->done, req);
        qx_bh_schedule(pool->done_bh);
        if (pool->n_running == 0 && pool->n_queued == 0) {
            pthread_cond_broadcast(&pool->idle_cond);
        }
    }
out:
    pool->n_threads--;
    if (pool->n_zombies == pool->zombies_alloc) {
        pool->zombies_alloc = MAX(4, pool->zombies_alloc * 2);
        pool->zombies = g_renew(pthread_t, pool->zombies, pool->zombies_alloc);
    }
    pool->zombies[pool->n_zombies++] = pthread_self();
    pthread_cond_broadcast(&pool->idle_cond);
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* Called with lock held. */
static void pool_spawn_locked(ThreadPool *pool)
{
    sigset_t all, old;
    pthread_t tid;
    int err;

    /* The new thread inherits the mask: keep signals off workers. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&tid, NULL, pool_worker, pool);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        if (pool->n_threads > 0) {
            return; /* the existing workers will get to it */
        }
        pool_die("cannot create worker thread", err);
    }
    pthread_setname_np(tid, "qx-worker");
    pool->n_threads++;
}

/* Joins exited workers; the lock must not be held. */
static void pool_reap(ThreadPool *pool)
{
    pthread_t *zombies;
    int n;

    pthread_mutex_lock(&pool->lock);
    zombies = pool->zombies;
    n = pool->n_zombies;
    pool->zombies = NULL;
    pool->n_zombies = pool->zombies_alloc = 0;
    pthread_mutex_unlock(&pool->lock);

    for (int i = 0; i < n; i++) {
        pthread_join(zombies[i], NULL);
    }
    g_free(zombies);
}

ThreadPool *qx_thread_pool_new(QxLoop *loop, int max_threads)
{
    ThreadPool *pool = g_new0(ThreadPool, 1);
    pthread_condattr_t attr;

    if (!loop) {
        loop = qx_loop_current();
    }
    assert(loop);
    pool->loop = loop;
    pool->max_threads = MAX(max_threads, 1);
    pool->idle_timeout_ns = POOL_IDLE_TIMEOUT_NS;
    pool->done_bh = qx_bh_new(loop, pool_done_bh, pool);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&pool->work_cond, &attr);
    pthread_cond_init(&pool->idle_cond, &attr);
    pthread_condattr_destroy(&attr);
    return pool;
}

void qx_thread_pool_set_idle_timeout_ns(ThreadPool *pool, int64_t ns)
{
    pthread_mutex_lock(&pool->lock);
    pool->idle_timeout_ns = MAX(ns, 0);
    /* idle workers pick the new timeout up at their next wait */
    pthread_cond_broadcast(&pool->work_cond);
    pthread_mutex_unlock(&pool->lock);
}

int qx_thread_pool_get_thread_count(ThreadPool *pool)
{
    int n;

    pthread_mutex_lock(&pool->lock);
    n = pool->n_threads;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void qx_thread_pool_free(ThreadPool *pool)
{
    PoolReq *list;

    if (!pool) {
        return;
    }
    pthread_mutex_lock(&pool->lock);
    while (pool->n_queued > 0 || pool->n_running > 0) {
        pthread_cond_wait(&pool->idle_cond, &pool->lock);
    }
    pool->stopping = true;
    pthread_cond_broadcast(&pool->work_cond);
    while (pool->n_threads > 0) {
        pthread_cond_wait(&pool->idle_cond, &pool->lock);
    }
    list = list_take_all(&pool->done);
    pthread_mutex_unlock(&pool->lock);

    pool_reap(pool);
    qx_bh_delete(pool->done_bh);
    /* Completions not delivered yet still run, here, on the loop thread. */
    run_completions(list);

    pthread_cond_destroy(&pool->work_cond);
    pthread_cond_destroy(&pool->idle_cond);
    pthread_mutex_destroy(&pool->lock);
    g_free(pool->zombies);
    g_free(pool);
}

void qx_thread_pool_submit(ThreadPool *pool, ThreadPoolFunc *fn, void *arg,
                           ThreadPoolDone *done, void *opaque)
{
    PoolReq *req = g_new(PoolReq, 1);
    bool reap;

    req->fn = fn;
    req->arg = arg;
    req->done = done;
    req->opaque = opaque;
    req->ret = 0;

    pthread_mutex_lock(&pool->lock);
    list_push(&pool->queue, req);
    pool->n_queued++;
    /* Idle workers count as idle until they wake: compare with queued. */
    if (pool->n_queued > pool->n_idle && pool->n_threads < pool->max_threads) {
        pool_spawn_locked(pool);
    }
    pthread_cond_signal(&pool->work_cond);
    reap = pool->n_zombies > 0;
    pthread_mutex_unlock(&pool->lock);

    if (reap) {
        pool_reap(pool);
    }
}

typedef struct PoolCoReq {
    Coroutine *co;
    int ret;
    bool done;
    bool waiting;
} PoolCoReq;

static void pool_co_done(void *opaque, int ret)
{
    PoolCoReq *r = opaque;

    r->ret = ret;
    r->done = true;
    if (!r->waiting) {
        return;
    }
    if (qx_in_coroutine() ||
        qx_coroutine_get_loop(r->co) != qx_loop_current()) {
        qx_coroutine_wake(r->co);
    } else {
        qx_coroutine_enter(r->co);
    }
}

int qx_thread_pool_submit_co(ThreadPool *pool, ThreadPoolFunc *fn, void *arg)
{
    PoolCoReq r = {.co = qx_coroutine_self()};

    assert(r.co);
    qx_thread_pool_submit(pool, fn, arg, pool_co_done, &r);
    if (!r.done) {
        r.waiting = true;
        qx_coroutine_yield();
    }
    assert(r.done);
    return r.ret;
}
