/* cmd_verify: `gspbot verify BATCH [--status S] [--concurrency N] [--json]` — reads every order's
 * cart back from the portal and compares it with the database: the audit before a campaign
 * closes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "flow.h"
#include "queue.h"
#include "stats.h"
#include "worker.h"

static int cmd_verify(int argc, char **argv, const struct config *cfg)
{
    static const struct option opts[] = {{"status", required_argument, NULL, 's'},
                                         {"concurrency", required_argument, NULL, 'c'},
                                         {"flow", required_argument, NULL, 'f'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    const char *status = NULL, *flow_path = NULL;
    int concurrency = 1;
    bool json = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "s:c:f:j", opts, NULL)) != -1) {
        switch (c) {
        case 's': status = optarg; break;
        case 'c': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end != '\0' || v < 1 || v > 16) {
                cli_error("verify", "--concurrency \"%s\": a whole number in 1..16", optarg);
                return EXIT_USAGE;
            }
            concurrency = (int)v;
            break;
        }
        case 'f': flow_path = optarg; break;
        case 'j': json = true; break;
        default: cli_error("verify", "unknown option or missing value \"%s\"", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    long long id;
    if (optind >= argc || optind + 1 < argc) {
        cli_error("verify", "usage: gspbot verify BATCH [--status S] [--concurrency N] [--json]");
        return EXIT_USAGE;
    }
    if (!cli_parse_id("verify", "batch", argv[optind], &id))
        return EXIT_USAGE;
    bool known = status == NULL || strcmp(status, "all") == 0;
    for (int i = 0; !known && i < ORDER_STATUS_COUNT; i++)
        known = strcmp(status, ORDER_STATUS_NAMES[i]) == 0;
    if (!known) {
        cli_error("verify", "--status \"%s\": a status (completed, failed, ...) or all", status);
        return EXIT_USAGE;
    }
    /* The batch first: an unknown batch is the user's mistake whatever the flow's configuration. */
    struct db *db = cli_db_open(cfg);
    if (db == NULL)
        return EXIT_UNAVAILABLE;
    char bstatus[16];
    int found = queue_batch_status(db, id, bstatus, NULL, 0);
    if (found < 0)
        cli_error("verify", "%s", db_errmsg(db));
    db_free(db);
    if (found < 0)
        return EXIT_UNAVAILABLE;
    if (found == 0) {
        cli_error("verify", "no batch %lld", id);
        return EXIT_USAGE;
    }
    int code = EXIT_OK;
    struct flow *flow = cli_pool_flow(cfg, flow_path, &code);
    if (flow == NULL)
        return code;
    bool has_cart = false;
    for (size_t i = 0; i < flow->nsteps; i++)
        has_cart |= flow->steps[i].cart != NULL;
    if (!has_cart) {
        cli_error("verify", "the flow %s has no step with a \"cart\" expression: it cannot read a cart back",
                  flow->source);
        flow_free(flow);
        return EXIT_USAGE;
    }
    struct verify_opts vo = {.cfg = cfg, .flow = flow, .batch_id = id, .status = status, .concurrency = concurrency};
    cJSON *rep = NULL;
    code = verify_batch(&vo, &rep);
    flow_free(flow);
    if (code == EXIT_USAGE) {
        cli_error("verify", "no batch %lld", id);
        cJSON_Delete(rep);
        return code;
    }
    if (rep == NULL)
        return code;
    if (json) {
        cli_print_json(rep);
        return code;
    }
    printf("%8s  %-12s %-10s %-11s %s\n", "ORDER", "CONSULTORA", "STATUS", "RESULT", "DETAIL");
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(rep, "orders"))
    {
        const cJSON *d = cJSON_GetObjectItem(o, "detail");
        printf("%8.0f  %-12s %-10s %-11s %s\n", cJSON_GetObjectItem(o, "order_id")->valuedouble,
               cJSON_GetObjectItem(o, "consultora_code")->valuestring, cJSON_GetObjectItem(o, "status")->valuestring,
               cJSON_GetObjectItem(o, "result")->valuestring, cJSON_IsString(d) ? d->valuestring : "");
    }
    const cJSON *s = cJSON_GetObjectItem(rep, "summary");
    printf("\n%.0f orders: %.0f exact, %.0f missing, %.0f excess, %.0f unexpected, %.0f mismatch, %.0f unreadable,"
           " %.0f not verified\n",
           cJSON_GetObjectItem(s, "orders")->valuedouble, cJSON_GetObjectItem(s, "exact")->valuedouble,
           cJSON_GetObjectItem(s, "missing")->valuedouble, cJSON_GetObjectItem(s, "excess")->valuedouble,
           cJSON_GetObjectItem(s, "unexpected")->valuedouble, cJSON_GetObjectItem(s, "mismatch")->valuedouble,
           cJSON_GetObjectItem(s, "error")->valuedouble, cJSON_GetObjectItem(s, "not_verified")->valuedouble);
    cJSON_Delete(rep);
    return code;
}

const struct cli_command cli_cmd_verify = {
    .name = "verify",
    .fn = cmd_verify,
    .usage = "verify BATCH [--status S] [--concurrency N] [--flow F] [--json]",
    .summary = "read each order's cart back from the portal and compare it with the database",
    .help = "Walks the flow up to the cart for each order (nothing is added: the same read-only walk as\n"
            "preflight), reads the portal's cart with the flow's `cart` expression and compares it with what\n"
            "the database says: a completed order must hold all its products; any other order the products\n"
            "that went in. Each order's result (exact, missing, excess, unexpected, mismatch, error) is kept\n"
            "on it (`gspbot orders`, the API, the dashboard). Exit 0 all exact, 1 any difference.\n"
            "  --status S        orders in this status (default completed; all = every order)\n"
            "  --concurrency N   browsers side by side (default 1)\n"
            "  --json            the report as JSON\n",
};
