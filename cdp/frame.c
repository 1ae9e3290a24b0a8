/*
 * frame.c - frame handles: acting inside <iframe>s, same-origin or not,
 * nested. A frame handle is a struct cdp_page that names an iframe by a
 * selector in its parent's document (the page, or another frame handle) and
 * is owned by its page. It is bound lazily, and again whenever its frame
 * went away (removed, replaced, its parent navigated, moved to another
 * renderer process): the parent's isolated world finds the iframe element
 * (waiting for it), DOM.describeNode gives the frame id, and the frame lives
 * either in the parent's session (same process) or in the auto-attached
 * child session whose target id is that frame id (an out-of-process iframe:
 * Chromium isolates sites). The binding is done when the frame's own
 * isolated world answers with a document that is not the initial about:blank.
 * session.c undoes bindings on Page.frameDetached, Page.frameNavigated of the
 * parent frame and the end of a child session.
 *
 * Clicks: a point inside a frame is translated ancestor by ancestor: in each
 * ancestor document, the owner <iframe> (DOM.getFrameOwner, resolved in that
 * document's isolated world) adds its content-box offset and must be what a
 * click at that point would hit (an overlay over the iframe blocks the click
 * like any other). The input then goes to the session of the innermost
 * out-of-process frame on the way, in its own viewport's coordinates (or to
 * the page's session in top coordinates when there is none): Chromium also
 * routes top-level input into out-of-process iframes, but by the
 * compositor's hit-test data, which lags behind a frame that just loaded
 * (the click then lands on the page, not in the frame).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp_internal.h"

#define BIND_PAUSE_MS   50             /* between two tries at binding */
#define SLICE_MAX_MS    2000           /* longest in-page wait for the iframe element per try */
#define GUARD_LOOK_MS   200            /* ... when the pages above have guards to look at between tries */
#define SLICE_MARGIN_MS 150            /* a slice ends this long before the deadline */
#define OBJ_GROUP       "gspbot-frame" /* Runtime object group of the remote objects we hold */
#define COORD_MAX       1e7            /* CSS px: a point farther out is not an answer */

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool cdp__frame_valid(const struct cdp_page *f)
{
    for (; f->parent; f = f->parent)
        if (!f->bound || f->parent_gen != f->parent->gen)
            return false;
    return true;
}

void cdp__frame_unbind(struct cdp_page *f)
{
    f->bound = false;
    f->frame_id[0] = '\0';
    cdp__world_forget(f);
}

void cdp__frame_name(const struct cdp_page *p, char *out, size_t len)
{
    if (len)
        out[0] = '\0';
    if (p->parent)
        snprintf(out, len, " in frame %s", p->frame_path);
}

static int slice_ms(int64_t deadline, int cap)
{
    int64_t left = (deadline - cdp__now_us()) / 1000 - SLICE_MARGIN_MS;
    return left <= 0 ? 0 : left > cap ? cap : (int)left;
}

/* Copies src's error text into dst (when they differ). */
static void err_from(struct cdp_page *dst, const struct cdp_page *src)
{
    if (dst != src)
        snprintf(dst->err, sizeof(dst->err), "%s", src->err);
}

/* Looks for f's iframe in its parent's document, waiting up to slice ms; on success the parent's
 * isolated world holds it in __gspbotFrameEl and *blank tells whether about:blank is its page. */
static int find_iframe(struct cdp_page *f, int64_t deadline, int slice, bool *blank, char *why, size_t whylen)
{
    struct cdp_page *P = f->parent;
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "op", "frame");
    cJSON_AddStringToObject(a, "sel", f->frame_sel);
    cJSON_AddArrayToObject(a, "guards");
    char *aj = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    char call[8192];
    if (!aj || snprintf(call, sizeof(call), "poll(%s, %d)", aj, slice) >= (int)sizeof(call)) {
        cJSON_free(aj);
        cdp__seterr(f->err, "frame %s: %s", f->frame_sel, aj ? "selector too long" : "out of memory");
        return aj ? CDP_ERR_ARG : CDP_ERR_NOMEM;
    }
    cJSON_free(aj);
    char what[300];
    snprintf(what, sizeof(what), "frame %s", f->frame_path);
    cJSON *res = NULL;
    int rc = cdp__helper(P, call, deadline, &res, what);
    if ((rc == CDP_ERR_JS || rc == CDP_ERR_PROTOCOL) && cdp__transient(P->err)) {
        if (P->parent)
            cdp__frame_unbind(P);
        snprintf(why, whylen, "%s: the page was navigating", what);
        return CDP__AGAIN;
    }
    if (rc) {
        err_from(f, P);
        return rc;
    }
    const char *m = str(res, "msg"), *fatal = str(res, "fatal"), *w = str(res, "why");
    if (!cJSON_IsObject(res)) {
        rc = CDP_ERR_PROTOCOL;
        cdp__seterr(f->err, "%s: invalid answer from the page (not an object)", what);
    } else if (cJSON_GetObjectItemCaseSensitive(res, "badsel")) {
        rc = CDP_ERR_ARG;
        cdp__seterr(f->err, "frame \"%s\": %s", f->frame_sel, m ? m : "not a valid selector");
    } else if (fatal) {
        rc = CDP_ERR_ARG;
        cdp__seterr(f->err, "%s: %s", what, fatal);
    } else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "done"))) {
        rc = CDP__AGAIN;
        snprintf(why, whylen, "%s: %s", what, w ? w : "not there yet");
    } else {
        *blank = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "blank"));
    }
    cJSON_Delete(res);
    return rc;
}

/* The frame id of the iframe the parent's world holds (__gspbotFrameEl): "" when it has no content
 * frame (yet). */
static int iframe_frame_id(struct cdp_page *f, int64_t deadline, char *out, size_t len)
{
    struct cdp_page *P = f->parent;
    out[0] = '\0';
    if (!P->world_ctx)
        return CDP__AGAIN;
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "expression", "globalThis.__gspbotFrameEl");
    if (P->world_uid[0])
        cJSON_AddStringToObject(a, "uniqueContextId", P->world_uid);
    else
        cJSON_AddNumberToObject(a, "contextId", P->world_ctx);
    cJSON_AddStringToObject(a, "objectGroup", OBJ_GROUP);
    cJSON *r = NULL;
    int rc = cdp__page_call(P, "Runtime.evaluate", a, deadline, &r);
    const char *oid = rc ? NULL : str(cJSON_GetObjectItemCaseSensitive(r, "result"), "objectId");
    if (!rc && oid) {
        a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "objectId", oid);
        cJSON *d = NULL;
        rc = cdp__page_call(P, "DOM.describeNode", a, deadline, &d);
        const char *fid = rc ? NULL : str(cJSON_GetObjectItemCaseSensitive(d, "node"), "frameId");
        if (fid && strlen(fid) < len)
            memcpy(out, fid, strlen(fid) + 1);
        cJSON_Delete(d);
        a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "objectGroup", OBJ_GROUP);
        cdp__send_async(P->b, P->session_id, "Runtime.releaseObjectGroup", a);
    }
    cJSON_Delete(r);
    if (rc) {
        err_from(f, P);
        return (rc == CDP_ERR_PROTOCOL || rc == CDP_ERR_JS) && cdp__transient(P->err) ? CDP__AGAIN : rc;
    }
    return out[0] ? 0 : CDP__AGAIN;
}

/* Is the bound frame's document there (not loading, not the initial about:blank)? */
static int frame_ready(struct cdp_page *f, int64_t deadline, bool blank, char *why, size_t whylen)
{
    cJSON *res = NULL;
    f->binding = true;
    int rc = cdp__helper(f, "doc()", deadline, &res, "frame");
    f->binding = false;
    if ((rc == CDP_ERR_JS || rc == CDP_ERR_PROTOCOL) && cdp__transient(f->err)) {
        snprintf(why, whylen, "frame %s: its document is loading", f->frame_path);
        return CDP__AGAIN;
    }
    if (rc)
        return rc;
    const char *ready = str(res, "ready"), *href = str(res, "href");
    if (!ready || !href) {
        rc = CDP_ERR_PROTOCOL;
        cdp__seterr(f->err, "frame %s: invalid answer from the frame", f->frame_path);
    } else if (strncmp(href, "chrome-error:", 13) == 0) {
        rc = CDP__AGAIN;
        snprintf(why, whylen, "frame %s: its page failed to load", f->frame_path);
    } else if (strcmp(ready, "loading") == 0 || (!blank && strcmp(href, "about:blank") == 0)) {
        rc = CDP__AGAIN;
        snprintf(why, whylen, "frame %s: its page is loading", f->frame_path);
    }
    cJSON_Delete(res);
    return rc;
}

int cdp__frame_try_bind(struct cdp_page *f, int64_t deadline, int slice, char *why, size_t whylen)
{
    if (!f->parent || cdp__frame_valid(f))
        return 0;
    struct cdp_page *P = f->parent;
    int rc = cdp__frame_try_bind(P, deadline, slice, why, whylen);
    if (rc < 0)
        err_from(f, P);
    if (rc)
        return rc;
    bool blank = false;
    if ((rc = find_iframe(f, deadline, slice, &blank, why, whylen)))
        return rc;
    char fid[CDP__IDLEN];
    if ((rc = iframe_frame_id(f, deadline, fid, sizeof(fid)))) {
        if (rc == CDP__AGAIN)
            snprintf(why, whylen, "frame %s: the iframe has no document yet", f->frame_path);
        return rc;
    }
    /* An out-of-process iframe has a session of its own; otherwise the frame lives in the
     * parent's renderer, and session. */
    const struct cdp__child *c = cdp__child_find(f->top, fid);
    if (c && c->crashed) {
        snprintf(why, whylen, "frame %s: its renderer crashed", f->frame_path);
        return CDP__AGAIN;
    }
    const char *sid = c ? c->session : P->session_id;
    if (strcmp(f->frame_id, fid) != 0 || strcmp(f->session_id, sid) != 0)
        cdp__world_forget(f);
    memcpy(f->frame_id, fid, strlen(fid) + 1);
    memmove(f->session_id, sid, strlen(sid) + 1);
    f->bound = true;
    if ((rc = frame_ready(f, deadline, blank, why, whylen))) {
        cdp__frame_unbind(f);
        return rc;
    }
    f->gen++;
    f->parent_gen = P->gen;
    return 0;
}

int cdp__frame_bind(struct cdp_page *f, int64_t deadline, const char *what)
{
    if (!f->parent || cdp__frame_valid(f))
        return 0;
    int64_t start = cdp__now_us();
    char why[512] = "not tried yet";
    f->guard_hit = -1;
    f->guard_hit_by = NULL;
    bool above = cdp__ancestors_have_guards(f);
    for (;;) {
        // What shows above while the iframe is missing (an error, the login form that replaced
        // the whole view) ends the wait: look up there between tries of at most GUARD_LOOK_MS.
        int rc = above ? cdp__ancestors_guards(f, deadline) : 0;
        if (rc)
            return rc;
        rc = cdp__frame_try_bind(f, deadline, slice_ms(deadline, above ? GUARD_LOOK_MS : SLICE_MAX_MS), why,
                                 sizeof(why));
        if (rc == 0)
            return 0;
        if (rc < 0 && rc != CDP_ERR_TIMEOUT)
            return rc;
        int64_t now = cdp__now_us();
        if (rc == CDP_ERR_TIMEOUT || now >= deadline) {
            cdp__seterr(f->err, "%s: timeout after %lld ms: %s", what, (long long)((deadline - start) / 1000), why);
            return CDP_ERR_TIMEOUT;
        }
        int64_t until = now + BIND_PAUSE_MS * 1000;
        rc = cdp__pump(f->b, until < deadline ? until : deadline, NULL, NULL);
        const char *gone = cdp__page_gone_why(f);
        if (rc == CDP_ERR_STOPPED) {
            cdp__seterr(f->err, "%s: stopped (interrupted)", what);
            return rc;
        }
        if (rc || gone) {
            cdp__seterr(f->err, "%s: browser gone (%s)", what, gone ? gone : f->b->gone_why);
            return CDP_ERR_GONE;
        }
    }
}

/* The owner <iframe> of h's frame, in the parent's isolated world: objectId into *oid. */
static int owner_object(struct cdp_page *h, int64_t deadline, char *oid, size_t len)
{
    struct cdp_page *P = h->parent;
    int rc = cdp__helper_ready(P, deadline, "click");
    if (rc)
        return rc;
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "frameId", h->frame_id);
    cJSON *r = NULL;
    if ((rc = cdp__page_call(P, "DOM.getFrameOwner", a, deadline, &r)))
        return rc;
    const cJSON *bn = cJSON_GetObjectItemCaseSensitive(r, "backendNodeId");
    double node = cJSON_IsNumber(bn) ? bn->valuedouble : 0;
    cJSON_Delete(r);
    if (!(node >= 1 && node <= 2147483647.0 && node == floor(node))) {
        cdp__seterr(P->err, "DOM.getFrameOwner: reply without a valid backendNodeId");
        return CDP_ERR_PROTOCOL;
    }
    a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "backendNodeId", node);
    cJSON_AddNumberToObject(a, "executionContextId", P->world_ctx);
    cJSON_AddStringToObject(a, "objectGroup", OBJ_GROUP);
    if ((rc = cdp__page_call(P, "DOM.resolveNode", a, deadline, &r)))
        return rc;
    const char *o = str(cJSON_GetObjectItemCaseSensitive(r, "object"), "objectId");
    if (o && strlen(o) < len)
        memcpy(oid, o, strlen(o) + 1);
    else
        rc = CDP_ERR_PROTOCOL;
    cJSON_Delete(r);
    if (rc)
        cdp__seterr(P->err, "DOM.resolveNode: reply without an objectId");
    return rc;
}

static const char OWNER_FN[] = "function (x, y) { const g = globalThis.__gspbot;\n"
                               "  return g ? g.owner.call(this, x, y) : {done: false, why: 'helpers not ready'}; }";

/* (x, y) in h's frame -> its parent's viewport, if the owner iframe is hit there. */
static int owner_point(struct cdp_page *h, double *x, double *y, int64_t deadline, char *why, size_t whylen)
{
    struct cdp_page *P = h->parent;
    char oid[256];
    int rc = owner_object(h, deadline, oid, sizeof(oid));
    cJSON *r = NULL;
    if (!rc) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "objectId", oid);
        cJSON_AddStringToObject(a, "functionDeclaration", OWNER_FN);
        cJSON *args = cJSON_AddArrayToObject(a, "arguments");
        cJSON *ax = cJSON_CreateObject(), *ay = cJSON_CreateObject();
        cJSON_AddNumberToObject(ax, "value", *x);
        cJSON_AddNumberToObject(ay, "value", *y);
        cJSON_AddItemToArray(args, ax);
        cJSON_AddItemToArray(args, ay);
        cJSON_AddBoolToObject(a, "returnByValue", true);
        rc = cdp__page_call(P, "Runtime.callFunctionOn", a, deadline, &r);
    }
    cJSON *rel = cJSON_CreateObject();
    cJSON_AddStringToObject(rel, "objectGroup", OBJ_GROUP);
    cdp__send_async(P->b, P->session_id, "Runtime.releaseObjectGroup", rel);
    if (rc) {
        cJSON_Delete(r);
        if ((rc == CDP_ERR_PROTOCOL || rc == CDP_ERR_JS) &&
            (cdp__transient(P->err) || strstr(P->err, "Could not find object with given id"))) {
            snprintf(why, whylen, "frame %s: the page was navigating", h->frame_path);
            return CDP__AGAIN;
        }
        err_from(h, P);
        return rc;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "result"), "value");
    const cJSON *nx = cJSON_GetObjectItemCaseSensitive(v, "x"), *ny = cJSON_GetObjectItemCaseSensitive(v, "y");
    if (cJSON_GetObjectItemCaseSensitive(r, "exceptionDetails")) {
        char text[512];
        cdp__exception_text(cJSON_GetObjectItemCaseSensitive(r, "exceptionDetails"), text, sizeof(text));
        cdp__seterr(h->err, "frame %s: %s", h->frame_path, text);
        rc = CDP_ERR_JS;
    } else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "done"))) {
        const char *w = str(v, "why");
        snprintf(why, whylen, "frame %s: %s", h->frame_path, w ? w : "the iframe is not clickable");
        rc = CDP__AGAIN;
    } else if (!cJSON_IsNumber(nx) || !cJSON_IsNumber(ny) || !(fabs(nx->valuedouble) < COORD_MAX) ||
               !(fabs(ny->valuedouble) < COORD_MAX)) {
        cdp__seterr(h->err, "frame %s: invalid answer from the page (no click point)", h->frame_path);
        rc = CDP_ERR_PROTOCOL;
    } else {
        *x = nx->valuedouble;
        *y = ny->valuedouble;
    }
    cJSON_Delete(r);
    return rc;
}

int cdp__frame_point(struct cdp_page *f, double *x, double *y, struct cdp_page **via, int64_t deadline, char *why,
                     size_t whylen)
{
    *via = NULL;
    double vx = *x, vy = *y;
    for (struct cdp_page *h = f; h->parent; h = h->parent) {
        if (!cdp__frame_valid(h)) {
            snprintf(why, whylen, "frame %s was replaced", h->frame_path);
            return CDP__AGAIN;
        }
        /* the innermost frame with a session of its own takes the input, at this point */
        if (!*via && strcmp(h->session_id, h->parent->session_id) != 0) {
            *via = h;
            vx = *x;
            vy = *y;
        }
        int rc = owner_point(h, x, y, deadline, why, whylen);
        if (rc < 0)
            err_from(f, h);
        if (rc)
            return rc;
    }
    if (*via) {
        *x = vx;
        *y = vy;
    } else {
        *via = f->top;
    }
    return 0;
}

void cdp__frame_free(struct cdp_page *f)
{
    if (!f)
        return;
    if (f->b->wait_page == f)
        f->b->wait_page = NULL;
    cdp__guards_clear(f);
    free(f->frame_sel);
    free(f->frame_path);
    free(f);
}

/* The handle for selector under parent: the existing one, or a new one (unbound). Errors go to
 * errp->err. */
static struct cdp_page *frame_child(struct cdp_page *parent, const char *sel, struct cdp_page *errp, int *rc)
{
    struct cdp_page *t = parent->top;
    for (struct cdp_page *f = t->frames; f; f = f->next)
        if (f->parent == parent && strcmp(f->frame_sel, sel) == 0)
            return f;
    if (t->nframes >= CDP__FRAMES_MAX) {
        cdp__seterr(errp->err, "frame %s: too many frame handles (%d)", sel, CDP__FRAMES_MAX);
        *rc = CDP_ERR_ARG;
        return NULL;
    }
    struct cdp_page *f = calloc(1, sizeof(*f));
    size_t plen = (parent->parent ? strlen(parent->frame_path) + 4 : 0) + strlen(sel) + 1;
    char *path = malloc(plen);
    char *s = strdup(sel);
    if (!f || !path || !s) {
        free(f);
        free(path);
        free(s);
        cdp__seterr(errp->err, "frame %s: out of memory", sel);
        *rc = CDP_ERR_NOMEM;
        return NULL;
    }
    snprintf(path, plen, "%s%s%s", parent->parent ? parent->frame_path : "", parent->parent ? " >> " : "", sel);
    f->b = parent->b;
    f->top = t;
    f->parent = parent;
    f->frame_sel = s;
    f->frame_path = path;
    f->timeout_ms = t->timeout_ms;
    f->slow_mo_ms = t->slow_mo_ms;
    f->guard_hit = -1;
    f->next = t->frames;
    t->frames = f;
    t->nframes++;
    return f;
}

int cdp_page_frame(struct cdp_page *p, const char *const *iframe_selectors, size_t n, int timeout_ms,
                   struct cdp_page **out)
{
    if (out)
        *out = NULL;
    if (!p || !iframe_selectors || !n || !out)
        return CDP_ERR_ARG;
    for (size_t i = 0; i < n; i++)
        if (!iframe_selectors[i] || !*iframe_selectors[i]) {
            cdp__seterr(p->err, "frame: selector %zu is empty", i);
            return CDP_ERR_ARG;
        }
    int64_t deadline = cdp__deadline(timeout_ms, p->timeout_ms);
    struct cdp_page *cur = p;
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (!(cur = frame_child(cur, iframe_selectors[i], p, &rc)))
            return rc;
    char what[300];
    snprintf(what, sizeof(what), "frame %s", cur->frame_path);
    if ((rc = cdp__frame_bind(cur, deadline, what))) {
        snprintf(p->err, sizeof(p->err), "%s", cur->err);
        return rc;
    }
    *out = cur;
    return 0;
}
