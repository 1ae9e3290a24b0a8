/* api: `gspbot serve` — the REST API of README "The REST API and the dashboard", the server-sent events stream,
 * Prometheus metrics, the OpenAPI description, webhooks, the evidence files and the embedded dashboard, on the HTTP
 * layer (src/http). Every rule about batches and orders is the queue's (src/queue): the API and the CLI call the same
 * functions.
 *
 * Threads: the HTTP layer's service thread parses requests and answers; database work runs on a
 * small pool of threads, each with its own connection, and comes back to the service thread to be
 * answered (nothing blocks the service thread). One more thread listens for the queue's events
 * (LISTEN gspbot_events) and feeds /events; one delivers webhooks. */
#ifndef GSPBOT_API_H
#define GSPBOT_API_H

#include <stdbool.h>
#include <stddef.h>

struct config;

struct api_opts {
    const struct config *cfg; /* borrowed */
    const char *host;         /* address to bind; NULL = 0.0.0.0, or 127.0.0.1 without a token */
    int port;                 /* 0 = an ephemeral port (printed), else cfg->port's default */
    bool insecure_no_auth;    /* no GSPBOT_API_TOKEN: allowed only with this, and then on loopback */
    int db_threads;           /* database connections for requests; <= 0: 4 */
};

/* Serves until SIGTERM or SIGINT. Prints "listening on http://HOST:PORT" first (stdout, flushed).
 * Returns an exit code: 0 stopped by SIGTERM, 130 by SIGINT, 2 bad usage (no token without
 * --insecure-no-auth), 3 cannot listen or database unavailable at start. */
int api_serve(const struct api_opts *o);

/* The routes `serve` registers (method and path pattern), for documentation and for the test that
 * holds /openapi.json to them. Static storage; *n gets the count. */
struct api_route_info {
    const char *method;
    const char *pattern;
};
const struct api_route_info *api_routes(size_t *n);

struct db;
/* Posts the webhook events not yet delivered (at most max) to url, marking each delivered; stops
 * at the first the endpoint refuses. `gspbot run` calls it once the batch is finished. Returns
 * how many were delivered, or -1 on a database error (db_errmsg). */
int api_webhooks_deliver(struct db *db, const char *url, int max);

#endif
