/*
 * page.c - the page API that is not about elements: navigate and wait for the
 * load event (matched by loaderId on Page.lifecycleEvent, never on the reply
 * to Page.navigate), evaluate, waiting for the page to settle (no DOM change,
 * no request in flight), screenshots and HTML (files 0600, password values
 * blanked), viewport, blocked URLs and cookies. Element actions and waits live
 * in input.c; where JavaScript runs, in world.c. On a frame handle, navigate
 * and evaluate act on the frame, screenshot, viewport, blocked URLs and
 * cookies on its page.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdp_internal.h"

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

struct load_wait {
    struct cdp_page *p;
    const char *loader;
};

static bool load_seen(void *arg)
{
    struct load_wait *w = arg;
    const struct cdp_page *t = w->p->top;
    if (cdp__page_gone_why(t))
        return true;
    for (unsigned i = 0; i < CDP__RING; i++)
        if (strcmp(t->loads[i], w->loader) == 0)
            return true;
    return false;
}

static int doc_status(const struct cdp_page *p, const char *loader)
{
    p = p->top;
    /* newest first: a loader can see several responses (redirects) */
    for (unsigned k = 0; k < CDP__RING; k++) {
        const struct cdp__loader_status *d = &p->docs[(p->docs_n + CDP__RING - 1 - k) % CDP__RING];
        if (d->loader[0] && strcmp(d->loader, loader) == 0)
            return d->status;
    }
    return 0;
}

int cdp_page_navigate(struct cdp_page *p, const char *url, int timeout_ms, int *http_status)
{
    if (http_status)
        *http_status = 0;
    if (!p || !url || !*url)
        return CDP_ERR_ARG;
    p->guard_hit = -1;
    int64_t start = cdp__now_us();
    int64_t deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    int rc = cdp__frame_bind(p, deadline, "Page.navigate");
    if (rc)
        return rc;
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "url", url);
    if (p->parent) /* a frame handle: that frame, in the session hosting it */
        cJSON_AddStringToObject(a, "frameId", p->frame_id);
    cJSON *r = NULL;
    rc = cdp__page_call(p, "Page.navigate", a, deadline, &r);
    if (rc)
        return rc;
    const char *errtext = str(r, "errorText");
    char loader[40] = "";
    if (str(r, "loaderId"))
        snprintf(loader, sizeof(loader), "%s", str(r, "loaderId"));
    if (errtext && *errtext) {
        /* An HTTP error status with an empty body is reported as this error,
         * but the document did answer: give its status, not a network error. */
        int st = loader[0] ? doc_status(p, loader) : 0;
        if (strcmp(errtext, "net::ERR_HTTP_RESPONSE_CODE_FAILURE") == 0 && st) {
            if (http_status)
                *http_status = st;
            cJSON_Delete(r);
            return 0;
        }
        cdp__seterr(p->err, "Page.navigate: %s (%s)", errtext, url);
        cJSON_Delete(r);
        return CDP_ERR_NAVIGATION;
    }
    cJSON_Delete(r);
    if (!loader[0]) /* same-document navigation: nothing to load */
        return 0;
    struct load_wait w = {.p = p, .loader = loader};
    rc = cdp__pump(p->b, deadline, load_seen, &w);
    if (rc == CDP_ERR_TIMEOUT) {
        cdp__seterr(p->err, "Page.navigate: timeout after %lld ms waiting for the load event of %s",
                    (long long)((deadline - start) / 1000), url);
        return rc;
    }
    if (rc == CDP_ERR_STOPPED) {
        cdp__seterr(p->err, "Page.navigate: stopped (interrupted) while loading %s", url);
        return rc;
    }
    const char *gone = cdp__page_gone_why(p);
    if (rc || gone) {
        cdp__seterr(p->err, "Page.navigate: browser gone (%s)", gone ? gone : p->b->gone_why);
        return CDP_ERR_GONE;
    }
    if (http_status)
        *http_status = doc_status(p, loader);
    return 0;
}

int cdp_page_evaluate(struct cdp_page *p, const char *expression, int timeout_ms, cJSON **result)
{
    if (result)
        *result = NULL;
    if (!p || !expression)
        return CDP_ERR_ARG;
    p->guard_hit = -1;
    /* the page's own world: flow expressions read its state (window variables) */
    return cdp__evaluate(p, CDP__WORLD_PAGE, expression, cdp__deadline(timeout_ms, p->timeout_ms), result,
                         "Runtime.evaluate");
}

/* Writes data to path.tmp (created 0600: evidence may hold personal data), then renames it to
 * path. A stale path.tmp is replaced, never followed. */
static int write_file(struct cdp_page *p, const char *path, const void *data, size_t len, const char *what)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        cdp__seterr(p->err, "%s: path too long", what);
        return CDP_ERR_ARG;
    }
    if (unlink(tmp) != 0 && errno != ENOENT) {
        cdp__seterr(p->err, "%s: cannot replace %s: %s", what, tmp, strerror(errno));
        return CDP_ERR_IO;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        cdp__seterr(p->err, "%s: cannot write %s: %s", what, tmp, strerror(errno));
        return CDP_ERR_IO;
    }
    bool ok = fchmod(fd, 0600) == 0; /* exactly 0600 whatever the umask */
    const char *d = data;
    for (size_t off = 0; ok && off < len;) {
        ssize_t n = write(fd, d + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        off += ok ? (size_t)n : 0;
    }
    int err = ok ? 0 : errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        cdp__seterr(p->err, "%s: cannot write %s: %s", what, path, strerror(err ? err : EIO));
        unlink(tmp);
        return CDP_ERR_IO;
    }
    return 0;
}

static int screenshot_page(struct cdp_page *p, const char *path, bool full_page, int timeout_ms);

int cdp_page_screenshot(struct cdp_page *p, const char *path, bool full_page, int timeout_ms)
{
    if (!p || !path)
        return CDP_ERR_ARG;
    struct cdp_page *frame = p;
    p = p->top; /* the whole page, also from a frame handle */
    int rc = screenshot_page(p, path, full_page, timeout_ms);
    if (frame != p)
        snprintf(frame->err, sizeof(frame->err), "%s", p->err);
    return rc;
}

static int screenshot_page(struct cdp_page *p, const char *path, bool full_page, int timeout_ms)
{
    int64_t deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "format", "png");
    cJSON *r = NULL;
    int rc;
    if (full_page) {
        if ((rc = cdp__page_call(p, "Page.getLayoutMetrics", NULL, deadline, &r))) {
            cJSON_Delete(a);
            return rc;
        }
        const cJSON *cs = cJSON_GetObjectItemCaseSensitive(r, "cssContentSize");
        if (!cs)
            cs = cJSON_GetObjectItemCaseSensitive(r, "contentSize");
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(cs, "width");
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(cs, "height");
        if (cJSON_IsNumber(w) && cJSON_IsNumber(h) && w->valuedouble >= 1 && h->valuedouble >= 1) {
            cJSON *clip = cJSON_AddObjectToObject(a, "clip");
            cJSON_AddNumberToObject(clip, "x", 0);
            cJSON_AddNumberToObject(clip, "y", 0);
            cJSON_AddNumberToObject(clip, "width", ceil(w->valuedouble));
            cJSON_AddNumberToObject(clip, "height", ceil(h->valuedouble));
            cJSON_AddNumberToObject(clip, "scale", 1);
            cJSON_AddBoolToObject(a, "captureBeyondViewport", true);
        }
        cJSON_Delete(r);
    }
    if ((rc = cdp__page_call(p, "Page.captureScreenshot", a, deadline, &r)))
        return rc;
    const char *data = str(r, "data");
    size_t n = data ? strlen(data) : 0;
    char *png = n ? malloc(n / 4 * 3 + 4) : NULL;
    int len = png ? lws_b64_decode_string_len(data, (int)n, png, (int)(n / 4 * 3 + 4)) : -1;
    cJSON_Delete(r);
    if (len <= 0) {
        free(png);
        cdp__seterr(p->err, "Page.captureScreenshot: no image data in the reply");
        return CDP_ERR_PROTOCOL;
    }
    rc = write_file(p, path, png, (size_t)len, "screenshot");
    free(png);
    return rc;
}

/* Serialises a copy of the document made in an inert document (no scripts, no loads, no custom
 * element constructors), with the value attribute of password inputs removed: a controlled input
 * mirrors what was typed into that attribute. Open shadow roots are kept as declarative
 * <template shadowrootmode="open"> (what a flow's selectors pierce must be findable in evidence). Runs in the isolated
 * world; the live page is not touched. */
static const char HTML_JS[] =
    "(() => { const d = document, root = d.documentElement;\n"
    "const head = d.doctype ? new XMLSerializer().serializeToString(d.doctype) + '\\n' : '';\n"
    "if (!root) return head;\n"
    "const copy = d.implementation.createHTMLDocument('').importNode(root, true);\n"
    "const shadows = (src, dst) => { const a = src.children, b = dst.children;\n"
    "  for (let i = 0; i < a.length && i < b.length; i++) shadows(a[i], b[i]);\n"
    "  const sr = src.shadowRoot; if (!sr) return;\n"
    "  const t = dst.ownerDocument.createElement('template'); t.setAttribute('shadowrootmode', 'open');\n"
    "  t.innerHTML = sr.innerHTML; shadows(sr, t.content); dst.prepend(t); };\n"
    "shadows(root, copy);\n"
    "const secret = i => { const t = (i.getAttribute('type') || '').trim().toLowerCase();\n"
    "  return t === 'password' || /(^|\\s)(current|new)-password(\\s|$)/i.test(i.getAttribute('autocomplete') || ''); "
    "};\n"
    "const scrub = n => { for (const i of n.querySelectorAll('input')) if (secret(i)) i.removeAttribute('value');\n"
    "  for (const t of n.querySelectorAll('template')) scrub(t.content); };\n"
    "scrub(copy);\n"
    "return head + copy.outerHTML; })()";

int cdp_page_html(struct cdp_page *p, const char *path, int timeout_ms)
{
    if (!p || !path)
        return CDP_ERR_ARG;
    cJSON *v = NULL;
    int rc = cdp__evaluate(p, CDP__WORLD_HELPER, HTML_JS, cdp__deadline(timeout_ms, p->timeout_ms), &v, "html");
    if (rc)
        return rc;
    if (!cJSON_IsString(v)) {
        cJSON_Delete(v);
        cdp__seterr(p->err, "html: the page's serialisation is not a string");
        return CDP_ERR_PROTOCOL;
    }
    rc = write_file(p, path, v->valuestring, strlen(v->valuestring), "html");
    cJSON_Delete(v);
    return rc;
}

/* Milliseconds since the DOM last changed, seen by a MutationObserver that the first call installs
 * in the isolated world (so a page's MutationObserver cannot hide changes); installing counts as a
 * change, since earlier ones were not observed. */
static const char SETTLE_JS[] = "(() => { let s = globalThis.__gspbotSettle;\n"
                                "if (!s) { s = globalThis.__gspbotSettle = {last: performance.now()};\n"
                                "  new MutationObserver(() => { s.last = performance.now(); }).observe(document,\n"
                                "    {subtree: true, childList: true, attributes: true, characterData: true}); }\n"
                                "return performance.now() - s.last; })()";

#define SETTLE_DEFAULT_QUIET_MS 500
#define SETTLE_STEP_MIN_MS      10  /* shortest pause between two looks */
#define SETTLE_STEP_MAX_MS      100 /* longest pause between two looks */

int cdp_page_wait_settled(struct cdp_page *p, int quiet_ms, int timeout_ms)
{
    if (!p)
        return CDP_ERR_ARG;
    if (quiet_ms <= 0)
        quiet_ms = SETTLE_DEFAULT_QUIET_MS;
    p->guard_hit = -1;
    int64_t start = cdp__now_us(), deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    char why[300] = "not checked yet";
    for (;;) {
        cJSON *v = NULL;
        int rc = cdp__evaluate(p, CDP__WORLD_HELPER, SETTLE_JS, deadline, &v, "wait_settled");
        double dom_ms;
        if (rc == CDP_ERR_TIMEOUT)
            break;
        if ((rc == CDP_ERR_JS || rc == CDP_ERR_PROTOCOL) && cdp__transient(p->err)) {
            dom_ms = 0; /* a new document: its observer starts now */
        } else if (rc) {
            return rc;
        } else {
            bool num = cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0;
            dom_ms = num ? v->valuedouble : -1;
            cJSON_Delete(v);
            if (!num) {
                cdp__seterr(p->err, "wait_settled: invalid answer from the page (not a duration)");
                return CDP_ERR_PROTOCOL;
            }
        }
        int64_t now = cdp__now_us();
        const struct cdp_page *t = p->top; /* requests of every frame of the page */
        double net_ms = t->nreqs ? 0 : (double)(now - t->net_idle_us) / 1000;
        if (dom_ms >= quiet_ms && net_ms >= quiet_ms)
            return 0;
        if (t->nreqs)
            snprintf(why, sizeof(why), "%zu request%s in flight (%s)", t->nreqs, t->nreqs == 1 ? "" : "s",
                     t->reqs[0].url);
        else if (dom_ms < quiet_ms)
            snprintf(why, sizeof(why), "the DOM changed %.0f ms ago", dom_ms);
        else
            snprintf(why, sizeof(why), "the last request ended %.0f ms ago", net_ms);
        if (now >= deadline)
            break;
        double need = quiet_ms - (dom_ms < net_ms ? dom_ms : net_ms);
        int64_t step_ms = need < SETTLE_STEP_MIN_MS   ? SETTLE_STEP_MIN_MS
                          : need > SETTLE_STEP_MAX_MS ? SETTLE_STEP_MAX_MS
                                                      : (int64_t)need;
        int64_t until = now + step_ms * 1000;
        rc = cdp__pump(p->b, until < deadline ? until : deadline, NULL, NULL);
        if (rc == CDP_ERR_STOPPED) {
            cdp__seterr(p->err, "wait_settled: stopped (interrupted)");
            return rc;
        }
        const char *gone = cdp__page_gone_why(p);
        if (rc || gone) {
            cdp__seterr(p->err, "wait_settled: browser gone (%s)", gone ? gone : p->b->gone_why);
            return CDP_ERR_GONE;
        }
    }
    cdp__seterr(p->err, "wait_settled: timeout after %lld ms: %s", (long long)((deadline - start) / 1000), why);
    return CDP_ERR_TIMEOUT;
}

int cdp_page_sleep(struct cdp_page *p, int ms)
{
    if (!p)
        return CDP_ERR_ARG;
    int rc = cdp__pump(p->b, cdp__deadline(ms > 0 ? ms : 1, 0), NULL, NULL);
    if (rc == CDP_ERR_STOPPED)
        cdp__seterr(p->err, "sleep: stopped (interrupted)");
    else if (rc)
        cdp__seterr(p->err, "sleep: browser gone (%s)", p->b->gone_why);
    return rc;
}

int cdp_page_set_viewport(struct cdp_page *p, int width, int height)
{
    if (!p || width <= 0 || height <= 0 || width > 16384 || height > 16384)
        return CDP_ERR_ARG;
    p = p->top;
    p->width = width;
    p->height = height;
    cJSON *a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "width", width);
    cJSON_AddNumberToObject(a, "height", height);
    cJSON_AddNumberToObject(a, "deviceScaleFactor", 1);
    cJSON_AddBoolToObject(a, "mobile", false);
    return cdp__page_call(p, "Emulation.setDeviceMetricsOverride", a, cdp__deadline(0, p->timeout_ms), NULL);
}

int cdp_page_block_urls(struct cdp_page *p, const char *const *patterns)
{
    if (!p)
        return CDP_ERR_ARG;
    struct cdp_page *frame = p;
    p = p->top;
    /* out-of-process iframes have sessions of their own: they get the list as they attach */
    if (cdp__page_keep_block_urls(p, patterns)) {
        cdp__seterr(frame->err, "block_urls: out of memory");
        return CDP_ERR_NOMEM;
    }
    for (size_t i = 0; i < p->nchildren; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON *cu = cJSON_AddArrayToObject(c, "urls");
        for (size_t k = 0; patterns && patterns[k]; k++)
            cJSON_AddItemToArray(cu, cJSON_CreateString(patterns[k]));
        cdp__send_async(p->b, p->children[i].session, "Network.setBlockedURLs", c);
    }
    cJSON *a = cJSON_CreateObject();
    cJSON *urls = cJSON_AddArrayToObject(a, "urls");
    for (size_t i = 0; patterns && patterns[i]; i++)
        cJSON_AddItemToArray(urls, cJSON_CreateString(patterns[i]));
    return cdp__page_call(p, "Network.setBlockedURLs", a, cdp__deadline(0, p->timeout_ms), NULL);
}

static cJSON *ctx_params(const struct cdp_page *p)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "browserContextId", p->context_id);
    return a;
}

int cdp_page_cookies_get(struct cdp_page *p, cJSON **out)
{
    if (!p || !out)
        return CDP_ERR_ARG;
    p = p->top;
    *out = NULL;
    cJSON *r = NULL;
    int rc = cdp__call(p->b, NULL, "Storage.getCookies", ctx_params(p), cdp__deadline(0, p->timeout_ms), &r, p->err);
    if (rc)
        return rc;
    cJSON *c = cJSON_DetachItemFromObjectCaseSensitive(r, "cookies");
    cJSON_Delete(r);
    *out = c ? c : cJSON_CreateArray();
    return *out ? 0 : CDP_ERR_NOMEM;
}

int cdp_page_cookies_set(struct cdp_page *p, const cJSON *cookies)
{
    if (!p || !cJSON_IsArray(cookies))
        return CDP_ERR_ARG;
    p = p->top;
    cJSON *a = ctx_params(p);
    cJSON *copy = cJSON_Duplicate(cookies, true);
    if (!a || !copy) {
        cJSON_Delete(a);
        cJSON_Delete(copy);
        return CDP_ERR_NOMEM;
    }
    cJSON_AddItemToObject(a, "cookies", copy);
    return cdp__call(p->b, NULL, "Storage.setCookies", a, cdp__deadline(0, p->timeout_ms), NULL, p->err);
}

int cdp_page_cookies_clear(struct cdp_page *p)
{
    if (!p)
        return CDP_ERR_ARG;
    p = p->top;
    return cdp__call(p->b, NULL, "Storage.clearCookies", ctx_params(p), cdp__deadline(0, p->timeout_ms), NULL, p->err);
}
