/*
 * Image locking against QEMU 7.2's own tools, both ways: images our
 * process holds must keep QEMU's qemu-io / qemu-img out exactly when they
 * would keep each other out, and QEMU processes holding an image must
 * keep us out with QEMU's messages.  Skips when QEMU's tools are absent.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qx/block/block-backend.h"
#include "qx/util/coroutine.h"

#define QEMU_IO "/usr/bin/qemu-io"
#define QEMU_IMG "/usr/bin/qemu-img"
#define QEMU_NBD "/usr/bin/qemu-nbd"

typedef struct Env {
    char *dir;
    char *path;
    BlockGraph *graph;
} Env;

static bool have_qemu(void)
{
    if (access(QEMU_IO, X_OK) || access(QEMU_IMG, X_OK) ||
        access(QEMU_NBD, X_OK)) {
        g_test_skip("QEMU's qemu-io, qemu-img or qemu-nbd is not installed");
        return false;
    }
    return true;
}

static void env_setup(Env *env)
{
    int fd;

    env->dir = g_strdup("/tmp/qx-test-block-lock-XXXXXX");
    g_assert_nonnull(g_mkdtemp(env->dir));
    env->path = g_build_filename(env->dir, "img.raw", NULL);
    fd = open(env->path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, 1 << 20), ==, 0);
    close(fd);
    env->graph = block_graph_new(qx_loop_current(), &error_abort);
}

static void env_teardown(Env *env)
{
    block_graph_free(env->graph);
    unlink(env->path);
    g_autofree char *sock = g_build_filename(env->dir, "nbd.sock", NULL);
    unlink(sock);
    rmdir(env->dir);
    g_free(env->path);
    g_free(env->dir);
}

/* Runs argv to completion; returns its exit status and stderr. */
static int run_tool(const char *const *argv, char **err_out)
{
    int status = -1;
    GError *gerr = NULL;
    const char *env[] = {"LC_ALL=C", NULL};

    g_assert_true(g_spawn_sync(NULL, (char **)argv, (char **)env,
                               G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                               err_out, &status, &gerr));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Number of lock records on path's inode in /proc/locks. */
static int lock_records(const char *path)
{
    struct stat st;
    g_autofree char *text = NULL;
    g_autofree char *needle = NULL;
    int n = 0;

    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_true(g_file_get_contents("/proc/locks", &text, NULL, NULL));
    needle = g_strdup_printf(":%lu ", (unsigned long)st.st_ino);
    for (const char *p = text; (p = strstr(p, needle)); p++) {
        n++;
    }
    return n;
}

/* Starts a holder process and waits until it holds its locks. */
static GPid start_holder(const char *const *argv, const char *path,
                         int records)
{
    GPid pid;
    GError *gerr = NULL;

    g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD |
                                    G_SPAWN_STDOUT_TO_DEV_NULL |
                                    G_SPAWN_STDERR_TO_DEV_NULL,
                                NULL, NULL, &pid, &gerr));
    for (int i = 0; i < 400 && lock_records(path) < records; i++) {
        g_usleep(25000);
    }
    g_assert_cmpint(lock_records(path), >=, records);
    return pid;
}

static void stop_holder(GPid pid)
{
    int status;

    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    g_spawn_close_pid(pid);
}

/* Our process holds the image like a guest disk: QEMU's writers fail. */
static void test_we_hold(void)
{
    Env env;
    BlockBackend *blk;
    g_autofree char *hint = NULL;
    g_autofree char *want = NULL;

    if (!have_qemu()) {
        return;
    }
    env_setup(&env);
    blk = blk_new(env.graph, BLOCK_PERM_CONSISTENT_READ | BLOCK_PERM_WRITE,
                  BLOCK_PERM_CONSISTENT_READ | BLOCK_PERM_WRITE_UNCHANGED);
    BlockNode *node = block_open(env.graph, env.path, NULL,
                                 BLOCK_OPEN_RDWR | BLOCK_OPEN_QUIET,
                                 &error_abort);
    g_assert_true(blk_insert_node(blk, node, &error_abort));
    block_node_unref(node);
    g_assert_cmpint(lock_records(env.path), >=, 1);
    hint = g_strdup_printf("Is another process using the image [%s]?\n",
                           env.path);

    /* qemu-io read-write needs "write", which we do not share. */
    {
        const char *argv[] = {QEMU_IO, "-f", "raw", "-c", "read 0 1",
                              env.path, NULL};
        g_autofree char *err = NULL;
        want = g_strdup_printf("qemu-io: can't open device %s: Failed to "
                               "get \"write\" lock\n%s",
                               env.path, hint);
        g_assert_cmpint(run_tool(argv, &err), ==, 1);
        g_assert_cmpstr(err, ==, want);
    }
    /* Read-only users and qemu-img info (no permissions) are fine. */
    {
        const char *argv[] = {QEMU_IO, "-r", "-f", "raw", "-c", "read 0 1",
                              env.path, NULL};
        g_autofree char *err = NULL;
        g_assert_cmpint(run_tool(argv, &err), ==, 0);
    }
    {
        const char *argv[] = {QEMU_IMG, "info", env.path, NULL};
        g_autofree char *err = NULL;
        g_assert_cmpint(run_tool(argv, &err), ==, 0);
        g_assert_cmpstr(err, ==, "");
    }
    /* qemu-img create needs "write" too. */
    {
        const char *argv[] = {QEMU_IMG, "create", "-q", "-f", "raw",
                              env.path, "2M", NULL};
        g_autofree char *err = NULL;
        g_free(want);
        want = g_strdup_printf("qemu-img: %s: Failed to get \"write\" "
                               "lock\n%s",
                               env.path, hint);
        g_assert_cmpint(run_tool(argv, &err), ==, 1);
        g_assert_cmpstr(err, ==, want);
    }
    blk_unref(blk);
    /* Released on close: now QEMU's writer gets in. */
    g_assert_cmpint(lock_records(env.path), ==, 0);
    {
        const char *argv[] = {QEMU_IO, "-f", "raw", "-c", "write 0 512",
                              env.path, NULL};
        g_autofree char *err = NULL;
        g_assert_cmpint(run_tool(argv, &err), ==, 0);
    }
    env_teardown(&env);
}

/* QEMU's processes hold the image: we get QEMU's messages. */
static void test_qemu_holds(void)
{
    Env env;
    GPid pid;
    Error *err = NULL;
    BlockBackend *blk;
    g_autofree char *want_hint = NULL;

    if (!have_qemu()) {
        return;
    }
    env_setup(&env);
    want_hint = g_strdup_printf("Is another process using the image [%s]?\n",
                                env.path);

    /* qemu-io writes and shares everything. */
    {
        const char *argv[] = {QEMU_IO, "-f", "raw", "-c", "sleep 100000",
                              env.path, NULL};
        pid = start_holder(argv, env.path, 1);
    }
    /* A tool-like writer that shares everything gets in... */
    blk = blk_new_open(env.graph, env.path, NULL,
                       BLOCK_OPEN_RDWR | BLOCK_OPEN_QUIET, &error_abort);
    blk_unref(blk);
    /* ...a user that will not share writes does not. */
    blk = blk_new(env.graph, BLOCK_PERM_CONSISTENT_READ,
                  BLOCK_PERM_CONSISTENT_READ | BLOCK_PERM_WRITE_UNCHANGED);
    BlockNode *node = block_open(env.graph, env.path, NULL, BLOCK_OPEN_QUIET,
                                 &error_abort);
    g_assert_false(blk_insert_node(blk, node, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Failed to get shared \"write\" lock");
    g_assert_cmpstr(error_get_hint(err), ==, want_hint);
    error_free_or_null(&err);
    block_node_unref(node);
    blk_unref(blk);
    stop_holder(pid);

    /* qemu-nbd does not share resizing. */
    {
        g_autofree char *sock = g_build_filename(env.dir, "nbd.sock", NULL);
        const char *argv[] = {QEMU_NBD, "-f", "raw", "-k", sock, env.path,
                              NULL};
        pid = start_holder(argv, env.path, 2);
    }
    g_assert_null(blk_new_open(env.graph, env.path, NULL,
                               BLOCK_OPEN_RDWR | BLOCK_OPEN_RESIZE |
                                   BLOCK_OPEN_QUIET,
                               &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Failed to get \"resize\" lock");
    error_free_or_null(&err);
    /* Creating over it needs resize as well. */
    {
        BlockCreateOpts *opts = block_create_opts_for(
            block_driver_find("raw"), env.path, &error_abort);
        block_create_opts_set(opts, "size", "1M", &error_abort);
        g_assert_cmpint(block_create(env.graph, block_driver_find("raw"),
                                     env.path, opts, &err),
                        ==, -EAGAIN);
        g_assert_cmpstr(error_get_pretty(err), ==,
                        "Failed to get \"resize\" lock");
        error_free_or_null(&err);
        block_create_opts_free(opts);
    }
    /* With locking=off nothing is checked. */
    {
        json_object *opts = json_object_new_object();
        json_object_object_add(opts, "file.locking",
                               json_object_new_string("off"));
        blk = blk_new_open(env.graph, env.path, opts,
                           BLOCK_OPEN_RDWR | BLOCK_OPEN_RESIZE |
                               BLOCK_OPEN_QUIET,
                           &error_abort);
        blk_unref(blk);
    }
    stop_holder(pid);
    env_teardown(&env);
}

int main(int argc, char **argv)
{
    QxLoop *loop;

    g_test_init(&argc, &argv, NULL);
    loop = qx_loop_new(&error_abort);
    qx_loop_set_current(loop);
    g_test_add_func("/block-lock/we-hold", test_we_hold);
    g_test_add_func("/block-lock/qemu-holds", test_qemu_holds);
    return g_test_run();
}
