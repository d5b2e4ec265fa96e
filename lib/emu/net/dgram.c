/*
 * Datagram netdev ("dgram"): one Ethernet frame per datagram, no framing,
 * as QEMU's dgram netdev.  local.* is bound (inet host/port, unix path, or
 * an inherited fd via local.type=fd,local.str=N), remote.* is where frames
 * go.  Multicast remotes are not supported.  The link is always up.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>

#include "internal.h"
#include "qx/util/opts.h"
#include "qx/util/sockets.h"

typedef struct NetDgram {
    QxNetdev *nd;
    int fd;
    struct sockaddr_storage remote;
    socklen_t remote_len;
    uint8_t *frame;
    size_t frame_len;
    bool held;
} NetDgram;

static void dgram_update_handlers(NetDgram *s);

static void dgram_on_read(void *opaque)
{
    NetDgram *s = opaque;

    for (int i = 0; i < 64 && !s->held; i++) {
        ssize_t n = recv(s->fd, s->frame, QX_NET_MAX_FRAME, MSG_DONTWAIT);

        if (n < 0) {
            return; /* EAGAIN, or an ICMP error for an earlier send */
        }
        s->frame_len = n;
        if (n > 0 && !qx_netdev_deliver(s->nd, s->frame, n)) {
            s->held = true;
            dgram_update_handlers(s);
        }
    }
}

static void dgram_update_handlers(NetDgram *s)
{
    qx_loop_set_fd_handler(s->nd->loop, s->fd, s->held ? NULL : dgram_on_read,
                           NULL, s);
}

static ssize_t dgram_send(QxNetdev *nd, const struct iovec *iov, int iovcnt,
                          size_t len)
{
    NetDgram *s = nd->state;
    struct msghdr msg = {
        .msg_name = s->remote_len ? &s->remote : NULL,
        .msg_namelen = s->remote_len,
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = iovcnt,
    };

    if (!s->remote_len) {
        return 0;
    }
    return sendmsg(s->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? 0 : len;
}

static void dgram_rx_ready(QxNetdev *nd)
{
    NetDgram *s = nd->state;

    if (s->held && qx_netdev_deliver(nd, s->frame, s->frame_len)) {
        s->held = false;
        dgram_update_handlers(s);
    }
}

static void dgram_close(QxNetdev *nd)
{
    NetDgram *s = nd->state;

    if (!s) {
        return;
    }
    if (s->fd >= 0) {
        qx_loop_set_fd_handler(nd->loop, s->fd, NULL, NULL, NULL);
        close(s->fd);
    }
    g_free(s->frame);
    g_free(s);
}

/* Resolves addr into a sockaddr; false with errp set. */
static bool dgram_resolve(const QxSocketAddress *addr, const char *what,
                          struct sockaddr_storage *ss, socklen_t *len,
                          Error **errp)
{
    if (addr->type == QX_SOCKET_ADDRESS_UNIX) {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;

        if (strlen(addr->path) >= sizeof(un->sun_path)) {
            error_setg(errp, "UNIX socket path '%s' is too long", addr->path);
            return false;
        }
        memset(un, 0, sizeof(*un));
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, addr->path);
        *len = sizeof(*un);
        return true;
    }
    if (addr->type == QX_SOCKET_ADDRESS_INET) {
        struct addrinfo hints = {.ai_socktype = SOCK_DGRAM};
        struct addrinfo *res = NULL;
        int rc;

        hints.ai_family = addr->ipv4_only   ? AF_INET
                          : addr->ipv6_only ? AF_INET6
                                            : AF_UNSPEC;
        hints.ai_flags = AI_ADDRCONFIG | (*addr->host ? 0 : AI_PASSIVE);
        rc = getaddrinfo(*addr->host ? addr->host : NULL, addr->port, &hints,
                         &res);
        if (rc != 0) {
            error_setg(errp, "address resolution failed for %s:%s: %s",
                       addr->host, addr->port, gai_strerror(rc));
            return false;
        }
        memcpy(ss, res->ai_addr, res->ai_addrlen);
        *len = res->ai_addrlen;
        freeaddrinfo(res);
        return true;
    }
    error_setg(errp, "-netdev dgram: %s.type=fd is only valid for local", what);
    return false;
}

static QxSocketAddress *dgram_take_addr(json_object *opts, const char *key,
                                        Error **errp)
{
    json_object *sub = qx_opts_extract_prefix(opts, key);
    QxSocketAddress *addr = NULL;

    if (json_object_object_length(sub) > 0) {
        addr = qx_socket_address_from_dict_at(sub, key, errp);
    }
    json_object_put(sub);
    return addr;
}

static bool dgram_open(QxNetdev *nd, json_object *opts, Error **errp)
{
    g_autoptr(QxSocketAddress) local = NULL;
    g_autoptr(QxSocketAddress) remote = NULL;
    Error *err = NULL;
    struct sockaddr_storage ss;
    socklen_t len;
    NetDgram *s;
    int fd;

    local = dgram_take_addr(opts, "local", &err);
    if (!err) {
        remote = dgram_take_addr(opts, "remote", &err);
    }
    if (err) {
        error_propagate(errp, err);
        return false;
    }
    if (!qx_opts_check_unexpected(opts, errp)) {
        return false;
    }
    /* QEMU 7.2's rules and messages (multicast is not supported) */
    if (!local) {
        error_setg(errp, "dgram requires local= parameter");
        return false;
    }
    if (remote && local->type != QX_SOCKET_ADDRESS_FD &&
        local->type != remote->type) {
        error_setg(errp, "remote and local types must be the same");
        return false;
    }
    s = g_new0(NetDgram, 1);
    s->nd = nd;
    s->fd = -1;
    s->frame = g_malloc(QX_NET_MAX_FRAME);
    nd->state = s;
    if (remote &&
        !dgram_resolve(remote, "remote", &s->remote, &s->remote_len, errp)) {
        goto fail;
    }
    if (local->type == QX_SOCKET_ADDRESS_FD) {
        fd = qx_socket_connect(local, errp);
        if (fd < 0) {
            goto fail;
        }
        s->fd = fd;
    } else {
        int family;

        if (!dgram_resolve(local, "local", &ss, &len, errp)) {
            goto fail;
        }
        family = ((struct sockaddr *)&ss)->sa_family;
        s->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s->fd < 0) {
            error_setg_errno(errp, errno, "can't create datagram socket");
            goto fail;
        }
        if (local->type == QX_SOCKET_ADDRESS_UNIX) {
            struct stat st;

            /* a stale socket of an earlier run; never any other file */
            if (lstat(local->path, &st) == 0 && S_ISSOCK(st.st_mode)) {
                unlink(local->path);
            }
        }
        if (bind(s->fd, (struct sockaddr *)&ss, len) < 0) {
            g_autofree char *str = qx_socket_address_to_string(local);
            error_setg_errno(errp, errno, "can't bind datagram socket to %s",
                             str);
            goto fail;
        }
    }
    qx_socket_set_nonblock(s->fd, true);
    nd->link_up = true;
    dgram_update_handlers(s);
    return true;

fail:
    dgram_close(nd);
    nd->state = NULL;
    return false;
}

const QxNetdevOps qx_netdev_dgram_ops = {
    .type = "dgram",
    .open = dgram_open,
    .send = dgram_send,
    .rx_ready = dgram_rx_ready,
    .close = dgram_close,
};
