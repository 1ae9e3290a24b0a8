/* cmd_orders: `gspbot orders BATCH [--status S] [--page N] [--per-page N] [--json]` — one line
 * per order: its status, last step, attempts and error. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "queue.h"
#include "stats.h"

static const char *str_or(const cJSON *o, const char *key, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int cmd_orders(int argc, char **argv, const struct config *cfg)
{
    static const struct option opts[] = {{"status", required_argument, NULL, 's'},
                                         {"page", required_argument, NULL, 'p'},
                                         {"per-page", required_argument, NULL, 'n'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    const char *status = NULL;
    int page = 1, per_page = 1000;
    bool json = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "s:p:n:j", opts, NULL)) != -1) {
        switch (c) {
        case 's': status = optarg; break;
        case 'p': page = (int)strtol(optarg, NULL, 10); break;
        case 'n': per_page = (int)strtol(optarg, NULL, 10); break;
        case 'j': json = true; break;
        default: cli_error("orders", "unknown option or missing value \"%s\"", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    long long id;
    if (optind >= argc || optind + 1 < argc) {
        cli_error("orders", "usage: gspbot orders BATCH [--status S] [--json]");
        return EXIT_USAGE;
    }
    if (!cli_parse_id("orders", "batch", argv[optind], &id))
        return EXIT_USAGE;
    bool known = status == NULL;
    for (int i = 0; !known && i < ORDER_STATUS_COUNT; i++)
        known = strcmp(status, ORDER_STATUS_NAMES[i]) == 0;
    if (!known || page < 1 || per_page < 1 || per_page > 100000) {
        cli_error("orders", known ? "--page and --per-page take a number >= 1"
                                  : "--status: not a status (pending, queued, in_progress, retrying, completed, "
                                    "failed, cancelled)");
        return EXIT_USAGE;
    }
    struct db *db = cli_db_open(cfg);
    if (db == NULL)
        return EXIT_UNAVAILABLE;
    cJSON *res = NULL;
    int rc = queue_orders_json(db, id, status, page, per_page, &res);
    if (rc != 0) {
        int code = cli_queue_error("orders", db, rc);
        db_free(db);
        return code;
    }
    db_free(db);
    if (json)
        return cli_print_json(res);
    const cJSON *orders = cJSON_GetObjectItem(res, "orders"), *o;
    printf("%5s %8s  %-12s %-22s %-11s %-19s %4s  %s\n", "#", "ORDER", "CONSULTORA", "NAME", "STATUS", "STEP", "TRY",
           "ERROR / REFERENCE");
    cJSON_ArrayForEach(o, orders)
    {
        char name[96], step[96];
        cli_pad(str_or(o, "consultora_name", ""), 22, name, sizeof name);
        cli_pad(str_or(o, "step", "-"), 19, step, sizeof step);
        const char *err = str_or(o, "last_error", NULL);
        const char *ref = str_or(o, "portal_reference", NULL);
        const char *st = str_or(o, "status", "?");
        char tail[160] = "";
        if (err != NULL && strcmp(st, "completed") != 0)
            snprintf(tail, sizeof tail, "%.150s", err);
        else if (ref != NULL)
            snprintf(tail, sizeof tail, "ref %.140s", ref);
        printf("%5.0f %8.0f  %-12s %s %-11s %s %2.0f/%-1.0f  %s\n", num(o, "seq"), num(o, "id"),
               str_or(o, "consultora_code", ""), name, st, step, num(o, "attempts"), num(o, "max_attempts"), tail);
    }
    double total = num(res, "total");
    printf("%d of %.0f order%s%s%s", cJSON_GetArraySize(orders), total, total == 1 ? "" : "s",
           status ? " with status " : "", status ? status : "");
    if (num(res, "pages") > 1)
        printf(" (page %d of %.0f)", page, num(res, "pages"));
    printf("\n");
    cJSON_Delete(res);
    return EXIT_OK;
}

const struct cli_command cli_cmd_orders = {
    .name = "orders",
    .fn = cmd_orders,
    .usage = "orders BATCH [--status S] [--page N] [--per-page N] [--json]",
    .summary = "one line per order: status, step, attempts, error",
    .help = "  --status S     only orders in this status (pending, queued, in_progress, retrying, completed,\n"
            "                 failed, cancelled)\n"
            "  --page N, --per-page N   a page of the list (default: the first 1000)\n"
            "  --json         the same as JSON, with totals\n",
};
