/*
 * libFuzzer target for NBD client filenames (URIs and the legacy form):
 * whatever parses must give a server type with its address keys, and a
 * display name must be printable from it.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/block/nbd-client.h"
#include "qx/util/opts.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "invariant failed: %s\n", #cond);              \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = g_strndup((const char *)data, size);
    json_object *opts = json_object_new_object();
    Error *err = NULL;

    if (nbd_client_parse_filename(text, opts, &err)) {
        const char *type = qx_opts_get_str(opts, "server.type");
        char *name;

        CHECK(type);
        if (strcmp(type, "unix") == 0) {
            CHECK(qx_opts_get_str(opts, "server.path"));
        } else {
            CHECK(strcmp(type, "inet") == 0);
            CHECK(qx_opts_get_str(opts, "server.host"));
            CHECK(qx_opts_get_str(opts, "server.port"));
        }
        name = nbd_client_display_name(type,
                                       qx_opts_get_str(opts, "server.host"),
                                       qx_opts_get_str(opts, "server.port"),
                                       qx_opts_get_str(opts, "server.path"),
                                       qx_opts_get_str(opts, "export"));
        g_free(name);
    } else {
        CHECK(err);
        error_free(err);
    }
    json_object_put(opts);
    g_free(text);
    return 0;
}
