/* webhook: GSPBOT_WEBHOOK_URL receives a JSON POST when a batch finishes or is cancelled, when
 * every batch is paused by an abort, and when the breaker opens — the message a campaign lead wants
 * on their phone. The queue writes these to the `events` outbox (webhook = true) in the same
 * transaction as the change; this thread claims undelivered ones (FOR UPDATE SKIP LOCKED, so two
 * `serve` never post one twice), posts each with libcurl (10 s timeout, 3 tries with backoff) and
 * marks it delivered. A worker never waits for it. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_internal.h"
#include "config.h"
#include "log.h"

#define WEBHOOK_TIMEOUT_S 10
#define WEBHOOK_TRIES     3
#define WEBHOOK_POLL_MS   1000

static atomic_bool g_quit;

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* One POST. Returns the HTTP status (2xx = delivered) or -1 with why. */
static long post(const char *url, const char *json, char *why, size_t n)
{
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(why, n, "out of memory");
        return -1;
    }
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = h ? curl_slist_append(h, "User-Agent: gspbot-webhook") : NULL;
    CURLcode rc = h ? CURLE_OK : CURLE_OUT_OF_MEMORY;
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)WEBHOOK_TIMEOUT_S);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (rc == CURLE_OK)
        rc = curl_easy_perform(c);
    long status = -1;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(why, n, "%s", curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

int api_webhooks_deliver(struct db *db, const char *url, int max)
{
    int delivered = 0;
    for (int i = 0; i < max; i++) {
        if (db_exec(db, "webhook: begin", "BEGIN") != 0)
            return -1;
        PGresult *r = db_query(db, "webhook: claim",
                               "SELECT id, json_build_object('event', kind, 'id', id, 'batch_id', batch_id,"
                               " 'at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                               " 'data', payload)::text"
                               " FROM events WHERE webhook AND delivered_at IS NULL AND attempts < 10"
                               " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                               0, NULL);
        if (r == NULL || PQntuples(r) == 0) {
            PQclear(r);
            db_ignore(db_exec(db, "webhook: commit", "COMMIT"));
            break;
        }
        char id[24];
        snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
        char *body = strdup(PQgetvalue(r, 0, 1));
        PQclear(r);
        long status = -1;
        char why[256] = "";
        for (int t = 0; body != NULL && t < WEBHOOK_TRIES && !atomic_load(&g_quit); t++) {
            status = post(url, body, why, sizeof why);
            if (status >= 200 && status < 300)
                break;
            if (status > 0)
                snprintf(why, sizeof why, "HTTP %ld", status);
            struct timespec ts = {1 << t, 0}; // 1 s, 2 s between tries
            if (t + 1 < WEBHOOK_TRIES)
                nanosleep(&ts, NULL);
        }
        free(body);
        bool ok = status >= 200 && status < 300;
        const char *p[] = {id};
        r = db_query(db, "webhook: mark",
                     ok ? "UPDATE events SET delivered_at = now(), attempts = attempts + 1 WHERE id = $1::bigint"
                        : "UPDATE events SET attempts = attempts + 1 WHERE id = $1::bigint",
                     1, p);
        PQclear(r);
        if (db_exec(db, "webhook: commit", "COMMIT") != 0)
            return -1;
        if (!ok) {
            log_warn("webhook", "event %s not delivered to the webhook after %d tries: %s", id, WEBHOOK_TRIES, why);
            break; // the endpoint is down: try again later
        }
        delivered++;
    }
    return delivered;
}

static void *webhook_main(void *arg)
{
    struct api *a = arg;
    struct db *db = NULL;
    while (!atomic_load(&g_quit)) {
        if (db == NULL || PQstatus(db_conn(db)) != CONNECTION_OK) {
            db_free(db);
            db = NULL;
            if (db_open(&db, a->cfg->database_url) != 0) {
                db_free(db);
                db = NULL;
            }
        }
        if (db != NULL && api_webhooks_deliver(db, a->cfg->webhook_url, 20) < 0)
            log_debug("webhook", "%s", db_errmsg(db));
        for (int i = 0; i < WEBHOOK_POLL_MS / 100 && !atomic_load(&g_quit); i++) {
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
        }
    }
    db_free(db);
    return NULL;
}

int api__webhook_start(struct api *a)
{
    if (a->cfg->webhook_url == NULL || a->cfg->webhook_url[0] == '\0')
        return 0;
    atomic_store(&g_quit, false);
    if (pthread_create(&a->webhook_thread, NULL, webhook_main, a) != 0)
        return -1;
    a->webhook_running = true;
    log_info("api", "webhooks: posting batch and breaker events to the configured GSPBOT_WEBHOOK_URL");
    return 0;
}

void api__webhook_stop(struct api *a)
{
    if (!a->webhook_running)
        return;
    atomic_store(&g_quit, true);
    pthread_join(a->webhook_thread, NULL);
    a->webhook_running = false;
}
