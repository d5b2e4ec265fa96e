/*
 * virtio devices on the virtio-mmio transport (VIRTIO 1.1 §4.2, version 2
 * register layout, split virtqueues with indirect descriptors and event
 * index): virtio-blk-device, virtio-net-device and virtio-rng-device.
 *
 * The board creates a device from its -device option dictionary, plugs the
 * returned handle into a virtio-mmio slot (virtio_mmio_ops() + the handle
 * as opaque, on a 0x200-byte region) and gives it guest RAM and an
 * interrupt line.  The device knows nothing about the board.
 *
 * Threading: everything runs on the machine's loop thread (device.h).
 *
 * Robustness: rings and registers are written by the guest and untrusted.
 * A malformed ring (descriptor loop, address outside RAM, bad length,
 * chain longer than the queue, bad queue size or alignment) never crashes
 * the process: the device stops processing and sets DEVICE_NEEDS_RESET in
 * its status (virtio_mmio_is_broken()) until the driver resets it.
 */
#ifndef QX_EMU_VIRTIO_H
#define QX_EMU_VIRTIO_H

#include <json-c/json.h>
#include <stdbool.h>

#include "qx/block/block-backend.h"
#include "qx/emu/device.h"
#include "qx/emu/net.h"
#include "qx/util/error.h"
#include "qx/util/loop.h"

/* Size of one virtio-mmio register window. */
#define VIRTIO_MMIO_REGION_SIZE 0x200

typedef struct VirtioMmio VirtioMmio;

/*
 * How a device finds its backends by id ("drive=ID", "netdev=ID").  The
 * front-end owns the objects; a callback returns NULL if there is no such
 * id (errp need not be set; the device reports QEMU's message).
 */
typedef struct VirtioHost {
    QxLoop *loop; /* completions arrive here; NULL: current loop */
    BlockBackend *(*find_blk)(void *opaque, const char *id);
    QxNetdev *(*find_netdev)(void *opaque, const char *id);
    void *opaque;
} VirtioHost;

/*
 * Creates the device named by props' "driver" key (virtio-blk-device,
 * virtio-net-device, virtio-rng-device) from a -device option dictionary
 * (keyval form; values strings or JSON).  Keys it understands are taken;
 * any other key fails as QEMU does ("Property 'virtio-blk-device.foo' not
 * found").  The keys "id" and "bus" are accepted and ignored (slot
 * assignment is the board's).  The device must be attached before the
 * guest touches it.
 */
VirtioMmio *virtio_mmio_create(json_object *props, const VirtioHost *host,
                               Error **errp);
/* True if name is a device virtio_mmio_create() knows. */
bool virtio_mmio_has_device(const char *name);

/* Gives the device guest RAM and its interrupt line (copied). */
void virtio_mmio_attach(VirtioMmio *dev, QxGuestMem *mem, const QxIrq *irq);

/* MMIO handlers of a virtio-mmio register window; opaque is the handle. */
const QxMmioOps *virtio_mmio_ops(void);

/*
 * Device reset (as on system reset or the driver writing 0 to Status):
 * queues and negotiated state are forgotten; requests still in flight
 * complete into nothing.
 */
void virtio_mmio_reset(VirtioMmio *dev);
/* DEVICE_NEEDS_RESET is set (the guest broke a ring). */
bool virtio_mmio_is_broken(const VirtioMmio *dev);
/* Device type name ("virtio-blk-device"). */
const char *virtio_mmio_device_name(const VirtioMmio *dev);

/* Waits for in-flight requests (runs the loop), detaches, frees; NULL ok. */
void virtio_mmio_free(VirtioMmio *dev);

#endif
