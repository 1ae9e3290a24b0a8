/* csv: an RFC 4180 reader over a buffer in memory. Quoted fields may hold the delimiter, doubled
 * quotes and line breaks (kept as they are, CRLF included); records end at LF, CRLF or CR; empty
 * lines are skipped; a UTF-8 BOM is skipped. It is lenient where spreadsheets are sloppy: a quote
 * inside an unquoted field is literal, and text after a closing quote is appended to the field.
 * The only hard error is a quoted field still open at the end of the input. Each record is handed
 * to the consumer with the line it started on, so messages can say `orders.csv:17`. Excel's
 * "sep=;" first line (its way of declaring the delimiter) sets the delimiter and is no record. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ldr_internal.h"

struct csv_row {
    struct buf bytes; /* fields, each NUL-terminated */
    size_t *off, *len;
    const char **ptr;
    size_t n, cap;
};

static int row_push(struct csv_row *r, size_t off, size_t len)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        size_t *o = realloc(r->off, cap * sizeof *o);
        if (o == NULL)
            return LDR_ENOMEM;
        r->off = o;
        size_t *l = realloc(r->len, cap * sizeof *l);
        if (l == NULL)
            return LDR_ENOMEM;
        r->len = l;
        const char **p = realloc(r->ptr, cap * sizeof *p);
        if (p == NULL)
            return LDR_ENOMEM;
        r->ptr = p;
        r->cap = cap;
    }
    r->off[r->n] = off;
    r->len[r->n] = len;
    r->n++;
    return 0;
}

static void row_cleanup(struct csv_row *r)
{
    buf_cleanup(&r->bytes);
    free(r->off);
    free(r->len);
    free(r->ptr);
}

static unsigned long count_lf(const char *s, size_t n)
{
    unsigned long c = 0;
    const char *end = s + n;
    while ((s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
        c++;
        s++;
    }
    return c;
}

static size_t skip_bom(const char *data, size_t len)
{
    return len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

/* The length of a first line "sep=X" (X one ASCII character but a quote, a letter or a digit), line
 * break included, and X in *delim; 0 when the input has none. Starts after the BOM. */
static size_t sep_line(const char *data, size_t len, char *delim)
{
    size_t i = skip_bom(data, len);
    if (len - i < 5 || strncasecmp(data + i, "sep=", 4) != 0)
        return 0;
    unsigned char c = (unsigned char)data[i + 4];
    if (c >= 0x80 || c == '"' || c == '\r' || c == '\n' || isalnum(c))
        return 0;
    size_t end = i + 5;
    if (end < len && data[end] == '\r')
        end++;
    if (end < len && data[end] == '\n')
        end++;
    if (end == i + 5 && end < len) // something else follows on the line: not a declaration
        return 0;
    *delim = (char)c;
    return end;
}

char ldr__csv_detect_delimiter(const char *data, size_t len)
{
    size_t comma = 0, semi = 0, tab = 0;
    char declared;
    if (sep_line(data, len, &declared) > 0)
        return declared;
    size_t i = skip_bom(data, len);
    // Skip leading blank lines: the header is the first record.
    while (i < len && (data[i] == '\n' || data[i] == '\r'))
        i++;
    bool quoted = false;
    for (; i < len; i++) {
        char c = data[i];
        if (c == '"')
            quoted = !quoted;
        else if (!quoted && (c == '\n' || c == '\r'))
            break;
        else if (!quoted && c == ',')
            comma++;
        else if (!quoted && c == ';')
            semi++;
        else if (!quoted && c == '\t')
            tab++;
    }
    if (semi > comma && semi >= tab)
        return ';';
    if (tab > comma && tab > semi)
        return '\t';
    return ',';
}

int ldr__csv_parse(const char *data, size_t len, char delim, ldr__row_fn fn, void *ctx, char *err, size_t errn,
                   unsigned long *err_line)
{
    struct csv_row r = {0};
    buf_init(&r.bytes, 0);
    int rc = 0;
    unsigned long line = 1;
    size_t i = skip_bom(data, len);
    char declared;
    size_t sep = sep_line(data, len, &declared);
    if (sep > 0 && declared == delim) { // Excel's "sep=X": line 1, not the header
        i = sep;
        line = 2;
    }
    while (i < len) {
        if (data[i] == '\n' || data[i] == '\r') { // an empty line
            if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
                i++;
            i++;
            line++;
            continue;
        }
        unsigned long rec_line = line;
        r.n = 0;
        buf_reset(&r.bytes);
        for (;;) { // one field per turn
            size_t start = r.bytes.len;
            if (i < len && data[i] == '"') {
                i++;
                for (;;) {
                    const char *q = i < len ? memchr(data + i, '"', len - i) : NULL;
                    if (q == NULL) {
                        snprintf(err, errn, "a quoted field is not closed (a \" is missing)");
                        *err_line = rec_line;
                        rc = LDR_EINVALID;
                        goto out;
                    }
                    size_t seg = (size_t)(q - (data + i));
                    if (buf_append(&r.bytes, data + i, seg) != 0)
                        goto nomem;
                    line += count_lf(data + i, seg);
                    i += seg + 1;
                    if (i < len && data[i] == '"') { // "" is one quote
                        if (buf_append(&r.bytes, "\"", 1) != 0)
                            goto nomem;
                        i++;
                        continue;
                    }
                    break;
                }
            }
            size_t s = i;
            while (i < len && data[i] != delim && data[i] != '\n' && data[i] != '\r')
                i++;
            if (buf_append(&r.bytes, data + s, i - s) != 0 || buf_append(&r.bytes, "", 1) != 0 ||
                row_push(&r, start, r.bytes.len - 1 - start) != 0)
                goto nomem;
            if (i < len && data[i] == delim) {
                i++;
                continue;
            }
            if (i < len) { // end of line
                if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
                    i++;
                i++;
                line++;
            }
            break;
        }
        for (size_t k = 0; k < r.n; k++)
            r.ptr[k] = r.bytes.data + r.off[k];
        struct ldr__row row = {.n = r.n, .field = r.ptr, .len = r.len, .line = rec_line};
        if ((rc = fn(ctx, &row)) != 0)
            goto out;
    }
out:
    row_cleanup(&r);
    return rc;
nomem:
    rc = LDR_ENOMEM;
    goto out;
}
