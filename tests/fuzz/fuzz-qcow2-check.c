/*
 * libFuzzer target: arbitrary bytes as a qcow2 image file, checked
 * read-only by the self-contained qcow2 checker.  Nothing may crash,
 * leak, read out of bounds or allocate beyond what the file size bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../lib/block/qcow2/qcow2-check.h"
#include "qx/block/block-backend.h"
#include "qx/util/coroutine.h"

typedef struct Run {
    BlockNode *node;
    BlockCheckResult *res;
} Run;

static void check_entry(void *opaque)
{
    Run *r = opaque;
    Error *err = NULL;

    qcow2_check_file_co(r->node, r->res, 0, &err);
    error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static QxLoop *loop;
    static BlockGraph *graph;
    GString *log = g_string_new(NULL);
    BlockCheckResult res = { .log = log };
    json_object *opts;
    BlockBackend *blk;
    char path[64];
    Run r;
    int fd;

    if (!loop) {
        loop = qx_loop_new(&error_abort);
        qx_loop_set_current(loop);
        graph = block_graph_new(loop, &error_abort);
    }
    fd = memfd_create("qcow2-check", 0);
    if (fd < 0 || write(fd, d, n) != (ssize_t)n) {
        abort();
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    opts = json_object_new_object();
    json_object_object_add(opts, "driver", json_object_new_string("file"));
    blk = blk_new_open(graph, path, opts, 0, NULL);
    if (blk) {
        r.node = blk_node(blk);
        r.res = &res;
        qx_co_run(loop, check_entry, &r);
        blk_unref(blk);
    }
    close(fd);
    g_string_free(log, true);
    return 0;
}
