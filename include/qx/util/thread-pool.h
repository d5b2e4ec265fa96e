/*
 * Worker thread pool for blocking or CPU-heavy work (file I/O fallback,
 * compression, checksums).  Work runs on a worker thread; the completion
 * callback runs on the pool's loop.
 */
#ifndef QX_UTIL_THREAD_POOL_H
#define QX_UTIL_THREAD_POOL_H

#include <stdint.h>

#include "qx/util/loop.h"

typedef struct ThreadPool ThreadPool;

/* Work function run on a worker thread; its return value is passed on. */
typedef int ThreadPoolFunc(void *arg);
typedef void ThreadPoolDone(void *opaque, int ret);

/* Threads are started on demand up to max_threads (>= 1) and idle out. */
ThreadPool *qx_thread_pool_new(QxLoop *loop, int max_threads);
/*
 * Waits for all submitted work to finish, runs the completions not yet
 * delivered (on the calling thread, which must be the loop's), then frees.
 */
void qx_thread_pool_free(ThreadPool *pool);

/*
 * Workers idle for ns nanoseconds exit (default 10 s).  Mainly for tests
 * and for short-lived tools that want threads gone quickly.
 */
void qx_thread_pool_set_idle_timeout_ns(ThreadPool *pool, int64_t ns);
/* Number of live worker threads (a snapshot, for tests and statistics). */
int qx_thread_pool_get_thread_count(ThreadPool *pool);

/* Runs fn(arg) on a worker; done(opaque, ret) later runs on pool's loop. */
void qx_thread_pool_submit(ThreadPool *pool, ThreadPoolFunc *fn, void *arg,
                           ThreadPoolDone *done, void *opaque);
/* Coroutine form: yields until fn(arg) finished, returns its result. */
int qx_thread_pool_submit_co(ThreadPool *pool, ThreadPoolFunc *fn, void *arg);

#endif
