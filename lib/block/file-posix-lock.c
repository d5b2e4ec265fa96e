/*
 * Image locking compatible with QEMU 7.2: open file description (OFD)
 * read locks on single bytes of the image file.  For permission bit i a
 * user holding the permission locks byte 100 + i, and a user not sharing
 * it locks byte 200 + i.  A user may take permission i only if nobody
 * locks 200 + i, and may refuse to share it only if nobody locks 100 + i.
 * Conflicts are found with F_OFD_GETLK (our own description's locks never
 * conflict with themselves).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "file-posix.h"

#define LOCK_BASE_PERM 100
#define LOCK_BASE_SHARED 200

static int lock_byte(int fd, off_t byte, short type)
{
    struct flock fl = {
        .l_type = type,
        .l_whence = SEEK_SET,
        .l_start = byte,
        .l_len = 1,
    };

    if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
        return -errno;
    }
    return 0;
}

/* 1 if another description holds a lock on byte, 0 if not, or -errno. */
static int byte_is_locked(int fd, off_t byte)
{
    struct flock fl = {
        .l_type = F_WRLCK,
        .l_whence = SEEK_SET,
        .l_start = byte,
        .l_len = 1,
    };

    if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
        return -errno;
    }
    return fl.l_type != F_UNLCK;
}

int file_lock_apply(int fd, unsigned perm, unsigned unshared,
                    unsigned *locked_perm, unsigned *locked_unshared)
{
    int ret;

    for (unsigned i = 0; i < BLOCK_PERM_COUNT; i++) {
        unsigned bit = 1u << i;
        if ((perm & bit) && !(*locked_perm & bit)) {
            ret = lock_byte(fd, LOCK_BASE_PERM + i, F_RDLCK);
            if (ret < 0) {
                return ret;
            }
            *locked_perm |= bit;
        } else if (!(perm & bit) && (*locked_perm & bit)) {
            lock_byte(fd, LOCK_BASE_PERM + i, F_UNLCK);
            *locked_perm &= ~bit;
        }
    }
    for (unsigned i = 0; i < BLOCK_PERM_COUNT; i++) {
        unsigned bit = 1u << i;
        if ((unshared & bit) && !(*locked_unshared & bit)) {
            ret = lock_byte(fd, LOCK_BASE_SHARED + i, F_RDLCK);
            if (ret < 0) {
                return ret;
            }
            *locked_unshared |= bit;
        } else if (!(unshared & bit) && (*locked_unshared & bit)) {
            lock_byte(fd, LOCK_BASE_SHARED + i, F_UNLCK);
            *locked_unshared &= ~bit;
        }
    }
    return 0;
}

void file_lock_release_all(int fd, unsigned *locked_perm,
                           unsigned *locked_unshared)
{
    for (unsigned i = 0; i < BLOCK_PERM_COUNT; i++) {
        lock_byte(fd, LOCK_BASE_PERM + i, F_UNLCK);
    }
    for (unsigned i = 0; i < BLOCK_PERM_COUNT; i++) {
        lock_byte(fd, LOCK_BASE_SHARED + i, F_UNLCK);
    }
    *locked_perm = 0;
    *locked_unshared = 0;
}

int file_lock_check(int fd, unsigned perm, unsigned unshared,
                    const char *filename, Error **errp)
{
    for (unsigned i = 0; i < BLOCK_PERM_COUNT; i++) {
        unsigned bit = 1u << i;
        int ret;

        if (perm & bit) {
            ret = byte_is_locked(fd, LOCK_BASE_SHARED + i);
            if (ret != 0) {
                error_setg(errp, "Failed to get \"%s\" lock",
                           block_perm_name(i));
                error_append_hint(errp,
                                  "Is another process using the image "
                                  "[%s]?\n",
                                  filename);
                return ret < 0 ? ret : -EAGAIN;
            }
        }
        if (unshared & bit) {
            ret = byte_is_locked(fd, LOCK_BASE_PERM + i);
            if (ret != 0) {
                error_setg(errp, "Failed to get shared \"%s\" lock",
                           block_perm_name(i));
                error_append_hint(errp,
                                  "Is another process using the image "
                                  "[%s]?\n",
                                  filename);
                return ret < 0 ? ret : -EAGAIN;
            }
        }
    }
    return 0;
}

bool file_lock_supported(void)
{
    struct flock fl = {
        .l_type = F_WRLCK,
        .l_whence = SEEK_SET,
    };
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ok = fcntl(fd, F_OFD_GETLK, &fl) == 0;
    close(fd);
    return ok;
}
