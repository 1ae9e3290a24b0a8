/*
 * popup.c - new windows a page opens (window.open, target=_blank) and
 * windows that close. cdp_page_expect_popup turns on target discovery
 * (Target.setDiscoverTargets, once per browser) and arms the page; the
 * Target.targetCreated of a "page" whose openerId is that page is taken as
 * its popup. cdp_page_wait_popup attaches to it like any page (flattened
 * session, the same domains, out-of-process iframes, isolated-world helpers,
 * the opener's viewport and blocked URLs) and waits until its document has
 * loaded. The popup shares its opener's browser context (cookies, session);
 * freeing it closes its window only. Target.targetDestroyed (window.close)
 * marks a page closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp_internal.h"

#define POPUP_BLANK_MS 1000 /* a popup still at about:blank after this long is taken as it is */
#define POPUP_PAUSE_MS 50   /* between two looks at a loading popup */

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void cdp__popup_on_created(struct cdp_browser *b, const cJSON *params)
{
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(params, "targetInfo");
    const char *type = str(info, "type"), *id = str(info, "targetId"), *opener = str(info, "openerId");
    if (!type || !id || !opener || strcmp(type, "page") != 0 || strlen(id) >= CDP__IDLEN)
        return;
    for (struct cdp_page *p = b->pages; p; p = p->next)
        if (p->popup_armed && !p->popup_target[0] && strcmp(p->target_id, opener) == 0) {
            memcpy(p->popup_target, id, strlen(id) + 1);
            return;
        }
}

void cdp__popup_on_destroyed(struct cdp_browser *b, const cJSON *params)
{
    const char *id = str(params, "targetId");
    for (struct cdp_page *p = b->pages; id && p; p = p->next)
        if (strcmp(p->target_id, id) == 0) {
            p->closed = true;
            if (b->wait_page && b->wait_page->top == p)
                b->wait_aborted = true;
        }
}

int cdp_page_expect_popup(struct cdp_page *p)
{
    if (!p)
        return CDP_ERR_ARG;
    struct cdp_page *t = p->top;
    struct cdp_browser *b = p->b;
    if (!b->discovering) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddBoolToObject(a, "discover", true);
        int rc = cdp__call(b, NULL, "Target.setDiscoverTargets", a, cdp__deadline(0, p->timeout_ms), NULL, p->err);
        if (rc)
            return rc;
        b->discovering = true;
    }
    t->popup_armed = true;
    t->popup_target[0] = '\0';
    return 0;
}

static bool popup_seen(void *arg)
{
    const struct cdp_page *t = arg;
    return t->popup_target[0] != '\0';
}

/* Waits until the popup's document has loaded: readyState complete, at a URL of its own (a popup
 * starts at about:blank; one that stays there POPUP_BLANK_MS is taken as it is). */
static int popup_loaded(struct cdp_page *w, int64_t start, int64_t deadline)
{
    int64_t attached = cdp__now_us();
    char why[300] = "not checked yet";
    for (;;) {
        cJSON *res = NULL;
        int rc = cdp__helper(w, "doc()", deadline, &res, "wait_popup");
        if (rc == 0) {
            const char *ready = str(res, "ready"), *href = str(res, "href");
            bool done = ready && href && strcmp(ready, "complete") == 0 &&
                        (strcmp(href, "about:blank") != 0 || cdp__now_us() - attached >= POPUP_BLANK_MS * 1000);
            snprintf(why, sizeof(why), "the window is loading %s", href ? href : "?");
            cJSON_Delete(res);
            if (done)
                return 0;
        } else if ((rc == CDP_ERR_JS || rc == CDP_ERR_PROTOCOL) && cdp__transient(w->err)) {
            snprintf(why, sizeof(why), "the window was navigating");
        } else if (rc != CDP_ERR_TIMEOUT) {
            return rc;
        }
        int64_t now = cdp__now_us();
        if (rc == CDP_ERR_TIMEOUT || now >= deadline) {
            cdp__seterr(w->err, "wait_popup: timeout after %lld ms: %s", (long long)((deadline - start) / 1000), why);
            return CDP_ERR_TIMEOUT;
        }
        int64_t until = now + POPUP_PAUSE_MS * 1000;
        rc = cdp__pump(w->b, until < deadline ? until : deadline, NULL, NULL);
        const char *gone = cdp__page_gone_why(w);
        if (rc == CDP_ERR_STOPPED) {
            cdp__seterr(w->err, "wait_popup: stopped (interrupted)");
            return rc;
        }
        if (rc || gone) {
            cdp__seterr(w->err, "wait_popup: browser gone (%s)", gone ? gone : w->b->gone_why);
            return CDP_ERR_GONE;
        }
    }
}

int cdp_page_wait_popup(struct cdp_page *p, int timeout_ms, struct cdp_page **popup)
{
    if (popup)
        *popup = NULL;
    if (!p || !popup)
        return CDP_ERR_ARG;
    struct cdp_page *t = p->top;
    struct cdp_browser *b = p->b;
    if (!t->popup_armed) {
        cdp__seterr(p->err, "wait_popup: cdp_page_expect_popup was not called before the action");
        return CDP_ERR_ARG;
    }
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    int rc = cdp__pump(b, deadline, popup_seen, t);
    if (rc == CDP_ERR_TIMEOUT) {
        cdp__seterr(p->err, "wait_popup: timeout after %lld ms: no new window was opened",
                    (long long)((deadline - start) / 1000));
        return rc;
    }
    if (rc) {
        cdp__seterr(p->err, "wait_popup: %s", rc == CDP_ERR_STOPPED ? "stopped (interrupted)" : "browser gone");
        return rc;
    }
    struct cdp_page *w = calloc(1, sizeof(*w));
    if (!w) {
        cdp__seterr(p->err, "wait_popup: out of memory");
        return CDP_ERR_NOMEM;
    }
    w->b = b;
    w->top = w;
    w->owns_context = false;
    w->timeout_ms = t->timeout_ms;
    w->slow_mo_ms = t->slow_mo_ms;
    w->guard_hit = -1;
    w->net_idle_us = cdp__now_us();
    memcpy(w->context_id, t->context_id, sizeof(w->context_id));
    memcpy(w->target_id, t->popup_target, sizeof(w->target_id));
    memcpy(w->frame_id, t->popup_target, sizeof(w->frame_id));
    t->popup_armed = false;
    t->popup_target[0] = '\0';
    if ((rc = cdp__page_attach(w, deadline))) {
        snprintf(p->err, sizeof(p->err), "wait_popup: %s", w->err);
        free(w);
        return rc;
    }
    if ((t->block_urls && (rc = cdp_page_block_urls(w, (const char *const *)t->block_urls))) ||
        (rc = cdp_page_set_viewport(w, t->width > 0 ? t->width : 1280, t->height > 0 ? t->height : 720)) ||
        (rc = popup_loaded(w, start, deadline))) {
        snprintf(p->err, sizeof(p->err), "%s", w->err);
        cdp_page_free(w);
        return rc;
    }
    *popup = w;
    return 0;
}

bool cdp_page_is_closed(struct cdp_page *p)
{
    if (!p)
        return true;
    struct cdp_page *t = p->top;
    /* a close since the last call is still in the socket: serve what is there */
    if (!t->closed && !t->detached && !p->b->gone)
        (void)cdp__pump(p->b, cdp__now_us() + 1000, NULL, NULL);
    return t->closed || t->detached || p->b->gone;
}

static bool window_closed(void *arg)
{
    const struct cdp_page *t = arg;
    return t->closed || t->detached;
}

int cdp_page_wait_closed(struct cdp_page *p, int timeout_ms)
{
    if (!p)
        return CDP_ERR_ARG;
    struct cdp_page *t = p->top;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    int rc = cdp__pump(p->b, deadline, window_closed, t);
    if (rc == CDP_ERR_TIMEOUT)
        cdp__seterr(p->err, "wait_closed: timeout after %lld ms: the window is still open",
                    (long long)((deadline - start) / 1000));
    else if (rc == CDP_ERR_STOPPED)
        cdp__seterr(p->err, "wait_closed: stopped (interrupted)");
    else if (rc)
        cdp__seterr(p->err, "wait_closed: browser gone (%s)", p->b->gone_why);
    return rc;
}
