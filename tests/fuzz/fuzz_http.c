/* fuzz_http: HTTP request handling end to end — each input is the raw bytes a client sends on one
 * connection (request line, headers, body; several requests when pipelined), written over
 * loopback TCP to a gsphttp server in this process (fuzz_net.h). So libwebsockets' own parser
 * runs first, then everything of ours behind it: the header snapshot, the query, Content-Length
 * and Transfer-Encoding framing, the caps and the body budget, Expect: 100-continue, the
 * authorizer and bearer tokens, routing with {captures}, cookies, forms, JSON bodies, delayed
 * answers, streams, uploads and assets.
 *
 * Each input goes to two servers, one after the other: each carries the portal simulator
 * (tests/sim, its real assets embedded: pages, JSON API, /__sim endpoints and its fault filter with
 * fail, slow and ghost rates of 5% and slow answers after 5 ms) — the classic UI on one, the modern
 * single-page UI on the other — and a few routes of its own under /fz that use every request
 * accessor. After each input the simulators' settings are put back (an input may have changed them
 * through /__sim/config) and a known session is recreated — cookie
 * GSPSESSID=fuzzsession0000000000000000000000, consultora 12345678, cycle 202605 — so that seeds
 * reach the logged-in pages and the cart API. /fz/secure needs "Authorization: Bearer fuzz-token".
 *
 * By default an input is sent as it is, in one write, so several requests in it are pipelined:
 * that is how this target found lws 4.1.6 misreading a pipelined request's body (the server
 * wedged or read freed memory: tests/fuzz/corpus/http/regression-pipelined-*, fixed in
 * src/http/server.c). FUZZ_HTTP_SPLIT=1 in the environment sends the requests apart instead
 * (after each header block and the body its Content-Length announces, it waits for the answer
 * to begin), so that the server reads them one by one, as from a client that waits for each
 * answer on a kept-alive connection. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_net.h"
#include "http.h"
#include "sim.h"

#define FUZZ_SESSION "fuzzsession0000000000000000000000"
#define FUZZ_TOKEN   "fuzz-token"

/* One server with its simulator. */
struct target {
    struct http_server *srv;
    struct sim *sim;
    int port;
};
static struct target g_t[2]; /* the classic UI, the modern UI */
static bool g_split;         /* FUZZ_HTTP_SPLIT: one request per write */

/* Where each request of a pipelined input ends: after its header block and the body its
 * Content-Length announces (a rough reading, as a client would write them). Returns the count. */
static size_t request_ends(const uint8_t *data, size_t size, size_t *cuts, size_t max)
{
    size_t n = 0, pos = 0;
    while (pos < size && n < max) {
        const uint8_t *h = memmem(data + pos, size - pos, "\r\n\r\n", 4);
        if (h == NULL)
            break;
        size_t end = (size_t)(h - data) + 4, clen = 0;
        for (size_t i = pos; i + 15 < end; i++)
            if (strncasecmp((const char *)data + i, "content-length:", 15) == 0) {
                for (size_t k = i + 15; k < end && (data[k] == ' ' || (data[k] >= '0' && data[k] <= '9')); k++)
                    if (data[k] != ' ' && clen < 1000000)
                        clen = clen * 10 + (size_t)(data[k] - '0');
                break;
            }
        end = clen < size - end ? end + clen : size;
        cuts[n++] = end;
        pos = end;
    }
    return n;
}

/* ---------------------------------------------------------------- the /fz routes */

/* GET /fz/echo?q=&hn=&hv=&cn=&cv=: reads every accessor, sets the header and cookie the query
 * names (each refused unless valid), answers what it read. */
static void h_echo(struct http_request *req, void *user)
{
    (void)user;
    const char *hn = http_request_query(req, "hn"), *hv = http_request_query(req, "hv");
    const char *cn = http_request_query(req, "cn"), *cv = http_request_query(req, "cv");
    if (hn != NULL && hv != NULL)
        (void)!http_request_add_header(req, hn, hv);
    if (cn != NULL && cv != NULL)
        (void)!http_request_set_cookie(req, cn, cv, (int)strlen(cv) - 1);
    const char *q = http_request_query(req, "q"), *c = http_request_cookie(req, "c");
    const char *x = http_request_header(req, "x-fuzz"), *ua = http_request_header(req, "User-Agent");
    const char *b = http_request_bearer(req);
    http_request_respond_error(req, 200, "%s|%s|%s|%s|%s|%s|%s", http_request_method(req), http_request_path(req),
                               q ? q : "-", c ? c : "-", x ? x : "-", ua ? ua : "-", b ? b : "-");
}

/* POST /fz/form: an application/x-www-form-urlencoded body. */
static void h_form(struct http_request *req, void *user)
{
    (void)user;
    const char *a = http_request_form(req, "a"), *b = http_request_form(req, "b");
    http_request_respond_error(req, 200, "%s %s", a ? a : "-", b ? b : "-");
}

/* POST /fz/json: the body parsed and printed back. */
static void h_json(struct http_request *req, void *user)
{
    (void)user;
    cJSON *j = http_request_body_json(req);
    if (j == NULL) {
        size_t len;
        (void)http_request_body(req, &len);
        http_request_respond_error(req, 400, "not JSON (%zu bytes)", len);
        return;
    }
    http_request_respond_json(req, 200, j);
}

/* GET /fz/items/{id}/parts/{part}: captures. */
static void h_item(struct http_request *req, void *user)
{
    (void)user;
    const char *id = http_request_param(req, "id"), *part = http_request_param(req, "part");
    if (id == NULL || part == NULL || !*id || !*part || strchr(id, '/') || !strcmp(id, "..") || !strcmp(part, ".")) {
        fprintf(stderr, "fuzz_http: broken promise: a capture is never empty, '/', '.' or '..'\n");
        abort();
    }
    http_request_respond_error(req, 200, "%s/%s", id, part);
}

static void later(struct http_request *req, void *arg)
{
    (void)arg;
    http_request_respond(req, 200, "text/plain", http_request_gone(req) ? "gone" : "late", 4);
}

/* GET /fz/later: answered from a timer. */
static void h_later(struct http_request *req, void *user)
{
    (void)user;
    if (http_request_after(req, 2, later, NULL) != 0)
        http_request_respond_error(req, 500, "after");
}

/* GET /fz/stream?n=: a short server-sent event stream, ended by its owner. */
static void h_stream(struct http_request *req, void *user)
{
    (void)user;
    const char *n = http_request_query(req, "n");
    int count = n ? (int)strtol(n, NULL, 10) % 8 : 2;
    if (http_request_stream_begin(req, 200, "text/event-stream") != 0)
        return;
    for (int i = 0; i < count; i++)
        (void)!http_request_stream_write(req, "data: x\n\n", 9);
    http_request_stream_end(req);
}

/* GET /fz/redirect?to=: a redirect to whatever the query says. */
static void h_redirect(struct http_request *req, void *user)
{
    (void)user;
    const char *to = http_request_query(req, "to");
    http_request_redirect(req, 303, to ? to : "/");
}

/* POST /fz/upload: a multipart form (see fuzz_upload for the uploads' own target). */
static void h_upload(struct http_request *req, void *user)
{
    (void)user;
    size_t size = 0;
    (void)http_request_upload_file(req, NULL, NULL, &size);
    const char *name = http_request_upload_field(req, "name");
    http_request_respond_error(req, 200, "%zu %s", size, name ? name : "-");
}

/* GET /fz/secure/{what}: behind the authorizer. */
static void h_secure(struct http_request *req, void *user)
{
    (void)user;
    http_request_respond_error(req, 200, "secret %s", http_request_param(req, "what"));
}

/* Only /fz/secure needs the token: the simulator's routes stay reachable without one. */
static enum http_auth_result authorize(struct http_request *req, void *user)
{
    (void)user;
    (void)http_request_cookie(req, SIM_SESSION_COOKIE);
    if (strncmp(http_request_path(req), "/fz/secure", 10) != 0)
        return HTTP_AUTH_ALLOW;
    return http_authorizer_bearer(req, (void *)FUZZ_TOKEN);
}

/* ---------------------------------------------------------------- between inputs */

/* On the service thread: the simulator's settings as they were, and the known session fresh. */
static void restore(struct http_server *srv, void *arg)
{
    (void)srv;
    struct sim *sim = arg;
    pthread_mutex_lock(&sim->lock);
    sim->opt.fail_rate = sim->opt.ghost_rate = sim->opt.slow_rate = 0.05;
    sim->opt.slow_ms = 5;
    sim->opt.session_ttl_s = 1800;
    sim->opt.interrupt_rate = 0.2;
    if (sim->nsessions > 64)
        sim->nsessions = 0; // logins of earlier inputs: forget them
    for (size_t i = 0; i < sim->nsessions; i++)
        if (strcmp(sim->sessions[i].token, FUZZ_SESSION) == 0) {
            sim_session_drop(sim, &sim->sessions[i]);
            break;
        }
    struct sim_session *s = sim_session_create(sim);
    if (s != NULL) {
        snprintf(s->token, sizeof s->token, "%s", FUZZ_SESSION);
        snprintf(s->consultora, sizeof s->consultora, "12345678");
        snprintf(s->cycle, sizeof s->cycle, "202605");
    }
    pthread_mutex_unlock(&sim->lock);
}

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_http: setup: %s\n", what);
        abort();
    }
}

static void set_ports(int port, void *arg)
{
    sim_set_ports(arg, port, 0);
}

/* A server with the /fz routes and a simulator of the given UI, started. */
static void target_start(struct target *t, enum sim_ui ui)
{
    struct http_config cfg = {.header_timeout_s = 2,
                              .body_timeout_s = 2,
                              .keepalive_s = 1,
                              .request_timeout_ms = 2000,
                              .max_body = 16384,
                              .max_body_inflight = 65536,
                              .stream_queue_max = 256};
    t->srv = http_server_new(&cfg);
    check(t->srv != NULL, "server");
    struct sim_options opt = {.session_ttl_s = 1800, .seed = 7, .ui_scale = 0.01, .ui = ui, .cart_mode = SIM_CART_SAME};
    snprintf(opt.user, sizeof opt.user, "demo");
    snprintf(opt.password, sizeof opt.password, "demo");
    snprintf(opt.cycles, sizeof opt.cycles, "202605,202606");
    t->sim = sim_new(&opt, t->srv);
    check(t->sim != NULL, "simulator");
    static const char *const fields[] = {"name", NULL};
    struct http_upload up = {.file_field = "file", .fields = fields, .max_file = 2048};
    struct http_route_opts upload = {.upload = &up}, big = {.max_body = 32768}, open = {.no_auth = true};
    struct http_server *srv = t->srv;
    check(http_server_route(srv, "GET", "/fz/echo", h_echo, NULL, &open) == 0 &&
              http_server_route(srv, "POST", "/fz/form", h_form, NULL, NULL) == 0 &&
              http_server_route(srv, "POST", "/fz/json", h_json, NULL, &big) == 0 &&
              http_server_route(srv, "PUT", "/fz/json", h_json, NULL, NULL) == 0 &&
              http_server_route(srv, "GET", "/fz/items/{id}/parts/{part}", h_item, NULL, NULL) == 0 &&
              http_server_route(srv, "GET", "/fz/later", h_later, NULL, NULL) == 0 &&
              http_server_route(srv, "GET", "/fz/stream", h_stream, NULL, NULL) == 0 &&
              http_server_route(srv, "GET", "/fz/redirect", h_redirect, NULL, NULL) == 0 &&
              http_server_route(srv, "POST", "/fz/upload", h_upload, NULL, &upload) == 0 &&
              http_server_route(srv, "GET", "/fz/secure/{what}", h_secure, NULL, NULL) == 0 &&
              http_server_asset(srv, "/fz/asset.css", NULL, "b{}", 3) == 0,
          "routes");
    http_server_set_authorizer(srv, authorize, NULL);
    check(http_server_post(srv, restore, t->sim) == 0, "post");
    t->port = fuzz_net_start(srv, set_ports, t->sim);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *split = getenv("FUZZ_HTTP_SPLIT");
    g_split = split != NULL && *split && strcmp(split, "0") != 0;
    target_start(&g_t[0], SIM_UI_CLASSIC);
    target_start(&g_t[1], SIM_UI_MODERN);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned long runs;
    runs++;
    size_t cuts[64], ncuts = g_split ? request_ends(data, size, cuts, 64) : 0;
    for (int i = 0; i < 2; i++) {
        struct target *t = &g_t[i];
        (void)fuzz_net_exchange_pieces(t->port, data, size, cuts, ncuts, NULL, 0, 3000);
        if (fuzz_net_wait_idle(t->srv, FUZZ_NET_IDLE_MS) != 0)
            fuzz_net_die_not_idle(t->port, i == 0 ? "fuzz_http (classic UI)" : "fuzz_http (modern UI)");
        // Carts and orders of consultoras the inputs invented: cleared now and then, so memory
        // stays flat.
        if (runs % 2000 == 0) {
            static const char reset[] = "POST /__sim/reset HTTP/1.1\r\nHost: f\r\nContent-Length: 0\r\n\r\n";
            (void)fuzz_net_exchange(t->port, reset, sizeof reset - 1, NULL, 0, 3000);
            (void)fuzz_net_wait_idle(t->srv, FUZZ_NET_IDLE_MS);
        }
        if (http_server_post(t->srv, restore, t->sim) != 0)
            abort();
    }
    return 0;
}
