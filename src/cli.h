/* cli: exit codes (SPEC section 5) and the commands of the gspbot program. Each command is
 * `int cmd_NAME(int argc, char **argv, const struct config *cfg)` in src/cmd_NAME.c: argv[0] is the
 * command's name, global options (--verbose, --log-file) are already removed, --help is answered
 * by main.c. It returns an exit code. */
#ifndef GSPBOT_CLI_H
#define GSPBOT_CLI_H

#include "config.h"

enum {
    EXIT_OK = 0,           /* success */
    EXIT_SOME_FAILED = 1,  /* some orders failed (run, order) */
    EXIT_USAGE = 2,        /* bad usage or invalid input */
    EXIT_UNAVAILABLE = 3,  /* configuration, database or browser unavailable */
    EXIT_INTERRUPTED = 130 /* Ctrl-C */
};

int cmd_migrate(int argc, char **argv, const struct config *cfg);
int cmd_status(int argc, char **argv, const struct config *cfg);
int cmd_load(int argc, char **argv, const struct config *cfg);
int cmd_screenshot(int argc, char **argv, const struct config *cfg);

/* Opens the database named by cfg->database_url and checks that every migration is applied.
 * Returns the handle (caller frees with db_free), or NULL after printing why to stderr; the
 * command then exits with EXIT_UNAVAILABLE. */
struct db *cli_db_open(const struct config *cfg);

/* Prints "gspbot CMD: message" to stderr (secrets redacted). */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
