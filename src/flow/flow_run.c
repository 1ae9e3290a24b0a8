/* flow_run: one attempt of one order through a flow, in a browser page (see flow_run.h). */
#include "flow_run.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cdp.h"
#include "config.h"
#include "flow_internal.h"
#include "log.h"
#include "trace.h"

#define FLOW_MAX_GUARDS          64
#define FLOW_EVIDENCE_TIMEOUT_MS 10000 /* screenshots and HTML of a failed attempt */
#define FLOW_TRACE_SHOT_QUICK_MS 1000  /* first try of a trace screenshot (see trace_capture) */
#define FLOW_CART_TIMEOUT_MS     10000 /* reading the cart */
#define FLOW_SKIP_CHECK_MS       10000 /* skip_if: the deadline of one look (not a wait) */
#define FLOW_BACKOFF_CAP_MS      300000
#define FLOW_STEP_RETRY_MS       250 /* pause before re-running a step, times the try number */
#define FLOW_MAX_HANDLES         32  /* pages and frames one attempt arms guards on */
#define FLOW_INTERRUPT_RUNS      3   /* interrupts handled in one action before it fails */
#define FLOW_MAX_POPUPS          4   /* pop-up windows open at once */
#define FLOW_FRAME_MAX           8

/* A page or frame handle with this attempt's guards on it: the error detectors of the step and
 * the interrupts watched there. */
struct armed {
    struct cdp_page *h;
    struct cdp_page *window; /* the window it belongs to */
    unsigned gen;            /* armed for run.gen; another value: arm again before use */
    size_t n;
    int map[FLOW_MAX_GUARDS]; /* guard index -> detector index, or -(interrupt index + 1) */
};

struct run {
    struct cdp_page *page; /* the handle the current action runs on (a window or a frame) */
    struct cdp_page *win;  /* the window the walk is in: the attempt's page or a pop-up */
    struct cdp_page *top;  /* the attempt's page */
    struct cdp_page *popups[FLOW_MAX_POPUPS];
    size_t npopups;
    struct armed armed[FLOW_MAX_HANDLES];
    size_t narmed;
    unsigned gen;                    /* bumped whenever the guards must change */
    const struct flow_step *step;    /* the step running */
    const struct flow_frame *dframe; /* the frame actions run in unless they say: the step's */
    bool guards_off;                 /* after_item_error: no detectors */
    unsigned interrupting;           /* bit i: interrupt i's actions are running (not watched for
                                        again meanwhile; the others are: a survey over a banner) */
    const struct flow_run_opts *o;
    const struct flow_order *order;
    struct flow_item_state *items;
    size_t nitems;
    int attempt;
    struct flow_result *res;
    char base_url[2048];
    int step_try;                     /* 0 on a step's first run, then the number of re-runs */
    const struct flow_action *action; /* the action running, for messages */
};

/* What one action or check ended with. */
struct outcome {
    enum flow_class cls; /* NONE = success */
    int det;             /* detector index when a detector matched, else -1 */
    bool transient;      /* the portal said "not now" (error page, 5xx, network): a re-run may pass */
    char msg[FLOW_MESSAGE_MAX];
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void emit(struct run *r, const struct flow_event *ev)
{
    if (r->o->on_event != NULL)
        r->o->on_event(r->o->event_arg, ev);
}

static int timeout_of(const struct run *r, const struct flow_action *a)
{
    if (a != NULL && a->timeout_ms > 0)
        return a->timeout_ms;
    if (r->o->flow->timeout_ms > 0)
        return r->o->flow->timeout_ms;
    return r->o->cfg->timeout_ms > 0 ? r->o->cfg->timeout_ms : 30000;
}

void flow_page_opts(const struct flow *flow, const struct config *cfg, struct cdp_page_opts *out)
{
    memset(out, 0, sizeof *out);
    out->timeout_ms = flow->timeout_ms > 0 ? flow->timeout_ms : cfg->timeout_ms;
    out->slow_mo_ms = cfg->slow_mo_ms;
    out->block_urls = (const char *const *)flow->block_urls;
}

long flow_backoff_ms(int base_ms, int failures)
{
    if (failures < 1)
        failures = 1;
    double d = base_ms;
    for (int i = 1; i < failures && d < FLOW_BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > FLOW_BACKOFF_CAP_MS)
        d = FLOW_BACKOFF_CAP_MS;
    // +-20% jitter, so that workers failing together do not come back together. The kernel's
    // generator, not rand(): forked workers would inherit one seed and back off in lockstep.
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() * 2654435761u;
    }
    double jitter = 0.8 + 0.4 * ((double)r / UINT32_MAX);
    return (long)(d * jitter);
}

static bool frames_equal(const struct flow_frame *a, const struct flow_frame *b)
{
    size_t na = a != NULL ? a->n : 0, nb = b != NULL ? b->n : 0;
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a->sel[i], b->sel[i]) != 0)
            return false;
    return true;
}

static struct armed *armed_of(struct run *r, const struct cdp_page *h)
{
    for (size_t i = 0; i < r->narmed; i++)
        if (r->armed[i].h == h)
            return &r->armed[i];
    return NULL;
}

/* Puts on h (a window, or a frame `fr` of it) the detectors that apply in the running step and
 * the interrupts watched in that frame, unless it has them already. */
static int arm(struct run *r, struct cdp_page *h, const struct flow_frame *fr, struct outcome *out)
{
    struct armed *a = armed_of(r, h);
    if (a != NULL && a->gen == r->gen)
        return 0;
    if (a == NULL) {
        if (r->narmed == FLOW_MAX_HANDLES) {
            out->cls = FLOW_CLASS_RECOVERABLE;
            snprintf(out->msg, sizeof out->msg, "more than %d frames in one attempt", FLOW_MAX_HANDLES);
            return -1;
        }
        a = &r->armed[r->narmed++];
        memset(a, 0, sizeof *a);
        a->h = h;
        a->window = r->win;
    }
    const struct flow *f = r->o->flow;
    struct cdp_guard guards[FLOW_MAX_GUARDS];
    size_t n = 0;
    const char *step = r->step != NULL ? r->step->name : "";
    for (size_t i = 0; !r->guards_off && i < f->nerrors && n < FLOW_MAX_GUARDS; i++) {
        const struct flow_detector *d = &f->errors[i];
        bool applies = d->nsteps == 0;
        for (size_t k = 0; k < d->nsteps; k++)
            applies |= strcmp(d->steps[k], step) == 0;
        if (!applies)
            continue;
        guards[n] = (struct cdp_guard){.selector = d->selector, .text = d->text};
        a->map[n++] = (int)i;
    }
    for (size_t i = 0; !r->guards_off && i < f->ninterrupts && n < FLOW_MAX_GUARDS; i++) {
        if ((r->interrupting & (1u << i)) != 0 || !frames_equal(&f->interrupts[i].frame, fr))
            continue;
        guards[n] = (struct cdp_guard){.selector = f->interrupts[i].selector};
        a->map[n++] = -(int)i - 1;
    }
    a->n = n;
    a->gen = r->gen - 1; // not armed until it worked
    if (cdp_page_set_guards(h, guards, n) != 0) {
        out->cls = FLOW_CLASS_RECOVERABLE;
        snprintf(out->msg, sizeof out->msg, "setting error detectors: %s", cdp_page_errmsg(h));
        return -1;
    }
    a->gen = r->gen;
    return 0;
}

/* The handle whose guard matched during the last action on r->page (the frame itself, or a page
 * or frame above it), and the guard's index there. */
static struct armed *guard_hit(struct run *r, int *gi)
{
    struct cdp_page *on = cdp_page_guard_hit_on(r->page);
    struct armed *a = on != NULL ? armed_of(r, on) : NULL;
    int g = on != NULL ? cdp_page_guard_hit(on) : -1;
    if (a == NULL || g < 0 || (size_t)g >= a->n)
        return NULL;
    *gi = g;
    return a;
}

/* The interrupt whose selector stopped the last action, or -1 (a detector, or no guard). */
static int interrupt_hit(struct run *r)
{
    int g;
    struct armed *a = guard_hit(r, &g);
    return a != NULL && a->map[g] < 0 ? -a->map[g] - 1 : -1;
}

/* Classifies a cdp failure `rc` of `what` into *out. */
static void classify(struct run *r, int rc, const char *what, struct outcome *out)
{
    char raw[FLOW_MESSAGE_MAX];
    out->det = -1;
    if (rc == CDP_ERR_GUARD) {
        int g;
        struct armed *a = guard_hit(r, &g);
        int det = a != NULL && a->map[g] >= 0 ? a->map[g] : -1;
        const struct flow_detector *d = det >= 0 ? &r->o->flow->errors[det] : NULL;
        out->det = det;
        out->cls = d ? d->cls : FLOW_CLASS_RECOVERABLE;
        out->transient = out->cls == FLOW_CLASS_RECOVERABLE;
        const char *m = cdp_page_errmsg(r->page);
        // The matched element's text is the message; an element without text is named by its
        // detector as written in the flow file (cdp only knows its index among this step's guards).
        if (d != NULL && strncmp(m, "error detector ", 15) == 0)
            snprintf(raw, sizeof raw, "%s matched (%s%s%s%s)", d->path, d->selector, d->text ? ", text \"" : "",
                     d->text ? d->text : "", d->text ? "\"" : "");
        else
            snprintf(raw, sizeof raw, "%s", m);
    } else if (rc == CDP_ERR_STOPPED) {
        r->res->stopped = true;
        out->cls = FLOW_CLASS_RECOVERABLE;
        snprintf(raw, sizeof raw, "%s: stopped before it finished (interrupted)", what);
    } else if (rc == CDP_ERR_ARG) {
        // A selector that is not valid CSS (or another bad argument) is the flow's fault and fails
        // every order the same way: retrying cannot help, and a pool must not walk a thousand orders
        // into it. The run stops and names the action in the flow file.
        out->cls = FLOW_CLASS_ABORT;
        snprintf(raw, sizeof raw, "flow error at %s (%s): %s: %s", r->action ? r->action->path : "?",
                 r->o->flow->source ? r->o->flow->source : "flow", what, cdp_page_errmsg(r->page));
    } else {
        // Everything else (timeouts, network, a dead browser) may pass on another try.
        out->cls = FLOW_CLASS_RECOVERABLE;
        out->transient = rc == CDP_ERR_NAVIGATION;
        snprintf(raw, sizeof raw, "%s: %s", what, cdp_page_errmsg(r->page));
    }
    log_redact(raw, out->msg, sizeof out->msg);
}

/* Expands a template for ctx or fails the action (fatal: the flow and the order are at odds). */
static char *expand(const char *tmpl, enum flow_ctx ctx, const struct flow_vars *v, struct outcome *out)
{
    if (tmpl == NULL)
        return NULL;
    char err[256];
    char *s = flow_expand(tmpl, ctx, v, err, sizeof err);
    if (s == NULL) {
        // A missing configuration value stops the run (no order can pass); anything else is a
        // problem of this order's values.
        out->cls = strstr(err, "is not configured") != NULL ? FLOW_CLASS_ABORT : FLOW_CLASS_FATAL;
        snprintf(out->msg, sizeof out->msg, "%s", err);
    }
    return s;
}

static void join_url(const struct run *r, const char *target, char *out, size_t n)
{
    if (strncmp(target, "http://", 7) == 0 || strncmp(target, "https://", 8) == 0 || r->base_url[0] == '\0') {
        snprintf(out, n, "%s", target);
        return;
    }
    size_t bl = strlen(r->base_url);
    bool bslash = bl > 0 && r->base_url[bl - 1] == '/';
    bool tslash = target[0] == '/';
    if (bslash && tslash)
        snprintf(out, n, "%.*s%s", (int)bl - 1, r->base_url, target);
    else if (!bslash && !tslash)
        snprintf(out, n, "%s/%s", r->base_url, target);
    else
        snprintf(out, n, "%s%s", r->base_url, target);
}

/* "click #add", "fill #password = ***": how an action reads in logs and traces. */
static void describe(const struct flow_action *a, const char *target, const char *value, const char *text, char *out,
                     size_t n)
{
    const char *verb = FLOW_VERB_NAMES[a->verb];
    if (a->verb == FLOW_SLEEP_MS)
        snprintf(out, n, "sleep_ms %d", a->sleep_ms);
    else if (value != NULL)
        snprintf(out, n, "%s %s = %s", verb, target ? target : "", a->secret ? "***" : value);
    else
        snprintf(out, n, "%s %s", verb, target ? target : "");
    if (a->verb == FLOW_WAIT_FOR && a->hidden && strlen(out) + 10 < n)
        snprintf(out + strlen(out), n - strlen(out), " (hidden)");
    if (a->text != NULL && strlen(out) + 16 < n)
        snprintf(out + strlen(out), n - strlen(out), " (text \"%s\")", text ? text : a->text);
}

/* True when a navigation error says the address itself is unusable (not a portal that is down). */
static bool address_error(const char *msg)
{
    static const char *const ERRORS[] = {"net::ERR_NAME_NOT_RESOLVED",     "net::ERR_INVALID_URL",
                                         "net::ERR_UNKNOWN_URL_SCHEME",    "net::ERR_ADDRESS_INVALID",
                                         "Cannot navigate to invalid URL", "net::ERR_DISALLOWED_URL_SCHEME"};
    for (size_t i = 0; i < sizeof ERRORS / sizeof ERRORS[0]; i++)
        if (strstr(msg, ERRORS[i]) != NULL)
            return true;
    return false;
}

/* True when the page's current URL is `url` (fragment ignored). */
static bool at_url(struct run *r, const char *url, int timeout_ms)
{
    cJSON *res = NULL;
    bool same = false;
    if (cdp_page_evaluate(r->page, "location.href.split('#')[0]", timeout_ms, &res) == 0 && cJSON_IsString(res)) {
        size_t n = strcspn(url, "#");
        same = strlen(res->valuestring) == n && strncmp(res->valuestring, url, n) == 0;
    }
    cJSON_Delete(res);
    return same;
}

/* Substitution context of a selector template: role=R[name="..."] targets escape for the name. */
static enum flow_ctx selector_ctx(const char *tmpl)
{
    return tmpl != NULL && strncmp(tmpl, "role=", 5) == 0 ? FLOW_CTX_ROLE : FLOW_CTX_CSS;
}

static bool takes_frame(enum flow_verb v)
{
    return v == FLOW_CLICK || v == FLOW_FILL || v == FLOW_SELECT || v == FLOW_PRESS || v == FLOW_WAIT_FOR ||
           v == FLOW_EVAL || v == FLOW_CAPTURE;
}

/* The frame an action runs in: its own "frame", else the step's (for the verbs that act on
 * elements); NULL = the window's page. */
static const struct flow_frame *action_frame(const struct run *r, const struct flow_action *a)
{
    if (a->frame_set)
        return &a->frame;
    return takes_frame(a->verb) ? r->dframe : NULL;
}

/* The handle for frame `fr` of the current window (the window itself when fr is empty), with its
 * guards armed. NULL with *out on failure. */
static struct cdp_page *handle_for(struct run *r, const struct flow_frame *fr, const struct flow_vars *v,
                                   int timeout_ms, struct outcome *out)
{
    struct cdp_page *h = r->win;
    if (fr != NULL && fr->n > 0) {
        char *sels[FLOW_FRAME_MAX] = {0};
        char names[512] = "";
        size_t n = fr->n < FLOW_FRAME_MAX ? fr->n : FLOW_FRAME_MAX, ok = 0;
        for (; ok < n; ok++) {
            if ((sels[ok] = expand(fr->sel[ok], selector_ctx(fr->sel[ok]), v, out)) == NULL)
                break;
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, "%s%s", ok ? " > " : "", sels[ok]);
        }
        // The window watches the step's detectors while the frame is looked for: a session that
        // expired replaces the view (and the iframe) with the login form.
        int rc = ok < n ? -1
                 : arm(r, r->win, NULL, out) != 0
                     ? -2
                     : cdp_page_frame(r->win, (const char *const *)sels, n, timeout_ms, &h);
        for (size_t i = 0; i < n; i++)
            free(sels[i]);
        if (ok < n || rc == -2)
            return NULL;
        if (rc != 0) {
            char what[600];
            snprintf(what, sizeof what, "frame %s", names);
            struct cdp_page *keep = r->page;
            r->page = r->win; // the error is the window's
            classify(r, rc, what, out);
            r->page = keep;
            return NULL;
        }
    }
    if (arm(r, h, fr, out) != 0)
        return NULL;
    return h;
}

/* Forgets the handles of a window that closed. */
static void forget_window(struct run *r, const struct cdp_page *w)
{
    size_t k = 0;
    for (size_t i = 0; i < r->narmed; i++)
        if (r->armed[i].window != w && r->armed[i].h != w)
            r->armed[k++] = r->armed[i];
    r->narmed = k;
}

/* Closes the newest pop-up window (when `close`) or forgets it (it closed itself), and the walk
 * goes back to the window that opened it. */
static void pop_window(struct run *r, bool close)
{
    if (r->npopups == 0)
        return;
    struct cdp_page *w = r->popups[--r->npopups];
    forget_window(r, w);
    if (close || cdp_page_is_closed(w))
        cdp_page_free(w);
    r->win = r->npopups > 0 ? r->popups[r->npopups - 1] : r->top;
    r->page = r->win;
    r->gen++;
}

/* A pop-up that closed itself hands the walk back to its opener. */
static void pop_closed_windows(struct run *r)
{
    while (r->npopups > 0 && cdp_page_is_closed(r->win))
        pop_window(r, false);
}

static int run_interrupt(struct run *r, int i, struct outcome *out);

/* The verb itself on r->page. Returns a cdp code (0 = done); failures the engine decides itself
 * (HTTP >= 500, an unusable address, an empty capture) are set in *out with 0 returned. */
static int perform(struct run *r, const struct flow_action *a, const char *target, const char *value, const char *text,
                   const char *on, int t, const char *what, char *desc, size_t dn, struct outcome *out)
{
    int rc = 0;
    switch (a->verb) {
    case FLOW_GOTO: {
        char url[4096];
        join_url(r, target, url, sizeof url);
        int status = 0;
        if (a->unless_here && r->step_try == 0 && at_url(r, url, t)) {
            // Already showing it (the previous step landed here): no reload. A re-run of the step
            // after a failure always navigates.
            snprintf(desc + strlen(desc), dn - strlen(desc), " (already there)");
            rc = cdp_page_check_guards(r->page, t);
            break;
        }
        rc = cdp_page_navigate(r->page, url, t, &status);
        if (rc == CDP_ERR_NAVIGATION && address_error(cdp_page_errmsg(r->page))) {
            // The portal's address itself is wrong: no order can pass until someone fixes it.
            bool from_base = strncmp(url, r->base_url, strlen(r->base_url)) == 0 && r->base_url[0] != '\0';
            out->cls = FLOW_CLASS_ABORT;
            char raw[FLOW_MESSAGE_MAX];
            if (from_base)
                snprintf(raw, sizeof raw, "GSP_BASE_URL \"%s\" cannot be reached: %s (check the portal address)",
                         r->o->cfg->base_url ? r->o->cfg->base_url : r->base_url, cdp_page_errmsg(r->page));
            else
                snprintf(raw, sizeof raw, "flow error at %s: %s", a->path, cdp_page_errmsg(r->page));
            log_redact(raw, out->msg, sizeof out->msg);
            rc = 0;
            break;
        }
        if (rc == 0 && status >= 500) {
            out->cls = FLOW_CLASS_RECOVERABLE;
            out->transient = true;
            snprintf(out->msg, sizeof out->msg, "%s: HTTP %d", what, status);
        }
        // A page that loaded with an error on it (503 page, login form) is told at once.
        if (rc == 0)
            rc = cdp_page_check_guards(r->page, t);
        break;
    }
    case FLOW_CLICK: rc = cdp_page_click(r->page, target, text, t); break;
    case FLOW_FILL: rc = cdp_page_fill(r->page, target, text, value, t); break;
    case FLOW_SELECT: rc = cdp_page_select(r->page, target, text, value, t); break;
    case FLOW_PRESS: rc = cdp_page_press(r->page, on, target, t); break;
    case FLOW_WAIT_FOR:
        rc = cdp_page_wait_for(r->page, target, text, a->hidden ? CDP_STATE_HIDDEN : CDP_STATE_VISIBLE, t);
        break;
    case FLOW_WAIT_URL: rc = cdp_page_wait_url(r->page, target, t); break;
    case FLOW_EVAL: rc = cdp_page_wait_function(r->page, target, t); break;
    case FLOW_SCREENSHOT: {
        if (r->o->evidence_dir != NULL) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/order-%lld-%s-a%d-%s.png", r->o->evidence_dir, r->order->id,
                     r->order->consultora_code, r->attempt, target);
            rc = cdp_page_screenshot(r->page, path, /* full_page= */ true, t);
        }
        break;
    }
    case FLOW_SLEEP_MS: rc = cdp_page_sleep(r->page, a->sleep_ms); break;
    case FLOW_CAPTURE: {
        char *got = NULL;
        rc = cdp_page_text(r->page, target, text, t, &got);
        if (rc == 0) {
            // Kept as the portal shows it, trimmed, at most 200 characters (the column's limit).
            const char *b = got;
            while (*b == ' ' || *b == '\n' || *b == '\t' || *b == '\r')
                b++;
            size_t len = strlen(b);
            while (len > 0 && (b[len - 1] == ' ' || b[len - 1] == '\n' || b[len - 1] == '\t' || b[len - 1] == '\r'))
                len--;
            if (len == 0) {
                out->cls = FLOW_CLASS_RECOVERABLE;
                out->transient = true;
                snprintf(out->msg, sizeof out->msg, "%s: the element is empty (nothing to capture)", what);
            } else {
                size_t keep = len > 200 ? 200 : len;
                while (keep > 0 && keep < len && ((unsigned char)b[keep] & 0xC0) == 0x80)
                    keep--; // never cut a UTF-8 character in two
                snprintf(r->res->portal_reference, sizeof r->res->portal_reference, "%.*s", (int)keep, b);
                snprintf(desc + strlen(desc), dn - strlen(desc), " = %s", r->res->portal_reference);
            }
        }
        free(got);
        break;
    }
    default: break;
    }
    return rc;
}

/* After an action that opens a JS dialog: it must have opened (and said dialog_text). */
static int check_dialog(struct run *r, const struct flow_action *a, const char *expect, int t, const char *what,
                        struct outcome *out)
{
    char msg[512] = "";
    long deadline = now_ms() + t;
    bool seen;
    while (!(seen = cdp_page_dialog_seen(r->win, msg, sizeof msg)) && now_ms() < deadline)
        if (cdp_page_sleep(r->win, 50) == CDP_ERR_STOPPED) {
            classify(r, CDP_ERR_STOPPED, what, out);
            return -1;
        }
    out->cls = FLOW_CLASS_RECOVERABLE;
    if (!seen) {
        snprintf(out->msg, sizeof out->msg, "%s: no dialog opened within %d ms (\"dialog\": \"%s\" expects one)", what,
                 t, a->dialog == FLOW_DIALOG_ACCEPT ? "accept" : "dismiss");
        return -1;
    }
    if (cdp_page_dialog_mismatch(r->win)) {
        // The portal asked something else than the flow expects: dismissed, never answered.
        out->cls = FLOW_CLASS_FATAL;
        char raw[FLOW_MESSAGE_MAX];
        snprintf(raw, sizeof raw, "%s: the dialog said \"%.200s\", not \"%.150s\": dismissed", what, msg,
                 expect ? expect : "");
        log_redact(raw, out->msg, sizeof out->msg);
        return -1;
    }
    out->cls = FLOW_CLASS_NONE;
    return 0;
}

/* Runs one action. Returns 0, or -1 with *out set. */
static int run_action(struct run *r, const struct flow_action *a, const struct flow_vars *v, struct outcome *out,
                      char *desc, size_t dn)
{
    describe(a, a->target, a->value, a->text, desc, dn); // replaced by the values once they are known
    memset(out, 0, sizeof *out);
    out->det = -1;
    r->action = a;
    char *target = NULL, *value = NULL, *text = NULL, *on = NULL, *dtext = NULL;
    enum flow_ctx tctx = FLOW_CTX_TEXT;
    if (a->verb == FLOW_CLICK || a->verb == FLOW_FILL || a->verb == FLOW_SELECT || a->verb == FLOW_WAIT_FOR ||
        a->verb == FLOW_CAPTURE)
        tctx = selector_ctx(a->target);
    else if (a->verb == FLOW_GOTO)
        tctx = FLOW_CTX_URL;
    else if (a->verb == FLOW_EVAL)
        tctx = FLOW_CTX_JS;
    if (a->target != NULL && (target = expand(a->target, tctx, v, out)) == NULL)
        goto done;
    if (a->value != NULL && (value = expand(a->value, FLOW_CTX_TEXT, v, out)) == NULL)
        goto done;
    if (a->text != NULL && (text = expand(a->text, FLOW_CTX_TEXT, v, out)) == NULL)
        goto done;
    if (a->on != NULL && (on = expand(a->on, selector_ctx(a->on), v, out)) == NULL)
        goto done;
    if (a->dialog_text != NULL && (dtext = expand(a->dialog_text, FLOW_CTX_TEXT, v, out)) == NULL)
        goto done;

    int t = timeout_of(r, a);
    char what[600];
    describe(a, target, value, text, what, sizeof what); // a secret value reads "***"
    char red[600];
    log_redact(what, red, sizeof red);
    snprintf(desc, dn, "%s", red);
    pop_closed_windows(r);
    const struct flow_frame *fr = action_frame(r, a);
    if (fr != NULL && fr->n > 0 && strlen(desc) + 16 < dn) {
        size_t len = strlen(desc);
        snprintf(desc + len, dn - len, " (in frame %s%s)", fr->sel[0], fr->n > 1 ? " > ..." : "");
    }
    for (int runs = 0;; runs++) {
        struct cdp_page *h = handle_for(r, fr, v, t, out);
        if (h == NULL)
            break;
        r->page = h;
        int rc = 0;
        if (a->dialog != FLOW_DIALOG_NONE)
            rc = cdp_page_expect_dialog_text(r->win, a->dialog == FLOW_DIALOG_ACCEPT, NULL, dtext);
        if (rc == 0 && a->popup == FLOW_POPUP_OPEN)
            rc = cdp_page_expect_popup(r->win);
        if (rc == 0 && runs > 0 && a->verb == FLOW_GOTO)
            rc = cdp_page_check_guards(r->page, t); // after an interrupt: the page is there already
        else if (rc == 0)
            rc = perform(r, a, target, value, text, on, t, what, desc, dn, out);
        int it = rc == CDP_ERR_GUARD ? interrupt_hit(r) : -1;
        if (it >= 0 && runs < FLOW_INTERRUPT_RUNS) {
            // A banner or a modal stands in the way: its actions, then the action again.
            if (run_interrupt(r, it, out) != 0)
                break;
            continue;
        }
        if (it >= 0) {
            out->cls = FLOW_CLASS_RECOVERABLE;
            out->transient = true;
            snprintf(out->msg, sizeof out->msg, "%s: %s (%s) still shows after running its actions %d times", what,
                     r->o->flow->interrupts[it].path, r->o->flow->interrupts[it].selector, FLOW_INTERRUPT_RUNS);
            break;
        }
        if (rc != 0)
            classify(r, rc, what, out);
        if (rc != 0 && a->optional && rc != CDP_ERR_GUARD && rc != CDP_ERR_GONE && rc != CDP_ERR_STOPPED &&
            rc != CDP_ERR_ARG) {
            out->cls = FLOW_CLASS_NONE; // optional: a timeout or a missing element is fine
            out->msg[0] = '\0';
        }
        break;
    }
    if (out->cls == FLOW_CLASS_NONE && a->dialog != FLOW_DIALOG_NONE)
        (void)check_dialog(r, a, dtext, t, what, out);
    if (out->cls == FLOW_CLASS_NONE && a->popup == FLOW_POPUP_OPEN) {
        struct cdp_page *w = NULL;
        int rc = r->npopups < FLOW_MAX_POPUPS ? cdp_page_wait_popup(r->win, t, &w) : CDP_ERR_ARG;
        if (rc != 0) {
            r->page = r->win;
            if (r->npopups == FLOW_MAX_POPUPS) {
                out->cls = FLOW_CLASS_RECOVERABLE;
                snprintf(out->msg, sizeof out->msg, "%s: more than %d pop-up windows open", what, FLOW_MAX_POPUPS);
            } else {
                classify(r, rc, what, out);
            }
        } else {
            // The walk moves to the new window until it closes or a "popup": "close".
            r->popups[r->npopups++] = w;
            r->win = r->page = w;
            r->gen++;
        }
    }
    if (a->popup == FLOW_POPUP_CLOSE && r->npopups > 0)
        pop_window(r, true);
    r->page = r->win;
done:
    free(target);
    free(value);
    free(text);
    free(on);
    free(dtext);
    return out->cls == FLOW_CLASS_NONE ? 0 : -1;
}

/* Runs actions[0..n), each reported and traced. Returns 0 or -1 with *out. */
static bool stop_requested(struct run *r, struct outcome *out)
{
    if (r->o->should_stop == NULL || !r->o->should_stop(r->o->event_arg))
        return false;
    r->res->stopped = true;
    out->cls = FLOW_CLASS_RECOVERABLE;
    snprintf(out->msg, sizeof out->msg, "stopped before it finished (cancelled or shutting down)");
    return true;
}

/* The --trace screenshot after an action. A capture asked for while the page is between two
 * documents (after a click that navigates) is not answered until Chromium gives up on it, so the
 * first try is short; the second waits for the new document first. The capture's own time is
 * recorded apart from the action's, so the trace shows the walk as it ran without it. */
static void trace_capture(struct run *r, const char *step, const char *desc, long ms, const char *error)
{
    long t0 = now_ms();
    const char *shot = trace_next_shot(r->o->trace);
    bool ok = cdp_page_screenshot(r->win, shot, /* full_page= */ false, FLOW_TRACE_SHOT_QUICK_MS) == 0;
    if (!ok && cdp_page_wait_function(r->win, "document.readyState === 'complete'", FLOW_EVIDENCE_TIMEOUT_MS) == 0)
        ok = cdp_page_screenshot(r->win, shot, /* full_page= */ false, FLOW_EVIDENCE_TIMEOUT_MS) == 0;
    if (!ok)
        log_warn("trace", "no screenshot after \"%s\": %s", desc, cdp_page_errmsg(r->win));
    trace_add(r->o->trace, step, desc, ms, error, ok);
    trace_set_capture_ms(r->o->trace, now_ms() - t0);
    if (trace_write(r->o->trace) != 0)
        log_warn("trace", "writing %s/index.html: %s", trace_dir(r->o->trace), strerror(errno));
}

static int run_actions(struct run *r, const char *step, const struct flow_actions *as, const struct flow_vars *v,
                       struct outcome *out)
{
    for (size_t i = 0; i < as->n; i++) {
        const struct flow_action *a = &as->v[i];
        if (stop_requested(r, out))
            return -1;
        long t0 = now_ms();
        char desc[600];
        int rc = run_action(r, a, v, out, desc, sizeof desc);
        long ms = now_ms() - t0;
        struct flow_event ev = {.kind = rc ? FLOW_EV_ACTION_FAILED : FLOW_EV_ACTION_OK,
                                .step = step,
                                .action = desc,
                                .ms = ms,
                                .error = rc ? out->msg : NULL,
                                .cls = out->cls};
        emit(r, &ev);
        if (r->o->trace != NULL)
            trace_capture(r, step, desc, ms, rc ? out->msg : NULL);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Runs interrupt i's actions (a banner, a modal in the way) in the interrupt's frame, detectors and
 * the other interrupts watched (a survey may cover the banner's button: it is handled first); the
 * caller then runs the interrupted action again. */
static int run_interrupt(struct run *r, int i, struct outcome *out)
{
    const struct flow_interrupt *it = &r->o->flow->interrupts[i];
    long t0 = now_ms();
    struct cdp_page *page = r->page;
    const struct flow_action *action = r->action;
    const struct flow_frame *dframe = r->dframe;
    unsigned interrupting = r->interrupting;
    r->interrupting |= 1u << i;
    r->dframe = &it->frame;
    r->gen++;
    char step[96];
    snprintf(step, sizeof step, "%s", r->step != NULL ? r->step->name : "-");
    struct flow_vars v = {.cfg = r->o->cfg, .order = r->order};
    struct outcome o = {.det = -1};
    int rc = run_actions(r, step, &it->actions, &v, &o);
    r->interrupting = interrupting;
    r->dframe = dframe;
    r->gen++;
    r->page = page;
    r->action = action;
    r->res->interrupts++;
    char what[160];
    snprintf(what, sizeof what, "%s %s", it->path, it->selector);
    struct flow_event ev = {.kind = FLOW_EV_INTERRUPT,
                            .step = step,
                            .action = what,
                            .ms = now_ms() - t0,
                            .error = rc ? o.msg : NULL,
                            .cls = o.cls};
    emit(r, &ev);
    if (rc == 0)
        return 0;
    *out = o;
    if (out->cls == FLOW_CLASS_FATAL || out->cls == FLOW_CLASS_NONE)
        out->cls = FLOW_CLASS_RECOVERABLE; // the banner's fault, not the order's
    char msg[FLOW_MESSAGE_MAX];
    snprintf(msg, sizeof msg, "%s: %s", it->path, o.msg);
    snprintf(out->msg, sizeof out->msg, "%s", msg);
    return -1;
}

/* ---- the cart ---- */

struct cart_line {
    char code[64];
    long qty;
};

struct cart {
    struct cart_line *v;
    size_t n;
};

static long cart_qty(const struct cart *c, const char *code)
{
    long q = 0;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].code, code) == 0)
            q += c->v[i].qty;
    return q;
}

static int read_cart(struct run *r, const struct flow_step *st, const struct flow_vars *v, struct cart *c,
                     struct outcome *out)
{
    memset(c, 0, sizeof *c);
    struct cdp_page *h = handle_for(r, st->cart_frame_set ? &st->cart_frame : &st->frame, v, FLOW_CART_TIMEOUT_MS, out);
    if (h == NULL)
        return -1;
    char *js = expand(st->cart, FLOW_CTX_JS, v, out);
    if (js == NULL)
        return -1;
    cJSON *res = NULL;
    r->page = h;
    int rc = cdp_page_evaluate(h, js, FLOW_CART_TIMEOUT_MS, &res);
    free(js);
    if (rc != 0) {
        classify(r, rc, "reading the cart", out);
        r->page = r->win;
        return -1;
    }
    r->page = r->win;
    if (!cJSON_IsArray(res)) {
        cJSON_Delete(res);
        out->cls = FLOW_CLASS_RECOVERABLE;
        snprintf(out->msg, sizeof out->msg, "reading the cart: the cart expression returned no array");
        return -1;
    }
    c->v = calloc((size_t)cJSON_GetArraySize(res) + 1, sizeof *c->v);
    if (c->v == NULL) {
        cJSON_Delete(res);
        out->cls = FLOW_CLASS_RECOVERABLE;
        snprintf(out->msg, sizeof out->msg, "reading the cart: out of memory");
        return -1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, res)
    {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
        const cJSON *qty = cJSON_GetObjectItemCaseSensitive(e, "quantity");
        struct cart_line *l = &c->v[c->n];
        long long num, q = -1;
        if (cJSON_IsString(code))
            snprintf(l->code, sizeof l->code, "%s", code->valuestring);
        else if (cJSON_IsNumber(code) && flow__whole_number(code->valuedouble, &num))
            snprintf(l->code, sizeof l->code, "%lld", num);
        else
            continue;
        // The page's script decides these numbers: range-check before any conversion.
        if (!cJSON_IsNumber(qty) || !flow__whole_number(qty->valuedouble, &q) || q < 0 || q > 100000000) {
            cJSON_Delete(res);
            free(c->v);
            c->v = NULL;
            out->cls = FLOW_CLASS_RECOVERABLE;
            snprintf(out->msg, sizeof out->msg, "reading the cart: product %s has no whole quantity in 0..100000000",
                     l->code);
            return -1;
        }
        l->qty = (long)q;
        c->n++;
    }
    cJSON_Delete(res);
    return 0;
}

static bool in_order(const struct run *r, const char *code)
{
    for (size_t i = 0; i < r->nitems; i++)
        if (strcmp(r->items[i].product_code, code) == 0)
            return true;
    return false;
}

/* Appends "CODE: cart A, <label> B" to a comma-separated list in buf (size n). */
static void append(char *buf, size_t n, const char *code, long a, const char *label, long b)
{
    size_t len = strlen(buf);
    if (len + 4 < n)
        snprintf(buf + len, n - len, "%s%s: cart %ld, %s %ld", len ? ", " : "", code, a, label, b);
}

/* Fails (fatal) when the cart holds more of anything than the order: nothing is removed. */
static int check_not_over(struct run *r, const struct cart *c, struct outcome *out)
{
    char list[400] = "";
    for (size_t i = 0; i < r->nitems; i++) {
        long q = cart_qty(c, r->items[i].product_code);
        if (q > r->items[i].quantity)
            append(list, sizeof list, r->items[i].product_code, q, "order", r->items[i].quantity);
    }
    for (size_t i = 0; i < c->n; i++)
        if (!in_order(r, c->v[i].code))
            append(list, sizeof list, c->v[i].code, c->v[i].qty, "order", 0);
    if (list[0] == '\0')
        return 0;
    out->cls = FLOW_CLASS_FATAL;
    snprintf(out->msg, sizeof out->msg, "the cart holds more than the order (nothing was removed): %s", list);
    return -1;
}

static bool item_failed(const struct flow_item_state *it)
{
    return strcmp(it->outcome, "pending") != 0 && strcmp(it->outcome, "added") != 0 &&
           strcmp(it->outcome, "already_in_cart") != 0;
}

static void item_event(struct run *r, const char *step, const struct flow_item_state *it)
{
    struct flow_event ev = {.kind = FLOW_EV_ITEM, .step = step, .item = it};
    emit(r, &ev);
}

/* The exactly-once cart: read, add what is missing, read again, compare. */
static int run_items(struct run *r, const struct flow_step *st, struct outcome *out)
{
    struct flow_vars v = {.cfg = r->o->cfg, .order = r->order};
    struct cart before = {0}, after = {0};
    if (st->cart != NULL) {
        if (read_cart(r, st, &v, &before, out) != 0)
            return -1;
        if (check_not_over(r, &before, out) != 0) {
            free(before.v);
            return -1;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < r->nitems && rc == 0; i++) {
        struct flow_item_state *it = &r->items[i];
        it->in_cart = st->cart ? (int)cart_qty(&before, it->product_code) : 0;
        it->added = 0;
        it->message[0] = '\0';
        int missing = it->quantity - it->in_cart;
        if (missing <= 0) {
            snprintf(it->outcome, sizeof it->outcome, "already_in_cart");
            item_event(r, st->name, it);
            continue;
        }
        // What is missing goes in adds of at most max_per_add (portals cap the quantity field).
        // Each add knows what the cart must hold after it, and a retry re-reads the cart first, so
        // a split add stays exactly-once.
        int per = st->max_per_add > 0 ? st->max_per_add : missing, arc = 0;
        struct flow_item fi = {.product_code = it->product_code};
        v.item = &fi; // after_item_error sees the add that failed
        while (it->added < missing) {
            fi.quantity = missing - it->added < per ? missing - it->added : per;
            fi.cart_quantity = it->in_cart + it->added + fi.quantity;
            if ((arc = run_actions(r, st->name, &st->for_each_item, &v, out)) != 0)
                break;
            it->added += fi.quantity;
        }
        if (arc == 0) {
            snprintf(it->outcome, sizeof it->outcome, "added");
            item_event(r, st->name, it);
            continue;
        }
        if (out->cls != FLOW_CLASS_FATAL) {
            rc = -1; // recoverable or session: the whole attempt stops here
            break;
        }
        // A fatal error on one item (unknown product, no stock): mark it, clean up, go on.
        const char *oc = out->det >= 0 ? r->o->flow->errors[out->det].outcome : NULL;
        snprintf(it->outcome, sizeof it->outcome, "%s", oc ? oc : "failed");
        snprintf(it->message, sizeof it->message, "%s", out->msg);
        item_event(r, st->name, it);
        // after_item_error dismisses the very error a detector matched: it runs with the detectors
        // off, and they are armed again for the next item.
        struct outcome cleanup = {.det = -1};
        r->guards_off = true;
        r->gen++;
        int crc = run_actions(r, st->name, &st->after_item_error, &v, &cleanup);
        r->guards_off = false;
        r->gen++;
        if (crc != 0 && cleanup.cls != FLOW_CLASS_FATAL) {
            *out = cleanup;
            rc = -1;
            break;
        }
        memset(out, 0, sizeof *out);
    }
    if (rc == 0 && st->cart != NULL && read_cart(r, st, &v, &after, out) != 0)
        rc = -1;
    if (rc == 0 && st->cart != NULL) {
        if (check_not_over(r, &after, out) != 0) {
            rc = -1;
        } else {
            char list[400] = "";
            for (size_t i = 0; i < r->nitems; i++) {
                const struct flow_item_state *it = &r->items[i];
                long want = item_failed(it) ? it->in_cart + it->added : it->quantity;
                long got = cart_qty(&after, it->product_code);
                if (got != want)
                    append(list, sizeof list, it->product_code, got, "expected", want);
            }
            if (list[0] != '\0') {
                out->cls = FLOW_CLASS_RECOVERABLE;
                out->transient = true; // re-running re-reads the cart and adds only what is missing
                snprintf(out->msg, sizeof out->msg, "the cart does not match the order after adding: %s", list);
                rc = -1;
            }
        }
    }
    if (rc == 0) {
        char list[FLOW_MESSAGE_MAX - 64] = "";
        for (size_t i = 0; i < r->nitems; i++) {
            const struct flow_item_state *it = &r->items[i];
            size_t len = strlen(list);
            if (item_failed(it) && len + 8 < sizeof list)
                snprintf(list + len, sizeof list - len, "%s%s %s (%s)", len ? "; " : "", it->product_code, it->outcome,
                         it->message);
        }
        if (list[0] != '\0') {
            out->cls = FLOW_CLASS_FATAL;
            snprintf(out->msg, sizeof out->msg, "items not added: %s", list);
            rc = -1;
        }
    }
    free(before.v);
    free(after.v);
    return rc;
}

/* verify: reads the cart with the step's expression and reports every line; adds nothing. */
static int report_cart(struct run *r, const struct flow_step *st, const struct flow_vars *v, struct outcome *out)
{
    struct cart c;
    if (read_cart(r, st, v, &c, out) != 0)
        return -1;
    for (size_t i = 0; i < c.n; i++)
        r->o->on_cart(r->o->event_arg, c.v[i].code, c.v[i].qty);
    free(c.v);
    return 0;
}

/* ---- evidence ---- */

static void save_evidence(struct run *r, const char *step)
{
    // Evidence holds personal data (names, codes, the portal's pages): a private folder, 0600 files.
    const char *dir = r->o->evidence_dir;
    if (dir == NULL || mkdir(dir, 0700) != 0) {
        if (dir == NULL || errno != EEXIST) {
            if (dir != NULL)
                log_warn("flow", "evidence folder %s: %s", dir, strerror(errno));
            return;
        }
    }
    char base[PATH_MAX - 32];
    snprintf(base, sizeof base, "%s/order-%lld-%s-a%d-%s", dir, r->order->id, r->order->consultora_code, r->attempt,
             step);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s.png", base);
    if (cdp_page_screenshot(r->win, path, /* full_page= */ true, FLOW_EVIDENCE_TIMEOUT_MS) != 0)
        log_warn("flow", "evidence screenshot %s: %s", path, cdp_page_errmsg(r->win));
    snprintf(path, sizeof path, "%s.html", base);
    if (cdp_page_html(r->win, path, FLOW_EVIDENCE_TIMEOUT_MS) != 0)
        log_warn("flow", "evidence html %s: %s", path, cdp_page_errmsg(r->win));
    else if (log_redact_file(path) != 0) // a secret the page shows in its text or attributes
        log_warn("flow", "evidence html %s: redacting: %s", path, strerror(errno));
    if (r->page != r->win) {
        // The action failed inside a frame: its document too (the page's HTML shows only the iframe).
        snprintf(path, sizeof path, "%s.frame.html", base);
        if (cdp_page_html(r->page, path, FLOW_EVIDENCE_TIMEOUT_MS) != 0)
            log_warn("flow", "evidence frame html %s: %s", path, cdp_page_errmsg(r->page));
        else if (log_redact_file(path) != 0)
            log_warn("flow", "evidence html %s: redacting: %s", path, strerror(errno));
    }
    snprintf(path, sizeof path, "%s.console.txt", base);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL && fd >= 0)
        close(fd);
    if (f != NULL) {
        static const char *const KINDS[] = {"console.error", "exception", "dialog"};
        for (size_t i = 0; i < cdp_page_log_count(r->win); i++) {
            enum cdp_log_kind kind;
            const char *text = cdp_page_log_get(r->win, i, &kind);
            char red[2200];
            log_redact(text ? text : "", red, sizeof red);
            fprintf(f, "%s: %s\n", (unsigned)kind < 3 ? KINDS[kind] : "log", red);
        }
        if (cdp_page_log_dropped(r->win) > 0)
            fprintf(f, "(%zu more entries dropped)\n", cdp_page_log_dropped(r->win));
        fclose(f);
    }
    snprintf(r->res->evidence, sizeof r->res->evidence, "%s", base);
}

/* ---- steps ---- */

/* Returns 1 when the step's skip_if holds, 0 when not, -1 on an error (*out). */
static int should_skip(struct run *r, const struct flow_step *st, struct outcome *out)
{
    if (st->skip_if == NULL)
        return 0;
    struct flow_vars v = {.cfg = r->o->cfg, .order = r->order};
    char *sel = expand(st->skip_if, selector_ctx(st->skip_if), &v, out);
    if (sel == NULL)
        return -1;
    // One look, not a wait: is an element matching it visible in the window right now?
    bool visible = false;
    r->page = r->win;
    int rc = cdp_page_is_visible(r->win, sel, NULL, FLOW_SKIP_CHECK_MS, &visible);
    free(sel);
    if (rc != 0) {
        classify(r, rc, "skip_if", out);
        return -1;
    }
    return visible ? 1 : 0;
}

static bool stop_here(const struct run *r, const struct flow_step *st)
{
    const char *stop = r->o->stop_before_step;
    if (stop == NULL || r->o->on_cart != NULL)
        return false;
    return *stop == '\0' ? st->for_each_item.n > 0 : strcmp(stop, st->name) == 0;
}

/* One walk over the steps. Returns 0, or -1 with *out and *failed_step. */
static int walk(struct run *r, struct outcome *out, const char **failed_step)
{
    const struct flow *f = r->o->flow;
    for (size_t i = 0; i < f->nsteps; i++) {
        const struct flow_step *st = &f->steps[i];
        if (stop_here(r, st))
            return 0;
        *failed_step = st->name;
        if (stop_requested(r, out))
            return -1;
        long t0 = now_ms();
        pop_closed_windows(r);
        r->step = st;
        r->dframe = &st->frame;
        r->gen++;
        if (arm(r, r->win, NULL, out) != 0)
            return -1;
        int skip = should_skip(r, st, out);
        if (skip < 0)
            return -1;
        if (skip == 1) {
            struct flow_event ev = {.kind = FLOW_EV_STEP_SKIPPED, .step = st->name, .ms = now_ms() - t0};
            emit(r, &ev);
            snprintf(r->res->step, sizeof r->res->step, "%s", st->name);
            continue;
        }
        struct flow_vars v = {.cfg = r->o->cfg, .order = r->order};
        int retries = st->retries >= 0 ? st->retries : f->step_retries;
        int rc;
        for (int try = 0;; try++) {
            r->step_try = try;
            memset(out, 0, sizeof *out);
            out->det = -1;
            rc = run_actions(r, st->name, &st->actions, &v, out);
            if (rc == 0 && st->cart != NULL && r->o->on_cart != NULL)
                rc = report_cart(r, st, &v, out); // verify: read the cart, add nothing
            else if (rc == 0 && st->for_each_item.n > 0)
                rc = run_items(r, st, out);
            struct flow_event ev = {.kind = rc ? FLOW_EV_STEP_FAILED : FLOW_EV_STEP_OK,
                                    .step = st->name,
                                    .ms = now_ms() - t0,
                                    .error = rc ? out->msg : NULL,
                                    .cls = out->cls};
            emit(r, &ev);
            // A transient failure (an error page, HTTP 5xx, a network error) re-runs the step in
            // place, session kept: steps start at their own page, and a cart step re-reads the
            // cart first, so a re-run never adds twice. Timeouts and everything else go up.
            if (rc == 0 || !out->transient || try >= retries || r->res->stopped)
                break;
            if (cdp_page_sleep(r->win, FLOW_STEP_RETRY_MS * (try + 1)) == CDP_ERR_STOPPED) {
                r->res->stopped = true;
                break;
            }
            t0 = now_ms();
        }
        if (rc != 0)
            return -1;
        snprintf(r->res->step, sizeof r->res->step, "%s", st->name);
        if (st->cart != NULL && r->o->on_cart != NULL)
            return 0; // verify stops at the cart it read
    }
    if (r->o->on_cart != NULL) {
        out->cls = FLOW_CLASS_ABORT;
        snprintf(out->msg, sizeof out->msg, "the flow has no step with a \"cart\" expression to read the cart with");
        return -1;
    }
    return 0;
}

int flow_run_attempt(struct cdp_page *page, const struct flow_run_opts *opts, const struct flow_order *order,
                     struct flow_item_state *items, size_t nitems, int attempt, struct flow_result *res)
{
    memset(res, 0, sizeof *res);
    struct run r = {.page = page,
                    .win = page,
                    .top = page,
                    .o = opts,
                    .order = order,
                    .items = items,
                    .nitems = nitems,
                    .attempt = attempt,
                    .res = res,
                    .gen = 1};
    long t0 = now_ms();
    struct outcome out = {.det = -1};
    for (size_t i = 0; i < nitems; i++)
        snprintf(items[i].outcome, sizeof items[i].outcome, "pending");
    if (opts->flow->base_url != NULL) {
        struct flow_vars v = {.cfg = opts->cfg, .order = order};
        char *b = expand(opts->flow->base_url, FLOW_CTX_TEXT, &v, &out);
        if (b == NULL) {
            res->cls = FLOW_CLASS_FATAL;
            snprintf(res->error, sizeof res->error, "base_url: %s", out.msg);
            return -1;
        }
        snprintf(r.base_url, sizeof r.base_url, "%s", b);
        free(b);
    }
    cdp_page_log_clear(page);
    int restarts = 0, max_restarts = opts->max_session_restarts > 0 ? opts->max_session_restarts : 2;
    const char *failed_step = "";
    int rc;
    for (;;) {
        memset(&out, 0, sizeof out);
        rc = walk(&r, &out, &failed_step);
        if (rc == 0 || out.cls != FLOW_CLASS_SESSION || restarts >= max_restarts || res->stopped)
            break;
        // The portal session is gone: start again from the first step, whose skip_if no longer holds.
        restarts++;
        struct flow_event ev = {
            .kind = FLOW_EV_SESSION_LOST, .step = failed_step, .error = out.msg, .cls = FLOW_CLASS_SESSION};
        emit(&r, &ev);
    }
    res->ms = now_ms() - t0;
    if (rc != 0) {
        res->cls = out.cls == FLOW_CLASS_NONE ? FLOW_CLASS_RECOVERABLE : out.cls;
        snprintf(res->failed_step, sizeof res->failed_step, "%s", failed_step);
        snprintf(res->error, sizeof res->error, "%s", out.msg);
        if (!res->stopped)
            save_evidence(&r, failed_step);
    }
    // Pop-up windows do not outlive the attempt: the next one starts in the page.
    while (r.npopups > 0)
        pop_window(&r, true);
    return rc == 0 ? 0 : -1;
}
