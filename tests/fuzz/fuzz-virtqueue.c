/*
 * libFuzzer target for the virtio core and devices: guest RAM (rings,
 * descriptors, requests) comes from the input, then a driver brings a
 * device up on fixed ring addresses and the rest of the input is a stream
 * of MMIO reads/writes and queue notifications.  Nothing may crash, read
 * outside RAM (ASan), or loop forever.
 *
 * Input: byte 0 selects the device (rng, blk on null-co, net without a
 * netdev), byte 1 masks the offered features, the next RAM_FILL bytes go
 * to guest RAM, the rest are 6-byte commands {op, offset/4, le32 value}.
 */
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "qx/block/block-backend.h"
#include "qx/emu/virtio.h"
#include "qx/util/opts.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (64u << 10)
#define RAM_FILL 16384
#define QUEUE_AREA 0x3000u /* per queue: desc, avail, used at +0/1/2 KiB */
#define QNUM 8

typedef struct Fuzz {
    QxLoop *loop;
    BlockGraph *graph;
    BlockBackend *blk;
} Fuzz;

static Fuzz fz;

static BlockBackend *find_blk(void *opaque, const char *id)
{
    return fz.blk;
}

static void fuzz_init(void)
{
    json_object *opts;

    if (fz.loop) {
        return;
    }
    fz.loop = qx_loop_new(&error_abort);
    qx_loop_set_current(fz.loop);
    fz.graph = block_graph_new(fz.loop, &error_abort);
    opts = json_object_new_object();
    json_object_object_add(opts, "driver", json_object_new_string("null-co"));
    json_object_object_add(opts, "size", json_object_new_int64(1 << 20));
    fz.blk = blk_new_open(fz.graph, NULL, opts, BLOCK_OPEN_RDWR, &error_abort);
}

static void irq_set(void *opaque, unsigned line, bool level)
{
}

static void wr(VirtioMmio *dev, uint64_t off, uint32_t v)
{
    virtio_mmio_ops()->write(dev, off, 4, v);
}

static uint32_t rd(VirtioMmio *dev, uint64_t off)
{
    uint64_t v = 0;

    virtio_mmio_ops()->read(dev, off, 4, &v);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const devices[] = {
        "virtio-rng-device",
        "virtio-blk-device,drive=d",
        "virtio-net-device",
    };
    VirtioHost host = {.find_blk = find_blk};
    QxIrq irq = {.set = irq_set};
    QxGuestMem mem;
    uint8_t *ram;
    json_object *props;
    VirtioMmio *dev;
    uint32_t features;
    size_t fill;

    if (size < 2) {
        return 0;
    }
    fuzz_init();
    host.loop = fz.loop;
    props = qx_opts_parse(devices[data[0] % 3], QX_OPTS_KEYVAL, "driver", NULL,
                          &error_abort);
    dev = virtio_mmio_create(props, &host, &error_abort);
    json_object_put(props);
    ram = g_malloc0(RAM_SIZE);
    mem = (QxGuestMem){.base = RAM_BASE, .size = RAM_SIZE, .host = ram};
    virtio_mmio_attach(dev, &mem, &irq);

    fill = MIN(size - 2, RAM_FILL);
    memcpy(ram, data + 2, fill);

    /* a normal bring-up */
    wr(dev, 0x070, 1);
    wr(dev, 0x070, 3);
    wr(dev, 0x014, 0);
    features = rd(dev, 0x010) & ~((uint32_t)(data[1] & 0x0f) << 28);
    wr(dev, 0x024, 0);
    wr(dev, 0x020, features);
    wr(dev, 0x024, 1);
    wr(dev, 0x020, 1); /* VERSION_1 */
    wr(dev, 0x070, 11);
    for (unsigned q = 0; q < 2; q++) {
        uint64_t area = RAM_BASE + q * QUEUE_AREA;

        wr(dev, 0x030, q);
        if (!rd(dev, 0x034)) {
            continue;
        }
        wr(dev, 0x038, QNUM);
        wr(dev, 0x080, (uint32_t)area);
        wr(dev, 0x084, area >> 32);
        wr(dev, 0x090, (uint32_t)(area + 0x400));
        wr(dev, 0x094, area >> 32);
        wr(dev, 0x0a0, (uint32_t)(area + 0x800));
        wr(dev, 0x0a4, area >> 32);
        wr(dev, 0x044, 1);
    }
    wr(dev, 0x070, 15);
    wr(dev, 0x050, 0);
    wr(dev, 0x050, 1);

    for (size_t i = 2 + fill; i + 6 <= size; i += 6) {
        uint8_t op = data[i];
        uint64_t off = (uint64_t)data[i + 1] * 4 % VIRTIO_MMIO_REGION_SIZE;
        uint32_t val;
        uint64_t v;
        unsigned sz = 1u << (op >> 6); /* 1, 2, 4, 8 */

        memcpy(&val, data + i + 2, 4);
        switch (op & 3) {
        case 0:
            wr(dev, off, val);
            break;
        case 1:
            off &= ~(uint64_t)(sz - 1);
            virtio_mmio_ops()->read(dev, off, sz, &v);
            break;
        case 2:
            wr(dev, 0x050, val % 3);
            break;
        case 3:
            /* driver rewrites RAM (ring updates) between kicks */
            memcpy(ram + (val % (RAM_SIZE - 4)), &val, 4);
            wr(dev, 0x050, op >> 7);
            break;
        }
        qx_loop_run_once(fz.loop, false);
    }
    /* free waits for in-flight block requests */
    virtio_mmio_free(dev);
    g_free(ram);
    return 0;
}
