/*
 * JSON forms of options ("{...}" for --blockdev and friends, "json:{...}"
 * filenames) and the flatten / crumple / merge transformations.
 *
 * Parsing is json-c's (strict mode, which still takes QEMU's single-quoted
 * strings); this file only maps its errors to QEMU's messages and rejects
 * the few number spellings json-c lets through that QEMU does not.
 */
#include "qx/util/opts.h"

#include <inttypes.h>
#include <string.h>

#include "opts-internal.h"

#define JSON_ERR "JSON parse error, "

static bool is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* True if text is a number as JSON (RFC 8259) spells it. */
static bool is_json_number(const char *s)
{
    if (*s == '-') {
        s++;
    }
    if (*s == '0') {
        s++;
    } else if (g_ascii_isdigit(*s)) {
        while (g_ascii_isdigit(*s)) {
            s++;
        }
    } else {
        return false;
    }
    if (*s == '.') {
        s++;
        if (!g_ascii_isdigit(*s)) {
            return false;
        }
        while (g_ascii_isdigit(*s)) {
            s++;
        }
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') {
            s++;
        }
        if (!g_ascii_isdigit(*s)) {
            return false;
        }
        while (g_ascii_isdigit(*s)) {
            s++;
        }
    }
    return *s == '\0';
}

/*
 * json-c in strict mode still accepts "1.", NaN and Infinity; QEMU's lexer
 * calls them stray tokens.  json-c keeps the source text of a double.
 * Also enforces QEMU's nesting limit exactly: json-c's own depth counts a
 * scalar inside the innermost container as a level too.  depth is the
 * number of containers around obj.
 */
static bool check_tree(json_object *obj, int depth, Error **errp)
{
    const char *text;
    size_t i, n;

    switch (json_object_get_type(obj)) {
    case json_type_double:
        text = json_object_to_json_string(obj);
        if (!is_json_number(text)) {
            if (g_ascii_isalpha(text[0])) {
                error_setg(errp, JSON_ERR "stray '%c'", text[0]);
            } else {
                error_setg(errp, JSON_ERR "stray '%s'", text);
            }
            return false;
        }
        return true;
    case json_type_object: {
        if (depth >= OPTS_MAX_DEPTH) {
            error_setg(errp, "JSON nesting depth limit exceeded");
            return false;
        }
        json_object_object_foreach(obj, key, val) {
            (void)key;
            if (!check_tree(val, depth + 1, errp)) {
                return false;
            }
        }
        return true;
    }
    case json_type_array:
        if (depth >= OPTS_MAX_DEPTH) {
            error_setg(errp, "JSON nesting depth limit exceeded");
            return false;
        }
        n = json_object_array_length(obj);
        for (i = 0; i < n; i++) {
            if (!check_tree(json_object_array_get_idx(obj, i), depth + 1,
                            errp)) {
                return false;
            }
        }
        return true;
    default:
        return true;
    }
}

/* Reports a json-c error at byte offset pos of text like QEMU would. */
static void set_parse_error(const char *text, size_t pos,
                            enum json_tokener_error err, Error **errp)
{
    size_t len = strlen(text);
    size_t start = MIN(pos, len);
    size_t stop = start;
    char c = pos < len ? text[pos] : '\0';

    switch (err) {
    case json_tokener_error_depth:
        error_setg(errp, "JSON nesting depth limit exceeded");
        return;
    case json_tokener_error_size:
        error_setg(errp, "JSON token size limit exceeded");
        return;
    case json_tokener_error_parse_eof:
        error_setg(errp, JSON_ERR "premature EOI");
        return;
    case json_tokener_error_parse_null:
    case json_tokener_error_parse_boolean:
        while (start > 0 && g_ascii_isalnum(text[start - 1])) {
            start--;
        }
        while (stop < len && g_ascii_isalnum(text[stop])) {
            stop++;
        }
        error_setg(errp, JSON_ERR "invalid keyword '%.*s'",
                   (int)(stop - start), text + start);
        return;
    case json_tokener_error_parse_number:
        while (start > 0 && strchr("-+.eE0123456789", text[start - 1])) {
            start--;
        }
        while (stop < len && strchr("-+.eE0123456789", text[stop])) {
            stop++;
        }
        error_setg(errp, JSON_ERR "stray '%.*s'", (int)(stop - start),
                   text + start);
        return;
    case json_tokener_error_parse_unexpected:
        if (g_ascii_isalpha(c)) {
            while (stop < len && g_ascii_isalnum(text[stop])) {
                stop++;
            }
            error_setg(errp, JSON_ERR "invalid keyword '%.*s'",
                       (int)(stop - start), text + start);
        } else if (c && !strchr("{}[],:", c)) {
            error_setg(errp, JSON_ERR "stray '%c'", c);
        } else {
            error_setg(errp, JSON_ERR "expecting value");
        }
        return;
    case json_tokener_error_parse_array:
        error_setg(errp, JSON_ERR "expected separator in list");
        return;
    case json_tokener_error_parse_object_key_name:
        error_setg(errp, JSON_ERR "key is not a string in object");
        return;
    case json_tokener_error_parse_object_key_sep:
        error_setg(errp, JSON_ERR "missing : in object pair");
        return;
    case json_tokener_error_parse_object_value_sep:
        error_setg(errp, JSON_ERR "expected separator in dict");
        return;
    case json_tokener_error_parse_string:
        error_setg(errp, JSON_ERR "invalid escape sequence in string");
        return;
    case json_tokener_error_parse_comment:
        error_setg(errp, JSON_ERR "stray '/'");
        return;
    case json_tokener_error_parse_utf8_string:
        error_setg(errp, JSON_ERR "invalid UTF-8 sequence in string");
        return;
    default:
        error_setg(errp, JSON_ERR "%s", json_tokener_error_desc(err));
        return;
    }
}

/*
 * QEMU's JSON takes 'single-quoted' strings (and \' in any string); json-c
 * in strict mode takes them only as keys.  This rewrites such strings as
 * double-quoted ones, tracking nothing but string boundaries, so that the
 * parse proper stays json-c's and strict.  NULL if nothing to rewrite.
 */
static char *requote(const char *text)
{
    GString *out;
    char quote = 0;
    const char *p;

    if (!strchr(text, '\'')) {
        return NULL;
    }
    out = g_string_sized_new(strlen(text) + 16);
    for (p = text; *p; p++) {
        if (!quote) {
            if (*p == '"' || *p == '\'') {
                quote = *p;
                g_string_append_c(out, '"');
            } else {
                g_string_append_c(out, *p);
            }
        } else if (*p == '\\' && p[1]) {
            p++;
            if (*p != '\'') {
                g_string_append_c(out, '\\');
            }
            g_string_append_c(out, *p);
        } else if (*p == quote) {
            quote = 0;
            g_string_append_c(out, '"');
        } else if (*p == '"') {
            g_string_append(out, "\\\"");
        } else {
            g_string_append_c(out, *p);
        }
    }
    return g_string_free(out, FALSE);
}

json_object *opts_json_parse(const char *text, Error **errp)
{
    g_autofree char *requoted = requote(text);
    json_tokener *tok;
    json_object *obj;
    enum json_tokener_error err;
    size_t end;
    const char *p;

    for (p = text; *p; p++) {
        if (!is_json_space(*p)) {
            break;
        }
    }
    if (!*p) {
        error_setg(errp, "Expecting a JSON value");
        return NULL;
    }
    if (requoted) {
        text = requoted;
    }
    /* QEMU's lexer takes no raw control characters, in strings or not. */
    for (p = text; *p; p++) {
        if ((unsigned char)*p < 0x20 && !is_json_space(*p)) {
            error_setg(errp, JSON_ERR "stray '\\u%04X'", *p);
            return NULL;
        }
    }

    /* One more than QEMU's limit, which check_tree() applies exactly. */
    tok = json_tokener_new_ex(OPTS_MAX_DEPTH + 1);
    if (!tok) {
        error_setg(errp, "JSON parse error, out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                           JSON_TOKENER_ALLOW_TRAILING_CHARS |
                           JSON_TOKENER_VALIDATE_UTF8);
    /* Length -1 lets the terminating NUL end a trailing number. */
    obj = json_tokener_parse_ex(tok, text, -1);
    err = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);

    if (err != json_tokener_success) {
        json_object_put(obj);
        if (err == json_tokener_continue) {
            err = json_tokener_error_parse_eof;
        }
        set_parse_error(text, end, err, errp);
        return NULL;
    }
    for (p = text + end; *p; p++) {
        if (!is_json_space(*p)) {
            json_object_put(obj);
            error_setg(errp, "Expecting at most one JSON value");
            return NULL;
        }
    }
    if (!check_tree(obj, 0, errp)) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

json_object *qx_opts_parse_keyval_or_json(const char *text,
                                          const char *implied_key,
                                          bool *help, Error **errp)
{
    json_object *obj;

    if (text[0] != '{') {
        return qx_opts_parse(text, QX_OPTS_KEYVAL, implied_key, help, errp);
    }
    obj = opts_json_parse(text, errp);
    if (!obj) {
        return NULL;
    }
    /* Text that starts with '{' and parses is a dictionary. */
    g_assert(json_object_is_type(obj, json_type_object));
    if (help) {
        *help = false;
    }
    return obj;
}

bool qx_opts_is_json_filename(const char *filename)
{
    return g_str_has_prefix(filename, "json:");
}

char *opts_scalar_to_str(json_object *obj)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    switch (json_object_get_type(obj)) {
    case json_type_string:
        return g_strdup(json_object_get_string(obj));
    case json_type_boolean:
        return g_strdup(json_object_get_boolean(obj) ? "on" : "off");
    case json_type_int:
        if (json_object_get_int64(obj) == INT64_MAX &&
            json_object_get_uint64(obj) > INT64_MAX) {
            return g_strdup_printf("%" PRIu64, json_object_get_uint64(obj));
        }
        return g_strdup_printf("%" PRId64, json_object_get_int64(obj));
    case json_type_double:
        g_ascii_formatd(buf, sizeof(buf), "%.17g",
                        json_object_get_double(obj));
        return g_strdup(buf);
    default:
        return NULL;
    }
}

json_object *qx_opts_parse_json_filename(const char *filename,
                                         Error **errp)
{
    json_object *obj;
    json_object *flat;

    if (!qx_opts_is_json_filename(filename)) {
        error_setg(errp, "Invalid JSON object given");
        return NULL;
    }
    obj = opts_json_parse(filename + strlen("json:"), errp);
    if (!obj) {
        error_prepend(errp, "Could not parse the JSON options: ");
        return NULL;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        error_setg(errp, "Invalid JSON object given");
        return NULL;
    }
    flat = qx_opts_flatten(obj);
    json_object_put(obj);
    return flat;
}

json_object *opts_copy(json_object *obj)
{
    json_object *copy = NULL;

    if (!obj) {
        return NULL;
    }
    if (json_object_deep_copy(obj, &copy, NULL) < 0) {
        /* Only foreign serializer data fails to copy; share instead. */
        return json_object_get(obj);
    }
    return copy;
}

/* Adds val under the path in prefix, descending into non-empty containers. */
static void flatten_into(json_object *dst, GString *prefix, json_object *val)
{
    size_t saved = prefix->len;
    size_t i, n;

    if (json_object_is_type(val, json_type_object) &&
        json_object_object_length(val) > 0) {
        json_object_object_foreach(val, key, child) {
            g_string_append_c(prefix, '.');
            g_string_append(prefix, key);
            flatten_into(dst, prefix, child);
            g_string_truncate(prefix, saved);
        }
        return;
    }
    if (json_object_is_type(val, json_type_array) &&
        json_object_array_length(val) > 0) {
        n = json_object_array_length(val);
        for (i = 0; i < n; i++) {
            g_string_append_printf(prefix, ".%zu", i);
            flatten_into(dst, prefix, json_object_array_get_idx(val, i));
            g_string_truncate(prefix, saved);
        }
        return;
    }
    /* Empty containers stay as values, as QEMU's qdict_flatten keeps them. */
    if (json_object_is_type(val, json_type_object)) {
        val = json_object_new_object();
    } else if (json_object_is_type(val, json_type_array)) {
        val = json_object_new_array();
    } else {
        val = json_object_get(val);
    }
    json_object_object_add(dst, prefix->str, val);
}

json_object *qx_opts_flatten(json_object *dict)
{
    g_autoptr(GString) prefix = g_string_new(NULL);
    json_object *flat;

    if (!json_object_is_type(dict, json_type_object)) {
        return opts_copy(dict);
    }
    flat = json_object_new_object();
    json_object_object_foreach(dict, key, val) {
        g_string_assign(prefix, key);
        flatten_into(flat, prefix, val);
    }
    return flat;
}

json_object *qx_opts_crumple(json_object *flat, Error **errp)
{
    json_object *norm = qx_opts_flatten(flat);
    json_object *root = json_object_new_object();

    if (!json_object_is_type(norm, json_type_object)) {
        error_setg(errp, "Invalid JSON object given");
        goto fail;
    }
    json_object_object_foreach(norm, key, val) {
        json_object *cur = root;
        const char *frag = key;
        const char *dot;
        char *name;

        while ((dot = strchr(frag, '.')) != NULL) {
            if (dot == frag) {
                error_setg(errp, "Invalid parameter '%s'", key);
                goto fail;
            }
            name = g_strndup(frag, dot - frag);
            cur = opts_tree_descend(cur, name, key, dot - key, errp);
            g_free(name);
            if (!cur) {
                goto fail;
            }
            frag = dot + 1;
        }
        if (!*frag) {
            error_setg(errp, "Invalid parameter '%s'", key);
            goto fail;
        }
        if (!opts_tree_put(cur, frag, json_object_get(val), key,
                           strlen(key), errp)) {
            goto fail;
        }
    }
    if (!opts_tree_listify(root, errp)) {
        goto fail;
    }
    json_object_put(norm);
    return root;

fail:
    json_object_put(norm);
    json_object_put(root);
    return NULL;
}

static void merge_depth(json_object *dst, json_object *src, bool overwrite,
                        int depth)
{
    json_object_object_foreach(src, key, val) {
        json_object *old;
        bool has = json_object_object_get_ex(dst, key, &old);

        if (has && depth < OPTS_MAX_DEPTH &&
            json_object_is_type(old, json_type_object) &&
            json_object_is_type(val, json_type_object)) {
            merge_depth(old, val, overwrite, depth + 1);
        } else if (!has || overwrite) {
            json_object_object_add(dst, key, opts_copy(val));
        }
    }
}

void qx_opts_merge(json_object *dst, json_object *src, bool overwrite)
{
    if (!json_object_is_type(dst, json_type_object) ||
        !json_object_is_type(src, json_type_object)) {
        return;
    }
    merge_depth(dst, src, overwrite, 0);
}
