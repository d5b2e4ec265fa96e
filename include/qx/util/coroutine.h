/*
 * Coroutines: cooperative user-space threads used to write block, NBD, QMP
 * and migration code as straight-line code that yields on I/O.
 *
 * A coroutine belongs to the loop that was current when it was first
 * entered; it only ever runs on that loop's thread.  Functions whose name
 * ends in _co (or starts with qx_co_) must be called from coroutine context.
 */
#ifndef QX_UTIL_COROUTINE_H
#define QX_UTIL_COROUTINE_H

#include <stdbool.h>
#include <stdint.h>

#include "qx/util/loop.h"

typedef struct Coroutine Coroutine;
typedef void CoroutineEntry(void *opaque);

/* Creates a coroutine that will run entry(opaque) when first entered. */
Coroutine *qx_coroutine_create(CoroutineEntry *entry, void *opaque);
/*
 * Switches to co until it yields or terminates; a terminated coroutine is
 * freed.  Entering a running or already-scheduled coroutine is a bug.
 */
void qx_coroutine_enter(Coroutine *co);
/* Enters co from its own loop later (via a bottom half); thread-safe. */
void qx_coroutine_wake(Coroutine *co);
/* Returns control to whoever entered the current coroutine. */
void qx_coroutine_yield(void);
/* The running coroutine, or NULL outside coroutine context. */
Coroutine *qx_coroutine_self(void);
bool qx_in_coroutine(void);
QxLoop *qx_coroutine_get_loop(const Coroutine *co);

/*
 * Runs entry(opaque) in a new coroutine and runs loop until it returns.
 * The bridge from synchronous code (tool main functions) into coroutine code.
 * If already in coroutine context, calls entry directly.
 */
void qx_co_run(QxLoop *loop, CoroutineEntry *entry, void *opaque);

/* Yields for at least ns nanoseconds of QX_CLOCK_MONOTONIC. */
void qx_co_sleep_ns(int64_t ns);

/* Yields once, letting other ready coroutines and handlers run. */
void qx_co_yield_to_loop(void);

/* A mutex for coroutines of one loop; waiters acquire it in FIFO order. */
typedef struct CoQueueEntry CoQueueEntry;
typedef struct CoQueue {
    CoQueueEntry *head;
    CoQueueEntry *tail;
} CoQueue;

typedef struct CoMutex {
    Coroutine *holder;
    unsigned waiters;
    CoQueue queue;
} CoMutex;

void qx_co_mutex_init(CoMutex *mutex);
void qx_co_mutex_lock(CoMutex *mutex);
void qx_co_mutex_unlock(CoMutex *mutex);
bool qx_co_mutex_is_locked(const CoMutex *mutex);

/* A FIFO wait queue of coroutines. */
void qx_co_queue_init(CoQueue *queue);
/* Waits until woken; releases mutex (if non-NULL) while waiting. */
void qx_co_queue_wait(CoQueue *queue, CoMutex *mutex);
/* Wakes the first waiter (scheduled, not entered); false if none. */
bool qx_co_queue_next(CoQueue *queue);
void qx_co_queue_restart_all(CoQueue *queue);
bool qx_co_queue_is_empty(const CoQueue *queue);

#endif
