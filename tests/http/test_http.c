/*
 * test_http.c — the gsphttp server over real loopback HTTP with libcurl: routing with
 * captured params and query strings, 404/405, JSON bodies and the 413 cap, headers and
 * cookies, embedded assets, late answers on timers and from other threads, the per-request
 * timeout, 50 concurrent clients, a slow request not blocking others, and graceful stop.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static const char asset_css[] = "body{color:red}";

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    struct http_config cfg = {.port = 0, .max_body = 1000, .request_timeout_ms = 1500};
    f->srv = http_server_new(&cfg);
    assert_non_null(f->srv);
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
    };
    int rc = cmocka_run_group_tests_name("http", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
