/*
 * server.c — the lws side of the HTTP server: context and listening socket, the run loop
 * with graceful stop, cross-thread task posting, the connection cap, the per-connection state
 * machine (receive headers -> authorize and admit the body on the headers alone -> receive
 * the body under a deadline, into the request or, for an upload route, through upload.c ->
 * dispatch -> write headers -> write body chunks, or a stream's queue (stream.c) ->
 * keep-alive or close), per-request timeouts and route matching. Every lws callback reason
 * goes to one small function; everything runs on the thread inside http_server_run.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received (glibc's lacks it) */

#include "http_int.h"

/* lws re-arms its own body-idle timeout (the context's timeout_secs) after every body chunk
 * and closes without an answer when it expires; ours (body_sul) answers 408, so lws's is set
 * this much longer. */
#define HTTP__LWS_SLACK_S 5

static const char *const method_names[] = {
    [LWSHUMETH_GET] = "GET",         [LWSHUMETH_POST] = "POST",   [LWSHUMETH_OPTIONS] = "OPTIONS",
    [LWSHUMETH_PUT] = "PUT",         [LWSHUMETH_PATCH] = "PATCH", [LWSHUMETH_DELETE] = "DELETE",
    [LWSHUMETH_CONNECT] = "CONNECT", [LWSHUMETH_HEAD] = "HEAD",
};

void http__set_err(struct http_server *srv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(srv->errmsg, sizeof(srv->errmsg), fmt, ap);
    va_end(ap);
}

const char *http_strerror(int code)
{
    switch (code) {
    case HTTP_OK: return "success";
    case HTTP_ERR_NOMEM: return "out of memory";
    case HTTP_ERR_ARG: return "invalid argument";
    case HTTP_ERR_LISTEN: return "cannot listen";
    case HTTP_ERR_STATE: return "invalid state";
    case HTTP_ERR_SERVICE: return "service loop failed";
    case HTTP_ERR_CLOSED: return "client gone or stream closed";
    case HTTP_ERR_FULL: return "stream queue full: stream cut";
    default: return "unknown error";
    }
}

const char *http_server_errmsg(const struct http_server *srv)
{
    return srv ? srv->errmsg : "no server";
}

/* ---------------------------------------------------------------- lifecycle */

struct http_server *http_server_new(const struct http_config *cfg)
{
    struct http_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NULL;
    if (cfg)
        srv->cfg = *cfg;
    srv->host = strdup(srv->cfg.host ? srv->cfg.host : "127.0.0.1");
    srv->scratch = malloc(LWS_PRE + HTTP__CHUNK);
    if (!srv->host || !srv->scratch)
        goto err;
    srv->cfg.host = srv->host;
    if (!srv->cfg.max_body)
        srv->cfg.max_body = 1024 * 1024;
    if (!srv->cfg.max_body_inflight)
        srv->cfg.max_body_inflight = (size_t)128 * 1024 * 1024;
    if (!srv->cfg.max_connections)
        srv->cfg.max_connections = 256;
    if (!srv->cfg.request_timeout_ms)
        srv->cfg.request_timeout_ms = 30000;
    if (!srv->cfg.header_timeout_s)
        srv->cfg.header_timeout_s = 10;
    if (!srv->cfg.body_timeout_s)
        srv->cfg.body_timeout_s = 30;
    if (!srv->cfg.keepalive_s)
        srv->cfg.keepalive_s = 5;
    if (!srv->cfg.stop_grace_ms)
        srv->cfg.stop_grace_ms = 2000;
    if (!srv->cfg.stream_queue_max)
        srv->cfg.stream_queue_max = 1024 * 1024;
    atomic_init(&srv->stop_requested, false);
    if (pthread_mutex_init(&srv->task_lock, NULL) != 0)
        goto err;
    return srv;
err:
    free(srv->host);
    free(srv->scratch);
    free(srv);
    return NULL;
}

static void route_cleanup(struct http_route *r)
{
    for (size_t i = 0; i < r->nsegs; i++)
        free(r->segs[i]);
    free(r->segs);
    free(r->capture);
    free(r->pattern);
    http__upload_route_free(r->upload);
}

void http_server_free(struct http_server *srv)
{
    if (!srv)
        return;
    if (srv->ctx) {
        /* Timers live in the context: cancel ours before it goes. Closing the connections
         * (below) detaches or frees every request still attached to one, without running
         * close callbacks (their owners are being torn down too). */
        srv->freeing = true;
        for (struct http_request *r = srv->live; r; r = r->next)
            lws_sul_cancel(&r->later_sul);
        lws_sul_cancel(&srv->grace_sul);
        lws_context_destroy(srv->ctx);
        srv->ctx = NULL;
    }
    while (srv->live)
        http__request_free(srv->live);
    for (size_t i = 0; i < srv->nroutes; i++)
        route_cleanup(&srv->routes[i]);
    free(srv->routes);
    struct http_task *t = srv->tasks;
    while (t) {
        struct http_task *n = t->next;
        free(t);
        t = n;
    }
    pthread_mutex_destroy(&srv->task_lock);
    free(srv->scratch);
    free(srv->host);
    free(srv);
}

int http_server_port(const struct http_server *srv)
{
    return srv ? srv->port : 0;
}

uint64_t http_server_requests(const struct http_server *srv)
{
    return srv ? atomic_load(&srv->stats.requests) : 0;
}

void http_server_stats(const struct http_server *srv, struct http_stats *out)
{
    *out = (struct http_stats){0};
    if (!srv)
        return;
    const struct http_counters *c = &srv->stats;
    *out = (struct http_stats){
        .requests = atomic_load(&c->requests),
        .connections = atomic_load(&c->connections),
        .connections_refused = atomic_load(&c->connections_refused),
        .unauthorized = atomic_load(&c->unauthorized),
        .busy = atomic_load(&c->busy),
        .body_bytes_admitted = atomic_load(&c->body_bytes_admitted),
        .body_bytes_received = atomic_load(&c->body_bytes_received),
        .streams = atomic_load(&c->streams),
        .upload_bytes = atomic_load(&c->upload_bytes),
        .pipelined_refused = atomic_load(&c->pipelined_refused),
    };
}

void http_server_set_filter(struct http_server *srv, http_filter_fn fn, void *user)
{
    srv->filter = fn;
    srv->filter_user = user;
}

void http_server_set_authorizer(struct http_server *srv, http_authorizer_fn fn, void *user)
{
    srv->authorizer = fn;
    srv->authorizer_user = user;
}

/* ---------------------------------------------------------------- routes */

static int route_add(struct http_server *srv, const char *method, const char *pattern, struct http_route **out)
{
    if (!srv || !method || !pattern || pattern[0] != '/' || strlen(method) >= 8) {
        if (srv)
            http__set_err(srv, "route: bad method or pattern (must start with '/')");
        return HTTP_ERR_ARG;
    }
    bool known = false;
    for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
        if (method_names[i] && !strcmp(method_names[i], method))
            known = true;
    if (!known) {
        http__set_err(srv, "route %s %s: unknown method", method, pattern);
        return HTTP_ERR_ARG;
    }
    if (srv->nroutes == srv->routes_cap) {
        size_t cap = srv->routes_cap ? srv->routes_cap * 2 : 16;
        struct http_route *n = realloc(srv->routes, cap * sizeof(*n));
        if (!n)
            return HTTP_ERR_NOMEM;
        srv->routes = n;
        srv->routes_cap = cap;
    }
    struct http_route r = {0};
    snprintf(r.method, sizeof(r.method), "%s", method);
    r.pattern = strdup(pattern);
    if (!r.pattern)
        goto nomem;
    size_t cap = 1;
    for (const char *c = pattern; *c; c++)
        cap += *c == '/';
    r.segs = calloc(cap, sizeof(*r.segs));
    r.capture = calloc(cap, sizeof(*r.capture));
    if (!r.segs || !r.capture)
        goto nomem;
    const char *p = pattern + 1;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        bool capt = n >= 2 && p[0] == '{' && p[n - 1] == '}';
        if (!capt && (memchr(p, '{', n) || memchr(p, '}', n))) {
            route_cleanup(&r);
            http__set_err(srv, "route %s: a capture must be a whole segment", pattern);
            return HTTP_ERR_ARG;
        }
        r.segs[r.nsegs] = capt ? strndup(p + 1, n - 2) : strndup(p, n);
        if (!r.segs[r.nsegs])
            goto nomem;
        r.capture[r.nsegs++] = capt;
        if (!e)
            break;
        p = e + 1;
        if (!*p) { /* trailing slash: an empty last segment */
            r.segs[r.nsegs] = strdup("");
            if (!r.segs[r.nsegs])
                goto nomem;
            r.capture[r.nsegs++] = false;
        }
    }
    if (r.nsegs == 0) { /* "/" itself: one empty segment, as split_path makes of it */
        r.segs[0] = strdup("");
        if (!r.segs[0])
            goto nomem;
        r.capture[r.nsegs++] = false;
    }
    srv->routes[srv->nroutes] = r;
    *out = &srv->routes[srv->nroutes++];
    return 0;
nomem:
    route_cleanup(&r);
    http__set_err(srv, "route %s: out of memory", pattern);
    return HTTP_ERR_NOMEM;
}

int http_server_route(struct http_server *srv, const char *method, const char *pattern, http_handler_fn fn, void *user,
                      const struct http_route_opts *opts)
{
    if (!fn)
        return HTTP_ERR_ARG;
    struct http_route *r;
    int rc = route_add(srv, method, pattern, &r);
    if (rc)
        return rc;
    r->fn = fn;
    r->user = user;
    r->max_body = opts && opts->max_body ? opts->max_body : 0;
    r->no_auth = opts && opts->no_auth;
    if (opts && opts->upload) {
        rc = http__upload_route_new(srv, pattern, opts->upload, &r->upload);
        if (rc) {
            route_cleanup(r);
            srv->nroutes--;
            return rc;
        }
        /* The form's own bytes (part headers, boundaries, text fields) on top of the file. */
        if (!r->max_body)
            r->max_body = r->upload->max_file + 64 * 1024 + r->upload->max_fields;
    }
    return 0;
}

static void asset_handler(struct http_request *req, void *user)
{
    const struct http_route *r = user;
    if (http_request_add_header(req, "Cache-Control", "public, max-age=3600") != 0) {
        http_request_respond_error(req, 500, "out of memory");
        return;
    }
    http_request_respond_static(req, 200, r->asset_type, r->asset_data, r->asset_len);
}

int http_server_asset(struct http_server *srv, const char *path, const char *content_type, const void *data, size_t len)
{
    if (!data && len)
        return HTTP_ERR_ARG;
    struct http_route *r;
    int rc = route_add(srv, "GET", path, &r);
    if (rc)
        return rc;
    r->fn = asset_handler;
    r->no_auth = true;
    r->asset_data = data;
    r->asset_len = len;
    r->asset_type = content_type ? content_type : http_content_type(path);
    /* The route array may move when it grows: the handler finds its route via req->route,
     * so `user` is refreshed at dispatch (see route_call). */
    r->user = NULL;
    return 0;
}

/* Splits `path` into segments in `buf` (modified copy); returns the count or -1 if > max. */
static int split_path(char *buf, char **segs, int max)
{
    int n = 0;
    char *p = buf + (buf[0] == '/');
    for (;;) {
        if (n == max)
            return -1;
        segs[n++] = p;
        char *e = strchr(p, '/');
        if (!e)
            break;
        *e = '\0';
        p = e + 1;
    }
    return n;
}

/* A capture is one whole non-empty segment. lws already removes "." and ".." segments
 * (also when percent-encoded) before we see the path; refusing them here as well keeps the
 * contract of http_request_param independent of that. */
static bool capture_ok(const char *seg)
{
    return seg[0] != '\0' && strcmp(seg, ".") != 0 && strcmp(seg, "..") != 0;
}

static int route_match(struct http_request *req)
{
    struct http_server *srv = req->srv;
    char *buf = strdup(req->path);
    if (!buf)
        return HTTP_ERR_NOMEM;
    char *segs[64];
    int n = split_path(buf, segs, 64);
    for (size_t i = 0; n > 0 && i < srv->nroutes; i++) {
        const struct http_route *r = &srv->routes[i];
        if (r->nsegs != (size_t)n)
            continue;
        bool ok = true;
        for (int s = 0; s < n && ok; s++)
            ok = r->capture[s] ? capture_ok(segs[s]) : !strcmp(r->segs[s], segs[s]);
        if (!ok)
            continue;
        if (strcmp(r->method, req->method) != 0) {
            for (size_t m = 0; m < sizeof(method_names) / sizeof(method_names[0]); m++)
                if (method_names[m] && !strcmp(method_names[m], r->method))
                    req->allow_mask |= 1 << m;
            continue;
        }
        for (int s = 0; s < n; s++)
            if (r->capture[s] &&
                http__kv_add(&req->params, r->segs[s], strlen(r->segs[s]), segs[s], strlen(segs[s])) != 0) {
                free(buf);
                return HTTP_ERR_NOMEM;
            }
        req->route = r;
        break;
    }
    free(buf);
    return 0;
}

static void route_call(struct http_request *req)
{
    const struct http_route *r = req->route;
    if (r) {
        r->fn(req, r->fn == asset_handler ? (void *)r : r->user);
        return;
    }
    if (req->allow_mask) {
        struct buf allow;
        buf_init(&allow, 0);
        int rc = 0;
        for (size_t m = 0; m < sizeof(method_names) / sizeof(method_names[0]) && rc == 0; m++)
            if (req->allow_mask & (1 << m))
                rc = buf_printf(&allow, "%s%s", allow.len ? ", " : "", method_names[m]);
        if (rc != 0 || http_request_add_header(req, "Allow", buf_str(&allow)) != 0) {
            buf_cleanup(&allow);
            http_request_respond_error(req, 500, "out of memory");
            return;
        }
        buf_cleanup(&allow);
        http_request_respond_error(req, 405, "method %s not allowed on %s", req->method, req->path);
        return;
    }
    http_request_respond_error(req, 404, "not found: %s", req->path);
}

void http_request_resume(struct http_request *req)
{
    route_call(req);
}

/* ---------------------------------------------------------------- connection state */

static void conn_timeout_cb(lws_sorted_usec_list_t *sul)
{
    struct http_conn *conn = lws_container_of(sul, struct http_conn, timeout_sul);
    struct http_request *req = conn->req;
    if (!req || conn->resp)
        return;
    /* The handler keeps ownership of req (it will answer into the void and free it). */
    req->conn = NULL;
    conn->req = NULL;
    char msg[96];
    snprintf(msg, sizeof(msg), "request not answered within %u ms", conn->srv->cfg.request_timeout_ms);
    struct http_response *resp = http__response_error(503, msg);
    if (!resp) {
        lws_set_timeout(conn->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    http__conn_set_response(conn, resp);
}

/* ---------------------------------------------------------------- waiting clients
 *
 * Once a request is dispatched lws 4.1 keeps its connection in "doing transaction" and reads
 * nothing more from it until the response is complete; but it leaves POLLIN on, so a client
 * that closes its end meanwhile (while a handler holds its request, or while a stream has
 * nothing to send) makes the service loop spin at full CPU, and the close is noticed only
 * when a write fails. So while such a connection has nothing to write its rx is paused
 * (lws_rx_flow_control: POLLIN off; a reset still shows as POLLHUP, which lws handles), and a
 * timer peeks at the socket every HTTP__PROBE_MS: end of stream or an error means the client
 * is gone and the connection is closed (its request then reads as gone, a stream's close
 * callback runs). Rx is resumed before anything is written: lws does not service POLLOUT on
 * an rx-paused connection. */

void http__conn_writable(struct http_conn *conn)
{
    if (conn->rx_paused) {
        conn->rx_paused = false;
        lws_rx_flow_control(conn->wsi, 1);
    }
    lws_callback_on_writable(conn->wsi);
}

void http__conn_pause(struct http_conn *conn)
{
    /* lws flushes what it buffered of a partial write on POLLOUT: not while paused. */
    if (lws_partial_buffered(conn->wsi))
        return;
    if (!conn->rx_paused) {
        conn->rx_paused = true;
        lws_rx_flow_control(conn->wsi, 0);
    }
}

static void probe_cb(lws_sorted_usec_list_t *sul)
{
    struct http_conn *conn = lws_container_of(sul, struct http_conn, probe_sul);
    bool stream = conn->resp && conn->resp->stream;
    if (!stream && (!conn->req || conn->resp))
        return; /* answered: nothing to watch */
    char c;
    ssize_t n = recv(lws_get_socket_fd(conn->wsi), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    bool alive = n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
    /* A stream's client has nothing to say: bytes from it are not a next request we could
     * ever read (and would spin the loop while the stream writes). */
    if (!alive || (n > 0 && stream)) {
        lws_set_timeout(conn->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    lws_sul_schedule(conn->srv->ctx, 0, &conn->probe_sul, probe_cb, (lws_usec_t)HTTP__PROBE_MS * LWS_US_PER_MS);
}

void http__conn_probe_start(struct http_conn *conn)
{
    lws_sul_schedule(conn->srv->ctx, 0, &conn->probe_sul, probe_cb, (lws_usec_t)HTTP__PROBE_MS * LWS_US_PER_MS);
}

/* ---------------------------------------------------------------- connection state */

/* Ends the connection's current transaction state; idempotent. */
static void conn_reset(struct http_conn *conn)
{
    if (!conn->srv)
        return;
    lws_sul_cancel(&conn->timeout_sul);
    lws_sul_cancel(&conn->body_sul);
    lws_sul_cancel(&conn->probe_sul);
    /* A transaction ends with its response written, so with rx resumed (or the connection
     * closing): nothing to undo in lws. */
    conn->rx_paused = false;
    conn->send_continue = false;
    conn->close_after = false;
    if (conn->resp && conn->resp->stream)
        atomic_fetch_sub(&conn->srv->stats.streams, 1);
    if (conn->req) {
        struct http_request *req = conn->req;
        conn->req = NULL;
        req->conn = NULL;
        if (!req->dispatched)
            http__request_free(req);
        else if (req->streaming)
            http__stream_conn_gone(req); /* may free req */
    }
    http__response_free(conn->resp);
    conn->resp = NULL;
    if (conn->active) {
        conn->active = false;
        conn->srv->inflight--;
    }
}

struct lws *http__conn_wsi(struct http_conn *conn)
{
    return conn->wsi;
}

void http__conn_set_response(struct http_conn *conn, struct http_response *resp)
{
    lws_sul_cancel(&conn->timeout_sul);
    lws_sul_cancel(&conn->body_sul);
    lws_sul_cancel(&conn->probe_sul);
    conn->send_continue = false; /* the final answer replaces it */
    conn->req = NULL;
    if (conn->close_after)
        resp->close = true;
    http__response_free(conn->resp);
    conn->resp = resp;
    http__conn_writable(conn);
}

/* Answers a request the server still owns (before dispatch) with {"error": msg} and an
 * optional extra header (hname NULL = none), and closes the connection once the answer is
 * flushed. Body bytes lws reads meanwhile (a few KiB: one read per service round) are
 * dropped by on_body; the rest is never read. (lws_rx_flow_control cannot stop the reading:
 * in lws 4.1 a flow-controlled h1 connection is not serviced for POLLOUT either.) */
static void conn_refuse_with(struct http_conn *conn, int status, const char *msg, const char *hname, const char *hvalue)
{
    if (conn->req) {
        struct http_request *req = conn->req;
        conn->req = NULL;
        http__request_free(req);
    }
    struct http_response *resp = http__response_error(status, msg);
    if (!resp || (hname && http__kv_add(&resp->headers, hname, strlen(hname), hvalue, strlen(hvalue)) != 0)) {
        http__response_free(resp);
        lws_set_timeout(conn->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    resp->close = true;
    http__conn_set_response(conn, resp);
}

static void conn_refuse(struct http_conn *conn, int status, const char *msg)
{
    conn_refuse_with(conn, status, msg, NULL, NULL);
}

static void dispatch(struct http_conn *conn)
{
    struct http_request *req = conn->req;
    struct http_server *srv = conn->srv;
    req->dispatched = true;
    atomic_fetch_add(&srv->stats.requests, 1);
    lws_sul_cancel(&conn->body_sul);
    conn->send_continue = false;
    lws_set_timeout(conn->wsi, NO_PENDING_TIMEOUT, 0);
    lws_sul_schedule(srv->ctx, 0, &conn->timeout_sul, conn_timeout_cb,
                     (lws_usec_t)srv->cfg.request_timeout_ms * LWS_US_PER_MS);
    if (!srv->filter || srv->filter(req, srv->filter_user) != HTTP_FILTER_HANDLED)
        route_call(req);
    /* Still held by its handler (answered: conn->req is NULL; a stream has conn->resp and
     * watches itself): wait without reading, watching the client. */
    if (conn->req && !conn->resp) {
        http__conn_pause(conn);
        http__conn_probe_start(conn);
    }
}

/* Copies `len` bytes of header value into `out`, without the spaces and tabs around it. */
static int append_trimmed(struct buf *out, const char *v, size_t len)
{
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    return buf_append(out, v, len);
}

/* Value of standard header `tok` into `out`: its occurrences (lws fragments), each trimmed,
 * joined by `sep`. Returns 0, or < 0 when out of memory. */
static int header_value(struct lws *wsi, enum lws_token_indexes tok, const char *sep, struct buf *out)
{
    buf_init(out, 2 * HTTP__MAX_HEADER_DATA); /* room for the separators too */
    for (int i = 0;; i++) {
        int flen = lws_hdr_fragment_length(wsi, tok, i);
        struct buf frag;
        buf_init(&frag, HTTP__MAX_HEADER_DATA);
        if (flen < 0 || buf_reserve(&frag, (size_t)flen) != 0)
            return HTTP_ERR_NOMEM;
        int got = lws_hdr_copy_fragment(wsi, frag.data, flen + 1, tok, i);
        if (got < 0) {
            buf_cleanup(&frag);
            return 0; /* no more occurrences */
        }
        buf_commit(&frag, (size_t)got);
        int rc = 0;
        if (i > 0)
            rc = buf_append_str(out, sep);
        if (rc == 0)
            rc = append_trimmed(out, frag.data, frag.len);
        buf_cleanup(&frag);
        if (rc != 0)
            return HTTP_ERR_NOMEM;
    }
}

static int snapshot_headers(struct http_request *req, struct lws *wsi)
{
    for (int tok = 0; tok < WSI_TOKEN_COUNT; tok++) {
        const unsigned char *name = lws_token_to_string((enum lws_token_indexes)tok);
        if (!name)
            continue;
        size_t nlen = strlen((const char *)name);
        if (nlen < 2 || name[nlen - 1] != ':' || name[0] == ':')
            continue; /* request-line tokens ("get ") and h2 pseudo headers */
        if (lws_hdr_total_length(wsi, (enum lws_token_indexes)tok) <= 0)
            continue;
        /* Repeated headers are one list (RFC 7230 3.2.2), except Cookie, whose pairs are
         * separated by "; " (lws would glue them together without a separator). */
        struct buf v;
        int rc = header_value(wsi, (enum lws_token_indexes)tok, tok == WSI_TOKEN_HTTP_COOKIE ? "; " : ",", &v);
        if (rc == 0)
            rc = http__kv_add(&req->headers, (const char *)name, nlen - 1, buf_str(&v), v.len);
        buf_cleanup(&v);
        if (rc)
            return rc;
    }
    return 0;
}

/* Query arguments, already percent-decoded by lws, one lws fragment each (any length). */
static int snapshot_query(struct http_request *req, struct lws *wsi)
{
    for (int i = 0;; i++) {
        int flen = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        struct buf b;
        buf_init(&b, HTTP__MAX_HEADER_DATA);
        if (flen < 0 || buf_reserve(&b, (size_t)flen) != 0)
            return HTTP_ERR_NOMEM;
        int n = lws_hdr_copy_fragment(wsi, b.data, flen + 1, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0) {
            buf_cleanup(&b);
            return 0;
        }
        buf_commit(&b, (size_t)n);
        const char *eq = memchr(b.data, '=', b.len);
        int rc =
            eq ? http__kv_add(&req->query, b.data, (size_t)(eq - b.data), eq + 1, b.len - (size_t)(eq - b.data) - 1)
               : http__kv_add(&req->query, b.data, b.len, "", 0);
        buf_cleanup(&b);
        if (rc)
            return rc;
    }
}

/* Asks the authorizer (if any, and unless the route is exempt). Returns true to go on;
 * false when the request was refused with 401. */
static bool authorize(struct http_conn *conn)
{
    struct http_server *srv = conn->srv;
    struct http_request *req = conn->req;
    if (!srv->authorizer || (req->route && req->route->no_auth))
        return true;
    if (srv->authorizer(req, srv->authorizer_user) == HTTP_AUTH_ALLOW)
        return true;
    atomic_fetch_add(&srv->stats.unauthorized, 1);
    bool presented = http__kv_get(&req->headers, "authorization", true) != NULL;
    conn_refuse_with(conn, 401, presented ? "invalid credentials" : "authorization required", "WWW-Authenticate",
                     presented ? "Bearer error=\"invalid_token\"" : "Bearer");
    return false;
}

/* An upload route's request: a multipart/form-data body of clen bytes (checked against the
 * route's cap already) that upload.c streams to a temp file. It takes none of the in-memory
 * body budget: the body is never held in memory. Returns 1 (body expected) or -1 (refused). */
static int admit_upload(struct http_conn *conn, size_t clen)
{
    char msg[200];
    int status = http__upload_begin(conn->req, conn->wsi, clen, msg, sizeof(msg));
    if (status == 0 && clen == 0) {
        status = 400;
        snprintf(msg, sizeof(msg), "empty body: expected a multipart/form-data form");
    }
    if (status) {
        conn_refuse(conn, status, msg);
        return -1;
    }
    return 1;
}

/* Decides on the headers whether a body may follow and reserves it in the server's body
 * budget. Returns 1 when a body of req->body_admitted bytes is expected, 0 when there is no
 * body, -1 when the request was refused (answered, connection closing). */
static int admit_body(struct http_conn *conn)
{
    struct http_server *srv = conn->srv;
    struct http_request *req = conn->req;
    const char *cl = http__kv_get(&req->headers, "content-length", true);
    const char *te = http__kv_get(&req->headers, "transfer-encoding", true);
    if (te) {
        /* lws 4.1 does not decode chunked request bodies; both headers at once is the
         * classic request-smuggling ambiguity. */
        if (cl)
            conn_refuse(conn, 400, "both Content-Length and Transfer-Encoding");
        else
            conn_refuse(conn, 411, "Transfer-Encoding is not supported: send a Content-Length");
        return -1;
    }
    bool upload = req->route && req->route->upload;
    if (!cl && !upload)
        return 0;
    /* Digits only: strtoull alone would take " 5", "+5" and "-1" (as 2^64 - 1). A repeated
     * Content-Length reads "5,5" and is refused too. */
    if (cl && (!*cl || strspn(cl, "0123456789") != strlen(cl))) {
        conn_refuse(conn, 400, "bad Content-Length");
        return -1;
    }
    errno = 0;
    unsigned long long clen = cl ? strtoull(cl, NULL, 10) : 0;
    if (errno == ERANGE)
        clen = ULLONG_MAX;
    if (clen == 0 && !upload)
        return 0;
    char msg[200];
    if (clen > req->body_max) {
        snprintf(msg, sizeof(msg), "request body of %llu bytes exceeds the limit of %zu", clen, req->body_max);
        conn_refuse(conn, 413, msg);
        return -1;
    }
    if (upload)
        return admit_upload(conn, (size_t)clen);
    size_t budget = srv->cfg.max_body_inflight;
    if (clen > budget) {
        snprintf(msg, sizeof(msg), "request body of %llu bytes exceeds the server's in-flight body budget of %zu", clen,
                 budget);
        conn_refuse(conn, 413, msg);
        return -1;
    }
    size_t admitted = atomic_load(&srv->stats.body_bytes_admitted);
    if (clen > budget - admitted) {
        atomic_fetch_add(&srv->stats.busy, 1);
        snprintf(msg, sizeof(msg), "server busy: %zu of %zu in-flight body bytes in use, %llu more requested", admitted,
                 budget, clen);
        conn_refuse_with(conn, 503, msg, "Retry-After", "1");
        return -1;
    }
    atomic_fetch_add(&srv->stats.body_bytes_admitted, (size_t)clen);
    req->body_admitted = (size_t)clen;
    buf_init(&req->body, (size_t)clen);
    return 1;
}

static void body_timeout_cb(lws_sorted_usec_list_t *sul)
{
    struct http_conn *conn = lws_container_of(sul, struct http_conn, body_sul);
    if (!conn->req || conn->req->dispatched || conn->resp)
        return;
    char msg[96];
    snprintf(msg, sizeof(msg), "request body not received within %u s", conn->srv->cfg.body_timeout_s);
    conn_refuse(conn, 408, msg);
}

/* ---------------------------------------------------------------- pipelined bodies
 *
 * lws 4.1.6 misreads the body of a pipelined request: one whose bytes it read before the
 * previous response on the connection was complete, so that it parses it from its own
 * buffer list instead of from a fresh read. Once such a request's headers are parsed
 * (lws_http_action, right after LWS_CALLBACK_HTTP returns), lws feeds that list to the body
 * reader from its start — which still holds the request's own header bytes. So the handler
 * gets header bytes as its body; when fewer bytes than the buffered ones are expected, lws
 * then loops for ever inside one lws_service call, repeating LWS_CALLBACK_HTTP_BODY_COMPLETION
 * (the service thread spins and the whole server stops answering); when more are expected,
 * it frees the buffer and hands LWS_CALLBACK_HTTP_BODY the bytes that followed the headers
 * in it (a read of freed memory). Found by tests/fuzz/fuzz_http.
 *
 * The one clean way out is to refuse the request from LWS_CALLBACK_HTTP: lws then closes the
 * connection before it reads a body. So on_http recognises a pipelined request (below) and,
 * when lws will expect a body for it, closes the connection without an answer. Pipelined
 * requests without a body are served, in order. (Browsers, curl and the usual HTTP
 * libraries do not pipeline; a client that does retries unanswered requests on a new
 * connection.)
 *
 * Recognising it: lws reads a socket only when its buffer list for it is empty, and a client
 * that waits for each response sends the next request only after the previous one was
 * complete. So a keep-alive request whose headers were parsed without lws reading anything
 * from the socket since the previous transaction ended came from the buffer list. "The
 * previous transaction ended" is lws's lws_http_transaction_completed — ours, or its own
 * once it discarded an unread body — which unbinds the transaction's per-session data
 * (LWS_CALLBACK_HTTP_DROP_PROTOCOL with a conn we used); what lws has read from the socket is
 * what TCP received minus what still waits in the socket (TCP_INFO, FIONREAD). */

/* Per client connection: lws's opaque user data of its wsi, from adoption to WSI_DESTROY. */
struct http__client {
    struct http_server *srv;
    bool ended;            /* a transaction ended on it */
    long long read_at_end; /* bytes lws had read from the socket then; -1 unknown */
};

/* Linux TCP states in which the peer's FIN was received (include/net/tcp_states.h). */
enum { TCPS_TIME_WAIT = 6, TCPS_CLOSE_WAIT = 8, TCPS_LAST_ACK = 9, TCPS_CLOSING = 11 };

/* Bytes of data the application (lws) has read from TCP socket fd, or -1 when unknown. */
static long long socket_bytes_read(int fd)
{
    for (int tries = 0; tries < 4; tries++) {
        struct tcp_info a, b;
        socklen_t alen = sizeof(a), blen = sizeof(b);
        int inq;
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &a, &alen) != 0 || ioctl(fd, FIONREAD, &inq) != 0 ||
            getsockopt(fd, IPPROTO_TCP, TCP_INFO, &b, &blen) != 0 ||
            alen < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(a.tcpi_bytes_received))
            return -1;
        /* Only this thread reads the socket: with nothing received between the two looks,
         * the three numbers are consistent. */
        if (a.tcpi_bytes_received != b.tcpi_bytes_received || a.tcpi_state != b.tcpi_state)
            continue;
        /* TCP counts a received FIN as one byte; FIONREAD counts data only. */
        bool fin = a.tcpi_state == TCPS_CLOSE_WAIT || a.tcpi_state == TCPS_LAST_ACK || a.tcpi_state == TCPS_CLOSING ||
                   a.tcpi_state == TCPS_TIME_WAIT;
        return (long long)a.tcpi_bytes_received - (fin ? 1 : 0) - inq;
    }
    return -1;
}

/* A transaction ended on wsi (its per-session data is being unbound). */
static void client_transaction_ended(struct lws *wsi)
{
    struct http__client *c = lws_get_opaque_user_data(wsi);
    if (!c)
        return;
    c->ended = true;
    c->read_at_end = socket_bytes_read(lws_get_socket_fd(wsi));
}

/* True when the request whose headers lws just parsed was pipelined (see above). */
static bool client_pipelined(struct lws *wsi)
{
    const struct http__client *c = lws_get_opaque_user_data(wsi);
    if (!c || !c->ended || c->read_at_end < 0)
        return false;
    return socket_bytes_read(lws_get_socket_fd(wsi)) == c->read_at_end;
}

/* True unless lws 4.1.6 reads no body for this request: it expects one when there is a
 * Content-Length other than 0, and for POST, PUT and PATCH without one (100 MiB). Errs
 * towards true (any Content-Length but digits 0). */
static bool lws_expects_body(struct lws *wsi, int method)
{
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (n <= 0)
        return method == LWSHUMETH_POST || method == LWSHUMETH_PUT || method == LWSHUMETH_PATCH;
    char cl[32];
    if (n >= (int)sizeof(cl) || lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) != n)
        return true;
    return strspn(cl, "0") != (size_t)n;
}

static int on_http(struct http_conn *conn, struct lws *wsi, const char *uri, size_t ulen)
{
    struct http_server *srv = lws_context_user(lws_get_context(wsi));
    char *muri;
    int mlen;
    int m = lws_http_get_uri_and_method(wsi, &muri, &mlen);
    /* A pipelined request lws would read a body for: close now (see "pipelined bodies"). */
    if (client_pipelined(wsi) && lws_expects_body(wsi, m)) {
        atomic_fetch_add(&srv->stats.pipelined_refused, 1);
        return -1;
    }
    conn_reset(conn);
    conn->wsi = wsi;
    conn->srv = srv;
    conn->active = true;
    srv->inflight++;
    conn->req = http__request_new(srv, conn);
    if (!conn->req) {
        conn_refuse(conn, 500, "out of memory");
        return 0;
    }
    struct http_request *req = conn->req;
    if (srv->stopping) {
        conn_refuse(conn, 503, "server is stopping");
        return 0;
    }
    if (m < 0 || m >= (int)(sizeof(method_names) / sizeof(method_names[0])) || !method_names[m]) {
        conn_refuse(conn, 501, "method not implemented");
        return 0;
    }
    snprintf(req->method, sizeof(req->method), "%s", method_names[m]);
    req->path = strndup(uri, ulen);
    if (!req->path || snapshot_headers(req, wsi) || snapshot_query(req, wsi) || route_match(req)) {
        conn_refuse(conn, 500, "out of memory");
        return 0;
    }
    req->body_max = req->route && req->route->max_body ? req->route->max_body : srv->cfg.max_body;
    /* Everything that can refuse the request is decided here, on its headers, before lws
     * reads a byte of its body. */
    if (!authorize(conn))
        return 0;
    int body = admit_body(conn);
    if (body < 0)
        return 0;
    /* A POST, PUT or PATCH without Content-Length has no body for us, but lws 4.1.6 expects
     * one (of 100 MiB) and would take the connection's next request for it, never to answer
     * it: this one's answer closes the connection instead. */
    if (body == 0 && lws_expects_body(wsi, m))
        conn->close_after = true;
    if (body > 0) {
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int)(srv->cfg.body_timeout_s + HTTP__LWS_SLACK_S));
        lws_sul_schedule(srv->ctx, 0, &conn->body_sul, body_timeout_cb,
                         (lws_usec_t)srv->cfg.body_timeout_s * LWS_US_PER_SEC);
        const char *expect = http__kv_get(&req->headers, "expect", true);
        if (expect && !strcasecmp(expect, "100-continue")) {
            /* The client waits for this (curl: 1 s) before sending the body. */
            conn->send_continue = true;
            lws_callback_on_writable(wsi);
        }
        return 0; /* wait for LWS_CALLBACK_HTTP_BODY ... BODY_COMPLETION */
    }
    dispatch(conn);
    return 0;
}

static int on_body(struct http_conn *conn, const void *in, size_t len)
{
    struct http_request *req = conn->req;
    if (!req || req->dispatched)
        return 0; /* refused already: the rest is discarded with the connection */
    /* The client is sending: it stopped waiting for a "100 Continue". */
    conn->send_continue = false;
    if (req->upload) {
        char msg[200];
        int status = http__upload_feed(req, in, len, msg, sizeof(msg));
        if (status)
            conn_refuse(conn, status, msg);
        return 0;
    }
    /* The buffer's cap is the admitted Content-Length, which lws enforces as well. */
    int rc = buf_append(&req->body, in, len);
    if (rc == BUF_ETOOBIG) {
        conn_refuse(conn, 413, "request body longer than its Content-Length");
        return 0;
    }
    if (rc != 0) {
        conn_refuse(conn, 500, "out of memory");
        return 0;
    }
    atomic_fetch_add(&conn->srv->stats.body_bytes_received, len);
    return 0;
}

static int on_body_complete(struct http_conn *conn)
{
    if (!conn->req || conn->req->dispatched) {
        /* lws repeats this, once per service round, while bytes that followed the body wait
         * in its buffer (a next request, read once this response is complete). A stream's
         * client has nothing more to say ("waiting clients"): those bytes end the stream,
         * as when they come later — else lws would keep re-attaching a header table to the
         * stream's connection, which swallows its WRITEABLE callbacks for good. */
        if (conn->resp && conn->resp->stream)
            lws_set_timeout(conn->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return 0;
    }
    if (conn->req->upload) {
        char msg[200];
        int status = http__upload_finish(conn->req, msg, sizeof(msg));
        if (status) {
            conn_refuse(conn, status, msg);
            return 0;
        }
    }
    dispatch(conn);
    return 0;
}

int http__write_headers(struct http_conn *conn, struct http_response *resp)
{
    struct lws *wsi = conn->wsi;
    size_t need = LWS_PRE + 512 + (resp->content_type ? strlen(resp->content_type) : 0);
    for (size_t i = 0; i < resp->headers.n; i++)
        need += strlen(resp->headers.v[i].name) + strlen(resp->headers.v[i].value) + 8;
    unsigned char *buf = malloc(need);
    if (!buf)
        return -1;
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + need - 1;
    int rc = -1;
    /* A stream has no length: lws then adds "connection: close" itself. */
    lws_filepos_t clen = resp->stream ? LWS_ILLEGAL_HTTP_CONTENT_LEN : (lws_filepos_t)resp->len;
    if (lws_add_http_common_headers(wsi, (unsigned)resp->status, resp->content_type, clen, &p, end))
        goto out;
    for (size_t i = 0; i < resp->headers.n; i++) {
        char name[128];
        size_t n = strlen(resp->headers.v[i].name);
        if (n + 2 > sizeof(name))
            continue;
        for (size_t k = 0; k < n; k++)
            name[k] = (char)((resp->headers.v[i].name[k] >= 'A' && resp->headers.v[i].name[k] <= 'Z')
                                 ? resp->headers.v[i].name[k] + 32
                                 : resp->headers.v[i].name[k]);
        name[n] = ':';
        name[n + 1] = '\0';
        const char *v = resp->headers.v[i].value;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)v, (int)strlen(v), &p,
                                        end))
            goto out;
    }
    if (resp->close &&
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5, &p, end))
        goto out;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        goto out;
    rc = 0;
out:
    free(buf);
    return rc;
}

/* Writes the interim "100 Continue" a client asked for with Expect: 100-continue. */
static int write_continue(struct http_conn *conn, struct lws *wsi)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    conn->send_continue = false;
    unsigned char *start = conn->srv->scratch + LWS_PRE;
    memcpy(start, cont, sizeof(cont) - 1);
    return lws_write(wsi, start, sizeof(cont) - 1, LWS_WRITE_HTTP_HEADERS) == (int)(sizeof(cont) - 1) ? 0 : -1;
}

static int on_writeable(struct http_conn *conn, struct lws *wsi)
{
    struct http_response *resp = conn->resp;
    if (!resp)
        return conn->send_continue ? write_continue(conn, wsi) : 0;
    if (resp->flushing)
        return lws_partial_buffered(wsi) ? (lws_callback_on_writable(wsi), 0) : -1;
    if (resp->stream)
        return http__stream_writeable(conn, wsi);
    if (!resp->headers_sent) {
        if (http__write_headers(conn, resp))
            return -1;
        resp->headers_sent = true;
        if (resp->len) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    } else {
        size_t n = resp->len - resp->off;
        if (n > HTTP__CHUNK)
            n = HTTP__CHUNK;
        unsigned char *start = conn->srv->scratch + LWS_PRE;
        memcpy(start, resp->body + resp->off, n);
        resp->off += n;
        bool last = resp->off == resp->len;
        if (lws_write(wsi, start, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
            return -1;
        if (!last) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    /* Response complete. */
    bool close = resp->close;
    if (close) {
        resp->flushing = true;
        lws_callback_on_writable(wsi);
        return 0;
    }
    conn_reset(conn);
    if (lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

static void run_tasks(struct http_server *srv)
{
    pthread_mutex_lock(&srv->task_lock);
    struct http_task *t = srv->tasks;
    srv->tasks = srv->tasks_tail = NULL;
    pthread_mutex_unlock(&srv->task_lock);
    while (t) {
        struct http_task *n = t->next;
        t->fn(srv, t->arg);
        free(t);
        t = n;
    }
}

/* A connection was accepted (its socket not yet adopted): closes it at once when the server
 * holds max_connections already. */
static int on_filter_connection(struct lws *wsi)
{
    struct http_server *srv = lws_context_user(lws_get_context(wsi));
    if (!srv || atomic_load(&srv->stats.connections) < srv->cfg.max_connections)
        return 0;
    atomic_fetch_add(&srv->stats.connections_refused, 1);
    return 1; /* lws closes the socket */
}

/* A client connection was adopted: count it, and mark its wsi so that its destruction (and
 * no other wsi's, like the listener's) is counted back. */
static int on_new_client(struct lws *wsi)
{
    struct http_server *srv = lws_context_user(lws_get_context(wsi));
    if (!srv)
        return 0;
    struct http__client *c = calloc(1, sizeof(*c));
    if (!c)
        return -1; /* lws closes it */
    c->srv = srv;
    lws_set_opaque_user_data(wsi, c);
    atomic_fetch_add(&srv->stats.connections, 1);
    /* Urgent (out-of-band) data read in line: otherwise FIONREAD counts only up to its mark
     * and socket_bytes_read would be wrong. (HTTP has no use for it; it is just bytes.) */
    int one = 1;
    (void)setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one));
    return 0;
}

static int on_wsi_destroy(struct lws *wsi)
{
    struct http_server *srv = lws_context_user(lws_get_context(wsi));
    struct http__client *c = lws_get_opaque_user_data(wsi);
    if (srv && c && c->srv == srv) {
        lws_set_opaque_user_data(wsi, NULL);
        free(c);
        atomic_fetch_sub(&srv->stats.connections, 1);
    }
    return 0;
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    /* `user` is the per-session data only for the HTTP reasons below; for the connection
     * life-cycle reasons it is something else (or NULL). */
    struct http_conn *conn = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: return on_filter_connection(wsi);
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED: return on_new_client(wsi);
    case LWS_CALLBACK_WSI_DESTROY: return on_wsi_destroy(wsi);
    case LWS_CALLBACK_HTTP: return on_http(conn, wsi, in, len);
    case LWS_CALLBACK_HTTP_BODY: return on_body(conn, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: return on_body_complete(conn);
    case LWS_CALLBACK_HTTP_WRITEABLE: return conn ? on_writeable(conn, wsi) : 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        /* lws_http_transaction_completed unbinds the conn of the transaction that ended
         * (conn->srv set by on_http); a fresh conn is unbound unused before each request. */
        if (conn && conn->srv)
            client_transaction_ended(wsi);
        if (conn)
            conn_reset(conn);
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (conn)
            conn_reset(conn);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        struct http_server *srv = lws_context_user(lws_get_context(wsi));
        if (srv)
            run_tasks(srv);
        return 0;
    }
    default: return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    {.name = "gsphttp", .callback = http_callback, .per_session_data_size = sizeof(struct http_conn)},
    {0},
};

int http_server_start(struct http_server *srv)
{
    if (!srv || srv->ctx)
        return HTTP_ERR_STATE;
    if (!srv->cfg.verbose)
        lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info = {
        .options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6,
        .user = srv,
        .protocols = protocols,
        .count_threads = 1,
        /* Both are context-wide in lws 4.1 (ignored when given to a vhost). */
        .max_http_header_data = HTTP__MAX_HEADER_DATA,
        .timeout_secs = srv->cfg.body_timeout_s + HTTP__LWS_SLACK_S,
    };
    srv->ctx = lws_create_context(&info);
    if (!srv->ctx) {
        http__set_err(srv, "lws_create_context failed");
        return HTTP_ERR_LISTEN;
    }
    struct lws_context_creation_info vinfo = {
        .port = srv->cfg.port,
        .iface = srv->host,
        .vhost_name = "gsphttp",
        .protocols = protocols,
        .keepalive_timeout = (int)srv->cfg.keepalive_s,
        /* lws holds a header table from the connection's first byte (or from accepting
         * it) and drops the connection when the headers are not complete within this. */
        .timeout_secs_ah_idle = srv->cfg.header_timeout_s,
        .options = LWS_SERVER_OPTION_DISABLE_IPV6,
    };
    srv->vh = lws_create_vhost(srv->ctx, &vinfo);
    if (!srv->vh) {
        http__set_err(srv, "cannot listen on %s:%d (port in use or bad address?)", srv->host, srv->cfg.port);
        lws_context_destroy(srv->ctx);
        srv->ctx = NULL;
        return HTTP_ERR_LISTEN;
    }
    srv->port = lws_get_vhost_listen_port(srv->vh);
    if (srv->port <= 0) {
        http__set_err(srv, "listening socket has no port");
        return HTTP_ERR_LISTEN;
    }
    return 0;
}

static void grace_cb(lws_sorted_usec_list_t *sul)
{
    struct http_server *srv = lws_container_of(sul, struct http_server, grace_sul);
    srv->grace_over = true;
}

int http_server_run(struct http_server *srv)
{
    if (!srv || !srv->ctx)
        return HTTP_ERR_STATE;
    for (;;) {
        run_tasks(srv);
        if (atomic_load(&srv->stop_requested) && !srv->stopping) {
            srv->stopping = true;
            lws_sul_schedule(srv->ctx, 0, &srv->grace_sul, grace_cb,
                             (lws_usec_t)srv->cfg.stop_grace_ms * LWS_US_PER_MS);
            /* Streams never finish by themselves: end them now, so that stopping waits for
             * their queues to flush (within the grace), not for the grace to run out. */
            http__streams_stop(srv);
        }
        if (srv->stopping && (srv->inflight == 0 || srv->grace_over))
            break;
        if (lws_service(srv->ctx, 0) < 0) {
            http__set_err(srv, "lws_service failed");
            return HTTP_ERR_SERVICE;
        }
    }
    lws_sul_cancel(&srv->grace_sul);
    return 0;
}

void http_server_stop(struct http_server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stop_requested, true);
    if (srv->ctx)
        lws_cancel_service(srv->ctx);
}

int http_server_post(struct http_server *srv, http_task_fn fn, void *arg)
{
    if (!srv || !fn)
        return HTTP_ERR_ARG;
    struct http_task *t = calloc(1, sizeof(*t));
    if (!t)
        return HTTP_ERR_NOMEM;
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&srv->task_lock);
    if (srv->tasks_tail)
        srv->tasks_tail->next = t;
    else
        srv->tasks = t;
    srv->tasks_tail = t;
    pthread_mutex_unlock(&srv->task_lock);
    if (srv->ctx)
        lws_cancel_service(srv->ctx);
    return 0;
}
