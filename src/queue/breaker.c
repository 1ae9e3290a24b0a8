/* breaker: the circuit breaker every worker on every machine shares through one row
 * (circuit_breaker 'portal'): closed -> open after N recoverable failures in a row -> after the
 * cool-down one probe (half-open) -> closed on its success, open again on its failure. Each
 * transition is one statement, so two workers can never both become the probe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "queue_internal.h"

#include <cjson/cJSON.h>

const char *queue_breaker_state_name(enum queue_breaker_state s)
{
    switch (s) {
    case QUEUE_BREAKER_OPEN: return "open";
    case QUEUE_BREAKER_HALF_OPEN: return "half_open";
    default: return "closed";
    }
}

static enum queue_breaker_state parse_state(const char *s)
{
    return strcmp(s, "open") == 0        ? QUEUE_BREAKER_OPEN
           : strcmp(s, "half_open") == 0 ? QUEUE_BREAKER_HALF_OPEN
                                         : QUEUE_BREAKER_CLOSED;
}

int queue_breaker_get(struct db *db, struct queue_breaker *out)
{
    memset(out, 0, sizeof *out);
    PGresult *r = db_query(db, "breaker",
                           "SELECT state, consecutive_failures, coalesce(extract(epoch FROM now() - opened_at), 0),"
                           " coalesce(probe_owner, ''), coalesce(reason, ''), opened_count"
                           " FROM circuit_breaker WHERE name = 'portal'",
                           0, NULL);
    if (r == NULL)
        return QUEUE_EDB;
    if (PQntuples(r) > 0) {
        out->state = parse_state(PQgetvalue(r, 0, 0));
        out->consecutive_failures = atoi_safe(PQgetvalue(r, 0, 1));
        out->open_for_s = out->state == QUEUE_BREAKER_CLOSED ? 0 : strtod(PQgetvalue(r, 0, 2), NULL);
        snprintf(out->probe_owner, sizeof out->probe_owner, "%s", PQgetvalue(r, 0, 3));
        snprintf(out->reason, sizeof out->reason, "%s", PQgetvalue(r, 0, 4));
        out->opened_count = atoi_safe(PQgetvalue(r, 0, 5));
    }
    PQclear(r);
    return 0;
}

int queue_breaker_gate(struct db *db, const char *owner, int cooldown_s, int lease_s, double *wait_s)
{
    if (wait_s != NULL)
        *wait_s = 0;
    struct queue_breaker b;
    if (queue_breaker_get(db, &b) != 0)
        return QUEUE_EDB;
    if (b.state == QUEUE_BREAKER_CLOSED)
        return 1;
    // Open past its cool-down, or half-open with a probe that is ours or whose lease lapsed:
    // one statement decides who probes.
    char cool[16], lease[16];
    snprintf(cool, sizeof cool, "%d", cooldown_s);
    snprintf(lease, sizeof lease, "%d", lease_s);
    const char *p[] = {owner, cool, lease};
    PGresult *r = db_query(db, "breaker: probe",
                           "UPDATE circuit_breaker SET state = 'half_open', probe_owner = $1,"
                           "  probe_expires_at = now() + make_interval(secs => $3::int), updated_at = now()"
                           " WHERE name = 'portal' AND ("
                           "  (state = 'open' AND opened_at + make_interval(secs => $2::int) <= now())"
                           "  OR (state = 'half_open' AND (probe_owner = $1 OR probe_expires_at < now())))"
                           " RETURNING 1",
                           3, p);
    if (r == NULL)
        return QUEUE_EDB;
    int yes = PQntuples(r) > 0;
    PQclear(r);
    if (!yes && wait_s != NULL)
        *wait_s = b.state == QUEUE_BREAKER_OPEN && b.open_for_s < cooldown_s ? cooldown_s - b.open_for_s : 1.0;
    return yes;
}

int queue_breaker_success(struct db *db, bool *changed)
{
    PGresult *r = db_query(db, "breaker: success",
                           "WITH old AS (SELECT state FROM circuit_breaker WHERE name = 'portal' FOR UPDATE)"
                           " UPDATE circuit_breaker SET state = 'closed', consecutive_failures = 0, probe_owner = NULL,"
                           "   probe_expires_at = NULL, updated_at = now()"
                           " WHERE name = 'portal' AND (state <> 'closed' OR consecutive_failures <> 0)"
                           " RETURNING (SELECT state FROM old)",
                           0, NULL);
    if (r == NULL)
        return QUEUE_EDB;
    bool was_open = PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 0), "closed") != 0;
    PQclear(r);
    if (was_open && (queue__event(db, "breaker.closed", 0, "{\"state\": \"closed\"}", 0) != 0 ||
                     db_exec(db, "notify", "SELECT pg_notify('" QUEUE_CHANNEL "', 'breaker')") != 0))
        return QUEUE_EDB;
    if (changed != NULL)
        *changed = was_open;
    return 0;
}

int queue_breaker_failure(struct db *db, int threshold, const char *reason, bool *opened)
{
    char th[16];
    snprintf(th, sizeof th, "%d", threshold > 0 ? threshold : 10);
    const char *p[] = {th, reason ? reason : ""};
    PGresult *r = db_query(
        db, "breaker: failure",
        "WITH old AS (SELECT state, consecutive_failures FROM circuit_breaker WHERE name = 'portal' FOR UPDATE),"
        " t AS (SELECT o.state = 'half_open' OR (o.state = 'closed' AND o.consecutive_failures + 1 >= $1::int)"
        "         AS trip FROM old o)"
        " UPDATE circuit_breaker c SET consecutive_failures = c.consecutive_failures + 1,"
        "   state = CASE WHEN t.trip THEN 'open' ELSE c.state END,"
        "   opened_at = CASE WHEN t.trip THEN now() ELSE c.opened_at END,"
        "   opened_count = c.opened_count + CASE WHEN t.trip THEN 1 ELSE 0 END,"
        "   reason = CASE WHEN t.trip THEN $2 ELSE c.reason END,"
        "   probe_owner = CASE WHEN t.trip THEN NULL ELSE c.probe_owner END,"
        "   probe_expires_at = CASE WHEN t.trip THEN NULL ELSE c.probe_expires_at END, updated_at = now()"
        " FROM t WHERE c.name = 'portal'"
        " RETURNING t.trip, c.consecutive_failures",
        2, p);
    if (r == NULL)
        return QUEUE_EDB;
    bool trip = PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    char payload[700];
    if (trip) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "state", "open");
        cJSON_AddNumberToObject(o, "consecutive_failures", strtod(PQgetvalue(r, 0, 1), NULL));
        cJSON_AddStringToObject(o, "reason", reason ? reason : "");
        char *s = cJSON_PrintUnformatted(o);
        snprintf(payload, sizeof payload, "%s", s ? s : "{\"state\": \"open\"}");
        cJSON_free(s);
        cJSON_Delete(o);
    }
    PQclear(r);
    if (trip && queue__event(db, "breaker.opened", 0, payload, /* webhook= */ 1) != 0)
        return QUEUE_EDB;
    if (opened != NULL)
        *opened = trip;
    return 0;
}

int queue_breaker_reset(struct db *db)
{
    if (db_exec(db, "breaker: reset",
                "UPDATE circuit_breaker SET state = 'closed', consecutive_failures = 0, probe_owner = NULL,"
                " probe_expires_at = NULL, updated_at = now() WHERE name = 'portal'") != 0)
        return QUEUE_EDB;
    if (queue__event(db, "breaker.closed", 0, "{\"state\": \"closed\", \"reset\": true}", 0) != 0 ||
        db_exec(db, "notify", "SELECT pg_notify('" QUEUE_CHANNEL "', 'breaker')") != 0)
        return QUEUE_EDB;
    return 0;
}
