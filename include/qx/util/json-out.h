/*
 * JSON output in QEMU's exact layouts (parsing is json-c's job).
 *
 * QX_JSON_PRETTY reproduces QEMU 7.2's --output=json text byte for byte:
 * four-space indentation, "key": value, one member per line, empty
 * containers on two lines ("[" newline, "]" at the container's own
 * indentation), no trailing newline.  Numbers: integers in decimal
 * (unsigned above INT64_MAX), doubles as "%.17g".  Strings: \" \\ \b \f
 * \n \r \t, other control characters, DEL and all non-ASCII as \uXXXX
 * (upper-case hex, surrogate pairs beyond the BMP), bytes that are not
 * valid UTF-8 (and noncharacters) as \uFFFD; '/' is not escaped.
 * QX_JSON_COMPACT is QMP's wire form: one line, ", " and ": " separators,
 * "{}" and "[]" when empty.
 */
#ifndef QX_UTIL_JSON_OUT_H
#define QX_UTIL_JSON_OUT_H

#include <glib.h>
#include <json-c/json.h>

typedef enum {
    QX_JSON_COMPACT,
    QX_JSON_PRETTY,
} QxJsonStyle;

/* Appends obj to out; key order is the order of insertion. */
void qx_json_format(GString *out, json_object *obj, QxJsonStyle style);
/* Returns a g_malloc'd string. */
char *qx_json_to_string(json_object *obj, QxJsonStyle style);

#endif
