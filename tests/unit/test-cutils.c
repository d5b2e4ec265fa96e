/*
 * Size and number parsing/formatting against values observed from QEMU
 * 7.2 ("qemu-img bench -o SIZE" echoes the parsed offset exactly;
 * "qemu-img create" + "qemu-img info" show the formatted size).
 */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "qx/util/cutils.h"

static const struct {
    const char *in;
    int ret;
    uint64_t val;
} strtosz_cases[] = {
    { "0", 0, 0 },
    { "1", 0, 1 },
    { "512", 0, 512 },
    { "1023", 0, 1023 },
    { "1024", 0, 1024 },
    { "1000000", 0, 1000000 },
    { "1b", 0, 1 },
    { "1B", 0, 1 },
    { "1k", 0, 1024 },
    { "1K", 0, 1024 },
    { "1m", 0, 1048576 },
    { "1M", 0, 1048576 },
    { "1g", 0, 1073741824 },
    { "1G", 0, 1073741824 },
    { "10G", 0, 10737418240ULL },
    { "1t", 0, 1099511627776ULL },
    { "1P", 0, 1125899906842624ULL },
    { "1E", 0, 1152921504606846976ULL },
    { "1.5M", 0, 1572864 },
    { "1.5T", 0, 1649267441664ULL },
    { "1023.5K", 0, 1048064 },
    { "999.5K", 0, 1023488 },
    /* Fractions round half up (observed through qemu-img bench -o). */
    { "10.05K", 0, 10291 },
    { "999.4K", 0, 1023386 },
    { "0.1234567K", 0, 126 },
    { "0.0009765625K", 0, 1 },
    { "0.00048828125K", 0, 1 },
    { "0.000244140625K", 0, 0 },
    { "1.00048828125K", 0, 1025 },
    { "1.333333333333333333333M", 0, 1398101 },
    { "0.9E", 0, 1037629354146162304ULL },
    { "15.9E", 0, 18331451923248866944ULL },
    { "4.5E", 0, 5188146770730811392ULL },
    { "7.9999999999999999999E", 0, 8070450532247928832ULL },
    { "1.9999999999999999999K", 0, 1024 },
    { "1.5e", 0, 1729382256910270464ULL },
    { "2.2250738585072014e-308K", 0, 2 },
    { "1.0", 0, 1 },
    { "5.", 0, 5 },
    { "5.K", 0, 5120 },
    { " 5", 0, 5 },
    { "+5", 0, 5 },
    { "01", 0, 1 },
    { "010", 0, 10 },
    { "0x1000", 0, 4096 },
    { "0x0", 0, 0 },
    { "0X10", 0, 16 },
    { "0x1000K", 0, 4194304 },
    { "9223372036854775807", 0, 9223372036854775807ULL },
    { "18446744073709551615", 0, UINT64_MAX },
    { "0x8000000000000000", 0, 0x8000000000000000ULL },
    { "0xFFFFFFFFFFFFFFFF", 0, UINT64_MAX },
    { "16E", -ERANGE, 0 },
    { "99999999999E", -ERANGE, 0 },
    { "18446744073709551616", -ERANGE, 0 },
    { "123456789012345678901234", -ERANGE, 0 },
    { "0x10000000000000000", -ERANGE, 0 },
    { "1.2.3", -EINVAL, 0 },
    { "1.5x", -EINVAL, 0 },
    { "-5", -EINVAL, 0 },
    { "-0", -EINVAL, 0 },
    { " -1", -EINVAL, 0 },
    { ".5K", -EINVAL, 0 },
    { "5 ", -EINVAL, 0 },
    { "1K5", -EINVAL, 0 },
    { "1.5", -EINVAL, 0 },
    { "0.5", -EINVAL, 0 },
    { "1.1B", -EINVAL, 0 },
    { "1.5B", -EINVAL, 0 },
    { "1.0000000000000000001", -EINVAL, 0 },
    { "1e3", -EINVAL, 0 },
    { "1E3", -EINVAL, 0 },
    { "1.5e3K", -EINVAL, 0 },
    { "inf", -EINVAL, 0 },
    { "nan", -EINVAL, 0 },
    { "", -EINVAL, 0 },
    { " ", -EINVAL, 0 },
    { "1KiB", -EINVAL, 0 },
    { "0x", -EINVAL, 0 },
    { "0x1.5", -EINVAL, 0 },
    { "0x1.5K", -EINVAL, 0 },
    { "k", -EINVAL, 0 },
};

static void test_strtosz(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(strtosz_cases); i++) {
        uint64_t v = 0xdeadbeef;
        int ret = qx_strtosz(strtosz_cases[i].in, NULL, 'B', &v);

        if (g_test_verbose()) {
            g_test_message("strtosz '%s'", strtosz_cases[i].in);
        }
        g_assert_cmpint(ret, ==, strtosz_cases[i].ret);
        if (ret == 0) {
            g_assert_cmpuint(v, ==, strtosz_cases[i].val);
        } else {
            /* Left alone on failure. */
            g_assert_cmpuint(v, ==, 0xdeadbeef);
        }
    }
}

static void test_strtosz_end_and_default(void)
{
    const char *end = NULL;
    uint64_t v = 0;

    g_assert_cmpint(qx_strtosz("12Kx", &end, 'B', &v), ==, 0);
    g_assert_cmpuint(v, ==, 12288);
    g_assert_cmpstr(end, ==, "x");
    g_assert_cmpint(qx_strtosz("7,rest", &end, 'B', &v), ==, 0);
    g_assert_cmpuint(v, ==, 7);
    g_assert_cmpstr(end, ==, ",rest");
    /* A fraction without a unit fails even with an end pointer. */
    v = 3;
    g_assert_cmpint(qx_strtosz("1.5x", &end, 'B', &v), ==, -EINVAL);
    g_assert_cmpuint(v, ==, 3);
    g_assert_cmpstr(end, ==, "1.5x");

    /* -m style: a bare number means MiB, a fraction is fine then. */
    g_assert_cmpint(qx_strtosz("512", NULL, 'M', &v), ==, 0);
    g_assert_cmpuint(v, ==, 512ULL << 20);
    g_assert_cmpint(qx_strtosz("1.5", NULL, 'M', &v), ==, 0);
    g_assert_cmpuint(v, ==, 3ULL << 19);
    g_assert_cmpint(qx_strtosz("2b", NULL, 'M', &v), ==, 0);
    g_assert_cmpuint(v, ==, 2);
    g_assert_cmpint(qx_strtosz("16384P", NULL, 'M', &v), ==, -ERANGE);
}

static void test_hex_suffix_warns(void)
{
    if (g_test_subprocess()) {
        uint64_t v = 0;

        g_assert_cmpint(qx_strtosz("0x10K", NULL, 'B', &v), ==, 0);
        g_assert_cmpuint(v, ==, 16384);
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("*warning: Using a multiplier suffix on hex "
                              "numbers is deprecated: 0x10K\n");
}

static void test_parse_size_messages(void)
{
    Error *err = NULL;
    uint64_t v = 0;
    int64_t sv = 0;

    g_assert_true(qx_parse_size("1.5M", &v, &err));
    g_assert_cmpuint(v, ==, 1572864);
    g_assert_true(qx_parse_size("9223372036854775807", &v, &err));
    g_assert_cmpuint(v, ==, INT64_MAX);

    error_set_progname("qemu-img");
    g_assert_false(qx_parse_size("1.5x", &v, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Invalid image size specified. You may use k, M, G, T, "
                    "P or E suffixes for\n"
                    "qemu-img: kilobytes, megabytes, gigabytes, terabytes, "
                    "petabytes and exabytes.");
    error_free_or_null(&err);
    error_set_progname(NULL);

    g_assert_false(qx_parse_size("1.2.3", &v, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Invalid image size specified. You may use k, M, G, T, "
                    "P or E suffixes for\n"
                    "kilobytes, megabytes, gigabytes, terabytes, "
                    "petabytes and exabytes.");
    error_free_or_null(&err);

    static const char *const too_big[] = {
        "8E", "15.9E", "16E", "99999999999E", "9223372036854775808",
        "18446744073709551615", "0x8000000000000000",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(too_big); i++) {
        g_assert_false(qx_parse_size(too_big[i], &v, &err));
        g_assert_cmpstr(error_get_pretty(err), ==,
                        "Invalid image size specified. Must be between 0 "
                        "and 9223372036854775807.");
        error_free_or_null(&err);
    }

    g_assert_false(qx_parse_size_named("buffer size", "1k", 0, 512, &sv,
                                       &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Invalid buffer size specified. Must be between 0 and "
                    "512.");
    error_free_or_null(&err);
    g_assert_true(qx_parse_size_named("offset", "4k", 0, INT64_MAX, &sv,
                                      &err));
    g_assert_cmpint(sv, ==, 4096);
}

/* "virtual size:" from qemu-img info, for sizes made by qemu-img create. */
static const struct {
    uint64_t size;
    const char *text;
} size_str_cases[] = {
    { 0, "0 B" },
    { 1, "1 B" },
    { 512, "512 B" },
    { 999, "999 B" },
    { 1000, "0.977 KiB" },
    { 1023, "0.999 KiB" },
    { 1024, "1 KiB" },
    { 1536, "1.5 KiB" },
    { 4096, "4 KiB" },
    { 10752, "10.5 KiB" },
    { 102400, "100 KiB" },
    { 102912, "100 KiB" },
    { 208896, "204 KiB" },
    { 217088, "212 KiB" },
    { 512000, "500 KiB" },
    { 1000448, "977 KiB" },
    { 1022976, "999 KiB" },
    { 1023488, "1e+03 KiB" },
    { 1024000, "0.977 MiB" },
    { 1047552, "0.999 MiB" },
    { 1048064, "1 MiB" },
    { 1048576, "1 MiB" },
    { 1572864, "1.5 MiB" },
    { 10240000, "9.77 MiB" },
    { 102400000, "97.7 MiB" },
    { 1048051712, "1e+03 MiB" },
    { 1048576000, "0.977 GiB" },
    { 1073217536, "1 GiB" },
    { 1073741824, "1 GiB" },
    { 10737418240ULL, "10 GiB" },
    { 1649267441664ULL, "1.5 TiB" },
    { 109951162777600ULL, "100 TiB" },
    { 1098412116148224ULL, "999 TiB" },
    { 1099511627776000ULL, "0.977 PiB" },
    { 1124800395214848ULL, "0.999 PiB" },
    { 1125899906842624ULL, "1 PiB" },
    { 1688849860263936ULL, "1.5 PiB" },
    { 2139209823001088ULL, "1.9 PiB" },
    { 11258999068426240ULL, "10 PiB" },
    /* Beyond what an image can be; same arithmetic. */
    { 1ULL << 63, "8 EiB" },
    { UINT64_MAX, "16 EiB" },
};

static void test_size_to_str(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(size_str_cases); i++) {
        char *s = qx_size_to_str(size_str_cases[i].size);

        g_assert_cmpstr(s, ==, size_str_cases[i].text);
        g_free(s);
    }
}

static void test_parse_bool(void)
{
    static const char *const yes[] = { "on", "yes", "true", "y" };
    static const char *const no[] = { "off", "no", "false", "n" };
    static const char *const bad[] = {
        "On", "Y", "1", "0", "", "tru", "onn", " on", "YES",
    };
    size_t i;
    bool b;

    for (i = 0; i < G_N_ELEMENTS(yes); i++) {
        b = false;
        g_assert_true(qx_parse_bool(yes[i], &b));
        g_assert_true(b);
        b = true;
        g_assert_true(qx_parse_bool(no[i], &b));
        g_assert_false(b);
    }
    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        b = true;
        g_assert_false(qx_parse_bool(bad[i], &b));
        g_assert_true(b);
    }
}

static void test_strtoint(void)
{
    int64_t i = 7;
    uint64_t u = 7;

    g_assert_cmpint(qx_strtoi64("-42", 10, &i), ==, 0);
    g_assert_cmpint(i, ==, -42);
    g_assert_cmpint(qx_strtoi64("0x10", 0, &i), ==, 0);
    g_assert_cmpint(i, ==, 16);
    g_assert_cmpint(qx_strtoi64("010", 0, &i), ==, 0);
    g_assert_cmpint(i, ==, 8);
    g_assert_cmpint(qx_strtoi64(" 5", 10, &i), ==, 0);
    g_assert_cmpint(i, ==, 5);
    i = 7;
    g_assert_cmpint(qx_strtoi64("", 10, &i), ==, -EINVAL);
    g_assert_cmpint(qx_strtoi64("5 ", 10, &i), ==, -EINVAL);
    g_assert_cmpint(qx_strtoi64("08", 0, &i), ==, -EINVAL);
    g_assert_cmpint(qx_strtoi64("1x", 10, &i), ==, -EINVAL);
    g_assert_cmpint(i, ==, 7);
    g_assert_cmpint(qx_strtoi64("9223372036854775808", 10, &i), ==,
                    -ERANGE);
    g_assert_cmpint(i, ==, INT64_MAX);
    g_assert_cmpint(qx_strtoi64("-9223372036854775809", 10, &i), ==,
                    -ERANGE);
    g_assert_cmpint(i, ==, INT64_MIN);

    g_assert_cmpint(qx_strtou64("18446744073709551615", 10, &u), ==, 0);
    g_assert_cmpuint(u, ==, UINT64_MAX);
    g_assert_cmpint(qx_strtou64("-1", 0, &u), ==, 0);
    g_assert_cmpuint(u, ==, UINT64_MAX);
    g_assert_cmpint(qx_strtou64("0x10", 0, &u), ==, 0);
    g_assert_cmpuint(u, ==, 16);
    u = 7;
    g_assert_cmpint(qx_strtou64("abc", 0, &u), ==, -EINVAL);
    g_assert_cmpint(qx_strtou64("", 0, &u), ==, -EINVAL);
    g_assert_cmpint(qx_strtou64("16k", 0, &u), ==, -EINVAL);
    g_assert_cmpuint(u, ==, 7);
    g_assert_cmpint(qx_strtou64("99999999999999999999", 0, &u), ==,
                    -ERANGE);
    g_assert_cmpuint(u, ==, UINT64_MAX);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cutils/strtosz", test_strtosz);
    g_test_add_func("/cutils/strtosz-end-default",
                    test_strtosz_end_and_default);
    g_test_add_func("/cutils/strtosz-hex-suffix-warns",
                    test_hex_suffix_warns);
    g_test_add_func("/cutils/parse-size-messages", test_parse_size_messages);
    g_test_add_func("/cutils/size-to-str", test_size_to_str);
    g_test_add_func("/cutils/parse-bool", test_parse_bool);
    g_test_add_func("/cutils/strtoint", test_strtoint);
    return g_test_run();
}
