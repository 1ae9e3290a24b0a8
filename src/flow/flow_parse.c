/* flow_parse: reads a flow file into struct flow and checks everything that can be checked
 * without a browser, reporting every problem with its JSON path (`gspbot flow check`). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "flow_internal.h"

#define FLOW_FILE_MAX       (4 * 1024 * 1024) /* bytes; a flow is a page of JSON */
#define FLOW_DIAGS_MAX      200
#define FLOW_TIMEOUT_MAX_MS 3600000
#define FLOW_SLEEP_MAX_MS   600000

const char *const FLOW_VERB_NAMES[FLOW_VERB_COUNT] = {
    "goto", "click", "fill", "select", "press", "wait_for", "wait_url", "eval", "screenshot", "sleep_ms", "capture"};

#define VERB_LIST "goto, click, fill, select, press, wait_for, wait_url, eval, screenshot, sleep_ms, capture"
#define OPTION_LIST                                                                                                    \
    "timeout_ms, text, optional, value, secret, on, state, unless_here, frame, dialog, dialog_text, popup, as"

const char *flow_class_name(enum flow_class c)
{
    switch (c) {
    case FLOW_CLASS_FATAL: return "fatal";
    case FLOW_CLASS_RECOVERABLE: return "recoverable";
    case FLOW_CLASS_SESSION: return "session";
    case FLOW_CLASS_ABORT: return "abort";
    default: return "none";
    }
}

/* Options and which verbs take them. */
enum {
    OPT_TIMEOUT = 1 << 0,
    OPT_TEXT = 1 << 1,
    OPT_OPTIONAL = 1 << 2,
    OPT_VALUE = 1 << 3,
    OPT_SECRET = 1 << 4,
    OPT_ON = 1 << 5,
    OPT_STATE = 1 << 6,
    OPT_UNLESS_HERE = 1 << 7,
    OPT_FRAME = 1 << 8,
    OPT_DIALOG = 1 << 9,
    OPT_DIALOG_TEXT = 1 << 10,
    OPT_POPUP = 1 << 11,
    OPT_AS = 1 << 12,
};

static const struct {
    const char *name;
    unsigned bit;
} OPTIONS[] = {{"timeout_ms", OPT_TIMEOUT},
               {"text", OPT_TEXT},
               {"optional", OPT_OPTIONAL},
               {"value", OPT_VALUE},
               {"secret", OPT_SECRET},
               {"on", OPT_ON},
               {"state", OPT_STATE},
               {"unless_here", OPT_UNLESS_HERE},
               {"frame", OPT_FRAME},
               {"dialog", OPT_DIALOG},
               {"dialog_text", OPT_DIALOG_TEXT},
               {"popup", OPT_POPUP},
               {"as", OPT_AS}};

/* Options every verb that may open a JS dialog or a window takes. */
#define OPT_OPENS (OPT_DIALOG | OPT_DIALOG_TEXT | OPT_POPUP)

static const unsigned VERB_OPTIONS[FLOW_VERB_COUNT] = {
    [FLOW_GOTO] = OPT_TIMEOUT | OPT_OPTIONAL | OPT_UNLESS_HERE | OPT_DIALOG | OPT_DIALOG_TEXT | OPT_POPUP,
    [FLOW_CLICK] = OPT_TIMEOUT | OPT_OPTIONAL | OPT_TEXT | OPT_FRAME | OPT_OPENS,
    [FLOW_FILL] = OPT_TIMEOUT | OPT_OPTIONAL | OPT_TEXT | OPT_VALUE | OPT_SECRET | OPT_FRAME | OPT_OPENS,
    [FLOW_SELECT] = OPT_TIMEOUT | OPT_OPTIONAL | OPT_TEXT | OPT_VALUE | OPT_FRAME | OPT_OPENS,
    [FLOW_PRESS] = OPT_TIMEOUT | OPT_OPTIONAL | OPT_TEXT | OPT_ON | OPT_FRAME | OPT_OPENS,
    [FLOW_WAIT_FOR] = OPT_TIMEOUT | OPT_OPTIONAL | OPT_TEXT | OPT_STATE | OPT_FRAME | OPT_POPUP,
    [FLOW_WAIT_URL] = OPT_TIMEOUT | OPT_OPTIONAL | OPT_POPUP,
    [FLOW_EVAL] = OPT_TIMEOUT | OPT_OPTIONAL | OPT_FRAME | OPT_OPENS,
    [FLOW_SCREENSHOT] = OPT_OPTIONAL | OPT_POPUP,
    [FLOW_SLEEP_MS] = OPT_POPUP,
    [FLOW_CAPTURE] = OPT_TIMEOUT | OPT_OPTIONAL | OPT_TEXT | OPT_FRAME | OPT_AS | OPT_POPUP,
};

/* Where captured values may go (columns of the order). */
static const char *const CAPTURE_NAMES[] = {"portal_reference"};

/* ARIA roles a {"role": ...} target may name (WAI-ARIA 1.2, the ones a form or a page shows). */
static const char *const ARIA_ROLES[] = {
    "alert",        "alertdialog", "article",       "banner",           "button",        "cell",     "checkbox",
    "columnheader", "combobox",    "complementary", "contentinfo",      "dialog",        "document", "feed",
    "figure",       "form",        "grid",          "gridcell",         "group",         "heading",  "img",
    "link",         "list",        "listbox",       "listitem",         "main",          "marquee",  "math",
    "menu",         "menubar",     "menuitem",      "menuitemcheckbox", "menuitemradio", "meter",    "navigation",
    "note",         "option",      "paragraph",     "presentation",     "progressbar",   "radio",    "radiogroup",
    "region",       "row",         "rowgroup",      "rowheader",        "scrollbar",     "search",   "searchbox",
    "separator",    "slider",      "spinbutton",    "status",           "switch",        "tab",      "table",
    "tablist",      "tabpanel",    "term",          "textbox",          "timer",         "toolbar",  "tooltip",
    "tree",         "treegrid",    "treeitem"};

/* Where a template is, for the scope rules of its variables. */
enum tmpl_where {
    IN_FLOW, /* base_url: configuration only */
    IN_STEP, /* actions, skip_if, cart: configuration and order */
    IN_ITEM  /* for_each_item, after_item_error: everything */
};

struct parser {
    struct flow_diags *diags;
    struct flow *flow;
    bool oom;
};

__attribute__((format(printf, 3, 4))) static void diag(struct parser *p, const char *path, const char *fmt, ...)
{
    struct flow_diags *d = p->diags;
    if (d->n >= FLOW_DIAGS_MAX)
        return;
    struct flow_diag *nv = realloc(d->v, (d->n + 1) * sizeof *nv);
    if (nv == NULL) {
        p->oom = true;
        return;
    }
    d->v = nv;
    struct flow_diag *x = &d->v[d->n++];
    snprintf(x->path, sizeof x->path, "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->message, sizeof x->message, fmt, ap);
    va_end(ap);
}

static char *dup_or_oom(struct parser *p, const char *s)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        p->oom = true;
    return d;
}

static const char *type_name(const cJSON *j)
{
    if (cJSON_IsString(j))
        return "a string";
    if (cJSON_IsNumber(j))
        return "a number";
    if (cJSON_IsBool(j))
        return "true/false";
    if (cJSON_IsNull(j))
        return "null";
    if (cJSON_IsArray(j))
        return "an array";
    return "an object";
}

/* Checks a template's variables: known, in scope, secret only where allowed. */
static void check_template(struct parser *p, const char *path, const char *tmpl, enum tmpl_where where, bool secret_ok)
{
    if (tmpl == NULL) // its copy ran out of memory (p->oom is set): nothing to check
        return;
    for (const char *d = strstr(tmpl, "${"); d != NULL; d = strstr(d + 2, "${")) {
        const char *end = strchr(d + 2, '}');
        if (end == NULL) {
            diag(p, path, "unclosed \"${\"");
            return;
        }
        int len = (int)(end - d - 2);
        const struct flow_var_def *v = flow__var_find(d + 2, (size_t)len);
        if (v == NULL) {
            diag(p, path,
                 "unknown variable ${%.*s} (known: GSP_BASE_URL, GSP_USER_CODE, GSP_PASSWORD, GSP_CYCLE, "
                 "order.consultora_code, order.consultora_name, order.id, item.product_code, item.quantity, "
                 "item.cart_quantity)",
                 len > 60 ? 60 : len, d + 2);
        } else if (v->scope == FLOW_VAR_ITEM && where != IN_ITEM) {
            diag(p, path, "${%s} is only available inside for_each_item and after_item_error", v->name);
        } else if (v->scope == FLOW_VAR_ORDER && where == IN_FLOW) {
            diag(p, path, "${%s} is only available inside steps", v->name);
        } else if (v->secret && !secret_ok) {
            diag(p, path, "${%s} may only be the value of a fill with \"secret\": true (it would be logged)", v->name);
        }
    }
}

/* Checks a selector template: its variables, then its syntax with each variable as a word. */
static void check_selector(struct parser *p, const char *path, const char *sel, enum tmpl_where where)
{
    if (sel == NULL) // its copy ran out of memory (p->oom is set)
        return;
    if (*sel == '\0') {
        diag(p, path, "empty selector");
        return;
    }
    check_template(p, path, sel, where, /* secret_ok= */ false);
    char buf[1024];
    size_t o = 0;
    for (const char *s = sel; *s != '\0' && o + 2 < sizeof buf;) {
        const char *end = strncmp(s, "${", 2) == 0 ? strchr(s, '}') : NULL;
        if (end != NULL) {
            buf[o++] = 'x';
            s = end + 1;
        } else {
            buf[o++] = *s++;
        }
    }
    buf[o] = '\0';
    char why[160];
    if (!flow_css_check(buf, why, sizeof why))
        diag(p, path, "bad selector \"%.100s\": %s", sel, why);
}

static bool is_selector_verb(enum flow_verb v)
{
    return v == FLOW_CLICK || v == FLOW_FILL || v == FLOW_SELECT || v == FLOW_WAIT_FOR || v == FLOW_CAPTURE;
}

/* {"role": "button", "name": "Agregar"} -> role=button[name="Agregar"] (the name's literal text
 * escaped; its variables are escaped when expanded, FLOW_CTX_ROLE). NULL after a diagnostic. */
static char *role_target(struct parser *p, const char *path, const cJSON *j, enum tmpl_where where)
{
    char kp[192];
    for (const cJSON *k = j->child; k != NULL; k = k->next) {
        if (strcmp(k->string, "role") != 0 && strcmp(k->string, "name") != 0) {
            snprintf(kp, sizeof kp, "%s.%s", path, k->string);
            diag(p, kp, "unknown key \"%s\" (a role target has role and name)", k->string);
            return NULL;
        }
    }
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(j, "role");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    snprintf(kp, sizeof kp, "%s.role", path);
    if (!cJSON_IsString(role)) {
        diag(p, role ? kp : path,
             "a target object needs a \"role\" string, as in {\"role\": \"button\", \"name\": \"Agregar\"}");
        return NULL;
    }
    bool known = false;
    for (size_t i = 0; i < sizeof ARIA_ROLES / sizeof ARIA_ROLES[0]; i++)
        known |= strcmp(role->valuestring, ARIA_ROLES[i]) == 0;
    if (!known) {
        diag(p, kp,
             "unknown ARIA role \"%.40s\" (button, link, textbox, combobox, listbox, option, checkbox, "
             "radio, tab, menuitem, heading, dialog, row, cell, ...)",
             role->valuestring);
        return NULL;
    }
    snprintf(kp, sizeof kp, "%s.name", path);
    if (name != NULL && (!cJSON_IsString(name) || *name->valuestring == '\0')) {
        diag(p, kp, "must be a non-empty string (the accessible name: the label, the text, aria-label)");
        return NULL;
    }
    if (name != NULL)
        check_template(p, kp, name->valuestring, where, /* secret_ok= */ false);
    // role=R or role=R[name="N"], with \ and " of N escaped.
    size_t nlen = name != NULL ? strlen(name->valuestring) : 0;
    size_t cap = strlen(role->valuestring) + 2 * nlen + 24;
    char *out = malloc(cap);
    if (out == NULL) {
        p->oom = true;
        return NULL;
    }
    size_t o = (size_t)snprintf(out, cap, "role=%s", role->valuestring);
    if (name != NULL) {
        memcpy(out + o, "[name=\"", 7);
        o += 7;
        for (const char *c = name->valuestring; *c != '\0'; c++) {
            if (*c == '"' || *c == '\\')
                out[o++] = '\\';
            out[o++] = *c;
        }
        out[o++] = '"';
        out[o++] = ']';
        out[o] = '\0';
    }
    return out;
}

/* A target: a selector string, or a role object for the verbs that take an element. */
static char *parse_target(struct parser *p, const char *path, const cJSON *j, enum tmpl_where where, bool roles_ok)
{
    if (roles_ok && cJSON_IsObject(j))
        return role_target(p, path, j, where);
    if (!cJSON_IsString(j)) {
        diag(p, path,
             roles_ok ? "must be a CSS selector or {\"role\": ..., \"name\": ...}, not %s"
                      : "must be a CSS selector string, not %s",
             type_name(j));
        return NULL;
    }
    char *t = dup_or_oom(p, j->valuestring);
    if (t != NULL)
        check_selector(p, path, t, where);
    return t;
}

/* "frame": a selector or a list of selectors (nested iframes, outermost first). An empty list is
 * the page itself (to leave a step's frame for one action). */
static void parse_frame(struct parser *p, const char *path, const cJSON *j, enum tmpl_where where,
                        struct flow_frame *out)
{
    if (cJSON_IsString(j)) {
        out->sel = calloc(1, sizeof *out->sel);
        if (out->sel == NULL) {
            p->oom = true;
            return;
        }
        if ((out->sel[0] = parse_target(p, path, j, where, false)) != NULL)
            out->n = 1;
        return;
    }
    if (!cJSON_IsArray(j)) {
        diag(p, path, "must be an iframe selector or a list of them (outermost first), not %s", type_name(j));
        return;
    }
    int n = cJSON_GetArraySize(j);
    if (n > 8) {
        diag(p, path, "at most 8 nested frames");
        return;
    }
    out->sel = calloc(n > 0 ? (size_t)n : 1, sizeof *out->sel);
    if (out->sel == NULL) {
        p->oom = true;
        return;
    }
    int i = 0;
    for (const cJSON *e = j->child; e != NULL; e = e->next, i++) {
        char ep[192];
        snprintf(ep, sizeof ep, "%s[%d]", path, i);
        char *s = parse_target(p, ep, e, where, false);
        if (s != NULL)
            out->sel[out->n++] = s;
    }
}

static void frame_free(struct flow_frame *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->sel[i]);
    free(f->sel);
    f->sel = NULL;
    f->n = 0;
}

static char *scalar_text(struct parser *p, const cJSON *j)
{
    if (cJSON_IsString(j))
        return dup_or_oom(p, j->valuestring);
    char buf[64];
    long long v;
    if (cJSON_IsNumber(j) && flow__whole_number(j->valuedouble, &v)) {
        snprintf(buf, sizeof buf, "%lld", v);
        return dup_or_oom(p, buf);
    }
    return NULL;
}

static bool get_int(struct parser *p, const char *path, const cJSON *j, int min, int max, int *out)
{
    long long v;
    if (!cJSON_IsNumber(j) || !flow__whole_number(j->valuedouble, &v)) {
        diag(p, path, "must be a whole number, not %s",
             cJSON_IsNumber(j) ? "a fraction or a number that large" : type_name(j));
        return false;
    }
    if (v < min || v > max) {
        diag(p, path, "%lld is out of range %d..%d", v, min, max);
        return false;
    }
    *out = (int)v;
    return true;
}

static void check_duplicate_keys(struct parser *p, const char *path, const cJSON *obj)
{
    for (const cJSON *a = obj->child; a != NULL; a = a->next)
        for (const cJSON *b = a->next; b != NULL; b = b->next)
            if (strcmp(a->string, b->string) == 0)
                diag(p, path, "key \"%s\" appears twice", a->string);
}

static void parse_action(struct parser *p, const cJSON *j, const char *path, enum tmpl_where where,
                         struct flow_action *a)
{
    memset(a, 0, sizeof *a);
    snprintf(a->path, sizeof a->path, "%s", path);
    if (!cJSON_IsObject(j)) {
        diag(p, path, "an action must be an object like {\"click\": \"#id\"}, not %s", type_name(j));
        return;
    }
    check_duplicate_keys(p, path, j);
    // Find the verb: exactly one key must name one.
    const cJSON *verb = NULL;
    int nverbs = 0;
    for (const cJSON *k = j->child; k != NULL; k = k->next) {
        for (int v = 0; v < FLOW_VERB_COUNT; v++) {
            if (strcmp(k->string, FLOW_VERB_NAMES[v]) == 0) {
                if (nverbs++ == 0) {
                    verb = k;
                    a->verb = (enum flow_verb)v;
                } else {
                    diag(p, path, "two verbs in one action: \"%s\" and \"%s\"", verb->string, k->string);
                }
            }
        }
    }
    // Every other key must be an option of that verb.
    bool unknown_key = false;
    for (const cJSON *k = j->child; k != NULL; k = k->next) {
        if (k == verb)
            continue;
        bool is_verb = false;
        for (int v = 0; v < FLOW_VERB_COUNT; v++)
            is_verb |= strcmp(k->string, FLOW_VERB_NAMES[v]) == 0;
        if (is_verb)
            continue;
        unsigned bit = 0;
        for (size_t o = 0; o < sizeof OPTIONS / sizeof OPTIONS[0]; o++)
            if (strcmp(k->string, OPTIONS[o].name) == 0)
                bit = OPTIONS[o].bit;
        char kp[160];
        snprintf(kp, sizeof kp, "%s.%s", path, k->string);
        if (bit == 0) {
            unknown_key = true;
            diag(p, kp, "unknown verb or option \"%s\" (verbs: " VERB_LIST "; options: " OPTION_LIST ")", k->string);
        } else if (verb != NULL && (VERB_OPTIONS[a->verb] & bit) == 0) {
            diag(p, kp, "option \"%s\" does not apply to %s", k->string, FLOW_VERB_NAMES[a->verb]);
        }
    }
    if (verb == NULL && unknown_key)
        return; // the unknown key was most likely the verb, misspelt: said once is enough
    const cJSON *o;
    char op[160];
    if (verb == NULL && cJSON_GetArraySize(j) == 1 && (o = cJSON_GetObjectItemCaseSensitive(j, "popup")) != NULL &&
        cJSON_IsString(o) && strcmp(o->valuestring, "close") == 0) {
        // {"popup": "close"} alone: close the pop-up window, back to the page that opened it.
        a->verb = FLOW_SLEEP_MS;
        a->popup = FLOW_POPUP_CLOSE;
        return;
    }
    if (verb == NULL) {
        diag(p, path, "no verb (one of " VERB_LIST ")");
        return;
    }
    char vp[160];
    snprintf(vp, sizeof vp, "%s.%s", path, verb->string);
    if (a->verb == FLOW_SLEEP_MS) {
        (void)get_int(p, vp, verb, 0, FLOW_SLEEP_MAX_MS, &a->sleep_ms);
    } else if (is_selector_verb(a->verb)) {
        a->target = parse_target(p, vp, verb, where, /* roles_ok= */ true);
    } else if (!cJSON_IsString(verb)) {
        diag(p, vp, "must be a string, not %s", type_name(verb));
    } else {
        a->target = dup_or_oom(p, verb->valuestring);
        if (a->target == NULL) {
            // out of memory: p->oom is set
        } else if (a->verb == FLOW_PRESS && *a->target == '\0')
            diag(p, vp, "empty key name");
        else
            check_template(p, vp, a->target, where, /* secret_ok= */ false);
        char why[300];
        if (a->target != NULL && a->verb == FLOW_EVAL && !flow_js_vars_quoted(a->target, why, sizeof why))
            diag(p, vp, "%s", why);
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "secret")) != NULL) {
        snprintf(op, sizeof op, "%s.secret", path);
        if (!cJSON_IsBool(o))
            diag(p, op, "must be true or false, not %s", type_name(o));
        a->secret = cJSON_IsTrue(o);
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "value")) != NULL) {
        snprintf(op, sizeof op, "%s.value", path);
        a->value = scalar_text(p, o);
        if (a->value == NULL && !p->oom)
            diag(p, op, "must be a string or a whole number, not %s", type_name(o));
        else if (a->value != NULL)
            check_template(p, op, a->value, where, /* secret_ok= */ a->secret && a->verb == FLOW_FILL);
    } else if (a->verb == FLOW_FILL || a->verb == FLOW_SELECT) {
        diag(p, path, "%s needs a \"value\"", FLOW_VERB_NAMES[a->verb]);
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "text")) != NULL) {
        snprintf(op, sizeof op, "%s.text", path);
        if (!cJSON_IsString(o) || *o->valuestring == '\0')
            diag(p, op, "must be a non-empty string");
        else {
            a->text = dup_or_oom(p, o->valuestring);
            check_template(p, op, a->text, where, false);
        }
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "on")) != NULL) {
        snprintf(op, sizeof op, "%s.on", path);
        a->on = parse_target(p, op, o, where, /* roles_ok= */ true);
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "frame")) != NULL) {
        snprintf(op, sizeof op, "%s.frame", path);
        a->frame_set = true;
        parse_frame(p, op, o, where, &a->frame);
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "dialog")) != NULL) {
        snprintf(op, sizeof op, "%s.dialog", path);
        if (cJSON_IsString(o) && strcmp(o->valuestring, "accept") == 0)
            a->dialog = FLOW_DIALOG_ACCEPT;
        else if (cJSON_IsString(o) && strcmp(o->valuestring, "dismiss") == 0)
            a->dialog = FLOW_DIALOG_DISMISS;
        else
            diag(p, op, "must be \"accept\" or \"dismiss\"");
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "dialog_text")) != NULL) {
        snprintf(op, sizeof op, "%s.dialog_text", path);
        if (!cJSON_IsString(o) || *o->valuestring == '\0') {
            diag(p, op, "must be a non-empty string");
        } else {
            a->dialog_text = dup_or_oom(p, o->valuestring);
            check_template(p, op, a->dialog_text, where, false);
        }
        if (cJSON_GetObjectItemCaseSensitive(j, "dialog") == NULL)
            diag(p, op, "needs \"dialog\": \"accept\" or \"dismiss\" on the same action");
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "popup")) != NULL) {
        snprintf(op, sizeof op, "%s.popup", path);
        if (cJSON_IsTrue(o))
            a->popup = FLOW_POPUP_OPEN;
        else if (cJSON_IsString(o) && strcmp(o->valuestring, "close") == 0)
            a->popup = FLOW_POPUP_CLOSE;
        else
            diag(p, op, "must be true (the action opens a window) or \"close\" (close it afterwards)");
        if (a->popup == FLOW_POPUP_OPEN && (VERB_OPTIONS[a->verb] & OPT_DIALOG) == 0)
            diag(p, op, "a %s cannot open a window (click, press, fill, select, eval or goto can)",
                 FLOW_VERB_NAMES[a->verb]);
    }
    if (a->verb == FLOW_CAPTURE) {
        o = cJSON_GetObjectItemCaseSensitive(j, "as");
        snprintf(op, sizeof op, "%s.as", path);
        const char *as = o == NULL ? CAPTURE_NAMES[0] : cJSON_IsString(o) ? o->valuestring : NULL;
        for (size_t i = 0; as != NULL && i < sizeof CAPTURE_NAMES / sizeof CAPTURE_NAMES[0]; i++)
            if (strcmp(as, CAPTURE_NAMES[i]) == 0)
                a->capture_as = dup_or_oom(p, CAPTURE_NAMES[i]);
        if (a->capture_as == NULL && !p->oom)
            diag(p, op, "must be \"portal_reference\" (the order's column that keeps the captured text)");
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "state")) != NULL) {
        snprintf(op, sizeof op, "%s.state", path);
        if (cJSON_IsString(o) && strcmp(o->valuestring, "hidden") == 0)
            a->hidden = true;
        else if (!cJSON_IsString(o) || strcmp(o->valuestring, "visible") != 0)
            diag(p, op, "must be \"visible\" or \"hidden\"");
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "timeout_ms")) != NULL) {
        snprintf(op, sizeof op, "%s.timeout_ms", path);
        (void)get_int(p, op, o, 1, FLOW_TIMEOUT_MAX_MS, &a->timeout_ms);
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "unless_here")) != NULL) {
        snprintf(op, sizeof op, "%s.unless_here", path);
        if (!cJSON_IsBool(o))
            diag(p, op, "must be true or false, not %s", type_name(o));
        a->unless_here = cJSON_IsTrue(o);
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "optional")) != NULL) {
        snprintf(op, sizeof op, "%s.optional", path);
        if (!cJSON_IsBool(o))
            diag(p, op, "must be true or false, not %s", type_name(o));
        a->optional = cJSON_IsTrue(o);
    }
    if (a->secret && a->verb != FLOW_FILL)
        diag(p, path, "\"secret\" applies to fill only");
}

static void parse_actions(struct parser *p, const cJSON *j, const char *path, enum tmpl_where where,
                          struct flow_actions *out)
{
    if (!cJSON_IsArray(j)) {
        diag(p, path, "must be an array of actions, not %s", type_name(j));
        return;
    }
    int n = cJSON_GetArraySize(j);
    out->v = calloc(n > 0 ? (size_t)n : 1, sizeof *out->v);
    if (out->v == NULL) {
        p->oom = true;
        return;
    }
    int i = 0;
    for (const cJSON *a = j->child; a != NULL; a = a->next, i++) {
        char ap[96];
        snprintf(ap, sizeof ap, "%s[%d]", path, i);
        parse_action(p, a, ap, where, &out->v[out->n++]);
    }
}

static bool valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || !islower((unsigned char)s[0]))
        return false;
    for (; *s != '\0'; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static void parse_step(struct parser *p, const cJSON *j, int index, struct flow_step *st)
{
    snprintf(st->path, sizeof st->path, "steps[%d]", index);
    const char *path = st->path;
    if (!cJSON_IsObject(j)) {
        diag(p, path, "a step must be an object with \"name\" and \"actions\", not %s", type_name(j));
        return;
    }
    check_duplicate_keys(p, path, j);
    static const char *const KEYS[] = {"name",    "skip_if",     "actions", "cart", "for_each_item", "after_item_error",
                                       "retries", "max_per_add", "frame"};
    for (const cJSON *k = j->child; k != NULL; k = k->next) {
        bool known = false;
        for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
            known |= strcmp(k->string, KEYS[i]) == 0;
        if (!known) {
            char kp[96];
            snprintf(kp, sizeof kp, "%s.%s", path, k->string);
            diag(p, kp,
                 "unknown key \"%s\" (a step has name, frame, skip_if, actions, cart, for_each_item, "
                 "after_item_error, retries, max_per_add)",
                 k->string);
        }
    }
    char kp[96];
    st->retries = -1;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "retries");
    if (o != NULL) {
        snprintf(kp, sizeof kp, "%s.retries", path);
        (void)get_int(p, kp, o, 0, 10, &st->retries);
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "max_per_add")) != NULL) {
        snprintf(kp, sizeof kp, "%s.max_per_add", path);
        (void)get_int(p, kp, o, 1, 1000000, &st->max_per_add);
        if (cJSON_GetObjectItemCaseSensitive(j, "for_each_item") == NULL)
            diag(p, kp, "needs \"for_each_item\" in the same step");
    }
    o = cJSON_GetObjectItemCaseSensitive(j, "name");
    snprintf(kp, sizeof kp, "%s.name", path);
    if (o == NULL)
        diag(p, path, "a step needs a \"name\"");
    else if (!cJSON_IsString(o) || !valid_name(o->valuestring, 64))
        diag(p, kp, "must be 1-64 characters of a-z, 0-9 and _ starting with a letter (it becomes the order's step)");
    else
        st->name = dup_or_oom(p, o->valuestring);
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "skip_if")) != NULL) {
        snprintf(kp, sizeof kp, "%s.skip_if", path);
        const cJSON *sel = cJSON_GetObjectItemCaseSensitive(o, "selector");
        if (cJSON_IsObject(o) && cJSON_GetObjectItemCaseSensitive(o, "role") != NULL) {
            st->skip_if = role_target(p, kp, o, IN_STEP);
        } else if (!cJSON_IsObject(o) || !cJSON_IsString(sel) || cJSON_GetArraySize(o) != 1) {
            diag(p, kp, "must be {\"selector\": \"...\"} or {\"role\": \"...\", \"name\": \"...\"}");
        } else {
            st->skip_if = dup_or_oom(p, sel->valuestring);
            snprintf(kp, sizeof kp, "%s.skip_if.selector", path);
            check_selector(p, kp, st->skip_if, IN_STEP);
        }
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "frame")) != NULL) {
        snprintf(kp, sizeof kp, "%s.frame", path);
        parse_frame(p, kp, o, IN_STEP, &st->frame);
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "actions")) != NULL) {
        snprintf(kp, sizeof kp, "%s.actions", path);
        parse_actions(p, o, kp, IN_STEP, &st->actions);
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "cart")) != NULL) {
        snprintf(kp, sizeof kp, "%s.cart", path);
        if (cJSON_IsObject(o)) {
            // {"expression": "...", "frame": ...}: the cart read inside an iframe of its own.
            for (const cJSON *k = o->child; k != NULL; k = k->next) {
                if (strcmp(k->string, "expression") != 0 && strcmp(k->string, "frame") != 0) {
                    char ckp[128];
                    snprintf(ckp, sizeof ckp, "%s.%s", kp, k->string);
                    diag(p, ckp, "unknown key \"%s\" (a cart object has expression and frame)", k->string);
                }
            }
            const cJSON *fr = cJSON_GetObjectItemCaseSensitive(o, "frame");
            if (fr != NULL) {
                char ckp[128];
                snprintf(ckp, sizeof ckp, "%s.frame", kp);
                st->cart_frame_set = true;
                parse_frame(p, ckp, fr, IN_STEP, &st->cart_frame);
            }
            o = cJSON_GetObjectItemCaseSensitive(o, "expression");
            snprintf(kp, sizeof kp, "%s.cart.expression", path);
        }
        if (!cJSON_IsString(o) || *o->valuestring == '\0') {
            diag(p, kp, "must be a JS expression returning [{code, quantity}]");
        } else {
            st->cart = dup_or_oom(p, o->valuestring);
            check_template(p, kp, st->cart, IN_STEP, false);
            char why[300];
            if (st->cart != NULL && !flow_js_vars_quoted(st->cart, why, sizeof why))
                diag(p, kp, "%s", why);
        }
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "for_each_item")) != NULL) {
        snprintf(kp, sizeof kp, "%s.for_each_item", path);
        parse_actions(p, o, kp, IN_ITEM, &st->for_each_item);
        if (cJSON_IsArray(o) && cJSON_GetArraySize(o) == 0)
            diag(p, kp, "is empty");
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "after_item_error")) != NULL) {
        snprintf(kp, sizeof kp, "%s.after_item_error", path);
        parse_actions(p, o, kp, IN_ITEM, &st->after_item_error);
    }
    bool has_items = cJSON_GetObjectItemCaseSensitive(j, "for_each_item") != NULL;
    if (cJSON_GetObjectItemCaseSensitive(j, "actions") == NULL && !has_items)
        diag(p, path, "a step needs \"actions\" or \"for_each_item\"");
    if (!has_items && st->cart != NULL)
        diag(p, path, "\"cart\" needs \"for_each_item\"");
    if (!has_items && cJSON_GetObjectItemCaseSensitive(j, "after_item_error") != NULL)
        diag(p, path, "\"after_item_error\" needs \"for_each_item\"");
}

static void parse_detector(struct parser *p, const cJSON *j, int index, struct flow_detector *d)
{
    snprintf(d->path, sizeof d->path, "errors[%d]", index);
    const char *path = d->path;
    if (!cJSON_IsObject(j)) {
        diag(p, path, "an error detector must be an object with \"selector\" and \"class\"");
        return;
    }
    check_duplicate_keys(p, path, j);
    char kp[96];
    for (const cJSON *k = j->child; k != NULL; k = k->next) {
        if (strcmp(k->string, "selector") && strcmp(k->string, "text") && strcmp(k->string, "class") &&
            strcmp(k->string, "outcome") && strcmp(k->string, "steps")) {
            snprintf(kp, sizeof kp, "%s.%s", path, k->string);
            diag(p, kp, "unknown key \"%s\" (a detector has selector, text, class, outcome, steps)", k->string);
        }
    }
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "selector");
    snprintf(kp, sizeof kp, "%s.selector", path);
    if (!cJSON_IsString(o)) {
        diag(p, o ? kp : path, "a detector needs a \"selector\" string");
    } else {
        d->selector = dup_or_oom(p, o->valuestring);
        char why[160];
        if (d->selector == NULL) {
            // out of memory: p->oom is set
        } else if (strstr(d->selector, "${") != NULL)
            diag(p, kp, "detectors take no variables");
        else if (*d->selector == '\0' || !flow_css_check(d->selector, why, sizeof why))
            diag(p, kp, "bad selector \"%.100s\": %s", d->selector, *d->selector ? why : "empty");
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "text")) != NULL) {
        snprintf(kp, sizeof kp, "%s.text", path);
        if (!cJSON_IsString(o) || *o->valuestring == '\0')
            diag(p, kp, "must be a non-empty string");
        else
            d->text = dup_or_oom(p, o->valuestring);
    }
    o = cJSON_GetObjectItemCaseSensitive(j, "class");
    snprintf(kp, sizeof kp, "%s.class", path);
    if (o == NULL)
        diag(p, path, "a detector needs a \"class\": fatal, recoverable, session or abort");
    else if (cJSON_IsString(o) && strcmp(o->valuestring, "fatal") == 0)
        d->cls = FLOW_CLASS_FATAL;
    else if (cJSON_IsString(o) && strcmp(o->valuestring, "recoverable") == 0)
        d->cls = FLOW_CLASS_RECOVERABLE;
    else if (cJSON_IsString(o) && strcmp(o->valuestring, "session") == 0)
        d->cls = FLOW_CLASS_SESSION;
    else if (cJSON_IsString(o) && strcmp(o->valuestring, "abort") == 0)
        d->cls = FLOW_CLASS_ABORT;
    else
        diag(p, kp, "must be \"fatal\", \"recoverable\", \"session\" or \"abort\"");
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "outcome")) != NULL) {
        snprintf(kp, sizeof kp, "%s.outcome", path);
        if (!cJSON_IsString(o) || !valid_name(o->valuestring, 40))
            diag(p, kp, "must be 1-40 characters of a-z and _ (e.g. \"not_found\")");
        else
            d->outcome = dup_or_oom(p, o->valuestring);
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "steps")) != NULL) {
        snprintf(kp, sizeof kp, "%s.steps", path);
        if (!cJSON_IsArray(o) || cJSON_GetArraySize(o) == 0) {
            diag(p, kp, "must be a non-empty array of step names");
            return;
        }
        d->steps = calloc((size_t)cJSON_GetArraySize(o), sizeof *d->steps);
        if (d->steps == NULL) {
            p->oom = true;
            return;
        }
        int i = 0;
        for (const cJSON *s = o->child; s != NULL; s = s->next, i++) {
            if (!cJSON_IsString(s)) {
                char sp[128];
                snprintf(sp, sizeof sp, "%s[%d]", kp, i);
                diag(p, sp, "must be a step name");
                continue;
            }
            d->steps[d->nsteps++] = dup_or_oom(p, s->valuestring);
        }
    }
}

static void parse_interrupt(struct parser *p, const cJSON *j, int index, struct flow_interrupt *it)
{
    snprintf(it->path, sizeof it->path, "interrupts[%d]", index);
    const char *path = it->path;
    if (!cJSON_IsObject(j)) {
        diag(p, path, "an interrupt must be an object with \"selector\" and \"actions\", not %s", type_name(j));
        return;
    }
    check_duplicate_keys(p, path, j);
    char kp[96];
    for (const cJSON *k = j->child; k != NULL; k = k->next) {
        if (strcmp(k->string, "selector") && strcmp(k->string, "actions") && strcmp(k->string, "frame")) {
            snprintf(kp, sizeof kp, "%s.%s", path, k->string);
            diag(p, kp, "unknown key \"%s\" (an interrupt has selector, frame, actions)", k->string);
        }
    }
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "selector");
    snprintf(kp, sizeof kp, "%s.selector", path);
    if (o == NULL) {
        diag(p, path, "an interrupt needs a \"selector\" (what shows when it interrupts: a banner, a modal)");
    } else {
        it->selector = parse_target(p, kp, o, IN_FLOW, /* roles_ok= */ true);
        if (it->selector != NULL && strstr(it->selector, "${") != NULL)
            diag(p, kp, "interrupts take no variables");
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(j, "frame")) != NULL) {
        snprintf(kp, sizeof kp, "%s.frame", path);
        parse_frame(p, kp, o, IN_FLOW, &it->frame);
    }
    o = cJSON_GetObjectItemCaseSensitive(j, "actions");
    snprintf(kp, sizeof kp, "%s.actions", path);
    if (o == NULL || (cJSON_IsArray(o) && cJSON_GetArraySize(o) == 0)) {
        diag(p, o ? kp : path, "an interrupt needs \"actions\" that make it go away (click the close button)");
        return;
    }
    parse_actions(p, o, kp, IN_FLOW, &it->actions);
    for (size_t i = 0; i < it->actions.n; i++) {
        const struct flow_action *a = &it->actions.v[i];
        if (a->popup != FLOW_POPUP_NONE || a->verb == FLOW_CAPTURE || a->verb == FLOW_GOTO)
            diag(p, a->path, "an interrupt's actions may not navigate, capture or open windows");
    }
}

/* Line and column of byte offset `off` in `text`, for JSON syntax errors. */
static void line_col(const char *text, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && text[i] != '\0'; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static void parse_top(struct parser *p, const cJSON *root)
{
    struct flow *f = p->flow;
    check_duplicate_keys(p, "$", root);
    for (const cJSON *k = root->child; k != NULL; k = k->next) {
        if (strcmp(k->string, "name") && strcmp(k->string, "base_url") && strcmp(k->string, "timeout_ms") &&
            strcmp(k->string, "block_urls") && strcmp(k->string, "errors") && strcmp(k->string, "steps") &&
            strcmp(k->string, "description") && strcmp(k->string, "step_retries") && strcmp(k->string, "interrupts"))
            diag(p, k->string,
                 "unknown key \"%s\" (a flow has name, description, base_url, timeout_ms, "
                 "step_retries, block_urls, errors, interrupts, steps)",
                 k->string);
    }
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (o != NULL && !cJSON_IsString(o))
        diag(p, "name", "must be a string");
    f->name = dup_or_oom(p, cJSON_IsString(o) ? o->valuestring : "flow");
    if ((o = cJSON_GetObjectItemCaseSensitive(root, "base_url")) != NULL) {
        if (!cJSON_IsString(o)) {
            diag(p, "base_url", "must be a string");
        } else {
            f->base_url = dup_or_oom(p, o->valuestring);
            check_template(p, "base_url", f->base_url, IN_FLOW, false);
        }
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(root, "timeout_ms")) != NULL)
        (void)get_int(p, "timeout_ms", o, 1, FLOW_TIMEOUT_MAX_MS, &f->timeout_ms);
    f->step_retries = 2;
    if ((o = cJSON_GetObjectItemCaseSensitive(root, "step_retries")) != NULL)
        (void)get_int(p, "step_retries", o, 0, 10, &f->step_retries);
    if ((o = cJSON_GetObjectItemCaseSensitive(root, "block_urls")) != NULL) {
        if (!cJSON_IsArray(o)) {
            diag(p, "block_urls", "must be an array of URL patterns");
        } else {
            f->block_urls = calloc((size_t)cJSON_GetArraySize(o) + 1, sizeof *f->block_urls);
            p->oom |= f->block_urls == NULL;
            int i = 0;
            for (const cJSON *u = o->child; u != NULL && f->block_urls != NULL; u = u->next, i++) {
                char up[48];
                snprintf(up, sizeof up, "block_urls[%d]", i);
                if (!cJSON_IsString(u) || *u->valuestring == '\0')
                    diag(p, up, "must be a non-empty URL pattern such as \"*.png\"");
                else
                    f->block_urls[f->nblock++] = dup_or_oom(p, u->valuestring);
            }
        }
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(root, "errors")) != NULL) {
        if (!cJSON_IsArray(o)) {
            diag(p, "errors", "must be an array of error detectors");
        } else {
            f->errors = calloc((size_t)cJSON_GetArraySize(o) + 1, sizeof *f->errors);
            p->oom |= f->errors == NULL;
            int i = 0;
            for (const cJSON *d = o->child; d != NULL && f->errors != NULL; d = d->next, i++)
                parse_detector(p, d, i, &f->errors[f->nerrors++]);
        }
    }
    if ((o = cJSON_GetObjectItemCaseSensitive(root, "interrupts")) != NULL) {
        if (!cJSON_IsArray(o) || cJSON_GetArraySize(o) > 16) {
            diag(p, "interrupts", "must be an array of at most 16 interrupts");
        } else {
            f->interrupts = calloc((size_t)cJSON_GetArraySize(o) + 1, sizeof *f->interrupts);
            p->oom |= f->interrupts == NULL;
            int i = 0;
            for (const cJSON *d = o->child; d != NULL && f->interrupts != NULL; d = d->next, i++)
                parse_interrupt(p, d, i, &f->interrupts[f->ninterrupts++]);
        }
    }
    o = cJSON_GetObjectItemCaseSensitive(root, "steps");
    if (o == NULL || !cJSON_IsArray(o) || cJSON_GetArraySize(o) == 0) {
        diag(p, "steps", "a flow needs a non-empty array of steps");
        return;
    }
    f->steps = calloc((size_t)cJSON_GetArraySize(o), sizeof *f->steps);
    if (f->steps == NULL) {
        p->oom = true;
        return;
    }
    int i = 0;
    for (const cJSON *s = o->child; s != NULL; s = s->next, i++)
        parse_step(p, s, i, &f->steps[f->nsteps++]);
    // Cross-checks: unique step names, detectors naming existing steps.
    for (size_t a = 0; a < f->nsteps; a++)
        for (size_t b = a + 1; b < f->nsteps; b++)
            if (f->steps[a].name && f->steps[b].name && strcmp(f->steps[a].name, f->steps[b].name) == 0)
                diag(p, f->steps[b].path, "step name \"%s\" is already used by %s", f->steps[b].name, f->steps[a].path);
    for (size_t d = 0; d < f->nerrors; d++) {
        for (size_t k = 0; k < f->errors[d].nsteps; k++) {
            bool found = false;
            for (size_t s = 0; s < f->nsteps; s++)
                found |=
                    f->steps[s].name && f->errors[d].steps[k] && strcmp(f->steps[s].name, f->errors[d].steps[k]) == 0;
            if (!found && f->errors[d].steps[k] != NULL) {
                char dp[96];
                snprintf(dp, sizeof dp, "%s.steps[%zu]", f->errors[d].path, k);
                diag(p, dp, "no step is named \"%s\"", f->errors[d].steps[k]);
            }
        }
    }
}

int flow_parse(const char *json, const char *source, struct flow **out, struct flow_diags *diags)
{
    *out = NULL;
    struct parser p = {.diags = diags};
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, /* require_null_terminated= */ 1);
    if (root == NULL) {
        const char *at = cJSON_GetErrorPtr();
        int line = 0, col = 0;
        line_col(json, at && at >= json ? (size_t)(at - json) : 0, &line, &col);
        char where[64];
        snprintf(where, sizeof where, "line %d, column %d", line, col);
        diag(&p, where, "invalid JSON");
        return -1;
    }
    if (!cJSON_IsObject(root)) {
        diag(&p, "$", "a flow must be a JSON object");
        cJSON_Delete(root);
        return -1;
    }
    p.flow = calloc(1, sizeof *p.flow);
    if (p.flow == NULL) {
        cJSON_Delete(root);
        diag(&p, "$", "out of memory");
        return -1;
    }
    p.flow->source = dup_or_oom(&p, source);
    parse_top(&p, root);
    cJSON_Delete(root);
    if (p.oom)
        diag(&p, "$", "out of memory");
    if (diags->n > 0 || p.oom) {
        flow_free(p.flow);
        return -1;
    }
    *out = p.flow;
    return 0;
}

int flow_load(const char *path, struct flow **out, struct flow_diags *diags)
{
    *out = NULL;
    struct parser p = {.diags = diags};
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        diag(&p, "$", "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(FLOW_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, FLOW_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (buf == NULL || n > FLOW_FILE_MAX) {
        diag(&p, "$", buf ? "larger than 4 MB: not a flow file" : "out of memory");
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    int rc = flow_parse(buf, path, out, diags);
    free(buf);
    return rc;
}

static void actions_free(struct flow_actions *as)
{
    for (size_t i = 0; i < as->n; i++) {
        free(as->v[i].target);
        free(as->v[i].value);
        free(as->v[i].on);
        free(as->v[i].text);
        free(as->v[i].dialog_text);
        free(as->v[i].capture_as);
        frame_free(&as->v[i].frame);
    }
    free(as->v);
}

void flow_free(struct flow *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->nsteps; i++) {
        struct flow_step *s = &f->steps[i];
        free(s->name);
        free(s->skip_if);
        free(s->cart);
        frame_free(&s->frame);
        frame_free(&s->cart_frame);
        actions_free(&s->actions);
        actions_free(&s->for_each_item);
        actions_free(&s->after_item_error);
    }
    free(f->steps);
    for (size_t i = 0; i < f->nerrors; i++) {
        struct flow_detector *d = &f->errors[i];
        free(d->selector);
        free(d->text);
        free(d->outcome);
        for (size_t k = 0; k < d->nsteps; k++)
            free(d->steps[k]);
        free(d->steps);
    }
    free(f->errors);
    for (size_t i = 0; i < f->ninterrupts; i++) {
        free(f->interrupts[i].selector);
        frame_free(&f->interrupts[i].frame);
        actions_free(&f->interrupts[i].actions);
    }
    free(f->interrupts);
    for (size_t i = 0; i < f->nblock; i++)
        free(f->block_urls[i]);
    free(f->block_urls);
    free(f->name);
    free(f->base_url);
    free(f->source);
    free(f);
}

void flow_diags_cleanup(struct flow_diags *d)
{
    free(d->v);
    d->v = NULL;
    d->n = 0;
}
