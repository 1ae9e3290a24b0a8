/*
 * test_cdp_modern.c - the cdp features modern portals need, against real headless Chromium and
 * pages in tests/pages served on loopback: selectors through shadow roots (and the click hit test
 * through them), ARIA role targets, frames (same-origin, cross-origin out of process, nested,
 * late, replaced, covered), guards in frames, listbox/combobox select, fill on controlled and
 * masked inputs, expected dialogs, pop-up windows. Two static servers: 127.0.0.1 and 127.0.0.2,
 * another site for Chromium, so an iframe from the second runs in its own renderer process (the
 * cross-origin test checks that it is a target of its own). One browser for the group, a fresh
 * page per test; timing assertions only prove "never hangs".
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

#include <cmocka.h>
#include <libwebsockets.h>

#include "cdp.h"
#include "static_server.h"

struct env {
    struct static_server *srv, *srv2;
    struct cdp_browser *b;
    struct cdp_page *p;
    char base[64];  /* http://127.0.0.1:PORT */
    char base2[64]; /* http://127.0.0.2:PORT: another site */
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

#define CHECK_RC(want, rc, obj)                                                                                        \
    do {                                                                                                               \
        int rc_ = (rc);                                                                                                \
        if (rc_ != (want))                                                                                             \
            fail_msg("%s -> %d (%s), expected %d: %s", #rc, rc_, cdp_strerror(rc_), (want), cdp_page_errmsg(obj));     \
    } while (0)

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

static void go(struct env *e, const char *page)
{
    char url[512];
    snprintf(url, sizeof(url), "%s/%s", e->base, page);
    int status = -1;
    CHECK_OK(cdp_page_navigate(e->p, url, 10000, &status), cdp_page_errmsg(e->p));
    assert_int_equal(status, 200);
}

/* frame_parent.html with the cross-origin child from the second server, plus extra query. */
static void go_frames(struct env *e, const char *extra)
{
    char page[300];
    snprintf(page, sizeof(page), "frame_parent.html?x=%s%s", e->base2, extra ? extra : "");
    go(e, page);
}

static double num_in(struct cdp_page *p, const char *expr)
{
    cJSON *v = NULL;
    CHECK_OK(cdp_page_evaluate(p, expr, 5000, &v), cdp_page_errmsg(p));
    if (!cJSON_IsNumber(v))
        fail_msg("%s is not a number", expr);
    double d = v->valuedouble;
    cJSON_Delete(v);
    return d;
}

static char *str_in(struct cdp_page *p, const char *expr)
{
    cJSON *v = NULL;
    CHECK_OK(cdp_page_evaluate(p, expr, 5000, &v), cdp_page_errmsg(p));
    if (!cJSON_IsString(v))
        fail_msg("%s is not a string", expr);
    char *s = strdup(v->valuestring);
    cJSON_Delete(v);
    return s;
}

static void assert_str_in(struct cdp_page *p, const char *expr, const char *want)
{
    char *s = str_in(p, expr);
    if (strcmp(s, want) != 0)
        fail_msg("%s is \"%s\", expected \"%s\"", expr, s, want);
    free(s);
}

static int group_setup(void **state)
{
    lws_set_log_level(LLL_ERR, NULL);
    struct env *e = calloc(1, sizeof(*e));
    e->srv = static_server_start(GSPBOT_TEST_PAGES);
    e->srv2 = static_server_start_on(GSPBOT_TEST_PAGES, "127.0.0.2");
    if (!e->srv || !e->srv2) {
        fprintf(stderr, "cannot start the static servers on %s\n", GSPBOT_TEST_PAGES);
        return -1;
    }
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", static_server_port(e->srv));
    snprintf(e->base2, sizeof(e->base2), "http://127.0.0.2:%d", static_server_port(e->srv2));
    e->b = cdp_browser_new();
    if (cdp_browser_launch(e->b, NULL)) {
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
    static_server_stop(e->srv2);
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

/* ------------------------------------------------------------------ shadow DOM */

static void test_selectors_pierce_open_shadow_roots(void **state)
{
    struct env *e = *state;
    struct cdp_page *p = e->p;
    go(e, "shadow.html");
    CHECK_OK(cdp_page_wait_for(p, "gsp-picker button.pick", NULL, CDP_STATE_VISIBLE, 5000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_fill(p, "gsp-picker input.q", NULL, "80123", 5000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_click(p, "gsp-picker button.pick", NULL, 5000), cdp_page_errmsg(p));
    assert_int_equal((int)num_in(p, "window.picked"), 1);
    assert_int_equal((int)num_in(p, "window.lightClicks"), 0);
    assert_str_in(p, "window.pickedValue", "80123");
    assert_true(num_in(p, "window.qInputs") >= 1);
    /* a nested shadow root that appears after the click */
    CHECK_OK(cdp_page_wait_for(p, "gsp-picker gsp-inner .deep", NULL, CDP_STATE_VISIBLE, 5000), cdp_page_errmsg(p));
    char *t = NULL;
    CHECK_OK(cdp_page_text(p, "#picker .deep", NULL, 2000, &t), cdp_page_errmsg(p));
    assert_string_equal(t, "deep text");
    free(t);
    /* ">" stays inside one tree: the shadow button is no child of the host */
    CHECK_OK(cdp_page_wait_for(p, "gsp-picker > button.pick", NULL, CDP_STATE_DETACHED, 2000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_wait_for(p, "#light > button.pick", NULL, CDP_STATE_ATTACHED, 2000), cdp_page_errmsg(p));
    /* a selector list, and the text filter inside shadow trees */
    CHECK_OK(cdp_page_click(p, "#nothing, gsp-picker .row button", "pick", 5000), cdp_page_errmsg(p));
    assert_int_equal((int)num_in(p, "window.picked"), 2);
    /* one-shot visibility, then a guard that matches inside the shadow root */
    bool vis = true;
    CHECK_OK(cdp_page_is_visible(p, "gsp-picker .err", NULL, 2000, &vis), cdp_page_errmsg(p));
    assert_false(vis);
    CHECK_OK(cdp_page_evaluate(p, "document.getElementById('picker').showError(), 1", 2000, NULL), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_is_visible(p, "gsp-picker .err", "NO EXISTE", 2000, &vis), cdp_page_errmsg(p));
    assert_true(vis);
    CHECK_RC(CDP_ERR_ARG, cdp_page_is_visible(p, "div[", NULL, 2000, &vis), p);
    const struct cdp_guard g = {.selector = "gsp-picker p.err", .text = "no existe"};
    CHECK_OK(cdp_page_set_guards(p, &g, 1), cdp_page_errmsg(p));
    CHECK_RC(CDP_ERR_GUARD, cdp_page_wait_for(p, "#never", NULL, CDP_STATE_VISIBLE, 5000), p);
    assert_string_equal(cdp_page_errmsg(p), "La consultora no existe");
    assert_int_equal(cdp_page_guard_hit(p), 0);
    /* evidence HTML keeps the open shadow roots, nested ones too, as declarative templates */
    CHECK_OK(cdp_page_set_guards(p, NULL, 0), cdp_page_errmsg(p));
    char path[] = "/tmp/gspbot-shadow-html-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    CHECK_OK(cdp_page_html(p, path, 5000), cdp_page_errmsg(p));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char html[1 << 16];
    size_t n = fread(html, 1, sizeof html - 1, f);
    html[n] = '\0';
    fclose(f);
    unlink(path);
    const char *host = strstr(html, "<gsp-picker id=\"picker\"><template shadowrootmode=\"open\">");
    if (host == NULL)
        fail_msg("no shadow root template in the evidence HTML:\n%.2000s", html);
    assert_non_null(strstr(host, "<input id=\"q\" class=\"q\">"));
    assert_non_null(strstr(host, "<gsp-inner><template shadowrootmode=\"open\"><span class=\"deep\">deep text</span>"));
}

static void test_click_hit_test_goes_through_shadow_roots(void **state)
{
    struct env *e = *state;
    struct cdp_page *p = e->p;
    go(e, "shadow.html");
    /* the veil lives in the same shadow root as the button: document.elementFromPoint says "the
     * host", the shadow root's says "the veil" */
    CHECK_RC(CDP_ERR_TIMEOUT, cdp_page_click(p, "gsp-blocker #under", NULL, 3000), p);
    assert_contains(cdp_page_errmsg(p), "click gsp-blocker #under: timeout after");
    assert_contains(cdp_page_errmsg(p), "button#under is covered by div.veil");
    assert_int_equal((int)num_in(p, "window.underClicks + window.veilClicks"), 0);
    CHECK_OK(cdp_page_evaluate(p, "setTimeout(() => document.getElementById('blocker').lift(), 300), 1", 2000, NULL),
             cdp_page_errmsg(p));
    CHECK_OK(cdp_page_click(p, "gsp-blocker #under", NULL, 5000), cdp_page_errmsg(p));
    assert_int_equal((int)num_in(p, "window.underClicks"), 1);
    assert_int_equal((int)num_in(p, "window.veilClicks"), 0);
}

/* ------------------------------------------------------------------ roles */

static void test_role_targets_by_role_and_accessible_name(void **state)
{
    struct env *e = *state;
    struct cdp_page *p = e->p;
    go(e, "roles.html");
    /* text content (whitespace normalised); the aria-hidden copy is not matched */
    CHECK_OK(cdp_page_click(p, "role=button[name=\"Agregar\"]", NULL, 5000), cdp_page_errmsg(p));
    assert_int_equal((int)num_in(p, "window.adds * 10 + window.hiddenAdds"), 10);
    /* explicit role + aria-label, any case and spacing */
    CHECK_OK(cdp_page_click(p, "role=button[name=\"cerrar   VENTANA\"]", NULL, 5000), cdp_page_errmsg(p));
    assert_int_equal((int)num_in(p, "window.closes"), 1);
    CHECK_OK(cdp_page_click(p, "role=link[name=\"Ver carrito\"]", NULL, 5000), cdp_page_errmsg(p));
    assert_int_equal((int)num_in(p, "window.links"), 1);
    /* <label for>, wrapping label, placeholder (searchbox is a textbox), aria-labelledby, title */
    CHECK_OK(cdp_page_fill(p, "role=textbox[name=\"Código de producto\"]", NULL, "80123", 5000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_fill(p, "role=spinbutton[name=\"Cantidad\"]", NULL, "3", 5000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_fill(p, "role=textbox[name=\"buscar producto\"]", NULL, "crema", 5000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_fill(p, "role=searchbox", NULL, "crema 2", 5000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_fill(p, "role=textbox[name=\"Usuario\"]", NULL, "demo", 5000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_fill(p, "role=textbox[name=\"Notas del pedido\"]", NULL, "urgente", 5000), cdp_page_errmsg(p));
    assert_str_in(p, "['code','qty','search','user','notes'].map(i => document.getElementById(i).value).join('|')",
                  "80123|3|crema 2|demo|urgente");
    CHECK_OK(cdp_page_wait_for(p, "role=img[name=\"Logo GSP\"]", NULL, CDP_STATE_VISIBLE, 2000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_click(p, "role=button[name=\"Enviar pedido\"]", NULL, 5000), cdp_page_errmsg(p));
    assert_int_equal((int)num_in(p, "window.sends"), 1);
    /* \" and \\ inside the name */
    CHECK_OK(cdp_page_click(p, "role=button[name=\"Say \\\"hi\\\" \\\\ there\"]", NULL, 5000), cdp_page_errmsg(p));
    assert_int_equal((int)num_in(p, "window.quoted"), 1);
    char *t = NULL;
    CHECK_OK(cdp_page_text(p, "role=heading[name=\"Resumen del pedido\"]", NULL, 2000, &t), cdp_page_errmsg(p));
    assert_string_equal(t, "Resumen del pedido");
    free(t);
    CHECK_OK(cdp_page_wait_for(p, "role=cell[name=\"80123\"]", NULL, CDP_STATE_VISIBLE, 2000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_wait_for(p, "role=columnheader[name=\"Producto\"]", NULL, CDP_STATE_VISIBLE, 2000),
             cdp_page_errmsg(p));
    /* inside a shadow root */
    CHECK_OK(cdp_page_click(p, "role=button[name=\"Confirmar ciclo\"]", NULL, 5000), cdp_page_errmsg(p));
    assert_int_equal((int)num_in(p, "window.shadowClicks"), 1);
    /* the name matches whole */
    CHECK_RC(CDP_ERR_TIMEOUT, cdp_page_wait_for(p, "role=button[name=\"Agrega\"]", NULL, CDP_STATE_VISIBLE, 3000), p);
    assert_contains(cdp_page_errmsg(p), "no element matches");
    bool vis = false;
    CHECK_OK(cdp_page_is_visible(p, "role=link", NULL, 2000, &vis), cdp_page_errmsg(p));
    assert_true(vis);
    /* bad role targets are argument errors, at once */
    CHECK_RC(CDP_ERR_ARG, cdp_page_click(p, "role=buton", NULL, 20000), p);
    assert_contains(cdp_page_errmsg(p),
                    "click \"role=buton\": not a valid role selector (unknown ARIA role \"buton\")");
    CHECK_RC(CDP_ERR_ARG, cdp_page_wait_for(p, "role=button[name=Agregar]", NULL, CDP_STATE_VISIBLE, 20000), p);
    assert_contains(cdp_page_errmsg(p), "not a valid role selector (expected role=ROLE or role=ROLE[name=\"NAME\"])");
    const struct cdp_guard g = {.selector = "role=alertt"};
    CHECK_RC(CDP_ERR_ARG, cdp_page_set_guards(p, &g, 1), p);
    assert_contains(cdp_page_errmsg(p), "guards: guard 0 \"role=alertt\": not a valid role selector");
}

/* ------------------------------------------------------------------ frames */

static const char CART_JS[] =
    "JSON.stringify([...document.querySelectorAll('#cart tr[data-code]')].map(r => ({code: r.dataset.code, "
    "quantity: +r.dataset.qty})))";

/* Adds a product in the frame handle f and checks the cart expression there. */
static void add_in_frame(struct cdp_page *f, const char *code, const char *qty, const char *cart_json)
{
    CHECK_OK(cdp_page_fill(f, "#code", NULL, code, 5000), cdp_page_errmsg(f));
    CHECK_OK(cdp_page_fill(f, "#qty", NULL, qty, 5000), cdp_page_errmsg(f));
    CHECK_OK(cdp_page_click(f, "#add", NULL, 5000), cdp_page_errmsg(f));
    char sel[100];
    snprintf(sel, sizeof(sel), "#cart tr[data-code='%s']", code);
    CHECK_OK(cdp_page_wait_for(f, sel, NULL, CDP_STATE_VISIBLE, 5000), cdp_page_errmsg(f));
    assert_str_in(f, CART_JS, cart_json);
}

static void test_same_origin_frame_actions_evaluate_and_navigate(void **state)
{
    struct env *e = *state;
    struct cdp_page *p = e->p;
    go(e, "frame_parent.html");
    struct cdp_page *f = NULL;
    const char *const sel[] = {"#same"};
    CHECK_OK(cdp_page_frame(p, sel, 1, 5000, &f), cdp_page_errmsg(p));
    add_in_frame(f, "80123", "2", "[{\"code\":\"80123\",\"quantity\":2}]");
    assert_int_equal((int)num_in(f, "window.clicks"), 1);
    /* the page's own world is not the frame's */
    assert_int_equal((int)num_in(p, "document.querySelectorAll('#cart').length"), 0);
    char *t = NULL;
    CHECK_OK(cdp_page_text(f, "#pad", NULL, 2000, &t), cdp_page_errmsg(f));
    assert_string_equal(t, "cart frame");
    free(t);
    CHECK_OK(cdp_page_wait_url(f, "/frame_child.html", 2000), cdp_page_errmsg(f));
    CHECK_OK(cdp_page_wait_function(f, "document.title === 'cart frame'", 2000), cdp_page_errmsg(f));
    /* keys go to the focused frame */
    CHECK_OK(cdp_page_fill(f, "#code", NULL, "", 5000), cdp_page_errmsg(f));
    CHECK_OK(cdp_page_press(f, "#code", "7", 5000), cdp_page_errmsg(f));
    assert_str_in(f, "document.getElementById('code').value", "7");
    /* the same selectors give the same handle */
    struct cdp_page *again = NULL;
    CHECK_OK(cdp_page_frame(p, sel, 1, 5000, &again), cdp_page_errmsg(p));
    assert_ptr_equal(again, f);
    /* navigating the frame itself */
    char url[256];
    snprintf(url, sizeof(url), "%s/index.html", e->base);
    int status = 0;
    CHECK_OK(cdp_page_navigate(f, url, 5000, &status), cdp_page_errmsg(f));
    assert_int_equal(status, 200);
    CHECK_OK(cdp_page_text(f, "#title", NULL, 2000, &t), cdp_page_errmsg(f));
    assert_string_equal(t, "Hello");
    free(t);
    assert_str_in(p, "document.getElementById('title').textContent", "Frames");
    /* the page navigates: the handle finds its (new) frame again */
    go(e, "frame_parent.html");
    add_in_frame(f, "80555", "1", "[{\"code\":\"80555\",\"quantity\":1}]");
    /* not an iframe, not there */
    const char *const bad[] = {"#title"};
    struct cdp_page *x = NULL;
    CHECK_RC(CDP_ERR_ARG, cdp_page_frame(p, bad, 1, 2000, &x), p);
    assert_contains(cdp_page_errmsg(p), "h1#title is not an <iframe>");
    assert_null(x);
    const char *const none[] = {"#nope"};
    int64_t t0 = now_ms();
    CHECK_RC(CDP_ERR_TIMEOUT, cdp_page_frame(p, none, 1, 3000, &x), p);
    assert_contains(cdp_page_errmsg(p), "frame #nope: timeout after");
    assert_contains(cdp_page_errmsg(p), "no element matches");
    if (now_ms() - t0 > 3000 + 5000)
        fail_msg("frame wait took %lld ms", (long long)(now_ms() - t0));
}

/* Is there an "iframe" target (an out-of-process iframe) whose URL holds needle? */
static bool oopif_target(struct env *e, const char *needle)
{
    cJSON *r = NULL;
    CHECK_OK(cdp_browser_call(e->b, "Target.getTargets", NULL, 5000, &r), cdp_browser_errmsg(e->b));
    bool found = false;
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(r, "targetInfos"))
    {
        const cJSON *type = cJSON_GetObjectItem(t, "type"), *url = cJSON_GetObjectItem(t, "url");
        if (cJSON_IsString(type) && cJSON_IsString(url) && strcmp(type->valuestring, "iframe") == 0 &&
            strstr(url->valuestring, needle))
            found = true;
    }
    cJSON_Delete(r);
    return found;
}

static void test_cross_origin_frame_runs_out_of_process_and_acts(void **state)
{
    struct env *e = *state;
    struct cdp_page *p = e->p;
    go_frames(e, NULL);
    struct cdp_page *f = NULL;
    const char *const sel[] = {"#cross"};
    CHECK_OK(cdp_page_frame(p, sel, 1, 5000, &f), cdp_page_errmsg(p));
    /* really another site: its own target, and the page cannot reach into it */
    assert_true(oopif_target(e, e->base2));
    assert_int_equal((int)num_in(p, "document.getElementById('cross').contentDocument === null ? 1 : 0"), 1);
    assert_str_in(f, "location.origin", e->base2);
    add_in_frame(f, "80123", "4", "[{\"code\":\"80123\",\"quantity\":4}]");
    add_in_frame(f, "80124", "1", "[{\"code\":\"80123\",\"quantity\":4},{\"code\":\"80124\",\"quantity\":1}]");
    assert_int_equal((int)num_in(f, "window.clicks"), 2);
    CHECK_OK(cdp_page_fill(f, "#code", NULL, "", 5000), cdp_page_errmsg(f));
    CHECK_OK(cdp_page_press(f, "#code", "5", 5000), cdp_page_errmsg(f));
    assert_str_in(f, "document.getElementById('code').value", "5");
    /* focus goes back and forth between the page and the out-of-process frame */
    CHECK_OK(cdp_page_fill(p, "#note", NULL, "nota 1", 5000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_fill(f, "#code", NULL, "80125", 5000), cdp_page_errmsg(f));
    CHECK_OK(cdp_page_press(p, "#note", "!", 5000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_press(f, "#code", "0", 5000), cdp_page_errmsg(f));
    assert_str_in(p, "document.getElementById('note').value", "nota 1!");
    assert_str_in(f, "document.getElementById('code').value", "801250");
    bool vis = false;
    CHECK_OK(cdp_page_is_visible(f, "role=button[name=\"Agregar\"]", NULL, 2000, &vis), cdp_page_errmsg(f));
    assert_true(vis);
    CHECK_OK(cdp_page_wait_url(f, "127.0.0.2", 2000), cdp_page_errmsg(f));
    /* the whole page, from the frame handle */
    char png[] = "/tmp/cdp-modern-shot-XXXXXX";
    int fd = mkstemp(png);
    assert_true(fd >= 0);
    CHECK_OK(cdp_page_screenshot(f, png, false, 5000), cdp_page_errmsg(f));
    remove(png);
}

static void test_nested_frames_cross_then_same_origin(void **state)
{
    struct env *e = *state;
    struct cdp_page *p = e->p;
    go_frames(e, "&nest=1");
    struct cdp_page *f = NULL;
    const char *const sel[] = {"#cross", "#inner"};
    CHECK_OK(cdp_page_frame(p, sel, 2, 5000, &f), cdp_page_errmsg(p));
    assert_int_equal((int)num_in(f, "window.parent !== window.top && window.parent.parent === window.top ? 1 : 0"), 1);
    add_in_frame(f, "80900", "3", "[{\"code\":\"80900\",\"quantity\":3}]");
    /* the outer frame's cart is its own */
    struct cdp_page *outer = NULL;
    CHECK_OK(cdp_page_frame(p, sel, 1, 5000, &outer), cdp_page_errmsg(p));
    assert_str_in(outer, CART_JS, "[]");
    /* a frame handle of a frame handle is the same frame */
    struct cdp_page *inner = NULL;
    CHECK_OK(cdp_page_frame(outer, sel + 1, 1, 5000, &inner), cdp_page_errmsg(outer));
    assert_ptr_equal(inner, f);

    /* the grandchild back on the page's site: out of process relative to its parent, attached
     * under the child's session; the same handle follows the new page */
    go_frames(e, "&nest=top");
    assert_str_in(f, "location.origin", e->base);
    assert_true(oopif_target(e, e->base));
    add_in_frame(f, "80901", "1", "[{\"code\":\"80901\",\"quantity\":1}]");
    CHECK_OK(cdp_page_wait_for(f, "role=button[name=\"Agregar\"]", NULL, CDP_STATE_VISIBLE, 2000), cdp_page_errmsg(f));
}

static void test_frame_that_appears_late_is_waited_for(void **state)
{
    struct env *e = *state;
    struct cdp_page *p = e->p;
    go(e, "frame_parent.html?late=800");
    struct cdp_page *f = NULL;
    const char *const sel[] = {"#late"};
    CHECK_OK(cdp_page_frame(p, sel, 1, 8000, &f), cdp_page_errmsg(p));
    add_in_frame(f, "80777", "2", "[{\"code\":\"80777\",\"quantity\":2}]");
    /* a handle made before its frame exists binds on its first call */
    go(e, "frame_parent.html?late=800");
    CHECK_OK(cdp_page_click(f, "#add", NULL, 8000), cdp_page_errmsg(f));
    assert_int_equal((int)num_in(f, "window.clicks"), 1);
}

static void test_overlay_over_a_cross_origin_frame_blocks_the_click(void **state)
{
    struct env *e = *state;
    struct cdp_page *p = e->p;
    go_frames(e, "&cover=-1");
    struct cdp_page *f = NULL;
    const char *const sel[] = {"#cross"};
    CHECK_OK(cdp_page_frame(p, sel, 1, 5000, &f), cdp_page_errmsg(p));
    CHECK_RC(CDP_ERR_TIMEOUT, cdp_page_click(f, "#add", NULL, 3000), f);
    assert_contains(cdp_page_errmsg(f), "click #add in frame #cross: timeout after");
    assert_contains(cdp_page_errmsg(f), "iframe#cross is covered by div#cover");
    assert_int_equal((int)num_in(f, "window.clicks"), 0);
    /* the cover goes away: the click lands in the frame, not on the page */
    go_frames(e, "&cover=600");
    CHECK_OK(cdp_page_click(f, "#add", NULL, 5000), cdp_page_errmsg(f));
    assert_int_equal((int)num_in(f, "window.clicks"), 1);
    assert_int_equal((int)num_in(p, "window.coverClicks || 0"), 0);
}

static void test_guards_race_inside_a_frame(void **state)
{
    struct env *e = *state;
    struct cdp_page *p = e->p;
    go_frames(e, NULL);
    struct cdp_page *f = NULL;
    const char *const sel[] = {"#cross"};
    CHECK_OK(cdp_page_frame(p, sel, 1, 5000, &f), cdp_page_errmsg(p));
    const struct cdp_guard g[] = {{.selector = "h1", .text = "Servicio no disponible"},
                                  {.selector = ".alert-error", .text = "no existe"}};
    CHECK_OK(cdp_page_set_guards(f, g, 2), cdp_page_errmsg(f));
    CHECK_OK(cdp_page_set_guards(p, g, 2), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_fill(f, "#code", NULL, "80199", 5000), cdp_page_errmsg(f));
    CHECK_OK(cdp_page_click(f, "#add", NULL, 5000), cdp_page_errmsg(f));
    assert_str_in(f, "document.getElementById('code').value + '/' + window.clicks", "80199/1");
    int64_t t0 = now_ms();
    CHECK_RC(CDP_ERR_GUARD, cdp_page_wait_for(f, "#cart tr[data-code='80199']", NULL, CDP_STATE_VISIBLE, 8000), f);
    if (now_ms() - t0 > 4000)
        fail_msg("the guard took %lld ms of an 8000 ms wait", (long long)(now_ms() - t0));
    assert_int_equal(cdp_page_guard_hit(f), 1);
    assert_string_equal(cdp_page_errmsg(f), "El producto 80199 no existe");
    CHECK_RC(CDP_ERR_GUARD, cdp_page_check_guards(f, 2000), f);
    /* the page's guards look at the page's document only */
    CHECK_OK(cdp_page_check_guards(p, 2000), cdp_page_errmsg(p));
    assert_int_equal(cdp_page_guard_hit(p), -1);
    /* a JS guard runs in the frame's own world */
    char js[128];
    snprintf(js, sizeof(js), "location.origin === '%s' && 'in the cross frame'", e->base2);
    const struct cdp_guard jg = {.js = js};
    CHECK_OK(cdp_page_set_guards(f, &jg, 1), cdp_page_errmsg(f));
    CHECK_RC(CDP_ERR_GUARD, cdp_page_check_guards(f, 2000), f);
    assert_string_equal(cdp_page_errmsg(f), "in the cross frame");
}

/* ------------------------------------------------------------------ widgets */

static void test_select_on_listbox_and_combobox(void **state)
{
    struct env *e = *state;
    struct cdp_page *p = e->p;
    go(e, "widgets.html");
    CHECK_OK(cdp_page_select(p, "#size", NULL, "l", 5000), cdp_page_errmsg(p));
    assert_str_in(p, "document.querySelector('#size [aria-selected=true]').dataset.value", "l");
    CHECK_OK(cdp_page_select(p, "role=listbox[name=\"Talla\"]", NULL, "small", 5000), cdp_page_errmsg(p));
    assert_str_in(p, "document.querySelector('#size [aria-selected=true]').dataset.value", "s");
    assert_int_equal((int)num_in(p, "window.sizeChanges"), 2);
    /* already selected: nothing is clicked */
    CHECK_OK(cdp_page_select(p, "#size", NULL, "Small", 5000), cdp_page_errmsg(p));
    assert_int_equal((int)num_in(p, "window.sizeChanges"), 2);
    /* combobox: opened, an option scrolled into view in its popup, clicked */
    CHECK_OK(cdp_page_select(p, "#cycle", NULL, "202511", 5000), cdp_page_errmsg(p));
    assert_str_in(p, "document.getElementById('cycle').dataset.value", "202511");
    assert_str_in(p, "document.querySelector('#cycle .combo-text').textContent", "Ciclo 11/2025");
    assert_str_in(p, "document.getElementById('cycle').getAttribute('aria-expanded')", "false");
    CHECK_OK(cdp_page_select(p, "role=combobox[name=\"Ciclo\"]", NULL, "Ciclo 03/2026", 5000), cdp_page_errmsg(p));
    assert_str_in(p, "document.getElementById('cycle').dataset.value", "202603");
    assert_int_equal((int)num_in(p, "window.comboOpens"), 2);
    CHECK_OK(cdp_page_select(p, "#cycle", NULL, "202603", 5000), cdp_page_errmsg(p));
    assert_int_equal((int)num_in(p, "window.comboOpens"), 2);
    /* no such option; not a widget */
    CHECK_RC(CDP_ERR_TIMEOUT, cdp_page_select(p, "#size", NULL, "xl", 3000), p);
    assert_contains(cdp_page_errmsg(p), "no option \"xl\" in ul#size.listbox");
    CHECK_RC(CDP_ERR_ARG, cdp_page_select(p, "#user", NULL, "x", 2000), p);
    assert_contains(cdp_page_errmsg(p), "input#user is not a <select>, listbox or combobox");
}

static void test_fill_controlled_and_masked_inputs(void **state)
{
    struct env *e = *state;
    struct cdp_page *p = e->p;
    go(e, "widgets.html");
    /* the framework's state follows (it renders the value back in upper case) */
    CHECK_OK(cdp_page_fill(p, "#user", NULL, "maria", 5000), cdp_page_errmsg(p));
    assert_str_in(p, "window.userState + '/' + document.getElementById('user').value", "MARIA/MARIA");
    /* a value set by script is not seen by it (the page is really controlled) */
    CHECK_OK(cdp_page_evaluate(p,
                               "(() => { const u = document.getElementById('user'); u.value = 'x';\n"
                               "u.dispatchEvent(new Event('input', {bubbles: true})); return 1; })()",
                               2000, NULL),
             cdp_page_errmsg(p));
    assert_str_in(p, "window.userState", "MARIA");
    CHECK_OK(cdp_page_fill(p, "#user", NULL, "José", 5000), cdp_page_errmsg(p));
    assert_str_in(p, "window.userState", "JOSÉ");
    /* a mask that formats on input */
    CHECK_OK(cdp_page_fill(p, "#phone", NULL, "1145551234", 5000), cdp_page_errmsg(p));
    assert_str_in(p, "document.getElementById('phone').value", "(11) 4555-1234");
    /* a mask that refuses inserted text and takes keys: typed again key by key */
    CHECK_OK(cdp_page_fill(p, "#rut", NULL, "12345678-9", 5000), cdp_page_errmsg(p));
    assert_str_in(p, "document.getElementById('rut').value", "12.345.678-9");
    /* a field that never shows it */
    CHECK_OK(cdp_page_evaluate(p,
                               "document.getElementById('phone').addEventListener('input', e => "
                               "{ e.target.value = ''; }), 1",
                               2000, NULL),
             cdp_page_errmsg(p));
    CHECK_RC(CDP_ERR_ARG, cdp_page_fill(p, "#phone", NULL, "999", 5000), p);
    assert_contains(cdp_page_errmsg(p), "fill #phone: the field does not show what was typed");
}

/* ------------------------------------------------------------------ dialogs */

static bool log_has(struct cdp_page *p, enum cdp_log_kind kind, const char *text)
{
    for (size_t i = 0; i < cdp_page_log_count(p); i++) {
        enum cdp_log_kind k;
        const char *t = cdp_page_log_get(p, i, &k);
        if (k == kind && strcmp(t, text) == 0)
            return true;
    }
    return false;
}

static void test_expected_dialogs_are_accepted_or_dismissed(void **state)
{
    struct env *e = *state;
    struct cdp_page *p = e->p;
    go(e, "dialogs.html");
    char msg[200];
    CHECK_OK(cdp_page_expect_dialog(p, true, NULL), cdp_page_errmsg(p));
    assert_false(cdp_page_dialog_seen(p, msg, sizeof(msg)));
    CHECK_OK(cdp_page_click(p, "#confirm", NULL, 5000), cdp_page_errmsg(p));
    assert_true(cdp_page_dialog_seen(p, msg, sizeof(msg)));
    assert_string_equal(msg, "¿Enviar el pedido 80123?");
    assert_int_equal((int)num_in(p, "window.confirmed === true ? 1 : 0"), 1);
    CHECK_OK(cdp_page_expect_dialog(p, false, NULL), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_click(p, "#confirm", NULL, 5000), cdp_page_errmsg(p));
    assert_true(cdp_page_dialog_seen(p, NULL, 0));
    assert_int_equal((int)num_in(p, "window.confirmed === false ? 1 : 0"), 1);
    CHECK_OK(cdp_page_expect_dialog(p, true, "REF-42"), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_click(p, "#prompt", NULL, 5000), cdp_page_errmsg(p));
    assert_str_in(p, "window.answer", "REF-42");
    /* unexpected: dismissed and logged; the arming was used up */
    CHECK_OK(cdp_page_click(p, "#confirm", NULL, 5000), cdp_page_errmsg(p));
    assert_int_equal((int)num_in(p, "window.confirmed === false ? 1 : 0"), 1);
    assert_true(log_has(p, CDP_LOG_DIALOG, "confirm: ¿Enviar el pedido 80123? (accepted, expected)"));
    assert_true(log_has(p, CDP_LOG_DIALOG, "confirm: ¿Enviar el pedido 80123? (dismissed, expected)"));
    assert_true(log_has(p, CDP_LOG_DIALOG, "prompt: Número de referencia (accepted, expected)"));
    assert_true(log_has(p, CDP_LOG_DIALOG, "confirm: ¿Enviar el pedido 80123?"));
    /* a dialog that opens later, while another call waits */
    CHECK_OK(cdp_page_expect_dialog(p, true, NULL), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_click(p, "#later", NULL, 5000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_wait_function(p, "window.laterResult !== null", 5000), cdp_page_errmsg(p));
    assert_int_equal((int)num_in(p, "window.laterResult === true ? 1 : 0"), 1);
    assert_true(cdp_page_dialog_seen(p, msg, sizeof(msg)));
    assert_string_equal(msg, "¿Seguro?");
}

static void test_dialog_in_a_cross_origin_frame(void **state)
{
    struct env *e = *state;
    struct cdp_page *p = e->p;
    go_frames(e, NULL);
    struct cdp_page *f = NULL;
    const char *const sel[] = {"#cross"};
    CHECK_OK(cdp_page_frame(p, sel, 1, 5000, &f), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_expect_dialog(f, true, NULL), cdp_page_errmsg(f));
    CHECK_OK(cdp_page_evaluate(f, "window.r = confirm('¿Borrar la línea?'), 1", 5000, NULL), cdp_page_errmsg(f));
    assert_int_equal((int)num_in(f, "window.r === true ? 1 : 0"), 1);
    char msg[100];
    assert_true(cdp_page_dialog_seen(p, msg, sizeof(msg)));
    assert_string_equal(msg, "¿Borrar la línea?");
}

/* ------------------------------------------------------------------ popups */

static void test_popup_opened_by_a_click_is_used_and_closes(void **state)
{
    struct env *e = *state;
    struct cdp_page *p = e->p;
    go(e, "popup.html");
    struct cdp_page *w = NULL;
    CHECK_RC(CDP_ERR_ARG, cdp_page_wait_popup(p, 1000, &w), p);
    CHECK_OK(cdp_page_expect_popup(p), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_click(p, "#open", NULL, 5000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_wait_popup(p, 5000, &w), cdp_page_errmsg(p));
    assert_non_null(w);
    assert_false(cdp_page_is_closed(w));
    char *t = NULL;
    CHECK_OK(cdp_page_text(w, "#title", NULL, 2000, &t), cdp_page_errmsg(w));
    assert_string_equal(t, "Popup");
    free(t);
    char *href = str_in(w, "location.href");
    assert_contains(href, "popup_child.html?via=open");
    free(href);
    CHECK_OK(cdp_page_fill(w, "#ref", NULL, "R-1", 5000), cdp_page_errmsg(w));
    CHECK_OK(cdp_page_click(w, "#save", NULL, 5000), cdp_page_errmsg(w));
    CHECK_OK(cdp_page_wait_closed(w, 5000), cdp_page_errmsg(w));
    assert_true(cdp_page_is_closed(w));
    CHECK_RC(CDP_ERR_GONE, cdp_page_evaluate(w, "1", 2000, NULL), w);
    assert_false(cdp_browser_is_gone(e->b));
    cdp_page_free(w);
    CHECK_OK(cdp_page_wait_for(p, "#result", "saved R-1", CDP_STATE_VISIBLE, 5000), cdp_page_errmsg(p));
    assert_false(cdp_page_is_closed(p));

    /* a target=_blank link; freeing the popup closes that window only */
    CHECK_OK(cdp_page_expect_popup(p), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_click(p, "#blank", NULL, 5000), cdp_page_errmsg(p));
    CHECK_OK(cdp_page_wait_popup(p, 5000, &w), cdp_page_errmsg(p));
    href = str_in(w, "location.href");
    assert_contains(href, "via=link");
    free(href);
    assert_str_in(w, "document.cookie = 'shared=1', document.cookie", "shared=1");
    assert_str_in(p, "document.cookie", "shared=1");
    cdp_page_free(w);
    assert_int_equal((int)num_in(p, "1"), 1);

    /* nothing opens */
    CHECK_OK(cdp_page_expect_popup(p), cdp_page_errmsg(p));
    CHECK_RC(CDP_ERR_TIMEOUT, cdp_page_wait_popup(p, 300, &w), p);
    assert_contains(cdp_page_errmsg(p), "no new window was opened");
    assert_null(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_selectors_pierce_open_shadow_roots, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_click_hit_test_goes_through_shadow_roots, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_role_targets_by_role_and_accessible_name, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_same_origin_frame_actions_evaluate_and_navigate, page_setup,
                                        page_teardown),
        cmocka_unit_test_setup_teardown(test_cross_origin_frame_runs_out_of_process_and_acts, page_setup,
                                        page_teardown),
        cmocka_unit_test_setup_teardown(test_nested_frames_cross_then_same_origin, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_frame_that_appears_late_is_waited_for, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_overlay_over_a_cross_origin_frame_blocks_the_click, page_setup,
                                        page_teardown),
        cmocka_unit_test_setup_teardown(test_guards_race_inside_a_frame, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_select_on_listbox_and_combobox, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_fill_controlled_and_masked_inputs, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_expected_dialogs_are_accepted_or_dismissed, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_dialog_in_a_cross_origin_frame, page_setup, page_teardown),
        cmocka_unit_test_setup_teardown(test_popup_opened_by_a_click_is_used_and_closes, page_setup, page_teardown),
    };
    return cmocka_run_group_tests_name("cdp_modern", tests, group_setup, group_teardown);
}
