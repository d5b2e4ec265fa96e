/*
 * ImageInfo: what qemu-img info reports, as data and as QEMU's two text
 * forms.
 */
#include <string.h>

#include "internal.h"
#include "qx/block/image-info.h"
#include "qx/util/cutils.h"
#include "qx/util/json-out.h"

typedef struct InfoArgs {
    BlockNode *node;
    int64_t allocated;
} InfoArgs;

static void allocated_entry(void *opaque)
{
    InfoArgs *a = opaque;

    a->allocated = block_get_allocated_file_size_co(a->node);
}

/* The backing file name resolved against the image's directory. */
static char *full_backing_filename(BlockNode *node)
{
    const char *backing = node->backing_file;
    const char *base = node->exact_filename;

    if (g_path_is_absolute(backing) || strstr(backing, "://") || !base ||
        strstr(base, "://")) {
        return g_strdup(backing);
    }
    g_autofree char *dir = g_path_get_dirname(base);
    if (strcmp(dir, ".") == 0) {
        return g_strdup(backing);
    }
    return g_build_filename(dir, backing, NULL);
}

json_object *block_query_image_info(BlockNode *node, Error **errp)
{
    json_object *info = json_object_new_object();
    BlockDriverInfo bdi;
    InfoArgs a = {node, 0};

    json_object_object_add(info, "virtual-size",
                           json_object_new_int64(node->total_size));
    json_object_object_add(info, "filename",
                           json_object_new_string(
                               block_node_get_filename(node)));
    json_object_object_add(info, "format",
                           json_object_new_string(node->drv->format_name));

    qx_co_run(node->graph->loop, allocated_entry, &a);
    if (a.allocated >= 0) {
        json_object_object_add(info, "actual-size",
                               json_object_new_int64(a.allocated));
    }
    if (block_get_info(node, &bdi) == 0) {
        if (bdi.cluster_size != 0) {
            json_object_object_add(info, "cluster-size",
                                   json_object_new_int64(bdi.cluster_size));
        }
        json_object_object_add(info, "dirty-flag",
                               json_object_new_boolean(bdi.is_dirty));
    }
    if (node->backing_file) {
        g_autofree char *full = full_backing_filename(node);
        json_object_object_add(info, "backing-filename",
                               json_object_new_string(node->backing_file));
        json_object_object_add(info, "full-backing-filename",
                               json_object_new_string(full));
        if (node->backing_format) {
            json_object_object_add(
                info, "backing-filename-format",
                json_object_new_string(node->backing_format));
        }
    }
    if (node->drv->get_specific_info) {
        Error *local_err = NULL;
        json_object *spec = node->drv->get_specific_info(node, &local_err);
        if (local_err) {
            error_propagate(errp, local_err);
            json_object_put(info);
            return NULL;
        }
        if (spec) {
            json_object_object_add(info, "format-specific", spec);
        }
    }
    return info;
}

/* ---- Human form --------------------------------------------------------- */

static void dump_value(GString *out, json_object *val, int indent);

static void dump_scalar(GString *out, json_object *val)
{
    switch (json_object_get_type(val)) {
    case json_type_boolean:
        g_string_append(out, json_object_get_boolean(val) ? "true" : "false");
        break;
    case json_type_int:
        g_string_append_printf(out, "%" PRId64, json_object_get_int64(val));
        break;
    case json_type_double:
        g_string_append_printf(out, "%f", json_object_get_double(val));
        break;
    case json_type_string:
        g_string_append(out, json_object_get_string(val));
        break;
    default:
        g_string_append(out, "null");
        break;
    }
}

static bool is_container(json_object *val)
{
    return json_object_is_type(val, json_type_object) ||
           json_object_is_type(val, json_type_array);
}

/*
 * QEMU's generic dump: "key: value" per line, nested containers on their
 * own indented lines, list items as "[i]", '-' in keys shown as ' '.
 */
static void dump_value(GString *out, json_object *val, int indent)
{
    if (json_object_is_type(val, json_type_object)) {
        json_object_object_foreach(val, key, child)
        {
            g_autofree char *name = g_strdup(key);
            g_strdelimit(name, "-", ' ');
            g_string_append_printf(out, "%*s%s:", indent * 4, "", name);
            if (is_container(child)) {
                g_string_append_c(out, '\n');
                dump_value(out, child, indent + 1);
            } else {
                g_string_append_c(out, ' ');
                dump_scalar(out, child);
                g_string_append_c(out, '\n');
            }
        }
    } else if (json_object_is_type(val, json_type_array)) {
        size_t n = json_object_array_length(val);
        for (size_t i = 0; i < n; i++) {
            json_object *child = json_object_array_get_idx(val, i);
            g_string_append_printf(out, "%*s[%zu]:", indent * 4, "", i);
            if (is_container(child)) {
                g_string_append_c(out, '\n');
                dump_value(out, child, indent + 1);
            } else {
                g_string_append_c(out, ' ');
                dump_scalar(out, child);
                g_string_append_c(out, '\n');
            }
        }
    }
}

static const char *get_str(json_object *info, const char *key)
{
    json_object *val;

    if (!json_object_object_get_ex(info, key, &val)) {
        return NULL;
    }
    return json_object_get_string(val);
}

void block_image_info_format_human(json_object *info, GString *out)
{
    json_object *val;
    int64_t vsize = 0;

    if (json_object_object_get_ex(info, "virtual-size", &val)) {
        vsize = json_object_get_int64(val);
    }
    g_autofree char *vsize_str = qx_size_to_str((uint64_t)vsize);

    g_string_append_printf(out, "image: %s\n", get_str(info, "filename"));
    g_string_append_printf(out, "file format: %s\n", get_str(info, "format"));
    g_string_append_printf(out, "virtual size: %s (%" PRId64 " bytes)\n",
                           vsize_str, vsize);
    if (json_object_object_get_ex(info, "actual-size", &val)) {
        g_autofree char *s =
            qx_size_to_str((uint64_t)json_object_get_int64(val));
        g_string_append_printf(out, "disk size: %s\n", s);
    } else {
        g_string_append(out, "disk size: unavailable\n");
    }
    if (json_object_object_get_ex(info, "cluster-size", &val)) {
        g_string_append_printf(out, "cluster_size: %" PRId64 "\n",
                               json_object_get_int64(val));
    }
    if (json_object_object_get_ex(info, "encrypted", &val) &&
        json_object_get_boolean(val)) {
        g_string_append(out, "encrypted: yes\n");
    }
    if (json_object_object_get_ex(info, "dirty-flag", &val) &&
        json_object_get_boolean(val)) {
        g_string_append(out, "cleanly shut down: no\n");
    }
    const char *backing = get_str(info, "backing-filename");
    if (backing) {
        const char *full = get_str(info, "full-backing-filename");
        g_string_append_printf(out, "backing file: %s", backing);
        if (full && strcmp(full, backing) != 0) {
            g_string_append_printf(out, " (actual path: %s)", full);
        }
        g_string_append_c(out, '\n');
        const char *bfmt = get_str(info, "backing-filename-format");
        if (bfmt) {
            g_string_append_printf(out, "backing file format: %s\n", bfmt);
        }
    }
    if (json_object_object_get_ex(info, "format-specific", &val)) {
        json_object *data;
        g_string_append(out, "Format specific information:\n");
        if (json_object_object_get_ex(val, "data", &data)) {
            json_object *ordered = block_qdict_order(data);
            dump_value(out, ordered, 1);
            json_object_put(ordered);
        }
    }
}

char *block_image_info_to_json(json_object *info)
{
    json_object *ordered = block_qdict_order(info);
    char *text = qx_json_to_string(ordered, QX_JSON_PRETTY);
    char *out = g_strdup_printf("%s\n", text);

    g_free(text);
    json_object_put(ordered);
    return out;
}
