/*
 * internal.h - cross-file internals of the cdp library (cdp__ prefix).
 *
 * Layering (see STYLE.md): conn.c owns the libwebsockets context, the socket,
 * ids, the single synchronous call in flight, event dispatch and deadlines;
 * launcher.c starts and reaps Chromium; session.c makes pages (browser
 * context + target + flattened session, plus the sessions of their
 * out-of-process iframes) and keeps their event state; frame.c binds frame
 * handles to a frame and a session; popup.c adopts new windows; page.c and
 * input.c are the page API on top; world.c runs JavaScript in the page's own
 * world or in our isolated one (js/helper.js). Not installed; never include
 * from outside cdp/.
 */
#ifndef GSPBOT_CDP_INTERNAL_H
#define GSPBOT_CDP_INTERNAL_H

#include <stdint.h>

#include <libwebsockets.h>

#include "buf.h"
#include "cdp.h"

#define CDP__ERRLEN       1024
#define CDP__RING         32           /* remembered loaderIds per page (loads of any of its frames) */
#define CDP__LOG_MAX      500          /* entries */
#define CDP__LOG_TEXT     2048         /* bytes per entry */
#define CDP__MAX_MSG      (512u << 20) /* bytes: largest message accepted from Chromium */
#define CDP__GUARDS_MAX   1000         /* guards per page */
#define CDP__REQS_MAX     1024         /* network requests in flight tracked per page */
#define CDP__WORLD_NAME   "gspbot"     /* name of the isolated world our helpers run in */
#define CDP__CHILDREN_MAX 256          /* out-of-process iframe sessions per page */
#define CDP__CTX_MAX      1024         /* main-world execution contexts tracked per page (one per frame) */
#define CDP__FRAMES_MAX   256          /* frame handles per page */
#define CDP__IDLEN        64           /* CDP ids (session, target, frame), NUL included */

/* Where JavaScript runs: the page's own (main) world, or our isolated world, which shares the
 * DOM but not the page's globals and prototypes. */
enum cdp__world {
    CDP__WORLD_PAGE = 0, /* flow expressions: cdp_page_evaluate, wait_function, JS guards */
    CDP__WORLD_HELPER,   /* our helpers: waits, actionability, selector guards, actions, text, html */
};

struct cdp__request {
    char id[64];      /* Network.RequestId */
    char url[160];    /* truncated, for messages */
    char session[64]; /* that reported it (a child session's requests end with it) */
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

/* A session of an out-of-process iframe, auto-attached under the page's session or under another
 * child (Target.setAutoAttach flatten=true). Its target id is its frame id. */
struct cdp__child {
    char session[CDP__IDLEN];
    char target[CDP__IDLEN];
    bool crashed;
};

/* The main-world (default) execution context of one frame in one session. */
struct cdp__ctx {
    char session[CDP__IDLEN];
    char frame[CDP__IDLEN];
    int id;
    char uid[96];
};

/* A page (a target with its own session) or a frame handle. A frame handle is a struct cdp_page
 * with parent != NULL, owned by its top page (top->frames list): it names an iframe by a selector
 * in its parent's document and is bound lazily to that frame's id and the session that hosts it
 * (frame.c). Page-wide state (navigation, requests, log, child sessions, contexts, dialogs,
 * popups) lives in the top page only; a frame handle has its own session binding, worlds, guards
 * and error text. */
struct cdp_page {
    struct cdp_browser *b;
    struct cdp_page *next;      /* top: in b->pages; frame: in top->frames */
    struct cdp_page *top;       /* the page itself, or the page a frame handle belongs to */
    char target_id[CDP__IDLEN]; /* top: its target, also the main frame id */
    char context_id[CDP__IDLEN];
    char session_id[CDP__IDLEN]; /* top: its session; frame: the session hosting the bound frame */
    char frame_id[CDP__IDLEN];   /* top: = target_id; frame: the bound frame ("" when unbound) */
    int timeout_ms;
    int slow_mo_ms;
    int width, height; /* viewport asked for (popups get the same) */
    bool owns_context; /* top: free disposes the browser context (false for a popup: closes its target) */
    bool crashed;      /* Inspector.targetCrashed / Target.targetCrashed */
    bool detached;     /* Target.detachedFromTarget */
    bool closed;       /* Target.targetDestroyed (window.close) */
    char err[CDP__ERRLEN];

    /* frame handle (parent != NULL) */
    struct cdp_page *parent; /* page or frame handle whose document holds the iframe */
    char *frame_sel;         /* the iframe's selector in parent (owned) */
    char *frame_path;        /* "#outer >> #inner", for messages (owned) */
    bool bound;              /* frame_id / session_id are current */
    bool binding;            /* frame.c is binding it (no nested bind) */
    unsigned gen;            /* bumped at every bind; children remember their parent's */
    unsigned parent_gen;
    struct cdp_page *frames; /* top: its frame handles (owned) */
    size_t nframes;

    /* navigation state, fed by events (top) */
    char loads[CDP__RING][40]; /* loaderIds whose "load" fired (any frame of the page) */
    unsigned loads_n;
    struct cdp__loader_status docs[CDP__RING]; /* Document responses (any frame) */
    unsigned docs_n;

    /* our isolated world in the current document: made on first use, forgotten when its context
     * is destroyed (navigation). world_uid is Runtime's uniqueId (unique across renderer
     * processes, unlike the numeric id); "" when not known. */
    int world_ctx; /* executionContextId, 0: none */
    char world_uid[96];
    bool world_lib; /* the helper library answered in that world */

    /* top: sessions of out-of-process iframes, and the main-world contexts of every frame */
    struct cdp__child *children;
    size_t nchildren, children_cap;
    struct cdp__ctx *ctxs;
    size_t nctxs, ctxs_cap;
    char **block_urls; /* top: NULL-terminated copy, applied to child sessions too */

    /* network requests in flight (cdp_page_wait_settled), fed by Network events (top) */
    struct cdp__request *reqs;
    size_t nreqs, reqs_cap;
    int64_t net_idle_us; /* monotonic us when the last request in flight ended */

    /* guards */
    struct cdp_guard *guards;
    size_t nguards;
    int guard_hit;
    struct cdp_page *guard_hit_by; /* frame handle: the page or frame above whose guard stopped the
                                      last call (NULL: none, or its own: guard_hit) */

    /* dialogs (top): the next one is handled as armed, then the default (dismiss) again */
    bool dialog_armed, dialog_accept, dialog_seen;
    bool dialog_mismatch; /* the armed dialog did not say dialog_expect: dismissed */
    char *dialog_prompt;  /* owned; NULL: none */
    char *dialog_expect;  /* owned; NULL: any message */
    char dialog_msg[CDP__LOG_TEXT];

    /* popups (top): armed by cdp_page_expect_popup, filled by Target.targetCreated */
    bool popup_armed;
    char popup_target[CDP__IDLEN];

    /* log (top) */
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
    struct cdp_page *wait_page; /* page or frame handle of the call in flight, if any */
    bool wait_aborted;          /* that page crashed or detached meanwhile */
    bool wait_frame_lost;       /* ... only the session of that frame handle went away */
    bool discovering;           /* Target.setDiscoverTargets is on (popups) */

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

/* A positive "not ready, look again" answer of internal steps (never returned by public calls). */
#define CDP__AGAIN 1

/* ---- session.c */
/* Routes an event ("method" present, no "id") to its page or the browser. */
void cdp__dispatch_event(struct cdp_browser *b, cJSON *msg);
/* Marks p crashed/detached and aborts a call in flight on it or on one of its frame handles. */
void cdp__page_lost(struct cdp_page *p, bool crashed);
/* Unlinks a top page from its browser and frees its memory and its frame handles; no CDP traffic. */
void cdp__page_release(struct cdp_page *p);
/* Text of a Runtime exceptionDetails ("Error: boom\n    at ..."). */
void cdp__exception_text(const cJSON *details, char *out, size_t len);
/* Call on the session of p (a page, or the session hosting a frame handle's frame), with the
 * page's checks (crashed/detached) and error text in p->err. A frame whose session went away
 * under the call gives CDP_ERR_PROTOCOL "...: frame was detached" (transient, see world.c). */
int cdp__page_call(struct cdp_page *p, const char *method, cJSON *params, int64_t deadline_us, cJSON **result) CDP_WUR;
/* Forgets the isolated world of p (its document is gone); the next helper call makes a new one. */
void cdp__world_forget(struct cdp_page *p);
/* The main-world context of frame in session, from the top page's table; NULL if not known. */
const struct cdp__ctx *cdp__ctx_find(const struct cdp_page *top, const char *session, const char *frame);
/* The child session whose target (= frame) id is target; NULL if none. */
const struct cdp__child *cdp__child_find(const struct cdp_page *top, const char *target);
/* Attaches to p->target_id (flatten) and enables the page's domains, auto-attach of out-of-process
 * iframes included (pipelined). Links p into b->pages. Error text in p->err. */
int cdp__page_attach(struct cdp_page *p, int64_t deadline) CDP_WUR;
/* Frees p's guards (p has none afterwards). */
void cdp__guards_clear(struct cdp_page *p);
/* Keeps a copy of the page's blocked URL patterns (NULL-terminated; NULL clears) for child sessions. */
int cdp__page_keep_block_urls(struct cdp_page *p, const char *const *patterns) CDP_WUR;
/* CDP text of a top page that is gone ("page crashed: ...", "page detached", "window closed"), or NULL. */
const char *cdp__page_gone_why(const struct cdp_page *p);

/* ---- frame.c */
/* True when f (a frame handle) is bound and so is every handle up to its page. A page: true. */
bool cdp__frame_valid(const struct cdp_page *f);
/* Forgets f's binding (its frame or session went away, or a call found it stale). */
void cdp__frame_unbind(struct cdp_page *f);
/* One try at binding f (and its parents): finds the iframe in the parent's document (waiting in
 * the page up to slice_ms for it), its frame id and hosting session, and checks that the frame's
 * document is there. 0: bound; CDP__AGAIN: not yet (why says what is missing); < 0: an error
 * (text in f->err: bad selector, not an iframe, browser gone). */
int cdp__frame_try_bind(struct cdp_page *f, int64_t deadline, int slice_ms, char *why, size_t whylen) CDP_WUR;
/* Binds f, trying until the deadline: 0, or an error with f->err = "what: timeout after N ms: frame
 * #x: no element matches". A page: 0. While it waits it races the guards of the pages and frames
 * above f (the login form that replaced the iframe after a session expired): CDP_ERR_GUARD. */
int cdp__frame_bind(struct cdp_page *f, int64_t deadline, const char *what) CDP_WUR;
/* One look at the guards of every page and frame above p: CDP_ERR_GUARD (p->guard_hit_by set, p's
 * message the guard's), CDP_ERR_GONE, else 0. */
int cdp__ancestors_guards(struct cdp_page *p, int64_t deadline) CDP_WUR;
bool cdp__ancestors_have_guards(const struct cdp_page *p);
/* Where input for (x, y) in f's viewport goes: checks in every ancestor document that the iframe
 * is what a click there would hit, then sets *via to the handle whose session takes the input
 * (the innermost out-of-process frame on the way, else f's page) and (x, y) to the point in that
 * session's viewport. 0, CDP__AGAIN (why: covered, scrolled), or an error. */
int cdp__frame_point(struct cdp_page *f, double *x, double *y, struct cdp_page **via, int64_t deadline, char *why,
                     size_t whylen) CDP_WUR;
/* Frees a frame handle (not linked anywhere any more). */
void cdp__frame_free(struct cdp_page *f);
/* Appends " in frame #a >> #b" for a frame handle (nothing for a page) to an action's name. */
void cdp__frame_name(const struct cdp_page *p, char *out, size_t len);

/* ---- popup.c */
/* Target.targetCreated / targetDestroyed (browser-level, while discovering). */
void cdp__popup_on_created(struct cdp_browser *b, const cJSON *params);
void cdp__popup_on_destroyed(struct cdp_browser *b, const cJSON *params);

/* ---- world.c */
/* Runtime.evaluate (returnByValue, awaitPromise) in `world` of p (a page or frame handle), binding
 * a frame handle first and making the isolated world if needed (and once more if Chromium no
 * longer knows it). On success *result (if not NULL) is a new value the caller frees (JSON null
 * for undefined). A throw is CDP_ERR_JS; errors "what: text". */
int cdp__evaluate(struct cdp_page *p, enum cdp__world world, const char *expression, int64_t deadline, cJSON **result,
                  const char *what) CDP_WUR;
/* Calls the helper library in p's isolated world: `call` is the rest of an expression after
 * "__gspbot." ("poll({...}, 2000)"). In a world not known to hold the library (js/helper.js) its
 * source goes along and installs it in the same evaluate. Same result and errors as
 * cdp__evaluate. */
int cdp__helper(struct cdp_page *p, const char *call, int64_t deadline, cJSON **result, const char *what) CDP_WUR;
/* Binds a frame handle and makes p's isolated world if needed (no library yet). */
int cdp__world_ensure(struct cdp_page *p, int64_t deadline, const char *what) CDP_WUR;
/* Makes sure p's isolated world exists and holds the helper library (no round trip when known);
 * its context id in p->world_ctx. */
int cdp__helper_ready(struct cdp_page *p, int64_t deadline, const char *what) CDP_WUR;
/* True when an error text means "the document changed under the call" (a navigation): retry. */
bool cdp__transient(const char *msg);

/* ---- input.c */
/* Checks in the isolated world that every selector guard of p is valid: 0, CDP_ERR_ARG
 * ("guards: guard 1 \"div[\": not a valid CSS selector (...)"), or the call's error. */
int cdp__guards_validate(struct cdp_page *p, int64_t deadline) CDP_WUR;

#endif
