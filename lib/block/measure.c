/*
 * qemu-img measure arithmetic for raw and qcow2, following QEMU 7.2's
 * results and messages.  The qcow2 figures are a formula, not a layout
 * simulation: metadata for the fully allocated image is always counted,
 * and "required" only drops the data clusters the source does not define.
 */
#include <errno.h>
#include <string.h>

#include "qx/block/driver.h"
#include "qx/block/measure.h"

#define SECTOR_SIZE 512
#define QCOW2_L1E_SIZE 8
#define QCOW2_REFTABLE_ENTRY_SIZE 8
#define QCOW2_MAX_L1_SIZE (32u * 1024 * 1024)
#define QCOW2_DEFAULT_CLUSTER_SIZE 65536
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_EXTL2_SUBCLUSTERS 32

static uint64_t div_round_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

static uint64_t round_up(uint64_t a, uint64_t b)
{
    return div_round_up(a, b) * b;
}

uint64_t block_qcow2_refcount_metadata_size(uint64_t clusters,
                                            uint64_t cluster_size,
                                            unsigned refcount_order,
                                            bool generous)
{
    uint64_t per_table_cluster = cluster_size / QCOW2_REFTABLE_ENTRY_SIZE;
    uint64_t per_block = cluster_size * 8 >> refcount_order;
    uint64_t table = 0;
    uint64_t blocks = 0;
    uint64_t n = 0;
    uint64_t last;

    /* Grow until the structures also count themselves. */
    do {
        last = n;
        blocks = div_round_up(clusters + table + blocks, per_block);
        table = div_round_up(blocks, per_table_cluster);
        n = clusters + blocks + table;
        if (n == last && generous) {
            clusters += div_round_up(table, 2);
            n = 0;
            generous = false;
        }
    } while (n != last);
    return (blocks + table) * cluster_size;
}

uint64_t block_qcow2_prealloc_size(uint64_t total, uint64_t cluster_size,
                                   unsigned refcount_order, bool extended_l2)
{
    uint64_t l2e_size = extended_l2 ? 16 : 8;
    uint64_t aligned = round_up(total, cluster_size);
    uint64_t meta = cluster_size; /* header */
    uint64_t nl2e;
    uint64_t nl1e;

    nl2e = round_up(aligned / cluster_size, cluster_size / l2e_size);
    meta += nl2e * l2e_size;
    nl1e = round_up(nl2e * l2e_size / cluster_size,
                    cluster_size / QCOW2_L1E_SIZE);
    meta += nl1e * QCOW2_L1E_SIZE;
    meta += block_qcow2_refcount_metadata_size(
        (meta + aligned) / cluster_size, cluster_size, refcount_order, false);
    return meta + aligned;
}

static bool measure_raw_co(BlockCreateOpts *opts, BlockNode *in,
                           BlockMeasureInfo *info, Error **errp)
{
    uint64_t required;

    if (in) {
        int64_t len = block_getlength_co(in);

        if (len < 0) {
            error_setg_errno(errp, (int)-len, "Unable to get image size");
            return false;
        }
        required = (uint64_t)len;
    } else {
        required = round_up(
            block_create_opts_get_size(opts, BLOCK_OPT_SIZE_NAME, 0),
            SECTOR_SIZE);
    }
    /* Holes count: a raw file is as large as its virtual size. */
    info->required = required;
    info->fully_allocated = required;
    return true;
}

/* qcow2's -o checks, in QEMU's order and with its messages. */
static bool qcow2_measure_opts(BlockCreateOpts *opts, uint64_t *cluster_size,
                               int *version, unsigned *refcount_order,
                               bool *extended_l2, BlockPreallocMode *prealloc,
                               Error **errp)
{
    const char *compat = block_create_opts_get_str(opts, "compat", NULL);
    const char *pstr;
    uint64_t bits;
    uint64_t cs;

    *extended_l2 = block_create_opts_get_bool(opts, "extended_l2", false);
    cs = block_create_opts_get_size(opts, BLOCK_OPT_CLUSTER_SIZE,
                                    QCOW2_DEFAULT_CLUSTER_SIZE);
    if (cs < (1u << QCOW2_MIN_CLUSTER_BITS) ||
        cs > (1u << QCOW2_MAX_CLUSTER_BITS) || (cs & (cs - 1))) {
        error_setg(errp, "Cluster size must be a power of two between %d "
                   "and %dk", 1 << QCOW2_MIN_CLUSTER_BITS,
                   1 << (QCOW2_MAX_CLUSTER_BITS - 10));
        return false;
    }
    if (*extended_l2 &&
        cs < (1u << QCOW2_MIN_CLUSTER_BITS) * QCOW2_EXTL2_SUBCLUSTERS) {
        error_setg(errp, "Extended L2 entries are only supported with "
                   "cluster sizes of at least %u bytes",
                   (1u << QCOW2_MIN_CLUSTER_BITS) * QCOW2_EXTL2_SUBCLUSTERS);
        return false;
    }
    *cluster_size = cs;

    if (!compat || strcmp(compat, "1.1") == 0 || strcmp(compat, "v3") == 0) {
        *version = 3;
    } else if (strcmp(compat, "0.10") == 0 || strcmp(compat, "v2") == 0) {
        *version = 2;
    } else {
        error_setg(errp, "Invalid compatibility level: '%s'", compat);
        return false;
    }

    bits = block_create_opts_get_number(opts, "refcount_bits", 16);
    if (bits > 64 || bits == 0 || (bits & (bits - 1))) {
        error_setg(errp, "Refcount width must be a power of two and may not "
                   "exceed 64 bits");
        return false;
    }
    if (*version < 3 && bits != 16) {
        error_setg(errp, "Different refcount widths than 16 bits require "
                   "compatibility level 1.1 or above (use compat=1.1 or "
                   "greater)");
        return false;
    }
    *refcount_order = (unsigned)__builtin_ctzll(bits);

    *prealloc = BLOCK_PREALLOC_OFF;
    pstr = block_create_opts_get_str(opts, BLOCK_OPT_PREALLOC, NULL);
    if (pstr && !block_prealloc_parse(pstr, prealloc, errp)) {
        return false;
    }
    return true;
}

/* Bytes of data clusters in needs, walking block status. */
static bool qcow2_measure_used_co(BlockNode *in, int64_t ssize,
                                  uint64_t cluster_size, uint64_t *required,
                                  Error **errp)
{
    int64_t pnum = 0;

    for (int64_t offset = 0; offset < ssize; offset += pnum) {
        int ret = block_status_above_co(in, NULL, offset, ssize - offset,
                                        &pnum, NULL, NULL);

        if (ret < 0) {
            error_setg_errno(errp, -ret, "Unable to get block status");
            return false;
        }
        if (pnum <= 0) {
            error_setg_errno(errp, EIO, "Unable to get block status");
            return false;
        }
        if (ret & BLOCK_STATUS_ZERO) {
            continue;
        }
        if ((ret & (BLOCK_STATUS_DATA | BLOCK_STATUS_ALLOCATED)) ==
            (BLOCK_STATUS_DATA | BLOCK_STATUS_ALLOCATED)) {
            /* Whole clusters; the next step starts at a cluster end. */
            pnum = (int64_t)round_up((uint64_t)(offset + pnum),
                                     cluster_size) - offset;
            *required += (uint64_t)offset % cluster_size + (uint64_t)pnum;
        }
    }
    return true;
}

/* A qcow2 v3 node: one that can hold persistent bitmaps (v2 cannot). */
static bool source_holds_bitmaps(BlockNode *in)
{
    const BlockDriver *drv = block_node_get_driver(in);
    json_object *spec, *data, *compat;
    bool v3;

    if (strcmp(block_node_get_format(in), "qcow2") != 0 ||
        !drv->get_specific_info) {
        return false;
    }
    spec = drv->get_specific_info(in, NULL);
    v3 = spec && json_object_object_get_ex(spec, "data", &data) &&
         json_object_object_get_ex(data, "compat", &compat) &&
         strcmp(json_object_get_string(compat), "0.10") != 0;
    json_object_put(spec);
    return v3;
}

static bool measure_qcow2_co(BlockCreateOpts *opts, BlockNode *in,
                             BlockMeasureInfo *info, Error **errp)
{
    uint64_t cluster_size;
    uint64_t virtual_size;
    uint64_t required = 0;
    uint64_t l2_tables;
    unsigned refcount_order;
    BlockPreallocMode prealloc;
    const char *encrypt;
    bool extended_l2;
    bool has_backing;
    int version;

    if (!qcow2_measure_opts(opts, &cluster_size, &version, &refcount_order,
                            &extended_l2, &prealloc, errp)) {
        return false;
    }
    has_backing = block_create_opts_get_str(opts, BLOCK_OPT_BACKING_FILE,
                                            NULL) != NULL;
    encrypt = block_create_opts_get_str(opts, "encrypt.format", NULL);
    if (encrypt && strcmp(encrypt, "luks") == 0) {
        error_setg(errp, "measuring LUKS-encrypted qcow2 images is not "
                   "supported");
        return false;
    }

    virtual_size = round_up(
        block_create_opts_get_size(opts, BLOCK_OPT_SIZE_NAME, 0),
        cluster_size);
    l2_tables = div_round_up(virtual_size / cluster_size,
                             cluster_size / (extended_l2 ? 16 : 8));
    if (l2_tables * QCOW2_L1E_SIZE > QCOW2_MAX_L1_SIZE) {
        error_setg(errp, "The image size is too large (try using a larger "
                   "cluster size)");
        return false;
    }

    if (in) {
        int64_t ssize = block_getlength_co(in);

        if (ssize < 0) {
            error_setg_errno(errp, (int)-ssize,
                             "Unable to get image virtual_size");
            return false;
        }
        virtual_size = round_up((uint64_t)ssize, cluster_size);
        if (has_backing) {
            /* The new backing file may share nothing with the input. */
            required = virtual_size;
        } else if (!qcow2_measure_used_co(in, ssize, cluster_size,
                                          &required, errp)) {
            return false;
        }
    }
    if (prealloc == BLOCK_PREALLOC_FULL ||
        prealloc == BLOCK_PREALLOC_FALLOC) {
        required = virtual_size;
    }

    info->fully_allocated = block_qcow2_prealloc_size(
        virtual_size, cluster_size, refcount_order, extended_l2);
    info->required = info->fully_allocated - virtual_size + required;
    /*
     * Bitmaps are shown when source and target both can hold persistent
     * ones: a qcow2 source.  Copying bitmaps is not implemented, so no
     * source bitmap is ever counted.
     */
    info->has_bitmaps = version >= 3 && in && source_holds_bitmaps(in);
    info->bitmaps = 0;
    return true;
}

bool block_measure_co(const BlockDriver *drv, BlockCreateOpts *opts,
                      BlockNode *in, BlockMeasureInfo *info, Error **errp)
{
    const char *name = block_driver_get_name(drv);

    memset(info, 0, sizeof(*info));
    if (strcmp(name, "raw") == 0) {
        return measure_raw_co(opts, in, info, errp);
    }
    if (strcmp(name, "qcow2") == 0) {
        return measure_qcow2_co(opts, in, info, errp);
    }
    error_setg(errp, "Block driver '%s' does not support size measurement",
               name);
    return false;
}
