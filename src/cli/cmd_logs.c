/* cmd_logs: `gspbot logs ORDER [--json]` — an order's audit trail: every attempt's steps with
 * their durations, errors, the worker that ran them and the evidence files. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "queue.h"

static const char *s_or(const cJSON *o, const char *key, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static int cmd_logs(int argc, char **argv, const struct config *cfg)
{
    long long id;
    bool json;
    if (!cli_parse_id_command(argc, argv, "order", &id, &json))
        return EXIT_USAGE;
    struct db *db = cli_db_open(cfg);
    if (db == NULL)
        return EXIT_UNAVAILABLE;
    cJSON *order = NULL, *logs = NULL;
    int rc = queue_order_json(db, id, &order);
    if (rc == 0)
        rc = queue_logs_json(db, id, &logs);
    if (rc != 0) {
        int code = cli_queue_error("logs", db, rc);
        cJSON_Delete(order);
        db_free(db);
        return code;
    }
    db_free(db);
    if (json) {
        cJSON_AddItemToObject(order, "logs", logs);
        return cli_print_json(order);
    }
    printf("order %lld: consultora %s %s, batch %.0f: %s (step %s, attempt %.0f of %.0f)\n", id,
           s_or(order, "consultora_code", ""), s_or(order, "consultora_name", ""),
           cJSON_GetObjectItem(order, "batch_id")->valuedouble, s_or(order, "status", "?"), s_or(order, "step", "-"),
           cJSON_GetObjectItem(order, "attempts")->valuedouble,
           cJSON_GetObjectItem(order, "max_attempts")->valuedouble);
    if (s_or(order, "portal_reference", NULL))
        printf("portal reference: %s\n", s_or(order, "portal_reference", ""));
    if (s_or(order, "last_error", NULL))
        printf("last error (%s): %s\n", s_or(order, "error_class", "?"), s_or(order, "last_error", ""));
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(order, "products"))
    {
        const char *msg = s_or(p, "message", NULL);
        printf("  product %-20s x%-5.0f %s%s%s\n", s_or(p, "product_code", ""),
               cJSON_GetObjectItem(p, "quantity")->valuedouble, s_or(p, "outcome", ""), msg ? ": " : "",
               msg ? msg : "");
    }
    printf("\n");
    const cJSON *l;
    cJSON_ArrayForEach(l, logs)
    {
        const cJSON *d = cJSON_GetObjectItem(l, "duration_ms");
        char dur[32] = "";
        if (cJSON_IsNumber(d))
            snprintf(dur, sizeof dur, "%.2f s", d->valuedouble / 1000.0);
        printf("%s  a%-2.0f %-5s %-20s %9s  %s\n", s_or(l, "at", ""), cJSON_GetObjectItem(l, "attempt")->valuedouble,
               s_or(l, "level", ""), s_or(l, "step", ""), dur, s_or(l, "message", ""));
        const char *ev = s_or(l, "evidence", NULL);
        if (ev != NULL)
            printf("%*s evidence: %s.png, .html, .console.txt\n", 40, "", ev);
    }
    if (cJSON_GetArraySize(logs) == 0)
        printf("(no attempt yet)\n");
    cJSON_Delete(order);
    cJSON_Delete(logs);
    return EXIT_OK;
}

const struct cli_command cli_cmd_logs = {
    .name = "logs",
    .fn = cmd_logs,
    .usage = "logs ORDER [--json]",
    .summary = "an order's step-by-step audit trail, with evidence paths",
    .help = "The order, its products and their outcomes, then every row of its audit trail: time, attempt,\n"
            "level, step, duration and message, and the evidence (screenshot, HTML, console) of each failed\n"
            "attempt.\n",
};
