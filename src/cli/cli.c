/* cli: helpers shared by the commands (src/cmd_*.c): error printing with secrets redacted, and
 * opening the database with the schema checked. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "migrate.h"
#include "queue.h"

void cli_error(const char *cmd, const char *fmt, ...)
{
    char raw[4096], msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    log_redact(raw, msg, sizeof msg);
    fprintf(stderr, "gspbot %s: %s\n", cmd, msg);
}

bool cli_parse_id(const char *cmd, const char *what, const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v <= 0) {
        cli_error(cmd, "\"%s\" is not %s id (a whole number, e.g. 3)", s,
                  strcmp(what, "order") == 0 ? "an order" : "a batch");
        return false;
    }
    *out = v;
    return true;
}

int cli_print_json(cJSON *v)
{
    char *txt = v ? cJSON_Print(v) : NULL;
    cJSON_Delete(v);
    if (txt == NULL) {
        cli_error("json", "out of memory");
        return EXIT_UNAVAILABLE;
    }
    puts(txt);
    cJSON_free(txt);
    return EXIT_OK;
}

int cli_queue_error(const char *cmd, struct db *db, int rc)
{
    cli_error(cmd, "%s", db_errmsg(db));
    return rc == QUEUE_ENOENT || rc == QUEUE_ESTATE ? EXIT_USAGE : EXIT_UNAVAILABLE;
}

bool cli_parse_id_command(int argc, char **argv, const char *what, long long *id, bool *json)
{
    const char *cmd = argv[0];
    const char *pos = NULL;
    if (json != NULL)
        *json = false;
    for (int i = 1; i < argc; i++) {
        if (json != NULL && strcmp(argv[i], "--json") == 0) {
            *json = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            cli_error(cmd, "unknown option \"%s\" (see gspbot %s --help)", argv[i], cmd);
            return false;
        } else if (pos == NULL) {
            pos = argv[i];
        } else {
            cli_error(cmd, "unexpected argument \"%s\"", argv[i]);
            return false;
        }
    }
    if (pos == NULL) {
        cli_error(cmd, "needs a %s id (usage: gspbot %s %s)", what, cmd,
                  strcmp(what, "order") == 0 ? "ORDER" : "BATCH");
        return false;
    }
    return cli_parse_id(cmd, what, pos, id);
}

void cli_pad(const char *s, int width, char *out, size_t n)
{
    size_t len = strlen(s), o = 0;
    int chars = 0;
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    bool cut = chars > width;
    int keep = cut ? width - 1 : chars, seen = 0;
    for (size_t i = 0; i < len && o + 4 < n; i++) {
        bool start = ((unsigned char)s[i] & 0xC0) != 0x80;
        if (start && seen++ == keep)
            break;
        out[o++] = s[i];
    }
    if (cut && o + 4 < n) {
        memcpy(out + o, "\xe2\x80\xa6", 3); // …
        o += 3;
    }
    for (int c = cut ? width : chars; c < width && o + 1 < n; c++)
        out[o++] = ' ';
    out[o] = '\0';
}

struct db *cli_db_open(const struct config *cfg)
{
    struct db *db = NULL;
    if (db_open(&db, cfg->database_url) != 0) {
        cli_error("database", "%s", db_errmsg(db));
        db_free(db);
        return NULL;
    }
    int cur = migrate_is_current(db);
    if (cur != 1) {
        if (cur < 0)
            cli_error("database", "%s", db_errmsg(db));
        else
            cli_error("database", "the schema is not up to date: run `gspbot migrate` first");
        db_free(db);
        return NULL;
    }
    return db;
}
