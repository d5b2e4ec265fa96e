/*
 * Unit tests for virtio-blk-device: a fake driver sends requests through
 * the rings and checks status bytes and the contents of a raw temp file
 * (read through its own fd), plus null-co and the property errors.
 */
#include <fcntl.h>
#include <unistd.h>

#include "qx/block/block-backend.h"
#include "virtio-test-driver.h"

#define DISK_SIZE (1 << 20)
#define QSIZE 256

enum {
    T_IN = 0,
    T_OUT = 1,
    T_FLUSH = 4,
    T_GET_ID = 8,
    T_DISCARD = 11,
    T_WRITE_ZEROES = 13,
};

typedef struct Env {
    QxLoop *loop;
    BlockGraph *graph;
    BlockBackend *blk;
    char *dir;
    char *path;
    int fd;
    TDrv d;
} Env;

static BlockBackend *find_blk(void *opaque, const char *id)
{
    Env *env = opaque;

    return !strcmp(id, "disk0") ? env->blk : NULL;
}

static void env_open_blk(Env *env, bool null_co, bool read_only)
{
    json_object *opts = json_object_new_object();

    env->loop = qx_loop_current();
    env->graph = block_graph_new(env->loop, &error_abort);
    if (null_co) {
        json_object_object_add(opts, "driver",
                               json_object_new_string("null-co"));
        json_object_object_add(opts, "size", json_object_new_int64(DISK_SIZE));
    } else {
        json_object_object_add(opts, "driver", json_object_new_string("file"));
        json_object_object_add(opts, "filename",
                               json_object_new_string(env->path));
        json_object_object_add(opts, "aio", json_object_new_string("threads"));
        json_object_object_add(opts, "discard",
                               json_object_new_string("unmap"));
    }
    env->blk = blk_new_open(env->graph, NULL, opts,
                            read_only ? 0 : BLOCK_OPEN_RDWR, &error_abort);
}

static void env_setup(Env *env, bool null_co, bool read_only, const char *props)
{
    VirtioHost host = {.find_blk = find_blk, .opaque = env};
    g_autofree char *full =
        g_strdup_printf("virtio-blk-device,drive=disk0%s", props ? props : "");
    uint8_t pattern[512];
    VirtioMmio *dev;

    memset(env, 0, sizeof(*env));
    env->dir = g_dir_make_tmp("qx-vblk-XXXXXX", NULL);
    g_assert_nonnull(env->dir);
    env->path = g_build_filename(env->dir, "disk.raw", NULL);
    env->fd = open(env->path, O_RDWR | O_CREAT, 0600);
    g_assert_cmpint(env->fd, >=, 0);
    g_assert_cmpint(ftruncate(env->fd, DISK_SIZE), ==, 0);
    /* sector n of the disk is filled with byte n & 0xff */
    for (int s = 0; s < DISK_SIZE / 512; s++) {
        memset(pattern, s & 0xff, sizeof(pattern));
        g_assert_cmpint(pwrite(env->fd, pattern, 512, s * 512ll), ==, 512);
    }
    env_open_blk(env, null_co, read_only);
    host.loop = env->loop;
    dev = tdrv_create(full, &host, &error_abort);
    tdrv_init(&env->d, dev);
}

static void env_teardown(Env *env)
{
    tdrv_cleanup(&env->d);
    blk_unref(env->blk);
    block_graph_free(env->graph);
    close(env->fd);
    unlink(env->path);
    rmdir(env->dir);
    g_free(env->path);
    g_free(env->dir);
}

typedef struct Req {
    uint64_t hdr, data, status;
} Req;

/* Queues one request; data of data_len bytes, device-writable if in. */
static Req req_add(Env *env, uint32_t type, uint64_t sector, size_t data_len,
                   bool in, bool indirect)
{
    TDrv *d = &env->d;
    Req r;
    TBuf b[3];
    unsigned n = 0;
    uint8_t *h;

    r.hdr = tdrv_alloc(d, 16, 16);
    r.data = data_len ? tdrv_alloc(d, data_len, 512) : 0;
    r.status = tdrv_alloc(d, 1, 1);
    h = tdrv_host(d, r.hdr);
    memcpy(h, &type, 4);
    memcpy(h + 8, &sector, 8);
    *(uint8_t *)tdrv_host(d, r.status) = 0xee;
    b[n++] = (TBuf){r.hdr, 16, false};
    if (data_len) {
        b[n++] = (TBuf){r.data, data_len, in};
    }
    b[n++] = (TBuf){r.status, 1, true};
    tdrv_add(d, 0, b, n, indirect);
    return r;
}

static uint8_t req_status(Env *env, const Req *r)
{
    return *(uint8_t *)tdrv_host(&env->d, r->status);
}

/* Kicks and waits for one completion; returns the status byte. */
static uint8_t req_run(Env *env, const Req *r, uint32_t *used_len)
{
    uint32_t id = 0, len = 0;

    tdrv_kick(&env->d, 0);
    tdrv_wait_used(&env->d, env->loop, 0, 1);
    g_assert_true(tdrv_get_used(&env->d, 0, &id, &len));
    if (used_len) {
        *used_len = len;
    }
    return req_status(env, r);
}

static void start(Env *env)
{
    tdrv_start(&env->d, ~0ull, 1, QSIZE);
}

static uint32_t cfg32(Env *env, unsigned off)
{
    return tdrv_rd(&env->d, TR_CONFIG + off);
}

static void test_config(void)
{
    Env env;
    uint64_t f;
    uint64_t v = 0;

    env_setup(&env, false, false, ",serial=abc");
    f = tdrv_host_features(&env.d);
    g_assert_true(f & (1ull << 2));  /* SEG_MAX */
    g_assert_true(f & (1ull << 9));  /* FLUSH */
    g_assert_true(f & (1ull << 13)); /* DISCARD */
    g_assert_true(f & (1ull << 14)); /* WRITE_ZEROES */
    g_assert_false(f & (1ull << 5)); /* not RO */
    g_assert_cmpuint(tdrv_rd(&env.d, TR_DEVICE_ID), ==, 2);
    g_assert_cmpuint(cfg32(&env, 0), ==, DISK_SIZE / 512); /* capacity */
    g_assert_cmpuint(cfg32(&env, 4), ==, 0);
    g_assert_cmpuint(cfg32(&env, 12), ==, 254);     /* seg_max */
    g_assert_cmpuint(cfg32(&env, 20), ==, 512);     /* blk_size */
    g_assert_cmpuint(cfg32(&env, 36), ==, 4194303); /* max_discard */
    g_assert_cmpuint(cfg32(&env, 48), ==, 4194303); /* max_wz */
    /* narrow and wide config reads */
    env.d.ops->read(env.d.dev, TR_CONFIG, 8, &v);
    g_assert_cmpuint(v, ==, DISK_SIZE / 512);
    env.d.ops->read(env.d.dev, TR_CONFIG + 32, 1, &v);
    g_assert_cmpuint(v, ==, 1); /* writeback */
    /* out of config space: 0, no crash */
    env.d.ops->read(env.d.dev, TR_CONFIG + 60, 4, &v);
    g_assert_cmpuint(v, ==, 0);
    env_teardown(&env);
}

static void test_read_write(void)
{
    Env env;
    Req r;
    uint32_t len;
    uint8_t buf[1024];

    for (int indirect = 0; indirect < 2; indirect++) {
        env_setup(&env, false, false, NULL);
        start(&env);
        /* read sectors 3 and 4 */
        r = req_add(&env, T_IN, 3, 1024, true, indirect);
        g_assert_cmpuint(req_run(&env, &r, &len), ==, 0);
        g_assert_cmpuint(len, ==, 1025);
        g_assert_cmpuint(((uint8_t *)tdrv_host(&env.d, r.data))[0], ==, 3);
        g_assert_cmpuint(((uint8_t *)tdrv_host(&env.d, r.data))[1023], ==, 4);
        /* write sector 10 */
        r = req_add(&env, T_OUT, 10, 512, false, indirect);
        memset(tdrv_host(&env.d, r.data), 0xab, 512);
        g_assert_cmpuint(req_run(&env, &r, &len), ==, 0);
        g_assert_cmpuint(len, ==, 1);
        g_assert_cmpint(pread(env.fd, buf, 512, 10 * 512), ==, 512);
        g_assert_cmpuint(buf[0], ==, 0xab);
        g_assert_cmpuint(buf[511], ==, 0xab);
        g_assert_cmpint(pread(env.fd, buf, 1, 11 * 512), ==, 1);
        g_assert_cmpuint(buf[0], ==, 11);
        /* flush */
        r = req_add(&env, T_FLUSH, 0, 0, false, indirect);
        g_assert_cmpuint(req_run(&env, &r, NULL), ==, 0);
        env_teardown(&env);
    }
}

static void test_errors(void)
{
    Env env;
    Req r;
    uint32_t len;

    env_setup(&env, false, false, NULL);
    start(&env);
    /* beyond the end */
    r = req_add(&env, T_IN, DISK_SIZE / 512 - 1, 1024, true, false);
    g_assert_cmpuint(req_run(&env, &r, &len), ==, 1);
    /* huge sector: no overflow */
    r = req_add(&env, T_OUT, UINT64_MAX / 256, 512, false, false);
    g_assert_cmpuint(req_run(&env, &r, &len), ==, 1);
    /* not a whole sector */
    r = req_add(&env, T_IN, 0, 100, true, false);
    g_assert_cmpuint(req_run(&env, &r, &len), ==, 1);
    /* unknown type */
    r = req_add(&env, 42, 0, 0, false, false);
    g_assert_cmpuint(req_run(&env, &r, &len), ==, 2);
    g_assert_false(tdrv_is_broken(&env.d));
    env_teardown(&env);
}

static void test_missing_status(void)
{
    Env env;
    uint64_t hdr;

    env_setup(&env, false, false, NULL);
    start(&env);
    /* a chain with only a header: a driver bug, device needs reset */
    hdr = tdrv_alloc(&env.d, 16, 16);
    tdrv_add(&env.d, 0, &(TBuf){hdr, 16, false}, 1, false);
    tdrv_kick(&env.d, 0);
    g_assert_true(tdrv_is_broken(&env.d));
    env_teardown(&env);
}

static void test_get_id(void)
{
    Env env;
    Req r;
    uint32_t len;

    env_setup(&env, false, false, ",serial=QX-SERIAL-0123456789-LONG");
    start(&env);
    r = req_add(&env, T_GET_ID, 0, 512, true, false);
    g_assert_cmpuint(req_run(&env, &r, &len), ==, 0);
    g_assert_cmpuint(len, ==, 21);
    g_assert_cmpmem(tdrv_host(&env.d, r.data), 20, "QX-SERIAL-0123456789", 20);
    env_teardown(&env);

    env_setup(&env, false, false, ",serial=short");
    start(&env);
    r = req_add(&env, T_GET_ID, 0, 512, true, false);
    g_assert_cmpuint(req_run(&env, &r, &len), ==, 0);
    g_assert_cmpmem(tdrv_host(&env.d, r.data), 6, "short\0", 6);
    env_teardown(&env);
}

static Req dwz_add(Env *env, uint32_t type, uint64_t sector, uint32_t num,
                   uint32_t flags)
{
    Req r = req_add(env, type, 0, 16, false, false);
    uint8_t *seg = tdrv_host(&env->d, r.data);

    memcpy(seg, &sector, 8);
    memcpy(seg + 8, &num, 4);
    memcpy(seg + 12, &flags, 4);
    return r;
}

static void test_discard_zeroes(void)
{
    Env env;
    Req r;
    uint8_t buf[2048];

    env_setup(&env, false, false, NULL);
    start(&env);
    r = dwz_add(&env, T_WRITE_ZEROES, 20, 4, 0);
    g_assert_cmpuint(req_run(&env, &r, NULL), ==, 0);
    g_assert_cmpint(pread(env.fd, buf, 2048, 20 * 512), ==, 2048);
    for (int i = 0; i < 2048; i++) {
        g_assert_cmpuint(buf[i], ==, 0);
    }
    g_assert_cmpint(pread(env.fd, buf, 1, 24 * 512), ==, 1);
    g_assert_cmpuint(buf[0], ==, 24);
    /* with unmap */
    r = dwz_add(&env, T_WRITE_ZEROES, 30, 8, 1);
    g_assert_cmpuint(req_run(&env, &r, NULL), ==, 0);
    g_assert_cmpint(pread(env.fd, buf, 512, 37 * 512), ==, 512);
    g_assert_cmpuint(buf[100], ==, 0);
    /* discard */
    r = dwz_add(&env, T_DISCARD, 64, 16, 0);
    g_assert_cmpuint(req_run(&env, &r, NULL), ==, 0);
    /* discard with the unmap flag is unsupported */
    r = dwz_add(&env, T_DISCARD, 64, 16, 1);
    g_assert_cmpuint(req_run(&env, &r, NULL), ==, 2);
    /* beyond the end */
    r = dwz_add(&env, T_WRITE_ZEROES, DISK_SIZE / 512 - 2, 4, 0);
    g_assert_cmpuint(req_run(&env, &r, NULL), ==, 1);
    /* above max-write-zeroes-sectors */
    r = dwz_add(&env, T_WRITE_ZEROES, 0, 4194304, 0);
    g_assert_cmpuint(req_run(&env, &r, NULL), ==, 1);
    env_teardown(&env);

    /* disabled by property: not offered, unsupported */
    env_setup(&env, false, false, ",discard=off,write-zeroes=off");
    g_assert_false(tdrv_host_features(&env.d) & (3ull << 13));
    start(&env);
    r = dwz_add(&env, T_DISCARD, 0, 1, 0);
    g_assert_cmpuint(req_run(&env, &r, NULL), ==, 2);
    env_teardown(&env);
}

static void test_read_only(void)
{
    Env env;
    Req r;
    uint8_t buf[1];

    env_setup(&env, false, true, NULL);
    g_assert_true(tdrv_host_features(&env.d) & (1ull << 5));
    start(&env);
    r = req_add(&env, T_OUT, 0, 512, false, false);
    g_assert_cmpuint(req_run(&env, &r, NULL), ==, 1);
    r = dwz_add(&env, T_WRITE_ZEROES, 0, 1, 0);
    g_assert_cmpuint(req_run(&env, &r, NULL), ==, 1);
    g_assert_cmpint(pread(env.fd, buf, 1, 0), ==, 1);
    g_assert_cmpuint(buf[0], ==, 0);
    r = req_add(&env, T_IN, 1, 512, true, false);
    g_assert_cmpuint(req_run(&env, &r, NULL), ==, 0);
    g_assert_cmpuint(((uint8_t *)tdrv_host(&env.d, r.data))[0], ==, 1);
    env_teardown(&env);
}

static void test_null_co(void)
{
    Env env;
    Req r;

    env_setup(&env, true, false, NULL);
    start(&env);
    g_assert_cmpuint(cfg32(&env, 0), ==, DISK_SIZE / 512);
    r = req_add(&env, T_OUT, 5, 4096, false, false);
    g_assert_cmpuint(req_run(&env, &r, NULL), ==, 0);
    r = req_add(&env, T_IN, 5, 4096, true, false);
    g_assert_cmpuint(req_run(&env, &r, NULL), ==, 0);
    r = req_add(&env, T_FLUSH, 0, 0, false, false);
    g_assert_cmpuint(req_run(&env, &r, NULL), ==, 0);
    env_teardown(&env);
}

static void test_concurrent(void)
{
    Env env;
    Req r[32];
    uint32_t id, len;
    int done = 0;

    env_setup(&env, false, false, NULL);
    start(&env);
    for (int i = 0; i < 32; i++) {
        r[i] = req_add(&env, i % 2 ? T_OUT : T_IN, 100 + 8 * i, 4096, !(i % 2),
                       i % 3 == 0);
        if (i % 2) {
            memset(tdrv_host(&env.d, r[i].data), i, 4096);
        }
    }
    tdrv_kick(&env.d, 0);
    /* all started at once, completing later */
    g_assert_cmpint(blk_in_flight(env.blk), >, 1);
    tdrv_wait_used(&env.d, env.loop, 0, 32);
    while (tdrv_get_used(&env.d, 0, &id, &len)) {
        done++;
    }
    g_assert_cmpint(done, ==, 32);
    for (int i = 0; i < 32; i++) {
        uint8_t b;
        g_assert_cmpuint(req_status(&env, &r[i]), ==, 0);
        if (i % 2) {
            g_assert_cmpint(pread(env.fd, &b, 1, (100 + 8 * i) * 512ll + 4095),
                            ==, 1);
            g_assert_cmpuint(b, ==, i);
        } else {
            b = ((uint8_t *)tdrv_host(&env.d, r[i].data))[0];
            g_assert_cmpuint(b, ==, (100 + 8 * i) & 0xff);
        }
    }
    env_teardown(&env);
}

static void test_reset_in_flight(void)
{
    Env env;
    Req r;
    uint32_t id, len;

    env_setup(&env, false, false, NULL);
    start(&env);
    r = req_add(&env, T_IN, 0, 4096, true, false);
    tdrv_kick(&env.d, 0);
    g_assert_cmpint(blk_in_flight(env.blk), >, 0);
    /* reset before the read completes: it must not reach the guest */
    tdrv_wr(&env.d, TR_STATUS, 0);
    for (int i = 0; i < 50; i++) {
        qx_loop_run_once(env.loop, false);
    }
    g_assert_cmpuint(req_status(&env, &r), ==, 0xee);
    g_assert_false(tdrv_get_used(&env.d, 0, &id, &len));
    env_teardown(&env); /* waits for the request */
}

static void test_write_cache(void)
{
    Env env;
    uint64_t v = 0;

    env_setup(&env, false, false, NULL);
    start(&env);
    g_assert_true(blk_enable_write_cache(env.blk));
    env.d.ops->write(env.d.dev, TR_CONFIG + 32, 1, 0);
    g_assert_false(blk_enable_write_cache(env.blk));
    env.d.ops->read(env.d.dev, TR_CONFIG + 32, 1, &v);
    g_assert_cmpuint(v, ==, 0);
    /* reset restores the drive's setting */
    tdrv_wr(&env.d, TR_STATUS, 0);
    g_assert_true(blk_enable_write_cache(env.blk));
    env_teardown(&env);
}

static BlockBackend *find_dummy(void *opaque, const char *id)
{
    return !strcmp(id, "disk0") ? opaque : NULL;
}

static void test_multiqueue(void)
{
    Env env;
    uint32_t id = 0, len = 0;
    uint64_t v = 0;
    Req r;

    env_setup(&env, false, false, ",num-queues=2");
    g_assert_true(tdrv_host_features(&env.d) & (1ull << 12)); /* MQ */
    env.d.ops->read(env.d.dev, TR_CONFIG + 34, 2, &v);
    g_assert_cmpuint(v, ==, 2);
    tdrv_start(&env.d, ~0ull, 2, QSIZE);
    /* a read on the second queue completes there */
    r.hdr = tdrv_alloc(&env.d, 16, 16);
    r.data = tdrv_alloc(&env.d, 512, 512);
    r.status = tdrv_alloc(&env.d, 1, 1);
    memcpy(tdrv_host(&env.d, r.hdr) + 8, &(uint64_t){ 7 }, 8);
    {
        TBuf b[3] = { { r.hdr, 16, false },
                      { r.data, 512, true },
                      { r.status, 1, true } };
        tdrv_add(&env.d, 1, b, 3, false);
    }
    tdrv_kick(&env.d, 1);
    tdrv_wait_used(&env.d, env.loop, 1, 1);
    g_assert_true(tdrv_get_used(&env.d, 1, &id, &len));
    g_assert_cmpuint(len, ==, 513);
    g_assert_cmpuint(req_status(&env, &r), ==, 0);
    g_assert_cmpuint(((uint8_t *)tdrv_host(&env.d, r.data))[0], ==, 7);
    g_assert_false(tdrv_get_used(&env.d, 0, &id, &len));
    env_teardown(&env);
}

static void check_create_error(const char *props, const char *msg)
{
    /* validation fails before the backend is used: any pointer will do */
    VirtioHost host = {.find_blk = find_dummy, .opaque = &host};
    Error *err = NULL;

    g_assert_null(tdrv_create(props, &host, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
}

static void test_props(void)
{
    check_create_error("virtio-blk-device", "drive property not set");
    check_create_error("virtio-blk-device,drive=x",
                       "Property 'virtio-blk-device.drive' can't find "
                       "value 'x'");
    check_create_error("virtio-blk-device,drive=x,bogus=1",
                       "Property 'virtio-blk-device.bogus' not found");
    check_create_error("virtio-blk-device,drive=disk0,queue-size=100",
                       "invalid queue-size property (100), must be a power "
                       "of 2 (max 1024)");
    check_create_error("virtio-blk-device,drive=disk0,num-queues=0",
                       "num-queues property must be larger than 0");
    check_create_error("virtio-blk-device,drive=disk0,queue-size=2",
                       "invalid queue-size property (2), must be > 2");
    check_create_error("virtio-blk-device,drive=disk0,queue-size=abc",
                       "Parameter 'queue-size' expects integer");
    check_create_error("virtio-blk-device,drive=disk0,max-discard-sectors=0",
                       "invalid max-discard-sectors property (0), must be "
                       "between 1 and 4194303");
    check_create_error("virtio-blk-device,drive=disk0,discard=maybe",
                       "Parameter 'discard' expects 'on' or 'off'");
}

int main(int argc, char **argv)
{
    QxLoop *loop;

    g_test_init(&argc, &argv, NULL);
    loop = qx_loop_new(&error_abort);
    qx_loop_set_current(loop);
    g_test_add_func("/virtio-blk/config", test_config);
    g_test_add_func("/virtio-blk/read-write", test_read_write);
    g_test_add_func("/virtio-blk/errors", test_errors);
    g_test_add_func("/virtio-blk/missing-status", test_missing_status);
    g_test_add_func("/virtio-blk/get-id", test_get_id);
    g_test_add_func("/virtio-blk/discard-zeroes", test_discard_zeroes);
    g_test_add_func("/virtio-blk/read-only", test_read_only);
    g_test_add_func("/virtio-blk/null-co", test_null_co);
    g_test_add_func("/virtio-blk/concurrent", test_concurrent);
    g_test_add_func("/virtio-blk/reset-in-flight", test_reset_in_flight);
    g_test_add_func("/virtio-blk/write-cache", test_write_cache);
    g_test_add_func("/virtio-blk/multiqueue", test_multiqueue);
    g_test_add_func("/virtio-blk/props", test_props);
    return g_test_run();
}
