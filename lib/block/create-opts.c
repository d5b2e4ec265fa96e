/*
 * Creation options ("-o"): a merged list of driver option descriptions and
 * the values given for them, with QEMU's parsing errors, "Formatting" line
 * and "-o help" layout.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "qx/block/block-backend.h"
#include "qx/util/opts.h"

typedef struct CreateOptValue {
    const BlockOptDesc *desc;
    char *str;      /* text as given, NULL if unset */
    uint64_t num;   /* parsed size/number */
    bool bval;      /* parsed bool */
} CreateOptValue;

struct BlockCreateOpts {
    GArray *values; /* CreateOptValue, in description order */
};

BlockCreateOpts *block_create_opts_new(void)
{
    BlockCreateOpts *opts = g_new0(BlockCreateOpts, 1);

    opts->values = g_array_new(false, true, sizeof(CreateOptValue));
    return opts;
}

void block_create_opts_free(BlockCreateOpts *opts)
{
    if (!opts) {
        return;
    }
    for (guint i = 0; i < opts->values->len; i++) {
        g_free(g_array_index(opts->values, CreateOptValue, i).str);
    }
    g_array_free(opts->values, true);
    g_free(opts);
}

static CreateOptValue *find_value(const BlockCreateOpts *opts,
                                  const char *name)
{
    for (guint i = 0; i < opts->values->len; i++) {
        CreateOptValue *v = &g_array_index(opts->values, CreateOptValue, i);
        if (strcmp(v->desc->name, name) == 0) {
            return v;
        }
    }
    return NULL;
}

void block_create_opts_append_desc(BlockCreateOpts *opts,
                                   const BlockOptDesc *list)
{
    for (; list && list->name; list++) {
        if (!find_value(opts, list->name)) {
            CreateOptValue v = {.desc = list};
            g_array_append_val(opts->values, v);
        }
    }
}

bool block_create_opts_knows(const BlockCreateOpts *opts, const char *name)
{
    return find_value(opts, name) != NULL;
}

/*
 * Parses value by the option's type with QemuOpts' messages, which the
 * util layer's flat takes produce.
 */
static bool parse_value(CreateOptValue *v, const char *value, Error **errp)
{
    const char *name = v->desc->name;
    json_object *tmp;
    bool ok = true;

    if (v->desc->type == BLOCK_OPT_STRING) {
        return true;
    }
    tmp = json_object_new_object();
    json_object_object_add(tmp, name, json_object_new_string(value));
    switch (v->desc->type) {
    case BLOCK_OPT_BOOL:
        ok = qx_opts_take_bool(tmp, name, &v->bval, NULL, errp);
        break;
    case BLOCK_OPT_NUMBER:
        ok = qx_opts_take_flat_number(tmp, name, &v->num, NULL, errp);
        break;
    case BLOCK_OPT_SIZE:
        ok = qx_opts_take_flat_size(tmp, name, &v->num, NULL, errp);
        break;
    case BLOCK_OPT_STRING:
        break;
    }
    json_object_put(tmp);
    return ok;
}

bool block_create_opts_set(BlockCreateOpts *opts, const char *name,
                           const char *value, Error **errp)
{
    CreateOptValue *v = find_value(opts, name);
    CreateOptValue tmp;

    if (!v) {
        error_setg(errp, "Invalid parameter '%s'", name);
        return false;
    }
    tmp = *v;
    if (!parse_value(&tmp, value, errp)) {
        return false;
    }
    g_free(v->str);
    *v = tmp;
    v->str = g_strdup(value);
    return true;
}

bool block_create_opts_parse(BlockCreateOpts *opts, const char *text,
                             bool *help, Error **errp)
{
    bool want_help = false;
    json_object *dict;
    bool ok = true;

    dict = qx_opts_parse(text, QX_OPTS_FLAT, NULL, &want_help, errp);
    if (!dict) {
        return false;
    }
    if (help) {
        *help = want_help;
    }
    if (want_help) {
        json_object_put(dict);
        return true;
    }
    json_object_object_foreach(dict, key, val)
    {
        const char *s = json_object_get_string(val);
        if (!block_create_opts_set(opts, key, s ? s : "", errp)) {
            ok = false;
            break;
        }
    }
    json_object_put(dict);
    return ok;
}

bool block_create_opts_has(const BlockCreateOpts *opts, const char *name)
{
    CreateOptValue *v = find_value(opts, name);

    return v && v->str;
}

void block_create_opts_unset(BlockCreateOpts *opts, const char *name)
{
    CreateOptValue *v = find_value(opts, name);

    if (v) {
        g_clear_pointer(&v->str, g_free);
    }
}

const char *block_create_opts_get_str(const BlockCreateOpts *opts,
                                      const char *name, const char *def)
{
    CreateOptValue *v = find_value(opts, name);

    return v && v->str ? v->str : def;
}

bool block_create_opts_get_bool(const BlockCreateOpts *opts,
                                const char *name, bool def)
{
    CreateOptValue *v = find_value(opts, name);

    if (v && v->str && v->desc->type == BLOCK_OPT_BOOL) {
        return v->bval;
    }
    return def;
}

uint64_t block_create_opts_get_number(const BlockCreateOpts *opts,
                                      const char *name, uint64_t def)
{
    CreateOptValue *v = find_value(opts, name);

    if (v && v->str &&
        (v->desc->type == BLOCK_OPT_NUMBER ||
         v->desc->type == BLOCK_OPT_SIZE)) {
        return v->num;
    }
    return def;
}

uint64_t block_create_opts_get_size(const BlockCreateOpts *opts,
                                    const char *name, uint64_t def)
{
    return block_create_opts_get_number(opts, name, def);
}

char *block_create_opts_to_string(const BlockCreateOpts *opts)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < opts->values->len; i++) {
        CreateOptValue *v = &g_array_index(opts->values, CreateOptValue, i);
        const char *value = v->str ? v->str : v->desc->def_value_str;
        if (!value) {
            continue;
        }
        if (out->len) {
            g_string_append_c(out, ' ');
        }
        /* Sizes that were set print normalised to bytes. */
        if (v->str && v->desc->type == BLOCK_OPT_SIZE) {
            g_string_append_printf(out, "%s=%" G_GUINT64_FORMAT,
                                   v->desc->name, v->num);
        } else {
            g_string_append_printf(out, "%s=%s", v->desc->name, value);
        }
    }
    return g_string_free(out, false);
}

static const char *type_name(BlockOptType type)
{
    switch (type) {
    case BLOCK_OPT_STRING:
        return "str";
    case BLOCK_OPT_BOOL:
        return "bool (on/off)";
    case BLOCK_OPT_NUMBER:
        return "num";
    case BLOCK_OPT_SIZE:
        return "size";
    }
    return "?";
}

static gint compare_desc(gconstpointer a, gconstpointer b)
{
    const BlockOptDesc *da = *(const BlockOptDesc *const *)a;
    const BlockOptDesc *db = *(const BlockOptDesc *const *)b;

    return strcmp(da->name, db->name);
}

void block_create_opts_format_help(const BlockCreateOpts *opts, GString *out)
{
    GPtrArray *sorted = g_ptr_array_new();

    for (guint i = 0; i < opts->values->len; i++) {
        g_ptr_array_add(sorted, (gpointer)g_array_index(opts->values,
                                                        CreateOptValue, i)
                                    .desc);
    }
    g_ptr_array_sort(sorted, compare_desc);
    for (guint i = 0; i < sorted->len; i++) {
        const BlockOptDesc *d = g_ptr_array_index(sorted, i);
        g_autofree char *head =
            g_strdup_printf("%s=<%s>", d->name, type_name(d->type));
        if (d->help) {
            g_string_append_printf(out, "  %-22s - %s\n", head, d->help);
        } else {
            g_string_append_printf(out, "  %s\n", head);
        }
    }
    g_ptr_array_free(sorted, true);
}

/* ---- Creating ----------------------------------------------------------- */

const BlockOptDesc block_create_simple_opts[] = {
    {
        .name = "size",
        .type = BLOCK_OPT_SIZE,
        .help = "Virtual disk size",
    },
    {
        .name = "preallocation",
        .type = BLOCK_OPT_STRING,
        .help = "Preallocation mode (allowed values: off)",
    },
    {NULL},
};

int block_create_simple_co(BlockGraph *graph, const BlockDriver *drv,
                           const char *filename, BlockCreateOpts *opts,
                           Error **errp)
{
    uint64_t size = block_create_opts_get_size(opts, "size", 0);
    const char *prealloc = block_create_opts_get_str(opts, "preallocation",
                                                     "off");
    json_object *options;
    BlockBackend *blk;
    Error *local_err = NULL;
    int64_t len;
    int ret;

    if (strcmp(prealloc, "off") != 0) {
        error_setg(errp, "Unsupported preallocation mode '%s'", prealloc);
        return -ENOTSUP;
    }
    options = json_object_new_object();
    json_object_object_add(options, "driver",
                           json_object_new_string(drv->format_name));
    blk = blk_new_open(graph, filename, options,
                       BLOCK_OPEN_RDWR | BLOCK_OPEN_RESIZE | BLOCK_OPEN_QUIET,
                       &local_err);
    if (!blk) {
        error_prepend(&local_err,
                      "Protocol driver '%s' does not support image "
                      "creation, and opening the image failed: ",
                      drv->format_name);
        error_propagate(errp, local_err);
        return -EINVAL;
    }
    /* Grow if the object can; a fixed size that is big enough is fine. */
    ret = blk_truncate_co(blk, (int64_t)size, false, BLOCK_PREALLOC_OFF, 0,
                          &local_err);
    if (ret < 0 && ret != -ENOTSUP) {
        error_propagate(errp, local_err);
        goto out;
    }
    error_free_or_null(&local_err);
    len = blk_getlength(blk);
    ret = 0;
    if (len > 0) {
        /* Nothing may probe as a format from what was there before. */
        ret = blk_pwrite_zeroes_co(blk, 0, MIN(len, 512),
                                   BLOCK_REQ_MAY_UNMAP);
        if (ret < 0) {
            error_setg_errno(errp, -ret,
                             "Failed to clear the new image's first sector");
        }
    }
out:
    blk_unref(blk);
    return ret;
}

BlockCreateOpts *block_create_opts_for(const BlockDriver *drv,
                                       const char *filename, Error **errp)
{
    BlockCreateOpts *opts = block_create_opts_new();

    block_create_opts_append_desc(opts, drv->create_opts);
    if (filename && !drv->is_protocol) {
        const BlockDriver *proto = block_driver_find_protocol(filename, errp);
        if (!proto) {
            block_create_opts_free(opts);
            return NULL;
        }
        if (!proto->create_opts) {
            error_setg(errp,
                       "Protocol driver '%s' does not support image "
                       "creation",
                       proto->format_name);
            block_create_opts_free(opts);
            return NULL;
        }
        block_create_opts_append_desc(opts, proto->create_opts);
    }
    return opts;
}

typedef struct CreateArgs {
    BlockGraph *graph;
    const BlockDriver *drv;
    const char *filename;
    BlockCreateOpts *opts;
    Error *err;
    int ret;
} CreateArgs;

static void create_entry(void *opaque)
{
    CreateArgs *a = opaque;

    a->ret = a->drv->create_co(a->graph, a->filename, a->opts, &a->err);
}

int block_create(BlockGraph *graph, const BlockDriver *drv,
                 const char *filename, BlockCreateOpts *opts, Error **errp)
{
    CreateArgs a = {graph, drv, filename, opts, NULL, 0};

    if (!drv->create_co) {
        error_setg(errp, "Driver '%s' does not support image creation",
                   drv->format_name);
        return -ENOTSUP;
    }
    qx_co_run(graph->loop, create_entry, &a);
    if (a.ret < 0) {
        if (!a.err) {
            error_setg_errno(&a.err, -a.ret, "Could not create image");
        }
        error_propagate(errp, a.err);
    } else {
        error_free_or_null(&a.err);
    }
    return a.ret;
}

int block_create_file(BlockGraph *graph, const char *filename,
                      BlockCreateOpts *opts, Error **errp)
{
    const BlockDriver *proto = block_driver_find_protocol(filename, errp);

    if (!proto) {
        return -EINVAL;
    }
    if (!proto->create_co) {
        error_setg(errp,
                   "Protocol driver '%s' does not support image creation",
                   proto->format_name);
        return -ENOTSUP;
    }
    return block_create(graph, proto, filename, opts, errp);
}
