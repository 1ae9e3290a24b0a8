/* flow_run: the flow engine. Runs one attempt of one order through a flow in a browser page:
 * steps in order with `skip_if`, error detectors raced against every waiting action (cdp guards),
 * the three error classes, the exactly-once cart, per-item outcomes with `after_item_error`,
 * evidence on every failed attempt and an optional trace of every action (README "Adapting the flow to your portal").
 *
 * The engine holds no state between attempts: everything it needs to resume is in the portal
 * (the session, the cart), which is what makes a retry after a crash, a timeout or a lost response
 * safe. The caller (`gspbot order`, a worker) owns the browser, the page, the retry policy and the
 * backoff; flow_run_attempt() only says what happened and how to classify it. */
#ifndef GSPBOT_FLOW_RUN_H
#define GSPBOT_FLOW_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "flow.h"

struct cdp_browser;
struct cdp_page;
struct config;
struct trace;

#define FLOW_OUTCOME_MAX 41
#define FLOW_MESSAGE_MAX 512

/* One item of the order and what became of it (caller-owned, updated by the engine). */
struct flow_item_state {
    char product_code[21];
    int quantity;                   /* wanted in the cart, in total */
    int in_cart;                    /* found in the cart when last read */
    int added;                      /* added by this attempt (all of what was missing, or part of
                                       it when a split add failed) */
    char outcome[FLOW_OUTCOME_MAX]; /* "pending", "added", "already_in_cart", "not_found", "failed", ... */
    char message[FLOW_MESSAGE_MAX]; /* the portal's message for a failed item */
};

/* What the engine reports as it goes (for printing, order_logs and traces). */
enum flow_event_kind {
    FLOW_EV_STEP_SKIPPED, /* skip_if held */
    FLOW_EV_STEP_OK,      /* all actions of the step succeeded; `ms` is the step's duration */
    FLOW_EV_STEP_FAILED,
    FLOW_EV_ACTION_OK,
    FLOW_EV_ACTION_FAILED,
    FLOW_EV_ITEM,         /* an item's outcome was decided; `item` points to it */
    FLOW_EV_SESSION_LOST, /* a session error: the walk restarts from the first step */
    FLOW_EV_INTERRUPT,    /* an interrupt's actions ran (`action` names it; `error` when they failed) */
};

struct flow_event {
    enum flow_event_kind kind;
    const char *step;                   /* step name */
    const char *action;                 /* "click #add", "fill #password = ***"; NULL for step events */
    long ms;                            /* duration */
    const char *error;                  /* failure message (secrets redacted); NULL on success */
    enum flow_class cls;                /* failure class */
    const struct flow_item_state *item; /* FLOW_EV_ITEM */
};

typedef void (*flow_event_cb)(void *arg, const struct flow_event *ev);

struct flow_run_opts {
    const struct config *cfg; /* borrowed: variables, default timeout */
    const struct flow *flow;  /* borrowed */
    const char *evidence_dir; /* failed attempts save PNG, HTML, console errors here; NULL = none */
    struct trace *trace;      /* --trace: a screenshot after every action; NULL = none */
    flow_event_cb on_event;   /* may be NULL */
    void *event_arg;
    const char *stop_before_step;         /* preflight: stop (successfully) before the step with this name,
                                             or before the first step that has for_each_item when "" */
    int max_session_restarts;             /* session errors absorbed per attempt; <= 0: 2 */
    bool (*should_stop)(void *event_arg); /* asked before every step and action; true stops the
                                             attempt (res->stopped); NULL = never */
    /* verify: when set, the walk runs up to the first step with a `cart`, runs that step's actions
     * (which bring the cart page), reads the cart and calls on_cart(event_arg, code, quantity) for
     * every line, then stops successfully: no product is added. A flow without a cart step fails
     * (abort). stop_before_step is ignored. */
    void (*on_cart)(void *event_arg, const char *product_code, long quantity);
};

/* The result of one attempt. */
struct flow_result {
    enum flow_class cls;          /* FLOW_CLASS_NONE on success */
    char step[65];                /* the last step that succeeded (or was skipped) */
    char failed_step[65];         /* the step that failed; "" on success */
    char error[FLOW_MESSAGE_MAX]; /* what failed and why (secrets redacted) */
    char evidence[4096];          /* base path of the evidence files ("" when none was saved) */
    long ms;                      /* duration of the attempt */
    bool stopped;                 /* should_stop() ended it; no evidence was saved */
    char portal_reference[201];   /* what a `capture` action read ("" = none): kept on the order */
    int interrupts;               /* interrupts handled (banners, modals in the way) */
};

/* Page options (timeouts, blocked URLs, slow-mo) for running `flow` with `cfg`. */
struct cdp_page_opts;
void flow_page_opts(const struct flow *flow, const struct config *cfg, struct cdp_page_opts *out);

/* Runs one attempt of `order` on `page`. items[0..nitems) are the order's products (caller-owned;
 * outcomes are updated). Returns 0 when the order is complete (every item in the cart exactly) and
 * -1 otherwise with *res saying which class of failure, in which step and why. A fatal item
 * failure (unknown product) still adds the other items, then fails the attempt as fatal listing
 * the items that did not go in. Never retries by itself beyond session restarts. */
__attribute__((warn_unused_result)) int flow_run_attempt(struct cdp_page *page, const struct flow_run_opts *opts,
                                                         const struct flow_order *order, struct flow_item_state *items,
                                                         size_t nitems, int attempt, struct flow_result *res);

/* The retry delay before attempt `attempt` (1-based count of failures so far): base * 2^(n-1)
 * with +-20% jitter, capped at 5 minutes. */
long flow_backoff_ms(int base_ms, int failures);

#endif
