/* cli: helpers shared by the commands (src/cmd_*.c): error printing with secrets redacted, and
 * opening the database with the schema checked. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>

#include "db.h"
#include "log.h"
#include "migrate.h"

void cli_error(const char *cmd, const char *fmt, ...)
{
    char raw[4096], msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    log_redact(raw, msg, sizeof msg);
    fprintf(stderr, "gspbot %s: %s\n", cmd, msg);
}

struct db *cli_db_open(const struct config *cfg)
{
    struct db *db = NULL;
    if (db_open(&db, cfg->database_url) != 0) {
        cli_error("database", "%s", db_errmsg(db));
        db_free(db);
        return NULL;
    }
    int cur = migrate_is_current(db);
    if (cur != 1) {
        if (cur < 0)
            cli_error("database", "%s", db_errmsg(db));
        else
            cli_error("database", "the schema is not up to date: run `gspbot migrate` first");
        db_free(db);
        return NULL;
    }
    return db;
}
