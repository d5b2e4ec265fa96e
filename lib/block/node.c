/*
 * Node lifetime, child edges, limits and the filename rule.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "qx/util/json-out.h"

/* ---- Queries ------------------------------------------------------------ */

const char *block_node_get_name(const BlockNode *node)
{
    return node->node_name;
}

const char *block_node_get_format(const BlockNode *node)
{
    return node->drv->format_name;
}

const char *block_node_get_filename(const BlockNode *node)
{
    return node->filename ? node->filename : "";
}

const BlockDriver *block_node_get_driver(const BlockNode *node)
{
    return node->drv;
}

bool block_node_is_read_only(const BlockNode *node)
{
    return node->read_only;
}

int64_t block_node_get_size(const BlockNode *node)
{
    return node->total_size;
}

BlockNode *block_node_get_file(const BlockNode *node)
{
    return node->file ? node->file->node : NULL;
}

BlockNode *block_node_get_backing(const BlockNode *node)
{
    return node->backing ? node->backing->node : NULL;
}

const char *block_node_get_backing_file(const BlockNode *node)
{
    return node->backing_file;
}

const char *block_node_get_backing_format(const BlockNode *node)
{
    return node->backing_format;
}

const BlockLimits *block_node_get_limits(const BlockNode *node)
{
    return &node->limits;
}

int block_get_info(BlockNode *node, BlockDriverInfo *bdi)
{
    memset(bdi, 0, sizeof(*bdi));
    if (!node->drv->get_info) {
        return -ENOTSUP;
    }
    return node->drv->get_info(node, bdi);
}

/* ---- Buffers ------------------------------------------------------------ */

void *block_node_blockalign(BlockNode *node, size_t size)
{
    size_t align = node ? node->limits.opt_mem_alignment : 4096;
    void *ptr = NULL;

    if (align < sizeof(void *)) {
        align = sizeof(void *);
    }
    if (size == 0) {
        size = align;
    }
    if (posix_memalign(&ptr, align, size) != 0) {
        g_error("block: out of memory allocating %zu bytes", size);
    }
    return ptr;
}

void block_node_vfree(void *ptr)
{
    free(ptr);
}

/* ---- Lifetime ----------------------------------------------------------- */

void block_node_ref(BlockNode *node)
{
    node->refcnt++;
}

static void close_node_co(void *opaque)
{
    BlockNode *node = opaque;

    block_drain_co(node);
    if (!node->read_only) {
        block_flush_co(node);
    }
    if (node->drv->close_co) {
        node->drv->close_co(node);
    }
}

void block_node_unref(BlockNode *node)
{
    if (!node) {
        return;
    }
    assert(node->refcnt > 0);
    if (--node->refcnt > 0) {
        return;
    }
    assert(node->parents->len == 0);
    if (node->opaque) {
        qx_co_run(node->graph->loop, close_node_co, node);
    }
    while (node->children->len > 0) {
        block_detach_child(node,
                           g_ptr_array_index(node->children,
                                             node->children->len - 1));
    }
    if (node->preopened_file) {
        block_node_unref(node->preopened_file);
    }
    /* Release image locks of a protocol that had none left to drop. */
    block_graph_remove_node(node->graph, node);
    g_free(node->opaque);
    g_free(node->node_name);
    g_free(node->exact_filename);
    g_free(node->filename);
    g_free(node->backing_file);
    g_free(node->backing_format);
    if (node->full_options) {
        json_object_put(node->full_options);
    }
    if (node->inherit_opts) {
        json_object_put(node->inherit_opts);
    }
    g_ptr_array_free(node->children, true);
    g_ptr_array_free(node->parents, true);
    g_free(node);
}

/* ---- Child edges -------------------------------------------------------- */

BlockChild *block_attach_child(BlockNode *parent, BlockNode *child_node,
                               const char *name, unsigned role, Error **errp)
{
    BlockChild *child = g_new0(BlockChild, 1);

    child->name = g_strdup(name);
    child->node = child_node;
    child->parent = parent;
    child->role = role;
    /* Start with nothing needed; the update below derives the real set. */
    child->perm = 0;
    child->shared = BLOCK_PERM_ALL;
    block_node_ref(child_node);
    g_ptr_array_add(parent->children, child);
    g_ptr_array_add(child_node->parents, child);
    if (strcmp(name, "file") == 0) {
        parent->file = child;
    } else if (strcmp(name, "backing") == 0) {
        parent->backing = child;
    }
    if (!block_perm_update_subtree(parent, errp)) {
        block_detach_child(parent, child);
        return NULL;
    }
    return child;
}

void block_detach_child(BlockNode *parent, BlockChild *child)
{
    BlockNode *child_node = child->node;

    g_ptr_array_remove(parent->children, child);
    g_ptr_array_remove(child_node->parents, child);
    if (parent->file == child) {
        parent->file = NULL;
    }
    if (parent->backing == child) {
        parent->backing = NULL;
    }
    /* Dropping permissions cannot fail. */
    block_perm_update_subtree(child_node, NULL);
    g_free(child->name);
    g_free(child);
    block_node_unref(child_node);
}

/* ---- Limits ------------------------------------------------------------- */

void block_node_refresh_limits(BlockNode *node)
{
    BlockLimits l = {0};
    size_t page = 4096;

    l.request_alignment = 1;
    l.min_mem_alignment = 1;
    l.opt_mem_alignment = 1;
    /* Buffers that suit the children suit the parent too. */
    for (guint i = 0; i < node->children->len; i++) {
        BlockChild *c = g_ptr_array_index(node->children, i);
        l.min_mem_alignment =
            MAX(l.min_mem_alignment, c->node->limits.min_mem_alignment);
        l.opt_mem_alignment =
            MAX(l.opt_mem_alignment, c->node->limits.opt_mem_alignment);
    }
    if (node->drv->refresh_limits) {
        node->drv->refresh_limits(node, &l);
    }
    if (l.request_alignment == 0) {
        l.request_alignment = 1;
    }
    if (l.opt_mem_alignment < l.min_mem_alignment) {
        l.opt_mem_alignment = l.min_mem_alignment;
    }
    if (l.opt_mem_alignment < page) {
        l.opt_mem_alignment = page;
    }
    node->limits = l;
}

/* ---- Filenames ---------------------------------------------------------- */

/*
 * QEMU's rule: a node's name is a plain file name when its data is fully
 * described by one (a protocol's path, or a format without data-defining
 * options of its own on top of such a child), and otherwise the
 * "json:{...}" of the data-defining options of the node and its data
 * children.  full_options keeps what the user gave (strings from keyval,
 * typed values from JSON), in QEMU's key order.
 */
void block_node_refresh_filename(BlockNode *node)
{
    json_object *full = json_object_new_object();
    bool own_strong = false;
    const char *child_exact = NULL;

    if (node->full_options) {
        json_object_object_foreach(node->full_options, key, val)
        {
            if (strcmp(key, "driver") == 0 ||
                json_object_is_type(val, json_type_object)) {
                continue;
            }
            json_object_object_add(full, key, json_object_get(val));
            own_strong = true;
        }
        json_object_put(node->full_options);
    }
    json_object_object_add(full, "driver",
                           json_object_new_string(node->drv->format_name));
    for (guint i = 0; i < node->children->len; i++) {
        BlockChild *c = g_ptr_array_index(node->children, i);
        if (c == node->backing || !c->node->full_options) {
            continue;
        }
        json_object_object_add(full, c->name,
                               json_object_get(c->node->full_options));
    }
    node->full_options = block_qdict_order(full);
    json_object_put(full);

    if (!node->drv->is_protocol && !own_strong && node->file &&
        node->file->node->exact_filename) {
        child_exact = node->file->node->exact_filename;
        g_free(node->exact_filename);
        node->exact_filename = g_strdup(child_exact);
    } else if (!node->drv->is_protocol) {
        g_free(node->exact_filename);
        node->exact_filename = NULL;
    }

    g_free(node->filename);
    if (node->exact_filename) {
        node->filename = g_strdup(node->exact_filename);
    } else {
        char *json = qx_json_to_string(node->full_options, QX_JSON_COMPACT);
        node->filename = g_strdup_printf("json:%s", json);
        g_free(json);
    }
}
