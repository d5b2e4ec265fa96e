/*
 * QEMU 7.2 prints dictionaries (json: filenames, qemu-img info JSON, QMP
 * replies) in the iteration order of its QDict: a 512-bucket hash table
 * walked bucket by bucket, newest entry first within a bucket.  To print
 * the same bytes we sort keys by the same bucket function.  The bucket of
 * a key is a fact of the output format, so it is reproduced here: a
 * gdbm-style string hash seeded with the key length, scrambled by a
 * linear congruential step, modulo 512.
 */
#include <string.h>

#include "internal.h"

#define QDICT_BUCKETS 512

unsigned block_qdict_bucket(const char *key)
{
    size_t len = strlen(key);
    uint32_t value = (uint32_t)(0x238F13AFu * (uint32_t)len);

    for (size_t i = 0; i < len; i++) {
        value += (uint32_t)(unsigned char)key[i] << ((i * 5) % 24);
    }
    value = 1103515243u * value + 12345u;
    return value % QDICT_BUCKETS;
}

typedef struct KeyEntry {
    const char *key;
    json_object *val;
    unsigned bucket;
    unsigned index; /* insertion order */
} KeyEntry;

static int compare_entries(const void *a, const void *b)
{
    const KeyEntry *ea = a;
    const KeyEntry *eb = b;

    if (ea->bucket != eb->bucket) {
        return ea->bucket < eb->bucket ? -1 : 1;
    }
    /* Within a bucket QEMU's list has the newest entry first. */
    return ea->index > eb->index ? -1 : (ea->index < eb->index ? 1 : 0);
}

json_object *block_qdict_order(json_object *obj)
{
    if (json_object_is_type(obj, json_type_array)) {
        size_t n = json_object_array_length(obj);
        json_object *arr = json_object_new_array_ext((int)n);
        for (size_t i = 0; i < n; i++) {
            json_object_array_add(
                arr, block_qdict_order(json_object_array_get_idx(obj, i)));
        }
        return arr;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        return json_object_get(obj);
    }

    int n = json_object_object_length(obj);
    KeyEntry *entries = g_new(KeyEntry, n > 0 ? n : 1);
    json_object *out = json_object_new_object();
    unsigned i = 0;

    json_object_object_foreach(obj, key, val)
    {
        entries[i].key = key;
        entries[i].val = val;
        entries[i].bucket = block_qdict_bucket(key);
        entries[i].index = i;
        i++;
    }
    qsort(entries, i, sizeof(KeyEntry), compare_entries);
    for (unsigned j = 0; j < i; j++) {
        json_object_object_add(out, entries[j].key,
                               block_qdict_order(entries[j].val));
    }
    g_free(entries);
    return out;
}
