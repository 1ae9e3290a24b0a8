/* group: rows -> orders. One order per consultora_code in first-appearance order; a product
 * repeated in one order becomes one item with the quantities summed and every source line kept
 * (a warning); a differing name for a code keeps the first (a warning). Everything lives in flat
 * arrays and one string arena, found through two open-addressing hash tables (code -> order,
 * (order, product) -> item), so a million rows cost a few dozen bytes each and no per-row malloc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

#define MAX_ITEM_QUANTITY 1000000 /* order_items.quantity's CHECK */

static uint64_t hash_bytes(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL; // FNV-1a
    }
    return h;
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 1024;
    void *p = realloc(*v, c * size);
    if (p == NULL)
        return LDR_ENOMEM;
    *v = p;
    *cap = c;
    return 0;
}

static int str_add(struct ldr_load *ld, const char *s, size_t n, size_t *off)
{
    *off = ld->strs.len;
    if (buf_append(&ld->strs, s, n) != 0 || buf_append(&ld->strs, "", 1) != 0)
        return LDR_ENOMEM; // the arena is emptied: the load is over (it reports out of memory)
    return 0;
}

static bool str_eq(const struct ldr_load *ld, size_t off, const char *s, size_t n)
{
    const char *a = ldr__str(ld, off);
    return strnlen(a, n + 1) == n && memcmp(a, s, n) == 0;
}

static uint64_t order_hash(const char *code, size_t n)
{
    return hash_bytes(code, n, 14695981039346656037ULL);
}

static uint64_t item_hash(uint32_t order, const char *code, size_t n)
{
    return hash_bytes(code, n, 14695981039346656037ULL ^ ((uint64_t)order * 0x9E3779B97F4A7C15ULL));
}

/* Rebuilds a table at twice the size once it is half full. */
static int rehash(struct ldr_load *ld, bool items)
{
    uint32_t **tab = items ? &ld->item_hash : &ld->order_hash;
    size_t *cap = items ? &ld->item_hash_cap : &ld->order_hash_cap;
    size_t used = items ? ld->nitems : ld->norders;
    if (*cap != 0 && used * 2 < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 4096;
    uint32_t *t = calloc(ncap, sizeof *t);
    if (t == NULL)
        return LDR_ENOMEM;
    for (size_t i = 0; i < used; i++) {
        uint64_t h;
        if (items) {
            const char *c = ldr__str(ld, ld->items[i].code);
            h = item_hash(ld->items[i].order, c, strlen(c));
        } else {
            const char *c = ldr__str(ld, ld->orders[i].code);
            h = order_hash(c, strlen(c));
        }
        size_t j = h & (ncap - 1);
        while (t[j] != 0)
            j = (j + 1) & (ncap - 1);
        t[j] = (uint32_t)i + 1;
    }
    free(*tab);
    *tab = t;
    *cap = ncap;
    return 0;
}

static int find_or_add_order(struct ldr_load *ld, const char *code, size_t n, unsigned long line, uint32_t *out,
                             bool *created)
{
    if (rehash(ld, false) != 0)
        return LDR_ENOMEM;
    size_t mask = ld->order_hash_cap - 1;
    size_t j = order_hash(code, n) & mask;
    for (; ld->order_hash[j] != 0; j = (j + 1) & mask) {
        uint32_t i = ld->order_hash[j] - 1;
        if (str_eq(ld, ld->orders[i].code, code, n)) {
            *out = i;
            *created = false;
            return 0;
        }
    }
    if (grow((void **)&ld->orders, &ld->orders_cap, ld->norders, sizeof *ld->orders) != 0)
        return LDR_ENOMEM;
    struct ldr__order o = {
        .name = SIZE_MAX, .first_line = (uint32_t)line, .first_item = LDR__NONE, .last_item = LDR__NONE};
    if (str_add(ld, code, n, &o.code) != 0)
        return LDR_ENOMEM;
    ld->orders[ld->norders] = o;
    ld->order_hash[j] = (uint32_t)ld->norders + 1;
    *out = (uint32_t)ld->norders++;
    *created = true;
    return 0;
}

static int add_line(struct ldr_load *ld, struct ldr__item *it, unsigned long line)
{
    if (grow((void **)&ld->lines, &ld->lines_cap, ld->nlines, sizeof *ld->lines) != 0)
        return LDR_ENOMEM;
    uint32_t k = (uint32_t)ld->nlines++;
    ld->lines[k] = (struct ldr__line){(uint32_t)line, LDR__NONE};
    if (it->more == LDR__NONE)
        it->more = k;
    else
        ld->lines[it->more_tail].next = k;
    it->more_tail = k;
    return 0;
}

int ldr__group_add(struct ldr_load *ld, const char *code, size_t code_len, const char *name, size_t name_len,
                   const char *product, size_t product_len, int quantity, unsigned long line, bool valid)
{
    uint32_t oi;
    bool created;
    char place[700], where[64], v[300];
    if (find_or_add_order(ld, code, code_len, line, &oi, &created) != 0)
        return LDR_ENOMEM;
    struct ldr__order *o = &ld->orders[oi];
    if (!valid) {
        o->invalid_rows++;
        return 0;
    }
    if (name_len > 0) {
        if (o->name == SIZE_MAX) {
            size_t off;
            if (str_add(ld, name, name_len, &off) != 0)
                return LDR_ENOMEM;
            ld->orders[oi].name = off;
        } else if (!str_eq(ld, o->name, name, name_len)) {
            ldr__place(ld, line, ld->cols.name, place, sizeof place);
            ldr__where(ld, o->first_line, where, sizeof where);
            snprintf(v, sizeof v, "%.*s", (int)(name_len < 200 ? name_len : 200), name);
            if (ldr__warning(ld, place, "consultora_name",
                             "\"%s\" differs from \"%s\" given for consultora %s (%s): the first is kept", v,
                             ldr__str(ld, o->name), ldr__str(ld, o->code), where) != 0)
                return LDR_ENOMEM;
        }
    }
    o = &ld->orders[oi];
    if (rehash(ld, true) != 0)
        return LDR_ENOMEM;
    size_t mask = ld->item_hash_cap - 1;
    size_t j = item_hash(oi, product, product_len) & mask;
    for (; ld->item_hash[j] != 0; j = (j + 1) & mask) {
        struct ldr__item *it = &ld->items[ld->item_hash[j] - 1];
        if (it->order != oi || !str_eq(ld, it->code, product, product_len))
            continue;
        ldr__place(ld, line, ld->cols.product, place, sizeof place);
        ldr__where(ld, it->line, where, sizeof where);
        long long sum = (long long)it->quantity + quantity;
        if (sum > MAX_ITEM_QUANTITY) {
            o->invalid_rows++;
            ldr__place(ld, line, ld->cols.quantity, place, sizeof place);
            return ldr__error(ld, place, "quantity", "product %s of consultora %s adds up to %lld, more than %d",
                              ldr__str(ld, it->code), ldr__str(ld, o->code), sum, MAX_ITEM_QUANTITY);
        }
        it->quantity = (int32_t)sum;
        o->quantity += quantity;
        if (add_line(ld, it, line) != 0)
            return LDR_ENOMEM;
        return ldr__warning(ld, place, "product_code",
                            "product %s repeated for consultora %s (first on %s): quantities summed to %lld",
                            ldr__str(ld, it->code), ldr__str(ld, o->code), where, sum);
    }
    if (grow((void **)&ld->items, &ld->items_cap, ld->nitems, sizeof *ld->items) != 0)
        return LDR_ENOMEM;
    struct ldr__item it = {.order = oi,
                           .next = LDR__NONE,
                           .line = (uint32_t)line,
                           .more = LDR__NONE,
                           .more_tail = LDR__NONE,
                           .quantity = quantity};
    if (str_add(ld, product, product_len, &it.code) != 0)
        return LDR_ENOMEM;
    uint32_t ii = (uint32_t)ld->nitems++;
    ld->items[ii] = it;
    ld->item_hash[j] = ii + 1;
    if (o->last_item == LDR__NONE)
        o->first_item = ii;
    else
        ld->items[o->last_item].next = ii;
    o->last_item = ii;
    o->nitems++;
    o->quantity += quantity;
    return 0;
}

int ldr__group_finish(struct ldr_load *ld)
{
    free(ld->kept);
    ld->kept = malloc((ld->norders ? ld->norders : 1) * sizeof *ld->kept);
    if (ld->kept == NULL)
        return LDR_ENOMEM;
    ld->nkept = 0;
    ld->kept_items = 0;
    for (size_t i = 0; i < ld->norders; i++) {
        const struct ldr__order *o = &ld->orders[i];
        if (o->invalid_rows > 0 || o->nitems == 0) {
            if (ld->opt.skip_invalid) {
                char place[700];
                ldr__place(ld, o->first_line, ld->cols.code, place, sizeof place);
                if (ldr__warning(ld, place, "consultora_code", "order of consultora %s skipped: %u invalid row%s",
                                 ldr__str(ld, o->code), o->invalid_rows, o->invalid_rows == 1 ? "" : "s") != 0)
                    return LDR_ENOMEM;
            }
            continue;
        }
        ld->kept[ld->nkept++] = (uint32_t)i;
        ld->kept_items += o->nitems;
    }
    return 0;
}

void ldr__group_cleanup(struct ldr_load *ld)
{
    buf_cleanup(&ld->strs);
    free(ld->orders);
    free(ld->items);
    free(ld->lines);
    free(ld->order_hash);
    free(ld->item_hash);
    free(ld->kept);
}
