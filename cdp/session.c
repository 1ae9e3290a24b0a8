/*
 * session.c - pages: an isolated browser context with one target, attached
 * over a flattened session (Target.attachToTarget flatten=true, so page
 * calls are plain messages carrying "sessionId"). Routes events to their
 * page and keeps the state they feed: main-frame load events and document
 * statuses per loaderId (for navigate), crashes, dialogs (dismissed at once,
 * from the event itself, because a dialog blocks the page's JavaScript),
 * console errors and uncaught exceptions, the execution context of our
 * isolated world (world.c) and the network requests in flight (for
 * cdp_page_wait_settled). Also the page's guards and log.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cdp_internal.h"

#define TEARDOWN_MS 2000 /* per call while closing a page */

static struct cdp_page *page_by_session(struct cdp_browser *b, const char *sid)
{
    for (struct cdp_page *p = b->pages; p; p = p->next)
        if (strcmp(p->session_id, sid) == 0)
            return p;
    return NULL;
}

static struct cdp_page *page_by_target(struct cdp_browser *b, const char *tid)
{
    for (struct cdp_page *p = b->pages; p; p = p->next)
        if (strcmp(p->target_id, tid) == 0)
            return p;
    return NULL;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void log_push(struct cdp_page *p, enum cdp_log_kind kind, const char *text)
{
    if (p->log_n >= CDP__LOG_MAX) {
        p->log_dropped++;
        return;
    }
    if (!p->log) {
        p->log = calloc(CDP__LOG_MAX, sizeof(*p->log));
        if (!p->log) {
            p->log_dropped++;
            return;
        }
    }
    size_t n = strnlen(text, CDP__LOG_TEXT - 1);
    char *t = malloc(n + 1);
    if (!t) {
        p->log_dropped++;
        return;
    }
    memcpy(t, text, n);
    t[n] = '\0';
    p->log[p->log_n].kind = kind;
    p->log[p->log_n].text = t;
    p->log_n++;
}

void cdp__page_lost(struct cdp_page *p, bool crashed)
{
    if (crashed)
        p->crashed = true;
    else
        p->detached = true;
    if (p->b->wait_page == p)
        p->b->wait_aborted = true;
}

/* Text of a Runtime.RemoteObject for logs. */
static void remote_text(const cJSON *ro, char *out, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ro, "value");
    if (cJSON_IsString(v)) {
        snprintf(out, len, "%s", v->valuestring);
        return;
    }
    if (v) {
        char *t = cJSON_PrintUnformatted(v);
        snprintf(out, len, "%s", t ? t : "?");
        cJSON_free(t);
        return;
    }
    const char *d = str(ro, "description");
    if (!d)
        d = str(ro, "unserializableValue");
    if (!d)
        d = str(ro, "type");
    snprintf(out, len, "%s", d ? d : "?");
}

static void on_console(struct cdp_page *p, const cJSON *params)
{
    const char *type = str(params, "type");
    if (!type || (strcmp(type, "error") != 0 && strcmp(type, "assert") != 0))
        return;
    char text[CDP__LOG_TEXT] = "";
    size_t used = 0;
    const cJSON *arg;
    cJSON_ArrayForEach(arg, cJSON_GetObjectItemCaseSensitive(params, "args"))
    {
        char one[CDP__LOG_TEXT];
        remote_text(arg, one, sizeof(one));
        int n = snprintf(text + used, sizeof(text) - used, "%s%s", used ? " " : "", one);
        if (n < 0 || (size_t)n >= sizeof(text) - used)
            break;
        used += (size_t)n;
    }
    log_push(p, CDP_LOG_CONSOLE_ERROR, text);
}

/* The text of exceptionDetails: the exception's description ("Error: boom\n
 * at ...") or, failing that, its text ("Uncaught"). */
void cdp__exception_text(const cJSON *details, char *out, size_t len)
{
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(details, "exception");
    const char *d = ex ? str(ex, "description") : NULL;
    if (d) {
        snprintf(out, len, "%s", d);
        return;
    }
    if (ex && cJSON_GetObjectItemCaseSensitive(ex, "value")) {
        char v[512];
        remote_text(ex, v, sizeof(v));
        snprintf(out, len, "Uncaught %s", v);
        return;
    }
    const char *t = str(details, "text");
    snprintf(out, len, "%s", t ? t : "exception");
}

static void on_exception(struct cdp_page *p, const cJSON *params)
{
    char text[CDP__LOG_TEXT];
    cdp__exception_text(cJSON_GetObjectItemCaseSensitive(params, "exceptionDetails"), text, sizeof(text));
    log_push(p, CDP_LOG_EXCEPTION, text);
}

static void on_dialog(struct cdp_page *p, const cJSON *params)
{
    const char *type = str(params, "type");
    const char *msg = str(params, "message");
    /* Dismiss, except beforeunload: dismissing that would cancel our navigation. */
    bool accept = type && strcmp(type, "beforeunload") == 0;
    cJSON *a = cJSON_CreateObject();
    if (a)
        cJSON_AddBoolToObject(a, "accept", accept);
    cdp__send_async(p->b, p->session_id, "Page.handleJavaScriptDialog", a);
    char text[CDP__LOG_TEXT];
    snprintf(text, sizeof(text), "%s: %s", type ? type : "dialog", msg ? msg : "");
    log_push(p, CDP_LOG_DIALOG, text);
}

static void on_log_entry(struct cdp_page *p, const cJSON *params)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(params, "entry");
    const char *level = str(e, "level");
    if (!level || strcmp(level, "error") != 0)
        return;
    const char *t = str(e, "text"), *url = str(e, "url");
    char text[CDP__LOG_TEXT];
    snprintf(text, sizeof(text), "%s%s%s", t ? t : "", url ? " " : "", url ? url : "");
    log_push(p, CDP_LOG_CONSOLE_ERROR, text);
}

static void on_lifecycle(struct cdp_page *p, const cJSON *params)
{
    const char *name = str(params, "name"), *frame = str(params, "frameId"), *loader = str(params, "loaderId");
    if (!name || !frame || !loader || strcmp(name, "load") != 0 || strcmp(frame, p->target_id) != 0)
        return;
    snprintf(p->loads[p->loads_n++ % CDP__RING], sizeof(p->loads[0]), "%s", loader);
}

static void on_response(struct cdp_page *p, const cJSON *params)
{
    const char *type = str(params, "type"), *frame = str(params, "frameId"), *loader = str(params, "loaderId");
    if (!type || !frame || !loader || strcmp(type, "Document") != 0 || strcmp(frame, p->target_id) != 0)
        return;
    const cJSON *status =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(params, "response"), "status");
    struct cdp__loader_status *d = &p->docs[p->docs_n++ % CDP__RING];
    snprintf(d->loader, sizeof(d->loader), "%s", loader);
    d->status = cJSON_IsNumber(status) ? (int)status->valuedouble : 0;
}

void cdp__world_forget(struct cdp_page *p)
{
    p->world_ctx = 0;
    p->world_uid[0] = '\0';
}

/* Our isolated world of the main frame was made (Page.createIsolatedWorld, world.c). */
static void on_context_created(struct cdp_page *p, const cJSON *params)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(params, "context");
    const char *name = str(c, "name"), *uid = str(c, "uniqueId");
    const char *frame = str(cJSON_GetObjectItemCaseSensitive(c, "auxData"), "frameId");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
    if (!name || !frame || !cJSON_IsNumber(id) || strcmp(name, CDP__WORLD_NAME) != 0 ||
        strcmp(frame, p->target_id) != 0 || !(id->valuedouble >= 1 && id->valuedouble <= INT_MAX))
        return;
    p->world_ctx = (int)id->valuedouble;
    if (uid && strlen(uid) < sizeof(p->world_uid))
        memcpy(p->world_uid, uid, strlen(uid) + 1);
    else
        p->world_uid[0] = '\0';
}

static void on_context_destroyed(struct cdp_page *p, const cJSON *params)
{
    const char *uid = str(params, "executionContextUniqueId");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(params, "executionContextId");
    if (!p->world_ctx)
        return;
    /* numeric ids can repeat across renderer processes: compare uniqueIds when both are known */
    if (uid && p->world_uid[0] ? strcmp(uid, p->world_uid) == 0 : cJSON_IsNumber(id) && id->valuedouble == p->world_ctx)
        cdp__world_forget(p);
}

static void on_contexts_cleared(struct cdp_page *p, const cJSON *params)
{
    (void)params;
    cdp__world_forget(p);
}

static ssize_t request_find(const struct cdp_page *p, const char *id)
{
    for (size_t i = 0; i < p->nreqs; i++)
        if (strcmp(p->reqs[i].id, id) == 0)
            return (ssize_t)i;
    return -1;
}

static void on_request_sent(struct cdp_page *p, const cJSON *params)
{
    const char *id = str(params, "requestId"), *type = str(params, "type"), *loader = str(params, "loaderId");
    const char *frame = str(params, "frameId");
    const char *url = str(cJSON_GetObjectItemCaseSensitive(params, "request"), "url");
    /* an EventSource stays open for the page's life: it never "finishes" */
    if (!id || strlen(id) >= sizeof(p->reqs[0].id) || (type && strcmp(type, "EventSource") == 0))
        return;
    /* A new main document: the old one's requests are cancelled with it, whether or not a
     * loadingFailed says so. */
    if (type && strcmp(type, "Document") == 0 && frame && strcmp(frame, p->target_id) == 0 && loader &&
        strcmp(loader, id) == 0)
        p->nreqs = 0;
    if (request_find(p, id) >= 0) /* a redirect keeps its requestId */
        return;
    if (p->nreqs == p->reqs_cap) { /* full (or past CDP__REQS_MAX): not tracked; wait_settled may
                                    * then settle early, never hang */
        size_t cap = p->reqs_cap ? p->reqs_cap * 2 : 16;
        struct cdp__request *r = cap <= CDP__REQS_MAX ? realloc(p->reqs, cap * sizeof(*r)) : NULL;
        if (!r)
            return;
        p->reqs = r;
        p->reqs_cap = cap;
    }
    struct cdp__request *r = &p->reqs[p->nreqs++];
    memcpy(r->id, id, strlen(id) + 1);
    snprintf(r->url, sizeof(r->url), "%s", url ? url : "?");
}

static void on_request_done(struct cdp_page *p, const cJSON *params)
{
    const char *id = str(params, "requestId");
    ssize_t i = id ? request_find(p, id) : -1;
    if (i < 0)
        return;
    p->reqs[i] = p->reqs[--p->nreqs];
    if (!p->nreqs)
        p->net_idle_us = cdp__now_us();
}

static void page_on_event(struct cdp_page *p, const char *method, const cJSON *params)
{
    static const struct {
        const char *method;
        void (*fn)(struct cdp_page *, const cJSON *);
    } table[] = {
        {"Page.lifecycleEvent", on_lifecycle},
        {"Network.responseReceived", on_response},
        {"Page.javascriptDialogOpening", on_dialog},
        {"Runtime.consoleAPICalled", on_console},
        {"Runtime.exceptionThrown", on_exception},
        {"Log.entryAdded", on_log_entry},
        {"Runtime.executionContextCreated", on_context_created},
        {"Runtime.executionContextDestroyed", on_context_destroyed},
        {"Runtime.executionContextsCleared", on_contexts_cleared},
        {"Network.requestWillBeSent", on_request_sent},
        {"Network.loadingFinished", on_request_done},
        {"Network.loadingFailed", on_request_done},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(method, table[i].method) == 0) {
            table[i].fn(p, params);
            return;
        }
    if (strcmp(method, "Inspector.targetCrashed") == 0)
        cdp__page_lost(p, true);
}

void cdp__dispatch_event(struct cdp_browser *b, cJSON *msg)
{
    const char *method = str(msg, "method");
    const char *sid = str(msg, "sessionId");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
    if (!method)
        return;
    if (sid) {
        struct cdp_page *p = page_by_session(b, sid);
        if (p)
            page_on_event(p, method, params);
        return;
    }
    if (strcmp(method, "Target.detachedFromTarget") == 0) {
        const char *s = str(params, "sessionId");
        struct cdp_page *p = s ? page_by_session(b, s) : NULL;
        if (p)
            cdp__page_lost(p, false);
    } else if (strcmp(method, "Target.targetCrashed") == 0) {
        const char *t = str(params, "targetId");
        struct cdp_page *p = t ? page_by_target(b, t) : NULL;
        if (p)
            cdp__page_lost(p, true);
    }
}

int cdp__page_call(struct cdp_page *p, const char *method, cJSON *params, int64_t deadline_us, cJSON **result)
{
    if (result)
        *result = NULL;
    if (p->crashed || p->detached) {
        cJSON_Delete(params);
        cdp__seterr(p->err, "%s: browser gone (%s)", method,
                    p->crashed ? "page crashed: Inspector.targetCrashed" : "page detached");
        return CDP_ERR_GONE;
    }
    p->b->wait_page = p;
    p->b->wait_aborted = false;
    int rc = cdp__call(p->b, p->session_id, method, params, deadline_us, result, p->err);
    p->b->wait_page = NULL;
    p->b->wait_aborted = false;
    return rc;
}

/* Browser-level call whose error text goes to the page. */
static int page_bcall(struct cdp_page *p, const char *method, cJSON *params, int64_t deadline, cJSON **result)
{
    return cdp__call(p->b, NULL, method, params, deadline, result, p->err);
}

static void guards_clear(struct cdp_page *p);

void cdp__page_release(struct cdp_page *p)
{
    if (!p)
        return;
    for (struct cdp_page **pp = &p->b->pages; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    if (p->b->wait_page == p)
        p->b->wait_page = NULL;
    guards_clear(p);
    cdp_page_log_clear(p);
    free(p->log);
    free(p->reqs);
    free(p);
}

static int copy_id(const cJSON *r, const char *key, char *dst, size_t len, char *err, const char *method)
{
    const char *v = str(r, key);
    if (!v || strlen(v) >= len) {
        cdp__seterr(err, "%s: reply without %s", method, key);
        return CDP_ERR_PROTOCOL;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static void page_dispose(struct cdp_page *p)
{
    if (!p->context_id[0] || p->b->gone)
        return;
    cJSON *a = cJSON_CreateObject();
    if (a)
        cJSON_AddStringToObject(a, "browserContextId", p->context_id);
    if (page_bcall(p, "Target.disposeBrowserContext", a, cdp__deadline(TEARDOWN_MS, 0), NULL)) {
        /* best effort: Browser.close or disposeOnDetach reclaims it anyway */
    }
}

int cdp_page_new(struct cdp_browser *b, const struct cdp_page_opts *o, struct cdp_page **out)
{
    if (!b || !out)
        return CDP_ERR_ARG;
    *out = NULL;
    struct cdp_page *p = calloc(1, sizeof(*p));
    if (!p) {
        cdp__seterr(b->err, "page: out of memory");
        return CDP_ERR_NOMEM;
    }
    p->b = b;
    p->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : 30000;
    p->slow_mo_ms = o && o->slow_mo_ms > 0 ? o->slow_mo_ms : 0;
    p->guard_hit = -1;
    p->net_idle_us = cdp__now_us();
    int64_t deadline = cdp__deadline(p->timeout_ms, 0);
    cJSON *r = NULL;
    int rc;

    cJSON *a = cJSON_CreateObject();
    cJSON_AddBoolToObject(a, "disposeOnDetach", true);
    if ((rc = page_bcall(p, "Target.createBrowserContext", a, deadline, &r)))
        goto err;
    rc = copy_id(r, "browserContextId", p->context_id, sizeof(p->context_id), p->err, "Target.createBrowserContext");
    cJSON_Delete(r);
    if (rc)
        goto err;

    a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "url", "about:blank");
    cJSON_AddStringToObject(a, "browserContextId", p->context_id);
    if ((rc = page_bcall(p, "Target.createTarget", a, deadline, &r)))
        goto err;
    rc = copy_id(r, "targetId", p->target_id, sizeof(p->target_id), p->err, "Target.createTarget");
    cJSON_Delete(r);
    if (rc)
        goto err;

    a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "targetId", p->target_id);
    cJSON_AddBoolToObject(a, "flatten", true);
    if ((rc = page_bcall(p, "Target.attachToTarget", a, deadline, &r)))
        goto err;
    rc = copy_id(r, "sessionId", p->session_id, sizeof(p->session_id), p->err, "Target.attachToTarget");
    cJSON_Delete(r);
    if (rc)
        goto err;
    p->next = b->pages;
    b->pages = p;

    /* Domains are enabled pipelined: Chromium handles a session's messages in
     * order, so when the last (synchronous) call answers, all are done. */
    static const char *const enables[] = {"Page.enable", "Runtime.enable", "Network.enable", "Inspector.enable",
                                          "Log.enable"};
    for (size_t i = 0; i < sizeof(enables) / sizeof(enables[0]); i++)
        cdp__send_async(b, p->session_id, enables[i], NULL);
    a = cJSON_CreateObject();
    cJSON_AddBoolToObject(a, "enabled", true);
    cdp__send_async(b, p->session_id, "Page.setLifecycleEventsEnabled", a);
    a = cJSON_CreateObject();
    cJSON_AddBoolToObject(a, "enabled", true);
    cdp__send_async(b, p->session_id, "Emulation.setFocusEmulationEnabled", a);
    if (o && o->block_urls && (rc = cdp_page_block_urls(p, o->block_urls)))
        goto err_linked;
    if ((rc = cdp_page_set_viewport(p, o && o->width > 0 ? o->width : 1280, o && o->height > 0 ? o->height : 720)))
        goto err_linked;
    *out = p;
    return 0;

err_linked:
err:
    snprintf(b->err, sizeof(b->err), "page: %.*s", CDP__ERRLEN - 16, p->err);
    page_dispose(p);
    cdp__page_release(p);
    return rc;
}

void cdp_page_free(struct cdp_page *p)
{
    if (!p)
        return;
    page_dispose(p);
    cdp__page_release(p);
}

const char *cdp_page_errmsg(const struct cdp_page *p)
{
    return p ? p->err : "no page";
}

int cdp_page_call(struct cdp_page *p, const char *method, const cJSON *params, int timeout_ms, cJSON **result)
{
    if (!p || !method)
        return CDP_ERR_ARG;
    cJSON *copy = NULL;
    if (params && !(copy = cJSON_Duplicate(params, true)))
        return CDP_ERR_NOMEM;
    return cdp__page_call(p, method, copy, cdp__deadline(timeout_ms, p->timeout_ms), result);
}

static char *dup_or_null(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

static void guards_clear(struct cdp_page *p)
{
    for (size_t i = 0; i < p->nguards; i++) {
        free((char *)p->guards[i].selector);
        free((char *)p->guards[i].text);
        free((char *)p->guards[i].js);
    }
    free(p->guards);
    p->guards = NULL;
    p->nguards = 0;
}

int cdp_page_set_guards(struct cdp_page *p, const struct cdp_guard *guards, size_t n)
{
    if (!p)
        return CDP_ERR_ARG;
    guards_clear(p);
    if (!n)
        return 0;
    if (!guards || n > CDP__GUARDS_MAX) {
        cdp__seterr(p->err, "guards: %s", guards ? "too many guards" : "NULL array");
        return CDP_ERR_ARG;
    }
    for (size_t i = 0; i < n; i++)
        if ((!guards[i].selector || !*guards[i].selector) && (guards[i].selector || !guards[i].js)) {
            cdp__seterr(p->err, "guards: guard %zu has %s", i,
                        guards[i].selector ? "an empty selector" : "neither selector nor js");
            return CDP_ERR_ARG;
        }
    struct cdp_guard *g = calloc(n, sizeof(*g));
    if (!g) {
        cdp__seterr(p->err, "guards: out of memory");
        return CDP_ERR_NOMEM;
    }
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        g[i].selector = dup_or_null(guards[i].selector, &ok);
        g[i].text = dup_or_null(guards[i].text, &ok);
        g[i].js = dup_or_null(guards[i].js, &ok);
    }
    p->guards = g;
    p->nguards = n;
    if (!ok) {
        guards_clear(p);
        cdp__seterr(p->err, "guards: out of memory");
        return CDP_ERR_NOMEM;
    }
    /* bad CSS is told now, by the browser's own parser, not at the first wait */
    int rc = cdp__guards_validate(p, cdp__deadline(0, p->timeout_ms));
    if (rc)
        guards_clear(p);
    return rc;
}

int cdp_page_guard_hit(const struct cdp_page *p)
{
    return p ? p->guard_hit : -1;
}

size_t cdp_page_log_count(const struct cdp_page *p)
{
    return p ? p->log_n : 0;
}

const char *cdp_page_log_get(const struct cdp_page *p, size_t i, enum cdp_log_kind *kind)
{
    if (!p || i >= p->log_n)
        return NULL;
    if (kind)
        *kind = p->log[i].kind;
    return p->log[i].text;
}

size_t cdp_page_log_dropped(const struct cdp_page *p)
{
    return p ? p->log_dropped : 0;
}

void cdp_page_log_clear(struct cdp_page *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->log_n; i++)
        free(p->log[i].text);
    p->log_n = 0;
    p->log_dropped = 0;
}
