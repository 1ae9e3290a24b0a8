/* heartbeat: a worker's second thread (see worker_internal.h). It owns its own database
 * connection, reconnects when it breaks, and never touches the browser. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "worker_internal.h"

#define HB_REAP_EVERY_MS   3000 /* dead workers' orders go back within this (plus a beat) */
#define HB_RECONNECT_MS    1000
#define HB_LEASE_MARGIN_MS 2000 /* the worker stops trusting its lease this long before it ends */

long long worker__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int beat_interval_ms(const struct heartbeat *hb)
{
    int ms = hb->cfg->lease_s * 1000 / 3;
    return ms < 1000 ? 1000 : ms;
}

/* One round: the lease, the worker's row, and now and then the reaper. */
static void beat(struct heartbeat *hb, struct db *db, long long *last_reap)
{
    pthread_mutex_lock(&hb->mu);
    bool have = hb->have_claim;
    struct queue_claim c = hb->claim;
    struct queue_worker_beat b = hb->beat;
    char status[16], step[65];
    snprintf(status, sizeof status, "%s", hb->status);
    snprintf(step, sizeof step, "%s", hb->step);
    pthread_mutex_unlock(&hb->mu);
    b.status = status;
    b.current_step = step[0] ? step : NULL;
    b.current_order = have ? c.order_id : 0;
    if (have && !atomic_load(&hb->lease_lost)) {
        bool cancelled = false;
        long long t0 = worker__now_ms();
        int rc = queue_renew(db, &c, hb->cfg->lease_s, &cancelled);
        pthread_mutex_lock(&hb->mu);
        bool same = hb->have_claim && hb->claim.order_id == c.order_id && hb->claim.token == c.token;
        bool finishing = hb->finishing;
        pthread_mutex_unlock(&hb->mu);
        if (same && rc == 0) {
            atomic_store(&hb->last_renew_ms, t0);
            if (cancelled)
                atomic_store(&hb->cancelled, true);
        } else if (same && rc == QUEUE_ESTALE && !finishing) {
            log_warn("worker", "order %lld: the lease moved on (another attempt owns it): dropping it", c.order_id);
            atomic_store(&hb->lease_lost, true);
        }
    }
    if (queue_worker_heartbeat(db, hb->worker_id, &b) != 0)
        log_debug("worker", "heartbeat: %s", db_errmsg(db));
    if (worker__now_ms() - *last_reap >= HB_REAP_EVERY_MS) {
        *last_reap = worker__now_ms();
        int moved = queue_reap(db, hb->cfg->takeover_settle_ms);
        if (moved > 0)
            log_info("worker", "gave back %d order%s of workers that are gone", moved, moved == 1 ? "" : "s");
    }
}

static void *hb_main(void *arg)
{
    struct heartbeat *hb = arg;
    struct db *db = NULL;
    long long last_reap = 0;
    for (;;) {
        pthread_mutex_lock(&hb->mu);
        bool quit = hb->quit;
        pthread_mutex_unlock(&hb->mu);
        if (quit)
            break;
        if (db == NULL || PQstatus(db_conn(db)) != CONNECTION_OK) {
            db_free(db);
            db = NULL;
            if (db_open(&db, hb->cfg->database_url) != 0) {
                log_debug("worker", "heartbeat: %s", db_errmsg(db));
                db_free(db);
                db = NULL;
            }
        }
        if (db != NULL)
            beat(hb, db, &last_reap);
        int wait_ms = db != NULL ? beat_interval_ms(hb) : HB_RECONNECT_MS;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&hb->mu);
        while (!hb->quit && pthread_cond_timedwait(&hb->cond, &hb->mu, &until) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&hb->mu);
    }
    db_free(db);
    return NULL;
}

int worker__hb_start(struct heartbeat *hb, const struct config *cfg, const char *worker_id)
{
    memset(hb, 0, sizeof *hb);
    hb->cfg = cfg;
    snprintf(hb->worker_id, sizeof hb->worker_id, "%s", worker_id);
    snprintf(hb->status, sizeof hb->status, "idle");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&hb->mu, NULL);
    pthread_cond_init(&hb->cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_store(&hb->last_renew_ms, worker__now_ms());
    // The thread must not take the process's stop signals: the worker's main thread handles them.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&hb->thread, NULL, hb_main, hb);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    hb->running = true;
    return 0;
}

void worker__hb_stop(struct heartbeat *hb)
{
    if (!hb->running)
        return;
    pthread_mutex_lock(&hb->mu);
    hb->quit = true;
    pthread_cond_signal(&hb->cond);
    pthread_mutex_unlock(&hb->mu);
    pthread_join(hb->thread, NULL);
    hb->running = false;
    pthread_cond_destroy(&hb->cond);
    pthread_mutex_destroy(&hb->mu);
}

void worker__hb_set(struct heartbeat *hb, const struct queue_claim *c, const char *status, const char *step,
                    const struct queue_worker_beat *counters)
{
    pthread_mutex_lock(&hb->mu);
    hb->have_claim = c != NULL;
    if (c != NULL) {
        hb->claim = *c;
        hb->claim.items = NULL; // the copy never owns them
        hb->claim.nitems = 0;
        hb->finishing = false;
        atomic_store(&hb->lease_lost, false);
        atomic_store(&hb->cancelled, false);
        atomic_store(&hb->last_renew_ms, worker__now_ms()); // a claim comes with a fresh lease
    }
    snprintf(hb->status, sizeof hb->status, "%s", status);
    snprintf(hb->step, sizeof hb->step, "%s", step ? step : "");
    if (counters != NULL)
        hb->beat = *counters;
    pthread_cond_signal(&hb->cond); // the row shows the change now, not at the next beat
    pthread_mutex_unlock(&hb->mu);
}

void worker__hb_step(struct heartbeat *hb, const char *step)
{
    pthread_mutex_lock(&hb->mu);
    snprintf(hb->step, sizeof hb->step, "%s", step ? step : "");
    pthread_mutex_unlock(&hb->mu);
}

void worker__hb_finishing(struct heartbeat *hb)
{
    pthread_mutex_lock(&hb->mu);
    hb->finishing = true;
    pthread_mutex_unlock(&hb->mu);
}

bool worker__hb_lease_doubtful(struct heartbeat *hb)
{
    if (atomic_load(&hb->lease_lost))
        return true;
    long long age = worker__now_ms() - atomic_load(&hb->last_renew_ms);
    return age > (long long)hb->cfg->lease_s * 1000 - HB_LEASE_MARGIN_MS;
}
