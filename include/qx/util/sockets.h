/*
 * Socket addresses shared by NBD, QMP, chardevs and migration.
 *
 * Text forms (QEMU's):
 *   "unix:PATH"            Unix socket (abstract: "unix:@name" is rejected
 *                           unless the caller opts in)
 *   "tcp:HOST:PORT", "inet:HOST:PORT", "HOST:PORT", "[V6ADDR]:PORT"
 *   "fd:N" or "fd:NAME"    an inherited, already-open socket
 *   "vsock:CID:PORT"       recognised and rejected with a clear error
 * Dictionary form (--blockdev server.* and QMP): {"type": "inet", "host",
 * "port"} / {"type": "unix", "path"} / {"type": "fd", "str"}.
 */
#ifndef QX_UTIL_SOCKETS_H
#define QX_UTIL_SOCKETS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "qx/util/error.h"

typedef enum {
    QX_SOCKET_ADDRESS_INET,
    QX_SOCKET_ADDRESS_UNIX,
    QX_SOCKET_ADDRESS_FD,
} QxSocketAddressType;

typedef struct QxSocketAddress {
    QxSocketAddressType type;
    char *host;  /* INET: host name or address, without brackets */
    char *port;  /* INET: service name or number */
    bool ipv4_only;
    bool ipv6_only;
    char *path;  /* UNIX */
    char *fd;    /* FD: number or monitor name */
} QxSocketAddress;

QxSocketAddress *qx_socket_address_parse(const char *str, Error **errp);
QxSocketAddress *qx_socket_address_from_dict(json_object *dict,
                                             Error **errp);
QxSocketAddress *qx_socket_address_copy(const QxSocketAddress *addr);
/* Human form, as in messages ("unix:/tmp/s", "127.0.0.1:10809"). */
char *qx_socket_address_to_string(const QxSocketAddress *addr);
void qx_socket_address_free(QxSocketAddress *addr);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QxSocketAddress, qx_socket_address_free)

/*
 * Blocking connect / listen.  Returned fds are close-on-exec.  listen on a
 * unix path unlinks a stale socket first.  On INET, listen binds every
 * address the host resolves to and returns the first; port "0" picks a free
 * port (see qx_socket_local_port()).
 */
int qx_socket_connect(const QxSocketAddress *addr, Error **errp);
int qx_socket_listen(const QxSocketAddress *addr, int backlog, Error **errp);
/* Accepts with close-on-exec; returns fd or -errno. */
int qx_socket_accept(int listen_fd);
/* Local TCP port of a bound socket, or -1. */
int qx_socket_local_port(int fd);
bool qx_socket_set_nonblock(int fd, bool nonblock);

#endif
