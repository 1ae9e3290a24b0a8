/* worker: the pool of README "Workers" — a supervisor that forks N worker processes and restarts
 * those that die, and the worker process itself: its own database connection and Chromium
 * (opened after the fork), a claim loop on the queue, one flow attempt per claim, a heartbeat
 * thread that renews the lease and notices a cancelled batch, and a drain on SIGTERM / Ctrl-C.
 *
 * Exit codes. A worker exits WORKER_EXIT_STOPPED when asked to stop (it released or finished its
 * order) and WORKER_EXIT_UNAVAILABLE when it cannot start (database, Chromium); anything else —
 * a signal, a crash — is a death the supervisor answers with a restart (with backoff; five deaths
 * at start in a row stop the pool with the reason). */
#ifndef GSPBOT_WORKER_H
#define GSPBOT_WORKER_H

#include <stdbool.h>

#include <cjson/cJSON.h>

struct config;
struct flow;

enum {
    WORKER_EXIT_STOPPED = 0,     /* asked to stop (SIGTERM, SIGINT, the pool is done) */
    WORKER_EXIT_UNAVAILABLE = 3, /* could not start: database, Chromium or flow unavailable */
};

/* What the pool reports while it runs (for `run`'s progress line); all optional. */
struct pool_hooks {
    /* Asked about once a second: true ends the pool (drained like SIGTERM). `run` says true
     * when its batch is finished. */
    bool (*done)(void *arg);
    void *arg;
};

struct pool_opts {
    const struct config *cfg; /* borrowed */
    const struct flow *flow;  /* borrowed: checked before anything forks */
    int concurrency;          /* workers (>= 1) */
    long long batch_id;       /* > 0: work on this batch only (`run`); 0: every running batch */
    struct pool_hooks hooks;
};

/* Runs the pool in the foreground until SIGTERM (exit 0), SIGINT (130), hooks.done (0), or a
 * worker that cannot start five times in a row (3, with the reason on stderr). Opens its own
 * database connection for reaping dead workers' orders at once. Returns the exit code. */
int pool_run(const struct pool_opts *o);

/* `gspbot verify`: reads each order's cart back from the portal (nothing is added) and compares
 * it with the database, in `concurrency` processes each with its own Chromium. */
struct verify_opts {
    const struct config *cfg; /* borrowed */
    const struct flow *flow;  /* borrowed: must have a step with a `cart` expression */
    long long batch_id;
    const char *status; /* orders in this status; NULL = completed, "all" = every order */
    int concurrency;    /* processes (1..16) */
};

/* Verifies the batch's orders, records each result on its order (verify_result: exact, missing,
 * excess, unexpected, mismatch, error) and builds *report (may be NULL; caller frees):
 * {"batch_id", "orders": [{order_id, consultora_code, status, result, detail}], "summary": {...}}.
 * Returns 0 when every order is exact, 1 when some differ or could not be read, 2 no such batch,
 * 3 database or browser unavailable or the portal refused the login, 130 interrupted. */
int verify_batch(const struct verify_opts *o, cJSON **report);

/* The stop request the pool's signal handlers set (0 = none, else the signal number), for the
 * caller's own waits. */
int pool_stop_signal(void);

#endif
