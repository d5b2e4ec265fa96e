/*
 * NBD handshake, fixed newstyle only, and option haggling (server side).
 *
 * Every option's payload is bounded before it is read: known options are
 * read whole when they fit NBD_MAX_OPTION_SIZE, anything else is skipped
 * and answered with an error reply, so a hostile length never allocates.
 * With TLS configured, only NBD_OPT_STARTTLS (and ABORT) are accepted
 * until the TLS handshake succeeded.
 */
#include <errno.h>
#include <stdarg.h>

#include "nbd-internal.h"

typedef struct NbdOption {
    uint32_t opt;
    uint32_t len;
    uint8_t *data; /* len bytes, or NULL if not read */
} NbdOption;

static int send_rep(NbdClient *client, uint32_t opt, uint32_t type,
                    const void *payload, uint32_t len)
{
    uint8_t hdr[20];
    struct iovec iov[2] = {
        {.iov_base = hdr, .iov_len = sizeof(hdr)},
        {.iov_base = (void *)payload, .iov_len = len},
    };

    nbd_put64(hdr, NBD_REP_MAGIC);
    nbd_put32(hdr + 8, opt);
    nbd_put32(hdr + 12, type);
    nbd_put32(hdr + 16, len);
    return nbd_conn_writev_co(client, iov, 2);
}

static int G_GNUC_PRINTF(4, 5) send_rep_err(NbdClient *client, uint32_t opt,
                                            uint32_t type, const char *fmt,
                                            ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return send_rep(client, opt, type, msg, strlen(msg));
}

/* Sends NBD_REP_INFO of type with body. */
static int send_info(NbdClient *client, uint32_t opt, uint16_t type,
                     const void *body, uint32_t len)
{
    g_autofree uint8_t *buf = g_malloc(2 + len);

    nbd_put16(buf, type);
    memcpy(buf + 2, body, len);
    return send_rep(client, opt, NBD_REP_INFO, buf, 2 + len);
}

static uint16_t client_flags(NbdClient *client, NbdExport *exp)
{
    return exp->flags | (client->structured ? NBD_FLAG_SEND_DF : 0);
}

static int opt_list(NbdClient *client, NbdOption *o)
{
    NbdServer *server = client->server;
    int ret;

    if (o->len != 0) {
        return send_rep_err(client, o->opt, NBD_REP_ERR_INVALID,
                            "no payload expected in option %u", o->opt);
    }
    for (guint i = 0; i < server->exports->len; i++) {
        NbdExport *exp = g_ptr_array_index(server->exports, i);
        size_t nlen = strlen(exp->name);
        size_t dlen = exp->description ? strlen(exp->description) : 0;
        g_autofree uint8_t *buf = g_malloc(4 + nlen + dlen);

        nbd_put32(buf, nlen);
        memcpy(buf + 4, exp->name, nlen);
        if (dlen) {
            memcpy(buf + 4 + nlen, exp->description, dlen);
        }
        ret = send_rep(client, o->opt, NBD_REP_SERVER, buf, 4 + nlen + dlen);
        if (ret < 0) {
            return ret;
        }
    }
    return send_rep(client, o->opt, NBD_REP_ACK, NULL, 0);
}

/* Size and flags of exp, then 124 zero bytes unless NO_ZEROES. */
static int opt_export_name(NbdClient *client, NbdOption *o)
{
    g_autofree char *name = g_strndup((char *)o->data, o->len);
    uint8_t buf[10 + 124] = {0};
    NbdExport *exp;

    if (memchr(o->data, 0, o->len)) {
        return -EINVAL;
    }
    exp = nbd_export_find(client->server, name);
    if (!exp) {
        return -ENOENT; /* no way to say so: the client is dropped */
    }
    client->exp = exp;
    nbd_put64(buf, exp->size);
    nbd_put16(buf + 8, client_flags(client, exp));
    return nbd_conn_write_co(client, buf, client->no_zeroes ? 10 : sizeof(buf));
}

/* NBD_OPT_INFO and NBD_OPT_GO. 1: go to transmission. */
static int opt_info(NbdClient *client, NbdOption *o)
{
    const uint8_t *p = o->data;
    uint32_t nlen;
    uint16_t nreq;
    g_autofree char *name = NULL;
    bool want_name = false, want_desc = false, want_bs = false;
    NbdExport *exp;
    uint8_t buf[12];
    int ret;

    if (o->len < 6) {
        return send_rep_err(client, o->opt, NBD_REP_ERR_INVALID,
                            "option length %u is too short", o->len);
    }
    nlen = nbd_get32(p);
    if (nlen > NBD_MAX_STRING_SIZE || nlen > o->len - 6) {
        return send_rep_err(client, o->opt, NBD_REP_ERR_INVALID,
                            "name length %u is too long", nlen);
    }
    name = g_strndup((const char *)p + 4, nlen);
    if (strlen(name) != nlen) {
        return send_rep_err(client, o->opt, NBD_REP_ERR_INVALID,
                            "export name contains a NUL byte");
    }
    nreq = nbd_get16(p + 4 + nlen);
    if ((uint64_t)4 + nlen + 2 + 2 * (uint64_t)nreq != o->len) {
        return send_rep_err(client, o->opt, NBD_REP_ERR_INVALID,
                            "inconsistent lengths in option %s",
                            o->opt == NBD_OPT_GO ? "GO" : "INFO");
    }
    for (uint16_t i = 0; i < nreq; i++) {
        switch (nbd_get16(p + 4 + nlen + 2 + 2 * i)) {
        case NBD_INFO_NAME:
            want_name = true;
            break;
        case NBD_INFO_DESCRIPTION:
            want_desc = true;
            break;
        case NBD_INFO_BLOCK_SIZE:
            want_bs = true;
            break;
        default:
            break; /* unknown requests are ignored, as the spec says */
        }
    }
    exp = nbd_export_find(client->server, name);
    if (!exp) {
        return send_rep_err(client, o->opt, NBD_REP_ERR_UNKNOWN,
                            "export '%s' not present", name);
    }
    if (want_name) {
        ret = send_info(client, o->opt, NBD_INFO_NAME, exp->name,
                        strlen(exp->name));
        if (ret < 0) {
            return ret;
        }
    }
    if (want_desc && exp->description) {
        ret = send_info(client, o->opt, NBD_INFO_DESCRIPTION,
                        exp->description, strlen(exp->description));
        if (ret < 0) {
            return ret;
        }
    }
    /* Block sizes go out whether asked for or not, as QEMU does. */
    nbd_put32(buf, exp->min_block);
    nbd_put32(buf + 4, exp->pref_block);
    nbd_put32(buf + 8, exp->max_block);
    ret = send_info(client, o->opt, NBD_INFO_BLOCK_SIZE, buf, 12);
    if (ret < 0) {
        return ret;
    }
    nbd_put64(buf, exp->size);
    nbd_put16(buf + 8, client_flags(client, exp));
    ret = send_info(client, o->opt, NBD_INFO_EXPORT, buf, 10);
    if (ret < 0) {
        return ret;
    }
    if (o->opt == NBD_OPT_GO && exp->min_block > 1 && !want_bs) {
        return send_rep_err(client, o->opt, NBD_REP_ERR_BLOCK_SIZE_REQD,
                            "request NBD_INFO_BLOCK_SIZE to use this export");
    }
    ret = send_rep(client, o->opt, NBD_REP_ACK, NULL, 0);
    if (ret < 0) {
        return ret;
    }
    if (o->opt == NBD_OPT_GO) {
        client->exp = exp;
        if (client->meta.exp != exp) {
            nbd_meta_selection_clear(&client->meta);
        }
        return 1;
    }
    return 0;
}

static int meta_reply(void *opaque, uint32_t id, const char *name)
{
    void **args = opaque;
    NbdClient *client = args[0];
    NbdOption *o = args[1];
    size_t len = strlen(name);
    g_autofree uint8_t *buf = g_malloc(4 + len);

    nbd_put32(buf, id);
    memcpy(buf + 4, name, len);
    return send_rep(client, o->opt, NBD_REP_META_CONTEXT, buf, 4 + len);
}

static int opt_meta_context(NbdClient *client, NbdOption *o)
{
    bool list = o->opt == NBD_OPT_LIST_META_CONTEXT;
    const uint8_t *p = o->data;
    uint32_t nlen, nq, pos;
    g_autofree char *name = NULL;
    NbdMetaSelection sel = {0};
    void *args[2] = {client, o};
    NbdExport *exp;
    int ret = 0;

    if (!client->structured) {
        return send_rep_err(client, o->opt, NBD_REP_ERR_INVALID,
                            "use NBD_OPT_STRUCTURED_REPLY before "
                            "negotiating meta contexts");
    }
    if (o->len < 8) {
        return send_rep_err(client, o->opt, NBD_REP_ERR_INVALID,
                            "option length %u is too short", o->len);
    }
    nlen = nbd_get32(p);
    if (nlen > NBD_MAX_STRING_SIZE || nlen > o->len - 8) {
        return send_rep_err(client, o->opt, NBD_REP_ERR_INVALID,
                            "name length %u is too long", nlen);
    }
    name = g_strndup((const char *)p + 4, nlen);
    nq = nbd_get32(p + 4 + nlen);
    if (nq > NBD_MAX_META_QUERIES) {
        return send_rep_err(client, o->opt, NBD_REP_ERR_TOO_BIG,
                            "too many queries (%u)", nq);
    }
    /* Validate every query's length before replying with anything. */
    pos = 8 + nlen;
    for (uint32_t i = 0; i < nq; i++) {
        uint32_t qlen;

        if (o->len - pos < 4) {
            return send_rep_err(client, o->opt, NBD_REP_ERR_INVALID,
                                "query %u is truncated", i);
        }
        qlen = nbd_get32(p + pos);
        if (qlen > NBD_MAX_STRING_SIZE || qlen > o->len - pos - 4) {
            return send_rep_err(client, o->opt, NBD_REP_ERR_INVALID,
                                "query %u length %u is too long", i, qlen);
        }
        pos += 4 + qlen;
    }
    if (pos != o->len) {
        return send_rep_err(client, o->opt, NBD_REP_ERR_INVALID,
                            "inconsistent lengths in meta context option");
    }
    exp = nbd_export_find(client->server, name);
    if (!exp) {
        return send_rep_err(client, o->opt, NBD_REP_ERR_UNKNOWN,
                            "export '%s' not present", name);
    }
    if (!list) {
        sel.exp = exp;
        sel.bitmaps = g_new0(bool, exp->nbitmaps ? exp->nbitmaps : 1);
    }
    if (list && nq == 0) {
        ret = nbd_meta_list_all(exp, meta_reply, args);
    }
    pos = 8 + nlen;
    for (uint32_t i = 0; i < nq && ret >= 0; i++) {
        uint32_t qlen = nbd_get32(p + pos);

        ret = nbd_meta_match(exp, (const char *)p + pos + 4, qlen, list,
                             list ? NULL : &sel, meta_reply, args);
        pos += 4 + qlen;
    }
    if (ret >= 0) {
        ret = send_rep(client, o->opt, NBD_REP_ACK, NULL, 0);
    }
    if (!list && ret >= 0) {
        nbd_meta_selection_clear(&client->meta);
        client->meta = sel;
    } else {
        nbd_meta_selection_clear(&sel);
    }
    return ret;
}

static bool opt_is_known(uint32_t opt)
{
    switch (opt) {
    case NBD_OPT_EXPORT_NAME:
    case NBD_OPT_ABORT:
    case NBD_OPT_LIST:
    case NBD_OPT_STARTTLS:
    case NBD_OPT_INFO:
    case NBD_OPT_GO:
    case NBD_OPT_STRUCTURED_REPLY:
    case NBD_OPT_LIST_META_CONTEXT:
    case NBD_OPT_SET_META_CONTEXT:
        return true;
    default:
        return false;
    }
}

/*
 * Handles one option.  Returns 1 to enter transmission, 0 to read the
 * next option, negative to drop the client.
 */
static int negotiate_option_co(NbdClient *client)
{
    uint8_t hdr[16];
    NbdOption o = {0};
    g_autofree uint8_t *data = NULL;
    bool tls_pending = client->server->tls && !client->tls;
    int ret;

    ret = nbd_conn_read_co(client, hdr, sizeof(hdr));
    if (ret < 0) {
        return ret;
    }
    if (nbd_get64(hdr) != NBD_OPTS_MAGIC) {
        return -EPROTO;
    }
    o.opt = nbd_get32(hdr + 8);
    o.len = nbd_get32(hdr + 12);

    if (o.opt == NBD_OPT_EXPORT_NAME && tls_pending) {
        return -EPERM; /* cannot reply: drop, as the spec says */
    }
    if (!opt_is_known(o.opt) || o.len > NBD_MAX_OPTION_SIZE ||
        (tls_pending && o.opt != NBD_OPT_STARTTLS &&
         o.opt != NBD_OPT_ABORT)) {
        if (o.opt == NBD_OPT_EXPORT_NAME) {
            return -EINVAL; /* an oversized name: no error reply exists */
        }
        ret = nbd_conn_skip_co(client, o.len);
        if (ret < 0) {
            return ret;
        }
        if (tls_pending && o.opt != NBD_OPT_STARTTLS) {
            return send_rep_err(client, o.opt, NBD_REP_ERR_TLS_REQD,
                                "Option 0x%x not permitted before TLS",
                                o.opt);
        }
        if (!opt_is_known(o.opt)) {
            return send_rep_err(client, o.opt, NBD_REP_ERR_UNSUP,
                                "Unsupported option %u", o.opt);
        }
        return send_rep_err(client, o.opt, NBD_REP_ERR_TOO_BIG,
                            "option %u payload of %u bytes is too large",
                            o.opt, o.len);
    }
    data = g_malloc(o.len ? o.len : 1);
    ret = nbd_conn_read_co(client, data, o.len);
    if (ret < 0) {
        return ret;
    }
    o.data = data;

    switch (o.opt) {
    case NBD_OPT_EXPORT_NAME:
        ret = opt_export_name(client, &o);
        return ret < 0 ? ret : 1;
    case NBD_OPT_ABORT:
        /* Best effort: the client may already be gone. */
        send_rep(client, o.opt, NBD_REP_ACK, NULL, 0);
        return -ECONNABORTED;
    case NBD_OPT_LIST:
        return opt_list(client, &o);
    case NBD_OPT_STARTTLS:
        if (!client->server->tls) {
            return send_rep_err(client, o.opt, NBD_REP_ERR_POLICY,
                                "TLS not configured");
        }
        if (client->tls) {
            return send_rep_err(client, o.opt, NBD_REP_ERR_INVALID,
                                "TLS already negotiated");
        }
        if (o.len) {
            return send_rep_err(client, o.opt, NBD_REP_ERR_INVALID,
                                "no payload expected in option %u", o.opt);
        }
        ret = send_rep(client, o.opt, NBD_REP_ACK, NULL, 0);
        if (ret < 0) {
            return ret;
        }
        ret = nbd_conn_start_tls_co(client, NULL);
        return ret < 0 ? ret : 0;
    case NBD_OPT_INFO:
    case NBD_OPT_GO:
        return opt_info(client, &o);
    case NBD_OPT_STRUCTURED_REPLY:
        if (o.len) {
            return send_rep_err(client, o.opt, NBD_REP_ERR_INVALID,
                                "no payload expected in option %u", o.opt);
        }
        if (client->structured) {
            return send_rep_err(client, o.opt, NBD_REP_ERR_INVALID,
                                "structured reply already negotiated");
        }
        client->structured = true;
        return send_rep(client, o.opt, NBD_REP_ACK, NULL, 0);
    case NBD_OPT_LIST_META_CONTEXT:
    case NBD_OPT_SET_META_CONTEXT:
        return opt_meta_context(client, &o);
    default:
        g_assert_not_reached();
    }
}

int nbd_negotiate_co(NbdClient *client)
{
    uint8_t hello[18];
    uint8_t cflags[4];
    uint32_t flags;
    int ret;

    nbd_put64(hello, NBD_MAGIC);
    nbd_put64(hello + 8, NBD_OPTS_MAGIC);
    nbd_put16(hello + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    ret = nbd_conn_write_co(client, hello, sizeof(hello));
    if (ret < 0) {
        return ret;
    }
    ret = nbd_conn_read_co(client, cflags, sizeof(cflags));
    if (ret < 0) {
        return ret;
    }
    flags = nbd_get32(cflags);
    if (!(flags & NBD_FLAG_C_FIXED_NEWSTYLE) ||
        (flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES))) {
        return -EPROTO; /* not a fixed-newstyle client we understand */
    }
    client->no_zeroes = flags & NBD_FLAG_C_NO_ZEROES;

    while (!client->closing) {
        ret = negotiate_option_co(client);
        if (ret < 0) {
            return ret;
        }
        if (ret == 1) {
            return 0;
        }
    }
    return -ESHUTDOWN;
}
