/*
 * Stream-socket netdevs: "stream" (server=on|off, addr.*) and "socket"
 * (listen=, connect=, fd=).  One connection at a time; each frame goes on
 * the wire as a 4-byte big-endian length and the frame, as QEMU's
 * stream and socket netdevs do.  A server accepts a new client after the
 * previous one hung up.  Sending never blocks: frames wait in a bounded
 * output buffer, and are dropped when it is full (as a congested wire).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "internal.h"
#include "qx/util/opts.h"
#include "qx/util/sockets.h"

/* Output bytes queued before frames are dropped. */
#define STREAM_OUT_MAX (4u << 20)
/* Frames handled per readable event, so one peer cannot starve the loop. */
#define STREAM_RX_BATCH 64

typedef struct NetStream {
    QxNetdev *nd;
    int listen_fd;
    int fd;
    /* receive state: header, then payload */
    uint8_t hdr[4];
    size_t hdr_have;
    uint32_t frame_len;
    size_t frame_have;
    uint8_t *frame;
    bool held; /* a full frame waits for the NIC */
    GByteArray *out;
    size_t out_off;
} NetStream;

static void stream_update_handlers(NetStream *s);

static void stream_disconnect(NetStream *s)
{
    if (s->fd >= 0) {
        qx_loop_set_fd_handler(s->nd->loop, s->fd, NULL, NULL, NULL);
        close(s->fd);
        s->fd = -1;
    }
    s->hdr_have = s->frame_have = 0;
    s->held = false;
    g_byte_array_set_size(s->out, 0);
    s->out_off = 0;
    qx_netdev_set_link(s->nd, false);
    stream_update_handlers(s);
}

/* Tries to deliver the assembled frame; false if the NIC has no room. */
static bool stream_deliver(NetStream *s)
{
    if (!qx_netdev_deliver(s->nd, s->frame, s->frame_len)) {
        s->held = true;
        return false;
    }
    s->held = false;
    s->hdr_have = s->frame_have = 0;
    return true;
}

static void stream_on_read(void *opaque)
{
    NetStream *s = opaque;

    for (int frames = 0; frames < STREAM_RX_BATCH && !s->held;) {
        ssize_t n;

        if (s->hdr_have < 4) {
            n = read(s->fd, s->hdr + s->hdr_have, 4 - s->hdr_have);
        } else {
            n = read(s->fd, s->frame + s->frame_have,
                     s->frame_len - s->frame_have);
        }
        if (n < 0 && (errno == EINTR)) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n <= 0) {
            stream_disconnect(s);
            return;
        }
        if (s->hdr_have < 4) {
            s->hdr_have += n;
            if (s->hdr_have < 4) {
                continue;
            }
            s->frame_len = (uint32_t)s->hdr[0] << 24 | s->hdr[1] << 16 |
                           s->hdr[2] << 8 | s->hdr[3];
            s->frame_have = 0;
            if (s->frame_len > QX_NET_MAX_FRAME) {
                /* the peer is not speaking our framing: hang up */
                g_debug("netdev %s: oversized frame (%u bytes)", s->nd->id,
                        s->frame_len);
                stream_disconnect(s);
                return;
            }
        } else {
            s->frame_have += n;
        }
        if (s->hdr_have == 4 && s->frame_have == s->frame_len) {
            frames++;
            if (!stream_deliver(s)) {
                /* stop reading until the NIC has buffers */
                stream_update_handlers(s);
                return;
            }
        }
    }
}

static void stream_flush(NetStream *s)
{
    while (s->fd >= 0 && s->out_off < s->out->len) {
        ssize_t n = send(s->fd, s->out->data + s->out_off,
                         s->out->len - s->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (n < 0) {
            stream_disconnect(s);
            return;
        }
        s->out_off += n;
    }
    if (s->out_off == s->out->len) {
        g_byte_array_set_size(s->out, 0);
        s->out_off = 0;
    }
    stream_update_handlers(s);
}

static void stream_on_write(void *opaque)
{
    stream_flush(opaque);
}

static void stream_on_accept(void *opaque)
{
    NetStream *s = opaque;
    int fd = qx_socket_accept(s->listen_fd);

    if (fd < 0) {
        return;
    }
    if (s->fd >= 0) {
        close(fd); /* one client at a time */
        return;
    }
    qx_socket_set_nonblock(fd, true);
    s->fd = fd;
    qx_netdev_set_link(s->nd, true);
    stream_update_handlers(s);
}

static void stream_update_handlers(NetStream *s)
{
    QxLoop *loop = s->nd->loop;

    if (s->listen_fd >= 0) {
        qx_loop_set_fd_handler(loop, s->listen_fd,
                               s->fd < 0 ? stream_on_accept : NULL, NULL, s);
    }
    if (s->fd >= 0) {
        qx_loop_set_fd_handler(
            loop, s->fd, s->held ? NULL : stream_on_read,
            s->out->len > s->out_off ? stream_on_write : NULL, s);
    }
}

static ssize_t stream_send(QxNetdev *nd, const struct iovec *iov, int iovcnt,
                           size_t len)
{
    NetStream *s = nd->state;
    uint8_t hdr[4] = {len >> 24, len >> 16, len >> 8, len};

    if (s->fd < 0 || s->out->len - s->out_off + len + 4 > STREAM_OUT_MAX) {
        return 0;
    }
    g_byte_array_append(s->out, hdr, 4);
    for (int i = 0; i < iovcnt; i++) {
        g_byte_array_append(s->out, iov[i].iov_base, iov[i].iov_len);
    }
    stream_flush(s);
    return len;
}

static void stream_rx_ready(QxNetdev *nd)
{
    NetStream *s = nd->state;

    if (s->fd >= 0 && s->held && stream_deliver(s)) {
        stream_update_handlers(s);
    }
}

static void stream_close(QxNetdev *nd)
{
    NetStream *s = nd->state;

    if (s->fd >= 0) {
        qx_loop_set_fd_handler(nd->loop, s->fd, NULL, NULL, NULL);
        close(s->fd);
    }
    if (s->listen_fd >= 0) {
        qx_loop_set_fd_handler(nd->loop, s->listen_fd, NULL, NULL, NULL);
        close(s->listen_fd);
    }
    g_byte_array_free(s->out, true);
    g_free(s->frame);
    g_free(s);
}

/* Opens the socket for addr (server: listen; client: connect). */
static bool stream_start(QxNetdev *nd, const QxSocketAddress *addr, bool server,
                         Error **errp)
{
    NetStream *s = g_new0(NetStream, 1);
    int fd;

    s->nd = nd;
    s->fd = s->listen_fd = -1;
    s->out = g_byte_array_new();
    s->frame = g_malloc(QX_NET_MAX_FRAME);
    nd->state = s;
    if (server) {
        fd = qx_socket_listen(addr, 1, errp);
    } else {
        fd = qx_socket_connect(addr, errp);
    }
    if (fd < 0) {
        stream_close(nd);
        nd->state = NULL;
        return false;
    }
    qx_socket_set_nonblock(fd, true);
    if (server) {
        s->listen_fd = fd;
    } else {
        s->fd = fd;
        nd->link_up = true;
    }
    stream_update_handlers(s);
    return true;
}

static bool stream_open(QxNetdev *nd, json_object *opts, Error **errp)
{
    bool server = false;
    json_object *addr_opts;
    g_autoptr(QxSocketAddress) addr = NULL;

    if (!qx_opts_take_bool(opts, "server", &server, NULL, errp)) {
        return false;
    }
    addr_opts = qx_opts_extract_prefix(opts, "addr");
    if (json_object_object_length(addr_opts) == 0) {
        json_object_put(addr_opts);
        error_setg(errp, "Parameter 'addr' is missing");
        return false;
    }
    addr = qx_socket_address_from_dict_at(addr_opts, "addr", errp);
    json_object_put(addr_opts);
    if (!addr || !qx_opts_check_unexpected(opts, errp)) {
        return false;
    }
    return stream_start(nd, addr, server, errp);
}

static bool socket_open(QxNetdev *nd, json_object *opts, Error **errp)
{
    g_autofree char *listen_str = NULL, *connect_str = NULL;
    g_autofree char *fd_str = NULL, *mcast = NULL, *udp = NULL;
    g_autoptr(QxSocketAddress) addr = NULL;
    int given;

    if (!qx_opts_take_flat_str(opts, "listen", &listen_str, NULL, errp) ||
        !qx_opts_take_flat_str(opts, "connect", &connect_str, NULL, errp) ||
        !qx_opts_take_flat_str(opts, "fd", &fd_str, NULL, errp) ||
        !qx_opts_take_flat_str(opts, "mcast", &mcast, NULL, errp) ||
        !qx_opts_take_flat_str(opts, "udp", &udp, NULL, errp)) {
        return false;
    }
    if (!qx_opts_check_empty(opts, NULL, errp)) {
        return false;
    }
    given = !!listen_str + !!connect_str + !!fd_str + !!mcast + !!udp;
    if (given != 1) {
        error_setg(errp, "exactly one of listen=, connect=, mcast= or udp= "
                         "is required");
        return false;
    }
    if (mcast || udp) {
        error_setg(errp, "-netdev socket,%s= is not supported",
                   mcast ? "mcast" : "udp");
        return false;
    }
    if (fd_str) {
        g_autofree char *spec = g_strdup_printf("fd:%s", fd_str);
        addr = qx_socket_address_parse(spec, errp);
        if (!addr) {
            return false;
        }
        /* an inherited connected socket */
        {
            NetStream *s;
            int fd = qx_socket_connect(addr, errp);
            if (fd < 0) {
                return false;
            }
            s = g_new0(NetStream, 1);
            s->nd = nd;
            s->listen_fd = -1;
            s->fd = fd;
            s->out = g_byte_array_new();
            s->frame = g_malloc(QX_NET_MAX_FRAME);
            nd->state = s;
            nd->link_up = true;
            qx_socket_set_nonblock(fd, true);
            stream_update_handlers(s);
            return true;
        }
    }
    addr = qx_socket_address_parse(listen_str ? listen_str : connect_str, errp);
    if (!addr) {
        return false;
    }
    if (addr->type != QX_SOCKET_ADDRESS_INET) {
        error_setg(errp, "-netdev socket takes HOST:PORT, not '%s'",
                   listen_str ? listen_str : connect_str);
        return false;
    }
    return stream_start(nd, addr, listen_str != NULL, errp);
}

const QxNetdevOps qx_netdev_stream_ops = {
    .type = "stream",
    .open = stream_open,
    .send = stream_send,
    .rx_ready = stream_rx_ready,
    .close = stream_close,
};

const QxNetdevOps qx_netdev_socket_ops = {
    .type = "socket",
    .open = socket_open,
    .send = stream_send,
    .rx_ready = stream_rx_ready,
    .close = stream_close,
};
