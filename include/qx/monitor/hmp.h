/*
 * HMP: the human monitor.  A table of text commands ("stop", "info
 * status", ...), run from an interactive session (-monitor stdio, a
 * socket) or through QMP's human-monitor-command.
 *
 * Output conventions as QEMU 7.2: lines end with "\r\n" on the wire; the
 * banner is "QEMU 7.2.0 monitor - type 'help' for more information" and
 * the prompt "(qemu) "; unknown commands print "unknown command: 'x'".
 */
#ifndef QX_MONITOR_HMP_H
#define QX_MONITOR_HMP_H

#include <glib.h>
#include <stdbool.h>

#include "qx/monitor/qmp.h"

typedef struct Hmp Hmp;
typedef struct HmpSession HmpSession;

/*
 * A command handler.  args is the rest of the line after the command
 * name, with surrounding blanks removed ("" if none).  Output goes to out
 * with plain "\n" line ends.
 */
typedef void HmpFunc(const char *args, GString *out, void *opaque);

Hmp *hmp_new(void);
void hmp_free(Hmp *hmp);

/*
 * Registers a command.  names: "stop|s" (aliases after '|'); params: the
 * argument synopsis for help ("" if none; NULL: the command takes no
 * arguments and refuses extra text as QEMU does); help: the one-line help.
 * "help"/"?" and "info" are built in.
 */
void hmp_register(Hmp *hmp, const char *names, const char *params,
                  const char *help, HmpFunc *func, void *opaque);
/* Registers "info NAME"; info subcommands take no arguments. */
void hmp_register_info(Hmp *hmp, const char *name, const char *help,
                       HmpFunc *func, void *opaque);

/* Runs one command line; output with "\n" line ends, appended to out. */
void hmp_execute(Hmp *hmp, const char *line, GString *out);

/* Adds QMP's human-monitor-command (output with "\r\n" line ends). */
void hmp_register_qmp(Hmp *hmp, QmpServer *qmp);

typedef void HmpWriteFunc(void *opaque, const char *buf, size_t len);
/* An interactive session: writes the banner and the first prompt. */
HmpSession *hmp_session_new(Hmp *hmp, HmpWriteFunc *write, void *opaque);
/* Feeds typed bytes; each complete line is echoed, run and prompted. */
void hmp_session_input(HmpSession *s, const char *buf, size_t len);
void hmp_session_free(HmpSession *s);

#endif
