/*
 * Unit tests for qemu-img measure's arithmetic (lib/block/measure.c):
 * the qcow2 refcount fixed point and fully-allocated size, and
 * block_measure_co for raw and qcow2 with expected figures and messages
 * taken from QEMU 7.2's qemu-img measure.
 */
#include <string.h>

#include "qx/block/measure.h"
#include "qx/util/coroutine.h"

static void test_qcow2_prealloc_size(void)
{
    /* qemu-img measure -O qcow2 [-o ...] --size N: "fully allocated" */
    g_assert_cmpuint(block_qcow2_prealloc_size(1ull << 30, 65536, 4, false),
                     ==, 1074135040ull);
    g_assert_cmpuint(block_qcow2_prealloc_size(1ull << 50, 65536, 4, false),
                     ==, 1126071731945472ull);
    g_assert_cmpuint(block_qcow2_prealloc_size(10ull << 30, 65536, 4, true),
                     ==, 10740629504ull);
    g_assert_cmpuint(block_qcow2_prealloc_size(7ull << 40, 2 << 20, 6,
                                               false),
                     ==, 7696648503296ull);
    g_assert_cmpuint(block_qcow2_prealloc_size(0, 65536, 4, false), ==,
                     196608);
    g_assert_cmpuint(block_qcow2_prealloc_size(123457536, 4096, 4, false),
                     ==, 123772928);
}

static void test_refcount_metadata_size(void)
{
    /* One block and one table cluster count themselves. */
    g_assert_cmpuint(block_qcow2_refcount_metadata_size(3, 65536, 4, false),
                     ==, 2 * 65536);
    /* 32768 16-bit refcounts per 64k block: 32767 + 2 spill into two. */
    g_assert_cmpuint(
        block_qcow2_refcount_metadata_size(32767, 65536, 4, false), ==,
        3 * 65536);
    /* generous adds half the table again before the last round */
    g_assert_cmpuint(block_qcow2_refcount_metadata_size(3, 65536, 4, true),
                     >=, 2 * 65536);
}

typedef struct MeasureCase {
    const char *fmt;
    const char *options; /* -o text, may be NULL */
    const char *size;
    uint64_t required;
    uint64_t fully_allocated;
    const char *error; /* expected message instead */
} MeasureCase;

typedef struct MeasureRun {
    const MeasureCase *c;
    BlockCreateOpts *opts;
    BlockMeasureInfo info;
    Error *err;
    bool ok;
} MeasureRun;

static void measure_entry(void *opaque)
{
    MeasureRun *r = opaque;

    r->ok = block_measure_co(block_driver_find(r->c->fmt), r->opts, NULL,
                             &r->info, &r->err);
}

static void run_case(const MeasureCase *c)
{
    const BlockDriver *drv = block_driver_find(c->fmt);
    MeasureRun r = {.c = c};
    bool help = false;

    if (!drv) {
        g_test_skip("format not registered");
        return;
    }
    r.opts = block_create_opts_new();
    block_create_opts_append_desc(r.opts, block_driver_get_create_opts(drv));
    block_create_opts_append_desc(
        r.opts, block_driver_get_create_opts(block_driver_find("file")));
    if (c->options) {
        g_assert_true(block_create_opts_parse(r.opts, c->options, &help,
                                              &error_abort));
    }
    g_assert_true(block_create_opts_set(r.opts, "size", c->size,
                                        &error_abort));
    qx_co_run(qx_loop_current(), measure_entry, &r);
    if (c->error) {
        g_assert_false(r.ok);
        g_assert_cmpstr(error_get_pretty(r.err), ==, c->error);
        error_free(r.err);
    } else {
        g_assert_true(r.ok);
        g_assert_cmpuint(r.info.required, ==, c->required);
        g_assert_cmpuint(r.info.fully_allocated, ==, c->fully_allocated);
        g_assert_false(r.info.has_bitmaps);
    }
    block_create_opts_free(r.opts);
}

static const MeasureCase cases[] = {
    {"raw", NULL, "1073741824", 1073741824, 1073741824, NULL},
    {"raw", NULL, "1000", 1024, 1024, NULL},
    {"raw", "preallocation=full", "1000", 1024, 1024, NULL},
    {"qcow2", NULL, "1073741824", 393216, 1074135040, NULL},
    {"qcow2", "extended_l2=on", "10737418240", 3211264, 10740629504, NULL},
    {"qcow2", "cluster_size=2M,refcount_bits=64", "7696581394432",
     67108864, 7696648503296, NULL},
    {"qcow2", "cluster_size=4k", "123456789", 315392, 123772928, NULL},
    {"qcow2", "preallocation=full", "1073741824", 1074135040, 1074135040,
     NULL},
    {"qcow2", "cluster_size=512,refcount_bits=1", "1099511627776", 0, 0,
     "The image size is too large (try using a larger cluster size)"},
    {"qcow2", "extended_l2=on,cluster_size=4k", "1", 0, 0,
     "Extended L2 entries are only supported with cluster sizes of at "
     "least 16384 bytes"},
    {"qcow2", "cluster_size=3k", "1", 0, 0,
     "Cluster size must be a power of two between 512 and 2048k"},
    {"qcow2", "compat=foo", "1", 0, 0,
     "Invalid compatibility level: 'foo'"},
    {"qcow2", "compat=0.10,refcount_bits=8", "1", 0, 0,
     "Different refcount widths than 16 bits require compatibility level "
     "1.1 or above (use compat=1.1 or greater)"},
    {"qcow2", "refcount_bits=3", "1", 0, 0,
     "Refcount width must be a power of two and may not exceed 64 bits"},
    {"qcow2", "preallocation=foo", "1", 0, 0,
     "invalid parameter value: foo"},
    {"null-co", NULL, "1", 0, 0,
     "Block driver 'null-co' does not support size measurement"},
};

static void test_measure_case(gconstpointer data)
{
    run_case(data);
}

int main(int argc, char **argv)
{
    QxLoop *loop;

    g_test_init(&argc, &argv, NULL);
    loop = qx_loop_new(&error_abort);
    g_test_add_func("/measure/qcow2-prealloc-size", test_qcow2_prealloc_size);
    g_test_add_func("/measure/refcount-metadata-size",
                    test_refcount_metadata_size);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *path = g_strdup_printf("/measure/case-%zu-%s", i,
                                     cases[i].fmt);
        g_test_add_data_func(path, &cases[i], test_measure_case);
        g_free(path);
    }
    int ret = g_test_run();
    qx_loop_free(loop);
    return ret;
}
