/* server: `gspbot serve`'s lifecycle (see api.h): the token rule, the HTTP server, the database
 * threads, /events and webhooks, and an orderly stop on SIGTERM / SIGINT — the database threads
 * finish and answer their jobs while the HTTP layer still runs, then the server drains. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "api_internal.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "migrate.h"

static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
    g_signal = sig;
}

int api__security_headers(struct http_request *req)
{
    // Nothing from the spreadsheets or the portal may run here: no inline script, no foreign
    // source, no framing; evidence HTML is answered as plain text on top of this (files.c).
    int rc = http_request_add_header(req, "Content-Security-Policy",
                                     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: "
                                     "data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                                     "form-action 'self'; frame-ancestors 'none'");
    rc |= http_request_add_header(req, "X-Content-Type-Options", "nosniff");
    rc |= http_request_add_header(req, "X-Frame-Options", "DENY");
    rc |= http_request_add_header(req, "Referrer-Policy", "no-referrer");
    return rc;
}

/* Waits for a stop signal on its own thread, then stops the parts in order. */
struct stopper {
    struct api *a;
    pthread_t thread;
};

static void *stopper_main(void *arg)
{
    struct stopper *s = arg;
    while (g_signal == 0) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    log_info("api", "stopping (%s)", g_signal == SIGINT ? "SIGINT" : "SIGTERM");
    api__events_stop(s->a); // ends the /events streams (on the service thread)
    api__webhook_stop(s->a);
    api__jobs_stop(s->a); // in-flight jobs answer first: the service thread still runs
    http_server_stop(s->a->srv);
    return NULL;
}

int api_serve(const struct api_opts *o)
{
    const struct config *cfg = o->cfg;
    bool auth = cfg->api_token != NULL && cfg->api_token[0] != '\0';
    if (!auth && !o->insecure_no_auth) {
        fprintf(stderr, "gspbot serve: GSPBOT_API_TOKEN is not set: set it (every request then needs "
                        "\"Authorization: Bearer <token>\"), or pass --insecure-no-auth to serve without one on "
                        "127.0.0.1 only\n");
        return 2;
    }
    const char *host = o->host;
    if (!auth) {
        if (host != NULL && strcmp(host, "127.0.0.1") != 0 && strcmp(host, "localhost") != 0 &&
            strcmp(host, "::1") != 0) {
            fprintf(stderr, "gspbot serve: --insecure-no-auth listens on loopback only (not %s)\n", host);
            return 2;
        }
        host = "127.0.0.1";
        log_warn("api", "no API token: serving without authentication on 127.0.0.1 only");
    }
    if (auth && strlen(cfg->api_token) < 16)
        log_warn("api", "GSPBOT_API_TOKEN is short (%zu characters): use 32 random characters or more",
                 strlen(cfg->api_token));
    // The database must be there and migrated before anything listens.
    struct db *db = NULL;
    if (db_open(&db, cfg->database_url) != 0) {
        fprintf(stderr, "gspbot serve: %s\n", db_errmsg(db));
        db_free(db);
        return 3;
    }
    int cur = migrate_is_current(db);
    db_free(db);
    if (cur != 1) {
        fprintf(stderr, "gspbot serve: the schema is not up to date: run `gspbot migrate` first\n");
        return 3;
    }

    struct api a = {.cfg = cfg};
    pthread_mutex_init(&a.mu, NULL);
    pthread_cond_init(&a.cond, NULL);
    pthread_mutex_init(&a.cache_mu, NULL);
    // Uploads: two at the full cap may be in flight at once; more wait for a 503 and retry.
    size_t max_file = (size_t)cfg->max_file_mb << 20;
    struct http_config hc = {.host = host ? host : "0.0.0.0",
                             .port = o->port,
                             .max_body = 1u << 20,
                             .max_body_inflight = 2 * max_file + (8u << 20),
                             .max_connections = 512,
                             .request_timeout_ms = 60000,
                             .body_timeout_s = 300};
    a.srv = http_server_new(&hc);
    int code = 3;
    if (a.srv == NULL) {
        fprintf(stderr, "gspbot serve: out of memory\n");
        goto out;
    }
    if (auth)
        http_server_set_authorizer(a.srv, http_authorizer_bearer, (void *)cfg->api_token);
    if (api__routes(&a) != 0) {
        fprintf(stderr, "gspbot serve: cannot register the routes: %s\n", http_server_errmsg(a.srv));
        goto out;
    }
    if (http_server_start(a.srv) != 0) {
        fprintf(stderr, "gspbot serve: cannot listen on %s:%d: %s\n", hc.host, o->port, http_server_errmsg(a.srv));
        goto out;
    }
    int nthreads = o->db_threads > 0 ? o->db_threads : 4;
    if (api__jobs_start(&a, nthreads) != 0 || api__events_start(&a) != 0 || api__webhook_start(&a) != 0) {
        fprintf(stderr, "gspbot serve: cannot start its threads\n");
        api__events_stop(&a);
        api__webhook_stop(&a);
        api__jobs_stop(&a);
        goto out;
    }
    g_signal = 0;
    struct sigaction sa = {.sa_handler = on_signal}, old_term, old_int, ign = {.sa_handler = SIG_IGN}, old_pipe;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGPIPE, &ign, &old_pipe);
    struct stopper st = {.a = &a};
    if (pthread_create(&st.thread, NULL, stopper_main, &st) != 0) {
        fprintf(stderr, "gspbot serve: cannot start its threads\n");
        api__events_stop(&a);
        api__webhook_stop(&a);
        api__jobs_stop(&a);
        goto out;
    }
    printf("listening on http://%s:%d%s\n", strcmp(hc.host, "0.0.0.0") == 0 ? "127.0.0.1" : hc.host,
           http_server_port(a.srv), auth ? "" : " (no authentication)");
    fflush(stdout);
    log_info("api", "serving on %s:%d (%d database connections)", hc.host, http_server_port(a.srv), nthreads);
    int rc = http_server_run(a.srv);
    if (g_signal == 0) // the server ended by itself: stop the rest
        g_signal = SIGTERM;
    pthread_join(st.thread, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    code = rc != 0 ? 3 : g_signal == SIGINT ? 130 : 0;
    log_info("api", "stopped");
out:
    http_server_free(a.srv);
    if (a.cache != NULL)
        for (int i = 0; i < API_CACHE_SLOTS; i++)
            cJSON_free(a.cache[i].text);
    free(a.cache);
    pthread_mutex_destroy(&a.cache_mu);
    pthread_cond_destroy(&a.cond);
    pthread_mutex_destroy(&a.mu);
    return code;
}
