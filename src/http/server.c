/*
 * server.c — the lws side of the HTTP server: context and listening socket, the run loop
 * with graceful stop, cross-thread task posting, the per-connection state machine (receive
 * headers -> receive body with a cap -> dispatch -> write headers -> write body chunks ->
 * keep-alive or close), per-request timeouts and route matching. Every lws callback reason
 * goes to one small function; everything runs on the thread inside http_server_run.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

/* Per-connection state (lws per-session data, zeroed by lws). It only lives for one HTTP
 * transaction in lws 4.1 (it may be dropped and rebound between keep-alive requests), so
 * everything in it is reset when a transaction ends. */
struct http_conn {
    struct lws *wsi;
    struct http_server *srv;
    struct http_request *req;   /* being received, or handed to a handler */
    struct http_response *resp; /* being written */
    lws_sorted_usec_list_t timeout_sul;
    bool active; /* counted in srv->inflight */
};

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
    if (!srv->cfg.request_timeout_ms)
        srv->cfg.request_timeout_ms = 30000;
    if (!srv->cfg.body_timeout_s)
        srv->cfg.body_timeout_s = 30;
    if (!srv->cfg.keepalive_s)
        srv->cfg.keepalive_s = 5;
    if (!srv->cfg.stop_grace_ms)
        srv->cfg.stop_grace_ms = 2000;
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
}

void http_server_free(struct http_server *srv)
{
    if (!srv)
        return;
    if (srv->ctx) {
        /* Timers live in the context: cancel ours before it goes. Closing the connections
         * (below) detaches or frees every request still attached to one. */
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
    return srv ? srv->requests : 0;
}

void http_server_set_filter(struct http_server *srv, http_filter_fn fn, void *user)
{
    srv->filter = fn;
    srv->filter_user = user;
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
            ok = r->capture[s] ? segs[s][0] != '\0' : !strcmp(r->segs[s], segs[s]);
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
        char allow[64] = "";
        size_t off = 0;
        for (size_t m = 0; m < sizeof(method_names) / sizeof(method_names[0]); m++)
            if (req->allow_mask & (1 << m))
                off += (size_t)snprintf(allow + off, sizeof(allow) - off, "%s%s", off ? ", " : "", method_names[m]);
        if (http_request_add_header(req, "Allow", allow) != 0) {
            http_request_respond_error(req, 500, "out of memory");
            return;
        }
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

/* Ends the connection's current transaction state; idempotent. */
static void conn_reset(struct http_conn *conn)
{
    if (!conn->srv)
        return;
    lws_sul_cancel(&conn->timeout_sul);
    if (conn->req) {
        struct http_request *req = conn->req;
        conn->req = NULL;
        req->conn = NULL;
        if (!req->dispatched)
            http__request_free(req);
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
    conn->req = NULL;
    http__response_free(conn->resp);
    conn->resp = resp;
    lws_callback_on_writable(conn->wsi);
}

/* Answers a request the server still owns (before dispatch) and closes afterwards. */
static void conn_refuse(struct http_conn *conn, int status, const char *msg)
{
    if (conn->req) {
        struct http_request *req = conn->req;
        conn->req = NULL;
        http__request_free(req);
    }
    struct http_response *resp = http__response_error(status, msg);
    if (!resp) {
        lws_set_timeout(conn->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    resp->close = true;
    http__conn_set_response(conn, resp);
}

static void dispatch(struct http_conn *conn)
{
    struct http_request *req = conn->req;
    struct http_server *srv = conn->srv;
    req->dispatched = true;
    srv->requests++;
    lws_set_timeout(conn->wsi, NO_PENDING_TIMEOUT, 0);
    lws_sul_schedule(srv->ctx, 0, &conn->timeout_sul, conn_timeout_cb,
                     (lws_usec_t)srv->cfg.request_timeout_ms * LWS_US_PER_MS);
    if (srv->filter && srv->filter(req, srv->filter_user) == HTTP_FILTER_HANDLED)
        return;
    route_call(req);
}

static int snapshot_headers(struct http_request *req, struct lws *wsi)
{
    char small[512];
    for (int tok = 0; tok < WSI_TOKEN_COUNT; tok++) {
        const unsigned char *name = lws_token_to_string((enum lws_token_indexes)tok);
        if (!name)
            continue;
        size_t nlen = strlen((const char *)name);
        if (nlen < 2 || name[nlen - 1] != ':' || name[0] == ':')
            continue; /* request-line tokens ("get ") and h2 pseudo headers */
        int len = lws_hdr_total_length(wsi, (enum lws_token_indexes)tok);
        if (len <= 0)
            continue;
        char *buf = (size_t)len < sizeof(small) ? small : malloc((size_t)len + 1);
        if (!buf)
            return HTTP_ERR_NOMEM;
        int got = lws_hdr_copy(wsi, buf, len + 1, (enum lws_token_indexes)tok);
        int rc = got < 0 ? 0 : http__kv_add(&req->headers, (const char *)name, nlen - 1, buf, (size_t)got);
        if (buf != small)
            free(buf);
        if (rc)
            return rc;
    }
    return 0;
}

static int snapshot_query(struct http_request *req, struct lws *wsi)
{
    char buf[2048];
    for (int i = 0;; i++) {
        int n = lws_hdr_copy_fragment(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        const char *eq = memchr(buf, '=', (size_t)n);
        int rc = eq ? http__kv_add(&req->query, buf, (size_t)(eq - buf), eq + 1, (size_t)(n - (eq - buf) - 1))
                    : http__kv_add(&req->query, buf, (size_t)n, "", 0);
        if (rc)
            return rc;
    }
    return 0;
}

static int on_http(struct http_conn *conn, struct lws *wsi, const char *uri, size_t ulen)
{
    struct http_server *srv = lws_context_user(lws_get_context(wsi));
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
    char *muri;
    int mlen;
    int m = lws_http_get_uri_and_method(wsi, &muri, &mlen);
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

    const char *cl = http__kv_get(&req->headers, "content-length", true);
    const char *te = http__kv_get(&req->headers, "transfer-encoding", true);
    unsigned long long clen = 0;
    if (cl) {
        char *end;
        errno = 0;
        clen = strtoull(cl, &end, 10);
        if (errno || end == cl || *end) {
            conn_refuse(conn, 400, "bad Content-Length");
            return 0;
        }
    }
    if (clen > req->body_max) {
        char msg[96];
        snprintf(msg, sizeof(msg), "request body of %llu bytes exceeds the limit of %zu", clen, req->body_max);
        conn_refuse(conn, 413, msg);
        return 0;
    }
    if (clen > 0 || (te && strcasestr(te, "chunked"))) {
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int)srv->cfg.body_timeout_s);
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
    if (len > req->body_max - req->body_len) {
        char msg[96];
        snprintf(msg, sizeof(msg), "request body exceeds the limit of %zu bytes", req->body_max);
        conn_refuse(conn, 413, msg);
        return 0;
    }
    if (req->body_len + len + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 4096;
        while (cap < req->body_len + len + 1)
            cap *= 2;
        char *n = realloc(req->body, cap);
        if (!n) {
            conn_refuse(conn, 500, "out of memory");
            return 0;
        }
        req->body = n;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, in, len);
    req->body_len += len;
    req->body[req->body_len] = '\0';
    return 0;
}

static int on_body_complete(struct http_conn *conn)
{
    if (conn->req && !conn->req->dispatched)
        dispatch(conn);
    return 0;
}

static int write_headers(struct http_conn *conn, struct http_response *resp)
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
    if (lws_add_http_common_headers(wsi, (unsigned)resp->status, resp->content_type, (lws_filepos_t)resp->len, &p, end))
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

static int on_writeable(struct http_conn *conn, struct lws *wsi)
{
    struct http_response *resp = conn->resp;
    if (!resp)
        return 0;
    if (resp->flushing)
        return lws_partial_buffered(wsi) ? (lws_callback_on_writable(wsi), 0) : -1;
    if (!resp->headers_sent) {
        if (write_headers(conn, resp))
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

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct http_conn *conn = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: return on_http(conn, wsi, in, len);
    case LWS_CALLBACK_HTTP_BODY: return on_body(conn, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: return on_body_complete(conn);
    case LWS_CALLBACK_HTTP_WRITEABLE: return conn ? on_writeable(conn, wsi) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
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
        .timeout_secs = srv->cfg.body_timeout_s,
        .max_http_header_data = 8192,
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
