/* cmd_preflight: `gspbot preflight [--consultora CODE] [--flow F]` — the canary walk of the flow
 * up to the cart (no product added), with the time of each step: run it before starting a batch
 * so that a changed portal is found before a thousand orders fail. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "oneshot.h"

static bool uses_order(const char *tmpl)
{
    return tmpl != NULL && strstr(tmpl, "${order.") != NULL;
}

static bool actions_use_order(const struct flow_actions *as)
{
    for (size_t i = 0; i < as->n; i++)
        if (uses_order(as->v[i].target) || uses_order(as->v[i].value) || uses_order(as->v[i].text) ||
            uses_order(as->v[i].on))
            return true;
    return false;
}

/* Without a consultora the canary stops before the first step that needs one. */
static const char *first_step_needing_an_order(const struct flow *f)
{
    for (size_t i = 0; i < f->nsteps; i++) {
        const struct flow_step *s = &f->steps[i];
        if (uses_order(s->skip_if) || uses_order(s->cart) || actions_use_order(&s->actions) || s->for_each_item.n > 0)
            return s->name;
    }
    return NULL;
}

static int cmd_preflight(int argc, char **argv, const struct config *cfg)
{
    static const struct option opts[] = {{"consultora", required_argument, NULL, 'c'},
                                         {"flow", required_argument, NULL, 'f'},
                                         {"trace", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    struct oneshot_opts o = {.stop_before_step = ""};
    const char *consultora = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "c:f:t:", opts, NULL)) != -1) {
        switch (c) {
        case 'c': consultora = optarg; break;
        case 'f': o.flow_path = optarg; break;
        case 't': o.trace_dir = optarg; break;
        default:
            cli_error("preflight", "unknown option or missing value \"%s\" (see gspbot preflight --help)",
                      argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("preflight", "unexpected argument \"%s\"", argv[optind]);
        return EXIT_USAGE;
    }
    char stop[80] = "";
    if (consultora == NULL) {
        struct flow *f = oneshot_load_flow(o.flow_path ? o.flow_path : cfg->flow_path);
        if (f == NULL)
            return EXIT_USAGE;
        const char *s = first_step_needing_an_order(f);
        snprintf(stop, sizeof stop, "%s", s ? s : "");
        flow_free(f);
        o.stop_before_step = stop[0] ? stop : "";
        printf("preflight without --consultora: walking the steps before \"%s\"\n", stop[0] ? stop : "the cart");
    }
    struct flow_order order = {.id = 0, .consultora_code = consultora ? consultora : "0", .consultora_name = ""};
    return oneshot_run(cfg, &o, &order, NULL, 0);
}

const struct cli_command cli_cmd_preflight = {
    .name = "preflight",
    .fn = cmd_preflight,
    .usage = "preflight [--consultora CODE] [--flow F] [--trace DIR]",
    .summary = "canary walk of the flow, up to the cart",
    .help = "Walks the flow up to the cart for one known-good consultora without adding any product, and\n"
            "reports each step's time: run it before starting a batch. Without --consultora it walks the\n"
            "steps that need no order (the login).\n",
};
