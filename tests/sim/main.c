/*
 * main.c — gspbot-sim command line: parses the options, builds the HTTP server and the
 * simulator, prints "listening on http://127.0.0.1:PORT" as the first line of stdout (so
 * tests can read the ephemeral port) and serves until SIGINT/SIGTERM, which a dedicated
 * sigwait thread turns into a graceful http_server_stop (no globals, no async handler).
 * With --ui modern --cart-origin cross a second server (the cart's origin) runs on its own
 * thread and its address is the second line of stdout. The password comes from --password or
 * GSP_PASSWORD and is never printed.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

static void usage(FILE *f)
{
    fputs("usage: gspbot-sim [--port P] [--user U] [--password PW] [--fail-rate F]\n"
          "                  [--ghost-rate F] [--slow-rate F --slow-ms N] [--session-ttl-s N]\n"
          "                  [--seed N] [--cycles C1,C2,...] [--ui-scale F] [--ui classic|modern]\n"
          "                  [--interrupt-rate F] [--cart-origin same|cross|http://HOST:PORT] [--verbose]\n"
          "A portal simulator for gspbot (see tests/sim/README.md).\n"
          "  --port P           TCP port on 127.0.0.1; 0 = ephemeral (default 8088)\n"
          "  --user U           accepted user code (default: demo)\n"
          "  --password PW      accepted password (default: $GSP_PASSWORD, else demo)\n"
          "  --fail-rate F      share of page/API requests answered 503 (0..1)\n"
          "  --ghost-rate F     share of cart additions applied but answered with an error\n"
          "  --slow-rate F      share of page/API requests answered --slow-ms late\n"
          "  --slow-ms N        delay of slow answers in ms (default 2000)\n"
          "  --ui-scale F       multiply the overlay and late-render delays by F (0..10; tests use 0.2)\n"
          "  --session-ttl-s N  session lifetime in seconds (default 1800)\n"
          "  --seed N           seed of the fault and timing sequences (default: random)\n"
          "  --cycles LIST      cycle codes offered (default 202401..202612, months 01..12)\n"
          "  --ui U             classic (multi-page, default) or modern (single-page app)\n"
          "  --interrupt-rate F modern: share of route changes after which a survey modal opens\n"
          "  --cart-origin O    modern: where the cart iframe lives: same (default), cross (a second\n"
          "                     ephemeral port, another site) or http://HOST:PORT (HOST 127.0.0.1 or\n"
          "                     localhost, PORT 0 = ephemeral); printed as the second line of stdout\n",
          f);
}

static int parse_rate(const char *name, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0 && v <= 1)) {
        fprintf(stderr, "gspbot-sim: %s: \"%s\" is not a number in 0..1\n", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_ulong(const char *name, const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max) {
        fprintf(stderr, "gspbot-sim: %s: \"%s\" is not a whole number in 0..%llu\n", name, s, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* --cart-origin same | cross | http://HOST:PORT (HOST 127.0.0.1 or localhost: the simulator
 * binds 127.0.0.1 only; PORT 0 = ephemeral). */
static int parse_cart_origin(const char *s, struct sim_options *o)
{
    if (!strcmp(s, "same")) {
        o->cart_mode = SIM_CART_SAME;
        return 0;
    }
    o->cart_mode = SIM_CART_CROSS;
    o->cart_host[0] = '\0';
    o->cart_port = 0;
    if (!strcmp(s, "cross"))
        return 0;
    static const char *const hosts[] = {"127.0.0.1", "localhost"};
    for (size_t i = 0; i < 2; i++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "http://%s:", hosts[i]);
        size_t n = strlen(prefix);
        unsigned long long port;
        if (!strncmp(s, prefix, n) && strchr(s + n, '/') == NULL &&
            parse_ulong("--cart-origin port", s + n, 65535, &port) == 0) {
            snprintf(o->cart_host, sizeof(o->cart_host), "%s", hosts[i]);
            o->cart_port = (int)port;
            return 0;
        }
    }
    fprintf(stderr, "gspbot-sim: --cart-origin: same, cross or http://127.0.0.1:PORT | http://localhost:PORT\n");
    return -1;
}

static int parse_args(int argc, char **argv, struct sim_options *o, bool *verbose)
{
    enum {
        O_PORT = 1,
        O_USER,
        O_PASSWORD,
        O_FAIL,
        O_GHOST,
        O_SLOW,
        O_SLOW_MS,
        O_TTL,
        O_SEED,
        O_CYCLES,
        O_UI_SCALE,
        O_UI,
        O_INTERRUPT,
        O_CART_ORIGIN,
        O_VERBOSE,
        O_HELP
    };
    static const struct option opts[] = {
        {"port", required_argument, NULL, O_PORT},
        {"user", required_argument, NULL, O_USER},
        {"password", required_argument, NULL, O_PASSWORD},
        {"fail-rate", required_argument, NULL, O_FAIL},
        {"ghost-rate", required_argument, NULL, O_GHOST},
        {"slow-rate", required_argument, NULL, O_SLOW},
        {"slow-ms", required_argument, NULL, O_SLOW_MS},
        {"session-ttl-s", required_argument, NULL, O_TTL},
        {"seed", required_argument, NULL, O_SEED},
        {"cycles", required_argument, NULL, O_CYCLES},
        {"ui-scale", required_argument, NULL, O_UI_SCALE},
        {"ui", required_argument, NULL, O_UI},
        {"interrupt-rate", required_argument, NULL, O_INTERRUPT},
        {"cart-origin", required_argument, NULL, O_CART_ORIGIN},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"help", no_argument, NULL, O_HELP},
        {0},
    };
    *o = (struct sim_options){.port = 8088, .slow_ms = 2000, .session_ttl_s = 1800, .ui_scale = 1.0};
    snprintf(o->user, sizeof(o->user), "demo");
    const char *envpw = getenv("GSP_PASSWORD");
    snprintf(o->password, sizeof(o->password), "%s", envpw && *envpw ? envpw : "demo");
    size_t off = 0;
    for (int y = 2024; y <= 2026; y++)
        for (int m = 1; m <= 12; m++)
            off += (size_t)snprintf(o->cycles + off, sizeof(o->cycles) - off, "%s%d%02d", off ? "," : "", y, m);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    o->seed = ((uint64_t)ts.tv_sec * 1000000007ULL) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 20);
    unsigned long long v;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_PORT:
            if (parse_ulong("--port", optarg, 65535, &v))
                return 2;
            o->port = (int)v;
            break;
        case O_USER:
            if (!*optarg || strlen(optarg) >= sizeof(o->user)) {
                fprintf(stderr, "gspbot-sim: --user: 1..%zu characters\n", sizeof(o->user) - 1);
                return 2;
            }
            snprintf(o->user, sizeof(o->user), "%s", optarg);
            break;
        case O_PASSWORD:
            if (!*optarg || strlen(optarg) >= sizeof(o->password)) {
                fprintf(stderr, "gspbot-sim: --password: 1..%zu characters\n", sizeof(o->password) - 1);
                return 2;
            }
            snprintf(o->password, sizeof(o->password), "%s", optarg);
            break;
        case O_FAIL:
            if (parse_rate("--fail-rate", optarg, &o->fail_rate))
                return 2;
            break;
        case O_GHOST:
            if (parse_rate("--ghost-rate", optarg, &o->ghost_rate))
                return 2;
            break;
        case O_SLOW:
            if (parse_rate("--slow-rate", optarg, &o->slow_rate))
                return 2;
            break;
        case O_SLOW_MS:
            if (parse_ulong("--slow-ms", optarg, 600000, &v))
                return 2;
            o->slow_ms = (unsigned)v;
            break;
        case O_TTL:
            if (parse_ulong("--session-ttl-s", optarg, 86400ULL * 30, &v) || v == 0) {
                if (v == 0)
                    fprintf(stderr, "gspbot-sim: --session-ttl-s must be at least 1\n");
                return 2;
            }
            o->session_ttl_s = (unsigned)v;
            break;
        case O_UI_SCALE: {
            char *end;
            double s = strtod(optarg, &end);
            if (*end != '\0' || end == optarg || !(s >= 0 && s <= 10)) {
                fprintf(stderr, "gspbot-sim: --ui-scale: a number in 0..10\n");
                return 2;
            }
            o->ui_scale = s;
            break;
        }
        case O_SEED:
            if (parse_ulong("--seed", optarg, UINT64_MAX, &v))
                return 2;
            o->seed = v;
            break;
        case O_CYCLES: {
            if (!*optarg || strlen(optarg) >= sizeof(o->cycles)) {
                fprintf(stderr, "gspbot-sim: --cycles: a comma-separated list of codes\n");
                return 2;
            }
            for (const char *p = optarg; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == ',' ||
                      *p == '-')) {
                    fprintf(stderr, "gspbot-sim: --cycles: only [0-9A-Za-z-] codes separated by commas\n");
                    return 2;
                }
            snprintf(o->cycles, sizeof(o->cycles), "%s", optarg);
            break;
        }
        case O_UI:
            if (!strcmp(optarg, "classic")) {
                o->ui = SIM_UI_CLASSIC;
            } else if (!strcmp(optarg, "modern")) {
                o->ui = SIM_UI_MODERN;
            } else {
                fprintf(stderr, "gspbot-sim: --ui: \"%s\" is neither classic nor modern\n", optarg);
                return 2;
            }
            break;
        case O_INTERRUPT:
            if (parse_rate("--interrupt-rate", optarg, &o->interrupt_rate))
                return 2;
            break;
        case O_CART_ORIGIN:
            if (parse_cart_origin(optarg, o))
                return 2;
            break;
        case O_VERBOSE: *verbose = true; break;
        case O_HELP: usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gspbot-sim: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (o->cart_mode == SIM_CART_CROSS && o->ui != SIM_UI_MODERN) {
        fprintf(stderr, "gspbot-sim: --cart-origin needs --ui modern (the classic cart is a page)\n");
        return 2;
    }
    return 0;
}

struct signal_waiter {
    sigset_t set;
    struct http_server *srv;
};

/* Waits for SIGINT/SIGTERM (blocked in every thread) and stops the main server gracefully
 * (main then stops the cart server). SIGUSR1 from main ends this thread when the server
 * stopped for another reason. */
static void *signal_thread(void *arg)
{
    struct signal_waiter *w = arg;
    int sig = 0;
    if (sigwait(&w->set, &sig) == 0 && sig != SIGUSR1)
        http_server_stop(w->srv);
    return NULL;
}

struct cart_runner {
    struct http_server *srv;
    int rc;
};

/* Services the cross-origin cart server on its own thread until it is stopped. */
static void *cart_thread(void *arg)
{
    struct cart_runner *c = arg;
    c->rc = http_server_run(c->srv);
    return NULL;
}

int main(int argc, char **argv)
{
    struct sim_options opt;
    bool verbose = false;
    int rc = parse_args(argc, argv, &opt, &verbose);
    if (rc)
        return rc == 1 ? 0 : 2;
    signal(SIGPIPE, SIG_IGN);

    struct http_config cfg = {
        .port = opt.port,
        .max_body = 64 * 1024,
        /* slow answers must not trip the server's own handler timeout */
        .request_timeout_ms = opt.slow_ms + 30000,
        .verbose = verbose,
    };
    struct http_server *srv = http_server_new(&cfg);
    struct sim *sim = srv ? sim_new(&opt, srv) : NULL;
    if (!sim) {
        fprintf(stderr, "gspbot-sim: cannot set up the server: %s\n", srv ? http_server_errmsg(srv) : "out of memory");
        http_server_free(srv);
        return 3;
    }
    /* The cross-origin cart: a second server on another port, same state (under sim->lock). */
    struct http_server *cart = NULL;
    if (opt.cart_mode == SIM_CART_CROSS) {
        struct http_config ccfg = cfg;
        ccfg.port = opt.cart_port;
        cart = http_server_new(&ccfg);
        if (!cart || sim_cart_server_attach(sim, cart) != 0) {
            fprintf(stderr, "gspbot-sim: cannot set up the cart server: %s\n",
                    cart ? http_server_errmsg(cart) : "out of memory");
            http_server_free(cart);
            sim_free(sim);
            http_server_free(srv);
            return 3;
        }
    }
    if (http_server_start(srv) != 0 || (cart && http_server_start(cart) != 0)) {
        fprintf(stderr, "gspbot-sim: %s\n", http_server_errmsg(cart && http_server_port(srv) ? cart : srv));
        http_server_free(cart);
        sim_free(sim);
        http_server_free(srv);
        return 3;
    }
    sim_set_ports(sim, http_server_port(srv), cart ? http_server_port(cart) : 0);
    struct signal_waiter w = {.srv = srv};
    sigemptyset(&w.set);
    sigaddset(&w.set, SIGINT);
    sigaddset(&w.set, SIGTERM);
    sigaddset(&w.set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &w.set, NULL);
    pthread_t th, cth;
    struct cart_runner cr = {.srv = cart};
    if (pthread_create(&th, NULL, signal_thread, &w) != 0) {
        fprintf(stderr, "gspbot-sim: cannot start the signal thread\n");
        http_server_free(cart);
        sim_free(sim);
        http_server_free(srv);
        return 3;
    }
    if (cart && pthread_create(&cth, NULL, cart_thread, &cr) != 0) {
        fprintf(stderr, "gspbot-sim: cannot start the cart server thread\n");
        pthread_kill(th, SIGUSR1);
        pthread_join(th, NULL);
        http_server_free(cart);
        sim_free(sim);
        http_server_free(srv);
        return 3;
    }
    /* Both lines in one flush: a reader that wants only the first may close the pipe. */
    printf("listening on http://127.0.0.1:%d\n", http_server_port(srv));
    if (cart)
        printf("cart origin http://%s:%d\n", opt.cart_host[0] ? opt.cart_host : "localhost", http_server_port(cart));
    fflush(stdout);
    fprintf(stderr,
            "gspbot-sim: ui %s, user %s, seed %llu, fail %.3f, ghost %.3f, slow %.3f x %u ms, session ttl %u s, "
            "interrupts %.3f, cart %s\n",
            opt.ui == SIM_UI_MODERN ? "modern" : "classic", opt.user, (unsigned long long)opt.seed, opt.fail_rate,
            opt.ghost_rate, opt.slow_rate, opt.slow_ms, opt.session_ttl_s, opt.interrupt_rate,
            cart ? "cross-origin" : "same origin");

    rc = http_server_run(srv);
    pthread_kill(th, SIGUSR1);
    pthread_join(th, NULL);
    if (cart) {
        http_server_stop(cart);
        pthread_join(cth, NULL);
        if (cr.rc)
            fprintf(stderr, "gspbot-sim: cart server: %s\n", http_server_errmsg(cart));
    }
    if (rc)
        fprintf(stderr, "gspbot-sim: %s\n", http_server_errmsg(srv));
    http_server_free(cart);
    http_server_free(srv);
    sim_free(sim);
    return rc || cr.rc ? 3 : 0;
}
