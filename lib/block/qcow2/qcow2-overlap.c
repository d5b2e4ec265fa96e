/*
 * Metadata overlap checks: before writing guest data or new metadata to a
 * host range, the driver asks whether the range hits existing metadata,
 * which would mean the image is corrupt (QEMU's "overlap-check").
 */
#include <stdlib.h>

#include "qcow2-format.h"

void qcow2_metamap_init(Qcow2MetadataMap *map)
{
    *map = (Qcow2MetadataMap){ .sorted = true };
}

void qcow2_metamap_free(Qcow2MetadataMap *map)
{
    g_free(map->ranges);
    qcow2_metamap_init(map);
}

void qcow2_metamap_add(Qcow2MetadataMap *map, Qcow2MetadataKind kind,
                       uint64_t offset, uint64_t len)
{
    if (len == 0) {
        return;
    }
    if (map->nb_ranges == map->capacity) {
        map->capacity = map->capacity ? map->capacity * 2 : 16;
        map->ranges = g_renew(Qcow2MetaRange, map->ranges, map->capacity);
    }
    /* clamp so that offset + len never wraps */
    if (len > UINT64_MAX - offset) {
        len = UINT64_MAX - offset;
    }
    map->ranges[map->nb_ranges++] = (Qcow2MetaRange){
        .offset = offset, .len = len, .kind = kind,
    };
    map->sorted = false;
}

void qcow2_metamap_remove(Qcow2MetadataMap *map, Qcow2MetadataKind kind,
                          uint64_t offset)
{
    size_t j = 0;

    for (size_t i = 0; i < map->nb_ranges; i++) {
        Qcow2MetaRange *r = &map->ranges[i];

        if (r->kind == kind && r->offset == offset) {
            continue;
        }
        map->ranges[j++] = *r;
    }
    map->nb_ranges = j;
    /* removing keeps the relative order, so sortedness is preserved */
}

static int cmp_range(const void *a, const void *b)
{
    const Qcow2MetaRange *x = a, *y = b;

    if (x->offset != y->offset) {
        return x->offset < y->offset ? -1 : 1;
    }
    return (int)x->kind - (int)y->kind;
}

Qcow2MetadataKind qcow2_metamap_check(Qcow2MetadataMap *map,
                                      uint64_t offset, uint64_t len,
                                      uint32_t cluster_bits,
                                      unsigned ignore)
{
    uint64_t cs_mask = (1ull << cluster_bits) - 1;
    uint64_t start, end;

    if (len == 0) {
        return 0;
    }
    /* Compare whole clusters: metadata owns the clusters it touches */
    start = offset & ~cs_mask;
    end = offset + len > offset ? offset + len : UINT64_MAX;
    end = end > UINT64_MAX - cs_mask ? UINT64_MAX : (end + cs_mask) & ~cs_mask;

    if (!map->sorted) {
        qsort(map->ranges, map->nb_ranges, sizeof(Qcow2MetaRange),
              cmp_range);
        map->sorted = true;
    }
    /*
     * Ranges are sorted by start; they may be long (an L1 table) so every
     * range starting before end must be looked at.  Tables are few
     * compared to I/O, and L2 tables are one cluster each.
     */
    for (size_t i = 0; i < map->nb_ranges; i++) {
        const Qcow2MetaRange *r = &map->ranges[i];
        uint64_t rs = r->offset & ~cs_mask;
        uint64_t re = r->offset + r->len;

        if (rs >= end) {
            break;
        }
        re = re > UINT64_MAX - cs_mask ? UINT64_MAX
                                       : (re + cs_mask) & ~cs_mask;
        if ((r->kind & ignore) == 0 && re > start) {
            return r->kind;
        }
    }
    return 0;
}

const char *qcow2_metadata_kind_name(Qcow2MetadataKind kind)
{
    switch (kind) {
    case QCOW2_OL_MAIN_HEADER:
        return "qcow2_header";
    case QCOW2_OL_ACTIVE_L1:
        return "active L1 table";
    case QCOW2_OL_ACTIVE_L2:
        return "active L2 table";
    case QCOW2_OL_REFCOUNT_TABLE:
        return "refcount table";
    case QCOW2_OL_REFCOUNT_BLOCK:
        return "refcount block";
    case QCOW2_OL_SNAPSHOT_TABLE:
        return "snapshot table";
    case QCOW2_OL_INACTIVE_L1:
        return "inactive L1 table";
    case QCOW2_OL_INACTIVE_L2:
        return "inactive L2 table";
    case QCOW2_OL_BITMAP_DIRECTORY:
        return "bitmap directory";
    }
    return "unknown metadata";
}
