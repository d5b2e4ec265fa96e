/*
 * qcow2 consistency check and repair.
 *
 * The check counts, for every host cluster, how many references the
 * metadata makes to it (header, active and snapshot L1 tables and their
 * L2 tables, data clusters, refcount table and blocks, snapshot table,
 * bitmap directory and tables), compares that with the stored refcounts
 * (stored > counted: leak; stored < counted: corruption; stored 0 for a
 * used cluster: the refcount structure must be rebuilt), checks the
 * OFLAG_COPIED bits against the stored refcounts, and gathers allocation
 * and fragmentation figures.  Its findings, messages, repairs and their
 * order follow QEMU 7.2 so that both tools print the same report.
 */
#include <errno.h>
#include <string.h>

#include "qcow2-check-int.h"

#define L2_BITMAP_ALL_ALLOC 0xffffffffull

typedef enum {
    CT_UNALLOCATED,
    CT_ZERO_PLAIN,
    CT_ZERO_ALLOC,
    CT_NORMAL,
    CT_COMPRESSED,
} ClusterType;

static ClusterType cluster_type(const Qcow2Check *c, uint64_t entry)
{
    if (entry & QCOW2_OFLAG_COMPRESSED) {
        return CT_COMPRESSED;
    }
    if ((entry & QCOW2_OFLAG_ZERO) && !c->ext_l2) {
        return (entry & QCOW2_L2E_OFFSET_MASK) ? CT_ZERO_ALLOC
                                               : CT_ZERO_PLAIN;
    }
    if (!(entry & QCOW2_L2E_OFFSET_MASK)) {
        /* With a data file, offset 0 is valid when COPIED says so. */
        return c->has_data_file && (entry & QCOW2_OFLAG_COPIED)
                   ? CT_NORMAL
                   : CT_UNALLOCATED;
    }
    return CT_NORMAL;
}

static void add_result(BlockCheckResult *out, const BlockCheckResult *src,
                       bool allocation_info)
{
    out->corruptions += src->corruptions;
    out->leaks += src->leaks;
    out->check_errors += src->check_errors;
    out->corruptions_fixed += src->corruptions_fixed;
    out->leaks_fixed += src->leaks_fixed;
    if (allocation_info) {
        out->image_end_offset = src->image_end_offset;
        out->total_clusters = src->total_clusters;
        out->allocated_clusters = src->allocated_clusters;
        out->fragmented_clusters = src->fragmented_clusters;
        out->compressed_clusters = src->compressed_clusters;
    }
}

/* ---- Loading what QEMU's open would have loaded ------------------------ */

static int load_image_co(Qcow2Check *c, Error **errp)
{
    g_autofree uint8_t *buf = NULL;
    uint32_t cluster_bits;
    size_t len = 512;
    int64_t size;
    int ret;

    size = block_getlength_co(c->file->node);
    if (size < 0) {
        error_setg_errno(errp, (int)-size, "Could not get the file size");
        return (int)size;
    }
    c->file_size = size;
    buf = g_malloc0(1u << QCOW2_MAX_CLUSTER_BITS);
    ret = block_pread_co(c->file, 0, 512, buf, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read qcow2 header");
        return ret;
    }
    cluster_bits = qcow2_be32(buf + 20);
    if (cluster_bits >= QCOW2_MIN_CLUSTER_BITS &&
        cluster_bits <= QCOW2_MAX_CLUSTER_BITS) {
        len = (size_t)1 << cluster_bits;
        ret = block_pread_co(c->file, 0, (int64_t)len, buf, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not read qcow2 header");
            return ret;
        }
    }
    /*
     * In check mode QEMU's open skips the snapshot table; the check reads
     * (and validates) it itself.  Hide it from the open-time validation.
     */
    memset(buf + 60, 0, 12);
    if (!qcow2_header_parse(buf, len, &c->h, errp)) {
        return -EINVAL;
    }
    c->cluster_bits = c->h.cluster_bits;
    c->cluster_size = 1ull << c->cluster_bits;
    c->refcount_order = c->h.refcount_order;
    c->refcount_max = qcow2_refcount_max(c->refcount_order);
    c->refblock_bits = c->cluster_bits + 3 - c->refcount_order;
    c->ext_l2 = c->h.incompatible_features & QCOW2_INCOMPAT_EXTL2;
    c->l2_entry_bytes = c->ext_l2 ? 16 : 8;
    c->l2_entries = (uint32_t)(c->cluster_size / c->l2_entry_bytes);
    c->has_data_file = c->h.incompatible_features & QCOW2_INCOMPAT_DATA_FILE;

    ret = qcow2c_load_reftable_co(c, c->h.refcount_table_offset,
                                  (uint64_t)c->h.refcount_table_clusters
                                      << (c->cluster_bits - 3));
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read refcount table");
        return ret;
    }
    c->l1_size = c->h.l1_size;
    c->l1_offset = c->h.l1_table_offset;
    if (c->l1_size) {
        c->l1 = g_try_new(uint64_t, c->l1_size);
        if (!c->l1) {
            error_setg(errp, "Could not allocate L1 table");
            return -ENOMEM;
        }
        ret = block_pread_co(c->file, (int64_t)c->l1_offset,
                             (int64_t)c->l1_size * 8, c->l1, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not read L1 table");
            return ret;
        }
        for (uint32_t i = 0; i < c->l1_size; i++) {
            c->l1[i] = qcow2_be64((const uint8_t *)&c->l1[i]);
        }
    }
    return 0;
}

/* ---- Counting references ---------------------------------------------- */

/*
 * An L2 entry with an unaligned host offset that holds no data is turned
 * into a zero entry (-r all).  Returns true when the entry was repaired.
 */
static bool repair_unaligned_co(Qcow2Check *c, uint8_t *l2, uint32_t i,
                                uint64_t l2_offset)
{
    BlockCheckResult *res = c->res;
    uint8_t *p = l2 + (size_t)i * c->l2_entry_bytes;
    int ret;

    qcow2_put_be64(p, c->ext_l2 ? 0 : QCOW2_OFLAG_ZERO);
    ret = block_pwrite_co(c->file,
                          (int64_t)(l2_offset + (uint64_t)i *
                                                    c->l2_entry_bytes),
                          c->l2_entry_bytes, p, 0);
    if (ret >= 0) {
        ret = block_flush_co(c->file->node);
    }
    if (ret < 0) {
        block_check_report(res, "ERROR: Failed to overwrite L2 table "
                           "entry: %s", g_strerror(-ret));
        res->check_errors++;
        return false;
    }
    res->corruptions--;
    res->corruptions_fixed++;
    return true;
}

static int check_l2_co(Qcow2Check *c, uint64_t l2_offset, bool frag_info)
{
    BlockCheckResult *res = c->res;
    g_autofree uint8_t *l2 = g_try_malloc(c->cluster_size);
    uint64_t next_contiguous = 0;
    int ret;

    if (!l2) {
        res->check_errors++;
        return -ENOMEM;
    }
    ret = block_pread_co(c->file, (int64_t)l2_offset,
                         (int64_t)c->cluster_size, l2, 0);
    if (ret < 0) {
        block_check_report(res, "ERROR: I/O error in check_refcounts_l2");
        res->check_errors++;
        return ret;
    }

    for (uint32_t i = 0; i < c->l2_entries; i++) {
        const uint8_t *p = l2 + (size_t)i * c->l2_entry_bytes;
        uint64_t entry = qcow2_be64(p);
        uint64_t bitmap = c->ext_l2 ? qcow2_be64(p + 8) : 0;
        ClusterType type = cluster_type(c, entry);

        if (type != CT_COMPRESSED && (entry & QCOW2_L2E_RESERVED_MASK)) {
            block_check_report(res, "ERROR found l2 entry with reserved "
                               "bits set: %" PRIx64, entry);
            res->corruptions++;
        }

        switch (type) {
        case CT_COMPRESSED: {
            uint64_t coffset, nb_sectors;

            qcow2_compressed_decode(entry, c->cluster_bits, &coffset,
                                    &nb_sectors);
            if (entry & QCOW2_OFLAG_COPIED) {
                block_check_report(res, "ERROR: coffset=0x%" PRIx64 ": "
                                   "copied flag must never be set for "
                                   "compressed clusters", coffset);
                entry &= ~QCOW2_OFLAG_COPIED;
                res->corruptions++;
            }
            if (c->has_data_file) {
                block_check_report(res, "ERROR compressed cluster %u with "
                                   "data file, entry=0x%" PRIx64, i, entry);
                res->corruptions++;
                break;
            }
            if (bitmap) {
                block_check_report(res, "ERROR compressed cluster %u with "
                                   "non-zero subcluster allocation bitmap, "
                                   "entry=0x%" PRIx64, i, entry);
                res->corruptions++;
                break;
            }
            ret = qcow2c_inc_refcounts(c, coffset,
                                       nb_sectors * 512 - (coffset & 511));
            if (ret < 0) {
                return ret;
            }
            if (frag_info) {
                /* Compressed clusters are fragmented by nature. */
                res->allocated_clusters++;
                res->compressed_clusters++;
                res->fragmented_clusters++;
            }
            break;
        }

        case CT_ZERO_ALLOC:
        case CT_NORMAL: {
            uint64_t offset = entry & QCOW2_L2E_OFFSET_MASK;

            if ((bitmap >> 32) & bitmap) {
                res->corruptions++;
                block_check_report(res, "ERROR offset=%" PRIx64 ": Allocated "
                                   "cluster has corrupted subcluster "
                                   "allocation bitmap", offset);
            }
            if (qcow2c_offset_into_cluster(c, offset)) {
                bool has_data = c->ext_l2
                                    ? (bitmap & L2_BITMAP_ALL_ALLOC) != 0
                                    : !(entry & QCOW2_OFLAG_ZERO);

                res->corruptions++;
                if (!has_data) {
                    bool repair = c->fix & BLOCK_FIX_ERRORS;

                    block_check_report(res, "%s offset=%" PRIx64 ": "
                                       "Preallocated cluster is not "
                                       "properly aligned; L2 entry "
                                       "corrupted.",
                                       repair ? "Repairing" : "ERROR",
                                       offset);
                    if (repair) {
                        repair_unaligned_co(c, l2, i, l2_offset);
                        continue;
                    }
                } else {
                    block_check_report(res, "ERROR offset=%" PRIx64 ": Data "
                                       "cluster is not properly aligned; "
                                       "L2 entry corrupted.", offset);
                }
            }
            if (frag_info) {
                res->allocated_clusters++;
                if (next_contiguous && offset != next_contiguous) {
                    res->fragmented_clusters++;
                }
                next_contiguous = offset + c->cluster_size;
            }
            if (!c->has_data_file) {
                ret = qcow2c_inc_refcounts(c, offset, c->cluster_size);
                if (ret < 0) {
                    return ret;
                }
            }
            break;
        }

        case CT_ZERO_PLAIN:
            break;

        case CT_UNALLOCATED:
            if (bitmap & L2_BITMAP_ALL_ALLOC) {
                res->corruptions++;
                block_check_report(res, "ERROR: Unallocated cluster has "
                                   "non-zero subcluster allocation bitmap");
            }
            break;
        }
    }
    return 0;
}

static int check_l1_co(Qcow2Check *c, uint64_t l1_offset, uint32_t l1_size,
                       bool frag_info)
{
    BlockCheckResult *res = c->res;
    g_autofree uint64_t *l1 = NULL;
    int ret;

    if (!l1_size) {
        return 0;
    }
    ret = qcow2c_inc_refcounts(c, l1_offset, (uint64_t)l1_size * 8);
    if (ret < 0) {
        return ret;
    }
    l1 = g_try_new(uint64_t, l1_size);
    if (!l1) {
        res->check_errors++;
        return -ENOMEM;
    }
    ret = block_pread_co(c->file, (int64_t)l1_offset, (int64_t)l1_size * 8,
                         l1, 0);
    if (ret < 0) {
        block_check_report(res, "ERROR: I/O error in check_refcounts_l1");
        res->check_errors++;
        return ret;
    }
    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t entry = qcow2_be64((const uint8_t *)&l1[i]);
        uint64_t l2_offset;

        if (!entry) {
            continue;
        }
        if (entry & QCOW2_L1E_RESERVED_MASK) {
            block_check_report(res, "ERROR found L1 entry with reserved bits "
                               "set: %" PRIx64, entry);
            res->corruptions++;
        }
        l2_offset = entry & QCOW2_L1E_OFFSET_MASK;
        ret = qcow2c_inc_refcounts(c, l2_offset, c->cluster_size);
        if (ret < 0) {
            return ret;
        }
        if (qcow2c_offset_into_cluster(c, l2_offset)) {
            block_check_report(res, "ERROR l2_offset=%" PRIx64 ": Table is "
                               "not cluster aligned; L1 entry corrupted",
                               l2_offset);
            res->corruptions++;
        }
        ret = check_l2_co(c, l2_offset, frag_info);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/*
 * Grows the file so that a refblock beyond its end exists (-r all);
 * false if that failed (then the refcount structure is rebuilt).
 */
static bool grow_for_refblock_co(Qcow2Check *c, uint64_t offset,
                                 int64_t cluster, int *err)
{
    Error *local_err = NULL;
    int64_t size;
    int ret;

    *err = 0;
    if (offset > (uint64_t)INT64_MAX - c->cluster_size) {
        ret = -EINVAL;
        goto fail;
    }
    ret = block_truncate_co(c->file, (int64_t)(offset + c->cluster_size),
                            false, BLOCK_PREALLOC_OFF, 0, &local_err);
    if (ret < 0) {
        block_check_report(c->res, "%s: %s", error_get_progname(),
                           error_get_pretty(local_err));
        error_free(local_err);
        goto fail;
    }
    size = block_getlength_co(c->file->node);
    if (size < 0) {
        ret = (int)size;
        goto fail;
    }
    c->file_size = size;
    ret = qcow2c_imrt_resize(c, qcow2c_size_to_clusters(c, (uint64_t)size));
    if (ret < 0) {
        c->res->check_errors++;
        *err = ret;
        return false;
    }
    if (cluster >= c->imrt_entries) {
        ret = -EINVAL;
        goto fail;
    }
    return true;

fail:
    block_check_report(c->res, "ERROR could not resize image: %s",
                       g_strerror(-ret));
    return false;
}

static int check_refblocks_co(Qcow2Check *c, bool *rebuild)
{
    BlockCheckResult *res = c->res;

    for (uint64_t i = 0; i < c->reftable_entries; i++) {
        uint64_t offset = c->reftable[i] & QCOW2_REFT_OFFSET_MASK;
        int64_t cluster = (int64_t)(offset >> c->cluster_bits);
        int ret;

        if (c->reftable[i] & QCOW2_REFT_RESERVED_MASK) {
            block_check_report(res, "ERROR refcount table entry %" PRIu64
                               " has reserved bits set", i);
            res->corruptions++;
            *rebuild = true;
            continue;
        }
        if (qcow2c_offset_into_cluster(c, offset)) {
            block_check_report(res, "ERROR refcount block %" PRIu64 " is not "
                               "cluster aligned; refcount table entry "
                               "corrupted", i);
            res->corruptions++;
            *rebuild = true;
            continue;
        }
        if (cluster >= c->imrt_entries) {
            bool repair = c->fix & BLOCK_FIX_ERRORS;

            res->corruptions++;
            block_check_report(res, "%s refcount block %" PRIu64 " is "
                               "outside image",
                               repair ? "Repairing" : "ERROR", i);
            if (repair) {
                if (grow_for_refblock_co(c, offset, cluster, &ret)) {
                    res->corruptions--;
                    res->corruptions_fixed++;
                    ret = qcow2c_inc_refcounts(c, offset, c->cluster_size);
                    if (ret < 0) {
                        return ret;
                    }
                    continue;
                }
                if (ret < 0) {
                    return ret;
                }
                *rebuild = true;
            }
            continue;
        }
        if (offset != 0) {
            ret = qcow2c_inc_refcounts(c, offset, c->cluster_size);
            if (ret < 0) {
                return ret;
            }
            if (qcow2c_imrt_get(c, cluster) != 1) {
                block_check_report(res, "ERROR refcount block %" PRIu64
                                   " refcount=%" PRIu64, i,
                                   qcow2c_imrt_get(c, cluster));
                res->corruptions++;
                *rebuild = true;
            }
        }
    }
    return 0;
}

static int calculate_refcounts_co(Qcow2Check *c, bool *rebuild)
{
    BlockCheckResult *res = c->res;
    int ret;

    /* header */
    ret = qcow2c_inc_refcounts(c, 0, c->cluster_size);
    if (ret < 0) {
        return ret;
    }
    ret = check_l1_co(c, c->l1_offset, c->l1_size, true);
    if (ret < 0) {
        return ret;
    }
    if (c->has_data_file && c->nb_snapshots) {
        block_check_report(res, "ERROR %u snapshots in image with data file",
                           c->nb_snapshots);
        res->corruptions++;
    }
    for (uint32_t i = 0; i < c->nb_snapshots; i++) {
        Qcow2CheckSnap *sn = &c->snaps[i];

        if (qcow2c_offset_into_cluster(c, sn->l1_offset)) {
            block_check_report(res, "ERROR snapshot %s (%s) l1_offset=%#"
                               PRIx64 ": L1 table is not cluster aligned; "
                               "snapshot table entry corrupted",
                               sn->id, sn->name, sn->l1_offset);
            res->corruptions++;
            continue;
        }
        if (sn->l1_size > QCOW2_MAX_L1_BYTES / 8) {
            block_check_report(res, "ERROR snapshot %s (%s) l1_size=%#" PRIx32
                               ": L1 table is too large; snapshot table "
                               "entry corrupted",
                               sn->id, sn->name, sn->l1_size);
            res->corruptions++;
            continue;
        }
        ret = check_l1_co(c, sn->l1_offset, sn->l1_size, false);
        if (ret < 0) {
            return ret;
        }
    }
    ret = qcow2c_inc_refcounts(c, c->snapshots_offset, c->snapshots_size);
    if (ret < 0) {
        return ret;
    }
    ret = qcow2c_inc_refcounts(c, c->reftable_offset,
                               c->reftable_entries * 8);
    if (ret < 0) {
        return ret;
    }
    if (c->h.crypt_method == QCOW2_CRYPT_LUKS && c->h.has_crypto_ext) {
        ret = qcow2c_inc_refcounts(c, c->h.crypto_header_offset,
                                   c->h.crypto_header_length);
        if (ret < 0) {
            return ret;
        }
    }
    ret = qcow2c_check_bitmaps_co(c);
    if (ret < 0) {
        return ret;
    }
    return check_refblocks_co(c, rebuild);
}

/*
 * Compares stored and counted refcounts of every cluster; repairs what
 * fix allows (in the stored refblocks).  *highest: last used cluster.
 */
static void compare_refcounts_co(Qcow2Check *c, unsigned fix, bool *rebuild,
                                 int64_t *highest)
{
    BlockCheckResult *res = c->res;

    *highest = 0;
    for (int64_t i = 0; i < c->imrt_entries; i++) {
        uint64_t stored, counted;
        int64_t *num_fixed = NULL;
        int ret = qcow2c_get_refcount_co(c, i, &stored);

        if (ret < 0) {
            block_check_report(res, "Can't get refcount for cluster %" PRId64
                               ": %s", i, g_strerror(-ret));
            res->check_errors++;
            continue;
        }
        counted = qcow2c_imrt_get(c, i);
        if (stored > 0 || counted > 0) {
            *highest = i;
        }
        if (stored == counted) {
            continue;
        }
        if (stored == 0) {
            *rebuild = true;
        } else if (stored > counted && (fix & BLOCK_FIX_LEAKS)) {
            num_fixed = &res->leaks_fixed;
        } else if (stored < counted && (fix & BLOCK_FIX_ERRORS)) {
            num_fixed = &res->corruptions_fixed;
        }
        block_check_report(res, "%s cluster %" PRId64 " refcount=%" PRIu64
                           " reference=%" PRIu64,
                           num_fixed ? "Repairing"
                           : stored < counted ? "ERROR"
                                              : "Leaked",
                           i, stored, counted);
        if (num_fixed && qcow2c_set_refcount_co(c, i, counted) >= 0) {
            (*num_fixed)++;
            continue;
        }
        if (stored < counted) {
            res->corruptions++;
        } else {
            res->leaks++;
        }
    }
}

/* Checks (and with leave, repairs) OFLAG_COPIED in the active tables. */
static int check_oflag_copied_co(Qcow2Check *c, unsigned fix)
{
    BlockCheckResult *res = c->res;
    g_autofree uint8_t *l2 = g_try_malloc(c->cluster_size);
    bool repair;

    if (!l2) {
        res->check_errors++;
        return -ENOMEM;
    }
    if (fix & BLOCK_FIX_ERRORS) {
        repair = true;
    } else if (fix & BLOCK_FIX_LEAKS) {
        /* Only safe when the refcounts are known to be right now. */
        repair = !res->check_errors && !res->corruptions && !res->leaks;
    } else {
        repair = false;
    }

    for (uint32_t i = 0; i < c->l1_size; i++) {
        uint64_t l1_entry = c->l1[i];
        uint64_t l2_offset = l1_entry & QCOW2_L1E_OFFSET_MASK;
        uint64_t refcount;
        int dirty = 0;
        int ret;

        if (!l2_offset) {
            continue;
        }
        ret = qcow2c_get_refcount_co(c, (int64_t)(l2_offset >> c->cluster_bits),
                                     &refcount);
        if (ret < 0) {
            continue;
        }
        if ((refcount == 1) != ((l1_entry & QCOW2_OFLAG_COPIED) != 0)) {
            res->corruptions++;
            block_check_report(res, "%s OFLAG_COPIED L2 cluster: l1_index=%u "
                               "l1_entry=%" PRIx64 " refcount=%" PRIu64,
                               repair ? "Repairing" : "ERROR", i, l1_entry,
                               refcount);
            if (repair) {
                uint8_t buf[8];

                c->l1[i] = refcount == 1 ? l1_entry | QCOW2_OFLAG_COPIED
                                         : l1_entry & ~QCOW2_OFLAG_COPIED;
                qcow2_put_be64(buf, c->l1[i]);
                ret = block_pwrite_co(c->file,
                                      (int64_t)(c->l1_offset + 8ull * i), 8,
                                      buf, 0);
                if (ret < 0) {
                    res->check_errors++;
                    return ret;
                }
                res->corruptions--;
                res->corruptions_fixed++;
            }
        }

        ret = block_pread_co(c->file, (int64_t)l2_offset,
                             (int64_t)c->cluster_size, l2, 0);
        if (ret < 0) {
            block_check_report(res, "ERROR: Could not read L2 table: %s",
                               g_strerror(-ret));
            res->check_errors++;
            return ret;
        }
        for (uint32_t j = 0; j < c->l2_entries; j++) {
            uint8_t *p = l2 + (size_t)j * c->l2_entry_bytes;
            uint64_t entry = qcow2_be64(p);
            ClusterType type = cluster_type(c, entry);

            if (type != CT_NORMAL && type != CT_ZERO_ALLOC) {
                continue;
            }
            if (c->has_data_file) {
                refcount = 1;
            } else if (qcow2c_get_refcount_co(
                           c,
                           (int64_t)((entry & QCOW2_L2E_OFFSET_MASK) >>
                                     c->cluster_bits),
                           &refcount) < 0) {
                continue;
            }
            if ((refcount == 1) != ((entry & QCOW2_OFLAG_COPIED) != 0)) {
                res->corruptions++;
                block_check_report(res, "%s OFLAG_COPIED data cluster: "
                                   "l2_entry=%" PRIx64 " refcount=%" PRIu64,
                                   repair ? "Repairing" : "ERROR", entry,
                                   refcount);
                if (repair) {
                    qcow2_put_be64(p, refcount == 1
                                          ? entry | QCOW2_OFLAG_COPIED
                                          : entry & ~QCOW2_OFLAG_COPIED);
                    dirty++;
                }
            }
        }
        if (dirty > 0) {
            ret = block_pwrite_co(c->file, (int64_t)l2_offset,
                                  (int64_t)c->cluster_size, l2, 0);
            if (ret < 0) {
                block_check_report(res, "ERROR: Could not write L2 table: %s",
                                   g_strerror(-ret));
                res->check_errors++;
                return ret;
            }
            res->corruptions -= dirty;
            res->corruptions_fixed += dirty;
        }
    }
    return 0;
}

/* The refcount part of the check (QEMU's qcow2_check_refcounts). */
static int check_refcounts_co(Qcow2Check *c)
{
    BlockCheckResult *res = c->res;
    BlockCheckResult pre_compare;
    int64_t nb_clusters = qcow2c_size_to_clusters(c, (uint64_t)c->file_size);
    int64_t highest = 0;
    bool rebuild = false;
    int ret;

    if (nb_clusters > INT32_MAX) {
        res->check_errors++;
        return -EFBIG;
    }
    res->total_clusters =
        qcow2c_size_to_clusters(c, c->h.size / 512 * 512);
    ret = qcow2c_imrt_resize(c, nb_clusters);
    if (ret < 0) {
        res->check_errors++;
        return ret;
    }
    ret = calculate_refcounts_co(c, &rebuild);
    if (ret < 0) {
        return ret;
    }

    pre_compare = *res;
    compare_refcounts_co(c, 0, &rebuild, &highest);

    if (rebuild && (c->fix & BLOCK_FIX_ERRORS)) {
        BlockCheckResult old = *res;
        unsigned old_fix = c->fix;
        int64_t fresh_leaks = 0;
        Error *err = NULL;

        block_check_report(res, "Rebuilding refcount structure");
        ret = qcow2c_rebuild_refcounts_co(c, &err);
        if (ret < 0) {
            block_check_report(res, "%s: %s", error_get_progname(),
                               error_get_pretty(err));
            error_free(err);
            return ret;
        }
        res->corruptions = 0;
        res->leaks = 0;
        /* The new structures may lie past the old end of the file. */
        c->file_size = block_getlength_co(c->file->node);
        if (c->file_size < 0) {
            res->check_errors++;
            return (int)c->file_size;
        }
        /* The old structures are unreferenced now: count afresh. */
        rebuild = false;
        memset(c->imrt, 0, (size_t)((((uint64_t)c->imrt_entries
                                      << c->refcount_order) + 7) / 8));
        c->fix = 0;
        ret = calculate_refcounts_co(c, &rebuild);
        c->fix = old_fix;
        if (ret < 0) {
            return ret;
        }
        if (c->fix & BLOCK_FIX_LEAKS) {
            BlockCheckResult saved = *res;

            /* Only leaks the rebuild itself left behind count. */
            *res = (BlockCheckResult){ .log = saved.log };
            compare_refcounts_co(c, BLOCK_FIX_LEAKS, &rebuild, &highest);
            if (rebuild) {
                block_check_report(res, "ERROR rebuilt refcount structure "
                                   "is still broken");
            }
            fresh_leaks = res->leaks;
            *res = saved;
        }
        if (res->corruptions < old.corruptions) {
            res->corruptions_fixed += old.corruptions - res->corruptions;
        }
        if (res->leaks < old.leaks) {
            res->leaks_fixed += old.leaks - res->leaks;
        }
        res->leaks += fresh_leaks;
    } else if (c->fix) {
        if (rebuild) {
            block_check_report(res, "ERROR need to rebuild refcount "
                               "structures");
            res->check_errors++;
            return -EIO;
        }
        if (res->leaks || res->corruptions) {
            *res = pre_compare;
            compare_refcounts_co(c, c->fix, &rebuild, &highest);
        }
    }

    ret = check_oflag_copied_co(c, c->fix);
    if (ret < 0) {
        return ret;
    }
    res->image_end_offset = (highest + 1) * (int64_t)c->cluster_size;
    return 0;
}

/* Clears the dirty and corrupt bits after a successful repair. */
static int mark_clean_co(Qcow2Check *c)
{
    uint64_t bits = QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT;
    uint8_t buf[8];
    int ret;

    if (c->h.version < 3 || !(c->h.incompatible_features & bits)) {
        return 0;
    }
    ret = block_flush_co(c->file->node);
    if (ret < 0) {
        return ret;
    }
    c->h.incompatible_features &= ~bits;
    qcow2_put_be64(buf, c->h.incompatible_features);
    ret = block_pwrite_co(c->file, 72, 8, buf, 0);
    if (ret < 0) {
        return ret;
    }
    return block_flush_co(c->file->node);
}

static void check_free(Qcow2Check *c)
{
    qcow2c_cache_clear(c);
    qcow2c_free_snapshots(c);
    g_free(c->reftable);
    g_free(c->l1);
    g_free(c->imrt);
    qcow2_header_free(&c->h);
}

int qcow2_check_child_co(BlockChild *file, BlockCheckResult *res,
                         unsigned fix, Error **errp)
{
    Qcow2Check c = { .file = file, .fix = fix };
    BlockCheckResult snap_res = { .log = res->log };
    BlockCheckResult ref_res = { .log = res->log };
    int ret;

    *res = (BlockCheckResult){ .log = res->log };
    ret = load_image_co(&c, errp);
    if (ret < 0) {
        goto out;
    }

    c.res = &snap_res;
    ret = qcow2c_read_snapshots_co(&c);
    if (ret < 0) {
        add_result(res, &snap_res, false);
        goto out;
    }

    c.res = &ref_res;
    ret = check_refcounts_co(&c);
    add_result(res, &ref_res, true);
    add_result(res, &snap_res, false);
    if (ret < 0) {
        goto out;
    }
    if (fix && res->check_errors == 0 && res->corruptions == 0) {
        ret = mark_clean_co(&c);
    }
    if (fix) {
        int r = block_flush_co(file->node);
        ret = ret < 0 ? ret : r;
    }

out:
    check_free(&c);
    return ret;
}

int qcow2_check_file_co(BlockNode *file, BlockCheckResult *res,
                        unsigned fix, Error **errp)
{
    BlockChild *best = NULL;

    /* Use the parent edge with the most permissions. */
    for (guint i = 0; i < file->parents->len; i++) {
        BlockChild *edge = g_ptr_array_index(file->parents, i);
        if (!best || __builtin_popcount(edge->perm) >
                         __builtin_popcount(best->perm)) {
            best = edge;
        }
    }
    if (!best) {
        error_setg(errp, "qcow2 check needs an edge to the image file");
        return -EINVAL;
    }
    return qcow2_check_child_co(best, res, fix, errp);
}
