/*
 * Shared pieces of the qemu-img commands: the command table entry type,
 * QEMU's usage errors, and opening images the way QEMU's qemu-img does.
 */
#ifndef QX_TOOLS_QEMU_IMG_COMMON_H
#define QX_TOOLS_QEMU_IMG_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "qx/block/block-backend.h"
#include "qx/block/block.h"

/* What every command gets: the graph images are opened in. */
typedef struct ImgContext {
    QxLoop *loop;
    BlockGraph *graph;
    struct QxObjects *objects; /* --object registry, shared with graph */
} ImgContext;

/*
 * --object: creates the object (exit 1 with QEMU's message on error);
 * "--object help" lists the types and exits 0.
 */
void img_add_object(ImgContext *ctx, const char *arg);

/*
 * A command: argv[0] is the command name; getopt state is reset before
 * the call.  Returns the process exit status.
 */
typedef int ImgCommandFunc(ImgContext *ctx, int argc, char **argv);

typedef struct ImgCommand {
    const char *name;
    ImgCommandFunc *func;
    const char *syntax;      /* the "Command syntax:" line after the name */
    const char *params_help; /* "Parameters to X subcommand:" block or NULL */
} ImgCommand;

/* main.c: prints the full --help text and exits 0. */
G_NORETURN void img_help(void);

/* "qemu-img: <msg>\nTry 'qemu-img --help' for more information\n", exit 1 */
G_NORETURN void img_error_exit(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* getopt's '?' and ':' cases, with QEMU's wording. */
G_NORETURN void img_unrecognized_option(const char *option);
G_NORETURN void img_missing_argument(const char *option);

/*
 * Opens an image as QEMU's img_open: with image_opts the argument is
 * QemuOpts text (implied key "file"); otherwise a filename with optional
 * format.  cache is a cache mode name or NULL (writeback).  Prints
 * "Could not open '<name>': <reason>" and returns NULL on failure.
 */
BlockBackend *img_open(ImgContext *ctx, bool image_opts, const char *filename,
                       const char *fmt, unsigned flags, const char *cache,
                       bool force_share);

/*
 * Parses a size argument as qemu-img does ("image size" etc.); prints
 * QEMU's messages and returns -1 on error.
 */
int64_t img_cvtnum_size(const char *str);

/*
 * Appends "-o" text the way repeated -o options combine ("a,b"); prints
 * QEMU's "Invalid option list" and returns false for malformed text.
 */
bool img_accumulate_options(char **options, const char *optarg);

/*
 * Progress line for -p (img-progress.c), QEMU's rules: print(delta, 0)
 * sets the absolute percentage, print(delta, max) adds delta% of max%;
 * the line is reprinted when it moved by more than min_skip, or reaches
 * 0 or 100.  Disabled, SIGUSR1 prints it once on stderr.
 */
typedef struct ImgProgress {
    bool enabled;
    float current;
    float last_print;
    float min_skip;
} ImgProgress;

void img_progress_init(ImgProgress *p, bool enabled, float min_skip);
void img_progress_print(ImgProgress *p, float delta, int max);
void img_progress_end(ImgProgress *p);

/*
 * "-o help" (img-convert.c): true if the -o text asks for help; QEMU's
 * print_block_option_help for fmt (filename NULL: format options only,
 * with the protocol hint).  Returns the exit status.
 */
bool img_options_ask_help(const char *options);
int img_print_create_option_help(const char *filename, const char *fmt);
/*
 * "-l snapshot" (convert, measure): no format here can load an internal
 * snapshot read-only; prints QEMU's message for formats without
 * snapshots and a clear "not supported" for qcow2.
 */
void img_report_snapshot_load(BlockNode *node);

/* Commands (one file each). */
int img_check(ImgContext *ctx, int argc, char **argv);
int img_create(ImgContext *ctx, int argc, char **argv);
int img_info(ImgContext *ctx, int argc, char **argv);
int img_convert(ImgContext *ctx, int argc, char **argv);
int img_compare(ImgContext *ctx, int argc, char **argv);
int img_map(ImgContext *ctx, int argc, char **argv);
int img_measure(ImgContext *ctx, int argc, char **argv);
int img_resize(ImgContext *ctx, int argc, char **argv);
int img_dd(ImgContext *ctx, int argc, char **argv);
int img_bench(ImgContext *ctx, int argc, char **argv);

#endif
