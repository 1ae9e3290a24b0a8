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

struct run {
    struct cdp_page *page;
    const struct flow_run_opts *o;
    const struct flow_order *order;
    struct flow_item_state *items;
    size_t nitems;
    int attempt;
    struct flow_result *res;
    int guard_det[FLOW_MAX_GUARDS]; /* guard index -> detector index */
    size_t nguards;
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

/* Sets the page's guards to the detectors that apply in `step`. */
static int set_guards(struct run *r, const char *step, struct outcome *out)
{
    const struct flow *f = r->o->flow;
    struct cdp_guard guards[FLOW_MAX_GUARDS];
    r->nguards = 0;
    for (size_t i = 0; i < f->nerrors && r->nguards < FLOW_MAX_GUARDS; i++) {
        const struct flow_detector *d = &f->errors[i];
        bool applies = d->nsteps == 0;
        for (size_t k = 0; k < d->nsteps; k++)
            applies |= strcmp(d->steps[k], step) == 0;
        if (!applies)
            continue;
        guards[r->nguards] = (struct cdp_guard){.selector = d->selector, .text = d->text};
        r->guard_det[r->nguards++] = (int)i;
    }
    int rc = cdp_page_set_guards(r->page, guards, r->nguards);
    if (rc != 0) {
        out->cls = FLOW_CLASS_RECOVERABLE;
        snprintf(out->msg, sizeof out->msg, "setting error detectors: %s", cdp_page_errmsg(r->page));
        return -1;
    }
    return 0;
}

/* Classifies a cdp failure `rc` of `what` into *out. */
static void classify(struct run *r, int rc, const char *what, struct outcome *out)
{
    char raw[FLOW_MESSAGE_MAX];
    out->det = -1;
    if (rc == CDP_ERR_GUARD) {
        int g = cdp_page_guard_hit(r->page);
        int det = g >= 0 && (size_t)g < r->nguards ? r->guard_det[g] : -1;
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

/* Runs one action. Returns 0, or -1 with *out set. */
static int run_action(struct run *r, const struct flow_action *a, const struct flow_vars *v, struct outcome *out,
                      char *desc, size_t dn)
{
    describe(a, a->target, a->value, a->text, desc, dn); // replaced by the values once they are known
    memset(out, 0, sizeof *out);
    out->det = -1;
    r->action = a;
    char *target = NULL, *value = NULL, *text = NULL, *on = NULL;
    enum flow_ctx tctx = FLOW_CTX_TEXT;
    if (a->verb == FLOW_CLICK || a->verb == FLOW_FILL || a->verb == FLOW_SELECT || a->verb == FLOW_WAIT_FOR ||
        a->verb == FLOW_CAPTURE)
        tctx = selector_ctx(a->target);
    else if (a->verb == FLOW_GOTO)
        tctx = FLOW_CTX_URL;
    else if (a->verb == FLOW_EVAL)
        tctx = FLOW_CTX_JS;
    int rc = 0;
    if (a->target != NULL && (target = expand(a->target, tctx, v, out)) == NULL)
        goto done;
    if (a->value != NULL && (value = expand(a->value, FLOW_CTX_TEXT, v, out)) == NULL)
        goto done;
    if (a->text != NULL && (text = expand(a->text, FLOW_CTX_TEXT, v, out)) == NULL)
        goto done;
    if (a->on != NULL && (on = expand(a->on, selector_ctx(a->on), v, out)) == NULL)
        goto done;

    int t = timeout_of(r, a);
    char what[600];
    describe(a, target, value, text, what, sizeof what); // a secret value reads "***"
    char red[600];
    log_redact(what, red, sizeof red);
    snprintf(desc, dn, "%s", red);
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
    if (rc != 0)
        classify(r, rc, what, out);
    if (rc != 0 && a->optional && rc != CDP_ERR_GUARD && rc != CDP_ERR_GONE) {
        out->cls = FLOW_CLASS_NONE; // optional: a timeout or a missing element is fine
        out->msg[0] = '\0';
    }
done:
    free(target);
    free(value);
    free(text);
    free(on);
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
    bool ok = cdp_page_screenshot(r->page, shot, /* full_page= */ false, FLOW_TRACE_SHOT_QUICK_MS) == 0;
    if (!ok && cdp_page_wait_function(r->page, "document.readyState === 'complete'", FLOW_EVIDENCE_TIMEOUT_MS) == 0)
        ok = cdp_page_screenshot(r->page, shot, /* full_page= */ false, FLOW_EVIDENCE_TIMEOUT_MS) == 0;
    if (!ok)
        log_warn("trace", "no screenshot after \"%s\": %s", desc, cdp_page_errmsg(r->page));
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
    char *js = expand(st->cart, FLOW_CTX_JS, v, out);
    if (js == NULL)
        return -1;
    cJSON *res = NULL;
    int rc = cdp_page_evaluate(r->page, js, FLOW_CART_TIMEOUT_MS, &res);
    free(js);
    if (rc != 0) {
        classify(r, rc, "reading the cart", out);
        return -1;
    }
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
        if (cdp_page_set_guards(r->page, NULL, 0) != 0 ||
            (run_actions(r, st->name, &st->after_item_error, &v, &cleanup) != 0 && cleanup.cls != FLOW_CLASS_FATAL) ||
            set_guards(r, st->name, &cleanup) != 0) {
            if (cleanup.cls == FLOW_CLASS_NONE) {
                cleanup.cls = FLOW_CLASS_RECOVERABLE;
                snprintf(cleanup.msg, sizeof cleanup.msg, "after_item_error: %s", cdp_page_errmsg(r->page));
            }
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
    if (cdp_page_screenshot(r->page, path, /* full_page= */ true, FLOW_EVIDENCE_TIMEOUT_MS) != 0)
        log_warn("flow", "evidence screenshot %s: %s", path, cdp_page_errmsg(r->page));
    snprintf(path, sizeof path, "%s.html", base);
    if (cdp_page_html(r->page, path, FLOW_EVIDENCE_TIMEOUT_MS) != 0)
        log_warn("flow", "evidence html %s: %s", path, cdp_page_errmsg(r->page));
    else if (log_redact_file(path) != 0) // a secret the page shows in its text or attributes
        log_warn("flow", "evidence html %s: redacting: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s.console.txt", base);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL && fd >= 0)
        close(fd);
    if (f != NULL) {
        static const char *const KINDS[] = {"console.error", "exception", "dialog"};
        for (size_t i = 0; i < cdp_page_log_count(r->page); i++) {
            enum cdp_log_kind kind;
            const char *text = cdp_page_log_get(r->page, i, &kind);
            char red[2200];
            log_redact(text ? text : "", red, sizeof red);
            fprintf(f, "%s: %s\n", (unsigned)kind < 3 ? KINDS[kind] : "log", red);
        }
        if (cdp_page_log_dropped(r->page) > 0)
            fprintf(f, "(%zu more entries dropped)\n", cdp_page_log_dropped(r->page));
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
    // One look, not a wait: is some element matching the selector visible right now? (A wait with
    // a tiny deadline would expire before its first poll is answered.) The selector goes in as a
    // JSON string, so it cannot break the script.
    cJSON *lit = cJSON_CreateString(sel);
    char *quoted = lit ? cJSON_PrintUnformatted(lit) : NULL;
    cJSON_Delete(lit);
    free(sel);
    if (quoted == NULL) {
        out->cls = FLOW_CLASS_RECOVERABLE;
        snprintf(out->msg, sizeof out->msg, "skip_if: out of memory");
        return -1;
    }
    char js[1536];
    snprintf(js, sizeof js,
             "(() => { try { return [...document.querySelectorAll(%s)].some(e => {"
             " const r = e.getBoundingClientRect(), s = getComputedStyle(e);"
             " return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; });"
             " } catch (e) { return false; } })()",
             quoted);
    cJSON_free(quoted);
    cJSON *res = NULL;
    int rc = cdp_page_evaluate(r->page, js, FLOW_SKIP_CHECK_MS, &res);
    bool visible = rc == 0 && cJSON_IsTrue(res);
    cJSON_Delete(res);
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
        if (set_guards(r, st->name, out) != 0)
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
            if (cdp_page_sleep(r->page, FLOW_STEP_RETRY_MS * (try + 1)) == CDP_ERR_STOPPED) {
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
    struct run r = {
        .page = page, .o = opts, .order = order, .items = items, .nitems = nitems, .attempt = attempt, .res = res};
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
    if (rc == 0)
        return 0;
    res->cls = out.cls == FLOW_CLASS_NONE ? FLOW_CLASS_RECOVERABLE : out.cls;
    snprintf(res->failed_step, sizeof res->failed_step, "%s", failed_step);
    snprintf(res->error, sizeof res->error, "%s", out.msg);
    if (!res->stopped)
        save_evidence(&r, failed_step);
    return -1;
}
