/*
 * page.c - the page API that is not about elements: navigate and wait for the
 * load event (matched by loaderId on Page.lifecycleEvent, never on the reply
 * to Page.navigate), evaluate, screenshots, HTML, viewport, blocked URLs and
 * cookies. Element actions and waits live in input.c.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (w->p->crashed || w->p->detached)
        return true;
    for (unsigned i = 0; i < CDP__RING; i++)
        if (strcmp(w->p->loads[i], w->loader) == 0)
            return true;
    return false;
}

static int doc_status(const struct cdp_page *p, const char *loader)
{
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
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "url", url);
    cJSON *r = NULL;
    int rc = cdp__page_call(p, "Page.navigate", a, deadline, &r);
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
    if (rc || p->crashed || p->detached) {
        cdp__seterr(p->err, "Page.navigate: browser gone (%s)",
                    p->crashed ? "page crashed: Inspector.targetCrashed"
                               : (p->detached ? "page detached" : p->b->gone_why));
        return CDP_ERR_GONE;
    }
    if (http_status)
        *http_status = doc_status(p, loader);
    return 0;
}

/* Converts a Runtime.RemoteObject obtained with returnByValue to cJSON. */
static cJSON *remote_value(cJSON *ro)
{
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(ro, "value");
    if (v)
        return v;
    const char *u = str(ro, "unserializableValue"); /* NaN, Infinity, -0, 12n */
    if (u)
        return cJSON_CreateString(u);
    return cJSON_CreateNull();
}

int cdp__evaluate(struct cdp_page *p, const char *expression, int64_t deadline, cJSON **result, const char *what)
{
    if (result)
        *result = NULL;
    cJSON *a = cJSON_CreateObject();
    if (!a || !cJSON_AddStringToObject(a, "expression", expression)) {
        cJSON_Delete(a);
        cdp__seterr(p->err, "%s: out of memory", what);
        return CDP_ERR_NOMEM;
    }
    cJSON_AddBoolToObject(a, "returnByValue", true);
    cJSON_AddBoolToObject(a, "awaitPromise", true);
    cJSON *r = NULL;
    int rc = cdp__page_call(p, "Runtime.evaluate", a, deadline, &r);
    if (rc)
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
            return CDP_ERR_NOMEM;
        }
    }
    cJSON_Delete(r);
    return 0;
}

int cdp_page_evaluate(struct cdp_page *p, const char *expression, int timeout_ms, cJSON **result)
{
    if (result)
        *result = NULL;
    if (!p || !expression)
        return CDP_ERR_ARG;
    p->guard_hit = -1;
    return cdp__evaluate(p, expression, cdp__deadline(timeout_ms, p->timeout_ms), result, "Runtime.evaluate");
}

static int write_file(struct cdp_page *p, const char *path, const void *data, size_t len, const char *what)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        cdp__seterr(p->err, "%s: path too long", what);
        return CDP_ERR_ARG;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        cdp__seterr(p->err, "%s: cannot write %s: %s", what, tmp, strerror(errno));
        return CDP_ERR_IO;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        cdp__seterr(p->err, "%s: cannot write %s: %s", what, path, strerror(errno));
        remove(tmp);
        return CDP_ERR_IO;
    }
    return 0;
}

int cdp_page_screenshot(struct cdp_page *p, const char *path, bool full_page, int timeout_ms)
{
    if (!p || !path)
        return CDP_ERR_ARG;
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

int cdp_page_html(struct cdp_page *p, const char *path, int timeout_ms)
{
    if (!p || !path)
        return CDP_ERR_ARG;
    cJSON *v = NULL;
    int rc = cdp__evaluate(p,
                           "(document.doctype ? new XMLSerializer().serializeToString(document.doctype) + '\\n' : '')"
                           " + (document.documentElement ? document.documentElement.outerHTML : '')",
                           cdp__deadline(timeout_ms, p->timeout_ms), &v, "html");
    if (rc)
        return rc;
    const char *s = cJSON_IsString(v) ? v->valuestring : "";
    rc = write_file(p, path, s, strlen(s), "html");
    cJSON_Delete(v);
    return rc;
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
    return cdp__call(p->b, NULL, "Storage.clearCookies", ctx_params(p), cdp__deadline(0, p->timeout_ms), NULL, p->err);
}
