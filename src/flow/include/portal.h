/* portal: one browser and one page driving the portal, with the lifecycle rules of README "Workers":
 * launched on first use, a fresh browser context after a failure (the next page gets no cookies:
 * it logs in again), relaunched every GSPBOT_MAX_ORDERS_PER_BROWSER orders, above
 * GSPBOT_MAX_BROWSER_RSS_MB, and when Chromium is gone. Used by `gspbot order`, `preflight` and
 * each worker process (one portal per process; the browser belongs to the thread that opened it). */
#ifndef GSPBOT_PORTAL_H
#define GSPBOT_PORTAL_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct flow;
struct cdp_page;
struct portal;

/* A portal for cfg and flow (both borrowed for its lifetime). Launches nothing yet. Returns NULL
 * only when memory runs out. Free with portal_free(). */
__attribute__((warn_unused_result)) struct portal *portal_new(const struct config *cfg, const struct flow *flow);

/* Every browser this portal launches from now on asks interrupt(arg) while it waits (see
 * cdp_launch_opts.interrupt): a stop request ends any wait within CDP_INTERRUPT_SLICE_MS. */
void portal_set_interrupt(struct portal *p, bool (*interrupt)(void *arg), void *arg);

/* The page to run the next attempt on, launching Chromium and opening a browser context as
 * needed. The page is borrowed until the next portal call. Returns 0, or -1 with the reason in err
 * (size n): Chromium missing or not starting (the caller exits 3). */
__attribute__((warn_unused_result)) int portal_page(struct portal *p, struct cdp_page **out, char *err, size_t n);

/* After a failed attempt: the next portal_page() opens a fresh context (and relaunches the browser
 * if it is gone). */
void portal_after_failure(struct portal *p);

/* After an order finished (either way): counts it, and recycles the browser when it served
 * GSPBOT_MAX_ORDERS_PER_BROWSER orders or its processes use more than GSPBOT_MAX_BROWSER_RSS_MB. */
void portal_order_done(struct portal *p);

/* Chromium's memory: the RSS of its whole process tree in MiB (0 when not running). */
long portal_browser_rss_mb(const struct portal *p);

/* How many times a browser was launched by this portal. */
int portal_launches(const struct portal *p);

/* Closes the page and the browser (no Chromium outlives it) and frees. NULL is a no-op. */
void portal_free(struct portal *p);

#endif
