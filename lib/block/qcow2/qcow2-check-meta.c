/*
 * qcow2 check: the snapshot table (read as QEMU reads it in check mode,
 * from the header fields the open skipped) and the persistent bitmap
 * directory with its bitmap tables, whose clusters count as references.
 */
#include <errno.h>
#include <string.h>

#include "qcow2-check-int.h"

/* Bitmap directory entry constraints (docs/interop/qcow2.txt). */
#define BME_DIR_ENTRY_FIXED 24
#define BME_MAX_NAME_SIZE 1023
#define BME_MIN_GRANULARITY_BITS 9
#define BME_MAX_GRANULARITY_BITS 31
#define BME_FLAG_IN_USE (1u << 0)
#define BME_FLAG_AUTO (1u << 1)
#define BME_RESERVED_FLAGS (~(BME_FLAG_IN_USE | BME_FLAG_AUTO))
#define BME_TYPE_DIRTY_TRACKING 1
#define BME_MAX_TABLE_SIZE 0x8000000ull
#define BME_MAX_PHYS_SIZE 0x20000000ull
#define BME_TABLE_RESERVED_MASK 0xff000000000001feull
#define BME_TABLE_OFFSET_MASK 0x00fffffffffffe00ull

void qcow2c_free_snapshots(Qcow2Check *c)
{
    for (uint32_t i = 0; c->snaps && i < c->nb_snapshots; i++) {
        g_free(c->snaps[i].id);
        g_free(c->snaps[i].name);
    }
    g_free(c->snaps);
    c->snaps = NULL;
}

/* Reads a length-prefixed string field of a snapshot entry. */
static int read_string_co(Qcow2Check *c, uint64_t offset, uint32_t len,
                          char **out)
{
    char *s = g_malloc(len + 1);
    int ret = len ? block_pread_co(c->file, (int64_t)offset, len, s, 0) : 0;

    s[len] = '\0';
    if (ret < 0) {
        g_free(s);
        return ret;
    }
    *out = s;
    return 0;
}

static int read_snapshot_entries_co(Qcow2Check *c, Error **errp)
{
    uint64_t offset = c->snapshots_offset;
    int ret;

    c->snaps = g_new0(Qcow2CheckSnap, c->nb_snapshots);
    for (uint32_t i = 0; i < c->nb_snapshots; i++) {
        Qcow2CheckSnap *sn = &c->snaps[i];
        uint8_t hdr[QCOW2_SNAPSHOT_HEADER_BYTES];
        uint32_t id_size, name_size, extra_size;

        offset = (offset + 7) & ~7ull;
        if (offset > (uint64_t)INT64_MAX - QCOW2_MAX_SNAPSHOTS_SIZE) {
            error_setg(errp, "Snapshot table exceeds the maximum size");
            return -EFBIG;
        }
        ret = block_pread_co(c->file, (int64_t)offset, sizeof(hdr), hdr, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Failed to read snapshot table");
            return ret;
        }
        offset += sizeof(hdr);
        sn->l1_offset = qcow2_be64(hdr);
        sn->l1_size = qcow2_be32(hdr + 8);
        id_size = ((uint32_t)hdr[12] << 8) | hdr[13];
        name_size = ((uint32_t)hdr[14] << 8) | hdr[15];
        extra_size = qcow2_be32(hdr + 36);
        if (extra_size > QCOW2_MAX_SNAPSHOT_EXTRA_DATA) {
            block_check_report(c->res, "Discarding too much extra metadata "
                               "in snapshot table entry %u (%" PRIu32
                               " > %u)", i, extra_size,
                               QCOW2_MAX_SNAPSHOT_EXTRA_DATA);
            c->res->corruptions++;
        }
        offset += extra_size;
        ret = read_string_co(c, offset, id_size, &sn->id);
        if (ret == 0) {
            offset += id_size;
            ret = read_string_co(c, offset, name_size, &sn->name);
            offset += name_size;
        }
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Failed to read snapshot table");
            return ret;
        }
        if (offset - c->snapshots_offset > QCOW2_MAX_SNAPSHOTS_SIZE) {
            error_setg(errp, "Snapshot table exceeds the maximum size");
            return -EFBIG;
        }
    }
    c->snapshots_size = offset - c->snapshots_offset;
    return 0;
}

int qcow2c_read_snapshots_co(Qcow2Check *c)
{
    uint8_t ptr[12];
    Error *err = NULL;
    int ret;

    ret = block_pread_co(c->file, 60, sizeof(ptr), ptr, 0);
    if (ret < 0) {
        c->res->check_errors++;
        block_check_report(c->res, "ERROR failed to read the snapshot table "
                           "pointer from the image header: %s",
                           g_strerror(-ret));
        return ret;
    }
    c->nb_snapshots = qcow2_be32(ptr);
    c->snapshots_offset = qcow2_be64(ptr + 4);

    if (c->nb_snapshots > QCOW2_MAX_SNAPSHOTS) {
        ret = -EFBIG;
        error_setg(&err, "snapshot table too large");
    } else if (c->snapshots_offset >
                   (uint64_t)INT64_MAX - (uint64_t)c->nb_snapshots *
                                             QCOW2_SNAPSHOT_HEADER_BYTES ||
               qcow2c_offset_into_cluster(c, c->snapshots_offset)) {
        ret = -EINVAL;
        error_setg(&err, "snapshot table offset invalid");
    }
    if (ret < 0) {
        c->res->check_errors++;
        block_check_report(c->res, "%s: ERROR %s", error_get_progname(),
                           error_get_pretty(err));
        error_free(err);
        c->nb_snapshots = 0;
        c->snapshots_offset = 0;
        return ret;
    }

    ret = read_snapshot_entries_co(c, &err);
    if (ret < 0) {
        c->res->check_errors++;
        block_check_report(c->res, "%s: Failed to read snapshot table: %s",
                           error_get_progname(), error_get_pretty(err));
        error_free(err);
        qcow2c_free_snapshots(c);
        c->nb_snapshots = 0;
        c->snapshots_offset = 0;
        return ret;
    }
    return 0;
}

/* ---- Bitmaps ------------------------------------------------------------ */

static bool bitmap_table_entry_ok(uint64_t entry, uint64_t cluster_size)
{
    uint64_t offset = entry & BME_TABLE_OFFSET_MASK;

    if (entry & BME_TABLE_RESERVED_MASK) {
        return false;
    }
    return offset == 0 || (!(entry & 1) && offset % cluster_size == 0);
}

/* Counts one bitmap's table and data clusters; -EINVAL if corrupt. */
static int check_bitmap_table_co(Qcow2Check *c, uint64_t offset,
                                 uint32_t size)
{
    g_autofree uint64_t *table = NULL;
    int ret;

    ret = qcow2c_inc_refcounts(c, offset, (uint64_t)size * 8);
    if (ret < 0) {
        return ret;
    }
    table = g_try_new(uint64_t, size);
    if (!table) {
        c->res->corruptions++;
        return -ENOMEM;
    }
    ret = block_pread_co(c->file, (int64_t)offset, (int64_t)size * 8, table,
                         0);
    if (ret < 0) {
        c->res->corruptions++;
        return ret;
    }
    for (uint32_t i = 0; i < size; i++) {
        table[i] = qcow2_be64((const uint8_t *)&table[i]);
        if (!bitmap_table_entry_ok(table[i], c->cluster_size)) {
            c->res->corruptions++;
            return -EINVAL;
        }
    }
    for (uint32_t i = 0; i < size; i++) {
        uint64_t data = table[i] & BME_TABLE_OFFSET_MASK;
        if (data) {
            ret = qcow2c_inc_refcounts(c, data, c->cluster_size);
            if (ret < 0) {
                return ret;
            }
        }
    }
    return 0;
}

/* Validates one directory entry as QEMU does before trusting it. */
static bool dir_entry_ok(Qcow2Check *c, const uint8_t *e)
{
    uint64_t table_offset = qcow2_be64(e);
    uint32_t table_size = qcow2_be32(e + 8);
    uint32_t flags = qcow2_be32(e + 12);
    uint8_t type = e[16];
    uint8_t gran = e[17];
    uint32_t name_size = ((uint32_t)e[18] << 8) | e[19];
    uint64_t phys;

    if (table_size == 0 || table_offset == 0 ||
        qcow2c_offset_into_cluster(c, table_offset) ||
        type != BME_TYPE_DIRTY_TRACKING || name_size == 0 ||
        name_size > BME_MAX_NAME_SIZE || gran > BME_MAX_GRANULARITY_BITS ||
        gran < BME_MIN_GRANULARITY_BITS || (flags & BME_RESERVED_FLAGS) ||
        table_size > BME_MAX_TABLE_SIZE) {
        return false;
    }
    phys = (uint64_t)table_size * c->cluster_size;
    if (phys > BME_MAX_PHYS_SIZE) {
        return false;
    }
    if (!(flags & BME_FLAG_IN_USE) && gran < 64 - 3 &&
        (phys * 8) < UINT64_MAX >> gran &&
        c->h.size > ((phys * 8) << gran)) {
        return false;
    }
    return true;
}

int qcow2c_check_bitmaps_co(Qcow2Check *c)
{
    uint64_t size = c->h.bitmap_directory_size;
    uint64_t off = c->h.bitmap_directory_offset;
    g_autofree uint8_t *dir = NULL;
    uint32_t count = 0;
    size_t pos = 0;
    int ret;

    if (!c->h.has_bitmaps_ext || c->h.nb_bitmaps == 0 ||
        !(c->h.autoclear_features & QCOW2_AUTOCLEAR_BITMAPS)) {
        return 0;
    }
    ret = qcow2c_inc_refcounts(c, off, size);
    if (ret < 0) {
        return ret;
    }
    dir = size ? g_try_malloc(size) : NULL;
    if (!dir ||
        block_pread_co(c->file, (int64_t)off, (int64_t)size, dir, 0) < 0) {
        c->res->corruptions++;
        return -EINVAL;
    }
    /* The whole directory is validated before any table is counted. */
    while (pos < size) {
        uint32_t name_size, extra;
        size_t next;

        if (size - pos < BME_DIR_ENTRY_FIXED || ++count > c->h.nb_bitmaps) {
            c->res->corruptions++;
            return -EINVAL;
        }
        name_size = ((uint32_t)dir[pos + 18] << 8) | dir[pos + 19];
        extra = qcow2_be32(dir + pos + 20);
        next = pos + ((BME_DIR_ENTRY_FIXED + (uint64_t)extra + name_size + 7) &
                      ~7ull);
        if (extra != 0 || next > size || !dir_entry_ok(c, dir + pos)) {
            c->res->corruptions++;
            return -EINVAL;
        }
        pos = next;
    }
    if (count != c->h.nb_bitmaps) {
        c->res->corruptions++;
        return -EINVAL;
    }
    for (pos = 0; pos < size;) {
        uint32_t name_size = ((uint32_t)dir[pos + 18] << 8) | dir[pos + 19];

        ret = check_bitmap_table_co(c, qcow2_be64(dir + pos),
                                    qcow2_be32(dir + pos + 8));
        if (ret < 0) {
            return ret;
        }
        pos += (BME_DIR_ENTRY_FIXED + name_size + 7) & ~7ull;
    }
    return 0;
}
