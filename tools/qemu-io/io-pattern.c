/*
 * qemu-io: I/O buffers (pattern-filled, file-filled, sliced into vectors),
 * pattern bytes and the -v hex dump.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-io.h"
#include "qx/util/cutils.h"

/* -m moves buffers this far off their alignment (QEMU's value). */
#define IO_MISALIGN_OFFSET 16

void *io_alloc_buf(IoState *s, size_t len, int pattern)
{
    size_t extra = s->misalign ? IO_MISALIGN_OFFSET : 0;
    uint8_t *buf = blk_blockalign(s->blk, len + extra);

    memset(buf, pattern, len + extra);
    return buf + extra;
}

void io_free_buf(IoState *s, void *buf)
{
    if (buf) {
        blk_vfree((uint8_t *)buf - (s->misalign ? IO_MISALIGN_OFFSET : 0));
    }
}

void *io_alloc_buf_from_file(IoState *s, size_t len, const char *file)
{
    FILE *f = fopen(file, "r");
    uint8_t *buf;
    size_t got;

    if (!f) {
        perror(file);
        return NULL;
    }
    buf = io_alloc_buf(s, len, 0);
    got = fread(buf, 1, len, f);
    if (ferror(f)) {
        perror(file);
        goto fail;
    }
    if (got == 0) {
        fprintf(stderr, "%s: file is empty\n", file);
        goto fail;
    }
    fclose(f);
    /* The file's contents repeat to fill the buffer. */
    for (size_t done = got; done < len;) {
        size_t n = MIN(got, len - done);
        memcpy(buf + done, buf, n);
        done += n;
    }
    return buf;

fail:
    fclose(f);
    io_free_buf(s, buf);
    return NULL;
}

int io_parse_pattern(const char *arg)
{
    int64_t value;

    if (qx_strtoi64(arg, 0, &value) < 0 || value < 0 || value > 0xff) {
        printf("%s is not a valid pattern byte\n", arg);
        return -1;
    }
    return (int)value;
}

bool io_buffer_matches(const void *buf, int pattern, int64_t len)
{
    const uint8_t *p = buf;

    for (int64_t i = 0; i < len; i++) {
        if (p[i] != (uint8_t)pattern) {
            return false;
        }
    }
    return true;
}

void io_dump_buffer(const void *buf, int64_t offset, int64_t len)
{
    const uint8_t *p = buf;

    for (int64_t line = 0; line < len; line += 16) {
        int64_t n = MIN(16, len - line);
        char ascii[17];

        printf("%08" PRIx64 ":  ", (uint64_t)(offset + line));
        for (int64_t i = 0; i < n; i++) {
            printf("%02x ", p[line + i]);
            /* Only letters and digits show; everything else is a dot. */
            ascii[i] = isalnum(p[line + i]) ? (char)p[line + i] : '.';
        }
        ascii[n] = '\0';
        printf(" %s\n", ascii);
    }
}

void *io_create_iovec(IoState *s, BlockIOVec *qiov, char **args, int nargs,
                      int pattern)
{
    g_autofree int64_t *sizes = g_new(int64_t, nargs);
    int64_t total = 0;
    uint8_t *buf, *p;

    for (int i = 0; i < nargs; i++) {
        int64_t len = io_cvtnum(args[i]);

        if (len < 0) {
            io_print_cvtnum_err(len, args[i]);
            return NULL;
        }
        if (len > BLOCK_REQUEST_MAX_BYTES) {
            printf("Argument '%s' exceeds maximum size %" PRIu64 "\n", args[i],
                   (uint64_t)BLOCK_REQUEST_MAX_BYTES);
            return NULL;
        }
        if (total > BLOCK_REQUEST_MAX_BYTES - len) {
            printf("The total number of bytes exceed the maximum size %" PRIu64
                   "\n",
                   (uint64_t)BLOCK_REQUEST_MAX_BYTES);
            return NULL;
        }
        sizes[i] = len;
        total += len;
    }
    block_iov_init(qiov, nargs);
    buf = p = io_alloc_buf(s, (size_t)total, pattern);
    for (int i = 0; i < nargs; i++) {
        block_iov_add(qiov, p, (size_t)sizes[i]);
        p += sizes[i];
    }
    return buf;
}
