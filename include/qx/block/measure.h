/*
 * Image size measurement (qemu-img measure): how many host bytes a new
 * image of a format needs, for a given virtual size or to hold the
 * contents of an existing image.
 */
#ifndef QX_BLOCK_MEASURE_H
#define QX_BLOCK_MEASURE_H

#include <stdbool.h>
#include <stdint.h>

#include "qx/block/block.h"

typedef struct BlockMeasureInfo {
    uint64_t required;        /* bytes for the data that is present */
    uint64_t fully_allocated; /* bytes once every cluster is written */
    bool has_bitmaps;         /* qcow2 v3 target of a bitmap-capable source */
    uint64_t bitmaps;         /* bytes for persistent bitmaps */
} BlockMeasureInfo;

/*
 * Measures for format drv with creation options opts (the format's and
 * the file protocol's list; "size" is used when in is NULL).  With in, the
 * size and allocation of that node (through its backing chain) are
 * measured instead.  Formats: raw and qcow2 (QEMU 7.2's arithmetic, its
 * option checks and messages); others fail with "Block driver 'x' does
 * not support size measurement".  Coroutine context (reads block status).
 */
bool block_measure_co(const BlockDriver *drv, BlockCreateOpts *opts,
                      BlockNode *in, BlockMeasureInfo *info, Error **errp);

/*
 * Bytes of refcount table and blocks needed so that clusters host clusters
 * plus the refcount structures themselves are all counted (QEMU's fixed
 * point; generous adds slack for a growing table).  cluster_size is a
 * power of two >= 512, refcount_order 0..6.
 */
uint64_t block_qcow2_refcount_metadata_size(uint64_t clusters,
                                            uint64_t cluster_size,
                                            unsigned refcount_order,
                                            bool generous);

/*
 * Size of a qcow2 file of virtual size total with every cluster
 * allocated: header, L1 and L2 tables, refcount structures and data.
 */
uint64_t block_qcow2_prealloc_size(uint64_t total, uint64_t cluster_size,
                                   unsigned refcount_order,
                                   bool extended_l2);

#endif
