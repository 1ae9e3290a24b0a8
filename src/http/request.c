/*
 * request.c — the request object handed to handlers: lazily parsed cookies and form
 * fields, query/params/header lookups, bearer tokens and their constant-time check, response
 * headers and cookies, the respond family (each consumes the request) and delayed
 * continuations on lws_sul timers. Also the small name/value list and URL-decoding helpers
 * the server uses.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

/* ---------------------------------------------------------------- name/value lists */

int http__kv_add(struct http_kvlist *l, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct http_kv *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return HTTP_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    char *n = strndup(name, nlen);
    char *val = strndup(value, vlen);
    if (!n || !val) {
        free(n);
        free(val);
        return HTTP_ERR_NOMEM;
    }
    l->v[l->n++] = (struct http_kv){.name = n, .value = val};
    return 0;
}

const char *http__kv_get(const struct http_kvlist *l, const char *name, bool icase)
{
    for (size_t i = 0; i < l->n; i++)
        if (icase ? !strcasecmp(l->v[i].name, name) : !strcmp(l->v[i].name, name))
            return l->v[i].value;
    return NULL;
}

void http__kv_cleanup(struct http_kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].value);
    }
    free(l->v);
    *l = (struct http_kvlist){0};
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t http__urldecode(char *s, size_t len, bool plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            s[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            s[o++] = ' ';
        } else {
            s[o++] = s[i];
        }
    }
    if (o < len)
        s[o] = '\0';
    return o;
}

int http__parse_urlencoded(struct http_kvlist *l, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && s[e] != '&')
            e++;
        if (e > i) {
            char *part = strndup(s + i, e - i);
            if (!part)
                return HTTP_ERR_NOMEM;
            char *eq = strchr(part, '=');
            size_t nlen = eq ? (size_t)(eq - part) : strlen(part);
            char *val = eq ? eq + 1 : part + nlen;
            nlen = http__urldecode(part, nlen, true);
            size_t vlen = http__urldecode(val, strlen(val), true);
            int rc = http__kv_add(l, part, nlen, val, vlen);
            free(part);
            if (rc)
                return rc;
        }
        i = e + 1;
    }
    return 0;
}

const char *http_content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".js", "application/javascript; charset=utf-8"},
        {".mjs", "application/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
        {".csv", "text/csv; charset=utf-8"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".svg", "image/svg+xml"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".woff", "font/woff"},
        {".ttf", "font/ttf"},
    };
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (!strcasecmp(dot, types[i].ext))
                return types[i].type;
    return "application/octet-stream";
}

/* ---------------------------------------------------------------- lifecycle */

struct http_request *http__request_new(struct http_server *srv, struct http_conn *conn)
{
    struct http_request *req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    req->srv = srv;
    req->conn = conn;
    buf_init(&req->body, 0); /* re-initialised with the Content-Length as cap when a body is admitted */
    req->next = srv->live;
    if (srv->live)
        srv->live->prev = req;
    srv->live = req;
    return req;
}

void http__request_free(struct http_request *req)
{
    if (!req)
        return;
    struct http_server *srv = req->srv;
    if (srv->ctx)
        lws_sul_cancel(&req->later_sul);
    if (req->streaming)
        http__stream_detach(req);
    http__upload_free(req->upload); /* removes its temp file */
    if (req->prev)
        req->prev->next = req->next;
    else
        srv->live = req->next;
    if (req->next)
        req->next->prev = req->prev;
    if (req->body_admitted)
        atomic_fetch_sub_explicit(&srv->stats.body_bytes_admitted, req->body_admitted, memory_order_relaxed);
    free(req->path);
    buf_cleanup(&req->body);
    http__kv_cleanup(&req->query);
    http__kv_cleanup(&req->headers);
    http__kv_cleanup(&req->params);
    http__kv_cleanup(&req->cookies);
    http__kv_cleanup(&req->form);
    http__kv_cleanup(&req->resp_headers);
    free(req);
}

void http__response_free(struct http_response *resp)
{
    if (!resp)
        return;
    free(resp->content_type);
    free(resp->owned);
    buf_cleanup(&resp->queue);
    http__kv_cleanup(&resp->headers);
    free(resp);
}

/* ---------------------------------------------------------------- accessors */

const char *http_request_method(const struct http_request *req)
{
    return req->method;
}
const char *http_request_path(const struct http_request *req)
{
    return req->path;
}
struct http_server *http_request_server(const struct http_request *req)
{
    return req->srv;
}
bool http_request_gone(const struct http_request *req)
{
    return req->conn == NULL || req->stream_closed;
}

const char *http_request_param(const struct http_request *req, const char *name)
{
    return http__kv_get(&req->params, name, false);
}

const char *http_request_query(const struct http_request *req, const char *name)
{
    return http__kv_get(&req->query, name, false);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

const char *http_request_header(struct http_request *req, const char *name)
{
    const char *v = http__kv_get(&req->headers, name, true);
    if (v || !req->conn)
        return v;
    /* Not a header lws knows by token: ask for it as a custom header while we can. */
    struct lws *wsi = http__conn_wsi(req->conn);
    char lname[128];
    size_t n = strlen(name);
    if (n + 2 > sizeof(lname))
        return NULL;
    for (size_t i = 0; i < n; i++)
        lname[i] = (char)tolower((unsigned char)name[i]);
    lname[n] = ':';
    lname[n + 1] = '\0';
    int len = lws_hdr_custom_length(wsi, lname, (int)n + 1);
    if (len < 0)
        return NULL;
    char *buf = malloc((size_t)len + 1);
    if (!buf)
        return NULL;
    int got = lws_hdr_custom_copy(wsi, buf, len + 1, lname, (int)n + 1);
    const char *val = buf;
    while (got > 0 && is_ows(*val))
        val++, got--;
    while (got > 0 && is_ows(val[got - 1]))
        got--;
    int rc = got < 0 ? -1 : http__kv_add(&req->headers, name, n, val, (size_t)got);
    free(buf);
    return rc ? NULL : req->headers.v[req->headers.n - 1].value;
}

/* Parses "a=1; b=2" (RFC 6265 cookie-string, tolerating missing or extra spaces) into
 * req->cookies; names and values are trimmed, a pair without '=' is skipped. */
static void parse_cookies(struct http_request *req)
{
    const char *h = http__kv_get(&req->headers, "cookie", true);
    while (h && *h) {
        const char *e = strchr(h, ';');
        size_t len = e ? (size_t)(e - h) : strlen(h);
        const char *eq = memchr(h, '=', len);
        if (eq) {
            const char *n = h, *ne = eq, *v = eq + 1, *ve = h + len;
            while (n < ne && is_ows(*n))
                n++;
            while (ne > n && is_ows(ne[-1]))
                ne--;
            while (v < ve && is_ows(*v))
                v++;
            while (ve > v && is_ows(ve[-1]))
                ve--;
            if (ne > n && http__kv_add(&req->cookies, n, (size_t)(ne - n), v, (size_t)(ve - v)) != 0)
                return;
        }
        h += len + (e != NULL);
    }
}

const char *http_request_cookie(struct http_request *req, const char *name)
{
    if (!req->cookies_parsed) {
        req->cookies_parsed = true;
        parse_cookies(req);
    }
    return http__kv_get(&req->cookies, name, false);
}

/* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool is_b64token(const char *t)
{
    const char *p = t;
    while (isalnum((unsigned char)*p) || (*p && strchr("-._~+/", *p)))
        p++;
    if (p == t)
        return false;
    while (*p == '=')
        p++;
    return *p == '\0';
}

const char *http_request_bearer(struct http_request *req)
{
    const char *h = http_request_header(req, "authorization");
    if (!h || strncasecmp(h, "Bearer", 6) != 0 || !is_ows(h[6]))
        return NULL;
    h += 6;
    while (is_ows(*h))
        h++;
    return is_b64token(h) ? h : NULL;
}

bool http_bearer_matches(struct http_request *req, const char *token)
{
    const char *got = req ? http_request_bearer(req) : NULL;
    if (!got || !token || !*token)
        return false;
    size_t glen = strlen(got), tlen = strlen(token);
    /* Touch every presented byte whatever the outcome, so the time taken depends on the
     * presented token's length only, never on the position of the first difference. */
    unsigned diff = glen != tlen;
    for (size_t i = 0; i < glen; i++)
        diff |= (unsigned)((unsigned char)got[i] ^ (unsigned char)token[i % tlen]);
    return diff == 0;
}

enum http_auth_result http_authorizer_bearer(struct http_request *req, void *token)
{
    return http_bearer_matches(req, token) ? HTTP_AUTH_ALLOW : HTTP_AUTH_DENY;
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
    if (len)
        *len = req->body.len;
    return buf_str(&req->body);
}

cJSON *http_request_body_json(const struct http_request *req)
{
    if (!req->body.len)
        return NULL;
    return cJSON_ParseWithLength(buf_str(&req->body), req->body.len);
}

const char *http_request_form(struct http_request *req, const char *name)
{
    if (!req->form_parsed) {
        req->form_parsed = true;
        if (req->body.len && http__parse_urlencoded(&req->form, buf_str(&req->body), req->body.len) != 0)
            http__kv_cleanup(&req->form);
    }
    return http__kv_get(&req->form, name, false);
}

/* ---------------------------------------------------------------- answering */

/* RFC 7230 token (header names, cookie names). */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

int http_request_add_header(struct http_request *req, const char *name, const char *value)
{
    if (!name || !value || !is_token(name) || strlen(name) > HTTP__MAX_HEADER_NAME || strpbrk(value, "\r\n"))
        return HTTP_ERR_ARG;
    return http__kv_add(&req->resp_headers, name, strlen(name), value, strlen(value));
}

int http_request_set_cookie(struct http_request *req, const char *name, const char *value, int max_age_s)
{
    if (!name || !value || !is_token(name) || strpbrk(value, "; \t\r\n,\"\\"))
        return HTTP_ERR_ARG;
    struct buf b;
    buf_init(&b, 0);
    int rc = buf_printf(&b, "%s=%s; Path=/; HttpOnly; SameSite=Lax", name, value);
    if (rc == 0 && max_age_s >= 0)
        rc = buf_printf(&b, "; Max-Age=%d", max_age_s);
    if (rc != 0)
        return HTTP_ERR_NOMEM;
    rc = http_request_add_header(req, "Set-Cookie", buf_str(&b));
    buf_cleanup(&b);
    return rc;
}

int http__request_finish(struct http_request *req, struct http_response *resp)
{
    if (req->streaming) { /* its status and headers are out already: this ends it */
        http__response_free(resp);
        http_request_stream_end(req);
        return HTTP_ERR_STATE;
    }
    struct http_conn *conn = req->conn;
    if (conn) {
        resp->headers = req->resp_headers;
        req->resp_headers = (struct http_kvlist){0};
        req->conn = NULL;
        http__conn_set_response(conn, resp);
    } else {
        http__response_free(resp);
    }
    http__request_free(req);
    return 0;
}

static int respond(struct http_request *req, int status, const char *content_type, const void *body, size_t len,
                   bool copy)
{
    struct http_response *resp = calloc(1, sizeof(*resp));
    if (!resp)
        goto nomem;
    resp->status = status;
    resp->content_type = strdup(content_type ? content_type : "text/plain; charset=utf-8");
    if (!resp->content_type)
        goto nomem;
    if (copy && len) {
        resp->owned = malloc(len);
        if (!resp->owned)
            goto nomem;
        memcpy(resp->owned, body, len);
        resp->body = resp->owned;
    } else {
        resp->body = body;
    }
    resp->len = len;
    return http__request_finish(req, resp);
nomem:
    http__response_free(resp);
    /* Last resort: a body-less 500 we need no allocation to describe. */
    static const char msg[] = "{\"error\":\"out of memory\"}";
    struct http_response *fallback = calloc(1, sizeof(*fallback));
    if (fallback) {
        fallback->status = 500;
        fallback->body = (const unsigned char *)msg;
        fallback->len = sizeof(msg) - 1;
        http__request_finish(req, fallback);
    } else {
        http__request_free(req);
    }
    return HTTP_ERR_NOMEM;
}

int http_request_respond(struct http_request *req, int status, const char *content_type, const void *body, size_t len)
{
    return respond(req, status, content_type, body, len, true);
}

int http_request_respond_static(struct http_request *req, int status, const char *content_type, const void *body,
                                size_t len)
{
    return respond(req, status, content_type, body, len, false);
}

int http_request_respond_json(struct http_request *req, int status, cJSON *json)
{
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!text)
        return http_request_respond_error(req, 500, "cannot encode JSON response");
    struct http_response *resp = calloc(1, sizeof(*resp));
    char *ct = strdup("application/json");
    if (!resp || !ct) {
        free(resp);
        free(ct);
        free(text);
        return respond(req, 500, NULL, NULL, 0, false);
    }
    resp->status = status;
    resp->content_type = ct;
    resp->owned = (unsigned char *)text;
    resp->body = resp->owned;
    resp->len = strlen(text);
    return http__request_finish(req, resp);
}

struct http_response *http__response_error(int status, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "error", msg)) {
        cJSON_Delete(o);
        return NULL;
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    struct http_response *resp = calloc(1, sizeof(*resp));
    char *ct = strdup("application/json");
    if (!text || !resp || !ct) {
        free(text);
        free(resp);
        free(ct);
        return NULL;
    }
    resp->status = status;
    resp->content_type = ct;
    resp->owned = (unsigned char *)text;
    resp->body = resp->owned;
    resp->len = strlen(text);
    return resp;
}

int http_request_respond_error(struct http_request *req, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct http_response *resp = http__response_error(status, msg);
    if (!resp)
        return respond(req, 500, NULL, NULL, 0, false);
    return http__request_finish(req, resp);
}

int http_request_redirect(struct http_request *req, int status, const char *location)
{
    if (http_request_add_header(req, "Location", location) != 0)
        return http_request_respond_error(req, 500, "bad redirect location");
    return respond(req, status, "text/plain; charset=utf-8", NULL, 0, false);
}

static void later_cb(lws_sorted_usec_list_t *sul)
{
    struct http_request *req = lws_container_of(sul, struct http_request, later_sul);
    req->later_pending = false;
    req->later_fn(req, req->later_arg);
}

int http_request_after(struct http_request *req, unsigned delay_ms, http_later_fn fn, void *arg)
{
    if (!fn || !req->srv->ctx)
        return HTTP_ERR_ARG;
    req->later_fn = fn;
    req->later_arg = arg;
    req->later_pending = true;
    lws_sul_schedule(req->srv->ctx, 0, &req->later_sul, later_cb, (lws_usec_t)delay_ms * LWS_US_PER_MS);
    return 0;
}
