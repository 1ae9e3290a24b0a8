/* worker: one worker process of the pool (see worker.h). After the fork it opens its own
 * database connection (holding its liveness lock) and, on first use, its own Chromium; then it
 * claims orders one at a time and runs one flow attempt per claim, writing every step to the
 * audit trail and the outcome to the queue, fenced by the claim's lease. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "flow.h"
#include "flow_order.h"
#include "flow_run.h"
#include "log.h"
#include "portal.h"
#include "queue.h"
#include "worker_internal.h"

#define WORKER_IDLE_POLL_MS  2000 /* an idle worker looks again at least this often (no NOTIFY lost) */
#define WORKER_RECONNECT_MS  1000
#define WORKER_WAIT_SLICE_MS 200 /* waits wake this often to see a stop request */

struct worker {
    const struct pool_opts *o;
    const struct config *cfg;
    size_t cart_from; /* index of the flow's first step that adds products (nsteps = none): from
                         there on, an action may change the portal's cart */
    char id[160];
    struct db *db;
    struct portal *portal;
    struct heartbeat hb;
    int session_slot; /* GSPBOT_MAX_SESSIONS slot held, -1 = none */
    struct queue_worker_beat counters;
};

/* One attempt in progress: what the flow's callbacks need. */
struct attempt {
    struct worker *w;
    struct queue_claim *c;
    bool stale;  /* a fenced write found the lease gone */
    size_t step; /* index of the step the walk is in (or about to start), from its events */
    bool marked; /* the queue knows this attempt may have changed the cart (queue_cart_guard) */
};

static bool stop_requested(const struct worker *w)
{
    (void)w;
    return worker__stop_signal != 0;
}

/* The cdp interrupt: a stop signal or a lease that can no longer be trusted ends any wait. */
static bool interrupt_cb(void *arg)
{
    struct worker *w = arg;
    return stop_requested(w) || (w->hb.have_claim && worker__hb_lease_doubtful(&w->hb));
}

static void db_check(struct worker *w);

/* Before an action that may change the cart: the lease, confirmed by the database right now (one
 * round trip; the first one also tells the queue that this attempt may have changed the cart). A
 * worker that lost its lease while it could not see it (frozen, or its connection cut so that the
 * reaper gave the order away) learns it here, before it sends another addition, not at its next
 * heartbeat. A failed connection is re-opened once; a lease that cannot be confirmed is not used. */
static bool cart_lease_held(struct attempt *a)
{
    struct worker *w = a->w;
    int rc = queue_cart_guard(w->db, a->c, !a->marked);
    if (rc == QUEUE_EDB) {
        log_warn("worker", "order %lld: confirming the lease: %s", a->c->order_id, db_errmsg(w->db));
        db_check(w);
        if (!stop_requested(w))
            rc = queue_cart_guard(w->db, a->c, !a->marked);
    }
    if (rc == 0) {
        a->marked = true;
        return true;
    }
    log_warn("worker", "order %lld: %s before a cart action: dropping the attempt", a->c->order_id,
             rc == QUEUE_ESTALE ? "the lease moved on or expired" : "the lease could not be confirmed");
    return false;
}

/* Asked before every step and action: also a cancelled batch (its next step never starts); and,
 * from the first step that adds products on, the lease as the database sees it. */
static bool attempt_should_stop(void *arg)
{
    struct attempt *a = arg;
    if (a->stale || interrupt_cb(a->w) || atomic_load(&a->w->hb.cancelled))
        return true;
    if (a->step >= a->w->cart_from && !cart_lease_held(a))
        a->stale = true;
    return a->stale;
}

static size_t step_index(const struct flow *f, const char *name)
{
    for (size_t i = 0; name != NULL && i < f->nsteps; i++)
        if (strcmp(f->steps[i].name, name) == 0)
            return i;
    return f->nsteps;
}

/* (Re)connects the worker's own connection: its liveness lock and LISTEN come with it. Loops until
 * it succeeds or a stop is requested. Returns 0, or -1 when stopped. */
static int connect_db(struct worker *w, bool first)
{
    for (int tries = 0;; tries++) {
        db_free(w->db);
        w->db = NULL;
        struct queue_worker_info info = {.id = w->id, .hostname = "", .pid = (int)getpid(), .pool = NULL};
        char host[HOST_NAME_MAX + 1] = "";
        gethostname(host, sizeof host);
        info.hostname = host;
        if (db_open(&w->db, w->cfg->database_url) == 0 && queue_worker_register(w->db, &info) == 0 &&
            db_exec(w->db, "listen", "LISTEN " QUEUE_CHANNEL) == 0) {
            if (!first)
                log_info("worker", "%s: database connection back", w->id);
            w->session_slot = -1; // slots went with the old connection
            return 0;
        }
        if (first && tries == 0)
            log_warn("worker", "%s: %s", w->id, db_errmsg(w->db));
        if (stop_requested(w))
            return -1;
        struct timespec ts = {WORKER_RECONNECT_MS / 1000, (WORKER_RECONNECT_MS % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (first && tries >= 9) {
            log_error("worker", "%s: database unavailable: %s", w->id, db_errmsg(w->db));
            return -1;
        }
    }
}

/* After a failed queue call: reconnect when the connection is what failed. */
static void db_check(struct worker *w)
{
    if (w->db == NULL || PQstatus(db_conn(w->db)) != CONNECTION_OK) {
        log_warn("worker", "%s: database connection lost: reconnecting", w->id);
        (void)connect_db(w, false);
    }
}

/* Waits up to ms for a NOTIFY on the queue channel (or a stop request). */
static void wait_for_work(struct worker *w, long ms)
{
    long long until = worker__now_ms() + ms;
    while (!stop_requested(w)) {
        long left = (long)(until - worker__now_ms());
        if (left <= 0)
            return;
        PGconn *c = db_conn(w->db);
        int fd = PQsocket(c);
        if (fd < 0)
            return;
        fd_set rf;
        FD_ZERO(&rf);
        FD_SET(fd, &rf);
        long slice = left < WORKER_WAIT_SLICE_MS ? left : WORKER_WAIT_SLICE_MS;
        struct timeval tv = {slice / 1000, (slice % 1000) * 1000};
        int n = select(fd + 1, &rf, NULL, NULL, &tv);
        if (n > 0) {
            if (PQconsumeInput(c) == 0)
                return; // the connection broke: the next call reconnects
            bool woke = false;
            PGnotify *nt;
            while ((nt = PQnotifies(c)) != NULL) {
                woke = true;
                PQfreemem(nt);
            }
            if (woke)
                return;
        } else if (n < 0 && errno != EINTR) {
            return;
        }
    }
}

static const char *level_of(const struct flow_event *ev)
{
    if (ev->kind == FLOW_EV_STEP_FAILED)
        return "error";
    if (ev->kind == FLOW_EV_ACTION_FAILED || ev->kind == FLOW_EV_SESSION_LOST ||
        (ev->kind == FLOW_EV_INTERRUPT && ev->error != NULL))
        return "warn";
    if (ev->kind == FLOW_EV_ITEM && ev->item != NULL && strcmp(ev->item->outcome, "added") != 0 &&
        strcmp(ev->item->outcome, "already_in_cart") != 0)
        return "warn";
    return "info";
}

/* The audit trail: one row per step (ok, skipped, failed), per failed action, per item outcome, per
 * interrupt handled, per captured value and per lost session. Other successful actions are not
 * rows (the trace has them). */
static void on_event(void *arg, const struct flow_event *ev)
{
    struct attempt *a = arg;
    // Where the walk is: a step that ended hands over to the next one; a lost session starts again
    // from the first step; anything else happens inside its step.
    const struct flow *f = a->w->o->flow;
    size_t at = step_index(f, ev->step);
    if (ev->kind == FLOW_EV_SESSION_LOST)
        a->step = 0;
    else if (ev->kind == FLOW_EV_STEP_OK || ev->kind == FLOW_EV_STEP_SKIPPED)
        a->step = at < f->nsteps ? at + 1 : a->step;
    else if (at < f->nsteps)
        a->step = at;
    char msg[FLOW_MESSAGE_MAX + 256];
    switch (ev->kind) {
    case FLOW_EV_ACTION_OK:
        if (ev->action == NULL || strncmp(ev->action, "capture ", 8) != 0)
            return;
        snprintf(msg, sizeof msg, "%s", ev->action); // "capture #numero-pedido = GSP-000123"
        break;
    case FLOW_EV_INTERRUPT:
        snprintf(msg, sizeof msg, "interrupt %s %s%s", ev->action ? ev->action : "", ev->error ? "failed: " : "handled",
                 ev->error ? ev->error : "");
        break;
    case FLOW_EV_STEP_OK:
        worker__hb_step(&a->w->hb, ev->step);
        snprintf(msg, sizeof msg, "step ok");
        break;
    case FLOW_EV_STEP_SKIPPED: snprintf(msg, sizeof msg, "step skipped (already done)"); break;
    case FLOW_EV_STEP_FAILED:
        snprintf(msg, sizeof msg, "step failed (%s): %s", flow_class_name(ev->cls), ev->error ? ev->error : "");
        break;
    case FLOW_EV_ACTION_FAILED:
        snprintf(msg, sizeof msg, "%s: %s", ev->action ? ev->action : "action", ev->error ? ev->error : "");
        break;
    case FLOW_EV_ITEM:
        snprintf(msg, sizeof msg, "item %s x%d: %s%s%s", ev->item->product_code, ev->item->quantity, ev->item->outcome,
                 ev->item->message[0] ? ": " : "", ev->item->message);
        break;
    case FLOW_EV_SESSION_LOST:
        snprintf(msg, sizeof msg, "portal session lost (%s): starting again from the first step",
                 ev->error ? ev->error : "");
        break;
    }
    char red[sizeof msg];
    log_redact(msg, red, sizeof red);
    long ms = ev->kind == FLOW_EV_ITEM || ev->kind == FLOW_EV_SESSION_LOST ? -1 : ev->ms;
    int rc = queue_log(a->w->db, a->c, a->w->id, ev->step, level_of(ev), red, ms, NULL);
    if (rc == QUEUE_ESTALE)
        a->stale = true;
    else if (rc != 0)
        log_warn("worker", "order %lld: audit log: %s", a->c->order_id, db_errmsg(a->w->db));
}

static const char *class_name_or_null(enum flow_class c)
{
    return c == FLOW_CLASS_NONE ? NULL : flow_class_name(c);
}

/* Writes the attempt's end, retrying across a reconnect (the lease fences a late write). */
static int finish(struct worker *w, const struct queue_claim *c, const struct queue_result *r, char bstatus[16])
{
    worker__hb_finishing(&w->hb);
    for (int tries = 0; tries < 30; tries++) {
        int rc = queue_finish(w->db, c, r, bstatus);
        if (rc != QUEUE_EDB)
            return rc;
        log_warn("worker", "order %lld: recording the outcome: %s", c->order_id, db_errmsg(w->db));
        db_check(w);
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    return QUEUE_EDB;
}

/* Runs one attempt of a claimed order and records it. Returns -1 when the worker must stop
 * (Chromium cannot start), else 0. */
static int run_claim(struct worker *w, struct queue_claim *c)
{
    const struct config *cfg = w->cfg;
    worker__hb_set(&w->hb, c, "busy", "", &w->counters);
    struct attempt a = {.w = w, .c = c};
    char msg[256];
    snprintf(msg, sizeof msg, "attempt %d of %d started", c->attempt, c->max_attempts);
    if (queue_log(w->db, c, w->id, "-", "info", msg, -1, NULL) == QUEUE_ESTALE)
        a.stale = true;

    struct flow_item_state *items = calloc(c->nitems + 1, sizeof *items);
    if (items == NULL) {
        struct queue_result r = {.outcome = QUEUE_RELEASE, .error = "worker out of memory"};
        db_ignore(finish(w, c, &r, NULL));
        return -1;
    }
    for (size_t i = 0; i < c->nitems; i++) {
        snprintf(items[i].product_code, sizeof items[i].product_code, "%s", c->items[i].product_code);
        items[i].quantity = c->items[i].quantity;
    }
    struct flow_order order = {
        .id = c->order_id, .consultora_code = c->consultora_code, .consultora_name = c->consultora_name};
    struct flow_run_opts ro = {.cfg = cfg,
                               .flow = w->o->flow,
                               .evidence_dir = cfg->screenshot_dir,
                               .on_event = on_event,
                               .event_arg = &a,
                               .should_stop = attempt_should_stop};
    struct flow_result res;
    memset(&res, 0, sizeof res);
    struct cdp_page *page = NULL;
    char err[512];
    int rc = -1;
    if (portal_page(w->portal, &page, err, sizeof err) != 0) {
        // No browser: not this order's fault. Give it back and let the pool decide (a worker that
        // cannot start Chromium five times in a row stops the pool with the reason).
        log_error("worker", "%s: %s", w->id, err);
        struct queue_result r = {.outcome = QUEUE_RELEASE, .error = err, .error_class = "recoverable"};
        db_ignore(finish(w, c, &r, NULL));
        free(items);
        worker__hb_set(&w->hb, NULL, "idle", NULL, &w->counters);
        return -1;
    }
    rc = flow_run_attempt(page, &ro, &order, items, c->nitems, c->attempt, &res);
    long delay = 0;
    enum flow_next next =
        flow_retry_decide(rc, &res, c->attempt, c->max_attempts, cfg->retry_delay_ms, c->attempt, &delay);
    if (next != FLOW_NEXT_DONE && (a.stale || worker__hb_lease_doubtful(&w->hb)) && !atomic_load(&w->hb.cancelled)) {
        // Another attempt owns the order now (this worker was stopped or cut off past its lease):
        // whatever this one did is fenced off; the other re-reads the cart.
        log_warn("worker", "order %lld: attempt %d dropped: the lease moved on", c->order_id, c->attempt);
        portal_after_failure(w->portal);
        free(items);
        worker__hb_set(&w->hb, NULL, "idle", NULL, &w->counters);
        return 0;
    }
    struct queue_result r = {.step = res.step[0] ? res.step : NULL,
                             .portal_reference = res.portal_reference[0] ? res.portal_reference : NULL};
    struct queue_item_result *ir = calloc(c->nitems + 1, sizeof *ir);
    for (size_t i = 0; ir != NULL && i < c->nitems; i++)
        ir[i] = (struct queue_item_result){.product_code = items[i].product_code,
                                           .outcome = items[i].outcome,
                                           .message = items[i].message[0] ? items[i].message : NULL};
    // Item outcomes are written when the attempt reached the cart (or finished); a stop before it
    // leaves them as they were.
    bool items_known = rc == 0 || res.cls == FLOW_CLASS_FATAL;
    r.items = items_known ? ir : NULL;
    r.nitems = items_known && ir != NULL ? c->nitems : 0;
    r.error = rc == 0 ? NULL : res.error;
    r.error_class = rc == 0 ? NULL : class_name_or_null(res.cls);
    // An attempt that may have changed the cart (its lease was confirmed for a cart action) and
    // did not finish may have left an addition in flight: its browser crashed or an action timed
    // out while the portal was still working on it. The next attempt reads the cart only after the
    // settle time, or it could add the product a second time when the portal applies it late.
    long settle = a.marked && rc != 0 ? cfg->takeover_settle_ms : 0;
    switch (next) {
    case FLOW_NEXT_DONE: r.outcome = QUEUE_DONE; break;
    case FLOW_NEXT_RETRY:
        r.outcome = QUEUE_RETRY;
        r.delay_ms = delay;
        break;
    case FLOW_NEXT_FAIL: r.outcome = QUEUE_FAIL; break;
    case FLOW_NEXT_ABORT:
        r.outcome = QUEUE_ABORT;
        r.delay_ms = settle;
        break;
    case FLOW_NEXT_STOPPED:
        if (atomic_load(&w->hb.cancelled)) {
            r.outcome = QUEUE_CANCELLED;
            r.error = "the batch was cancelled";
        } else {
            r.outcome = QUEUE_RELEASE; // a shutdown: back to the queue, the attempt not counted
            r.error = NULL;
            r.delay_ms = settle;
        }
        break;
    }
    if (r.outcome == QUEUE_RETRY && r.delay_ms < settle)
        r.delay_ms = settle;
    // The attempt's own row: how it ended, with the evidence.
    char line[FLOW_MESSAGE_MAX + 128];
    if (rc == 0)
        snprintf(line, sizeof line, "attempt %d completed in %.2f s", c->attempt, res.ms / 1000.0);
    else if (next == FLOW_NEXT_STOPPED)
        snprintf(line, sizeof line, "attempt %d stopped (%s)", c->attempt,
                 r.outcome == QUEUE_CANCELLED ? "batch cancelled" : "worker shutting down: order released");
    else
        snprintf(line, sizeof line, "attempt %d failed (%s) at %s: %s -> %s%s", c->attempt, flow_class_name(res.cls),
                 res.failed_step[0] ? res.failed_step : "-", res.error, flow_next_name(next),
                 next == FLOW_NEXT_RETRY && settle > 0 && r.delay_ms == settle
                     ? " after the takeover settle time (the cart may still change)"
                 : next == FLOW_NEXT_RETRY && delay > 0 ? " after backoff"
                                                        : "");
    char red[sizeof line];
    log_redact(line, red, sizeof red);
    db_ignore(queue_log(w->db, c, w->id, res.failed_step[0] ? res.failed_step : (res.step[0] ? res.step : "-"),
                        rc == 0 ? "info" : "error", red, res.ms, res.evidence[0] ? res.evidence : NULL));
    char bstatus[16] = "";
    int frc = finish(w, c, &r, bstatus);
    free(ir);
    free(items);
    if (frc == QUEUE_ESTALE)
        log_warn("worker", "order %lld: its lease moved on before the outcome was written: dropped", c->order_id);
    // The shared breaker: a recoverable failure counts against the portal; an answer from it
    // (done, or a fatal "no existe") shows it works.
    if (frc == 0 && next != FLOW_NEXT_STOPPED) {
        if (rc != 0 && res.cls == FLOW_CLASS_RECOVERABLE) {
            bool opened = false;
            char why[FLOW_MESSAGE_MAX + 64];
            snprintf(why, sizeof why, "order %lld: %s", c->order_id, res.error);
            if (queue_breaker_failure(w->db, cfg->breaker_failures, why, &opened) != 0)
                log_warn("worker", "breaker: %s", db_errmsg(w->db));
            else if (opened)
                log_warn("worker", "circuit breaker opened after %d failures in a row: claims stop for %d s",
                         cfg->breaker_failures, cfg->breaker_cooldown_s);
        } else if (rc == 0 || res.cls == FLOW_CLASS_FATAL) {
            bool closed = false;
            if (queue_breaker_success(w->db, &closed) != 0)
                log_warn("worker", "breaker: %s", db_errmsg(w->db));
            else if (closed)
                log_info("worker", "circuit breaker closed: the portal answers again");
        }
    }
    if (next == FLOW_NEXT_ABORT)
        log_error("worker", "order %lld: %s: every running batch is paused until someone acts", c->order_id, res.error);
    if (rc == 0)
        w->counters.orders_done++;
    else if (next == FLOW_NEXT_FAIL)
        w->counters.orders_failed++;
    // The browser: a fresh context after a failure; recycled by order count and memory.
    if (rc != 0)
        portal_after_failure(w->portal);
    portal_order_done(w->portal);
    w->counters.browser_rss_mb = portal_browser_rss_mb(w->portal);
    w->counters.browser_launches = portal_launches(w->portal);
    worker__hb_set(&w->hb, NULL, "idle", NULL, &w->counters);
    return 0;
}

int worker__main(const struct pool_opts *o, int index, const char *pool_id)
{
    struct worker w = {.o = o, .cfg = o->cfg, .session_slot = -1};
    w.cart_from = o->flow->nsteps;
    for (size_t i = 0; i < o->flow->nsteps && w.cart_from == o->flow->nsteps; i++)
        if (o->flow->steps[i].for_each_item.n > 0)
            w.cart_from = i;
    char host[HOST_NAME_MAX + 1] = "localhost";
    gethostname(host, sizeof host);
    snprintf(w.id, sizeof w.id, "%s:%d:w%d:%s", host, (int)getpid(), index, pool_id);
    if (connect_db(&w, true) != 0)
        return stop_requested(&w) ? WORKER_EXIT_STOPPED : WORKER_EXIT_UNAVAILABLE;
    if (worker__hb_start(&w.hb, w.cfg, w.id) != 0) {
        log_error("worker", "%s: cannot start the heartbeat thread", w.id);
        db_free(w.db);
        return WORKER_EXIT_UNAVAILABLE;
    }
    w.portal = portal_new(w.cfg, o->flow);
    if (w.portal == NULL) {
        worker__hb_stop(&w.hb);
        db_free(w.db);
        return WORKER_EXIT_UNAVAILABLE;
    }
    portal_set_interrupt(w.portal, interrupt_cb, &w);
    log_info("worker", "%s started", w.id);
    int code = WORKER_EXIT_STOPPED;
    const char *why = "asked to stop";
    while (!stop_requested(&w)) {
        // GSPBOT_MAX_SESSIONS: a portal session needs a slot, shared by every machine.
        if (w.cfg->max_sessions > 0 && w.session_slot < 0) {
            int s = queue_session_slot_take(w.db, w.cfg->max_sessions);
            if (s < -1) {
                db_check(&w);
                continue;
            }
            if (s < 0) {
                wait_for_work(&w, 1000);
                continue;
            }
            w.session_slot = s;
        }
        double wait_s = 0;
        int gate = queue_breaker_gate(w.db, w.id, w.cfg->breaker_cooldown_s, w.cfg->lease_s, &wait_s);
        if (gate < 0) {
            db_check(&w);
            continue;
        }
        if (gate == 0) {
            wait_for_work(&w, (long)(wait_s > 0 && wait_s < 5 ? wait_s * 1000 : 5000));
            continue;
        }
        struct queue_claim c;
        int got = queue_claim(w.db, w.id, w.cfg->lease_s, o->batch_id, &c);
        if (got < 0) {
            log_warn("worker", "%s: claim: %s", w.id, db_errmsg(w.db));
            queue_claim_cleanup(&c);
            db_check(&w);
            continue;
        }
        if (got == 0) {
            // Idle: give the session slot back (and the portal session with it), then sleep until
            // a NOTIFY, the next retry's due time, or the poll interval.
            if (w.session_slot >= 0) {
                portal_after_failure(w.portal);
                db_ignore(queue_session_slot_release(w.db, w.session_slot));
                w.session_slot = -1;
            }
            double due = -1;
            long ms = WORKER_IDLE_POLL_MS;
            if (queue_next_due_s(w.db, o->batch_id, &due) == 0 && due >= 0 && due * 1000 < ms)
                ms = (long)(due * 1000) + 20;
            wait_for_work(&w, ms);
            continue;
        }
        int rc = run_claim(&w, &c);
        queue_claim_cleanup(&c);
        if (rc != 0) {
            code = WORKER_EXIT_UNAVAILABLE;
            why = "Chromium could not be started";
            break;
        }
    }
    if (code == WORKER_EXIT_STOPPED && worker__stop_signal != 0)
        why = worker__stop_signal == SIGINT ? "interrupted (SIGINT)" : "asked to stop (SIGTERM)";
    portal_free(w.portal); // no Chromium outlives its worker
    worker__hb_stop(&w.hb);
    if (w.db != NULL && PQstatus(db_conn(w.db)) == CONNECTION_OK && queue_worker_stopped(w.db, w.id, why) != 0)
        log_warn("worker", "%s: %s", w.id, db_errmsg(w.db));
    log_info("worker", "%s stopped: %s", w.id, why);
    db_free(w.db);
    return code;
}
