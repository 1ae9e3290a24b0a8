/* report: what the CLI prints and the API answers about batches, orders, their audit trail,
 * failures and workers, built once as JSON (see queue.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "queue_internal.h"

/* Rows of r as an array of objects keyed by column name; columns named in `numeric` become
 * numbers, "t"/"f" columns named in `boolean` become booleans, NULLs become null. */
static cJSON *rows_json(PGresult *r, const char *const *numeric)
{
    cJSON *arr = cJSON_CreateArray();
    int nf = PQnfields(r);
    for (int i = 0; arr != NULL && i < PQntuples(r); i++) {
        cJSON *o = cJSON_CreateObject();
        for (int f = 0; o != NULL && f < nf; f++) {
            const char *name = PQfname(r, f);
            if (PQgetisnull(r, i, f)) {
                cJSON_AddNullToObject(o, name);
                continue;
            }
            const char *v = PQgetvalue(r, i, f);
            bool num = false;
            for (const char *const *k = numeric; k != NULL && *k != NULL; k++)
                num |= strcmp(*k, name) == 0;
            Oid t = PQftype(r, f);
            if (t == 16) // bool
                cJSON_AddBoolToObject(o, name, v[0] == 't');
            else if (num || t == 20 || t == 21 || t == 23 || t == 700 || t == 701 || t == 1700) // ints, floats
                cJSON_AddNumberToObject(o, name, strtod(v, NULL));
            else if (t == 114 || t == 3802) { // json, jsonb
                cJSON *j = cJSON_Parse(v);
                cJSON_AddItemToObject(o, name, j ? j : cJSON_CreateNull());
            } else
                cJSON_AddStringToObject(o, name, v);
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *query_array(struct db *db, const char *what, const char *sql, int n, const char *const *p)
{
    PGresult *r = db_query(db, what, sql, n, p);
    if (r == NULL)
        return NULL;
    cJSON *a = rows_json(r, NULL);
    PQclear(r);
    return a;
}

static const char ORDER_COLS[] =
    "o.id, o.batch_id, o.seq, o.consultora_code, o.consultora_name, o.status, o.step, o.attempts, o.max_attempts,"
    " o.last_error, o.error_class, o.portal_reference, o.verify_result, o.verify_detail,"
    // In progress, next_attempt_at is the queue's own mark (queue_cart_guard), not a next attempt.
    " CASE WHEN o.status <> 'in_progress'"
    "   THEN to_char(o.next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END AS next_attempt_at,"
    " to_char(o.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS started_at,"
    " to_char(o.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS finished_at,"
    " o.lease_owner AS worker,"
    " (SELECT count(*) FROM order_items i WHERE i.order_id = o.id) AS items,"
    " (SELECT coalesce(sum(quantity), 0) FROM order_items i WHERE i.order_id = o.id) AS units";

int queue_orders_json(struct db *db, long long batch_id, const char *status, int page, int per_page, cJSON **out)
{
    *out = NULL;
    char bid[24], lim[16], off[24];
    if (page < 1)
        page = 1;
    if (per_page < 1)
        per_page = 50;
    snprintf(bid, sizeof bid, "%lld", batch_id);
    snprintf(lim, sizeof lim, "%d", per_page);
    snprintf(off, sizeof off, "%lld", (long long)(page - 1) * per_page);
    const char *p[] = {bid, status, lim, off};
    PGresult *r = db_query(db, "orders: batch", "SELECT 1 FROM batches WHERE id = $1", 1, p);
    if (r == NULL)
        return QUEUE_EDB;
    bool found = PQntuples(r) > 0;
    PQclear(r);
    if (!found) {
        db_fail(db, "no batch %s", bid);
        return QUEUE_ENOENT;
    }
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM orders o WHERE o.batch_id = $1 AND ($2::text IS NULL OR o.status = $2)"
             " ORDER BY o.seq LIMIT $3::int OFFSET $4::bigint",
             ORDER_COLS);
    cJSON *rows = query_array(db, "orders", sql, 4, p);
    if (rows == NULL)
        return QUEUE_EDB;
    r = db_query(db, "orders: count",
                 "SELECT count(*) FROM orders WHERE batch_id = $1 AND ($2::text IS NULL OR status = $2)", 2, p);
    if (r == NULL) {
        cJSON_Delete(rows);
        return QUEUE_EDB;
    }
    double total = strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "batch_id", (double)batch_id);
    if (status != NULL)
        cJSON_AddStringToObject(o, "status", status);
    else
        cJSON_AddNullToObject(o, "status");
    cJSON_AddNumberToObject(o, "page", page);
    cJSON_AddNumberToObject(o, "per_page", per_page);
    cJSON_AddNumberToObject(o, "total", total);
    cJSON_AddNumberToObject(o, "pages", total > 0 ? (double)((long long)(total + per_page - 1) / per_page) : 0);
    cJSON_AddItemToObject(o, "orders", rows);
    *out = o;
    return 0;
}

int queue_order_json(struct db *db, long long order_id, cJSON **out)
{
    *out = NULL;
    char oid[24];
    snprintf(oid, sizeof oid, "%lld", order_id);
    const char *p[] = {oid};
    char sql[2048];
    snprintf(sql, sizeof sql, "SELECT %s FROM orders o WHERE o.id = $1", ORDER_COLS);
    cJSON *rows = query_array(db, "order", sql, 1, p);
    if (rows == NULL)
        return QUEUE_EDB;
    if (cJSON_GetArraySize(rows) == 0) {
        cJSON_Delete(rows);
        db_fail(db, "no order %s", oid);
        return QUEUE_ENOENT;
    }
    cJSON *o = cJSON_DetachItemFromArray(rows, 0);
    cJSON_Delete(rows);
    cJSON *items = query_array(db, "order items",
                               "SELECT product_code, quantity, source_lines, outcome, message FROM order_items"
                               " WHERE order_id = $1 ORDER BY id",
                               1, p);
    if (items == NULL) {
        cJSON_Delete(o);
        return QUEUE_EDB;
    }
    // source_lines comes as a PostgreSQL array literal ("{3,17}"): a JSON array of numbers.
    cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        cJSON *sl = cJSON_GetObjectItemCaseSensitive(it, "source_lines");
        cJSON *nums = cJSON_CreateArray();
        if (cJSON_IsString(sl))
            for (char *s = sl->valuestring; *s != '\0';) {
                char *end;
                long v = strtol(s, &end, 10);
                if (end != s)
                    cJSON_AddItemToArray(nums, cJSON_CreateNumber((double)v));
                s = *end ? end + 1 : end;
            }
        cJSON_ReplaceItemInObjectCaseSensitive(it, "source_lines", nums);
    }
    cJSON_AddItemToObject(o, "products", items);
    *out = o;
    return 0;
}

int queue_logs_json(struct db *db, long long order_id, cJSON **out)
{
    *out = NULL;
    char oid[24];
    snprintf(oid, sizeof oid, "%lld", order_id);
    const char *p[] = {oid};
    PGresult *r = db_query(db, "logs: order", "SELECT 1 FROM orders WHERE id = $1", 1, p);
    if (r == NULL)
        return QUEUE_EDB;
    bool found = PQntuples(r) > 0;
    PQclear(r);
    if (!found) {
        db_fail(db, "no order %s", oid);
        return QUEUE_ENOENT;
    }
    cJSON *rows = query_array(db, "logs",
                              "SELECT id, attempt, step, level, message, duration_ms, worker, screenshot AS evidence,"
                              " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS at"
                              " FROM order_logs WHERE order_id = $1 ORDER BY id",
                              1, p);
    if (rows == NULL)
        return QUEUE_EDB;
    *out = rows;
    return 0;
}

int queue_failures_json(struct db *db, long long batch_id, cJSON **out)
{
    *out = NULL;
    char bid[24];
    snprintf(bid, sizeof bid, "%lld", batch_id);
    const char *p[] = {bid};
    PGresult *r = db_query(db, "failures: batch", "SELECT 1 FROM batches WHERE id = $1", 1, p);
    if (r == NULL)
        return QUEUE_EDB;
    bool found = PQntuples(r) > 0;
    PQclear(r);
    if (!found) {
        db_fail(db, "no batch %s", bid);
        return QUEUE_ENOENT;
    }
    // Grouped by the error with the order's own values (codes, numbers) taken out, so that "La
    // consultora 99000001 no existe" and "... 99000002 ..." are one group.
    cJSON *rows = query_array(
        db, "failures",
        "WITH f AS (SELECT o.id, o.consultora_code, coalesce(o.error_class, 'unknown') AS error_class,"
        "   coalesce(o.last_error, '(no message)') AS error,"
        "   regexp_replace(coalesce(o.last_error, '(no message)'), '[0-9][0-9A-Za-z-]*', '#', 'g') AS pattern"
        "   FROM orders o WHERE o.batch_id = $1 AND o.status = 'failed')"
        " SELECT pattern, error_class, count(*) AS count, min(error) AS example,"
        "   (array_agg(id ORDER BY id))[1] AS example_order,"
        "   (array_agg(consultora_code ORDER BY id))[1] AS example_consultora,"
        "   to_json((array_agg(id ORDER BY id))[1:20]) AS orders"
        " FROM f GROUP BY pattern, error_class ORDER BY count(*) DESC, pattern",
        1, p);
    if (rows == NULL)
        return QUEUE_EDB;
    *out = rows;
    return 0;
}

int queue_workers_json(struct db *db, bool all, cJSON **out)
{
    const char *p[] = {all ? "t" : "f"};
    cJSON *rows =
        query_array(db, "workers",
                    "SELECT w.id, w.hostname AS host, w.pid, w.pool, w.status, w.current_order, w.current_step,"
                    " o.consultora_code AS current_consultora, w.orders_done, w.orders_failed, w.browser_rss_mb,"
                    " w.browser_launches,"
                    " to_char(w.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS started_at,"
                    " to_char(w.heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS heartbeat_at,"
                    " round(extract(epoch FROM now() - w.heartbeat_at)::numeric, 1) AS heartbeat_age_s, w.stop_reason"
                    " FROM workers w LEFT JOIN orders o ON o.id = w.current_order"
                    " WHERE $1::bool OR w.status NOT IN ('stopped', 'dead')"
                    " ORDER BY w.status IN ('stopped', 'dead'), w.started_at, w.id LIMIT 500",
                    1, p);
    *out = rows;
    return rows != NULL ? 0 : QUEUE_EDB;
}

int queue_export(struct db *db, long long batch_id, const char *status, FILE *f, long *rows_out)
{
    char bid[24];
    snprintf(bid, sizeof bid, "%lld", batch_id);
    const char *p[] = {bid, status};
    PGresult *r = db_query(db, "export: batch", "SELECT 1 FROM batches WHERE id = $1", 1, p);
    if (r == NULL)
        return QUEUE_EDB;
    bool found = PQntuples(r) > 0;
    PQclear(r);
    if (!found) {
        db_fail(db, "no batch %s", bid);
        return QUEUE_ENOENT;
    }
    r = db_query(db, "export",
                 "SELECT o.consultora_code, coalesce(o.consultora_name, ''), i.product_code, i.quantity, o.status,"
                 " coalesce(i.outcome, ''), coalesce(i.message, o.last_error, ''), coalesce(o.portal_reference, '')"
                 " FROM orders o JOIN order_items i ON i.order_id = o.id"
                 " WHERE o.batch_id = $1 AND ($2::text IS NULL OR o.status = $2) ORDER BY o.seq, i.id",
                 2, p);
    if (r == NULL)
        return QUEUE_EDB;
    // RFC 4180: every field quoted, quotes doubled; the first four columns are what `gspbot load`
    // reads back, the others (status, outcome, error, reference) it ignores with a warning.
    fputs("consultora_code,consultora_name,product_code,quantity,status,outcome,error,portal_reference\r\n", f);
    for (int i = 0; i < PQntuples(r); i++) {
        for (int c = 0; c < 8; c++) {
            fputc('"', f);
            for (const char *s = PQgetvalue(r, i, c); *s != '\0'; s++) {
                if (*s == '"')
                    fputc('"', f);
                fputc(*s, f);
            }
            fputc('"', f);
            fputs(c < 7 ? "," : "\r\n", f);
        }
    }
    if (rows_out != NULL)
        *rows_out = PQntuples(r);
    PQclear(r);
    return ferror(f) ? QUEUE_EDB : 0;
}
