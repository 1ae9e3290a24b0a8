/* main: the gspbot command line. Parses the global options, loads the configuration, answers
 * --help and --version, and dispatches to the command (src/cli/cmd_NAME.c). Nothing else lives here. */
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

/* Every command of README "Command reference", in the order `gspbot --help` lists them. Each is defined in its
 * own cmd_NAME.c with its usage text. */
extern const struct cli_command cli_cmd_migrate;
extern const struct cli_command cli_cmd_load;
extern const struct cli_command cli_cmd_start;
extern const struct cli_command cli_cmd_pause;
extern const struct cli_command cli_cmd_cancel;
extern const struct cli_command cli_cmd_retry;
extern const struct cli_command cli_cmd_retry_order;
extern const struct cli_command cli_cmd_delete;
extern const struct cli_command cli_cmd_status;
extern const struct cli_command cli_cmd_orders;
extern const struct cli_command cli_cmd_logs;
extern const struct cli_command cli_cmd_failures;
extern const struct cli_command cli_cmd_export;
extern const struct cli_command cli_cmd_verify;
extern const struct cli_command cli_cmd_breaker;
extern const struct cli_command cli_cmd_worker;
extern const struct cli_command cli_cmd_serve;
extern const struct cli_command cli_cmd_run;
extern const struct cli_command cli_cmd_order;
extern const struct cli_command cli_cmd_flow;
extern const struct cli_command cli_cmd_preflight;
extern const struct cli_command cli_cmd_screenshot;

static const struct cli_command *const COMMANDS[] = {
    &cli_cmd_migrate,     &cli_cmd_load,   &cli_cmd_start,     &cli_cmd_pause,      &cli_cmd_cancel, &cli_cmd_retry,
    &cli_cmd_retry_order, &cli_cmd_delete, &cli_cmd_status,    &cli_cmd_orders,     &cli_cmd_logs,   &cli_cmd_failures,
    &cli_cmd_export,      &cli_cmd_verify, &cli_cmd_breaker,   &cli_cmd_worker,     &cli_cmd_serve,  &cli_cmd_run,
    &cli_cmd_order,       &cli_cmd_flow,   &cli_cmd_preflight, &cli_cmd_screenshot,
};

#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void print_usage(FILE *f)
{
    fprintf(f, "gspbot %s: bulk order entry into a web portal through headless Chromium\n\n", GSPBOT_VERSION);
    fprintf(f, "usage: gspbot [--verbose] [--log-file FILE] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-12s %s%s\n", COMMANDS[i]->name, COMMANDS[i]->summary,
                COMMANDS[i]->fn ? "" : " (not built yet)");
    fprintf(f, "\n`gspbot COMMAND --help` describes a command. Configuration: environment, then ./.env\n"
               "(see README.md). Exit codes: 0 ok, 1 some orders failed, 2 bad usage or input,\n"
               "3 configuration/database/browser unavailable, 130 interrupted.\n");
}

static void print_command_help(const struct cli_command *c)
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
    const struct cli_command *cmd = NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(COMMANDS[i]->name, name) == 0)
            cmd = COMMANDS[i];
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
