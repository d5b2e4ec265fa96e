/*
 * libFuzzer target for qemu-io's command lines: splitting, command lookup,
 * argument counts, each command's option and number parsing, and the I/O
 * that follows, against a 1 MiB null-co image (reads return zeroes).  The
 * input is a script, one command per line.  The session is sandboxed:
 * commands that would end or stall the process or open host files refuse.
 *
 * The fuzz configuration builds no tools, so qemu-io's command files are
 * compiled into this target directly.
 */
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/qemu-io/io-cmds.c"
#include "../../tools/qemu-io/io-misc.c"
#include "../../tools/qemu-io/io-open.c"
#include "../../tools/qemu-io/io-pattern.c"
#include "../../tools/qemu-io/io-rw.c"
#include "../../tools/qemu-io/io-stats.c"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "invariant failed: %s\n", #cond);                  \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define MAX_LINES 32
/* Bytes all size arguments of one line may add up to (buffers). */
#define MAX_LINE_BYTES (4 << 20)

static QxLoop *loop;
static BlockGraph *graph;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* Results go to stdout; only libFuzzer's own reports matter. */
    if (!freopen("/dev/null", "w", stdout)) {
        abort();
    }
    error_set_progname("qemu-io");
    loop = qx_loop_new(&error_abort);
    graph = block_graph_new(loop, &error_abort);
    return 0;
}

/* Splitting invariants: no empty words, no spaces, nothing lost. */
static void check_split(const char *line, char **argv, int argc)
{
    size_t chars = 0, spaceless = 0;

    for (int i = 0; i < argc; i++) {
        CHECK(argv[i][0] != '\0');
        CHECK(!strchr(argv[i], ' '));
        chars += strlen(argv[i]);
    }
    CHECK(argv[argc] == NULL);
    for (const char *p = line; *p; p++) {
        spaceless += *p != ' ';
    }
    CHECK(chars == spaceless);
}

/* Lines whose sizes would make large buffers are skipped (memory limit). */
static bool line_is_small(char **argv, int argc)
{
    int64_t sum = 0;

    for (int i = 1; i < argc; i++) {
        int64_t v = io_cvtnum(argv[i]);
        if (v > MAX_LINE_BYTES || (v > 0 && (sum += v) > MAX_LINE_BYTES)) {
            return false;
        }
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = g_strndup((const char *)data, size);
    g_auto(GStrv) lines = g_strsplit(text, "\n", MAX_LINES + 1);
    IoState s = {.loop = loop, .graph = graph, .sandboxed = true};
    IoOpenParams p;
    json_object *opts = json_object_new_object();

    io_open_params_init(&p);
    json_object_object_add(opts, "driver", json_object_new_string("null-co"));
    json_object_object_add(opts, "size", json_object_new_string("1M"));
    json_object_object_add(opts, "read-zeroes", json_object_new_string("on"));
    CHECK(io_open_image(&s, NULL, opts, &p) == 0);

    for (int i = 0; lines[i] && i < MAX_LINES && !s.quit; i++) {
        int argc;
        char **argv = io_split_line(lines[i], &argc);
        bool small;

        check_split(lines[i], argv, argc);
        small = line_is_small(argv, argc);
        g_strfreev(argv);
        if (small) {
            (void)io_command_run(&s, lines[i]);
        }
    }
    if (s.blk) {
        blk_drain(s.blk);
    }
    io_close_image(&s);
    return 0;
}
