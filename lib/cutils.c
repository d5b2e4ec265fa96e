/*
 * Number and size parsing and formatting with QEMU's accepted syntax,
 * rounding and messages (observed from QEMU 7.2's qemu-img).
 */
#include "qx/util/cutils.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Multiplier of a size suffix letter, or 0 if c is not one. */
static uint64_t size_suffix_mul(char c)
{
    switch (c) {
    case 'B': case 'b':
        return 1;
    case 'K': case 'k':
        return 1ULL << 10;
    case 'M': case 'm':
        return 1ULL << 20;
    case 'G': case 'g':
        return 1ULL << 30;
    case 'T': case 't':
        return 1ULL << 40;
    case 'P': case 'p':
        return 1ULL << 50;
    case 'E': case 'e':
        return 1ULL << 60;
    default:
        return 0;
    }
}

/*
 * strtoull() with QEMU's qemu_strtou64() error convention: -EINVAL when no
 * digits were found (*end = str), -ERANGE on overflow.  Like strtoull a
 * leading sign is accepted and a '-' wraps the value.
 */
static int parse_u64_prefix(const char *str, const char **end, int base,
                            uint64_t *out)
{
    char *ep;
    unsigned long long v;

    errno = 0;
    v = strtoull(str, &ep, base);
    if (ep == str) {
        *end = str;
        return -EINVAL;
    }
    *end = ep;
    *out = v;
    return errno == ERANGE ? -ERANGE : 0;
}

/*
 * Reads the fraction that starts at the '.' in *p as a 0.64 fixed point
 * number.  QEMU reads it with strtod(): an exponent makes the whole size
 * invalid, and a '.' with no digits after it ("5.", "5.K") is skipped.
 */
static int parse_fraction(const char **p, uint64_t *frac)
{
    const char *dot = *p;
    char *ep;
    double f;

    errno = 0;
    f = g_ascii_strtod(dot, &ep);
    if (ep == dot) {
        *p = dot + 1;
        *frac = 0;
        return 0;
    }
    if (errno == ERANGE) {
        /*
         * QEMU skips one character past an under- or overflowing fraction
         * and drops it: "2.2250738585072014e-308K" is 2 bytes.  We do the
         * same but never step over the terminating NUL.
         */
        *p = *ep ? ep + 1 : ep;
        *frac = 0;
        return 0;
    }
    if (memchr(dot, 'e', ep - dot) || memchr(dot, 'E', ep - dot)) {
        return -EINVAL;
    }
    /*
     * A fraction that rounds to 1.0 (".99999999999999999999") is taken as
     * zero: that is what QEMU's conversion ends up with on x86-64, and we
     * match its output ("1.9999999999999999999K" is 1024).
     */
    if (f >= 1.0 || !(f > 0.0)) {
        *frac = 0;
    } else {
        *frac = (uint64_t)(f * 0x1p64);
    }
    *p = ep;
    return 0;
}

int qx_strtosz(const char *str, const char **end, char default_suffix,
               uint64_t *out)
{
    const char *p;
    uint64_t val = 0;
    uint64_t frac = 0;
    uint64_t mul;
    bool hex = false;
    int ret;

    ret = parse_u64_prefix(str, &p, 10, &val);
    if (ret == 0 && memchr(str, '-', p - str)) {
        p = str;
        ret = -EINVAL;
    }
    if (ret) {
        goto out;
    }
    if (val == 0 && (*p == 'x' || *p == 'X')) {
        ret = parse_u64_prefix(str, &p, 16, &val);
        if (ret) {
            goto out;
        }
        if (*p == '.') {
            p = str;
            ret = -EINVAL;
            goto out;
        }
        hex = true;
    } else if (*p == '.') {
        ret = parse_fraction(&p, &frac);
        if (ret) {
            p = str;
            goto out;
        }
    }

    mul = size_suffix_mul(*p);
    if (mul) {
        if (hex) {
            /* QEMU 7.2 still accepts this but warns. */
            warn_report("Using a multiplier suffix on hex numbers "
                        "is deprecated: %s", str);
        }
        p++;
    } else {
        mul = size_suffix_mul(default_suffix);
        g_assert(mul);
    }

    if (mul == 1) {
        /* A fraction needs a unit to scale it to whole bytes. */
        if (frac) {
            p = str;
            ret = -EINVAL;
            goto out;
        }
    } else {
        unsigned __int128 whole = (unsigned __int128)val * mul;
        unsigned __int128 part = (unsigned __int128)frac * mul;

        /* part is 64.64 fixed point: add its integer part, round half up. */
        whole += (uint64_t)(part >> 64);
        whole += ((uint64_t)part >> 63) & 1;
        if (whole > UINT64_MAX) {
            ret = -ERANGE;
            goto out;
        }
        val = (uint64_t)whole;
    }
    ret = 0;

out:
    if (end) {
        *end = p;
    } else if (*p) {
        ret = -EINVAL;
    }
    if (ret == 0) {
        *out = val;
    }
    return ret;
}

bool qx_parse_size_named(const char *name, const char *str, int64_t min,
                         int64_t max, int64_t *out, Error **errp)
{
    uint64_t v = 0;
    int ret = qx_strtosz(str, NULL, 'B', &v);

    if (ret < 0 && ret != -ERANGE) {
        const char *prog = error_get_progname();

        /*
         * QEMU prints two error_report() lines, each with the program
         * prefix; keep them in one message so that error_report_err()
         * reproduces both.
         */
        error_setg(errp, "Invalid %s specified. You may use "
                   "k, M, G, T, P or E suffixes for\n"
                   "%s%skilobytes, megabytes, gigabytes, terabytes, "
                   "petabytes and exabytes.", name,
                   prog ? prog : "", prog ? ": " : "");
        return false;
    }
    if (ret == -ERANGE || v > (uint64_t)max || (int64_t)v < min) {
        error_setg(errp, "Invalid %s specified. Must be between %" PRId64
                   " and %" PRId64 ".", name, min, max);
        return false;
    }
    *out = (int64_t)v;
    return true;
}

bool qx_parse_size(const char *str, uint64_t *out, Error **errp)
{
    int64_t v;

    if (!qx_parse_size_named("image size", str, 0, INT64_MAX, &v, errp)) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

int qx_strtoi64(const char *str, int base, int64_t *out)
{
    char *ep;
    long long v;

    errno = 0;
    v = strtoll(str, &ep, base);
    if (ep == str || *ep) {
        return -EINVAL;
    }
    *out = v;
    return errno == ERANGE ? -ERANGE : 0;
}

int qx_strtou64(const char *str, int base, uint64_t *out)
{
    const char *ep;
    uint64_t v;
    int ret = parse_u64_prefix(str, &ep, base, &v);

    if (ret == -EINVAL || *ep) {
        return -EINVAL;
    }
    *out = ret == -ERANGE ? UINT64_MAX : v;
    return ret;
}

char *qx_size_to_str(uint64_t size)
{
    static const char *const units[] = {
        "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
    };
    /*
     * QEMU picks the unit from size * 1024 / 1000 in double precision, so
     * the unit changes at 1000 (not 1024) of the smaller one: 1000 bytes
     * print as "0.977 KiB", while 1023.5 KiB stays in KiB as "1e+03 KiB".
     */
    double scaled = (double)size / (1000.0 / 1024.0);
    char num[G_ASCII_DTOSTR_BUF_SIZE];
    int unit = 0;

    while (unit < 6 && scaled >= (double)(1ULL << (10 * (unit + 1)))) {
        unit++;
    }
    g_ascii_formatd(num, sizeof(num), "%.3g",
                    (double)size / (double)(1ULL << (10 * unit)));
    return g_strdup_printf("%s %s", num, units[unit]);
}

bool qx_parse_bool(const char *str, bool *out)
{
    static const char *const yes[] = { "on", "yes", "true", "y" };
    static const char *const no[] = { "off", "no", "false", "n" };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (!strcmp(str, yes[i])) {
            *out = true;
            return true;
        }
        if (!strcmp(str, no[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}
