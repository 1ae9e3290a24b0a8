/* xlsx: streams the rows of one worksheet of an Office Open XML workbook (.xlsx) held in memory,
 * with libzip for the archive and expat for the XML. The workbook and its relationships say which
 * part holds which sheet (sheet names are read, not guessed from part names); the shared strings
 * table is kept in memory (cells refer to it by index), but the worksheet itself is decompressed
 * and parsed in 64 KiB chunks and each row is handed on and forgotten, so a 200k-row sheet needs
 * memory for its strings, not for its rows. Cells: shared strings (t="s"), inline strings
 * (t="inlineStr"), formula results (the cached <v>, t="str" or a number), booleans and errors as
 * their text, numbers (an integral number prints without ".0", so a code typed as a number comes
 * out as typed). Cell positions come from the r attribute ("C12"); missing cells are "". Element
 * names are matched without their namespace prefix (some writers use "x:row").
 *
 * Zip bombs: a 50 MB upload could inflate to gigabytes (deflate reaches about 1000:1). Every part
 * read is capped (LDR__XLSX_MAX_PART) and so is the sum of all of them (100 times the file's size,
 * within 16 MiB..1 GiB: real workbooks inflate 5 to 20 times). The caps are checked on the sizes the
 * zip declares, before anything is inflated, and again on the bytes as they come out, since a
 * crafted archive can declare anything. expat allocates through malloc/realloc/free named here, so
 * the fault-injection tests reach its allocations too. */
#include <errno.h>
#include <expat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

#include "ldr_internal.h"

#define XLSX_CHUNK    (64 * 1024) /* bytes decompressed per read */
#define XLSX_MAX_COLS 16384       /* XFD, Excel's last column */

struct xlsx {
    zip_t *zip;
    struct ldr__xlsx_limits lim;
    unsigned long long inflated; /* bytes inflated so far, every part read */
    char *err;
    size_t errn;
};

static const XML_Memory_Handling_Suite XML_MEM = {malloc, realloc, free};

static XML_Parser new_parser(void)
{
    return XML_ParserCreate_MM(NULL, &XML_MEM, NULL);
}

struct ldr__xlsx_limits ldr__xlsx_limits_for(size_t len)
{
    unsigned long long total = LDR__XLSX_MAX_TOTAL;
    if (len < LDR__XLSX_MAX_TOTAL / LDR__XLSX_MAX_RATIO)
        total = (unsigned long long)len * LDR__XLSX_MAX_RATIO;
    if (total < LDR__XLSX_MIN_TOTAL)
        total = LDR__XLSX_MIN_TOTAL;
    return (struct ldr__xlsx_limits){.part = LDR__XLSX_MAX_PART, .total = total};
}

/* "256 MB", or "64 KB" below a MiB. */
static const char *size_text(unsigned long long bytes, char *out, size_t n)
{
    if (bytes >= (1u << 20))
        snprintf(out, n, "%llu MB", bytes >> 20);
    else
        snprintf(out, n, "%llu KB", bytes >> 10);
    return out;
}

/* The message for a part past the limits: `size` (what it declares, or what it gave before it was
 * stopped) is past the per-part cap, else past what the total left it. Returns LDR_EINVALID. */
static int too_big(struct xlsx *x, const char *entry, unsigned long long size)
{
    char lim[32];
    if (size > x->lim.part)
        snprintf(x->err, x->errn, "not a valid XLSX file: %s inflates past %s (a zip bomb?)", entry,
                 size_text(x->lim.part, lim, sizeof lim));
    else
        snprintf(x->err, x->errn, "not a valid XLSX file: %s: the parts read inflate past %s in all (a zip bomb?)",
                 entry, size_text(x->lim.total, lim, sizeof lim));
    return LDR_EINVALID;
}

static bool zip_nomem(zip_error_t *e)
{
    return zip_error_code_zip(e) == ZIP_ER_MEMORY;
}

static const char *local_name(const char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

static const char *attr(const char **atts, const char *want)
{
    for (size_t i = 0; atts[i] != NULL; i += 2)
        if (strcmp(local_name(atts[i]), want) == 0)
            return atts[i + 1];
    return NULL;
}

/* Parses one zip entry through `p` in chunks, within the inflate limits. Returns 0, 1 when the
 * entry is missing, LDR_ENOMEM, or LDR_EINVALID with the message set; a handler that stopped the
 * parser leaves its own code in *stopped_rc (checked by the caller). */
static int parse_entry(struct xlsx *x, const char *entry, XML_Parser p, const int *stopped_rc)
{
    zip_int64_t idx = zip_name_locate(x->zip, entry, 0);
    if (idx < 0)
        return 1;
    unsigned long long left = x->lim.total - x->inflated; // what this part may still inflate to
    if (left > x->lim.part)
        left = x->lim.part;
    zip_stat_t st;
    if (zip_stat_index(x->zip, (zip_uint64_t)idx, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE) && st.size > left)
        return too_big(x, entry, st.size);
    zip_file_t *f = zip_fopen_index(x->zip, (zip_uint64_t)idx, 0);
    if (f == NULL) {
        if (zip_nomem(zip_get_error(x->zip)))
            return LDR_ENOMEM;
        snprintf(x->err, x->errn, "not a valid XLSX file: %s: %s", entry, zip_strerror(x->zip));
        return LDR_EINVALID;
    }
    char *chunk = malloc(XLSX_CHUNK);
    if (chunk == NULL) {
        zip_fclose(f);
        return LDR_ENOMEM;
    }
    int rc = 0;
    unsigned long long got = 0; // bytes of this part
    for (;;) {
        // Never ask for more than one byte past the limit: that byte is enough to know.
        zip_uint64_t want = left - got < XLSX_CHUNK ? left - got + 1 : XLSX_CHUNK;
        zip_int64_t n = zip_fread(f, chunk, want);
        if (n < 0) {
            if (zip_nomem(zip_file_get_error(f))) {
                rc = LDR_ENOMEM;
            } else {
                snprintf(x->err, x->errn, "not a valid XLSX file (damaged or truncated): %s: %s", entry,
                         zip_file_strerror(f));
                rc = LDR_EINVALID;
            }
            break;
        }
        got += (unsigned long long)n;
        x->inflated += (unsigned long long)n;
        if (got > left) {
            rc = too_big(x, entry, got);
            break;
        }
        if (XML_Parse(p, chunk, (int)n, n == 0) == XML_STATUS_ERROR) {
            if (*stopped_rc != 0) {
                rc = *stopped_rc;
            } else if (XML_GetErrorCode(p) == XML_ERROR_NO_MEMORY) {
                rc = LDR_ENOMEM;
            } else {
                snprintf(x->err, x->errn, "not a valid XLSX file: %s: XML error at line %lu: %s", entry,
                         (unsigned long)XML_GetCurrentLineNumber(p), XML_ErrorString(XML_GetErrorCode(p)));
                rc = LDR_EINVALID;
            }
            break;
        }
        if (n == 0)
            break;
    }
    free(chunk);
    zip_fclose(f);
    return rc;
}

/* ---- workbook.xml: sheet names and relationship ids ---- */
struct sheet_ref {
    char *name, *rid;
};
struct workbook {
    struct sheet_ref *v;
    size_t n, cap;
    int rc;
    XML_Parser p;
};

static void wb_start(void *ud, const char *name, const char **atts)
{
    struct workbook *wb = ud;
    if (wb->rc != 0 || strcmp(local_name(name), "sheet") != 0)
        return;
    const char *nm = attr(atts, "name"), *id = attr(atts, "id");
    if (nm == NULL || id == NULL)
        return;
    if (wb->n == wb->cap) {
        size_t cap = wb->cap ? wb->cap * 2 : 8;
        struct sheet_ref *v = realloc(wb->v, cap * sizeof *v);
        if (v == NULL)
            goto nomem;
        wb->v = v;
        wb->cap = cap;
    }
    struct sheet_ref s = {strdup(nm), strdup(id)};
    if (s.name == NULL || s.rid == NULL) {
        free(s.name);
        free(s.rid);
        goto nomem;
    }
    wb->v[wb->n++] = s;
    return;
nomem:
    wb->rc = LDR_ENOMEM;
    XML_StopParser(wb->p, XML_FALSE);
}

/* ---- workbook.xml.rels: relationship id -> part ---- */
struct rels {
    const char *want_id; /* the sheet's relationship id */
    char target[512];
    char shared[512];
};

static void rel_target(const char *t, char *out, size_t n)
{
    // Targets are relative to xl/ unless absolute ("/xl/worksheets/sheet1.xml").
    if (t[0] == '/')
        snprintf(out, n, "%s", t + 1);
    else
        snprintf(out, n, "xl/%s", t);
}

static void rels_start(void *ud, const char *name, const char **atts)
{
    struct rels *r = ud;
    if (strcmp(local_name(name), "Relationship") != 0)
        return;
    const char *id = attr(atts, "Id"), *type = attr(atts, "Type"), *target = attr(atts, "Target");
    if (id == NULL || target == NULL)
        return;
    if (r->want_id != NULL && strcmp(id, r->want_id) == 0)
        rel_target(target, r->target, sizeof r->target);
    size_t tl = type ? strlen(type) : 0;
    if (tl >= 14 && strcmp(type + tl - 14, "/sharedStrings") == 0)
        rel_target(target, r->shared, sizeof r->shared);
}

/* ---- sharedStrings.xml ---- */
struct sst {
    struct buf bytes; /* the strings, each NUL-terminated */
    size_t *off;
    size_t n, cap;
    int depth_si, depth_t, depth_rph;
    int rc;
    XML_Parser p;
};

static void sst_fail(struct sst *s, int rc)
{
    s->rc = rc;
    XML_StopParser(s->p, XML_FALSE);
}

// After a failure expat may still deliver a few callbacks; each handler ignores them.
static void sst_start(void *ud, const char *name, const char **atts)
{
    struct sst *s = ud;
    if (s->rc != 0)
        return;
    const char *ln = local_name(name);
    if (strcmp(ln, "si") == 0) {
        if (s->depth_si && buf_append(&s->bytes, "", 1) != 0) // an <si> inside an <si>
            return sst_fail(s, LDR_ENOMEM);
        s->depth_si = 1;
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 1024;
            size_t *o = realloc(s->off, cap * sizeof *o);
            if (o == NULL)
                return sst_fail(s, LDR_ENOMEM);
            s->off = o;
            s->cap = cap;
        }
        s->off[s->n++] = s->bytes.len;
    } else if (s->depth_si && strcmp(ln, "rPh") == 0) {
        s->depth_rph++; // phonetic hints are not part of the text
    } else if (s->depth_si && strcmp(ln, "t") == 0) {
        s->depth_t++;
    }
}

static void sst_end(void *ud, const char *name)
{
    struct sst *s = ud;
    if (s->rc != 0)
        return;
    const char *ln = local_name(name);
    if (strcmp(ln, "si") == 0 && s->depth_si) {
        s->depth_si = 0;
        if (buf_append(&s->bytes, "", 1) != 0)
            sst_fail(s, LDR_ENOMEM);
    } else if (strcmp(ln, "rPh") == 0 && s->depth_rph > 0) {
        s->depth_rph--;
    } else if (strcmp(ln, "t") == 0 && s->depth_t > 0) {
        s->depth_t--;
    }
}

static void sst_text(void *ud, const char *txt, int len)
{
    struct sst *s = ud;
    if (s->rc == 0 && s->depth_si && s->depth_t > 0 && s->depth_rph == 0 &&
        buf_append(&s->bytes, txt, (size_t)len) != 0)
        sst_fail(s, LDR_ENOMEM);
}

/* ---- the worksheet ---- */
enum cell_type { CELL_NUMBER, CELL_SHARED, CELL_INLINE, CELL_OTHER };

struct sheet {
    XML_Parser p;
    const struct sst *sst;
    ldr__row_fn fn;
    void *ctx;
    int rc;
    unsigned long row, prev_row;
    long col, prev_col;
    enum cell_type type;
    bool in_v, in_is_t, in_is, in_sheetdata;
    int depth_rph;
    struct buf text;   /* the cell's <v> or inline text */
    struct buf cells;  /* this row's values, NUL-terminated */
    size_t *off, *len; /* per column: offset in cells, length; SIZE_MAX offset = missing */
    const char **ptr;
    size_t ncols, cap; /* columns used in this row, allocated */
    bool nonempty;
};

static void sheet_fail(struct sheet *s, int rc)
{
    if (s->rc == 0)
        s->rc = rc;
    XML_StopParser(s->p, XML_FALSE);
}

// "C12" -> 2 (0-based column); -1 when the reference has no letters.
static long ref_column(const char *r)
{
    long c = 0;
    size_t i = 0;
    for (; r[i] >= 'A' && r[i] <= 'Z' && i < 4; i++)
        c = c * 26 + (r[i] - 'A' + 1);
    return i == 0 ? -1 : c - 1;
}

static void sheet_start(void *ud, const char *name, const char **atts)
{
    struct sheet *s = ud;
    if (s->rc != 0)
        return;
    const char *ln = local_name(name);
    if (strcmp(ln, "sheetData") == 0) {
        s->in_sheetdata = true;
    } else if (!s->in_sheetdata) {
        return;
    } else if (strcmp(ln, "row") == 0) {
        const char *r = attr(atts, "r");
        char *end = NULL;
        errno = 0;
        unsigned long n = r ? strtoul(r, &end, 10) : 0;
        s->row = (r && errno == 0 && end != r && *end == '\0' && n > 0) ? n : s->prev_row + 1;
        s->prev_col = -1;
        for (size_t i = 0; i < s->ncols; i++)
            s->off[i] = SIZE_MAX;
        s->ncols = 0;
        buf_reset(&s->cells);
        s->nonempty = false;
    } else if (strcmp(ln, "c") == 0) {
        const char *r = attr(atts, "r"), *t = attr(atts, "t");
        long c = r ? ref_column(r) : -1;
        s->col = c >= 0 ? c : s->prev_col + 1;
        s->prev_col = s->col;
        s->type = t == NULL || strcmp(t, "n") == 0 ? CELL_NUMBER
                  : strcmp(t, "s") == 0            ? CELL_SHARED
                  : strcmp(t, "inlineStr") == 0    ? CELL_INLINE
                                                   : CELL_OTHER;
        buf_reset(&s->text);
    } else if (strcmp(ln, "v") == 0) {
        s->in_v = true;
    } else if (strcmp(ln, "is") == 0) {
        s->in_is = true;
    } else if (s->in_is && strcmp(ln, "rPh") == 0) {
        s->depth_rph++;
    } else if (s->in_is && strcmp(ln, "t") == 0) {
        s->in_is_t = true;
    }
}

static int sheet_grow(struct sheet *s, size_t need)
{
    if (need <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 8;
    while (cap < need)
        cap *= 2;
    size_t *o = realloc(s->off, cap * sizeof *o);
    if (o == NULL)
        return LDR_ENOMEM;
    s->off = o;
    size_t *l = realloc(s->len, cap * sizeof *l);
    if (l == NULL)
        return LDR_ENOMEM;
    s->len = l;
    const char **p = realloc(s->ptr, cap * sizeof *p);
    if (p == NULL)
        return LDR_ENOMEM;
    s->ptr = p;
    for (size_t i = s->cap; i < cap; i++)
        s->off[i] = SIZE_MAX;
    s->cap = cap;
    return 0;
}

/* The cell's value as text: a number that is a whole number prints without a fraction. */
static void cell_value(struct sheet *s, const char **val, size_t *vlen, char *num, size_t numn)
{
    const char *t = buf_str(&s->text);
    *val = t;
    *vlen = s->text.len;
    if (s->type == CELL_SHARED) {
        char *end = NULL;
        errno = 0;
        unsigned long long i = strtoull(t, &end, 10);
        if (s->text.len == 0 || errno != 0 || *end != '\0' || i >= s->sst->n) {
            *vlen = 0; // a dangling index: Excel would refuse the file; we read it as empty
            *val = "";
            return;
        }
        // Every string is NUL-terminated (XML text cannot hold a NUL).
        *val = s->sst->bytes.data + s->sst->off[i];
        *vlen = strlen(*val);
    } else if (s->type == CELL_NUMBER && s->text.len > 0) {
        char *end = NULL;
        double d = strtod(t, &end);
        if (*end == '\0' && isfinite(d) && d == floor(d) && fabs(d) < 1e15) {
            int k = snprintf(num, numn, "%.0f", d == 0 ? 0.0 : d);
            *val = num;
            *vlen = (size_t)k;
        }
    }
}

static void sheet_end(void *ud, const char *name)
{
    struct sheet *s = ud;
    if (s->rc != 0)
        return;
    const char *ln = local_name(name);
    if (strcmp(ln, "sheetData") == 0) {
        s->in_sheetdata = false;
    } else if (!s->in_sheetdata) {
        return;
    } else if (strcmp(ln, "v") == 0) {
        s->in_v = false;
    } else if (strcmp(ln, "is") == 0) {
        s->in_is = false;
    } else if (strcmp(ln, "rPh") == 0 && s->depth_rph > 0) {
        s->depth_rph--;
    } else if (strcmp(ln, "t") == 0) {
        s->in_is_t = false;
    } else if (strcmp(ln, "c") == 0) {
        if (s->col < 0 || s->col >= XLSX_MAX_COLS)
            return;
        char num[64];
        const char *v;
        size_t vlen;
        cell_value(s, &v, &vlen, num, sizeof num);
        if (sheet_grow(s, (size_t)s->col + 1) != 0)
            return sheet_fail(s, LDR_ENOMEM);
        size_t off = s->cells.len;
        if (buf_append(&s->cells, v, vlen) != 0 || buf_append(&s->cells, "", 1) != 0)
            return sheet_fail(s, LDR_ENOMEM);
        s->off[s->col] = off;
        s->len[s->col] = vlen;
        if ((size_t)s->col + 1 > s->ncols)
            s->ncols = (size_t)s->col + 1;
        for (size_t i = 0; i < vlen; i++)
            if (v[i] != ' ' && v[i] != '\t') {
                s->nonempty = true;
                break;
            }
    } else if (strcmp(ln, "row") == 0) {
        s->prev_row = s->row;
        if (!s->nonempty)
            return;
        for (size_t i = 0; i < s->ncols; i++) {
            if (s->off[i] == SIZE_MAX) {
                s->ptr[i] = "";
                s->len[i] = 0;
            } else {
                s->ptr[i] = s->cells.data + s->off[i];
            }
        }
        struct ldr__row row = {.n = s->ncols, .field = s->ptr, .len = s->len, .line = s->row};
        int rc = s->fn(s->ctx, &row);
        if (rc != 0)
            sheet_fail(s, rc);
    }
}

static void sheet_text(void *ud, const char *txt, int len)
{
    struct sheet *s = ud;
    if (s->rc == 0 && (s->in_v || (s->in_is_t && s->depth_rph == 0)) && buf_append(&s->text, txt, (size_t)len) != 0)
        sheet_fail(s, LDR_ENOMEM);
}

static int read_workbook(struct xlsx *x, struct workbook *wb)
{
    XML_Parser p = new_parser();
    if (p == NULL)
        return LDR_ENOMEM;
    wb->p = p;
    XML_SetUserData(p, wb);
    XML_SetStartElementHandler(p, wb_start);
    int rc = parse_entry(x, "xl/workbook.xml", p, &wb->rc);
    XML_ParserFree(p);
    if (rc == 1) {
        if (zip_name_locate(x->zip, "content.xml", 0) >= 0)
            snprintf(x->err, x->errn, "an OpenDocument spreadsheet (.ods) is not read");
        else
            snprintf(x->err, x->errn, "not a valid XLSX file: the zip archive has no xl/workbook.xml");
        return LDR_EINVALID;
    }
    if (rc == 0 && wb->n == 0) {
        snprintf(x->err, x->errn, "not a valid XLSX file: the workbook has no sheets");
        return LDR_EINVALID;
    }
    return rc;
}

static int read_rels(struct xlsx *x, struct rels *r)
{
    XML_Parser p = new_parser();
    if (p == NULL)
        return LDR_ENOMEM;
    XML_SetUserData(p, r);
    XML_SetStartElementHandler(p, rels_start);
    int none = 0;
    int rc = parse_entry(x, "xl/_rels/workbook.xml.rels", p, &none);
    XML_ParserFree(p);
    return rc == 1 ? 0 : rc; // no rels: fall back on the usual part names
}

static int read_sst(struct xlsx *x, const char *part, struct sst *s)
{
    XML_Parser p = new_parser();
    if (p == NULL)
        return LDR_ENOMEM;
    s->p = p;
    XML_SetUserData(p, s);
    XML_SetElementHandler(p, sst_start, sst_end);
    XML_SetCharacterDataHandler(p, sst_text);
    int rc = parse_entry(x, part, p, &s->rc);
    XML_ParserFree(p);
    if (rc == 0 && s->depth_si) { // an <si> never closed: terminate its string
        if (buf_append(&s->bytes, "", 1) != 0)
            rc = LDR_ENOMEM;
    }
    return rc == 1 ? 0 : rc; // a workbook without strings has no sharedStrings part
}

/* Lists the sheet names, ", "-separated, cut at a name that does not fit ("..., …"). */
static void list_sheets(const struct workbook *wb, struct ldr__xlsx_sheets *out)
{
    size_t k = 0, cap = sizeof out->all;
    out->all[0] = '\0';
    out->n = wb->n;
    for (size_t i = 0; i < wb->n; i++) {
        size_t need = (i ? 2 : 0) + strlen(wb->v[i].name);
        if (k + need + sizeof ", …" > cap && !(i + 1 == wb->n && k + need < cap)) {
            snprintf(out->all + k, cap - k, "%s…", i ? ", " : "");
            return;
        }
        k += (size_t)snprintf(out->all + k, cap - k, "%s%s", i ? ", " : "", wb->v[i].name);
    }
}

/* Picks the sheet: exact name, else the same name ignoring case, else lists the names. */
static int pick_sheet(struct xlsx *x, const struct workbook *wb, const char *want, const char *all, size_t *out)
{
    if (want == NULL) {
        *out = 0;
        return 0;
    }
    for (size_t i = 0; i < wb->n; i++)
        if (strcmp(wb->v[i].name, want) == 0)
            return (int)(*out = i, 0);
    for (size_t i = 0; i < wb->n; i++)
        if (strcasecmp(wb->v[i].name, want) == 0)
            return (int)(*out = i, 0);
    snprintf(x->err, x->errn, "no sheet named \"%s\" (sheets: %s)", want, all);
    return LDR_EINVALID;
}

int ldr__xlsx_read(const void *data, size_t len, const char *sheet, ldr__row_fn fn, void *ctx,
                   struct ldr__xlsx_sheets *sheets, const struct ldr__xlsx_limits *lim, char *err, size_t errn)
{
    struct xlsx x = {.lim = lim ? *lim : ldr__xlsx_limits_for(len), .err = err, .errn = errn};
    struct workbook wb = {0};
    struct sst sst = {0};
    struct sheet sh = {0};
    buf_init(&sst.bytes, 0);
    buf_init(&sh.text, 0);
    buf_init(&sh.cells, 0);
    *sheets = (struct ldr__xlsx_sheets){0};
    int rc;
    zip_error_t zerr;
    zip_error_init(&zerr);
    zip_source_t *src = zip_source_buffer_create(len ? data : "", len, 0, &zerr);
    if (src == NULL) {
        zip_error_fini(&zerr);
        return LDR_ENOMEM;
    }
    x.zip = zip_open_from_source(src, ZIP_RDONLY, &zerr);
    if (x.zip == NULL) {
        rc = zip_nomem(&zerr) ? LDR_ENOMEM : LDR_EINVALID;
        if (rc == LDR_EINVALID)
            snprintf(err, errn, "not a valid XLSX file (the zip archive is damaged or truncated: %s)",
                     zip_error_strerror(&zerr));
        zip_source_free(src);
        zip_error_fini(&zerr);
        return rc;
    }
    zip_error_fini(&zerr);

    if ((rc = read_workbook(&x, &wb)) != 0)
        goto out;
    list_sheets(&wb, sheets);
    size_t which = 0;
    if ((rc = pick_sheet(&x, &wb, sheet, sheets->all, &which)) != 0)
        goto out;
    snprintf(sheets->chosen, sizeof sheets->chosen, "%s", wb.v[which].name);
    struct rels rl = {.want_id = wb.v[which].rid};
    if ((rc = read_rels(&x, &rl)) != 0)
        goto out;
    if (rl.target[0] == '\0')
        snprintf(rl.target, sizeof rl.target, "xl/worksheets/sheet%zu.xml", which + 1);
    if ((rc = read_sst(&x, rl.shared[0] ? rl.shared : "xl/sharedStrings.xml", &sst)) != 0)
        goto out;

    sh.p = new_parser();
    if (sh.p == NULL) {
        rc = LDR_ENOMEM;
        goto out;
    }
    sh.sst = &sst;
    sh.fn = fn;
    sh.ctx = ctx;
    XML_SetUserData(sh.p, &sh);
    XML_SetElementHandler(sh.p, sheet_start, sheet_end);
    XML_SetCharacterDataHandler(sh.p, sheet_text);
    rc = parse_entry(&x, rl.target, sh.p, &sh.rc);
    if (rc == 1) {
        snprintf(err, errn, "not a valid XLSX file: sheet \"%s\" has no part %s", wb.v[which].name, rl.target);
        rc = LDR_EINVALID;
    }
out:
    if (sh.p)
        XML_ParserFree(sh.p);
    buf_cleanup(&sh.text);
    buf_cleanup(&sh.cells);
    free(sh.off);
    free(sh.len);
    free(sh.ptr);
    buf_cleanup(&sst.bytes);
    free(sst.off);
    for (size_t i = 0; i < wb.n; i++) {
        free(wb.v[i].name);
        free(wb.v[i].rid);
    }
    free(wb.v);
    zip_discard(x.zip);
    return rc;
}
