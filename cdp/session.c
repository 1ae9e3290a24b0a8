/*
 * session.c - pages: an isolated browser context with one target, attached
 * over a flattened session (Target.attachToTarget flatten=true, so page
 * calls are plain messages carrying "sessionId"). Out-of-process iframes
 * (another site: Chromium isolates sites) are auto-attached under it
 * (Target.setAutoAttach flatten=true, also under each child) and kept as
 * child sessions of the page. Routes every session's events to its page and
 * keeps the state they feed: load events and document statuses per loaderId
 * (for navigate), crashes, dialogs (handled at once, from the event itself,
 * because a dialog blocks the page's JavaScript: dismissed, or as armed by
 * cdp_page_expect_dialog), console errors and uncaught exceptions of every
 * frame, the main-world context of every frame and the isolated worlds of
 * the page and its frame handles (world.c), frames going away (frame.c) and
 * the network requests in flight (for cdp_page_wait_settled). Also the
 * page's guards and log.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cdp_internal.h"

#define TEARDOWN_MS 2000 /* per call while closing a page */

static ssize_t child_index(const struct cdp_page *p, const char *sid)
{
    for (size_t i = 0; i < p->nchildren; i++)
        if (strcmp(p->children[i].session, sid) == 0)
            return (ssize_t)i;
    return -1;
}

/* The page a session belongs to: its own, or one of its out-of-process iframes'. */
static struct cdp_page *page_by_session(struct cdp_browser *b, const char *sid)
{
    for (struct cdp_page *p = b->pages; p; p = p->next)
        if (strcmp(p->session_id, sid) == 0 || child_index(p, sid) >= 0)
            return p;
    return NULL;
}

const struct cdp__child *cdp__child_find(const struct cdp_page *top, const char *target)
{
    for (size_t i = 0; i < top->nchildren; i++)
        if (strcmp(top->children[i].target, target) == 0)
            return &top->children[i];
    return NULL;
}

const struct cdp__ctx *cdp__ctx_find(const struct cdp_page *top, const char *session, const char *frame)
{
    for (size_t i = 0; i < top->nctxs; i++)
        if (strcmp(top->ctxs[i].frame, frame) == 0 && strcmp(top->ctxs[i].session, session) == 0)
            return &top->ctxs[i];
    return NULL;
}

static bool fits(const char *s)
{
    return s && strlen(s) < CDP__IDLEN;
}

/* Makes room for one more element in *arr (n used of *cap, each size bytes), doubling up to max
 * elements. false when full or out of memory (the event is then not tracked). */
static bool grow(void **arr, size_t *cap, size_t n, size_t size, size_t max)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 8;
    if (c > max)
        c = max;
    if (c <= n)
        return false;
    void *a = realloc(*arr, c * size);
    if (!a)
        return false;
    *arr = a;
    *cap = c;
    return true;
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
    struct cdp_page *w = p->b->wait_page;
    if (w && w->top == p)
        p->b->wait_aborted = true;
}

const char *cdp__page_gone_why(const struct cdp_page *p)
{
    const struct cdp_page *t = p->top;
    if (t->crashed)
        return "page crashed: Inspector.targetCrashed";
    if (t->closed)
        return "window closed";
    if (t->detached)
        return "page detached";
    return NULL;
}

/* Frame handles of p bound to session sid (and to frame, if not NULL) lose their binding; a call
 * in flight on one of them is given up ("frame was detached"). */
static void frames_unbind(struct cdp_page *p, const char *sid, const char *frame)
{
    for (struct cdp_page *f = p->frames; f; f = f->next) {
        if (!f->bound || (sid && strcmp(f->session_id, sid) != 0) || (frame && strcmp(f->frame_id, frame) != 0))
            continue;
        cdp__frame_unbind(f);
        if (p->b->wait_page == f && sid) {
            p->b->wait_aborted = true;
            p->b->wait_frame_lost = true;
        }
    }
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

static void on_console(struct cdp_page *p, const char *sid, const cJSON *params)
{
    (void)sid;
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

static void on_exception(struct cdp_page *p, const char *sid, const cJSON *params)
{
    (void)sid;
    char text[CDP__LOG_TEXT];
    cdp__exception_text(cJSON_GetObjectItemCaseSensitive(params, "exceptionDetails"), text, sizeof(text));
    log_push(p, CDP_LOG_EXCEPTION, text);
}

/* Answered from the event itself, on the session that reported it (an out-of-process iframe's
 * dialogs are reported on the page's session). Armed: as cdp_page_expect_dialog said, once.
 * Otherwise dismissed, except beforeunload: dismissing that would cancel our navigation. */
static void on_dialog(struct cdp_page *p, const char *sid, const cJSON *params)
{
    const char *type = str(params, "type");
    const char *msg = str(params, "message");
    bool armed = p->dialog_armed;
    // Armed with an expected message: any other question is dismissed, never answered yes.
    bool mismatch = armed && p->dialog_expect && !(msg && strcasestr(msg, p->dialog_expect));
    bool accept = armed && !mismatch ? p->dialog_accept : !armed && type && strcmp(type, "beforeunload") == 0;
    cJSON *a = cJSON_CreateObject();
    if (a) {
        cJSON_AddBoolToObject(a, "accept", accept);
        if (armed && accept && p->dialog_prompt && type && strcmp(type, "prompt") == 0)
            cJSON_AddStringToObject(a, "promptText", p->dialog_prompt);
    }
    cdp__send_async(p->b, sid, "Page.handleJavaScriptDialog", a);
    char text[CDP__LOG_TEXT];
    snprintf(text, sizeof(text), "%s: %s%s", type ? type : "dialog", msg ? msg : "",
             mismatch ? " (dismissed: not the expected message)"
             : armed  ? (accept ? " (accepted, expected)" : " (dismissed, expected)")
                      : "");
    log_push(p, CDP_LOG_DIALOG, text);
    if (armed) {
        p->dialog_armed = false;
        p->dialog_seen = true;
        p->dialog_mismatch = mismatch;
        snprintf(p->dialog_msg, sizeof(p->dialog_msg), "%s", msg ? msg : "");
    }
}

static void on_log_entry(struct cdp_page *p, const char *sid, const cJSON *params)
{
    (void)sid;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(params, "entry");
    const char *level = str(e, "level");
    if (!level || strcmp(level, "error") != 0)
        return;
    const char *t = str(e, "text"), *url = str(e, "url");
    char text[CDP__LOG_TEXT];
    snprintf(text, sizeof(text), "%s%s%s", t ? t : "", url ? " " : "", url ? url : "");
    log_push(p, CDP_LOG_CONSOLE_ERROR, text);
}

/* "load" of any frame of the page, by loaderId (unique per navigation): cdp_page_navigate waits
 * for its own. */
static void on_lifecycle(struct cdp_page *p, const char *sid, const cJSON *params)
{
    (void)sid;
    const char *name = str(params, "name"), *frame = str(params, "frameId"), *loader = str(params, "loaderId");
    if (!name || !frame || !loader || strcmp(name, "load") != 0)
        return;
    snprintf(p->loads[p->loads_n++ % CDP__RING], sizeof(p->loads[0]), "%s", loader);
}

static void on_response(struct cdp_page *p, const char *sid, const cJSON *params)
{
    (void)sid;
    const char *type = str(params, "type"), *frame = str(params, "frameId"), *loader = str(params, "loaderId");
    if (!type || !frame || !loader || strcmp(type, "Document") != 0)
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
    p->world_lib = false;
}

static void ctx_remove(struct cdp_page *p, size_t i)
{
    p->ctxs[i] = p->ctxs[--p->nctxs];
}

/* A frame's main world (remembered by frame, for evaluate on frame handles), or our isolated world
 * of the page or of a frame handle (Page.createIsolatedWorld, world.c). */
static void on_context_created(struct cdp_page *p, const char *sid, const cJSON *params)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(params, "context");
    const char *name = str(c, "name"), *uid = str(c, "uniqueId");
    const cJSON *aux = cJSON_GetObjectItemCaseSensitive(c, "auxData");
    const char *frame = str(aux, "frameId");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
    if (!name || !fits(frame) || !fits(sid) || !cJSON_IsNumber(id) ||
        !(id->valuedouble >= 1 && id->valuedouble <= INT_MAX))
        return;
    bool uid_ok = uid && strlen(uid) < sizeof(p->world_uid);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(aux, "isDefault"))) {
        struct cdp__ctx *x = (struct cdp__ctx *)cdp__ctx_find(p, sid, frame);
        if (!x && grow((void **)&p->ctxs, &p->ctxs_cap, p->nctxs, sizeof(*p->ctxs), CDP__CTX_MAX)) {
            x = &p->ctxs[p->nctxs++];
            memcpy(x->session, sid, strlen(sid) + 1);
            memcpy(x->frame, frame, strlen(frame) + 1);
        }
        if (x) {
            x->id = (int)id->valuedouble;
            snprintf(x->uid, sizeof(x->uid), "%s", uid_ok ? uid : "");
        }
        return;
    }
    if (strcmp(name, CDP__WORLD_NAME) != 0)
        return;
    for (struct cdp_page *h = p; h; h = h == p ? p->frames : h->next) {
        if (strcmp(h->session_id, sid) != 0 || strcmp(h->frame_id, frame) != 0)
            continue;
        h->world_ctx = (int)id->valuedouble;
        snprintf(h->world_uid, sizeof(h->world_uid), "%s", uid_ok ? uid : "");
    }
}

/* numeric ids can repeat across renderer processes: compare uniqueIds when both are known */
static bool same_ctx(const char *uid, const cJSON *id, const char *known_uid, int known_id)
{
    return uid && known_uid[0] ? strcmp(uid, known_uid) == 0 : cJSON_IsNumber(id) && id->valuedouble == known_id;
}

static void on_context_destroyed(struct cdp_page *p, const char *sid, const cJSON *params)
{
    const char *uid = str(params, "executionContextUniqueId");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(params, "executionContextId");
    for (size_t i = 0; i < p->nctxs;)
        if (strcmp(p->ctxs[i].session, sid) == 0 && same_ctx(uid, id, p->ctxs[i].uid, p->ctxs[i].id))
            ctx_remove(p, i);
        else
            i++;
    for (struct cdp_page *h = p; h; h = h == p ? p->frames : h->next)
        if (h->world_ctx && strcmp(h->session_id, sid) == 0 && same_ctx(uid, id, h->world_uid, h->world_ctx))
            cdp__world_forget(h);
}

/* Every context of that session is gone (its main frame navigated). */
static void contexts_forget(struct cdp_page *p, const char *sid)
{
    for (size_t i = 0; i < p->nctxs;)
        if (strcmp(p->ctxs[i].session, sid) == 0)
            ctx_remove(p, i);
        else
            i++;
    for (struct cdp_page *h = p; h; h = h == p ? p->frames : h->next)
        if (strcmp(h->session_id, sid) == 0)
            cdp__world_forget(h);
}

static void on_contexts_cleared(struct cdp_page *p, const char *sid, const cJSON *params)
{
    (void)params;
    contexts_forget(p, sid);
}

/* A frame went away (removed, or moved to another process: "swap"): handles bound to it rebind. */
static void on_frame_detached(struct cdp_page *p, const char *sid, const cJSON *params)
{
    (void)sid;
    const char *frame = str(params, "frameId");
    if (frame)
        frames_unbind(p, NULL, frame);
}

/* A new document in a frame: the iframes of the old one are gone with it, so handles whose parent
 * is that frame rebind (their own frameDetached may come later). */
static void on_frame_navigated(struct cdp_page *p, const char *sid, const cJSON *params)
{
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(params, "frame");
    const char *id = str(fr, "id");
    if (!id)
        return;
    for (struct cdp_page *f = p->frames; f; f = f->next)
        if (f->bound && strcmp(f->parent->frame_id, id) == 0 && strcmp(f->parent->session_id, sid) == 0)
            cdp__frame_unbind(f);
}

static void child_enable(struct cdp_page *p, const char *csid)
{
    struct cdp_browser *b = p->b;
    static const char *const enables[] = {"Runtime.enable", "Page.enable", "Network.enable", "Log.enable",
                                          "Inspector.enable"};
    for (size_t i = 0; i < sizeof(enables) / sizeof(enables[0]); i++)
        cdp__send_async(b, csid, enables[i], NULL);
    cJSON *a = cJSON_CreateObject();
    cJSON_AddBoolToObject(a, "enabled", true);
    cdp__send_async(b, csid, "Page.setLifecycleEventsEnabled", a);
    if (p->block_urls) {
        a = cJSON_CreateObject();
        cJSON *urls = cJSON_AddArrayToObject(a, "urls");
        for (size_t i = 0; p->block_urls[i]; i++)
            cJSON_AddItemToArray(urls, cJSON_CreateString(p->block_urls[i]));
        cdp__send_async(b, csid, "Network.setBlockedURLs", a);
    }
    a = cJSON_CreateObject();
    cJSON_AddBoolToObject(a, "autoAttach", true);
    cJSON_AddBoolToObject(a, "waitForDebuggerOnStart", false);
    cJSON_AddBoolToObject(a, "flatten", true);
    cdp__send_async(b, csid, "Target.setAutoAttach", a);
    cdp__send_async(b, csid, "Runtime.runIfWaitingForDebugger", NULL);
}

/* Auto-attach: an out-of-process iframe (kept, its domains enabled like the page's) or something
 * else (a worker: let go). */
static void on_attached(struct cdp_page *p, const char *sid, const cJSON *params)
{
    const char *csid = str(params, "sessionId");
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(params, "targetInfo");
    const char *type = str(info, "type"), *target = str(info, "targetId");
    if (!fits(csid))
        return;
    if (!type || strcmp(type, "iframe") != 0 || !fits(target) ||
        !grow((void **)&p->children, &p->children_cap, p->nchildren, sizeof(*p->children), CDP__CHILDREN_MAX)) {
        cdp__send_async(p->b, csid, "Runtime.runIfWaitingForDebugger", NULL);
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "sessionId", csid);
        cdp__send_async(p->b, sid, "Target.detachFromTarget", a);
        return;
    }
    if (child_index(p, csid) < 0) {
        struct cdp__child *c = &p->children[p->nchildren++];
        memset(c, 0, sizeof(*c));
        memcpy(c->session, csid, strlen(csid) + 1);
        memcpy(c->target, target, strlen(target) + 1);
    }
    /* a frame that moved into this process: handles bound to its old host rebind */
    frames_unbind(p, NULL, target);
    child_enable(p, csid);
}

/* A child session ended (its frame was removed or moved, or the page navigated). */
static void child_gone(struct cdp_page *p, const char *csid)
{
    ssize_t i = child_index(p, csid);
    if (i < 0)
        return;
    contexts_forget(p, csid);
    frames_unbind(p, csid, NULL);
    /* its requests in flight will not be reported finished any more */
    size_t before = p->nreqs;
    for (size_t k = 0; k < p->nreqs;)
        if (strcmp(p->reqs[k].session, csid) == 0)
            p->reqs[k] = p->reqs[--p->nreqs];
        else
            k++;
    if (before && !p->nreqs)
        p->net_idle_us = cdp__now_us();
    p->children[i] = p->children[--p->nchildren];
}

static void on_detached(struct cdp_page *p, const char *sid, const cJSON *params)
{
    (void)sid;
    const char *csid = str(params, "sessionId");
    if (csid)
        child_gone(p, csid);
}

static ssize_t request_find(const struct cdp_page *p, const char *id)
{
    for (size_t i = 0; i < p->nreqs; i++)
        if (strcmp(p->reqs[i].id, id) == 0)
            return (ssize_t)i;
    return -1;
}

static void on_request_sent(struct cdp_page *p, const char *sid, const cJSON *params)
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
    snprintf(r->session, sizeof(r->session), "%s", sid);
}

static void on_request_done(struct cdp_page *p, const char *sid, const cJSON *params)
{
    (void)sid;
    const char *id = str(params, "requestId");
    ssize_t i = id ? request_find(p, id) : -1;
    if (i < 0)
        return;
    p->reqs[i] = p->reqs[--p->nreqs];
    if (!p->nreqs)
        p->net_idle_us = cdp__now_us();
}

static void page_on_event(struct cdp_page *p, const char *sid, const char *method, const cJSON *params)
{
    static const struct {
        const char *method;
        void (*fn)(struct cdp_page *, const char *, const cJSON *);
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
        {"Page.frameDetached", on_frame_detached},
        {"Page.frameNavigated", on_frame_navigated},
        {"Target.attachedToTarget", on_attached},
        {"Target.detachedFromTarget", on_detached},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(method, table[i].method) == 0) {
            table[i].fn(p, sid, params);
            return;
        }
    if (strcmp(method, "Inspector.targetCrashed") == 0) {
        ssize_t c = child_index(p, sid);
        if (c < 0) {
            cdp__page_lost(p, true);
            return;
        }
        /* only that iframe's renderer: its handles fail over to a rebind */
        p->children[c].crashed = true;
        frames_unbind(p, sid, NULL);
    }
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
            page_on_event(p, sid, method, params);
        return;
    }
    if (strcmp(method, "Target.detachedFromTarget") == 0) {
        const char *s = str(params, "sessionId");
        for (struct cdp_page *p = b->pages; s && p; p = p->next)
            if (strcmp(p->session_id, s) == 0)
                cdp__page_lost(p, false);
    } else if (strcmp(method, "Target.targetCrashed") == 0) {
        const char *t = str(params, "targetId");
        struct cdp_page *p = t ? page_by_target(b, t) : NULL;
        if (p)
            cdp__page_lost(p, true);
    } else if (strcmp(method, "Target.targetCreated") == 0) {
        cdp__popup_on_created(b, params);
    } else if (strcmp(method, "Target.targetDestroyed") == 0) {
        cdp__popup_on_destroyed(b, params);
    }
}

int cdp__page_call(struct cdp_page *p, const char *method, cJSON *params, int64_t deadline_us, cJSON **result)
{
    if (result)
        *result = NULL;
    const char *gone = cdp__page_gone_why(p);
    if (gone) {
        cJSON_Delete(params);
        cdp__seterr(p->err, "%s: browser gone (%s)", method, gone);
        return CDP_ERR_GONE;
    }
    if (p->parent && !p->bound) {
        cJSON_Delete(params);
        cdp__seterr(p->err, "%s: frame was detached", method);
        return CDP_ERR_PROTOCOL;
    }
    struct cdp_browser *b = p->b;
    b->wait_page = p;
    b->wait_aborted = false;
    b->wait_frame_lost = false;
    int rc = cdp__call(b, p->session_id, method, params, deadline_us, result, p->err);
    bool frame_lost = b->wait_frame_lost;
    b->wait_page = NULL;
    b->wait_aborted = false;
    b->wait_frame_lost = false;
    if (rc == CDP_ERR_GONE && frame_lost && !b->gone && !cdp__page_gone_why(p)) {
        cdp__seterr(p->err, "%s: frame was detached", method);
        return CDP_ERR_PROTOCOL;
    }
    return rc;
}

/* Browser-level call whose error text goes to the page. */
static int page_bcall(struct cdp_page *p, const char *method, cJSON *params, int64_t deadline, cJSON **result)
{
    return cdp__call(p->b, NULL, method, params, deadline, result, p->err);
}

static void urls_free(char **u)
{
    for (size_t i = 0; u && u[i]; i++)
        free(u[i]);
    free(u);
}

void cdp__page_release(struct cdp_page *p)
{
    if (!p)
        return;
    for (struct cdp_page **pp = &p->b->pages; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    if (p->b->wait_page && p->b->wait_page->top == p)
        p->b->wait_page = NULL;
    while (p->frames) {
        struct cdp_page *f = p->frames;
        p->frames = f->next;
        cdp__frame_free(f);
    }
    cdp__guards_clear(p);
    cdp_page_log_clear(p);
    free(p->log);
    free(p->reqs);
    free(p->children);
    free(p->ctxs);
    urls_free(p->block_urls);
    free(p->dialog_prompt);
    free(p->dialog_expect);
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

/* Disposes the page's browser context (cookies, storage, every window in it); a popup, which
 * shares its opener's context, only closes its own target. */
static void page_dispose(struct cdp_page *p)
{
    if (!p->context_id[0] || p->b->gone)
        return;
    cJSON *a = cJSON_CreateObject();
    if (a && p->owns_context)
        cJSON_AddStringToObject(a, "browserContextId", p->context_id);
    else if (a)
        cJSON_AddStringToObject(a, "targetId", p->target_id);
    if (!p->owns_context && (p->closed || p->detached)) {
        cJSON_Delete(a);
        return;
    }
    if (page_bcall(p, p->owns_context ? "Target.disposeBrowserContext" : "Target.closeTarget", a,
                   cdp__deadline(TEARDOWN_MS, 0), NULL)) {
        /* best effort: Browser.close or disposeOnDetach reclaims it anyway */
    }
}

int cdp__page_attach(struct cdp_page *p, int64_t deadline)
{
    struct cdp_browser *b = p->b;
    cJSON *r = NULL;
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "targetId", p->target_id);
    cJSON_AddBoolToObject(a, "flatten", true);
    int rc = page_bcall(p, "Target.attachToTarget", a, deadline, &r);
    if (rc)
        return rc;
    rc = copy_id(r, "sessionId", p->session_id, sizeof(p->session_id), p->err, "Target.attachToTarget");
    cJSON_Delete(r);
    if (rc)
        return rc;
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
    /* out-of-process iframes become child sessions (session.c on_attached) */
    a = cJSON_CreateObject();
    cJSON_AddBoolToObject(a, "autoAttach", true);
    cJSON_AddBoolToObject(a, "waitForDebuggerOnStart", false);
    cJSON_AddBoolToObject(a, "flatten", true);
    cdp__send_async(b, p->session_id, "Target.setAutoAttach", a);
    return 0;
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
    p->top = p;
    p->owns_context = true;
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
    memcpy(p->frame_id, p->target_id, sizeof(p->frame_id));
    if ((rc = cdp__page_attach(p, deadline)))
        goto err;
    if (o && o->block_urls && (rc = cdp_page_block_urls(p, o->block_urls)))
        goto err;
    if ((rc = cdp_page_set_viewport(p, o && o->width > 0 ? o->width : 1280, o && o->height > 0 ? o->height : 720)))
        goto err;
    *out = p;
    return 0;

err:
    snprintf(b->err, sizeof(b->err), "page: %.*s", CDP__ERRLEN - 16, p->err);
    page_dispose(p);
    cdp__page_release(p);
    return rc;
}

void cdp_page_free(struct cdp_page *p)
{
    if (!p || p->parent) /* a frame handle belongs to its page */
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
    int64_t deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    int rc = cdp__frame_bind(p, deadline, method);
    if (rc)
        return rc;
    cJSON *copy = NULL;
    if (params && !(copy = cJSON_Duplicate(params, true)))
        return CDP_ERR_NOMEM;
    return cdp__page_call(p, method, copy, deadline, result);
}

/* Replaces the page's copy of its blocked URL patterns (applied to child sessions as they come). */
int cdp__page_keep_block_urls(struct cdp_page *p, const char *const *patterns)
{
    size_t n = 0;
    while (patterns && patterns[n])
        n++;
    char **u = NULL;
    if (n) {
        if (!(u = calloc(n + 1, sizeof(*u))))
            return CDP_ERR_NOMEM;
        for (size_t i = 0; i < n; i++)
            if (!(u[i] = strdup(patterns[i]))) {
                urls_free(u);
                return CDP_ERR_NOMEM;
            }
    }
    urls_free(p->block_urls);
    p->block_urls = u;
    return 0;
}

/* ---------------------------------------------------------------- dialogs */

int cdp_page_expect_dialog(struct cdp_page *p, bool accept, const char *prompt_text)
{
    return cdp_page_expect_dialog_text(p, accept, prompt_text, NULL);
}

int cdp_page_expect_dialog_text(struct cdp_page *p, bool accept, const char *prompt_text, const char *expect)
{
    if (!p)
        return CDP_ERR_ARG;
    struct cdp_page *t = p->top;
    char *copy = NULL, *ex = NULL;
    if ((prompt_text && !(copy = strdup(prompt_text))) || (expect && !(ex = strdup(expect)))) {
        free(copy);
        cdp__seterr(p->err, "expect_dialog: out of memory");
        return CDP_ERR_NOMEM;
    }
    free(t->dialog_prompt);
    t->dialog_prompt = copy;
    free(t->dialog_expect);
    t->dialog_expect = ex;
    t->dialog_mismatch = false;
    t->dialog_armed = true;
    t->dialog_accept = accept;
    t->dialog_seen = false;
    t->dialog_msg[0] = '\0';
    return 0;
}

bool cdp_page_dialog_seen(struct cdp_page *p, char *message, size_t n)
{
    if (message && n)
        message[0] = '\0';
    if (!p)
        return false;
    struct cdp_page *t = p->top;
    /* a dialog opened since the last call is still in the socket: serve what is there */
    if (!t->dialog_seen && !p->b->gone)
        (void)cdp__pump(p->b, cdp__now_us() + 1000, NULL, NULL);
    if (t->dialog_seen && message && n)
        snprintf(message, n, "%s", t->dialog_msg);
    return t->dialog_seen;
}

bool cdp_page_dialog_mismatch(const struct cdp_page *p)
{
    return p && p->top->dialog_seen && p->top->dialog_mismatch;
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

void cdp__guards_clear(struct cdp_page *p)
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
    cdp__guards_clear(p);
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
        cdp__guards_clear(p);
        cdp__seterr(p->err, "guards: out of memory");
        return CDP_ERR_NOMEM;
    }
    /* bad CSS is told now, by the browser's own parser, not at the first wait */
    int rc = cdp__guards_validate(p, cdp__deadline(0, p->timeout_ms));
    if (rc)
        cdp__guards_clear(p);
    return rc;
}

int cdp_page_guard_hit(const struct cdp_page *p)
{
    return p ? p->guard_hit : -1;
}

size_t cdp_page_log_count(const struct cdp_page *p)
{
    return p ? p->top->log_n : 0;
}

const char *cdp_page_log_get(const struct cdp_page *p, size_t i, enum cdp_log_kind *kind)
{
    if (p)
        p = p->top;
    if (!p || i >= p->log_n)
        return NULL;
    if (kind)
        *kind = p->log[i].kind;
    return p->log[i].text;
}

size_t cdp_page_log_dropped(const struct cdp_page *p)
{
    return p ? p->top->log_dropped : 0;
}

void cdp_page_log_clear(struct cdp_page *p)
{
    if (!p)
        return;
    p = p->top;
    for (size_t i = 0; i < p->log_n; i++)
        free(p->log[i].text);
    p->log_n = 0;
    p->log_dropped = 0;
}
