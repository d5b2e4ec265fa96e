/*
 * qcow2 header: parse + validate from a buffer, serialise back.
 *
 * The checks and their order follow what QEMU 7.2 reports when opening an
 * image (observed by corrupting images it made and running qemu-img info),
 * so the first problem of a doubly broken image gives the same message.
 */
#include <inttypes.h>
#include <string.h>

#include "qcow2-format.h"

#define ROUND_UP8(x) (((x) + 7) & ~(uint64_t)7)

/* Size of one snapshot table entry header, for the offset check. */
#define QCOW2_SNAPSHOT_HEADER_SIZE 40
#define QCOW2_BITMAPS_EXT_SIZE 24
#define QCOW2_CRYPTO_EXT_SIZE 16
#define QCOW2_MAX_BITMAPS 65535
#define QCOW2_MAX_BITMAP_DIRECTORY_SIZE (1024u * QCOW2_MAX_BITMAPS)

static const Qcow2FeatureName standard_features[] = {
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, 0, "dirty bit" },
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, 1, "corrupt bit" },
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, 2, "external data file" },
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, 3, "compression type" },
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, 4, "extended L2 entries" },
    { QCOW2_FEAT_TYPE_COMPATIBLE, 0, "lazy refcounts" },
    { QCOW2_FEAT_TYPE_AUTOCLEAR, 0, "bitmaps" },
    { QCOW2_FEAT_TYPE_AUTOCLEAR, 1, "raw external data" },
};

const Qcow2FeatureName *qcow2_standard_features(size_t *count)
{
    *count = G_N_ELEMENTS(standard_features);
    return standard_features;
}

void qcow2_header_free(Qcow2Header *h)
{
    g_free(h->backing_file);
    g_free(h->backing_format);
    g_free(h->data_file);
    g_free(h->features);
    for (size_t i = 0; i < h->nb_unknown_exts; i++) {
        g_free(h->unknown_exts[i].data);
    }
    g_free(h->unknown_exts);
    memset(h, 0, sizeof(*h));
}

/*
 * The table is valid as an offset/size pair if it does not wrap past
 * INT64_MAX and starts on a cluster boundary (QEMU's rule for every table).
 */
static bool table_offset_ok(uint64_t offset, uint64_t entries,
                            uint64_t entry_len, uint32_t cluster_bits)
{
    uint64_t size;

    if (entries > INT64_MAX / entry_len) {
        return false;
    }
    size = entries * entry_len;
    if (INT64_MAX - size < offset) {
        return false;
    }
    return (offset & ((1ull << cluster_bits) - 1)) == 0;
}

/* Number of L1 entries needed to map size bytes. */
static uint64_t size_to_l1(uint64_t size, uint32_t cluster_bits, bool extl2)
{
    uint32_t shift = cluster_bits + cluster_bits - (extl2 ? 4 : 3);

    if (shift >= 64) {
        return size ? 1 : 0;
    }
    return (size >> shift) + ((size & ((1ull << shift) - 1)) != 0);
}

/* Copy of an on-disk string of at most len bytes, cut at the first NUL. */
static char *dup_disk_string(const uint8_t *p, size_t len)
{
    return g_strndup((const char *)p, len);
}

/*
 * Collects the feature name table from the extension area without
 * validating anything else: QEMU consults it to name unknown features
 * before it reads (and checks) the other extensions.
 */
static void scan_feature_table(const uint8_t *c, uint64_t start,
                               uint64_t end, GString *out, uint64_t *mask)
{
    uint64_t off = start;

    while (off + 8 <= end) {
        uint32_t type = qcow2_be32(c + off);
        uint32_t len = qcow2_be32(c + off + 4);

        off += 8;
        if (type == QCOW2_EXT_END || len > end - off) {
            return;
        }
        if (type == QCOW2_EXT_FEATURE_TABLE) {
            for (uint32_t i = 0; i + QCOW2_FEATURE_ENTRY_SIZE <= len;
                 i += QCOW2_FEATURE_ENTRY_SIZE) {
                const uint8_t *e = c + off + i;

                if (e[0] != QCOW2_FEAT_TYPE_INCOMPATIBLE || e[1] >= 64 ||
                    !(*mask & (1ull << e[1]))) {
                    continue;
                }
                if (out->len) {
                    g_string_append(out, ", ");
                }
                g_string_append_len(out, (const char *)e + 2,
                                    strnlen((const char *)e + 2,
                                            QCOW2_FEATURE_NAME_LEN));
                *mask &= ~(1ull << e[1]);
            }
        }
        off += ROUND_UP8(len);
    }
}

static bool check_compression(const Qcow2Header *h, Error **errp)
{
    if (h->compression_type != QCOW2_COMPRESSION_ZLIB &&
        h->compression_type != QCOW2_COMPRESSION_ZSTD) {
        error_setg(errp, "qcow2: unknown compression type: %u",
                   h->compression_type);
        return false;
    }
    if (h->compression_type == QCOW2_COMPRESSION_ZLIB) {
        if (h->incompatible_features & QCOW2_INCOMPAT_COMPRESSION) {
            error_setg(errp, "qcow2: Compression type incompatible feature "
                       "bit must not be set");
            return false;
        }
    } else if (!(h->incompatible_features & QCOW2_INCOMPAT_COMPRESSION)) {
        error_setg(errp, "qcow2: Compression type incompatible feature bit "
                   "must be set");
        return false;
    }
    return true;
}

static bool parse_bitmaps_ext(Qcow2Header *h, const uint8_t *d, uint32_t len,
                              Error **errp)
{
    uint32_t reserved;

    if (len != QCOW2_BITMAPS_EXT_SIZE) {
        error_setg(errp, "bitmaps_ext: Invalid extension length");
        return false;
    }
    if (!(h->autoclear_features & QCOW2_AUTOCLEAR_BITMAPS)) {
        /*
         * A program unaware of bitmaps touched the image: the bitmaps are
         * stale and ignored (the driver warns about it).
         */
        return true;
    }
    h->nb_bitmaps = qcow2_be32(d);
    reserved = qcow2_be32(d + 4);
    h->bitmap_directory_size = qcow2_be64(d + 8);
    h->bitmap_directory_offset = qcow2_be64(d + 16);
    if (reserved != 0) {
        error_setg(errp, "bitmaps_ext: reserved field is not zero");
        return false;
    }
    if (h->nb_bitmaps > QCOW2_MAX_BITMAPS) {
        error_setg(errp, "bitmaps_ext: Image has %" PRIu32 " bitmaps, "
                   "exceeding the QEMU supported maximum of %d",
                   h->nb_bitmaps, QCOW2_MAX_BITMAPS);
        return false;
    }
    if (h->nb_bitmaps == 0) {
        error_setg(errp, "found bitmaps extension with zero bitmaps");
        return false;
    }
    if (h->bitmap_directory_offset & ((1ull << h->cluster_bits) - 1)) {
        error_setg(errp, "bitmaps_ext: invalid bitmap directory offset");
        return false;
    }
    if (h->bitmap_directory_size > QCOW2_MAX_BITMAP_DIRECTORY_SIZE) {
        error_setg(errp, "bitmaps_ext: bitmap directory size (%" PRIu64
                   ") exceeds the maximum supported size (%u)",
                   h->bitmap_directory_size,
                   QCOW2_MAX_BITMAP_DIRECTORY_SIZE);
        return false;
    }
    h->has_bitmaps_ext = true;
    return true;
}

/* Reads extensions from c[start, end) into h. */
static bool parse_extensions(Qcow2Header *h, const uint8_t *c, uint64_t start,
                             uint64_t end, Error **errp)
{
    uint64_t off = start;

    while (off < end) {
        uint32_t type, len;
        const uint8_t *d;

        if (end - off < 8) {
            error_setg(errp, "Header extension too large");
            return false;
        }
        type = qcow2_be32(c + off);
        len = qcow2_be32(c + off + 4);
        off += 8;
        /* QEMU checks the length before it looks at the type */
        if (len > end - off) {
            error_setg(errp, "Header extension too large");
            return false;
        }
        d = c + off;

        switch (type) {
        case QCOW2_EXT_END:
            return true;
        case QCOW2_EXT_BACKING_FORMAT:
            if (len > QCOW2_MAX_BACKING_FORMAT_NAME) {
                error_setg(errp, "ERROR: ext_backing_format: len=%" PRIu32
                           " too large (>=%d)", len,
                           QCOW2_MAX_BACKING_FORMAT_NAME + 1);
                return false;
            }
            g_free(h->backing_format);
            h->backing_format = dup_disk_string(d, len);
            break;
        case QCOW2_EXT_FEATURE_TABLE: {
            size_t n = len / QCOW2_FEATURE_ENTRY_SIZE;

            g_free(h->features);
            h->features = g_new0(Qcow2FeatureName, n ? n : 1);
            h->nb_features = n;
            for (size_t i = 0; i < n; i++) {
                const uint8_t *e = d + i * QCOW2_FEATURE_ENTRY_SIZE;

                h->features[i].type = e[0];
                h->features[i].bit = e[1];
                memcpy(h->features[i].name, e + 2, QCOW2_FEATURE_NAME_LEN);
            }
            break;
        }
        case QCOW2_EXT_CRYPTO:
            if (h->crypt_method != QCOW2_CRYPT_LUKS) {
                error_setg(errp, "CRYPTO header extension only expected "
                           "with LUKS encryption method");
                return false;
            }
            if (len != QCOW2_CRYPTO_EXT_SIZE) {
                error_setg(errp, "CRYPTO header extension size %" PRIu32
                           ", but expected size %d", len,
                           QCOW2_CRYPTO_EXT_SIZE);
                return false;
            }
            h->has_crypto_ext = true;
            h->crypto_header_offset = qcow2_be64(d);
            h->crypto_header_length = qcow2_be64(d + 8);
            break;
        case QCOW2_EXT_BITMAPS:
            if (!parse_bitmaps_ext(h, d, len, errp)) {
                return false;
            }
            break;
        case QCOW2_EXT_DATA_FILE:
            g_free(h->data_file);
            h->data_file = dup_disk_string(d, len);
            break;
        default: {
            Qcow2UnknownExt *u;

            h->unknown_exts = g_renew(Qcow2UnknownExt, h->unknown_exts,
                                      h->nb_unknown_exts + 1);
            u = &h->unknown_exts[h->nb_unknown_exts++];
            u->type = type;
            u->len = len;
            u->data = g_memdup2(d, len);
            break;
        }
        }
        off += ROUND_UP8(len);
    }
    return true;
}

static bool parse_fixed(Qcow2Header *h, const uint8_t *c, Error **errp)
{
    uint64_t l1_needed;

    h->backing_file_offset = qcow2_be64(c + 8);
    h->backing_file_size = qcow2_be32(c + 16);
    h->size = qcow2_be64(c + 24);
    h->crypt_method = qcow2_be32(c + 32);
    h->l1_size = qcow2_be32(c + 36);
    h->l1_table_offset = qcow2_be64(c + 40);
    h->refcount_table_offset = qcow2_be64(c + 48);
    h->refcount_table_clusters = qcow2_be32(c + 56);
    h->nb_snapshots = qcow2_be32(c + 60);
    h->snapshots_offset = qcow2_be64(c + 64);

    if (h->version == 2) {
        h->refcount_order = 4;
        h->header_length = QCOW2_HEADER_V2_SIZE;
    } else {
        h->incompatible_features = qcow2_be64(c + 72);
        h->compatible_features = qcow2_be64(c + 80);
        h->autoclear_features = qcow2_be64(c + 88);
        h->refcount_order = qcow2_be32(c + 96);
        h->header_length = qcow2_be32(c + 100);
        if (h->header_length < QCOW2_HEADER_V3_SIZE) {
            error_setg(errp, "qcow2 header too short");
            return false;
        }
        if (h->header_length > (1u << h->cluster_bits)) {
            error_setg(errp, "qcow2 header exceeds cluster size");
            return false;
        }
        if (h->header_length > QCOW2_HEADER_V3_SIZE) {
            h->compression_type = c[104];
        }
    }

    if (h->backing_file_offset > (1ull << h->cluster_bits)) {
        error_setg(errp, "Invalid backing file offset");
        return false;
    }

    if (h->incompatible_features & ~QCOW2_INCOMPAT_MASK) {
        uint64_t mask = h->incompatible_features & ~QCOW2_INCOMPAT_MASK;
        uint64_t end = h->backing_file_offset ? h->backing_file_offset
                                              : (1ull << h->cluster_bits);
        g_autoptr(GString) names = g_string_new(NULL);

        scan_feature_table(c, h->header_length, end, names, &mask);
        if (mask) {
            if (names->len) {
                g_string_append(names, ", ");
            }
            g_string_append_printf(names,
                                   "Unknown incompatible feature: %" PRIx64,
                                   mask);
        }
        error_setg(errp, "Unsupported qcow2 feature(s): %s", names->str);
        return false;
    }

    if (!check_compression(h, errp)) {
        return false;
    }

    if (h->refcount_order > QCOW2_MAX_REFCOUNT_ORDER) {
        error_setg(errp, "Reference count entry width too large; may not "
                   "exceed 64 bits");
        return false;
    }

    if (h->refcount_table_clusters >
        QCOW2_MAX_REFTABLE_BYTES >> h->cluster_bits) {
        error_setg(errp, "Reference count table too large");
        return false;
    }
    if (h->refcount_table_clusters == 0) {
        error_setg(errp, "Image does not contain a reference count table");
        return false;
    }
    if (!table_offset_ok(h->refcount_table_offset, h->refcount_table_clusters,
                         1ull << h->cluster_bits, h->cluster_bits)) {
        error_setg(errp, "Reference count table offset invalid");
        return false;
    }

    if (h->nb_snapshots > QCOW2_MAX_SNAPSHOTS) {
        error_setg(errp, "Snapshot table too large");
        return false;
    }
    if (!table_offset_ok(h->snapshots_offset, h->nb_snapshots,
                         QCOW2_SNAPSHOT_HEADER_SIZE, h->cluster_bits)) {
        error_setg(errp, "Snapshot table offset invalid");
        return false;
    }

    if (h->l1_size > QCOW2_MAX_L1_BYTES / 8) {
        error_setg(errp, "Active L1 table too large");
        return false;
    }
    l1_needed = size_to_l1(h->size, h->cluster_bits,
                           h->incompatible_features & QCOW2_INCOMPAT_EXTL2);
    if (l1_needed > INT32_MAX) {
        error_setg(errp, "Image is too big");
        return false;
    }
    if (h->l1_size < l1_needed) {
        error_setg(errp, "L1 table is too small");
        return false;
    }
    if (!table_offset_ok(h->l1_table_offset, h->l1_size, 8,
                         h->cluster_bits)) {
        error_setg(errp, "Active L1 table offset invalid");
        return false;
    }

    if (h->crypt_method > QCOW2_CRYPT_LUKS) {
        error_setg(errp, "Unsupported encryption method %" PRIu32,
                   h->crypt_method);
        return false;
    }
    return true;
}

bool qcow2_header_parse(const uint8_t *buf, size_t len, Qcow2Header *h,
                        Error **errp)
{
    uint8_t fixed[QCOW2_HEADER_V3_SIZE] = { 0 };
    g_autofree uint8_t *c = NULL;
    size_t cs;
    uint64_t ext_end;

    memset(h, 0, sizeof(*h));
    memcpy(fixed, buf, MIN(len, sizeof(fixed)));

    if (qcow2_be32(fixed) != QCOW2_MAGIC) {
        error_setg(errp, "Image is not in qcow2 format");
        return false;
    }
    h->version = qcow2_be32(fixed + 4);
    if (h->version < 2 || h->version > 3) {
        error_setg(errp, "Unsupported qcow2 version %" PRIu32, h->version);
        goto fail;
    }
    h->cluster_bits = qcow2_be32(fixed + 20);
    if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
        h->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        error_setg(errp, "Unsupported cluster size: 2^%" PRIu32,
                   h->cluster_bits);
        goto fail;
    }

    /* Work on one zero-padded cluster: bytes past the input read as 0 */
    cs = (size_t)1 << h->cluster_bits;
    c = g_malloc0(cs);
    memcpy(c, buf, MIN(len, cs));

    if (!parse_fixed(h, c, errp)) {
        goto fail;
    }

    ext_end = h->backing_file_offset ? h->backing_file_offset : cs;
    if (!parse_extensions(h, c, h->header_length, ext_end, errp)) {
        goto fail;
    }

    if (h->backing_file_offset) {
        if (h->backing_file_size > QCOW2_MAX_BACKING_FILE_NAME ||
            h->backing_file_size > cs - h->backing_file_offset) {
            error_setg(errp, "Backing file name too long");
            goto fail;
        }
        h->backing_file = dup_disk_string(c + h->backing_file_offset,
                                          h->backing_file_size);
    }
    return true;

fail:
    qcow2_header_free(h);
    return false;
}

/* Appends one extension at *off; false if it does not fit below limit. */
static bool put_ext(uint8_t *buf, size_t limit, size_t *off, uint32_t type,
                    const void *data, size_t len)
{
    size_t padded = ROUND_UP8(len);

    if (len > UINT32_MAX || *off > limit || limit - *off < 8 ||
        limit - *off - 8 < padded) {
        return false;
    }
    qcow2_put_be32(buf + *off, type);
    qcow2_put_be32(buf + *off + 4, (uint32_t)len);
    if (len) {
        memcpy(buf + *off + 8, data, len);
    }
    *off += 8 + padded;
    return true;
}

bool qcow2_header_serialize(Qcow2Header *h, uint8_t *buf, size_t buf_size,
                            Error **errp)
{
    size_t off;
    bool ok = true;

    if (buf_size < QCOW2_HEADER_V3_FULL_SIZE) {
        error_setg(errp, "qcow2 header buffer too small");
        return false;
    }
    memset(buf, 0, buf_size);
    h->header_length = h->version >= 3 ? QCOW2_HEADER_V3_FULL_SIZE
                                       : QCOW2_HEADER_V2_SIZE;

    qcow2_put_be32(buf, QCOW2_MAGIC);
    qcow2_put_be32(buf + 4, h->version);
    qcow2_put_be32(buf + 20, h->cluster_bits);
    qcow2_put_be64(buf + 24, h->size);
    qcow2_put_be32(buf + 32, h->crypt_method);
    qcow2_put_be32(buf + 36, h->l1_size);
    qcow2_put_be64(buf + 40, h->l1_table_offset);
    qcow2_put_be64(buf + 48, h->refcount_table_offset);
    qcow2_put_be32(buf + 56, h->refcount_table_clusters);
    qcow2_put_be32(buf + 60, h->nb_snapshots);
    qcow2_put_be64(buf + 64, h->snapshots_offset);
    if (h->version >= 3) {
        qcow2_put_be64(buf + 72, h->incompatible_features);
        qcow2_put_be64(buf + 80, h->compatible_features);
        qcow2_put_be64(buf + 88, h->autoclear_features);
        qcow2_put_be32(buf + 96, h->refcount_order);
        qcow2_put_be32(buf + 100, h->header_length);
        buf[104] = h->compression_type;
    }

    off = h->header_length;
    if (h->backing_format) {
        ok = ok && put_ext(buf, buf_size, &off, QCOW2_EXT_BACKING_FORMAT,
                           h->backing_format, strlen(h->backing_format));
    }
    if (h->data_file) {
        ok = ok && put_ext(buf, buf_size, &off, QCOW2_EXT_DATA_FILE,
                           h->data_file, strlen(h->data_file));
    }
    if (h->has_crypto_ext) {
        uint8_t d[QCOW2_CRYPTO_EXT_SIZE];

        qcow2_put_be64(d, h->crypto_header_offset);
        qcow2_put_be64(d + 8, h->crypto_header_length);
        ok = ok && put_ext(buf, buf_size, &off, QCOW2_EXT_CRYPTO, d,
                           sizeof(d));
    }
    if (h->version >= 3 && h->nb_features) {
        size_t n = h->nb_features;
        g_autofree uint8_t *d = g_malloc0(n * QCOW2_FEATURE_ENTRY_SIZE);

        for (size_t i = 0; i < n; i++) {
            uint8_t *e = d + i * QCOW2_FEATURE_ENTRY_SIZE;

            e[0] = h->features[i].type;
            e[1] = h->features[i].bit;
            memcpy(e + 2, h->features[i].name,
                   strnlen(h->features[i].name, QCOW2_FEATURE_NAME_LEN));
        }
        ok = ok && put_ext(buf, buf_size, &off, QCOW2_EXT_FEATURE_TABLE, d,
                           n * QCOW2_FEATURE_ENTRY_SIZE);
    }
    if (h->has_bitmaps_ext) {
        uint8_t d[QCOW2_BITMAPS_EXT_SIZE] = { 0 };

        qcow2_put_be32(d, h->nb_bitmaps);
        qcow2_put_be64(d + 8, h->bitmap_directory_size);
        qcow2_put_be64(d + 16, h->bitmap_directory_offset);
        ok = ok && put_ext(buf, buf_size, &off, QCOW2_EXT_BITMAPS, d,
                           sizeof(d));
    }
    for (size_t i = 0; i < h->nb_unknown_exts; i++) {
        ok = ok && put_ext(buf, buf_size, &off, h->unknown_exts[i].type,
                           h->unknown_exts[i].data, h->unknown_exts[i].len);
    }
    ok = ok && put_ext(buf, buf_size, &off, QCOW2_EXT_END, NULL, 0);
    if (!ok) {
        error_setg(errp, "header extensions do not fit in the first "
                   "cluster");
        return false;
    }

    if (h->backing_file) {
        size_t n = strlen(h->backing_file);

        if (n > QCOW2_MAX_BACKING_FILE_NAME || n > buf_size - off) {
            error_setg(errp, "Backing file name too long");
            return false;
        }
        memcpy(buf + off, h->backing_file, n);
        h->backing_file_offset = off;
        h->backing_file_size = (uint32_t)n;
    } else {
        h->backing_file_offset = 0;
        h->backing_file_size = 0;
    }
    qcow2_put_be64(buf + 8, h->backing_file_offset);
    qcow2_put_be32(buf + 16, h->backing_file_size);
    return true;
}
