/* load: the lifecycle of one input (see loader.h): options, the issue lists, places in messages,
 * reading a file / buffer / URL (format detection, SHA-256, encoding), handing rows to validation,
 * and the accessors and JSON summary callers print. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ldr_internal.h"

#define FORMATS_READ "formats read: CSV (.csv, .txt, .tsv), XLSX (.xlsx) and JSON (.json)"

void ldr_options_init(struct ldr_options *opt)
{
    *opt = (struct ldr_options){
        .max_quantity = 999,
        .max_bytes = 50LL << 20,
        .timeout_ms = 60000,
        .max_listed = 100,
    };
}

const char *ldr_strerror(int code)
{
    switch (code) {
    case 0: return "success";
    case LDR_EINVALID: return "invalid input";
    case LDR_EDUPLICATE: return "file already loaded";
    case LDR_EIO: return "cannot read the input";
    case LDR_EDB: return "database error";
    case LDR_ENOMEM: return "out of memory";
    case LDR_ESTATE: return "call out of order";
    default: return "unknown error";
    }
}

static char *dup_or_null(const char *s, bool *fail)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *fail = true;
    return d;
}

struct ldr_load *ldr_load_new(const struct ldr_options *opt)
{
    struct ldr_load *ld = calloc(1, sizeof *ld);
    if (ld == NULL)
        return NULL;
    if (opt != NULL)
        ld->opt = *opt;
    else
        ldr_options_init(&ld->opt);
    if (ld->opt.max_quantity <= 0)
        ld->opt.max_quantity = 999;
    if (ld->opt.max_bytes <= 0)
        ld->opt.max_bytes = 50LL << 20;
    if (ld->opt.timeout_ms <= 0)
        ld->opt.timeout_ms = 60000;
    bool fail = false;
    ld->opt_name = dup_or_null(ld->opt.name, &fail);
    ld->opt_sheet = dup_or_null(ld->opt.sheet, &fail);
    ld->opt.name = ld->opt_name;
    ld->opt.sheet = ld->opt_sheet;
    ld->cols = (struct ldr__cols){-1, -1, -1, -1};
    ld->json_product = -1;
    buf_init(&ld->strs, 0);
    if (fail)
        goto err;
    return ld;
err:
    ldr_load_free(ld);
    return NULL;
}

static void issues_cleanup(struct ldr__issues *is)
{
    for (size_t i = 0; i < is->n; i++) {
        free((char *)is->v[i].place);
        free((char *)is->v[i].column);
        free((char *)is->v[i].message);
    }
    free(is->v);
}

void ldr_load_free(struct ldr_load *ld)
{
    if (ld == NULL)
        return;
    issues_cleanup(&ld->errors);
    issues_cleanup(&ld->warnings);
    ldr__group_cleanup(ld);
    free(ld->opt_name);
    free(ld->opt_sheet);
    free(ld->name);
    free(ld->file);
    free(ld);
}

static int issue_add(struct ldr_load *ld, struct ldr__issues *is, const char *place, const char *column,
                     const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static int issue_add(struct ldr_load *ld, struct ldr__issues *is, const char *place, const char *column,
                     const char *fmt, va_list ap)
{
    is->total++;
    if (is->n >= ld->opt.max_listed)
        return 0;
    if (is->v == NULL) {
        size_t cap = ld->opt.max_listed < 1024 ? ld->opt.max_listed : 1024;
        is->v = calloc(cap ? cap : 1, sizeof *is->v);
        if (is->v == NULL)
            return LDR_ENOMEM;
    } else if (is->n >= 1024 && (is->n & (is->n - 1)) == 0) { // beyond 1024 kept: double
        struct ldr_issue *v = realloc(is->v, 2 * is->n * sizeof *v);
        if (v == NULL)
            return LDR_ENOMEM;
        is->v = v;
    }
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    struct ldr_issue it = {strdup(place), column ? strdup(column) : NULL, strdup(msg)};
    if (it.place == NULL || it.message == NULL || (column != NULL && it.column == NULL)) {
        free((char *)it.place);
        free((char *)it.column);
        free((char *)it.message);
        return LDR_ENOMEM;
    }
    is->v[is->n++] = it;
    return 0;
}

int ldr__error(struct ldr_load *ld, const char *place, const char *column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = issue_add(ld, &ld->errors, place, column, fmt, ap);
    va_end(ap);
    return rc;
}

int ldr__warning(struct ldr_load *ld, const char *place, const char *column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = issue_add(ld, &ld->warnings, place, column, fmt, ap);
    va_end(ap);
    return rc;
}

static void column_letters(int col, char *out, size_t n)
{
    char tmp[8];
    size_t k = 0;
    unsigned c = (unsigned)col + 1;
    while (c > 0 && k < sizeof tmp) {
        tmp[k++] = (char)('A' + (c - 1) % 26);
        c = (c - 1) / 26;
    }
    size_t j = 0;
    while (k > 0 && j + 1 < n)
        out[j++] = tmp[--k];
    out[j] = '\0';
}

static bool sheet_needs_quotes(const char *s)
{
    for (; *s; s++)
        if (*s == ' ' || *s == '!' || *s == '\'' || *s == '-' || *s == '(' || *s == ')' || *s == ',')
            return true;
    return false;
}

void ldr__place(const struct ldr_load *ld, unsigned long line, int col, char *out, size_t n)
{
    switch (ld->kind) {
    case LDR__CSV: snprintf(out, n, "%s:%lu", ld->file, line); break;
    case LDR__XLSX: {
        char letters[8];
        int c = col;
        if (c < 0)
            c = ld->cols.code >= 0 ? ld->cols.code : 0;
        column_letters(c, letters, sizeof letters);
        const char *sheet = ld->sheets.chosen;
        if (sheet_needs_quotes(sheet))
            snprintf(out, n, "%s:'%s'!%s%lu", ld->file, sheet, letters, line);
        else
            snprintf(out, n, "%s:%s!%s%lu", ld->file, sheet, letters, line);
        break;
    }
    case LDR__JSON:
        if (line == 0)
            snprintf(out, n, "%s", ld->file);
        else if (ld->json_product >= 0 && (col == ld->cols.product || col == ld->cols.quantity))
            snprintf(out, n, "%s:orders[%lu].products[%ld]", ld->file, line - 1, ld->json_product);
        else
            snprintf(out, n, "%s:orders[%lu]", ld->file, line - 1);
        break;
    }
}

void ldr__where(const struct ldr_load *ld, unsigned long line, char *out, size_t n)
{
    switch (ld->kind) {
    case LDR__CSV: snprintf(out, n, "line %lu", line); break;
    case LDR__XLSX: snprintf(out, n, "row %lu", line); break;
    case LDR__JSON: snprintf(out, n, "orders[%lu]", line ? line - 1 : 0); break;
    }
}

static int fail(struct ldr_load *ld, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct ldr_load *ld, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->errmsg, sizeof ld->errmsg, fmt, ap);
    va_end(ap);
    return rc;
}

/* A whole-file error: listed (place = the file, no column) and made the load's message. */
static int file_error(struct ldr_load *ld, int rc, const char *msg)
{
    ld->fatal = true;
    if (ldr__error(ld, ld->file, NULL, "%s", msg) != 0)
        return fail(ld, LDR_ENOMEM, "out of memory");
    return fail(ld, rc, "%s: %s", ld->file, msg);
}

static int on_row(void *ctx, const struct ldr__row *row)
{
    struct ldr_load *ld = ctx;
    if (!ld->have_header) {
        ld->have_header = true;
        int rc = ldr__header_map(ld, row);
        if (rc == LDR_EINVALID)
            ld->fatal = true;
        return rc;
    }
    return ldr__row_accept(ld, row);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

static const char *extension(const char *name)
{
    const char *d = strrchr(name, '.');
    return d ? d + 1 : "";
}

static enum ldr_format detect(struct ldr_load *ld, const unsigned char *d, size_t len, enum ldr_format format, int *rc)
{
    const char *ext = extension(ld->file);
    char msg[512];
    *rc = 0;
    if (len >= 4 && memcmp(d, "%PDF", 4) == 0) {
        snprintf(msg, sizeof msg, "a PDF is not read (%s)", FORMATS_READ);
    } else if (len >= 4 && memcmp(d, "\xD0\xCF\x11\xE0", 4) == 0) {
        snprintf(msg, sizeof msg, "an Excel 97-2003 workbook (.xls) is not read: save it as .xlsx or CSV (%s)",
                 FORMATS_READ);
    } else if (len >= 4 && (memcmp(d, "PK\x03\x04", 4) == 0 || memcmp(d, "PK\x05\x06", 4) == 0)) {
        if (strcasecmp(ext, "ods") == 0) {
            snprintf(msg, sizeof msg, "an OpenDocument spreadsheet (.ods) is not read: save it as .xlsx or CSV (%s)",
                     FORMATS_READ);
        } else {
            return LDR_FORMAT_XLSX;
        }
    } else if (strcasecmp(ext, "xls") == 0) {
        snprintf(msg, sizeof msg, "an Excel 97-2003 workbook (.xls) is not read: save it as .xlsx or CSV (%s)",
                 FORMATS_READ);
    } else if (strcasecmp(ext, "ods") == 0) {
        snprintf(msg, sizeof msg, "an OpenDocument spreadsheet (.ods) is not read: save it as .xlsx or CSV (%s)",
                 FORMATS_READ);
    } else if (strcasecmp(ext, "xlsx") == 0 || strcasecmp(ext, "xlsm") == 0 || format == LDR_FORMAT_XLSX) {
        if (format == LDR_FORMAT_CSV || format == LDR_FORMAT_JSON)
            return format;
        snprintf(msg, sizeof msg, "not a valid XLSX file (not a zip archive) (%s)", FORMATS_READ);
    } else if (len >= 2 && ((d[0] == 0xFF && d[1] == 0xFE) || (d[0] == 0xFE && d[1] == 0xFF))) {
        snprintf(msg, sizeof msg, "UTF-16 text is not read: save it as \"CSV UTF-8\" (%s)", FORMATS_READ);
    } else if (format != LDR_FORMAT_AUTO) {
        return format;
    } else if (strcasecmp(ext, "json") == 0) {
        return LDR_FORMAT_JSON;
    } else if (strcasecmp(ext, "csv") == 0 || strcasecmp(ext, "txt") == 0 || strcasecmp(ext, "tsv") == 0) {
        return LDR_FORMAT_CSV;
    } else {
        size_t i = len >= 3 && memcmp(d, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
        while (i < len && isspace(d[i]))
            i++;
        if (i < len && d[i] == '{')
            return LDR_FORMAT_JSON;
        if (memchr(d, '\0', len < 4096 ? len : 4096) == NULL)
            return LDR_FORMAT_CSV;
        snprintf(msg, sizeof msg, "not a CSV, XLSX or JSON file (%s)", FORMATS_READ);
    }
    *rc = file_error(ld, LDR_EINVALID, msg);
    return LDR_FORMAT_AUTO;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    out[0] = '\0';
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return;
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Cuts a name to at most 200 characters (the batch name's limit), on a character boundary. */
static void clip_name(char *s)
{
    size_t chars = 0;
    for (size_t i = 0; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && ++chars > 200) {
            s[i] = '\0';
            return;
        }
    }
}

static int read_csv(struct ldr_load *ld, const char *d, size_t len)
{
    struct buf conv;
    buf_init(&conv, 0);
    if (!ldr__utf8_valid(d, len)) {
        if (ldr__cp1252_to_utf8(d, len, &conv) != 0)
            return fail(ld, LDR_ENOMEM, "out of memory");
        d = buf_str(&conv);
        len = conv.len;
        if (ldr__warning(ld, ld->file, NULL, "not UTF-8: read as Windows-1252") != 0) {
            buf_cleanup(&conv);
            return fail(ld, LDR_ENOMEM, "out of memory");
        }
    }
    char err[512] = "";
    unsigned long line = 0;
    int rc = ldr__csv_parse(d, len, ldr__csv_detect_delimiter(d, len), on_row, ld, err, sizeof err, &line);
    buf_cleanup(&conv);
    if (rc == LDR_EINVALID && err[0] != '\0') {
        char place[600];
        ldr__place(ld, line, -1, place, sizeof place);
        ld->fatal = true;
        if (ldr__error(ld, place, NULL, "%s", err) != 0)
            return fail(ld, LDR_ENOMEM, "out of memory");
    }
    return rc;
}

static int read_xlsx(struct ldr_load *ld, const void *d, size_t len)
{
    char err[900] = "";
    int rc = ldr__xlsx_read(d, len, ld->opt.sheet, on_row, ld, &ld->sheets, /* lim= */ NULL, err, sizeof err);
    if (rc == LDR_EINVALID && err[0] != '\0') {
        char msg[1000];
        // The list of formats read helps when the file may not be a workbook at all, not when it is
        // one with a problem of its own.
        if (strncmp(err, "no sheet", 8) == 0 || strstr(err, "(a zip bomb?)") != NULL)
            snprintf(msg, sizeof msg, "%s", err);
        else if (strncmp(err, "an OpenDocument", 15) == 0)
            snprintf(msg, sizeof msg, "%s: save it as .xlsx or CSV (%s)", err, FORMATS_READ);
        else
            snprintf(msg, sizeof msg, "%s (%s)", err, FORMATS_READ);
        return file_error(ld, LDR_EINVALID, msg);
    }
    return rc;
}

/* " (sheets: Hoja1, Pedidos; use --sheet NAME to read another)" when the first sheet of a workbook
 * with several was read because no sheet was asked for, else "". */
const char *ldr__other_sheets_hint(const struct ldr_load *ld, char *out, size_t n)
{
    out[0] = '\0';
    if (ld->kind == LDR__XLSX && ld->opt.sheet == NULL && ld->sheets.n > 1)
        snprintf(out, n, " (sheets: %s; use --sheet NAME to read another)", ld->sheets.all);
    return out;
}

static int finish(struct ldr_load *ld)
{
    if (!ld->fatal && ld->kind == LDR__XLSX && !ld->have_header) {
        char msg[900], hint[700];
        snprintf(msg, sizeof msg, "sheet %s is empty (a header row and order lines are expected)%s", ld->sheets.chosen,
                 ldr__other_sheets_hint(ld, hint, sizeof hint));
        return file_error(ld, LDR_EINVALID, msg);
    }
    if (!ld->fatal && ld->kind != LDR__JSON && !ld->have_header)
        return file_error(ld, LDR_EINVALID, "the file is empty (a header row and order lines are expected)");
    if (!ld->fatal && ld->rows == 0 && ld->errors.total == 0)
        return file_error(ld, LDR_EINVALID,
                          ld->kind == LDR__JSON ? "no orders in the file" : "no order lines after the header row");
    if (ldr__group_finish(ld) != 0)
        return fail(ld, LDR_ENOMEM, "out of memory");
    size_t ne = ld->errors.total;
    if (ne > 0 && (ld->fatal || !ld->opt.skip_invalid))
        return fail(ld, LDR_EINVALID, "%s: %zu error%s, nothing loaded", ld->file, ne, ne == 1 ? "" : "s");
    if (ld->nkept == 0)
        return file_error(ld, LDR_EINVALID, "every order has invalid rows: nothing to load");
    ld->read_ok = true;
    return 0;
}

int ldr_load_read_buffer(struct ldr_load *ld, const char *display_name, const void *data, size_t len,
                         enum ldr_format format)
{
    if (ld->read_done)
        return fail(ld, LDR_ESTATE, "this load has already read its input");
    ld->read_done = true;
    free(ld->file);
    ld->file = strdup(display_name && *display_name ? base_name(display_name) : "input");
    if (ld->file == NULL)
        return fail(ld, LDR_ENOMEM, "out of memory");
    sha256_hex(len ? data : "", len, ld->sha256);
    int rc = 0;
    enum ldr_format f = detect(ld, len ? data : (const void *)"", len, format, &rc);
    if (rc != 0)
        return rc;
    if (ld->opt.sheet != NULL && f != LDR_FORMAT_XLSX) // refused rather than ignored: the user meant something
        return file_error(ld, LDR_EINVALID, "--sheet applies to XLSX files only");
    switch (f) {
    case LDR_FORMAT_XLSX:
        ld->kind = LDR__XLSX;
        rc = read_xlsx(ld, data, len);
        break;
    case LDR_FORMAT_JSON:
        ld->kind = LDR__JSON;
        ld->cols = (struct ldr__cols){0, 1, 2, 3};
        rc = ldr__json_read(ld, len ? data : "", len);
        break;
    default:
        ld->kind = LDR__CSV;
        rc = read_csv(ld, len ? data : "", len);
        break;
    }
    if (rc == LDR_ENOMEM)
        return fail(ld, LDR_ENOMEM, "out of memory");
    if (rc != 0 && rc != LDR_EINVALID)
        return fail(ld, rc, "%s: %s", ld->file, ldr_strerror(rc));
    if (ld->name == NULL) {
        const char *nm = ld->opt.name ? ld->opt.name : ld->file;
        ld->name = strdup(nm);
        if (ld->name == NULL)
            return fail(ld, LDR_ENOMEM, "out of memory");
    }
    clip_name(ld->name);
    return finish(ld);
}

int ldr_load_read_file(struct ldr_load *ld, const char *path)
{
    if (ld->read_done)
        return fail(ld, LDR_ESTATE, "this load has already read its input");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        ld->read_done = true;
        ld->file = strdup(base_name(path));
        if (ld->file == NULL)
            return fail(ld, LDR_ENOMEM, "out of memory");
        char msg[600];
        snprintf(msg, sizeof msg, "cannot open %s: %s", path, strerror(e));
        return file_error(ld, LDR_EIO, msg);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        ld->read_done = true;
        ld->file = strdup(base_name(path));
        if (ld->file == NULL)
            return fail(ld, LDR_ENOMEM, "out of memory");
        return file_error(ld, LDR_EIO, "not a regular file");
    }
    // The whole file is mapped, not copied: its pages are shared with the page cache, and the
    // readers walk it once from start to end.
    size_t len = (size_t)st.st_size;
    void *map = NULL;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            ld->read_done = true;
            ld->file = strdup(base_name(path));
            if (ld->file == NULL)
                return fail(ld, LDR_ENOMEM, "out of memory");
            char msg[300];
            snprintf(msg, sizeof msg, "cannot read: %s", strerror(e));
            return file_error(ld, LDR_EIO, msg);
        }
        madvise(map, len, MADV_SEQUENTIAL);
    }
    close(fd);
    int rc = ldr_load_read_buffer(ld, path, map ? map : "", len, LDR_FORMAT_AUTO);
    if (map)
        munmap(map, len);
    return rc;
}

bool ldr_is_url(const char *arg)
{
    return strncasecmp(arg, "http://", 7) == 0 || strncasecmp(arg, "https://", 8) == 0;
}

int ldr_load_read_url(struct ldr_load *ld, const char *url)
{
    if (ld->read_done)
        return fail(ld, LDR_ESTATE, "this load has already read its input");
    struct buf body;
    char name[256] = "", err[1024] = "";
    enum ldr_format format = LDR_FORMAT_AUTO;
    int rc = ldr__fetch(url, &ld->opt, &body, name, sizeof name, &format, err, sizeof err);
    if (rc != 0) {
        buf_cleanup(&body);
        ld->read_done = true;
        ld->file = strdup(url);
        if (ld->file == NULL)
            return fail(ld, LDR_ENOMEM, "out of memory");
        if (rc == LDR_ENOMEM)
            return fail(ld, rc, "out of memory");
        ld->fatal = true;
        if (ldr__error(ld, url, NULL, "%s", err) != 0)
            return fail(ld, LDR_ENOMEM, "out of memory");
        return fail(ld, LDR_EIO, "%s: %s", url, err);
    }
    rc = ldr_load_read_buffer(ld, name, buf_str(&body), body.len, format);
    buf_cleanup(&body);
    return rc;
}

int ldr_load_write(struct ldr_load *ld, PGconn *conn, long long *batch_id)
{
    if (!ld->read_ok)
        return fail(ld, LDR_ESTATE, "nothing to write: the input was not read successfully");
    ld->errmsg[0] = '\0';
    return ldr__write(ld, conn, batch_id);
}

const char *ldr_load_errmsg(const struct ldr_load *ld)
{
    return ld->errmsg;
}
size_t ldr_load_rows(const struct ldr_load *ld)
{
    return ld->rows;
}
size_t ldr_load_orders(const struct ldr_load *ld)
{
    return ld->nkept;
}
size_t ldr_load_items(const struct ldr_load *ld)
{
    return ld->kept_items;
}
const char *ldr_load_name(const struct ldr_load *ld)
{
    return ld->name ? ld->name : "";
}
const char *ldr_load_sha256(const struct ldr_load *ld)
{
    return ld->sha256;
}
size_t ldr_load_error_count(const struct ldr_load *ld)
{
    return ld->errors.total;
}
size_t ldr_load_errors_listed(const struct ldr_load *ld)
{
    return ld->errors.n;
}
size_t ldr_load_warning_count(const struct ldr_load *ld)
{
    return ld->warnings.total;
}
size_t ldr_load_warnings_listed(const struct ldr_load *ld)
{
    return ld->warnings.n;
}

const struct ldr_issue *ldr_load_error(const struct ldr_load *ld, size_t i)
{
    return i < ld->errors.n ? &ld->errors.v[i] : NULL;
}

const struct ldr_issue *ldr_load_warning(const struct ldr_load *ld, size_t i)
{
    return i < ld->warnings.n ? &ld->warnings.v[i] : NULL;
}

int ldr_load_order(const struct ldr_load *ld, size_t i, struct ldr_order_view *out)
{
    if (i >= ld->nkept)
        return -1;
    const struct ldr__order *o = &ld->orders[ld->kept[i]];
    *out = (struct ldr_order_view){
        .seq = i + 1,
        .consultora_code = ldr__str(ld, o->code),
        .consultora_name = o->name == SIZE_MAX ? NULL : ldr__str(ld, o->name),
        .items = o->nitems,
        .quantity = o->quantity,
        .first_line = o->first_line,
    };
    return 0;
}

const char *ldr_issue_format(const struct ldr_issue *is, char *buf, size_t n)
{
    if (is->column)
        snprintf(buf, n, "%s: %s: %s", is->place, is->column, is->message);
    else
        snprintf(buf, n, "%s: %s", is->place, is->message);
    return buf;
}

static cJSON *issues_json(const struct ldr__issues *is)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < is->n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(a, o) || !cJSON_AddStringToObject(o, "place", is->v[i].place) ||
            !(is->v[i].column ? cJSON_AddStringToObject(o, "column", is->v[i].column)
                              : cJSON_AddNullToObject(o, "column")) ||
            !cJSON_AddStringToObject(o, "message", is->v[i].message)) {
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

char *ldr_load_summary_json(const struct ldr_load *ld, long long batch_id)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    bool ok = (batch_id > 0 ? cJSON_AddNumberToObject(o, "batch_id", (double)batch_id)
                            : cJSON_AddNullToObject(o, "batch_id")) != NULL;
    ok = ok && cJSON_AddStringToObject(o, "name", ldr_load_name(ld));
    ok = ok && cJSON_AddStringToObject(o, "file", ld->file ? ld->file : "");
    ok = ok && cJSON_AddStringToObject(o, "sha256", ld->sha256);
    ok = ok && cJSON_AddNumberToObject(o, "rows", (double)ld->rows);
    ok = ok && cJSON_AddNumberToObject(o, "orders", (double)(ld->read_ok ? ld->nkept : 0));
    ok = ok && cJSON_AddNumberToObject(o, "items", (double)(ld->read_ok ? ld->kept_items : 0));
    cJSON *w = issues_json(&ld->warnings);
    if (w != NULL && !cJSON_AddItemToObject(o, "warnings", w)) {
        cJSON_Delete(w);
        w = NULL;
    }
    cJSON *e = issues_json(&ld->errors);
    if (e != NULL && !cJSON_AddItemToObject(o, "errors", e)) {
        cJSON_Delete(e);
        e = NULL;
    }
    ok = ok && w != NULL && e != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "warnings_total", (double)ld->warnings.total);
    ok = ok && cJSON_AddNumberToObject(o, "errors_total", (double)ld->errors.total);
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}
