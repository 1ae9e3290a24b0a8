/* cli: exit codes (SPEC section 5) and the commands of the gspbot program. Each command is a
 * `const struct cli_command cli_cmd_NAME` defined in src/cli/cmd_NAME.c with its usage text;
 * main.c lists them and dispatches. */
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

/* A command: argv[0] is its name; global options are already removed and --help is answered by
 * main.c from `usage`, `summary` and `help`. Returns an exit code. */
typedef int (*cli_fn)(int argc, char **argv, const struct config *cfg);

struct cli_command {
    const char *name;
    cli_fn fn;           /* NULL: not built in this version */
    const char *usage;   /* after "gspbot " */
    const char *summary; /* one line for `gspbot --help` */
    const char *help;    /* details for `gspbot NAME --help` ("" = none) */
};

/* Opens the database named by cfg->database_url and checks that every migration is applied.
 * Returns the handle (caller frees with db_free), or NULL after printing why to stderr; the
 * command then exits with EXIT_UNAVAILABLE. */
struct db *cli_db_open(const struct config *cfg);

/* Prints "gspbot CMD: message" to stderr (secrets redacted). */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
