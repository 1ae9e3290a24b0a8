/* testdb: one private PostgreSQL database per test on the throwaway cluster (see testdb.h). */
#include "testdb.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "migrate.h"

__attribute__((format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("testdb: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(99);
}

static const char *cluster(void)
{
    const char *c = getenv("GSPBOT_TEST_PG");
    if (c == NULL || *c == '\0')
        die("GSPBOT_TEST_PG is not set: run the tests through scripts/test.sh, which starts PostgreSQL");
    return c;
}

static PGconn *connect_or_die(const char *conninfo)
{
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {conninfo, "10", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, /* expand_dbname= */ 1);
    if (PQstatus(c) != CONNECTION_OK)
        die("cannot connect to %s: %s", conninfo, PQerrorMessage(c));
    return c;
}

static void exec_or_die(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        die("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

char *testdb_create(const char *tag)
{
    static unsigned counter;
    char name[64];
    snprintf(name, sizeof name, "t_%.30s_%ld_%u", tag, (long)getpid(), counter++);
    PGconn *c = connect_or_die(cluster());
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    exec_or_die(c, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8'", name);
    exec_or_die(c, sql);
    PQfinish(c);
    size_t n = strlen(cluster()) + sizeof name + 16;
    char *ci = malloc(n);
    if (ci == NULL)
        die("out of memory");
    snprintf(ci, n, "%s dbname=%s", cluster(), name);
    return ci;
}

char *testdb_create_migrated(const char *tag)
{
    char *ci = testdb_create(tag);
    struct db *db = NULL;
    if (db_open(&db, ci) != 0)
        die("db_open: %s", db_errmsg(db));
    struct migrate_report rep = {0};
    if (migrate_run(db, &rep) != 0)
        die("migrate: %s", db_errmsg(db));
    db_free(db);
    return ci;
}

void testdb_drop(char *conninfo)
{
    if (conninfo == NULL)
        return;
    // The database testdb_create() appended is the last dbname= of the conninfo.
    const char *p = NULL;
    for (const char *q = strstr(conninfo, " dbname="); q != NULL; q = strstr(q + 1, " dbname="))
        p = q;
    if (p != NULL) {
        PGconn *c = connect_or_die(cluster());
        char sql[160];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %.60s WITH (FORCE)", p + 8);
        exec_or_die(c, sql);
        PQfinish(c);
    }
    free(conninfo);
}

char *testdb_query_value(const char *conninfo, const char *sql)
{
    PGconn *c = connect_or_die(conninfo);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die("%s: %s", sql, PQerrorMessage(c));
    char *v = NULL;
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

int testdb_exec(const char *conninfo, const char *sql, char *err, size_t n)
{
    PGconn *c = connect_or_die(conninfo);
    PGresult *r = PQexec(c, sql);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = -1;
        if (err != NULL && n > 0)
            snprintf(err, n, "%s", PQresultErrorMessage(r));
    } else if (err != NULL && n > 0) {
        err[0] = '\0';
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}
