/*
 * qemu-img measure [--output=ofmt] [-O output_fmt] [-o options]
 *                  [--size N | [--object objectdef] [--image-opts]
 *                  [-f fmt] [-l snapshot_param] filename]
 *
 * Prints the host size a new image of output_fmt needs, for a virtual
 * size or for the contents of an existing image.  The arithmetic lives in
 * lib/block/measure.c.  As in QEMU, a bad option prints the getopt
 * message and the whole help text (exit 0).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "img-common.h"
#include "qx/block/measure.h"
#include "qx/util/coroutine.h"
#include "qx/util/json-out.h"
#include "qx/util/opts.h"

enum {
    OPTION_OUTPUT = 256,
    OPTION_OBJECT,
    OPTION_IMAGE_OPTS,
    OPTION_SIZE,
};

typedef struct MeasureCall {
    const BlockDriver *drv;
    BlockCreateOpts *opts;
    BlockNode *in;
    BlockMeasureInfo info;
    Error *err;
    bool ok;
} MeasureCall;

static void measure_entry(void *opaque)
{
    MeasureCall *c = opaque;

    c->ok = block_measure_co(c->drv, c->opts, c->in, &c->info, &c->err);
}

static void measure_print(const BlockMeasureInfo *info, bool json)
{
    if (json) {
        json_object *obj = json_object_new_object();
        char *text;

        /* QEMU's dictionary order for these keys. */
        if (info->has_bitmaps) {
            json_object_object_add(obj, "bitmaps",
                                   json_object_new_uint64(info->bitmaps));
        }
        json_object_object_add(obj, "required",
                               json_object_new_uint64(info->required));
        json_object_object_add(obj, "fully-allocated",
                               json_object_new_uint64(info->fully_allocated));
        text = qx_json_to_string(obj, QX_JSON_PRETTY);
        printf("%s\n", text);
        g_free(text);
        json_object_put(obj);
        return;
    }
    printf("required size: %" PRIu64 "\n", info->required);
    printf("fully allocated size: %" PRIu64 "\n", info->fully_allocated);
    if (info->has_bitmaps) {
        printf("bitmaps size: %" PRIu64 "\n", info->bitmaps);
    }
}

int img_measure(ImgContext *ctx, int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"image-opts", no_argument, NULL, OPTION_IMAGE_OPTS},
        {"object", required_argument, NULL, OPTION_OBJECT},
        {"output", required_argument, NULL, OPTION_OUTPUT},
        {"size", required_argument, NULL, OPTION_SIZE},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *out_fmt = "raw";
    const char *fmt = NULL;
    const char *filename = NULL;
    const char *snapshot = NULL;
    g_autofree char *options = NULL;
    bool image_opts = false;
    bool force_share = false;
    bool json = false;
    int64_t img_size = -1;
    BlockBackend *in_blk = NULL;
    MeasureCall call = {0};
    Error *err = NULL;
    int ret = 1;
    int c;

    while ((c = getopt_long(argc, argv, "hf:O:o:l:U", long_options, NULL)) !=
           -1) {
        switch (c) {
        case '?':
        case 'h':
            img_help();
        case 'f':
            fmt = optarg;
            break;
        case 'O':
            out_fmt = optarg;
            break;
        case 'o':
            if (!img_accumulate_options(&options, optarg)) {
                return 1;
            }
            break;
        case 'l':
            if (strncmp(optarg, "snapshot.", 9) == 0) {
                json_object *sn = qx_opts_parse(optarg, QX_OPTS_FLAT, NULL,
                                                NULL, NULL);
                if (!sn) {
                    error_report("Failed in parsing snapshot param '%s'",
                                 optarg);
                    return 1;
                }
                json_object_put(sn);
            }
            snapshot = optarg;
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
        case OPTION_OUTPUT:
            if (strcmp(optarg, "json") == 0) {
                json = true;
            } else if (strcmp(optarg, "human") == 0) {
                json = false;
            } else {
                error_report("--output must be used with human or json as "
                             "argument.");
                return 1;
            }
            break;
        case OPTION_SIZE:
            img_size = img_cvtnum_size(optarg);
            if (img_size < 0) {
                return 1;
            }
            break;
        }
    }

    if (argc - optind > 1) {
        error_report("At most one filename argument is allowed.");
        return 1;
    } else if (argc - optind == 1) {
        filename = argv[optind];
    }
    if (!filename && (image_opts || fmt || snapshot)) {
        error_report("--image-opts, -f, and -l require a filename argument.");
        return 1;
    }
    if (filename && img_size >= 0) {
        error_report("--size N cannot be used together with a filename.");
        return 1;
    }
    if (!filename && img_size < 0) {
        error_report("Either --size N or one filename must be specified.");
        return 1;
    }

    if (filename) {
        if (image_opts && fmt) {
            error_report("--image-opts and --format are mutually exclusive");
            return 1;
        }
        in_blk = img_open(ctx, image_opts, filename, fmt, BLOCK_OPEN_QUIET,
                          NULL, force_share);
        if (!in_blk) {
            return 1;
        }
        if (snapshot) {
            img_report_snapshot_load(blk_node(in_blk));
            goto out;
        }
    }

    call.drv = block_driver_find(out_fmt);
    if (!call.drv) {
        error_report("Unknown file format '%s'", out_fmt);
        goto out;
    }
    if (!block_driver_get_create_opts(call.drv)) {
        error_report("Format driver '%s' does not support image creation",
                     out_fmt);
        goto out;
    }
    call.opts = block_create_opts_new();
    block_create_opts_append_desc(call.opts,
                                  block_driver_get_create_opts(call.drv));
    block_create_opts_append_desc(
        call.opts, block_driver_get_create_opts(block_driver_find("file")));
    if (options) {
        bool help = false;

        if (!block_create_opts_parse(call.opts, options, &help, &err)) {
            error_report_err(err);
            error_report("Invalid options for file format '%s'", out_fmt);
            goto out;
        }
    }
    if (img_size >= 0) {
        char size_str[32];

        snprintf(size_str, sizeof(size_str), "%" PRId64, img_size);
        if (!block_create_opts_set(call.opts, BLOCK_OPT_SIZE_NAME, size_str,
                                   &err)) {
            error_report_err(err);
            goto out;
        }
    }
    call.in = in_blk ? blk_node(in_blk) : NULL;
    qx_co_run(ctx->loop, measure_entry, &call);
    if (!call.ok) {
        error_report_err(call.err);
        goto out;
    }
    measure_print(&call.info, json);
    ret = 0;

out:
    block_create_opts_free(call.opts);
    blk_unref(in_blk);
    return ret;
}
