/*
 * Cross-checks the RISC-V soft-float core against the host FPU (x86-64
 * SSE, IEEE exact, tininess after rounding like RISC-V) on random and
 * boundary operands in the four rounding modes the host has, results and
 * flags, plus fixed cases for what the host cannot check (RMM, RISC-V
 * NaN and saturation rules).
 */
#include <fenv.h>
#include <glib.h>
#include <math.h>
#include <string.h>

#include "../../lib/emu/riscv/softfloat.h"

#define ITERS 60000

static const int host_modes[4] = {
    FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD,
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

/* Random operand biased towards boundaries (format f). */
static uint64_t gen(const SfFmt *f, uint64_t near)
{
    uint64_t emax = (1ull << f->ebits) - 1;
    uint64_t fm = (1ull << f->fbits) - 1;
    uint64_t r = rnd();
    uint64_t e, m;

    switch (r % 8) {
    case 0:
        return rnd() >> (63 - f->ebits - f->fbits);
    case 1:
        e = rnd() % 3;                                  /* subnormal */
        break;
    case 2:
        e = emax - 1 - rnd() % 3;                       /* huge */
        break;
    case 3:
        e = (near >> f->fbits & emax) + rnd() % 5 - 2;  /* close to near */
        break;
    case 4:
        e = emax / 2 + rnd() % 7 - 3;
        break;
    default:
        e = rnd() % emax;
        break;
    }
    switch ((r >> 8) % 4) {
    case 0: m = rnd() & fm & ~((1ull << (rnd() % f->fbits)) - 1); break;
    case 1: m = fm >> (rnd() % f->fbits); break;
    default: m = rnd() & fm; break;
    }
    if (e >= emax) {
        e = emax - 1;
    }
    return ((r >> 20) & 1) << (f->ebits + f->fbits) | e << f->fbits | m;
}

/* All fraction bits set (if set), to reach the rounding boundary. */
static uint64_t fm_all_ones(const SfFmt *f, bool set)
{
    return set ? (1ull << f->fbits) - 1 : 0;
}

static unsigned host_flags(void)
{
    int h = fetestexcept(FE_ALL_EXCEPT);

    return (h & FE_INEXACT ? SF_NX : 0) | (h & FE_UNDERFLOW ? SF_UF : 0) |
           (h & FE_OVERFLOW ? SF_OF : 0) | (h & FE_DIVBYZERO ? SF_DZ : 0) |
           (h & FE_INVALID ? SF_NV : 0);
}

static double d_of(uint64_t v)
{
    double d;

    memcpy(&d, &v, 8);
    return d;
}

static uint64_t bits_d(double d)
{
    uint64_t v;

    memcpy(&v, &d, 8);
    return v;
}

static float f_of(uint64_t v)
{
    uint32_t w = (uint32_t)v;
    float f;

    memcpy(&f, &w, 4);
    return f;
}

static uint64_t bits_f(float f)
{
    uint32_t w;

    memcpy(&w, &f, 4);
    return w;
}

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_SQRT, OP_FMA, OP_CVT_I2F,
       OP_NARROW, OP_COUNT };

/* Host result of op on a, b, c in format f (a NaN result is reported). */
static uint64_t host_op(int op, bool dbl, uint64_t a, uint64_t b,
                        uint64_t c, int mode, unsigned *fl, bool *is_nan)
{
    uint64_t res;

    fesetround(mode);
    feclearexcept(FE_ALL_EXCEPT);
    if (dbl) {
        volatile double va = d_of(a), vb = d_of(b), vc = d_of(c);
        volatile double vr;

        switch (op) {
        case OP_ADD: vr = va + vb; break;
        case OP_SUB: vr = va - vb; break;
        case OP_MUL: vr = va * vb; break;
        case OP_DIV: vr = va / vb; break;
        case OP_SQRT: vr = sqrt(va); break;
        case OP_FMA: vr = fma(va, vb, vc); break;
        case OP_CVT_I2F: {
            volatile int64_t i = (int64_t)a;
            vr = (double)i;
            break;
        }
        default: {
            volatile float fr = (float)va;
            *fl = host_flags();
            fesetround(FE_TONEAREST);
            *is_nan = isnan(fr);
            return bits_f(fr);
        }
        }
        *fl = host_flags();
        *is_nan = isnan(vr);
        res = bits_d(vr);
    } else {
        volatile float va = f_of(a), vb = f_of(b), vc = f_of(c);
        volatile float vr;

        switch (op) {
        case OP_ADD: vr = va + vb; break;
        case OP_SUB: vr = va - vb; break;
        case OP_MUL: vr = va * vb; break;
        case OP_DIV: vr = va / vb; break;
        case OP_SQRT: vr = sqrtf(va); break;
        case OP_FMA: vr = fmaf(va, vb, vc); break;
        default: {
            volatile int64_t i = (int64_t)a;
            vr = (float)i;
            break;
        }
        }
        *fl = host_flags();
        *is_nan = isnan(vr);
        res = bits_f(vr);
    }
    fesetround(FE_TONEAREST);
    return res;
}

static uint64_t soft_op(int op, const SfFmt *f, uint64_t a, uint64_t b,
                        uint64_t c, int rm, unsigned *fl)
{
    switch (op) {
    case OP_ADD: return sf_add(f, a, b, rm, fl);
    case OP_SUB: return sf_sub(f, a, b, rm, fl);
    case OP_MUL: return sf_mul(f, a, b, rm, fl);
    case OP_DIV: return sf_div(f, a, b, rm, fl);
    case OP_SQRT: return sf_sqrt(f, a, rm, fl);
    case OP_FMA: return sf_fma(f, a, b, c, rm, fl);
    case OP_CVT_I2F: return sf_from_int(f, a, true, 64, rm, fl);
    default: return sf_convert(&sf_f32, &sf_f64, a, rm, fl);
    }
}

static void check_op(int op, bool dbl)
{
    const SfFmt *f = dbl ? &sf_f64 : &sf_f32;
    unsigned mismatches = 0;

    for (unsigned i = 0; i < ITERS; i++) {
        uint64_t a = gen(f, 0), b = gen(f, a), c = gen(f, a);
        unsigned rm = i % 4;
        unsigned hf, sf = 0;
        bool hnan;
        uint64_t h, s;

        if (op == OP_CVT_I2F) {
            a = rnd() >> (rnd() % 64);
            if (rnd() & 1) {
                a = -a;
            }
        }
        if ((op == OP_MUL || op == OP_FMA) && rnd() % 4 == 0) {
            /* Products near the smallest normal (tininess boundary). */
            int bias = (1 << (f->ebits - 1)) - 1;
            uint64_t ea = (a >> f->fbits) & ((1ull << f->ebits) - 1);
            int64_t eb = 1 - (int64_t)ea + bias + (int64_t)(rnd() % 3) - 1;

            if (ea > 0 && eb > 0 && eb < 2 * bias) {
                b = (b & ~(((1ull << f->ebits) - 1) << f->fbits)) |
                    (uint64_t)eb << f->fbits;
                b |= fm_all_ones(f, rnd() & 1);
            }
        }
        if (op == OP_FMA) {
            /* Make cancellation likely: c close to -(a*b). */
            unsigned tmp = 0;
            if (rnd() & 1) {
                c = sf_mul(f, a, b, (int)(rnd() % 4), &tmp) ^
                    (1ull << (f->ebits + f->fbits));
                c ^= rnd() & 7;
            }
        }
        h = host_op(op, dbl, a, b, c, host_modes[rm], &hf, &hnan);
        s = soft_op(op, f, a, b, c, (int)rm, &sf);
        if (hnan) {
            /* RISC-V: canonical NaN whatever the payloads. */
            h = op == OP_NARROW ? sf_default_nan(&sf_f32)
                                : sf_default_nan(f);
        }
        if (op == OP_FMA) {
            /* x86 may not flag inf*0 + qNaN; RISC-V must (checked below). */
            hf &= ~SF_NV;
            sf &= ~SF_NV;
        }
        if (h != s || hf != sf) {
            if (mismatches++ < 5) {
                g_test_message("op %d dbl %d rm %u: a=%#" G_GINT64_MODIFIER
                               "x b=%#" G_GINT64_MODIFIER "x c=%#"
                               G_GINT64_MODIFIER "x host=%#"
                               G_GINT64_MODIFIER "x/%x soft=%#"
                               G_GINT64_MODIFIER "x/%x", op, dbl, rm, a, b,
                               c, h, hf, s, sf);
            }
        }
    }
    g_assert_cmpuint(mismatches, ==, 0);
}

static void test_vs_host(gconstpointer data)
{
    int op = GPOINTER_TO_INT(data);

    if (op != OP_NARROW) {
        check_op(op, false);
    }
    check_op(op, true);
}

static void test_rmm(void)
{
    unsigned fl = 0;
    /* 1 + 2^-53 is a tie between 1 and 1 + 2^-52. */
    uint64_t one = 0x3ff0000000000000ull, tiny = 0x3ca0000000000000ull;

    g_assert_cmphex(sf_add(&sf_f64, one, tiny, SF_RMM, &fl), ==,
                    0x3ff0000000000001ull);
    g_assert_cmphex(fl, ==, SF_NX);
    fl = 0;
    g_assert_cmphex(sf_add(&sf_f64, one, tiny, SF_RNE, &fl), ==, one);
    /* -(1 + 2^-53) ties away from zero. */
    g_assert_cmphex(sf_sub(&sf_f64, one ^ (1ull << 63), tiny, SF_RMM, &fl),
                    ==, 0xbff0000000000001ull);
    /* 2.5 -> 3 with RMM, 2 with RNE. */
    g_assert_cmphex(sf_to_int(&sf_f64, 0x4004000000000000ull, true, 32,
                              SF_RMM, &fl), ==, 3);
    g_assert_cmphex(sf_to_int(&sf_f64, 0x4004000000000000ull, true, 32,
                              SF_RNE, &fl), ==, 2);
    /* Overflow: RMM goes to infinity. */
    fl = 0;
    g_assert_cmphex(sf_mul(&sf_f32, 0x7f000000, 0x40000000, SF_RMM, &fl),
                    ==, 0x7f800000);
    g_assert_cmphex(fl, ==, SF_OF | SF_NX);
}

static void test_fma_inf_zero_qnan(void)
{
    unsigned fl = 0;

    g_assert_cmphex(sf_fma(&sf_f64, 0x7ff0000000000000ull, 0,
                           0x7ff8000000000001ull, SF_RNE, &fl), ==,
                    0x7ff8000000000000ull);
    g_assert_cmphex(fl, ==, SF_NV);
}

static void test_saturation(void)
{
    unsigned fl = 0;
    uint64_t nan = 0x7ff8000000000000ull;
    uint64_t pinf = 0x7ff0000000000000ull;
    uint64_t two31 = 0x41e0000000000000ull;

    g_assert_cmphex(sf_to_int(&sf_f64, nan, true, 32, SF_RNE, &fl), ==,
                    0x7fffffff);
    g_assert_cmphex(fl, ==, SF_NV);
    g_assert_cmphex(sf_to_int(&sf_f64, pinf, true, 32, SF_RNE, &fl), ==,
                    0x7fffffff);
    g_assert_cmphex(sf_to_int(&sf_f64, pinf | (1ull << 63), true, 32,
                              SF_RNE, &fl), ==, 0xffffffff80000000ull);
    g_assert_cmphex(sf_to_int(&sf_f64, two31, true, 32, SF_RNE, &fl), ==,
                    0x7fffffff);
    g_assert_cmphex(sf_to_int(&sf_f64, two31, false, 32, SF_RNE, &fl), ==,
                    0xffffffff80000000ull);
    g_assert_cmphex(sf_to_int(&sf_f64, nan, false, 64, SF_RNE, &fl), ==,
                    ~0ull);
    fl = 0;
    /* -0.5 to unsigned rounds to 0: inexact, not invalid. */
    g_assert_cmphex(sf_to_int(&sf_f64, 0xbfe0000000000000ull, false, 64,
                              SF_RTZ, &fl), ==, 0);
    g_assert_cmphex(fl, ==, SF_NX);
    fl = 0;
    g_assert_cmphex(sf_to_int(&sf_f64, 0xbff0000000000000ull, false, 64,
                              SF_RTZ, &fl), ==, 0);
    g_assert_cmphex(fl, ==, SF_NV);
}

static void test_minmax(void)
{
    unsigned fl = 0;
    uint64_t pz = 0, nz = 1ull << 63;
    uint64_t snan = 0x7ff0000000000001ull, one = 0x3ff0000000000000ull;

    g_assert_cmphex(sf_min(&sf_f64, pz, nz, &fl), ==, nz);
    g_assert_cmphex(sf_min(&sf_f64, nz, pz, &fl), ==, nz);
    g_assert_cmphex(sf_max(&sf_f64, nz, pz, &fl), ==, pz);
    g_assert_cmphex(fl, ==, 0);
    g_assert_cmphex(sf_max(&sf_f64, snan, one, &fl), ==, one);
    g_assert_cmphex(fl, ==, SF_NV);
    g_assert_cmphex(sf_min(&sf_f64, snan, snan, &fl), ==,
                    0x7ff8000000000000ull);
}

int main(int argc, char **argv)
{
    static const char *names[OP_COUNT] = {
        "add", "sub", "mul", "div", "sqrt", "fma", "cvt-i2f", "narrow",
    };

    g_test_init(&argc, &argv, NULL);
    for (int op = 0; op < OP_COUNT; op++) {
        char *path = g_strdup_printf("/riscv/softfloat/host/%s", names[op]);

        g_test_add_data_func(path, GINT_TO_POINTER(op), test_vs_host);
        g_free(path);
    }
    g_test_add_func("/riscv/softfloat/rmm", test_rmm);
    g_test_add_func("/riscv/softfloat/fma-inf-zero-qnan",
                    test_fma_inf_zero_qnan);
    g_test_add_func("/riscv/softfloat/saturation", test_saturation);
    g_test_add_func("/riscv/softfloat/minmax", test_minmax);
    return g_test_run();
}
