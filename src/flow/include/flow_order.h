/* flow_order: the attempt and retry policy of an order (README "Adapting the flow to your portal" and "Workers"), and
 * the loop that applies it without the database. One policy for everyone: `gspbot order` and `preflight` run
 * flow_order_run(); a worker runs one attempt per claim and asks flow_retry_decide() what the queue
 * should do next, so the rules (fatal never retried, session at once, recoverable with backoff,
 * abort stops everything) live only here. */
#ifndef GSPBOT_FLOW_ORDER_H
#define GSPBOT_FLOW_ORDER_H

#include <stdbool.h>
#include <stddef.h>

#include "flow.h"
#include "flow_run.h"

struct portal;

/* What comes after an attempt. */
enum flow_next {
    FLOW_NEXT_DONE,    /* the attempt succeeded: the order is complete */
    FLOW_NEXT_RETRY,   /* try again after the delay (0 = at once, after a session failure) */
    FLOW_NEXT_FAIL,    /* give up: a fatal failure, or the last attempt failed */
    FLOW_NEXT_ABORT,   /* nothing can pass until a person acts (rejected login, bad configuration,
                          no browser): stop the whole run */
    FLOW_NEXT_STOPPED, /* interrupted (Ctrl-C, SIGTERM, cancel): not the order's fault */
};

/* "done", "retry", "fail", "abort", "stopped". */
const char *flow_next_name(enum flow_next n);

/* Decides after attempt number `attempt` (1-based) of at most `max_attempts`, which ended with
 * flow_run_attempt()'s return `rc` and *res. `recoverable_failures` counts the recoverable
 * failures of this order so far, this one included (the backoff exponent). On FLOW_NEXT_RETRY
 * *delay_ms is the wait: 0 after a session failure, else retry_delay_ms * 2^(n-1) with jitter. */
enum flow_next flow_retry_decide(int rc, const struct flow_result *res, int attempt, int max_attempts,
                                 int retry_delay_ms, int recoverable_failures, long *delay_ms);

/* Callbacks of flow_order_run (all optional). */
struct flow_order_hooks {
    void (*on_attempt)(void *arg, int attempt, int max_attempts);
    void (*on_retry)(void *arg, const struct flow_result *res, long delay_ms);
    void *arg;
};

/* Runs attempts of `order` on the portal's page with the policy above until it is done, fails,
 * aborts or is stopped (ro->should_stop, checked before every step and action and every 50 ms of a
 * backoff). A recoverable or session failure is retried in a fresh browser context. items[] are
 * updated with each item's outcome. Returns what ended it; *res holds the last attempt's result
 * (for FLOW_NEXT_ABORT because Chromium cannot start, res->error says so and res->cls is ABORT)
 * and *attempts (may be NULL) the number of attempts run. */
enum flow_next flow_order_run(struct portal *portal, const struct flow_run_opts *ro, int max_attempts,
                              int retry_delay_ms, const struct flow_order *order, struct flow_item_state *items,
                              size_t nitems, const struct flow_order_hooks *hooks, struct flow_result *res,
                              int *attempts);

/* Sleeps ms milliseconds, waking every 50 ms to ask should_stop(arg) (may be NULL). Returns true
 * when it was stopped. */
bool flow_sleep(long ms, bool (*should_stop)(void *arg), void *arg);

#endif
