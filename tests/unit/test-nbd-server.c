/*
 * NBD server unit tests: a client thread speaks the protocol over a socket
 * pair with blocking I/O while the main thread runs the server's loop.
 * Covers the handshake, LIST, INFO/GO replies, transmission flags, the
 * data commands on a null-co and a raw-file export, structured replies,
 * meta contexts and block status, and error replies for bad requests.
 */
#include <errno.h>
#include <glib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qx/block/block-backend.h"
#include "qx/block/nbd-server.h"

#define OPTS_MAGIC 0x49484156454f5054ULL

typedef struct TestClient {
    int fd;
    void (*body)(struct TestClient *c);
    atomic_bool done;
    bool structured;
    uint16_t flags;
    uint64_t size;
} TestClient;

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, v >> 32);
    put32(p + 4, (uint32_t)v);
}

static void xwrite(int fd, const void *buf, size_t len)
{
    g_assert_cmpint(send(fd, buf, len, MSG_NOSIGNAL), ==, (ssize_t)len);
}

static void xread(int fd, void *buf, size_t len)
{
    if (len == 0) {
        return; /* recv() of nothing would wait for data */
    }
    g_assert_cmpint(recv(fd, buf, len, MSG_WAITALL), ==, (ssize_t)len);
}

static void send_opt(TestClient *c, uint32_t opt, const void *data,
                     uint32_t len)
{
    uint8_t hdr[16];

    put64(hdr, OPTS_MAGIC);
    put32(hdr + 8, opt);
    put32(hdr + 12, len);
    xwrite(c->fd, hdr, 16);
    if (len) {
        xwrite(c->fd, data, len);
    }
}

/* Reads one option reply; returns its type, payload in *data (g_free). */
static uint32_t read_rep(TestClient *c, uint32_t opt, uint8_t **data,
                         uint32_t *len)
{
    uint8_t hdr[20];

    xread(c->fd, hdr, 20);
    g_assert_cmphex(get64(hdr), ==, 0x0003e889045565a9ULL);
    g_assert_cmpuint(get32(hdr + 8), ==, opt);
    *len = get32(hdr + 16);
    *data = g_malloc(*len + 1);
    xread(c->fd, *data, *len);
    return get32(hdr + 12);
}

static void hello(TestClient *c)
{
    uint8_t buf[18];

    xread(c->fd, buf, 18);
    g_assert_cmphex(get64(buf), ==, 0x4e42444d41474943ULL);
    g_assert_cmphex(get64(buf + 8), ==, OPTS_MAGIC);
    g_assert_cmpuint(buf[17], ==, 3); /* FIXED_NEWSTYLE | NO_ZEROES */
    put32(buf, 3);
    xwrite(c->fd, buf, 4);
}

static void go(TestClient *c, const char *name, bool expect_ok)
{
    size_t nlen = strlen(name);
    g_autofree uint8_t *p = g_malloc(6 + nlen);
    bool got_export = false;

    put32(p, nlen);
    memcpy(p + 4, name, nlen);
    p[4 + nlen] = 0;
    p[5 + nlen] = 0;
    send_opt(c, 7, p, 6 + nlen);
    for (;;) {
        g_autofree uint8_t *d = NULL;
        uint32_t len;
        uint32_t type = read_rep(c, 7, &d, &len);

        if (!expect_ok) {
            g_assert_cmphex(type, ==, 0x80000006); /* ERR_UNKNOWN */
            return;
        }
        if (type == 1) {
            break;
        }
        g_assert_cmpuint(type, ==, 3);
        if (d[0] == 0 && d[1] == 0) { /* NBD_INFO_EXPORT */
            g_assert_cmpuint(len, ==, 12);
            c->size = get64(d + 2);
            c->flags = d[10] << 8 | d[11];
            got_export = true;
        }
    }
    g_assert_true(got_export);
}

static void request(TestClient *c, uint16_t type, uint16_t flags,
                    uint64_t handle, uint64_t off, uint32_t len)
{
    uint8_t r[28];

    put32(r, 0x25609513);
    r[4] = flags >> 8;
    r[5] = flags;
    r[6] = type >> 8;
    r[7] = type;
    put64(r + 8, handle);
    put64(r + 16, off);
    put32(r + 24, len);
    xwrite(c->fd, r, 28);
}

static uint32_t simple_reply(TestClient *c, uint64_t handle)
{
    uint8_t r[16];

    xread(c->fd, r, 16);
    g_assert_cmphex(get32(r), ==, 0x67446698);
    g_assert_cmphex(get64(r + 8), ==, handle);
    return get32(r + 4);
}

static void *client_thread(void *opaque)
{
    TestClient *c = opaque;

    c->body(c);
    close(c->fd);
    atomic_store(&c->done, true);
    return NULL;
}

/* Serves blk as export "e" (and "" read-only) while body runs. */
static void run_client(BlockBackend *blk, QxLoop *loop,
                       void (*body)(TestClient *c))
{
    NbdExportOpts eo = {.name = "e", .description = "desc", .blk = blk,
                        .writable = true, .allocation_depth = true};
    NbdExportOpts ro = {.name = "", .blk = blk};
    TestClient c = {.body = body};
    NbdServer *server = nbd_server_new(loop, NULL, &error_abort);
    GThread *thread;
    int sv[2];

    g_assert_nonnull(nbd_export_add(server, &eo, &error_abort));
    g_assert_nonnull(nbd_export_add(server, &ro, &error_abort));
    g_assert_null(nbd_export_add(server, &ro, NULL)); /* duplicate name */
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    c.fd = sv[0];
    thread = g_thread_new("client", client_thread, &c);
    nbd_server_add_client(server, sv[1]);
    while (!atomic_load(&c.done) ||
           nbd_server_get_client_count(server) > 0) {
        qx_loop_run_once(loop, false);
        g_usleep(100);
    }
    g_thread_join(thread);
    nbd_server_free(server);
}

typedef struct Env {
    QxLoop *loop;
    BlockGraph *graph;
    BlockBackend *blk;
    char *path;
} Env;

static void env_open(Env *env, bool file)
{
    json_object *opts = json_object_new_object();

    env->loop = qx_loop_new(&error_abort);
    env->graph = block_graph_new(env->loop, &error_abort);
    if (file) {
        int fd;

        env->path = g_strdup("/tmp/qx-test-nbd-XXXXXX");
        fd = g_mkstemp(env->path);
        g_assert_cmpint(ftruncate(fd, 1 << 20), ==, 0);
        g_assert_cmpint(pwrite(fd, "data", 4, 65536), ==, 4);
        close(fd);
        json_object_object_add(opts, "driver", json_object_new_string("raw"));
        env->blk = blk_new_open(env->graph, env->path, opts, BLOCK_OPEN_RDWR,
                                &error_abort);
    } else {
        json_object_object_add(opts, "driver",
                               json_object_new_string("null-co"));
        json_object_object_add(opts, "size", json_object_new_string("1M"));
        json_object_object_add(opts, "read-zeroes",
                               json_object_new_string("on"));
        env->blk = blk_new_open(env->graph, NULL, opts, BLOCK_OPEN_RDWR,
                                &error_abort);
    }
}

static void env_close(Env *env)
{
    blk_unref(env->blk);
    block_graph_free(env->graph);
    qx_loop_free(env->loop);
    if (env->path) {
        unlink(env->path);
        g_free(env->path);
    }
}

/* ---- Tests ------------------------------------------------------------ */

static void body_list_and_go(TestClient *c)
{
    static const uint8_t zeroes[512];
    g_autofree uint8_t *d1 = NULL, *d2 = NULL, *d3 = NULL, *d4 = NULL;
    uint32_t len;

    hello(c);
    send_opt(c, 3, NULL, 0);
    g_assert_cmpuint(read_rep(c, 3, &d1, &len), ==, 2); /* SERVER */
    g_assert_cmpuint(get32(d1), ==, 1);
    g_assert_cmpmem(d1 + 4, len - 4, "edesc", 5);
    g_assert_cmpuint(read_rep(c, 3, &d2, &len), ==, 2);
    g_assert_cmpuint(len, ==, 4);
    g_assert_cmpuint(read_rep(c, 3, &d3, &len), ==, 1); /* ACK */
    send_opt(c, 100, "xy", 2);
    g_assert_cmphex(read_rep(c, 100, &d4, &len), ==, 0x80000001); /* UNSUP */
    go(c, "nope", false);
    go(c, "", true);
    g_assert_cmpuint(c->size, ==, 1 << 20);
    /* READ_ONLY, FLUSH, FUA, CACHE; no DF without structured replies. */
    g_assert_cmphex(c->flags, ==, 0x040f);
    request(c, 1, 0, 5, 0, 512);
    xwrite(c->fd, zeroes, sizeof(zeroes));
    g_assert_cmpuint(simple_reply(c, 5), ==, 1); /* EPERM */
    request(c, 2, 0, 0, 0, 0);
}

static void test_list_and_go(void)
{
    Env env = {0};

    env_open(&env, false);
    run_client(env.blk, env.loop, body_list_and_go);
    env_close(&env);
}

static void body_data(TestClient *c)
{
    uint8_t buf[4096];
    uint8_t pattern[4096];

    hello(c);
    go(c, "e", true);
    g_assert_cmphex(c->flags, ==, 0x0c6d); /* writable, no multi-conn */
    memset(pattern, 0x5a, sizeof(pattern));
    request(c, 1, 1, 1, 8192, sizeof(pattern)); /* WRITE, FUA */
    xwrite(c->fd, pattern, sizeof(pattern));
    g_assert_cmpuint(simple_reply(c, 1), ==, 0);
    request(c, 0, 0, 2, 8192, sizeof(buf));
    g_assert_cmpuint(simple_reply(c, 2), ==, 0);
    xread(c->fd, buf, sizeof(buf));
    g_assert_cmpmem(buf, sizeof(buf), pattern, sizeof(pattern));
    request(c, 6, 2, 3, 8192, 4096); /* WRITE_ZEROES, NO_HOLE */
    g_assert_cmpuint(simple_reply(c, 3), ==, 0);
    request(c, 0, 0, 4, 8192, 16);
    g_assert_cmpuint(simple_reply(c, 4), ==, 0);
    xread(c->fd, buf, 16);
    g_assert_cmpuint(buf[0] | buf[15], ==, 0);
    request(c, 3, 0, 5, 0, 0); /* FLUSH */
    g_assert_cmpuint(simple_reply(c, 5), ==, 0);
    request(c, 4, 0, 6, 0, 4096); /* TRIM */
    g_assert_cmpuint(simple_reply(c, 6), ==, 0);
    request(c, 5, 0, 7, 0, 65536); /* CACHE */
    g_assert_cmpuint(simple_reply(c, 7), ==, 0);
    request(c, 0, 0, 8, (1 << 20) - 8, 16); /* past the end */
    g_assert_cmpuint(simple_reply(c, 8), ==, 22);
    request(c, 6, 0, 9, (1 << 20), 1);
    g_assert_cmpuint(simple_reply(c, 9), ==, 28); /* ENOSPC */
    request(c, 0, 0, 10, 0, 64 << 20); /* over 32 MiB */
    g_assert_cmpuint(simple_reply(c, 10), ==, 22);
    request(c, 7, 0, 11, 0, 512); /* BLOCK_STATUS, not negotiated */
    g_assert_cmpuint(simple_reply(c, 11), ==, 22);
    request(c, 2, 0, 0, 0, 0);
}

static void test_data_commands(void)
{
    Env env = {0};

    env_open(&env, true);
    run_client(env.blk, env.loop, body_data);
    env_close(&env);
}

static void body_block_status(TestClient *c)
{
    static const char q1[] = "base:allocation";
    static const char q2[] = "qemu:allocation-depth";
    uint8_t opt[64];
    size_t n = 0;
    bool seen[2] = {false, false};
    uint32_t ids[2] = {0, 0};

    hello(c);
    send_opt(c, 8, NULL, 0);
    {
        g_autofree uint8_t *d = NULL;
        uint32_t len;

        g_assert_cmpuint(read_rep(c, 8, &d, &len), ==, 1);
    }
    put32(opt, 1);
    opt[4] = 'e';
    put32(opt + 5, 2);
    n = 9;
    put32(opt + n, strlen(q1));
    memcpy(opt + n + 4, q1, strlen(q1));
    n += 4 + strlen(q1);
    put32(opt + n, strlen(q2));
    memcpy(opt + n + 4, q2, strlen(q2));
    n += 4 + strlen(q2);
    send_opt(c, 10, opt, n);
    for (;;) {
        g_autofree uint8_t *d = NULL;
        uint32_t len;
        uint32_t type = read_rep(c, 10, &d, &len);

        if (type == 1) {
            break;
        }
        g_assert_cmpuint(type, ==, 4);
        d[len] = 0;
        if (strcmp((char *)d + 4, q1) == 0) {
            seen[0] = true;
            ids[0] = get32(d);
        } else {
            g_assert_cmpstr((char *)d + 4, ==, q2);
            seen[1] = true;
            ids[1] = get32(d);
        }
    }
    g_assert_true(seen[0] && seen[1]);
    go(c, "e", true);
    g_assert_cmphex(c->flags & 0x80, ==, 0x80); /* SEND_DF */

    request(c, 7, 0, 1, 0, 1 << 20);
    for (int i = 0; i < 2; i++) {
        uint8_t hdr[20];
        g_autofree uint8_t *body = NULL;
        uint32_t len, id;

        xread(c->fd, hdr, 20);
        g_assert_cmphex(get32(hdr), ==, 0x668e33ef);
        g_assert_cmpuint(hdr[6] << 8 | hdr[7], ==, 5);
        g_assert_cmpuint(hdr[5] & 1, ==, i == 1); /* DONE on the last */
        len = get32(hdr + 16);
        body = g_malloc(len);
        xread(c->fd, body, len);
        id = get32(body);
        if (id == ids[0]) {
            /* hole, data at 64 KiB, hole */
            g_assert_cmpuint(len, ==, 4 + 3 * 8);
            g_assert_cmpuint(get32(body + 4), ==, 65536);
            g_assert_cmpuint(get32(body + 8), ==, 3);
            g_assert_cmpuint(get32(body + 16), ==, 0);
        } else {
            g_assert_cmpuint(id, ==, ids[1]);
            g_assert_cmpuint(len, ==, 12);
            g_assert_cmpuint(get32(body + 4), ==, 1 << 20);
            g_assert_cmpuint(get32(body + 8), ==, 1);
        }
    }
    request(c, 2, 0, 0, 0, 0);
}

static void test_block_status(void)
{
    Env env = {0};

    env_open(&env, true);
    run_client(env.blk, env.loop, body_block_status);
    env_close(&env);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nbd-server/list-and-go", test_list_and_go);
    g_test_add_func("/nbd-server/data-commands", test_data_commands);
    g_test_add_func("/nbd-server/block-status", test_block_status);
    return g_test_run();
}
