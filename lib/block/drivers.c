/*
 * The block driver registry: one explicit array, no constructors.
 */
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

extern const BlockDriver block_driver_file;
extern const BlockDriver block_driver_host_device;
extern const BlockDriver block_driver_raw;
extern const BlockDriver block_driver_qcow2;
extern const BlockDriver block_driver_null_co;
extern const BlockDriver block_driver_null_aio;
extern const BlockDriver block_driver_nbd;
extern const BlockDriver block_driver_nbd_tcp;
extern const BlockDriver block_driver_nbd_unix;

/*
 * Registration order is probing order for equal scores; raw probes with
 * the lowest score so any real format wins.
 */
const BlockDriver *const block_drivers[] = {
    &block_driver_file,
    &block_driver_host_device,
    &block_driver_null_co,
    &block_driver_null_aio,
    &block_driver_nbd,
    &block_driver_nbd_tcp,
    &block_driver_nbd_unix,
    &block_driver_qcow2,
    &block_driver_raw,
    NULL,
};

int block_driver_count(void)
{
    int n = 0;
    while (block_drivers[n]) {
        n++;
    }
    return n;
}

const BlockDriver *block_driver_get(int i)
{
    if (i < 0 || i >= block_driver_count()) {
        return NULL;
    }
    return block_drivers[i];
}

const BlockDriver *block_driver_find(const char *name)
{
    for (int i = 0; block_drivers[i]; i++) {
        if (strcmp(block_drivers[i]->format_name, name) == 0) {
            return block_drivers[i];
        }
    }
    return NULL;
}

const char *block_driver_get_name(const BlockDriver *drv)
{
    return drv->format_name;
}

bool block_driver_is_protocol(const BlockDriver *drv)
{
    return drv->is_protocol;
}

bool block_driver_can_create(const BlockDriver *drv)
{
    return drv->create_co != NULL;
}

const BlockOptDesc *block_driver_get_create_opts(const BlockDriver *drv)
{
    return drv->create_opts;
}

/*
 * Length of a "proto:" prefix: the characters before the first ':' when
 * no '/' or '\\' comes before it (QEMU's rule).  0 if none.
 */
static size_t protocol_prefix_len(const char *filename)
{
    size_t len = strcspn(filename, ":/\\");

    return filename[len] == ':' ? len : 0;
}

const BlockDriver *block_driver_find_protocol(const char *filename,
                                              Error **errp)
{
    const BlockDriver *best = NULL;
    int best_score = 0;
    size_t len;

    /*
     * Host devices win even over a prefix, so that device paths with
     * colons keep working (QEMU does the same).
     */
    for (int i = 0; block_drivers[i]; i++) {
        const BlockDriver *drv = block_drivers[i];
        if (drv->probe_device) {
            int score = drv->probe_device(filename);
            if (score > best_score) {
                best = drv;
                best_score = score;
            }
        }
    }
    if (best) {
        return best;
    }
    len = protocol_prefix_len(filename);
    if (len == 0) {
        return &block_driver_file;
    }
    for (int i = 0; block_drivers[i]; i++) {
        const BlockDriver *drv = block_drivers[i];
        if (drv->protocol_name && strlen(drv->protocol_name) == len &&
            strncmp(drv->protocol_name, filename, len) == 0) {
            return drv;
        }
    }
    error_setg(errp, "Unknown protocol '%.*s'", (int)len, filename);
    return NULL;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *block_driver_list_names(void)
{
    GPtrArray *names = g_ptr_array_new();
    GString *out = g_string_new(NULL);

    for (int i = 0; block_drivers[i]; i++) {
        g_ptr_array_add(names, (gpointer)block_drivers[i]->format_name);
    }
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);

        /* One name may have several entries (nbd, nbd+tcp, nbd+unix). */
        if (i && strcmp(name, g_ptr_array_index(names, i - 1)) == 0) {
            continue;
        }
        if (out->len) {
            g_string_append_c(out, ' ');
        }
        g_string_append(out, name);
    }
    g_ptr_array_free(names, true);
    return g_string_free(out, false);
}
