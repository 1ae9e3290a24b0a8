/* db: PostgreSQL connection with gspbot's defaults and an error message per handle. */
#include "db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct db {
    PGconn *conn;
    char err[1024];
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

int db_open(struct db **out, const char *conninfo)
{
    struct db *db = calloc(1, sizeof *db);
    *out = db;
    if (db == NULL)
        return -1;
    // Our defaults go first; anything in the caller's conninfo (expanded from dbname) wins.
    const char *keys[] = {"connect_timeout", "application_name", "options", "dbname", NULL};
    const char *vals[] = {"10", "gspbot", "-c statement_timeout=60000", conninfo ? conninfo : "", NULL};
    db->conn = PQconnectdbParams(keys, vals, /* expand_dbname= */ 1);
    if (db->conn == NULL)
        return db_fail(db, "database: out of memory");
    if (PQstatus(db->conn) != CONNECTION_OK)
        return db_fail(db, "database unavailable: %s", PQerrorMessage(db->conn));
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
