/*
 * qemu-img: usage errors, image opening and size arguments shared by the
 * commands.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img-common.h"
#include "qx/util/cutils.h"
#include "qx/util/object-opts.h"
#include "qx/util/opts.h"

void img_error_exit(const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_report("%s", msg);
    g_free(msg);
    fprintf(stderr, "Try 'qemu-img --help' for more information\n");
    exit(EXIT_FAILURE);
}

void img_unrecognized_option(const char *option)
{
    img_error_exit("unrecognized option '%s'", option);
}

void img_missing_argument(const char *option)
{
    img_error_exit("missing argument for option '%s'", option);
}

/*
 * QEMU refuses an empty list, one that starts with a comma, and one that
 * ends in an odd number of commas (an unfinished ",," escape).
 */
static bool is_valid_option_list(const char *list)
{
    size_t len = strlen(list);
    size_t trailing = 0;

    if (list[0] == '\0' || list[0] == ',') {
        return false;
    }
    while (trailing < len && list[len - 1 - trailing] == ',') {
        trailing++;
    }
    return trailing % 2 == 0;
}

bool img_accumulate_options(char **options, const char *optarg)
{
    if (!is_valid_option_list(optarg)) {
        error_report("Invalid option list: %s", optarg);
        return false;
    }
    if (!*options) {
        *options = g_strdup(optarg);
    } else {
        char *joined = g_strdup_printf("%s,%s", *options, optarg);
        g_free(*options);
        *options = joined;
    }
    return true;
}

int64_t img_cvtnum_size(const char *str)
{
    Error *err = NULL;
    int64_t value;

    if (!qx_parse_size_named("image size", str, 0, INT64_MAX, &value,
                             &err)) {
        error_report_err(err);
        return -1;
    }
    return value;
}

static BlockBackend *open_or_report(ImgContext *ctx, const char *filename,
                                    const char *display, json_object *opts,
                                    unsigned flags, bool writethrough)
{
    Error *err = NULL;
    BlockBackend *blk = blk_new_open(ctx->graph, filename, opts, flags, &err);

    if (!blk) {
        error_prepend(&err, "Could not open '%s': ", display);
        error_report_err(err);
        return NULL;
    }
    blk_set_enable_write_cache(blk, !writethrough);
    return blk;
}

BlockBackend *img_open(ImgContext *ctx, bool image_opts, const char *filename,
                       const char *fmt, unsigned flags, const char *cache,
                       bool force_share)
{
    BlockCacheMode mode = {0};
    json_object *opts;

    if (cache) {
        Error *err = NULL;
        if (!block_cache_mode_parse(cache, &mode, &err)) {
            error_free(err);
            error_report("Invalid cache option: %s", cache);
            return NULL;
        }
    }

    if (image_opts) {
        Error *err = NULL;
        json_object *val;

        /* QemuOpts text; a bare first value names a node ("file"). */
        opts = qx_opts_parse(filename, QX_OPTS_FLAT, "file", NULL, &err);
        if (!opts) {
            error_report_err(err);
            return NULL;
        }
        if (force_share) {
            bool fs = true;
            if (json_object_object_get_ex(opts, "force-share", &val) &&
                (!qx_parse_bool(json_object_get_string(val), &fs) || !fs)) {
                error_report("--force-share/-U conflicts with image options");
                json_object_put(opts);
                return NULL;
            }
            json_object_object_add(opts, "force-share",
                                   json_object_new_boolean(true));
        }
        if (cache) {
            block_cache_mode_to_options(&mode, opts);
        }
        return open_or_report(ctx, NULL, filename, opts, flags,
                              mode.writethrough);
    }

    opts = json_object_new_object();
    if (fmt) {
        json_object_object_add(opts, "driver", json_object_new_string(fmt));
    }
    if (force_share) {
        json_object_object_add(opts, "force-share",
                               json_object_new_boolean(true));
    }
    if (cache) {
        block_cache_mode_to_options(&mode, opts);
    }
    return open_or_report(ctx, filename, filename, opts, flags,
                          mode.writethrough);
}

void img_add_object(ImgContext *ctx, const char *arg)
{
    Error *err = NULL;
    bool help = false;

    if (!qx_objects_add(ctx->objects, arg, &help, &err)) {
        error_report_err(err);
        exit(1);
    }
    if (help) {
        printf("%s", qx_objects_help());
        exit(0);
    }
}

/* "-o help": QEMU's print_block_option_help (used by create and convert). */

bool img_options_ask_help(const char *options)
{
    bool help = false;
    json_object *dict = qx_opts_parse(options, QX_OPTS_FLAT, NULL, &help,
                                      NULL);

    if (dict) {
        json_object_put(dict);
    }
    return help;
}

int img_print_create_option_help(const char *filename, const char *fmt)
{
    const BlockDriver *drv = block_driver_find(fmt);
    BlockCreateOpts *opts;
    Error *err = NULL;
    GString *out;

    if (!drv) {
        error_report("Unknown file format '%s'", fmt);
        return 1;
    }
    if (!block_driver_get_create_opts(drv)) {
        error_report("Format driver '%s' does not support image creation",
                     fmt);
        return 1;
    }
    opts = block_create_opts_for(drv, filename, &err);
    if (!opts) {
        error_report_err(err);
        return 1;
    }
    out = g_string_new(NULL);
    if (filename) {
        g_string_append(out, "Supported options:\n");
    } else {
        g_string_append_printf(out, "Supported %s options:\n", fmt);
    }
    block_create_opts_format_help(opts, out);
    if (!filename) {
        g_string_append(out, "\nThe protocol level may support further "
                             "options.\nSpecify the target filename to "
                             "include those options.\n");
    }
    fputs(out->str, stdout);
    g_string_free(out, true);
    block_create_opts_free(opts);
    return 0;
}
