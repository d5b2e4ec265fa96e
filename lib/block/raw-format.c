/*
 * raw: the identity format over its "file" child, optionally a window
 * [offset, offset + size) of it.  It probes last (score 1) so that any
 * recognised format wins; when it was chosen by probing, writes to the
 * first sector may not turn the image into something that would probe as
 * another format (QEMU's guard against guest-made format headers).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "qx/util/opts.h"

#define SECTOR_SIZE 512

typedef struct RawState {
    uint64_t offset;
    uint64_t size;
    bool has_size;
} RawState;

static const char *const raw_strong_options[] = {
    "offset",
    "size",
    NULL,
};

static const BlockOptDesc raw_create_opts[] = {
    {
        .name = "size",
        .type = BLOCK_OPT_SIZE,
        .help = "Virtual disk size",
    },
    {NULL},
};

static int raw_probe(const uint8_t *buf, int buf_size, const char *filename)
{
    /* Anything is a raw image; everything else should score higher. */
    return 1;
}

/* Checks the window against the child's current length. */
static int raw_apply_window(BlockNode *node, Error **errp)
{
    RawState *s = node->opaque;
    int64_t real_size = block_getlength_co(node->file->node);

    if (real_size < 0) {
        error_setg_errno(errp, (int)-real_size, "Could not get image size");
        return (int)real_size;
    }
    if (s->offset > (uint64_t)real_size) {
        error_setg(errp,
                   "Offset (%" PRIu64 ") cannot be greater than size of the "
                   "containing file (%" PRId64 ")",
                   s->offset, real_size);
        return -EINVAL;
    }
    if (s->has_size && (uint64_t)real_size - s->offset < s->size) {
        error_setg(errp,
                   "The sum of offset (%" PRIu64 ") and size (%" PRIu64
                   ") has to be smaller or equal to the  actual size of the "
                   "containing file (%" PRId64 ")",
                   s->offset, s->size, real_size);
        return -EINVAL;
    }
    return 0;
}

static int raw_open_co(BlockNode *node, json_object *opts, unsigned flags,
                       Error **errp)
{
    RawState *s = node->opaque;
    BlockChild *file;
    int ret;

    if (!qx_opts_take_flat_size(opts, "offset", &s->offset, NULL, errp) ||
        !qx_opts_take_flat_size(opts, "size", &s->size, &s->has_size,
                                errp)) {
        return -EINVAL;
    }
    if (s->has_size && s->size % SECTOR_SIZE) {
        error_setg(errp, "Specified size is not multiple of %d", SECTOR_SIZE);
        return -EINVAL;
    }
    file = block_open_child(node, opts, "file",
                            BLOCK_CHILD_DATA | BLOCK_CHILD_FILTERED |
                                BLOCK_CHILD_PRIMARY,
                            false, errp);
    if (!file) {
        return -EINVAL;
    }
    ret = raw_apply_window(node, errp);
    if (ret < 0) {
        block_detach_child(node, file);
        return ret;
    }
    if (node->probed && !node->read_only &&
        !(flags & BLOCK_OPEN_QUIET)) {
        fprintf(stderr,
                "WARNING: Image format was not specified for '%s' and "
                "probing guessed raw.\n"
                "         Automatically detecting the format is dangerous "
                "for raw images, write operations on block 0 will be "
                "restricted.\n"
                "         Specify the 'raw' format explicitly to remove the "
                "restrictions.\n",
                block_node_get_filename(file->node));
    }
    return 0;
}

static void raw_close_co(BlockNode *node)
{
}

static void raw_refresh_limits(BlockNode *node, BlockLimits *l)
{
    const BlockLimits *fl = &node->file->node->limits;

    *l = *fl;
    if (node->probed) {
        /* Sector 0 checks need whole-sector writes there. */
        l->request_alignment = MAX(l->request_alignment, SECTOR_SIZE);
    }
}

static int raw_preadv_co(BlockNode *node, int64_t offset, int64_t bytes,
                         BlockIOVec *qiov, size_t qiov_offset,
                         BlockReqFlags flags)
{
    RawState *s = node->opaque;

    return block_preadv_co(node->file, offset + (int64_t)s->offset, bytes,
                           qiov, qiov_offset, flags);
}

/*
 * For a probed raw image, a write that would make sector 0 probe as
 * another format is refused with -EPERM.
 */
static int raw_check_sector0(BlockNode *node, int64_t offset,
                             BlockIOVec *qiov, size_t qiov_offset)
{
    uint8_t sector[SECTOR_SIZE];

    if (!node->probed || offset != 0 || !qiov) {
        return 0;
    }
    block_iov_to_buf(qiov, qiov_offset, sector, sizeof(sector));
    for (int i = 0; block_drivers[i]; i++) {
        const BlockDriver *drv = block_drivers[i];
        if (drv->probe && drv != node->drv &&
            drv->probe(sector, sizeof(sector), NULL) > 1) {
            return -EPERM;
        }
    }
    return 0;
}

static int raw_pwritev_co(BlockNode *node, int64_t offset, int64_t bytes,
                          BlockIOVec *qiov, size_t qiov_offset,
                          BlockReqFlags flags)
{
    RawState *s = node->opaque;
    int ret = raw_check_sector0(node, offset, qiov, qiov_offset);

    if (ret < 0) {
        return ret;
    }
    return block_pwritev_co(node->file, offset + (int64_t)s->offset, bytes,
                            qiov, qiov_offset, flags);
}

static int raw_pwrite_zeroes_co(BlockNode *node, int64_t offset,
                                int64_t bytes, BlockReqFlags flags)
{
    RawState *s = node->opaque;

    return block_pwrite_zeroes_co(node->file, offset + (int64_t)s->offset,
                                  bytes, flags);
}

static int raw_pdiscard_co(BlockNode *node, int64_t offset, int64_t bytes)
{
    RawState *s = node->opaque;

    return block_pdiscard_co(node->file, offset + (int64_t)s->offset, bytes);
}

static int raw_block_status_co(BlockNode *node, bool want_zero,
                               int64_t offset, int64_t bytes, int64_t *pnum,
                               int64_t *map, BlockNode **file)
{
    RawState *s = node->opaque;

    *pnum = bytes;
    *map = offset + (int64_t)s->offset;
    *file = node->file->node;
    return BLOCK_STATUS_RECURSE | BLOCK_STATUS_OFFSET_VALID;
}

static int raw_truncate_co(BlockNode *node, int64_t offset, bool exact,
                           BlockPreallocMode prealloc, BlockReqFlags flags,
                           Error **errp)
{
    RawState *s = node->opaque;

    if (s->has_size) {
        error_setg(errp, "Cannot resize fixed-size raw disks");
        return -ENOTSUP;
    }
    if (INT64_MAX - offset < (int64_t)s->offset) {
        error_setg(errp, "Disk size too large for the chosen offset");
        return -EINVAL;
    }
    return block_truncate_co(node->file, offset + (int64_t)s->offset, exact,
                             prealloc, flags, errp);
}

static int64_t raw_getlength_co(BlockNode *node)
{
    RawState *s = node->opaque;
    int64_t len;

    if (s->has_size) {
        return (int64_t)s->size;
    }
    len = block_getlength_co(node->file->node);
    if (len < 0) {
        return len;
    }
    return len > (int64_t)s->offset ? len - (int64_t)s->offset : 0;
}

static int raw_get_info(BlockNode *node, BlockDriverInfo *bdi)
{
    return block_get_info(node->file->node, bdi);
}

static int raw_create_co(BlockGraph *graph, const char *filename,
                         BlockCreateOpts *opts, Error **errp)
{
    return block_create_file(graph, filename, opts, errp);
}

const BlockDriver block_driver_raw = {
    .format_name = "raw",
    .state_size = sizeof(RawState),
    .strong_options = raw_strong_options,
    .create_opts = raw_create_opts,
    .probe = raw_probe,
    .open_co = raw_open_co,
    .close_co = raw_close_co,
    .create_co = raw_create_co,
    .refresh_limits = raw_refresh_limits,
    .preadv_co = raw_preadv_co,
    .pwritev_co = raw_pwritev_co,
    .pwrite_zeroes_co = raw_pwrite_zeroes_co,
    .pdiscard_co = raw_pdiscard_co,
    .block_status_co = raw_block_status_co,
    .truncate_co = raw_truncate_co,
    .getlength_co = raw_getlength_co,
    .get_info = raw_get_info,
    /* Flags pass through to the child, whose entry point handles them. */
    .supported_write_flags = BLOCK_REQ_FUA,
    .supported_zero_flags =
        BLOCK_REQ_FUA | BLOCK_REQ_MAY_UNMAP | BLOCK_REQ_NO_FALLBACK,
};
