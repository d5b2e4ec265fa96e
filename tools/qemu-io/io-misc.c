/*
 * qemu-io: the commands around the data path: open, close, reopen, info,
 * length, map, alloc, flush, truncate, help, sleep, quit, and the
 * debugging ones (abort, sigraise, blkdebug breakpoints).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-io.h"
#include "qx/block/image-info.h"
#include "qx/util/cutils.h"
#include "qx/util/opts.h"

/* Refuses commands that would end or stall a sandboxed (fuzzed) session. */
static bool refuse_in_sandbox(IoState *s, const char *name)
{
    if (s->sandboxed) {
        printf("%s: not available in this session\n", name);
        return true;
    }
    return false;
}

int io_quit_f(IoState *s, int argc, char **argv)
{
    s->quit = true;
    return 0;
}

int io_abort_f(IoState *s, int argc, char **argv)
{
    if (refuse_in_sandbox(s, argv[0])) {
        return -EPERM;
    }
    abort();
}

int io_sigraise_f(IoState *s, int argc, char **argv)
{
    int64_t sig = io_cvtnum(argv[1]);

    if (sig < 0) {
        io_print_cvtnum_err(sig, argv[1]);
        return sig;
    }
    if (sig > NSIG) {
        printf("signal argument '%s' is too large to be a valid signal\n",
               argv[1]);
        return -EINVAL;
    }
    if (refuse_in_sandbox(s, argv[0])) {
        return -EPERM;
    }
    fflush(stdout);
    fflush(stderr);
    raise((int)sig);
    return 0;
}

static void sleep_done(void *opaque)
{
    *(bool *)opaque = true;
}

int io_sleep_f(IoState *s, int argc, char **argv)
{
    int64_t ms;
    bool done = false;
    QxTimer *timer;

    if (qx_strtoi64(argv[1], 0, &ms) < 0 || ms < 0) {
        printf("%s is not a valid number\n", argv[1]);
        return -EINVAL;
    }
    if (s->sandboxed) {
        return 0;
    }
    /* The loop keeps running: aio completions print meanwhile. */
    timer = qx_timer_new(s->loop, QX_CLOCK_MONOTONIC, sleep_done, &done);
    qx_timer_mod(timer,
                 qx_clock_ns(QX_CLOCK_MONOTONIC) +
                     (ms > INT64_MAX / 2000000 ? INT64_MAX / 2 : ms * 1000000));
    qx_loop_run_until(s->loop, &done);
    qx_timer_free(timer);
    return 0;
}

/* ---- blkdebug breakpoints: there is no blkdebug driver ----------------- */

int io_break_f(IoState *s, int argc, char **argv)
{
    printf("Could not set breakpoint: %s\n", strerror(ENOTSUP));
    return -ENOTSUP;
}

int io_remove_break_f(IoState *s, int argc, char **argv)
{
    printf("Could not remove breakpoint %s: %s\n", argv[1], strerror(ENOTSUP));
    return -ENOTSUP;
}

int io_resume_f(IoState *s, int argc, char **argv)
{
    printf("Could not resume request: %s\n", strerror(ENOTSUP));
    return -ENOTSUP;
}

int io_wait_break_f(IoState *s, int argc, char **argv)
{
    /*
     * QEMU waits forever when no blkdebug node holds the tag; without
     * blkdebug no request can ever stop, so say so instead.
     */
    error_report("no request can reach breakpoint '%s': blkdebug is not "
                 "supported",
                 argv[1]);
    return -ENOTSUP;
}

/* ---- help ---------------------------------------------------------------- */

int io_help_f(IoState *s, int argc, char **argv)
{
    const IoCommand *ct;

    if (argc == 1) {
        for (int i = 0; i < io_command_count(); i++) {
            ct = io_command_get(i);
            io_command_print_oneline(ct->name, ct);
        }
        printf("\nUse 'help commandname' for extended help.\n");
        return 0;
    }
    ct = io_find_command(argv[1]);
    if (!ct) {
        printf("command %s not found\n", argv[1]);
        return -EINVAL;
    }
    io_command_print_oneline(argv[1], ct);
    if (ct->help) {
        fputs(ct->help, stdout);
    }
    return 0;
}

/* ---- close, flush, length ------------------------------------------------ */

int io_close_f(IoState *s, int argc, char **argv)
{
    io_close_image(s);
    return 0;
}

int io_flush_f(IoState *s, int argc, char **argv)
{
    return blk_flush(s->blk);
}

int io_length_f(IoState *s, int argc, char **argv)
{
    int64_t size = blk_getlength(s->blk);
    char str[64];

    if (size < 0) {
        printf("getlength: %s\n", strerror((int)-size));
        return (int)size;
    }
    io_cvtstr((double)size, str, sizeof(str));
    printf("%s\n", str);
    return 0;
}

/* ---- info ---------------------------------------------------------------- */

/*
 * Where a qcow2 image keeps VM state: right after the guest area rounded up
 * to what one L2 table maps (QEMU's vm_state_offset).  BlockDriverInfo has
 * no such member yet, so it is derived here; other formats have none.
 */
static int64_t vm_state_offset(BlockNode *node, const BlockDriverInfo *bdi,
                               json_object *specific)
{
    json_object *data, *ext;
    int64_t l2_entries, per_l2;

    if (strcmp(block_node_get_format(node), "qcow2") != 0 ||
        bdi->cluster_size <= 0) {
        return 0;
    }
    l2_entries = bdi->cluster_size / 8;
    if (specific && json_object_object_get_ex(specific, "data", &data) &&
        json_object_object_get_ex(data, "extended-l2", &ext) &&
        json_object_get_boolean(ext)) {
        l2_entries = bdi->cluster_size / 16;
    }
    per_l2 = bdi->cluster_size * l2_entries;
    return (block_node_get_size(node) + per_l2 - 1) / per_l2 * per_l2;
}

int io_info_f(IoState *s, int argc, char **argv)
{
    BlockNode *node = blk_node(s->blk);
    const BlockDriver *drv = block_node_get_driver(node);
    BlockDriverInfo bdi = {0};
    json_object *info, *specific = NULL;
    Error *err = NULL;
    char s1[64], s2[64];
    int ret;

    /* QEMU prints both names of a driver; protocols have both. */
    printf("format name: %s\n", block_driver_get_name(drv));
    if (block_driver_is_protocol(drv)) {
        printf("format name: %s\n", block_driver_get_name(drv));
    }
    ret = block_get_info(node, &bdi);
    if (ret) {
        return ret;
    }
    info = block_query_image_info(node, &err);
    if (!info) {
        error_report_err(err);
        return -EIO;
    }
    json_object_object_get_ex(info, "format-specific", &specific);

    io_cvtstr((double)bdi.cluster_size, s1, sizeof(s1));
    io_cvtstr((double)vm_state_offset(node, &bdi, specific), s2, sizeof(s2));
    printf("cluster size: %s\n", s1);
    printf("vm state offset: %s\n", s2);
    if (specific) {
        /* The same dump qemu-img info ends with. */
        g_autoptr(GString) text = g_string_new(NULL);
        const char *start;

        block_image_info_format_human(info, text);
        start = strstr(text->str, "Format specific information:\n");
        if (start) {
            fputs(start, stdout);
        }
    }
    json_object_put(info);
    return 0;
}

/* ---- map and alloc ------------------------------------------------------- */

/* Allocation status of the first *pnum bytes at offset: 1, 0 or -errno. */
static int is_allocated(IoState *s, int64_t offset, int64_t bytes,
                        int64_t *pnum)
{
    int ret = blk_block_status(s->blk, offset, bytes, pnum, NULL, NULL);

    if (ret < 0) {
        return ret;
    }
    return !!(ret & BLOCK_STATUS_ALLOCATED);
}

int io_alloc_f(IoState *s, int argc, char **argv)
{
    int64_t offset, start, count, remaining, sum = 0;
    char str[64];

    start = offset = io_cvtnum(argv[1]);
    if (offset < 0) {
        io_print_cvtnum_err(offset, argv[1]);
        return offset;
    }
    count = 512;
    if (argc == 3) {
        count = io_cvtnum(argv[2]);
        if (count < 0) {
            io_print_cvtnum_err(count, argv[2]);
            return count;
        }
    }
    remaining = count;
    while (remaining) {
        int64_t num = 0;
        int ret = is_allocated(s, offset, remaining, &num);

        if (ret < 0) {
            printf("is_allocated failed: %s\n", strerror(-ret));
            return ret;
        }
        offset += num;
        remaining -= num;
        if (ret) {
            sum += num;
        }
        if (num == 0) {
            /* The end of the image: only what exists was asked about. */
            count -= remaining;
            remaining = 0;
        }
    }
    io_cvtstr((double)start, str, sizeof(str));
    printf("%" PRId64 "/%" PRId64 " bytes allocated at offset %s\n", sum, count,
           str);
    return 0;
}

/*
 * Status of the run at offset and its length in *pnum, merging following
 * runs with the same status.
 */
static int map_run(IoState *s, int64_t offset, int64_t bytes, int64_t *pnum)
{
    int64_t num;
    int first =
        is_allocated(s, offset, MIN(bytes, BLOCK_REQUEST_MAX_BYTES), &num);

    if (first < 0) {
        return first;
    }
    *pnum = num;
    while (bytes > 0) {
        int ret;
        offset += num;
        bytes -= num;
        ret =
            is_allocated(s, offset, MIN(bytes, BLOCK_REQUEST_MAX_BYTES), &num);
        if (ret != first || !num) {
            break;
        }
        *pnum += num;
    }
    return first;
}

int io_map_f(IoState *s, int argc, char **argv)
{
    int64_t offset = 0;
    int64_t bytes = blk_getlength(s->blk);
    char s1[64], s2[64];

    if (bytes < 0) {
        error_report("Failed to query image length: %s", strerror((int)-bytes));
        return (int)bytes;
    }
    while (bytes) {
        int64_t num = 0;
        int ret = map_run(s, offset, bytes, &num);

        if (ret < 0) {
            error_report("Failed to get allocation status: %s", strerror(-ret));
            return ret;
        }
        if (!num) {
            error_report("Unexpected end of image");
            return -EIO;
        }
        io_cvtstr((double)num, s1, sizeof(s1));
        io_cvtstr((double)offset, s2, sizeof(s2));
        printf("%s (0x%" PRIx64 ") bytes %s at offset %s (0x%" PRIx64 ")\n", s1,
               (uint64_t)num, ret ? "    allocated" : "not allocated", s2,
               (uint64_t)offset);
        offset += num;
        bytes -= num;
    }
    return 0;
}

/* ---- truncate ------------------------------------------------------------ */

int io_truncate_f(IoState *s, int argc, char **argv)
{
    const IoCommand *ct = io_find_command("truncate");
    BlockPreallocMode prealloc = BLOCK_PREALLOC_OFF;
    Error *err = NULL;
    int64_t offset;
    int c, ret;

    while ((c = getopt(argc, argv, "m:")) != -1) {
        switch (c) {
        case 'm':
            if (!block_prealloc_parse(optarg, &prealloc, NULL)) {
                error_report("Invalid preallocation mode '%s'", optarg);
                return -EINVAL;
            }
            break;
        default:
            io_command_usage(ct);
            return -EINVAL;
        }
    }
    if (optind >= argc) {
        /* QEMU reads past argv here ("truncate -m off") and crashes. */
        io_command_usage(ct);
        return -EINVAL;
    }
    offset = io_cvtnum(argv[optind]);
    if (offset < 0) {
        /* QEMU names argv[1] here, whatever it is. */
        io_print_cvtnum_err(offset, argv[1]);
        return offset;
    }
    ret = blk_truncate(s->blk, offset, false, prealloc, 0, &err);
    if (ret < 0) {
        error_report_err(err);
        return ret;
    }
    return 0;
}

/* ---- open and reopen ----------------------------------------------------- */

/* Merges flat "-o" text into *opts (later keys win); false on error. */
static bool merge_opts(json_object **opts, const char *text)
{
    Error *err = NULL;
    json_object *parsed = qx_opts_parse(text, QX_OPTS_FLAT, NULL, NULL, &err);

    if (!parsed) {
        error_report_err(err);
        return false;
    }
    if (!*opts) {
        *opts = parsed;
        return true;
    }
    json_object_object_foreach(parsed, key, val)
    {
        json_object_object_add(*opts, key, json_object_get(val));
    }
    json_object_put(parsed);
    return true;
}

int io_open_f(IoState *s, int argc, char **argv)
{
    const IoCommand *ct = io_find_command("open");
    json_object *opts = NULL;
    IoOpenParams p;
    int c;

    io_open_params_init(&p);
    while ((c = getopt(argc, argv, "snCro:kt:d:i:U")) != -1) {
        switch (c) {
        case 's':
        case 'C':
            json_object_put(opts);
            error_report("open: option '-%c' is not supported yet", c);
            return -ENOTSUP;
        case 'n':
            p.cache.direct = true;
            p.cache.writethrough = false;
            break;
        case 'r':
            p.read_only = true;
            break;
        case 'k':
            p.aio = "native";
            break;
        case 't':
            if (!io_parse_cache(optarg, &p)) {
                json_object_put(opts);
                return -EINVAL;
            }
            break;
        case 'd':
            if (!io_parse_discard(optarg, &p)) {
                json_object_put(opts);
                return -EINVAL;
            }
            break;
        case 'i':
            if (!io_parse_aio(optarg, &p)) {
                json_object_put(opts);
                return -EINVAL;
            }
            break;
        case 'o':
            if (s->image_opts) {
                printf("--image-opts and 'open -o' are mutually "
                       "exclusive\n");
                json_object_put(opts);
                return -EINVAL;
            }
            if (!merge_opts(&opts, optarg)) {
                json_object_put(opts);
                return -EINVAL;
            }
            break;
        case 'U':
            p.force_share = true;
            break;
        default:
            json_object_put(opts);
            io_command_usage(ct);
            return -EINVAL;
        }
    }
    if (s->image_opts && optind == argc - 1) {
        if (!merge_opts(&opts, argv[optind])) {
            json_object_put(opts);
            return -EINVAL;
        }
        optind++;
    }
    if (optind < argc - 1) {
        json_object_put(opts);
        io_command_usage(ct);
        return -EINVAL;
    }
    if (s->sandboxed) {
        json_object_put(opts);
        return refuse_in_sandbox(s, argv[0]) ? -EPERM : 0;
    }
    if (io_open_image(s, optind == argc - 1 ? argv[optind] : NULL, opts, &p)) {
        return -EINVAL;
    }
    return 0;
}

/*
 * QEMU refuses options a driver cannot change with "Cannot change the
 * option 'x'"; an option the driver does not know at all shows up here as
 * the open's "... does not support the option 'x'", said QEMU's way.
 */
static void report_reopen_error(Error *err)
{
    const char *msg = error_get_pretty(err);
    const char *opt = strstr(msg, " does not support the option '");

    if (opt && g_str_has_prefix(msg, "Block ")) {
        opt += strlen(" does not support the option ");
        error_report("Cannot change the option %s", opt);
        error_free(err);
        return;
    }
    error_report_err(err);
}

/*
 * QEMU changes the options of the open node in place; the block layer
 * cannot yet, so the image is opened again with the merged options (the
 * old one is restored if that fails).
 */
int io_reopen_f(IoState *s, int argc, char **argv)
{
    const IoCommand *ct = io_find_command("reopen");
    json_object *changes = NULL, *opts = NULL, *val;
    IoOpenState old = s->open;
    unsigned flags = s->open.flags;
    BlockCacheMode cache = {0};
    bool rw_given = false, cache_given = false;
    bool writethrough = s->open.writethrough;
    Error *err = NULL;
    BlockBackend *blk;
    int c;

    while ((c = getopt(argc, argv, "c:o:rw")) != -1) {
        switch (c) {
        case 'c':
            if (!block_cache_mode_parse(optarg, &cache, NULL)) {
                error_report("Invalid cache option: %s", optarg);
                json_object_put(changes);
                return -EINVAL;
            }
            cache_given = true;
            writethrough = cache.writethrough;
            break;
        case 'o':
            if (!merge_opts(&changes, optarg)) {
                json_object_put(changes);
                return -EINVAL;
            }
            break;
        case 'r':
        case 'w':
            if (rw_given) {
                error_report("Only one -r/-w option may be given");
                json_object_put(changes);
                return -EINVAL;
            }
            rw_given = true;
            flags =
                c == 'w' ? flags | BLOCK_OPEN_RDWR : flags & ~BLOCK_OPEN_RDWR;
            break;
        default:
            json_object_put(changes);
            io_command_usage(ct);
            return -EINVAL;
        }
    }
    if (optind != argc) {
        json_object_put(changes);
        io_command_usage(ct);
        return -EINVAL;
    }
    if (refuse_in_sandbox(s, argv[0])) {
        /* Options could name any host file to open. */
        json_object_put(changes);
        return -EPERM;
    }
    if (!changes) {
        changes = json_object_new_object();
    }
    if (json_object_object_get_ex(changes, "read-only", NULL) && rw_given) {
        error_report("Cannot set both -r/-w and 'read-only'");
        json_object_put(changes);
        return -EINVAL;
    }
    if (cache_given &&
        (json_object_object_get_ex(changes, "cache.direct", NULL) ||
         json_object_object_get_ex(changes, "cache.no-flush", NULL))) {
        error_report("Cannot set both -c and the cache options");
        json_object_put(changes);
        return -EINVAL;
    }
    json_object_deep_copy(s->open.opts, &opts, NULL);
    if (cache_given) {
        json_object_object_del(opts, "cache.direct");
        json_object_object_del(opts, "cache.no-flush");
        block_cache_mode_to_options(&cache, opts);
    }
    json_object_object_foreach(changes, k2, v2)
    {
        json_object_object_add(opts, k2, json_object_get(v2));
    }
    json_object_put(changes);
    if (rw_given) {
        json_object_object_del(opts, "read-only");
    }
    /* force-share would make a read-write open fail. */
    if ((flags & BLOCK_OPEN_RDWR) &&
        json_object_object_get_ex(opts, "force-share", &val) &&
        !json_object_object_get_ex(opts, "read-only", NULL)) {
        json_object_object_del(opts, "force-share");
    }

    /* Hand the old state over: close without freeing what it was. */
    s->open.filename = NULL;
    s->open.opts = NULL;
    blk_unref(s->blk);
    s->blk = NULL;

    json_object_deep_copy(opts, &s->open.opts, NULL);
    blk = blk_new_open(s->graph, old.filename, opts, flags | BLOCK_OPEN_QUIET,
                       &err);
    if (!blk) {
        json_object_put(s->open.opts);
        report_reopen_error(err);
        /* Back to the image as it was. */
        s->open = old;
        opts = NULL; /* consumed by the failed open */
        json_object_deep_copy(old.opts, &opts, NULL);
        s->blk = blk_new_open(s->graph, old.filename, opts,
                              old.flags | BLOCK_OPEN_QUIET, NULL);
        if (s->blk) {
            blk_set_enable_write_cache(s->blk, !old.writethrough);
        } else {
            g_free(old.filename);
            json_object_put(old.opts);
            s->open.filename = NULL;
            s->open.opts = NULL;
        }
        return -EINVAL;
    }
    blk_set_enable_write_cache(blk, !writethrough);
    s->blk = blk;
    s->open.filename = old.filename;
    s->open.flags = flags;
    s->open.writethrough = writethrough;
    json_object_put(old.opts);
    return 0;
}
