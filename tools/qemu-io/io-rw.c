/*
 * qemu-io: the data commands: read, write, readv, writev, aio_read,
 * aio_write, aio_flush and discard.  Argument checks run in QEMU 7.2's
 * order so that the first complaint printed is the same.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "qemu-io.h"

#define SECTOR_SIZE 512

static bool is_sector_aligned(int64_t value, const char *what)
{
    if (value % SECTOR_SIZE) {
        printf("%" PRId64 " is not a sector-aligned value for '%s'\n", value,
               what);
        return false;
    }
    return true;
}

/* Parses one size argument; prints QEMU's message on error. */
static int64_t parse_num(const char *arg)
{
    int64_t value = io_cvtnum(arg);

    if (value < 0) {
        io_print_cvtnum_err(value, arg);
    }
    return value;
}

/* ---- Waiting for a vectored request ------------------------------------ */

typedef struct IoWait {
    bool done;
    int ret;
} IoWait;

static void io_wait_cb(void *opaque, int ret)
{
    IoWait *w = opaque;

    w->ret = ret;
    w->done = true;
}

static int do_readv(IoState *s, int64_t offset, BlockIOVec *qiov)
{
    IoWait w = {0};

    blk_aio_preadv(s->blk, offset, qiov, 0, io_wait_cb, &w);
    qx_loop_run_until(s->loop, &w.done);
    return w.ret;
}

static int do_writev(IoState *s, int64_t offset, BlockIOVec *qiov,
                     BlockReqFlags flags)
{
    IoWait w = {0};

    blk_aio_pwritev(s->blk, offset, qiov, flags, io_wait_cb, &w);
    qx_loop_run_until(s->loop, &w.done);
    return w.ret;
}

/* ---- read ---------------------------------------------------------------- */

int io_read_f(IoState *s, int argc, char **argv)
{
    const IoCommand *ct = io_find_command("read");
    bool csv = false, quiet = false, dump = false, vmstate = false;
    bool has_pattern = false, has_start = false, has_len = false;
    int pattern = 0;
    int64_t offset, count, pat_start = 0, pat_len = -1;
    struct timespec t1, t2;
    uint8_t *buf;
    int c, ret;

    while ((c = getopt(argc, argv, "bCl:pP:qs:v")) != -1) {
        switch (c) {
        case 'b':
            vmstate = true;
            break;
        case 'C':
            csv = true;
            break;
        case 'l':
            has_len = true;
            pat_len = io_cvtnum(optarg);
            if (pat_len < 0) {
                io_print_cvtnum_err(pat_len, optarg);
                return pat_len;
            }
            break;
        case 'p':
            /* Ignored, as in QEMU, for old scripts. */
            break;
        case 'P':
            has_pattern = true;
            pattern = io_parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'q':
            quiet = true;
            break;
        case 's':
            has_start = true;
            pat_start = io_cvtnum(optarg);
            if (pat_start < 0) {
                io_print_cvtnum_err(pat_start, optarg);
                return pat_start;
            }
            break;
        case 'v':
            dump = true;
            break;
        default:
            io_command_usage(ct);
            return -EINVAL;
        }
    }
    if (optind != argc - 2) {
        io_command_usage(ct);
        return -EINVAL;
    }
    offset = parse_num(argv[optind]);
    if (offset < 0) {
        return offset;
    }
    optind++;
    count = parse_num(argv[optind]);
    if (count < 0) {
        return count;
    }
    if (count > BLOCK_REQUEST_MAX_BYTES) {
        printf("length cannot exceed %" PRIu64 ", given %s\n",
               (uint64_t)BLOCK_REQUEST_MAX_BYTES, argv[optind]);
        return -EINVAL;
    }
    if (!has_pattern && (has_len || has_start)) {
        io_command_usage(ct);
        return -EINVAL;
    }
    if (!has_len) {
        pat_len = count - pat_start;
    }
    if (pat_len < 0 || pat_len + pat_start > count) {
        printf("pattern verification range exceeds end of read data\n");
        return -EINVAL;
    }
    if (vmstate && (!is_sector_aligned(offset, "offset") ||
                    !is_sector_aligned(count, "count"))) {
        return -EINVAL;
    }

    buf = io_alloc_buf(s, (size_t)count, 0xab);
    t1 = io_clock_now();
    /* The block layer has no VM state area (qcow2 internal snapshots). */
    ret = vmstate ? -ENOTSUP : blk_pread(s->blk, offset, count, buf, 0);
    t2 = io_clock_since(&t1);
    if (ret < 0) {
        printf("read failed: %s\n", strerror(-ret));
        goto out;
    }
    ret = 0;
    if (has_pattern && !io_buffer_matches(buf + pat_start, pattern, pat_len)) {
        printf("Pattern verification failed at offset %" PRId64 ", %" PRId64
               " bytes\n",
               offset + pat_start, pat_len);
        ret = -EINVAL;
    }
    if (quiet) {
        goto out;
    }
    if (dump) {
        io_dump_buffer(buf, offset, count);
    }
    io_print_report("read", &t2, offset, count, count, 1, csv);
out:
    io_free_buf(s, buf);
    return ret;
}

/* ---- readv --------------------------------------------------------------- */

int io_readv_f(IoState *s, int argc, char **argv)
{
    const IoCommand *ct = io_find_command("readv");
    bool csv = false, quiet = false, dump = false, has_pattern = false;
    int pattern = 0;
    int64_t offset;
    struct timespec t1, t2;
    BlockIOVec qiov;
    uint8_t *buf;
    int c, ret;

    while ((c = getopt(argc, argv, "CP:qv")) != -1) {
        switch (c) {
        case 'C':
            csv = true;
            break;
        case 'P':
            has_pattern = true;
            pattern = io_parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'q':
            quiet = true;
            break;
        case 'v':
            dump = true;
            break;
        default:
            io_command_usage(ct);
            return -EINVAL;
        }
    }
    if (optind > argc - 2) {
        io_command_usage(ct);
        return -EINVAL;
    }
    offset = parse_num(argv[optind]);
    if (offset < 0) {
        return offset;
    }
    optind++;
    buf = io_create_iovec(s, &qiov, &argv[optind], argc - optind, 0xab);
    if (!buf) {
        return -EINVAL;
    }
    t1 = io_clock_now();
    ret = do_readv(s, offset, &qiov);
    t2 = io_clock_since(&t1);
    if (ret < 0) {
        printf("readv failed: %s\n", strerror(-ret));
        goto out;
    }
    ret = 0;
    if (has_pattern && !io_buffer_matches(buf, pattern, (int64_t)qiov.size)) {
        printf("Pattern verification failed at offset %" PRId64 ", %zu "
               "bytes\n",
               offset, qiov.size);
        ret = -EINVAL;
    }
    if (quiet) {
        goto out;
    }
    if (dump) {
        io_dump_buffer(buf, offset, (int64_t)qiov.size);
    }
    io_print_report("read", &t2, offset, (int64_t)qiov.size, (int64_t)qiov.size,
                    1, csv);
out:
    block_iov_destroy(&qiov);
    io_free_buf(s, buf);
    return ret;
}

/* ---- write --------------------------------------------------------------- */

int io_write_f(IoState *s, int argc, char **argv)
{
    const IoCommand *ct = io_find_command("write");
    bool csv = false, quiet = false, vmstate = false, compressed = false;
    bool zero = false, has_pattern = false, from_file = false;
    BlockReqFlags flags = 0;
    const char *file = NULL;
    int pattern = 0xcd;
    int64_t offset, count;
    struct timespec t1, t2;
    uint8_t *buf = NULL;
    int c, ret;

    while ((c = getopt(argc, argv, "bcCfnpP:qs:uz")) != -1) {
        switch (c) {
        case 'b':
            vmstate = true;
            break;
        case 'c':
            compressed = true;
            break;
        case 'C':
            csv = true;
            break;
        case 'f':
            flags |= BLOCK_REQ_FUA;
            break;
        case 'n':
            flags |= BLOCK_REQ_NO_FALLBACK;
            break;
        case 'p':
            /* Ignored, as in QEMU, for old scripts. */
            break;
        case 'P':
            has_pattern = true;
            pattern = io_parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'q':
            quiet = true;
            break;
        case 's':
            from_file = true;
            file = optarg;
            break;
        case 'u':
            flags |= BLOCK_REQ_MAY_UNMAP;
            break;
        case 'z':
            zero = true;
            break;
        default:
            io_command_usage(ct);
            return -EINVAL;
        }
    }
    if (optind != argc - 2) {
        io_command_usage(ct);
        return -EINVAL;
    }
    if (vmstate && zero) {
        printf("-b and -z cannot be specified at the same time\n");
        return -EINVAL;
    }
    if ((flags & BLOCK_REQ_FUA) && (vmstate || compressed)) {
        printf("-f and -b or -c cannot be specified at the same time\n");
        return -EINVAL;
    }
    if ((flags & BLOCK_REQ_NO_FALLBACK) && !zero) {
        printf("-n requires -z to be specified\n");
        return -EINVAL;
    }
    if ((flags & BLOCK_REQ_MAY_UNMAP) && !zero) {
        printf("-u requires -z to be specified\n");
        return -EINVAL;
    }
    if (zero + has_pattern + from_file > 1) {
        printf("Only one of -z, -P, and -s can be specified at the same "
               "time\n");
        return -EINVAL;
    }
    offset = parse_num(argv[optind]);
    if (offset < 0) {
        return offset;
    }
    optind++;
    count = parse_num(argv[optind]);
    if (count < 0) {
        return count;
    }
    if (count > BLOCK_REQUEST_MAX_BYTES && !(flags & BLOCK_REQ_NO_FALLBACK)) {
        printf("length cannot exceed %" PRIu64 " without -n, given %s\n",
               (uint64_t)BLOCK_REQUEST_MAX_BYTES, argv[optind]);
        return -EINVAL;
    }
    if ((vmstate || compressed) && (!is_sector_aligned(offset, "offset") ||
                                    !is_sector_aligned(count, "count"))) {
        return -EINVAL;
    }

    if (from_file && s->sandboxed) {
        /* A fuzzed path could name a FIFO or a terminal and block. */
        printf("write -s: not available in this session\n");
        return -EPERM;
    }
    if (!zero) {
        if (count > BLOCK_REQUEST_MAX_BYTES) {
            /* Only -z may be larger (with -n); -n without -z failed above. */
            return -EINVAL;
        }
        buf = from_file ? io_alloc_buf_from_file(s, (size_t)count, file)
                        : io_alloc_buf(s, (size_t)count, pattern);
        if (!buf) {
            return -EINVAL;
        }
    }
    t1 = io_clock_now();
    if (vmstate) {
        /* No VM state area in the block layer yet. */
        ret = -ENOTSUP;
    } else if (compressed) {
        ret = blk_pwrite(s->blk, offset, count, buf,
                         flags | BLOCK_REQ_WRITE_COMPRESSED);
    } else if (zero) {
        ret = blk_pwrite_zeroes(s->blk, offset, count, flags);
    } else {
        ret = blk_pwrite(s->blk, offset, count, buf, flags);
    }
    t2 = io_clock_since(&t1);
    if (ret < 0) {
        printf("write failed: %s\n", strerror(-ret));
        goto out;
    }
    ret = 0;
    if (!quiet) {
        io_print_report("wrote", &t2, offset, count, count, 1, csv);
    }
out:
    io_free_buf(s, buf);
    return ret;
}

/* ---- writev -------------------------------------------------------------- */

int io_writev_f(IoState *s, int argc, char **argv)
{
    const IoCommand *ct = io_find_command("writev");
    bool csv = false, quiet = false;
    BlockReqFlags flags = 0;
    int pattern = 0xcd;
    int64_t offset;
    struct timespec t1, t2;
    BlockIOVec qiov;
    uint8_t *buf;
    int c, ret;

    while ((c = getopt(argc, argv, "CfqP:")) != -1) {
        switch (c) {
        case 'C':
            csv = true;
            break;
        case 'f':
            flags |= BLOCK_REQ_FUA;
            break;
        case 'q':
            quiet = true;
            break;
        case 'P':
            pattern = io_parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        default:
            io_command_usage(ct);
            return -EINVAL;
        }
    }
    if (optind > argc - 2) {
        io_command_usage(ct);
        return -EINVAL;
    }
    offset = parse_num(argv[optind]);
    if (offset < 0) {
        return offset;
    }
    optind++;
    buf = io_create_iovec(s, &qiov, &argv[optind], argc - optind, pattern);
    if (!buf) {
        return -EINVAL;
    }
    t1 = io_clock_now();
    ret = do_writev(s, offset, &qiov, flags);
    t2 = io_clock_since(&t1);
    if (ret < 0) {
        printf("writev failed: %s\n", strerror(-ret));
        goto out;
    }
    ret = 0;
    if (!quiet) {
        io_print_report("wrote", &t2, offset, (int64_t)qiov.size,
                        (int64_t)qiov.size, 1, csv);
    }
out:
    block_iov_destroy(&qiov);
    io_free_buf(s, buf);
    return ret;
}

/* ---- aio_read / aio_write ------------------------------------------------ */

/*
 * One request in flight; its completion prints the result whenever the
 * loop runs it (during a later command, aio_flush, or at exit), as
 * QEMU's does.
 */
typedef struct IoAioReq {
    IoState *s;
    BlockIOVec qiov;
    uint8_t *buf;
    int64_t offset;
    int64_t zero_bytes; /* aio_write -z: bytes, no buffer */
    bool is_write;
    bool csv;
    bool quiet;
    bool dump;
    bool has_pattern;
    int pattern;
    struct timespec t1;
} IoAioReq;

static void aio_req_free(IoAioReq *req)
{
    if (req->buf) {
        block_iov_destroy(&req->qiov);
        io_free_buf(req->s, req->buf);
    }
    g_free(req);
}

static void aio_read_done(void *opaque, int ret)
{
    IoAioReq *req = opaque;
    struct timespec t2 = io_clock_since(&req->t1);

    if (ret < 0) {
        printf("readv failed: %s\n", strerror(-ret));
        goto out;
    }
    if (req->has_pattern &&
        !io_buffer_matches(req->buf, req->pattern, (int64_t)req->qiov.size)) {
        printf("Pattern verification failed at offset %" PRId64 ", %zu "
               "bytes\n",
               req->offset, req->qiov.size);
    }
    if (req->quiet) {
        goto out;
    }
    if (req->dump) {
        io_dump_buffer(req->buf, req->offset, (int64_t)req->qiov.size);
    }
    io_print_report("read", &t2, req->offset, (int64_t)req->qiov.size,
                    (int64_t)req->qiov.size, 1, req->csv);
out:
    fflush(stdout);
    aio_req_free(req);
}

static void aio_write_done(void *opaque, int ret)
{
    IoAioReq *req = opaque;
    struct timespec t2 = io_clock_since(&req->t1);
    int64_t size = req->buf ? (int64_t)req->qiov.size : req->zero_bytes;

    if (ret < 0) {
        printf("aio_write failed: %s\n", strerror(-ret));
        goto out;
    }
    if (!req->quiet) {
        io_print_report("wrote", &t2, req->offset, size, size, 1, req->csv);
    }
out:
    fflush(stdout);
    aio_req_free(req);
}

int io_aio_read_f(IoState *s, int argc, char **argv)
{
    const IoCommand *ct = io_find_command("aio_read");
    IoAioReq *req = g_new0(IoAioReq, 1);
    int c;

    req->s = s;
    while ((c = getopt(argc, argv, "CP:iqv")) != -1) {
        switch (c) {
        case 'C':
            req->csv = true;
            break;
        case 'P':
            req->has_pattern = true;
            req->pattern = io_parse_pattern(optarg);
            if (req->pattern < 0) {
                g_free(req);
                return -EINVAL;
            }
            break;
        case 'i':
            /* Only accounts an invalid request in QEMU's statistics. */
            printf("injecting invalid read request\n");
            g_free(req);
            return 0;
        case 'q':
            req->quiet = true;
            break;
        case 'v':
            req->dump = true;
            break;
        default:
            g_free(req);
            io_command_usage(ct);
            return -EINVAL;
        }
    }
    if (optind > argc - 2) {
        g_free(req);
        io_command_usage(ct);
        return -EINVAL;
    }
    req->offset = parse_num(argv[optind]);
    if (req->offset < 0) {
        int64_t ret = req->offset;
        g_free(req);
        return ret;
    }
    optind++;
    req->buf =
        io_create_iovec(s, &req->qiov, &argv[optind], argc - optind, 0xab);
    if (!req->buf) {
        g_free(req);
        return -EINVAL;
    }
    req->t1 = io_clock_now();
    blk_aio_preadv(s->blk, req->offset, &req->qiov, 0, aio_read_done, req);
    return 0;
}

int io_aio_write_f(IoState *s, int argc, char **argv)
{
    const IoCommand *ct = io_find_command("aio_write");
    IoAioReq *req = g_new0(IoAioReq, 1);
    BlockReqFlags flags = 0;
    bool zero = false;
    int pattern = 0xcd;
    int c;

    req->s = s;
    req->is_write = true;
    while ((c = getopt(argc, argv, "CfiqP:uz")) != -1) {
        switch (c) {
        case 'C':
            req->csv = true;
            break;
        case 'f':
            flags |= BLOCK_REQ_FUA;
            break;
        case 'i':
            printf("injecting invalid write request\n");
            g_free(req);
            return 0;
        case 'q':
            req->quiet = true;
            break;
        case 'P':
            pattern = io_parse_pattern(optarg);
            if (pattern < 0) {
                g_free(req);
                return -EINVAL;
            }
            break;
        case 'u':
            flags |= BLOCK_REQ_MAY_UNMAP;
            break;
        case 'z':
            zero = true;
            break;
        default:
            g_free(req);
            io_command_usage(ct);
            return -EINVAL;
        }
    }
    if (optind > argc - 2) {
        g_free(req);
        io_command_usage(ct);
        return -EINVAL;
    }
    if (zero && optind != argc - 2) {
        printf("-z supports only a single length parameter\n");
        g_free(req);
        return -EINVAL;
    }
    if ((flags & BLOCK_REQ_MAY_UNMAP) && !zero) {
        printf("-u requires -z to be specified\n");
        g_free(req);
        return -EINVAL;
    }
    req->offset = parse_num(argv[optind]);
    if (req->offset < 0) {
        int64_t ret = req->offset;
        g_free(req);
        return ret;
    }
    optind++;
    if (zero) {
        req->zero_bytes = parse_num(argv[optind]);
        if (req->zero_bytes < 0) {
            int64_t ret = req->zero_bytes;
            g_free(req);
            return ret;
        }
        /*
         * QEMU 7.2 never starts the clock for -z, so its statistics count
         * from the clock's origin; do the same for identical output form.
         */
        blk_aio_pwrite_zeroes(s->blk, req->offset, req->zero_bytes, flags,
                              aio_write_done, req);
        return 0;
    }
    req->buf =
        io_create_iovec(s, &req->qiov, &argv[optind], argc - optind, pattern);
    if (!req->buf) {
        g_free(req);
        return -EINVAL;
    }
    req->t1 = io_clock_now();
    blk_aio_pwritev(s->blk, req->offset, &req->qiov, flags, aio_write_done,
                    req);
    return 0;
}

int io_aio_flush_f(IoState *s, int argc, char **argv)
{
    blk_drain(s->blk);
    return 0;
}

/* ---- discard ------------------------------------------------------------- */

int io_discard_f(IoState *s, int argc, char **argv)
{
    const IoCommand *ct = io_find_command("discard");
    bool csv = false, quiet = false;
    int64_t offset, bytes;
    struct timespec t1, t2;
    int c, ret;

    while ((c = getopt(argc, argv, "Cq")) != -1) {
        switch (c) {
        case 'C':
            csv = true;
            break;
        case 'q':
            quiet = true;
            break;
        default:
            io_command_usage(ct);
            return -EINVAL;
        }
    }
    if (optind != argc - 2) {
        io_command_usage(ct);
        return -EINVAL;
    }
    offset = parse_num(argv[optind]);
    if (offset < 0) {
        return offset;
    }
    optind++;
    bytes = parse_num(argv[optind]);
    if (bytes < 0) {
        return bytes;
    }
    if (bytes > BLOCK_REQUEST_MAX_BYTES) {
        printf("length cannot exceed %" PRIu64 ", given %s\n",
               (uint64_t)BLOCK_REQUEST_MAX_BYTES, argv[optind]);
        return -EINVAL;
    }
    t1 = io_clock_now();
    ret = blk_pdiscard(s->blk, offset, bytes);
    t2 = io_clock_since(&t1);
    if (ret < 0) {
        printf("discard failed: %s\n", strerror(-ret));
        return ret;
    }
    if (!quiet) {
        io_print_report("discard", &t2, offset, bytes, bytes, 1, csv);
    }
    return 0;
}
