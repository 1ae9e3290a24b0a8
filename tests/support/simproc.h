/* simproc: the portal simulator (gspbot-sim) as a child process of a test or benchmark, and its
 * test endpoints (/__sim/state, reset, cart, config) over real HTTP (libcurl, every call with a timeout). */
#ifndef GSPBOT_SIMPROC_H
#define GSPBOT_SIMPROC_H

#include <cjson/cJSON.h>
#include <sys/types.h>

struct simproc {
    pid_t pid;
    char url[64]; /* "http://127.0.0.1:PORT" */
};

/* Starts `binary` with `args` (NULL-terminated, may be NULL) plus --port 0, the password given
 * through the environment (GSP_PASSWORD=demo), and waits (10 s at most) for its first line.
 * Returns 0, or -1 after printing why. */
int simproc_start(struct simproc *s, const char *binary, const char *const *args);

/* SIGTERM, wait (10 s at most, then SIGKILL). Returns the exit status (0 = clean, as the simulator
 * exits 0 on SIGTERM; nonzero reveals a crash or a sanitizer report). */
int simproc_stop(struct simproc *s);

/* GET url+path as JSON. Returns a new cJSON (caller frees) or NULL after printing why. */
cJSON *simproc_get_json(const struct simproc *s, const char *path);

/* POST a JSON body (may be NULL) to url+path. Returns the HTTP status, or -1. */
int simproc_post(const struct simproc *s, const char *path, const char *json);

/* The cart of CONSULTORA|CYCLE from /__sim/state: the quantity of `product` (0 when absent). */
long simproc_cart_qty(const struct simproc *s, const char *consultora, const char *cycle, const char *product);

/* A number from /__sim/state's "stats" (-1 when missing). */
long simproc_stat(const struct simproc *s, const char *name);

#endif
