/*
 * qemu-img: disk image utility.  This file holds the global options, the
 * --help text and the command table; each command lives in img-<name>.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img-common.h"
#include "qx/util/object-opts.h"
#include "qx/util/version.h"

/*
 * The commands we implement, in QEMU's --help order.  Adding a command is
 * one file and one line here.
 */
static const ImgCommand img_commands[] = {
    {
        .name = "bench",
        .func = img_bench,
        .syntax = "[-c count] [-d depth] [-f fmt] "
                  "[--flush-interval=flush_interval] [-i aio] [-n] "
                  "[--no-drain] [-o offset] [--pattern=pattern] [-q] "
                  "[-s buffer_size] [-S step_size] [-t cache] [-w] [-U] "
                  "filename",
    },
    {
        .name = "check",
        .func = img_check,
        .syntax = "[--object objectdef] [--image-opts] [-q] [-f fmt] "
                  "[--output=ofmt] [-r [leaks | all]] [-T src_cache] [-U] "
                  "filename",
    },
    {
        .name = "compare",
        .func = img_compare,
        .syntax = "[--object objectdef] [--image-opts] [-f fmt] [-F fmt] "
                  "[-T src_cache] [-p] [-q] [-s] [-U] filename1 filename2",
        /* Its "Parameters to" block is printed with dd's (QEMU's order). */
    },
    {
        .name = "convert",
        .func = img_convert,
        .syntax = "[--object objectdef] [--image-opts] [--target-image-opts] "
                  "[--target-is-zero] [--bitmaps] [-U] [-C] [-c] [-p] [-q] "
                  "[-n] [-f fmt] [-t cache] [-T src_cache] [-O output_fmt] "
                  "[-B backing_file [-F backing_fmt]] [-o options] "
                  "[-l snapshot_param] [-S sparse_size] [-r rate_limit] "
                  "[-m num_coroutines] [-W] [--salvage] filename "
                  "[filename2 [...]] output_filename",
        .params_help =
            "Parameters to convert subcommand:\n"
            "  '--bitmaps' copies all top-level persistent bitmaps to "
            "destination\n"
            "  '-m' specifies how many coroutines work in parallel during "
            "the convert\n"
            "       process (defaults to 8)\n"
            "  '-W' allow to write to the target out of order rather than "
            "sequential\n",
    },
    {
        .name = "create",
        .func = img_create,
        .syntax = "[--object objectdef] [-q] [-f fmt] [-b backing_file "
                  "[-F backing_fmt]] [-u] [-o options] filename [size]",
    },
    {
        .name = "dd",
        .func = img_dd,
        .syntax = "[--image-opts] [-U] [-f fmt] [-O output_fmt] "
                  "[bs=block_size] [count=blocks] [skip=blocks] if=input "
                  "of=output",
        /* compare's block first: QEMU prints them in this order. */
        .params_help =
            "Parameters to compare subcommand:\n"
            "  '-f' first image format\n"
            "  '-F' second image format\n"
            "  '-s' run in Strict mode - fail on different image size or "
            "sector allocation\n"
            "\n"
            "Parameters to dd subcommand:\n"
            "  'bs=BYTES' read and write up to BYTES bytes at a time "
            "(default: 512)\n"
            "  'count=N' copy only N input blocks\n"
            "  'if=FILE' read from FILE\n"
            "  'of=FILE' write to FILE\n"
            "  'skip=N' skip N bs-sized blocks at the start of input\n",
    },
    {
        .name = "info",
        .func = img_info,
        .syntax = "[--object objectdef] [--image-opts] [-f fmt] "
                  "[--output=ofmt] [--backing-chain] [-U] filename",
    },
    {
        .name = "map",
        .func = img_map,
        .syntax = "[--object objectdef] [--image-opts] [-f fmt] "
                  "[--start-offset=offset] [--max-length=len] "
                  "[--output=ofmt] [-U] filename",
    },
    {
        .name = "measure",
        .func = img_measure,
        .syntax = "[--output=ofmt] [-O output_fmt] [-o options] [--size N | "
                  "[--object objectdef] [--image-opts] [-f fmt] "
                  "[-l snapshot_param] filename]",
    },
    {
        .name = "resize",
        .func = img_resize,
        .syntax = "[--object objectdef] [--image-opts] [-f fmt] "
                  "[--preallocation=prealloc] [-q] [--shrink] filename "
                  "[+ | -]size",
    },
};

static void print_version(void)
{
    printf("qemu-img version %s\n%s", qx_version_string(), qx_copyright());
}

void img_help(void)
{
    g_autofree char *formats = block_driver_list_names();

    print_version();
    printf("usage: qemu-img [standard options] command [command options]\n"
           "QEMU disk image utility\n"
           "\n"
           "    '-h', '--help'       display this help and exit\n"
           "    '-V', '--version'    output version information and exit\n"
           "    '-T', '--trace'      [[enable=]<pattern>][,events=<file>]"
           "[,file=<file>]\n"
           "                         specify tracing options\n"
           "\n"
           "Command syntax:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(img_commands); i++) {
        printf("  %s %s\n", img_commands[i].name, img_commands[i].syntax);
    }
    printf(
        "\n"
        "Command parameters:\n"
        "  'filename' is a disk image filename\n"
        "  'objectdef' is a QEMU user creatable object definition. See the "
        "qemu(1)\n"
        "    manual page for a description of the object properties. The "
        "most common\n"
        "    object type is a 'secret', which is used to supply passwords "
        "and/or\n"
        "    encryption keys.\n"
        "  'fmt' is the disk image format. It is guessed automatically in "
        "most cases\n"
        "  'cache' is the cache mode used to write the output disk image, "
        "the valid\n"
        "    options are: 'none', 'writeback' (default, except for convert), "
        "'writethrough',\n"
        "    'directsync' and 'unsafe' (default for convert)\n"
        "  'src_cache' is the cache mode used to read input disk images, the "
        "valid\n"
        "    options are the same as for the 'cache' option\n"
        "  'size' is the disk image size in bytes. Optional suffixes\n"
        "    'k' or 'K' (kilobyte, 1024), 'M' (megabyte, 1024k), 'G' "
        "(gigabyte, 1024M),\n"
        "    'T' (terabyte, 1024G), 'P' (petabyte, 1024T) and 'E' (exabyte, "
        "1024P)  are\n"
        "    supported. 'b' is ignored.\n"
        "  'output_filename' is the destination disk image filename\n"
        "  'output_fmt' is the destination format\n"
        "  'options' is a comma separated list of format specific options in "
        "a\n"
        "    name=value format. Use -o help for an overview of the options "
        "supported by\n"
        "    the used format\n"
        "  'snapshot_param' is param used for internal snapshot, format\n"
        "    is 'snapshot.id=[ID],snapshot.name=[NAME]', or\n"
        "    '[ID_OR_NAME]'\n"
        "  '-c' indicates that target image must be compressed (qcow format "
        "only)\n"
        "  '-u' allows unsafe backing chains. For rebasing, it is assumed "
        "that old and\n"
        "       new backing file match exactly. The image doesn't need a "
        "working\n"
        "       backing file before rebasing in this case (useful for "
        "renaming the\n"
        "       backing file). For image creation, allow creating without "
        "attempting\n"
        "       to open the backing file.\n"
        "  '-h' with or without a command shows this help and lists the "
        "supported formats\n"
        "  '-p' show progress of command (only certain commands)\n"
        "  '-q' use Quiet mode - do not print any output (except errors)\n"
        "  '-S' indicates the consecutive number of bytes (defaults to 4k) "
        "that must\n"
        "       contain only zeros for qemu-img to create a sparse image "
        "during\n"
        "       conversion. If the number of bytes is 0, the source will not "
        "be scanned for\n"
        "       unallocated or zero sectors, and the destination image will "
        "always be\n"
        "       fully allocated\n"
        "  '--output' takes the format in which the output must be done "
        "(human or json)\n"
        "  '-n' skips the target volume creation (useful if the volume is "
        "created\n"
        "       prior to running qemu-img)\n");
    for (size_t i = 0; i < G_N_ELEMENTS(img_commands); i++) {
        if (img_commands[i].params_help) {
            printf("\n%s", img_commands[i].params_help);
        }
    }
    printf("\nSupported formats: %s\n"
           "\n"
           "See <https://qemu.org/contribute/report-a-bug> for how to report "
           "bugs.\n"
           "More information on the QEMU project at <https://qemu.org>.\n",
           formats);
    exit(EXIT_SUCCESS);
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"trace", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    const char *cmdname;
    ImgContext ctx = {0};
    Error *err = NULL;
    int ret;
    int c;

    error_set_progname("qemu-img");
    if (argc < 2) {
        img_error_exit("Not enough arguments");
    }
    /* '+': stop at the command name; ':': report missing arguments. */
    while ((c = getopt_long(argc, argv, "+:hVT:", long_options, NULL)) !=
           -1) {
        switch (c) {
        case ':':
            img_missing_argument(argv[optind - 1]);
        case '?':
            img_unrecognized_option(argv[optind - 1]);
        case 'h':
            img_help();
        case 'V':
            print_version();
            return 0;
        case 'T':
            error_report("tracing is not supported");
            return 1;
        }
    }
    if (optind >= argc) {
        img_error_exit("Not enough arguments");
    }
    cmdname = argv[optind];

    for (size_t i = 0; i < G_N_ELEMENTS(img_commands); i++) {
        if (strcmp(cmdname, img_commands[i].name) != 0) {
            continue;
        }
        ctx.loop = qx_loop_new(&err);
        if (ctx.loop) {
            ctx.graph = block_graph_new(ctx.loop, &err);
        }
        ctx.objects = qx_objects_new();
        if (ctx.graph) {
            block_graph_set_objects(ctx.graph, ctx.objects);
        }
        if (!ctx.graph) {
            error_report_err(err);
            return 1;
        }
        /* The command parses its own options from its name on. */
        argc -= optind;
        argv += optind;
        optind = 0;
        ret = img_commands[i].func(&ctx, argc, argv);
        block_graph_free(ctx.graph);
        qx_objects_free(ctx.objects);
        qx_loop_free(ctx.loop);
        fflush(stdout);
        return ret;
    }
    img_error_exit("Command not found: %s", cmdname);
}
