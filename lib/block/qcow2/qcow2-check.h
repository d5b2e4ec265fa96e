/*
 * qcow2 consistency check and repair (qemu-img check), self-contained:
 * it reads and writes the image's metadata through the file node itself,
 * parsing with the format layer, so it needs no driver state.
 *
 * For the qcow2 driver: flush every cache to the file first, call
 * qcow2_check_file_co() on the file child's node, and reload all metadata
 * (header, L1, refcount table) afterwards when fix was not 0, because a
 * repair may rewrite the refcount structure, L1/L2 entries and the
 * header's dirty/corrupt bits.
 */
#ifndef QX_BLOCK_QCOW2_CHECK_H
#define QX_BLOCK_QCOW2_CHECK_H

#include "qx/block/check.h"
#include "qx/block/driver.h"

/*
 * Checks the qcow2 image stored in file (a node some parent holds with
 * CONSISTENT_READ, and WRITE|RESIZE when fix is not 0; the edge with the
 * most permissions is used).  fix: BLOCK_FIX_LEAKS | BLOCK_FIX_ERRORS.
 * Returns as block_check_co(): 0 with the findings in *res (counters
 * zeroed first), or -errno; errp is set only when the image cannot be
 * opened at all (bad header: QEMU's open-time messages).
 */
int qcow2_check_file_co(BlockNode *file, BlockCheckResult *res,
                        unsigned fix, Error **errp);

/* The same on an explicit edge to the file node. */
int qcow2_check_child_co(BlockChild *file, BlockCheckResult *res,
                         unsigned fix, Error **errp);

#endif
