/* mxb slurm: one configuration as a Slurm job array (one shard a task, mxb run
 * --shard auto) and a merge job that runs when every task has succeeded; and the
 * status of such a run, from its journals, shard files and the scheduler.
 *
 * What lands where, for a configuration whose [run] output is OUT.h5:
 *   OUT.slurm/array.sh, merge.sh   the two job scripts (self-contained: absolute paths)
 *   OUT.slurm/jobs                 the job ids and each shard's unit count (for --status)
 *   OUT.slurm/logs/shard-I.log     task I's output (appended across requeues), merge.log
 *   OUT.shard-I-of-N.h5            the shards, as mxb run --shard I/N writes them
 *   OUT.h5                         the merged file
 * The merge job depends on the array with afterok and --kill-on-invalid-dep=yes: a
 * failed task cancels it at once instead of leaving it pending for ever. A task stopped
 * by a signal while still RUNNING (SIGUSR1 from Slurm 90 s before its time limit,
 * passed on as SIGTERM; mxb run exits 130, its journal kept) puts itself back in the
 * queue and resumes; one cancelled (scancel) or past its limit stays down. Submitting again after a failure redoes only
 * what is missing: finished shards are kept, stopped ones resume from their journals. */
#include "harness/internal.h"

#include "io/io.h"

#include <errno.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ERRLEN 1024
#define MAX_SETS 64
#define MAX_LINES 32
#define MAX_SHARDS 10000
/* requeues a task does on its own after a SIGTERM stop (a loop guard: a task that is
 * stopped every time it starts would otherwise come back for ever) */
#define MAX_REQUEUES 20
/* the array script's shell gets SIGUSR1 this many seconds before the time limit and
 * stops mxb (SIGTERM) while the task is still RUNNING, so that it can requeue itself;
 * at the limit itself the task is TIMEOUT and no longer can */
#define SIGNAL_BEFORE_LIMIT 90

static void slurm_usage(FILE *f) {
    fprintf(f,
            "usage: mxb slurm CONFIG.ini --shards N [--set S.K=V]... [--partition P] [--time T]\n"
            "                 [--cpus-per-task C] [--mem MB] [--account A] [--sbatch-line LINE]...\n"
            "                 [--dry-run] [--wait]\n"
            "       mxb slurm CONFIG.ini --status [--set S.K=V]... [--wait]\n"
            "  Submits the configuration as a Slurm job array of N tasks (task I runs\n"
            "  mxb run --shard auto: shard I of N) and a merge job that runs once all have\n"
            "  succeeded (afterok; a failed task cancels it). Prints the job ids and the\n"
            "  merged file's path. Files: OUTPUT.slurm/ (array.sh, merge.sh, jobs, logs/).\n"
            "  --cpus-per-task C  CPUs of each task (default 1): its OpenMP threads, and so\n"
            "                     its images in flight\n"
            "  --mem MB           memory of each task (default: the run's estimate for C\n"
            "                     threads, x 1.25 + 256 MiB)\n"
            "  --time T           time limit (sbatch's forms: MM, HH:MM:SS, D-HH); 90 s\n"
            "                     before it a task stops between images, requeues itself\n"
            "                     and resumes from its journal when it starts again\n"
            "  --partition P, --account A: as sbatch's; --sbatch-line NAME=VALUE adds\n"
            "                     '#SBATCH --NAME=VALUE' to both scripts (e.g. qos=long)\n"
            "  --dry-run          print the scripts and the sbatch commands; submit nothing\n"
            "  --status           each shard's units done (journals, shard files), the\n"
            "                     failed tasks and the merge's state (scontrol)\n"
            "  --wait             after submitting (or with --status): wait until the merge\n"
            "                     job ends, then print the status\n"
            "  Exit status: 0 submitted / merged / under way, 1 a shard or the merge failed,\n"
            "  2 bad input.\n");
}

/* ---- paths and quoting ----------------------------------------------------------- */

/* OUT.h5 -> OUT (the stem mxb run names shards by) */
static void output_stem(const char *out, char *stem, size_t n) {
    const char *dot = strrchr(out, '.');
    int len = dot && !strcmp(dot, ".h5") ? (int)(dot - out) : (int)strlen(out);
    snprintf(stem, n, "%.*s", len, out);
}

/* 'text' for sh, with ' as '\'' */
static void shell_quote(const char *s, char *out, size_t n) {
    size_t o = 0;
    if (o + 1 < n) out[o++] = '\'';
    for (; *s && o + 5 < n; s++) {
        if (*s == '\'') {
            memcpy(out + o, "'\\''", 4);
            o += 4;
        } else {
            out[o++] = *s;
        }
    }
    if (o + 1 < n) out[o++] = '\'';
    out[o] = 0;
}

/* ---- running sbatch / scontrol ----------------------------------------------------- */

/* argv[0] from PATH, its stdout into out (NUL-terminated, cut at n - 1); its exit
 * status, or -1 when it could not be run (err says why). stderr passes through. */
static int capture(char *const argv[], char *out, size_t n, char *err, size_t errlen) {
    int fd[2];
    out[0] = 0;
    if (pipe(fd)) {
        mxb_seterr(err, errlen, "cannot run %s: %s", argv[0], strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        mxb_seterr(err, errlen, "cannot run %s: %s", argv[0], strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t got = 0;
    char drain[4096];
    for (;;) { /* read everything (a child blocked on a full pipe never exits) */
        ssize_t r = got + 1 < n ? read(fd[0], out + got, n - 1 - got) : read(fd[0], drain, sizeof drain);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (got + 1 < n) got += (size_t)r;
    }
    out[got] = 0;
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
        mxb_seterr(err, errlen, "cannot run %s (not installed, or not on PATH)", argv[0]);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* `sbatch --parsable ...`: the job id ("ID" or "ID;CLUSTER") */
static int sbatch(char *const argv[], long *id, char *err, size_t errlen) {
    char out[256];
    int rc = capture(argv, out, sizeof out, err, errlen);
    if (rc < 0) return -1;
    char *end = NULL;
    long v = strtol(out, &end, 10);
    if (rc || end == out || v <= 0 || (*end && *end != ';' && *end != '\n')) {
        mxb_seterr(err, errlen, "sbatch exited %d without a job id (its message is above)", rc);
        return -1;
    }
    *id = v;
    return 0;
}

/* ---- the scheduler's view: scontrol show job -o ------------------------------------ */

typedef struct {
    char state[32];     /* JobState; "" when the scheduler does not know the job (any more) */
    char reason[64];
    char exit_code[16]; /* "1:0" */
} job_state;

/* the value of "KEY=" in one scontrol -o line, up to the next space */
static void field(const char *line, const char *key, char *out, size_t n) {
    out[0] = 0;
    size_t k = strlen(key);
    for (const char *p = line; (p = strstr(p, key)); p++)
        if ((p == line || p[-1] == ' ') && p[k] == '=') {
            p += k + 1;
            size_t len = strcspn(p, " \n");
            snprintf(out, n, "%.*s", (int)(len < n ? len : n - 1), p);
            return;
        }
}

/* "3", "0-3", "1,4-6", "0-9%2": is task i in it */
static int task_in(const char *spec, int i) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    buf[strcspn(buf, "%")] = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long a = strtol(tok, NULL, 10), b = a;
        const char *dash = strchr(tok, '-');
        if (dash) b = strtol(dash + 1, NULL, 10);
        if (i >= a && i <= b) return 1;
    }
    return 0;
}

/* every task of array job `array` (tasks[0..n)), and the merge job; unknown jobs stay "" */
static void query_jobs(long array, long merge, job_state *tasks, int n, job_state *mj) {
    memset(tasks, 0, (size_t)n * sizeof *tasks);
    memset(mj, 0, sizeof *mj);
    char id[32], *out = mxb_alloc((size_t)n * 2048 + 65536, "the scheduler's answer"), err[ERRLEN];
    const size_t cap = (size_t)n * 2048 + 65536;
    snprintf(id, sizeof id, "%ld", array);
    char *argv_a[] = {"scontrol", "show", "job", "-o", id, NULL};
    if (array > 0 && capture(argv_a, out, cap, err, sizeof err) == 0)
        for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char spec[256];
            job_state js;
            field(line, "ArrayTaskId", spec, sizeof spec);
            field(line, "JobState", js.state, sizeof js.state);
            field(line, "Reason", js.reason, sizeof js.reason);
            field(line, "ExitCode", js.exit_code, sizeof js.exit_code);
            for (int i = 0; spec[0] && i < n; i++)
                if (task_in(spec, i)) tasks[i] = js;
        }
    snprintf(id, sizeof id, "%ld", merge);
    char *argv_m[] = {"scontrol", "show", "job", "-o", id, NULL};
    if (merge > 0 && capture(argv_m, out, cap, err, sizeof err) == 0) {
        field(out, "JobState", mj->state, sizeof mj->state);
        field(out, "Reason", mj->reason, sizeof mj->reason);
        field(out, "ExitCode", mj->exit_code, sizeof mj->exit_code);
    }
    free(out);
}

/* states in which a job will still run (or is running) */
static int job_live(const char *s) {
    static const char *const live[] = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED",
                                       "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "SUSPENDED", "STAGE_OUT",
                                       "SIGNALING", "STOPPED"};
    for (size_t i = 0; i < sizeof live / sizeof *live; i++)
        if (!strcmp(s, live[i])) return 1;
    return 0;
}

/* ---- the jobs file: what --status needs of a submission ---------------------------- */

typedef struct {
    int shards;
    long array, merge;
    long *units; /* [shards] units of each shard */
} plan;

static int plan_write(const char *path, const plan *p, char *err, size_t errlen) {
    mxb_outfile o;
    if (mxb_outfile_open(&o, path, err, errlen)) return -1;
    fprintf(o.f, "mxb-slurm-jobs 1\nshards %d\narray %ld\nmerge %ld\n", p->shards, p->array, p->merge);
    for (int i = 0; i < p->shards; i++) fprintf(o.f, "units %d %ld\n", i, p->units[i]);
    return mxb_outfile_commit(&o, 1, err, errlen);
}

static int plan_read(const char *path, plan *p, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    FILE *f = fopen(path, "r");
    if (!f) {
        mxb_seterr(err, errlen, "%s: %s (was this configuration submitted with mxb slurm, with the same --set?)", path,
                   strerror(errno));
        return -1;
    }
    char line[256];
    int version = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        int i;
        long v;
        if (sscanf(line, "mxb-slurm-jobs %d", &version) == 1) continue;
        if (sscanf(line, "shards %d", &p->shards) == 1) {
            if (p->shards < 1 || p->shards > MAX_SHARDS || p->units) bad = 1;
            else p->units = mxb_alloc0((size_t)p->shards, sizeof *p->units, "the shard table");
            continue;
        }
        if (sscanf(line, "array %ld", &p->array) == 1 || sscanf(line, "merge %ld", &p->merge) == 1) continue;
        if (sscanf(line, "units %d %ld", &i, &v) == 2 && p->units && i >= 0 && i < p->shards && v >= 0) {
            p->units[i] = v;
            continue;
        }
        bad = 1;
    }
    fclose(f);
    if (bad || version != 1 || !p->units) {
        mxb_seterr(err, errlen, "%s: not a jobs file of mxb slurm", path);
        free(p->units);
        p->units = NULL;
        return -1;
    }
    return 0;
}

/* ---- the status ------------------------------------------------------------------- */

/* Prints each shard's state and the merge's; 0 when nothing failed, 1 otherwise. With
 * `finished`, the run is over as far as the scheduler goes (--wait returned): a shard
 * without its file then counts as failed. */
static int status_print(const char *stem, const char *out, const char *dir, const plan *p, int finished) {
    job_state *ts = mxb_alloc0((size_t)p->shards, sizeof *ts, "the shard table"), ms;
    query_jobs(p->array, p->merge, ts, p->shards, &ms);
    int failed = 0, done = 0;
    char first_failed[600] = "";
    struct stat st;
    const int merged = stat(out, &st) == 0;
    printf("mxb slurm: %s in %d shards (array job %ld, merge job %ld)\n", out, p->shards, p->array, p->merge);
    for (int i = 0; i < p->shards; i++) {
        char sp[4200], jp[4300], what[600], err[ERRLEN];
        snprintf(sp, sizeof sp, "%s.shard-%d-of-%d.h5", stem, i, p->shards);
        snprintf(jp, sizeof jp, "%s.journal", sp);
        const job_state *t = &ts[i];
        long rec = 0;
        int in_use = 0, have_j = stat(jp, &st) == 0 && mxb_journal_peek(jp, &rec, &in_use, err, sizeof err) == 0;
        int bad = 0;
        /* the scheduler's failure first: a file of that name may be another run's */
        const int ended_bad = t->state[0] && !job_live(t->state) && strcmp(t->state, "COMPLETED");
        if (!ended_bad && stat(sp, &st) == 0) {
            snprintf(what, sizeof what, "done, %ld units: %s", p->units[i], sp);
            done++;
        } else if (t->state[0] && !job_live(t->state)) {
            /* ended without its file: FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, ... */
            snprintf(what, sizeof what, "%s (exit %s), %ld of %ld units in its journal: see %s/logs/shard-%d.log", t->state,
                     t->exit_code[0] ? t->exit_code : "?", rec, p->units[i], dir, i);
            bad = 1;
        } else if (t->state[0]) {
            snprintf(what, sizeof what, "%s%s%s, %ld of %ld units", t->state, t->reason[0] && strcmp(t->reason, "None") ? " " : "",
                     t->reason[0] && strcmp(t->reason, "None") ? t->reason : "", rec, p->units[i]);
        } else if (have_j) { /* the scheduler has forgotten the task (MinJobAge) */
            snprintf(what, sizeof what, "%s, %ld of %ld units (%s)", in_use ? "being written" : "stopped", rec, p->units[i], jp);
            bad = finished && !in_use;
        } else {
            snprintf(what, sizeof what, "not started%s", p->array > 0 ? " (unknown to the scheduler)" : "");
            bad = finished;
        }
        printf("  shard %d/%d: %s\n", i, p->shards, what);
        if (bad && !failed++)
            snprintf(first_failed, sizeof first_failed, "shard %d/%d (%s, exit %s; see %s/logs/shard-%d.log)", i,
                     p->shards, t->state[0] ? t->state : "did not finish", t->exit_code[0] ? t->exit_code : "?", dir, i);
    }
    const int merge_bad = !merged && ms.state[0] && !job_live(ms.state);
    if (merged)
        printf("  merge: done: %s\n", out);
    else if (ms.state[0])
        printf("  merge: %s%s%s%s\n", ms.state, ms.reason[0] && strcmp(ms.reason, "None") ? " (" : "",
               ms.reason[0] && strcmp(ms.reason, "None") ? ms.reason : "", ms.reason[0] && strcmp(ms.reason, "None") ? ")" : "");
    else
        printf("  merge: %s\n", finished ? "did not run" : "unknown to the scheduler");
    if (failed)
        fprintf(stderr,
                "mxb slurm: %s failed%s; %d of %d shards done; the merge job %ld is %s. Fix the cause, then submit "
                "again: finished shards are kept, stopped ones resume\n",
                first_failed, failed > 1 ? " (and others: --status)" : "", done, p->shards, p->merge,
                ms.state[0] ? ms.state : "gone");
    else if (merge_bad || (finished && !merged))
        fprintf(stderr, "mxb slurm: the merge job %ld ended %s without writing %s: see %s/logs/merge.log\n", p->merge,
                ms.state[0] ? ms.state : "(unknown)", out, dir);
    free(ts);
    return failed || merge_bad || (finished && !merged) ? 1 : 0;
}

/* Until the merge job has ended, or the scheduler has not known it for 10 looks in a
 * row (gone after MinJobAge, or scontrol failing: the files say the rest); 1 s apart. */
static void wait_merge(const plan *p) {
    for (int unknown = 0; unknown < 10; sleep(1)) {
        job_state ms, none;
        query_jobs(0, p->merge, &none, 0, &ms);
        if (ms.state[0] && !job_live(ms.state)) return;
        unknown = ms.state[0] ? 0 : unknown + 1;
    }
}

/* ---- submitting ------------------------------------------------------------------- */

typedef struct {
    const char *partition, *time, *account;
    const char *lines[MAX_LINES];
    int nlines, cpus;
    long mem_mb;
} site_opts;

static void sbatch_head(FILE *f, const site_opts *o, const char *name, long mem_mb) {
    fprintf(f, "#SBATCH --job-name=%s\n#SBATCH --cpus-per-task=%d\n#SBATCH --mem=%ldM\n", name, o->cpus, mem_mb);
    if (o->partition) fprintf(f, "#SBATCH --partition=%s\n", o->partition);
    if (o->time) fprintf(f, "#SBATCH --time=%s\n", o->time);
    if (o->account) fprintf(f, "#SBATCH --account=%s\n", o->account);
    for (int i = 0; i < o->nlines; i++) /* "qos=long" or "--qos=long" */
        fprintf(f, "#SBATCH %s%s\n", strncmp(o->lines[i], "-", 1) ? "--" : "", o->lines[i]);
}

/* The two scripts into f_array and f_merge. */
static void write_scripts(FILE *fa, FILE *fm, const site_opts *o, const char *dir_abs, const char *cwd,
                          const char *exe, const char *config_abs, const char *const *sets, int nsets, int shards,
                          const char *stem, const char *out, const char *name) {
    char q[4 * 4096 + 8], qe[4 * 4096 + 8], qc[4 * 4096 + 8];
    shell_quote(cwd, q, sizeof q);
    shell_quote(exe, qe, sizeof qe);
    shell_quote(config_abs, qc, sizeof qc);
    fprintf(fa, "#!/bin/bash\n# mxb slurm (mxb %s, %s): shard I of %d is array task I; see mxb slurm --help\n", MXB_VERSION,
            MXB_GIT_REV, shards);
    sbatch_head(fa, o, name, o->mem_mb);
    fprintf(fa,
            "#SBATCH --array=0-%d\n#SBATCH --output=%s/logs/shard-%%a.log\n#SBATCH --open-mode=append\n"
            "#SBATCH --requeue\n#SBATCH --signal=B:USR1@%d\n",
            shards - 1, dir_abs, SIGNAL_BEFORE_LIMIT);
    fprintf(fa, "cd %s || exit 1\n", q);
    fprintf(fa, "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-%d}\n", o->cpus);
    fprintf(fa, "echo \"mxb slurm: task ${SLURM_ARRAY_TASK_ID} on $(hostname), start ${SLURM_RESTART_COUNT:-0}\"\n");
    fprintf(fa, "# SIGTERM reaches mxb too (it stops between images, keeping its journal): the shell\n"
                "# waits for it; USR1, %d s before the time limit, is passed on to it as SIGTERM\n"
                "trap ':' TERM\ntrap 'kill -TERM $pid 2>/dev/null' USR1\n", SIGNAL_BEFORE_LIMIT);
    fprintf(fa, "%s run %s --shard auto", qe, qc);
    for (int i = 0; i < nsets; i++) {
        char qs[4 * 4096 + 8];
        shell_quote(sets[i], qs, sizeof qs);
        fprintf(fa, " --set %s", qs);
    }
    fprintf(fa, " >/dev/null &\npid=$!\n"
                "while kill -0 $pid 2>/dev/null; do wait $pid; done # a trapped signal ends a wait early\n"
                "wait $pid\nrc=$?\n");
    fprintf(fa,
            "# 130: stopped by a signal. Still RUNNING (not cancelled, not past its limit): back\n"
            "# into the queue to resume from the journal\n"
            "task=\"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n"
            "if [ $rc -eq 130 ] && [ \"${SLURM_RESTART_COUNT:-0}\" -lt %d ] &&\n"
            "   scontrol show job -o \"$task\" | grep -q 'JobState=RUNNING '; then\n"
            "  scontrol requeue \"$task\" && exit 0\n"
            "fi\nexit $rc\n",
            MAX_REQUEUES);
    fprintf(fm, "#!/bin/bash\n# mxb slurm (mxb %s, %s): the merge of the %d shards; submitted with\n"
                "# --dependency=afterok:ARRAY --kill-on-invalid-dep=yes\n",
            MXB_VERSION, MXB_GIT_REV, shards);
    site_opts mo = *o;
    mo.cpus = 1;
    sbatch_head(fm, &mo, name, 1024 + o->mem_mb / 4);
    fprintf(fm, "#SBATCH --output=%s/logs/merge.log\n", dir_abs);
    fprintf(fm, "cd %s || exit 1\n", q);
    char qo[4 * 4096 + 8];
    shell_quote(out, qo, sizeof qo);
    fprintf(fm, "exec %s merge %s", qe, qo);
    for (int i = 0; i < shards; i++) {
        char sp[4200], qs[4 * 4200 + 8];
        snprintf(sp, sizeof sp, "%s.shard-%d-of-%d.h5", stem, i, shards);
        shell_quote(sp, qs, sizeof qs);
        fprintf(fm, " %s", qs);
    }
    fprintf(fm, " >/dev/null\n");
}

/* units of shard i of n: each enabled test's rows i, i+n, ... times the models */
static long shard_units(const mxb_run_state *R, int i, int n) {
    long u = 0;
    for (int t = 0; t < MXB_NTESTS; t++)
        if (R->res.test[t].enabled) u += (long)R->cfg.nmodels * ((R->selected[t] - i + n - 1) / n);
    return u;
}

/* a job script: through the one writer (a stale or planted file at PATH is replaced,
 * never followed), then made executable */
static int write_file(const char *path, const char *text, int mode, char *err, size_t errlen) {
    mxb_outfile o;
    if (mxb_outfile_open(&o, path, err, errlen)) return -1;
    if (fputs(text, o.f) < 0) {
        mxb_seterr(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        mxb_outfile_abort(&o);
        return -1;
    }
    if (mxb_outfile_commit(&o, 0, err, errlen)) return -1;
    if (chmod(path, (mode_t)mode)) {
        mxb_seterr(err, errlen, "%s: cannot make it executable: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int mxb_cmd_slurm(int argc, char **argv) {
    const char *sets[MAX_SETS], *pos[1];
    site_opts o;
    memset(&o, 0, sizeof o);
    o.cpus = 1;
    int nsets = 0, npos = 0, shards = 0, dry = 0, status = 0, wait = 0, mem = 0;
    mxb_opt opts[] = {MXB_OPT_L("set", sets, &nsets, MAX_SETS),
                      MXB_OPT_I("shards", &shards, 1, MAX_SHARDS),
                      MXB_OPT_S("partition", &o.partition),
                      MXB_OPT_S("time", &o.time),
                      MXB_OPT_I("cpus-per-task", &o.cpus, 1, 4096),
                      MXB_OPT_I("mem", &mem, 1, 1 << 30),
                      MXB_OPT_S("account", &o.account),
                      MXB_OPT_L("sbatch-line", o.lines, &o.nlines, MAX_LINES),
                      MXB_OPT_F("dry-run", &dry),
                      MXB_OPT_F("status", &status),
                      MXB_OPT_F("wait", &wait),
                      MXB_OPT_END};
    int prc = mxb_opts_parse("slurm", argc, argv, opts, pos, 1, &npos, slurm_usage);
    if (prc) return prc == 1 ? 0 : 2;
    if (npos != 1) return mxb_usage_error("slurm", "no configuration file");
    if (!status && !shards) return mxb_usage_error("slurm", "--shards N is needed (or --status)");
    if (status && (shards || dry || o.partition || o.time || o.account || o.nlines || mem ||
                   mxb_opt_seen(opts, "cpus-per-task")))
        return mxb_usage_error("slurm", "--status takes only --set and --wait");
    if (dry && wait) return mxb_usage_error("slurm", "--dry-run submits nothing to wait for");
    /* the values go into '#SBATCH' lines: one line each, no shell or sbatch surprises */
    const char *vals[] = {o.partition, o.time, o.account};
    for (size_t i = 0; i < 3 + (size_t)o.nlines; i++) {
        const char *v = i < 3 ? vals[i] : o.lines[i - 3];
        if (v && strpbrk(v, "\n\r")) return mxb_usage_error("slurm", "an sbatch value holds a line break");
    }
    o.mem_mb = mem;

    char err[ERRLEN] = "", stem[4096], dir[4200], jobs[4300];
    mxb_run_config cfg;
    if (mxb_run_config_load(pos[0], sets, nsets, &cfg, err, sizeof err)) {
        fprintf(stderr, "mxb slurm: %s\n", err);
        return 2;
    }
    char out[4096];
    snprintf(out, sizeof out, "%s", cfg.output);
    mxb_run_config_free(&cfg);
    output_stem(out, stem, sizeof stem);
    snprintf(dir, sizeof dir, "%s.slurm", stem);
    snprintf(jobs, sizeof jobs, "%s/jobs", dir);

    if (status) {
        plan p;
        if (plan_read(jobs, &p, err, sizeof err)) {
            fprintf(stderr, "mxb slurm: %s\n", err);
            return 2;
        }
        if (wait) wait_merge(&p);
        int rc = status_print(stem, out, dir, &p, wait);
        free(p.units);
        return rc;
    }

    struct stat st;
    if (stat(out, &st) == 0) {
        fprintf(stderr, "mxb slurm: %s exists: this run is merged already (remove it to run again)\n", out);
        return 2;
    }
    if (!dry && stat(jobs, &st) == 0) { /* a resubmission: not beside a submission still alive */
        plan old;
        if (plan_read(jobs, &old, err, sizeof err) == 0) {
            job_state *ts = mxb_alloc0((size_t)old.shards, sizeof *ts, "the shard table"), ms;
            query_jobs(old.array, old.merge, ts, old.shards, &ms);
            int live = job_live(ms.state);
            for (int i = 0; i < old.shards; i++) live |= job_live(ts[i].state);
            free(ts);
            free(old.units);
            if (live) {
                fprintf(stderr, "mxb slurm: the jobs of %s (array %ld, merge %ld) are still queued or running; wait for "
                                "them (--status --wait) or scancel them first\n", jobs, old.array, old.merge);
                return 2;
            }
        }
    }
    /* the plan: the run's set-up as a task with C threads would do it (shard 0, the
     * largest), for its memory estimate and the shards' sizes; no work is done */
    mxb_run_state *R = mxb_alloc0(1, sizeof *R, "the run's state");
    R->shard_i = 0;
    R->shard_n = shards;
    R->quiet = 1;
    R->plan_only = 1;
    const int outer = omp_get_max_threads();
    omp_set_num_threads(o.cpus);
    int done = 0, code = mxb_run_setup(R, pos[0], sets, nsets, &done, err, sizeof err);
    omp_set_num_threads(outer);
    plan p = {shards, 0, 0, NULL};
    char *ta = NULL, *tm = NULL;
    size_t la = 0, lm = 0;
    FILE *fa = NULL, *fm = NULL;
    if (code) {
        fprintf(stderr, "mxb slurm: %s\n", err);
        goto out;
    }
    code = 2;
    for (int t = 0; t < MXB_NTESTS; t++) /* mxb run refuses an empty selection */
        if (R->res.test[t].enabled && shards > R->selected[t]) {
            fprintf(stderr, "mxb slurm: %d shards, but the %s test selects %d images: a shard would have none; at most %d\n",
                    shards, mxb_test_names[t], R->selected[t], R->selected[t]);
            goto out;
        }
    if (!o.mem_mb) o.mem_mb = (long)(R->memory_mb + R->memory_mb / 4 + 256);
    p.units = mxb_alloc0((size_t)shards, sizeof *p.units, "the shard table");
    for (int i = 0; i < shards; i++) p.units[i] = shard_units(R, i, shards);

    char exe[PATH_MAX], cwd[PATH_MAX], config_abs[PATH_MAX], dir_abs[PATH_MAX + 4200], name[128];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el <= 0 || !getcwd(cwd, sizeof cwd) || !realpath(pos[0], config_abs)) {
        fprintf(stderr, "mxb slurm: cannot resolve the paths of mxb, the working folder or %s: %s\n", pos[0], strerror(errno));
        goto out;
    }
    exe[el] = 0;
    snprintf(dir_abs, sizeof dir_abs, "%s%s%s", dir[0] == '/' ? "" : cwd, dir[0] == '/' ? "" : "/", dir);
    const char *base = strrchr(stem, '/');
    snprintf(name, sizeof name, "mxb-%.100s", base ? base + 1 : stem);
    fa = open_memstream(&ta, &la);
    fm = open_memstream(&tm, &lm);
    if (!fa || !fm) {
        fprintf(stderr, "mxb slurm: out of memory\n");
        goto out;
    }
    write_scripts(fa, fm, &o, dir_abs, cwd, exe, config_abs, sets, nsets, shards, stem, out, name);
    fclose(fa);
    fclose(fm);
    fa = fm = NULL;
    char arr[4300], mrg[4300], logs[4300];
    snprintf(arr, sizeof arr, "%s/array.sh", dir);
    snprintf(mrg, sizeof mrg, "%s/merge.sh", dir);
    snprintf(logs, sizeof logs, "%s/logs", dir);
    if (dry) {
        printf("# ---- %s\n%s# ---- %s\n%s# ---- submitted as\nsbatch --parsable %s\n"
               "sbatch --parsable --dependency=afterok:ARRAY_JOB_ID --kill-on-invalid-dep=yes %s\n",
               arr, ta, mrg, tm, arr, mrg);
        code = 0;
        goto out;
    }
    if ((mkdir(dir, 0777) && errno != EEXIST) || (mkdir(logs, 0777) && errno != EEXIST)) {
        fprintf(stderr, "mxb slurm: cannot make %s: %s\n", logs, strerror(errno));
        goto out;
    }
    if (write_file(arr, ta, 0755, err, sizeof err) || write_file(mrg, tm, 0755, err, sizeof err)) {
        fprintf(stderr, "mxb slurm: %s\n", err);
        goto out;
    }
    code = 1;
    char *argv_a[] = {"sbatch", "--parsable", arr, NULL};
    if (sbatch(argv_a, &p.array, err, sizeof err)) {
        fprintf(stderr, "mxb slurm: submitting %s: %s\n", arr, err);
        goto out;
    }
    char dep[64];
    snprintf(dep, sizeof dep, "--dependency=afterok:%ld", p.array);
    char *argv_m[] = {"sbatch", "--parsable", dep, "--kill-on-invalid-dep=yes", mrg, NULL};
    if (sbatch(argv_m, &p.merge, err, sizeof err)) {
        fprintf(stderr, "mxb slurm: submitting %s: %s (the array job %ld is queued: scancel %ld)\n", mrg, err, p.array,
                p.array);
        goto out;
    }
    if (plan_write(jobs, &p, err, sizeof err)) {
        fprintf(stderr, "mxb slurm: %s (the jobs are queued: array %ld, merge %ld)\n", err, p.array, p.merge);
        goto out;
    }
    printf("mxb slurm: array job %ld (%d shards, %d CPU%s and %ld MiB each; logs in %s/logs), merge job %ld after it\n",
           p.array, shards, o.cpus, o.cpus > 1 ? "s" : "", o.mem_mb, dir, p.merge);
    printf("mxb slurm: the merged file will be %s; progress: mxb slurm %s --status%s\n", out, pos[0],
           nsets ? " (with the same --set options)" : "");
    fflush(stdout);
    code = 0;
    if (wait) {
        wait_merge(&p);
        code = status_print(stem, out, dir, &p, 1);
    }
out:
    if (fa) fclose(fa);
    if (fm) fclose(fm);
    free(ta);
    free(tm);
    free(p.units);
    mxb_run_state_free(R);
    free(R);
    return code;
}
