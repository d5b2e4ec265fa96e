/*
 * qemu-img check [--object objectdef] [--image-opts] [-q] [-f fmt]
 *                [--output=ofmt] [-r [leaks | all]] [-T src_cache] [-U]
 *                filename
 *
 * Exit status as QEMU's: 0 clean, 1 check not completed, 2 corruptions,
 * 3 leaks only, 63 the format has no check.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "img-common.h"
#include "qx/block/check.h"

enum {
    OPTION_OUTPUT = 256,
    OPTION_OBJECT,
    OPTION_IMAGE_OPTS,
};

static void print_human(const BlockCheckResult *r, GString *out)
{
    if (r->corruptions == 0 && r->leaks == 0 && r->check_errors == 0) {
        g_string_append(out, "No errors were found on the image.\n");
    } else {
        if (r->corruptions) {
            g_string_append_printf(out, "\n%" PRId64 " errors were found on "
                                   "the image.\nData may be corrupted, or "
                                   "further writes to the image may corrupt "
                                   "it.\n", r->corruptions);
        }
        if (r->leaks) {
            g_string_append_printf(out, "\n%" PRId64 " leaked clusters were "
                                   "found on the image.\nThis means waste of "
                                   "disk space, but no harm to data.\n",
                                   r->leaks);
        }
        if (r->check_errors) {
            g_string_append_printf(out, "\n%" PRId64 " internal errors have "
                                   "occurred during the check.\n",
                                   r->check_errors);
        }
    }
    if (r->total_clusters != 0 && r->allocated_clusters != 0) {
        g_string_append_printf(
            out, "%" PRId64 "/%" PRId64 " = %0.2f%% allocated, %0.2f%% "
            "fragmented, %0.2f%% compressed clusters\n",
            r->allocated_clusters, r->total_clusters,
            r->allocated_clusters * 100.0 / r->total_clusters,
            r->fragmented_clusters * 100.0 / r->allocated_clusters,
            r->compressed_clusters * 100.0 / r->allocated_clusters);
    }
    if (r->image_end_offset) {
        g_string_append_printf(out, "Image end offset: %" PRId64 "\n",
                               r->image_end_offset);
    }
}

/*
 * Runs one check.  Returns 0 when it completed, 63 for "no checks", or 1
 * after printing why it could not run.
 */
static int run_check(BlockBackend *blk, const char *filename,
                     BlockCheckResult *res, unsigned fix)
{
    Error *err = NULL;
    int ret = block_check(blk_node(blk), res, fix, &err);

    if (ret == -ENOTSUP) {
        error_report_err(err);
        return 63;
    }
    if (ret < 0) {
        if (err) {
            /* The image could not even be read as its format. */
            error_prepend(&err, "Could not open '%s': ", filename);
            error_report_err(err);
        } else {
            error_report("Check failed: %s", g_strerror(-ret));
        }
        return 1;
    }
    return 0;
}

int img_check(ImgContext *ctx, int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"format", required_argument, NULL, 'f'},
        {"repair", required_argument, NULL, 'r'},
        {"output", required_argument, NULL, OPTION_OUTPUT},
        {"object", required_argument, NULL, OPTION_OBJECT},
        {"image-opts", no_argument, NULL, OPTION_IMAGE_OPTS},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL;
    const char *output = NULL;
    const char *cache = "writeback";
    const char *filename;
    bool image_opts = false;
    bool force_share = false;
    bool quiet = false;
    bool json = false;
    unsigned fix = 0;
    unsigned flags = BLOCK_OPEN_CHECK;
    BlockCacheMode mode;
    BlockCheckResult res = { 0 };
    BlockBackend *blk;
    GString *out;
    Error *err = NULL;
    int ret;
    int c;

    while ((c = getopt_long(argc, argv, ":hf:r:T:qU", long_options,
                            NULL)) != -1) {
        switch (c) {
        case ':':
            img_missing_argument(argv[optind - 1]);
        case '?':
            img_unrecognized_option(argv[optind - 1]);
        case 'h':
            img_help();
        case 'f':
            fmt = optarg;
            break;
        case 'r':
            flags |= BLOCK_OPEN_RDWR | BLOCK_OPEN_RESIZE;
            if (strcmp(optarg, "leaks") == 0) {
                fix = BLOCK_FIX_LEAKS;
            } else if (strcmp(optarg, "all") == 0) {
                fix = BLOCK_FIX_LEAKS | BLOCK_FIX_ERRORS;
            } else {
                img_error_exit("Unknown option value for -r (expecting "
                               "'leaks' or 'all'): %s", optarg);
            }
            break;
        case OPTION_OUTPUT:
            output = optarg;
            break;
        case 'T':
            cache = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'U':
            force_share = true;
            break;
        case OPTION_OBJECT:
            img_add_object(ctx, optarg);
            break;
        case OPTION_IMAGE_OPTS:
            image_opts = true;
            break;
        }
    }
    if (optind != argc - 1) {
        img_error_exit("Expecting one image file name");
    }
    filename = argv[optind];

    if (output && strcmp(output, "json") == 0) {
        json = true;
    } else if (output && strcmp(output, "human") != 0) {
        error_report("--output must be used with human or json as "
                     "argument.");
        return 1;
    }
    if (!block_cache_mode_parse(cache, &mode, &err)) {
        error_free(err);
        error_report("Invalid source cache option: %s", cache);
        return 1;
    }
    if (image_opts && fmt) {
        error_report("--image-opts and --format are mutually exclusive");
        return 1;
    }
    /*
     * Until a qcow2 driver is registered, qcow2 images open as raw and
     * the raw probe warning would be wrong for them.
     */
    if (block_check_open_driver("qcow2") != NULL &&
        strcmp(block_check_open_driver("qcow2"), "qcow2") != 0) {
        flags |= BLOCK_OPEN_QUIET;
    }
    blk = img_open(ctx, image_opts, filename, block_check_open_driver(fmt),
                   flags, cache, force_share);
    if (!blk) {
        return 1;
    }

    ret = run_check(blk, filename, &res, fix);
    if (ret) {
        blk_unref(blk);
        return ret;
    }
    out = g_string_new(NULL);
    if (res.corruptions_fixed || res.leaks_fixed) {
        int64_t leaks_fixed = res.leaks_fixed;
        int64_t corruptions_fixed = res.corruptions_fixed;

        if (!json) {
            g_string_append_printf(out, "The following inconsistencies were "
                                   "found and repaired:\n\n"
                                   "    %" PRId64 " leaked clusters\n"
                                   "    %" PRId64 " corruptions\n\n"
                                   "Double checking the fixed image now...\n",
                                   leaks_fixed, corruptions_fixed);
        }
        if (!quiet) {
            fputs(out->str, stdout);
            fflush(stdout);
        }
        g_string_truncate(out, 0);
        ret = run_check(blk, filename, &res, 0);
        if (ret) {
            g_string_free(out, true);
            blk_unref(blk);
            return ret;
        }
        res.leaks_fixed = leaks_fixed;
        res.corruptions_fixed = corruptions_fixed;
    }
    if (json) {
        char *text = block_check_to_json(
            &res, filename, block_check_get_format(blk_node(blk)));
        g_string_append(out, text);
        g_free(text);
    } else {
        print_human(&res, out);
    }
    if (!quiet) {
        fputs(out->str, stdout);
    }
    g_string_free(out, true);
    blk_unref(blk);

    if (res.check_errors) {
        error_report("Check failed");
        return 1;
    }
    if (res.corruptions) {
        return 2;
    }
    return res.leaks ? 3 : 0;
}
