/*
 * Private structures of the NBD server (lib/block/nbd).
 *
 * Files: nbd-server.c (server, listeners, exports, client lifetime),
 * nbd-conn.c (socket and TLS I/O from coroutines), nbd-negotiate.c
 * (handshake and option haggling), nbd-meta.c (meta contexts and block
 * status extents), nbd-transmit.c (requests and replies).
 */
#ifndef QX_BLOCK_NBD_INTERNAL_H
#define QX_BLOCK_NBD_INTERNAL_H

#include <glib.h>
#include <sys/uio.h>

#include "qx/block/nbd-server.h"
#include "qx/util/coroutine.h"
#include "nbd-proto.h"

/* Requests a client may have in flight before we stop reading more. */
#define NBD_MAX_REQUESTS_IN_FLIGHT 16

/* Meta context ids we hand out. */
#define NBD_META_ID_BASE_ALLOCATION 0
#define NBD_META_ID_ALLOCATION_DEPTH 1
#define NBD_META_ID_DIRTY_BITMAP 2 /* + bitmap index */

struct NbdExport {
    NbdServer *server;
    char *name;
    char *description;
    BlockBackend *blk;
    bool writable;
    bool allocation_depth;
    bool multi_conn;
    NbdExportBitmap *bitmaps;
    int nbitmaps;
    int64_t size;
    uint16_t flags;    /* without per-client NBD_FLAG_SEND_DF */
    uint32_t min_block;
    uint32_t pref_block;
    uint32_t max_block;
};

/* Meta contexts a client selected with NBD_OPT_SET_META_CONTEXT. */
typedef struct NbdMetaSelection {
    NbdExport *exp;        /* export the selection was made for */
    bool base_allocation;
    bool allocation_depth;
    bool *bitmaps;         /* exp->nbitmaps entries */
    int count;             /* contexts selected */
} NbdMetaSelection;

typedef struct NbdClient {
    NbdServer *server;
    int fd;
    QxTlsSession *tls;
    NbdExport *exp;        /* set when transmission starts */
    bool structured;       /* NBD_OPT_STRUCTURED_REPLY negotiated */
    bool no_zeroes;
    bool closing;          /* stop reading; replies may still go out */
    bool dead;             /* I/O failed: nothing more is sent */
    NbdMetaSelection meta;
    Coroutine *main_co;
    Coroutine *read_waiter;
    Coroutine *write_waiter;
    CoMutex send_lock;
    int in_flight;
    CoQueue slot_queue;    /* receive loop waiting for a free slot */
    CoQueue idle_queue;    /* main coroutine waiting for in_flight == 0 */
} NbdClient;

struct NbdServer {
    QxLoop *loop;
    QxTlsCreds *tls;
    GPtrArray *exports;    /* NbdExport * */
    GPtrArray *clients;    /* NbdClient * */
    GArray *listeners;     /* int fds */
    bool accepting;
    bool shutting_down;
    int max_clients;
    int inet_port;
    QxBHFunc *notify_cb;
    void *notify_opaque;
};

/* nbd-server.c */
void nbd_server_client_done(NbdClient *client);

/* nbd-conn.c: all return 0 or -errno; failures mark the client dead. */
int nbd_conn_read_co(NbdClient *client, void *buf, size_t len);
/* Reads and throws away len bytes. */
int nbd_conn_skip_co(NbdClient *client, uint64_t len);
/* Writes all of iov; callers hold send_lock when replies may interleave. */
int nbd_conn_writev_co(NbdClient *client, struct iovec *iov, int niov);
int nbd_conn_write_co(NbdClient *client, const void *buf, size_t len);
/* TLS handshake as the server on the client's socket. */
int nbd_conn_start_tls_co(NbdClient *client, Error **errp);
/* Stops reading: wakes a pending read, makes later reads fail. */
void nbd_conn_shutdown_read(NbdClient *client);
void nbd_conn_close(NbdClient *client);

/* nbd-negotiate.c: 0 when transmission may start, else -errno. */
int nbd_negotiate_co(NbdClient *client);

/* nbd-meta.c */
void nbd_meta_selection_clear(NbdMetaSelection *sel);
/*
 * Matches one query against exp's contexts; for every context it selects
 * (list: names the query covers; set: exact names only) calls
 * fn(opaque, id, name) and marks it in sel (if non-NULL).  Returns 0 or
 * the first negative value fn returned.
 */
typedef int NbdMetaFunc(void *opaque, uint32_t id, const char *name);
int nbd_meta_match(NbdExport *exp, const char *query, size_t len, bool list,
                   NbdMetaSelection *sel, NbdMetaFunc *fn, void *opaque);
/* Every context exp offers, for LIST without queries. */
int nbd_meta_list_all(NbdExport *exp, NbdMetaFunc *fn, void *opaque);
/*
 * Extents of one context for [offset, offset + len): up to max pairs of
 * (length, flags) in out (2 * max uint32 slots); returns the number of
 * extents or -errno.
 */
int nbd_meta_extents_co(NbdExport *exp, uint32_t id, uint64_t offset,
                        uint32_t len, uint32_t *out, int max);

/* nbd-transmit.c: serves requests until the client goes away. */
void nbd_transmit_co(NbdClient *client);

#endif
