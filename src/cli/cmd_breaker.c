/* cmd_breaker: `gspbot breaker [reset] [--json]` — the circuit breaker every worker shares. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "queue.h"

static int cmd_breaker(int argc, char **argv, const struct config *cfg)
{
    bool json = false, reset = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "reset") == 0) {
            reset = true;
        } else {
            cli_error("breaker", "unexpected argument \"%s\" (usage: gspbot breaker [reset] [--json])", argv[i]);
            return EXIT_USAGE;
        }
    }
    struct db *db = cli_db_open(cfg);
    if (db == NULL)
        return EXIT_UNAVAILABLE;
    int rc = reset ? queue_breaker_reset(db) : 0;
    struct queue_breaker b;
    if (rc == 0)
        rc = queue_breaker_get(db, &b);
    if (rc != 0) {
        int code = cli_queue_error("breaker", db, rc);
        db_free(db);
        return code;
    }
    db_free(db);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "state", queue_breaker_state_name(b.state));
        cJSON_AddNumberToObject(o, "consecutive_failures", b.consecutive_failures);
        cJSON_AddNumberToObject(o, "threshold", cfg->breaker_failures);
        cJSON_AddNumberToObject(o, "cooldown_s", cfg->breaker_cooldown_s);
        cJSON_AddNumberToObject(o, "open_for_s", b.open_for_s);
        cJSON_AddStringToObject(o, "probe_owner", b.probe_owner);
        cJSON_AddStringToObject(o, "reason", b.reason);
        cJSON_AddNumberToObject(o, "opened_count", b.opened_count);
        return cli_print_json(o);
    }
    if (reset)
        puts("breaker reset: closed; workers claim again");
    printf("breaker: %s", queue_breaker_state_name(b.state));
    if (b.state == QUEUE_BREAKER_CLOSED)
        printf(" (%d of %d recoverable failures in a row)\n", b.consecutive_failures, cfg->breaker_failures);
    else if (b.state == QUEUE_BREAKER_OPEN)
        printf(" for %.0f s (cool-down %d s, then one probe): %s\n", b.open_for_s, cfg->breaker_cooldown_s, b.reason);
    else
        printf(" (one probe running: %s): %s\n", b.probe_owner, b.reason);
    if (b.opened_count > 0)
        printf("opened %d time%s so far\n", b.opened_count, b.opened_count == 1 ? "" : "s");
    return EXIT_OK;
}

const struct cli_command cli_cmd_breaker = {
    .name = "breaker",
    .fn = cmd_breaker,
    .usage = "breaker [reset] [--json]",
    .summary = "show (or reset) the shared circuit breaker",
    .help = "After GSPBOT_BREAKER_FAILURES (10) recoverable failures in a row across all workers the breaker\n"
            "opens: no order starts for GSPBOT_BREAKER_COOLDOWN_S (60); then one worker probes with one order\n"
            "(half-open): success closes it, failure opens it again. `reset` closes it at once.\n",
};
