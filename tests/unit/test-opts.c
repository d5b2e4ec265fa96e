/*
 * Option parsing against QEMU 7.2's observed behaviour: keyval from
 * qemu-storage-daemon --blockdev / --object, flat QemuOpts from qemu-img
 * create -o and qemu-system -drive, json: filenames from qemu-img info.
 */
#include <glib.h>
#include <string.h>

#include "qx/util/opts.h"

/* Serialises deterministically (key order kept) for comparisons. */
static char *dump(json_object *obj)
{
    return g_strdup(json_object_to_json_string_ext(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void assert_tree(json_object *got, const char *want_json)
{
    json_object *want = json_tokener_parse(want_json);
    char *a, *b;

    g_assert_nonnull(want);
    a = dump(got);
    b = dump(want);
    g_assert_cmpstr(a, ==, b);
    g_free(a);
    g_free(b);
    json_object_put(want);
}

static json_object *J(const char *json)
{
    json_object *o = json_tokener_parse(json);

    g_assert_nonnull(o);
    return o;
}

typedef struct {
    const char *text;
    const char *implied;
    const char *want;     /* JSON, or NULL when an error is expected */
    const char *err;
    bool help;
} ParseCase;

static void run_cases(const ParseCase *cases, size_t n, QxOptsSyntax syntax,
                      bool with_help)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const ParseCase *c = &cases[i];
        Error *err = NULL;
        bool help = !c->help;
        json_object *got;

        if (g_test_verbose()) {
            g_test_message("parse '%s'", c->text);
        }
        got = qx_opts_parse(c->text, syntax, c->implied,
                            with_help ? &help : NULL, &err);
        if (c->want) {
            if (!got) {
                g_error("'%s': unexpected error: %s", c->text,
                        error_get_pretty(err));
            }
            assert_tree(got, c->want);
            if (with_help) {
                g_assert_cmpint(help, ==, c->help);
            }
            json_object_put(got);
        } else {
            g_assert_null(got);
            g_assert_nonnull(err);
            g_assert_cmpstr(error_get_pretty(err), ==, c->err);
            error_free(err);
        }
    }
}

static void test_keyval(void)
{
    static const ParseCase cases[] = {
        { "driver=file,filename=/x,,y", NULL,
          "{\"driver\":\"file\",\"filename\":\"/x,y\"}" },
        { "driver=file,,x=1", NULL, "{\"driver\":\"file,x=1\"}" },
        { "driver=null-co,", NULL, "{\"driver\":\"null-co\"}" },
        { "driver=null-co,,", NULL, "{\"driver\":\"null-co,\"}" },
        { "driver=null-co,,,", NULL, "{\"driver\":\"null-co,\"}" },
        { "a=", NULL, "{\"a\":\"\"}" },
        { "", NULL, "{}" },
        /* Repeated keys: the last wins (QEMU 7.2 does not complain). */
        { "driver=file,driver=raw", NULL, "{\"driver\":\"raw\"}" },
        { "a.b=1,a.b=2", NULL, "{\"a\":{\"b\":\"2\"}}" },
        /* Dotted keys build dictionaries. */
        { "driver=qcow2,file.driver=file,file.filename=/x,file.aio.x=1",
          NULL,
          "{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\","
          "\"filename\":\"/x\",\"aio\":{\"x\":\"1\"}}}" },
        { "__com.x_y=1,a-b_c=2", NULL,
          "{\"__com.x_y\":\"1\",\"a-b_c\":\"2\"}" },
        /* Numeric keys build lists. */
        { "a.0=x,a.1=y", NULL, "{\"a\":[\"x\",\"y\"]}" },
        { "a.1=x,a.0=y", NULL, "{\"a\":[\"y\",\"x\"]}" },
        { "c.0.driver=x,c.1.driver=y", NULL,
          "{\"c\":[{\"driver\":\"x\"},{\"driver\":\"y\"}]}" },
        { "a.0.0=x,a.0.1=y,a.1.0=z", NULL,
          "{\"a\":[[\"x\",\"y\"],[\"z\"]]}" },
        { "a.0=x,a.00=y", NULL, "{\"a\":[\"y\"]}" },
        { "a.0=x,a.00=y,a.1=z", NULL, "{\"a\":[\"y\",\"z\"]}" },
        { "a.01=x,a.0=y", NULL, "{\"a\":[\"y\",\"x\"]}" },
        /* Implied key: the first value may omit "key=", without ",,". */
        { "qcow2,file.filename=x", "driver",
          "{\"driver\":\"qcow2\",\"file\":{\"filename\":\"x\"}}" },
        { "file", "driver", "{\"driver\":\"file\"}" },
        { "driver", "driver", "{\"driver\":\"driver\"}" },
        { "qcow2.x", "driver", "{\"driver\":\"qcow2.x\"}" },
        { "type=virt", "type", "{\"type\":\"virt\"}" },
        { " {\"qom-type\":\"x\"}", "qom-type",
          "{\"qom-type\":\" {\\\"qom-type\\\":\\\"x\\\"}\"}" },
        { "x,a=1", NULL, NULL, "Expected '=' after parameter 'x'" },
        { "a=1,virt", "type", NULL, "Expected '=' after parameter 'virt'" },
        /* Errors, with QEMU's text. */
        { "virt,,dumpdtb=/x", "type", NULL, "Invalid parameter ''" },
        { "driver", NULL, NULL, "Expected '=' after parameter 'driver'" },
        { "driver=file,filename", NULL, NULL,
          "Expected '=' after parameter 'filename'" },
        { "a.b.c", NULL, NULL, "Expected '=' after parameter 'a.b.c'" },
        { "=x", NULL, NULL, "Invalid parameter ''" },
        { "driver=file,=x", NULL, NULL, "Invalid parameter ''" },
        { ",driver=null-co", NULL, NULL, "Invalid parameter ''" },
        { "0=1", NULL, NULL, "Invalid parameter '0'" },
        { "a..b=1", NULL, NULL, "Invalid parameter 'a..b'" },
        { ".a=1", NULL, NULL, "Invalid parameter '.a'" },
        { "a.=1", NULL, NULL, "Invalid parameter 'a.'" },
        { "a b=1", NULL, NULL, "Invalid parameter 'a b'" },
        { "a%=1", NULL, NULL, "Invalid parameter 'a%'" },
        { "_x=1", NULL, NULL, "Invalid parameter '_x'" },
        { "a.__x=1", NULL, NULL, "Invalid parameter 'a.__x'" },
        { "a.-1=1", NULL, NULL, "Invalid parameter 'a.-1'" },
        { "a.1a=1", NULL, NULL, "Invalid parameter 'a.1a'" },
        { "a=1,a.b=2", NULL, NULL, "Parameters 'a.*' used inconsistently" },
        { "a.b=2,a=1", NULL, NULL, "Parameters 'a.*' used inconsistently" },
        { "a.0=x,a.b=y", NULL, NULL,
          "Parameters 'a.*' used inconsistently" },
        { "a=1,a.0=2", NULL, NULL, "Parameters 'a.*' used inconsistently" },
        { "a.0.driver=x,a.0=y", NULL, NULL,
          "Parameters 'a.0.*' used inconsistently" },
        { "a.0=1,a.0.b=2", NULL, NULL,
          "Parameters 'a.0.*' used inconsistently" },
        { "a.0=x,a.2=y", NULL, NULL, "Parameter 'a.1' missing" },
        { "a.0=1,a.1=2,a.3=3", NULL, NULL, "Parameter 'a.2' missing" },
        { "a.1=1", NULL, NULL, "Parameter 'a.0' missing" },
        { "a.01=1", NULL, NULL, "Parameter 'a.0' missing" },
        { "a.0=x,a.00=y,a.2=z", NULL, NULL, "Parameter 'a.1' missing" },
        { "a.99999999999999999999=1", NULL, NULL,
          "Parameter 'a.0' missing" },
        { "x.a.1=1", NULL, NULL, "Parameter 'x.a.0' missing" },
    };

    run_cases(cases, G_N_ELEMENTS(cases), QX_OPTS_KEYVAL, false);
}

static void test_keyval_lengths(void)
{
    g_autofree char *k127 = g_strnfill(127, 'k');
    g_autofree char *k128 = g_strnfill(128, 'k');
    g_autofree char *d130 = g_strnfill(130, '1');
    g_autofree char *t1 = g_strdup_printf("%s=1", k127);
    g_autofree char *t2 = g_strdup_printf("%s=1", k128);
    g_autofree char *t3 = g_strdup_printf("a.%s=1", k128);
    g_autofree char *t4 = g_strdup_printf("a.%s=1", d130);
    g_autofree char *t5 = g_strdup_printf("%s.x=1", d130);
    g_autofree char *w1 = g_strdup_printf("{\"%s\":\"1\"}", k127);
    g_autofree char *e2 = g_strdup_printf("Parameter '%s' is too long",
                                          k128);
    g_autofree char *e3 = g_strdup_printf(
        "Parameter fragment '%s' is too long", k128);
    g_autofree char *e4 = g_strdup_printf(
        "Parameter fragment '%s' is too long", d130);
    g_autofree char *e5 = g_strdup_printf("Invalid parameter '%s.x'", d130);
    const ParseCase cases[] = {
        { t1, NULL, w1 },
        { t2, NULL, NULL, e2 },
        { t3, NULL, NULL, e3 },
        { t4, NULL, NULL, e4 },
        { t5, NULL, NULL, e5 },
    };

    run_cases(cases, G_N_ELEMENTS(cases), QX_OPTS_KEYVAL, false);
}

static void test_keyval_help(void)
{
    static const ParseCase with_help[] = {
        { "help", NULL, "{}", NULL, true },
        { "?", NULL, "{}", NULL, true },
        { "driver=null-co,help", NULL, "{\"driver\":\"null-co\"}", NULL,
          true },
        { "memory-backend-ram,help", "qom-type",
          "{\"qom-type\":\"memory-backend-ram\"}", NULL, true },
        { "help", "qom-type", "{}", NULL, true },
        { "driver=null-co", NULL, "{\"driver\":\"null-co\"}", NULL, false },
        { "help=1", NULL, "{\"help\":\"1\"}", NULL, false },
        { "driver=help", NULL, "{\"driver\":\"help\"}", NULL, false },
        { "helpx=1", NULL, "{\"helpx\":\"1\"}", NULL, false },
        { "help,,x", NULL, NULL, "Invalid parameter ''" },
    };
    static const ParseCase without_help[] = {
        { "help", NULL, NULL, "Help is not available for this option" },
        { "?", NULL, NULL, "Help is not available for this option" },
        { "driver=null-co,help", NULL, NULL,
          "Help is not available for this option" },
        { "driver=null-co,node-name=x,help,foo=1", NULL, NULL,
          "Help is not available for this option" },
    };

    run_cases(with_help, G_N_ELEMENTS(with_help), QX_OPTS_KEYVAL, true);
    run_cases(without_help, G_N_ELEMENTS(without_help), QX_OPTS_KEYVAL,
              false);
}

static void test_keyval_too_deep(void)
{
    GString *s = g_string_new("a");
    Error *err = NULL;
    json_object *o;
    int i;

    for (i = 0; i < 2000; i++) {
        g_string_append(s, ".a");
    }
    g_string_append(s, "=1");
    o = qx_opts_parse(s->str, QX_OPTS_KEYVAL, NULL, NULL, &err);
    g_assert_null(o);
    g_assert_nonnull(strstr(error_get_pretty(err), "is nested too deeply"));
    error_free(err);
    g_string_free(s, TRUE);
}

static void test_flat(void)
{
    static const ParseCase cases[] = {
        { "cluster_size=64k,,x", NULL, "{\"cluster_size\":\"64k,x\"}" },
        { "cluster_size=64k,cluster_size=128k", NULL,
          "{\"cluster_size\":\"128k\"}" },
        { "lazy_refcounts", NULL, "{\"lazy_refcounts\":\"on\"}" },
        { "nolazy_refcounts", NULL, "{\"lazy_refcounts\":\"off\"}" },
        { "lazy_refcounts=on,nolazy_refcounts", NULL,
          "{\"lazy_refcounts\":\"off\"}" },
        { "no", NULL, "{\"\":\"off\"}" },
        { "n", NULL, "{\"n\":\"on\"}" },
        { "cache.direct", NULL, "{\"cache.direct\":\"on\"}" },
        { "file.filename=a,,b,if=none", NULL,
          "{\"file.filename\":\"a,b\",\"if\":\"none\"}" },
        { "a.b=1", NULL, "{\"a.b\":\"1\"}" },
        { "a..b=1,0=2", NULL, "{\"a..b\":\"1\",\"0\":\"2\"}" },
        { "=on", NULL, "{\"\":\"on\"}" },
        { ",file=d.img", NULL, "{\"\":\"on\",\"file\":\"d.img\"}" },
        { "cluster_size=64k,", NULL, "{\"cluster_size\":\"64k\"}" },
        { "cluster_size=64k,,", NULL, "{\"cluster_size\":\"64k,\"}" },
        { "", NULL, "{}" },
        /* Implied first key: unlike keyval, its value honours ",,". */
        { "virt,,x,a=1", "type", "{\"type\":\"virt,x\",\"a\":\"1\"}" },
        { "virt,nofoo", "type", "{\"type\":\"virt\",\"foo\":\"off\"}" },
        { "nofoo", "type", "{\"type\":\"nofoo\"}" },
        { ",virt", "type", "{\"type\":\"\",\"virt\":\"on\"}" },
        { "type=virt,x", "type", "{\"type\":\"virt\",\"x\":\"on\"}" },
        /* Without a help pointer, help is just another flag. */
        { "file=d.img,help", NULL,
          "{\"file\":\"d.img\",\"help\":\"on\"}" },
        { "?", NULL, "{\"?\":\"on\"}" },
        { "help", "type", "{\"type\":\"help\"}" },
    };
    static const ParseCase with_help[] = {
        { "help", NULL, "{}", NULL, true },
        { "?", NULL, "{}", NULL, true },
        { "help,cluster_size=64k", NULL, "{\"cluster_size\":\"64k\"}", NULL,
          true },
        { "cluster_size=64k,help", NULL, "{\"cluster_size\":\"64k\"}", NULL,
          true },
        { "cluster_size=64k,?", NULL, "{\"cluster_size\":\"64k\"}", NULL,
          true },
        { "help", "type", "{}", NULL, true },
        { "virt,help", "type", "{\"type\":\"virt\"}", NULL, true },
        { "nohelp", NULL, "{\"help\":\"off\"}", NULL, false },
        { "help=x", NULL, "{\"help\":\"x\"}", NULL, false },
        { "a=1", NULL, "{\"a\":\"1\"}", NULL, false },
    };

    run_cases(cases, G_N_ELEMENTS(cases), QX_OPTS_FLAT, false);
    run_cases(with_help, G_N_ELEMENTS(with_help), QX_OPTS_FLAT, true);
}

static void test_flat_warn(void)
{
    if (g_test_subprocess()) {
        json_object *o = qx_opts_parse("file=d.img,readonly,nodelay,help",
                                       QX_OPTS_FLAT_WARN, NULL, NULL, NULL);

        assert_tree(o, "{\"file\":\"d.img\",\"readonly\":\"on\","
                    "\"delay\":\"off\",\"help\":\"on\"}");
        json_object_put(o);
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr(
        "warning: short-form boolean option 'readonly' deprecated\n"
        "Please use readonly=on instead\n"
        "warning: short-form boolean option 'nodelay' deprecated\n"
        "Please use nodelay=on instead\n");
}

static void check_json_error(const char *text, const char *msg)
{
    Error *err = NULL;
    json_object *o = qx_opts_parse_keyval_or_json(text, "driver", NULL,
                                                  &err);

    if (o) {
        g_error("'%s' parsed: %s", text, json_object_to_json_string(o));
    }
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
}

static void test_json_form(void)
{
    Error *err = NULL;
    bool help = true;
    json_object *o;
    GString *deep;
    int i;

    o = qx_opts_parse_keyval_or_json(
        "{\"driver\":\"null-co\",\"size\":1024,\"ro\":true,"
        "\"file\":{\"x\":[1,2]}}", "driver", &help, &err);
    g_assert_nonnull(o);
    g_assert_false(help);
    assert_tree(o, "{\"driver\":\"null-co\",\"size\":1024,\"ro\":true,"
                "\"file\":{\"x\":[1,2]}}");
    json_object_put(o);

    /* QEMU's JSON also takes single-quoted strings. */
    o = qx_opts_parse_keyval_or_json("{'driver':'a\"b'}", NULL, NULL, &err);
    g_assert_nonnull(o);
    assert_tree(o, "{\"driver\":\"a\\\"b\"}");
    json_object_put(o);

    o = qx_opts_parse_keyval_or_json("{'a':['it\\'s',\"c'd\"]}", NULL, NULL,
                                     &err);
    g_assert_nonnull(o);
    assert_tree(o, "{\"a\":[\"it's\",\"c'd\"]}");
    json_object_put(o);

    /* Whitespace after the value is fine. */
    o = qx_opts_parse_keyval_or_json("{\"a\":1} \n", NULL, NULL, &err);
    g_assert_nonnull(o);
    json_object_put(o);

    /* Not starting with '{': keyval. */
    o = qx_opts_parse_keyval_or_json("null-co,size=1", "driver", NULL, &err);
    assert_tree(o, "{\"driver\":\"null-co\",\"size\":\"1\"}");
    json_object_put(o);

    /* Messages seen from qemu-storage-daemon and qemu-img. */
    check_json_error("{\"a\":1", "JSON parse error, premature EOI");
    check_json_error("{", "JSON parse error, premature EOI");
    check_json_error("{}}", "Expecting at most one JSON value");
    check_json_error("{\"a\":1}x", "Expecting at most one JSON value");
    check_json_error("{\"a\":1}{}", "Expecting at most one JSON value");
    check_json_error("{\"a\":1,}", "JSON parse error, expecting value");
    check_json_error("{\"a\":}", "JSON parse error, expecting value");
    check_json_error("{\"a\":[}", "JSON parse error, expecting value");
    check_json_error("{\"a\":[1,]}", "JSON parse error, expecting value");
    check_json_error("{\"a\":tru}", "JSON parse error, invalid keyword 'tru'");
    check_json_error("{\"a\":nul}", "JSON parse error, invalid keyword 'nul'");
    check_json_error("{\"a\":\"\\q\"}",
                     "JSON parse error, invalid escape sequence in string");
    check_json_error("{\"a\":01}", "JSON parse error, stray '01'");
    check_json_error("{\"a\":+1}", "JSON parse error, stray '+'");
    check_json_error("{\"a\":/*c*/1}", "JSON parse error, stray '/'");
    check_json_error("{\"a\":%d}", "JSON parse error, stray '%'");
    check_json_error("{\"a\":.5}", "JSON parse error, stray '.'");
    check_json_error("{\"a\":NaN}", "JSON parse error, stray 'N'");
    check_json_error("{\"a\":Infinity}", "JSON parse error, stray 'I'");
    check_json_error("{\"a\":1.}", "JSON parse error, stray '1.'");
    check_json_error("{\"a\"}", "JSON parse error, missing : in object pair");
    check_json_error("{1:2}",
                     "JSON parse error, key is not a string in object");
    check_json_error("{\"a\":[1,2}",
                     "JSON parse error, expected separator in list");
    check_json_error("{\"a\":[1 2]}",
                     "JSON parse error, expected separator in list");
    check_json_error("{\"a\":1 \"b\":2}",
                     "JSON parse error, expected separator in dict");

    /* QEMU allows 1024 levels of nesting and no more. */
    deep = g_string_new(NULL);
    for (i = 0; i < 1024; i++) {
        g_string_append(deep, "{\"a\":");
    }
    g_string_append_c(deep, '1');
    for (i = 0; i < 1024; i++) {
        g_string_append_c(deep, '}');
    }
    o = qx_opts_parse_keyval_or_json(deep->str, NULL, NULL, &err);
    g_assert_nonnull(o);
    json_object_put(o);
    g_string_prepend(deep, "{\"a\":");
    g_string_append_c(deep, '}');
    check_json_error(deep->str, "JSON nesting depth limit exceeded");
    g_string_free(deep, TRUE);
}

static void check_json_filename(const char *name, const char *want,
                                const char *msg)
{
    Error *err = NULL;
    json_object *o = qx_opts_parse_json_filename(name, &err);

    if (want) {
        g_assert_nonnull(o);
        assert_tree(o, want);
        json_object_put(o);
    } else {
        g_assert_null(o);
        g_assert_cmpstr(error_get_pretty(err), ==, msg);
        error_free(err);
    }
}

static void test_json_filename(void)
{
    g_assert_true(qx_opts_is_json_filename("json:{}"));
    g_assert_false(qx_opts_is_json_filename("/tmp/json:{}"));
    g_assert_false(qx_opts_is_json_filename("JSON:{}"));

    check_json_filename(
        "json:{\"driver\":\"raw\",\"file\":{\"driver\":\"file\","
        "\"filename\":\"/tmp/x\"}}",
        "{\"driver\":\"raw\",\"file.driver\":\"file\","
        "\"file.filename\":\"/tmp/x\"}", NULL);
    /* Nested and dotted spellings mix, as in QEMU. */
    check_json_filename(
        "json:{\"driver\":\"raw\",\"file.driver\":\"file\","
        "\"file\":{\"filename\":\"/x\"}}",
        "{\"driver\":\"raw\",\"file.driver\":\"file\","
        "\"file.filename\":\"/x\"}", NULL);
    check_json_filename("json: {'driver':'file'} ",
                        "{\"driver\":\"file\"}", NULL);
    /* Types are kept; nulls and empty containers stay. */
    check_json_filename(
        "json:{\"locking\":false,\"size\":512,\"x\":null,\"y\":[],"
        "\"z\":{},\"l\":[1,\"s\"]}",
        "{\"locking\":false,\"size\":512,\"x\":null,\"y\":[],"
        "\"z\":{},\"l.0\":1,\"l.1\":\"s\"}", NULL);

    check_json_filename("json:[1]", NULL, "Invalid JSON object given");
    check_json_filename("json:1", NULL, "Invalid JSON object given");
    check_json_filename("json:\"s\"", NULL, "Invalid JSON object given");
    check_json_filename("json:", NULL,
                        "Could not parse the JSON options: "
                        "Expecting a JSON value");
    check_json_filename("json: ", NULL,
                        "Could not parse the JSON options: "
                        "Expecting a JSON value");
    check_json_filename("json:{", NULL,
                        "Could not parse the JSON options: "
                        "JSON parse error, premature EOI");
    check_json_filename("json:{\"a\":1} x", NULL,
                        "Could not parse the JSON options: "
                        "Expecting at most one JSON value");
    check_json_filename("json:{\"a\":\"\x01\"}", NULL,
                        "Could not parse the JSON options: "
                        "JSON parse error, stray '\\u0001'");
    check_json_filename("json:{\"a\":\"\xff\"}", NULL,
                        "Could not parse the JSON options: "
                        "JSON parse error, invalid UTF-8 sequence in "
                        "string");
}

static void test_flatten_crumple(void)
{
    static const char nested[] =
        "{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\","
        "\"opts\":{\"a\":1}},\"l\":[1,{\"b\":2},[\"x\"]],\"e\":{},"
        "\"ea\":[],\"n\":null,\"0\":\"top\"}";
    json_object *in = J(nested);
    json_object *flat = qx_opts_flatten(in);
    json_object *back;
    Error *err = NULL;

    assert_tree(flat,
                "{\"driver\":\"qcow2\",\"file.driver\":\"file\","
                "\"file.opts.a\":1,\"l.0\":1,\"l.1.b\":2,\"l.2.0\":\"x\","
                "\"e\":{},\"ea\":[],\"n\":null,\"0\":\"top\"}");
    back = qx_opts_crumple(flat, &err);
    g_assert_nonnull(back);
    g_assert_true(json_object_equal(back, in));
    assert_tree(back, nested);
    json_object_put(back);

    /* Crumple takes partly nested input too. */
    json_object_put(flat);
    flat = J("{\"file\":{\"driver\":\"file\"},\"file.filename\":\"/x\"}");
    back = qx_opts_crumple(flat, &err);
    assert_tree(back,
                "{\"file\":{\"driver\":\"file\",\"filename\":\"/x\"}}");
    json_object_put(back);
    json_object_put(flat);
    json_object_put(in);
}

static void check_crumple_error(const char *flat_json, const char *msg)
{
    json_object *flat = J(flat_json);
    Error *err = NULL;
    json_object *o = qx_opts_crumple(flat, &err);

    g_assert_null(o);
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
    json_object_put(flat);
}

static void test_crumple_conflicts(void)
{
    check_crumple_error("{\"a\":\"1\",\"a.b\":\"2\"}",
                        "Parameters 'a.*' used inconsistently");
    check_crumple_error("{\"a.b\":\"2\",\"a\":\"1\"}",
                        "Parameters 'a.*' used inconsistently");
    check_crumple_error("{\"a.0\":\"x\",\"a.b\":\"y\"}",
                        "Parameters 'a.*' used inconsistently");
    check_crumple_error("{\"x.a.b\":1,\"x.a\":[1]}",
                        "Parameters 'x.a.*' used inconsistently");
    check_crumple_error("{\"a.1\":\"x\"}", "Parameter 'a.0' missing");
    check_crumple_error("{\"a..b\":1}", "Invalid parameter 'a..b'");
    check_crumple_error("{\"a.\":1}", "Invalid parameter 'a.'");
    check_crumple_error("{\".a\":1}", "Invalid parameter '.a'");
}

static void test_keyval_round_trip(void)
{
    static const char *const texts[] = {
        "driver=qcow2,file.driver=file,file.filename=/x,,y",
        "c.0.a=1,c.1.a=2,c.1.b.0=x,d=",
        "a-b=on,x_y.z=1",
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(texts); i++) {
        json_object *tree = qx_opts_parse(texts[i], QX_OPTS_KEYVAL, NULL,
                                          NULL, &error_abort);
        json_object *flat = qx_opts_flatten(tree);
        json_object *back = qx_opts_crumple(flat, &error_abort);
        char *kv = qx_opts_to_keyval(tree);
        json_object *again = qx_opts_parse(kv, QX_OPTS_KEYVAL, NULL, NULL,
                                           &error_abort);

        g_assert_true(json_object_equal(back, tree));
        g_assert_true(json_object_equal(again, tree));
        /* All keyval keys are dotted paths: same text after flattening. */
        g_assert_cmpstr(kv, ==, texts[i]);
        g_free(kv);
        json_object_put(tree);
        json_object_put(flat);
        json_object_put(back);
        json_object_put(again);
    }
}

static void test_merge(void)
{
    json_object *dst = J("{\"a\":1,\"d\":{\"x\":1}}");
    json_object *src = J("{\"a\":2,\"b\":3,\"d\":{\"x\":2,\"y\":{\"z\":4}}}");
    json_object *sub;

    qx_opts_merge(dst, src, false);
    assert_tree(dst, "{\"a\":1,\"d\":{\"x\":1,\"y\":{\"z\":4}},\"b\":3}");
    /* Copies: changing src later leaves dst alone. */
    json_object_object_get_ex(src, "d", &sub);
    json_object_object_get_ex(sub, "y", &sub);
    json_object_object_add(sub, "z", json_object_new_int(99));
    assert_tree(dst, "{\"a\":1,\"d\":{\"x\":1,\"y\":{\"z\":4}},\"b\":3}");
    json_object_put(dst);

    dst = J("{\"a\":1,\"d\":{\"x\":1},\"s\":\"v\"}");
    qx_opts_merge(dst, src, true);
    assert_tree(dst, "{\"a\":2,\"d\":{\"x\":2,\"y\":{\"z\":99}},\"s\":\"v\","
                "\"b\":3}");
    json_object_put(dst);
    json_object_put(src);
}

/* Runs one take on a fresh keyval/JSON tree and checks the error text. */
typedef enum {
    T_STR, T_BOOL, T_INT, T_UINT, T_SIZE,
    T_FSTR, T_FBOOL, T_FNUM, T_FSIZE,
} Take;

static bool do_take(Take t, json_object *d, const char *key, int64_t *iv,
                    uint64_t *uv, bool *bv, char **sv, bool *present,
                    Error **errp)
{
    switch (t) {
    case T_STR:
        return qx_opts_take_str(d, key, sv, present, errp);
    case T_BOOL:
        return qx_opts_take_bool(d, key, bv, present, errp);
    case T_INT:
        return qx_opts_take_int(d, key, iv, present, errp);
    case T_UINT:
        return qx_opts_take_uint(d, key, uv, present, errp);
    case T_SIZE:
        return qx_opts_take_size(d, key, uv, present, errp);
    case T_FSTR:
        return qx_opts_take_flat_str(d, key, sv, present, errp);
    case T_FBOOL:
        return qx_opts_take_flat_bool(d, key, bv, present, errp);
    case T_FNUM:
        return qx_opts_take_flat_number(d, key, uv, present, errp);
    case T_FSIZE:
        return qx_opts_take_flat_size(d, key, uv, present, errp);
    }
    g_assert_not_reached();
}

typedef struct {
    Take take;
    const char *tree;   /* JSON text of the dictionary */
    const char *key;
    const char *err;    /* NULL: success */
    uint64_t val;       /* expected number / bool */
    const char *str;    /* expected string */
} TakeCase;

static void test_typed_takes(void)
{
    static const TakeCase cases[] = {
        /* Text values (keyval, flat). */
        { T_BOOL, "{\"b\":\"on\"}", "b", NULL, 1 },
        { T_BOOL, "{\"b\":\"yes\"}", "b", NULL, 1 },
        { T_BOOL, "{\"b\":\"true\"}", "b", NULL, 1 },
        { T_BOOL, "{\"b\":\"y\"}", "b", NULL, 1 },
        { T_BOOL, "{\"b\":\"off\"}", "b", NULL, 0 },
        { T_BOOL, "{\"b\":\"no\"}", "b", NULL, 0 },
        { T_BOOL, "{\"b\":\"false\"}", "b", NULL, 0 },
        { T_BOOL, "{\"b\":\"n\"}", "b", NULL, 0 },
        { T_BOOL, "{\"share\":\"1\"}", "share",
          "Parameter 'share' expects 'on' or 'off'" },
        { T_BOOL, "{\"aclint\":\"On\"}", "aclint",
          "Parameter 'aclint' expects 'on' or 'off'" },
        { T_BOOL, "{\"share\":\"Y\"}", "share",
          "Parameter 'share' expects 'on' or 'off'" },
        { T_INT, "{\"i\":\"0x10\"}", "i", NULL, 16 },
        { T_INT, "{\"i\":\"010\"}", "i", NULL, 8 },
        { T_INT, "{\"i\":\" 5\"}", "i", NULL, 5 },
        { T_INT, "{\"i\":\"-1\"}", "i", NULL, (uint64_t)-1 },
        { T_INT, "{\"size\":\"1k\"}", "size",
          "Parameter 'size' expects integer" },
        { T_INT, "{\"i\":\"99999999999999999999\"}", "i",
          "Parameter 'i' expects integer" },
        { T_UINT, "{\"u\":\"-1\"}", "u", NULL, UINT64_MAX },
        { T_UINT, "{\"u\":\"0x10\"}", "u", NULL, 16 },
        { T_UINT, "{\"host-nodes.0\":\"1x\"}", "host-nodes.0",
          "Parameter 'host-nodes.0' expects integer" },
        { T_SIZE, "{\"size\":\"1.5k\"}", "size", NULL, 1536 },
        { T_SIZE, "{\"size\":\"0x10\"}", "size", NULL, 16 },
        { T_SIZE, "{\"size\":\"64k\"}", "size", NULL, 65536 },
        { T_SIZE, "{\"size\":\"1.5x\"}", "size",
          "Parameter 'size' expects size" },
        { T_SIZE, "{\"size\":\"-1\"}", "size",
          "Parameter 'size' expects size" },
        { T_SIZE, "{\"size\":\"16E\"}", "size",
          "Parameter 'size' expects size" },
        /* Dotted keyval keys under a scalar's name. */
        { T_SIZE, "{\"size\":{\"x\":\"1\"}}", "size",
          "Parameters 'size.*' are unexpected" },
        { T_STR, "{\"node-name\":{\"a\":\"1\"}}", "node-name",
          "Parameters 'node-name.*' are unexpected" },
        { T_BOOL, "{\"share\":[\"on\"]}", "share",
          "Parameters 'share.*' are unexpected" },
        /* JSON values (QAPI's messages). */
        { T_SIZE, "{\"size\":1024}", "size", NULL, 1024 },
        { T_SIZE, "{\"size\":-1}", "size", NULL, UINT64_MAX },
        { T_SIZE, "{\"size\":1.5}", "size", "Parameter 'size' expects uint64" },
        { T_SIZE, "{\"size\":true}", "size",
          "Parameter 'size' expects uint64" },
        { T_UINT, "{\"u\":18446744073709551615}", "u", NULL, UINT64_MAX },
        { T_UINT, "{\"u\":null}", "u", "Parameter 'u' expects uint64" },
        { T_INT, "{\"size\":1.5}", "size",
          "Invalid parameter type for 'size', expected: integer" },
        { T_INT, "{\"size\":1e3}", "size",
          "Invalid parameter type for 'size', expected: integer" },
        { T_INT, "{\"size\":true}", "size",
          "Invalid parameter type for 'size', expected: integer" },
        { T_INT, "{\"size\":18446744073709551615}", "size",
          "Invalid parameter type for 'size', expected: integer" },
        { T_INT, "{\"i\":-9223372036854775808}", "i", NULL,
          (uint64_t)INT64_MIN },
        { T_BOOL, "{\"read-zeroes\":1}", "read-zeroes",
          "Invalid parameter type for 'read-zeroes', expected: boolean" },
        { T_BOOL, "{\"b\":true}", "b", NULL, 1 },
        { T_STR, "{\"node-name\":1}", "node-name",
          "Invalid parameter type for 'node-name', expected: string" },
        { T_STR, "{\"node-name\":null}", "node-name",
          "Invalid parameter type for 'node-name', expected: string" },
        { T_STR, "{\"node-name\":{}}", "node-name",
          "Invalid parameter type for 'node-name', expected: string" },
        /* Strings. */
        { T_STR, "{\"s\":\"a,b\"}", "s", NULL, 0, "a,b" },
        { T_STR, "{\"f\":{\"s\":\"\"}}", "f.s", NULL, 0, "" },
        /* QemuOpts' view of json: filename values. */
        { T_FSTR, "{\"locking\":false}", "locking", NULL, 0, "off" },
        { T_FSTR, "{\"n\":-5}", "n", NULL, 0, "-5" },
        { T_FSTR, "{\"n\":18446744073709551615}", "n", NULL, 0,
          "18446744073709551615" },
        { T_FSTR, "{\"d\":1.5}", "d", NULL, 0, "1.5" },
        { T_FSTR, "{\"s\":\"x\"}", "s", NULL, 0, "x" },
        { T_FBOOL, "{\"b\":true}", "b", NULL, 1 },
        { T_FBOOL, "{\"b\":\"off\"}", "b", NULL, 0 },
        { T_FBOOL, "{\"b\":1}", "b", "Parameter 'b' expects 'on' or 'off'" },
        { T_FBOOL, "{\"lazy_refcounts\":\"foo\"}", "lazy_refcounts",
          "Parameter 'lazy_refcounts' expects 'on' or 'off'" },
        /* QemuOpts' numbers and sizes (qemu-img create -o). */
        { T_FNUM, "{\"refcount_bits\":\"16\"}", "refcount_bits", NULL, 16 },
        { T_FNUM, "{\"refcount_bits\":\" 16\"}", "refcount_bits", NULL, 16 },
        { T_FNUM, "{\"refcount_bits\":\"0x10\"}", "refcount_bits", NULL,
          16 },
        { T_FNUM, "{\"refcount_bits\":\"-1\"}", "refcount_bits", NULL,
          UINT64_MAX },
        { T_FNUM, "{\"refcount_bits\":\"abc\"}", "refcount_bits",
          "Parameter 'refcount_bits' expects a number" },
        { T_FNUM, "{\"refcount_bits\":\"16k\"}", "refcount_bits",
          "Parameter 'refcount_bits' expects a number" },
        { T_FNUM, "{\"refcount_bits\":\"99999999999999999999\"}",
          "refcount_bits",
          "Value '99999999999999999999' is too large for parameter "
          "'refcount_bits'" },
        { T_FNUM, "{\"n\":512}", "n", NULL, 512 },
        { T_FSIZE, "{\"cluster_size\":\"64k\"}", "cluster_size", NULL,
          65536 },
        { T_FSIZE, "{\"size\":512}", "size", NULL, 512 },
        { T_FSIZE, "{\"cluster_size\":\"64k,x\"}", "cluster_size",
          "Parameter 'cluster_size' expects a non-negative number below "
          "2^64" },
        { T_FSIZE, "{\"cluster_size\":\"on\"}", "cluster_size",
          "Parameter 'cluster_size' expects a non-negative number below "
          "2^64" },
        { T_FSIZE, "{\"size\":true}", "size",
          "Parameter 'size' expects a non-negative number below 2^64" },
        { T_FSIZE, "{\"size\":\"16E\"}", "size",
          "Value '16E' is out of range for parameter 'size'" },
        { T_FSIZE, "{\"size\":\"99999999999E\"}", "size",
          "Value '99999999999E' is out of range for parameter 'size'" },
        /* Dotted paths reach into nested dictionaries. */
        { T_SIZE, "{\"file\":{\"size\":\"1k\"}}", "file.size", NULL, 1024 },
        { T_BOOL, "{\"file.ro\":\"on\"}", "file.ro", NULL, 1 },
        { T_INT, "{\"a\":{\"b\":{\"c\":\"x\"}}}", "a.b.c",
          "Parameter 'a.b.c' expects integer" },
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        const TakeCase *c = &cases[i];
        json_object *d = J(c->tree);
        Error *err = NULL;
        int64_t iv = 0;
        uint64_t uv = 0;
        bool bv = false;
        char *sv = NULL;
        bool present = false;
        bool ok;

        if (g_test_verbose()) {
            g_test_message("take %d %s from %s", c->take, c->key, c->tree);
        }
        ok = do_take(c->take, d, c->key, &iv, &uv, &bv, &sv, &present, &err);
        if (c->err) {
            g_assert_false(ok);
            g_assert_cmpstr(error_get_pretty(err), ==, c->err);
            error_free(err);
            /* A failed take leaves the key for later reporting. */
            g_assert_cmpint(json_object_object_length(d), >, 0);
        } else {
            if (!ok) {
                g_error("take %s from %s: %s", c->key, c->tree,
                        error_get_pretty(err));
            }
            g_assert_true(present);
            switch (c->take) {
            case T_BOOL:
                g_assert_cmpint(bv, ==, (bool)c->val);
                break;
            case T_FBOOL:
                g_assert_cmpint(bv, ==, (bool)c->val);
                break;
            case T_INT:
                g_assert_cmpint(iv, ==, (int64_t)c->val);
                break;
            case T_STR:
            case T_FSTR:
                g_assert_cmpstr(sv, ==, c->str);
                break;
            default:
                g_assert_cmpuint(uv, ==, c->val);
                break;
            }
            /* Taken, and parents emptied by it pruned. */
            g_assert_true(qx_opts_check_empty(d, NULL, &error_abort));
        }
        g_free(sv);
        json_object_put(d);
    }
}

static void test_take_details(void)
{
    json_object *d = qx_opts_parse("name=x,file.driver=file,file.n=1,z=1",
                                   QX_OPTS_KEYVAL, NULL, NULL, &error_abort);
    Error *err = NULL;
    char *s = NULL;
    bool present = true;
    uint64_t u = 77;
    json_object *sub;

    /* Absent: untouched, present false, success. */
    g_assert_true(qx_opts_take_size(d, "nope", &u, &present, &err));
    g_assert_false(present);
    g_assert_cmpuint(u, ==, 77);
    g_assert_true(qx_opts_take_flat_size(d, "nope", &u, &present, &err));
    g_assert_false(present);

    g_assert_true(qx_opts_take_str(d, "name", &s, NULL, &err));
    g_assert_cmpstr(s, ==, "x");
    g_free(s);
    g_assert_null(qx_opts_get_str(d, "name"));
    g_assert_cmpstr(qx_opts_get_str(d, "file.driver"), ==, "file");
    g_assert_null(qx_opts_take_dict(d, "z"));
    sub = qx_opts_take_dict(d, "file");
    assert_tree(sub, "{\"driver\":\"file\",\"n\":\"1\"}");
    json_object_put(sub);
    assert_tree(d, "{\"z\":\"1\"}");
    json_object_put(d);

    /* Flat takes: null and containers count as absent and stay behind. */
    d = J("{\"x\":null,\"y\":{}}");
    s = NULL;
    g_assert_true(qx_opts_take_flat_str(d, "x", &s, &present, &err));
    g_assert_false(present);
    g_assert_null(s);
    g_assert_true(qx_opts_take_flat_number(d, "x", &u, &present, &err));
    g_assert_false(present);
    g_assert_true(qx_opts_take_flat_size(d, "y", &u, &present, &err));
    g_assert_false(present);
    g_assert_cmpuint(u, ==, 77);
    g_assert_false(qx_opts_check_empty(d, NULL, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Invalid parameter 'x'");
    error_free_or_null(&err);
    json_object_put(d);

    /* The size hint QEMU prints under the message. */
    d = J("{\"size\":\"1.5x\"}");
    g_assert_false(qx_opts_take_flat_size(d, "size", &u, NULL, &err));
    g_assert_cmpstr(error_get_hint(err), ==,
                    "Optional suffix k, M, G, T, P or E means kilo-, "
                    "mega-, giga-, tera-, peta-\nand exabytes, "
                    "respectively.\n");
    error_free(err);
    json_object_put(d);
}

static void check_empty_msg(const char *tree, const char *what,
                            const char *msg)
{
    json_object *d = J(tree);
    Error *err = NULL;

    if (!msg) {
        g_assert_true(qx_opts_check_empty(d, what, &err));
    } else {
        g_assert_false(qx_opts_check_empty(d, what, &err));
        g_assert_cmpstr(error_get_pretty(err), ==, msg);
        error_free(err);
    }
    json_object_put(d);
}

static void test_check_empty(void)
{
    Error *err = NULL;
    json_object *d;

    check_empty_msg("{}", NULL, NULL);
    check_empty_msg("{}", "Block format 'raw'", NULL);
    check_empty_msg("{\"foo\":\"bar\"}", NULL, "Invalid parameter 'foo'");
    check_empty_msg("{\"a.b\":\"1\"}", NULL, "Invalid parameter 'a.b'");
    check_empty_msg("{\"\":\"on\"}", NULL, "Invalid parameter ''");
    check_empty_msg("{\"foo\":\"bar\"}", "Block format 'raw'",
                    "Block format 'raw' does not support the option 'foo'");
    check_empty_msg("{\"x\":{\"y\":1}}", "Block format 'raw'",
                    "Block format 'raw' does not support the option 'x.y'");
    check_empty_msg("{\"x\":[1,2]}", NULL, "Invalid parameter 'x.0'");
    check_empty_msg("{\"x\":[]}", NULL, "Invalid parameter 'x'");
    check_empty_msg("{\"x\":{}}", NULL, "Invalid parameter 'x'");
    check_empty_msg("{\"x\":null}", NULL, "Invalid parameter 'x'");

    d = qx_opts_parse("foo.bar=1,baz=2", QX_OPTS_KEYVAL, NULL, NULL,
                      &error_abort);
    g_assert_false(qx_opts_check_unexpected(d, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Parameter 'foo' is unexpected");
    error_free_or_null(&err);
    json_object_put(d);
    d = json_object_new_object();
    g_assert_true(qx_opts_check_unexpected(d, &err));
    json_object_put(d);
}

static void test_extract_prefix(void)
{
    json_object *flat = J("{\"driver\":\"raw\",\"file.driver\":\"file\","
                          "\"file.filename\":\"/x\",\"filex\":\"1\","
                          "\"file.aio.y\":\"2\"}");
    json_object *sub = qx_opts_extract_prefix(flat, "file");

    assert_tree(sub, "{\"driver\":\"file\",\"filename\":\"/x\","
                "\"aio.y\":\"2\"}");
    assert_tree(flat, "{\"driver\":\"raw\",\"filex\":\"1\"}");
    json_object_put(sub);
    sub = qx_opts_extract_prefix(flat, "backing");
    assert_tree(sub, "{}");
    json_object_put(sub);
    json_object_put(flat);

    /* The nested spelling of the same options is flattened in. */
    flat = J("{\"file\":{\"driver\":\"file\",\"o\":{\"p\":1}},"
             "\"file.filename\":\"/x\",\"backing\":\"node\"}");
    sub = qx_opts_extract_prefix(flat, "file");
    assert_tree(sub, "{\"driver\":\"file\",\"o.p\":1,\"filename\":\"/x\"}");
    assert_tree(flat, "{\"backing\":\"node\"}");
    json_object_put(sub);
    /* A string under the prefix itself (a node reference) stays. */
    sub = qx_opts_extract_prefix(flat, "backing");
    assert_tree(sub, "{}");
    assert_tree(flat, "{\"backing\":\"node\"}");
    json_object_put(sub);
    json_object_put(flat);
}

static void test_to_keyval(void)
{
    json_object *d = J("{\"driver\":\"file\",\"filename\":\"/x,y\","
                       "\"file\":{\"a\":true,\"n\":5,\"l\":[\"p\",\"q\"]},"
                       "\"z\":null,\"e\":{}}");
    char *s = qx_opts_to_keyval(d);

    g_assert_cmpstr(s, ==, "driver=file,filename=/x,,y,file.a=on,file.n=5,"
                    "file.l.0=p,file.l.1=q");
    g_free(s);
    json_object_put(d);
    d = json_object_new_object();
    s = qx_opts_to_keyval(d);
    g_assert_cmpstr(s, ==, "");
    g_free(s);
    json_object_put(d);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/opts/keyval", test_keyval);
    g_test_add_func("/opts/keyval-lengths", test_keyval_lengths);
    g_test_add_func("/opts/keyval-help", test_keyval_help);
    g_test_add_func("/opts/keyval-too-deep", test_keyval_too_deep);
    g_test_add_func("/opts/flat", test_flat);
    g_test_add_func("/opts/flat-warn", test_flat_warn);
    g_test_add_func("/opts/json-form", test_json_form);
    g_test_add_func("/opts/json-filename", test_json_filename);
    g_test_add_func("/opts/flatten-crumple", test_flatten_crumple);
    g_test_add_func("/opts/crumple-conflicts", test_crumple_conflicts);
    g_test_add_func("/opts/keyval-round-trip", test_keyval_round_trip);
    g_test_add_func("/opts/merge", test_merge);
    g_test_add_func("/opts/typed-takes", test_typed_takes);
    g_test_add_func("/opts/take-details", test_take_details);
    g_test_add_func("/opts/check-empty", test_check_empty);
    g_test_add_func("/opts/extract-prefix", test_extract_prefix);
    g_test_add_func("/opts/to-keyval", test_to_keyval);
    return g_test_run();
}
