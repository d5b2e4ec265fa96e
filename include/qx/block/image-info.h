/*
 * Image information as qemu-img info (and later QMP query-block) reports
 * it: QEMU's ImageInfo structure as a json-c dict, its human text form and
 * its JSON text form.
 */
#ifndef QX_BLOCK_IMAGE_INFO_H
#define QX_BLOCK_IMAGE_INFO_H

#include <glib.h>
#include <json-c/json.h>

#include "qx/block/block.h"

/*
 * Collects QEMU's ImageInfo members for node: "filename", "format",
 * "virtual-size", "actual-size" (if the driver knows it), "dirty-flag"
 * and "cluster-size" (if the driver has info), "encrypted" (if true),
 * "backing-filename", "full-backing-filename", "backing-filename-format",
 * "format-specific" (driver's get_specific_info).  Returns a new dict.
 */
json_object *block_query_image_info(BlockNode *node, Error **errp);

/*
 * Appends QEMU's human form of one ImageInfo dict ("image: x\n"
 * "file format: raw\n" ...) to out.
 */
void block_image_info_format_human(json_object *info, GString *out);

/*
 * QEMU's --output=json text of an ImageInfo dict or a list of them: pretty
 * printed, keys in QEMU's order, with a final newline.
 */
char *block_image_info_to_json(json_object *info);

#endif
