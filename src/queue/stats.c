/* stats: batch progress figures from the orders table (one query per batch). */
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ORDER_STATUS_NAMES[ORDER_STATUS_COUNT] = {"pending",   "queued", "in_progress", "retrying",
                                                            "completed", "failed", "cancelled"};

// Counts per status plus the number finished within the rate window, for the batches asked.
static const char STATS_SQL[] =
    "SELECT b.id, b.name, b.status, to_char(b.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),"
    " count(o.id) FILTER (WHERE o.status = 'pending'),"
    " count(o.id) FILTER (WHERE o.status = 'queued'),"
    " count(o.id) FILTER (WHERE o.status = 'in_progress'),"
    " count(o.id) FILTER (WHERE o.status = 'retrying'),"
    " count(o.id) FILTER (WHERE o.status = 'completed'),"
    " count(o.id) FILTER (WHERE o.status = 'failed'),"
    " count(o.id) FILTER (WHERE o.status = 'cancelled'),"
    " count(o.id) FILTER (WHERE o.finished_at > now() - make_interval(secs => 300)),"
    " extract(epoch FROM now() - greatest(now() - make_interval(secs => 300),"
    "     coalesce(b.started_at, min(o.started_at), min(o.finished_at))))"
    " FROM batches b LEFT JOIN orders o ON o.batch_id = b.id";

static void fill(PGresult *r, int row, struct batch_stats *s)
{
    memset(s, 0, sizeof *s);
    s->id = strtoll(PQgetvalue(r, row, 0), NULL, 10);
    snprintf(s->name, sizeof s->name, "%s", PQgetvalue(r, row, 1));
    snprintf(s->status, sizeof s->status, "%s", PQgetvalue(r, row, 2));
    snprintf(s->created_at, sizeof s->created_at, "%s", PQgetvalue(r, row, 3));
    for (int i = 0; i < ORDER_STATUS_COUNT; i++) {
        s->counts[i] = strtol(PQgetvalue(r, row, 4 + i), NULL, 10);
        s->total += s->counts[i];
    }
    s->finished = s->counts[ORDER_COMPLETED] + s->counts[ORDER_FAILED] + s->counts[ORDER_CANCELLED];
    long recent = strtol(PQgetvalue(r, row, 11), NULL, 10);
    // The window is the last 5 minutes, or less when the batch started within them; under
    // STATS_RATE_MIN_WINDOW_S there is too little to measure and the rate stays unknown (0).
    double window_s = PQgetisnull(r, row, 12) ? 0 : strtod(PQgetvalue(r, row, 12), NULL);
    s->rate_per_min = recent > 0 && window_s >= STATS_RATE_MIN_WINDOW_S ? recent * 60.0 / window_s : 0;
    long left = s->total - s->finished;
    s->eta_s = left == 0 ? 0 : (s->rate_per_min > 0 ? left * 60.0 / s->rate_per_min : -1);
}

int stats_batch(struct db *db, long long batch_id, struct batch_stats *out)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", batch_id);
    const char *params[] = {id};
    char sql[sizeof STATS_SQL + 64];
    snprintf(sql, sizeof sql, "%s WHERE b.id = $1 GROUP BY b.id", STATS_SQL);
    PGresult *r = db_query(db, "batch stats", sql, 1, params);
    if (r == NULL)
        return -1;
    int found = PQntuples(r) > 0;
    if (found)
        fill(r, 0, out);
    PQclear(r);
    return found;
}

int stats_batches(struct db *db, struct batch_stats *out, int max)
{
    char sql[sizeof STATS_SQL + 64];
    snprintf(sql, sizeof sql, "%s GROUP BY b.id ORDER BY b.id DESC LIMIT %d", STATS_SQL, max);
    PGresult *r = db_query(db, "batch stats", sql, 0, NULL);
    if (r == NULL)
        return -1;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        fill(r, i, &out[i]);
    PQclear(r);
    return n;
}

cJSON *stats_to_json(const struct batch_stats *s)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "id", (double)s->id);
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddStringToObject(o, "status", s->status);
    cJSON_AddStringToObject(o, "created_at", s->created_at);
    cJSON_AddNumberToObject(o, "total", (double)s->total);
    cJSON *counts = cJSON_AddObjectToObject(o, "counts");
    for (int i = 0; i < ORDER_STATUS_COUNT; i++)
        cJSON_AddNumberToObject(counts, ORDER_STATUS_NAMES[i], (double)s->counts[i]);
    cJSON_AddNumberToObject(o, "finished", (double)s->finished);
    cJSON_AddNumberToObject(o, "progress", s->total ? (double)s->finished / (double)s->total : 0);
    cJSON_AddNumberToObject(o, "rate_per_min", s->rate_per_min);
    if (s->eta_s >= 0)
        cJSON_AddNumberToObject(o, "eta_s", s->eta_s);
    else
        cJSON_AddNullToObject(o, "eta_s");
    return o;
}

void stats_progress_bar(const struct batch_stats *s, int width, char *buf, size_t n)
{
    double frac = s->total ? (double)s->finished / (double)s->total : 0;
    int full = (int)(frac * width + 0.5);
    size_t o = 0;
    if (o + 1 < n)
        buf[o++] = '[';
    for (int i = 0; i < width && o + 1 < n; i++)
        buf[o++] = i < full ? '#' : '.';
    snprintf(buf + o, n - o, "] %5.1f%%", frac * 100);
}
