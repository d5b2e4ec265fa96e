/*
 * qemu-img check, generic part: dispatch to the format's check and the
 * report lines every check prints.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "qcow2/qcow2-check.h"
#include "qcow2/qcow2-format.h"
#include "qx/block/check.h"
#include "qx/util/json-out.h"

void block_check_report(BlockCheckResult *res, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (res && res->log) {
        g_string_append_vprintf(res->log, fmt, ap);
        g_string_append_c(res->log, '\n');
    } else {
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    va_end(ap);
}

const char *block_check_open_driver(const char *fmt)
{
    if (fmt && strcmp(fmt, "qcow2") == 0 && !block_driver_find("qcow2")) {
        return "raw";
    }
    return fmt;
}

/*
 * While no qcow2 driver is registered, a qcow2 image opens as raw: such a
 * node is checked with the qcow2 checker on its file.
 */
static bool is_unregistered_qcow2(BlockNode *node)
{
    uint8_t magic[4];

    if (block_driver_find("qcow2") || !node->drv ||
        strcmp(node->drv->format_name, "raw") != 0 || !node->file) {
        return false;
    }
    if (block_pread(node->file, 0, sizeof(magic), magic, 0) < 0) {
        return false;
    }
    return qcow2_be32(magic) == QCOW2_MAGIC;
}

const char *block_check_get_format(BlockNode *node)
{
    return is_unregistered_qcow2(node) ? "qcow2"
                                       : block_node_get_format(node);
}

int block_check_co(BlockNode *node, BlockCheckResult *res, unsigned fix,
                   Error **errp)
{
    *res = (BlockCheckResult){ .log = res->log };
    if (node->drv && node->drv->check_co) {
        return node->drv->check_co(node, res, fix, errp);
    }
    if (node->drv && strcmp(node->drv->format_name, "qcow2") == 0 &&
        node->file) {
        /*
         * A qcow2 driver without its own check_co: its caches go to the
         * file first, then the self-contained checker works on the file.
         */
        int ret = block_flush_co(node);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not flush the image");
            return ret;
        }
        return qcow2_check_child_co(node->file, res, fix, errp);
    }
    if (is_unregistered_qcow2(node)) {
        return qcow2_check_child_co(node->file, res, fix, errp);
    }
    error_setg(errp, "This image format does not support checks");
    return -ENOTSUP;
}

typedef struct CheckCo {
    BlockNode *node;
    BlockCheckResult *res;
    unsigned fix;
    Error **errp;
    int ret;
} CheckCo;

static void check_entry(void *opaque)
{
    CheckCo *s = opaque;

    s->ret = block_check_co(s->node, s->res, s->fix, s->errp);
}

int block_check(BlockNode *node, BlockCheckResult *res, unsigned fix,
                Error **errp)
{
    CheckCo s = { node, res, fix, errp, 0 };

    qx_co_run(block_graph_get_loop(node->graph), check_entry, &s);
    return s.ret;
}

/* Adds an optional member only when it is not zero, as QEMU does. */
static void add_opt(json_object *obj, const char *key, int64_t value)
{
    if (value) {
        json_object_object_add(obj, key, json_object_new_int64(value));
    }
}

char *block_check_to_json(const BlockCheckResult *r, const char *filename,
                          const char *format)
{
    json_object *obj = json_object_new_object();
    json_object *ordered;
    char *text;
    char *out;

    json_object_object_add(obj, "filename", json_object_new_string(filename));
    json_object_object_add(obj, "format", json_object_new_string(format));
    json_object_object_add(obj, "check-errors",
                           json_object_new_int64(r->check_errors));
    add_opt(obj, "image-end-offset", r->image_end_offset);
    add_opt(obj, "corruptions", r->corruptions);
    add_opt(obj, "leaks", r->leaks);
    add_opt(obj, "corruptions-fixed", r->corruptions_fixed);
    add_opt(obj, "leaks-fixed", r->leaks_fixed);
    add_opt(obj, "total-clusters", r->total_clusters);
    add_opt(obj, "allocated-clusters", r->allocated_clusters);
    add_opt(obj, "fragmented-clusters", r->fragmented_clusters);
    add_opt(obj, "compressed-clusters", r->compressed_clusters);
    ordered = block_qdict_order(obj);
    text = qx_json_to_string(ordered, QX_JSON_PRETTY);
    out = g_strdup_printf("%s\n", text);
    g_free(text);
    json_object_put(ordered);
    json_object_put(obj);
    return out;
}
