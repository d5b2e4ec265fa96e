/*
 * Network backends (-netdev) and the interface a NIC uses to reach one.
 *
 * Backends (the unprivileged ones QEMU has):
 *   stream  server=on|off, addr.type=inet|unix|fd (addr.host, addr.port,
 *           addr.path, addr.str): one stream connection
 *   socket  listen=[HOST]:PORT | connect=HOST:PORT | fd=N (TCP)
 *   dgram   local.* / remote.* (inet or unix datagram sockets)
 * Stream and socket frame each Ethernet frame with a 4-byte big-endian
 * length, as QEMU's stream/socket netdevs do, so our backends talk to
 * QEMU's.  Datagram sockets carry one frame per datagram.
 *
 * Threading: a netdev belongs to the loop it was created on.
 */
#ifndef QX_EMU_NET_H
#define QX_EMU_NET_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "qx/util/error.h"
#include "qx/util/loop.h"

/* Largest frame accepted from a peer (QEMU's NET_BUFSIZE). */
#define QX_NET_MAX_FRAME (4096 + 65536)

typedef struct QxNetdev QxNetdev;

/* What the NIC attached to a netdev provides. */
typedef struct QxNetPeer {
    /*
     * Delivers one received frame.  Returns true if consumed (or dropped
     * by the NIC), false if the NIC has no room now: the backend keeps the
     * frame, stops reading and retries after qx_netdev_rx_ready().
     */
    bool (*receive)(void *opaque, const void *buf, size_t len);
    /* The backend's link came up or went down (may be NULL). */
    void (*link_changed)(void *opaque, bool up);
    void *opaque;
} QxNetPeer;

/*
 * Creates a backend from a -netdev option dictionary (flat or keyval;
 * "type" and "id" keys required).  Leftover keys fail naming them.
 * Listening backends listen here; connecting ones connect here.
 */
QxNetdev *qx_netdev_new(json_object *opts, QxLoop *loop, Error **errp);
/* Closes sockets and frees; the NIC must have detached; NULL allowed. */
void qx_netdev_free(QxNetdev *nd);
const char *qx_netdev_id(const QxNetdev *nd);

/* Attaches the NIC; fails if another NIC uses the netdev. */
bool qx_netdev_attach(QxNetdev *nd, const QxNetPeer *peer, Error **errp);
void qx_netdev_detach(QxNetdev *nd);
/* Whether frames can flow (a stream backend is connected). */
bool qx_netdev_link_up(const QxNetdev *nd);

/*
 * Sends one frame gathered from iov.  Returns the frame length, or 0 if it
 * was dropped (no connection, output queue full): like a wire, sending
 * never blocks and never fails the NIC.
 */
ssize_t qx_netdev_send(QxNetdev *nd, const struct iovec *iov, int iovcnt);
/* The NIC has room again: a held frame is retried and reading resumes. */
void qx_netdev_rx_ready(QxNetdev *nd);

#endif
