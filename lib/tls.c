/*
 * TLS sessions (gnutls) over caller-owned non-blocking sockets, with
 * credentials laid out as QEMU's tls-creds-x509 / tls-creds-psk objects
 * expect them.  See qx/util/tls.h.
 */
#include <errno.h>
#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>
#include <unistd.h>

#include "qx/util/tls.h"

struct QxTlsCreds {
    char *id;
    char *dir;
    char *username;
    QxTlsCredsType type;
    bool server;
    bool verify_peer;
    gnutls_certificate_credentials_t x509;
    gnutls_psk_server_credentials_t psk_server;
    gnutls_psk_client_credentials_t psk_client;
};

struct QxTlsSession {
    QxTlsCreds *creds;
    gnutls_session_t session;
    char *hostname;
    bool handshake_done;
};

/* Priority strings: gnutls defaults, plus the PSK key exchanges. */
#define TLS_PRIORITY_X509 "NORMAL"
#define TLS_PRIORITY_PSK "NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK"

static char *tls_creds_file(const char *dir, const char *name, bool required,
                            Error **errp)
{
    char *path = g_build_filename(dir, name, NULL);

    if (access(path, R_OK) < 0) {
        if (required || errno != ENOENT) {
            error_setg_errno(errp, errno, "Unable to access credentials %s",
                             path);
        }
        g_free(path);
        return NULL;
    }
    return path;
}

static QxTlsCreds *tls_creds_alloc(const char *id, QxTlsCredsType type,
                                   bool server, bool verify_peer)
{
    QxTlsCreds *creds = g_new0(QxTlsCreds, 1);

    creds->id = g_strdup(id ? id : "");
    creds->type = type;
    creds->server = server;
    creds->verify_peer = verify_peer;
    return creds;
}

QxTlsCreds *qx_tls_creds_new_x509(const char *id, const char *dir,
                                  bool server, bool verify_peer,
                                  Error **errp)
{
    g_autofree char *ca = NULL;
    g_autofree char *crl = NULL;
    g_autofree char *cert = NULL;
    g_autofree char *key = NULL;
    Error *local_err = NULL;
    QxTlsCreds *creds;
    int ret;

    if (!dir) {
        error_setg(errp, "Missing 'dir' property value");
        return NULL;
    }
    ca = tls_creds_file(dir, "ca-cert.pem", true, errp);
    if (!ca) {
        return NULL;
    }
    crl = tls_creds_file(dir, "ca-crl.pem", false, &local_err);
    if (local_err) {
        error_propagate(errp, local_err);
        return NULL;
    }
    cert = tls_creds_file(dir, server ? "server-cert.pem" : "client-cert.pem",
                          server, errp);
    if (!cert && server) {
        return NULL;
    }
    key = tls_creds_file(dir, server ? "server-key.pem" : "client-key.pem",
                         server, errp);
    if (!key && server) {
        return NULL;
    }
    if (!cert != !key) {
        error_setg(errp, "Unable to access credentials %s/%s", dir,
                   cert ? "client-key.pem" : "client-cert.pem");
        return NULL;
    }

    creds = tls_creds_alloc(id, QX_TLS_CREDS_X509, server, verify_peer);
    creds->dir = g_strdup(dir);
    ret = gnutls_certificate_allocate_credentials(&creds->x509);
    if (ret < 0) {
        error_setg(errp, "Cannot allocate credentials: %s",
                   gnutls_strerror(ret));
        goto fail;
    }
    if (ca) {
        ret = gnutls_certificate_set_x509_trust_file(creds->x509, ca,
                                                     GNUTLS_X509_FMT_PEM);
        if (ret < 0) {
            error_setg(errp, "Cannot load CA certificate '%s': %s", ca,
                       gnutls_strerror(ret));
            goto fail;
        }
    }
    if (crl) {
        ret = gnutls_certificate_set_x509_crl_file(creds->x509, crl,
                                                   GNUTLS_X509_FMT_PEM);
        if (ret < 0) {
            error_setg(errp, "Cannot load CRL '%s': %s", crl,
                       gnutls_strerror(ret));
            goto fail;
        }
    }
    if (cert) {
        ret = gnutls_certificate_set_x509_key_file(creds->x509, cert, key,
                                                   GNUTLS_X509_FMT_PEM);
        if (ret < 0) {
            error_setg(errp, "Cannot load certificate '%s' & key '%s': %s",
                       cert, key, gnutls_strerror(ret));
            goto fail;
        }
    }
    if (server) {
        gnutls_certificate_set_known_dh_params(creds->x509,
                                               GNUTLS_SEC_PARAM_MEDIUM);
    }
    return creds;

fail:
    qx_tls_creds_free(creds);
    return NULL;
}

/* The hex key of username in a keys.psk file, or NULL. */
static char *tls_psk_find_key(const char *path, const char *username,
                              Error **errp)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GError *gerr = NULL;
    size_t ulen = strlen(username);

    if (!g_file_get_contents(path, &text, NULL, &gerr)) {
        error_setg(errp, "Cannot read PSK file %s: %s", path, gerr->message);
        g_error_free(gerr);
        return NULL;
    }
    lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        if (strncmp(lines[i], username, ulen) == 0 &&
            lines[i][ulen] == ':') {
            return g_strdup(g_strstrip(lines[i] + ulen + 1));
        }
    }
    error_setg(errp, "Username %s not found in PSK file %s", username, path);
    return NULL;
}

QxTlsCreds *qx_tls_creds_new_psk(const char *id, const char *dir,
                                 bool server, const char *username,
                                 Error **errp)
{
    g_autofree char *path = NULL;
    QxTlsCreds *creds;
    int ret;

    if (!dir) {
        error_setg(errp, "Missing 'dir' property value");
        return NULL;
    }
    path = tls_creds_file(dir, "keys.psk", true, errp);
    if (!path) {
        return NULL;
    }
    creds = tls_creds_alloc(id, QX_TLS_CREDS_PSK, server, false);
    creds->dir = g_strdup(dir);
    creds->username = g_strdup(username);
    if (server) {
        ret = gnutls_psk_allocate_server_credentials(&creds->psk_server);
        if (ret >= 0) {
            ret = gnutls_psk_set_server_credentials_file(creds->psk_server,
                                                         path);
        }
        if (ret >= 0) {
            gnutls_psk_set_server_known_dh_params(creds->psk_server,
                                                  GNUTLS_SEC_PARAM_MEDIUM);
        }
    } else {
        g_autofree char *hexkey =
            tls_psk_find_key(path, username ? username : "qemu", errp);
        gnutls_datum_t key;

        if (!hexkey) {
            qx_tls_creds_free(creds);
            return NULL;
        }
        key.data = (unsigned char *)hexkey;
        key.size = strlen(hexkey);
        ret = gnutls_psk_allocate_client_credentials(&creds->psk_client);
        if (ret >= 0) {
            ret = gnutls_psk_set_client_credentials(
                creds->psk_client, username ? username : "qemu", &key,
                GNUTLS_PSK_KEY_HEX);
        }
    }
    if (ret < 0) {
        error_setg(errp, "Cannot set PSK credentials from %s: %s", path,
                   gnutls_strerror(ret));
        qx_tls_creds_free(creds);
        return NULL;
    }
    return creds;
}

void qx_tls_creds_free(QxTlsCreds *creds)
{
    if (!creds) {
        return;
    }
    if (creds->x509) {
        gnutls_certificate_free_credentials(creds->x509);
    }
    if (creds->psk_server) {
        gnutls_psk_free_server_credentials(creds->psk_server);
    }
    if (creds->psk_client) {
        gnutls_psk_free_client_credentials(creds->psk_client);
    }
    g_free(creds->id);
    g_free(creds->dir);
    g_free(creds->username);
    g_free(creds);
}

const char *qx_tls_creds_get_id(const QxTlsCreds *creds)
{
    return creds->id;
}

bool qx_tls_creds_is_server(const QxTlsCreds *creds)
{
    return creds->server;
}

QxTlsCredsType qx_tls_creds_get_type(const QxTlsCreds *creds)
{
    return creds->type;
}

const char *qx_tls_creds_get_dir(const QxTlsCreds *creds)
{
    return creds->dir;
}

const char *qx_tls_creds_get_username(const QxTlsCreds *creds)
{
    return creds->username;
}

bool qx_tls_creds_get_verify_peer(const QxTlsCreds *creds)
{
    return creds->verify_peer;
}

QxTlsSession *qx_tls_session_new(QxTlsCreds *creds, int fd,
                                 const char *hostname, Error **errp)
{
    QxTlsSession *sess = g_new0(QxTlsSession, 1);
    const char *prio;
    int ret;

    sess->creds = creds;
    sess->hostname = g_strdup(hostname);
    ret = gnutls_init(&sess->session,
                      (creds->server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
                          GNUTLS_NONBLOCK);
    if (ret < 0) {
        error_setg(errp, "Cannot initialize TLS session: %s",
                   gnutls_strerror(ret));
        g_free(sess->hostname);
        g_free(sess);
        return NULL;
    }
    prio = creds->type == QX_TLS_CREDS_PSK ? TLS_PRIORITY_PSK
                                           : TLS_PRIORITY_X509;
    ret = gnutls_priority_set_direct(sess->session, prio, NULL);
    if (ret < 0) {
        error_setg(errp, "Unable to set TLS session priority %s: %s", prio,
                   gnutls_strerror(ret));
        goto fail;
    }
    if (creds->type == QX_TLS_CREDS_X509) {
        ret = gnutls_credentials_set(sess->session, GNUTLS_CRD_CERTIFICATE,
                                     creds->x509);
        if (ret >= 0 && creds->server && creds->verify_peer) {
            gnutls_certificate_server_set_request(sess->session,
                                                  GNUTLS_CERT_REQUIRE);
        }
        if (ret >= 0 && !creds->server && hostname) {
            ret = gnutls_server_name_set(sess->session, GNUTLS_NAME_DNS,
                                         hostname, strlen(hostname));
        }
    } else if (creds->server) {
        ret = gnutls_credentials_set(sess->session, GNUTLS_CRD_PSK,
                                     creds->psk_server);
    } else {
        ret = gnutls_credentials_set(sess->session, GNUTLS_CRD_PSK,
                                     creds->psk_client);
    }
    if (ret < 0) {
        error_setg(errp, "Cannot set session credentials: %s",
                   gnutls_strerror(ret));
        goto fail;
    }
    gnutls_transport_set_int(sess->session, fd);
    return sess;

fail:
    qx_tls_session_free(sess);
    return NULL;
}

void qx_tls_session_free(QxTlsSession *sess)
{
    if (!sess) {
        return;
    }
    gnutls_deinit(sess->session);
    g_free(sess->hostname);
    g_free(sess);
}

static bool tls_session_check_peer(QxTlsSession *sess, Error **errp)
{
    unsigned status = 0;
    int ret;

    if (sess->creds->type != QX_TLS_CREDS_X509 ||
        !sess->creds->verify_peer) {
        return true;
    }
    if (sess->creds->server || !sess->hostname) {
        ret = gnutls_certificate_verify_peers2(sess->session, &status);
    } else {
        ret = gnutls_certificate_verify_peers3(sess->session, sess->hostname,
                                               &status);
    }
    if (ret < 0) {
        error_setg(errp, "Cannot check peer certificate: %s",
                   gnutls_strerror(ret));
        return false;
    }
    if (status != 0) {
        gnutls_datum_t out = {0};

        gnutls_certificate_verification_status_print(
            status, GNUTLS_CRT_X509, &out, 0);
        error_setg(errp, "Peer certificate is not trusted: %s",
                   out.data ? (const char *)out.data : "unknown reason");
        gnutls_free(out.data);
        return false;
    }
    return true;
}

int qx_tls_session_handshake(QxTlsSession *sess, Error **errp)
{
    int ret;

    if (sess->handshake_done) {
        return 1;
    }
    do {
        ret = gnutls_handshake(sess->session);
    } while (ret < 0 && ret != GNUTLS_E_AGAIN &&
             !gnutls_error_is_fatal(ret));
    if (ret == GNUTLS_E_AGAIN) {
        return -EAGAIN;
    }
    if (ret < 0) {
        error_setg(errp, "TLS handshake failed: %s", gnutls_strerror(ret));
        return -EPROTO;
    }
    if (!tls_session_check_peer(sess, errp)) {
        return -EPROTO;
    }
    sess->handshake_done = true;
    return 1;
}

bool qx_tls_session_want_write(const QxTlsSession *sess)
{
    return gnutls_record_get_direction(sess->session) == 1;
}

ssize_t qx_tls_session_read(QxTlsSession *sess, void *buf, size_t len,
                            Error **errp)
{
    ssize_t ret;

    do {
        ret = gnutls_record_recv(sess->session, buf, len);
    } while (ret == GNUTLS_E_INTERRUPTED);
    if (ret >= 0) {
        return ret;
    }
    if (ret == GNUTLS_E_AGAIN) {
        return -EAGAIN;
    }
    if (ret == GNUTLS_E_PREMATURE_TERMINATION) {
        return 0; /* peer closed without close_notify: treat as EOF */
    }
    error_setg(errp, "Cannot read from TLS channel: %s",
               gnutls_strerror((int)ret));
    return -EIO;
}

ssize_t qx_tls_session_write(QxTlsSession *sess, const void *buf,
                             size_t len, Error **errp)
{
    ssize_t ret;

    do {
        ret = gnutls_record_send(sess->session, buf, len);
    } while (ret == GNUTLS_E_INTERRUPTED);
    if (ret >= 0) {
        return ret;
    }
    if (ret == GNUTLS_E_AGAIN) {
        return -EAGAIN;
    }
    error_setg(errp, "Cannot write to TLS channel: %s",
               gnutls_strerror((int)ret));
    return -EIO;
}

size_t qx_tls_session_pending(const QxTlsSession *sess)
{
    return gnutls_record_check_pending(sess->session);
}

void qx_tls_session_bye(QxTlsSession *sess)
{
    if (sess->handshake_done) {
        gnutls_bye(sess->session, GNUTLS_SHUT_WR);
    }
}
