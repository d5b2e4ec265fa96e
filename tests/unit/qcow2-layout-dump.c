/*
 * Test helper (not a test itself): writes a new qcow2 image using only the
 * layout generator, so tests/functional/test_qcow2_layout.py can compare it
 * byte for byte with QEMU's qemu-img create.
 *
 * Usage: qcow2-layout-dump FILE SIZE [key=value ...]
 * keys: compat (0.10|1.1), cluster_size, refcount_bits, extended_l2,
 * compression_type (zlib|zstd), lazy_refcounts, backing_file, backing_fmt,
 * data_file, data_file_raw, preallocation (off|metadata).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "qx/util/cutils.h"
#include "../../lib/block/qcow2/qcow2-format.h"

static bool parse_opt(Qcow2CreateOpts *o, const char *kv)
{
    const char *eq = strchr(kv, '=');
    g_autofree char *key = NULL;
    const char *val;
    uint64_t n;
    bool b;

    if (!eq) {
        return false;
    }
    key = g_strndup(kv, eq - kv);
    val = eq + 1;
    if (!strcmp(key, "compat")) {
        o->version = !strcmp(val, "0.10") ? 2 : 3;
    } else if (!strcmp(key, "cluster_size")) {
        if (qx_strtosz(val, NULL, 'B', &n) < 0 || !n || (n & (n - 1))) {
            return false;
        }
        o->cluster_bits = __builtin_ctzll(n);
    } else if (!strcmp(key, "refcount_bits")) {
        if (qx_strtou64(val, 10, &n) < 0 || !n || (n & (n - 1))) {
            return false;
        }
        o->refcount_order = __builtin_ctzll(n);
    } else if (!strcmp(key, "compression_type")) {
        o->compression_type = !strcmp(val, "zstd") ? QCOW2_COMPRESSION_ZSTD
                                                   : QCOW2_COMPRESSION_ZLIB;
    } else if (!strcmp(key, "backing_file")) {
        o->backing_file = val;
    } else if (!strcmp(key, "backing_fmt")) {
        o->backing_format = val;
    } else if (!strcmp(key, "data_file")) {
        o->data_file = val;
    } else if (!strcmp(key, "preallocation")) {
        o->prealloc = !strcmp(val, "metadata") ? QCOW2_PREALLOC_METADATA
                                               : QCOW2_PREALLOC_OFF;
    } else if (qx_parse_bool(val, &b)) {
        if (!strcmp(key, "extended_l2")) {
            o->extended_l2 = b;
        } else if (!strcmp(key, "lazy_refcounts")) {
            o->lazy_refcounts = b;
        } else if (!strcmp(key, "data_file_raw")) {
            o->data_file_raw = b;
        } else {
            return false;
        }
    } else {
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    Qcow2CreateOpts o = {
        .cluster_bits = QCOW2_DEFAULT_CLUSTER_BITS,
        .version = 3,
        .refcount_order = 4,
    };
    Qcow2Layout layout;
    Error *err = NULL;
    int fd;

    if (argc < 3 || qx_strtosz(argv[2], NULL, 'B', &o.size) < 0) {
        fprintf(stderr, "usage: %s FILE SIZE [key=value ...]\n", argv[0]);
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        if (!parse_opt(&o, argv[i])) {
            fprintf(stderr, "bad option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!qcow2_layout_create(&o, &layout, &err)) {
        fprintf(stderr, "%s\n", error_get_pretty(err));
        error_free(err);
        return 1;
    }
    fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    for (size_t i = 0; i < layout.nb_writes; i++) {
        const Qcow2Write *w = &layout.writes[i];

        if (pwrite(fd, w->data, w->len, w->offset) != (ssize_t)w->len) {
            perror("pwrite");
            return 1;
        }
    }
    if (ftruncate(fd, layout.file_length) < 0 || close(fd) < 0) {
        perror("ftruncate");
        return 1;
    }
    qcow2_layout_free(&layout);
    return 0;
}
