/*
 * virtio core: split virtqueues (VIRTIO 1.1 §2.6) with indirect
 * descriptors and event index suppression.
 *
 * Every ring field is read from guest RAM through QxGuestMem, which checks
 * the address; anything malformed puts the device into NEEDS_RESET via
 * virtio_error() and stops all processing until reset.
 */
#include <stdarg.h>
#include <string.h>

#include <glib.h>

#include "internal.h"
#include "qx/util/opts.h"

#define VRING_DESC_SIZE 16
#define VRING_USED_ELEM_SIZE 8

bool virtio_has_feature(const VirtioDevice *vdev, unsigned bit)
{
    return vdev->guest_features & (1ull << bit);
}

VirtQueue *virtio_add_queue(VirtioDevice *vdev, uint16_t num_max,
                            VirtQueueHandler *handle)
{
    VirtQueue *vq;

    g_assert(vdev->nqueues < VIRTIO_MAX_QUEUES);
    vq = &vdev->vq[vdev->nqueues];
    memset(vq, 0, sizeof(*vq));
    vq->vdev = vdev;
    vq->index = vdev->nqueues++;
    vq->num_max = num_max;
    vq->num = num_max;
    vq->handle = handle;
    return vq;
}

void virtio_notify_config(VirtioDevice *vdev)
{
    if (!(vdev->status & VIRTIO_STATUS_DRIVER_OK)) {
        return;
    }
    vdev->isr |= VIRTIO_ISR_CONFIG;
    vdev->config_generation++;
    qx_irq_set(&vdev->irq, true);
}

void virtio_error(VirtioDevice *vdev, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* A guest bug, not ours: debug log only, never a crash or exit. */
    g_debug("%s: %s", vdev->ops->name, msg);
    if (vdev->broken) {
        return;
    }
    vdev->broken = true;
    vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
    virtio_notify_config(vdev);
}

void virtio_reset_queues(VirtioDevice *vdev)
{
    for (unsigned i = 0; i < vdev->nqueues; i++) {
        VirtQueue *vq = &vdev->vq[i];
        vq->num = vq->num_max;
        vq->ready = false;
        vq->desc = vq->avail = vq->used = 0;
        vq->last_avail_idx = vq->used_idx = 0;
        vq->signalled_used = 0;
        vq->signalled_used_valid = false;
    }
    vdev->guest_features = 0;
    vdev->host_features_sel = vdev->guest_features_sel = 0;
    vdev->status = 0;
    vdev->isr = 0;
    vdev->queue_sel = 0;
    vdev->broken = false;
    vdev->generation++;
    qx_irq_set(&vdev->irq, false);
}

bool virtio_queue_is_usable(const VirtQueue *vq)
{
    const VirtioDevice *vdev = vq->vdev;

    return vq->ready && !vdev->broken && vdev->mem &&
           (vdev->status & VIRTIO_STATUS_DRIVER_OK);
}

static bool ring_in_ram(VirtioDevice *vdev, uint64_t gpa, uint64_t len)
{
    return qx_guest_mem_map(vdev->mem, gpa, len, false) != NULL;
}

bool virtio_queue_enable(VirtQueue *vq)
{
    VirtioDevice *vdev = vq->vdev;
    uint64_t num = vq->num;
    uint64_t extra = virtio_has_feature(vdev, VIRTIO_F_EVENT_IDX) ? 2 : 0;

    if (!vdev->mem) {
        virtio_error(vdev, "queue %u enabled without guest memory", vq->index);
        return false;
    }
    if (num == 0 || num > vq->num_max || (num & (num - 1))) {
        virtio_error(vdev, "queue %u: invalid size %" PRIu64, vq->index, num);
        return false;
    }
    if ((vq->desc & 15) || (vq->avail & 1) || (vq->used & 3)) {
        virtio_error(vdev, "queue %u: misaligned ring", vq->index);
        return false;
    }
    if (!ring_in_ram(vdev, vq->desc, num * VRING_DESC_SIZE) ||
        !ring_in_ram(vdev, vq->avail, 4 + 2 * num + extra) ||
        !ring_in_ram(vdev, vq->used, 4 + VRING_USED_ELEM_SIZE * num + extra)) {
        virtio_error(vdev, "queue %u: ring outside guest memory", vq->index);
        return false;
    }
    vq->ready = true;
    return true;
}

void virtio_queue_notify(VirtQueue *vq)
{
    if (virtio_queue_is_usable(vq) && vq->handle) {
        vq->handle(vq->vdev, vq);
    }
}

/* ---- ring field access ---------------------------------------------- */

static bool vring_read16(VirtQueue *vq, uint64_t gpa, uint16_t *val)
{
    uint16_t v;

    if (!qx_guest_mem_read(vq->vdev->mem, gpa, &v, 2)) {
        virtio_error(vq->vdev, "queue %u: ring read outside RAM", vq->index);
        return false;
    }
    *val = GUINT16_FROM_LE(v);
    return true;
}

static bool vring_write16(VirtQueue *vq, uint64_t gpa, uint16_t val)
{
    uint16_t v = GUINT16_TO_LE(val);

    if (!qx_guest_mem_write(vq->vdev->mem, gpa, &v, 2)) {
        virtio_error(vq->vdev, "queue %u: ring write outside RAM", vq->index);
        return false;
    }
    return true;
}

static bool vring_avail_idx(VirtQueue *vq, uint16_t *idx)
{
    return vring_read16(vq, vq->avail + 2, idx);
}

bool virtqueue_has_avail(VirtQueue *vq)
{
    uint16_t idx;

    if (!virtio_queue_is_usable(vq) || !vring_avail_idx(vq, &idx)) {
        return false;
    }
    return idx != vq->last_avail_idx;
}

typedef struct VringDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} VringDesc;

static bool vring_read_desc(VirtQueue *vq, uint64_t table, unsigned i,
                            VringDesc *d)
{
    uint8_t raw[VRING_DESC_SIZE];

    if (!qx_guest_mem_read(vq->vdev->mem, table + (uint64_t)i * 16, raw,
                           sizeof(raw))) {
        virtio_error(vq->vdev, "queue %u: descriptor outside RAM", vq->index);
        return false;
    }
    d->addr = virtio_ldq(raw);
    d->len = virtio_ldl(raw + 8);
    d->flags = raw[12] | raw[13] << 8;
    d->next = raw[14] | raw[15] << 8;
    return true;
}

void virtqueue_element_free(VirtQueueElement *elem)
{
    if (elem) {
        g_free(elem->out_sg);
        g_free(elem->in_sg);
        g_free(elem->in_addr);
        g_free(elem);
    }
}

/*
 * Walks the chain at head into elem.  max bounds the number of
 * descriptors (a loop exceeds it).
 */
static bool vring_walk(VirtQueue *vq, unsigned head, VirtQueueElement *elem)
{
    VirtioDevice *vdev = vq->vdev;
    uint64_t table = vq->desc;
    unsigned max = vq->num;
    unsigned i = head;
    unsigned count = 0;
    unsigned cap;
    bool indirect = false;
    VringDesc d;

    if (!vring_read_desc(vq, table, i, &d)) {
        return false;
    }
    if (d.flags & VRING_DESC_F_INDIRECT) {
        if (!virtio_has_feature(vdev, VIRTIO_F_INDIRECT_DESC)) {
            virtio_error(vdev, "indirect descriptor not negotiated");
            return false;
        }
        if (d.flags & VRING_DESC_F_NEXT) {
            virtio_error(vdev, "indirect descriptor with NEXT flag");
            return false;
        }
        if (d.len == 0 || d.len % VRING_DESC_SIZE ||
            d.len / VRING_DESC_SIZE > VIRTQUEUE_MAX_INDIRECT) {
            virtio_error(vdev, "invalid indirect table size %u", d.len);
            return false;
        }
        if (!ring_in_ram(vdev, d.addr, d.len)) {
            virtio_error(vdev, "indirect table outside RAM");
            return false;
        }
        table = d.addr;
        max = d.len / VRING_DESC_SIZE;
        i = 0;
        indirect = true;
        if (!vring_read_desc(vq, table, i, &d)) {
            return false;
        }
    }

    cap = MIN(max, 16u);
    elem->out_sg = g_new(struct iovec, cap);
    elem->in_sg = g_new(struct iovec, cap);
    elem->in_addr = g_new(uint64_t, cap);
    for (;;) {
        void *host;

        if (++count > max) {
            virtio_error(vdev, "descriptor chain loops or is too long");
            return false;
        }
        if (d.flags & VRING_DESC_F_INDIRECT) {
            virtio_error(vdev, indirect ? "nested indirect descriptor"
                                        : "indirect descriptor inside chain");
            return false;
        }
        host = qx_guest_mem_map(vdev->mem, d.addr, d.len,
                                d.flags & VRING_DESC_F_WRITE);
        if (!host) {
            virtio_error(vdev,
                         "descriptor buffer 0x%" PRIx64 "+%u "
                         "outside RAM",
                         d.addr, d.len);
            return false;
        }
        if (elem->out_num + elem->in_num == cap) {
            cap *= 2;
            elem->out_sg = g_renew(struct iovec, elem->out_sg, cap);
            elem->in_sg = g_renew(struct iovec, elem->in_sg, cap);
            elem->in_addr = g_renew(uint64_t, elem->in_addr, cap);
        }
        if (d.flags & VRING_DESC_F_WRITE) {
            elem->in_addr[elem->in_num] = d.addr;
            elem->in_sg[elem->in_num].iov_base = host;
            elem->in_sg[elem->in_num++].iov_len = d.len;
            elem->in_len += d.len;
        } else {
            if (elem->in_num) {
                virtio_error(vdev, "readable descriptor after writable one");
                return false;
            }
            elem->out_sg[elem->out_num].iov_base = host;
            elem->out_sg[elem->out_num++].iov_len = d.len;
            elem->out_len += d.len;
        }
        if (!(d.flags & VRING_DESC_F_NEXT)) {
            return true;
        }
        if (d.next >= max) {
            virtio_error(vdev, "descriptor next index %u out of range", d.next);
            return false;
        }
        i = d.next;
        if (!vring_read_desc(vq, table, i, &d)) {
            return false;
        }
    }
}

VirtQueueElement *virtqueue_pop(VirtQueue *vq, size_t size)
{
    VirtioDevice *vdev = vq->vdev;
    VirtQueueElement *elem;
    uint16_t avail_idx, head;

    g_assert(size >= sizeof(VirtQueueElement));
    if (!virtio_queue_is_usable(vq) || !vring_avail_idx(vq, &avail_idx)) {
        return NULL;
    }
    if (avail_idx == vq->last_avail_idx) {
        return NULL;
    }
    if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->num) {
        virtio_error(vdev, "avail index jumped by %u (queue size %u)",
                     (uint16_t)(avail_idx - vq->last_avail_idx), vq->num);
        return NULL;
    }
    /* read the ring entry only after seeing the index */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (!vring_read16(vq, vq->avail + 4 + 2ull * (vq->last_avail_idx % vq->num),
                      &head)) {
        return NULL;
    }
    if (head >= vq->num) {
        virtio_error(vdev, "avail ring head %u out of range", head);
        return NULL;
    }
    elem = g_malloc0(size);
    elem->head = head;
    if (!vring_walk(vq, head, elem)) {
        virtqueue_element_free(elem);
        return NULL;
    }
    vq->last_avail_idx++;
    if (virtio_has_feature(vdev, VIRTIO_F_EVENT_IDX)) {
        /* avail_event: interrupt... notify us when this entry is used */
        vring_write16(vq, vq->used + 4 + VRING_USED_ELEM_SIZE * vq->num,
                      vq->last_avail_idx);
    }
    return elem;
}

void virtqueue_unpop(VirtQueue *vq, VirtQueueElement *elem)
{
    vq->last_avail_idx--;
    virtqueue_element_free(elem);
}

void virtqueue_push(VirtQueue *vq, VirtQueueElement *elem, uint32_t len)
{
    VirtioDevice *vdev = vq->vdev;
    uint8_t ent[VRING_USED_ELEM_SIZE];
    uint64_t slot;

    if (!virtio_queue_is_usable(vq)) {
        virtqueue_element_free(elem);
        return;
    }
    /*
     * Data may have been DMA'd after the pop: tell the harts again so that
     * no stale translation of those pages survives.
     */
    for (unsigned i = 0; i < elem->in_num; i++) {
        qx_guest_mem_map(vdev->mem, elem->in_addr[i], elem->in_sg[i].iov_len,
                         true);
    }
    virtio_stl(ent, elem->head);
    virtio_stl(ent + 4, len);
    slot = vq->used + 4 +
           VRING_USED_ELEM_SIZE * (uint64_t)(vq->used_idx % vq->num);
    if (!qx_guest_mem_write(vdev->mem, slot, ent, sizeof(ent))) {
        virtio_error(vdev, "used ring outside RAM");
        virtqueue_element_free(elem);
        return;
    }
    /* the entry must be visible before the index */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    vq->used_idx++;
    vring_write16(vq, vq->used + 2, vq->used_idx);
    virtqueue_element_free(elem);
}

/* §2.6.7.2: vring_need_event() of the spec, in our words. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

void virtqueue_notify(VirtQueue *vq)
{
    VirtioDevice *vdev = vq->vdev;
    bool raise;

    if (!virtio_queue_is_usable(vq)) {
        return;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (virtio_has_feature(vdev, VIRTIO_F_EVENT_IDX)) {
        uint16_t used_event;
        uint16_t old = vq->signalled_used;
        bool valid = vq->signalled_used_valid;

        if (!vring_read16(vq, vq->avail + 4 + 2ull * vq->num, &used_event)) {
            return;
        }
        vq->signalled_used = vq->used_idx;
        vq->signalled_used_valid = true;
        raise = !valid || need_event(used_event, vq->used_idx, old);
    } else {
        uint16_t flags;

        if (!vring_read16(vq, vq->avail, &flags)) {
            return;
        }
        raise = !(flags & VRING_AVAIL_F_NO_INTERRUPT);
    }
    if (raise) {
        vdev->isr |= VIRTIO_ISR_QUEUE;
        qx_irq_set(&vdev->irq, true);
    }
}

size_t virtio_iov_to_buf(const struct iovec *iov, unsigned n, size_t offset,
                         void *buf, size_t len)
{
    size_t done = 0;

    for (unsigned i = 0; i < n && done < len; i++) {
        size_t l = iov[i].iov_len;
        size_t c;

        if (offset >= l) {
            offset -= l;
            continue;
        }
        c = MIN(l - offset, len - done);
        memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + offset, c);
        done += c;
        offset = 0;
    }
    return done;
}

size_t virtio_iov_from_buf(const struct iovec *iov, unsigned n, size_t offset,
                           const void *buf, size_t len)
{
    size_t done = 0;

    for (unsigned i = 0; i < n && done < len; i++) {
        size_t l = iov[i].iov_len;
        size_t c;

        if (offset >= l) {
            offset -= l;
            continue;
        }
        c = MIN(l - offset, len - done);
        memcpy((uint8_t *)iov[i].iov_base + offset, (const uint8_t *)buf + done,
               c);
        done += c;
        offset = 0;
    }
    return done;
}

bool virtio_take_common_props(VirtioDevice *vdev, json_object *props,
                              Error **errp)
{
    bool event_idx = true, indirect = true;

    if (!qx_opts_take_bool(props, "event_idx", &event_idx, NULL, errp) ||
        !qx_opts_take_bool(props, "indirect_desc", &indirect, NULL, errp)) {
        return false;
    }
    vdev->host_features |= 1ull << VIRTIO_F_VERSION_1;
    if (event_idx) {
        vdev->host_features |= 1ull << VIRTIO_F_EVENT_IDX;
    }
    if (indirect) {
        vdev->host_features |= 1ull << VIRTIO_F_INDIRECT_DESC;
    }
    return true;
}
