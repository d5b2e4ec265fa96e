/*
 * Software IEEE 754 arithmetic for the RISC-V F and D extensions.
 *
 * Finite non-zero operands are unpacked to (sign, exp, sig) where the
 * value is sig * 2^(exp - 62) and bit 62 of sig is set.  Results are
 * computed exactly or with a sticky bit in bit 0 and rounded once by
 * round_pack(), which implements the five rounding modes, overflow, and
 * underflow with tininess detected after rounding.
 */
#include <stddef.h>

#include "softfloat.h"

const SfFmt sf_f32 = { 8, 23 };
const SfFmt sf_f64 = { 11, 52 };

enum { C_ZERO, C_NORMAL, C_INF, C_QNAN, C_SNAN };

typedef struct Unp {
    int cls;
    bool sign;
    int32_t exp;
    uint64_t sig;
} Unp;

typedef unsigned __int128 u128;

static inline int bias(const SfFmt *f)
{
    return (1 << (f->ebits - 1)) - 1;
}

static inline uint64_t emask(const SfFmt *f)
{
    return (1ull << f->ebits) - 1;
}

static inline uint64_t fmask(const SfFmt *f)
{
    return (1ull << f->fbits) - 1;
}

static inline uint64_t sign_bit(const SfFmt *f, bool sign)
{
    return (uint64_t)sign << (f->ebits + f->fbits);
}

uint64_t sf_default_nan(const SfFmt *f)
{
    return (emask(f) << f->fbits) | (1ull << (f->fbits - 1));
}

static inline bool is_nan(const Unp *u)
{
    return u->cls == C_QNAN || u->cls == C_SNAN;
}

static Unp unpack(const SfFmt *f, uint64_t v)
{
    Unp u;
    uint64_t e = (v >> f->fbits) & emask(f);
    uint64_t m = v & fmask(f);

    u.sign = (v >> (f->ebits + f->fbits)) & 1;
    u.exp = 0;
    u.sig = 0;
    if (e == emask(f)) {
        u.cls = m == 0 ? C_INF : ((m >> (f->fbits - 1)) & 1) ? C_QNAN
                                                               : C_SNAN;
    } else if (e == 0) {
        if (m == 0) {
            u.cls = C_ZERO;
        } else {
            int lz = __builtin_clzll(m) - 1;    /* bring bit to 62 */

            u.cls = C_NORMAL;
            u.sig = m << lz;
            u.exp = 1 - bias(f) - (lz - (62 - (int)f->fbits));
        }
    } else {
        u.cls = C_NORMAL;
        u.exp = (int32_t)e - bias(f);
        u.sig = (m | (1ull << f->fbits)) << (62 - f->fbits);
    }
    return u;
}

static inline uint64_t jam64(uint64_t x, unsigned n)
{
    if (n == 0) {
        return x;
    }
    if (n >= 64) {
        return x != 0;
    }
    return (x >> n) | ((x << (64 - n)) != 0);
}

static inline u128 jam128(u128 x, unsigned n)
{
    if (n == 0) {
        return x;
    }
    if (n >= 128) {
        return x != 0;
    }
    return (x >> n) | ((x << (128 - n)) != 0);
}

/* Rounds sig to an integer after dropping 'shift' (1..63) low bits. */
static uint64_t round_sig(uint64_t sig, unsigned shift, bool sign, int rm,
                          bool *inexact)
{
    uint64_t rem = sig & ((1ull << shift) - 1);
    uint64_t half = 1ull << (shift - 1);
    uint64_t q = sig >> shift;

    switch (rm) {
    case SF_RNE:
        q += rem > half || (rem == half && (q & 1));
        break;
    case SF_RDN:
        q += rem != 0 && sign;
        break;
    case SF_RUP:
        q += rem != 0 && !sign;
        break;
    case SF_RMM:
        q += rem >= half;
        break;
    default:
        break;
    }
    if (inexact) {
        *inexact = rem != 0;
    }
    return q;
}

static uint64_t overflow_result(const SfFmt *f, bool sign, int rm)
{
    bool to_inf = rm == SF_RNE || rm == SF_RMM || (rm == SF_RDN && sign) ||
                  (rm == SF_RUP && !sign);

    if (to_inf) {
        return sign_bit(f, sign) | (emask(f) << f->fbits);
    }
    return sign_bit(f, sign) | ((emask(f) - 1) << f->fbits) | fmask(f);
}

/* Rounds sign * sig * 2^(exp - 62), bit 62 of sig set, to format f. */
static uint64_t round_pack(const SfFmt *f, bool sign, int32_t exp,
                           uint64_t sig, int rm, unsigned *fl)
{
    unsigned p = f->fbits + 1;
    unsigned shift = 63 - p;
    int32_t emin = 1 - bias(f);
    int32_t emax = bias(f);
    bool inexact;
    uint64_t q;

    if (exp < emin) {
        bool tiny = true;

        if (exp == emin - 1 &&
            (round_sig(sig, shift, sign, rm, NULL) >> p) != 0) {
            tiny = false;     /* rounds to 2^emin with unbounded range */
        }
        q = round_sig(jam64(sig, (unsigned)(emin - exp)), shift, sign, rm,
                      &inexact);
        if (inexact) {
            *fl |= SF_NX | (tiny ? SF_UF : 0);
        }
        return sign_bit(f, sign) | q;
    }
    q = round_sig(sig, shift, sign, rm, &inexact);
    if (q >> p) {
        q >>= 1;
        exp++;
    }
    if (exp > emax) {
        *fl |= SF_OF | SF_NX;
        return overflow_result(f, sign, rm);
    }
    if (inexact) {
        *fl |= SF_NX;
    }
    return sign_bit(f, sign) |
           (((uint64_t)(exp + bias(f) - 1) << f->fbits) + q);
}

/* Normalises any non-zero sig (value sig * 2^(exp - 62)), then rounds. */
static uint64_t norm_round_pack(const SfFmt *f, bool sign, int32_t exp,
                                uint64_t sig, int rm, unsigned *fl)
{
    if (sig >> 63) {
        sig = jam64(sig, 1);
        exp++;
    } else {
        int lz = __builtin_clzll(sig) - 1;

        sig <<= lz;
        exp -= lz;
    }
    return round_pack(f, sign, exp, sig, rm, fl);
}

static uint64_t pack_zero(const SfFmt *f, bool sign)
{
    return sign_bit(f, sign);
}

static uint64_t pack_inf(const SfFmt *f, bool sign)
{
    return sign_bit(f, sign) | (emask(f) << f->fbits);
}

/* NaN result: canonical NaN, invalid if any input was signaling. */
static uint64_t nan_result(const SfFmt *f, const Unp *a, const Unp *b,
                           const Unp *c, unsigned *fl)
{
    if (a->cls == C_SNAN || (b && b->cls == C_SNAN) ||
        (c && c->cls == C_SNAN)) {
        *fl |= SF_NV;
    }
    return sf_default_nan(f);
}

static uint64_t invalid(const SfFmt *f, unsigned *fl)
{
    *fl |= SF_NV;
    return sf_default_nan(f);
}

static uint64_t add_unpacked(const SfFmt *f, Unp a, Unp b, int rm,
                             unsigned *fl)
{
    uint64_t sig;
    unsigned d;

    if (is_nan(&a) || is_nan(&b)) {
        return nan_result(f, &a, &b, NULL, fl);
    }
    if (a.cls == C_INF) {
        if (b.cls == C_INF && a.sign != b.sign) {
            return invalid(f, fl);
        }
        return pack_inf(f, a.sign);
    }
    if (b.cls == C_INF) {
        return pack_inf(f, b.sign);
    }
    if (a.cls == C_ZERO && b.cls == C_ZERO) {
        return pack_zero(f, a.sign == b.sign ? a.sign : rm == SF_RDN);
    }
    if (a.cls == C_ZERO) {
        return round_pack(f, b.sign, b.exp, b.sig, rm, fl);
    }
    if (b.cls == C_ZERO) {
        return round_pack(f, a.sign, a.exp, a.sig, rm, fl);
    }
    if (a.exp < b.exp || (a.exp == b.exp && a.sig < b.sig)) {
        Unp t = a;

        a = b;
        b = t;
    }
    d = (unsigned)(a.exp - b.exp);
    if (a.sign == b.sign) {
        sig = a.sig + jam64(b.sig, d);
    } else {
        sig = a.sig - jam64(b.sig, d);
        if (sig == 0) {
            return pack_zero(f, rm == SF_RDN);
        }
    }
    return norm_round_pack(f, a.sign, a.exp, sig, rm, fl);
}

uint64_t sf_add(const SfFmt *f, uint64_t a, uint64_t b, int rm,
                unsigned *fl)
{
    return add_unpacked(f, unpack(f, a), unpack(f, b), rm, fl);
}

uint64_t sf_sub(const SfFmt *f, uint64_t a, uint64_t b, int rm,
                unsigned *fl)
{
    Unp ub = unpack(f, b);

    ub.sign = !ub.sign;
    return add_unpacked(f, unpack(f, a), ub, rm, fl);
}

uint64_t sf_mul(const SfFmt *f, uint64_t a, uint64_t b, int rm,
                unsigned *fl)
{
    Unp ua = unpack(f, a), ub = unpack(f, b);
    bool sign = ua.sign ^ ub.sign;
    u128 prod;
    uint64_t sig;

    if (is_nan(&ua) || is_nan(&ub)) {
        return nan_result(f, &ua, &ub, NULL, fl);
    }
    if ((ua.cls == C_INF && ub.cls == C_ZERO) ||
        (ua.cls == C_ZERO && ub.cls == C_INF)) {
        return invalid(f, fl);
    }
    if (ua.cls == C_INF || ub.cls == C_INF) {
        return pack_inf(f, sign);
    }
    if (ua.cls == C_ZERO || ub.cls == C_ZERO) {
        return pack_zero(f, sign);
    }
    prod = (u128)ua.sig * ub.sig;
    sig = (uint64_t)(prod >> 62) |
          ((prod & ((((u128)1) << 62) - 1)) != 0);
    return norm_round_pack(f, sign, ua.exp + ub.exp, sig, rm, fl);
}

uint64_t sf_div(const SfFmt *f, uint64_t a, uint64_t b, int rm,
                unsigned *fl)
{
    Unp ua = unpack(f, a), ub = unpack(f, b);
    bool sign = ua.sign ^ ub.sign;
    u128 num, q;
    uint64_t sig;
    bool rem;

    if (is_nan(&ua) || is_nan(&ub)) {
        return nan_result(f, &ua, &ub, NULL, fl);
    }
    if (ua.cls == C_INF) {
        return ub.cls == C_INF ? invalid(f, fl) : pack_inf(f, sign);
    }
    if (ub.cls == C_INF) {
        return pack_zero(f, sign);
    }
    if (ub.cls == C_ZERO) {
        if (ua.cls == C_ZERO) {
            return invalid(f, fl);
        }
        *fl |= SF_DZ;
        return pack_inf(f, sign);
    }
    if (ua.cls == C_ZERO) {
        return pack_zero(f, sign);
    }
    num = (u128)ua.sig << 64;
    q = num / ub.sig;
    rem = (num % ub.sig) != 0;
    sig = (uint64_t)jam128(q, 2) | rem;
    return norm_round_pack(f, sign, ua.exp - ub.exp, sig, rm, fl);
}

/* Integer square root of n; *exact tells whether root^2 == n. */
static uint64_t isqrt128(u128 n, bool *exact)
{
    u128 res = 0;
    u128 bit = (u128)1 << 126;

    while (bit > n) {
        bit >>= 2;
    }
    while (bit) {
        if (n >= res + bit) {
            n -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    *exact = n == 0;
    return (uint64_t)res;
}

uint64_t sf_sqrt(const SfFmt *f, uint64_t a, int rm, unsigned *fl)
{
    Unp ua = unpack(f, a);
    uint64_t s;
    bool exact;

    if (is_nan(&ua)) {
        return nan_result(f, &ua, NULL, NULL, fl);
    }
    if (ua.cls == C_ZERO) {
        return a;
    }
    if (ua.sign) {
        return invalid(f, fl);
    }
    if (ua.cls == C_INF) {
        return a;
    }
    s = isqrt128((u128)ua.sig << ((ua.exp & 1) ? 63 : 62), &exact);
    return round_pack(f, false, ua.exp >> 1, s | !exact, rm, fl);
}

uint64_t sf_fma(const SfFmt *f, uint64_t a, uint64_t b, uint64_t c, int rm,
                unsigned *fl)
{
    Unp ua = unpack(f, a), ub = unpack(f, b), uc = unpack(f, c);
    bool psign = ua.sign ^ ub.sign;
    bool inf_zero = (ua.cls == C_INF && ub.cls == C_ZERO) ||
                    (ua.cls == C_ZERO && ub.cls == C_INF);
    int32_t pe, ce, e;
    u128 pv, cv, r;
    bool rsign;
    unsigned lead;
    uint64_t sig;

    if (is_nan(&ua) || is_nan(&ub) || is_nan(&uc)) {
        /* inf * 0 is invalid even when the addend is a quiet NaN. */
        if (inf_zero) {
            *fl |= SF_NV;
        }
        return nan_result(f, &ua, &ub, &uc, fl);
    }
    if (inf_zero) {
        return invalid(f, fl);
    }
    if (ua.cls == C_INF || ub.cls == C_INF) {
        if (uc.cls == C_INF && uc.sign != psign) {
            return invalid(f, fl);
        }
        return pack_inf(f, psign);
    }
    if (uc.cls == C_INF) {
        return pack_inf(f, uc.sign);
    }
    if (ua.cls == C_ZERO || ub.cls == C_ZERO) {
        if (uc.cls == C_ZERO) {
            return pack_zero(f, psign == uc.sign ? psign : rm == SF_RDN);
        }
        return round_pack(f, uc.sign, uc.exp, uc.sig, rm, fl);
    }
    /* Values are pv * 2^(pe - 124) and cv * 2^(ce - 124). */
    pv = (u128)ua.sig * ub.sig;
    pe = ua.exp + ub.exp;
    if (uc.cls == C_ZERO) {
        cv = 0;
        ce = pe;
    } else {
        cv = (u128)uc.sig << 62;
        ce = uc.exp;
    }
    if (pe >= ce) {
        cv = jam128(cv, (unsigned)(pe - ce));
        e = pe;
    } else {
        pv = jam128(pv, (unsigned)(ce - pe));
        e = ce;
    }
    if (psign == uc.sign || uc.cls == C_ZERO) {
        r = pv + cv;
        rsign = psign;
    } else if (pv >= cv) {
        r = pv - cv;
        rsign = psign;
    } else {
        r = cv - pv;
        rsign = uc.sign;
    }
    if (r == 0) {
        return pack_zero(f, rm == SF_RDN);
    }
    lead = 127 - ((uint64_t)(r >> 64) ? __builtin_clzll((uint64_t)(r >> 64))
                                      : 64 + __builtin_clzll((uint64_t)r));
    if (lead > 62) {
        sig = (uint64_t)jam128(r, lead - 62);
    } else {
        sig = (uint64_t)r << (62 - lead);
    }
    return round_pack(f, rsign, e - 124 + (int32_t)lead, sig, rm, fl);
}

/* ---- Conversions ---- */

uint64_t sf_to_int(const SfFmt *f, uint64_t a, bool is_signed,
                   unsigned bits, int rm, unsigned *fl)
{
    Unp u = unpack(f, a);
    uint64_t max = is_signed ? (1ull << (bits - 1)) - 1
                             : (bits == 64 ? ~0ull : (1ull << bits) - 1);
    uint64_t min = is_signed ? -(1ull << (bits - 1)) : 0;
    uint64_t m;
    bool inexact = false, ovf = false;
    uint64_t res;

    switch (u.cls) {
    case C_QNAN: case C_SNAN:
        *fl |= SF_NV;
        res = max;
        goto out;
    case C_INF:
        *fl |= SF_NV;
        res = u.sign ? min : max;
        goto out;
    case C_ZERO:
        return 0;
    }
    if (u.exp > 63) {
        ovf = true;
        m = 0;
    } else if (u.exp >= 62) {
        m = u.sig << (u.exp - 62);
    } else if (62 - u.exp >= 64) {
        inexact = true;
        m = (rm == SF_RDN && u.sign) || (rm == SF_RUP && !u.sign);
    } else {
        m = round_sig(u.sig, (unsigned)(62 - u.exp), u.sign, rm, &inexact);
    }
    if (!ovf) {
        if (u.sign) {
            ovf = is_signed ? m > (1ull << (bits - 1)) : m != 0;
        } else {
            ovf = m > max;
        }
    }
    if (ovf) {
        *fl |= SF_NV;
        res = u.sign ? min : max;
        goto out;
    }
    if (inexact) {
        *fl |= SF_NX;
    }
    res = u.sign ? -m : m;
out:
    if (bits == 32) {
        res = (uint64_t)(int64_t)(int32_t)res;
    }
    return res;
}

uint64_t sf_from_int(const SfFmt *f, uint64_t v, bool is_signed,
                     unsigned bits, int rm, unsigned *fl)
{
    bool sign = false;
    uint64_t mag;

    if (bits == 32) {
        v = is_signed ? (uint64_t)(int64_t)(int32_t)v : (uint32_t)v;
    }
    if (is_signed && (int64_t)v < 0) {
        sign = true;
        mag = -v;
    } else {
        mag = v;
    }
    if (mag == 0) {
        return pack_zero(f, false);
    }
    return norm_round_pack(f, sign, 62, mag, rm, fl);
}

uint64_t sf_convert(const SfFmt *to, const SfFmt *from, uint64_t a, int rm,
                    unsigned *fl)
{
    Unp u = unpack(from, a);

    switch (u.cls) {
    case C_QNAN: case C_SNAN:
        return nan_result(to, &u, NULL, NULL, fl);
    case C_INF:
        return pack_inf(to, u.sign);
    case C_ZERO:
        return pack_zero(to, u.sign);
    }
    return round_pack(to, u.sign, u.exp, u.sig, rm, fl);
}

/* ---- Comparisons ---- */

/* Maps a non-NaN value to an integer with the same order (-0 == +0). */
static int64_t ordered(const SfFmt *f, uint64_t a)
{
    uint64_t mag = a & (sign_bit(f, true) - 1);

    return (a & sign_bit(f, true)) ? -(int64_t)mag : (int64_t)mag;
}

bool sf_eq(const SfFmt *f, uint64_t a, uint64_t b, unsigned *fl)
{
    Unp ua = unpack(f, a), ub = unpack(f, b);

    if (is_nan(&ua) || is_nan(&ub)) {
        if (ua.cls == C_SNAN || ub.cls == C_SNAN) {
            *fl |= SF_NV;
        }
        return false;
    }
    return ordered(f, a) == ordered(f, b);
}

bool sf_lt(const SfFmt *f, uint64_t a, uint64_t b, unsigned *fl)
{
    Unp ua = unpack(f, a), ub = unpack(f, b);

    if (is_nan(&ua) || is_nan(&ub)) {
        *fl |= SF_NV;
        return false;
    }
    return ordered(f, a) < ordered(f, b);
}

bool sf_le(const SfFmt *f, uint64_t a, uint64_t b, unsigned *fl)
{
    Unp ua = unpack(f, a), ub = unpack(f, b);

    if (is_nan(&ua) || is_nan(&ub)) {
        *fl |= SF_NV;
        return false;
    }
    return ordered(f, a) <= ordered(f, b);
}

static uint64_t minmax(const SfFmt *f, uint64_t a, uint64_t b, bool is_max,
                       unsigned *fl)
{
    Unp ua = unpack(f, a), ub = unpack(f, b);
    int64_t oa, ob;

    if (ua.cls == C_SNAN || ub.cls == C_SNAN) {
        *fl |= SF_NV;
    }
    if (is_nan(&ua) && is_nan(&ub)) {
        return sf_default_nan(f);
    }
    if (is_nan(&ua)) {
        return b;
    }
    if (is_nan(&ub)) {
        return a;
    }
    oa = ordered(f, a);
    ob = ordered(f, b);
    if (oa == ob) {
        /* Equal values differ only for zeros: -0 < +0. */
        bool a_neg = (a & sign_bit(f, true)) != 0;

        return (a_neg == is_max) ? b : a;
    }
    return (oa < ob) == is_max ? b : a;
}

uint64_t sf_min(const SfFmt *f, uint64_t a, uint64_t b, unsigned *fl)
{
    return minmax(f, a, b, false, fl);
}

uint64_t sf_max(const SfFmt *f, uint64_t a, uint64_t b, unsigned *fl)
{
    return minmax(f, a, b, true, fl);
}

unsigned sf_classify(const SfFmt *f, uint64_t a)
{
    Unp u = unpack(f, a);
    uint64_t e = (a >> f->fbits) & emask(f);

    switch (u.cls) {
    case C_INF:
        return u.sign ? 1u << 0 : 1u << 7;
    case C_ZERO:
        return u.sign ? 1u << 3 : 1u << 4;
    case C_SNAN:
        return 1u << 8;
    case C_QNAN:
        return 1u << 9;
    }
    if (e == 0) {
        return u.sign ? 1u << 2 : 1u << 5;
    }
    return u.sign ? 1u << 1 : 1u << 6;
}
