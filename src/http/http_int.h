/*
 * http_int.h — internals shared by the files of src/http (server.c: context, callbacks,
 * routing and writing; request.c: request accessors and answering). Not a public header.
 */
#ifndef GSPBOT_HTTP_INT_H
#define GSPBOT_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <libwebsockets.h>

#include "http.h"

struct http_kv {
    char *name;
    char *value;
};

/* Growable list of owned name/value pairs. */
struct http_kvlist {
    struct http_kv *v;
    size_t n, cap;
};

int http__kv_add(struct http_kvlist *l, const char *name, size_t nlen, const char *value, size_t vlen) HTTP_WUR;
const char *http__kv_get(const struct http_kvlist *l, const char *name, bool icase);
void http__kv_cleanup(struct http_kvlist *l);
/* Decodes %XX and (when plus_is_space) '+' in place; returns the new length. */
size_t http__urldecode(char *s, size_t len, bool plus_is_space);
/* Parses "a=1&b=2" (decoding each part) into l. */
int http__parse_urlencoded(struct http_kvlist *l, const char *s, size_t len) HTTP_WUR;

struct http_route {
    char method[8];
    char *pattern;
    char **segs; /* literal text, or the capture name when capture[i] */
    bool *capture;
    size_t nsegs;
    http_handler_fn fn;
    void *user;
    size_t max_body;
    /* asset routes */
    const void *asset_data;
    size_t asset_len;
    const char *asset_type;
};

/* A response being written on a connection; owned by the connection. */
struct http_response {
    int status;
    char *content_type;
    struct http_kvlist headers;
    const unsigned char *body; /* == owned, or borrowed static data */
    unsigned char *owned;
    size_t len, off;
    bool headers_sent;
    bool close;    /* Connection: close, then close once flushed */
    bool flushing; /* all written, waiting for lws to flush before closing */
};

struct http_conn; /* lws per-session data, defined in server.c */

struct http_request {
    struct http_server *srv;
    struct http_conn *conn;           /* NULL once the client is gone or the server answered */
    struct http_request *prev, *next; /* server's list of live requests */
    char method[8];
    char *path;
    struct http_kvlist query, headers, params, cookies, form, resp_headers;
    bool cookies_parsed, form_parsed;
    char *body;
    size_t body_len, body_cap, body_max;
    const struct http_route *route;
    int allow_mask;  /* when no route matched: methods that match the path (405) */
    bool dispatched; /* handed to filter/handler: they own it now */
    lws_sorted_usec_list_t later_sul;
    bool later_pending;
    http_later_fn later_fn;
    void *later_arg;
};

struct http_task {
    http_task_fn fn;
    void *arg;
    struct http_task *next;
};

struct http_server {
    struct http_config cfg;
    char *host;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    int port;
    struct http_route *routes;
    size_t nroutes, routes_cap;
    http_filter_fn filter;
    void *filter_user;
    struct http_request *live; /* requests not yet answered (and before dispatch) */
    unsigned inflight;         /* connections with a request not fully answered */
    uint64_t requests;
    atomic_bool stop_requested;
    bool stopping, grace_over;
    lws_sorted_usec_list_t grace_sul;
    pthread_mutex_t task_lock;
    struct http_task *tasks, *tasks_tail;
    unsigned char *scratch; /* LWS_PRE + HTTP__CHUNK bytes, service thread only */
    char errmsg[256];
};

#define HTTP__CHUNK 32768 /* bytes per body write */

void http__set_err(struct http_server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct http_request *http__request_new(struct http_server *srv, struct http_conn *conn);
void http__request_free(struct http_request *req);
void http__response_free(struct http_response *resp);
/* Hands a finished response to the request's connection and frees the request. */
int http__request_finish(struct http_request *req, struct http_response *resp);
/* Builds an error response {"error": msg}. NULL when out of memory. */
struct http_response *http__response_error(int status, const char *msg);
void http__route_dispatch(struct http_request *req);
/* Makes `resp` the connection's response and asks for WRITEABLE. */
void http__conn_set_response(struct http_conn *conn, struct http_response *resp);
struct lws *http__conn_wsi(struct http_conn *conn);

#endif
