/*
 * Error objects for the control path.
 *
 * Conventions (see docs/architecture.rst):
 * - A function that can fail takes "Error **errp" as its last parameter and
 *   returns bool (true on success), a pointer (NULL on failure) or a negative
 *   int.  On failure it sets *errp exactly once; on success it leaves *errp
 *   untouched.
 * - errp may be NULL (caller ignores details), &error_fatal (report and
 *   exit(1)) or &error_abort (report and abort(): for internal invariants).
 * - Messages are one lower-case phrase without trailing punctuation, except
 *   where QEMU's tools print a capitalised message we must match byte for
 *   byte; hints go through error_append_hint().
 * - Never both print and return an error.
 */
#ifndef QX_UTIL_ERROR_H
#define QX_UTIL_ERROR_H

#include <glib.h>
#include <stdbool.h>
#include <stdarg.h>

typedef struct Error Error;

/* QMP's error classes ("class" of an error response); GENERIC by default. */
typedef enum QxErrorClass {
    QX_ERROR_CLASS_GENERIC = 0,
    QX_ERROR_CLASS_COMMAND_NOT_FOUND,
    QX_ERROR_CLASS_DEVICE_NOT_ACTIVE,
    QX_ERROR_CLASS_DEVICE_NOT_FOUND,
    QX_ERROR_CLASS_KVM_MISSING_CAP,
} QxErrorClass;

/* Sentinels: pass &error_fatal or &error_abort as errp. */
extern Error *error_fatal;
extern Error *error_abort;

void error_setg(Error **errp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
void error_vsetg(Error **errp, const char *fmt, va_list ap)
    G_GNUC_PRINTF(2, 0);
/* As error_setg() with a QMP error class other than GenericError. */
void error_set(Error **errp, QxErrorClass cls, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
QxErrorClass error_get_class(const Error *err);
/* "GenericError", "CommandNotFound", ... */
const char *error_class_name(QxErrorClass cls);
/* Appends ": strerror(os_errno)" to the message, as QEMU does. */
void error_setg_errno(Error **errp, int os_errno, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
/* Prefixes the message of an already-set error: "fmt" + old message. */
void error_prepend(Error **errp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Adds a hint printed on its own line(s) after the message. */
void error_append_hint(Error **errp, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
/* Moves local_err into *dst (frees it if dst is NULL or already set). */
void error_propagate(Error **dst, Error *local_err);

const char *error_get_pretty(const Error *err);
const char *error_get_hint(const Error *err);
/* errno given to error_setg_errno(), or 0. */
int error_get_errno(const Error *err);
Error *error_copy(const Error *err);
void error_free(Error *err);
/* Frees *errp if set and resets it to NULL. */
void error_free_or_null(Error **errp);

/* Prints "progname: message\n" (and the hint) to stderr, then frees err. */
void error_report_err(Error *err);
void warn_report_err(Error *err);

/* Prints "progname: fmt\n" to stderr. */
void error_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Prints "progname: warning: fmt\n" to stderr. */
void warn_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Prints "progname: info: fmt\n" to stderr. */
void info_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/*
 * The prefix of error_report() and friends.  Tools call this once at start
 * with their QEMU name ("qemu-img"); NULL means no prefix.  The name is
 * process state by nature (it is argv[0]), the one global this module keeps.
 */
void error_set_progname(const char *name);
const char *error_get_progname(void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Error, error_free)

#endif
