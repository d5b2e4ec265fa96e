/*
 * qemu-io's text helpers, whose exact output the functional tests cannot
 * see through their timing masks: size strings, time formats of the
 * statistics lines, the hex dump, line splitting and number arguments.
 */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "qemu-io.h"

static void test_split(void)
{
    int argc;
    char **argv = io_split_line("  read  -v\t0   512 ", &argc);

    g_assert_cmpint(argc, ==, 3);
    g_assert_cmpstr(argv[0], ==, "read");
    /* Only spaces separate words, as in QEMU. */
    g_assert_cmpstr(argv[1], ==, "-v\t0");
    g_assert_cmpstr(argv[2], ==, "512");
    g_assert_null(argv[3]);
    g_strfreev(argv);

    argv = io_split_line("   ", &argc);
    g_assert_cmpint(argc, ==, 0);
    g_assert_null(argv[0]);
    g_strfreev(argv);
}

static void test_cvtstr(void)
{
    static const struct {
        double value;
        const char *text;
    } cases[] = {
        {0, "0 bytes"},
        {512, "512 bytes"},
        {364.443573, "364.443573 bytes"},
        {12.0005, "12 bytes"},
        {1024, "1 KiB"},
        {1536, "1.500 KiB"},
        {70000, "68.359 KiB"},
        {1048576, "1 MiB"},
        {3.0 * 1073741824, "3 GiB"},
        {1152921504606846976.0, "1 EiB"},
    };
    char buf[64];

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        io_cvtstr(cases[i].value, buf, sizeof(buf));
        g_assert_cmpstr(buf, ==, cases[i].text);
    }
}

static void test_cvtnum(void)
{
    g_assert_cmpint(io_cvtnum("4k"), ==, 4096);
    g_assert_cmpint(io_cvtnum("0x10"), ==, 16);
    g_assert_cmpint(io_cvtnum("1.5k"), ==, 1536);
    g_assert_cmpint(io_cvtnum("abc"), ==, -EINVAL);
    g_assert_cmpint(io_cvtnum("-5"), ==, -EINVAL);
    g_assert_cmpint(io_cvtnum("16E"), ==, -ERANGE);
    g_assert_cmpint(io_cvtnum("8E"), ==, -ERANGE);
}

static void test_report_formats(void)
{
    if (g_test_subprocess()) {
        struct timespec short_time = {0, 5000000};
        struct timespec long_time = {3725, 500000000};
        struct timespec half = {0, 500000000};

        io_print_report("read", &short_time, 0, 4096, 4096, 1, false);
        io_print_report("wrote", &long_time, 512, 1024, 1024, 1, false);
        io_print_report("read", &half, 0, 512, 512, 1, true);
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    g_test_trap_assert_stdout(
        "read 4096/4096 bytes at offset 0\n"
        "4 KiB, 1 ops; 00.01 sec (800 KiB/sec and 200.0000 ops/sec)\n"
        "wrote 1024/1024 bytes at offset 512\n"
        "1 KiB, 1 ops; 1:02:05.50 (0.274862 bytes/sec and 0.0003 ops/sec)\n"
        "512,1,0:00:00.50,1024.000,2.000\n");
}

static void test_dump(void)
{
    if (g_test_subprocess()) {
        uint8_t buf[20];
        for (int i = 0; i < 20; i++) {
            buf[i] = (uint8_t)(0x2e + i * 3);
        }
        io_dump_buffer(buf, 0x5a, sizeof(buf));
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    /* Only letters and digits print as themselves. */
    g_test_trap_assert_stdout(
        "0000005a:  2e 31 34 37 3a 3d 40 43 46 49 4c 4f 52 55 58 5b  "
        ".147...CFILORUX.\n"
        "0000006a:  5e 61 64 67  .adg\n");
}

static void test_pattern(void)
{
    if (g_test_subprocess()) {
        g_assert_cmpint(io_parse_pattern("0xcd"), ==, 0xcd);
        g_assert_cmpint(io_parse_pattern("255"), ==, 255);
        g_assert_cmpint(io_parse_pattern("256"), ==, -1);
        g_assert_cmpint(io_parse_pattern("1x"), ==, -1);
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    g_test_trap_assert_stdout("256 is not a valid pattern byte\n"
                              "1x is not a valid pattern byte\n");
}

static void test_commands(void)
{
    const IoCommand *ct = io_find_command("r");

    g_assert_nonnull(ct);
    g_assert_cmpstr(ct->name, ==, "read");
    g_assert_null(io_find_command("rea"));
    /* "help" lists the table in order: it must stay sorted. */
    for (int i = 1; i < io_command_count(); i++) {
        g_assert_cmpint(
            strcmp(io_command_get(i - 1)->name, io_command_get(i)->name), <, 0);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qemu-io/split", test_split);
    g_test_add_func("/qemu-io/cvtstr", test_cvtstr);
    g_test_add_func("/qemu-io/cvtnum", test_cvtnum);
    g_test_add_func("/qemu-io/report-formats", test_report_formats);
    g_test_add_func("/qemu-io/dump", test_dump);
    g_test_add_func("/qemu-io/pattern", test_pattern);
    g_test_add_func("/qemu-io/commands", test_commands);
    return g_test_run();
}
