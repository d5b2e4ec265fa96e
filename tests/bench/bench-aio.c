/*
 * File I/O backend benchmark: 4 KiB random reads with O_DIRECT from a
 * 256 MiB temporary file at queue depths 1, 16 and 64, for aio=threads and
 * aio=io_uring side by side.  Prints IOPS per backend and depth, and the
 * io_uring/threads ratio.
 *
 * Usage: bench-aio [SECONDS-PER-RUN [DIRECTORY]]   (defaults: 2, $TMPDIR)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qx/util/aio.h"
#include "qx/util/coroutine.h"
#include "qx/util/error.h"

#define FILE_SIZE (256ULL << 20)
#define BLOCK 4096
#define MAX_DEPTH 64
#define POOL_THREADS 64

static const unsigned depths[] = {1, 16, 64};

typedef struct Run {
    QxAio *aio;
    int fd;
    int64_t deadline;
    uint64_t ios;
    unsigned running;
    int error;
    bool done;
} Run;

typedef struct Worker {
    Run *run;
    uint32_t seed;
    void *buf;
} Worker;

static uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static void worker_co(void *opaque)
{
    Worker *w = opaque;
    Run *run = w->run;
    struct iovec iov = {.iov_base = w->buf, .iov_len = BLOCK};

    while (run->error == 0 && qx_clock_ns(QX_CLOCK_MONOTONIC) < run->deadline) {
        uint64_t block = xorshift32(&w->seed) % (FILE_SIZE / BLOCK);
        ssize_t ret =
            qx_aio_preadv_co(run->aio, run->fd, &iov, 1, block * BLOCK);

        if (ret != BLOCK) {
            run->error = ret < 0 ? (int)-ret : EIO;
            break;
        }
        run->ios++;
    }
    if (--run->running == 0) {
        run->done = true;
    }
}

/* Runs one backend at one depth; returns IOPS, or -1 on error. */
static double bench_one(QxLoop *loop, QxAio *aio, int fd, unsigned depth,
                        double seconds)
{
    Worker workers[MAX_DEPTH];
    Run run = {.aio = aio, .fd = fd, .running = depth};
    int64_t start;
    int64_t end;

    for (unsigned i = 0; i < depth; i++) {
        workers[i].run = &run;
        workers[i].seed = 0x9e3779b9u * (i + 1);
        if (posix_memalign(&workers[i].buf, BLOCK, BLOCK) != 0) {
            abort();
        }
    }
    start = qx_clock_ns(QX_CLOCK_MONOTONIC);
    run.deadline = start + (int64_t)(seconds * 1e9);
    for (unsigned i = 0; i < depth; i++) {
        qx_coroutine_enter(qx_coroutine_create(worker_co, &workers[i]));
    }
    qx_loop_run_until(loop, &run.done);
    end = qx_clock_ns(QX_CLOCK_MONOTONIC);
    for (unsigned i = 0; i < depth; i++) {
        free(workers[i].buf);
    }
    if (run.error) {
        fprintf(stderr, "bench-aio: read failed: %s\n", strerror(run.error));
        return -1;
    }
    return run.ios / ((end - start) / 1e9);
}

/* Fills path with FILE_SIZE bytes of non-zero data (no sparse extents). */
static bool create_file(const char *path)
{
    size_t chunk = 1 << 20;
    g_autofree uint8_t *buf = g_malloc(chunk);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0) {
        perror("bench-aio: create");
        return false;
    }
    for (size_t i = 0; i < chunk; i++) {
        buf[i] = (uint8_t)(i * 31 + 7);
    }
    for (uint64_t off = 0; off < FILE_SIZE; off += chunk) {
        buf[0] = (uint8_t)(off >> 20);
        if (pwrite(fd, buf, chunk, off) != (ssize_t)chunk) {
            perror("bench-aio: write");
            close(fd);
            return false;
        }
    }
    fdatasync(fd);
    close(fd);
    return true;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    const char *dir = argc > 2 ? argv[2] : g_get_tmp_dir();
    g_autofree char *path = g_build_filename(dir, "qx-bench-aio-XXXXXX", NULL);
    double iops[2][G_N_ELEMENTS(depths)] = {{0}};
    const QxAioBackend backends[2] = {QX_AIO_THREADS, QX_AIO_IO_URING};
    bool have[2] = {false, false};
    QxLoop *loop;
    ThreadPool *pool;
    int tmp;
    int fd;
    int ret = 0;

    if (seconds <= 0) {
        fprintf(stderr, "usage: bench-aio [SECONDS-PER-RUN [DIRECTORY]]\n");
        return 2;
    }
    error_set_progname("bench-aio");
    tmp = g_mkstemp(path);
    if (tmp < 0) {
        perror("bench-aio: mkstemp");
        return 1;
    }
    close(tmp);
    if (!create_file(path)) {
        unlink(path);
        return 1;
    }
    fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr,
                "bench-aio: %s refuses O_DIRECT (%s); "
                "reading through the page cache\n",
                dir, strerror(errno));
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    unlink(path);
    if (fd < 0) {
        perror("bench-aio: open");
        return 1;
    }

    loop = qx_loop_new(&error_abort);
    pool = qx_thread_pool_new(loop, POOL_THREADS);
    printf("4 KiB random reads, O_DIRECT, %.1f s per run, 256 MiB file\n",
           seconds);
    printf("%-10s %6s %12s\n", "backend", "depth", "IOPS");
    for (int b = 0; b < 2; b++) {
        Error *err = NULL;
        QxAio *aio = qx_aio_new(loop, backends[b], pool, &err);

        if (!aio) {
            printf("%-10s  skipped: %s\n", qx_aio_backend_name(backends[b]),
                   error_get_pretty(err));
            error_free(err);
            continue;
        }
        have[b] = true;
        for (size_t d = 0; d < G_N_ELEMENTS(depths); d++) {
            iops[b][d] = bench_one(loop, aio, fd, depths[d], seconds);
            if (iops[b][d] < 0) {
                ret = 1;
                break;
            }
            printf("%-10s %6u %12.0f\n", qx_aio_backend_name(backends[b]),
                   depths[d], iops[b][d]);
            fflush(stdout);
        }
        qx_aio_free(aio);
    }
    if (have[0] && have[1] && ret == 0) {
        for (size_t d = 0; d < G_N_ELEMENTS(depths); d++) {
            printf("depth %2u: io_uring/threads = %.2f\n", depths[d],
                   iops[1][d] / iops[0][d]);
        }
    }
    qx_thread_pool_free(pool);
    qx_loop_free(loop);
    close(fd);
    return ret;
}
