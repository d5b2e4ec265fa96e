/*
 * qemu-io: opening and closing the image a session works on, with
 * qemu-io's defaults (read-write, cache=writethrough, discard=unmap) and
 * QEMU's messages.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "qemu-io.h"
#include "qx/util/cutils.h"

void io_open_params_init(IoOpenParams *p)
{
    memset(p, 0, sizeof(*p));
    p->cache.writethrough = true;
    p->discard = "unmap";
}

bool io_parse_cache(const char *mode, IoOpenParams *p)
{
    if (!block_cache_mode_parse(mode, &p->cache, NULL)) {
        error_report("Invalid cache option: %s", mode);
        return false;
    }
    return true;
}

bool io_parse_discard(const char *mode, IoOpenParams *p)
{
    if (!strcmp(mode, "off") || !strcmp(mode, "ignore")) {
        p->discard = "ignore";
    } else if (!strcmp(mode, "on") || !strcmp(mode, "unmap")) {
        p->discard = "unmap";
    } else {
        error_report("Invalid discard option: %s", mode);
        return false;
    }
    return true;
}

bool io_parse_aio(const char *mode, IoOpenParams *p)
{
    if (strcmp(mode, "threads") && strcmp(mode, "native") &&
        strcmp(mode, "io_uring")) {
        error_report("Invalid aio option: %s", mode);
        return false;
    }
    p->aio = mode;
    return true;
}

static void set_default(json_object *opts, const char *key, json_object *val)
{
    if (json_object_object_get_ex(opts, key, NULL)) {
        json_object_put(val);
        return;
    }
    json_object_object_add(opts, key, val);
}

/*
 * aio= belongs to the protocol node: to the top node when the driver asked
 * for is a protocol, else to its "file" child.
 */
static const char *aio_key(json_object *opts)
{
    json_object *val;
    const BlockDriver *drv;

    if (json_object_object_get_ex(opts, "driver", &val)) {
        drv = block_driver_find(json_object_get_string(val));
        if (drv && block_driver_is_protocol(drv)) {
            return "aio";
        }
    }
    return "file.aio";
}

int io_open_image(IoState *s, const char *filename, json_object *opts,
                  const IoOpenParams *p)
{
    Error *err = NULL;
    BlockBackend *blk;
    unsigned flags = p->read_only ? 0 : BLOCK_OPEN_RDWR;

    if (s->blk) {
        error_report("file open already, try 'help close'");
        json_object_put(opts);
        return 1;
    }
    if (!opts) {
        opts = json_object_new_object();
    }
    if (p->force_share) {
        json_object *val;
        if (json_object_object_get_ex(opts, "force-share", &val) &&
            (!json_object_is_type(val, json_type_boolean) ||
             !json_object_get_boolean(val)) &&
            (!json_object_is_type(val, json_type_string) ||
             strcmp(json_object_get_string(val), "on") != 0)) {
            error_report("-U conflicts with image options");
            json_object_put(opts);
            return 1;
        }
        json_object_object_add(opts, "force-share",
                               json_object_new_boolean(true));
    }
    block_cache_mode_to_options(&p->cache, opts);
    set_default(opts, "discard", json_object_new_string(p->discard));
    if (p->aio) {
        const char *key = aio_key(opts);
        set_default(opts, key, json_object_new_string(p->aio));
    }

    /* blk_new_open takes the options it uses out of the dict: keep a copy. */
    s->open.opts = NULL;
    json_object_deep_copy(opts, &s->open.opts, NULL);
    blk = blk_new_open(s->graph, filename, opts, flags, &err);
    if (!blk) {
        json_object_put(s->open.opts);
        s->open.opts = NULL;
        error_prepend(&err, "can't open%s%s: ", filename ? " device " : "",
                      filename ? filename : "");
        error_report_err(err);
        return 1;
    }
    blk_set_enable_write_cache(blk, !p->cache.writethrough);
    s->blk = blk;
    s->open.filename = g_strdup(filename);
    s->open.flags = flags;
    s->open.writethrough = p->cache.writethrough;
    return 0;
}

void io_close_image(IoState *s)
{
    if (!s->blk) {
        return;
    }
    blk_unref(s->blk);
    s->blk = NULL;
    g_free(s->open.filename);
    s->open.filename = NULL;
    json_object_put(s->open.opts);
    s->open.opts = NULL;
}
