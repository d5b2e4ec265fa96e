/*
 * Meta contexts of an export and the extents NBD_CMD_BLOCK_STATUS
 * returns for each:
 *   base:allocation         id 0: NBD_STATE_HOLE (no data stored) and
 *                           NBD_STATE_ZERO (reads as zeroes)
 *   qemu:allocation-depth   id 1: 0 unallocated, 1 this layer, N the
 *                           (N-1)th backing file (offered with -A)
 *   qemu:dirty-bitmap:NAME  id 2+i: 1 where the bitmap is dirty (through
 *                           the export's NbdExportBitmap hooks)
 * LIST_META_CONTEXT queries may name a namespace ("base:", "qemu:",
 * "qemu:dirty-bitmap:") to list all of it; SET_META_CONTEXT only selects
 * exact names, as QEMU does.
 */
#include <errno.h>

#include "qx/block/block.h"
#include "nbd-internal.h"

#define META_BASE_ALLOCATION "base:allocation"
#define META_ALLOCATION_DEPTH "qemu:allocation-depth"
#define META_DIRTY_BITMAP "qemu:dirty-bitmap:"

void nbd_meta_selection_clear(NbdMetaSelection *sel)
{
    g_free(sel->bitmaps);
    memset(sel, 0, sizeof(*sel));
}

static bool meta_is(const char *query, size_t len, const char *name)
{
    return len == strlen(name) && memcmp(query, name, len) == 0;
}

static int meta_emit(NbdMetaSelection *sel, bool *flag, uint32_t id,
                     const char *name, NbdMetaFunc *fn, void *opaque)
{
    if (sel) {
        if (*flag) {
            return 0; /* already selected by an earlier query */
        }
        *flag = true;
        sel->count++;
    }
    return fn ? fn(opaque, id, name) : 0;
}

int nbd_meta_match(NbdExport *exp, const char *query, size_t len, bool list,
                   NbdMetaSelection *sel, NbdMetaFunc *fn, void *opaque)
{
    bool dummy = false;
    int ret;

    if ((list && meta_is(query, len, "base:")) ||
        meta_is(query, len, META_BASE_ALLOCATION)) {
        return meta_emit(sel, sel ? &sel->base_allocation : &dummy,
                         NBD_META_ID_BASE_ALLOCATION, META_BASE_ALLOCATION,
                         fn, opaque);
    }
    if (exp->allocation_depth &&
        ((list && meta_is(query, len, "qemu:")) ||
         meta_is(query, len, META_ALLOCATION_DEPTH))) {
        dummy = false;
        ret = meta_emit(sel, sel ? &sel->allocation_depth : &dummy,
                        NBD_META_ID_ALLOCATION_DEPTH, META_ALLOCATION_DEPTH,
                        fn, opaque);
        if (ret < 0 || !list || !meta_is(query, len, "qemu:")) {
            return ret;
        }
    }
    if (len >= strlen("qemu:") && memcmp(query, "qemu:", 5) == 0) {
        bool all = list && (meta_is(query, len, "qemu:") ||
                            meta_is(query, len, META_DIRTY_BITMAP));
        size_t plen = strlen(META_DIRTY_BITMAP);

        for (int i = 0; i < exp->nbitmaps; i++) {
            const char *bname = exp->bitmaps[i].name;
            g_autofree char *full = g_strconcat(META_DIRTY_BITMAP, bname,
                                                NULL);

            if (!all && !(len > plen && meta_is(query, len, full))) {
                continue;
            }
            dummy = false;
            ret = meta_emit(sel, sel ? &sel->bitmaps[i] : &dummy,
                            NBD_META_ID_DIRTY_BITMAP + i, full, fn, opaque);
            if (ret < 0) {
                return ret;
            }
        }
    }
    return 0;
}

int nbd_meta_list_all(NbdExport *exp, NbdMetaFunc *fn, void *opaque)
{
    int ret = nbd_meta_match(exp, "base:", 5, true, NULL, fn, opaque);

    if (ret >= 0) {
        ret = nbd_meta_match(exp, "qemu:", 5, true, NULL, fn, opaque);
    }
    return ret;
}

/* Appends (len, flags), merging with the previous extent if equal. */
static int meta_add_extent(uint32_t *out, int n, int max, uint64_t len,
                           uint32_t flags)
{
    if (n > 0 && out[2 * (n - 1) + 1] == flags &&
        (uint64_t)out[2 * (n - 1)] + len <= UINT32_MAX) {
        out[2 * (n - 1)] += (uint32_t)len;
        return n;
    }
    if (n >= max) {
        return -1;
    }
    out[2 * n] = (uint32_t)len;
    out[2 * n + 1] = flags;
    return n + 1;
}

/* Allocation depth of [offset, offset + bytes): 0 or the layer number. */
static int meta_depth_co(BlockNode *top, int64_t offset, int64_t bytes,
                         int64_t *pnum, uint32_t *depth)
{
    uint32_t d = 1;
    BlockNode *node = top;

    /* Backing chains are bounded when opened; guard anyway. */
    while (node && d < 1024) {
        int ret = block_status_co(node, offset, bytes, pnum, NULL, NULL);

        if (ret < 0) {
            return ret;
        }
        if (ret & BLOCK_STATUS_ALLOCATED) {
            *depth = d;
            return 0;
        }
        bytes = *pnum;
        node = block_node_get_backing(node);
        d++;
    }
    *depth = 0;
    *pnum = bytes;
    return 0;
}

int nbd_meta_extents_co(NbdExport *exp, uint32_t id, uint64_t offset,
                        uint32_t len, uint32_t *out, int max)
{
    uint64_t end = offset + len;
    int n = 0;

    while (offset < end) {
        int64_t pnum = 0;
        uint32_t flags;
        int ret;

        if (id == NBD_META_ID_BASE_ALLOCATION) {
            ret = blk_block_status_co(exp->blk, offset, end - offset, &pnum,
                                      NULL, NULL);
            if (ret >= 0) {
                flags = (ret & BLOCK_STATUS_DATA ? 0 : NBD_STATE_HOLE) |
                        (ret & BLOCK_STATUS_ZERO ? NBD_STATE_ZERO : 0);
            }
        } else if (id == NBD_META_ID_ALLOCATION_DEPTH) {
            ret = meta_depth_co(blk_node(exp->blk), offset, end - offset,
                                &pnum, &flags);
        } else {
            NbdExportBitmap *bm = &exp->bitmaps[id - NBD_META_ID_DIRTY_BITMAP];
            bool dirty = false;

            ret = bm->status(bm->opaque, offset, end - offset, &pnum, &dirty);
            flags = dirty ? 1 : 0;
        }
        if (ret < 0) {
            return ret;
        }
        if (pnum <= 0 || (uint64_t)pnum > end - offset) {
            return -EIO;
        }
        ret = meta_add_extent(out, n, max, pnum, flags);
        if (ret < 0) {
            break;
        }
        n = ret;
        offset += pnum;
    }
    return n;
}
