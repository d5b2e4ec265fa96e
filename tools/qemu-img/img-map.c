/*
 * qemu-img map [--object objectdef] [--image-opts] [-f fmt]
 *              [--start-offset=offset] [--max-length=len] [--output=ofmt]
 *              [-U] filename
 *
 * Prints how the guest view of an image maps to host files: one entry per
 * run of bytes with the same block status, the same depth in the backing
 * chain (where the data comes from) and, for mapped data, contiguous host
 * offsets in the same file.  Human output lists only data ("Offset Length
 * Mapped to File"); JSON lists every run.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "img-common.h"
#include "qx/util/coroutine.h"
#include "qx/util/cutils.h"

enum {
    OPTION_OUTPUT = 256,
    OPTION_OBJECT,
    OPTION_IMAGE_OPTS,
    OPTION_START_OFFSET,
    OPTION_MAX_LENGTH,
};

/* Bound on the backing chain walked per request. */
#define MAP_MAX_DEPTH 1000

typedef struct MapEntry {
    int64_t start;
    int64_t length;
    int64_t depth;
    bool present;
    bool zero;
    bool data;
    bool has_offset;
    int64_t offset;
    const char *filename; /* NULL when none; owned by the node */
} MapEntry;

typedef struct MapStatusCall {
    BlockNode *top;
    int64_t offset;
    int64_t bytes;
    MapEntry *e;
    int ret;
} MapStatusCall;

/*
 * Status of the run at offset: from the first image of the chain that
 * defines it (data or zero), with depth counting the images above it.
 */
static void map_status_entry(void *opaque)
{
    MapStatusCall *c = opaque;
    BlockNode *node = c->top;
    BlockNode *file = NULL;
    int64_t bytes = c->bytes;
    int64_t map = 0;
    int64_t depth = 0;
    int ret;

    for (;;) {
        ret = block_status_co(node, c->offset, bytes, &bytes, &map, &file);
        if (ret < 0) {
            c->ret = ret;
            return;
        }
        if (bytes <= 0) {
            c->ret = -EIO;
            return;
        }
        if (ret & (BLOCK_STATUS_ZERO | BLOCK_STATUS_DATA)) {
            break;
        }
        node = block_node_get_backing(node);
        if (!node) {
            ret = 0;
            break;
        }
        if (++depth > MAP_MAX_DEPTH) {
            c->ret = -ELOOP;
            return;
        }
    }

    *c->e = (MapEntry){
        .start = c->offset,
        .length = bytes,
        .depth = depth,
        .present = ret & BLOCK_STATUS_ALLOCATED,
        .zero = ret & BLOCK_STATUS_ZERO,
        .data = ret & BLOCK_STATUS_DATA,
        .has_offset = ret & BLOCK_STATUS_OFFSET_VALID,
        .offset = map,
    };
    if (c->e->has_offset && file) {
        c->e->filename = block_node_get_filename(file);
    }
    c->ret = 0;
}

static bool map_entry_mergeable(const MapEntry *curr, const MapEntry *next)
{
    if (curr->length == 0) {
        return false;
    }
    if (curr->zero != next->zero || curr->data != next->data ||
        curr->depth != next->depth || curr->present != next->present ||
        (curr->filename != NULL) != (next->filename != NULL) ||
        curr->has_offset != next->has_offset) {
        return false;
    }
    if (curr->filename && strcmp(curr->filename, next->filename) != 0) {
        return false;
    }
    if (curr->has_offset && curr->offset + curr->length != next->offset) {
        return false;
    }
    return true;
}

/*
 * Prints e; next (the entry after it, or NULL) is adjusted for human
 * output, which does not tell zero from unallocated and so merges more.
 */
static int map_dump_entry(bool json, const MapEntry *e, MapEntry *next)
{
    if (!json) {
        if (e->data && !e->has_offset) {
            error_report("File contains external, encrypted or compressed "
                         "clusters.");
            return -1;
        }
        if (e->data && !e->zero) {
            printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n",
                   (uint64_t)e->start, (uint64_t)e->length,
                   e->has_offset ? (uint64_t)e->offset : 0,
                   e->filename ? e->filename : "");
        }
        if (next && (!next->data || next->zero)) {
            next->data = false;
            next->zero = true;
        }
        return 0;
    }
    printf("{ \"start\": %" PRId64 ", \"length\": %" PRId64 ", "
           "\"depth\": %" PRId64 ", \"present\": %s, \"zero\": %s, "
           "\"data\": %s",
           e->start, e->length, e->depth, e->present ? "true" : "false",
           e->zero ? "true" : "false", e->data ? "true" : "false");
    if (e->has_offset) {
        printf(", \"offset\": %" PRId64, e->offset);
    }
    putchar('}');
    if (next) {
        puts(",");
    }
    return 0;
}

int img_map(ImgContext *ctx, int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, OPTION_OUTPUT},
        {"object", required_argument, NULL, OPTION_OBJECT},
        {"image-opts", no_argument, NULL, OPTION_IMAGE_OPTS},
        {"force-share", no_argument, NULL, 'U'},
        {"start-offset", required_argument, NULL, OPTION_START_OFFSET},
        {"max-length", required_argument, NULL, OPTION_MAX_LENGTH},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL;
    const char *output = NULL;
    const char *filename;
    bool image_opts = false;
    bool force_share = false;
    bool json = false;
    int64_t start_offset = 0;
    int64_t max_length = -1;
    MapEntry curr = {0};
    MapEntry next = {0};
    BlockBackend *blk;
    Error *err = NULL;
    int64_t length;
    int ret = 0;
    int c;

    while ((c = getopt_long(argc, argv, ":f:hU", long_options, NULL)) != -1) {
        switch (c) {
        case ':':
            img_missing_argument(argv[optind - 1]);
        case '?':
            img_unrecognized_option(argv[optind - 1]);
        case 'h':
            img_help();
        case 'f':
            fmt = optarg;
            break;
        case 'U':
            force_share = true;
            break;
        case OPTION_OUTPUT:
            output = optarg;
            break;
        case OPTION_START_OFFSET:
            if (!qx_parse_size_named("start offset", optarg, 0, INT64_MAX,
                                     &start_offset, &err)) {
                error_report_err(err);
                return 1;
            }
            break;
        case OPTION_MAX_LENGTH:
            if (!qx_parse_size_named("max length", optarg, 0, INT64_MAX,
                                     &max_length, &err)) {
                error_report_err(err);
                return 1;
            }
            break;
        case OPTION_OBJECT:
            error_report("--object is not supported yet");
            return 1;
        case OPTION_IMAGE_OPTS:
            image_opts = true;
            break;
        }
    }
    if (optind != argc - 1) {
        img_error_exit("Expecting one image file name");
    }
    filename = argv[optind];

    if (output && strcmp(output, "json") == 0) {
        json = true;
    } else if (output && strcmp(output, "human") != 0) {
        error_report("--output must be used with human or json as "
                     "argument.");
        return 1;
    }
    if (image_opts && fmt) {
        error_report("--image-opts and --format are mutually exclusive");
        return 1;
    }

    blk = img_open(ctx, image_opts, filename, fmt, BLOCK_OPEN_QUIET, NULL,
                   force_share);
    if (!blk) {
        return 1;
    }

    if (json) {
        putchar('[');
    } else {
        printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to",
               "File");
    }

    length = blk_getlength(blk);
    if (length < 0) {
        error_report("Failed to get size for '%s'", filename);
        ret = -1;
        goto out;
    }
    if (max_length != -1) {
        /* Both are at most INT64_MAX: no overflow in unsigned. */
        uint64_t end = (uint64_t)start_offset + (uint64_t)max_length;
        length = MIN((uint64_t)length, end);
    }

    curr.start = start_offset;
    while (curr.start + curr.length < length) {
        MapStatusCall call = {
            .top = blk_node(blk),
            .offset = curr.start + curr.length,
            .e = &next,
        };

        call.bytes = length - call.offset;
        qx_co_run(ctx->loop, map_status_entry, &call);
        if (call.ret < 0) {
            error_report("Could not read file metadata: %s",
                         strerror(-call.ret));
            ret = -1;
            goto out;
        }
        if (map_entry_mergeable(&curr, &next)) {
            curr.length += next.length;
            continue;
        }
        if (curr.length > 0) {
            ret = map_dump_entry(json, &curr, &next);
            if (ret < 0) {
                goto out;
            }
        }
        curr = next;
    }
    ret = map_dump_entry(json, &curr, NULL);
    if (json) {
        puts("]");
    }

out:
    blk_unref(blk);
    return ret < 0 ? 1 : 0;
}
