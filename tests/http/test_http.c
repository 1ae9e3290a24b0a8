/*
 * test_http.c — the gsphttp server over real loopback HTTP with libcurl and raw sockets:
 * routing with captured params and query strings, 404/405, JSON bodies and the 413 cap,
 * headers and cookies, embedded assets, late answers on timers and from other threads, the
 * per-request timeout, 50 concurrent clients, a slow request not blocking others, graceful
 * stop; the authorizer deciding on headers alone (401 before any body byte), the connection
 * cap, the in-flight body budget, header and body deadlines, and the parsing edges a public
 * API meets (header sizes, Content-Length / Transfer-Encoding, repeated headers, long query
 * arguments, path normalisation, Expect: 100-continue); streaming responses (events from a
 * timer and from another thread, no cut by the request or keep-alive timeouts, the close
 * callback on disconnect, the queue cap for a client that does not read, the connection cap,
 * a prompt stop); multipart uploads streamed to a temp file (checksum and fields, UTF-8, file
 * names with paths, the file cap, a disconnect midway, malformed and non-multipart bodies);
 * pipelining (a pipelined body closes the connection rather than wedge the server, found by
 * tests/fuzz/fuzz_http) and bytes after the body of a request answered with a stream.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "http.h"

/* ---------------------------------------------------------------- fixture */

struct fixture {
    struct http_server *srv;
    pthread_t thread;
    bool running;
    int run_rc;
    char base[64];
    struct http_request *parked; /* a request a handler kept for another thread */
    pthread_mutex_t lock;
    char tmpdir[64];                 /* the upload routes' temp dir (setup_uploads) */
    atomic_int closes;               /* stream close callbacks run */
    atomic_int closes_gone;          /* ... that saw http_request_gone() true */
    atomic_int flood_rc;             /* what the flood's last write returned */
    atomic_size_t flood_max_pending; /* the most the flood's stream had queued */
};

static void *run_thread(void *arg)
{
    struct fixture *f = arg;
    f->run_rc = http_server_run(f->srv);
    return NULL;
}

static void fixture_launch(struct fixture *f)
{
    assert_int_equal(http_server_start(f->srv), 0);
    int port = http_server_port(f->srv);
    assert_true(port > 0);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", port);
    assert_int_equal(pthread_create(&f->thread, NULL, run_thread, f), 0);
    f->running = true;
}

static void fixture_halt(struct fixture *f)
{
    if (f->running) {
        http_server_stop(f->srv);
        pthread_join(f->thread, NULL);
        f->running = false;
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- handlers */

static void h_hello(struct http_request *req, void *user)
{
    http_request_respond(req, 200, "text/plain", "hello", 5);
}

static void h_batch_action(struct http_request *req, void *user)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", http_request_param(req, "id"));
    cJSON_AddStringToObject(o, "action", http_request_param(req, "action"));
    const char *st = http_request_query(req, "status");
    cJSON_AddStringToObject(o, "status", st ? st : "(none)");
    const char *pg = http_request_query(req, "page");
    cJSON_AddStringToObject(o, "page", pg ? pg : "(none)");
    http_request_respond_json(req, 200, o);
}

static void h_echo_json(struct http_request *req, void *user)
{
    cJSON *in = http_request_body_json(req);
    if (!in) {
        http_request_respond_error(req, 400, "bad JSON");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "got", in);
    size_t len;
    http_request_body(req, &len);
    cJSON_AddNumberToObject(o, "len", (double)len);
    http_request_respond_json(req, 201, o);
}

static void h_headers(struct http_request *req, void *user)
{
    const char *sid = http_request_cookie(req, "sid");
    const char *tok = http_request_bearer(req);
    const char *custom = http_request_header(req, "X-Trace-Id");
    const char *ua = http_request_header(req, "User-Agent");
    assert_int_equal(http_request_set_cookie(req, "sid", "new-session", 60), 0);
    assert_int_equal(http_request_add_header(req, "X-Answer", "42"), 0);
    char body[512];
    snprintf(body, sizeof(body), "sid=%s tok=%s custom=%s ua=%s", sid ? sid : "-", tok ? tok : "-",
             custom ? custom : "-", ua ? ua : "-");
    http_request_respond(req, 200, NULL, body, strlen(body));
}

static void h_form(struct http_request *req, void *user)
{
    const char *u = http_request_form(req, "user");
    const char *p = http_request_form(req, "note");
    char body[256];
    snprintf(body, sizeof(body), "%s|%s", u ? u : "-", p ? p : "-");
    http_request_respond(req, 200, NULL, body, strlen(body));
}

static void later_answer(struct http_request *req, void *arg)
{
    http_request_respond(req, 200, "text/plain", "late", 4);
}

/* Answers after ?ms= milliseconds (default 200) on an lws timer. */
static void h_delay(struct http_request *req, void *user)
{
    const char *ms = http_request_query(req, "ms");
    unsigned delay = ms ? (unsigned)strtoul(ms, NULL, 10) : 200;
    if (http_request_after(req, delay, later_answer, NULL) != 0)
        http_request_respond_error(req, 500, "cannot schedule");
}

static void h_redirect(struct http_request *req, void *user)
{
    http_request_redirect(req, 303, "/hello");
}

static void h_park(struct http_request *req, void *user)
{
    struct fixture *f = user;
    pthread_mutex_lock(&f->lock);
    f->parked = req;
    pthread_mutex_unlock(&f->lock);
}

static void task_answer_parked(struct http_server *srv, void *arg)
{
    struct fixture *f = arg;
    pthread_mutex_lock(&f->lock);
    struct http_request *req = f->parked;
    f->parked = NULL;
    pthread_mutex_unlock(&f->lock);
    if (req)
        http_request_respond(req, 200, "text/plain", "from-task", 9);
}

/* Answers {"len": body length}. */
static void h_len(struct http_request *req, void *user)
{
    size_t len;
    http_request_body(req, &len);
    char body[64];
    snprintf(body, sizeof(body), "{\"len\":%zu}", len);
    http_request_respond(req, 200, "application/json", body, strlen(body));
}

static void h_health(struct http_request *req, void *user)
{
    http_request_respond(req, 200, "text/plain", "ok", 2);
}

/* Echoes the {name} capture and the path as the handler sees them. */
static void h_file(struct http_request *req, void *user)
{
    char body[512];
    snprintf(body, sizeof(body), "name=[%s] path=[%s]", http_request_param(req, "name"), http_request_path(req));
    http_request_respond(req, 200, NULL, body, strlen(body));
}

static void h_query(struct http_request *req, void *user)
{
    const char *a = http_request_query(req, "a"), *z = http_request_query(req, "z");
    char body[256];
    snprintf(body, sizeof(body), "alen=%zu z=%s", a ? strlen(a) : 0, z ? z : "(null)");
    http_request_respond(req, 200, NULL, body, strlen(body));
}

static void h_cookies(struct http_request *req, void *user)
{
    const char *a = http_request_cookie(req, "a"), *b = http_request_cookie(req, "b");
    const char *tok = http_request_bearer(req);
    char body[256];
    snprintf(body, sizeof(body), "a=%s b=%s tok=%s", a ? a : "-", b ? b : "-", tok ? tok : "-");
    http_request_respond(req, 200, NULL, body, strlen(body));
}

/* Checks the response header and cookie validation (on the service thread, so it reports
 * in its answer instead of asserting), then answers with a long cookie. */
static void h_resp_headers(struct http_request *req, void *user)
{
    char longname[200], longval[700];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    memset(longval, 'v', sizeof(longval) - 1);
    longval[sizeof(longval) - 1] = '\0';
    int rc[] = {
        http_request_add_header(req, "Bad Name", "x") == HTTP_ERR_ARG,
        http_request_add_header(req, "X-Bad(", "x") == HTTP_ERR_ARG,
        http_request_add_header(req, "X-Split", "a\r\nInjected: 1") == HTTP_ERR_ARG,
        http_request_add_header(req, longname, "x") == HTTP_ERR_ARG,
        http_request_set_cookie(req, "sid", "a b", -1) == HTTP_ERR_ARG,
        http_request_set_cookie(req, "s id", "v", -1) == HTTP_ERR_ARG,
        http_request_set_cookie(req, "jwt", longval, 60) == 0,
    };
    char body[64] = "ok";
    for (size_t i = 0; i < sizeof(rc) / sizeof(rc[0]); i++)
        if (!rc[i]) {
            snprintf(body, sizeof(body), "check %zu failed", i);
            break;
        }
    http_request_respond(req, 200, NULL, body, strlen(body));
}

/* ---------------------------------------------------------------- stream handlers */

/* A stream that writes "data: N\n\n" every `ms` on an lws timer, `n` times, then ends. */
struct ticker {
    struct fixture *f;
    int n, i;
    unsigned ms;
};

static void record_close(struct fixture *f, struct http_request *req)
{
    atomic_fetch_add(&f->closes, 1);
    if (http_request_gone(req))
        atomic_fetch_add(&f->closes_gone, 1);
    pthread_mutex_lock(&f->lock);
    if (f->parked == req)
        f->parked = NULL;
    pthread_mutex_unlock(&f->lock);
}

static void ticker_closed(struct http_request *req, void *arg)
{
    struct ticker *t = arg;
    record_close(t->f, req);
    free(t); /* the layer frees req after this */
}

static void ticker_tick(struct http_request *req, void *arg)
{
    struct ticker *t = arg;
    char msg[64];
    int len = snprintf(msg, sizeof(msg), "data: %d\n\n", ++t->i);
    if (http_request_stream_write(req, msg, (size_t)len) != 0 || t->i == t->n ||
        http_request_after(req, t->ms, ticker_tick, t) != 0) {
        free(t);
        http_request_stream_end(req);
    }
}

/* GET /events?n=3&ms=100 */
static void h_events(struct http_request *req, void *user)
{
    struct ticker *t = calloc(1, sizeof(*t));
    const char *n = http_request_query(req, "n"), *ms = http_request_query(req, "ms");
    t->f = user;
    t->n = n ? (int)strtol(n, NULL, 10) : 3;
    t->ms = ms ? (unsigned)strtoul(ms, NULL, 10) : 100;
    if (http_request_add_header(req, "X-Stream", "1") != 0) {
        free(t);
        http_request_respond_error(req, 500, "cannot add a header");
        return;
    }
    if (http_request_stream_begin(req, 200, NULL) != 0) { /* consumed */
        free(t);
        return;
    }
    http_request_on_close(req, ticker_closed, t);
    if (http_request_after(req, t->ms, ticker_tick, t) != 0) {
        free(t);
        http_request_stream_end(req);
    }
}

/* Also ends the stream itself, which the contract allows (the layer frees it either way). */
static void forever_closed(struct http_request *req, void *arg)
{
    record_close(arg, req);
    http_request_stream_end(req);
}

/* A stream answered with respond by mistake: that ends it. Writes what the calls returned. */
static void h_stream_then_respond(struct http_request *req, void *user)
{
    if (http_request_stream_begin(req, 200, "text/plain") != 0)
        return;
    char msg[64];
    int len = snprintf(msg, sizeof(msg), "begin again: %d\n", http_request_stream_begin(req, 200, NULL));
    if (http_request_stream_write(req, msg, (size_t)len) != 0) {
        http_request_stream_end(req);
        return;
    }
    struct fixture *f = user;
    atomic_store(&f->flood_rc, http_request_respond(req, 200, NULL, "x", 1)); /* ends the stream */
}

/* A stream that says hello and then stays open until the client or the server goes. */
static void h_events_forever(struct http_request *req, void *user)
{
    if (http_request_stream_begin(req, 200, "text/event-stream; charset=utf-8") != 0)
        return;
    http_request_on_close(req, forever_closed, user);
    if (http_request_stream_write(req, ": hello\n\n", 9) != 0)
        http_request_stream_end(req);
}

/* A stream another thread feeds with http_server_post (as the API does). */
static void h_events_park(struct http_request *req, void *user)
{
    struct fixture *f = user;
    if (http_request_stream_begin(req, 200, NULL) != 0)
        return;
    http_request_on_close(req, forever_closed, f);
    pthread_mutex_lock(&f->lock);
    f->parked = req;
    pthread_mutex_unlock(&f->lock);
}

/* Writes 64 KiB every 2 ms for as long as the stream takes it. */
static char flood_chunk[65536];

static void flood_tick(struct http_request *req, void *arg)
{
    struct fixture *f = arg;
    int rc = http_request_stream_write(req, flood_chunk, sizeof(flood_chunk));
    size_t pending = http_request_stream_pending(req);
    if (pending > atomic_load(&f->flood_max_pending))
        atomic_store(&f->flood_max_pending, pending);
    atomic_store(&f->flood_rc, rc);
    if (rc != 0)
        return; /* cut: the close callback comes once its connection is closed */
    if (http_request_after(req, 2, flood_tick, f) != 0)
        http_request_stream_end(req);
}

static void h_flood(struct http_request *req, void *user)
{
    if (http_request_stream_begin(req, 200, "application/octet-stream") != 0)
        return;
    http_request_on_close(req, forever_closed, user);
    if (http_request_after(req, 2, flood_tick, user) != 0)
        http_request_stream_end(req);
}

/* ---------------------------------------------------------------- upload handler */

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#define FNV_START 0xcbf29ce484222325ULL

static void add_field(cJSON *o, struct http_request *req, const char *name)
{
    const char *v = http_request_upload_field(req, name);
    if (v)
        cJSON_AddStringToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

/* Answers what the handler sees of an upload: the file (size, checksum, name, mode, where),
 * the fields, and the body (empty). With ?keep=1 it renames the file to "<path>.kept". */
static void h_upload(struct http_request *req, void *user)
{
    struct fixture *f = user;
    const char *path, *filename;
    size_t size;
    bool have = http_request_upload_file(req, &path, &filename, &size);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "file", have);
    if (have) {
        uint64_t sum = FNV_START;
        size_t got = 0;
        FILE *fp = fopen(path, "rb");
        unsigned char chunk[65536];
        size_t n;
        while (fp && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
            sum = fnv1a(sum, chunk, n);
            got += n;
        }
        if (fp)
            fclose(fp);
        char hex[32];
        snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)sum);
        struct stat st;
        bool private = stat(path, &st) == 0 && (st.st_mode & 0777) == 0600;
        cJSON_AddNumberToObject(o, "size", (double)size);
        cJSON_AddNumberToObject(o, "read", (double)got);
        cJSON_AddStringToObject(o, "sum", hex);
        cJSON_AddStringToObject(o, "filename", filename);
        cJSON_AddBoolToObject(o, "mode_0600", private);
        cJSON_AddBoolToObject(o, "in_tmp_dir", !strncmp(path, f->tmpdir, strlen(f->tmpdir)));
        if (http_request_query(req, "keep")) {
            char kept[512];
            snprintf(kept, sizeof(kept), "%s.kept", path);
            cJSON_AddBoolToObject(o, "kept", rename(path, kept) == 0);
        }
    }
    add_field(o, req, "name");
    add_field(o, req, "sheet");
    add_field(o, req, "skip_invalid");
    add_field(o, req, "allow_duplicate");
    const char *form = http_request_form(req, "name");
    cJSON_AddBoolToObject(o, "form_same", form == http_request_upload_field(req, "name"));
    size_t blen;
    http_request_body(req, &blen);
    cJSON_AddNumberToObject(o, "body_len", (double)blen);
    http_request_respond_json(req, 200, o);
}

static const char asset_css[] = "body{color:red}";
static const char token[] = "s3cret-T0ken";

/* Creates the server of a fixture with `cfg` and every route the tests use (not started). */
static struct fixture *fixture_new(const struct http_config *cfg)
{
    struct fixture *f = calloc(1, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    f->srv = http_server_new(cfg);
    assert_non_null(f->srv);
    struct http_route_opts huge = {.max_body = 60 * 1000 * 1000};
    struct http_route_opts open = {.no_auth = true};
    assert_int_equal(http_server_route(f->srv, "POST", "/big", h_len, NULL, &huge), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/health", h_health, NULL, &open), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/files/{name}", h_file, NULL, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/query", h_query, NULL, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/cookies", h_cookies, NULL, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/resp-headers", h_resp_headers, NULL, NULL), 0);
    return f;
}

/* A server whose every route but /health and assets needs "Authorization: Bearer <token>",
 * with at most 4 connections. */
static int setup_guarded(void **state)
{
    struct http_config cfg = {.max_connections = 4};
    struct fixture *f = fixture_new(&cfg);
    http_server_set_authorizer(f->srv, http_authorizer_bearer, (void *)token);
    assert_int_equal(http_server_asset(f->srv, "/static/app.css", NULL, asset_css, sizeof(asset_css) - 1), 0);
    fixture_launch(f);
    *state = f;
    return 0;
}

/* Short header and body deadlines (2 s). */
static int setup_deadlines(void **state)
{
    struct http_config cfg = {.header_timeout_s = 2, .body_timeout_s = 2};
    struct fixture *f = fixture_new(&cfg);
    fixture_launch(f);
    *state = f;
    return 0;
}

/* At most 100000 body bytes in flight across all requests. */
static int setup_budget(void **state)
{
    struct http_config cfg = {.max_body_inflight = 100000};
    struct fixture *f = fixture_new(&cfg);
    fixture_launch(f);
    *state = f;
    return 0;
}

/* Streams: 4 connections at most, a 500 ms request timeout and 1 s keep-alive (which streams
 * must outlive), 256 KiB of queue per stream, and a stop grace long enough to tell "streams
 * were ended" from "the grace ran out". */
static int setup_streams(void **state)
{
    struct http_config cfg = {
        .max_connections = 4,
        .request_timeout_ms = 500,
        .keepalive_s = 1,
        .stream_queue_max = 256 * 1024,
        .stop_grace_ms = 20000,
    };
    struct fixture *f = fixture_new(&cfg);
    assert_int_equal(http_server_route(f->srv, "GET", "/events", h_events, f, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/events-forever", h_events_forever, f, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/events-park", h_events_park, f, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/flood", h_flood, f, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/stream-then-respond", h_stream_then_respond, f, NULL), 0);
    fixture_launch(f);
    *state = f;
    return 0;
}

static const char *const upload_fields[] = {"name", "sheet", "skip_invalid", "allow_duplicate", NULL};

/* Uploads: the API's route (50 MiB file cap) and a small one (1 MiB file, 8 MiB body, 256
 * bytes of fields), both behind the bearer authorizer, into a fresh temp dir. */
static int setup_uploads(void **state)
{
    struct http_config cfg = {.max_body = 1000};
    struct fixture *f = fixture_new(&cfg);
    snprintf(f->tmpdir, sizeof(f->tmpdir), "/tmp/gsphttp-test-XXXXXX");
    assert_non_null(mkdtemp(f->tmpdir));
    http_server_set_authorizer(f->srv, http_authorizer_bearer, (void *)token);
    struct http_upload api = {
        .file_field = "file", .fields = upload_fields, .tmp_dir = f->tmpdir, .max_file = 50u << 20};
    struct http_route_opts api_opts = {.upload = &api};
    assert_int_equal(http_server_route(f->srv, "POST", "/batches/upload", h_upload, f, &api_opts), 0);
    struct http_upload small = {
        .file_field = "file", .fields = upload_fields, .tmp_dir = f->tmpdir, .max_file = 1u << 20, .max_fields = 256};
    struct http_route_opts small_opts = {.max_body = 8u << 20, .upload = &small};
    assert_int_equal(http_server_route(f->srv, "POST", "/small-upload", h_upload, f, &small_opts), 0);
    /* bad upload settings are refused at registration, with a reason */
    struct http_upload bad = {.file_field = "file", .tmp_dir = "/nonexistent-gsphttp", .max_file = 1};
    struct http_route_opts bad_opts = {.upload = &bad};
    assert_int_equal(http_server_route(f->srv, "POST", "/bad", h_upload, f, &bad_opts), HTTP_ERR_ARG);
    assert_non_null(strstr(http_server_errmsg(f->srv), "/nonexistent-gsphttp"));
    bad = (struct http_upload){.file_field = "file", .tmp_dir = f->tmpdir};
    assert_int_equal(http_server_route(f->srv, "POST", "/bad", h_upload, f, &bad_opts), HTTP_ERR_ARG);
    bad = (struct http_upload){.file_field = "a-name-much-longer-than-31-bytes-x", .max_file = 1};
    assert_int_equal(http_server_route(f->srv, "POST", "/bad", h_upload, f, &bad_opts), HTTP_ERR_ARG);
    fixture_launch(f);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    struct http_config cfg = {.port = 0, .max_body = 1000, .request_timeout_ms = 1500};
    struct fixture *f = fixture_new(&cfg);
    struct http_route_opts big = {.max_body = 100000};
    assert_int_equal(http_server_route(f->srv, "GET", "/hello", h_hello, NULL, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "POST", "/batches/{id}/{action}", h_batch_action, NULL, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/batches/{id}/orders", h_batch_action, NULL, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "POST", "/echo", h_echo_json, NULL, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "POST", "/upload", h_echo_json, NULL, &big), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/headers", h_headers, NULL, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "POST", "/form", h_form, NULL, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/delay", h_delay, NULL, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/redirect", h_redirect, NULL, NULL), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/park", h_park, f, NULL), 0);
    assert_int_equal(http_server_asset(f->srv, "/static/app.css", NULL, asset_css, sizeof(asset_css) - 1), 0);
    assert_int_equal(http_server_route(f->srv, "GET", "/bad/{x", h_hello, NULL, NULL), HTTP_ERR_ARG);
    assert_int_equal(http_server_route(f->srv, "BREW", "/x", h_hello, NULL, NULL), HTTP_ERR_ARG);
    fixture_launch(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    fixture_halt(f);
    http_server_free(f->srv);
    if (f->tmpdir[0]) { /* whatever a failed upload test left */
        DIR *d = opendir(f->tmpdir);
        struct dirent *e;
        char path[512];
        while (d && (e = readdir(d)))
            if (e->d_name[0] != '.') {
                snprintf(path, sizeof(path), "%s/%s", f->tmpdir, e->d_name);
                unlink(path);
            }
        if (d)
            closedir(d);
        rmdir(f->tmpdir);
    }
    pthread_mutex_destroy(&f->lock);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------- curl helpers */

struct reply {
    long status;
    char body[8192];
    size_t len;
    char headers[4096];
    size_t hlen;
    double seconds;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t len = sz * n;
    size_t room = sizeof(r->body) - 1 - r->len;
    size_t c = len < room ? len : room;
    memcpy(r->body + r->len, p, c);
    r->len += c;
    r->body[r->len] = '\0';
    return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t len = sz * n;
    size_t room = sizeof(r->headers) - 1 - r->hlen;
    size_t c = len < room ? len : room;
    memcpy(r->headers + r->hlen, p, c);
    r->hlen += c;
    r->headers[r->hlen] = '\0';
    return len;
}

static CURL *easy_new(const struct fixture *f, const char *path, struct reply *r)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", f->base, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PRIVATE, r);
    return c;
}

/* One request; method NULL = GET; body NULL = none. Returns the curl code. */
static int fetch(const struct fixture *f, const char *method, const char *path, const char *ctype, const char *body,
                 size_t blen, struct curl_slist *extra, struct reply *r)
{
    memset(r, 0, sizeof(*r));
    CURL *c = easy_new(f, path, r);
    struct curl_slist *hdrs = extra;
    char ct[128];
    if (ctype) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
        hdrs = curl_slist_append(hdrs, ct);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    }
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->seconds);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    return (int)rc;
}

/* ---------------------------------------------------------------- tests */

static void test_route_captures_params_and_query(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    assert_int_equal(fetch(f, "POST", "/batches/17/start", NULL, "", 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"id\":\"17\",\"action\":\"start\",\"status\":\"(none)\",\"page\":\"(none)\"}");
    assert_int_equal(fetch(f, NULL, "/batches/9/orders?status=failed&page=3", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"id\":\"9\""));
    assert_non_null(strstr(r.body, "\"status\":\"failed\""));
    assert_non_null(strstr(r.body, "\"page\":\"3\""));
    assert_non_null(strstr(r.headers, "application/json"));
    /* percent-encoded query values are decoded */
    assert_int_equal(fetch(f, NULL, "/batches/x/orders?status=a%20b", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_non_null(strstr(r.body, "\"status\":\"a b\""));
}

static void test_unknown_path_is_404_and_wrong_method_405(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    assert_int_equal(fetch(f, NULL, "/nope", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "\"error\""));
    assert_int_equal(fetch(f, NULL, "/batches/1", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 404);
    assert_int_equal(fetch(f, "POST", "/hello", NULL, "", 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 405);
    assert_non_null(strcasestr(r.headers, "allow: GET"));
    assert_int_equal(fetch(f, NULL, "/hello", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
}

static void test_post_json_body_is_read(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    const char *js = "{\"name\":\"lote 1\",\"orders\":[1,2,3]}";
    assert_int_equal(fetch(f, "POST", "/echo", "application/json", js, strlen(js), NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.body, "\"name\":\"lote 1\""));
    assert_int_equal(fetch(f, "POST", "/echo", "application/json", "{bad", 4, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 400);
    const char *form = "user=ana+maria&note=caf%C3%A9%26t%C3%A9";
    assert_int_equal(fetch(f, "POST", "/form", "application/x-www-form-urlencoded", form, strlen(form), NULL, &r),
                     CURLE_OK);
    assert_string_equal(r.body, "ana maria|caf\xc3\xa9&t\xc3\xa9");
}

static void test_body_over_cap_is_413(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    size_t n = 5000;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[0] = '"';
    big[n - 1] = '"';
    big[n] = '\0';
    assert_int_equal(fetch(f, "POST", "/echo", "application/json", big, n, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "exceeds"));
    /* the per-route cap of /upload admits it */
    assert_int_equal(fetch(f, "POST", "/upload", "application/json", big, n, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.body, "\"len\":5000"));
    free(big);
    /* and the server still serves afterwards */
    assert_int_equal(fetch(f, NULL, "/hello", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
}

static void test_headers_cookies_and_bearer(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Cookie: other=1; sid=abc123");
    h = curl_slist_append(h, "Authorization: Bearer tok-xyz");
    h = curl_slist_append(h, "X-Trace-Id: t-77");
    h = curl_slist_append(h, "User-Agent: gsp-test");
    assert_int_equal(fetch(f, NULL, "/headers", NULL, NULL, 0, h, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "sid=abc123 tok=tok-xyz custom=t-77 ua=gsp-test");
    assert_non_null(strcasestr(r.headers, "set-cookie: sid=new-session; Path=/; HttpOnly"));
    assert_non_null(strcasestr(r.headers, "x-answer: 42"));
    assert_int_equal(fetch(f, NULL, "/redirect", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 303);
    assert_non_null(strcasestr(r.headers, "location: /hello"));
}

static void test_asset_served_with_content_type(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    assert_int_equal(fetch(f, NULL, "/static/app.css", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, asset_css);
    assert_non_null(strcasestr(r.headers, "content-type: text/css"));
    assert_string_equal(http_content_type("a/b.woff2"), "font/woff2");
    assert_string_equal(http_content_type("x.PNG"), "image/png");
    assert_string_equal(http_content_type("noext"), "application/octet-stream");
}

/* Runs `n` GETs of `path` concurrently on separate connections; returns how many got 200. */
static int multi_get(const struct fixture *f, const char *path, int n, struct reply *replies)
{
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    CURL **e = calloc((size_t)n, sizeof(*e));
    for (int i = 0; i < n; i++) {
        memset(&replies[i], 0, sizeof(replies[i]));
        e[i] = easy_new(f, path, &replies[i]);
        curl_easy_setopt(e[i], CURLOPT_FORBID_REUSE, 1L);
        curl_multi_add_handle(m, e[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    int ok = 0;
    for (int i = 0; i < n; i++) {
        curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &replies[i].status);
        curl_easy_getinfo(e[i], CURLINFO_TOTAL_TIME, &replies[i].seconds);
        ok += replies[i].status == 200;
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
    }
    free(e);
    curl_multi_cleanup(m);
    return ok;
}

static void test_fifty_concurrent_clients_all_answered(void **state)
{
    struct fixture *f = *state;
    struct reply *replies = calloc(50, sizeof(*replies));
    uint64_t t0 = now_ms();
    /* each answer is held 300 ms on a timer: serially this would take 15 s */
    int ok = multi_get(f, "/delay?ms=300", 50, replies);
    uint64_t took = now_ms() - t0;
    assert_int_equal(ok, 50);
    for (int i = 0; i < 50; i++)
        assert_string_equal(replies[i].body, "late");
    print_message("50 concurrent clients answered in %llu ms\n", (unsigned long long)took);
    assert_true(took < 3000);
    free(replies);
}

struct slow_arg {
    const struct fixture *f;
    struct reply r;
};

static void *slow_client(void *arg)
{
    struct slow_arg *a = arg;
    fetch(a->f, NULL, "/delay?ms=1200", NULL, NULL, 0, NULL, &a->r);
    return NULL;
}

static void test_slow_response_does_not_block_others(void **state)
{
    struct fixture *f = *state;
    struct slow_arg a = {.f = f};
    pthread_t t;
    uint64_t t0 = now_ms();
    assert_int_equal(pthread_create(&t, NULL, slow_client, &a), 0);
    usleep(100 * 1000);
    struct reply r;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fetch(f, NULL, "/hello", NULL, NULL, 0, NULL, &r), CURLE_OK);
        assert_int_equal(r.status, 200);
    }
    uint64_t fast_done = now_ms() - t0;
    pthread_join(t, NULL);
    uint64_t slow_done = now_ms() - t0;
    assert_int_equal(a.r.status, 200);
    assert_string_equal(a.r.body, "late");
    assert_true(fast_done < 800);
    assert_true(slow_done >= 1200);
}

static void test_handler_timeout_answers_503(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    /* the server's request timeout is 1500 ms; this handler would answer after 2500 ms */
    uint64_t t0 = now_ms();
    assert_int_equal(fetch(f, NULL, "/delay?ms=2500", NULL, NULL, 0, NULL, &r), CURLE_OK);
    uint64_t took = now_ms() - t0;
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "not answered within 1500 ms"));
    assert_true(took >= 1400 && took < 2400);
    /* the late answer lands in the void without harm; the server keeps serving */
    usleep(1200 * 1000);
    assert_int_equal(fetch(f, NULL, "/hello", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
}

struct poster {
    struct fixture *f;
};

static void *poster_thread(void *arg)
{
    struct fixture *f = arg;
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&f->lock);
        bool have = f->parked != NULL;
        pthread_mutex_unlock(&f->lock);
        if (have)
            break;
        usleep(10 * 1000);
    }
    if (http_server_post(f->srv, task_answer_parked, f) != 0)
        fail_msg("http_server_post failed");
    return NULL;
}

static void test_answer_posted_from_another_thread(void **state)
{
    struct fixture *f = *state;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, poster_thread, f), 0);
    struct reply r;
    assert_int_equal(fetch(f, NULL, "/park", NULL, NULL, 0, NULL, &r), CURLE_OK);
    pthread_join(t, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "from-task");
}

static void test_graceful_stop_finishes_inflight_request(void **state)
{
    struct fixture *f = *state;
    struct slow_arg a = {.f = f};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slow_client, &a), 0);
    usleep(200 * 1000);
    uint64_t t0 = now_ms();
    fixture_halt(f); /* stop + join: returns once the in-flight request was answered */
    uint64_t took = now_ms() - t0;
    pthread_join(t, NULL);
    assert_int_equal(f->run_rc, 0);
    assert_int_equal(a.r.status, 200);
    assert_string_equal(a.r.body, "late");
    assert_true(took < 2000);
    assert_true(http_server_requests(f->srv) >= 1);
}

static void test_stop_is_prompt_when_idle_and_port_reuse_fails(void **state)
{
    struct fixture *f = *state;
    /* a second server on the same port fails with a message */
    struct http_config cfg = {.port = http_server_port(f->srv)};
    struct http_server *other = http_server_new(&cfg);
    assert_non_null(other);
    assert_int_equal(http_server_start(other), HTTP_ERR_LISTEN);
    assert_non_null(strstr(http_server_errmsg(other), "cannot listen"));
    http_server_free(other);
    uint64_t t0 = now_ms();
    fixture_halt(f);
    assert_true(now_ms() - t0 < 500);
    assert_int_equal(f->run_rc, 0);
}

/* ---------------------------------------------------------------- raw-socket helpers */

static int raw_connect(const struct fixture *f)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_server_port(f->srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void raw_send(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        assert_true(w > 0);
        c += w;
        n -= (size_t)w;
    }
}

static void raw_send_str(int fd, const char *s)
{
    raw_send(fd, s, strlen(s));
}

/* Reads into out (NUL-terminated) until the peer closes, an error, `cap` bytes or timeout_ms.
 * *closed (may be NULL) says whether the connection ended (EOF or reset). Returns bytes. */
static size_t raw_read(int fd, char *out, size_t cap, int timeout_ms, bool *closed)
{
    size_t n = 0;
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    bool done = false;
    while (!done && n + 1 < cap) {
        uint64_t now = now_ms();
        if (now >= end)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(end - now)) <= 0)
            continue;
        ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
        if (r > 0)
            n += (size_t)r;
        else if (r == 0 || errno != EINTR)
            done = true;
    }
    out[n] = '\0';
    if (closed)
        *closed = done;
    return n;
}

/* Reads into out (NUL-terminated) until it holds `needle`, the peer closes, or timeout_ms. */
static size_t raw_read_until(int fd, char *out, size_t cap, const char *needle, int timeout_ms)
{
    size_t n = 0;
    out[0] = '\0';
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    while (n + 1 < cap && !strstr(out, needle) && now_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        out[n] = '\0';
    }
    return n;
}

/* Reads one whole response to a request that asked for "Connection: close". */
static int raw_exchange(const struct fixture *f, const char *request, char *out, size_t cap)
{
    int fd = raw_connect(f);
    raw_send_str(fd, request);
    bool closed;
    raw_read(fd, out, cap, 5000, &closed);
    close(fd);
    int status = 0;
    if (sscanf(out, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    return status;
}

static struct http_stats stats_of(const struct fixture *f)
{
    struct http_stats st;
    http_server_stats(f->srv, &st);
    return st;
}

/* Waits (up to 5 s) until the server has exactly `n` connections open. */
static void wait_connections(const struct fixture *f, unsigned n)
{
    uint64_t end = now_ms() + 5000;
    while (stats_of(f).connections != n && now_ms() < end)
        usleep(10 * 1000);
    assert_int_equal(stats_of(f).connections, n);
}

/* ---------------------------------------------------------------- authorizer */

static void test_unauthorized_upload_refused_on_headers_alone(void **state)
{
    struct fixture *f = *state;
    int fd = raw_connect(f);
    /* headers only: the client waits for the answer before sending any of its 50 MB */
    raw_send_str(fd, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
                     "Content-Length: 50000000\r\n\r\n");
    char resp[2048];
    bool closed;
    uint64_t t0 = now_ms();
    raw_read(fd, resp, sizeof(resp), 5000, &closed);
    uint64_t took = now_ms() - t0;
    close(fd);
    print_message("401 after %llu ms\n", (unsigned long long)took);
    assert_true(took < 2000);
    assert_true(closed);
    assert_non_null(strstr(resp, "HTTP/1.1 401"));
    assert_non_null(strcasestr(resp, "www-authenticate: Bearer"));
    assert_non_null(strcasestr(resp, "content-type: application/json"));
    assert_non_null(strstr(resp, "{\"error\":\"authorization required\"}"));
    assert_non_null(strcasestr(resp, "connection: close"));
    struct http_stats st = stats_of(f);
    assert_int_equal(st.unauthorized, 1);
    assert_int_equal(st.body_bytes_received, 0);
    assert_int_equal(st.body_bytes_admitted, 0);
    assert_int_equal(st.requests, 0);
}

static void test_unauthorized_client_pushing_its_body_is_cut_off(void **state)
{
    struct fixture *f = *state;
    int fd = raw_connect(f);
    raw_send_str(fd, "POST /big HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer wrong-token\r\n"
                     "Content-Length: 50000000\r\n\r\n");
    /* Push the body as fast as the server takes it: it must not take it for long. */
    static char chunk[65536];
    memset(chunk, 'x', sizeof(chunk));
    size_t sent = 0;
    uint64_t end = now_ms() + 10000;
    while (sent < 50000000 && now_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t w = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (w <= 0)
            break; /* the server closed the connection */
        sent += (size_t)w;
    }
    close(fd);
    print_message("client could push %zu bytes before the server closed\n", sent);
    assert_true(sent < 50000000);
    assert_true(now_ms() < end);
    struct http_stats st = stats_of(f);
    assert_int_equal(st.unauthorized, 1);
    assert_int_equal(st.body_bytes_received, 0);
}

static void test_authorized_upload_is_served(void **state)
{
    struct fixture *f = *state;
    size_t n = 50 * 1000 * 1000;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'u', n);
    struct reply r = {0};
    CURL *c = easy_new(f, "/big", &r);
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer s3cret-T0ken");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, big);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(big);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"len\":50000000}");
    /* curl sends "Expect: 100-continue" for a body this size: it was answered */
    assert_non_null(strstr(r.headers, "HTTP/1.1 100 Continue"));
    struct http_stats st = stats_of(f);
    assert_int_equal(st.body_bytes_received, 50000000);
    assert_int_equal(st.body_bytes_admitted, 0); /* released once answered */
}

static void test_authorizer_exemptions_and_wrong_tokens(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    /* exempt: a no_auth route and assets */
    assert_int_equal(fetch(f, NULL, "/health", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(fetch(f, NULL, "/static/app.css", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    /* unknown paths are not told apart from known ones without a token */
    assert_int_equal(fetch(f, NULL, "/nope", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 401);
    assert_int_equal(fetch(f, NULL, "/files/x", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 401);
    const char *wrong[] = {
        "Authorization: Bearer s3cret-T0ke",   /* prefix */
        "Authorization: Bearer s3cret-T0ken1", /* longer */
        "Authorization: Bearer s3cret-T0keN",  /* same length */
        "Authorization: Basic czNjcmV0LVQwa2Vu", "Authorization: Bearer", "Authorization: Bearer s3cret-T0ken extra",
    };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        struct curl_slist *h = curl_slist_append(NULL, wrong[i]);
        assert_int_equal(fetch(f, NULL, "/files/x", NULL, NULL, 0, h, &r), CURLE_OK);
        assert_int_equal(r.status, 401);
        assert_non_null(strstr(r.body, "\"error\""));
        assert_non_null(strcasestr(r.headers, "www-authenticate: Bearer"));
    }
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer s3cret-T0ken");
    assert_int_equal(fetch(f, NULL, "/files/x", NULL, NULL, 0, h, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "name=[x] path=[/files/x]");
    h = curl_slist_append(NULL, "Authorization: Bearer s3cret-T0ken");
    assert_int_equal(fetch(f, NULL, "/nope", NULL, NULL, 0, h, &r), CURLE_OK);
    assert_int_equal(r.status, 404);
    assert_int_equal(stats_of(f).unauthorized, 2 + sizeof(wrong) / sizeof(wrong[0]));
}

/* ---------------------------------------------------------------- caps */

static void test_connection_cap_closes_the_fifth_and_recovers(void **state)
{
    struct fixture *f = *state; /* max_connections = 4 */
    int idle[4];
    for (int i = 0; i < 4; i++)
        idle[i] = raw_connect(f);
    wait_connections(f, 4);
    int fifth = raw_connect(f); /* the kernel completes the handshake; the server closes it */
    raw_send_str(fifth, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
    char resp[512];
    bool closed;
    uint64_t t0 = now_ms();
    raw_read(fifth, resp, sizeof(resp), 5000, &closed);
    close(fifth);
    assert_true(closed);
    assert_true(now_ms() - t0 < 2000);
    assert_null(strstr(resp, "200 OK"));
    assert_true(stats_of(f).connections_refused >= 1);
    for (int i = 0; i < 4; i++)
        close(idle[i]);
    wait_connections(f, 0);
    struct reply r;
    assert_int_equal(fetch(f, NULL, "/health", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
}

static void test_body_budget_refuses_second_upload_on_headers(void **state)
{
    struct fixture *f = *state; /* max_body_inflight = 100000 */
    /* first upload: 80000 bytes announced, 1000 sent, the rest held back */
    int first = raw_connect(f);
    raw_send_str(first, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 80000\r\nConnection: close\r\n\r\n");
    static char body[80000];
    memset(body, 'b', sizeof(body));
    raw_send(first, body, 1000);
    uint64_t end = now_ms() + 5000;
    while (stats_of(f).body_bytes_admitted != 80000 && now_ms() < end)
        usleep(10 * 1000);
    assert_int_equal(stats_of(f).body_bytes_admitted, 80000);
    /* second: 50000 more would pass the budget: 503 on its headers */
    char resp[2048];
    int status = raw_exchange(f, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 50000\r\nConnection: close\r\n\r\n",
                              resp, sizeof(resp));
    assert_int_equal(status, 503);
    assert_non_null(strstr(resp, "server busy"));
    assert_non_null(strcasestr(resp, "retry-after: 1"));
    assert_int_equal(stats_of(f).busy, 1);
    /* larger than the whole budget (though under the route's cap): never admissible */
    status = raw_exchange(f, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\nConnection: close\r\n\r\n",
                          resp, sizeof(resp));
    assert_int_equal(status, 413);
    /* the first completes */
    raw_send(first, body + 1000, sizeof(body) - 1000);
    bool closed;
    raw_read(first, resp, sizeof(resp), 5000, &closed);
    close(first);
    assert_non_null(strstr(resp, "HTTP/1.1 200"));
    assert_non_null(strstr(resp, "{\"len\":80000}"));
    assert_int_equal(stats_of(f).body_bytes_admitted, 0);
    /* and the budget is free again */
    struct reply r;
    assert_int_equal(fetch(f, "POST", "/big", "application/octet-stream", body, 50000, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"len\":50000}");
}

/* ---------------------------------------------------------------- deadlines */

static void test_slow_headers_are_cut_at_the_header_deadline(void **state)
{
    struct fixture *f = *state; /* header_timeout_s = 2 */
    int fd = raw_connect(f);
    raw_send_str(fd, "GET /health HTTP/1.1\r\nHost: t\r\n");
    uint64_t t0 = now_ms();
    bool closed = false;
    /* one header line every 300 ms, never the blank line that ends them */
    while (!closed && now_ms() - t0 < 15000) {
        if (send(fd, "X-Drip: 1\r\n", 11, MSG_NOSIGNAL) < 0)
            break;
        char buf[256];
        raw_read(fd, buf, sizeof(buf), 300, &closed);
    }
    uint64_t took = now_ms() - t0;
    close(fd);
    print_message("slow headers cut after %llu ms\n", (unsigned long long)took);
    assert_true(took >= 1000 && took < 8000);
}

static void test_stalled_and_trickling_bodies_get_408(void **state)
{
    struct fixture *f = *state; /* body_timeout_s = 2 */
    for (int trickle = 0; trickle < 2; trickle++) {
        int fd = raw_connect(f);
        raw_send_str(fd, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123456789");
        uint64_t t0 = now_ms();
        char resp[1024] = "";
        bool closed = false;
        while (!closed && now_ms() - t0 < 15000) {
            if (trickle && send(fd, "x", 1, MSG_NOSIGNAL) < 0)
                break;
            raw_read(fd, resp, sizeof(resp), 300, &closed);
            if (resp[0])
                break;
        }
        uint64_t took = now_ms() - t0;
        close(fd);
        print_message("%s body answered after %llu ms\n", trickle ? "trickling" : "stalled", (unsigned long long)took);
        assert_non_null(strstr(resp, "HTTP/1.1 408"));
        assert_non_null(strstr(resp, "not received within 2 s"));
        assert_true(took >= 1000 && took < 8000);
    }
    struct reply r;
    assert_int_equal(fetch(f, NULL, "/health", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
}

/* ---------------------------------------------------------------- parsing edges */

static void test_headers_up_to_8k_are_accepted(void **state)
{
    struct fixture *f = *state;
    char *req = malloc(16384), *resp = malloc(4096);
    char value[6001];
    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    snprintf(req, 16384, "GET /health HTTP/1.1\r\nHost: t\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n", value);
    assert_int_equal(raw_exchange(f, req, resp, 4096), 200);
    /* past 8 KiB lws drops the connection without an answer */
    char big[9001];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(req, 16384, "GET /health HTTP/1.1\r\nHost: t\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n", big);
    assert_int_equal(raw_exchange(f, req, resp, 4096), 0);
    free(req);
    free(resp);
}

static void test_content_length_and_transfer_encoding_are_strict(void **state)
{
    struct fixture *f = *state;
    char resp[2048];
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\nConnection: close\r\n\r\n", 400},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +2\r\nConnection: close\r\n\r\n{}", 400},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
         400},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n"
         "Connection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
         400},
        /* lws 4.1 cannot decode chunked request bodies: refused at once, not left hanging */
        {"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: "
         "close\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
         411},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\nConnection: close\r\n\r\n", 413},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", 201},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t t0 = now_ms();
        int status = raw_exchange(f, cases[i].req, resp, sizeof(resp));
        if (status != cases[i].status)
            print_error("case %zu: got %d: %s\n", i, status, resp);
        assert_int_equal(status, cases[i].status);
        assert_true(now_ms() - t0 < 3000);
    }
}

static void test_repeated_headers_cookies_and_bearer_forms(void **state)
{
    struct fixture *f = *state;
    char resp[2048];
    assert_int_equal(raw_exchange(f,
                                  "GET /cookies HTTP/1.1\r\nHost: t\r\nCookie: a=1\r\nCookie: b=2\r\n"
                                  "Authorization: bearer   tok.en~1/+== \r\nConnection: close\r\n\r\n",
                                  resp, sizeof(resp)),
                     200);
    assert_non_null(strstr(resp, "a=1 b=2 tok=tok.en~1/+=="));
    assert_int_equal(raw_exchange(f,
                                  "GET /cookies HTTP/1.1\r\nHost: t\r\nCookie:  a = 1 ;b=2;;c\r\n"
                                  "Authorization: Bearer one\r\nAuthorization: Bearer two\r\nConnection: close\r\n\r\n",
                                  resp, sizeof(resp)),
                     200);
    assert_non_null(strstr(resp, "a=1 b=2 tok=-"));
    assert_int_equal(raw_exchange(f,
                                  "GET /cookies HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer a b\r\n"
                                  "Connection: close\r\n\r\n",
                                  resp, sizeof(resp)),
                     200);
    assert_non_null(strstr(resp, "tok=-"));
}

static void test_long_query_argument_keeps_the_others(void **state)
{
    struct fixture *f = *state;
    char *req = malloc(8192), resp[2048];
    char a[3001];
    memset(a, 'q', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    snprintf(req, 8192, "GET /query?a=%s&z=last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", a);
    assert_int_equal(raw_exchange(f, req, resp, sizeof(resp)), 200);
    assert_non_null(strstr(resp, "alen=3000 z=last"));
    free(req);
}

static void test_paths_are_normalised_before_routing(void **state)
{
    struct fixture *f = *state;
    char resp[2048], req[512];
    static const struct {
        const char *path;
        int status;
        const char *body;
    } cases[] = {
        {"/files/report.csv", 200, "name=[report.csv] path=[/files/report.csv]"},
        {"/files/..", 404, NULL},
        {"/files/%2e%2e", 404, NULL},
        {"/files/%2E%2e/files/x", 200, "name=[x] path=[/files/x]"},
        {"/files/.", 404, NULL},
        {"/files/a%2fb", 404, NULL}, /* %2F is a separator: two segments, no such route */
        {"/files/..%2f..%2fetc%2fpasswd", 404, NULL},
        {"/files//x", 200, "name=[x] path=[/files/x]"},
        {"/files/%252e%252e", 200, "name=[%2e%2e]"}, /* decoded once, never twice */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", cases[i].path);
        int status = raw_exchange(f, req, resp, sizeof(resp));
        if (status != cases[i].status)
            print_error("%s: got %d: %s\n", cases[i].path, status, resp);
        assert_int_equal(status, cases[i].status);
        if (cases[i].body)
            assert_non_null(strstr(resp, cases[i].body));
        assert_null(strstr(resp, "name=[..]"));
    }
}

static void test_expect_100_continue_is_answered(void **state)
{
    struct fixture *f = *state;
    struct reply r = {0};
    CURL *c = easy_new(f, "/upload", &r);
    char body[20000];
    memset(body, ' ', sizeof(body));
    memcpy(body, "{\"k\":1}", 7);
    struct curl_slist *h = curl_slist_append(NULL, "Expect: 100-continue");
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)sizeof(body));
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.headers, "HTTP/1.1 100 Continue"));
    /* a refused one gets its final answer instead of the 100 */
    memset(&r, 0, sizeof(r));
    c = easy_new(f, "/echo", &r);
    h = curl_slist_append(NULL, "Expect: 100-continue");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)sizeof(body));
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    assert_int_equal(r.status, 413);
    assert_null(strstr(r.headers, "100 Continue"));
}

/* Counts the responses in what a connection received (each begins with a status line). */
static int count_responses(const char *s)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, "HTTP/1.1 ")) != NULL; p += 9)
        n++;
    return n;
}

/* Regression (found by tests/fuzz/fuzz_http): lws 4.1.6 reads the body of a pipelined request
 * (sent before the previous response was complete) from its own buffer, starting at the
 * request's header bytes. With a Content-Length shorter than what it buffered, its service
 * thread then looped for ever (the whole server stopped answering); with a longer one it read
 * freed memory. Such a request now closes the connection, without an answer, once the
 * responses before it are out; pipelined requests without a body are served in order, and a
 * client that waits for each response keeps its connection for bodies too. */
static void test_pipelined_request_with_a_body_closes_the_connection(void **state)
{
    struct fixture *f = *state;
    static const char *const pipelined[] = {
        /* shorter than what follows its headers: the endless loop */
        "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
        /* longer than what follows its headers: the read of freed memory */
        "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"a\":1}",
        /* after a request with a body; and a POST without Content-Length (lws expects one) */
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\n{\"b\":2}",
        "GET /hello HTTP/1.1\r\nHost: t\r\n\r\nPOST /echo HTTP/1.1\r\nHost: t\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(pipelined) / sizeof(pipelined[0]); i++) {
        int fd = raw_connect(f);
        raw_send_str(fd, pipelined[i]); /* one write, and the connection left open */
        char resp[4096];
        bool closed;
        uint64_t t0 = now_ms();
        raw_read(fd, resp, sizeof(resp), 5000, &closed);
        close(fd);
        assert_true(closed);
        assert_true(now_ms() - t0 < 2000);
        assert_int_equal(count_responses(resp), 1); /* the first one only */
        assert_non_null(strstr(resp, i == 2 ? "HTTP/1.1 201" : "HTTP/1.1 200"));
        assert_int_equal(stats_of(f).pipelined_refused, i + 1);
        /* the server still answers everyone */
        assert_int_equal(
            raw_exchange(f, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp, sizeof(resp)), 200);
    }
    wait_connections(f, 0);

    /* Pipelined requests without a body: all answered, in order, on the same connection. */
    int fd = raw_connect(f);
    raw_send_str(fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /headers HTTP/1.1\r\nHost: t\r\nX-Tag: two\r\n\r\n"
                     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    char resp[8192];
    raw_read_until(fd, resp, sizeof(resp), "bad JSON", 5000);
    assert_int_equal(count_responses(resp), 3);
    assert_non_null(strstr(resp, "hello"));
    assert_true(strstr(resp, "hello") < strstr(resp, "bad JSON"));

    /* A client that waits for each answer: bodies on a kept-alive connection are served. */
    for (int k = 0; k < 3; k++) {
        raw_send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                         "Content-Length: 7\r\n\r\n{\"k\":1}");
        raw_read_until(fd, resp, sizeof(resp), "\"len\":7}", 5000);
        assert_non_null(strstr(resp, "HTTP/1.1 201"));
        raw_send_str(fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        raw_read_until(fd, resp, sizeof(resp), "hello", 5000);
        assert_non_null(strstr(resp, "HTTP/1.1 200"));
    }
    close(fd);
    assert_int_equal(stats_of(f).pipelined_refused, 4);
    wait_connections(f, 0);
}

/* A POST without Content-Length has no body (for us), but lws 4.1.6 expects one and took the
 * next request on the kept-alive connection for it: that request was never answered. Its
 * answer now closes the connection, so the client sends the next one on a new connection. */
static void test_post_without_content_length_closes_the_connection(void **state)
{
    struct fixture *f = *state;
    int fd = raw_connect(f);
    raw_send_str(fd, "POST /batches/7/start HTTP/1.1\r\nHost: t\r\n\r\n");
    char resp[4096];
    bool closed;
    raw_read(fd, resp, sizeof(resp), 5000, &closed);
    close(fd);
    assert_true(closed);
    assert_non_null(strstr(resp, "HTTP/1.1 200"));
    assert_non_null(strcasestr(resp, "connection: close"));
    assert_non_null(strstr(resp, "\"action\":\"start\""));
    /* with a Content-Length, even 0, the connection stays for the next request */
    fd = raw_connect(f);
    raw_send_str(fd, "POST /batches/7/start HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    raw_read_until(fd, resp, sizeof(resp), "\"page\"", 5000);
    assert_null(strcasestr(resp, "connection: close"));
    raw_send_str(fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    raw_read_until(fd, resp, sizeof(resp), "hello", 5000);
    assert_non_null(strstr(resp, "HTTP/1.1 200"));
    close(fd);
    wait_connections(f, 0);
}

static void test_response_header_validation(void **state)
{
    struct fixture *f = *state;
    struct reply r;
    assert_int_equal(fetch(f, NULL, "/resp-headers", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok");
    assert_non_null(strcasestr(r.headers, "set-cookie: jwt=vvvv"));
    assert_null(strcasestr(r.headers, "injected"));
}

/* ---------------------------------------------------------------- streams */

/* Waits (up to timeout_ms) until *v == want, then asserts it. */
static void wait_int(atomic_int *v, int want, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    while (atomic_load(v) != want && now_ms() < end)
        usleep(10 * 1000);
    assert_int_equal(atomic_load(v), want);
}

static void wait_streams(const struct fixture *f, unsigned n)
{
    uint64_t end = now_ms() + 5000;
    while (stats_of(f).streams != n && now_ms() < end)
        usleep(10 * 1000);
    assert_int_equal(stats_of(f).streams, n);
}

/* A stream's bytes as curl hands them over, with when the first and last piece came. */
struct sse {
    char body[4096];
    size_t len;
    int pieces;
    uint64_t first_ms, last_ms;
};

static size_t on_sse(char *p, size_t sz, size_t n, void *ud)
{
    struct sse *e = ud;
    size_t len = sz * n, room = sizeof(e->body) - 1 - e->len, c = len < room ? len : room;
    memcpy(e->body + e->len, p, c);
    e->len += c;
    e->body[e->len] = '\0';
    e->last_ms = now_ms();
    if (!e->pieces++)
        e->first_ms = e->last_ms;
    return len;
}

/* GETs `path` and reads the stream until the server ends it. Returns the curl code. */
static int get_stream(const struct fixture *f, const char *path, struct sse *e, struct reply *r)
{
    memset(e, 0, sizeof(*e));
    memset(r, 0, sizeof(*r));
    CURL *c = easy_new(f, path, r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_sse);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, e);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    return (int)rc;
}

static void test_stream_delivers_three_events_from_a_timer(void **state)
{
    struct fixture *f = *state;
    struct sse e;
    struct reply r;
    assert_int_equal(get_stream(f, "/events?n=3&ms=100", &e, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(e.body, "data: 1\n\ndata: 2\n\ndata: 3\n\n");
    /* pushed as they were written, not collected into one answer */
    assert_true(e.pieces >= 2);
    assert_true(e.last_ms - e.first_ms >= 100);
    assert_non_null(strcasestr(r.headers, "content-type: text/event-stream"));
    assert_non_null(strcasestr(r.headers, "cache-control: no-cache"));
    assert_non_null(strcasestr(r.headers, "x-stream: 1"));
    assert_non_null(strcasestr(r.headers, "connection: close"));
    assert_null(strcasestr(r.headers, "content-length"));
    wait_streams(f, 0);
    assert_int_equal(atomic_load(&f->closes), 0); /* ended by its owner: no close callback */
    assert_int_equal(stats_of(f).requests, 1);
    /* misuse: a second begin changes nothing; a respond ends the stream */
    assert_int_equal(get_stream(f, "/stream-then-respond", &e, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    char want[64];
    snprintf(want, sizeof(want), "begin again: %d\n", HTTP_ERR_STATE);
    assert_string_equal(e.body, want);
    assert_int_equal(atomic_load(&f->flood_rc), HTTP_ERR_STATE);
    wait_streams(f, 0);
}

static void test_stream_outlives_request_and_keepalive_timeouts(void **state)
{
    struct fixture *f = *state; /* request_timeout_ms = 500, keepalive_s = 1 */
    struct sse e;
    struct reply r;
    uint64_t t0 = now_ms();
    assert_int_equal(get_stream(f, "/events?n=4&ms=600", &e, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(e.body, "data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n");
    assert_true(now_ms() - t0 >= 2000);
}

struct post_msg {
    struct fixture *f;
    int k;
    bool last;
};

/* Writes "data: k" to the parked stream (ends it after the last). On the service thread. */
static void task_stream_write(struct http_server *srv, void *arg)
{
    struct post_msg *m = arg;
    struct fixture *f = m->f;
    pthread_mutex_lock(&f->lock);
    struct http_request *req = f->parked;
    pthread_mutex_unlock(&f->lock);
    if (req) {
        char msg[32];
        int len = snprintf(msg, sizeof(msg), "data: %d\n\n", m->k);
        if (http_request_stream_write(req, msg, (size_t)len) != 0 || m->last) {
            pthread_mutex_lock(&f->lock);
            f->parked = NULL;
            pthread_mutex_unlock(&f->lock);
            http_request_stream_end(req);
        }
    }
    free(m);
}

static void *stream_poster(void *arg)
{
    struct fixture *f = arg;
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&f->lock);
        bool have = f->parked != NULL;
        pthread_mutex_unlock(&f->lock);
        if (have)
            break;
        usleep(10 * 1000);
    }
    for (int k = 1; k <= 3; k++) {
        struct post_msg *m = calloc(1, sizeof(*m));
        *m = (struct post_msg){.f = f, .k = k, .last = k == 3};
        if (http_server_post(f->srv, task_stream_write, m) != 0)
            free(m);
        usleep(100 * 1000);
    }
    return NULL;
}

static void test_stream_fed_from_another_thread(void **state)
{
    struct fixture *f = *state;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stream_poster, f), 0);
    struct sse e;
    struct reply r;
    int rc = get_stream(f, "/events-park", &e, &r);
    pthread_join(t, NULL);
    assert_int_equal(rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(e.body, "data: 1\n\ndata: 2\n\ndata: 3\n\n");
}

static void test_stream_client_disconnect_runs_close_callback(void **state)
{
    struct fixture *f = *state;
    int fd = raw_connect(f);
    raw_send_str(fd, "GET /events-forever HTTP/1.1\r\nHost: t\r\n\r\n");
    char resp[2048];
    raw_read_until(fd, resp, sizeof(resp), ": hello\n\n", 5000);
    assert_non_null(strstr(resp, "HTTP/1.1 200"));
    assert_non_null(strcasestr(resp, "content-type: text/event-stream; charset=utf-8"));
    assert_non_null(strstr(resp, ": hello\n\n"));
    wait_streams(f, 1);
    assert_int_equal(atomic_load(&f->closes), 0);
    close(fd);
    wait_int(&f->closes, 1, 5000);
    assert_int_equal(atomic_load(&f->closes_gone), 1);
    wait_streams(f, 0);
    wait_connections(f, 0);
}

/* Regression (found by tests/fuzz/fuzz_http): bytes after the body of a request answered with a
 * stream made lws re-attach a header table to the stream's connection on every service round,
 * which swallowed its WRITEABLE callbacks: the stream was never written nor closed (and the
 * loop spun). A stream's client has nothing more to say: such bytes end the stream. */
static void test_stream_client_sending_after_its_body_is_closed(void **state)
{
    struct fixture *f = *state;
    int fd = raw_connect(f);
    raw_send_str(fd, "GET /events-forever HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                     "GET /events-forever HTTP/1.1\r\n\r\n");
    char resp[2048];
    bool closed;
    uint64_t t0 = now_ms();
    raw_read(fd, resp, sizeof(resp), 5000, &closed);
    close(fd);
    assert_true(closed);
    assert_true(now_ms() - t0 < 3000);
    wait_int(&f->closes, 1, 5000);
    wait_streams(f, 0);
    wait_connections(f, 0);
}

static void test_stream_not_read_is_cut_at_the_queue_cap(void **state)
{
    struct fixture *f = *state; /* stream_queue_max = 256 KiB */
    int fd = raw_connect(f);
    raw_send_str(fd, "GET /flood HTTP/1.1\r\nHost: t\r\n\r\n");
    /* never read: the socket buffers fill, then the stream's queue, then the cut */
    uint64_t t0 = now_ms();
    wait_int(&f->closes, 1, 30000);
    print_message("stream cut after %llu ms, at most %zu bytes queued\n", (unsigned long long)(now_ms() - t0),
                  atomic_load(&f->flood_max_pending));
    assert_int_equal(atomic_load(&f->flood_rc), HTTP_ERR_FULL);
    assert_string_equal(http_strerror(HTTP_ERR_FULL), "stream queue full: stream cut");
    assert_true(atomic_load(&f->flood_max_pending) <= 256 * 1024);
    assert_true(atomic_load(&f->flood_max_pending) > 0);
    /* the server closed its side although the client still holds its socket */
    wait_streams(f, 0);
    wait_connections(f, 0);
    close(fd);
}

static void test_streams_count_against_max_connections(void **state)
{
    struct fixture *f = *state; /* max_connections = 4 */
    int fds[4];
    char resp[2048];
    for (int i = 0; i < 4; i++) {
        fds[i] = raw_connect(f);
        raw_send_str(fds[i], "GET /events-forever HTTP/1.1\r\nHost: t\r\n\r\n");
        raw_read_until(fds[i], resp, sizeof(resp), ": hello\n\n", 5000);
        assert_non_null(strstr(resp, ": hello\n\n"));
    }
    wait_streams(f, 4);
    int fifth = raw_connect(f);
    raw_send_str(fifth, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
    bool closed;
    raw_read(fifth, resp, sizeof(resp), 5000, &closed);
    close(fifth);
    assert_true(closed);
    assert_null(strstr(resp, "200 OK"));
    assert_true(stats_of(f).connections_refused >= 1);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    wait_int(&f->closes, 4, 5000);
    wait_connections(f, 0);
    struct reply r;
    assert_int_equal(fetch(f, NULL, "/health", NULL, NULL, 0, NULL, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
}

struct stream_client {
    const struct fixture *f;
    struct sse e;
    struct reply r;
    int rc;
};

static void *stream_client_thread(void *arg)
{
    struct stream_client *c = arg;
    c->rc = get_stream(c->f, "/events-forever", &c->e, &c->r);
    return NULL;
}

static void test_stop_ends_open_streams_promptly(void **state)
{
    struct fixture *f = *state; /* stop_grace_ms = 20000 */
    struct stream_client c = {.f = f};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stream_client_thread, &c), 0);
    wait_streams(f, 1);
    uint64_t t0 = now_ms();
    fixture_halt(f);
    uint64_t took = now_ms() - t0;
    pthread_join(t, NULL);
    print_message("stop with an open stream took %llu ms\n", (unsigned long long)took);
    assert_true(took < 5000);
    assert_int_equal(f->run_rc, 0);
    assert_int_equal(c.rc, CURLE_OK);
    assert_int_equal(c.r.status, 200);
    assert_string_equal(c.e.body, ": hello\n\n");
    assert_int_equal(atomic_load(&f->closes), 1);
}

/* ---------------------------------------------------------------- uploads */

/* The Content-Type of the forms built by hand here (mp_body). */
#define MP_CT "Content-Type: multipart/form-data; boundary=gsp-B0undary\r\n"

/* The bytes of a generated file: position-dependent, so a lost, doubled or moved chunk shows. */
static unsigned char gen_byte(size_t i)
{
    uint32_t x = (uint32_t)i * 2654435761u;
    return (unsigned char)((x >> 13) ^ (i >> 16));
}

static uint64_t gen_sum(size_t size)
{
    uint64_t h = FNV_START;
    for (size_t i = 0; i < size; i++) {
        unsigned char b = gen_byte(i);
        h = fnv1a(h, &b, 1);
    }
    return h;
}

/* curl's reader of a generated file part; watches the server's in-memory body counters. */
struct gen {
    const struct fixture *f;
    size_t size, pos;
    size_t admitted_max;
    uint64_t received_max;
};

static size_t gen_read(char *buf, size_t sz, size_t n, void *arg)
{
    struct gen *g = arg;
    size_t want = sz * n, left = g->size - g->pos;
    if (want > left)
        want = left;
    for (size_t i = 0; i < want; i++)
        buf[i] = (char)gen_byte(g->pos + i);
    g->pos += want;
    struct http_stats st = stats_of(g->f);
    if (st.body_bytes_admitted > g->admitted_max)
        g->admitted_max = st.body_bytes_admitted;
    if (st.body_bytes_received > g->received_max)
        g->received_max = st.body_bytes_received;
    return want;
}

static int gen_seek(void *arg, curl_off_t offset, int origin)
{
    struct gen *g = arg;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > g->size)
        return CURL_SEEKFUNC_CANTSEEK;
    g->pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* POSTs a multipart form with curl: text fields `kv` (name, value, ..., NULL) and, when
 * filename is not NULL, a generated file of g->size bytes in part "file". */
static int upload(const struct fixture *f, const char *path, const char *const *kv, const char *filename, struct gen *g,
                  struct reply *r)
{
    memset(r, 0, sizeof(*r));
    CURL *c = easy_new(f, path, r);
    curl_mime *mime = curl_mime_init(c);
    for (size_t i = 0; kv && kv[i]; i += 2) {
        curl_mimepart *part = curl_mime_addpart(mime);
        curl_mime_name(part, kv[i]);
        curl_mime_data(part, kv[i + 1], CURL_ZERO_TERMINATED);
    }
    if (filename) {
        curl_mimepart *part = curl_mime_addpart(mime);
        curl_mime_name(part, "file");
        curl_mime_filename(part, filename);
        curl_mime_type(part, "text/csv");
        curl_mime_data_cb(part, (curl_off_t)g->size, gen_read, gen_seek, NULL, g);
    }
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer s3cret-T0ken");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    curl_mime_free(mime);
    curl_slist_free_all(h);
    return (int)rc;
}

/* Files in the fixture's temp dir now. */
static int tmp_files(const struct fixture *f)
{
    int n = 0;
    DIR *d = opendir(f->tmpdir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void wait_tmp_files(const struct fixture *f, int n)
{
    uint64_t end = now_ms() + 5000;
    while (tmp_files(f) != n && now_ms() < end)
        usleep(10 * 1000);
    assert_int_equal(tmp_files(f), n);
}

static const char *json_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double json_num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static bool json_true(const cJSON *o, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static long rss_kb(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (fp && fgets(line, sizeof(line), fp))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (fp)
        fclose(fp);
    return kb;
}

static const char utf8_name[] = "Lote de caf\xc3\xa9 \xe2\x98\x95 \xe6\x97\xa5\xe6\x9c\xac";

static void test_upload_streams_the_file_to_a_temp_file(void **state)
{
    struct fixture *f = *state;
    size_t size = 5 * 1000 * 1000;
    struct gen g = {.f = f, .size = size};
    const char *kv[] = {"name", utf8_name, "sheet",   "Hoja 1", "skip_invalid", "1", "allow_duplicate",
                        "0",    "other",   "dropped", NULL};
    struct reply r;
    long rss0 = rss_kb();
    assert_int_equal(upload(f, "/batches/upload", kv, "pedidos.csv", &g, &r), CURLE_OK);
    print_message("5 MB upload: RSS %ld -> %ld kB\n", rss0, rss_kb());
    if (r.status != 200)
        print_error("%s\n", r.body);
    assert_int_equal(r.status, 200);
    cJSON *o = cJSON_Parse(r.body);
    assert_non_null(o);
    assert_true(json_true(o, "file"));
    assert_int_equal((size_t)json_num(o, "size"), size);
    assert_int_equal((size_t)json_num(o, "read"), size);
    char want[32];
    snprintf(want, sizeof(want), "%016llx", (unsigned long long)gen_sum(size));
    assert_string_equal(json_str(o, "sum"), want);
    assert_string_equal(json_str(o, "filename"), "pedidos.csv");
    assert_true(json_true(o, "mode_0600"));
    assert_true(json_true(o, "in_tmp_dir"));
    assert_string_equal(json_str(o, "name"), utf8_name);
    assert_string_equal(json_str(o, "sheet"), "Hoja 1");
    assert_string_equal(json_str(o, "skip_invalid"), "1");
    assert_string_equal(json_str(o, "allow_duplicate"), "0");
    assert_true(json_true(o, "form_same"));
    assert_int_equal((int)json_num(o, "body_len"), 0);
    cJSON_Delete(o);
    /* the body was never held in the request: nothing admitted to or stored in memory */
    struct http_stats st = stats_of(f);
    assert_int_equal(g.admitted_max, 0);
    assert_int_equal(g.received_max, 0);
    assert_int_equal(st.body_bytes_received, 0);
    assert_int_equal(st.body_bytes_admitted, 0);
    assert_int_equal(st.upload_bytes, size);
    /* and its temp file went with the request */
    assert_int_equal(tmp_files(f), 0);
}

static void test_upload_renamed_by_the_handler_is_kept(void **state)
{
    struct fixture *f = *state;
    struct gen g = {.f = f, .size = 1000};
    struct reply r;
    assert_int_equal(upload(f, "/batches/upload?keep=1", NULL, "a.csv", &g, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"kept\":true"));
    DIR *d = opendir(f->tmpdir);
    struct dirent *e;
    int kept = 0;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".kept")) {
            char path[512];
            snprintf(path, sizeof(path), "%s/%s", f->tmpdir, e->d_name);
            struct stat st;
            assert_int_equal(stat(path, &st), 0);
            assert_int_equal(st.st_size, 1000);
            unlink(path);
            kept++;
        }
    closedir(d);
    assert_int_equal(kept, 1);
    assert_int_equal(tmp_files(f), 0);
}

static void test_upload_over_max_file_is_413_and_leaves_no_temp_file(void **state)
{
    struct fixture *f = *state; /* /small-upload: max_file 1 MiB, max_body 8 MiB */
    /* A raw client that reads while it sends: curl stops at the first failed send (the
     * server closes after answering) without reading the answer it already has. */
    size_t file = 3u << 20;
    char head[1024];
    static const char part[] = "--gsp-B0undary\r\nContent-Disposition: form-data; name=\"file\"; "
                               "filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\n";
    static const char end[] = "\r\n--gsp-B0undary--\r\n";
    snprintf(head, sizeof(head),
             "POST /small-upload HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret-T0ken\r\n" MP_CT
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             sizeof(part) - 1 + file + sizeof(end) - 1, part);
    int fd = raw_connect(f);
    raw_send_str(fd, head);
    static char chunk[65536];
    memset(chunk, 'z', sizeof(chunk));
    char resp[4096] = "";
    size_t sent = 0, got = 0;
    uint64_t t0 = now_ms(), deadline = t0 + 15000;
    while (now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (sent < file ? POLLOUT : 0)};
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (p.revents & POLLIN) {
            ssize_t n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
            resp[got] = '\0';
            continue;
        }
        if (p.revents & POLLOUT) {
            size_t want = file - sent < sizeof(chunk) ? file - sent : sizeof(chunk);
            ssize_t w = send(fd, chunk, want, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                break; /* closed by the server: read what it answered */
        }
    }
    got += raw_read(fd, resp + got, sizeof(resp) - got, 1000, NULL);
    close(fd);
    print_message("413 after %llu ms, %zu of %zu file bytes sent\n", (unsigned long long)(now_ms() - t0), sent, file);
    assert_non_null(strstr(resp, "HTTP/1.1 413"));
    assert_non_null(strstr(resp, "uploaded file exceeds the limit of 1048576 bytes"));
    assert_int_equal(tmp_files(f), 0);
    assert_true(stats_of(f).upload_bytes <= 1u << 20);
    wait_connections(f, 0);
    struct reply ok;
    assert_int_equal(fetch(f, NULL, "/health", NULL, NULL, 0, NULL, &ok), CURLE_OK);
    assert_int_equal(ok.status, 200);
}

static void test_upload_disconnect_midway_leaves_no_temp_file(void **state)
{
    struct fixture *f = *state;
    int fd = raw_connect(f);
    raw_send_str(fd, "POST /batches/upload HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret-T0ken\r\n"
                     "Content-Type: multipart/form-data; boundary=gsp-B0undary\r\nContent-Length: 4000000\r\n\r\n"
                     "--gsp-B0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"half.csv\"\r\n"
                     "Content-Type: text/csv\r\n\r\n");
    static char chunk[512 * 1024];
    memset(chunk, 'h', sizeof(chunk));
    raw_send(fd, chunk, sizeof(chunk));
    /* the file is being written */
    wait_tmp_files(f, 1);
    uint64_t end = now_ms() + 5000;
    while (stats_of(f).upload_bytes == 0 && now_ms() < end)
        usleep(10 * 1000);
    assert_true(stats_of(f).upload_bytes > 0);
    close(fd);
    wait_connections(f, 0);
    wait_tmp_files(f, 0);
    struct gen g = {.f = f, .size = 10};
    struct reply r;
    assert_int_equal(upload(f, "/batches/upload", NULL, "x.csv", &g, &r), CURLE_OK);
    assert_int_equal(r.status, 200);
}

/* POSTs `body` with a raw socket (Connection: close) and reads the answer; a server that
 * answers before the whole body was sent is fine. Returns the status (0 = none). */
static int raw_post(const struct fixture *f, const char *path, const char *headers, const char *body, size_t blen,
                    char *out, size_t cap)
{
    char head[1024];
    snprintf(head, sizeof(head),
             "POST %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret-T0ken\r\n%sContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             path, headers, blen);
    int fd = raw_connect(f);
    raw_send_str(fd, head);
    size_t sent = 0;
    while (sent < blen) {
        ssize_t w = send(fd, body + sent, blen - sent, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        sent += (size_t)w;
    }
    bool closed;
    raw_read(fd, out, cap, 5000, &closed);
    close(fd);
    int status = 0;
    if (sscanf(out, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    return status;
}

/* A form with boundary "gsp-B0undary": text fields (name, value, ..., NULL), a file part
 * unless filename is NULL, and the closing boundary unless `unclosed`. Caller frees. */
static char *mp_body(const char *const *kv, const char *filename, const char *data, bool unclosed, size_t *len)
{
    char *out = NULL;
    size_t size;
    FILE *ms = open_memstream(&out, len ? len : &size);
    for (size_t i = 0; kv && kv[i]; i += 2)
        fprintf(ms, "--gsp-B0undary\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n", kv[i], kv[i + 1]);
    if (filename)
        fprintf(ms,
                "--gsp-B0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                "Content-Type: text/csv\r\n\r\n%s\r\n",
                filename, data);
    if (!unclosed)
        fputs("--gsp-B0undary--\r\n", ms);
    fclose(ms);
    return out;
}

static void test_upload_file_names_fields_and_no_file(void **state)
{
    struct fixture *f = *state;
    char resp[4096];
    size_t len;
    static const struct {
        const char *sent, *seen;
    } names[] = {
        {"../../etc/x.csv", "x.csv"},
        {"C:\\Users\\ana\\y.csv", "y.csv"},
        {"dir/..", "upload"},
        {"tab\there.csv", "tab_here.csv"},
        {"pedidos de mar\xc3\xa7o.csv", "pedidos de mar\xc3\xa7o.csv"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *kv[] = {"name", utf8_name, NULL};
        char *body = mp_body(kv, names[i].sent, "sku;qty\nA-1;2\n", false, &len);
        int status = raw_post(f, "/batches/upload", MP_CT, body, len, resp, sizeof(resp));
        free(body);
        assert_int_equal(status, 200);
        char *json = strstr(resp, "\r\n\r\n");
        assert_non_null(json);
        cJSON *o = cJSON_Parse(json + 4);
        assert_non_null(o);
        assert_true(json_true(o, "file"));
        assert_string_equal(json_str(o, "filename"), names[i].seen);
        assert_int_equal((int)json_num(o, "size"), 14);
        assert_string_equal(json_str(o, "name"), utf8_name);
        cJSON_Delete(o);
    }
    /* a form without the file part: the handler sees no file, the fields all the same */
    const char *kv[] = {"name", "sin archivo", "sheet", "Hoja \xe2\x84\x96 2", NULL};
    char *body = mp_body(kv, NULL, NULL, false, &len);
    assert_int_equal(raw_post(f, "/batches/upload", MP_CT, body, len, resp, sizeof(resp)), 200);
    free(body);
    assert_non_null(strstr(resp, "\"file\":false"));
    assert_non_null(strstr(resp, "\"name\":\"sin archivo\""));
    assert_non_null(strstr(resp, "\"sheet\":\"Hoja \xe2\x84\x96 2\""));
    assert_non_null(strstr(resp, "\"skip_invalid\":null"));
    /* the file part first, the fields after it */
    static const char file_first[] =
        "--gsp-B0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.csv\"\r\n\r\n"
        "a,b\r\n1,2\r\n--gsp-B0undary\r\nContent-Disposition: form-data; name=\"sheet\"\r\n\r\nS\r\n"
        "--gsp-B0undary--\r\n";
    assert_int_equal(raw_post(f, "/batches/upload", MP_CT, file_first, sizeof(file_first) - 1, resp, sizeof(resp)),
                     200);
    assert_non_null(strstr(resp, "\"size\":8"));
    assert_non_null(strstr(resp, "\"sheet\":\"S\""));
    /* an empty file is a file */
    body = mp_body(NULL, "empty.csv", "", false, &len);
    assert_int_equal(raw_post(f, "/batches/upload", MP_CT, body, len, resp, sizeof(resp)), 200);
    free(body);
    assert_non_null(strstr(resp, "\"file\":true"));
    assert_non_null(strstr(resp, "\"size\":0"));
    assert_int_equal(tmp_files(f), 0);
}

static void test_upload_route_refuses_what_is_not_a_whole_form(void **state)
{
    struct fixture *f = *state;
    char resp[4096];
    size_t len;
    const char *kv[] = {"name", "n", NULL};
    char *good = mp_body(kv, "a.csv", "x", false, &len);
    char *unclosed = mp_body(kv, "a.csv", "x", true, NULL);
    char trailing[2048];
    snprintf(trailing, sizeof(trailing), "%s%0300d", good, 7);
    char long_field[1200];
    memset(long_field, 'f', 1000);
    long_field[1000] = '\0';
    const char *kv_long[] = {"name", long_field, NULL};
    char *too_long = mp_body(kv_long, NULL, NULL, false, NULL);
    static const char json[] = "{\"name\":\"x\"}";
    const struct {
        const char *path, *headers, *body;
        int status;
        const char *error;
    } cases[] = {
        {"/batches/upload", "Content-Type: application/json\r\n", json, 415, "multipart/form-data"},
        {"/batches/upload", "", json, 415, "multipart/form-data"},
        {"/batches/upload", "Content-Type: multipart/form-data\r\n", good, 400, "boundary"},
        {"/batches/upload", "Content-Type: multipart/form-data; boundary=\r\n", good, 400, "boundary"},
        {"/batches/upload", MP_CT, "", 400, "empty body"},
        {"/batches/upload", MP_CT, unclosed, 400, "closing boundary"},
        {"/batches/upload", MP_CT, trailing, 400, "closing boundary"},
        {"/small-upload", MP_CT, too_long, 413, "form fields exceed the limit of 256 bytes"},
        {"/batches/upload", MP_CT, good, 200, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int status =
            raw_post(f, cases[i].path, cases[i].headers, cases[i].body, strlen(cases[i].body), resp, sizeof(resp));
        if (status != cases[i].status)
            print_error("case %zu: got %d: %s\n", i, status, resp);
        assert_int_equal(status, cases[i].status);
        if (cases[i].error)
            assert_non_null(strstr(resp, cases[i].error));
        assert_int_equal(tmp_files(f), 0);
    }
    free(good);
    free(unclosed);
    free(too_long);
    /* decided on the headers, as for any route: chunked (411), the route's cap (413) */
    assert_int_equal(
        raw_exchange(f,
                     "POST /batches/upload HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret-T0ken\r\n" MP_CT
                     "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
                     resp, sizeof(resp)),
        411);
    assert_int_equal(
        raw_exchange(f,
                     "POST /small-upload HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret-T0ken\r\n" MP_CT
                     "Content-Length: 9000000\r\nConnection: close\r\n\r\n",
                     resp, sizeof(resp)),
        413);
    assert_int_equal(stats_of(f).body_bytes_received, 0);
}

static void test_upload_unauthenticated_reads_no_body(void **state)
{
    struct fixture *f = *state;
    int fd = raw_connect(f);
    raw_send_str(fd, "POST /batches/upload HTTP/1.1\r\nHost: t\r\n" MP_CT "Content-Length: 5000000\r\n\r\n"
                     "--gsp-B0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n\r\n");
    char resp[2048];
    bool closed;
    uint64_t t0 = now_ms();
    raw_read(fd, resp, sizeof(resp), 5000, &closed);
    close(fd);
    assert_true(now_ms() - t0 < 2000);
    assert_non_null(strstr(resp, "HTTP/1.1 401"));
    assert_int_equal(stats_of(f).upload_bytes, 0);
    assert_int_equal(stats_of(f).unauthorized, 1);
    assert_int_equal(tmp_files(f), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_route_captures_params_and_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_path_is_404_and_wrong_method_405, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_json_body_is_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_over_cap_is_413, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers_cookies_and_bearer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_asset_served_with_content_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifty_concurrent_clients_all_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_response_does_not_block_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_timeout_answers_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_posted_from_another_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graceful_stop_finishes_inflight_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_is_prompt_when_idle_and_port_reuse_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unauthorized_upload_refused_on_headers_alone, setup_guarded, teardown),
        cmocka_unit_test_setup_teardown(test_unauthorized_client_pushing_its_body_is_cut_off, setup_guarded, teardown),
        cmocka_unit_test_setup_teardown(test_authorized_upload_is_served, setup_guarded, teardown),
        cmocka_unit_test_setup_teardown(test_authorizer_exemptions_and_wrong_tokens, setup_guarded, teardown),
        cmocka_unit_test_setup_teardown(test_connection_cap_closes_the_fifth_and_recovers, setup_guarded, teardown),
        cmocka_unit_test_setup_teardown(test_body_budget_refuses_second_upload_on_headers, setup_budget, teardown),
        cmocka_unit_test_setup_teardown(test_slow_headers_are_cut_at_the_header_deadline, setup_deadlines, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_and_trickling_bodies_get_408, setup_deadlines, teardown),
        cmocka_unit_test_setup_teardown(test_headers_up_to_8k_are_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_length_and_transfer_encoding_are_strict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeated_headers_cookies_and_bearer_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_query_argument_keeps_the_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paths_are_normalised_before_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_100_continue_is_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_request_with_a_body_closes_the_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_without_content_length_closes_the_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_header_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_delivers_three_events_from_a_timer, setup_streams, teardown),
        cmocka_unit_test_setup_teardown(test_stream_outlives_request_and_keepalive_timeouts, setup_streams, teardown),
        cmocka_unit_test_setup_teardown(test_stream_fed_from_another_thread, setup_streams, teardown),
        cmocka_unit_test_setup_teardown(test_stream_client_disconnect_runs_close_callback, setup_streams, teardown),
        cmocka_unit_test_setup_teardown(test_stream_client_sending_after_its_body_is_closed, setup_streams, teardown),
        cmocka_unit_test_setup_teardown(test_stream_not_read_is_cut_at_the_queue_cap, setup_streams, teardown),
        cmocka_unit_test_setup_teardown(test_streams_count_against_max_connections, setup_streams, teardown),
        cmocka_unit_test_setup_teardown(test_stop_ends_open_streams_promptly, setup_streams, teardown),
        cmocka_unit_test_setup_teardown(test_upload_streams_the_file_to_a_temp_file, setup_uploads, teardown),
        cmocka_unit_test_setup_teardown(test_upload_renamed_by_the_handler_is_kept, setup_uploads, teardown),
        cmocka_unit_test_setup_teardown(test_upload_over_max_file_is_413_and_leaves_no_temp_file, setup_uploads,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_upload_disconnect_midway_leaves_no_temp_file, setup_uploads, teardown),
        cmocka_unit_test_setup_teardown(test_upload_file_names_fields_and_no_file, setup_uploads, teardown),
        cmocka_unit_test_setup_teardown(test_upload_route_refuses_what_is_not_a_whole_form, setup_uploads, teardown),
        cmocka_unit_test_setup_teardown(test_upload_unauthenticated_reads_no_body, setup_uploads, teardown),
    };
    if (getenv("HTTP_TEST_FILTER")) /* e.g. HTTP_TEST_FILTER='test_upload*' */
        cmocka_set_test_filter(getenv("HTTP_TEST_FILTER"));
    int rc = cmocka_run_group_tests_name("http", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
