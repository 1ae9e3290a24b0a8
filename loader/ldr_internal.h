/* loader internals shared by the files of loader/ (and by its tests and fuzz targets): the row
 * readers' interface and struct ldr_load itself. Byte buffers are the project's struct buf
 * (src/core/buf/buf.h): remember that a failed append empties the buffer, and that its BUF_ codes
 * are not LDR_ codes (map them). Names are ldr__; nothing here is a promise to code outside
 * loader/, tests/loader and tests/fuzz. */
#ifndef GSPBOT_LOADER_INTERNAL_H
#define GSPBOT_LOADER_INTERNAL_H

#include <stdint.h>

#include "buf.h"
#include "loader.h"

#define LDR__CHECK __attribute__((warn_unused_result))
#define LDR__NONE  UINT32_MAX

/* ---- rows handed by a reader to its consumer ---- */
struct ldr__row {
    size_t n;                 /* fields; a reader may hand fewer than the header has */
    const char *const *field; /* field[i] is NUL-terminated UTF-8, len[i] bytes; borrowed for the call */
    const size_t *len;
    unsigned long line; /* CSV: line where the record starts; XLSX: row number (1-based) */
};
/* A row consumer: returns 0 to go on, anything else stops the reader, which returns that value. */
typedef int (*ldr__row_fn)(void *ctx, const struct ldr__row *row);

/* CSV (csv.c). `data` is UTF-8 (a leading BOM is skipped). Empty lines are not rows; nor is a first
 * line "sep=X" when X is `delim` (Excel's declaration of the delimiter; it still counts as line 1).
 * Calls fn for every record, header included. Returns 0, fn's non-zero value, LDR_ENOMEM, or
 * LDR_EINVALID with a message in err (size errn) and the record's first line in *err_line ("a quoted
 * field is not closed"). */
LDR__CHECK int ldr__csv_parse(const char *data, size_t len, char delim, ldr__row_fn fn, void *ctx, char *err,
                              size_t errn, unsigned long *err_line);
/* The delimiter: the one a first line "sep=X" declares (any one ASCII character but a quote, a
 * letter or a digit), else ',' ';' or '\t', whichever is most frequent outside quotes in the first
 * record (',' on a tie or when none). */
char ldr__csv_detect_delimiter(const char *data, size_t len);

/* XLSX (xlsx.c). Inflating is capped (zip bombs): no part may inflate past `part` bytes, nor all
 * the parts read together past `total`; both are checked on the sizes the zip declares before
 * inflating and on the bytes counted as they come out. */
#define LDR__XLSX_MAX_PART  (256ull << 20)  /* bytes one part may inflate to (256 MiB) */
#define LDR__XLSX_MAX_RATIO 100             /* all parts together: at most 100 x the file's size... */
#define LDR__XLSX_MIN_TOTAL (16ull << 20)   /* ...but always 16 MiB (small files compress well)... */
#define LDR__XLSX_MAX_TOTAL (1024ull << 20) /* ...and never more than 1 GiB */
struct ldr__xlsx_limits {
    unsigned long long part, total; /* bytes */
};
/* The production limits for a file of `len` bytes. */
struct ldr__xlsx_limits ldr__xlsx_limits_for(size_t len);

/* What the reader learnt of the workbook's sheets, filled before the first row is handed on. */
struct ldr__xlsx_sheets {
    char chosen[128]; /* the sheet read */
    char all[512];    /* every sheet name, in workbook order, ", "-separated (cut to fit) */
    size_t n;         /* sheets in the workbook */
};

/* Opens the workbook in memory (`data` borrowed for the call), picks `sheet` (NULL = the first),
 * streams its rows to fn: field i is column i (0 = A), missing cells are "", empty rows are not
 * handed. *sheets is filled before the first row. `lim` NULL = ldr__xlsx_limits_for(len). Returns
 * 0, fn's value, LDR_ENOMEM, or LDR_EINVALID with a message in err ("not a valid XLSX file: ...",
 * "no sheet named \"X\" (sheets: A, B)"). */
LDR__CHECK int ldr__xlsx_read(const void *data, size_t len, const char *sheet, ldr__row_fn fn, void *ctx,
                              struct ldr__xlsx_sheets *sheets, const struct ldr__xlsx_limits *lim, char *err,
                              size_t errn);

/* ---- the load ---- */
enum ldr__kind { LDR__CSV, LDR__XLSX, LDR__JSON };

struct ldr__order {
    size_t code; /* offset in strs */
    size_t name; /* offset in strs, or SIZE_MAX for none */
    uint32_t first_line;
    uint32_t first_item, last_item; /* item list, LDR__NONE when empty */
    uint32_t nitems;
    uint32_t invalid_rows;
    long long quantity;
};

struct ldr__item {
    size_t code; /* offset in strs */
    uint32_t order;
    uint32_t next; /* next item of the same order */
    uint32_t line; /* first source line */
    uint32_t more; /* index in extra_lines of the further lines, LDR__NONE when none */
    uint32_t more_tail;
    int32_t quantity;
};

struct ldr__line {
    uint32_t line;
    uint32_t next;
};

struct ldr__issues {
    struct ldr_issue *v;
    size_t n;     /* kept */
    size_t total; /* found */
};

struct ldr__cols {
    int code, name, product, quantity; /* field index, -1 when absent */
};

struct ldr_load {
    struct ldr_options opt;
    char *opt_name, *opt_sheet;     /* owned copies behind opt.name, opt.sheet */
    char *name;                     /* batch name */
    char *file;                     /* display name: the base name of the file / URL */
    struct ldr__xlsx_sheets sheets; /* XLSX: the sheet read and the workbook's sheets */
    char sha256[65];
    enum ldr__kind kind;
    bool read_done, read_ok, fatal;
    char errmsg[1024];

    struct ldr__issues errors, warnings;
    size_t rows;

    /* header state for CSV / XLSX */
    bool have_header;
    struct ldr__cols cols;
    long json_product; /* JSON: index of the product being checked in its order, -1 = none */

    /* grouping */
    struct buf strs; /* string arena: NUL-terminated codes and names, found by offset */
    struct ldr__order *orders;
    size_t norders, orders_cap;
    struct ldr__item *items;
    size_t nitems, items_cap;
    struct ldr__line *lines;
    size_t nlines, lines_cap;
    uint32_t *order_hash; /* open addressing: order index + 1, 0 = empty */
    size_t order_hash_cap;
    uint32_t *item_hash; /* (order, product) -> item index + 1 */
    size_t item_hash_cap;

    /* after finish: the orders to write, in seq order */
    uint32_t *kept;
    size_t nkept, kept_items;
};

/* issues (load.c). `column` may be NULL. Return 0 or LDR_ENOMEM. */
LDR__CHECK int ldr__error(struct ldr_load *ld, const char *place, const char *column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
LDR__CHECK int ldr__warning(struct ldr_load *ld, const char *place, const char *column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "orders.csv:17", "orders.xlsx:Hoja1!C17", "orders.json:orders[16]" for a line and a column index
 * (-1 = none: XLSX then names the row's consultora_code cell, or A). */
void ldr__place(const struct ldr_load *ld, unsigned long line, int col, char *out, size_t n);
/* "line 17", "row 17", "orders[16]" */
void ldr__where(const struct ldr_load *ld, unsigned long line, char *out, size_t n);
/* For a workbook of several sheets read at its first because no sheet was asked for: " (sheets:
 * Hoja1, Pedidos; use --sheet NAME to read another)" in out (size n); else "". Returns out. */
const char *ldr__other_sheets_hint(const struct ldr_load *ld, char *out, size_t n);

/* validation (validate.c) */
/* Maps a header row to columns; reports missing / repeated columns as errors (fatal) and unknown
 * ones as warnings. Returns 0, LDR_EINVALID (fatal header error) or LDR_ENOMEM. */
LDR__CHECK int ldr__header_map(struct ldr_load *ld, const struct ldr__row *hdr);
/* Checks one data row against the rules of README "Preparing the spreadsheet" (errors listed) and hands valid rows to
 * grouping. `line` of the row; for JSON, fields are [code, name, product, quantity] and cols are fixed. Returns 0 or
 * LDR_ENOMEM. */
LDR__CHECK int ldr__row_accept(struct ldr_load *ld, const struct ldr__row *row);
/* True when the len bytes at s are a valid code: 1-20 characters of [0-9A-Za-z-] (see ldr_code_valid). */
bool ldr__code_valid(const char *s, size_t len);
/* The canonical column a header names, or -1. `s` is UTF-8. Exposed for tests. */
int ldr__header_column(const char *s, size_t len);

/* grouping (group.c) */
LDR__CHECK int ldr__group_add(struct ldr_load *ld, const char *code, size_t code_len, const char *name, size_t name_len,
                              const char *product, size_t product_len, int quantity, unsigned long line, bool valid);
/* Decides which orders are written (all, or the valid ones with skip_invalid) and lists skipped
 * orders as warnings. Returns 0 or LDR_ENOMEM. */
LDR__CHECK int ldr__group_finish(struct ldr_load *ld);
void ldr__group_cleanup(struct ldr_load *ld);
static inline const char *ldr__str(const struct ldr_load *ld, size_t off)
{
    return ld->strs.data + off;
}

/* JSON (json.c): reads the JSON shape of README "Preparing the spreadsheet" and hands each product as a row; structure
 * errors are listed on ld. Returns 0, LDR_EINVALID (not JSON / wrong shape: fatal), LDR_ENOMEM. */
LDR__CHECK int ldr__json_read(struct ldr_load *ld, const char *data, size_t len);

/* URL download (fetch.c): the body into *out (initialised here first thing, capped at
 * opt->max_bytes; the caller frees it with buf_cleanup, on failure too), the file name for messages
 * in name_out, and the format guessed from the URL / Content-Type (AUTO when neither says).
 * Returns 0, or LDR_EIO / LDR_ENOMEM with a message in err. */
LDR__CHECK int ldr__fetch(const char *url, const struct ldr_options *opt, struct buf *out, char *name_out,
                          size_t name_n, enum ldr_format *format, char *err, size_t errn);

/* writer (writer.c) */
LDR__CHECK int ldr__write(struct ldr_load *ld, PGconn *conn, long long *batch_id);

/* UTF-8 / Windows-1252 (encoding.c) */
bool ldr__utf8_valid(const char *s, size_t n);
/* Converts Windows-1252 bytes to UTF-8, appended to *out. Returns 0, or LDR_ENOMEM with *out emptied. */
LDR__CHECK int ldr__cp1252_to_utf8(const char *s, size_t n, struct buf *out);
/* Count of UTF-8 characters (code points) of a valid string. */
size_t ldr__utf8_chars(const char *s, size_t n);

#endif
