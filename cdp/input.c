/*
 * input.c - element actions and waits, Playwright style.
 *
 * Every action is a poll: one Runtime.evaluate, in our isolated world (see
 * world.c), of a small helper that first checks that the selectors are valid
 * CSS, then the page's selector guards (error detectors), then the action's
 * condition (and, for click, the full actionability check: attached, visible,
 * enabled, scrolled into view, stable over two animation frames, hit test at
 * the centre lands on the element). Not ready: the same evaluate keeps
 * waiting inside the page, re-checking (and re-resolving the selector from
 * scratch) on every DOM mutation and every 50 ms, for a slice of up to 2 s of
 * the deadline; then C evaluates again. Ready: the real input (mouse,
 * Input.insertText, keys) goes through CDP. Slices from C survive
 * navigations: a wait that dies with its execution context is retried.
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

/* JS: badsel(s) is null when s is valid CSS, else the browser's SyntaxError text. */
#define JS_BADSEL                                                                                                      \
    "const badsel = s => { try { document.createDocumentFragment().querySelector(s); return null; }\n"                 \
    "  catch (x) { return String(x && x.message || x); } };\n"

/* The isolated-world helper: a = {op, sel, text, state, value, guards: [{i, sel, text}]} (only the
 * selector guards, with their indexes) -> {badsel: -1 | guard index, msg} | {guard, text} |
 * {done, why, fatal, x, y, text, direct}. */
static const char HELPER[] =
    "(async (a) => {\n" JS_BADSEL
    "const norm = s => String(s == null ? '' : s).replace(/\\s+/g, ' ').trim().toLowerCase();\n"
    "const vis = e => { if (!e || !e.isConnected) return false; const st = getComputedStyle(e);\n"
    "  if (st.visibility === 'hidden' || st.visibility === 'collapse') return false;\n"
    "  const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };\n"
    "const all = (sel, text) => { const l = Array.from(document.querySelectorAll(sel));\n"
    "  if (text == null) return l; const t = norm(text); return l.filter(e => norm(e.textContent).includes(t)); };\n"
    "const pick = () => { const l = all(a.sel, a.text); return l.find(vis) || l[0] || null; };\n"
    "const desc = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (typeof e.className === 'string' &&\n"
    "  e.className.trim() ? '.' + e.className.trim().split(/\\s+/).join('.') : '');\n"
    "const disabled = e => { try { if (e.matches(':disabled')) return true; } catch (x) {}\n"
    "  return !!e.closest('[aria-disabled=true]'); };\n"
    "if (a.sel != null) { const m = badsel(a.sel); if (m !== null) return {badsel: -1, msg: m}; }\n"
    "const gs = a.guards || [];\n"
    "for (let k = 0; k < gs.length; k++) { const m = badsel(gs[k].sel); if (m !== null) return {badsel: gs[k].i, msg: "
    "m}; }\n"
    "for (let k = 0; k < gs.length; k++) { const e = all(gs[k].sel, gs[k].text).find(vis);\n"
    "  if (e) return {guard: gs[k].i, text: (e.innerText || e.textContent || '').trim().slice(0, 500)}; }\n"
    "if (a.op === 'none') return {done: true};\n"
    "if (a.op === 'url') return {done: location.href.includes(a.value), why: 'url is ' + location.href};\n"
    "if (a.op === 'state') { const l = all(a.sel, a.text), s = a.state; const v = l.some(vis);\n"
    "  const ok = s === 'visible' ? v : s === 'hidden' ? !v : s === 'attached' ? l.length > 0 : l.length === 0;\n"
    "  if (ok) return {done: true};\n"
    "  return {done: false, why: !l.length ? 'no element matches' : s === 'hidden' ? desc(l.find(vis)) + ' is "
    "visible'\n"
    "    : s === 'detached' ? desc(l[0]) + ' is attached' : desc(l[0]) + ' is not visible'}; }\n"
    "const e = pick();\n"
    "if (!e) return {done: false, why: 'no element matches'};\n"
    "if (a.op === 'text') return {done: true, text: e.innerText ?? e.textContent ?? ''};\n"
    "if (!vis(e)) return {done: false, why: desc(e) + ' is not visible'};\n"
    "if (a.op === 'focus') { e.focus(); return {done: true}; }\n"
    "if (disabled(e)) return {done: false, why: desc(e) + ' is disabled'};\n"
    "if (a.op === 'click') {\n"
    "  const r0 = e.getBoundingClientRect();\n"
    "  if (r0.top < 0 || r0.left < 0 || r0.bottom > innerHeight || r0.right > innerWidth)\n"
    "    e.scrollIntoView({block: 'center', inline: 'center', behavior: 'instant'});\n"
    "  const frame = () => new Promise(res => { requestAnimationFrame(() => res()); setTimeout(res, 100); });\n"
    "  await frame(); const r1 = e.getBoundingClientRect(); await frame(); const r2 = e.getBoundingClientRect();\n"
    "  if (!e.isConnected) return {done: false, why: 'element was detached'};\n"
    "  if (r1.x !== r2.x || r1.y !== r2.y || r1.width !== r2.width || r1.height !== r2.height)\n"
    "    return {done: false, why: desc(e) + ' is not stable'};\n"
    "  const x = r2.left + r2.width / 2, y = r2.top + r2.height / 2;\n"
    "  let h = document.elementFromPoint(x, y);\n"
    "  while (h && h.shadowRoot) { const h2 = h.shadowRoot.elementFromPoint(x, y); if (!h2 || h2 === h) break; h = h2; "
    "}\n"
    "  if (!h) return {done: false, why: desc(e) + ' centre is outside the viewport'};\n"
    "  if (h !== e && !e.contains(h)) return {done: false, why: desc(e) + ' is covered by ' + desc(h)};\n"
    "  return {done: true, x, y}; }\n"
    "if (a.op === 'fill') { const t = e.tagName;\n"
    "  if (t === 'INPUT') { const ty = (e.type || 'text').toLowerCase();\n"
    "    if (['checkbox','radio','file','submit','button','reset','image','hidden'].includes(ty))\n"
    "      return {done: false, fatal: desc(e) + ' is an input of type ' + ty + ' and cannot be filled'};\n"
    "    if (e.readOnly) return {done: false, why: desc(e) + ' is read-only'};\n"
    "    e.focus();\n"
    "    if (['date','time','datetime-local','month','week','color','range'].includes(ty)) { e.value = a.value;\n"
    "      e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: "
    "true}));\n"
    "      return {done: true, direct: true}; }\n"
    "    e.select(); return {done: true}; }\n"
    "  if (t === 'TEXTAREA') { if (e.readOnly) return {done: false, why: desc(e) + ' is read-only'};\n"
    "    e.focus(); e.select(); return {done: true}; }\n"
    "  if (e.isContentEditable) { e.focus(); const r = document.createRange(); r.selectNodeContents(e);\n"
    "    const s = getSelection(); s.removeAllRanges(); s.addRange(r); return {done: true}; }\n"
    "  return {done: false, fatal: desc(e) + ' is not an input, textarea or contenteditable'}; }\n"
    "if (a.op === 'filled') {\n"
    "  if (a.value === '' && (e.value ?? e.textContent) !== '') { document.execCommand('delete');\n"
    "    if ('value' in e && e.value !== '') { e.value = ''; e.dispatchEvent(new Event('input', {bubbles: true})); }\n"
    "    else if (!('value' in e) && e.textContent !== '') { e.textContent = '';\n"
    "      e.dispatchEvent(new Event('input', {bubbles: true})); } }\n"
    "  e.dispatchEvent(new Event('change', {bubbles: true})); return {done: true}; }\n"
    "if (a.op === 'select') {\n"
    "  if (e.tagName !== 'SELECT') return {done: false, fatal: desc(e) + ' is not a <select>'};\n"
    "  const os = Array.from(e.options);\n"
    "  const o = os.find(o => o.value === a.value) || os.find(o => o.label.trim() === a.value.trim()) ||\n"
    "    os.find(o => norm(o.textContent) === norm(a.value));\n"
    "  if (!o) return {done: false, why: 'no option with value or label \"' + a.value + '\"'};\n"
    "  if (o.disabled) return {done: false, why: 'option \"' + a.value + '\" is disabled'};\n"
    "  o.selected = true;\n"
    "  e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true}));\n"
    "  return {done: true}; }\n"
    "return {done: false, fatal: 'unknown op ' + a.op};\n"
    "})";

#define SLICE_TICK_STR  "50" /* ms: in-page re-check without a DOM mutation */
#define SLICE_MAX_MS    2000 /* the longest one evaluate waits in the page */
#define SLICE_MARGIN_MS 150  /* a slice ends this long before the deadline, so its answer arrives in time */
#define SLICE_WAKE_MS   200  /* page-world slice when the isolated world also has something to look at */
#define COORD_MAX       1e7  /* CSS px: a click point farther out is not an answer */

/* The isolated-world poll: "(async (slice) => ...)" waits in the page until the helper is done, a
 * guard matches, a selector is bad, an action is impossible, or the slice (ms) runs out. It
 * re-checks (re-resolving selectors from scratch) on every DOM mutation and every SLICE_TICK_STR ms,
 * for changes no mutation announces such as a CSS transition ending. */
static const char ISO_HEAD[] = "(async (slice) => { const f = () => ";
static const char ISO_TAIL[] =
    ";\n"
    "const end = performance.now() + slice;\n"
    "for (;;) { const r = await f();\n"
    "  if (r.done || r.guard !== undefined || r.badsel !== undefined || r.fatal || performance.now() >= end)\n"
    "    return r;\n"
    "  await new Promise(res => { let t = 0; const mo = new MutationObserver(() => {\n"
    "      mo.disconnect(); clearTimeout(t); res(); });\n"
    "    mo.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});\n"
    "    t = setTimeout(() => { mo.disconnect(); res(); },\n"
    "                   Math.max(0, Math.min(" SLICE_TICK_STR ", end - performance.now()))); }); } })";

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
    bool once;        /* check_guards: look once, do not wait */
    char *iso;        /* isolated-world poll source, or NULL: nothing to look at there */
    char *main;       /* page-world poll source, or NULL: no JS guard and no predicate */
    struct buf call;  /* source + "(slice, wake)" of the evaluate under way */
};

static void poll_cleanup(struct poll *q)
{
    free(q->iso);
    free(q->main);
    buf_cleanup(&q->call);
}

/* Builds the sources for args = {op, sel, text, ...} (consumed) and pred (page-world predicate, may
 * be NULL). Returns 0 or CDP_ERR_NOMEM (message set); q is cleaned up on failure. */
static int poll_init(struct poll *q, struct cdp_page *p, const char *what, const char *verb, const char *sel,
                     cJSON *args, const char *pred)
{
    *q = (struct poll){.p = p, .what = what, .verb = verb, .sel = sel};
    buf_init(&q->call, 0);
    const char *op = str(args, "op");
    q->acts = op && strcmp(op, "none") != 0;
    bool ok = op != NULL;
    size_t nsel = 0, njs = 0;
    cJSON *gs = ok ? cJSON_AddArrayToObject(args, "guards") : NULL;
    ok = ok && gs;
    for (size_t i = 0; ok && i < p->nguards; i++) {
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
    struct buf b;
    buf_init(&b, 0);
    if (ok && (q->acts || nsel)) {
        add(&b, &ok, ISO_HEAD);
        add(&b, &ok, HELPER);
        add(&b, &ok, "(");
        add(&b, &ok, aj);
        add(&b, &ok, ")");
        add(&b, &ok, ISO_TAIL);
        q->iso = ok ? buf_take(&b) : NULL;
        ok = q->iso != NULL;
    }
    cJSON_free(aj);
    if (ok && (njs || pred)) {
        // JS guards and the predicate are inlined as source (no eval: a page's CSP does not block
        // them); each JS guard travels with its index.
        add(&b, &ok, MAIN_HEAD);
        bool first = true;
        for (size_t i = 0; ok && i < p->nguards; i++) {
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

/* The page's answer after a poll evaluate in world w: 0 (done or not: *ready), POLL_AGAIN when the
 * document changed under it, or an error that ends the call. */
#define POLL_AGAIN 1

static int look(struct poll *q, enum cdp__world w, int slice, bool wake, int64_t deadline, cJSON **ready, bool *woke,
                char *why, size_t whylen)
{
    struct cdp_page *p = q->p;
    *ready = NULL;
    *woke = false;
    buf_reset(&q->call);
    const char *src = w == CDP__WORLD_HELPER ? q->iso : q->main;
    if (buf_append_str(&q->call, src) != 0 ||
        (w == CDP__WORLD_HELPER ? buf_printf(&q->call, "(%d)", slice)
                                : buf_printf(&q->call, "(%d, %s)", slice, wake ? "true" : "false")) != 0) {
        cdp__seterr(p->err, "%s: out of memory", q->what);
        return CDP_ERR_NOMEM;
    }
    cJSON *res = NULL;
    int rc = cdp__evaluate(p, w, buf_str(&q->call), deadline, &res, q->what);
    if ((rc == CDP_ERR_JS || rc == CDP_ERR_PROTOCOL) && cdp__transient(p->err)) {
        snprintf(why, whylen, "the page was navigating");
        return POLL_AGAIN;
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
            cdp__seterr(p->err, "%s \"%s\": not a valid CSS selector (%s)", q->verb, q->sel, m ? m : "?");
            rc = CDP_ERR_ARG;
        } else if (guard_index(p, bs, false, &i)) {
            cdp__seterr(p->err, "%s: guard %zu \"%s\": not a valid CSS selector (%s)", q->what, i,
                        p->guards[i].selector, m ? m : "?");
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

static void pause_ms(struct cdp_page *p, int64_t until_us)
{
    (void)cdp__pump(p->b, until_us, NULL, NULL);
}

static int slice_ms(int64_t deadline)
{
    int64_t left_ms = (deadline - cdp__now_us()) / 1000 - SLICE_MARGIN_MS;
    return left_ms <= 0 ? 0 : left_ms > SLICE_MAX_MS ? SLICE_MAX_MS : (int)left_ms;
}

/* Polls until the call is done, a guard matches, or the deadline. Per round: (JS guards first,
 * once, when the isolated helper acts) the isolated world's look, then the page world's. On
 * success *done (if not NULL) gets the isolated helper's answer (caller frees; NULL when the
 * predicate decided). Cleans q up. */
static int poll_run(struct poll *q, int64_t start, int64_t deadline, cJSON **done)
{
    static const int delays_ms[] = {0, 20, 50, 100};
    struct cdp_page *p = q->p;
    if (done)
        *done = NULL;
    p->guard_hit = -1;
    char why[512] = "not tried yet";
    int rc = 0;
    unsigned again = 0;                 /* rounds in a row cut short by a navigation */
    bool js_first = q->main && q->acts; /* an action must not run when a JS guard already matches */
    for (;;) {
        int64_t round_start = cdp__now_us();
        int slice = slice_ms(deadline);
        cJSON *ready = NULL;
        bool woke = false, cut = false;
        if (js_first) {
            rc = look(q, CDP__WORLD_PAGE, 0, false, deadline, &ready, &woke, why, sizeof(why));
            cJSON_Delete(ready);
            ready = NULL;
            cut |= rc == POLL_AGAIN;
            js_first = rc != 0;
            if (rc < 0)
                break;
        }
        if (q->iso && !cut) {
            rc = look(q, CDP__WORLD_HELPER, q->main || q->once ? 0 : slice, false, deadline, &ready, &woke, why,
                      sizeof(why));
            cut |= rc == POLL_AGAIN;
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
            cut |= rc == POLL_AGAIN;
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
            return 0;
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
        if (p->b->gone || p->crashed || p->detached) {
            cdp__seterr(p->err, "%s: browser gone (%s)", q->what,
                        p->crashed ? "page crashed: Inspector.targetCrashed"
                                   : (p->detached ? "page detached" : p->b->gone_why));
            poll_cleanup(q);
            return CDP_ERR_GONE;
        }
    }
    if (rc == CDP_ERR_TIMEOUT)
        cdp__seterr(p->err, "%s: timeout after %lld ms: %s", q->what, (long long)((deadline - start) / 1000), why);
    poll_cleanup(q);
    return rc;
}

/* poll_init + poll_run. */
static int poll_until(struct cdp_page *p, const char *what, const char *verb, const char *sel, cJSON *args,
                      const char *pred, int64_t start, int64_t deadline, cJSON **done)
{
    if (done)
        *done = NULL;
    if (!args) {
        cdp__seterr(p->err, "%s: out of memory", what);
        return CDP_ERR_NOMEM;
    }
    struct poll q;
    int rc = poll_init(&q, p, what, verb, sel, args, pred);
    return rc ? rc : poll_run(&q, start, deadline, done);
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
    ok = sj && buf_printf(&b,
                          "((gs) => {\n" JS_BADSEL "for (let k = 0; k < gs.length; k++) { const m = badsel(gs[k][1]);\n"
                          "  if (m !== null) return {badsel: gs[k][0], msg: m}; }\n"
                          "return {}; })(%s)",
                          sj) == 0;
    cJSON_free(sj);
    if (!ok) {
        buf_cleanup(&b);
        cdp__seterr(p->err, "guards: out of memory");
        return CDP_ERR_NOMEM;
    }
    cJSON *res = NULL;
    int rc = cdp__evaluate(p, CDP__WORLD_HELPER, buf_str(&b), deadline, &res, "guards");
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
        cdp__seterr(p->err, "guards: guard %zu \"%s\": not a valid CSS selector (%s)", i, p->guards[i].selector,
                    m ? m : "?");
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

static void name_action(char *out, size_t len, const char *verb, const char *sel, const char *text)
{
    if (text)
        snprintf(out, len, "%s %s (text \"%s\")", verb, sel, text);
    else
        snprintf(out, len, "%s %s", verb, sel);
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
    name_action(what, sizeof(what), verb, selector, text);
    cJSON *a = args_new("state", selector, text);
    cJSON_AddStringToObject(a, "state", names[state]);
    return poll_until(p, what, verb, selector, a, NULL, start, deadline, NULL);
}

int cdp_page_wait_function(struct cdp_page *p, const char *expression, int timeout_ms)
{
    if (!p || !expression)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    /* the predicate runs in the page's world; the isolated one looks at selector guards */
    return poll_until(p, "wait_function", "wait_function", NULL, args_new("none", NULL, NULL), expression, start,
                      deadline, NULL);
}

int cdp_page_wait_url(struct cdp_page *p, const char *substring, int timeout_ms)
{
    if (!p || !substring)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    cJSON *a = args_new("url", NULL, NULL);
    cJSON_AddStringToObject(a, "value", substring);
    char what[300];
    snprintf(what, sizeof(what), "wait_url %s", substring);
    return poll_until(p, what, "wait_url", NULL, a, NULL, start, deadline, NULL);
}

int cdp_page_check_guards(struct cdp_page *p, int timeout_ms)
{
    if (!p)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    cJSON *a = args_new("none", NULL, NULL);
    struct poll q;
    int rc = a ? poll_init(&q, p, "check_guards", "check_guards", NULL, a, NULL) : CDP_ERR_NOMEM;
    if (rc) {
        cdp__seterr(p->err, "check_guards: out of memory");
        return rc;
    }
    q.once = true;
    return poll_run(&q, start, deadline, NULL);
}

/* Fire-and-forget the first events and wait for the last reply: a session's
 * messages are handled in order, so one round trip covers all of them. */
static int mouse_click(struct cdp_page *p, double x, double y, int64_t deadline)
{
    static const char *const types[] = {"mouseMoved", "mousePressed", "mouseReleased"};
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
        if (i < 2)
            cdp__send_async(p->b, p->session_id, "Input.dispatchMouseEvent", a);
        else
            return cdp__page_call(p, "Input.dispatchMouseEvent", a, deadline, NULL);
    }
    return 0;
}

int cdp_page_click(struct cdp_page *p, const char *selector, const char *text, int timeout_ms)
{
    if (!p || !selector || !*selector)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    char what[300];
    name_action(what, sizeof(what), "click", selector, text);
    slow_mo(p);
    cJSON *r = NULL;
    int rc = poll_until(p, what, "click", selector, args_new("click", selector, text), NULL, start, deadline, &r);
    if (rc)
        return rc;
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(r, "x"), *y = cJSON_GetObjectItemCaseSensitive(r, "y");
    bool ok =
        cJSON_IsNumber(x) && cJSON_IsNumber(y) && fabs(x->valuedouble) < COORD_MAX && fabs(y->valuedouble) < COORD_MAX;
    double cx = ok ? x->valuedouble : 0, cy = ok ? y->valuedouble : 0;
    cJSON_Delete(r);
    if (!ok) {
        cdp__seterr(p->err, "%s: invalid answer from the page (no click point)", what);
        return CDP_ERR_PROTOCOL;
    }
    return mouse_click(p, cx, cy, deadline);
}

int cdp_page_fill(struct cdp_page *p, const char *selector, const char *text, const char *value, int timeout_ms)
{
    if (!p || !selector || !*selector || !value)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    char what[300];
    name_action(what, sizeof(what), "fill", selector, text);
    slow_mo(p);
    cJSON *a = args_new("fill", selector, text);
    cJSON_AddStringToObject(a, "value", value);
    cJSON *r = NULL;
    int rc = poll_until(p, what, "fill", selector, a, NULL, start, deadline, &r);
    if (rc)
        return rc;
    bool direct = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "direct"));
    cJSON_Delete(r);
    if (direct)
        return 0;
    if (*value) {
        /* Input.insertText replaces the selection like typing would: input
         * events fire and frameworks' value trackers see the change. */
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "text", value);
        if ((rc = cdp__page_call(p, "Input.insertText", t, deadline, NULL)))
            return rc;
    }
    a = args_new("filled", selector, text);
    cJSON_AddStringToObject(a, "value", value);
    return poll_until(p, what, "fill", selector, a, NULL, start, deadline, NULL);
}

int cdp_page_select(struct cdp_page *p, const char *selector, const char *text, const char *value, int timeout_ms)
{
    if (!p || !selector || !*selector || !value)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    char what[300];
    name_action(what, sizeof(what), "select", selector, text);
    slow_mo(p);
    cJSON *a = args_new("select", selector, text);
    cJSON_AddStringToObject(a, "value", value);
    return poll_until(p, what, "select", selector, a, NULL, start, deadline, NULL);
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
        name_action(what, sizeof(what), "press: focus", selector, NULL);
        int rc = poll_until(p, what, "press", selector, args_new("focus", selector, NULL), NULL, start, deadline, NULL);
        if (rc)
            return rc;
    }
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
            cdp__send_async(p->b, p->session_id, "Input.dispatchKeyEvent", a);
        } else {
            int rc = cdp__page_call(p, "Input.dispatchKeyEvent", a, deadline, NULL);
            if (rc)
                return rc;
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
    name_action(what, sizeof(what), "text", selector, text);
    cJSON *r = NULL;
    int rc = poll_until(p, what, "text", selector, args_new("text", selector, text), NULL, start, deadline, &r);
    if (rc)
        return rc;
    const char *t = str(r, "text");
    *out = strdup(t ? t : "");
    cJSON_Delete(r);
    return *out ? 0 : CDP_ERR_NOMEM;
}
