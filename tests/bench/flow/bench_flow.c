/*
 * bench_flow.c - the flow-engine half of tests/bench/flow/run.sh (issue 5 benchmark, both UIs since
 * issue 13): N orders one after another through flow_run_attempt() with data/flows/gsp-sim.json
 * (classic UI) or data/flows/gsp-sim-modern.json (gspbot-sim --ui modern) in ONE browser (portal
 * with max_orders_per_browser high, so it is never recycled), against a running gspbot-sim. Also
 * the simulator chores of the run: reset it between contenders and verify that every order landed.
 *
 *   bench_flow run URL FLOW N        N orders; prints "MARK start"/"MARK end" around the order loop
 *                                    (bench_sample takes its CPU snapshots there), per-step and
 *                                    per-action mean durations on stderr, one JSON line on stdout
 *                                    ("references": orders whose flow captured a portal reference,
 *                                    the modern flow's order number; "interrupts": handled)
 *   bench_flow reset URL             POST /__sim/reset
 *   bench_flow verify URL N LOGINS   the carts of /__sim/state hold exactly the N orders and nothing
 *                                    else, no click hit the overlay, LOGINS logins (-1: any); the
 *                                    UI comes from /__sim/config: classic, no order was submitted;
 *                                    modern, "orders" holds exactly one submission per consultora
 *                                    with exactly its cart, every confirm() was accepted, no click
 *                                    landed on the consent banner or the survey's backdrop;
 *                                    prints one JSON line, exit 0 valid / 1 invalid
 *
 * The orders (shared with bench_playwright.js, keep them identical): order i = 0..N-1 is consultora
 * 10000001+i, cycle 202605, products 80000+10*i+k+1 (k = 0..2, never ending 98/99) with quantity
 * (i+k)%3+1. Password from env GSP_PASSWORD (never argv), user "demo".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "flow.h"
#include "flow_run.h"
#include "portal.h"
#include "simproc.h"

#define CYCLE     "202605"
#define ITEMS     3
#define MAX_STATS 64

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void order_product(int i, int k, char *code, size_t n, int *qty)
{
    snprintf(code, n, "%d", 80000 + 10 * i + k + 1);
    *qty = (i + k) % 3 + 1;
}

/* Mean durations by step and by action (action text with digit runs folded to '#', value cut). */
struct stat_row {
    char key[160];
    double total_ms;
    long n;
};

struct stats {
    struct stat_row rows[MAX_STATS];
    int n;
    int step_failed, session_lost;
};

static void stats_add(struct stats *s, const char *key, long ms)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->rows[i].key, key) == 0) {
            s->rows[i].total_ms += (double)ms;
            s->rows[i].n++;
            return;
        }
    if (s->n == MAX_STATS)
        return;
    struct stat_row *r = &s->rows[s->n++];
    snprintf(r->key, sizeof r->key, "%s", key);
    r->total_ms = (double)ms;
    r->n = 1;
}

static void fold(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (const char *c = in; *c && o + 1 < n; c++) {
        if (c[0] == ' ' && c[1] == '=' && c[2] == ' ')
            break; // "fill #x = value": the value is order data
        if (*c >= '0' && *c <= '9') {
            if (o == 0 || out[o - 1] != '#')
                out[o++] = '#';
            continue;
        }
        out[o++] = *c;
    }
    out[o] = '\0';
}

static void on_event(void *arg, const struct flow_event *ev)
{
    struct stats *s = arg;
    char key[160], act[128];
    switch (ev->kind) {
    case FLOW_EV_STEP_OK:
        snprintf(key, sizeof key, "step %s", ev->step);
        stats_add(s, key, ev->ms);
        break;
    case FLOW_EV_STEP_SKIPPED:
        snprintf(key, sizeof key, "step %s (skipped)", ev->step);
        stats_add(s, key, ev->ms);
        break;
    case FLOW_EV_ACTION_OK:
        fold(ev->action ? ev->action : "?", act, sizeof act);
        snprintf(key, sizeof key, "  %s: %s", ev->step, act);
        stats_add(s, key, ev->ms);
        break;
    case FLOW_EV_STEP_FAILED:
    case FLOW_EV_ACTION_FAILED:
        s->step_failed++;
        fprintf(stderr, "bench_flow: %s %s failed: %s\n", ev->step, ev->action ? ev->action : "",
                ev->error ? ev->error : "");
        break;
    case FLOW_EV_SESSION_LOST: s->session_lost++; break;
    case FLOW_EV_ITEM:
    case FLOW_EV_INTERRUPT: break;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmd_run(const char *url, const char *flow_path, int n)
{
    const char *pw = getenv("GSP_PASSWORD");
    if (pw == NULL || *pw == '\0') {
        fprintf(stderr, "bench_flow: GSP_PASSWORD is not set\n");
        return 2;
    }
    struct flow *flow = NULL;
    struct flow_diags d = {0};
    if (flow_load(flow_path, &flow, &d) != 0) {
        fprintf(stderr, "bench_flow: %s: %s: %s\n", flow_path, d.n ? d.v[0].path : "", d.n ? d.v[0].message : "");
        flow_diags_cleanup(&d);
        return 2;
    }
    char tmp[] = "/tmp/bench-flow-XXXXXX";
    if (mkdtemp(tmp) == NULL) {
        perror("mkdtemp");
        flow_free(flow);
        return 2;
    }
    // Strings are borrowed from argv/env/stack; this config is never config_cleanup()'d.
    struct config cfg = {.base_url = (char *)url,
                         .user_code = "demo",
                         .password = (char *)pw,
                         .cycle = CYCLE,
                         .flow_path = (char *)flow_path,
                         .screenshot_dir = tmp,
                         .timeout_ms = 30000,
                         .max_retries = 3,
                         .retry_delay_ms = 200,
                         .headless = true,
                         .max_orders_per_browser = 1000, // one browser for the whole run
                         .max_browser_rss_mb = 100000,
                         .max_quantity = 999};
    struct portal *portal = portal_new(&cfg, flow);
    struct stats st = {0};
    double *ms = calloc((size_t)n, sizeof *ms);
    int rc = 1, failed_orders = 0, retries = 0, references = 0, interrupts = 0;
    char err[256];
    struct cdp_page *page = NULL;
    if (portal == NULL || ms == NULL)
        goto out;
    // Launch Chromium before the clock starts, as the Playwright script does (chromium.launch()).
    int64_t t0 = now_us();
    if (portal_page(portal, &page, err, sizeof err) != 0) {
        fprintf(stderr, "bench_flow: browser: %s\n", err);
        goto out;
    }
    double launch_ms = (double)(now_us() - t0) / 1000.0;
    printf("MARK start\n");
    fflush(stdout);
    int64_t loop0 = now_us();
    struct flow_run_opts o = {.cfg = &cfg, .flow = flow, .evidence_dir = tmp, .on_event = on_event, .event_arg = &st};
    for (int i = 0; i < n; i++) {
        char consultora[16];
        snprintf(consultora, sizeof consultora, "%d", 10000001 + i);
        struct flow_item_state it[ITEMS];
        for (int k = 0; k < ITEMS; k++) {
            memset(&it[k], 0, sizeof it[k]);
            order_product(i, k, it[k].product_code, sizeof it[k].product_code, &it[k].quantity);
        }
        struct flow_order order = {.id = i + 1, .consultora_code = consultora, .consultora_name = "Bench"};
        struct flow_result res;
        int64_t s = now_us();
        int r = -1;
        for (int attempt = 1; attempt <= cfg.max_retries + 1; attempt++) {
            if (portal_page(portal, &page, err, sizeof err) != 0) {
                fprintf(stderr, "bench_flow: browser: %s\n", err);
                goto out;
            }
            r = flow_run_attempt(page, &o, &order, it, ITEMS, attempt, &res);
            interrupts += res.interrupts;
            if (r == 0 || res.cls == FLOW_CLASS_FATAL)
                break;
            retries++;
            fprintf(stderr, "bench_flow: order %d attempt %d: %s: %s\n", i + 1, attempt, res.failed_step, res.error);
            portal_after_failure(portal);
        }
        ms[i] = (double)(now_us() - s) / 1000.0;
        if (r == 0 && res.portal_reference[0] != '\0')
            references++;
        if (r != 0) {
            failed_orders++;
            fprintf(stderr, "bench_flow: order %d failed (%s): %s\n", i + 1, flow_class_name(res.cls), res.error);
            portal_after_failure(portal);
        }
        portal_order_done(portal); // counts it; recycles only past max_orders_per_browser (1000)
    }
    double loop_ms = (double)(now_us() - loop0) / 1000.0;
    printf("MARK end\n");
    fflush(stdout);
    long rss_mb = portal_browser_rss_mb(portal);

    fprintf(stderr, "bench_flow: mean durations over %d orders (ms):\n", n);
    for (int i = 0; i < st.n; i++)
        fprintf(stderr, "  %-78s %7.1f  (n=%ld)\n", st.rows[i].key, st.rows[i].total_ms / (double)st.rows[i].n,
                st.rows[i].n);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += ms[i];
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    double med = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
    printf("{\"impl\": \"gspbot flow engine (one browser, session kept, max_orders_per_browser=%d)\", "
           "\"orders\": %d, \"failed_orders\": %d, \"retries\": %d, \"session_lost\": %d, "
           "\"references\": %d, \"interrupts\": %d, \"browser_launches\": %d, \"launch_ms\": %.1f, "
           "\"loop_s\": %.3f, \"wall_mean_s\": %.4f, \"wall_median_s\": %.4f, \"wall_min_s\": %.4f, "
           "\"wall_max_s\": %.4f, \"chromium_rss_mb_end\": %ld}\n",
           cfg.max_orders_per_browser, n, failed_orders, retries, st.session_lost, references, interrupts,
           portal_launches(portal), launch_ms, loop_ms / 1000.0, sum / n / 1000.0, med / 1000.0, ms[0] / 1000.0,
           ms[n - 1] / 1000.0, rss_mb);
    rc = failed_orders ? 1 : 0;
out:
    portal_free(portal); // no Chromium outlives us
    flow_free(flow);
    free(ms);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_flow: could not remove %s\n", tmp);
    return rc;
}

static struct simproc sim_of(const char *url)
{
    struct simproc s = {.pid = -1};
    snprintf(s.url, sizeof s.url, "%s", url);
    return s;
}

/* The modern UI's submissions: exactly one per consultora 10000001..10000000+n, cycle CYCLE, with
 * exactly that order's products, and nothing else. Returns the number of problems. */
static int verify_orders(const cJSON *orders, int n)
{
    int bad = 0, norders = cJSON_GetArraySize(orders);
    if (norders != n) {
        fprintf(stderr, "verify: %d orders submitted, want %d (one per consultora)\n", norders, n);
        bad++;
    }
    for (int i = 0; i < n; i++) {
        char consultora[16];
        snprintf(consultora, sizeof consultora, "%d", 10000001 + i);
        int seen = 0;
        const cJSON *od;
        cJSON_ArrayForEach(od, orders)
        {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(od, "consultora");
            if (!cJSON_IsString(c) || strcmp(c->valuestring, consultora) != 0)
                continue;
            seen++;
            const cJSON *cy = cJSON_GetObjectItemCaseSensitive(od, "cycle");
            const cJSON *num = cJSON_GetObjectItemCaseSensitive(od, "number");
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(od, "products");
            if (!cJSON_IsString(cy) || strcmp(cy->valuestring, CYCLE) != 0 || !cJSON_IsString(num) ||
                strncmp(num->valuestring, "GSP-", 4) != 0 || cJSON_GetArraySize(p) != ITEMS) {
                fprintf(stderr, "verify: the order of %s is not its cart of cycle %s with %d products\n", consultora,
                        CYCLE, ITEMS);
                bad++;
                continue;
            }
            for (int k = 0; k < ITEMS; k++) {
                char code[21];
                int qty;
                order_product(i, k, code, sizeof code, &qty);
                const cJSON *q = cJSON_GetObjectItemCaseSensitive(p, code);
                if (!cJSON_IsNumber(q) || q->valueint != qty) {
                    fprintf(stderr, "verify: order %s of %s product %s: %d, want %d\n", num->valuestring, consultora,
                            code, cJSON_IsNumber(q) ? q->valueint : 0, qty);
                    bad++;
                }
            }
        }
        if (seen != 1) {
            fprintf(stderr, "verify: %d orders submitted for consultora %s, want 1\n", seen, consultora);
            bad++;
        }
    }
    return bad;
}

static int cmd_verify(const char *url, int n, long want_logins)
{
    struct simproc s = sim_of(url);
    cJSON *conf = simproc_get_json(&s, "/__sim/config");
    const cJSON *ui = cJSON_GetObjectItemCaseSensitive(conf, "ui");
    bool modern = cJSON_IsString(ui) && strcmp(ui->valuestring, "modern") == 0;
    cJSON_Delete(conf);
    cJSON *st = simproc_get_json(&s, "/__sim/state");
    if (st == NULL)
        return 1;
    const cJSON *carts = cJSON_GetObjectItemCaseSensitive(st, "carts");
    const cJSON *orders = cJSON_GetObjectItemCaseSensitive(st, "orders");
    const cJSON *stats = cJSON_GetObjectItemCaseSensitive(st, "stats");
    int bad = 0, ncarts = cJSON_GetArraySize(carts), norders = cJSON_GetArraySize(orders);
    if (ncarts != n) {
        fprintf(stderr, "verify: %d carts, want %d\n", ncarts, n);
        bad++;
    }
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d|%s", 10000001 + i, CYCLE);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(carts, key);
        if (cJSON_GetArraySize(c) != ITEMS) {
            fprintf(stderr, "verify: cart %s has %d products, want %d\n", key, cJSON_GetArraySize(c), ITEMS);
            bad++;
        }
        for (int k = 0; k < ITEMS; k++) {
            char code[21];
            int qty;
            order_product(i, k, code, sizeof code, &qty);
            const cJSON *q = cJSON_GetObjectItemCaseSensitive(c, code);
            if (!cJSON_IsNumber(q) || q->valueint != qty) {
                fprintf(stderr, "verify: cart %s product %s: %d, want %d\n", key, code,
                        cJSON_IsNumber(q) ? q->valueint : 0, qty);
                bad++;
            }
        }
    }
    enum { LOGINS, OVERLAY_CLICKS, ADDS, PAGES, API, CONSENTS, CONFIRMS, DISMISSED, BLOCKED, SURVEYS, NSTATS };
    long v[NSTATS];
    static const char *const names[NSTATS] = {
        "logins",   "overlay_clicks",     "adds",           "pages",           "api", "consents",
        "confirms", "confirms_dismissed", "blocked_clicks", "interrupts_shown"};
    for (int i = 0; i < NSTATS; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(stats, names[i]);
        v[i] = cJSON_IsNumber(x) ? (long)x->valuedouble : -1;
    }
    if (v[OVERLAY_CLICKS] != 0) {
        fprintf(stderr, "verify: %ld clicks hit the overlay\n", v[OVERLAY_CLICKS]);
        bad++;
    }
    if (v[ADDS] != (long)n * ITEMS) {
        fprintf(stderr, "verify: %ld additions, want %d (exactly once)\n", v[ADDS], n * ITEMS);
        bad++;
    }
    if (want_logins >= 0 && v[LOGINS] != want_logins) {
        fprintf(stderr, "verify: %ld logins, want %ld\n", v[LOGINS], want_logins);
        bad++;
    }
    if (!modern && norders != 0) {
        fprintf(stderr, "verify: %d orders submitted on the classic UI, want none\n", norders);
        bad++;
    }
    if (modern) {
        bad += verify_orders(orders, n);
        // consents and confirms are beacons (statistics only): reported, not held to a count;
        // the orders above are the proof. A dismissed confirm() or a click on an interruption is not.
        if (v[DISMISSED] != 0) {
            fprintf(stderr, "verify: %ld confirm() dialogs dismissed\n", v[DISMISSED]);
            bad++;
        }
        if (v[BLOCKED] != 0) {
            fprintf(stderr, "verify: %ld clicks landed on the consent banner or the survey\n", v[BLOCKED]);
            bad++;
        }
    }
    printf("{\"valid\": %s, \"ui\": \"%s\", \"carts\": %d, \"orders\": %d, \"logins\": %ld, "
           "\"overlay_clicks\": %ld, \"adds\": %ld, \"pages\": %ld, \"api\": %ld, \"consents\": %ld, "
           "\"confirms\": %ld, \"confirms_dismissed\": %ld, \"blocked_clicks\": %ld, \"interrupts_shown\": %ld}\n",
           bad ? "false" : "true", modern ? "modern" : "classic", ncarts, norders, v[LOGINS], v[OVERLAY_CLICKS],
           v[ADDS], v[PAGES], v[API], v[CONSENTS], v[CONFIRMS], v[DISMISSED], v[BLOCKED], v[SURVEYS]);
    cJSON_Delete(st);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    long n = 0, logins = -1;
    if (argc == 5 && strcmp(argv[1], "run") == 0 && parse_long(argv[4], 1, 100000, &n) == 0)
        return cmd_run(argv[2], argv[3], (int)n);
    if (argc == 3 && strcmp(argv[1], "reset") == 0) {
        struct simproc s = sim_of(argv[2]);
        return simproc_post(&s, "/__sim/reset", NULL) == 200 ? 0 : 1;
    }
    if (argc == 5 && strcmp(argv[1], "verify") == 0 && parse_long(argv[3], 1, 100000, &n) == 0 &&
        parse_long(argv[4], -1, 1000000, &logins) == 0)
        return cmd_verify(argv[2], (int)n, logins);
    fprintf(stderr, "usage: bench_flow run URL FLOW N | reset URL | verify URL N LOGINS\n");
    return 2;
}
