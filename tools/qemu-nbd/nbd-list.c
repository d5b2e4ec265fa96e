/*
 * qemu-nbd -L: list another server's exports through libnbd, printed in
 * QEMU 7.2's layout (the transmission flags are rebuilt from libnbd's
 * can_* queries; NBD_FLAG_SEND_RESIZE is not visible through libnbd).
 */
#include <glib.h>
#include <inttypes.h>
#include <libnbd.h>
#include <stdio.h>
#include <unistd.h>

#include "qemu-nbd.h"
#include "qx/util/error.h"

typedef struct ListedExport {
    char *name;
    char *description;
} ListedExport;

static int list_cb(void *opaque, const char *name, const char *desc)
{
    GPtrArray *list = opaque;
    ListedExport *e = g_new0(ListedExport, 1);

    e->name = g_strdup(name);
    e->description = g_strdup(desc);
    g_ptr_array_add(list, e);
    return 0;
}

static int context_cb(void *opaque, const char *name)
{
    g_ptr_array_add(opaque, g_strdup(name));
    return 0;
}

static void listed_free(gpointer p)
{
    ListedExport *e = p;

    g_free(e->name);
    g_free(e->description);
    g_free(e);
}

/* Bit index -> QEMU's name in the flags list. */
static const char *const flag_names[] = {
    [1] = "readonly", [2] = "flush",  [3] = "fua",   [4] = "rotational",
    [5] = "trim",     [6] = "zeroes", [7] = "df",    [8] = "multi",
    [9] = "resize",   [10] = "cache", [11] = "fast-zero",
};

static unsigned list_flags(struct nbd_handle *h)
{
    unsigned flags = 1; /* NBD_FLAG_HAS_FLAGS */

    flags |= (nbd_is_read_only(h) > 0) << 1;
    flags |= (nbd_can_flush(h) > 0) << 2;
    flags |= (nbd_can_fua(h) > 0) << 3;
    flags |= (nbd_is_rotational(h) > 0) << 4;
    flags |= (nbd_can_trim(h) > 0) << 5;
    flags |= (nbd_can_zero(h) > 0) << 6;
    flags |= (nbd_can_df(h) > 0) << 7;
    flags |= (nbd_can_multi_conn(h) > 0) << 8;
    flags |= (nbd_can_cache(h) > 0) << 10;
    flags |= (nbd_can_fast_zero(h) > 0) << 11;
    return flags;
}

static bool list_setup_tls(struct nbd_handle *h, QxTlsCreds *tls,
                           const char *hostname)
{
    if (!tls) {
        return true;
    }
    if (nbd_set_tls(h, LIBNBD_TLS_REQUIRE) < 0) {
        return false;
    }
    if (qx_tls_creds_get_type(tls) == QX_TLS_CREDS_PSK) {
        g_autofree char *path =
            g_build_filename(qx_tls_creds_get_dir(tls), "keys.psk", NULL);
        const char *user = qx_tls_creds_get_username(tls);

        return nbd_set_tls_psk_file(h, path) == 0 &&
               nbd_set_tls_username(h, user ? user : "qemu") == 0;
    }
    return nbd_set_tls_certificates(h, qx_tls_creds_get_dir(tls)) == 0 &&
           nbd_set_tls_verify_peer(h, qx_tls_creds_get_verify_peer(tls)) ==
               0;
}

int qemu_nbd_list(const QxSocketAddress *addr, QxTlsCreds *tls,
                  const char *tls_hostname)
{
    g_autoptr(GPtrArray) exports = g_ptr_array_new_with_free_func(listed_free);
    struct nbd_handle *h;
    Error *err = NULL;
    int fd;
    int ret = 1;

    if (tls && qx_tls_creds_is_server(tls)) {
        error_report("Expecting TLS credentials with a client endpoint");
        return 1;
    }
    fd = qx_socket_connect(addr, &err);
    if (fd < 0) {
        error_report_err(err);
        return 1;
    }
    h = nbd_create();
    if (!h) {
        close(fd);
        error_report("%s", nbd_get_error());
        return 1;
    }
    if (nbd_set_opt_mode(h, true) < 0 ||
        !list_setup_tls(h, tls, tls_hostname) ||
        nbd_connect_socket(h, fd) < 0 ||
        nbd_opt_list(h, (nbd_list_callback){.callback = list_cb,
                                            .user_data = exports}) < 0) {
        error_report("%s", nbd_get_error());
        goto out;
    }
    printf("exports available: %u\n", exports->len);
    for (guint i = 0; i < exports->len; i++) {
        ListedExport *e = g_ptr_array_index(exports, i);
        g_autoptr(GPtrArray) contexts = g_ptr_array_new_with_free_func(g_free);
        unsigned flags;
        int64_t min;

        if (nbd_set_export_name(h, e->name) < 0 || nbd_opt_info(h) < 0) {
            error_report("%s", nbd_get_error());
            goto out;
        }
        printf(" export: '%s'\n", e->name);
        if (e->description && *e->description) {
            printf("  description: %s\n", e->description);
        }
        flags = list_flags(h);
        printf("  size:  %" PRId64 "\n", nbd_get_size(h));
        printf("  flags: 0x%x (", flags);
        for (unsigned bit = 0; bit < G_N_ELEMENTS(flag_names); bit++) {
            if (flag_names[bit] && (flags & (1u << bit))) {
                printf(" %s", flag_names[bit]);
            }
        }
        printf(" )\n");
        min = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
        if (min > 0) {
            printf("  min block: %" PRId64 "\n", min);
            printf("  opt block: %" PRId64 "\n",
                   nbd_get_block_size(h, LIBNBD_SIZE_PREFERRED));
            printf("  max block: %" PRId64 "\n",
                   nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM));
        }
        if (nbd_get_structured_replies_negotiated(h) > 0 &&
            nbd_opt_list_meta_context(
                h, (nbd_context_callback){.callback = context_cb,
                                          .user_data = contexts}) >= 0 &&
            contexts->len > 0) {
            printf("  available meta contexts: %u\n", contexts->len);
            for (guint j = 0; j < contexts->len; j++) {
                printf("   %s\n", (char *)g_ptr_array_index(contexts, j));
            }
        }
    }
    ret = 0;
    nbd_opt_abort(h);
out:
    nbd_close(h);
    return ret;
}
