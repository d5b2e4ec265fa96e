/*
 * file and host_device: protocols over a host file or device.  I/O goes
 * through the graph's QxAio (aio=threads or io_uring); cache.direct=on
 * opens with O_DIRECT and probes the alignment O_DIRECT needs; block
 * status comes from SEEK_DATA/SEEK_HOLE; zero writes and discards use
 * fallocate (or BLKZEROOUT/BLKDISCARD on block devices); permissions
 * become QEMU-compatible image locks (file-posix-lock.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-posix.h"
#include "qx/util/opts.h"

extern const BlockDriver block_driver_host_device;

static const char *const file_strong_options[] = {
    "filename",
    NULL,
};

/* ---- Open and close ----------------------------------------------------- */

static bool parse_aio(const char *aio, bool direct, QxAioBackend *backend,
                      Error **errp)
{
    if (!aio || strcmp(aio, "threads") == 0) {
        *backend = QX_AIO_THREADS;
    } else if (strcmp(aio, "io_uring") == 0) {
        *backend = QX_AIO_IO_URING;
    } else if (strcmp(aio, "native") == 0) {
        if (!direct) {
            error_setg(errp, "aio=native was specified, but it requires "
                             "cache.direct=on, which was not specified.");
            return false;
        }
        /* Linux AIO's job is done by io_uring here. */
        *backend = QX_AIO_IO_URING;
    } else {
        error_setg(errp, "invalid parameter value: %s", aio);
        return false;
    }
    return true;
}

/*
 * Finds the request and buffer alignment O_DIRECT needs, by trying reads
 * of growing size (block devices say it directly).
 */
static void probe_alignment(FileState *s)
{
    static const uint32_t sizes[] = {1, 512, 1024, 2048, 4096};
    const size_t max_align = 4096;
    uint8_t *buf = NULL;
    int sector_size;

    s->probed_align = 0;
    s->probed_mem_align = 0;
    if (s->is_block_device && ioctl(s->fd, BLKSSZGET, &sector_size) == 0 &&
        sector_size > 0) {
        s->probed_align = (uint32_t)sector_size;
    }
    if (posix_memalign((void **)&buf, max_align, 2 * max_align) != 0) {
        s->probed_align = s->probed_align ? s->probed_align : 4096;
        s->probed_mem_align = 4096;
        return;
    }
    if (!s->probed_align) {
        for (unsigned i = 0; i < G_N_ELEMENTS(sizes); i++) {
            ssize_t r = pread(s->fd, buf, sizes[i], 0);
            if (r >= 0 || errno != EINVAL) {
                s->probed_align = sizes[i];
                break;
            }
        }
    }
    if (!s->probed_align) {
        s->probed_align = 4096;
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(sizes); i++) {
        ssize_t r = pread(s->fd, buf + sizes[i], s->probed_align, 0);
        if (r >= 0 || errno != EINVAL) {
            s->probed_mem_align = sizes[i];
            break;
        }
    }
    if (!s->probed_mem_align) {
        s->probed_mem_align = 4096;
    }
    free(buf);
}

static int file_open_common(BlockNode *node, json_object *opts,
                            unsigned flags, bool device, Error **errp)
{
    FileState *s = node->opaque;
    g_autofree char *filename = NULL;
    g_autofree char *aio = NULL;
    g_autofree char *locking = NULL;
    g_autofree char *pr_manager = NULL;
    uint64_t max_batch = 0;
    bool drop_cache = true;
    bool check_dropped = false;
    QxAioBackend backend;
    struct stat st;
    int oflags;

    s->fd = -1;
    if (!qx_opts_take_str(opts, "filename", &filename, NULL, errp) ||
        !qx_opts_take_str(opts, "aio", &aio, NULL, errp) ||
        !qx_opts_take_flat_number(opts, "aio-max-batch", &max_batch, NULL,
                                  errp) ||
        !qx_opts_take_str(opts, "locking", &locking, NULL, errp) ||
        !qx_opts_take_str(opts, "pr-manager", &pr_manager, NULL, errp) ||
        !qx_opts_take_bool(opts, "drop-cache", &drop_cache, NULL, errp) ||
        !qx_opts_take_bool(opts, "x-check-cache-dropped", &check_dropped,
                           NULL, errp)) {
        return -EINVAL;
    }
    if (!filename || !filename[0]) {
        error_setg(errp, "The '%s' block driver requires a file name",
                   node->drv->format_name);
        return -EINVAL;
    }
    if (!parse_aio(aio, node->cache_direct, &backend, errp)) {
        return -EINVAL;
    }
    if (!locking || strcmp(locking, "auto") == 0) {
        s->use_lock = file_lock_supported();
    } else if (strcmp(locking, "on") == 0) {
        s->use_lock = true;
    } else if (strcmp(locking, "off") == 0) {
        s->use_lock = false;
    } else {
        error_setg(errp, "invalid parameter value: %s", locking);
        return -EINVAL;
    }
    if (pr_manager) {
        error_setg(errp, "No persistent reservation manager with id '%s'",
                   pr_manager);
        return -EINVAL;
    }

    oflags = O_CLOEXEC | (node->read_only ? O_RDONLY : O_RDWR);
    if (node->cache_direct) {
        oflags |= O_DIRECT;
    }
    s->fd = open(filename, oflags);
    if (s->fd < 0 && !node->read_only && node->auto_read_only &&
        (errno == EACCES || errno == EROFS || errno == EPERM)) {
        /* auto-read-only=on: take what the file allows. */
        oflags = (oflags & ~O_RDWR) | O_RDONLY;
        s->fd = open(filename, oflags);
        if (s->fd >= 0) {
            node->read_only = true;
        }
    }
    if (s->fd < 0) {
        int err = errno;
        error_setg_errno(errp, err, "Could not open '%s'", filename);
        return -err;
    }
    if (fstat(s->fd, &st) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "Could not stat '%s'", filename);
        goto fail;
    }
    s->is_device = S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode);
    s->is_block_device = S_ISBLK(st.st_mode);
    if (device && !s->is_device) {
        error_setg(errp,
                   "'host_device' driver requires '%s' to be either a "
                   "character or block device",
                   filename);
        goto fail;
    }
    if (!device && !S_ISREG(st.st_mode)) {
        error_setg(errp, "'file' driver requires '%s' to be a regular file",
                   filename);
        goto fail;
    }
    s->aio = block_graph_get_aio(node->graph, backend, errp);
    if (!s->aio) {
        goto fail;
    }
    s->has_zero_range = !s->is_device;
    s->has_punch_hole = !s->is_device;
    s->has_seek_hole = !s->is_device;
    if (node->cache_direct) {
        probe_alignment(s);
    }
    s->filename = g_strdup(filename);
    node->exact_filename = g_strdup(filename);
    return 0;

fail:
    close(s->fd);
    s->fd = -1;
    return -EINVAL;
}

static int file_open_co(BlockNode *node, json_object *opts, unsigned flags,
                        Error **errp)
{
    return file_open_common(node, opts, flags, false, errp);
}

static int hdev_open_co(BlockNode *node, json_object *opts, unsigned flags,
                        Error **errp)
{
    return file_open_common(node, opts, flags, true, errp);
}

static void file_close_co(BlockNode *node)
{
    FileState *s = node->opaque;

    if (s->fd >= 0) {
        if (s->use_lock) {
            file_lock_release_all(s->fd, &s->locked_perm,
                                  &s->locked_unshared);
        }
        close(s->fd);
        s->fd = -1;
    }
    g_free(s->filename);
}

static int hdev_create_co(BlockGraph *graph, const char *filename,
                          BlockCreateOpts *opts, Error **errp)
{
    return block_create_simple_co(graph, &block_driver_host_device, filename,
                                  opts, errp);
}

static int hdev_probe_device(const char *filename)
{
    struct stat st;

    if (g_str_has_prefix(filename, "/dev/cdrom")) {
        return 50;
    }
    if (stat(filename, &st) == 0 &&
        (S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode))) {
        return 100;
    }
    return 0;
}

static void file_refresh_limits(BlockNode *node, BlockLimits *l)
{
    FileState *s = node->opaque;

    if (node->cache_direct) {
        l->request_alignment = s->probed_align;
        l->min_mem_alignment = MAX(s->probed_mem_align, s->probed_align);
        l->opt_mem_alignment = MAX(l->min_mem_alignment, 4096);
    }
    if (s->is_block_device) {
        unsigned max_sectors = 0;
        if (ioctl(s->fd, BLKSECTGET, &max_sectors) == 0 && max_sectors) {
            l->max_transfer = (uint64_t)max_sectors * 512;
        }
    }
}

/* ---- Permissions -------------------------------------------------------- */

static int file_set_perm(BlockNode *node, unsigned perm, unsigned shared,
                         Error **errp)
{
    FileState *s = node->opaque;
    unsigned old_perm = s->locked_perm;
    unsigned old_unshared = s->locked_unshared;
    unsigned unshared = BLOCK_PERM_ALL & ~shared;
    int ret;

    if (!s->use_lock) {
        return 0;
    }
    ret = file_lock_apply(s->fd, perm, unshared, &s->locked_perm,
                          &s->locked_unshared);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to lock byte");
        goto undo;
    }
    ret = file_lock_check(s->fd, perm, unshared, s->filename, errp);
    if (ret < 0) {
        goto undo;
    }
    return 0;

undo:
    file_lock_apply(s->fd, old_perm, old_unshared, &s->locked_perm,
                    &s->locked_unshared);
    return ret;
}

/* ---- Data path ---------------------------------------------------------- */

/* The iovec slice [qiov_offset, +bytes) of qiov, without copying data. */
static void slice_iov(BlockIOVec *qiov, size_t qiov_offset, int64_t bytes,
                      BlockIOVec *tmp, const struct iovec **iov, int *niov)
{
    if (qiov_offset == 0 && (size_t)bytes == qiov->size) {
        *iov = qiov->iov;
        *niov = qiov->niov;
        tmp->iov = NULL;
        return;
    }
    block_iov_init(tmp, qiov->niov);
    block_iov_concat(tmp, qiov, qiov_offset, (size_t)bytes);
    *iov = tmp->iov;
    *niov = tmp->niov;
}

static int file_preadv_co(BlockNode *node, int64_t offset, int64_t bytes,
                          BlockIOVec *qiov, size_t qiov_offset,
                          BlockReqFlags flags)
{
    FileState *s = node->opaque;
    BlockIOVec tmp;
    const struct iovec *iov;
    int niov;
    ssize_t r;

    slice_iov(qiov, qiov_offset, bytes, &tmp, &iov, &niov);
    r = qx_aio_preadv_co(s->aio, s->fd, iov, niov, (uint64_t)offset);
    if (tmp.iov) {
        block_iov_destroy(&tmp);
    }
    if (r < 0) {
        return (int)r;
    }
    if (r < bytes) {
        /* Short read at the end of the file: the rest reads as zeroes. */
        block_iov_memset(qiov, qiov_offset + (size_t)r, 0,
                         (size_t)(bytes - r));
    }
    return 0;
}

static int file_pwritev_co(BlockNode *node, int64_t offset, int64_t bytes,
                           BlockIOVec *qiov, size_t qiov_offset,
                           BlockReqFlags flags)
{
    FileState *s = node->opaque;
    BlockIOVec tmp;
    const struct iovec *iov;
    int niov;
    ssize_t r;

    slice_iov(qiov, qiov_offset, bytes, &tmp, &iov, &niov);
    r = qx_aio_pwritev_co(s->aio, s->fd, iov, niov, (uint64_t)offset);
    if (tmp.iov) {
        block_iov_destroy(&tmp);
    }
    if (r < 0) {
        return (int)r;
    }
    return r == bytes ? 0 : -ENOSPC;
}

static int file_flush_co(BlockNode *node)
{
    FileState *s = node->opaque;

    return qx_aio_fsync_co(s->aio, s->fd, true);
}

typedef struct IoctlArgs {
    int fd;
    unsigned long request;
    uint64_t range[2];
} IoctlArgs;

static int ioctl_worker(void *opaque)
{
    IoctlArgs *a = opaque;

    return ioctl(a->fd, a->request, a->range) < 0 ? -errno : 0;
}

static int device_range_ioctl_co(BlockNode *node, unsigned long request,
                                 int64_t offset, int64_t bytes)
{
    FileState *s = node->opaque;
    IoctlArgs a = {s->fd, request, {(uint64_t)offset, (uint64_t)bytes}};
    int ret = qx_thread_pool_submit_co(
        block_graph_get_thread_pool(node->graph), ioctl_worker, &a);

    if (ret == -EINVAL || ret == -EOPNOTSUPP || ret == -ENOTTY) {
        return -ENOTSUP;
    }
    return ret;
}

static int file_pwrite_zeroes_co(BlockNode *node, int64_t offset,
                                 int64_t bytes, BlockReqFlags flags)
{
    FileState *s = node->opaque;
    struct stat st;
    int ret;

    if (s->is_block_device) {
        return device_range_ioctl_co(node, BLKZEROOUT, offset, bytes);
    }
    if (s->is_device) {
        return -ENOTSUP;
    }
    if (fstat(s->fd, &st) < 0) {
        return -errno;
    }
    if ((flags & BLOCK_REQ_MAY_UNMAP) && s->has_punch_hole &&
        offset + bytes <= st.st_size) {
        ret = qx_aio_fallocate_co(s->aio, s->fd,
                                  FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                  (uint64_t)offset, (uint64_t)bytes);
        if (ret == 0) {
            return 0;
        }
        if (ret == -EOPNOTSUPP || ret == -ENOSYS) {
            s->has_punch_hole = false;
        }
    }
    if (s->has_zero_range) {
        ret = qx_aio_fallocate_co(s->aio, s->fd, FALLOC_FL_ZERO_RANGE,
                                  (uint64_t)offset, (uint64_t)bytes);
        if (ret == 0) {
            return 0;
        }
        if (ret != -EOPNOTSUPP && ret != -ENOSYS && ret != -EINVAL) {
            return ret;
        }
        s->has_zero_range = false;
    }
    if (offset >= st.st_size) {
        /* Entirely past the end: growing the file leaves zeroes there. */
        if (ftruncate(s->fd, offset + bytes) < 0) {
            return -errno;
        }
        return 0;
    }
    return -ENOTSUP;
}

static int file_pdiscard_co(BlockNode *node, int64_t offset, int64_t bytes)
{
    FileState *s = node->opaque;
    int ret;

    if (s->is_block_device) {
        return device_range_ioctl_co(node, BLKDISCARD, offset, bytes);
    }
    if (s->is_device || !s->has_punch_hole) {
        return -ENOTSUP;
    }
    ret = qx_aio_fallocate_co(s->aio, s->fd,
                              FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                              (uint64_t)offset, (uint64_t)bytes);
    if (ret == -EOPNOTSUPP || ret == -ENOSYS) {
        s->has_punch_hole = false;
        return -ENOTSUP;
    }
    return ret;
}

/*
 * Data/hole status from SEEK_DATA/SEEK_HOLE.  Regions past the end of
 * the file (the sector-rounded tail) are holes.
 */
static int file_block_status_co(BlockNode *node, bool want_zero,
                                int64_t offset, int64_t bytes, int64_t *pnum,
                                int64_t *map, BlockNode **file)
{
    FileState *s = node->opaque;
    off_t data;
    off_t hole;
    int ret = BLOCK_STATUS_OFFSET_VALID;

    *map = offset;
    *file = node;
    *pnum = bytes;
    if (!want_zero || !s->has_seek_hole) {
        return ret | BLOCK_STATUS_DATA;
    }
    data = lseek(s->fd, offset, SEEK_DATA);
    if (data < 0) {
        if (errno == ENXIO) {
            /* In a hole that runs to the end of the file, or past it. */
            return ret | BLOCK_STATUS_ZERO;
        }
        s->has_seek_hole = errno != EINVAL && errno != ENOTSUP;
        return ret | BLOCK_STATUS_DATA;
    }
    if (data > offset) {
        *pnum = MIN(bytes, data - offset);
        return ret | BLOCK_STATUS_ZERO;
    }
    hole = lseek(s->fd, offset, SEEK_HOLE);
    if (hole < 0 || hole <= offset) {
        /* The file changed under us: report data, to be safe. */
        return ret | BLOCK_STATUS_DATA;
    }
    *pnum = MIN(bytes, hole - offset);
    return ret | BLOCK_STATUS_DATA;
}

static int file_truncate_co(BlockNode *node, int64_t offset, bool exact,
                            BlockPreallocMode prealloc, BlockReqFlags flags,
                            Error **errp)
{
    FileState *s = node->opaque;

    if (!s->is_device) {
        return file_truncate_fd_co(s->aio, s->fd, offset, prealloc, errp);
    }
    if (prealloc != BLOCK_PREALLOC_OFF) {
        error_setg(errp, "Preallocation mode '%s' unsupported for this "
                         "non-regular file",
                   block_prealloc_name(prealloc));
        return -ENOTSUP;
    }
    if (offset > node->total_size) {
        error_setg(errp, "Cannot grow device files");
        return -EINVAL;
    }
    if (exact && offset != node->total_size) {
        error_setg(errp, "Cannot resize device files");
        return -ENOTSUP;
    }
    return 0;
}

static int64_t file_getlength_co(BlockNode *node)
{
    FileState *s = node->opaque;
    struct stat st;

    if (s->is_block_device) {
        uint64_t size;
        if (ioctl(s->fd, BLKGETSIZE64, &size) < 0) {
            return -errno;
        }
        return (int64_t)size;
    }
    if (s->is_device) {
        off_t end = lseek(s->fd, 0, SEEK_END);
        return end < 0 ? 0 : end;
    }
    if (fstat(s->fd, &st) < 0) {
        return -errno;
    }
    return st.st_size;
}

static int64_t file_get_allocated_file_size_co(BlockNode *node)
{
    FileState *s = node->opaque;
    struct stat st;

    if (fstat(s->fd, &st) < 0) {
        return -errno;
    }
    return (int64_t)st.st_blocks * 512;
}

static int file_get_info(BlockNode *node, BlockDriverInfo *bdi)
{
    /* Nothing to report, but the call succeeds (QEMU shows dirty-flag). */
    return 0;
}

const BlockDriver block_driver_file = {
    .format_name = "file",
    .protocol_name = "file",
    .is_protocol = true,
    .state_size = sizeof(FileState),
    .strong_options = file_strong_options,
    .create_opts = file_create_opts,
    .open_co = file_open_co,
    .close_co = file_close_co,
    .create_co = file_create_co,
    .refresh_limits = file_refresh_limits,
    .preadv_co = file_preadv_co,
    .pwritev_co = file_pwritev_co,
    .pwrite_zeroes_co = file_pwrite_zeroes_co,
    .pdiscard_co = file_pdiscard_co,
    .flush_co = file_flush_co,
    .block_status_co = file_block_status_co,
    .truncate_co = file_truncate_co,
    .getlength_co = file_getlength_co,
    .get_allocated_file_size_co = file_get_allocated_file_size_co,
    .get_info = file_get_info,
    .set_perm = file_set_perm,
    .supported_zero_flags = BLOCK_REQ_MAY_UNMAP,
};

const BlockDriver block_driver_host_device = {
    .format_name = "host_device",
    .protocol_name = "host_device",
    .is_protocol = true,
    .state_size = sizeof(FileState),
    .strong_options = file_strong_options,
    .create_opts = block_create_simple_opts,
    .probe_device = hdev_probe_device,
    .open_co = hdev_open_co,
    .create_co = hdev_create_co,
    .close_co = file_close_co,
    .refresh_limits = file_refresh_limits,
    .preadv_co = file_preadv_co,
    .pwritev_co = file_pwritev_co,
    .pwrite_zeroes_co = file_pwrite_zeroes_co,
    .pdiscard_co = file_pdiscard_co,
    .flush_co = file_flush_co,
    .truncate_co = file_truncate_co,
    .getlength_co = file_getlength_co,
    .get_allocated_file_size_co = file_get_allocated_file_size_co,
    .get_info = file_get_info,
    .set_perm = file_set_perm,
    .supported_zero_flags = BLOCK_REQ_MAY_UNMAP,
};
