/*
 * qemu-io: the state one session works on, the command table entry type
 * and the helpers the command files share.
 *
 * A session is one process: at most one image open at a time (the "open"
 * and "close" commands change it), commands given with -c or read from
 * stdin.  Output follows QEMU 7.2's qemu-io byte for byte: results and
 * most command errors on stdout, usage errors ("bad argument count",
 * "no file open") on stderr, error_report() messages with the "qemu-io: "
 * prefix on stderr.
 */
#ifndef QX_TOOLS_QEMU_IO_H
#define QX_TOOLS_QEMU_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "qx/block/block-backend.h"
#include "qx/block/block.h"

/* How the current image was opened, kept so that "reopen" can redo it. */
typedef struct IoOpenState {
    char *filename;    /* NULL when the options name the image */
    json_object *opts; /* flat options given to blk_new_open */
    unsigned flags;    /* BLOCK_OPEN_* */
    bool writethrough;
} IoOpenState;

typedef struct IoState {
    QxLoop *loop;
    BlockGraph *graph;
    BlockBackend *blk; /* the open image, or NULL */
    IoOpenState open;  /* valid while blk is set */
    bool image_opts;   /* --image-opts: "open -o" is refused */
    bool misalign;     /* -m: buffers start 16 bytes past alignment */
    bool quit;         /* "quit" ran: stop reading commands */
    /*
     * For the fuzz target: what would end or stall the process or touch
     * host files (abort, sigraise, sleep, open, reopen, write -s) refuses
     * to run.
     */
    bool sandboxed;
} IoState;

/*
 * A command.  argv[0] is the name as typed (alias or not); getopt state is
 * reset before the call.  Returns 0 or a negative errno: any negative
 * result makes the process exit with status 1 in the end.
 */
typedef int IoCommandFunc(IoState *s, int argc, char **argv);

typedef struct IoCommand {
    const char *name;
    const char *altname; /* one-word alias, or NULL */
    IoCommandFunc *func;
    int argmin;       /* -1: no minimum */
    int argmax;       /* -1: no maximum */
    bool global;      /* runs without an open image */
    unsigned perm;    /* BLOCK_PERM_* taken before running */
    const char *args; /* synopsis after the name, or NULL */
    const char *oneline;
    const char *help; /* extended help text, or NULL */
} IoCommand;

/* ---- io-cmds.c: table, line splitting, dispatch ------------------------ */

/*
 * Splits a command line at spaces (only ' ', as QEMU: tabs and quotes are
 * ordinary characters); empty words are dropped.  Returns a NULL-terminated
 * vector (g_strfreev) and its length in *argc.
 */
char **io_split_line(const char *line, int *argc);
/* The command named name (or its alias), or NULL. */
const IoCommand *io_find_command(const char *name);
/* Number of commands and the i-th, in name order. */
int io_command_count(void);
const IoCommand *io_command_get(int i);
/* Prints "name args -- oneline" with the given display name. */
void io_command_print_oneline(const char *name, const IoCommand *ct);
/* The command's one-line synopsis on stdout (after a usage error). */
void io_command_usage(const IoCommand *ct);
/*
 * Runs one command line: splits it, finds the command, checks the open
 * image, argument count and permissions, runs it.  An empty line is a
 * no-op.  Returns the command's result (negative: failed).
 */
int io_command_run(IoState *s, const char *line);

/* ---- io-open.c: opening images ------------------------------------------ */

/*
 * What "open" and the command line ask for; io_open_params_init() gives
 * QEMU's qemu-io defaults (read-write, cache=writethrough, discard=unmap).
 */
typedef struct IoOpenParams {
    bool read_only;
    bool force_share;
    BlockCacheMode cache;
    const char *discard; /* "unmap" / "ignore" ... */
    const char *aio;     /* NULL: threads */
} IoOpenParams;

void io_open_params_init(IoOpenParams *p);
/* Parsers with QEMU's messages via error_report; false on error. */
bool io_parse_cache(const char *mode, IoOpenParams *p);
bool io_parse_discard(const char *mode, IoOpenParams *p);
bool io_parse_aio(const char *mode, IoOpenParams *p);
/*
 * Opens filename (may be NULL) with opts (flat dict, consumed, may be NULL)
 * as the current image, as QEMU's openfile(): "file open already, try
 * 'help close'" if one is open, "can't open device x: reason" on failure.
 * Returns 0 or 1.
 */
int io_open_image(IoState *s, const char *filename, json_object *opts,
                  const IoOpenParams *p);
/* Closes the current image (drains and flushes); no-op without one. */
void io_close_image(IoState *s);

/* ---- io-stats.c: numbers and statistics lines -------------------------- */

/*
 * QEMU's cvtnum(): a size with optional suffix, whole string; returns the
 * value or -EINVAL / -ERANGE.
 */
int64_t io_cvtnum(const char *str);
/* "Parsing error: ..." on stdout for a negative io_cvtnum() result. */
void io_print_cvtnum_err(int64_t err, const char *str);
/* QEMU's cvtstr(): "4 KiB", "68.359 KiB", "512 bytes", "364.443573 bytes" */
void io_cvtstr(double value, char *buf, size_t size);
/* Elapsed time since start (CLOCK_MONOTONIC). */
struct timespec io_clock_now(void);
struct timespec io_clock_since(const struct timespec *start);
/*
 * The two statistics lines ("read 4096/4096 bytes at offset 0" and
 * "4 KiB, 1 ops; 00.00 sec (...)"), or with csv the one -C line.
 */
void io_print_report(const char *op, const struct timespec *elapsed,
                     int64_t offset, int64_t count, int64_t total, int cnt,
                     bool csv);

/* ---- io-pattern.c: buffers, patterns, dumps ----------------------------- */

/* Buffer of len bytes filled with pattern (honours -m); io_free_buf. */
void *io_alloc_buf(IoState *s, size_t len, int pattern);
/*
 * Buffer of len bytes filled by repeating the contents of file; NULL after
 * printing the reason (perror style / "x: file is empty") on stderr.
 */
void *io_alloc_buf_from_file(IoState *s, size_t len, const char *file);
void io_free_buf(IoState *s, void *buf);
/* A pattern byte argument; prints "x is not a valid pattern byte", -1. */
int io_parse_pattern(const char *arg);
/* Hex dump: "%08x:  " then 16 bytes then the alphanumeric characters. */
void io_dump_buffer(const void *buf, int64_t offset, int64_t len);
/* True if buf[0..len) all equal pattern. */
bool io_buffer_matches(const void *buf, int pattern, int64_t len);
/*
 * Parses the length arguments of readv/writev/aio_*, allocates one buffer
 * for their sum filled with pattern and slices it into qiov.  Prints the
 * reason and returns NULL on a bad length.
 */
void *io_create_iovec(IoState *s, BlockIOVec *qiov, char **args, int nargs,
                      int pattern);

/* ---- The commands (io-rw.c, io-misc.c) ---------------------------------- */

int io_read_f(IoState *s, int argc, char **argv);
int io_readv_f(IoState *s, int argc, char **argv);
int io_write_f(IoState *s, int argc, char **argv);
int io_writev_f(IoState *s, int argc, char **argv);
int io_aio_read_f(IoState *s, int argc, char **argv);
int io_aio_write_f(IoState *s, int argc, char **argv);
int io_aio_flush_f(IoState *s, int argc, char **argv);
int io_discard_f(IoState *s, int argc, char **argv);

int io_abort_f(IoState *s, int argc, char **argv);
int io_alloc_f(IoState *s, int argc, char **argv);
int io_break_f(IoState *s, int argc, char **argv);
int io_remove_break_f(IoState *s, int argc, char **argv);
int io_resume_f(IoState *s, int argc, char **argv);
int io_wait_break_f(IoState *s, int argc, char **argv);
int io_close_f(IoState *s, int argc, char **argv);
int io_flush_f(IoState *s, int argc, char **argv);
int io_help_f(IoState *s, int argc, char **argv);
int io_info_f(IoState *s, int argc, char **argv);
int io_length_f(IoState *s, int argc, char **argv);
int io_map_f(IoState *s, int argc, char **argv);
int io_open_f(IoState *s, int argc, char **argv);
int io_quit_f(IoState *s, int argc, char **argv);
int io_reopen_f(IoState *s, int argc, char **argv);
int io_sigraise_f(IoState *s, int argc, char **argv);
int io_sleep_f(IoState *s, int argc, char **argv);
int io_truncate_f(IoState *s, int argc, char **argv);

#endif
