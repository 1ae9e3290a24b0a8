/* events: GET /events, server-sent events for the dashboard and for scripts, so nobody polls.
 *
 * A listener thread with its own database connection LISTENs on gspbot_events (the queue writes
 * batch and breaker events to the `events` outbox and notifies its id) and, every second, looks
 * at what the outbox does not carry: orders finished since the last look, the running batches'
 * progress (sent when it changed), workers appearing, going or changing, the breaker's state. Each becomes
 * one SSE message ("event: KIND\ndata: JSON\n\n") posted to the service thread, which writes it to
 * every subscriber. A subscriber that does not read is dropped by the HTTP layer's stream cap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "api_internal.h"
#include "config.h"
#include "log.h"
#include "queue.h"
#include "stats.h"

#define EVENTS_POLL_MS      1000
#define EVENTS_KEEPALIVE_MS 15000

struct api_sub {
    struct api_sub *next;
    struct http_request *req;
};

struct msg {
    struct api *a;
    char *text; /* one or more complete SSE messages */
};

static atomic_bool g_quit; /* the listener's stop flag */

/* ---- service thread ---- */

static void drop_sub(struct api *a, struct http_request *req)
{
    for (struct api_sub **p = &a->subs; *p != NULL; p = &(*p)->next) {
        if ((*p)->req == req) {
            struct api_sub *s = *p;
            *p = s->next;
            free(s);
            return;
        }
    }
}

static void on_close(struct http_request *req, void *arg)
{
    drop_sub(arg, req);
}

static void broadcast(struct http_server *srv, void *arg)
{
    (void)srv;
    struct msg *m = arg;
    size_t len = strlen(m->text);
    for (struct api_sub *s = m->a->subs, *next; s != NULL; s = next) {
        next = s->next;
        if (http_request_stream_write(s->req, m->text, len) != 0) {
            struct http_request *req = s->req;
            drop_sub(m->a, req);
            http_request_stream_end(req);
        }
    }
    free(m->text);
    free(m);
}

static void end_all(struct http_server *srv, void *arg)
{
    (void)srv;
    struct api *a = arg;
    while (a->subs != NULL) {
        struct http_request *req = a->subs->req;
        drop_sub(a, req);
        http_request_stream_end(req);
    }
}

void api__h_events(struct http_request *req, void *user)
{
    struct api *a = user;
    struct api_sub *s = calloc(1, sizeof *s);
    if (s == NULL) {
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    if (api__security_headers(req) != 0) {
        free(s);
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    if (http_request_stream_begin(req, 200, "text/event-stream") != 0) {
        free(s);
        return; // the layer answered or freed it
    }
    s->req = req;
    s->next = a->subs;
    a->subs = s;
    http_request_on_close(req, on_close, a);
    static const char HELLO[] = ": gspbot events\nretry: 2000\n\n";
    if (http_request_stream_write(req, HELLO, sizeof HELLO - 1) != 0) {
        drop_sub(a, req);
        http_request_stream_end(req);
    }
}

/* ---- listener thread ---- */

static void post_text(struct api *a, char *text)
{
    struct msg *m = malloc(sizeof *m);
    if (m == NULL) {
        free(text);
        return;
    }
    m->a = a;
    m->text = text;
    if (http_server_post(a->srv, broadcast, m) != 0) {
        free(text);
        free(m);
    }
}

/* Formats one SSE message: "id: ID\n" (when id > 0) "event: KIND\ndata: JSON\n\n". */
static void post_event(struct api *a, long long id, const char *kind, const char *json)
{
    size_t n = strlen(kind) + strlen(json) + 64;
    char *text = malloc(n);
    if (text == NULL)
        return;
    if (id > 0)
        snprintf(text, n, "id: %lld\nevent: %s\ndata: %s\n\n", id, kind, json);
    else
        snprintf(text, n, "event: %s\ndata: %s\n\n", kind, json);
    post_text(a, text);
}

static void outbox_event(struct api *a, struct db *db, const char *id)
{
    const char *p[] = {id};
    PGresult *r = db_query(db, "event", "SELECT kind, payload::text FROM events WHERE id = $1::bigint", 1, p);
    if (r != NULL && PQntuples(r) > 0)
        post_event(a, strtoll(id, NULL, 10), PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
    PQclear(r);
}

struct poll_state {
    char since[40]; /* orders finished after this (database time) */
    char *progress; /* the last progress JSON sent */
    char *workers;  /* the last live workers' ids, joined */
    char *wjson;    /* the last workers list sent */
    char breaker[16];
};

/* What the outbox does not carry, looked at once a second. */
static void poll_changes(struct api *a, struct db *db, struct poll_state *ps)
{
    if (ps->since[0] == '\0') {
        PGresult *r = db_query(db, "events: now", "SELECT now()::text", 0, NULL);
        if (r != NULL)
            snprintf(ps->since, sizeof ps->since, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        return;
    }
    const char *p[] = {ps->since};
    PGresult *r =
        db_query(db, "events: orders",
                 "SELECT max(finished_at)::text, json_agg(json_build_object('order_id', id, 'batch_id',"
                 " batch_id, 'consultora_code', consultora_code, 'status', status, 'step', step,"
                 " 'error', last_error) ORDER BY finished_at)::text FROM"
                 " (SELECT * FROM orders WHERE finished_at > $1::timestamptz ORDER BY finished_at LIMIT 200) o",
                 1, p);
    if (r != NULL && !PQgetisnull(r, 0, 0)) {
        snprintf(ps->since, sizeof ps->since, "%s", PQgetvalue(r, 0, 0));
        cJSON *arr = cJSON_Parse(PQgetvalue(r, 0, 1));
        const cJSON *o;
        cJSON_ArrayForEach(o, arr)
        {
            char *t = cJSON_PrintUnformatted(o);
            if (t != NULL)
                post_event(a, 0, "order.finished", t);
            cJSON_free(t);
        }
        cJSON_Delete(arr);
    }
    PQclear(r);
    // Progress of the unfinished batches, sent when it changed.
    struct batch_stats list[20];
    int n = stats_batches(db, list, 20);
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        if (strcmp(list[i].status, "running") == 0 || strcmp(list[i].status, "paused") == 0 ||
            strcmp(list[i].status, "pending") == 0)
            cJSON_AddItemToArray(arr, stats_to_json(&list[i]));
    char *txt = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    if (txt != NULL && (ps->progress == NULL || strcmp(txt, ps->progress) != 0)) {
        size_t k = strlen(txt) + 32;
        char *payload = malloc(k);
        if (payload != NULL) {
            snprintf(payload, k, "{\"batches\": %s}", txt);
            post_event(a, 0, "batch.progress", payload);
            free(payload);
        }
        free(ps->progress);
        ps->progress = strdup(txt);
    }
    cJSON_free(txt);
    // Workers that came or went: the live ids as "\nid1\nid2\n", compared line by line.
    cJSON *workers = NULL;
    if (queue_workers_json(db, false, &workers) == 0) {
        char ids[8192] = "\n";
        size_t used = 1;
        const cJSON *w;
        cJSON_ArrayForEach(w, workers)
        {
            const cJSON *id = cJSON_GetObjectItem(w, "id");
            if (cJSON_IsString(id) && used + strlen(id->valuestring) + 2 < sizeof ids)
                used += (size_t)snprintf(ids + used, sizeof ids - used, "%s\n", id->valuestring);
        }
        char *wl = cJSON_PrintUnformatted(workers);
        if (ps->workers == NULL || strcmp(ps->workers, ids) != 0) {
            const char *lists[2] = {ids, ps->workers};
            const char *kinds[2] = {"worker.up", "worker.down"};
            for (int k = 0; k < 2 && ps->workers != NULL; k++) {
                const char *other = lists[1 - k];
                for (const char *line = lists[k] + 1; *line != '\0';) {
                    const char *end = strchr(line, '\n');
                    char id[400], needle[410];
                    snprintf(id, sizeof id, "%.*s", (int)(end - line), line);
                    snprintf(needle, sizeof needle, "\n%s\n", id);
                    if (strstr(other, needle) == NULL) {
                        cJSON *o = cJSON_CreateObject();
                        cJSON_AddStringToObject(o, "id", id);
                        char *t = cJSON_PrintUnformatted(o);
                        cJSON_Delete(o);
                        if (t != NULL)
                            post_event(a, 0, kinds[k], t);
                        cJSON_free(t);
                    }
                    line = end + 1;
                }
            }
            free(ps->workers);
            ps->workers = strdup(ids);
        }
        // The list itself whenever anything in it changed (a step, an order, the counters), so a
        // dashboard's workers panel is live.
        if (wl != NULL && (ps->wjson == NULL || strcmp(ps->wjson, wl) != 0)) {
            size_t k = strlen(wl) + 32;
            char *payload = malloc(k);
            if (payload != NULL) {
                snprintf(payload, k, "{\"workers\": %s}", wl);
                post_event(a, 0, "workers", payload);
                free(payload);
            }
            free(ps->wjson);
            ps->wjson = strdup(wl);
        }
        cJSON_free(wl);
    }
    cJSON_Delete(workers);
    struct queue_breaker b;
    if (queue_breaker_get(db, &b) == 0 && strcmp(ps->breaker, queue_breaker_state_name(b.state)) != 0) {
        snprintf(ps->breaker, sizeof ps->breaker, "%s", queue_breaker_state_name(b.state));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "state", ps->breaker);
        cJSON_AddStringToObject(o, "reason", b.reason);
        cJSON_AddNumberToObject(o, "consecutive_failures", b.consecutive_failures);
        char *t = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (t != NULL)
            post_event(a, 0, "breaker", t);
        cJSON_free(t);
    }
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *listener(void *arg)
{
    struct api *a = arg;
    struct db *db = NULL;
    struct poll_state ps = {0};
    long long last_poll = 0, last_keepalive = mono_ms();
    while (!atomic_load(&g_quit)) {
        if (db == NULL || PQstatus(db_conn(db)) != CONNECTION_OK) {
            db_free(db);
            db = NULL;
            if (db_open(&db, a->cfg->database_url) != 0 || db_exec(db, "listen", "LISTEN gspbot_events") != 0) {
                db_free(db);
                db = NULL;
                struct timespec ts = {1, 0};
                nanosleep(&ts, NULL);
                continue;
            }
        }
        int fd = PQsocket(db_conn(db));
        fd_set rf;
        FD_ZERO(&rf);
        FD_SET(fd, &rf);
        struct timeval tv = {0, 200000}; // the stop flag is seen within 0.2 s
        if (select(fd + 1, &rf, NULL, NULL, &tv) > 0 && PQconsumeInput(db_conn(db)) != 0) {
            PGnotify *nt;
            while ((nt = PQnotifies(db_conn(db))) != NULL) {
                outbox_event(a, db, nt->extra);
                PQfreemem(nt);
            }
        }
        long long now = mono_ms();
        if (now - last_poll >= EVENTS_POLL_MS) {
            last_poll = now;
            poll_changes(a, db, &ps);
        }
        if (now - last_keepalive >= EVENTS_KEEPALIVE_MS) {
            last_keepalive = now;
            char *k = strdup(": keepalive\n\n");
            if (k != NULL)
                post_text(a, k);
        }
    }
    free(ps.progress);
    free(ps.workers);
    free(ps.wjson);
    db_free(db);
    return NULL;
}

int api__events_start(struct api *a)
{
    atomic_store(&g_quit, false);
    if (pthread_create(&a->events_thread, NULL, listener, a) != 0)
        return -1;
    a->events_running = true;
    return 0;
}

void api__events_stop(struct api *a)
{
    if (!a->events_running)
        return;
    atomic_store(&g_quit, true);
    pthread_join(a->events_thread, NULL);
    a->events_running = false;
    if (http_server_post(a->srv, end_all, a) != 0) {
        // the server is already gone: its streams went with it
    }
}
