/*
 * input.c - element actions and waits, Playwright style.
 *
 * Every action is a poll: one Runtime.evaluate, in our isolated world (see
 * world.c), of the helper library's poll (js/helper.js), which first checks
 * that the selectors are valid (CSS, piercing open shadow roots, or
 * role=...), then the page's selector guards (error detectors), then the
 * action's condition (and, for click, the full actionability check:
 * attached, visible, enabled, scrolled into view, stable over two animation
 * frames, hit test at the centre lands on the element, through shadow
 * roots). Not ready: the same evaluate keeps waiting inside the page,
 * re-checking (and re-resolving the selector from scratch) on every DOM
 * mutation and every 50 ms, for a slice of up to 2 s of the deadline; then C
 * evaluates again. Ready: the real input (mouse, Input.insertText, keys) goes
 * through CDP, on the page's session (Chromium routes it into frames, also
 * out-of-process ones: a point inside a frame is translated by frame.c).
 * Slices from C survive navigations: a wait that dies with its execution
 * context is retried, and a frame handle whose frame went away is bound
 * again.
 *
 * JS guards and wait_function predicates are the flow author's expressions
 * about page state, so they run in the page's own world, in a second poll
 * that takes over the in-page waiting and hands back to the isolated look
 * whenever the DOM changed. Every number that comes back (guard index, click
 * point) is checked before use: the page never picks what C reads.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp_internal.h"

#define SLICE_TICK_STR  "50"  /* ms: in-page re-check without a DOM mutation */
#define SLICE_MAX_MS    2000  /* the longest one evaluate waits in the page */
#define SLICE_MARGIN_MS 150   /* a slice ends this long before the deadline, so its answer arrives in time */
#define SLICE_WAKE_MS   200   /* page-world slice when the isolated world also has something to look at */
#define COORD_MAX       1e7   /* CSS px: a click point farther out is not an answer */
#define RETRY_PAUSE_MS  50    /* before looking again when a frame's iframe was not clickable */
#define CLICK_SEEN_MS   "300" /* ms the frame is given to report that a click arrived */

/* The page-world poll, for what flow authors wrote (JS guards, the wait_function predicate): they
 * read page state, so they run where it lives. "(async (slice, wake) => ...)" -> {guard, text} |
 * {done}: re-checks on every mutation and tick until one is truthy or the slice ends; with wake,
 * also returns ({woke}) once the DOM changed, at most every SLICE_TICK_STR ms, so C looks at the
 * isolated side again. The page can lie here (it can anyway: the expressions read its state); C
 * accepts only indexes of JS guards. */
static const char MAIN_HEAD[] = "(async (slice, wake) => {\nconst js = [";
static const char MAIN_TAIL[] =
    ";\n"
    "const check = async () => {\n"
    "  for (let k = 0; k < js.length; k++) { const v = await js[k][1]();\n"
    "    if (v) return {guard: js[k][0], text: typeof v === 'string' ? v : ''}; }\n"
    "  return {done: pred ? !!(await pred()) : false}; };\n"
    "const t0 = performance.now(), end = t0 + slice;\n"
    "let dirty = false, kick = null, mo = null;\n"
    "try { mo = new MutationObserver(() => { dirty = true; if (kick) kick(); });\n"
    "  mo.observe(document, {subtree: true, childList: true, attributes: true, characterData: true}); }\n"
    "catch (x) { mo = null; }\n"
    "try { for (;;) { const r = await check();\n"
    "    if (r.guard !== undefined || r.done || performance.now() >= end) return r;\n"
    "    if (wake && dirty && performance.now() - t0 >= " SLICE_TICK_STR ") return {done: false, woke: true};\n"
    "    await new Promise(res => { const t = setTimeout(() => { kick = null; res(); },\n"
    "        Math.max(0, Math.min(" SLICE_TICK_STR ", end - performance.now())));\n"
    "      kick = () => { kick = null; clearTimeout(t); res(); }; }); } }\n"
    "finally { if (mo) mo.disconnect(); } })";

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Appends s unless an earlier append failed (a failed append empties the buffer: stop there). */
static void add(struct buf *b, bool *ok, const char *s)
{
    if (*ok && buf_append_str(b, s) != 0)
        *ok = false;
}

/* One poll: what a waiting call looks at, in which world. */
struct poll {
    struct cdp_page *p;
    const char *what; /* names the call in messages: "click #add (text \"Add\")" */
    const char *verb; /* "click": with sel, for the bad-selector message */
    const char *sel;  /* the call's selector, or NULL */
    bool acts;        /* the isolated helper acts when ready (every op but "none") */
    bool once;        /* check_guards, is_visible: look once, do not wait */
    const char *why0; /* what was not ready before this poll (a retried action), or NULL */
    char *iso;        /* isolated-world poll arguments (JSON), or NULL: nothing to look at there */
    char *main;       /* page-world poll source, or NULL: no JS guard and no predicate */
    struct buf call;  /* the expression of the evaluate under way */
};

static void poll_cleanup(struct poll *q)
{
    free(q->iso);
    free(q->main);
    buf_cleanup(&q->call);
}

/* Builds the sources for args = {op, sel, text, ...} (consumed) and pred (page-world predicate, may
 * be NULL), with the page's guards unless !guards. Returns 0 or CDP_ERR_NOMEM (message set); q is
 * cleaned up on failure. */
static int poll_init(struct poll *q, struct cdp_page *p, const char *what, const char *verb, const char *sel,
                     cJSON *args, const char *pred, bool guards)
{
    *q = (struct poll){.p = p, .what = what, .verb = verb, .sel = sel};
    buf_init(&q->call, 0);
    const char *op = str(args, "op");
    q->acts = op && strcmp(op, "none") != 0;
    bool ok = op != NULL;
    size_t nsel = 0, njs = 0;
    cJSON *gs = ok ? cJSON_AddArrayToObject(args, "guards") : NULL;
    ok = ok && gs;
    for (size_t i = 0; ok && guards && i < p->nguards; i++) {
        if (!p->guards[i].selector) {
            njs++;
            continue;
        }
        cJSON *g = cJSON_CreateObject();
        ok = g && cJSON_AddItemToArray(gs, g) && cJSON_AddNumberToObject(g, "i", (double)i) &&
             cJSON_AddStringToObject(g, "sel", p->guards[i].selector) &&
             (!p->guards[i].text || cJSON_AddStringToObject(g, "text", p->guards[i].text));
        nsel++;
    }
    char *aj = ok ? cJSON_PrintUnformatted(args) : NULL;
    cJSON_Delete(args);
    ok = aj != NULL;
    if (ok && (q->acts || nsel)) {
        q->iso = strdup(aj);
        ok = q->iso != NULL;
    }
    cJSON_free(aj);
    struct buf b;
    buf_init(&b, 0);
    if (ok && (njs || pred)) {
        // JS guards and the predicate are inlined as source (no eval: a page's CSP does not block
        // them); each JS guard travels with its index.
        add(&b, &ok, MAIN_HEAD);
        bool first = true;
        for (size_t i = 0; ok && guards && i < p->nguards; i++) {
            if (p->guards[i].selector)
                continue;
            char idx[32];
            snprintf(idx, sizeof(idx), "%s[%zu, async () => (\n", first ? "" : ", ", i);
            add(&b, &ok, idx);
            add(&b, &ok, p->guards[i].js);
            add(&b, &ok, "\n)]");
            first = false;
        }
        add(&b, &ok, "];\nconst pred = ");
        if (pred) {
            add(&b, &ok, "async () => (\n");
            add(&b, &ok, pred);
            add(&b, &ok, "\n)");
        } else {
            add(&b, &ok, "null");
        }
        add(&b, &ok, MAIN_TAIL);
        q->main = ok ? buf_take(&b) : NULL;
        ok = q->main != NULL;
    }
    buf_cleanup(&b);
    if (!ok) {
        poll_cleanup(q);
        cdp__seterr(p->err, "%s: out of memory", what);
        return CDP_ERR_NOMEM;
    }
    return 0;
}

/* True when v is an integer index of one of p's guards of the given kind. */
static bool guard_index(const struct cdp_page *p, const cJSON *v, bool js, size_t *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!(d >= 0 && d < (double)p->nguards && d == floor(d)))
        return false;
    size_t i = (size_t)d;
    if ((p->guards[i].selector == NULL) != js)
        return false;
    *out = i;
    return true;
}

/* An answer that cannot be right (never used as an index): CDP_ERR_PROTOCOL. */
static int bad_answer(const struct poll *q, const char *field, const cJSON *v, const char *expected)
{
    char shown[64] = "(missing)";
    if (cJSON_IsNumber(v))
        snprintf(shown, sizeof(shown), "%.17g", v->valuedouble);
    else if (v)
        snprintf(shown, sizeof(shown), "(not a number)");
    cdp__seterr(q->p->err, "%s: invalid answer from the page: %s %s is not %s (%zu guards set)", q->what, field, shown,
                expected, q->p->nguards);
    return CDP_ERR_PROTOCOL;
}

/* A guard in answer res (from the page world if js): CDP_ERR_GUARD with the guard's text, 0 if the
 * answer names no guard, CDP_ERR_PROTOCOL if it names an impossible one. */
static int answer_guard(struct poll *q, const cJSON *res, bool js)
{
    struct cdp_page *p = q->p;
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(res, "guard");
    if (!g)
        return 0;
    size_t i;
    if (!guard_index(p, g, js, &i))
        return bad_answer(q, "guard", g, js ? "a JS guard index" : "a selector guard index");
    p->guard_hit = (int)i;
    const char *t = str(res, "text");
    if (t && *t)
        cdp__seterr(p->err, "%s", t);
    else
        cdp__seterr(p->err, "error detector %zu matched (%s)", i, js ? p->guards[i].js : p->guards[i].selector);
    return CDP_ERR_GUARD;
}

static void pause_ms(struct cdp_page *p, int64_t until_us)
{
    (void)cdp__pump(p->b, until_us, NULL, NULL);
}

static int slice_ms(int64_t deadline)
{
    int64_t left_ms = (deadline - cdp__now_us()) / 1000 - SLICE_MARGIN_MS;
    return left_ms <= 0 ? 0 : left_ms > SLICE_MAX_MS ? SLICE_MAX_MS : (int)left_ms;
}

/* The page's answer after a poll evaluate in world w: 0 (done or not: *ready), CDP__AGAIN when the
 * document changed under it, or an error that ends the call. */
static int look(struct poll *q, enum cdp__world w, int slice, bool wake, int64_t deadline, cJSON **ready, bool *woke,
                char *why, size_t whylen)
{
    struct cdp_page *p = q->p;
    *ready = NULL;
    *woke = false;
    int rc;
    if (w == CDP__WORLD_HELPER && (rc = cdp__world_ensure(p, deadline, q->what))) {
        if ((rc == CDP_ERR_JS || rc == CDP_ERR_PROTOCOL) && cdp__transient(p->err)) {
            snprintf(why, whylen, "the page was navigating");
            if (p->parent)
                cdp__frame_unbind(p);
            return CDP__AGAIN;
        }
        return rc;
    }
    /* the time making the world took comes off the in-page wait */
    if (slice > 0) {
        int left = slice_ms(deadline);
        slice = left < slice ? left : slice;
    }
    buf_reset(&q->call);
    if ((w == CDP__WORLD_HELPER ? buf_printf(&q->call, "poll(%s, %d)", q->iso, slice)
                                : buf_printf(&q->call, "%s(%d, %s)", q->main, slice, wake ? "true" : "false")) != 0) {
        cdp__seterr(p->err, "%s: out of memory", q->what);
        return CDP_ERR_NOMEM;
    }
    cJSON *res = NULL;
    rc = w == CDP__WORLD_HELPER ? cdp__helper(p, buf_str(&q->call), deadline, &res, q->what)
                                : cdp__evaluate(p, w, buf_str(&q->call), deadline, &res, q->what);
    if ((rc == CDP_ERR_JS || rc == CDP_ERR_PROTOCOL) && cdp__transient(p->err)) {
        snprintf(why, whylen, "the page was navigating");
        if (p->parent) /* the frame may be gone or replaced: find it again */
            cdp__frame_unbind(p);
        return CDP__AGAIN;
    }
    if (rc)
        return rc;
    if (!cJSON_IsObject(res)) {
        cJSON_Delete(res);
        cdp__seterr(p->err, "%s: invalid answer from the page (not an object)", q->what);
        return CDP_ERR_PROTOCOL;
    }
    if ((rc = answer_guard(q, res, w == CDP__WORLD_PAGE))) {
        cJSON_Delete(res);
        return rc;
    }
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(res, "badsel");
    if (bs && w == CDP__WORLD_HELPER) {
        const char *m = str(res, "msg");
        size_t i;
        if (cJSON_IsNumber(bs) && bs->valuedouble == -1 && q->sel) {
            cdp__seterr(p->err, "%s \"%s\": %s", q->verb, q->sel, m ? m : "not a valid selector");
            rc = CDP_ERR_ARG;
        } else if (guard_index(p, bs, false, &i)) {
            cdp__seterr(p->err, "%s: guard %zu \"%s\": %s", q->what, i, p->guards[i].selector,
                        m ? m : "not a valid selector");
            rc = CDP_ERR_ARG;
        } else {
            rc = bad_answer(q, "bad selector", bs, "a selector guard index");
        }
        cJSON_Delete(res);
        return rc;
    }
    const char *fatal = w == CDP__WORLD_HELPER ? str(res, "fatal") : NULL;
    if (fatal) {
        cdp__seterr(p->err, "%s: %s", q->what, fatal);
        cJSON_Delete(res);
        return CDP_ERR_ARG;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "done"))) {
        *ready = res;
        return 0;
    }
    *woke = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "woke"));
    const char *wy = str(res, "why");
    if (w == CDP__WORLD_HELPER)
        snprintf(why, whylen, "%s", wy ? wy : "not ready");
    else if (!q->acts && !*woke) /* the predicate's verdict; an action keeps the helper's why */
        snprintf(why, whylen, "expression is still falsy");
    cJSON_Delete(res);
    return 0;
}

/* The message of a call that stopped because the browser or the page is gone. */
static int gone_error(struct cdp_page *p, const char *what)
{
    const char *gone = cdp__page_gone_why(p);
    cdp__seterr(p->err, "%s: browser gone (%s)", what, gone ? gone : p->b->gone_why);
    return CDP_ERR_GONE;
}

/* A frame handle's wait also races the guards of the pages and frames above it (a modal over the
 * whole page, the page's login form after a session expired): one look at each that has guards.
 * CDP_ERR_GUARD (p->guard_hit_by set, p's message the guard's), else 0. */
int cdp__ancestors_guards(struct cdp_page *p, int64_t deadline)
{
    for (struct cdp_page *a = p->parent; a != NULL; a = a->parent) {
        if (a->nguards == 0)
            continue;
        int64_t left_ms = (deadline - cdp__now_us()) / 1000;
        int rc = cdp_page_check_guards(a, left_ms < 1 ? 1 : left_ms > 2000 ? 2000 : (int)left_ms);
        if (rc == CDP_ERR_GUARD) {
            p->guard_hit_by = a;
            snprintf(p->err, sizeof(p->err), "%s", a->err);
            return rc;
        }
        if (rc == CDP_ERR_GONE) {
            snprintf(p->err, sizeof(p->err), "%s", a->err);
            return rc;
        }
        /* anything else (a navigation under the look, a slow answer): looked at again next round */
    }
    return 0;
}

bool cdp__ancestors_have_guards(const struct cdp_page *p)
{
    for (const struct cdp_page *a = p->parent; a != NULL; a = a->parent)
        if (a->nguards > 0)
            return true;
    return false;
}

/* Polls until the call is done, a guard matches, or the deadline. Per round: (a frame handle whose
 * frame went away: bind it again) (JS guards first, once, when the isolated helper acts) the
 * isolated world's look, then the page world's. On success *done (if not NULL) gets the isolated
 * helper's answer (caller frees; NULL when the predicate decided). Cleans q up. */
static int poll_run(struct poll *q, int64_t start, int64_t deadline, cJSON **done)
{
    static const int delays_ms[] = {0, 20, 50, 100};
    struct cdp_page *p = q->p;
    if (done)
        *done = NULL;
    p->guard_hit = -1;
    p->guard_hit_by = NULL;
    char why[512];
    snprintf(why, sizeof(why), "%s", q->why0 ? q->why0 : "not tried yet");
    int rc = 0;
    unsigned again = 0;                 /* rounds in a row cut short by a navigation */
    bool js_first = q->main && q->acts; /* an action must not run when a JS guard already matches */
    bool above = !q->once && cdp__ancestors_have_guards(p);
    for (;;) {
        int64_t round_start = cdp__now_us();
        int slice = slice_ms(deadline);
        if (above) {
            // What happens above the frame wakes no wait inside it: look up there every 200 ms.
            if (slice > SLICE_WAKE_MS)
                slice = SLICE_WAKE_MS;
            if ((rc = cdp__ancestors_guards(p, deadline)) != 0)
                break;
        }
        cJSON *ready = NULL;
        bool woke = false, cut = false;
        if (p->parent && !cdp__frame_valid(p)) {
            rc = cdp__frame_try_bind(p, deadline, q->once ? 0 : slice, why, sizeof(why));
            if (rc < 0)
                break;
            cut = rc == CDP__AGAIN;
            if (cut && q->once) { /* look once: a frame that is not there shows nothing */
                poll_cleanup(q);
                return CDP__AGAIN;
            }
        }
        if (js_first && !cut) {
            rc = look(q, CDP__WORLD_PAGE, 0, false, deadline, &ready, &woke, why, sizeof(why));
            cJSON_Delete(ready);
            ready = NULL;
            cut |= rc == CDP__AGAIN;
            js_first = rc != 0;
            if (rc < 0)
                break;
        }
        if (q->iso && !cut) {
            rc = look(q, CDP__WORLD_HELPER, q->main || q->once ? 0 : slice, false, deadline, &ready, &woke, why,
                      sizeof(why));
            cut |= rc == CDP__AGAIN;
            if (rc < 0)
                break;
            if (ready && (q->acts || !q->main)) {
                if (done)
                    *done = ready;
                else
                    cJSON_Delete(ready);
                poll_cleanup(q);
                return 0;
            }
            cJSON_Delete(ready);
            ready = NULL;
        }
        if (q->main && !cut) {
            int s = q->once ? 0 : q->iso && slice > SLICE_WAKE_MS ? SLICE_WAKE_MS : slice;
            rc = look(q, CDP__WORLD_PAGE, s, q->iso != NULL, deadline, &ready, &woke, why, sizeof(why));
            cut |= rc == CDP__AGAIN;
            if (rc < 0)
                break;
            if (ready && !q->acts) { /* the predicate is truthy (or a check_guards found nothing) */
                cJSON_Delete(ready);
                poll_cleanup(q);
                return 0;
            }
            cJSON_Delete(ready);
        }
        if (q->once && !cut) {
            poll_cleanup(q);
            return q->acts ? CDP__AGAIN : 0;
        }
        int64_t now = cdp__now_us();
        if (now >= deadline) {
            rc = CDP_ERR_TIMEOUT;
            break;
        }
        // After a navigation: 0, 20, 50, 100 ms apart. After a look that waited in the page: at once.
        // A look that came back at once without waiting (a page lying about its clock): 20 ms.
        again = cut ? again + 1 : 0;
        int d = cut ? delays_ms[again < 3 ? again : 3] : (now - round_start < 10000 && !woke ? 20 : 0);
        if (d) {
            int64_t until = now + (int64_t)d * 1000;
            pause_ms(p, until < deadline ? until : deadline);
        }
        if (p->b->gone || cdp__page_gone_why(p)) {
            poll_cleanup(q);
            return gone_error(p, q->what);
        }
    }
    if (rc == CDP_ERR_TIMEOUT)
        cdp__seterr(p->err, "%s: timeout after %lld ms: %s", q->what, (long long)((deadline - start) / 1000), why);
    poll_cleanup(q);
    return rc;
}

/* poll_init + poll_run; why0 (may be NULL) is what was not ready before, for a timeout message
 * that comes before the first look. */
static int poll_again(struct cdp_page *p, const char *what, const char *verb, const char *sel, cJSON *args,
                      const char *pred, int64_t start, int64_t deadline, cJSON **done, const char *why0)
{
    if (done)
        *done = NULL;
    if (!args) {
        cdp__seterr(p->err, "%s: out of memory", what);
        return CDP_ERR_NOMEM;
    }
    struct poll q;
    int rc = poll_init(&q, p, what, verb, sel, args, pred, true);
    q.why0 = why0;
    return rc ? rc : poll_run(&q, start, deadline, done);
}

static int poll_until(struct cdp_page *p, const char *what, const char *verb, const char *sel, cJSON *args,
                      const char *pred, int64_t start, int64_t deadline, cJSON **done)
{
    return poll_again(p, what, verb, sel, args, pred, start, deadline, done, NULL);
}

int cdp__guards_validate(struct cdp_page *p, int64_t deadline)
{
    cJSON *sels = cJSON_CreateArray();
    bool ok = sels != NULL, any = false;
    for (size_t i = 0; ok && i < p->nguards; i++) {
        if (!p->guards[i].selector)
            continue;
        cJSON *pair = cJSON_CreateArray();
        ok = pair && cJSON_AddItemToArray(sels, pair) && cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)i)) &&
             cJSON_AddItemToArray(pair, cJSON_CreateString(p->guards[i].selector));
        any = true;
    }
    char *sj = ok && any ? cJSON_PrintUnformatted(sels) : NULL;
    cJSON_Delete(sels);
    if (!any && ok)
        return 0;
    struct buf b;
    buf_init(&b, 0);
    ok = sj && buf_printf(&b, "validate(%s)", sj) == 0;
    cJSON_free(sj);
    if (!ok) {
        buf_cleanup(&b);
        cdp__seterr(p->err, "guards: out of memory");
        return CDP_ERR_NOMEM;
    }
    cJSON *res = NULL;
    int rc = cdp__helper(p, buf_str(&b), deadline, &res, "guards");
    buf_cleanup(&b);
    if (rc)
        return rc;
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(res, "badsel");
    size_t i;
    if (!cJSON_IsObject(res)) {
        cdp__seterr(p->err, "guards: invalid answer from the page (not an object)");
        rc = CDP_ERR_PROTOCOL;
    } else if (bs && guard_index(p, bs, false, &i)) {
        const char *m = str(res, "msg");
        cdp__seterr(p->err, "guards: guard %zu \"%s\": %s", i, p->guards[i].selector, m ? m : "not a valid selector");
        rc = CDP_ERR_ARG;
    } else if (bs) {
        cdp__seterr(p->err, "guards: invalid answer from the page: bad selector index is not a selector guard");
        rc = CDP_ERR_PROTOCOL;
    }
    cJSON_Delete(res);
    return rc;
}

static cJSON *args_new(const char *op, const char *sel, const char *text)
{
    cJSON *a = cJSON_CreateObject();
    if (!a)
        return NULL;
    cJSON_AddStringToObject(a, "op", op);
    if (sel)
        cJSON_AddStringToObject(a, "sel", sel);
    if (text)
        cJSON_AddStringToObject(a, "text", text);
    return a;
}

/* "click #add (text \"Add\") in frame #cart" */
static void name_action(const struct cdp_page *p, char *out, size_t len, const char *verb, const char *sel,
                        const char *text)
{
    char fr[160];
    cdp__frame_name(p, fr, sizeof(fr));
    if (text)
        snprintf(out, len, "%s %s (text \"%s\")%s", verb, sel, text, fr);
    else
        snprintf(out, len, "%s %s%s", verb, sel, fr);
}

static void slow_mo(struct cdp_page *p)
{
    if (p->slow_mo_ms > 0)
        pause_ms(p, cdp__now_us() + (int64_t)p->slow_mo_ms * 1000);
}

int cdp_page_wait_for(struct cdp_page *p, const char *selector, const char *text, enum cdp_state state, int timeout_ms)
{
    static const char *const names[] = {"visible", "hidden", "attached", "detached"};
    if (!p || !selector || !*selector || (unsigned)state > CDP_STATE_DETACHED)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    char what[300];
    char verb[32];
    snprintf(verb, sizeof(verb), "wait_for %s", names[state]);
    name_action(p, what, sizeof(what), verb, selector, text);
    cJSON *a = args_new("state", selector, text);
    cJSON_AddStringToObject(a, "state", names[state]);
    return poll_until(p, what, verb, selector, a, NULL, start, deadline, NULL);
}

int cdp_page_is_visible(struct cdp_page *p, const char *selector, const char *text, int timeout_ms, bool *visible)
{
    if (visible)
        *visible = false;
    if (!p || !selector || !*selector || !visible)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    char what[300];
    name_action(p, what, sizeof(what), "is_visible", selector, text);
    cJSON *a = args_new("state", selector, text);
    cJSON_AddStringToObject(a, "state", "visible");
    struct poll q;
    /* no guards (this is not a wait), one look; a navigation under it is looked through again */
    int rc = a ? poll_init(&q, p, what, "is_visible", selector, a, NULL, false) : CDP_ERR_NOMEM;
    if (rc) {
        cdp__seterr(p->err, "%s: out of memory", what);
        return rc;
    }
    q.once = true;
    rc = poll_run(&q, start, deadline, NULL);
    if (rc == CDP__AGAIN) /* not visible, or (a frame handle) its frame is not there */
        return 0;
    if (rc == 0)
        *visible = true;
    return rc;
}

int cdp_page_wait_function(struct cdp_page *p, const char *expression, int timeout_ms)
{
    if (!p || !expression)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    char what[300];
    name_action(p, what, sizeof(what), "wait_function", "", NULL);
    /* the predicate runs in the page's world; the isolated one looks at selector guards */
    return poll_until(p, p->parent ? what : "wait_function", "wait_function", NULL, args_new("none", NULL, NULL),
                      expression, start, deadline, NULL);
}

int cdp_page_wait_url(struct cdp_page *p, const char *substring, int timeout_ms)
{
    if (!p || !substring)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    cJSON *a = args_new("url", NULL, NULL);
    cJSON_AddStringToObject(a, "value", substring);
    char what[300];
    name_action(p, what, sizeof(what), "wait_url", substring, NULL);
    return poll_until(p, what, "wait_url", NULL, a, NULL, start, deadline, NULL);
}

struct cdp_page *cdp_page_guard_hit_on(const struct cdp_page *p)
{
    if (!p)
        return NULL;
    if (p->guard_hit_by)
        return p->guard_hit_by;
    return p->guard_hit >= 0 ? (struct cdp_page *)p : NULL;
}

int cdp_page_check_guards(struct cdp_page *p, int timeout_ms)
{
    if (!p)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    cJSON *a = args_new("none", NULL, NULL);
    struct poll q;
    int rc = a ? poll_init(&q, p, "check_guards", "check_guards", NULL, a, NULL, true) : CDP_ERR_NOMEM;
    if (rc) {
        cdp__seterr(p->err, "check_guards: out of memory");
        return rc;
    }
    q.once = true;
    rc = poll_run(&q, start, deadline, NULL);
    return rc == CDP__AGAIN ? 0 : rc; /* a frame that is not there shows no error */
}

/* Fire-and-forget the first events and wait for the last reply: a session's messages are handled
 * in order, so one round trip covers all of them. The events go to the session of via (the page,
 * or an out-of-process frame: see frame.c), in its viewport's coordinates. */
static int mouse_click(struct cdp_page *p, struct cdp_page *via, double x, double y, int64_t deadline)
{
    static const char *const types[] = {"mouseMoved", "mousePressed", "mouseReleased"};
    struct cdp_page *t = via;
    for (int i = 0; i < 3; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "type", types[i]);
        cJSON_AddNumberToObject(a, "x", x);
        cJSON_AddNumberToObject(a, "y", y);
        if (i > 0) {
            cJSON_AddStringToObject(a, "button", "left");
            cJSON_AddNumberToObject(a, "buttons", i == 1 ? 1 : 0);
            cJSON_AddNumberToObject(a, "clickCount", 1);
        }
        if (i < 2) {
            cdp__send_async(p->b, t->session_id, "Input.dispatchMouseEvent", a);
        } else {
            int rc = cdp__page_call(t, "Input.dispatchMouseEvent", a, deadline, NULL);
            if (rc && t != p)
                snprintf(p->err, sizeof(p->err), "%s", t->err);
            return rc;
        }
    }
    return 0;
}

/* Reads the click point of a ready answer r (frees r): 0 or CDP_ERR_PROTOCOL. */
static int answer_point(struct cdp_page *p, const char *what, cJSON *r, double *x, double *y)
{
    const cJSON *jx = cJSON_GetObjectItemCaseSensitive(r, "x"), *jy = cJSON_GetObjectItemCaseSensitive(r, "y");
    bool ok = cJSON_IsNumber(jx) && cJSON_IsNumber(jy) && fabs(jx->valuedouble) < COORD_MAX &&
              fabs(jy->valuedouble) < COORD_MAX;
    *x = ok ? jx->valuedouble : 0;
    *y = ok ? jy->valuedouble : 0;
    cJSON_Delete(r);
    if (!ok) {
        cdp__seterr(p->err, "%s: invalid answer from the page (no click point)", what);
        return CDP_ERR_PROTOCOL;
    }
    return 0;
}

/* Clicks at (x, y) of p's viewport: in a frame, translated to the top viewport once every
 * ancestor document agrees its iframe is hit there. CDP__AGAIN (why set) when not; the deadline
 * passing meanwhile is the action's timeout, with the last why. */
static int click_at(struct cdp_page *p, const char *what, double x, double y, int64_t start, int64_t deadline,
                    char *why, size_t whylen)
{
    struct cdp_page *via = p->top;
    if (p->parent) {
        int rc = cdp__frame_point(p, &x, &y, &via, deadline, why, whylen);
        if (rc == CDP_ERR_TIMEOUT)
            cdp__seterr(p->err, "%s: timeout after %lld ms: %s", what, (long long)((deadline - start) / 1000),
                        why[0] ? why : "the frame's iframe was not checked yet");
        if (rc)
            return rc;
    }
    int rc = mouse_click(p, via, x, y, deadline);
    if ((rc == CDP_ERR_PROTOCOL || rc == CDP_ERR_JS) && via != p->top && cdp__transient(p->err)) {
        snprintf(why, whylen, "the frame was replaced");
        return CDP__AGAIN; /* its session went away under the click: look again */
    }
    if (rc || !p->parent)
        return rc;
    /* Chromium now and then drops input to a frame that has just loaded: did it arrive? (A
     * navigation or a frame gone under the question means it did something.) */
    cJSON *r = NULL;
    rc = cdp__helper(p, "clicked(" CLICK_SEEN_MS ")", deadline, &r, what);
    bool lost = rc == 0 && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r, "seen"));
    cJSON_Delete(r);
    if ((rc == CDP_ERR_PROTOCOL || rc == CDP_ERR_JS) && cdp__transient(p->err))
        return 0;
    if (rc == CDP_ERR_TIMEOUT)
        return 0; /* the click was sent; the deadline ended the question */
    if (rc)
        return rc;
    if (lost) {
        snprintf(why, whylen, "the click did not arrive in the frame; clicking again");
        return CDP__AGAIN;
    }
    return 0;
}

/* Waits RETRY_PAUSE_MS (or fails at the deadline with why) before another look. */
static int retry_pause(struct cdp_page *p, const char *what, int64_t start, int64_t deadline, const char *why)
{
    int64_t now = cdp__now_us();
    if (now >= deadline) {
        cdp__seterr(p->err, "%s: timeout after %lld ms: %s", what, (long long)((deadline - start) / 1000), why);
        return CDP_ERR_TIMEOUT;
    }
    int64_t until = now + RETRY_PAUSE_MS * 1000;
    pause_ms(p, until < deadline ? until : deadline);
    if (p->b->gone || cdp__page_gone_why(p))
        return gone_error(p, what);
    return 0;
}

int cdp_page_click(struct cdp_page *p, const char *selector, const char *text, int timeout_ms)
{
    if (!p || !selector || !*selector)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    char what[300];
    name_action(p, what, sizeof(what), "click", selector, text);
    slow_mo(p);
    char why[512] = "";
    for (;;) {
        cJSON *r = NULL;
        int rc = poll_again(p, what, "click", selector, args_new("click", selector, text), NULL, start, deadline, &r,
                            why[0] ? why : NULL);
        double x, y;
        if (rc || (rc = answer_point(p, what, r, &x, &y)))
            return rc;
        rc = click_at(p, what, x, y, start, deadline, why, sizeof(why));
        if (rc != CDP__AGAIN)
            return rc;
        if ((rc = retry_pause(p, what, start, deadline, why)))
            return rc;
    }
}

/* Types value into the focused element one character at a time (key events for printable ASCII,
 * Input.insertText for the rest), like a user: masked inputs that format on every key see each. */
static int type_chars(struct cdp_page *p, const char *value, int64_t deadline)
{
    struct cdp_page *t = p->top;
    size_t n = strlen(value);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)value[i];
        size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (i + len > n)
            len = n - i;
        char ch[8];
        memcpy(ch, value + i, len);
        ch[len] = '\0';
        i += len;
        bool last = i >= n;
        if (c >= 0x20 && c < 0x7f) {
            for (int k = 0; k < 2; k++) {
                cJSON *a = cJSON_CreateObject();
                cJSON_AddStringToObject(a, "type", k == 0 ? "keyDown" : "keyUp");
                cJSON_AddStringToObject(a, "key", ch);
                if (k == 0) {
                    cJSON_AddStringToObject(a, "text", ch);
                    cJSON_AddStringToObject(a, "unmodifiedText", ch);
                }
                if (isalnum(c)) {
                    char code[16];
                    snprintf(code, sizeof(code), isalpha(c) ? "Key%c" : "Digit%c", toupper(c));
                    cJSON_AddStringToObject(a, "code", code);
                    cJSON_AddNumberToObject(a, "windowsVirtualKeyCode", toupper(c));
                }
                if (last && k == 1) {
                    int rc = cdp__page_call(t, "Input.dispatchKeyEvent", a, deadline, NULL);
                    if (rc && t != p)
                        snprintf(p->err, sizeof(p->err), "%s", t->err);
                    return rc;
                }
                cdp__send_async(p->b, t->session_id, "Input.dispatchKeyEvent", a);
            }
        } else {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddStringToObject(a, "text", ch);
            if (last) {
                int rc = cdp__page_call(t, "Input.insertText", a, deadline, NULL);
                if (rc && t != p)
                    snprintf(p->err, sizeof(p->err), "%s", t->err);
                return rc;
            }
            cdp__send_async(p->b, t->session_id, "Input.insertText", a);
        }
    }
    return 0;
}

/* Focus and select the content (op "fill"); *direct when the helper set the value itself. */
static int fill_prepare(struct cdp_page *p, const char *what, const char *selector, const char *text, const char *value,
                        int64_t start, int64_t deadline, bool *direct)
{
    cJSON *a = args_new("fill", selector, text);
    cJSON_AddStringToObject(a, "value", value);
    cJSON *r = NULL;
    int rc = poll_until(p, what, "fill", selector, a, NULL, start, deadline, &r);
    *direct = rc == 0 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "direct"));
    cJSON_Delete(r);
    return rc;
}

/* Op "filled": clears for "", compares what the field shows with value (letters and digits only),
 * fires change when it agrees (or when final). *agrees gets the verdict. */
static int fill_check(struct cdp_page *p, const char *what, const char *selector, const char *text, const char *value,
                      bool final, int64_t start, int64_t deadline, bool *agrees, int *shown_len)
{
    cJSON *a = args_new("filled", selector, text);
    cJSON_AddStringToObject(a, "value", value);
    cJSON_AddBoolToObject(a, "final", final);
    cJSON *r = NULL;
    int rc = poll_until(p, what, "fill", selector, a, NULL, start, deadline, &r);
    const cJSON *len = cJSON_GetObjectItemCaseSensitive(r, "shown_len");
    *agrees = rc == 0 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"));
    *shown_len = cJSON_IsNumber(len) && len->valuedouble >= 0 && len->valuedouble < 1e9 ? (int)len->valuedouble : 0;
    cJSON_Delete(r);
    return rc;
}

int cdp_page_fill(struct cdp_page *p, const char *selector, const char *text, const char *value, int timeout_ms)
{
    if (!p || !selector || !*selector || !value)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    char what[300];
    name_action(p, what, sizeof(what), "fill", selector, text);
    slow_mo(p);
    bool direct, agrees;
    int shown;
    int rc = fill_prepare(p, what, selector, text, value, start, deadline, &direct);
    if (rc || direct)
        return rc;
    if (*value) {
        /* Input.insertText replaces the selection like typing would: input events fire and
         * frameworks' value trackers see the change. */
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "text", value);
        if ((rc = cdp__page_call(p->top, "Input.insertText", t, deadline, NULL))) {
            if (p->top != p)
                snprintf(p->err, sizeof(p->err), "%s", p->top->err);
            return rc;
        }
    }
    if ((rc = fill_check(p, what, selector, text, value, false, start, deadline, &agrees, &shown)) || agrees)
        return rc;
    /* The field does not show it: a mask that takes one key at a time, or a framework that did
     * not see the change. Once more, key by key. */
    if ((rc = fill_prepare(p, what, selector, text, value, start, deadline, &direct)) ||
        (rc = type_chars(p, value, deadline)) ||
        (rc = fill_check(p, what, selector, text, value, true, start, deadline, &agrees, &shown)))
        return rc;
    if (!agrees) {
        /* never the values: a field may hold a secret */
        cdp__seterr(p->err, "%s: the field does not show what was typed (it shows %d characters)", what, shown);
        return CDP_ERR_ARG;
    }
    return 0;
}

int cdp_page_select(struct cdp_page *p, const char *selector, const char *text, const char *value, int timeout_ms)
{
    if (!p || !selector || !*selector || !value)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    char what[300];
    name_action(p, what, sizeof(what), "select", selector, text);
    slow_mo(p);
    /* A native <select> is done in one look. A listbox or combobox takes real clicks: open the
     * combobox (once), click the option, then wait until it shows as selected. */
    bool opened = false, clicked = false;
    char *name = NULL;
    char why[512] = "";
    for (;;) {
        cJSON *a = args_new(clicked ? "selectcheck" : "select", selector, text);
        cJSON_AddStringToObject(a, "value", value);
        cJSON_AddBoolToObject(a, "opened", opened);
        if (name)
            cJSON_AddStringToObject(a, "name", name);
        cJSON *r = NULL;
        int rc = poll_again(p, what, "select", selector, a, NULL, start, deadline, &r, why[0] ? why : NULL);
        const char *act = rc ? NULL : str(r, "act");
        if (rc || !act || clicked) {
            cJSON_Delete(r);
            free(name);
            return rc;
        }
        bool open = strcmp(act, "open") == 0;
        if (!open) {
            const char *nm = str(r, "name");
            free(name);
            name = strdup(nm ? nm : "");
            if (!name) {
                cJSON_Delete(r);
                cdp__seterr(p->err, "%s: out of memory", what);
                return CDP_ERR_NOMEM;
            }
        }
        double x, y;
        if ((rc = answer_point(p, what, r, &x, &y)) == 0 &&
            (rc = click_at(p, what, x, y, start, deadline, why, sizeof(why))) == 0) {
            if (open)
                opened = true;
            else
                clicked = true;
            continue;
        }
        if (rc == CDP__AGAIN && (rc = retry_pause(p, what, start, deadline, why)) == 0)
            continue;
        free(name);
        return rc;
    }
}

struct key_def {
    const char *key, *code;
    int vk;
    const char *text;
};

static const struct key_def keys[] = {
    {"Enter", "Enter", 13, "\r"},
    {"Tab", "Tab", 9, NULL},
    {"Escape", "Escape", 27, NULL},
    {"Backspace", "Backspace", 8, NULL},
    {"Delete", "Delete", 46, NULL},
    {"ArrowUp", "ArrowUp", 38, NULL},
    {"ArrowDown", "ArrowDown", 40, NULL},
    {"ArrowLeft", "ArrowLeft", 37, NULL},
    {"ArrowRight", "ArrowRight", 39, NULL},
    {"Home", "Home", 36, NULL},
    {"End", "End", 35, NULL},
    {"PageUp", "PageUp", 33, NULL},
    {"PageDown", "PageDown", 34, NULL},
    {"Space", "Space", 32, " "},
    {" ", "Space", 32, " "},
};

/* Fills *k for a key name; single printable ASCII characters are typed. */
static bool key_lookup(const char *name, struct key_def *k, char *text, char *code, size_t codelen)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].key, name) == 0 || (strcmp(name, "Return") == 0 && keys[i].vk == 13) ||
            (strcmp(name, "Esc") == 0 && keys[i].vk == 27)) {
            *k = keys[i];
            return true;
        }
    unsigned char c = (unsigned char)name[0];
    if (c && !name[1] && isprint(c)) {
        text[0] = (char)c;
        text[1] = '\0';
        if (isalpha(c))
            snprintf(code, codelen, "Key%c", toupper(c));
        else if (isdigit(c))
            snprintf(code, codelen, "Digit%c", c);
        else
            code[0] = '\0';
        *k = (struct key_def){.key = text, .code = code, .vk = isalnum(c) ? toupper(c) : 0, .text = text};
        return true;
    }
    return false;
}

int cdp_page_press(struct cdp_page *p, const char *selector, const char *key, int timeout_ms)
{
    if (!p || !key || !*key)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    struct key_def k;
    char text[2], code[16];
    if (!key_lookup(key, &k, text, code, sizeof(code))) {
        cdp__seterr(p->err, "press %s: unknown key name", key);
        return CDP_ERR_ARG;
    }
    slow_mo(p);
    if (selector && *selector) {
        char what[300];
        name_action(p, what, sizeof(what), "press: focus", selector, NULL);
        int rc = poll_until(p, what, "press", selector, args_new("focus", selector, NULL), NULL, start, deadline, NULL);
        if (rc)
            return rc;
    }
    /* keys go to the page's session, which routes them to the focused frame */
    struct cdp_page *t = p->top;
    for (int i = 0; i < 2; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "type", i == 0 ? (k.text ? "keyDown" : "rawKeyDown") : "keyUp");
        cJSON_AddStringToObject(a, "key", k.key);
        if (k.code && *k.code)
            cJSON_AddStringToObject(a, "code", k.code);
        if (k.vk) {
            cJSON_AddNumberToObject(a, "windowsVirtualKeyCode", k.vk);
            cJSON_AddNumberToObject(a, "nativeVirtualKeyCode", k.vk);
        }
        if (i == 0 && k.text) {
            cJSON_AddStringToObject(a, "text", k.text);
            cJSON_AddStringToObject(a, "unmodifiedText", k.text);
        }
        if (i == 0) {
            cdp__send_async(p->b, t->session_id, "Input.dispatchKeyEvent", a);
        } else {
            int rc = cdp__page_call(t, "Input.dispatchKeyEvent", a, deadline, NULL);
            if (rc) {
                if (t != p)
                    snprintf(p->err, sizeof(p->err), "%s", t->err);
                return rc;
            }
        }
    }
    return 0;
}

int cdp_page_text(struct cdp_page *p, const char *selector, const char *text, int timeout_ms, char **out)
{
    if (out)
        *out = NULL;
    if (!p || !selector || !*selector || !out)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    char what[300];
    name_action(p, what, sizeof(what), "text", selector, text);
    cJSON *r = NULL;
    int rc = poll_until(p, what, "text", selector, args_new("text", selector, text), NULL, start, deadline, &r);
    if (rc)
        return rc;
    const char *t = str(r, "text");
    *out = strdup(t ? t : "");
    cJSON_Delete(r);
    return *out ? 0 : CDP_ERR_NOMEM;
}
