/*
 * libFuzzer target: arbitrary bytes as a qcow2 image file, opened
 * read-only with our qcow2 driver (no backing file), then a few reads
 * (normal, compressed, zero and unallocated clusters alike) and a walk
 * over the block status; then opened read-write for one allocating write,
 * a zero write and a flush.  Nothing may crash, leak or read out of
 * bounds; bad metadata must turn into errors.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qx/block/block-backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static QxLoop *loop;
    static BlockGraph *graph;
    static uint8_t buf[65536];
    json_object *opts;
    BlockBackend *blk;
    char path[64];
    int fd;

    if (!loop) {
        loop = qx_loop_new(&error_abort);
        qx_loop_set_current(loop);
        graph = block_graph_new(loop, &error_abort);
    }
    fd = memfd_create("qcow2-open", 0);
    if (fd < 0 || write(fd, d, n) != (ssize_t)n) {
        abort();
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    opts = json_object_new_object();
    json_object_object_add(opts, "driver", json_object_new_string("qcow2"));
    json_object_object_add(opts, "backing", NULL);
    blk = blk_new_open(graph, path, opts, BLOCK_OPEN_NO_BACKING, NULL);
    if (blk) {
        int64_t size = blk_getlength(blk);
        int64_t pos = 0;

        /* Start, a cluster-crossing read, the end. */
        if (size > 0) {
            blk_pread(blk, 0, MIN(size, (int64_t)sizeof(buf)), buf, 0);
            blk_pread(blk, size / 2, MIN(size - size / 2, 4096), buf, 0);
            blk_pread(blk, size - MIN(size, 512), MIN(size, 512), buf, 0);
        }
        /* A bounded walk over the mapping. */
        for (int i = 0; i < 64 && pos < size; i++) {
            int64_t pnum = 0, map;
            int ret = blk_block_status(blk, pos, size - pos, &pnum, &map,
                                       NULL);
            if (ret < 0 || pnum <= 0) {
                break;
            }
            if (i < 8) {
                blk_pread(blk, pos, MIN(pnum, (int64_t)sizeof(buf)), buf, 0);
            }
            pos += pnum;
        }
        blk_unref(blk);

        /*
         * Read-write: one allocating write, zeroes and a flush.  Dirty
         * images are left out: opening them read-write runs the refcount
         * repair of qcow2-check.c, which fuzz-qcow2-check covers.
         */
        if (n >= 80 && d[7] == 3 && (d[79] & 1)) {
            close(fd);
            return 0;
        }
        opts = json_object_new_object();
        json_object_object_add(opts, "driver",
                               json_object_new_string("qcow2"));
        json_object_object_add(opts, "backing", NULL);
        blk = blk_new_open(graph, path, opts,
                           BLOCK_OPEN_RDWR | BLOCK_OPEN_NO_BACKING, NULL);
        if (blk) {
            int64_t size = blk_getlength(blk);
            if (size > 0) {
                memset(buf, 0x5a, sizeof(buf));
                blk_pwrite(blk, size / 3, MIN(size - size / 3, 1000), buf,
                           0);
                blk_pwrite_zeroes(blk, 0, MIN(size, 65536), 0);
                blk_flush(blk);
            }
            blk_unref(blk);
        }
    }
    close(fd);
    return 0;
}
