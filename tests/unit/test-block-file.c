/*
 * Unit tests for the file protocol driver (lib/block/file-posix*.c) on a
 * sparse temporary file: data path, zero writes, discard, block status,
 * truncate, O_DIRECT and creation.  Each I/O test runs once per aio
 * backend (/block-file/threads/... and /block-file/io_uring/...); the
 * io_uring runs skip where the kernel refuses io_uring.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qx/block/block-backend.h"
#include "qx/block/driver.h"
#include "qx/util/coroutine.h"

typedef struct Env {
    QxLoop *loop;
    BlockGraph *graph;
    BlockBackend *blk;
    char *dir;
    char *path;
} Env;

static char *make_dir(void)
{
    char *dir = g_strdup("/tmp/qx-test-block-file-XXXXXX");
    g_assert_nonnull(g_mkdtemp(dir));
    return dir;
}

/* Makes a sparse file of size bytes with 0x5a data at [data_off, +len). */
static void make_file(const char *path, int64_t size, int64_t data_off,
                      int64_t len)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    g_autofree uint8_t *buf = g_malloc(len > 0 ? (size_t)len : 1);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    if (len > 0) {
        memset(buf, 0x5a, (size_t)len);
        g_assert_cmpint(pwrite(fd, buf, (size_t)len, data_off), ==, len);
    }
    close(fd);
}

static int64_t file_blocks(const char *path)
{
    struct stat st;
    g_assert_cmpint(stat(path, &st), ==, 0);
    return (int64_t)st.st_blocks * 512;
}

/*
 * Opens path with the file driver and backend; false (test skipped) when
 * io_uring is unavailable here.
 */
static bool env_open(Env *env, const char *backend, const char *extra_key,
                     bool extra_val)
{
    json_object *opts = json_object_new_object();
    Error *err = NULL;

    env->loop = qx_loop_current();
    env->graph = block_graph_new(env->loop, &error_abort);
    json_object_object_add(opts, "driver", json_object_new_string("file"));
    json_object_object_add(opts, "filename",
                           json_object_new_string(env->path));
    json_object_object_add(opts, "aio", json_object_new_string(backend));
    json_object_object_add(opts, "discard", json_object_new_string("unmap"));
    if (extra_key) {
        json_object_object_add(opts, extra_key,
                               json_object_new_boolean(extra_val));
    }
    env->blk = blk_new_open(env->graph, NULL, opts,
                            BLOCK_OPEN_RDWR | BLOCK_OPEN_RESIZE, &err);
    if (!env->blk) {
        g_assert_cmpstr(backend, ==, "io_uring");
        g_test_skip(error_get_pretty(err));
        error_free(err);
        block_graph_free(env->graph);
        return false;
    }
    return true;
}

static void env_setup(Env *env)
{
    memset(env, 0, sizeof(*env));
    env->dir = make_dir();
    env->path = g_build_filename(env->dir, "img.raw", NULL);
}

static void env_teardown(Env *env)
{
    if (env->blk) {
        blk_unref(env->blk);
        block_graph_free(env->graph);
    }
    unlink(env->path);
    rmdir(env->dir);
    g_free(env->path);
    g_free(env->dir);
}

static void store_ret(void *opaque, int ret)
{
    *(int *)opaque = ret;
}

static void test_read_write(const void *data)
{
    const char *backend = data;
    Env env;
    uint8_t buf[12288];
    uint8_t back[12288];

    env_setup(&env);
    make_file(env.path, 1 << 20, 65536, 65536);
    if (env_open(&env, backend, NULL, false)) {
        g_assert_cmpint(blk_getlength(env.blk), ==, 1 << 20);
        g_assert_cmpint(blk_pread(env.blk, 65536 - 100, 200, back, 0), ==, 0);
        for (int i = 0; i < 100; i++) {
            g_assert_cmpint(back[i], ==, 0);
            g_assert_cmpint(back[100 + i], ==, 0x5a);
        }
        for (size_t i = 0; i < sizeof(buf); i++) {
            buf[i] = (uint8_t)(i * 13);
        }
        g_assert_cmpint(blk_pwrite(env.blk, 777, sizeof(buf), buf, 0), ==, 0);
        g_assert_cmpint(blk_flush(env.blk), ==, 0);
        g_assert_cmpint(blk_pread(env.blk, 777, sizeof(back), back, 0), ==,
                        0);
        g_assert_cmpmem(buf, sizeof(buf), back, sizeof(back));
        /* Vectored read into two separate buffers. */
        BlockIOVec qiov;
        int ret = 1;
        memset(back, 0, sizeof(back));
        block_iov_init(&qiov, 2);
        block_iov_add(&qiov, back, 1000);
        block_iov_add(&qiov, back + 5000, 3000);
        blk_aio_preadv(env.blk, 777, &qiov, 0, store_ret, &ret);
        blk_drain(env.blk);
        g_assert_cmpint(ret, ==, 0);
        g_assert_cmpmem(back, 1000, buf, 1000);
        g_assert_cmpmem(back + 5000, 3000, buf + 1000, 3000);
        block_iov_destroy(&qiov);
    }
    env_teardown(&env);
}

static void test_zeroes_and_discard(const void *data)
{
    const char *backend = data;
    Env env;
    uint8_t buf[65536];
    uint8_t zero[65536] = {0};
    int64_t before;

    env_setup(&env);
    make_file(env.path, 1 << 20, 0, 1 << 20);
    if (env_open(&env, backend, NULL, false)) {
        before = file_blocks(env.path);
        /* Zero write that may unmap: punches a hole. */
        g_assert_cmpint(blk_pwrite_zeroes(env.blk, 65536, 65536,
                                          BLOCK_REQ_MAY_UNMAP),
                        ==, 0);
        g_assert_cmpint(blk_pread(env.blk, 65536, 65536, buf, 0), ==, 0);
        g_assert_cmpmem(buf, sizeof(buf), zero, sizeof(zero));
        g_assert_cmpint(file_blocks(env.path), <, before);
        /* Plain zero write of an unaligned range. */
        g_assert_cmpint(blk_pwrite_zeroes(env.blk, 200000, 5000, 0), ==, 0);
        g_assert_cmpint(blk_pread(env.blk, 200000, 5000, buf, 0), ==, 0);
        g_assert_cmpmem(buf, 5000, zero, 5000);
        g_assert_cmpint(blk_pread(env.blk, 199999, 1, buf, 0), ==, 0);
        g_assert_cmpint(buf[0], ==, 0x5a);
        /* Discard deallocates (discard=unmap on the node). */
        before = file_blocks(env.path);
        g_assert_cmpint(blk_pdiscard(env.blk, 524288, 262144), ==, 0);
        g_assert_cmpint(file_blocks(env.path), <=, before - 262144);
    }
    env_teardown(&env);
}

static void test_block_status(const void *data)
{
    const char *backend = data;
    Env env;
    int64_t pnum;
    int64_t map;
    BlockNode *file;
    int ret;

    env_setup(&env);
    make_file(env.path, 1 << 20, 262144, 131072);
    if (env_open(&env, backend, NULL, false)) {
        ret = blk_block_status(env.blk, 0, 1 << 20, &pnum, &map, &file);
        g_assert_cmpint(ret, >=, 0);
        g_assert_true(ret & BLOCK_STATUS_ZERO);
        g_assert_false(ret & BLOCK_STATUS_DATA);
        g_assert_true(ret & BLOCK_STATUS_OFFSET_VALID);
        g_assert_cmpint(pnum, ==, 262144);
        g_assert_cmpint(map, ==, 0);
        g_assert_true(file == blk_node(env.blk));

        ret = blk_block_status(env.blk, 262144, 1 << 20, &pnum, &map, NULL);
        g_assert_true(ret & BLOCK_STATUS_DATA);
        g_assert_true(ret & BLOCK_STATUS_ALLOCATED);
        g_assert_cmpint(pnum, ==, 131072);
        g_assert_cmpint(map, ==, 262144);

        ret = blk_block_status(env.blk, 393216, 1 << 20, &pnum, &map, NULL);
        g_assert_true(ret & BLOCK_STATUS_ZERO);
        g_assert_true(ret & BLOCK_STATUS_EOF);
        g_assert_cmpint(pnum, ==, (1 << 20) - 393216);

        ret = blk_block_status(env.blk, 1 << 20, 512, &pnum, &map, NULL);
        g_assert_cmpint(pnum, ==, 0);
    }
    env_teardown(&env);
}

static void test_truncate(const void *data)
{
    const char *backend = data;
    Env env;
    Error *err = NULL;
    struct stat st;

    env_setup(&env);
    make_file(env.path, 65536, 0, 0);
    if (env_open(&env, backend, NULL, false)) {
        g_assert_cmpint(blk_truncate(env.blk, 1 << 20, true,
                                     BLOCK_PREALLOC_FULL, 0, &error_abort),
                        ==, 0);
        g_assert_cmpint(blk_getlength(env.blk), ==, 1 << 20);
        g_assert_cmpint(file_blocks(env.path), >=, (1 << 20) - 65536);
        g_assert_cmpint(blk_truncate(env.blk, 2 << 20, true,
                                     BLOCK_PREALLOC_FALLOC, 0, &error_abort),
                        ==, 0);
        g_assert_cmpint(file_blocks(env.path), >=, (2 << 20) - 65536);
        g_assert_cmpint(blk_truncate(env.blk, 4096, true, BLOCK_PREALLOC_OFF,
                                     0, &error_abort),
                        ==, 0);
        g_assert_cmpint(stat(env.path, &st), ==, 0);
        g_assert_cmpint(st.st_size, ==, 4096);
        g_assert_cmpint(blk_getlength(env.blk), ==, 4096);
        /* Preallocation cannot shrink. */
        g_assert_cmpint(blk_truncate(env.blk, 512, true,
                                     BLOCK_PREALLOC_FULL, 0, &err),
                        <, 0);
        g_assert_cmpstr(error_get_pretty(err), ==,
                        "Cannot use preallocation for shrinking files");
        error_free(err);
    }
    env_teardown(&env);
}

/* O_DIRECT: the core must align everything for the driver. */
static void test_direct(const void *data)
{
    const char *backend = data;
    Env env;
    uint8_t buf[3000];
    uint8_t back[3000];

    env_setup(&env);
    make_file(env.path, 1 << 20, 0, 1 << 20);
    if (env_open(&env, backend, "cache.direct", true)) {
        const BlockLimits *l = block_node_get_limits(blk_node(env.blk));
        g_assert_cmpint(l->request_alignment, >=, 512);
        g_assert_cmpint(l->min_mem_alignment, >=, 512);
        for (size_t i = 0; i < sizeof(buf); i++) {
            buf[i] = (uint8_t)(i ^ 0x3c);
        }
        /* Unaligned offset, length and buffer. */
        g_assert_cmpint(blk_pwrite(env.blk, 1001, 2999, buf + 1, 0), ==, 0);
        g_assert_cmpint(blk_pread(env.blk, 1000, 3000, back, 0), ==, 0);
        g_assert_cmpint(back[0], ==, 0x5a);
        g_assert_cmpmem(back + 1, 2999, buf + 1, 2999);
        g_assert_cmpint(blk_pread(env.blk, 4000, 1, back, 0), ==, 0);
        g_assert_cmpint(back[0], ==, 0x5a);
    }
    env_teardown(&env);
}

static void test_create_prealloc(void)
{
    QxLoop *loop = qx_loop_current();
    BlockGraph *graph = block_graph_new(loop, &error_abort);
    g_autofree char *dir = make_dir();
    static const char *const modes[] = {"off", "falloc", "full"};

    for (int i = 0; i < 3; i++) {
        g_autofree char *path = g_build_filename(dir, modes[i], NULL);
        BlockCreateOpts *opts = block_create_opts_for(
            block_driver_find("raw"), path, &error_abort);
        struct stat st;

        g_assert_true(block_create_opts_set(opts, "size", "1000000",
                                            &error_abort));
        g_assert_true(block_create_opts_set(opts, "preallocation", modes[i],
                                            &error_abort));
        g_assert_cmpint(block_create(graph, block_driver_find("raw"), path,
                                     opts, &error_abort),
                        ==, 0);
        g_assert_cmpint(stat(path, &st), ==, 0);
        /* Sizes are rounded up to whole sectors, as QEMU does. */
        g_assert_cmpint(st.st_size, ==, 1000448);
        if (i == 0) {
            g_assert_cmpint(st.st_blocks * 512, <=, 4096);
        } else {
            g_assert_cmpint(st.st_blocks * 512, >=, 1000448);
        }
        block_create_opts_free(opts);
        unlink(path);
    }
    rmdir(dir);
    block_graph_free(graph);
}

static void test_open_errors(void)
{
    QxLoop *loop = qx_loop_current();
    BlockGraph *graph = block_graph_new(loop, &error_abort);
    Error *err = NULL;

    g_assert_null(block_open(graph, "/nonexistent/x.raw", NULL, 0, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Could not open '/nonexistent/x.raw': No such file or "
                    "directory");
    error_free_or_null(&err);

    json_object *opts = json_object_new_object();
    json_object_object_add(opts, "driver", json_object_new_string("file"));
    json_object_object_add(opts, "filename", json_object_new_string("/"));
    json_object_object_add(opts, "aio", json_object_new_string("bogus"));
    g_assert_null(block_open(graph, NULL, opts, 0, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "invalid parameter value: bogus");
    error_free_or_null(&err);

    opts = json_object_new_object();
    json_object_object_add(opts, "driver", json_object_new_string("file"));
    json_object_object_add(opts, "filename",
                           json_object_new_string("/dev/null"));
    g_assert_null(block_open(graph, NULL, opts, 0, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "'file' driver requires '/dev/null' to be a regular "
                    "file");
    error_free_or_null(&err);
    block_graph_free(graph);
}

int main(int argc, char **argv)
{
    static const char *const backends[] = {"threads", "io_uring"};
    QxLoop *loop;

    g_test_init(&argc, &argv, NULL);
    loop = qx_loop_new(&error_abort);
    qx_loop_set_current(loop);

    for (int i = 0; i < 2; i++) {
        const char *b = backends[i];
        g_autofree char *p1 = g_strdup_printf("/block-file/%s/read-write", b);
        g_autofree char *p2 = g_strdup_printf("/block-file/%s/zeroes", b);
        g_autofree char *p3 = g_strdup_printf("/block-file/%s/status", b);
        g_autofree char *p4 = g_strdup_printf("/block-file/%s/truncate", b);
        g_autofree char *p5 = g_strdup_printf("/block-file/%s/direct", b);
        g_test_add_data_func(p1, b, test_read_write);
        g_test_add_data_func(p2, b, test_zeroes_and_discard);
        g_test_add_data_func(p3, b, test_block_status);
        g_test_add_data_func(p4, b, test_truncate);
        g_test_add_data_func(p5, b, test_direct);
    }
    g_test_add_func("/block-file/create-prealloc", test_create_prealloc);
    g_test_add_func("/block-file/open-errors", test_open_errors);
    return g_test_run();
}
