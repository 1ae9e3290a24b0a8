/* config: environment, then .env, then defaults; every value checked, every error placed. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENV_FILE_MAX_LINES 1000
#define ENV_LINE_MAX       4096 /* bytes of one .env line */
#define PASSWORD_FILE_MAX  4096 /* bytes of a password file */

#ifndef GSPBOT_DATADIR
#define GSPBOT_DATADIR "/usr/share/gspbot"
#endif

/* One variable read from .env. */
struct env_entry {
    char *key;
    char *value;
    int line;
};

struct env_file {
    const char *path;
    struct env_entry *v;
    size_t n;
};

/* Where a value came from, for error messages. */
struct source {
    const char *value; /* borrowed; NULL when unset */
    char where[300];   /* "environment" or ".env:4" */
};

static void env_file_cleanup(struct env_file *ef)
{
    for (size_t i = 0; i < ef->n; i++) {
        if (ef->v[i].value != NULL)
            explicit_bzero(ef->v[i].value, strlen(ef->v[i].value));
        free(ef->v[i].key);
        free(ef->v[i].value);
    }
    free(ef->v);
    ef->v = NULL;
    ef->n = 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static bool valid_key(const char *k)
{
    if (!(isalpha((unsigned char)*k) || *k == '_'))
        return false;
    for (; *k != '\0'; k++)
        if (!(isalnum((unsigned char)*k) || *k == '_'))
            return false;
    return true;
}

/* Parses the value part of a .env line in place: 'single' (literal), "double" (\n \" \\ escapes),
 * or bare (trimmed, a " #" starts a comment). Returns the value or NULL when a quote is unclosed. */
static char *parse_value(char *v)
{
    v = trim(v);
    if (*v == '\'' || *v == '"') {
        char q = *v++;
        char *out = v, *r = v;
        for (; *r != '\0' && *r != q; r++) {
            if (q == '"' && *r == '\\' && r[1] != '\0') {
                r++;
                *out++ = *r == 'n' ? '\n' : *r;
            } else {
                *out++ = *r;
            }
        }
        if (*r != q)
            return NULL;
        *out = '\0';
        return v;
    }
    for (char *c = v; *c != '\0'; c++) {
        if (*c == '#' && (c == v || isspace((unsigned char)c[-1]))) {
            *c = '\0';
            break;
        }
    }
    return trim(v);
}

static int env_file_read(struct env_file *ef, const char *path, char *err, size_t errn)
{
    ef->path = path;
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errn, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    char buf[ENV_LINE_MAX];
    int lineno = 0, rc = 0;
    while (fgets(buf, sizeof buf, f) != NULL) {
        lineno++;
        size_t len = strlen(buf);
        if (len == sizeof buf - 1 && buf[len - 1] != '\n') {
            snprintf(err, errn, "%s:%d: line longer than %d bytes", path, lineno, ENV_LINE_MAX - 2);
            rc = -1;
            break;
        }
        char *line = trim(buf);
        if (*line == '\0' || *line == '#')
            continue;
        if (strncmp(line, "export ", 7) == 0)
            line = trim(line + 7);
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            snprintf(err, errn, "%s:%d: expected KEY=VALUE, got \"%.40s\"", path, lineno, line);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(line);
        if (!valid_key(key)) {
            snprintf(err, errn, "%s:%d: \"%.40s\" is not a variable name", path, lineno, key);
            rc = -1;
            break;
        }
        char *value = parse_value(eq + 1);
        if (value == NULL) {
            snprintf(err, errn, "%s:%d: %s: unclosed quote", path, lineno, key);
            rc = -1;
            break;
        }
        if (ef->n >= ENV_FILE_MAX_LINES) {
            snprintf(err, errn, "%s: more than %d variables", path, ENV_FILE_MAX_LINES);
            rc = -1;
            break;
        }
        struct env_entry *nv = realloc(ef->v, (ef->n + 1) * sizeof *nv);
        if (nv == NULL) {
            snprintf(err, errn, "%s: out of memory", path);
            rc = -1;
            break;
        }
        ef->v = nv;
        ef->v[ef->n] = (struct env_entry){.key = strdup(key), .value = strdup(value), .line = lineno};
        ef->n++;
        if (ef->v[ef->n - 1].key == NULL || ef->v[ef->n - 1].value == NULL) {
            snprintf(err, errn, "%s: out of memory", path);
            rc = -1;
            break;
        }
    }
    explicit_bzero(buf, sizeof buf);
    fclose(f);
    return rc;
}

/* Looks `key` up in the environment, then in .env (the last assignment wins there). */
static struct source lookup(const struct env_file *ef, const char *key)
{
    struct source s = {0};
    const char *e = getenv(key);
    if (e != NULL) {
        s.value = e;
        snprintf(s.where, sizeof s.where, "environment");
        return s;
    }
    for (size_t i = ef->n; i-- > 0;) {
        if (strcmp(ef->v[i].key, key) == 0) {
            s.value = ef->v[i].value;
            snprintf(s.where, sizeof s.where, "%s:%d", ef->path, ef->v[i].line);
            return s;
        }
    }
    return s;
}

static int get_string(struct config *cfg, const struct env_file *ef, const char *key, char **out)
{
    struct source s = lookup(ef, key);
    if (s.value == NULL || *s.value == '\0')
        return 0;
    *out = strdup(s.value);
    if (*out == NULL) {
        snprintf(cfg->err, sizeof cfg->err, "%s: out of memory", key);
        return -1;
    }
    return 0;
}

static int get_int(struct config *cfg, const struct env_file *ef, const char *key, int def, int min, int max, int *out)
{
    struct source s = lookup(ef, key);
    *out = def;
    if (s.value == NULL || *s.value == '\0')
        return 0;
    errno = 0;
    char *end;
    long v = strtol(s.value, &end, 10);
    if (end == s.value || *end != '\0' || errno != 0 || isspace((unsigned char)*s.value)) {
        snprintf(cfg->err, sizeof cfg->err, "%s (%s): \"%.40s\" is not a whole number", key, s.where, s.value);
        return -1;
    }
    if (v < min || v > max) {
        snprintf(cfg->err, sizeof cfg->err, "%s (%s): %ld is out of range %d..%d", key, s.where, v, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int get_bool(struct config *cfg, const struct env_file *ef, const char *key, bool def, bool *out)
{
    struct source s = lookup(ef, key);
    *out = def;
    if (s.value == NULL || *s.value == '\0')
        return 0;
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s.value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s.value, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    snprintf(cfg->err, sizeof cfg->err, "%s (%s): \"%.40s\" is not true or false", key, s.where, s.value);
    return -1;
}

/* NAME_FILE: a secret read from a file (Docker and Swarm secrets), one trailing newline dropped.
 * Setting both NAME and NAME_FILE is an error. *dst is the secret's slot in cfg. */
static int read_secret_file(struct config *cfg, const struct env_file *ef, const char *name, char **dst)
{
    char var[64];
    snprintf(var, sizeof var, "%s_FILE", name);
    struct source s = lookup(ef, var);
    if (s.value == NULL || *s.value == '\0')
        return 0;
    if (*dst != NULL) {
        snprintf(cfg->err, sizeof cfg->err, "%s and %s are both set: keep one (%s from %s)", name, var, var, s.where);
        return -1;
    }
    FILE *f = fopen(s.value, "re");
    if (f == NULL) {
        snprintf(cfg->err, sizeof cfg->err, "%s (%s): cannot read %s: %s", var, s.where, s.value, strerror(errno));
        return -1;
    }
    char buf[PASSWORD_FILE_MAX + 1];
    size_t n = fread(buf, 1, sizeof buf, f);
    bool too_big = n > PASSWORD_FILE_MAX;
    fclose(f);
    if (too_big) {
        explicit_bzero(buf, sizeof buf);
        snprintf(cfg->err, sizeof cfg->err, "%s (%s): %s is larger than %d bytes", var, s.where, s.value,
                 PASSWORD_FILE_MAX);
        return -1;
    }
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    if (n == 0 || memchr(buf, '\0', n) != NULL) {
        explicit_bzero(buf, sizeof buf);
        snprintf(cfg->err, sizeof cfg->err, "%s (%s): %s is empty or binary", var, s.where, s.value);
        return -1;
    }
    *dst = strdup(buf);
    explicit_bzero(buf, sizeof buf);
    if (*dst == NULL) {
        snprintf(cfg->err, sizeof cfg->err, "%s: out of memory", var);
        return -1;
    }
    return 0;
}

const char *config_default_flow(void)
{
    static char path[PATH_MAX];
    // Installed layout first (<prefix>/bin/gspbot -> <prefix>/share/gspbot), then the build's idea
    // of the data folder (the source tree when run from a build directory).
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            snprintf(path, sizeof path, "%.3000s/../share/gspbot/flows/gsp-sim.json", exe);
            if (access(path, R_OK) == 0)
                return path;
        }
    }
    snprintf(path, sizeof path, "%s/flows/gsp-sim.json", GSPBOT_DATADIR);
    return path;
}

int config_load(struct config *cfg, const char *env_file)
{
    memset(cfg, 0, sizeof *cfg);
    struct env_file ef = {0};
    if (env_file != NULL && env_file_read(&ef, env_file, cfg->err, sizeof cfg->err) != 0) {
        env_file_cleanup(&ef);
        return -1;
    }
    int rc = 0;
    rc = rc ? rc : get_string(cfg, &ef, "DATABASE_URL", &cfg->database_url);
    rc = rc ? rc : get_string(cfg, &ef, "GSP_BASE_URL", &cfg->base_url);
    rc = rc ? rc : get_string(cfg, &ef, "GSP_USER_CODE", &cfg->user_code);
    rc = rc ? rc : get_string(cfg, &ef, "GSP_PASSWORD", &cfg->password);
    rc = rc ? rc : read_secret_file(cfg, &ef, "GSP_PASSWORD", &cfg->password);
    // Registered at once, so that no later error message (a password pasted into the wrong
    // variable, say) can print it.
    log_add_secret(cfg->password);
    rc = rc ? rc : get_string(cfg, &ef, "GSP_CYCLE", &cfg->cycle);
    rc = rc ? rc : get_string(cfg, &ef, "GSPBOT_FLOW", &cfg->flow_path);
    rc = rc ? rc : get_string(cfg, &ef, "GSPBOT_SCREENSHOT_DIR", &cfg->screenshot_dir);
    rc = rc ? rc : get_string(cfg, &ef, "GSPBOT_API_TOKEN", &cfg->api_token);
    rc = rc ? rc : read_secret_file(cfg, &ef, "GSPBOT_API_TOKEN", &cfg->api_token);
    log_add_secret(cfg->api_token);
    rc = rc ? rc : get_string(cfg, &ef, "CHROMIUM_PATH", &cfg->chromium_path);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_CONCURRENCY", 3, 1, 64, &cfg->concurrency);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_MAX_RETRIES", 3, 0, 20, &cfg->max_retries);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_RETRY_DELAY_MS", 2000, 0, 3600000, &cfg->retry_delay_ms);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_TIMEOUT_MS", 60000, 100, 3600000, &cfg->timeout_ms);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_SLOW_MO_MS", 0, 0, 60000, &cfg->slow_mo_ms);
    rc = rc ? rc : get_bool(cfg, &ef, "GSPBOT_HEADLESS", true, &cfg->headless);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_MAX_ORDERS_PER_BROWSER", 10, 1, 100000, &cfg->max_orders_per_browser);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_MAX_BROWSER_RSS_MB", 1500, 64, 65536, &cfg->max_browser_rss_mb);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_MAX_SESSIONS", 0, 0, 10000, &cfg->max_sessions);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_MAX_FILE_MB", 50, 1, 4096, &cfg->max_file_mb);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_MAX_QUANTITY", 999, 1, 1000000, &cfg->max_quantity);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_EVIDENCE_DAYS", 14, 1, 3650, &cfg->evidence_days);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_PORT", 8000, 1, 65535, &cfg->port);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_BREAKER_FAILURES", 10, 1, 100000, &cfg->breaker_failures);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_BREAKER_COOLDOWN_S", 60, 1, 86400, &cfg->breaker_cooldown_s);
    rc = rc ? rc : get_int(cfg, &ef, "GSPBOT_LEASE_S", 30, 3, 3600, &cfg->lease_s);
    // After GSPBOT_TIMEOUT_MS: by default the settle time is the action deadline.
    rc =
        rc ? rc : get_int(cfg, &ef, "GSPBOT_TAKEOVER_SETTLE_MS", cfg->timeout_ms, 0, 3600000, &cfg->takeover_settle_ms);
    rc = rc ? rc : get_string(cfg, &ef, "GSPBOT_WEBHOOK_URL", &cfg->webhook_url);
    if (rc == 0) {
        struct source s = lookup(&ef, "GSPBOT_LOG_FORMAT");
        if (s.value == NULL || *s.value == '\0' || strcasecmp(s.value, "text") == 0) {
            cfg->log_format = LOG_FORMAT_TEXT;
        } else if (strcasecmp(s.value, "json") == 0) {
            cfg->log_format = LOG_FORMAT_JSON;
        } else {
            snprintf(cfg->err, sizeof cfg->err, "GSPBOT_LOG_FORMAT (%s): \"%.40s\" is not text or json", s.where,
                     s.value);
            rc = -1;
        }
    }
    if (rc == 0 && cfg->screenshot_dir == NULL && (cfg->screenshot_dir = strdup("evidence")) == NULL) {
        snprintf(cfg->err, sizeof cfg->err, "out of memory");
        rc = -1;
    }
    if (rc == 0 && cfg->flow_path == NULL && (cfg->flow_path = strdup(config_default_flow())) == NULL) {
        snprintf(cfg->err, sizeof cfg->err, "out of memory");
        rc = -1;
    }
    env_file_cleanup(&ef);
    return rc;
}

void config_cleanup(struct config *cfg)
{
    if (cfg->password != NULL)
        explicit_bzero(cfg->password, strlen(cfg->password));
    if (cfg->api_token != NULL)
        explicit_bzero(cfg->api_token, strlen(cfg->api_token));
    char **strs[] = {&cfg->database_url, &cfg->base_url,       &cfg->user_code, &cfg->password,      &cfg->cycle,
                     &cfg->flow_path,    &cfg->screenshot_dir, &cfg->api_token, &cfg->chromium_path, &cfg->webhook_url};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
}
