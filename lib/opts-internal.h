/*
 * Private helpers shared by lib/opts-*.c.  Tools never include this.
 */
#ifndef QX_OPTS_INTERNAL_H
#define QX_OPTS_INTERNAL_H

#include <stdbool.h>
#include <json-c/json.h>

#include "qx/util/error.h"

/* QEMU's nesting limit for JSON text; also bounds our recursion. */
#define OPTS_MAX_DEPTH 1024

/*
 * Dotted-path tree building, shared by the keyval parser and crumple.
 *
 * opts_tree_descend() returns the dictionary stored under @frag in @cur,
 * creating it if absent; a scalar already there is the conflict QEMU
 * reports as "Parameters 'PATH.*' used inconsistently", where PATH is
 * @path_len bytes of @path.  opts_tree_put() stores a leaf, replacing a
 * previous leaf (last wins) but never a dictionary.  @leaf is consumed
 * even on failure.
 */
json_object *opts_tree_descend(json_object *cur, const char *frag,
                               const char *path, size_t path_len,
                               Error **errp);
bool opts_tree_put(json_object *cur, const char *frag, json_object *leaf,
                   const char *path, size_t path_len, Error **errp);

/*
 * Turns every dictionary below @root whose keys are all list indexes
 * ("0", "1", ... as keyval understands them) into an array, in place.
 * Fails on a dictionary mixing indexes and names, or on a gap.  The root
 * itself stays a dictionary.
 */
bool opts_tree_listify(json_object *root, Error **errp);

/*
 * The index a key fragment denotes: >= 0 if it starts with a digit and
 * is all digits (huge values saturate at INT_MAX), else -1.
 */
int opts_key_to_index(const char *frag);

/* Parses JSON text (one value, QEMU's error messages).  NULL on error. */
json_object *opts_json_parse(const char *text, Error **errp);

/* Deep copy; NULL stands for JSON null on both sides. */
json_object *opts_copy(json_object *obj);

/*
 * Text form of a scalar as QemuOpts sees it: strings as-is, booleans
 * "on"/"off", numbers in decimal (doubles "%.17g").  g_malloc'd; NULL for
 * null, dictionaries and arrays.
 */
char *opts_scalar_to_str(json_object *obj);

#endif
