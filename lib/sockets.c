/*
 * Socket addresses: parsing (text and dictionary forms), blocking connect
 * and listen.
 *
 * Messages users see follow QEMU 7.2's wording ("Failed to connect to
 * '/tmp/s': No such file or directory", "address resolution failed for
 * h:p: ...") so that scripts matching them keep working.
 */
#include "qx/util/sockets.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "qx/util/cutils.h"

/* ---- text form ---- */

static QxSocketAddress *address_new(QxSocketAddressType type)
{
    QxSocketAddress *addr = g_new0(QxSocketAddress, 1);

    addr->type = type;
    return addr;
}

/*
 * Maps the user's ipv4/ipv6 choices onto the two "only" flags, with QEMU's
 * meaning: turning one family on alone restricts to it, turning one off
 * restricts to the other, both on (or neither given) allows both.
 */
static bool address_set_family(QxSocketAddress *addr, bool has_v4, bool v4,
                               bool has_v6, bool v6, Error **errp)
{
    addr->ipv4_only = false;
    addr->ipv6_only = false;
    if (has_v4 && has_v6 && !v4 && !v6) {
        error_setg(errp, "Cannot disable IPv4 and IPv6 at same time");
        return false;
    }
    if (has_v4 && has_v6 && v4 && v6) {
        return true;
    }
    if ((has_v4 && v4) || (has_v6 && !v6)) {
        addr->ipv4_only = true;
    } else if ((has_v6 && v6) || (has_v4 && !v4)) {
        addr->ipv6_only = true;
    }
    return true;
}

/*
 * A port is a decimal number up to 65535 or a service name for
 * getaddrinfo() (letters, digits, '-' and '_', as /etc/services uses).
 */
static bool port_is_valid(const char *port)
{
    const char *p;
    bool all_digits = true;

    if (!*port || strlen(port) > 32) {
        return false;
    }
    for (p = port; *p; p++) {
        if (!g_ascii_isdigit(*p)) {
            all_digits = false;
            if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_') {
                return false;
            }
        }
    }
    if (all_digits) {
        return strtoul(port, NULL, 10) <= 65535;
    }
    return true;
}

/* Parses the ",ipv4[=on|off],ipv6[=on|off]" suffix of an INET address. */
static bool inet_parse_options(QxSocketAddress *addr, const char *opts,
                               const char *whole, Error **errp)
{
    g_auto(GStrv) items = g_strsplit(opts, ",", -1);
    bool has_v4 = false, v4 = false, has_v6 = false, v6 = false;
    char **item;

    for (item = items; *item; item++) {
        char *eq = strchr(*item, '=');
        bool value = true;
        bool *has, *val;

        if (eq) {
            *eq = '\0';
        }
        if (!strcmp(*item, "ipv4")) {
            has = &has_v4;
            val = &v4;
        } else if (!strcmp(*item, "ipv6")) {
            has = &has_v6;
            val = &v6;
        } else {
            error_setg(errp, "unsupported option '%s' in address '%s'", *item,
                       whole);
            return false;
        }
        if (eq && !qx_parse_bool(eq + 1, &value)) {
            error_setg(errp,
                       "option '%s' in address '%s' expects 'on' or "
                       "'off'",
                       *item, whole);
            return false;
        }
        *has = true;
        *val = value;
    }
    return address_set_family(addr, has_v4, v4, has_v6, v6, errp);
}

/* "HOST:PORT[,opts]" or "[V6ADDR]:PORT[,opts]"; HOST may be empty. */
static QxSocketAddress *inet_parse(const char *str, Error **errp)
{
    g_autoptr(QxSocketAddress) addr = address_new(QX_SOCKET_ADDRESS_INET);
    const char *rest;
    const char *comma;

    if (str[0] == '[') {
        const char *close = strchr(str, ']');

        if (!close || close == str + 1 || close[1] != ':') {
            error_setg(errp, "error parsing IPv6 address '%s'", str);
            return NULL;
        }
        addr->host = g_strndup(str + 1, close - str - 1);
        rest = close + 2;
    } else {
        const char *colon = strchr(str, ':');

        if (!colon) {
            error_setg(errp, "error parsing address '%s'", str);
            return NULL;
        }
        addr->host = g_strndup(str, colon - str);
        rest = colon + 1;
    }

    comma = strchr(rest, ',');
    addr->port = comma ? g_strndup(rest, comma - rest) : g_strdup(rest);
    if (!*addr->port) {
        /* QEMU words the two cases differently; keep its texts. */
        error_setg(errp,
                   *addr->host ? "error parsing address '%s'"
                               : "error parsing port in address '%s'",
                   str);
        return NULL;
    }
    if (!port_is_valid(addr->port)) {
        error_setg(errp, "invalid port '%s' in address '%s'", addr->port, str);
        return NULL;
    }
    if (comma && !inet_parse_options(addr, comma + 1, str, errp)) {
        return NULL;
    }
    return g_steal_pointer(&addr);
}

static QxSocketAddress *unix_parse(const char *path, const char *whole,
                                   Error **errp)
{
    QxSocketAddress *addr;

    if (!*path) {
        error_setg(errp, "missing Unix socket path in address '%s'", whole);
        return NULL;
    }
    if (path[0] == '@') {
        error_setg(errp,
                   "abstract Unix socket addresses are not supported: "
                   "'%s'",
                   whole);
        error_append_hint(errp,
                          "For a file whose name starts with '@', "
                          "write it as './%s'\n",
                          path);
        return NULL;
    }
    addr = address_new(QX_SOCKET_ADDRESS_UNIX);
    addr->path = g_strdup(path);
    return addr;
}

static QxSocketAddress *fd_parse(const char *name, const char *whole,
                                 Error **errp)
{
    QxSocketAddress *addr;

    if (!*name) {
        error_setg(errp,
                   "missing file descriptor number or name in "
                   "address '%s'",
                   whole);
        return NULL;
    }
    addr = address_new(QX_SOCKET_ADDRESS_FD);
    addr->fd = g_strdup(name);
    return addr;
}

/* An unbracketed IPv6 address starts with hex digits (maybe none). */
static bool looks_like_ipv6(const char *str, const char *colon)
{
    const char *p;

    for (p = str; p < colon; p++) {
        if (!g_ascii_isxdigit(*p)) {
            return false;
        }
    }
    return true;
}

QxSocketAddress *qx_socket_address_parse(const char *str, Error **errp)
{
    const char *colon;

    if (g_str_has_prefix(str, "unix:")) {
        return unix_parse(str + strlen("unix:"), str, errp);
    }
    if (g_str_has_prefix(str, "fd:")) {
        return fd_parse(str + strlen("fd:"), str, errp);
    }
    if (g_str_has_prefix(str, "tcp:")) {
        return inet_parse(str + strlen("tcp:"), errp);
    }
    if (g_str_has_prefix(str, "inet:")) {
        return inet_parse(str + strlen("inet:"), errp);
    }
    if (g_str_has_prefix(str, "vsock:")) {
        error_setg(errp, "vsock socket addresses are not supported: '%s'", str);
        return NULL;
    }
    /*
     * A bare HOST:PORT has exactly one colon (IPv6 needs brackets), so
     * "word:x:y" is an address type we do not know.
     */
    colon = strchr(str, ':');
    if (str[0] != '[' && colon && strchr(colon + 1, ':')) {
        if (looks_like_ipv6(str, colon)) {
            error_setg(errp, "error parsing address '%s'", str);
            error_append_hint(errp, "Write IPv6 addresses in brackets, as "
                                    "in [::1]:10809\n");
            return NULL;
        }
        error_setg(errp, "unknown socket address type '%.*s' in '%s'",
                   (int)(colon - str), str, str);
        error_append_hint(errp, "Valid forms are unix:PATH, tcp:HOST:PORT, "
                                "inet:HOST:PORT, HOST:PORT, [IPV6]:PORT and "
                                "fd:N\n");
        return NULL;
    }
    return inet_parse(str, errp);
}

/* ---- dictionary form ---- */

static char *key_name(const char *path, const char *key)
{
    return path ? g_strdup_printf("%s.%s", path, key) : g_strdup(key);
}

static void error_wrong_type(Error **errp, const char *path, const char *key,
                             const char *expected)
{
    g_autofree char *name = key_name(path, key);

    error_setg(errp, "Invalid parameter type for '%s', expected: %s", name,
               expected);
}

/* Optional string member; false with errp set if of another type. */
static bool dict_get_str(json_object *dict, const char *path, const char *key,
                         bool required, const char **out, Error **errp)
{
    json_object *val;

    *out = NULL;
    if (!json_object_object_get_ex(dict, key, &val) || !val) {
        if (required) {
            g_autofree char *name = key_name(path, key);

            error_setg(errp, "Parameter '%s' is missing", name);
            return false;
        }
        return true;
    }
    if (!json_object_is_type(val, json_type_string)) {
        error_wrong_type(errp, path, key, "string");
        return false;
    }
    *out = json_object_get_string(val);
    return true;
}

/* Boolean member: a JSON boolean or a keyval string such as "on". */
static bool dict_get_bool(json_object *dict, const char *path, const char *key,
                          bool *has, bool *out, Error **errp)
{
    json_object *val;

    *has = false;
    if (!json_object_object_get_ex(dict, key, &val) || !val) {
        return true;
    }
    if (json_object_is_type(val, json_type_boolean)) {
        *out = json_object_get_boolean(val);
    } else if (json_object_is_type(val, json_type_string)) {
        if (!qx_parse_bool(json_object_get_string(val), out)) {
            g_autofree char *name = key_name(path, key);

            error_setg(errp, "Parameter '%s' expects 'on' or 'off'", name);
            return false;
        }
    } else {
        error_wrong_type(errp, path, key, "boolean");
        return false;
    }
    *has = true;
    return true;
}

/* The port: a string (number or service) or a JSON integer. */
static bool dict_get_port(json_object *dict, const char *path, char **out,
                          Error **errp)
{
    g_autofree char *name = key_name(path, "port");
    json_object *val;

    if (!json_object_object_get_ex(dict, "port", &val) || !val) {
        error_setg(errp, "Parameter '%s' is missing", name);
        return false;
    }
    if (json_object_is_type(val, json_type_int)) {
        int64_t n = json_object_get_int64(val);

        if (n < 0 || n > 65535) {
            error_setg(errp,
                       "Parameter '%s' expects a port number between "
                       "0 and 65535",
                       name);
            return false;
        }
        *out = g_strdup_printf("%" PRId64, n);
        return true;
    }
    if (!json_object_is_type(val, json_type_string)) {
        error_wrong_type(errp, path, "port", "string");
        return false;
    }
    if (!port_is_valid(json_object_get_string(val))) {
        error_setg(errp,
                   "Parameter '%s' expects a port number or service "
                   "name",
                   name);
        return false;
    }
    *out = g_strdup(json_object_get_string(val));
    return true;
}

/*
 * Rejects members that are not part of the address type: QEMU's members
 * we do not implement yet get their own message, anything else is
 * unexpected.
 */
static bool dict_check_members(json_object *dict, const char *path,
                               const char *const *known,
                               const char *const *unsupported, Error **errp)
{
    json_object_object_foreach(dict, key, val)
    {
        g_autofree char *name = key_name(path, key);
        bool found = false;
        size_t i;

        (void)val;
        for (i = 0; known[i]; i++) {
            if (!strcmp(key, known[i])) {
                found = true;
                break;
            }
        }
        if (found) {
            continue;
        }
        for (i = 0; unsupported[i]; i++) {
            if (!strcmp(key, unsupported[i])) {
                error_setg(errp, "Parameter '%s' is not supported yet", name);
                return false;
            }
        }
        error_setg(errp, "Parameter '%s' is unexpected", name);
        return false;
    }
    return true;
}

static QxSocketAddress *inet_from_dict(json_object *dict, const char *path,
                                       Error **errp)
{
    static const char *const known[] = {"type", "host", "port",
                                        "ipv4", "ipv6", NULL};
    static const char *const unsupported[] = {"to", "numeric", "keep-alive",
                                              "mptcp", NULL};
    g_autoptr(QxSocketAddress) addr = address_new(QX_SOCKET_ADDRESS_INET);
    bool has_v4, v4 = false, has_v6, v6 = false;
    const char *host;

    if (!dict_check_members(dict, path, known, unsupported, errp) ||
        !dict_get_str(dict, path, "host", true, &host, errp) ||
        !dict_get_port(dict, path, &addr->port, errp) ||
        !dict_get_bool(dict, path, "ipv4", &has_v4, &v4, errp) ||
        !dict_get_bool(dict, path, "ipv6", &has_v6, &v6, errp) ||
        !address_set_family(addr, has_v4, v4, has_v6, v6, errp)) {
        return NULL;
    }
    addr->host = g_strdup(host);
    return g_steal_pointer(&addr);
}

static QxSocketAddress *unix_from_dict(json_object *dict, const char *path,
                                       Error **errp)
{
    static const char *const known[] = {"type", "path", "abstract", "tight",
                                        NULL};
    static const char *const unsupported[] = {NULL};
    bool has_abstract, abstract = false, has_tight, tight;
    const char *sock_path;
    QxSocketAddress *addr;

    if (!dict_check_members(dict, path, known, unsupported, errp) ||
        !dict_get_str(dict, path, "path", true, &sock_path, errp) ||
        !dict_get_bool(dict, path, "abstract", &has_abstract, &abstract,
                       errp) ||
        !dict_get_bool(dict, path, "tight", &has_tight, &tight, errp)) {
        return NULL;
    }
    if (abstract) {
        error_setg(errp, "abstract Unix socket addresses are not supported");
        return NULL;
    }
    /* "tight" only matters for abstract sockets, so it is accepted as is. */
    addr = address_new(QX_SOCKET_ADDRESS_UNIX);
    addr->path = g_strdup(sock_path);
    return addr;
}

static QxSocketAddress *fd_from_dict(json_object *dict, const char *path,
                                     Error **errp)
{
    static const char *const known[] = {"type", "str", NULL};
    static const char *const unsupported[] = {NULL};
    const char *str;
    QxSocketAddress *addr;

    if (!dict_check_members(dict, path, known, unsupported, errp) ||
        !dict_get_str(dict, path, "str", true, &str, errp)) {
        return NULL;
    }
    if (!*str) {
        g_autofree char *name = key_name(path, "str");

        error_setg(errp, "Parameter '%s' must name a file descriptor", name);
        return NULL;
    }
    addr = address_new(QX_SOCKET_ADDRESS_FD);
    addr->fd = g_strdup(str);
    return addr;
}

QxSocketAddress *qx_socket_address_from_dict_at(json_object *dict,
                                                const char *path, Error **errp)
{
    const char *type;

    if (!dict || !json_object_is_type(dict, json_type_object)) {
        if (path) {
            error_setg(errp,
                       "Invalid parameter type for '%s', expected: "
                       "object",
                       path);
        } else {
            error_setg(errp, "socket address must be a dictionary");
        }
        return NULL;
    }
    if (!dict_get_str(dict, path, "type", true, &type, errp)) {
        return NULL;
    }
    if (!strcmp(type, "inet")) {
        return inet_from_dict(dict, path, errp);
    }
    if (!strcmp(type, "unix")) {
        return unix_from_dict(dict, path, errp);
    }
    if (!strcmp(type, "fd")) {
        return fd_from_dict(dict, path, errp);
    }
    if (!strcmp(type, "vsock")) {
        error_setg(errp, "vsock socket addresses are not supported");
        return NULL;
    }
    /* QEMU names the bare key here, without the path. */
    error_setg(errp, "Parameter 'type' does not accept value '%s'", type);
    return NULL;
}

QxSocketAddress *qx_socket_address_from_dict(json_object *dict, Error **errp)
{
    return qx_socket_address_from_dict_at(dict, NULL, errp);
}

/* ---- the object ---- */

QxSocketAddress *qx_socket_address_copy(const QxSocketAddress *addr)
{
    QxSocketAddress *copy = address_new(addr->type);

    copy->host = g_strdup(addr->host);
    copy->port = g_strdup(addr->port);
    copy->ipv4_only = addr->ipv4_only;
    copy->ipv6_only = addr->ipv6_only;
    copy->path = g_strdup(addr->path);
    copy->fd = g_strdup(addr->fd);
    return copy;
}

char *qx_socket_address_to_string(const QxSocketAddress *addr)
{
    switch (addr->type) {
    case QX_SOCKET_ADDRESS_INET:
        if (strchr(addr->host, ':')) {
            return g_strdup_printf("[%s]:%s", addr->host, addr->port);
        }
        return g_strdup_printf("%s:%s", addr->host, addr->port);
    case QX_SOCKET_ADDRESS_UNIX:
        return g_strdup_printf("unix:%s", addr->path);
    case QX_SOCKET_ADDRESS_FD:
        return g_strdup_printf("fd:%s", addr->fd);
    }
    g_assert_not_reached();
}

void qx_socket_address_free(QxSocketAddress *addr)
{
    if (!addr) {
        return;
    }
    g_free(addr->host);
    g_free(addr->port);
    g_free(addr->path);
    g_free(addr->fd);
    g_free(addr);
}

/* ---- connect / listen ---- */

/*
 * connect() that survives signals: after EINTR the kernel goes on
 * connecting, so wait for the outcome instead of starting over (a second
 * connect() would fail with EALREADY).  Returns 0 or -errno.
 */
static int connect_retry(int fd, const struct sockaddr *sa, socklen_t len)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    socklen_t optlen = sizeof(int);
    int soerr = 0;

    if (connect(fd, sa, len) == 0) {
        return 0;
    }
    if (errno != EINTR) {
        return -errno;
    }
    while (poll(&pfd, 1, -1) < 0) {
        if (errno != EINTR) {
            return -errno;
        }
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &optlen) < 0) {
        return -errno;
    }
    return -soerr;
}

static int inet_family(const QxSocketAddress *addr)
{
    if (addr->ipv4_only) {
        return AF_INET;
    }
    if (addr->ipv6_only) {
        return AF_INET6;
    }
    return AF_UNSPEC;
}

static struct addrinfo *inet_resolve(const QxSocketAddress *addr, bool passive,
                                     Error **errp)
{
    struct addrinfo hints = {
        .ai_family = inet_family(addr),
        .ai_socktype = SOCK_STREAM,
    };
    struct addrinfo *res = NULL;
    const char *host = *addr->host ? addr->host : NULL;
    int rc;

    /*
     * No AI_ADDRCONFIG: it hides 127.0.0.1 and ::1 on hosts whose only
     * interface is loopback, which is where tests and sandboxes run.
     */
    if (passive) {
        hints.ai_flags |= AI_PASSIVE;
    }
    if (addr->ipv6_only && !passive) {
        hints.ai_flags |= AI_V4MAPPED;
    }
    rc = getaddrinfo(host, addr->port, &hints, &res);
    if (rc != 0) {
        error_setg(errp, "address resolution failed for %s:%s: %s", addr->host,
                   addr->port,
                   rc == EAI_SYSTEM ? g_strerror(errno) : gai_strerror(rc));
        return NULL;
    }
    return res;
}

static int inet_connect(const QxSocketAddress *addr, Error **errp)
{
    struct addrinfo *res = inet_resolve(addr, false, errp);
    struct addrinfo *e;
    int err = EADDRNOTAVAIL;

    if (!res) {
        return -1;
    }
    for (e = res; e; e = e->ai_next) {
        int fd =
            socket(e->ai_family, e->ai_socktype | SOCK_CLOEXEC, e->ai_protocol);
        int rc;

        if (fd < 0) {
            err = errno;
            continue;
        }
        rc = connect_retry(fd, e->ai_addr, e->ai_addrlen);
        if (rc == 0) {
            freeaddrinfo(res);
            return fd;
        }
        err = -rc;
        close(fd);
    }
    freeaddrinfo(res);
    error_setg_errno(errp, err, "Failed to connect to '%s:%s'", addr->host,
                     addr->port);
    return -1;
}

static int inet_listen(const QxSocketAddress *addr, int backlog, Error **errp)
{
    struct addrinfo *res = inet_resolve(addr, true, errp);
    struct addrinfo *e;
    const char *what = "Failed to create socket";
    int err = EADDRNOTAVAIL;

    if (!res) {
        return -1;
    }
    for (e = res; e; e = e->ai_next) {
        int fd =
            socket(e->ai_family, e->ai_socktype | SOCK_CLOEXEC, e->ai_protocol);
        int on = 1;

        if (fd < 0) {
            err = errno;
            what = "Failed to create socket";
            continue;
        }
        /* A restarted server must not wait out TIME_WAIT connections. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        if (e->ai_family == AF_INET6) {
            /* Dual-stack unless the user asked for IPv6 alone. */
            int v6only = addr->ipv6_only;

            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
        }
        if (bind(fd, e->ai_addr, e->ai_addrlen) < 0) {
            err = errno;
            what = err == EADDRINUSE ? "Failed to find an available port"
                                     : "Failed to bind socket";
            close(fd);
            continue;
        }
        if (listen(fd, backlog) < 0) {
            err = errno;
            what = "Failed to listen on socket";
            close(fd);
            continue;
        }
        freeaddrinfo(res);
        return fd;
    }
    freeaddrinfo(res);
    error_setg_errno(errp, err, "%s", what);
    return -1;
}

static bool unix_sockaddr(const char *path, struct sockaddr_un *sun,
                          Error **errp)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun->sun_path)) {
        error_setg(errp, "UNIX socket path '%s' is too long", path);
        error_append_hint(errp, "Path must be less than %zu bytes\n",
                          sizeof(sun->sun_path));
        return false;
    }
    memcpy(sun->sun_path, path, strlen(path));
    return true;
}

static int unix_connect(const QxSocketAddress *addr, Error **errp)
{
    struct sockaddr_un sun;
    int fd, rc;

    if (!unix_sockaddr(addr->path, &sun, errp)) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Failed to create Unix socket");
        return -1;
    }
    rc = connect_retry(fd, (struct sockaddr *)&sun, sizeof(sun));
    if (rc < 0) {
        error_setg_errno(errp, -rc, "Failed to connect to '%s'", addr->path);
        close(fd);
        return -1;
    }
    return fd;
}

static int unix_listen(const QxSocketAddress *addr, int backlog, Error **errp)
{
    struct sockaddr_un sun;
    struct stat st;
    int fd;

    if (!unix_sockaddr(addr->path, &sun, errp)) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Failed to create Unix socket");
        return -1;
    }
    /*
     * A socket file left by a server that died would make bind() fail.
     * Only socket files go: a regular file under that name is the user's
     * data, and bind() reports it as in use instead.
     */
    if (lstat(addr->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
        unlink(addr->path) < 0 && errno != ENOENT) {
        error_setg_errno(errp, errno, "Failed to unlink socket %s", addr->path);
        close(fd);
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        error_setg_errno(errp, errno, "Failed to bind socket to %s",
                         addr->path);
        close(fd);
        return -1;
    }
    if (listen(fd, backlog) < 0) {
        error_setg_errno(errp, errno, "Failed to listen on socket");
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * "fd:N": an inherited socket.  Names (anything not starting with a digit)
 * would be looked up in the monitor's fd store, which does not exist yet.
 */
static int fd_get(const QxSocketAddress *addr, Error **errp)
{
    const char *str = addr->fd;
    struct stat st;
    int64_t n;
    int flags;

    if (!g_ascii_isdigit(str[0])) {
        error_setg(errp,
                   "file descriptor name '%s' cannot be used: named "
                   "file descriptors need the monitor, which is not "
                   "available yet",
                   str);
        return -1;
    }
    if (qx_strtoi64(str, 10, &n) < 0 || n < 0 || n > INT_MAX) {
        error_setg(errp, "Unable to parse FD number %s", str);
        return -1;
    }
    if (fstat((int)n, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        error_setg(errp, "File descriptor '%s' is not a socket", str);
        return -1;
    }
    flags = fcntl((int)n, F_GETFD);
    if (flags < 0 || fcntl((int)n, F_SETFD, flags | FD_CLOEXEC) < 0) {
        error_setg_errno(errp, errno,
                         "Failed to set close-on-exec on file "
                         "descriptor '%s'",
                         str);
        return -1;
    }
    return (int)n;
}

int qx_socket_connect(const QxSocketAddress *addr, Error **errp)
{
    switch (addr->type) {
    case QX_SOCKET_ADDRESS_INET:
        return inet_connect(addr, errp);
    case QX_SOCKET_ADDRESS_UNIX:
        return unix_connect(addr, errp);
    case QX_SOCKET_ADDRESS_FD:
        return fd_get(addr, errp);
    }
    g_assert_not_reached();
}

int qx_socket_listen(const QxSocketAddress *addr, int backlog, Error **errp)
{
    int fd;

    if (backlog <= 0) {
        backlog = SOMAXCONN;
    }
    switch (addr->type) {
    case QX_SOCKET_ADDRESS_INET:
        return inet_listen(addr, backlog, errp);
    case QX_SOCKET_ADDRESS_UNIX:
        return unix_listen(addr, backlog, errp);
    case QX_SOCKET_ADDRESS_FD:
        fd = fd_get(addr, errp);
        if (fd >= 0 && listen(fd, backlog) < 0) {
            error_setg_errno(errp, errno, "Failed to listen on socket");
            return -1;
        }
        return fd;
    }
    g_assert_not_reached();
}

int qx_socket_accept(int listen_fd)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

        if (fd >= 0) {
            return fd;
        }
        if (errno != EINTR) {
            return -errno;
        }
    }
}

int qx_socket_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        return -1;
    }
    switch (ss.ss_family) {
    case AF_INET:
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    case AF_INET6:
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    default:
        return -1;
    }
}

bool qx_socket_set_nonblock(int fd, bool nonblock)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0) {
        return false;
    }
    flags = nonblock ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
    return fcntl(fd, F_SETFL, flags) == 0;
}
