/*
 * Unit tests for the Error module: setting, propagation, prefixes, hints,
 * errno text and the report format with the program-name prefix.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qx/util/error.h"

static bool fail_with(int n, Error **errp)
{
    if (n < 0) {
        error_setg(errp, "value %d is negative", n);
        return false;
    }
    return true;
}

static void test_set_and_free(void)
{
    Error *err = NULL;

    g_assert_true(fail_with(1, &err));
    g_assert_null(err);
    g_assert_false(fail_with(-3, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, "value -3 is negative");
    g_assert_cmpint(error_get_errno(err), ==, 0);
    g_assert_null(error_get_hint(err));
    error_free(err);
}

static void test_null_errp(void)
{
    /* A NULL errp means "caller does not care": nothing is stored. */
    g_assert_false(fail_with(-1, NULL));
    error_setg_errno(NULL, EIO, "ignored");
}

static void test_errno(void)
{
    g_autoptr(Error) err = NULL;

    error_setg_errno(&err, ENOENT, "Could not open '%s'", "x.img");
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Could not open 'x.img': No such file or directory");
    g_assert_cmpint(error_get_errno(err), ==, ENOENT);
}

static void test_prepend_hint_copy(void)
{
    g_autoptr(Error) err = NULL;
    g_autoptr(Error) copy = NULL;

    error_setg(&err, "lock held");
    error_prepend(&err, "Failed to get \"%s\" lock: ", "write");
    error_append_hint(&err, "Is another process using the image [%s]?\n",
                      "a.img");
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Failed to get \"write\" lock: lock held");
    g_assert_cmpstr(error_get_hint(err), ==,
                    "Is another process using the image [a.img]?\n");
    copy = error_copy(err);
    g_assert_cmpstr(error_get_pretty(copy), ==, error_get_pretty(err));
    g_assert_cmpstr(error_get_hint(copy), ==, error_get_hint(err));
}

static void test_propagate(void)
{
    Error *local = NULL;
    Error *dst = NULL;
    Error *second = NULL;

    error_setg(&local, "first");
    error_propagate(&dst, local);
    g_assert_cmpstr(error_get_pretty(dst), ==, "first");

    /* A destination already set keeps its first error. */
    error_setg(&second, "second");
    error_propagate(&dst, second);
    g_assert_cmpstr(error_get_pretty(dst), ==, "first");

    /* Propagating NULL is a no-op; propagating into NULL frees. */
    error_propagate(&dst, NULL);
    g_assert_cmpstr(error_get_pretty(dst), ==, "first");
    error_propagate(NULL, error_copy(dst));
    error_free_or_null(&dst);
    g_assert_null(dst);
}

/* Runs fn in a child with stderr captured; returns what it printed. */
static char *capture_stderr(void (*fn)(void), int *status)
{
    int fds[2];
    pid_t pid;
    GString *out = g_string_new(NULL);
    char buf[256];
    ssize_t n;

    g_assert_cmpint(pipe(fds), ==, 0);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
        g_string_append_len(out, buf, n);
    }
    close(fds[0]);
    g_assert_cmpint(waitpid(pid, status, 0), ==, pid);
    return g_string_free(out, FALSE);
}

static void report_some(void)
{
    Error *err = NULL;

    error_set_progname("qemu-img");
    error_report("Unknown file format '%s'", "foo");
    warn_report("careful");
    error_setg(&err, "Image is corrupt");
    error_append_hint(&err, "hint line\n");
    error_report_err(err);
    error_set_progname(NULL);
    error_report("bare");
}

static void exit_fatal(void)
{
    error_set_progname("qemu-io");
    error_setg(&error_fatal, "cannot continue");
}

static void test_report_format(void)
{
    int status;
    g_autofree char *text = capture_stderr(report_some, &status);

    g_assert_cmpstr(text, ==,
                    "qemu-img: Unknown file format 'foo'\n"
                    "qemu-img: warning: careful\n"
                    "qemu-img: Image is corrupt\n"
                    "hint line\n"
                    "bare\n");
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

static void test_error_fatal(void)
{
    int status;
    g_autofree char *text = capture_stderr(exit_fatal, &status);

    g_assert_cmpstr(text, ==, "qemu-io: cannot continue\n");
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/error/set-and-free", test_set_and_free);
    g_test_add_func("/error/null-errp", test_null_errp);
    g_test_add_func("/error/errno", test_errno);
    g_test_add_func("/error/prepend-hint-copy", test_prepend_hint_copy);
    g_test_add_func("/error/propagate", test_propagate);
    g_test_add_func("/error/report-format", test_report_format);
    g_test_add_func("/error/fatal", test_error_fatal);
    return g_test_run();
}
