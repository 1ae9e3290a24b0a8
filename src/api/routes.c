/* routes: the REST endpoints of README "The REST API and the dashboard" (see api.h). Each handler checks its path and
 * query on the service thread (400 at once for a bad id or parameter), copies them into an
 * api_args and submits a job; the job calls the queue's functions — the same ones the CLI calls —
 * on a database thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api_internal.h"
#include "buf.h"
#include "config.h"
#include "loader.h"
#include "log.h"
#include "queue.h"
#include "stats.h"

#define API_PER_PAGE_DEFAULT 50
#define API_PER_PAGE_MAX     1000
#define API_STATS_CACHE_MS   500 /* /batches/{id}/stats is computed at most twice a second per batch */

/* ------------------------------------------------------------------ helpers */

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool parse_pos(const char *s, long long max, long long *out)
{
    if (s == NULL || *s == '\0')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || errno != 0 || v < 1 || v > max)
        return false;
    *out = v;
    return true;
}

/* {id} of the path; answers 400 and returns NULL when it is not an id. */
static struct api_args *args_with_id(struct http_request *req)
{
    long long id;
    const char *s = http_request_param(req, "id");
    if (!parse_pos(s, 9007199254740991LL, &id)) {
        http_request_respond_error(req, 400, "\"%s\" is not an id (a whole number)", s ? s : "");
        return NULL;
    }
    struct api_args *a = api__args_new();
    if (a == NULL) {
        http_request_respond_error(req, 500, "out of memory");
        return NULL;
    }
    a->id = id;
    return a;
}

/* page and per_page of the query; false after answering 400. */
static bool paging(struct http_request *req, struct api_args *a)
{
    long long v;
    const char *p = http_request_query(req, "page"), *pp = http_request_query(req, "per_page");
    a->page = 1;
    a->per_page = API_PER_PAGE_DEFAULT;
    if (p != NULL) {
        if (!parse_pos(p, 1000000, &v)) {
            http_request_respond_error(req, 400, "page: \"%s\" is not a page number (1, 2, ...)", p);
            return false;
        }
        a->page = (int)v;
    }
    if (pp != NULL) {
        if (!parse_pos(pp, API_PER_PAGE_MAX, &v)) {
            http_request_respond_error(req, 400, "per_page: \"%s\" is not a number in 1..%d", pp, API_PER_PAGE_MAX);
            return false;
        }
        a->per_page = (int)v;
    }
    return true;
}

/* A list's request: its paging read (400 answered and a freed when it is bad), then the job. */
static void submit_paged(void *user, struct http_request *req, api_job_fn fn, struct api_args *a)
{
    if (!paging(req, a)) {
        api__args_free(a);
        return;
    }
    api__submit(user, req, fn, a);
}

static bool valid_status(const char *s)
{
    for (int i = 0; i < ORDER_STATUS_COUNT; i++)
        if (strcmp(s, ORDER_STATUS_NAMES[i]) == 0)
            return true;
    return false;
}

static bool truthy(const char *s)
{
    return s != NULL &&
           (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0);
}

/* A queue error as an HTTP answer: not found 404, not allowed now 409, else 503/500. */
static void queue_failed(struct api_reply *r, struct db *db, int rc)
{
    int status = rc == QUEUE_ENOENT ? 404 : rc == QUEUE_ESTATE ? 409 : rc == QUEUE_ENOMEM ? 500 : 503;
    api__error(r, status, "%s", db_errmsg(db));
}

/* One page of a list built whole (failure groups, an order's logs, workers) into o, the same
 * way /batches and /batches/{id}/orders page theirs: rows page..page+per_page-1 under `key`,
 * with page, per_page, total (the whole list) and pages. Takes rows. */
static void add_page(cJSON *o, const char *key, cJSON *rows, const struct api_args *args)
{
    int total = cJSON_GetArraySize(rows), first = (args->page - 1) * args->per_page;
    cJSON *page = cJSON_CreateArray();
    for (int i = 0; i < args->per_page && first < total; i++)
        cJSON_AddItemToArray(page, cJSON_DetachItemFromArray(rows, first)); // the next row shifts down
    cJSON_Delete(rows);
    cJSON_AddItemToObject(o, key, page);
    cJSON_AddNumberToObject(o, "page", args->page);
    cJSON_AddNumberToObject(o, "per_page", args->per_page);
    cJSON_AddNumberToObject(o, "total", total);
    cJSON_AddNumberToObject(o, "pages", (total + args->per_page - 1) / args->per_page);
}

/* ----------------------------------------------------------------- /health */

static void job_health(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    (void)a;
    (void)args;
    struct queue_breaker b;
    cJSON *workers = NULL;
    int rc = queue_breaker_get(db, &b);
    if (rc == 0)
        rc = queue_workers_json(db, false, &workers);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", rc == 0 ? "ok" : "degraded");
    cJSON_AddStringToObject(o, "database", rc == 0 ? "ok" : db_errmsg(db));
    cJSON_AddNumberToObject(o, "workers_alive", rc == 0 ? cJSON_GetArraySize(workers) : 0);
    cJSON_AddStringToObject(o, "breaker", rc == 0 ? queue_breaker_state_name(b.state) : "unknown");
    cJSON_AddStringToObject(o, "version", GSPBOT_VERSION);
    cJSON_Delete(workers);
    r->status = rc == 0 ? 200 : 503;
    r->json = o;
}

static void h_health(struct http_request *req, void *user)
{
    struct api_args *a = api__args_new();
    if (a == NULL) {
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    api__submit(user, req, job_health, a);
}

/* ------------------------------------------------------------------ /stats */

static void job_stats(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    (void)a;
    (void)args;
    PGresult *res = db_query(
        db, "stats",
        "SELECT json_build_object("
        " 'orders', (SELECT coalesce(json_object_agg(status, n), '{}') FROM"
        "   (SELECT status, count(*) n FROM orders GROUP BY status) s),"
        " 'orders_total', (SELECT count(*) FROM orders),"
        " 'batches', (SELECT coalesce(json_object_agg(status, n), '{}') FROM"
        "   (SELECT status, count(*) n FROM batches GROUP BY status) s),"
        " 'finished_last_5_min', (SELECT count(*) FROM orders WHERE finished_at > now() - interval '5 minutes'),"
        " 'throughput_per_min', round((SELECT count(*) FROM orders WHERE status = 'completed'"
        "    AND finished_at > now() - interval '5 minutes') / 5.0, 1),"
        " 'workers_alive', (SELECT count(*) FROM workers WHERE status NOT IN ('stopped', 'dead')),"
        " 'breaker', (SELECT state FROM circuit_breaker WHERE name = 'portal'))",
        0, NULL);
    if (res == NULL) {
        api__error(r, 503, "%s", db_errmsg(db));
        return;
    }
    r->json = cJSON_Parse(PQgetvalue(res, 0, 0));
    PQclear(res);
    r->status = r->json ? 200 : 500;
}

static void h_stats(struct http_request *req, void *user)
{
    struct api_args *a = api__args_new();
    if (a == NULL) {
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    api__submit(user, req, job_stats, a);
}

/* ---------------------------------------------------------------- /batches */

/* A batch's figures with its scheduling and pause reason. */
static cJSON *batch_json(struct db *db, const struct batch_stats *s)
{
    cJSON *o = stats_to_json(s);
    char status[16], reason[512];
    if (o != NULL && queue_batch_status(db, s->id, status, reason, sizeof reason) == 1) {
        if (reason[0] != '\0')
            cJSON_AddStringToObject(o, "paused_reason", reason);
        else
            cJSON_AddNullToObject(o, "paused_reason");
    }
    return o;
}

static void job_batches(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    (void)a;
    PGresult *res = db_query(db, "batches: count", "SELECT count(*) FROM batches", 0, NULL);
    if (res == NULL) {
        api__error(r, 503, "%s", db_errmsg(db));
        return;
    }
    long total = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    // stats_batches lists the newest first; a page is a window of that list.
    int want = args->page * args->per_page;
    struct batch_stats *list = calloc((size_t)want, sizeof *list);
    int n = list ? stats_batches(db, list, want) : -1;
    if (n < 0) {
        free(list);
        api__error(r, n == -1 && list == NULL ? 500 : 503, "%s", list ? db_errmsg(db) : "out of memory");
        return;
    }
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "batches");
    for (int i = (args->page - 1) * args->per_page; i < n; i++)
        cJSON_AddItemToArray(arr, batch_json(db, &list[i]));
    free(list);
    cJSON_AddNumberToObject(o, "page", args->page);
    cJSON_AddNumberToObject(o, "per_page", args->per_page);
    cJSON_AddNumberToObject(o, "total", (double)total);
    cJSON_AddNumberToObject(o, "pages", (double)((total + args->per_page - 1) / args->per_page));
    r->json = o;
}

static void h_batches(struct http_request *req, void *user)
{
    struct api_args *a = api__args_new();
    if (a == NULL) {
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    submit_paged(user, req, job_batches, a);
}

/* The load of an upload or a JSON body: the loader's summary, 201 with batch_id, or 400 with its
 * errors (nothing created), as `gspbot load --json` prints it. */
static void job_load(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    struct ldr_options opt;
    ldr_options_init(&opt);
    opt.name = args->name != NULL && args->name[0] != '\0' ? args->name : NULL;
    opt.sheet = args->sheet != NULL && args->sheet[0] != '\0' ? args->sheet : NULL;
    opt.skip_invalid = args->skip_invalid;
    opt.allow_duplicate = args->allow_duplicate;
    if (a->cfg->max_quantity > 0)
        opt.max_quantity = a->cfg->max_quantity;
    opt.max_bytes = (long long)a->cfg->max_file_mb << 20;
    struct ldr_load *ld = ldr_load_new(&opt);
    if (ld == NULL) {
        api__error(r, 500, "out of memory");
        return;
    }
    int rc;
    if (args->path != NULL) {
        // The upload's temp file, read under the client's file name: its extension picks the format
        // and every message names it ("pedidos.csv:17: ...").
        FILE *f = fopen(args->path, "rb");
        struct buf data;
        buf_init(&data, opt.max_bytes > 0 ? (size_t)opt.max_bytes + 1 : 0);
        char chunk[65536];
        size_t k;
        int brc = f ? 0 : -1;
        while (brc == 0 && (k = fread(chunk, 1, sizeof chunk, f)) > 0)
            brc = buf_append(&data, chunk, k);
        if (f)
            fclose(f);
        if (brc != 0) {
            buf_cleanup(&data);
            ldr_load_free(ld);
            api__error(r, brc == BUF_ETOOBIG ? 413 : 500, "%s",
                       brc == BUF_ETOOBIG ? "the file is too large" : "cannot read the upload");
            return;
        }
        rc = ldr_load_read_buffer(ld, args->filename ? args->filename : "upload", buf_str(&data), data.len,
                                  LDR_FORMAT_AUTO);
        buf_cleanup(&data);
    } else {
        rc = ldr_load_read_buffer(ld, "orders.json", args->body ? args->body : "", args->body_len, LDR_FORMAT_JSON);
    }
    long long batch_id = 0;
    if (rc == 0 && !args->flag)
        rc = ldr_load_write(ld, db_conn(db), &batch_id);
    char *txt = ldr_load_summary_json(ld, batch_id);
    cJSON *o = txt ? cJSON_Parse(txt) : NULL;
    free(txt);
    if (o == NULL) {
        ldr_load_free(ld);
        api__error(r, 500, "out of memory");
        return;
    }
    if (rc != 0 && cJSON_GetObjectItem(o, "error") == NULL)
        cJSON_AddStringToObject(o, "error", ldr_load_errmsg(ld));
    if (args->flag)
        cJSON_AddTrueToObject(o, "dry_run");
    r->status = rc == 0 ? (args->flag ? 200 : 201) : rc == LDR_EDB ? 503 : rc == LDR_ENOMEM ? 500 : 400;
    r->json = o;
    ldr_load_free(ld);
}

static void h_batches_post(struct http_request *req, void *user)
{
    struct api_args *a = api__args_new();
    if (a == NULL) {
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    size_t len;
    const char *body = http_request_body(req, &len);
    cJSON *j = len > 0 ? cJSON_ParseWithLength(body, len) : NULL;
    if (j == NULL || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        api__args_free(a);
        http_request_respond_error(req, 400, "the body must be a JSON object {\"name\": ..., \"orders\": [...]}");
        return;
    }
    cJSON_Delete(j);
    a->body = malloc(len + 1);
    if (a->body == NULL) {
        api__args_free(a);
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    memcpy(a->body, body, len);
    a->body[len] = '\0';
    a->body_len = len;
    a->flag = truthy(http_request_query(req, "dry_run"));
    a->skip_invalid = truthy(http_request_query(req, "skip_invalid"));
    a->allow_duplicate = truthy(http_request_query(req, "allow_duplicate"));
    api__submit(user, req, job_load, a);
}

static void h_upload(struct http_request *req, void *user)
{
    const char *path = NULL, *filename = NULL;
    size_t size = 0;
    http_request_upload_file(req, &path, &filename, &size);
    if (path == NULL) {
        http_request_respond_error(req, 400, "no file: send a multipart form with a \"file\" field (and \"name\")");
        return;
    }
    struct api_args *a = api__args_new();
    char own[4096];
    snprintf(own, sizeof own, "%s.job", path);
    // The layer removes its temp file when the request is freed: the job takes a name of its own.
    if (a == NULL || rename(path, own) != 0 || (a->path = strdup(own)) == NULL) {
        api__args_free(a);
        http_request_respond_error(req, 500, "cannot keep the upload: %s", strerror(errno));
        return;
    }
    const char *name = http_request_upload_field(req, "name");
    const char *sheet = http_request_upload_field(req, "sheet");
    a->filename = strdup(filename && *filename ? filename : "upload");
    a->name = name && *name ? strdup(name) : NULL;
    a->sheet = sheet && *sheet ? strdup(sheet) : NULL;
    a->flag = truthy(http_request_query(req, "dry_run")) || truthy(http_request_upload_field(req, "dry_run"));
    a->skip_invalid =
        truthy(http_request_query(req, "skip_invalid")) || truthy(http_request_upload_field(req, "skip_invalid"));
    a->allow_duplicate =
        truthy(http_request_query(req, "allow_duplicate")) || truthy(http_request_upload_field(req, "allow_duplicate"));
    api__submit(user, req, job_load, a); // the batch's name: the form's "name", else the file's
}

static void job_batch_stats(struct api *a, struct db *db, struct api_args *args, struct api_reply *r);

/* The microcache: a batch's stats JSON, fresh for API_STATS_CACHE_MS. A dashboard on every laptop
 * of the campaign must not become the database's load. */
static void job_batch_stats(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    long long now = mono_ms();
    pthread_mutex_lock(&a->cache_mu);
    if (a->cache == NULL)
        a->cache = calloc(API_CACHE_SLOTS, sizeof *a->cache);
    struct api_cache *slot = a->cache ? &a->cache[args->id % API_CACHE_SLOTS] : NULL;
    if (slot != NULL && slot->id == args->id && slot->text != NULL && now - slot->at < API_STATS_CACHE_MS) {
        r->status = slot->status;
        r->json = cJSON_Parse(slot->text);
        pthread_mutex_unlock(&a->cache_mu);
        if (r->json != NULL)
            return;
    } else {
        pthread_mutex_unlock(&a->cache_mu);
    }
    struct batch_stats s;
    int found = stats_batch(db, args->id, &s);
    if (found < 0) {
        api__error(r, 503, "%s", db_errmsg(db));
        return;
    }
    if (found == 0) {
        api__error(r, 404, "no batch %lld", args->id);
        return;
    }
    r->json = batch_json(db, &s);
    r->status = 200;
    char *txt = r->json ? cJSON_PrintUnformatted(r->json) : NULL;
    pthread_mutex_lock(&a->cache_mu);
    if (slot != NULL && txt != NULL) {
        cJSON_free(slot->text);
        slot->text = txt;
        slot->id = args->id;
        slot->at = now;
        slot->status = 200;
        txt = NULL;
    }
    pthread_mutex_unlock(&a->cache_mu);
    cJSON_free(txt);
}

static void h_batch_stats(struct http_request *req, void *user)
{
    struct api_args *a = args_with_id(req);
    if (a != NULL)
        api__submit(user, req, job_batch_stats, a);
}

static void job_batch_orders(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    (void)a;
    int rc =
        queue_orders_json(db, args->id, args->status[0] ? args->status : NULL, args->page, args->per_page, &r->json);
    if (rc != 0)
        queue_failed(r, db, rc);
}

static void h_batch_orders(struct http_request *req, void *user)
{
    struct api_args *a = args_with_id(req);
    if (a == NULL)
        return;
    const char *st = http_request_query(req, "status");
    if (st != NULL && !valid_status(st)) {
        api__args_free(a);
        http_request_respond_error(req, 400,
                                   "status: \"%s\" is not an order status (pending, queued, in_progress, retrying, "
                                   "completed, failed, cancelled)",
                                   st);
        return;
    }
    if (st != NULL)
        snprintf(a->status, sizeof a->status, "%s", st);
    submit_paged(user, req, job_batch_orders, a);
}

static void job_batch_failures(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    (void)a;
    cJSON *groups = NULL;
    int rc = queue_failures_json(db, args->id, &groups);
    if (rc != 0) {
        queue_failed(r, db, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "batch_id", (double)args->id);
    add_page(o, "groups", groups, args);
    r->json = o;
}

static void h_batch_failures(struct http_request *req, void *user)
{
    struct api_args *a = args_with_id(req);
    if (a == NULL)
        return;
    submit_paged(user, req, job_batch_failures, a);
}

enum batch_action { ACT_START, ACT_PAUSE, ACT_CANCEL, ACT_RETRY };

static void batch_action(struct api *a, struct db *db, struct api_args *args, struct api_reply *r,
                         enum batch_action act)
{
    char msg[512];
    int max_attempts = a->cfg->max_retries + 1, rc;
    switch (act) {
    case ACT_START: rc = queue_batch_start(db, args->id, max_attempts, args->at, msg, sizeof msg); break;
    case ACT_PAUSE: rc = queue_batch_pause(db, args->id, NULL, msg, sizeof msg); break;
    case ACT_CANCEL: rc = queue_batch_cancel(db, args->id, msg, sizeof msg); break;
    default: rc = queue_batch_retry(db, args->id, max_attempts, msg, sizeof msg); break;
    }
    if (rc != 0) {
        queue_failed(r, db, rc);
        return;
    }
    struct batch_stats s;
    cJSON *o = stats_batch(db, args->id, &s) == 1 ? batch_json(db, &s) : cJSON_CreateObject();
    cJSON_AddStringToObject(o, "message", msg);
    r->json = o;
    // The stats microcache must not hide the change from the next read.
    pthread_mutex_lock(&a->cache_mu);
    if (a->cache != NULL && a->cache[args->id % API_CACHE_SLOTS].id == args->id)
        a->cache[args->id % API_CACHE_SLOTS].at = 0;
    pthread_mutex_unlock(&a->cache_mu);
}

static void job_start(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    batch_action(a, db, args, r, ACT_START);
}
static void job_pause(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    batch_action(a, db, args, r, ACT_PAUSE);
}
static void job_cancel(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    batch_action(a, db, args, r, ACT_CANCEL);
}
static void job_retry(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    batch_action(a, db, args, r, ACT_RETRY);
}

static void h_start(struct http_request *req, void *user)
{
    struct api_args *a = args_with_id(req);
    if (a == NULL)
        return;
    // Optional body {"at": "2026-05-03T02:00:00Z" | epoch seconds}: a scheduled start.
    size_t len;
    const char *body = http_request_body(req, &len);
    if (len > 0) {
        cJSON *j = cJSON_ParseWithLength(body, len);
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(j, "at");
        bool ok = j != NULL && cJSON_IsObject(j);
        if (ok && cJSON_IsNumber(at) && at->valuedouble > 0) {
            a->at = at->valuedouble;
        } else if (ok && cJSON_IsString(at)) {
            struct tm tm = {0};
            const char *end = strptime(at->valuestring, "%Y-%m-%dT%H:%M:%S", &tm);
            ok = end != NULL && (*end == '\0' || strcmp(end, "Z") == 0);
            if (ok)
                a->at = (double)timegm(&tm);
        } else if (ok && at != NULL && !cJSON_IsNull(at)) {
            ok = false;
        }
        cJSON_Delete(j);
        if (!ok) {
            api__args_free(a);
            http_request_respond_error(req, 400,
                                       "the body must be {} or {\"at\": \"YYYY-MM-DDTHH:MM:SSZ\" | epoch seconds}");
            return;
        }
    }
    api__submit(user, req, job_start, a);
}

static void h_pause(struct http_request *req, void *user)
{
    struct api_args *a = args_with_id(req);
    if (a != NULL)
        api__submit(user, req, job_pause, a);
}

static void h_cancel(struct http_request *req, void *user)
{
    struct api_args *a = args_with_id(req);
    if (a != NULL)
        api__submit(user, req, job_cancel, a);
}

static void h_retry(struct http_request *req, void *user)
{
    struct api_args *a = args_with_id(req);
    if (a != NULL)
        api__submit(user, req, job_retry, a);
}

static void job_delete(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    (void)a;
    char msg[512];
    char **files = NULL;
    size_t nfiles = 0;
    int rc = queue_batch_delete(db, args->id, &files, &nfiles, msg, sizeof msg);
    if (rc != 0) {
        queue_failed(r, db, rc);
        return;
    }
    int removed = 0;
    for (size_t i = 0; i < nfiles; i++) {
        static const char *const EXT[] = {"png", "html", "console.txt"};
        for (size_t e = 0; e < 3; e++) {
            char path[4200];
            snprintf(path, sizeof path, "%s.%s", files[i], EXT[e]);
            removed += unlink(path) == 0;
        }
        free(files[i]);
    }
    free(files);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "deleted", (double)args->id);
    cJSON_AddNumberToObject(o, "evidence_files_removed", removed);
    cJSON_AddStringToObject(o, "message", msg);
    r->json = o;
}

static void h_delete(struct http_request *req, void *user)
{
    struct api_args *a = args_with_id(req);
    if (a != NULL)
        api__submit(user, req, job_delete, a);
}

/* ----------------------------------------------------------------- /orders */

/* "evidence/order-7-...-a1-step" -> "/screenshots/order-7-...-a1-step" (the files' URL stem). */
static void evidence_urls(cJSON *rows)
{
    cJSON *l;
    cJSON_ArrayForEach(l, rows)
    {
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(l, "evidence");
        if (!cJSON_IsString(ev))
            continue;
        const char *base = strrchr(ev->valuestring, '/');
        base = base ? base + 1 : ev->valuestring;
        char url[600];
        cJSON *files = cJSON_CreateObject();
        snprintf(url, sizeof url, "/screenshots/%s.png", base);
        cJSON_AddStringToObject(files, "screenshot", url);
        snprintf(url, sizeof url, "/screenshots/%s.html", base);
        cJSON_AddStringToObject(files, "html", url);
        snprintf(url, sizeof url, "/screenshots/%s.console.txt", base);
        cJSON_AddStringToObject(files, "console", url);
        cJSON_AddItemToObject(l, "evidence_urls", files);
    }
}

static void job_order(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    (void)a;
    int rc = queue_order_json(db, args->id, &r->json);
    if (rc != 0)
        queue_failed(r, db, rc);
}

static void h_order(struct http_request *req, void *user)
{
    struct api_args *a = args_with_id(req);
    if (a != NULL)
        api__submit(user, req, job_order, a);
}

static void job_order_logs(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    (void)a;
    cJSON *rows = NULL;
    int rc = queue_logs_json(db, args->id, &rows);
    if (rc != 0) {
        queue_failed(r, db, rc);
        return;
    }
    evidence_urls(rows);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "order_id", (double)args->id);
    add_page(o, "logs", rows, args);
    r->json = o;
}

static void h_order_logs(struct http_request *req, void *user)
{
    struct api_args *a = args_with_id(req);
    if (a == NULL)
        return;
    submit_paged(user, req, job_order_logs, a);
}

static void job_order_retry(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    char msg[512];
    int rc = queue_order_retry(db, args->id, a->cfg->max_retries + 1, msg, sizeof msg);
    if (rc != 0) {
        queue_failed(r, db, rc);
        return;
    }
    rc = queue_order_json(db, args->id, &r->json);
    if (rc != 0) {
        queue_failed(r, db, rc);
        return;
    }
    cJSON_AddStringToObject(r->json, "message", msg);
}

static void h_order_retry(struct http_request *req, void *user)
{
    struct api_args *a = args_with_id(req);
    if (a != NULL)
        api__submit(user, req, job_order_retry, a);
}

/* ------------------------------------------------------- workers, breaker */

static void job_workers(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    (void)a;
    cJSON *rows = NULL;
    int rc = queue_workers_json(db, args->flag, &rows);
    if (rc != 0) {
        queue_failed(r, db, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    add_page(o, "workers", rows, args);
    r->json = o;
}

static void h_workers(struct http_request *req, void *user)
{
    struct api_args *a = api__args_new();
    if (a == NULL) {
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    a->flag = truthy(http_request_query(req, "all"));
    submit_paged(user, req, job_workers, a);
}

static void breaker_reply(struct api *a, struct db *db, struct api_reply *r)
{
    struct queue_breaker b;
    int rc = queue_breaker_get(db, &b);
    if (rc != 0) {
        queue_failed(r, db, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "state", queue_breaker_state_name(b.state));
    cJSON_AddNumberToObject(o, "consecutive_failures", b.consecutive_failures);
    cJSON_AddNumberToObject(o, "threshold", a->cfg->breaker_failures);
    cJSON_AddNumberToObject(o, "cooldown_s", a->cfg->breaker_cooldown_s);
    cJSON_AddNumberToObject(o, "open_for_s", b.open_for_s);
    cJSON_AddStringToObject(o, "probe_owner", b.probe_owner);
    cJSON_AddStringToObject(o, "reason", b.reason);
    cJSON_AddNumberToObject(o, "opened_count", b.opened_count);
    r->json = o;
}

static void job_breaker(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    (void)args;
    breaker_reply(a, db, r);
}

static void job_breaker_reset(struct api *a, struct db *db, struct api_args *args, struct api_reply *r)
{
    (void)args;
    int rc = queue_breaker_reset(db);
    if (rc != 0) {
        queue_failed(r, db, rc);
        return;
    }
    breaker_reply(a, db, r);
}

static void h_breaker(struct http_request *req, void *user)
{
    struct api_args *a = api__args_new();
    if (a == NULL) {
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    api__submit(user, req, strcmp(http_request_method(req), "POST") == 0 ? job_breaker_reset : job_breaker, a);
}

static void h_metrics(struct http_request *req, void *user)
{
    struct api_args *a = api__args_new();
    if (a == NULL) {
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    api__submit(user, req, api__metrics_job, a);
}

enum route_opts { R_DEFAULT, R_OPEN, R_SMALL_BODY, R_BATCH_JSON, R_UPLOAD };

struct route {
    struct api_route_info info;
    http_handler_fn fn;
    enum route_opts opts;
};

/* Every route of `serve`, in one table: registered from it, documented from it (api_routes). */
static const struct route ROUTES[] = {
    {{"GET", "/health"}, h_health, R_OPEN},
    {{"GET", "/stats"}, h_stats, R_DEFAULT},
    {{"GET", "/batches"}, h_batches, R_DEFAULT},
    {{"POST", "/batches"}, h_batches_post, R_BATCH_JSON},
    {{"POST", "/batches/upload"}, h_upload, R_UPLOAD},
    {{"GET", "/batches/{id}/stats"}, h_batch_stats, R_DEFAULT},
    {{"GET", "/batches/{id}/orders"}, h_batch_orders, R_DEFAULT},
    {{"GET", "/batches/{id}/failures"}, h_batch_failures, R_DEFAULT},
    {{"POST", "/batches/{id}/start"}, h_start, R_SMALL_BODY},
    {{"POST", "/batches/{id}/pause"}, h_pause, R_SMALL_BODY},
    {{"POST", "/batches/{id}/cancel"}, h_cancel, R_SMALL_BODY},
    {{"POST", "/batches/{id}/retry"}, h_retry, R_SMALL_BODY},
    {{"DELETE", "/batches/{id}"}, h_delete, R_DEFAULT},
    {{"GET", "/orders/{id}"}, h_order, R_DEFAULT},
    {{"GET", "/orders/{id}/logs"}, h_order_logs, R_DEFAULT},
    {{"POST", "/orders/{id}/retry"}, h_order_retry, R_SMALL_BODY},
    {{"GET", "/workers"}, h_workers, R_DEFAULT},
    {{"GET", "/breaker"}, h_breaker, R_DEFAULT},
    {{"POST", "/breaker/reset"}, h_breaker, R_SMALL_BODY},
    {{"GET", "/events"}, api__h_events, R_DEFAULT},
    {{"GET", "/metrics"}, h_metrics, R_DEFAULT},
    {{"GET", "/screenshots/{file}"}, api__h_screenshot, R_DEFAULT},
    {{"GET", "/openapi.json"}, api__h_openapi, R_OPEN},
    {{"GET", "/"}, api__h_index, R_OPEN},
    {{"GET", "/static/{file}"}, api__h_static, R_OPEN},
};

const struct api_route_info *api_routes(size_t *n)
{
    static struct api_route_info infos[sizeof ROUTES / sizeof ROUTES[0]];
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++)
        infos[i] = ROUTES[i].info;
    *n = sizeof ROUTES / sizeof ROUTES[0];
    return infos;
}

int api__routes(struct api *a)
{
    static const char *const UPLOAD_FIELDS[] = {"name", "sheet", "dry_run", "skip_invalid", "allow_duplicate", NULL};
    size_t max_file = (size_t)a->cfg->max_file_mb << 20;
    struct http_upload upload = {.fields = UPLOAD_FIELDS, .file_field = "file", .tmp_dir = NULL, .max_file = max_file};
    struct http_route_opts opts[] = {
        [R_DEFAULT] = {0},
        [R_OPEN] = {.no_auth = true},
        [R_SMALL_BODY] = {.max_body = 1u << 20},
        [R_BATCH_JSON] = {.max_body = max_file},
        [R_UPLOAD] = {.max_body = max_file + (64u << 10), .upload = &upload}, // the form's own bytes too
    };
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++)
        if (http_server_route(a->srv, ROUTES[i].info.method, ROUTES[i].info.pattern, ROUTES[i].fn, a,
                              &opts[ROUTES[i].opts]) != 0)
            return -1;
    return 0;
}
