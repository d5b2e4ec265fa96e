/*
 * Private interface between the files of the file/host_device driver.
 */
#ifndef QX_BLOCK_FILE_POSIX_H
#define QX_BLOCK_FILE_POSIX_H

#include "internal.h"

typedef struct FileState {
    int fd;
    char *filename;
    bool is_device;       /* block or character device */
    bool is_block_device;
    QxAio *aio;
    bool use_lock;
    unsigned locked_perm;     /* lock bytes 100+i we hold */
    unsigned locked_unshared; /* lock bytes 200+i we hold */
    bool has_zero_range;      /* FALLOC_FL_ZERO_RANGE works here */
    bool has_punch_hole;      /* FALLOC_FL_PUNCH_HOLE works here */
    bool has_seek_hole;       /* SEEK_DATA/SEEK_HOLE work here */
    uint32_t probed_align;    /* O_DIRECT request alignment */
    uint32_t probed_mem_align;
} FileState;

/* file-posix-lock.c: see there for the protocol. */
int file_lock_apply(int fd, unsigned perm, unsigned unshared,
                    unsigned *locked_perm, unsigned *locked_unshared);
void file_lock_release_all(int fd, unsigned *locked_perm,
                           unsigned *locked_unshared);
int file_lock_check(int fd, unsigned perm, unsigned unshared,
                    const char *filename, Error **errp);
bool file_lock_supported(void);

/* file-posix-create.c */
int file_create_co(BlockGraph *graph, const char *filename,
                   BlockCreateOpts *opts, Error **errp);
/*
 * Resizes the regular file fd from its current length to offset with the
 * given preallocation, as QEMU does (including writing the first block of
 * a file that grows from empty, which helps O_DIRECT alignment probing).
 */
int file_truncate_fd_co(QxAio *aio, int fd, int64_t offset,
                        BlockPreallocMode prealloc, Error **errp);
extern const BlockOptDesc file_create_opts[];

#endif
