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
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cdp_internal.h"

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

/* Page.createIsolatedWorld on the main frame. The Runtime.executionContextCreated event for it
 * arrives before the reply (one session, in order) and gives session.c its uniqueId. */
static int world_make(struct cdp_page *p, int64_t deadline, const char *what)
{
    cJSON *a = cJSON_CreateObject();
    if (!a || !cJSON_AddStringToObject(a, "frameId", p->target_id) ||
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

static cJSON *evaluate_params(const struct cdp_page *p, enum cdp__world world, const char *expression)
{
    cJSON *a = cJSON_CreateObject();
    bool ok = a && cJSON_AddStringToObject(a, "expression", expression) &&
              cJSON_AddBoolToObject(a, "returnByValue", true) && cJSON_AddBoolToObject(a, "awaitPromise", true);
    if (ok && world == CDP__WORLD_HELPER)
        ok = p->world_uid[0] ? cJSON_AddStringToObject(a, "uniqueContextId", p->world_uid) != NULL
                             : cJSON_AddNumberToObject(a, "contextId", p->world_ctx) != NULL;
    if (!ok) {
        cJSON_Delete(a);
        return NULL;
    }
    return a;
}

int cdp__evaluate(struct cdp_page *p, enum cdp__world world, const char *expression, int64_t deadline, cJSON **result,
                  const char *what)
{
    if (result)
        *result = NULL;
    cJSON *r = NULL;
    int rc;
    for (int attempt = 0;; attempt++) {
        if (world == CDP__WORLD_HELPER && !p->world_ctx && (rc = world_make(p, deadline, what)))
            return rc;
        cJSON *a = evaluate_params(p, world, expression);
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
