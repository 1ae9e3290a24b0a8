/* queue: the PostgreSQL queue of README "Workers" — claims, leases, fencing, retries, the shared
 * circuit breaker and batch state. Every rule about orders and batches lives here, once: the
 * workers, the CLI and the API call these functions and never write those tables themselves.
 *
 * Claims. queue_claim() takes the next runnable order in one statement (FOR UPDATE SKIP LOCKED:
 * running batches by priority, then the oldest due order), counts the attempt, and hands out a
 * lease: an expiry the worker's heartbeat renews and a fencing token. Every later update of the
 * order (logs, outcome, release) presents the token; after the lease has moved on (a worker
 * stopped past its lease, then resumed) the update changes nothing and returns QUEUE_ESTALE.
 *
 * Death. A worker holds a session advisory lock keyed by its lock_key on its own connection
 * (queue_worker_register); when its process dies the lock goes with the connection, and
 * queue_reap() (run by every live worker and by the supervisor) moves its order back to
 * `retrying` with the attempt counted — or `failed` when that was the last one. Expired leases
 * are reaped the same way.
 *
 * Errors: functions return 0 (or a count) or a negative QUEUE_E* code, with the database's
 * message in db_errmsg(db). */
#ifndef GSPBOT_QUEUE_H
#define GSPBOT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "db.h"
#include "stats.h"

#define QUEUE_WUR __attribute__((warn_unused_result))

enum {
    QUEUE_EDB = -1,    /* the database failed (db_errmsg) */
    QUEUE_ESTALE = -2, /* the claim's lease is gone: another attempt owns the order now */
    QUEUE_ENOENT = -3, /* no such batch or order */
    QUEUE_ESTATE = -4, /* not allowed in the batch's or order's state (message in db_errmsg) */
    QUEUE_ENOMEM = -5,
};

/* The notification channel that wakes idle workers (start, resume, retry, breaker reset). */
#define QUEUE_CHANNEL "gspbot_queue"

/* ------------------------------------------------------------------ claims */

#define QUEUE_ITEM_MAX 1000 /* items of one order the engine takes (the loader allows no more) */

struct queue_item {
    long long id;
    char product_code[21];
    int quantity;
};

/* One claimed order: what the worker needs to run it and to fence its updates. */
struct queue_claim {
    long long order_id, batch_id;
    long long token; /* lease_token: presented by every update */
    int attempt;     /* this attempt's number (1-based; already counted) */
    int max_attempts;
    char consultora_code[21];
    char consultora_name[201];
    struct queue_item *items; /* owned; queue_claim_cleanup frees */
    size_t nitems;
};

void queue_claim_cleanup(struct queue_claim *c);

/* Claims the next runnable order for worker `owner` with a lease of lease_s seconds: an order of a
 * running batch (only batch_id when > 0), status queued or retrying, due, attempts left; batches
 * by priority (highest first) then age, orders oldest due first. Returns 1 with *c filled
 * (items loaded), 0 when nothing is runnable, or QUEUE_EDB. */
QUEUE_WUR int queue_claim(struct db *db, const char *owner, int lease_s, long long batch_id, struct queue_claim *c);

/* The claim statement ($1 owner, $2 lease seconds, $3 batch id or 0), for EXPLAIN in benchmarks. */
const char *queue_claim_sql(void);

/* Seconds until the next order of a running batch becomes due (a retry's backoff, a scheduled
 * start); -1 when none is waiting; 0 when one is due now. */
QUEUE_WUR int queue_next_due_s(struct db *db, long long batch_id, double *seconds);

/* Renews the claim's lease (and says whether its batch was cancelled meanwhile: *cancelled).
 * Returns 0, QUEUE_ESTALE (the lease is gone), or QUEUE_EDB. */
QUEUE_WUR int queue_renew(struct db *db, const struct queue_claim *c, int lease_s, bool *cancelled);

/* Right before an action that may change the portal's cart (and so the order's state there):
 * confirms in one round trip that the claim still holds the order with an unexpired lease. With
 * `mark` (the attempt's first call) it also records that this attempt may have changed the cart
 * from now on, so that if the attempt ends without an outcome (its worker dies, its lease runs
 * out) the next one waits the takeover settle time (queue_reap) before it reads the cart. Returns
 * 0, QUEUE_ESTALE (the lease is gone or expired: send nothing more), or QUEUE_EDB. */
QUEUE_WUR int queue_cart_guard(struct db *db, const struct queue_claim *c, bool mark);

/* Appends one audit row for the claim (fenced: QUEUE_ESTALE writes nothing). level is "info",
 * "warn" or "error"; duration_ms < 0 = none; screenshot may be NULL. */
QUEUE_WUR int queue_log(struct db *db, const struct queue_claim *c, const char *worker, const char *step,
                        const char *level, const char *message, long duration_ms, const char *screenshot);

/* How an attempt ended, as the worker reports it. */
enum queue_outcome {
    QUEUE_DONE,      /* the order is complete */
    QUEUE_RETRY,     /* retry after delay_ms (0 = at once: a session failure) */
    QUEUE_FAIL,      /* failed for good (fatal, or no attempt left) */
    QUEUE_RELEASE,   /* stopped by a shutdown: back to queued, this attempt not counted */
    QUEUE_CANCELLED, /* its batch was cancelled: the order ends cancelled */
    QUEUE_ABORT,     /* nothing can pass until a person acts: the order goes back (not counted) and
                        every running batch is paused with the reason */
};

/* One item's outcome to store (order_items.outcome/message). */
struct queue_item_result {
    const char *product_code;
    const char *outcome; /* "added", "already_in_cart", "not_found", ... */
    const char *message; /* may be NULL */
};

struct queue_result {
    enum queue_outcome outcome;
    long delay_ms;                /* QUEUE_RETRY; QUEUE_RELEASE and QUEUE_ABORT: not due before (0 = at once) */
    const char *step;             /* the last step that succeeded (orders.step); NULL = unchanged */
    const char *error;            /* last_error (NULL on success) */
    const char *error_class;      /* "fatal", "recoverable", "session", "abort", "cancelled" or NULL */
    const char *portal_reference; /* captured by the flow; NULL = none */
    const struct queue_item_result *items;
    size_t nitems;
};

/* Records the attempt's end in one transaction, fenced by the claim: the order's status, step,
 * error and next attempt; the items' outcomes; the batch's status when this was its last open
 * order (and an event). Returns 0, QUEUE_ESTALE (nothing written), or QUEUE_EDB. *batch_status
 * (may be NULL) gets the batch's status afterwards ("completed" when this finished it). */
QUEUE_WUR int queue_finish(struct db *db, const struct queue_claim *c, const struct queue_result *r,
                           char batch_status[16]);

/* Moves orders whose worker is gone (its advisory lock free) or whose lease expired back to
 * `retrying` (attempt counted) or to `failed` when it was their last attempt, marks dead workers,
 * and settles their batches. A moved order is due at once, unless its attempt may have changed the
 * cart (queue_cart_guard): then no sooner than settle_ms (GSPBOT_TAKEOVER_SETTLE_MS) after the
 * attempt's last sign of life (the reap for a dead worker, the lease's expiry otherwise), so that
 * the portal has applied whatever that attempt's browser sent before the next attempt reads the
 * cart. Returns how many orders it moved, or QUEUE_EDB. */
QUEUE_WUR int queue_reap(struct db *db, int settle_ms);

/* ----------------------------------------------------------------- workers */

struct queue_worker_info {
    const char *id; /* unique: "host:pid:start" */
    const char *hostname;
    int pid;
    const char *pool; /* the supervisor's id; may be NULL */
};

/* Registers the worker and takes its session advisory lock on this connection (held until the
 * connection closes). Returns 0 or QUEUE_EDB. */
QUEUE_WUR int queue_worker_register(struct db *db, const struct queue_worker_info *w);

/* Heartbeat: status ("idle", "busy", "stopping"), current order (0 = none) and step, counters,
 * the browser's memory and launches. Returns 0 or QUEUE_EDB. */
struct queue_worker_beat {
    const char *status;
    long long current_order;
    const char *current_step;
    int orders_done, orders_failed;
    long browser_rss_mb;
    int browser_launches;
};
QUEUE_WUR int queue_worker_heartbeat(struct db *db, const char *id, const struct queue_worker_beat *b);

/* The worker stops: status stopped with a reason. Returns 0 or QUEUE_EDB. */
QUEUE_WUR int queue_worker_stopped(struct db *db, const char *id, const char *reason);

/* --------------------------------------------------------------- sessions */

/* GSPBOT_MAX_SESSIONS: takes one of `max` portal-session slots (session advisory locks, so a
 * crash frees its slot with its connection). Returns the slot (>= 0), -1 when all are taken, or
 * QUEUE_EDB (as -2 or below). */
QUEUE_WUR int queue_session_slot_take(struct db *db, int max);
/* Gives the slot back. */
QUEUE_WUR int queue_session_slot_release(struct db *db, int slot);

/* ----------------------------------------------------------------- breaker */

enum queue_breaker_state { QUEUE_BREAKER_CLOSED, QUEUE_BREAKER_OPEN, QUEUE_BREAKER_HALF_OPEN };

struct queue_breaker {
    enum queue_breaker_state state;
    int consecutive_failures;
    double open_for_s; /* seconds since it opened (open / half-open) */
    char probe_owner[128];
    char reason[512];
    int opened_count;
};

const char *queue_breaker_state_name(enum queue_breaker_state s);

/* Reads the breaker. Returns 0 or QUEUE_EDB. */
QUEUE_WUR int queue_breaker_get(struct db *db, struct queue_breaker *out);

/* May `owner` claim now? Closed: yes. Open: no until cooldown_s have passed since it opened; then
 * exactly one caller becomes the half-open probe (yes) and every other gets no. Half-open: only
 * the probe (whose lease of lease_s, renewed by calling again, lapses if it dies). Returns 1 yes,
 * 0 no (with *wait_s, may be NULL: seconds worth waiting), or QUEUE_EDB. */
QUEUE_WUR int queue_breaker_gate(struct db *db, const char *owner, int cooldown_s, int lease_s, double *wait_s);

/* An attempt reached the portal and succeeded: closes the breaker (a successful probe) and resets
 * the count. *changed (may be NULL) tells whether it was open or half-open. */
QUEUE_WUR int queue_breaker_success(struct db *db, bool *changed);

/* A recoverable failure against the portal: counts it; at `threshold` in a row (or a failed
 * probe) the breaker opens with `reason`. *opened (may be NULL) tells whether this call opened it. */
QUEUE_WUR int queue_breaker_failure(struct db *db, int threshold, const char *reason, bool *opened);

/* Closes the breaker by hand (`gspbot breaker reset`) and wakes the workers. */
QUEUE_WUR int queue_breaker_reset(struct db *db);

/* ----------------------------------------------------------------- batches */

/* start: pending or paused -> running; its pending orders become queued with max_attempts set
 * (a paused batch's orders are already queued). `at_epoch` > 0 schedules the start: the orders
 * become due then. Wakes the workers. *msg (size n) says what happened for the CLI/API. */
QUEUE_WUR int queue_batch_start(struct db *db, long long batch_id, int max_attempts, double at_epoch, char *msg,
                                size_t n);
/* pause: running -> paused (no new claims; orders in flight finish). reason may be NULL. */
QUEUE_WUR int queue_batch_pause(struct db *db, long long batch_id, const char *reason, char *msg, size_t n);
/* cancel: any unfinished batch -> cancelled; its waiting orders end cancelled at once, orders in
 * flight at their next step (their worker sees it in its heartbeat). */
QUEUE_WUR int queue_batch_cancel(struct db *db, long long batch_id, char *msg, size_t n);
/* retry: the batch's failed orders -> queued with attempts reset (and the batch running again). */
QUEUE_WUR int queue_batch_retry(struct db *db, long long batch_id, int max_attempts, char *msg, size_t n);
/* retry-order: one failed or cancelled order -> queued, attempts reset. */
QUEUE_WUR int queue_order_retry(struct db *db, long long order_id, int max_attempts, char *msg, size_t n);
/* delete: a batch that is not running (no order in progress) with its orders and logs. The
 * evidence files named in its logs are listed in *files (caller frees each and the array) for
 * the caller to remove. */
QUEUE_WUR int queue_batch_delete(struct db *db, long long batch_id, char ***files, size_t *nfiles, char *msg, size_t n);
/* Settles a running batch whose orders are all finished: completed, or failed when any failed. */
QUEUE_WUR int queue_batch_settle(struct db *db, long long batch_id);

/* A batch's status ("running", ...) and paused_reason (may be ""), for `run` and the API. Returns
 * 1 found, 0 not found, or QUEUE_EDB. */
QUEUE_WUR int queue_batch_status(struct db *db, long long batch_id, char status[16], char *reason, size_t n);

/* ----------------------------------------------------------------- reports */
/* What `orders`, `logs`, `failures`, `export` and the API show. Each builds a new cJSON (*out,
 * caller frees) and returns 0, QUEUE_ENOENT (no such batch/order: db_errmsg says so) or QUEUE_EDB. */

/* {"batch_id", "status", "page", "per_page", "total", "pages", "orders": [...]}: one page of a
 * batch's orders (status NULL = all), in file order. */
QUEUE_WUR int queue_orders_json(struct db *db, long long batch_id, const char *status, int page, int per_page,
                                cJSON **out);
/* One order with its "products" (code, quantity, source_lines, outcome, message). */
QUEUE_WUR int queue_order_json(struct db *db, long long order_id, cJSON **out);
/* The order's audit trail, oldest first: attempt, step, level, message, duration_ms, worker,
 * evidence (base path of .png/.html/.console.txt), at. */
QUEUE_WUR int queue_logs_json(struct db *db, long long order_id, cJSON **out);
/* The batch's failed orders grouped by error (the order's own codes taken out), most common first:
 * pattern, error_class, count, example, example_order, example_consultora, orders (first 20 ids). */
QUEUE_WUR int queue_failures_json(struct db *db, long long batch_id, cJSON **out);
/* Live workers (all: also stopped and dead ones, newest 500). */
QUEUE_WUR int queue_workers_json(struct db *db, bool all, cJSON **out);
/* Writes the batch's orders (status NULL = all) as CSV that `gspbot load` reads back: one row per
 * item, with status, outcome, error and portal reference as extra columns. */
QUEUE_WUR int queue_export(struct db *db, long long batch_id, const char *status, FILE *f, long *rows);

/* ------------------------------------------------------------------ verify */

/* The orders `gspbot verify` reads back, with what the database says their cart must hold:
 * a completed order all its products; any other order the products whose outcome says they went
 * in (added, already_in_cart); nothing else. status NULL = completed, "all" = every order. */
struct queue_verify_item {
    char product_code[21];
    int expected;
};
struct queue_verify_order {
    long long id;
    char consultora_code[21];
    char consultora_name[201];
    char status[16];
    struct queue_verify_item *items; /* owned */
    size_t nitems;
};
/* Fills *out (caller frees with queue_verify_orders_free) with the batch's orders. Returns how
 * many, QUEUE_ENOENT (no such batch), QUEUE_EDB or QUEUE_ENOMEM. */
QUEUE_WUR int queue_verify_orders(struct db *db, long long batch_id, const char *status,
                                  struct queue_verify_order **out, size_t *n);
void queue_verify_orders_free(struct queue_verify_order *v, size_t n);
/* Records an order's verification (orders.verified_at, verify_result, verify_detail). */
QUEUE_WUR int queue_verify_record(struct db *db, long long order_id, const char *result, const char *detail);

/* "out of memory", "database error", ... */
const char *queue_strerror(int code);

#endif
