/*
 * libFuzzer target for the NBD server: the input is what a client sends
 * (handshake flags, options, requests and payloads), written into one end
 * of a socket pair whose other end the server serves.  The server must
 * answer or drop the client without crashing, and free everything (ASan's
 * leak check runs at exit).  The export is a writable null-co node, so
 * every command reaches the block layer.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qx/block/block-backend.h"
#include "qx/block/nbd-server.h"

typedef struct FuzzEnv {
    QxLoop *loop;
    BlockGraph *graph;
    BlockBackend *blk;
} FuzzEnv;

static FuzzEnv *fuzz_env(void)
{
    static FuzzEnv env;

    if (!env.loop) {
        json_object *opts = json_object_new_object();

        env.loop = qx_loop_new(&error_abort);
        env.graph = block_graph_new(env.loop, &error_abort);
        json_object_object_add(opts, "driver",
                               json_object_new_string("null-co"));
        json_object_object_add(opts, "size", json_object_new_string("1M"));
        json_object_object_add(opts, "read-zeroes",
                               json_object_new_string("on"));
        env.blk = blk_new_open(env.graph, NULL, opts, BLOCK_OPEN_RDWR,
                               &error_abort);
    }
    return &env;
}

static void drain(int fd)
{
    char buf[65536];

    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzEnv *env = fuzz_env();
    NbdExportOpts eo = {
        .name = "",
        .description = "fuzz",
        .blk = env->blk,
        .writable = true,
        .allocation_depth = true,
    };
    NbdServer *server;
    size_t sent = 0;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        abort();
    }
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    server = nbd_server_new(env->loop, NULL, &error_abort);
    nbd_export_add(server, &eo, &error_abort);
    nbd_server_add_client(server, sv[1]);
    if (size == 0) {
        shutdown(sv[0], SHUT_WR);
    }

    /* Feed the input, reading replies so that the server never stalls. */
    while (nbd_server_get_client_count(server) > 0) {
        if (sent < size) {
            ssize_t n = write(sv[0], data + sent, size - sent);

            if (n > 0) {
                sent += n;
            } else if (n < 0 && errno != EAGAIN) {
                sent = size; /* the server closed its end */
            }
            if (sent == size) {
                shutdown(sv[0], SHUT_WR);
            }
        }
        drain(sv[0]);
        qx_loop_run_once(env->loop, false);
    }
    drain(sv[0]);
    nbd_server_free(server);
    close(sv[0]);
    return 0;
}
