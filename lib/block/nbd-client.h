/* NBD client driver internals (lib/block/nbd-client*.c). */
#ifndef QX_BLOCK_NBD_CLIENT_H
#define QX_BLOCK_NBD_CLIENT_H

#include <json-c/json.h>

#include "qx/util/error.h"

/*
 * Adds the options an NBD filename stands for (server.type, server.host,
 * server.port or server.path, export) to the flat dict opts.  Fails with
 * QEMU's "No valid URL specified" for anything else.
 */
bool nbd_client_parse_filename(const char *filename, json_object *opts,
                               Error **errp);

/*
 * The name QEMU shows for an NBD node: "nbd://HOST:PORT[/EXPORT]" or
 * "nbd+unix://[/EXPORT]?socket=PATH".  export may be NULL (not given).
 */
char *nbd_client_display_name(const char *type, const char *host,
                              const char *port, const char *path,
                              const char *export);

#endif
