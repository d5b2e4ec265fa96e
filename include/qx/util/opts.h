/*
 * Option parsing shared by every tool.
 *
 * Parsed options are json-c objects ("option trees"): dictionaries whose
 * leaves are strings when they came from key=value text and typed JSON
 * values when they came from JSON text.  The typed getters accept both
 * ("on"/"off"/"true"/"false" or a JSON bool; "64k" or a JSON integer).
 *
 * Two text syntaxes, as QEMU has:
 *  - keyval (--blockdev, -device, --object, --export, --nbd-server):
 *    "k1=v1,k2.sub=v2", ",," escapes a comma, dotted keys build nested
 *    dictionaries, keys that are all digits under one parent build a list
 *    ("a.0=x,a.1=y"), an implied key names the first value if it has no
 *    "=" ("qcow2,file.filename=x" with implied key "driver"), repeating a
 *    key is an error, "help" / "?" asks for help.
 *  - flat QemuOpts (-drive, -o, -machine, -chardev, -netdev):
 *    same escaping and implied first key, but keys are taken literally
 *    (dots are part of the key), the last of repeated keys wins, a bare
 *    "key" means "key=on" and a bare "nokey" means "key=off".
 * and JSON ("{...}" for --blockdev and friends, "json:{...}" filenames).
 */
#ifndef QX_UTIL_OPTS_H
#define QX_UTIL_OPTS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "qx/util/error.h"

typedef enum {
    QX_OPTS_KEYVAL, /* nested, strict */
    QX_OPTS_FLAT,   /* QemuOpts-like */
} QxOptsSyntax;

/*
 * Parses text into a new dictionary.  implied_key may be NULL.  If help is
 * non-NULL, a "help" or "?" element sets *help and is not stored; if NULL,
 * such an element is an error.  Returns NULL with errp set on syntax error,
 * with QEMU's messages ("Invalid parameter 'x'", "Expected '=' after
 * parameter 'x'", "Parameter 'x' is missing"...).
 */
json_object *qx_opts_parse(const char *text, QxOptsSyntax syntax,
                           const char *implied_key, bool *help,
                           Error **errp);

/*
 * Parses "{...}" as JSON, otherwise as keyval; the form every
 * --blockdev-like option accepts.  The result is always a dictionary.
 */
json_object *qx_opts_parse_keyval_or_json(const char *text,
                                          const char *implied_key,
                                          bool *help, Error **errp);

/* True if filename starts with "json:". */
bool qx_opts_is_json_filename(const char *filename);
/* Parses a "json:{...}" pseudo-filename into a dictionary. */
json_object *qx_opts_parse_json_filename(const char *filename, Error **errp);

/*
 * Flattens nested dictionaries into dotted keys ({"file":{"driver":"x"}} ->
 * {"file.driver":"x"}) and back (crumple).  Lists use numeric components.
 * qx_opts_crumple fails on conflicts ("a=1,a.b=2").
 */
json_object *qx_opts_flatten(json_object *dict);
json_object *qx_opts_crumple(json_object *flat, Error **errp);

/*
 * Merges src's keys into dst (recursively for dictionaries); keys already in
 * dst are kept unless overwrite.
 */
void qx_opts_merge(json_object *dst, json_object *src, bool overwrite);

/*
 * Typed access.  The "take" forms remove the key from dict after reading,
 * so that whatever is left afterwards was not understood by anyone and can
 * be reported with qx_opts_check_empty().  All return false with errp set on
 * a value of the wrong type, naming the key the way QEMU does
 * ("Parameter 'x' expects a size"); a missing key leaves *out untouched and
 * returns true (so preload *out with the default).  *present, if non-NULL,
 * says whether the key was there.
 */
bool qx_opts_take_str(json_object *dict, const char *key, char **out,
                      bool *present, Error **errp);
bool qx_opts_take_bool(json_object *dict, const char *key, bool *out,
                       bool *present, Error **errp);
bool qx_opts_take_int(json_object *dict, const char *key, int64_t *out,
                      bool *present, Error **errp);
bool qx_opts_take_uint(json_object *dict, const char *key, uint64_t *out,
                       bool *present, Error **errp);
bool qx_opts_take_size(json_object *dict, const char *key, uint64_t *out,
                       bool *present, Error **errp);
/* Removes and returns a sub-dictionary (new reference) or NULL. */
json_object *qx_opts_take_dict(json_object *dict, const char *key);
/*
 * Removes "prefix.*" keys of a flat dictionary and returns them with the
 * prefix stripped, as a new dictionary (empty if none).
 */
json_object *qx_opts_extract_prefix(json_object *flat, const char *prefix);

/* Read-only getter; NULL if absent. The string is owned by dict. */
const char *qx_opts_get_str(json_object *dict, const char *key);

/*
 * Fails with "Invalid parameter 'KEY'" (or "what does not support the
 * option 'KEY'" if what is non-NULL) for the first key left in dict.
 */
bool qx_opts_check_empty(json_object *dict, const char *what, Error **errp);

/* Serialises back to keyval text with ",," escaping (for messages, tests). */
char *qx_opts_to_keyval(json_object *dict);

#endif
