/* cmd_pause: `gspbot pause BATCH` — no new order of the batch starts; orders in progress finish.
 * `gspbot start BATCH` resumes it. */
#include <stdio.h>

#include "cli.h"
#include "db.h"
#include "queue.h"

static int cmd_pause(int argc, char **argv, const struct config *cfg)
{
    long long id;
    if (!cli_parse_id_command(argc, argv, "batch", &id, NULL))
        return EXIT_USAGE;
    struct db *db = cli_db_open(cfg);
    if (db == NULL)
        return EXIT_UNAVAILABLE;
    char msg[512];
    int rc = queue_batch_pause(db, id, NULL, msg, sizeof msg);
    int code = rc == 0 ? (puts(msg), EXIT_OK) : cli_queue_error("pause", db, rc);
    db_free(db);
    return code;
}

const struct cli_command cli_cmd_pause = {
    .name = "pause",
    .fn = cmd_pause,
    .usage = "pause BATCH",
    .summary = "stop new claims for a batch (orders in progress finish)",
    .help = "No new order of the batch starts; the orders in progress finish normally. Resume with\n"
            "`gspbot start BATCH`. Exit 0 paused (or already paused), 2 no such batch or not running.\n",
};
