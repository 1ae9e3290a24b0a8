/* oneshot: one order through a local browser with retries and a printed walk (see oneshot.h). */
#include "oneshot.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "flow_order.h"
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
    case FLOW_EV_ACTION_FAILED: {
        if (p->quiet)
            break;
        // The error often starts with the action itself ("goto /login: Page.navigate: ..."), which
        // this line already shows.
        const char *e = ev->error ? ev->error : "";
        size_t al = strlen(ev->action);
        if (strncmp(e, ev->action, al) == 0 && e[al] == ':' && e[al + 1] == ' ')
            e += al + 2;
        printf("  %-4s %6ld ms  %s%s%s\n", ev->error ? "FAIL" : "ok", ev->ms, ev->action, ev->error ? ": " : "", e);
        break;
    }
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
    case FLOW_EV_INTERRUPT:
        if (!p->quiet)
            printf("  %-4s %6ld ms  interrupt %s%s%s\n", ev->error ? "FAIL" : "ok", ev->ms, ev->action,
                   ev->error ? ": " : " handled, action resumed", ev->error ? ev->error : "");
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

static void on_attempt(void *arg, int attempt, int max_attempts)
{
    (void)arg;
    printf("-- attempt %d of %d\n", attempt, max_attempts);
    fflush(stdout);
}

static void on_retry(void *arg, const struct flow_result *res, long delay_ms)
{
    (void)arg;
    if (res->evidence[0] != '\0')
        printf("   evidence: %s.{png,html,console.txt}\n", res->evidence);
    if (delay_ms > 0)
        printf("   %s failure: retrying in %.1f s\n", flow_class_name(res->cls), delay_ms / 1000.0);
    else
        printf("   %s failure: retrying at once\n", flow_class_name(res->cls));
    fflush(stdout);
}

static bool interrupt_requested(void *arg)
{
    (void)arg;
    return g_interrupted != 0;
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
    if (portal == NULL) {
        cli_error("order", "out of memory");
        trace_free(trace);
        flow_free(flow);
        return EXIT_UNAVAILABLE;
    }
    g_interrupted = 0;
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    // A stop request ends any wait, in the browser or in a backoff, within a fraction of a second.
    portal_set_interrupt(portal, interrupt_requested, NULL);

    struct printer pr = {.quiet = o->quiet};
    struct flow_run_opts ro = {.cfg = cfg,
                               .flow = flow,
                               .evidence_dir = cfg->screenshot_dir,
                               .trace = trace,
                               .on_event = print_event,
                               .event_arg = &pr,
                               .should_stop = should_stop,
                               .stop_before_step = o->stop_before_step};
    struct flow_order_hooks hooks = {.on_attempt = on_attempt, .on_retry = on_retry};
    struct flow_result res;
    enum flow_next next = flow_order_run(portal, &ro, cfg->max_retries + 1, cfg->retry_delay_ms, order, items, nitems,
                                         &hooks, &res, NULL);
    int rc = EXIT_SOME_FAILED;
    switch (next) {
    case FLOW_NEXT_DONE:
        rc = EXIT_OK;
        printf("done: %s in %.2f s (last step %s)\n", o->stop_before_step ? "preflight passed" : "order complete",
               res.ms / 1000.0, res.step[0] ? res.step : "-");
        if (res.portal_reference[0] != '\0')
            printf("portal reference: %s\n", res.portal_reference);
        break;
    case FLOW_NEXT_STOPPED:
        rc = EXIT_INTERRUPTED;
        printf("interrupted\n");
        break;
    case FLOW_NEXT_ABORT:
        // Nothing can pass until a person acts: say why and stop (no retry hammers the portal).
        rc = EXIT_UNAVAILABLE;
        if (res.evidence[0] != '\0')
            printf("   evidence: %s.{png,html,console.txt}\n", res.evidence);
        printf("ABORTED%s%s: %s\n", res.failed_step[0] ? " at step " : "", res.failed_step, res.error);
        cli_error(o->stop_before_step ? "preflight" : "order", "stopped: %s", res.error);
        break;
    default:
        if (res.evidence[0] != '\0')
            printf("   evidence: %s.{png,html,console.txt}\n", res.evidence);
        printf("FAILED (%s) at step %s: %s\n", flow_class_name(res.cls), res.failed_step, res.error);
        break;
    }
    if (trace != NULL)
        printf("trace: %s/index.html\n", trace_dir(trace));
    portal_free(portal);
    trace_free(trace);
    flow_free(flow);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}
