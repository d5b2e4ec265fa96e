/*
 * QMP: the JSON monitor protocol, as QEMU 7.2 speaks it.
 *
 * A QmpServer holds the command table and the connected sessions.  A
 * session is transport-neutral: bytes in through qmp_session_input(),
 * bytes out through the write callback it was created with, so a socket,
 * stdio or a chardev can carry it.  qmp_server_listen() wires sessions to
 * accepted sockets for the common case.
 *
 * Wire behaviour (checked against QEMU 7.2): greeting
 * {"QMP": {"version": ..., "capabilities": ["oob"]}}, every message ends
 * with "\r\n"; commands other than qmp_capabilities are refused with
 * CommandNotFound until the capabilities negotiation; a success is
 * {"return": R, "id": ID}, a failure {"id": ID, "error": {"class": C,
 * "desc": D}}; events are {"timestamp": {...}, "event": E, "data": D} and
 * reach every negotiated session.  Input is parsed with json-c in its
 * relaxed mode (single-quoted strings are accepted, as QEMU does).
 *
 * Threading: everything runs on the loop thread the server was made on.
 */
#ifndef QX_MONITOR_QMP_H
#define QX_MONITOR_QMP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "qx/util/error.h"
#include "qx/util/loop.h"
#include "qx/util/sockets.h"

typedef struct QmpServer QmpServer;
typedef struct QmpSession QmpSession;

/*
 * A command handler.  args is the request's "arguments" dict (an empty
 * dict if absent), already checked against the command's argument list;
 * the handler reads it (qx_opts_take_* work well) but does not keep it.
 * Returns the new "return" value ({} for commands without a result) or
 * NULL with errp set.
 */
typedef json_object *QmpCommandFunc(json_object *args, void *opaque,
                                    Error **errp);

enum {
    QMP_CMD_ALLOW_OOB = 1u << 0,   /* may be sent with "exec-oob" */
};

QmpServer *qmp_server_new(QxLoop *loop);
/* Closes every session and listener. */
void qmp_server_free(QmpServer *srv);

/*
 * Registers a command.  args: NULL-terminated argument names; a leading
 * '*' marks an optional one ("*cpu-index").  Unknown arguments fail with
 * "Parameter 'x' is unexpected", missing ones with "Parameter 'x' is
 * missing", before the handler runs.  Built in: qmp_capabilities,
 * query-version, query-commands.
 */
void qmp_register(QmpServer *srv, const char *name, const char *const *args,
                  QmpCommandFunc *func, void *opaque, unsigned flags);
bool qmp_has_command(const QmpServer *srv, const char *name);

/*
 * Sends an event to every session past negotiation.  data (consumed) may
 * be NULL for events without data.
 */
void qmp_emit_event(QmpServer *srv, const char *event, json_object *data);

/*
 * Runs one request object outside any session (as if negotiated) and
 * returns the response object (consumes nothing; caller frees the reply).
 * For tests and for internal callers.
 */
json_object *qmp_dispatch(QmpServer *srv, json_object *request);

/* ---- Sessions ------------------------------------------------------- */

typedef void QmpWriteFunc(void *opaque, const char *buf, size_t len);
/* Called once when the session ends (peer closed, server freed). */
typedef void QmpCloseFunc(void *opaque);

/*
 * A new session; the greeting is written at once.  write must accept all
 * bytes (it may buffer them).
 */
QmpSession *qmp_session_new(QmpServer *srv, QmpWriteFunc *write,
                            void *opaque);
/* Feeds received bytes; complete requests are dispatched in order. */
void qmp_session_input(QmpSession *s, const char *buf, size_t len);
void qmp_session_free(QmpSession *s);

/*
 * Serves QMP on fds: a session reading in_fd and writing out_fd (the same
 * fd for a socket).  The fds are closed with the session unless they are
 * 0, 1 or 2.  on_close (may be NULL) runs when the peer hangs up.
 */
QmpSession *qmp_session_new_fd(QmpServer *srv, int in_fd, int out_fd,
                               QmpCloseFunc *on_close, void *opaque);

/*
 * Listens on addr and serves a session per accepted connection (any
 * number at once).
 */
bool qmp_server_listen(QmpServer *srv, const QxSocketAddress *addr,
                       Error **errp);

/*
 * The greeting's version object and query-version's result (new
 * references): {"qemu": {"micro", "minor", "major"}, "package": ...}.
 */
json_object *qmp_version_info(void);

#endif
