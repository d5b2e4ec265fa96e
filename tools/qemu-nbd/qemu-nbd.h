/*
 * qemu-nbd: pieces shared by the files of the tool.
 */
#ifndef QEMU_NBD_H
#define QEMU_NBD_H

#include "qx/util/sockets.h"
#include "qx/util/tls.h"

/*
 * -L: lists the exports of the server at addr as QEMU's qemu-nbd does.
 * tls (client credentials) may be NULL.  Returns the exit code.
 */
int qemu_nbd_list(const QxSocketAddress *addr, QxTlsCreds *tls,
                  const char *tls_hostname);

#endif
