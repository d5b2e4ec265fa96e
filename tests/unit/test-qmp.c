/* Unit tests for the QMP and HMP monitor core (lib/monitor). */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qx/monitor/hmp.h"
#include "qx/monitor/qmp.h"
#include "qx/util/json-out.h"

typedef struct Fixture {
    QxLoop *loop;
    QmpServer *srv;
    GString *wire;   /* everything a session wrote */
    int echo_calls;
} Fixture;

static json_object *cmd_echo(json_object *args, void *opaque, Error **errp)
{
    Fixture *f = opaque;
    json_object *val = json_object_object_get(args, "value");

    f->echo_calls++;
    return val ? json_object_get(val) : json_object_new_object();
}

static json_object *cmd_fail(json_object *args, void *opaque, Error **errp)
{
    error_set(errp, QX_ERROR_CLASS_DEVICE_NOT_FOUND, "Device 'x' not found");
    return NULL;
}

static json_object *cmd_event(json_object *args, void *opaque, Error **errp)
{
    Fixture *f = opaque;

    qmp_emit_event(f->srv, "STOP", NULL);
    return json_object_new_object();
}

static void fixture_init(Fixture *f)
{
    static const char *const echo_args[] = { "*value", "*extra", NULL };
    static const char *const need_args[] = { "needed", NULL };

    f->loop = qx_loop_new(&error_abort);
    f->srv = qmp_server_new(f->loop);
    f->wire = g_string_new(NULL);
    qmp_register(f->srv, "echo", echo_args, cmd_echo, f, 0);
    qmp_register(f->srv, "needs", need_args, cmd_echo, f, 0);
    qmp_register(f->srv, "fail", NULL, cmd_fail, f, 0);
    qmp_register(f->srv, "stop", NULL, cmd_event, f, 0);
}

static void fixture_free(Fixture *f)
{
    qmp_server_free(f->srv);
    qx_loop_free(f->loop);
    g_string_free(f->wire, TRUE);
}

/* Dispatches text through a negotiated context and returns compact JSON. */
static char *dispatch(Fixture *f, const char *text)
{
    json_object *req = json_tokener_parse(text);
    json_object *reply;
    char *out;

    g_assert_nonnull(req);
    reply = qmp_dispatch(f->srv, req);
    out = qx_json_to_string(reply, QX_JSON_COMPACT);
    json_object_put(reply);
    json_object_put(req);
    return out;
}

static void check_dispatch(Fixture *f, const char *in, const char *expect)
{
    g_autofree char *out = dispatch(f, in);

    g_assert_cmpstr(out, ==, expect);
}

static void test_dispatch_shapes(void)
{
    Fixture f = { 0 };

    fixture_init(&f);
    check_dispatch(&f, "{\"execute\":\"echo\",\"arguments\":{\"value\":5},"
                   "\"id\":1}", "{\"return\": 5, \"id\": 1}");
    check_dispatch(&f, "{\"execute\":\"echo\"}", "{\"return\": {}}");
    check_dispatch(&f, "{\"execute\":\"nope\",\"id\":\"x\"}",
                   "{\"id\": \"x\", \"error\": {\"class\": "
                   "\"CommandNotFound\", \"desc\": \"The command nope has "
                   "not been found\"}}");
    check_dispatch(&f, "{\"execute\":\"fail\"}",
                   "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": "
                   "\"Device 'x' not found\"}}");
    check_dispatch(&f, "{\"execute\":\"echo\",\"id\":{\"a\":[1,2]}}",
                   "{\"return\": {}, \"id\": {\"a\": [1, 2]}}");
    g_assert_cmpint(f.echo_calls, ==, 3);
    fixture_free(&f);
}

static void test_dispatch_validation(void)
{
    Fixture f = { 0 };

    fixture_init(&f);
    check_dispatch(&f, "[1,2]", "{\"error\": {\"class\": \"GenericError\", "
                   "\"desc\": \"QMP input must be a JSON object\"}}");
    check_dispatch(&f, "{\"foo\":1}", "{\"error\": {\"class\": "
                   "\"GenericError\", \"desc\": \"QMP input member 'foo' is "
                   "unexpected\"}}");
    check_dispatch(&f, "{\"execute\":1}", "{\"error\": {\"class\": "
                   "\"GenericError\", \"desc\": \"QMP input member "
                   "'execute' must be a string\"}}");
    check_dispatch(&f, "{\"id\":3}", "{\"id\": 3, \"error\": {\"class\": "
                   "\"GenericError\", \"desc\": \"QMP input lacks member "
                   "'execute'\"}}");
    check_dispatch(&f, "{\"execute\":\"echo\",\"arguments\":[]}",
                   "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                   "\"QMP input member 'arguments' must be an object\"}}");
    check_dispatch(&f, "{\"execute\":\"echo\",\"arguments\":{\"a\":1}}",
                   "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                   "\"Parameter 'a' is unexpected\"}}");
    check_dispatch(&f, "{\"execute\":\"needs\"}",
                   "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                   "\"Parameter 'needed' is missing\"}}");
    /* Validation failures never reach the handler. */
    g_assert_cmpint(f.echo_calls, ==, 0);
    fixture_free(&f);
}

static void test_version_and_commands(void)
{
    Fixture f = { 0 };
    g_autofree char *ver = NULL, *cmds = NULL;

    fixture_init(&f);
    ver = dispatch(&f, "{\"execute\":\"query-version\"}");
    g_assert_true(g_str_has_prefix(ver, "{\"return\": {\"qemu\": "
                                   "{\"micro\": 0, \"minor\": 2, "
                                   "\"major\": 7}, \"package\": \"qx "));
    cmds = dispatch(&f, "{\"execute\":\"query-commands\"}");
    g_assert_nonnull(strstr(cmds, "{\"name\": \"qmp_capabilities\"}"));
    g_assert_nonnull(strstr(cmds, "{\"name\": \"echo\"}"));
    g_assert_true(qmp_has_command(f.srv, "fail"));
    g_assert_false(qmp_has_command(f.srv, "nope"));
    fixture_free(&f);
}

static void wire_write(void *opaque, const char *buf, size_t len)
{
    g_string_append_len(opaque, buf, len);
}

/* Feeds text and returns what the session wrote since the last call. */
static char *feed(Fixture *f, QmpSession *s, const char *text)
{
    char *out;

    qmp_session_input(s, text, strlen(text));
    out = g_strdup(f->wire->str);
    g_string_truncate(f->wire, 0);
    return out;
}

static void check_feed(Fixture *f, QmpSession *s, const char *in,
                       const char *expect)
{
    g_autofree char *out = feed(f, s, in);

    g_assert_cmpstr(out, ==, expect);
}

static void test_session_negotiation(void)
{
    Fixture f = { 0 };
    QmpSession *s;

    fixture_init(&f);
    s = qmp_session_new(f.srv, wire_write, f.wire);
    g_assert_true(g_str_has_prefix(f.wire->str, "{\"QMP\": {\"version\": "
                                   "{\"qemu\": {\"micro\": 0, \"minor\": 2, "
                                   "\"major\": 7}, \"package\": \"qx "));
    g_assert_true(g_str_has_suffix(f.wire->str, "\"capabilities\": "
                                   "[\"oob\"]}}\r\n"));
    g_string_truncate(f.wire, 0);

    check_feed(&f, s, "{\"execute\":\"echo\"}",
               "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
               "\"Expecting capabilities negotiation with "
               "'qmp_capabilities'\"}}\r\n");
    /* Events are held back until negotiation. */
    qmp_emit_event(f.srv, "RESUME", NULL);
    g_assert_cmpuint(f.wire->len, ==, 0);
    check_feed(&f, s, "{\"execute\":\"qmp_capabilities\",\"id\":1}",
               "{\"return\": {}, \"id\": 1}\r\n");
    check_feed(&f, s, "{\"execute\":\"qmp_capabilities\"}",
               "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
               "\"Capabilities negotiation is already complete, command "
               "ignored\"}}\r\n");
    qmp_session_free(s);
    fixture_free(&f);
}

static void test_session_stream(void)
{
    Fixture f = { 0 };
    QmpSession *s;
    g_autofree char *ev = NULL;

    fixture_init(&f);
    s = qmp_session_new(f.srv, wire_write, f.wire);
    g_string_truncate(f.wire, 0);
    check_feed(&f, s, "{'execute':'qmp_capabilities'}",
               "{\"return\": {}}\r\n");
    /* A request split across reads. */
    check_feed(&f, s, "{\"exec", "");
    check_feed(&f, s, "ute\":\"echo\",\"arguments\":{\"value\":\"a\"}}",
               "{\"return\": \"a\"}\r\n");
    /* Two requests in one read, with whitespace around them. */
    check_feed(&f, s, " {\"execute\":\"echo\",\"id\":1}\n"
               "{\"execute\":\"echo\",\"id\":2}\r\n",
               "{\"return\": {}, \"id\": 1}\r\n"
               "{\"return\": {}, \"id\": 2}\r\n");
    /* Garbage gets an error, and the stream recovers. */
    check_feed(&f, s, "}", "{\"error\": {\"class\": \"GenericError\", "
               "\"desc\": \"JSON parse error, expecting value\"}}\r\n");
    check_feed(&f, s, "{\"execute\":\"echo\",\"id\":3}",
               "{\"return\": {}, \"id\": 3}\r\n");
    /* An event raised by a command comes before its reply. */
    ev = feed(&f, s, "{\"execute\":\"stop\"}");
    g_assert_true(g_str_has_prefix(ev, "{\"timestamp\": {\"seconds\": "));
    g_assert_true(g_str_has_suffix(ev, "}, \"event\": \"STOP\"}\r\n"
                                   "{\"return\": {}}\r\n"));
    qmp_session_free(s);
    fixture_free(&f);
}

static void test_session_huge_request(void)
{
    Fixture f = { 0 };
    QmpSession *s;
    char *chunk = g_malloc(1 << 20);
    g_autofree char *out = NULL;

    fixture_init(&f);
    s = qmp_session_new(f.srv, wire_write, f.wire);
    g_string_truncate(f.wire, 0);
    memset(chunk, 'a', 1 << 20);
    qmp_session_input(s, "[\"", 2);
    for (int i = 0; i < 65 && f.wire->len == 0; i++) {
        qmp_session_input(s, chunk, 1 << 20);
    }
    g_assert_nonnull(strstr(f.wire->str, "JSON token too large"));
    g_string_truncate(f.wire, 0);
    out = feed(&f, s, "{\"execute\":\"qmp_capabilities\"}");
    g_assert_nonnull(strstr(out, "{\"return\": {}}\r\n"));
    g_free(chunk);
    qmp_session_free(s);
    fixture_free(&f);
}

typedef struct FdPeer {
    bool closed;
} FdPeer;

static void on_close(void *opaque)
{
    ((FdPeer *)opaque)->closed = true;
}

/* Reads from fd, running the loop, until text contains needle. */
static void wait_for(Fixture *f, int fd, GString *text, const char *needle)
{
    for (int i = 0; i < 1000 && !strstr(text->str, needle); i++) {
        char buf[4096];
        ssize_t n;

        qx_loop_run_once(f->loop, false);
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            g_string_append_len(text, buf, n);
        } else {
            g_usleep(1000);
        }
    }
    g_assert_nonnull(strstr(text->str, needle));
}

static void test_fd_session(void)
{
    Fixture f = { 0 };
    FdPeer peer = { 0 };
    GString *got = g_string_new(NULL);
    int sv[2];
    const char *req = "{\"execute\":\"qmp_capabilities\"}"
                      "{\"execute\":\"echo\",\"arguments\":{\"value\":7}}";

    fixture_init(&f);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    qmp_session_new_fd(f.srv, sv[0], sv[0], on_close, &peer);
    wait_for(&f, sv[1], got, "[\"oob\"]}}\r\n");
    g_assert_cmpint(write(sv[1], req, strlen(req)), ==, strlen(req));
    wait_for(&f, sv[1], got, "{\"return\": 7}\r\n");
    close(sv[1]);
    for (int i = 0; i < 100 && !peer.closed; i++) {
        qx_loop_run_once(f.loop, false);
    }
    g_assert_true(peer.closed);
    g_string_free(got, TRUE);
    fixture_free(&f);
}

static void hmp_stop(const char *args, GString *out, void *opaque)
{
    (*(int *)opaque)++;
}

static void hmp_status(const char *args, GString *out, void *opaque)
{
    g_string_append(out, "VM status: paused (prelaunch)\n");
}

static void check_hmp(Hmp *hmp, const char *line, const char *expect)
{
    GString *out = g_string_new(NULL);

    hmp_execute(hmp, line, out);
    g_assert_cmpstr(out->str, ==, expect);
    g_string_free(out, TRUE);
}

static void test_hmp(void)
{
    Hmp *hmp = hmp_new();
    int stops = 0;

    hmp_register(hmp, "stop|s", NULL, "stop emulation", hmp_stop, &stops);
    hmp_register_info(hmp, "status", "show the current VM status (running|"
                      "paused)", hmp_status, NULL);
    check_hmp(hmp, "info status", "VM status: paused (prelaunch)\n");
    check_hmp(hmp, "  stop  ", "");
    check_hmp(hmp, "s", "");
    g_assert_cmpint(stops, ==, 2);
    check_hmp(hmp, "stop x", "stop|s: extraneous characters at the end of "
              "line\nTry \"help stop\" for more information\n");
    check_hmp(hmp, "nope", "unknown command: 'nope'\n");
    check_hmp(hmp, "info nope", "unknown command: 'info nope'\n");
    check_hmp(hmp, "help stop", "stop|s  -- stop emulation\n");
    check_hmp(hmp, "help nope", "unknown command: 'nope'\n");
    check_hmp(hmp, "", "");
    g_assert_cmpint(stops, ==, 2);
    hmp_free(hmp);
}

static void test_hmp_qmp_and_session(void)
{
    Fixture f = { 0 };
    Hmp *hmp = hmp_new();
    GString *wire = g_string_new(NULL);
    HmpSession *s;

    fixture_init(&f);
    hmp_register_info(hmp, "status", "show the current VM status",
                      hmp_status, NULL);
    hmp_register_qmp(hmp, f.srv);
    check_dispatch(&f, "{\"execute\":\"human-monitor-command\",\"arguments\":"
                   "{\"command-line\":\"info status\"}}",
                   "{\"return\": \"VM status: paused (prelaunch)\\r\\n\"}");
    check_dispatch(&f, "{\"execute\":\"human-monitor-command\",\"arguments\":"
                   "{\"command-line\":\"nope\"}}",
                   "{\"return\": \"unknown command: 'nope'\\r\\n\"}");
    check_dispatch(&f, "{\"execute\":\"human-monitor-command\",\"arguments\":"
                   "{\"command-line\":5}}",
                   "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                   "\"Invalid parameter type for 'command-line', expected: "
                   "string\"}}");

    s = hmp_session_new(hmp, wire_write, wire);
    g_assert_cmpstr(wire->str, ==, "QEMU 7.2.0 monitor - type 'help' for "
                    "more information\r\n(qemu) ");
    g_string_truncate(wire, 0);
    hmp_session_input(s, "info sta", 8);
    hmp_session_input(s, "tus\r\n", 5);
    g_assert_cmpstr(wire->str, ==, "info status\r\nVM status: paused "
                    "(prelaunch)\r\n(qemu) ");
    hmp_session_free(s);
    hmp_free(hmp);
    g_string_free(wire, TRUE);
    fixture_free(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp/dispatch-shapes", test_dispatch_shapes);
    g_test_add_func("/qmp/dispatch-validation", test_dispatch_validation);
    g_test_add_func("/qmp/version-commands", test_version_and_commands);
    g_test_add_func("/qmp/session-negotiation", test_session_negotiation);
    g_test_add_func("/qmp/session-stream", test_session_stream);
    g_test_add_func("/qmp/session-huge-request", test_session_huge_request);
    g_test_add_func("/qmp/fd-session", test_fd_session);
    g_test_add_func("/hmp/commands", test_hmp);
    g_test_add_func("/hmp/qmp-and-session", test_hmp_qmp_and_session);
    return g_test_run();
}
