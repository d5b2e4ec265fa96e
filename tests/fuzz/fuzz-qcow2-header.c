/*
 * libFuzzer target: arbitrary bytes as the first cluster of a qcow2 image
 * (header parser and serialiser) and as L1/L2/refcount table contents
 * (entry decoders).  Nothing may crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../lib/block/qcow2/qcow2-format.h"

static void fuzz_entries(const uint8_t *d, size_t n)
{
    uint32_t cb = 9 + (n ? d[0] % 13 : 0);
    uint8_t block[64];

    for (size_t i = 0; i + 16 <= n; i += 16) {
        uint64_t a = qcow2_be64(d + i), b = qcow2_be64(d + i + 8);
        Qcow2L2Entry e;
        uint64_t o, s, w0, w1;

        (void)qcow2_l1_entry_offset(a);
        (void)qcow2_l1_entry_has_reserved_bits(a);
        if (qcow2_l2_entry_decode(a, cb, 3, &e)) {
            (void)qcow2_l2_entry_encode(&e, cb);
        }
        (void)qcow2_l2_entry_decode(a, cb, 2, &e);
        if (qcow2_ext_l2_entry_decode(a, b, cb, &e)) {
            qcow2_ext_l2_entry_encode(&e, cb, &w0, &w1);
        }
        qcow2_compressed_decode(a, cb, &o, &s);
    }
    memset(block, 0, sizeof(block));
    for (size_t i = 0; i < n && i < 64; i++) {
        uint32_t order = d[i] % 7;
        uint64_t idx = d[i] % (sizeof(block) * 8 >> order);

        qcow2_refcount_set(block, idx, order, d[i]);
        (void)qcow2_refcount_get(block, idx, order);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    Qcow2Header h;

    if (qcow2_header_parse(d, n, &h, NULL)) {
        size_t cs = (size_t)1 << h.cluster_bits;
        uint8_t *buf = g_malloc(cs);

        (void)qcow2_header_serialize(&h, buf, cs, NULL);
        g_free(buf);
        qcow2_header_free(&h);
    }
    fuzz_entries(d, n);
    return 0;
}
