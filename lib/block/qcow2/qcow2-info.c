/*
 * qcow2 information for qemu-img info: the generic driver info and QEMU
 * 7.2's ImageInfoSpecificQCow2 members (the printer orders the keys).
 */
#include "qcow2-int.h"

int qcow2_get_info(BlockNode *node, BlockDriverInfo *bdi)
{
    Qcow2State *s = node->opaque;

    memset(bdi, 0, sizeof(*bdi));
    bdi->cluster_size = (int64_t)s->cluster_size;
    bdi->is_dirty = (s->incompat & QCOW2_INCOMPAT_DIRTY) != 0;
    bdi->unallocated_blocks_are_zero = false;
    return 0;
}

/* Bitmap directory entry layout (docs/interop/qcow2.txt). */
#define BME_FLAG_IN_USE (1u << 0)
#define BME_FLAG_AUTO (1u << 1)
#define BME_FIXED_SIZE 24
#define BME_MAX_DIR_BYTES (64u * 1024 * 1024)

/*
 * QEMU's "bitmaps" list: name, granularity and flags of every persistent
 * bitmap, in directory order; NULL when there are none.  A malformed
 * directory ends the list where it stops making sense.
 */
static json_object *bitmap_info_list(BlockNode *node)
{
    Qcow2State *s = node->opaque;
    uint64_t size = s->hdr.bitmap_directory_size;
    g_autofree uint8_t *dir = NULL;
    json_object *list;
    uint64_t pos = 0;

    if (!s->hdr.has_bitmaps_ext || !s->hdr.nb_bitmaps || !size ||
        size > BME_MAX_DIR_BYTES) {
        return NULL;
    }
    dir = g_try_malloc(size);
    if (!dir || block_pread(node->file, (int64_t)s->hdr.bitmap_directory_offset,
                            (int64_t)size, dir, 0) < 0) {
        return NULL;
    }
    list = json_object_new_array();
    for (uint32_t i = 0; i < s->hdr.nb_bitmaps; i++) {
        uint32_t flags, extra;
        uint16_t name_size;
        uint8_t gran_bits;
        uint64_t entry_size;
        json_object *bm, *fl;

        if (size - pos < BME_FIXED_SIZE) {
            break;
        }
        flags = qcow2_be32(dir + pos + 12);
        gran_bits = dir[pos + 17];
        name_size = (uint16_t)((dir[pos + 18] << 8) | dir[pos + 19]);
        extra = qcow2_be32(dir + pos + 20);
        entry_size = (BME_FIXED_SIZE + (uint64_t)extra + name_size + 7) &
                     ~7ull;
        if (entry_size > size - pos || gran_bits > 63) {
            break;
        }
        bm = json_object_new_object();
        fl = json_object_new_array();
        if (flags & BME_FLAG_IN_USE) {
            json_object_array_add(fl, json_object_new_string("in-use"));
        }
        if (flags & BME_FLAG_AUTO) {
            json_object_array_add(fl, json_object_new_string("auto"));
        }
        json_object_object_add(bm, "flags", fl);
        json_object_object_add(
            bm, "name",
            json_object_new_string_len(
                (const char *)dir + pos + BME_FIXED_SIZE + extra, name_size));
        json_object_object_add(bm, "granularity",
                               json_object_new_int64(1ll << gran_bits));
        json_object_array_add(list, bm);
        pos += entry_size;
    }
    if (json_object_array_length(list) == 0) {
        json_object_put(list);
        return NULL;
    }
    return list;
}

json_object *qcow2_get_specific_info(BlockNode *node, Error **errp)
{
    Qcow2State *s = node->opaque;
    json_object *spec = json_object_new_object();
    json_object *data = json_object_new_object();

    json_object_object_add(spec, "type", json_object_new_string("qcow2"));
    json_object_object_add(data, "compat",
                           json_object_new_string(s->version >= 3 ? "1.1"
                                                                  : "0.10"));
    json_object_object_add(
        data, "compression-type",
        json_object_new_string(s->compression_type == QCOW2_COMPRESSION_ZSTD
                                   ? "zstd" : "zlib"));
    if (s->version >= 3) {
        json_object_object_add(
            data, "lazy-refcounts",
            json_object_new_boolean(
                (s->compat & QCOW2_COMPAT_LAZY_REFCOUNTS) != 0));
        json_object_object_add(
            data, "corrupt",
            json_object_new_boolean(
                (s->incompat & QCOW2_INCOMPAT_CORRUPT) != 0));
        json_object_object_add(data, "extended-l2",
                               json_object_new_boolean(s->extl2));
        json_object *bitmaps = bitmap_info_list(node);
        if (bitmaps) {
            json_object_object_add(data, "bitmaps", bitmaps);
        }
    }
    json_object_object_add(data, "refcount-bits",
                           json_object_new_int64(1ll << s->refcount_order));
    json_object_object_add(spec, "data", data);
    return spec;
}
