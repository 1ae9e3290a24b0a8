/* planned: the commands of SPEC section 5 that this version does not build yet. `gspbot --help`
 * lists them as "not built yet" and running one exits 2 saying so. A command that gets built moves
 * from here into its own cmd_NAME.c. */
#include <stddef.h>

#include "cli.h"

const struct cli_command cli_cmd_start = {
    .name = "start",
    .fn = NULL,
    .usage = "start BATCH",
    .summary = "queue a batch's pending orders",
    .help = "",
};

const struct cli_command cli_cmd_pause = {
    .name = "pause",
    .fn = NULL,
    .usage = "pause BATCH",
    .summary = "stop new claims for a batch",
    .help = "",
};

const struct cli_command cli_cmd_cancel = {
    .name = "cancel",
    .fn = NULL,
    .usage = "cancel BATCH",
    .summary = "cancel a batch (orders in flight stop at the next step)",
    .help = "",
};

const struct cli_command cli_cmd_retry = {
    .name = "retry",
    .fn = NULL,
    .usage = "retry BATCH",
    .summary = "re-queue a batch's failed orders",
    .help = "",
};

const struct cli_command cli_cmd_retry_order = {
    .name = "retry-order",
    .fn = NULL,
    .usage = "retry-order ORDER",
    .summary = "re-queue one order",
    .help = "",
};

const struct cli_command cli_cmd_orders = {
    .name = "orders",
    .fn = NULL,
    .usage = "orders BATCH [--status S] [--json]",
    .summary = "one line per order",
    .help = "",
};

const struct cli_command cli_cmd_logs = {
    .name = "logs",
    .fn = NULL,
    .usage = "logs ORDER [--json]",
    .summary = "an order's step-by-step audit trail",
    .help = "",
};

const struct cli_command cli_cmd_failures = {
    .name = "failures",
    .fn = NULL,
    .usage = "failures BATCH [--json]",
    .summary = "failed orders grouped by error",
    .help = "",
};

const struct cli_command cli_cmd_export = {
    .name = "export",
    .fn = NULL,
    .usage = "export BATCH [--status S] -o FILE.csv",
    .summary = "re-loadable CSV of a batch's orders",
    .help = "",
};

const struct cli_command cli_cmd_worker = {
    .name = "worker",
    .fn = NULL,
    .usage = "worker [--concurrency N]",
    .summary = "run the worker pool (foreground)",
    .help = "",
};

const struct cli_command cli_cmd_serve = {
    .name = "serve",
    .fn = NULL,
    .usage = "serve [--port 8000]",
    .summary = "REST API and web dashboard",
    .help = "",
};

const struct cli_command cli_cmd_run = {
    .name = "run",
    .fn = NULL,
    .usage = "run FILE [--concurrency N] [--output F]",
    .summary = "load + start + work until done + summary",
    .help = "",
};

const struct cli_command cli_cmd_delete = {
    .name = "delete",
    .fn = NULL,
    .usage = "delete BATCH",
    .summary = "remove a batch that is not running, with its orders, logs and evidence",
    .help = "",
};

const struct cli_command cli_cmd_verify = {
    .name = "verify",
    .fn = NULL,
    .usage = "verify BATCH [--status S] [--concurrency N] [--json]",
    .summary = "read each order's cart back from the portal and compare it with the database",
    .help = "",
};

const struct cli_command cli_cmd_breaker = {
    .name = "breaker",
    .fn = NULL,
    .usage = "breaker [reset]",
    .summary = "show (or reset) the shared circuit breaker",
    .help = "",
};
