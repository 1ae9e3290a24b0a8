/*
 * http_int.h — internals shared by the files of src/http (server.c: context, callbacks,
 * routing and writing; request.c: request accessors and answering; stream.c: streaming
 * responses; upload.c: multipart uploads streamed to temp files). Not a public header.
 */
#ifndef GSPBOT_HTTP_INT_H
#define GSPBOT_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <libwebsockets.h>

#include "buf.h"
#include "http.h"

struct http_kv {
    char *name;
    char *value;
};

/* Growable list of owned name/value pairs (a typed array of structs, not a byte buffer:
 * it stays hand-grown; byte buffers use buf). */
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

/* An upload route's settings (http_route_opts.upload), copied at registration. */
struct http__upload_route {
    char **fields; /* NULL-terminated names of the text fields kept */
    size_t nfields;
    char *file_field;
    char *tmp_dir;
    size_t max_file, max_fields;
};

struct http_route {
    char method[8];
    char *pattern;
    char **segs; /* literal text, or the capture name when capture[i] */
    bool *capture;
    size_t nsegs;
    http_handler_fn fn;
    void *user;
    size_t max_body;
    bool no_auth;                      /* the authorizer is not consulted (no_auth routes and assets) */
    struct http__upload_route *upload; /* owned; NULL unless a multipart upload route */
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
    /* streams (stream.c): no body; data queued by http_request_stream_write */
    bool stream;      /* a streaming response: no Content-Length, ends by closing */
    bool ending;      /* the stream ended: flush the queue, then close */
    struct buf queue; /* bytes [qoff, len) not yet written; capped at stream_queue_max */
    size_t qoff;
};

/* Per-connection state (lws per-session data, zeroed by lws). It only lives for one HTTP
 * transaction in lws 4.1 (it may be dropped and rebound between keep-alive requests), so
 * everything in it is reset when a transaction ends. */
struct http_conn {
    struct lws *wsi;
    struct http_server *srv;
    struct http_request *req;           /* being received, handed to a handler, or streaming */
    struct http_response *resp;         /* being written (a stream's stays until the close) */
    lws_sorted_usec_list_t timeout_sul; /* handler deadline (request_timeout_ms) */
    lws_sorted_usec_list_t body_sul;    /* body deadline (body_timeout_s) */
    lws_sorted_usec_list_t probe_sul;   /* is the client still there? (while nothing is written) */
    bool active;                        /* counted in srv->inflight */
    bool send_continue;                 /* owes the client "100 Continue" (Expect: 100-continue) */
    bool rx_paused;                     /* POLLIN off (lws_rx_flow_control) while nothing to write */
    bool close_after;                   /* the response closes the connection (Connection: close) */
};

struct http__upload; /* an upload's parsing state (upload.c) */

struct http_request {
    struct http_server *srv;
    struct http_conn *conn;           /* NULL once the client is gone or the server answered */
    struct http_request *prev, *next; /* server's list of live requests */
    char method[8];
    char *path;
    struct http_kvlist query, headers, params, cookies, form, resp_headers;
    bool cookies_parsed, form_parsed;
    struct buf body;      /* capped at the request's Content-Length */
    size_t body_max;      /* the route's (or server's) cap */
    size_t body_admitted; /* bytes of srv->body_admitted held for this request (its Content-Length) */
    const struct http_route *route;
    int allow_mask;  /* when no route matched: methods that match the path (405) */
    bool dispatched; /* handed to filter/handler: they own it now */
    lws_sorted_usec_list_t later_sul;
    bool later_pending;
    http_later_fn later_fn;
    void *later_arg;
    struct http__upload *upload; /* owned; the multipart state of an upload route's request */
    /* streams (stream.c) */
    bool streaming;     /* http_request_stream_begin succeeded: the stream must end once */
    bool stream_closed; /* takes no more data: client gone, cut at the cap, or server stopping */
    bool in_close_cb;   /* its close callback is running: the layer frees it afterwards */
    http_close_fn close_fn;
    void *close_arg;
};

struct http_task {
    http_task_fn fn;
    void *arg;
    struct http_task *next;
};

/* Counters readable from any thread (http_server_stats); written on the service thread. */
struct http_counters {
    atomic_uint_fast64_t requests, connections_refused, unauthorized, busy, body_bytes_received, upload_bytes,
        pipelined_refused;
    atomic_uint connections, streams;
    atomic_size_t body_bytes_admitted;
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
    http_authorizer_fn authorizer;
    void *authorizer_user;
    struct http_request *live; /* requests not yet answered (and before dispatch) */
    unsigned inflight;         /* connections with a request not fully answered */
    struct http_counters stats;
    atomic_bool stop_requested;
    bool stopping, grace_over;
    bool freeing; /* http_server_free is closing the connections: no close callbacks */
    lws_sorted_usec_list_t grace_sul;
    pthread_mutex_t task_lock;
    struct http_task *tasks, *tasks_tail;
    unsigned char *scratch; /* LWS_PRE + HTTP__CHUNK bytes, service thread only */
    char errmsg[256];
};

#define HTTP__CHUNK           32768 /* bytes per body write */
#define HTTP__MAX_HEADER_DATA 8192  /* bytes of request line + headers lws keeps per request */
#define HTTP__MAX_HEADER_NAME 126   /* bytes of a response header name */
#define HTTP__STREAM_LINGER_S 10    /* s: an ended stream's client has this long to read the rest */
#define HTTP__PROBE_MS        1000  /* ms between checks that a waiting client is still connected */

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
/* Writes the status line and headers of `resp` (no Content-Length for a stream). */
int http__write_headers(struct http_conn *conn, struct http_response *resp);
/* Asks for WRITEABLE, resuming the connection's rx first if it was paused (lws 4.1 does not
 * service POLLOUT on an rx-flow-controlled h1 connection). */
void http__conn_writable(struct http_conn *conn);
/* Pauses rx while the connection has nothing to write (see server.c, "waiting clients"). */
void http__conn_pause(struct http_conn *conn);
/* Starts checking every HTTP__PROBE_MS that the client is still connected; closes the
 * connection when it is not. Stops at conn_reset or when a response is set. */
void http__conn_probe_start(struct http_conn *conn);

/* stream.c */
/* WRITEABLE on a connection whose response is a stream. Returns -1 to close it. */
int http__stream_writeable(struct http_conn *conn, struct lws *wsi);
/* The stream's connection went away (conn already detached): marks it closed and runs its
 * close callback, after which the request is freed. */
void http__stream_conn_gone(struct http_request *req);
/* Detaches a stream being freed from its connection, which flushes its queue then closes. */
void http__stream_detach(struct http_request *req);
/* Server stopping: every open stream stops taking data, its close callback runs, and its
 * connection closes once flushed. */
void http__streams_stop(struct http_server *srv);

/* upload.c */
/* Copies and checks `in` (registration). Returns 0, or HTTP_ERR_ARG / HTTP_ERR_NOMEM with
 * the reason in srv's message. */
int http__upload_route_new(struct http_server *srv, const char *pattern, const struct http_upload *in,
                           struct http__upload_route **out) HTTP_WUR;
void http__upload_route_free(struct http__upload_route *r);
/* On the headers of an upload route's request with a body of `content_length` bytes: checks
 * the Content-Type and sets up the parser. Returns 0, or the HTTP status to refuse it with
 * (415, 400, 500) and the message in msg. */
int http__upload_begin(struct http_request *req, struct lws *wsi, size_t content_length, char *msg,
                       size_t msglen) HTTP_WUR;
/* A piece of the body. Returns 0, or the status to refuse the request with (413, 400, 500). */
int http__upload_feed(struct http_request *req, const void *in, size_t len, char *msg, size_t msglen) HTTP_WUR;
/* The body is complete: checks the form ended properly and keeps its fields. 0 or a status. */
int http__upload_finish(struct http_request *req, char *msg, size_t msglen) HTTP_WUR;
/* Frees the state; removes the temp file unless it was renamed away. NULL is a no-op. */
void http__upload_free(struct http__upload *up);

#endif
