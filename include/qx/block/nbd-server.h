/*
 * NBD server: exports BlockBackends over the NBD protocol (fixed newstyle
 * negotiation only, optional TLS, structured replies, block status with
 * the meta contexts base:allocation and qemu:allocation-depth, plus a
 * hook for qemu:dirty-bitmap:NAME).
 *
 * One NbdServer per process loop: it owns its listening sockets, its
 * export registry and its client connections.  Every client runs in its
 * own coroutine; each request it sends runs in a coroutine of its own, so
 * replies may leave out of order.  A client that breaks the protocol is
 * disconnected without affecting the others.  All functions must be
 * called from the loop's thread.
 */
#ifndef QX_BLOCK_NBD_SERVER_H
#define QX_BLOCK_NBD_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "qx/block/block-backend.h"
#include "qx/util/loop.h"
#include "qx/util/sockets.h"
#include "qx/util/tls.h"

typedef struct NbdServer NbdServer;
typedef struct NbdExport NbdExport;

/* Longest export name and description (the protocol's string limit). */
#define NBD_EXPORT_STRING_MAX 4096

/*
 * Hook for a qemu:dirty-bitmap:NAME meta context: reports whether
 * [offset, offset + bytes) starts dirty and for how many bytes (*pnum > 0)
 * the answer holds.  Returns 0 or -errno.  Runs in coroutine context.
 */
typedef int NbdBitmapStatusFunc(void *opaque, int64_t offset, int64_t bytes,
                                int64_t *pnum, bool *dirty);

typedef struct NbdExportBitmap {
    const char *name;            /* context is qemu:dirty-bitmap:NAME */
    NbdBitmapStatusFunc *status;
    void *opaque;
} NbdExportBitmap;

typedef struct NbdExportOpts {
    const char *name;        /* "" is the default export */
    const char *description; /* may be NULL */
    BlockBackend *blk;       /* not owned; must outlive the export */
    bool writable;
    bool allocation_depth;   /* offer qemu:allocation-depth */
    bool multi_conn;         /* advertise NBD_FLAG_CAN_MULTI_CONN */
    const NbdExportBitmap *bitmaps; /* may be NULL */
    int nbitmaps;
} NbdExportOpts;

/*
 * New server on loop.  tls (may be NULL, not owned, must be server
 * credentials) makes TLS mandatory: clients must send NBD_OPT_STARTTLS
 * before anything else.
 */
NbdServer *nbd_server_new(QxLoop *loop, QxTlsCreds *tls, Error **errp);
/*
 * Disconnects every client (without waiting for their requests), closes
 * the listeners and frees the server and its exports.  Use
 * nbd_server_shutdown() first for a graceful stop.
 */
void nbd_server_free(NbdServer *server);

/* Listens on addr (unix, inet or fd) and accepts clients from the loop. */
bool nbd_server_listen(NbdServer *server, const QxSocketAddress *addr,
                       Error **errp);
/* TCP port of the first inet listener (for port 0), or -1. */
int nbd_server_get_port(const NbdServer *server);

/*
 * Stops accepting while max clients are connected (-1, the default: no
 * limit; 0 accepts nobody, as qemu-nbd -e 0 does); clients
 * beyond the limit wait in the listen backlog, as with qemu-nbd -e.
 */
void nbd_server_set_max_clients(NbdServer *server, int max);
/*
 * cb(opaque) runs right after a client connected or went away (called
 * from the server's code: it must not free the server; use
 * nbd_server_get_client_count() in it).
 */
void nbd_server_set_client_notify(NbdServer *server, QxBHFunc *cb,
                                  void *opaque);
int nbd_server_get_client_count(const NbdServer *server);

/*
 * Serves an already connected socket (taken over: closed by the server).
 * Used by the listeners, tests and the fuzz target.
 */
void nbd_server_add_client(NbdServer *server, int fd);

/*
 * Graceful stop: closes the listeners, stops reading new requests from
 * every client, lets the requests in flight finish and send their replies,
 * then closes the connections.  Returns at once; poll
 * nbd_server_get_client_count() (or the notify callback) until 0.
 */
void nbd_server_shutdown(NbdServer *server);

/*
 * Adds an export.  Fails if the name is taken, too long, or the backend
 * has no node.
 */
NbdExport *nbd_export_add(NbdServer *server, const NbdExportOpts *opts,
                          Error **errp);
NbdExport *nbd_export_find(const NbdServer *server, const char *name);
/* Removes an export; its clients are disconnected. */
void nbd_export_remove(NbdExport *exp);

#endif
