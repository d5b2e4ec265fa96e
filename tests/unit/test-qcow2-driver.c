/*
 * Unit tests for the qcow2 driver through BlockBackend: create, open
 * policy (feature bits, corrupt bit, data file), read/write/zero/discard,
 * backing files, block status, resize, concurrent writers.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qx/block/block-backend.h"
#include "qx/block/driver.h"
#include "qx/util/coroutine.h"

typedef struct Fixture {
    char *dir;
    char *path;
    BlockGraph *graph;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->dir = g_strdup("/tmp/qx-test-qcow2-XXXXXX");
    g_assert_nonnull(g_mkdtemp(f->dir));
    f->path = g_build_filename(f->dir, "img.qcow2", NULL);
    f->graph = block_graph_new(qx_loop_current(), &error_abort);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);
        unlink(p);
    }
    rmdir(f->dir);
    block_graph_free(f->graph);
    g_free(f->path);
    g_free(f->dir);
}

static void create(Fixture *f, const char *path, const char *opts,
                   int64_t size, const char *backing)
{
    BlockImgCreateParams p = {
        .filename = path,
        .fmt = "qcow2",
        .options = opts,
        .img_size = size,
        .quiet = true,
        .base_filename = backing,
        .base_fmt = backing ? "qcow2" : NULL,
    };

    g_assert_true(block_img_create(f->graph, &p, &error_abort));
}

static BlockBackend *open_rw(Fixture *f, const char *path, Error **errp)
{
    return blk_new_open(f->graph, path, NULL,
                        BLOCK_OPEN_RDWR | BLOCK_OPEN_RESIZE, errp);
}

static void fill(BlockBackend *blk, int64_t off, int64_t len, int c)
{
    g_autofree uint8_t *buf = g_malloc(len);

    memset(buf, c, len);
    g_assert_cmpint(blk_pwrite(blk, off, len, buf, 0), ==, 0);
}

static void expect(BlockBackend *blk, int64_t off, int64_t len, int c)
{
    g_autofree uint8_t *buf = g_malloc(len);

    g_assert_cmpint(blk_pread(blk, off, len, buf, 0), ==, 0);
    for (int64_t i = 0; i < len; i++) {
        if (buf[i] != c) {
            g_error("byte %" PRId64 ": %#x, expected %#x", off + i, buf[i],
                    c);
        }
    }
}

/* Patches bytes of the image file directly. */
static void poke(const char *path, off_t off, const void *data, size_t len)
{
    int fd = open(path, O_RDWR);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pwrite(fd, data, len, off), ==, (ssize_t)len);
    close(fd);
}

static void poke_be64(const char *path, off_t off, uint64_t v)
{
    uint8_t b[8];

    for (int i = 7; i >= 0; i--) {
        b[i] = v & 0xff;
        v >>= 8;
    }
    poke(path, off, b, 8);
}

static void test_rw_roundtrip(Fixture *f, gconstpointer data)
{
    const char *opts = data;
    BlockBackend *blk;

    create(f, f->path, opts, 4 << 20, NULL);
    blk = open_rw(f, f->path, &error_abort);
    g_assert_cmpstr(block_node_get_format(blk_node(blk)), ==, "qcow2");
    g_assert_cmpint(blk_getlength(blk), ==, 4 << 20);
    expect(blk, 0, 65536, 0);
    fill(blk, 1000, 200000, 0x5a);
    fill(blk, 3 << 20, 65536, 0x11);
    fill(blk, 1100, 10, 0x22);
    expect(blk, 0, 1000, 0);
    expect(blk, 1000, 100, 0x5a);
    expect(blk, 1100, 10, 0x22);
    expect(blk, 1110, 199890, 0x5a);
    blk_unref(blk);

    /* Everything reached the file: reopen and read again. */
    blk = open_rw(f, f->path, &error_abort);
    expect(blk, 1000, 100, 0x5a);
    expect(blk, 1100, 10, 0x22);
    expect(blk, 201000, 100, 0);
    expect(blk, 3 << 20, 65536, 0x11);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 131072, 0), ==, 0);
    expect(blk, 0, 131072, 0);
    expect(blk, 131072, 1000, 0x5a);
    blk_unref(blk);
}

static void test_block_status(Fixture *f, gconstpointer data)
{
    BlockBackend *blk;
    int64_t pnum, map;
    BlockNode *file;
    int ret;

    create(f, f->path, NULL, 1 << 20, NULL);
    blk = open_rw(f, f->path, &error_abort);
    fill(blk, 65536, 131072, 1);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 262144, 65536, 0), ==, 0);

    ret = blk_block_status(blk, 0, 1 << 20, &pnum, &map, &file);
    g_assert_cmpint(ret, >=, 0);
    g_assert_cmpint(pnum, ==, 65536);
    g_assert_false(ret & BLOCK_STATUS_ALLOCATED);
    g_assert_true(ret & BLOCK_STATUS_ZERO);

    ret = blk_block_status(blk, 65536, 1 << 20, &pnum, &map, &file);
    g_assert_true(ret & BLOCK_STATUS_DATA);
    g_assert_true(ret & BLOCK_STATUS_OFFSET_VALID);
    g_assert_cmpint(pnum, ==, 131072); /* two contiguous clusters */
    g_assert_true(file == block_node_get_file(blk_node(blk)));

    ret = blk_block_status(blk, 262144, 1 << 20, &pnum, &map, &file);
    g_assert_true(ret & BLOCK_STATUS_ZERO);
    g_assert_true(ret & BLOCK_STATUS_ALLOCATED);
    g_assert_cmpint(pnum, ==, 65536);
    blk_unref(blk);
}

static void test_backing(Fixture *f, gconstpointer data)
{
    g_autofree char *base = g_build_filename(f->dir, "base.qcow2", NULL);
    BlockBackend *blk;

    create(f, base, NULL, 2 << 20, NULL);
    blk = open_rw(f, base, &error_abort);
    fill(blk, 0, 2 << 20, 0x61);
    blk_unref(blk);

    create(f, f->path, NULL, -1, "base.qcow2");
    blk = open_rw(f, f->path, &error_abort);
    g_assert_cmpstr(block_node_get_backing_file(blk_node(blk)), ==,
                    "base.qcow2");
    g_assert_cmpstr(block_node_get_backing_format(blk_node(blk)), ==,
                    "qcow2");
    g_assert_nonnull(block_node_get_backing(blk_node(blk)));
    g_assert_cmpint(blk_getlength(blk), ==, 2 << 20);
    expect(blk, 0, 2 << 20, 0x61);
    fill(blk, 70000, 10, 0x62);
    expect(blk, 65536, 4464, 0x61);
    expect(blk, 70000, 10, 0x62);
    expect(blk, 70010, 61062, 0x61);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 65536, 0), ==, 0);
    expect(blk, 0, 65536, 0);
    blk_unref(blk);
}

static void test_backing_cycle(Fixture *f, gconstpointer data)
{
    Error *err = NULL;
    BlockBackend *blk;

    /* An image that is its own backing file. */
    create(f, f->path, NULL, 1 << 20, NULL);
    {
        BlockImgCreateParams p = {
            .filename = f->path,
            .fmt = "qcow2",
            .img_size = 1 << 20,
            .quiet = true,
            .base_filename = "img2.qcow2",
            .base_fmt = "qcow2",
            .no_backing_open = true,
        };
        g_autofree char *p2 = g_build_filename(f->dir, "img2.qcow2", NULL);
        g_assert_true(block_img_create(f->graph, &p, &error_abort));
        p.filename = p2;
        p.base_filename = "img.qcow2";
        g_assert_true(block_img_create(f->graph, &p, &error_abort));
    }
    blk = blk_new_open(f->graph, f->path, NULL, 0, &err);
    g_assert_null(blk);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(error_get_pretty(err), "too deep"));
    error_free(err);
}

static void test_refuse_unknown_feature(Fixture *f, gconstpointer data)
{
    Error *err = NULL;

    create(f, f->path, NULL, 1 << 20, NULL);
    poke_be64(f->path, 72, 1ull << 40);
    g_assert_null(open_rw(f, f->path, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Unsupported qcow2 feature(s): Unknown incompatible "
                    "feature: 10000000000");
    error_free(err);
}

static void test_corrupt_bit(Fixture *f, gconstpointer data)
{
    Error *err = NULL;
    BlockBackend *blk;

    create(f, f->path, NULL, 1 << 20, NULL);
    poke_be64(f->path, 72, 2);
    g_assert_null(open_rw(f, f->path, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "qcow2: Image is corrupt; cannot be opened read/write");
    error_free(err);
    /* Read-only is allowed. */
    blk = blk_new_open(f->graph, f->path, NULL, 0, &error_abort);
    expect(blk, 0, 4096, 0);
    blk_unref(blk);
}

static void test_data_file_refused(Fixture *f, gconstpointer data)
{
    Error *err = NULL;

    create(f, f->path, NULL, 1 << 20, NULL);
    poke_be64(f->path, 72, 4);
    g_assert_null(open_rw(f, f->path, &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "external data file"));
    error_free(err);
}

static void test_invalid_l2_marks_corrupt(Fixture *f, gconstpointer data)
{
    BlockBackend *blk;
    uint8_t buf[512];
    uint8_t hdr[8];
    int fd;
    uint64_t l1;

    create(f, f->path, NULL, 1 << 20, NULL);
    blk = open_rw(f, f->path, &error_abort);
    fill(blk, 0, 4096, 1);
    blk_unref(blk);
    fd = open(f->path, O_RDONLY);
    g_assert_cmpint(pread(fd, hdr, 8, 40), ==, 8);
    close(fd);
    l1 = 0;
    for (int i = 0; i < 8; i++) {
        l1 = (l1 << 8) | hdr[i];
    }
    /* L2 table pointing at the refcount table */
    poke_be64(f->path, (off_t)l1, 0x8000000000010000ull);
    blk = open_rw(f, f->path, &error_abort);
    g_assert_cmpint(blk_pread(blk, 0, 512, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_pread(blk, 0, 512, buf, 0), ==, -EIO);
    blk_unref(blk);
    fd = open(f->path, O_RDONLY);
    g_assert_cmpint(pread(fd, hdr, 8, 72), ==, 8);
    close(fd);
    g_assert_cmpint(hdr[7] & 2, ==, 2);
}

static void test_resize(Fixture *f, gconstpointer data)
{
    BlockBackend *blk;

    create(f, f->path, "cluster_size=512", 1 << 20, NULL);
    blk = open_rw(f, f->path, &error_abort);
    fill(blk, 0, 1 << 20, 0x41);
    g_assert_cmpint(blk_truncate(blk, 64 << 20, true, BLOCK_PREALLOC_OFF, 0,
                                 &error_abort), ==, 0);
    g_assert_cmpint(blk_getlength(blk), ==, 64 << 20);
    fill(blk, (64 << 20) - 4096, 4096, 0x42);
    expect(blk, 1 << 20, 4096, 0);
    blk_unref(blk);
    blk = open_rw(f, f->path, &error_abort);
    g_assert_cmpint(blk_getlength(blk), ==, 64 << 20);
    expect(blk, 0, 1 << 20, 0x41);
    expect(blk, (64 << 20) - 4096, 4096, 0x42);
    g_assert_cmpint(blk_truncate(blk, 512 << 10, true, BLOCK_PREALLOC_OFF, 0,
                                 &error_abort), ==, 0);
    expect(blk, 0, 512 << 10, 0x41);
    blk_unref(blk);
}

static void test_compressed(Fixture *f, gconstpointer data)
{
    const char *opts = data;
    int64_t cs = strstr(opts, "512") ? 512 : 65536;
    g_autofree uint8_t *buf = g_malloc(4 * cs);
    g_autofree uint8_t *back = g_malloc(4 * cs);
    BlockBackend *blk;
    int64_t pnum, map;
    int ret;

    for (int64_t i = 0; i < 4 * cs; i++) {
        buf[i] = (uint8_t)(i / 7 % 5);
    }
    create(f, f->path, opts, 8 * cs, NULL);
    blk = open_rw(f, f->path, &error_abort);
    g_assert_cmpint(blk_pwrite(blk, 0, 4 * cs, buf,
                               BLOCK_REQ_WRITE_COMPRESSED), ==, 0);
    /* Not cluster aligned: refused. */
    g_assert_cmpint(blk_pwrite(blk, 4 * cs + 1, cs, buf,
                               BLOCK_REQ_WRITE_COMPRESSED), ==, -EINVAL);
    /* Over an allocated cluster: refused, as QEMU does. */
    g_assert_cmpint(blk_pwrite(blk, 0, cs, buf, BLOCK_REQ_WRITE_COMPRESSED),
                    ==, -EIO);
    ret = blk_block_status(blk, 0, 8 * cs, &pnum, &map, NULL);
    g_assert_cmpint(ret & (BLOCK_STATUS_DATA | BLOCK_STATUS_OFFSET_VALID),
                    ==, BLOCK_STATUS_DATA);
    g_assert_cmpint(pnum, ==, cs);
    blk_unref(blk);

    blk = open_rw(f, f->path, &error_abort);
    g_assert_cmpint(blk_pread(blk, 0, 4 * cs, back, 0), ==, 0);
    g_assert_cmpmem(buf, 4 * cs, back, 4 * cs);
    /* A partial overwrite copies the compressed cluster out. */
    fill(blk, cs + 3, 10, 0xee);
    expect(blk, cs + 3, 10, 0xee);
    g_assert_cmpint(blk_pread(blk, cs + 13, cs - 13, back, 0), ==, 0);
    g_assert_cmpmem(buf + cs + 13, cs - 13, back, cs - 13);
    blk_unref(blk);
}

static void test_l2_past_eof(Fixture *f, gconstpointer data)
{
    Error *err = NULL;
    BlockBackend *blk;
    uint8_t buf[512];
    uint8_t hdr[8];
    uint64_t l1 = 0;
    int fd;

    create(f, f->path, NULL, 1 << 20, NULL);
    fd = open(f->path, O_RDONLY);
    g_assert_cmpint(pread(fd, hdr, 8, 40), ==, 8);
    close(fd);
    for (int i = 0; i < 8; i++) {
        l1 = (l1 << 8) | hdr[i];
    }
    poke_be64(f->path, (off_t)l1, 0x8000000100000000ull);
    /* Read-only: reported, the request fails, the image is untouched. */
    blk = blk_new_open(f->graph, f->path, NULL, 0, &error_abort);
    g_assert_cmpint(blk_pread(blk, 0, 512, buf, 0), ==, -EIO);
    blk_unref(blk);
    blk = open_rw(f, f->path, &error_abort);
    g_assert_cmpint(blk_pwrite(blk, 0, 512, buf, 0), ==, -EIO);
    blk_unref(blk);
    g_assert_null(open_rw(f, f->path, &err));
    error_free(err);
}

typedef struct Concurrent {
    int pending;
    int errors;
} Concurrent;

static void concurrent_done(void *opaque, int ret)
{
    Concurrent *c = opaque;

    c->pending--;
    c->errors += ret < 0;
}

static void test_concurrent_writes(Fixture *f, gconstpointer data)
{
    enum { N = 32, LEN = 4096 };
    BlockBackend *blk;
    Concurrent c = { 0 };
    uint8_t *bufs[N];
    BlockIOVec qiov[N];

    create(f, f->path, NULL, 4 << 20, NULL);
    blk = open_rw(f, f->path, &error_abort);
    /* Many writers into the same few clusters at once. */
    for (int i = 0; i < N; i++) {
        bufs[i] = g_malloc(LEN);
        memset(bufs[i], i + 1, LEN);
        block_iov_init_buf(&qiov[i], bufs[i], LEN);
        c.pending++;
        blk_aio_pwritev(blk, (int64_t)i * LEN * 5, &qiov[i], 0,
                        concurrent_done, &c);
    }
    while (c.pending) {
        qx_loop_run_once(qx_loop_current(), true);
    }
    g_assert_cmpint(c.errors, ==, 0);
    for (int i = 0; i < N; i++) {
        expect(blk, (int64_t)i * LEN * 5, LEN, i + 1);
        expect(blk, (int64_t)i * LEN * 5 + LEN, LEN, 0);
        g_free(bufs[i]);
    }
    blk_unref(blk);
}

/* In-place writes, discards and reads of different clusters at once. */
static void test_concurrent_mixed(Fixture *f, gconstpointer data)
{
    enum { CS = 65536 };
    BlockBackend *blk;
    Concurrent c = { 0 };
    uint8_t *bufs[64];
    BlockIOVec qiov[64];
    json_object *opts = json_object_new_object();

    create(f, f->path, NULL, 64 * CS, NULL);
    json_object_object_add(opts, "discard", json_object_new_string("unmap"));
    blk = blk_new_open(f->graph, f->path, opts, BLOCK_OPEN_RDWR,
                       &error_abort);
    fill(blk, 0, 64 * CS, 0x77);
    for (int i = 0; i < 64; i++) {
        bufs[i] = g_malloc(CS);
        memset(bufs[i], i < 32 ? i + 1 : 0, CS);
        block_iov_init_buf(&qiov[i], bufs[i], CS);
        c.pending++;
        if (i < 32) {
            blk_aio_pwritev(blk, (int64_t)i * CS, &qiov[i], 0,
                            concurrent_done, &c);
        } else if (i < 48) {
            blk_aio_pdiscard(blk, (int64_t)i * CS, CS, concurrent_done, &c);
        } else {
            blk_aio_preadv(blk, (int64_t)i * CS, &qiov[i], 0,
                           concurrent_done, &c);
        }
    }
    while (c.pending) {
        qx_loop_run_once(qx_loop_current(), true);
    }
    g_assert_cmpint(c.errors, ==, 0);
    for (int i = 0; i < 64; i++) {
        if (i < 32) {
            expect(blk, (int64_t)i * CS, CS, i + 1);
        } else if (i < 48) {
            expect(blk, (int64_t)i * CS, CS, 0);
        } else {
            g_assert_cmpint(bufs[i][0], ==, 0x77);
            g_assert_cmpint(bufs[i][CS - 1], ==, 0x77);
        }
        g_free(bufs[i]);
    }
    blk_unref(blk);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qx_loop_new(&error_abort);
    error_set_progname("test-qcow2-driver");

#define ADD(name, fn, data)                                                  \
    g_test_add("/qcow2-driver/" name, Fixture, data, fixture_setup, fn,      \
               fixture_teardown)
    ADD("rw/default", test_rw_roundtrip, NULL);
    ADD("rw/v2", test_rw_roundtrip, "compat=0.10");
    ADD("rw/512", test_rw_roundtrip, "cluster_size=512");
    ADD("rw/2M", test_rw_roundtrip, "cluster_size=2M");
    ADD("rw/refcount1", test_rw_roundtrip, "refcount_bits=1");
    ADD("rw/refcount64-512", test_rw_roundtrip,
        "refcount_bits=64,cluster_size=512");
    ADD("rw/extl2", test_rw_roundtrip, "extended_l2=on");
    ADD("rw/lazy", test_rw_roundtrip, "lazy_refcounts=on");
    ADD("rw/prealloc", test_rw_roundtrip, "preallocation=metadata");
    ADD("block-status", test_block_status, NULL);
    ADD("backing", test_backing, NULL);
    ADD("backing-cycle", test_backing_cycle, NULL);
    ADD("open/unknown-feature", test_refuse_unknown_feature, NULL);
    ADD("open/corrupt-bit", test_corrupt_bit, NULL);
    ADD("open/data-file", test_data_file_refused, NULL);
    ADD("corrupt/l2-on-header", test_invalid_l2_marks_corrupt, NULL);
    ADD("resize", test_resize, NULL);
    ADD("compressed/zlib", test_compressed, "compression_type=zlib");
    ADD("compressed/zstd", test_compressed, "compression_type=zstd");
    ADD("compressed/512-refcount1", test_compressed,
        "cluster_size=512,refcount_bits=1");
    ADD("corrupt/l2-past-eof", test_l2_past_eof, NULL);
    ADD("concurrent-writes", test_concurrent_writes, NULL);
    ADD("concurrent-mixed", test_concurrent_mixed, NULL);
    return g_test_run();
}
