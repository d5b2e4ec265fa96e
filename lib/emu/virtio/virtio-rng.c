/*
 * virtio-rng-device (VIRTIO 1.1 §5.4): one request queue whose writable
 * buffers are filled from getrandom().
 */
#include <errno.h>
#include <sys/random.h>

#include <glib.h>

#include "internal.h"

#define RNG_QUEUE_SIZE 8

typedef struct VirtioRng {
    VirtQueue *vq;
} VirtioRng;

/* Fills what getrandom() gives without blocking; returns bytes filled. */
static size_t rng_fill(VirtQueueElement *elem)
{
    size_t total = 0;

    for (unsigned i = 0; i < elem->in_num; i++) {
        uint8_t *p = elem->in_sg[i].iov_base;
        size_t len = elem->in_sg[i].iov_len;

        while (len) {
            ssize_t n = getrandom(p, len, GRND_NONBLOCK);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return total;
            }
            p += n;
            len -= n;
            total += n;
        }
    }
    return total;
}

static void rng_handle(VirtioDevice *vdev, VirtQueue *vq)
{
    VirtQueueElement *elem;
    bool pushed = false;

    while ((elem = virtqueue_pop(vq, sizeof(*elem)))) {
        size_t n = rng_fill(elem);
        virtqueue_push(vq, elem, (uint32_t)MIN(n, UINT32_MAX));
        pushed = true;
    }
    if (pushed) {
        virtqueue_notify(vq);
    }
}

static void *rng_create(VirtioDevice *vdev, json_object *props,
                        const VirtioHost *host, Error **errp)
{
    VirtioRng *s;

    if (!virtio_check_props(vdev, props, errp)) {
        return NULL;
    }
    s = g_new0(VirtioRng, 1);
    s->vq = virtio_add_queue(vdev, RNG_QUEUE_SIZE, rng_handle);
    vdev->config_size = 0;
    return s;
}

static void rng_get_config(VirtioDevice *vdev, uint8_t *config)
{
}

static void rng_free(VirtioDevice *vdev)
{
    g_free(vdev->state);
}

const VirtioDeviceOps virtio_rng_ops = {
    .name = "virtio-rng-device",
    .device_id = 4,
    .create = rng_create,
    .get_config = rng_get_config,
    .free = rng_free,
};
