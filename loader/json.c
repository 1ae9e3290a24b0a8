/* json: reads {"name": "...", "orders": [{"consultora_code": "...", "consultora_name": "...",
 * "products": [{"product_code": "...", "quantity": 2}]}]} (keys match like CSV headers, Spanish
 * aliases included; "productos" and "items" are accepted for "products"). Each product becomes a
 * row [code, name, product, quantity] checked by the same rules as a CSV line; places are JSON
 * paths ("orders[3].products[1]"). Codes may be strings or whole numbers. */
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
    cJSON_ArrayForEach(it, obj)
        if (it->string && ldr__header_column(it->string, strlen(it->string)) == column)
            return it;
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
        int rc = ldr__error(ld, place, "products", "%s", prods == NULL ? "missing (a list of {\"product_code\", \"quantity\"})"
                                                      : cJSON_IsArray(prods) ? "empty list" : "not a list");
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
        if (end == NULL)
            return LDR_ENOMEM;
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
