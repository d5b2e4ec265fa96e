/*
 * HMP command table, line execution, interactive sessions and QMP's
 * human-monitor-command.
 */
#include <string.h>

#include "qx/monitor/hmp.h"
#include "qx/util/version.h"

typedef struct HmpCommand {
    char *names;      /* "stop|s" */
    char *params;     /* NULL: no arguments allowed */
    char *help;
    HmpFunc *func;
    void *opaque;
} HmpCommand;

struct Hmp {
    GPtrArray *cmds;  /* HmpCommand *, registration order */
    GPtrArray *infos; /* HmpCommand * of "info" subcommands */
};

struct HmpSession {
    Hmp *hmp;
    HmpWriteFunc *write;
    void *opaque;
    GString *line;
};

/* Longest line an interactive session buffers (QEMU's readline: 1 KiB). */
#define HMP_MAX_LINE 1024

static void cmd_free(gpointer p)
{
    HmpCommand *c = p;

    g_free(c->names);
    g_free(c->params);
    g_free(c->help);
    g_free(c);
}

static HmpCommand *cmd_new(const char *names, const char *params,
                           const char *help, HmpFunc *func, void *opaque)
{
    HmpCommand *c = g_new0(HmpCommand, 1);

    c->names = g_strdup(names);
    c->params = g_strdup(params);
    c->help = g_strdup(help);
    c->func = func;
    c->opaque = opaque;
    return c;
}

void hmp_register(Hmp *hmp, const char *names, const char *params,
                  const char *help, HmpFunc *func, void *opaque)
{
    g_ptr_array_add(hmp->cmds, cmd_new(names, params, help, func, opaque));
}

void hmp_register_info(Hmp *hmp, const char *name, const char *help,
                       HmpFunc *func, void *opaque)
{
    g_ptr_array_add(hmp->infos, cmd_new(name, NULL, help, func, opaque));
}

/* Does name match one of the '|'-separated names? */
static bool names_match(const char *names, const char *name, size_t len)
{
    const char *p = names;

    while (*p) {
        const char *end = strchr(p, '|');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        if (n == len && strncmp(p, name, len) == 0) {
            return true;
        }
        if (!end) {
            break;
        }
        p = end + 1;
    }
    return false;
}

static HmpCommand *find(GPtrArray *table, const char *name, size_t len)
{
    for (guint i = 0; i < table->len; i++) {
        HmpCommand *c = g_ptr_array_index(table, i);

        if (names_match(c->names, name, len)) {
            return c;
        }
    }
    return NULL;
}

static void help_line(const HmpCommand *c, const char *prefix, GString *out)
{
    g_string_append_printf(out, "%s%s", prefix, c->names);
    if (c->params && *c->params) {
        g_string_append_printf(out, " %s", c->params);
    }
    g_string_append_printf(out, "  -- %s\n", c->help);
}

/* Splits "word rest": returns the word length; *rest skips blanks. */
static size_t split_word(const char *s, const char **rest)
{
    size_t n = strcspn(s, " \t");
    const char *r = s + n;

    r += strspn(r, " \t");
    *rest = r;
    return n;
}

static void do_help(Hmp *hmp, const char *args, GString *out)
{
    const char *rest;
    size_t n = split_word(args, &rest);
    HmpCommand *c;

    if (n == 0) {
        for (guint i = 0; i < hmp->cmds->len; i++) {
            help_line(g_ptr_array_index(hmp->cmds, i), "", out);
        }
        return;
    }
    if (n == 4 && strncmp(args, "info", 4) == 0) {
        const char *sub_rest;
        size_t m = split_word(rest, &sub_rest);

        for (guint i = 0; i < hmp->infos->len; i++) {
            c = g_ptr_array_index(hmp->infos, i);
            if (m == 0 || names_match(c->names, rest, m)) {
                help_line(c, "info ", out);
            }
        }
        return;
    }
    c = find(hmp->cmds, args, n);
    if (!c) {
        g_string_append_printf(out, "unknown command: '%.*s'\n", (int)n,
                               args);
        return;
    }
    help_line(c, "", out);
}

static void do_info(Hmp *hmp, const char *args, GString *out)
{
    const char *rest;
    size_t n = split_word(args, &rest);
    HmpCommand *c;

    if (n == 0) {
        for (guint i = 0; i < hmp->infos->len; i++) {
            help_line(g_ptr_array_index(hmp->infos, i), "info ", out);
        }
        return;
    }
    c = find(hmp->infos, args, n);
    if (!c) {
        g_string_append_printf(out, "unknown command: 'info %.*s'\n", (int)n,
                               args);
        return;
    }
    if (*rest) {
        g_string_append_printf(out, "info %s: extraneous characters at the "
                               "end of line\nTry \"help info %s\" for more "
                               "information\n", c->names, c->names);
        return;
    }
    c->func("", out, c->opaque);
}

void hmp_execute(Hmp *hmp, const char *line, GString *out)
{
    g_autofree char *copy = g_strstrip(g_strdup(line));
    const char *rest;
    size_t n = split_word(copy, &rest);
    HmpCommand *c;

    if (n == 0) {
        return;
    }
    if ((n == 4 && strncmp(copy, "help", 4) == 0) ||
        (n == 1 && copy[0] == '?')) {
        do_help(hmp, rest, out);
        return;
    }
    if ((n == 4 && strncmp(copy, "info", 4) == 0) ||
        (n == 1 && copy[0] == 'i')) {
        do_info(hmp, rest, out);
        return;
    }
    c = find(hmp->cmds, copy, n);
    if (!c) {
        g_string_append_printf(out, "unknown command: '%.*s'\n", (int)n,
                               copy);
        return;
    }
    if (!c->params && *rest) {
        g_string_append_printf(out, "%s: extraneous characters at the end "
                               "of line\nTry \"help %.*s\" for more "
                               "information\n", c->names, (int)n, copy);
        return;
    }
    c->func(rest, out, c->opaque);
}

static void add_crlf(GString *dst, const char *src)
{
    for (const char *p = src; *p; p++) {
        if (*p == '\n') {
            g_string_append_c(dst, '\r');
        }
        g_string_append_c(dst, *p);
    }
}

static void info_version(const char *args, GString *out, void *opaque)
{
    g_string_append_printf(out, "%sqx %s\n", qx_qemu_version(),
                           qx_version());
}

Hmp *hmp_new(void)
{
    Hmp *hmp = g_new0(Hmp, 1);

    hmp->cmds = g_ptr_array_new_with_free_func(cmd_free);
    hmp->infos = g_ptr_array_new_with_free_func(cmd_free);
    hmp_register(hmp, "help|?", "[cmd]", "show the help", NULL, NULL);
    hmp_register(hmp, "info", "[subcommand]",
                 "show various information about the system state",
                 NULL, NULL);
    hmp_register_info(hmp, "version", "show the version of QEMU",
                      info_version, NULL);
    return hmp;
}

void hmp_free(Hmp *hmp)
{
    if (!hmp) {
        return;
    }
    g_ptr_array_free(hmp->cmds, TRUE);
    g_ptr_array_free(hmp->infos, TRUE);
    g_free(hmp);
}

/* ---- QMP bridge ------------------------------------------------------- */

static json_object *qmp_human_monitor_command(json_object *args,
                                              void *opaque, Error **errp)
{
    Hmp *hmp = opaque;
    json_object *line = json_object_object_get(args, "command-line");
    GString *out, *crlf;
    json_object *ret;

    if (!json_object_is_type(line, json_type_string)) {
        error_setg(errp, "Invalid parameter type for 'command-line', "
                   "expected: string");
        return NULL;
    }
    out = g_string_new(NULL);
    hmp_execute(hmp, json_object_get_string(line), out);
    crlf = g_string_new(NULL);
    add_crlf(crlf, out->str);
    ret = json_object_new_string_len(crlf->str, crlf->len);
    g_string_free(out, TRUE);
    g_string_free(crlf, TRUE);
    return ret;
}

void hmp_register_qmp(Hmp *hmp, QmpServer *qmp)
{
    static const char *const args[] = { "command-line", "*cpu-index", NULL };

    qmp_register(qmp, "human-monitor-command", args,
                 qmp_human_monitor_command, hmp, 0);
}

/* ---- Interactive sessions --------------------------------------------- */

static void session_write(HmpSession *s, const char *text)
{
    s->write(s->opaque, text, strlen(text));
}

HmpSession *hmp_session_new(Hmp *hmp, HmpWriteFunc *write, void *opaque)
{
    HmpSession *s = g_new0(HmpSession, 1);
    g_autofree char *banner = NULL;

    s->hmp = hmp;
    s->write = write;
    s->opaque = opaque;
    s->line = g_string_new(NULL);
    banner = g_strdup_printf("QEMU %s monitor - type 'help' for more "
                             "information\r\n(qemu) ", qx_qemu_version());
    session_write(s, banner);
    return s;
}

static void run_line(HmpSession *s)
{
    GString *out = g_string_new(NULL);
    GString *wire = g_string_new(NULL);

    g_string_append(wire, s->line->str);
    g_string_append(wire, "\r\n");
    hmp_execute(s->hmp, s->line->str, out);
    add_crlf(wire, out->str);
    g_string_append(wire, "(qemu) ");
    g_string_truncate(s->line, 0);
    s->write(s->opaque, wire->str, wire->len);
    g_string_free(out, TRUE);
    g_string_free(wire, TRUE);
}

void hmp_session_input(HmpSession *s, const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];

        if (c == '\r' || c == '\n') {
            if (c == '\n' && i > 0 && buf[i - 1] == '\r') {
                continue;
            }
            run_line(s);
        } else if (c == 0x7f || c == '\b') {
            if (s->line->len) {
                g_string_truncate(s->line, s->line->len - 1);
            }
        } else if ((unsigned char)c >= 0x20 && s->line->len < HMP_MAX_LINE) {
            g_string_append_c(s->line, c);
        }
    }
}

void hmp_session_free(HmpSession *s)
{
    if (!s) {
        return;
    }
    g_string_free(s->line, TRUE);
    g_free(s);
}
