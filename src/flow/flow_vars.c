/* flow_vars: `${...}` substitution in flow templates, escaped for the context the value lands in
 * (a quote in a consultora name can break neither a selector nor a script nor a URL). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
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

/* Appends the escape of byte c for ctx: "\\31 " (CSS), "\\u0027" (JS) or "%27" (URL). */
static int put_escape(struct buf *b, enum flow_ctx ctx, unsigned char c)
{
    if (ctx == FLOW_CTX_CSS)
        return buf_printf(b, "\\%x ", c);
    if (ctx == FLOW_CTX_JS)
        return buf_printf(b, "\\u%04x", c);
    return buf_printf(b, "%%%02X", c);
}

static bool is_alnum_ascii(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* CSS: as CSSOM's CSS.escape() does, so that the value is one valid identifier (or string content)
 * wherever it lands: `#${order.consultora_code}` with 12345678 gives `#\31 2345678`. A leading
 * digit, or a digit after a leading "-", is hex-escaped; a lone "-" becomes "\-"; ASCII other than
 * [A-Za-z0-9_-] and control characters are hex-escaped (a hex escape and its space are valid both
 * in an identifier and inside a quoted string); non-ASCII (UTF-8) is legal as it is. */
static int put_css(struct buf *b, const unsigned char *v)
{
    int rc = 0;
    for (size_t i = 0; v[i] != '\0' && rc == 0; i++) {
        unsigned char c = v[i];
        if (c == 0x7f || c < 0x20 || (i == 0 && is_digit(c)) || (i == 1 && v[0] == '-' && is_digit(c)))
            rc = put_escape(b, FLOW_CTX_CSS, c);
        else if (i == 0 && c == '-' && v[1] == '\0')
            rc = buf_append_str(b, "\\-");
        else if (c >= 0x80 || is_alnum_ascii(c) || c == '_' || c == '-')
            rc = buf_append(b, &v[i], 1);
        else
            rc = put_escape(b, FLOW_CTX_CSS, c);
    }
    return rc;
}

static int put_escaped(struct buf *b, const char *v, enum flow_ctx ctx)
{
    if (ctx == FLOW_CTX_CSS)
        return put_css(b, (const unsigned char *)v);
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0' && rc == 0; p++) {
        unsigned char c = *p;
        switch (ctx) {
        case FLOW_CTX_JS:
            // String content: nothing can end the string it sits in (flow check makes sure every
            // variable in JS sits inside a quoted string) nor start a template substitution.
            if (c < 0x20 || c == 0x7f || c == '\\' || c == '\'' || c == '"' || c == '`' || c == '$' || c == '<' ||
                c == '>')
                rc = put_escape(b, ctx, c);
            else
                rc = buf_append(b, p, 1);
            break;
        case FLOW_CTX_ROLE:
            // Inside role=R[name="..."]: a quote or backslash is escaped, a control character
            // (no accessible name holds one) becomes a space.
            if (c == '"' || c == '\\')
                rc = buf_printf(b, "\\%c", c);
            else
                rc = buf_append(b, c < 0x20 || c == 0x7f ? " " : (const char *)p, 1);
            break;
        case FLOW_CTX_URL:
            if (is_alnum_ascii(c) || c == '-' || c == '_' || c == '.' || c == '~')
                rc = buf_append(b, p, 1);
            else
                rc = put_escape(b, ctx, c);
            break;
        default: rc = buf_append(b, p, 1); break;
        }
    }
    // U+2028 and U+2029 end a line in older JS engines' strings; harmless escaped as they are
    // multi-byte UTF-8 here and kept verbatim (modern V8 accepts them in strings).
    return rc;
}

char *flow_expand(const char *tmpl, enum flow_ctx ctx, const struct flow_vars *vars, char *err, size_t n)
{
    struct buf b;
    buf_init(&b, FLOW_EXPAND_MAX);
    const char *p = tmpl;
    int rc = 0;
    for (;;) {
        const char *d = strstr(p, "${");
        if (d == NULL) {
            rc = buf_append_str(&b, p);
            break;
        }
        if ((rc = buf_append(&b, p, (size_t)(d - p))) != 0)
            break;
        const char *end = strchr(d + 2, '}');
        if (end == NULL) {
            snprintf(err, n, "unclosed \"${\" in \"%.60s\"", tmpl);
            buf_cleanup(&b);
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
            buf_cleanup(&b);
            return NULL;
        }
        // Configuration is trusted and may be a URL itself (${GSP_BASE_URL}/login): only values
        // that come from the orders' file are percent-encoded into URLs.
        if ((rc = put_escaped(&b, v, ctx == FLOW_CTX_URL && def->scope == FLOW_VAR_CONFIG ? FLOW_CTX_TEXT : ctx)) != 0)
            break;
        p = end + 1;
    }
    if (rc != 0) { // buf freed its contents
        snprintf(err, n, rc == BUF_ETOOBIG ? "the expanded value is longer than %d bytes" : "out of memory",
                 FLOW_EXPAND_MAX);
        return NULL;
    }
    char *out = buf_take(&b);
    if (out == NULL)
        snprintf(err, n, "out of memory");
    return out;
}

bool flow_js_vars_quoted(const char *js, char *why, size_t n)
{
    // A small JS lexer: code, '...' / "..." / `...` strings, // and /* */ comments. Regular
    // expression literals are not told apart from division (a variable belongs in a string).
    enum { CODE, SQ, DQ, BQ, LINE, BLOCK } st = CODE;
    for (const char *p = js; *p != '\0'; p++) {
        if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            const struct flow_var_def *d = end ? flow__var_find(p + 2, (size_t)(end - p - 2)) : NULL;
            if (d != NULL && st != SQ && st != DQ && st != BQ) {
                snprintf(why, n,
                         "${%s} must stand inside a quoted JS string ('...' or \"...\"): its value is inserted as "
                         "string content, e.g. '${%s}' or Number('${%s}')",
                         d->name, d->name, d->name);
                return false;
            }
            if (d != NULL) {
                p = end;
                continue;
            }
        }
        switch (st) {
        case CODE:
            if (*p == '\'')
                st = SQ;
            else if (*p == '"')
                st = DQ;
            else if (*p == '`')
                st = BQ;
            else if (p[0] == '/' && p[1] == '/')
                st = LINE;
            else if (p[0] == '/' && p[1] == '*')
                st = BLOCK, p++;
            break;
        case SQ:
        case DQ:
        case BQ:
            if (*p == '\\' && p[1] != '\0')
                p++;
            else if ((st == SQ && *p == '\'') || (st == DQ && *p == '"') || (st == BQ && *p == '`'))
                st = CODE;
            break;
        case LINE:
            if (*p == '\n')
                st = CODE;
            break;
        case BLOCK:
            if (p[0] == '*' && p[1] == '/')
                st = CODE, p++;
            break;
        }
    }
    return true;
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
            check_one(a->text, a->path, v, err, n) || check_one(a->on, a->path, v, err, n) ||
            check_one(a->dialog_text, a->path, v, err, n))
            return -1;
        for (size_t f = 0; f < a->frame.n; f++)
            if (check_one(a->frame.sel[f], a->path, v, err, n))
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
    if (flow->base_url != NULL) {
        // The portal's address must be an http(s) URL with a host: a typo fails here, before a
        // browser starts, instead of as "Cannot navigate to invalid URL" on every order.
        char why[256];
        char *b = flow_expand(flow->base_url, FLOW_CTX_TEXT, &v, why, sizeof why);
        if (b == NULL) {
            snprintf(err, n, "base_url: %s", why);
            return -1;
        }
        const char *host = strncmp(b, "http://", 7) == 0 ? b + 7 : strncmp(b, "https://", 8) == 0 ? b + 8 : NULL;
        bool ok = host != NULL && *host != '\0' && *host != '/' && *host != ':' && strpbrk(b, " \t\r\n") == NULL;
        if (!ok) {
            bool from_cfg = strstr(flow->base_url, "${GSP_BASE_URL}") != NULL;
            snprintf(err, n, "%s \"%.200s\" is not an http:// or https:// URL with a host name",
                     from_cfg ? "GSP_BASE_URL" : "base_url", b);
        }
        free(b);
        if (!ok)
            return -1;
    }
    for (size_t i = 0; i < flow->nsteps; i++) {
        const struct flow_step *st = &flow->steps[i];
        if (check_one(st->skip_if, st->path, &v, err, n) || check_one(st->cart, st->path, &v, err, n) ||
            check_actions(&st->actions, &v, err, n) || check_actions(&st->for_each_item, &v, err, n) ||
            check_actions(&st->after_item_error, &v, err, n))
            return -1;
        for (size_t f = 0; f < st->frame.n; f++)
            if (check_one(st->frame.sel[f], st->path, &v, err, n))
                return -1;
        for (size_t f = 0; f < st->cart_frame.n; f++)
            if (check_one(st->cart_frame.sel[f], st->path, &v, err, n))
                return -1;
    }
    for (size_t i = 0; i < flow->ninterrupts; i++) {
        const struct flow_interrupt *it = &flow->interrupts[i];
        if (check_actions(&it->actions, &v, err, n))
            return -1;
        for (size_t f = 0; f < it->frame.n; f++)
            if (check_one(it->frame.sel[f], it->path, &v, err, n))
                return -1;
    }
    return 0;
}
