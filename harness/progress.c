/* Progress of long commands on stderr (harness.h, mxb_progress): redrawn in place
 * on a terminal, plain lines in a log, so a CI log shows a run is alive. */
#include "harness/harness.h"
#include "harness/internal.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void mxb_progress_init(mxb_progress *p, const char *cmd, const char *units, long total, int quiet) {
    *p = (mxb_progress){.cmd = cmd, .units = units, .total = total};
    p->mode = quiet ? 0 : isatty(2) ? 1 : 2;
    p->start = p->last = mono_s();
    p->interval = 5;
    double v;
    if (mxb_env_number("MXB_PROGRESS_SECONDS", &v, NULL, 0) > 0) p->interval = v;
}

static void draw(mxb_progress *p, const char *what, double t, int final) {
    long fresh = p->done - p->done_before;
    double rate = fresh > 0 && t > p->start ? (double)fresh / (t - p->start) : 0;
    long eta = rate > 0 ? (long)((double)(p->total - p->done) / rate + 0.5) : -1;
    char etas[32] = "?";
    if (eta >= 0) snprintf(etas, sizeof etas, "%ld:%02ld:%02ld", eta / 3600, eta / 60 % 60, eta % 60);
    int pct = p->total > 0 ? (int)(100 * p->done / p->total) : 100;
    if (p->mode == 1) {
        fprintf(stderr, "\r\033[K%s  %ld/%ld %s (%d%%)  %.2f %s/s  ETA %s", what, p->done, p->total, p->units, pct,
                rate, p->units, etas);
        p->open = !final;
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "mxb %s: %s %ld/%ld %s (%d%%), %.2f %s/s, ETA %s\n", p->cmd, what, p->done, p->total,
                p->units, pct, rate, p->units, etas);
    }
    fflush(stderr);
    p->last = t;
    p->last_done = p->done;
}

void mxb_progress_show(mxb_progress *p, const char *what, long done) {
    p->done = done;
    if (!p->mode) return;
    double t = mono_s();
    if (p->mode == 1) {
        if (t - p->last >= 0.25) draw(p, what, t, 0);
        return;
    }
    /* a line every interval seconds, or after 10 % more of the work (at most one a
     * second then: a fast command does not fill the log) */
    if (t - p->last >= p->interval ||
        (p->total > 0 && 10 * (p->done - p->last_done) >= p->total && t - p->last >= p->interval / 5))
        draw(p, what, t, 0);
}

void mxb_progress_end(mxb_progress *p, const char *what) {
    /* always said, even right after a line at 100 %: a log ends with the same line
     * ("units done 16/16") however the last progress line fell in time */
    if (!p->mode) return;
    draw(p, what, mono_s(), 1);
}
