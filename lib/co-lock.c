/*
 * CoMutex and CoQueue: synchronisation between coroutines of one loop.
 *
 * Neither is thread-safe: all users run on the same loop thread, so plain
 * fields suffice.  Waiters are queued in FIFO order with their queue entry
 * on their own stack (it lives exactly as long as the wait).  Woken
 * coroutines are scheduled through their loop rather than entered, so the
 * waker keeps running and its stack does not grow with each hand-off.
 */
#include "qx/util/coroutine.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

struct CoQueueEntry {
    Coroutine *co;
    CoQueueEntry *next;
};

static void G_GNUC_NORETURN co_lock_die(const char *msg)
{
    fprintf(stderr, "qx: co-lock: %s\n", msg);
    abort();
}

static Coroutine *co_self_or_die(const char *what)
{
    Coroutine *self = qx_coroutine_self();

    if (!self) {
        co_lock_die(what);
    }
    return self;
}

void qx_co_queue_init(CoQueue *queue)
{
    queue->head = NULL;
    queue->tail = NULL;
}

static void queue_push(CoQueue *queue, CoQueueEntry *entry)
{
    entry->next = NULL;
    if (queue->tail) {
        queue->tail->next = entry;
    } else {
        queue->head = entry;
    }
    queue->tail = entry;
}

static Coroutine *queue_pop(CoQueue *queue)
{
    CoQueueEntry *entry = queue->head;

    if (!entry) {
        return NULL;
    }
    queue->head = entry->next;
    if (!queue->head) {
        queue->tail = NULL;
    }
    /* entry is on the waiter's stack: do not touch it once it runs */
    return entry->co;
}

bool qx_co_queue_is_empty(const CoQueue *queue)
{
    return queue->head == NULL;
}

void qx_co_queue_wait(CoQueue *queue, CoMutex *mutex)
{
    CoQueueEntry entry = {
        .co = co_self_or_die("qx_co_queue_wait outside coroutine context"),
    };

    queue_push(queue, &entry);
    if (mutex) {
        qx_co_mutex_unlock(mutex);
    }
    qx_coroutine_yield();
    if (mutex) {
        qx_co_mutex_lock(mutex);
    }
}

bool qx_co_queue_next(CoQueue *queue)
{
    Coroutine *co = queue_pop(queue);

    if (!co) {
        return false;
    }
    qx_coroutine_wake(co);
    return true;
}

void qx_co_queue_restart_all(CoQueue *queue)
{
    while (qx_co_queue_next(queue)) {
        /* each waiter is scheduled in queue order */
    }
}

void qx_co_mutex_init(CoMutex *mutex)
{
    mutex->holder = NULL;
    mutex->waiters = 0;
    qx_co_queue_init(&mutex->queue);
}

void qx_co_mutex_lock(CoMutex *mutex)
{
    Coroutine *self = co_self_or_die("qx_co_mutex_lock outside coroutine");
    CoQueueEntry entry = {.co = self};

    if (!mutex->holder) {
        mutex->holder = self;
        return;
    }
    if (mutex->holder == self) {
        co_lock_die("CoMutex locked recursively");
    }
    mutex->waiters++;
    queue_push(&mutex->queue, &entry);
    qx_coroutine_yield();
    /* qx_co_mutex_unlock() handed the mutex to us before waking us */
    assert(mutex->holder == self);
}

void qx_co_mutex_unlock(CoMutex *mutex)
{
    Coroutine *next;

    if (mutex->holder != qx_coroutine_self()) {
        co_lock_die("CoMutex unlocked by a coroutine that does not hold it");
    }
    /*
     * Hand-off: ownership passes to the first waiter right now, so the
     * unlocking coroutine relocking at once queues behind it (FIFO, no
     * starvation) instead of barging in before the waiter runs.
     */
    next = queue_pop(&mutex->queue);
    mutex->holder = next;
    if (next) {
        mutex->waiters--;
        qx_coroutine_wake(next);
    }
}

bool qx_co_mutex_is_locked(const CoMutex *mutex)
{
    return mutex->holder != NULL;
}
