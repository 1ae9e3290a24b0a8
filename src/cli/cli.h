/* cli: exit codes (README "Command reference") and the commands of the gspbot program. Each command is a
 * `const struct cli_command cli_cmd_NAME` defined in src/cli/cmd_NAME.c with its usage text;
 * main.c lists them and dispatches. */
#ifndef GSPBOT_CLI_H
#define GSPBOT_CLI_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct db;

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

/* Copies s into out (size n) cut or padded with spaces to `width` characters — UTF-8 code points,
 * not bytes, so accented names keep a table's columns; a cut name ends with "…". */
void cli_pad(const char *s, int width, char *out, size_t n);

/* Parses an id ("batch" or "order" in the message). Returns true, or false after printing
 * `"x1" is not a batch id`. */
bool cli_parse_id(const char *cmd, const char *what, const char *s, long long *out);

/* Prints a JSON value (pretty) on stdout and frees it. Returns EXIT_OK, or EXIT_UNAVAILABLE when
 * v is NULL (out of memory). */
int cli_print_json(cJSON *v);

/* The exit code and message for a queue error: QUEUE_ENOENT and QUEUE_ESTATE are the user's
 * (EXIT_USAGE), the rest the database's (EXIT_UNAVAILABLE). Prints "gspbot CMD: <db message>". */
int cli_queue_error(const char *cmd, struct db *db, int rc);

/* Parses the common "one positional id, optional --json" command line of the batch commands.
 * Returns true with *id and *json set, else false after printing the problem (exit EXIT_USAGE). */
bool cli_parse_id_command(int argc, char **argv, const char *what, long long *id, bool *json);

/* Loads and checks the flow at path (NULL = cfg->flow_path) and the configuration it uses, as
 * `worker` and `run` need before they fork anything. Returns the flow (flow_free), or NULL after
 * printing every problem with *code set (EXIT_USAGE: the flow; EXIT_UNAVAILABLE: configuration). */
struct flow *cli_pool_flow(const struct config *cfg, const char *path, int *code);

/* Prints "gspbot CMD: message" to stderr (secrets redacted). */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
