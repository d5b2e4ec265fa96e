/*
 * Not a test: drives our block layer on one image for
 * tests/functional/test_qcow2_rw.py (until qemu-io covers it).
 *
 *   qcow2-rw-helper [-f FMT] [-r] IMAGE OP...
 *
 * OPs run in order on one BlockBackend (opened with discard=unmap):
 *   w:OFF:LEN:BYTE        write LEN bytes of BYTE
 *   wf:OFF:LEN:FILE       write LEN bytes read from FILE at OFF
 *   wc:OFF:LEN:FILE       the same, as a compressed write
 *   r:OFF:LEN:BYTE        read and check every byte is BYTE
 *   dump:FILE             read the whole image into FILE
 *   z:OFF:LEN[:unmap]     write zeroes
 *   d:OFF:LEN             discard
 *   t:SIZE                resize (shrink allowed)
 *   flush
 *   map                   print block status extents
 * Exit code 0 when all succeeded, 1 with a message otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qx/block/block-backend.h"
#include "qx/util/opts.h"

static int64_t num(const char *s)
{
    return strtoll(s, NULL, 0);
}

static int run_op(BlockBackend *blk, const char *op)
{
    g_auto(GStrv) f = g_strsplit(op, ":", -1);
    guint n = g_strv_length(f);
    int ret = 0;

    if (strcmp(f[0], "w") == 0 && n == 4) {
        int64_t len = num(f[2]);
        g_autofree uint8_t *buf = g_malloc(len);
        memset(buf, (int)num(f[3]), len);
        ret = blk_pwrite(blk, num(f[1]), len, buf, 0);
    } else if ((strcmp(f[0], "wf") == 0 || strcmp(f[0], "wc") == 0) &&
               n == 4) {
        int64_t off = num(f[1]), len = num(f[2]);
        g_autofree uint8_t *buf = g_malloc(len);
        FILE *fp = fopen(f[3], "rb");
        if (!fp || fseek(fp, off, SEEK_SET) != 0 ||
            fread(buf, 1, len, fp) != (size_t)len) {
            fprintf(stderr, "cannot read %s\n", f[3]);
            if (fp) {
                fclose(fp);
            }
            return -EIO;
        }
        fclose(fp);
        ret = blk_pwrite(blk, off, len, buf,
                         f[0][1] == 'c' ? BLOCK_REQ_WRITE_COMPRESSED : 0);
    } else if (strcmp(f[0], "r") == 0 && n == 4) {
        int64_t len = num(f[2]);
        int c = (int)num(f[3]);
        g_autofree uint8_t *buf = g_malloc(len);
        ret = blk_pread(blk, num(f[1]), len, buf, 0);
        for (int64_t i = 0; ret >= 0 && i < len; i++) {
            if (buf[i] != c) {
                fprintf(stderr, "mismatch at %" PRId64 ": %#x != %#x\n",
                        num(f[1]) + i, buf[i], c);
                return -EIO;
            }
        }
    } else if (strcmp(f[0], "dump") == 0 && n == 2) {
        int64_t size = blk_getlength(blk);
        FILE *fp = fopen(f[1], "wb");
        g_autofree uint8_t *buf = g_malloc(1 << 20);
        for (int64_t pos = 0; fp && ret >= 0 && pos < size; pos += 1 << 20) {
            int64_t len = MIN(size - pos, 1 << 20);
            ret = blk_pread(blk, pos, len, buf, 0);
            if (ret >= 0 && fwrite(buf, 1, len, fp) != (size_t)len) {
                ret = -EIO;
            }
        }
        if (!fp) {
            return -EIO;
        }
        fclose(fp);
    } else if (strcmp(f[0], "z") == 0 && (n == 3 || n == 4)) {
        ret = blk_pwrite_zeroes(blk, num(f[1]), num(f[2]),
                                n == 4 ? BLOCK_REQ_MAY_UNMAP : 0);
    } else if (strcmp(f[0], "d") == 0 && n == 3) {
        ret = blk_pdiscard(blk, num(f[1]), num(f[2]));
    } else if (strcmp(f[0], "t") == 0 && n == 2) {
        Error *err = NULL;
        ret = blk_truncate(blk, num(f[1]), true, BLOCK_PREALLOC_OFF, 0, &err);
        if (ret < 0) {
            error_report_err(err);
        }
    } else if (strcmp(f[0], "flush") == 0) {
        ret = blk_flush(blk);
    } else if (strcmp(f[0], "map") == 0) {
        int64_t size = blk_getlength(blk);
        for (int64_t pos = 0; pos < size;) {
            int64_t pnum, map = 0;
            ret = blk_block_status(blk, pos, size - pos, &pnum, &map, NULL);
            if (ret < 0) {
                break;
            }
            printf("%" PRId64 " %" PRId64 " %#x %" PRId64 "\n", pos, pnum,
                   ret, (ret & 4) ? map : -1);
            pos += pnum;
            ret = 0;
        }
    } else {
        fprintf(stderr, "bad op '%s'\n", op);
        return -EINVAL;
    }
    if (ret < 0) {
        fprintf(stderr, "%s: %s\n", op, strerror(-ret));
    }
    return ret < 0 ? ret : 0;
}

int main(int argc, char **argv)
{
    const char *fmt = NULL;
    bool read_only = false;
    int i = 1;
    QxLoop *loop;
    BlockGraph *graph;
    BlockBackend *blk;
    json_object *opts;
    int ret = 0;

    error_set_progname("qcow2-rw-helper");
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) {
            fmt = argv[++i];
        } else if (strcmp(argv[i], "-r") == 0) {
            read_only = true;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: qcow2-rw-helper [-f FMT] [-r] IMAGE OP...\n");
        return 1;
    }
    loop = qx_loop_new(&error_fatal);
    graph = block_graph_new(loop, &error_fatal);
    opts = json_object_new_object();
    if (fmt) {
        json_object_object_add(opts, "driver", json_object_new_string(fmt));
    }
    json_object_object_add(opts, "discard", json_object_new_string("unmap"));
    blk = blk_new_open(graph, argv[i], opts,
                       read_only ? 0 : BLOCK_OPEN_RDWR | BLOCK_OPEN_RESIZE,
                       &error_fatal);
    for (i++; i < argc && ret == 0; i++) {
        ret = run_op(blk, argv[i]);
    }
    blk_unref(blk);
    block_graph_free(graph);
    return ret < 0 ? 1 : 0;
}
