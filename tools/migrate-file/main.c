/*
 * qx-migrate-file: offline inspection of migration stream files (what
 * "migrate file:PATH" or "migrate exec:cat > PATH" wrote).
 *
 *   qx-migrate-file info FILE   summary of the stream
 *   qx-migrate-file dump FILE   every section and field
 *
 * Our own tool, shaped like qemu-img (command after the options, same
 * error texts).  So far only --help and --version work; the commands
 * report that they are not available yet.
 */
#include <getopt.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "qx/util/error.h"
#include "qx/util/version.h"

static const char *const commands[] = {"info", "dump"};

/* '+': the command ends option parsing; its own options follow it. */
static const char short_options[] = "+hV";

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void print_help(void)
{
    printf("Usage: qx-migrate-file [OPTIONS] COMMAND FILE\n"
           "QX migration stream file inspector\n"
           "\n"
           "Commands:\n"
           "  info FILE        summarise the stream: header, devices, RAM "
           "blocks\n"
           "  dump FILE        print every section of the stream and its "
           "fields\n"
           "\n"
           "Options:\n"
           "  -h, --help       display this help and exit\n"
           "  -V, --version    output version information and exit\n"
           "\n"
           "The commands are not available yet.\n");
}

/* Every usage error ends the same way, as in qemu-img. */
static int usage_error(void)
{
    fprintf(stderr, "Try 'qx-migrate-file --help' for more information\n");
    return 1;
}

int main(int argc, char **argv)
{
    const char *cmd;
    size_t i;
    int c;

    error_set_progname("qx-migrate-file");
    opterr = 0; /* our own messages, named after the tool, not argv[0] */
    while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) !=
           -1) {
        switch (c) {
        case 'h':
            print_help();
            return 0;
        case 'V':
            printf("qx-migrate-file version %s\n%s", qx_version_string(),
                   qx_copyright());
            return 0;
        default:
            /*
             * optopt names a bad short option; a bad long one (optopt 0,
             * or set for "--help=x") is the argument just consumed.
             */
            if (optopt && strncmp(argv[optind - 1], "--", 2) != 0) {
                error_report("invalid option -- '%c'", optopt);
            } else {
                error_report("unrecognized option '%s'", argv[optind - 1]);
            }
            return usage_error();
        }
    }
    if (optind >= argc) {
        error_report("Not enough arguments");
        return usage_error();
    }
    cmd = argv[optind];
    for (i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (!strcmp(cmd, commands[i])) {
            error_report("command '%s' is not available yet", cmd);
            return 1;
        }
    }
    error_report("Command not found: %s", cmd);
    return usage_error();
}
