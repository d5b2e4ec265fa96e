/*
 * nbd: the NBD client protocol driver, on libnbd.
 *
 * We connect the socket ourselves (so connection errors read as QEMU's),
 * hand it to libnbd for the handshake, then drive libnbd's asynchronous
 * API from the event loop: each request is a coroutine that submits a
 * command and sleeps until libnbd's completion callback wakes it.  Replies
 * may arrive in any order; libnbd matches them to commands.
 *
 * Options as QEMU 7.2's nbd driver: server.* (inet host/port, unix path,
 * fd), export, tls-creds (an --object tls-creds-x509 or tls-creds-psk
 * with endpoint=client, found through the graph's object registry) and
 * tls-hostname; x-dirty-bitmap, reconnect-delay and open-timeout are
 * refused by name unless left at their defaults.
 *
 * TLS is libnbd's.  Over TCP libnbd connects itself so that it checks the
 * server's certificate against server.host.  Over a Unix socket QEMU
 * insists on tls-hostname for x509; libnbd 1.14 has no call to set the
 * name to check, so there the certificate chain is verified but the name
 * in it is not.  Our
 * own x-multi-conn=N (default 1, at most 16) opens N connections when the
 * server advertises multi-conn (its flush then covers all of them), and
 * spreads requests over them, fewest in flight first.
 */
#include <errno.h>
#include <libnbd.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "nbd-client.h"
#include "qx/util/object-opts.h"
#include "qx/util/opts.h"
#include "qx/util/sockets.h"

/* Largest request we send, whatever the server allows (QEMU: 32 MiB). */
#define NBD_CLIENT_MAX_REQUEST (32u << 20)

#define NBD_CLIENT_MAX_CONNS 16

typedef struct NbdClientState NbdClientState;

/* One connection: a libnbd handle and its socket. */
typedef struct NbdConn {
    NbdClientState *s;
    struct nbd_handle *h;
    int fd;                /* libnbd's socket, watched by the loop */
    bool watching;
    unsigned inflight;
} NbdConn;

struct NbdClientState {
    NbdConn conns[NBD_CLIENT_MAX_CONNS];
    int nconns;
    QxLoop *loop;
    bool base_allocation;  /* server agreed to base:allocation */
    bool can_flush, can_fua, can_trim, can_zero, can_fast_zero;
    uint32_t min_block;
    uint32_t max_block;
};

/* One in-flight command. */
typedef struct NbdClientReq {
    Coroutine *co;
    bool waiting;          /* co is yielded and needs a wake */
    bool done;
    int ret;
    /* block status: the first extent */
    uint32_t ext_len;
    uint32_t ext_flags;
    bool have_extent;
} NbdClientReq;

static const char *const nbd_strong_options[] = {
    "server",
    "export",
    NULL,
};

static bool nbd_parse_filename(const char *filename, json_object *opts,
                               Error **errp)
{
    return nbd_client_parse_filename(filename, opts, errp);
}

/* ---- Event loop glue ------------------------------------------------ */

static void nbd_watch(NbdConn *c);

static void nbd_on_readable(void *opaque)
{
    NbdConn *c = opaque;

    nbd_aio_notify_read(c->h);
    nbd_watch(c);
}

static void nbd_on_writable(void *opaque)
{
    NbdConn *c = opaque;

    nbd_aio_notify_write(c->h);
    nbd_watch(c);
}

/* Watches the socket in the directions libnbd currently wants. */
static void nbd_watch(NbdConn *c)
{
    unsigned dir;

    if (nbd_aio_is_dead(c->h) > 0 || nbd_aio_is_closed(c->h) > 0) {
        if (c->watching) {
            qx_loop_set_fd_handler(c->s->loop, c->fd, NULL, NULL, NULL);
            c->watching = false;
        }
        return;
    }
    dir = nbd_aio_get_direction(c->h);
    qx_loop_set_fd_handler(c->s->loop, c->fd,
                           (dir & LIBNBD_AIO_DIRECTION_READ) ?
                               nbd_on_readable : NULL,
                           (dir & LIBNBD_AIO_DIRECTION_WRITE) ?
                               nbd_on_writable : NULL,
                           c);
    c->watching = true;
}

static int nbd_complete_cb(void *user_data, int *error)
{
    NbdClientReq *req = user_data;

    req->ret = *error ? -*error : 0;
    req->done = true;
    if (req->waiting) {
        req->waiting = false;
        qx_coroutine_wake(req->co);
    }
    /*
     * Not auto-retired (return 0): libnbd 1.14 may complete a command
     * while still submitting it when the connection dies, and reads the
     * command after this callback; nbd_wait_co() retires it instead.
     */
    return 0;
}

/* False once the connection is gone: nothing more may be submitted. */
static bool nbd_usable(NbdConn *c)
{
    return nbd_aio_is_ready(c->h) > 0 || nbd_aio_is_processing(c->h) > 0;
}

/* The usable connection with the fewest requests in flight, or NULL. */
static NbdConn *nbd_pick(NbdClientState *s)
{
    NbdConn *best = NULL;

    for (int i = 0; i < s->nconns; i++) {
        NbdConn *c = &s->conns[i];

        if (nbd_usable(c) && (!best || c->inflight < best->inflight)) {
            best = c;
        }
    }
    return best;
}

/* Waits for the command submitted as cookie (or fails at once). */
static int nbd_wait_co(NbdConn *c, int64_t cookie, NbdClientReq *req)
{
    if (cookie < 0) {
        int err = nbd_get_errno();

        nbd_watch(c);
        return -(err ? err : EIO);
    }
    c->inflight++;
    nbd_watch(c);
    while (!req->done) {
        req->waiting = true;
        qx_coroutine_yield();
    }
    c->inflight--;
    nbd_aio_command_completed(c->h, cookie);
    return req->ret;
}

static nbd_completion_callback completion(NbdClientReq *req)
{
    req->co = qx_coroutine_self();
    return (nbd_completion_callback){ .callback = nbd_complete_cb,
                                      .user_data = req };
}

/* ---- Open and close --------------------------------------------------- */

static bool refuse_option(json_object *opts, const char *key, Error **errp)
{
    char *val = NULL;
    bool present = false;

    qx_opts_take_flat_str(opts, key, &val, &present, NULL);
    if (present && val && *val && strcmp(val, "0") != 0) {
        error_setg(errp, "NBD option '%s' is not supported yet", key);
        g_free(val);
        return false;
    }
    g_free(val);
    return true;
}

static char *handshake_error(const char *export)
{
    int err = nbd_get_errno();
    const char *msg = nbd_get_error();

    if (err == ENOENT || (msg && strstr(msg, "export"))) {
        return g_strdup("Requested export not available");
    }
    return g_strdup_printf("Failed to negotiate with the NBD server: %s",
                           msg ? msg : g_strerror(err ? err : EIO));
}

/* Connects one more handle to the server (blocking handshake). */
/* Makes the handle require TLS with creds (libnbd does the TLS). */
static bool nbd_setup_tls(struct nbd_handle *h, QxTlsCreds *creds,
                          Error **errp)
{
    const char *dir = qx_tls_creds_get_dir(creds);
    int ret;

    ret = nbd_set_tls(h, LIBNBD_TLS_REQUIRE);
    if (ret == 0 && qx_tls_creds_get_type(creds) == QX_TLS_CREDS_PSK) {
        g_autofree char *file = g_build_filename(dir, "keys.psk", NULL);
        const char *user = qx_tls_creds_get_username(creds);

        ret = nbd_set_tls_psk_file(h, file);
        if (ret == 0) {
            ret = nbd_set_tls_username(h, user ? user : "qemu");
        }
    } else if (ret == 0) {
        ret = nbd_set_tls_certificates(h, dir);
        if (ret == 0) {
            ret = nbd_set_tls_verify_peer(h, true);
        }
    }
    if (ret < 0) {
        error_setg(errp, "Cannot set up TLS for NBD: %s", nbd_get_error());
        return false;
    }
    return true;
}

static NbdConn *nbd_connect_one(NbdClientState *s, const QxSocketAddress *addr,
                                const char *export, QxTlsCreds *creds,
                                Error **errp)
{
    NbdConn *c = &s->conns[s->nconns];
    bool libnbd_connects = creds && addr->type == QX_SOCKET_ADDRESS_INET;
    int fd = -1;

    if (!libnbd_connects) {
        fd = qx_socket_connect(addr, errp);
        if (fd < 0) {
            return NULL;
        }
    }
    c->h = nbd_create();
    if (!c->h) {
        if (fd >= 0) {
            close(fd);
        }
        error_setg(errp, "Failed to create an NBD handle: %s",
                   nbd_get_error());
        return NULL;
    }
    nbd_set_export_name(c->h, export ? export : "");
    nbd_add_meta_context(c->h, LIBNBD_CONTEXT_BASE_ALLOCATION);
    if (creds && !nbd_setup_tls(c->h, creds, errp)) {
        if (fd >= 0) {
            close(fd);
        }
        nbd_close(c->h);
        c->h = NULL;
        return NULL;
    }
    /* Both block for the connection and the handshake. */
    if (libnbd_connects ? nbd_connect_tcp(c->h, addr->host, addr->port) < 0
                        : nbd_connect_socket(c->h, fd) < 0) {
        int err = nbd_get_errno();

        if (libnbd_connects && nbd_aio_is_created(c->h) > 0 &&
            (err == ECONNREFUSED || err == EHOSTUNREACH ||
             err == ENETUNREACH || err == ETIMEDOUT)) {
            error_setg_errno(errp, err, "Failed to connect to '%s:%s'",
                             addr->host, addr->port);
        } else {
            g_autofree char *msg = handshake_error(export);

            error_setg(errp, "%s", msg);
        }
        nbd_close(c->h);
        c->h = NULL;
        return NULL;
    }
    c->s = s;
    c->fd = nbd_aio_get_fd(c->h);
    s->nconns++;
    return c;
}

static void nbd_disconnect_all(NbdClientState *s)
{
    for (int i = 0; i < s->nconns; i++) {
        NbdConn *c = &s->conns[i];

        if (c->watching) {
            qx_loop_set_fd_handler(s->loop, c->fd, NULL, NULL, NULL);
        }
        nbd_shutdown(c->h, 0);
        nbd_close(c->h);
        c->h = NULL;
    }
    s->nconns = 0;
}

static int nbd_open_co(BlockNode *node, json_object *opts, unsigned flags,
                       Error **errp)
{
    NbdClientState *s = node->opaque;
    g_autoptr(QxSocketAddress) addr = NULL;
    json_object *server;
    char *export = NULL;
    bool have_export = false;
    uint64_t want_conns = 1;
    g_autofree char *tls_id = NULL;
    g_autofree char *tls_hostname = NULL;
    QxTlsCreds *creds = NULL;
    NbdConn *c;
    int ret = -EINVAL;
    int64_t v;

    server = qx_opts_extract_prefix(opts, "server");
    addr = qx_socket_address_from_dict_at(server, "server", errp);
    json_object_put(server);
    if (!addr) {
        return -EINVAL;
    }
    qx_opts_take_flat_str(opts, "export", &export, &have_export, NULL);
    qx_opts_take_flat_str(opts, "tls-creds", &tls_id, NULL, NULL);
    qx_opts_take_flat_str(opts, "tls-hostname", &tls_hostname, NULL, NULL);
    if (!refuse_option(opts, "x-dirty-bitmap", errp) ||
        !refuse_option(opts, "reconnect-delay", errp) ||
        !refuse_option(opts, "open-timeout", errp) ||
        !qx_opts_take_flat_number(opts, "x-multi-conn", &want_conns, NULL,
                                  errp)) {
        goto out;
    }
    if (want_conns < 1 || want_conns > NBD_CLIENT_MAX_CONNS) {
        error_setg(errp, "x-multi-conn must be between 1 and %d",
                   NBD_CLIENT_MAX_CONNS);
        goto out;
    }
    if (tls_id) {
        QxObjects *objs = block_graph_get_objects(node->graph);

        if (!objs) {
            error_setg(errp, "No TLS credentials with id '%s'", tls_id);
            goto out;
        }
        creds = qx_objects_get_tls_creds(objs, tls_id, errp);
        if (!creds) {
            goto out;
        }
        if (qx_tls_creds_is_server(creds)) {
            error_setg(errp, "Expecting TLS credentials with a client "
                       "endpoint");
            goto out;
        }
        if (qx_tls_creds_get_type(creds) == QX_TLS_CREDS_X509 &&
            addr->type != QX_SOCKET_ADDRESS_INET && !tls_hostname) {
            error_setg(errp, "No hostname for certificate validation");
            goto out;
        }
    }
    s->loop = block_graph_get_loop(node->graph);
    c = nbd_connect_one(s, addr, export, creds, errp);
    if (!c) {
        ret = -EIO;
        goto out;
    }
    s->base_allocation =
        nbd_can_meta_context(c->h, LIBNBD_CONTEXT_BASE_ALLOCATION) > 0;
    s->can_flush = nbd_can_flush(c->h) > 0;
    s->can_fua = nbd_can_fua(c->h) > 0;
    s->can_trim = nbd_can_trim(c->h) > 0;
    s->can_zero = nbd_can_zero(c->h) > 0;
    s->can_fast_zero = nbd_can_fast_zero(c->h) > 0;
    v = nbd_get_block_size(c->h, LIBNBD_SIZE_MINIMUM);
    s->min_block = v > 0 && v <= 65536 ? (uint32_t)v : 1;
    v = nbd_get_block_size(c->h, LIBNBD_SIZE_MAXIMUM);
    s->max_block = v > 0 && v < NBD_CLIENT_MAX_REQUEST ?
                   (uint32_t)v : NBD_CLIENT_MAX_REQUEST;

    if (nbd_is_read_only(c->h) > 0 && !node->read_only) {
        if (node->auto_read_only) {
            node->read_only = true;
        } else {
            error_setg_errno(errp, EACCES, "Could not open image");
            ret = -EACCES;
            goto fail;
        }
    }
    /* More connections only where the server says they are coherent. */
    if (want_conns > 1 && nbd_can_multi_conn(c->h) > 0) {
        while ((uint64_t)s->nconns < want_conns) {
            if (!nbd_connect_one(s, addr, export, creds, errp)) {
                ret = -EIO;
                goto fail;
            }
        }
    }
    node->supported_write_flags = s->can_fua ? BLOCK_REQ_FUA : 0;
    node->supported_zero_flags = BLOCK_REQ_MAY_UNMAP |
                                 (s->can_fua ? BLOCK_REQ_FUA : 0);
    if (addr->type == QX_SOCKET_ADDRESS_FD) {
        node->exact_filename = NULL;
    } else {
        node->exact_filename = nbd_client_display_name(
            addr->type == QX_SOCKET_ADDRESS_UNIX ? "unix" : "inet",
            addr->host, addr->port, addr->path,
            have_export ? export : NULL);
    }
    for (int i = 0; i < s->nconns; i++) {
        nbd_watch(&s->conns[i]);
    }
    g_free(export);
    return 0;

fail:
    nbd_disconnect_all(s);
out:
    g_free(export);
    return ret;
}

static void nbd_close_co(BlockNode *node)
{
    nbd_disconnect_all(node->opaque);
}

static void nbd_refresh_limits(BlockNode *node, BlockLimits *limits)
{
    NbdClientState *s = node->opaque;

    limits->request_alignment = s->min_block;
    limits->max_transfer = s->max_block - s->max_block % s->min_block;
}

/* ---- Data path -------------------------------------------------------- */

static int nbd_preadv_co(BlockNode *node, int64_t offset, int64_t bytes,
                         BlockIOVec *qiov, size_t qiov_offset,
                         BlockReqFlags flags)
{
    NbdClientState *s = node->opaque;
    NbdClientReq req = { 0 };
    void *buf;
    int ret;

    NbdConn *c = nbd_pick(s);

    if (!c) {
        return -EIO;
    }
    buf = g_malloc(bytes);
    ret = nbd_wait_co(c, nbd_aio_pread(c->h, buf, bytes, offset,
                                       completion(&req), 0), &req);
    if (ret == 0) {
        block_iov_from_buf(qiov, qiov_offset, buf, bytes);
    }
    g_free(buf);
    return ret;
}

static int nbd_pwritev_co(BlockNode *node, int64_t offset, int64_t bytes,
                          BlockIOVec *qiov, size_t qiov_offset,
                          BlockReqFlags flags)
{
    NbdClientState *s = node->opaque;
    NbdClientReq req = { 0 };
    uint32_t nflags = (flags & BLOCK_REQ_FUA) ? LIBNBD_CMD_FLAG_FUA : 0;
    void *buf;
    int ret;

    NbdConn *c = nbd_pick(s);

    if (!c) {
        return -EIO;
    }
    buf = g_malloc(bytes);
    block_iov_to_buf(qiov, qiov_offset, buf, bytes);
    ret = nbd_wait_co(c, nbd_aio_pwrite(c->h, buf, bytes, offset,
                                        completion(&req), nflags), &req);
    g_free(buf);
    return ret;
}

static int nbd_pwrite_zeroes_co(BlockNode *node, int64_t offset,
                                int64_t bytes, BlockReqFlags flags)
{
    NbdClientState *s = node->opaque;
    NbdClientReq req = { 0 };
    NbdConn *c;
    uint32_t nflags = 0;

    if (!s->can_zero) {
        return -ENOTSUP;
    }
    c = nbd_pick(s);
    if (!c) {
        return -EIO;
    }
    if (!(flags & BLOCK_REQ_MAY_UNMAP)) {
        nflags |= LIBNBD_CMD_FLAG_NO_HOLE;
    }
    if (flags & BLOCK_REQ_FUA) {
        nflags |= LIBNBD_CMD_FLAG_FUA;
    }
    if (flags & BLOCK_REQ_NO_FALLBACK) {
        if (!s->can_fast_zero) {
            return -ENOTSUP;
        }
        nflags |= LIBNBD_CMD_FLAG_FAST_ZERO;
    }
    return nbd_wait_co(c, nbd_aio_zero(c->h, bytes, offset, completion(&req),
                                       nflags), &req);
}

static int nbd_pdiscard_co(BlockNode *node, int64_t offset, int64_t bytes)
{
    NbdClientState *s = node->opaque;
    NbdClientReq req = { 0 };
    NbdConn *c;

    if (!s->can_trim) {
        return -ENOTSUP;
    }
    c = nbd_pick(s);
    if (!c) {
        return -EIO;
    }
    return nbd_wait_co(c, nbd_aio_trim(c->h, bytes, offset, completion(&req),
                                       0), &req);
}

static int nbd_flush_co(BlockNode *node)
{
    NbdClientState *s = node->opaque;
    NbdClientReq req = { 0 };
    NbdConn *c;

    if (!s->can_flush) {
        return 0;
    }
    c = nbd_pick(s);
    if (!c) {
        return -EIO;
    }
    return nbd_wait_co(c, nbd_aio_flush(c->h, completion(&req), 0), &req);
}

static int nbd_extent_cb(void *user_data, const char *metacontext,
                         uint64_t offset, uint32_t *entries,
                         size_t nr_entries, int *error)
{
    NbdClientReq *req = user_data;

    if (strcmp(metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION) == 0 &&
        nr_entries >= 2 && !req->have_extent) {
        req->ext_len = entries[0];
        req->ext_flags = entries[1];
        req->have_extent = true;
    }
    return 0;
}

static int nbd_block_status_co(BlockNode *node, bool want_zero,
                               int64_t offset, int64_t bytes, int64_t *pnum,
                               int64_t *map, BlockNode **file)
{
    NbdClientState *s = node->opaque;
    NbdClientReq req = { 0 };
    NbdConn *c;
    nbd_extent_callback extent = { .callback = nbd_extent_cb,
                                   .user_data = &req };
    int ret;

    *map = offset;
    *file = node;
    if (!s->base_allocation) {
        *pnum = bytes;
        return BLOCK_STATUS_DATA | BLOCK_STATUS_OFFSET_VALID;
    }
    c = nbd_pick(s);
    if (!c) {
        return -EIO;
    }
    bytes = MIN(bytes, (int64_t)UINT32_MAX - s->min_block + 1);
    ret = nbd_wait_co(c, nbd_aio_block_status(c->h, bytes, offset, extent,
                                              completion(&req),
                                              LIBNBD_CMD_FLAG_REQ_ONE),
                      &req);
    if (ret < 0) {
        return ret;
    }
    if (!req.have_extent || req.ext_len == 0) {
        /* A server that answered nothing useful: assume data. */
        *pnum = bytes;
        return BLOCK_STATUS_DATA | BLOCK_STATUS_OFFSET_VALID;
    }
    *pnum = MIN((int64_t)req.ext_len, bytes);
    return BLOCK_STATUS_OFFSET_VALID |
           ((req.ext_flags & LIBNBD_STATE_HOLE) ? 0 : BLOCK_STATUS_DATA) |
           ((req.ext_flags & LIBNBD_STATE_ZERO) ? BLOCK_STATUS_ZERO : 0);
}

static int64_t nbd_getlength_co(BlockNode *node)
{
    NbdClientState *s = node->opaque;
    int64_t size = nbd_get_size(s->conns[0].h);

    return size < 0 ? -EIO : size;
}

static int64_t nbd_get_allocated_file_size_co(BlockNode *node)
{
    return -ENOTSUP;
}

#define NBD_DRIVER(var, proto)                                             \
    const BlockDriver var = {                                              \
        .format_name = "nbd",                                              \
        .protocol_name = proto,                                            \
        .is_protocol = true,                                               \
        .state_size = sizeof(NbdClientState),                              \
        .strong_options = nbd_strong_options,                              \
        .parse_filename = nbd_parse_filename,                              \
        .open_co = nbd_open_co,                                            \
        .close_co = nbd_close_co,                                          \
        .refresh_limits = nbd_refresh_limits,                              \
        .preadv_co = nbd_preadv_co,                                        \
        .pwritev_co = nbd_pwritev_co,                                      \
        .pwrite_zeroes_co = nbd_pwrite_zeroes_co,                          \
        .pdiscard_co = nbd_pdiscard_co,                                    \
        .flush_co = nbd_flush_co,                                          \
        .block_status_co = nbd_block_status_co,                            \
        .getlength_co = nbd_getlength_co,                                  \
        .get_allocated_file_size_co = nbd_get_allocated_file_size_co,      \
    }

NBD_DRIVER(block_driver_nbd, "nbd");
NBD_DRIVER(block_driver_nbd_tcp, "nbd+tcp");
NBD_DRIVER(block_driver_nbd_unix, "nbd+unix");
