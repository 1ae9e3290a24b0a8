/* flow_vars: `${...}` substitution in flow templates, escaped for the context the value lands in
 * (a quote in a consultora name can break neither a selector nor a script nor a URL). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "flow.h"
#include "flow_internal.h"

/* The variables a flow may name, and where. */
static const struct flow_var_def VARS[] = {
    {"GSP_BASE_URL", FLOW_VAR_CONFIG, false},
    {"GSP_USER_CODE", FLOW_VAR_CONFIG, false},
    {"GSP_PASSWORD", FLOW_VAR_CONFIG, true},
    {"GSP_CYCLE", FLOW_VAR_CONFIG, false},
    {"order.consultora_code", FLOW_VAR_ORDER, false},
    {"order.consultora_name", FLOW_VAR_ORDER, false},
    {"order.id", FLOW_VAR_ORDER, false},
    {"item.product_code", FLOW_VAR_ITEM, false},
    {"item.quantity", FLOW_VAR_ITEM, false},
    {"item.cart_quantity", FLOW_VAR_ITEM, false},
};

bool flow__whole_number(double d, long long *out)
{
    // Compared as doubles first: only a value inside the range may be converted.
    if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0))
        return false; // also NaN
    long long v = (long long)d;
    if ((double)v != d)
        return false;
    *out = v;
    return true;
}

const struct flow_var_def *flow__var_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof VARS / sizeof VARS[0]; i++)
        if (strlen(VARS[i].name) == len && strncmp(VARS[i].name, name, len) == 0)
            return &VARS[i];
    return NULL;
}

bool flow_template_has_secret(const char *tmpl)
{
    for (const char *p = tmpl ? strstr(tmpl, "${") : NULL; p != NULL; p = strstr(p + 2, "${")) {
        const char *end = strchr(p + 2, '}');
        if (end == NULL)
            return false;
        const struct flow_var_def *d = flow__var_find(p + 2, (size_t)(end - p - 2));
        if (d != NULL && d->secret)
            return true;
    }
    return false;
}

/* The value of a variable for these vars, borrowed or in buf; NULL when not available here. */
static const char *var_value(const struct flow_var_def *d, const struct flow_vars *vars, char *buf, size_t n)
{
    const struct config *c = vars->cfg;
    switch (d->scope) {
    case FLOW_VAR_CONFIG:
        if (c == NULL)
            return NULL;
        if (strcmp(d->name, "GSP_BASE_URL") == 0)
            return c->base_url;
        if (strcmp(d->name, "GSP_USER_CODE") == 0)
            return c->user_code;
        if (strcmp(d->name, "GSP_PASSWORD") == 0)
            return c->password;
        return c->cycle;
    case FLOW_VAR_ORDER:
        if (vars->order == NULL)
            return NULL;
        if (strcmp(d->name, "order.consultora_code") == 0)
            return vars->order->consultora_code;
        if (strcmp(d->name, "order.consultora_name") == 0)
            return vars->order->consultora_name ? vars->order->consultora_name : "";
        snprintf(buf, n, "%lld", vars->order->id);
        return buf;
    case FLOW_VAR_ITEM:
        if (vars->item == NULL)
            return NULL;
        if (strcmp(d->name, "item.product_code") == 0)
            return vars->item->product_code;
        snprintf(buf, n, "%d",
                 strcmp(d->name, "item.quantity") == 0 ? vars->item->quantity : vars->item->cart_quantity);
        return buf;
    }
    return NULL;
}

/* A growing string; on allocation failure `failed` is set and appends become no-ops. */
struct sbuf {
    char *s;
    size_t len, cap;
    bool failed;
};

static void sb_put(struct sbuf *b, const char *p, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (ns == NULL) {
            b->failed = true;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* Appends the escape of byte c for ctx: "\\27 " (CSS), "\\u0027" (JS) or "%27" (URL). */
static void sb_put_escape(struct sbuf *b, enum flow_ctx ctx, unsigned char c)
{
    char tmp[16];
    int k = ctx == FLOW_CTX_CSS  ? snprintf(tmp, sizeof tmp, "\\%x ", c)
            : ctx == FLOW_CTX_JS ? snprintf(tmp, sizeof tmp, "\\u%04x", c)
                                 : snprintf(tmp, sizeof tmp, "%%%02X", c);
    sb_put(b, tmp, (size_t)k);
}

static bool is_alnum_ascii(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void put_escaped(struct sbuf *b, const char *v, enum flow_ctx ctx)
{
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++) {
        unsigned char c = *p;
        switch (ctx) {
        case FLOW_CTX_TEXT: sb_put(b, (const char *)p, 1); break;
        case FLOW_CTX_CSS:
            // A hex escape followed by a space is valid both inside a quoted string and in an
            // identifier; non-ASCII bytes (UTF-8) are legal as they are.
            if (c >= 0x80 || is_alnum_ascii(c) || c == '_' || c == '-')
                sb_put(b, (const char *)p, 1);
            else
                sb_put_escape(b, ctx, c);
            break;
        case FLOW_CTX_JS:
            if (c < 0x20 || c == '\\' || c == '\'' || c == '"' || c == '`' || c == '$' || c == '<' || c == '>')
                sb_put_escape(b, ctx, c);
            else
                sb_put(b, (const char *)p, 1);
            break;
        case FLOW_CTX_URL:
            if (is_alnum_ascii(c) || c == '-' || c == '_' || c == '.' || c == '~')
                sb_put(b, (const char *)p, 1);
            else
                sb_put_escape(b, ctx, c);
            break;
        }
    }
}

char *flow_expand(const char *tmpl, enum flow_ctx ctx, const struct flow_vars *vars, char *err, size_t n)
{
    struct sbuf b = {0};
    sb_put(&b, "", 0);
    const char *p = tmpl;
    for (;;) {
        const char *d = strstr(p, "${");
        if (d == NULL) {
            sb_put(&b, p, strlen(p));
            break;
        }
        sb_put(&b, p, (size_t)(d - p));
        const char *end = strchr(d + 2, '}');
        if (end == NULL) {
            snprintf(err, n, "unclosed \"${\" in \"%.60s\"", tmpl);
            free(b.s);
            return NULL;
        }
        size_t len = (size_t)(end - d - 2);
        const struct flow_var_def *def = flow__var_find(d + 2, len);
        char num[32];
        const char *v = def ? var_value(def, vars, num, sizeof num) : NULL;
        if (def == NULL || v == NULL) {
            int l = (int)(len > 60 ? 60 : len);
            if (def == NULL)
                snprintf(err, n, "${%.*s} is not a variable", l, d + 2);
            else if (def->scope == FLOW_VAR_CONFIG)
                snprintf(err, n, "${%.*s} is not configured (set %.*s in the environment or .env)", l, d + 2, l, d + 2);
            else
                snprintf(err, n, "${%.*s} is not available here", l, d + 2);
            free(b.s);
            return NULL;
        }
        // Configuration is trusted and may be a URL itself (${GSP_BASE_URL}/login): only values
        // that come from the orders' file are percent-encoded into URLs.
        put_escaped(&b, v, ctx == FLOW_CTX_URL && def->scope == FLOW_VAR_CONFIG ? FLOW_CTX_TEXT : ctx);
        p = end + 1;
    }
    if (b.failed) {
        snprintf(err, n, "out of memory");
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* Expands tmpl with stand-in order and item values; fails only on configuration variables. */
static int check_one(const char *tmpl, const char *path, const struct flow_vars *v, char *err, size_t n)
{
    if (tmpl == NULL)
        return 0;
    char why[256];
    char *s = flow_expand(tmpl, FLOW_CTX_TEXT, v, why, sizeof why);
    if (s == NULL) {
        snprintf(err, n, "%s: %s", path, why);
        return -1;
    }
    free(s);
    return 0;
}

static int check_actions(const struct flow_actions *as, const struct flow_vars *v, char *err, size_t n)
{
    for (size_t i = 0; i < as->n; i++) {
        const struct flow_action *a = &as->v[i];
        if (check_one(a->target, a->path, v, err, n) || check_one(a->value, a->path, v, err, n) ||
            check_one(a->text, a->path, v, err, n) || check_one(a->on, a->path, v, err, n))
            return -1;
    }
    return 0;
}

int flow_check_config(const struct flow *flow, const struct config *cfg, char *err, size_t n)
{
    struct flow_order order = {.id = 1, .consultora_code = "1", .consultora_name = "x"};
    struct flow_item item = {.product_code = "1", .quantity = 1, .cart_quantity = 1};
    struct flow_vars v = {.cfg = cfg, .order = &order, .item = &item};
    if (check_one(flow->base_url, "base_url", &v, err, n))
        return -1;
    for (size_t i = 0; i < flow->nsteps; i++) {
        const struct flow_step *st = &flow->steps[i];
        if (check_one(st->skip_if, st->path, &v, err, n) || check_one(st->cart, st->path, &v, err, n) ||
            check_actions(&st->actions, &v, err, n) || check_actions(&st->for_each_item, &v, err, n) ||
            check_actions(&st->after_item_error, &v, err, n))
            return -1;
    }
    return 0;
}
