/* migrate: ordered, transactional, concurrency-safe application of the embedded migrations. */
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"

// Key of the session advisory lock serialising concurrent `migrate` runs ("gspbot" in ASCII).
#define MIGRATE_LOCK_KEY "109427217444980"

static const char CREATE_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                   " name text PRIMARY KEY,"
                                   " sha256 text NOT NULL,"
                                   " applied_at timestamptz NOT NULL DEFAULT now())";

// name without ".sql", for messages and the table.
static void migration_name(const struct embedded_file *f, char *out, size_t n)
{
    size_t len = strlen(f->name);
    if (len > 4 && strcmp(f->name + len - 4, ".sql") == 0)
        len -= 4;
    snprintf(out, n, "%.*s", (int)len, f->name);
}

static int unlock(struct db *db, int rc)
{
    PGresult *r = PQexec(db_conn(db), "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")");
    PQclear(r);
    return rc;
}

static int apply_one(struct db *db, const struct embedded_file *f, const char *name)
{
    if (db_exec(db, "BEGIN", "BEGIN") != 0)
        return -1;
    // The migration's text goes through PQexec: it holds several statements.
    PGresult *r = PQexec(db_conn(db), (const char *)f->data);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        db_fail(db, "migration %s failed: %s", name, PQresultErrorMessage(r));
        PQclear(r);
        PQclear(PQexec(db_conn(db), "ROLLBACK"));
        return -1;
    }
    PQclear(r);
    const char *params[] = {name, (const char *)f->data};
    r = db_query(db, "record migration",
                 "INSERT INTO schema_migrations (name, sha256)"
                 " VALUES ($1, encode(sha256(convert_to($2, 'UTF8')), 'hex'))",
                 2, params);
    if (r == NULL) {
        PQclear(PQexec(db_conn(db), "ROLLBACK"));
        return -1;
    }
    PQclear(r);
    return db_exec(db, "COMMIT", "COMMIT");
}

int migrate_run(struct db *db, struct migrate_report *report)
{
    memset(report, 0, sizeof *report);
    report->total = gsp_migrations_count;
    if (db_exec(db, "advisory lock", "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")") != 0)
        return -1;
    if (db_exec(db, "create schema_migrations", CREATE_TABLE) != 0)
        return unlock(db, -1);
    for (size_t i = 0; i < gsp_migrations_count; i++) {
        const struct embedded_file *f = &gsp_migrations[i];
        char name[128];
        migration_name(f, name, sizeof name);
        const char *params[] = {name, (const char *)f->data};
        PGresult *r = db_query(db, "read schema_migrations",
                               "SELECT sha256 = encode(sha256(convert_to($2, 'UTF8')), 'hex')"
                               " FROM schema_migrations WHERE name = $1",
                               2, params);
        if (r == NULL)
            return unlock(db, -1);
        bool applied = PQntuples(r) > 0;
        bool same = applied && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (applied && !same) {
            db_fail(db, "migration %s was changed after it was applied; add a new migration instead", name);
            return unlock(db, -1);
        }
        if (applied)
            continue;
        if (apply_one(db, f, name) != 0)
            return unlock(db, -1);
        if (report->applied_count < MIGRATE_MAX)
            report->applied[report->applied_count++] = f->name;
    }
    return unlock(db, 0);
}

int migrate_is_current(struct db *db)
{
    PGresult *r = db_query(db, "read schema_migrations",
                           "SELECT count(*) FROM pg_tables WHERE tablename = 'schema_migrations'", 0, NULL);
    if (r == NULL)
        return -1;
    bool exists = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
    PQclear(r);
    if (!exists)
        return 0;
    r = db_query(db, "read schema_migrations", "SELECT count(*) FROM schema_migrations", 0, NULL);
    if (r == NULL)
        return -1;
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n >= (long)gsp_migrations_count ? 1 : 0;
}
