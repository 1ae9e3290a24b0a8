/* workers: a worker's row (registration, heartbeat, stop), its liveness lock, and the
 * GSPBOT_MAX_SESSIONS slots (see queue.h). Liveness is a session advisory lock on the worker's
 * own connection: PostgreSQL releases it when the process dies, whatever killed it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "queue_internal.h"

int queue_worker_register(struct db *db, const struct queue_worker_info *w)
{
    // The lock is taken before the row exists: the reaper never sees a live worker without it.
    PGresult *r = db_query(db, "register: lock key", "SELECT nextval('workers_lock_key_seq')", 0, NULL);
    if (r == NULL)
        return QUEUE_EDB;
    char key[24];
    snprintf(key, sizeof key, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *pk[] = {key};
    r = db_query(db, "register: lock", "SELECT pg_advisory_lock(" QUEUE__LOCK_WORKER_STR ", $1::int)", 1, pk);
    if (r == NULL)
        return QUEUE_EDB;
    PQclear(r);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", w->pid);
    const char *p[] = {w->id, w->hostname, pid, w->pool, key};
    r = db_query(db, "register",
                 "INSERT INTO workers (id, hostname, pid, pool, lock_key, status) VALUES ($1, $2, $3, $4, $5, 'idle')"
                 " ON CONFLICT (id) DO UPDATE SET status = 'idle', lock_key = $5, heartbeat_at = now(),"
                 "   stopped_at = NULL, stop_reason = NULL",
                 5, p);
    if (r == NULL)
        return QUEUE_EDB;
    PQclear(r);
    return 0;
}

int queue_worker_heartbeat(struct db *db, const char *id, const struct queue_worker_beat *b)
{
    char order[24], done[16], failed[16], rss[24], launches[16];
    snprintf(order, sizeof order, "%lld", b->current_order);
    snprintf(done, sizeof done, "%d", b->orders_done);
    snprintf(failed, sizeof failed, "%d", b->orders_failed);
    snprintf(rss, sizeof rss, "%ld", b->browser_rss_mb > 0 ? b->browser_rss_mb : 0);
    snprintf(launches, sizeof launches, "%d", b->browser_launches);
    const char *p[] = {id,  b->status, b->current_order > 0 ? order : NULL, b->current_step, done, failed,
                       rss, launches};
    PGresult *r =
        db_query_prepared(db, "heartbeat",
                          "UPDATE workers SET heartbeat_at = now(), status = $2,"
                          "  current_order = (SELECT id FROM orders WHERE id = $3::bigint), current_step = $4,"
                          "  orders_done = $5, orders_failed = $6, browser_rss_mb = $7, browser_launches = $8"
                          " WHERE id = $1 AND status NOT IN ('stopped', 'dead')",
                          8, p);
    if (r == NULL)
        return QUEUE_EDB;
    PQclear(r);
    return 0;
}

int queue_worker_stopped(struct db *db, const char *id, const char *reason)
{
    const char *p[] = {id, reason};
    PGresult *r = db_query(db, "worker stopped",
                           "UPDATE workers SET status = 'stopped', stopped_at = now(), stop_reason = $2,"
                           " current_order = NULL, current_step = NULL WHERE id = $1",
                           2, p);
    if (r == NULL)
        return QUEUE_EDB;
    PQclear(r);
    return 0;
}

int queue_session_slot_take(struct db *db, int max)
{
    for (int i = 0; i < max; i++) {
        char slot[16];
        snprintf(slot, sizeof slot, "%d", i);
        const char *p[] = {slot};
        PGresult *r =
            db_query(db, "session slot", "SELECT pg_try_advisory_lock(" QUEUE__LOCK_SESSION_STR ", $1::int)", 1, p);
        if (r == NULL)
            return QUEUE_EDB - 1;
        bool got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (got)
            return i;
    }
    return -1;
}

int queue_session_slot_release(struct db *db, int slot)
{
    if (slot < 0)
        return 0;
    char s[16];
    snprintf(s, sizeof s, "%d", slot);
    const char *p[] = {s};
    PGresult *r =
        db_query(db, "session slot: release", "SELECT pg_advisory_unlock(" QUEUE__LOCK_SESSION_STR ", $1::int)", 1, p);
    if (r == NULL)
        return QUEUE_EDB;
    PQclear(r);
    return 0;
}
