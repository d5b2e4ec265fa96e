/*
 * QMP sessions: the JSON stream in, replies and events out, and the glue
 * that serves sessions on file descriptors and listening sockets.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "qmp-int.h"
#include "qx/util/json-out.h"

/* Largest request we buffer (QEMU caps a JSON token at 64 MiB). */
#define QMP_MAX_REQUEST (64u << 20)
/* Deepest nesting json-c may build for one request. */
#define QMP_MAX_DEPTH 1024

struct QmpSession {
    QmpServer *srv;      /* NULL once the server is gone */
    QxLoop *loop;
    QmpWriteFunc *write;
    void *opaque;
    QmpDispatchState st;
    json_tokener *tok;
    size_t pending;      /* bytes of the request being parsed */

    /* fd transport (qmp_session_new_fd) */
    int in_fd, out_fd;
    GString *outbuf;
    QmpCloseFunc *on_close;
    void *close_opaque;
    int busy;            /* > 0 while input is being dispatched */
    bool dead;           /* free when no longer busy */
};

typedef struct QmpListener {
    QmpServer *srv;
    int fd;
} QmpListener;

QmpServer *qmp_server_new(QxLoop *loop)
{
    return qmp_server_new_common(loop);
}

static void send_object(QmpSession *s, json_object *obj)
{
    GString *text = g_string_new(NULL);

    qx_json_format(text, obj, QX_JSON_COMPACT);
    g_string_append(text, "\r\n");
    s->write(s->opaque, text->str, text->len);
    g_string_free(text, TRUE);
}

static QmpSession *session_alloc(QmpServer *srv, QmpWriteFunc *write,
                                 void *opaque)
{
    QmpSession *s = g_new0(QmpSession, 1);

    s->srv = srv;
    s->loop = srv->loop;
    s->write = write;
    s->opaque = opaque;
    s->in_fd = s->out_fd = -1;
    s->tok = json_tokener_new_ex(QMP_MAX_DEPTH);
    srv->sessions = g_list_append(srv->sessions, s);
    return s;
}

static void send_greeting(QmpSession *s)
{
    json_object *greeting = json_object_new_object();
    json_object *body = json_object_new_object();
    json_object *caps = json_object_new_array();

    json_object_object_add(body, "version", qmp_version_info());
    json_object_array_add(caps, json_object_new_string("oob"));
    json_object_object_add(body, "capabilities", caps);
    json_object_object_add(greeting, "QMP", body);
    send_object(s, greeting);
    json_object_put(greeting);
}

QmpSession *qmp_session_new(QmpServer *srv, QmpWriteFunc *write,
                            void *opaque)
{
    QmpSession *s = session_alloc(srv, write, opaque);

    send_greeting(s);
    return s;
}

static void parse_error(QmpSession *s, const char *desc)
{
    json_object *reply = qmp_error_reply(QX_ERROR_CLASS_GENERIC, desc);

    send_object(s, reply);
    json_object_put(reply);
    json_tokener_reset(s->tok);
    s->pending = 0;
}

void qmp_session_input(QmpSession *s, const char *buf, size_t len)
{
    s->busy++;
    while (len > 0 && !s->dead && s->srv) {
        size_t chunk = MIN(len, (size_t)INT32_MAX);
        json_object *req;
        enum json_tokener_error jerr;
        size_t used;

        req = json_tokener_parse_ex(s->tok, buf, (int)chunk);
        jerr = json_tokener_get_error(s->tok);
        used = (size_t)json_tokener_get_parse_end(s->tok);
        if (jerr == json_tokener_continue) {
            s->pending += chunk;
            if (s->pending > QMP_MAX_REQUEST) {
                parse_error(s, "JSON token too large");
            }
            break;
        }
        if (jerr != json_tokener_success) {
            /* Skip the offending byte and start over after it. */
            parse_error(s, "JSON parse error, expecting value");
            used = used < chunk ? used + 1 : chunk;
        } else {
            json_object *reply = qmp_dispatch_for(s->srv, &s->st, req);

            json_tokener_reset(s->tok);
            s->pending = 0;
            send_object(s, reply);
            json_object_put(reply);
            json_object_put(req);
        }
        if (used == 0) {
            used = 1;
        }
        buf += used;
        len -= used;
    }
    s->busy--;
    if (s->dead && !s->busy) {
        qmp_session_free(s);
    }
}

void qmp_session_send_event(QmpSession *s, json_object *event)
{
    if (s->st.negotiated && !s->dead) {
        send_object(s, event);
    }
}

void qmp_emit_event(QmpServer *srv, const char *name, json_object *data)
{
    json_object *event = json_object_new_object();
    json_object *ts = json_object_new_object();
    int64_t now = qx_clock_ns(QX_CLOCK_REALTIME);

    json_object_object_add(ts, "seconds",
                           json_object_new_int64(now / 1000000000));
    json_object_object_add(ts, "microseconds",
                           json_object_new_int64(now / 1000 % 1000000));
    json_object_object_add(event, "timestamp", ts);
    json_object_object_add(event, "event", json_object_new_string(name));
    if (data) {
        json_object_object_add(event, "data", data);
    }
    for (GList *l = srv->sessions; l; l = l->next) {
        qmp_session_send_event(l->data, event);
    }
    json_object_put(event);
}

void qmp_session_free(QmpSession *s)
{
    if (!s) {
        return;
    }
    if (s->busy) {
        s->dead = true;   /* freed when the dispatch in progress returns */
        return;
    }
    if (s->srv) {
        s->srv->sessions = g_list_remove(s->srv->sessions, s);
    }
    if (s->in_fd >= 0) {
        qx_loop_set_fd_handler(s->loop, s->in_fd, NULL, NULL, NULL);
        if (s->out_fd != s->in_fd && s->out_fd >= 0) {
            qx_loop_set_fd_handler(s->loop, s->out_fd, NULL, NULL, NULL);
        }
        if (s->outbuf && s->outbuf->len) {
            /* Best effort: whatever the peer can still take. */
            (void)!write(s->out_fd, s->outbuf->str, s->outbuf->len);
        }
        if (s->in_fd > 2) {
            close(s->in_fd);
        }
        if (s->out_fd > 2 && s->out_fd != s->in_fd) {
            close(s->out_fd);
        }
    }
    if (s->outbuf) {
        g_string_free(s->outbuf, TRUE);
    }
    json_tokener_free(s->tok);
    g_free(s);
}

/* ---- fd transport ----------------------------------------------------- */

static void fd_readable(void *opaque);
static void fd_flush(void *opaque);

static void fd_update_handlers(QmpSession *s)
{
    QxFdHandler *on_write = s->outbuf->len ? fd_flush : NULL;

    if (s->out_fd == s->in_fd) {
        qx_loop_set_fd_handler(s->loop, s->in_fd, fd_readable, on_write,
                               s);
    } else {
        qx_loop_set_fd_handler(s->loop, s->in_fd, fd_readable, NULL, s);
        qx_loop_set_fd_handler(s->loop, s->out_fd, NULL, on_write, s);
    }
}

static void fd_flush(void *opaque)
{
    QmpSession *s = opaque;

    while (s->outbuf->len) {
        ssize_t n = write(s->out_fd, s->outbuf->str, s->outbuf->len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;   /* EAGAIN: wait for writability; errors: read sees EOF */
        }
        g_string_erase(s->outbuf, 0, n);
    }
    fd_update_handlers(s);
}

static void fd_write(void *opaque, const char *buf, size_t len)
{
    QmpSession *s = opaque;

    g_string_append_len(s->outbuf, buf, len);
    fd_flush(s);
}

static void fd_readable(void *opaque)
{
    QmpSession *s = opaque;
    QmpCloseFunc *cb;
    void *cb_opaque;
    char buf[4096];
    ssize_t n;

    do {
        n = read(s->in_fd, buf, sizeof(buf));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) {
        return;
    }
    if (n > 0) {
        qmp_session_input(s, buf, n);
        return;
    }
    cb = s->on_close;
    cb_opaque = s->close_opaque;
    qmp_session_free(s);
    if (cb) {
        cb(cb_opaque);
    }
}

QmpSession *qmp_session_new_fd(QmpServer *srv, int in_fd, int out_fd,
                               QmpCloseFunc *on_close, void *opaque)
{
    QmpSession *s = session_alloc(srv, fd_write, NULL);

    s->opaque = s;
    s->in_fd = in_fd;
    s->out_fd = out_fd;
    s->outbuf = g_string_new(NULL);
    s->on_close = on_close;
    s->close_opaque = opaque;
    qx_socket_set_nonblock(in_fd, true);
    if (out_fd != in_fd) {
        qx_socket_set_nonblock(out_fd, true);
    }
    fd_update_handlers(s);
    send_greeting(s);
    return s;
}

/* ---- listening sockets ------------------------------------------------ */

static void listener_accept(void *opaque)
{
    QmpListener *l = opaque;
    int fd = qx_socket_accept(l->fd);

    if (fd >= 0) {
        qmp_session_new_fd(l->srv, fd, fd, NULL, NULL);
    }
}

bool qmp_server_listen(QmpServer *srv, const QxSocketAddress *addr,
                       Error **errp)
{
    int fd = qx_socket_listen(addr, 0, errp);
    QmpListener *l;

    if (fd < 0) {
        return false;
    }
    l = g_new0(QmpListener, 1);
    l->srv = srv;
    l->fd = fd;
    qx_socket_set_nonblock(fd, true);
    qx_loop_set_fd_handler(srv->loop, fd, listener_accept, NULL, l);
    srv->listeners = g_list_append(srv->listeners, l);
    return true;
}

void qmp_server_free(QmpServer *srv)
{
    if (!srv) {
        return;
    }
    while (srv->sessions) {
        QmpSession *s = srv->sessions->data;

        if (s->busy) {
            /* Freed from inside a command: detach; input() frees it. */
            srv->sessions = g_list_remove(srv->sessions, s);
            s->srv = NULL;
            s->dead = true;
            continue;
        }
        qmp_session_free(s);
    }
    for (GList *l = srv->listeners; l; l = l->next) {
        QmpListener *lis = l->data;

        qx_loop_set_fd_handler(srv->loop, lis->fd, NULL, NULL, NULL);
        close(lis->fd);
        g_free(lis);
    }
    g_list_free(srv->listeners);
    g_ptr_array_free(srv->commands, TRUE);
    g_free(srv);
}
