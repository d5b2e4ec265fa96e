/*
 * qemu-img convert [--object objectdef] [--image-opts] [--target-image-opts]
 *                  [--target-is-zero] [--bitmaps] [-U] [-C] [-c] [-p] [-q]
 *                  [-n] [-f fmt] [-t cache] [-T src_cache] [-O output_fmt]
 *                  [-B backing_file [-F backing_fmt]] [-o options]
 *                  [-l snapshot_param] [-S sparse_size] [-r rate_limit]
 *                  [-m num_coroutines] [-W] [--salvage]
 *                  filename [filename2 [...]] output_filename
 *
 * Copies the concatenation of the sources into a new (or, with -n, an
 * existing) image.  The copy is a pipeline of up to 16 coroutines: each
 * takes the next extent (same block status, at most one buffer) under a
 * lock, reads it, then writes it, in order of offset unless -W.  What is
 * written follows QEMU 7.2 so the outputs are allocated alike:
 *  - extents the source reports as zero are skipped on a target that
 *    reads as zeroes already (new image, no backing file), else written
 *    as zeroes that may unmap;
 *  - data extents are scanned for runs of zero sectors (-S, default 4 KiB)
 *    which are written as zeroes (or skipped) instead of data;
 *  - with a target backing file, extents the source's top image does not
 *    define are left unallocated.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "img-common.h"
#include "qx/util/coroutine.h"
#include "qx/util/cutils.h"
#include "qx/util/opts.h"

#define SECTOR_SIZE 512
#define SECTOR_BITS 9
/* Default copy buffer: 2 MiB; at most 16 MiB (also the -S bound). */
#define CONVERT_BUF_SECTORS 4096
#define CONVERT_MAX_BUF_SECTORS 32768
#define CONVERT_MAX_COROUTINES 16
/* Largest extent looked at in one block status call (sectors). */
#define CONVERT_REQUEST_MAX_SECTORS (BLOCK_REQUEST_MAX_BYTES >> SECTOR_BITS)

enum {
    OPTION_OBJECT = 256,
    OPTION_IMAGE_OPTS,
    OPTION_SALVAGE,
    OPTION_TARGET_IMAGE_OPTS,
    OPTION_TARGET_IS_ZERO,
    OPTION_BITMAPS,
    OPTION_SKIP_BROKEN,
};

typedef enum {
    CONVERT_DATA,
    CONVERT_ZERO,
    CONVERT_BACKING, /* leave unallocated: the target's backing shows */
} ConvertStatus;

typedef struct ConvertState {
    BlockBackend **src;
    int64_t *src_sectors;
    int *src_alignment; /* sectors: max(request alignment, cluster) */
    int src_num;
    int64_t total_sectors;
    int64_t allocated_sectors; /* what progress counts */
    int64_t allocated_done;
    BlockBackend *target;
    bool target_has_backing;
    bool target_is_new;
    int64_t target_backing_sectors; /* -1: unknown / none */
    bool has_zero_init;
    bool compressed;
    bool wr_in_order;
    bool salvage;
    bool quiet;
    int min_sparse;  /* sectors; 0: write everything */
    int alignment;   /* sectors; power of two */
    int64_t buf_sectors;
    int64_t cluster_sectors; /* -c: writes are whole target clusters */

    /* The shared cursor, under lock. */
    CoMutex lock;
    int64_t sector_num;
    int64_t sector_next_status;
    ConvertStatus status;
    int ret; /* -EINPROGRESS while running */

    /* In-order writing. */
    int64_t wr_offs;
    Coroutine *co[CONVERT_MAX_COROUTINES];
    int64_t wait_sector_num[CONVERT_MAX_COROUTINES];
    int num_coroutines;
    int running_coroutines;

    /* -r: bytes per second, 0 = unlimited. */
    uint64_t rate_limit;
    int64_t rate_start_ns;
    uint64_t rate_bytes;

    ImgProgress *progress;
} ConvertState;

/* ---- -l ------------------------------------------------------------------ */

void img_report_snapshot_load(BlockNode *node)
{
    const char *fmt = block_node_get_format(node);

    if (strcmp(fmt, "qcow2") == 0) {
        error_report("Failed to load snapshot: loading internal snapshots "
                     "(-l) is not supported");
        return;
    }
    error_report("Failed to load snapshot: Block format '%s' used by device "
                 "'' does not support temporarily loading internal "
                 "snapshots",
                 fmt);
}

/* ---- Zero detection in data extents -------------------------------------- */

static bool sector_is_zero(const uint8_t *buf)
{
    return block_buffer_is_zero(buf, SECTOR_SIZE);
}

/*
 * Length (*pnum sectors) of the run of sectors at buf that are all zero or
 * all non-zero like the first; returns true for non-zero.  Unless the run
 * covers all n sectors, its end is moved to an alignment boundary: a data
 * run is extended (the write would read-modify-write that area anyway) and
 * a zero run is shortened, or turned into data if it is all tail.
 */
static bool sectors_run(const uint8_t *buf, int n, int *pnum,
                        int64_t sector_num, int alignment)
{
    bool zero;
    int i;
    int tail;

    if (n <= 0) {
        *pnum = 0;
        return false;
    }
    zero = sector_is_zero(buf);
    for (i = 1; i < n; i++) {
        if (sector_is_zero(buf + (size_t)i * SECTOR_SIZE) != zero) {
            break;
        }
    }
    if (i == n) {
        *pnum = n;
        return !zero;
    }
    tail = (sector_num + i) & (alignment - 1);
    if (tail) {
        if (zero && i <= tail) {
            zero = false;
        }
        if (!zero) {
            i = MIN(i + alignment - tail, n);
        } else {
            i -= tail;
        }
    }
    *pnum = i;
    return !zero;
}

/*
 * Like sectors_run, but a data run absorbs following zero runs shorter
 * than min sectors, so small holes do not split writes.
 */
static bool sectors_run_min(const uint8_t *buf, int n, int *pnum, int min,
                            int64_t sector_num, int alignment)
{
    int used;
    int checked;

    if (n < min) {
        min = n;
    }
    if (!sectors_run(buf, n, pnum, sector_num, alignment)) {
        return false;
    }
    used = *pnum;
    checked = used;
    buf += (size_t)*pnum * SECTOR_SIZE;
    n -= *pnum;
    sector_num += *pnum;
    while (n > 0) {
        bool data = sectors_run(buf, n, pnum, sector_num, alignment);

        buf += (size_t)*pnum * SECTOR_SIZE;
        n -= *pnum;
        sector_num += *pnum;
        checked += *pnum;
        if (data) {
            used = checked;
        } else if (*pnum >= min) {
            break;
        }
    }
    *pnum = used;
    return true;
}

/* ---- The copy ------------------------------------------------------------ */

/* Which source holds sector_num, and the sector where that source starts. */
static void convert_select_part(ConvertState *s, int64_t sector_num,
                                int *src_cur, int64_t *src_cur_offset)
{
    int64_t start = 0;
    int i;

    for (i = 0; i < s->src_num - 1; i++) {
        if (sector_num < start + s->src_sectors[i]) {
            break;
        }
        start += s->src_sectors[i];
    }
    *src_cur = i;
    *src_cur_offset = start;
}

/*
 * Length in sectors of the next extent at sector_num, updating s->status.
 * Block status is queried once per status run (cached until
 * sector_next_status); data extents are cut to the buffer size.
 */
static int64_t convert_iteration_sectors(ConvertState *s, int64_t sector_num)
{
    int src_cur;
    int64_t src_cur_offset;
    int64_t n;
    bool post_backing_zero = false;

    convert_select_part(s, sector_num, &src_cur, &src_cur_offset);
    n = MIN(s->total_sectors - sector_num, CONVERT_REQUEST_MAX_SECTORS);

    if (s->target_backing_sectors >= 0) {
        if (sector_num >= s->target_backing_sectors) {
            post_backing_zero = true;
        } else if (sector_num + n > s->target_backing_sectors) {
            /* Zeroes are handled differently from there on. */
            n = s->target_backing_sectors - sector_num;
        }
    }

    if (s->sector_next_status <= sector_num) {
        int64_t offset = (sector_num - src_cur_offset) * SECTOR_SIZE;
        BlockNode *src_node = blk_node(s->src[src_cur]);
        BlockNode *base = NULL;
        int64_t count = 0;
        int64_t tail;
        int ret;

        if (s->target_has_backing) {
            base = block_node_get_backing(src_node);
        }
        for (;;) {
            ret = block_status_above_co(src_node, base, offset,
                                        n * SECTOR_SIZE, &count, NULL, NULL);
            if (ret >= 0) {
                break;
            }
            if (!s->salvage) {
                error_report("error while reading block status at offset "
                             "%" PRId64 ": %s", offset, strerror(-ret));
                return ret;
            }
            if (n == 1) {
                if (!s->quiet) {
                    warn_report("error while reading block status at "
                                "offset %" PRId64 ": %s", offset,
                                strerror(-ret));
                }
                ret = BLOCK_STATUS_DATA;
                count = SECTOR_SIZE;
                break;
            }
            n = (n + 3) / 4;
        }
        if (count <= 0) {
            /* Past the end of a short source part: read it (zeroes). */
            ret = BLOCK_STATUS_DATA;
            count = n * SECTOR_SIZE;
        }
        n = (count + SECTOR_SIZE - 1) / SECTOR_SIZE;

        /* Keep the next status query aligned to the source's blocks. */
        tail = (sector_num - src_cur_offset + n) % s->src_alignment[src_cur];
        if (n > tail) {
            n -= tail;
        }

        if (ret & BLOCK_STATUS_ZERO) {
            s->status = post_backing_zero ? CONVERT_BACKING : CONVERT_ZERO;
        } else if (ret & BLOCK_STATUS_DATA) {
            s->status = CONVERT_DATA;
        } else {
            s->status = s->target_has_backing ? CONVERT_BACKING
                                              : CONVERT_DATA;
        }
        s->sector_next_status = sector_num + n;
    }

    n = MIN(n, s->sector_next_status - sector_num);
    if (s->status == CONVERT_DATA) {
        n = MIN(n, s->buf_sectors);
    }
    /*
     * -c writes whole clusters: a shorter run is read and written as a
     * data cluster (QEMU does the same).
     */
    if (s->compressed) {
        if (n < s->cluster_sectors) {
            n = MIN(s->cluster_sectors, s->total_sectors - sector_num);
            s->status = CONVERT_DATA;
            s->sector_next_status = MAX(s->sector_next_status,
                                        sector_num + n);
        } else {
            n -= n % s->cluster_sectors;
        }
    }
    return n;
}

/* Reads nb_sectors from the sources; --salvage reads sector by sector. */
static int convert_co_read(ConvertState *s, int64_t sector_num,
                           int64_t nb_sectors, uint8_t *buf)
{
    int64_t single_read_until = 0;

    while (nb_sectors > 0) {
        int src_cur;
        int64_t src_cur_offset;
        int64_t offset;
        int64_t n;
        int ret;

        convert_select_part(s, sector_num, &src_cur, &src_cur_offset);
        offset = (sector_num - src_cur_offset) * SECTOR_SIZE;
        n = MIN(nb_sectors,
                s->src_sectors[src_cur] - (sector_num - src_cur_offset));
        if (single_read_until > offset) {
            n = 1;
        }
        ret = blk_pread_co(s->src[src_cur], offset, n * SECTOR_SIZE, buf, 0);
        if (ret < 0) {
            if (!s->salvage) {
                return ret;
            }
            if (n > 1) {
                single_read_until = offset + n * SECTOR_SIZE;
                continue;
            }
            if (!s->quiet) {
                warn_report("error while reading offset %" PRId64 ": %s",
                            offset, strerror(-ret));
            }
            memset(buf, 0, SECTOR_SIZE);
        }
        sector_num += n;
        nb_sectors -= n;
        buf += n * SECTOR_SIZE;
    }
    return 0;
}

/* -r: waits until writing bytes more keeps the average under the limit. */
static void convert_co_rate_limit(ConvertState *s, int64_t bytes)
{
    int64_t due;
    int64_t now;

    if (!s->rate_limit) {
        return;
    }
    now = qx_clock_ns(QX_CLOCK_MONOTONIC);
    if (!s->rate_start_ns) {
        s->rate_start_ns = now;
    }
    due = s->rate_start_ns +
          (int64_t)((double)s->rate_bytes * 1e9 / (double)s->rate_limit);
    s->rate_bytes += bytes;
    if (due > now) {
        qx_co_sleep_ns(due - now);
    }
}

static int convert_co_write(ConvertState *s, int64_t sector_num,
                            int64_t nb_sectors, uint8_t *buf,
                            ConvertStatus status)
{
    while (nb_sectors > 0) {
        int n = (int)nb_sectors;
        int ret;

        switch (status) {
        case CONVERT_BACKING:
            break;
        case CONVERT_DATA:
            if (s->compressed) {
                if (block_buffer_is_zero(buf, (size_t)n * SECTOR_SIZE)) {
                    goto zero; /* nothing to compress */
                }
                convert_co_rate_limit(s, (int64_t)n * SECTOR_SIZE);
                ret = blk_pwrite_co(s->target, sector_num * SECTOR_SIZE,
                                    (int64_t)n * SECTOR_SIZE, buf,
                                    BLOCK_REQ_WRITE_COMPRESSED);
                if (ret < 0) {
                    return ret;
                }
                break;
            }
            if (!s->min_sparse ||
                sectors_run_min(buf, n, &n, s->min_sparse, sector_num,
                                s->alignment)) {
                convert_co_rate_limit(s, (int64_t)n * SECTOR_SIZE);
                ret = blk_pwrite_co(s->target, sector_num * SECTOR_SIZE,
                                    (int64_t)n * SECTOR_SIZE, buf, 0);
                if (ret < 0) {
                    return ret;
                }
                break;
            }
            /* A zero run: write it as zeroes. */
            /* fallthrough */
        case CONVERT_ZERO:
        zero:
            if (s->has_zero_init) {
                break;
            }
            ret = blk_pwrite_zeroes_co(s->target, sector_num * SECTOR_SIZE,
                                       (int64_t)n * SECTOR_SIZE,
                                       BLOCK_REQ_MAY_UNMAP);
            if (ret < 0) {
                return ret;
            }
            break;
        }
        sector_num += n;
        nb_sectors -= n;
        buf += (size_t)n * SECTOR_SIZE;
    }
    return 0;
}

static int convert_self_index(ConvertState *s)
{
    Coroutine *self = qx_coroutine_self();

    for (int i = 0; i < s->num_coroutines; i++) {
        if (s->co[i] == self) {
            return i;
        }
    }
    g_assert_not_reached();
}

static void convert_co_do_copy(void *opaque)
{
    ConvertState *s = opaque;
    int index = convert_self_index(s);
    uint8_t *buf = blk_blockalign(s->target, s->buf_sectors * SECTOR_SIZE);

    s->running_coroutines++;
    for (;;) {
        int64_t sector_num;
        int64_t n;
        ConvertStatus status;
        int ret;

        qx_co_mutex_lock(&s->lock);
        if (s->ret != -EINPROGRESS || s->sector_num >= s->total_sectors) {
            qx_co_mutex_unlock(&s->lock);
            break;
        }
        n = convert_iteration_sectors(s, s->sector_num);
        if (n < 0) {
            qx_co_mutex_unlock(&s->lock);
            s->ret = (int)n;
            break;
        }
        sector_num = s->sector_num;
        status = s->status;
        if (!s->min_sparse && status == CONVERT_ZERO) {
            n = MIN(n, s->buf_sectors);
        }
        /* Others may look further while this extent is copied. */
        s->sector_num += n;
        qx_co_mutex_unlock(&s->lock);

        if (status == CONVERT_DATA ||
            (!s->min_sparse && status == CONVERT_ZERO)) {
            s->allocated_done += n;
            img_progress_print(s->progress,
                               100.0f * s->allocated_done /
                                   s->allocated_sectors,
                               0);
        }

        if (status == CONVERT_DATA) {
            ret = convert_co_read(s, sector_num, n, buf);
            if (ret < 0) {
                error_report("error while reading at byte %" PRId64 ": %s",
                             sector_num * SECTOR_SIZE, strerror(-ret));
                s->ret = ret;
            }
        } else if (!s->min_sparse && status == CONVERT_ZERO) {
            /* -S 0: zeroes are written as data (fully allocated). */
            status = CONVERT_DATA;
            memset(buf, 0, n * SECTOR_SIZE);
        }

        if (s->wr_in_order) {
            while (s->wr_offs != sector_num && s->ret == -EINPROGRESS) {
                s->wait_sector_num[index] = sector_num;
                qx_coroutine_yield();
            }
            s->wait_sector_num[index] = -1;
        }

        if (s->ret == -EINPROGRESS) {
            ret = convert_co_write(s, sector_num, n, buf, status);
            if (ret < 0) {
                error_report("error while writing at byte %" PRId64 ": %s",
                             sector_num * SECTOR_SIZE, strerror(-ret));
                s->ret = ret;
            }
        }

        if (s->wr_in_order) {
            /* Hand over to whoever waits to write the next extent. */
            s->wr_offs = sector_num + n;
            for (int i = 0; i < s->num_coroutines; i++) {
                if (s->co[i] && s->wait_sector_num[i] == s->wr_offs) {
                    qx_coroutine_enter(s->co[i]);
                    break;
                }
            }
        }
    }

    /* On error, wake the in-order waiters so that they can finish. */
    if (s->ret != -EINPROGRESS && s->wr_in_order) {
        for (int i = 0; i < s->num_coroutines; i++) {
            if (s->co[i] && i != index && s->wait_sector_num[i] >= 0) {
                s->wait_sector_num[i] = -1;
                qx_coroutine_wake(s->co[i]);
            }
        }
    }
    blk_vfree(buf);
    s->co[index] = NULL;
    s->running_coroutines--;
    if (!s->running_coroutines) {
        if (s->ret == -EINPROGRESS) {
            /* The last one out: everything was copied. */
            s->ret = 0;
        }
        qx_loop_notify(qx_loop_current());
    }
}

/* Counts the sectors progress will report (data, or zeroes with -S 0). */
static void convert_count_entry(void *opaque)
{
    ConvertState *s = opaque;
    int64_t sector_num = 0;

    while (sector_num < s->total_sectors) {
        int64_t n = convert_iteration_sectors(s, sector_num);

        if (n < 0) {
            s->ret = (int)n;
            return;
        }
        if (s->status == CONVERT_DATA ||
            (!s->min_sparse && s->status == CONVERT_ZERO)) {
            s->allocated_sectors += n;
        }
        sector_num += n;
    }
}

static int convert_do_copy(ImgContext *ctx, ConvertState *s)
{
    if (s->allocated_sectors == 0 && s->progress->enabled) {
        s->ret = 0;
        qx_co_run(ctx->loop, convert_count_entry, s);
        if (s->ret < 0) {
            return s->ret;
        }
        s->sector_next_status = 0;
    }
    if (!s->allocated_sectors) {
        s->allocated_sectors = MAX(s->total_sectors, 1);
    }

    qx_co_mutex_init(&s->lock);
    s->sector_num = 0;
    s->wr_offs = 0;
    s->ret = -EINPROGRESS;
    for (int i = 0; i < s->num_coroutines; i++) {
        s->co[i] = qx_coroutine_create(convert_co_do_copy, s);
        s->wait_sector_num[i] = -1;
    }
    for (int i = 0; i < s->num_coroutines; i++) {
        if (s->co[i]) {
            qx_coroutine_enter(s->co[i]);
        }
    }
    while (s->running_coroutines) {
        qx_loop_run_once(ctx->loop, true);
    }
    return s->ret;
}

/* ---- Target -------------------------------------------------------------- */

/*
 * True if a new image on node reads as zeroes without writing: the node
 * chain ends in a regular file (formats here keep new images zeroed).
 */
static bool target_has_zero_init(BlockNode *node)
{
    while (block_node_get_file(node)) {
        node = block_node_get_file(node);
    }
    return strcmp(block_node_get_format(node), "file") == 0;
}

/*
 * Opens the target as qemu-img convert does: read-write, discard=unmap
 * when sparse, the -t cache mode, and either as image options
 * (--target-image-opts) or a filename with the output format.
 */
static BlockBackend *open_target(ImgContext *ctx, bool image_opts,
                                 const char *filename, const char *fmt,
                                 const BlockCacheMode *mode, bool unmap)
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
    if (unmap && !json_object_object_get_ex(opts, "discard", NULL)) {
        json_object_object_add(opts, "discard",
                               json_object_new_string("unmap"));
    }
    block_cache_mode_to_options(mode, opts);
    blk = blk_new_open(ctx->graph, image_opts ? NULL : filename, opts,
                       BLOCK_OPEN_RDWR, &err);
    if (!blk) {
        error_prepend(&err, "Could not open '%s': ", filename);
        error_report_err(err);
        return NULL;
    }
    blk_set_enable_write_cache(blk, !mode->writethrough);
    return blk;
}

/*
 * Builds the creation options for the target: -o text, the total size,
 * -B/-F.  Returns NULL after printing QEMU's message.
 */
static BlockCreateOpts *target_create_opts(const BlockDriver *drv,
                                           const char *out_fmt,
                                           const char *out_filename,
                                           const char *options,
                                           int64_t size,
                                           const char *out_baseimg,
                                           const char *backing_fmt)
{
    BlockCreateOpts *opts;
    Error *err = NULL;
    char size_str[32];

    if (!block_driver_get_create_opts(drv)) {
        error_report("Format driver '%s' does not support image creation",
                     out_fmt);
        return NULL;
    }
    opts = block_create_opts_for(drv, out_filename, &err);
    if (!opts) {
        error_report_err(err);
        return NULL;
    }
    if (options) {
        bool help = false;

        if (!block_create_opts_parse(opts, options, &help, &err)) {
            error_report_err(err);
            goto fail;
        }
    }
    snprintf(size_str, sizeof(size_str), "%" PRId64, size);
    if (!block_create_opts_set(opts, BLOCK_OPT_SIZE_NAME, size_str, &err)) {
        error_report_err(err);
        goto fail;
    }
    if (out_baseimg &&
        !block_create_opts_set(opts, BLOCK_OPT_BACKING_FILE, out_baseimg,
                               NULL)) {
        error_report("Backing file not supported for file format '%s'",
                     out_fmt);
        goto fail;
    }
    if (backing_fmt &&
        !block_create_opts_set(opts, BLOCK_OPT_BACKING_FMT, backing_fmt,
                               NULL)) {
        error_report("Backing file format not supported for file format "
                     "'%s'", out_fmt);
        goto fail;
    }
    return opts;

fail:
    block_create_opts_free(opts);
    return NULL;
}

/* ---- The command --------------------------------------------------------- */

typedef struct ConvertArgs {
    const char *fmt;
    const char *out_fmt;
    const char *cache;
    const char *src_cache;
    const char *out_baseimg;
    const char *backing_fmt;
    const char *snapshot;
    char *options;
    bool image_opts;
    bool tgt_image_opts;
    bool skip_create;
    bool progress;
    bool force_share;
    bool copy_range;
    bool explicit_min_sparse;
    bool bitmaps;
    bool skip_broken;
    bool target_is_zero;
    int64_t rate_limit;
} ConvertArgs;

static int convert_run(ImgContext *ctx, ConvertArgs *a, ConvertState *s,
                       char **src_names, const char *out_filename)
{
    BlockCreateOpts *opts = NULL;
    BlockCacheMode src_mode;
    BlockCacheMode tgt_mode;
    BlockDriverInfo bdi;
    const BlockDriver *drv = NULL;
    const char *out_baseimg = a->out_baseimg;
    BlockNode *out_node;
    Error *err = NULL;
    ImgProgress progress;
    int ret = -1;

    if (!block_cache_mode_parse(a->src_cache, &src_mode, &err)) {
        error_free(err);
        error_report("Invalid source cache option: %s", a->src_cache);
        return 1;
    }
    img_progress_init(&progress, a->progress && !s->quiet, 1.0f);
    s->progress = &progress;
    img_progress_print(&progress, 0, 100);

    s->src = g_new0(BlockBackend *, s->src_num);
    s->src_sectors = g_new0(int64_t, s->src_num);
    s->src_alignment = g_new0(int, s->src_num);
    for (int i = 0; i < s->src_num; i++) {
        BlockNode *node;
        int64_t len;
        int64_t align;

        /*
         * Like QEMU, a source does not let others write or resize it
         * (unless -U), so converting an image onto itself fails on the
         * target's lock instead of truncating the source.
         */
        s->src[i] = img_open(ctx, a->image_opts, src_names[i], a->fmt,
                             BLOCK_OPEN_QUIET |
                             (a->force_share ? 0 : BLOCK_OPEN_NO_SHARE),
                             a->src_cache, a->force_share);
        if (!s->src[i]) {
            goto out;
        }
        len = blk_getlength(s->src[i]);
        if (len < 0) {
            error_report("Could not get size of %s: %s", src_names[i],
                         strerror((int)-len));
            goto out;
        }
        s->src_sectors[i] = (len + SECTOR_SIZE - 1) / SECTOR_SIZE;
        s->total_sectors += s->src_sectors[i];
        node = blk_node(s->src[i]);
        align = block_node_get_limits(node)->request_alignment;
        if (block_get_info(node, &bdi) == 0) {
            align = MAX(align, bdi.cluster_size);
        }
        s->src_alignment[i] =
            (int)MAX(1, (align + SECTOR_SIZE - 1) / SECTOR_SIZE);
    }

    if (a->snapshot) {
        if (s->src_num > 1) {
            error_report("No support for concatenating multiple snapshot");
            goto out;
        }
        img_report_snapshot_load(blk_node(s->src[0]));
        goto out;
    }
    if (a->bitmaps) {
        if (s->src_num > 1) {
            error_report("Copying bitmaps only possible with single source");
            goto out;
        }
        if (strcmp(block_node_get_format(blk_node(s->src[0])), "qcow2")) {
            error_report("Source lacks bitmap support");
        } else {
            error_report("--bitmaps: copying bitmaps is not supported");
        }
        goto out;
    }

    if (!a->skip_create) {
        drv = block_driver_find(a->out_fmt);
        if (!drv) {
            error_report("Unknown file format '%s'", a->out_fmt);
            goto out;
        }
        opts = target_create_opts(drv, a->out_fmt, out_filename, a->options,
                                  s->total_sectors * SECTOR_SIZE,
                                  out_baseimg, a->backing_fmt);
        if (!opts) {
            goto out;
        }
        if (block_create_opts_get_str(opts, BLOCK_OPT_BACKING_FILE, NULL)) {
            out_baseimg =
                block_create_opts_get_str(opts, BLOCK_OPT_BACKING_FILE, NULL);
        }
    }
    s->target_has_backing = out_baseimg != NULL;
    if (s->has_zero_init && s->target_has_backing) {
        error_report("Cannot use --target-is-zero when the destination "
                     "image has a backing file");
        /* QEMU 7.2 exits 0 here; so do we. */
        ret = 0;
        goto out;
    }
    if (s->src_num > 1 && out_baseimg) {
        error_report("Having a backing file for the target makes no sense "
                     "when concatenating multiple input images");
        goto out;
    }
    if (opts && out_baseimg &&
        !block_create_opts_get_str(opts, BLOCK_OPT_BACKING_FMT, NULL)) {
        error_report("Use of backing file requires explicit backing format");
        goto out;
    }

    if (s->compressed) {
        const char *prealloc =
            opts ? block_create_opts_get_str(opts, BLOCK_OPT_PREALLOC, NULL)
                 : NULL;
        const char *name = drv ? block_driver_get_name(drv) : NULL;

        if (name && strcmp(name, "qcow2") != 0) {
            error_report("Compression not supported for this file format");
            goto out;
        }
        if (opts && (block_create_opts_get_bool(opts, "encryption", false) ||
                     block_create_opts_get_str(opts, "encrypt.format",
                                               NULL))) {
            error_report("Compression and encryption not supported at the "
                         "same time");
            goto out;
        }
        if (prealloc && strcmp(prealloc, "off") != 0) {
            error_report("Compression and preallocation not supported at "
                         "the same time");
            goto out;
        }
    }

    if (!a->skip_create) {
        if (block_create(ctx->graph, drv, out_filename, opts, &err) < 0) {
            error_prepend(&err, "%s: error while converting %s: ",
                          out_filename, a->out_fmt);
            error_report_err(err);
            goto out;
        }
    }
    s->target_is_new = !a->skip_create;

    if (!block_cache_mode_parse(a->cache, &tgt_mode, &err)) {
        error_free(err);
        error_report("Invalid cache option: %s", a->cache);
        goto out;
    }
    s->target = open_target(ctx, a->skip_create && a->tgt_image_opts,
                            out_filename, a->out_fmt, &tgt_mode,
                            s->min_sparse != 0);
    if (!s->target) {
        goto out;
    }
    out_node = blk_node(s->target);

    if (s->compressed &&
        strcmp(block_node_get_format(out_node), "qcow2") != 0) {
        /* -n: the format is only known now. */
        error_report("Compression not supported for this file format");
        goto out;
    }

    {
        const BlockLimits *bl = block_node_get_limits(out_node);
        int64_t bs = CONVERT_BUF_SECTORS;
        int64_t req = (bl->request_alignment + SECTOR_SIZE - 1) / SECTOR_SIZE;
        int64_t floor2 = 0;

        bs = MAX(bs, (int64_t)(bl->opt_transfer >> SECTOR_BITS));
        bs = MAX(bs, (int64_t)(bl->pdiscard_alignment >> SECTOR_BITS));
        s->buf_sectors = MIN(CONVERT_MAX_BUF_SECTORS, bs);
        if (s->min_sparse) {
            floor2 = 1;
            while (floor2 * 2 <= s->min_sparse) {
                floor2 *= 2;
            }
        }
        s->alignment = (int)MAX(floor2, req);
    }
    if (s->compressed) {
        BlockDriverInfo bdi = { 0 };

        if (block_get_info(out_node, &bdi) < 0 || bdi.cluster_size <= 0 ||
            bdi.cluster_size / SECTOR_SIZE > CONVERT_MAX_BUF_SECTORS) {
            error_report("invalid cluster size");
            goto out;
        }
        s->cluster_sectors = bdi.cluster_size / SECTOR_SIZE;
        s->buf_sectors = s->cluster_sectors;
    }

    if (a->skip_create) {
        int64_t len = blk_getlength(s->target);

        if (len < 0) {
            error_report("unable to get output image length: %s",
                         strerror((int)-len));
            goto out;
        }
        if ((len + SECTOR_SIZE - 1) / SECTOR_SIZE < s->total_sectors) {
            error_report("output file is smaller than input file");
            goto out;
        }
    }

    s->target_backing_sectors = -1;
    if (s->target_has_backing && s->target_is_new) {
        BlockNode *backing = block_node_get_backing(out_node);

        if (backing) {
            int64_t len = block_node_get_size(backing);
            if (len >= 0) {
                s->target_backing_sectors =
                    (len + SECTOR_SIZE - 1) / SECTOR_SIZE;
            }
        }
    }

    if (!s->has_zero_init && s->target_is_new && s->min_sparse &&
        !s->target_has_backing) {
        s->has_zero_init = target_has_zero_init(out_node);
    }
    s->rate_limit = a->rate_limit > 0 ? (uint64_t)a->rate_limit : 0;

    ret = convert_do_copy(ctx, s) < 0 ? -1 : 0;

out:
    if (ret == 0) {
        img_progress_print(&progress, 100, 0);
    }
    img_progress_end(&progress);
    block_create_opts_free(opts);
    blk_unref(s->target);
    for (int i = 0; i < s->src_num; i++) {
        blk_unref(s->src[i]);
    }
    g_free(s->src);
    g_free(s->src_sectors);
    g_free(s->src_alignment);
    return ret < 0 ? 1 : 0;
}

int img_convert(ImgContext *ctx, int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"object", required_argument, NULL, OPTION_OBJECT},
        {"image-opts", no_argument, NULL, OPTION_IMAGE_OPTS},
        {"force-share", no_argument, NULL, 'U'},
        {"target-image-opts", no_argument, NULL, OPTION_TARGET_IMAGE_OPTS},
        {"salvage", no_argument, NULL, OPTION_SALVAGE},
        {"target-is-zero", no_argument, NULL, OPTION_TARGET_IS_ZERO},
        {"bitmaps", no_argument, NULL, OPTION_BITMAPS},
        {"skip-broken-bitmaps", no_argument, NULL, OPTION_SKIP_BROKEN},
        {NULL, 0, NULL, 0},
    };
    ConvertArgs a = {
        .cache = "unsafe",
        .src_cache = "writeback",
    };
    ConvertState s = {
        .min_sparse = 8, /* 4 KiB */
        .wr_in_order = true,
        .num_coroutines = 8,
    };
    const char *out_filename;
    Error *err = NULL;
    int64_t val;
    int ret;
    int c;

    while ((c = getopt_long(argc, argv, ":hf:O:B:CcF:o:l:S:pt:T:qnm:WUr:",
                            long_options, NULL)) != -1) {
        switch (c) {
        case ':':
            img_missing_argument(argv[optind - 1]);
        case '?':
            img_unrecognized_option(argv[optind - 1]);
        case 'h':
            img_help();
        case 'f':
            a.fmt = optarg;
            break;
        case 'O':
            a.out_fmt = optarg;
            break;
        case 'B':
            a.out_baseimg = optarg;
            break;
        case 'C':
            a.copy_range = true;
            break;
        case 'c':
            s.compressed = true;
            break;
        case 'F':
            a.backing_fmt = optarg;
            break;
        case 'o':
            if (!img_accumulate_options(&a.options, optarg)) {
                goto fail_getopt;
            }
            break;
        case 'l':
            if (strncmp(optarg, "snapshot.", 9) == 0) {
                json_object *sn = qx_opts_parse(optarg, QX_OPTS_FLAT, NULL,
                                                NULL, NULL);
                if (!sn) {
                    error_report("Failed in parsing snapshot param '%s'",
                                 optarg);
                    goto fail_getopt;
                }
                json_object_put(sn);
            }
            a.snapshot = optarg;
            break;
        case 'S':
            if (!qx_parse_size_named("buffer size for sparse output", optarg,
                                     0, INT64_MAX, &val, &err)) {
                error_report_err(err);
                goto fail_getopt;
            }
            if (val % SECTOR_SIZE ||
                val / SECTOR_SIZE > CONVERT_MAX_BUF_SECTORS) {
                error_report("Invalid buffer size for sparse output "
                             "specified. Valid sizes are multiples of %d up "
                             "to %d. Select 0 to disable sparse detection "
                             "(fully allocates output).",
                             SECTOR_SIZE,
                             CONVERT_MAX_BUF_SECTORS * SECTOR_SIZE);
                goto fail_getopt;
            }
            s.min_sparse = (int)(val / SECTOR_SIZE);
            a.explicit_min_sparse = true;
            break;
        case 'p':
            a.progress = true;
            break;
        case 't':
            a.cache = optarg;
            break;
        case 'T':
            a.src_cache = optarg;
            break;
        case 'q':
            s.quiet = true;
            break;
        case 'n':
            a.skip_create = true;
            break;
        case 'm':
            if (qx_strtoi64(optarg, 0, &val) < 0 || val < 1 ||
                val > CONVERT_MAX_COROUTINES) {
                error_report("Invalid number of coroutines. Allowed number "
                             "of coroutines is between 1 and %d",
                             CONVERT_MAX_COROUTINES);
                goto fail_getopt;
            }
            s.num_coroutines = (int)val;
            break;
        case 'W':
            s.wr_in_order = false;
            break;
        case 'U':
            a.force_share = true;
            break;
        case 'r':
            if (!qx_parse_size_named("rate limit", optarg, 0, INT64_MAX,
                                     &a.rate_limit, &err)) {
                error_report_err(err);
                goto fail_getopt;
            }
            break;
        case OPTION_OBJECT:
            error_report("--object is not supported yet");
            goto fail_getopt;
        case OPTION_IMAGE_OPTS:
            a.image_opts = true;
            break;
        case OPTION_SALVAGE:
            s.salvage = true;
            break;
        case OPTION_TARGET_IMAGE_OPTS:
            a.tgt_image_opts = true;
            break;
        case OPTION_TARGET_IS_ZERO:
            /* The target reads as zeroes: zero extents need no write. */
            s.has_zero_init = true;
            break;
        case OPTION_BITMAPS:
            a.bitmaps = true;
            break;
        case OPTION_SKIP_BROKEN:
            a.skip_broken = true;
            break;
        }
    }

    if (!a.out_fmt && !a.tgt_image_opts) {
        a.out_fmt = "raw";
    }
    if (a.skip_broken && !a.bitmaps) {
        error_report("Use of --skip-broken-bitmaps requires --bitmaps");
        goto fail_getopt;
    }
    if (s.compressed && a.copy_range) {
        error_report("Cannot enable copy offloading when -c is used");
        goto fail_getopt;
    }
    if (a.explicit_min_sparse && a.copy_range) {
        error_report("Cannot enable copy offloading when -S is used");
        goto fail_getopt;
    }
    if (a.copy_range && s.salvage) {
        error_report("Cannot use copy offloading in salvaging mode");
        goto fail_getopt;
    }
    if (a.tgt_image_opts && !a.skip_create) {
        error_report("--target-image-opts requires use of -n flag");
        goto fail_getopt;
    }
    if (a.skip_create && a.options) {
        error_report("-o has no effect when skipping image creation");
        goto fail_getopt;
    }
    if (s.has_zero_init && !a.skip_create) {
        error_report("--target-is-zero requires use of -n flag");
        goto fail_getopt;
    }

    s.src_num = argc - optind - 1;
    out_filename = s.src_num >= 1 ? argv[argc - 1] : NULL;
    if (a.options && img_options_ask_help(a.options)) {
        if (a.out_fmt) {
            ret = img_print_create_option_help(out_filename, a.out_fmt);
        } else {
            error_report("Option help requires a format be specified");
            ret = 1;
        }
        g_free(a.options);
        return ret;
    }
    if (s.src_num < 1) {
        error_report("Must specify image file name");
        goto fail_getopt;
    }
    /*
     * -C (copy offloading): QEMU copies whole extents, zeroes included,
     * so the target ends up fully allocated; -S 0 does the same here.
     */
    if (a.copy_range) {
        s.min_sparse = 0;
    }
    ret = convert_run(ctx, &a, &s, argv + optind, out_filename);
    g_free(a.options);
    return ret;

fail_getopt:
    g_free(a.options);
    return 1;
}
