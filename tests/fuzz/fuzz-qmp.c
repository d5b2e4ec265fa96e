/*
 * libFuzzer target for the QMP session: the input is what a peer sends,
 * cut into reads at positions taken from its first byte.  Every message
 * the session writes must be one JSON object ending in "\r\n".
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qx/monitor/hmp.h"
#include "qx/monitor/qmp.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "invariant failed: %s\n", #cond);              \
            abort();                                                       \
        }                                                                  \
    } while (0)

static void check_output(void *opaque, const char *buf, size_t len)
{
    char *text = g_strndup(buf, len);
    json_object *obj;

    CHECK(len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n');
    obj = json_tokener_parse(text);
    CHECK(obj && json_object_is_type(obj, json_type_object));
    json_object_put(obj);
    g_free(text);
}

static json_object *cmd_echo(json_object *args, void *opaque, Error **errp)
{
    return json_object_get(args);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static QxLoop *loop;
    QmpServer *srv;
    QmpSession *s;
    Hmp *hmp;
    size_t step, off = 1;

    if (size < 1) {
        return 0;
    }
    if (!loop) {
        loop = qx_loop_new(&error_abort);
    }
    srv = qmp_server_new(loop);
    hmp = hmp_new();
    hmp_register_qmp(hmp, srv);
    qmp_register(srv, "echo", (const char *const[]){ "*a", "*b", NULL },
                 cmd_echo, NULL, 0);
    s = qmp_session_new(srv, check_output, NULL);
    step = data[0] ? data[0] : size;
    while (off < size) {
        size_t n = MIN(step, size - off);

        qmp_session_input(s, (const char *)data + off, n);
        off += n;
    }
    qmp_session_free(s);
    hmp_free(hmp);
    qmp_server_free(srv);
    return 0;
}
