/* api_internal: what the API's files share (see api.h). */
#ifndef GSPBOT_API_INTERNAL_H
#define GSPBOT_API_INTERNAL_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "db.h"
#include "http.h"

struct config;

/* The arguments a handler copies out of its request for the database thread (the request itself
 * belongs to the service thread). */
struct api_args {
    long long id;
    char status[16];
    int page, per_page;
    bool flag;  /* dry_run, all, ... */
    char *body; /* a copy of the request body, or NULL */
    size_t body_len;
    char *path;     /* an upload's temp file (the job owns and removes it), or NULL */
    char *name;     /* batch name (an upload's "name" field) */
    char *filename; /* an upload's file name as the client gave it (messages, format) */
    char *sheet;
    bool skip_invalid, allow_duplicate;
    double at; /* start --at, epoch seconds; 0 = now */
};

/* What a job answers: a status and either JSON or text. */
struct api_reply {
    int status;
    cJSON *json;              /* owned; sent as application/json */
    char *text;               /* owned; sent with content_type */
    const char *content_type; /* static */
};

struct api;
/* A job runs on a database thread with that thread's connection and fills *r. */
typedef void (*api_job_fn)(struct api *a, struct db *db, struct api_args *args, struct api_reply *r);

struct api_sub; /* an /events subscriber */

#define API_CACHE_SLOTS 64

/* A cached answer of /batches/{id}/stats (see routes.c). */
struct api_cache {
    long long id;
    long long at; /* monotonic ms */
    int status;
    char *text;
};

struct api {
    const struct config *cfg;
    struct http_server *srv;
    char evidence_real[4096]; /* realpath of the evidence folder ("" when it does not exist yet) */
    /* the job queue */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct api_job *head, *tail;
    bool quit;
    pthread_t *threads;
    int nthreads;
    /* /events */
    struct api_sub *subs; /* service thread only */
    pthread_t events_thread;
    bool events_running;
    /* webhooks */
    pthread_t webhook_thread;
    bool webhook_running;
    /* the stats microcache (database threads) */
    pthread_mutex_t cache_mu;
    struct api_cache *cache;
    /* metrics */
    atomic_ullong requests_total, requests_failed;
};

/* Queues `fn` to run on a database thread with `args` (taken: freed after), then answers `req`
 * on the service thread with what it filled. */
void api__submit(struct api *a, struct http_request *req, api_job_fn fn, struct api_args *args);
/* A new zeroed api_args (NULL = out of memory: the caller answers 500). */
struct api_args *api__args_new(void);
void api__args_free(struct api_args *args);
/* Starts and stops the database threads. */
int api__jobs_start(struct api *a, int n);
void api__jobs_stop(struct api *a);

/* r = {"error": message} with status. */
void api__error(struct api_reply *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Registers every route. Returns 0 or -1. */
int api__routes(struct api *a);
/* Handlers defined beside what they serve: evidence files and the dashboard (files.c), the
 * events stream (events.c). */
void api__h_index(struct http_request *req, void *user);
void api__h_static(struct http_request *req, void *user);
void api__h_openapi(struct http_request *req, void *user);
void api__h_screenshot(struct http_request *req, void *user);
void api__h_events(struct http_request *req, void *user);
/* /events: the listener thread and the subscribers. */
int api__events_start(struct api *a);
void api__events_stop(struct api *a);
/* /metrics (text built on a database thread). */
void api__metrics_job(struct api *a, struct db *db, struct api_args *args, struct api_reply *r);
/* Webhooks: a thread delivering the events outbox to GSPBOT_WEBHOOK_URL. */
int api__webhook_start(struct api *a);
void api__webhook_stop(struct api *a);

/* The security headers every answer carries (CSP, nosniff, frame denial, no referrer). */
int api__security_headers(struct http_request *req);

#endif
