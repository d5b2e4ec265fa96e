/*
 * Unit tests for the self-contained qcow2 checker: images laid out by the
 * format layer, corrupted by byte edits, checked and repaired through a
 * file node, with the findings asserted from the result and report log.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/block/qcow2/qcow2-check.h"
#include "../../lib/block/qcow2/qcow2-format.h"
#include "qx/block/block-backend.h"
#include "qx/util/coroutine.h"

#define CS 65536

typedef struct Fixture {
    char *dir;
    char *path;
} Fixture;

/* A fresh 2 GiB qcow2 image (4 L1 entries, 64 KiB clusters, 16-bit
 * refcounts). */
static void make_image(Fixture *f)
{
    Qcow2CreateOpts o = {
        .size = 2ull * 1024 * 1024 * 1024,
        .cluster_bits = 16,
        .version = 3,
        .refcount_order = 4,
    };
    Qcow2Layout l;
    int fd;

    f->dir = g_strdup("/tmp/qx-test-qcow2-check-XXXXXX");
    g_assert_nonnull(g_mkdtemp(f->dir));
    f->path = g_build_filename(f->dir, "t.qcow2", NULL);
    g_assert_true(qcow2_layout_create(&o, &l, &error_abort));
    fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    g_assert_cmpint(fd, >=, 0);
    for (size_t i = 0; i < l.nb_writes; i++) {
        g_assert_cmpint(pwrite(fd, l.writes[i].data, l.writes[i].len,
                               (off_t)l.writes[i].offset),
                        ==, (ssize_t)l.writes[i].len);
    }
    g_assert_cmpint(ftruncate(fd, (off_t)l.file_length), ==, 0);
    close(fd);
    qcow2_layout_free(&l);
}

static void free_image(Fixture *f)
{
    unlink(f->path);
    rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static uint64_t read_be64(Fixture *f, uint64_t offset)
{
    uint8_t b[8];
    int fd = open(f->path, O_RDONLY);

    g_assert_cmpint(pread(fd, b, 8, (off_t)offset), ==, 8);
    close(fd);
    return qcow2_be64(b);
}

static void write_bytes(Fixture *f, uint64_t offset, const void *buf,
                        size_t len)
{
    int fd = open(f->path, O_RDWR);

    g_assert_cmpint(pwrite(fd, buf, len, (off_t)offset), ==, (ssize_t)len);
    close(fd);
}

static void write_be64(Fixture *f, uint64_t offset, uint64_t v)
{
    uint8_t b[8];

    qcow2_put_be64(b, v);
    write_bytes(f, offset, b, 8);
}

static void write_be16(Fixture *f, uint64_t offset, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

    write_bytes(f, offset, b, 2);
}

/* Offset of the 16-bit refcount of cluster (first refblock). */
static uint64_t refcount_entry(Fixture *f, uint64_t cluster)
{
    uint64_t reftable = read_be64(f, 48);

    return read_be64(f, reftable) + 2 * cluster;
}

typedef struct CheckRun {
    BlockNode *node;
    BlockCheckResult *res;
    unsigned fix;
    Error **errp;
    int ret;
} CheckRun;

static void check_entry(void *opaque)
{
    CheckRun *r = opaque;

    r->ret = qcow2_check_file_co(r->node, r->res, r->fix, r->errp);
}

/* Opens the file, checks it, returns the check's return value. */
static int run_check(Fixture *f, unsigned fix, BlockCheckResult *res,
                     Error **errp)
{
    BlockGraph *graph = block_graph_new(qx_loop_current(), &error_abort);
    json_object *opts = json_object_new_object();
    BlockBackend *blk;
    CheckRun r = { .res = res, .fix = fix, .errp = errp };

    json_object_object_add(opts, "driver", json_object_new_string("file"));
    blk = blk_new_open(graph, f->path, opts,
                       fix ? BLOCK_OPEN_RDWR | BLOCK_OPEN_RESIZE : 0,
                       &error_abort);
    r.node = blk_node(blk);
    qx_co_run(qx_loop_current(), check_entry, &r);
    blk_unref(blk);
    block_graph_free(graph);
    return r.ret;
}

static void test_clean(void)
{
    Fixture f;
    g_autoptr(GString) log = g_string_new(NULL);
    BlockCheckResult res = { .log = log };

    make_image(&f);
    g_assert_cmpint(run_check(&f, 0, &res, &error_abort), ==, 0);
    g_assert_cmpint(res.corruptions, ==, 0);
    g_assert_cmpint(res.leaks, ==, 0);
    g_assert_cmpint(res.check_errors, ==, 0);
    g_assert_cmpint(res.total_clusters, ==, 32768);
    g_assert_cmpint(res.allocated_clusters, ==, 0);
    /* header, reftable, refblock, L1 */
    g_assert_cmpint(res.image_end_offset, ==, 4 * CS);
    g_assert_cmpstr(log->str, ==, "");
    free_image(&f);
}

static void test_leak_repair(void)
{
    Fixture f;
    g_autoptr(GString) log = g_string_new(NULL);
    BlockCheckResult res = { .log = log };
    uint8_t zero[CS] = { 0 };

    make_image(&f);
    write_bytes(&f, 4 * CS, zero, CS);
    write_be16(&f, refcount_entry(&f, 4), 1);
    g_assert_cmpint(run_check(&f, 0, &res, &error_abort), ==, 0);
    g_assert_cmpint(res.leaks, ==, 1);
    g_assert_cmpint(res.corruptions, ==, 0);
    g_assert_cmpstr(log->str, ==, "Leaked cluster 4 refcount=1 reference=0\n");

    g_string_truncate(log, 0);
    g_assert_cmpint(run_check(&f, BLOCK_FIX_LEAKS, &res, &error_abort), ==,
                    0);
    g_assert_cmpint(res.leaks_fixed, ==, 1);
    g_assert_cmpint(res.leaks, ==, 0);
    /* As QEMU: reported by the first pass, repaired by the second. */
    g_assert_cmpstr(log->str, ==,
                    "Leaked cluster 4 refcount=1 reference=0\n"
                    "Repairing cluster 4 refcount=1 reference=0\n");

    g_string_truncate(log, 0);
    g_assert_cmpint(run_check(&f, 0, &res, &error_abort), ==, 0);
    g_assert_cmpint(res.leaks + res.corruptions, ==, 0);
    free_image(&f);
}

static void test_rebuild(void)
{
    Fixture f;
    g_autoptr(GString) log = g_string_new(NULL);
    BlockCheckResult res = { .log = log };

    make_image(&f);
    /* The L1 table's cluster (3) claims to be free. */
    write_be16(&f, refcount_entry(&f, 3), 0);
    g_assert_cmpint(run_check(&f, 0, &res, &error_abort), ==, 0);
    g_assert_cmpint(res.corruptions, ==, 1);
    g_assert_true(strstr(log->str, "ERROR cluster 3 refcount=0 "
                         "reference=1\n"));

    /* -r leaks cannot help: the structure needs a rebuild. */
    g_string_truncate(log, 0);
    g_assert_cmpint(run_check(&f, BLOCK_FIX_LEAKS, &res, &error_abort), ==,
                    -EIO);
    g_assert_true(strstr(log->str, "ERROR need to rebuild refcount "
                         "structures\n"));

    g_string_truncate(log, 0);
    g_assert_cmpint(run_check(&f, BLOCK_FIX_LEAKS | BLOCK_FIX_ERRORS, &res,
                              &error_abort), ==, 0);
    g_assert_true(strstr(log->str, "Rebuilding refcount structure\n"));
    g_assert_cmpint(res.corruptions_fixed, ==, 1);
    g_assert_cmpint(res.corruptions, ==, 0);

    g_string_truncate(log, 0);
    g_assert_cmpint(run_check(&f, 0, &res, &error_abort), ==, 0);
    g_assert_cmpint(res.leaks + res.corruptions + res.check_errors, ==, 0);
    free_image(&f);
}

static void test_hostile_l1(void)
{
    Fixture f;
    g_autoptr(GString) log = g_string_new(NULL);
    BlockCheckResult res = { .log = log };
    uint64_t l1 = 3 * CS;

    make_image(&f);
    write_be64(&f, l1, QCOW2_OFLAG_COPIED | (1ull << 50));
    write_be64(&f, l1 + 8, 0x1234);
    g_assert_cmpint(run_check(&f, 0, &res, &error_abort), ==, 0);
    g_assert_cmpint(res.corruptions, >=, 2);
    g_assert_true(strstr(log->str, "exceeding the end of the file"));
    g_assert_true(strstr(log->str, "ERROR l2_offset=1200: Table is not "
                         "cluster aligned; L1 entry corrupted\n"));
    free_image(&f);
}

static void test_bad_header(void)
{
    Fixture f;
    BlockCheckResult res = { 0 };
    Error *err = NULL;

    make_image(&f);
    /* l1_size far beyond QEMU's 32 MiB L1 limit */
    write_bytes(&f, 36, "\x10\x00\x00\x00", 4);
    g_assert_cmpint(run_check(&f, 0, &res, &err), <, 0);
    g_assert_cmpstr(error_get_pretty(err), ==, "Active L1 table too large");
    error_free(err);
    free_image(&f);
}

int main(int argc, char **argv)
{
    QxLoop *loop;

    g_test_init(&argc, &argv, NULL);
    loop = qx_loop_new(&error_abort);
    qx_loop_set_current(loop);
    g_test_add_func("/qcow2-check/clean", test_clean);
    g_test_add_func("/qcow2-check/leak-repair", test_leak_repair);
    g_test_add_func("/qcow2-check/rebuild", test_rebuild);
    g_test_add_func("/qcow2-check/hostile-l1", test_hostile_l1);
    g_test_add_func("/qcow2-check/bad-header", test_bad_header);
    return g_test_run();
}
