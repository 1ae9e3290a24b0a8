/* writer: stores the grouped orders as one new batch in a single transaction. Two loads of the
 * same file are serialised by a transaction-scoped advisory lock on the file's SHA-256, so the
 * duplicate check cannot race. Order ids are taken from the orders sequence up front (one
 * round-trip), which lets both tables be filled with COPY ... FROM STDIN in text format, streamed
 * in 1 MiB chunks: no row-by-row INSERT. Any failure rolls everything back. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldr_internal.h"

#define COPY_CHUNK (1u << 20) /* bytes handed to PQputCopyData at once */

struct copy {
    PGconn *conn;
    struct buf buf;
    bool oom; /* a failed put ran out of memory (else the connection failed) */
};

static int fail_db(struct ldr_load *ld, PGconn *conn, const char *what, const char *server)
{
    char msg[900];
    snprintf(msg, sizeof msg, "database: %s: %s", what, server && *server ? server : PQerrorMessage(conn));
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    snprintf(ld->errmsg, sizeof ld->errmsg, "%s", msg);
    if (ldr__error(ld, ld->file, NULL, "%s", msg) != 0)
        return LDR_ENOMEM;
    return LDR_EDB;
}

static PGresult *query(PGconn *conn, const char *sql, int n, const char *const *params)
{
    return PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
}

static bool ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static int flush(struct copy *c)
{
    if (c->buf.len > 0 && PQputCopyData(c->conn, c->buf.data, (int)c->buf.len) != 1)
        return -1;
    buf_reset(&c->buf);
    return 0;
}

static int put(struct copy *c, const char *s, size_t n)
{
    if (buf_append(&c->buf, s, n) != 0) {
        c->oom = true;
        return -1;
    }
    return c->buf.len >= COPY_CHUNK ? flush(c) : 0;
}

/* COPY text format: backslash, tab, newline and carriage return are escaped. */
static int put_text(struct copy *c, const char *s)
{
    for (const char *p = s;; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '\t' ? "\\t" : *p == '\n' ? "\\n" : *p == '\r' ? "\\r" : NULL;
        if (esc == NULL && *p != '\0')
            continue;
        if (put(c, s, (size_t)(p - s)) != 0)
            return -1;
        if (*p == '\0')
            return 0;
        if (put(c, esc, 2) != 0)
            return -1;
        s = p + 1;
    }
}

/* Ends a COPY: `abort_msg` NULL = commit the rows. Returns the server's verdict (0 = ok). */
static int copy_end(PGconn *conn, const char *abort_msg, char *err, size_t n)
{
    int rc = 0;
    if (PQputCopyEnd(conn, abort_msg) != 1) {
        snprintf(err, n, "%s", PQerrorMessage(conn));
        rc = -1;
    }
    PGresult *r;
    while ((r = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
            snprintf(err, n, "%s", PQresultErrorMessage(r));
            rc = -1;
        }
        PQclear(r);
    }
    return rc;
}

static int copy_orders(struct ldr_load *ld, struct copy *c, long long batch, const PGresult *ids)
{
    char num[96];
    for (size_t k = 0; k < ld->nkept; k++) {
        const struct ldr__order *o = &ld->orders[ld->kept[k]];
        int n = snprintf(num, sizeof num, "%s\t%lld\t%zu\t", PQgetvalue(ids, (int)k, 0), batch, k + 1);
        if (put(c, num, (size_t)n) != 0 || put(c, ldr__str(ld, o->code), strlen(ldr__str(ld, o->code))) != 0 ||
            put(c, "\t", 1) != 0)
            return -1;
        if (o->name == SIZE_MAX ? put(c, "\\N", 2) != 0 : put_text(c, ldr__str(ld, o->name)) != 0)
            return -1;
        if (put(c, "\n", 1) != 0)
            return -1;
    }
    return flush(c);
}

static int copy_items(struct ldr_load *ld, struct copy *c, const PGresult *ids)
{
    char num[64];
    for (size_t k = 0; k < ld->nkept; k++) {
        const struct ldr__order *o = &ld->orders[ld->kept[k]];
        const char *oid = PQgetvalue(ids, (int)k, 0);
        size_t oid_l = strlen(oid);
        for (uint32_t i = o->first_item; i != LDR__NONE; i = ld->items[i].next) {
            const struct ldr__item *it = &ld->items[i];
            const char *code = ldr__str(ld, it->code);
            if (put(c, oid, oid_l) != 0 || put(c, "\t", 1) != 0 || put(c, code, strlen(code)) != 0)
                return -1;
            int n = snprintf(num, sizeof num, "\t%" PRId32 "\t{%" PRIu32, it->quantity, it->line);
            if (put(c, num, (size_t)n) != 0)
                return -1;
            for (uint32_t l = it->more; l != LDR__NONE; l = ld->lines[l].next) {
                n = snprintf(num, sizeof num, ",%" PRIu32, ld->lines[l].line);
                if (put(c, num, (size_t)n) != 0)
                    return -1;
            }
            if (put(c, "}\n", 2) != 0)
                return -1;
        }
    }
    return flush(c);
}

static void rollback(PGconn *conn)
{
    PQclear(PQexec(conn, "ROLLBACK"));
}

/* Runs one COPY statement fed by `feed`. Returns 0 or an LDR_ code (message set on ld). */
static int run_copy(struct ldr_load *ld, PGconn *conn, struct copy *c, const char *sql, const char *what,
                    long long batch, const PGresult *ids)
{
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        int rc = fail_db(ld, conn, what, PQresultErrorMessage(r));
        PQclear(r);
        return rc;
    }
    PQclear(r);
    buf_reset(&c->buf);
    c->oom = false;
    int fed = batch > 0 ? copy_orders(ld, c, batch, ids) : copy_items(ld, c, ids);
    char err[600] = "";
    if (fed != 0) {
        bool nomem = c->oom;
        snprintf(err, sizeof err, "%s", PQerrorMessage(conn));
        (void)copy_end(conn, "gspbot: load aborted", err + strlen(err), sizeof err - strlen(err));
        if (nomem)
            snprintf(ld->errmsg, sizeof ld->errmsg, "out of memory");
        return nomem ? LDR_ENOMEM : fail_db(ld, conn, what, err);
    }
    if (copy_end(conn, NULL, err, sizeof err) != 0)
        return fail_db(ld, conn, what, err);
    return 0;
}

int ldr__write(struct ldr_load *ld, PGconn *conn, long long *batch_id)
{
    *batch_id = 0;
    if (PQstatus(conn) != CONNECTION_OK)
        return fail_db(ld, conn, "connection", NULL);
    PGresult *r = PQexec(conn, "BEGIN");
    if (!ok(r)) {
        int rc = fail_db(ld, conn, "BEGIN", PQresultErrorMessage(r));
        PQclear(r);
        return rc;
    }
    PQclear(r);
    int rc;
    struct copy c = {.conn = conn};
    buf_init(&c.buf, 0);
    PGresult *ids = NULL;
    const char *sha[1] = {ld->sha256};
    r = query(conn, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", 1, sha);
    if (!ok(r))
        goto db_error_lock;
    PQclear(r);
    if (!ld->opt.allow_duplicate) {
        r = query(conn,
                  "SELECT id, name, to_char(created_at, 'YYYY-MM-DD HH24:MI') FROM batches"
                  " WHERE source_sha256 = $1 ORDER BY id LIMIT 1",
                  1, sha);
        if (!ok(r))
            goto db_error_dup;
        if (PQntuples(r) > 0) {
            snprintf(ld->errmsg, sizeof ld->errmsg,
                     "%s: already loaded as batch %s \"%s\" on %s (same SHA-256); use --allow-duplicate to load it "
                     "again",
                     ld->file, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
            const char *m = ld->errmsg + strlen(ld->file) + 2;
            rc = ldr__error(ld, ld->file, NULL, "%s", m) != 0 ? LDR_ENOMEM : LDR_EDUPLICATE;
            PQclear(r);
            goto out;
        }
        PQclear(r);
    }
    char orders_n[32], items_n[32];
    snprintf(orders_n, sizeof orders_n, "%zu", ld->nkept);
    snprintf(items_n, sizeof items_n, "%zu", ld->kept_items);
    const char *bp[5] = {ld->name, ld->file, ld->sha256, orders_n, items_n};
    r = query(conn,
              "INSERT INTO batches (name, source_file, source_sha256, orders_total, items_total)"
              " VALUES ($1, $2, $3, $4, $5) RETURNING id",
              5, bp);
    if (!ok(r))
        goto db_error_batch;
    long long batch = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    const char *np[1] = {orders_n};
    ids = query(conn, "SELECT nextval(pg_get_serial_sequence('orders', 'id')) FROM generate_series(1, $1::int)", 1, np);
    if (!ok(ids) || (size_t)PQntuples(ids) != ld->nkept) {
        rc = fail_db(ld, conn, "reserving order ids", PQresultErrorMessage(ids));
        goto out;
    }
    rc = run_copy(ld, conn, &c, "COPY orders (id, batch_id, seq, consultora_code, consultora_name) FROM STDIN",
                  "COPY orders", batch, ids);
    if (rc != 0)
        goto out;
    rc = run_copy(ld, conn, &c, "COPY order_items (order_id, product_code, quantity, source_lines) FROM STDIN",
                  "COPY order_items", 0, ids);
    if (rc != 0)
        goto out;
    r = PQexec(conn, "COMMIT");
    if (!ok(r)) {
        rc = fail_db(ld, conn, "COMMIT", PQresultErrorMessage(r));
        PQclear(r);
        goto out;
    }
    PQclear(r);
    PQclear(ids);
    buf_cleanup(&c.buf);
    *batch_id = batch;
    return 0;

db_error_lock:
    rc = fail_db(ld, conn, "locking the file's checksum", PQresultErrorMessage(r));
    PQclear(r);
    goto out;
db_error_dup:
    rc = fail_db(ld, conn, "checking for a duplicate file", PQresultErrorMessage(r));
    PQclear(r);
    goto out;
db_error_batch:
    rc = fail_db(ld, conn, "INSERT batches", PQresultErrorMessage(r));
    PQclear(r);
out:
    PQclear(ids);
    buf_cleanup(&c.buf);
    rollback(conn);
    return rc;
}
