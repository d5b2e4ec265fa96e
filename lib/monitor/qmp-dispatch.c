/*
 * QMP command table and request dispatch: validation of the request
 * object and of the arguments, negotiation state, reply shapes.
 */
#include <stdio.h>
#include <string.h>

#include "qmp-int.h"
#include "qx/util/version.h"

static void command_free(gpointer p)
{
    QmpCommand *cmd = p;

    g_free(cmd->name);
    g_strfreev(cmd->args);
    g_free(cmd);
}

static QmpCommand *find_command(const QmpServer *srv, const char *name)
{
    for (guint i = 0; i < srv->commands->len; i++) {
        QmpCommand *cmd = g_ptr_array_index(srv->commands, i);

        if (strcmp(cmd->name, name) == 0) {
            return cmd;
        }
    }
    return NULL;
}

void qmp_register(QmpServer *srv, const char *name, const char *const *args,
                  QmpCommandFunc *func, void *opaque, unsigned flags)
{
    QmpCommand *cmd = find_command(srv, name);

    if (!cmd) {
        cmd = g_new0(QmpCommand, 1);
        cmd->name = g_strdup(name);
        g_ptr_array_add(srv->commands, cmd);
    }
    g_strfreev(cmd->args);
    cmd->args = g_strdupv((char **)args);
    cmd->func = func;
    cmd->opaque = opaque;
    cmd->flags = flags;
}

bool qmp_has_command(const QmpServer *srv, const char *name)
{
    return find_command(srv, name) != NULL;
}

json_object *qmp_version_info(void)
{
    json_object *ver = json_object_new_object();
    json_object *qemu = json_object_new_object();
    unsigned major = 0, minor = 0, micro = 0;
    char *package;

    sscanf(qx_qemu_version(), "%u.%u.%u", &major, &minor, &micro);
    json_object_object_add(qemu, "micro", json_object_new_int(micro));
    json_object_object_add(qemu, "minor", json_object_new_int(minor));
    json_object_object_add(qemu, "major", json_object_new_int(major));
    json_object_object_add(ver, "qemu", qemu);
    package = g_strdup_printf("qx %s", qx_version());
    json_object_object_add(ver, "package", json_object_new_string(package));
    g_free(package);
    return ver;
}

json_object *qmp_error_reply(QxErrorClass cls, const char *desc)
{
    json_object *reply = json_object_new_object();
    json_object *err = json_object_new_object();

    json_object_object_add(err, "class",
                           json_object_new_string(error_class_name(cls)));
    json_object_object_add(err, "desc", json_object_new_string(desc));
    json_object_object_add(reply, "error", err);
    return reply;
}

/* Checks args against the command's list before the handler runs. */
static bool check_args(const QmpCommand *cmd, json_object *args,
                       Error **errp)
{
    for (char **a = cmd->args; a && *a; a++) {
        if (**a != '*' && !json_object_object_get_ex(args, *a, NULL)) {
            error_setg(errp, "Parameter '%s' is missing", *a);
            return false;
        }
    }
    json_object_object_foreach(args, key, val) {
        bool known = false;

        (void)val;
        for (char **a = cmd->args; a && *a; a++) {
            const char *name = **a == '*' ? *a + 1 : *a;

            if (strcmp(name, key) == 0) {
                known = true;
                break;
            }
        }
        if (!known) {
            error_setg(errp, "Parameter '%s' is unexpected", key);
            return false;
        }
    }
    return true;
}

/*
 * Validates the request object's members as QEMU does, in member order.
 * On success *name is the command and *oob says it came as exec-oob.
 */
static bool check_request(json_object *req, const char **name, bool *oob,
                          json_object **args, Error **errp)
{
    bool have_exec = false, have_oob = false;

    if (!json_object_is_type(req, json_type_object)) {
        error_setg(errp, "QMP input must be a JSON object");
        return false;
    }
    *args = NULL;
    json_object_object_foreach(req, key, val) {
        if (strcmp(key, "execute") == 0 || strcmp(key, "exec-oob") == 0) {
            if (!json_object_is_type(val, json_type_string)) {
                error_setg(errp, "QMP input member '%s' must be a string",
                           key);
                return false;
            }
            if (key[1] == 'x' && key[4] == '-') {
                have_oob = true;
            } else {
                have_exec = true;
            }
            *name = json_object_get_string(val);
        } else if (strcmp(key, "arguments") == 0) {
            if (!json_object_is_type(val, json_type_object)) {
                error_setg(errp,
                           "QMP input member 'arguments' must be an object");
                return false;
            }
            *args = val;
        } else if (strcmp(key, "id") != 0 && strcmp(key, "control") != 0) {
            error_setg(errp, "QMP input member '%s' is unexpected", key);
            return false;
        }
    }
    if (have_exec && have_oob) {
        error_setg(errp, "QMP input must not have both 'execute' and "
                   "'exec-oob'");
        return false;
    }
    if (!have_exec && !have_oob) {
        error_setg(errp, "QMP input lacks member 'execute'");
        return false;
    }
    *oob = have_oob;
    return true;
}

/* qmp_capabilities is special: it changes the session's state. */
static json_object *do_capabilities(QmpDispatchState *st, json_object *args,
                                    Error **errp)
{
    json_object *enable = NULL;
    bool oob = false;

    if (st->negotiated) {
        error_set(errp, QX_ERROR_CLASS_COMMAND_NOT_FOUND,
                  "Capabilities negotiation is already complete, command "
                  "ignored");
        return NULL;
    }
    if (args && json_object_object_get_ex(args, "enable", &enable)) {
        if (!json_object_is_type(enable, json_type_array)) {
            error_setg(errp, "Invalid parameter type for 'enable', "
                       "expected: array");
            return NULL;
        }
        for (size_t i = 0; i < json_object_array_length(enable); i++) {
            json_object *cap = json_object_array_get_idx(enable, i);
            const char *s = json_object_get_string(cap);

            if (!json_object_is_type(cap, json_type_string)) {
                error_setg(errp, "Invalid parameter type for 'enable[%zu]', "
                           "expected: string", i);
                return NULL;
            }
            if (strcmp(s, "oob") != 0) {
                error_setg(errp, "Parameter 'enable[%zu]' does not accept "
                           "value '%s'", i, s);
                return NULL;
            }
            oob = true;
        }
    }
    st->negotiated = true;
    st->oob = oob;
    return json_object_new_object();
}

static json_object *run_command(QmpServer *srv, QmpDispatchState *st,
                                json_object *req, Error **errp)
{
    const char *name = NULL;
    json_object *args, *own_args = NULL, *ret;
    QmpCommand *cmd;
    bool oob;

    if (!check_request(req, &name, &oob, &args, errp)) {
        return NULL;
    }
    if (oob && !st->oob) {
        error_setg(errp, "QMP input member 'exec-oob' is unexpected");
        return NULL;
    }
    cmd = find_command(srv, name);
    if (!cmd) {
        error_set(errp, QX_ERROR_CLASS_COMMAND_NOT_FOUND,
                  "The command %s has not been found", name);
        return NULL;
    }
    if (oob && !(cmd->flags & QMP_CMD_ALLOW_OOB)) {
        error_setg(errp, "The command %s does not support OOB", name);
        return NULL;
    }
    if (strcmp(name, "qmp_capabilities") == 0) {
        return do_capabilities(st, args, errp);
    }
    if (!st->negotiated) {
        error_set(errp, QX_ERROR_CLASS_COMMAND_NOT_FOUND,
                  "Expecting capabilities negotiation with "
                  "'qmp_capabilities'");
        return NULL;
    }
    if (!args) {
        args = own_args = json_object_new_object();
    } else {
        /* Handlers take keys; work on a copy so the request stays whole. */
        json_object_deep_copy(args, &own_args, NULL);
        args = own_args;
    }
    if (!check_args(cmd, args, errp)) {
        json_object_put(own_args);
        return NULL;
    }
    ret = cmd->func(args, cmd->opaque, errp);
    json_object_put(own_args);
    return ret;
}

json_object *qmp_dispatch_for(QmpServer *srv, QmpDispatchState *st,
                              json_object *req)
{
    Error *err = NULL;
    json_object *ret = run_command(srv, st, req, &err);
    json_object *id = NULL, *reply;

    if (json_object_is_type(req, json_type_object)) {
        id = json_object_object_get(req, "id");
    }
    if (!ret) {
        json_object *body;

        g_assert(err);
        body = qmp_error_reply(error_get_class(err), error_get_pretty(err));
        error_free(err);
        if (!id) {
            return body;
        }
        /* QEMU puts "id" first in error replies. */
        reply = json_object_new_object();
        json_object_object_add(reply, "id", json_object_get(id));
        json_object_object_add(reply, "error",
                               json_object_get(json_object_object_get(
                                   body, "error")));
        json_object_put(body);
        return reply;
    }
    reply = json_object_new_object();
    json_object_object_add(reply, "return", ret);
    if (id) {
        json_object_object_add(reply, "id", json_object_get(id));
    }
    return reply;
}

json_object *qmp_dispatch(QmpServer *srv, json_object *request)
{
    QmpDispatchState st = { .negotiated = true };

    return qmp_dispatch_for(srv, &st, request);
}

/* ---- Built-in commands ------------------------------------------------ */

static json_object *cmd_query_version(json_object *args, void *opaque,
                                      Error **errp)
{
    return qmp_version_info();
}

static json_object *cmd_query_commands(json_object *args, void *opaque,
                                       Error **errp)
{
    QmpServer *srv = opaque;
    json_object *list = json_object_new_array();

    for (guint i = 0; i < srv->commands->len; i++) {
        QmpCommand *cmd = g_ptr_array_index(srv->commands, i);
        json_object *entry = json_object_new_object();

        json_object_object_add(entry, "name",
                               json_object_new_string(cmd->name));
        json_object_array_add(list, entry);
    }
    return list;
}

static json_object *cmd_capabilities_placeholder(json_object *args,
                                                 void *opaque, Error **errp)
{
    /* Never called: run_command() handles qmp_capabilities itself. */
    error_setg(errp, "internal error");
    return NULL;
}

QmpServer *qmp_server_new_common(QxLoop *loop)
{
    static const char *const cap_args[] = { "*enable", NULL };
    QmpServer *srv = g_new0(QmpServer, 1);

    srv->loop = loop;
    srv->commands = g_ptr_array_new_with_free_func(command_free);
    qmp_register(srv, "qmp_capabilities", cap_args,
                 cmd_capabilities_placeholder, NULL, QMP_CMD_ALLOW_OOB);
    qmp_register(srv, "query-version", NULL, cmd_query_version, NULL, 0);
    qmp_register(srv, "query-commands", NULL, cmd_query_commands, srv, 0);
    return srv;
}
