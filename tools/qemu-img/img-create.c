/*
 * qemu-img create [--object objectdef] [-q] [-f fmt]
 *                 [-b backing_file [-F backing_fmt]] [-u] [-o options]
 *                 filename [size]
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "img-common.h"
#include "qx/util/opts.h"

enum {
    OPTION_OBJECT = 256,
};

int img_create(ImgContext *ctx, int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPTION_OBJECT},
        {NULL, 0, NULL, 0},
    };
    BlockImgCreateParams p = {.fmt = "raw", .img_size = -1};
    g_autofree char *options = NULL;
    Error *err = NULL;
    int c;

    while ((c = getopt_long(argc, argv, ":F:b:f:ho:qu", long_options,
                            NULL)) != -1) {
        switch (c) {
        case ':':
            img_missing_argument(argv[optind - 1]);
        case '?':
            img_unrecognized_option(argv[optind - 1]);
        case 'h':
            img_help();
        case 'F':
            p.base_fmt = optarg;
            break;
        case 'b':
            p.base_filename = optarg;
            break;
        case 'f':
            p.fmt = optarg;
            break;
        case 'o':
            if (!img_accumulate_options(&options, optarg)) {
                return 1;
            }
            break;
        case 'q':
            p.quiet = true;
            break;
        case 'u':
            p.no_backing_open = true;
            break;
        case OPTION_OBJECT:
            img_add_object(ctx, optarg);
            break;
        }
    }

    p.filename = optind < argc ? argv[optind] : NULL;
    if (options && img_options_ask_help(options)) {
        return img_print_create_option_help(p.filename, p.fmt);
    }
    if (optind >= argc) {
        img_error_exit("Expecting image file name");
    }
    optind++;
    if (optind < argc) {
        p.img_size = img_cvtnum_size(argv[optind++]);
        if (p.img_size < 0) {
            return 1;
        }
    }
    if (optind != argc) {
        img_error_exit("Unexpected argument: %s", argv[optind]);
    }

    p.options = options;
    if (!block_img_create(ctx->graph, &p, &err)) {
        error_prepend(&err, "%s: ", p.filename);
        error_report_err(err);
        return 1;
    }
    return 0;
}
