/* cmd_worker: `gspbot worker [--concurrency N] [--flow F]` — the worker pool in the foreground:
 * what a machine of the campaign runs (any number of machines share one database). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "db.h"
#include "flow.h"
#include "oneshot.h"
#include "worker.h"

/* Loads and checks the flow and the configuration it needs; NULL after printing why (*code). */
struct flow *cli_pool_flow(const struct config *cfg, const char *path, int *code)
{
    struct flow *flow = oneshot_load_flow(path ? path : cfg->flow_path);
    if (flow == NULL) {
        *code = EXIT_USAGE;
        return NULL;
    }
    char err[512];
    if (flow_check_config(flow, cfg, err, sizeof err) != 0) {
        cli_error("configuration", "%s (flow %s)", err, flow->source);
        flow_free(flow);
        *code = EXIT_UNAVAILABLE;
        return NULL;
    }
    return flow;
}

static int cmd_worker(int argc, char **argv, const struct config *cfg)
{
    static const struct option opts[] = {
        {"concurrency", required_argument, NULL, 'c'}, {"flow", required_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
    int concurrency = cfg->concurrency;
    const char *flow_path = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "c:f:", opts, NULL)) != -1) {
        switch (c) {
        case 'c': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end != '\0' || v < 1 || v > 64) {
                cli_error("worker", "--concurrency \"%s\": a whole number in 1..64", optarg);
                return EXIT_USAGE;
            }
            concurrency = (int)v;
            break;
        }
        case 'f': flow_path = optarg; break;
        default: cli_error("worker", "unknown option or missing value \"%s\"", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("worker", "unexpected argument \"%s\"", argv[optind]);
        return EXIT_USAGE;
    }
    int code = EXIT_OK;
    struct flow *flow = cli_pool_flow(cfg, flow_path, &code);
    if (flow == NULL)
        return code;
    struct db *db = cli_db_open(cfg); // the schema must be there before any worker starts
    if (db == NULL) {
        flow_free(flow);
        return EXIT_UNAVAILABLE;
    }
    db_free(db);
    struct pool_opts po = {.cfg = cfg, .flow = flow, .concurrency = concurrency};
    code = pool_run(&po);
    flow_free(flow);
    return code;
}

const struct cli_command cli_cmd_worker = {
    .name = "worker",
    .fn = cmd_worker,
    .usage = "worker [--concurrency N] [--flow F]",
    .summary = "run the worker pool (foreground)",
    .help = "Starts N worker processes (GSPBOT_CONCURRENCY, 3), each with its own database connection and its\n"
            "own headless Chromium, that take the orders of every running batch until stopped. A worker that\n"
            "dies is restarted and its order goes back to the queue at once. Several machines may run pools\n"
            "on one database. SIGTERM (docker stop): no new order starts, orders in progress are released,\n"
            "exit 0. Ctrl-C: the same, exit 130.\n"
            "  --concurrency N   worker processes (1..64)\n"
            "  --flow F          flow file (default GSPBOT_FLOW, else data/flows/gsp-sim.json)\n",
};
