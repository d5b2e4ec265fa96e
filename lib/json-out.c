/*
 * JSON text in QEMU 7.2's layouts, byte for byte (observed from
 * "qemu-img info --output=json" and QMP).
 *
 * Pretty: members one per line, indented four spaces per level, "key":
 * value; an empty container prints its brackets on two lines, the closing
 * one at the container's own indentation ("[\n    ]").  Compact: ", " and
 * ": " separators, empty containers as "{}" / "[]".
 */
#include "qx/util/json-out.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/*
 * Decodes one UTF-8 sequence of s[0..len) the way QEMU's writer does:
 * returns the code point, or -1 for bytes it replaces with U+FFFD.  Sets
 * *used to the bytes consumed: a bad sequence ends before the first byte
 * that is not a continuation byte, so "\xE2\x82x" is one U+FFFD then "x".
 * QEMU also takes the modified UTF-8 "\xC0\x80" for U+0000, and rejects
 * 5- and 6-byte forms, overlong forms, surrogates and noncharacters.
 */
static int32_t utf8_decode(const unsigned char *s, size_t len, size_t *used)
{
    static const uint32_t min_for_len[] = {
        0, 0, 0x80, 0x800, 0x10000, 0x200000, 0x4000000,
    };
    unsigned char lead = s[0];
    size_t n = 0;
    size_t i;
    uint32_t cp;

    *used = 1;
    if (lead < 0x80) {
        return lead;
    }
    if (lead >= 0xFE || (lead & 0xC0) == 0x80) {
        return -1;
    }
    while (lead & (0x80 >> n)) {
        n++;
    }
    cp = lead & (0x7F >> n);
    for (i = 1; i < n; i++) {
        if (i >= len || (s[i] & 0xC0) != 0x80) {
            *used = i;
            return -1;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *used = n;
    if (cp > 0x10FFFF ||
        (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE ||
        (cp >= 0xD800 && cp <= 0xDFFF) ||
        (cp < min_for_len[n] && !(cp == 0 && n == 2))) {
        return -1;
    }
    return (int32_t)cp;
}

static void append_quoted(GString *out, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t pos = 0;

    g_string_append_c(out, '"');
    while (pos < len) {
        size_t used;
        int32_t cp = utf8_decode(s + pos, len - pos, &used);

        pos += used;
        switch (cp) {
        case '"':
            g_string_append(out, "\\\"");
            continue;
        case '\\':
            g_string_append(out, "\\\\");
            continue;
        case '\b':
            g_string_append(out, "\\b");
            continue;
        case '\f':
            g_string_append(out, "\\f");
            continue;
        case '\n':
            g_string_append(out, "\\n");
            continue;
        case '\r':
            g_string_append(out, "\\r");
            continue;
        case '\t':
            g_string_append(out, "\\t");
            continue;
        default:
            break;
        }
        if (cp < 0) {
            cp = 0xFFFD;
        }
        if (cp > 0xFFFF) {
            cp -= 0x10000;
            g_string_append_printf(out, "\\u%04X\\u%04X",
                                   0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
        } else if (cp < 0x20 || cp >= 0x7F) {
            g_string_append_printf(out, "\\u%04X", cp);
        } else {
            g_string_append_c(out, (char)cp);
        }
    }
    g_string_append_c(out, '"');
}

static void newline(GString *out, int depth)
{
    g_string_append_c(out, '\n');
    for (int i = 0; i < depth; i++) {
        g_string_append(out, "    ");
    }
}

/* Starts the member after the opening bracket or after a previous one. */
static void member_sep(GString *out, bool first, QxJsonStyle style,
                       int depth)
{
    if (!first) {
        g_string_append_c(out, ',');
    }
    if (style == QX_JSON_PRETTY) {
        newline(out, depth);
    } else if (!first) {
        g_string_append_c(out, ' ');
    }
}

static void format_value(GString *out, json_object *obj, QxJsonStyle style,
                         int depth)
{
    char num[G_ASCII_DTOSTR_BUF_SIZE];
    bool first = true;
    size_t i, n;

    switch (json_object_get_type(obj)) {
    case json_type_null:
        g_string_append(out, "null");
        return;
    case json_type_boolean:
        g_string_append(out, json_object_get_boolean(obj) ? "true" : "false");
        return;
    case json_type_int:
        /* json-c keeps integers above INT64_MAX unsigned. */
        if (json_object_get_int64(obj) == INT64_MAX &&
            json_object_get_uint64(obj) > INT64_MAX) {
            g_string_append_printf(out, "%" PRIu64,
                                   json_object_get_uint64(obj));
        } else {
            g_string_append_printf(out, "%" PRId64,
                                   json_object_get_int64(obj));
        }
        return;
    case json_type_double:
        /* 17 significant digits round-trip any double, as QEMU prints. */
        g_ascii_formatd(num, sizeof(num), "%.17g",
                        json_object_get_double(obj));
        g_string_append(out, num);
        return;
    case json_type_string:
        append_quoted(out, json_object_get_string(obj),
                      json_object_get_string_len(obj));
        return;
    case json_type_object:
        g_string_append_c(out, '{');
        json_object_object_foreach(obj, key, val) {
            member_sep(out, first, style, depth + 1);
            first = false;
            append_quoted(out, key, strlen(key));
            g_string_append(out, ": ");
            format_value(out, val, style, depth + 1);
        }
        if (style == QX_JSON_PRETTY) {
            newline(out, depth);
        }
        g_string_append_c(out, '}');
        return;
    case json_type_array:
        g_string_append_c(out, '[');
        n = json_object_array_length(obj);
        for (i = 0; i < n; i++) {
            member_sep(out, i == 0, style, depth + 1);
            format_value(out, json_object_array_get_idx(obj, i), style,
                         depth + 1);
        }
        if (style == QX_JSON_PRETTY) {
            newline(out, depth);
        }
        g_string_append_c(out, ']');
        return;
    }
}

void qx_json_format(GString *out, json_object *obj, QxJsonStyle style)
{
    format_value(out, obj, style, 0);
}

char *qx_json_to_string(json_object *obj, QxJsonStyle style)
{
    GString *out = g_string_new(NULL);

    qx_json_format(out, obj, style);
    return g_string_free(out, FALSE);
}
