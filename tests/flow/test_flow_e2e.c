/* The flow engine end to end: real headless Chromium walking the real simulator (gspbot-sim) over
 * real HTTP with data/flows/gsp-sim.json. Every assertion reads the simulator's own state
 * (/__sim/state): what landed in the server-side cart, how many logins, how many clicks hit the
 * loading overlay.
 *
 * The same cases run on both of the simulator's UIs:
 *   test_flow_e2e                                  classic pages, data/flows/gsp-sim.json
 *   test_flow_e2e --ui modern --flow F [--cart-origin cross] [--interrupt-rate R]
 *                                                  the single-page app (shadow DOM, listbox,
 *                                                  cart iframe, consent and survey interrupts,
 *                                                  confirm(), an order number), with F
 * plus, on the modern UI only, the captured order number, interrupts and a role-based flow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "flow.h"
#include "flow_order.h"
#include "flow_run.h"
#include "portal.h"
#include "simproc.h"
#include "trace.h"

#define CYCLE "202605"

static struct simproc g_sim;
static struct config g_cfg;
static struct flow *g_flow;
static struct portal *g_portal; /* one browser for the whole suite, like a worker's */
static char g_tmp[64];
static bool g_modern;                              /* --ui modern */
static char *g_flow_path = GSPBOT_FLOW_PATH;       /* --flow */
static const char *g_cart_origin = "same";         /* --cart-origin */
static double g_interrupt_rate;                    /* --interrupt-rate (modern) */
static const char *g_ui_scale = "1";               /* --ui-scale: the simulator's delays */
static const char *g_last_step = "products_added"; /* the flow's last step */

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/gspbot-e2e-XXXXXX");
    if (mkdtemp(g_tmp) == NULL)
        return -1;
    char rate[32];
    snprintf(rate, sizeof rate, "%g", g_interrupt_rate);
    const char *classic[] = {"--seed", "7", "--ui-scale", g_ui_scale, NULL};
    const char *modern[] = {
        "--seed", "7",          "--ui",     "modern", "--cart-origin", g_cart_origin, "--interrupt-rate",
        rate,     "--ui-scale", g_ui_scale, NULL};
    if (simproc_start(&g_sim, GSPBOT_SIM_PATH, g_modern ? modern : classic) != 0)
        return -1;
    struct flow_diags d = {0};
    if (flow_load(g_flow_path, &g_flow, &d) != 0) {
        fprintf(stderr, "flow: %s: %s\n", d.n ? d.v[0].path : "", d.n ? d.v[0].message : "");
        return -1;
    }
    static char evidence[96];
    snprintf(evidence, sizeof evidence, "%s/evidence", g_tmp);
    g_cfg = (struct config){.base_url = g_sim.url,
                            .user_code = "demo",
                            .password = "demo",
                            .cycle = CYCLE,
                            .flow_path = g_flow_path,
                            .screenshot_dir = evidence,
                            .timeout_ms = 15000,
                            .max_retries = 3,
                            .retry_delay_ms = 50,
                            .headless = true,
                            .max_orders_per_browser = 100,
                            .max_browser_rss_mb = 4000,
                            .max_quantity = 999};
    g_portal = portal_new(&g_cfg, g_flow);
    return g_portal ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    portal_free(g_portal);
    flow_free(g_flow);
    int rc = simproc_stop(&g_sim);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    if (system(cmd) != 0)
        return -1;
    return rc == 0 ? 0 : -1; // a crash or sanitizer report in the simulator fails the run
}

static int reset(void **state)
{
    (void)state;
    char conf[160]; /* the classic UI ignores interrupt_rate */
    snprintf(conf, sizeof conf, "{\"fail_rate\": 0, \"ghost_rate\": 0, \"slow_rate\": 0, \"interrupt_rate\": %g}",
             g_interrupt_rate);
    simproc_post(&g_sim, "/__sim/config", conf);
    return simproc_post(&g_sim, "/__sim/reset", NULL) == 200 ? 0 : -1;
}

/* Events seen during a run, and a hook to act between steps. */
struct watch {
    int step_ok, step_failed, session_lost, actions, interrupts;
    const char *expire_after_step; /* POST /__sim/expire-sessions once this step succeeded */
    bool expired;
};

static void on_event(void *arg, const struct flow_event *ev)
{
    struct watch *w = arg;
    if (ev->kind == FLOW_EV_STEP_OK)
        w->step_ok++;
    if (ev->kind == FLOW_EV_STEP_FAILED)
        w->step_failed++;
    if (ev->kind == FLOW_EV_SESSION_LOST)
        w->session_lost++;
    if (ev->kind == FLOW_EV_INTERRUPT)
        w->interrupts++;
    if (ev->kind == FLOW_EV_ACTION_OK || ev->kind == FLOW_EV_ACTION_FAILED)
        w->actions++;
    if (ev->kind == FLOW_EV_STEP_OK && w->expire_after_step && !w->expired &&
        strcmp(ev->step, w->expire_after_step) == 0) {
        assert_int_equal(simproc_post(&g_sim, "/__sim/expire-sessions", NULL), 200);
        w->expired = true;
    }
}

static void items_init(struct flow_item_state *it, const char *const *codes, const int *qty, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        memset(&it[i], 0, sizeof it[i]);
        snprintf(it[i].product_code, sizeof it[i].product_code, "%s", codes[i]);
        it[i].quantity = qty[i];
    }
}

/* Runs the order through the shipped attempt/retry loop (flow_order_run: the one `gspbot order`
 * and `preflight` use, with the policy workers share) and returns 0 when it completed, -1 when not,
 * with the attempts used in *attempts. */
static int run_order_on(struct portal *portal, const struct flow *flow, const struct config *cfg,
                        const char *consultora, struct flow_item_state *items, size_t n, struct watch *w,
                        struct trace *trace, struct flow_result *res, int *attempts)
{
    struct flow_run_opts o = {.cfg = cfg,
                              .flow = flow,
                              .evidence_dir = cfg->screenshot_dir,
                              .trace = trace,
                              .on_event = on_event,
                              .event_arg = w};
    struct flow_order order = {.id = 7, .consultora_code = consultora, .consultora_name = "Test"};
    enum flow_next next =
        flow_order_run(portal, &o, cfg->max_retries + 1, cfg->retry_delay_ms, &order, items, n, NULL, res, attempts);
    if (next == FLOW_NEXT_ABORT && res->cls == FLOW_CLASS_ABORT && strstr(res->error, "Chromium") != NULL)
        fail_msg("browser: %s", res->error);
    // Each order starts in a fresh context (no portal session), as the assertions on logins assume.
    portal_after_failure(portal);
    return next == FLOW_NEXT_DONE ? 0 : -1;
}

static int run_order(const struct config *cfg, const char *consultora, struct flow_item_state *items, size_t n,
                     struct watch *w, struct trace *trace, struct flow_result *res, int *attempts)
{
    return run_order_on(g_portal, g_flow, cfg, consultora, items, n, w, trace, res, attempts);
}

static void assert_no_overlay_clicks(void)
{
    assert_int_equal(simproc_stat(&g_sim, "overlay_clicks"), 0);
}

static void test_normal_order_lands_exactly_in_the_cart(void **state)
{
    (void)state;
    const char *codes[] = {"80901", "80455", "12345"};
    int qty[] = {2, 1, 7};
    struct flow_item_state it[3];
    items_init(it, codes, qty, 3);
    struct watch w = {0};
    struct flow_result res;
    int attempts;
    assert_int_equal(run_order(&g_cfg, "12345678", it, 3, &w, NULL, &res, &attempts), 0);
    assert_int_equal(attempts, 1);
    assert_string_equal(res.step, g_last_step);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(simproc_cart_qty(&g_sim, "12345678", CYCLE, codes[i]), qty[i]);
        assert_string_equal(it[i].outcome, "added");
    }
    assert_int_equal(simproc_stat(&g_sim, "adds"), 3);
    assert_int_equal(simproc_stat(&g_sim, "logins"), 1);
    assert_no_overlay_clicks();
}

static void test_unknown_product_is_not_found_others_added_no_retry(void **state)
{
    (void)state;
    const char *codes[] = {"80901", "12399", "44498", "80455"};
    int qty[] = {2, 1, 1, 3};
    struct flow_item_state it[4];
    items_init(it, codes, qty, 4);
    struct watch w = {0};
    struct flow_result res;
    int attempts;
    assert_int_equal(run_order(&g_cfg, "23456789", it, 4, &w, NULL, &res, &attempts), -1);
    assert_int_equal(res.cls, FLOW_CLASS_FATAL);
    assert_int_equal(attempts, 1); // fatal: no retry
    assert_string_equal(it[0].outcome, "added");
    assert_string_equal(it[1].outcome, "not_found");
    assert_non_null(strstr(it[1].message, "12399 no existe"));
    assert_string_equal(it[2].outcome, "no_stock");
    assert_non_null(strstr(it[2].message, "sin stock"));
    assert_string_equal(it[3].outcome, "added");
    assert_non_null(strstr(res.error, "12399 not_found"));
    assert_int_equal(simproc_cart_qty(&g_sim, "23456789", CYCLE, "80901"), 2);
    assert_int_equal(simproc_cart_qty(&g_sim, "23456789", CYCLE, "80455"), 3);
    assert_int_equal(simproc_cart_qty(&g_sim, "23456789", CYCLE, "12399"), 0);
    assert_int_equal(simproc_stat(&g_sim, "logins"), 1);
    // Evidence of the failed attempt: screenshot, HTML, console errors.
    char path[256];
    struct stat sb;
    for (int i = 0; i < 3; i++) {
        static const char *const ext[] = {"png", "html", "console.txt"};
        snprintf(path, sizeof path, "%s.%s", res.evidence, ext[i]);
        if (stat(path, &sb) != 0)
            fail_msg("missing evidence %s", path);
    }
    assert_non_null(strstr(res.evidence, "order-7-23456789-a1-products_added"));
    assert_no_overlay_clicks();
}

static void test_consultora_starting_99_fails_fatal_at_its_step(void **state)
{
    (void)state;
    const char *codes[] = {"80901"};
    int qty[] = {1};
    struct flow_item_state it[1];
    items_init(it, codes, qty, 1);
    struct watch w = {0};
    struct flow_result res;
    int attempts;
    assert_int_equal(run_order(&g_cfg, "99000001", it, 1, &w, NULL, &res, &attempts), -1);
    assert_int_equal(res.cls, FLOW_CLASS_FATAL);
    assert_int_equal(attempts, 1);
    assert_string_equal(res.failed_step, "consultora_selected");
    assert_string_equal(res.step, "login_ok");
    assert_non_null(strstr(res.error, "La consultora 99000001 no existe"));
    assert_int_equal(simproc_stat(&g_sim, "adds"), 0);
}

static void test_cart_holding_half_receives_only_the_rest(void **state)
{
    (void)state;
    assert_int_equal(simproc_post(&g_sim, "/__sim/cart",
                                  "{\"consultora\": \"34567890\", \"cycle\": \"" CYCLE
                                  "\", \"products\": {\"80901\": 2, \"80455\": 3}}"),
                     200);
    const char *codes[] = {"80901", "80455", "70000"};
    int qty[] = {4, 6, 2};
    struct flow_item_state it[3];
    items_init(it, codes, qty, 3);
    struct watch w = {0};
    struct flow_result res;
    int attempts;
    assert_int_equal(run_order(&g_cfg, "34567890", it, 3, &w, NULL, &res, &attempts), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(simproc_cart_qty(&g_sim, "34567890", CYCLE, codes[i]), qty[i]);
    assert_int_equal(it[0].in_cart, 2);
    assert_int_equal(it[1].in_cart, 3);
    assert_int_equal(simproc_stat(&g_sim, "adds"), 3); // 80901 +2, 80455 +3, 70000 +2
}

static void test_cart_holding_more_than_the_order_fails_fatal_and_removes_nothing(void **state)
{
    (void)state;
    assert_int_equal(simproc_post(&g_sim, "/__sim/cart",
                                  "{\"consultora\": \"45678901\", \"cycle\": \"" CYCLE
                                  "\", \"products\": {\"80901\": 5, \"55555\": 1}}"),
                     200);
    const char *codes[] = {"80901", "80455"};
    int qty[] = {2, 1};
    struct flow_item_state it[2];
    items_init(it, codes, qty, 2);
    struct watch w = {0};
    struct flow_result res;
    int attempts;
    assert_int_equal(run_order(&g_cfg, "45678901", it, 2, &w, NULL, &res, &attempts), -1);
    assert_int_equal(res.cls, FLOW_CLASS_FATAL);
    assert_non_null(strstr(res.error, "80901: cart 5, order 2"));
    assert_non_null(strstr(res.error, "55555: cart 1, order 0"));
    assert_int_equal(simproc_cart_qty(&g_sim, "45678901", CYCLE, "80901"), 5);
    assert_int_equal(simproc_cart_qty(&g_sim, "45678901", CYCLE, "55555"), 1);
    assert_int_equal(simproc_stat(&g_sim, "adds"), 0);
}

/* Several orders under a fault; each must end with its cart exactly as ordered. */
static void orders_under_fault(const char *config_json, struct config *cfg, const char *prefix, int orders,
                               long *fault_count, const char *fault_stat)
{
    assert_int_equal(simproc_post(&g_sim, "/__sim/config", config_json), 200);
    const char *codes[] = {"80901", "80455", "70001"};
    int qty[] = {2, 1, 3};
    for (int o = 0; o < orders; o++) {
        char consultora[32];
        snprintf(consultora, sizeof consultora, "%s%02d", prefix, o);
        struct flow_item_state it[3];
        items_init(it, codes, qty, 3);
        struct watch w = {0};
        struct flow_result res;
        int attempts;
        int rc = run_order(cfg, consultora, it, 3, &w, NULL, &res, &attempts);
        if (rc != 0)
            fail_msg("order %s did not complete in %d attempts: %s", consultora, attempts, res.error);
        for (int i = 0; i < 3; i++) {
            long q = simproc_cart_qty(&g_sim, consultora, CYCLE, codes[i]);
            if (q != qty[i])
                fail_msg("order %s: product %s: cart %ld, ordered %d", consultora, codes[i], q, qty[i]);
        }
    }
    *fault_count = simproc_stat(&g_sim, fault_stat);
}

static void test_ghost_additions_never_double_the_cart(void **state)
{
    (void)state;
    struct config cfg = g_cfg;
    cfg.max_retries = 10;
    long ghosts;
    orders_under_fault("{\"ghost_rate\": 0.5}", &cfg, "560000", 4, &ghosts, "ghosts");
    assert_true(ghosts > 0); // the fault really happened
    assert_no_overlay_clicks();
}

static void test_fail_rate_orders_complete_within_retries_and_exact(void **state)
{
    (void)state;
    struct config cfg = g_cfg;
    cfg.max_retries = 25;
    long failures;
    // The modern UI makes about three times the requests per order (API calls, route changes,
    // the consent), so the same share of failing requests fails most attempts: 0.1 there.
    orders_under_fault(g_modern ? "{\"fail_rate\": 0.1}" : "{\"fail_rate\": 0.3}", &cfg, "570000", 2, &failures,
                       "failures");
    assert_true(failures > 0);
    assert_no_overlay_clicks();
}

static void test_expired_session_between_steps_logs_in_again_and_finishes(void **state)
{
    (void)state;
    const char *codes[] = {"80901", "80455"};
    int qty[] = {1, 2};
    struct flow_item_state it[2];
    items_init(it, codes, qty, 2);
    struct watch w = {.expire_after_step = "cycle_selected"};
    struct flow_result res;
    int attempts;
    assert_int_equal(run_order(&g_cfg, "67890123", it, 2, &w, NULL, &res, &attempts), 0);
    assert_true(w.expired);
    assert_int_equal(w.session_lost, 1);
    assert_int_equal(attempts, 1); // handled inside the attempt, without waiting
    assert_int_equal(simproc_stat(&g_sim, "logins"), 2);
    assert_int_equal(simproc_cart_qty(&g_sim, "67890123", CYCLE, "80901"), 1);
    assert_int_equal(simproc_cart_qty(&g_sim, "67890123", CYCLE, "80455"), 2);
}

static void test_trace_writes_a_timeline_whose_every_image_exists(void **state)
{
    (void)state;
    char dir[128], err[128];
    snprintf(dir, sizeof dir, "%s/trace", g_tmp);
    struct trace *t = trace_new(dir, err, sizeof err);
    assert_non_null(t);
    const char *codes[] = {"80901"};
    int qty[] = {1};
    struct flow_item_state it[1];
    items_init(it, codes, qty, 1);
    struct watch w = {0};
    struct flow_result res;
    int attempts;
    assert_int_equal(run_order(&g_cfg, "78901234", it, 1, &w, t, &res, &attempts), 0);
    trace_free(t);
    char path[192];
    snprintf(path, sizeof path, "%s/index.html", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char html[1 << 20];
    size_t n = fread(html, 1, sizeof html - 1, f);
    fclose(f);
    html[n] = '\0';
    assert_null(strstr(html, "demo\"")); // the password's value never appears; its action says ***
    assert_non_null(strstr(html, "fill #password = ***"));
    assert_non_null(strstr(html, "fill #code = 80901")); // actual values, so staff see what was typed
    int images = 0;
    for (const char *p = strstr(html, "<img src=\""); p != NULL; p = strstr(p + 1, "<img src=\"")) {
        char name[32];
        assert_int_equal(sscanf(p + 10, "%31[^\"]", name), 1);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "rb");
        if (f == NULL)
            fail_msg("trace image %s missing", path);
        unsigned char sig[8] = {0};
        assert_int_equal(fread(sig, 1, 8, f), 8);
        fclose(f);
        assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
        images++;
    }
    // One screenshot per action; a capture may fail on a heavily loaded machine (the engine retries
    // once and logs it), but never more than one in a walk.
    if (images < w.actions - 1 || images > w.actions)
        fail_msg("%d screenshots for %d actions", images, w.actions);
    assert_true(images >= 20);
}

static void test_second_order_reuses_the_portal_session(void **state)
{
    (void)state;
    struct cdp_page *page = NULL;
    char err[256];
    struct watch w = {0};
    struct flow_run_opts o = {.cfg = &g_cfg, .flow = g_flow, .on_event = on_event, .event_arg = &w};
    const char *consultoras[] = {"90000001", "90000002"};
    for (int i = 0; i < 2; i++) {
        const char *codes[] = {"80901"};
        int qty[] = {i + 1};
        struct flow_item_state it[1];
        items_init(it, codes, qty, 1);
        struct flow_order order = {.id = i + 1, .consultora_code = consultoras[i], .consultora_name = "x"};
        struct flow_result res;
        if (portal_page(g_portal, &page, err, sizeof err) != 0)
            fail_msg("browser: %s", err);
        if (flow_run_attempt(page, &o, &order, it, 1, 1, &res) != 0)
            fail_msg("order %s: %s", consultoras[i], res.error);
        assert_int_equal(simproc_cart_qty(&g_sim, consultoras[i], CYCLE, "80901"), i + 1);
    }
    portal_after_failure(g_portal); // leave a fresh context for the next test
    // skip_if {"selector": "#logout"} held for the second order: one login for both.
    assert_int_equal(simproc_stat(&g_sim, "logins"), 1);
}

/* A quantity above what the portal takes in one add (the simulator's field stops at 999; the
 * shipped flow says "max_per_add": 999) goes in several adds, still exactly once: also when the
 * cart already holds part of it. */
static void test_max_per_add_splits_a_large_quantity_exactly_once(void **state)
{
    (void)state;
    const char *codes[] = {"80901", "80455"};
    int qty[] = {2500, 3};
    struct flow_item_state it[2];
    items_init(it, codes, qty, 2);
    struct watch w = {0};
    struct flow_result res;
    int attempts;
    assert_int_equal(run_order(&g_cfg, "11223344", it, 2, &w, NULL, &res, &attempts), 0);
    assert_int_equal(simproc_cart_qty(&g_sim, "11223344", CYCLE, "80901"), 2500);
    assert_int_equal(simproc_cart_qty(&g_sim, "11223344", CYCLE, "80455"), 3);
    assert_int_equal(simproc_stat(&g_sim, "adds"), 4); // 999 + 999 + 502, then 3
    assert_string_equal(it[0].outcome, "added");

    // Half of it already there: only what is missing, split again (999 + 301).
    assert_int_equal(simproc_post(&g_sim, "/__sim/cart",
                                  "{\"consultora\": \"22334455\", \"cycle\": \"" CYCLE
                                  "\", \"products\": {\"80901\": 1200}}"),
                     200);
    items_init(it, codes, qty, 1);
    assert_int_equal(run_order(&g_cfg, "22334455", it, 1, &w, NULL, &res, &attempts), 0);
    assert_int_equal(simproc_cart_qty(&g_sim, "22334455", CYCLE, "80901"), 2500);
    assert_int_equal(simproc_stat(&g_sim, "adds"), 6);
    assert_int_equal(it[0].in_cart, 1200);
    assert_int_equal(it[0].added, 1300);
}

static void test_preflight_walks_to_the_cart_and_adds_nothing(void **state)
{
    (void)state;
    struct watch w = {0};
    struct flow_run_opts o = {
        .cfg = &g_cfg, .flow = g_flow, .on_event = on_event, .event_arg = &w, .stop_before_step = ""};
    struct flow_order order = {.id = 0, .consultora_code = "89012345", .consultora_name = ""};
    struct flow_result res;
    assert_int_equal(flow_order_run(g_portal, &o, 1, 50, &order, NULL, 0, NULL, &res, NULL), FLOW_NEXT_DONE);
    assert_string_equal(res.step, "cart_open"); // stopped before the step that adds products
    assert_int_equal(simproc_stat(&g_sim, "adds"), 0);
    assert_int_equal(simproc_stat(&g_sim, "logins"), 1);
}

/* ---- modern UI only */

/* The order number the portal answered with, as `capture ... as portal_reference` read it: the
 * same as the simulator's record of the submitted order, and one order per cart. */
static const cJSON *sim_order_of(cJSON *state, const char *consultora, int *count)
{
    const cJSON *found = NULL, *o;
    *count = 0;
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(state, "orders"))
    {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "consultora")), consultora) == 0) {
            found = o;
            (*count)++;
        }
    }
    return found;
}

static void test_modern_captured_reference_is_the_portal_order_number(void **state)
{
    (void)state;
    const char *codes[] = {"80901", "70002"};
    int qty[] = {3, 1};
    struct flow_item_state it[2];
    items_init(it, codes, qty, 2);
    struct watch w = {0};
    struct flow_result res;
    int attempts;
    assert_int_equal(run_order(&g_cfg, "31313131", it, 2, &w, NULL, &res, &attempts), 0);
    cJSON *st = simproc_get_json(&g_sim, "/__sim/state");
    assert_non_null(st);
    int count;
    const cJSON *o = sim_order_of(st, "31313131", &count);
    assert_int_equal(count, 1); // submitted once, confirm() accepted once
    assert_non_null(o);
    assert_string_not_equal(res.portal_reference, "");
    assert_string_equal(res.portal_reference, cJSON_GetStringValue(cJSON_GetObjectItem(o, "number")));
    const cJSON *p = cJSON_GetObjectItem(o, "products");
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "80901")), 3);
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "70002")), 1);
    cJSON_Delete(st);
}

/* A survey modal at 30 % of route changes (and the consent banner once per context): the
 * interrupts close them, the interrupted action resumes, and every cart
 * is exact. */
static void test_modern_interrupts_resume_the_walk_and_the_cart_is_exact(void **state)
{
    (void)state;
    double rate = g_interrupt_rate > 0.3 ? g_interrupt_rate : 0.3;
    char conf[64];
    snprintf(conf, sizeof conf, "{\"interrupt_rate\": %g}", rate);
    assert_int_equal(simproc_post(&g_sim, "/__sim/config", conf), 200);
    const char *codes[] = {"80901", "80455", "70001"};
    int qty[] = {1, 2, 3};
    int handled = 0;
    for (int k = 0; k < 4; k++) {
        char consultora[16];
        snprintf(consultora, sizeof consultora, "420000%02d", k);
        struct flow_item_state it[3];
        items_init(it, codes, qty, 3);
        struct watch w = {0};
        struct flow_result res;
        int attempts;
        if (run_order(&g_cfg, consultora, it, 3, &w, NULL, &res, &attempts) != 0)
            fail_msg("order %s: %s", consultora, res.error);
        for (int i = 0; i < 3; i++)
            assert_int_equal(simproc_cart_qty(&g_sim, consultora, CYCLE, codes[i]), qty[i]);
        handled += w.interrupts;
    }
    long shown = simproc_stat(&g_sim, "interrupts_shown"), consents = simproc_stat(&g_sim, "consents");
    // A click already on its way when the survey opens lands on it (any automation has that
    // instant); the engine then handles the survey and the step runs again, so the carts above
    // stay exact. Counted, not asserted: on a loaded machine the instant is wider.
    fprintf(stderr, "# interrupts: %ld surveys shown, %ld consents, %d handled by the engine, %ld clicks on a survey\n",
            shown, consents, handled, simproc_stat(&g_sim, "blocked_clicks"));
    assert_true(shown > 0);                       // the fault really happened
    assert_true(consents >= 4);                   // a fresh context per order: the banner every time
    assert_true(handled >= shown + consents - 1); // each one was handled (one may close by itself at a route change)
}

/* The same portal walked by a flow that names fields and buttons by ARIA role and accessible
 * name (tests/flow/modern-roles.json), the consultora's field inside the picker's shadow root. */
static void test_modern_role_based_flow_fills_and_clicks_by_name(void **state)
{
    (void)state;
    struct flow_diags d = {0};
    struct flow *roles = NULL;
    if (flow_load(GSPBOT_TEST_FLOWS_DIR "/modern-roles.json", &roles, &d) != 0)
        fail_msg("modern-roles.json: %s: %s", d.n ? d.v[0].path : "", d.n ? d.v[0].message : "");
    struct config cfg = g_cfg;
    cfg.flow_path = (char *)GSPBOT_TEST_FLOWS_DIR "/modern-roles.json";
    struct portal *p = portal_new(&cfg, roles);
    assert_non_null(p);
    const char *codes[] = {"80901", "80455"};
    int qty[] = {2, 5};
    struct flow_item_state it[2];
    items_init(it, codes, qty, 2);
    struct watch w = {0};
    struct flow_result res;
    int attempts;
    int rc = run_order_on(p, roles, &cfg, "51515151", it, 2, &w, NULL, &res, &attempts);
    portal_free(p);
    flow_free(roles);
    if (rc != 0)
        fail_msg("role-based flow: %s", res.error);
    assert_int_equal(attempts, 1);
    assert_int_equal(simproc_cart_qty(&g_sim, "51515151", CYCLE, "80901"), 2);
    assert_int_equal(simproc_cart_qty(&g_sim, "51515151", CYCLE, "80455"), 5);
    assert_string_not_equal(res.portal_reference, "");
}

static int usage(void)
{
    fprintf(stderr, "usage: test_flow_e2e [--ui classic|modern] [--flow F] [--cart-origin same|cross] "
                    "[--interrupt-rate R] [--ui-scale F]\n");
    return 2;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i += 2) { // options come in pairs: --name value
        if (i + 1 >= argc)
            return usage();
        if (strcmp(argv[i], "--ui") == 0 && strcmp(argv[i + 1], "modern") == 0)
            g_modern = true;
        else if (strcmp(argv[i], "--ui") == 0 && strcmp(argv[i + 1], "classic") == 0)
            g_modern = false;
        else if (strcmp(argv[i], "--flow") == 0)
            g_flow_path = argv[i + 1];
        else if (strcmp(argv[i], "--cart-origin") == 0)
            g_cart_origin = argv[i + 1];
        else if (strcmp(argv[i], "--ui-scale") == 0)
            g_ui_scale = argv[i + 1];
        else if (strcmp(argv[i], "--interrupt-rate") == 0)
            g_interrupt_rate = strtod(argv[i + 1], NULL);
        else
            return usage();
    }
    if (g_modern)
        g_last_step = "reference_captured";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_normal_order_lands_exactly_in_the_cart, reset),
        cmocka_unit_test_setup(test_unknown_product_is_not_found_others_added_no_retry, reset),
        cmocka_unit_test_setup(test_consultora_starting_99_fails_fatal_at_its_step, reset),
        cmocka_unit_test_setup(test_cart_holding_half_receives_only_the_rest, reset),
        cmocka_unit_test_setup(test_cart_holding_more_than_the_order_fails_fatal_and_removes_nothing, reset),
        cmocka_unit_test_setup(test_ghost_additions_never_double_the_cart, reset),
        cmocka_unit_test_setup(test_fail_rate_orders_complete_within_retries_and_exact, reset),
        cmocka_unit_test_setup(test_expired_session_between_steps_logs_in_again_and_finishes, reset),
        cmocka_unit_test_setup(test_trace_writes_a_timeline_whose_every_image_exists, reset),
        cmocka_unit_test_setup(test_second_order_reuses_the_portal_session, reset),
        cmocka_unit_test_setup(test_max_per_add_splits_a_large_quantity_exactly_once, reset),
        cmocka_unit_test_setup(test_preflight_walks_to_the_cart_and_adds_nothing, reset),
    };
    const struct CMUnitTest modern[] = {
        cmocka_unit_test_setup(test_modern_captured_reference_is_the_portal_order_number, reset),
        cmocka_unit_test_setup(test_modern_interrupts_resume_the_walk_and_the_cart_is_exact, reset),
        cmocka_unit_test_setup(test_modern_role_based_flow_fills_and_clicks_by_name, reset),
    };
    struct CMUnitTest all[sizeof tests / sizeof tests[0] + sizeof modern / sizeof modern[0]];
    size_t n = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        all[n++] = tests[i];
    for (size_t i = 0; g_modern && i < sizeof modern / sizeof modern[0]; i++)
        all[n++] = modern[i];
    return _cmocka_run_group_tests(g_modern ? "flow_e2e (modern UI)" : "flow_e2e", all, n, group_setup, group_teardown);
}
