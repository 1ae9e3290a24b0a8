/* cmd_migrate: `gspbot migrate` applies pending schema migrations. */
#include <stdio.h>

#include "cli.h"
#include "db.h"
#include "log.h"
#include "migrate.h"

static int cmd_migrate(int argc, char **argv, const struct config *cfg)
{
    if (argc > 1) {
        cli_error("migrate", "unexpected argument \"%s\" (migrate takes none)", argv[1]);
        return EXIT_USAGE;
    }
    struct db *db = NULL;
    if (db_open(&db, cfg->database_url) != 0) {
        cli_error("migrate", "%s", db_errmsg(db));
        db_free(db);
        return EXIT_UNAVAILABLE;
    }
    struct migrate_report rep;
    int rc = migrate_run(db, &rep);
    for (size_t i = 0; i < rep.applied_count; i++)
        printf("applied %s\n", rep.applied[i]);
    if (rc != 0) {
        cli_error("migrate", "%s", db_errmsg(db));
        db_free(db);
        return EXIT_UNAVAILABLE;
    }
    if (rep.applied_count == 0)
        printf("up to date (%zu migration%s)\n", rep.total, rep.total == 1 ? "" : "s");
    log_debug("migrate", "%zu applied, %zu known", rep.applied_count, rep.total);
    db_free(db);
    return EXIT_OK;
}

const struct cli_command cli_cmd_migrate = {
    .name = "migrate",
    .fn = cmd_migrate,
    .usage = "migrate",
    .summary = "apply the schema migrations (idempotent)",
    .help = "Applies the SQL migrations compiled into gspbot, in order, each in its own transaction, under an\n"
            "advisory lock (two migrate runs at once are safe). Prints what it applied, or \"up to date\".\n",
};
