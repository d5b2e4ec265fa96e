/*
 * Number and size parsing and formatting, exactly as QEMU's tools do it.
 */
#ifndef QX_UTIL_CUTILS_H
#define QX_UTIL_CUTILS_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include "qx/util/error.h"

/*
 * Parses a size: a decimal number (fraction allowed, "1.5M", "5.K") with an
 * optional suffix B, K/k, M/m, G/g, T/t, P/p, E/e (powers of 1024), rounded
 * half up to whole bytes.  default_suffix is the unit of a bare number ('B'
 * for bytes, 'M' for -m); a fraction of bytes ("1.5", "1.5B") is invalid.
 * Hex ("0x1000") takes no fraction; a suffix on hex is accepted with QEMU
 * 7.2's deprecation warning (warn_report).  Leading whitespace and '+' are
 * accepted, '-' and exponents are not.  With end NULL the whole string must
 * be consumed; else *end gets the first unparsed character.  Returns 0 or
 * -EINVAL / -ERANGE (overflow of uint64_t), like QEMU's qemu_strtosz();
 * *out is written only on success.
 */
int qx_strtosz(const char *str, const char **end, char default_suffix,
               uint64_t *out);
/*
 * Whole-string size for a qemu-img argument, as QEMU's cvtnum(): fails with
 * "Invalid NAME specified. You may use k, M, G, T, P or E suffixes for"
 * plus a second line "PROGNAME: kilobytes, ..." (the program name current
 * at the time of the call), or "Invalid NAME specified. Must be between MIN
 * and MAX." when out of [min, max].
 */
bool qx_parse_size_named(const char *name, const char *str, int64_t min,
                         int64_t max, int64_t *out, Error **errp);
/* qx_parse_size_named("image size", str, 0, INT64_MAX, ...). */
bool qx_parse_size(const char *str, uint64_t *out, Error **errp);

/*
 * Whole-string integer parsing with strtoll/strtoull rules (leading
 * whitespace and sign allowed, base 0 means C prefixes); 0 or -EINVAL /
 * -ERANGE.  On -ERANGE *out gets the saturated value; on -EINVAL it is left
 * alone.  As QEMU's qemu_strtou64(), the unsigned form accepts "-1" as
 * UINT64_MAX.
 */
int qx_strtoi64(const char *str, int base, int64_t *out);
int qx_strtou64(const char *str, int base, uint64_t *out);

/*
 * Formats a size the way QEMU's human output does ("1 GiB", "1.5 GiB",
 * "512 B", "192 KiB"): "%.3g" of the value in binary units, switching to
 * the next unit at 1000 of the current one ("0.977 MiB" for 1000 KiB;
 * 999.5 KiB prints "1e+03 KiB", as QEMU does).  Returns a g_malloc'd string.
 */
char *qx_size_to_str(uint64_t size);

/*
 * Parses QEMU's accepted set, case-sensitively: "on"/"yes"/"true"/"y" and
 * "off"/"no"/"false"/"n".  Returns false (and leaves *out) otherwise.
 */
bool qx_parse_bool(const char *str, bool *out);

#endif
