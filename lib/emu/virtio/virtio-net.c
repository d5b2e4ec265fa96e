/*
 * virtio-net-device (VIRTIO 1.1 §5.1): one receive and one transmit queue
 * over a -netdev backend (net.h).  Every buffer starts with the 12-byte
 * virtio_net_hdr of VERSION_1; we offer no offloads, so the header is all
 * zero except num_buffers.  With MRG_RXBUF a frame may span several
 * receive chains.
 */
#include <string.h>

#include <glib.h>

#include "internal.h"
#include "qx/util/opts.h"

enum {
    VIRTIO_NET_F_MAC = 5,
    VIRTIO_NET_F_MRG_RXBUF = 15,
    VIRTIO_NET_F_STATUS = 16,
};

#define VIRTIO_NET_S_LINK_UP 1
#define VIRTIO_NET_HDR_LEN 12
#define VIRTIO_NET_CONFIG_SIZE 8
#define NET_QUEUE_DEFAULT 256
#define NET_QUEUE_MAX 1024
/* Most chains one received frame may use (QEMU's limit too). */
#define NET_RX_MAX_CHAINS 64

typedef struct VirtioNet {
    VirtioDevice *vdev;
    QxNetdev *nd;
    uint8_t mac[6];
    VirtQueue *rx, *tx;
} VirtioNet;

static bool net_link_up(VirtioNet *s)
{
    return s->nd && qx_netdev_link_up(s->nd);
}

/* Copies [offset, offset + len) of hdr ++ frame into elem's buffers. */
static size_t net_fill(VirtQueueElement *e, const uint8_t *hdr,
                       const uint8_t *frame, size_t frame_len, size_t offset)
{
    size_t total = VIRTIO_NET_HDR_LEN + frame_len - offset;
    size_t n = MIN(total, e->in_len);
    size_t done = 0;

    if (offset < VIRTIO_NET_HDR_LEN) {
        size_t h = MIN(n, VIRTIO_NET_HDR_LEN - offset);
        done = virtio_iov_from_buf(e->in_sg, e->in_num, 0, hdr + offset, h);
        offset += h;
    }
    done +=
        virtio_iov_from_buf(e->in_sg, e->in_num, done,
                            frame + (offset - VIRTIO_NET_HDR_LEN), n - done);
    return done;
}

static bool net_receive(void *opaque, const void *buf, size_t len)
{
    VirtioNet *s = opaque;
    VirtQueue *vq = s->rx;
    VirtQueueElement *elems[NET_RX_MAX_CHAINS];
    uint32_t lens[NET_RX_MAX_CHAINS];
    bool mrg = virtio_has_feature(s->vdev, VIRTIO_NET_F_MRG_RXBUF);
    size_t need = VIRTIO_NET_HDR_LEN + len;
    size_t offset = 0;
    unsigned n = 0;
    uint8_t hdr[VIRTIO_NET_HDR_LEN] = {0};

    if (!virtio_queue_is_usable(vq)) {
        return true; /* no driver: drop, as a NIC that is down */
    }
    while (offset < need) {
        VirtQueueElement *e;

        if (n == NET_RX_MAX_CHAINS || (!mrg && n == 1)) {
            goto drop;
        }
        e = virtqueue_pop(vq, sizeof(*e));
        if (!e) {
            if (s->vdev->broken) {
                goto drop;
            }
            /* out of buffers: give them back, hold the frame */
            while (n) {
                virtqueue_unpop(vq, elems[--n]);
            }
            return false;
        }
        if (e->in_len < (n == 0 ? VIRTIO_NET_HDR_LEN : 1)) {
            virtqueue_element_free(e);
            virtio_error(s->vdev, "receive buffer too small");
            goto drop;
        }
        elems[n] = e;
        lens[n] = 0;
        n++;
        /* the header's num_buffers is known only at the end: fill later */
        offset += MIN(need - offset, e->in_len);
    }
    virtio_stw(hdr + 10, n);
    offset = 0;
    for (unsigned i = 0; i < n; i++) {
        lens[i] = net_fill(elems[i], hdr, buf, len, offset);
        offset += lens[i];
    }
    for (unsigned i = 0; i < n; i++) {
        virtqueue_push(vq, elems[i], lens[i]);
    }
    virtqueue_notify(vq);
    return true;

drop:
    /* too big for the buffers the driver gives: consume and drop */
    while (n) {
        VirtQueueElement *e = elems[--n];
        virtqueue_unpop(vq, e);
    }
    return true;
}

static void net_link_changed(void *opaque, bool up)
{
    VirtioNet *s = opaque;

    virtio_notify_config(s->vdev);
}

static void net_handle_rx(VirtioDevice *vdev, VirtQueue *vq)
{
    VirtioNet *s = vdev->state;

    if (s->nd) {
        qx_netdev_rx_ready(s->nd);
    }
}

static void net_handle_tx(VirtioDevice *vdev, VirtQueue *vq)
{
    VirtioNet *s = vdev->state;
    VirtQueueElement *e;
    bool pushed = false;

    while ((e = virtqueue_pop(vq, sizeof(*e)))) {
        struct iovec iov[64];
        int n = 0;
        size_t skip = VIRTIO_NET_HDR_LEN;

        if (e->out_len < VIRTIO_NET_HDR_LEN) {
            virtqueue_element_free(e);
            virtio_error(vdev, "transmit buffer without header");
            return;
        }
        for (unsigned i = 0; i < e->out_num; i++) {
            size_t l = e->out_sg[i].iov_len;
            if (skip >= l) {
                skip -= l;
                continue;
            }
            if (n == G_N_ELEMENTS(iov)) {
                n = -1; /* too scattered: drop it */
                break;
            }
            iov[n].iov_base = (uint8_t *)e->out_sg[i].iov_base + skip;
            iov[n++].iov_len = l - skip;
            skip = 0;
        }
        if (s->nd && n > 0) {
            qx_netdev_send(s->nd, iov, n);
        }
        virtqueue_push(vq, e, 0);
        pushed = true;
    }
    if (pushed) {
        virtqueue_notify(vq);
    }
}

static void net_get_config(VirtioDevice *vdev, uint8_t *c)
{
    VirtioNet *s = vdev->state;

    memcpy(c, s->mac, 6);
    virtio_stw(c + 6, net_link_up(s) ? VIRTIO_NET_S_LINK_UP : 0);
}

static void net_driver_ok(VirtioDevice *vdev)
{
    VirtioNet *s = vdev->state;

    if (s->nd) {
        qx_netdev_rx_ready(s->nd);
    }
}

static bool net_parse_mac(const char *str, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        char *end;
        unsigned long v;

        if (!g_ascii_isxdigit(str[0]) || !g_ascii_isxdigit(str[1])) {
            return false;
        }
        v = strtoul(str, &end, 16);
        if (end != str + 2 || v > 0xff) {
            return false;
        }
        mac[i] = v;
        str += 2;
        if (i < 5) {
            if (*str != ':' && *str != '-') {
                return false;
            }
            str++;
        }
    }
    return *str == '\0';
}

static void *net_create(VirtioDevice *vdev, json_object *props,
                        const VirtioHost *host, Error **errp)
{
    g_autofree char *netdev = NULL, *mac = NULL;
    uint64_t rx_size = NET_QUEUE_DEFAULT, tx_size = NET_QUEUE_DEFAULT;
    bool mrg = true, status = true;
    VirtioNet *s;

    if (!qx_opts_take_str(props, "netdev", &netdev, NULL, errp) ||
        !qx_opts_take_str(props, "mac", &mac, NULL, errp) ||
        !qx_opts_take_bool(props, "mrg_rxbuf", &mrg, NULL, errp) ||
        !qx_opts_take_bool(props, "status", &status, NULL, errp) ||
        !qx_opts_take_uint(props, "rx_queue_size", &rx_size, NULL, errp) ||
        !qx_opts_take_uint(props, "tx_queue_size", &tx_size, NULL, errp) ||
        !virtio_check_props(vdev, props, errp)) {
        return NULL;
    }
    s = g_new0(VirtioNet, 1);
    s->vdev = vdev;
    /* QEMU's first default address */
    memcpy(s->mac, (uint8_t[]){0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, 6);
    if (mac && !net_parse_mac(mac, s->mac)) {
        error_setg(errp,
                   "Property 'virtio-net-device.mac' doesn't take "
                   "value '%s'",
                   mac);
        goto fail;
    }
    if (rx_size < 256 || rx_size > NET_QUEUE_MAX || (rx_size & (rx_size - 1))) {
        error_setg(errp,
                   "Invalid rx_queue_size (= %" PRIu64 "), must be a "
                   "power of 2 between 256 and 1024.",
                   rx_size);
        goto fail;
    }
    if (tx_size < 256 || tx_size > NET_QUEUE_MAX || (tx_size & (tx_size - 1))) {
        error_setg(errp,
                   "Invalid tx_queue_size (= %" PRIu64 "), must be a "
                   "power of 2 between 256 and 1024",
                   tx_size);
        goto fail;
    }
    if (netdev) {
        QxNetPeer peer = {
            .receive = net_receive,
            .link_changed = net_link_changed,
            .opaque = s,
        };

        s->nd = host && host->find_netdev
                    ? host->find_netdev(host->opaque, netdev)
                    : NULL;
        if (!s->nd) {
            error_setg(errp,
                       "Property 'virtio-net-device.netdev' can't "
                       "find value '%s'",
                       netdev);
            goto fail;
        }
        if (!qx_netdev_attach(s->nd, &peer, NULL)) {
            error_setg(errp,
                       "Property 'virtio-net-device.netdev' can't "
                       "take value '%s', it's in use",
                       netdev);
            s->nd = NULL;
            goto fail;
        }
    }
    vdev->host_features |= 1ull << VIRTIO_NET_F_MAC;
    if (status) {
        vdev->host_features |= 1ull << VIRTIO_NET_F_STATUS;
    }
    if (mrg) {
        vdev->host_features |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
    }
    s->rx = virtio_add_queue(vdev, rx_size, net_handle_rx);
    s->tx = virtio_add_queue(vdev, tx_size, net_handle_tx);
    vdev->config_size = VIRTIO_NET_CONFIG_SIZE;
    return s;

fail:
    g_free(s);
    return NULL;
}

static void net_free(VirtioDevice *vdev)
{
    VirtioNet *s = vdev->state;

    if (s->nd) {
        qx_netdev_detach(s->nd);
    }
    g_free(s);
}

const VirtioDeviceOps virtio_net_ops = {
    .name = "virtio-net-device",
    .device_id = 1,
    .create = net_create,
    .get_config = net_get_config,
    .driver_ok = net_driver_ok,
    .free = net_free,
};
