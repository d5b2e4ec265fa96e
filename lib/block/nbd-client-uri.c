/*
 * NBD client filenames, as QEMU 7.2 accepts them:
 *   nbd://HOST[:PORT][/EXPORT]          (also nbd+tcp://)
 *   nbd+unix:///[EXPORT]?socket=PATH
 *   nbd:HOST:PORT[:exportname=EXPORT]   (legacy)
 *   nbd:unix:PATH[:exportname=EXPORT]   (legacy)
 * turned into the driver's flat options (server.type, server.host,
 * server.port, server.path, export), and back into the display form.
 */
#include <string.h>

#include "nbd-client.h"
#include "qx/util/sockets.h"

#define NBD_DEFAULT_PORT "10809"

static void put(json_object *opts, const char *key, const char *val)
{
    json_object_object_add(opts, key, json_object_new_string(val));
}

static bool bad_url(Error **errp)
{
    error_setg(errp, "No valid URL specified");
    return false;
}

static bool parse_uri(const char *filename, json_object *opts, Error **errp)
{
    g_autoptr(GUri) uri = g_uri_parse(filename, G_URI_FLAGS_ENCODED_QUERY |
                                      G_URI_FLAGS_NON_DNS, NULL);
    g_autoptr(GHashTable) params = NULL;
    const char *scheme, *path, *query, *host;
    bool is_unix;

    if (!uri) {
        return bad_url(errp);
    }
    scheme = g_uri_get_scheme(uri);
    if (strcmp(scheme, "nbd") == 0 || strcmp(scheme, "nbd+tcp") == 0) {
        is_unix = false;
    } else if (strcmp(scheme, "nbd+unix") == 0) {
        is_unix = true;
    } else {
        return bad_url(errp);
    }
    path = g_uri_get_path(uri);
    if (*path && *path != '/') {
        return bad_url(errp);
    }
    if (path[0] == '/' && path[1]) {
        put(opts, "export", path + 1);
    }
    query = g_uri_get_query(uri);
    host = g_uri_get_host(uri);
    if (is_unix) {
        const char *sock;

        if (!query || (host && *host) || g_uri_get_port(uri) != -1) {
            return bad_url(errp);
        }
        params = g_uri_parse_params(query, -1, "&", G_URI_PARAMS_NONE, NULL);
        if (!params || g_hash_table_size(params) != 1 ||
            !(sock = g_hash_table_lookup(params, "socket")) || !*sock) {
            return bad_url(errp);
        }
        put(opts, "server.type", "unix");
        put(opts, "server.path", sock);
        return true;
    }
    if ((query && *query) || !host || !*host) {
        return bad_url(errp);
    }
    put(opts, "server.type", "inet");
    put(opts, "server.host", host);
    if (g_uri_get_port(uri) != -1) {
        g_autofree char *port = g_strdup_printf("%d", g_uri_get_port(uri));

        put(opts, "server.port", port);
    } else {
        put(opts, "server.port", NBD_DEFAULT_PORT);
    }
    return true;
}

static bool parse_legacy(const char *filename, json_object *opts,
                         Error **errp)
{
    g_autofree char *spec = NULL;
    char *export;

    if (!g_str_has_prefix(filename, "nbd:")) {
        return bad_url(errp);
    }
    spec = g_strdup(filename + 4);
    export = strstr(spec, ":exportname=");
    if (export) {
        *export = '\0';
        put(opts, "export", export + strlen(":exportname="));
    }
    if (g_str_has_prefix(spec, "unix:")) {
        if (!spec[5]) {
            return bad_url(errp);
        }
        put(opts, "server.type", "unix");
        put(opts, "server.path", spec + 5);
        return true;
    } else {
        g_autoptr(QxSocketAddress) addr = NULL;
        g_autofree char *inet = g_strdup_printf("inet:%s", spec);

        addr = qx_socket_address_parse(inet, NULL);
        if (!addr || addr->type != QX_SOCKET_ADDRESS_INET || !*addr->host) {
            return bad_url(errp);
        }
        put(opts, "server.type", "inet");
        put(opts, "server.host", addr->host);
        put(opts, "server.port", addr->port);
        return true;
    }
}

bool nbd_client_parse_filename(const char *filename, json_object *opts,
                               Error **errp)
{
    if (strstr(filename, "://")) {
        return parse_uri(filename, opts, errp);
    }
    return parse_legacy(filename, opts, errp);
}

char *nbd_client_display_name(const char *type, const char *host,
                              const char *port, const char *path,
                              const char *export)
{
    if (strcmp(type, "unix") == 0) {
        return export ? g_strdup_printf("nbd+unix:///%s?socket=%s", export,
                                        path)
                      : g_strdup_printf("nbd+unix://?socket=%s", path);
    }
    if (strchr(host, ':')) {
        return export ? g_strdup_printf("nbd://[%s]:%s/%s", host, port,
                                        export)
                      : g_strdup_printf("nbd://[%s]:%s", host, port);
    }
    return export ? g_strdup_printf("nbd://%s:%s/%s", host, port, export)
                  : g_strdup_printf("nbd://%s:%s", host, port);
}
