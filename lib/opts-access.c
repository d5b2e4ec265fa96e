/*
 * Typed access to option trees, with the messages QEMU gives for a value
 * of the wrong type.  Two families:
 *  - QAPI's (--blockdev, --object, JSON): "Parameter 'x' expects size",
 *    "Invalid parameter type for 'x', expected: integer";
 *  - QemuOpts' (-o, -drive, json: filenames), for numbers and sizes:
 *    "Parameter 'x' expects a number", "Value 'v' is out of range for
 *    parameter 'x'".
 */
#include "qx/util/opts.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "qx/util/cutils.h"
#include "opts-internal.h"

/*
 * Finds key in dict: the literal key if present, else a dotted path through
 * nested dictionaries ("file.size" as {"file": {"size": ...}}), trying the
 * shortest head first.  *val may be NULL for a JSON null.
 */
static bool lookup(json_object *dict, const char *key, json_object **val,
                   int depth)
{
    const char *dot;

    if (!json_object_is_type(dict, json_type_object)) {
        return false;
    }
    if (json_object_object_get_ex(dict, key, val)) {
        return true;
    }
    if (depth >= OPTS_MAX_DEPTH) {
        return false;
    }
    for (dot = strchr(key, '.'); dot; dot = strchr(dot + 1, '.')) {
        g_autofree char *head = g_strndup(key, dot - key);
        json_object *child;

        if (json_object_object_get_ex(dict, head, &child) &&
            lookup(child, dot + 1, val, depth + 1)) {
            return true;
        }
    }
    return false;
}

/*
 * Removes what lookup() finds; a dictionary left empty by the removal goes
 * too, so that it does not count as an option nobody understood.
 */
static bool remove_key(json_object *dict, const char *key, int depth)
{
    const char *dot;
    json_object *unused;

    if (!json_object_is_type(dict, json_type_object)) {
        return false;
    }
    if (json_object_object_get_ex(dict, key, &unused)) {
        json_object_object_del(dict, key);
        return true;
    }
    if (depth >= OPTS_MAX_DEPTH) {
        return false;
    }
    for (dot = strchr(key, '.'); dot; dot = strchr(dot + 1, '.')) {
        g_autofree char *head = g_strndup(key, dot - key);
        json_object *child;

        if (json_object_object_get_ex(dict, head, &child) &&
            remove_key(child, dot + 1, depth + 1)) {
            if (json_object_object_length(child) == 0) {
                json_object_object_del(dict, head);
            }
            return true;
        }
    }
    return false;
}

static bool has_only_string_leaves(json_object *obj, int depth)
{
    size_t i, n;

    if (depth > OPTS_MAX_DEPTH) {
        return false;
    }
    switch (json_object_get_type(obj)) {
    case json_type_string:
        return true;
    case json_type_object: {
        json_object_object_foreach(obj, key, val) {
            (void)key;
            if (!has_only_string_leaves(val, depth + 1)) {
                return false;
            }
        }
        return json_object_object_length(obj) > 0;
    }
    case json_type_array:
        n = json_object_array_length(obj);
        for (i = 0; i < n; i++) {
            if (!has_only_string_leaves(json_object_array_get_idx(obj, i),
                                        depth + 1)) {
                return false;
            }
        }
        return n > 0;
    default:
        return false;
    }
}

/* QAPI's complaint about a value of the wrong JSON type. */
static void set_type_error(const char *key, json_object *val,
                           const char *expected, Error **errp)
{
    /* Dotted keyval keys under a scalar's name ("size.x=1"). */
    if (has_only_string_leaves(val, 0) &&
        !json_object_is_type(val, json_type_string)) {
        error_setg(errp, "Parameters '%s.*' are unexpected", key);
        return;
    }
    error_setg(errp, "Invalid parameter type for '%s', expected: %s", key,
               expected);
}

/* True for a JSON integer above INT64_MAX (json-c stores it unsigned). */
static bool is_big_uint(json_object *val)
{
    return json_object_get_int64(val) == INT64_MAX &&
           json_object_get_uint64(val) > INT64_MAX;
}

static void taken(json_object *dict, const char *key, bool *present)
{
    remove_key(dict, key, 0);
    if (present) {
        *present = true;
    }
}

/* Returns false (absent) after clearing *present. */
static bool find(json_object *dict, const char *key, json_object **val,
                 bool *present)
{
    if (lookup(dict, key, val, 0)) {
        return true;
    }
    if (present) {
        *present = false;
    }
    return false;
}

bool qx_opts_take_str(json_object *dict, const char *key, char **out,
                      bool *present, Error **errp)
{
    json_object *val;

    if (!find(dict, key, &val, present)) {
        return true;
    }
    if (!json_object_is_type(val, json_type_string)) {
        set_type_error(key, val, "string", errp);
        return false;
    }
    *out = g_strdup(json_object_get_string(val));
    taken(dict, key, present);
    return true;
}

bool qx_opts_take_bool(json_object *dict, const char *key, bool *out,
                       bool *present, Error **errp)
{
    json_object *val;

    if (!find(dict, key, &val, present)) {
        return true;
    }
    if (json_object_is_type(val, json_type_boolean)) {
        *out = json_object_get_boolean(val);
    } else if (json_object_is_type(val, json_type_string)) {
        if (!qx_parse_bool(json_object_get_string(val), out)) {
            error_setg(errp, "Parameter '%s' expects 'on' or 'off'", key);
            return false;
        }
    } else {
        set_type_error(key, val, "boolean", errp);
        return false;
    }
    taken(dict, key, present);
    return true;
}

bool qx_opts_take_int(json_object *dict, const char *key, int64_t *out,
                      bool *present, Error **errp)
{
    json_object *val;
    int64_t v;

    if (!find(dict, key, &val, present)) {
        return true;
    }
    if (json_object_is_type(val, json_type_string)) {
        if (qx_strtoi64(json_object_get_string(val), 0, &v) < 0) {
            error_setg(errp, "Parameter '%s' expects integer", key);
            return false;
        }
    } else if (json_object_is_type(val, json_type_int) &&
               !is_big_uint(val)) {
        v = json_object_get_int64(val);
    } else {
        set_type_error(key, val, "integer", errp);
        return false;
    }
    *out = v;
    taken(dict, key, present);
    return true;
}

/*
 * QAPI's unsigned number from JSON: a negative integer wraps around, as
 * QEMU accepts for backward compatibility; anything else is refused.
 */
static bool json_to_u64(const char *key, json_object *val, uint64_t *out,
                        Error **errp)
{
    if (!json_object_is_type(val, json_type_int)) {
        error_setg(errp, "Parameter '%s' expects uint64", key);
        return false;
    }
    if (is_big_uint(val)) {
        *out = json_object_get_uint64(val);
    } else {
        *out = (uint64_t)json_object_get_int64(val);
    }
    return true;
}

bool qx_opts_take_uint(json_object *dict, const char *key, uint64_t *out,
                       bool *present, Error **errp)
{
    json_object *val;
    uint64_t v;

    if (!find(dict, key, &val, present)) {
        return true;
    }
    if (json_object_is_type(val, json_type_string)) {
        if (qx_strtou64(json_object_get_string(val), 0, &v) < 0) {
            error_setg(errp, "Parameter '%s' expects integer", key);
            return false;
        }
    } else if (has_only_string_leaves(val, 0)) {
        set_type_error(key, val, "integer", errp);
        return false;
    } else if (!json_to_u64(key, val, &v, errp)) {
        return false;
    }
    *out = v;
    taken(dict, key, present);
    return true;
}

bool qx_opts_take_size(json_object *dict, const char *key, uint64_t *out,
                       bool *present, Error **errp)
{
    json_object *val;
    uint64_t v;

    if (!find(dict, key, &val, present)) {
        return true;
    }
    if (json_object_is_type(val, json_type_string)) {
        if (qx_strtosz(json_object_get_string(val), NULL, 'B', &v) < 0) {
            error_setg(errp, "Parameter '%s' expects size", key);
            return false;
        }
    } else if (has_only_string_leaves(val, 0)) {
        set_type_error(key, val, "size", errp);
        return false;
    } else if (!json_to_u64(key, val, &v, errp)) {
        return false;
    }
    *out = v;
    taken(dict, key, present);
    return true;
}

/*
 * QemuOpts sees only scalars, as text; null and containers are not options
 * it knows and stay behind for qx_opts_check_empty() to report.
 */
static char *find_flat(json_object *dict, const char *key, bool *present)
{
    json_object *val;
    char *str;

    if (!find(dict, key, &val, present)) {
        return NULL;
    }
    str = opts_scalar_to_str(val);
    if (!str && present) {
        *present = false;
    }
    return str;
}

bool qx_opts_take_flat_str(json_object *dict, const char *key, char **out,
                           bool *present, Error **errp)
{
    char *str = find_flat(dict, key, present);

    if (!str) {
        return true;
    }
    *out = str;
    taken(dict, key, present);
    return true;
}

bool qx_opts_take_flat_bool(json_object *dict, const char *key, bool *out,
                            bool *present, Error **errp)
{
    g_autofree char *str = find_flat(dict, key, present);

    if (!str) {
        return true;
    }
    if (!qx_parse_bool(str, out)) {
        error_setg(errp, "Parameter '%s' expects 'on' or 'off'", key);
        return false;
    }
    taken(dict, key, present);
    return true;
}

bool qx_opts_take_flat_number(json_object *dict, const char *key,
                              uint64_t *out, bool *present, Error **errp)
{
    g_autofree char *str = find_flat(dict, key, present);
    uint64_t v;
    int ret;

    if (!str) {
        return true;
    }
    ret = qx_strtou64(str, 0, &v);
    if (ret == -ERANGE) {
        error_setg(errp, "Value '%s' is too large for parameter '%s'", str,
                   key);
        return false;
    }
    if (ret < 0) {
        error_setg(errp, "Parameter '%s' expects a number", key);
        return false;
    }
    *out = v;
    taken(dict, key, present);
    return true;
}

bool qx_opts_take_flat_size(json_object *dict, const char *key,
                            uint64_t *out, bool *present, Error **errp)
{
    g_autofree char *str = find_flat(dict, key, present);
    uint64_t v;
    int ret;

    if (!str) {
        return true;
    }
    ret = qx_strtosz(str, NULL, 'B', &v);
    if (ret == -ERANGE) {
        error_setg(errp, "Value '%s' is out of range for parameter '%s'",
                   str, key);
        return false;
    }
    if (ret < 0) {
        error_setg(errp, "Parameter '%s' expects a non-negative number "
                   "below 2^64", key);
        error_append_hint(errp, "Optional suffix k, M, G, T, P or E means "
                          "kilo-, mega-, giga-, tera-, peta-\n"
                          "and exabytes, respectively.\n");
        return false;
    }
    *out = v;
    taken(dict, key, present);
    return true;
}

json_object *qx_opts_take_dict(json_object *dict, const char *key)
{
    json_object *val;

    if (!lookup(dict, key, &val, 0) ||
        !json_object_is_type(val, json_type_object)) {
        return NULL;
    }
    json_object_get(val);
    remove_key(dict, key, 0);
    return val;
}

json_object *qx_opts_extract_prefix(json_object *flat, const char *prefix)
{
    json_object *out = json_object_new_object();
    size_t plen = strlen(prefix);
    GPtrArray *gone;
    guint i;

    if (!json_object_is_type(flat, json_type_object)) {
        return out;
    }
    gone = g_ptr_array_new_with_free_func(g_free);
    json_object_object_foreach(flat, key, val) {
        if (!strncmp(key, prefix, plen) && key[plen] == '.') {
            json_object_object_add(out, key + plen + 1,
                                   json_object_get(val));
            g_ptr_array_add(gone, g_strdup(key));
        } else if (!strcmp(key, prefix) &&
                   json_object_is_type(val, json_type_object)) {
            /* The same options given nested: {"file": {"driver": ...}}. */
            json_object *sub = qx_opts_flatten(val);

            json_object_object_foreach(sub, skey, sval) {
                json_object_object_add(out, skey, json_object_get(sval));
            }
            json_object_put(sub);
            g_ptr_array_add(gone, g_strdup(key));
        }
    }
    for (i = 0; i < gone->len; i++) {
        json_object_object_del(flat, g_ptr_array_index(gone, i));
    }
    g_ptr_array_free(gone, TRUE);
    return out;
}

const char *qx_opts_get_str(json_object *dict, const char *key)
{
    json_object *val;

    if (!lookup(dict, key, &val, 0) ||
        !json_object_is_type(val, json_type_string)) {
        return NULL;
    }
    return json_object_get_string(val);
}

bool qx_opts_check_empty(json_object *dict, const char *what, Error **errp)
{
    json_object *flat;
    const char *first = NULL;

    if (!json_object_is_type(dict, json_type_object) ||
        json_object_object_length(dict) == 0) {
        return true;
    }
    flat = qx_opts_flatten(dict);
    json_object_object_foreach(flat, key, val) {
        (void)val;
        first = key;
        break;
    }
    /* flatten() keeps at least one key per key of a non-empty dict. */
    g_assert(first);
    if (what) {
        error_setg(errp, "%s does not support the option '%s'", what, first);
    } else {
        error_setg(errp, "Invalid parameter '%s'", first);
    }
    json_object_put(flat);
    return false;
}

bool qx_opts_check_unexpected(json_object *dict, Error **errp)
{
    if (!json_object_is_type(dict, json_type_object)) {
        return true;
    }
    json_object_object_foreach(dict, key, val) {
        (void)val;
        error_setg(errp, "Parameter '%s' is unexpected", key);
        return false;
    }
    return true;
}

static void append_escaped(GString *out, const char *s)
{
    for (; *s; s++) {
        if (*s == ',') {
            g_string_append_c(out, ',');
        }
        g_string_append_c(out, *s);
    }
}

char *qx_opts_to_keyval(json_object *dict)
{
    GString *out = g_string_new(NULL);
    json_object *flat = qx_opts_flatten(dict);

    if (json_object_is_type(flat, json_type_object)) {
        json_object_object_foreach(flat, key, val) {
            g_autofree char *str = opts_scalar_to_str(val);

            if (!str) {
                continue;
            }
            if (out->len) {
                g_string_append_c(out, ',');
            }
            append_escaped(out, key);
            g_string_append_c(out, '=');
            append_escaped(out, str);
        }
    }
    json_object_put(flat);
    return g_string_free(out, FALSE);
}
