/*
 * qemu-nbd: serve a disk image over NBD, or list another server's exports
 * (-L).  Options, messages and exit codes follow QEMU 7.2's qemu-nbd; the
 * server itself is lib/block/nbd.  Options we do not implement (-c/-d
 * kernel client, -l, -B, -T, --selinux-label, --tls-authz) fail naming
 * themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qemu-nbd.h"
#include "qx/block/block-backend.h"
#include "qx/block/nbd-server.h"
#include "qx/util/cutils.h"
#include "qx/util/error.h"
#include "qx/util/object-opts.h"
#include "qx/util/opts.h"
#include "qx/util/version.h"

/* Values of the long-only options: beyond any character. */
enum {
    OPT_CACHE = 256,
    OPT_AIO,
    OPT_DISCARD,
    OPT_DETECT_ZEROES,
    OPT_OBJECT,
    OPT_TLSCREDS,
    OPT_TLSHOSTNAME,
    OPT_TLSAUTHZ,
    OPT_IMAGE_OPTS,
    OPT_FORK,
    OPT_PID_FILE,
    OPT_SELINUX_LABEL,
};

static const char short_options[] = "hVb:o:p:rsnc:dvk:e:f:tl:x:T:D:AB:L";

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"bind", required_argument, NULL, 'b'},
    {"port", required_argument, NULL, 'p'},
    {"socket", required_argument, NULL, 'k'},
    {"offset", required_argument, NULL, 'o'},
    {"read-only", no_argument, NULL, 'r'},
    {"allocation-depth", no_argument, NULL, 'A'},
    {"bitmap", required_argument, NULL, 'B'},
    {"connect", required_argument, NULL, 'c'},
    {"disconnect", no_argument, NULL, 'd'},
    {"list", no_argument, NULL, 'L'},
    {"snapshot", no_argument, NULL, 's'},
    {"load-snapshot", required_argument, NULL, 'l'},
    {"nocache", no_argument, NULL, 'n'},
    {"cache", required_argument, NULL, OPT_CACHE},
    {"aio", required_argument, NULL, OPT_AIO},
    {"discard", required_argument, NULL, OPT_DISCARD},
    {"detect-zeroes", required_argument, NULL, OPT_DETECT_ZEROES},
    {"shared", required_argument, NULL, 'e'},
    {"format", required_argument, NULL, 'f'},
    {"persistent", no_argument, NULL, 't'},
    {"verbose", no_argument, NULL, 'v'},
    {"object", required_argument, NULL, OPT_OBJECT},
    {"export-name", required_argument, NULL, 'x'},
    {"description", required_argument, NULL, 'D'},
    {"tls-creds", required_argument, NULL, OPT_TLSCREDS},
    {"tls-hostname", required_argument, NULL, OPT_TLSHOSTNAME},
    {"tls-authz", required_argument, NULL, OPT_TLSAUTHZ},
    {"image-opts", no_argument, NULL, OPT_IMAGE_OPTS},
    {"trace", required_argument, NULL, 'T'},
    {"fork", no_argument, NULL, OPT_FORK},
    {"pid-file", required_argument, NULL, OPT_PID_FILE},
    {"selinux-label", required_argument, NULL, OPT_SELINUX_LABEL},
    {NULL, 0, NULL, 0},
};

typedef struct NbdToolOpts {
    const char *bindto;
    const char *port;
    const char *sockpath;
    const char *export_name;
    const char *description;
    const char *fmt;
    const char *cache;
    const char *aio;
    const char *discard;
    const char *detect_zeroes;
    const char *tls_creds;
    const char *tls_hostname;
    const char *tls_authz;
    const char *pid_file;
    const char *device;       /* -c */
    const char *unsupported;  /* first option we refuse */
    uint64_t offset;
    int shared;
    bool readonly;
    bool snapshot;
    bool persistent;
    bool allocation_depth;
    bool image_opts;
    bool fork;
    bool list;
    bool disconnect;
    bool seen_cache;
    bool per_device;          /* options -L cannot take */
} NbdToolOpts;

/* The server's state while it runs. */
typedef struct NbdToolState {
    QxLoop *loop;
    NbdServer *server;
    bool persistent;
    bool had_client;
    bool terminate;
    bool done;
    int ready_fd;             /* --fork: write end of the parent's pipe */
} NbdToolState;

static void print_usage(const char *name)
{
    printf(
"Usage: %s [OPTIONS] FILE\n"
"  or:  %s -L [OPTIONS]\n"
"QEMU Disk Network Block Device Utility\n"
"\n"
"  -h, --help                display this help and exit\n"
"  -V, --version             output version information and exit\n"
"\n"
"Connection properties:\n"
"  -p, --port=PORT           port to listen on (default `10809')\n"
"  -b, --bind=IFACE          interface to bind to (default `0.0.0.0')\n"
"  -k, --socket=PATH         path to the unix socket\n"
"                            (default '/var/lock/qemu-nbd-DEVICE')\n"
"  -e, --shared=NUM          device can be shared by NUM clients (default '1')\n"
"  -t, --persistent          don't exit on the last connection\n"
"  -v, --verbose             display extra debugging information\n"
"  -x, --export-name=NAME    expose export by name (default is empty string)\n"
"  -D, --description=TEXT    export a human-readable description\n"
"\n"
"Exposing part of the image:\n"
"  -o, --offset=OFFSET       offset into the image\n"
"  -A, --allocation-depth    expose the allocation depth\n"
"  -B, --bitmap=NAME         expose a persistent dirty bitmap\n"
"\n"
"General purpose options:\n"
"  -L, --list                list exports available from another NBD server\n"
"  --object type,id=ID,...   define an object such as 'secret' for providing\n"
"                            passwords and/or encryption keys\n"
"  --tls-creds=ID            use id of an earlier --object to provide TLS\n"
"  --tls-authz=ID            use id of an earlier --object to provide\n"
"                            authorization\n"
"  -T, --trace [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
"                            specify tracing options\n"
"  --fork                    fork off the server process and exit the parent\n"
"                            once the server is running\n"
"  --pid-file=PATH           store the server's process ID in the given file\n"
"  --selinux-label=LABEL     set SELinux process label on listening socket\n"
"\n"
"Kernel NBD client support:\n"
"  -c, --connect=DEV         connect FILE to the local NBD device DEV\n"
"  -d, --disconnect          disconnect the specified device\n"
"\n"
"Block device options:\n"
"  -f, --format=FORMAT       set image format (raw, qcow2, ...)\n"
"  -r, --read-only           export read-only\n"
"  -s, --snapshot            use FILE as an external snapshot, create a temporary\n"
"                            file with backing_file=FILE, redirect the write to\n"
"                            the temporary one\n"
"  -l, --load-snapshot=SNAPSHOT_PARAM\n"
"                            load an internal snapshot inside FILE and export it\n"
"                            as an read-only device, SNAPSHOT_PARAM format is\n"
"                            'snapshot.id=[ID],snapshot.name=[NAME]', or\n"
"                            '[ID_OR_NAME]'\n"
"  -n, --nocache             disable host cache\n"
"      --cache=MODE          set cache mode used to access the disk image, the\n"
"                            valid options are: 'none', 'writeback' (default),\n"
"                            'writethrough', 'directsync' and 'unsafe'\n"
"      --aio=MODE            set AIO mode (native, io_uring or threads)\n"
"      --discard=MODE        set discard mode (ignore, unmap)\n"
"      --detect-zeroes=MODE  set detect-zeroes mode (off, on, unmap)\n"
"      --image-opts          treat FILE as a full set of image options\n"
"\n"
"See <https://qemu.org/contribute/report-a-bug> for how to report bugs.\n"
"More information on the QEMU project at <https://qemu.org>.\n",
        name, name);
}

static void print_version(const char *argv0)
{
    /*
     * qemu-nbd's banner differs from the other tools': mirror its shape,
     * down to naming the program by argv[0].
     */
    printf("%s %s\n"
           "Written by the QX developers.\n"
           "\n"
           "%s"
           "This is free software; see the source for copying conditions.  "
           "There is NO\n"
           "warranty; not even for MERCHANTABILITY or FITNESS FOR A "
           "PARTICULAR PURPOSE.\n",
           argv0, qx_version_string(), qx_copyright());
}

static void G_GNUC_NORETURN die(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void die(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_report("%s", msg);
    exit(EXIT_FAILURE);
}

/* ---- Running the server ------------------------------------------------ */

static void tool_on_clients(void *opaque)
{
    NbdToolState *st = opaque;
    int n = nbd_server_get_client_count(st->server);

    if (n > 0) {
        st->had_client = true;
    } else if (st->had_client && !st->persistent) {
        st->terminate = true;
    }
}

static int tool_signal_fd(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void tool_drain_signals(int sfd)
{
    struct signalfd_siginfo si;

    while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
    }
}

typedef struct SignalCtx {
    NbdToolState *st;
    int fd;
} SignalCtx;

static void tool_signal_read(void *opaque)
{
    SignalCtx *ctx = opaque;

    tool_drain_signals(ctx->fd);
    ctx->st->terminate = true;
}

/* Runs until a signal or (without -t) the last client leaves. */
static void tool_serve(NbdToolState *st, int sfd)
{
    SignalCtx sctx = {.st = st, .fd = sfd};

    qx_loop_set_fd_handler(st->loop, sfd, tool_signal_read, NULL, &sctx);
    while (!st->terminate) {
        qx_loop_run_once(st->loop, true);
    }
    /* Graceful stop: finish the requests in flight, then close. */
    nbd_server_shutdown(st->server);
    while (nbd_server_get_client_count(st->server) > 0) {
        qx_loop_run_once(st->loop, true);
    }
    qx_loop_set_fd_handler(st->loop, sfd, NULL, NULL, NULL);
}

/* ---- Opening the image ------------------------------------------------- */

static BlockBackend *tool_open_image(BlockGraph *graph, NbdToolOpts *o,
                                     const char *srcpath)
{
    BlockCacheMode mode = {0};
    Error *err = NULL;
    json_object *opts;
    BlockNode *node;
    BlockBackend *blk;
    unsigned perm = BLOCK_PERM_CONSISTENT_READ;

    if (o->cache) {
        block_cache_mode_parse(o->cache, &mode, &error_abort);
    }
    if (o->image_opts) {
        opts = qx_opts_parse(srcpath, QX_OPTS_FLAT, "file", NULL, &err);
        if (!opts) {
            error_report_err(err);
            exit(EXIT_FAILURE);
        }
    } else {
        opts = json_object_new_object();
        if (o->fmt) {
            json_object_object_add(opts, "driver",
                                   json_object_new_string(o->fmt));
        }
    }
    if (o->cache) {
        block_cache_mode_to_options(&mode, opts);
    }
    if (o->discard) {
        json_object_object_add(opts, "discard",
                               json_object_new_string(o->discard));
    }
    if (o->detect_zeroes) {
        json_object_object_add(opts, "detect-zeroes",
                               json_object_new_string(o->detect_zeroes));
    }
    if (o->aio) {
        bool protocol = o->fmt && (strcmp(o->fmt, "file") == 0 ||
                                   strcmp(o->fmt, "host_device") == 0);

        json_object_object_add(opts, protocol ? "aio" : "file.aio",
                               json_object_new_string(o->aio));
    }
    node = block_open(graph, o->image_opts ? NULL : srcpath, opts,
                      o->readonly ? 0 : BLOCK_OPEN_RDWR, &err);
    if (!node) {
        error_prepend(&err, "Failed to blk_new_open '%s': ", srcpath);
        error_report_err(err);
        exit(EXIT_FAILURE);
    }
    if (o->offset) {
        json_object *raw = json_object_new_object();
        BlockNode *top;

        json_object_object_add(raw, "driver", json_object_new_string("raw"));
        json_object_object_add(
            raw, "file", json_object_new_string(block_node_get_name(node)));
        json_object_object_add(raw, "offset",
                               json_object_new_int64((int64_t)o->offset));
        top = block_open(graph, NULL, raw,
                         o->readonly ? 0 : BLOCK_OPEN_RDWR, &err);
        block_node_unref(node);
        if (!top) {
            error_prepend(&err, "Failed to bdrv_open (offset): ");
            error_report_err(err);
            exit(EXIT_FAILURE);
        }
        node = top;
    }
    if (!o->readonly) {
        perm |= BLOCK_PERM_WRITE;
    }
    /* Like QEMU's NBD export: everything may be shared except resizing. */
    blk = blk_new(graph, perm, BLOCK_PERM_ALL & ~BLOCK_PERM_RESIZE);
    if (!blk_insert_node(blk, node, &err)) {
        error_report_err(err);
        exit(EXIT_FAILURE);
    }
    block_node_unref(node);
    blk_set_enable_write_cache(blk, !mode.writethrough);
    return blk;
}

/* ---- Command line ------------------------------------------------------ */

static void parse_args(int argc, char **argv, NbdToolOpts *o,
                       QxObjects *objs)
{
    int longindex = -1;
    int c;

    /* getopt prints its own messages, prefixed by argv[0] as QEMU's are. */
    while ((c = getopt_long(argc, argv, short_options, long_options,
                            &longindex)) != -1) {
        Error *err = NULL;
        BlockCacheMode mode;

        switch (c) {
        case 'h':
            print_usage(argv[0]);
            exit(0);
        case 'V':
            print_version(argv[0]);
            exit(0);
        case '?':
            error_report("Try `%s --help' for more information.", argv[0]);
            exit(EXIT_FAILURE);
        case 'b':
            o->bindto = optarg;
            break;
        case 'p':
            o->port = optarg;
            break;
        case 'k':
            o->sockpath = optarg;
            if (optarg[0] != '/') {
                die("socket path must be absolute");
            }
            break;
        case 'o':
            if (qx_strtou64(optarg, 0, &o->offset) < 0 ||
                o->offset > INT64_MAX) {
                die("Invalid offset '%s'", optarg);
            }
            o->per_device = true;
            break;
        case 'r':
            o->readonly = true;
            break;
        case 'A':
            o->allocation_depth = true;
            break;
        case 's':
            o->snapshot = true;
            break;
        case 'n':
            optarg = (char *)"none";
            /* fall through */
        case OPT_CACHE:
            if (o->seen_cache) {
                die("-n and --cache can only be specified once");
            }
            o->seen_cache = true;
            if (!block_cache_mode_parse(optarg, &mode, &err)) {
                error_free(err);
                die("Invalid cache mode `%s'", optarg);
            }
            o->cache = optarg;
            break;
        case OPT_AIO:
            if (o->aio) {
                die("--aio can only be specified once");
            }
            if (strcmp(optarg, "native") != 0 &&
                strcmp(optarg, "io_uring") != 0 &&
                strcmp(optarg, "threads") != 0) {
                die("Invalid aio mode '%s'", optarg);
            }
            o->aio = optarg;
            break;
        case OPT_DISCARD:
            if (strcmp(optarg, "off") == 0 || strcmp(optarg, "ignore") == 0) {
                o->discard = "ignore";
            } else if (strcmp(optarg, "on") == 0 ||
                       strcmp(optarg, "unmap") == 0) {
                o->discard = "unmap";
            } else {
                die("Invalid discard mode `%s'", optarg);
            }
            break;
        case OPT_DETECT_ZEROES:
            if (strcmp(optarg, "off") != 0 && strcmp(optarg, "on") != 0 &&
                strcmp(optarg, "unmap") != 0) {
                die("Failed to parse detect_zeroes mode: invalid parameter "
                    "value: %s", optarg);
            }
            o->detect_zeroes = optarg;
            break;
        case 'e':
            if (qx_strtou64(optarg, 10, &(uint64_t){0}) < 0 ||
                atoi(optarg) < 0) {
                die("Invalid shared device number '%s'", optarg);
            }
            o->shared = atoi(optarg);
            break;
        case 'f':
            o->fmt = optarg;
            break;
        case 't':
            o->persistent = true;
            break;
        case 'x':
            o->export_name = optarg;
            if (strlen(optarg) > NBD_EXPORT_STRING_MAX) {
                die("export name '%s' too long", optarg);
            }
            o->per_device = true;
            break;
        case 'D':
            o->description = optarg;
            if (strlen(optarg) > NBD_EXPORT_STRING_MAX) {
                die("export description '%s' too long", optarg);
            }
            o->per_device = true;
            break;
        case 'v':
            break; /* extra debugging output: nothing to add */
        case 'L':
            o->list = true;
            break;
        case OPT_OBJECT: {
            bool help;

            if (!qx_objects_add(objs, optarg, &help, &err)) {
                error_report_err(err);
                exit(EXIT_FAILURE);
            }
            if (help) {
                fputs(qx_objects_help(), stdout);
                exit(0);
            }
            break;
        }
        case OPT_TLSCREDS:
            o->tls_creds = optarg;
            break;
        case OPT_TLSHOSTNAME:
            o->tls_hostname = optarg;
            break;
        case OPT_TLSAUTHZ:
            o->tls_authz = optarg;
            break;
        case OPT_IMAGE_OPTS:
            o->image_opts = true;
            break;
        case OPT_FORK:
            o->fork = true;
            break;
        case OPT_PID_FILE:
            o->pid_file = optarg;
            break;
        case 'c':
            o->device = optarg;
            break;
        case 'd':
            o->disconnect = true;
            break;
        default:
            /*
             * -l, -B, -T, --selinux-label: reported after the loop, so
             * that a later --help or --version still works as in QEMU.
             */
            if (!o->unsupported) {
                o->unsupported =
                    longindex >= 0
                        ? g_strdup_printf("--%s", long_options[longindex].name)
                        : g_strdup_printf("-%c", c);
            }
            if (c == 'B' || c == 'l') {
                o->per_device = true;
            }
            break;
        }
        longindex = -1;
    }
}

static QxSocketAddress *tool_address(const NbdToolOpts *o)
{
    QxSocketAddress *addr = g_new0(QxSocketAddress, 1);

    if (o->sockpath) {
        addr->type = QX_SOCKET_ADDRESS_UNIX;
        addr->path = g_strdup(o->sockpath);
    } else {
        addr->type = QX_SOCKET_ADDRESS_INET;
        addr->host = g_strdup(o->bindto ? o->bindto : "0.0.0.0");
        addr->port = g_strdup(o->port ? o->port : "10809");
    }
    return addr;
}

/* --fork: the parent waits until the child serves (or fails). */
static int tool_fork(void)
{
    int fds[2];
    pid_t pid;
    char c;

    if (pipe2(fds, O_CLOEXEC) < 0) {
        die("Failed to create pipe: %s", strerror(errno));
    }
    pid = fork();
    if (pid < 0) {
        die("Failed to fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        return fds[1];
    }
    close(fds[1]);
    if (read(fds[0], &c, 1) == 1) {
        exit(0);
    }
    /* The child failed and printed why. */
    {
        int status = 0;

        waitpid(pid, &status, 0);
        exit(WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_FAILURE);
    }
}

static void tool_write_pid_file(const char *path)
{
    g_autofree char *text = g_strdup_printf("%d\n", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0) {
        die("Could not create '%s': %s", path, strerror(errno));
    }
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        die("Failed to write pid file '%s': %s", path, strerror(errno));
    }
    close(fd);
}

int main(int argc, char **argv)
{
    NbdToolOpts o = {.shared = 1};
    NbdToolState st = {.ready_fd = -1};
    g_autoptr(QxSocketAddress) addr = NULL;
    QxObjects *objs = qx_objects_new();
    QxTlsCreds *tls = NULL;
    Error *err = NULL;
    BlockGraph *graph;
    BlockBackend *blk;
    NbdExportOpts eo = {0};
    const char *srcpath;
    int sfd;

    error_set_progname("qemu-nbd");
    signal(SIGPIPE, SIG_IGN);
    parse_args(argc, argv, &o, objs);

    if (o.unsupported) {
        error_report("option '%s' is not supported yet", o.unsupported);
        return 1;
    }
    if (o.disconnect) {
        int fd = argc - optind == 1 ? open(argv[optind], O_RDWR) : -1;

        if (argc - optind != 1) {
            error_report("Invalid number of arguments");
            fprintf(stderr, "Try `%s --help' for more information.\n",
                    argv[0]);
            return 1;
        }
        if (fd < 0) {
            die("Cannot open %s: %s", argv[optind], strerror(errno));
        }
        close(fd);
        die("the kernel NBD client (-d) is not supported");
    }
    if (o.list) {
        if (argc != optind) {
            die("List mode is incompatible with a file name");
        }
        if (o.per_device) {
            die("List mode is incompatible with per-device settings");
        }
        if (o.device) {
            die("List mode is incompatible with a kernel device");
        }
    } else if (argc - optind != 1) {
        error_report("Invalid number of arguments");
        fprintf(stderr, "Try `%s --help' for more information.\n", argv[0]);
        return 1;
    }
    if (o.detect_zeroes && strcmp(o.detect_zeroes, "unmap") == 0 &&
        !(o.discard && strcmp(o.discard, "unmap") == 0)) {
        die("setting detect-zeroes to unmap is not allowed without setting "
            "discard operation to unmap");
    }
    if (o.image_opts && o.fmt) {
        die("--image-opts and -f are mutually exclusive");
    }
    if (o.tls_creds) {
        if (o.device) {
            die("TLS is not supported with a host device");
        }
        if (o.tls_authz) {
            die("option '--tls-authz' is not supported yet");
        }
        tls = qx_objects_get_tls_creds(objs, o.tls_creds, &err);
        if (!tls) {
            error_prepend(&err, "Failed to get TLS creds: ");
            error_report_err(err);
            return 1;
        }
        if (!o.list && !qx_tls_creds_is_server(tls)) {
            die("Expecting TLS credentials with a server endpoint");
        }
    } else {
        if (o.tls_authz) {
            die("--tls-authz is not permitted without --tls-creds");
        }
        if (o.tls_hostname) {
            die("--tls-hostname is not permitted without --tls-creds");
        }
    }
    addr = tool_address(&o);
    if (o.list) {
        int ret = qemu_nbd_list(addr, tls, o.tls_hostname
                                               ? o.tls_hostname
                                               : (o.bindto ? o.bindto
                                                           : "localhost"));
        qx_objects_free(objs);
        return ret;
    }
    srcpath = argv[optind];
    if (o.snapshot) {
        die("option '-s' is not supported yet: it needs a qcow2 overlay");
    }

    st.loop = qx_loop_new(&error_fatal);
    graph = block_graph_new(st.loop, &error_fatal);
    if (o.fork) {
        st.ready_fd = tool_fork();
    }
    sfd = tool_signal_fd();
    st.server = nbd_server_new(st.loop, tls, &error_fatal);
    st.persistent = o.persistent;
    /* QEMU listens before opening the image. */
    if (!o.device && !nbd_server_listen(st.server, addr, &err)) {
        error_report_err(err);
        return 1;
    }
    blk = tool_open_image(graph, &o, srcpath);
    if (o.device) {
        int fd = open(o.device, O_RDWR);

        if (fd < 0) {
            die("Failed to open %s: %s", o.device, strerror(errno));
        }
        close(fd);
        die("the kernel NBD client (-c) is not supported");
    }
    eo.name = o.export_name ? o.export_name : "";
    eo.description = o.description;
    eo.blk = blk;
    eo.writable = !o.readonly;
    eo.allocation_depth = o.allocation_depth;
    eo.multi_conn = o.shared > 1;
    if (!nbd_export_add(st.server, &eo, &err)) {
        error_report_err(err);
        return 1;
    }
    nbd_server_set_max_clients(st.server, o.shared);
    nbd_server_set_client_notify(st.server, tool_on_clients, &st);
    if (o.pid_file) {
        tool_write_pid_file(o.pid_file);
    }
    if (st.ready_fd >= 0) {
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

        /* Let the parent go, and stop holding its output open. */
        if (write(st.ready_fd, "", 1) != 1) {
            die("Failed to signal the parent: %s", strerror(errno));
        }
        close(st.ready_fd);
        if (null_fd >= 0) {
            dup2(null_fd, STDIN_FILENO);
            dup2(null_fd, STDOUT_FILENO);
            dup2(null_fd, STDERR_FILENO);
            close(null_fd);
        }
    }

    tool_serve(&st, sfd);

    nbd_server_free(st.server);
    blk_unref(blk);
    block_graph_free(graph);
    qx_objects_free(objs);
    if (o.pid_file) {
        unlink(o.pid_file);
    }
    if (o.sockpath) {
        unlink(o.sockpath);
    }
    close(sfd);
    qx_loop_free(st.loop);
    return 0;
}
