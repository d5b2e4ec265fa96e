/*
 * qcow2 image creation: QEMU 7.2's option list and checks, the protocol
 * file, then the bytes qcow2-layout.c computes (byte-identical to QEMU's
 * qemu-img create for preallocation off and metadata).
 *
 * preallocation=falloc|full lays the metadata out as for "metadata" and
 * has the protocol driver preallocate the whole file, so every data
 * cluster is backed by allocated storage as with QEMU (QEMU places the
 * refcount structures differently in that mode; the guest-visible
 * contents and the allocation are the same).
 */
#include <stdio.h>

#include "qcow2-int.h"

/* In QEMU 7.2's order: "Formatting ..." prints options in this order. */
const BlockOptDesc qcow2_create_opts[] = {
    { "encryption", BLOCK_OPT_BOOL,
      "Encrypt the image with format 'aes'. (Deprecated in favor of "
      "encrypt.format=aes)", NULL },
    { "encrypt.format", BLOCK_OPT_STRING,
      "Encrypt the image, format choices: 'aes', 'luks'", NULL },
    { "encrypt.key-secret", BLOCK_OPT_STRING,
      "ID of secret providing qcow AES key or LUKS passphrase", NULL },
    { "encrypt.cipher-alg", BLOCK_OPT_STRING,
      "Name of encryption cipher algorithm", NULL },
    { "encrypt.cipher-mode", BLOCK_OPT_STRING,
      "Name of encryption cipher mode", NULL },
    { "encrypt.ivgen-alg", BLOCK_OPT_STRING,
      "Name of IV generator algorithm", NULL },
    { "encrypt.ivgen-hash-alg", BLOCK_OPT_STRING,
      "Name of IV generator hash algorithm", NULL },
    { "encrypt.hash-alg", BLOCK_OPT_STRING,
      "Name of encryption hash algorithm", NULL },
    { "encrypt.iter-time", BLOCK_OPT_NUMBER,
      "Time to spend in PBKDF in milliseconds", NULL },
    { "cluster_size", BLOCK_OPT_SIZE, "qcow2 cluster size", "65536" },
    { "extended_l2", BLOCK_OPT_BOOL, "Extended L2 tables", "off" },
    { "preallocation", BLOCK_OPT_STRING,
      "Preallocation mode (allowed values: off, metadata, falloc, full)",
      NULL },
    { "compression_type", BLOCK_OPT_STRING,
      "Compression method used for image cluster compression", "zlib" },
    { "size", BLOCK_OPT_SIZE, "Virtual disk size", NULL },
    { "compat", BLOCK_OPT_STRING,
      "Compatibility level (v2 [0.10] or v3 [1.1])", NULL },
    { "backing_file", BLOCK_OPT_STRING, "File name of a base image", NULL },
    { "backing_fmt", BLOCK_OPT_STRING, "Image format of the base image",
      NULL },
    { "data_file", BLOCK_OPT_STRING, "File name of an external data file",
      NULL },
    { "data_file_raw", BLOCK_OPT_BOOL,
      "The external data file must stay valid as a raw image", NULL },
    { "lazy_refcounts", BLOCK_OPT_BOOL, "Postpone refcount updates", "off" },
    { "refcount_bits", BLOCK_OPT_NUMBER,
      "Width of a reference count entry in bits", "16" },
    { NULL },
};

/* Turns the -o values into layout options, with QEMU's messages. */
static bool parse_create_opts(BlockCreateOpts *opts, Qcow2CreateOpts *o,
                              BlockPreallocMode *prealloc, Error **errp)
{
    const char *compat = block_create_opts_get_str(opts, "compat", NULL);
    const char *ctype = block_create_opts_get_str(opts, "compression_type",
                                                  "zlib");
    const char *pstr = block_create_opts_get_str(opts, "preallocation", "off");
    uint64_t cluster_size = block_create_opts_get_size(opts, "cluster_size",
                                                       65536);
    uint64_t refcount_bits = block_create_opts_get_number(opts,
                                                          "refcount_bits", 16);

    memset(o, 0, sizeof(*o));
    if (block_create_opts_get_bool(opts, "encryption", false) ||
        block_create_opts_has(opts, "encrypt.format")) {
        error_setg(errp, "qcow2: encrypted images are not supported");
        return false;
    }
    o->size = block_create_opts_get_size(opts, "size", 0);
    if (!compat || strcmp(compat, "1.1") == 0 || strcmp(compat, "v3") == 0) {
        o->version = 3;
    } else if (strcmp(compat, "0.10") == 0 || strcmp(compat, "v2") == 0) {
        o->version = 2;
    } else {
        error_setg(errp, "Parameter 'version' does not accept value '%s'",
                   compat);
        return false;
    }
    if (strcmp(pstr, "off") == 0) {
        *prealloc = BLOCK_PREALLOC_OFF;
    } else if (strcmp(pstr, "metadata") == 0) {
        *prealloc = BLOCK_PREALLOC_METADATA;
    } else if (strcmp(pstr, "falloc") == 0) {
        *prealloc = BLOCK_PREALLOC_FALLOC;
    } else if (strcmp(pstr, "full") == 0) {
        *prealloc = BLOCK_PREALLOC_FULL;
    } else {
        error_setg(errp, "Parameter 'preallocation' does not accept value "
                   "'%s'", pstr);
        return false;
    }
    if (strcmp(ctype, "zlib") == 0) {
        o->compression_type = QCOW2_COMPRESSION_ZLIB;
    } else if (strcmp(ctype, "zstd") == 0) {
        o->compression_type = QCOW2_COMPRESSION_ZSTD;
    } else {
        error_setg(errp, "Parameter 'compression-type' does not accept "
                   "value '%s'", ctype);
        return false;
    }
    if (cluster_size < 512 || cluster_size > 2 * 1024 * 1024 ||
        (cluster_size & (cluster_size - 1))) {
        error_setg(errp, "Cluster size must be a power of two between 512 "
                   "and 2048k");
        return false;
    }
    o->cluster_bits = (uint32_t)__builtin_ctzll(cluster_size);
    if (refcount_bits == 0 || refcount_bits > 64 ||
        (refcount_bits & (refcount_bits - 1))) {
        error_setg(errp, "Refcount width must be a power of two and may not "
                   "exceed 64 bits");
        return false;
    }
    o->refcount_order = (uint32_t)__builtin_ctzll(refcount_bits);
    o->lazy_refcounts = block_create_opts_get_bool(opts, "lazy_refcounts",
                                                   false);
    o->extended_l2 = block_create_opts_get_bool(opts, "extended_l2", false);
    o->backing_file = block_create_opts_get_str(opts, "backing_file", NULL);
    o->backing_format = block_create_opts_get_str(opts, "backing_fmt", NULL);
    if (block_create_opts_get_str(opts, "data_file", NULL) ||
        block_create_opts_get_bool(opts, "data_file_raw", false)) {
        error_setg(errp, "qcow2: external data files are not supported");
        return false;
    }
    if (o->backing_file && *prealloc != BLOCK_PREALLOC_OFF &&
        !o->extended_l2) {
        error_setg(errp, "Backing file and preallocation can only be used at "
                   "the same time if extended_l2 is on");
        return false;
    }
    o->prealloc = *prealloc == BLOCK_PREALLOC_OFF ? QCOW2_PREALLOC_OFF
                                                  : QCOW2_PREALLOC_METADATA;
    return true;
}

int qcow2_co_create(BlockGraph *graph, const char *filename,
                    BlockCreateOpts *opts, Error **errp)
{
    Qcow2CreateOpts o;
    Qcow2Layout layout;
    BlockPreallocMode prealloc;
    BlockBackend *blk;
    g_autofree char *file_size = NULL;
    Error *local_err = NULL;
    int ret = 0;

    if (!parse_create_opts(opts, &o, &prealloc, errp)) {
        return -EINVAL;
    }
    /*
     * The layout's "too large" message already carries QEMU's cluster
     * size hint (QEMU gives it whenever cluster_size has a value, and
     * ours always has its default), so it is not turned into -EFBIG.
     */
    if (!qcow2_layout_create(&o, &layout, errp)) {
        return -EINVAL;
    }

    /* The protocol object: empty, or preallocated over the whole file. */
    file_size = g_strdup_printf("%" PRIu64,
                                prealloc >= BLOCK_PREALLOC_FALLOC
                                    ? layout.file_length : 0);
    block_create_opts_set(opts, "size", file_size, NULL);
    if (prealloc < BLOCK_PREALLOC_FALLOC &&
        block_create_opts_knows(opts, "preallocation")) {
        block_create_opts_set(opts, "preallocation", "off", NULL);
    }
    ret = block_create_file(graph, filename, opts, errp);
    if (ret < 0) {
        goto out;
    }

    blk = blk_new_open(graph, filename, NULL,
                       BLOCK_OPEN_RDWR | BLOCK_OPEN_PROTOCOL |
                           BLOCK_OPEN_RESIZE | BLOCK_OPEN_QUIET,
                       errp);
    if (!blk) {
        ret = -EIO;
        goto out;
    }
    if (prealloc < BLOCK_PREALLOC_FALLOC) {
        /* Backends refuse writes past the end: size the file first. */
        ret = blk_truncate_co(blk, (int64_t)layout.file_length, true,
                              BLOCK_PREALLOC_OFF, 0, &local_err);
        if (ret < 0) {
            error_propagate(errp, local_err);
            blk_unref(blk);
            goto out;
        }
    }
    for (size_t i = 0; i < layout.nb_writes && ret >= 0; i++) {
        Qcow2Write *w = &layout.writes[i];
        ret = blk_pwrite_co(blk, (int64_t)w->offset, (int64_t)w->len,
                            w->data, 0);
    }
    if (ret >= 0) {
        ret = blk_flush_co(blk);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not write qcow2 header");
    }
    blk_unref(blk);
out:
    qcow2_layout_free(&layout);
    return ret;
}
