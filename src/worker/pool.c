/* pool: the supervisor (see worker.h). It forks the workers, restarts those that die (with
 * backoff), gives a dead worker's order back at once (it sees the death before anyone), forwards
 * SIGTERM/SIGINT and waits for the drain, prunes old evidence, and stops the whole pool when
 * workers cannot even start. It never touches a browser or the portal. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "queue.h"
#include "worker_internal.h"

#define POOL_TICK_MS         200
#define POOL_START_FAIL_MAX  5     /* deaths at start in a row that stop the pool */
#define POOL_START_WINDOW_MS 10000 /* a worker that dies within this of its start "died at start" */
#define POOL_BACKOFF_MAX_MS  30000
#define POOL_REAP_AFTER_MS   5000  /* after a death, reap every tick for this long */
#define POOL_DRAIN_MARGIN_MS 10000 /* beyond GSPBOT_TIMEOUT_MS before the drain turns to SIGKILL */
#define POOL_PRUNE_EVERY_MS  3600000
#define POOL_MAX_WORKERS     64

volatile sig_atomic_t worker__stop_signal;

static void on_stop(int sig)
{
    worker__stop_signal = sig;
}

int pool_stop_signal(void)
{
    return worker__stop_signal;
}

void worker__signals_reset(void)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            (void)sigaction(s, &dfl, NULL);
    struct sigaction stop = {.sa_handler = on_stop}; // no SA_RESTART: waits wake up
    sigemptyset(&stop.sa_mask);
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGINT, &stop, NULL);
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &ign, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

struct child {
    pid_t pid;            /* 0 = not running */
    long long started;    /* monotonic ms */
    long long restart_at; /* when to start it again (0 = now) */
};

struct pool {
    const struct pool_opts *o;
    char id[64];
    struct db *db;
    struct child kids[POOL_MAX_WORKERS];
    int n;
    int start_failures; /* in a row */
    int backoff_ms;
    long long reap_until;
    bool stopping;
    long long stop_deadline;
    char why[512];
};

/* Removes evidence files older than GSPBOT_EVIDENCE_DAYS (only the ones gspbot names order-*). */
static void prune_evidence(const struct config *cfg)
{
    DIR *d = opendir(cfg->screenshot_dir);
    if (d == NULL)
        return;
    time_t limit = time(NULL) - (time_t)cfg->evidence_days * 86400;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "order-", 6) != 0)
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", cfg->screenshot_dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < limit && unlink(path) == 0)
            removed++;
    }
    closedir(d);
    if (removed > 0)
        log_info("pool", "pruned %d evidence file%s older than %d days", removed, removed == 1 ? "" : "s",
                 cfg->evidence_days);
}

/* The child side of the fork: never returns. */
static void child_main(struct pool *p, int index, pid_t parent)
{
    // Dies with the supervisor, even a SIGKILLed one (and its Chromium dies with it in turn).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(WORKER_EXIT_STOPPED);
    worker__signals_reset();
    if (p->db != NULL) {
        // The supervisor's connection must not be closed from here (that would end its session):
        // its socket is pointed at /dev/null first, so libpq's goodbye goes nowhere.
        int fd = PQsocket(db_conn(p->db));
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd >= 0 && nul >= 0)
            dup2(nul, fd);
        if (nul >= 0)
            close(nul);
        db_free(p->db);
        p->db = NULL;
    }
    _exit(worker__main(p->o, index, p->id));
}

static int start_child(struct pool *p, int i)
{
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        log_error("pool", "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        child_main(p, i, parent);
    p->kids[i].pid = pid;
    p->kids[i].started = worker__now_ms();
    p->kids[i].restart_at = 0;
    log_debug("pool", "worker %d started (pid %d)", i, (int)pid);
    return 0;
}

static void signal_children(struct pool *p, int sig)
{
    for (int i = 0; i < p->n; i++)
        if (p->kids[i].pid > 0)
            kill(p->kids[i].pid, sig);
}

static void begin_stop(struct pool *p, int sig, const char *why)
{
    if (p->stopping)
        return;
    p->stopping = true;
    p->stop_deadline = worker__now_ms() + p->o->cfg->timeout_ms + POOL_DRAIN_MARGIN_MS;
    if (why != NULL && p->why[0] == '\0')
        snprintf(p->why, sizeof p->why, "%s", why);
    log_info("pool", "stopping: %s; waiting for the workers to finish or release their orders",
             why ? why : "asked to stop");
    signal_children(p, sig);
}

/* A worker ended: was it asked to, did it fail to start, or did it die? */
static void child_ended(struct pool *p, int i, int status)
{
    long long lived = worker__now_ms() - p->kids[i].started;
    p->kids[i].pid = 0;
    p->reap_until = worker__now_ms() + POOL_REAP_AFTER_MS;
    if (p->stopping)
        return;
    char how[96];
    bool at_start = lived < POOL_START_WINDOW_MS;
    if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_UNAVAILABLE) {
        snprintf(how, sizeof how, "could not start (database or Chromium unavailable)");
        at_start = true;
    } else if (WIFSIGNALED(status)) {
        snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
    }
    if (at_start) {
        p->start_failures++;
        p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : 1000;
        if (p->backoff_ms > POOL_BACKOFF_MAX_MS)
            p->backoff_ms = POOL_BACKOFF_MAX_MS;
    } else {
        p->start_failures = 0;
        p->backoff_ms = 500;
    }
    log_warn("pool", "worker %d %s after %.1f s: %s", i, how, lived / 1000.0,
             p->start_failures >= POOL_START_FAIL_MAX ? "stopping the pool" : "restarting it");
    if (p->start_failures >= POOL_START_FAIL_MAX) {
        char why[256];
        snprintf(why, sizeof why, "workers failed at start %d times in a row (the last %s); see the log above",
                 p->start_failures, how);
        begin_stop(p, SIGTERM, why);
        return;
    }
    p->kids[i].restart_at = worker__now_ms() + p->backoff_ms;
}

static void reap_db(struct pool *p)
{
    if (p->db == NULL || PQstatus(db_conn(p->db)) != CONNECTION_OK) {
        db_free(p->db);
        p->db = NULL;
        if (db_open(&p->db, p->o->cfg->database_url) != 0) {
            db_free(p->db);
            p->db = NULL;
            return;
        }
    }
    int moved = queue_reap(p->db, p->o->cfg->takeover_settle_ms);
    if (moved > 0)
        log_info("pool", "gave back %d order%s of a worker that died", moved, moved == 1 ? "" : "s");
    else if (moved < 0)
        log_debug("pool", "reap: %s", db_errmsg(p->db));
}

int pool_run(const struct pool_opts *o)
{
    struct pool p = {.o = o, .n = o->concurrency};
    if (p.n < 1)
        p.n = 1;
    if (p.n > POOL_MAX_WORKERS)
        p.n = POOL_MAX_WORKERS;
    char host[HOST_NAME_MAX + 1] = "localhost";
    gethostname(host, sizeof host);
    snprintf(p.id, sizeof p.id, "p%d", (int)getpid());
    worker__stop_signal = 0;
    struct sigaction stop = {.sa_handler = on_stop}, old_term, old_int;
    sigemptyset(&stop.sa_mask);
    sigaction(SIGTERM, &stop, &old_term);
    sigaction(SIGINT, &stop, &old_int);
    if (db_open(&p.db, o->cfg->database_url) != 0) {
        log_warn("pool", "%s (workers will keep trying)", db_errmsg(p.db));
        db_free(p.db);
        p.db = NULL;
    }
    prune_evidence(o->cfg);
    long long last_prune = worker__now_ms();
    log_info("pool", "%d worker%s on %s%s", p.n, p.n == 1 ? "" : "s", host, o->batch_id > 0 ? " for one batch" : "");
    for (int i = 0; i < p.n; i++)
        if (start_child(&p, i) != 0)
            p.kids[i].restart_at = worker__now_ms() + 1000;
    int sig_seen = 0;
    for (;;) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            for (int i = 0; i < p.n; i++)
                if (p.kids[i].pid == pid)
                    child_ended(&p, i, status);
        if (worker__now_ms() < p.reap_until)
            reap_db(&p);
        if (worker__stop_signal != 0 && !p.stopping) {
            sig_seen = worker__stop_signal;
            begin_stop(&p, sig_seen, sig_seen == SIGINT ? "interrupted (Ctrl-C)" : "SIGTERM");
        }
        if (!p.stopping && o->hooks.done != NULL && o->hooks.done(o->hooks.arg))
            begin_stop(&p, SIGTERM, NULL);
        int alive = 0;
        for (int i = 0; i < p.n; i++)
            alive += p.kids[i].pid > 0;
        if (p.stopping && alive == 0)
            break;
        if (p.stopping && worker__now_ms() > p.stop_deadline) {
            log_warn("pool", "%d worker%s did not stop in time: killing", alive, alive == 1 ? "" : "s");
            signal_children(&p, SIGKILL);
            p.stop_deadline = worker__now_ms() + 60000;
        }
        if (!p.stopping)
            for (int i = 0; i < p.n; i++)
                if (p.kids[i].pid == 0 && worker__now_ms() >= p.kids[i].restart_at && start_child(&p, i) != 0)
                    p.kids[i].restart_at = worker__now_ms() + 1000;
        if (worker__now_ms() - last_prune > POOL_PRUNE_EVERY_MS) {
            prune_evidence(o->cfg);
            last_prune = worker__now_ms();
        }
        struct timespec ts = {0, POOL_TICK_MS * 1000000L};
        nanosleep(&ts, NULL); // a signal ends it early
    }
    reap_db(&p); // a worker killed during the drain
    db_free(p.db);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
    if (p.start_failures >= POOL_START_FAIL_MAX) {
        log_error("pool", "stopped: %s", p.why);
        return WORKER_EXIT_UNAVAILABLE;
    }
    return sig_seen == SIGINT ? 130 : 0;
}
