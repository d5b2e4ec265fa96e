/*
 * qemu-nbd: serve a disk image over NBD.
 *
 * So far only --help and --version work.  Every other option of QEMU 7.2's
 * qemu-nbd is in the table, so that getopt's abbreviations and messages
 * match QEMU's, and is rejected as not supported yet rather than ignored.
 */
#include <getopt.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

#include "qx/util/error.h"
#include "qx/util/version.h"

/* Values of the long-only options: beyond any character. */
enum {
    OPT_CACHE = 256,
    OPT_AIO,
    OPT_DISCARD,
    OPT_DETECT_ZEROES,
    OPT_OBJECT,
    OPT_TLSCREDS,
    OPT_TLSHOSTNAME,
    OPT_TLSAUTHZ,
    OPT_IMAGE_OPTS,
    OPT_FORK,
    OPT_PID_FILE,
    OPT_SELINUX_LABEL,
};

static const char short_options[] = "hVb:o:p:rsnc:dvk:e:f:tl:x:T:D:AB:L";

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"bind", required_argument, NULL, 'b'},
    {"port", required_argument, NULL, 'p'},
    {"socket", required_argument, NULL, 'k'},
    {"offset", required_argument, NULL, 'o'},
    {"read-only", no_argument, NULL, 'r'},
    {"allocation-depth", no_argument, NULL, 'A'},
    {"bitmap", required_argument, NULL, 'B'},
    {"connect", required_argument, NULL, 'c'},
    {"disconnect", no_argument, NULL, 'd'},
    {"list", no_argument, NULL, 'L'},
    {"snapshot", no_argument, NULL, 's'},
    {"load-snapshot", required_argument, NULL, 'l'},
    {"nocache", no_argument, NULL, 'n'},
    {"cache", required_argument, NULL, OPT_CACHE},
    {"aio", required_argument, NULL, OPT_AIO},
    {"discard", required_argument, NULL, OPT_DISCARD},
    {"detect-zeroes", required_argument, NULL, OPT_DETECT_ZEROES},
    {"shared", required_argument, NULL, 'e'},
    {"format", required_argument, NULL, 'f'},
    {"persistent", no_argument, NULL, 't'},
    {"verbose", no_argument, NULL, 'v'},
    {"object", required_argument, NULL, OPT_OBJECT},
    {"export-name", required_argument, NULL, 'x'},
    {"description", required_argument, NULL, 'D'},
    {"tls-creds", required_argument, NULL, OPT_TLSCREDS},
    {"tls-hostname", required_argument, NULL, OPT_TLSHOSTNAME},
    {"tls-authz", required_argument, NULL, OPT_TLSAUTHZ},
    {"image-opts", no_argument, NULL, OPT_IMAGE_OPTS},
    {"trace", required_argument, NULL, 'T'},
    {"fork", no_argument, NULL, OPT_FORK},
    {"pid-file", required_argument, NULL, OPT_PID_FILE},
    {"selinux-label", required_argument, NULL, OPT_SELINUX_LABEL},
    {NULL, 0, NULL, 0},
};

static void print_usage(void)
{
    printf("Usage: qemu-nbd [OPTIONS] FILE\n"
           "QEMU Disk Network Block Device Utility\n"
           "\n"
           "  -h, --help                display this help and exit\n"
           "  -V, --version             output version information and "
           "exit\n"
           "\n"
           "Exporting images is not supported yet.\n");
}

static void print_version(const char *argv0)
{
    /*
     * qemu-nbd's banner differs from the other tools': mirror its shape,
     * down to naming the program by argv[0].
     */
    printf("%s %s\n"
           "Written by the QX developers.\n"
           "\n"
           "%s"
           "This is free software; see the source for copying conditions.  "
           "There is NO\n"
           "warranty; not even for MERCHANTABILITY or FITNESS FOR A "
           "PARTICULAR PURPOSE.\n",
           argv0, qx_version_string(), qx_copyright());
}

int main(int argc, char **argv)
{
    g_autofree char *unsupported = NULL;
    int longindex = -1;
    int c;

    error_set_progname("qemu-nbd");
    /* getopt prints its own messages, prefixed by argv[0] as QEMU's are. */
    while ((c = getopt_long(argc, argv, short_options, long_options,
                            &longindex)) != -1) {
        switch (c) {
        case 'h':
            print_usage();
            return 0;
        case 'V':
            print_version(argv[0]);
            return 0;
        case '?':
            error_report("Try `%s --help' for more information.", argv[0]);
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
    if (argc - optind != 1) {
        error_report("Invalid number of arguments");
        fprintf(stderr, "Try `%s --help' for more information.\n", argv[0]);
        return 1;
    }
    error_report("exporting images is not supported yet");
    return 1;
}
