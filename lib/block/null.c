/*
 * null-co and null-aio: protocols that store nothing.  Writes succeed and
 * are dropped; reads return zeroes with read-zeroes=on and leave the
 * buffer untouched otherwise (QEMU's default, for benchmarking).
 * null-co completes requests inline, null-aio after a trip through the
 * event loop.  Options as QEMU's: size (default 1 GiB), latency-ns,
 * read-zeroes.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "qx/util/opts.h"

#define NULL_DEFAULT_SIZE (1ll << 30)

typedef struct NullState {
    int64_t size;
    int64_t latency_ns;
    bool read_zeroes;
    bool aio; /* null-aio: complete from the loop */
} NullState;

static const char *const null_strong_options[] = {
    "size",
    "read-zeroes",
    NULL,
};

static bool null_parse_filename_for(const char *proto, const char *filename,
                                    Error **errp)
{
    g_autofree char *want = g_strdup_printf("%s://", proto);

    if (strcmp(filename, want) != 0) {
        error_setg(errp, "The only allowed filename for this driver is '%s'",
                   want);
        return false;
    }
    return true;
}

static bool null_co_parse_filename(const char *filename, json_object *opts,
                                   Error **errp)
{
    return null_parse_filename_for("null-co", filename, errp);
}

static bool null_aio_parse_filename(const char *filename, json_object *opts,
                                    Error **errp)
{
    return null_parse_filename_for("null-aio", filename, errp);
}

static int null_open_co(BlockNode *node, json_object *opts, unsigned flags,
                        Error **errp)
{
    NullState *s = node->opaque;
    uint64_t size = NULL_DEFAULT_SIZE;
    uint64_t latency = 0;
    bool size_given = false;
    bool zeroes_given = false;

    if (!qx_opts_take_flat_size(opts, "size", &size, &size_given, errp) ||
        !qx_opts_take_flat_number(opts, "latency-ns", &latency, NULL,
                                  errp) ||
        !qx_opts_take_bool(opts, "read-zeroes", &s->read_zeroes,
                           &zeroes_given, errp)) {
        return -EINVAL;
    }
    if (latency > INT64_MAX) {
        error_setg(errp, "latency-ns is invalid");
        return -EINVAL;
    }
    if (size > (uint64_t)BLOCK_MAX_LENGTH) {
        error_setg(errp, "size is too large");
        return -EINVAL;
    }
    s->size = (int64_t)size;
    s->latency_ns = (int64_t)latency;
    s->aio = strcmp(node->drv->format_name, "null-aio") == 0;
    if (!size_given && !zeroes_given) {
        node->exact_filename =
            g_strdup_printf("%s://", node->drv->format_name);
    }
    return 0;
}

static void null_close_co(BlockNode *node)
{
}

/* Models the time a request takes: the latency, or a loop trip. */
static void null_delay_co(NullState *s)
{
    if (s->latency_ns) {
        qx_co_sleep_ns(s->latency_ns);
    } else if (s->aio) {
        qx_co_yield_to_loop();
    }
}

static int null_preadv_co(BlockNode *node, int64_t offset, int64_t bytes,
                          BlockIOVec *qiov, size_t qiov_offset,
                          BlockReqFlags flags)
{
    NullState *s = node->opaque;

    if (s->read_zeroes) {
        block_iov_memset(qiov, qiov_offset, 0, (size_t)bytes);
    }
    null_delay_co(s);
    return 0;
}

static int null_pwritev_co(BlockNode *node, int64_t offset, int64_t bytes,
                           BlockIOVec *qiov, size_t qiov_offset,
                           BlockReqFlags flags)
{
    null_delay_co(node->opaque);
    return 0;
}

static int null_flush_co(BlockNode *node)
{
    null_delay_co(node->opaque);
    return 0;
}

static int null_block_status_co(BlockNode *node, bool want_zero,
                                int64_t offset, int64_t bytes, int64_t *pnum,
                                int64_t *map, BlockNode **file)
{
    NullState *s = node->opaque;

    *pnum = bytes;
    *map = offset;
    *file = node;
    return BLOCK_STATUS_OFFSET_VALID |
           (s->read_zeroes ? BLOCK_STATUS_ZERO : 0);
}

static int64_t null_getlength_co(BlockNode *node)
{
    NullState *s = node->opaque;
    return s->size;
}

static int64_t null_get_allocated_file_size_co(BlockNode *node)
{
    return 0;
}

const BlockDriver block_driver_null_co = {
    .format_name = "null-co",
    .protocol_name = "null-co",
    .is_protocol = true,
    .state_size = sizeof(NullState),
    .strong_options = null_strong_options,
    .parse_filename = null_co_parse_filename,
    .open_co = null_open_co,
    .close_co = null_close_co,
    .preadv_co = null_preadv_co,
    .pwritev_co = null_pwritev_co,
    .flush_co = null_flush_co,
    .block_status_co = null_block_status_co,
    .getlength_co = null_getlength_co,
    .get_allocated_file_size_co = null_get_allocated_file_size_co,
    .supported_write_flags = BLOCK_REQ_FUA,
};

const BlockDriver block_driver_null_aio = {
    .format_name = "null-aio",
    .protocol_name = "null-aio",
    .is_protocol = true,
    .state_size = sizeof(NullState),
    .strong_options = null_strong_options,
    .parse_filename = null_aio_parse_filename,
    .open_co = null_open_co,
    .close_co = null_close_co,
    .preadv_co = null_preadv_co,
    .pwritev_co = null_pwritev_co,
    .flush_co = null_flush_co,
    .block_status_co = null_block_status_co,
    .getlength_co = null_getlength_co,
    .get_allocated_file_size_co = null_get_allocated_file_size_co,
    .supported_write_flags = BLOCK_REQ_FUA,
};
