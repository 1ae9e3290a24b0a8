/* oneshot: one order (or the preflight canary) through the browser without the database, with
 * the worker's retry policy: recoverable failures retried with backoff in a fresh browser
 * context, session failures retried at once, fatal failures not retried. Prints every step and
 * action with its duration and outcome. Behind `gspbot order` and `gspbot preflight`. */
#ifndef GSPBOT_ONESHOT_H
#define GSPBOT_ONESHOT_H

#include <stdbool.h>
#include <stddef.h>

#include "flow.h"
#include "flow_run.h"

struct config;

struct oneshot_opts {
    const char *flow_path;        /* NULL = cfg->flow_path */
    const char *trace_dir;        /* --trace DIR; NULL = none */
    const char *stop_before_step; /* preflight: see flow_run_opts; NULL = the whole flow */
    bool quiet;                   /* no per-action lines, only the summary */
};

/* Runs the order and returns the exit code: 0 done, 1 failed, 2 the flow file is invalid,
 * 3 Chromium unavailable, 130 interrupted. items[] outcomes are updated. */
int oneshot_run(const struct config *cfg, const struct oneshot_opts *o, const struct flow_order *order,
                struct flow_item_state *items, size_t nitems);

/* Loads and checks a flow, printing every problem to stderr as "FILE: PATH: MESSAGE". Returns the
 * flow (caller frees with flow_free) or NULL. */
struct flow *oneshot_load_flow(const char *path);

#endif
