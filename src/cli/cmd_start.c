/* cmd_start: `gspbot start BATCH [--at TIME]` — queues a loaded batch (or resumes a paused one),
 * now or at a time: the campaign lead loads at 18:00, the portal is quiet at 02:00. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "db.h"
#include "queue.h"

/* TIME: "HH:MM" (the next such time, today or tomorrow), "YYYY-MM-DD HH:MM[:SS]",
 * "YYYY-MM-DDTHH:MM[:SS]" (local time), or "+N[smh]" from now. Returns the epoch or -1. */
static double parse_time(const char *s)
{
    time_t now = time(NULL);
    if (s[0] == '+') {
        char *end;
        long v = strtol(s + 1, &end, 10);
        int mult = *end == 's' || *end == '\0' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : 0;
        if (end == s + 1 || v < 0 || mult == 0 || (*end != '\0' && end[1] != '\0'))
            return -1;
        return (double)now + (double)v * mult;
    }
    static const char *const FORMATS[] = {"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"};
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++) {
        struct tm tm = {0};
        const char *end = strptime(s, FORMATS[i], &tm);
        if (end != NULL && *end == '\0') {
            tm.tm_isdst = -1;
            return (double)mktime(&tm);
        }
    }
    struct tm tm;
    localtime_r(&now, &tm);
    int h, m;
    char extra;
    if (sscanf(s, "%d:%d%c", &h, &m, &extra) == 2 && h >= 0 && h < 24 && m >= 0 && m < 60) {
        tm.tm_hour = h;
        tm.tm_min = m;
        tm.tm_sec = 0;
        tm.tm_isdst = -1;
        time_t t = mktime(&tm);
        if (t <= now)
            t += 86400; // already past today: tomorrow
        return (double)t;
    }
    return -1;
}

static int cmd_start(int argc, char **argv, const struct config *cfg)
{
    const char *at = NULL, *pos = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--at") == 0 && i + 1 < argc)
            at = argv[++i];
        else if (strncmp(argv[i], "--at=", 5) == 0)
            at = argv[i] + 5;
        else if (argv[i][0] == '-') {
            cli_error("start", "unknown option or missing value \"%s\" (see gspbot start --help)", argv[i]);
            return EXIT_USAGE;
        } else if (pos == NULL)
            pos = argv[i];
        else {
            cli_error("start", "unexpected argument \"%s\"", argv[i]);
            return EXIT_USAGE;
        }
    }
    long long id;
    if (pos == NULL) {
        cli_error("start", "needs a batch id (usage: gspbot start BATCH [--at TIME])");
        return EXIT_USAGE;
    }
    if (!cli_parse_id("start", "batch", pos, &id))
        return EXIT_USAGE;
    double when = 0;
    if (at != NULL && (when = parse_time(at)) < 0) {
        cli_error("start", "--at \"%s\": not a time (HH:MM, \"YYYY-MM-DD HH:MM\" or +30m)", at);
        return EXIT_USAGE;
    }
    struct db *db = cli_db_open(cfg);
    if (db == NULL)
        return EXIT_UNAVAILABLE;
    char msg[512];
    int rc = queue_batch_start(db, id, cfg->max_retries + 1, when, msg, sizeof msg);
    int code = EXIT_OK;
    if (rc != 0) {
        code = cli_queue_error("start", db, rc);
    } else if (when > 0) {
        char buf[64];
        time_t t = (time_t)when;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm);
        printf("%s (%s)\n", msg, buf);
    } else {
        puts(msg);
    }
    db_free(db);
    return code;
}

const struct cli_command cli_cmd_start = {
    .name = "start",
    .fn = cmd_start,
    .usage = "start BATCH [--at TIME]",
    .summary = "queue a batch's orders (or resume a paused batch), now or at a time",
    .help = "The batch's pending orders are queued; running workers (`gspbot worker`) pick them up at once.\n"
            "A paused batch resumes.\n"
            "  --at TIME   start later: HH:MM (the next such time), \"YYYY-MM-DD HH:MM\" (local time) or +N[smh]\n"
            "Example: gspbot start 3 --at 02:00\n",
};
