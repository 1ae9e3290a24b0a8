/* flow_order: the retry policy and the order loop without a database (see flow_order.h). */
#include "flow_order.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "portal.h"

#define FLOW_SLEEP_TICK_MS 50

const char *flow_next_name(enum flow_next n)
{
    static const char *const names[] = {"done", "retry", "fail", "abort", "stopped"};
    return (unsigned)n < sizeof names / sizeof names[0] ? names[n] : "?";
}

enum flow_next flow_retry_decide(int rc, const struct flow_result *res, int attempt, int max_attempts,
                                 int retry_delay_ms, int recoverable_failures, long *delay_ms)
{
    *delay_ms = 0;
    if (rc == 0)
        return FLOW_NEXT_DONE;
    if (res->stopped)
        return FLOW_NEXT_STOPPED;
    switch (res->cls) {
    case FLOW_CLASS_ABORT: return FLOW_NEXT_ABORT;
    case FLOW_CLASS_FATAL: return FLOW_NEXT_FAIL; // the order can never pass as it is
    case FLOW_CLASS_SESSION:
        // The portal session is gone: start again at once (the login step's skip_if no longer holds).
        return attempt < max_attempts ? FLOW_NEXT_RETRY : FLOW_NEXT_FAIL;
    default:
        if (attempt >= max_attempts)
            return FLOW_NEXT_FAIL;
        *delay_ms = flow_backoff_ms(retry_delay_ms, recoverable_failures);
        return FLOW_NEXT_RETRY;
    }
}

bool flow_sleep(long ms, bool (*should_stop)(void *arg), void *arg)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += ms / 1000;
    end.tv_nsec += (ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    for (;;) {
        if (should_stop != NULL && should_stop(arg))
            return true;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = (end.tv_sec - now.tv_sec) * 1000L + (end.tv_nsec - now.tv_nsec) / 1000000L;
        if (left <= 0)
            return false;
        long tick = left < FLOW_SLEEP_TICK_MS ? left : FLOW_SLEEP_TICK_MS;
        struct timespec ts = {0, tick * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            if (should_stop != NULL && should_stop(arg))
                return true;
        }
    }
}

enum flow_next flow_order_run(struct portal *portal, const struct flow_run_opts *ro, int max_attempts,
                              int retry_delay_ms, const struct flow_order *order, struct flow_item_state *items,
                              size_t nitems, const struct flow_order_hooks *hooks, struct flow_result *res,
                              int *attempts)
{
    static const struct flow_order_hooks none = {0};
    if (hooks == NULL)
        hooks = &none;
    if (max_attempts < 1)
        max_attempts = 1;
    memset(res, 0, sizeof *res);
    enum flow_next next = FLOW_NEXT_FAIL;
    int recoverable = 0, attempt;
    for (attempt = 1; attempt <= max_attempts; attempt++) {
        if (ro->should_stop != NULL && ro->should_stop(ro->event_arg)) {
            res->stopped = true;
            next = FLOW_NEXT_STOPPED;
            break;
        }
        struct cdp_page *page = NULL;
        char err[512];
        if (portal_page(portal, &page, err, sizeof err) != 0) {
            memset(res, 0, sizeof *res);
            res->cls = FLOW_CLASS_ABORT;
            snprintf(res->error, sizeof res->error, "%s", err);
            next = FLOW_NEXT_ABORT;
            break;
        }
        if (hooks->on_attempt != NULL)
            hooks->on_attempt(hooks->arg, attempt, max_attempts);
        int rc = flow_run_attempt(page, ro, order, items, nitems, attempt, res);
        if (rc != 0 && res->cls == FLOW_CLASS_RECOVERABLE)
            recoverable++;
        long delay = 0;
        next = flow_retry_decide(rc, res, attempt, max_attempts, retry_delay_ms, recoverable, &delay);
        if (next != FLOW_NEXT_DONE)
            portal_after_failure(portal); // the next attempt (or order) starts in a fresh context
        if (next != FLOW_NEXT_RETRY)
            break;
        if (hooks->on_retry != NULL)
            hooks->on_retry(hooks->arg, res, delay);
        if (delay > 0 && flow_sleep(delay, ro->should_stop, ro->event_arg)) {
            res->stopped = true;
            next = FLOW_NEXT_STOPPED;
            break;
        }
    }
    if (attempts != NULL)
        *attempts = attempt > max_attempts ? max_attempts : attempt;
    return next;
}
