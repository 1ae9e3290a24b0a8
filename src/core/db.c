/* db: PostgreSQL connection with gspbot's defaults and an error message per handle. */
#include "db.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_CONNECT_TIMEOUT_S   "10"
#define DB_TCP_USER_TIMEOUT_MS "30000"

#define DB_PREPARED_MAX 32 /* named statements a connection keeps prepared */

struct db {
    PGconn *conn;
    char err[1024];
    const char *prepared[DB_PREPARED_MAX]; /* names (static storage) prepared on this connection */
    int nprepared;
};

static void trim_newline(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

int db_fail(struct db *db, const char *fmt, ...)
{
    if (db == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->err, sizeof db->err, fmt, ap);
    va_end(ap);
    trim_newline(db->err);
    return -1;
}

static void notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* "DATABASE_URL: host=db port=5432 dbname=gspbot user=gsp" or the libpq defaults it fell back on:
 * where a failed connection went, without the password. */
static void describe_target(const char *conninfo, char *out, size_t n)
{
    if (conninfo == NULL || *conninfo == '\0') {
        snprintf(out, n,
                 "DATABASE_URL is not set: libpq's defaults were used (PGHOST, PGPORT, PGDATABASE, PGUSER, "
                 "else the local socket); set DATABASE_URL to the PostgreSQL gspbot should use");
        return;
    }
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (opts == NULL) {
        snprintf(out, n, "DATABASE_URL is not a valid libpq conninfo or URI: %s", err ? err : "out of memory");
        PQfreemem(err);
        return;
    }
    size_t len = (size_t)snprintf(out, n, "DATABASE_URL: ");
    bool any = false;
    for (PQconninfoOption *o = opts; o->keyword != NULL && len < n; o++) {
        static const char *const SHOWN[] = {"host", "hostaddr", "port", "dbname", "user"};
        for (size_t i = 0; i < sizeof SHOWN / sizeof SHOWN[0]; i++)
            if (strcmp(o->keyword, SHOWN[i]) == 0 && o->val != NULL && *o->val != '\0') {
                len += (size_t)snprintf(out + len, n - len, "%s%s=%s", any ? " " : "", o->keyword, o->val);
                any = true;
            }
    }
    if (len < n)
        snprintf(out + len, n - len, "%s", any ? "" : "libpq defaults");
    PQconninfoFree(opts);
}

int db_open(struct db **out, const char *conninfo)
{
    struct db *db = calloc(1, sizeof *db);
    *out = db;
    if (db == NULL)
        return -1;
    // Our defaults go first; anything in the caller's conninfo (expanded from dbname) wins.
    // Keepalives and tcp_user_timeout: a heartbeat or a claim on a half-open TCP connection (a
    // database host that vanished) fails within about half a minute instead of blocking forever.
    const char *keys[] = {
        "connect_timeout",     "application_name", "options",          "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "tcp_user_timeout", "dbname",     NULL};
    const char *vals[] = {
        DB_CONNECT_TIMEOUT_S,     "gspbot", "-c statement_timeout=60000", "1", "10", "5", "3", DB_TCP_USER_TIMEOUT_MS,
        conninfo ? conninfo : "", NULL};
    db->conn = PQconnectdbParams(keys, vals, /* expand_dbname= */ 1);
    if (db->conn == NULL)
        return db_fail(db, "database: out of memory");
    if (PQstatus(db->conn) != CONNECTION_OK) {
        char where[512], why[1024];
        describe_target(conninfo, where, sizeof where);
        // libpq's message spans lines ("...failed: ...\n\tIs the server running...?\n"): one line.
        size_t k = 0;
        for (const char *m = PQerrorMessage(db->conn); *m != '\0' && k + 1 < sizeof why; m++) {
            if (*m == '\n' || *m == '\t') {
                if (k > 0 && why[k - 1] != ' ')
                    why[k++] = ' ';
            } else {
                why[k++] = *m;
            }
        }
        while (k > 0 && why[k - 1] == ' ')
            k--;
        why[k] = '\0';
        return db_fail(db, "database unavailable: %s (%s)", why, where);
    }
    // Notices (e.g. "relation already exists, skipping") are not for the user's terminal.
    PQsetNoticeProcessor(db->conn, notice_ignore, NULL);
    return 0;
}

void db_free(struct db *db)
{
    if (db == NULL)
        return;
    PQfinish(db->conn);
    free(db);
}

PGconn *db_conn(struct db *db)
{
    return db->conn;
}

const char *db_errmsg(const struct db *db)
{
    return db ? db->err : "out of memory";
}

int db_exec(struct db *db, const char *what, const char *sql)
{
    PGresult *r = db_query(db, what, sql, 0, NULL);
    if (r == NULL)
        return -1;
    PQclear(r);
    return 0;
}

PGresult *db_query_prepared(struct db *db, const char *name, const char *sql, int nparams, const char *const *params)
{
    bool known = false;
    for (int i = 0; i < db->nprepared && !known; i++)
        known = strcmp(db->prepared[i], name) == 0;
    if (!known) {
        if (db->nprepared == DB_PREPARED_MAX)
            return db_query(db, name, sql, nparams, params);
        PGresult *p = PQprepare(db->conn, name, sql, nparams, NULL);
        if (PQresultStatus(p) != PGRES_COMMAND_OK) {
            db_fail(db, "%s: %s", name, p ? PQresultErrorMessage(p) : PQerrorMessage(db->conn));
            PQclear(p);
            return NULL;
        }
        PQclear(p);
        db->prepared[db->nprepared++] = name;
    }
    PGresult *r = PQexecPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    db_fail(db, "%s: %s", name, r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn));
    PQclear(r);
    return NULL;
}

PGresult *db_query(struct db *db, const char *what, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    db_fail(db, "%s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn));
    PQclear(r);
    return NULL;
}
