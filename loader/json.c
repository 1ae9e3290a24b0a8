/* json: reads {"name": "...", "orders": [{"consultora_code": "...", "consultora_name": "...",
 * "products": [{"product_code": "...", "quantity": 2}]}]} (keys match like CSV headers, Spanish
 * aliases included; "productos" and "items" are accepted for "products"). Each product becomes a
 * row [code, name, product, quantity] checked by the same rules as a CSV line; places are JSON
 * paths ("orders[3].products[1]"). Codes may be strings or whole numbers. cJSON answers NULL both
 * for text that is not JSON and for an allocation that failed; a syntax check that allocates
 * nothing tells the two apart, so running out of memory is never reported as "not valid JSON". */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

/* The text of a scalar: a string as is, a whole number without fraction, else "" (missing). */
static const char *scalar(const cJSON *v, char *num, size_t n)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (isfinite(d) && d == floor(d) && fabs(d) < 1e15)
            snprintf(num, n, "%.0f", d);
        else
            snprintf(num, n, "%g", d);
        return num;
    }
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "true" : "false";
    return "";
}

static const cJSON *member(const cJSON *obj, int column)
{
    const cJSON *it;
    cJSON_ArrayForEach(it,
                       obj) if (it->string && ldr__header_column(it->string, strlen(it->string)) == column) return it;
    return NULL;
}

static const cJSON *products_of(const cJSON *obj)
{
    static const char *const KEYS[] = {"products", "productos", "items", "productos_pedido", NULL};
    for (size_t i = 0; KEYS[i]; i++) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, KEYS[i]);
        if (p)
            return p;
    }
    return NULL;
}

/* ---- a syntax check that allocates nothing ---- */
/* Strict JSON (RFC 8259) plus cJSON's own refusals: containers nested deeper than
 * CJSON_NESTING_LIMIT, lone UTF-16 surrogates in \u escapes, and numbers of 64 characters or more
 * (cJSON 1.7 reads a number through a 64-byte buffer). Whatever passes, cJSON parses when memory
 * suffices; cJSON accepts more (a leading control character, "01"), which does not matter: this
 * check only runs after cJSON has refused. */
struct scan {
    const char *s;
    size_t i, n;
};

static void scan_ws(struct scan *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r'))
        c->i++;
}

static bool scan_digit(const struct scan *c)
{
    return c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9';
}

static bool scan_hex4(struct scan *c, unsigned *out)
{
    if (c->n - c->i < 4)
        return false;
    unsigned v = 0;
    for (size_t k = 0; k < 4; k++) {
        char h = c->s[c->i + k];
        unsigned d = h >= '0' && h <= '9'   ? (unsigned)(h - '0')
                     : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
                     : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10)
                                            : 16;
        if (d == 16)
            return false;
        v = v << 4 | d;
    }
    c->i += 4;
    *out = v;
    return true;
}

static bool scan_string(struct scan *c)
{
    c->i++; // the opening quote
    while (c->i < c->n) {
        unsigned char ch = (unsigned char)c->s[c->i++];
        if (ch == '"')
            return true;
        if (ch < 0x20)
            return false;
        if (ch != '\\')
            continue;
        if (c->i >= c->n)
            return false;
        char e = c->s[c->i++];
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't')
            continue;
        unsigned u;
        if (e != 'u' || !scan_hex4(c, &u) || (u >= 0xDC00 && u <= 0xDFFF))
            return false;
        if (u >= 0xD800 && u <= 0xDBFF) { // a high surrogate needs its low half
            if (c->n - c->i < 2 || c->s[c->i] != '\\' || c->s[c->i + 1] != 'u')
                return false;
            c->i += 2;
            if (!scan_hex4(c, &u) || u < 0xDC00 || u > 0xDFFF)
                return false;
        }
    }
    return false;
}

static bool scan_number(struct scan *c)
{
    size_t start = c->i;
    if (c->i < c->n && c->s[c->i] == '-')
        c->i++;
    if (!scan_digit(c))
        return false;
    if (c->s[c->i] == '0')
        c->i++;
    else
        while (scan_digit(c))
            c->i++;
    if (c->i < c->n && c->s[c->i] == '.') {
        c->i++;
        if (!scan_digit(c))
            return false;
        while (scan_digit(c))
            c->i++;
    }
    if (c->i < c->n && (c->s[c->i] == 'e' || c->s[c->i] == 'E')) {
        c->i++;
        if (c->i < c->n && (c->s[c->i] == '+' || c->s[c->i] == '-'))
            c->i++;
        if (!scan_digit(c))
            return false;
        while (scan_digit(c))
            c->i++;
    }
    return c->i - start < 64;
}

static bool scan_literal(struct scan *c, const char *lit)
{
    size_t l = strlen(lit);
    if (c->n - c->i < l || memcmp(c->s + c->i, lit, l) != 0)
        return false;
    c->i += l;
    return true;
}

/* One value at c->i (white space before it skipped); `depth` containers enclose it. */
static bool scan_value(struct scan *c, int depth)
{
    scan_ws(c);
    if (c->i >= c->n)
        return false;
    char open = c->s[c->i];
    switch (open) {
    case '"': return scan_string(c);
    case 't': return scan_literal(c, "true");
    case 'f': return scan_literal(c, "false");
    case 'n': return scan_literal(c, "null");
    case '[':
    case '{': break;
    default: return scan_number(c);
    }
    if (depth >= CJSON_NESTING_LIMIT)
        return false;
    char close = open == '{' ? '}' : ']';
    c->i++;
    scan_ws(c);
    if (c->i < c->n && c->s[c->i] == close) {
        c->i++;
        return true;
    }
    for (;;) {
        if (open == '{') {
            scan_ws(c);
            if (c->i >= c->n || c->s[c->i] != '"' || !scan_string(c))
                return false;
            scan_ws(c);
            if (c->i >= c->n || c->s[c->i] != ':')
                return false;
            c->i++;
        }
        if (!scan_value(c, depth + 1))
            return false;
        scan_ws(c);
        if (c->i >= c->n)
            return false;
        if (c->s[c->i] == close) {
            c->i++;
            return true;
        }
        if (c->s[c->i++] != ',')
            return false;
    }
}

/* True when the text starts with a JSON value cJSON parses when memory suffices (what follows the
 * value does not matter: the loader does not ask cJSON to check it either). */
static bool json_syntax_ok(const char *s, size_t n)
{
    struct scan c = {.s = s, .n = n};
    return scan_value(&c, 0);
}

/* Line (1-based) of a byte offset, for "not valid JSON" messages. */
static unsigned long line_of(const char *data, size_t off)
{
    unsigned long line = 1;
    for (size_t i = 0; i < off; i++)
        line += data[i] == '\n';
    return line;
}

static int fatal(struct ldr_load *ld, const char *place, const char *msg)
{
    ld->fatal = true;
    return ldr__error(ld, place, NULL, "%s", msg) != 0 ? LDR_ENOMEM : LDR_EINVALID;
}

static int read_order(struct ldr_load *ld, const cJSON *o, size_t i)
{
    char place[700];
    unsigned long line = (unsigned long)i + 1;
    ld->json_product = -1;
    ldr__place(ld, line, -1, place, sizeof place);
    if (!cJSON_IsObject(o)) {
        ld->rows++;
        return ldr__error(ld, place, NULL, "not an object");
    }
    char cbuf[64], nbuf[64];
    const char *code = scalar(member(o, 0), cbuf, sizeof cbuf);
    const char *name = scalar(member(o, 1), nbuf, sizeof nbuf);
    const cJSON *prods = products_of(o);
    if (!cJSON_IsArray(prods) || cJSON_GetArraySize(prods) == 0) {
        ld->rows++;
        int rc = ldr__error(ld, place, "products", "%s",
                            prods == NULL          ? "missing (a list of {\"product_code\", \"quantity\"})"
                            : cJSON_IsArray(prods) ? "empty list"
                                                   : "not a list");
        if (rc == 0 && ldr__code_valid(code, strlen(code)))
            rc = ldr__group_add(ld, code, strlen(code), NULL, 0, "", 0, 0, line, /* valid= */ false);
        return rc;
    }
    const cJSON *p;
    long k = 0;
    cJSON_ArrayForEach(p, prods)
    {
        ld->json_product = k++;
        char pbuf[64], qbuf[64];
        const char *prod = "", *qty = "";
        if (cJSON_IsObject(p)) {
            prod = scalar(member(p, 2), pbuf, sizeof pbuf);
            qty = scalar(member(p, 3), qbuf, sizeof qbuf);
        }
        const char *f[4] = {code, name, prod, qty};
        size_t l[4] = {strlen(code), strlen(name), strlen(prod), strlen(qty)};
        struct ldr__row row = {.n = 4, .field = f, .len = l, .line = line};
        int rc = ldr__row_accept(ld, &row);
        if (rc != 0)
            return rc;
    }
    ld->json_product = -1;
    return 0;
}

int ldr__json_read(struct ldr_load *ld, const char *data, size_t len)
{
    size_t skip = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data + skip, len - skip, &end, /* require_null_terminated= */ 0);
    char msg[256];
    if (root == NULL) {
        if (end == NULL || json_syntax_ok(data + skip, len - skip))
            return LDR_ENOMEM; // JSON that cJSON could not hold

        size_t off = (size_t)(end - data);
        snprintf(msg, sizeof msg, "not valid JSON (line %lu)", line_of(data, off < len ? off : len));
        return fatal(ld, ld->file, msg);
    }
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = fatal(ld, ld->file, "the top level must be an object {\"name\": ..., \"orders\": [...]}");
        goto out;
    }
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (cJSON_IsString(nm) && nm->valuestring[0] != '\0' && ld->opt.name == NULL) {
        ld->name = strdup(nm->valuestring);
        if (ld->name == NULL) {
            rc = LDR_ENOMEM;
            goto out;
        }
    }
    const cJSON *orders = cJSON_GetObjectItemCaseSensitive(root, "orders");
    if (orders == NULL)
        orders = cJSON_GetObjectItemCaseSensitive(root, "pedidos");
    if (!cJSON_IsArray(orders)) {
        rc = fatal(ld, ld->file, "\"orders\" is missing or not a list");
        goto out;
    }
    const cJSON *o;
    size_t i = 0;
    cJSON_ArrayForEach(o, orders)
    {
        if ((rc = read_order(ld, o, i++)) != 0)
            goto out;
    }
out:
    cJSON_Delete(root);
    return rc;
}
