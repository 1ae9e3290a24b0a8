/* metrics: GET /metrics in the Prometheus text format (version 0.0.4), built from the database on
 * a database thread: orders by batch and status, attempts by result and error class, step and
 * attempt durations as histograms, the breaker, live workers and browser relaunches. Batches are
 * the 50 newest (a campaign's history must not grow every scrape). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "buf.h"

#define METRICS_BATCHES 50

static const double BUCKETS_S[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
#define NBUCKETS (sizeof BUCKETS_S / sizeof BUCKETS_S[0])

/* A label value, escaped as the format wants (\\, " and newline). */
static int label(struct buf *b, const char *v)
{
    int rc = 0;
    for (; rc == 0 && *v != '\0'; v++) {
        if (*v == '\\' || *v == '"')
            rc = buf_append(b, "\\", 1);
        if (rc == 0)
            rc = *v == '\n' ? buf_append_str(b, "\\n") : buf_append(b, v, 1);
    }
    return rc;
}

/* A histogram from one query returning (label, le_0..le_n, count, sum). */
static int histogram(struct buf *b, struct db *db, const char *name, const char *help, const char *lname,
                     const char *sql)
{
    PGresult *r = db_query(db, name, sql, 0, NULL);
    if (r == NULL)
        return -1;
    int rc = buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        for (size_t k = 0; rc == 0 && k <= NBUCKETS; k++) {
            rc = buf_printf(b, "%s_bucket{%s=\"", name, lname);
            rc = rc ? rc : label(b, PQgetvalue(r, i, 0));
            if (rc == 0 && k < NBUCKETS)
                rc = buf_printf(b, "\",le=\"%g\"} %s\n", BUCKETS_S[k], PQgetvalue(r, i, 1 + (int)k));
            else if (rc == 0)
                rc = buf_printf(b, "\",le=\"+Inf\"} %s\n", PQgetvalue(r, i, 1 + (int)NBUCKETS));
        }
        rc = rc ? rc : buf_printf(b, "%s_count{%s=\"", name, lname);
        rc = rc ? rc : label(b, PQgetvalue(r, i, 0));
        rc = rc ? rc : buf_printf(b, "\"} %s\n%s_sum{%s=\"", PQgetvalue(r, i, 1 + (int)NBUCKETS), name, lname);
        rc = rc ? rc : label(b, PQgetvalue(r, i, 0));
        rc = rc ? rc : buf_printf(b, "\"} %s\n", PQgetvalue(r, i, 2 + (int)NBUCKETS));
    }
    PQclear(r);
    return rc;
}

/* The bucket columns "count(*) FILTER (WHERE v <= 0.1), ..." for a value expression in seconds. */
static void bucket_columns(const char *v, char *out, size_t n)
{
    size_t used = 0;
    for (size_t k = 0; k < NBUCKETS && used < n; k++)
        used += (size_t)snprintf(out + used, n - used, "count(*) FILTER (WHERE %s <= %g), ", v, BUCKETS_S[k]);
    if (used < n)
        snprintf(out + used, n - used, "count(*), coalesce(sum(%s), 0)", v);
}

void api__metrics_job(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    (void)args;
    struct buf b;
    buf_init(&b, 16u << 20);
    int rc = buf_printf(&b, "# HELP gspbot_orders Orders by batch and status.\n# TYPE gspbot_orders gauge\n");
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT b.id, b.name, o.status, count(*) FROM (SELECT id, name FROM batches ORDER BY id DESC LIMIT %d) b"
             " JOIN orders o ON o.batch_id = b.id GROUP BY b.id, b.name, o.status ORDER BY b.id, o.status",
             METRICS_BATCHES);
    PGresult *q = rc == 0 ? db_query(db, "metrics: orders", sql, 0, NULL) : NULL;
    if (q == NULL)
        rc = -1;
    for (int i = 0; rc == 0 && i < PQntuples(q); i++) {
        rc = buf_printf(&b, "gspbot_orders{batch=\"%s\",batch_name=\"", PQgetvalue(q, i, 0));
        rc = rc ? rc : label(&b, PQgetvalue(q, i, 1));
        rc = rc ? rc : buf_printf(&b, "\",status=\"%s\"} %s\n", PQgetvalue(q, i, 2), PQgetvalue(q, i, 3));
    }
    PQclear(q);
    // Attempts, from the attempt lines of the audit trail (one per attempt that ended).
    q = rc == 0 ? db_query(db, "metrics: attempts",
                           "SELECT CASE WHEN message LIKE 'attempt % completed%' THEN 'completed'"
                           "  WHEN message LIKE 'attempt % stopped%' THEN 'stopped' ELSE 'failed' END,"
                           " coalesce(substring(message FROM 'failed \\(([a-z]+)\\)'), ''), count(*)"
                           " FROM order_logs WHERE step <> 'worker_lost' AND message ~ '^attempt [0-9]+ (completed|"
                           "failed|stopped)' GROUP BY 1, 2 ORDER BY 1, 2",
                           0, NULL)
                : NULL;
    if (rc == 0 && q == NULL)
        rc = -1;
    rc = rc ? rc
            : buf_printf(&b, "# HELP gspbot_attempts_total Attempts that ended, by result and error class.\n"
                             "# TYPE gspbot_attempts_total counter\n");
    for (int i = 0; rc == 0 && i < PQntuples(q); i++)
        rc = buf_printf(&b, "gspbot_attempts_total{result=\"%s\",class=\"%s\"} %s\n", PQgetvalue(q, i, 0),
                        PQgetvalue(q, i, 1), PQgetvalue(q, i, 2));
    PQclear(q);
    char cols[1024], hsql[2048];
    bucket_columns("duration_ms / 1000.0", cols, sizeof cols);
    snprintf(hsql, sizeof hsql,
             "SELECT step, %s FROM order_logs WHERE message IN ('step ok', 'step skipped (already done)')"
             " AND duration_ms IS NOT NULL GROUP BY step ORDER BY step",
             cols);
    rc = rc ? rc
            : histogram(&b, db, "gspbot_step_duration_seconds", "Duration of the flow's steps that passed.", "step",
                        hsql);
    snprintf(hsql, sizeof hsql,
             "SELECT CASE WHEN message LIKE 'attempt %% completed%%' THEN 'completed' ELSE 'failed' END, %s"
             " FROM order_logs WHERE message ~ '^attempt [0-9]+ (completed|failed)' AND duration_ms IS NOT NULL"
             " GROUP BY 1 ORDER BY 1",
             cols);
    rc = rc ? rc
            : histogram(&b, db, "gspbot_attempt_duration_seconds", "Duration of attempts, by result.", "result", hsql);
    q = rc == 0 ? db_query(
                      db, "metrics: engine",
                      "SELECT (SELECT count(*) FROM workers WHERE status NOT IN ('stopped', 'dead')),"
                      " (SELECT count(*) FROM workers WHERE status = 'busy'),"
                      " (SELECT coalesce(sum(greatest(browser_launches - 1, 0)), 0) FROM workers),"
                      " (SELECT coalesce(sum(browser_rss_mb), 0) FROM workers WHERE status NOT IN ('stopped', 'dead')),"
                      " state, consecutive_failures, opened_count FROM circuit_breaker WHERE name = 'portal'",
                      0, NULL)
                : NULL;
    if (rc == 0 && (q == NULL || PQntuples(q) == 0))
        rc = -1;
    if (rc == 0) {
        const char *state = PQgetvalue(q, 0, 4);
        rc = buf_printf(&b,
                        "# HELP gspbot_workers_live Worker processes alive.\n# TYPE gspbot_workers_live gauge\n"
                        "gspbot_workers_live %s\n"
                        "# HELP gspbot_workers_busy Workers running an order.\n# TYPE gspbot_workers_busy gauge\n"
                        "gspbot_workers_busy %s\n"
                        "# HELP gspbot_browser_relaunches_total Chromium relaunches (recycling, crashes).\n"
                        "# TYPE gspbot_browser_relaunches_total counter\ngspbot_browser_relaunches_total %s\n"
                        "# HELP gspbot_browser_rss_megabytes Memory of the live workers' Chromiums.\n"
                        "# TYPE gspbot_browser_rss_megabytes gauge\ngspbot_browser_rss_megabytes %s\n"
                        "# HELP gspbot_breaker_state The circuit breaker (1 for its current state).\n"
                        "# TYPE gspbot_breaker_state gauge\n"
                        "gspbot_breaker_state{state=\"closed\"} %d\ngspbot_breaker_state{state=\"open\"} %d\n"
                        "gspbot_breaker_state{state=\"half_open\"} %d\n"
                        "# HELP gspbot_breaker_consecutive_failures Recoverable failures in a row.\n"
                        "# TYPE gspbot_breaker_consecutive_failures gauge\ngspbot_breaker_consecutive_failures %s\n"
                        "# HELP gspbot_breaker_opened_total Times the breaker opened.\n"
                        "# TYPE gspbot_breaker_opened_total counter\ngspbot_breaker_opened_total %s\n"
                        "# HELP gspbot_api_requests_total Requests answered by the API's database threads.\n"
                        "# TYPE gspbot_api_requests_total counter\ngspbot_api_requests_total %llu\n",
                        PQgetvalue(q, 0, 0), PQgetvalue(q, 0, 1), PQgetvalue(q, 0, 2), PQgetvalue(q, 0, 3),
                        strcmp(state, "closed") == 0, strcmp(state, "open") == 0, strcmp(state, "half_open") == 0,
                        PQgetvalue(q, 0, 5), PQgetvalue(q, 0, 6),
                        (unsigned long long)atomic_fetch_add(&a->requests_total, 1) + 1);
    }
    PQclear(q);
    if (rc != 0) {
        buf_cleanup(&b);
        api__error(r, 503, "metrics: %s", db_errmsg(db));
        return;
    }
    r->status = 200;
    r->text = buf_take(&b);
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
