/*
 * Coroutine context switch.
 *
 * x86_64: a hand-written switch that pushes the callee-saved registers of
 * the SysV ABI (rbp, rbx, r12-r15) on the current stack, stores the stack
 * pointer, loads the other one and pops.  Everything else the ABI lets a
 * call clobber, and the compiler saves what it needs around the call.
 * MXCSR and the x87 control word are not switched: coroutines share the
 * thread's floating-point environment (nothing of ours changes it).
 * Other architectures use ucontext (slower: swapcontext also switches the
 * signal mask with a syscall); -DQX_CO_FORCE_UCONTEXT selects it on x86_64
 * too, to test it.
 *
 * Under AddressSanitizer every switch is announced with
 * __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber so that
 * ASan knows which stack is current (otherwise it reports false stack
 * overflows and mis-handles fake stacks of use-after-return detection).
 * Under ThreadSanitizer each coroutine is a TSan fiber, switched with
 * __tsan_switch_to_fiber, so races are tracked per coroutine.
 */
#include "coroutine-int.h"

#include <stdint.h>
#include <stdlib.h>

#ifdef QX_CO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>

/* The context that switched to us; its stack bounds get recorded. */
static __thread QxCoCtx *asan_switch_from;

static void asan_start_switch(QxCoCtx *from, QxCoCtx *to, bool exiting)
{
    asan_switch_from = from;
    __sanitizer_start_switch_fiber(exiting ? NULL : &from->asan_fake_stack,
                                   to->stack_bottom, to->stack_size);
}

static void asan_finish_switch(QxCoCtx *self)
{
    QxCoCtx *from = asan_switch_from;

    /*
     * This is how a thread's own stack bounds are learnt: the first
     * coroutine it enters records them into the thread's context.
     */
    __sanitizer_finish_switch_fiber(self ? self->asan_fake_stack : NULL,
                                    &from->stack_bottom, &from->stack_size);
}
#endif

#ifdef QX_CO_TSAN
#include <sanitizer/tsan_interface.h>

static void tsan_init(QxCoCtx *ctx)
{
    /*
     * A fresh fiber each time: the frames of the previous life never
     * returned and would pile up in TSan's shadow call stack.
     */
    if (ctx->tsan_fiber && ctx->tsan_fiber_owned) {
        __tsan_destroy_fiber(ctx->tsan_fiber);
    }
    ctx->tsan_fiber = __tsan_create_fiber(0);
    ctx->tsan_fiber_owned = true;
}

static void tsan_switch(QxCoCtx *from, QxCoCtx *to)
{
    if (!from->tsan_fiber) {
        /* the thread's own context, seen for the first time */
        from->tsan_fiber = __tsan_get_current_fiber();
    }
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
}
#endif

void qx_co_ctx_destroy(QxCoCtx *ctx)
{
#ifdef QX_CO_TSAN
    if (ctx->tsan_fiber && ctx->tsan_fiber_owned) {
        __tsan_destroy_fiber(ctx->tsan_fiber);
    }
    ctx->tsan_fiber = NULL;
#else
    (void)ctx;
#endif
}

/* First code run on a new stack. */
static void ctx_start(QxCoCtx *ctx)
{
#ifdef QX_CO_ASAN
    asan_finish_switch(NULL);
#endif
    ctx->entry(ctx->entry_arg);
    abort(); /* entry must switch away for good, never return */
}

#ifdef QX_CO_X86_64

/*
 * void qx_co_switch_asm(void **save_sp, void *new_sp)
 * qx_co_start_asm: first "return address" of a new context; rbx holds
 * ctx_start and r12 its argument (restored from the initial frame).
 */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl qx_co_switch_asm\n"
        ".hidden qx_co_switch_asm\n"
        ".type qx_co_switch_asm, @function\n"
        "qx_co_switch_asm:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size qx_co_switch_asm, .-qx_co_switch_asm\n"
        ".p2align 4\n"
        ".globl qx_co_start_asm\n"
        ".hidden qx_co_start_asm\n"
        ".type qx_co_start_asm, @function\n"
        "qx_co_start_asm:\n"
        "    .cfi_startproc\n"
        "    .cfi_undefined rip\n" /* outermost frame for unwinders */
        "    movq %r12, %rdi\n"
        "    callq *%rbx\n"
        "    ud2\n"
        "    .cfi_endproc\n"
        ".size qx_co_start_asm, .-qx_co_start_asm\n");

void qx_co_switch_asm(void **save_sp, void *new_sp);
void qx_co_start_asm(void);

void qx_co_ctx_init(QxCoCtx *ctx, void *stack, size_t size, QxCoCtxEntry *fn,
                    void *arg)
{
    uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
    void **frame;

    ctx->stack_bottom = stack;
    ctx->stack_size = size;
    ctx->entry = fn;
    ctx->entry_arg = arg;
#ifdef QX_CO_ASAN
    /* A reused stack still has the redzones of frames that never returned. */
    __asan_unpoison_memory_region(stack, size);
    ctx->asan_fake_stack = NULL;
#endif
#ifdef QX_CO_TSAN
    tsan_init(ctx);
#endif

    /*
     * The return address sits at top - 8 so that after "ret" the stack
     * pointer is 16-byte aligned, as the call in qx_co_start_asm needs.
     */
    frame = (void **)(top - 8 - 6 * sizeof(void *));
    frame[0] = NULL;                    /* r15 */
    frame[1] = NULL;                    /* r14 */
    frame[2] = NULL;                    /* r13 */
    frame[3] = ctx;                     /* r12: argument */
    frame[4] = (void *)ctx_start;       /* rbx: function */
    frame[5] = NULL;                    /* rbp: end of frame chain */
    frame[6] = (void *)qx_co_start_asm; /* return address */
    ctx->sp = frame;
}

void qx_co_ctx_switch(QxCoCtx *from, QxCoCtx *to, bool exiting)
{
#ifdef QX_CO_ASAN
    asan_start_switch(from, to, exiting);
#else
    (void)exiting;
#endif
#ifdef QX_CO_TSAN
    tsan_switch(from, to);
#endif
    qx_co_switch_asm(&from->sp, to->sp);
#ifdef QX_CO_ASAN
    asan_finish_switch(from);
#endif
}

#else /* ucontext */

#include <stdio.h>

static void uc_start(unsigned int hi, unsigned int lo)
{
    uintptr_t p = ((uintptr_t)hi << 16 << 16) | lo;

    ctx_start((QxCoCtx *)p);
}

void qx_co_ctx_init(QxCoCtx *ctx, void *stack, size_t size, QxCoCtxEntry *fn,
                    void *arg)
{
    uintptr_t p = (uintptr_t)ctx;

    ctx->stack_bottom = stack;
    ctx->stack_size = size;
    ctx->entry = fn;
    ctx->entry_arg = arg;
#ifdef QX_CO_ASAN
    __asan_unpoison_memory_region(stack, size);
    ctx->asan_fake_stack = NULL;
#endif
#ifdef QX_CO_TSAN
    tsan_init(ctx);
#endif
    if (getcontext(&ctx->uc) < 0) {
        perror("getcontext");
        abort();
    }
    ctx->uc.uc_stack.ss_sp = stack;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    makecontext(&ctx->uc, (void (*)(void))uc_start, 2,
                (unsigned int)(p >> 16 >> 16), (unsigned int)p);
}

void qx_co_ctx_switch(QxCoCtx *from, QxCoCtx *to, bool exiting)
{
#ifdef QX_CO_ASAN
    asan_start_switch(from, to, exiting);
#else
    (void)exiting;
#endif
#ifdef QX_CO_TSAN
    tsan_switch(from, to);
#endif
    if (swapcontext(&from->uc, &to->uc) < 0) {
        perror("swapcontext");
        abort();
    }
#ifdef QX_CO_ASAN
    asan_finish_switch(from);
#endif
}

#endif
