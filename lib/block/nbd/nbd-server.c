/*
 * NBD server: listeners, the export registry and client lifetime.
 * See qx/block/nbd-server.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nbd-internal.h"

static void server_update_accept(NbdServer *server);

NbdServer *nbd_server_new(QxLoop *loop, QxTlsCreds *tls, Error **errp)
{
    NbdServer *server;

    if (tls && !qx_tls_creds_is_server(tls)) {
        error_setg(errp, "Expecting TLS credentials with a server endpoint");
        return NULL;
    }
    server = g_new0(NbdServer, 1);
    server->loop = loop;
    server->tls = tls;
    server->exports = g_ptr_array_new();
    server->clients = g_ptr_array_new();
    server->listeners = g_array_new(false, false, sizeof(int));
    server->accepting = true;
    server->inet_port = -1;
    server->max_clients = -1;
    return server;
}

static void server_close_listeners(NbdServer *server)
{
    for (guint i = 0; i < server->listeners->len; i++) {
        int fd = g_array_index(server->listeners, int, i);

        qx_loop_set_fd_handler(server->loop, fd, NULL, NULL, NULL);
        close(fd);
    }
    g_array_set_size(server->listeners, 0);
}

static void export_free(NbdExport *exp)
{
    for (int i = 0; i < exp->nbitmaps; i++) {
        g_free((char *)exp->bitmaps[i].name);
    }
    g_free(exp->bitmaps);
    g_free(exp->name);
    g_free(exp->description);
    g_free(exp);
}

void nbd_server_free(NbdServer *server)
{
    if (!server) {
        return;
    }
    server_close_listeners(server);
    server->shutting_down = true;
    for (guint i = 0; i < server->clients->len; i++) {
        NbdClient *client = g_ptr_array_index(server->clients, i);

        client->closing = true;
        shutdown(client->fd, SHUT_RDWR);
    }
    /* Clients end quickly now that every read and write fails. */
    while (server->clients->len > 0) {
        qx_loop_run_once(server->loop, true);
    }
    for (guint i = 0; i < server->exports->len; i++) {
        export_free(g_ptr_array_index(server->exports, i));
    }
    g_ptr_array_free(server->exports, true);
    g_ptr_array_free(server->clients, true);
    g_array_free(server->listeners, true);
    g_free(server);
}

static void server_notify(NbdServer *server)
{
    /* Called directly: a deferred call could miss a short-lived client. */
    if (server->notify_cb) {
        server->notify_cb(server->notify_opaque);
    }
}

static void server_on_accept(void *opaque)
{
    NbdServer *server = opaque;

    for (guint i = 0; i < server->listeners->len; i++) {
        int lfd = g_array_index(server->listeners, int, i);
        int fd;

        if (!server->accepting) {
            return;
        }
        fd = qx_socket_accept(lfd);
        if (fd < 0) {
            continue; /* EAGAIN on the other listeners, or a dead peer */
        }
        nbd_server_add_client(server, fd);
    }
}

static void server_update_accept(NbdServer *server)
{
    bool accept = !server->shutting_down &&
                  (server->max_clients < 0 ||
                   (int)server->clients->len < server->max_clients);

    server->accepting = accept;
    for (guint i = 0; i < server->listeners->len; i++) {
        qx_loop_set_fd_handler(server->loop,
                               g_array_index(server->listeners, int, i),
                               accept ? server_on_accept : NULL, NULL,
                               server);
    }
}

bool nbd_server_listen(NbdServer *server, const QxSocketAddress *addr,
                       Error **errp)
{
    int fd = qx_socket_listen(addr, 0, errp);

    if (fd < 0) {
        return false;
    }
    qx_socket_set_nonblock(fd, true);
    if (addr->type == QX_SOCKET_ADDRESS_INET && server->inet_port < 0) {
        server->inet_port = qx_socket_local_port(fd);
    }
    g_array_append_val(server->listeners, fd);
    server_update_accept(server);
    return true;
}

int nbd_server_get_port(const NbdServer *server)
{
    return server->inet_port;
}

void nbd_server_set_max_clients(NbdServer *server, int max)
{
    server->max_clients = max;
    server_update_accept(server);
}

void nbd_server_set_client_notify(NbdServer *server, QxBHFunc *cb,
                                  void *opaque)
{
    server->notify_cb = cb;
    server->notify_opaque = opaque;
}

int nbd_server_get_client_count(const NbdServer *server)
{
    return (int)server->clients->len;
}

static void client_main_co(void *opaque)
{
    NbdClient *client = opaque;

    if (nbd_negotiate_co(client) == 0) {
        nbd_transmit_co(client);
    }
    nbd_server_client_done(client);
}

void nbd_server_add_client(NbdServer *server, int fd)
{
    NbdClient *client = g_new0(NbdClient, 1);
    int one = 1;

    qx_socket_set_nonblock(fd, true);
    /* Replies are latency-bound: never wait for Nagle (fails on Unix). */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    client->server = server;
    client->fd = fd;
    qx_co_mutex_init(&client->send_lock);
    qx_co_queue_init(&client->slot_queue);
    qx_co_queue_init(&client->idle_queue);
    g_ptr_array_add(server->clients, client);
    if (server->shutting_down) {
        client->closing = true;
        shutdown(fd, SHUT_RDWR);
    }
    server_update_accept(server);
    server_notify(server);
    client->main_co = qx_coroutine_create(client_main_co, client);
    qx_coroutine_enter(client->main_co);
}

/* Called at the end of the client's main coroutine. */
void nbd_server_client_done(NbdClient *client)
{
    NbdServer *server = client->server;

    client->closing = true;
    /* Requests still running own references to the client's state. */
    while (client->in_flight > 0) {
        qx_co_queue_wait(&client->idle_queue, NULL);
    }
    nbd_conn_close(client);
    nbd_meta_selection_clear(&client->meta);
    g_ptr_array_remove(server->clients, client);
    g_free(client);
    server_update_accept(server);
    server_notify(server);
}

void nbd_server_shutdown(NbdServer *server)
{
    server->shutting_down = true;
    server_close_listeners(server);
    for (guint i = 0; i < server->clients->len; i++) {
        nbd_conn_shutdown_read(g_ptr_array_index(server->clients, i));
    }
}

NbdExport *nbd_export_find(const NbdServer *server, const char *name)
{
    for (guint i = 0; i < server->exports->len; i++) {
        NbdExport *exp = g_ptr_array_index(server->exports, i);

        if (strcmp(exp->name, name) == 0) {
            return exp;
        }
    }
    return NULL;
}

NbdExport *nbd_export_add(NbdServer *server, const NbdExportOpts *opts,
                          Error **errp)
{
    const char *name = opts->name ? opts->name : "";
    NbdExport *exp;
    int64_t size;
    uint64_t max_transfer;

    if (strlen(name) > NBD_EXPORT_STRING_MAX) {
        error_setg(errp, "export name '%s' too long", name);
        return NULL;
    }
    if (opts->description &&
        strlen(opts->description) > NBD_EXPORT_STRING_MAX) {
        error_setg(errp, "export description '%s' too long",
                   opts->description);
        return NULL;
    }
    if (nbd_export_find(server, name)) {
        error_setg(errp, "Block export id '%s' is already in use", name);
        return NULL;
    }
    size = blk_getlength(opts->blk);
    if (size < 0) {
        error_setg_errno(errp, (int)-size, "Failed to determine the NBD "
                         "export's length");
        return NULL;
    }
    exp = g_new0(NbdExport, 1);
    exp->server = server;
    exp->name = g_strdup(name);
    exp->description = g_strdup(opts->description);
    exp->blk = opts->blk;
    exp->writable = opts->writable;
    exp->allocation_depth = opts->allocation_depth;
    exp->multi_conn = opts->multi_conn;
    exp->size = size;
    if (opts->nbitmaps > 0) {
        exp->nbitmaps = opts->nbitmaps;
        exp->bitmaps = g_new0(NbdExportBitmap, opts->nbitmaps);
        for (int i = 0; i < opts->nbitmaps; i++) {
            exp->bitmaps[i] = opts->bitmaps[i];
            exp->bitmaps[i].name = g_strdup(opts->bitmaps[i].name);
        }
    }

    exp->flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
                 NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_CACHE;
    if (exp->writable) {
        exp->flags |= NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES |
                      NBD_FLAG_SEND_FAST_ZERO;
    } else {
        exp->flags |= NBD_FLAG_READ_ONLY;
    }
    if (exp->multi_conn) {
        exp->flags |= NBD_FLAG_CAN_MULTI_CONN;
    }

    exp->min_block = blk_get_request_alignment(opts->blk);
    if (exp->min_block == 0) {
        exp->min_block = 1;
    }
    exp->pref_block = exp->min_block > 4096 ? exp->min_block : 4096;
    max_transfer = blk_get_max_transfer(opts->blk);
    exp->max_block = NBD_MAX_BUFFER_SIZE;
    if (max_transfer && max_transfer < exp->max_block) {
        exp->max_block = (uint32_t)max_transfer;
    }
    g_ptr_array_add(server->exports, exp);
    return exp;
}

void nbd_export_remove(NbdExport *exp)
{
    NbdServer *server = exp->server;

    for (guint i = 0; i < server->clients->len; i++) {
        NbdClient *client = g_ptr_array_index(server->clients, i);

        if (client->exp == exp || client->meta.exp == exp) {
            client->closing = true;
            shutdown(client->fd, SHUT_RDWR);
        }
    }
    /* Clients holding exp end before we free it. */
    for (;;) {
        bool busy = false;

        for (guint i = 0; i < server->clients->len; i++) {
            NbdClient *client = g_ptr_array_index(server->clients, i);

            busy |= client->exp == exp || client->meta.exp == exp;
        }
        if (!busy) {
            break;
        }
        qx_loop_run_once(server->loop, true);
    }
    g_ptr_array_remove(server->exports, exp);
    export_free(exp);
}
