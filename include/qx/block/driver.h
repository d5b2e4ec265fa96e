/*
 * The block driver interface.  Only drivers (lib/block/<driver>.c) and the
 * generic layer include this header.
 *
 * A driver is one `static const BlockDriver` in its own file, listed in
 * block_drivers[] (lib/block/drivers.c).  Every callback receives its
 * BlockNode; the driver's private state is node->opaque (state_size bytes,
 * zeroed by the core before open_co and freed after close_co).
 *
 * Contract the generic layer guarantees to every data-path callback:
 *  - it runs in coroutine context on the graph's loop thread;
 *  - offset and bytes are multiples of limits.request_alignment (except a
 *    request that ends exactly at the end of the node), 0 < bytes, and
 *    bytes <= limits.max_transfer when that is set;
 *  - offset + bytes <= the node size, except for writes by a driver that
 *    grows its own file (protocols accept writes past EOF);
 *  - the node is writable for writes, zeroes, discard and truncate;
 *  - qiov covers at least [qiov_offset, qiov_offset + bytes) and its
 *    buffers meet limits.min_mem_alignment when that is > 1;
 *  - flags only contain bits the driver announced in
 *    supported_write_flags / supported_zero_flags (others are emulated).
 * Callbacks return 0 (or the documented non-negative value) or -errno;
 * they never print and never allocate Error objects on the data path.
 */
#ifndef QX_BLOCK_DRIVER_H
#define QX_BLOCK_DRIVER_H

#include <glib.h>

#include "qx/block/block.h"
#include "qx/util/aio.h"
#include "qx/util/coroutine.h"

struct BlockCheckResult; /* check.h */

/* ---- Child edges ------------------------------------------------------ */

/* What a child is for a parent; drives permissions and filename logic. */
enum {
    BLOCK_CHILD_DATA = 1u << 0,     /* guest data lives here */
    BLOCK_CHILD_METADATA = 1u << 1, /* parent's own metadata lives here */
    BLOCK_CHILD_FILTERED = 1u << 2, /* parent passes data through 1:1 */
    BLOCK_CHILD_COW = 1u << 3,      /* backing file (copy-on-write) */
    BLOCK_CHILD_PRIMARY = 1u << 4,  /* the child the parent is "on" */
};

struct BlockChild {
    char *name;          /* "file", "backing", "root" for backends */
    BlockNode *node;     /* the child node (holds one reference) */
    BlockNode *parent;   /* NULL when the parent is a BlockBackend */
    void *parent_opaque; /* the BlockBackend for root edges */
    unsigned role;       /* BLOCK_CHILD_* */
    unsigned perm;       /* what the parent does with node */
    unsigned shared;     /* what the parent lets others do */
};

/* ---- Nodes ------------------------------------------------------------ */

typedef struct BlockTrackedRequest BlockTrackedRequest;

struct BlockNode {
    BlockGraph *graph;
    const BlockDriver *drv;
    void *opaque;          /* driver state */
    char *node_name;       /* user-given or generated "#blockN" */
    bool auto_named;
    int refcnt;

    unsigned open_flags;   /* BLOCK_OPEN_* given to open */
    bool read_only;
    bool auto_read_only;   /* protocols may fall back to read-only */
    bool force_share;
    bool probed;           /* format was probed (raw: sector 0 guard) */
    bool cache_direct;     /* cache.direct=on: O_DIRECT */
    bool cache_no_flush;   /* cache.no-flush=on: flushes are no-ops */
    BlockDiscardMode discard;
    BlockDetectZeroes detect_zeroes;

    int64_t total_size;    /* bytes; maintained by the core */
    BlockLimits limits;    /* set by the core from drv->refresh_limits */
    unsigned supported_write_flags; /* BLOCK_REQ_FUA */
    unsigned supported_zero_flags;  /* BLOCK_REQ_FUA | MAY_UNMAP */

    /*
     * Filename logic (QEMU's "exact filename" / "json:" rule).  Drivers
     * that map to one plain name set exact_filename in open_co (file: the
     * path; null-co: "null-co://" if no data-defining option was given).
     * full_options holds the data-defining options as given (driver's
     * strong_options plus "driver" and child dicts), built by the core.
     */
    char *exact_filename;  /* may be NULL */
    char *filename;        /* exact_filename or "json:{...}" */
    json_object *full_options;

    /* Backing file as recorded in the image (format drivers set these). */
    char *backing_file;
    char *backing_format;

    GPtrArray *children;   /* BlockChild *, in attach order */
    GPtrArray *parents;    /* BlockChild * whose node is this one */
    BlockChild *file;      /* convenience: child named "file" */
    BlockChild *backing;   /* convenience: child named "backing" */

    /* Cumulative permissions of all parent edges, applied to the driver. */
    unsigned cur_perm;
    unsigned cur_shared;

    /* Request tracking (io.c). */
    int in_flight;
    BlockTrackedRequest *tracked; /* list of in-flight requests */
    CoQueue drain_queue;          /* woken when in_flight drops to 0 */
    uint64_t write_gen;           /* bumped by every completed write */
    uint64_t flushed_gen;         /* write_gen at the last good flush */
    bool flush_running;
    CoQueue flush_queue;

    /* Set by the core while open_co runs: the pre-opened "file" child. */
    BlockNode *preopened_file;
    /* Core-private: options children inherit (read-only, cache.*, ...). */
    json_object *inherit_opts;
};

/* Allocation granularity the core uses for bounce buffers of a node. */
void *block_node_blockalign(BlockNode *node, size_t size);
void block_node_vfree(void *ptr);

/* ---- The driver ops table --------------------------------------------- */

struct BlockDriver {
    /* Name for driver= and in messages ("raw", "file", "null-co"). */
    const char *format_name;
    /*
     * Prefix this protocol claims in filenames ("null-co" claims
     * "null-co://", "file" claims "file:"); NULL for formats.
     */
    const char *protocol_name;
    /* Protocol drivers open a resource by name and have no "file" child. */
    bool is_protocol;
    /* Bytes of zeroed state the core allocates as node->opaque. */
    size_t state_size;
    /*
     * Options that define the node's data (for the json: filename), e.g.
     * raw: "offset", "size".  NULL-terminated; NULL if none.
     */
    const char *const *strong_options;
    /* Creation options (-o); NULL-terminated; NULL if none. */
    const BlockOptDesc *create_opts;

    /*
     * Format probing: score 0..100 for the first bytes of an image
     * (buf_size may be less than 2048 for short images; filename may be
     * NULL when raw checks a guest write to sector 0).  The highest score
     * wins; raw returns 1 for anything.  NULL: never probed.
     */
    int (*probe)(const uint8_t *buf, int buf_size, const char *filename);
    /*
     * Protocol probing by host path: score > 0 if this driver should open
     * filename when no protocol prefix is given (host_device: block
     * devices).  NULL: not considered.
     */
    int (*probe_device)(const char *filename);
    /*
     * Protocols: turn filename (with or without this driver's prefix) into
     * options in the flat dict opts (e.g. "filename").  NULL: the core
     * stores the name as "filename" with a "<protocol>:" prefix stripped.
     */
    bool (*parse_filename)(const char *filename, json_object *opts,
                           Error **errp);

    /*
     * Opens the node.  opts is a flat dict holding only this node's own
     * options (generic ones already taken); the driver must take (remove)
     * every key it understands; whatever is left fails the open.  Format
     * drivers get their "file" child with block_open_child().  On success
     * the driver has set any limits it knows via refresh_limits and the
     * core reads the size with getlength_co.  On failure: -errno with errp
     * set and all partial state released (close_co is not called).
     */
    int (*open_co)(BlockNode *node, json_object *opts, unsigned flags,
                   Error **errp);
    /* Releases driver state; children are detached by the core after. */
    void (*close_co)(BlockNode *node);

    /*
     * Creates an image (format) or object (protocol) from opts, which
     * contains at least "size".  Format drivers normally create the
     * protocol object with block_create_file() and then open it with
     * blk_new_open() to write their metadata.  NULL: no creation
     * ("Format driver 'x' does not support image creation").
     */
    int (*create_co)(BlockGraph *graph, const char *filename,
                     BlockCreateOpts *opts, Error **errp);

    /*
     * Fills limits (pre-zeroed except request_alignment = 1 and the
     * children's memory alignment already merged by the core).  Called
     * after open_co and after reopen.
     */
    void (*refresh_limits)(BlockNode *node, BlockLimits *limits);

    /* Data path: see the contract at the top of this file. */
    int (*preadv_co)(BlockNode *node, int64_t offset, int64_t bytes,
                     BlockIOVec *qiov, size_t qiov_offset,
                     BlockReqFlags flags);
    int (*pwritev_co)(BlockNode *node, int64_t offset, int64_t bytes,
                      BlockIOVec *qiov, size_t qiov_offset,
                      BlockReqFlags flags);
    /*
     * Zero the range.  -ENOTSUP makes the core fall back to writing zero
     * buffers (unless the caller passed BLOCK_REQ_NO_FALLBACK).  Alignment
     * is limits.pwrite_zeroes_alignment when set; the core writes the
     * unaligned head and tail as buffers.
     */
    int (*pwrite_zeroes_co)(BlockNode *node, int64_t offset, int64_t bytes,
                            BlockReqFlags flags);
    /* Advisory deallocation; -ENOTSUP is treated as success by the core. */
    int (*pdiscard_co)(BlockNode *node, int64_t offset, int64_t bytes);
    /*
     * Makes everything written so far stable on this node's own storage.
     * The core flushes children afterwards (so formats only flush their
     * caches into the child).  NULL: nothing to do here.
     */
    int (*flush_co)(BlockNode *node);
    /*
     * Status of [offset, offset + bytes): returns BLOCK_STATUS_* bits for
     * the first *pnum bytes (0 < *pnum <= bytes).  With OFFSET_VALID,
     * *map and *file say where the data is (file is this node for a
     * protocol, the "file" child's node for raw).  want_zero false allows
     * a cheaper, less precise answer (treat everything as DATA).
     * NULL: protocols are all DATA|ALLOCATED, formats must implement it.
     */
    int (*block_status_co)(BlockNode *node, bool want_zero, int64_t offset,
                           int64_t bytes, int64_t *pnum, int64_t *map,
                           BlockNode **file);
    /*
     * Resizes to offset (exact: must end exactly there).  prealloc applies
     * to the new area.  On failure: -errno with errp set.
     */
    int (*truncate_co)(BlockNode *node, int64_t offset, bool exact,
                       BlockPreallocMode prealloc, BlockReqFlags flags,
                       Error **errp);
    /* Size in bytes or -errno.  Required. */
    int64_t (*getlength_co)(BlockNode *node);
    /*
     * Bytes allocated on host storage.  NULL: the core sums the
     * allocations of the children (0 for a leaf).
     */
    int64_t (*get_allocated_file_size_co)(BlockNode *node);

    /* qemu-img info: cluster size, dirty flag.  NULL: -ENOTSUP. */
    int (*get_info)(BlockNode *node, BlockDriverInfo *bdi);
    /*
     * qemu-img info "Format specific information": a new dict
     * {"type": "qcow2", "data": {...}} (keys in any order; the printer
     * orders them as QEMU does) or NULL if none.
     */
    json_object *(*get_specific_info)(BlockNode *node, Error **errp);

    /*
     * Permissions this node needs on child (role: BLOCK_CHILD_*), given
     * what its own parents need (parent_perm/parent_shared).  NULL: the
     * core uses block_default_perms().
     */
    void (*child_perm)(BlockNode *node, unsigned role, unsigned parent_perm,
                       unsigned parent_shared, unsigned *perm,
                       unsigned *shared);
    /*
     * Applies the cumulative permissions of the node's parents (protocols:
     * image locks).  Fails with errp set and the old state kept.  NULL:
     * nothing to apply.
     */
    int (*set_perm)(BlockNode *node, unsigned perm, unsigned shared,
                    Error **errp);

    /*
     * Consistency check for qemu-img check (check.h): the core has zeroed
     * the counters of *res; fix is a set of BLOCK_FIX_* bits (the node is
     * writable when it is not 0).  Returns 0 when the check completed
     * (findings in *res, reported with block_check_report()), else -errno.
     * NULL: "This image format does not support checks".
     */
    int (*check_co)(BlockNode *node, struct BlockCheckResult *res,
                    unsigned fix, Error **errp);

    /* Request flags the driver handles itself (others are emulated). */
    unsigned supported_write_flags;
    unsigned supported_zero_flags;
};

/* ---- Helpers for drivers ---------------------------------------------- */

/*
 * Opens one node with an explicit driver table that need not be in the
 * registry (internal filter nodes, test drivers).  options is consumed and
 * handled as by block_open(), except that no format is probed: drv is the
 * node's driver whatever "driver" says (the key is ignored).
 */
BlockNode *block_open_with_driver(BlockGraph *graph, const BlockDriver *drv,
                                  json_object *options, unsigned flags,
                                  Error **errp);

/*
 * Opens (or finds) the child named name ("file", "backing") of node being
 * opened, from the parent's flat options: a string value under name is a
 * node-name reference; keys "name.*" are the child's options; for "file"
 * the node the core pre-opened from the filename is used.  The child
 * inherits the parent's read-only, cache.* and discard=unmap defaults and
 * is opened as a protocol unless its options say otherwise.  role is a set
 * of BLOCK_CHILD_* bits.  allow_none: a missing child is not an error
 * (returns NULL without errp set).  Permissions are applied on attach.
 */
BlockChild *block_open_child(BlockNode *node, json_object *opts,
                             const char *name, unsigned role,
                             bool allow_none, Error **errp);
/* Attaches child_node (taking a reference) under parent as name. */
BlockChild *block_attach_child(BlockNode *parent, BlockNode *child_node,
                               const char *name, unsigned role,
                               Error **errp);
/* Detaches and frees the edge, dropping the child reference. */
void block_detach_child(BlockNode *parent, BlockChild *child);

/*
 * Default child permissions: filtered/data children get the parent's
 * perms passed through; metadata children additionally need
 * CONSISTENT_READ (unless BLOCK_OPEN_NO_IO), WRITE|RESIZE when the node is
 * writable, and never share WRITE|RESIZE; COW (backing) children get
 * CONSISTENT_READ only and share everything else.  force-share on node
 * makes every child share everything.
 */
void block_default_perms(BlockNode *node, unsigned role, unsigned parent_perm,
                         unsigned parent_shared, unsigned *perm,
                         unsigned *shared);
/* Recomputes and applies permissions below node after a change. */
bool block_refresh_perms(BlockNode *node, Error **errp);

/* The graph's file I/O backend (created on first use). */
QxAio *block_graph_get_aio(BlockGraph *graph, QxAioBackend backend,
                           Error **errp);
ThreadPool *block_graph_get_thread_pool(BlockGraph *graph);
/* Next unique "#blockN" name. */
char *block_graph_gen_node_name(BlockGraph *graph);

/*
 * Creation for protocols that cannot create anything (host devices): the
 * object must exist; it is opened, grown if it can be and too small, and
 * its first sector is zeroed.  Its option list is size + preallocation
 * (off only), as QEMU's.
 */
extern const BlockOptDesc block_create_simple_opts[];
int block_create_simple_co(BlockGraph *graph, const BlockDriver *drv,
                           const char *filename, BlockCreateOpts *opts,
                           Error **errp);

/* Fails with QEMU's message for the first leftover option of node. */
bool block_check_leftover_options(const BlockDriver *drv, json_object *opts,
                                  Error **errp);

/*
 * Reorders a dict's keys (recursively) the way QEMU 7.2's QDict iterates
 * them (hash bucket order), returning a new object; used for json:
 * filenames and for qemu-img info --output=json.
 */
json_object *block_qdict_order(json_object *obj);

#endif
