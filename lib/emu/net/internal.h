/* Network backends: the ops table each -netdev type implements. */
#ifndef QX_EMU_NET_INTERNAL_H
#define QX_EMU_NET_INTERNAL_H

#include "qx/emu/net.h"

typedef struct QxNetdevOps {
    const char *type; /* -netdev type name */
    /*
     * Takes the options it understands from opts (the core reports the
     * rest) and sets nd->state.  Sockets are opened here.
     */
    bool (*open)(QxNetdev *nd, json_object *opts, Error **errp);
    /* Sends one frame of len bytes; returns len, or 0 if dropped. */
    ssize_t (*send)(QxNetdev *nd, const struct iovec *iov, int iovcnt,
                    size_t len);
    /* The NIC has room: deliver a held frame, resume reading. */
    void (*rx_ready)(QxNetdev *nd);
    /* Closes everything and frees nd->state. */
    void (*close)(QxNetdev *nd);
} QxNetdevOps;

struct QxNetdev {
    const QxNetdevOps *ops;
    void *state;
    char *id;
    QxLoop *loop;
    QxNetPeer peer;
    bool has_peer;
    bool link_up;
};

/* Hands a received frame to the NIC (true if it took it or there is none). */
bool qx_netdev_deliver(QxNetdev *nd, const void *buf, size_t len);
/* Records the link state and tells the NIC. */
void qx_netdev_set_link(QxNetdev *nd, bool up);

extern const QxNetdevOps qx_netdev_stream_ops;
extern const QxNetdevOps qx_netdev_socket_ops;
extern const QxNetdevOps qx_netdev_dgram_ops;

#endif
