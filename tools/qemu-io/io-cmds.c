/*
 * qemu-io: the command table (names, aliases, argument counts, help
 * texts as QEMU 7.2 prints them), command-line splitting and dispatch.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "qemu-io.h"

/* ---- Extended help texts ------------------------------------------------ */

static const char aio_read_help[] =
    "\n"
    " asynchronously reads a range of bytes from the given offset\n"
    "\n"
    " Example:\n"
    " 'aio_read -v 512 1k 1k ' - dumps 2 kilobytes read from 512 bytes into "
    "the file\n"
    "\n"
    " Reads a segment of the currently open file, optionally dumping it to "
    "the\n"
    " standard output stream (with -v option) for subsequent inspection.\n"
    " The read is performed asynchronously and the aio_flush command must "
    "be\n"
    " used to ensure all outstanding aio requests have been completed.\n"
    " Note that due to its asynchronous nature, this command will be\n"
    " considered successful once the request is submitted, independently\n"
    " of potential I/O errors or pattern mismatches.\n"
    " -C, -- report statistics in a machine parsable format\n"
    " -P, -- use a pattern to verify read data\n"
    " -i, -- treat request as invalid, for exercising stats\n"
    " -v, -- dump buffer to standard output\n"
    " -q, -- quiet mode, do not show I/O statistics\n"
    "\n";

static const char aio_write_help[] =
    "\n"
    " asynchronously writes a range of bytes from the given offset source\n"
    " from multiple buffers\n"
    "\n"
    " Example:\n"
    " 'aio_write 512 1k 1k' - writes 2 kilobytes at 512 bytes into the open "
    "file\n"
    "\n"
    " Writes into a segment of the currently open file, using a buffer\n"
    " filled with a set pattern (0xcdcdcdcd).\n"
    " The write is performed asynchronously and the aio_flush command must "
    "be\n"
    " used to ensure all outstanding aio requests have been completed.\n"
    " Note that due to its asynchronous nature, this command will be\n"
    " considered successful once the request is submitted, independently\n"
    " of potential I/O errors or pattern mismatches.\n"
    " -P, -- use different pattern to fill file\n"
    " -C, -- report statistics in a machine parsable format\n"
    " -f, -- use Force Unit Access semantics\n"
    " -i, -- treat request as invalid, for exercising stats\n"
    " -q, -- quiet mode, do not show I/O statistics\n"
    " -u, -- with -z, allow unmapping\n"
    " -z, -- write zeroes using blk_aio_pwrite_zeroes\n"
    "\n";

static const char discard_help[] =
    "\n"
    " discards a range of bytes from the given offset\n"
    "\n"
    " Example:\n"
    " 'discard 512 1k' - discards 1 kilobyte from 512 bytes into the file\n"
    "\n"
    " Discards a segment of the currently open file.\n"
    " -C, -- report statistics in a machine parsable format\n"
    " -q, -- quiet mode, do not show I/O statistics\n"
    "\n";

static const char open_help[] =
    "\n"
    " opens a new file in the requested mode\n"
    "\n"
    " Example:\n"
    " 'open -n -o driver=raw /tmp/data' - opens raw data file read-write, "
    "uncached\n"
    "\n"
    " Opens a file for subsequent use by all of the other qemu-io commands.\n"
    " -r, -- open file read-only\n"
    " -s, -- use snapshot file\n"
    " -C, -- use copy-on-read\n"
    " -n, -- disable host cache, short for -t none\n"
    " -U, -- force shared permissions\n"
    " -k, -- use kernel AIO implementation (Linux only, prefer use of -i)\n"
    " -i, -- use AIO mode (threads, native or io_uring)\n"
    " -t, -- use the given cache mode for the image\n"
    " -d, -- use the given discard mode for the image\n"
    " -o, -- options to be given to the block driver\n";

static const char read_help[] =
    "\n"
    " reads a range of bytes from the given offset\n"
    "\n"
    " Example:\n"
    " 'read -v 512 1k' - dumps 1 kilobyte read from 512 bytes into the file\n"
    "\n"
    " Reads a segment of the currently open file, optionally dumping it to "
    "the\n"
    " standard output stream (with -v option) for subsequent inspection.\n"
    " -b, -- read from the VM state rather than the virtual disk\n"
    " -C, -- report statistics in a machine parsable format\n"
    " -l, -- length for pattern verification (only with -P)\n"
    " -p, -- ignored for backwards compatibility\n"
    " -P, -- use a pattern to verify read data\n"
    " -q, -- quiet mode, do not show I/O statistics\n"
    " -s, -- start offset for pattern verification (only with -P)\n"
    " -v, -- dump buffer to standard output\n"
    "\n";

static const char readv_help[] =
    "\n"
    " reads a range of bytes from the given offset into multiple buffers\n"
    "\n"
    " Example:\n"
    " 'readv -v 512 1k 1k ' - dumps 2 kilobytes read from 512 bytes into the "
    "file\n"
    "\n"
    " Reads a segment of the currently open file, optionally dumping it to "
    "the\n"
    " standard output stream (with -v option) for subsequent inspection.\n"
    " Uses multiple iovec buffers if more than one byte range is specified.\n"
    " -C, -- report statistics in a machine parsable format\n"
    " -P, -- use a pattern to verify read data\n"
    " -v, -- dump buffer to standard output\n"
    " -q, -- quiet mode, do not show I/O statistics\n"
    "\n";

static const char reopen_help[] =
    "\n"
    " Changes the open options of an already opened image\n"
    "\n"
    " Example:\n"
    " 'reopen -o lazy-refcounts=on' - activates lazy refcount writeback on a "
    "qcow2 image\n"
    "\n"
    " -r, -- Reopen the image read-only\n"
    " -w, -- Reopen the image read-write\n"
    " -c, -- Change the cache mode to the given value\n"
    " -o, -- Changes block driver options (cf. 'open' command)\n"
    "\n";

static const char sigraise_help[] =
    "\n"
    " raises the given signal\n"
    "\n"
    " Example:\n"
    " 'sigraise 15' - raises SIGTERM\n"
    "\n"
    " Invokes raise(signal), where \"signal\" is the mandatory integer "
    "argument\n"
    " given to sigraise.\n"
    "\n";

static const char write_help[] =
    "\n"
    " writes a range of bytes from the given offset\n"
    "\n"
    " Example:\n"
    " 'write 512 1k' - writes 1 kilobyte at 512 bytes into the open file\n"
    "\n"
    " Writes into a segment of the currently open file, using a buffer\n"
    " filled with a set pattern (0xcdcdcdcd).\n"
    " -b, -- write to the VM state rather than the virtual disk\n"
    " -c, -- write compressed data with blk_write_compressed\n"
    " -f, -- use Force Unit Access semantics\n"
    " -n, -- with -z, don't allow slow fallback\n"
    " -p, -- ignored for backwards compatibility\n"
    " -P, -- use different pattern to fill file\n"
    " -s, -- use a pattern file to fill the write buffer\n"
    " -C, -- report statistics in a machine parsable format\n"
    " -q, -- quiet mode, do not show I/O statistics\n"
    " -u, -- with -z, allow unmapping\n"
    " -z, -- write zeroes using blk_co_pwrite_zeroes\n"
    "\n";

static const char writev_help[] =
    "\n"
    " writes a range of bytes from the given offset source from multiple "
    "buffers\n"
    "\n"
    " Example:\n"
    " 'writev 512 1k 1k' - writes 2 kilobytes at 512 bytes into the open "
    "file\n"
    "\n"
    " Writes into a segment of the currently open file, using a buffer\n"
    " filled with a set pattern (0xcdcdcdcd).\n"
    " -P, -- use different pattern to fill file\n"
    " -C, -- report statistics in a machine parsable format\n"
    " -f, -- use Force Unit Access semantics\n"
    " -q, -- quiet mode, do not show I/O statistics\n"
    "\n";

/* ---- The table, in name order (what "help" lists) ----------------------- */

static const IoCommand io_commands[] = {
    {
        .name = "abort",
        .func = io_abort_f,
        .argmin = 0,
        .argmax = 0,
        .global = true,
        .oneline = "simulate a program crash using abort(3)",
    },
    {
        .name = "aio_flush",
        .func = io_aio_flush_f,
        .argmin = 0,
        .argmax = 0,
        .oneline = "completes all outstanding aio requests",
    },
    {
        .name = "aio_read",
        .func = io_aio_read_f,
        .argmin = 2,
        .argmax = -1,
        .args = "[-Ciqv] [-P pattern] off len [len..]",
        .oneline = "asynchronously reads a number of bytes",
        .help = aio_read_help,
    },
    {
        .name = "aio_write",
        .func = io_aio_write_f,
        .argmin = 2,
        .argmax = -1,
        .perm = BLOCK_PERM_WRITE,
        .args = "[-Cfiquz] [-P pattern] off len [len..]",
        .oneline = "asynchronously writes a number of bytes",
        .help = aio_write_help,
    },
    {
        .name = "alloc",
        .altname = "a",
        .func = io_alloc_f,
        .argmin = 1,
        .argmax = 2,
        .args = "offset [count]",
        .oneline = "checks if offset is allocated in the file",
    },
    {
        .name = "break",
        .func = io_break_f,
        .argmin = 2,
        .argmax = 2,
        .args = "event tag",
        .oneline = "sets a breakpoint on event and tags the stopped "
                   "request as tag",
    },
    {
        .name = "close",
        .altname = "c",
        .func = io_close_f,
        .argmin = 0,
        .argmax = 0,
        .oneline = "close the current open file",
    },
    {
        .name = "discard",
        .altname = "d",
        .func = io_discard_f,
        .argmin = 2,
        .argmax = -1,
        .perm = BLOCK_PERM_WRITE,
        .args = "[-Cq] off len",
        .oneline = "discards a number of bytes at a specified offset",
        .help = discard_help,
    },
    {
        .name = "flush",
        .altname = "f",
        .func = io_flush_f,
        .argmin = 0,
        .argmax = 0,
        .oneline = "flush all in-core file state to disk",
    },
    {
        .name = "help",
        .altname = "?",
        .func = io_help_f,
        .argmin = 0,
        .argmax = 1,
        .global = true,
        .args = "[command]",
        .oneline = "help for one or all commands",
    },
    {
        .name = "info",
        .altname = "i",
        .func = io_info_f,
        .argmin = 0,
        .argmax = 0,
        .oneline = "prints information about the current file",
    },
    {
        .name = "length",
        .altname = "l",
        .func = io_length_f,
        .argmin = 0,
        .argmax = 0,
        .oneline = "gets the length of the current file",
    },
    {
        .name = "map",
        .func = io_map_f,
        .argmin = 0,
        .argmax = 0,
        .args = "",
        .oneline = "prints the allocated areas of a file",
    },
    {
        .name = "open",
        .altname = "o",
        .func = io_open_f,
        .argmin = 1,
        .argmax = -1,
        .global = true,
        .args = "[-rsCnkU] [-t cache] [-d discard] [-o options] [path]",
        .oneline = "open the file specified by path",
        .help = open_help,
    },
    {
        .name = "quit",
        .altname = "q",
        .func = io_quit_f,
        .argmin = -1,
        .argmax = -1,
        .global = true,
        .oneline = "exit the program",
    },
    {
        .name = "read",
        .altname = "r",
        .func = io_read_f,
        .argmin = 2,
        .argmax = -1,
        .args = "[-abCqv] [-P pattern [-s off] [-l len]] off len",
        .oneline = "reads a number of bytes at a specified offset",
        .help = read_help,
    },
    {
        .name = "readv",
        .func = io_readv_f,
        .argmin = 2,
        .argmax = -1,
        .args = "[-Cqv] [-P pattern] off len [len..]",
        .oneline = "reads a number of bytes at a specified offset",
        .help = readv_help,
    },
    {
        .name = "remove_break",
        .func = io_remove_break_f,
        .argmin = 1,
        .argmax = 1,
        .args = "tag",
        .oneline = "remove a breakpoint by tag",
    },
    {
        .name = "reopen",
        .func = io_reopen_f,
        .argmin = 0,
        .argmax = -1,
        .args = "[(-r|-w)] [-c cache] [-o options]",
        .oneline = "reopens an image with new options",
        .help = reopen_help,
    },
    {
        .name = "resume",
        .func = io_resume_f,
        .argmin = 1,
        .argmax = 1,
        .args = "tag",
        .oneline = "resumes the request tagged as tag",
    },
    {
        .name = "sigraise",
        .func = io_sigraise_f,
        .argmin = 1,
        .argmax = 1,
        .global = true,
        .args = "signal",
        .oneline = "raises a signal",
        .help = sigraise_help,
    },
    {
        .name = "sleep",
        .func = io_sleep_f,
        .argmin = 1,
        .argmax = 1,
        .global = true,
        .oneline = "waits for the given value in milliseconds",
    },
    {
        .name = "truncate",
        .altname = "t",
        .func = io_truncate_f,
        .argmin = 1,
        .argmax = 3,
        .perm = BLOCK_PERM_RESIZE,
        .args = "[-m prealloc_mode] off",
        .oneline = "truncates the current file at the given offset",
    },
    {
        .name = "wait_break",
        .func = io_wait_break_f,
        .argmin = 1,
        .argmax = 1,
        .args = "tag",
        .oneline = "waits for the suspension of a request",
    },
    {
        .name = "write",
        .altname = "w",
        .func = io_write_f,
        .argmin = 2,
        .argmax = -1,
        .perm = BLOCK_PERM_WRITE,
        .args = "[-bcCfnquz] [-P pattern | -s source_file] off len",
        .oneline = "writes a number of bytes at a specified offset",
        .help = write_help,
    },
    {
        .name = "writev",
        .func = io_writev_f,
        .argmin = 2,
        .argmax = -1,
        .perm = BLOCK_PERM_WRITE,
        .args = "[-Cfq] [-P pattern] off len [len..]",
        .oneline = "writes a number of bytes at a specified offset",
        .help = writev_help,
    },
};

int io_command_count(void)
{
    return (int)G_N_ELEMENTS(io_commands);
}

const IoCommand *io_command_get(int i)
{
    return &io_commands[i];
}

const IoCommand *io_find_command(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(io_commands); i++) {
        const IoCommand *ct = &io_commands[i];
        if (strcmp(ct->name, name) == 0 ||
            (ct->altname && strcmp(ct->altname, name) == 0)) {
            return ct;
        }
    }
    return NULL;
}

void io_command_print_oneline(const char *name, const IoCommand *ct)
{
    printf("%s ", name);
    if (ct->args) {
        printf("%s ", ct->args);
    }
    printf("-- %s\n", ct->oneline);
}

void io_command_usage(const IoCommand *ct)
{
    io_command_print_oneline(ct->name, ct);
}

char **io_split_line(const char *line, int *argc)
{
    GPtrArray *words = g_ptr_array_new();
    const char *p = line;

    while (*p) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);

        if (len) {
            g_ptr_array_add(words, g_strndup(p, len));
        }
        p += len;
        if (*p == ' ') {
            p++;
        }
    }
    *argc = (int)words->len;
    g_ptr_array_add(words, NULL);
    return (char **)g_ptr_array_free(words, false);
}

static bool check_arg_count(const IoCommand *ct, const char *name, int n)
{
    if ((ct->argmin < 0 || n >= ct->argmin) &&
        (ct->argmax < 0 || n <= ct->argmax)) {
        return true;
    }
    if (ct->argmax < 0) {
        fprintf(stderr,
                "bad argument count %d to %s, expected at least %d "
                "arguments\n",
                n, name, ct->argmin);
    } else if (ct->argmin == ct->argmax) {
        fprintf(stderr, "bad argument count %d to %s, expected %d arguments\n",
                n, name, ct->argmin);
    } else {
        fprintf(stderr,
                "bad argument count %d to %s, expected between %d and %d "
                "arguments\n",
                n, name, ct->argmin, ct->argmax);
    }
    return false;
}

/* Takes the permissions the command needs on top of what the image has. */
static int take_perm(IoState *s, const IoCommand *ct)
{
    unsigned perm, shared;
    Error *err = NULL;

    blk_get_perm(s->blk, &perm, &shared);
    if (!(ct->perm & ~perm)) {
        return 0;
    }
    if (blk_is_read_only(s->blk)) {
        /* QEMU's wording for any write-like permission on such a node. */
        error_report("Block node is read-only");
        return -EPERM;
    }
    if (!blk_set_perm(s->blk, perm | ct->perm, shared, &err)) {
        error_report_err(err);
        return -EPERM;
    }
    return 0;
}

static int run_command(IoState *s, const IoCommand *ct, int argc, char **argv)
{
    if (!ct->global && !s->blk) {
        fprintf(stderr, "no file open, try 'help open'\n");
        return -EINVAL;
    }
    if (!check_arg_count(ct, argv[0], argc - 1)) {
        return -EINVAL;
    }
    if (ct->perm && s->blk) {
        int ret = take_perm(s, ct);
        if (ret < 0) {
            return ret;
        }
    }
    /* 0 makes glibc start over, as each command parses its own options. */
    optind = 0;
    return ct->func(s, argc, argv);
}

int io_command_run(IoState *s, const char *line)
{
    const IoCommand *ct;
    char **argv;
    int argc;
    int ret = 0;

    argv = io_split_line(line, &argc);
    if (argc) {
        ct = io_find_command(argv[0]);
        if (ct) {
            ret = run_command(s, ct, argc, argv);
        } else {
            fprintf(stderr, "command \"%s\" not found\n", argv[0]);
            ret = -EINVAL;
        }
    }
    g_strfreev(argv);
    return ret;
}
