/*
 * Private to coroutine.c and coroutine-switch.c: the machine context of a
 * coroutine and the primitive switch between two contexts.
 */
#ifndef QX_COROUTINE_INT_H
#define QX_COROUTINE_INT_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__x86_64__) && !defined(QX_CO_FORCE_UCONTEXT)
#define QX_CO_X86_64 1
#else
#include <ucontext.h>
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QX_CO_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(QX_CO_ASAN)
#define QX_CO_ASAN 1
#endif
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QX_CO_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(QX_CO_TSAN)
#define QX_CO_TSAN 1
#endif

typedef void QxCoCtxEntry(void *arg);

typedef struct QxCoCtx {
#ifdef QX_CO_X86_64
    void *sp; /* saved stack pointer; callee-saved registers are below it */
#else
    ucontext_t uc;
#endif
    /* Stack bounds; for a thread's own stack, learnt on the first switch. */
    const void *stack_bottom;
    size_t stack_size;
#ifdef QX_CO_ASAN
    void *asan_fake_stack;
#endif
#ifdef QX_CO_TSAN
    void *tsan_fiber;
    bool tsan_fiber_owned; /* created by us, not the thread's own */
#endif
    QxCoCtxEntry *entry; /* first function run on the new stack */
    void *entry_arg;
} QxCoCtx;

/*
 * Prepares ctx to run fn(arg) on [stack, stack + size) when first switched
 * to.  fn must never return: it ends by switching away with exiting = true.
 */
void qx_co_ctx_init(QxCoCtx *ctx, void *stack, size_t size, QxCoCtxEntry *fn,
                    void *arg);

/* Releases what qx_co_ctx_init() allocated (sanitizer state). */
void qx_co_ctx_destroy(QxCoCtx *ctx);

/*
 * Saves the current context in from and resumes to.  Returns when some
 * context switches back to from.  exiting tells the sanitizer runtime that
 * from will never be resumed (its fake stack can be released).
 */
void qx_co_ctx_switch(QxCoCtx *from, QxCoCtx *to, bool exiting);

#endif
