/* cmd_retry_order: `gspbot retry-order ORDER` — one failed or cancelled order back to the queue. */
#include <stdio.h>

#include "cli.h"
#include "db.h"
#include "queue.h"

static int cmd_retry_order(int argc, char **argv, const struct config *cfg)
{
    long long id;
    if (!cli_parse_id_command(argc, argv, "order", &id, NULL))
        return EXIT_USAGE;
    struct db *db = cli_db_open(cfg);
    if (db == NULL)
        return EXIT_UNAVAILABLE;
    char msg[512];
    int rc = queue_order_retry(db, id, cfg->max_retries + 1, msg, sizeof msg);
    int code = rc == 0 ? (puts(msg), EXIT_OK) : cli_queue_error("retry-order", db, rc);
    db_free(db);
    return code;
}

const struct cli_command cli_cmd_retry_order = {
    .name = "retry-order",
    .fn = cmd_retry_order,
    .usage = "retry-order ORDER",
    .summary = "re-queue one failed order",
    .help = "The order (its id is in `gspbot orders BATCH` and `gspbot failures BATCH`) goes back to the queue\n"
            "with its attempts reset; a finished batch runs again for it.\n",
};
