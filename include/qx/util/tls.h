/*
 * TLS over a socket fd with gnutls, driven by the event loop.
 *
 * Credentials are read from a directory laid out like QEMU's
 * tls-creds-x509 object (ca-cert.pem, server-cert.pem, server-key.pem for
 * a server; client-cert.pem, client-key.pem for a client; optional
 * ca-crl.pem) or tls-creds-psk object (keys.psk with "username:hexkey"
 * lines).  A session wraps a non-blocking fd the caller owns; its read,
 * write and handshake functions never block: they return -EAGAIN and the
 * caller waits for the fd to become readable or writable (as
 * qx_tls_session_want_write() says) and calls again.
 */
#ifndef QX_UTIL_TLS_H
#define QX_UTIL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "qx/util/error.h"

typedef struct QxTlsCreds QxTlsCreds;
typedef struct QxTlsSession QxTlsSession;

typedef enum {
    QX_TLS_CREDS_X509,
    QX_TLS_CREDS_PSK,
} QxTlsCredsType;

/*
 * x509 credentials from dir.  server selects the files of the server
 * endpoint.  verify_peer: a server requires and checks a client
 * certificate, a client checks the server's certificate (and hostname).
 * Fails naming the missing or unreadable file.
 */
QxTlsCreds *qx_tls_creds_new_x509(const char *id, const char *dir,
                                  bool server, bool verify_peer,
                                  Error **errp);
/*
 * PSK credentials from dir/keys.psk.  A client uses the key of username
 * ("qemu" if NULL), a server accepts any user listed in the file.
 */
QxTlsCreds *qx_tls_creds_new_psk(const char *id, const char *dir,
                                 bool server, const char *username,
                                 Error **errp);
void qx_tls_creds_free(QxTlsCreds *creds);
const char *qx_tls_creds_get_id(const QxTlsCreds *creds);
bool qx_tls_creds_is_server(const QxTlsCreds *creds);
QxTlsCredsType qx_tls_creds_get_type(const QxTlsCreds *creds);
/* What the credentials were made from (for clients such as libnbd). */
const char *qx_tls_creds_get_dir(const QxTlsCreds *creds);
const char *qx_tls_creds_get_username(const QxTlsCreds *creds); /* or NULL */
bool qx_tls_creds_get_verify_peer(const QxTlsCreds *creds);

/*
 * A session over fd (which must be non-blocking; the caller keeps owning
 * it).  hostname (clients only, may be NULL) is checked against the
 * server's certificate when verifying.
 */
QxTlsSession *qx_tls_session_new(QxTlsCreds *creds, int fd,
                                 const char *hostname, Error **errp);
void qx_tls_session_free(QxTlsSession *sess);
/*
 * Advances the handshake: 1 when complete (the peer verified as the
 * credentials require), -EAGAIN when it must wait for I/O, -EPROTO with
 * errp set on failure.
 */
int qx_tls_session_handshake(QxTlsSession *sess, Error **errp);
/* After -EAGAIN: true if the session waits to write, else to read. */
bool qx_tls_session_want_write(const QxTlsSession *sess);
/*
 * Reads up to len bytes: count > 0, 0 at the end of the stream, -EAGAIN,
 * or -EIO (errp optional).
 */
ssize_t qx_tls_session_read(QxTlsSession *sess, void *buf, size_t len,
                            Error **errp);
/* Writes up to len bytes: count > 0, -EAGAIN, or -EIO. */
ssize_t qx_tls_session_write(QxTlsSession *sess, const void *buf,
                             size_t len, Error **errp);
/* Bytes already decrypted and buffered (read them before waiting). */
size_t qx_tls_session_pending(const QxTlsSession *sess);
/* Sends close_notify if possible; never blocks. */
void qx_tls_session_bye(QxTlsSession *sess);

#endif
