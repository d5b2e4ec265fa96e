/*
 * Socket addresses shared by NBD, QMP, chardevs and migration.
 *
 * Text forms (QEMU's):
 *   "unix:PATH"            Unix socket (abstract "unix:@name" is rejected:
 *                           we do not support abstract sockets)
 *   "tcp:HOST:PORT", "inet:HOST:PORT", "HOST:PORT", "[V6ADDR]:PORT"
 *   "fd:N" or "fd:NAME"    an inherited, already-open socket
 *   "vsock:CID:PORT"       recognised and rejected with a clear error
 * INET forms take ",ipv4[=on|off]" and ",ipv6[=on|off]" suffixes.
 * Dictionary form (--blockdev server.* and QMP): {"type": "inet", "host",
 * "port", "ipv4", "ipv6"} / {"type": "unix", "path"} / {"type": "fd",
 * "str"}; "port" may be a string or a JSON integer, booleans may be JSON
 * booleans or "on"/"off" strings (keyval input).
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
    char *host;  /* INET: name or address, without brackets; "" is every
                    address for listen, the local host for connect */
    char *port;  /* INET: service name or number */
    bool ipv4_only;
    bool ipv6_only;
    char *path;  /* UNIX */
    char *fd;    /* FD: number or monitor name */
} QxSocketAddress;

QxSocketAddress *qx_socket_address_parse(const char *str, Error **errp);
QxSocketAddress *qx_socket_address_from_dict(json_object *dict,
                                             Error **errp);
/*
 * As qx_socket_address_from_dict(), naming keys in messages the way QEMU
 * does with the dictionary's place in the options: with path "addr" a
 * missing port is "Parameter 'addr.port' is missing".  path may be NULL.
 */
QxSocketAddress *qx_socket_address_from_dict_at(json_object *dict,
                                                const char *path,
                                                Error **errp);
QxSocketAddress *qx_socket_address_copy(const QxSocketAddress *addr);
/* Human form, as in messages ("unix:/tmp/s", "127.0.0.1:10809"). */
char *qx_socket_address_to_string(const QxSocketAddress *addr);
void qx_socket_address_free(QxSocketAddress *addr);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QxSocketAddress, qx_socket_address_free)

/*
 * Blocking connect / listen.  Returned fds are close-on-exec and belong to
 * the caller.  connect tries every address the host resolves to in order.
 * listen on a unix path first unlinks an existing socket file (never any
 * other kind of file).  On INET, listen binds the first resolved address
 * that works (SO_REUSEADDR set); port "0" picks a free port (see
 * qx_socket_local_port()).  backlog <= 0 means SOMAXCONN.  For "fd:N" both
 * return N itself (made close-on-exec; listen also calls listen() on it);
 * "fd:NAME" fails, as named fds need the monitor's fd store.
 */
int qx_socket_connect(const QxSocketAddress *addr, Error **errp);
int qx_socket_listen(const QxSocketAddress *addr, int backlog, Error **errp);
/* Accepts with close-on-exec; returns fd or -errno. */
int qx_socket_accept(int listen_fd);
/* Local TCP port of a bound socket, or -1. */
int qx_socket_local_port(int fd);
bool qx_socket_set_nonblock(int fd, bool nonblock);

#endif
