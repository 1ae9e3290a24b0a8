/* cmd_cancel: `gspbot cancel BATCH` — the batch ends cancelled: waiting orders at once, orders in
 * progress at their next step. */
#include <stdio.h>

#include "cli.h"
#include "db.h"
#include "queue.h"

static int cmd_cancel(int argc, char **argv, const struct config *cfg)
{
    long long id;
    if (!cli_parse_id_command(argc, argv, "batch", &id, NULL))
        return EXIT_USAGE;
    struct db *db = cli_db_open(cfg);
    if (db == NULL)
        return EXIT_UNAVAILABLE;
    char msg[512];
    int rc = queue_batch_cancel(db, id, msg, sizeof msg);
    int code = rc == 0 ? (puts(msg), EXIT_OK) : cli_queue_error("cancel", db, rc);
    db_free(db);
    return code;
}

const struct cli_command cli_cmd_cancel = {
    .name = "cancel",
    .fn = cmd_cancel,
    .usage = "cancel BATCH",
    .summary = "cancel a batch (orders in progress stop at their next step)",
    .help = "Every waiting order of the batch ends cancelled at once; an order in progress stops before its\n"
            "next step (what it already put in the cart stays there). A cancelled batch does not start again.\n",
};
