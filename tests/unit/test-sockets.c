/*
 * Socket addresses: text and dictionary parsing with their error texts,
 * and real listen/connect/accept on Unix and loopback TCP sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qx/util/sockets.h"

/* ---- text form ---- */

typedef struct {
    const char *input;
    QxSocketAddressType type;
    const char *host, *port, *path, *fd;
    bool ipv4_only, ipv6_only;
    const char *to_string;
} GoodCase;

static const GoodCase good_cases[] = {
    {"unix:/tmp/s", QX_SOCKET_ADDRESS_UNIX, .path = "/tmp/s",
     .to_string = "unix:/tmp/s"},
    {"unix:rel/a,b:c", QX_SOCKET_ADDRESS_UNIX, .path = "rel/a,b:c",
     .to_string = "unix:rel/a,b:c"},
    {"tcp:localhost:10809", QX_SOCKET_ADDRESS_INET, "localhost", "10809",
     .to_string = "localhost:10809"},
    {"inet:127.0.0.1:0", QX_SOCKET_ADDRESS_INET, "127.0.0.1", "0",
     .to_string = "127.0.0.1:0"},
    {"example.org:nbd", QX_SOCKET_ADDRESS_INET, "example.org", "nbd",
     .to_string = "example.org:nbd"},
    {"127.0.0.1:65535", QX_SOCKET_ADDRESS_INET, "127.0.0.1", "65535",
     .to_string = "127.0.0.1:65535"},
    {":4444", QX_SOCKET_ADDRESS_INET, "", "4444", .to_string = ":4444"},
    {"tcp::4444", QX_SOCKET_ADDRESS_INET, "", "4444", .to_string = ":4444"},
    {"[::1]:10809", QX_SOCKET_ADDRESS_INET, "::1", "10809",
     .to_string = "[::1]:10809"},
    {"tcp:[fe80::1]:80", QX_SOCKET_ADDRESS_INET, "fe80::1", "80",
     .to_string = "[fe80::1]:80"},
    {"host:1,ipv4", QX_SOCKET_ADDRESS_INET, "host", "1", .ipv4_only = true,
     .to_string = "host:1"},
    {"host:1,ipv6=on", QX_SOCKET_ADDRESS_INET, "host", "1", .ipv6_only = true,
     .to_string = "host:1"},
    {"host:1,ipv4=off", QX_SOCKET_ADDRESS_INET, "host", "1", .ipv6_only = true,
     .to_string = "host:1"},
    {"host:1,ipv4=on,ipv6=on", QX_SOCKET_ADDRESS_INET, "host", "1",
     .to_string = "host:1"},
    {"fd:3", QX_SOCKET_ADDRESS_FD, .fd = "3", .to_string = "fd:3"},
    {"fd:mysock", QX_SOCKET_ADDRESS_FD, .fd = "mysock",
     .to_string = "fd:mysock"},
};

static void check_good(const GoodCase *c, const QxSocketAddress *addr)
{
    g_autofree char *str = NULL;

    g_assert_nonnull(addr);
    g_assert_cmpint(addr->type, ==, c->type);
    g_assert_cmpstr(addr->host, ==, c->host);
    g_assert_cmpstr(addr->port, ==, c->port);
    g_assert_cmpstr(addr->path, ==, c->path);
    g_assert_cmpstr(addr->fd, ==, c->fd);
    g_assert_cmpint(addr->ipv4_only, ==, c->ipv4_only);
    g_assert_cmpint(addr->ipv6_only, ==, c->ipv6_only);
    str = qx_socket_address_to_string(addr);
    g_assert_cmpstr(str, ==, c->to_string);
}

static void test_parse_good(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(good_cases); i++) {
        const GoodCase *c = &good_cases[i];
        Error *err = NULL;
        g_autoptr(QxSocketAddress) addr = NULL;
        g_autoptr(QxSocketAddress) copy = NULL;
        g_autoptr(QxSocketAddress) again = NULL;

        g_test_message("parsing '%s'", c->input);
        addr = qx_socket_address_parse(c->input, &err);
        g_assert_null(err);
        check_good(c, addr);
        copy = qx_socket_address_copy(addr);
        check_good(c, copy);
        /* The human form parses back to the same address. */
        again = qx_socket_address_parse(c->to_string, &error_abort);
        g_assert_cmpint(again->type, ==, c->type);
        g_assert_cmpstr(again->host, ==, c->host);
        g_assert_cmpstr(again->path, ==, c->path);
    }
}

typedef struct {
    const char *input;
    const char *error;
    const char *hint;
} BadCase;

static const BadCase bad_cases[] = {
    {"localhost", "error parsing address 'localhost'"},
    {"tcp:localhost", "error parsing address 'localhost'"},
    {"tcp:localhost:", "error parsing address 'localhost:'"},
    {"tcp::", "error parsing port in address ':'"},
    {"", "error parsing address ''"},
    {"tcp:[::1", "error parsing IPv6 address '[::1'"},
    {"[::1]x:5", "error parsing IPv6 address '[::1]x:5'"},
    {"[]:5", "error parsing IPv6 address '[]:5'"},
    {"[::1]", "error parsing IPv6 address '[::1]'"},
    {"host:65536", "invalid port '65536' in address 'host:65536'"},
    {"host:a b", "invalid port 'a b' in address 'host:a b'"},
    {"tcp:a:b:c", "invalid port 'b:c' in address 'a:b:c'"},
    {"host:1,to=5", "unsupported option 'to' in address 'host:1,to=5'"},
    {"host:1,ipv4=maybe",
     "option 'ipv4' in address 'host:1,ipv4=maybe' expects 'on' or 'off'"},
    {"host:1,ipv4=off,ipv6=off", "Cannot disable IPv4 and IPv6 at same time"},
    {"unix:", "missing Unix socket path in address 'unix:'"},
    {"unix:@abstract",
     "abstract Unix socket addresses are not supported: 'unix:@abstract'",
     "For a file whose name starts with '@', write it as './@abstract'\n"},
    {"fd:", "missing file descriptor number or name in address 'fd:'"},
    {"vsock:3:1024",
     "vsock socket addresses are not supported: 'vsock:3:1024'"},
    {"vsock:3", "vsock socket addresses are not supported: 'vsock:3'"},
    {"udp:1.2.3.4:5",
     "unknown socket address type 'udp' in "
     "'udp:1.2.3.4:5'",
     "Valid forms are unix:PATH, tcp:HOST:PORT, "
     "inet:HOST:PORT, HOST:PORT, [IPV6]:PORT and fd:N\n"},
    {"::1:5", "error parsing address '::1:5'",
     "Write IPv6 addresses in brackets, as in [::1]:10809\n"},
    {"fe80::1:5", "error parsing address 'fe80::1:5'", NULL},
};

static void test_parse_bad(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        const BadCase *c = &bad_cases[i];
        g_autoptr(Error) err = NULL;
        QxSocketAddress *addr;

        g_test_message("parsing '%s'", c->input);
        addr = qx_socket_address_parse(c->input, &err);
        g_assert_null(addr);
        g_assert_nonnull(err);
        g_assert_cmpstr(error_get_pretty(err), ==, c->error);
        if (c->hint) {
            g_assert_cmpstr(error_get_hint(err), ==, c->hint);
        }
    }
}

/* ---- dictionary form ---- */

typedef struct {
    const char *json;
    const char *path;
    const char *error; /* NULL: must succeed */
    const char *to_string;
} DictCase;

static const DictCase dict_cases[] = {
    {"{\"type\":\"inet\",\"host\":\"127.0.0.1\",\"port\":\"10809\"}", NULL,
     NULL, "127.0.0.1:10809"},
    {"{\"type\":\"inet\",\"host\":\"::1\",\"port\":10809}", NULL, NULL,
     "[::1]:10809"},
    {"{\"type\":\"inet\",\"host\":\"h\",\"port\":\"1\",\"ipv4\":\"on\"}", NULL,
     NULL, "h:1"},
    {"{\"type\":\"unix\",\"path\":\"/run/s\"}", NULL, NULL, "unix:/run/s"},
    {"{\"type\":\"unix\",\"path\":\"/run/s\",\"abstract\":false,"
     "\"tight\":true}",
     NULL, NULL, "unix:/run/s"},
    {"{\"type\":\"fd\",\"str\":\"7\"}", NULL, NULL, "fd:7"},
    {"{\"type\":\"foo\"}", "addr",
     "Parameter 'type' does not accept value 'foo'"},
    {"{\"host\":\"x\"}", "addr", "Parameter 'addr.type' is missing"},
    {"{\"host\":\"x\"}", NULL, "Parameter 'type' is missing"},
    {"{\"type\":5}", "addr",
     "Invalid parameter type for 'addr.type', expected: string"},
    {"{\"type\":\"inet\",\"host\":\"h\"}", "addr",
     "Parameter 'addr.port' is missing"},
    {"{\"type\":\"inet\",\"port\":\"5\"}", "addr",
     "Parameter 'addr.host' is missing"},
    {"{\"type\":\"inet\",\"host\":\"h\",\"port\":true}", "server",
     "Invalid parameter type for 'server.port', expected: string"},
    {"{\"type\":\"inet\",\"host\":\"h\",\"port\":70000}", "addr",
     "Parameter 'addr.port' expects a port number between 0 and 65535"},
    {"{\"type\":\"inet\",\"host\":\"h\",\"port\":\"x y\"}", "addr",
     "Parameter 'addr.port' expects a port number or service name"},
    {"{\"type\":\"inet\",\"host\":\"h\",\"port\":\"1\",\"ipv4\":\"maybe\"}",
     "addr", "Parameter 'addr.ipv4' expects 'on' or 'off'"},
    {"{\"type\":\"inet\",\"host\":\"h\",\"port\":\"1\",\"ipv6\":3}", "addr",
     "Invalid parameter type for 'addr.ipv6', expected: boolean"},
    {"{\"type\":\"inet\",\"host\":\"h\",\"port\":\"1\",\"ipv4\":false,"
     "\"ipv6\":false}",
     "addr", "Cannot disable IPv4 and IPv6 at same time"},
    {"{\"type\":\"inet\",\"host\":\"h\",\"port\":\"1\",\"foo\":1}", "addr",
     "Parameter 'addr.foo' is unexpected"},
    {"{\"type\":\"inet\",\"host\":\"h\",\"port\":\"1\",\"to\":9}", "addr",
     "Parameter 'addr.to' is not supported yet"},
    {"{\"type\":\"inet\",\"host\":\"h\",\"port\":\"1\",\"path\":\"/x\"}",
     "addr", "Parameter 'addr.path' is unexpected"},
    {"{\"type\":\"unix\"}", "addr", "Parameter 'addr.path' is missing"},
    {"{\"type\":\"unix\",\"path\":5}", "addr",
     "Invalid parameter type for 'addr.path', expected: string"},
    {"{\"type\":\"unix\",\"path\":\"/s\",\"abstract\":true}", "addr",
     "abstract Unix socket addresses are not supported"},
    {"{\"type\":\"fd\"}", "addr", "Parameter 'addr.str' is missing"},
    {"{\"type\":\"fd\",\"str\":\"\"}", "addr",
     "Parameter 'addr.str' must name a file descriptor"},
    {"{\"type\":\"vsock\",\"cid\":\"3\",\"port\":\"1\"}", "addr",
     "vsock socket addresses are not supported"},
    {"\"x\"", "addr", "Invalid parameter type for 'addr', expected: object"},
    {"[1]", NULL, "socket address must be a dictionary"},
};

static void test_dict(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(dict_cases); i++) {
        const DictCase *c = &dict_cases[i];
        json_object *dict = json_tokener_parse(c->json);
        g_autoptr(Error) err = NULL;
        g_autoptr(QxSocketAddress) addr = NULL;

        g_test_message("dict %s", c->json);
        g_assert_nonnull(dict);
        addr = qx_socket_address_from_dict_at(dict, c->path, &err);
        if (c->error) {
            g_assert_null(addr);
            g_assert_nonnull(err);
            g_assert_cmpstr(error_get_pretty(err), ==, c->error);
        } else {
            g_autofree char *str = NULL;

            g_assert_null(err);
            g_assert_nonnull(addr);
            str = qx_socket_address_to_string(addr);
            g_assert_cmpstr(str, ==, c->to_string);
        }
        json_object_put(dict);
    }
}

static void test_dict_fields(void)
{
    json_object *dict = json_tokener_parse(
        "{\"type\":\"inet\",\"host\":\"h\",\"port\":\"1\",\"ipv4\":false}");
    g_autoptr(QxSocketAddress) addr = NULL;

    addr = qx_socket_address_from_dict(dict, &error_abort);
    g_assert_cmpint(addr->type, ==, QX_SOCKET_ADDRESS_INET);
    g_assert_false(addr->ipv4_only);
    g_assert_true(addr->ipv6_only);
    json_object_put(dict);
}

/* ---- real sockets ---- */

static bool fd_is_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);

    g_assert_cmpint(flags, >=, 0);
    return flags & FD_CLOEXEC;
}

/* Sends a message each way and checks it arrives intact. */
static void exchange(int a, int b)
{
    char buf[16];

    g_assert_cmpint(write(a, "ping", 4), ==, 4);
    g_assert_cmpint(read(b, buf, sizeof(buf)), ==, 4);
    g_assert_cmpmem(buf, 4, "ping", 4);
    g_assert_cmpint(write(b, "pong!", 5), ==, 5);
    g_assert_cmpint(read(a, buf, sizeof(buf)), ==, 5);
    g_assert_cmpmem(buf, 5, "pong!", 5);
}

/*
 * listen on listen_str, connect to connect_str (NULL: 127.0.0.1 at the
 * port the listener got), accept, exchange data; returns the listening fd.
 */
static int round_trip(const char *listen_str, const char *connect_str)
{
    g_autoptr(QxSocketAddress) laddr = NULL;
    g_autoptr(QxSocketAddress) caddr = NULL;
    g_autofree char *port_str = NULL;
    int lfd, cfd, sfd;

    laddr = qx_socket_address_parse(listen_str, &error_abort);
    lfd = qx_socket_listen(laddr, 1, &error_abort);
    g_assert_cmpint(lfd, >=, 0);
    g_assert_true(fd_is_cloexec(lfd));
    if (!connect_str) {
        g_assert_cmpint(qx_socket_local_port(lfd), >, 0);
        port_str = g_strdup_printf("127.0.0.1:%d", qx_socket_local_port(lfd));
        connect_str = port_str;
    }
    caddr = qx_socket_address_parse(connect_str, &error_abort);
    cfd = qx_socket_connect(caddr, &error_abort);
    g_assert_cmpint(cfd, >=, 0);
    g_assert_true(fd_is_cloexec(cfd));
    sfd = qx_socket_accept(lfd);
    g_assert_cmpint(sfd, >=, 0);
    g_assert_true(fd_is_cloexec(sfd));
    exchange(cfd, sfd);
    close(cfd);
    close(sfd);
    return lfd;
}

static void test_unix(void)
{
    g_autofree char *dir = g_dir_make_tmp("qx-sock-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "s", NULL);
    g_autofree char *str = g_strdup_printf("unix:%s", path);
    int lfd;

    g_assert_nonnull(dir);
    lfd = round_trip(str, str);
    g_assert_cmpint(qx_socket_local_port(lfd), ==, -1);
    close(lfd);

    /* The socket file is still there: a second listen replaces it. */
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    lfd = round_trip(str, str);
    close(lfd);

    g_assert_cmpint(g_unlink(path), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void test_unix_keeps_regular_file(void)
{
    g_autofree char *dir = g_dir_make_tmp("qx-sock-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "data", NULL);
    g_autofree char *str = g_strdup_printf("unix:%s", path);
    g_autofree char *expected = NULL;
    g_autoptr(QxSocketAddress) addr = NULL;
    g_autoptr(Error) err = NULL;
    g_autofree char *contents = NULL;

    g_assert_true(g_file_set_contents(path, "precious", -1, NULL));
    addr = qx_socket_address_parse(str, &error_abort);
    g_assert_cmpint(qx_socket_listen(addr, 1, &err), ==, -1);
    expected = g_strdup_printf("Failed to bind socket to %s: %s", path,
                               g_strerror(EADDRINUSE));
    g_assert_cmpstr(error_get_pretty(err), ==, expected);
    g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
    g_assert_cmpstr(contents, ==, "precious");
    g_unlink(path);
    g_rmdir(dir);
}

static void test_unix_errors(void)
{
    g_autofree char *dir = g_dir_make_tmp("qx-sock-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "nope", NULL);
    g_autofree char *str = g_strdup_printf("unix:%s", path);
    g_autofree char *expected = NULL;
    g_autofree char *longpath = NULL;
    g_autofree char *longstr = NULL;
    g_autoptr(QxSocketAddress) addr = NULL;
    g_autoptr(QxSocketAddress) longaddr = NULL;
    Error *err = NULL;

    addr = qx_socket_address_parse(str, &error_abort);
    g_assert_cmpint(qx_socket_connect(addr, &err), ==, -1);
    expected = g_strdup_printf("Failed to connect to '%s': No such file or "
                               "directory",
                               path);
    g_assert_cmpstr(error_get_pretty(err), ==, expected);
    g_assert_cmpint(error_get_errno(err), ==, ENOENT);
    error_free_or_null(&err);

    longpath = g_strdup_printf("/tmp/%0120d", 0);
    longstr = g_strdup_printf("unix:%s", longpath);
    longaddr = qx_socket_address_parse(longstr, &error_abort);
    g_free(expected);
    expected = g_strdup_printf("UNIX socket path '%s' is too long", longpath);
    g_assert_cmpint(qx_socket_connect(longaddr, &err), ==, -1);
    g_assert_cmpstr(error_get_pretty(err), ==, expected);
    g_assert_cmpstr(error_get_hint(err), ==,
                    "Path must be less than 108 bytes\n");
    error_free_or_null(&err);
    g_assert_cmpint(qx_socket_listen(longaddr, 1, &err), ==, -1);
    g_assert_cmpstr(error_get_pretty(err), ==, expected);
    error_free_or_null(&err);

    g_rmdir(dir);
}

static void test_tcp(void)
{
    int lfd;

    lfd = round_trip("127.0.0.1:0", NULL);
    close(lfd);
    lfd = round_trip("tcp:127.0.0.1:0,ipv4", NULL);
    close(lfd);
    /* An empty host listens on every address, loopback included. */
    lfd = round_trip("inet::0", NULL);
    close(lfd);
}

static void test_tcp_refused(void)
{
    g_autoptr(QxSocketAddress) laddr =
        qx_socket_address_parse("127.0.0.1:0", &error_abort);
    g_autoptr(QxSocketAddress) caddr = NULL;
    g_autofree char *cstr = NULL;
    g_autofree char *expected = NULL;
    g_autoptr(Error) err = NULL;
    int lfd, port;

    lfd = qx_socket_listen(laddr, 1, &error_abort);
    port = qx_socket_local_port(lfd);
    g_assert_cmpint(port, >, 0);
    close(lfd);
    /* Nobody listens on that port now. */
    cstr = g_strdup_printf("127.0.0.1:%d", port);
    caddr = qx_socket_address_parse(cstr, &error_abort);
    g_assert_cmpint(qx_socket_connect(caddr, &err), ==, -1);
    expected = g_strdup_printf("Failed to connect to '127.0.0.1:%d': "
                               "Connection refused",
                               port);
    g_assert_cmpstr(error_get_pretty(err), ==, expected);
    g_assert_cmpint(error_get_errno(err), ==, ECONNREFUSED);
}

static void test_tcp_in_use(void)
{
    g_autoptr(QxSocketAddress) laddr =
        qx_socket_address_parse("127.0.0.1:0", &error_abort);
    g_autoptr(QxSocketAddress) again = NULL;
    g_autofree char *str = NULL;
    g_autoptr(Error) err = NULL;
    int lfd;

    lfd = qx_socket_listen(laddr, 1, &error_abort);
    str = g_strdup_printf("127.0.0.1:%d", qx_socket_local_port(lfd));
    again = qx_socket_address_parse(str, &error_abort);
    g_assert_cmpint(qx_socket_listen(again, 1, &err), ==, -1);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Failed to find an available port: Address already in "
                    "use");
    close(lfd);
}

static void test_tcp_resolution_error(void)
{
    g_autoptr(QxSocketAddress) addr =
        qx_socket_address_parse("127.0.0.1:no-such-service", &error_abort);
    g_autoptr(Error) err = NULL;

    g_assert_cmpint(qx_socket_connect(addr, &err), ==, -1);
    g_assert_true(g_str_has_prefix(error_get_pretty(err),
                                   "address resolution failed for "
                                   "127.0.0.1:no-such-service: "));
}

static void test_tcp_v6(void)
{
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
                                .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    g_autoptr(QxSocketAddress) laddr = NULL;
    g_autoptr(QxSocketAddress) caddr = NULL;
    g_autofree char *cstr = NULL;
    int lfd, cfd, sfd;

    if (probe < 0 || bind(probe, (struct sockaddr *)&sin6, sizeof(sin6))) {
        if (probe >= 0) {
            close(probe);
        }
        g_test_skip("no IPv6 loopback on this host");
        return;
    }
    close(probe);
    laddr = qx_socket_address_parse("[::1]:0", &error_abort);
    lfd = qx_socket_listen(laddr, 1, &error_abort);
    cstr = g_strdup_printf("[::1]:%d", qx_socket_local_port(lfd));
    caddr = qx_socket_address_parse(cstr, &error_abort);
    cfd = qx_socket_connect(caddr, &error_abort);
    sfd = qx_socket_accept(lfd);
    g_assert_cmpint(sfd, >=, 0);
    exchange(cfd, sfd);
    close(cfd);
    close(sfd);
    close(lfd);
}

static void test_fd(void)
{
    int sv[2];
    g_autofree char *str = NULL;
    g_autoptr(QxSocketAddress) addr = NULL;
    g_autoptr(QxSocketAddress) named = NULL;
    g_autoptr(QxSocketAddress) junk = NULL;
    g_autoptr(QxSocketAddress) notsock = NULL;
    g_autofree char *expected = NULL;
    Error *err = NULL;
    int devnull;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_assert_false(fd_is_cloexec(sv[0]));
    str = g_strdup_printf("fd:%d", sv[0]);
    addr = qx_socket_address_parse(str, &error_abort);
    g_assert_cmpint(qx_socket_connect(addr, &error_abort), ==, sv[0]);
    g_assert_true(fd_is_cloexec(sv[0]));
    exchange(sv[0], sv[1]);

    named = qx_socket_address_parse("fd:migsock", &error_abort);
    g_assert_cmpint(qx_socket_connect(named, &err), ==, -1);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "file descriptor name 'migsock' cannot be used: named "
                    "file descriptors need the monitor, which is not "
                    "available yet");
    error_free_or_null(&err);
    g_assert_cmpint(qx_socket_listen(named, 1, &err), ==, -1);
    g_assert_nonnull(err);
    error_free_or_null(&err);

    junk = qx_socket_address_parse("fd:12abc", &error_abort);
    g_assert_cmpint(qx_socket_connect(junk, &err), ==, -1);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Unable to parse FD number 12abc");
    error_free_or_null(&err);

    devnull = open("/dev/null", O_RDONLY);
    g_assert_cmpint(devnull, >=, 0);
    g_free(str);
    str = g_strdup_printf("fd:%d", devnull);
    notsock = qx_socket_address_parse(str, &error_abort);
    g_assert_cmpint(qx_socket_connect(notsock, &err), ==, -1);
    expected = g_strdup_printf("File descriptor '%d' is not a socket", devnull);
    g_assert_cmpstr(error_get_pretty(err), ==, expected);
    error_free_or_null(&err);

    close(devnull);
    close(sv[0]);
    close(sv[1]);
}

static void test_fd_listen(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    g_autoptr(QxSocketAddress) addr = NULL;
    g_autoptr(QxSocketAddress) caddr = NULL;
    g_autofree char *str = NULL;
    g_autofree char *cstr = NULL;
    int cfd, sfd;

    g_assert_cmpint(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
    str = g_strdup_printf("fd:%d", fd);
    addr = qx_socket_address_parse(str, &error_abort);
    g_assert_cmpint(qx_socket_listen(addr, 1, &error_abort), ==, fd);
    cstr = g_strdup_printf("127.0.0.1:%d", qx_socket_local_port(fd));
    caddr = qx_socket_address_parse(cstr, &error_abort);
    cfd = qx_socket_connect(caddr, &error_abort);
    sfd = qx_socket_accept(fd);
    g_assert_cmpint(sfd, >=, 0);
    exchange(cfd, sfd);
    close(cfd);
    close(sfd);
    close(fd);
}

static void test_misc(void)
{
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_assert_true(qx_socket_set_nonblock(sv[0], true));
    g_assert_true(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
    {
        char c;

        g_assert_cmpint(read(sv[0], &c, 1), ==, -1);
        g_assert_cmpint(errno, ==, EAGAIN);
    }
    g_assert_true(qx_socket_set_nonblock(sv[0], false));
    g_assert_false(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
    /* Not a listening socket. */
    g_assert_cmpint(qx_socket_accept(sv[0]), ==, -EINVAL);
    g_assert_cmpint(qx_socket_accept(-1), ==, -EBADF);
    g_assert_cmpint(qx_socket_local_port(sv[0]), ==, -1);
    g_assert_cmpint(qx_socket_local_port(-1), ==, -1);
    g_assert_false(qx_socket_set_nonblock(-1, true));
    close(sv[0]);
    close(sv[1]);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/sockets/parse/good", test_parse_good);
    g_test_add_func("/sockets/parse/bad", test_parse_bad);
    g_test_add_func("/sockets/dict/table", test_dict);
    g_test_add_func("/sockets/dict/fields", test_dict_fields);
    g_test_add_func("/sockets/unix/round-trip", test_unix);
    g_test_add_func("/sockets/unix/keeps-regular-file",
                    test_unix_keeps_regular_file);
    g_test_add_func("/sockets/unix/errors", test_unix_errors);
    g_test_add_func("/sockets/tcp/round-trip", test_tcp);
    g_test_add_func("/sockets/tcp/refused", test_tcp_refused);
    g_test_add_func("/sockets/tcp/in-use", test_tcp_in_use);
    g_test_add_func("/sockets/tcp/resolution-error", test_tcp_resolution_error);
    g_test_add_func("/sockets/tcp/ipv6", test_tcp_v6);
    g_test_add_func("/sockets/fd/connect", test_fd);
    g_test_add_func("/sockets/fd/listen", test_fd_listen);
    g_test_add_func("/sockets/misc", test_misc);
    return g_test_run();
}
