/* worker_internal: what the pool's files share — the worker process's entry point and its
 * heartbeat thread. */
#ifndef GSPBOT_WORKER_INTERNAL_H
#define GSPBOT_WORKER_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "queue.h"
#include "worker.h"

/* The signal that asked this process to stop (0 = none). Set by the handlers pool.c installs in
 * the supervisor and in each worker. */
extern volatile sig_atomic_t worker__stop_signal;

/* Installs SIGTERM/SIGINT handlers that set worker__stop_signal, ignores SIGPIPE, and resets every
 * other disposition and the signal mask to the defaults (a forked worker must not inherit the
 * supervisor's). */
void worker__signals_reset(void);

/* The worker process, run in the child after fork. `index` numbers it in its pool. Returns its exit
 * code (WORKER_EXIT_*). */
int worker__main(const struct pool_opts *o, int index, const char *pool_id);

/* Monotonic milliseconds. */
long long worker__now_ms(void);

/* The heartbeat thread of one worker: every lease/3 it renews the current claim's lease (and
 * learns whether the batch was cancelled), refreshes the worker's row, and reaps dead workers'
 * orders every few seconds — on a database connection of its own, so that a long browser action
 * never delays it. */
struct heartbeat {
    const struct config *cfg;
    char worker_id[160];
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    /* under mu */
    bool quit;
    bool have_claim;
    bool finishing;           /* the worker is writing the outcome: a renewal that finds the order
                                 no longer in progress is that write, not a lost lease */
    struct queue_claim claim; /* a copy without items */
    struct queue_worker_beat beat;
    char status[16];
    char step[65];
    /* written by the thread, read by the worker */
    atomic_bool lease_lost;     /* a renewal found the lease gone: drop the order at once */
    atomic_bool cancelled;      /* the order's batch was cancelled: stop at the next step */
    atomic_llong last_renew_ms; /* when the lease was last known good (monotonic ms) */
};

/* Starts the thread. Returns 0 or -1. */
int worker__hb_start(struct heartbeat *hb, const struct config *cfg, const char *worker_id);
/* Stops and joins it (a final beat with status "stopped" is the caller's). */
void worker__hb_stop(struct heartbeat *hb);
/* The claim the worker now runs (NULL = none), its step, status and counters. */
void worker__hb_set(struct heartbeat *hb, const struct queue_claim *c, const char *status, const char *step,
                    const struct queue_worker_beat *counters);
void worker__hb_step(struct heartbeat *hb, const char *step);
/* Says the outcome is being written (call before queue_finish). */
void worker__hb_finishing(struct heartbeat *hb);
/* True when the lease can no longer be trusted: lost, or not renewed for nearly its whole length
 * (the local clock: a worker that was stopped past its lease knows it before touching the portal). */
bool worker__hb_lease_doubtful(struct heartbeat *hb);

#endif
