/*
 * qemu-storage-daemon: block nodes, exports and a QMP monitor without a
 * virtual machine.
 *
 * So far only --help and --version work.  Every other option of QEMU 7.2's
 * daemon is in the table, so that getopt's abbreviations and messages match
 * QEMU's, and is rejected as not supported yet rather than ignored.
 */
#include <getopt.h>
#include <glib.h>
#include <stdio.h>

#include "qx/util/error.h"
#include "qx/util/version.h"

/* Values of the long-only options: beyond any character. */
enum {
    OPT_BLOCKDEV = 256,
    OPT_CHARDEV,
    OPT_DAEMONIZE,
    OPT_EXPORT,
    OPT_MONITOR,
    OPT_NBD_SERVER,
    OPT_OBJECT,
    OPT_PIDFILE,
};

/* The leading '-' hands non-option arguments to the loop, in order. */
static const char short_options[] = "-hT:V";

static const struct option long_options[] = {
    {"blockdev", required_argument, NULL, OPT_BLOCKDEV},
    {"chardev", required_argument, NULL, OPT_CHARDEV},
    {"daemonize", no_argument, NULL, OPT_DAEMONIZE},
    {"export", required_argument, NULL, OPT_EXPORT},
    {"help", no_argument, NULL, 'h'},
    {"monitor", required_argument, NULL, OPT_MONITOR},
    {"nbd-server", required_argument, NULL, OPT_NBD_SERVER},
    {"object", required_argument, NULL, OPT_OBJECT},
    {"pidfile", required_argument, NULL, OPT_PIDFILE},
    {"trace", required_argument, NULL, 'T'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void print_usage(void)
{
    printf("Usage: qemu-storage-daemon [options]\n"
           "QEMU storage daemon\n"
           "\n"
           "  -h, --help             display this help and exit\n"
           "  -V, --version          output version information and exit\n"
           "\n"
           "Block nodes, exports and monitors are not supported yet.\n");
}

int main(int argc, char **argv)
{
    g_autofree char *unsupported = NULL;
    int longindex = -1;
    int c;

    error_set_progname("qemu-storage-daemon");
    /* getopt prints its own messages, prefixed by argv[0] as QEMU's are. */
    while ((c = getopt_long(argc, argv, short_options, long_options,
                            &longindex)) != -1) {
        switch (c) {
        case 'h':
            print_usage();
            return 0;
        case 'V':
            printf("qemu-storage-daemon version %s\n%s", qx_version_string(),
                   qx_copyright());
            return 0;
        case '?':
            return 1;
        case 1:
            error_report("%s: Unexpected argument", optarg);
            return 1;
        default:
            /*
             * Report the first unsupported option only after the loop, so
             * that a later --help or --version still works.
             */
            if (!unsupported) {
                unsupported =
                    longindex >= 0
                        ? g_strdup_printf("--%s", long_options[longindex].name)
                        : g_strdup_printf("-%c", c);
            }
            break;
        }
        longindex = -1;
    }
    if (unsupported) {
        error_report("option '%s' is not supported yet", unsupported);
        return 1;
    }
    error_report("running the storage daemon is not supported yet");
    return 1;
}
