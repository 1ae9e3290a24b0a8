/* cmd_serve: `gspbot serve [--port P] [--host H] [--insecure-no-auth]` — the REST API and the web
 * dashboard (src/api). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "cli.h"

static int cmd_serve(int argc, char **argv, const struct config *cfg)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"host", required_argument, NULL, 'H'},
                                         {"insecure-no-auth", no_argument, NULL, 'i'},
                                         {NULL, 0, NULL, 0}};
    struct api_opts o = {.cfg = cfg, .port = cfg->port};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "p:H:i", opts, NULL)) != -1) {
        switch (c) {
        case 'p': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end != '\0' || v < 0 || v > 65535) {
                cli_error("serve", "--port \"%s\": a port number (0 = any free port)", optarg);
                return EXIT_USAGE;
            }
            o.port = (int)v;
            break;
        }
        case 'H': o.host = optarg; break;
        case 'i': o.insecure_no_auth = true; break;
        default: cli_error("serve", "unknown option or missing value \"%s\"", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("serve", "unexpected argument \"%s\"", argv[optind]);
        return EXIT_USAGE;
    }
    return api_serve(&o);
}

const struct cli_command cli_cmd_serve = {
    .name = "serve",
    .fn = cmd_serve,
    .usage = "serve [--port 8000] [--host 0.0.0.0] [--insecure-no-auth]",
    .summary = "REST API and web dashboard",
    .help = "Serves the REST API (every route needs \"Authorization: Bearer $GSPBOT_API_TOKEN\" but /health),\n"
            "server-sent events at /events, Prometheus metrics at /metrics, /openapi.json, and the dashboard\n"
            "at / (it asks for the token once). Stops on SIGTERM (exit 0) or Ctrl-C (130).\n"
            "  --port P            TCP port (default GSPBOT_PORT, 8000; 0 = any free port, printed)\n"
            "  --host H            address to listen on (default all; 127.0.0.1 without a token)\n"
            "  --insecure-no-auth  serve without a token (loopback only): for a laptop demo\n",
};
