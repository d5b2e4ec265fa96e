/*
 * Client socket I/O for the NBD server: full reads and writes from
 * coroutine context over a non-blocking fd, plain or through a TLS
 * session.  A coroutine that must wait registers itself as the fd's read
 * or write waiter and yields; the loop's fd handler enters it again.  At
 * most one coroutine reads (the client's main coroutine) and one writes
 * (the holder of send_lock) at any time.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nbd-internal.h"

static void conn_update_handlers(NbdClient *client);

static void conn_on_readable(void *opaque)
{
    NbdClient *client = opaque;
    Coroutine *co = client->read_waiter;

    client->read_waiter = NULL;
    conn_update_handlers(client);
    if (co) {
        qx_coroutine_enter(co);
    }
}

static void conn_on_writable(void *opaque)
{
    NbdClient *client = opaque;
    Coroutine *co = client->write_waiter;

    client->write_waiter = NULL;
    conn_update_handlers(client);
    if (co) {
        qx_coroutine_enter(co);
    }
}

static void conn_update_handlers(NbdClient *client)
{
    qx_loop_set_fd_handler(client->server->loop, client->fd,
                           client->read_waiter ? conn_on_readable : NULL,
                           client->write_waiter ? conn_on_writable : NULL,
                           client);
}

static void conn_wait_co(NbdClient *client, bool write)
{
    if (write) {
        client->write_waiter = qx_coroutine_self();
    } else {
        client->read_waiter = qx_coroutine_self();
    }
    conn_update_handlers(client);
    qx_coroutine_yield();
}

static int conn_fail(NbdClient *client, int err)
{
    client->dead = true;
    return err;
}

int nbd_conn_read_co(NbdClient *client, void *buf, size_t len)
{
    uint8_t *p = buf;

    while (len > 0) {
        ssize_t n;

        if (client->dead) {
            return -EPIPE;
        }
        if (client->tls) {
            n = qx_tls_session_read(client->tls, p, len, NULL);
        } else {
            n = recv(client->fd, p, len, 0);
            if (n < 0) {
                n = -errno;
            }
        }
        if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR) {
            if (n != -EINTR) {
                conn_wait_co(client, false);
            }
            continue;
        }
        if (n == 0) {
            return conn_fail(client, -ECONNRESET);
        }
        if (n < 0) {
            return conn_fail(client, (int)n);
        }
        p += n;
        len -= n;
    }
    return 0;
}

int nbd_conn_skip_co(NbdClient *client, uint64_t len)
{
    uint8_t buf[4096];

    while (len > 0) {
        size_t chunk = len < sizeof(buf) ? len : sizeof(buf);
        int ret = nbd_conn_read_co(client, buf, chunk);

        if (ret < 0) {
            return ret;
        }
        len -= chunk;
    }
    return 0;
}

static ssize_t conn_send_plain(NbdClient *client, struct iovec *iov,
                               int niov)
{
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = niov};
    ssize_t n = sendmsg(client->fd, &msg, MSG_NOSIGNAL);

    if (n < 0 && errno == ENOTSOCK) {
        n = writev(client->fd, iov, niov);
    }
    return n < 0 ? -errno : n;
}

int nbd_conn_writev_co(NbdClient *client, struct iovec *iov, int niov)
{
    while (niov > 0) {
        ssize_t n;

        if (iov->iov_len == 0) {
            iov++;
            niov--;
            continue;
        }
        if (client->dead) {
            return -EPIPE;
        }
        if (client->tls) {
            n = qx_tls_session_write(client->tls, iov->iov_base,
                                     iov->iov_len, NULL);
        } else {
            n = conn_send_plain(client, iov, niov);
        }
        if (n == -EAGAIN || n == -EWOULDBLOCK) {
            conn_wait_co(client, true);
            continue;
        }
        if (n == -EINTR) {
            continue;
        }
        if (n < 0) {
            return conn_fail(client, (int)n);
        }
        while (n > 0) {
            if ((size_t)n >= iov->iov_len) {
                n -= iov->iov_len;
                iov++;
                niov--;
            } else {
                iov->iov_base = (uint8_t *)iov->iov_base + n;
                iov->iov_len -= n;
                n = 0;
            }
        }
    }
    return 0;
}

int nbd_conn_write_co(NbdClient *client, const void *buf, size_t len)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

    return nbd_conn_writev_co(client, &iov, 1);
}

int nbd_conn_start_tls_co(NbdClient *client, Error **errp)
{
    int ret;

    client->tls = qx_tls_session_new(client->server->tls, client->fd, NULL,
                                     errp);
    if (!client->tls) {
        return conn_fail(client, -EPROTO);
    }
    while ((ret = qx_tls_session_handshake(client->tls, errp)) == -EAGAIN) {
        if (client->dead) {
            return -EPIPE;
        }
        conn_wait_co(client, qx_tls_session_want_write(client->tls));
    }
    if (ret < 0) {
        return conn_fail(client, ret);
    }
    return 0;
}

void nbd_conn_shutdown_read(NbdClient *client)
{
    client->closing = true;
    /* The reader sees end of stream; a pending read wakes up at once. */
    shutdown(client->fd, SHUT_RD);
}

void nbd_conn_close(NbdClient *client)
{
    qx_loop_set_fd_handler(client->server->loop, client->fd, NULL, NULL,
                           NULL);
    if (client->tls) {
        if (!client->dead) {
            qx_tls_session_bye(client->tls);
        }
        qx_tls_session_free(client->tls);
        client->tls = NULL;
    }
    close(client->fd);
    client->fd = -1;
}
