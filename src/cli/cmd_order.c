/* cmd_order: `gspbot order CONSULTORA CODE:QTY... [--flow F] [--trace DIR] [--quiet]` — one order
 * through the browser, no database: the tool staff use to try and adapt a flow. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "loader.h"
#include "oneshot.h"

#define ORDER_MAX_ITEMS 1000

static int cmd_order(int argc, char **argv, const struct config *cfg)
{
    static const struct option opts[] = {{"flow", required_argument, NULL, 'f'},
                                         {"trace", required_argument, NULL, 't'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {NULL, 0, NULL, 0}};
    struct oneshot_opts o = {0};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "f:t:q", opts, NULL)) != -1) {
        switch (c) {
        case 'f': o.flow_path = optarg; break;
        case 't': o.trace_dir = optarg; break;
        case 'q': o.quiet = true; break;
        case ':': cli_error("order", "%s needs a value", argv[optind - 1]); return EXIT_USAGE;
        default:
            cli_error("order", "unknown option \"%s\" (see gspbot order --help)", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (argc - optind < 2) {
        cli_error("order", "usage: gspbot order CONSULTORA CODE:QTY... (e.g. gspbot order 12345678 80901:2)");
        return EXIT_USAGE;
    }
    const char *consultora = argv[optind];
    if (!ldr_code_valid(consultora)) {
        cli_error("order", "consultora \"%s\" is not 1-20 characters of 0-9, A-Z, a-z and -", consultora);
        return EXIT_USAGE;
    }
    size_t n = 0;
    static struct flow_item_state items[ORDER_MAX_ITEMS];
    for (int i = optind + 1; i < argc; i++) {
        char code[64];
        const char *colon = strrchr(argv[i], ':');
        size_t len = colon ? (size_t)(colon - argv[i]) : 0;
        if (colon == NULL || len == 0 || len >= sizeof code) {
            cli_error("order", "\"%s\" is not CODE:QTY (e.g. 80901:2)", argv[i]);
            return EXIT_USAGE;
        }
        memcpy(code, argv[i], len);
        code[len] = '\0';
        if (!ldr_code_valid(code)) {
            cli_error("order", "%s: product code \"%s\" is not 1-20 characters of 0-9, A-Z, a-z and -", argv[i], code);
            return EXIT_USAGE;
        }
        char *end;
        errno = 0;
        long q = strtol(colon + 1, &end, 10);
        if (*end != '\0' || colon[1] == '\0' || errno != 0 || q < 1 || q > cfg->max_quantity) {
            cli_error("order", "%s: quantity \"%s\" is not a whole number in 1..%d", argv[i], colon + 1,
                      cfg->max_quantity);
            return EXIT_USAGE;
        }
        size_t k = 0;
        while (k < n && strcmp(items[k].product_code, code) != 0)
            k++;
        if (k == n) {
            if (n == ORDER_MAX_ITEMS) {
                cli_error("order", "more than %d products", ORDER_MAX_ITEMS);
                return EXIT_USAGE;
            }
            memset(&items[n], 0, sizeof items[n]);
            snprintf(items[n].product_code, sizeof items[n].product_code, "%s", code);
            n++;
        } else {
            fprintf(stderr, "gspbot order: warning: product %s given twice: quantities summed\n", code);
        }
        items[k].quantity += (int)q;
    }
    struct flow_order order = {.id = 0, .consultora_code = consultora, .consultora_name = ""};
    int rc = oneshot_run(cfg, &o, &order, items, n);
    if (rc == EXIT_OK || rc == EXIT_SOME_FAILED) {
        for (size_t i = 0; i < n; i++)
            printf("  %-20s x%-4d %s%s%s\n", items[i].product_code, items[i].quantity, items[i].outcome,
                   items[i].message[0] ? ": " : "", items[i].message);
    }
    return rc;
}

const struct cli_command cli_cmd_order = {
    .name = "order",
    .fn = cmd_order,
    .usage = "order CONSULTORA CODE:QTY... [--flow F] [--trace DIR] [--quiet]",
    .summary = "one order through the browser, no database",
    .help = "Walks the flow for one order in a local headless Chromium, printing every step and action with\n"
            "its duration and outcome, and retries recoverable failures like a worker (backoff, a fresh\n"
            "browser context). Exit 0 when the cart holds exactly the order, 1 when it failed, 2 bad input\n"
            "or flow, 3 Chromium unavailable.\n"
            "  --flow F      flow file (default GSPBOT_FLOW, else data/flows/gsp-sim.json)\n"
            "  --trace DIR   save a screenshot after every action and DIR/index.html, a timeline that opens\n"
            "                offline: the tool to adapt a flow to the real portal\n"
            "  --quiet       print steps and the result, not every action\n"
            "Example: gspbot order 12345678 80901:2 80455:1 --trace /tmp/trace\n",
};
