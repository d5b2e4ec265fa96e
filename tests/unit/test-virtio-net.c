/*
 * Unit tests for virtio-net-device and the stream/socket netdevs: two
 * devices joined by a socketpair (-netdev socket,fd=) or a unix stream
 * (-netdev stream server/client) exchange frames through their rings.
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qx/emu/net.h"
#include "virtio-test-driver.h"

#define NQ 256
#define RXQ 0
#define TXQ 1
#define HDR 12

typedef struct Nic {
    TDrv d;
    QxNetdev *nd;
} Nic;

static QxLoop *loop;

static QxNetdev *find_netdev(void *opaque, const char *id)
{
    QxNetdev *nd = opaque;

    return nd && !strcmp(qx_netdev_id(nd), id) ? nd : NULL;
}

static QxNetdev *netdev_new(const char *text, Error **errp)
{
    json_object *opts =
        qx_opts_parse(text, QX_OPTS_FLAT, "type", NULL, &error_abort);
    QxNetdev *nd = qx_netdev_new(opts, loop, errp);

    json_object_put(opts);
    return nd;
}

static void nic_init(Nic *n, QxNetdev *nd, const char *extra)
{
    VirtioHost host = {.loop = loop, .find_netdev = find_netdev, .opaque = nd};
    g_autofree char *props = g_strdup_printf(
        "virtio-net-device,netdev=%s%s", qx_netdev_id(nd), extra ? extra : "");
    VirtioMmio *dev = tdrv_create(props, &host, &error_abort);

    n->nd = nd;
    tdrv_init(&n->d, dev);
}

static void nic_start(Nic *n, uint64_t features)
{
    tdrv_start(&n->d, features, 2, NQ);
}

static void nic_free(Nic *n)
{
    tdrv_cleanup(&n->d);
    qx_netdev_free(n->nd);
}

/* Runs the loop until *cond(n) or a timeout. */
static bool run_until(bool (*cond)(void *), void *opaque)
{
    for (int i = 0; i < 5000; i++) {
        if (cond(opaque)) {
            return true;
        }
        if (!qx_loop_run_once(loop, false)) {
            g_usleep(1000);
        }
    }
    return cond(opaque);
}

static void run_idle(void)
{
    for (int i = 0; i < 50; i++) {
        if (!qx_loop_run_once(loop, false)) {
            g_usleep(500);
        }
    }
}

static bool rx_has_used(void *opaque)
{
    Nic *n = opaque;

    return tdrv_used_idx(&n->d, RXQ) != n->d.q[RXQ].last_used;
}

/* Posts one receive buffer of len bytes; returns its address. */
static uint64_t rx_post(Nic *n, uint32_t len)
{
    uint64_t buf = tdrv_alloc(&n->d, len, 8);

    tdrv_add(&n->d, RXQ, &(TBuf){buf, len, true}, 1, false);
    return buf;
}

/* Transmits a frame of len bytes filled with byte fill. */
static void tx_frame(Nic *n, size_t len, uint8_t fill)
{
    uint64_t hdr = tdrv_alloc(&n->d, HDR, 8);
    uint64_t data = tdrv_alloc(&n->d, len, 8);
    TBuf b[2] = {{hdr, HDR, false}, {data, len, false}};
    uint32_t id, used_len;

    memset(tdrv_host(&n->d, data), fill, len);
    tdrv_add(&n->d, TXQ, b, 2, false);
    tdrv_kick(&n->d, TXQ);
    g_assert_true(tdrv_get_used(&n->d, TXQ, &id, &used_len));
}

static void check_rx(Nic *n, uint64_t buf, size_t len, uint8_t fill,
                     uint16_t nbufs)
{
    uint32_t id = 0, used_len = 0;
    uint8_t *p = tdrv_host(&n->d, buf);

    g_assert_true(tdrv_get_used(&n->d, RXQ, &id, &used_len));
    if (nbufs == 1) {
        g_assert_cmpuint(used_len, ==, HDR + len);
    }
    g_assert_cmpuint(tdrv_get16(&n->d, buf + 10), ==, nbufs);
    for (size_t i = HDR; i < used_len; i++) {
        g_assert_cmpuint(p[i], ==, fill);
    }
}

static uint16_t link_status(Nic *n)
{
    uint64_t v = 0;

    n->d.ops->read(n->d.dev, TR_CONFIG + 6, 2, &v);
    return v;
}

static void pair_setup(Nic *a, Nic *b, const char *extra)
{
    int sv[2];
    g_autofree char *ta = NULL, *tb = NULL;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    ta = g_strdup_printf("socket,id=na,fd=%d", sv[0]);
    tb = g_strdup_printf("socket,id=nb,fd=%d", sv[1]);
    nic_init(a, netdev_new(ta, &error_abort), extra);
    nic_init(b, netdev_new(tb, &error_abort), extra);
}

static void test_socketpair(void)
{
    Nic a, b;
    uint64_t rx;
    uint32_t id, len;
    uint64_t mac = 0;

    pair_setup(&a, &b, NULL);
    nic_start(&a, ~0ull);
    nic_start(&b, ~0ull);
    g_assert_cmpuint(link_status(&a), ==, 1);
    a.d.ops->read(a.d.dev, TR_CONFIG, 4, &mac);
    g_assert_cmphex(mac, ==, 0x12005452);
    rx = rx_post(&b, 1526 + HDR);
    tdrv_kick(&b.d, RXQ);
    tx_frame(&a, 60, 0x5a);
    g_assert_true(run_until(rx_has_used, &b));
    check_rx(&b, rx, 60, 0x5a, 1);
    /* and back */
    rx = rx_post(&a, 1526 + HDR);
    tdrv_kick(&a.d, RXQ);
    tx_frame(&b, 1514, 0xa5);
    g_assert_true(run_until(rx_has_used, &a));
    check_rx(&a, rx, 1514, 0xa5, 1);
    g_assert_false(tdrv_get_used(&a.d, RXQ, &id, &len));
    nic_free(&a);
    nic_free(&b);
}

static void test_held_frames(void)
{
    Nic a, b;
    uint64_t rx1, rx2;

    pair_setup(&a, &b, NULL);
    nic_start(&a, ~0ull);
    nic_start(&b, ~0ull);
    /* b has no buffers: frames wait in the backend */
    tx_frame(&a, 100, 1);
    tx_frame(&a, 200, 2);
    run_idle();
    g_assert_false(rx_has_used(&b));
    rx1 = rx_post(&b, 2048);
    rx2 = rx_post(&b, 2048);
    tdrv_kick(&b.d, RXQ);
    g_assert_true(run_until(rx_has_used, &b));
    run_idle();
    check_rx(&b, rx1, 100, 1, 1);
    check_rx(&b, rx2, 200, 2, 1);
    nic_free(&a);
    nic_free(&b);
}

static void test_mergeable(void)
{
    Nic a, b;
    uint64_t rx[8];
    uint32_t id = 0, len = 0;
    uint32_t total = 0;
    int chains = 0;

    pair_setup(&a, &b, NULL);
    nic_start(&a, ~0ull);
    nic_start(&b, ~0ull);
    for (int i = 0; i < 8; i++) {
        rx[i] = rx_post(&b, 32);
    }
    tdrv_kick(&b.d, RXQ);
    tx_frame(&a, 100, 7);
    g_assert_true(run_until(rx_has_used, &b));
    g_assert_cmpuint(tdrv_get16(&b.d, rx[0] + 10), ==, 4);
    while (tdrv_get_used(&b.d, RXQ, &id, &len)) {
        total += len;
        chains++;
    }
    g_assert_cmpint(chains, ==, 4);
    g_assert_cmpuint(total, ==, HDR + 100);
    g_assert_cmpuint(((uint8_t *)tdrv_host(&b.d, rx[3]))[15], ==, 7);
    nic_free(&a);
    nic_free(&b);

    /* without MRG_RXBUF a frame too big for one buffer is dropped */
    pair_setup(&a, &b, ",mrg_rxbuf=off");
    nic_start(&a, ~0ull);
    nic_start(&b, ~0ull);
    rx_post(&b, 32);
    tdrv_kick(&b.d, RXQ);
    tx_frame(&a, 100, 7);
    run_idle();
    g_assert_false(rx_has_used(&b));
    tx_frame(&a, 20, 8);
    g_assert_true(run_until(rx_has_used, &b));
    g_assert_true(tdrv_get_used(&b.d, RXQ, &id, &len));
    g_assert_cmpuint(len, ==, HDR + 20);
    g_assert_false(tdrv_is_broken(&b.d));
    nic_free(&a);
    nic_free(&b);
}

static bool link_is_up(void *opaque)
{
    return qx_netdev_link_up(opaque);
}

static bool link_is_down(void *opaque)
{
    return !qx_netdev_link_up(opaque);
}

static void test_stream_unix(void)
{
    g_autofree char *dir = g_dir_make_tmp("qx-vnet-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autofree char *ts = g_strdup_printf(
        "stream,id=srv,server=on,addr.type=unix,addr.path=%s", path);
    g_autofree char *tc = g_strdup_printf(
        "stream,id=cli,server=off,addr.type=unix,addr.path=%s", path);
    Nic a, b;
    uint64_t rx;
    int raises;

    nic_init(&a, netdev_new(ts, &error_abort), ",mac=02:00:00:00:00:01");
    g_assert_false(qx_netdev_link_up(a.nd));
    nic_start(&a, ~0ull);
    g_assert_cmpuint(link_status(&a), ==, 0);
    nic_init(&b, netdev_new(tc, &error_abort), NULL);
    nic_start(&b, ~0ull);
    g_assert_true(run_until(link_is_up, a.nd));
    g_assert_cmpuint(link_status(&a), ==, 1);
    /* link change is a config interrupt */
    g_assert_cmpuint(tdrv_rd(&a.d, TR_ISR) & 2, ==, 2);
    tdrv_ack_irq(&a.d);

    rx = rx_post(&a, 2048);
    tdrv_kick(&a.d, RXQ);
    tx_frame(&b, 64, 0x42);
    g_assert_true(run_until(rx_has_used, &a));
    check_rx(&a, rx, 64, 0x42, 1);

    /* the client goes away: the server's link goes down */
    tdrv_ack_irq(&a.d);
    raises = a.d.irq_raises;
    nic_free(&b);
    g_assert_true(run_until(link_is_down, a.nd));
    g_assert_cmpuint(link_status(&a), ==, 0);
    g_assert_cmpint(a.d.irq_raises, >, raises);
    nic_free(&a);
    unlink(path);
    rmdir(dir);
}

static void check_netdev_error(const char *text, const char *msg)
{
    Error *err = NULL;

    g_assert_null(netdev_new(text, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
}

static void check_nic_error(QxNetdev *nd, const char *props, const char *msg)
{
    VirtioHost host = {.loop = loop, .find_netdev = find_netdev, .opaque = nd};
    Error *err = NULL;

    g_assert_null(tdrv_create(props, &host, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
}

static void test_errors(void)
{
    int sv[2];
    g_autofree char *t = NULL;
    QxNetdev *nd;
    Nic a;

    check_netdev_error("socket,id=x",
                       "exactly one of listen=, connect=, mcast= or udp= "
                       "is required");
    check_netdev_error("socket,id=x,listen=:0,connect=:1",
                       "exactly one of listen=, connect=, mcast= or udp= "
                       "is required");
    check_netdev_error("socket,id=x,listen=:0,foo=1",
                       "Invalid parameter 'foo'");
    check_netdev_error("stream,id=x,server=on", "Parameter 'addr' is missing");
    check_netdev_error("nope,id=x",
                       "Parameter 'type' does not accept value 'nope'");
    check_netdev_error("socket,listen=:0", "Parameter 'id' is missing");

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    close(sv[1]);
    t = g_strdup_printf("socket,id=n0,fd=%d", sv[0]);
    nd = netdev_new(t, &error_abort);
    check_nic_error(nd, "virtio-net-device,netdev=nope",
                    "Property 'virtio-net-device.netdev' can't find value "
                    "'nope'");
    check_nic_error(nd, "virtio-net-device,netdev=n0,mac=zz",
                    "Property 'virtio-net-device.mac' doesn't take value "
                    "'zz'");
    check_nic_error(nd, "virtio-net-device,netdev=n0,rx_queue_size=100",
                    "Invalid rx_queue_size (= 100), must be a power of 2 "
                    "between 256 and 1024.");
    check_nic_error(nd, "virtio-net-device,netdev=n0,vhost=on",
                    "Property 'virtio-net-device.vhost' not found");
    nic_init(&a, nd, NULL);
    check_nic_error(nd, "virtio-net-device,netdev=n0",
                    "Property 'virtio-net-device.netdev' can't take value "
                    "'n0', it's in use");
    /* the peer is gone: sending drops, link goes down, nothing crashes */
    nic_start(&a, ~0ull);
    tx_frame(&a, 60, 1);
    run_idle();
    g_assert_false(qx_netdev_link_up(nd));
    nic_free(&a);
}

static void test_dgram_unix(void)
{
    g_autofree char *dir = g_dir_make_tmp("qx-vnet-XXXXXX", NULL);
    g_autofree char *pa = g_build_filename(dir, "a", NULL);
    g_autofree char *pb = g_build_filename(dir, "b", NULL);
    g_autofree char *ta = g_strdup_printf(
        "dgram,id=da,local.type=unix,local.path=%s,remote.type=unix,"
        "remote.path=%s",
        pa, pb);
    g_autofree char *tb = g_strdup_printf(
        "dgram,id=db,local.type=unix,local.path=%s,remote.type=unix,"
        "remote.path=%s",
        pb, pa);
    Nic a, b;
    uint64_t rx;

    nic_init(&a, netdev_new(ta, &error_abort), NULL);
    nic_init(&b, netdev_new(tb, &error_abort), NULL);
    nic_start(&a, ~0ull);
    nic_start(&b, ~0ull);
    g_assert_cmpuint(link_status(&a), ==, 1);
    rx = rx_post(&b, 2048);
    tdrv_kick(&b.d, RXQ);
    tx_frame(&a, 1000, 0x77);
    g_assert_true(run_until(rx_has_used, &b));
    check_rx(&b, rx, 1000, 0x77, 1);
    nic_free(&a);
    nic_free(&b);
    unlink(pa);
    unlink(pb);
    rmdir(dir);

    check_netdev_error("dgram,id=x", "dgram requires local= parameter");
    check_netdev_error("dgram,id=x,local.type=unix,local.path=/nonexistent/s,"
                       "remote.type=inet,remote.host=127.0.0.1,"
                       "remote.port=5555",
                       "remote and local types must be the same");
}

/* A peer that sends a length above the limit is disconnected. */
static void test_oversized_frame(void)
{
    int sv[2];
    g_autofree char *t = NULL;
    uint8_t hdr[4] = {0x7f, 0xff, 0xff, 0xff};
    Nic a;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    t = g_strdup_printf("socket,id=n0,fd=%d", sv[0]);
    nic_init(&a, netdev_new(t, &error_abort), NULL);
    nic_start(&a, ~0ull);
    rx_post(&a, 2048);
    tdrv_kick(&a.d, RXQ);
    g_assert_cmpint(write(sv[1], hdr, 4), ==, 4);
    g_assert_true(run_until(link_is_down, a.nd));
    g_assert_false(rx_has_used(&a));
    nic_free(&a);
    close(sv[1]);
}

/*
 * Interoperability: QEMU 7.2 runs two stream servers joined by a hub; our
 * two NICs connect as clients, and a frame sent by one reaches the other
 * through QEMU, so both sides agree on the framing.
 */
static void test_qemu_interop(void)
{
    g_autofree char *qemu = g_find_program_in_path("qemu-system-riscv64");
    g_autofree char *dir = NULL, *pa = NULL, *pb = NULL;
    g_autofree char *na = NULL, *nb = NULL, *ca = NULL, *cb = NULL;
    GPid pid;
    Nic a, b;
    uint64_t rx;

    if (!qemu) {
        g_test_skip("qemu-system-riscv64 not installed");
        return;
    }
    dir = g_dir_make_tmp("qx-vnet-XXXXXX", NULL);
    pa = g_build_filename(dir, "a.sock", NULL);
    pb = g_build_filename(dir, "b.sock", NULL);
    na = g_strdup_printf("stream,id=a,server=on,addr.type=unix,"
                         "addr.path=%s",
                         pa);
    nb = g_strdup_printf("stream,id=b,server=on,addr.type=unix,"
                         "addr.path=%s",
                         pb);
    {
        const char *argv[] = {
            qemu,      "-M",
            "none",    "-display",
            "none",    "-nodefaults",
            "-netdev", na,
            "-netdev", nb,
            "-netdev", "hubport,id=pa,hubid=0,netdev=a",
            "-netdev", "hubport,id=pb,hubid=0,netdev=b",
            NULL,
        };
        g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
                                    G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                                    &pid, NULL));
    }
    for (int i = 0; i < 500 && !(g_file_test(pa, G_FILE_TEST_EXISTS) &&
                                 g_file_test(pb, G_FILE_TEST_EXISTS));
         i++) {
        g_usleep(10000);
    }
    ca = g_strdup_printf("stream,id=ca,addr.type=unix,addr.path=%s", pa);
    cb = g_strdup_printf("stream,id=cb,addr.type=unix,addr.path=%s", pb);
    nic_init(&a, netdev_new(ca, &error_abort), NULL);
    nic_init(&b, netdev_new(cb, &error_abort), NULL);
    nic_start(&a, ~0ull);
    nic_start(&b, ~0ull);
    rx = rx_post(&b, 2048);
    tdrv_kick(&b.d, RXQ);
    /* QEMU accepts asynchronously: resend until one gets through */
    for (int i = 0; i < 200 && !rx_has_used(&b); i++) {
        tx_frame(&a, 90, 0x33);
        for (int j = 0; j < 50 && !rx_has_used(&b); j++) {
            if (!qx_loop_run_once(loop, false)) {
                g_usleep(1000);
            }
        }
    }
    g_assert_true(rx_has_used(&b));
    check_rx(&b, rx, 90, 0x33, 1);
    nic_free(&a);
    nic_free(&b);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    g_spawn_close_pid(pid);
    unlink(pa);
    unlink(pb);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    loop = qx_loop_new(&error_abort);
    qx_loop_set_current(loop);
    g_test_add_func("/virtio-net/socketpair", test_socketpair);
    g_test_add_func("/virtio-net/held-frames", test_held_frames);
    g_test_add_func("/virtio-net/mergeable", test_mergeable);
    g_test_add_func("/virtio-net/stream-unix", test_stream_unix);
    g_test_add_func("/virtio-net/errors", test_errors);
    g_test_add_func("/virtio-net/oversized-frame", test_oversized_frame);
    g_test_add_func("/virtio-net/dgram-unix", test_dgram_unix);
    g_test_add_func("/virtio-net/qemu-interop", test_qemu_interop);
    return g_test_run();
}
