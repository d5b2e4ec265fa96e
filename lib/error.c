/*
 * Error objects and error reporting.
 */
#include "qx/util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct Error {
    char *msg;
    GString *hint;
    int os_errno;
    QxErrorClass cls;
};

Error *error_fatal;
Error *error_abort;

static const char *progname;

void error_set_progname(const char *name)
{
    progname = name;
}

const char *error_get_progname(void)
{
    return progname;
}

static void print_prefixed(const char *kind, const char *fmt, va_list ap)
{
    if (progname) {
        fprintf(stderr, "%s: ", progname);
    }
    if (kind) {
        fprintf(stderr, "%s: ", kind);
    }
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void print_error(const char *kind, const Error *err)
{
    if (progname) {
        fprintf(stderr, "%s: ", progname);
    }
    if (kind) {
        fprintf(stderr, "%s: ", kind);
    }
    fprintf(stderr, "%s\n", err->msg);
    if (err->hint) {
        fputs(err->hint->str, stderr);
    }
}

/* Handles the &error_fatal / &error_abort sentinels; else stores err. */
static void error_deliver(Error **errp, Error *err)
{
    if (errp == &error_abort) {
        print_error("unexpected error", err);
        abort();
    }
    if (errp == &error_fatal) {
        print_error(NULL, err);
        exit(1);
    }
    if (!errp) {
        error_free(err);
        return;
    }
    /* Setting an error twice is a bug in the caller. */
    g_assert(*errp == NULL);
    *errp = err;
}

void error_vsetg(Error **errp, const char *fmt, va_list ap)
{
    Error *err;

    if (!errp) {
        return;
    }
    err = g_new0(Error, 1);
    err->msg = g_strdup_vprintf(fmt, ap);
    error_deliver(errp, err);
}

void error_set(Error **errp, QxErrorClass cls, const char *fmt, ...)
{
    va_list ap;

    if (!errp) {
        return;
    }
    va_start(ap, fmt);
    error_vsetg(errp, fmt, ap);
    va_end(ap);
    (*errp)->cls = cls; /* the sentinels never return here */
}

QxErrorClass error_get_class(const Error *err)
{
    return err->cls;
}

const char *error_class_name(QxErrorClass cls)
{
    static const char *const names[] = {
        [QX_ERROR_CLASS_GENERIC] = "GenericError",
        [QX_ERROR_CLASS_COMMAND_NOT_FOUND] = "CommandNotFound",
        [QX_ERROR_CLASS_DEVICE_NOT_ACTIVE] = "DeviceNotActive",
        [QX_ERROR_CLASS_DEVICE_NOT_FOUND] = "DeviceNotFound",
        [QX_ERROR_CLASS_KVM_MISSING_CAP] = "KVMMissingCap",
    };

    return names[cls];
}

void error_setg(Error **errp, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vsetg(errp, fmt, ap);
    va_end(ap);
}

void error_setg_errno(Error **errp, int os_errno, const char *fmt, ...)
{
    va_list ap;
    Error *err;
    char *msg;

    if (!errp) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    err = g_new0(Error, 1);
    if (os_errno) {
        err->msg = g_strdup_printf("%s: %s", msg, g_strerror(os_errno));
        g_free(msg);
    } else {
        err->msg = msg;
    }
    err->os_errno = os_errno;
    error_deliver(errp, err);
}

void error_prepend(Error **errp, const char *fmt, ...)
{
    va_list ap;
    char *prefix;
    char *msg;

    if (!errp || !*errp || errp == &error_fatal || errp == &error_abort) {
        return;
    }
    va_start(ap, fmt);
    prefix = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    msg = g_strconcat(prefix, (*errp)->msg, NULL);
    g_free(prefix);
    g_free((*errp)->msg);
    (*errp)->msg = msg;
}

void error_append_hint(Error **errp, const char *fmt, ...)
{
    va_list ap;

    if (!errp || !*errp || errp == &error_fatal || errp == &error_abort) {
        return;
    }
    if (!(*errp)->hint) {
        (*errp)->hint = g_string_new(NULL);
    }
    va_start(ap, fmt);
    g_string_append_vprintf((*errp)->hint, fmt, ap);
    va_end(ap);
}

void error_propagate(Error **dst, Error *local_err)
{
    if (!local_err) {
        return;
    }
    if (dst == &error_fatal || dst == &error_abort) {
        error_deliver(dst, local_err);
        return;
    }
    if (!dst || *dst) {
        error_free(local_err);
        return;
    }
    *dst = local_err;
}

const char *error_get_pretty(const Error *err)
{
    return err->msg;
}

const char *error_get_hint(const Error *err)
{
    return err->hint ? err->hint->str : NULL;
}

int error_get_errno(const Error *err)
{
    return err->os_errno;
}

Error *error_copy(const Error *err)
{
    Error *copy = g_new0(Error, 1);

    copy->msg = g_strdup(err->msg);
    copy->os_errno = err->os_errno;
    copy->cls = err->cls;
    if (err->hint) {
        copy->hint = g_string_new(err->hint->str);
    }
    return copy;
}

void error_free(Error *err)
{
    if (!err) {
        return;
    }
    g_free(err->msg);
    if (err->hint) {
        g_string_free(err->hint, TRUE);
    }
    g_free(err);
}

void error_free_or_null(Error **errp)
{
    if (errp && *errp) {
        error_free(*errp);
        *errp = NULL;
    }
}

void error_report_err(Error *err)
{
    print_error(NULL, err);
    error_free(err);
}

void warn_report_err(Error *err)
{
    print_error("warning", err);
    error_free(err);
}

void error_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    print_prefixed(NULL, fmt, ap);
    va_end(ap);
}

void warn_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    print_prefixed("warning", fmt, ap);
    va_end(ap);
}

void info_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    print_prefixed("info", fmt, ap);
    va_end(ap);
}
