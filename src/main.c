/* main: the gspbot command line. Parses the global options, loads the configuration, answers
 * --help and --version, and dispatches to one cmd_NAME() per command (src/cmd_NAME.c). */
#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "migrate.h"

#ifndef GSPBOT_VERSION
#define GSPBOT_VERSION "0.0.0"
#endif

typedef int (*cmd_fn)(int argc, char **argv, const struct config *cfg);

// Commands whose file is not in this build yet resolve to NULL and answer "not built yet".
#define WEAK_CMD(name) int name(int, char **, const struct config *) __attribute__((weak))
WEAK_CMD(cmd_load);
WEAK_CMD(cmd_start);
WEAK_CMD(cmd_pause);
WEAK_CMD(cmd_cancel);
WEAK_CMD(cmd_retry);
WEAK_CMD(cmd_retry_order);
WEAK_CMD(cmd_orders);
WEAK_CMD(cmd_logs);
WEAK_CMD(cmd_failures);
WEAK_CMD(cmd_export);
WEAK_CMD(cmd_worker);
WEAK_CMD(cmd_serve);
WEAK_CMD(cmd_run);
WEAK_CMD(cmd_order);
WEAK_CMD(cmd_flow);
WEAK_CMD(cmd_preflight);
WEAK_CMD(cmd_screenshot);

struct command {
    const char *name;
    cmd_fn fn;
    const char *usage;   /* after "gspbot " */
    const char *summary; /* one line for the list */
    const char *help;    /* details for `gspbot NAME --help` */
};

static const struct command COMMANDS[] = {
    {"migrate", cmd_migrate, "migrate", "apply the schema migrations (idempotent)",
     "Applies the SQL migrations compiled into gspbot, in order, each in its own transaction, under an\n"
     "advisory lock (two migrate runs at once are safe). Prints what it applied, or \"up to date\".\n"},
    {"load", cmd_load, "load FILE|URL [--name N] [--sheet S] [--dry-run] [--skip-invalid] [--allow-duplicate] [--json]",
     "validate a CSV/XLSX/JSON file and store it as a batch of orders",
     "Reads a CSV, XLSX or JSON file (or an http(s) URL), validates every row, groups rows into one\n"
     "order per consultora and stores them as a new batch (status pending). All or nothing: on any\n"
     "error every problem is listed with its place and nothing is written.\n"
     "  --name N           batch name (default: the JSON's \"name\", else the file name)\n"
     "  --sheet S          XLSX sheet to read (default: the first)\n"
     "  --dry-run          validate and print what would be loaded; write nothing\n"
     "  --skip-invalid     drop every order that has an invalid row (listed), load the rest\n"
     "  --allow-duplicate  load a file already loaded (same SHA-256)\n"
     "  --json             print the summary as one JSON object\n"},
    {"start", cmd_start, "start BATCH", "queue a batch's pending orders", ""},
    {"pause", cmd_pause, "pause BATCH", "stop new claims for a batch", ""},
    {"cancel", cmd_cancel, "cancel BATCH", "cancel a batch (orders in flight stop at the next step)", ""},
    {"retry", cmd_retry, "retry BATCH", "re-queue a batch's failed orders", ""},
    {"retry-order", cmd_retry_order, "retry-order ORDER", "re-queue one order", ""},
    {"status", cmd_status, "status [BATCH] [--watch] [--json]", "progress, counts per status, rate, ETA",
     "Without BATCH: one line per batch. With BATCH: a progress bar, counts per status, the rate of\n"
     "the last 5 minutes and an ETA.\n"
     "  --watch   redraw every 2 seconds until the batch finishes (Ctrl-C to stop)\n"
     "  --json    print the figures as JSON\n"},
    {"orders", cmd_orders, "orders BATCH [--status S] [--json]", "one line per order", ""},
    {"logs", cmd_logs, "logs ORDER [--json]", "an order's step-by-step audit trail", ""},
    {"failures", cmd_failures, "failures BATCH [--json]", "failed orders grouped by error", ""},
    {"export", cmd_export, "export BATCH [--status S] -o FILE.csv", "re-loadable CSV of a batch's orders", ""},
    {"worker", cmd_worker, "worker [--concurrency N]", "run the worker pool (foreground)", ""},
    {"serve", cmd_serve, "serve [--port 8000]", "REST API and web dashboard", ""},
    {"run", cmd_run, "run FILE [--concurrency N] [--output F]", "load + start + work until done + summary", ""},
    {"order", cmd_order, "order CONSULTORA CODE:QTY... [--flow F] [--trace DIR] [--quiet]",
     "one order through the browser, no database",
     "Walks the flow for one order in a local headless Chromium, printing every step and action with\n"
     "its duration and outcome, and retries recoverable failures like a worker (backoff, a fresh\n"
     "browser context). Exit 0 when the cart holds exactly the order, 1 when it failed, 2 bad input\n"
     "or flow, 3 Chromium unavailable.\n"
     "  --flow F      flow file (default GSPBOT_FLOW, else data/flows/gsp-sim.json)\n"
     "  --trace DIR   save a screenshot after every action and DIR/index.html, a timeline that opens\n"
     "                offline: the tool to adapt a flow to the real portal\n"
     "  --quiet       print steps and the result, not every action\n"
     "Example: gspbot order 12345678 80901:2 80455:1 --trace /tmp/trace\n"},
    {"flow", cmd_flow, "flow check FLOW", "validate a flow file",
     "Reports every unknown verb, option and variable, every bad selector, wrong type and\n"
     "inconsistency of a flow file with its JSON path; exit 0 when the flow is valid, 2 otherwise.\n"},
    {"preflight", cmd_preflight, "preflight [--consultora CODE] [--flow F] [--trace DIR]",
     "canary walk of the flow, up to the cart",
     "Walks the flow up to the cart for one known-good consultora without adding any product, and\n"
     "reports each step's time: run it before starting a batch. Without --consultora it walks the\n"
     "steps that need no order (the login).\n"},
    {"screenshot", cmd_screenshot, "screenshot URL -o FILE.png [--full-page] [--width W --height H]",
     "PNG screenshot of a page in headless Chromium", ""},
};

#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void print_usage(FILE *f)
{
    fprintf(f, "gspbot %s: bulk order entry into a web portal through headless Chromium\n\n", GSPBOT_VERSION);
    fprintf(f, "usage: gspbot [--verbose] [--log-file FILE] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-12s %s%s\n", COMMANDS[i].name, COMMANDS[i].summary, COMMANDS[i].fn ? "" : " (not built yet)");
    fprintf(f, "\n`gspbot COMMAND --help` describes a command. Configuration: environment, then ./.env\n"
               "(see README.md). Exit codes: 0 ok, 1 some orders failed, 2 bad usage or input,\n"
               "3 configuration/database/browser unavailable, 130 interrupted.\n");
}

static void print_command_help(const struct command *c)
{
    printf("usage: gspbot %s\n\n%s\n", c->usage, c->summary);
    if (c->help[0] != '\0')
        printf("\n%s", c->help);
    printf("\nGlobal options: --verbose (debug logging), --log-file FILE (also log to FILE).\n");
    if (c->fn == NULL)
        printf("\nThis command is not built yet in this version.\n");
}

/* libwebsockets' own log lines (the CDP client and the HTTP server) go through our logger: errors
 * and warnings always, its notices only with --verbose. */
static void lws_log_line(int level, const char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    enum log_level l = level & LLL_ERR ? LOG_ERROR : level & LLL_WARN ? LOG_WARN : LOG_DEBUG;
    log_msg(l, "lws", "%.*s", (int)n, line);
}

/* Removes the global options from argv wherever they stand (before a "--"). Returns the new argc,
 * or -1 after printing an error. */
static int take_global_options(int argc, char **argv, bool *verbose, const char **log_file)
{
    int out = 1;
    bool rest = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!rest && strcmp(a, "--") == 0) {
            rest = true;
        } else if (!rest && (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0)) {
            *verbose = true;
            continue;
        } else if (!rest && strcmp(a, "--log-file") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gspbot: --log-file needs a file name\n");
                return -1;
            }
            *log_file = argv[++i];
            continue;
        } else if (!rest && strncmp(a, "--log-file=", 11) == 0) {
            *log_file = a + 11;
            continue;
        }
        argv[out++] = argv[i];
    }
    argv[out] = NULL;
    return out;
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    bool verbose = false;
    const char *log_file = NULL;
    argc = take_global_options(argc, argv, &verbose, &log_file);
    if (argc < 0)
        return EXIT_USAGE;
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        print_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("gspbot %s\n", GSPBOT_VERSION);
        return EXIT_OK;
    }
    const struct command *cmd = NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0)
            cmd = &COMMANDS[i];
    if (cmd == NULL) {
        fprintf(stderr, "gspbot: unknown command \"%s\" (see gspbot --help)\n", name);
        return EXIT_USAGE;
    }
    int cargc = argc - 1;
    char **cargv = argv + 1;
    if (wants_help(cargc, cargv)) {
        print_command_help(cmd);
        return EXIT_OK;
    }
    if (cmd->fn == NULL) {
        fprintf(stderr, "gspbot %s: not built yet in this version\n", cmd->name);
        return EXIT_USAGE;
    }

    struct config cfg;
    if (config_load(&cfg, ".env") != 0) {
        cli_error("configuration", "%s", cfg.err);
        config_cleanup(&cfg);
        return EXIT_UNAVAILABLE;
    }
    log_setup(cfg.log_format, verbose);
    lws_set_log_level(verbose ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR | LLL_WARN, lws_log_line);
    if (log_file != NULL && log_open_file(log_file) != 0) {
        perror(log_file);
        config_cleanup(&cfg);
        log_shutdown();
        return EXIT_UNAVAILABLE;
    }
    log_debug("cli", "command %s", cmd->name);
    int rc = cmd->fn(cargc, cargv, &cfg);
    config_cleanup(&cfg);
    log_shutdown();
    return rc;
}
