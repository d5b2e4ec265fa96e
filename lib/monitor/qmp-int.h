/* QMP internals shared by the dispatcher and the session code. */
#ifndef QX_MONITOR_QMP_INT_H
#define QX_MONITOR_QMP_INT_H

#include <glib.h>

#include "qx/monitor/qmp.h"

typedef struct QmpCommand {
    char *name;
    char **args;          /* "name" or "*name" (optional) */
    QmpCommandFunc *func;
    void *opaque;
    unsigned flags;
} QmpCommand;

struct QmpServer {
    QxLoop *loop;
    GPtrArray *commands;  /* QmpCommand *, in registration order */
    GList *sessions;      /* QmpSession * */
    GList *listeners;     /* QmpListener * */
};

/*
 * Negotiation state of one session as the dispatcher sees it: before
 * qmp_capabilities only that command is allowed.
 */
typedef struct QmpDispatchState {
    bool negotiated;
    bool oob;             /* the "oob" capability was enabled */
} QmpDispatchState;

/* A server with the built-in commands and no sessions. */
QmpServer *qmp_server_new_common(QxLoop *loop);
/* Runs a request (any JSON value) for a session; returns the reply. */
json_object *qmp_dispatch_for(QmpServer *srv, QmpDispatchState *st,
                              json_object *request);
/* An error reply without id: {"error": {"class": ..., "desc": ...}}. */
json_object *qmp_error_reply(QxErrorClass cls, const char *desc);
/* Writes an event to one session (negotiated ones only). */
void qmp_session_send_event(QmpSession *s, json_object *event);

#endif
