/*
 * Opening node trees: filename and option handling, format probing, the
 * generic per-node options, child and backing opening.
 */
#include <assert.h>
#include <string.h>

#include "internal.h"
#include "qx/util/opts.h"

#define PROBE_BUF_SIZE 2048
#define NODE_NAME_MAX 31
/*
 * Bound on nested opens (child of child ...), e.g. backing chains.  QEMU
 * has no limit; every level costs coroutine stack on open and on reads
 * that fall through, and 400 levels still fit our 1 MiB stacks, so 256
 * leaves room and is far beyond real chains.  Deeper gives a clear error, never a stack overflow.
 */
#define MAX_OPEN_DEPTH 256

static BlockNode *open_inherit(BlockGraph *graph, const char *filename,
                               json_object *opts, unsigned flags, int depth,
                               Error **errp);

/* Options a child inherits from its parent unless it sets them itself. */
static const char *const inherited_keys[] = {
    "read-only", "auto-read-only", "force-share", "cache.direct",
    "cache.no-flush", NULL,
};

static void inherit_options(json_object *child_opts, json_object *inherit)
{
    if (inherit) {
        json_object_object_foreach(inherit, key, val)
        {
            if (!json_object_object_get_ex(child_opts, key, NULL)) {
                json_object_object_add(child_opts, key, json_object_get(val));
            }
        }
    }
    /*
     * Lower layers may always discard: the policy is enforced where the
     * request enters (QEMU defaults children to discard=unmap as well).
     */
    if (!json_object_object_get_ex(child_opts, "discard", NULL)) {
        json_object_object_add(child_opts, "discard",
                               json_object_new_string("unmap"));
    }
}

static json_object *save_inheritable(json_object *opts)
{
    json_object *saved = json_object_new_object();

    for (int i = 0; inherited_keys[i]; i++) {
        json_object *val;
        if (json_object_object_get_ex(opts, inherited_keys[i], &val)) {
            json_object_object_add(saved, inherited_keys[i],
                                   json_object_get(val));
        }
    }
    return saved;
}

static bool node_name_is_valid(const char *name)
{
    if (!g_ascii_isalpha(name[0])) {
        return false;
    }
    for (const char *p = name + 1; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.' && *p != '_') {
            return false;
        }
    }
    return true;
}

/* Takes the options every node understands; fills the node's policy. */
static bool take_generic_options(BlockNode *node, json_object *opts,
                                 unsigned *flags, Error **errp)
{
    g_autofree char *node_name = NULL;
    g_autofree char *discard = NULL;
    g_autofree char *detect = NULL;
    bool read_only = false;
    bool read_only_given = false;
    bool auto_read_only = false;
    bool force_share = false;
    bool direct = false;
    bool no_flush = false;

    if (!qx_opts_take_str(opts, "node-name", &node_name, NULL, errp)) {
        return false;
    }
    if (node_name) {
        if (!node_name_is_valid(node_name)) {
            error_setg(errp, "Invalid node-name: '%s'", node_name);
            return false;
        }
        if (strlen(node_name) > NODE_NAME_MAX) {
            error_setg(errp, "Node name too long");
            return false;
        }
        if (block_graph_find_node(node->graph, node_name)) {
            error_setg(errp, "Duplicate nodes with node-name='%s'",
                       node_name);
            return false;
        }
    }
    if (!qx_opts_take_bool(opts, "read-only", &read_only, &read_only_given,
                           errp) ||
        !qx_opts_take_bool(opts, "auto-read-only", &auto_read_only, NULL,
                           errp) ||
        !qx_opts_take_bool(opts, "force-share", &force_share, NULL, errp) ||
        !qx_opts_take_bool(opts, "cache.direct", &direct, NULL, errp) ||
        !qx_opts_take_bool(opts, "cache.no-flush", &no_flush, NULL, errp) ||
        !qx_opts_take_str(opts, "discard", &discard, NULL, errp) ||
        !qx_opts_take_str(opts, "detect-zeroes", &detect, NULL, errp)) {
        return false;
    }

    node->discard = BLOCK_DISCARD_IGNORE;
    if (discard) {
        if (!strcmp(discard, "off") || !strcmp(discard, "ignore")) {
            node->discard = BLOCK_DISCARD_IGNORE;
        } else if (!strcmp(discard, "on") || !strcmp(discard, "unmap")) {
            node->discard = BLOCK_DISCARD_UNMAP;
        } else {
            error_setg(errp, "Invalid discard option");
            return false;
        }
    }
    node->detect_zeroes = BLOCK_DETECT_ZEROES_OFF;
    if (detect) {
        if (!strcmp(detect, "off")) {
            node->detect_zeroes = BLOCK_DETECT_ZEROES_OFF;
        } else if (!strcmp(detect, "on")) {
            node->detect_zeroes = BLOCK_DETECT_ZEROES_ON;
        } else if (!strcmp(detect, "unmap")) {
            node->detect_zeroes = BLOCK_DETECT_ZEROES_UNMAP;
        } else {
            error_setg(errp, "invalid parameter value: %s", detect);
            return false;
        }
    }
    if (node->detect_zeroes == BLOCK_DETECT_ZEROES_UNMAP &&
        node->discard != BLOCK_DISCARD_UNMAP) {
        error_setg(errp, "setting detect-zeroes to unmap is not allowed "
                         "without setting discard operation to unmap");
        return false;
    }

    /* An explicit read-only option overrides the caller's flags. */
    if (read_only_given) {
        if (read_only) {
            *flags &= ~BLOCK_OPEN_RDWR;
        } else {
            *flags |= BLOCK_OPEN_RDWR;
        }
    }
    node->read_only = !(*flags & BLOCK_OPEN_RDWR);
    if (force_share && !node->read_only) {
        error_setg(errp,
                   "force-share=on can only be used with read-only images");
        return false;
    }
    node->force_share = force_share;
    node->auto_read_only = auto_read_only;
    node->cache_direct = direct;
    node->cache_no_flush = no_flush;
    node->node_name = node_name ? g_steal_pointer(&node_name)
                                : block_graph_gen_node_name(node->graph);
    node->auto_named = node->node_name[0] == '#';
    return true;
}

static BlockNode *node_new(BlockGraph *graph, const BlockDriver *drv)
{
    BlockNode *node = g_new0(BlockNode, 1);

    node->graph = graph;
    node->drv = drv;
    node->refcnt = 1;
    node->children = g_ptr_array_new();
    node->parents = g_ptr_array_new();
    node->cur_shared = BLOCK_PERM_ALL;
    block_io_init_node(node);
    return node;
}

/* Frees a node whose driver never opened (or already closed). */
static void node_discard(BlockNode *node)
{
    g_clear_pointer(&node->opaque, g_free);
    block_node_unref(node);
}

/* Copies the data-defining options the user gave, before the driver eats
 * them, for the json: filename. */
static json_object *copy_strong_options(const BlockDriver *drv,
                                        json_object *opts)
{
    json_object *full = json_object_new_object();

    for (int i = 0; drv->strong_options && drv->strong_options[i]; i++) {
        json_object *val;
        if (json_object_object_get_ex(opts, drv->strong_options[i], &val)) {
            json_object_object_add(full, drv->strong_options[i],
                                   json_object_get(val));
        }
    }
    return full;
}

/*
 * Opens the backing file the driver recorded, unless the options name one
 * ("backing": node-name or null) or the caller asked for no backing.
 */
static bool open_backing(BlockNode *node, json_object *opts, unsigned flags,
                         int depth, Error **errp)
{
    json_object *val = NULL;
    json_object *bopts;
    g_autofree char *path = NULL;
    BlockNode *bnode;
    unsigned bflags;

    if (json_object_object_get_ex(opts, "backing", &val)) {
        if (!val) {
            /* backing: null means "no backing file" */
            json_object_object_del(opts, "backing");
            return true;
        }
        if (json_object_is_type(val, json_type_string)) {
            const char *ref = json_object_get_string(val);
            bnode = block_graph_find_node(node->graph, ref);
            if (!bnode) {
                error_setg(errp, "Cannot find device='%s' nor node-name='%s'",
                           ref, ref);
                return false;
            }
            json_object_object_del(opts, "backing");
            return block_attach_child(node, bnode, "backing",
                                      BLOCK_CHILD_COW, errp) != NULL;
        }
    }
    bopts = qx_opts_extract_prefix(opts, "backing");
    if ((flags & BLOCK_OPEN_NO_BACKING) ||
        (!node->backing_file && json_object_object_length(bopts) == 0)) {
        json_object_put(bopts);
        return true;
    }
    if (node->backing_file && !g_path_is_absolute(node->backing_file) &&
        !strstr(node->backing_file, "://") && node->exact_filename &&
        !qx_opts_is_json_filename(node->backing_file)) {
        g_autofree char *dir = g_path_get_dirname(node->exact_filename);
        path = strcmp(dir, ".") == 0
                   ? g_strdup(node->backing_file)
                   : g_build_filename(dir, node->backing_file, NULL);
    } else if (node->backing_file) {
        path = g_strdup(node->backing_file);
    }
    if (node->backing_format &&
        !json_object_object_get_ex(bopts, "driver", NULL)) {
        json_object_object_add(bopts, "driver",
                               json_object_new_string(node->backing_format));
    }
    /* Backing files are opened read-only; writers reopen them. */
    bflags = (flags & ~(BLOCK_OPEN_RDWR | BLOCK_OPEN_PROTOCOL)) |
             BLOCK_OPEN_QUIET;
    json_object_object_add(bopts, "read-only", json_object_new_boolean(true));
    bnode = open_inherit(node->graph, path, bopts, bflags, depth + 1, errp);
    if (!bnode) {
        error_prepend(errp, "Could not open backing file: ");
        return false;
    }
    BlockChild *c = block_attach_child(node, bnode, "backing",
                                       BLOCK_CHILD_COW, errp);
    block_node_unref(bnode);
    return c != NULL;
}

static BlockNode *open_common_inner(BlockNode *node, json_object *opts,
                                    unsigned flags, int depth, Error **errp)
{
    const BlockDriver *drv = node->drv;
    int ret;

    node->open_flags = flags;
    node->inherit_opts = save_inheritable(opts);
    if (!take_generic_options(node, opts, &flags, errp)) {
        node_discard(node);
        return NULL;
    }
    node->open_flags = flags;
    node->full_options = copy_strong_options(drv, opts);
    block_graph_add_node(node->graph, node);

    node->opaque = g_malloc0(drv->state_size ? drv->state_size : 1);
    node->supported_write_flags = drv->supported_write_flags;
    node->supported_zero_flags = drv->supported_zero_flags;
    ret = drv->open_co(node, opts, flags, errp);
    if (ret < 0) {
        node_discard(node);
        return NULL;
    }
    if (node->preopened_file) {
        /* The driver did not want a file child: the options said one. */
        block_node_unref(node->preopened_file);
        node->preopened_file = NULL;
    }
    block_node_refresh_limits(node);
    int64_t len = drv->getlength_co(node);
    if (len < 0) {
        error_setg_errno(errp, (int)-len, "Could not get image size");
        goto fail_close;
    }
    node->total_size = block_round_len(len);
    block_node_refresh_filename(node);

    if (!open_backing(node, opts, flags, depth, errp)) {
        goto fail_close;
    }
    if (!block_check_leftover_options(drv, opts, errp)) {
        goto fail_close;
    }
    block_node_refresh_filename(node);
    return node;

fail_close:
    if (drv->close_co) {
        drv->close_co(node);
    }
    node_discard(node);
    return NULL;
}

/*
 * Runs the driver's open and the checks after it.  opts is consumed; so
 * is node on failure.
 */
static BlockNode *open_common(BlockNode *node, json_object *opts,
                              unsigned flags, int depth, Error **errp)
{
    BlockNode *result = open_common_inner(node, opts, flags, depth, errp);

    json_object_put(opts);
    return result;
}

/* Highest-scoring format for the first bytes of file. */
static const BlockDriver *probe_format(BlockNode *file, Error **errp)
{
    uint8_t *buf = block_node_blockalign(file, PROBE_BUF_SIZE);
    BlockChild probe_edge = {
        .name = (char *)"probe",
        .node = file,
        .perm = BLOCK_PERM_CONSISTENT_READ,
        .shared = BLOCK_PERM_ALL,
    };
    int64_t len = MIN(file->total_size, PROBE_BUF_SIZE);
    const BlockDriver *best = NULL;
    int best_score = 0;
    int ret = 0;

    if (len > 0) {
        ret = block_pread_co(&probe_edge, 0, len, buf, 0);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read image for determining "
                                     "its format");
        block_node_vfree(buf);
        return NULL;
    }
    for (int i = 0; block_drivers[i]; i++) {
        const BlockDriver *drv = block_drivers[i];
        if (drv->probe) {
            int score = drv->probe(buf, (int)len, file->filename);
            if (score > best_score) {
                best = drv;
                best_score = score;
            }
        }
    }
    block_node_vfree(buf);
    if (!best) {
        error_setg(errp, "Could not determine image format: No compatible "
                         "driver found");
    }
    return best;
}

/* Opens the protocol/file layer of a format node being opened. */
static BlockNode *preopen_file(BlockGraph *graph, const char *filename,
                               json_object *opts, unsigned flags, int depth,
                               Error **errp)
{
    json_object *ref;

    if (json_object_object_get_ex(opts, "file", &ref) && ref &&
        json_object_is_type(ref, json_type_string)) {
        const char *name = json_object_get_string(ref);
        BlockNode *node = block_graph_find_node(graph, name);
        if (!node) {
            error_setg(errp, "Cannot find device='%s' nor node-name='%s'",
                       name, name);
            return NULL;
        }
        json_object_object_del(opts, "file");
        block_node_ref(node);
        return node;
    }

    json_object *fopts = qx_opts_extract_prefix(opts, "file");
    if (!filename && json_object_object_length(fopts) == 0) {
        json_object_put(fopts);
        return NULL;
    }
    json_object *inherit = save_inheritable(opts);
    inherit_options(fopts, inherit);
    json_object_put(inherit);
    return open_inherit(graph, filename, fopts, flags | BLOCK_OPEN_PROTOCOL,
                        depth + 1, errp);
}

/*
 * "json:{...}" as a flat dict that keeps the JSON types: QEMU's json:
 * filenames print numbers and booleans back as such.  The util parser
 * gives QEMU's error messages; json-c gives the typed tree.
 */
static json_object *parse_json_filename(const char *filename, Error **errp)
{
    json_object *checked = qx_opts_parse_json_filename(filename, errp);
    json_object *typed;
    json_object *flat;

    if (!checked) {
        return NULL;
    }
    typed = json_tokener_parse(filename + strlen("json:"));
    if (!typed || !json_object_is_type(typed, json_type_object)) {
        /* Accepted by the strict parser but not by json-c: use its view. */
        json_object_put(typed);
        return checked;
    }
    json_object_put(checked);
    flat = qx_opts_flatten(typed);
    json_object_put(typed);
    return flat;
}

/*
 * The whole open of one node: opts is a flat dict we own.  filename may
 * still be a json: name.
 */
static BlockNode *open_inherit(BlockGraph *graph, const char *filename,
                               json_object *opts, unsigned flags, int depth,
                               Error **errp)
{
    g_autofree char *drvname = NULL;
    const BlockDriver *drv = NULL;
    BlockNode *file = NULL;
    BlockNode *node;
    bool protocol = flags & BLOCK_OPEN_PROTOCOL;

    if (depth > MAX_OPEN_DEPTH) {
        error_setg(errp, "Block graph nesting too deep");
        json_object_put(opts);
        return NULL;
    }
    if (filename && qx_opts_is_json_filename(filename)) {
        json_object *flat = parse_json_filename(filename, errp);
        if (!flat) {
            json_object_put(opts);
            return NULL;
        }
        /* Explicit options win over the json: ones. */
        qx_opts_merge(opts, flat, false);
        json_object_put(flat);
        filename = NULL;
    }

    if (!qx_opts_take_str(opts, "driver", &drvname, NULL, errp)) {
        goto fail;
    }
    if (drvname) {
        drv = block_driver_find(drvname);
        if (!drv) {
            error_setg(errp, "Unknown driver '%s'", drvname);
            goto fail;
        }
        protocol = drv->is_protocol;
    } else if (protocol) {
        if (!filename) {
            const char *fn = qx_opts_get_str(opts, "filename");
            if (!fn) {
                error_setg(errp, "Must specify either driver or file");
                goto fail;
            }
            drv = block_driver_find_protocol(fn, errp);
        } else {
            drv = block_driver_find_protocol(filename, errp);
        }
        if (!drv) {
            goto fail;
        }
    }

    if (protocol) {
        if (filename) {
            if (drv->parse_filename) {
                if (!drv->parse_filename(filename, opts, errp)) {
                    goto fail;
                }
            } else if (!json_object_object_get_ex(opts, "filename", NULL)) {
                const char *fn = filename;
                size_t plen = drv->protocol_name ? strlen(drv->protocol_name)
                                                 : 0;
                if (plen && strncmp(fn, drv->protocol_name, plen) == 0 &&
                    fn[plen] == ':') {
                    fn += plen + 1;
                }
                json_object_object_add(opts, "filename",
                                       json_object_new_string(fn));
            }
        }
        node = node_new(graph, drv);
        return open_common(node, opts, flags, depth, errp);
    }

    /* A format: open what it sits on first, then probe if needed. */
    {
        Error *local_err = NULL;
        file = preopen_file(graph, filename, opts, flags, depth, &local_err);
        if (local_err) {
            error_propagate(errp, local_err);
            goto fail;
        }
    }
    if (!drv) {
        if (!file) {
            error_setg(errp, "Must specify either driver or file");
            goto fail;
        }
        drv = probe_format(file, errp);
        if (!drv) {
            goto fail;
        }
        node = node_new(graph, drv);
        node->probed = true;
    } else {
        node = node_new(graph, drv);
    }
    node->preopened_file = file;
    return open_common(node, opts, flags, depth, errp);

fail:
    block_node_unref(file);
    json_object_put(opts);
    return NULL;
}

typedef struct OpenArgs {
    BlockGraph *graph;
    const char *filename;
    json_object *opts;
    unsigned flags;
    Error *err;
    BlockNode *result;
} OpenArgs;

static void open_entry(void *opaque)
{
    OpenArgs *a = opaque;

    a->result = open_inherit(a->graph, a->filename, a->opts, a->flags, 0,
                             &a->err);
}

BlockNode *block_open(BlockGraph *graph, const char *filename,
                      json_object *options, unsigned flags, Error **errp)
{
    OpenArgs a = {
        .graph = graph,
        .filename = filename,
        .flags = flags,
    };

    if (options) {
        a.opts = qx_opts_flatten(options);
        json_object_put(options);
    } else {
        a.opts = json_object_new_object();
    }
    qx_co_run(graph->loop, open_entry, &a);
    if (!a.result) {
        error_propagate(errp, a.err);
    }
    return a.result;
}

typedef struct OpenDriverArgs {
    BlockGraph *graph;
    const BlockDriver *drv;
    json_object *opts;
    unsigned flags;
    Error *err;
    BlockNode *result;
} OpenDriverArgs;

static void open_driver_entry(void *opaque)
{
    OpenDriverArgs *a = opaque;
    BlockNode *node = node_new(a->graph, a->drv);

    json_object_object_del(a->opts, "driver");
    if (!a->drv->is_protocol) {
        Error *local_err = NULL;
        node->preopened_file = preopen_file(a->graph, NULL, a->opts,
                                            a->flags, 0, &local_err);
        if (local_err) {
            error_propagate(&a->err, local_err);
            block_node_unref(node);
            json_object_put(a->opts);
            return;
        }
    }
    a->result = open_common(node, a->opts, a->flags, 0, &a->err);
}

BlockNode *block_open_with_driver(BlockGraph *graph, const BlockDriver *drv,
                                  json_object *options, unsigned flags,
                                  Error **errp)
{
    OpenDriverArgs a = {
        .graph = graph,
        .drv = drv,
        .flags = flags,
    };

    if (options) {
        a.opts = qx_opts_flatten(options);
        json_object_put(options);
    } else {
        a.opts = json_object_new_object();
    }
    qx_co_run(graph->loop, open_driver_entry, &a);
    if (!a.result) {
        error_propagate(errp, a.err);
    }
    return a.result;
}

/* ---- Children of a node being opened ------------------------------------ */

BlockChild *block_open_child(BlockNode *node, json_object *opts,
                             const char *name, unsigned role,
                             bool allow_none, Error **errp)
{
    BlockNode *child_node = NULL;
    BlockChild *child;
    json_object *ref;

    if (strcmp(name, "file") == 0 && node->preopened_file) {
        child_node = node->preopened_file;
        node->preopened_file = NULL;
    } else if (json_object_object_get_ex(opts, name, &ref) && ref &&
               json_object_is_type(ref, json_type_string)) {
        const char *refname = json_object_get_string(ref);
        child_node = block_graph_find_node(node->graph, refname);
        if (!child_node) {
            error_setg(errp, "Cannot find device='%s' nor node-name='%s'",
                       refname, refname);
            return NULL;
        }
        json_object_object_del(opts, name);
        block_node_ref(child_node);
    } else {
        json_object *copts = qx_opts_extract_prefix(opts, name);
        if (json_object_object_length(copts) == 0) {
            json_object_put(copts);
            if (!allow_none) {
                error_setg(errp,
                           "A block device must be specified for \"%s\"",
                           name);
            }
            return NULL;
        }
        inherit_options(copts, node->inherit_opts);
        child_node = open_inherit(node->graph, NULL, copts,
                                  node->open_flags | BLOCK_OPEN_PROTOCOL, 1,
                                  errp);
        if (!child_node) {
            return NULL;
        }
    }
    child = block_attach_child(node, child_node, name, role, errp);
    block_node_unref(child_node);
    return child;
}
