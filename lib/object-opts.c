/*
 * --object parsing and the objects it creates.  See qx/util/object-opts.h.
 */
#include <glib.h>
#include <string.h>

#include "qx/util/cutils.h"
#include "qx/util/object-opts.h"
#include "qx/util/opts.h"

typedef struct QxObject {
    char *id;
    char *type;
    QxTlsCreds *tls; /* tls-creds-* types */
} QxObject;

struct QxObjects {
    GPtrArray *list; /* QxObject * */
};

/* QEMU 7.2's user-creatable types (qemu-nbd --object help). */
static const char *const qemu_object_types[] = {
    "authz-list", "authz-list-file", "authz-simple", "iothread",
    "main-loop", "pr-manager-helper", "secret", "secret_keyring",
    "thread-context", "throttle-group", "tls-cipher-suites",
    "tls-creds-anon", "tls-creds-psk", "tls-creds-x509", NULL,
};

static void object_free(gpointer p)
{
    QxObject *obj = p;

    qx_tls_creds_free(obj->tls);
    g_free(obj->id);
    g_free(obj->type);
    g_free(obj);
}

QxObjects *qx_objects_new(void)
{
    QxObjects *objs = g_new0(QxObjects, 1);

    objs->list = g_ptr_array_new_with_free_func(object_free);
    return objs;
}

void qx_objects_free(QxObjects *objs)
{
    if (objs) {
        g_ptr_array_free(objs->list, true);
        g_free(objs);
    }
}

const char *qx_objects_help(void)
{
    return "List of user creatable objects:\n"
           "  authz-list\n  authz-list-file\n  authz-simple\n  iothread\n"
           "  main-loop\n  pr-manager-helper\n  secret\n  secret_keyring\n"
           "  thread-context\n  throttle-group\n  tls-cipher-suites\n"
           "  tls-creds-anon\n  tls-creds-psk\n  tls-creds-x509\n";
}

static QxObject *objects_find(QxObjects *objs, const char *id)
{
    for (guint i = 0; i < objs->list->len; i++) {
        QxObject *obj = g_ptr_array_index(objs->list, i);

        if (strcmp(obj->id, id) == 0) {
            return obj;
        }
    }
    return NULL;
}

static QxTlsCreds *object_new_tls(const char *type, const char *id,
                                  json_object *dict, Error **errp)
{
    g_autofree char *dir = NULL;
    g_autofree char *endpoint = NULL;
    g_autofree char *username = NULL;
    g_autofree char *priority = NULL;
    bool verify_peer = true;
    bool psk = strcmp(type, "tls-creds-psk") == 0;
    bool server;

    if (!qx_opts_take_str(dict, "dir", &dir, NULL, errp) ||
        !qx_opts_take_str(dict, "endpoint", &endpoint, NULL, errp) ||
        !qx_opts_take_bool(dict, "verify-peer", &verify_peer, NULL, errp) ||
        !qx_opts_take_str(dict, "priority", &priority, NULL, errp) ||
        (psk && !qx_opts_take_str(dict, "username", &username, NULL,
                                  errp))) {
        return NULL;
    }
    if (!qx_opts_check_unexpected(dict, errp)) {
        return NULL;
    }
    if (endpoint && strcmp(endpoint, "server") != 0 &&
        strcmp(endpoint, "client") != 0) {
        error_setg(errp, "Parameter 'endpoint' does not accept value '%s'",
                   endpoint);
        return NULL;
    }
    if (priority) {
        error_setg(errp, "property 'priority' of %s is not supported yet",
                   type);
        return NULL;
    }
    server = endpoint && strcmp(endpoint, "server") == 0;
    if (psk) {
        return qx_tls_creds_new_psk(id, dir, server, username, errp);
    }
    return qx_tls_creds_new_x509(id, dir, server, verify_peer, errp);
}

bool qx_objects_add(QxObjects *objs, const char *text, bool *help,
                    Error **errp)
{
    json_object *dict;
    g_autofree char *type = NULL;
    g_autofree char *id = NULL;
    QxObject *obj;
    bool known = false;
    bool ok = false;

    *help = false;
    dict = qx_opts_parse(text, QX_OPTS_KEYVAL, "qom-type", help, errp);
    if (!dict) {
        return false;
    }
    if (*help) {
        json_object_put(dict);
        return true;
    }
    if (!qx_opts_take_str(dict, "qom-type", &type, NULL, errp)) {
        goto out;
    }
    if (!type) {
        error_setg(errp, "Parameter 'qom-type' is missing");
        goto out;
    }
    if (!qx_opts_take_str(dict, "id", &id, NULL, errp)) {
        goto out;
    }
    if (!id) {
        error_setg(errp, "Parameter 'id' is missing");
        goto out;
    }
    for (int i = 0; qemu_object_types[i]; i++) {
        known |= strcmp(type, qemu_object_types[i]) == 0;
    }
    if (!known) {
        error_setg(errp, "Parameter 'qom-type' does not accept value '%s'",
                   type);
        goto out;
    }
    if (strcmp(type, "tls-creds-x509") != 0 &&
        strcmp(type, "tls-creds-psk") != 0) {
        error_setg(errp, "object type '%s' is not supported yet", type);
        goto out;
    }
    if (objects_find(objs, id)) {
        error_setg(errp, "attempt to add duplicate property '%s' to object "
                   "(type 'container')", id);
        goto out;
    }
    obj = g_new0(QxObject, 1);
    obj->tls = object_new_tls(type, id, dict, errp);
    if (!obj->tls) {
        g_free(obj);
        goto out;
    }
    obj->id = g_steal_pointer(&id);
    obj->type = g_steal_pointer(&type);
    g_ptr_array_add(objs->list, obj);
    ok = true;
out:
    json_object_put(dict);
    return ok;
}

QxTlsCreds *qx_objects_get_tls_creds(QxObjects *objs, const char *id,
                                     Error **errp)
{
    QxObject *obj = objects_find(objs, id);

    if (!obj) {
        error_setg(errp, "No TLS credentials with id '%s'", id);
        return NULL;
    }
    if (!obj->tls) {
        error_setg(errp, "Object with id '%s' is not TLS credentials", id);
        return NULL;
    }
    return obj->tls;
}
