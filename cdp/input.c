/*
 * input.c - element actions and waits, Playwright style.
 *
 * Every action is a poll: one Runtime.evaluate of a small helper that first
 * checks the page's guards (error detectors), then the action's condition
 * (and, for click, the full actionability check: attached, visible, enabled,
 * scrolled into view, stable over two animation frames, hit test at the
 * centre lands on the element). Not ready: the same evaluate keeps waiting
 * inside the page, re-checking (and re-resolving the selector from scratch)
 * on every DOM mutation and every 50 ms, for a slice of up to 2 s of the
 * deadline; then C evaluates again. Ready: the real input (mouse,
 * Input.insertText, keys) goes through CDP. Slices from C survive
 * navigations: a wait that dies with its execution context is retried.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp_internal.h"

/* The helper: (a = {op, sel, text, state, value, guards}, gjs = JS guard
 * functions by index, pred = user predicate) -> {guard, text} | {done, why,
 * fatal, x, y, text}. */
static const char HELPER[] =
    "(async (a, gjs, pred) => {\n"
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
    "const gs = a.guards || [];\n"
    "for (let i = 0; i < gs.length; i++) {\n"
    "  if (gs[i].sel) { const e = all(gs[i].sel, gs[i].text).find(vis);\n"
    "    if (e) return {guard: i, text: (e.innerText || e.textContent || '').trim().slice(0, 500)}; }\n"
    "  else { const v = await gjs[i](); if (v) return {guard: i, text: typeof v === 'string' ? v : ''}; } }\n"
    "if (a.op === 'none') return {done: true};\n"
    "if (a.op === 'pred') return {done: !!(await pred()), why: 'expression is still falsy'};\n"
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

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Messages that mean "the document changed under the poll": retry. */
static bool transient(const char *msg)
{
    static const char *const pats[] = {"Execution context was destroyed",      "Cannot find context with specified id",
                                       "Inspected target navigated or closed", "Cannot find default execution context",
                                       "Execution context is not available",   "Promise was collected"};
    for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
        if (strstr(msg, pats[i]))
            return true;
    return false;
}

struct sbuf {
    char *s;
    size_t len, cap;
    bool failed;
};

static void sb_add(struct sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *m = realloc(b->s, cap);
        if (!m) {
            b->failed = true;
            return;
        }
        b->s = m;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

#define SLICE_TICK_MS   50 /* in-page re-check without a DOM mutation */
#define SLICE_TICK_STR  "50"
#define SLICE_MAX_MS    2000 /* the longest one evaluate waits in the page */
#define SLICE_MARGIN_MS 150  /* a slice ends this long before the deadline, so its answer arrives in time */

/* "(async (slice) => { ...(HELPER)(ARGS, [guard fns], pred)... })": a function of the in-page
 * waiting slice in ms; args is consumed. NULL on OOM. */
static char *build_poll(const struct cdp_page *p, cJSON *args, const char *pred)
{
    cJSON *gs = cJSON_AddArrayToObject(args, "guards");
    for (size_t i = 0; gs && i < p->nguards; i++) {
        cJSON *g = cJSON_CreateObject();
        if (p->guards[i].selector) {
            cJSON_AddStringToObject(g, "sel", p->guards[i].selector);
            if (p->guards[i].text)
                cJSON_AddStringToObject(g, "text", p->guards[i].text);
        }
        cJSON_AddItemToArray(gs, g);
    }
    char *aj = cJSON_PrintUnformatted(args);
    cJSON_Delete(args);
    if (!aj)
        return NULL;
    struct sbuf b = {0};
    // In-page waiting: one evaluate re-checks inside the page whenever the DOM changes (and every
    // SLICE_TICK_MS for changes no mutation announces, such as a CSS transition ending) until the
    // condition holds, a guard matches, or the slice given as argument runs out. The C loop then
    // polls again, so a navigation that destroys the context costs one retry, not the wait.
    sb_add(&b, "(async (slice) => { const f = () => ");
    sb_add(&b, HELPER);
    sb_add(&b, "(");
    sb_add(&b, aj);
    sb_add(&b, ", [");
    for (size_t i = 0; i < p->nguards; i++) {
        sb_add(&b, i ? ", " : "");
        if (p->guards[i].selector) {
            sb_add(&b, "null");
        } else {
            sb_add(&b, "async () => (\n");
            sb_add(&b, p->guards[i].js);
            sb_add(&b, "\n)");
        }
    }
    sb_add(&b, "], ");
    if (pred) {
        sb_add(&b, "async () => (\n");
        sb_add(&b, pred);
        sb_add(&b, "\n)");
    } else {
        sb_add(&b, "null");
    }
    sb_add(&b, ");\n"
               "const end = performance.now() + slice;\n"
               "for (;;) { const r = await f();\n"
               "  if (r.done || r.guard !== undefined || r.fatal || performance.now() >= end) return r;\n"
               "  await new Promise(res => { let t = 0; const mo = new MutationObserver(() => {\n"
               "      mo.disconnect(); clearTimeout(t); res(); });\n"
               "    mo.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});\n"
               "    t = setTimeout(() => { mo.disconnect(); res(); },\n"
               "                   Math.max(0, Math.min(" SLICE_TICK_STR ", end - performance.now()))); }); } })");
    cJSON_free(aj);
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static void pause_ms(struct cdp_page *p, int64_t until_us)
{
    (void)cdp__pump(p->b, until_us, NULL, NULL);
}

/* Polls the helper with args (consumed) until it reports done, a guard
 * matches, or the deadline. On success *done (if not NULL) gets the helper's
 * reply (caller frees). `what` names the action in error messages. */
static int poll_until(struct cdp_page *p, const char *what, cJSON *args, const char *pred, int64_t start,
                      int64_t deadline, cJSON **done)
{
    static const int delays_ms[] = {0, 20, 50, 100};
    if (done)
        *done = NULL;
    p->guard_hit = -1;
    char *expr = args ? build_poll(p, args, pred) : NULL;
    if (!expr) {
        cdp__seterr(p->err, "%s: out of memory", what);
        return CDP_ERR_NOMEM;
    }
    char why[512] = "not tried yet";
    int rc;
    size_t expr_len = strlen(expr);
    char *call = malloc(expr_len + 32);
    if (!call) {
        free(expr);
        free(call);
        cdp__seterr(p->err, "%s: out of memory", what);
        return CDP_ERR_NOMEM;
    }
    for (unsigned i = 0;; i++) {
        cJSON *res = NULL;
        int64_t left_ms = (deadline - cdp__now_us()) / 1000 - SLICE_MARGIN_MS;
        int slice = left_ms <= 0 ? 0 : left_ms > SLICE_MAX_MS ? SLICE_MAX_MS : (int)left_ms;
        memcpy(call, expr, expr_len);
        snprintf(call + expr_len, 32, "(%d)", slice);
        rc = cdp__evaluate(p, call, deadline, &res, what);
        if (rc == CDP_ERR_TIMEOUT)
            break;
        if ((rc == CDP_ERR_JS || rc == CDP_ERR_PROTOCOL) && transient(p->err)) {
            snprintf(why, sizeof(why), "the page was navigating");
        } else if (rc) {
            free(expr);
            free(call);
            return rc;
        } else {
            const cJSON *g = cJSON_GetObjectItemCaseSensitive(res, "guard");
            if (cJSON_IsNumber(g)) {
                p->guard_hit = (int)g->valuedouble;
                const char *t = str(res, "text");
                const struct cdp_guard *gd = &p->guards[p->guard_hit];
                if (t && *t)
                    cdp__seterr(p->err, "%s", t);
                else
                    cdp__seterr(p->err, "error detector %d matched (%s)", p->guard_hit,
                                gd->selector ? gd->selector : gd->js);
                cJSON_Delete(res);
                free(expr);
                free(call);
                return CDP_ERR_GUARD;
            }
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "done"))) {
                free(expr);
                free(call);
                if (done)
                    *done = res;
                else
                    cJSON_Delete(res);
                return 0;
            }
            const char *fatal = str(res, "fatal");
            if (fatal) {
                cdp__seterr(p->err, "%s: %s", what, fatal);
                cJSON_Delete(res);
                free(expr);
                free(call);
                return CDP_ERR_ARG;
            }
            const char *w = str(res, "why");
            snprintf(why, sizeof(why), "%s", w ? w : "not ready");
            cJSON_Delete(res);
        }
        int64_t now = cdp__now_us();
        if (now >= deadline) {
            rc = CDP_ERR_TIMEOUT;
            break;
        }
        int d = delays_ms[i < 3 ? i + 1 : 3];
        int64_t until = now + (int64_t)d * 1000;
        pause_ms(p, until < deadline ? until : deadline);
        if (p->b->gone || p->crashed || p->detached) {
            cdp__seterr(p->err, "%s: browser gone (%s)", what,
                        p->crashed ? "page crashed: Inspector.targetCrashed"
                                   : (p->detached ? "page detached" : p->b->gone_why));
            free(expr);
            free(call);
            return CDP_ERR_GONE;
        }
    }
    free(expr);
    free(call);
    cdp__seterr(p->err, "%s: timeout after %lld ms: %s", what, (long long)((deadline - start) / 1000), why);
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
    return poll_until(p, what, a, NULL, start, deadline, NULL);
}

int cdp_page_wait_function(struct cdp_page *p, const char *expression, int timeout_ms)
{
    if (!p || !expression)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    return poll_until(p, "wait_function", args_new("pred", NULL, NULL), expression, start, deadline, NULL);
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
    return poll_until(p, what, a, NULL, start, deadline, NULL);
}

int cdp_page_check_guards(struct cdp_page *p, int timeout_ms)
{
    if (!p)
        return CDP_ERR_ARG;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    return poll_until(p, "check_guards", args_new("none", NULL, NULL), NULL, start, deadline, NULL);
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
    int rc = poll_until(p, what, args_new("click", selector, text), NULL, start, deadline, &r);
    if (rc)
        return rc;
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(r, "x"), *y = cJSON_GetObjectItemCaseSensitive(r, "y");
    double cx = cJSON_IsNumber(x) ? x->valuedouble : 0, cy = cJSON_IsNumber(y) ? y->valuedouble : 0;
    cJSON_Delete(r);
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
    int rc = poll_until(p, what, a, NULL, start, deadline, &r);
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
    return poll_until(p, what, a, NULL, start, deadline, NULL);
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
    return poll_until(p, what, a, NULL, start, deadline, NULL);
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
        int rc = poll_until(p, what, args_new("focus", selector, NULL), NULL, start, deadline, NULL);
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
    int rc = poll_until(p, what, args_new("text", selector, text), NULL, start, deadline, &r);
    if (rc)
        return rc;
    const char *t = str(r, "text");
    *out = strdup(t ? t : "");
    cJSON_Delete(r);
    return *out ? 0 : CDP_ERR_NOMEM;
}
