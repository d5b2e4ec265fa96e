/*
 * qcow2: the driver table, probing, open and close.
 *
 * The header is parsed and validated by the format layer
 * (qcow2-header.c); this file applies the open-time policy QEMU 7.2 has on
 * top of it (feature bits, corrupt and dirty images, external data files,
 * encryption) and sets up the tables and caches the data path uses.
 */
#include <stdarg.h>
#include <stdio.h>

#include "qcow2-check.h"
#include "qcow2-int.h"
#include "qx/util/opts.h"

static int qcow2_probe(const uint8_t *buf, int buf_size, const char *filename)
{
    if (buf_size >= 8 && qcow2_be32(buf) == QCOW2_MAGIC &&
        qcow2_be32(buf + 4) >= 2) {
        return 100;
    }
    return 0;
}

bool qcow2_metadata_in_file(BlockNode *node, uint64_t offset)
{
    Qcow2State *s = node->opaque;
    int64_t len = block_getlength_co(node->file->node);

    /* An unknown length is not proof of corruption. */
    return len < 0 || offset + s->cluster_size <= (uint64_t)len;
}

int qcow2_write_incompat(BlockNode *node, uint64_t incompat)
{
    Qcow2State *s = node->opaque;
    uint8_t buf[8];
    int ret;

    if (s->version < 3) {
        return 0;
    }
    qcow2_put_be64(buf, incompat);
    ret = block_pwrite_co(node->file, 72, 8, buf, 0);
    if (ret >= 0) {
        ret = block_flush_co(node->file->node);
    }
    if (ret >= 0) {
        s->incompat = incompat;
    }
    return ret;
}

int qcow2_signal_corruption(BlockNode *node, int64_t offset, int64_t size,
                            const char *fmt, ...)
{
    Qcow2State *s = node->opaque;
    g_autofree char *msg = NULL;
    bool fatal = !node->read_only;
    va_list ap;

    if (s->broken) {
        return -EIO;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (fatal) {
        fprintf(stderr, "qcow2: Marking image as corrupt: %s; further "
                        "corruption events will be suppressed\n", msg);
        s->broken = true;
        /* The request fails anyway; a failed header write changes nothing. */
        qcow2_write_incompat(node, s->incompat | QCOW2_INCOMPAT_CORRUPT);
    } else if (!s->signaled_corruption) {
        fprintf(stderr, "qcow2: Image is corrupt: %s; further non-fatal "
                        "corruption events will be suppressed\n", msg);
    }
    s->signaled_corruption = true;
    return -EIO;
}

/* Reads the header: first its fixed part, then the whole first cluster. */
static int read_header(BlockNode *node, Error **errp)
{
    Qcow2State *s = node->opaque;
    int64_t file_len = block_getlength_co(node->file->node);
    uint8_t fixed[QCOW2_HEADER_V3_SIZE] = { 0 };
    g_autofree uint8_t *buf = NULL;
    uint32_t cluster_bits;
    int64_t len;
    int ret;

    if (file_len < 0) {
        error_setg_errno(errp, (int)-file_len, "Could not get image size");
        return (int)file_len;
    }
    len = MIN(file_len, (int64_t)sizeof(fixed));
    if (len > 0) {
        ret = block_pread_co(node->file, 0, len, fixed, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not read qcow2 header");
            return ret;
        }
    }
    cluster_bits = qcow2_be32(fixed + 20);
    if (qcow2_be32(fixed) != QCOW2_MAGIC ||
        cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
        cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        /* The format layer reports these with QEMU's messages. */
        return qcow2_header_parse(fixed, sizeof(fixed), &s->hdr, errp)
                   ? 0 : -EINVAL;
    }
    len = MIN(file_len, (int64_t)1 << cluster_bits);
    buf = g_malloc0((size_t)1 << cluster_bits);
    ret = block_pread_co(node->file, 0, len, buf, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read qcow2 header");
        return ret;
    }
    if (!qcow2_header_parse(buf, (size_t)len, &s->hdr, errp)) {
        return -EINVAL;
    }
    return 0;
}

static int read_l1(BlockNode *node, Error **errp)
{
    Qcow2State *s = node->opaque;
    uint64_t bytes = (uint64_t)s->l1_size * 8;
    g_autofree uint8_t *buf = NULL;
    int ret;

    s->l1 = g_try_new0(uint64_t, MAX(s->l1_size, 1));
    buf = g_try_malloc0(MAX(bytes, 1));
    if (!s->l1 || !buf) {
        error_setg(errp, "Could not allocate L1 table");
        return -ENOMEM;
    }
    if (bytes) {
        ret = block_pread_co(node->file, (int64_t)s->l1_offset,
                             (int64_t)bytes, buf, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not read L1 table");
            return ret;
        }
    }
    for (uint32_t i = 0; i < s->l1_size; i++) {
        s->l1[i] = qcow2_be64(buf + (size_t)i * 8);
        uint64_t off = qcow2_l1_entry_offset(s->l1[i]);
        if (off) {
            qcow2_metamap_add(&s->metamap, QCOW2_OL_ACTIVE_L2, off,
                              s->cluster_size);
        }
    }
    qcow2_metamap_add(&s->metamap, QCOW2_OL_ACTIVE_L1, s->l1_offset, bytes);
    return 0;
}

/* The open-time policy on feature bits and unsupported features. */
static int check_features(BlockNode *node, Error **errp)
{
    Qcow2State *s = node->opaque;

    if (s->hdr.crypt_method != QCOW2_CRYPT_NONE) {
        error_setg(errp, "qcow2: encrypted images are not supported");
        return -ENOTSUP;
    }
    if ((s->incompat & QCOW2_INCOMPAT_DATA_FILE) || s->hdr.data_file) {
        error_setg(errp, "qcow2: images with an external data file are not "
                         "supported");
        return -ENOTSUP;
    }
    /* qemu-img check opens corrupt images read-write to repair them. */
    if ((s->incompat & QCOW2_INCOMPAT_CORRUPT) && !node->read_only &&
        !(node->open_flags & BLOCK_OPEN_CHECK)) {
        error_setg(errp, "qcow2: Image is corrupt; cannot be opened "
                         "read/write");
        return -EACCES;
    }
    return 0;
}

static void qcow2_free_state(BlockNode *node)
{
    Qcow2State *s = node->opaque;

    qcow2_cache_free(s->l2_cache);
    s->l2_cache = NULL;
    qcow2_refcount_close(node);
    g_clear_pointer(&s->l1, g_free);
    qcow2_metamap_free(&s->metamap);
    qcow2_header_free(&s->hdr);
}

/* Runtime options we honour; anything else is left for the core to refuse. */
static bool take_options(BlockNode *node, json_object *opts,
                         uint64_t *l2_cache_bytes, uint64_t *rb_cache_bytes,
                         Error **errp)
{
    bool has_l2 = false, has_rb = false;

    if (!qx_opts_take_flat_size(opts, "l2-cache-size", l2_cache_bytes,
                                &has_l2, errp) ||
        !qx_opts_take_flat_size(opts, "refcount-cache-size", rb_cache_bytes,
                                &has_rb, errp)) {
        return false;
    }
    if (!has_l2) {
        *l2_cache_bytes = 0;
    }
    if (!has_rb) {
        *rb_cache_bytes = 0;
    }
    return true;
}

#define BME_FLAG_IN_USE (1u << 0)
#define BME_FIXED_SIZE 24

/*
 * Sets the in-use flag of every bitmap in the directory (bounded by the
 * format layer's limits); -errno if the directory does not make sense.
 */
static int bitmaps_mark_in_use(BlockNode *node)
{
    Qcow2State *s = node->opaque;
    uint64_t size = s->hdr.bitmap_directory_size;
    g_autofree uint8_t *dir = g_try_malloc(MAX(size, 1));
    uint64_t pos = 0;
    int ret;

    if (!dir || !size) {
        return -EINVAL;
    }
    ret = block_pread_co(node->file, (int64_t)s->hdr.bitmap_directory_offset,
                         (int64_t)size, dir, 0);
    if (ret < 0) {
        return ret;
    }
    for (uint32_t i = 0; i < s->hdr.nb_bitmaps; i++) {
        uint64_t entry_size;

        if (size - pos < BME_FIXED_SIZE) {
            return -EINVAL;
        }
        entry_size = (BME_FIXED_SIZE + (uint64_t)qcow2_be32(dir + pos + 20) +
                      (uint64_t)((dir[pos + 18] << 8) | dir[pos + 19]) + 7) &
                     ~7ull;
        if (entry_size > size - pos) {
            return -EINVAL;
        }
        qcow2_put_be32(dir + pos + 12,
                       qcow2_be32(dir + pos + 12) | BME_FLAG_IN_USE);
        pos += entry_size;
    }
    ret = block_pwrite_co(node->file, (int64_t)s->hdr.bitmap_directory_offset,
                          (int64_t)size, dir, 0);
    if (ret >= 0) {
        ret = block_flush_co(node->file->node);
    }
    return ret;
}

/*
 * Reads the header and every table the data path needs into fresh state.
 * A dirty image opened read-write (lazy refcounts, not closed cleanly) is
 * repaired first, as QEMU does.  On failure the state is freed.
 */
static int qcow2_load(BlockNode *node, uint64_t l2_cache_bytes,
                      uint64_t rb_cache_bytes, Error **errp)
{
    Qcow2State *s = node->opaque;
    int l2_entries;
    int ret;

    qcow2_metamap_init(&s->metamap);
    ret = read_header(node, errp);
    if (ret < 0) {
        goto fail;
    }
    /* The repair QEMU does on open; qemu-img check does its own. */
    if ((s->hdr.incompatible_features & QCOW2_INCOMPAT_DIRTY) &&
        !node->read_only && !(node->open_flags & BLOCK_OPEN_CHECK) &&
        !(s->hdr.incompatible_features &
                              ~(uint64_t)QCOW2_INCOMPAT_MASK)) {
        BlockCheckResult res = { 0 };

        qcow2_header_free(&s->hdr);
        ret = qcow2_check_child_co(node->file, &res,
                                   BLOCK_FIX_LEAKS | BLOCK_FIX_ERRORS, errp);
        if (ret >= 0 && (res.corruptions || res.check_errors)) {
            ret = -EIO;
        }
        if (ret < 0) {
            if (errp && !*errp) {
                error_setg_errno(errp, -ret, "Could not repair dirty image");
            }
            goto fail;
        }
        ret = read_header(node, errp);
        if (ret < 0) {
            goto fail;
        }
    }
    s->version = s->hdr.version;
    s->cluster_bits = s->hdr.cluster_bits;
    s->cluster_size = 1ull << s->cluster_bits;
    s->incompat = s->hdr.incompatible_features;
    s->compat = s->hdr.compatible_features;
    s->autoclear = s->hdr.autoclear_features;
    s->compression_type = s->hdr.compression_type;
    s->extl2 = (s->incompat & QCOW2_INCOMPAT_EXTL2) != 0;
    s->l2_entry_size = s->extl2 ? 16 : 8;
    s->l2_bits = s->cluster_bits - (s->extl2 ? 4 : 3);
    s->l2_size = 1ull << s->l2_bits;
    s->subcluster_size = s->extl2 ? s->cluster_size / 32 : s->cluster_size;
    s->subcluster_bits = s->extl2 ? s->cluster_bits - 5 : s->cluster_bits;
    s->size = s->hdr.size;
    s->l1_size = s->hdr.l1_size;
    s->l1_offset = s->hdr.l1_table_offset;
    s->free_cluster_index = 0;
    s->free_byte_offset = 0;

    ret = check_features(node, errp);
    if (ret < 0) {
        goto fail;
    }
    qcow2_metamap_add(&s->metamap, QCOW2_OL_MAIN_HEADER, 0, s->cluster_size);
    if (s->hdr.has_bitmaps_ext) {
        qcow2_metamap_add(&s->metamap, QCOW2_OL_BITMAP_DIRECTORY,
                          s->hdr.bitmap_directory_offset,
                          s->hdr.bitmap_directory_size);
    }
    ret = read_l1(node, errp);
    if (ret < 0) {
        goto fail;
    }
    ret = qcow2_refcount_init(node, errp);
    if (ret < 0) {
        goto fail;
    }
    if (rb_cache_bytes) {
        qcow2_cache_free(s->rb_cache);
        s->rb_cache = qcow2_cache_new(
            (int)MIN(rb_cache_bytes / s->cluster_size, 65536),
            QCOW2_OL_REFCOUNT_BLOCK);
    }
    /* Default: enough L2 tables to map the whole image, up to 32 MiB. */
    if (!l2_cache_bytes) {
        l2_cache_bytes = MIN((uint64_t)MAX(s->l1_size, 1) * s->cluster_size,
                             32ull * 1024 * 1024);
    }
    l2_entries = (int)MIN(MAX(l2_cache_bytes / s->cluster_size, 4), 65536);
    s->l2_cache = qcow2_cache_new(l2_entries, QCOW2_OL_ACTIVE_L2);
    qcow2_cache_set_dependency(s->l2_cache, s->rb_cache);

    g_clear_pointer(&node->backing_file, g_free);
    g_clear_pointer(&node->backing_format, g_free);
    if (s->hdr.backing_file) {
        node->backing_file = g_strdup(s->hdr.backing_file);
        node->backing_format = g_strdup(s->hdr.backing_format);
    }

    /*
     * We maintain no bitmaps.  Persistent bitmaps are marked in use
     * (inconsistent, as QEMU marks them while it runs) so that they stay
     * referenced and QEMU knows they are stale; other autoclear bits are
     * cleared, as the spec asks of writers that do not know them.
     */
    if (!node->read_only && s->version >= 3 && s->autoclear &&
        !(node->open_flags & BLOCK_OPEN_CHECK)) {
        uint64_t keep = 0;
        uint8_t buf[8];

        if ((s->autoclear & QCOW2_AUTOCLEAR_BITMAPS) &&
            s->hdr.has_bitmaps_ext && bitmaps_mark_in_use(node) == 0) {
            keep = QCOW2_AUTOCLEAR_BITMAPS;
        }
        if (s->autoclear != keep) {
            qcow2_put_be64(buf, keep);
            ret = block_pwrite_co(node->file, 88, 8, buf, 0);
            if (ret >= 0) {
                ret = block_flush_co(node->file->node);
            }
            if (ret < 0) {
                error_setg_errno(errp, -ret,
                                 "Could not update qcow2 header");
                goto fail;
            }
            s->autoclear = keep;
        }
    }
    return 0;

fail:
    qcow2_free_state(node);
    return ret;
}

static int qcow2_open_co(BlockNode *node, json_object *opts, unsigned flags,
                         Error **errp)
{
    Qcow2State *s = node->opaque;
    BlockChild *file;
    int ret;

    qx_co_mutex_init(&s->lock);
    qx_co_queue_init(&s->data_io_queue);
    if (!take_options(node, opts, &s->l2_cache_bytes, &s->rb_cache_bytes,
                      errp)) {
        return -EINVAL;
    }
    file = block_open_child(node, opts, "file",
                            BLOCK_CHILD_DATA | BLOCK_CHILD_METADATA |
                                BLOCK_CHILD_PRIMARY,
                            false, errp);
    if (!file) {
        return -EINVAL;
    }
    ret = qcow2_load(node, s->l2_cache_bytes, s->rb_cache_bytes, errp);
    if (ret < 0) {
        block_detach_child(node, file);
    }
    return ret;
}

/*
 * qemu-img check: the caches go to the file, the self-contained checker
 * works on the file, and a repair makes us reload every table.
 */
static int qcow2_check_co(BlockNode *node, BlockCheckResult *res,
                          unsigned fix, Error **errp)
{
    Qcow2State *s = node->opaque;
    int ret = 0;

    qx_co_mutex_lock(&s->lock);
    if (!node->read_only && !s->broken) {
        ret = qcow2_flush_caches_locked(node);
        if (ret >= 0) {
            ret = block_flush_co(node->file->node);
        }
    }
    if (ret < 0) {
        qx_co_mutex_unlock(&s->lock);
        error_setg_errno(errp, -ret, "Could not flush the image");
        return ret;
    }
    ret = qcow2_check_child_co(node->file, res, fix, errp);
    if (ret >= 0 && fix) {
        Error *local_err = NULL;
        qcow2_free_state(node);
        s->broken = false;
        s->dirty_marked = false;
        if (qcow2_load(node, s->l2_cache_bytes, s->rb_cache_bytes,
                       &local_err) < 0) {
            /* Nothing usable is left: fail every further request. */
            s->broken = true;
            error_free(local_err);
        }
    }
    qx_co_mutex_unlock(&s->lock);
    return ret;
}

static void qcow2_close_co(BlockNode *node)
{
    Qcow2State *s = node->opaque;

    if (!node->read_only && !s->broken) {
        qx_co_mutex_lock(&s->lock);
        if (qcow2_flush_caches_locked(node) >= 0) {
            qcow2_mark_clean(node);
        }
        qx_co_mutex_unlock(&s->lock);
    }
    qcow2_free_state(node);
}

static void qcow2_refresh_limits(BlockNode *node, BlockLimits *l)
{
    Qcow2State *s = node->opaque;

    l->request_alignment = 1;
    l->pwrite_zeroes_alignment = (uint32_t)s->subcluster_size;
    l->pdiscard_alignment = (uint32_t)s->cluster_size;
    l->opt_transfer = s->cluster_size;
}

static int64_t qcow2_getlength_co(BlockNode *node)
{
    Qcow2State *s = node->opaque;

    return (int64_t)s->size;
}

static const char *const qcow2_strong_options[] = {
    NULL,
};

const BlockDriver block_driver_qcow2 = {
    .format_name = "qcow2",
    .state_size = sizeof(Qcow2State),
    .strong_options = qcow2_strong_options,
    .create_opts = qcow2_create_opts,
    .probe = qcow2_probe,
    .open_co = qcow2_open_co,
    .close_co = qcow2_close_co,
    .create_co = qcow2_co_create,
    .refresh_limits = qcow2_refresh_limits,
    .preadv_co = qcow2_co_preadv,
    .pwritev_co = qcow2_co_pwritev,
    .pwrite_zeroes_co = qcow2_co_pwrite_zeroes,
    .pdiscard_co = qcow2_co_pdiscard,
    .flush_co = qcow2_co_flush,
    .block_status_co = qcow2_co_block_status,
    .truncate_co = qcow2_co_truncate,
    .getlength_co = qcow2_getlength_co,
    .get_info = qcow2_get_info,
    .get_specific_info = qcow2_get_specific_info,
    .check_co = qcow2_check_co,
    .supported_write_flags = BLOCK_REQ_WRITE_COMPRESSED,
    .supported_zero_flags = BLOCK_REQ_MAY_UNMAP | BLOCK_REQ_NO_FALLBACK,
};
