/*
 * qemu-img resize [--object objectdef] [--image-opts] [-f fmt]
 *                 [--preallocation=prealloc] [-q] [--shrink]
 *                 filename [+ | -]size
 *
 * The size is always the last argument and is taken out before option
 * parsing, so "-1G" is a size and not an option.  Shrinking needs
 * --shrink; preallocation only applies when growing.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "img-common.h"

enum {
    OPTION_OBJECT = 256,
    OPTION_IMAGE_OPTS,
    OPTION_PREALLOCATION,
    OPTION_SHRINK,
};

static const BlockOptDesc resize_size_desc[] = {
    {.name = BLOCK_OPT_SIZE_NAME, .type = BLOCK_OPT_SIZE,
     .help = "Virtual disk size"},
    {NULL},
};

/* QEMU's PreallocMode names; false if str is none of them. */
static bool resize_parse_prealloc(const char *str, BlockPreallocMode *out)
{
    static const struct {
        const char *name;
        BlockPreallocMode mode;
    } modes[] = {
        {"off", BLOCK_PREALLOC_OFF},
        {"metadata", BLOCK_PREALLOC_METADATA},
        {"falloc", BLOCK_PREALLOC_FALLOC},
        {"full", BLOCK_PREALLOC_FULL},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        if (strcmp(str, modes[i].name) == 0) {
            *out = modes[i].mode;
            return true;
        }
    }
    return false;
}

/* Parses the size as a QemuOpts "size" value (QEMU's messages). */
static bool resize_parse_size(const char *str, uint64_t *out)
{
    BlockCreateOpts *opts = block_create_opts_new();
    Error *err = NULL;
    bool ok;

    block_create_opts_append_desc(opts, resize_size_desc);
    ok = block_create_opts_set(opts, BLOCK_OPT_SIZE_NAME, str, &err);
    if (ok) {
        *out = block_create_opts_get_size(opts, BLOCK_OPT_SIZE_NAME, 0);
    } else {
        error_report_err(err);
    }
    block_create_opts_free(opts);
    return ok;
}

int img_resize(ImgContext *ctx, int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPTION_OBJECT},
        {"image-opts", no_argument, NULL, OPTION_IMAGE_OPTS},
        {"preallocation", required_argument, NULL, OPTION_PREALLOCATION},
        {"shrink", no_argument, NULL, OPTION_SHRINK},
        {NULL, 0, NULL, 0},
    };
    BlockPreallocMode prealloc = BLOCK_PREALLOC_OFF;
    const char *fmt = NULL;
    const char *filename;
    const char *size;
    bool image_opts = false;
    bool quiet = false;
    bool shrink = false;
    BlockBackend *blk;
    Error *err = NULL;
    int64_t current;
    int64_t total;
    uint64_t n;
    int relative = 0;
    int ret = 1;
    int c;

    if (argc < 3) {
        img_error_exit("Not enough arguments");
    }
    size = argv[--argc];

    while ((c = getopt_long(argc, argv, ":f:hq", long_options, NULL)) !=
           -1) {
        switch (c) {
        case ':':
            img_missing_argument(argv[optind - 1]);
        case '?':
            img_unrecognized_option(argv[optind - 1]);
        case 'h':
            img_help();
        case 'f':
            fmt = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case OPTION_OBJECT:
            error_report("--object is not supported yet");
            return 1;
        case OPTION_IMAGE_OPTS:
            image_opts = true;
            break;
        case OPTION_PREALLOCATION:
            if (!resize_parse_prealloc(optarg, &prealloc)) {
                error_report("Invalid preallocation mode '%s'", optarg);
                return 1;
            }
            break;
        case OPTION_SHRINK:
            shrink = true;
            break;
        }
    }
    if (optind != argc - 1) {
        img_error_exit("Expecting image file name and size");
    }
    filename = argv[optind];

    if (size[0] == '+') {
        relative = 1;
        size++;
    } else if (size[0] == '-') {
        relative = -1;
        size++;
    }
    if (!resize_parse_size(size, &n)) {
        return 1;
    }
    if (image_opts && fmt) {
        error_report("--image-opts and --format are mutually exclusive");
        return 1;
    }

    blk = img_open(ctx, image_opts, filename, fmt,
                   BLOCK_OPEN_RDWR | BLOCK_OPEN_RESIZE, NULL, false);
    if (!blk) {
        return 1;
    }
    current = blk_getlength(blk);
    if (current < 0) {
        error_report("Failed to inquire current image length: %s",
                     strerror((int)-current));
        goto out;
    }
    if (relative) {
        /* Wraps like QEMU's arithmetic; a wrap fails the check below. */
        total = (int64_t)(relative > 0 ? (uint64_t)current + n
                                       : (uint64_t)current - n);
    } else {
        total = (int64_t)n;
    }
    if (total <= 0) {
        error_report("New image size must be positive");
        goto out;
    }
    if (total <= current && prealloc != BLOCK_PREALLOC_OFF) {
        error_report("Preallocation can only be used for growing images");
        goto out;
    }
    if (total < current && !shrink) {
        error_report("Use the --shrink option to perform a shrink "
                     "operation.");
        warn_report("Shrinking an image will delete all data beyond the "
                    "shrunken image's end. Before performing such an "
                    "operation, make sure there is no important data "
                    "there.");
        goto out;
    }
    /* exact: the user wants this very size, not "at least". */
    if (blk_truncate(blk, total, true, prealloc, 0, &err) < 0) {
        error_report_err(err);
        goto out;
    }
    if (!quiet) {
        printf("Image resized.\n");
    }
    ret = 0;

out:
    blk_unref(blk);
    return ret;
}
