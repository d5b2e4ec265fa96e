/*
 * qemu-img info [--object objectdef] [--image-opts] [-f fmt]
 *               [--output=ofmt] [--backing-chain] [-U] filename
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "img-common.h"
#include "qx/block/image-info.h"

enum {
    OPTION_OUTPUT = 256,
    OPTION_BACKING_CHAIN,
    OPTION_OBJECT,
    OPTION_IMAGE_OPTS,
};

/* Bound on --backing-chain walks, against loops the name check misses. */
#define MAX_CHAIN_LENGTH (1 << 20)

/*
 * Opens each image of the chain on its own (without its backing file, as
 * QEMU does) and collects its ImageInfo.  Returns a new array or NULL
 * after printing the error.
 */
static json_object *collect_infos(ImgContext *ctx, bool image_opts,
                                  const char *filename, const char *fmt,
                                  bool chain, bool force_share)
{
    json_object *list = json_object_new_array();
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                             NULL);
    g_autofree char *next_name = g_strdup(filename);
    g_autofree char *next_fmt = g_strdup(fmt);

    while (next_name) {
        BlockBackend *blk;
        json_object *info;
        json_object *val;
        Error *err = NULL;

        if (g_hash_table_contains(seen, next_name) ||
            json_object_array_length(list) >= MAX_CHAIN_LENGTH) {
            error_report("Backing file '%s' creates an infinite loop.",
                         next_name);
            goto fail;
        }
        g_hash_table_add(seen, g_strdup(next_name));
        blk = img_open(ctx, image_opts, next_name, next_fmt,
                       BLOCK_OPEN_NO_BACKING | BLOCK_OPEN_NO_IO |
                           BLOCK_OPEN_QUIET,
                       NULL, force_share);
        if (!blk) {
            goto fail;
        }
        info = block_query_image_info(blk_node(blk), &err);
        if (!info) {
            error_report_err(err);
            blk_unref(blk);
            goto fail;
        }
        json_object_array_add(list, info);
        g_clear_pointer(&next_name, g_free);
        g_clear_pointer(&next_fmt, g_free);
        if (chain) {
            if (json_object_object_get_ex(info, "full-backing-filename",
                                          &val)) {
                next_name = g_strdup(json_object_get_string(val));
            }
            if (json_object_object_get_ex(info, "backing-filename-format",
                                          &val)) {
                next_fmt = g_strdup(json_object_get_string(val));
            }
        }
        blk_unref(blk);
        /* Only the top image is given as options. */
        image_opts = false;
    }
    g_hash_table_destroy(seen);
    return list;

fail:
    g_hash_table_destroy(seen);
    json_object_put(list);
    return NULL;
}

int img_info(ImgContext *ctx, int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, OPTION_OUTPUT},
        {"backing-chain", no_argument, NULL, OPTION_BACKING_CHAIN},
        {"object", required_argument, NULL, OPTION_OBJECT},
        {"image-opts", no_argument, NULL, OPTION_IMAGE_OPTS},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL;
    const char *output = NULL;
    const char *filename;
    bool chain = false;
    bool image_opts = false;
    bool force_share = false;
    bool json = false;
    json_object *list;
    int c;

    while ((c = getopt_long(argc, argv, ":f:hU", long_options, NULL)) != -1) {
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
        case 'U':
            force_share = true;
            break;
        case OPTION_OUTPUT:
            output = optarg;
            break;
        case OPTION_BACKING_CHAIN:
            chain = true;
            break;
        case OPTION_OBJECT:
            img_add_object(ctx, optarg);
            break;
        case OPTION_IMAGE_OPTS:
            image_opts = true;
            break;
        }
    }
    if (optind != argc - 1) {
        img_error_exit("Expecting one image file name");
    }
    filename = argv[optind];

    if (output && strcmp(output, "json") == 0) {
        json = true;
    } else if (output && strcmp(output, "human") != 0) {
        error_report("--output must be used with human or json as "
                     "argument.");
        return 1;
    }
    if (image_opts && fmt) {
        error_report("--image-opts and --format are mutually exclusive");
        return 1;
    }

    list = collect_infos(ctx, image_opts, filename, fmt, chain, force_share);
    if (!list) {
        return 1;
    }
    if (json) {
        char *text = block_image_info_to_json(
            chain ? list : json_object_array_get_idx(list, 0));
        fputs(text, stdout);
        g_free(text);
    } else {
        GString *out = g_string_new(NULL);
        for (size_t i = 0; i < json_object_array_length(list); i++) {
            if (i > 0) {
                g_string_append_c(out, '\n');
            }
            block_image_info_format_human(json_object_array_get_idx(list, i),
                                          out);
        }
        fputs(out->str, stdout);
        g_string_free(out, true);
    }
    json_object_put(list);
    return 0;
}
