/*
 * Unit tests for the file I/O backends (include/qx/util/aio.h).  Every data
 * test runs once per backend, as /aio/threads/... and /aio/io_uring/....
 * The io_uring cases skip (with the reason) where the kernel refuses
 * io_uring, unless QX_TEST_REQUIRE_IO_URING is set, which makes that a
 * failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/falloc.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "qx/util/aio.h"
#include "qx/util/coroutine.h"
#include "qx/util/error.h"

static const QxAioBackend backend_threads = QX_AIO_THREADS;
static const QxAioBackend backend_io_uring = QX_AIO_IO_URING;

typedef struct Env {
    QxLoop *loop;
    ThreadPool *pool;
    QxAio *aio;
    char *path;
    int fd;
} Env;

/* Creates loop, pool and backend; false (test skipped) without io_uring. */
static bool env_init(Env *env, const void *data)
{
    QxAioBackend backend = *(const QxAioBackend *)data;
    Error *err = NULL;

    memset(env, 0, sizeof(*env));
    env->fd = -1;
    env->loop = qx_loop_new(&error_abort);
    qx_loop_set_current(env->loop);
    env->pool = qx_thread_pool_new(env->loop, 8);
    env->aio = qx_aio_new(env->loop, backend, env->pool, &err);
    if (!env->aio) {
        g_assert_cmpint(backend, ==, QX_AIO_IO_URING);
        g_assert_nonnull(
            strstr(error_get_pretty(err), "failed to initialize io_uring"));
        if (g_getenv("QX_TEST_REQUIRE_IO_URING")) {
            g_test_message("%s", error_get_pretty(err));
            g_test_fail();
        } else {
            g_test_skip(error_get_pretty(err));
        }
        error_free(err);
        qx_thread_pool_free(env->pool);
        qx_loop_free(env->loop);
        qx_loop_set_current(NULL);
        return false;
    }
    g_assert_cmpint(qx_aio_get_backend(env->aio), ==, backend);
    return true;
}

/* Creates an empty temporary file with extra open flags; -errno on error. */
static int env_open_tmp(Env *env, int flags)
{
    env->path = g_build_filename(g_get_tmp_dir(), "qx-test-aio-XXXXXX", NULL);
    env->fd = g_mkstemp_full(env->path, O_RDWR | flags, 0600);
    if (env->fd < 0) {
        int err = errno;

        g_free(env->path);
        env->path = NULL;
        return -err;
    }
    return 0;
}

static void env_cleanup(Env *env)
{
    if (env->fd >= 0) {
        close(env->fd);
    }
    if (env->path) {
        unlink(env->path);
        g_free(env->path);
    }
    qx_aio_free(env->aio);
    qx_thread_pool_free(env->pool);
    qx_loop_free(env->loop);
    qx_loop_set_current(NULL);
}

/* Byte i of pattern seed: varies with both, so misplaced data shows. */
static uint8_t pattern_byte(unsigned seed, uint64_t pos)
{
    return (uint8_t)(pos * 7 + (pos >> 8) * 13 + seed * 101 + 1);
}

static void pattern_fill(uint8_t *buf, size_t len, unsigned seed, uint64_t pos)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = pattern_byte(seed, pos + i);
    }
}

/* Splits buf into iovcnt pieces of the given lengths. */
static int iov_split(struct iovec *iov, uint8_t *buf, const size_t *lens, int n)
{
    size_t off = 0;

    for (int i = 0; i < n; i++) {
        iov[i].iov_base = buf + off;
        iov[i].iov_len = lens[i];
        off += lens[i];
    }
    return n;
}

static size_t sum(const size_t *lens, int n)
{
    size_t total = 0;

    for (int i = 0; i < n; i++) {
        total += lens[i];
    }
    return total;
}

/* ---- vectored writes and reads at various offsets and lengths ---- */

typedef struct RwCase {
    uint64_t offset;
    int n;
    size_t lens[6];
} RwCase;

#define RW_FILE_SIZE ((1 << 20) + 4096)

/* The last case ends the file. */
static const RwCase rw_cases[] = {
    {0, 1, {4096}},
    {4095, 3, {1, 4096, 511}},
    {65536 + 3, 4, {100, 0, 200000, 17}},
    {1 << 20, 6, {512, 512, 512, 1, 2, 3}},
    {3 * 4096 + 100, 2, {70000, 70000}},
    {(1 << 20) + 1000, 1, {1}},
    {RW_FILE_SIZE - 4101, 2, {4000, 101}},
};

static void do_rw_vectored(void *opaque)
{
    Env *env = opaque;
    g_autofree uint8_t *model = g_malloc0(RW_FILE_SIZE);
    g_autofree uint8_t *buf = NULL;
    g_autofree uint8_t *check = NULL;
    struct iovec iov[6];
    ssize_t ret;

    for (size_t c = 0; c < G_N_ELEMENTS(rw_cases); c++) {
        const RwCase *rc = &rw_cases[c];
        size_t total = sum(rc->lens, rc->n);

        buf = g_realloc(buf, total);
        pattern_fill(buf, total, c, rc->offset);
        memcpy(model + rc->offset, buf, total);
        iov_split(iov, buf, rc->lens, rc->n);
        ret = qx_aio_pwritev_co(env->aio, env->fd, iov, rc->n, rc->offset);
        g_assert_cmpint(ret, ==, total);
    }

    /* Independent check through plain pread(). */
    check = g_malloc(RW_FILE_SIZE);
    g_assert_cmpint(pread(env->fd, check, RW_FILE_SIZE, 0), ==, RW_FILE_SIZE);
    g_assert_cmpmem(check, RW_FILE_SIZE, model, RW_FILE_SIZE);

    /* Read every case back, split differently from how it was written. */
    for (size_t c = 0; c < G_N_ELEMENTS(rw_cases); c++) {
        const RwCase *rc = &rw_cases[c];
        size_t total = sum(rc->lens, rc->n);
        size_t lens[3] = {total / 3, 0, total - total / 3};

        buf = g_realloc(buf, total);
        memset(buf, 0xee, total);
        iov_split(iov, buf, lens, 3);
        ret = qx_aio_preadv_co(env->aio, env->fd, iov, 3, rc->offset);
        g_assert_cmpint(ret, ==, total);
        g_assert_cmpmem(buf, total, model + rc->offset, total);
    }

    /* One read over the whole file in uneven pieces. */
    {
        size_t lens[5] = {1, 4095, 12345, 1 << 19, 0};

        lens[4] = RW_FILE_SIZE - sum(lens, 4);
        memset(check, 0xee, RW_FILE_SIZE);
        iov_split(iov, check, lens, 5);
        ret = qx_aio_preadv_co(env->aio, env->fd, iov, 5, 0);
        g_assert_cmpint(ret, ==, RW_FILE_SIZE);
        g_assert_cmpmem(check, RW_FILE_SIZE, model, RW_FILE_SIZE);
    }
}

static void test_rw_vectored(const void *data)
{
    Env env;

    if (!env_init(&env, data)) {
        return;
    }
    g_assert_cmpint(env_open_tmp(&env, 0), ==, 0);
    qx_co_run(env.loop, do_rw_vectored, &env);
    env_cleanup(&env);
}

/* ---- reads at and past end of file ---- */

#define EOF_FILE_SIZE 10000

static void do_read_eof(void *opaque)
{
    Env *env = opaque;
    uint8_t data[EOF_FILE_SIZE];
    uint8_t buf[16384];
    size_t lens[3] = {3000, 5000, 8000};
    struct iovec iov[3];
    ssize_t ret;

    pattern_fill(data, sizeof(data), 9, 0);
    g_assert_cmpint(pwrite(env->fd, data, sizeof(data), 0), ==, sizeof(data));

    /* Short read that ends inside the third element. */
    memset(buf, 0xee, sizeof(buf));
    iov_split(iov, buf, lens, 3);
    ret = qx_aio_preadv_co(env->aio, env->fd, iov, 3, 0);
    g_assert_cmpint(ret, ==, EOF_FILE_SIZE);
    g_assert_cmpmem(buf, EOF_FILE_SIZE, data, EOF_FILE_SIZE);
    g_assert_cmpint(buf[EOF_FILE_SIZE], ==, 0xee);

    /* Short read from the middle. */
    iov[0].iov_base = buf;
    iov[0].iov_len = 8192;
    ret = qx_aio_preadv_co(env->aio, env->fd, iov, 1, 4096);
    g_assert_cmpint(ret, ==, EOF_FILE_SIZE - 4096);
    g_assert_cmpmem(buf, EOF_FILE_SIZE - 4096, data + 4096,
                    EOF_FILE_SIZE - 4096);

    /* At and beyond end of file: 0. */
    ret = qx_aio_preadv_co(env->aio, env->fd, iov, 1, EOF_FILE_SIZE);
    g_assert_cmpint(ret, ==, 0);
    ret = qx_aio_preadv_co(env->aio, env->fd, iov, 1, 1 << 30);
    g_assert_cmpint(ret, ==, 0);

    /* Nothing asked, nothing done. */
    ret = qx_aio_preadv_co(env->aio, env->fd, iov, 0, 0);
    g_assert_cmpint(ret, ==, 0);
}

static void test_read_eof(const void *data)
{
    Env env;

    if (!env_init(&env, data)) {
        return;
    }
    g_assert_cmpint(env_open_tmp(&env, 0), ==, 0);
    qx_co_run(env.loop, do_read_eof, &env);
    env_cleanup(&env);
}

/* ---- O_DIRECT with aligned buffers ---- */

#define DIRECT_ALIGN 4096
#define DIRECT_LEN (64 * 1024)

typedef struct DirectCtx {
    Env *env;
    bool unsupported;
} DirectCtx;

static void do_o_direct(void *opaque)
{
    DirectCtx *ctx = opaque;
    Env *env = ctx->env;
    void *wbuf = NULL;
    void *rbuf = NULL;
    struct iovec iov[2];
    ssize_t ret;

    g_assert_cmpint(posix_memalign(&wbuf, DIRECT_ALIGN, DIRECT_LEN), ==, 0);
    g_assert_cmpint(posix_memalign(&rbuf, DIRECT_ALIGN, DIRECT_LEN), ==, 0);
    pattern_fill(wbuf, DIRECT_LEN, 3, 0);

    iov[0].iov_base = wbuf;
    iov[0].iov_len = 3 * DIRECT_ALIGN;
    iov[1].iov_base = (uint8_t *)wbuf + 3 * DIRECT_ALIGN;
    iov[1].iov_len = DIRECT_LEN - 3 * DIRECT_ALIGN;
    ret = qx_aio_pwritev_co(env->aio, env->fd, iov, 2, 5 * DIRECT_ALIGN);
    if (ret == -EINVAL) {
        /* The filesystem opened O_DIRECT but refuses such I/O. */
        ctx->unsupported = true;
        goto out;
    }
    g_assert_cmpint(ret, ==, DIRECT_LEN);

    memset(rbuf, 0xee, DIRECT_LEN);
    iov[0].iov_base = rbuf;
    iov[0].iov_len = DIRECT_ALIGN;
    iov[1].iov_base = (uint8_t *)rbuf + DIRECT_ALIGN;
    iov[1].iov_len = DIRECT_LEN - DIRECT_ALIGN;
    ret = qx_aio_preadv_co(env->aio, env->fd, iov, 2, 5 * DIRECT_ALIGN);
    g_assert_cmpint(ret, ==, DIRECT_LEN);
    g_assert_cmpmem(rbuf, DIRECT_LEN, wbuf, DIRECT_LEN);

    /* The hole before the data reads as zeros; a read past EOF is short. */
    iov[0].iov_base = rbuf;
    iov[0].iov_len = DIRECT_LEN;
    ret = qx_aio_preadv_co(env->aio, env->fd, iov, 1, 0);
    g_assert_cmpint(ret, ==, DIRECT_LEN);
    for (size_t i = 0; i < 5 * DIRECT_ALIGN; i++) {
        g_assert_cmpint(((uint8_t *)rbuf)[i], ==, 0);
    }
    g_assert_cmpmem((uint8_t *)rbuf + 5 * DIRECT_ALIGN,
                    DIRECT_LEN - 5 * DIRECT_ALIGN, wbuf,
                    DIRECT_LEN - 5 * DIRECT_ALIGN);
    ret = qx_aio_preadv_co(env->aio, env->fd, iov, 1, 10 * DIRECT_ALIGN);
    g_assert_cmpint(ret, ==, DIRECT_LEN - 5 * DIRECT_ALIGN);

    /*
     * A size that is not a multiple of the block: the read ends at an
     * unaligned offset, where a further O_DIRECT read would be EINVAL.
     */
    g_assert_cmpint(ftruncate(env->fd, 15 * DIRECT_ALIGN + 1000), ==, 0);
    memset(rbuf, 0xee, DIRECT_LEN);
    iov[0].iov_base = rbuf;
    iov[0].iov_len = 2 * DIRECT_ALIGN;
    iov[1].iov_base = (uint8_t *)rbuf + 2 * DIRECT_ALIGN;
    iov[1].iov_len = DIRECT_LEN - 2 * DIRECT_ALIGN;
    ret = qx_aio_preadv_co(env->aio, env->fd, iov, 2, 12 * DIRECT_ALIGN);
    g_assert_cmpint(ret, ==, 3 * DIRECT_ALIGN + 1000);
    g_assert_cmpmem(rbuf, ret, (uint8_t *)wbuf + 7 * DIRECT_ALIGN, ret);
    ret = qx_aio_preadv_co(env->aio, env->fd, iov, 2, 16 * DIRECT_ALIGN);
    g_assert_cmpint(ret, ==, 0);

out:
    free(wbuf);
    free(rbuf);
}

static void test_o_direct(const void *data)
{
    Env env;
    DirectCtx ctx = {.env = &env};
    int ret;

    if (!env_init(&env, data)) {
        return;
    }
    ret = env_open_tmp(&env, O_DIRECT);
    if (ret == -EINVAL) {
        g_test_skip("the temporary directory refuses O_DIRECT");
        env_cleanup(&env);
        return;
    }
    g_assert_cmpint(ret, ==, 0);
    qx_co_run(env.loop, do_o_direct, &ctx);
    if (ctx.unsupported) {
        g_test_skip("the temporary directory refuses O_DIRECT I/O");
    }
    env_cleanup(&env);
}

/* ---- many concurrent coroutines, beyond the io_uring ring size ---- */

#define CONC_COROUTINES 256
#define CONC_REGION 16384
#define CONC_ROUNDS 3

typedef struct ConcCtx {
    Env *env;
    unsigned finished;
    unsigned busy;
    unsigned max_busy;
    bool done;
} ConcCtx;

typedef struct ConcWorker {
    ConcCtx *ctx;
    unsigned index;
} ConcWorker;

/* Length of worker i's data in round r: odd sizes, never a whole region. */
static size_t conc_len(unsigned i, unsigned r)
{
    return 4096 + (i * 131 + r * 977) % (CONC_REGION - 4096);
}

static void conc_enter_io(ConcCtx *ctx)
{
    ctx->busy++;
    if (ctx->busy > ctx->max_busy) {
        ctx->max_busy = ctx->busy;
    }
}

static void conc_worker(void *opaque)
{
    ConcWorker *w = opaque;
    ConcCtx *ctx = w->ctx;
    uint64_t offset = (uint64_t)w->index * CONC_REGION;
    uint8_t *wbuf = g_malloc(CONC_REGION);
    uint8_t *rbuf = g_malloc(CONC_REGION);
    struct iovec iov[2];
    ssize_t ret;

    for (unsigned r = 0; r < CONC_ROUNDS; r++) {
        size_t len = conc_len(w->index, r);
        size_t lens[2] = {len / 2, len - len / 2};

        pattern_fill(wbuf, len, w->index * CONC_ROUNDS + r, offset);
        iov_split(iov, wbuf, lens, 2);
        conc_enter_io(ctx);
        ret = qx_aio_pwritev_co(ctx->env->aio, ctx->env->fd, iov, 2, offset);
        ctx->busy--;
        g_assert_cmpint(ret, ==, len);

        memset(rbuf, 0, CONC_REGION);
        iov[0].iov_base = rbuf;
        iov[0].iov_len = len;
        conc_enter_io(ctx);
        ret = qx_aio_preadv_co(ctx->env->aio, ctx->env->fd, iov, 1, offset);
        ctx->busy--;
        g_assert_cmpint(ret, ==, len);
        g_assert_cmpmem(rbuf, len, wbuf, len);
    }
    g_free(wbuf);
    g_free(rbuf);
    if (++ctx->finished == CONC_COROUTINES) {
        ctx->done = true;
    }
}

static void test_concurrent(const void *data)
{
    Env env;
    ConcCtx ctx = {.env = &env};
    ConcWorker workers[CONC_COROUTINES];
    g_autofree uint8_t *file = NULL;
    g_autofree uint8_t *expect = NULL;
    size_t file_len = (size_t)CONC_COROUTINES * CONC_REGION;

    if (!env_init(&env, data)) {
        return;
    }
    g_assert_cmpint(env_open_tmp(&env, 0), ==, 0);
    for (unsigned i = 0; i < CONC_COROUTINES; i++) {
        workers[i].ctx = &ctx;
        workers[i].index = i;
        qx_coroutine_enter(qx_coroutine_create(conc_worker, &workers[i]));
    }
    /* Every worker has issued its first write before any completed. */
    g_assert_cmpint(ctx.max_busy, ==, CONC_COROUTINES);
    qx_loop_run_until(env.loop, &ctx.done);
    g_assert_cmpint(ctx.finished, ==, CONC_COROUTINES);

    /* The file holds each worker's last round, in its own region only. */
    file = g_malloc(file_len);
    expect = g_malloc0(file_len);
    g_assert_cmpint(pread(env.fd, file, file_len, 0), >=, 0);
    for (unsigned i = 0; i < CONC_COROUTINES; i++) {
        uint64_t offset = (uint64_t)i * CONC_REGION;
        size_t longest = 0;

        for (unsigned r = 0; r < CONC_ROUNDS; r++) {
            size_t len = conc_len(i, r);

            pattern_fill(expect + offset, len, i * CONC_ROUNDS + r, offset);
            longest = MAX(longest, len);
        }
        g_assert_cmpmem(file + offset, longest, expect + offset, longest);
    }
    env_cleanup(&env);
}

/* ---- fsync and fdatasync ---- */

static void do_fsync(void *opaque)
{
    Env *env = opaque;
    uint8_t buf[4096];
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    int pipefd[2];

    pattern_fill(buf, sizeof(buf), 5, 0);
    g_assert_cmpint(qx_aio_pwritev_co(env->aio, env->fd, &iov, 1, 0), ==,
                    sizeof(buf));
    g_assert_cmpint(qx_aio_fsync_co(env->aio, env->fd, true), ==, 0);
    g_assert_cmpint(qx_aio_pwritev_co(env->aio, env->fd, &iov, 1, 8192), ==,
                    sizeof(buf));
    g_assert_cmpint(qx_aio_fsync_co(env->aio, env->fd, false), ==, 0);

    /* A pipe cannot be synced. */
    g_assert_cmpint(pipe(pipefd), ==, 0);
    g_assert_cmpint(qx_aio_fsync_co(env->aio, pipefd[0], false), ==, -EINVAL);
    g_assert_cmpint(qx_aio_fsync_co(env->aio, pipefd[1], true), ==, -EINVAL);
    close(pipefd[0]);
    close(pipefd[1]);
}

static void test_fsync(const void *data)
{
    Env env;
    struct stat st;

    if (!env_init(&env, data)) {
        return;
    }
    g_assert_cmpint(env_open_tmp(&env, 0), ==, 0);
    qx_co_run(env.loop, do_fsync, &env);
    g_assert_cmpint(fstat(env.fd, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 12288);
    env_cleanup(&env);
}

/* ---- fallocate: allocation and punching holes ---- */

#define FALLOC_LEN (256 * 1024)

typedef struct FallocCtx {
    Env *env;
    bool no_punch;
} FallocCtx;

static void do_fallocate(void *opaque)
{
    FallocCtx *ctx = opaque;
    Env *env = ctx->env;
    g_autofree uint8_t *buf = g_malloc(FALLOC_LEN);
    struct iovec iov = {.iov_base = buf, .iov_len = FALLOC_LEN};
    struct stat st;
    int ret;

    /* Mode 0 extends the file with zeros. */
    ret = qx_aio_fallocate_co(env->aio, env->fd, 0, 0, FALLOC_LEN);
    g_assert_cmpint(ret, ==, 0);
    g_assert_cmpint(fstat(env->fd, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, FALLOC_LEN);

    memset(buf, 0xaa, FALLOC_LEN);
    g_assert_cmpint(qx_aio_pwritev_co(env->aio, env->fd, &iov, 1, 0), ==,
                    FALLOC_LEN);

    ret = qx_aio_fallocate_co(env->aio, env->fd,
                              FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 8192,
                              65536);
    if (ret == -EOPNOTSUPP) {
        ctx->no_punch = true;
        return;
    }
    g_assert_cmpint(ret, ==, 0);
    g_assert_cmpint(fstat(env->fd, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, FALLOC_LEN);

    memset(buf, 0x55, FALLOC_LEN);
    g_assert_cmpint(qx_aio_preadv_co(env->aio, env->fd, &iov, 1, 0), ==,
                    FALLOC_LEN);
    for (size_t i = 0; i < FALLOC_LEN; i++) {
        uint8_t want = (i >= 8192 && i < 8192 + 65536) ? 0 : 0xaa;

        if (buf[i] != want) {
            g_error("byte %zu is 0x%02x, expected 0x%02x", i, buf[i], want);
        }
    }

    /* Invalid arguments are the kernel's or the generic layer's -EINVAL. */
    ret = qx_aio_fallocate_co(env->aio, env->fd, 0, 0, 0);
    g_assert_cmpint(ret, ==, -EINVAL);
    ret = qx_aio_fallocate_co(env->aio, env->fd, 0, UINT64_MAX, 4096);
    g_assert_cmpint(ret, ==, -EINVAL);
}

static void test_fallocate(const void *data)
{
    Env env;
    FallocCtx ctx = {.env = &env};

    if (!env_init(&env, data)) {
        return;
    }
    g_assert_cmpint(env_open_tmp(&env, 0), ==, 0);
    qx_co_run(env.loop, do_fallocate, &ctx);
    if (ctx.no_punch) {
        g_test_skip("the temporary directory cannot punch holes");
    }
    env_cleanup(&env);
}

/* ---- error paths ---- */

static void do_errors(void *opaque)
{
    Env *env = opaque;
    uint8_t buf[4096];
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    int closed_fd;
    int dir_fd;
    int ro_fd;

    memset(buf, 0x5a, sizeof(buf));
    closed_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(closed_fd, >=, 0);
    close(closed_fd);
    g_assert_cmpint(qx_aio_preadv_co(env->aio, closed_fd, &iov, 1, 0), ==,
                    -EBADF);
    g_assert_cmpint(qx_aio_pwritev_co(env->aio, closed_fd, &iov, 1, 0), ==,
                    -EBADF);
    g_assert_cmpint(qx_aio_fsync_co(env->aio, closed_fd, true), ==, -EBADF);
    g_assert_cmpint(qx_aio_fallocate_co(env->aio, closed_fd, 0, 0, 4096), ==,
                    -EBADF);
    g_assert_cmpint(qx_aio_preadv_co(env->aio, -1, &iov, 1, 0), ==, -EBADF);

    dir_fd = open(g_get_tmp_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_assert_cmpint(dir_fd, >=, 0);
    g_assert_cmpint(qx_aio_preadv_co(env->aio, dir_fd, &iov, 1, 0), ==,
                    -EISDIR);
    close(dir_fd);

    /* Writing through a read-only descriptor. */
    ro_fd = open(env->path, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(ro_fd, >=, 0);
    g_assert_cmpint(qx_aio_pwritev_co(env->aio, ro_fd, &iov, 1, 0), ==, -EBADF);
    close(ro_fd);

    /* Arguments the generic layer rejects before any backend sees them. */
    g_assert_cmpint(qx_aio_preadv_co(env->aio, env->fd, &iov, -1, 0), ==,
                    -EINVAL);
    g_assert_cmpint(qx_aio_preadv_co(env->aio, env->fd, &iov, IOV_MAX + 1, 0),
                    ==, -EINVAL);
    g_assert_cmpint(
        qx_aio_preadv_co(env->aio, env->fd, &iov, 1, (uint64_t)INT64_MAX + 1),
        ==, -EINVAL);
    g_assert_cmpint(qx_aio_pwritev_co(env->aio, env->fd, &iov, 1, UINT64_MAX),
                    ==, -EINVAL);
    g_assert_cmpint(
        qx_aio_pwritev_co(env->aio, env->fd, &iov, 1, INT64_MAX - 100), ==,
        -EINVAL);
}

static void test_errors(const void *data)
{
    Env env;

    if (!env_init(&env, data)) {
        return;
    }
    g_assert_cmpint(env_open_tmp(&env, 0), ==, 0);
    qx_co_run(env.loop, do_errors, &env);
    env_cleanup(&env);
}

/* ---- short writes: RLIMIT_FSIZE cuts a write, the rest gets -EFBIG ---- */

#define FSIZE_LIMIT 20000
#define SHORT_LEN 16384

static void do_short_write(void *opaque)
{
    Env *env = opaque;
    g_autofree uint8_t *buf = g_malloc(SHORT_LEN);
    size_t lens[3] = {4096, 4096, 8192};
    struct iovec iov[3];
    struct rlimit old;
    struct rlimit lim;
    ssize_t ret;

    g_assert_cmpint(getrlimit(RLIMIT_FSIZE, &old), ==, 0);
    lim = old;
    lim.rlim_cur = FSIZE_LIMIT;
    g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &lim), ==, 0);

    pattern_fill(buf, SHORT_LEN, 1, 0);
    iov_split(iov, buf, lens, 3);
    /* Ending exactly at the limit is fine. */
    ret = qx_aio_pwritev_co(env->aio, env->fd, iov, 3, FSIZE_LIMIT - SHORT_LEN);
    g_assert_cmpint(ret, ==, SHORT_LEN);
    ret = qx_aio_pwritev_co(env->aio, env->fd, iov, 3, 100);
    g_assert_cmpint(ret, ==, SHORT_LEN);
    /*
     * Crossing it: the kernel writes up to the limit (ending inside the
     * third element), the backend resubmits the rest, which gets EFBIG.
     */
    ret = qx_aio_pwritev_co(env->aio, env->fd, iov, 3, 4000);
    g_assert_cmpint(ret, ==, -EFBIG);

    g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &old), ==, 0);
}

static void test_short_write(const void *data)
{
    Env env;
    struct stat st;
    g_autofree uint8_t *buf = g_malloc(FSIZE_LIMIT);
    g_autofree uint8_t *expect = g_malloc0(FSIZE_LIMIT);

    if (!env_init(&env, data)) {
        return;
    }
    g_assert_cmpint(env_open_tmp(&env, 0), ==, 0);
    /* The write crossing the limit would otherwise kill us with SIGXFSZ. */
    signal(SIGXFSZ, SIG_IGN);
    qx_co_run(env.loop, do_short_write, &env);
    signal(SIGXFSZ, SIG_DFL);

    /* The part of the failed write below the limit did land. */
    pattern_fill(expect + 100, 3900, 1, 0);
    pattern_fill(expect + 4000, FSIZE_LIMIT - 4000, 1, 0);
    g_assert_cmpint(fstat(env.fd, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, FSIZE_LIMIT);
    g_assert_cmpint(pread(env.fd, buf, FSIZE_LIMIT, 0), ==, FSIZE_LIMIT);
    g_assert_cmpmem(buf, FSIZE_LIMIT, expect, FSIZE_LIMIT);
    env_cleanup(&env);
}

/* ---- backend names ---- */

static void test_backend_parse(void)
{
    QxAioBackend b;
    Error *err = NULL;

    g_assert_true(qx_aio_backend_parse("threads", &b, &error_abort));
    g_assert_cmpint(b, ==, QX_AIO_THREADS);
    g_assert_true(qx_aio_backend_parse("io_uring", &b, &error_abort));
    g_assert_cmpint(b, ==, QX_AIO_IO_URING);
    g_assert_cmpstr(qx_aio_backend_name(QX_AIO_THREADS), ==, "threads");
    g_assert_cmpstr(qx_aio_backend_name(QX_AIO_IO_URING), ==, "io_uring");

    b = QX_AIO_THREADS;
    g_assert_false(qx_aio_backend_parse("native", &b, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "aio backend 'native' (Linux AIO) is not supported");
    g_assert_nonnull(strstr(error_get_hint(err), "io_uring"));
    error_free_or_null(&err);
    g_assert_cmpint(b, ==, QX_AIO_THREADS);

    g_assert_false(qx_aio_backend_parse("io-uring", &b, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "invalid aio backend 'io-uring'");
    error_free_or_null(&err);
    g_assert_false(qx_aio_backend_parse("", &b, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "invalid aio backend ''");
    error_free_or_null(&err);
}

/* ---- io_uring refused by seccomp: a clear error for the fallback ---- */

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef TEST_AUDIT_ARCH
/* Makes io_uring_setup() fail with EPERM, as container runtimes do. */
static void deny_io_uring_setup(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {
        .len = G_N_ELEMENTS(filter),
        .filter = filter,
    };

    g_assert_cmpint(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), ==, 0);
    g_assert_cmpint(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), ==, 0);
}
#endif

static void test_io_uring_denied(void)
{
#ifdef TEST_AUDIT_ARCH
    if (g_test_subprocess()) {
        QxLoop *loop = qx_loop_new(&error_abort);
        Error *err = NULL;
        QxAio *aio;

        deny_io_uring_setup();
        aio = qx_aio_new(loop, QX_AIO_IO_URING, NULL, &err);
        g_assert_null(aio);
        printf("%s\n", error_get_pretty(err));
        error_free(err);
        /* The fallback works under the same filter. */
        aio = qx_aio_new(loop, QX_AIO_THREADS, NULL, &error_abort);
        qx_aio_free(aio);
        qx_loop_free(loop);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
    g_test_trap_assert_stdout(
        "failed to initialize io_uring: Operation not permitted\n");
#else
    g_test_skip("no seccomp architecture constant for this machine");
#endif
}

static void add_backend_tests(const char *name, const QxAioBackend *backend)
{
    static const struct {
        const char *name;
        GTestDataFunc fn;
    } cases[] = {
        {"rw-vectored", test_rw_vectored},
        {"read-eof", test_read_eof},
        {"o-direct", test_o_direct},
        {"concurrent", test_concurrent},
        {"fsync", test_fsync},
        {"fallocate", test_fallocate},
        {"errors", test_errors},
        {"short-write", test_short_write},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/aio/%s/%s", name, cases[i].name);

        g_test_add_data_func(path, backend, cases[i].fn);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    add_backend_tests("threads", &backend_threads);
    add_backend_tests("io_uring", &backend_io_uring);
    g_test_add_func("/aio/backend-parse", test_backend_parse);
    g_test_add_func("/aio/io_uring/denied-by-seccomp", test_io_uring_denied);
    return g_test_run();
}
