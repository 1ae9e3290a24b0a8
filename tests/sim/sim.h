/*
 * sim.h — internals of gspbot-sim, the portal simulator: its options, its state (sessions,
 * carts per consultora|cycle, submitted orders, statistics, seeded random streams) and the
 * route sets of its files (sim.c: state, faults, /__sim; pages.c: the classic HTML pages;
 * api.c: the JSON API the pages call; spa.c: the modern single-page UI, its extra API and
 * the cart origin). All state lives in one struct sim passed explicitly. It is touched by the
 * service thread of the main server and, with a cross-origin cart (--cart-origin), by the
 * cart server's service thread too: every handler and the filter run under sim->lock
 * (sim_route registers handlers through a locking trampoline). The contract for users is
 * tests/sim/README.md.
 */
#ifndef GSPBOT_SIM_H
#define GSPBOT_SIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define SIM_CODE_MAX       20  /* consultora/product codes: 1..20 of [0-9A-Za-z-] */
#define SIM_QTY_MAX        999 /* largest quantity one addition accepts */
#define SIM_SESSION_COOKIE "GSPSESSID"
#define SIM_ORDER_MAX      16  /* "GSP-000123" and its NUL */
#define SIM_FRAME_TOKEN_S  600 /* seconds a cart-frame token lives (and never past its session) */
#define SIM_ROUTES_MAX     96  /* handlers registered through sim_route, both servers together */

enum sim_ui { SIM_UI_CLASSIC = 0, SIM_UI_MODERN };

/* Where the modern UI's cart iframe is served from. */
enum sim_cart_origin {
    SIM_CART_SAME = 0, /* the main server, cookie session */
    SIM_CART_CROSS,    /* a second listener (another origin), a token in the iframe URL */
};

struct sim_options {
    int port;
    char user[64];
    char password[128]; /* never printed */
    double fail_rate, ghost_rate, slow_rate;
    unsigned slow_ms;
    unsigned session_ttl_s;
    uint64_t seed;
    char cycles[512];               /* comma-separated cycle codes offered by the <select> */
    double ui_scale;                /* --ui-scale: multiplies the overlay and late-render delays (1 = as is) */
    enum sim_ui ui;                 /* --ui */
    double interrupt_rate;          /* --interrupt-rate: share of route changes that open the survey */
    enum sim_cart_origin cart_mode; /* --cart-origin */
    char cart_host[64];             /* host name put in the cross-origin iframe URL; "" = the other
                                       loopback name than the one the app is opened with */
    int cart_port;                  /* port of the cart listener (0 = ephemeral) */
};

struct sim_session {
    char token[33];
    double created_s; /* monotonic seconds */
    char consultora[SIM_CODE_MAX + 1];
    char cycle[16];
    char frame_token[33]; /* cross-origin cart frame: "" = none minted */
    double frame_token_s; /* monotonic seconds when it was minted */
};

struct sim_item {
    char code[SIM_CODE_MAX + 1];
    long qty;
};

struct sim_cart {
    char key[SIM_CODE_MAX + 1 + 1 + 16]; /* "CONSULTORA|CYCLE" */
    struct sim_item *items;
    size_t n, cap;
    char order[SIM_ORDER_MAX]; /* number of its last submission, "" once it changed since */
};

/* A submitted order: the cart as it was when it was sent. */
struct sim_order {
    char number[SIM_ORDER_MAX];
    char key[SIM_CODE_MAX + 1 + 1 + 16]; /* "CONSULTORA|CYCLE" */
    struct sim_item *items;
    size_t n;
    long units;
};

struct sim_stats {
    uint64_t requests, pages, api, assets, logins, login_failures, logouts, adds, add_errors, ghosts, failures, slow,
        overlay_clicks, sessions_expired;
    /* modern UI */
    uint64_t route_changes, interrupts_shown, blocked_clicks, consents, confirms, confirms_dismissed, orders_submitted;
};

struct sim;

/* A handler registered with sim_route: called under sim->lock. */
struct sim_route {
    struct sim *sim;
    http_handler_fn fn;
};

struct sim {
    struct sim_options opt;
    struct http_server *srv;
    struct http_server *cart_srv; /* the cross-origin cart listener, or NULL */
    int main_port, cart_port;     /* known once both servers listen (sim_set_ports) */
    pthread_mutex_t lock;         /* held by every handler and the filter */
    struct sim_route routes[SIM_ROUTES_MAX];
    size_t nroutes;
    struct sim_session *sessions;
    size_t nsessions, sessions_cap;
    struct sim_cart *carts;
    size_t ncarts, carts_cap;
    struct sim_order *orders;
    size_t norders, orders_cap;
    uint64_t next_order; /* order numbers never repeat within a process (not reset) */
    struct sim_stats stats;
    uint64_t interrupt_rng; /* survey draws: seeded by --seed */
    uint64_t fault_rng;     /* faults (fail, slow, ghost): seeded by --seed */
    uint64_t ui_rng;        /* overlay/late timings: seeded by --seed too */
    uint64_t token_rng;     /* session tokens: from /dev/urandom */
};

/* Creates the simulator state and registers every route of opt->ui on `srv` (borrowed;
 * outlives sim). Returns NULL when out of memory or a route cannot be registered. */
struct sim *sim_new(const struct sim_options *opt, struct http_server *srv);
/* Frees the state. Both servers must have stopped servicing (their threads joined). NULL: no-op. */
void sim_free(struct sim *sim);

/* Makes `cart_srv` (borrowed; outlives sim; not started yet) the cross-origin cart listener:
 * the fault filter, the cart frame, the cart API with frame-token sessions and the assets. */
int sim_cart_server_attach(struct sim *sim, struct http_server *cart_srv) __attribute__((warn_unused_result));
/* Records the ports both servers listen on (after http_server_start, before they run). */
void sim_set_ports(struct sim *sim, int main_port, int cart_port);

/* Registers fn for method + path on srv (sim->srv or sim->cart_srv) through a trampoline that
 * holds sim->lock while fn runs; fn gets `sim` as its user pointer. */
int sim_route(struct sim *sim, struct http_server *srv, const char *method, const char *path, http_handler_fn fn)
    __attribute__((warn_unused_result));

/* Reseeds the random streams from opt.seed (used at start and by /__sim/reset). */
void sim_reseed(struct sim *sim);
double sim_rand_fault(struct sim *sim);                          /* [0,1) */
unsigned sim_rand_ui(struct sim *sim, unsigned lo, unsigned hi); /* [lo,hi] */
double sim_rand_interrupt(struct sim *sim);                      /* [0,1) */
/* 32 hex characters from the kernel-seeded token stream (session and frame tokens). */
void sim_token_new(struct sim *sim, char out[33]);
double sim_now_s(void); /* monotonic seconds */

/* True when s is 1..SIM_CODE_MAX chars of [0-9A-Za-z-]. */
bool sim_code_valid(const char *s);
bool sim_cycle_offered(const struct sim *sim, const char *cycle);
/* A deterministic display name for a consultora code, written to buf; returns buf. */
const char *sim_consultora_name(const char *code, char *buf, size_t len);

/* Session of the request's cookie, or NULL (expired sessions are dropped and, when
 * `expired` is given, reported there). */
struct sim_session *sim_session_get(struct sim *sim, struct http_request *req, bool *expired);
/* Session of a request to the cart listener: by its "Authorization: Bearer FRAME_TOKEN"
 * (cookies are ignored there), or NULL; a token past SIM_FRAME_TOKEN_S or of an ended
 * session reads as expired. */
struct sim_session *sim_session_by_frame_token(struct sim *sim, struct http_request *req, bool *expired);
struct sim_session *sim_session_create(struct sim *sim);
void sim_session_drop(struct sim *sim, struct sim_session *s);

struct sim_cart *sim_cart_get(struct sim *sim, const char *consultora, const char *cycle, bool create);
/* Adds qty (may be negative to set via delta); returns the new quantity or < 0 on OOM. */
long sim_cart_add(struct sim_cart *cart, const char *code, long qty);
void sim_cart_set(struct sim_cart *cart, const char *code, long qty);
/* Records the cart as a submitted order with a new number, which is also kept on the cart;
 * returns the order or NULL when out of memory. */
struct sim_order *sim_order_submit(struct sim *sim, struct sim_cart *cart);

/* Route registration of pages.c (classic UI), api.c (both UIs) and spa.c (modern UI). */
int sim_pages_register(struct sim *sim) __attribute__((warn_unused_result));
int sim_api_register(struct sim *sim) __attribute__((warn_unused_result));
/* The cart API (GET /api/cart, POST /api/cart/add) on the cross-origin cart listener. */
int sim_api_register_cart(struct sim *sim, struct http_server *cart_srv) __attribute__((warn_unused_result));
int sim_spa_register(struct sim *sim) __attribute__((warn_unused_result));
/* The routes of the cross-origin cart listener (spa.c). */
int sim_spa_register_cart_server(struct sim *sim, struct http_server *cart_srv) __attribute__((warn_unused_result));

/* Shared by api.c and spa.c: an API error {"error", "overlay_ms"}; the session of an API
 * request (cookie on the main server, frame token on the cart listener), or NULL after
 * answering 401; the same with a consultora and cycle chosen (else 409); the cart JSON. */
void sim_api_error(struct sim *sim, struct http_request *req, int status, const char *msg);
struct sim_session *sim_api_session(struct sim *sim, struct http_request *req);
struct sim_session *sim_api_cart_session(struct sim *sim, struct http_request *req);

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
