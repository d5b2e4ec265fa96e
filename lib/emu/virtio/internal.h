/*
 * virtio core shared by the transport and the device models: split
 * virtqueues (VIRTIO 1.1 §2.6) and the device ops table.
 */
#ifndef QX_EMU_VIRTIO_INTERNAL_H
#define QX_EMU_VIRTIO_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "qx/emu/virtio.h"

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER 2u
#define VIRTIO_STATUS_DRIVER_OK 4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED 128u

/* Reserved feature bits (§6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* Descriptor flags. */
#define VRING_DESC_F_NEXT 1u
#define VRING_DESC_F_WRITE 2u
#define VRING_DESC_F_INDIRECT 4u
#define VRING_AVAIL_F_NO_INTERRUPT 1u
#define VRING_USED_F_NO_NOTIFY 1u

/* Largest split queue (§2.6) and largest indirect table we accept. */
#define VIRTQUEUE_MAX_SIZE 32768
#define VIRTQUEUE_MAX_INDIRECT 1024

/* Interrupt status bits. */
#define VIRTIO_ISR_QUEUE 1u
#define VIRTIO_ISR_CONFIG 2u

#define VIRTIO_MAX_QUEUES 16

typedef struct VirtioDevice VirtioDevice;
typedef struct VirtQueue VirtQueue;

typedef void VirtQueueHandler(VirtioDevice *vdev, VirtQueue *vq);

struct VirtQueue {
    VirtioDevice *vdev;
    unsigned index;
    uint16_t num_max;
    uint16_t num; /* QueueNum as written; validated at ready */
    bool ready;
    uint64_t desc, avail, used;
    uint16_t last_avail_idx; /* next avail entry to take */
    uint16_t used_idx;       /* next used entry to fill */
    uint16_t signalled_used; /* used_idx at the last interrupt */
    bool signalled_used_valid;
    VirtQueueHandler *handle;
};

/*
 * One popped chain.  Device-readable buffers (out) come first in a chain,
 * device-writable ones (in) after, as §2.6.4.2 requires.  The iovecs point
 * into guest RAM; in_addr/in_sg are re-checked when the element is pushed.
 * Devices embed the element at the start of their request structure.
 */
typedef struct VirtQueueElement {
    unsigned head;
    unsigned out_num, in_num;
    size_t out_len, in_len;
    struct iovec *out_sg, *in_sg;
    uint64_t *in_addr;
} VirtQueueElement;

/* What a device model implements. */
typedef struct VirtioDeviceOps {
    const char *name;   /* -device driver name */
    uint32_t device_id; /* virtio device type */
    /*
     * Parses the remaining properties (take what it knows; the core
     * reports leftovers), sets vdev->host_features, config_size and
     * queues.  Returns the device state or NULL with errp set.
     */
    void *(*create)(VirtioDevice *vdev, json_object *props,
                    const VirtioHost *host, Error **errp);
    /* Fills vdev->config (config_size bytes) from current state. */
    void (*get_config)(VirtioDevice *vdev, uint8_t *config);
    /* The driver wrote [offset, offset + size) of config (may be NULL). */
    void (*set_config)(VirtioDevice *vdev, const uint8_t *config,
                       unsigned offset, unsigned size);
    /* Features were accepted (FEATURES_OK); may be NULL. */
    void (*set_features)(VirtioDevice *vdev, uint64_t features);
    /* Driver wrote DRIVER_OK; may be NULL. */
    void (*driver_ok)(VirtioDevice *vdev);
    /* Device reset: forget guest state; in-flight work must not complete
     * into the guest any more. */
    void (*reset)(VirtioDevice *vdev);
    /* Waits for in-flight work and frees the state. */
    void (*free)(VirtioDevice *vdev);
} VirtioDeviceOps;

struct VirtioDevice {
    const VirtioDeviceOps *ops;
    void *state;
    QxGuestMem *mem;
    QxIrq irq;
    QxLoop *loop;
    uint64_t host_features;
    uint64_t guest_features;
    uint32_t host_features_sel, guest_features_sel;
    uint8_t status;
    uint32_t isr;
    uint32_t config_generation;
    unsigned config_size;
    uint8_t config[256];
    unsigned nqueues;
    unsigned queue_sel;
    VirtQueue vq[VIRTIO_MAX_QUEUES];
    bool broken;
    /* bumped on every reset: completions of older requests are dropped */
    uint64_t generation;
};

/* ---- core (virtio.c) ---------------------------------------------------- */

/* Adds queue index nqueues with num_max entries and a notify handler. */
VirtQueue *virtio_add_queue(VirtioDevice *vdev, uint16_t num_max,
                            VirtQueueHandler *handle);
bool virtio_has_feature(const VirtioDevice *vdev, unsigned bit);
/* Marks the device broken (NEEDS_RESET, config interrupt); logs why. */
void virtio_error(VirtioDevice *vdev, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Resets queue state and the common registers (not the device model). */
void virtio_reset_queues(VirtioDevice *vdev);
/* Validates the rings of a queue the driver marks ready. */
bool virtio_queue_enable(VirtQueue *vq);
/* The driver notified queue vq (DRIVER_OK, ready, not broken). */
void virtio_queue_notify(VirtQueue *vq);
bool virtio_queue_is_usable(const VirtQueue *vq);

/*
 * Takes the next available chain.  Returns NULL if the queue is empty, not
 * usable, or the ring is malformed (then the device is broken).  size is
 * the size of the device's request structure (>= sizeof element), zeroed.
 * Free with virtqueue_element_free() unless pushed.
 */
VirtQueueElement *virtqueue_pop(VirtQueue *vq, size_t size);
/* True if the driver made buffers available that were not popped yet. */
bool virtqueue_has_avail(VirtQueue *vq);
/*
 * Returns the chain to the driver with len bytes written and frees it.
 * Does not interrupt; call virtqueue_notify() after a batch.
 */
void virtqueue_push(VirtQueue *vq, VirtQueueElement *elem, uint32_t len);
/* Undoes the last pop of elem (no room after all) and frees it. */
void virtqueue_unpop(VirtQueue *vq, VirtQueueElement *elem);
void virtqueue_element_free(VirtQueueElement *elem);
/* Raises the queue interrupt unless the driver suppressed it. */
void virtqueue_notify(VirtQueue *vq);
/* Raises the configuration change interrupt. */
void virtio_notify_config(VirtioDevice *vdev);

/* Copies between an iovec array and a flat buffer; return bytes copied. */
size_t virtio_iov_to_buf(const struct iovec *iov, unsigned n, size_t offset,
                         void *buf, size_t len);
size_t virtio_iov_from_buf(const struct iovec *iov, unsigned n, size_t offset,
                           const void *buf, size_t len);

/* Common properties every device takes (event_idx, indirect_desc). */
bool virtio_take_common_props(VirtioDevice *vdev, json_object *props,
                              Error **errp);

/*
 * Fails with QEMU's "Property 'DEV.KEY' not found" for the first key left;
 * devices call it after taking their keys, before looking up backends.
 */
bool virtio_check_props(VirtioDevice *vdev, json_object *props, Error **errp);

/* Device models. */
extern const VirtioDeviceOps virtio_blk_ops;
extern const VirtioDeviceOps virtio_net_ops;
extern const VirtioDeviceOps virtio_rng_ops;

static inline void virtio_stw(uint8_t *p, uint16_t v)
{
    p[0] = v;
    p[1] = v >> 8;
}

static inline void virtio_stl(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = v >> (8 * i);
    }
}

static inline void virtio_stq(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = v >> (8 * i);
    }
}

static inline uint32_t virtio_ldl(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t virtio_ldq(const uint8_t *p)
{
    return virtio_ldl(p) | (uint64_t)virtio_ldl(p + 4) << 32;
}

#endif
