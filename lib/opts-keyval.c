/*
 * The two text syntaxes of QEMU options: keyval (nested, --blockdev and
 * friends) and flat QemuOpts (-o, -drive).  Behaviour and messages follow
 * QEMU 7.2 as observed from its tools; see include/qx/util/opts.h.
 */
#include "qx/util/opts.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "opts-internal.h"

/* QEMU keeps key fragments in a 128-byte buffer: 127 characters at most. */
#define KEY_FRAGMENT_MAX 127

static void set_inconsistent(Error **errp, const char *path, size_t len)
{
    error_setg(errp, "Parameters '%.*s.*' used inconsistently", (int)len,
               path);
}

json_object *opts_tree_descend(json_object *cur, const char *frag,
                               const char *path, size_t path_len,
                               Error **errp)
{
    json_object *next;

    if (!json_object_object_get_ex(cur, frag, &next)) {
        next = json_object_new_object();
        json_object_object_add(cur, frag, next);
        return next;
    }
    if (!json_object_is_type(next, json_type_object)) {
        set_inconsistent(errp, path, path_len);
        return NULL;
    }
    return next;
}

bool opts_tree_put(json_object *cur, const char *frag, json_object *leaf,
                   const char *path, size_t path_len, Error **errp)
{
    json_object *old;

    if (json_object_object_get_ex(cur, frag, &old) &&
        json_object_is_type(old, json_type_object)) {
        /* An empty dictionary leaf adds nothing to one already built. */
        if (json_object_is_type(leaf, json_type_object) &&
            json_object_object_length(leaf) == 0) {
            json_object_put(leaf);
            return true;
        }
        json_object_put(leaf);
        set_inconsistent(errp, path, path_len);
        return false;
    }
    /* Last one wins, as in QEMU's keyval. */
    json_object_object_add(cur, frag, leaf);
    return true;
}

int opts_key_to_index(const char *frag)
{
    size_t n = strspn(frag, "0123456789");
    int64_t idx = 0;
    size_t i;

    if (n == 0 || frag[n]) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        idx = idx * 10 + (frag[i] - '0');
        if (idx >= INT_MAX) {
            return INT_MAX;
        }
    }
    return (int)idx;
}

static bool listify_dict(json_object *dict, GString *path, int depth,
                         json_object **replacement, Error **errp);

/* Listifies the dictionaries below dict (not dict itself). */
static bool listify_children(json_object *dict, GString *path, int depth,
                             Error **errp)
{
    struct json_object_iterator it = json_object_iter_begin(dict);
    struct json_object_iterator end = json_object_iter_end(dict);

    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *key = json_object_iter_peek_name(&it);
        json_object *child = json_object_iter_peek_value(&it);
        json_object *repl = NULL;
        size_t saved = path->len;
        bool ok;

        if (!json_object_is_type(child, json_type_object)) {
            continue;
        }
        if (path->len) {
            g_string_append_c(path, '.');
        }
        g_string_append(path, key);
        ok = listify_dict(child, path, depth + 1, &repl, errp);
        g_string_truncate(path, saved);
        if (!ok) {
            return false;
        }
        if (repl) {
            /* Replaces the value in place; iteration stays valid. */
            json_object_object_add(dict, key, repl);
        }
    }
    return true;
}

/*
 * Listifies below dict, then decides whether dict itself is a list; if so
 * *replacement gets the new array.
 */
static bool listify_dict(json_object *dict, GString *path, int depth,
                         json_object **replacement, Error **errp)
{
    int n = json_object_object_length(dict);
    bool has_index = false;
    bool has_member = false;
    json_object **slot;
    bool *present;
    json_object *list;
    int max_idx = -1;
    int i;

    /* Option trees come from bounded input; this only guards recursion. */
    if (depth > OPTS_MAX_DEPTH) {
        error_setg(errp, "Parameter '%s' is nested too deeply", path->str);
        return false;
    }
    if (!listify_children(dict, path, depth, errp)) {
        return false;
    }

    json_object_object_foreach(dict, key, val) {
        (void)val;
        if (opts_key_to_index(key) >= 0) {
            has_index = true;
        } else {
            has_member = true;
        }
    }
    if (has_index && has_member) {
        set_inconsistent(errp, path->str, path->len);
        return false;
    }
    if (!has_index) {
        return true;
    }

    /*
     * n keys can fill at most indexes 0..n-1, so a larger index always
     * comes with a gap below it; no need to store it.  Two spellings of
     * one index ("0", "00"): the later key wins.
     */
    slot = g_new0(json_object *, n);
    present = g_new0(bool, n);
    json_object_object_foreach(dict, k2, v2) {
        int idx = opts_key_to_index(k2);

        max_idx = MAX(max_idx, idx);
        if (idx < n) {
            slot[idx] = v2;
            present[idx] = true;
        }
    }
    for (i = 0; i <= max_idx; i++) {
        if (i >= n || !present[i]) {
            error_setg(errp, "Parameter '%s.%d' missing", path->str, i);
            g_free(slot);
            g_free(present);
            return false;
        }
    }
    list = json_object_new_array_ext(max_idx + 1);
    for (i = 0; i <= max_idx; i++) {
        json_object_array_add(list, json_object_get(slot[i]));
    }
    g_free(slot);
    g_free(present);
    *replacement = list;
    return true;
}

bool opts_tree_listify(json_object *root, Error **errp)
{
    g_autoptr(GString) path = g_string_new(NULL);

    return listify_children(root, path, 0, errp);
}

/* "help" or "?" spelled exactly as an element of length len. */
static bool is_help_word(const char *s, size_t len)
{
    return (len == 4 && !strncmp(s, "help", 4)) ||
           (len == 1 && s[0] == '?');
}

/*
 * Length of the QAPI name at s ("node-name", "__com.vendor_x"), 0 if s
 * does not start with one.  Downstream names carry a reverse-domain prefix
 * between "__" and "_", which may contain dots.
 */
static size_t qapi_name_len(const char *s)
{
    const char *p = s;

    if (*p == '_') {
        if (p[1] != '_') {
            return 0;
        }
        p += 2;
        while (g_ascii_isalnum(*p) || *p == '-' || *p == '.') {
            p++;
        }
        if (*p != '_') {
            return 0;
        }
        p++;
    }
    if (!g_ascii_isalpha(*p)) {
        return 0;
    }
    p++;
    while (g_ascii_isalnum(*p) || *p == '-' || *p == '_') {
        p++;
    }
    return p - s;
}

/*
 * Reads a value up to an unescaped ',' (",," stands for ',').  Returns
 * the position after the terminating ',' or at the end of text.
 */
static const char *read_value(const char *s, GString *val)
{
    for (;;) {
        if (!*s) {
            return s;
        }
        if (*s == ',') {
            s++;
            if (*s != ',') {
                return s;
            }
        }
        g_string_append_c(val, *s++);
    }
}

/* Parses one keyval element at params; returns where the next starts. */
static const char *keyval_parse_one(json_object *root, const char *params,
                                    const char *implied_key, bool *help,
                                    Error **errp)
{
    size_t len = strcspn(params, "=,");
    const char *key = params;
    const char *key_end = params + len;
    const char *val_end = NULL;
    const char *s;
    char frag[KEY_FRAGMENT_MAX + 1];
    json_object *cur = root;
    GString *val;

    if (len && params[len] != '=') {
        if (is_help_word(params, len)) {
            *help = true;
            s = params + len;
            return *s == ',' ? s + 1 : s;
        }
        if (implied_key) {
            /* "qcow2,..." means "IMPLIED=qcow2,..."; no ",," here. */
            key = implied_key;
            key_end = key + strlen(key);
            val_end = params + len;
        }
    }

    s = key;
    for (int depth = 0;; depth++) {
        size_t flen;

        /* Not a QEMU limit: it keeps later recursion over the tree bounded. */
        if (depth >= OPTS_MAX_DEPTH) {
            error_setg(errp, "Parameter '%.*s' is nested too deeply",
                       (int)(key_end - key), key);
            return NULL;
        }

        /* After the first fragment, list indexes are allowed too. */
        if (s != key && g_ascii_isdigit(*s)) {
            flen = strspn(s, "0123456789");
        } else {
            flen = qapi_name_len(s);
        }
        if (!flen || (s + flen < key_end && s[flen] != '.')) {
            error_setg(errp, "Invalid parameter '%.*s'",
                       (int)(key_end - key), key);
            return NULL;
        }
        if (flen > KEY_FRAGMENT_MAX) {
            error_setg(errp, "Parameter%s '%.*s' is too long",
                       s != key || s + flen != key_end ? " fragment" : "",
                       (int)flen, s);
            return NULL;
        }
        if (s != key) {
            cur = opts_tree_descend(cur, frag, key, s - 1 - key, errp);
            if (!cur) {
                return NULL;
            }
        }
        memcpy(frag, s, flen);
        frag[flen] = '\0';
        s += flen;
        if (*s != '.') {
            break;
        }
        s++;
    }

    val = g_string_new(NULL);
    if (val_end) {
        g_string_append_len(val, params, val_end - params);
        s = *val_end == ',' ? val_end + 1 : val_end;
    } else {
        if (*s != '=') {
            error_setg(errp, "Expected '=' after parameter '%.*s'",
                       (int)(s - key), key);
            g_string_free(val, TRUE);
            return NULL;
        }
        s = read_value(s + 1, val);
    }
    if (!opts_tree_put(cur, frag,
                       json_object_new_string_len(val->str, val->len),
                       key, key_end - key, errp)) {
        g_string_free(val, TRUE);
        return NULL;
    }
    g_string_free(val, TRUE);
    return s;
}

static json_object *keyval_parse(const char *text, const char *implied_key,
                                 bool *help, Error **errp)
{
    json_object *root = json_object_new_object();
    bool want_help = false;
    const char *s = text;

    while (*s) {
        s = keyval_parse_one(root, s, implied_key, &want_help, errp);
        if (!s) {
            goto fail;
        }
        /* Only the first element may omit its key. */
        implied_key = NULL;
    }
    if (help) {
        *help = want_help;
    } else if (want_help) {
        error_setg(errp, "Help is not available for this option");
        goto fail;
    }
    if (!opts_tree_listify(root, errp)) {
        goto fail;
    }
    return root;

fail:
    json_object_put(root);
    return NULL;
}

/* QEMU 7.2's deprecation notice for "-drive ...,readonly". */
static void warn_short_bool(const char *prefix, const char *name,
                            const char *value)
{
    warn_report("short-form boolean option '%s%s' deprecated", prefix,
                name);
    if (!strcmp(name, "delay")) {
        fprintf(stderr, "Please use nodelay=%s instead\n",
                prefix[0] ? "on" : "off");
    } else {
        fprintf(stderr, "Please use %s=%s instead\n", name, value);
    }
}

/* Flat QemuOpts syntax.  It cannot fail: any text is some option list. */
static json_object *flat_parse(const char *text, bool warn,
                               const char *implied_key, bool *help)
{
    json_object *dict = json_object_new_object();
    const char *p = text;
    bool first = true;

    if (help) {
        *help = false;
    }
    while (*p) {
        size_t len = strcspn(p, "=,");
        g_autoptr(GString) val = g_string_new(NULL);
        g_autofree char *name = NULL;
        bool asks_help = false;

        if (p[len] == '=') {
            name = g_strndup(p, len);
            p = read_value(p + len + 1, val);
        } else if (first && implied_key) {
            /* Unlike keyval, the implied value honours ",,". */
            name = g_strdup(implied_key);
            p = read_value(p, val);
            asks_help = is_help_word(val->str, val->len);
        } else {
            /* Bare flag: "key" is key=on, "nokey" is key=off. */
            const char *prefix = "";

            if (len >= 2 && !strncmp(p, "no", 2)) {
                name = g_strndup(p + 2, len - 2);
                g_string_assign(val, "off");
                prefix = "no";
            } else {
                name = g_strndup(p, len);
                g_string_assign(val, "on");
                asks_help = is_help_word(p, len);
            }
            if (warn && !asks_help) {
                warn_short_bool(prefix, name, val->str);
            }
            p += len;
            if (*p == ',') {
                p++;
            }
        }
        first = false;
        if (asks_help && help) {
            *help = true;
            continue;
        }
        /* Last one wins, as qemu_opt_get() returns the last. */
        json_object_object_add(dict, name,
                               json_object_new_string_len(val->str,
                                                          val->len));
    }
    return dict;
}

json_object *qx_opts_parse(const char *text, QxOptsSyntax syntax,
                           const char *implied_key, bool *help,
                           Error **errp)
{
    switch (syntax) {
    case QX_OPTS_KEYVAL:
        return keyval_parse(text, implied_key, help, errp);
    case QX_OPTS_FLAT:
    case QX_OPTS_FLAT_WARN:
        return flat_parse(text, syntax == QX_OPTS_FLAT_WARN, implied_key,
                          help);
    }
    g_assert_not_reached();
}
