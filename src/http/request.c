/*
 * request.c — the request object handed to handlers: lazily parsed cookies and form
 * fields, query/params/header lookups, response headers and cookies, the respond family
 * (each consumes the request) and delayed continuations on lws_sul timers. Also the small
 * name/value list and URL-decoding helpers the server uses.
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
    if (req->prev)
        req->prev->next = req->next;
    else
        srv->live = req->next;
    if (req->next)
        req->next->prev = req->prev;
    free(req->path);
    free(req->body);
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
    return req->conn == NULL;
}

const char *http_request_param(const struct http_request *req, const char *name)
{
    return http__kv_get(&req->params, name, false);
}

const char *http_request_query(const struct http_request *req, const char *name)
{
    return http__kv_get(&req->query, name, false);
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
    int rc = got < 0 ? -1 : http__kv_add(&req->headers, name, n, buf, (size_t)got);
    free(buf);
    return rc ? NULL : req->headers.v[req->headers.n - 1].value;
}

const char *http_request_cookie(struct http_request *req, const char *name)
{
    if (!req->cookies_parsed) {
        req->cookies_parsed = true;
        const char *h = http__kv_get(&req->headers, "cookie", true);
        while (h && *h) {
            while (*h == ' ' || *h == ';')
                h++;
            const char *e = strchr(h, ';');
            size_t len = e ? (size_t)(e - h) : strlen(h);
            const char *eq = memchr(h, '=', len);
            if (eq && http__kv_add(&req->cookies, h, (size_t)(eq - h), eq + 1, len - (size_t)(eq - h) - 1) != 0)
                break;
            h += len;
        }
    }
    return http__kv_get(&req->cookies, name, false);
}

const char *http_request_bearer(struct http_request *req)
{
    const char *h = http_request_header(req, "authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body ? req->body : "";
}

cJSON *http_request_body_json(const struct http_request *req)
{
    if (!req->body_len)
        return NULL;
    return cJSON_ParseWithLength(req->body, req->body_len);
}

const char *http_request_form(struct http_request *req, const char *name)
{
    if (!req->form_parsed) {
        req->form_parsed = true;
        if (req->body_len && http__parse_urlencoded(&req->form, req->body, req->body_len) != 0)
            http__kv_cleanup(&req->form);
    }
    return http__kv_get(&req->form, name, false);
}

/* ---------------------------------------------------------------- answering */

int http_request_add_header(struct http_request *req, const char *name, const char *value)
{
    if (!name || !value || !*name || strpbrk(name, ": \r\n") || strpbrk(value, "\r\n"))
        return HTTP_ERR_ARG;
    return http__kv_add(&req->resp_headers, name, strlen(name), value, strlen(value));
}

int http_request_set_cookie(struct http_request *req, const char *name, const char *value, int max_age_s)
{
    if (!name || !value || strpbrk(name, "=; \r\n") || strpbrk(value, "; \r\n,"))
        return HTTP_ERR_ARG;
    char buf[512];
    int n;
    if (max_age_s >= 0)
        n = snprintf(buf, sizeof(buf), "%s=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%d", name, value, max_age_s);
    else
        n = snprintf(buf, sizeof(buf), "%s=%s; Path=/; HttpOnly; SameSite=Lax", name, value);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return HTTP_ERR_ARG;
    return http_request_add_header(req, "Set-Cookie", buf);
}

int http__request_finish(struct http_request *req, struct http_response *resp)
{
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
