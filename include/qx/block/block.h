/*
 * The block layer: a graph of nodes, each run by one driver (a protocol
 * such as "file" or "null-co", or a format such as "raw" or "qcow2" reading
 * its "file" child), and the generic I/O entry points that enforce every
 * driver's contract (bounds, alignment, transfer limits, zero-write
 * fallback, detect-zeroes, request serialisation, flush/drain tracking).
 *
 * Devices, the NBD server and tools do not use this header's I/O functions
 * directly: they go through a BlockBackend (block-backend.h).  Drivers read
 * their children with the block_*_co() functions below and implement the
 * ops table in driver.h.
 *
 * Threading: a BlockGraph belongs to one loop; every function here must be
 * called from that loop's thread.  Functions ending in _co must be called
 * from coroutine context; the matching plain names are synchronous wrappers
 * for tools (they run the coroutine version with qx_co_run).
 *
 * Errors: control-path functions take Error **errp last; data-path
 * functions return 0 (or a non-negative count) or -errno.
 */
#ifndef QX_BLOCK_BLOCK_H
#define QX_BLOCK_BLOCK_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "qx/block/iov.h"
#include "qx/util/error.h"
#include "qx/util/loop.h"

typedef struct BlockGraph BlockGraph;
typedef struct BlockNode BlockNode;
typedef struct BlockChild BlockChild;
typedef struct BlockDriver BlockDriver;
typedef struct BlockCreateOpts BlockCreateOpts;

/*
 * Largest byte count of one request and largest image size: QEMU's
 * BDRV_MAX_LENGTH rounded to what int64_t offsets and 512-byte sectors
 * allow.
 */
#define BLOCK_MAX_LENGTH (INT64_MAX & ~(int64_t)0x1ff)
/* Largest single request the generic layer passes on (2 GiB - 512). */
#define BLOCK_REQUEST_MAX_BYTES (INT32_MAX & ~0x1ff)

/* ---- Permissions ---------------------------------------------------- */

/*
 * What a parent does with a node (perm) and what it lets others do at the
 * same time (shared).  The bit index of each permission is also the byte
 * offset (+100 for perm, +200 for "not shared") of the OFD lock that the
 * file driver takes, which is how QEMU 7.2 processes see each other.
 */
enum {
    BLOCK_PERM_CONSISTENT_READ = 1u << 0,
    BLOCK_PERM_WRITE = 1u << 1,
    BLOCK_PERM_WRITE_UNCHANGED = 1u << 2,
    BLOCK_PERM_RESIZE = 1u << 3,
    BLOCK_PERM_ALL = (1u << 4) - 1,
};
#define BLOCK_PERM_COUNT 4

/* "consistent read", "write", "write unchanged", "resize" (QEMU's names). */
const char *block_perm_name(unsigned perm_bit_index);

/* ---- Open flags and per-node policy -------------------------------- */

enum {
    BLOCK_OPEN_RDWR = 1u << 0,       /* writable (else read-only) */
    BLOCK_OPEN_NO_BACKING = 1u << 1, /* do not open the backing chain */
    BLOCK_OPEN_NO_IO = 1u << 2,      /* metadata only: no CONSISTENT_READ */
    BLOCK_OPEN_PROTOCOL = 1u << 3,   /* open a protocol node, never probe */
    BLOCK_OPEN_RESIZE = 1u << 4,     /* backend wants the RESIZE perm */
    BLOCK_OPEN_NO_SHARE = 1u << 5,   /* backend shares only reads */
    /*
     * The caller prints nothing on stderr: suppresses the probed-raw
     * warning (tools that will not write, e.g. qemu-img info, pass it).
     */
    BLOCK_OPEN_QUIET = 1u << 6,
    /*
     * Opened for qemu-img check: format drivers open images they would
     * otherwise refuse (dirty lazy refcounts, corrupt bit, a bad snapshot
     * table) without repairing anything, so the checker can report and fix.
     */
    BLOCK_OPEN_CHECK = 1u << 7,
};

/*
 * cache= modes (QEMU's table):
 *              writethrough  direct  no_flush
 *   writeback       no         no       no     (default)
 *   none            no         yes      no
 *   writethrough    yes        no       no
 *   directsync      yes        yes      no
 *   unsafe          no         no       yes
 * writethrough is a property of the BlockBackend (every write is followed
 * by a flush); direct and no_flush become the node options "cache.direct"
 * and "cache.no-flush", inherited by children.
 */
typedef struct BlockCacheMode {
    bool writethrough;
    bool direct;
    bool no_flush;
} BlockCacheMode;

/* Parses a cache mode name; fails with "Invalid cache option: x" hints. */
bool block_cache_mode_parse(const char *mode, BlockCacheMode *out,
                            Error **errp);
/* Stores cache.direct / cache.no-flush into a flat options dict, unless
 * the dict already has them. */
void block_cache_mode_to_options(const BlockCacheMode *mode,
                                 json_object *flat_opts);

typedef enum {
    BLOCK_DISCARD_IGNORE, /* discard requests succeed and do nothing */
    BLOCK_DISCARD_UNMAP,  /* discard requests reach the driver */
} BlockDiscardMode;

typedef enum {
    BLOCK_DETECT_ZEROES_OFF,
    BLOCK_DETECT_ZEROES_ON,    /* all-zero writes become write_zeroes */
    BLOCK_DETECT_ZEROES_UNMAP, /* ... with MAY_UNMAP if discard=unmap */
} BlockDetectZeroes;

/* ---- Request flags and block status -------------------------------- */

typedef enum {
    BLOCK_REQ_FUA = 1u << 0,         /* write is stable when it completes */
    BLOCK_REQ_MAY_UNMAP = 1u << 1,   /* zero write may deallocate */
    BLOCK_REQ_NO_FALLBACK = 1u << 2, /* zero write: fail -ENOTSUP rather
                                      * than write a zero buffer */
    BLOCK_REQ_ZERO_WRITE = 1u << 3,  /* internal: this is a zero write */
    BLOCK_REQ_SERIALISING = 1u << 4, /* internal: wait for overlaps */
    BLOCK_REQ_WRITE_COMPRESSED = 1u << 5, /* write whole clusters
                                           * compressed (formats that
                                           * announce it; others ignore) */
} BlockReqFlags;

/* Bits returned by block_status: */
enum {
    BLOCK_STATUS_DATA = 1u << 0,         /* reads return stored data */
    BLOCK_STATUS_ZERO = 1u << 1,         /* reads return zeroes */
    BLOCK_STATUS_OFFSET_VALID = 1u << 2, /* map and file are valid */
    BLOCK_STATUS_ALLOCATED = 1u << 3,    /* content defined by this node,
                                          * not a backing file */
    BLOCK_STATUS_EOF = 1u << 4,          /* range reaches end of image */
    /*
     * driver: the data at *map in *file reads as zeroes where that range
     * of the file is a hole, so ask the file (QEMU's BDRV_BLOCK_RECURSE;
     * qcow2 sets it only for metadata-preallocated images, as QEMU does)
     */
    BLOCK_STATUS_ZERO_FROM_FILE = 1u << 6,
    BLOCK_STATUS_RECURSE = 1u << 5,      /* driver: ask *file at *map too
                                          * (core resolves ZERO from it) */
};

typedef enum {
    BLOCK_PREALLOC_OFF,
    BLOCK_PREALLOC_METADATA,
    BLOCK_PREALLOC_FALLOC,
    BLOCK_PREALLOC_FULL,
} BlockPreallocMode;

/* "off", "metadata", "falloc", "full". */
const char *block_prealloc_name(BlockPreallocMode mode);
/* Parses one of the names; "invalid parameter value: x" on error. */
bool block_prealloc_parse(const char *str, BlockPreallocMode *out,
                          Error **errp);

/* ---- The graph ------------------------------------------------------ */

/*
 * A BlockGraph is the context every node lives in: its loop, its worker
 * pool and file I/O backends (created on first use), the node-name
 * namespace and the counter for generated names ("#block123").
 */
BlockGraph *block_graph_new(QxLoop *loop, Error **errp);
/* Frees the graph; all nodes must have been released first. */
void block_graph_free(BlockGraph *graph);
QxLoop *block_graph_get_loop(const BlockGraph *graph);
/*
 * The --object registry drivers look TLS credentials up in (nbd's
 * tls-creds); NULL (the default) means no objects.  Not owned.
 */
struct QxObjects;
void block_graph_set_objects(BlockGraph *graph, struct QxObjects *objs);
struct QxObjects *block_graph_get_objects(const BlockGraph *graph);
/* Node with that node-name, or NULL. */
BlockNode *block_graph_find_node(const BlockGraph *graph, const char *name);
/* Calls fn for every node, in creation order; stops if fn returns false. */
void block_graph_foreach_node(BlockGraph *graph,
                              bool (*fn)(BlockNode *node, void *opaque),
                              void *opaque);

/* ---- Opening and releasing nodes ------------------------------------ */

/*
 * Opens a node tree.  filename may be NULL (then options must say what to
 * open), a plain file name, a "proto:..." name a protocol driver parses,
 * or a "json:{...}" pseudo-filename.  options (may be NULL) is a dict,
 * flat ("file.filename") or nested ({"file": {...}}); it is consumed.
 * Options QEMU's -drive/--blockdev/--image-opts accept:
 *   driver, node-name, read-only, auto-read-only, force-share,
 *   cache.direct, cache.no-flush, discard, detect-zeroes, file (node-name
 *   reference or nested options), backing, and each driver's own options.
 * Without "driver" the format is probed from the protocol node's first
 * bytes (QEMU's warning is printed for probed raw opened read-write unless
 * BLOCK_OPEN_QUIET).  Leftover options fail with QEMU's message
 * ("Block format 'raw' does not support the option 'foo'").
 * Returns a node with one reference owned by the caller, or NULL.
 * The error messages are the inner ones; tools prefix "Could not open 'x': ".
 */
BlockNode *block_open(BlockGraph *graph, const char *filename,
                      json_object *options, unsigned flags, Error **errp);

void block_node_ref(BlockNode *node);
/* Drops a reference; the last one flushes, closes the driver and frees. */
void block_node_unref(BlockNode *node);

/* ---- Node queries (any context) ------------------------------------- */

const char *block_node_get_name(const BlockNode *node);
/* Format or protocol name: "raw", "file", "null-co". */
const char *block_node_get_format(const BlockNode *node);
/*
 * The name QEMU shows as "image:" / "filename": the plain file name when
 * the options reduce to one, else "json:{...}" of the data-defining
 * options in QEMU's key order.
 */
const char *block_node_get_filename(const BlockNode *node);
const BlockDriver *block_node_get_driver(const BlockNode *node);
bool block_node_is_read_only(const BlockNode *node);
/* Size in bytes as last read from the driver (refreshed on truncate). */
int64_t block_node_get_size(const BlockNode *node);
BlockNode *block_node_get_file(const BlockNode *node);    /* or NULL */
BlockNode *block_node_get_backing(const BlockNode *node); /* or NULL */
/* Backing file name recorded in the image (drivers set it), or NULL. */
const char *block_node_get_backing_file(const BlockNode *node);
const char *block_node_get_backing_format(const BlockNode *node);

/* Limits the generic layer enforces for requests to this node. */
typedef struct BlockLimits {
    uint32_t request_alignment; /* bytes; power of two; 1 = any */
    uint32_t min_mem_alignment; /* buffer alignment needed (O_DIRECT) */
    uint32_t opt_mem_alignment;
    uint64_t max_transfer;      /* bytes per request, 0 = no limit */
    uint64_t opt_transfer;
    uint32_t pwrite_zeroes_alignment; /* 0 = request_alignment */
    uint64_t max_pwrite_zeroes;       /* 0 = no limit */
    uint32_t pdiscard_alignment;      /* 0 = request_alignment */
    uint64_t max_pdiscard;            /* 0 = no limit */
} BlockLimits;

const BlockLimits *block_node_get_limits(const BlockNode *node);

/* ---- Data path on child edges (coroutine context) ------------------- */

/*
 * Reads bytes at offset of child's node into qiov starting at qiov_offset.
 * Negative or oversized requests fail with -EIO; the part beyond the end
 * of the node reads as zeroes (BlockBackends reject requests beyond the
 * end with -EIO before they get here).  Unaligned requests go through
 * bounce buffers; requests are split at max_transfer.
 */
int block_preadv_co(BlockChild *child, int64_t offset, int64_t bytes,
                    BlockIOVec *qiov, size_t qiov_offset,
                    BlockReqFlags flags);
int block_pread_co(BlockChild *child, int64_t offset, int64_t bytes,
                   void *buf, BlockReqFlags flags);
/*
 * Writes; needs the WRITE (or WRITE_UNCHANGED) permission on child and a
 * writable node (-EPERM otherwise).  Unaligned writes do read-modify-write
 * and are serialised against overlapping requests.  BLOCK_REQ_FUA is passed
 * on if the driver supports it, else emulated with a flush.
 */
int block_pwritev_co(BlockChild *child, int64_t offset, int64_t bytes,
                     BlockIOVec *qiov, size_t qiov_offset,
                     BlockReqFlags flags);
int block_pwrite_co(BlockChild *child, int64_t offset, int64_t bytes,
                    const void *buf, BlockReqFlags flags);
/*
 * Makes the range read as zeroes.  Falls back to writing zero buffers when
 * the driver lacks write_zeroes or reports -ENOTSUP, unless
 * BLOCK_REQ_NO_FALLBACK (then -ENOTSUP is returned).
 */
int block_pwrite_zeroes_co(BlockChild *child, int64_t offset, int64_t bytes,
                           BlockReqFlags flags);
/* Discards (advisory): 0 if the node's policy is discard=ignore. */
int block_pdiscard_co(BlockChild *child, int64_t offset, int64_t bytes);
/*
 * Makes every completed write stable: the driver's flush, then the flush
 * of every child this node writes to.  A no-op when nothing was written
 * since the last successful flush or with cache.no-flush=on.
 */
int block_flush_co(BlockNode *node);
/*
 * Block status of [offset, offset + bytes): returns BLOCK_STATUS_* bits
 * valid for the first *pnum (> 0) bytes, or -errno.  If the result has
 * OFFSET_VALID, *map is the offset in *file (either may be NULL pointers
 * when the caller does not want them) where that data is stored.
 * Protocol nodes without block_status report DATA|OFFSET_VALID.
 */
int block_status_co(BlockNode *node, int64_t offset, int64_t bytes,
                    int64_t *pnum, int64_t *map, BlockNode **file);
/*
 * Block status over the backing chain down to (not including) base:
 * ALLOCATED says whether any node above base defines the range.
 */
int block_status_above_co(BlockNode *top, BlockNode *base, int64_t offset,
                          int64_t bytes, int64_t *pnum, int64_t *map,
                          BlockNode **file);
/*
 * Resizes; needs RESIZE on child.  exact=false lets drivers keep a larger
 * size (block devices).  Fails with errp set.
 */
int block_truncate_co(BlockChild *child, int64_t offset, bool exact,
                      BlockPreallocMode prealloc, BlockReqFlags flags,
                      Error **errp);
/* Re-reads the size from the driver and caches it. */
int64_t block_getlength_co(BlockNode *node);
/* Bytes the node occupies on its host storage, or -errno. */
int64_t block_get_allocated_file_size_co(BlockNode *node);
/* Waits until no request is in flight on node and its subtree. */
void block_drain_co(BlockNode *node);

/* Synchronous wrappers (outside or inside coroutine context). */
int block_pread(BlockChild *child, int64_t offset, int64_t bytes, void *buf,
                BlockReqFlags flags);
int block_pwrite(BlockChild *child, int64_t offset, int64_t bytes,
                 const void *buf, BlockReqFlags flags);
int block_flush(BlockNode *node);
int64_t block_get_allocated_file_size(BlockNode *node);
void block_drain(BlockNode *node);

/* ---- Driver information (for qemu-img info, map, measure) ---------- */

typedef struct BlockDriverInfo {
    int64_t cluster_size; /* 0 if not cluster based */
    bool is_dirty;        /* image was not closed cleanly */
    bool unallocated_blocks_are_zero;
} BlockDriverInfo;

/* 0 and *bdi filled, or -ENOTSUP if the driver has no such info. */
int block_get_info(BlockNode *node, BlockDriverInfo *bdi);

/* ---- Creating images -------------------------------------------------- */

/*
 * Creation options, QEMU's QemuOpts "-o" model: each driver declares a
 * list of descriptions; qemu-img merges the format's list with its
 * protocol's (format entries first, duplicates dropped), parses -o text
 * against it, and hands the result to the format driver's create.
 */
typedef enum {
    BLOCK_OPT_STRING,
    BLOCK_OPT_BOOL,
    BLOCK_OPT_NUMBER,
    BLOCK_OPT_SIZE,
} BlockOptType;

typedef struct BlockOptDesc {
    const char *name;  /* NULL terminates a list */
    BlockOptType type;
    const char *help;
    const char *def_value_str; /* printed on "Formatting" if not set */
} BlockOptDesc;

/* Well-known creation option names (QEMU's). */
#define BLOCK_OPT_SIZE_NAME "size"
#define BLOCK_OPT_PREALLOC "preallocation"
#define BLOCK_OPT_BACKING_FILE "backing_file"
#define BLOCK_OPT_BACKING_FMT "backing_fmt"
#define BLOCK_OPT_CLUSTER_SIZE "cluster_size"

/*
 * A set of creation option values against a merged description list.
 * Values keep the text given (printed back on the "Formatting" line) and,
 * for bool/number/size, the parsed value; parse errors are reported when
 * set, with QEMU's messages.
 */
BlockCreateOpts *block_create_opts_new(void);
void block_create_opts_free(BlockCreateOpts *opts);
/* Appends a driver's list (entries already known are skipped). */
void block_create_opts_append_desc(BlockCreateOpts *opts,
                                   const BlockOptDesc *list);
/* Parses "-o" text (flat key=value syntax); sets *help for help/?. */
bool block_create_opts_parse(BlockCreateOpts *opts, const char *text,
                             bool *help, Error **errp);
/* Sets one value ("Invalid parameter 'x'" if not in the list). */
bool block_create_opts_set(BlockCreateOpts *opts, const char *name,
                           const char *value, Error **errp);
bool block_create_opts_has(const BlockCreateOpts *opts, const char *name);
/* True if name is in the description list. */
bool block_create_opts_knows(const BlockCreateOpts *opts, const char *name);
void block_create_opts_unset(BlockCreateOpts *opts, const char *name);
/* Getters: def if unset (or not in the list). */
const char *block_create_opts_get_str(const BlockCreateOpts *opts,
                                      const char *name, const char *def);
bool block_create_opts_get_bool(const BlockCreateOpts *opts,
                                const char *name, bool def);
uint64_t block_create_opts_get_number(const BlockCreateOpts *opts,
                                      const char *name, uint64_t def);
uint64_t block_create_opts_get_size(const BlockCreateOpts *opts,
                                    const char *name, uint64_t def);
/* "size=1048576 preallocation=full" as QEMU prints after "fmt=raw ". */
char *block_create_opts_to_string(const BlockCreateOpts *opts);
/*
 * QEMU's "-o help" list: one "  name=<type>  - help" line per option,
 * sorted by name, appended to out.
 */
void block_create_opts_format_help(const BlockCreateOpts *opts, GString *out);

/*
 * Creates an image with driver drv (format or protocol) from opts (which
 * must hold the merged list of block_create_opts_for() and "size").
 * Returns 0, or -errno with errp set (-EFBIG: image too large).
 */
int block_create(BlockGraph *graph, const BlockDriver *drv,
                 const char *filename, BlockCreateOpts *opts, Error **errp);
/*
 * For format drivers' create: creates the protocol-level object of
 * filename (protocol from its prefix, else "file") with the same options.
 */
int block_create_file(BlockGraph *graph, const char *filename,
                      BlockCreateOpts *opts, Error **errp);
/*
 * New option set with drv's list followed by the list of the protocol
 * that would handle filename (filename may be NULL: format list only).
 */
BlockCreateOpts *block_create_opts_for(const BlockDriver *drv,
                                       const char *filename, Error **errp);

/*
 * QEMU's whole "qemu-img create" operation (also what snapshot creation
 * uses): looks up the format, merges the option lists, parses options,
 * applies size and backing file (opening the backing file for its size
 * unless no_backing_open), prints "Formatting 'f', fmt=F ..." on stdout
 * unless quiet, and creates.  Errors carry QEMU's messages; callers
 * prefix "filename: ".
 */
typedef struct BlockImgCreateParams {
    const char *filename;
    const char *fmt;
    const char *base_filename; /* -b, or NULL */
    const char *base_fmt;      /* -F, or NULL */
    const char *options;       /* -o text, or NULL */
    int64_t img_size;          /* -1: not given */
    bool quiet;
    bool no_backing_open;      /* -u */
} BlockImgCreateParams;

bool block_img_create(BlockGraph *graph, const BlockImgCreateParams *params,
                      Error **errp);

/* ---- Drivers registry ------------------------------------------------ */

/* By format or protocol name; NULL if unknown. */
const BlockDriver *block_driver_find(const char *name);
/*
 * The protocol driver for filename: "proto:..." prefix of a driver that
 * declares one, else host_device for block devices, else "file".
 * Fails with "Unknown protocol 'x'" for an unknown prefix.
 */
const BlockDriver *block_driver_find_protocol(const char *filename,
                                              Error **errp);
/* Number of drivers and the i-th (in registration order). */
int block_driver_count(void);
const BlockDriver *block_driver_get(int i);
const char *block_driver_get_name(const BlockDriver *drv);
bool block_driver_is_protocol(const BlockDriver *drv);
bool block_driver_can_create(const BlockDriver *drv);
const BlockOptDesc *block_driver_get_create_opts(const BlockDriver *drv);
/* Sorted, space-separated list of all driver names ("Supported formats"). */
char *block_driver_list_names(void);

#endif
