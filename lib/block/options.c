/*
 * Small option vocabularies of the block layer: cache modes, preallocation
 * modes, node names and the leftover-option check.
 */
#include <string.h>

#include "internal.h"
#include "qx/util/opts.h"

bool block_cache_mode_parse(const char *mode, BlockCacheMode *out,
                            Error **errp)
{
    BlockCacheMode m = {0};

    if (strcmp(mode, "none") == 0 || strcmp(mode, "off") == 0) {
        m.direct = true;
    } else if (strcmp(mode, "directsync") == 0) {
        m.direct = true;
        m.writethrough = true;
    } else if (strcmp(mode, "writeback") == 0) {
        /* the default */
    } else if (strcmp(mode, "unsafe") == 0) {
        m.no_flush = true;
    } else if (strcmp(mode, "writethrough") == 0) {
        m.writethrough = true;
    } else {
        error_setg(errp, "Invalid cache option: %s", mode);
        return false;
    }
    *out = m;
    return true;
}

void block_cache_mode_to_options(const BlockCacheMode *mode,
                                 json_object *flat_opts)
{
    /* Options the user spelled out (e.g. in json:) take precedence. */
    if (!json_object_object_get_ex(flat_opts, "cache.direct", NULL)) {
        json_object_object_add(flat_opts, "cache.direct",
                               json_object_new_boolean(mode->direct));
    }
    if (!json_object_object_get_ex(flat_opts, "cache.no-flush", NULL)) {
        json_object_object_add(flat_opts, "cache.no-flush",
                               json_object_new_boolean(mode->no_flush));
    }
}

static const char *const prealloc_names[] = {
    [BLOCK_PREALLOC_OFF] = "off",
    [BLOCK_PREALLOC_METADATA] = "metadata",
    [BLOCK_PREALLOC_FALLOC] = "falloc",
    [BLOCK_PREALLOC_FULL] = "full",
};

const char *block_prealloc_name(BlockPreallocMode mode)
{
    if ((unsigned)mode >= G_N_ELEMENTS(prealloc_names)) {
        return "?";
    }
    return prealloc_names[mode];
}

bool block_prealloc_parse(const char *str, BlockPreallocMode *out,
                          Error **errp)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(prealloc_names); i++) {
        if (strcmp(str, prealloc_names[i]) == 0) {
            *out = (BlockPreallocMode)i;
            return true;
        }
    }
    error_setg(errp, "invalid parameter value: %s", str);
    return false;
}

bool block_check_leftover_options(const BlockDriver *drv, json_object *opts,
                                  Error **errp)
{
    json_object_object_foreach(opts, key, val)
    {
        (void)val;
        if (drv->is_protocol) {
            error_setg(errp,
                       "Block protocol '%s' doesn't support the option '%s'",
                       drv->format_name, key);
        } else {
            error_setg(errp,
                       "Block format '%s' does not support the option '%s'",
                       drv->format_name, key);
        }
        return false;
    }
    return true;
}
