/*
 * file driver: image creation and resizing of regular files with QEMU's
 * preallocation modes and messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-posix.h"

#define PREALLOC_CHUNK (1024 * 1024)
#define DEFAULT_EXTENT_SIZE_HINT (1024 * 1024)

const BlockOptDesc file_create_opts[] = {
    {
        .name = "size",
        .type = BLOCK_OPT_SIZE,
        .help = "Virtual disk size",
    },
    {
        .name = "nocow",
        .type = BLOCK_OPT_BOOL,
        .help = "Turn off copy-on-write (valid only on btrfs)",
    },
    {
        .name = "preallocation",
        .type = BLOCK_OPT_STRING,
        .help = "Preallocation mode (allowed values: off, falloc, full)",
    },
    {
        .name = "extent_size_hint",
        .type = BLOCK_OPT_SIZE,
        .help = "Extent size hint for the image file, 0 to disable",
    },
    {NULL},
};

/*
 * Writes zeroes over the first block of a file that just grew from empty:
 * it makes O_DIRECT alignment probing reliable on file systems that
 * answer reads of unallocated blocks differently (QEMU does the same, with
 * these sizes).  Failures are harmless and ignored.
 */
static void allocate_first_block_co(QxAio *aio, int fd, int64_t size)
{
    size_t len = size < 4096 ? 512 : 4096;
    void *buf = NULL;

    if (posix_memalign(&buf, 4096, len) != 0) {
        return;
    }
    memset(buf, 0, len);
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    qx_aio_pwritev_co(aio, fd, &iov, 1, 0);
    free(buf);
}

static int write_zeroes_range_co(QxAio *aio, int fd, int64_t from, int64_t to)
{
    void *buf = NULL;
    int ret = 0;

    if (posix_memalign(&buf, 4096, PREALLOC_CHUNK) != 0) {
        return -ENOMEM;
    }
    memset(buf, 0, PREALLOC_CHUNK);
    while (from < to) {
        size_t n = (size_t)MIN((int64_t)PREALLOC_CHUNK, to - from);
        struct iovec iov = {.iov_base = buf, .iov_len = n};
        ssize_t r = qx_aio_pwritev_co(aio, fd, &iov, 1, (uint64_t)from);
        if (r < 0) {
            ret = (int)r;
            break;
        }
        if (r == 0) {
            ret = -EIO;
            break;
        }
        from += r;
    }
    free(buf);
    return ret;
}

int file_truncate_fd_co(QxAio *aio, int fd, int64_t offset,
                        BlockPreallocMode prealloc, Error **errp)
{
    struct stat st;
    int64_t current;
    int ret;

    if (fstat(fd, &st) < 0) {
        ret = -errno;
        error_setg_errno(errp, -ret, "Could not stat file");
        return ret;
    }
    current = st.st_size;
    if (prealloc != BLOCK_PREALLOC_OFF && offset < current) {
        error_setg(errp, "Cannot use preallocation for shrinking files");
        return -ENOTSUP;
    }

    switch (prealloc) {
    case BLOCK_PREALLOC_OFF:
        if (ftruncate(fd, offset) < 0) {
            ret = -errno;
            error_setg_errno(errp, -ret, "Could not resize file");
            return ret;
        }
        break;
    case BLOCK_PREALLOC_FALLOC:
        if (offset > current) {
            ret = qx_aio_fallocate_co(aio, fd, 0, (uint64_t)current,
                                      (uint64_t)(offset - current));
            if (ret < 0) {
                error_setg_errno(errp, -ret,
                                 "Could not preallocate new data");
                return ret;
            }
        }
        break;
    case BLOCK_PREALLOC_FULL:
        if (ftruncate(fd, offset) < 0) {
            ret = -errno;
            error_setg_errno(errp, -ret, "Could not resize file");
            return ret;
        }
        ret = write_zeroes_range_co(aio, fd, current, offset);
        if (ret < 0) {
            error_setg_errno(errp, -ret,
                             "Could not write zeros for preallocation");
            return ret;
        }
        ret = qx_aio_fsync_co(aio, fd, false);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not flush file to disk");
            return ret;
        }
        return 0;
    default:
        error_setg(errp, "Unsupported preallocation mode: %s",
                   block_prealloc_name(prealloc));
        return -ENOTSUP;
    }
    if (current == 0 && offset > 0) {
        allocate_first_block_co(aio, fd, offset);
    }
    return 0;
}

static void set_nocow(int fd)
{
    int attr;

    if (ioctl(fd, FS_IOC_GETFLAGS, &attr) == 0) {
        attr |= FS_NOCOW_FL;
        ioctl(fd, FS_IOC_SETFLAGS, &attr);
    }
}

static void set_extent_size_hint(int fd, uint32_t hint)
{
    struct fsxattr attr;

    if (ioctl(fd, FS_IOC_FSGETXATTR, &attr) == 0) {
        attr.fsx_xflags |= FS_XFLAG_EXTSIZE;
        attr.fsx_extsize = hint;
        ioctl(fd, FS_IOC_FSSETXATTR, &attr);
    }
}

int file_create_co(BlockGraph *graph, const char *filename,
                   BlockCreateOpts *opts, Error **errp)
{
    uint64_t size = block_create_opts_get_size(opts, "size", 0);
    const char *prealloc_str =
        block_create_opts_get_str(opts, "preallocation", "off");
    bool nocow = block_create_opts_get_bool(opts, "nocow", false);
    uint64_t hint = block_create_opts_get_size(opts, "extent_size_hint",
                                               DEFAULT_EXTENT_SIZE_HINT);
    unsigned locked_perm = 0;
    unsigned locked_unshared = 0;
    BlockPreallocMode prealloc;
    QxAio *aio;
    int fd;
    int ret;

    if (!block_prealloc_parse(prealloc_str, &prealloc, errp)) {
        return -EINVAL;
    }
    if (hint > UINT32_MAX) {
        error_setg(errp, "Extent size hint is too large");
        return -EINVAL;
    }
    if (size > (uint64_t)BLOCK_MAX_LENGTH) {
        return -EFBIG;
    }
    if (g_str_has_prefix(filename, "file:")) {
        filename += strlen("file:");
    }
    aio = block_graph_get_aio(graph, QX_AIO_THREADS, errp);
    if (!aio) {
        return -EIO;
    }

    fd = open(filename, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        ret = -errno;
        error_setg_errno(errp, -ret, "Could not create '%s'", filename);
        return ret;
    }
    /* Writing and resizing, and nobody else may resize meanwhile. */
    ret = file_lock_apply(fd, BLOCK_PERM_WRITE | BLOCK_PERM_RESIZE,
                          BLOCK_PERM_RESIZE, &locked_perm, &locked_unshared);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to lock byte");
        goto out_close;
    }
    ret = file_lock_check(fd, BLOCK_PERM_WRITE | BLOCK_PERM_RESIZE,
                          BLOCK_PERM_RESIZE, filename, errp);
    if (ret < 0) {
        goto out_unlock;
    }
    if (nocow) {
        set_nocow(fd);
    }
    if (ftruncate(fd, 0) < 0) {
        ret = -errno;
        error_setg_errno(errp, -ret, "Could not clear '%s'", filename);
        goto out_unlock;
    }
    if (hint) {
        set_extent_size_hint(fd, (uint32_t)hint);
    }
    ret = file_truncate_fd_co(aio, fd,
                              block_align_up((int64_t)size, 512), prealloc,
                              errp);

out_unlock:
    file_lock_release_all(fd, &locked_perm, &locked_unshared);
out_close:
    if (close(fd) < 0 && ret == 0) {
        ret = -errno;
        error_setg_errno(errp, -ret, "Could not close the new file");
    }
    return ret;
}
