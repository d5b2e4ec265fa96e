/*
 * Coroutines: creation, enter/yield, wakeups, sleeping.
 *
 * Each coroutine has its own mmap'd stack with a PROT_NONE guard page below
 * it, so an overflow faults instead of corrupting memory.  The Coroutine
 * structure lives in the same mapping, above the stack, so one mmap gives
 * both.  Terminated coroutines go to a per-thread pool and are reused by
 * qx_coroutine_create(), which then only re-initialises the context: no
 * syscall, no allocation.
 *
 * The thread's own stack is represented by a per-thread "leader" coroutine
 * so that enter/yield are uniformly "switch from the current context".
 */
#include "qx/util/coroutine.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coroutine-int.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define QX_CO_VALGRIND 1
#endif
#endif

#ifdef QX_CO_ASAN
#include <sanitizer/lsan_interface.h>
#endif

#define CO_STACK_SIZE (1024 * 1024)
/* Kept per thread: enough for a busy server, 256 MiB of address space. */
#define CO_POOL_MAX 256

struct Coroutine {
    QxCoCtx ctx;
    CoroutineEntry *entry;
    void *opaque;
    /* whoever entered us; non-NULL exactly while running or suspended
     * inside a nested enter (i.e. not yielded) */
    Coroutine *caller;
    QxLoop *loop;
    /* set by qx_coroutine_wake() until the wakeup BH enters us */
    atomic_bool scheduled;
    bool terminated;

    /*
     * Wakeup BH for qx_coroutine_wake(), bound to wake_bh_loop; created at
     * the first wake, reused for the rest of this coroutine's life.
     */
    QxBH *wake_bh;
    QxLoop *wake_bh_loop;

    void *map; /* the mapping: guard page, stack, this structure */
    size_t map_size;
    void *stack;
    size_t stack_size;
    unsigned valgrind_id;
    Coroutine *pool_next;
};

/* The running coroutine; NULL on the thread's own stack. */
static __thread Coroutine *co_current;
/* The context of the thread's own stack. */
static __thread Coroutine co_leader;
/* Free coroutines ready for reuse. */
static __thread Coroutine *co_pool;
static __thread unsigned co_pool_len;

static pthread_key_t co_pool_key;
static pthread_once_t co_pool_once = PTHREAD_ONCE_INIT;

static void G_GNUC_NORETURN co_die(const char *msg)
{
    fprintf(stderr, "qx: coroutine: %s\n", msg);
    abort();
}

static void co_unmap(Coroutine *co)
{
    qx_co_ctx_destroy(&co->ctx);
#ifdef QX_CO_ASAN
    __lsan_unregister_root_region(co->map, co->map_size);
#endif
#ifdef QX_CO_VALGRIND
    VALGRIND_STACK_DEREGISTER(co->valgrind_id);
#endif
    munmap(co->map, co->map_size);
}

/* Thread exit: return the pooled stacks to the system. */
static void co_pool_destroy(void *unused)
{
    while (co_pool) {
        Coroutine *co = co_pool;

        co_pool = co->pool_next;
        co_unmap(co);
    }
    co_pool_len = 0;
}

static void co_pool_key_init(void)
{
    if (pthread_key_create(&co_pool_key, co_pool_destroy) != 0) {
        co_die("cannot create thread key");
    }
}

static Coroutine *co_alloc(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t hdr = (sizeof(Coroutine) + page - 1) & ~(page - 1);
    size_t size = page + CO_STACK_SIZE + hdr;
    Coroutine *co;
    void *map;

    map = mmap(NULL, size, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) {
        co_die("out of memory for coroutine stacks");
    }
    if (mprotect(map, page, PROT_NONE) < 0) {
        co_die("cannot set up stack guard page");
    }
    co = (Coroutine *)((char *)map + page + CO_STACK_SIZE);
    memset(co, 0, sizeof(*co));
    co->map = map;
    co->map_size = size;
    co->stack = (char *)map + page;
    co->stack_size = CO_STACK_SIZE;
#ifdef QX_CO_VALGRIND
    co->valgrind_id =
        VALGRIND_STACK_REGISTER(co->stack, (char *)co->stack + co->stack_size);
#endif
#ifdef QX_CO_ASAN
    /* LeakSanitizer does not scan mmap'd memory: pointers held by
     * suspended coroutines would be reported as leaks. */
    __lsan_register_root_region(map, size);
#endif
    return co;
}

static void co_release(Coroutine *co)
{
    /* The loop (or thread) may be gone before the coroutine is reused. */
    qx_bh_delete(co->wake_bh);
    co->wake_bh = NULL;
    co->wake_bh_loop = NULL;

    if (co_pool_len < CO_POOL_MAX) {
        if (co_pool_len == 0) {
            /* make sure the pool is emptied when this thread exits */
            pthread_once(&co_pool_once, co_pool_key_init);
            pthread_setspecific(co_pool_key, &co_pool);
        }
        co->pool_next = co_pool;
        co_pool = co;
        co_pool_len++;
        return;
    }
    co_unmap(co);
}

/* Runs on the coroutine's stack; never returns. */
static void co_trampoline(void *arg)
{
    Coroutine *co = arg;
    Coroutine *caller;

    co->entry(co->opaque);

    co->terminated = true;
    caller = co->caller;
    co->caller = NULL;
    co_current = caller == &co_leader ? NULL : caller;
    qx_co_ctx_switch(&co->ctx, &caller->ctx, true);
    co_die("terminated coroutine resumed");
}

Coroutine *qx_coroutine_create(CoroutineEntry *entry, void *opaque)
{
    Coroutine *co = co_pool;

    if (co) {
        co_pool = co->pool_next;
        co_pool_len--;
    } else {
        co = co_alloc();
    }
    co->entry = entry;
    co->opaque = opaque;
    co->caller = NULL;
    co->loop = NULL;
    atomic_store_explicit(&co->scheduled, false, memory_order_relaxed);
    co->terminated = false;
    co->pool_next = NULL;
    qx_co_ctx_init(&co->ctx, co->stack, co->stack_size, co_trampoline, co);
    return co;
}

void qx_coroutine_enter(Coroutine *co)
{
    Coroutine *self = co_current ? co_current : &co_leader;

    if (co->caller || co == self) {
        co_die("entering a coroutine that is already running");
    }
    if (atomic_load_explicit(&co->scheduled, memory_order_relaxed)) {
        co_die("entering a coroutine that is scheduled to be woken");
    }
    if (!co->loop) {
        co->loop = qx_loop_current();
    }
    co->caller = self;
    co_current = co;
    qx_co_ctx_switch(&self->ctx, &co->ctx, false);
    /* co yielded or terminated; co_current was set back to us */
    if (co->terminated) {
        co_release(co);
    }
}

void qx_coroutine_yield(void)
{
    Coroutine *self = co_current;
    Coroutine *caller;

    if (!self) {
        co_die("yield outside coroutine context");
    }
    caller = self->caller;
    self->caller = NULL;
    co_current = caller == &co_leader ? NULL : caller;
    qx_co_ctx_switch(&self->ctx, &caller->ctx, false);
}

Coroutine *qx_coroutine_self(void)
{
    return co_current;
}

bool qx_in_coroutine(void)
{
    return co_current != NULL;
}

QxLoop *qx_coroutine_get_loop(const Coroutine *co)
{
    return co->loop;
}

static void co_wake_bh(void *opaque)
{
    Coroutine *co = opaque;

    atomic_store_explicit(&co->scheduled, false, memory_order_relaxed);
    qx_coroutine_enter(co);
}

void qx_coroutine_wake(Coroutine *co)
{
    QxLoop *loop = co->loop ? co->loop : qx_loop_current();

    if (!loop) {
        co_die("waking a coroutine without a loop");
    }
    if (atomic_exchange(&co->scheduled, true)) {
        co_die("waking a coroutine that is already scheduled");
    }
    if (co->wake_bh_loop == loop && co->wake_bh) {
        qx_bh_schedule(co->wake_bh);
        return;
    }
    if (co->loop == loop && qx_loop_current() == loop) {
        /* Loop thread: keep a BH in the coroutine for further wakes. */
        qx_bh_delete(co->wake_bh);
        co->wake_bh = qx_bh_new(loop, co_wake_bh, co);
        co->wake_bh_loop = loop;
        qx_bh_schedule(co->wake_bh);
        return;
    }
    qx_loop_call_soon(loop, co_wake_bh, co);
}

typedef struct CoRunData {
    CoroutineEntry *entry;
    void *opaque;
    bool done;
} CoRunData;

static void co_run_entry(void *opaque)
{
    CoRunData *d = opaque;

    d->entry(d->opaque);
    d->done = true;
}

void qx_co_run(QxLoop *loop, CoroutineEntry *entry, void *opaque)
{
    CoRunData d = {.entry = entry, .opaque = opaque, .done = false};
    QxLoop *saved = qx_loop_current();
    Coroutine *co;

    if (qx_in_coroutine()) {
        entry(opaque);
        return;
    }
    if (!loop) {
        loop = saved;
        if (!loop) {
            co_die("qx_co_run without a loop");
        }
    }
    qx_loop_set_current(loop);
    co = qx_coroutine_create(co_run_entry, &d);
    co->loop = loop;
    qx_coroutine_enter(co);
    qx_loop_run_until(loop, &d.done);
    qx_loop_set_current(saved);
}

static void co_sleep_cb(void *opaque)
{
    qx_coroutine_enter(opaque);
}

void qx_co_sleep_ns(int64_t ns)
{
    Coroutine *self = co_current;
    QxLoop *loop;
    QxTimer *timer;

    if (!self) {
        co_die("qx_co_sleep_ns outside coroutine context");
    }
    loop = self->loop ? self->loop : qx_loop_current();
    if (!loop) {
        co_die("qx_co_sleep_ns without a loop");
    }
    timer = qx_timer_new(loop, QX_CLOCK_MONOTONIC, co_sleep_cb, self);
    qx_timer_mod(timer, qx_clock_ns(QX_CLOCK_MONOTONIC) + MAX(ns, 0));
    qx_coroutine_yield();
    qx_timer_free(timer);
}

void qx_co_yield_to_loop(void)
{
    Coroutine *self = co_current;

    if (!self) {
        co_die("qx_co_yield_to_loop outside coroutine context");
    }
    qx_coroutine_wake(self);
    qx_coroutine_yield();
}
