/*
 * world.c - where JavaScript runs. Expressions written by flow authors
 * (cdp_page_evaluate, wait_function predicates, JS guards) run in the page's
 * own (main) world, where its state lives (window variables). Our own helpers
 * (waits, actionability, selector guards, fill/select/click, text, HTML) run
 * in an isolated world named "gspbot", made with Page.createIsolatedWorld on
 * the main frame: it shares the DOM but has its own globals and prototypes,
 * so a page script that overrides getBoundingClientRect, querySelectorAll,
 * Array.prototype.find or JSON.stringify in its world cannot steer them.
 * A world lives as long as its document: session.c forgets it on
 * Runtime.executionContextDestroyed / executionContextsCleared, and the next
 * helper call makes a new one. An answer saying Chromium no longer knows the
 * context (its event not seen yet) forgets it, makes a new one and retries once.
 * The helpers themselves are a library (js/helper.js, embedded at build time)
 * installed once per isolated world as globalThis.__gspbot: the first call in
 * a world carries the library's source and installs it in the same evaluate;
 * a call that finds it missing all the same installs it and asks again.
 *
 * Frame handles: the isolated world is made on the bound frame (frameId) in
 * the session hosting it, and the page's own world of a frame is its
 * main-world context, which session.c remembers per frame from
 * Runtime.executionContextCreated (isDefault).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp_helper_js.h"
#include "cdp_internal.h"

#define CTX_WAIT_MS 1000 /* longest wait for a frame's main-world context to be announced */

bool cdp__transient(const char *msg)
{
    static const char *const pats[] = {
        "Execution context was destroyed",
        "Cannot find context with specified id",
        "uniqueContextId not found",
        "Inspected target navigated or closed",
        "Cannot find default execution context",
        "Execution context is not available",
        "Promise was collected",
        "Could not create isolated world",
        "No frame for given id found",
        "frame was detached",
        "has no JavaScript context yet",
        "ession with given id not found",
        "Could not find node with given id",
        "Frame with the given id was not found",
    };
    for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
        if (strstr(msg, pats[i]))
            return true;
    return false;
}

/* The context is gone although no event said so yet. */
static bool stale_context(const char *msg)
{
    return strstr(msg, "Cannot find context with specified id") || strstr(msg, "uniqueContextId not found");
}

/* Page.createIsolatedWorld on p's frame (the main frame of a page). The
 * Runtime.executionContextCreated event for it arrives before the reply (one session, in order)
 * and gives session.c its uniqueId. */
static int world_make(struct cdp_page *p, int64_t deadline, const char *what)
{
    cJSON *a = cJSON_CreateObject();
    if (!a || !cJSON_AddStringToObject(a, "frameId", p->frame_id) ||
        !cJSON_AddStringToObject(a, "worldName", CDP__WORLD_NAME) ||
        !cJSON_AddBoolToObject(a, "grantUniveralAccess", false)) {
        cJSON_Delete(a);
        cdp__seterr(p->err, "%s: out of memory", what);
        return CDP_ERR_NOMEM;
    }
    cJSON *r = NULL;
    int rc = cdp__page_call(p, "Page.createIsolatedWorld", a, deadline, &r);
    if (rc)
        return rc;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "executionContextId");
    double v = cJSON_IsNumber(id) ? id->valuedouble : 0;
    cJSON_Delete(r);
    if (!(v >= 1 && v <= INT_MAX && v == floor(v))) {
        cdp__seterr(p->err, "%s: Page.createIsolatedWorld: reply without a valid executionContextId", what);
        return CDP_ERR_PROTOCOL;
    }
    if (p->world_ctx != (int)v) { /* the event was not seen: the numeric id alone */
        p->world_ctx = (int)v;
        p->world_uid[0] = '\0';
    }
    p->world_lib = false; /* a new world: no library yet */
    return 0;
}

/* Runtime.RemoteObject obtained with returnByValue -> cJSON. */
static cJSON *remote_value(cJSON *ro)
{
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(ro, "value");
    if (v)
        return v;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(ro, "unserializableValue"); /* NaN, -0, 12n */
    if (cJSON_IsString(u))
        return cJSON_CreateString(u->valuestring);
    return cJSON_CreateNull();
}

static cJSON *evaluate_params(const struct cdp_page *p, enum cdp__world world, const char *expression,
                              const struct cdp__ctx *main)
{
    cJSON *a = cJSON_CreateObject();
    bool ok = a && cJSON_AddStringToObject(a, "expression", expression) &&
              cJSON_AddBoolToObject(a, "returnByValue", true) && cJSON_AddBoolToObject(a, "awaitPromise", true);
    if (ok && world == CDP__WORLD_HELPER)
        ok = p->world_uid[0] ? cJSON_AddStringToObject(a, "uniqueContextId", p->world_uid) != NULL
                             : cJSON_AddNumberToObject(a, "contextId", p->world_ctx) != NULL;
    else if (ok && main) /* a frame's own world; a page's is the session's default */
        ok = main->uid[0] ? cJSON_AddStringToObject(a, "uniqueContextId", main->uid) != NULL
                          : cJSON_AddNumberToObject(a, "contextId", main->id) != NULL;
    if (!ok) {
        cJSON_Delete(a);
        return NULL;
    }
    return a;
}

struct ctx_wait {
    const struct cdp_page *p;
};

static bool ctx_known(void *arg)
{
    const struct cdp_page *p = ((struct ctx_wait *)arg)->p;
    return !p->bound || cdp__ctx_find(p->top, p->session_id, p->frame_id) != NULL || cdp__page_gone_why(p);
}

/* The main-world context of a bound frame handle, waiting a little for its announcement (a
 * document that just committed). NULL with p->err set ("...has no JavaScript context yet",
 * transient) when it does not come. */
static const struct cdp__ctx *frame_main_ctx(struct cdp_page *p, int64_t deadline, const char *what, int *rc)
{
    const struct cdp__ctx *c = cdp__ctx_find(p->top, p->session_id, p->frame_id);
    if (c)
        return c;
    int64_t until = cdp__now_us() + (int64_t)CTX_WAIT_MS * 1000;
    struct ctx_wait w = {.p = p};
    *rc = cdp__pump(p->b, until < deadline ? until : deadline, ctx_known, &w);
    c = p->bound ? cdp__ctx_find(p->top, p->session_id, p->frame_id) : NULL;
    if (c)
        return c;
    if (*rc == CDP_ERR_STOPPED)
        cdp__seterr(p->err, "%s: stopped (interrupted)", what);
    else if (*rc == CDP_ERR_GONE)
        cdp__seterr(p->err, "%s: browser gone (%s)", what, p->b->gone_why);
    else {
        cdp__seterr(p->err, "%s: the frame has no JavaScript context yet", what);
        *rc = CDP_ERR_PROTOCOL;
    }
    return NULL;
}

int cdp__evaluate(struct cdp_page *p, enum cdp__world world, const char *expression, int64_t deadline, cJSON **result,
                  const char *what)
{
    if (result)
        *result = NULL;
    cJSON *r = NULL;
    int rc;
    if (p->parent && !p->binding && (rc = cdp__frame_bind(p, deadline, what)))
        return rc;
    for (int attempt = 0;; attempt++) {
        if (world == CDP__WORLD_HELPER && !p->world_ctx && (rc = world_make(p, deadline, what)))
            return rc;
        const struct cdp__ctx *main = NULL;
        if (world == CDP__WORLD_PAGE && p->parent && !(main = frame_main_ctx(p, deadline, what, &rc)))
            return rc;
        cJSON *a = evaluate_params(p, world, expression, main);
        if (!a) {
            cdp__seterr(p->err, "%s: out of memory", what);
            return CDP_ERR_NOMEM;
        }
        rc = cdp__page_call(p, "Runtime.evaluate", a, deadline, &r);
        if (rc == CDP_ERR_PROTOCOL && world == CDP__WORLD_HELPER && stale_context(p->err)) {
            cdp__world_forget(p);
            if (attempt == 0)
                continue;
        }
        break;
    }
    if (rc) /* p->err names the method: "Runtime.evaluate: browser gone (...)" */
        return rc;
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(r, "exceptionDetails");
    if (ex) {
        char text[CDP__ERRLEN - 64];
        cdp__exception_text(ex, text, sizeof(text));
        cdp__seterr(p->err, "%s: %s", what, text);
        cJSON_Delete(r);
        return CDP_ERR_JS;
    }
    if (result) {
        *result = remote_value(cJSON_GetObjectItemCaseSensitive(r, "result"));
        if (!*result) {
            cJSON_Delete(r);
            cdp__seterr(p->err, "%s: out of memory", what);
            return CDP_ERR_NOMEM;
        }
    }
    cJSON_Delete(r);
    return 0;
}

/* The answer of a call that found no library in the world. */
static bool no_lib(const cJSON *v)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "__nolib"));
}

int cdp__world_ensure(struct cdp_page *p, int64_t deadline, const char *what)
{
    int rc;
    if (p->parent && !p->binding && (rc = cdp__frame_bind(p, deadline, what)))
        return rc;
    return p->world_ctx ? 0 : world_make(p, deadline, what);
}

/* The expression for call: with the library's source inline while the world is not known to hold
 * it (installed by the same evaluate: one round trip), else the short form. */
static char *helper_expression(const char *call, bool install)
{
    static const char ihead[] = "(globalThis.__gspbot || (globalThis.__gspbot = (\n";
    static const char imid[] = "\n))).";
    static const char head[] = "(globalThis.__gspbot ? globalThis.__gspbot.";
    static const char tail[] = " : ({__nolib: true}))";
    size_t n = install ? sizeof(ihead) + sizeof(cdp__helper_js) + sizeof(imid) + strlen(call)
                       : sizeof(head) + strlen(call) + sizeof(tail);
    char *src = malloc(n);
    if (!src)
        return NULL;
    if (install)
        snprintf(src, n, "%s%s%s%s", ihead, cdp__helper_js, imid, call);
    else
        snprintf(src, n, "%s%s%s", head, call, tail);
    return src;
}

int cdp__helper(struct cdp_page *p, const char *call, int64_t deadline, cJSON **result, const char *what)
{
    if (result)
        *result = NULL;
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        /* the world may be new (a navigation): make it first, so the flag below is its own */
        if ((rc = cdp__world_ensure(p, deadline, what)))
            return rc;
        char *src = helper_expression(call, !p->world_lib);
        if (!src) {
            cdp__seterr(p->err, "%s: out of memory", what);
            return CDP_ERR_NOMEM;
        }
        cJSON *v = NULL;
        rc = cdp__evaluate(p, CDP__WORLD_HELPER, src, deadline, &v, what);
        free(src);
        if (rc == 0 && no_lib(v)) { /* a world we took for another: install and ask again */
            cJSON_Delete(v);
            p->world_lib = false;
            continue;
        }
        if (rc == 0)
            p->world_lib = true;
        if (result)
            *result = v;
        else
            cJSON_Delete(v);
        return rc;
    }
    cdp__seterr(p->err, "%s: the helper library does not stay installed", what);
    return CDP_ERR_PROTOCOL;
}

int cdp__helper_ready(struct cdp_page *p, int64_t deadline, const char *what)
{
    if (p->world_ctx && p->world_lib && (!p->parent || cdp__frame_valid(p)))
        return 0;
    cJSON *v = NULL;
    int rc = cdp__helper(p, "desc(document.documentElement)", deadline, &v, what);
    cJSON_Delete(v);
    return rc;
}
