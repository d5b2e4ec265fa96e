/* -netdev backends: creation, NIC attachment and frame hand-over. */
#include <string.h>

#include <glib.h>

#include "internal.h"
#include "qx/util/opts.h"

/* The one explicit registry of backend types. */
static const QxNetdevOps *const netdev_types[] = {
    &qx_netdev_stream_ops,
    &qx_netdev_socket_ops,
    &qx_netdev_dgram_ops,
};

QxNetdev *qx_netdev_new(json_object *opts, QxLoop *loop, Error **errp)
{
    g_autofree char *type = NULL;
    g_autofree char *id = NULL;
    const QxNetdevOps *ops = NULL;
    json_object *rest = NULL;
    QxNetdev *nd;

    if (json_object_deep_copy(opts, &rest, NULL) < 0) {
        error_setg(errp, "cannot copy netdev options");
        return NULL;
    }
    if (!qx_opts_take_str(rest, "type", &type, NULL, errp) ||
        !qx_opts_take_str(rest, "id", &id, NULL, errp)) {
        json_object_put(rest);
        return NULL;
    }
    if (!type) {
        error_setg(errp, "Parameter 'type' is missing");
        json_object_put(rest);
        return NULL;
    }
    if (!id) {
        error_setg(errp, "Parameter 'id' is missing");
        json_object_put(rest);
        return NULL;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(netdev_types); i++) {
        if (!strcmp(netdev_types[i]->type, type)) {
            ops = netdev_types[i];
        }
    }
    if (!ops) {
        error_setg(errp, "Parameter 'type' does not accept value '%s'", type);
        json_object_put(rest);
        return NULL;
    }
    nd = g_new0(QxNetdev, 1);
    nd->ops = ops;
    nd->id = g_steal_pointer(&id);
    nd->loop = loop ? loop : qx_loop_current();
    if (!ops->open(nd, rest, errp)) {
        json_object_put(rest);
        g_free(nd->id);
        g_free(nd);
        return NULL;
    }
    json_object_put(rest);
    return nd;
}

void qx_netdev_free(QxNetdev *nd)
{
    if (!nd) {
        return;
    }
    g_assert(!nd->has_peer);
    nd->ops->close(nd);
    g_free(nd->id);
    g_free(nd);
}

const char *qx_netdev_id(const QxNetdev *nd)
{
    return nd->id;
}

bool qx_netdev_attach(QxNetdev *nd, const QxNetPeer *peer, Error **errp)
{
    if (nd->has_peer) {
        error_setg(errp, "netdev '%s' is already in use", nd->id);
        return false;
    }
    nd->peer = *peer;
    nd->has_peer = true;
    return true;
}

void qx_netdev_detach(QxNetdev *nd)
{
    nd->has_peer = false;
    memset(&nd->peer, 0, sizeof(nd->peer));
}

bool qx_netdev_link_up(const QxNetdev *nd)
{
    return nd->link_up;
}

ssize_t qx_netdev_send(QxNetdev *nd, const struct iovec *iov, int iovcnt)
{
    size_t len = 0;

    for (int i = 0; i < iovcnt; i++) {
        len += iov[i].iov_len;
    }
    if (!nd->link_up || len == 0 || len > QX_NET_MAX_FRAME) {
        return 0;
    }
    return nd->ops->send(nd, iov, iovcnt, len);
}

void qx_netdev_rx_ready(QxNetdev *nd)
{
    if (nd->ops->rx_ready) {
        nd->ops->rx_ready(nd);
    }
}

bool qx_netdev_deliver(QxNetdev *nd, const void *buf, size_t len)
{
    if (!nd->has_peer || !nd->peer.receive) {
        return true; /* no NIC: the frame falls on the floor */
    }
    return nd->peer.receive(nd->peer.opaque, buf, len);
}

void qx_netdev_set_link(QxNetdev *nd, bool up)
{
    if (nd->link_up == up) {
        return;
    }
    nd->link_up = up;
    if (nd->has_peer && nd->peer.link_changed) {
        nd->peer.link_changed(nd->peer.opaque, up);
    }
}
