/*
 * qemu-img dd [--image-opts] [-U] [-f fmt] [-O output_fmt] [bs=block_size]
 *             [count=blocks] [skip=blocks] if=input of=output
 *
 * Copies (part of) an image into a new image, block by block, with dd(1)
 * operands.  Quirks kept from QEMU 7.2: count limits the input end
 * (count * bs), not the amount copied after skip; a skip beyond the input
 * prints an error yet creates an empty image and succeeds.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "img-common.h"
#include "qx/util/cutils.h"

enum {
    OPTION_OBJECT = 256,
    OPTION_IMAGE_OPTS,
};

typedef struct DdArgs {
    int64_t bsz;
    int64_t count;
    int64_t skip;
    bool has_count;
    bool has_skip;
    const char *in;
    const char *out;
} DdArgs;

/* Parses one "name=value" operand into a; prints QEMU's messages. */
static bool dd_parse_operand(const char *operand, DdArgs *a)
{
    g_autofree char *name = g_strdup(operand);
    char *value = strchr(name, '=');
    Error *err = NULL;
    bool ok = true;

    if (!value) {
        error_report("unrecognized operand %s", name);
        return false;
    }
    *value++ = '\0';
    if (strcmp(name, "bs") == 0) {
        ok = qx_parse_size_named("bs", value, 1, INT32_MAX, &a->bsz, &err);
    } else if (strcmp(name, "count") == 0) {
        ok = qx_parse_size_named("count", value, 0, INT64_MAX, &a->count,
                                 &err);
        a->has_count = true;
    } else if (strcmp(name, "skip") == 0) {
        ok = qx_parse_size_named("skip", value, 0, INT64_MAX, &a->skip,
                                 &err);
        a->has_skip = true;
    } else if (strcmp(name, "if") == 0) {
        a->in = operand + (value - name);
    } else if (strcmp(name, "of") == 0) {
        a->out = operand + (value - name);
    } else {
        error_report("unrecognized operand %s", name);
        return false;
    }
    if (!ok) {
        error_report_err(err);
    }
    return ok;
}

/* True if skip blocks of bsz bytes lie beyond size (or overflow). */
static bool dd_skip_beyond(const DdArgs *a, int64_t size)
{
    return a->has_skip &&
           (a->skip > INT64_MAX / a->bsz || size < a->skip * a->bsz);
}

int img_dd(ImgContext *ctx, int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPTION_OBJECT},
        {"image-opts", no_argument, NULL, OPTION_IMAGE_OPTS},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    DdArgs a = {.bsz = 512};
    const char *out_fmt = "raw";
    const char *fmt = NULL;
    bool image_opts = false;
    bool force_share = false;
    BlockBackend *blk1 = NULL;
    BlockBackend *blk2 = NULL;
    BlockCreateOpts *opts = NULL;
    const BlockDriver *drv;
    uint8_t *buf = NULL;
    Error *err = NULL;
    char size_str[32];
    int64_t size;
    int64_t in_pos;
    int64_t out_pos;
    int ret = 1;
    int c;

    while ((c = getopt_long(argc, argv, ":hf:O:U", long_options, NULL)) !=
           -1) {
        switch (c) {
        case ':':
            img_missing_argument(argv[optind - 1]);
        case '?':
            img_unrecognized_option(argv[optind - 1]);
        case 'h':
            img_help();
        case 'O':
            out_fmt = optarg;
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'U':
            force_share = true;
            break;
        case OPTION_OBJECT:
            error_report("--object is not supported yet");
            return 1;
        case OPTION_IMAGE_OPTS:
            image_opts = true;
            break;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (!dd_parse_operand(argv[i], &a)) {
            return 1;
        }
    }
    if (!a.in || !a.out) {
        error_report("Must specify both input and output files");
        return 1;
    }
    if (image_opts && fmt) {
        error_report("--image-opts and --format are mutually exclusive");
        return 1;
    }

    blk1 = img_open(ctx, image_opts, a.in, fmt, BLOCK_OPEN_QUIET, NULL,
                    force_share);
    if (!blk1) {
        goto out;
    }
    drv = block_driver_find(out_fmt);
    if (!drv) {
        error_report("Unknown file format");
        goto out;
    }
    if (!block_driver_get_create_opts(drv)) {
        error_report("Format driver '%s' does not support image creation",
                     out_fmt);
        goto out;
    }
    opts = block_create_opts_for(drv, a.out, &err);
    if (!opts) {
        error_report_err(err);
        goto out;
    }
    size = blk_getlength(blk1);
    if (size < 0) {
        error_report("Failed to get size for '%s'", a.in);
        goto out;
    }
    if (a.has_count && a.count <= INT64_MAX / a.bsz &&
        a.count * a.bsz < size) {
        size = a.count * a.bsz;
    }
    snprintf(size_str, sizeof(size_str), "%" PRId64,
             dd_skip_beyond(&a, size) ? 0 : size - a.bsz * a.skip);
    if (!block_create_opts_set(opts, BLOCK_OPT_SIZE_NAME, size_str, &err) ||
        block_create(ctx->graph, drv, a.out, opts, &err) < 0) {
        error_prepend(&err, "%s: error while creating output image: ",
                      a.out);
        error_report_err(err);
        goto out;
    }
    blk2 = img_open(ctx, false, a.out, out_fmt, BLOCK_OPEN_RDWR, NULL,
                    false);
    if (!blk2) {
        goto out;
    }

    if (dd_skip_beyond(&a, size)) {
        /* Like dd(1): an empty output, but say so. */
        error_report("%s: cannot skip to specified offset", a.in);
        in_pos = size;
    } else {
        in_pos = a.skip * a.bsz;
    }
    buf = blk_blockalign(blk1, a.bsz);
    for (out_pos = 0; in_pos < size;) {
        int64_t bytes = MIN(a.bsz, size - in_pos);
        int r = blk_pread(blk1, in_pos, bytes, buf, 0);

        if (r < 0) {
            error_report("error while reading from input image file: %s",
                         strerror(-r));
            goto out;
        }
        in_pos += bytes;
        r = blk_pwrite(blk2, out_pos, bytes, buf, 0);
        if (r < 0) {
            error_report("error while writing to output image file: %s",
                         strerror(-r));
            goto out;
        }
        out_pos += bytes;
    }
    ret = 0;

out:
    blk_vfree(buf);
    block_create_opts_free(opts);
    blk_unref(blk2);
    blk_unref(blk1);
    return ret;
}
