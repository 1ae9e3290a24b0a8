/* cmd_flow: `gspbot flow check FLOW` lists every problem of a flow file with its JSON path. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "flow.h"

static int flow_check(const char *path)
{
    struct flow *f = NULL;
    struct flow_diags d = {0};
    if (flow_load(path, &f, &d) != 0) {
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "%s: %s: %s\n", path, d.v[i].path, d.v[i].message);
        fprintf(stderr, "%s: %zu problem%s\n", path, d.n, d.n == 1 ? "" : "s");
        flow_diags_cleanup(&d);
        return EXIT_USAGE;
    }
    size_t actions = 0;
    for (size_t i = 0; i < f->nsteps; i++)
        actions += f->steps[i].actions.n + f->steps[i].for_each_item.n + f->steps[i].after_item_error.n;
    printf("%s: ok: flow \"%s\", %zu steps (", path, f->name, f->nsteps);
    for (size_t i = 0; i < f->nsteps; i++)
        printf("%s%s", i ? ", " : "", f->steps[i].name);
    printf("), %zu actions, %zu error detectors\n", actions, f->nerrors);
    flow_free(f);
    return EXIT_OK;
}

static int cmd_flow(int argc, char **argv, const struct config *cfg)
{
    (void)cfg;
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        cli_error("flow", "usage: gspbot flow check FLOW");
        return EXIT_USAGE;
    }
    if (argc != 3) {
        cli_error("flow", argc < 3 ? "flow check needs a FLOW file" : "flow check takes one FLOW file");
        return EXIT_USAGE;
    }
    return flow_check(argv[2]);
}

const struct cli_command cli_cmd_flow = {
    .name = "flow",
    .fn = cmd_flow,
    .usage = "flow check FLOW",
    .summary = "validate a flow file",
    .help = "Reports every unknown verb, option and variable, every bad selector, wrong type and\n"
            "inconsistency of a flow file with its JSON path; exit 0 when the flow is valid, 2 otherwise.\n",
};
