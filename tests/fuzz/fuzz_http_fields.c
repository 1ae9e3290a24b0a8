/* fuzz_http_fields: the HTTP layer's own parsers of request fields, called directly (no socket,
 * so millions of runs a minute): cookies, bearer tokens and their constant-time comparison,
 * application/x-www-form-urlencoded bodies and %-decoding, JSON bodies, response header and
 * cookie validation, content types by extension, error responses. fuzz_http drives the same code
 * behind libwebsockets; this target reaches the corners faster.
 *
 * Input: up to five parts separated by NUL bytes — the Cookie header, the Authorization header,
 * the body, a name, a value. A request is built as the server builds one (its header list), with
 * no connection behind it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

static struct http_server *g_srv; /* never started: requests only need it for their list */

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_http_fields: broken promise: %s\n", what);
        abort();
    }
}

/* True when s is an RFC 6750 b64token, as http_request_bearer promises. */
static bool b64token(const char *s)
{
    const char *p = s;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           (*p && strchr("-._~+/", *p)))
        p++;
    if (p == s)
        return false;
    while (*p == '=')
        p++;
    return *p == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_srv == NULL)
        check((g_srv = http_server_new(NULL)) != NULL, "server");
    const char *part[5] = {"", "", "", "", ""};
    size_t plen[5] = {0};
    char *copy = malloc(size + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    size_t np = 0, start = 0;
    for (size_t i = 0; i <= size && np < 5; i++)
        if (i == size || copy[i] == '\0') {
            part[np] = copy + start;
            plen[np++] = i - start;
            start = i + 1;
        }
    struct http_request *req = http__request_new(g_srv, NULL);
    if (req == NULL) {
        free(copy);
        return 0;
    }
    if (http__kv_add(&req->headers, "cookie", 6, part[0], plen[0]) != 0 ||
        http__kv_add(&req->headers, "authorization", 13, part[1], plen[1]) != 0 ||
        buf_append(&req->body, part[2], plen[2]) != 0)
        goto out;

    // Cookies: every pair is found again by its (trimmed) name; a missing name is NULL.
    (void)http_request_cookie(req, part[3]);
    for (size_t i = 0; i < req->cookies.n; i++)
        check(http_request_cookie(req, req->cookies.v[i].name) != NULL, "a parsed cookie is found by name");
    check(http_request_header(req, "COOKIE") != NULL, "headers match in any case");

    // Bearer: NULL or a well-formed token; a token matches itself and nothing else.
    const char *tok = http_request_bearer(req);
    check(tok == NULL || b64token(tok), "a bearer token is a b64token");
    if (tok != NULL) {
        char *t = strdup(tok);
        check(t == NULL || http_bearer_matches(req, t), "a token matches itself");
        free(t);
    }
    if (tok == NULL || strcmp(tok, part[4]) != 0)
        check(!http_bearer_matches(req, part[4]), "only the same token matches");
    (void)http_authorizer_bearer(req, (void *)part[3]);

    // Bodies.
    (void)http_request_form(req, part[3]);
    for (size_t i = 0; i < req->form.n; i++)
        check(http_request_form(req, req->form.v[i].name) != NULL, "a form field is found by name");
    cJSON_Delete(http_request_body_json(req));
    size_t blen;
    check(http_request_body(req, &blen) != NULL && blen == plen[2], "the body as given");

    // Decoding never grows a string and keeps it terminated when it shrinks.
    char *dec = strndup(part[2], plen[2]);
    if (dec != NULL) {
        size_t n = http__urldecode(dec, plen[2], plen[2] & 1);
        check(n <= plen[2], "decoding never grows");
        free(dec);
    }
    struct http_kvlist l = {0};
    (void)!http__parse_urlencoded(&l, part[0], plen[0]);
    http__kv_cleanup(&l);

    // What a handler may set: refused unless valid, never a header split across lines.
    if (http_request_add_header(req, part[3], part[4]) == 0)
        check(!strpbrk(part[4], "\r\n") && *part[3], "a header added is one line");
    if (http_request_set_cookie(req, part[3], part[4], (int)plen[4] - 1) == 0)
        check(!strpbrk(part[4], "; \t\r\n,\"\\"), "a cookie set is cookie-safe");
    (void)http_content_type(part[3]);
    struct http_response *resp = http__response_error(400 + (int)(plen[4] % 200), part[4]);
    http__response_free(resp);
out:
    http__request_free(req);
    free(copy);
    return 0;
}
