/*
 * Unit tests for the generic block data path (lib/block/io*.c): a memory
 * driver that checks the contract of driver.h on every call (alignment,
 * max_transfer, bounds, flags) sits under a BlockBackend, and the tests
 * issue requests that break the rules to see the core fix them up.
 */
#include <errno.h>
#include <string.h>

#include "qx/block/block-backend.h"
#include "qx/block/driver.h"
#include "qx/util/coroutine.h"
#include "qx/util/opts.h"

/* ---- The test driver ---------------------------------------------------- */

typedef struct MemState {
    uint8_t *data;
    int64_t size;
    int64_t align;
    int64_t max_transfer;
    int64_t zero_align;
    bool zero_enotsup; /* pwrite_zeroes_co answers -ENOTSUP */
    bool yield;        /* yield to the loop inside reads and writes */
    bool fua;          /* announce FUA support */
    /* what the core sent */
    int reads;
    int writes;
    int zero_writes;
    int discards;
    int flushes;
    int fua_writes;
    int violations;
    int64_t largest;
} MemState;

/* Sizes are whole sectors, and requests whole blocks: the readable end. */
static int64_t mem_end(const MemState *s)
{
    int64_t unit = MAX(s->align, 512);
    return (s->size + unit - 1) / unit * unit;
}

static void mem_check(MemState *s, int64_t offset, int64_t bytes,
                      int64_t align)
{
    if (offset % align || bytes % align || bytes <= 0 ||
        offset + bytes > mem_end(s)) {
        g_test_message("contract violation: offset %" PRId64 " bytes %" PRId64,
                       offset, bytes);
        s->violations++;
    }
    s->largest = MAX(s->largest, bytes);
}

static int mem_open_co(BlockNode *node, json_object *opts, unsigned flags,
                       Error **errp)
{
    MemState *s = node->opaque;
    int64_t size = 1 << 20;
    int64_t align = 1;
    int64_t max_transfer = 0;
    int64_t zero_align = 0;

    if (!qx_opts_take_int(opts, "size", &size, NULL, errp) ||
        !qx_opts_take_int(opts, "align", &align, NULL, errp) ||
        !qx_opts_take_int(opts, "max-transfer", &max_transfer, NULL, errp) ||
        !qx_opts_take_int(opts, "zero-align", &zero_align, NULL, errp) ||
        !qx_opts_take_bool(opts, "zero-enotsup", &s->zero_enotsup, NULL,
                           errp) ||
        !qx_opts_take_bool(opts, "yield", &s->yield, NULL, errp) ||
        !qx_opts_take_bool(opts, "fua", &s->fua, NULL, errp)) {
        return -EINVAL;
    }
    s->size = size;
    s->align = align;
    s->max_transfer = max_transfer;
    s->zero_align = zero_align;
    s->data = g_malloc0((size_t)mem_end(s));
    if (s->fua) {
        node->supported_write_flags = BLOCK_REQ_FUA;
    }
    node->exact_filename = g_strdup("mem:");
    return 0;
}

static void mem_close_co(BlockNode *node)
{
    MemState *s = node->opaque;
    g_free(s->data);
}

static void mem_refresh_limits(BlockNode *node, BlockLimits *l)
{
    MemState *s = node->opaque;

    l->request_alignment = (uint32_t)s->align;
    l->max_transfer = (uint64_t)s->max_transfer;
    l->pwrite_zeroes_alignment = (uint32_t)s->zero_align;
}

static int mem_preadv_co(BlockNode *node, int64_t offset, int64_t bytes,
                         BlockIOVec *qiov, size_t qiov_offset,
                         BlockReqFlags flags)
{
    MemState *s = node->opaque;

    mem_check(s, offset, bytes, s->align);
    if (s->max_transfer && bytes > s->max_transfer) {
        s->violations++;
    }
    s->reads++;
    if (s->yield) {
        qx_co_yield_to_loop();
    }
    block_iov_from_buf(qiov, qiov_offset, s->data + offset, (size_t)bytes);
    return 0;
}

static int mem_pwritev_co(BlockNode *node, int64_t offset, int64_t bytes,
                          BlockIOVec *qiov, size_t qiov_offset,
                          BlockReqFlags flags)
{
    MemState *s = node->opaque;

    mem_check(s, offset, bytes, s->align);
    if (s->max_transfer && bytes > s->max_transfer) {
        s->violations++;
    }
    if ((flags & BLOCK_REQ_FUA) && !s->fua) {
        s->violations++;
    }
    s->writes++;
    s->fua_writes += (flags & BLOCK_REQ_FUA) != 0;
    if (s->yield) {
        qx_co_yield_to_loop();
    }
    block_iov_to_buf(qiov, qiov_offset, s->data + offset, (size_t)bytes);
    return 0;
}

static int mem_pwrite_zeroes_co(BlockNode *node, int64_t offset,
                                int64_t bytes, BlockReqFlags flags)
{
    MemState *s = node->opaque;

    mem_check(s, offset, bytes, MAX(s->zero_align, s->align));
    if (s->zero_enotsup) {
        return -ENOTSUP;
    }
    s->zero_writes++;
    memset(s->data + offset, 0, (size_t)bytes);
    return 0;
}

static int mem_pdiscard_co(BlockNode *node, int64_t offset, int64_t bytes)
{
    MemState *s = node->opaque;

    mem_check(s, offset, bytes, s->align);
    s->discards++;
    return 0;
}

static int mem_flush_co(BlockNode *node)
{
    MemState *s = node->opaque;
    s->flushes++;
    return 0;
}

static int64_t mem_getlength_co(BlockNode *node)
{
    MemState *s = node->opaque;
    return s->size;
}

static const BlockDriver mem_driver = {
    .format_name = "test-mem",
    .is_protocol = true,
    .state_size = sizeof(MemState),
    .open_co = mem_open_co,
    .close_co = mem_close_co,
    .refresh_limits = mem_refresh_limits,
    .preadv_co = mem_preadv_co,
    .pwritev_co = mem_pwritev_co,
    .pwrite_zeroes_co = mem_pwrite_zeroes_co,
    .pdiscard_co = mem_pdiscard_co,
    .flush_co = mem_flush_co,
    .getlength_co = mem_getlength_co,
    .supported_zero_flags = BLOCK_REQ_MAY_UNMAP,
};

/* The same without a zero-write callback. */
static const BlockDriver mem_driver_nozero = {
    .format_name = "test-mem-nozero",
    .is_protocol = true,
    .state_size = sizeof(MemState),
    .open_co = mem_open_co,
    .close_co = mem_close_co,
    .refresh_limits = mem_refresh_limits,
    .preadv_co = mem_preadv_co,
    .pwritev_co = mem_pwritev_co,
    .flush_co = mem_flush_co,
    .getlength_co = mem_getlength_co,
};

/* ---- Fixture ------------------------------------------------------------ */

typedef struct Env {
    QxLoop *loop;
    BlockGraph *graph;
    BlockBackend *blk;
    MemState *mem;
} Env;

/* Opens a mem node with keyval options under a read-write backend. */
static void env_open(Env *env, const BlockDriver *drv, const char *options)
{
    json_object *opts = qx_opts_parse(options, QX_OPTS_KEYVAL, NULL, NULL,
                                      &error_abort);
    BlockNode *node;

    env->loop = qx_loop_current();
    env->graph = block_graph_new(env->loop, &error_abort);
    node = block_open_with_driver(env->graph, drv, opts, BLOCK_OPEN_RDWR,
                                  &error_abort);
    env->mem = node->opaque;
    env->blk = blk_new(env->graph,
                       BLOCK_PERM_CONSISTENT_READ | BLOCK_PERM_WRITE |
                           BLOCK_PERM_RESIZE,
                       BLOCK_PERM_ALL);
    g_assert_true(blk_insert_node(env->blk, node, &error_abort));
    block_node_unref(node);
}

static void env_close(Env *env)
{
    g_assert_cmpint(env->mem->violations, ==, 0);
    blk_unref(env->blk);
    block_graph_free(env->graph);
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(seed + i * 7 + (i >> 9));
    }
}

/* ---- Tests -------------------------------------------------------------- */

static void test_unaligned_read(void)
{
    Env env;
    uint8_t buf[10000];

    env_open(&env, &mem_driver, "size=65536,align=4096");
    fill_pattern(env.mem->data, 65536, 3);
    g_assert_cmpint(blk_pread(env.blk, 100, 10000, buf, 0), ==, 0);
    g_assert_cmpmem(buf, 10000, env.mem->data + 100, 10000);
    g_assert_cmpint(env.mem->reads, >, 0);
    env_close(&env);
}

static void test_unaligned_write_rmw(void)
{
    Env env;
    uint8_t expect[65536];
    uint8_t buf[5000];

    env_open(&env, &mem_driver, "size=65536,align=4096");
    fill_pattern(env.mem->data, 65536, 5);
    memcpy(expect, env.mem->data, sizeof(expect));
    fill_pattern(buf, sizeof(buf), 99);
    memcpy(expect + 3000, buf, sizeof(buf));

    g_assert_cmpint(blk_pwrite(env.blk, 3000, sizeof(buf), buf, 0), ==, 0);
    /* The bytes around the write survived the read-modify-write. */
    g_assert_cmpmem(env.mem->data, 65536, expect, 65536);
    g_assert_cmpint(env.mem->writes, >, 0);

    /* A one-byte write in the middle of a block. */
    expect[40000] = 0xee;
    g_assert_cmpint(blk_pwrite(env.blk, 40000, 1, &expect[40000], 0), ==, 0);
    g_assert_cmpmem(env.mem->data, 65536, expect, 65536);
    env_close(&env);
}

static void test_max_transfer_split(void)
{
    Env env;
    size_t len = 1 << 20;
    g_autofree uint8_t *buf = g_malloc(len);

    env_open(&env, &mem_driver, "size=2097152,align=512,max-transfer=65536");
    fill_pattern(buf, len, 11);
    g_assert_cmpint(blk_pwrite(env.blk, 4096, (int64_t)len, buf, 0), ==, 0);
    g_assert_cmpint(env.mem->writes, ==, 16);
    g_assert_cmpint(env.mem->largest, ==, 65536);
    memset(buf, 0, len);
    g_assert_cmpint(blk_pread(env.blk, 4096, (int64_t)len, buf, 0), ==, 0);
    g_assert_cmpint(env.mem->reads, ==, 16);
    g_assert_cmpmem(buf, len, env.mem->data + 4096, len);
    env_close(&env);
}

static void test_bounds(void)
{
    Env env;
    uint8_t buf[1024];

    env_open(&env, &mem_driver, "size=65536");
    g_assert_cmpint(blk_getlength(env.blk), ==, 65536);
    g_assert_cmpint(blk_pread(env.blk, 65536 - 512, 1024, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_pwrite(env.blk, 65536, 1, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_pread(env.blk, -1, 1, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_pread(env.blk, 0, -1, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_pwrite_zeroes(env.blk, 65000, 1000, 0), ==, -EIO);
    g_assert_cmpint(blk_pdiscard(env.blk, 0, 65537), ==, -EIO);
    g_assert_cmpint(blk_pread(env.blk, 65536, 0, buf, 0), ==, 0);
    g_assert_cmpint(env.mem->reads + env.mem->writes, ==, 0);
    env_close(&env);
}

static void test_size_rounding_and_tail(void)
{
    Env env;
    uint8_t buf[1024];

    /* A 1000-byte node is a 1024-byte image whose tail reads as zero. */
    env_open(&env, &mem_driver, "size=1000");
    memset(env.mem->data, 0x77, 1000);
    g_assert_cmpint(blk_getlength(env.blk), ==, 1024);
    memset(buf, 0xff, sizeof(buf));
    g_assert_cmpint(blk_pread(env.blk, 0, 1024, buf, 0), ==, 0);
    g_assert_cmpint(buf[999], ==, 0x77);
    g_assert_cmpint(buf[1000], ==, 0);
    g_assert_cmpint(buf[1023], ==, 0);
    env_close(&env);
}

static void test_zero_fallback(void)
{
    Env env;
    uint8_t zero[65536] = {0};

    /* The driver refuses: the core writes zero buffers. */
    env_open(&env, &mem_driver, "size=65536,align=512,zero-enotsup=on");
    memset(env.mem->data, 0xaa, 65536);
    g_assert_cmpint(blk_pwrite_zeroes(env.blk, 512, 8192, 0), ==, 0);
    g_assert_cmpmem(env.mem->data + 512, 8192, zero, 8192);
    g_assert_cmpint(env.mem->data[511], ==, 0xaa);
    g_assert_cmpint(env.mem->data[512 + 8192], ==, 0xaa);
    g_assert_cmpint(env.mem->writes, >, 0);
    /* Unless the caller asked not to. */
    memset(env.mem->data, 0xaa, 65536);
    g_assert_cmpint(blk_pwrite_zeroes(env.blk, 0, 4096,
                                      BLOCK_REQ_NO_FALLBACK),
                    ==, -ENOTSUP);
    g_assert_cmpint(env.mem->data[0], ==, 0xaa);
    env_close(&env);

    /* No zero callback at all. */
    env_open(&env, &mem_driver_nozero, "size=65536,align=512");
    memset(env.mem->data, 0xaa, 65536);
    g_assert_cmpint(blk_pwrite_zeroes(env.blk, 100, 3000, 0), ==, 0);
    g_assert_cmpmem(env.mem->data + 100, 3000, zero, 3000);
    g_assert_cmpint(env.mem->data[99], ==, 0xaa);
    g_assert_cmpint(env.mem->data[3100], ==, 0xaa);
    env_close(&env);
}

static void test_zero_alignment(void)
{
    Env env;
    uint8_t zero[65536] = {0};

    /* Zero granularity 64k: head and tail become buffer writes. */
    env_open(&env, &mem_driver, "size=262144,align=512,zero-align=65536");
    memset(env.mem->data, 0x55, 262144);
    g_assert_cmpint(blk_pwrite_zeroes(env.blk, 1000, 200000, 0), ==, 0);
    g_assert_cmpint(env.mem->data[999], ==, 0x55);
    g_assert_cmpint(env.mem->data[201000], ==, 0x55);
    for (int64_t off = 1000; off < 201000; off += 65536) {
        int64_t n = MIN(65536, 201000 - off);
        g_assert_cmpmem(env.mem->data + off, (size_t)n, zero, (size_t)n);
    }
    g_assert_cmpint(env.mem->zero_writes, >=, 1);
    g_assert_cmpint(env.mem->writes, >=, 2);
    env_close(&env);
}

static void test_detect_zeroes(void)
{
    Env env;
    uint8_t zero[4096] = {0};

    env_open(&env, &mem_driver, "size=65536,detect-zeroes=on");
    memset(env.mem->data, 0x11, 65536);
    g_assert_cmpint(blk_pwrite(env.blk, 0, 4096, zero, 0), ==, 0);
    g_assert_cmpint(env.mem->zero_writes, ==, 1);
    g_assert_cmpint(env.mem->writes, ==, 0);
    g_assert_cmpmem(env.mem->data, 4096, zero, 4096);
    env_close(&env);
}

static void test_discard_policy(void)
{
    Env env;

    /* discard=ignore (the default) drops discards. */
    env_open(&env, &mem_driver, "size=65536,align=4096");
    g_assert_cmpint(blk_pdiscard(env.blk, 0, 65536), ==, 0);
    g_assert_cmpint(env.mem->discards, ==, 0);
    env_close(&env);

    /* discard=unmap passes whole aligned blocks only. */
    env_open(&env, &mem_driver, "size=65536,align=4096,discard=unmap");
    g_assert_cmpint(blk_pdiscard(env.blk, 100, 10000), ==, 0);
    g_assert_cmpint(env.mem->discards, ==, 1);
    g_assert_cmpint(blk_pdiscard(env.blk, 100, 1000), ==, 0);
    g_assert_cmpint(env.mem->discards, ==, 1);
    env_close(&env);
}

static void test_fua_emulation(void)
{
    Env env;
    uint8_t buf[512] = {1};

    env_open(&env, &mem_driver, "size=65536");
    g_assert_cmpint(blk_pwrite(env.blk, 0, 512, buf, BLOCK_REQ_FUA), ==, 0);
    g_assert_cmpint(env.mem->flushes, ==, 1);
    g_assert_cmpint(env.mem->fua_writes, ==, 0);
    /* Writethrough backends make every write FUA. */
    blk_set_enable_write_cache(env.blk, false);
    g_assert_cmpint(blk_pwrite(env.blk, 512, 512, buf, 0), ==, 0);
    g_assert_cmpint(env.mem->flushes, ==, 2);
    env_close(&env);

    env_open(&env, &mem_driver, "size=65536,fua=on");
    g_assert_cmpint(blk_pwrite(env.blk, 0, 512, buf, BLOCK_REQ_FUA), ==, 0);
    g_assert_cmpint(env.mem->fua_writes, ==, 1);
    g_assert_cmpint(env.mem->flushes, ==, 0);
    env_close(&env);
}

static void test_flush_skips_clean(void)
{
    Env env;
    uint8_t buf[512] = {1};

    env_open(&env, &mem_driver, "size=65536");
    g_assert_cmpint(blk_flush(env.blk), ==, 0);
    g_assert_cmpint(env.mem->flushes, ==, 0);
    g_assert_cmpint(blk_pwrite(env.blk, 0, 512, buf, 0), ==, 0);
    g_assert_cmpint(blk_flush(env.blk), ==, 0);
    g_assert_cmpint(blk_flush(env.blk), ==, 0);
    g_assert_cmpint(env.mem->flushes, ==, 1);
    env_close(&env);
}

typedef struct AioDone {
    int count;
    int ret[4];
} AioDone;

static void aio_cb(void *opaque, int ret)
{
    AioDone *d = opaque;
    d->ret[d->count++] = ret;
}

/*
 * Two unaligned writes into the same block, interleaved by a driver that
 * yields: without serialisation the second read-modify-write would undo
 * the first.
 */
static void test_rmw_serialisation(void)
{
    Env env;
    uint8_t a[100];
    uint8_t b[100];
    BlockIOVec qa;
    BlockIOVec qb;
    AioDone done = {0};

    env_open(&env, &mem_driver, "size=65536,align=4096,yield=on");
    memset(a, 0xaa, sizeof(a));
    memset(b, 0xbb, sizeof(b));
    block_iov_init_buf(&qa, a, sizeof(a));
    block_iov_init_buf(&qb, b, sizeof(b));
    blk_aio_pwritev(env.blk, 100, &qa, 0, aio_cb, &done);
    blk_aio_pwritev(env.blk, 300, &qb, 0, aio_cb, &done);
    g_assert_cmpint(blk_in_flight(env.blk), >=, 2);
    while (done.count < 2) {
        qx_loop_run_once(env.loop, true);
    }
    g_assert_cmpint(done.ret[0], ==, 0);
    g_assert_cmpint(done.ret[1], ==, 0);
    g_assert_cmpmem(env.mem->data + 100, 100, a, 100);
    g_assert_cmpmem(env.mem->data + 300, 100, b, 100);
    g_assert_cmpint(env.mem->data[200], ==, 0);
    env_close(&env);
}

static void test_drain_waits(void)
{
    Env env;
    uint8_t buf[4096];
    BlockIOVec q;
    AioDone done = {0};

    env_open(&env, &mem_driver, "size=65536,yield=on");
    block_iov_init_buf(&q, buf, sizeof(buf));
    blk_aio_preadv(env.blk, 0, &q, 0, aio_cb, &done);
    blk_aio_preadv(env.blk, 4096, &q, 0, aio_cb, &done);
    g_assert_cmpint(done.count, ==, 0);
    blk_drain(env.blk);
    g_assert_cmpint(done.count, ==, 2);
    g_assert_cmpint(blk_in_flight(env.blk), ==, 0);
    env_close(&env);
}

static void test_read_only(void)
{
    QxLoop *loop = qx_loop_current();
    BlockGraph *graph = block_graph_new(loop, &error_abort);
    json_object *opts = json_object_new_object();
    BlockNode *node;
    BlockBackend *blk;
    uint8_t buf[512] = {0};
    Error *err = NULL;

    node = block_open_with_driver(graph, &mem_driver, opts, 0, &error_abort);
    g_assert_true(block_node_is_read_only(node));
    /* Readers may attach; a writer may not. */
    blk = blk_new(graph, BLOCK_PERM_CONSISTENT_READ, BLOCK_PERM_ALL);
    g_assert_true(blk_insert_node(blk, node, &error_abort));
    {
        BlockBackend *writer = blk_new(graph, BLOCK_PERM_WRITE,
                                       BLOCK_PERM_ALL);
        g_assert_false(blk_insert_node(writer, node, &err));
        g_assert_cmpstr(error_get_pretty(err), ==, "Block node is read-only");
        error_free_or_null(&err);
        blk_unref(writer);
    }
    /* Writes and resizes through the reader fail. */
    g_assert_cmpint(blk_pwrite(blk, 0, 512, buf, 0), ==, -EPERM);
    g_assert_cmpint(blk_truncate(blk, 4096, true, BLOCK_PREALLOC_OFF, 0,
                                 &err),
                    ==, -EACCES);
    g_assert_cmpstr(error_get_pretty(err), ==, "Image is read-only");
    error_free(err);
    blk_unref(blk);
    block_node_unref(node);
    block_graph_free(graph);
}

static void test_perm_conflict_in_process(void)
{
    Env env;
    BlockBackend *other;
    Error *err = NULL;

    env_open(&env, &mem_driver, "size=65536");
    /* A second user that does not share writes conflicts with the first. */
    other = blk_new(env.graph, BLOCK_PERM_CONSISTENT_READ,
                    BLOCK_PERM_CONSISTENT_READ);
    g_assert_false(blk_insert_node(other, blk_node(env.blk), &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "Conflicts with use by"));
    error_free(err);
    blk_unref(other);
    env_close(&env);
}

int main(int argc, char **argv)
{
    QxLoop *loop;

    g_test_init(&argc, &argv, NULL);
    loop = qx_loop_new(&error_abort);
    qx_loop_set_current(loop);

    g_test_add_func("/block-io/unaligned-read", test_unaligned_read);
    g_test_add_func("/block-io/unaligned-write-rmw", test_unaligned_write_rmw);
    g_test_add_func("/block-io/max-transfer-split", test_max_transfer_split);
    g_test_add_func("/block-io/bounds", test_bounds);
    g_test_add_func("/block-io/size-rounding", test_size_rounding_and_tail);
    g_test_add_func("/block-io/zero-fallback", test_zero_fallback);
    g_test_add_func("/block-io/zero-alignment", test_zero_alignment);
    g_test_add_func("/block-io/detect-zeroes", test_detect_zeroes);
    g_test_add_func("/block-io/discard-policy", test_discard_policy);
    g_test_add_func("/block-io/fua-emulation", test_fua_emulation);
    g_test_add_func("/block-io/flush-skips-clean", test_flush_skips_clean);
    g_test_add_func("/block-io/rmw-serialisation", test_rmw_serialisation);
    g_test_add_func("/block-io/drain-waits", test_drain_waits);
    g_test_add_func("/block-io/read-only", test_read_only);
    g_test_add_func("/block-io/perm-conflict", test_perm_conflict_in_process);
    return g_test_run();
}
