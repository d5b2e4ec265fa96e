/*
 * Unit tests for the NBD client driver: filename parsing (pure), and I/O
 * against real servers (nbdkit's memory plugin and its error filter)
 * started by the test on a Unix socket.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/block/nbd-client.h"
#include "qx/block/block-backend.h"
#include "qx/util/opts.h"

/* ---- Filenames ---------------------------------------------------------- */

static void check_parse(const char *filename, const char *expect)
{
    json_object *opts = json_object_new_object();
    Error *err = NULL;

    if (!nbd_client_parse_filename(filename, opts, &err)) {
        g_assert_null(expect);
        g_assert_cmpstr(error_get_pretty(err), ==, "No valid URL specified");
        error_free(err);
    } else {
        g_autofree char *text = qx_opts_to_keyval(opts);

        g_assert_nonnull(expect);
        g_assert_cmpstr(text, ==, expect);
    }
    json_object_put(opts);
}

static void test_parse(void)
{
    check_parse("nbd://localhost:10899/exp", "export=exp,server.type=inet,"
                "server.host=localhost,server.port=10899");
    check_parse("nbd://localhost", "server.type=inet,server.host=localhost,"
                "server.port=10809");
    check_parse("nbd+tcp://127.0.0.1/", "server.type=inet,"
                "server.host=127.0.0.1,server.port=10809");
    check_parse("nbd://[::1]:99/a%20b", "export=a b,server.type=inet,"
                "server.host=::1,server.port=99");
    check_parse("nbd+unix:///e?socket=/tmp/s", "export=e,server.type=unix,"
                "server.path=/tmp/s");
    check_parse("nbd+unix://?socket=/tmp/s", "server.type=unix,"
                "server.path=/tmp/s");
    check_parse("nbd:localhost:10899:exportname=exp", "export=exp,"
                "server.type=inet,server.host=localhost,server.port=10899");
    check_parse("nbd:unix:/tmp/s", "server.type=unix,server.path=/tmp/s");
    check_parse("nbd:unix:/tmp/s:exportname=x", "export=x,server.type=unix,"
                "server.path=/tmp/s");
    /* What QEMU 7.2 refuses. */
    check_parse("nbd://localhost:10809/?x=1", NULL);
    check_parse("nbd+unix:///", NULL);
    check_parse("nbd+unix://host/?socket=/s", NULL);
    check_parse("nbd+unix:///?socket=/s&x=1", NULL);
    check_parse("nbd://", NULL);
    check_parse("nbd:", NULL);
    check_parse("nbd:unix:", NULL);
    check_parse("nbd:localhost", NULL);
    check_parse("http://x/", NULL);
}

static void test_display_name(void)
{
    g_autofree char *a = nbd_client_display_name("inet", "h", "1", NULL,
                                                 NULL);
    g_autofree char *b = nbd_client_display_name("inet", "::1", "1", NULL,
                                                 "e");
    g_autofree char *c = nbd_client_display_name("unix", NULL, NULL, "/s",
                                                 NULL);
    g_autofree char *d = nbd_client_display_name("unix", NULL, NULL, "/s",
                                                 "");

    g_assert_cmpstr(a, ==, "nbd://h:1");
    g_assert_cmpstr(b, ==, "nbd://[::1]:1/e");
    g_assert_cmpstr(c, ==, "nbd+unix://?socket=/s");
    g_assert_cmpstr(d, ==, "nbd+unix:///?socket=/s");
}

/* ---- Against nbdkit ------------------------------------------------------ */

typedef struct Server {
    GPid pid;
    char *dir;
    char *sock;
    char *uri;
} Server;

static bool server_start(Server *srv, const char *const *extra)
{
    GPtrArray *argv = g_ptr_array_new();
    GError *gerr = NULL;
    bool ok;

    if (!g_file_test("/usr/bin/nbdkit", G_FILE_TEST_IS_EXECUTABLE)) {
        return false;
    }
    srv->dir = g_strdup("/tmp/qx-test-nbd-client-XXXXXX");
    g_assert_nonnull(g_mkdtemp(srv->dir));
    srv->sock = g_build_filename(srv->dir, "sock", NULL);
    srv->uri = g_strdup_printf("nbd+unix://?socket=%s", srv->sock);
    g_ptr_array_add(argv, "/usr/bin/nbdkit");
    g_ptr_array_add(argv, "-f");
    g_ptr_array_add(argv, "-U");
    g_ptr_array_add(argv, srv->sock);
    for (const char *const *a = extra; *a; a++) {
        g_ptr_array_add(argv, (char *)*a);
    }
    g_ptr_array_add(argv, NULL);
    ok = g_spawn_async(NULL, (char **)argv->pdata, NULL,
                       G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &srv->pid,
                       &gerr);
    g_assert_no_error(gerr);
    g_ptr_array_free(argv, TRUE);
    for (int i = 0; i < 500 && !g_file_test(srv->sock, G_FILE_TEST_EXISTS);
         i++) {
        g_usleep(10000);
    }
    g_assert_true(g_file_test(srv->sock, G_FILE_TEST_EXISTS));
    return ok;
}

static void server_stop(Server *srv)
{
    int status;

    kill(srv->pid, SIGTERM);
    waitpid(srv->pid, &status, 0);
    g_spawn_close_pid(srv->pid);
    unlink(srv->sock);
    rmdir(srv->dir);
    g_free(srv->sock);
    g_free(srv->dir);
    g_free(srv->uri);
}

static BlockGraph *new_graph(void)
{
    if (!qx_loop_current()) {
        qx_loop_new(&error_abort);
    }
    return block_graph_new(qx_loop_current(), &error_abort);
}

static BlockBackend *open_uri(BlockGraph *g, const char *uri, unsigned flags,
                              Error **errp)
{
    json_object *opts = json_object_new_object();

    json_object_object_add(opts, "driver", json_object_new_string("raw"));
    return blk_new_open(g, uri, opts, flags, errp);
}

static void test_io(void)
{
    static const char *const args[] = { "memory", "size=4M", NULL };
    Server srv = { 0 };
    BlockGraph *g;
    BlockBackend *blk;
    uint8_t *buf = g_malloc(1 << 20), *back = g_malloc(1 << 20);
    int64_t pnum, map;
    BlockNode *file;
    int ret;

    if (!server_start(&srv, args)) {
        g_test_skip("nbdkit is not installed");
        return;
    }
    g = new_graph();
    blk = open_uri(g, srv.uri, BLOCK_OPEN_RDWR, &error_abort);
    g_assert_cmpint(blk_getlength(blk), ==, 4 << 20);

    /* A fresh memory disk is one hole that reads as zeroes. */
    ret = blk_block_status(blk, 0, 4 << 20, &pnum, &map, &file);
    g_assert_cmpint(ret, >=, 0);
    g_assert_false(ret & BLOCK_STATUS_DATA);
    g_assert_true(ret & BLOCK_STATUS_ZERO);

    for (int i = 0; i < (1 << 20); i++) {
        buf[i] = (uint8_t)(i * 7 + (i >> 12));
    }
    g_assert_cmpint(blk_pwrite(blk, 1 << 20, 1 << 20, buf, BLOCK_REQ_FUA),
                    ==, 0);
    g_assert_cmpint(blk_pread(blk, 1 << 20, 1 << 20, back, 0), ==, 0);
    g_assert_cmpmem(buf, 1 << 20, back, 1 << 20);
    /* Unaligned and crossing into the hole. */
    g_assert_cmpint(blk_pread(blk, (2 << 20) - 100, 300, back, 0), ==, 0);
    g_assert_cmpmem(back, 100, buf + (1 << 20) - 100, 100);
    for (int i = 100; i < 300; i++) {
        g_assert_cmpint(back[i], ==, 0);
    }
    ret = blk_block_status(blk, 1 << 20, 3 << 20, &pnum, &map, &file);
    g_assert_true(ret & BLOCK_STATUS_DATA);
    g_assert_cmpint(pnum, ==, 1 << 20);
    g_assert_cmpint(map, ==, 1 << 20);

    /* Zeroes and discard make holes again. */
    g_assert_cmpint(blk_pwrite_zeroes(blk, 1 << 20, 65536,
                                      BLOCK_REQ_MAY_UNMAP), ==, 0);
    g_assert_cmpint(blk_pread(blk, 1 << 20, 65536, back, 0), ==, 0);
    g_assert_true(block_buffer_is_zero(back, 65536));
    g_assert_cmpint(blk_pdiscard(blk, (1 << 20) + 65536, 65536), ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    /* Past the end: refused by the core, not sent. */
    g_assert_cmpint(blk_pread(blk, 4 << 20, 512, back, 0), <, 0);

    blk_unref(blk);
    block_graph_free(g);
    server_stop(&srv);
    g_free(buf);
    g_free(back);
}

typedef struct Inflight {
    int done;
    int failed;
} Inflight;

static void aio_done(void *opaque, int ret)
{
    Inflight *f = opaque;

    f->done++;
    if (ret < 0) {
        f->failed++;
    }
}

/* Many requests at once share one connection and complete in any order. */
static void test_parallel(void)
{
    static const char *const args[] = { "--filter=delay", "memory",
                                        "size=1M", "rdelay=10ms", NULL };
    enum { N = 32, LEN = 4096 };
    Server srv = { 0 };
    BlockGraph *g;
    BlockBackend *blk;
    Inflight f = { 0 };
    BlockIOVec qiov[N];
    uint8_t *bufs = g_malloc0(N * LEN);
    uint8_t *pattern = g_malloc(N * LEN);
    int64_t start;

    if (!server_start(&srv, args)) {
        g_test_skip("nbdkit is not installed");
        return;
    }
    g = new_graph();
    blk = open_uri(g, srv.uri, BLOCK_OPEN_RDWR, &error_abort);
    for (int i = 0; i < N * LEN; i++) {
        pattern[i] = (uint8_t)(i / LEN + 1);
    }
    g_assert_cmpint(blk_pwrite(blk, 0, N * LEN, pattern, 0), ==, 0);
    start = qx_clock_ns(QX_CLOCK_MONOTONIC);
    for (int i = 0; i < N; i++) {
        block_iov_init_buf(&qiov[i], bufs + i * LEN, LEN);
        blk_aio_preadv(blk, (int64_t)i * LEN, &qiov[i], 0, aio_done, &f);
    }
    while (f.done < N) {
        qx_loop_run_once(qx_loop_current(), true);
    }
    g_assert_cmpint(f.failed, ==, 0);
    g_assert_cmpmem(bufs, N * LEN, pattern, N * LEN);
    /* 32 reads of 10 ms each: far less than 320 ms if they overlapped. */
    g_assert_cmpint(qx_clock_ns(QX_CLOCK_MONOTONIC) - start, <, 250000000);
    for (int i = 0; i < N; i++) {
        block_iov_destroy(&qiov[i]);
    }
    blk_unref(blk);
    block_graph_free(g);
    server_stop(&srv);
    g_free(bufs);
    g_free(pattern);
}

static void test_errors(void)
{
    static const char *const args[] = { "--filter=error", "memory", "size=1M",
                                        "error-pread=EIO",
                                        "error-pread-rate=1", NULL };
    Server srv = { 0 };
    BlockGraph *g;
    BlockBackend *blk;
    uint8_t buf[512] = { 0 };
    Error *err = NULL;

    if (!server_start(&srv, args)) {
        g_test_skip("nbdkit is not installed");
        return;
    }
    g = new_graph();
    /* Read errors from the server reach the caller as -EIO. */
    blk = open_uri(g, srv.uri, BLOCK_OPEN_RDWR, &error_abort);
    g_assert_cmpint(blk_pread(blk, 0, 512, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_pwrite(blk, 0, 512, buf, 0), ==, 0);
    blk_unref(blk);

    /* A refused connection fails the open clearly. */
    server_stop(&srv);
    g_assert_null(open_uri(g, "nbd+unix://?socket=/nonexistent/s", 0, &err));
    g_assert_true(g_str_has_prefix(error_get_pretty(err),
                                   "Failed to connect to"));
    error_free_or_null(&err);

    /* Options we don't support are refused by name. */
    {
        json_object *opts = json_object_new_object();

        json_object_object_add(opts, "driver", json_object_new_string("nbd"));
        json_object_object_add(opts, "server.type",
                               json_object_new_string("unix"));
        json_object_object_add(opts, "server.path",
                               json_object_new_string("/nonexistent"));
        json_object_object_add(opts, "reconnect-delay",
                               json_object_new_string("5"));
        g_assert_null(blk_new_open(g, NULL, opts, 0, &err));
        g_assert_cmpstr(error_get_pretty(err), ==,
                        "NBD option 'reconnect-delay' is not supported yet");
        error_free_or_null(&err);
    }
    block_graph_free(g);
}

/* The server going away fails in-flight and later requests, no crash. */
static void test_server_dies(void)
{
    static const char *const args[] = { "memory", "size=1M", NULL };
    Server srv = { 0 };
    BlockGraph *g;
    BlockBackend *blk;
    uint8_t buf[4096] = { 0 };

    if (!server_start(&srv, args)) {
        g_test_skip("nbdkit is not installed");
        return;
    }
    g = new_graph();
    blk = open_uri(g, srv.uri, BLOCK_OPEN_RDWR, &error_abort);
    g_assert_cmpint(blk_pread(blk, 0, sizeof(buf), buf, 0), ==, 0);
    kill(srv.pid, SIGKILL);
    g_assert_cmpint(blk_pread(blk, 0, sizeof(buf), buf, 0), <, 0);
    g_assert_cmpint(blk_pwrite(blk, 0, sizeof(buf), buf, 0), <, 0);
    blk_unref(blk);
    block_graph_free(g);
    server_stop(&srv);
}

/* x-multi-conn: several connections, coherent data, bounds refused. */
static void test_multi_conn(void)
{
    static const char *const args[] = { "memory", "size=4M", NULL };
    enum { N = 64, LEN = 65536 };
    Server srv = { 0 };
    BlockGraph *g;
    BlockBackend *blk;
    Inflight f = { 0 };
    BlockIOVec qiov[N];
    uint8_t *pattern = g_malloc(N * LEN), *back = g_malloc0(N * LEN);
    Error *err = NULL;
    json_object *opts;

    if (!server_start(&srv, args)) {
        g_test_skip("nbdkit is not installed");
        return;
    }
    g = new_graph();
    for (int bad = 0; bad <= 17; bad += 17) {
        opts = json_object_new_object();
        json_object_object_add(opts, "driver", json_object_new_string("raw"));
        json_object_object_add(opts, "file.x-multi-conn",
                               json_object_new_int(bad));
        g_assert_null(blk_new_open(g, srv.uri, opts, 0, &err));
        g_assert_cmpstr(error_get_pretty(err), ==,
                        "x-multi-conn must be between 1 and 16");
        error_free_or_null(&err);
    }
    opts = json_object_new_object();
    json_object_object_add(opts, "driver", json_object_new_string("raw"));
    json_object_object_add(opts, "file.x-multi-conn", json_object_new_int(4));
    blk = blk_new_open(g, srv.uri, opts, BLOCK_OPEN_RDWR, &error_abort);
    for (int i = 0; i < N * LEN; i++) {
        pattern[i] = (uint8_t)(i % 251 + i / LEN);
    }
    /* Writes spread over the connections, then reads spread again. */
    for (int i = 0; i < N; i++) {
        block_iov_init_buf(&qiov[i], pattern + i * LEN, LEN);
        blk_aio_pwritev(blk, (int64_t)i * LEN, &qiov[i], 0, aio_done, &f);
    }
    while (f.done < N) {
        qx_loop_run_once(qx_loop_current(), true);
    }
    g_assert_cmpint(blk_flush(blk), ==, 0);
    f.done = 0;
    for (int i = 0; i < N; i++) {
        block_iov_destroy(&qiov[i]);
        block_iov_init_buf(&qiov[i], back + i * LEN, LEN);
        blk_aio_preadv(blk, (int64_t)i * LEN, &qiov[i], 0, aio_done, &f);
    }
    while (f.done < N) {
        qx_loop_run_once(qx_loop_current(), true);
    }
    g_assert_cmpint(f.failed, ==, 0);
    g_assert_cmpmem(back, N * LEN, pattern, N * LEN);
    for (int i = 0; i < N; i++) {
        block_iov_destroy(&qiov[i]);
    }
    blk_unref(blk);
    block_graph_free(g);
    server_stop(&srv);
    g_free(pattern);
    g_free(back);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nbd-client/parse", test_parse);
    g_test_add_func("/nbd-client/display-name", test_display_name);
    g_test_add_func("/nbd-client/io", test_io);
    g_test_add_func("/nbd-client/parallel", test_parallel);
    g_test_add_func("/nbd-client/errors", test_errors);
    g_test_add_func("/nbd-client/server-dies", test_server_dies);
    g_test_add_func("/nbd-client/multi-conn", test_multi_conn);
    return g_test_run();
}
