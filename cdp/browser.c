/*
 * browser.c - the public browser handle: launch (process + connection),
 * browser-level calls, and an orderly, bounded close that leaves no process,
 * zombie or profile behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp_internal.h"

#define CLOSE_TIMEOUT_MS 2000 /* Browser.close reply */

struct cdp_browser *cdp_browser_new(void)
{
    struct cdp_browser *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    snprintf(b->gone_why, sizeof(b->gone_why), "not launched");
    buf_init(&b->in, CDP__MAX_MSG);
    return b;
}

int cdp_browser_launch(struct cdp_browser *b, const struct cdp_launch_opts *opts)
{
    if (!b)
        return CDP_ERR_ARG;
    if (b->pid || b->ctx) {
        cdp__seterr(b->err, "launch: browser already launched");
        return CDP_ERR_ARG;
    }
    int64_t deadline = cdp__deadline(opts ? opts->launch_timeout_ms : 0, 20000);
    int port = 0;
    char path[256];
    int rc = cdp__launch_process(b, opts, deadline, &port, path, sizeof(path));
    if (rc)
        goto err;
    b->gone = false;
    b->gone_why[0] = '\0';
    b->interrupt = opts ? opts->interrupt : NULL;
    b->interrupt_arg = opts ? opts->interrupt_arg : NULL;
    rc = cdp__conn_open(b, port, path, deadline);
    if (rc)
        goto err;
    cJSON *v = NULL;
    rc = cdp__call(b, NULL, "Browser.getVersion", NULL, deadline, &v, b->err);
    if (rc) {
        char why[CDP__ERRLEN];
        snprintf(why, sizeof(why), "%s", b->err);
        cdp__seterr(b->err, "launch: %s", why);
        rc = CDP_ERR_LAUNCH;
        goto err;
    }
    const cJSON *prod = cJSON_GetObjectItemCaseSensitive(v, "product");
    snprintf(b->version, sizeof(b->version), "%s", cJSON_IsString(prod) ? prod->valuestring : "");
    cJSON_Delete(v);
    b->err[0] = '\0';
    return 0;
err : {
    char keep[CDP__ERRLEN];
    snprintf(keep, sizeof(keep), "%s", b->err);
    cdp__conn_close(b);
    cdp__process_stop(b);
    snprintf(b->err, sizeof(b->err), "%s", keep);
    return rc;
}
}

void cdp_browser_free(struct cdp_browser *b)
{
    if (!b)
        return;
    while (b->pages)
        cdp__page_release(b->pages);
    b->interrupt = NULL; // closing is bounded; a pending stop request must not skip Browser.close
    if (b->ctx && !b->gone)
        if (cdp__call(b, NULL, "Browser.close", NULL, cdp__deadline(CLOSE_TIMEOUT_MS, 0), NULL, b->err)) {
            /* not answering: the process stop below escalates to signals */
        }
    cdp__conn_close(b);
    cdp__process_stop(b);
    free(b);
}

const char *cdp_browser_errmsg(const struct cdp_browser *b)
{
    return b ? b->err : "no browser";
}

bool cdp_browser_is_gone(const struct cdp_browser *b)
{
    return !b || b->gone;
}

pid_t cdp_browser_pid(const struct cdp_browser *b)
{
    return b ? b->pid : 0;
}

const char *cdp_browser_version(const struct cdp_browser *b)
{
    return b ? b->version : "";
}

int cdp_browser_call(struct cdp_browser *b, const char *method, const cJSON *params, int timeout_ms, cJSON **result)
{
    if (!b || !method)
        return CDP_ERR_ARG;
    cJSON *copy = NULL;
    if (params && !(copy = cJSON_Duplicate(params, true)))
        return CDP_ERR_NOMEM;
    return cdp__call(b, NULL, method, copy, cdp__deadline(timeout_ms, 30000), result, b->err);
}
