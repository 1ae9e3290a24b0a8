/* cmd_failures: `gspbot failures BATCH [--json]` — the batch's failed orders grouped by error,
 * the most common first, with a count and one example each: what to fix first. */
#include <stdio.h>

#include "cli.h"
#include "db.h"
#include "queue.h"

static int cmd_failures(int argc, char **argv, const struct config *cfg)
{
    long long id;
    bool json;
    if (!cli_parse_id_command(argc, argv, "batch", &id, &json))
        return EXIT_USAGE;
    struct db *db = cli_db_open(cfg);
    if (db == NULL)
        return EXIT_UNAVAILABLE;
    cJSON *groups = NULL;
    int rc = queue_failures_json(db, id, &groups);
    if (rc != 0) {
        int code = cli_queue_error("failures", db, rc);
        db_free(db);
        return code;
    }
    db_free(db);
    if (json)
        return cli_print_json(groups);
    int n = cJSON_GetArraySize(groups), total = 0;
    const cJSON *g;
    cJSON_ArrayForEach(g, groups) total += (int)cJSON_GetObjectItem(g, "count")->valuedouble;
    if (n == 0) {
        printf("batch %lld has no failed orders\n", id);
        cJSON_Delete(groups);
        return EXIT_OK;
    }
    printf("batch %lld: %d failed order%s in %d group%s\n\n", id, total, total == 1 ? "" : "s", n, n == 1 ? "" : "s");
    cJSON_ArrayForEach(g, groups)
    {
        int count = (int)cJSON_GetObjectItem(g, "count")->valuedouble;
        printf("%5d x %s: %s\n", count, cJSON_GetObjectItem(g, "error_class")->valuestring,
               cJSON_GetObjectItem(g, "example")->valuestring);
        printf("        e.g. order %.0f (consultora %s)", cJSON_GetObjectItem(g, "example_order")->valuedouble,
               cJSON_GetObjectItem(g, "example_consultora")->valuestring);
        const cJSON *ids = cJSON_GetObjectItem(g, "orders");
        if (count > 1) {
            printf("; orders");
            const cJSON *x;
            cJSON_ArrayForEach(x, ids) printf(" %.0f", x->valuedouble);
            if (count > cJSON_GetArraySize(ids))
                printf(" ...");
        }
        printf("\n");
    }
    printf("\nAfter fixing the cause: gspbot retry %lld (or gspbot retry-order ORDER)\n", id);
    cJSON_Delete(groups);
    return EXIT_OK;
}

const struct cli_command cli_cmd_failures = {
    .name = "failures",
    .fn = cmd_failures,
    .usage = "failures BATCH [--json]",
    .summary = "failed orders grouped by error, the most common first",
    .help = "Groups the batch's failed orders by their error (the order's own codes taken out), the most\n"
            "common first, with a count, an example and the orders' ids.\n",
};
