/* queue_internal: what the queue's files share (not for other components). */
#ifndef GSPBOT_QUEUE_INTERNAL_H
#define GSPBOT_QUEUE_INTERNAL_H

#include <stdlib.h>

#include "db.h"

/* Advisory lock classes (the first key of the two-int form): a worker's liveness lock, keyed by
 * workers.lock_key, and the GSPBOT_MAX_SESSIONS slots, keyed by slot number. */
#define QUEUE__LOCK_WORKER      1735618561
#define QUEUE__LOCK_WORKER_STR  "1735618561"
#define QUEUE__LOCK_SESSION     1735618562
#define QUEUE__LOCK_SESSION_STR "1735618562"

/* A whole number from a libpq text value (0 when empty). */
static inline int atoi_safe(const char *s)
{
    return s != NULL ? (int)strtol(s, NULL, 10) : 0;
}

/* A step name as order_logs/orders store it (1-64 characters): "-" when empty, cut at 64. */
void queue__step_name(const char *step, char out[65]);

/* Pauses every running batch with the reason (an abort: the portal refuses everyone), inside the
 * caller's transaction, and records the event. Returns 0 or -1 (db_errmsg). */
int queue__pause_all(struct db *db, const char *reason);

/* Settles a running batch whose orders are all finished (completed, or failed when any failed)
 * and records the event. Returns 0 or -1. */
int queue__settle(struct db *db, long long batch_id);

/* Records an event (outbox) and notifies the API: kind ("batch.finished", "breaker.opened", ...),
 * batch (0 = none), payload as JSON text, also posted to the webhook when `webhook`. */
int queue__event(struct db *db, const char *kind, long long batch_id, const char *payload_json, int webhook);

#endif
