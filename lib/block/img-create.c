/*
 * The "create an image" operation behind qemu-img create, with QEMU's
 * ordering of checks and its messages.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "qx/block/block-backend.h"

/*
 * Opens the backing file to learn its size (and check it exists), as
 * QEMU does when no size was given.  Returns the size or -1 with errp.
 */
static int64_t backing_size(BlockGraph *graph, const char *filename,
                            const char *backing_file, const char *backing_fmt,
                            char **detected_fmt, Error **errp)
{
    g_autofree char *path = NULL;
    json_object *opts = json_object_new_object();
    BlockBackend *blk;
    int64_t size;

    if (!g_path_is_absolute(backing_file) && !strstr(backing_file, "://")) {
        g_autofree char *dir = g_path_get_dirname(filename);
        path = strcmp(dir, ".") == 0
                   ? g_strdup(backing_file)
                   : g_build_filename(dir, backing_file, NULL);
    } else {
        path = g_strdup(backing_file);
    }
    if (backing_fmt) {
        json_object_object_add(opts, "driver",
                               json_object_new_string(backing_fmt));
    }
    blk = blk_new_open(graph, path, opts,
                       BLOCK_OPEN_NO_BACKING | BLOCK_OPEN_NO_IO |
                           BLOCK_OPEN_QUIET,
                       errp);
    if (!blk) {
        error_append_hint(errp, "Could not open backing image.\n");
        return -1;
    }
    size = blk_getlength(blk);
    if (detected_fmt) {
        *detected_fmt = g_strdup(block_node_get_format(blk_node(blk)));
    }
    blk_unref(blk);
    if (size < 0) {
        error_setg_errno(errp, (int)-size, "Could not get size of '%s'",
                         backing_file);
        return -1;
    }
    return size;
}

static bool apply_backing(BlockGraph *graph, const BlockImgCreateParams *p,
                          const BlockDriver *drv, BlockCreateOpts *opts,
                          Error **errp)
{
    const char *backing_file;
    const char *backing_fmt;

    if (p->base_filename) {
        if (!block_create_opts_knows(opts, BLOCK_OPT_BACKING_FILE) ||
            !block_create_opts_set(opts, BLOCK_OPT_BACKING_FILE,
                                   p->base_filename, NULL)) {
            error_setg(errp,
                       "Backing file not supported for file format '%s'",
                       drv->format_name);
            return false;
        }
    }
    if (p->base_fmt) {
        if (!block_create_opts_knows(opts, BLOCK_OPT_BACKING_FMT) ||
            !block_create_opts_set(opts, BLOCK_OPT_BACKING_FMT, p->base_fmt,
                                   NULL)) {
            error_setg(errp,
                       "Backing file format not supported for file format "
                       "'%s'",
                       drv->format_name);
            return false;
        }
    }

    backing_file = block_create_opts_get_str(opts, BLOCK_OPT_BACKING_FILE,
                                             NULL);
    if (!backing_file) {
        return true;
    }
    if (strcmp(backing_file, p->filename) == 0) {
        error_setg(errp, "Error: Trying to create an image with the same "
                         "filename as the backing file");
        return false;
    }
    if (backing_file[0] == '\0') {
        error_setg(errp, "Expected backing file name, got empty string");
        return false;
    }
    backing_fmt = block_create_opts_get_str(opts, BLOCK_OPT_BACKING_FMT, NULL);

    if (!p->no_backing_open) {
        /* Learn the size (if needed) and check the backing file opens. */
        g_autofree char *detected = NULL;
        int64_t size = backing_size(graph, p->filename, backing_file,
                                    backing_fmt, &detected, errp);
        if (size < 0) {
            return false;
        }
        if (!backing_fmt) {
            error_setg(errp, "Backing file specified without backing format");
            /* QEMU 7.2 prints this hint without a final newline. */
            error_append_hint(errp, "Detected format of %s.", detected);
            return false;
        }
        if (!block_create_opts_has(opts, BLOCK_OPT_SIZE_NAME)) {
            g_autofree char *s =
                g_strdup_printf("%" PRId64, size);
            block_create_opts_set(opts, BLOCK_OPT_SIZE_NAME, s, NULL);
        }
    } else if (!backing_fmt) {
        error_setg(errp, "Backing file specified without backing format");
        return false;
    }
    return true;
}

bool block_img_create(BlockGraph *graph, const BlockImgCreateParams *p,
                      Error **errp)
{
    const BlockDriver *drv;
    BlockCreateOpts *opts;
    bool ok = false;
    int ret;

    drv = block_driver_find(p->fmt);
    if (!drv) {
        error_setg(errp, "Unknown file format '%s'", p->fmt);
        return false;
    }
    if (!drv->create_opts) {
        error_setg(errp, "Format driver '%s' does not support image creation",
                   drv->format_name);
        return false;
    }
    opts = block_create_opts_for(drv, p->filename, errp);
    if (!opts) {
        return false;
    }
    if (p->options) {
        bool help = false;
        if (!block_create_opts_parse(opts, p->options, &help, errp)) {
            goto out;
        }
    }
    if (!block_create_opts_has(opts, BLOCK_OPT_SIZE_NAME)) {
        if (p->img_size >= 0) {
            g_autofree char *s = g_strdup_printf("%" PRId64, p->img_size);
            block_create_opts_set(opts, BLOCK_OPT_SIZE_NAME, s, NULL);
        }
    } else if (p->img_size >= 0) {
        error_setg(errp, "The image size must be specified only once");
        goto out;
    }
    if (!apply_backing(graph, p, drv, opts, errp)) {
        goto out;
    }
    if (!block_create_opts_has(opts, BLOCK_OPT_SIZE_NAME)) {
        error_setg(errp, "Image creation needs a size parameter");
        goto out;
    }
    if (!p->quiet) {
        g_autofree char *line = block_create_opts_to_string(opts);
        printf("Formatting '%s', fmt=%s %s\n", p->filename, p->fmt, line);
        fflush(stdout);
    }
    Error *local_err = NULL;
    ret = block_create(graph, drv, p->filename, opts, &local_err);
    if (ret == -EFBIG) {
        /*
         * QEMU replaces the driver's message: "too large" is what the
         * user needs to hear, with a hint if a cluster size was chosen.
         */
        const char *hint =
            block_create_opts_get_size(opts, BLOCK_OPT_CLUSTER_SIZE, 0) &&
                    block_create_opts_has(opts, BLOCK_OPT_CLUSTER_SIZE)
                ? " (try using a larger cluster size)"
                : "";
        error_free_or_null(&local_err);
        error_setg(&local_err,
                   "The image size is too large for file format '%s'%s",
                   p->fmt, hint);
    }
    error_propagate(errp, local_err);
    ok = ret >= 0;
out:
    block_create_opts_free(opts);
    return ok;
}
