/*
 * qcow2 on-disk format knowledge, as pure functions over byte buffers.
 *
 * Private to the qcow2 driver.  Nothing here does I/O: callers hand in the
 * bytes they read and get back host-endian structures (or the reverse), so
 * every function can be unit-tested and fuzzed on its own.  All input is
 * untrusted: parsers bound every length before use and report problems
 * through Error **errp with QEMU 7.2's messages.
 *
 * On-disk integers are big-endian.  Facts come from QEMU's
 * docs/interop/qcow2.txt and from images made by QEMU 7.2's qemu-img.
 */
#ifndef QX_BLOCK_QCOW2_FORMAT_H
#define QX_BLOCK_QCOW2_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qx/util/error.h"

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */

#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_DEFAULT_CLUSTER_BITS 16

/* Fixed header sizes: v2 ends after snapshots_offset, v3 after header_length */
#define QCOW2_HEADER_V2_SIZE 72
#define QCOW2_HEADER_V3_SIZE 104
/* v3 header with the compression type byte, padded to 8 */
#define QCOW2_HEADER_V3_FULL_SIZE 112

/* Limits QEMU enforces when opening an image */
#define QCOW2_MAX_L1_BYTES (32u * 1024 * 1024)
#define QCOW2_MAX_REFTABLE_BYTES (8u * 1024 * 1024)
#define QCOW2_MAX_SNAPSHOTS 65536
#define QCOW2_MAX_BACKING_FILE_NAME 1023
#define QCOW2_MAX_BACKING_FORMAT_NAME 15 /* "len=%u too large (>=16)" */
#define QCOW2_MAX_REFCOUNT_ORDER 6

/* Header extension types */
#define QCOW2_EXT_END 0x00000000u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE 0x6803f857u
#define QCOW2_EXT_BITMAPS 0x23852875u
#define QCOW2_EXT_CRYPTO 0x0537be77u
#define QCOW2_EXT_DATA_FILE 0x44415441u

/* Feature bits */
#define QCOW2_INCOMPAT_DIRTY (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ull << 4)
#define QCOW2_INCOMPAT_MASK 0x1full
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)
#define QCOW2_AUTOCLEAR_BITMAPS (1ull << 0)
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW (1ull << 1)

/* Feature name table entry types */
#define QCOW2_FEAT_TYPE_INCOMPATIBLE 0
#define QCOW2_FEAT_TYPE_COMPATIBLE 1
#define QCOW2_FEAT_TYPE_AUTOCLEAR 2
#define QCOW2_FEATURE_NAME_LEN 46
#define QCOW2_FEATURE_ENTRY_SIZE 48

#define QCOW2_CRYPT_NONE 0
#define QCOW2_CRYPT_AES 1
#define QCOW2_CRYPT_LUKS 2

#define QCOW2_COMPRESSION_ZLIB 0
#define QCOW2_COMPRESSION_ZSTD 1

/* L1/L2 entry flags and masks */
#define QCOW2_OFLAG_COPIED (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED (1ull << 62)
#define QCOW2_OFLAG_ZERO (1ull << 0)
#define QCOW2_L1E_OFFSET_MASK 0x00fffffffffffe00ull
#define QCOW2_L2E_OFFSET_MASK 0x00fffffffffffe00ull
/* Bits that must be zero in a standard L1 entry (1-8 and 56-62) */
#define QCOW2_L1E_RESERVED_MASK 0x7f000000000001feull
/* Bits that must be zero in a standard L2 entry (1-8 and 56-61) */
#define QCOW2_L2E_RESERVED_MASK 0x3f000000000001feull

#define QCOW2_SUBCLUSTERS_PER_CLUSTER 32

typedef struct Qcow2FeatureName {
    uint8_t type;
    uint8_t bit;
    char name[QCOW2_FEATURE_NAME_LEN + 1]; /* NUL-terminated copy */
} Qcow2FeatureName;

/* An extension we do not interpret, kept so a rewrite preserves it. */
typedef struct Qcow2UnknownExt {
    uint32_t type;
    uint32_t len;
    uint8_t *data;
} Qcow2UnknownExt;

/*
 * A parsed header with its extensions.  Fields are host-endian copies of the
 * on-disk ones.  v2 images read as if they had the v3 defaults
 * (refcount_order 4, header_length 72, no features).
 */
typedef struct Qcow2Header {
    uint32_t version;
    uint64_t backing_file_offset;
    uint32_t backing_file_size;
    uint32_t cluster_bits;
    uint64_t size;
    uint32_t crypt_method;
    uint32_t l1_size;
    uint64_t l1_table_offset;
    uint64_t refcount_table_offset;
    uint32_t refcount_table_clusters;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    uint64_t incompatible_features;
    uint64_t compatible_features;
    uint64_t autoclear_features;
    uint32_t refcount_order;
    uint32_t header_length;
    uint8_t compression_type;

    /* Extensions; pointers are g_malloc'd and owned by the header. */
    char *backing_file;   /* NULL when none */
    char *backing_format; /* NULL when no backing format extension */
    char *data_file;      /* NULL when no external data file extension */
    Qcow2FeatureName *features;
    size_t nb_features;
    bool has_bitmaps_ext;
    uint32_t nb_bitmaps;
    uint64_t bitmap_directory_size;
    uint64_t bitmap_directory_offset;
    bool has_crypto_ext;
    uint64_t crypto_header_offset;
    uint64_t crypto_header_length;
    Qcow2UnknownExt *unknown_exts;
    size_t nb_unknown_exts;
} Qcow2Header;

/* --- header (qcow2-header.c) --- */

/*
 * Parses and validates the header at the start of an image.  buf holds the
 * first len bytes of the image file (normally one cluster, fewer when the
 * file is shorter; missing bytes read as zeroes, as past-EOF reads do).
 * Applies every check QEMU 7.2 makes when opening, in its order, with its
 * messages ("Unsupported qcow2 version 4", ...).  On success fills *h (free
 * with qcow2_header_free()); on failure *h is left empty.
 */
bool qcow2_header_parse(const uint8_t *buf, size_t len, Qcow2Header *h,
                        Error **errp);

/* Frees the extension data of *h and zeroes it. */
void qcow2_header_free(Qcow2Header *h);

/*
 * The standard feature name table QEMU 7.2 writes into v3 images, in its
 * order.  *count receives the number of entries.
 */
const Qcow2FeatureName *qcow2_standard_features(size_t *count);

/*
 * Serialises h into buf (buf_size bytes, normally one cluster) the way
 * QEMU 7.2 writes a header: fixed fields, then extensions in the order
 * backing format, data file, crypto, feature table (v3 only, taken from
 * h->features), bitmaps, unknown ones, end marker, then the backing file
 * name.  Sets h->header_length and h->backing_file_offset/size to what was
 * written.  The rest of buf is zeroed.  Fails when it does not fit.
 */
bool qcow2_header_serialize(Qcow2Header *h, uint8_t *buf, size_t buf_size,
                            Error **errp);

/* --- entries (qcow2-entries.c) --- */

typedef enum Qcow2ClusterType {
    QCOW2_CLUSTER_UNALLOCATED,
    QCOW2_CLUSTER_ZERO_PLAIN, /* zero flag, no host offset */
    QCOW2_CLUSTER_ZERO_ALLOC, /* zero flag with a preallocated host cluster */
    QCOW2_CLUSTER_NORMAL,
    QCOW2_CLUSTER_COMPRESSED,
} Qcow2ClusterType;

typedef struct Qcow2L2Entry {
    Qcow2ClusterType type;
    bool copied;            /* bit 63: refcount is exactly one */
    uint64_t host_offset;   /* cluster offset, or compressed data offset */
    uint64_t compressed_size; /* bytes spanned by compressed data (sectors) */
    uint32_t alloc_bitmap;  /* extended L2 only */
    uint32_t zero_bitmap;   /* extended L2 only */
} Qcow2L2Entry;

/* L1 entries: host offset of an L2 table plus the copied flag. */
uint64_t qcow2_l1_entry_offset(uint64_t entry);
bool qcow2_l1_entry_is_copied(uint64_t entry);
bool qcow2_l1_entry_has_reserved_bits(uint64_t entry);
uint64_t qcow2_l1_entry_make(uint64_t l2_offset, bool copied);

/*
 * Decodes a (non-extended) L2 entry.  Returns false if reserved bits are set
 * or the host offset is not cluster-aligned; *e is filled anyway so callers
 * can report it.  version decides whether bit 0 means "zero" (v3).
 */
bool qcow2_l2_entry_decode(uint64_t entry, uint32_t cluster_bits,
                           uint32_t version, Qcow2L2Entry *e);
/* Encodes a standard or compressed entry; ignores the bitmaps. */
uint64_t qcow2_l2_entry_encode(const Qcow2L2Entry *e, uint32_t cluster_bits);

/* Extended L2: entry is the first word, bitmap the second. */
bool qcow2_ext_l2_entry_decode(uint64_t entry, uint64_t bitmap,
                               uint32_t cluster_bits, Qcow2L2Entry *e);
void qcow2_ext_l2_entry_encode(const Qcow2L2Entry *e, uint32_t cluster_bits,
                               uint64_t *entry, uint64_t *bitmap);

/*
 * Compressed cluster descriptor: x = 62 - (cluster_bits - 8) low bits hold
 * the host byte offset, bits x..61 the number of additional 512-byte
 * sectors.  nb_sectors counts all sectors touched (>= 1).
 */
uint64_t qcow2_compressed_encode(uint64_t host_offset, uint64_t nb_sectors,
                                 uint32_t cluster_bits);
void qcow2_compressed_decode(uint64_t entry, uint32_t cluster_bits,
                             uint64_t *host_offset, uint64_t *nb_sectors);

/* Refcount block entries; refcount_order 0..6 (1..64 bits). */
uint64_t qcow2_refcount_get(const uint8_t *block, uint64_t index,
                            uint32_t refcount_order);
void qcow2_refcount_set(uint8_t *block, uint64_t index,
                        uint32_t refcount_order, uint64_t value);
uint64_t qcow2_refcount_max(uint32_t refcount_order);

/* Big-endian helpers shared by the qcow2 files. */
static inline uint64_t qcow2_be64(const uint8_t *p)
{
    return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) |
           ((uint64_t)p[2] << 40) | ((uint64_t)p[3] << 32) |
           ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) |
           ((uint64_t)p[6] << 8) | p[7];
}

static inline uint32_t qcow2_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

static inline void qcow2_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = v & 0xff;
        v >>= 8;
    }
}

static inline void qcow2_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        p[i] = v & 0xff;
        v >>= 8;
    }
}

/* --- layout of a new image (qcow2-layout.c) --- */

typedef enum Qcow2Prealloc {
    QCOW2_PREALLOC_OFF,
    QCOW2_PREALLOC_METADATA,
} Qcow2Prealloc;

typedef struct Qcow2CreateOpts {
    uint64_t size;
    uint32_t cluster_bits;
    uint32_t version;          /* 2 (compat=0.10) or 3 (compat=1.1) */
    uint32_t refcount_order;
    bool extended_l2;
    uint8_t compression_type;
    bool lazy_refcounts;
    const char *backing_file;  /* NULL: none */
    const char *backing_format; /* NULL: none */
    const char *data_file;     /* NULL: none */
    bool data_file_raw;
    Qcow2Prealloc prealloc;
} Qcow2CreateOpts;

typedef struct Qcow2Write {
    uint64_t offset;
    uint64_t len;
    uint8_t *data;
} Qcow2Write;

/*
 * What `qemu-img create` writes for opts: writes applied in order (a later
 * one may overwrite an earlier one), then the file is truncated or extended
 * to file_length.  Unwritten bytes are zero.
 */
typedef struct Qcow2Layout {
    Qcow2Write *writes;
    size_t nb_writes;
    uint64_t file_length;
} Qcow2Layout;

/*
 * Computes the layout of a new image, byte-identical to QEMU 7.2's
 * qemu-img create for the same options.  Validates the options with QEMU's
 * messages.  Free the result with qcow2_layout_free().
 */
bool qcow2_layout_create(const Qcow2CreateOpts *opts, Qcow2Layout *layout,
                         Error **errp);
void qcow2_layout_free(Qcow2Layout *layout);

/* --- metadata overlap checks (qcow2-overlap.c) --- */

typedef enum Qcow2MetadataKind {
    QCOW2_OL_MAIN_HEADER = 1 << 0,
    QCOW2_OL_ACTIVE_L1 = 1 << 1,
    QCOW2_OL_ACTIVE_L2 = 1 << 2,
    QCOW2_OL_REFCOUNT_TABLE = 1 << 3,
    QCOW2_OL_REFCOUNT_BLOCK = 1 << 4,
    QCOW2_OL_SNAPSHOT_TABLE = 1 << 5,
    QCOW2_OL_INACTIVE_L1 = 1 << 6,
    QCOW2_OL_INACTIVE_L2 = 1 << 7,
    QCOW2_OL_BITMAP_DIRECTORY = 1 << 8,
} Qcow2MetadataKind;

typedef struct Qcow2MetaRange {
    uint64_t offset;
    uint64_t len;
    Qcow2MetadataKind kind;
} Qcow2MetaRange;

/*
 * The set of host byte ranges holding metadata.  Ranges are added as the
 * driver learns them; queries are answered from a sorted copy.
 */
typedef struct Qcow2MetadataMap {
    Qcow2MetaRange *ranges;
    size_t nb_ranges;
    size_t capacity;
    bool sorted;
} Qcow2MetadataMap;

void qcow2_metamap_init(Qcow2MetadataMap *map);
void qcow2_metamap_free(Qcow2MetadataMap *map);
/* Adds [offset, offset + len); len 0 is ignored. */
void qcow2_metamap_add(Qcow2MetadataMap *map, Qcow2MetadataKind kind,
                       uint64_t offset, uint64_t len);
/* Removes every range of kind that starts at offset (a freed table). */
void qcow2_metamap_remove(Qcow2MetadataMap *map, Qcow2MetadataKind kind,
                          uint64_t offset);
/*
 * Returns the first (lowest offset) kind among ignore-filtered ranges that
 * intersects [offset, offset + len), or 0 when none does.  Ranges are
 * compared after rounding to cluster_size, as QEMU's checks do.
 */
Qcow2MetadataKind qcow2_metamap_check(Qcow2MetadataMap *map,
                                      uint64_t offset, uint64_t len,
                                      uint32_t cluster_bits,
                                      unsigned ignore);
/* Human name of a kind, as QEMU's corruption messages print it. */
const char *qcow2_metadata_kind_name(Qcow2MetadataKind kind);

#endif
