/*
 * BlockGraph: the per-loop context of the block layer (node namespace,
 * worker pool, file I/O backends).
 */
#include <assert.h>
#include <string.h>

#include "internal.h"

BlockGraph *block_graph_new(QxLoop *loop, Error **errp)
{
    BlockGraph *graph;

    if (!loop) {
        loop = qx_loop_current();
    }
    if (!loop) {
        error_setg(errp, "no event loop for the block layer");
        return NULL;
    }
    graph = g_new0(BlockGraph, 1);
    graph->loop = loop;
    graph->nodes = g_ptr_array_new();
    return graph;
}

void block_graph_free(BlockGraph *graph)
{
    if (!graph) {
        return;
    }
    assert(graph->nodes->len == 0);
    for (int i = 0; i < 2; i++) {
        qx_aio_free(graph->aio[i]);
    }
    if (graph->pool) {
        qx_thread_pool_free(graph->pool);
    }
    g_ptr_array_free(graph->nodes, true);
    g_free(graph);
}

void block_graph_set_objects(BlockGraph *graph, struct QxObjects *objs)
{
    graph->objects = objs;
}

struct QxObjects *block_graph_get_objects(const BlockGraph *graph)
{
    return graph->objects;
}

QxLoop *block_graph_get_loop(const BlockGraph *graph)
{
    return graph->loop;
}

BlockNode *block_graph_find_node(const BlockGraph *graph, const char *name)
{
    for (guint i = 0; i < graph->nodes->len; i++) {
        BlockNode *node = g_ptr_array_index(graph->nodes, i);
        if (node->node_name && strcmp(node->node_name, name) == 0) {
            return node;
        }
    }
    return NULL;
}

void block_graph_foreach_node(BlockGraph *graph,
                              bool (*fn)(BlockNode *node, void *opaque),
                              void *opaque)
{
    for (guint i = 0; i < graph->nodes->len; i++) {
        if (!fn(g_ptr_array_index(graph->nodes, i), opaque)) {
            return;
        }
    }
}

void block_graph_add_node(BlockGraph *graph, BlockNode *node)
{
    g_ptr_array_add(graph->nodes, node);
}

void block_graph_remove_node(BlockGraph *graph, BlockNode *node)
{
    g_ptr_array_remove(graph->nodes, node);
}

char *block_graph_gen_node_name(BlockGraph *graph)
{
    /*
     * QEMU's generated names are "#block", a counter and two random
     * digits; ours use two digits derived from the counter, so runs are
     * reproducible while the shape stays the same.
     */
    for (;;) {
        uint64_t n = graph->next_auto_name++;
        char *name = g_strdup_printf("#block%" G_GUINT64_FORMAT "%02u", n,
                                     (unsigned)((n * 37 + 11) % 100));
        if (!block_graph_find_node(graph, name)) {
            return name;
        }
        g_free(name);
    }
}

ThreadPool *block_graph_get_thread_pool(BlockGraph *graph)
{
    if (!graph->pool) {
        /* QEMU's default pool size for file I/O is 64 workers. */
        graph->pool = qx_thread_pool_new(graph->loop, 64);
    }
    return graph->pool;
}

QxAio *block_graph_get_aio(BlockGraph *graph, QxAioBackend backend,
                           Error **errp)
{
    assert(backend == QX_AIO_THREADS || backend == QX_AIO_IO_URING);
    if (!graph->aio[backend]) {
        ThreadPool *pool = NULL;
        if (backend == QX_AIO_THREADS) {
            pool = block_graph_get_thread_pool(graph);
        }
        graph->aio[backend] = qx_aio_new(graph->loop, backend, pool, errp);
    }
    return graph->aio[backend];
}
