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
 *    "=" ("qcow2,file.filename=x" with implied key "driver"; that first value
 *    ends at the first ',' or '=', with no ",," escape), a repeated key
 *    takes the last value (as QEMU 7.2 does), mixing a key with dotted
 *    sub-keys ("a=1,a.b=2") is an error, "help" / "?" asks for help.
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
    QX_OPTS_KEYVAL,    /* nested, strict */
    QX_OPTS_FLAT,      /* QemuOpts-like */
    /*
     * QX_OPTS_FLAT plus QEMU's warning for bare "key" / "nokey" (printed
     * with warn_report(): "short-form boolean option 'key' deprecated" and
     * "Please use key=on instead"), as -drive, -chardev and -netdev give.
     */
    QX_OPTS_FLAT_WARN,
} QxOptsSyntax;

/*
 * Parses text into a new dictionary.  implied_key may be NULL.  If help is
 * non-NULL, *help is set to whether a "help" or "?" element was given (also
 * as the implied key's value), which is not stored; if NULL, keyval fails
 * with "Help is not available for this option" and flat stores "help=on",
 * as QEMU does.  Keyval returns NULL with errp set on syntax error, with
 * QEMU's messages ("Invalid parameter 'x'", "Expected '=' after parameter
 * 'x'", "Parameters 'a.*' used inconsistently", "Parameter 'a.1' missing",
 * "Parameter 'x' is too long"); the flat syntax accepts any text.
 * Leaves are JSON strings; keyval lists are JSON arrays.
 */
json_object *qx_opts_parse(const char *text, QxOptsSyntax syntax,
                           const char *implied_key, bool *help,
                           Error **errp);

/*
 * Parses "{...}" as JSON, otherwise as keyval; the form every
 * --blockdev-like option accepts.  The result is always a dictionary; the
 * JSON form keeps nesting and types, and fails with the JSON messages
 * listed at qx_opts_parse_json_filename() (without its prefix).  Only a
 * '{' as the very first character selects JSON, as in QEMU.
 */
json_object *qx_opts_parse_keyval_or_json(const char *text,
                                          const char *implied_key,
                                          bool *help, Error **errp);

/* True if filename starts with "json:". */
bool qx_opts_is_json_filename(const char *filename);
/*
 * Parses a "json:{...}" pseudo-filename into a flat dictionary, as QEMU's
 * block layer sees it: nested objects become dotted keys ("file.filename",
 * so "file": {...} and "file.x" keys may be mixed); values keep their JSON
 * types (read them with the qx_opts_take_flat_* functions, which see any
 * scalar as QemuOpts' text, e.g. false as "off").
 * Errors: "Could not parse the JSON options: <JSON error>" and "Invalid
 * JSON object given" (not a dictionary).
 *
 * JSON text is parsed by json-c in strict mode; errors map to QEMU's
 * "JSON parse error, ..." / "Expecting a JSON value" / "Expecting at most
 * one JSON value" / "JSON nesting depth limit exceeded" (over 1024).  Known
 * differences: a repeated key takes the last value (QEMU: "duplicate
 * key"), lone surrogate escapes become U+FFFD, and integers beyond 64 bits
 * saturate.
 */
json_object *qx_opts_parse_json_filename(const char *filename, Error **errp);

/*
 * Flattens nested dictionaries into dotted keys ({"file":{"driver":"x"}} ->
 * {"file.driver":"x"}) and back (crumple).  Lists use numeric components.
 * Both return new trees (scalars may be shared by reference count).  Empty
 * dictionaries and arrays stay as values.  Flatten: if two paths spell the
 * same key, the later wins.  Crumple splits every key at every '.' (an
 * empty component is "Invalid parameter 'k'"), builds lists from
 * all-numeric keys like keyval, and fails on conflicts ("a=1,a.b=2":
 * "Parameters 'a.*' used inconsistently"; gaps: "Parameter 'a.1' missing").
 */
json_object *qx_opts_flatten(json_object *dict);
json_object *qx_opts_crumple(json_object *flat, Error **errp);

/*
 * Merges src's keys into dst (recursively for dictionaries); keys already in
 * dst are kept unless overwrite.  Values are deep-copied.
 */
void qx_opts_merge(json_object *dst, json_object *src, bool overwrite);

/*
 * Typed access.  The "take" forms remove the key from dict after reading,
 * so that whatever is left afterwards was not understood by anyone and can
 * be reported with qx_opts_check_empty().  key is the literal key or, if
 * absent, a dotted path into nested dictionaries ("file.size"); a
 * dictionary emptied by a take is removed too.  All return false with errp
 * set on a value of the wrong type (the key stays), with QAPI's messages,
 * naming the key as given:
 *   text:  "Parameter 'x' expects 'on' or 'off'" / "... expects integer" /
 *          "... expects size"
 *   JSON:  "Invalid parameter type for 'x', expected: string|boolean|
 *          integer", "Parameter 'x' expects uint64" (uint, size; a negative
 *          JSON integer wraps, as QEMU accepts)
 *   dotted keys under a scalar ("size.x=1"): "Parameters 'x.*' are
 *          unexpected".
 * Text integers use base 0 ("0x10", "010" is octal).  A JSON string is
 * read as text too (QEMU's JSON form would refuse "1M" for a size; we do
 * not know where a string came from).  A missing key leaves
 * *out untouched and returns true (so preload *out with the default).
 * *present, if non-NULL, says whether the key was there.  take_str stores
 * a new g_malloc'd string and does not free the previous *out.
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
/*
 * QemuOpts' flavour, for -o, -drive and json: filenames: any scalar is read
 * as its text (true/false as "on"/"off", numbers in decimal); null and
 * containers count as absent (they stay for qx_opts_check_empty()), so
 * take_flat_str never fails.  Messages: "Parameter 'x' expects 'on' or
 * 'off'" (bool); "Parameter 'x' expects a number", "Value 'v' is too large
 * for parameter 'x'" (number); "Parameter 'x' expects a non-negative number
 * below 2^64" with a two-line suffix hint, "Value 'v' is out of range for
 * parameter 'x'" (size).
 */
bool qx_opts_take_flat_str(json_object *dict, const char *key, char **out,
                           bool *present, Error **errp);
bool qx_opts_take_flat_bool(json_object *dict, const char *key, bool *out,
                            bool *present, Error **errp);
bool qx_opts_take_flat_number(json_object *dict, const char *key,
                              uint64_t *out, bool *present, Error **errp);
bool qx_opts_take_flat_size(json_object *dict, const char *key,
                            uint64_t *out, bool *present, Error **errp);
/*
 * Removes and returns a sub-dictionary (new reference), or NULL if key is
 * absent or not a dictionary (then it stays).
 */
json_object *qx_opts_take_dict(json_object *dict, const char *key);
/*
 * Removes "prefix.*" keys of a flat dictionary and returns them with the
 * prefix stripped, as a new dictionary (empty if none).  A dictionary
 * value under "prefix" itself is flattened into the result too.
 */
json_object *qx_opts_extract_prefix(json_object *flat, const char *prefix);

/*
 * Read-only getter (same key lookup as the takes); NULL if absent or not a
 * string.  The string is owned by dict.
 */
const char *qx_opts_get_str(json_object *dict, const char *key);

/*
 * Fails with "Invalid parameter 'KEY'" (QemuOpts) or, if what is non-NULL,
 * "WHAT does not support the option 'KEY'" ("Block format 'raw'") for the
 * first key left in dict, named in flattened form ("x.y", "x.0").
 */
bool qx_opts_check_empty(json_object *dict, const char *what, Error **errp);
/* QAPI's form: "Parameter 'KEY' is unexpected" for the first top-level key. */
bool qx_opts_check_unexpected(json_object *dict, Error **errp);

/*
 * Serialises back to flattened keyval text with ",," escaping (for
 * messages, tests); non-string scalars as QemuOpts text, nulls and empty
 * containers omitted.  Returns a g_malloc'd string.
 */
char *qx_opts_to_keyval(json_object *dict);

#endif
