/*
 * Image consistency checks (qemu-img check): the result every format's
 * check fills, and the generic entry point that dispatches to the driver.
 *
 * A check walks an image's metadata, counts what it finds wrong and, when
 * asked, repairs it.  The counters mirror QEMU 7.2's ImageCheck:
 * corruptions are errors that may lose data, leaks are clusters marked
 * used that nothing references (wasted space only), check_errors are
 * failures of the check itself (I/O errors, allocation failures).
 *
 * What a check finds is reported line by line as QEMU does ("Leaked
 * cluster 5 refcount=1 reference=0"): on stderr, or into res->log when the
 * caller set one (tests, fuzzing).
 */
#ifndef QX_BLOCK_CHECK_H
#define QX_BLOCK_CHECK_H

#include <glib.h>
#include <stdint.h>

#include "qx/block/block.h"

/* What a check may repair (qemu-img check -r leaks = LEAKS, -r all = both). */
enum {
    BLOCK_FIX_LEAKS = 1u << 0,
    BLOCK_FIX_ERRORS = 1u << 1,
};

typedef struct BlockCheckResult {
    int64_t corruptions;
    int64_t leaks;
    int64_t check_errors;
    int64_t corruptions_fixed;
    int64_t leaks_fixed;
    /* Offset just past the last used cluster of the image file; 0: n/a. */
    int64_t image_end_offset;
    /* Guest clusters; allocated ones, and how many of those are not
     * contiguous with their predecessor or are compressed.  0: n/a. */
    int64_t total_clusters;
    int64_t allocated_clusters;
    int64_t fragmented_clusters;
    int64_t compressed_clusters;
    /*
     * Where report lines go: NULL prints them on stderr, else each line
     * (with its newline) is appended here.  Set by the caller.
     */
    GString *log;
} BlockCheckResult;

/* Emits one report line (printf format, newline added) for res. */
void block_check_report(BlockCheckResult *res, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/*
 * Checks node (a format node) and repairs what fix (BLOCK_FIX_*) allows.
 * Zeroes the counters of *res first (res->log is kept).  Returns 0 when
 * the check ran to its end (its findings are in *res), -ENOTSUP with errp
 * set to "This image format does not support checks" when the format has
 * no check, or another -errno when the check could not complete (what
 * went wrong has been reported as lines already; errp may be set for a
 * failure before the check started).  The node must be writable when fix
 * is not 0.
 */
int block_check_co(BlockNode *node, BlockCheckResult *res, unsigned fix,
                   Error **errp);
/* Synchronous wrapper for tools. */
int block_check(BlockNode *node, BlockCheckResult *res, unsigned fix,
                Error **errp);

/*
 * QEMU's ImageCheck as "qemu-img check --output=json" prints it (members
 * in QEMU's order, optional ones only when not zero, trailing newline).
 * Returns a g_malloc'd string.
 */
char *block_check_to_json(const BlockCheckResult *res, const char *filename,
                          const char *format);

/*
 * The format name a check reports for node ("qcow2").  Differs from
 * block_node_get_format() only while qcow2 images are opened as raw
 * because no qcow2 driver is registered (see block_check_open_driver()).
 */
const char *block_check_get_format(BlockNode *node);

/*
 * The driver name to open an image given as fmt (may be NULL: probe) for
 * a check.  Normally fmt itself; while no qcow2 driver is registered,
 * "qcow2" maps to "raw" and the check runs the qcow2 checker on the raw
 * node's file, so qemu-img check works before the driver does.
 */
const char *block_check_open_driver(const char *fmt);

#endif
