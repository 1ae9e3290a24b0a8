/* planned: the commands of SPEC section 5 that this version does not build yet. `gspbot --help`
 * lists them as "not built yet" and running one exits 2 saying so. A command that gets built moves
 * from here into its own cmd_NAME.c. */
#include <stddef.h>

#include "cli.h"

const struct cli_command cli_cmd_verify = {
    .name = "verify",
    .fn = NULL,
    .usage = "verify BATCH [--status S] [--concurrency N] [--json]",
    .summary = "read each order's cart back from the portal and compare it with the database",
    .help = "",
};
