/* migrate: applies the SQL migrations compiled into the binary (schema/NNN_name.sql) in name
 * order, each in its own transaction, under a session advisory lock so that several `gspbot
 * migrate` started at once apply each migration exactly once. A migration changed after it was
 * applied is refused (its SHA-256 is kept in schema_migrations). */
#ifndef GSPBOT_MIGRATE_H
#define GSPBOT_MIGRATE_H

#include <stddef.h>

#include "db.h"

#define MIGRATE_MAX 256

struct migrate_report {
    size_t applied_count;             /* migrations applied by this run */
    const char *applied[MIGRATE_MAX]; /* their names; static storage (the embedded table) */
    size_t total;                     /* migrations known to this binary */
};

/* Applies every pending migration. Fills *report (caller-owned). Returns 0, or -1 with
 * db_errmsg(db) naming the migration and the server's message; migrations applied before the
 * failing one stay applied, the failing one leaves nothing behind. */
__attribute__((warn_unused_result)) int migrate_run(struct db *db, struct migrate_report *report);

/* Returns 1 when every migration this binary knows is applied, 0 when some are pending, -1 on a
 * database error (db_errmsg). Used by commands that need the schema. */
__attribute__((warn_unused_result)) int migrate_is_current(struct db *db);

#endif
