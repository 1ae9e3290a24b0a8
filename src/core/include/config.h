/* config: gspbot's configuration (README "Command reference"). Each value comes from the environment, else
 * from a `.env` file in the working directory, else its default. A malformed value is an error that
 * names the variable, where it came from and why (exit code 3 at the CLI).
 *
 * The password (GSP_PASSWORD, or the contents of GSP_PASSWORD_FILE for Docker secrets) and the API
 * token are registered with the logger as secrets, so they are redacted from every log line. */
#ifndef GSPBOT_CONFIG_H
#define GSPBOT_CONFIG_H

#include <stdbool.h>

#include "log.h"

struct config {
    /* Strings are owned by the config (config_cleanup frees them); NULL when unset. */
    char *database_url;         /* DATABASE_URL: libpq conninfo or URI; NULL = libpq defaults (PG* vars) */
    char *base_url;             /* GSP_BASE_URL: the portal */
    char *user_code;            /* GSP_USER_CODE */
    char *password;             /* GSP_PASSWORD or GSP_PASSWORD_FILE's contents; secret */
    char *cycle;                /* GSP_CYCLE: campaign cycle */
    char *flow_path;            /* GSPBOT_FLOW; default: the shipped data/flows/gsp-sim.json */
    char *screenshot_dir;       /* GSPBOT_SCREENSHOT_DIR (default "evidence") */
    char *api_token;            /* GSPBOT_API_TOKEN; secret */
    char *chromium_path;        /* CHROMIUM_PATH; NULL = search the usual places */
    int concurrency;            /* GSPBOT_CONCURRENCY (3), 1..64 workers */
    int max_retries;            /* GSPBOT_MAX_RETRIES (3), 0..20 */
    int retry_delay_ms;         /* GSPBOT_RETRY_DELAY_MS (2000): base of base * 2^attempt, ms */
    int timeout_ms;             /* GSPBOT_TIMEOUT_MS (60000): default deadline of a flow action, ms */
    int slow_mo_ms;             /* GSPBOT_SLOW_MO_MS (0): pause after each action, ms */
    bool headless;              /* GSPBOT_HEADLESS (true) */
    int max_orders_per_browser; /* GSPBOT_MAX_ORDERS_PER_BROWSER (10) */
    int max_browser_rss_mb;     /* GSPBOT_MAX_BROWSER_RSS_MB (1500): relaunch above, MiB */
    int max_sessions;           /* GSPBOT_MAX_SESSIONS (0 = no cap): portal sessions at once */
    int max_file_mb;            /* GSPBOT_MAX_FILE_MB (50): uploads and downloads, MiB */
    int max_quantity;           /* GSPBOT_MAX_QUANTITY (999): largest quantity of one row */
    int evidence_days;          /* GSPBOT_EVIDENCE_DAYS (14): evidence older than this is pruned */
    int port;                   /* GSPBOT_PORT (8000): `gspbot serve` */
    int breaker_failures;       /* GSPBOT_BREAKER_FAILURES (10): recoverable failures in a row that open it */
    int breaker_cooldown_s;     /* GSPBOT_BREAKER_COOLDOWN_S (60): open this long before one probe */
    int lease_s;                /* GSPBOT_LEASE_S (30): a claim's lease, renewed every third of it */
    int takeover_settle_ms;     /* GSPBOT_TAKEOVER_SETTLE_MS (GSPBOT_TIMEOUT_MS): an attempt that may have
                                   changed the cart and ended without an outcome (its worker died, its
                                   lease ran out, its browser crashed) is followed by the next one no
                                   sooner than this after its last sign of life, so that the portal has
                                   applied anything it sent before the cart is read again; 0 = at once */
    char *webhook_url;          /* GSPBOT_WEBHOOK_URL: JSON POSTs on batch end and breaker open; NULL = none */
    enum log_format log_format; /* GSPBOT_LOG_FORMAT (text|json) */
    char err[512];              /* the last error's message */
};

/* Fills *cfg (caller-owned, any previous contents ignored) from the environment, then from the
 * file `env_file` (normally ".env"; a missing file is not an error; NULL = none), then defaults.
 * Returns 0, or -1 with cfg->err saying what, where and why; config_cleanup() is safe either way. */
__attribute__((warn_unused_result)) int config_load(struct config *cfg, const char *env_file);

/* Frees the strings held by *cfg (the password's memory is zeroed first). Safe on a zeroed cfg. */
void config_cleanup(struct config *cfg);

/* The shipped default flow file: GSPBOT_DATADIR/flows/gsp-sim.json, found next to the binary's
 * install prefix or in the source tree. Static storage. */
const char *config_default_flow(void);

#endif
