/*
 * Event loop: fd handlers, timers and bottom halves.
 *
 * One QxLoop per thread that runs one.  qx_loop_new() makes the new loop the
 * calling thread's current loop if it has none; coroutines and timers use
 * the current loop when none is passed.  All functions must be called from
 * the loop's own thread except qx_bh_schedule(), qx_loop_notify() and
 * qx_loop_call_soon(), which are thread-safe (used by worker threads to hand
 * completions back).
 */
#ifndef QX_UTIL_LOOP_H
#define QX_UTIL_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "qx/util/error.h"

typedef struct QxLoop QxLoop;
typedef struct QxTimer QxTimer;
typedef struct QxBH QxBH;

typedef void QxFdHandler(void *opaque);
typedef void QxTimerFunc(void *opaque);
typedef void QxBHFunc(void *opaque);

typedef enum {
    QX_CLOCK_REALTIME,  /* CLOCK_REALTIME, ns since the epoch */
    QX_CLOCK_MONOTONIC, /* CLOCK_MONOTONIC, ns */
} QxClockType;

int64_t qx_clock_ns(QxClockType type);

QxLoop *qx_loop_new(Error **errp);
/* Frees the loop; every fd handler must have been removed first. */
void qx_loop_free(QxLoop *loop);
/* The calling thread's current loop, or NULL. */
QxLoop *qx_loop_current(void);
void qx_loop_set_current(QxLoop *loop);

/*
 * Installs, replaces or (both handlers NULL) removes the handlers of fd.
 * Handlers are level-triggered and called from qx_loop_run_once().
 */
void qx_loop_set_fd_handler(QxLoop *loop, int fd, QxFdHandler *on_read,
                            QxFdHandler *on_write, void *opaque);

/*
 * Runs one iteration: due bottom halves, ready fd handlers, expired timers.
 * If blocking, waits until at least one event happened.
 * Returns true if any callback ran.
 */
bool qx_loop_run_once(QxLoop *loop, bool blocking);
/* Runs iterations until *done becomes true (polled between iterations). */
void qx_loop_run_until(QxLoop *loop, const bool *done);
/* Wakes a loop blocked in qx_loop_run_once(); thread-safe. */
void qx_loop_notify(QxLoop *loop);

QxTimer *qx_timer_new(QxLoop *loop, QxClockType clock, QxTimerFunc *cb,
                      void *opaque);
/* Arms (or re-arms) the timer to fire once at expire_ns on its clock. */
void qx_timer_mod(QxTimer *timer, int64_t expire_ns);
void qx_timer_del(QxTimer *timer);
bool qx_timer_is_pending(const QxTimer *timer);
/* Deletes and frees; NULL is allowed. */
void qx_timer_free(QxTimer *timer);

QxBH *qx_bh_new(QxLoop *loop, QxBHFunc *cb, void *opaque);
/* Runs cb once in the next iteration; idempotent until it ran; thread-safe. */
void qx_bh_schedule(QxBH *bh);
void qx_bh_cancel(QxBH *bh);
void qx_bh_delete(QxBH *bh);
/* Schedules a one-shot callback on loop; thread-safe. */
void qx_loop_call_soon(QxLoop *loop, QxBHFunc *cb, void *opaque);

#endif
