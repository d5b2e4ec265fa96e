/*
 * qemu-img bench [-c count] [-d depth] [-f fmt]
 *                [--flush-interval=flush_interval] [-i aio] [-n]
 *                [--no-drain] [-o offset] [--pattern=pattern] [-q]
 *                [-s buffer_size] [-S step_size] [-t cache] [-w] [-U]
 *                filename
 *
 * Issues count reads (or writes with -w) of buffer_size bytes, depth at a
 * time, at offsets advancing by step_size and wrapping at the image end,
 * through the backend's callback interface; optionally a flush every
 * flush_interval requests (after draining the queue unless --no-drain).
 * A failed request ends the process with status 1, as in QEMU.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "img-common.h"
#include "qx/util/cutils.h"
#include "qx/util/opts.h"

enum {
    OPTION_PATTERN = 256,
    OPTION_FLUSH_INTERVAL,
    OPTION_NO_DRAIN,
    OPTION_IMAGE_OPTS,
};

typedef struct BenchData {
    BlockBackend *blk;
    uint64_t image_size;
    bool write;
    int bufsize;
    int step;
    int nrreq;
    int n;
    int flush_interval;
    bool drain_on_flush;
    uint8_t *buf;
    BlockIOVec qiov; /* one buffer; every request uses it */
    int in_flight;
    bool in_flush;
    uint64_t offset;
} BenchData;

static void bench_cb(void *opaque, int ret);

static void bench_undrained_flush_cb(void *opaque, int ret)
{
    if (ret < 0) {
        error_report("Failed flush request: %s", strerror(-ret));
        exit(EXIT_FAILURE);
    }
}

/* Accounts a completion (ret from the last request) and refills. */
static void bench_cb(void *opaque, int ret)
{
    BenchData *b = opaque;

    if (ret < 0) {
        error_report("Failed request: %s", strerror(-ret));
        exit(EXIT_FAILURE);
    }
    if (b->in_flush) {
        /* A flush on a drained queue finished: go on. */
        b->in_flush = false;
    } else if (b->in_flight > 0) {
        int remaining = b->n - b->in_flight;

        b->n--;
        b->in_flight--;
        if (b->flush_interval && remaining % b->flush_interval == 0) {
            if (!b->in_flight || !b->drain_on_flush) {
                if (b->drain_on_flush) {
                    b->in_flush = true;
                    blk_aio_flush(b->blk, bench_cb, b);
                } else {
                    blk_aio_flush(b->blk, bench_undrained_flush_cb, b);
                }
            }
            if (b->drain_on_flush) {
                return;
            }
        }
    }

    while (b->n > b->in_flight && b->in_flight < b->nrreq) {
        uint64_t offset = b->offset;

        b->in_flight++;
        b->offset += b->step;
        b->offset = b->image_size ? b->offset % b->image_size : 0;
        if (b->write) {
            blk_aio_pwritev(b->blk, (int64_t)offset, &b->qiov, 0, bench_cb,
                            b);
        } else {
            blk_aio_preadv(b->blk, (int64_t)offset, &b->qiov, 0, bench_cb, b);
        }
    }
}

/* strtoul-style number for -c/-d/--pattern/--flush-interval. */
static bool bench_parse_ulong(const char *str, uint64_t max, uint64_t *out)
{
    uint64_t v;

    if (qx_strtou64(str, 0, &v) < 0 || v > max) {
        return false;
    }
    *out = v;
    return true;
}

/*
 * Opens like img_open, plus the aio backend for the file node.  Returns
 * NULL after printing the error.
 */
static BlockBackend *bench_open(ImgContext *ctx, bool image_opts,
                                const char *filename, const char *fmt,
                                bool rdwr, const BlockCacheMode *mode,
                                const char *aio, bool force_share)
{
    Error *err = NULL;
    json_object *opts;
    BlockBackend *blk;

    if (image_opts) {
        opts = qx_opts_parse(filename, QX_OPTS_FLAT, "file", NULL, &err);
        if (!opts) {
            error_report_err(err);
            return NULL;
        }
    } else {
        opts = json_object_new_object();
        if (fmt) {
            json_object_object_add(opts, "driver",
                                   json_object_new_string(fmt));
        }
    }
    if (force_share) {
        json_object_object_add(opts, "force-share",
                               json_object_new_boolean(true));
    }
    if (aio && !json_object_object_get_ex(opts, "file.aio", NULL)) {
        json_object_object_add(opts, "file.aio", json_object_new_string(aio));
    }
    block_cache_mode_to_options(mode, opts);
    blk = blk_new_open(ctx->graph, image_opts ? NULL : filename, opts,
                       rdwr ? BLOCK_OPEN_RDWR : 0, &err);
    if (!blk) {
        error_prepend(&err, "Could not open '%s': ", filename);
        error_report_err(err);
        return NULL;
    }
    blk_set_enable_write_cache(blk, !mode->writethrough);
    return blk;
}

int img_bench(ImgContext *ctx, int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"flush-interval", required_argument, NULL, OPTION_FLUSH_INTERVAL},
        {"image-opts", no_argument, NULL, OPTION_IMAGE_OPTS},
        {"pattern", required_argument, NULL, OPTION_PATTERN},
        {"no-drain", no_argument, NULL, OPTION_NO_DRAIN},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    BlockCacheMode mode = {0};
    BenchData data = {0};
    const char *fmt = NULL;
    const char *aio = NULL;
    const char *filename;
    bool image_opts = false;
    bool is_write = false;
    bool force_share = false;
    bool drain_on_flush = true;
    int count = 75000;
    int depth = 64;
    int64_t offset = 0;
    int64_t bufsize = 4096;
    int64_t step = 0;
    int pattern = 0;
    int flush_interval = 0;
    int64_t image_size;
    struct timeval t1;
    struct timeval t2;
    Error *err = NULL;
    uint64_t v;
    int ret = 1;
    int c;

    while ((c = getopt_long(argc, argv, ":hc:d:f:ni:o:qs:S:t:wU",
                            long_options, NULL)) != -1) {
        switch (c) {
        case ':':
            img_missing_argument(argv[optind - 1]);
        case '?':
            img_unrecognized_option(argv[optind - 1]);
        case 'h':
            img_help();
        case 'c':
            if (!bench_parse_ulong(optarg, INT32_MAX, &v)) {
                error_report("Invalid request count specified");
                return 1;
            }
            count = (int)v;
            break;
        case 'd':
            /* QEMU accepts 0 here (and then hangs); we refuse it. */
            if (!bench_parse_ulong(optarg, INT32_MAX, &v) || v == 0) {
                error_report("Invalid queue depth specified");
                return 1;
            }
            depth = (int)v;
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'n':
            aio = "native";
            break;
        case 'i':
            if (strcmp(optarg, "native") != 0 &&
                strcmp(optarg, "threads") != 0 &&
                strcmp(optarg, "io_uring") != 0) {
                error_report("Invalid aio option: %s", optarg);
                return 1;
            }
            aio = optarg;
            break;
        case 'o':
            if (!qx_parse_size_named("offset", optarg, 0, INT64_MAX, &offset,
                                     &err)) {
                error_report_err(err);
                return 1;
            }
            break;
        case 'q':
            /* QEMU's bench prints its lines even with -q. */
            break;
        case 's':
            if (!qx_parse_size_named("buffer size", optarg, 0, INT32_MAX,
                                     &bufsize, &err)) {
                error_report_err(err);
                return 1;
            }
            break;
        case 'S':
            if (!qx_parse_size_named("step_size", optarg, 0, INT32_MAX,
                                     &step, &err)) {
                error_report_err(err);
                return 1;
            }
            break;
        case 't':
            if (!block_cache_mode_parse(optarg, &mode, &err)) {
                error_free(err);
                error_report("Invalid cache mode");
                return 1;
            }
            break;
        case 'w':
            is_write = true;
            break;
        case 'U':
            force_share = true;
            break;
        case OPTION_PATTERN:
            if (!bench_parse_ulong(optarg, 0xff, &v)) {
                error_report("Invalid pattern byte specified");
                return 1;
            }
            pattern = (int)v;
            break;
        case OPTION_FLUSH_INTERVAL:
            if (!bench_parse_ulong(optarg, INT32_MAX, &v)) {
                error_report("Invalid flush interval specified");
                return 1;
            }
            flush_interval = (int)v;
            break;
        case OPTION_NO_DRAIN:
            drain_on_flush = false;
            break;
        case OPTION_IMAGE_OPTS:
            image_opts = true;
            break;
        }
    }
    if (optind != argc - 1) {
        img_error_exit("Expecting one image file name");
    }
    filename = argv[argc - 1];
    if (!is_write && flush_interval) {
        error_report("--flush-interval is only available in write tests");
        return 1;
    }
    if (flush_interval && flush_interval < depth) {
        error_report("Flush interval can't be smaller than depth");
        return 1;
    }
    if (image_opts && fmt) {
        error_report("--image-opts and --format are mutually exclusive");
        return 1;
    }

    data.blk = bench_open(ctx, image_opts, filename, fmt, is_write, &mode,
                          aio, force_share);
    if (!data.blk) {
        return 1;
    }
    image_size = blk_getlength(data.blk);
    if (image_size < 0) {
        error_report("Could not get image size: %s",
                     strerror((int)-image_size));
        goto out;
    }
    data.image_size = (uint64_t)image_size;
    data.write = is_write;
    data.bufsize = (int)bufsize;
    data.step = step ? (int)step : (int)bufsize;
    data.nrreq = depth;
    data.n = count;
    data.offset = (uint64_t)offset;
    data.flush_interval = flush_interval;
    data.drain_on_flush = drain_on_flush;

    printf("Sending %d %s requests, %d bytes each, %d in parallel "
           "(starting at offset %" PRId64 ", step size %d)\n",
           data.n, data.write ? "write" : "read", data.bufsize, data.nrreq,
           offset, data.step);
    if (flush_interval) {
        printf("Sending flush every %d requests\n", flush_interval);
    }

    data.buf = blk_blockalign(data.blk, MAX(bufsize, 1));
    memset(data.buf, pattern, MAX(bufsize, 1));
    block_iov_init_buf(&data.qiov, data.buf, (size_t)bufsize);

    gettimeofday(&t1, NULL);
    bench_cb(&data, 0);
    while (data.n > 0) {
        qx_loop_run_once(ctx->loop, true);
    }
    gettimeofday(&t2, NULL);
    printf("Run completed in %3.3f seconds.\n",
           (t2.tv_sec - t1.tv_sec) +
               ((double)(t2.tv_usec - t1.tv_usec) / 1000000));
    ret = 0;

out:
    blk_vfree(data.buf);
    blk_unref(data.blk);
    return ret;
}
