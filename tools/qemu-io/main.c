/*
 * qemu-io: run I/O commands against a disk image.
 *
 * So far only --help and --version work.  Every other option of QEMU 7.2's
 * qemu-io is in the table, so that getopt's abbreviations and messages
 * match QEMU's, and is rejected as not supported yet rather than ignored.
 */
#include <getopt.h>
#include <glib.h>
#include <stdio.h>

#include "qx/util/error.h"
#include "qx/util/version.h"

/* Values of the long-only options: beyond any character. */
enum {
    OPT_OBJECT = 256,
    OPT_IMAGE_OPTS,
};

static const char short_options[] = "hVc:d:f:rsnCmki:t:T:U";

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"cmd", required_argument, NULL, 'c'},
    {"format", required_argument, NULL, 'f'},
    {"read-only", no_argument, NULL, 'r'},
    {"snapshot", no_argument, NULL, 's'},
    {"nocache", no_argument, NULL, 'n'},
    {"misalign", no_argument, NULL, 'm'},
    {"native-aio", no_argument, NULL, 'k'},
    {"aio", required_argument, NULL, 'i'},
    {"discard", required_argument, NULL, 'd'},
    {"cache", required_argument, NULL, 't'},
    {"trace", required_argument, NULL, 'T'},
    {"object", required_argument, NULL, OPT_OBJECT},
    {"copy-on-read", no_argument, NULL, 'C'},
    {"image-opts", no_argument, NULL, OPT_IMAGE_OPTS},
    {"force-share", no_argument, NULL, 'U'},
    {NULL, 0, NULL, 0},
};

static void print_usage(void)
{
    printf("Usage: qemu-io [OPTIONS]... [-c STRING]... [file]\n"
           "QEMU Disk exerciser\n"
           "\n"
           "  -h, --help           display this help and exit\n"
           "  -V, --version        output version information and exit\n"
           "\n"
           "Opening images and running commands is not supported yet.\n");
}

int main(int argc, char **argv)
{
    g_autofree char *unsupported = NULL;
    int longindex = -1;
    int c;

    error_set_progname("qemu-io");
    /* getopt prints its own messages, prefixed by argv[0] as QEMU's are. */
    while ((c = getopt_long(argc, argv, short_options, long_options,
                            &longindex)) != -1) {
        switch (c) {
        case 'h':
            print_usage();
            return 0;
        case 'V':
            printf("qemu-io version %s\n%s", qx_version_string(),
                   qx_copyright());
            return 0;
        case '?':
            /* As QEMU's qemu-io: the whole usage, on stdout. */
            print_usage();
            return 1;
        default:
            /*
             * Report the first unsupported option only after the loop, so
             * that a later --help or --version still works as in QEMU.
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
    if (argc - optind > 1) {
        print_usage();
        return 1;
    }
    if (argc - optind == 1) {
        error_report("opening images is not supported yet");
    } else {
        error_report("interactive mode is not supported yet");
    }
    return 1;
}
