/* cmd_load: `gspbot load FILE|URL [--name N] [--sheet S] [--dry-run] [--skip-invalid]
 * [--allow-duplicate] [--json]` — reads and validates the input with the loader library, then
 * stores it as one pending batch (all or nothing). The input is read before the database is
 * opened: an invalid file is reported (exit 2) even when PostgreSQL is down, and --dry-run never
 * needs the database.
 *
 * Help text (main.c):
 *   load FILE|URL [--name N] [--sheet S] [--dry-run] [--skip-invalid] [--allow-duplicate] [--json]
 *   Reads a CSV, XLSX or JSON file (or an http(s) URL), validates every row, groups rows into one
 *   order per consultora and stores them as a new batch (status pending). All or nothing: on any
 *   error every problem is listed with its place and nothing is written.
 *     --name N           batch name (default: the JSON's "name", else the file name)
 *     --sheet S          XLSX sheet to read (default: the first; an error for CSV and JSON)
 *     --dry-run          validate and print what would be loaded; write nothing
 *     --skip-invalid     drop every order that has an invalid row (listed), load the rest
 *     --allow-duplicate  load a file already loaded (same SHA-256)
 *     --json             print the summary as one JSON object
 *   Exit: 0 loaded (or valid, with --dry-run); 2 bad usage, invalid or unreadable input, file
 *   already loaded; 3 database unavailable or schema not migrated.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "loader.h"
#include "migrate.h"

#define DRY_RUN_SHOWN 20 /* orders listed by --dry-run */

struct load_args {
    const char *input;
    struct ldr_options opt;
    bool dry_run, json;
};

static int parse_args(int argc, char **argv, struct load_args *a)
{
    static const struct option LONG[] = {
        {"name", required_argument, NULL, 'n'},
        {"sheet", required_argument, NULL, 's'},
        {"dry-run", no_argument, NULL, 'd'},
        {"skip-invalid", no_argument, NULL, 'k'},
        {"allow-duplicate", no_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", LONG, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (optarg[0] == '\0' || strlen(optarg) > 800) {
                cli_error("load", "--name must be 1 to 200 characters");
                return -1;
            }
            a->opt.name = optarg;
            break;
        case 's': a->opt.sheet = optarg; break;
        case 'd': a->dry_run = true; break;
        case 'k': a->opt.skip_invalid = true; break;
        case 'a': a->opt.allow_duplicate = true; break;
        case 'j': a->json = true; break;
        default:
            if (optopt != 0 && optopt != '?')
                cli_error("load", "option -%c needs a value or is unknown", optopt);
            else
                cli_error("load", "unknown option %s (see gspbot load --help)", argv[optind - 1]);
            return -1;
        }
    }
    if (argc - optind != 1) {
        cli_error("load", argc - optind == 0 ? "missing FILE or URL (see gspbot load --help)"
                                             : "one FILE or URL at a time (see gspbot load --help)");
        return -1;
    }
    a->input = argv[optind];
    return 0;
}

/* "1 order", "2 orders": n and the word, singular or plural. */
static const char *count_of(size_t n, const char *one, const char *many, char *out, size_t size)
{
    snprintf(out, size, "%zu %s", n, n == 1 ? one : many);
    return out;
}

/* Lists the errors or warnings, one per line. `skip` (may be NULL) is a line not to print: the
 * load's own message, which cmd_load prints last and which, for a whole-file error, is that error. */
static void print_issues(const struct ldr_load *ld, bool errors, const char *skip)
{
    size_t listed = errors ? ldr_load_errors_listed(ld) : ldr_load_warnings_listed(ld);
    size_t total = errors ? ldr_load_error_count(ld) : ldr_load_warning_count(ld);
    char line[2200];
    for (size_t i = 0; i < listed; i++) {
        const struct ldr_issue *is = errors ? ldr_load_error(ld, i) : ldr_load_warning(ld, i);
        ldr_issue_format(is, line, sizeof line);
        if (skip == NULL || strcmp(line, skip) != 0)
            fprintf(stderr, "%s%s\n", errors ? "" : "warning: ", line);
    }
    if (total > listed)
        fprintf(stderr, "... and %zu more %s\n", total - listed,
                errors ? (total - listed == 1 ? "error" : "errors") : (total - listed == 1 ? "warning" : "warnings"));
}

static void print_json(const struct ldr_load *ld, long long batch_id)
{
    char *s = ldr_load_summary_json(ld, batch_id);
    if (s == NULL) {
        fputs(
            "{\"batch_id\": null, \"errors\": [{\"place\": \"\", \"column\": null, \"message\": \"out of memory\"}]}\n",
            stdout);
        return;
    }
    puts(s);
    free(s);
}

static void print_dry_run(const struct ldr_load *ld)
{
    char o[40], it[40], r[40];
    printf("dry run: would load batch \"%s\": %s, %s from %s; nothing written\n", ldr_load_name(ld),
           count_of(ldr_load_orders(ld), "order", "orders", o, sizeof o),
           count_of(ldr_load_items(ld), "item", "items", it, sizeof it),
           count_of(ldr_load_rows(ld), "row", "rows", r, sizeof r));
    struct ldr_order_view v;
    for (size_t i = 0; i < DRY_RUN_SHOWN && ldr_load_order(ld, i, &v) == 0; i++)
        printf("%6zu  %-20s  %3zu item%s  %5lld unit%s  %s\n", v.seq, v.consultora_code, v.items,
               v.items == 1 ? " " : "s", v.quantity, v.quantity == 1 ? " " : "s",
               v.consultora_name ? v.consultora_name : "-");
    if (ldr_load_orders(ld) > DRY_RUN_SHOWN)
        printf("   ... and %s\n",
               count_of(ldr_load_orders(ld) - DRY_RUN_SHOWN, "more order", "more orders", o, sizeof o));
}

static int exit_code(int rc)
{
    switch (rc) {
    case 0: return EXIT_OK;
    case LDR_EDB:
    case LDR_ENOMEM: return EXIT_UNAVAILABLE;
    default: return EXIT_USAGE;
    }
}

/* Opens the database and checks the schema; prints why not (text or JSON) and returns NULL. */
static struct db *open_db(const struct config *cfg, const struct ldr_load *ld, bool json)
{
    struct db *db = NULL;
    const char *why = NULL;
    char msg[1200];
    if (db_open(&db, cfg->database_url) != 0) {
        snprintf(msg, sizeof msg, "%s", db_errmsg(db));
        why = msg;
    } else {
        int cur = migrate_is_current(db);
        if (cur < 0) {
            snprintf(msg, sizeof msg, "%s", db_errmsg(db));
            why = msg;
        } else if (cur == 0) {
            why = "the database schema is not migrated: run gspbot migrate";
        }
    }
    if (why == NULL)
        return db;
    db_free(db);
    if (json) {
        // The loader's summary has no database error in it: add it by hand, same shape.
        printf("{\"batch_id\": null, \"rows\": %zu, \"orders\": %zu, \"items\": %zu, \"warnings\": [], "
               "\"errors\": [{\"place\": \"database\", \"column\": null, \"message\": \"",
               ldr_load_rows(ld), ldr_load_orders(ld), ldr_load_items(ld));
        for (const char *p = why; *p; p++) {
            if (*p == '"' || *p == '\\')
                printf("\\%c", *p);
            else if ((unsigned char)*p < 0x20)
                printf("\\u%04x", *p);
            else
                putchar(*p);
        }
        printf("\"}]}\n");
    } else {
        cli_error("load", "%s", why);
    }
    return NULL;
}

static int cmd_load(int argc, char **argv, const struct config *cfg)
{
    struct load_args a = {0};
    ldr_options_init(&a.opt);
    if (cfg->max_quantity > 0)
        a.opt.max_quantity = cfg->max_quantity;
    if (cfg->max_file_mb > 0)
        a.opt.max_bytes = (long long)cfg->max_file_mb << 20;
    if (parse_args(argc, argv, &a) != 0)
        return EXIT_USAGE;

    struct ldr_load *ld = ldr_load_new(&a.opt);
    if (ld == NULL) {
        cli_error("load", "out of memory");
        return EXIT_UNAVAILABLE;
    }
    int rc = ldr_is_url(a.input) ? ldr_load_read_url(ld, a.input) : ldr_load_read_file(ld, a.input);
    long long batch_id = 0;
    if (rc == 0 && !a.dry_run) {
        struct db *db = open_db(cfg, ld, a.json);
        if (db == NULL) {
            ldr_load_free(ld);
            return EXIT_UNAVAILABLE;
        }
        rc = ldr_load_write(ld, db_conn(db), &batch_id);
        db_free(db);
    }
    if (a.json) {
        print_json(ld, batch_id);
    } else {
        // On failure the load's message comes last; a whole-file error is also in the error list,
        // and is printed once, as that last line.
        const char *msg = rc != 0 ? ldr_load_errmsg(ld) : NULL;
        print_issues(ld, /* errors= */ false, NULL);
        print_issues(ld, /* errors= */ true, msg);
        if (rc != 0) {
            cli_error("load", "%s", msg);
        } else if (a.dry_run) {
            print_dry_run(ld);
        } else {
            char o[40], it[40], r[40], w[40];
            printf("batch %lld \"%s\": %s, %s from %s (%s)\n", batch_id, ldr_load_name(ld),
                   count_of(ldr_load_orders(ld), "order", "orders", o, sizeof o),
                   count_of(ldr_load_items(ld), "item", "items", it, sizeof it),
                   count_of(ldr_load_rows(ld), "row", "rows", r, sizeof r),
                   count_of(ldr_load_warning_count(ld), "warning", "warnings", w, sizeof w));
        }
    }
    ldr_load_free(ld);
    return exit_code(rc);
}

const struct cli_command cli_cmd_load = {
    .name = "load",
    .fn = cmd_load,
    .usage = "load FILE|URL [--name N] [--sheet S] [--dry-run] [--skip-invalid] [--allow-duplicate] [--json]",
    .summary = "validate a CSV/XLSX/JSON file and store it as a batch of orders",
    .help = "Reads a CSV, XLSX or JSON file (or an http(s) URL), validates every row, groups rows into one\n"
            "order per consultora and stores them as a new batch (status pending). All or nothing: on any\n"
            "error every problem is listed with its place and nothing is written.\n"
            "  --name N           batch name (default: the JSON's \"name\", else the file name)\n"
            "  --sheet S          XLSX sheet to read (default: the first; an error for CSV and JSON)\n"
            "  --dry-run          validate and print what would be loaded; write nothing\n"
            "  --skip-invalid     drop every order that has an invalid row (listed), load the rest\n"
            "  --allow-duplicate  load a file already loaded (same SHA-256)\n"
            "  --json             print the summary as one JSON object\n",
};
