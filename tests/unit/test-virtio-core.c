/*
 * Unit tests for the virtio core and the virtio-mmio transport, driven
 * through virtio-rng (the simplest device): register layout, feature
 * negotiation, interrupts, event index, indirect descriptors, and hostile
 * rings that must put the device into NEEDS_RESET without crashing.
 */
#include "virtio-test-driver.h"

typedef struct Rng {
    TDrv d;
} Rng;

static void rng_start(Rng *r, uint64_t features)
{
    VirtioMmio *dev = tdrv_create("virtio-rng-device", NULL, &error_abort);

    tdrv_init(&r->d, dev);
    tdrv_start(&r->d, features, 1, 8);
}

static void rng_stop(Rng *r)
{
    tdrv_cleanup(&r->d);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

static void test_registers(void)
{
    TDrv d;
    VirtioMmio *dev = tdrv_create("virtio-rng-device", NULL, &error_abort);
    uint64_t v = 0;

    tdrv_init(&d, dev);
    g_assert_cmphex(tdrv_rd(&d, TR_MAGIC), ==, 0x74726976);
    g_assert_cmpuint(tdrv_rd(&d, TR_VERSION), ==, 2);
    g_assert_cmpuint(tdrv_rd(&d, TR_DEVICE_ID), ==, 4);
    g_assert_cmphex(tdrv_rd(&d, TR_VENDOR), ==, 0x554d4551);
    g_assert_cmphex(tdrv_host_features(&d) & TF_VERSION_1, ==, TF_VERSION_1);
    g_assert_cmphex(tdrv_host_features(&d) & TF_EVENT_IDX, ==, TF_EVENT_IDX);
    g_assert_cmphex(tdrv_host_features(&d) & TF_INDIRECT, ==, TF_INDIRECT);
    /* narrow register reads are ignored (read as 0), never a fault */
    g_assert_cmpint(d.ops->read(dev, TR_MAGIC, 1, &v), ==, RISCV_MMIO_OK);
    g_assert_cmpuint(v, ==, 0);
    /* queue 1 does not exist */
    tdrv_wr(&d, TR_QSEL, 1);
    g_assert_cmpuint(tdrv_rd(&d, TR_QNUM_MAX), ==, 0);
    tdrv_wr(&d, TR_QSEL, 0);
    g_assert_cmpuint(tdrv_rd(&d, TR_QNUM_MAX), ==, 8);
    g_assert_cmpstr(virtio_mmio_device_name(dev), ==, "virtio-rng-device");
    tdrv_cleanup(&d);
}

static void test_features(void)
{
    TDrv d;
    VirtioMmio *dev = tdrv_create("virtio-rng-device", NULL, &error_abort);

    tdrv_init(&d, dev);
    /* legacy driver (no VERSION_1): refused */
    g_assert_false(tdrv_negotiate(&d, 0));
    /* a feature the device does not offer: refused */
    g_assert_false(tdrv_negotiate(&d, TF_VERSION_1 | (1ull << 40)));
    g_assert_true(tdrv_negotiate(&d, TF_VERSION_1));
    /* features are frozen after FEATURES_OK */
    tdrv_wr(&d, TR_DRV_FEAT_SEL, 0);
    tdrv_wr(&d, TR_DRV_FEAT, 1u << 28);
    tdrv_cleanup(&d);

    dev = tdrv_create("virtio-rng-device,event_idx=off,indirect_desc=off", NULL,
                      &error_abort);
    tdrv_init(&d, dev);
    g_assert_cmphex(tdrv_host_features(&d) & (TF_EVENT_IDX | TF_INDIRECT), ==,
                    0);
    tdrv_cleanup(&d);
}

static void test_props(void)
{
    Error *err = NULL;

    g_assert_null(tdrv_create("virtio-rng-device,foo=1", NULL, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Property 'virtio-rng-device.foo' not found");
    error_free(err);
    err = NULL;
    g_assert_null(tdrv_create("virtio-nope-device", NULL, &err));
    g_assert_nonnull(err);
    error_free(err);
    g_assert_true(virtio_mmio_has_device("virtio-blk-device"));
    g_assert_false(virtio_mmio_has_device("virtio-gpu-device"));
}

static void test_rng_data(void)
{
    Rng r;
    uint64_t buf;
    uint32_t id = 0, len = 0;

    rng_start(&r, TF_VERSION_1);
    buf = tdrv_alloc(&r.d, 64, 8);
    tdrv_add(&r.d, 0, &(TBuf){buf, 64, true}, 1, false);
    g_assert_cmpint(r.d.irq_raises, ==, 0);
    tdrv_kick(&r.d, 0);
    g_assert_true(tdrv_get_used(&r.d, 0, &id, &len));
    g_assert_cmpuint(id, ==, 0);
    g_assert_cmpuint(len, ==, 64);
    g_assert_false(all_zero(tdrv_host(&r.d, buf), 64));
    /* interrupt raised, then acknowledged */
    g_assert_true(r.d.irq_level);
    g_assert_cmpuint(tdrv_rd(&r.d, TR_ISR), ==, 1);
    tdrv_ack_irq(&r.d);
    g_assert_false(r.d.irq_level);
    g_assert_cmpuint(tdrv_rd(&r.d, TR_ISR), ==, 0);
    rng_stop(&r);
}

static void test_no_interrupt_flag(void)
{
    Rng r;
    uint64_t buf;
    uint32_t id = 0, len = 0;

    rng_start(&r, TF_VERSION_1);
    buf = tdrv_alloc(&r.d, 16, 8);
    tdrv_set16(&r.d, r.d.q[0].avail, 1); /* VRING_AVAIL_F_NO_INTERRUPT */
    tdrv_add(&r.d, 0, &(TBuf){buf, 16, true}, 1, false);
    tdrv_kick(&r.d, 0);
    g_assert_true(tdrv_get_used(&r.d, 0, &id, &len));
    g_assert_cmpint(r.d.irq_raises, ==, 0);
    rng_stop(&r);
}

static void test_event_idx(void)
{
    Rng r;
    uint64_t buf;
    uint32_t id = 0, len = 0;
    uint16_t avail_event;

    rng_start(&r, TF_VERSION_1 | TF_EVENT_IDX);
    buf = tdrv_alloc(&r.d, 16, 8);
    /* interrupt only after the used index passes 2 */
    tdrv_set_used_event(&r.d, 0, 2);
    tdrv_add(&r.d, 0, &(TBuf){buf, 16, true}, 1, false);
    tdrv_kick(&r.d, 0);
    g_assert_true(tdrv_get_used(&r.d, 0, &id, &len));
    /* first notification is always sent (nothing signalled yet) */
    g_assert_cmpint(r.d.irq_raises, ==, 1);
    tdrv_ack_irq(&r.d);
    tdrv_add(&r.d, 0, &(TBuf){buf, 16, true}, 1, false);
    tdrv_kick(&r.d, 0);
    g_assert_true(tdrv_get_used(&r.d, 0, &id, &len));
    g_assert_cmpint(r.d.irq_raises, ==, 1); /* used idx 2: suppressed */
    tdrv_add(&r.d, 0, &(TBuf){buf, 16, true}, 1, false);
    tdrv_kick(&r.d, 0);
    g_assert_true(tdrv_get_used(&r.d, 0, &id, &len));
    g_assert_cmpint(r.d.irq_raises, ==, 2); /* crossed used_event 2 */
    /* the device publishes avail_event = next avail index it will read */
    avail_event = tdrv_get16(&r.d, r.d.q[0].used + 4 + 8 * r.d.q[0].num);
    g_assert_cmpuint(avail_event, ==, 3);
    g_assert_false(tdrv_is_broken(&r.d));
    rng_stop(&r);
}

static void test_indirect(void)
{
    Rng r;
    uint64_t b1, b2, b3;
    uint32_t id = 0, len = 0;
    TBuf bufs[3];

    rng_start(&r, TF_VERSION_1 | TF_INDIRECT);
    b1 = tdrv_alloc(&r.d, 8, 8);
    b2 = tdrv_alloc(&r.d, 24, 8);
    b3 = tdrv_alloc(&r.d, 32, 8);
    bufs[0] = (TBuf){b1, 8, true};
    bufs[1] = (TBuf){b2, 24, true};
    bufs[2] = (TBuf){b3, 32, true};
    tdrv_add(&r.d, 0, bufs, 3, true);
    tdrv_kick(&r.d, 0);
    g_assert_true(tdrv_get_used(&r.d, 0, &id, &len));
    g_assert_cmpuint(len, ==, 64);
    g_assert_false(all_zero(tdrv_host(&r.d, b3), 32));
    g_assert_false(tdrv_is_broken(&r.d));
    rng_stop(&r);
}

/* ---- hostile rings ------------------------------------------------------ */

static void expect_broken(Rng *r)
{
    uint32_t id = 0, len = 0;

    g_assert_true(tdrv_is_broken(&r->d));
    g_assert_true(virtio_mmio_is_broken(r->d.dev));
    g_assert_false(tdrv_get_used(&r->d, 0, &id, &len));
    /* the driver learns about it through a config interrupt */
    g_assert_cmpuint(tdrv_rd(&r->d, TR_ISR) & 2, ==, 2);
    /* further kicks are ignored */
    tdrv_kick(&r->d, 0);
    g_assert_false(tdrv_get_used(&r->d, 0, &id, &len));
}

/* After a reset and a fresh start, the device works again. */
static void expect_recovers(Rng *r)
{
    uint64_t buf;
    uint32_t id = 0, len = 0;

    r->d.brk = TRAM_BASE + 0x1000;
    tdrv_start(&r->d, TF_VERSION_1 | TF_INDIRECT | TF_EVENT_IDX, 1, 8);
    g_assert_false(tdrv_is_broken(&r->d));
    buf = tdrv_alloc(&r->d, 16, 8);
    tdrv_add(&r->d, 0, &(TBuf){buf, 16, true}, 1, false);
    tdrv_kick(&r->d, 0);
    g_assert_true(tdrv_get_used(&r->d, 0, &id, &len));
    g_assert_cmpuint(len, ==, 16);
}

static void test_hostile_loop(void)
{
    Rng r;
    uint64_t buf;

    rng_start(&r, TF_VERSION_1);
    buf = tdrv_alloc(&r.d, 16, 8);
    tdrv_put_desc(&r.d, r.d.q[0].desc, 0, buf, 16, TD_WRITE | TD_NEXT, 1);
    tdrv_put_desc(&r.d, r.d.q[0].desc, 1, buf, 16, TD_WRITE | TD_NEXT, 0);
    tdrv_publish(&r.d, 0, 0);
    tdrv_kick(&r.d, 0);
    expect_broken(&r);
    expect_recovers(&r);
    rng_stop(&r);
}

static void test_hostile_indirect_loop(void)
{
    Rng r;
    uint64_t buf, table;

    rng_start(&r, TF_VERSION_1 | TF_INDIRECT);
    buf = tdrv_alloc(&r.d, 16, 8);
    table = tdrv_alloc(&r.d, 32, 16);
    tdrv_put_desc(&r.d, table, 0, buf, 16, TD_WRITE | TD_NEXT, 1);
    tdrv_put_desc(&r.d, table, 1, buf, 16, TD_WRITE | TD_NEXT, 0);
    tdrv_put_desc(&r.d, r.d.q[0].desc, 0, table, 32, TD_INDIRECT, 0);
    tdrv_publish(&r.d, 0, 0);
    tdrv_kick(&r.d, 0);
    expect_broken(&r);
    rng_stop(&r);
}

static void test_hostile_nested_indirect(void)
{
    Rng r;
    uint64_t table;

    rng_start(&r, TF_VERSION_1 | TF_INDIRECT);
    table = tdrv_alloc(&r.d, 16, 16);
    tdrv_put_desc(&r.d, table, 0, table, 16, TD_INDIRECT, 0);
    tdrv_put_desc(&r.d, r.d.q[0].desc, 0, table, 16, TD_INDIRECT, 0);
    tdrv_publish(&r.d, 0, 0);
    tdrv_kick(&r.d, 0);
    expect_broken(&r);
    rng_stop(&r);
}

static void test_hostile_indirect_not_negotiated(void)
{
    Rng r;
    uint64_t buf, table;

    rng_start(&r, TF_VERSION_1);
    buf = tdrv_alloc(&r.d, 16, 8);
    table = tdrv_alloc(&r.d, 16, 16);
    tdrv_put_desc(&r.d, table, 0, buf, 16, TD_WRITE, 0);
    tdrv_put_desc(&r.d, r.d.q[0].desc, 0, table, 16, TD_INDIRECT, 0);
    tdrv_publish(&r.d, 0, 0);
    tdrv_kick(&r.d, 0);
    expect_broken(&r);
    rng_stop(&r);
}

static void test_hostile_indirect_bad_len(void)
{
    Rng r;
    uint64_t table;

    rng_start(&r, TF_VERSION_1 | TF_INDIRECT);
    table = tdrv_alloc(&r.d, 32, 16);
    tdrv_put_desc(&r.d, r.d.q[0].desc, 0, table, 20, TD_INDIRECT, 0);
    tdrv_publish(&r.d, 0, 0);
    tdrv_kick(&r.d, 0);
    expect_broken(&r);
    rng_stop(&r);
}

static void test_hostile_out_of_ram(void)
{
    static const struct {
        uint64_t addr;
        uint32_t len;
    } cases[] = {
        {0x1000, 16},                     /* below RAM */
        {TRAM_BASE + TRAM_SIZE, 1},       /* just past the end */
        {TRAM_BASE + TRAM_SIZE - 8, 16},  /* straddles the end */
        {UINT64_MAX - 7, 16},             /* wraps around */
        {TRAM_BASE + 0x2000, UINT32_MAX}, /* len overflows RAM */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        Rng r;

        rng_start(&r, TF_VERSION_1);
        tdrv_put_desc(&r.d, r.d.q[0].desc, 0, cases[i].addr, cases[i].len,
                      TD_WRITE, 0);
        tdrv_publish(&r.d, 0, 0);
        tdrv_kick(&r.d, 0);
        expect_broken(&r);
        rng_stop(&r);
    }
}

static void test_hostile_long_chain(void)
{
    Rng r;
    uint64_t buf;

    /* 9 descriptors in an 8-entry queue, made of a next index that wraps */
    rng_start(&r, TF_VERSION_1);
    buf = tdrv_alloc(&r.d, 16, 8);
    for (unsigned i = 0; i < 8; i++) {
        tdrv_put_desc(&r.d, r.d.q[0].desc, i, buf, 16, TD_WRITE | TD_NEXT,
                      (i + 1) % 8);
    }
    tdrv_publish(&r.d, 0, 3);
    tdrv_kick(&r.d, 0);
    expect_broken(&r);
    rng_stop(&r);

    /* next index outside the queue */
    rng_start(&r, TF_VERSION_1);
    tdrv_put_desc(&r.d, r.d.q[0].desc, 0, buf, 16, TD_WRITE | TD_NEXT, 200);
    tdrv_publish(&r.d, 0, 0);
    tdrv_kick(&r.d, 0);
    expect_broken(&r);
    rng_stop(&r);
}

static void test_hostile_order(void)
{
    Rng r;
    uint64_t buf;
    TBuf b[2];

    /* a readable buffer after a writable one (§2.6.4.2) */
    rng_start(&r, TF_VERSION_1);
    buf = tdrv_alloc(&r.d, 32, 8);
    b[0] = (TBuf){ buf, 16, true };
    b[1] = (TBuf){ buf + 16, 16, false };
    tdrv_add(&r.d, 0, b, 2, false);
    tdrv_kick(&r.d, 0);
    expect_broken(&r);
    rng_stop(&r);
}

static void test_hostile_avail(void)
{
    Rng r;

    /* head index outside the queue */
    rng_start(&r, TF_VERSION_1);
    tdrv_publish(&r.d, 0, 9);
    tdrv_kick(&r.d, 0);
    expect_broken(&r);
    rng_stop(&r);

    /* avail index jumps further than the queue size */
    rng_start(&r, TF_VERSION_1);
    tdrv_set16(&r.d, r.d.q[0].avail + 2, 100);
    tdrv_kick(&r.d, 0);
    expect_broken(&r);
    rng_stop(&r);
}

static void test_hostile_queue_setup(void)
{
    static const struct {
        uint32_t num;
        uint64_t desc;
    } cases[] = {
        {3, 0},                     /* not a power of 2 */
        {16, 0},                    /* above QueueNumMax */
        {0, 0},                     /* empty */
        {8, 8},                     /* misaligned descriptor table */
        {8, TRAM_BASE + TRAM_SIZE}, /* table outside RAM */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        TDrv d;
        VirtioMmio *dev = tdrv_create("virtio-rng-device", NULL, &error_abort);
        uint64_t desc;

        tdrv_init(&d, dev);
        g_assert_true(tdrv_negotiate(&d, TF_VERSION_1));
        desc = tdrv_alloc(&d, 256, 16);
        tdrv_wr(&d, TR_QSEL, 0);
        tdrv_wr(&d, TR_QNUM, cases[i].num);
        tdrv_wr64(&d, TR_QDESC,
                  cases[i].desc == 8 ? desc + 8
                  : cases[i].desc    ? cases[i].desc
                                     : desc);
        tdrv_wr64(&d, TR_QDRIVER, tdrv_alloc(&d, 64, 2));
        tdrv_wr64(&d, TR_QDEVICE, tdrv_alloc(&d, 256, 4));
        tdrv_wr(&d, TR_QREADY, 1);
        g_assert_cmpuint(tdrv_rd(&d, TR_QREADY), ==, 0);
        g_assert_true(virtio_mmio_is_broken(dev));
        g_assert_true(tdrv_is_broken(&d));
        /* reset clears the error */
        virtio_mmio_reset(dev);
        g_assert_false(virtio_mmio_is_broken(dev));
        g_assert_cmpuint(tdrv_rd(&d, TR_STATUS), ==, 0);
        tdrv_cleanup(&d);
    }
}

static void test_hostile_registers(void)
{
    TDrv d;
    VirtioMmio *dev = tdrv_create("virtio-rng-device", NULL, &error_abort);
    uint64_t v;

    tdrv_init(&d, dev);
    /* every offset, every size, read and garbage write: no crash */
    for (uint64_t off = 0; off < VIRTIO_MMIO_REGION_SIZE; off += 4) {
        for (unsigned size = 1; size <= 8; size *= 2) {
            if (off % size) {
                continue;
            }
            d.ops->read(dev, off, size, &v);
            if (off != TR_STATUS) {
                d.ops->write(dev, off, size, 0xffffffffffffffffull);
            }
        }
    }
    tdrv_wr(&d, TR_QNOTIFY, 0xffff);
    tdrv_cleanup(&d);
}

int main(int argc, char **argv)
{
    QxLoop *loop;

    g_test_init(&argc, &argv, NULL);
    loop = qx_loop_new(&error_abort);
    qx_loop_set_current(loop);
    g_test_add_func("/virtio-core/registers", test_registers);
    g_test_add_func("/virtio-core/features", test_features);
    g_test_add_func("/virtio-core/props", test_props);
    g_test_add_func("/virtio-core/rng-data", test_rng_data);
    g_test_add_func("/virtio-core/no-interrupt-flag", test_no_interrupt_flag);
    g_test_add_func("/virtio-core/event-idx", test_event_idx);
    g_test_add_func("/virtio-core/indirect", test_indirect);
    g_test_add_func("/virtio-core/hostile/loop", test_hostile_loop);
    g_test_add_func("/virtio-core/hostile/indirect-loop",
                    test_hostile_indirect_loop);
    g_test_add_func("/virtio-core/hostile/nested-indirect",
                    test_hostile_nested_indirect);
    g_test_add_func("/virtio-core/hostile/indirect-not-negotiated",
                    test_hostile_indirect_not_negotiated);
    g_test_add_func("/virtio-core/hostile/indirect-bad-len",
                    test_hostile_indirect_bad_len);
    g_test_add_func("/virtio-core/hostile/out-of-ram", test_hostile_out_of_ram);
    g_test_add_func("/virtio-core/hostile/long-chain", test_hostile_long_chain);
    g_test_add_func("/virtio-core/hostile/avail", test_hostile_avail);
    g_test_add_func("/virtio-core/hostile/order", test_hostile_order);
    g_test_add_func("/virtio-core/hostile/queue-setup",
                    test_hostile_queue_setup);
    g_test_add_func("/virtio-core/hostile/registers", test_hostile_registers);
    return g_test_run();
}
