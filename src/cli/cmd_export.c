/* cmd_export: `gspbot export BATCH [--status S] -o FILE.csv` — the batch's orders as a CSV that
 * `gspbot load` reads back (e.g. the failed ones, fixed, as a new batch). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "queue.h"
#include "stats.h"

static bool valid_status(const char *s)
{
    for (int i = 0; i < ORDER_STATUS_COUNT; i++)
        if (strcmp(s, ORDER_STATUS_NAMES[i]) == 0)
            return true;
    return false;
}

static int cmd_export(int argc, char **argv, const struct config *cfg)
{
    static const struct option opts[] = {
        {"status", required_argument, NULL, 's'}, {"output", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    const char *status = NULL, *out = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "s:o:", opts, NULL)) != -1) {
        switch (c) {
        case 's': status = optarg; break;
        case 'o': out = optarg; break;
        default: cli_error("export", "unknown option or missing value \"%s\"", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    long long id;
    if (optind >= argc || optind + 1 < argc) {
        cli_error("export", "usage: gspbot export BATCH [--status S] -o FILE.csv");
        return EXIT_USAGE;
    }
    if (!cli_parse_id("export", "batch", argv[optind], &id))
        return EXIT_USAGE;
    if (out == NULL) {
        cli_error("export", "-o FILE.csv is required (- for standard output)");
        return EXIT_USAGE;
    }
    if (status != NULL && !valid_status(status)) {
        cli_error("export",
                  "--status \"%s\": not a status (pending, queued, in_progress, retrying, completed, "
                  "failed, cancelled)",
                  status);
        return EXIT_USAGE;
    }
    struct db *db = cli_db_open(cfg);
    if (db == NULL)
        return EXIT_UNAVAILABLE;
    // Written beside the target and renamed: a failed export leaves no half file (0600: names).
    char tmp[4200];
    FILE *f = stdout;
    if (strcmp(out, "-") != 0) {
        snprintf(tmp, sizeof tmp, "%s.tmp-%d", out, (int)getpid());
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (f == NULL) {
            cli_error("export", "cannot write %s: %s", out, strerror(errno));
            if (fd >= 0)
                close(fd);
            db_free(db);
            return EXIT_USAGE;
        }
    }
    long rows = 0;
    int rc = queue_export(db, id, status, f, &rows);
    int code = EXIT_OK;
    if (f != stdout) {
        bool bad = fclose(f) != 0;
        if (rc == 0 && (bad || rename(tmp, out) != 0)) {
            cli_error("export", "cannot write %s: %s", out, strerror(errno));
            code = EXIT_USAGE;
        }
        if (code != EXIT_OK || rc != 0)
            unlink(tmp);
    }
    if (rc != 0)
        code = cli_queue_error("export", db, rc);
    else if (code == EXIT_OK && f != stdout)
        fprintf(stderr, "%s: %ld line%s of batch %lld%s%s\n", out, rows, rows == 1 ? "" : "s", id,
                status ? ", status " : "", status ? status : "");
    db_free(db);
    return code;
}

const struct cli_command cli_cmd_export = {
    .name = "export",
    .fn = cmd_export,
    .usage = "export BATCH [--status S] -o FILE.csv",
    .summary = "re-loadable CSV of a batch's orders",
    .help = "One line per product: consultora_code, consultora_name, product_code, quantity (what `gspbot\n"
            "load` reads back) and the order's status, the item's outcome, the error and the portal's\n"
            "reference.\n"
            "  --status S   only orders in this status (e.g. failed)\n"
            "  -o FILE.csv  where to write (- = standard output)\n"
            "Example: gspbot export 3 --status failed -o fix-these.csv\n",
};
