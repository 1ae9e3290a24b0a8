/* claim: claims, leases, fenced logs and outcomes, and the reaper (see queue.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "queue.h"
#include "queue_internal.h"

/* One statement: running batches by priority then age (an index scan on batches_running_idx),
 * and in each the first runnable order (an index scan on orders_claim_idx) that no other claim
 * holds (SKIP LOCKED); the outer LIMIT stops at the first batch that has one. */
static const char CLAIM_SQL[] =
    "WITH pick AS ("
    "  SELECT o.id FROM batches b"
    "  CROSS JOIN LATERAL ("
    "    SELECT o.id FROM orders o"
    "    WHERE o.batch_id = b.id AND o.status IN ('queued', 'retrying')"
    "      AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())"
    "      AND o.attempts < o.max_attempts"
    "    ORDER BY o.next_attempt_at NULLS FIRST, o.id"
    "    LIMIT 1 FOR UPDATE OF o SKIP LOCKED) o"
    "  WHERE b.status = 'running' AND ($3::bigint = 0 OR b.id = $3::bigint)"
    "  ORDER BY b.priority DESC, b.id"
    "  LIMIT 1)"
    " UPDATE orders o SET status = 'in_progress', attempts = o.attempts + 1, lease_owner = $1,"
    "   lease_expires_at = now() + make_interval(secs => $2::int), lease_token = o.lease_token + 1,"
    "   next_attempt_at = NULL, started_at = coalesce(o.started_at, now()), updated_at = now()"
    " FROM pick WHERE o.id = pick.id"
    " RETURNING o.id, o.batch_id, o.lease_token, o.attempts, o.max_attempts, o.consultora_code,"
    "   coalesce(o.consultora_name, ''),"
    "   (SELECT json_agg(json_build_array(i.id, i.product_code, i.quantity) ORDER BY i.id)"
    "    FROM order_items i WHERE i.order_id = o.id)";

const char *queue_claim_sql(void)
{
    return CLAIM_SQL;
}

void queue_claim_cleanup(struct queue_claim *c)
{
    free(c->items);
    memset(c, 0, sizeof *c);
}

int queue_claim(struct db *db, const char *owner, int lease_s, long long batch_id, struct queue_claim *c)
{
    memset(c, 0, sizeof *c);
    char lease[16], batch[24];
    snprintf(lease, sizeof lease, "%d", lease_s);
    snprintf(batch, sizeof batch, "%lld", batch_id > 0 ? batch_id : 0);
    const char *p[] = {owner, lease, batch};
    PGresult *r = db_query_prepared(db, "claim", CLAIM_SQL, 3, p);
    if (r == NULL)
        return QUEUE_EDB;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    c->order_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    c->batch_id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    c->token = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    c->attempt = (int)strtol(PQgetvalue(r, 0, 3), NULL, 10);
    c->max_attempts = (int)strtol(PQgetvalue(r, 0, 4), NULL, 10);
    snprintf(c->consultora_code, sizeof c->consultora_code, "%s", PQgetvalue(r, 0, 5));
    snprintf(c->consultora_name, sizeof c->consultora_name, "%s", PQgetvalue(r, 0, 6));
    // The items came in the same round trip, as [[id, code, quantity], ...].
    cJSON *items = cJSON_Parse(PQgetvalue(r, 0, 7));
    PQclear(r);
    int n = cJSON_GetArraySize(items);
    if (n > QUEUE_ITEM_MAX)
        n = QUEUE_ITEM_MAX;
    c->items = calloc((size_t)n + 1, sizeof *c->items);
    if (c->items == NULL) {
        cJSON_Delete(items);
        return QUEUE_ENOMEM; // the claim stands: its lease expires and the reaper gives it back
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        if (c->nitems == (size_t)n)
            break;
        const cJSON *id = cJSON_GetArrayItem(it, 0), *code = cJSON_GetArrayItem(it, 1), *q = cJSON_GetArrayItem(it, 2);
        if (!cJSON_IsNumber(id) || !cJSON_IsString(code) || !cJSON_IsNumber(q))
            continue;
        struct queue_item *x = &c->items[c->nitems++];
        x->id = (long long)id->valuedouble;
        snprintf(x->product_code, sizeof x->product_code, "%s", code->valuestring);
        x->quantity = (int)q->valuedouble;
    }
    cJSON_Delete(items);
    return 1;
}

int queue_next_due_s(struct db *db, long long batch_id, double *seconds)
{
    char batch[24];
    snprintf(batch, sizeof batch, "%lld", batch_id > 0 ? batch_id : 0);
    const char *p[] = {batch};
    PGresult *r = db_query(db, "next due",
                           "SELECT greatest(0, extract(epoch FROM min(coalesce(o.next_attempt_at, now())) - now()))"
                           " FROM batches b JOIN orders o ON o.batch_id = b.id"
                           " WHERE b.status = 'running' AND ($1::bigint = 0 OR b.id = $1::bigint)"
                           "   AND o.status IN ('queued', 'retrying') AND o.attempts < o.max_attempts",
                           1, p);
    if (r == NULL)
        return QUEUE_EDB;
    *seconds = PQgetisnull(r, 0, 0) ? -1 : strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    return 0;
}

int queue_renew(struct db *db, const struct queue_claim *c, int lease_s, bool *cancelled)
{
    char oid[24], tok[24], lease[16];
    snprintf(oid, sizeof oid, "%lld", c->order_id);
    snprintf(tok, sizeof tok, "%lld", c->token);
    snprintf(lease, sizeof lease, "%d", lease_s);
    const char *p[] = {oid, tok, lease};
    PGresult *r =
        db_query_prepared(db, "renew lease",
                          "UPDATE orders o SET lease_expires_at = now() + make_interval(secs => $3::int)"
                          " FROM batches b WHERE o.id = $1 AND o.lease_token = $2 AND o.status = 'in_progress'"
                          "   AND b.id = o.batch_id"
                          " RETURNING b.status = 'cancelled'",
                          3, p);
    if (r == NULL)
        return QUEUE_EDB;
    int n = PQntuples(r);
    if (cancelled != NULL)
        *cancelled = n > 0 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return n > 0 ? 0 : QUEUE_ESTALE;
}

int queue_cart_guard(struct db *db, const struct queue_claim *c, bool mark)
{
    char oid[24], tok[24];
    snprintf(oid, sizeof oid, "%lld", c->order_id);
    snprintf(tok, sizeof tok, "%lld", c->token);
    const char *p[] = {oid, tok};
    // The first time: one fenced write that marks the attempt (while the order is in progress,
    // next_attempt_at says since when it may have changed the cart; see REAP_SQL). Then a read.
    PGresult *r =
        mark ? db_query_prepared(db, "cart guard: mark",
                                 "UPDATE orders SET next_attempt_at = coalesce(next_attempt_at, now())"
                                 " WHERE id = $1 AND lease_token = $2 AND status = 'in_progress'"
                                 "   AND lease_expires_at > now()"
                                 " RETURNING 1",
                                 2, p)
             : db_query_prepared(db, "cart guard",
                                 "SELECT 1 FROM orders WHERE id = $1 AND lease_token = $2 AND status = 'in_progress'"
                                 "   AND lease_expires_at > now()",
                                 2, p);
    if (r == NULL)
        return QUEUE_EDB;
    int n = PQntuples(r);
    PQclear(r);
    return n > 0 ? 0 : QUEUE_ESTALE;
}

int queue_log(struct db *db, const struct queue_claim *c, const char *worker, const char *step, const char *level,
              const char *message, long duration_ms, const char *screenshot)
{
    char oid[24], tok[24], att[16], dur[24];
    snprintf(oid, sizeof oid, "%lld", c->order_id);
    snprintf(tok, sizeof tok, "%lld", c->token);
    snprintf(att, sizeof att, "%d", c->attempt);
    snprintf(dur, sizeof dur, "%ld", duration_ms);
    char st[65];
    queue__step_name(step, st);
    const char *p[] = {oid, tok, att, st, level, message, duration_ms >= 0 ? dur : NULL, worker, screenshot};
    PGresult *r =
        db_query_prepared(db, "audit log",
                          "INSERT INTO order_logs (order_id, attempt, step, level, message, duration_ms, worker,"
                          " screenshot)"
                          " SELECT $1, $3, $4, $5, $6, $7, $8, $9 FROM orders"
                          " WHERE id = $1 AND lease_token = $2 AND status = 'in_progress'",
                          9, p);
    if (r == NULL)
        return QUEUE_EDB;
    int n = atoi_safe(PQcmdTuples(r));
    PQclear(r);
    return n > 0 ? 0 : QUEUE_ESTALE;
}

/* The order's new state for each outcome, and its items' outcomes ($10..$12: parallel text arrays
 * of product codes, outcomes and messages), in one statement: fenced by the lease token, atomic,
 * one round trip. */
static const char FINISH_SQL[] =
    "WITH b AS (SELECT b.status FROM batches b JOIN orders o ON o.batch_id = b.id WHERE o.id = $1),"
    " o AS (UPDATE orders o SET"
    "   status = CASE WHEN (SELECT status FROM b) = 'cancelled' AND $3 IN ('retrying', 'queued')"
    "                 THEN 'cancelled' ELSE $3 END,"
    "   attempts = o.attempts - $4::int,"
    "   next_attempt_at = CASE WHEN (SELECT status FROM b) <> 'cancelled'"
    "                           AND ($3 = 'retrying' OR ($3 = 'queued' AND $5::double precision > 0))"
    "                          THEN now() + make_interval(secs => $5::double precision) END,"
    "   step = coalesce($6, o.step),"
    "   last_error = CASE WHEN $3 = 'completed' THEN NULL"
    "                     WHEN (SELECT status FROM b) = 'cancelled' AND $3 IN ('retrying', 'queued')"
    "                     THEN 'the batch was cancelled' ELSE coalesce($7, o.last_error) END,"
    "   error_class = CASE WHEN $3 = 'completed' THEN NULL"
    "                      WHEN (SELECT status FROM b) = 'cancelled' AND $3 IN ('retrying', 'queued')"
    "                      THEN 'cancelled' ELSE coalesce($8, o.error_class) END,"
    "   portal_reference = coalesce($9, o.portal_reference),"
    "   lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),"
    "   finished_at = CASE WHEN $3 IN ('completed', 'failed', 'cancelled')"
    "                        OR ((SELECT status FROM b) = 'cancelled' AND $3 IN ('retrying', 'queued'))"
    "                      THEN now() END"
    "  WHERE o.id = $1 AND o.lease_token = $2 AND o.status = 'in_progress'"
    "  RETURNING o.id, o.batch_id, o.status),"
    " i AS (UPDATE order_items it SET outcome = x.outcome, message = x.message"
    "  FROM o, unnest($10::text[], $11::text[], $12::text[]) AS x(code, outcome, message)"
    "  WHERE it.order_id = o.id AND it.product_code = x.code RETURNING 1)"
    " SELECT o.batch_id, o.status, (SELECT count(*) FROM i) FROM o";

/* Appends a PostgreSQL array literal element: NULL, or "text" with " and \ escaped. */
static int array_elem(struct buf *b, const char *s)
{
    int rc = buf_append_str(b, b->len > 1 ? "," : "");
    if (rc == 0 && s == NULL)
        return buf_append_str(b, "NULL");
    if (rc == 0)
        rc = buf_append_str(b, "\"");
    for (const char *p = s; rc == 0 && *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            rc = buf_append(b, "\\", 1);
        if (rc == 0)
            rc = buf_append(b, p, 1);
    }
    return rc == 0 ? buf_append_str(b, "\"") : rc;
}

int queue_finish(struct db *db, const struct queue_claim *c, const struct queue_result *res, char batch_status[16])
{
    const char *status = "failed";
    int give_back = 0;
    switch (res->outcome) {
    case QUEUE_DONE: status = "completed"; break;
    case QUEUE_RETRY: status = "retrying"; break;
    case QUEUE_FAIL: status = "failed"; break;
    case QUEUE_CANCELLED: status = "cancelled"; break;
    case QUEUE_RELEASE:
    case QUEUE_ABORT:
        // Not the order's fault: the attempt is given back, the order waits in the queue.
        status = "queued";
        give_back = 1;
        break;
    }
    if (batch_status != NULL)
        batch_status[0] = '\0';
    char oid[24], tok[24], back[4], delay[32];
    snprintf(oid, sizeof oid, "%lld", c->order_id);
    snprintf(tok, sizeof tok, "%lld", c->token);
    snprintf(back, sizeof back, "%d", give_back);
    snprintf(delay, sizeof delay, "%.3f", res->delay_ms > 0 ? res->delay_ms / 1000.0 : 0.0);
    char step[65];
    if (res->step != NULL)
        queue__step_name(res->step, step);
    const char *cls = res->outcome == QUEUE_CANCELLED ? "cancelled" : res->error_class;
    struct buf codes, outcomes, messages;
    buf_init(&codes, 0);
    buf_init(&outcomes, 0);
    buf_init(&messages, 0);
    int rc = buf_append_str(&codes, "{") | buf_append_str(&outcomes, "{") | buf_append_str(&messages, "{");
    for (size_t i = 0; rc == 0 && i < res->nitems; i++)
        rc = array_elem(&codes, res->items[i].product_code) | array_elem(&outcomes, res->items[i].outcome) |
             array_elem(&messages, res->items[i].message);
    rc = rc ? rc : buf_append_str(&codes, "}") | buf_append_str(&outcomes, "}") | buf_append_str(&messages, "}");
    if (rc != 0) {
        buf_cleanup(&codes);
        buf_cleanup(&outcomes);
        buf_cleanup(&messages);
        db_fail(db, "finish: out of memory");
        return QUEUE_ENOMEM;
    }
    // An abort also pauses every running batch: that and the order's release go together.
    bool tx = res->outcome == QUEUE_ABORT;
    if (tx && db_exec(db, "finish: begin", "BEGIN") != 0) {
        rc = QUEUE_EDB;
        goto out;
    }
    const char *p[] = {oid,
                       tok,
                       status,
                       back,
                       delay,
                       res->step ? step : NULL,
                       res->error,
                       cls,
                       res->portal_reference,
                       buf_str(&codes),
                       buf_str(&outcomes),
                       buf_str(&messages)};
    PGresult *r = db_query_prepared(db, "finish", FINISH_SQL, 12, p);
    if (r == NULL) {
        rc = QUEUE_EDB;
        goto out;
    }
    if (PQntuples(r) == 0) { // fenced: another attempt owns the order now
        PQclear(r);
        rc = QUEUE_ESTALE;
        goto out;
    }
    long long batch_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    bool final = strcmp(PQgetvalue(r, 0, 1), "completed") == 0 || strcmp(PQgetvalue(r, 0, 1), "failed") == 0 ||
                 strcmp(PQgetvalue(r, 0, 1), "cancelled") == 0;
    PQclear(r);
    if (tx && (queue__pause_all(db, res->error ? res->error : "aborted") != 0 ||
               db_exec(db, "finish: commit", "COMMIT") != 0)) {
        rc = QUEUE_EDB;
        goto out;
    }
    tx = false;
    // After the commit: the batch is settled by whichever finisher sees it complete.
    if (final && queue__settle(db, batch_id) != 0) {
        rc = QUEUE_EDB;
        goto out;
    }
    if (batch_status != NULL) {
        char reason[8];
        if (queue_batch_status(db, batch_id, batch_status, reason, sizeof reason) < 0)
            batch_status[0] = '\0';
    }
out:
    if (tx)
        db_ignore(db_exec(db, "finish: rollback", "ROLLBACK"));
    buf_cleanup(&codes);
    buf_cleanup(&outcomes);
    buf_cleanup(&messages);
    return rc;
}

/* Workers whose advisory lock is free are gone; their orders, and orders whose lease expired,
 * go back to the queue with the attempt counted (or fail on their last one; in a cancelled batch
 * they end cancelled).
 *
 * The takeover settle time ($1, ms). An attempt that may have changed the cart (queue_cart_guard
 * marked it: next_attempt_at is set while the order is in progress) and ended without an outcome
 * may have left a cart addition in flight: sent by its browser, not yet applied by a slow portal.
 * The next attempt must not read the cart before the portal applied it, or it adds the product a
 * second time. Such an order is due no sooner than its attempt's last sign of life plus the settle
 * time: the reap itself for a dead worker (it sent nothing after it died), the lease's expiry for
 * one stopped or cut off (it checks its lease before every cart-changing action and stops trusting
 * it before it expires). An attempt that never reached the cart is due at once. */
static const char REAP_SQL[] =
    "WITH gone AS ("
    "  SELECT w.id FROM workers w"
    "  WHERE w.status NOT IN ('stopped', 'dead')"
    "    AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
    "                    AND l.classid = " QUEUE__LOCK_WORKER_STR "::oid AND l.objid = w.lock_key::oid"
    "                    AND l.objsubid = 2)"
    "), dead AS ("
    "  UPDATE workers SET status = 'dead', stopped_at = now(), current_order = NULL,"
    "    stop_reason = 'its process or its database connection is gone'"
    "  WHERE id IN (SELECT id FROM gone) RETURNING id"
    "), moved AS ("
    "  UPDATE orders o SET"
    "    status = CASE WHEN b.status = 'cancelled' THEN 'cancelled'"
    "                  WHEN o.attempts >= o.max_attempts THEN 'failed' ELSE 'retrying' END,"
    "    next_attempt_at = CASE WHEN b.status <> 'cancelled' AND o.attempts < o.max_attempts"
    "                           THEN CASE WHEN o.next_attempt_at IS NULL THEN now()"
    "                                     ELSE greatest(now(), least(now(), o.lease_expires_at)"
    "                                                   + make_interval(secs => $1::double precision / 1000)) END"
    "                      END,"
    "    finished_at = CASE WHEN b.status = 'cancelled' OR o.attempts >= o.max_attempts THEN now() END,"
    "    error_class = CASE WHEN b.status = 'cancelled' THEN 'cancelled' ELSE 'recoverable' END,"
    "    last_error = CASE WHEN o.lease_owner IN (SELECT id FROM gone)"
    "                      THEN 'worker ' || o.lease_owner || ' died during attempt ' || o.attempts"
    "                      ELSE 'the lease of worker ' || o.lease_owner || ' expired during attempt '"
    "                           || o.attempts || ' (stopped or cut off)' END,"
    "    lease_owner = NULL, lease_expires_at = NULL, updated_at = now()"
    "  FROM batches b"
    "  WHERE b.id = o.batch_id AND o.status = 'in_progress'"
    "    AND (o.lease_expires_at < now() OR o.lease_owner IN (SELECT id FROM gone))"
    "  RETURNING o.id, o.batch_id, o.attempts, o.status, o.last_error,"
    "    ceil(extract(epoch FROM o.next_attempt_at - now()))::int AS settle_s"
    "), logged AS ("
    "  INSERT INTO order_logs (order_id, attempt, step, level, message)"
    "  SELECT id, attempts, 'worker_lost', 'warn', last_error || ': ' || CASE"
    "    WHEN status = 'retrying' AND settle_s > 0"
    "    THEN 'queued again in ' || settle_s || ' s (it may have changed the cart: the portal gets that long'"
    "         || ' to apply what it sent before the cart is read again)'"
    "    WHEN status = 'retrying' THEN 'queued again' WHEN status = 'failed' THEN 'no attempt left'"
    "    ELSE status END FROM moved"
    ")"
    " SELECT DISTINCT batch_id, (SELECT count(*) FROM moved) FROM moved";

int queue_reap(struct db *db, int settle_ms)
{
    char settle[16];
    snprintf(settle, sizeof settle, "%d", settle_ms > 0 ? settle_ms : 0);
    const char *p[] = {settle};
    PGresult *r = db_query(db, "reap", REAP_SQL, 1, p);
    if (r == NULL)
        return QUEUE_EDB;
    int moved = PQntuples(r) > 0 ? atoi_safe(PQgetvalue(r, 0, 1)) : 0;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = queue__settle(db, strtoll(PQgetvalue(r, i, 0), NULL, 10));
    PQclear(r);
    return rc != 0 ? QUEUE_EDB : moved;
}

const char *queue_strerror(int code)
{
    switch (code) {
    case 0: return "ok";
    case QUEUE_EDB: return "database error";
    case QUEUE_ESTALE: return "the lease moved on (stale claim)";
    case QUEUE_ENOENT: return "not found";
    case QUEUE_ESTATE: return "not allowed in this state";
    case QUEUE_ENOMEM: return "out of memory";
    default: return "unknown error";
    }
}
