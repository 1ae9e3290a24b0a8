/* batch: a batch's life — start (now or at a time), pause, cancel, retry, delete — and the rule
 * that its status follows its orders (see queue.h). Each change is one transaction. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "queue_internal.h"

void queue__step_name(const char *step, char out[65])
{
    snprintf(out, 65, "%s", step != NULL && *step != '\0' ? step : "-");
}

int queue__event(struct db *db, const char *kind, long long batch_id, const char *payload_json, int webhook)
{
    char bid[24];
    snprintf(bid, sizeof bid, "%lld", batch_id);
    const char *p[] = {kind, batch_id > 0 ? bid : NULL, payload_json ? payload_json : "{}", webhook ? "t" : "f"};
    PGresult *r = db_query(db, "event",
                           "WITH e AS (INSERT INTO events (kind, batch_id, payload, webhook)"
                           " VALUES ($1, $2, $3::jsonb, $4) RETURNING id)"
                           " SELECT pg_notify('gspbot_events', id::text) FROM e",
                           4, p);
    if (r == NULL)
        return -1;
    PQclear(r);
    return 0;
}

/* Runs sql (parameters p) and returns its result, or NULL (db_errmsg). */
static PGresult *q(struct db *db, const char *what, const char *sql, int n, const char *const *p)
{
    return db_query(db, what, sql, n, p);
}

static int notify_workers(struct db *db)
{
    return db_exec(db, "notify", "SELECT pg_notify('" QUEUE_CHANNEL "', 'wake')");
}

int queue__settle(struct db *db, long long batch_id)
{
    char bid[24];
    snprintf(bid, sizeof bid, "%lld", batch_id);
    const char *p[] = {bid};
    // One statement, run after the caller's change is committed: of two workers finishing a
    // batch's last two orders at once, the later one's snapshot sees both done (the earlier one
    // may see the other still open and do nothing); if both see it, the row lock lets only one
    // UPDATE pass `status = 'running'`, and only that one records the event.
    PGresult *r = db_query_prepared(
        db, "settle",
        "WITH s AS ("
        "  UPDATE batches b SET finished_at = now(),"
        "    status = CASE WHEN EXISTS (SELECT 1 FROM orders WHERE batch_id = b.id AND status = 'failed')"
        "                  THEN 'failed' ELSE 'completed' END"
        "  WHERE b.id = $1 AND b.status = 'running'"
        "    AND NOT EXISTS (SELECT 1 FROM orders WHERE batch_id = b.id"
        "                    AND status IN ('pending', 'queued', 'in_progress', 'retrying'))"
        "  RETURNING b.id, b.name, b.status, b.started_at),"
        " e AS (INSERT INTO events (kind, batch_id, payload, webhook)"
        "  SELECT 'batch.finished', s.id, json_build_object('batch_id', s.id, 'name', s.name, 'status', s.status,"
        "    'total', (SELECT count(*) FROM orders WHERE batch_id = s.id),"
        "    'completed', (SELECT count(*) FROM orders WHERE batch_id = s.id AND status = 'completed'),"
        "    'failed', (SELECT count(*) FROM orders WHERE batch_id = s.id AND status = 'failed'),"
        "    'seconds', round(extract(epoch FROM now() - s.started_at))), true FROM s RETURNING id)"
        " SELECT pg_notify('gspbot_events', id::text) FROM e",
        1, p);
    if (r == NULL)
        return -1;
    PQclear(r);
    return 0;
}

int queue_batch_settle(struct db *db, long long batch_id)
{
    return queue__settle(db, batch_id) == 0 ? 0 : QUEUE_EDB;
}

int queue__pause_all(struct db *db, const char *reason)
{
    const char *p[] = {reason};
    PGresult *r = q(db, "pause every batch",
                    "UPDATE batches SET status = 'paused', paused_reason = $1 WHERE status = 'running'"
                    " RETURNING id, json_build_object('batch_id', id, 'name', name, 'status', 'paused',"
                    "   'reason', $1::text)::text",
                    1, p);
    if (r == NULL)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = queue__event(db, "batch.paused", strtoll(PQgetvalue(r, i, 0), NULL, 10), PQgetvalue(r, i, 1), 1);
    PQclear(r);
    return rc;
}

int queue_batch_status(struct db *db, long long batch_id, char status[16], char *reason, size_t n)
{
    char bid[24];
    snprintf(bid, sizeof bid, "%lld", batch_id);
    const char *p[] = {bid};
    PGresult *r = q(db, "batch status", "SELECT status, coalesce(paused_reason, '') FROM batches WHERE id = $1", 1, p);
    if (r == NULL)
        return QUEUE_EDB;
    int found = PQntuples(r) > 0;
    if (found) {
        snprintf(status, 16, "%s", PQgetvalue(r, 0, 0));
        if (reason != NULL && n > 0)
            snprintf(reason, n, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return found;
}

/* BEGIN; SELECT the batch FOR UPDATE. Returns 1 (in a transaction, *status and *name set), 0 no
 * such batch (rolled back), or QUEUE_EDB. */
static int lock_batch(struct db *db, const char *bid, char status[16], char name[201])
{
    if (db_exec(db, "begin", "BEGIN") != 0)
        return QUEUE_EDB;
    const char *p[] = {bid};
    PGresult *r = q(db, "batch", "SELECT status, name FROM batches WHERE id = $1 FOR UPDATE", 1, p);
    if (r == NULL) {
        db_ignore(db_exec(db, "rollback", "ROLLBACK"));
        return QUEUE_EDB;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        db_ignore(db_exec(db, "rollback", "ROLLBACK"));
        return 0;
    }
    snprintf(status, 16, "%s", PQgetvalue(r, 0, 0));
    snprintf(name, 201, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return 1;
}

/* Ends a batch change: COMMIT (0) or ROLLBACK with rc. */
static int end_tx(struct db *db, int rc)
{
    if (rc == 0 && db_exec(db, "commit", "COMMIT") == 0)
        return 0;
    db_ignore(db_exec(db, "rollback", "ROLLBACK"));
    return rc != 0 ? rc : QUEUE_EDB;
}

static int refuse(struct db *db, char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int refuse(struct db *db, char *msg, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, n, fmt, ap);
    va_end(ap);
    db_fail(db, "%s", msg);
    db_ignore(db_exec(db, "rollback", "ROLLBACK"));
    return QUEUE_ESTATE;
}

static int not_found(struct db *db, char *msg, size_t n, const char *what, const char *id)
{
    snprintf(msg, n, "no %s %s", what, id);
    db_fail(db, "%s", msg);
    return QUEUE_ENOENT;
}

/* Runs an update inside the transaction; returns rows affected or -1. */
static long exec_count(struct db *db, const char *what, const char *sql, int np, const char *const *p)
{
    PGresult *r = q(db, what, sql, np, p);
    if (r == NULL)
        return -1;
    long k = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return k;
}

int queue_batch_start(struct db *db, long long batch_id, int max_attempts, double at_epoch, char *msg, size_t n)
{
    char bid[24], st[16], name[201], maxa[16], at[40];
    snprintf(bid, sizeof bid, "%lld", batch_id);
    snprintf(maxa, sizeof maxa, "%d", max_attempts > 0 ? max_attempts : 4);
    snprintf(at, sizeof at, "%.3f", at_epoch);
    int rc = lock_batch(db, bid, st, name);
    if (rc <= 0)
        return rc == 0 ? not_found(db, msg, n, "batch", bid) : rc;
    if (strcmp(st, "running") == 0 && at_epoch <= 0) {
        snprintf(msg, n, "batch %s \"%s\" is already running", bid, name);
        return end_tx(db, 0);
    }
    if (strcmp(st, "pending") != 0 && strcmp(st, "paused") != 0 && strcmp(st, "running") != 0)
        return refuse(db, msg, n, "batch %s \"%s\" is %s: %s", bid, name, st,
                      strcmp(st, "cancelled") == 0 ? "a cancelled batch does not start again (load the file again)"
                                                   : "use `gspbot retry` to run its failed orders again");
    const char *p[] = {bid, maxa, at};
    long queued = exec_count(db, "start: orders",
                             "UPDATE orders SET status = 'queued', max_attempts = $2::int,"
                             "  next_attempt_at = CASE WHEN $3::double precision > 0"
                             "                         THEN to_timestamp($3::double precision) END, updated_at = now()"
                             " WHERE batch_id = $1 AND status = 'pending'",
                             3, p);
    if (queued < 0)
        return end_tx(db, QUEUE_EDB);
    if (at_epoch > 0 && exec_count(db, "start: schedule",
                                   "UPDATE orders SET next_attempt_at = to_timestamp($3::double precision)"
                                   " WHERE batch_id = $1 AND status = 'queued' AND $2::int > 0",
                                   3, p) < 0)
        return end_tx(db, QUEUE_EDB);
    if (exec_count(db, "start",
                   "UPDATE batches SET status = 'running', paused_reason = NULL,"
                   "  start_at = CASE WHEN $3::double precision > 0 THEN to_timestamp($3::double precision) END,"
                   "  started_at = coalesce(started_at, CASE WHEN $3::double precision > 0"
                   "                        THEN to_timestamp($3::double precision) ELSE now() END)"
                   " WHERE id = $1 AND $2::int > 0",
                   3, p) < 0)
        return end_tx(db, QUEUE_EDB);
    // A batch whose orders were all finished while it was paused has nothing left to run.
    if (queue__settle(db, batch_id) != 0 || notify_workers(db) != 0)
        return end_tx(db, QUEUE_EDB);
    if (at_epoch > 0)
        snprintf(msg, n, "batch %s \"%s\" scheduled: its orders start at the time given", bid, name);
    else if (strcmp(st, "paused") == 0)
        snprintf(msg, n, "batch %s \"%s\" resumed", bid, name);
    else
        snprintf(msg, n, "batch %s \"%s\" started: %ld order%s queued", bid, name, queued, queued == 1 ? "" : "s");
    char payload[128];
    snprintf(payload, sizeof payload, "{\"batch_id\": %s, \"status\": \"running\"}", bid);
    if (queue__event(db, "batch.started", batch_id, payload, 0) != 0)
        return end_tx(db, QUEUE_EDB);
    return end_tx(db, 0);
}

int queue_batch_pause(struct db *db, long long batch_id, const char *reason, char *msg, size_t n)
{
    char bid[24], st[16], name[201];
    snprintf(bid, sizeof bid, "%lld", batch_id);
    int rc = lock_batch(db, bid, st, name);
    if (rc <= 0)
        return rc == 0 ? not_found(db, msg, n, "batch", bid) : rc;
    if (strcmp(st, "paused") == 0) {
        snprintf(msg, n, "batch %s \"%s\" is already paused", bid, name);
        return end_tx(db, 0);
    }
    if (strcmp(st, "running") != 0)
        return refuse(db, msg, n, "batch %s \"%s\" is %s: only a running batch can be paused", bid, name, st);
    const char *p[] = {bid, reason};
    if (exec_count(db, "pause", "UPDATE batches SET status = 'paused', paused_reason = $2 WHERE id = $1", 2, p) < 0)
        return end_tx(db, QUEUE_EDB);
    char payload[128];
    snprintf(payload, sizeof payload, "{\"batch_id\": %s, \"status\": \"paused\"}", bid);
    if (queue__event(db, "batch.paused", batch_id, payload, 0) != 0)
        return end_tx(db, QUEUE_EDB);
    snprintf(msg, n, "batch %s \"%s\" paused: no new order starts; orders in progress finish", bid, name);
    return end_tx(db, 0);
}

int queue_batch_cancel(struct db *db, long long batch_id, char *msg, size_t n)
{
    char bid[24], st[16], name[201];
    snprintf(bid, sizeof bid, "%lld", batch_id);
    int rc = lock_batch(db, bid, st, name);
    if (rc <= 0)
        return rc == 0 ? not_found(db, msg, n, "batch", bid) : rc;
    if (strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0)
        return refuse(db, msg, n, "batch %s \"%s\" is already %s", bid, name, st);
    const char *p[] = {bid};
    long waiting = exec_count(db, "cancel: orders",
                              "UPDATE orders SET status = 'cancelled', error_class = 'cancelled',"
                              "  last_error = 'the batch was cancelled', next_attempt_at = NULL, finished_at = now(),"
                              "  updated_at = now()"
                              " WHERE batch_id = $1 AND status IN ('pending', 'queued', 'retrying')",
                              1, p);
    if (waiting < 0)
        return end_tx(db, QUEUE_EDB);
    PGresult *r = q(db, "cancel",
                    "UPDATE batches SET status = 'cancelled', finished_at = now() WHERE id = $1"
                    " RETURNING (SELECT count(*) FROM orders WHERE batch_id = $1 AND status = 'in_progress'),"
                    "  json_build_object('batch_id', id, 'name', name, 'status', 'cancelled',"
                    "    'completed', (SELECT count(*) FROM orders WHERE batch_id = $1 AND status = 'completed'),"
                    "    'total', (SELECT count(*) FROM orders WHERE batch_id = $1))::text",
                    1, p);
    if (r == NULL)
        return end_tx(db, QUEUE_EDB);
    long inflight = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    rc = queue__event(db, "batch.cancelled", batch_id, PQgetvalue(r, 0, 1), /* webhook= */ 1);
    PQclear(r);
    if (rc != 0)
        return end_tx(db, QUEUE_EDB);
    snprintf(msg, n,
             "batch %s \"%s\" cancelled: %ld waiting order%s cancelled, %ld in progress (stopping at %s next step)",
             bid, name, waiting, waiting == 1 ? "" : "s", inflight, inflight == 1 ? "its" : "their");
    return end_tx(db, 0);
}

int queue_batch_retry(struct db *db, long long batch_id, int max_attempts, char *msg, size_t n)
{
    char bid[24], st[16], name[201], maxa[16];
    snprintf(bid, sizeof bid, "%lld", batch_id);
    snprintf(maxa, sizeof maxa, "%d", max_attempts > 0 ? max_attempts : 4);
    int rc = lock_batch(db, bid, st, name);
    if (rc <= 0)
        return rc == 0 ? not_found(db, msg, n, "batch", bid) : rc;
    if (strcmp(st, "pending") == 0)
        return refuse(db, msg, n, "batch %s \"%s\" has not started: use `gspbot start %s`", bid, name, bid);
    if (strcmp(st, "cancelled") == 0)
        return refuse(db, msg, n, "batch %s \"%s\" was cancelled: load the file again to run it", bid, name);
    const char *p[] = {bid, maxa};
    if (exec_count(db, "retry: items",
                   "UPDATE order_items i SET outcome = 'pending', message = NULL FROM orders o"
                   " WHERE o.id = i.order_id AND o.batch_id = $1 AND o.status = 'failed'"
                   "   AND i.outcome NOT IN ('added', 'already_in_cart') AND $2::int > 0",
                   2, p) < 0)
        return end_tx(db, QUEUE_EDB);
    long k = exec_count(db, "retry",
                        "UPDATE orders SET status = 'queued', attempts = 0, max_attempts = $2::int,"
                        "  next_attempt_at = NULL, finished_at = NULL, last_error = NULL, error_class = NULL,"
                        "  updated_at = now()"
                        " WHERE batch_id = $1 AND status = 'failed'",
                        2, p);
    if (k < 0)
        return end_tx(db, QUEUE_EDB);
    if (k == 0) {
        snprintf(msg, n, "batch %s \"%s\" has no failed orders", bid, name);
        return end_tx(db, 0);
    }
    if (strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0) {
        const char *pb[] = {bid};
        if (exec_count(db, "retry: batch", "UPDATE batches SET status = 'running', finished_at = NULL WHERE id = $1", 1,
                       pb) < 0)
            return end_tx(db, QUEUE_EDB);
    }
    if (notify_workers(db) != 0)
        return end_tx(db, QUEUE_EDB);
    snprintf(msg, n, "batch %s \"%s\": %ld failed order%s queued again%s", bid, name, k, k == 1 ? "" : "s",
             strcmp(st, "paused") == 0 ? " (the batch is paused: `gspbot start` resumes it)" : "");
    return end_tx(db, 0);
}

int queue_order_retry(struct db *db, long long order_id, int max_attempts, char *msg, size_t n)
{
    char oid[24], maxa[16];
    snprintf(oid, sizeof oid, "%lld", order_id);
    snprintf(maxa, sizeof maxa, "%d", max_attempts > 0 ? max_attempts : 4);
    if (db_exec(db, "begin", "BEGIN") != 0)
        return QUEUE_EDB;
    const char *p[] = {oid};
    PGresult *r =
        q(db, "order",
          "SELECT o.status, b.id, b.status, o.consultora_code FROM orders o JOIN batches b ON b.id = o.batch_id"
          " WHERE o.id = $1 FOR UPDATE OF o, b",
          1, p);
    if (r == NULL)
        return end_tx(db, QUEUE_EDB);
    if (PQntuples(r) == 0) {
        PQclear(r);
        db_ignore(db_exec(db, "rollback", "ROLLBACK"));
        return not_found(db, msg, n, "order", oid);
    }
    char ost[16], bst[16], bid[24], code[32];
    snprintf(ost, sizeof ost, "%s", PQgetvalue(r, 0, 0));
    snprintf(bid, sizeof bid, "%s", PQgetvalue(r, 0, 1));
    snprintf(bst, sizeof bst, "%s", PQgetvalue(r, 0, 2));
    snprintf(code, sizeof code, "%s", PQgetvalue(r, 0, 3));
    PQclear(r);
    if (strcmp(ost, "failed") != 0 && strcmp(ost, "cancelled") != 0)
        return refuse(db, msg, n, "order %s (consultora %s) is %s: only a failed or cancelled order is retried", oid,
                      code, ost);
    if (strcmp(bst, "cancelled") == 0 || strcmp(bst, "pending") == 0)
        return refuse(db, msg, n, "order %s: its batch %s is %s", oid, bid, bst);
    const char *p2[] = {oid, maxa};
    if (exec_count(db, "retry-order: items",
                   "UPDATE order_items SET outcome = 'pending', message = NULL WHERE order_id = $1"
                   " AND outcome NOT IN ('added', 'already_in_cart') AND $2::int > 0",
                   2, p2) < 0 ||
        exec_count(db, "retry-order",
                   "UPDATE orders SET status = 'queued', attempts = 0, max_attempts = $2::int, next_attempt_at = NULL,"
                   "  finished_at = NULL, last_error = NULL, error_class = NULL, updated_at = now() WHERE id = $1",
                   2, p2) < 0)
        return end_tx(db, QUEUE_EDB);
    if (strcmp(bst, "completed") == 0 || strcmp(bst, "failed") == 0) {
        const char *pb[] = {bid};
        if (exec_count(db, "retry-order: batch",
                       "UPDATE batches SET status = 'running', finished_at = NULL WHERE id = $1", 1, pb) < 0)
            return end_tx(db, QUEUE_EDB);
    }
    if (notify_workers(db) != 0)
        return end_tx(db, QUEUE_EDB);
    snprintf(msg, n, "order %s (consultora %s) queued again%s", oid, code,
             strcmp(bst, "paused") == 0 ? " (its batch is paused: `gspbot start` resumes it)" : "");
    return end_tx(db, 0);
}

int queue_batch_delete(struct db *db, long long batch_id, char ***files, size_t *nfiles, char *msg, size_t n)
{
    *files = NULL;
    *nfiles = 0;
    char bid[24], st[16], name[201];
    snprintf(bid, sizeof bid, "%lld", batch_id);
    int rc = lock_batch(db, bid, st, name);
    if (rc <= 0)
        return rc == 0 ? not_found(db, msg, n, "batch", bid) : rc;
    const char *p[] = {bid};
    PGresult *r = q(db, "delete: in progress",
                    "SELECT count(*) FROM orders WHERE batch_id = $1 AND status = 'in_progress'", 1, p);
    if (r == NULL)
        return end_tx(db, QUEUE_EDB);
    long inflight = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (strcmp(st, "running") == 0 || inflight > 0)
        return refuse(db, msg, n,
                      "batch %s \"%s\" is %s%s: pause or cancel it, and wait for its orders in progress, first", bid,
                      name, st, inflight > 0 ? " with orders in progress" : "");
    r = q(db, "delete: evidence",
          "SELECT DISTINCT l.screenshot FROM order_logs l JOIN orders o ON o.id = l.order_id"
          " WHERE o.batch_id = $1 AND l.screenshot IS NOT NULL",
          1, p);
    if (r == NULL)
        return end_tx(db, QUEUE_EDB);
    int k = PQntuples(r);
    char **list = calloc((size_t)k + 1, sizeof *list);
    for (int i = 0; list != NULL && i < k; i++)
        list[i] = strdup(PQgetvalue(r, i, 0));
    PQclear(r);
    if (list == NULL)
        return end_tx(db, QUEUE_ENOMEM);
    long orders = exec_count(db, "delete",
                             "WITH d AS (DELETE FROM batches WHERE id = $1 RETURNING id)"
                             " SELECT 1 FROM d",
                             1, p);
    if (orders < 0) {
        for (int i = 0; i < k; i++)
            free(list[i]);
        free(list);
        return end_tx(db, QUEUE_EDB);
    }
    *files = list;
    *nfiles = (size_t)k;
    snprintf(msg, n, "batch %s \"%s\" deleted with its orders, items and audit trail", bid, name);
    return end_tx(db, 0);
}
