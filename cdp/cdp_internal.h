/*
 * internal.h - cross-file internals of the cdp library (cdp__ prefix).
 *
 * Layering (see STYLE.md): conn.c owns the libwebsockets context, the socket,
 * ids, the single synchronous call in flight, event dispatch and deadlines;
 * launcher.c starts and reaps Chromium; session.c makes pages (browser
 * context + target + flattened session) and keeps their event state; page.c
 * and input.c are the page API on top; world.c runs JavaScript in the page's
 * own world or in our isolated one. Not installed; never include from outside
 * cdp/.
 */
#ifndef GSPBOT_CDP_INTERNAL_H
#define GSPBOT_CDP_INTERNAL_H

#include <stdint.h>

#include <libwebsockets.h>

#include "buf.h"
#include "cdp.h"

#define CDP__ERRLEN     1024
#define CDP__RING       8            /* remembered loaderIds per page */
#define CDP__LOG_MAX    500          /* entries */
#define CDP__LOG_TEXT   2048         /* bytes per entry */
#define CDP__MAX_MSG    (512u << 20) /* bytes: largest message accepted from Chromium */
#define CDP__GUARDS_MAX 1000         /* guards per page */
#define CDP__REQS_MAX   1024         /* network requests in flight tracked per page */
#define CDP__WORLD_NAME "gspbot"     /* name of the isolated world our helpers run in */

/* Where JavaScript runs: the page's own (main) world, or our isolated world, which shares the
 * DOM but not the page's globals and prototypes. */
enum cdp__world {
    CDP__WORLD_PAGE = 0, /* flow expressions: cdp_page_evaluate, wait_function, JS guards */
    CDP__WORLD_HELPER,   /* our helpers: waits, actionability, selector guards, actions, text, html */
};

struct cdp__request {
    char id[64];   /* Network.RequestId */
    char url[160]; /* truncated, for messages */
};

struct cdp__out {
    struct cdp__out *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes, then len bytes of JSON */
};

struct cdp__loader_status {
    char loader[40];
    int status;
};

struct cdp__log_entry {
    enum cdp_log_kind kind;
    char *text;
};

struct cdp_page {
    struct cdp_browser *b;
    struct cdp_page *next; /* in b->pages */
    char target_id[64];    /* also the main frame id */
    char context_id[64];
    char session_id[64];
    int timeout_ms;
    int slow_mo_ms;
    bool crashed;  /* Inspector.targetCrashed / Target.targetCrashed */
    bool detached; /* Target.detachedFromTarget */
    char err[CDP__ERRLEN];

    /* navigation state, fed by events */
    char loads[CDP__RING][40]; /* loaderIds whose main-frame "load" fired */
    unsigned loads_n;
    struct cdp__loader_status docs[CDP__RING]; /* main-frame Document responses */
    unsigned docs_n;

    /* our isolated world in the current document: made on first use, forgotten when its context
     * is destroyed (navigation). world_uid is Runtime's uniqueId (unique across renderer
     * processes, unlike the numeric id); "" when not known. */
    int world_ctx; /* executionContextId, 0: none */
    char world_uid[96];

    /* network requests in flight (cdp_page_wait_settled), fed by Network events */
    struct cdp__request *reqs;
    size_t nreqs, reqs_cap;
    int64_t net_idle_us; /* monotonic us when the last request in flight ended */

    /* guards */
    struct cdp_guard *guards;
    size_t nguards;
    int guard_hit;

    /* log */
    struct cdp__log_entry *log;
    size_t log_n, log_dropped;
};

struct cdp_browser {
    struct lws_context *ctx;
    struct lws *wsi;
    bool connected;
    bool gone;
    char gone_why[256];
    char err[CDP__ERRLEN];
    char version[128];

    /* process */
    pid_t pid;
    unsigned long long start_ticks; /* its start time (/proc/PID/stat), 0 if unknown */
    bool reaped;
    int exit_status;
    char profile[512];

    /* outgoing queue (whole messages, one lws_write each) */
    struct cdp__out *out_head, *out_tail;

    /* incoming message being reassembled (capped at CDP__MAX_MSG) */
    struct buf in;

    /* the one synchronous call in flight */
    uint32_t next_id;
    uint32_t wait_id;
    cJSON *wait_reply;
    struct cdp_page *wait_page; /* page of the call in flight, if any */
    bool wait_aborted;          /* that page crashed or detached meanwhile */

    /* interrupt callback (cdp_launch_opts.interrupt) */
    bool (*interrupt)(void *arg);
    void *interrupt_arg;

    /* deadline timer for the current pump */
    lws_sorted_usec_list_t sul_deadline;
    bool deadline_hit;
    lws_sorted_usec_list_t sul_child; /* periodic check that Chromium lives */

    struct cdp_page *pages;
};

/* ---- util (error.c) */
int64_t cdp__now_us(void);
/* Deadline in monotonic us for timeout_ms (<= 0: dflt_ms). */
int64_t cdp__deadline(int timeout_ms, int dflt_ms);
void cdp__seterr(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- conn.c */
/* Creates the lws context and connects to ws://127.0.0.1:port/path, pumping
 * until established or the deadline. Message in b->err. */
int cdp__conn_open(struct cdp_browser *b, int port, const char *path, int64_t deadline_us) CDP_WUR;
/* Destroys the lws context (closing the socket). Safe to call twice. */
void cdp__conn_close(struct cdp_browser *b);
/* Marks the browser gone with a reason; every pending and later call fails. */
void cdp__conn_gone(struct cdp_browser *b, const char *why);
/* Synchronous call. session may be NULL (browser level). params is consumed
 * (deleted) in every case. On success *result gets the reply's "result"
 * object (caller frees) if result != NULL. errbuf gets "Method: why". */
int cdp__call(struct cdp_browser *b, const char *session, const char *method, cJSON *params, int64_t deadline_us,
              cJSON **result, char *errbuf) CDP_WUR;
/* Fire-and-forget call (reply ignored), usable from event handlers. params consumed. */
void cdp__send_async(struct cdp_browser *b, const char *session, const char *method, cJSON *params);
/* Pumps the connection until done(arg) is true, the deadline, or the browser
 * is gone. done may be NULL (pump until the deadline: a sleep that still
 * serves events). Returns 0, CDP_ERR_TIMEOUT, CDP_ERR_GONE, or CDP_ERR_STOPPED when the
 * interrupt callback says so (asked every CDP_INTERRUPT_SLICE_MS at most). */
int cdp__pump(struct cdp_browser *b, int64_t deadline_us, bool (*done)(void *arg), void *arg);

/* ---- launcher.c */
int cdp__launch_process(struct cdp_browser *b, const struct cdp_launch_opts *o, int64_t deadline_us, int *port,
                        char *path, size_t pathlen) CDP_WUR;
/* Non-blocking: true (and records the status) if Chromium has exited. */
bool cdp__process_exited(struct cdp_browser *b);
/* SIGTERM/SIGKILL the group, reap, remove the profile. Bounded. */
void cdp__process_stop(struct cdp_browser *b);

/* ---- session.c */
/* Routes an event ("method" present, no "id") to its page or the browser. */
void cdp__dispatch_event(struct cdp_browser *b, cJSON *msg);
/* Marks p crashed/detached and aborts a call in flight on it. */
void cdp__page_lost(struct cdp_page *p, bool crashed);
/* Unlinks p from its browser and frees its memory; no CDP traffic. */
void cdp__page_release(struct cdp_page *p);
/* Text of a Runtime exceptionDetails ("Error: boom\n    at ..."). */
void cdp__exception_text(const cJSON *details, char *out, size_t len);
/* Page call with the page's own checks (crashed/detached) and error text. */
int cdp__page_call(struct cdp_page *p, const char *method, cJSON *params, int64_t deadline_us, cJSON **result) CDP_WUR;
/* Forgets the page's isolated world (its document is gone); the next helper call makes a new one. */
void cdp__world_forget(struct cdp_page *p);

/* ---- world.c */
/* Runtime.evaluate (returnByValue, awaitPromise) in `world`, making the isolated world first if
 * needed (and once more if Chromium no longer knows it). On success *result (if not NULL) is a new
 * value the caller frees (JSON null for undefined). A throw is CDP_ERR_JS; errors "what: text". */
int cdp__evaluate(struct cdp_page *p, enum cdp__world world, const char *expression, int64_t deadline, cJSON **result,
                  const char *what) CDP_WUR;
/* True when an error text means "the document changed under the call" (a navigation): retry. */
bool cdp__transient(const char *msg);

/* ---- input.c */
/* Checks in the isolated world that every selector guard of p is valid CSS: 0, CDP_ERR_ARG
 * ("guards: guard 1 \"div[\": not a valid CSS selector (...)"), or the call's error. */
int cdp__guards_validate(struct cdp_page *p, int64_t deadline) CDP_WUR;

#endif
