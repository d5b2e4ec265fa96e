/*
 * User-creatable objects given with --object (QEMU's syntax: keyval with
 * the implied key "qom-type").  Supported types: tls-creds-x509 (id, dir,
 * endpoint=server|client, verify-peer=on|off) and tls-creds-psk (id, dir,
 * endpoint, username).  Other QEMU object types are refused naming the
 * type; unknown types get QEMU's message.
 */
#ifndef QX_UTIL_OBJECT_OPTS_H
#define QX_UTIL_OBJECT_OPTS_H

#include <stdbool.h>

#include "qx/util/error.h"
#include "qx/util/tls.h"

typedef struct QxObjects QxObjects;

QxObjects *qx_objects_new(void);
void qx_objects_free(QxObjects *objs);
/*
 * Parses one --object argument and creates the object (TLS credentials
 * are loaded now, so missing files fail here, as in QEMU).  *help is set
 * for "help" (the caller prints qx_objects_help()).
 */
bool qx_objects_add(QxObjects *objs, const char *text, bool *help,
                    Error **errp);
/* "List of user creatable objects:" and the types, one per line. */
const char *qx_objects_help(void);
/*
 * The TLS credentials with that id: "No TLS credentials with id 'x'" or
 * "Object with id 'x' is not TLS credentials".
 */
QxTlsCreds *qx_objects_get_tls_creds(QxObjects *objs, const char *id,
                                     Error **errp);

#endif
