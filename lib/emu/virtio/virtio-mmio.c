/*
 * virtio-mmio transport, version 2 register layout (VIRTIO 1.1 §4.2.2),
 * and the device table behind -device virtio-*-device.
 */
#include <string.h>

#include <glib.h>

#include "internal.h"
#include "qx/util/opts.h"

#define VIRTIO_MMIO_MAGIC 0x74726976u  /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x554d4551u /* "QEMU", as QEMU reports */

enum {
    REG_MAGIC = 0x000,
    REG_VERSION = 0x004,
    REG_DEVICE_ID = 0x008,
    REG_VENDOR_ID = 0x00c,
    REG_DEVICE_FEATURES = 0x010,
    REG_DEVICE_FEATURES_SEL = 0x014,
    REG_DRIVER_FEATURES = 0x020,
    REG_DRIVER_FEATURES_SEL = 0x024,
    REG_QUEUE_SEL = 0x030,
    REG_QUEUE_NUM_MAX = 0x034,
    REG_QUEUE_NUM = 0x038,
    REG_QUEUE_READY = 0x044,
    REG_QUEUE_NOTIFY = 0x050,
    REG_INTERRUPT_STATUS = 0x060,
    REG_INTERRUPT_ACK = 0x064,
    REG_STATUS = 0x070,
    REG_QUEUE_DESC_LOW = 0x080,
    REG_QUEUE_DESC_HIGH = 0x084,
    REG_QUEUE_DRIVER_LOW = 0x090,
    REG_QUEUE_DRIVER_HIGH = 0x094,
    REG_QUEUE_DEVICE_LOW = 0x0a0,
    REG_QUEUE_DEVICE_HIGH = 0x0a4,
    REG_CONFIG_GENERATION = 0x0fc,
    REG_CONFIG = 0x100,
};

struct VirtioMmio {
    VirtioDevice vdev;
};

/* The one explicit registry of device models. */
static const VirtioDeviceOps *const virtio_devices[] = {
    &virtio_blk_ops,
    &virtio_net_ops,
    &virtio_rng_ops,
};

static const VirtioDeviceOps *virtio_find_ops(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(virtio_devices); i++) {
        if (!strcmp(virtio_devices[i]->name, name)) {
            return virtio_devices[i];
        }
    }
    return NULL;
}

bool virtio_mmio_has_device(const char *name)
{
    return name && virtio_find_ops(name);
}

VirtioMmio *virtio_mmio_create(json_object *props, const VirtioHost *host,
                               Error **errp)
{
    const char *driver = json_object_is_type(props, json_type_object)
                             ? qx_opts_get_str(props, "driver")
                             : NULL;
    const VirtioDeviceOps *ops = driver ? virtio_find_ops(driver) : NULL;
    VirtioMmio *dev;
    VirtioDevice *vdev;
    json_object *rest;

    if (!ops) {
        error_setg(errp, "'%s' is not a valid device model name",
                   driver ? driver : "");
        return NULL;
    }
    dev = g_new0(VirtioMmio, 1);
    vdev = &dev->vdev;
    vdev->ops = ops;
    vdev->loop = host && host->loop ? host->loop : qx_loop_current();
    /* work on a copy: the caller's dictionary stays intact */
    rest = NULL;
    if (json_object_deep_copy(props, &rest, NULL) < 0) {
        error_setg(errp, "cannot copy device properties");
        g_free(dev);
        return NULL;
    }
    json_object_object_del(rest, "driver");
    json_object_object_del(rest, "id");
    json_object_object_del(rest, "bus");
    if (!virtio_take_common_props(vdev, rest, errp)) {
        goto fail;
    }
    vdev->state = ops->create(vdev, rest, host, errp);
    if (!vdev->state) {
        goto fail;
    }
    if (!virtio_check_props(vdev, rest, errp)) {
        ops->free(vdev);
        goto fail;
    }
    json_object_put(rest);
    return dev;

fail:
    json_object_put(rest);
    g_free(dev);
    return NULL;
}

bool virtio_check_props(VirtioDevice *vdev, json_object *props, Error **errp)
{
    json_object_iter it;

    json_object_object_foreachC(props, it)
    {
        error_setg(errp, "Property '%s.%s' not found", vdev->ops->name, it.key);
        return false;
    }
    return true;
}

void virtio_mmio_attach(VirtioMmio *dev, QxGuestMem *mem, const QxIrq *irq)
{
    dev->vdev.mem = mem;
    if (irq) {
        dev->vdev.irq = *irq;
    }
}

const char *virtio_mmio_device_name(const VirtioMmio *dev)
{
    return dev->vdev.ops->name;
}

bool virtio_mmio_is_broken(const VirtioMmio *dev)
{
    return dev->vdev.broken;
}

void virtio_mmio_reset(VirtioMmio *dev)
{
    VirtioDevice *vdev = &dev->vdev;

    virtio_reset_queues(vdev);
    if (vdev->ops->reset) {
        vdev->ops->reset(vdev);
    }
}

void virtio_mmio_free(VirtioMmio *dev)
{
    if (!dev) {
        return;
    }
    dev->vdev.generation++;
    dev->vdev.ops->free(&dev->vdev);
    g_free(dev);
}

static VirtQueue *cur_queue(VirtioDevice *vdev)
{
    return vdev->queue_sel < vdev->nqueues ? &vdev->vq[vdev->queue_sel] : NULL;
}

static uint32_t mmio_read_reg(VirtioDevice *vdev, uint64_t off)
{
    VirtQueue *vq = cur_queue(vdev);

    switch (off) {
    case REG_MAGIC:
        return VIRTIO_MMIO_MAGIC;
    case REG_VERSION:
        return 2;
    case REG_DEVICE_ID:
        return vdev->ops->device_id;
    case REG_VENDOR_ID:
        return VIRTIO_MMIO_VENDOR;
    case REG_DEVICE_FEATURES:
        if (vdev->host_features_sel > 1) {
            return 0;
        }
        return vdev->host_features >> (32 * vdev->host_features_sel);
    case REG_QUEUE_NUM_MAX:
        return vq ? vq->num_max : 0;
    case REG_QUEUE_READY:
        return vq ? vq->ready : 0;
    case REG_INTERRUPT_STATUS:
        return vdev->isr;
    case REG_STATUS:
        return vdev->status;
    case REG_CONFIG_GENERATION:
        return vdev->config_generation;
    case REG_QUEUE_NUM:
        return vq ? vq->num : 0;
    case REG_QUEUE_DESC_LOW:
        return vq ? (uint32_t)vq->desc : 0;
    case REG_QUEUE_DESC_HIGH:
        return vq ? vq->desc >> 32 : 0;
    case REG_QUEUE_DRIVER_LOW:
        return vq ? (uint32_t)vq->avail : 0;
    case REG_QUEUE_DRIVER_HIGH:
        return vq ? vq->avail >> 32 : 0;
    case REG_QUEUE_DEVICE_LOW:
        return vq ? (uint32_t)vq->used : 0;
    case REG_QUEUE_DEVICE_HIGH:
        return vq ? vq->used >> 32 : 0;
    default:
        /* write-only and reserved registers read as 0 */
        return 0;
    }
}

static RiscvMmioResult virtio_mmio_read(void *opaque, uint64_t offset,
                                        unsigned size, uint64_t *val)
{
    VirtioMmio *dev = opaque;
    VirtioDevice *vdev = &dev->vdev;

    *val = 0;
    if (offset >= REG_CONFIG) {
        uint64_t off = offset - REG_CONFIG;

        if (off < vdev->config_size && size <= vdev->config_size - off) {
            vdev->ops->get_config(vdev, vdev->config);
            memcpy(val, vdev->config + off, size); /* little-endian host */
            *val = GUINT64_FROM_LE(*val);
        }
        return RISCV_MMIO_OK;
    }
    /* §4.2.2.2: registers are 32-bit wide; other sizes read as 0 */
    if (size != 4) {
        return RISCV_MMIO_OK;
    }
    *val = mmio_read_reg(vdev, offset);
    return RISCV_MMIO_OK;
}

static void mmio_set_status(VirtioDevice *vdev, uint32_t val)
{
    uint8_t old = vdev->status;

    if (val == 0) {
        virtio_mmio_reset((VirtioMmio *)vdev);
        return;
    }
    val &= 0xff;
    if ((val & VIRTIO_STATUS_FEATURES_OK) &&
        !(old & VIRTIO_STATUS_FEATURES_OK)) {
        /*
         * §3.1.1: refuse feature sets we did not offer, and legacy
         * drivers (this is a modern-only transport).
         */
        if ((vdev->guest_features & ~vdev->host_features) ||
            !(vdev->guest_features & (1ull << VIRTIO_F_VERSION_1))) {
            val &= ~VIRTIO_STATUS_FEATURES_OK;
        } else if (vdev->ops->set_features) {
            vdev->ops->set_features(vdev, vdev->guest_features);
        }
    }
    /* NEEDS_RESET is the device's to set, and it sticks until reset */
    vdev->status =
        (val & ~VIRTIO_STATUS_NEEDS_RESET) | (old & VIRTIO_STATUS_NEEDS_RESET);
    if ((val & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
        if (vdev->ops->driver_ok) {
            vdev->ops->driver_ok(vdev);
        }
        /* buffers made available before DRIVER_OK are served now */
        for (unsigned i = 0; i < vdev->nqueues; i++) {
            virtio_queue_notify(&vdev->vq[i]);
        }
    }
}

static void set_addr(uint64_t *addr, bool high, uint32_t val)
{
    if (high) {
        *addr = (*addr & 0xffffffffull) | (uint64_t)val << 32;
    } else {
        *addr = (*addr & ~0xffffffffull) | val;
    }
}

static void mmio_write_reg(VirtioDevice *vdev, uint64_t off, uint32_t val)
{
    VirtQueue *vq = cur_queue(vdev);
    bool features_locked = vdev->status & VIRTIO_STATUS_FEATURES_OK;

    switch (off) {
    case REG_DEVICE_FEATURES_SEL:
        vdev->host_features_sel = val;
        return;
    case REG_DRIVER_FEATURES_SEL:
        vdev->guest_features_sel = val;
        return;
    case REG_DRIVER_FEATURES:
        if (!features_locked && vdev->guest_features_sel <= 1) {
            unsigned shift = 32 * vdev->guest_features_sel;
            vdev->guest_features &= ~(0xffffffffull << shift);
            vdev->guest_features |= (uint64_t)val << shift;
        }
        return;
    case REG_QUEUE_SEL:
        vdev->queue_sel = val;
        return;
    case REG_QUEUE_NOTIFY:
        if (val < vdev->nqueues) {
            virtio_queue_notify(&vdev->vq[val]);
        }
        return;
    case REG_INTERRUPT_ACK:
        vdev->isr &= ~val;
        if (!vdev->isr) {
            qx_irq_set(&vdev->irq, false);
        }
        return;
    case REG_STATUS:
        mmio_set_status(vdev, val);
        return;
    default:
        break;
    }
    /* queue registers: only for an existing queue that is not live */
    if (!vq) {
        return;
    }
    if (off == REG_QUEUE_READY) {
        if (!(val & 1)) {
            vq->ready = false;
        } else if (!vq->ready) {
            virtio_queue_enable(vq);
        }
        return;
    }
    if (vq->ready) {
        return;
    }
    switch (off) {
    case REG_QUEUE_NUM:
        vq->num = val > 0xffff ? 0 : val; /* validated at ready */
        break;
    case REG_QUEUE_DESC_LOW:
    case REG_QUEUE_DESC_HIGH:
        set_addr(&vq->desc, off == REG_QUEUE_DESC_HIGH, val);
        break;
    case REG_QUEUE_DRIVER_LOW:
    case REG_QUEUE_DRIVER_HIGH:
        set_addr(&vq->avail, off == REG_QUEUE_DRIVER_HIGH, val);
        break;
    case REG_QUEUE_DEVICE_LOW:
    case REG_QUEUE_DEVICE_HIGH:
        set_addr(&vq->used, off == REG_QUEUE_DEVICE_HIGH, val);
        break;
    default:
        break;
    }
}

static RiscvMmioResult virtio_mmio_write(void *opaque, uint64_t offset,
                                         unsigned size, uint64_t val)
{
    VirtioMmio *dev = opaque;
    VirtioDevice *vdev = &dev->vdev;

    if (offset >= REG_CONFIG) {
        uint64_t off = offset - REG_CONFIG;
        uint64_t le = GUINT64_TO_LE(val);

        if (off < vdev->config_size && size <= vdev->config_size - off &&
            vdev->ops->set_config) {
            vdev->ops->get_config(vdev, vdev->config);
            memcpy(vdev->config + off, &le, size);
            vdev->ops->set_config(vdev, vdev->config, off, size);
        }
        return RISCV_MMIO_OK;
    }
    if (size == 4) {
        mmio_write_reg(vdev, offset, (uint32_t)val);
    }
    return RISCV_MMIO_OK;
}

static const QxMmioOps virtio_mmio_mmio_ops = {
    .read = virtio_mmio_read,
    .write = virtio_mmio_write,
};

const QxMmioOps *virtio_mmio_ops(void)
{
    return &virtio_mmio_mmio_ops;
}
