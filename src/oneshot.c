/* oneshot: one order through a local browser with retries and a printed walk (see oneshot.h). */
#include "oneshot.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "portal.h"
#include "trace.h"

static volatile sig_atomic_t g_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

struct printer {
    bool quiet;
};

static bool should_stop(void *arg)
{
    (void)arg;
    return g_interrupted != 0;
}

static void print_event(void *arg, const struct flow_event *ev)
{
    const struct printer *p = arg;
    switch (ev->kind) {
    case FLOW_EV_ACTION_OK:
    case FLOW_EV_ACTION_FAILED:
        if (!p->quiet)
            printf("  %-4s %6ld ms  %s%s%s\n", ev->error ? "FAIL" : "ok", ev->ms, ev->action, ev->error ? ": " : "",
                   ev->error ? ev->error : "");
        break;
    case FLOW_EV_STEP_SKIPPED: printf("%-20s skipped (already done)\n", ev->step); break;
    case FLOW_EV_STEP_OK: printf("%-20s ok in %.2f s\n", ev->step, ev->ms / 1000.0); break;
    case FLOW_EV_STEP_FAILED:
        printf("%-20s FAILED in %.2f s (%s): %s\n", ev->step, ev->ms / 1000.0, flow_class_name(ev->cls),
               ev->error ? ev->error : "");
        break;
    case FLOW_EV_ITEM:
        printf("  item %-12s x%-4d %s%s%s\n", ev->item->product_code, ev->item->quantity, ev->item->outcome,
               ev->item->message[0] ? ": " : "", ev->item->message);
        break;
    case FLOW_EV_SESSION_LOST:
        printf("%-20s session lost (%s): starting again from the first step\n", ev->step, ev->error ? ev->error : "");
        break;
    }
    fflush(stdout);
}

struct flow *oneshot_load_flow(const char *path)
{
    struct flow *f = NULL;
    struct flow_diags d = {0};
    if (flow_load(path, &f, &d) != 0) {
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "%s: %s: %s\n", path, d.v[i].path, d.v[i].message);
        flow_diags_cleanup(&d);
        return NULL;
    }
    return f;
}

static void sleep_interruptible(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (!g_interrupted && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int oneshot_run(const struct config *cfg, const struct oneshot_opts *o, const struct flow_order *order,
                struct flow_item_state *items, size_t nitems)
{
    struct flow *flow = oneshot_load_flow(o->flow_path ? o->flow_path : cfg->flow_path);
    if (flow == NULL)
        return EXIT_USAGE;
    char err[512];
    if (flow_check_config(flow, cfg, err, sizeof err) != 0) {
        cli_error("configuration", "%s (flow %s)", err, flow->source);
        flow_free(flow);
        return EXIT_UNAVAILABLE;
    }
    struct trace *trace = NULL;
    if (o->trace_dir != NULL && (trace = trace_new(o->trace_dir, err, sizeof err)) == NULL) {
        cli_error("order", "%s", err);
        flow_free(flow);
        return EXIT_USAGE;
    }
    struct portal *portal = portal_new(cfg, flow);
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    srand((unsigned)time(NULL) ^ (unsigned)order->id);

    struct printer pr = {.quiet = o->quiet};
    struct flow_run_opts ro = {.cfg = cfg,
                               .flow = flow,
                               .evidence_dir = cfg->screenshot_dir,
                               .trace = trace,
                               .on_event = print_event,
                               .event_arg = &pr,
                               .should_stop = should_stop,
                               .stop_before_step = o->stop_before_step};
    struct flow_result res = {0};
    int rc = EXIT_SOME_FAILED, attempts = cfg->max_retries + 1, recoverable_failures = 0;
    for (int attempt = 1; attempt <= attempts && portal != NULL; attempt++) {
        struct cdp_page *page = NULL;
        if (portal_page(portal, &page, err, sizeof err) != 0) {
            cli_error("order", "%s", err);
            rc = EXIT_UNAVAILABLE;
            break;
        }
        printf("-- attempt %d of %d\n", attempt, attempts);
        if (flow_run_attempt(page, &ro, order, items, nitems, attempt, &res) == 0) {
            rc = EXIT_OK;
            break;
        }
        if (res.stopped || g_interrupted) {
            rc = EXIT_INTERRUPTED;
            break;
        }
        if (res.evidence[0] != '\0')
            printf("   evidence: %s.{png,html,console.txt}\n", res.evidence);
        if (res.cls == FLOW_CLASS_FATAL)
            break; // the order can never pass as it is: no retry
        portal_after_failure(portal);
        if (attempt == attempts)
            break;
        if (res.cls == FLOW_CLASS_RECOVERABLE) {
            long delay = flow_backoff_ms(cfg->retry_delay_ms, ++recoverable_failures);
            printf("   %s failure: retrying in %.1f s\n", flow_class_name(res.cls), delay / 1000.0);
            fflush(stdout);
            sleep_interruptible(delay);
            if (g_interrupted) {
                rc = EXIT_INTERRUPTED;
                break;
            }
        }
    }
    if (rc == EXIT_OK)
        printf("done: %s in %.2f s (last step %s)\n", o->stop_before_step ? "preflight passed" : "order complete",
               res.ms / 1000.0, res.step[0] ? res.step : "-");
    else if (rc == EXIT_SOME_FAILED)
        printf("FAILED (%s) at step %s: %s\n", flow_class_name(res.cls), res.failed_step, res.error);
    else if (rc == EXIT_INTERRUPTED)
        printf("interrupted\n");
    if (trace != NULL)
        printf("trace: %s/index.html\n", trace_dir(trace));
    portal_free(portal);
    trace_free(trace);
    flow_free(flow);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}
