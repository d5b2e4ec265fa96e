/*
 * Runtime of the ISA test programs: console output on the ns16550 at
 * 0x10000000, the end of the run on sifive_test at 0x100000, and the C
 * side of the trap handlers (see isa.h).
 */
#include "isa.h"

#define UART_BASE 0x10000000ul
#define UART_LSR 5
#define UART_LSR_THRE 0x20
#define TEST_BASE 0x100000ul
#define TRAP_LIMIT 100000

volatile TrapInfo m_trap, s_trap;
void (*volatile m_irq_hook)(u64 cause);
void (*volatile s_irq_hook)(u64 cause);
static u64 checks;

void *memset(void *d, int c, unsigned long n)
{
    volatile unsigned char *p = d;

    while (n--) {
        *p++ = (unsigned char)c;
    }
    return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
    volatile unsigned char *p = d;
    const unsigned char *q = s;

    while (n--) {
        *p++ = *q++;
    }
    return d;
}

void put_char(char c)
{
    volatile unsigned char *uart = (volatile unsigned char *)UART_BASE;

    while (!(uart[UART_LSR] & UART_LSR_THRE)) {
    }
    uart[0] = (unsigned char)c;
}

void put_str(const char *s)
{
    while (*s) {
        put_char(*s++);
    }
}

void put_hex(u64 v)
{
    put_str("0x");
    for (int i = 60; i >= 0; i -= 4) {
        put_char("0123456789abcdef"[(v >> i) & 15]);
    }
}

static void put_dec(u64 v)
{
    char buf[24];
    int n = 0;

    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) {
        put_char(buf[--n]);
    }
}

void show(const char *name, u64 v)
{
    put_str(name);
    put_char(' ');
    put_hex(v);
    put_char('\n');
    checks++;
}

void show2(const char *prefix, const char *suffix, u64 v)
{
    put_str(prefix);
    put_char('.');
    show(suffix, v);
}

void trap_reset(void)
{
    m_trap.cause = m_trap.tval = m_trap.epc = m_trap.status = 0;
    m_trap.count = m_trap.resume = 0;
    s_trap.cause = s_trap.tval = s_trap.epc = s_trap.status = 0;
    s_trap.count = s_trap.resume = 0;
}

void show_trap(const char *name, volatile TrapInfo *t, u64 epc_base)
{
    show2(name, "traps", t->count);
    show2(name, "cause", t->cause);
    show2(name, "tval", t->tval);
    show2(name, "epc", t->count ? t->epc - epc_base : 0);
    t->count = 0;
    t->cause = t->tval = t->epc = t->status = 0;
}

_Noreturn void finish(int code)
{
    volatile u32 *test = (volatile u32 *)TEST_BASE;

    put_str("checks ");
    put_dec(checks);
    put_char('\n');
    *test = code ? 0x3333u | ((u32)code << 16) : 0x5555u;
    for (;;) {
    }
}

static void fail_unexpected(const char *what, u64 cause, u64 epc, u64 tval)
{
    show(what, cause);
    show("unexpected.epc", epc);
    show("unexpected.tval", tval);
    finish(3);
}

/*
 * Length of the instruction at virtual pc, read with the privilege and
 * translation of the mode that trapped: M through MPRV (MPP holds that
 * mode), S with SUM set so that U pages are readable.
 */
static u64 insn_len_m(u64 pc, u64 status)
{
    u64 h;

    if (((status >> 11) & 3) == PRV_M) {
        h = *(volatile uint16_t *)pc;
    } else {
        CSR_SET(mstatus, MSTATUS_MPRV);
        h = *(volatile uint16_t *)pc;
        CSR_CLEAR(mstatus, MSTATUS_MPRV);
    }
    return (h & 3) == 3 ? 4 : 2;
}

static u64 insn_len_s(u64 pc)
{
    u64 saved = CSR_READ(sstatus) & MSTATUS_SUM;
    u64 h;

    CSR_SET(sstatus, MSTATUS_SUM);
    h = *(volatile uint16_t *)pc;
    if (!saved) {
        CSR_CLEAR(sstatus, MSTATUS_SUM);
    }
    return (h & 3) == 3 ? 4 : 2;
}

/*
 * Common part of both handlers.  Returns the new xepc, or 0 to step over
 * the trapping instruction.
 */
static u64 trap_common(volatile TrapInfo *t, const char *name, u64 cause,
                       u64 tval, u64 epc, u64 status,
                       void (*volatile hook)(u64))
{
    if (cause >> 63) {
        if (!hook) {
            fail_unexpected(name, cause, epc, tval);
        }
        hook(cause);
        return epc;
    }
    t->cause = cause;
    t->tval = tval;
    t->epc = epc;
    t->status = status;
    if (++t->count > TRAP_LIMIT) {
        fail_unexpected(name, cause, epc, tval);
    }
    if (t->resume) {
        u64 r = t->resume;

        t->resume = 0;
        return r;
    }
    /* Fetch faults cannot be stepped over. */
    if (cause == 1 || cause == 12 || cause == 0) {
        fail_unexpected(name, cause, epc, tval);
    }
    return 0;
}

void m_trap_c(u64 *regs);
void m_trap_c(u64 *regs)
{
    u64 status = CSR_READ(mstatus), epc = CSR_READ(mepc);
    u64 next = trap_common(&m_trap, "unexpected.mtrap", CSR_READ(mcause),
                           CSR_READ(mtval), epc, status, m_irq_hook);

    (void)regs;
    CSR_WRITE(mepc, next ? next : epc + insn_len_m(epc, status));
}

void s_trap_c(u64 *regs);
void s_trap_c(u64 *regs)
{
    u64 epc = CSR_READ(sepc);
    u64 next = trap_common(&s_trap, "unexpected.strap", CSR_READ(scause),
                           CSR_READ(stval), epc, CSR_READ(sstatus),
                           s_irq_hook);

    (void)regs;
    CSR_WRITE(sepc, next ? next : epc + insn_len_s(epc));
}
