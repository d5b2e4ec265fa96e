/*
 * qemu-img compare [--object objectdef] [--image-opts] [-f fmt] [-F fmt]
 *                  [-T src_cache] [-p] [-q] [-s] [-U] filename1 filename2
 *
 * Compares the guest-visible contents of two images (through their
 * backing chains).  Exit status: 0 identical, 1 different, 2 an image
 * could not be opened, 3 block status failed, 4 a read failed.  Without
 * -s, a size difference is fine if the excess reads as zeroes; -s also
 * fails on different sizes or block status.  Offsets of mismatches are
 * those of the first differing 512-byte sector, as QEMU reports them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "img-common.h"
#include "qx/util/coroutine.h"

#define SECTOR_SIZE 512
#define COMPARE_BUF_SIZE (2 * 1024 * 1024)

enum {
    OPTION_OBJECT = 256,
    OPTION_IMAGE_OPTS,
};

typedef struct CompareState {
    BlockBackend *blk1;
    BlockBackend *blk2;
    const char *filename1;
    const char *filename2;
    bool strict;
    bool quiet;
    ImgProgress *progress;
    uint8_t *buf1;
    uint8_t *buf2;
    int ret;
} CompareState;

static void compare_printf(const CompareState *s, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static void compare_printf(const CompareState *s, const char *fmt, ...)
{
    va_list ap;

    if (s->quiet) {
        return;
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

/* Byte index of the first sector of buf holding a non-zero byte, or -1. */
static int64_t find_nonzero_sector(const uint8_t *buf, int64_t n)
{
    for (int64_t i = 0; i < n; i += SECTOR_SIZE) {
        if (!block_buffer_is_zero(buf + i, MIN(SECTOR_SIZE, n - i))) {
            return i;
        }
    }
    return -1;
}

/*
 * Length of the leading run of sectors that all compare equal (returns
 * false) or all differ (returns true), like the first one.
 */
static bool compare_sectors(const uint8_t *a, const uint8_t *b, int64_t n,
                            int64_t *pnum)
{
    int64_t i = MIN(n, SECTOR_SIZE);
    bool differ = memcmp(a, b, i) != 0;

    while (i < n) {
        int64_t len = MIN(n - i, SECTOR_SIZE);

        if ((memcmp(a + i, b + i, len) != 0) != differ) {
            break;
        }
        i += len;
    }
    *pnum = i;
    return differ;
}

/* 0 if [offset, offset + bytes) of blk reads as zeroes, else 1 or 4. */
static int check_empty_co(CompareState *s, BlockBackend *blk,
                          const char *filename, int64_t offset, int64_t bytes)
{
    int64_t idx;
    int ret = blk_pread_co(blk, offset, bytes, s->buf1, 0);

    if (ret < 0) {
        error_report("Error while reading offset %" PRId64 " of %s: %s",
                     offset, filename, strerror(-ret));
        return 4;
    }
    idx = find_nonzero_sector(s->buf1, bytes);
    if (idx >= 0) {
        compare_printf(s, "Content mismatch at offset %" PRId64 "!\n",
                       offset + idx);
        return 1;
    }
    return 0;
}

static int compare_read_co(BlockBackend *blk, const char *filename,
                           int64_t offset, int64_t bytes, uint8_t *buf)
{
    int ret = blk_pread_co(blk, offset, bytes, buf, 0);

    if (ret < 0) {
        error_report("Error while reading offset %" PRId64 " of %s: %s",
                     offset, filename, strerror(-ret));
        return 4;
    }
    return 0;
}

static int compare_co(CompareState *s)
{
    BlockNode *bs1 = blk_node(s->blk1);
    BlockNode *bs2 = blk_node(s->blk2);
    int64_t size1 = blk_getlength(s->blk1);
    int64_t size2 = blk_getlength(s->blk2);
    int64_t total;
    int64_t base;
    int64_t offset = 0;
    int ret;

    if (size1 < 0) {
        error_report("Can't get size of %s: %s", s->filename1,
                     strerror((int)-size1));
        return 4;
    }
    if (size2 < 0) {
        error_report("Can't get size of %s: %s", s->filename2,
                     strerror((int)-size2));
        return 4;
    }
    total = MIN(size1, size2);
    base = MAX(size1, size2);

    img_progress_print(s->progress, 0, 100);
    if (s->strict && size1 != size2) {
        compare_printf(s, "Strict mode: Image size mismatch!\n");
        return 1;
    }

    while (offset < total) {
        int64_t pnum1;
        int64_t pnum2;
        int64_t chunk;
        int st1;
        int st2;
        bool alloc1;
        bool alloc2;

        st1 = block_status_above_co(bs1, NULL, offset, size1 - offset,
                                    &pnum1, NULL, NULL);
        if (st1 < 0 || pnum1 <= 0) {
            error_report("Sector allocation test failed for %s",
                         s->filename1);
            return 3;
        }
        st2 = block_status_above_co(bs2, NULL, offset, size2 - offset,
                                    &pnum2, NULL, NULL);
        if (st2 < 0 || pnum2 <= 0) {
            error_report("Sector allocation test failed for %s",
                         s->filename2);
            return 3;
        }
        alloc1 = st1 & BLOCK_STATUS_ALLOCATED;
        alloc2 = st2 & BLOCK_STATUS_ALLOCATED;
        chunk = MIN(pnum1, pnum2);

        if (s->strict && st1 != st2) {
            compare_printf(s, "Strict mode: Offset %" PRId64
                              " block status mismatch!\n",
                           offset);
            return 1;
        }
        if ((st1 & BLOCK_STATUS_ZERO) && (st2 & BLOCK_STATUS_ZERO)) {
            /* both read as zeroes */
        } else if (alloc1 == alloc2) {
            if (alloc1) {
                int64_t pnum;
                bool differ;

                chunk = MIN(chunk, COMPARE_BUF_SIZE);
                ret = compare_read_co(s->blk1, s->filename1, offset, chunk,
                                      s->buf1);
                if (!ret) {
                    ret = compare_read_co(s->blk2, s->filename2, offset,
                                          chunk, s->buf2);
                }
                if (ret) {
                    return ret;
                }
                differ = compare_sectors(s->buf1, s->buf2, chunk, &pnum);
                if (differ || pnum != chunk) {
                    compare_printf(s, "Content mismatch at offset %" PRId64
                                      "!\n",
                                   offset + (differ ? 0 : pnum));
                    return 1;
                }
            }
        } else {
            chunk = MIN(chunk, COMPARE_BUF_SIZE);
            ret = alloc1 ? check_empty_co(s, s->blk1, s->filename1, offset,
                                          chunk)
                         : check_empty_co(s, s->blk2, s->filename2, offset,
                                          chunk);
            if (ret) {
                return ret;
            }
        }
        offset += chunk;
        img_progress_print(s->progress, (float)chunk / base * 100, 100);
    }

    if (size1 != size2) {
        BlockBackend *over = size1 > size2 ? s->blk1 : s->blk2;
        const char *name = size1 > size2 ? s->filename1 : s->filename2;

        compare_printf(s, "Warning: Image size mismatch!\n");
        while (offset < base) {
            int64_t chunk;
            int st = block_status_above_co(blk_node(over), NULL, offset,
                                           base - offset, &chunk, NULL, NULL);

            if (st < 0 || chunk <= 0) {
                error_report("Sector allocation test failed for %s", name);
                return 3;
            }
            if ((st & BLOCK_STATUS_ALLOCATED) && !(st & BLOCK_STATUS_ZERO)) {
                chunk = MIN(chunk, COMPARE_BUF_SIZE);
                ret = check_empty_co(s, over, name, offset, chunk);
                if (ret) {
                    return ret;
                }
            }
            offset += chunk;
            img_progress_print(s->progress, (float)chunk / base * 100, 100);
        }
    }
    compare_printf(s, "Images are identical.\n");
    return 0;
}

static void compare_entry(void *opaque)
{
    CompareState *s = opaque;

    s->ret = compare_co(s);
}

int img_compare(ImgContext *ctx, int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPTION_OBJECT},
        {"image-opts", no_argument, NULL, OPTION_IMAGE_OPTS},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt1 = NULL;
    const char *fmt2 = NULL;
    const char *cache = "writeback";
    bool image_opts = false;
    bool force_share = false;
    bool progress = false;
    CompareState s = {0};
    BlockCacheMode mode;
    ImgProgress prog;
    Error *err = NULL;
    int ret = 2;
    int c;

    while ((c = getopt_long(argc, argv, ":hf:F:T:pqsU", long_options,
                            NULL)) != -1) {
        switch (c) {
        case ':':
            img_missing_argument(argv[optind - 1]);
        case '?':
            img_unrecognized_option(argv[optind - 1]);
        case 'h':
            img_help();
        case 'f':
            fmt1 = optarg;
            break;
        case 'F':
            fmt2 = optarg;
            break;
        case 'T':
            cache = optarg;
            break;
        case 'p':
            progress = true;
            break;
        case 'q':
            s.quiet = true;
            break;
        case 's':
            s.strict = true;
            break;
        case 'U':
            force_share = true;
            break;
        case OPTION_OBJECT:
            error_report("--object is not supported yet");
            return 2;
        case OPTION_IMAGE_OPTS:
            image_opts = true;
            break;
        }
    }
    if (s.quiet) {
        progress = false;
    }
    if (optind != argc - 2) {
        img_error_exit("Expecting two image file names");
    }
    s.filename1 = argv[optind];
    s.filename2 = argv[optind + 1];

    img_progress_init(&prog, progress, 2.0f);
    s.progress = &prog;
    if (!block_cache_mode_parse(cache, &mode, &err)) {
        error_free(err);
        error_report("Invalid source cache option: %s", cache);
        goto out;
    }
    if (image_opts && (fmt1 || fmt2)) {
        error_report("--image-opts and --format are mutually exclusive");
        goto out;
    }
    s.blk1 = img_open(ctx, image_opts, s.filename1, fmt1, BLOCK_OPEN_QUIET,
                      cache, force_share);
    if (!s.blk1) {
        goto out;
    }
    s.blk2 = img_open(ctx, image_opts, s.filename2, fmt2, BLOCK_OPEN_QUIET,
                      cache, force_share);
    if (!s.blk2) {
        goto out;
    }
    s.buf1 = blk_blockalign(s.blk1, COMPARE_BUF_SIZE);
    s.buf2 = blk_blockalign(s.blk2, COMPARE_BUF_SIZE);
    qx_co_run(ctx->loop, compare_entry, &s);
    ret = s.ret;
    blk_vfree(s.buf1);
    blk_vfree(s.buf2);

out:
    blk_unref(s.blk2);
    blk_unref(s.blk1);
    img_progress_end(&prog);
    return ret;
}
