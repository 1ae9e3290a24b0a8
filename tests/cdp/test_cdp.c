/*
 * test_cdp.c - the cdp page API against real headless Chromium and pages in
 * tests/pages served over loopback by tests/support/static_server. One
 * browser for the whole group, a fresh page (isolated context) per test.
 * Timing assertions test "never hangs" (a call ends near its deadline, with
 * seconds of slack for sanitizers and loaded machines), never precision. Some
 * tests launch their own browser (SIGCHLD ignored, environment); the binary
 * doubles as a probe "Chromium" for one of them (see main).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <libwebsockets.h>

#include "cdp.h"
#include "static_server.h"

struct env {
    struct static_server *srv;
    struct cdp_browser *b;
    struct cdp_page *p;
    char base[64];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define CHECK_OK(rc, obj_msg)                                                                                          \
    do {                                                                                                               \
        int rc_ = (rc);                                                                                                \
        if (rc_ != 0)                                                                                                  \
            fail_msg("%s -> %d (%s): %s", #rc, rc_, cdp_strerror(rc_), obj_msg);                                       \
    } while (0)

static void url_of(const struct env *e, const char *page, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", e->base, page);
}

static void go(struct env *e, const char *page)
{
    char url[256];
    url_of(e, page, url, sizeof(url));
    int status = -1;
    CHECK_OK(cdp_page_navigate(e->p, url, 10000, &status), cdp_page_errmsg(e->p));
    assert_int_equal(status, 200);
}

static double eval_num(struct env *e, const char *expr)
{
    cJSON *v = NULL;
    CHECK_OK(cdp_page_evaluate(e->p, expr, 5000, &v), cdp_page_errmsg(e->p));
    if (!cJSON_IsNumber(v))
        fail_msg("%s is not a number", expr);
    double d = v->valuedouble;
    cJSON_Delete(v);
    return d;
}

static char *eval_str(struct env *e, const char *expr)
{
    cJSON *v = NULL;
    CHECK_OK(cdp_page_evaluate(e->p, expr, 5000, &v), cdp_page_errmsg(e->p));
    if (!cJSON_IsString(v))
        fail_msg("%s is not a string", expr);
    char *s = strdup(v->valuestring);
    cJSON_Delete(v);
    return s;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

static int group_setup(void **state)
{
    lws_set_log_level(LLL_ERR, NULL);
    struct env *e = calloc(1, sizeof(*e));
    e->srv = static_server_start(GSPBOT_TEST_PAGES);
    if (!e->srv) {
        fprintf(stderr, "cannot start the static server on %s\n", GSPBOT_TEST_PAGES);
        return -1;
    }
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", static_server_port(e->srv));
    e->b = cdp_browser_new();
    int rc = cdp_browser_launch(e->b, NULL);
    if (rc) {
        fprintf(stderr, "launch failed: %s\n", cdp_browser_errmsg(e->b));
        return -1;
    }
    *state = e;
    return 0;
}

static int group_teardown(void **state)
{
    struct env *e = *state;
    cdp_browser_free(e->b);
    static_server_stop(e->srv);
    free(e);
    return 0;
}

static int page_setup(void **state)
{
    struct env *e = *state;
    struct cdp_page_opts o = {.timeout_ms = 10000};
    int rc = cdp_page_new(e->b, &o, &e->p);
    if (rc)
        fprintf(stderr, "page: %s\n", cdp_browser_errmsg(e->b));
    return rc;
}

static int page_teardown(void **state)
{
    struct env *e = *state;
    cdp_page_free(e->p);
    e->p = NULL;
    return 0;
}

static void test_click_waits_for_overlay_then_lands_once(void **state)
{
    struct env *e = *state;
    go(e, "overlay.html");
    CHECK_OK(cdp_page_click(e->p, "#btn", NULL, 5000), cdp_page_errmsg(e->p));
    assert_int_equal((int)eval_num(e, "window.clicks"), 1);
    assert_int_equal((int)eval_num(e, "window.overlayClicks"), 0);
    assert_int_equal((int)eval_num(e, "document.querySelectorAll('#overlay').length"), 0);
}

static void test_click_covered_times_out_naming_the_overlay(void **state)
{
    struct env *e = *state;
    go(e, "overlay.html");
    int rc = cdp_page_click(e->p, "#btn", NULL, 200);
    assert_int_equal(rc, CDP_ERR_TIMEOUT);
    assert_contains(cdp_page_errmsg(e->p), "click #btn");
    assert_contains(cdp_page_errmsg(e->p), "covered by div#overlay");
    assert_int_equal((int)eval_num(e, "window.clicks + window.overlayClicks"), 0);
}

static void test_wait_for_late_element(void **state)
{
    struct env *e = *state;
    go(e, "late.html");
    CHECK_OK(cdp_page_wait_for(e->p, "#late", NULL, CDP_STATE_VISIBLE, 5000), cdp_page_errmsg(e->p));
    char *t = NULL;
    CHECK_OK(cdp_page_text(e->p, "#late", NULL, 1000, &t), cdp_page_errmsg(e->p));
    assert_string_equal(t, "I came late");
    free(t);
}

static void test_click_waits_for_enabled_button(void **state)
{
    struct env *e = *state;
    go(e, "disabled.html");
    CHECK_OK(cdp_page_click(e->p, "#btn", NULL, 5000), cdp_page_errmsg(e->p));
    assert_int_equal((int)eval_num(e, "window.clicks"), 1);
}

static void test_fill_replaces_existing_text_and_fires_events(void **state)
{
    struct env *e = *state;
    go(e, "form.html");
    CHECK_OK(cdp_page_fill(e->p, "#name", NULL, "María González", 5000), cdp_page_errmsg(e->p));
    char *v = eval_str(e, "document.getElementById('name').value");
    assert_string_equal(v, "María González");
    free(v);
    assert_true(eval_num(e, "window.ev.input") >= 1);
    assert_int_equal((int)eval_num(e, "window.ev.change"), 1);
    CHECK_OK(cdp_page_fill(e->p, "#qty", NULL, "12", 5000), cdp_page_errmsg(e->p));
    assert_int_equal((int)eval_num(e, "+document.getElementById('qty').value"), 12);
    CHECK_OK(cdp_page_fill(e->p, "#notes", NULL, "", 5000), cdp_page_errmsg(e->p));
    v = eval_str(e, "document.getElementById('notes').value");
    assert_string_equal(v, "");
    free(v);
}

static void test_select_by_value_and_by_label(void **state)
{
    struct env *e = *state;
    go(e, "form.html");
    CHECK_OK(cdp_page_select(e->p, "#color", NULL, "g", 5000), cdp_page_errmsg(e->p));
    char *v = eval_str(e, "document.getElementById('color').value");
    assert_string_equal(v, "g");
    free(v);
    CHECK_OK(cdp_page_select(e->p, "#color", NULL, "Dark Blue", 5000), cdp_page_errmsg(e->p));
    v = eval_str(e, "document.getElementById('color').value");
    assert_string_equal(v, "b");
    free(v);
    assert_int_equal((int)eval_num(e, "window.ev.colorChange"), 2);
    int rc = cdp_page_select(e->p, "#color", NULL, "Purple", 300);
    assert_int_equal(rc, CDP_ERR_TIMEOUT);
    assert_contains(cdp_page_errmsg(e->p), "no option with value or label \"Purple\"");
}

static void test_wait_until_hidden(void **state)
{
    struct env *e = *state;
    go(e, "hidden.html");
    CHECK_OK(cdp_page_wait_for(e->p, "#spinner", NULL, CDP_STATE_VISIBLE, 1000), cdp_page_errmsg(e->p));
    CHECK_OK(cdp_page_wait_for(e->p, "#spinner", NULL, CDP_STATE_HIDDEN, 5000), cdp_page_errmsg(e->p));
    assert_int_equal(
        (int)eval_num(e, "getComputedStyle(document.getElementById('spinner')).display === 'none' ? 1 : 0"), 1);
}

static void test_wait_with_text_filter(void **state)
{
    struct env *e = *state;
    go(e, "form.html");
    CHECK_OK(cdp_page_wait_for(e->p, "#items li", "BANANA", CDP_STATE_VISIBLE, 1000), cdp_page_errmsg(e->p));
    assert_int_equal(cdp_page_wait_for(e->p, "#items li", "durian", CDP_STATE_VISIBLE, 200), CDP_ERR_TIMEOUT);
    CHECK_OK(cdp_page_wait_for(e->p, "#items li", "durian", CDP_STATE_HIDDEN, 1000), cdp_page_errmsg(e->p));
}

static void test_failing_evaluate_gives_exception_text(void **state)
{
    struct env *e = *state;
    go(e, "index.html");
    cJSON *v = NULL;
    int rc = cdp_page_evaluate(e->p, "(() => { throw new Error('boom at step 3'); })()", 5000, &v);
    assert_int_equal(rc, CDP_ERR_JS);
    assert_null(v);
    assert_contains(cdp_page_errmsg(e->p), "Error: boom at step 3");
    rc = cdp_page_evaluate(e->p, "Promise.reject(new TypeError('async nope'))", 5000, &v);
    assert_int_equal(rc, CDP_ERR_JS);
    assert_contains(cdp_page_errmsg(e->p), "TypeError: async nope");
}

static void test_evaluate_awaits_promises_and_returns_json(void **state)
{
    struct env *e = *state;
    go(e, "index.html");
    cJSON *v = NULL;
    CHECK_OK(cdp_page_evaluate(e->p, "new Promise(r => setTimeout(() => r({a: [1, 'x'], b: null}), 50))", 5000, &v),
             cdp_page_errmsg(e->p));
    char *s = cJSON_PrintUnformatted(v);
    assert_string_equal(s, "{\"a\":[1,\"x\"],\"b\":null}");
    cJSON_free(s);
    cJSON_Delete(v);
    CHECK_OK(cdp_page_evaluate(e->p, "undefined", 5000, &v), cdp_page_errmsg(e->p));
    assert_true(cJSON_IsNull(v));
    cJSON_Delete(v);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd); /* never listened: connecting is refused */
    return ntohs(a.sin_port);
}

static void test_navigate_to_closed_port_gives_network_error(void **state)
{
    struct env *e = *state;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", closed_port());
    int status = -1;
    int rc = cdp_page_navigate(e->p, url, 10000, &status);
    assert_int_equal(rc, CDP_ERR_NAVIGATION);
    assert_int_equal(status, 0);
    assert_contains(cdp_page_errmsg(e->p), "Page.navigate: net::ERR_CONNECTION_REFUSED");
}

static void test_navigate_reports_http_status(void **state)
{
    struct env *e = *state;
    char url[256];
    url_of(e, "no-such-page.html", url, sizeof(url));
    int status = 0;
    CHECK_OK(cdp_page_navigate(e->p, url, 10000, &status), cdp_page_errmsg(e->p));
    assert_int_equal(status, 404);
    go(e, "index.html"); /* asserts 200 */
    CHECK_OK(cdp_page_navigate(e->p, "about:blank", 10000, &status), cdp_page_errmsg(e->p));
    assert_int_equal(status, 0);
}

/* The property is "never hangs": a wait ends at its deadline, give or take the machine's load
 * (sanitizers and a busy CI box add hundreds of ms), and never much later. */
static void test_wait_times_out_and_never_hangs(void **state)
{
    struct env *e = *state;
    go(e, "index.html");
    const int deadlines[] = {500, 1500};
    for (size_t i = 0; i < 2; i++) {
        int64_t t0 = now_ms();
        int rc = cdp_page_wait_for(e->p, "#never", NULL, CDP_STATE_VISIBLE, deadlines[i]);
        int64_t took = now_ms() - t0;
        assert_int_equal(rc, CDP_ERR_TIMEOUT);
        assert_contains(cdp_page_errmsg(e->p), "wait_for visible #never: timeout after");
        if (took < deadlines[i] - 20 || took > deadlines[i] + 2000)
            fail_msg("deadline %d ms, took %lld ms", deadlines[i], (long long)took);
    }
}

static void png_size(const char *path, unsigned *w, unsigned *h, long *bytes)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char hdr[24];
    assert_int_equal(fread(hdr, 1, sizeof(hdr), f), sizeof(hdr));
    fseek(f, 0, SEEK_END);
    *bytes = ftell(f);
    fclose(f);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_memory_equal(hdr, sig, 8);
    assert_memory_equal(hdr + 12, "IHDR", 4);
    *w = (unsigned)hdr[16] << 24 | (unsigned)hdr[17] << 16 | (unsigned)hdr[18] << 8 | hdr[19];
    *h = (unsigned)hdr[20] << 24 | (unsigned)hdr[21] << 16 | (unsigned)hdr[22] << 8 | hdr[23];
}

static void test_screenshot_is_png_of_requested_size(void **state)
{
    struct env *e = *state;
    CHECK_OK(cdp_page_set_viewport(e->p, 800, 600), cdp_page_errmsg(e->p));
    go(e, "tall.html");
    char path[] = "/tmp/cdp-test-shot-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK_OK(cdp_page_screenshot(e->p, path, false, 10000), cdp_page_errmsg(e->p));
    unsigned w, h;
    long bytes;
    png_size(path, &w, &h, &bytes);
    assert_int_equal(w, 800);
    assert_int_equal(h, 600);
    CHECK_OK(cdp_page_screenshot(e->p, path, true, 10000), cdp_page_errmsg(e->p));
    png_size(path, &w, &h, &bytes);
    assert_int_equal(w, 800);
    assert_int_equal(h, 3000);
    unlink(path);
}

static void test_5mb_string_round_trips_through_evaluate(void **state)
{
    struct env *e = *state;
    go(e, "index.html");
    size_t n = 5u << 20;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + (i * 7 + i / 977) % 26);
    big[n] = '\0';
    /* out: the string as a JS literal inside the expression; back: the value */
    size_t elen = n + 64;
    char *expr = malloc(elen);
    snprintf(expr, elen, "((s) => s)('%s')", big);
    cJSON *v = NULL;
    CHECK_OK(cdp_page_evaluate(e->p, expr, 20000, &v), cdp_page_errmsg(e->p));
    assert_true(cJSON_IsString(v));
    assert_int_equal(strlen(v->valuestring), n);
    assert_memory_equal(v->valuestring, big, n);
    cJSON_Delete(v);
    free(expr);
    free(big);
}

static void test_dialogs_console_errors_and_exceptions_are_recorded(void **state)
{
    struct env *e = *state;
    go(e, "events.html");
    CHECK_OK(cdp_page_wait_function(e->p, "window.afterDialogs === true", 5000), cdp_page_errmsg(e->p));
    assert_int_equal((int)eval_num(e, "window.confirmResult === false ? 1 : 0"), 1);
    bool dialog_confirm = false, dialog_alert = false, console = false, exception = false;
    for (size_t i = 0; i < cdp_page_log_count(e->p); i++) {
        enum cdp_log_kind k;
        const char *t = cdp_page_log_get(e->p, i, &k);
        if (k == CDP_LOG_DIALOG && strstr(t, "confirm: Are you sure?"))
            dialog_confirm = true;
        if (k == CDP_LOG_DIALOG && strstr(t, "alert: hello alert"))
            dialog_alert = true;
        if (k == CDP_LOG_CONSOLE_ERROR && strstr(t, "something failed 42"))
            console = true;
        if (k == CDP_LOG_EXCEPTION && strstr(t, "uncaught boom"))
            exception = true;
    }
    assert_true(dialog_confirm);
    assert_true(dialog_alert);
    assert_true(console);
    assert_true(exception);
    cdp_page_log_clear(e->p);
    assert_int_equal(cdp_page_log_count(e->p), 0);
}

static void test_guard_fails_wait_at_once_with_its_text(void **state)
{
    struct env *e = *state;
    const struct cdp_guard g[] = {
        {.selector = "h1", .text = "Servicio no disponible"},
        {.selector = ".alert-error", .text = "no existe"},
    };
    CHECK_OK(cdp_page_set_guards(e->p, g, 2), cdp_page_errmsg(e->p));
    go(e, "guard.html");
    int64_t t0 = now_ms();
    int rc = cdp_page_wait_for(e->p, "#never", NULL, CDP_STATE_VISIBLE, 8000);
    int64_t took = now_ms() - t0;
    assert_int_equal(rc, CDP_ERR_GUARD);
    assert_int_equal(cdp_page_guard_hit(e->p), 1);
    assert_string_equal(cdp_page_errmsg(e->p), "El producto 80999 NO EXISTE");
    if (took > 4000)
        fail_msg("guard took %lld ms of an 8000 ms wait", (long long)took);
    /* a JS guard, and check_guards on its own */
    const struct cdp_guard j = {.js = "document.title === 'guard' && 'title says guard'"};
    CHECK_OK(cdp_page_set_guards(e->p, &j, 1), cdp_page_errmsg(e->p));
    assert_int_equal(cdp_page_check_guards(e->p, 2000), CDP_ERR_GUARD);
    assert_string_equal(cdp_page_errmsg(e->p), "title says guard");
    CHECK_OK(cdp_page_set_guards(e->p, NULL, 0), cdp_page_errmsg(e->p));
    CHECK_OK(cdp_page_check_guards(e->p, 2000), cdp_page_errmsg(e->p));
    assert_int_equal(cdp_page_guard_hit(e->p), -1);
}

static void test_press_enter_submits_and_keys_arrive(void **state)
{
    struct env *e = *state;
    go(e, "form.html");
    CHECK_OK(cdp_page_press(e->p, "#name", "Enter", 5000), cdp_page_errmsg(e->p));
    CHECK_OK(cdp_page_wait_function(e->p, "window.ev.submits === 1", 2000), cdp_page_errmsg(e->p));
    CHECK_OK(cdp_page_press(e->p, NULL, "Escape", 5000), cdp_page_errmsg(e->p));
    CHECK_OK(cdp_page_press(e->p, NULL, "x", 5000), cdp_page_errmsg(e->p));
    char *k = eval_str(e, "window.ev.keys.join(',')");
    assert_string_equal(k, "Enter,Escape,x");
    free(k);
    assert_int_equal(cdp_page_press(e->p, NULL, "NoSuchKey", 1000), CDP_ERR_ARG);
}

static void test_click_scrolls_into_view(void **state)
{
    struct env *e = *state;
    go(e, "tall.html");
    CHECK_OK(cdp_page_click(e->p, "#bottom", "bottom", 5000), cdp_page_errmsg(e->p));
    assert_int_equal((int)eval_num(e, "window.clicked ? 1 : 0"), 1);
}

static void test_cookies_set_get_clear_per_context(void **state)
{
    struct env *e = *state;
    go(e, "index.html");
    cJSON *c = cJSON_Parse("[{\"name\":\"sid\",\"value\":\"abc123\",\"url\":\"http://127.0.0.1/\"}]");
    CHECK_OK(cdp_page_cookies_set(e->p, c), cdp_page_errmsg(e->p));
    cJSON_Delete(c);
    cJSON *got = NULL;
    CHECK_OK(cdp_page_cookies_get(e->p, &got), cdp_page_errmsg(e->p));
    assert_int_equal(cJSON_GetArraySize(got), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(got, 0), "value")->valuestring, "abc123");
    cJSON_Delete(got);
    char *dc = eval_str(e, "document.cookie");
    assert_string_equal(dc, "sid=abc123");
    free(dc);
    /* another page has its own context: no cookie there */
    struct cdp_page *other = NULL;
    CHECK_OK(cdp_page_new(e->b, NULL, &other), cdp_browser_errmsg(e->b));
    CHECK_OK(cdp_page_cookies_get(other, &got), cdp_page_errmsg(other));
    assert_int_equal(cJSON_GetArraySize(got), 0);
    cJSON_Delete(got);
    cdp_page_free(other);
    CHECK_OK(cdp_page_cookies_clear(e->p), cdp_page_errmsg(e->p));
    CHECK_OK(cdp_page_cookies_get(e->p, &got), cdp_page_errmsg(e->p));
    assert_int_equal(cJSON_GetArraySize(got), 0);
    cJSON_Delete(got);
}

static void test_blocked_urls_do_not_load(void **state)
{
    struct env *e = *state;
    go(e, "index.html");
    const char *const pats[] = {"*blocked.txt", NULL};
    CHECK_OK(cdp_page_block_urls(e->p, pats), cdp_page_errmsg(e->p));
    char *r = eval_str(e, "fetch('/blocked.txt').then(r => 'loaded', e => 'blocked')");
    assert_string_equal(r, "blocked");
    free(r);
    CHECK_OK(cdp_page_block_urls(e->p, NULL), cdp_page_errmsg(e->p));
    r = eval_str(e, "fetch('/blocked.txt').then(r => r.text())");
    assert_string_equal(r, "blocked content\n");
    free(r);
}

static void test_html_written_to_file(void **state)
{
    struct env *e = *state;
    go(e, "index.html");
    char path[] = "/tmp/cdp-test-html-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK_OK(cdp_page_html(e->p, path, 5000), cdp_page_errmsg(e->p));
    FILE *f = fopen(path, "r");
    char buf[4096] = "";
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    assert_contains(buf, "<!DOCTYPE html>");
    assert_contains(buf, "<h1 id=\"title\">Hello</h1>");
}

static void test_wait_url_and_bad_selector(void **state)
{
    struct env *e = *state;
    go(e, "index.html");
    CHECK_OK(cdp_page_wait_url(e->p, "/index.html", 1000), cdp_page_errmsg(e->p));
    int rc = cdp_page_click(e->p, "##bad", NULL, 1000);
    assert_int_equal(rc, CDP_ERR_ARG);
    assert_contains(cdp_page_errmsg(e->p), "click \"##bad\": not a valid CSS selector (");
}

static void assert_bad_selector(struct env *e, int rc, const char *verb, const char *sel)
{
    char want[128];
    snprintf(want, sizeof(want), "%s \"%s\": not a valid CSS selector (", verb, sel);
    if (rc != CDP_ERR_ARG)
        fail_msg("%s %s -> %d (%s): %s", verb, sel, rc, cdp_strerror(rc), cdp_page_errmsg(e->p));
    assert_contains(cdp_page_errmsg(e->p), want);
}

static void test_invalid_selector_is_an_argument_error_everywhere(void **state)
{
    struct env *e = *state;
    go(e, "form.html");
    const char *const bad[] = {"#12345678", "div[", "a >> b"};
    int64_t t0 = now_ms();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *s = bad[i];
        char *t = NULL;
        assert_bad_selector(e, cdp_page_wait_for(e->p, s, NULL, CDP_STATE_VISIBLE, 20000), "wait_for visible", s);
        assert_bad_selector(e, cdp_page_wait_for(e->p, s, NULL, CDP_STATE_DETACHED, 20000), "wait_for detached", s);
        assert_bad_selector(e, cdp_page_click(e->p, s, NULL, 20000), "click", s);
        assert_bad_selector(e, cdp_page_fill(e->p, s, "x", "value", 20000), "fill", s);
        assert_bad_selector(e, cdp_page_select(e->p, s, NULL, "g", 20000), "select", s);
        assert_bad_selector(e, cdp_page_press(e->p, s, "Enter", 20000), "press", s);
        assert_bad_selector(e, cdp_page_text(e->p, s, NULL, 20000, &t), "text", s);
        assert_null(t);
    }
    /* at once: none of them waited for its 20 s deadline */
    if (now_ms() - t0 > 10000)
        fail_msg("bad selectors took %lld ms", (long long)(now_ms() - t0));
    /* the page was not touched */
    char *v = eval_str(e, "document.getElementById('name').value");
    assert_string_equal(v, "old text");
    free(v);

    const struct cdp_guard g[] = {{.selector = ".alert-error"}, {.selector = "div[", .text = "x"}};
    assert_int_equal(cdp_page_set_guards(e->p, g, 2), CDP_ERR_ARG);
    assert_contains(cdp_page_errmsg(e->p), "guard 1 \"div[\": not a valid CSS selector (");
    /* nothing half-set: the page has no guards afterwards */
    CHECK_OK(cdp_page_check_guards(e->p, 2000), cdp_page_errmsg(e->p));
    CHECK_OK(cdp_page_wait_for(e->p, "#name", NULL, CDP_STATE_VISIBLE, 2000), cdp_page_errmsg(e->p));
}

/* hostile.html overrides getBoundingClientRect, querySelectorAll, Array.prototype.some/find/filter,
 * Array.from, JSON.stringify, getComputedStyle, elementFromPoint and MutationObserver in its own
 * world. In that world our helpers would find nothing visible, click "covered by body", and see
 * every guard match (a forged hit); in their isolated world they work as on any page. */
static void test_helpers_ignore_a_hostile_page(void **state)
{
    struct env *e = *state;
    const struct cdp_guard g[] = {{.selector = "#fatal-error"}, {.selector = "h1", .text = "servicio caido"}};
    CHECK_OK(cdp_page_set_guards(e->p, g, 2), cdp_page_errmsg(e->p));
    go(e, "hostile.html");
    CHECK_OK(cdp_page_check_guards(e->p, 2000), cdp_page_errmsg(e->p));
    assert_int_equal(cdp_page_guard_hit(e->p), -1);
    CHECK_OK(cdp_page_wait_for(e->p, "#late", NULL, CDP_STATE_VISIBLE, 5000), cdp_page_errmsg(e->p));
    CHECK_OK(cdp_page_wait_for(e->p, "#missing", NULL, CDP_STATE_DETACHED, 2000), cdp_page_errmsg(e->p));
    assert_int_equal(cdp_page_wait_for(e->p, "#missing", NULL, CDP_STATE_VISIBLE, 300), CDP_ERR_TIMEOUT);
    assert_contains(cdp_page_errmsg(e->p), "no element matches");
    CHECK_OK(cdp_page_click(e->p, "#go", NULL, 5000), cdp_page_errmsg(e->p));
    CHECK_OK(cdp_page_fill(e->p, "#user", NULL, "alice", 5000), cdp_page_errmsg(e->p));
    CHECK_OK(cdp_page_select(e->p, "#size", NULL, "Large", 5000), cdp_page_errmsg(e->p));
    char *t = NULL;
    CHECK_OK(cdp_page_text(e->p, "#title", NULL, 2000, &t), cdp_page_errmsg(e->p));
    assert_string_equal(t, "Hostile");
    free(t);
    /* flow expressions (evaluate, wait_function) still run in the page's own world */
    assert_int_equal((int)eval_num(e, "window.hostile === true ? window.clicks : -1"), 1);
    char *v = eval_str(e, "document.getElementById('user').value + '/' + document.getElementById('size').value");
    assert_string_equal(v, "alice/l");
    free(v);
    CHECK_OK(cdp_page_wait_function(e->p, "window.clicks === 1", 2000), cdp_page_errmsg(e->p));
    assert_int_equal(cdp_page_guard_hit(e->p), -1);
}

/* A guard index comes back from the page; an impossible one is a protocol error, never an index
 * into the guard array. A JS guard is page-world source (trusted flow configuration), so one that
 * breaks out of its wrapper can make the answer name guard 99 of 1. */
static void test_out_of_range_guard_answer_is_a_protocol_error(void **state)
{
    struct env *e = *state;
    go(e, "index.html");
    const struct cdp_guard g = {.js = "false\n)], [99, async () => (true"};
    CHECK_OK(cdp_page_set_guards(e->p, &g, 1), cdp_page_errmsg(e->p));
    assert_int_equal(cdp_page_check_guards(e->p, 2000), CDP_ERR_PROTOCOL);
    assert_contains(cdp_page_errmsg(e->p), "guard 99");
    assert_int_equal(cdp_page_guard_hit(e->p), -1);
    assert_int_equal(cdp_page_wait_for(e->p, "#title", NULL, CDP_STATE_VISIBLE, 2000), CDP_ERR_PROTOCOL);
    assert_int_equal(cdp_page_guard_hit(e->p), -1);
}

static void test_helpers_follow_navigations(void **state)
{
    struct env *e = *state;
    char *t = NULL;
    for (int i = 0; i < 3; i++) {
        go(e, "index.html");
        CHECK_OK(cdp_page_text(e->p, "#title", NULL, 2000, &t), cdp_page_errmsg(e->p));
        assert_string_equal(t, "Hello");
        free(t);
        CHECK_OK(cdp_page_navigate(e->p, "data:text/html,<p id=d>data page</p>", 5000, NULL), cdp_page_errmsg(e->p));
        CHECK_OK(cdp_page_text(e->p, "#d", NULL, 2000, &t), cdp_page_errmsg(e->p));
        assert_string_equal(t, "data page");
        free(t);
    }
    /* a navigation started by the page itself, while a wait is under way */
    go(e, "form.html");
    CHECK_OK(cdp_page_evaluate(e->p, "setTimeout(() => { location.href = '/late.html'; }, 100), 1", 2000, NULL),
             cdp_page_errmsg(e->p));
    CHECK_OK(cdp_page_wait_for(e->p, "#late", NULL, CDP_STATE_VISIBLE, 5000), cdp_page_errmsg(e->p));
}

static int file_mode(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("stat %s: %s", path, strerror(errno));
    return (int)(st.st_mode & 07777);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - 1 - n, f)) > 0) {
        n += r;
        if (n + 1 >= cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_evidence_files_are_private_and_html_blanks_passwords(void **state)
{
    struct env *e = *state;
    go(e, "password.html");
    CHECK_OK(cdp_page_fill(e->p, "#pw", NULL, "hunter2-xyz", 5000), cdp_page_errmsg(e->p));
    /* the page mirrors what was typed into the attribute, as controlled inputs do */
    char *v = eval_str(e, "document.getElementById('pw').getAttribute('value')");
    assert_string_equal(v, "hunter2-xyz");
    free(v);
    mode_t old = umask(022);
    char dir[] = "/tmp/cdp-test-evidence-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char html[128], png[128];
    snprintf(html, sizeof(html), "%s/page.html", dir);
    snprintf(png, sizeof(png), "%s/page.png", dir);
    CHECK_OK(cdp_page_html(e->p, html, 5000), cdp_page_errmsg(e->p));
    CHECK_OK(cdp_page_screenshot(e->p, png, false, 10000), cdp_page_errmsg(e->p));
    umask(old);
    int hm = file_mode(html), pm = file_mode(png);
    char *text = slurp(html);
    unlink(html);
    unlink(png);
    rmdir(dir);
    if (hm != 0600 || pm != 0600)
        fail_msg("modes: html %o, png %o (want 600)", hm, pm);
    if (strstr(text, "hunter2-xyz") || strstr(text, "preset-secret-777") || strstr(text, "template-secret-555"))
        fail_msg("a password reached the HTML file:\n%s", text);
    assert_contains(text, "id=\"pw\"");
    assert_contains(text, "value=\"maria\""); /* other inputs keep their value */
    free(text);
    /* the live page was not changed */
    v = eval_str(e, "document.getElementById('pw').value + '|' + document.getElementById('pw').getAttribute('value')");
    assert_string_equal(v, "hunter2-xyz|hunter2-xyz");
    free(v);
}

static void test_wait_settled_waits_for_content_after_load(void **state)
{
    struct env *e = *state;
    CHECK_OK(cdp_page_set_viewport(e->p, 800, 600), cdp_page_errmsg(e->p));
    go(e, "late_tall.html");
    CHECK_OK(cdp_page_wait_settled(e->p, 500, 10000), cdp_page_errmsg(e->p));
    char path[] = "/tmp/cdp-test-late-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK_OK(cdp_page_screenshot(e->p, path, true, 10000), cdp_page_errmsg(e->p));
    unsigned w, h;
    long bytes;
    png_size(path, &w, &h, &bytes);
    unlink(path);
    assert_int_equal(w, 800);
    if (h < 3000)
        fail_msg("full-page screenshot is %ux%u: shot before the late content", w, h);
}

static void test_wait_settled_stops_at_its_cap_on_a_busy_page(void **state)
{
    struct env *e = *state;
    go(e, "busy.html");
    int64_t t0 = now_ms();
    int rc = cdp_page_wait_settled(e->p, 300, 1000);
    int64_t took = now_ms() - t0;
    assert_int_equal(rc, CDP_ERR_TIMEOUT);
    assert_contains(cdp_page_errmsg(e->p), "wait_settled: timeout after 1000 ms");
    assert_contains(cdp_page_errmsg(e->p), "DOM");
    if (took < 1000 - 20 || took > 1000 + 2000)
        fail_msg("cap 1000 ms, took %lld ms", (long long)took);
}

/* A request the server never answers keeps the page unsettled until it fails. */
static void test_wait_settled_waits_for_requests_in_flight(void **state)
{
    struct env *e = *state;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(ls, 4), 0); /* the kernel completes the handshake; nobody answers */
    assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &l), 0);
    go(e, "index.html");
    CHECK_OK(cdp_page_wait_settled(e->p, 200, 5000), cdp_page_errmsg(e->p));
    char js[160];
    snprintf(js, sizeof(js), "fetch('http://127.0.0.1:%d/hang', {mode: 'no-cors'}).catch(() => 0), 1",
             ntohs(a.sin_port));
    CHECK_OK(cdp_page_evaluate(e->p, js, 2000, NULL), cdp_page_errmsg(e->p));
    assert_int_equal(cdp_page_wait_settled(e->p, 200, 1500), CDP_ERR_TIMEOUT);
    assert_contains(cdp_page_errmsg(e->p), "1 request in flight");
    assert_contains(cdp_page_errmsg(e->p), "/hang");
    /* the server goes away: the request fails, the page settles */
    int c = accept(ls, NULL, NULL);
    if (c >= 0)
        close(c);
    close(ls);
    CHECK_OK(cdp_page_wait_settled(e->p, 200, 5000), cdp_page_errmsg(e->p));
}

static struct sigaction saved_sigchld;

static int sigchld_ignored_setup(void **state)
{
    (void)state;
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigemptyset(&ign.sa_mask);
    return sigaction(SIGCHLD, &ign, &saved_sigchld);
}

static int sigchld_restore_teardown(void **state)
{
    (void)state;
    return sigaction(SIGCHLD, &saved_sigchld, NULL);
}

/* Hex mask of a "SigXxx:" line of a /proc/PID/status copy; all ones if missing. */
static unsigned long long status_sigmask(const char *path, const char *field)
{
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s: %s", path, strerror(errno));
    char line[256];
    unsigned long long m = ~0ull;
    size_t n = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            m = strtoull(line + n + 1, NULL, 16);
    fclose(f);
    return m;
}

#define SIGPROBE_FLAG "--gspbot-test-exec="

/* Probe mode of this binary (see main): launched by cdp as its "Chromium", it copies the signal
 * lines of its /proc status to /tmp/cdp-sigprobe-<launcher pid>.txt and becomes the real Chromium
 * (same pid), so a test sees exactly the signal state the launcher handed over. */
static int sigprobe_exec(int argc, char **argv)
{
    char fn[64], line[256];
    snprintf(fn, sizeof(fn), "/tmp/cdp-sigprobe-%d.txt", (int)getppid());
    FILE *in = fopen("/proc/self/status", "r"), *out = fopen(fn, "w");
    while (in && out && fgets(line, sizeof(line), in))
        if (strncmp(line, "Sig", 3) == 0)
            fputs(line, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    const char *real = NULL;
    int k = 0;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], SIGPROBE_FLAG, strlen(SIGPROBE_FLAG)) == 0)
            real = argv[i] + strlen(SIGPROBE_FLAG);
        else
            argv[k++] = argv[i];
    }
    argv[k] = NULL;
    argv[0] = (char *)real;
    execv(real, argv);
    return 127;
}

/* An owner that inherited SIGCHLD = SIG_IGN (children are reaped by the kernel, waitpid says
 * ECHILD once they are gone) still launches, uses and closes a browser, and Chromium is not handed
 * that SIG_IGN (nor SIGPIPE ignored, nor a blocked signal mask): the launcher resets them. */
static void test_launch_works_with_sigchld_ignored(void **state)
{
    struct env *e = *state;
    char self[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(n > 0);
    self[n] = '\0';
    const char *real =
        getenv("CHROMIUM_PATH") && *getenv("CHROMIUM_PATH") ? getenv("CHROMIUM_PATH") : "/usr/bin/chromium";
    char flag[600];
    snprintf(flag, sizeof(flag), SIGPROBE_FLAG "%s", real);
    const char *const extra[] = {flag, NULL};
    char probe[64];
    snprintf(probe, sizeof(probe), "/tmp/cdp-sigprobe-%d.txt", (int)getpid());
    unlink(probe);

    struct sigaction ign_pipe = {.sa_handler = SIG_IGN}, old_pipe;
    sigemptyset(&ign_pipe.sa_mask);
    sigaction(SIGPIPE, &ign_pipe, &old_pipe);
    sigset_t block, oldmask;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &oldmask);
    struct cdp_browser *b = cdp_browser_new();
    struct cdp_launch_opts o = {.chromium_path = self, .extra_args = extra};
    int rc = cdp_browser_launch(b, &o);
    sigprocmask(SIG_SETMASK, &oldmask, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    if (rc)
        fail_msg("launch with SIGCHLD ignored: %s", cdp_browser_errmsg(b));
    pid_t pid = cdp_browser_pid(b);
    struct cdp_page *p = NULL;
    CHECK_OK(cdp_page_new(b, NULL, &p), cdp_browser_errmsg(b));
    char url[256];
    url_of(e, "index.html", url, sizeof(url));
    int status = 0;
    CHECK_OK(cdp_page_navigate(p, url, 10000, &status), cdp_page_errmsg(p));
    assert_int_equal(status, 200);
    CHECK_OK(cdp_page_sleep(p, 500), cdp_page_errmsg(p)); /* several liveness checks */
    char *t = NULL;
    CHECK_OK(cdp_page_text(p, "#title", NULL, 2000, &t), cdp_page_errmsg(p));
    assert_string_equal(t, "Hello");
    free(t);
    assert_false(cdp_browser_is_gone(b));
    cdp_page_free(p);
    cdp_browser_free(b);
    /* gone, and not left as a zombie */
    int live = 1;
    for (int i = 0; i < 100 && (live = kill(pid, 0) == 0); i++)
        usleep(20000);
    assert_false(live);

    unsigned long long ign = status_sigmask(probe, "SigIgn"), blk = status_sigmask(probe, "SigBlk");
    unlink(probe);
    if (ign & ((1ull << (SIGCHLD - 1)) | (1ull << (SIGPIPE - 1))))
        fail_msg("Chromium was started with SIGCHLD or SIGPIPE ignored (SigIgn %llx)", ign);
    if (blk != 0)
        fail_msg("Chromium was started with blocked signals (SigBlk %llx)", blk);
}

static const char *const secret_env[][2] = {
    {"GSP_PASSWORD", "sekret-xyz-pw"},
    {"GSPBOT_API_TOKEN", "sekret-xyz-token"},
    {"DATABASE_URL", "postgres://bot:sekret-xyz-db@127.0.0.1/gsp"},
    {"PGPASSWORD", "sekret-xyz-pg"},
    {"AWS_SECRET_ACCESS_KEY", "sekret-xyz-aws"},
};

static int secrets_setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(secret_env) / sizeof(secret_env[0]); i++)
        if (setenv(secret_env[i][0], secret_env[i][1], 1) != 0)
            return -1;
    return 0;
}

static int secrets_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(secret_env) / sizeof(secret_env[0]); i++)
        unsetenv(secret_env[i][0]);
    return 0;
}

/* Process group of pid from /proc/PID/stat (field 5), or -1. */
static pid_t proc_pgrp(pid_t pid)
{
    char fn[64], buf[1024];
    snprintf(fn, sizeof(fn), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(fn, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    char st;
    int ppid, pgrp;
    if (!rp || sscanf(rp + 1, " %c %d %d", &st, &ppid, &pgrp) != 3)
        return -1;
    return (pid_t)pgrp;
}

/* Chromium (and every helper in its process group: renderers, GPU, network) gets an environment
 * built from an allow-list: the owner's passwords, tokens and database URL are not in it. */
static void test_chromium_environment_holds_no_secrets(void **state)
{
    struct env *e = *state;
    struct cdp_browser *b = cdp_browser_new();
    CHECK_OK(cdp_browser_launch(b, NULL), cdp_browser_errmsg(b));
    struct cdp_page *p = NULL;
    CHECK_OK(cdp_page_new(b, NULL, &p), cdp_browser_errmsg(b));
    char url[256];
    url_of(e, "index.html", url, sizeof(url));
    CHECK_OK(cdp_page_navigate(p, url, 10000, NULL), cdp_page_errmsg(p)); /* a renderer exists */
    pid_t pgid = cdp_browser_pid(b);
    int checked = 0;
    bool main_has_path = false;
    char bad[512] = "";
    DIR *d = opendir("/proc");
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0 || proc_pgrp((pid_t)pid) != pgid)
            continue;
        char fn[64];
        snprintf(fn, sizeof(fn), "/proc/%ld/environ", pid);
        FILE *f = fopen(fn, "r");
        if (!f)
            continue;
        static char env[1 << 17];
        size_t n = fread(env, 1, sizeof(env) - 1, f);
        fclose(f);
        env[n] = '\0';
        checked++;
        for (size_t off = 0; off < n; off += strlen(env + off) + 1) {
            const char *kv = env + off;
            if (pid == pgid && strncmp(kv, "PATH=", 5) == 0)
                main_has_path = true;
            bool leak = strstr(kv, "sekret-xyz") != NULL;
            for (size_t i = 0; i < sizeof(secret_env) / sizeof(secret_env[0]); i++) {
                size_t k = strlen(secret_env[i][0]);
                leak |= strncmp(kv, secret_env[i][0], k) == 0 && kv[k] == '=';
            }
            if (leak && !bad[0])
                snprintf(bad, sizeof(bad), "process %ld has %s", pid, kv);
        }
    }
    closedir(d);
    cdp_page_free(p);
    cdp_browser_free(b);
    if (bad[0])
        fail_msg("secret in Chromium's environment: %s", bad);
    if (checked < 2)
        fail_msg("only %d process(es) of group %d checked", checked, (int)pgid);
    assert_true(main_has_path);
}

static void test_sigkill_chromium_during_wait_fails_long_before_deadline(void **state)
{
    (void)state;
    struct cdp_browser *b = cdp_browser_new();
    CHECK_OK(cdp_browser_launch(b, NULL), cdp_browser_errmsg(b));
    struct cdp_page *p = NULL;
    CHECK_OK(cdp_page_new(b, NULL, &p), cdp_browser_errmsg(b));
    CHECK_OK(cdp_page_navigate(p, "data:text/html,<p>waiting</p>", 5000, NULL), cdp_page_errmsg(p));
    pid_t victim = cdp_browser_pid(b);
    pid_t killer = fork();
    if (killer == 0) {
        struct timespec ts = {0, 300 * 1000000};
        nanosleep(&ts, NULL);
        kill(victim, SIGKILL);
        _exit(0);
    }
    int64_t t0 = now_ms();
    int rc = cdp_page_wait_for(p, "#never", NULL, CDP_STATE_VISIBLE, 20000);
    int64_t took = now_ms() - t0;
    waitpid(killer, NULL, 0);
    assert_int_equal(rc, CDP_ERR_GONE);
    assert_contains(cdp_page_errmsg(p), "browser gone");
    /* Noticed within ~200 ms normally; the bound only proves it is not the 20 s deadline (a loaded
     * machine under ASan can be seconds late). */
    if (took > 300 + 5000)
        fail_msg("failed %lld ms after the kill", (long long)(took - 300));
    /* later calls fail at once, without waiting for their deadline */
    t0 = now_ms();
    assert_int_equal(cdp_page_evaluate(p, "1", 20000, NULL), CDP_ERR_GONE);
    assert_contains(cdp_page_errmsg(p), "Runtime.evaluate: browser gone");
    struct cdp_page *p2 = NULL;
    assert_int_equal(cdp_page_new(b, NULL, &p2), CDP_ERR_GONE);
    if (now_ms() - t0 > 5000)
        fail_msg("calls on a gone browser took %lld ms", (long long)(now_ms() - t0));
    assert_true(cdp_browser_is_gone(b));
    cdp_page_free(p);
    cdp_browser_free(b);
    assert_int_equal(waitpid(victim, NULL, WNOHANG), -1);
}

static void test_missing_chromium_fails_launch_clearly(void **state)
{
    (void)state;
    struct cdp_browser *b = cdp_browser_new();
    struct cdp_launch_opts o = {.chromium_path = "/nonexistent/chromium"};
    assert_int_equal(cdp_browser_launch(b, &o), CDP_ERR_LAUNCH);
    assert_contains(cdp_browser_errmsg(b), "/nonexistent/chromium");
    assert_int_equal(cdp_browser_call(b, "Browser.getVersion", NULL, 1000, NULL), CDP_ERR_GONE);
    cdp_browser_free(b);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], SIGPROBE_FLAG, strlen(SIGPROBE_FLAG)) == 0)
            return sigprobe_exec(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_click_waits_for_overlay_then_lands_once, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_click_covered_times_out_naming_the_overlay, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_wait_for_late_element, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_click_waits_for_enabled_button, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_fill_replaces_existing_text_and_fires_events, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_select_by_value_and_by_label, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_wait_until_hidden, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_wait_with_text_filter, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_failing_evaluate_gives_exception_text, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_evaluate_awaits_promises_and_returns_json, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_navigate_to_closed_port_gives_network_error, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_navigate_reports_http_status, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_wait_times_out_and_never_hangs, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_screenshot_is_png_of_requested_size, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_5mb_string_round_trips_through_evaluate, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_dialogs_console_errors_and_exceptions_are_recorded, page_setup,
                                        page_teardown),
        cmocka_unit_test_setup_teardown(test_guard_fails_wait_at_once_with_its_text, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_press_enter_submits_and_keys_arrive, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_click_scrolls_into_view, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_cookies_set_get_clear_per_context, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_blocked_urls_do_not_load, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_html_written_to_file, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_wait_url_and_bad_selector, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_selector_is_an_argument_error_everywhere, page_setup,
                                        page_teardown),
        cmocka_unit_test_setup_teardown(test_helpers_ignore_a_hostile_page, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_range_guard_answer_is_a_protocol_error, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_helpers_follow_navigations, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_evidence_files_are_private_and_html_blanks_passwords, page_setup,
                                        page_teardown),
        cmocka_unit_test_setup_teardown(test_wait_settled_waits_for_content_after_load, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_wait_settled_stops_at_its_cap_on_a_busy_page, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_wait_settled_waits_for_requests_in_flight, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_launch_works_with_sigchld_ignored, sigchld_ignored_setup,
                                        sigchld_restore_teardown),
        cmocka_unit_test_setup_teardown(test_chromium_environment_holds_no_secrets, secrets_setup, secrets_teardown),
        cmocka_unit_test(test_sigkill_chromium_during_wait_fails_long_before_deadline),
        cmocka_unit_test(test_missing_chromium_fails_launch_clearly),
    };
    return cmocka_run_group_tests_name("cdp", tests, group_setup, group_teardown);
}
