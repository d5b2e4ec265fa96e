/*
 * libFuzzer target for option parsing: every syntax, the JSON forms, the
 * flatten/crumple and keyval text round trips, typed takes and JSON output
 * over whatever parses.  Besides memory errors it checks invariants that
 * must hold for any input, and aborts if one does not.
 */
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qx/util/json-out.h"
#include "qx/util/opts.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "invariant failed: %s\n", #cond);              \
            abort();                                                       \
        }                                                                  \
    } while (0)

/* Output and read-only access on any tree. */
static void exercise_output(json_object *tree)
{
    char *s;

    s = qx_json_to_string(tree, QX_JSON_PRETTY);
    g_free(s);
    s = qx_json_to_string(tree, QX_JSON_COMPACT);
    g_free(s);
    s = qx_opts_to_keyval(tree);
    g_free(s);
    (void)qx_opts_get_str(tree, "driver");
    (void)qx_opts_get_str(tree, "file.filename");
}

/*
 * crumple(flatten(x)) may fail on conflicts; when it succeeds the result is
 * normal: flattening and crumpling it again gives it back.
 */
static void exercise_flatten_crumple(json_object *tree)
{
    json_object *flat = qx_opts_flatten(tree);
    json_object *c1 = qx_opts_crumple(flat, NULL);

    if (c1) {
        json_object *flat2 = qx_opts_flatten(c1);
        json_object *c2 = qx_opts_crumple(flat2, NULL);

        CHECK(c2 != NULL);
        CHECK(json_object_equal(c1, c2));
        json_object_put(flat2);
        json_object_put(c2);
        json_object_put(c1);
    }
    json_object_put(flat);
}

/*
 * Hex sizes with a suffix make qx_strtosz() print QEMU's deprecation
 * warning; thousands of them per second only slow the fuzzer down.
 */
static bool is_quiet_size(json_object *tree, const char *key)
{
    const char *s = qx_opts_get_str(tree, key);

    return !s || !strpbrk(s, "xX");
}

/* Takes on a copy, whatever they find; then what is left is reported. */
static void exercise_takes(json_object *tree)
{
    json_object *copy = NULL;
    json_object *sub;
    Error *err = NULL;
    char *str = NULL;
    uint64_t u;
    int64_t i;
    bool b;

    if (json_object_deep_copy(tree, &copy, NULL) < 0) {
        return;
    }
    qx_opts_take_str(copy, "driver", &str, NULL, NULL);
    g_free(str);
    str = NULL;
    qx_opts_take_bool(copy, "read-only", &b, NULL, NULL);
    qx_opts_take_int(copy, "i", &i, NULL, NULL);
    qx_opts_take_uint(copy, "u", &u, NULL, NULL);
    if (is_quiet_size(copy, "file.size")) {
        qx_opts_take_size(copy, "file.size", &u, NULL, NULL);
    }
    qx_opts_take_flat_str(copy, "aio", &str, NULL, NULL);
    g_free(str);
    qx_opts_take_flat_bool(copy, "locking", &b, NULL, NULL);
    qx_opts_take_flat_number(copy, "n", &u, NULL, NULL);
    if (is_quiet_size(copy, "size")) {
        qx_opts_take_flat_size(copy, "size", &u, NULL, NULL);
    }
    sub = qx_opts_take_dict(copy, "file");
    json_object_put(sub);
    sub = qx_opts_extract_prefix(copy, "backing");
    json_object_put(sub);
    if (!qx_opts_check_empty(copy, "Block format 'x'", &err)) {
        error_free(err);
        err = NULL;
    }
    if (!qx_opts_check_unexpected(copy, &err)) {
        error_free(err);
    }
    json_object_put(copy);
}

static void exercise(json_object *tree)
{
    exercise_output(tree);
    exercise_flatten_crumple(tree);
    exercise_takes(tree);
}

/* Keyval trees print back to text that parses to the same tree. */
static void check_keyval_text_round_trip(json_object *tree)
{
    char *text = qx_opts_to_keyval(tree);
    json_object *again = qx_opts_parse(text, QX_OPTS_KEYVAL, NULL, NULL,
                                       NULL);

    CHECK(again != NULL);
    CHECK(json_object_equal(again, tree));
    json_object_put(again);
    g_free(text);
}

static void parse_and_exercise(const char *text)
{
    static const QxOptsSyntax syntaxes[] = { QX_OPTS_KEYVAL, QX_OPTS_FLAT };
    json_object *tree;
    Error *err = NULL;
    bool help;
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(syntaxes); i++) {
        tree = qx_opts_parse(text, syntaxes[i], "driver", &help, &err);
        if (tree) {
            CHECK(json_object_is_type(tree, json_type_object));
            exercise(tree);
            if (syntaxes[i] == QX_OPTS_KEYVAL) {
                check_keyval_text_round_trip(tree);
            }
            json_object_put(tree);
        } else {
            CHECK(err != NULL);
            error_free(err);
            err = NULL;
        }
    }

    tree = qx_opts_parse(text, QX_OPTS_KEYVAL, NULL, NULL, &err);
    json_object_put(tree);
    error_free(err);
    err = NULL;

    tree = qx_opts_parse_keyval_or_json(text, "qom-type", &help, &err);
    if (tree) {
        CHECK(json_object_is_type(tree, json_type_object));
        exercise(tree);
        json_object_put(tree);
    } else {
        error_free(err);
        err = NULL;
    }

    tree = qx_opts_parse_json_filename(text, &err);
    if (tree) {
        exercise(tree);
        json_object_put(tree);
    } else {
        error_free(err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;
    char *json_name;

    /* Option strings are short; longer inputs only slow the search. */
    if (size > 16384) {
        return 0;
    }
    text = g_strndup((const char *)data, size);
    parse_and_exercise(text);
    if (!g_str_has_prefix(text, "json:")) {
        json_name = g_strconcat("json:", text, NULL);
        parse_and_exercise(json_name);
        g_free(json_name);
    }
    g_free(text);
    return 0;
}
