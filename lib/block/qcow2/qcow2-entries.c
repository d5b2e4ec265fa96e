/*
 * qcow2 table entries: L1, L2, extended L2, compressed cluster descriptors
 * and refcount block entries.  Pure bit manipulation, no I/O.
 */
#include "qcow2-format.h"

uint64_t qcow2_l1_entry_offset(uint64_t entry)
{
    return entry & QCOW2_L1E_OFFSET_MASK;
}

bool qcow2_l1_entry_is_copied(uint64_t entry)
{
    return (entry & QCOW2_OFLAG_COPIED) != 0;
}

bool qcow2_l1_entry_has_reserved_bits(uint64_t entry)
{
    return (entry & QCOW2_L1E_RESERVED_MASK) != 0;
}

uint64_t qcow2_l1_entry_make(uint64_t l2_offset, bool copied)
{
    return (l2_offset & QCOW2_L1E_OFFSET_MASK) |
           (copied ? QCOW2_OFLAG_COPIED : 0);
}

/* Width of the "additional sectors" field of a compressed descriptor. */
static uint32_t csize_bits(uint32_t cluster_bits)
{
    return cluster_bits - 8;
}

static uint32_t csize_shift(uint32_t cluster_bits)
{
    return 62 - csize_bits(cluster_bits);
}

uint64_t qcow2_compressed_encode(uint64_t host_offset, uint64_t nb_sectors,
                                 uint32_t cluster_bits)
{
    uint32_t shift = csize_shift(cluster_bits);
    uint64_t off_mask = (1ull << shift) - 1;
    uint64_t size_mask = (1ull << csize_bits(cluster_bits)) - 1;
    uint64_t extra = nb_sectors ? nb_sectors - 1 : 0;

    return QCOW2_OFLAG_COMPRESSED | (host_offset & off_mask) |
           ((extra & size_mask) << shift);
}

void qcow2_compressed_decode(uint64_t entry, uint32_t cluster_bits,
                             uint64_t *host_offset, uint64_t *nb_sectors)
{
    uint32_t shift = csize_shift(cluster_bits);
    uint64_t off_mask = (1ull << shift) - 1;
    uint64_t size_mask = (1ull << csize_bits(cluster_bits)) - 1;

    *host_offset = entry & off_mask;
    *nb_sectors = ((entry >> shift) & size_mask) + 1;
}

static bool cluster_bits_ok(uint32_t cluster_bits)
{
    return cluster_bits >= QCOW2_MIN_CLUSTER_BITS &&
           cluster_bits <= QCOW2_MAX_CLUSTER_BITS;
}

/* Shared by the normal and extended decoders; zero_flag_valid: v3 normal. */
static bool decode_common(uint64_t entry, uint32_t cluster_bits,
                          bool zero_flag_valid, Qcow2L2Entry *e)
{
    uint64_t cs_mask;
    bool ok = true;

    *e = (Qcow2L2Entry){ 0 };
    if (!cluster_bits_ok(cluster_bits)) {
        e->type = QCOW2_CLUSTER_UNALLOCATED;
        return false;
    }
    cs_mask = (1ull << cluster_bits) - 1;

    if (entry & QCOW2_OFLAG_COMPRESSED) {
        uint64_t sectors;

        e->type = QCOW2_CLUSTER_COMPRESSED;
        qcow2_compressed_decode(entry, cluster_bits, &e->host_offset,
                                &sectors);
        e->compressed_size = sectors * 512;
        /* bit 63 is reserved in compressed descriptors */
        return (entry & QCOW2_OFLAG_COPIED) == 0;
    }

    e->copied = (entry & QCOW2_OFLAG_COPIED) != 0;
    e->host_offset = entry & QCOW2_L2E_OFFSET_MASK;
    if (entry & QCOW2_L2E_RESERVED_MASK) {
        ok = false;
    }
    if (!zero_flag_valid && (entry & QCOW2_OFLAG_ZERO)) {
        ok = false;
    }
    if (e->host_offset & cs_mask) {
        ok = false;
    }
    if (zero_flag_valid && (entry & QCOW2_OFLAG_ZERO)) {
        e->type = e->host_offset ? QCOW2_CLUSTER_ZERO_ALLOC
                                 : QCOW2_CLUSTER_ZERO_PLAIN;
    } else {
        e->type = e->host_offset ? QCOW2_CLUSTER_NORMAL
                                 : QCOW2_CLUSTER_UNALLOCATED;
    }
    return ok;
}

bool qcow2_l2_entry_decode(uint64_t entry, uint32_t cluster_bits,
                           uint32_t version, Qcow2L2Entry *e)
{
    bool ok = decode_common(entry, cluster_bits, version >= 3, e);

    /*
     * v2 has no zero flag: bit 0 is reserved.  A v2 image with it set is
     * reported, but decoded as the cluster type its offset implies.
     */
    return ok;
}

uint64_t qcow2_l2_entry_encode(const Qcow2L2Entry *e, uint32_t cluster_bits)
{
    uint64_t entry = 0;

    switch (e->type) {
    case QCOW2_CLUSTER_COMPRESSED:
        return qcow2_compressed_encode(e->host_offset,
                                       (e->compressed_size + 511) / 512,
                                       cluster_bits);
    case QCOW2_CLUSTER_UNALLOCATED:
        break;
    case QCOW2_CLUSTER_ZERO_PLAIN:
        entry = QCOW2_OFLAG_ZERO;
        break;
    case QCOW2_CLUSTER_ZERO_ALLOC:
        entry = (e->host_offset & QCOW2_L2E_OFFSET_MASK) | QCOW2_OFLAG_ZERO;
        break;
    case QCOW2_CLUSTER_NORMAL:
        entry = e->host_offset & QCOW2_L2E_OFFSET_MASK;
        break;
    }
    if (e->copied && e->type != QCOW2_CLUSTER_UNALLOCATED) {
        entry |= QCOW2_OFLAG_COPIED;
    }
    return entry;
}

bool qcow2_ext_l2_entry_decode(uint64_t entry, uint64_t bitmap,
                               uint32_t cluster_bits, Qcow2L2Entry *e)
{
    bool ok = decode_common(entry, cluster_bits, false, e);

    if (e->type == QCOW2_CLUSTER_COMPRESSED) {
        /* the bitmap of a compressed cluster is reserved */
        return ok && bitmap == 0;
    }
    e->alloc_bitmap = (uint32_t)bitmap;
    e->zero_bitmap = (uint32_t)(bitmap >> 32);
    /* a subcluster cannot be both allocated and zero */
    if (e->alloc_bitmap & e->zero_bitmap) {
        ok = false;
    }
    return ok;
}

void qcow2_ext_l2_entry_encode(const Qcow2L2Entry *e, uint32_t cluster_bits,
                               uint64_t *entry, uint64_t *bitmap)
{
    if (e->type == QCOW2_CLUSTER_COMPRESSED) {
        *entry = qcow2_l2_entry_encode(e, cluster_bits);
        *bitmap = 0;
        return;
    }
    *entry = e->host_offset & QCOW2_L2E_OFFSET_MASK;
    if (e->copied && *entry) {
        *entry |= QCOW2_OFLAG_COPIED;
    }
    *bitmap = ((uint64_t)e->zero_bitmap << 32) | e->alloc_bitmap;
}

uint64_t qcow2_refcount_max(uint32_t refcount_order)
{
    uint32_t bits = 1u << refcount_order;

    return bits >= 64 ? UINT64_MAX : (1ull << bits) - 1;
}

/*
 * Sub-byte widths are packed least significant bits first: with 1-bit
 * refcounts, entry 0 is bit 0 of byte 0 (QEMU 7.2 writes 0x0f for four
 * used clusters).  Wider entries are big-endian.
 */
uint64_t qcow2_refcount_get(const uint8_t *block, uint64_t index,
                            uint32_t refcount_order)
{
    switch (refcount_order) {
    case 0:
    case 1:
    case 2: {
        uint32_t bits = 1u << refcount_order;
        uint32_t per_byte = 8 / bits;
        uint32_t shift = (uint32_t)(index % per_byte) * bits;

        return (block[index / per_byte] >> shift) & ((1u << bits) - 1);
    }
    case 3:
        return block[index];
    case 4:
        return ((uint64_t)block[2 * index] << 8) | block[2 * index + 1];
    case 5:
        return qcow2_be32(block + 4 * index);
    default:
        return qcow2_be64(block + 8 * index);
    }
}

void qcow2_refcount_set(uint8_t *block, uint64_t index,
                        uint32_t refcount_order, uint64_t value)
{
    switch (refcount_order) {
    case 0:
    case 1:
    case 2: {
        uint32_t bits = 1u << refcount_order;
        uint32_t per_byte = 8 / bits;
        uint32_t shift = (uint32_t)(index % per_byte) * bits;
        uint8_t mask = (uint8_t)(((1u << bits) - 1) << shift);
        uint8_t *p = &block[index / per_byte];

        *p = (uint8_t)((*p & ~mask) | ((value << shift) & mask));
        break;
    }
    case 3:
        block[index] = (uint8_t)value;
        break;
    case 4:
        block[2 * index] = (uint8_t)(value >> 8);
        block[2 * index + 1] = (uint8_t)value;
        break;
    case 5:
        qcow2_put_be32(block + 4 * index, (uint32_t)value);
        break;
    default:
        qcow2_put_be64(block + 8 * index, value);
        break;
    }
}
