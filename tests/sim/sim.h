/*
 * sim.h — internals of gspbot-sim, the portal simulator: its options, its state (sessions,
 * carts per consultora|cycle, statistics, seeded random streams) and the route sets of
 * its files (sim.c: state, faults, /__sim; pages.c: HTML pages; api.c: the JSON API the
 * pages call). All state lives in one struct sim passed explicitly and is touched only on
 * the server's service thread. The contract for users is tests/sim/README.md.
 */
#ifndef GSPBOT_SIM_H
#define GSPBOT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define SIM_CODE_MAX       20  /* consultora/product codes: 1..20 of [0-9A-Za-z-] */
#define SIM_QTY_MAX        999 /* largest quantity one addition accepts */
#define SIM_SESSION_COOKIE "GSPSESSID"

struct sim_options {
    int port;
    char user[64];
    char password[128]; /* never printed */
    double fail_rate, ghost_rate, slow_rate;
    unsigned slow_ms;
    unsigned session_ttl_s;
    uint64_t seed;
    char cycles[512]; /* comma-separated cycle codes offered by the <select> */
    double ui_scale;  /* --ui-scale: multiplies the overlay and late-render delays (1 = as is) */
};

struct sim_session {
    char token[33];
    double created_s; /* monotonic seconds */
    char consultora[SIM_CODE_MAX + 1];
    char cycle[16];
};

struct sim_item {
    char code[SIM_CODE_MAX + 1];
    long qty;
};

struct sim_cart {
    char key[SIM_CODE_MAX + 1 + 1 + 16]; /* "CONSULTORA|CYCLE" */
    struct sim_item *items;
    size_t n, cap;
};

struct sim_stats {
    uint64_t requests, pages, api, assets, logins, login_failures, logouts, adds, add_errors, ghosts, failures, slow,
        overlay_clicks, sessions_expired;
};

struct sim {
    struct sim_options opt;
    struct http_server *srv;
    struct sim_session *sessions;
    size_t nsessions, sessions_cap;
    struct sim_cart *carts;
    size_t ncarts, carts_cap;
    struct sim_stats stats;
    uint64_t fault_rng; /* faults (fail, slow, ghost): seeded by --seed */
    uint64_t ui_rng;    /* overlay/late timings: seeded by --seed too */
    uint64_t token_rng; /* session tokens: from /dev/urandom */
};

/* Creates the simulator state and registers every route on `srv` (borrowed; outlives sim). */
struct sim *sim_new(const struct sim_options *opt, struct http_server *srv);
void sim_free(struct sim *sim);

/* Reseeds the random streams from opt.seed (used at start and by /__sim/reset). */
void sim_reseed(struct sim *sim);
double sim_rand_fault(struct sim *sim);                          /* [0,1) */
unsigned sim_rand_ui(struct sim *sim, unsigned lo, unsigned hi); /* [lo,hi] */

/* True when s is 1..SIM_CODE_MAX chars of [0-9A-Za-z-]. */
bool sim_code_valid(const char *s);
bool sim_cycle_offered(const struct sim *sim, const char *cycle);
/* A deterministic display name for a consultora code, written to buf; returns buf. */
const char *sim_consultora_name(const char *code, char *buf, size_t len);

/* Session of the request's cookie, or NULL (expired sessions are dropped and, when
 * `expired` is given, reported there). */
struct sim_session *sim_session_get(struct sim *sim, struct http_request *req, bool *expired);
struct sim_session *sim_session_create(struct sim *sim);
void sim_session_drop(struct sim *sim, struct sim_session *s);

struct sim_cart *sim_cart_get(struct sim *sim, const char *consultora, const char *cycle, bool create);
/* Adds qty (may be negative to set via delta); returns the new quantity or < 0 on OOM. */
long sim_cart_add(struct sim_cart *cart, const char *code, long qty);
void sim_cart_set(struct sim_cart *cart, const char *code, long qty);

/* Route registration of pages.c and api.c. */
int sim_pages_register(struct sim *sim) __attribute__((warn_unused_result));
int sim_api_register(struct sim *sim) __attribute__((warn_unused_result));

/* Simple growable string for HTML and JSON (pages.c). A failed append marks it `oom`. */
struct sim_buf {
    char *p;
    size_t len, cap;
    bool oom;
};
void sim_buf_printf(struct sim_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_buf_puts(struct sim_buf *b, const char *s);
void sim_buf_escape(struct sim_buf *b, const char *s); /* HTML-escaped */
void sim_buf_cleanup(struct sim_buf *b);

/* The 503 page for an injected failure; consumes req. */
void sim_respond_unavailable(struct sim *sim, struct http_request *req);

#endif
