/* validate: the rules of README "Preparing the spreadsheet". The header row is mapped to the four canonical columns
 * (names compared without case, accents, spaces or punctuation, with Spanish aliases); each data
 * row is checked field by field, every problem listed with its place, column and value; valid
 * rows (and the consultora of invalid ones, so --skip-invalid can drop the whole order) go on to
 * grouping. Values are trimmed; a name's inner runs of white space become one space. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

static const char *const CANONICAL[4] = {"consultora_code", "consultora_name", "product_code", "quantity"};

/* Normalised spellings (lowercase ASCII letters and digits only) of each column. */
static const char *const ALIASES[4][16] = {
    {"consultoracode", "codigoconsultora", "codconsultora", "consultora", "idconsultora", "consultoraid",
     "codigodeconsultora", "codigodelaconsultora", "nconsultora", "numeroconsultora", "cdconsultora",
     "consultoracodigo", NULL},
    {"consultoraname", "nombreconsultora", "nombre", "name", "nombredeconsultora", "nombredelaconsultora",
     "consultoranombre", "nombrecompleto", NULL},
    {"productcode", "codigoproducto", "codproducto", "producto", "product", "sku", "codigodeproducto",
     "codigodelproducto", "productid", "productocodigo", "codigoventa", "cv", NULL},
    {"quantity", "cantidad", "cant", "qty", "unidades", "cantidadsolicitada", "qtd", NULL},
};

/* Lowercase ASCII letters and digits of a UTF-8 header, accents folded (á -> a, ñ -> n). */
static void normalise(const char *s, size_t len, char *out, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char o = 0;
        if (c >= 'A' && c <= 'Z')
            o = (char)(c - 'A' + 'a');
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            o = (char)c;
        else if (c == 0xC3 && i + 1 < len) {
            // Latin-1 supplement letters: U+00C0..U+00FF are C3 80..C3 BF.
            unsigned char d = (unsigned char)s[++i] | 0x20; // fold case (À..Þ -> à..þ)
            static const char fold[32] = "aaaaaaaceeeeiiii"
                                         "dnooooo ouuuuyty";
            if (d >= 0xA0 && d <= 0xBF)
                o = fold[d - 0xA0] == ' ' ? 0 : fold[d - 0xA0];
        }
        if (o)
            out[k++] = o;
    }
    out[k] = '\0';
}

int ldr__header_column(const char *s, size_t len)
{
    char norm[128];
    normalise(s, len, norm, sizeof norm);
    for (int c = 0; c < 4; c++)
        for (size_t a = 0; ALIASES[c][a] != NULL; a++)
            if (strcmp(norm, ALIASES[c][a]) == 0)
                return c;
    return -1;
}

bool ldr_code_valid(const char *s)
{
    return s != NULL && ldr__code_valid(s, strnlen(s, 21));
}

bool ldr__code_valid(const char *s, size_t len)
{
    if (len < 1 || len > 20)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-'))
            return false;
    }
    return true;
}

/* A value for a message: quoted, cut to 40 characters. */
static const char *show(const char *s, size_t len, char *buf, size_t n)
{
    size_t cut = len, chars = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && ++chars > 40) {
            cut = i;
            break;
        }
    snprintf(buf, n, "\"%.*s%s\"", (int)cut, s, cut < len ? "…" : "");
    return buf;
}

static int *col_slot(struct ldr__cols *c, int which)
{
    switch (which) {
    case 0: return &c->code;
    case 1: return &c->name;
    case 2: return &c->product;
    default: return &c->quantity;
    }
}

static void column_label(const struct ldr_load *ld, int idx, char *out, size_t n)
{
    if (ld->kind == LDR__XLSX) {
        char p[700];
        ldr__place(ld, 1, idx, p, sizeof p);
        const char *bang = strrchr(p, '!');
        snprintf(out, n, "column %s", bang ? bang + 1 : p);
        size_t l = strlen(out);
        while (l > 0 && out[l - 1] >= '0' && out[l - 1] <= '9') // "column C1" -> "column C"
            out[--l] = '\0';
    } else {
        snprintf(out, n, "column %d", idx + 1);
    }
}

int ldr__header_map(struct ldr_load *ld, const struct ldr__row *hdr)
{
    char place[700], label[64], v[256];
    ld->cols = (struct ldr__cols){-1, -1, -1, -1};
    ldr__place(ld, hdr->line, 0, place, sizeof place);
    bool bad = false;
    for (size_t i = 0; i < hdr->n && i < 100000; i++) {
        const char *h = hdr->field[i];
        size_t hl = hdr->len[i];
        int c = ldr__header_column(h, hl);
        if (c < 0) {
            bool blank = true;
            for (size_t k = 0; k < hl; k++)
                blank = blank && (h[k] == ' ' || h[k] == '\t');
            if (!blank) {
                column_label(ld, (int)i, label, sizeof label);
                if (ldr__warning(ld, place, "header", "%s %s is not used", label, show(h, hl, v, sizeof v)) != 0)
                    return LDR_ENOMEM;
            }
            continue;
        }
        int *slot = col_slot(&ld->cols, c);
        if (*slot >= 0) {
            char first[64];
            column_label(ld, *slot, first, sizeof first);
            column_label(ld, (int)i, label, sizeof label);
            if (ldr__error(ld, place, "header", "%s and %s both name %s", first, label, CANONICAL[c]) != 0)
                return LDR_ENOMEM;
            bad = true;
            continue;
        }
        *slot = (int)i;
    }
    static const char *const ALSO[4] = {"codigo_consultora, consultora", "nombre_consultora, nombre",
                                        "codigo_producto, producto, sku", "cantidad"};
    // A first sheet with none of the required columns is most likely the wrong sheet (a cover page,
    // a summary): the first message says which others there are.
    char hint[700] = "";
    if (ld->cols.code < 0 && ld->cols.product < 0 && ld->cols.quantity < 0)
        ldr__other_sheets_hint(ld, hint, sizeof hint);
    for (int c = 0; c < 4; c++) {
        if (c == 1 || *col_slot(&ld->cols, c) >= 0)
            continue; // the name is optional
        if (ldr__error(ld, place, "header", "no %s column (also accepted: %s)%s", CANONICAL[c], ALSO[c], hint) != 0)
            return LDR_ENOMEM;
        hint[0] = '\0';
        bad = true;
    }
    return bad ? LDR_EINVALID : 0;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trims ASCII white space and no-break spaces (U+00A0, common in pasted spreadsheets). */
static void trim(const char **s, size_t *len)
{
    const char *p = *s;
    size_t n = *len;
    for (;;) {
        if (n > 0 && is_space((unsigned char)p[0])) {
            p++;
            n--;
        } else if (n > 1 && (unsigned char)p[0] == 0xC2 && (unsigned char)p[1] == 0xA0) {
            p += 2;
            n -= 2;
        } else {
            break;
        }
    }
    for (;;) {
        if (n > 0 && is_space((unsigned char)p[n - 1]))
            n--;
        else if (n > 1 && (unsigned char)p[n - 2] == 0xC2 && (unsigned char)p[n - 1] == 0xA0)
            n -= 2;
        else
            break;
    }
    *s = p;
    *len = n;
}

/* Collapses runs of white space (tabs, line breaks and other control characters, NUL included)
 * into one space. */
static size_t squeeze(const char *s, size_t len, char *out)
{
    size_t k = 0;
    bool sp = false;
    for (size_t i = 0; i < len; i++) {
        if (is_space((unsigned char)s[i]) || (unsigned char)s[i] < 0x20 || s[i] == 0x7F) {
            sp = true;
            continue;
        }
        if (sp && k > 0)
            out[k++] = ' ';
        sp = false;
        out[k++] = s[i];
    }
    return k;
}

static void field(const struct ldr__row *row, int col, const char **s, size_t *len)
{
    if (col >= 0 && (size_t)col < row->n) {
        *s = row->field[col];
        *len = row->len[col];
    } else {
        *s = "";
        *len = 0;
    }
    trim(s, len);
}

/* Parses a quantity: digits, optionally followed by ".0..." (spreadsheets export 2 as "2.0").
 * Returns 0 and the value (saturated at 10^9), -1 when it is not a whole number. */
static int parse_quantity(const char *s, size_t len, long long *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+')) {
        neg = s[i] == '-';
        i++;
    }
    if (i == len || s[i] < '0' || s[i] > '9')
        return -1;
    long long v = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        if (v < 1000000000LL)
            v = v * 10 + (s[i] - '0');
    if (i < len && (s[i] == '.' || s[i] == ',')) {
        i++;
        if (i == len)
            return -1;
        for (; i < len; i++)
            if (s[i] != '0')
                return -1;
    }
    if (i != len)
        return -1;
    *out = neg ? -v : v;
    return 0;
}

static int code_error(struct ldr_load *ld, const struct ldr__row *row, int col, const char *s, size_t len)
{
    char place[700], v[256];
    ldr__place(ld, row->line, col, place, sizeof place);
    const char *cname = col == ld->cols.code ? CANONICAL[0] : CANONICAL[2];
    if (len == 0)
        return ldr__error(ld, place, cname, "missing value");
    return ldr__error(ld, place, cname, "%s is not a valid code (1 to 20 letters, digits or -)",
                      show(s, len, v, sizeof v));
}

int ldr__row_accept(struct ldr_load *ld, const struct ldr__row *row)
{
    const char *code, *name, *prod, *qty;
    size_t code_l, name_l, prod_l, qty_l;
    field(row, ld->cols.code, &code, &code_l);
    field(row, ld->cols.name, &name, &name_l);
    field(row, ld->cols.product, &prod, &prod_l);
    field(row, ld->cols.quantity, &qty, &qty_l);
    if (ld->kind != LDR__JSON) {
        bool blank = code_l == 0 && name_l == 0 && prod_l == 0 && qty_l == 0;
        for (size_t i = 0; blank && i < row->n; i++) {
            const char *s = row->field[i];
            size_t l = row->len[i];
            trim(&s, &l);
            blank = l == 0;
        }
        if (blank) // a row of empty cells (",,,") is a blank line
            return 0;
    }
    ld->rows++;
    char place[700], v[256];
    bool valid = true;
    int rc = 0;
    bool code_ok = ldr__code_valid(code, code_l);
    if (!code_ok) {
        valid = false;
        if ((rc = code_error(ld, row, ld->cols.code, code, code_l)) != 0)
            return rc;
    }
    // The name: squeezed into a copy (it never grows).
    char *nm = NULL;
    size_t nm_l = 0;
    if (name_l > 0) {
        nm = malloc(name_l);
        if (nm == NULL)
            return LDR_ENOMEM;
        nm_l = squeeze(name, name_l, nm);
        size_t chars = ldr__utf8_chars(nm, nm_l);
        if (chars > 200) {
            valid = false;
            ldr__place(ld, row->line, ld->cols.name, place, sizeof place);
            if ((rc = ldr__error(ld, place, CANONICAL[1], "%zu characters, at most 200", chars)) != 0)
                goto out;
        }
    }
    if (!ldr__code_valid(prod, prod_l)) {
        valid = false;
        if ((rc = code_error(ld, row, ld->cols.product, prod, prod_l)) != 0)
            goto out;
    }
    long long q = 0;
    ldr__place(ld, row->line, ld->cols.quantity, place, sizeof place);
    if (qty_l == 0) {
        valid = false;
        rc = ldr__error(ld, place, CANONICAL[3], "missing value");
    } else if (parse_quantity(qty, qty_l, &q) != 0) {
        valid = false;
        rc = ldr__error(ld, place, CANONICAL[3], "%s is not a whole number", show(qty, qty_l, v, sizeof v));
    } else if (q < 1 || q > ld->opt.max_quantity) {
        valid = false;
        rc = ldr__error(ld, place, CANONICAL[3], "%s is not between 1 and %d", show(qty, qty_l, v, sizeof v),
                        ld->opt.max_quantity);
    }
    if (rc != 0)
        goto out;
    if (code_ok)
        rc = ldr__group_add(ld, code, code_l, nm, nm_l, prod, prod_l, (int)q, row->line, valid);
out:
    free(nm);
    return rc;
}
