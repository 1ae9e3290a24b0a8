/*
 * http.h — a small HTTP/1.1 server on libwebsockets 4.1 shared by the portal simulator
 * (tests/sim) and `gspbot serve`.
 *
 * One server = one lws context serviced by exactly one thread (the one calling
 * http_server_run). Handlers are registered per method + path pattern ("/batches/{id}/start");
 * a handler receives a request it owns until it answers with one of the http_request_respond*
 * functions, which always consume the request. A handler may answer late: keep the request,
 * return, and answer from a timer (http_request_after) or from work posted by another thread
 * (http_server_post). Nothing here blocks the service thread. See src/http/README.md.
 */
#ifndef GSPBOT_HTTP_H
#define GSPBOT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define HTTP_WUR __attribute__((warn_unused_result))

struct http_server;
struct http_request;

/* Error codes (0 = success). http_strerror() names them; the server also keeps a message. */
enum http_err {
    HTTP_OK = 0,
    HTTP_ERR_NOMEM = -1,   /* allocation failed */
    HTTP_ERR_ARG = -2,     /* invalid argument (bad pattern, NULL, unknown method...) */
    HTTP_ERR_LISTEN = -3,  /* the context or listening socket could not be created */
    HTTP_ERR_STATE = -4,   /* call not valid in this state (e.g. run before start) */
    HTTP_ERR_SERVICE = -5, /* lws_service failed */
};

/* Handler of a routed request. Owns `req` until it calls an http_request_respond* function
 * (now or later, on the service thread). `user` is the pointer given at registration. */
typedef void (*http_handler_fn)(struct http_request *req, void *user);

/* Continuation scheduled with http_request_after; runs on the service thread, owns `req`. */
typedef void (*http_later_fn)(struct http_request *req, void *arg);

/* Work posted from any thread with http_server_post; runs on the service thread. */
typedef void (*http_task_fn)(struct http_server *srv, void *arg);

/* Filter run before routing on every request, after its body was received (auth, fault
 * injection, statistics). Return HTTP_FILTER_CONTINUE to route the request normally, or
 * HTTP_FILTER_HANDLED when the filter took the request over: it then must respond, or call
 * http_request_resume() (possibly later) to route it after all. */
enum http_filter_result { HTTP_FILTER_CONTINUE = 0, HTTP_FILTER_HANDLED = 1 };
typedef enum http_filter_result (*http_filter_fn)(struct http_request *req, void *user);

struct http_config {
    const char *host;            /* address to bind; NULL = "127.0.0.1" */
    int port;                    /* TCP port; 0 = ephemeral (read it with http_server_port) */
    size_t max_body;             /* bytes accepted per request body; 0 = 1 MiB; more = 413 */
    unsigned request_timeout_ms; /* a handler must answer within this, else 503; 0 = 30000 */
    unsigned body_timeout_s;     /* a client must send its body within this; 0 = 30 */
    unsigned keepalive_s;        /* idle keep-alive connections are closed after; 0 = 5 */
    unsigned stop_grace_ms;      /* on stop, in-flight requests get this long; 0 = 2000 */
    bool verbose;                /* false: lws logs errors only (process-wide lws setting) */
};

struct http_route_opts {
    size_t max_body; /* per-route body cap in bytes; 0 = the server's max_body */
};

/* Creates an unstarted server; copies `cfg` (NULL = all defaults; strings copied).
 * Returns NULL only when out of memory. Free with http_server_free. */
struct http_server *http_server_new(const struct http_config *cfg) HTTP_WUR;

/* Stops nothing by itself: call after http_server_run returned (or was never called).
 * Frees routes, requests still held by handlers (their pointers become invalid), queued
 * tasks (not run) and the lws context. NULL is a no-op. */
void http_server_free(struct http_server *srv);

/* Registers `fn` for `method` ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS") and
 * `pattern`: absolute path whose segments are literals or {name} captures (one whole
 * segment each, read with http_request_param). First registered match wins. `user` is
 * borrowed; `opts` may be NULL and is copied. Call before http_server_run. */
int http_server_route(struct http_server *srv, const char *method, const char *pattern, http_handler_fn fn, void *user,
                      const struct http_route_opts *opts) HTTP_WUR;

/* Serves `data` (borrowed: must outlive the server) at GET `path` with `content_type`
 * (NULL = guessed from the extension, see http_content_type). */
int http_server_asset(struct http_server *srv, const char *path, const char *content_type, const void *data,
                      size_t len) HTTP_WUR;

/* Installs the request filter (one per server; NULL removes it). `user` is borrowed. */
void http_server_set_filter(struct http_server *srv, http_filter_fn fn, void *user);

/* Creates the lws context and binds the listening socket. After success the port is known
 * (http_server_port) and connections queue until http_server_run services them.
 * On error returns < 0 and http_server_errmsg says why (e.g. port in use). */
int http_server_start(struct http_server *srv) HTTP_WUR;

/* The bound TCP port (valid after a successful start), else 0. */
int http_server_port(const struct http_server *srv);

/* Services connections on the calling thread until http_server_stop is called, then
 * drains: new requests get 503 + Connection: close, in-flight ones get up to stop_grace_ms.
 * Returns 0, or < 0 if servicing failed. The calling thread owns the context meanwhile. */
int http_server_run(struct http_server *srv) HTTP_WUR;

/* Asks http_server_run to return. Safe from any thread and from a signal handler
 * (sets an atomic flag and calls lws_cancel_service). Idempotent. */
void http_server_stop(struct http_server *srv);

/* Queues fn(srv, arg) to run on the service thread soon. Safe from any thread. `arg` is
 * the caller's; tasks still queued when the server is freed are dropped without running. */
int http_server_post(struct http_server *srv, http_task_fn fn, void *arg) HTTP_WUR;

/* Statistics of the server (service thread or after run returned). */
uint64_t http_server_requests(const struct http_server *srv); /* requests dispatched */

/* Message of the last failure of `srv` (borrowed, valid until the next call on srv). */
const char *http_server_errmsg(const struct http_server *srv);
const char *http_strerror(int code);

/* Content type for a file name by extension (html, js, css, json, png, svg, woff2, ...);
 * "application/octet-stream" when unknown. Static string. */
const char *http_content_type(const char *path);

/* ---- Request accessors. All returned strings are borrowed from `req` and valid until the
 * request is answered. They work on the service thread only. ---- */

const char *http_request_method(const struct http_request *req); /* "GET", "POST", ... */
const char *http_request_path(const struct http_request *req);   /* decoded, no query */
/* Value of a {name} capture of the matched pattern, or NULL. */
const char *http_request_param(const struct http_request *req, const char *name);
/* Decoded value of query argument `name` ("" if present without value), or NULL. */
const char *http_request_query(const struct http_request *req, const char *name);
/* Header value by case-insensitive name ("content-type"), or NULL. Standard headers are
 * snapshotted at arrival; non-standard ones are readable while the connection is open. */
const char *http_request_header(struct http_request *req, const char *name);
/* Value of cookie `name` from the Cookie header, or NULL. */
const char *http_request_cookie(struct http_request *req, const char *name);
/* Token of an "Authorization: Bearer TOKEN" header, or NULL. */
const char *http_request_bearer(struct http_request *req);
/* The body (NUL-terminated for convenience; may hold NULs) and its length; "" if none. */
const char *http_request_body(const struct http_request *req, size_t *len);
/* The body parsed as JSON; caller frees with cJSON_Delete. NULL if empty or invalid. */
cJSON *http_request_body_json(const struct http_request *req) HTTP_WUR;
/* Decoded value of field `name` of an application/x-www-form-urlencoded body, or NULL. */
const char *http_request_form(struct http_request *req, const char *name);
struct http_server *http_request_server(const struct http_request *req);
/* True once the client went away; the handler must still respond (which then frees). */
bool http_request_gone(const struct http_request *req);

/* ---- Answering. Headers and cookies are added before responding. Every respond function
 * consumes `req` (also on error and when the client is gone): do not touch it after. ---- */

/* Adds a response header (copied). Name without colon, any case. */
int http_request_add_header(struct http_request *req, const char *name, const char *value) HTTP_WUR;
/* Adds Set-Cookie: name=value; Path=/; HttpOnly; SameSite=Lax and Max-Age when
 * max_age_s >= 0 (0 deletes the cookie; -1 = session cookie). Value must be cookie-safe. */
int http_request_set_cookie(struct http_request *req, const char *name, const char *value, int max_age_s) HTTP_WUR;

/* Responds with a copy of `body`. content_type NULL = "text/plain; charset=utf-8". */
int http_request_respond(struct http_request *req, int status, const char *content_type, const void *body, size_t len);
/* As http_request_respond but borrows `body`, which must outlive the server. */
int http_request_respond_static(struct http_request *req, int status, const char *content_type, const void *body,
                                size_t len);
/* Responds with `json` printed compactly (application/json); takes ownership of `json`
 * (NULL = 500). */
int http_request_respond_json(struct http_request *req, int status, cJSON *json);
/* Responds {"error": "<formatted message>"} with `status`. */
int http_request_respond_error(struct http_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Responds `status` (301/302/303/307) with Location: location and an empty body. */
int http_request_redirect(struct http_request *req, int status, const char *location);

/* Runs fn(req, arg) on the service thread after delay_ms (an lws_sul timer, never a sleep);
 * the handler keeps ownership of `req` and must respond in fn or later. One pending
 * continuation per request; scheduling again replaces it. */
int http_request_after(struct http_request *req, unsigned delay_ms, http_later_fn fn, void *arg) HTTP_WUR;
/* Routes a request a filter took over (HTTP_FILTER_HANDLED) to its handler, or answers
 * 404/405 when no route matches. Ownership passes to that handler. */
void http_request_resume(struct http_request *req);

#endif
