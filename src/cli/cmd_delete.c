/* cmd_delete: `gspbot delete BATCH` — removes a batch that is not running, with its orders, items,
 * audit trail and evidence files. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "queue.h"

static int cmd_delete(int argc, char **argv, const struct config *cfg)
{
    long long id;
    if (!cli_parse_id_command(argc, argv, "batch", &id, NULL))
        return EXIT_USAGE;
    struct db *db = cli_db_open(cfg);
    if (db == NULL)
        return EXIT_UNAVAILABLE;
    char msg[512];
    char **files = NULL;
    size_t nfiles = 0;
    int rc = queue_batch_delete(db, id, &files, &nfiles, msg, sizeof msg);
    if (rc != 0) {
        int code = cli_queue_error("delete", db, rc);
        db_free(db);
        return code;
    }
    // The evidence named in its audit trail: base.png, base.html, base.console.txt.
    int removed = 0;
    for (size_t i = 0; i < nfiles; i++) {
        static const char *const EXT[] = {"png", "html", "console.txt"};
        for (size_t e = 0; e < 3; e++) {
            char path[4200];
            snprintf(path, sizeof path, "%s.%s", files[i], EXT[e]);
            removed += unlink(path) == 0;
        }
        free(files[i]);
    }
    free(files);
    printf("%s; %d evidence file%s removed\n", msg, removed, removed == 1 ? "" : "s");
    db_free(db);
    return EXIT_OK;
}

const struct cli_command cli_cmd_delete = {
    .name = "delete",
    .fn = cmd_delete,
    .usage = "delete BATCH",
    .summary = "remove a batch that is not running, with its orders, logs and evidence",
    .help = "Removes the batch, its orders, items and audit trail, and the evidence files the trail names.\n"
            "A running batch, or one with orders still in progress, is refused: pause or cancel it first.\n",
};
