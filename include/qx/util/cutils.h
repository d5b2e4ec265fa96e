/*
 * Number and size parsing and formatting, exactly as QEMU's tools do it.
 */
#ifndef QX_UTIL_CUTILS_H
#define QX_UTIL_CUTILS_H

#include <stdbool.h>
#include <stdint.h>

#include "qx/util/error.h"

/*
 * Parses a size: a decimal number (fraction allowed, "1.5M") with an optional
 * suffix B, K/k, M/m, G/g, T/t, P/p, E/e (powers of 1024).  default_suffix is
 * the unit of a bare number ('B' for bytes, 'M' for -m).  Hex ("0x1000") is
 * accepted without suffix and without fraction.  Rejects negative numbers,
 * trailing garbage and values that overflow uint64_t.  Returns 0 or
 * -EINVAL / -ERANGE, like QEMU's qemu_strtosz*.
 */
int qx_strtosz(const char *str, const char **end, char default_suffix,
               uint64_t *out);
/* Whole-string form with QEMU's error text for qemu-img arguments. */
bool qx_parse_size(const char *str, uint64_t *out, Error **errp);

/* Strict whole-string integer parsing; 0 or -EINVAL/-ERANGE. */
int qx_strtoi64(const char *str, int base, int64_t *out);
int qx_strtou64(const char *str, int base, uint64_t *out);

/*
 * Formats a size the way QEMU's human output does ("1 GiB", "1.5 GiB",
 * "512 B", "192 KiB"): three significant digits, binary units.
 * Returns a g_malloc'd string.
 */
char *qx_size_to_str(uint64_t size);

/* Parses "on"/"off"/"yes"/"no"/"true"/"false" (QEMU's accepted set). */
bool qx_parse_bool(const char *str, bool *out);

#endif
