/*
 * JSON output against text captured from QEMU 7.2 (qemu-img --output=json,
 * QMP on qemu-storage-daemon's monitor socket).
 */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "qx/util/json-out.h"

/* qemu-img info --output=json on a raw image. */
static const char golden_raw[] =
    "{\n"
    "    \"virtual-size\": 1048576,\n"
    "    \"filename\": \"d.img\",\n"
    "    \"format\": \"raw\",\n"
    "    \"actual-size\": 4096,\n"
    "    \"dirty-flag\": false\n"
    "}";

/* qcow2 with a disabled bitmap: an empty array nested four deep. */
static const char golden_bitmap[] =
    "{\n"
    "    \"virtual-size\": 1048576,\n"
    "    \"filename\": \"bm.qcow2\",\n"
    "    \"cluster-size\": 65536,\n"
    "    \"format\": \"qcow2\",\n"
    "    \"actual-size\": 208896,\n"
    "    \"format-specific\": {\n"
    "        \"type\": \"qcow2\",\n"
    "        \"data\": {\n"
    "            \"compat\": \"1.1\",\n"
    "            \"compression-type\": \"zlib\",\n"
    "            \"lazy-refcounts\": false,\n"
    "            \"bitmaps\": [\n"
    "                {\n"
    "                    \"flags\": [\n"
    "                    ],\n"
    "                    \"name\": \"b0\",\n"
    "                    \"granularity\": 65536\n"
    "                }\n"
    "            ],\n"
    "            \"refcount-bits\": 16,\n"
    "            \"corrupt\": false,\n"
    "            \"extended-l2\": false\n"
    "        }\n"
    "    },\n"
    "    \"dirty-flag\": false\n"
    "}";

/* qemu-img check --output=json. */
static const char golden_check[] =
    "{\n"
    "    \"image-end-offset\": 524288,\n"
    "    \"total-clusters\": 16384,\n"
    "    \"check-errors\": 0,\n"
    "    \"filename\": \"ov.qcow2\",\n"
    "    \"format\": \"qcow2\"\n"
    "}";

/*
 * qemu-img info --output=json --backing-chain: a top-level array, with
 * snapshots (one named sn"2\x) and a backing file.
 */
static const char golden_chain[] =
    "[\n"
    "    {\n"
    "        \"backing-filename-format\": \"qcow2\",\n"
    "        \"snapshots\": [\n"
    "            {\n"
    "                \"icount\": 0,\n"
    "                \"vm-clock-nsec\": 0,\n"
    "                \"name\": \"snap1\",\n"
    "                \"date-sec\": 1795323952,\n"
    "                \"date-nsec\": 410518000,\n"
    "                \"vm-clock-sec\": 0,\n"
    "                \"id\": \"1\",\n"
    "                \"vm-state-size\": 0\n"
    "            },\n"
    "            {\n"
    "                \"icount\": 0,\n"
    "                \"vm-clock-nsec\": 0,\n"
    "                \"name\": \"sn\\\"2\\\\x\",\n"
    "                \"date-sec\": 1795323952,\n"
    "                \"date-nsec\": 420425000,\n"
    "                \"vm-clock-sec\": 0,\n"
    "                \"id\": \"2\",\n"
    "                \"vm-state-size\": 0\n"
    "            }\n"
    "        ],\n"
    "        \"virtual-size\": 1073741824,\n"
    "        \"filename\": \"ov.qcow2\",\n"
    "        \"cluster-size\": 65536,\n"
    "        \"format\": \"qcow2\",\n"
    "        \"actual-size\": 217088,\n"
    "        \"format-specific\": {\n"
    "            \"type\": \"qcow2\",\n"
    "            \"data\": {\n"
    "                \"compat\": \"1.1\",\n"
    "                \"compression-type\": \"zlib\",\n"
    "                \"lazy-refcounts\": false,\n"
    "                \"refcount-bits\": 16,\n"
    "                \"corrupt\": false,\n"
    "                \"extended-l2\": false\n"
    "            }\n"
    "        },\n"
    "        \"full-backing-filename\": \"base.qcow2\",\n"
    "        \"backing-filename\": \"base.qcow2\",\n"
    "        \"dirty-flag\": false\n"
    "    },\n"
    "    {\n"
    "        \"virtual-size\": 1073741824,\n"
    "        \"filename\": \"base.qcow2\",\n"
    "        \"cluster-size\": 65536,\n"
    "        \"format\": \"qcow2\",\n"
    "        \"actual-size\": 200704,\n"
    "        \"format-specific\": {\n"
    "            \"type\": \"qcow2\",\n"
    "            \"data\": {\n"
    "                \"compat\": \"1.1\",\n"
    "                \"compression-type\": \"zlib\",\n"
    "                \"lazy-refcounts\": false,\n"
    "                \"refcount-bits\": 16,\n"
    "                \"corrupt\": false,\n"
    "                \"extended-l2\": false\n"
    "            }\n"
    "        },\n"
    "        \"dirty-flag\": false\n"
    "    }\n"
    "]";

/* QMP lines (without QMP's "\r\n"). */
static const char golden_qmp_greeting[] =
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, "
    "\"major\": 7}, \"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, "
    "\"capabilities\": [\"oob\"]}}";
static const char golden_qmp_empty[] = "{\"return\": {}}";
static const char golden_qmp_error[] =
    "{\"error\": {\"class\": \"CommandNotFound\", "
    "\"desc\": \"The command x has not been found\"}}";

/* Parses golden text (json-c keeps key order) and prints it back. */
static void check_round_trip(const char *golden, QxJsonStyle style)
{
    json_object *obj = json_tokener_parse(golden);
    char *text;

    g_assert_nonnull(obj);
    text = qx_json_to_string(obj, style);
    g_assert_cmpstr(text, ==, golden);
    g_free(text);
    json_object_put(obj);
}

static void test_pretty_golden(void)
{
    check_round_trip(golden_raw, QX_JSON_PRETTY);
    check_round_trip(golden_bitmap, QX_JSON_PRETTY);
    check_round_trip(golden_check, QX_JSON_PRETTY);
    check_round_trip(golden_chain, QX_JSON_PRETTY);
}

static void test_compact_golden(void)
{
    check_round_trip(golden_qmp_greeting, QX_JSON_COMPACT);
    check_round_trip(golden_qmp_empty, QX_JSON_COMPACT);
    check_round_trip(golden_qmp_error, QX_JSON_COMPACT);
}

/*
 * QMP echoed this "id" for query-version; the values went in as JSON
 * text, so they are built here with the types QEMU had.
 */
static void test_compact_numbers(void)
{
    static const char golden[] =
        "{\"d\": -0, \"i\": 18446744073709551615, "
        "\"e\": 1.0000000000000001e+300, \"j\": -5, \"a\": [1, {}], "
        "\"f\": 0.10000000000000001, \"k\": 9.9999999999999995e-08, "
        "\"b\": \"\\u00E9\\u0001\\t/\\uD83D\\uDE00\", \"g\": 100, "
        "\"l\": 1.2345678901234568e+29, \"c\": 1.5, \"h\": []}";
    json_object *o = json_object_new_object();
    json_object *a = json_object_new_array();
    char *text;

    json_object_object_add(o, "d", json_object_new_double(-0.0));
    json_object_object_add(o, "i", json_object_new_uint64(UINT64_MAX));
    json_object_object_add(o, "e", json_object_new_double(1e300));
    json_object_object_add(o, "j", json_object_new_int64(-5));
    json_object_array_add(a, json_object_new_int(1));
    json_object_array_add(a, json_object_new_object());
    json_object_object_add(o, "a", a);
    json_object_object_add(o, "f", json_object_new_double(0.1));
    json_object_object_add(o, "k", json_object_new_double(1e-7));
    json_object_object_add(o, "b", json_object_new_string(
                               "\xc3\xa9\x01\t/\xf0\x9f\x98\x80"));
    json_object_object_add(o, "g", json_object_new_double(100.0));
    json_object_object_add(o, "l",
        json_object_new_double(123456789012345678901234567890.0));
    json_object_object_add(o, "c", json_object_new_double(1.5));
    json_object_object_add(o, "h", json_object_new_array());

    text = qx_json_to_string(o, QX_JSON_COMPACT);
    g_assert_cmpstr(text, ==, golden);
    g_free(text);
    json_object_put(o);
}

static void check_value(json_object *obj, QxJsonStyle style,
                        const char *expected)
{
    char *text = qx_json_to_string(obj, style);

    g_assert_cmpstr(text, ==, expected);
    g_free(text);
    json_object_put(obj);
}

static void test_scalars_and_empty(void)
{
    json_object *o;

    check_value(NULL, QX_JSON_PRETTY, "null");
    check_value(json_object_new_boolean(1), QX_JSON_COMPACT, "true");
    check_value(json_object_new_int64(INT64_MIN), QX_JSON_PRETTY,
                "-9223372036854775808");
    check_value(json_object_new_uint64((uint64_t)INT64_MAX + 1),
                QX_JSON_PRETTY, "9223372036854775808");
    check_value(json_object_new_double(0.5), QX_JSON_PRETTY, "0.5");
    check_value(json_object_new_object(), QX_JSON_COMPACT, "{}");
    check_value(json_object_new_array(), QX_JSON_COMPACT, "[]");
    /* JSONWriter's layout for empty containers at the top level. */
    check_value(json_object_new_object(), QX_JSON_PRETTY, "{\n}");
    check_value(json_object_new_array(), QX_JSON_PRETTY, "[\n]");

    o = json_object_new_object();
    json_object_object_add(o, "e", json_object_new_object());
    json_object_object_add(o, "l", json_object_new_array());
    json_object_object_add(o, "n", NULL);
    check_value(o, QX_JSON_PRETTY,
                "{\n    \"e\": {\n    },\n    \"l\": [\n    ],\n"
                "    \"n\": null\n}");

    /* Keys are escaped like values. */
    o = json_object_new_object();
    json_object_object_add(o, "k\"\xc3\xa9", json_object_new_int(1));
    check_value(o, QX_JSON_COMPACT, "{\"k\\\"\\u00E9\": 1}");
}

/*
 * Filenames with these bytes, as qemu-img info --output=json printed them
 * (the "filename" member), prefix and suffix stripped.
 */
static const struct {
    const char *in;
    size_t len;
    const char *out;
} escapes[] = {
#define E(in, out) { in, sizeof(in) - 1, out }
    E("q\"b\\s/", "q\\\"b\\\\s/"),
    E("t\tn\nr\rb\bf\f", "t\\tn\\nr\\rb\\bf\\f"),
    E("c\x01\x1f\x7f", "c\\u0001\\u001F\\u007F"),
    E("\xc3\xa9\xe2\x82\xac", "\\u00E9\\u20AC"),
    E("\xf0\x9f\x98\x80", "\\uD83D\\uDE00"),
    E("ff\xff", "ff\\uFFFD"),
    E("c080\xc0\x80", "c080\\u0000"),
    E("sur\xed\xa0\x80x", "sur\\uFFFDx"),
    E("sur2\xed\xb0\x80", "sur2\\uFFFD"),
    E("ovl\xe0\x80\x80", "ovl\\uFFFD"),
    E("ovl2\xc1\xbf", "ovl2\\uFFFD"),
    E("trunc\xe2\x82", "trunc\\uFFFD"),
    E("trunc2\xe2\x82x", "trunc2\\uFFFDx"),
    E("five\xf8\x88\x80\x80\x80", "five\\uFFFD"),
    E("big\xf4\x90\x80\x80", "big\\uFFFD"),
    E("cont\x80\x80", "cont\\uFFFD\\uFFFD"),
    E("six\xfc\x84\x80\x80\x80\x80", "six\\uFFFD"),
    E("fe\xfe", "fe\\uFFFD"),
    E("max\xf4\x8f\xbf\xbf", "max\\uFFFD"),
    E("bmp\xef\xbf\xbf", "bmp\\uFFFD"),
    E("c1\xc2\x80", "c1\\u0080"),
    E("two\xc3", "two\\uFFFD"),
    E("e0\xe0\xa0\x80", "e0\\u0800"),
    E("f0ovl\xf0\x80\x80\x80", "f0ovl\\uFFFD"),
    E("x\xef\xb7\x8fy", "x\\uFDCFy"),
    E("x\xef\xb7\x90y", "x\\uFFFDy"),
    E("x\xef\xb7\xafy", "x\\uFFFDy"),
    E("x\xef\xb7\xb0y", "x\\uFDF0y"),
    E("x\xef\xbf\xbdy", "x\\uFFFDy"),
    E("x\xef\xbf\xbey", "x\\uFFFDy"),
    E("x\xf0\x9f\xbf\xbey", "x\\uFFFDy"),
    E("x\xf0\x9f\xbf\xbdy", "x\\uD83F\\uDFFDy"),
    E("x\xee\x80\x80y", "x\\uE000y"),
    E("x\xed\x9f\xbfy", "x\\uD7FFy"),
    E("x\xf0\x90\x80\x80y", "x\\uD800\\uDC00y"),
    E("x\xdf\xbfy", "x\\u07FFy"),
    E("x\xfe\x80y", "x\\uFFFD\\uFFFDy"),
    E("x\xff\x80y", "x\\uFFFD\\uFFFDy"),
    E("x\xe2\x82\xe2\x82\xacy", "x\\uFFFD\\u20ACy"),
    E("x\xc0\x81y", "x\\uFFFDy"),
    E("x\xf8\x88\x80\x80y", "x\\uFFFDy"),
    E("x\xe0\x80y", "x\\uFFFDy"),
    /* Not expressible in QEMU's C strings; we print an embedded NUL. */
    E("a\0b", "a\\u0000b"),
#undef E
};

static void test_string_escapes(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(escapes); i++) {
        json_object *s = json_object_new_string_len(escapes[i].in,
                                                    (int)escapes[i].len);
        char *want = g_strdup_printf("\"%s\"", escapes[i].out);
        char *text = qx_json_to_string(s, QX_JSON_PRETTY);

        g_assert_cmpstr(text, ==, want);
        g_free(text);
        g_free(want);
        json_object_put(s);
    }
}

static void test_format_appends(void)
{
    GString *out = g_string_new("x=");
    json_object *o = json_object_new_object();

    json_object_object_add(o, "a", json_object_new_int(1));
    qx_json_format(out, o, QX_JSON_PRETTY);
    g_assert_cmpstr(out->str, ==, "x={\n    \"a\": 1\n}");
    g_string_free(out, TRUE);
    json_object_put(o);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/json-out/pretty-golden", test_pretty_golden);
    g_test_add_func("/json-out/compact-golden", test_compact_golden);
    g_test_add_func("/json-out/compact-numbers", test_compact_numbers);
    g_test_add_func("/json-out/scalars-and-empty", test_scalars_and_empty);
    g_test_add_func("/json-out/string-escapes", test_string_escapes);
    g_test_add_func("/json-out/format-appends", test_format_appends);
    return g_test_run();
}
