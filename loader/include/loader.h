/* loader: turns a spreadsheet of order lines (CSV, XLSX or JSON, from a file, a URL or a memory
 * buffer) into validated orders grouped by consultora, and stores them in PostgreSQL as one new
 * batch, all or nothing, with COPY.
 *
 * Lifecycle of one input:
 *
 *     struct ldr_options opt;  ldr_options_init(&opt);  opt.name = "Día de la Madre";
 *     struct ldr_load *ld = ldr_load_new(&opt);             // NULL only when memory runs out
 *     int rc = ldr_load_read_file(ld, "orders.csv");         // or _read_url / _read_buffer
 *     if (rc == 0) rc = ldr_load_write(ld, conn, &batch_id); // skip for a dry run
 *     ... ldr_load_errmsg(ld), ldr_load_error(ld, i), ldr_load_summary_json(ld, batch_id) ...
 *     ldr_load_free(ld);
 *
 * Problems are reported as issues {place, column, message}: place is "orders.csv:17",
 * "orders.xlsx:Hoja1!C12" or "orders.json:orders[3].products[1]", column the canonical column name
 * (consultora_code, consultora_name, product_code, quantity, or "header"; NULL when the problem is
 * the whole file). Errors make the input invalid (nothing is written unless skip_invalid);
 * warnings (repeated products summed, differing names, ignored columns, Windows-1252 conversion,
 * skipped orders) never do. See loader/README.md for every message. */
#ifndef GSPBOT_LOADER_H
#define GSPBOT_LOADER_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Return codes: 0 or one of these (negative). ldr_strerror() names each. */
enum {
    LDR_EINVALID = -1,   /* the input has errors (listed), or its format is not read */
    LDR_EDUPLICATE = -2, /* this file (SHA-256) is already loaded as a batch */
    LDR_EIO = -3,        /* the file or URL cannot be read */
    LDR_EDB = -4,        /* the database failed (message from the server) */
    LDR_ENOMEM = -5,     /* out of memory */
    LDR_ESTATE = -6      /* call out of order (e.g. write before a successful read) */
};

enum ldr_format { LDR_FORMAT_AUTO, LDR_FORMAT_CSV, LDR_FORMAT_XLSX, LDR_FORMAT_JSON };

struct ldr_options {
    const char *name;     /* batch name (borrowed, copied by ldr_load_new); NULL = the JSON's
                             "name", else the file's base name */
    const char *sheet;    /* XLSX sheet name (borrowed, copied); NULL = the first sheet; set for a CSV
                             or JSON input, the read fails ("--sheet applies to XLSX files only") */
    int max_quantity;     /* largest quantity of one row (GSPBOT_MAX_QUANTITY, default 999) */
    long long max_bytes;  /* largest download, bytes (GSPBOT_MAX_FILE_MB; default 50 MiB) */
    long timeout_ms;      /* whole-download deadline, ms (default 60000); connect: 10 s */
    size_t max_listed;    /* errors and warnings kept in the lists (default 100); more are counted */
    bool skip_invalid;    /* drop orders with an invalid row instead of refusing the file */
    bool allow_duplicate; /* load a file whose SHA-256 is already loaded */
};

/* One problem. Strings owned by the ldr_load, valid until ldr_load_free. */
struct ldr_issue {
    const char *place;  /* "orders.csv:17", "orders.xlsx:Hoja1!C12", "orders.csv" */
    const char *column; /* canonical column name, "header", or NULL */
    const char *message;
};

/* One grouped order, for printing a dry run. Strings borrowed from the ldr_load. */
struct ldr_order_view {
    size_t seq; /* 1-based, first-appearance order */
    const char *consultora_code;
    const char *consultora_name; /* NULL when the input gave none */
    size_t items;                /* distinct products */
    long long quantity;          /* sum of the quantities */
    unsigned long first_line;    /* line (CSV), row (XLSX) or product ordinal (JSON) */
};

/* Fills *opt with the defaults above. */
void ldr_options_init(struct ldr_options *opt);

struct ldr_load;

/* A new, empty load with a copy of *opt (NULL = defaults). Returns NULL when memory runs out.
 * The caller frees it with ldr_load_free(). */
struct ldr_load *ldr_load_new(const struct ldr_options *opt);

/* Frees everything the load holds (issues, orders, strings). NULL is a no-op. */
void ldr_load_free(struct ldr_load *ld);

/* Reads, validates and groups a local file; the format comes from its extension and contents.
 * Returns 0 (orders ready to write; with skip_invalid, invalid orders were dropped and listed as
 * warnings, their errors stay listed), LDR_EINVALID (errors listed), LDR_EIO, LDR_ENOMEM.
 * A load reads one input: a second read returns LDR_ESTATE. */
__attribute__((warn_unused_result)) int ldr_load_read_file(struct ldr_load *ld, const char *path);

/* Downloads an http(s) URL (redirects followed, opt.timeout_ms, opt.max_bytes) and reads it like a
 * file; the format comes from the URL's extension, else the Content-Type, else the contents.
 * Returns as ldr_load_read_file(); a failed download is LDR_EIO. */
__attribute__((warn_unused_result)) int ldr_load_read_url(struct ldr_load *ld, const char *url);

/* Reads an input held in memory (an upload). `display_name` names it in messages and batches
 * ("orders.xlsx"; borrowed). `data` is borrowed for the call only. `format` AUTO = by the name's
 * extension and the contents. Returns as ldr_load_read_file(). */
__attribute__((warn_unused_result)) int ldr_load_read_buffer(struct ldr_load *ld, const char *display_name,
                                                             const void *data, size_t len, enum ldr_format format);

/* True when `arg` is an http:// or https:// URL (case-insensitive scheme). */
bool ldr_is_url(const char *arg);

/* True when `s` is a valid consultora or product code (README "Preparing the spreadsheet"): 1 to 20 characters, each an
 * ASCII letter, a digit or '-'. The one definition of a code, for every place that takes one (the
 * loader's rows, `gspbot order`). NULL is not a code. */
bool ldr_code_valid(const char *s);

/* Stores the read orders as a new batch (status pending) in one transaction on `conn` (borrowed;
 * must be idle, not in a transaction): refuses a file already loaded (LDR_EDUPLICATE) unless
 * allow_duplicate, inserts the batch, then COPYs orders and items. On success *batch_id is set.
 * On any failure the transaction is rolled back: nothing is written. Returns 0, LDR_EDUPLICATE,
 * LDR_EDB, LDR_ESTATE (no successful read), LDR_ENOMEM. */
__attribute__((warn_unused_result)) int ldr_load_write(struct ldr_load *ld, PGconn *conn, long long *batch_id);

/* One line saying why the last call failed ("orders.csv: 3 errors, nothing loaded"); "" if none.
 * Borrowed until the next call on the load. */
const char *ldr_load_errmsg(const struct ldr_load *ld);

/* Counts after a read. rows = data rows read (blank rows not counted); orders and items are what
 * would be / was written. */
size_t ldr_load_rows(const struct ldr_load *ld);
size_t ldr_load_orders(const struct ldr_load *ld);
size_t ldr_load_items(const struct ldr_load *ld);
/* The batch name that is / would be used (borrowed). */
const char *ldr_load_name(const struct ldr_load *ld);
/* The input's SHA-256, lowercase hex (borrowed; "" before a read). */
const char *ldr_load_sha256(const struct ldr_load *ld);

/* Errors and warnings: *_count is the total found; only the first opt.max_listed are kept and
 * reachable through ldr_load_error(ld, i) / ldr_load_warning(ld, i) for i < *_listed. */
size_t ldr_load_error_count(const struct ldr_load *ld);
size_t ldr_load_errors_listed(const struct ldr_load *ld);
const struct ldr_issue *ldr_load_error(const struct ldr_load *ld, size_t i);
size_t ldr_load_warning_count(const struct ldr_load *ld);
size_t ldr_load_warnings_listed(const struct ldr_load *ld);
const struct ldr_issue *ldr_load_warning(const struct ldr_load *ld, size_t i);

/* The i-th order (0-based) that is / would be written. Returns 0, or -1 when i is out of range. */
int ldr_load_order(const struct ldr_load *ld, size_t i, struct ldr_order_view *out);

/* Formats an issue as one line "place: column: message" into buf (size n, always terminated).
 * Returns buf. */
const char *ldr_issue_format(const struct ldr_issue *is, char *buf, size_t n);

/* The summary as one JSON object (README "Command reference"): batch_id (null when batch_id <= 0), name, file,
 * sha256, rows, orders, items, warnings, errors (lists of {place, column, message}), and
 * errors_total / warnings_total when the lists were capped. A new string the caller frees, or NULL
 * when memory runs out. */
char *ldr_load_summary_json(const struct ldr_load *ld, long long batch_id);

/* A static description of a return code. */
const char *ldr_strerror(int code);

#endif
