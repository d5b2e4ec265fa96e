/*
 * A tiny virtio-mmio driver for unit tests: guest RAM is a g_malloc'd
 * buffer, rings are laid out in it with a bump allocator, and registers are
 * driven through the device's QxMmioOps the way a guest driver does.
 */
#ifndef TESTS_VIRTIO_TEST_DRIVER_H
#define TESTS_VIRTIO_TEST_DRIVER_H

#include <glib.h>
#include <string.h>

#include "qx/emu/virtio.h"
#include "qx/util/opts.h"

#define TRAM_BASE 0x80000000ull
#define TRAM_SIZE (4u << 20)
#define TQ_MAX 4

enum {
    TR_MAGIC = 0x000,
    TR_VERSION = 0x004,
    TR_DEVICE_ID = 0x008,
    TR_VENDOR = 0x00c,
    TR_DEV_FEAT = 0x010,
    TR_DEV_FEAT_SEL = 0x014,
    TR_DRV_FEAT = 0x020,
    TR_DRV_FEAT_SEL = 0x024,
    TR_QSEL = 0x030,
    TR_QNUM_MAX = 0x034,
    TR_QNUM = 0x038,
    TR_QREADY = 0x044,
    TR_QNOTIFY = 0x050,
    TR_ISR = 0x060,
    TR_ACK = 0x064,
    TR_STATUS = 0x070,
    TR_QDESC = 0x080,
    TR_QDRIVER = 0x090,
    TR_QDEVICE = 0x0a0,
    TR_CONFIG_GEN = 0x0fc,
    TR_CONFIG = 0x100,
};

#define TS_ACK 1
#define TS_DRIVER 2
#define TS_DRIVER_OK 4
#define TS_FEATURES_OK 8
#define TS_NEEDS_RESET 64

#define TF_INDIRECT (1ull << 28)
#define TF_EVENT_IDX (1ull << 29)
#define TF_VERSION_1 (1ull << 32)

#define TD_NEXT 1
#define TD_WRITE 2
#define TD_INDIRECT 4

typedef struct TQueue {
    uint16_t num;
    uint64_t desc, avail, used;
    uint16_t avail_idx;
    uint16_t last_used;
    uint16_t next_desc;
} TQueue;

typedef struct TDrv {
    uint8_t *ram;
    QxGuestMem mem;
    VirtioMmio *dev;
    const QxMmioOps *ops;
    bool irq_level;
    int irq_raises;
    uint64_t brk;
    uint64_t features;
    TQueue q[TQ_MAX];
} TDrv;

typedef struct TBuf {
    uint64_t gpa;
    uint32_t len;
    bool write;
} TBuf;

static inline void tdrv_irq_set(void *opaque, unsigned line, bool level)
{
    TDrv *d = opaque;

    if (level && !d->irq_level) {
        d->irq_raises++;
    }
    d->irq_level = level;
}

static inline void *tdrv_host(TDrv *d, uint64_t gpa)
{
    g_assert(gpa >= TRAM_BASE && gpa < TRAM_BASE + TRAM_SIZE);
    return d->ram + (gpa - TRAM_BASE);
}

static inline uint64_t tdrv_alloc(TDrv *d, size_t size, size_t align)
{
    uint64_t gpa = (d->brk + align - 1) & ~(uint64_t)(align - 1);

    g_assert(gpa + size <= TRAM_BASE + TRAM_SIZE);
    d->brk = gpa + size;
    memset(tdrv_host(d, gpa), 0, size);
    return gpa;
}

static inline uint32_t tdrv_rd(TDrv *d, uint64_t off)
{
    uint64_t v = 0;

    g_assert_cmpint(d->ops->read(d->dev, off, 4, &v), ==, RISCV_MMIO_OK);
    return v;
}

static inline void tdrv_wr(TDrv *d, uint64_t off, uint32_t v)
{
    g_assert_cmpint(d->ops->write(d->dev, off, 4, v), ==, RISCV_MMIO_OK);
}

static inline void tdrv_init(TDrv *d, VirtioMmio *dev)
{
    QxIrq irq = {.set = tdrv_irq_set, .opaque = d, .line = 1};

    memset(d, 0, sizeof(*d));
    d->ram = g_malloc0(TRAM_SIZE);
    d->mem.base = TRAM_BASE;
    d->mem.size = TRAM_SIZE;
    d->mem.host = d->ram;
    d->dev = dev;
    d->ops = virtio_mmio_ops();
    d->brk = TRAM_BASE + 0x1000;
    virtio_mmio_attach(dev, &d->mem, &irq);
}

static inline void tdrv_cleanup(TDrv *d)
{
    virtio_mmio_free(d->dev);
    g_free(d->ram);
}

static inline uint64_t tdrv_host_features(TDrv *d)
{
    uint64_t f;

    tdrv_wr(d, TR_DEV_FEAT_SEL, 0);
    f = tdrv_rd(d, TR_DEV_FEAT);
    tdrv_wr(d, TR_DEV_FEAT_SEL, 1);
    return f | (uint64_t)tdrv_rd(d, TR_DEV_FEAT) << 32;
}

/* Negotiates features (up to FEATURES_OK); false if the device refused. */
static inline bool tdrv_negotiate(TDrv *d, uint64_t features)
{
    tdrv_wr(d, TR_STATUS, 0);
    g_assert_cmpuint(tdrv_rd(d, TR_STATUS), ==, 0);
    tdrv_wr(d, TR_STATUS, TS_ACK);
    tdrv_wr(d, TR_STATUS, TS_ACK | TS_DRIVER);
    tdrv_wr(d, TR_DRV_FEAT_SEL, 0);
    tdrv_wr(d, TR_DRV_FEAT, (uint32_t)features);
    tdrv_wr(d, TR_DRV_FEAT_SEL, 1);
    tdrv_wr(d, TR_DRV_FEAT, features >> 32);
    tdrv_wr(d, TR_STATUS, TS_ACK | TS_DRIVER | TS_FEATURES_OK);
    d->features = features;
    return tdrv_rd(d, TR_STATUS) & TS_FEATURES_OK;
}

static inline void tdrv_wr64(TDrv *d, uint64_t off, uint64_t v)
{
    tdrv_wr(d, off, (uint32_t)v);
    tdrv_wr(d, off + 4, v >> 32);
}

/* Lays out and enables queue i with num entries. */
static inline void tdrv_setup_queue(TDrv *d, unsigned i, uint16_t num)
{
    TQueue *q = &d->q[i];

    memset(q, 0, sizeof(*q));
    q->num = num;
    q->desc = tdrv_alloc(d, 16u * num, 16);
    q->avail = tdrv_alloc(d, 6 + 2u * num, 2);
    q->used = tdrv_alloc(d, 6 + 8u * num, 4);
    tdrv_wr(d, TR_QSEL, i);
    g_assert_cmpuint(tdrv_rd(d, TR_QNUM_MAX), >=, num);
    tdrv_wr(d, TR_QNUM, num);
    tdrv_wr64(d, TR_QDESC, q->desc);
    tdrv_wr64(d, TR_QDRIVER, q->avail);
    tdrv_wr64(d, TR_QDEVICE, q->used);
    tdrv_wr(d, TR_QREADY, 1);
}

/* Full bring-up: features, nq queues of num entries, DRIVER_OK. */
static inline void tdrv_start(TDrv *d, uint64_t features, unsigned nq,
                              uint16_t num)
{
    uint64_t host = tdrv_host_features(d);

    g_assert_true(tdrv_negotiate(d, features & host));
    for (unsigned i = 0; i < nq; i++) {
        tdrv_setup_queue(d, i, num);
    }
    tdrv_wr(d, TR_STATUS, TS_ACK | TS_DRIVER | TS_FEATURES_OK | TS_DRIVER_OK);
}

static inline void tdrv_put_desc(TDrv *d, uint64_t table, unsigned i,
                                 uint64_t addr, uint32_t len, uint16_t flags,
                                 uint16_t next)
{
    uint8_t *p = tdrv_host(d, table + 16ull * i);

    memcpy(p, &addr, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, &flags, 2);
    memcpy(p + 14, &next, 2);
}

static inline void tdrv_set16(TDrv *d, uint64_t gpa, uint16_t v)
{
    memcpy(tdrv_host(d, gpa), &v, 2);
}

static inline uint16_t tdrv_get16(TDrv *d, uint64_t gpa)
{
    uint16_t v;

    memcpy(&v, tdrv_host(d, gpa), 2);
    return v;
}

/* Publishes head in the avail ring (no notify). */
static inline void tdrv_publish(TDrv *d, unsigned qi, uint16_t head)
{
    TQueue *q = &d->q[qi];

    tdrv_set16(d, q->avail + 4 + 2 * (q->avail_idx % q->num), head);
    q->avail_idx++;
    tdrv_set16(d, q->avail + 2, q->avail_idx);
}

/*
 * Writes a chain of n buffers (direct, or through an indirect table) and
 * publishes it; returns the head index.
 */
static inline uint16_t tdrv_add(TDrv *d, unsigned qi, const TBuf *b, unsigned n,
                                bool indirect)
{
    TQueue *q = &d->q[qi];
    uint16_t head = q->next_desc % q->num;

    if (indirect) {
        uint64_t table = tdrv_alloc(d, 16u * n, 16);
        for (unsigned i = 0; i < n; i++) {
            tdrv_put_desc(
                d, table, i, b[i].gpa, b[i].len,
                (b[i].write ? TD_WRITE : 0) | (i + 1 < n ? TD_NEXT : 0), i + 1);
        }
        tdrv_put_desc(d, q->desc, head, table, 16u * n, TD_INDIRECT, 0);
        q->next_desc++;
    } else {
        for (unsigned i = 0; i < n; i++) {
            uint16_t idx = (head + i) % q->num;
            tdrv_put_desc(d, q->desc, idx, b[i].gpa, b[i].len,
                          (b[i].write ? TD_WRITE : 0) |
                              (i + 1 < n ? TD_NEXT : 0),
                          (idx + 1) % q->num);
        }
        q->next_desc += n;
    }
    tdrv_publish(d, qi, head);
    return head;
}

static inline void tdrv_kick(TDrv *d, unsigned qi)
{
    tdrv_wr(d, TR_QNOTIFY, qi);
}

static inline uint16_t tdrv_used_idx(TDrv *d, unsigned qi)
{
    return tdrv_get16(d, d->q[qi].used + 2);
}

/* Takes the next used entry; false if none. */
static inline bool tdrv_get_used(TDrv *d, unsigned qi, uint32_t *id,
                                 uint32_t *len)
{
    TQueue *q = &d->q[qi];
    uint8_t *e;

    if (tdrv_used_idx(d, qi) == q->last_used) {
        return false;
    }
    e = tdrv_host(d, q->used + 4 + 8 * (q->last_used % q->num));
    memcpy(id, e, 4);
    memcpy(len, e + 4, 4);
    q->last_used++;
    return true;
}

/* used_event (driver's interrupt threshold) of queue qi. */
static inline void tdrv_set_used_event(TDrv *d, unsigned qi, uint16_t v)
{
    tdrv_set16(d, d->q[qi].avail + 4 + 2 * d->q[qi].num, v);
}

static inline void tdrv_ack_irq(TDrv *d)
{
    tdrv_wr(d, TR_ACK, tdrv_rd(d, TR_ISR));
}

static inline bool tdrv_is_broken(TDrv *d)
{
    return tdrv_rd(d, TR_STATUS) & TS_NEEDS_RESET;
}

/* Runs loop until queue qi has `count` unconsumed used entries. */
static inline void tdrv_wait_used(TDrv *d, QxLoop *loop, unsigned qi,
                                  uint16_t count)
{
    for (int i = 0; i < 100000; i++) {
        if ((uint16_t)(tdrv_used_idx(d, qi) - d->q[qi].last_used) >= count) {
            return;
        }
        qx_loop_run_once(loop, true);
    }
    g_assert_not_reached();
}

static inline VirtioMmio *tdrv_create(const char *keyval,
                                      const VirtioHost *host, Error **errp)
{
    json_object *props =
        qx_opts_parse(keyval, QX_OPTS_KEYVAL, "driver", NULL, &error_abort);
    VirtioMmio *dev = virtio_mmio_create(props, host, errp);

    json_object_put(props);
    return dev;
}

#endif
