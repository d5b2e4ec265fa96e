/*
 * qemu-img -p: the "    (12.34/100%)" progress line of convert, commit,
 * rebase and compare, with QEMU's rules for when it is reprinted.  Without
 * -p the progress is still tracked, and SIGUSR1 prints it once on stderr.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "img-common.h"

/*
 * Set by the SIGUSR1 handler, read and cleared by img_progress_print.
 * A signal handler can only reach file scope, hence the one global.
 */
static volatile sig_atomic_t img_progress_signalled;

static void img_progress_sigusr1(int signo)
{
    (void)signo;
    img_progress_signalled = 1;
}

void img_progress_init(ImgProgress *p, bool enabled, float min_skip)
{
    memset(p, 0, sizeof(*p));
    p->enabled = enabled;
    p->min_skip = min_skip;
    if (!enabled) {
        struct sigaction action;

        memset(&action, 0, sizeof(action));
        sigfillset(&action.sa_mask);
        action.sa_handler = img_progress_sigusr1;
        sigaction(SIGUSR1, &action, NULL);
    }
}

static void img_progress_show(ImgProgress *p)
{
    if (p->enabled) {
        printf("    (%3.2f/100%%)\r", p->current);
        fflush(stdout);
    } else if (img_progress_signalled) {
        fprintf(stderr, "    (%3.2f/100%%)\n", p->current);
        img_progress_signalled = 0;
    }
}

void img_progress_print(ImgProgress *p, float delta, int max)
{
    float current = max == 0 ? delta : p->current + delta / 100 * max;

    if (current > 100) {
        current = 100;
    }
    p->current = current;
    if (current > p->last_print + p->min_skip || current == 100 ||
        current == 0) {
        p->last_print = current;
        img_progress_show(p);
    }
}

void img_progress_end(ImgProgress *p)
{
    if (p->enabled) {
        printf("\n");
    }
}
