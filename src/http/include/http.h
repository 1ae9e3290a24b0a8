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
 *
 * Everything that can refuse a request cheaply is decided on its request line and headers,
 * before any body byte is read or buffered: the authorizer (401), the Content-Length caps
 * (413), the server-wide body budget (503). Those refusals close the connection. A server
 * also caps its simultaneous connections and times out slow headers and slow bodies.
 *
 * Two kinds of request go beyond "whole body in, whole response out": a handler may answer
 * with a stream (server-sent events: http_request_stream_begin / _write / _end, pushed from
 * the service thread for as long as the client listens), and a route registered with
 * http_route_opts.upload takes a multipart/form-data form whose file part is streamed to a
 * temp file as it arrives (never held in memory) before the handler is called.
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
    HTTP_ERR_CLOSED = -6,  /* the client is gone, or the stream no longer takes data */
    HTTP_ERR_FULL = -7,    /* a stream's queue would pass stream_queue_max: the stream is cut */
};

/* Handler of a routed request. Owns `req` until it calls an http_request_respond* function
 * (now or later, on the service thread). `user` is the pointer given at registration. */
typedef void (*http_handler_fn)(struct http_request *req, void *user);

/* Continuation scheduled with http_request_after; runs on the service thread, owns `req`. */
typedef void (*http_later_fn)(struct http_request *req, void *arg);

/* Work posted from any thread with http_server_post; runs on the service thread. */
typedef void (*http_task_fn)(struct http_server *srv, void *arg);

/* Close callback of a stream (http_request_on_close); runs on the service thread. */
typedef void (*http_close_fn)(struct http_request *req, void *arg);

/* Filter run before routing on every request, after its body was received (auth, fault
 * injection, statistics). Return HTTP_FILTER_CONTINUE to route the request normally, or
 * HTTP_FILTER_HANDLED when the filter took the request over: it then must respond, or call
 * http_request_resume() (possibly later) to route it after all. */
enum http_filter_result { HTTP_FILTER_CONTINUE = 0, HTTP_FILTER_HANDLED = 1 };
typedef enum http_filter_result (*http_filter_fn)(struct http_request *req, void *user);

/* Authorizer: decides whether a request may proceed, on its request line and headers alone,
 * once they are complete and before any byte of its body is read (see
 * http_server_set_authorizer). It may read the method, path, params, query, headers, cookies
 * and bearer token of `req`; the body is empty. It must not respond, keep, resume or free
 * `req`, and must not block (it runs on the service thread). */
enum http_auth_result { HTTP_AUTH_ALLOW = 0, HTTP_AUTH_DENY = 1 };
typedef enum http_auth_result (*http_authorizer_fn)(struct http_request *req, void *user);

struct http_config {
    const char *host;            /* address to bind; NULL = "127.0.0.1" */
    int port;                    /* TCP port; 0 = ephemeral (read it with http_server_port) */
    size_t max_body;             /* bytes accepted per request body; 0 = 1 MiB; more = 413 */
    size_t max_body_inflight;    /* bytes: sum of the Content-Lengths of the admitted requests not
                                    yet answered (their bodies are in memory); a request that would
                                    pass it gets 503, one larger than it 413; 0 = 128 MiB */
    unsigned max_connections;    /* simultaneous client connections; beyond it a new connection is
                                    closed as soon as it is accepted; 0 = 256 */
    unsigned request_timeout_ms; /* a handler must answer within this, else 503; 0 = 30000 */
    unsigned header_timeout_s;   /* a client must complete its request headers within this of
                                    connecting (or of starting a keep-alive request), else the
                                    connection is closed without an answer; 0 = 10 */
    unsigned body_timeout_s;     /* a client must complete its body within this of the end of its
                                    headers, else 408 and close; 0 = 30 */
    unsigned keepalive_s;        /* idle keep-alive connections are closed after; 0 = 5 */
    unsigned stop_grace_ms;      /* on stop, in-flight requests get this long; 0 = 2000 */
    size_t stream_queue_max;     /* bytes a stream may hold queued for a client that reads slower
                                    than it is written to; a write past it cuts the stream (the
                                    connection is closed); 0 = 1 MiB */
    bool verbose;                /* false: lws logs errors only (process-wide lws setting) */
};

/* A multipart/form-data upload route (http_route_opts.upload; copied at registration). The
 * body is parsed as it arrives: the first file part named file_field is written to a new temp
 * file in tmp_dir (mode 0600), the text parts named in `fields` are kept, other parts are
 * dropped. The handler is called once the whole form was received; see
 * http_request_upload_file and http_request_upload_field. */
struct http_upload {
    const char *file_field;    /* name of the file part ("file"); 1 to 31 bytes; required */
    const char *const *fields; /* names of the text fields to keep (1 to 31 bytes each),
                                  NULL-terminated; NULL = none */
    const char *tmp_dir;       /* directory of the temp files; NULL = $TMPDIR, else /tmp; must exist */
    size_t max_file;           /* bytes: a larger file is answered 413 as soon as it passes this
                                  (the temp file removed); required (> 0) */
    size_t max_fields;         /* bytes of the kept text fields together: more = 413; 0 = 16 KiB;
                                  at most 1 MiB */
};

struct http_route_opts {
    /* Per-route body cap in bytes (the Content-Length, checked on the headers). 0 = the
     * server's max_body; for an upload route, max_file + 64 KiB + max_fields. */
    size_t max_body;
    bool no_auth;                     /* the authorizer is not consulted for this route (e.g. GET /health) */
    const struct http_upload *upload; /* non-NULL: a streamed multipart upload route (copied) */
};

/* Counters of a server; see http_server_stats. */
struct http_stats {
    uint64_t requests;            /* requests dispatched to the filter / handlers */
    unsigned connections;         /* client connections open now */
    uint64_t connections_refused; /* connections closed at accept: max_connections reached */
    uint64_t unauthorized;        /* requests refused by the authorizer (401) */
    uint64_t busy;                /* requests refused because the body budget was spent (503) */
    size_t body_bytes_admitted;   /* Content-Length of the admitted requests not yet freed */
    uint64_t body_bytes_received; /* body bytes stored into requests since the server started
                                     (not those of uploads: see upload_bytes) */
    unsigned streams;             /* streaming responses whose connection is open now */
    uint64_t upload_bytes;        /* file bytes written to upload temp files since the start */
    uint64_t pipelined_refused;   /* connections closed on a pipelined request with a body
                                     (see README, "Pipelining") */
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
 * borrowed; `opts` may be NULL (server body cap, authorizer consulted) and is copied, its
 * `upload` too (strings included). An invalid upload (no file_field, a name over 31 bytes,
 * max_file 0, tmp_dir not a directory) is HTTP_ERR_ARG with http_server_errmsg saying why.
 * Call before http_server_run. */
int http_server_route(struct http_server *srv, const char *method, const char *pattern, http_handler_fn fn, void *user,
                      const struct http_route_opts *opts) HTTP_WUR;

/* Serves `data` (borrowed: must outlive the server) at GET `path` with `content_type`
 * (NULL = guessed from the extension, see http_content_type). Assets are public: the
 * authorizer is not consulted for them (they are compiled into the program). */
int http_server_asset(struct http_server *srv, const char *path, const char *content_type, const void *data,
                      size_t len) HTTP_WUR;

/* Installs the request filter (one per server; NULL removes it). `user` is borrowed. */
void http_server_set_filter(struct http_server *srv, http_filter_fn fn, void *user);

/* Installs the authorizer (one per server; NULL removes it; `user` is borrowed). It is
 * called once per request as soon as its headers are complete — before the body is read,
 * before the filter and before routing's 404/405 — for every request except those to routes
 * registered with no_auth and to assets. When it returns HTTP_AUTH_DENY the server answers
 * 401 {"error": ...} with `WWW-Authenticate: Bearer` and `Connection: close` at once, reads
 * none of the body and closes the connection. Call before http_server_run. */
void http_server_set_authorizer(struct http_server *srv, http_authorizer_fn fn, void *user);

/* A ready-made authorizer: allows the requests whose bearer token equals `token`, a
 * NUL-terminated string passed as the authorizer's `user` (borrowed; must outlive the
 * server), compared with http_bearer_matches:
 *     http_server_set_authorizer(srv, http_authorizer_bearer, (void *)token); */
enum http_auth_result http_authorizer_bearer(struct http_request *req, void *token);
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

/* Statistics of the server. Safe from any thread at any time (each counter is read
 * atomically, the set is not a snapshot). srv NULL = all zero. */
uint64_t http_server_requests(const struct http_server *srv); /* requests dispatched */
void http_server_stats(const struct http_server *srv, struct http_stats *out);

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
/* Value of a {name} capture of the matched pattern, or NULL. The path was percent-decoded
 * and normalised before matching ("..", "." and empty segments removed, "%2F" is a '/'),
 * so a capture is never empty and never contains '/' or equals "." or "..". */
const char *http_request_param(const struct http_request *req, const char *name);
/* Decoded value of query argument `name` ("" if present without value), or NULL. With a
 * repeated argument the first wins. '&' and ';' separate arguments. */
const char *http_request_query(const struct http_request *req, const char *name);
/* Header value by case-insensitive name ("content-type"), or NULL; surrounding spaces are
 * trimmed. Standard headers are snapshotted at arrival; a repeated one reads as its values
 * joined by ',' (Cookie: by "; "). Non-standard ones are readable while the connection is
 * open; a repeated one reads as its first value. */
const char *http_request_header(struct http_request *req, const char *name);
/* Value of cookie `name` from the Cookie header, or NULL. */
const char *http_request_cookie(struct http_request *req, const char *name);
/* Token of an "Authorization: Bearer TOKEN" header, or NULL when there is none or it is not
 * a well-formed token (RFC 6750 b64token: letters, digits, "-._~+/" then '='s; so a repeated
 * Authorization header, which reads "a,Bearer b", gives NULL). */
const char *http_request_bearer(struct http_request *req);
/* True when the request carries a bearer token (http_request_bearer) equal to `token`.
 * Compares in time that depends only on the length of the presented token, never on where
 * it differs from `token`; logs nothing. token NULL or "" = false. */
bool http_bearer_matches(struct http_request *req, const char *token);
/* The body (NUL-terminated for convenience; may hold NULs) and its length; "" if none. */
const char *http_request_body(const struct http_request *req, size_t *len);
/* The body parsed as JSON; caller frees with cJSON_Delete. NULL if empty or invalid. */
cJSON *http_request_body_json(const struct http_request *req) HTTP_WUR;
/* Decoded value of field `name` of an application/x-www-form-urlencoded body, or NULL. */
const char *http_request_form(struct http_request *req, const char *name);
struct http_server *http_request_server(const struct http_request *req);
/* True once the client went away (or, for a stream, once it takes no more data); the handler
 * must still respond or end the stream (which then frees). */
bool http_request_gone(const struct http_request *req);

/* ---- Uploads (routes with http_route_opts.upload). When the handler runs, the whole form
 * was received and checked: its body is not in the request (http_request_body is ""). ---- */

/* The uploaded file: true when the form carried a file part named file_field, with `*path`
 * its temp file (complete, closed, mode 0600), `*filename` the client's file name reduced to
 * its last component (no '/' or '\'; control bytes replaced by '_'; "upload" when nothing
 * usable is left) and `*size` its bytes. False, with *path and *filename NULL and *size 0,
 * when the form had no file. Any out pointer may be NULL. Strings are borrowed from `req`.
 * The layer removes the temp file when the request is freed (after it was answered): a
 * handler that keeps the file renames it first (on the same file system), e.g. to
 * "<path>.job"; a renamed file is never removed by the layer. */
bool http_request_upload_file(const struct http_request *req, const char **path, const char **filename, size_t *size);
/* Value of text field `name` of an upload's form (one of the route's `fields`), or NULL when
 * absent or empty. Bytes as sent (UTF-8 stays UTF-8), cut at a NUL; with a repeated field the
 * last one wins. http_request_form reads the same values. Borrowed from `req`. */
const char *http_request_upload_field(struct http_request *req, const char *name);

/* ---- Answering. Headers and cookies are added before responding. Every respond function
 * consumes `req` (also on error and when the client is gone): do not touch it after. On a
 * stream a respond function ends the stream (its response is discarded) and returns
 * HTTP_ERR_STATE. ---- */

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
/* ---- Streams (server-sent events). A handler (or a timer or posted task, later) may answer
 * with a stream instead of a response: the status and headers go out at once, then data
 * written over time, until the stream ends. All on the service thread.
 *
 * Ownership: after a successful http_request_stream_begin the owner holds `req` until the
 * stream ends, which happens exactly once, either
 *   - by the owner's http_request_stream_end(req), or
 *   - by the layer, right after the close callback (http_request_on_close) returned: when the
 *     client closed the connection, a write passed stream_queue_max, or the server is stopping.
 *     The callback is the owner's last sight of `req` (drop it from your lists there); it may
 *     call http_request_stream_end too (no effect then). Without a close callback the layer
 *     never frees a stream: writes fail with HTTP_ERR_CLOSED until the owner ends it.
 * http_server_free frees the streams still open without calling their close callbacks.
 *
 * The response has no Content-Length and `Connection: close`: the stream ends by closing the
 * connection once the queued data is flushed. Streams are not cut by request_timeout_ms or
 * keepalive_s; they count against max_connections. On http_server_stop every stream's close
 * callback runs, its queued data is flushed (within stop_grace_ms) and its connection closed. */

/* Sends `status` and the headers (those added with http_request_add_header included, plus
 * `Cache-Control: no-cache` unless one was added; content_type NULL = "text/event-stream")
 * and makes `req` a stream. Returns 0; the owner then must end it as described above (or
 * have it ended). On failure the request is consumed like a respond function does (answered
 * when possible, freed) and < 0 is returned: HTTP_ERR_CLOSED when the client is gone (or the
 * request timed out) or the server is stopping (answered 503), HTTP_ERR_NOMEM (answered 500).
 * On a request that already is a stream: HTTP_ERR_STATE and nothing changes. Accessor strings
 * stay valid until the stream ends; non-standard headers not read before begin become
 * unreadable (lws's header table is released). */
int http_request_stream_begin(struct http_request *req, int status, const char *content_type) HTTP_WUR;
/* Queues a copy of `len` bytes of `data` (may be written to the client in several pieces; one
 * whole SSE message per call keeps messages whole). Never blocks and never calls back. Returns
 * 0; HTTP_ERR_CLOSED when the stream takes no more data (client gone, server stopping, cut);
 * HTTP_ERR_FULL when the bytes queued and not yet sent would pass stream_queue_max: nothing is
 * queued, the queue is dropped and the connection cut (a client that does not read must not
 * grow memory), and the close callback runs later unless the owner ends the stream first;
 * HTTP_ERR_NOMEM likewise cuts the stream; HTTP_ERR_STATE when `req` is not a stream. */
int http_request_stream_write(struct http_request *req, const void *data, size_t len) HTTP_WUR;
/* Bytes queued on the stream and not yet handed to the socket (0 when not a stream or closed):
 * for an owner that prefers skipping a message to having the stream cut. */
size_t http_request_stream_pending(const struct http_request *req);
/* Ends the stream: what was queued is flushed, then the connection closes (a client that
 * stopped reading gets 10 s for it). Frees `req` (also when the client is gone); do not touch
 * it after. Inside the close callback it does nothing (the layer frees after the callback).
 * On a request that is not a stream it answers 500 (and so still consumes it). NULL: no-op. */
void http_request_stream_end(struct http_request *req);
/* Sets the stream's close callback (one; replaces; NULL removes): fn(req, arg) runs at most
 * once on the service thread — from the service loop, never from inside a call the owner
 * makes into this layer — when the stream stops taking data for a reason other than
 * http_request_stream_end: the client closed the connection, a write passed the cap (after
 * the connection is cut), or the server is stopping. After fn returns the layer frees `req`.
 * May be set before or after stream_begin; it has effect only for streams. Registered on a
 * stream that is already closed (http_request_gone), it is never called: end the stream. */
void http_request_on_close(struct http_request *req, http_close_fn fn, void *arg);

/* Routes a request a filter took over (HTTP_FILTER_HANDLED) to its handler, or answers
 * 404/405 when no route matches. Ownership passes to that handler. */
void http_request_resume(struct http_request *req);

#endif
