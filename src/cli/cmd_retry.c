/* cmd_retry: `gspbot retry BATCH` — the batch's failed orders go back to the queue with their
 * attempts reset (after the staff fixed what made them fail). */
#include <stdio.h>

#include "cli.h"
#include "db.h"
#include "queue.h"

static int cmd_retry(int argc, char **argv, const struct config *cfg)
{
    long long id;
    if (!cli_parse_id_command(argc, argv, "batch", &id, NULL))
        return EXIT_USAGE;
    struct db *db = cli_db_open(cfg);
    if (db == NULL)
        return EXIT_UNAVAILABLE;
    char msg[512];
    int rc = queue_batch_retry(db, id, cfg->max_retries + 1, msg, sizeof msg);
    int code = rc == 0 ? (puts(msg), EXIT_OK) : cli_queue_error("retry", db, rc);
    db_free(db);
    return code;
}

const struct cli_command cli_cmd_retry = {
    .name = "retry",
    .fn = cmd_retry,
    .usage = "retry BATCH",
    .summary = "re-queue a batch's failed orders",
    .help = "Every failed order of the batch goes back to the queue with its attempts reset, and a finished\n"
            "batch runs again. The exactly-once cart makes this safe: products already in the portal's cart\n"
            "are not added again, only what is missing.\n",
};
